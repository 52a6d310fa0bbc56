//! Changing a trail after the fact: every change is caught, naming the first bad line.

mod common;

use std::path::Path;

use common::{finished_trail, raw_lines, write_lines, TempDir, RUN};
use corral_audit::{verify, verify_against, Problem, Verified};
use sha2::{Digest, Sha256};

/// A finished trail of 10 lines: run.start, 8 ticks, the verdict.
fn trail(dir: &TempDir) -> (std::path::PathBuf, Vec<String>, String) {
    let path = dir.path().join("a.jsonl");
    let summary = finished_trail(&path, 8);
    let lines = raw_lines(&path);
    assert_eq!(lines.len(), 10);
    assert_eq!(verify(&path).expect("verify").problem, None);
    (path, lines, summary.last_hash)
}

/// Replaces `from` by `to` in line `n` (1-based).
fn edit(lines: &mut [String], n: usize, from: &str, to: &str) {
    let line = &mut lines[n - 1];
    assert!(line.contains(from), "line {n} has no {from:?}: {line}");
    *line = line.replacen(from, to, 1);
}

/// The Broken problem `v` must have.
fn broken(v: &Verified) -> (u64, &str) {
    match &v.problem {
        Some(Problem::Broken { line, what }) => (*line, what.as_str()),
        other => panic!("expected a broken chain, got {other:?} in {v:?}"),
    }
}

fn check_broken(path: &Path, line: u64, what: &str) {
    let v = verify(path).expect("verify");
    let (got_line, got_what) = broken(&v);
    assert_eq!(got_line, line, "{got_what}");
    assert_eq!(got_what, what);
    assert_eq!(v.lines, line - 1, "lines intact before the first bad one");
}

#[test]
fn editing_the_first_line_breaks_the_chain_at_the_second() {
    let dir = TempDir::new("edit-first");
    let (path, mut lines, _) = trail(&dir);
    edit(&mut lines, 1, "\"true\"", "\"curl evil\"");
    write_lines(&path, &lines);
    check_broken(
        &path,
        2,
        "line 2: prev does not match the hash of line 1 (edited, deleted or reordered lines)",
    );
}

#[test]
fn editing_a_middle_line_breaks_the_chain_at_the_next() {
    let dir = TempDir::new("edit-middle");
    let (path, mut lines, _) = trail(&dir);
    edit(&mut lines, 6, "\"i\":4", "\"i\":40");
    write_lines(&path, &lines);
    check_broken(
        &path,
        7,
        "line 7: prev does not match the hash of line 6 (edited, deleted or reordered lines)",
    );
}

#[test]
fn editing_a_lines_prev_or_seq_is_caught_on_that_line() {
    let dir = TempDir::new("edit-fixed");
    let (path, lines, _) = trail(&dir);
    let mut edited = lines.clone();
    edit(&mut edited, 1, "\"prev\":\"", "\"prev\":\"0");
    write_lines(&path, &edited);
    check_broken(
        &path,
        1,
        "line 1: prev is not the start of the chain of this run (the line was edited)",
    );
    let mut edited = lines.clone();
    edit(&mut edited, 3, "\"seq\":2,", "\"seq\":7,");
    write_lines(&path, &edited);
    check_broken(
        &path,
        3,
        "line 3: seq 7, expected 2 (lines deleted, inserted or reordered)",
    );
    let mut edited = lines;
    edit(
        &mut edited,
        4,
        &format!("\"run\":\"{RUN}\""),
        "\"run\":\"ffffffffffffffff\"",
    );
    write_lines(&path, &edited);
    check_broken(
        &path,
        4,
        &format!("line 4: run ffffffffffffffff, expected {RUN} (a line from another run)"),
    );
}

#[test]
fn editing_the_last_line_is_caught_against_the_index() {
    let dir = TempDir::new("edit-last");
    let (path, mut lines, last_hash) = trail(&dir);
    assert_eq!(
        verify_against(&path, &last_hash).expect("verify").problem,
        None
    );
    edit(&mut lines, 10, "exit 0", "exit 1");
    write_lines(&path, &lines);
    // The chain alone cannot see it: nothing hashes the last line.
    assert_eq!(verify(&path).expect("verify").problem, None);
    let v = verify_against(&path, &last_hash).expect("verify");
    let (line, what) = broken(&v);
    assert_eq!(line, 10);
    assert_eq!(
        what,
        "line 10 (the last): its hash does not match the one recorded in the index (the line was edited, or the end of the trail replaced)"
    );
}

