//! Calls the sandbox's seccomp deny filter refused: `sys.denied`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `sys.denied`: a call the seccomp deny filter refused (answered with
/// `errno`, today always `EPERM`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SysDenied {
    /// The call's six raw register arguments.
    pub args: Vec<u64>,
    /// `Some(false)` when the call was no longer pending after its memory
    /// was read; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// The error the call was answered with (`EPERM`).
    pub errno: String,
    /// The caller's host pid.
    pub pid: u32,
    /// The deny rule's reason, in plain words.
    pub reason: String,
    /// The syscall's name (`ptrace`, `unshare`, ...).
    pub syscall: String,
}
