//! Resolves the filesystem part of a policy (already expanded to absolute
//! paths and patterns by the caller) into mount operations and Landlock
//! rules, looking at the real filesystem: which paths exist, which are
//! symlinks, which files match the deny and protect globs.

use crate::plan::{FsPlan, LandlockPlan, MountOp, RootKind};

mod host;
mod patterns;

use host::{check_links, host_unix_sockets, untraversable};
pub use patterns::ProtectedScan;
use patterns::{expand, Patterns, Snapshot};
use std::path::{Component, Path, PathBuf};

/// The filesystem request, with `~` already expanded and flags merged.
#[derive(Debug, Clone, Default)]
pub struct FsRequest {
    /// Canonical workspace directory (read-write).
    pub workspace: PathBuf,
    /// Absolute read-only paths; containing `/` means the whole host tree.
    pub read: Vec<PathBuf>,
    /// Absolute read-write paths beside the workspace.
    pub write: Vec<PathBuf>,
    /// Masked paths: absolute paths or globs, or relative ones (matched in
    /// the workspace and every writable path).
    pub deny_read: Vec<String>,
    /// Paths kept read-only inside writable trees (absolute, or relative to
    /// each writable path; globs allowed).
    pub protected: Vec<String>,
    /// The caller's home directory, if any.
    pub home: Option<PathBuf>,
    /// When root starts the sandbox under another host identity: that
    /// uid and gid. Directories they cannot traverse on the way to a bound
    /// path or to the home directory are shown read-only through an idmap
    /// when root owns them, and replaced by a private tmpfs otherwise.
    pub switched_ids: Option<(u32, u32)>,
}

/// What the filesystem resolution produced.
#[derive(Debug, Clone)]
pub struct FsResolved {
    pub fs: FsPlan,
    pub landlock: LandlockPlan,
    /// Paths masked, for the header and the audit trail.
    pub masked: Vec<PathBuf>,
    /// Protected paths that existed at start, as found (a symlink as
    /// itself); compared with [`ProtectedScan::now`] after the run.
    pub protected: Vec<PathBuf>,
    /// Finds the protected paths again after the run.
    pub rescan: ProtectedScan,
}

#[derive(Debug, thiserror::Error)]
pub enum FsPlanError {
    #[error("filesystem.{key}: {path}: {error}; create it or fix its permissions, or remove it from the policy or the flags")]
    Missing {
        key: &'static str,
        path: PathBuf,
        /// Shown in the message (not chained, so it is printed once).
        error: std::io::Error,
    },
    #[error("filesystem.{key}: invalid glob {pattern:?}: {message}")]
    Glob {
        key: &'static str,
        pattern: String,
        message: String,
    },
    #[error("filesystem.{key}: {path} must be an absolute path")]
    Relative { key: &'static str, path: PathBuf },
    #[error("filesystem.protected: {path} has {links} hard links: a link elsewhere in a writable path could change it behind its read-only mount; remove the extra links (find . -samefile {path}) or copy the file over itself")]
    HardLinked { path: PathBuf, links: u64 },
}

/// Directories replaced by a private tmpfs in every sandbox: they hold
/// host-wide scratch space and sockets (the Docker socket, D-Bus, the
/// user's runtime dir) that a read-only bind would not protect, because
/// connecting to a unix socket needs no write access to the mount.
const PRIVATE_TMPFS: [(&str, u32); 3] = [("/tmp", 0o1777), ("/var/tmp", 0o1777), ("/run", 0o755)];

/// Device nodes the command may read and write (Landlock side).
const DEVICE_PATHS: [&str; 9] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
    "/dev/shm",
];

