//! Writing a trail and reading it back: format, chain, drops, concurrency.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

use common::{config, details, finished_trail, labels, raw_lines, TempDir, RUN};
use corral_audit::{read, verify, AuditError, Problem, Writer, WriterConfig, SCHEMA_VERSION};
use serde_json::json;
use sha2::{Digest, Sha256};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn round_trip_keeps_order_seq_labels_and_chain_on_every_line() {
    let dir = TempDir::new("roundtrip");
    let path = dir.path().join("runs/a.jsonl");
    let w = Writer::create(config(&path)).expect("create");
    let h = w.handle();
    let before = SystemTime::now();
    h.record("run.start", details(json!({"command": ["sh"]})));
    let after = SystemTime::now();
    for i in 0..5 {
        h.record("tick", details(json!({"i": i, "kind": "mine", "prev": 1})));
    }
    let summary = w
        .finish(details(json!({"outcome": "exit 0", "events": "mine"})))
        .expect("finish");
    assert_eq!(summary.lines, 7);
    assert_eq!(summary.dropped, 0);
    assert_eq!(summary.path, path);

    let lines = raw_lines(&path);
    assert_eq!(lines.len(), 7);
    let labels_json = serde_json::to_string(&labels()).expect("labels");
    let mut prev = sha256_hex(format!("corral-audit-v1:{RUN}").as_bytes());
    for (seq, line) in lines.iter().enumerate() {
        // The fixed keys first, in order; `prev` last.
        let head = format!("{{\"v\":{SCHEMA_VERSION},\"ts\":\"");
        assert!(line.starts_with(&head), "{line}");
        let rest = &line[head.len()..];
        let (ts, rest) = rest.split_at(30);
        assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "ts {ts}");
        let kind = if seq == 0 {
            "run.start"
        } else if seq == 6 {
            "verdict"
        } else {
            "tick"
        };
        let fixed = format!(
            "\",\"run\":\"{RUN}\",\"seq\":{seq},\"kind\":\"{kind}\",\"labels\":{labels_json}"
        );
        assert!(rest.starts_with(&fixed), "line {seq}: {rest}");
        assert!(line.ends_with(&format!(",\"prev\":\"{prev}\"}}")), "{line}");
        prev = sha256_hex(line.as_bytes());
    }
    assert_eq!(summary.last_hash, prev);

    let values = read(&path).expect("read");
    assert_eq!(values.len(), 7);
    // The event's time is when it was recorded.
    let ts = humantime::parse_rfc3339(values[0]["ts"].as_str().expect("ts")).expect("rfc3339");
    assert!(before <= ts && ts <= after);
    // Reserved detail keys are renamed, never lost.
    assert_eq!(values[3]["i"], json!(2));
    assert_eq!(values[3]["kind"], json!("tick"));
    assert_eq!(values[3]["kind_"], json!("mine"));
    assert_eq!(values[3]["prev_"], json!(1));
    let verdict = &values[6];
    assert_eq!(verdict["kind"], json!("verdict"));
    assert_eq!(verdict["outcome"], json!("exit 0"));
    assert_eq!(verdict["events"], json!(6));
    assert_eq!(verdict["events_"], json!("mine"));
    assert_eq!(verdict["dropped"], json!(0));

    let v = verify(&path).expect("verify");
    assert_eq!(v.problem, None, "{v:?}");
    assert_eq!(v.run.as_deref(), Some(RUN));
    assert_eq!(v.lines, 7);
    assert_eq!(v.last_hash.as_deref(), Some(summary.last_hash.as_str()));
    assert_eq!(v.verdict.as_ref(), Some(verdict));
}

#[test]
fn create_refuses_to_overwrite_and_bad_run_ids() {
    let dir = TempDir::new("overwrite");
    let path = dir.path().join("a.jsonl");
    finished_trail(&path, 2);
    let before = std::fs::read(&path).expect("read");
    match Writer::create(config(&path)) {
        Err(AuditError::AlreadyExists { path: p }) => assert_eq!(p, path),
        Err(e) => panic!("expected AlreadyExists, got {e}"),
        Ok(_) => panic!("create overwrote {}", path.display()),
    }
    assert_eq!(std::fs::read(&path).expect("read"), before);

    let bad = WriterConfig::new(dir.path().join("b.jsonl"), "../../etc/x");
    assert!(matches!(
        Writer::create(bad),
        Err(AuditError::InvalidRunId { .. })
    ));
    assert!(!dir.path().join("b.jsonl").exists());
}

