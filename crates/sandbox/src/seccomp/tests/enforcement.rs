//! The real filter in the real kernel. Every probe runs twice, in a forked
//! child without and with the filter (each in its own user and network
//! namespace when possible, so that capability checks pass without the
//! filter and a denial comes from the filter only). The test asserts the
//! filtered outcome and prints the probes whose unfiltered outcome happens
//! to be the same on this machine.

use super::super::*;
use super::child::{err, in_child, no_new_privs, outcome, show, try_own_namespaces};
use super::{TIOCLINUX, TIOCSTI};

const NAMES: [&str; 18] = [
    "ptrace(PTRACE_TRACEME)",
    "mount(/nonexistent)",
    "unshare(CLONE_NEWUSER)",
    "clone(CLONE_NEWUSER)",
    "clone3(NULL, 0)",
    "socket(AF_PACKET, SOCK_RAW)",
    "socket(AF_INET, SOCK_RAW|SOCK_CLOEXEC)",
    "ioctl(-1, TIOCSTI)",
    "ioctl(-1, 1<<32 | TIOCSTI)",
    "ioctl(-1, TIOCLINUX)",
    "io_uring_setup(1, NULL)",
    "personality(ADDR_NO_RANDOMIZE)",
    "personality(0xffffffff)",
    "getpid()",
    "open(/dev/null)",
    "socket(AF_INET, SOCK_STREAM)",
    "socketpair(AF_UNIX) + socket(AF_NETLINK, SOCK_RAW)",
    "sched_setaffinity(current mask)",
];

/// Returns fds' outcome after closing them.
fn fd_outcome(rc: libc::c_long) -> i64 {
    let v = outcome(rc);
    if rc >= 0 {
        // SAFETY: closes the fd the probe just opened.
        unsafe { libc::close(rc as libc::c_int) };
    }
    v
}

/// Runs `call` in a forked grandchild and returns its outcome, for calls
/// that would change the probing process itself (PTRACE_TRACEME would make
/// the caller's parent its tracer: the grandchild's parent is the probing
/// child, never the test harness).
fn in_grandchild(call: impl FnOnce() -> libc::c_long) -> i64 {
    // SAFETY: the grandchild makes one syscall and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let v = outcome(call());
        // SAFETY: ends the grandchild with the errno (0 for success).
        unsafe { libc::_exit(i32::try_from(-v).unwrap_or(255)) };
    }
    if pid < 0 {
        return outcome(-1);
    }
    let mut status = 0;
    // SAFETY: reaps the grandchild; `status` is a live local.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) {
        -i64::from(libc::WEXITSTATUS(status))
    } else {
        i64::MIN
    }
}

