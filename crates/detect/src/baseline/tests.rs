use super::*;
use serde_json::json;
use std::time::Duration;

fn ev(kind: &str, details: serde_json::Value) -> OwnedEvent {
    OwnedEvent {
        at: Duration::from_millis(1500),
        event: crate::test_support::event(kind, &details),
    }
}

fn start(ws: &str) -> OwnedEvent {
    ev("run.start", json!({ "command": ["sh"], "cwd": ws }))
}

fn exec(path: &str, cwd: &str) -> OwnedEvent {
    ev(
        "proc.exec",
        json!({ "pid": 42, "path": path, "argv": [path, "-x"], "cwd": cwd }),
    )
}

fn write(path: &str) -> OwnedEvent {
    ev(
        "file.write",
        json!({ "pid": 43, "op": "create", "path": path, "writable": true }),
    )
}

fn sample(cpu: f64, rss: u64, processes: u64) -> OwnedEvent {
    ev(
        "resource.sample",
        json!({ "cpu_percent": cpu, "rss_kib": rss, "processes": processes, "threads": processes,
                "top": [{ "pid": 7, "comm": "a", "cpu_percent": 1.0, "rss_kib": 10 },
                        { "pid": 8, "comm": "b", "cpu_percent": cpu, "rss_kib": rss }] }),
    )
}

fn connect(host: &str, port: u16, decision: &str) -> OwnedEvent {
    ev(
        "net.connect",
        json!({ "pid": 44, "host": host, "port": port, "decision": decision, "protocol": "tls" }),
    )
}

fn sock(addr: &str) -> OwnedEvent {
    ev(
        "sock.connect",
        json!({ "pid": 45, "fd": 3, "family": "inet", "addr": addr }),
    )
}

/// Two runs of a build in two checkouts.
fn learnt() -> Baseline {
    let a = vec![
        start("/home/a/proj"),
        exec("/usr/bin/sh", "/home/a/proj"),
        exec("./build.sh", "/home/a/proj"),
        ev(
            "proc.exec",
            json!({ "path": "/usr/local/bin/cargo", "found": false, "cwd": "/" }),
        ),
        exec(
            "/home/a/proj/target/debug/build/foo-1a2b3c4d5e6f7a8b/build-script-build",
            "/home/a/proj",
        ),
        write("/home/a/proj/target/debug/build/foo-1a2b3c/out/x.o"),
        write("/home/a/proj/Cargo.lock"),
        write("/tmp/tmp.AbC123xyz/cc1.s"),
        ev(
            "file.write",
            json!({ "op": "open", "path": "/etc/passwd", "writable": false }),
        ),
        connect("Index.Crates.IO", 443, "allow"),
        connect("evil.test", 443, "deny"),
        sock("127.0.0.1:3128"),
        sock("127.0.0.1:41234"),
        sample(80.0, 100_000, 3),
        sample(120.0, 50_000, 5),
    ];
    let b = vec![
        start("/srv/ci/checkout"),
        exec("/usr/bin/sh", "/srv/ci/checkout"),
        write("/root/.cache/pip/http/a/b/c"),
        ev(
            "file.write",
            json!({ "op": "rename", "path": "/srv/ci/checkout/out.tmp",
                    "to": "/srv/ci/checkout/dist/out", "writable": true }),
        ),
        sample(90.0, 200_000, 4),
    ];
    Baseline::learn(&[a, b])
}

fn ctx(ws: &str) -> Context {
    Context {
        workspace: Some(ws.into()),
        audit_paths: Vec::new(),
        cpu_budget_percent: 400.0,
    }
}

fn check(b: &Baseline, ws: &str, e: &OwnedEvent) -> Vec<Finding> {
    b.check(&ctx(ws), e.at, &e.event)
}

#[test]
fn generated_components_become_stars() {
    for (given, want) in [
        ("foo-1a2b3c4d5e6f7a8b", "foo-*"),
        ("foo-1a2b3c", "foo-*"),
        ("tmp.AbC123xyz", "tmp.*"),
        ("12345", "*"),
        ("python3.11", "python3.11"),
        ("sha256sum", "sha256sum"),
        ("x86_64-linux-gnu", "x86_64-linux-gnu"),
        ("deadbeef", "deadbeef"),
        ("build-script-build", "build-script-build"),
        ("libfoo-0123abcd.rlib", "libfoo-*.rlib"),
    ] {
        assert_eq!(generalise(given), want, "{given}");
    }
}

