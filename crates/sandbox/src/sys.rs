//! Thin, safe wrappers over the raw syscalls the launcher needs and that
//! neither `libc` nor `nix` wraps (the new mount API, raw clone). One
//! syscall per `unsafe` block; every wrapper returns `io::Result`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Converts a path to a C string, refusing interior NULs.
pub(crate) fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_int(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = check(ret)? as RawFd;
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open_tree(dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)`:
/// a detached recursive copy of the mount tree at `path`.
/// An empty `path` clones the mount `dirfd` itself refers to.
pub(crate) fn open_tree_clone(dirfd: Option<BorrowedFd<'_>>, path: &CStr) -> io::Result<OwnedFd> {
    let dfd = dirfd.map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd());
    let mut flags =
        libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as libc::c_uint;
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH as libc::c_uint;
    }
    // SAFETY: `path` is a valid NUL-terminated string; the kernel does not keep the pointer.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dfd, path.as_ptr(), flags) })
}

/// A detached recursive copy of the mount tree at `path`, refusing any
/// symlink on the way (`openat2` with RESOLVE_NO_SYMLINKS, then `open_tree`
/// on the descriptor). Plans hold canonical paths, so a symlink found now
/// means the path changed since it was planned (another sandbox sharing
/// the directory could have swapped a directory for a link to /etc): that
/// fails with ELOOP instead of cloning wherever the link points.
pub(crate) fn open_tree_clone_nofollow(path: &CStr) -> io::Result<OwnedFd> {
    let fd = open_path_nofollow(path)?;
    open_tree_clone(Some(fd.as_fd()), c"")
}

/// An `O_PATH` descriptor for `path`, resolved with RESOLVE_NO_SYMLINKS.
fn open_path_nofollow(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: open_how is plain old data; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `path` is a valid C string and `how` a valid open_how of the size passed.
    owned(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, {set, clr})` on a
/// detached or attached mount referred to by `fd`.
pub(crate) fn mount_setattr(fd: BorrowedFd<'_>, set: u64, clr: u64) -> io::Result<()> {
    setattr_recursive(
        fd,
        libc::mount_attr {
            attr_set: set,
            attr_clr: clr,
            propagation: 0,
            userns_fd: 0,
        },
    )
}

/// `mount_setattr` setting `MOUNT_ATTR_IDMAP` (plus `set`) with the
/// idmapping of the user namespace `userns_fd`, recursively.
pub(crate) fn mount_setattr_idmap(
    fd: BorrowedFd<'_>,
    set: u64,
    userns_fd: RawFd,
) -> io::Result<()> {
    setattr_recursive(
        fd,
        libc::mount_attr {
            attr_set: set | libc::MOUNT_ATTR_IDMAP,
            attr_clr: 0,
            propagation: 0,
            userns_fd: userns_fd as u64,
        },
    )
}

fn setattr_recursive(fd: BorrowedFd<'_>, attr: libc::mount_attr) -> io::Result<()> {
    let flags = (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint;
    // SAFETY: `attr` lives across the call and its size is passed; "" is a valid C string.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    check(ret).map(drop)
}

/// Switches the effective uid/gid (root only), dropping supplementary
/// groups for good first; `restore` switches back.
pub(crate) fn set_effective_ids(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: an empty group list.
    check_int(unsafe { libc::setgroups(0, std::ptr::null()) })?;
    // SAFETY: plain id switch; -1 keeps the real and saved ids.
    check_int(unsafe { libc::setresgid(u32::MAX, gid, u32::MAX) })?;
    // SAFETY: as above.
    check_int(unsafe { libc::setresuid(u32::MAX, uid, u32::MAX) }).map(drop)
}

/// Back to effective root after [`set_effective_ids`].
pub(crate) fn restore_effective_root() -> io::Result<()> {
    // SAFETY: the saved uid is still 0, so this is permitted.
    check_int(unsafe { libc::setresuid(u32::MAX, 0, u32::MAX) })?;
    // SAFETY: as above, for the group.
    check_int(unsafe { libc::setresgid(u32::MAX, 0, u32::MAX) }).map(drop)
}

/// Sets real, effective and saved uid and gid (inside the user namespace).
/// Raw syscalls: libc's wrappers would try to apply the change to every
/// thread of the process, and the command's child shares init's memory.
pub(crate) fn set_all_ids(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain id switch for the calling task only.
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
    // SAFETY: plain id switch for the calling task only.
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// An mmap-ed stack for a `clone`d child, with a guard page at its low end.
pub(crate) struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    pub(crate) fn new(size: usize) -> io::Result<ChildStack> {
        let page = 4096;
        let len = size + page;
        // SAFETY: an anonymous private mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the first page of our own mapping becomes the guard.
        check_int(unsafe { libc::mprotect(base, page, libc::PROT_NONE) })?;
        Ok(stack)
    }

    /// The initial stack pointer (the stack grows down), 16-byte aligned.
    pub(crate) fn top(&self) -> *mut libc::c_void {
        ((self.base as usize + self.len) & !15) as *mut libc::c_void
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` created; no child runs on it any more.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// Attaches the detached mount `from` at the path `to`, which is resolved
/// without following any symlink (a mount point planned as a canonical
/// path that has since become a link fails with ELOOP rather than landing
/// wherever the link points).
pub(crate) fn move_mount(from: BorrowedFd<'_>, to: &CStr) -> io::Result<()> {
    let target = open_path_nofollow(to)?;
    // SAFETY: "" is a valid C string; both descriptors are ours and open.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    check(ret).map(drop)
}

/// Creates a detached tmpfs with the given mount options (`fsopen` +
/// `fsconfig` + `fsmount`), returning the mount's fd.
pub(crate) fn detached_tmpfs(options: &[(&CStr, &CStr)], attrs: u64) -> io::Result<OwnedFd> {
    // SAFETY: "tmpfs" is a valid C string.
    let fsfd =
        owned(unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), libc::FSOPEN_CLOEXEC) })?;
    for (key, value) in options {
        // SAFETY: key and value are valid C strings; aux is unused for SET_STRING.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fsfd.as_raw_fd(),
                libc::FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        };
        check(ret)?;
    }
    // SAFETY: CMD_CREATE takes no key or value.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    check(ret)?;
    // SAFETY: fsfd is a configured filesystem context.
    owned(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fsfd.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attrs,
        )
    })
}

/// Classic `mount(2)`.
pub(crate) fn mount(
    source: &CStr,
    target: &CStr,
    fstype: &CStr,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    let data = data.map_or(std::ptr::null(), |d| d.as_ptr().cast::<libc::c_void>());
    // SAFETY: all pointers are valid C strings (or NULL data) for the duration of the call.
    check_int(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data,
        )
    })
    .map(drop)
}

/// Makes every mount in this namespace private, so nothing we do propagates
/// back to the host.
pub(crate) fn make_rprivate() -> io::Result<()> {
    // SAFETY: NULL source/fstype/data are allowed for a propagation change.
    let ret = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    check_int(ret).map(drop)
}

/// `pivot_root(".", ".")` followed by a lazy unmount of the old root, which
/// the trick stacks on top of the new one. The caller must `chdir` into the
/// new root first.
pub(crate) fn pivot_to_cwd() -> io::Result<()> {
    // SAFETY: "." is a valid C string for both arguments.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })?;
    // SAFETY: "." is a valid C string.
    check_int(unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) }).map(drop)
}

/// Fork-like `clone(2)` with namespace flags: returns 0 in the child and the
/// child's pid in the parent. The caller must be single-threaded.
pub(crate) fn clone_fork(flags: libc::c_int) -> io::Result<libc::pid_t> {
    let flags = flags as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: with a NULL stack clone behaves like fork: the child gets a copy of
    // our address space. Our caller guarantees no other thread exists.
    let ret = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    check(ret).map(|pid| pid as libc::pid_t)
}

/// `unshare(2)`.
pub(crate) fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes only a flag word.
    check_int(unsafe { libc::unshare(flags) }).map(drop)
}

/// `prctl(option, arg2, 0, 0, 0)`.
pub(crate) fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: the prctl options we use take an integer second argument only.
    check_int(unsafe {
        libc::prctl(
            option,
            arg2,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
}

/// Drops every capability: bounding set, ambient set, then the
/// effective/permitted/inheritable sets.
pub(crate) fn drop_all_capabilities() -> io::Result<()> {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    )?;
    let last_cap = last_capability();
    for cap in 0..=last_cap {
        match prctl(libc::PR_CAPBSET_DROP, cap) {
            Ok(_) => {}
            // Capabilities beyond what this kernel knows: nothing to drop.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data are valid, correctly sized v3 capability structures.
    check(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    })
    .map(drop)
}

fn last_capability() -> libc::c_ulong {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// Writes all of `data` to `path` in one `write(2)` (required by the
/// uid_map/gid_map/setgroups files).
pub(crate) fn write_file_once(path: &CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: path is a valid C string.
    let fd = check_int(unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) })?;
    // SAFETY: fd is the descriptor we just opened and now own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: data points to data.len() readable bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != data.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}

/// Brings the loopback interface up in the current network namespace.
pub(crate) fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket creation.
    let fd = check_int(unsafe {
        libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
    })?;
    // SAFETY: we own the descriptor just returned.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads a valid ifreq we own.
    check_int(unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCSIFFLAGS as _,
            &req as *const libc::ifreq,
        )
    })
    .map(drop)
}

/// Marks every descriptor from `first` up close-on-exec (`close_range`
/// with CLOSE_RANGE_CLOEXEC, Linux 5.11).
pub(crate) fn cloexec_from(first: libc::c_uint) -> io::Result<()> {
    // SAFETY: close_range only changes flags of our own descriptors.
    check(unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    })
    .map(drop)
}

/// `sethostname(2)`.
pub(crate) fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: name points to name.len() bytes.
    check_int(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// `_exit(2)`: leaves without running destructors or atexit handlers (the
/// right way out of a forked child).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}