fn probes() -> [i64; 18] {
    let mut r = [0i64; 18];
    // Every probe below is a raw syscall with integer arguments, null
    // pointers or pointers to live locals, made in a forked child.
    r[0] = in_grandchild(|| {
        // SAFETY: see above.
        unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0) }
    });
    // SAFETY: see above.
    r[1] = outcome(unsafe {
        libc::syscall(
            libc::SYS_mount,
            c"none".as_ptr(),
            c"/nonexistent-corral-test".as_ptr(),
            c"tmpfs".as_ptr(),
            0,
            0,
        )
    });
    // SAFETY: fork-like clone (no new stack); the new process exits at once.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::CLONE_NEWUSER | libc::SIGCHLD,
            0,
            0,
            0,
            0,
        )
    };
    if pid == 0 {
        // SAFETY: ends the grandchild.
        unsafe { libc::_exit(0) };
    }
    r[3] = outcome(pid);
    if pid > 0 {
        // SAFETY: reaps the grandchild.
        unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0) };
    }
    // SAFETY: invalid arguments on purpose: EINVAL unfiltered, nothing created.
    r[4] = outcome(unsafe { libc::syscall(libc::SYS_clone3, 0, 0) });
    // SAFETY: see above.
    r[5] =
        fd_outcome(unsafe { libc::syscall(libc::SYS_socket, libc::AF_PACKET, libc::SOCK_RAW, 0) });
    // SAFETY: see above.
    r[6] = fd_outcome(unsafe {
        libc::syscall(
            libc::SYS_socket,
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMP,
        )
    });
    let c: u8 = b'x';
    // SAFETY: fd -1: EBADF unfiltered.
    r[7] = outcome(unsafe { libc::syscall(libc::SYS_ioctl, -1, TIOCSTI, &c as *const u8) });
    // SAFETY: see above.
    r[8] = outcome(unsafe {
        libc::syscall(libc::SYS_ioctl, -1, (1u64 << 32) | TIOCSTI, &c as *const u8)
    });
    // SAFETY: see above.
    r[9] = outcome(unsafe { libc::syscall(libc::SYS_ioctl, -1, TIOCLINUX, &c as *const u8) });
    // SAFETY: NULL params: EFAULT unfiltered.
    r[10] = fd_outcome(unsafe { libc::syscall(libc::SYS_io_uring_setup, 1, 0) });
    // SAFETY: see above.
    r[11] = outcome(unsafe { libc::syscall(libc::SYS_personality, libc::ADDR_NO_RANDOMIZE) });
    // SAFETY: see above.
    r[12] = outcome(unsafe { libc::syscall(libc::SYS_personality, 0xffff_ffffu32) });
    // SAFETY: see above.
    r[13] = outcome(unsafe { libc::syscall(libc::SYS_getpid) });
    // SAFETY: see above.
    r[14] = fd_outcome(unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            c"/dev/null".as_ptr(),
            libc::O_RDONLY,
        )
    });
    // SAFETY: see above.
    r[15] =
        fd_outcome(unsafe { libc::syscall(libc::SYS_socket, libc::AF_INET, libc::SOCK_STREAM, 0) });
    let mut pair = [-1 as libc::c_int; 2];
    // SAFETY: `pair` has room for the two fds.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_socketpair,
            libc::AF_UNIX,
            libc::SOCK_STREAM,
            0,
            pair.as_mut_ptr(),
        )
    };
    r[16] = outcome(rc);
    for fd in pair.into_iter().filter(|&fd| fd >= 0) {
        // SAFETY: closes the fds socketpair made.
        unsafe { libc::close(fd) };
    }
    if r[16] == 0 {
        // SAFETY: see above.
        r[16] = fd_outcome(unsafe {
            libc::syscall(libc::SYS_socket, libc::AF_NETLINK, libc::SOCK_RAW, 0)
        });
    }
    // SAFETY: an all-zero cpu_set_t is a valid value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a live cpu_set_t of `size` bytes.
    let got = unsafe {
        libc::syscall(
            libc::SYS_sched_getaffinity,
            0,
            size,
            &mut set as *mut libc::cpu_set_t,
        )
    };
    r[17] = if got < 0 {
        outcome(got)
    } else {
        // SAFETY: sets the mask just read (a no-op change).
        outcome(unsafe {
            libc::syscall(
                libc::SYS_sched_setaffinity,
                0,
                size,
                &set as *const libc::cpu_set_t,
            )
        })
    };
    // Last: it moves this process into an unmapped user namespace, where
    // the capability-gated probes above would fail.
    // SAFETY: see above.
    r[2] = outcome(unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWUSER) });
    r
}

/// Runs the probes in a child with `filter` (or none). Returns the
/// outcomes and whether the child had its own user namespace.
fn run(filter: Option<&Filter>) -> ([i64; 18], bool) {
    let with_ns = in_child(|| {
        let owned = try_own_namespaces();
        Ok([i64::from(owned)])
    })[0]
        == 1;
    let results = in_child(|| {
        try_own_namespaces();
        no_new_privs()?;
        if let Some(f) = filter {
            f.install().map_err(|_| "Filter::install")?;
        }
        Ok(probes())
    });
    (results, with_ns)
}

