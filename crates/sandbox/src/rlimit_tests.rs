use super::*;
use nix::sys::signal::{signal, SigHandler, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::ffi::CString;

/// Runs `f` in a forked child and returns its exit code (101 when it
/// panicked, 128+n when killed by signal n). The child only runs `f` and
/// `_exit`s, it never returns into the test harness.
pub(crate) fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child runs only `f` (test code that makes plain
    // syscalls) and then _exits; it never returns to the harness.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            // SAFETY: _exit ends the child without running the harness's
            // atexit handlers or destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None).expect("waitpid") {
            WaitStatus::Exited(_, code) => code,
            WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
            other => panic!("unexpected wait status {other:?}"),
        },
    }
}

fn errno_of(ret: isize) -> i32 {
    if ret < 0 {
        nix::errno::Errno::last_raw()
    } else {
        0
    }
}

#[test]
fn fmt_bytes_picks_the_largest_exact_unit() {
    assert_eq!(fmt_bytes(2 << 30), "2G");
    assert_eq!(fmt_bytes(64 << 20), "64M");
    assert_eq!(fmt_bytes(4096), "4K");
    assert_eq!(fmt_bytes(1000), "1000");
    assert_eq!(fmt_bytes(0), "0");
}

#[test]
fn describe_lists_what_is_set() {
    let limits = LimitsPlan {
        memory_bytes: Some(2 << 30),
        pids: Some(256),
        open_files: Some(1024),
        file_size_bytes: Some(1 << 30),
        ..LimitsPlan::default()
    };
    assert_eq!(
        describe(&limits, false),
        "rlimits: nofile=1024 fsize=1G nproc=256 core=0"
    );
    assert_eq!(
        describe(&limits, true),
        "rlimits: nofile=1024 fsize=1G nproc=256 data=2G core=0"
    );
    assert_eq!(describe(&LimitsPlan::default(), true), "rlimits: core=0");
    assert!(!nproc_enforced(0) && nproc_enforced(1000));
}

#[test]
fn open_files_and_file_size_are_enforced() {
    let dir = std::env::temp_dir().join(format!("corral-rlimit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let big = CString::new(dir.join("big").into_os_string().into_encoded_bytes()).expect("path");
    let limits = LimitsPlan {
        open_files: Some(16),
        file_size_bytes: Some(4096),
        ..LimitsPlan::default()
    };
    let code = in_child(|| {
        if apply(&limits, true).is_err() {
            return 1;
        }
        if getrlimit(Resource::RLIMIT_CORE) != Ok((0, 0)) {
            return 2;
        }
        // 32 opens of /dev/null: the 17th descriptor must fail with EMFILE.
        let (mut emfile, mut last) = (false, -1);
        for _ in 0..32 {
            // SAFETY: open with a valid NUL-terminated path literal.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
            if fd < 0 {
                emfile = nix::errno::Errno::last() == nix::errno::Errno::EMFILE;
                break;
            }
            last = fd;
        }
        if !emfile {
            return 3;
        }
        // Free a slot for the file-size check.
        // SAFETY: closing a descriptor this child opened above.
        unsafe { libc::close(last) };
        // SAFETY: ignoring SIGXFSZ installs no handler code.
        if unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) }.is_err() {
            return 4;
        }
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
        // SAFETY: open with a valid NUL-terminated path.
        let fd = unsafe { libc::open(big.as_ptr(), flags, 0o600) };
        if fd < 0 {
            return 5;
        }
        let buf = [0u8; 8192];
        // SAFETY: writing from a live 8192-byte buffer to our own fd.
        let first = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        // SAFETY: as above.
        let second = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        let errno = errno_of(second);
        // The write crossing the limit stops at it; the next gets EFBIG.
        match (first, errno) {
            (4096, libc::EFBIG) => 0,
            (4096, _) => 6,
            _ => 7,
        }
    });
    std::fs::remove_dir_all(&dir).expect("cleanup");
    assert_eq!(code, 0, "child failed check {code} (see the test body)");
}

#[test]
fn hard_limits_are_clamped_not_raised() {
    let code = in_child(|| {
        if setrlimit(Resource::RLIMIT_NOFILE, 64, 64).is_err() {
            return 1;
        }
        let limits = LimitsPlan {
            open_files: Some(100_000),
            ..LimitsPlan::default()
        };
        match (apply(&limits, false), getrlimit(Resource::RLIMIT_NOFILE)) {
            (Ok(()), Ok((64, 64))) => 0,
            (Err(_), _) => 2,
            _ => 3,
        }
    });
    assert_eq!(code, 0, "child failed check {code}");
}

/// Exit code of a child that could not create a user namespace.
const NO_USERNS: i32 = 77;

/// In a forked child: (as root, first become a fresh uid), enter a new
/// user namespace as the sandbox does, apply RLIMIT_NPROC = 4 and fork 8
/// sleepers. Returns how many forks succeeded, or a failure code >= 64.
fn forks_under_nproc_4(fresh_uid: bool) -> i32 {
    in_child(|| {
        if fresh_uid {
            // A uid nothing else runs as.
            let uid = nix::unistd::Uid::from_raw(61_731);
            if nix::unistd::setresuid(uid, uid, uid).is_err() {
                return 64;
            }
        }
        // SAFETY: the forked test child changes only its own namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
            return NO_USERNS;
        }
        if apply(
            &LimitsPlan {
                pids: Some(4),
                ..LimitsPlan::default()
            },
            false,
        )
        .is_err()
        {
            return 65;
        }
        let mut children = Vec::with_capacity(8);
        for _ in 0..8 {
            // SAFETY: the grandchild only sleeps and _exits.
            match unsafe { libc::fork() } {
                0 => {
                    // SAFETY: plain sleep in the grandchild.
                    unsafe { libc::sleep(5) };
                    // SAFETY: ends the grandchild.
                    unsafe { libc::_exit(0) }
                }
                -1 if nix::errno::Errno::last() == nix::errno::Errno::EAGAIN => break,
                -1 => return 66,
                pid => children.push(pid),
            }
        }
        for &pid in &children {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        children.len() as i32
    })
}

#[test]
fn nproc_counts_the_sandbox_user_namespace() {
    // Root becomes a fresh uid: RLIMIT_NPROC never applies to uid 0.
    let root = nix::unistd::geteuid().is_root();
    match forks_under_nproc_4(root) {
        NO_USERNS => crate::test_support::skip(
            "nproc_counts_the_sandbox_user_namespace",
            "cannot create a user namespace",
        ),
        // 4 processes in the namespace: the child and 3 forks.
        n => assert_eq!(
            n, 3,
            "expected the 4th fork to fail with EAGAIN (codes >= 64 are failures)"
        ),
    }
}

#[test]
fn nproc_is_not_enforced_for_outside_root() {
    if !nix::unistd::geteuid().is_root() {
        return crate::test_support::skip("nproc_is_not_enforced_for_outside_root", "not root");
    }
    // The kernel exempts real uid 0 (INIT_USER): all 8 forks succeed,
    // which is why nproc_enforced(0) is false.
    match forks_under_nproc_4(false) {
        NO_USERNS => crate::test_support::skip(
            "nproc_is_not_enforced_for_outside_root",
            "cannot create a user namespace",
        ),
        n => assert_eq!(
            n, 8,
            "RLIMIT_NPROC unexpectedly enforced for uid 0: update nproc_enforced()"
        ),
    }
}
