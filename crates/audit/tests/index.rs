//! The runs index: append, list, find, and verify a trail against it.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use common::{raw_lines, write_lines, TempDir};
use corral_audit::{verify_against, AuditError, Index, IndexEntry, Problem};

fn entry(run: &str, index: &Index, last_hash: &str) -> IndexEntry {
    IndexEntry {
        run: run.to_owned(),
        path: index.run_path(run),
        started: "2026-11-22T06:40:12.000000000Z".into(),
        ended: "2026-11-22T06:40:13.000000000Z".into(),
        labels: BTreeMap::from([("episode".into(), "17".into())]),
        command: vec!["sh".into(), "-c".into(), "true".into()],
        outcome: "exit 0".into(),
        lines: 10,
        last_hash: last_hash.to_owned(),
    }
}

#[test]
fn append_entries_find() {
    let dir = TempDir::new("index");
    let index = Index::open(dir.path().join("state"));
    assert_eq!(index.entries().expect("entries"), vec![]);
    assert_eq!(index.find("01").expect("find"), None);
    assert_eq!(
        index.run_path("0123456789abcdef"),
        dir.path().join("state/runs/0123456789abcdef.jsonl")
    );

    let a = entry("0123456789abcdef", &index, "aa");
    let b = entry("0123ffffffffffff", &index, "bb");
    let c = entry("9999999999999999", &index, "cc");
    for e in [&a, &b, &c] {
        index.append(e).expect("append");
    }
    let file = dir.path().join("state/index.jsonl");
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(raw_lines(&file).len(), 3);
    assert_eq!(
        index.entries().expect("entries"),
        vec![a.clone(), b.clone(), c.clone()]
    );

    assert_eq!(
        index.find("0123456789abcdef").expect("find"),
        Some(a.clone())
    );
    assert_eq!(index.find("01234").expect("find"), Some(a.clone()));
    assert_eq!(index.find("9").expect("find"), Some(c));
    assert_eq!(index.find("7").expect("find"), None);
    match index.find("0123") {
        Err(AuditError::Ambiguous { prefix, runs }) => {
            assert_eq!(prefix, "0123");
            assert_eq!(runs, vec![a.run.clone(), b.run.clone()]);
        }
        other => panic!("expected Ambiguous, got {other:?}"),
    }

    // A torn last line (a crash while appending) is skipped; a bad middle one is an error.
    let mut text = std::fs::read_to_string(&file).expect("read");
    text.push_str("{\"run\":\"12");
    std::fs::write(&file, &text).expect("write");
    assert_eq!(index.entries().expect("entries").len(), 3);
    std::fs::write(&file, format!("not json\n{text}")).expect("write");
    match index.entries() {
        Err(AuditError::Parse { path, line, .. }) => assert_eq!((path, line), (file, 1)),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn a_trail_verifies_against_its_index_entry() {
    let dir = TempDir::new("index-verify");
    let index = Index::open(dir.path().to_owned());
    let run = corral_audit::new_run_id().expect("run id");
    let path = index.run_path(&run);
    let summary = {
        let cfg = corral_audit::WriterConfig::new(&path, &run);
        let w = corral_audit::Writer::create(cfg).expect("create");
        w.handle()
            .record("run.start", common::details(serde_json::json!({})));
        w.finish(common::details(serde_json::json!({"outcome": "exit 0"})))
            .expect("finish")
    };
    index
        .append(&IndexEntry {
            lines: summary.lines,
            ..entry(&run, &index, &summary.last_hash)
        })
        .expect("append");
    let found = index.find(&run[..6]).expect("find").expect("entry");
    assert_eq!(found.path, path);
    let v = verify_against(&found.path, &found.last_hash).expect("verify");
    assert_eq!((v.problem, v.lines), (None, found.lines));

    let mut lines = raw_lines(&path);
    let last = lines.len() - 1;
    lines[last] = lines[last].replace("exit 0", "exit 1");
    write_lines(&path, &lines);
    let v = verify_against(&found.path, &found.last_hash).expect("verify");
    match v.problem {
        Some(Problem::Broken { line, what }) => {
            assert_eq!(line, 2);
            assert!(
                what.starts_with(
                    "line 2 (the last): its hash does not match the one recorded in the index"
                ),
                "{what}"
            );
        }
        other => panic!("expected Broken, got {other:?}"),
    }
}
