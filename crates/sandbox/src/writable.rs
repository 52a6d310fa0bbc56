//! Which paths a sandbox can write, derived from its mount plan: for the
//! monitor's `file.write` events, the refusals' explanations, and the check
//! that an audit trail is out of the command's reach.

use crate::plan::{MountOp, SandboxPlan};
use std::path::{Path, PathBuf};

/// Which paths the sandbox can write, from its mount plan: the deepest
/// mount covering a path decides (a writable bind, a private tmpfs, /dev)
/// or refuses (the read-only host tree, protected paths, masks).
#[derive(Debug, Clone, Default)]
pub struct WritableMap {
    /// (sandbox path, writable), deepest last wins.
    mounts: Vec<(PathBuf, bool)>,
    /// The private tmpfs mounts among them.
    tmpfs: Vec<PathBuf>,
}

impl WritableMap {
    /// The map of `plan`'s mounts.
    pub fn new(plan: &SandboxPlan) -> WritableMap {
        WritableMap::from_mounts(&plan.fs.mounts)
    }

    /// The map of these mount operations (a plan's, in its order).
    pub fn from_mounts(ops: &[MountOp]) -> WritableMap {
        let mounts = ops
            .iter()
            .filter_map(|op| match op {
                MountOp::Bind { dst, writable, .. } => Some((dst.clone(), *writable)),
                MountOp::Tmpfs { dst, .. } => Some((dst.clone(), true)),
                MountOp::Dev => Some((PathBuf::from("/dev"), true)),
                MountOp::Proc => Some((PathBuf::from("/proc"), false)),
                MountOp::Mask { path, .. }
                | MountOp::Protect { path }
                | MountOp::OwnerBind { path } => Some((path.clone(), false)),
                MountOp::File { dst, .. } => Some((dst.clone(), false)),
                MountOp::Symlink { .. } | MountOp::Pin { .. } => None,
            })
            .collect();
        let tmpfs = ops
            .iter()
            .filter_map(|op| match op {
                MountOp::Tmpfs { dst, .. } => Some(dst.clone()),
                _ => None,
            })
            .collect();
        WritableMap { mounts, tmpfs }
    }

    /// The writable places a person would name: the writable binds and the
    /// private tmpfs mounts (not /dev's device nodes), in plan order.
    pub fn roots(&self) -> Vec<PathBuf> {
        // Writable as the deepest mount there decides (a protected path
        // bound over a writable one is not), the binds (the workspace
        // first) before the private tmpfs mounts.
        let (mut binds, tmpfs): (Vec<PathBuf>, Vec<PathBuf>) = self
            .mounts
            .iter()
            .map(|(at, _)| at)
            .filter(|at| !at.starts_with("/dev") && self.writable(&at.to_string_lossy()))
            .cloned()
            .partition(|at| !self.tmpfs.contains(at));
        binds.extend(tmpfs);
        binds
    }

    /// Whether the sandbox may write `path` (a sandbox path, absolute).
    pub fn writable(&self, path: &str) -> bool {
        let path = Path::new(path);
        self.mounts
            .iter()
            .filter(|(at, _)| path.starts_with(at))
            .max_by_key(|(at, _)| at.components().count())
            .is_some_and(|(_, w)| *w)
    }
}

/// The host paths the sandbox can write: the sources of its writable binds
/// (its private tmpfs mounts are not on the host).
pub fn host_writable(plan: &SandboxPlan) -> Vec<PathBuf> {
    plan.fs
        .mounts
        .iter()
        .filter_map(|op| match op {
            MountOp::Bind {
                src,
                writable: true,
                ..
            } => Some(src.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(src: &str, dst: &str, writable: bool) -> MountOp {
        MountOp::Bind {
            src: src.into(),
            dst: dst.into(),
            writable,
        }
    }

    #[test]
    fn the_deepest_mount_decides() {
        let map = WritableMap::from_mounts(&[
            bind("/home/a/ws", "/home/a/ws", true),
            MountOp::Protect {
                path: "/home/a/ws/.git/hooks".into(),
            },
            MountOp::Tmpfs {
                dst: "/tmp".into(),
                mode: 0o1777,
            },
            MountOp::Dev,
            MountOp::Proc,
            MountOp::Mask {
                path: "/home/a/ws/secret".into(),
                is_dir: true,
            },
        ]);
        assert!(map.writable("/home/a/ws/src/main.rs"));
        assert!(!map.writable("/home/a/ws/.git/hooks/pre-commit"));
        assert!(!map.writable("/home/a/ws/secret/key"));
        assert!(map.writable("/tmp/x"));
        assert!(map.writable("/dev/null"));
        assert!(!map.writable("/proc/self/mem"));
        assert!(!map.writable("/etc/passwd"), "the host tree is read-only");
        assert!(!map.writable("/home/a/wsx"), "a sibling is not inside");
        assert_eq!(
            map.roots(),
            vec![PathBuf::from("/home/a/ws"), PathBuf::from("/tmp")],
            "the binds first, then the private tmpfs, never /dev"
        );
    }

    #[test]
    fn a_read_only_bind_is_not_a_root() {
        let map = WritableMap::from_mounts(&[
            bind("/opt/tools", "/opt/tools", false),
            bind("/srv/out", "/out", true),
        ]);
        assert_eq!(map.roots(), vec![PathBuf::from("/out")]);
        assert!(!map.writable("/opt/tools/bin"));
    }
}
