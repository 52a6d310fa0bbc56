//! The policy model: what the user typed (TOML and flags), before any path is
//! resolved against the machine. `corral-sandbox` turns it into a plan.
//!
//! Every section rejects unknown keys. Defaults here are the *neutral* values;
//! the built-in profiles (see `profiles.rs`) fill in the opinionated ones.

pub use crate::net::Protocol;
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
    /// `[detect]`: detectors and responses (see [`crate::Detect`]).
    #[serde(skip_serializing_if = "crate::Detect::is_default")]
    pub detect: crate::Detect,
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

/// `[network]`: where the command may connect, through the egress proxy.
///
/// An empty `allow` list and no `rules` mean no network at all (loopback
/// only). Otherwise every connection goes through the proxy, which lets it
/// through only when an allow rule matches the destination and port, no
/// deny rule does, and the traffic speaks one of the rule's protocols.
///
/// Entries are written `HOST[:PORT]`:
/// - HOST is an exact DNS name (case-insensitive, one trailing dot ignored;
///   ASCII letters, digits, `-` and `.` only, labels of 1 to 63 characters,
///   at most 253 in all, the last label not a number), `*.suffix` (every
///   subdomain of `suffix` at any depth, not `suffix` itself), `*` (any
///   name, never an IP address), an IPv4 address, an IPv4 CIDR
///   (`10.1.2.0/24`, no host bits set), or an IPv6 address or CIDR. With a
///   port an IPv6 host is bracketed (`[::1]:8080`, `[fd00::/8]:5432`); a bare
///   IPv6 host has no port.
/// - PORT is a number from 1 to 65535, a range `8000-8100`, or `*` (any).
///   Without a port, an `allow` or `rules` entry means ports 80 and 443; a
///   `deny` entry means every port.
///
/// Name patterns match only names and address patterns only addresses: a
/// connection to an IP literal needs an IP or CIDR rule. Deny wins over
/// allow. See [`crate::net`] for the compiled matcher.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Destinations the command may reach, `HOST[:PORT]`, with the default
    /// protocols (TLS and plain HTTP).
    pub allow: Vec<String>,
    /// Destinations never reachable, whatever `allow` says.
    pub deny: Vec<NetDeny>,
    /// Pinned addresses, like curl's `--resolve HOST:PORT:ADDR[,ADDR...]`
    /// (PORT may be `*`): the proxy connects to a pinned name at exactly
    /// these addresses and trusts them even when they are loopback or
    /// private. A pinned name still needs an allow rule.
    pub resolve: Vec<String>,
    /// Allow entries with options, keyed by `HOST[:PORT]`
    /// (`[network.rules."github.com:22"]`). A key that also appears in
    /// `allow` (the same host and ports) is the same rule: its options apply.
    pub rules: BTreeMap<String, NetRule>,
}

/// A `network.deny` entry: `{ host = "gist.github.com", reason = "..." }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetDeny {
    /// `HOST[:PORT]`; without a port the rule covers every port.
    pub host: String,
    /// Shown to the command (and logged) when the rule blocks a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Options of one `[network.rules."HOST[:PORT]"]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetRule {
    /// What the connection may speak: `tls`, `http`, `ssh`, or `any` (any
    /// bytes: only the destination is checked). Default `["tls", "http"]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocols: Option<Vec<Protocol>>,
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
