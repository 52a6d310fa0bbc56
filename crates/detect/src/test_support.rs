//! Events for tests, written short: the details a test cares about, the
//! rest of the kind's required fields filled with neutral values (zeros,
//! empty strings, `allow`, `info`; a sample's `interval_ms` 1000 and a top
//! process's `threads` 1, as the detectors assume when a trail does not
//! say). A field given with the wrong type stays wrong: the event is then
//! an [`Event::Unknown`], which the detectors skip.
//!
//! Not part of the API: for corral-detect's tests and corral's CLI tests.

use crate::Event;
use serde_json::{json, Map, Value};

/// The required fields of `kind` and their neutral values.
fn defaults(kind: &str) -> Value {
    match kind {
        "proc.exec" => json!({ "argv": [], "path": "", "pid": 0 }),
        "proc.exit" => json!({ "code": 0, "pid": 0 }),
        "file.write" => {
            json!({ "op": "open", "pid": 0, "syscall": "openat", "writable": true })
        }
        "sock.connect" | "sock.bind" => json!({ "family": "inet", "fd": 0, "pid": 0 }),
        "sock.sendto" => json!({ "bytes": 0, "family": "inet", "fd": 0, "pid": 0 }),
        "sock.listen" => json!({ "backlog": 0, "fd": 0, "pid": 0 }),
        "sys.denied" => {
            json!({ "args": [], "errno": "EPERM", "pid": 0, "reason": "", "syscall": "" })
        }
        "net.connect" | "dns.query" => json!({
            "bytes_down": 0, "bytes_up": 0, "decision": "allow", "duration_ms": 0.0, "host": "",
            "port": 0, "severity": "info", "started": "", "via": "http-connect",
        }),
        "resource.sample" => json!({
            "cpu_budget_percent": 0.0, "cpu_percent": 0.0, "interval_ms": 1000, "processes": 0,
            "rss_kib": 0, "threads": 0, "top": [],
        }),
        "resource.limit" => json!({ "detail": "" }),
        "run.start" => json!({
            "command": [], "cwd": "", "header": "", "init_pid": 0, "monitor": false,
            "network": false, "profile": "", "workspace": "", "writable": [],
        }),
        "run.exit" => json!({ "exit_code": 0 }),
        _ => json!({}),
    }
}

/// `details` with the missing required fields of `kind` added.
pub fn complete(kind: &str, details: &Map<String, Value>) -> Map<String, Value> {
    let mut out = details.clone();
    if let Value::Object(defaults) = defaults(kind) {
        for (key, value) in defaults {
            out.entry(key).or_insert(value);
        }
    }
    if kind == "resource.sample" {
        if let Some(Value::Array(top)) = out.get_mut("top") {
            for process in top.iter_mut().filter_map(Value::as_object_mut) {
                let neutral = json!({
                    "comm": "?", "cpu_ms": 0, "cpu_percent": 0.0, "pid": 0, "rss_kib": 0,
                    "threads": 1,
                });
                if let Value::Object(neutral) = neutral {
                    for (key, value) in neutral {
                        process.entry(key).or_insert(value);
                    }
                }
            }
        }
    }
    out
}

/// The event of `kind` with `details` (an object) completed.
pub fn event(kind: &str, details: &Value) -> Event {
    let details = details.as_object().cloned().unwrap_or_default();
    Event::from_details(kind, &complete(kind, &details))
}
