//! The resolved runtime plan: everything the launcher needs, with every path
//! absolute and checked, every limit decided and every layer's availability
//! known. Built from a policy by `plan::build` (see `build.rs`), executed by
//! `launch`.

use std::ffi::CString;
use std::path::PathBuf;
use std::time::Duration;

/// One sandboxed run, fully resolved.
#[derive(Debug, Clone)]
pub struct SandboxPlan {
    /// `argv[0]` is the program as the user typed it; it is looked up in the
    /// sandbox's PATH at exec time.
    pub argv: Vec<CString>,
    /// The command's environment, `KEY=VALUE`.
    pub env: Vec<CString>,
    /// Working directory inside the sandbox (the workspace by default).
    pub cwd: PathBuf,
    pub fs: FsPlan,
    pub ids: Ids,
    pub hostname: String,
    pub seccomp: SeccompPlan,
    pub landlock: LandlockPlan,
    pub limits: LimitsPlan,
    /// The egress proxy's sockets inside the sandbox; `None`: no network
    /// at all (loopback only).
    pub network: Option<NetPlan>,
    /// Continue when a required layer is missing (`--allow-degraded`).
    pub allow_degraded: bool,
}

/// User and group ids inside and outside the sandbox.
///
/// `outside_*` is the sandbox's identity on the host. For an unprivileged
/// caller it is the caller's own; when the caller is root it is an
/// unprivileged id (the workspace's owner, or [`ISOLATED_HOST_ID`]), so that
/// no process of the sandbox is root on the host, not even by uid: the
/// kernel still special-cases uid 0 in places (file ownership,
/// RLIMIT_NPROC, some /proc files) where capabilities do not enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub inside_uid: u32,
    pub inside_gid: u32,
    pub outside_uid: u32,
    pub outside_gid: u32,
    /// The caller is root and switches to `outside_*` to create the
    /// sandbox; writable paths owned by root are then bound through an
    /// idmapped mount that shows root's files as owned by `outside_uid`.
    pub from_root: bool,
}

/// The host uid and gid of a sandbox started by root in a root-owned
/// workspace: owned by no account, so the sandbox can reach nothing on the
/// host through file ownership.
pub const ISOLATED_HOST_ID: u32 = 2_000_000_000;

/// How the new root is assembled. Mount operations run in order; the
/// builder sorts them so that a parent is mounted before its children.
#[derive(Debug, Clone, PartialEq)]
pub struct FsPlan {
    pub root: RootKind,
    pub mounts: Vec<MountOp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootKind {
    /// The host's whole tree, read-only, nosuid, nodev (policy `read = ["/"]`).
    HostReadOnly,
    /// An empty tmpfs; only the listed binds appear.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOp {
    /// Bind `src` (host path) to `dst` (sandbox path), recursively.
    Bind {
        src: PathBuf,
        dst: PathBuf,
        writable: bool,
    },
    /// A fresh tmpfs at `dst` (private /tmp, /run, /var/tmp, /dev/shm).
    Tmpfs { dst: PathBuf, mode: u32 },
    /// The minimal /dev: null, zero, full, random, urandom, tty, a private
    /// devpts at /dev/pts, /dev/ptmx, a tmpfs /dev/shm and the fd symlinks.
    Dev,
    /// A fresh procfs at /proc for the sandbox's pid namespace.
    Proc,
    /// A symlink `dst` -> `target` in the root (merged-/usr systems).
    Symlink { target: PathBuf, dst: PathBuf },
    /// Make `path` unreadable: an empty mode-000 read-only tmpfs over a
    /// directory, a mode-000 file over a file.
    Mask { path: PathBuf, is_dir: bool },
    /// Re-bind `path` onto itself read-only (protected paths inside
    /// writable trees).
    Protect { path: PathBuf },
    /// Re-bind `path` onto itself as it is (read-write, cloned from the
    /// sandbox's own view, so with the writable root's idmap): a mount
    /// point cannot be renamed or removed, so the directories above a
    /// protected path (and `.git` itself) stay where they are.
    Pin { path: PathBuf },
    /// Re-bind `path` onto itself read-only, shown as owned by the sandbox
    /// through an idmapped mount: a directory that a root-started sandbox's
    /// uid could not enter but that root, who started it, can (`/root`
    /// holding the workspace or the tools in `$PATH`). Made by the
    /// supervisor; read-only, and `deny_read` masks still land on it.
    OwnerBind { path: PathBuf },
    /// A small read-only file with these contents over the existing file
    /// `dst` (the sandbox's resolv.conf, pointing at corral's resolver).
    File { dst: PathBuf, contents: Vec<u8> },
}

/// The network the sandbox gets: init creates the proxy's listening
/// sockets on the sandbox's own loopback (see [`crate::net`]) and hands
/// them to the supervisor, which serves them from the host side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetPlan;

/// The seccomp deny filter's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeccompPlan {
    /// Allow unshare/setns/clone(CLONE_NEW*) (policy
    /// `sandbox.dangerously_allow_nested_namespaces`).
    pub allow_nested_namespaces: bool,
    /// Also deny sched_setaffinity (when the CPU limit is enforced by
    /// affinity because no cgroup is available, so it cannot be widened).
    pub deny_affinity_changes: bool,
    /// Report denials and the monitor's watched calls to a listener the
    /// supervisor serves (see `seccomp::monitor`).
    pub notify: bool,
}

/// Landlock rules, the second filesystem layer: the same read/write sets
/// as the mounts, enforced by the LSM.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LandlockPlan {
    /// Read and execute beneath these (sandbox) paths.
    pub read: Vec<PathBuf>,
    /// Full access beneath these (sandbox) paths.
    pub write: Vec<PathBuf>,
    /// Device files: read and write, no execute.
    pub devices: Vec<PathBuf>,
}

/// Resource limits, already split by mechanism.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LimitsPlan {
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
    pub cpus: Option<f64>,
    pub timeout: Option<Duration>,
    pub open_files: Option<u64>,
    pub file_size_bytes: Option<u64>,
}
