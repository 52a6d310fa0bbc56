//! Control groups: memory, pids and cpu limits for one run, plus a freezer
//! and a reliable "kill everything" for responses and teardown.
//!
//! [`probe`] decides from kernel facts which hierarchy is usable,
//! [`create`] makes `corral/<run_id>` with the plan's limits, and the
//! returned [`Cgroup`] adds processes, freezes, counts OOM kills and
//! removes itself (also on drop).

mod create;
mod ops;
mod probe;

pub use create::create;
pub use probe::{probe, probe_with, Facts};

use std::io;
use std::path::{Path, PathBuf};

/// What to do when no cgroup can be created as this user.
pub(crate) const FIX_PRIVILEGE: &str = "run as root or use a systemd-delegated cgroup v2 (systemd-run --user --scope -p Delegate=yes corral run ...), or pass --allow-degraded to run without these limits";

/// A resource controller corral uses for limits (the freezer is separate:
/// built into cgroup v2, its own hierarchy in v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
}

impl Controller {
    pub const ALL: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::Cpu];

    /// The kernel's name for the controller.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }
}

/// Which cgroup hierarchy corral can create run cgroups in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupSupport {
    /// Unified hierarchy: runs go in `<dir>/corral/<run_id>`. `dir` is the
    /// root cgroup or our own cgroup's parent (ours holds our process, so
    /// by the no-internal-process rule it cannot give controllers to
    /// children). `controllers` are enabled in `dir` or can be.
    V2 {
        dir: PathBuf,
        controllers: Vec<Controller>,
    },
    /// Legacy hierarchies: our own cgroup directory in each writable
    /// controller; runs go in `<dir>/corral/<run_id>` in each.
    V1 {
        memory: Option<PathBuf>,
        pids: Option<PathBuf>,
        cpu: Option<PathBuf>,
        freezer: Option<PathBuf>,
    },
    /// No cgroup can be created; `reason` says why, `fix` what to do.
    Unavailable { reason: String, fix: String },
}

impl CgroupSupport {
    /// The limit controllers usable here (empty when unavailable).
    pub fn controllers(&self) -> Vec<Controller> {
        match self {
            CgroupSupport::V2 { controllers, .. } => controllers.clone(),
            CgroupSupport::V1 {
                memory, pids, cpu, ..
            } => [memory, pids, cpu]
                .into_iter()
                .zip(Controller::ALL)
                .filter_map(|(dir, c)| dir.as_ref().map(|_| c))
                .collect(),
            CgroupSupport::Unavailable { .. } => Vec::new(),
        }
    }

    /// One line for `corral doctor`.
    pub fn describe(&self) -> String {
        let names = |cs: Vec<Controller>| cs.iter().map(|c| c.name()).collect::<Vec<_>>().join(" ");
        match self {
            CgroupSupport::V2 { dir, .. } => format!(
                "cgroup v2 at {} ({})",
                dir.display(),
                names(self.controllers())
            ),
            CgroupSupport::V1 { freezer, .. } => {
                let freezer = if freezer.is_some() { " freezer" } else { "" };
                format!("cgroup v1 ({}{freezer})", names(self.controllers()))
            }
            CgroupSupport::Unavailable { reason, .. } => format!("unavailable: {reason}"),
        }
    }
}

/// A failed cgroup operation, naming the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup available for the limits: {reason}; {fix}")]
    Unavailable { reason: String, fix: String },
    #[error("the {controller} controller is not available ({support}) but the {limit} limit needs it; {fix}")]
    MissingController {
        controller: &'static str,
        limit: &'static str,
        support: String,
        fix: &'static str,
    },
    #[error("invalid run id {0:?}: it must be one non-empty path component without '/'")]
    InvalidRunId(String),
    #[error("invalid cpu limit {0}: it must be a positive number of cpus")]
    InvalidCpus(f64),
    #[error("cannot create {path}: {source}; {fix}")]
    Create {
        path: PathBuf,
        source: io::Error,
        fix: &'static str,
    },
    #[error(
        "cannot create {path}: it already exists (a run with the same id?); use a fresh run id"
    )]
    RunExists { path: PathBuf },
    #[error("cannot enable the {controller} controller in {path}: {source}; {fix}")]
    EnableController {
        controller: &'static str,
        path: PathBuf,
        source: io::Error,
        fix: &'static str,
    },
    #[error("cannot write {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot freeze the run: no freezer controller is mounted (cgroup v1); mount the v1 freezer or use cgroup v2")]
    NoFreezer,
    #[error("{path} did not reach the {state} state in time (a process in uninterruptible sleep?); retry, or kill the run")]
    FreezeTimeout { path: PathBuf, state: &'static str },
    #[error("cannot kill process {pid} of {path}: {source}")]
    Kill {
        pid: i32,
        path: PathBuf,
        source: nix::Error,
    },
    #[error("{path} still has processes after SIGKILL ({left} left); look for processes in uninterruptible sleep (ps -eo pid,stat,cmd)")]
    StillPopulated { path: PathBuf, left: usize },
    #[error("cannot remove {path}: {source}; remove it by hand once its processes have exited (rmdir {path})")]
    Remove { path: PathBuf, source: io::Error },
}

/// Which hierarchy a [`Cgroup`] lives in, with the directories created.
#[derive(Debug, Clone)]
enum Layout {
    V2 {
        dir: Option<PathBuf>,
    },
    V1 {
        memory: Option<PathBuf>,
        pids: Option<PathBuf>,
        cpu: Option<PathBuf>,
        freezer: Option<PathBuf>,
    },
}

/// One run's cgroup(s). Dropping it kills what is left inside and removes
/// the directories, best effort; call [`Cgroup::destroy`] to see errors.
/// Only the creating process does that: a forked child's copy is inert.
#[derive(Debug)]
pub struct Cgroup {
    layout: Layout,
    /// "memory=2G pids=256 cpus=1" for [`Cgroup::describe`].
    summary: String,
    destroyed: bool,
    /// The process that created it: a forked copy never cleans up on drop.
    owner: nix::unistd::Pid,
}

impl Cgroup {
    /// A second handle on the same cgroup(s) that can freeze, thaw, kill
    /// and read counters (from another thread) but never removes them:
    /// only the original does, on [`Cgroup::destroy`] or drop.
    pub fn control(&self) -> Cgroup {
        Cgroup {
            layout: self.layout.clone(),
            summary: self.summary.clone(),
            destroyed: true,
            owner: self.owner,
        }
    }

    /// Every directory of this run's cgroup(s).
    pub fn dirs(&self) -> Vec<&Path> {
        match &self.layout {
            Layout::V2 { dir } => dir.iter().map(PathBuf::as_path).collect(),
            Layout::V1 {
                memory,
                pids,
                cpu,
                freezer,
            } => [memory, pids, cpu, freezer]
                .into_iter()
                .flatten()
                .map(PathBuf::as_path)
                .collect(),
        }
    }

    /// The one-line header: "cgroup v1: memory=2G pids=256 cpus=1".
    pub fn describe(&self) -> String {
        let version = match self.layout {
            Layout::V2 { .. } => "v2",
            Layout::V1 { .. } => "v1",
        };
        if self.summary.is_empty() {
            format!("cgroup {version}: no limits")
        } else {
            format!("cgroup {version}: {}", self.summary)
        }
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if !self.destroyed && nix::unistd::Pid::this() == self.owner {
            // Best effort: errors are for callers of destroy().
            let _ = self.destroy_in_place();
        }
    }
}

#[cfg(test)]
mod real_tests;
