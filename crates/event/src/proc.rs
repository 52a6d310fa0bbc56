//! Processes inside the sandbox, as the seccomp monitor sees them:
//! `proc.exec` and `proc.exit`.
//!
//! Every monitor event carries the caller's host `pid`, and `consistent:
//! false` when the call was no longer pending after its memory was read
//! (what was read may then be from another moment, or another program);
//! `consistent` is absent otherwise.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What one of a process's standard descriptors (stdin, stdout, stderr)
/// is, read from `/proc/PID/fd/N` at its exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stdio {
    /// A socket (a shell whose stdin and stdout are sockets is a reverse
    /// shell's shape).
    Socket,
    /// A pipe.
    Pipe,
    /// A terminal (`/dev/pts/N`, `/dev/tty*`).
    Tty,
    /// `/dev/null`.
    Null,
    /// Anything else that is open (a regular file, another device).
    File,
    /// Not open (or the process was gone before it could be read).
    Closed,
}

/// `proc.exec`: an `execve` or `execveat` inside the sandbox.
///
/// An attempt that cannot succeed (a shell trying each `PATH` directory, a
/// compiler driver looking for `cc1`) has `found: false` and carries only
/// `path`, `argv`, `dirfd` and `pid`; it is let go before it is recorded
/// (it fails and runs nothing), and detectors skip it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProcExec {
    /// The argument vector (up to 256 arguments of 4 KiB each).
    pub argv: Vec<String>,
    /// `Some(false)` when the call was no longer pending after its memory
    /// was read; absent (`None`) when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// The caller's working directory at the exec (absent for a miss, or
    /// when it could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// For `execveat`: the directory descriptor `path` is relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirfd: Option<i32>,
    /// `Some(false)` for an attempt that cannot succeed (the path names no
    /// file); absent for a real exec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    /// The path as the caller gave it.
    pub path: String,
    /// The caller's host pid.
    pub pid: u32,
    /// The caller's parent's host pid (absent for a miss, or when it could
    /// not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// What stdin, stdout and stderr are, in that order (absent for a miss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdio: Option<Vec<Stdio>>,
}

/// `proc.exit`: an `exit_group` inside the sandbox (a process killed by a
/// signal makes no such call; the command's own ending is `run.exit`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProcExit {
    /// The `exit_group` argument (its low 8 bits are the exit status).
    pub code: i32,
    /// `Some(false)` when the call was no longer pending after its memory
    /// was read; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// The caller's host pid.
    pub pid: u32,
}
