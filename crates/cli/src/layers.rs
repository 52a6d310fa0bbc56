//! Decides which isolation layers a run gets on this machine, fails closed
//! when one the policy needs is missing (unless degraded mode is allowed),
//! prepares them (seccomp program, cgroup) and renders the one-line header.

use anyhow::{bail, Context, Result};
use corral_sandbox::cgroup::{self, Cgroup, CgroupSupport};
use corral_sandbox::plan::Plan;
use corral_sandbox::{landlock, seccomp};
use std::fmt::Write as _;

/// Everything prepared for one launch.
pub struct Layers {
    pub filter: seccomp::Filter,
    pub cgroup: Option<Cgroup>,
    pub landlock_abi: Option<u32>,
    /// Memory is limited per process with RLIMIT_DATA (no cgroup).
    pub memory_rlimit_fallback: bool,
    /// Layers that are off, each with the reason (degraded mode only).
    pub off: Vec<String>,
}

/// A layer the policy needs but this machine cannot provide.
struct Missing {
    what: String,
    fix: String,
}

pub fn prepare(plan: &Plan, run_id: &str) -> Result<Layers> {
    let mut missing: Vec<Missing> = Vec::new();
    let landlock_abi = landlock::abi_version();
    if landlock_abi.is_none() {
        missing.push(Missing {
            what: "Landlock (the second filesystem layer) is not available in this kernel".into(),
            fix: "use a kernel >= 5.13 built with CONFIG_SECURITY_LANDLOCK and `landlock` in the lsm= boot parameter".into(),
        });
    }
    let limits = &plan.limits;
    // pids alone needs no cgroup: RLIMIT_NPROC is counted per user namespace
    // (Linux >= 5.14), so inside the sandbox's own namespace it bounds
    // exactly the sandbox's processes and threads. Skipping the cgroup keeps
    // launches fast; memory and CPU need one.
    let mut cgroup = None;
    let mut memory_rlimit_fallback = false;
    if limits.memory_bytes.is_some() || limits.cpus.is_some() {
        let support = cgroup::detect();
        match &support {
            CgroupSupport::Unavailable { reason, fix } => {
                if limits.memory_bytes.is_some() {
                    memory_rlimit_fallback = true;
                    missing.push(Missing {
                        what: format!(
                            "memory limit: no cgroup ({reason}); only a per-process RLIMIT_DATA applies, not a limit for the whole sandbox"
                        ),
                        fix: fix.clone(),
                    });
                }
                if limits.cpus.is_some() {
                    missing.push(Missing {
                        what: format!(
                            "cpus limit: no cgroup ({reason}); the CPU limit is not enforced"
                        ),
                        fix: fix.clone(),
                    });
                }
            }
            _ => match cgroup::create(&support, run_id, limits) {
                Ok(cg) => cgroup = Some(cg),
                Err(e) if plan.allow_degraded => {
                    missing.push(Missing {
                        what: format!("cgroup limits: {e}"),
                        fix: String::new(),
                    });
                    memory_rlimit_fallback = limits.memory_bytes.is_some();
                }
                Err(e) => return Err(e).context(
                    "cannot create the sandbox's cgroup (pass --allow-degraded to run without it)",
                ),
            },
        }
    }
    if !missing.is_empty() && !plan.allow_degraded {
        let mut msg = String::from(
            "refusing to run: the policy needs isolation this machine cannot provide:",
        );
        for m in &missing {
            let _ = write!(msg, "\n  - {}", m.what);
            if !m.fix.is_empty() {
                let _ = write!(msg, "\n    fix: {}", m.fix);
            }
        }
        msg.push_str("\n  (`corral doctor` shows every layer; pass --allow-degraded to run without these, at your own risk)");
        bail!(msg);
    }
    let filter = seccomp::build(&plan.seccomp).context("cannot build the seccomp filter")?;
    Ok(Layers {
        filter,
        cgroup,
        landlock_abi,
        memory_rlimit_fallback,
        off: missing.into_iter().map(|m| m.what).collect(),
    })
}

impl Layers {
    /// The one-line header: which layers are in force.
    pub fn header(&self, plan: &Plan, labels: &[(String, String)]) -> String {
        let mut h = String::from("corral: sandbox: namespaces user,mnt,pid,net,ipc,uts,cgroup");
        match self.landlock_abi {
            Some(abi) => {
                let _ = write!(h, " | landlock v{abi}");
            }
            None => h.push_str(" | landlock OFF"),
        }
        let _ = write!(h, " | seccomp {} rules", self.filter.rule_count());
        let l = &plan.limits;
        let mut limits: Vec<String> = Vec::new();
        match &self.cgroup {
            Some(cg) => limits.push(cg.describe()),
            None => {
                if let Some(m) = l.memory_bytes {
                    limits.push(format!("memory={} per process (rlimit)", human_bytes(m)));
                }
            }
        }
        if let (Some(p), None) = (l.pids, &self.cgroup) {
            limits.push(format!("pids={p}"));
        }
        if let Some(n) = l.open_files {
            limits.push(format!("nofile={n}"));
        }
        if let Some(f) = l.file_size_bytes {
            limits.push(format!("fsize={}", human_bytes(f)));
        }
        if let Some(t) = l.timeout {
            limits.push(format!("timeout={}s", t.as_secs()));
        }
        if !limits.is_empty() {
            let _ = write!(h, " | limits {}", limits.join(" "));
        }
        h.push_str(" | net none");
        if !labels.is_empty() {
            let joined: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(h, " | labels {}", joined.join(","));
        }
        if !self.off.is_empty() {
            let _ = write!(h, " | DEGRADED: {}", self.off.join("; "));
        }
        h
    }
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("T", 1 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ];
    for (name, size) in UNITS {
        if b >= size && b % size == 0 {
            return format!("{}{name}", b / size);
        }
    }
    b.to_string()
}
