//! The engine: every detector over every event, findings deduplicated, and
//! the response the policy asks for attached to each.
//!
//! STUB: written by the detectors' author; the signatures are the contract
//! with crates/cli and baseline.rs.

use crate::{Baseline, Event, Finding};
use std::path::PathBuf;

/// What the engine knows about the run beyond the events.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The workspace (absolute host path).
    pub workspace: Option<PathBuf>,
    /// Paths the detectors treat as corral's own (the audit trail's file
    /// and directory): any write to them is `evasion.audit`.
    pub audit_paths: Vec<PathBuf>,
    /// The sandbox's CPU budget in percent of one core (`cpus = 1.5` is
    /// 150; without a limit, 100 times the machine's cores).
    pub cpu_budget_percent: f64,
}

pub struct Engine {
    _private: (),
}

impl Engine {
    /// An engine for the policy's `[detect]` section.
    pub fn new(
        _config: &corral_policy::Detect,
        _context: Context,
        _baseline: Option<Baseline>,
    ) -> Engine {
        todo!("detectors")
    }

    /// The findings this event completes (each raised once per id and
    /// subject), with their response set.
    pub fn observe(&mut self, _event: &Event<'_>) -> Vec<Finding> {
        todo!("detectors")
    }

    /// Every finding raised so far, in order.
    pub fn findings(&self) -> &[Finding] {
        todo!("detectors")
    }
}
