//! What this machine supports, for `corral doctor` and for failing closed.
//!
//! [`Probe::quick`] reads files and makes harmless syscalls (no fork, no
//! namespace): cheap enough for every `corral run`. [`Probe::full`] also
//! forks a child that creates a user namespace, maps its ids, creates each
//! other namespace inside it and clones the mount tree, for `corral doctor`.
//!
//! The mount API is probed with `mount_setattr(-1, NULL, 0, NULL, 0)`,
//! which the kernel rejects with EINVAL while validating the size argument
//! (nothing is touched), and with ENOSYS when the syscall does not exist or
//! a container runtime's seccomp profile hides it. That is more reliable
//! than comparing `uname` with 5.12: distribution kernels backport, and a
//! new kernel behind a seccomp profile still cannot use the syscalls.
//! `mount_setattr` (5.12) is the newest of open_tree/move_mount/fsopen.

mod userns;

pub use userns::{explain as explain_userns, TrialFailure, UsernsKnobs};

use crate::cgroup::{self, CgroupSupport};
use nix::errno::Errno;
use std::path::Path;

/// Whether one feature is usable, with the detail or the reason and fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    Yes(String),
    No { reason: String, fix: String },
}

impl Support {
    pub fn is_yes(&self) -> bool {
        matches!(self, Support::Yes(_))
    }

    fn no(reason: impl Into<String>, fix: impl Into<String>) -> Support {
        Support::No {
            reason: reason.into(),
            fix: fix.into(),
        }
    }
}

/// The isolation features of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `uname -r`.
    pub kernel: String,
    pub user_namespaces: Support,
    /// open_tree, move_mount, mount_setattr (Linux 5.12).
    pub mount_api: Support,
    pub landlock: Support,
    /// The Landlock ABI version, None when Landlock is unavailable.
    pub landlock_abi: Option<u32>,
    pub seccomp_filter: Support,
    pub no_new_privs: Support,
    pub cgroup: CgroupSupport,
    pub pid_namespace: Support,
    pub net_namespace: Support,
    pub ipc_namespace: Support,
    pub uts_namespace: Support,
    pub cgroup_namespace: Support,
    /// Whether the forked checks ran ([`Probe::full`]).
    pub tried: bool,
}

/// Namespace kinds other than user/mount: (/proc/self/ns name, config
/// option, trial step index).
const NAMESPACES: [(&str, &str, usize); 5] = [
    ("pid", "CONFIG_PID_NS", 5),
    ("net", "CONFIG_NET_NS", 6),
    ("ipc", "CONFIG_IPC_NS", 7),
    ("uts", "CONFIG_UTS_NS", 8),
    ("cgroup", "CONFIG_CGROUPS", 9),
];

impl Probe {
    /// The checks without fork or namespaces (see the module docs).
    pub fn quick() -> Probe {
        let landlock_abi = crate::landlock::abi_version();
        let [pid, net, ipc, uts, cgroup_ns] = NAMESPACES.map(|(name, config, _)| {
            namespace_exists(Path::new("/proc/self/ns").join(name).exists(), name, config)
        });
        Probe {
            kernel: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            user_namespaces: explain_userns(&UsernsKnobs::read(), None),
            mount_api: explain_mount_api(mount_setattr_probe(), None),
            landlock: explain_landlock(landlock_abi),
            landlock_abi,
            seccomp_filter: explain_seccomp(
                &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
                get_seccomp(),
                seccomp_action_avail(libc::SECCOMP_RET_ERRNO),
                seccomp_action_avail(libc::SECCOMP_RET_USER_NOTIF),
            ),
            no_new_privs: match nix::sys::prctl::get_no_new_privs() {
                Ok(set) => Support::Yes(format!(
                    "prctl(PR_SET_NO_NEW_PRIVS) available (currently {})",
                    if set { "set" } else { "not set" }
                )),
                Err(e) => Support::no(
                    format!("prctl(PR_GET_NO_NEW_PRIVS) failed: {e}"),
                    "use Linux >= 3.5",
                ),
            },
            cgroup: cgroup::probe(),
            pid_namespace: pid,
            net_namespace: net,
            ipc_namespace: ipc,
            uts_namespace: uts,
            cgroup_namespace: cgroup_ns,
            tried: false,
        }
    }

    /// [`Probe::quick`] plus the forked trial of user namespaces, every
    /// other namespace inside one, and a detached mount tree clone.
    pub fn full() -> Probe {
        let mut probe = Probe::quick();
        let Some(results) = userns::trial() else {
            return probe;
        };
        probe.tried = true;
        let outcome = userns::userns_outcome(&results);
        probe.user_namespaces = explain_userns(&UsernsKnobs::read(), Some(outcome));
        if outcome.is_err() {
            return probe;
        }
        let slots = [
            &mut probe.pid_namespace,
            &mut probe.net_namespace,
            &mut probe.ipc_namespace,
            &mut probe.uts_namespace,
            &mut probe.cgroup_namespace,
        ];
        for (slot, (_, _, step)) in slots.into_iter().zip(NAMESPACES) {
            *slot = match results[step] {
                0 => Support::Yes(format!("{} works in a user namespace", userns::STEPS[step])),
                e => Support::no(
                    format!("{} failed in a user namespace: {}", userns::STEPS[step], Errno::from_raw(e)),
                    "check the container runtime's seccomp profile and the kernel's namespace options",
                ),
            };
        }
        probe.mount_api = explain_mount_api(mount_setattr_probe(), Some(results[10]));
        probe
    }

