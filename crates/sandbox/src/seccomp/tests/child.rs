//! Forked test children, shared by the seccomp and Landlock tests: the
//! restriction under test applies to the child only, never to the test
//! harness. The child runs raw syscalls only (plus what the restriction
//! under test needs) and reports through a pipe.

use std::io::Read;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult};

/// A probe's outcome: 0 for success, `-errno` for failure.
pub(crate) fn outcome(rc: libc::c_long) -> i64 {
    if rc < 0 {
        -(Errno::last() as i64)
    } else {
        0
    }
}

/// `-errno`, as `outcome` reports it.
pub(crate) fn err(errno: i32) -> i64 {
    -i64::from(errno)
}

/// Human-readable outcome.
pub(crate) fn show(v: i64) -> String {
    if v == 0 {
        "ok".to_owned()
    } else {
        format!("{}", Errno::from_raw(i32::try_from(-v).unwrap_or(0)))
    }
}

/// Forks, runs `body` in the child and exits with its return value. Returns
/// how the child ended.
pub(crate) fn fork_child(body: impl FnOnce() -> i32) -> WaitStatus {
    // SAFETY: the child only runs `body`, written for a forked child (raw
    // syscalls, the restriction under test), then `_exit`s without
    // returning into the test harness.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
            // SAFETY: ends the child without running the harness's atexit
            // handlers or destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => waitpid(child, None).expect("waitpid"),
    }
}

/// Runs `body` in a forked child and returns the probe outcomes it
/// reported. `body` returns `Err(what)` when its setup failed.
pub(crate) fn in_child<const N: usize>(
    body: impl FnOnce() -> Result<[i64; N], &'static str>,
) -> [i64; N] {
    let (rx, tx) = pipe().expect("pipe");
    let status = fork_child(|| {
        let (code, bytes): (i32, Vec<u8>) = match body() {
            Ok(results) => (0, results.iter().flat_map(|r| r.to_ne_bytes()).collect()),
            Err(what) => (1, what.as_bytes().to_vec()),
        };
        write_all(&tx, &bytes);
        code
    });
    drop(tx);
    let mut buf = Vec::new();
    std::fs::File::from(rx)
        .read_to_end(&mut buf)
        .expect("read from child");
    match status {
        WaitStatus::Exited(_, 0) => {}
        WaitStatus::Exited(_, 1) => panic!("child setup failed: {}", String::from_utf8_lossy(&buf)),
        other => panic!("child ended with {other:?}"),
    }
    assert_eq!(buf.len(), N * 8, "child reported {} bytes", buf.len());
    let mut out = [0i64; N];
    for (slot, chunk) in out.iter_mut().zip(buf.chunks_exact(8)) {
        *slot = i64::from_ne_bytes(chunk.try_into().expect("8 bytes"));
    }
    out
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// Sets `PR_SET_NO_NEW_PRIVS`, as the launcher does before installing the
/// filter.
pub(crate) fn no_new_privs() -> Result<(), &'static str> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err("prctl(PR_SET_NO_NEW_PRIVS)")
    }
}

/// Enters a new user and network namespace when the kernel lets this user
/// do so, mapping the current ids to 0 inside, so that capability-gated
/// calls (raw sockets, nested unshare) succeed without the filter and a
/// denial can only come from it. Returns whether it did.
pub(crate) fn try_own_namespaces() -> bool {
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: unshare with flag arguments only; the child is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
        return false;
    }
    // Without a mapping, nested user namespaces fail with EPERM.
    std::fs::write("/proc/self/setgroups", "deny").is_ok()
        && std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")).is_ok()
        && std::fs::write("/proc/self/gid_map", format!("0 {gid} 1")).is_ok()
}