#[test]
fn write_locations_are_generalised() {
    let ws = Some("/w/p");
    for (path, want) in [
        (
            "/w/p/target/debug/build/foo-1a2b3c/out/x.o",
            "$WORKSPACE/target/**",
        ),
        ("/w/p/Cargo.lock", "$WORKSPACE/Cargo.lock"),
        ("/w/p/./src/../src/main.rs", "$WORKSPACE/src/**"),
        ("/w/p", "$WORKSPACE"),
        ("/w/pp/x", "/w/pp/x"),
        ("/tmp/x/y/z", "/tmp/**"),
        ("/tmp", "/tmp/**"),
        ("/dev/shm/sem.1", "/dev/shm/**"),
        ("/root/.cache/pip/http/a/b", "/root/.cache/pip/**"),
        ("/home/u/.bash_history", "/home/u/.bash_history"),
        ("/proc/12345/attr/exec", "/proc/*/attr/**"),
        ("rel/x", "rel/x"),
    ] {
        assert_eq!(write_location(path, ws), want, "{path}");
    }
    assert_eq!(write_location("/w/p/a", None), "/w/p/a");
    assert_eq!(write_location("/w/p/a/b", None), "/w/p/a/**");
    assert_eq!(write_location("/w/p/a/b/c/d", None), "/w/p/a/**");
}

#[test]
fn patterns_match_as_documented() {
    assert!(path_matches("$WORKSPACE/target/**", "$WORKSPACE/target"));
    assert!(path_matches(
        "$WORKSPACE/target/**",
        "$WORKSPACE/target/a/b.o"
    ));
    assert!(!path_matches("$WORKSPACE/target/**", "$WORKSPACE/src/a"));
    assert!(path_matches("/a/*/c", "/a/b/c"));
    assert!(!path_matches("/a/*/c", "/a/b/x/c"));
    assert!(path_matches("/a/foo-*/c", "/a/foo-123/c"));
    assert!(wild("*.crates.io:443", "index.crates.io:443"));
    assert!(!wild("*.crates.io:443", "index.crates.io:80"));
    assert!(wild("[::1]:*", "[::1]:8080"));
    assert!(wild("a*b*c", "aXXbYYc"));
    assert!(!wild("a*b*c", "aXXbYY"));
    assert!(covers("$WORKSPACE/bin/x", "/any/where/bin/x", true));
    assert!(!covers("$WORKSPACE/bin/x", "/any/where/bin/x", false));
    assert_eq!(normalize("/a/./b/../c//d/"), "/a/c/d");
    assert_eq!(normalize("/../a"), "/a");
    assert_eq!(normalize("../a/./b"), "../a/b");
}

#[test]
fn learning_records_execs_endpoints_writes_and_the_envelope() {
    let b = learnt();
    assert_eq!(b.runs(), 2);
    let execs: Vec<&str> = b.execs().collect();
    assert_eq!(
        execs,
        [
            "$WORKSPACE/build.sh",
            "$WORKSPACE/target/debug/build/foo-*/build-script-build",
            "/usr/bin/sh",
        ]
    );
    let endpoints: Vec<&str> = b.endpoints().collect();
    assert_eq!(
        endpoints,
        ["127.0.0.1:*", "127.0.0.1:3128", "index.crates.io:443"],
        "denied connections are not learnt; ephemeral loopback ports are `*`"
    );
    let writes: Vec<&str> = b.writes().collect();
    assert_eq!(
        writes,
        [
            "$WORKSPACE/Cargo.lock",
            "$WORKSPACE/dist/**",
            "$WORKSPACE/out.tmp",
            "$WORKSPACE/target/**",
            "/root/.cache/pip/**",
            "/tmp/**",
        ]
    );
    assert_eq!(
        b.envelope,
        Envelope {
            cpu_percent: Some(120.0),
            rss_kib: Some(200_000),
            processes: Some(5),
        }
    );
    assert_eq!(Baseline::learn(&[]), Baseline::default());
}

