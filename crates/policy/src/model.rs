//! The policy model: what the user typed (TOML and flags), before any path is
//! resolved against the machine. `corral-sandbox` turns it into a plan.
//!
//! Every section rejects unknown keys. Defaults here are the *neutral* values;
//! the built-in profiles (see `profiles.rs`) fill in the opinionated ones.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole policy file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Name of a built-in profile this policy starts from (`offline`,
    /// `coding-agent`, `rollout`). The file's own settings are merged on top.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    pub filesystem: Filesystem,
    pub network: Network,
    pub limits: Limits,
    pub process: Process,
    pub sandbox: SandboxSection,
}

/// `[filesystem]`: which paths the command sees and how.
///
/// Paths may start with `~` (the invoking user's home), be absolute, or be
/// relative (to the workspace). Entries with `*`, `?` or `[` are globs; a
/// relative glob such as `**/.env` is matched inside the workspace and every
/// writable path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filesystem {
    /// The workspace directory (read-write). Default: the current directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Paths visible read-only. `"/"` means the whole host tree (minus the
    /// private /tmp, /dev, /proc, /run that every sandbox gets).
    pub read: Vec<String>,
    /// Extra read-write paths, beside the workspace.
    pub write: Vec<String>,
    /// Paths and globs masked entirely: reading them fails with EACCES.
    /// Deny wins over `read` and `write`.
    pub deny_read: Vec<String>,
    /// Paths kept read-only even inside writable paths (relative entries are
    /// matched in every writable path, e.g. `.git/hooks`).
    pub protected: Vec<String>,
}

/// `[network]`: filled in by the egress proxy issue. Today an empty `allow`
/// list (no network at all, loopback only) is the only accepted value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    pub allow: Vec<String>,
}

/// `[limits]`: resource limits. `None` means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Memory for the whole sandbox, e.g. `"2G"`, `"512M"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// Maximum number of processes and threads in the sandbox.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
    /// CPU cores, e.g. `1` or `0.5`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Wall-clock timeout, e.g. `"10m"`, `"30s"`, `"1h30m"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Open files per process (RLIMIT_NOFILE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
    /// Largest file a process may write (RLIMIT_FSIZE), e.g. `"1G"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<ByteSize>,
}

/// `[process]`: identity and environment of the command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Process {
    /// uid inside the sandbox. Default: the caller's uid, or 1000 when the
    /// caller is root (so the command never runs as root unless asked: `uid = 0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// gid inside the sandbox; same defaults as `uid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Hostname inside the sandbox. Default `corral`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Environment variables removed before the command starts (globs on
    /// names, e.g. `AWS_*`).
    pub env_deny: Vec<String>,
    /// Environment variables set for the command (after `env_deny`).
    pub env_set: BTreeMap<String, String>,
}

/// `[sandbox]`: switches that change the isolation itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSection {
    /// Run even when a layer the policy needs is missing (the header then
    /// says what is off). Same as `--allow-degraded`.
    pub dangerously_allow_degraded: bool,
    /// Let the command create nested namespaces (unshare, setns, clone with
    /// CLONE_NEW*), e.g. to run bubblewrap or rootless containers inside.
    pub dangerously_allow_nested_namespaces: bool,
}

/// A byte count written as `"512M"`, `"2G"`, `"1024"` (binary units: K, M,
/// G, T = 1024^n; an optional trailing `B`/`iB` is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// A duration written as `"90s"`, `"10m"`, `"1h30m"`, `"250ms"` (or a bare
/// integer number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);
