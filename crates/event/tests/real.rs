//! Lines of real trails (written by `corral run` and `corral verify`, in
//! `tests/fixtures/`) read as typed events and serialise back to the same
//! text. `CORRAL_EVENT_TRAILS=DIR cargo test -p corral-event` checks every
//! `*.jsonl` in DIR too (a state directory's `runs/`, say).

use corral_event::{Event, Line};
use std::path::{Path, PathBuf};

fn trails(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    out.sort();
    out
}

/// Every line of `path` typed and written back the same; the number read.
fn check(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut n = 0;
    for (i, text) in text.lines().enumerate() {
        let at = format!("{}:{}", path.display(), i + 1);
        let line = Line::parse(text).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert!(
            !line.event.is_unknown(),
            "{at}: {} read as unknown: {text}",
            line.event.kind()
        );
        assert_eq!(line.to_json(), text, "{at}");
        n += 1;
    }
    n
}

#[test]
fn fixture_lines_are_typed_and_identical() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let files = trails(&dir);
    assert!(files.len() >= 3, "fixtures missing in {}", dir.display());
    let total: usize = files.iter().map(|f| check(f)).sum();
    assert!(total > 50, "{total} lines");
}

#[test]
fn whole_fixture_trails_are_in_order() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for name in ["freeze-trail.jsonl", "curl-trail.jsonl"] {
        let text = std::fs::read_to_string(dir.join(name)).expect("fixture");
        let lines: Vec<Line> = text
            .lines()
            .map(|l| Line::parse(l).expect("line"))
            .collect();
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line.seq, i as u64, "{name}");
            assert_eq!(line.v, corral_event::EVENT_SCHEMA_VERSION);
        }
        assert!(matches!(
            lines.first().map(|l| &l.event),
            Some(Event::RunStart(_))
        ));
        assert!(matches!(
            lines.last().map(|l| &l.event),
            Some(Event::Verdict(_))
        ));
    }
}

#[test]
fn trails_named_by_the_environment() {
    let Some(dir) = std::env::var_os("CORRAL_EVENT_TRAILS") else {
        return;
    };
    let files = trails(Path::new(&dir));
    let total: usize = files.iter().map(|f| check(f)).sum();
    eprintln!("{total} lines in {} trail(s) checked", files.len());
}
