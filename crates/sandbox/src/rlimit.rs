//! Per-process resource limits (setrlimit), set in the forked child just
//! before exec and inherited by everything the command starts.
//!
//! Every limit is set as both soft and hard, so the command cannot raise
//! it again. A limit is never raised: when the plan asks for more than the
//! current hard limit, the current hard limit is kept (clamped, not an
//! error), since only privilege could raise it and a lower limit is the
//! stricter outcome.
//!
//! `RLIMIT_NPROC` (from the pids limit) counts the processes of the real
//! uid; since Linux 5.14 the count is kept per user namespace, so inside
//! the sandbox's user namespace it counts the sandbox's processes. The
//! kernel never enforces it for processes whose real uid is root of the
//! initial namespace (`copy_process` exempts `INIT_USER`, whatever the
//! capabilities), so when the sandbox's outside uid is 0 only the cgroup
//! pids controller bounds forks: see [`nproc_enforced`].

use crate::plan::LimitsPlan;
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// A limit that could not be read or set.
#[derive(Debug, thiserror::Error)]
pub enum RlimitError {
    #[error("cannot read the current {resource}: {source}")]
    Get {
        resource: &'static str,
        source: nix::Error,
    },
    #[error("cannot set {resource} to {value}: {source}; lower the limit in the policy or pass --allow-degraded")]
    Set {
        resource: &'static str,
        value: u64,
        source: nix::Error,
    },
}

/// Sets `resource` to `value` (soft and hard), never above the current
/// hard limit. No allocation: safe between fork and exec.
fn set(resource: Resource, name: &'static str, value: u64) -> Result<(), RlimitError> {
    let (_, hard) = getrlimit(resource).map_err(|source| RlimitError::Get {
        resource: name,
        source,
    })?;
    let value = value.min(hard);
    setrlimit(resource, value, value).map_err(|source| RlimitError::Set {
        resource: name,
        value,
        source,
    })
}

/// Applies the limits to the calling process. Call it in the forked child
/// before exec: it allocates nothing. `RLIMIT_CORE` is always 0 (no core
/// dump of the agent's memory on disk); `RLIMIT_NOFILE` from
/// `open_files`, `RLIMIT_FSIZE` from `file_size_bytes`, `RLIMIT_NPROC`
/// from `pids`, and `RLIMIT_DATA` from `memory_bytes` when
/// `memory_fallback` (no cgroup enforces memory). Requests above the
/// current hard limit are clamped to it, not refused.
pub fn apply(limits: &LimitsPlan, memory_fallback: bool) -> Result<(), RlimitError> {
    set(Resource::RLIMIT_CORE, "RLIMIT_CORE", 0)?;
    if let Some(n) = limits.open_files {
        set(Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE", n)?;
    }
    if let Some(n) = limits.file_size_bytes {
        set(Resource::RLIMIT_FSIZE, "RLIMIT_FSIZE", n)?;
    }
    if let Some(n) = limits.pids {
        set(Resource::RLIMIT_NPROC, "RLIMIT_NPROC", n)?;
    }
    if let (true, Some(n)) = (memory_fallback, limits.memory_bytes) {
        set(Resource::RLIMIT_DATA, "RLIMIT_DATA", n)?;
    }
    Ok(())
}

/// Whether the kernel enforces `RLIMIT_NPROC` for a sandbox whose outside
/// (real) uid is `outside_uid`: never for uid 0.
pub fn nproc_enforced(outside_uid: u32) -> bool {
    outside_uid != 0
}

/// The header line for what [`apply`] sets:
/// "rlimits: nofile=1024 fsize=1G nproc=256 data=2G core=0".
pub fn describe(limits: &LimitsPlan, memory_fallback: bool) -> String {
    let mut out = String::from("rlimits:");
    if let Some(n) = limits.open_files {
        out.push_str(&format!(" nofile={n}"));
    }
    if let Some(n) = limits.file_size_bytes {
        out.push_str(&format!(" fsize={}", fmt_bytes(n)));
    }
    if let Some(n) = limits.pids {
        out.push_str(&format!(" nproc={n}"));
    }
    if let (true, Some(n)) = (memory_fallback, limits.memory_bytes) {
        out.push_str(&format!(" data={}", fmt_bytes(n)));
    }
    out.push_str(" core=0");
    out
}

/// Bytes in the largest binary unit that divides them: "2G", "64M",
/// "4K", "1000".
pub(crate) fn fmt_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    // Sizes are powers of two: a mask tests divisibility.
    match UNITS.iter().find(|(size, _)| n != 0 && n & (size - 1) == 0) {
        Some((size, unit)) => format!("{}{unit}", n / size),
        None => n.to_string(),
    }
}

#[cfg(test)]
#[path = "rlimit_tests.rs"]
pub(crate) mod tests;
