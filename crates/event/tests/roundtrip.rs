//! Every kind, written the way its producer writes it today (the
//! producer's `json!` shape, then the writer's line layout), reads as its
//! typed variant and serialises back to the same text.

mod common;

use common::{monitor, no_nulls, write_line};
use corral_event::{Event, Line};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The proxy's `NetEvent` as the cli's `netreport::AuditSink::record` made
/// it into details by hand (now `NetEvent::to_event`): serialised, `ts`
/// renamed `started`, `kind` removed.
fn net_event(mut ev: Value) -> Value {
    let map = ev.as_object_mut().expect("object");
    let ts = map.remove("ts").expect("ts");
    map.insert("started".into(), ts);
    map.remove("kind");
    ev
}

/// A kind, its details as the producer builds them, the writer's trailer.
type Sample = (&'static str, Value, Vec<(&'static str, Value)>);

/// (kind, line text) for every kind, several shapes for some.
fn samples() -> Vec<(&'static str, String)> {
    let mut out: Vec<Sample> = Vec::new();
    let mut add = |kind, details| out.push((kind, details, Vec::new()));

    // trail::Trail::start, with run.rs's start details and init_pid.
    let mut start = json!({
        "command": ["sh", "-c", "echo hi > x; ls"],
        "cwd": "/home/u/ws",
        "workspace": "/home/u/ws",
        "writable": ["/home/u/ws", "/tmp", "/run", "/var/tmp"],
        "profile": "offline",
        "header": "corral: sandbox: namespaces user,mnt,pid,net,ipc,uts,cgroup | landlock v7 | seccomp 65 rules | limits pids=4096 nofile=65536 | net none",
        "network": false,
        "monitor": true,
    });
    start["init_pid"] = json!(4242);
    add("run.start", start);

    // trail::monitor_sink (now corral_sandbox::seccomp::events)
    let path = "/usr/bin/ls";
    add(
        "proc.exec",
        monitor(
            json!({ "path": path, "argv": ["ls", "-l"], "dirfd": null, "cwd": "/home/u/ws",
                    "ppid": 4243, "stdio": ["pipe", "pipe", "tty"] }),
            4244,
            true,
        ),
    );
    add(
        "proc.exec",
        monitor(
            json!({ "path": "/usr/local/bin/ls", "argv": ["ls"], "dirfd": null, "found": false }),
            4244,
            true,
        ),
    );
    add(
        "proc.exec",
        monitor(
            json!({ "path": "", "argv": ["x"], "dirfd": 3, "cwd": null,
                    "ppid": null, "stdio": ["socket", "socket", "closed"] }),
            4245,
            false,
        ),
    );
    add("proc.exit", monitor(json!({ "code": 0 }), 4244, true));
    add("proc.exit", monitor(json!({ "code": -1 }), 4244, false));
    add(
        "sock.connect",
        monitor(
            json!({ "fd": 3, "family": "inet", "addr": "192.0.2.1:80" }),
            4246,
            true,
        ),
    );
    add(
        "sock.connect",
        monitor(
            json!({ "fd": 4, "family": "unix", "addr": null }),
            4246,
            true,
        ),
    );
    add(
        "sock.bind",
        monitor(
            json!({ "fd": 3, "family": "inet6", "addr": "[::1]:8080" }),
            4246,
            true,
        ),
    );
    add(
        "sock.sendto",
        monitor(
            json!({ "fd": 5, "family": "inet", "addr": "127.0.0.1:9", "bytes": 1 }),
            4246,
            true,
        ),
    );
    add(
        "sock.listen",
        monitor(
            json!({ "fd": 3, "backlog": 128, "addr": Some("127.0.0.1:41235") }),
            4246,
            true,
        ),
    );
    add(
        "sock.listen",
        monitor(
            json!({ "fd": 3, "backlog": 1, "addr": None::<String> }),
            4246,
            true,
        ),
    );
    add(
        "sock.socket",
        monitor(json!({ "family": "vsock", "type": 1 & 0xf }), 4246, true),
    );
    add(
        "sock.socket",
        monitor(json!({ "family": "family 45", "type": 2 }), 4246, true),
    );
    add(
        "file.write",
        monitor(
            json!({ "op": "open", "syscall": "openat", "path": "/home/u/ws/x", "to": null,
                    "flags": ["O_WRONLY", "O_CREAT", "O_TRUNC"], "writable": true }),
            4247,
            true,
        ),
    );
    add(
        "file.write",
        monitor(
            json!({ "op": "rename", "syscall": "renameat2", "path": "/home/u/ws/x",
                    "to": "/etc/passwd", "flags": null, "writable": false }),
            4247,
            true,
        ),
    );
    add(
        "file.write",
        monitor(
            json!({ "op": "unlink", "syscall": "unlinkat", "path": null, "to": null,
                    "flags": null, "writable": false }),
            4247,
            false,
        ),
    );
    add(
        "sys.denied",
        monitor(
            json!({ "syscall": "ptrace", "reason": "tracing other processes is refused",
                    "args": [16u64, 1, 0, 0, 0, u64::MAX], "errno": "EPERM" }),
            4248,
            true,
        ),
    );

    // netreport::AuditSink::record, of corral_proxy::event::NetEvent (now
    // NetEvent::to_event).
    add(
        "net.connect",
        net_event(json!({
            "ts": "2026-12-04T19:04:34.619353667Z", "kind": "net.connect", "via": "http-connect",
            "pid": 1362, "host": "pypi.org", "port": 443,
            "addrs": ["151.101.0.223", "2a04:4e42::223"], "upstream": "151.101.0.223:443",
            "decision": "allow", "rule": "pypi.org", "protocol": "tls", "detail": "pypi.org",
            "severity": "info", "bytes_up": 517, "bytes_down": 5120,
            "duration_ms": 0.5931649999999999,
        })),
    );
    add(
        "net.connect",
        net_event(json!({
            "ts": "2026-12-04T19:04:34.627428954Z", "kind": "net.connect", "via": "socks5",
            "host": "pool.example", "port": 3333, "decision": "deny",
            "reason": "mining protocol", "protocol": "stratum", "detail": "mining.subscribe",
            "severity": "critical", "bytes_up": 0, "bytes_down": 0, "duration_ms": 1.0,
        })),
    );
    add(
        "dns.query",
        net_event(json!({
            "ts": "2026-12-04T19:04:34.612171272Z", "kind": "dns.query", "via": "dns-udp",
            "pid": 1360, "host": "pypi.org", "port": 0, "qtype": "AAAA",
            "addrs": ["2a04:4e42::223"], "decision": "allow", "rule": "pypi.org",
            "severity": "info", "bytes_up": 0, "bytes_down": 0, "duration_ms": 0.018781,
        })),
    );
    add(
        "dns.query",
        net_event(json!({
            "ts": "2026-12-04T19:04:34.612171272Z", "kind": "dns.query", "via": "dns-tcp",
            "host": "x.evil.example", "port": 0, "qtype": "TXT", "decision": "deny",
            "reason": "no rule allows this name", "severity": "warning", "bytes_up": 0,
            "bytes_down": 0, "duration_ms": 0.008255,
        })),
    );

    // trail::Sampler (now corral_sandbox::sample::resource_sample)
    let round = |v: f64| (v * 10.0).round() / 10.0;
    let top = vec![
        json!({ "pid": 1406, "comm": "python3", "cpu_percent": round(19.96), "cpu_ms": 20,
                "rss_kib": 11104, "threads": 1, "io_kib": Some(1105u64) }),
        json!({ "pid": 1351, "comm": "sh", "cpu_percent": round(0.0), "cpu_ms": 0,
                "rss_kib": 1760, "threads": 1, "io_kib": None::<u64> }),
    ];
    add(
        "resource.sample",
        no_nulls(json!({
            "interval_ms": 100, "processes": 2, "threads": 2, "cpu_percent": round(20.0),
            "rss_kib": 12864, "cpu_budget_percent": 200.0,
            "cpu_limit_percent": (false.then_some(200.0)), "top": top,
        })),
    );
    add(
        "resource.sample",
        no_nulls(json!({
            "interval_ms": 1001, "processes": 0, "threads": 0, "cpu_percent": 0.0,
            "rss_kib": 0, "cpu_budget_percent": 50.0,
            "cpu_limit_percent": (true.then_some(50.0)), "top": [],
        })),
    );

    // runtime: a parked session's claim, a further command
    add("run.claim", json!({ "parked_ms": 12.5 }));
    add(
        "exec.start",
        json!({ "exec": 1u64, "argv": ["sh", "-c", "true"], "cwd": "/ws",
            "exec_labels": { "step": "3" } }),
    );
    add(
        "exec.exit",
        json!({ "exec": 1u64, "ending": "exited 0", "exit_code": 0, "duration_ms": 2.5,
            "stdout_bytes": 4u64, "stderr_bytes": 0u64, "findings": ["persist.git-hook"] }),
    );

    // cmd/run.rs
    add(
        "run.error",
        json!({ "message": "cannot clone: Operation not permitted" }),
    );
    add(
        "resource.limit",
        json!({ "limit": "timeout", "detail": format!("ran past its {}s timeout", 3) }),
    );
    add(
        "resource.limit",
        json!({ "limit": "memory", "oom_kills": 1u64,
                "detail": "the kernel killed 1 process(es) at the memory limit" }),
    );
    add(
        "resource.limit",
        json!({ "limit": "pids", "refused_forks": 12u64,
                "detail": "12 fork(s) refused at the process limit" }),
    );
    add(
        "fs.protected",
        json!({ "path": "/home/u/ws/.git/hooks/pre-commit", "change": "created" }),
    );
    add(
        "fs.protected",
        json!({ "path": "/home/u/.bashrc",
                "change": "was a symbolic link to /a and now points to /b" }),
    );
    let mut end = json!({ "exit_code": 0, "ending": "exited 0", "wall_ms": 12.345678 });
    add("run.exit", end.clone());
    end["ending"] = "stopped by corral for escape.unshare".into();
    add("run.exit", end);
    add("run.exit", json!({ "exit_code": 125 }));

    // watch.rs: a corral_detect::Finding, serialised.
    add(
        "finding",
        json!({
            "id": "persist.git-hook", "severity": "high", "technique": "T1546",
            "explanation": "pid 1351 wrote `/w/.git/hooks/pre-commit`, a git hook",
            "response": "alert", "pid": 1351,
            "evidence": [{ "kind": "file.write", "at_ms": 332, "pid": 1351,
                           "summary": "open /w/.git/hooks/pre-commit" }],
        }),
    );
    add(
        "finding",
        json!({
            "id": "resource.timeout", "severity": "medium", "technique": "T1499",
            "explanation": "the sandbox hit its timeout limit", "response": "log",
            "evidence": [{ "kind": "resource.limit", "at_ms": 3001, "summary": "timeout" }],
        }),
    );
    add(
        "response.kill",
        json!({ "finding": "miner.cpu", "response": "kill", "frozen": false,
                "latency_ms": (0.000_123_4_f64 * 1e6).round() / 1e3 }),
    );
    add(
        "response.snapshot",
        json!({ "finding": "escape.unshare", "processes": [
            json!({ "pid": 2053, "ppid": Some(2052), "argv": ["unshare", "-U", "true"],
                    "exe": Some("/usr/bin/unshare"), "cwd": Some("/w"),
                    "fds": ["/dev/null", "pipe:[1234]", "socket:[99]"] }),
            json!({ "pid": 2054, "ppid": None::<u32>, "argv": Vec::<String>::new(),
                    "exe": None::<String>, "cwd": None::<String>, "fds": Vec::<String>::new() }),
        ]}),
    );

    // The writer's own.
    out.push(("audit.dropped", json!({}), vec![("count", json!(17u64))]));
    let verdict = |v: Value, outcome: &str| {
        let mut v = no_nulls(v);
        v["outcome"] = outcome.into();
        v
    };
    out.push((
        "verdict",
        verdict(
            json!({
                "killed": true, "denied": 3u64, "findings": ["escape.unshare"],
                "severity": "high", "ended_by": "escape.unshare", "response_ms": 0.123,
                "layers": "namespaces user,mnt,pid,net,ipc,uts,cgroup | net none",
                "exit_code": 123,
            }),
            "killed",
        ),
        vec![("events", json!(9u64)), ("dropped", json!(0u64))],
    ));
    out.push((
        "verdict",
        verdict(
            json!({
                "killed": false, "denied": 0u64, "findings": Vec::<String>::new(),
                "severity": null, "ended_by": null, "response_ms": null,
                "layers": "namespaces user | net none", "exit_code": 0,
            }),
            "clean",
        ),
        vec![("events", json!(5u64)), ("dropped", json!(2u64))],
    ));

    out.into_iter()
        .enumerate()
        .map(|(seq, (kind, details, trailer))| {
            (kind, write_line(seq as u64, kind, details, &trailer))
        })
        .collect()
}