fn check(plan: SeccompPlan, expected: [Option<i64>; 18]) {
    let filter = build(&plan).expect("filter builds");
    let (baseline, ns) = run(None);
    let (filtered, _) = run(Some(&filter));
    if !ns {
        eprintln!("note: no unprivileged user namespace here; capability-gated probes may be denied without the filter");
    }
    let mut failures = Vec::new();
    for (i, want) in expected.iter().enumerate() {
        let Some(want) = *want else { continue };
        if filtered[i] != want {
            failures.push(format!(
                "{}: got {}, want {}",
                NAMES[i],
                show(filtered[i]),
                show(want)
            ));
        } else if baseline[i] == want && (Some(want) == EPERM || want == err(libc::ENOSYS)) {
            eprintln!(
                "note: {} is {} even without the filter here; that probe does not discriminate",
                NAMES[i],
                show(want)
            );
        }
    }
    assert!(failures.is_empty(), "{plan:?}:\n{}", failures.join("\n"));
}

const EPERM: Option<i64> = Some(-(libc::EPERM as i64));
const OK: Option<i64> = Some(0);

#[test]
fn default_filter_denies_the_escape_surface_and_allows_normal_calls() {
    let enosys = Some(err(libc::ENOSYS));
    check(
        SeccompPlan::default(),
        [
            EPERM, EPERM, EPERM, EPERM, enosys, EPERM, EPERM, EPERM, EPERM, EPERM, EPERM, EPERM,
            OK, OK, OK, OK, OK, OK,
        ],
    );
}

#[test]
fn affinity_changes_are_denied_when_asked() {
    let plan = SeccompPlan {
        deny_affinity_changes: true,
        ..Default::default()
    };
    let mut want = [None; 18];
    want[17] = EPERM;
    want[13] = OK;
    check(plan, want);
}

#[test]
fn nested_namespaces_when_allowed() {
    let (baseline, _) = run(None);
    let plan = SeccompPlan {
        allow_nested_namespaces: true,
        ..Default::default()
    };
    let mut want = [None; 18];
    want[0] = EPERM;
    want[4] = Some(err(libc::EINVAL)); // clone3 reaches the kernel, which rejects NULL
    if baseline[2] == 0 && baseline[3] == 0 {
        want[2] = OK;
        want[3] = OK;
    } else {
        eprintln!(
            "skipped: unshare/clone(CLONE_NEWUSER) fail without any filter here ({}), so allowing them cannot be shown",
            show(baseline[2])
        );
    }
    check(plan, want);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_syscall_numbers_are_denied() {
    let filter = build(&SeccompPlan::default()).expect("filter builds");
    let probe = || {
        no_new_privs()?;
        // SAFETY: getpid through the x32 ABI number.
        let before = outcome(unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) });
        filter.install().map_err(|_| "Filter::install")?;
        // SAFETY: as above, now filtered.
        let after = outcome(unsafe { libc::syscall(0x4000_0000 | libc::SYS_getpid) });
        Ok([before, after])
    };
    let [before, after] = in_child(probe);
    eprintln!(
        "x32 getpid without the filter: {} (ENOSYS means the kernel has no x32 ABI)",
        show(before)
    );
    assert_eq!(after, err(libc::EPERM));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn i386_syscalls_kill_the_process() {
    use nix::sys::signal::Signal;
    use nix::sys::wait::WaitStatus;

    use super::child::fork_child;

    fn getpid_via_int80() -> i32 {
        let ret: i32;
        // SAFETY: i386 getpid (20) through int 0x80: no memory is touched;
        // the kernel zeroes r8-r11 on return from the compat entry.
        unsafe {
            std::arch::asm!("int 0x80", inlateout("eax") 20i32 => ret,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack))
        };
        ret
    }
    let filter = build(&SeccompPlan::default()).expect("filter builds");
    // SAFETY: getpid has no preconditions.
    let baseline = fork_child(|| i32::from(getpid_via_int80() != unsafe { libc::getpid() }));
    if baseline != WaitStatus::Exited(baseline.pid().expect("pid"), 0) {
        eprintln!("skipped: int 0x80 does not work here without a filter ({baseline:?}): no IA32 emulation");
        return;
    }
    let filtered = fork_child(|| {
        if no_new_privs().is_err() || filter.install().is_err() {
            return 2;
        }
        getpid_via_int80();
        0
    });
    assert!(
        matches!(filtered, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
        "int 0x80 under the filter: {filtered:?}"
    );
}