#[test]
fn the_file_round_trips_and_reads_as_documented() {
    let b = learnt();
    let text = b.to_toml();
    assert!(text.starts_with("# corral baseline"), "{text}");
    assert!(text.contains("version = 1\nruns = 2\n"), "{text}");
    assert!(text.contains("    \"/usr/bin/sh\",\n"), "{text}");
    assert!(text.contains("cpu_percent = 120.0\n"), "{text}");
    assert_eq!(Baseline::from_toml_str(&text).unwrap(), b, "{text}");
    let empty = Baseline::default();
    assert_eq!(Baseline::from_toml_str(&empty.to_toml()).unwrap(), empty);
    // The module doc's example, hand-written.
    let hand = r#"
        version = 1   # the format
        runs = 3
        [exec]
        paths = [
            "/usr/bin/cargo",
            '$WORKSPACE/target/debug/build/*/build-script-build',   # literal string
        ]
        [connect]
        endpoints = ["index.crates.io:443", "127.0.0.1:3128", "[::1]:*", "odd\u0041:1"]
        [write]
        paths = ["$WORKSPACE/Cargo.lock", "$WORKSPACE/target/**", "/tmp/**",]
        [envelope]
        cpu_percent = 390
        rss_kib = 1_843_200
    "#;
    let b = Baseline::from_toml_str(hand).unwrap();
    assert_eq!(b.runs(), 3);
    assert!(b.endpoints().any(|e| e == "oddA:1"));
    assert_eq!(b.envelope.cpu_percent, Some(390.0));
    assert_eq!(b.envelope.rss_kib, Some(1_843_200));
    assert_eq!(b.envelope.processes, None);
    assert!(b.knows_exec("build-script-build"));
}

#[test]
fn bad_files_are_refused_with_the_line_the_key_and_what_to_do() {
    let err = |text: &str| Baseline::from_toml_str(text).unwrap_err();
    let e = err("runs = 1\n");
    assert!(e.contains("`version`: missing; add `version = 1`"), "{e}");
    let e = err("version = 2\n");
    assert!(e.contains("line 1: `version`: version 2"), "{e}");
    assert!(e.contains("corral learn"), "{e}");
    let e = err("version = 1\n[exec]\npath = []\n");
    assert!(e.contains("line 3: `exec.path`: unknown key"), "{e}");
    assert!(e.contains("`paths`"), "{e}");
    let e = err("version = 1\n[connect]\nendpoints = [\n  \"ok:1\",\n  \"pypi.org\",\n]\n");
    assert!(e.contains("line 3: `connect.endpoints`: item 2"), "{e}");
    assert!(e.contains("is not HOST:PORT"), "{e}");
    let e = err("version = 1\n[write]\npaths = [\"relative/x\"]\n");
    assert!(
        e.contains("`write.paths`: item 1: \"relative/x\" is not an absolute"),
        "{e}"
    );
    let e = err("version = 1\n[envelope]\ncpu_percent = \"lots\"\n");
    assert!(
        e.contains("line 3: `envelope.cpu_percent`: expected a number"),
        "{e}"
    );
    let e = err("version = 1\n[exec]\npaths = [\"/a\"\n");
    assert!(e.contains("expected `,` or `]`"), "{e}");
    let e = err("version = 1\nversion = 1\n");
    assert!(e.contains("line 2: `version` is set twice"), "{e}");
    let e = err("version = 1\n[write]\n[write]\n");
    assert!(e.contains("line 3: table [write] appears twice"), "{e}");
    let e = err("version = 1 x\n");
    assert!(e.contains("line 1: unexpected 'x'"), "{e}");
    let e = err("version = true\n");
    assert!(e.contains("line 1: expected a value"), "{e}");
    let e = err("version = 1\n[exec]\npaths = [\"a\\q\"]\n");
    assert!(e.contains("line 3: invalid escape \\q"), "{e}");
    let e = err("version = 1\n[exec]\npaths = [\"open\n");
    assert!(e.contains("unterminated string"), "{e}");
    let missing = Path::new("/nonexistent/corral-baseline.toml");
    let e = Baseline::load(missing).unwrap_err().to_string();
    assert!(
        e.starts_with("/nonexistent/corral-baseline.toml: cannot read the baseline"),
        "{e}"
    );
}

