//! Creating a run's cgroup(s) and writing the limits into them.

use super::{Cgroup, CgroupError, CgroupSupport, Controller, Layout, FIX_PRIVILEGE};
use crate::plan::LimitsPlan;
use crate::rlimit::fmt_bytes;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The CFS period corral uses, in microseconds (the kernel's default).
pub(crate) const CPU_PERIOD_US: u64 = 100_000;
/// The smallest quota the kernel accepts, in microseconds.
const CPU_MIN_QUOTA_US: u64 = 1_000;

/// Writes `value` to a cgroup file in one `write`, without creating it.
pub(crate) fn write_value(path: &Path, value: &str) -> Result<(), CgroupError> {
    let err = |source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_owned(),
        source,
    };
    let mut file = fs::OpenOptions::new().write(true).open(path).map_err(err)?;
    file.write_all(value.as_bytes()).map_err(err)
}

/// The cpu quota in microseconds per [`CPU_PERIOD_US`] for `cpus`.
pub(crate) fn cpu_quota_us(cpus: f64) -> Result<u64, CgroupError> {
    if !(cpus.is_finite() && cpus > 0.0) {
        return Err(CgroupError::InvalidCpus(cpus));
    }
    // Saturating float-to-int cast; 1e6 cpus is already absurd.
    let quota = (cpus.min(1e6) * CPU_PERIOD_US as f64).round() as u64;
    Ok(quota.max(CPU_MIN_QUOTA_US))
}

/// A limit file to write: name, value, and whether it is skipped when the
/// kernel lacks it (swap accounting) rather than an error.
pub(crate) type LimitFile = (&'static str, String, bool);

/// The cgroup v2 files for the limits, in order.
pub(crate) fn v2_files(limits: &LimitsPlan, cpu_quota: Option<u64>) -> Vec<LimitFile> {
    let mut out = Vec::new();
    if let Some(m) = limits.memory_bytes {
        out.push(("memory.max", m.to_string(), false));
        // No swap on top of the memory limit.
        out.push(("memory.swap.max", "0".to_owned(), true));
    }
    if let Some(p) = limits.pids {
        out.push(("pids.max", p.to_string(), false));
    }
    if let Some(q) = cpu_quota {
        out.push(("cpu.max", format!("{q} {CPU_PERIOD_US}"), false));
    }
    out
}

/// The cgroup v1 files of `controller` for the limits, in order (the
/// kernel wants the period before the quota, memory before memory+swap).
pub(crate) fn v1_files(
    controller: Controller,
    limits: &LimitsPlan,
    cpu_quota: Option<u64>,
) -> Vec<LimitFile> {
    match (controller, limits.memory_bytes, limits.pids, cpu_quota) {
        (Controller::Memory, Some(m), _, _) => vec![
            ("memory.limit_in_bytes", m.to_string(), false),
            // Memory+swap equal to memory: no swap on top of the limit.
            ("memory.memsw.limit_in_bytes", m.to_string(), true),
        ],
        (Controller::Pids, _, Some(p), _) => vec![("pids.max", p.to_string(), false)],
        (Controller::Cpu, _, _, Some(q)) => vec![
            ("cpu.cfs_period_us", CPU_PERIOD_US.to_string(), false),
            ("cpu.cfs_quota_us", q.to_string(), false),
        ],
        _ => Vec::new(),
    }
}

fn write_files(dir: &Path, files: &[LimitFile]) -> Result<(), CgroupError> {
    for (name, value, optional) in files {
        let path = dir.join(name);
        if !*optional || path.exists() {
            write_value(&path, value)?;
        }
    }
    Ok(())
}

/// The controllers the limits need, each with the limit's name.
fn needed(limits: &LimitsPlan) -> Vec<(Controller, &'static str)> {
    let mut out = Vec::new();
    if limits.memory_bytes.is_some() {
        out.push((Controller::Memory, "memory"));
    }
    if limits.pids.is_some() {
        out.push((Controller::Pids, "pids"));
    }
    if limits.cpus.is_some() {
        out.push((Controller::Cpu, "cpus"));
    }
    out
}

/// "memory=2G pids=256 cpus=1" for the limits cgroups enforce.
pub(crate) fn summary(limits: &LimitsPlan) -> String {
    let mut parts = Vec::new();
    if let Some(m) = limits.memory_bytes {
        parts.push(format!("memory={}", fmt_bytes(m)));
    }
    if let Some(p) = limits.pids {
        parts.push(format!("pids={p}"));
    }
    if let Some(c) = limits.cpus {
        parts.push(format!("cpus={c}"));
    }
    parts.join(" ")
}

fn create_fix(source: &io::Error) -> &'static str {
    match source.kind() {
        io::ErrorKind::PermissionDenied => FIX_PRIVILEGE,
        _ => "check that the cgroup filesystem is mounted read-write, or pass --allow-degraded to run without these limits",
    }
}

