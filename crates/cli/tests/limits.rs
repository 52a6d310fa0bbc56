//! Resource limits: processes, memory, wall-clock time, open files, file size.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn pids_limit_makes_fork_fail_with_eagain() {
    for_each_identity("pids_limit_makes_fork_fail_with_eagain", |env| {
        let code = r#"
import os, time
n = 0
try:
    for i in range(200):
        pid = os.fork()
        if pid == 0:
            time.sleep(3)
            os._exit(0)
        n += 1
    print("NO-LIMIT forked", n)
except OSError as e:
    print("fork failed after", n, "errno", e.errno, e.strerror)
"#;
        let out = env.py(&["--pids", "20"], code);
        out.code(0)
            .stdout_has("errno 11 Resource temporarily unavailable")
            .lacks("NO-LIMIT");
        let n: u32 = out
            .stdout
            .split_whitespace()
            .skip_while(|w| *w != "after")
            .nth(1)
            .and_then(|w| w.parse().ok())
            .unwrap_or(999);
        assert!(n < 20, "forked {n} children under --pids 20:\n{out}");
    });
}

/// Allocates and touches 256M; under a 64M limit it must die.
const BALLOON: &str = "x = b'\\x01' * (256 << 20)\nprint('ALIVE', len(x))";

#[test]
fn memory_limit_kills_a_balloon_or_refuses_without_degraded() {
    for_each_identity(
        "memory_limit_kills_a_balloon_or_refuses_without_degraded",
        |env| {
            let probe = env.run(&["run", "--memory", "64M", "--", "true"]);
            let flags: Vec<&str> = match probe.code {
                Some(0) => {
                    probe.stderr_has("memory=64M").lacks("DEGRADED");
                    if !env.who.is_root() {
                        eprintln!(
                            "note: {} has a usable cgroup here; no refusal to check",
                            env.who
                        );
                    }
                    vec!["--memory", "64M"]
                }
                Some(125) => {
                    // No cgroup for this identity: corral fails closed and says
                    // what is missing and how to fix it.
                    probe
                        .stderr_has("refusing to run")
                        .stderr_has("memory limit")
                        .stderr_has("fix:")
                        .stderr_has("--allow-degraded");
                    assert!(
                        env.who.is_root() || !probe.stderr.contains("memory=64M"),
                        "{probe}"
                    );
                    let degraded =
                        env.run(&["run", "--allow-degraded", "--memory", "64M", "--", "true"]);
                    degraded.code(0).stderr_has("DEGRADED").stderr_has("memory");
                    vec!["--allow-degraded", "--memory", "64M"]
                }
                _ => panic!("unexpected result for --memory 64M:\n{probe}"),
            };
            let mut args = vec!["run"];
            args.extend(&flags);
            args.extend(["--", "python3", "-c", BALLOON]);
            let out = env.run(&args);
            out.lacks("ALIVE");
            match out.code {
                Some(137) => {
                    out.stderr_has("the sandbox hit its memory limit");
                }
                Some(1) => {
                    out.stderr_has("MemoryError");
                }
                _ => panic!("balloon neither OOM-killed (137) nor MemoryError (1):\n{out}"),
            }
        },
    );
}

#[test]
fn timeout_stops_the_command_with_124() {
    for_each_identity("timeout_stops_the_command_with_124", |env| {
        let arg = format!("30.{}", unique("").replace('-', ""));
        let out = env.run(&["run", "-q", "--timeout", "1s", "--", "sleep", &arg]);
        out.code(124).stderr_has("timeout (1s)");
        assert!(
            wait_gone(&["sleep", &arg], Duration::from_secs(3)).is_empty(),
            "sleep survived the timeout:\n{out}"
        );
    });
}

#[test]
fn timeout_kills_a_command_that_ignores_sigterm() {
    for_each_identity("timeout_kills_a_command_that_ignores_sigterm", |env| {
        let arg = format!("31.{}", unique("").replace('-', ""));
        let out = env.sh(
            &["--timeout", "1s"],
            &format!("trap '' TERM; sleep {arg}; echo FINISHED"),
        );
        kill_leftovers(&["sleep", &arg]);
        out.code(124).stderr_has("timeout").lacks("FINISHED");
    });
}

fn policy_file(env: &Env, toml: &str) -> String {
    let p = env.scratch("policy").join("policy.toml");
    std::fs::write(&p, toml).expect("write policy");
    p.to_string_lossy().into_owned()
}

