//! `resource.*`: the sandbox at its limits.

use super::{hit, Ev, Hit};
use crate::Severity;
use serde_json::Value;
use std::time::Duration;

const T: &str = "T1499";

/// A `resource.limit` event.
pub(crate) fn limit(ev: &Ev<'_>, out: &mut Vec<Hit>) {
    let id = match ev.str("limit") {
        Some("memory") => "resource.memory",
        Some("pids") => "resource.pids",
        Some("cpu") => "resource.cpu",
        Some("timeout") => "resource.timeout",
        _ => return,
    };
    let what = ev.str("limit").unwrap_or("?");
    let detail = ev
        .str("detail")
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    out.push(hit(
        ev,
        id,
        Severity::Medium,
        T,
        "sandbox".to_owned(),
        format!("the sandbox hit its {what} limit{detail}"),
    ));
}

/// `resource.cpu` from samples: the sandbox at its CPU limit for long.
pub(crate) struct Resource {
    needed: Duration,
    held_ms: u64,
    first: Option<crate::Evidence>,
}

impl Resource {
    pub fn new(t: &corral_policy::Thresholds) -> Resource {
        Resource {
            needed: t.cpu_limit_seconds(),
            held_ms: 0,
            first: None,
        }
    }

    pub fn sample(&mut self, ev: &Ev<'_>, out: &mut Vec<Hit>) {
        let limit = ev.d.get("cpu_limit_percent").and_then(Value::as_f64);
        let cpu = ev.d.get("cpu_percent").and_then(Value::as_f64);
        let (Some(limit), Some(cpu)) = (limit, cpu) else {
            self.held_ms = 0;
            self.first = None;
            return;
        };
        if limit <= 0.0 || cpu < limit * 0.95 {
            self.held_ms = 0;
            self.first = None;
            return;
        }
        self.held_ms += ev.u64("interval_ms").unwrap_or(1000);
        let first = self.first.get_or_insert_with(|| ev.evidence_auto()).clone();
        if u128::from(self.held_ms) >= self.needed.as_millis() {
            let mut h = hit(
                ev,
                "resource.cpu",
                Severity::Medium,
                T,
                "sandbox".to_owned(),
                format!(
                    "the sandbox ran at its CPU limit ({limit}% of one core) for {:.0}s",
                    self.held_ms as f64 / 1000.0
                ),
            );
            h.evidence.insert(0, first);
            self.held_ms = 0;
            self.first = None;
            out.push(h);
        }
    }
}