#[test]
fn every_kind_has_a_sample() {
    let sampled: BTreeSet<&str> = samples().iter().map(|(k, _)| *k).collect();
    let kinds: BTreeSet<&str> = Event::KINDS.iter().copied().collect();
    assert_eq!(sampled, kinds);
}

#[test]
fn samples_read_typed_and_write_back_the_same_text() {
    for (kind, text) in samples() {
        let line = Line::parse(&text).unwrap_or_else(|e| panic!("{kind}: {e}: {text}"));
        assert!(!line.event.is_unknown(), "{kind} read as unknown: {text}");
        assert_eq!(line.event.kind(), kind);
        assert_eq!(line.to_json(), text, "{kind}");
        assert_eq!(serde_json::to_string(&line).expect("json"), text);

        // What the writer is given: the details without the envelope.
        let value: Value = serde_json::from_str(&text).expect("json");
        let event = Event::from_line(&value);
        assert_eq!(event, line.event);
        let (k, details) = event.to_details();
        assert_eq!(k, kind);
        assert!(!details.contains_key("kind"));
        let mut expected = value.as_object().expect("object").clone();
        for key in ["v", "ts", "run", "seq", "kind", "labels", "prev"] {
            expected.remove(key);
        }
        assert_eq!(details, expected, "{kind}");
        assert_eq!(Event::from_details(kind, &details), event);
        assert_eq!(event.clone().into_details(), (kind.to_owned(), details));

        // The event alone serialises as its details with `kind` first, and
        // reads back through serde too.
        let alone = serde_json::to_string(&event).expect("json");
        assert!(
            alone.starts_with(&format!("{{\"kind\":\"{kind}\"")),
            "{alone}"
        );
        let back: Event = serde_json::from_str(&alone).expect("event");
        assert_eq!(back, event);
        let line_back: Line = serde_json::from_str(&text).expect("line");
        assert_eq!(line_back, line);
    }
}