#[test]
fn open_files_limit_gives_emfile() {
    for_each_identity("open_files_limit_gives_emfile", |env| {
        let pol = policy_file(env, "[limits]\nopen_files = 32\n");
        let code = r#"
import resource
fs = []
try:
    for i in range(64):
        fs.append(open("/dev/null"))
    print("NO-LIMIT")
except OSError as e:
    print("open failed after", len(fs), "errno", e.errno, e.strerror)
print("nofile", resource.getrlimit(resource.RLIMIT_NOFILE))
"#;
        env.py(&["--policy", &pol], code)
            .code(0)
            .stdout_has("errno 24 Too many open files")
            .stdout_has("nofile (32, 32)")
            .lacks("NO-LIMIT");
    });
}

#[test]
fn file_size_limit_stops_a_big_write() {
    for_each_identity("file_size_limit_stops_a_big_write", |env| {
        let pol = policy_file(env, "[limits]\nfile_size = \"1M\"\n");
        let out = env.sh(&["--policy", &pol], "head -c 2M /dev/zero > big");
        // SIGXFSZ kills the shell's child: sh reports 128+25.
        out.code(153);
        let size = std::fs::metadata(env.ws.join("big"))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(
            size <= 1 << 20,
            "big is {size} bytes, over the 1M limit:\n{out}"
        );
        // And with SIGXFSZ ignored, the write fails with EFBIG.
        let code = r#"
import signal, os
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
try:
    with open("big2", "wb") as f:
        f.write(b"\0" * (2 << 20))
    print("NO-LIMIT")
except OSError as e:
    print("errno", e.errno, e.strerror)
"#;
        env.py(&["--policy", &pol], code)
            .code(0)
            .stdout_has("errno 27 File too large")
            .lacks("NO-LIMIT");
    });
}

/// The host cgroup directory of `pid` in the v1 `cpu` hierarchy, if any.
fn cpu_cgroup_of(pid: u32) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "cpu")
            .then(|| std::path::Path::new("/sys/fs/cgroup/cpu").join(path.trim_start_matches('/')))
    })
}

#[test]
fn cpus_limit_sets_a_quota_and_throttles() {
    for_each_identity("cpus_limit_sets_a_quota_and_throttles", |env| {
        let probe = env.run(&["run", "--cpus", "0.5", "--", "true"]);
        if probe.code == Some(125) {
            // No cgroup for this identity: refused, with the reason and fix.
            probe
                .stderr_has("refusing to run")
                .stderr_has("cpus limit")
                .stderr_has("--allow-degraded");
            return;
        }
        probe.code(0).stderr_has("cpus=0.5");
        if !std::path::Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists() {
            return skip(
                "cpus_limit_sets_a_quota_and_throttles",
                "no cgroup v1 cpu hierarchy to inspect from the host",
            );
        }
        // Burn CPU for a while, then wait: meanwhile read the sandbox's cgroup
        // from the host.
        let arg = format!("20.{}", unique("").replace('-', ""));
        let script =
            format!("i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo burned; sleep {arg}");
        let mut child = env
            .command(&["run", "-q", "--cpus", "0.5", "--", "sh", "-c", &script])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn corral");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).expect("read");
        assert_eq!(line, "burned\n");
        // `sleep` starts just after the line is printed.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let pid = loop {
            if let Some(pid) = host_pids_with_argv(&["sleep", &arg]).first() {
                break *pid;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the sandboxed sleep never appeared on the host"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let dir = cpu_cgroup_of(pid).expect("the sandbox has a cpu cgroup");
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(f).display()))
        };
        let quota: i64 = read("cpu.cfs_quota_us").trim().parse().expect("quota");
        let period: i64 = read("cpu.cfs_period_us").trim().parse().expect("period");
        assert_eq!(
            quota * 2,
            period,
            "quota {quota} / period {period} is not 0.5 CPU"
        );
        let throttled: u64 = read("cpu.stat")
            .lines()
            .find_map(|l| l.strip_prefix("nr_throttled "))
            .and_then(|n| n.trim().parse().ok())
            .expect("nr_throttled");
        assert!(
            throttled > 0,
            "the busy loop was never throttled: {}",
            read("cpu.stat")
        );
        kill_leftovers(&["sleep", &arg]);
        let _ = child.wait();
    });
}
