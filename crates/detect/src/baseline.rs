//! Baselines: what normal runs of a command did (executables, endpoints,
//! write locations as globs, the CPU and memory envelope), learnt from
//! audit trails, and the `baseline.*` findings for what deviates.
//!
//! STUB: written by the baselines' author; the signatures are the contract
//! with engine.rs and crates/cli.

use crate::{Context, Event, Finding, OwnedEvent};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Baseline {}

impl Baseline {
    /// Learns from whole runs (each one trail's events, in order).
    pub fn learn(_runs: &[Vec<OwnedEvent>]) -> Baseline {
        todo!("baselines")
    }

    pub fn load(_path: &Path) -> Result<Baseline, BaselineError> {
        todo!("baselines")
    }

    pub fn to_toml(&self) -> String {
        todo!("baselines")
    }

    /// Whether `exe` (an executable's path, or a process's comm) ran in the
    /// learnt runs: the CPU-shaped mining detector spares expected ones.
    pub fn knows_exec(&self, _exe: &str) -> bool {
        todo!("baselines")
    }

    /// The `baseline.*` findings for this event (response left `Log`: the
    /// engine sets it).
    pub fn check(&self, _context: &Context, _event: &Event<'_>) -> Vec<Finding> {
        todo!("baselines")
    }
}
