//! The run itself, as corral records it: `run.start`, `run.exit`,
//! `run.error`.

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