#[test]
fn a_run_like_the_baseline_raises_nothing() {
    let b = learnt();
    // Another checkout: the workspace-relative patterns apply there.
    let ws = "/other/clone";
    for e in [
        exec("/usr/bin/sh", ws),
        exec("build.sh", ws),
        exec(
            "/other/clone/target/debug/build/foo-99aa88bb77cc66dd/build-script-build",
            ws,
        ),
        write("/other/clone/target/release/y.o"),
        write("/other/clone/Cargo.lock"),
        write("/tmp/anything/at/all"),
        write("/root/.cache/pip/other"),
        connect("index.crates.io", 443, "allow"),
        connect("unknown.test", 443, "deny"),
        ev(
            "file.write",
            json!({ "op": "open", "path": "/etc/shadow", "writable": false }),
        ),
        sock("127.0.0.1:3128"),
        sock("127.0.0.1:50000"),
        ev(
            "sock.connect",
            json!({ "family": "unix", "addr": "/run/x.sock" }),
        ),
        ev(
            "proc.exec",
            json!({ "path": "/usr/local/bin/sh", "found": false }),
        ),
        sample(170.0, 300_000, 9),
        ev("run.exit", json!({ "exit_code": 0 })),
    ] {
        let found = check(&b, ws, &e);
        assert!(found.is_empty(), "{e:?}: {found:?}");
    }
}

#[test]
fn new_executables_endpoints_and_writes_are_findings_with_their_subject() {
    let b = learnt();
    let ws = "/other/clone";
    let f = check(&b, ws, &exec("/tmp/xmrig", ws));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].id, "baseline.exec");
    assert_eq!(f[0].severity, Severity::Medium);
    assert_eq!(f[0].response, Response::Log);
    assert_eq!(f[0].pid, Some(42));
    assert_eq!(f[0].evidence[0].summary, "/tmp/xmrig");
    assert_eq!(f[0].evidence[0].at_ms, 1500);
    assert!(f[0].explanation.contains("ran /tmp/xmrig"), "{f:?}");
    assert!(f[0].explanation.contains("2 baseline run(s)"), "{f:?}");
    assert!(f[0].explanation.contains("argv: /tmp/xmrig -x"), "{f:?}");
    // In the workspace: named relative to it, generated parts as `*`.
    let f = check(&b, ws, &exec("target/debug/deps/app-0123abcd4567ef89", ws));
    assert_eq!(
        f[0].evidence[0].summary,
        "$WORKSPACE/target/debug/deps/app-*"
    );
    // A learnt workspace path does not match outside the workspace.
    let f = check(&b, ws, &exec("/elsewhere/build.sh", "/"));
    assert_eq!(f.len(), 1, "{f:?}");

    let f = check(&b, ws, &connect("paste.example", 443, "allow"));
    assert_eq!(f[0].id, "baseline.connect");
    assert_eq!(f[0].evidence[0].summary, "paste.example:443");
    assert!(f[0].explanation.contains("through the proxy"), "{f:?}");
    let f = check(&b, ws, &sock("203.0.113.9:4444"));
    assert_eq!(f[0].evidence[0].summary, "203.0.113.9:4444");
    assert!(f[0].explanation.contains("directly"), "{f:?}");
    let f = check(&b, ws, &sock("[::1]:40000"));
    assert_eq!(f[0].evidence[0].summary, "[::1]:*");

    let f = check(&b, ws, &write("/other/clone/.git/hooks-new/x"));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].id, "baseline.write");
    assert_eq!(f[0].evidence[0].summary, "$WORKSPACE/.git/**");
    assert!(
        f[0].explanation
            .contains("wrote (create) $WORKSPACE/.git/hooks-new/x"),
        "{f:?}"
    );
    // A rename: each new place once.
    let rename = ev(
        "file.write",
        json!({ "op": "rename", "path": "/home/u/.bashrc", "to": "/home/u/.bashrc.bak" }),
    );
    let f = check(&b, ws, &rename);
    let subjects: Vec<&str> = f.iter().map(|f| f.evidence[0].summary.as_str()).collect();
    assert_eq!(subjects, ["/home/u/.bashrc", "/home/u/.bashrc.bak"]);
    // Control characters never reach the one-line text.
    let f = check(&b, ws, &write("/etc/evil\nline"));
    assert_eq!(
        f[0].explanation,
        "wrote (create) /etc/evil\\nline, where none of the 2 baseline run(s) wrote"
    );
    assert!(!f[0].evidence[0].summary.contains('\n'), "{f:?}");
}

