//! Shared by the runtime's tests.
#![allow(dead_code)]

use corral_event::{Event, Outcome, Severity, Verdict};
use std::path::{Path, PathBuf};

/// A fresh, empty directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("corral-runtime-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// A verdict as a session hands it to the trail (the outcome is decided
/// there).
pub fn verdict(killed: bool, severity: Option<Severity>) -> Verdict {
    Verdict {
        denied: 0,
        ended_by: None,
        exit_code: Some(0),
        findings: vec![],
        killed,
        layers: "test".into(),
        outcome: Outcome::Clean,
        response_ms: None,
        severity,
        events: None,
        dropped: None,
    }
}

/// A finished trail's events, after checking its chain is intact and it
/// ends with a verdict.
pub fn trail_events(path: &Path) -> Vec<Event> {
    let verified = corral_audit::verify(path).expect("read the trail");
    assert!(
        verified.problem.is_none(),
        "trail {}: {:?}",
        path.display(),
        verified.problem
    );
    assert!(
        verified.verdict.is_some(),
        "the trail ends with its verdict"
    );
    std::fs::read_to_string(path)
        .expect("read the trail")
        .lines()
        .map(|l| Event::from_line(&serde_json::from_str(l).expect("a JSON line")))
        .collect()
}
