//! Where a trail may go, and the outcome its verdict gets.

mod common;

use common::{scratch, verdict};
use corral_event::{Event, Outcome, RunExit, RunStart, Severity};
use corral_runtime::trail::{check_outside, RunTrail, TrailTarget};

#[test]
fn an_existing_file_is_never_a_trail() {
    let dir = scratch("trail-exists");
    let path = dir.join("old.jsonl");
    std::fs::write(&path, "x\n").expect("write");
    let err = match TrailTarget::new(Some(path.clone()), "r", &[], &[]) {
        Ok(_) => panic!("an existing file is refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("never appended to or overwritten"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "x\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_trail_inside_a_writable_path_is_refused() {
    let dir = scratch("trail-inside");
    let ws = dir.join("ws");
    std::fs::create_dir_all(&ws).expect("mkdir");
    let err = check_outside(&ws.join("t.jsonl"), std::slice::from_ref(&ws))
        .expect_err("inside the workspace");
    assert!(
        err.to_string().contains("which the sandbox can write"),
        "{err}"
    );
    check_outside(&dir.join("t.jsonl"), &[ws]).expect("beside it is fine");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_outcome_is_killed_then_flagged_then_clean() {
    for (killed, severity, want) in [
        (true, None, Outcome::Killed),
        (true, Some(Severity::Low), Outcome::Killed),
        (false, Some(Severity::Medium), Outcome::Flagged),
        (false, Some(Severity::Critical), Outcome::Flagged),
        (false, Some(Severity::Low), Outcome::Clean),
        (false, None, Outcome::Clean),
    ] {
        let dir = scratch(&format!("trail-outcome-{killed}-{severity:?}"));
        let target = TrailTarget::new(
            Some(dir.join("t.jsonl")),
            "00000000000000bb",
            &[("trajectory".into(), "t1".into())],
            &["true".into()],
        )
        .expect("target");
        let trail = RunTrail::start(target, RunStart::default()).expect("start");
        let done = trail
            .finish(RunExit::default(), verdict(killed, severity))
            .expect("finish");
        assert_eq!(
            done.verdict.outcome, want,
            "killed {killed}, severity {severity:?}"
        );
        assert_eq!(done.lines, 3, "run.start, run.exit, verdict");
        let last = std::fs::read_to_string(&done.path)
            .expect("read")
            .lines()
            .last()
            .map(|l| Event::from_line(&serde_json::from_str(l).expect("JSON")))
            .expect("a last line");
        assert!(
            matches!(&last, Event::Verdict(v) if v.outcome == want && v.events == Some(2)),
            "{last:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
