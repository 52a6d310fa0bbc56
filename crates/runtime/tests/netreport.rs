//! The proxy's events on their way out: the `--net-log` file, the trail
//! (through the guard, typed), and the verdict's counts.

mod common;

use common::{scratch, trail_events, verdict};
use corral_event::{Decision, Event, NetSeverity, RunExit, RunStart, Via};
use corral_proxy::event::{NetEvent, NetKind};
use corral_runtime::netreport::{open_log, AuditSink, Reporter};
use corral_runtime::trail::{RunTrail, TrailTarget};
use corral_runtime::Guard;
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn attempt(host: &str, decision: Decision, severity: NetSeverity) -> NetEvent {
    NetEvent {
        ts: "2026-12-04T10:00:00.000000000Z".into(),
        kind: NetKind::Connect,
        via: Via::HttpConnect,
        pid: Some(7),
        host: host.into(),
        port: 443,
        qtype: None,
        addrs: Vec::new(),
        upstream: None,
        decision,
        rule: None,
        reason: (decision == Decision::Deny).then(|| "not in network.allow".into()),
        protocol: None,
        detail: None,
        severity,
        bytes_up: 0,
        bytes_down: 0,
        duration_ms: 1.5,
    }
}

#[test]
fn every_event_reaches_the_log_and_the_trail_with_its_counts() {
    let dir = scratch("netreport");
    let log_path = dir.join("net.jsonl");
    let target = TrailTarget::new(Some(dir.join("trail.jsonl")), "00000000000000cc", &[], &[])
        .expect("target");
    let trail = RunTrail::start(target, RunStart::default()).expect("start");
    let policy = corral_policy::effective(None, &corral_policy::Overrides::default())
        .expect("the default policy");
    let engine =
        corral_detect::Engine::new(&policy.detect, corral_detect::Context::default(), None);
    // No sandbox here: the guard is told it is gone, so no finding acts
    // (and i32::MAX is above any pid_max).
    let guard = Arc::new(
        Guard::new(
            engine,
            "00000000000000cc",
            Default::default(),
            trail.handle(),
            i32::MAX,
            None,
            None,
            true,
        )
        .expect("a guard"),
    );
    guard.sandbox_gone();
    let audit = AuditSink {
        guard: guard.clone(),
        critical: trail.critical_counter(),
        denied: Arc::default(),
    };
    let reporter = Reporter::start(open_log(Some(&log_path)).expect("open the log"), true)
        .expect("start the reporter");
    let sink = reporter.sink(Some(audit.clone()));
    sink(attempt("pypi.test", Decision::Allow, NetSeverity::Info));
    sink(attempt("evil.test", Decision::Deny, NetSeverity::Warning));
    sink(attempt("evil.test", Decision::Deny, NetSeverity::Warning));
    sink(attempt("pool.test", Decision::Deny, NetSeverity::Critical));
    drop(sink);
    reporter.finish();
    assert_eq!(audit.denied.load(Ordering::Relaxed), 3);

    let log = std::fs::read_to_string(&log_path).expect("read the log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 4, "{log}");
    assert_eq!(lines[1]["host"], "evil.test");
    assert_eq!(lines[1]["decision"], "deny");

    guard.finish();
    let done = trail
        .finish(RunExit::default(), verdict(false, None))
        .expect("finish");
    assert_eq!(
        done.verdict.outcome,
        corral_event::Outcome::Flagged,
        "a critical proxy event flags the run"
    );
    let events = trail_events(&done.path);
    let connects: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::NetConnect(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(connects.len(), 4);
    assert_eq!(
        connects[0].started, "2026-12-04T10:00:00.000000000Z",
        "the attempt's start"
    );
    assert!(connects[1].decision == Decision::Deny && connects[1].host == "evil.test");
    let _ = std::fs::remove_dir_all(&dir);
}
