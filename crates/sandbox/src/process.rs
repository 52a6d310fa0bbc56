//! The sandbox's processes seen from the host: ending them all, freezing
//! them, a forensic snapshot of each, what a process's standard
//! descriptors are, and the walk for processes that outlived a run.
//!
//! Everything here reads `/proc` and sends signals; nothing is a gate (a
//! process can change between the read and the use), it is telemetry and
//! response.

use crate::cgroup::Cgroup;
use crate::sample::{descendants, ppid};
use corral_event::{SnapshotProcess, Stdio};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

fn signal(pid: u32, sig: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// Kills every process of the sandbox whose init is `init_pid`.
///
/// When a pid namespace's init dies the kernel kills every process in it,
/// so one signal ends the whole sandbox; until the kernel has done so the
/// others could still run, so each gets its own SIGKILL too (listed while
/// init, and so their pids, are still held).
pub fn kill_sandbox(init_pid: i32) {
    let rest = descendants(init_pid);
    let _ = kill(Pid::from_raw(init_pid), Signal::SIGKILL);
    for pid in rest {
        signal(pid, Signal::SIGKILL);
    }
}

/// How [`freeze_sandbox`] stopped the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frozen {
    /// The cgroup freezer holds every process (forks included).
    Cgroup,
    /// Each process got SIGSTOP (three passes against forks racing the
    /// walk): the fallback without a cgroup of its own.
    Signals,
}

/// Stops every process of the sandbox: the cgroup freezer when the run has
/// a cgroup and it answers, else SIGSTOP to each process.
pub fn freeze_sandbox(cgroup: Option<&Cgroup>, init_pid: i32) -> Frozen {
    if cgroup.is_some_and(|cg| cg.freeze().is_ok()) {
        return Frozen::Cgroup;
    }
    for _ in 0..3 {
        for pid in descendants(init_pid) {
            signal(pid, Signal::SIGSTOP);
        }
    }
    Frozen::Signals
}

/// Lets a frozen sandbox run again: the cgroup thawed, and SIGCONT to
/// each process (undoing the SIGSTOP fallback).
pub fn thaw_sandbox(cgroup: Option<&Cgroup>, init_pid: i32) {
    if let Some(cg) = cgroup {
        let _ = cg.thaw();
    }
    for pid in descendants(init_pid) {
        signal(pid, Signal::SIGCONT);
    }
}

/// Descriptors listed per process in a snapshot (the trail's
/// `response.snapshot` process).
pub const SNAPSHOT_FDS: usize = 64;

fn link(path: impl AsRef<std::path::Path>) -> Option<String> {
    std::fs::read_link(path)
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// A process's argv from `/proc/PID/cmdline` (empty when it is gone).
pub fn argv(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A process's working directory, as the host sees it.
pub fn cwd(pid: u32) -> Option<String> {
    link(format!("/proc/{pid}/cwd"))
}

/// Every process of the sandbox whose init is `init_pid`, with its argv,
/// executable, working directory and open files (best read frozen).
pub fn snapshot_sandbox(init_pid: i32) -> Vec<SnapshotProcess> {
    descendants(init_pid)
        .into_iter()
        .map(|pid| SnapshotProcess {
            pid,
            ppid: ppid(pid),
            argv: argv(pid),
            exe: link(format!("/proc/{pid}/exe")),
            cwd: cwd(pid),
            fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
                .map(|d| {
                    d.filter_map(Result::ok)
                        .filter_map(|e| link(e.path()))
                        .take(SNAPSHOT_FDS)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// What a descriptor's `/proc/PID/fd/N` link says it is.
pub fn descriptor_kind(target: &str) -> Stdio {
    if target.starts_with("socket:") {
        Stdio::Socket
    } else if target.starts_with("pipe:") {
        Stdio::Pipe
    } else if target == "/dev/null" {
        Stdio::Null
    } else if target.starts_with("/dev/pts/") || target.starts_with("/dev/tty") {
        Stdio::Tty
    } else {
        Stdio::File
    }
}

/// What a process's standard descriptors are, 0 to 2 (a shell whose stdin
/// and stdout are sockets is a reverse shell's shape).
pub fn stdio(pid: u32) -> Vec<Stdio> {
    (0..3)
        .map(|fd| {
            link(format!("/proc/{pid}/fd/{fd}")).map_or(Stdio::Closed, |t| descriptor_kind(&t))
        })
        .collect()
}

/// Which host processes to look for in [`host_pids`].
#[derive(Debug, Clone, Copy)]
pub enum ArgvMatch<'a> {
    /// `argv[0]` is this.
    First(&'a str),
    /// The whole argv is this.
    Exact(&'a [&'a str]),
}

impl ArgvMatch<'_> {
    fn matches(&self, cmdline: &[u8]) -> bool {
        match self {
            ArgvMatch::First(name) => cmdline.split(|b| *b == 0).next() == Some(name.as_bytes()),
            ArgvMatch::Exact(argv) => {
                let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0u8])).collect();
                cmdline == want
            }
        }
    }
}

/// Host processes (any namespace this one can see) whose argv matches.
pub fn host_pids(matching: ArgvMatch<'_>) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            matching.matches(&cmdline).then_some(pid)
        })
        .collect()
}

/// Waits up to `limit` for every matching host process to be gone (the
/// kernel reaps a sandbox's processes as its init ends); returns those
/// still alive then: the survivors.
pub fn wait_gone(matching: ArgvMatch<'_>, limit: Duration) -> Vec<u32> {
    let end = Instant::now() + limit;
    loop {
        let left = host_pids(matching);
        if left.is_empty() || Instant::now() > end {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILL to each pid (survivors, so that nothing outlives a check).
pub fn kill_pids(pids: &[u32]) {
    for pid in pids {
        signal(*pid, Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_kinds() {
        assert_eq!(descriptor_kind("socket:[123]"), Stdio::Socket);
        assert_eq!(descriptor_kind("pipe:[9]"), Stdio::Pipe);
        assert_eq!(descriptor_kind("/dev/null"), Stdio::Null);
        assert_eq!(descriptor_kind("/dev/pts/3"), Stdio::Tty);
        assert_eq!(descriptor_kind("/dev/tty"), Stdio::Tty);
        assert_eq!(descriptor_kind("/home/a/out.log"), Stdio::File);
    }

    #[test]
    fn argv_matches_first_or_whole() {
        let cmdline = b"sleep\x0030\x00";
        assert!(ArgvMatch::First("sleep").matches(cmdline));
        assert!(!ArgvMatch::First("slee").matches(cmdline));
        assert!(ArgvMatch::Exact(&["sleep", "30"]).matches(cmdline));
        assert!(!ArgvMatch::Exact(&["sleep"]).matches(cmdline));
    }

    #[test]
    fn a_real_child_is_found_snapshotted_and_killed() {
        let tag = format!("corral-process-test-{}", std::process::id());
        let mut child = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("exec -a {tag} sleep 30"))
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("spawn sleep");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut found = Vec::new();
        while found.is_empty() && Instant::now() < deadline {
            found = host_pids(ArgvMatch::First(&tag));
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(found, vec![child.id()], "the child's argv[0] is {tag}");
        assert_eq!(argv(child.id()), vec![tag.clone(), "30".to_string()]);
        assert_eq!(stdio(child.id())[0], Stdio::Null);
        assert!(cwd(child.id()).is_some());
        kill_pids(&found);
        let status = child.wait().expect("wait");
        assert!(!status.success(), "killed, not exited");
        assert!(wait_gone(ArgvMatch::First(&tag), Duration::from_secs(2)).is_empty());
    }
}
