//! Helpers shared by the integration tests: a temp dir, trails to tamper with.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use corral_audit::{Summary, Writer, WriterConfig};
use serde_json::{json, Map, Value};

pub const RUN: &str = "0123456789abcdef";

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "corral-audit-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A details map from a `json!({...})` object.
pub fn details(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("details must be an object, got {other}"),
    }
}

pub fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("episode".to_owned(), "17".to_owned()),
        ("task".to_owned(), "fix \"the\" bug".to_owned()),
    ])
}

pub fn config(path: &Path) -> WriterConfig {
    WriterConfig {
        labels: labels(),
        ..WriterConfig::new(path, RUN)
    }
}

/// A finished trail: `run.start`, `events` events `tick` with `i`, the verdict.
pub fn finished_trail(path: &Path, events: u64) -> Summary {
    let w = Writer::create(config(path)).expect("create");
    let h = w.handle();
    h.record(
        "run.start",
        details(json!({"command": ["sh", "-c", "true"]})),
    );
    for i in 0..events {
        h.record("tick", details(json!({"i": i, "note": "line\nbreak"})));
    }
    w.finish(details(json!({"outcome": "exit 0"})))
        .expect("finish")
}

/// The file's lines, without their newlines (the file must end with one).
pub fn raw_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read trail");
    let body = text.strip_suffix('\n').expect("trail ends with a newline");
    body.split('\n').map(str::to_owned).collect()
}

/// Writes `lines`, each with its newline.
pub fn write_lines(path: &Path, lines: &[String]) {
    let mut text = String::new();
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(path, text).expect("write trail");
}