#[test]
fn deleting_a_line_is_caught_on_its_successor() {
    let dir = TempDir::new("delete");
    let (path, lines, _) = trail(&dir);
    let mut deleted = lines.clone();
    deleted.remove(3);
    write_lines(&path, &deleted);
    check_broken(
        &path,
        4,
        "line 4: seq 4, expected 3 (lines deleted, inserted or reordered)",
    );
    let mut deleted = lines;
    deleted.remove(0);
    write_lines(&path, &deleted);
    check_broken(
        &path,
        1,
        "line 1: seq 1, expected 0 (lines deleted, inserted or reordered)",
    );
}

#[test]
fn reordering_two_lines_is_caught_on_the_first_of_them() {
    let dir = TempDir::new("reorder");
    let (path, mut lines, _) = trail(&dir);
    lines.swap(4, 5);
    write_lines(&path, &lines);
    check_broken(
        &path,
        5,
        "line 5: seq 5, expected 4 (lines deleted, inserted or reordered)",
    );
}

#[test]
fn inserting_a_line_is_caught_where_it_stands() {
    let dir = TempDir::new("insert");
    let (path, lines, _) = trail(&dir);
    // A copy of an earlier line.
    let mut inserted = lines.clone();
    inserted.insert(5, lines[2].clone());
    write_lines(&path, &inserted);
    check_broken(
        &path,
        6,
        "line 6: seq 2, expected 5 (lines deleted, inserted or reordered)",
    );
    // A forged line with the right seq and prev: the line after it gives it away.
    let mut forged = lines.clone();
    let prev = hex(&lines[4]);
    let line = format!(
        "{{\"v\":1,\"ts\":\"2026-11-22T06:40:12.000000000Z\",\"run\":\"{RUN}\",\"seq\":5,\"kind\":\"tick\",\"labels\":{{}},\"prev\":\"{prev}\"}}"
    );
    forged.insert(5, line);
    write_lines(&path, &forged);
    check_broken(&path, 6, "line 6: labels differ from line 1's");
    let labels = serde_json::to_string(&common::labels()).expect("labels");
    forged[5] = forged[5].replace("\"labels\":{}", &format!("\"labels\":{labels}"));
    write_lines(&path, &forged);
    check_broken(
        &path,
        7,
        "line 7: seq 5, expected 6 (lines deleted, inserted or reordered)",
    );
}

#[test]
fn lines_after_the_verdict_are_caught() {
    let dir = TempDir::new("after-verdict");
    let (path, mut lines, _) = trail(&dir);
    let prev = hex(&lines[9]);
    let labels = serde_json::to_string(&common::labels()).expect("labels");
    lines.push(format!(
        "{{\"v\":1,\"ts\":\"2026-11-22T06:40:12.000000000Z\",\"run\":\"{RUN}\",\"seq\":10,\"kind\":\"tick\",\"labels\":{labels},\"prev\":\"{prev}\"}}"
    ));
    write_lines(&path, &lines);
    check_broken(
        &path,
        11,
        "line 11: follows the verdict on line 10 (nothing may follow the verdict)",
    );
    // And a torn fragment after the verdict is not a crash: nothing writes there.
    lines.pop();
    let mut text = lines.join("\n");
    text.push_str("\n{\"v\":1,");
    std::fs::write(&path, text).expect("write");
    check_broken(
        &path,
        11,
        "line 11: follows the verdict on line 10 (nothing may follow the verdict)",
    );
}

