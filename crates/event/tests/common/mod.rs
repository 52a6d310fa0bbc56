//! A copy of the audit writer's line layout (`corral-audit`'s
//! `Encoder::push`), so that samples are written as the writer writes them.

#![allow(dead_code)]

use serde_json::{Map, Value};

/// One line as the writer writes it for `kind` and `details` (a JSON
/// object, as the producer builds it), with the writer's `trailer` keys
/// after the details.
pub fn write_line(seq: u64, kind: &str, details: Value, trailer: &[(&str, Value)]) -> String {
    let details: Map<String, Value> = match details {
        Value::Object(map) => map,
        _ => panic!("details must be an object"),
    };
    let mut out = String::new();
    out.push_str("{\"v\":1,\"ts\":\"2026-12-04T19:04:34.601891129Z\",\"run\":\"b8f10cc205e154c3\"");
    out.push_str(&format!(",\"seq\":{seq},\"kind\":"));
    out.push_str(&serde_json::to_string(kind).expect("kind"));
    out.push_str(",\"labels\":{\"episode\":\"7\"}");
    for (key, value) in &details {
        out.push(',');
        out.push_str(&serde_json::to_string(key).expect("key"));
        out.push(':');
        out.push_str(&serde_json::to_string(value).expect("value"));
    }
    for (key, value) in trailer {
        out.push(',');
        out.push_str(&serde_json::to_string(key).expect("key"));
        out.push(':');
        out.push_str(&serde_json::to_string(value).expect("value"));
    }
    out.push_str(",\"prev\":\"");
    out.push_str(&"0f".repeat(32));
    out.push_str("\"}");
    out
}

/// The monitor sink's finishing touches, as the cli's `trail::monitor_sink`
/// made them by hand (now `corral_sandbox::seccomp::events`): nulls
/// dropped, `pid` added, `consistent: false` when it was not.
pub fn monitor(mut details: Value, pid: u32, consistent: bool) -> Value {
    if let Value::Object(map) = &mut details {
        map.retain(|_, v| !v.is_null());
        map.insert("pid".into(), pid.into());
        if !consistent {
            map.insert("consistent".into(), false.into());
        }
    }
    details
}

/// Top-level nulls dropped (`map.retain(|_, v| !v.is_null())`).
pub fn no_nulls(mut details: Value) -> Value {
    if let Value::Object(map) = &mut details {
        map.retain(|_, v| !v.is_null());
    }
    details
}
