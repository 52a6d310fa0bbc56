//! Assembles the sandbox's root filesystem from an [`FsPlan`] inside a fresh
//! mount namespace, then pivots into it.
//!
//! Every host source is cloned first (`open_tree`, recursive, detached), so
//! that later mounts (a private /tmp, say) cannot hide a source that lives
//! beneath them. The clones are then attached in plan order onto a staging
//! mount, and the process pivots into it. Read-only, nosuid and nodev are
//! set on the detached clones with `mount_setattr`, recursively.

use crate::plan::{FsPlan, MountOp, RootKind};
use crate::sys;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const RO: u64 = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
const RW: u64 = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;

/// Device nodes bound from the host into the minimal /dev.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// /proc entries hidden or made read-only, as container runtimes do: they
/// expose host-wide state or host-wide controls.
const PROC_MASKED: [&str; 7] = [
    "kcore",
    "keys",
    "timer_list",
    "sched_debug",
    "latency_stats",
    "acpi",
    "scsi",
];
const PROC_READ_ONLY: [&str; 5] = ["sys", "sysrq-trigger", "bus", "fs", "irq"];

/// Where the new root is assembled before the pivot. Every host source has
/// been cloned by then, so covering this directory hides nothing we need.
const STAGING: &str = "/tmp";

/// A failed mount step, naming the operation and the sandbox path.
#[derive(Debug)]
pub struct MountError {
    pub what: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

impl std::fmt::Display for MountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.what,
            crate::fsplan::printable(&self.path),
            self.source
        )
    }
}

type Result<T> = std::result::Result<T, MountError>;

