//! A baseline's patterns, matched with the policy's globs
//! ([`corral_policy::Glob`]).
//!
//! In a baseline only `*` is special: in paths `*` matches within one
//! component and a `**` component any number of components (`dir/**`
//! covers `dir` itself); in endpoints `*` matches any characters. The
//! characters the policy's globs also treat as special (`?`, `[`, `\`)
//! are escaped, and a run of `*` that is not a whole `**` component is
//! one `*`.

use super::WORKSPACE;
use corral_policy::{Glob, GlobMode};

/// `pattern` in the policy's glob syntax (`path`: `**` kept as a whole
/// component).
fn glob_text(pattern: &str, path: bool) -> String {
    let component = |c: &str| -> String {
        if path && c == "**" {
            return c.to_owned();
        }
        let mut out = String::with_capacity(c.len());
        for ch in c.chars() {
            match ch {
                '*' if out.ends_with('*') => {}
                '?' | '[' | ']' | '\\' => {
                    out.push('\\');
                    out.push(ch);
                }
                ch => out.push(ch),
            }
        }
        out
    };
    if path {
        pattern
            .split('/')
            .map(component)
            .collect::<Vec<_>>()
            .join("/")
    } else {
        component(pattern)
    }
}

/// Whether `glob_text` compiled in `mode` matches `subject` (a pattern the
/// policy's globs refuse, such as one with a control character, matches
/// only itself).
fn glob_matches(pattern: &str, mode: GlobMode, subject: &str) -> bool {
    let text = glob_text(pattern, mode == GlobMode::Path);
    match Glob::new(&text, mode) {
        Ok(glob) => glob.matches(subject),
        Err(_) => pattern == subject,
    }
}

/// Path pattern matching: `*` within a component, a `**` component any
/// number of components (zero included). Both sides are absolute or
/// `$WORKSPACE/...`.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    // The policy's path globs are absolute: a `$WORKSPACE/...` pattern and
    // path are compared under `/`.
    let rooted = |s: &str| {
        if s.starts_with('/') {
            s.to_owned()
        } else {
            format!("/{s}")
        }
    };
    let (pattern, path) = (rooted(pattern), rooted(path));
    // `dir/**` covers `dir` itself.
    let mut base = pattern.as_str();
    while let Some(dir) = base.strip_suffix("/**") {
        if !dir.is_empty() && glob_matches(dir, GlobMode::Path, &path) {
            return true;
        }
        base = dir;
    }
    glob_matches(&pattern, GlobMode::Path, &path)
}

/// `*` matches any characters (none included); nothing else is special.
pub(crate) fn wild(pattern: &str, text: &str) -> bool {
    glob_matches(pattern, GlobMode::Text, text)
}

/// Whether a path pattern covers `path` (absolute, or `$WORKSPACE/...`).
/// `floating`: there is no workspace to place `$WORKSPACE` in, so a
/// `$WORKSPACE/...` pattern matches that path under any directory.
pub(crate) fn covers(pattern: &str, path: &str, floating: bool) -> bool {
    if path_matches(pattern, path) {
        return true;
    }
    floating
        && path.starts_with('/')
        && pattern
            .strip_prefix(WORKSPACE)
            .is_some_and(|rest| rest.starts_with('/') && path_matches(&format!("/**{rest}"), path))
}
