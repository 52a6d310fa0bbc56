//! The sandbox's resources: periodic samples (`resource.sample`) and the
//! limits it hit (`resource.limit`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `resource.sample`: every `--sample-interval`, the whole sandbox and its
/// busiest processes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ResourceSample {
    /// The sandbox's CPU budget, in percent of one core: its `cpus` limit,
    /// else all the machine's cores.
    pub cpu_budget_percent: f64,
    /// The `cpus` limit in percent of one core, when the policy sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_limit_percent: Option<f64>,
    /// CPU used since the previous sample by all the sandbox's processes,
    /// in percent of one core (one decimal).
    pub cpu_percent: f64,
    /// Milliseconds since the previous sample.
    pub interval_ms: u64,
    /// How many processes the sandbox has.
    pub processes: u64,
    /// Their resident memory, in KiB.
    pub rss_kib: u64,
    /// Their threads.
    pub threads: u64,
    /// The busiest processes by CPU (at most 8), busiest first.
    pub top: Vec<SampleProcess>,
}

/// One process of a [`ResourceSample`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SampleProcess {
    /// Its command name (`/proc/PID/comm`).
    pub comm: String,
    /// CPU time used in all, in milliseconds.
    pub cpu_ms: u64,
    /// CPU used since the previous sample, in percent of one core (one
    /// decimal).
    pub cpu_percent: f64,
    /// Bytes read and written, in KiB; `null` (written, not omitted) when
    /// `/proc/PID/io` could not be read.
    pub io_kib: Option<u64>,
    /// Its host pid.
    pub pid: u32,
    /// Its resident memory, in KiB.
    pub rss_kib: u64,
    /// Its threads.
    pub threads: u64,
}

/// Which limit a [`ResourceLimit`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    /// The memory limit: the kernel killed processes.
    Memory,
    /// The process limit: forks were refused.
    Pids,
    /// The wall-clock timeout: the sandbox was stopped.
    Timeout,
}

/// `resource.limit`: the sandbox hit a limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceLimit {
    /// What happened, in words.
    pub detail: String,
    /// Which limit.
    pub limit: Limit,
    /// For `memory`: how many processes the kernel killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_kills: Option<u64>,
    /// For `pids`: how many forks were refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_forks: Option<u64>,
}
