//! A baseline's patterns, matched with the policy's globs
//! ([`corral_policy::Glob`]), compiled once per baseline ([`Compiled`]).
//!
//! In a baseline only `*` is special: in paths `*` matches within one
//! component and a `**` component any number of components (`dir/**`
//! covers `dir` itself); in endpoints `*` matches any characters. The
//! characters the policy's globs also treat as special (`?`, `[`, `]`,
//! `\`) are escaped, and a run of `*` that is not a whole `**` component
//! is one `*`. The policy's path globs are absolute: a `$WORKSPACE/...`
//! pattern and the paths it is matched against are put under `/`.

use super::WORKSPACE;
use corral_policy::{Glob, GlobMode};
use std::collections::BTreeSet;

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

/// One compiled pattern; one the policy's globs refuse (a control
/// character in it) matches only its own text.
#[derive(Debug, Clone)]
enum Matcher {
    Glob(Glob),
    Literal(String),
}

impl Matcher {
    fn new(pattern: &str, mode: GlobMode) -> Matcher {
        match Glob::new(&glob_text(pattern, mode == GlobMode::Path), mode) {
            Ok(glob) => Matcher::Glob(glob),
            Err(_) => Matcher::Literal(pattern.to_owned()),
        }
    }

    fn matches(&self, subject: &str) -> bool {
        match self {
            Matcher::Glob(glob) => glob.matches(subject),
            Matcher::Literal(text) => text == subject,
        }
    }
}

/// `s` under `/` when it is not absolute (`$WORKSPACE/...`).
fn rooted(s: &str) -> String {
    if s.starts_with('/') {
        s.to_owned()
    } else {
        format!("/{s}")
    }
}

/// The matchers of a rooted path pattern: the pattern, and for each
/// trailing `/**` the directory it covers.
fn alternatives(pattern: &str) -> Vec<Matcher> {
    let mut out = vec![Matcher::new(pattern, GlobMode::Path)];
    let mut base = pattern;
    while let Some(dir) = base.strip_suffix("/**") {
        if !dir.is_empty() {
            out.push(Matcher::new(dir, GlobMode::Path));
        }
        base = dir;
    }
    out
}

/// A path pattern (`[exec] paths`, `[write] paths`), compiled.
#[derive(Debug, Clone)]
pub(crate) struct PathPattern {
    exact: Vec<Matcher>,
    /// For a `$WORKSPACE/...` pattern: the same path under any directory.
    floating: Vec<Matcher>,
    /// The last component, matched against a process's name.
    last: Matcher,
    /// The last component as written.
    last_text: String,
}

impl PathPattern {
    pub(crate) fn new(pattern: &str) -> PathPattern {
        let floating = pattern
            .strip_prefix(WORKSPACE)
            .filter(|rest| rest.starts_with('/'))
            .map_or_else(Vec::new, |rest| alternatives(&format!("/**{rest}")));
        let last_text = pattern.rsplit('/').next().unwrap_or(pattern).to_owned();
        PathPattern {
            exact: alternatives(&rooted(pattern)),
            floating,
            last: Matcher::new(&last_text, GlobMode::Text),
            last_text,
        }
    }

    /// Whether the pattern matches `path` (absolute or `$WORKSPACE/...`).
    pub(crate) fn matches(&self, path: &str) -> bool {
        let path = rooted(path);
        self.exact.iter().any(|m| m.matches(&path))
    }

    /// Whether the pattern covers `path`. `floating`: there is no
    /// workspace to place `$WORKSPACE` in, so a `$WORKSPACE/...` pattern
    /// matches that path under any directory.
    pub(crate) fn covers(&self, path: &str, floating: bool) -> bool {
        self.matches(path)
            || (floating && path.starts_with('/') && self.floating.iter().any(|m| m.matches(path)))
    }

    /// Whether a process name matches the last component: as a pattern,
    /// or (a 15-byte name: the kernel cuts a comm there) as its start.
    pub(crate) fn names(&self, name: &str) -> bool {
        self.last.matches(name)
            || (name.len() == 15
                && !self.last_text.contains('*')
                && self.last_text.starts_with(name))
    }
}

/// The patterns of a baseline, compiled (a cache: it takes no part in
/// comparing baselines).
#[derive(Debug, Clone, Default)]
pub(crate) struct Compiled {
    pub execs: Vec<PathPattern>,
    pub writes: Vec<PathPattern>,
    endpoints: Vec<Matcher>,
}

impl PartialEq for Compiled {
    fn eq(&self, _: &Compiled) -> bool {
        true
    }
}

impl Compiled {
    pub(crate) fn new(
        execs: &BTreeSet<String>,
        writes: &BTreeSet<String>,
        endpoints: &BTreeSet<String>,
    ) -> Compiled {
        Compiled {
            execs: execs.iter().map(|p| PathPattern::new(p)).collect(),
            writes: writes.iter().map(|p| PathPattern::new(p)).collect(),
            endpoints: endpoints
                .iter()
                .map(|p| Matcher::new(p, GlobMode::Text))
                .collect(),
        }
    }

    /// Whether an endpoint pattern matches `endpoint` (`host:port`).
    pub(crate) fn reached(&self, endpoint: &str) -> bool {
        self.endpoints.iter().any(|m| m.matches(endpoint))
    }
}

/// Path pattern matching (see the module doc).
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    PathPattern::new(pattern).matches(path)
}

/// `*` matches any characters (none included); nothing else is special.
#[cfg(test)]
pub(crate) fn wild(pattern: &str, text: &str) -> bool {
    Matcher::new(pattern, GlobMode::Text).matches(text)
}

/// Whether a path pattern covers `path` (see [`PathPattern::covers`]).
#[cfg(test)]
pub(crate) fn covers(pattern: &str, path: &str, floating: bool) -> bool {
    PathPattern::new(pattern).covers(path, floating)
}
