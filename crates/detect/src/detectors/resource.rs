//! `resource.*`: the sandbox at its limits.

use super::{hit, limit_name, Ev, Hit};
use crate::Severity;
use corral_event::Limit;
use std::time::Duration;

const T: &str = "T1499";

/// A `resource.limit` event.
pub(crate) fn limit(ev: &Ev<'_>, out: &mut Vec<Hit>) {
    let Some(limit) = ev.limit() else { return };
    let id = match limit.limit {
        Limit::Memory => "resource.memory",
        Limit::Pids => "resource.pids",
        Limit::Timeout => "resource.timeout",
    };
    let what = limit_name(limit.limit);
    let detail = if limit.detail.is_empty() {
        String::new()
    } else {
        format!(": {}", limit.detail)
    };
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
        let limit = ev.sample().and_then(|s| s.cpu_limit_percent);
        let cpu = ev.sample().map(|s| s.cpu_percent);
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
        self.held_ms += ev.sample().map_or(1000, |s| s.interval_ms);
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
