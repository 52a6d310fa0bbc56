//! User namespaces: the knobs that switch them off, the explanation of a
//! failure, and the forked trial that `corral doctor` runs (create a user
//! namespace, map our ids, then each other namespace and a detached mount).

use super::Support;
use nix::errno::Errno;
use std::ffi::CString;
use std::fs;

/// The sysctls that decide whether user namespaces may be created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsernsKnobs {
    pub euid: u32,
    /// `kernel.unprivileged_userns_clone` (Debian, older Ubuntu kernels).
    pub unprivileged_userns_clone: Option<u64>,
    /// `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10+).
    pub apparmor_restrict_unprivileged_userns: Option<u64>,
    /// `user.max_user_namespaces`.
    pub max_user_namespaces: Option<u64>,
}

fn sysctl(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl UsernsKnobs {
    /// Reads the knobs of the running system (absent files are None).
    pub fn read() -> UsernsKnobs {
        UsernsKnobs {
            euid: nix::unistd::geteuid().as_raw(),
            unprivileged_userns_clone: sysctl("/proc/sys/kernel/unprivileged_userns_clone"),
            apparmor_restrict_unprivileged_userns: sysctl(
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
            ),
            max_user_namespaces: sysctl("/proc/sys/user/max_user_namespaces"),
        }
    }

    /// Whether AppArmor's restriction is the only knob in the way.
    fn apparmor_only(&self) -> bool {
        self.apparmor_restrict_unprivileged_userns == Some(1)
            && self.max_user_namespaces != Some(0)
            && self.unprivileged_userns_clone != Some(0)
    }

    /// The knob that forbids user namespaces to this user, if any:
    /// (reason, fix).
    pub fn blocker(&self) -> Option<(String, String)> {
        let persist = " (persist it in /etc/sysctl.d/)";
        if self.max_user_namespaces == Some(0) {
            return Some((
                "user.max_user_namespaces is 0: user namespaces are disabled for everyone".into(),
                format!("sudo sysctl user.max_user_namespaces=15000{persist}"),
            ));
        }
        if self.euid == 0 {
            return None;
        }
        if self.unprivileged_userns_clone == Some(0) {
            return Some((
                "kernel.unprivileged_userns_clone is 0: unprivileged user namespaces are disabled"
                    .into(),
                format!("sudo sysctl kernel.unprivileged_userns_clone=1{persist}"),
            ));
        }
        if self.apparmor_restrict_unprivileged_userns == Some(1) {
            return Some((
                "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1): they are created without capabilities".into(),
                "sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0 or install an AppArmor profile for corral that allows `userns,`".into(),
            ));
        }
        None
    }
}

/// A failed step of the forked trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrialFailure {
    pub step: &'static str,
    pub errno: Errno,
}

/// Explains user namespace support: `trial` is None when not tried
/// ([`super::Probe::quick`]), then only the knobs decide.
pub fn explain(knobs: &UsernsKnobs, trial: Option<Result<(), TrialFailure>>) -> Support {
    let blocker = knobs.blocker();
    match (trial, blocker) {
        (Some(Ok(())), _) => {
            Support::Yes("unshare(CLONE_NEWUSER) and the uid/gid maps work".into())
        }
        (None, None) => {
            Support::Yes("allowed by the sysctls (not tried; `corral doctor` tries)".into())
        }
        // An AppArmor profile for corral lifts this restriction, and only
        // trying tells: not a reason to refuse without trying.
        (None, Some((reason, _))) if knobs.euid != 0 && knobs.apparmor_only() => {
            Support::Yes(format!("not tried, and may fail: {reason}"))
        }
        (None, Some((reason, fix))) => Support::No { reason, fix },
        (Some(Err(f)), Some((reason, fix))) => Support::No {
            reason: format!("{} failed: {}; {reason}", f.step, f.errno),
            fix,
        },
        (Some(Err(f)), None) => {
            let (why, fix) = match f.errno {
                Errno::EPERM | Errno::EACCES => (
                    "forbidden without any sysctl saying so: a seccomp filter (container runtime) or an LSM policy",
                    "run corral outside the container, or let it create user namespaces (e.g. docker run --security-opt seccomp=unconfined, or podman --userns)",
                ),
                Errno::ENOSPC | Errno::EUSERS => (
                    "the user namespace limit is reached (user.max_user_namespaces or nesting depth 32)",
                    "raise user.max_user_namespaces (sudo sysctl user.max_user_namespaces=15000)",
                ),
                Errno::EINVAL | Errno::ENOSYS => (
                    "the kernel lacks user namespaces (CONFIG_USER_NS)",
                    "use a kernel built with CONFIG_USER_NS=y",
                ),
                _ => ("unexpected error", "report this with the output of `corral doctor`"),
            };
            Support::No {
                reason: format!("{} failed: {}: {why}", f.step, f.errno),
                fix: fix.into(),
            }
        }
    }
}