pub fn resolve(req: &FsRequest) -> Result<FsResolved, FsPlanError> {
    for (key, list) in [("read", &req.read), ("write", &req.write)] {
        if let Some(p) = list.iter().find(|p| !p.is_absolute()) {
            return Err(FsPlanError::Relative {
                key,
                path: p.clone(),
            });
        }
    }
    let host_root = req.read.iter().any(|p| p == Path::new("/"));
    let mut ops: Vec<MountOp> = Vec::new();
    let mut ll_read: Vec<PathBuf> = Vec::new();

    if host_root {
        ll_read.push(PathBuf::from("/"));
        for (dir, mode) in PRIVATE_TMPFS {
            if Path::new(dir).is_dir() && !is_symlink(Path::new(dir)) {
                ops.push(MountOp::Tmpfs {
                    dst: dir.into(),
                    mode,
                });
            }
        }
        // Read paths that a private tmpfs would hide are bound back in.
        for path in &req.read {
            let hidden = PRIVATE_TMPFS.iter().any(|(dir, _)| path.starts_with(dir));
            if hidden && path.exists() {
                let real = std::fs::canonicalize(path).map_err(|source| FsPlanError::Missing {
                    key: "read",
                    path: path.clone(),
                    error: source,
                })?;
                ops.push(MountOp::Bind {
                    src: real.clone(),
                    dst: real.clone(),
                    writable: false,
                });
                ll_read.push(real);
            }
        }
    } else {
        ops.push(MountOp::Tmpfs {
            dst: "/tmp".into(),
            mode: 0o1777,
        });
        // The root itself is an empty tmpfs holding only what is bound on
        // it, so reading beneath "/" is exactly the mount set (and `ls /`,
        // `find /` or a shell's path completion work).
        ll_read.push(PathBuf::from("/"));
        let mut reads: Vec<PathBuf> = req.read.clone();
        let mut i = 0;
        while i < reads.len() {
            let path = reads[i].clone();
            i += 1;
            match std::fs::symlink_metadata(&path) {
                // Missing system directories (say /lib32) are simply skipped.
                Err(_) => continue,
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target =
                        std::fs::read_link(&path).map_err(|source| FsPlanError::Missing {
                            key: "read",
                            path: path.clone(),
                            error: source,
                        })?;
                    let resolved =
                        std::fs::canonicalize(&path).map_err(|source| FsPlanError::Missing {
                            key: "read",
                            path: path.clone(),
                            error: source,
                        })?;
                    ops.push(MountOp::Symlink { target, dst: path });
                    if !reads.contains(&resolved) {
                        reads.push(resolved);
                    }
                }
                Ok(_) => {
                    ops.push(MountOp::Bind {
                        src: path.clone(),
                        dst: path.clone(),
                        writable: false,
                    });
                    ll_read.push(path);
                }
            }
        }
    }

    let writable = writable_roots(req)?;
    for w in &writable {
        ops.push(MountOp::Bind {
            src: w.clone(),
            dst: w.clone(),
            writable: true,
        });
    }
    if let (true, Some(ids)) = (host_root, req.switched_ids) {
        let bound: Vec<PathBuf> = ops
            .iter()
            .filter_map(|op| {
                if let MountOp::Bind { dst, .. } = op {
                    Some(dst.clone())
                } else {
                    None
                }
            })
            .collect();
        // Root's own directories (say /root, holding the workspace or the
        // tools on $PATH) are shown read-only as the sandbox's, as a user's
        // home is to a sandbox that user starts. Anyone else's stay hidden:
        // a private tmpfs holds just the path down to the bind.
        for dir in untraversable(&bound, req.home.as_deref(), ids) {
            if bound.contains(&dir) {
                continue;
            }
            let root_owned =
                std::fs::metadata(&dir).is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
            ops.push(if root_owned {
                MountOp::OwnerBind { path: dir }
            } else {
                MountOp::Tmpfs {
                    dst: dir,
                    mode: 0o755,
                }
            });
        }
    }
    ops.push(MountOp::Dev);
    ops.push(MountOp::Proc);

    // A path exists inside the sandbox when a bind shows it, or when the
    // host tree is the root and no private tmpfs covers it.
    let tmpfs_dirs: Vec<&PathBuf> = ops
        .iter()
        .filter_map(|op| {
            if let MountOp::Tmpfs { dst, .. } = op {
                Some(dst)
            } else {
                None
            }
        })
        .collect();
    let visible = |p: &Path| {
        ll_read
            .iter()
            .chain(&writable)
            .any(|root| root != Path::new("/") && p.starts_with(root))
            || (host_root && !tmpfs_dirs.iter().any(|t| p.starts_with(t)))
    };
    let deny = Patterns::compile("deny_read", &req.deny_read)?;
    let mut rescan = ProtectedScan {
        patterns: Patterns::compile("protected", &req.protected)?,
        roots: writable.clone(),
        start: Vec::new(),
    };
    let found = expand(&[&deny, &rescan.patterns], &writable);
    let [deny_found, protected_found]: [Vec<PathBuf>; 2] =
        found.per_set.try_into().unwrap_or_default();
    // Masks land on what a matched path resolves to: a `.env` that links to
    // a secret elsewhere hides the secret (over-masking fails closed). Never
    // on /proc, /sys or /dev, which hold no files of the user's and where a
    // planted link (to /proc/self, say) would only break later runs.
    let mut masked: Vec<PathBuf> = Vec::new();
    for p in deny_found
        .iter()
        .chain(&found.unreadable)
        .chain(&host_unix_sockets())
    {
        let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        let synthetic = ["/proc", "/sys", "/dev"]
            .iter()
            .any(|d| real.starts_with(d));
        if !synthetic && visible(&real) && !masked.contains(&real) {
            masked.push(real);
        }
    }
    // Protected paths are reported as found (a symlink as itself) and
    // mounted where they resolve, if that is inside a writable root.
    let protected_lexical = rescan.inside_roots(protected_found);
    rescan.start = protected_lexical
        .iter()
        .filter_map(|p| Some((p.clone(), Snapshot::of(p)?)))
        .collect();
    let mut protected: Vec<PathBuf> = Vec::new();
    let mut pin_only: Vec<PathBuf> = Vec::new();
    for p in &protected_lexical {
        let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        if !writable.iter().any(|w| real.starts_with(w) && &real != w)
            || masked.iter().any(|m| real.starts_with(m))
        {
            continue;
        }
        check_links(&real)?;
        // A `.git` directory itself stays writable (git must write objects,
        // refs and the index): it is only pinned, so it cannot be renamed
        // or replaced. A `.git` file (a worktree or submodule link) is
        // protected like any file.
        let is_git_dir = real.file_name().is_some_and(|n| n == ".git") && real.is_dir();
        let list = if is_git_dir {
            &mut pin_only
        } else {
            &mut protected
        };
        if !list.contains(&real) {
            list.push(real);
        }
    }
    for path in &masked {
        ops.push(MountOp::Mask {
            path: path.clone(),
            is_dir: path.is_dir(),
        });
    }
    // Each directory between a writable root and a protected path becomes a
    // mount point (a read-write bind onto itself), so it cannot be renamed
    // or removed: otherwise `mv .git .git-old` and a fresh `.git/hooks`
    // would step around the protection.
    let mut pins: Vec<PathBuf> = pin_only;
    for path in &protected {
        let Some(root) = writable.iter().find(|w| path.starts_with(w)) else {
            continue;
        };
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| d != root && d.starts_with(root)) {
            if !pins.iter().any(|p| p == d) && !writable.iter().any(|w| w == d) {
                pins.push(d.to_path_buf());
            }
            dir = d.parent();
        }
    }
    for pin in pins {
        ops.push(MountOp::Pin { path: pin });
    }
    for path in &protected {
        ops.push(MountOp::Protect { path: path.clone() });
    }
    sort_ops(&mut ops);

    // Landlock's write set: the writable binds plus every private tmpfs.
    let mut write_ll = writable.clone();
    write_ll.push("/dev/shm".into());
    for op in &ops {
        if let MountOp::Tmpfs { dst, .. } = op {
            write_ll.push(dst.clone());
        }
    }
    let landlock = LandlockPlan {
        read: {
            let mut r = ll_read;
            r.push("/proc".into());
            r
        },
        write: write_ll,
        devices: DEVICE_PATHS.iter().map(PathBuf::from).collect(),
    };
    Ok(FsResolved {
        fs: FsPlan {
            root: if host_root {
                RootKind::HostReadOnly
            } else {
                RootKind::Empty
            },
            mounts: ops,
        },
        landlock,
        masked,
        protected: protected_lexical,
        rescan,
    })
}

