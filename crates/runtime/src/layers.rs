//! Decides which isolation layers a run gets on this machine, fails closed
//! when one the policy needs is missing (unless degraded mode is allowed),
//! prepares them (seccomp program, cgroup) and renders the one-line header.

use anyhow::{bail, Context, Result};
use corral_policy::ByteSize;
use corral_sandbox::cgroup::{self, Cgroup, CgroupSupport};
use corral_sandbox::plan::{LimitsPlan, SandboxPlan};
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
#[derive(Debug)]
struct Missing {
    what: String,
    fix: String,
}

/// The machine's facts that decide the layers, injected so that the
/// decisions are testable anywhere.
struct Facts {
    landlock_abi: Option<u32>,
    /// Detected only when the limits need a cgroup.
    cgroup: Option<CgroupSupport>,
}

/// pids alone needs no cgroup: RLIMIT_NPROC is counted per user namespace
/// (Linux >= 5.14) and the sandbox's host uid is never root, so it bounds
/// exactly the sandbox's processes and threads. Memory and CPU need one.
fn needs_cgroup(limits: &LimitsPlan) -> bool {
    limits.memory_bytes.is_some() || limits.cpus.is_some()
}

/// What the policy needs and the machine lacks (pure).
fn missing_layers(limits: &LimitsPlan, facts: &Facts) -> Vec<Missing> {
    let mut missing = Vec::new();
    if facts.landlock_abi.is_none() {
        missing.push(Missing {
            what: "Landlock (the second filesystem layer) is not available in this kernel".into(),
            fix: "use a kernel >= 5.13 built with CONFIG_SECURITY_LANDLOCK and `landlock` in the lsm= boot parameter".into(),
        });
    }
    if let Some(CgroupSupport::Unavailable { reason, fix }) = &facts.cgroup {
        if limits.memory_bytes.is_some() {
            missing.push(Missing {
                what: format!(
                    "memory limit: no cgroup ({reason}); only a per-process RLIMIT_DATA applies, not a limit for the whole sandbox"
                ),
                fix: fix.clone(),
            });
        }
        if limits.cpus.is_some() {
            missing.push(Missing {
                what: format!("cpus limit: no cgroup ({reason}); the CPU limit is not enforced"),
                fix: fix.clone(),
            });
        }
    }
    missing
}

/// The refusal, naming each missing layer and its fix.
fn refusal(missing: &[Missing]) -> String {
    let mut msg =
        String::from("refusing to run: the policy needs isolation this machine cannot provide:");
    for m in missing {
        let _ = write!(msg, "\n  - {}", m.what);
        if !m.fix.is_empty() {
            let _ = write!(msg, "\n    fix: {}", m.fix);
        }
    }
    msg.push_str("\n  (`corral doctor` shows every layer; pass --allow-degraded to run without these, at your own risk)");
    msg
}

pub fn prepare(plan: &SandboxPlan, run_id: &str) -> Result<Layers> {
    let limits = &plan.limits;
    let facts = Facts {
        landlock_abi: landlock::abi_version(),
        cgroup: needs_cgroup(limits).then(cgroup::probe),
    };
    let mut missing = missing_layers(limits, &facts);
    let mut memory_rlimit_fallback = limits.memory_bytes.is_some()
        && matches!(facts.cgroup, Some(CgroupSupport::Unavailable { .. }));
    let mut cgroup = None;
    if let Some(support) = facts
        .cgroup
        .as_ref()
        .filter(|s| !matches!(s, CgroupSupport::Unavailable { .. }))
    {
        match cgroup::create(support, run_id, limits) {
            Ok(cg) => cgroup = Some(cg),
            Err(e) if plan.allow_degraded => {
                missing.push(Missing {
                    what: format!("cgroup limits: {e}"),
                    fix: String::new(),
                });
                memory_rlimit_fallback = limits.memory_bytes.is_some();
            }
            Err(e) => {
                return Err(e).context(
                    "cannot create the sandbox's cgroup (pass --allow-degraded to run without it)",
                )
            }
        }
    }
    if !missing.is_empty() && !plan.allow_degraded {
        bail!(refusal(&missing));
    }
    let filter = seccomp::build(&plan.seccomp).context("cannot build the seccomp filter")?;
    Ok(Layers {
        filter,
        cgroup,
        landlock_abi: facts.landlock_abi,
        memory_rlimit_fallback,
        off: missing.into_iter().map(|m| m.what).collect(),
    })
}

impl Layers {
    /// The one-line header: which layers are in force.
    pub fn header(
        &self,
        plan: &SandboxPlan,
        net: Option<&corral_policy::net::NetPolicy>,
        labels: &[(String, String)],
    ) -> String {
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
                    limits.push(format!("memory={} per process (rlimit)", ByteSize(m)));
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
            limits.push(format!("fsize={}", ByteSize(f)));
        }
        if let Some(t) = l.timeout {
            limits.push(format!("timeout={}s", t.as_secs()));
        }
        if !limits.is_empty() {
            let _ = write!(h, " | limits {}", limits.join(" "));
        }
        match net {
            Some(net) => {
                let _ = write!(
                    h,
                    " | net proxy: {} allow, {} deny",
                    net.allow.len(),
                    net.deny.len()
                );
            }
            None => h.push_str(" | net none"),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unavailable() -> CgroupSupport {
        CgroupSupport::Unavailable {
            reason: "v1 not writable".into(),
            fix: "run as root".into(),
        }
    }

    fn limits(memory: bool, cpus: bool, pids: bool) -> LimitsPlan {
        LimitsPlan {
            memory_bytes: memory.then_some(64 << 20),
            cpus: cpus.then_some(0.5),
            pids: pids.then_some(64),
            ..LimitsPlan::default()
        }
    }

    #[test]
    fn pids_alone_needs_no_cgroup() {
        assert!(!needs_cgroup(&limits(false, false, true)));
        assert!(needs_cgroup(&limits(true, false, false)));
        assert!(needs_cgroup(&limits(false, true, false)));
    }

    #[test]
    fn no_landlock_is_a_missing_layer_with_its_fix() {
        let m = missing_layers(
            &limits(false, false, true),
            &Facts {
                landlock_abi: None,
                cgroup: None,
            },
        );
        assert_eq!(m.len(), 1);
        assert!(m[0].what.contains("Landlock"));
        assert!(m[0].fix.contains("CONFIG_SECURITY_LANDLOCK"));
        let msg = refusal(&m);
        assert!(msg.starts_with("refusing to run"));
        assert!(msg.contains("fix: use a kernel"));
        assert!(msg.contains("--allow-degraded"));
    }

    #[test]
    fn memory_and_cpus_without_a_cgroup_are_missing_each() {
        let facts = Facts {
            landlock_abi: Some(7),
            cgroup: Some(unavailable()),
        };
        let m = missing_layers(&limits(true, true, true), &facts);
        let whats: Vec<&str> = m.iter().map(|m| m.what.as_str()).collect();
        assert_eq!(m.len(), 2, "{whats:?}");
        assert!(whats[0].starts_with("memory limit: no cgroup (v1 not writable)"));
        assert!(whats[1].starts_with("cpus limit: no cgroup"));
        assert!(m.iter().all(|m| m.fix == "run as root"));
    }

    #[test]
    fn a_machine_with_everything_misses_nothing() {
        let facts = Facts {
            landlock_abi: Some(7),
            cgroup: Some(CgroupSupport::V2 {
                dir: "/sys/fs/cgroup".into(),
                controllers: Vec::new(),
            }),
        };
        assert!(missing_layers(&limits(true, true, true), &facts).is_empty());
    }
}