#[test]
fn file_is_0600_and_new_parent_dirs_0700() {
    let dir = TempDir::new("mode");
    let path = dir.path().join("state/runs/a.jsonl");
    finished_trail(&path, 1);
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("state/runs")), 0o700);
    assert_eq!(mode(&dir.path().join("state")), 0o700);
}

#[test]
fn dropped_writer_leaves_an_intact_trail_without_verdict() {
    let dir = TempDir::new("noverdict");
    let path = dir.path().join("a.jsonl");
    let w = Writer::create(config(&path)).expect("create");
    let h = w.handle();
    for i in 0..100 {
        h.record("tick", details(json!({ "i": i })));
    }
    drop(w);
    let v = verify(&path).expect("verify");
    assert_eq!(v.problem, Some(Problem::NoVerdict));
    assert_eq!(v.lines, 100);
    assert_eq!(v.verdict, None);
    // The writer is gone: what is recorded now is counted, not written.
    h.record("late", details(json!({})));
    assert!(!h.try_record("late", details(json!({}))));
    assert_eq!(h.dropped(), 2);
    assert_eq!(raw_lines(&path).len(), 100);
}

#[test]
fn try_record_on_a_full_queue_drops_and_the_trail_says_so() {
    let dir = TempDir::new("drops");
    let path = dir.path().join("a.jsonl");
    let w = Writer::create(WriterConfig {
        queue: 1,
        ..config(&path)
    })
    .expect("create");
    let h = w.handle();
    // Which events are lost depends on scheduling; a queue of one fills
    // almost at once, so keep going until some are.
    let mut failed = Vec::new();
    let mut i = 0u64;
    while (failed.len() < 100 || i < 1000) && i < 50_000_000 {
        if !h.try_record("tick", details(json!({ "i": i }))) {
            failed.push(i);
        }
        i += 1;
    }
    assert!(
        !failed.is_empty(),
        "no drops in {i} try_record calls on a queue of 1"
    );
    h.record("last", details(json!({ "i": i })));
    let summary = w.finish(details(json!({}))).expect("finish");
    assert_eq!(summary.dropped, failed.len() as u64);
    assert_eq!(h.dropped(), failed.len() as u64);

    let v = verify(&path).expect("verify");
    assert_eq!(v.problem, None, "{v:?}");
    let lines = read(&path).expect("read");
    let verdict = lines.last().expect("verdict");
    assert_eq!(verdict["dropped"], json!(failed.len()));
    assert_eq!(verdict["events"], json!(lines.len() - 1));
    // Each drop is reported before the next event this thread recorded.
    let mut reported = 0u64;
    let mut written = 0u64;
    for line in &lines {
        match line["kind"].as_str() {
            Some("audit.dropped") => {
                let count = line["count"].as_u64().expect("count");
                assert!(count > 0);
                reported += count;
            }
            Some("tick" | "last") => {
                let i = line["i"].as_u64().expect("i");
                let dropped_before = failed.iter().filter(|&&f| f < i).count() as u64;
                assert!(
                    reported >= dropped_before,
                    "event {i}: {dropped_before} drops before it, {reported} reported"
                );
                written += 1;
            }
            _ => {}
        }
    }
    assert_eq!(reported, failed.len() as u64);
    assert_eq!(written + failed.len() as u64, i + 1);
}

#[test]
fn concurrent_recorders_keep_seq_consecutive_and_each_thread_in_order() {
    let dir = TempDir::new("concurrent");
    let path = dir.path().join("a.jsonl");
    let w = Writer::create(WriterConfig {
        queue: 64,
        ..config(&path)
    })
    .expect("create");
    const THREADS: u64 = 8;
    const EACH: u64 = 2000;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let h = w.handle();
            s.spawn(move || {
                for i in 0..EACH {
                    h.record("tick", details(json!({"t": t, "i": i})));
                }
            });
        }
    });
    let summary = w.finish(details(json!({}))).expect("finish");
    assert_eq!(summary.lines, THREADS * EACH + 1);
    assert_eq!(summary.dropped, 0);
    let v = verify(&path).expect("verify");
    assert_eq!(v.problem, None, "{v:?}");
    let mut next = vec![0u64; THREADS as usize];
    for (seq, line) in read(&path).expect("read").iter().enumerate() {
        assert_eq!(line["seq"], json!(seq));
        if line["kind"] == json!("tick") {
            let t = line["t"].as_u64().expect("t") as usize;
            assert_eq!(line["i"], json!(next[t]), "thread {t} out of order");
            next[t] += 1;
        }
    }
    assert_eq!(next, vec![EACH; THREADS as usize]);
}