#[test]
fn the_envelope_has_a_margin() {
    let b = learnt();
    // Peaks: cpu 120 (limit max(180, 170) = 180), rss 200000 KiB
    // (limit max(300000, 265536) = 300000).
    assert!(check(&b, "/w", &sample(180.0, 300_000, 1)).is_empty());
    let f = check(&b, "/w", &sample(181.0, 300_001, 1));
    let ids: Vec<&str> = f.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["baseline.cpu", "baseline.memory"]);
    assert_eq!(f[0].technique, "T1496");
    assert_eq!(f[0].pid, Some(8), "the busiest process");
    assert_eq!(f[0].evidence[0].summary, "cpu_percent > 180");
    assert_eq!(f[1].evidence[0].summary, "rss_kib > 300000");
    assert!(f[0].explanation.contains("181% CPU"), "{f:?}");
    // Tiny peaks: the floor, not the factor.
    let tiny = Baseline::learn(&[vec![sample(2.0, 1000, 1)]]);
    assert!(check(&tiny, "/w", &sample(52.0, 66_536, 1)).is_empty());
    assert_eq!(check(&tiny, "/w", &sample(53.0, 66_537, 1)).len(), 2);
    // No samples learnt: no envelope to leave.
    let none = Baseline::learn(&[vec![exec("/bin/true", "/")]]);
    assert!(check(&none, "/w", &sample(900.0, 9_000_000, 1)).is_empty());
}

#[test]
fn knows_exec_takes_paths_and_comms() {
    let b = learnt();
    assert!(b.knows_exec("/usr/bin/sh"));
    assert!(b.knows_exec("/usr/bin/../bin/sh"));
    assert!(b.knows_exec("sh"));
    assert!(b.knows_exec("build.sh"));
    assert!(
        b.knows_exec("/any/checkout/build.sh"),
        "workspace paths float"
    );
    assert!(b.knows_exec("build-script-build"));
    assert!(b.knows_exec("build-script-bu"), "a comm is cut at 15 bytes");
    assert!(!b.knows_exec("build-scr"));
    assert!(!b.knows_exec("xmrig"));
    assert!(!b.knows_exec("/tmp/sh"));
    assert!(
        !b.knows_exec("cargo"),
        "a failed PATH attempt is not learnt"
    );
}

#[test]
fn without_a_workspace_workspace_patterns_float() {
    let b = learnt();
    let none = Context::default();
    let e = exec("/some/dir/build.sh", "/");
    assert!(b.check(&none, e.at, &e.event).is_empty());
    let e = write("/some/dir/target/x/y");
    assert!(b.check(&none, e.at, &e.event).is_empty());
}

#[test]
fn types_nested_tables_and_odd_characters_are_handled() {
    let err = |text: &str| Baseline::from_toml_str(text).unwrap_err();
    let e = err("version = 1\n[exec]\npaths = [\"/a\", 2]\n");
    assert!(
        e.contains("line 3: `exec.paths`: item 2: expected a string"),
        "{e}"
    );
    let e = err("version = 1\nruns = -1\n");
    assert!(e.contains("line 2: `runs`: expected a whole number"), "{e}");
    let e = err("version = 1\n[envelope]\nrss_kib = 1.5\n");
    assert!(
        e.contains("line 3: `envelope.rss_kib`: expected a whole number"),
        "{e}"
    );
    let e = err("version = 1\n[exec.more]\npaths = []\n");
    assert!(e.contains("line 2: expected a value"), "{e}");
    let e = err("version = 1\n[other]\nx = 1\n");
    assert!(e.contains("`other`: unknown key"), "{e}");
    // Strings with quotes, backslashes and control characters round-trip.
    let mut b = Baseline::from_toml_str("version = 1\n").unwrap();
    b.execs.insert("/a \"b\"\\c\u{7}".to_owned());
    assert_eq!(Baseline::from_toml_str(&b.to_toml()).unwrap(), b);
    // Only `*` is special in a baseline's patterns.
    assert!(path_matches("/a/[x]?", "/a/[x]?"));
    assert!(!path_matches("/a/[x]?", "/a/x1"));
    assert!(path_matches("/a/b**c", "/a/bXc"));
    assert!(!path_matches("/a/b**c", "/a/b/c"));
    assert!(wild("h\\st:*", "h\\st:1"));
}