/// mkdir that accepts an existing directory (the shared `corral` parent).
fn ensure_dir(path: &Path) -> Result<(), CgroupError> {
    match fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(CgroupError::Create {
            path: path.to_path_buf(),
            fix: create_fix(&e),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// mkdir of the run's own directory: it must be new.
fn create_run_dir(path: &Path) -> Result<PathBuf, CgroupError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(path.to_path_buf()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(CgroupError::RunExists {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(CgroupError::Create {
            path: path.to_path_buf(),
            fix: create_fix(&e),
            source: e,
        }),
    }
}

/// Enables `controller` for the children of `dir` unless already enabled.
fn enable(dir: &Path, controller: Controller) -> Result<(), CgroupError> {
    let path = dir.join("cgroup.subtree_control");
    let enabled = fs::read_to_string(&path).map_err(|source| CgroupError::Read {
        path: path.clone(),
        source,
    })?;
    if enabled.split_whitespace().any(|w| w == controller.name()) {
        return Ok(());
    }
    let value = format!("+{}", controller.name());
    let result = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    result.map_err(|source| {
        let fix = match source.raw_os_error() {
            Some(libc::EBUSY) => "cgroup v2 gives no controllers to children of a cgroup that holds processes (no-internal-process rule); run corral from a leaf cgroup whose parent holds no processes, e.g. systemd-run --user --scope -p Delegate=yes corral run ...",
            _ => FIX_PRIVILEGE,
        };
        CgroupError::EnableController { controller: controller.name(), path: path.clone(), source, fix }
    })
}

fn missing(support: &CgroupSupport, c: Controller, limit: &'static str) -> CgroupError {
    CgroupError::MissingController {
        controller: c.name(),
        limit,
        support: support.describe(),
        fix: "enable the controller for corral's cgroup, or pass --allow-degraded to run without this limit",
    }
}

fn check_run_id(run_id: &str) -> Result<(), CgroupError> {
    if run_id.is_empty() || run_id == "." || run_id == ".." || run_id.contains(['/', '\0']) {
        return Err(CgroupError::InvalidRunId(run_id.to_owned()));
    }
    Ok(())
}

/// Creates the run's cgroup: `<base>/corral/<run_id>` with the limits the
/// plan asks for. On cgroup v2 one directory with `memory.max` (and
/// `memory.swap.max` = 0 when swap accounting exists), `pids.max` and
/// `cpu.max`; on v1 one directory in each controller the limits need plus
/// the freezer. Fails closed: a limit whose controller is missing is an
/// error, never silently dropped. Anything created before a failure is
/// removed again.
pub fn create(
    support: &CgroupSupport,
    run_id: &str,
    limits: &LimitsPlan,
) -> Result<Cgroup, CgroupError> {
    check_run_id(run_id)?;
    let quota = limits.cpus.map(cpu_quota_us).transpose()?;
    let available = support.controllers();
    if let CgroupSupport::Unavailable { reason, fix } = support {
        return Err(CgroupError::Unavailable {
            reason: reason.clone(),
            fix: fix.clone(),
        });
    }
    let needed = needed(limits);
    if let Some(&(c, limit)) = needed.iter().find(|(c, _)| !available.contains(c)) {
        return Err(missing(support, c, limit));
    }
    let summary = summary(limits);
    let layout = match support {
        CgroupSupport::V2 { .. } => Layout::V2 { dir: None },
        _ => Layout::V1 {
            memory: None,
            pids: None,
            cpu: None,
            freezer: None,
        },
    };
    // From here on, dropping `cgroup` on an error removes what exists.
    let mut cgroup = Cgroup {
        layout,
        summary,
        destroyed: false,
        owner: nix::unistd::Pid::this(),
    };
    match (support, &mut cgroup.layout) {
        (CgroupSupport::V2 { dir: base, .. }, Layout::V2 { dir }) => {
            let parent = base.join("corral");
            for &(c, _) in &needed {
                enable(base, c)?;
            }
            ensure_dir(&parent)?;
            for &(c, _) in &needed {
                enable(&parent, c)?;
            }
            let run = dir.insert(create_run_dir(&parent.join(run_id))?);
            write_files(run, &v2_files(limits, quota))?;
        }
        (
            CgroupSupport::V1 {
                memory: m,
                pids: p,
                cpu: c,
                freezer: f,
            },
            Layout::V1 {
                memory,
                pids,
                cpu,
                freezer,
            },
        ) => {
            // Co-mounted controllers (e.g. memory,freezer) share a directory.
            let mut created: Vec<PathBuf> = Vec::new();
            let mut make = |base: &Path| -> Result<PathBuf, CgroupError> {
                let run = base.join("corral").join(run_id);
                if !created.contains(&run) {
                    ensure_dir(&base.join("corral"))?;
                    created.push(create_run_dir(&run)?);
                }
                Ok(run)
            };
            let base =
                |dir: &Option<PathBuf>, c: Controller, limit| -> Result<PathBuf, CgroupError> {
                    dir.clone().ok_or_else(|| missing(support, c, limit))
                };
            if let Some(f) = f {
                *freezer = Some(make(f)?);
            }
            if limits.memory_bytes.is_some() {
                let dir = memory.insert(make(&base(m, Controller::Memory, "memory")?)?);
                write_files(dir, &v1_files(Controller::Memory, limits, quota))?;
            }
            if limits.pids.is_some() {
                let dir = pids.insert(make(&base(p, Controller::Pids, "pids")?)?);
                write_files(dir, &v1_files(Controller::Pids, limits, quota))?;
            }
            if quota.is_some() {
                let dir = cpu.insert(make(&base(c, Controller::Cpu, "cpus")?)?);
                write_files(dir, &v1_files(Controller::Cpu, limits, quota))?;
            }
        }
        _ => {}
    }
    Ok(cgroup)
}
