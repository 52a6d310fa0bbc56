//! The engine: responses from the policy, raising once, enabling and
//! disabling, the user's rules.

mod common;
use common::*;
use corral_detect::{Engine, Response, Severity};
use serde_json::json;

#[test]
fn responses_follow_id_then_family_then_severity() {
    let toml = r#"
        [detect.response]
        high = "deny"
        low = "alert"
        [detect.detectors."miner.argv"]
        response = "freeze"
        [detect.detectors."miner.*"]
        response = "log"
        [detect.detectors.escape]
        severity = "critical"
        [detect.detectors."escape.bpf"]
        severity = "low"
    "#;
    let mut run = Run::with(toml);
    run.exec(0, 1, 0, &["/tmp/xmrig"]);
    run.exec(1, 2, 0, &["./x", "--donate-level=1"]);
    run.denied(2, 3, "ptrace", &[0; 6]);
    run.denied(3, 3, "bpf", &[0; 6]);
    run.write(4, 3, "create", "/home/me/.bashrc");
    // Per id.
    assert_eq!(run.get("miner.argv").response, Response::Freeze);
    // Per family ("miner.*" is "miner").
    assert_eq!(run.get("miner.exec").response, Response::Log);
    assert_eq!(run.get("miner.exec").severity, Severity::Critical);
    // Severity overridden by the family, then the response of that severity.
    let ptrace = run.get("escape.ptrace");
    assert_eq!(
        (ptrace.severity, ptrace.response),
        (Severity::Critical, Response::Kill)
    );
    // The most specific severity wins.
    let bpf = run.get("escape.bpf");
    assert_eq!(
        (bpf.severity, bpf.response),
        (Severity::Low, Response::Alert)
    );
    // Per severity, from [detect.response].
    assert_eq!(run.get("persist.shell-rc").response, Response::Deny);
}

#[test]
fn the_default_responses() {
    let mut run = Run::new();
    run.exec(0, 1, 0, &["/tmp/xmrig"]); // critical
    run.denied(1, 1, "ptrace", &[0; 6]); // high
    run.sock(2, "sock.connect", 1, "inet", "198.51.100.1:4444"); // medium
    run.sock(3, "sock.listen", 1, "inet", "0.0.0.0:80"); // low
    let responses: Vec<(Severity, Response)> =
        run.found.iter().map(|f| (f.severity, f.response)).collect();
    assert_eq!(
        responses,
        [
            (Severity::Critical, Response::Kill),
            (Severity::High, Response::Alert),
            (Severity::Medium, Response::Alert),
            (Severity::Low, Response::Log),
        ]
    );
}

#[test]
fn disabled_detectors_and_families_raise_nothing() {
    let toml = r#"
        [detect.detectors.miner]
        enabled = false
        [detect.detectors."miner.exec"]
        enabled = true
        [detect.detectors."escape.ptrace"]
        enabled = false
    "#;
    let mut run = Run::with(toml);
    run.exec(0, 1, 0, &["/tmp/xmrig", "--donate-level=1"]);
    run.dns(1, 1, "pool.supportxmr.com");
    run.denied(2, 1, "ptrace", &[0; 6]);
    run.denied(3, 1, "bpf", &[0; 6]);
    assert_eq!(run.ids(), ["miner.exec", "escape.bpf"]);
    // A whole family off: its detectors do not even run.
    let mut off = Run::with("[detect.detectors.\"persist.*\"]\nenabled = false\n");
    off.write(0, 1, "create", "/etc/cron.d/x");
    off.exec(1, 1, 0, &["crontab", "-e"]);
    assert!(off.found.is_empty(), "{:?}", off.found);
}

#[test]
fn detection_off_raises_nothing_at_all() {
    let mut run = Run::with("[detect]\nenabled = false\n");
    run.exec(0, 1, 0, &["/tmp/xmrig", "-o", "stratum+tcp://x:3333"]);
    run.net(1, 1, "x", 3333, "deny", "stratum");
    run.write(2, 1, "unlink", TRAIL);
    for s in 1..=10 {
        run.sample(s * 1000, 1, "xmrig", 100.0, 1);
    }
    assert!(run.found.is_empty(), "{:?}", run.found);
    assert!(run.engine.findings().is_empty());
}

#[test]
fn each_id_and_subject_is_raised_once_and_findings_keep_order() {
    let mut run = Run::new();
    for at in 0..10 {
        run.dns(at, 1, "pool.supportxmr.com");
        run.write(at, 1, "create", "/home/me/.bashrc");
    }
    run.write(20, 1, "create", "/home/me/.zshrc");
    assert_eq!(
        run.ids(),
        ["miner.pool", "persist.shell-rc", "persist.shell-rc"]
    );
    let kept: Vec<&str> = run
        .engine
        .findings()
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(kept, run.ids());
    assert_eq!(run.engine.findings(), run.found.as_slice());
}

#[test]
fn an_id_raises_at_most_its_cap() {
    let mut run = Run::new();
    for i in 0..200 {
        run.write(i, 1, "create", &format!("/etc/x{i}"));
    }
    assert_eq!(run.found.len(), corral_detect::detectors::MAX_PER_ID);
    // Other ids are not held back.
    assert_eq!(
        run.write(300, 1, "create", "/etc/passwd"),
        ["persist.account"]
    );
}