#[test]
fn many_events_through_the_default_queue() {
    // Not a benchmark (see examples/throughput.rs): a volume check, untimed.
    let dir = TempDir::new("volume");
    let path = dir.path().join("a.jsonl");
    let w = Writer::create(config(&path)).expect("create");
    let h = w.handle();
    const N: u64 = 100_000;
    for i in 0..N {
        h.record(
            "net.connect",
            details(json!({"host": "pypi.org", "port": 443, "decision": "allow", "i": i})),
        );
    }
    let summary = w.finish(details(json!({}))).expect("finish");
    assert_eq!(summary.lines, N + 1);
    let v = verify(&path).expect("verify");
    assert_eq!(v.problem, None);
    assert_eq!(v.lines, N + 1);
    assert_eq!(v.last_hash, Some(summary.last_hash));
}

#[test]
fn details_that_are_not_plain_survive_intact() {
    let dir = TempDir::new("details");
    let path = dir.path().join("a.jsonl");
    let w = Writer::create(config(&path)).expect("create");
    let odd = json!({
        "unicode": "h\u{e9}llo \u{1f600} \u{2028}",
        "control": "a\u{0}b\r\n\t",
        "nested": {"a": [1, 2.5, null, true], "labels": "not reserved when nested"},
        "big": u64::MAX,
        "neg": -1,
    });
    w.handle().record("odd", details(odd.clone()));
    w.finish(details(json!({}))).expect("finish");
    assert_eq!(verify(&path).expect("verify").problem, None);
    let lines = read(&path).expect("read");
    for (k, v) in details(odd) {
        assert_eq!(lines[0][&k], v, "{k}");
    }
    assert_eq!(raw_lines(&path).len(), 2, "one event is one line");
}

#[test]
fn handle_is_send_sync_and_cheap_to_clone() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<corral_audit::Handle>();
}

#[test]
fn a_held_trail_is_created_at_its_begin_with_the_labels_given_then() {
    let dir = TempDir::new("held");
    let path = dir.path().join("h.jsonl");
    let w = Writer::create(WriterConfig {
        held: true,
        ..WriterConfig::new(&path, RUN)
    })
    .expect("create");
    let h = w.handle();
    h.record("run.start", details(json!({"command": []})));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!path.exists(), "a held trail was created before its begin");
    h.begin(labels()).expect("begin");
    assert!(matches!(h.begin(labels()), Err(AuditError::NotHeld { .. })));
    h.record("run.claim", details(json!({"parked_ms": 1.5})));
    let summary = w.finish(details(json!({}))).expect("finish");
    assert_eq!(summary.lines, 3);
    assert_eq!(summary.labels, labels());
    let lines = read(&path).expect("read");
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["kind"].as_str()).collect();
    assert_eq!(kinds, ["run.start", "run.claim", "verdict"]);
    for line in &lines {
        assert_eq!(line["labels"]["episode"], "17", "{line}");
    }
    assert_eq!(verify(&path).expect("verify").problem, None);
}

#[test]
fn a_held_trail_dropped_before_its_begin_leaves_no_file() {
    let dir = TempDir::new("held-drop");
    let path = dir.path().join("h.jsonl");
    let w = Writer::create(WriterConfig {
        held: true,
        ..WriterConfig::new(&path, RUN)
    })
    .expect("create");
    w.handle().record("run.start", details(json!({})));
    drop(w);
    assert!(!path.exists(), "a held trail that never began left a file");
    // Finished while held: written with the configured labels.
    let w = Writer::create(WriterConfig {
        held: true,
        ..config(&path)
    })
    .expect("create");
    w.handle().record("run.start", details(json!({})));
    let summary = w.finish(details(json!({}))).expect("finish");
    assert_eq!((summary.lines, summary.labels), (2, labels()));
}