/// The steps of the trial, in order; the results come back by index.
pub(super) const STEPS: [&str; 11] = [
    "unshare(CLONE_NEWUSER)",
    "writing /proc/self/setgroups",
    "writing /proc/self/uid_map",
    "writing /proc/self/gid_map",
    "unshare(CLONE_NEWNS)",
    "unshare(CLONE_NEWPID)",
    "unshare(CLONE_NEWNET)",
    "unshare(CLONE_NEWIPC)",
    "unshare(CLONE_NEWUTS)",
    "unshare(CLONE_NEWCGROUP)",
    "open_tree(OPEN_TREE_CLONE|AT_RECURSIVE)",
];
/// The unshare flags of steps 4..=9.
const NS_FLAGS: [libc::c_int; 6] = [
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
];
/// A step that was not attempted (an earlier one failed).
pub(super) const NOT_TRIED: i32 = -1;

fn errno_after(ret: libc::c_long) -> i32 {
    if ret < 0 {
        Errno::last_raw()
    } else {
        0
    }
}

/// Writes `data` to the file at `path` in one write; 0 or the errno.
/// Async-signal-safe: no allocation.
fn write_once(path: &CString, data: &CString) -> i32 {
    // SAFETY: open with a valid NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Errno::last_raw();
    }
    let bytes = data.as_bytes();
    // SAFETY: writes from a live buffer of bytes.len() bytes to our fd.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    let err = errno_after(n as libc::c_long);
    // SAFETY: closes the descriptor opened above.
    unsafe { libc::close(fd) };
    err
}

/// The body of the trial child: fills `out` with 0 (ok), an errno, or
/// [`NOT_TRIED`] per step. No allocation: everything is prepared before
/// the fork.
fn trial_steps(out: &mut [i32; 11], files: &[(CString, CString); 3]) {
    *out = [NOT_TRIED; 11];
    // SAFETY: unshare only changes this (single-threaded) child's namespaces.
    out[0] = errno_after(unsafe { libc::unshare(libc::CLONE_NEWUSER) }.into());
    if out[0] != 0 {
        return;
    }
    for (i, (path, data)) in files.iter().enumerate() {
        out[1 + i] = write_once(path, data);
        if out[1 + i] != 0 {
            return;
        }
    }
    for (i, &flag) in NS_FLAGS.iter().enumerate() {
        // SAFETY: as above, one namespace at a time.
        out[4 + i] = errno_after(unsafe { libc::unshare(flag) }.into());
    }
    if out[4] == 0 {
        // Recursive: in a user namespace the inherited submounts are locked,
        // and cloning "/" without them would be refused (EINVAL).
        let flags =
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_RECURSIVE as libc::c_uint;
        // SAFETY: open_tree with a valid path literal; returns a new fd or -1.
        let ret =
            unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c"/".as_ptr(), flags) };
        out[10] = errno_after(ret);
    }
}

/// Runs the trial in a forked child; the per-step results, or None when
/// the fork or the result pipe failed.
pub(super) fn trial() -> Option<[i32; 11]> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let cs = |s: String| CString::new(s).ok();
    let files = [
        (cs("/proc/self/setgroups".into())?, cs("deny".into())?),
        (cs("/proc/self/uid_map".into())?, cs(format!("0 {uid} 1"))?),
        (cs("/proc/self/gid_map".into())?, cs(format!("0 {gid} 1"))?),
    ];
    let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
    // SAFETY: the child only makes the raw syscalls of trial_steps, writes
    // the result to the pipe and _exits.
    match unsafe { nix::unistd::fork() }.ok()? {
        nix::unistd::ForkResult::Child => {
            let mut out = [NOT_TRIED; 11];
            trial_steps(&mut out, &files);
            let mut bytes = [0u8; 44];
            for (chunk, v) in bytes.chunks_exact_mut(4).zip(out) {
                chunk.copy_from_slice(&v.to_ne_bytes());
            }
            let _ = nix::unistd::write(&tx, &bytes);
            // SAFETY: ends the child without running the parent's cleanup.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(tx);
            let mut bytes = [0u8; 44];
            let mut got = 0;
            while got < bytes.len() {
                match nix::unistd::read(&rx, &mut bytes[got..]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(Errno::EINTR) => {}
                    Err(_) => break,
                }
            }
            let _ = nix::sys::wait::waitpid(child, None);
            if got < bytes.len() {
                return None;
            }
            let mut out = [NOT_TRIED; 11];
            for (v, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *v = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
            Some(out)
        }
    }
}

/// The user namespace outcome of a trial: the first failed step among the
/// user namespace, its maps and a mount namespace inside it (which needs
/// the capabilities AppArmor's restriction withholds).
pub(super) fn userns_outcome(results: &[i32; 11]) -> Result<(), TrialFailure> {
    match (0..=4).find(|&i| results[i] != 0) {
        None => Ok(()),
        Some(i) => Err(TrialFailure {
            step: STEPS[i],
            errno: Errno::from_raw(results[i]),
        }),
    }
}