#[test]
fn user_rules_match_execs_writes_and_connections() {
    let toml = r#"
        [detect.detectors."custom.team"]
        response = "freeze"
        [[detect.rules]]
        id = "custom.no-rm-rf"
        severity = "high"
        explanation = "wipes the disk"
        technique = "T1485"
        exec = ["rm -rf /*"]
        response = "kill"
        [[detect.rules]]
        id = "custom.team.srv"
        severity = "medium"
        write = ["/srv/**", "*.pem"]
        [[detect.rules]]
        id = "custom.paste"
        severity = "low"
        connect = ["*.pastebin.com:443", "10.0.0.0/8"]
    "#;
    let mut run = Run::with(toml);
    assert_eq!(
        run.exec(0, 5, 1, &["/bin/rm", "-rf", "/home"]),
        ["custom.no-rm-rf"]
    );
    let f = run.get("custom.no-rm-rf");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::High, Response::Kill, "T1485")
    );
    assert!(
        f.explanation
            .contains("`/bin/rm -rf /home`, matching `rm -rf /*`"),
        "{}",
        f.explanation
    );
    assert!(
        f.explanation
            .ends_with("(rule custom.no-rm-rf): wipes the disk"),
        "{}",
        f.explanation
    );
    assert_eq!(
        run.write(1, 5, "create", "/srv/www/index.html"),
        ["custom.team.srv"]
    );
    assert_eq!(
        run.write(2, 5, "create", "/home/me/proj/key.pem"),
        ["custom.team.srv"]
    );
    // The family's response applies to its rules.
    assert_eq!(run.get("custom.team.srv").response, Response::Freeze);
    assert_eq!(run.get("custom.team.srv").technique, "");
    assert_eq!(
        run.net(3, 5, "x.pastebin.com", 443, "allow", "tls"),
        ["custom.paste"]
    );
    assert_eq!(
        run.sock(4, "sock.connect", 5, "inet", "10.1.2.3:5432"),
        ["custom.paste"]
    );
    assert_eq!(run.get("custom.paste").response, Response::Log);
    // Near misses.
    assert!(run.exec(5, 6, 1, &["rm", "-rf", "./build"]).is_empty());
    assert!(run.write(6, 6, "create", "/srvx/a").is_empty());
    assert!(run
        .write(7, 6, "create", "/home/me/proj/key.pem.txt")
        .is_empty());
    assert!(run
        .net(8, 6, "x.pastebin.com", 80, "allow", "http")
        .is_empty());
    assert!(run
        .net(9, 6, "pastebin.com", 443, "allow", "tls")
        .is_empty());
    assert!(run
        .sock(10, "sock.connect", 6, "inet", "11.1.2.3:5432")
        .is_empty());
    assert!(run.sock(11, "sock.connect", 6, "unix", "/run/x").is_empty());
}

#[test]
fn a_detectors_key_beats_the_rules_own_response() {
    let toml = r#"
        [detect.detectors."custom.x"]
        response = "alert"
        [[detect.rules]]
        id = "custom.x"
        severity = "low"
        exec = ["*danger*"]
        response = "kill"
    "#;
    let mut run = Run::with(toml);
    run.exec(0, 5, 1, &["./danger"]);
    assert_eq!(run.get("custom.x").response, Response::Alert);
}

#[test]
fn unknown_and_corrals_own_kinds_are_ignored() {
    let mut run = Run::new();
    for kind in [
        "run.start",
        "run.exit",
        "verdict",
        "audit.dropped",
        "finding",
        "what.ever",
    ] {
        assert!(run
            .ev(
                0,
                kind,
                json!({ "pid": 1, "path": "/etc/passwd", "host": "pool.supportxmr.com" })
            )
            .is_empty());
    }
    // Events missing fields or with odd types do no harm.
    run.ev(1, "proc.exec", json!({}));
    run.ev(2, "file.write", json!({ "pid": "x", "path": 3 }));
    run.ev(3, "resource.sample", json!({ "top": "none" }));
    run.ev(
        4,
        "resource.sample",
        json!({ "top": [1, { "pid": -1 }, { "pid": 5, "cpu_percent": "x" }] }),
    );
    run.ev(5, "net.connect", json!({ "port": 70000, "bytes_up": -1 }));
    run.ev(
        6,
        "sock.connect",
        json!({ "family": "inet", "addr": "not an address" }),
    );
    run.ev(7, "dns.query", json!({ "host": "" }));
    run.ev(8, "sys.denied", json!({ "syscall": null }));
    run.ev(9, "resource.limit", json!({ "limit": "disk" }));
    assert!(run.found.is_empty(), "{:?}", run.found);
}

#[test]
fn resource_limits() {
    let mut run = Run::new();
    assert_eq!(
        run.ev(
            0,
            "resource.limit",
            json!({ "limit": "memory", "detail": "oom kill of pid 7" })
        ),
        ["resource.memory"]
    );
    assert_eq!(
        run.ev(1, "resource.limit", json!({ "limit": "pids" })),
        ["resource.pids"]
    );
    assert!(
        run.ev(2, "resource.limit", json!({ "limit": "pids" }))
            .is_empty(),
        "once"
    );
    let f = run.get("resource.memory");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::Medium, Response::Alert, "T1499")
    );
    assert!(f.explanation.contains("oom kill of pid 7"));
    // At the CPU limit for the whole cpu_limit_seconds.
    let mut cpu = Run::with("[detect.thresholds]\ncpu_limit_seconds = \"5s\"\n");
    let sample = |run: &mut Run, at: u64, pct: f64| {
        run.ev(at, "resource.sample", json!({ "interval_ms": 1000, "cpu_percent": pct, "cpu_limit_percent": 100.0, "top": [] }))
    };
    for s in 1..=4 {
        sample(&mut cpu, s * 1000, 99.0);
    }
    sample(&mut cpu, 5000, 50.0);
    for s in 6..=9 {
        sample(&mut cpu, s * 1000, 99.0);
    }
    assert!(cpu.found.is_empty(), "{:?}", cpu.found);
    assert_eq!(sample(&mut cpu, 10_000, 97.0), ["resource.cpu"]);
}

#[test]
fn the_engine_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<Engine>();
}
