//! Real cgroups on this machine: needs root (or a delegated cgroup v2) and
//! skips with a printed reason otherwise.

use super::*;
use crate::plan::LimitsPlan;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, read, write, ForkResult, Pid};
use std::fs;
use std::os::fd::OwnedFd;

/// What a test child does once it has been placed in the cgroup.
#[derive(Clone, Copy)]
enum Act {
    /// Sleep until killed.
    Pause,
    /// Touch 256 MiB of anonymous memory.
    Hog,
    /// Fork 64 sleeping children; exit 0 if a fork failed with EAGAIN.
    ForkMany,
    /// Burn 150 ms of CPU time.
    Spin,
}

fn cpu_time_ms() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

fn child_body(act: Act) -> i32 {
    match act {
        Act::Pause => loop {
            // SAFETY: pause blocks until a signal.
            unsafe { libc::pause() };
        },
        Act::Hog => {
            let len = 256 << 20;
            let prot = libc::PROT_READ | libc::PROT_WRITE;
            let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
            // SAFETY: a fresh anonymous mapping, no existing memory touched.
            let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
            if p == libc::MAP_FAILED {
                return 2;
            }
            for off in (0..len).step_by(4096) {
                // SAFETY: off < len, inside the mapping created above.
                unsafe { p.cast::<u8>().add(off).write_volatile(1) };
            }
            0
        }
        Act::ForkMany => {
            for _ in 0..64 {
                // SAFETY: the grandchild only pauses.
                match unsafe { libc::fork() } {
                    0 => loop {
                        // SAFETY: pause blocks until a signal.
                        unsafe { libc::pause() };
                    },
                    -1 => return i32::from(nix::errno::Errno::last() != nix::errno::Errno::EAGAIN),
                    _ => {}
                }
            }
            1
        }
        Act::Spin => {
            while cpu_time_ms() < 150 {
                std::hint::spin_loop();
            }
            0
        }
    }
}

/// Forks a child that waits until it is in `cg`, then does `act`.
fn spawn_in(cg: &Cgroup, act: Act) -> Pid {
    let (rx, tx): (OwnedFd, OwnedFd) = pipe().expect("pipe");
    // SAFETY: the child makes only plain syscalls and _exits.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(tx);
            let mut byte = [0u8; 1];
            let code = match read(&rx, &mut byte) {
                Ok(1) => child_body(act),
                _ => 3,
            };
            // SAFETY: ends the child without running harness code.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(rx);
            cg.add_pid(child).expect("add_pid");
            write(&tx, b"g").expect("release child");
            child
        }
    }
}

fn read_trim(path: &Path) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|e| format!("<{e}>"))
}

/// The cgroup support to test with, or why to skip.
fn usable() -> Result<CgroupSupport, String> {
    match probe() {
        CgroupSupport::Unavailable { reason, .. } => Err(format!(
            "no writable cgroup ({reason}); run as root or in a delegated scope (systemd-run --user --scope -p Delegate=yes)"
        )),
        s if s.controllers() != Controller::ALL => Err(format!("not all of memory/pids/cpu usable: {}", s.describe())),
        s => Ok(s),
    }
}

fn file_of(cg: &Cgroup, v1_controller: &str, v2: &str, v1: &str) -> String {
    let dir = cg
        .dirs()
        .into_iter()
        .find(|d| d.components().any(|c| c.as_os_str() == v1_controller));
    match cg.layout {
        Layout::V2 { dir: Some(ref d) } => read_trim(&d.join(v2)),
        _ => read_trim(&dir.expect("controller dir").join(v1)),
    }
}