    /// Every item with its name, in display order (for `corral doctor`).
    pub fn items(&self) -> Vec<(&'static str, Support)> {
        let cgroup = match &self.cgroup {
            CgroupSupport::Unavailable { reason, fix } => Support::no(reason.clone(), fix.clone()),
            other => Support::Yes(other.describe()),
        };
        vec![
            ("user namespaces", self.user_namespaces.clone()),
            ("mount API", self.mount_api.clone()),
            ("pid namespace", self.pid_namespace.clone()),
            ("net namespace", self.net_namespace.clone()),
            ("ipc namespace", self.ipc_namespace.clone()),
            ("uts namespace", self.uts_namespace.clone()),
            ("cgroup namespace", self.cgroup_namespace.clone()),
            ("landlock", self.landlock.clone()),
            ("seccomp filter", self.seccomp_filter.clone()),
            ("no_new_privs", self.no_new_privs.clone()),
            ("cgroup limits", cgroup),
        ]
    }
}

fn namespace_exists(exists: bool, name: &str, config: &str) -> Support {
    if exists {
        Support::Yes(format!("/proc/self/ns/{name} exists (not tried)"))
    } else {
        Support::no(
            format!("the kernel has no {name} namespaces (/proc/self/ns/{name} is missing)"),
            format!("use a kernel built with {config}=y"),
        )
    }
}

/// Explains the mount API from the mount_setattr probe's errno and, when
/// tried, the errno of open_tree(OPEN_TREE_CLONE|AT_RECURSIVE) in a user+mount
/// namespace (0 = worked).
pub fn explain_mount_api(setattr: Errno, open_tree: Option<i32>) -> Support {
    let base = match setattr {
        Errno::EINVAL => None,
        Errno::ENOSYS => Some(("mount_setattr(2) does not exist (Linux < 5.12, or hidden by a seccomp filter)", "use Linux >= 5.12, or allow open_tree, move_mount, mount_setattr, fsopen and fsmount in the container's seccomp profile")),
        Errno::EPERM | Errno::EACCES => Some(("mount_setattr(2) is blocked by a seccomp filter or LSM", "allow open_tree, move_mount, mount_setattr, fsopen and fsmount in the container's seccomp profile")),
        _ => Some(("mount_setattr(2) probe returned an unexpected error", "report this with the output of `corral doctor`")),
    };
    match (base, open_tree) {
        (Some((reason, fix)), _) => Support::no(format!("{reason} ({setattr})"), fix),
        (None, None) => {
            Support::Yes("open_tree, move_mount and mount_setattr present (not tried)".into())
        }
        (None, Some(0)) => Support::Yes(
            "open_tree(OPEN_TREE_CLONE|AT_RECURSIVE) works in a user+mount namespace".into(),
        ),
        (None, Some(e)) => Support::no(
            format!(
                "open_tree(OPEN_TREE_CLONE|AT_RECURSIVE) failed in a user+mount namespace: {}",
                Errno::from_raw(e)
            ),
            "check the container runtime's seccomp profile and LSM policy",
        ),
    }
}

/// `mount_setattr(-1, NULL, 0, NULL, 0)`: EINVAL when the syscall exists.
fn mount_setattr_probe() -> Errno {
    let null = std::ptr::null::<libc::c_void>();
    // SAFETY: size 0 is rejected (EINVAL) before any pointer is used.
    let ret = unsafe { libc::syscall(libc::SYS_mount_setattr, -1, null, 0, null, 0) };
    if ret < 0 {
        Errno::last()
    } else {
        Errno::UnknownErrno
    }
}

/// Explains Landlock from its ABI version.
pub fn explain_landlock(abi: Option<u32>) -> Support {
    match abi {
        Some(v) => Support::Yes(format!("ABI {v}")),
        None => Support::no(
            "Landlock is not available: not built into this kernel or not enabled at boot",
            "boot with lsm=landlock,... (kernel >= 5.13 with CONFIG_SECURITY_LANDLOCK)",
        ),
    }
}

/// prctl(PR_GET_SECCOMP): the current mode, or the error.
fn get_seccomp() -> Result<i32, Errno> {
    // SAFETY: PR_GET_SECCOMP reads this thread's mode, no pointers.
    let ret = unsafe { libc::prctl(libc::PR_GET_SECCOMP) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

/// seccomp(SECCOMP_GET_ACTION_AVAIL): whether the filter action exists.
fn seccomp_action_avail(action: u32) -> bool {
    // SAFETY: the kernel reads one u32 from a live local.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    ret == 0
}

/// Explains seccomp from /proc/self/status, PR_GET_SECCOMP and which
/// filter actions the kernel has (SECCOMP_GET_ACTION_AVAIL, Linux 4.14).
pub fn explain_seccomp(
    status: &str,
    mode: Result<i32, Errno>,
    filter: bool,
    user_notif: bool,
) -> Support {
    let fix = "use a kernel >= 4.14 built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER";
    if !status.lines().any(|l| l.starts_with("Seccomp:")) {
        return Support::no(
            "no Seccomp: line in /proc/self/status: the kernel lacks CONFIG_SECCOMP",
            fix,
        );
    }
    let mode = match mode {
        Ok(0) => "none yet",
        Ok(2) => "already filtered (filters stack)",
        Ok(_) => "strict",
        Err(e) => return Support::no(format!("prctl(PR_GET_SECCOMP) failed: {e}"), fix),
    };
    if !filter {
        return Support::no("seccomp(SECCOMP_GET_ACTION_AVAIL) does not know SECCOMP_RET_ERRNO: no filter support (CONFIG_SECCOMP_FILTER) or Linux < 4.14", fix);
    }
    let notif = if user_notif {
        "user notification available"
    } else {
        "no user notification (Linux < 5.0)"
    };
    Support::Yes(format!("filters supported, {notif}, current mode: {mode}"))
}

#[cfg(test)]
mod tests;
