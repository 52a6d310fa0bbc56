//! Idmapped mounts for a sandbox started by root: the sandbox runs as an
//! unprivileged host uid, and writable paths owned by root are bound
//! through a mount whose idmapping shows root's files as that uid's (and
//! stores that uid's new files as root's). Only root can create them
//! (CAP_SYS_ADMIN in the initial user namespace), so the supervisor makes
//! the detached clones before it clones the sandbox, which inherits the
//! descriptors and attaches them.

use crate::plan::{MountOp, SandboxPlan};
use crate::sys;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A user namespace mapping the owner's uid/gid to the sandbox's: the
/// idmapping of the writable binds. A user namespace needs a process to create it: a
/// child that shares our memory and descriptor table (no address-space
/// copy, the cost of a fork) runs [`hold_namespace`] on a small stack of
/// its own and only blocks in `read` until we have written its maps and
/// opened its namespace.
fn owner_to(owner: (u32, u32), sandbox: (u32, u32)) -> io::Result<OwnedFd> {
    let (read_end, write_end) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let mut stack = vec![0u8; 16 * 1024];
    // The stack grows down from its (16-byte aligned) top.
    let top = (stack.as_mut_ptr() as usize + stack.len()) & !15;
    let flags = libc::CLONE_VM | libc::CLONE_FILES | libc::CLONE_NEWUSER | libc::SIGCHLD;
    // SAFETY: the child runs only `hold_namespace`, which makes one read(2)
    // on the descriptor passed as its argument and returns; `stack` outlives
    // the child because we reap it below before `stack` is dropped.
    let pid = unsafe {
        libc::clone(
            hold_namespace,
            top as *mut libc::c_void,
            flags,
            read_end.as_raw_fd() as usize as *mut libc::c_void,
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = (|| {
        sys::write_file_once(
            &sys::cpath(Path::new(&format!("/proc/{pid}/uid_map")))?,
            format!("{} {} 1", owner.0, sandbox.0).as_bytes(),
        )?;
        sys::write_file_once(
            &sys::cpath(Path::new(&format!("/proc/{pid}/gid_map")))?,
            format!("{} {} 1", owner.1, sandbox.1).as_bytes(),
        )?;
        std::fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from)
    })();
    // The shared table's last write end closes: the child's read returns.
    drop(write_end);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    drop(read_end);
    drop(stack);
    result
}

/// The body of [`owner_to`]'s child: wait for end of file, then exit.
extern "C" fn hold_namespace(arg: *mut libc::c_void) -> libc::c_int {
    let fd = arg as usize as libc::c_int;
    let mut byte = 0u8;
    // SAFETY: one read into a local byte; `fd` is the pipe's read end.
    unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
    0
}

/// For each mount op, the idmapped detached clone to use instead of
/// cloning inside the sandbox (`None`: the sandbox clones it itself).
///
/// A root-started sandbox runs under [`crate::plan::ISOLATED_HOST_ID`]; each
/// writable path owned by someone else (root, or the user whose workspace
/// it is) is bound through a mount that shows its owner's files as the
/// sandbox's, and stores the sandbox's new files as its owner's.
pub(crate) fn prepare(plan: &SandboxPlan) -> io::Result<Vec<Option<OwnedFd>>> {
    let ids = plan.ids;
    let mut out: Vec<Option<OwnedFd>> = plan.fs.mounts.iter().map(|_| None).collect();
    if !ids.from_root {
        return Ok(out);
    }
    let mut namespaces: Vec<((u32, u32), OwnedFd)> = Vec::new();
    for (slot, op) in out.iter_mut().zip(&plan.fs.mounts) {
        let (src, attrs) = match op {
            MountOp::Bind {
                src,
                writable: true,
                ..
            } => (src, RW),
            MountOp::OwnerBind { path } => (path, RO),
            _ => continue,
        };
        let Ok(meta) = std::fs::metadata(src) else {
            continue;
        };
        let owner = (meta.uid(), meta.gid());
        if owner == (ids.outside_uid, ids.outside_gid) {
            continue;
        }
        let ns = match namespaces.iter().position(|(o, _)| *o == owner) {
            Some(i) => &namespaces[i].1,
            None => {
                let fd = owner_to(owner, (ids.outside_uid, ids.outside_gid))?;
                namespaces.push((owner, fd));
                &namespaces[namespaces.len() - 1].1
            }
        };
        *slot = Some(idmapped_clone(src, ns.as_fd(), attrs).map_err(|e| {
            let hint = match e.raw_os_error() {
                Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => {
                    " (every filesystem mounted there must support idmapped mounts: ext4, xfs, btrfs, tmpfs, overlayfs...)"
                }
                Some(libc::ELOOP) => " (a symlink appeared on the path since the plan was made)",
                _ => "",
            };
            io::Error::new(e.kind(), format!("idmapped mount of {}: {e}{hint}", crate::fsplan::printable(src)))
        })?);
    }
    Ok(out)
}

/// Read-write (writable paths) and read-only (directories shown as owned).
const RW: u64 = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;
const RO: u64 = RW | libc::MOUNT_ATTR_RDONLY;

fn idmapped_clone(src: &Path, userns: BorrowedFd<'_>, attrs: u64) -> io::Result<OwnedFd> {
    let fd = sys::open_tree_clone_nofollow(&sys::cpath(src)?)?;
    sys::mount_setattr_idmap(fd.as_fd(), attrs, userns.as_raw_fd())?;
    Ok(fd)
}

/// Takes ownership of an inherited descriptor number (in the sandbox).
pub(crate) fn adopt(raw: i32) -> OwnedFd {
    // SAFETY: the supervisor opened this descriptor before the clone and the
    // sandbox's init is its only user on this side.
    unsafe { OwnedFd::from_raw_fd(raw) }
}