#[test]
fn real_cgroup_enforces_limits_and_cleans_up() {
    let support = match usable() {
        Ok(s) => s,
        Err(why) => {
            return crate::test_support::skip("real_cgroup_enforces_limits_and_cleans_up", why)
        }
    };
    let run_id = format!("test-{}", std::process::id());
    let limits = LimitsPlan {
        memory_bytes: Some(64 << 20),
        pids: Some(16),
        cpus: Some(0.5),
        ..LimitsPlan::default()
    };
    let cg = create(&support, &run_id, &limits).expect("create");
    assert!(
        cg.describe().ends_with(": memory=64M pids=16 cpus=0.5"),
        "{}",
        cg.describe()
    );
    assert_eq!(
        file_of(&cg, "memory", "memory.max", "memory.limit_in_bytes"),
        "67108864"
    );
    assert_eq!(file_of(&cg, "pids", "pids.max", "pids.max"), "16");
    match cg.layout {
        Layout::V2 { .. } => assert_eq!(file_of(&cg, "cpu", "cpu.max", ""), "50000 100000"),
        Layout::V1 { .. } => assert_eq!(file_of(&cg, "cpu", "", "cpu.cfs_quota_us"), "50000"),
    }

    let sleeper = spawn_in(&cg, Act::Pause);
    for dir in cg.dirs() {
        let procs = read_trim(&dir.join("cgroup.procs"));
        assert!(
            procs.lines().any(|l| l == sleeper.to_string()),
            "{sleeper} not in {}: {procs}",
            dir.display()
        );
    }
    if cg.freeze().is_ok() {
        cg.thaw().expect("thaw");
    }

    let hog = spawn_in(&cg, Act::Hog);
    let status = waitpid(hog, None).expect("wait hog");
    assert_eq!(
        status,
        WaitStatus::Signaled(hog, Signal::SIGKILL, false),
        "the 64M limit must OOM-kill a 256M hog"
    );
    assert!(cg.oom_kills() >= 1, "oom_kills = {}", cg.oom_kills());

    let forker = spawn_in(&cg, Act::ForkMany);
    assert_eq!(
        waitpid(forker, None).expect("wait forker"),
        WaitStatus::Exited(forker, 0),
        "pids.max 16 must stop 64 forks"
    );
    assert!(
        cg.pids_max_hit() >= 1,
        "pids_max_hit = {}",
        cg.pids_max_hit()
    );

    let spinner = spawn_in(&cg, Act::Spin);
    assert_eq!(
        waitpid(spinner, None).expect("wait spinner"),
        WaitStatus::Exited(spinner, 0)
    );
    let stat = file_of(&cg, "cpu", "cpu.stat", "cpu.stat");
    let throttled = stat
        .lines()
        .find_map(|l| l.strip_prefix("nr_throttled "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        throttled.is_some_and(|n| n >= 1),
        "150ms of cpu at 0.5 cpus must be throttled: {stat}"
    );

    let dirs: Vec<PathBuf> = cg.dirs().into_iter().map(Path::to_path_buf).collect();
    cg.destroy().expect("destroy");
    assert_eq!(
        waitpid(sleeper, None).expect("wait sleeper"),
        WaitStatus::Signaled(sleeper, Signal::SIGKILL, false)
    );
    for dir in dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

/// The v2 mechanics (cgroup.kill, cgroup.freeze) without limits: works on
/// this machine's empty unified hierarchy too.
#[test]
fn real_cgroup_v2_freeze_and_kill() {
    let support = match probe() {
        s @ CgroupSupport::V2 { .. } => s,
        _ if nix::unistd::geteuid().is_root() => {
            // Hybrid machines: the (controller-less) unified root still
            // has cgroup.freeze and cgroup.kill.
            let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
            let root = mountinfo
                .lines()
                .filter(|l| l.contains(" - cgroup2 "))
                .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
                .find(|p| p.join("cgroup.procs").exists() && !p.join("cgroup.type").exists());
            match root {
                Some(dir) => CgroupSupport::V2 {
                    dir,
                    controllers: Vec::new(),
                },
                None => {
                    return crate::test_support::skip(
                        "real_cgroup_v2_freeze_and_kill",
                        "no cgroup2 root mounted",
                    )
                }
            }
        }
        _ => {
            return crate::test_support::skip(
                "real_cgroup_v2_freeze_and_kill",
                "no writable cgroup v2 and not root",
            )
        }
    };
    let cg = create(
        &support,
        &format!("test-v2-{}", std::process::id()),
        &LimitsPlan::default(),
    )
    .expect("create");
    assert!(cg.describe().starts_with("cgroup v2"), "{}", cg.describe());
    let dir = cg.dirs()[0].to_path_buf();
    let a = spawn_in(&cg, Act::Pause);
    let b = spawn_in(&cg, Act::Pause);
    cg.freeze().expect("freeze");
    assert!(read_trim(&dir.join("cgroup.events")).contains("frozen 1"));
    cg.thaw().expect("thaw");
    assert!(read_trim(&dir.join("cgroup.events")).contains("frozen 0"));
    cg.kill_all().expect("kill_all");
    for pid in [a, b] {
        assert_eq!(
            waitpid(pid, None).expect("wait"),
            WaitStatus::Signaled(pid, Signal::SIGKILL, false)
        );
    }
    drop(cg);
    assert!(!dir.exists(), "drop must remove {}", dir.display());
}
