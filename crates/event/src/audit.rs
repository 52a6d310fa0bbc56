//! What the audit writer itself adds: `audit.dropped` and the `verdict`
//! that closes every finished trail.

use crate::detect::Severity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `audit.dropped`: events lost because the writer's queue was full (since
/// the previous such line); written by the writer itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct AuditDropped {
    /// How many.
    pub count: u64,
}

/// A run's outcome, as its verdict says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Nothing worth a look.
    Clean,
    /// A finding of medium severity or worse, or a critical proxy event.
    Flagged,
    /// corral ended the run: a finding, or the timeout.
    Killed,
}

/// `verdict`: always the last line of a finished trail.
///
/// The caller's details come first (in key order), then the writer's own
/// `events` and `dropped`. A producer leaves those two `None`: the writer
/// adds them (a detail of that name would be renamed `events_`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    /// Network attempts the proxy denied.
    pub denied: u64,
    /// The finding that ended the run, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    /// corral's exit status for the run (as `run.exit` says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Every finding's id, in order.
    pub findings: Vec<String>,
    /// Whether corral ended the run (a finding, or the timeout).
    pub killed: bool,
    /// The layers in force (the header without its `corral: sandbox: `).
    pub layers: String,
    /// The outcome.
    pub outcome: Outcome,
    /// From the finding that ended the run to its kill signal, in
    /// milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_ms: Option<f64>,
    /// The worst finding's severity, if there was a finding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Written by the writer: the number of lines before the verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// Written by the writer: the events lost in all (queue full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
}

/// The keys the writer appends to a verdict's details, in this order.
pub const VERDICT_TRAILER: [&str; 2] = ["events", "dropped"];
