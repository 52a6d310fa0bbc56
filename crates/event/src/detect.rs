//! Detection and response: a detector's `finding`, and what corral did
//! about it (`response.kill`, `response.snapshot`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How bad a finding is (the policy's `[detect]` scale).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Low.
    Low,
    /// Medium: flags the run.
    Medium,
    /// High: flags the run.
    High,
    /// Critical: flags the run.
    Critical,
}

/// What is done about a finding (the policy's `[detect]` responses).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Response {
    /// Recorded in the audit trail only.
    Log,
    /// Recorded, printed on stderr, and sent to the webhook if one is set.
    Alert,
    /// As `alert`, and the behaviour is refused where corral can refuse it
    /// (the egress proxy); elsewhere the same as `kill`.
    Deny,
    /// As `alert`, then the whole sandbox is frozen for a forensic
    /// snapshot, then killed.
    Freeze,
    /// As `alert`, and the whole sandbox is killed at once.
    Kill,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The name as written in a policy and in the trail: `low`, `medium`,
    /// `high`, `critical`.
    pub const fn name(self) -> &'static str {
        self.as_str()
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    /// Exactly the lowercase names.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("unknown severity {text:?}"))
    }
}

impl Response {
    /// Every response, mildest first.
    pub const ALL: [Response; 5] = [
        Response::Log,
        Response::Alert,
        Response::Deny,
        Response::Freeze,
        Response::Kill,
    ];

    /// The name as written in a policy and in the trail: `log`, `alert`,
    /// `deny`, `freeze`, `kill`.
    pub const fn name(self) -> &'static str {
        self.as_str()
    }
}

impl std::str::FromStr for Response {
    type Err = String;

    /// Exactly the lowercase names.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Response::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| format!("unknown response {text:?}"))
    }
}

/// One event a finding rests on, abbreviated.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// From the run's start, in milliseconds.
    pub at_ms: u64,
    /// The event's kind.
    pub kind: String,
    /// The event's pid, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The event's telling details in one line (`argv`, `host:port`,
    /// `path`, ...), control characters escaped.
    pub summary: String,
}

/// `finding`: a detector's finding, recorded right after the event that
/// completed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// The events it rests on.
    pub evidence: Vec<Evidence>,
    /// One line, plain words: what was seen and why it matters.
    pub explanation: String,
    /// Stable dotted id: `miner.stratum`, `tunnel.ssh`, `baseline.exec`, ...
    pub id: String,
    /// The process most to blame, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// What the policy says to do.
    pub response: Response,
    /// How bad it is.
    pub severity: Severity,
    /// The MITRE ATT&CK technique, e.g. `T1496` (resource hijacking).
    pub technique: String,
}

/// `response.kill`: corral ended the run for a finding (the first one that
/// asked for it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResponseKill {
    /// The finding's id.
    pub finding: String,
    /// Whether the sandbox was frozen (and a `response.snapshot` taken)
    /// before the kill.
    pub frozen: bool,
    /// From the event that completed the finding to the kill signal sent,
    /// in milliseconds (microsecond precision).
    pub latency_ms: f64,
    /// The finding's response (`kill`, `freeze`, or `deny` where it could
    /// not be refused).
    pub response: Response,
}

/// `response.snapshot`: the frozen sandbox, for forensics (before the
/// `response.kill` of a `freeze`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ResponseSnapshot {
    /// The finding's id.
    pub finding: String,
    /// Every process of the sandbox.
    pub processes: Vec<SnapshotProcess>,
}

/// One process of a [`ResponseSnapshot`]. Unknown values are `null`
/// (written, not omitted).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotProcess {
    /// Its argument vector (`/proc/PID/cmdline`).
    pub argv: Vec<String>,
    /// Its working directory.
    pub cwd: Option<String>,
    /// Its executable.
    pub exe: Option<String>,
    /// What its descriptors point to (at most 64).
    pub fds: Vec<String>,
    /// Its host pid.
    pub pid: u32,
    /// Its parent's host pid.
    pub ppid: Option<u32>,
}
