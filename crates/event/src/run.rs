//! The run itself, as corral records it: `run.start`, `run.exit`,
//! `run.error`, and a session's `run.claim`, `exec.start`, `exec.exit`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `run.start`: always the first line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RunStart {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// The command's working directory, in the sandbox.
    pub cwd: String,
    /// The one-line header (the layers in force), as printed on stderr.
    pub header: String,
    /// The sandbox's init: its host pid.
    pub init_pid: u32,
    /// Whether the seccomp monitor is on (`proc.*`, `sock.*`, `file.write`
    /// and `sys.denied` events are recorded).
    pub monitor: bool,
    /// Whether the sandbox has a network (through the egress proxy).
    pub network: bool,
    /// The policy's built-in profile (`offline`, `coding-agent`, ...).
    pub profile: String,
    /// The workspace directory (read-write).
    pub workspace: String,
    /// Every path the sandbox may write, as planned.
    pub writable: Vec<String>,
}

/// `run.exit`: how the command ended.
///
/// When the sandbox could not be started (after a `run.error`), only
/// `exit_code` (125) is present.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RunExit {
    /// How it ended, in words: `exited N`, `killed by signal N`, `timed
    /// out`, `failed: ...`, `stopped by corral for FINDING`, `killed at the
    /// caller's request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<String>,
    /// corral's exit status for the run.
    pub exit_code: i32,
    /// The run's wall time, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_ms: Option<f64>,
}

/// `run.error`: the sandbox could not be started (a `run.exit` with exit
/// code 125 and the verdict follow).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RunError {
    /// What went wrong.
    pub message: String,
}

/// `run.claim`: a sandbox built ahead of time (a warm pool's) was handed
/// to its caller; the trail's lines from here on carry the caller's labels
/// (every line does: the trail is opened at the claim). Nothing ran in the
/// sandbox before this line.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RunClaim {
    /// How long the sandbox waited, built, before it was claimed.
    pub parked_ms: f64,
}

/// `exec.start`: a further command started in the running sandbox (the
/// service's exec, [`crate::ExecExit`] tells how it ended).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ExecStart {
    /// The session's number for this command (1, 2, ...).
    pub exec: u64,
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// Its working directory, in the sandbox.
    pub cwd: String,
    /// The caller's labels for this command alone (e.g. the step); the
    /// line's own `labels` are the session's.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub exec_labels: std::collections::BTreeMap<String, String>,
}

/// `exec.exit`: how a further command ended.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ExecExit {
    /// The number of its `exec.start`.
    pub exec: u64,
    /// How it ended, in words (`exited 0`, `killed by signal 9`, ...).
    pub ending: String,
    /// Its conventional status (128+N for signal N; 125-127 when it could
    /// not run).
    pub exit_code: i32,
    /// It ran past its timeout and was killed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    /// Its wall time, in milliseconds.
    pub duration_ms: f64,
    /// Bytes it wrote to stdout (counted past the kept part).
    pub stdout_bytes: u64,
    /// Bytes it wrote to stderr (counted past the kept part).
    pub stderr_bytes: u64,
    /// The findings raised while it ran (their ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}
