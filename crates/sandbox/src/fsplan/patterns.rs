//! Deny and protect patterns: compiled once, matched in one walk of the
//! writable roots, and matched again after the run.

use super::{has_glob, FsPlanError};
use glob::{MatchOptions, Pattern};
use std::path::{Path, PathBuf};

/// The compiled protected patterns and the writable roots they apply to,
/// kept for the check after the run.
#[derive(Debug, Clone)]
pub struct ProtectedScan {
    pub(super) patterns: Patterns,
    pub(super) roots: Vec<PathBuf>,
    /// What each protected path was when the run started. A read-only
    /// mount cannot stop a protected *symlink* (it lands on the target)
    /// from being replaced, so the paths are compared after the run.
    pub(super) start: Vec<(PathBuf, Snapshot)>,
}

/// What a path is, as far as replacing it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Snapshot {
    dev: u64,
    ino: u64,
    link: Option<PathBuf>,
}

impl Snapshot {
    pub(super) fn of(path: &Path) -> Option<Snapshot> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::symlink_metadata(path).ok()?;
        let link = m
            .file_type()
            .is_symlink()
            .then(|| std::fs::read_link(path).ok())
            .flatten();
        Some(Snapshot {
            dev: m.dev(),
            ino: m.ino(),
            link,
        })
    }
}

impl ProtectedScan {
    pub(super) fn inside_roots(&self, found: Vec<PathBuf>) -> Vec<PathBuf> {
        found
            .into_iter()
            .filter(|p| self.roots.iter().any(|w| p.starts_with(w) && p != w))
            .collect()
    }

    /// Protected paths that were there at the start and are now gone or
    /// replaced (a symlink re-pointed, a file swapped), with what changed.
    pub fn replaced(&self) -> Vec<(PathBuf, String)> {
        let mut out = Vec::new();
        for (path, before) in &self.start {
            let now = Snapshot::of(path);
            if now.as_ref() == Some(before) {
                continue;
            }
            let what = match (&before.link, now) {
                (_, None) => "was removed".to_string(),
                (
                    Some(old),
                    Some(Snapshot {
                        link: Some(new), ..
                    }),
                ) if *old != new => format!(
                    "was a symbolic link to {} and now points to {}",
                    super::printable(old),
                    super::printable(&new)
                ),
                _ => "was replaced by another file".to_string(),
            };
            out.push((path.clone(), what));
        }
        out
    }

    /// The protected paths that exist now inside writable trees. Called
    /// again after a run, when no process of the sandbox is left, to find
    /// protected paths the command created (a mount can only protect what
    /// exists when the sandbox starts).
    pub fn now(&self) -> Vec<PathBuf> {
        let found = expand(&[&self.patterns], &self.roots)
            .per_set
            .pop()
            .unwrap_or_default();
        self.inside_roots(found)
    }
}

/// One key's patterns, compiled with the `glob` crate: a plain
/// backtracking matcher, so compiling costs microseconds (a regex per
/// pattern, as globset builds, was a visible share of every launch).
#[derive(Debug, Clone)]
pub(super) struct Patterns {
    literal_abs: Vec<PathBuf>,
    literal_rel: Vec<String>,
    abs_globs: Vec<(Pattern, PathBuf, usize)>,
    /// Each relative glob with a pattern for its last component: a walked
    /// entry's own name must match that first, which rejects nearly every
    /// file of a large workspace at the cost of one short comparison.
    rel_globs: Vec<(Pattern, Pattern)>,
}

