//! `miner.*`.

mod common;
use common::*;
use corral_detect::{Response, Severity};
use serde_json::json;

#[test]
fn stratum_on_the_wire_is_critical_and_killed() {
    let mut run = Run::new();
    run.ev(
        10,
        "net.connect",
        json!({ "pid": 7, "host": "203.0.113.9", "port": 443, "decision": "deny",
                "protocol": "stratum", "detail": "mining.subscribe" }),
    );
    let f = run.get("miner.stratum");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.response, Response::Kill);
    assert_eq!(f.technique, "T1496");
    assert_eq!(f.pid, Some(7));
    assert!(
        f.explanation.contains("203.0.113.9:443"),
        "{}",
        f.explanation
    );
    assert!(
        f.explanation.contains("mining.subscribe"),
        "{}",
        f.explanation
    );
    assert_eq!(f.evidence.len(), 1);
    assert_eq!(f.evidence[0].kind, "net.connect");
    assert_eq!(f.evidence[0].at_ms, 10);
}

#[test]
fn git_through_the_proxy_is_not_mining() {
    let mut run = Run::new();
    run.exec(
        0,
        10,
        1,
        &["/usr/bin/git", "clone", "https://github.com/a/b"],
    );
    run.exec(
        5,
        11,
        10,
        &[
            "/usr/lib/git-core/git-remote-https",
            "origin",
            "https://github.com/a/b",
        ],
    );
    run.dns(6, 11, "github.com");
    run.net(10, 11, "github.com", 443, "allow", "tls");
    run.net(20, 11, "objects.githubusercontent.com", 443, "allow", "tls");
    assert!(run.found.is_empty(), "{:?}", run.found);
}

