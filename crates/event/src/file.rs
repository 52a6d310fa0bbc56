//! Files: writes inside the sandbox (`file.write`, from the monitor) and
//! protected paths changed during the run (`fs.protected`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a write-intent file call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileOp {
    /// `open`/`openat` with write intent.
    Open,
    /// `creat`.
    Create,
    /// `truncate`/`ftruncate`.
    Truncate,
    /// `rename`, `renameat`, `renameat2`.
    Rename,
    /// `unlink`, `unlinkat`, `rmdir`.
    Unlink,
}

/// `file.write`: a write-intent file call inside the sandbox (writes to
/// `/dev/null`, terminals, pipes and sockets are not recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileWrite {
    /// `Some(false)` when the call was no longer pending after its memory
    /// was read; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// For an open: the flags that mean writing, by name (`O_WRONLY` or
    /// `O_RDWR` or `O_RDONLY` first, then any of `O_CREAT`, `O_TRUNC`,
    /// `O_APPEND`, `O_EXCL`, `O_TMPFILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<String>>,
    /// What the call does.
    pub op: FileOp,
    /// The path, made absolute against the caller's cwd or directory
    /// descriptor (absent when it could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The caller's host pid.
    pub pid: u32,
    /// The syscall's name (`openat`, `renameat2`, ...).
    pub syscall: String,
    /// For a rename: the new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// False when the path (or `to`) is outside everything the sandbox may
    /// write, i.e. the kernel refuses the call.
    pub writable: bool,
}

/// `fs.protected`: a protected path (git hooks, shell rc files, ...)
/// created, removed or replaced during the run, found after the sandbox
/// ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct FsProtected {
    /// What changed, in words: `created`, `was removed`, `was replaced by
    /// another file`, `was a symbolic link to A and now points to B`.
    pub change: String,
    /// The path, on the host.
    pub path: String,
}