/// The workspace and the `write` paths, canonical and deduplicated.
fn writable_roots(req: &FsRequest) -> Result<Vec<PathBuf>, FsPlanError> {
    let mut writable: Vec<PathBuf> = vec![req.workspace.clone()];
    for w in &req.write {
        let real = std::fs::canonicalize(w).map_err(|source| FsPlanError::Missing {
            key: "write",
            path: w.clone(),
            error: source,
        })?;
        if !writable.contains(&real) {
            writable.push(real);
        }
    }
    Ok(writable)
}

fn is_symlink(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// Parents before children; among equals, tmpfs and binds before masks and
/// protections (which must land on top of what they cover).
fn sort_ops(ops: &mut [MountOp]) {
    fn key(op: &MountOp) -> (u8, usize) {
        let depth = |p: &Path| p.components().count();
        match op {
            MountOp::Tmpfs { dst, .. } | MountOp::Symlink { dst, .. } => (0, depth(dst)),
            MountOp::Bind { dst, .. } | MountOp::OwnerBind { path: dst } => (0, depth(dst)),
            MountOp::Dev | MountOp::Proc => (0, 2),
            MountOp::Mask { .. } | MountOp::File { .. } => (1, 0),
            MountOp::Protect { path } | MountOp::Pin { path } => (2, depth(path)),
        }
    }
    ops.sort_by_key(key);
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A path as text safe to print on a terminal: control characters (which
/// a hostile command could put in a file name to rewrite or hide a
/// warning) are shown escaped.
pub fn printable(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Lexically normalises an absolute path (`.` and `..`), without touching
/// the filesystem.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests;