#[test]
fn miner_programs_and_command_lines() {
    let mut run = Run::new();
    assert_eq!(
        run.exec(0, 20, 1, &["/tmp/xmrig", "--config", "c.json"]),
        ["miner.exec"]
    );
    assert_eq!(
        run.exec(
            1,
            21,
            1,
            &["./svc", "-o", "stratum+tcp://203.0.113.9:3333", "-u", "w"]
        ),
        ["miner.argv"]
    );
    assert_eq!(
        run.exec(2, 22, 1, &["./k", "--donate-level=1"]),
        ["miner.argv"]
    );
    assert_eq!(
        run.exec(3, 23, 1, &["./k", "-a", "rx/0", "-t", "4"]),
        ["miner.argv"]
    );
    let f = run.get("miner.argv");
    assert!(
        f.explanation.contains("stratum+tcp://203.0.113.9:3333"),
        "{}",
        f.explanation
    );
    assert_eq!(f.response, Response::Kill);
    // Near misses: the same flags with everyday values.
    let mut quiet = Run::new();
    quiet.exec(0, 30, 1, &["gcc", "-o", "out", "main.c"]);
    quiet.exec(1, 31, 1, &["git", "commit", "-a", "-m", "mining data"]);
    quiet.exec(2, 32, 1, &["ls", "-a"]);
    quiet.exec(3, 33, 1, &["python3", "mine_logs.py", "--coin", "flip"]);
    quiet.exec(4, 34, 1, &["/usr/bin/rig", "-o", "pool.example.com:8080"]);
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn pool_names_in_dns_and_connections() {
    let mut run = Run::new();
    assert_eq!(run.dns(0, 5, "pool.supportxmr.com"), ["miner.pool"]);
    assert_eq!(
        run.dns(1, 5, "pool.supportxmr.com."),
        Vec::<String>::new(),
        "once per name"
    );
    assert_eq!(
        run.net(2, 5, "gulf.moneroocean.stream", 10128, "deny", "other"),
        ["miner.pool"]
    );
    // A generic pool-like name counts only on a Stratum port.
    assert_eq!(
        run.net(3, 5, "pool.example.com", 3333, "deny", "other"),
        ["miner.pool"]
    );
    assert_eq!(run.get("miner.pool").severity, Severity::Critical);
    let mut quiet = Run::new();
    for name in [
        "registry.npmjs.org",
        "pypi.org",
        "0.pool.ntp.org",
        "xmr.example.org",
    ] {
        quiet.dns(0, 5, name);
    }
    quiet.net(1, 5, "pool.ntp.org", 123, "deny", "other");
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn a_stratum_port_alone_is_only_medium_and_never_on_loopback() {
    let mut run = Run::new();
    assert_eq!(
        run.net(0, 5, "api.example.com", 4444, "deny", "other"),
        ["miner.port"]
    );
    let f = run.get("miner.port");
    assert_eq!(
        (f.severity, f.response),
        (Severity::Medium, Response::Alert)
    );
    assert_eq!(
        run.sock(1, "sock.connect", 5, "inet", "198.51.100.7:3333"),
        ["miner.port"]
    );
    // A dev server on loopback uses these ports too.
    let mut quiet = Run::new();
    quiet.sock(0, "sock.connect", 5, "inet", "127.0.0.1:3333");
    quiet.sock(1, "sock.connect", 5, "inet6", "[::1]:5555");
    quiet.net(2, 5, "localhost", 4444, "allow", "http");
    quiet.net(3, 5, "example.com", 8888, "deny", "http");
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

/// `secs` samples, one a second, of one process.
fn hold(run: &mut Run, pid: u32, comm: &str, cpu: f64, threads: u64, secs: u64) -> Vec<String> {
    (1..=secs)
        .flat_map(|s| run.sample(s * 1000, pid, comm, cpu, threads))
        .collect()
}

#[test]
fn a_process_holding_the_cpu_without_progress_is_mining() {
    let mut run = Run::new();
    run.exec(0, 42, 1, &["/tmp/.x/kworkerd"]);
    let ids = hold(&mut run, 42, "kworkerd", 99.5, 1, 10);
    assert_eq!(ids, ["miner.cpu"], "raised once, at 3s");
    let f = run.get("miner.cpu");
    assert_eq!(f.evidence.len(), 2);
    assert_eq!(f.evidence[0].at_ms, 1000);
    assert_eq!(f.evidence[1].at_ms, 3000);
    assert_eq!(f.pid, Some(42));
    assert!(f.explanation.contains("kworkerd"), "{}", f.explanation);
    assert_eq!(f.response, Response::Kill);
}

#[test]
fn the_possible_share_is_capped_by_threads_and_budget() {
    // 8 threads in a sandbox limited to one core: 100% is all it can get.
    let mut run = Run::new();
    run.ev(
        1000,
        "resource.sample",
        json!({ "interval_ms": 2000, "cpu_limit_percent": 100.0,
                "top": [{ "pid": 9, "comm": "svc", "cpu_percent": 97.0, "threads": 8 }] }),
    );
    run.ev(
        3000,
        "resource.sample",
        json!({ "interval_ms": 2000, "cpu_limit_percent": 100.0,
                "top": [{ "pid": 9, "comm": "svc", "cpu_percent": 97.0, "threads": 8 }] }),
    );
    assert_eq!(run.ids(), ["miner.cpu"]);
    // The same with the budget the sampler writes (`cpus = 1.5`).
    let mut budget = Run::new();
    for s in 1..=3u64 {
        budget.ev(
            s * 1000,
            "resource.sample",
            json!({ "interval_ms": 1000, "cpu_budget_percent": 150.0,
                    "top": [{ "pid": 9, "comm": "svc", "cpu_percent": 140.0, "threads": 4 }] }),
        );
    }
    assert_eq!(budget.ids(), ["miner.cpu"]);
    // A many-threaded runtime with one busy thread is not holding its share.
    let mut quiet = Run::new();
    hold(&mut quiet, 10, "svc", 100.0, 11, 10);
    // Nor is a process that drops below the threshold every other second.
    for s in 1..=10 {
        quiet.sample(
            s * 1000,
            11,
            "svc2",
            if s % 2 == 0 { 99.0 } else { 40.0 },
            1,
        );
    }
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn a_compiler_holding_the_cpu_for_30s_is_not_mining() {
    let mut run = Run::new();
    run.exec(
        0,
        50,
        1,
        &["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "-quiet", "big.c"],
    );
    assert!(hold(&mut run, 50, "cc1", 100.0, 1, 30).is_empty());
    for comm in ["rustc", "python3.12", "node", "clang-17", "java"] {
        assert!(hold(&mut run, 51, comm, 100.0, 1, 10).is_empty(), "{comm}");
    }
    assert!(run.found.is_empty(), "{:?}", run.found);
}

#[test]
fn progress_spares_a_busy_process() {
    let mut run = Run::new();
    // Writes files as it goes.
    for s in 1..=10 {
        run.write(
            s * 1000 - 500,
            60,
            "create",
            &format!("/home/me/proj/out/{s}.png"),
        );
        run.sample(s * 1000, 60, "render", 100.0, 1);
    }
    // Disk I/O grows (a sampled io_kib).
    for s in 1..=10u64 {
        run.ev(
            s * 1000,
            "resource.sample",
            json!({ "interval_ms": 1000,
                    "top": [{ "pid": 61, "comm": "crunch", "cpu_percent": 100.0, "threads": 1,
                              "io_kib": s * 4096 }] }),
        );
    }
    assert!(run.found.is_empty(), "{:?}", run.found);
    // Flat io_kib is no progress.
    for s in 1..=4u64 {
        run.ev(
            s * 1000,
            "resource.sample",
            json!({ "interval_ms": 1000,
                    "top": [{ "pid": 62, "comm": "crunch", "cpu_percent": 100.0, "threads": 1,
                              "io_kib": 4096 + s }] }),
        );
    }
    assert_eq!(run.ids(), ["miner.cpu"]);
}

#[test]
fn what_the_run_built_may_hold_the_cpu() {
    let mut run = Run::new();
    // The linker writes the binary, then it runs (a benchmark).
    run.exec(0, 70, 1, &["/usr/bin/ld", "-o", "app", "main.o"]);
    run.write(10, 70, "create", "/tmp/build/app");
    run.exec(100, 71, 1, &["/tmp/build/app", "--bench"]);
    assert!(hold(&mut run, 71, "app", 100.0, 1, 10).is_empty());
    // A test binary cargo built in an earlier run, in the workspace's target/.
    run.exec(
        200,
        72,
        1,
        &["/home/me/proj/target/debug/deps/corral_x-0123456789abcdef"],
    );
    assert!(hold(&mut run, 72, "corral_x-012345", 100.0, 1, 10).is_empty());
    assert!(run.found.is_empty(), "{:?}", run.found);
    // Downloaded by curl, then run: that is mining (and a written exec).
    run.exec(
        300,
        73,
        1,
        &["curl", "-o", "/tmp/k", "https://example.com/k"],
    );
    run.write(310, 73, "create", "/tmp/k");
    run.exec(400, 74, 1, &["/tmp/k"]);
    assert_eq!(run.ids(), ["evasion.written-exec"]);
    hold(&mut run, 74, "k", 100.0, 1, 5);
    assert_eq!(run.ids(), ["evasion.written-exec", "miner.cpu"]);
}

#[test]
fn a_cpu_miner_after_exec_starts_a_new_streak() {
    let mut run = Run::new();
    run.sample(1000, 80, "sh", 100.0, 1);
    run.sample(2000, 80, "sh", 100.0, 1);
    // The pid execs something else: the count starts over.
    run.exec(2500, 80, 1, &["/tmp/m"]);
    run.sample(3000, 80, "m", 100.0, 1);
    run.sample(4000, 80, "m", 100.0, 1);
    assert!(run.found.is_empty(), "{:?}", run.found);
    run.sample(5000, 80, "m", 100.0, 1);
    assert_eq!(run.ids(), ["miner.cpu"]);
}

/// One sample of several processes under a one-core limit.
fn sample_many(run: &mut Run, at_ms: u64, procs: &[(u32, &str, f64, u64)]) -> Vec<String> {
    let top: Vec<serde_json::Value> = procs
        .iter()
        .map(|(pid, comm, cpu, io)| {
            json!({ "pid": pid, "comm": comm, "cpu_percent": cpu, "threads": 1, "io_kib": io })
        })
        .collect();
    run.ev(
        at_ms,
        "resource.sample",
        json!({ "interval_ms": 1000, "cpu_limit_percent": 100.0, "top": top }),
    )
}

#[test]
fn burners_sharing_a_one_core_limit_are_mining_together() {
    // Two workers at half a core each: no single streak sees saturation.
    let mut run = Run::new();
    let ids: Vec<String> = (1..=6)
        .flat_map(|s| {
            sample_many(
                &mut run,
                s * 1000,
                &[(7, "kworkerds", 49.0, 10), (8, "kworkerds", 48.0, 10)],
            )
        })
        .collect();
    assert_eq!(ids, ["miner.cpu"], "raised once for the group");
    let f = run.get("miner.cpu");
    assert!(f.explanation.contains("2 processes"), "{}", f.explanation);
    assert_eq!(f.response, Response::Kill);

    // Workers that read and write as they go (a parallel grep) progress.
    let mut io = Run::new();
    for s in 1..=6u64 {
        sample_many(
            &mut io,
            s * 1000,
            &[(7, "grep", 49.0, s * 4096), (8, "grep", 48.0, s * 4096)],
        );
    }
    // A compiler beside one unknown process is not a group of unknowns.
    for s in 1..=6u64 {
        sample_many(
            &mut io,
            10_000 + s * 1000,
            &[(9, "cc1", 49.0, 10), (10, "helper", 48.0, 10)],
        );
    }
    assert!(io.found.is_empty(), "{:?}", io.found);
}