#[test]
fn a_rechained_forgery_passes_the_chain_but_not_the_index() {
    // Whoever can rewrite the whole file can recompute every prev: the chain
    // alone cannot tell. The final hash in the index can.
    let dir = TempDir::new("rechain");
    let (path, lines, last_hash) = trail(&dir);
    let mut forged: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    forged.remove(3);
    let mut prev = hex(&format!("corral-audit-v1:{RUN}"));
    let mut out = Vec::new();
    for (seq, mut v) in forged.into_iter().enumerate() {
        v["seq"] = seq.into();
        v["prev"] = prev.clone().into();
        if v["kind"] == "verdict" {
            v["events"] = seq.into();
        }
        let line = serde_json::to_string(&v).expect("json");
        prev = hex(&line);
        out.push(line);
    }
    write_lines(&path, &out);
    assert_eq!(verify(&path).expect("verify").problem, None);
    let v = verify_against(&path, &last_hash).expect("verify");
    assert_eq!(broken(&v).0, 9);
}

#[test]
fn cutting_the_end_at_a_line_boundary_is_no_verdict_and_caught_against_the_index() {
    let dir = TempDir::new("cut");
    let (path, mut lines, last_hash) = trail(&dir);
    lines.truncate(7);
    write_lines(&path, &lines);
    let v = verify(&path).expect("verify");
    assert_eq!(v.problem, Some(Problem::NoVerdict));
    assert_eq!(v.lines, 7);
    let v = verify_against(&path, &last_hash).expect("verify");
    assert_eq!(
        broken(&v),
        (
            7,
            "line 7 (the last): its hash does not match the one recorded in the index, and there is no verdict: the end of the trail was cut off"
        )
    );
    std::fs::write(&path, "").expect("empty");
    let v = verify(&path).expect("verify");
    assert_eq!((v.lines, v.problem), (0, Some(Problem::NoVerdict)));
    let v = verify_against(&path, &last_hash).expect("verify");
    assert_eq!(broken(&v).0, 1);
}

#[test]
fn a_torn_last_line_is_torn_with_every_earlier_line_intact() {
    let dir = TempDir::new("torn");
    let (path, lines, _) = trail(&dir);
    let full = std::fs::read(&path).expect("read");
    let last_len = lines[9].len() + 1;
    for cut in [1, 2, last_len / 2, last_len - 1] {
        std::fs::write(&path, &full[..full.len() - cut]).expect("write");
        let v = verify(&path).expect("verify");
        assert_eq!(v.problem, Some(Problem::Torn { line: 10 }), "cut {cut}");
        assert_eq!(v.lines, 9);
        assert_eq!(v.last_hash, Some(hex(&lines[8])));
        assert_eq!(v.verdict, None);
        assert_eq!(corral_audit::read(&path).expect("read").len(), 9);
    }
    // Unparsable with a newline: torn at the end (a crash on some file
    // systems leaves zeros), broken anywhere else.
    let mut text = lines[..9].join("\n");
    text.push_str("\n\0\0\0\n");
    std::fs::write(&path, &text).expect("write");
    assert_eq!(
        verify(&path).expect("verify").problem,
        Some(Problem::Torn { line: 10 })
    );
    text.push_str(&lines[9]);
    text.push('\n');
    std::fs::write(&path, &text).expect("write");
    let v = verify(&path).expect("verify");
    let (line, what) = broken(&v);
    assert_eq!(line, 10);
    assert!(what.starts_with("line 10: not valid JSON"), "{what}");
    // A torn line after a broken chain: the chain is what is reported.
    let mut text = lines[..9].join("\n").replacen("\"i\":0", "\"i\":9", 1);
    text.push_str("\n{\"v\"");
    std::fs::write(&path, text).expect("write");
    assert_eq!(broken(&verify(&path).expect("verify")).0, 3);
}

#[test]
fn not_our_format_is_broken_on_line_one() {
    let dir = TempDir::new("foreign");
    let path = dir.path().join("x.jsonl");
    for (text, what) in [
        ("[1,2]\n", "line 1: not a JSON object"),
        ("{\"v\":2}\n", "line 1: schema version 2, expected 1"),
        ("{\"a\":1}\n", "line 1: no schema version \"v\""),
        (
            "{\"v\":1,\"run\":\"X\"}\n",
            "line 1: run id \"X\" is not 16 lowercase hex digits",
        ),
    ] {
        std::fs::write(&path, format!("{text}{text}")).expect("write");
        check_broken(&path, 1, what);
    }
    assert!(verify(&dir.path().join("missing.jsonl")).is_err());
}

fn hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