/// `*` and `?` stop at `/`; `**` crosses directories; `*` matches dot files.
pub(super) const MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Patterns {
    pub(super) fn compile(key: &'static str, patterns: &[String]) -> Result<Patterns, FsPlanError> {
        let glob = |pattern: &String| {
            Pattern::new(pattern).map_err(|e| FsPlanError::Glob {
                key,
                pattern: pattern.clone(),
                message: e.msg.to_string(),
            })
        };
        let mut out = Patterns {
            literal_abs: Vec::new(),
            literal_rel: Vec::new(),
            abs_globs: Vec::new(),
            rel_globs: Vec::new(),
        };
        for pattern in patterns {
            // `./x` and `a//b` mean `x` and `a/b` (walked paths have neither).
            let mut pattern = pattern.trim_start_matches("./").to_string();
            while pattern.contains("//") {
                pattern = pattern.replace("//", "/");
            }
            let pattern = &pattern;
            match (pattern.starts_with('/'), has_glob(pattern)) {
                (true, false) => out.literal_abs.push(PathBuf::from(pattern)),
                (false, false) => out.literal_rel.push(pattern.clone()),
                (true, true) => {
                    let prefix: PathBuf = Path::new(pattern)
                        .components()
                        .take_while(|c| !has_glob(&c.as_os_str().to_string_lossy()))
                        .collect();
                    let depth = if pattern.contains("**") {
                        usize::MAX
                    } else {
                        Path::new(pattern).components().count() - prefix.components().count()
                    };
                    out.abs_globs.push((glob(pattern)?, prefix, depth));
                }
                (false, true) => {
                    let last = pattern.rsplit('/').next().unwrap_or(pattern);
                    let last = if last == "**" { "*" } else { last };
                    out.rel_globs
                        .push((glob(pattern)?, glob(&last.to_string())?));
                }
            }
        }
        Ok(out)
    }

    fn matches_rel(&self, rel: &Path) -> bool {
        // Lossy text: a name that is not UTF-8 still matches `.env.*` (the
        // glob crate would refuse it, and the secret would stay unmasked).
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        self.rel_globs.iter().any(|(whole, last)| {
            last.matches_with(&name, MATCH) && whole.matches_with(&rel.to_string_lossy(), MATCH)
        })
    }
}

/// Expands several keys' patterns to existing paths in one pass over the
/// writable roots. Absolute entries name themselves (or glob from their
/// fixed prefix); relative ones are matched in every writable root.
pub(super) fn expand(sets: &[&Patterns], roots: &[PathBuf]) -> Expanded {
    let mut out: Vec<Vec<PathBuf>> = sets.iter().map(|_| Vec::new()).collect();
    let mut unreadable: Vec<PathBuf> = Vec::new();
    // Paths stay as found (lexical): a symlink at a matched name is
    // reported as itself, and resolved only where a mount needs it.
    let push = |list: &mut Vec<PathBuf>, p: PathBuf| {
        if !list.contains(&p) {
            list.push(p);
        }
    };
    for (set, list) in sets.iter().zip(out.iter_mut()) {
        for p in &set.literal_abs {
            if std::fs::symlink_metadata(p).is_ok() {
                push(list, p.clone());
            }
        }
        for rel in &set.literal_rel {
            for root in roots {
                let p = root.join(rel);
                match std::fs::symlink_metadata(&p) {
                    Ok(_) => push(list, p),
                    // We cannot tell whether it exists: its directory is
                    // not searchable by us (nor by the command, which has
                    // our uid; but the command might chmod it if it owns
                    // it). Fail closed: that directory is masked.
                    Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                        if let Some(parent) = p.parent() {
                            push(&mut unreadable, parent.to_path_buf());
                        }
                    }
                    Err(_) => {}
                }
            }
        }
        for (glob, prefix, depth) in &set.abs_globs {
            walk(
                prefix,
                prefix,
                *depth,
                &mut |p, _| {
                    if glob.matches_with(&p.to_string_lossy(), MATCH) {
                        push(list, p.to_path_buf());
                    }
                },
                &mut Vec::new(),
            );
        }
    }
    if sets.iter().any(|s| !s.rel_globs.is_empty()) {
        for root in roots {
            walk(
                root,
                root,
                usize::MAX,
                &mut |p, rel| {
                    for (set, list) in sets.iter().zip(out.iter_mut()) {
                        if set.matches_rel(rel) {
                            push(list, p.to_path_buf());
                        }
                    }
                },
                &mut unreadable,
            );
        }
    }
    Expanded {
        per_set: out,
        unreadable,
    }
}

/// What [`expand`] found: the matches of each pattern set, and the
/// directories inside writable roots it could not read (so it cannot know
/// what they hold).
pub(super) struct Expanded {
    pub(super) per_set: Vec<Vec<PathBuf>>,
    pub(super) unreadable: Vec<PathBuf>,
}

/// Depth-first walk without following symlinks, calling `f(path, relative)`.
fn walk(
    root: &Path,
    dir: &Path,
    depth: usize,
    f: &mut dyn FnMut(&Path, &Path),
    unreadable: &mut Vec<PathBuf>,
) {
    if depth == 0 {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            if e.raw_os_error() == Some(libc::EACCES) {
                unreadable.push(dir.to_path_buf());
            }
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        f(&path, rel);
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(root, &path, depth - 1, f, unreadable);
        }
    }
}