fn err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> MountError + use<'a> {
    move |source| MountError {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Joins a sandbox-absolute path onto the staging directory.
fn staged(path: &Path) -> PathBuf {
    let rel = path.strip_prefix("/").unwrap_or(path);
    Path::new(STAGING).join(rel)
}

fn c(path: &Path) -> Result<CString> {
    sys::cpath(path).map_err(err("path", path))
}

fn clone_tree(src: &Path, attrs: u64) -> Result<OwnedFd> {
    let fd = sys::open_tree_clone_nofollow(&c(src)?).map_err(err("clone mount of", src))?;
    sys::mount_setattr(fd.as_fd(), attrs, 0).map_err(err("set mount flags on", src))?;
    Ok(fd)
}

/// Sources cloned from the host before anything is covered.
enum Prepared {
    /// The clone and whether its source is a directory.
    Tree(OwnedFd, bool),
    Devices(Vec<OwnedFd>),
    None,
}

/// Builds the root described by `fs` and pivots into it. Runs in the
/// sandbox's init process, inside its user and mount namespaces.
///
/// `premade` holds, per op, a detached clone the supervisor already made
/// (idmapped binds for a sandbox started by root).
pub fn assemble(fs: &FsPlan, premade: Vec<Option<OwnedFd>>) -> Result<()> {
    sys::make_rprivate().map_err(err("make private", Path::new("/")))?;
    let root = match fs.root {
        RootKind::HostReadOnly => Some(clone_tree(Path::new("/"), RO)?),
        RootKind::Empty => None,
    };
    let mut prepared = Vec::with_capacity(fs.mounts.len());
    for (op, premade) in fs.mounts.iter().zip(premade) {
        prepared.push(match op {
            MountOp::Bind { src, writable, .. } => {
                tree(premade, src, if *writable { RW } else { RO })?
            }
            // Without the supervisor's idmapped clone, a plain read-only bind.
            MountOp::OwnerBind { path } => tree(premade, path, RO)?,
            MountOp::Dev => {
                let mut nodes = Vec::with_capacity(DEVICES.len());
                for name in DEVICES {
                    let path = Path::new("/dev").join(name);
                    nodes.push(clone_tree(
                        &path,
                        libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC,
                    )?);
                }
                Prepared::Devices(nodes)
            }
            _ => Prepared::None,
        });
    }
    let contents = fs.mounts.iter().find_map(|op| match op {
        MountOp::File { contents, .. } => Some(contents.as_slice()),
        _ => None,
    });
    let masks = MaskSource::create(contents)?;

    let staging = Path::new(STAGING);
    match root {
        Some(tree) => {
            sys::move_mount(tree.as_fd(), &c(staging)?).map_err(err("attach root at", staging))?
        }
        None => tmpfs(staging, "0755", 0)?,
    }
    for (op, prep) in fs.mounts.iter().zip(prepared) {
        apply(op, prep, &masks)?;
    }
    if fs.root == RootKind::Empty {
        // The root itself is not writable; only the mounts on it are.
        remount_ro(staging)?;
    }
    std::env::set_current_dir(staging).map_err(err("enter new root", staging))?;
    sys::pivot_to_cwd().map_err(err("pivot_root into", staging))?;
    std::env::set_current_dir("/").map_err(err("chdir", Path::new("/")))?;
    Ok(())
}

/// The clone to attach for a bind: the supervisor's idmapped one when it
/// made one, else a clone of `src` made here with `attrs`.
fn tree(premade: Option<OwnedFd>, src: &Path, attrs: u64) -> Result<Prepared> {
    let fd = match premade {
        Some(fd) => fd,
        None => clone_tree(src, attrs)?,
    };
    let is_dir = is_dir_fd(&fd);
    Ok(Prepared::Tree(fd, is_dir))
}

/// Whether a mount clone's root is a directory (the mount point must match).
fn is_dir_fd(fd: &OwnedFd) -> bool {
    nix::sys::stat::fstat(fd).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

fn remount_ro(path: &Path) -> Result<()> {
    let flags =
        libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
    sys::mount(c"none", &c(path)?, c"", flags, None).map_err(err("remount read-only", path))
}

fn tmpfs(path: &Path, mode: &str, extra_flags: libc::c_ulong) -> Result<()> {
    let data =
        CString::new(format!("mode={mode}")).map_err(|e| err("tmpfs options", path)(e.into()))?;
    let flags = libc::MS_NOSUID | libc::MS_NODEV | extra_flags;
    sys::mount(c"tmpfs", &c(path)?, c"tmpfs", flags, Some(&data))
        .map_err(err("mount tmpfs at", path))
}

fn apply(op: &MountOp, prep: Prepared, masks: &MaskSource) -> Result<()> {
    match (op, prep) {
        (
            MountOp::Bind { dst, .. } | MountOp::OwnerBind { path: dst },
            Prepared::Tree(fd, is_dir),
        ) => {
            let target = staged(dst);
            ensure_mountpoint(&target, is_dir)?;
            sys::move_mount(fd.as_fd(), &c(&target)?).map_err(err("bind mount at", dst))
        }
        (MountOp::Tmpfs { dst, mode }, _) => {
            let target = staged(dst);
            ensure_mountpoint(&target, true)?;
            tmpfs(&target, &format!("{mode:o}"), 0)
        }
        (MountOp::Dev, Prepared::Devices(nodes)) => build_dev(&staged(Path::new("/dev")), nodes),
        (MountOp::Proc, _) => build_proc(&staged(Path::new("/proc")), masks),
        (MountOp::Symlink { target, dst }, _) => {
            let link = staged(dst);
            std::os::unix::fs::symlink(target, &link).map_err(err("create symlink", dst))
        }
        (MountOp::Mask { path, is_dir }, _) => masks.mask(&staged(path), path, *is_dir),
        (MountOp::File { dst, .. }, _) => masks.file(&staged(dst), dst),
        (MountOp::Protect { path }, _) => {
            let target = staged(path);
            let fd = clone_tree(&target, RO)?;
            sys::move_mount(fd.as_fd(), &c(&target)?).map_err(err("protect", path))
        }
        // Cloned from the staged tree: it keeps the mount flags and idmap
        // of the writable root it lies in.
        (MountOp::Pin { path }, _) => {
            let target = staged(path);
            let fd = clone_tree(&target, RW)?;
            sys::move_mount(fd.as_fd(), &c(&target)?).map_err(err("pin", path))
        }
        (_, _) => Ok(()),
    }
}

/// Creates a directory (or an empty file) to mount on, when missing.
fn ensure_mountpoint(target: &Path, is_dir: bool) -> Result<()> {
    if target.symlink_metadata().is_ok() {
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(err("create mount point", parent))?;
    }
    if is_dir {
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(target)
            .map_err(err("create mount point", target))
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(target)
            .map(drop)
            .map_err(err("create mount point", target))
    }
}

fn build_dev(dev: &Path, nodes: Vec<OwnedFd>) -> Result<()> {
    ensure_mountpoint(dev, true)?;
    tmpfs(dev, "0755", libc::MS_NOEXEC)?;
    for (name, fd) in DEVICES.iter().zip(nodes) {
        let node = dev.join(name);
        ensure_mountpoint(&node, false)?;
        sys::move_mount(fd.as_fd(), &c(&node)?).map_err(err("bind device", &node))?;
    }
    let pts = dev.join("pts");
    ensure_mountpoint(&pts, true)?;
    sys::mount(
        c"devpts",
        &c(&pts)?,
        c"devpts",
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some(c"newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(err("mount devpts at", &pts))?;
    let shm = dev.join("shm");
    ensure_mountpoint(&shm, true)?;
    tmpfs(&shm, "1777", 0)?;
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let path = dev.join(link);
        std::os::unix::fs::symlink(target, &path).map_err(err("create symlink", &path))?;
    }
    remount_ro(dev)
}

fn build_proc(proc: &Path, masks: &MaskSource) -> Result<()> {
    ensure_mountpoint(proc, true)?;
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    sys::mount(c"proc", &c(proc)?, c"proc", flags, None).map_err(err("mount proc at", proc))?;
    for name in PROC_READ_ONLY {
        let path = proc.join(name);
        if path.exists() {
            let fd = clone_tree(&path, RO)?;
            sys::move_mount(fd.as_fd(), &c(&path)?).map_err(err("protect", &path))?;
        }
    }
    for name in PROC_MASKED {
        let path = proc.join(name);
        if let Ok(meta) = path.symlink_metadata() {
            masks.mask(&path, &path, meta.is_dir())?;
        }
    }
    Ok(())
}

/// A private tmpfs holding one mode-000 directory and one mode-000 file;
/// masks are read-only binds of these over the masked paths, so reading a
/// masked path fails with EACCES and it cannot be chmod-ed back. It also
/// holds the one generated file a plan may have ([`MountOp::File`]).
///
/// The tmpfs is attached in the *old* root (at [`MASK_SOURCE_AT`]), and
/// every mask is cloned from that attached path: closing a detached mount
/// costs the kernel an RCU grace period each, while the old root's single
/// lazy unmount after the pivot takes all of it away at once.
struct MaskSource;

/// Where the mask source is attached in the old root (always present; the
/// sandbox's own /dev was cloned before).
const MASK_SOURCE_AT: &str = "/dev";
const MASK_DIR: &CStr = c"/dev/d";
const MASK_FILE: &CStr = c"/dev/f";
const CONTENT_FILE: &CStr = c"/dev/c";

impl MaskSource {
    fn create(contents: Option<&[u8]>) -> Result<Self> {
        let here = Path::new("(mask source)");
        let opts: [(&CStr, &CStr); 3] =
            [(c"mode", c"0000"), (c"size", c"8k"), (c"nr_inodes", c"8")];
        let mnt = sys::detached_tmpfs(&opts, 0).map_err(err("create", here))?;
        let mnt_fd = mnt.as_fd();
        nix::sys::stat::mkdirat(mnt_fd, "d", nix::sys::stat::Mode::empty())
            .map_err(|e| err("create", here)(e.into()))?;
        let file = nix::fcntl::openat(
            mnt_fd,
            "f",
            nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| err("create", here)(e.into()))?;
        drop(file);
        if let Some(contents) = contents {
            let file = nix::fcntl::openat(
                mnt_fd,
                "c",
                nix::fcntl::OFlag::O_CREAT
                    | nix::fcntl::OFlag::O_WRONLY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::from_bits_truncate(0o644),
            )
            .map_err(|e| err("create", here)(e.into()))?;
            let mut file = std::fs::File::from(file);
            io::Write::write_all(&mut file, contents).map_err(err("write", here))?;
        }
        let at = Path::new(MASK_SOURCE_AT);
        sys::move_mount(mnt_fd, &c(at)?).map_err(err("attach mask source at", at))?;
        Ok(MaskSource)
    }

    fn mask(&self, target: &Path, shown: &Path, is_dir: bool) -> Result<()> {
        // A path this process cannot even look up is out of the command's
        // reach as well: both have the same host uid and no capability over
        // host files. Nothing to mask then.
        // A path that is gone since the plan was made (a host daemon's
        // socket, say) has nothing left to hide.
        if let Err(e) = target.symlink_metadata() {
            if matches!(e.raw_os_error(), Some(libc::EACCES) | Some(libc::ENOENT)) {
                return Ok(());
            }
        }
        let source = if is_dir { MASK_DIR } else { MASK_FILE };
        // Each mask needs its own mount: clone the source.
        let fd = sys::open_tree_clone(None, source).map_err(err("mask", shown))?;
        sys::mount_setattr(fd.as_fd(), RO | libc::MOUNT_ATTR_NOEXEC, 0)
            .map_err(err("mask", shown))?;
        sys::move_mount(fd.as_fd(), &c(target)?).map_err(err("mask", shown))
    }

    /// Covers the existing file `target` with the generated file, read-only.
    fn file(&self, target: &Path, shown: &Path) -> Result<()> {
        let fd = sys::open_tree_clone(None, CONTENT_FILE).map_err(err("replace", shown))?;
        sys::mount_setattr(fd.as_fd(), RO | libc::MOUNT_ATTR_NOEXEC, 0)
            .map_err(err("replace", shown))?;
        sys::move_mount(fd.as_fd(), &c(target)?).map_err(err("replace", shown))
    }
}
