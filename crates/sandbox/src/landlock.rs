//! Landlock, the second filesystem layer: the same read/write sets as the
//! mounts, enforced by the LSM, so that a mistake in the mount plan (or a
//! way around it) still meets a wall.
//!
//! [`restrict`] runs in the forked child after pivot_root (paths are
//! sandbox paths) and before seccomp. It handles every filesystem right the
//! `landlock` crate knows ([`TARGET_ABI`]) in best-effort mode: on an older
//! kernel the rights it lacks are dropped and the status says
//! `PartiallyEnforced`. On ABI >= 6 it also scopes abstract unix sockets
//! and signals to the sandbox. TCP is not restricted: the sandbox reaches
//! the egress proxy over loopback TCP.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetError, RulesetStatus, Scope, ABI,
};

use crate::plan::LandlockPlan;

/// The newest ABI whose rights are requested. Best effort lowers it to the
/// running kernel's. ABI 9 adds `ResolveUnix` (connecting to pathname unix
/// sockets), granted only beneath write paths: a socket visible through a
/// read-only bind (e.g. a container runtime's) cannot be connected to.
pub const TARGET_ABI: ABI = ABI::V9;

/// `LANDLOCK_CREATE_RULESET_VERSION` (linux/landlock.h).
const CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;

/// How much of the requested restriction the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// Every requested right is enforced.
    FullyEnforced,
    /// The kernel's ABI is older than [`TARGET_ABI`]: some rights are not
    /// enforced (the rest are).
    PartiallyEnforced,
    /// Landlock is unavailable (not built in, or not enabled at boot).
    NotEnforced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LandlockStatus {
    /// The kernel's Landlock ABI version, 0 when unavailable.
    pub abi: u32,
    pub enforced: Enforcement,
}

#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    #[error("Landlock: creating the ruleset failed: {source}")]
    Ruleset {
        #[source]
        source: RulesetError,
    },
    #[error("Landlock: cannot open {kind} path {path}: {source}; check that it is a searchable path inside the sandbox")]
    Open {
        kind: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("Landlock: adding the {kind} rule for {path} failed: {source}")]
    AddRule {
        kind: &'static str,
        path: PathBuf,
        #[source]
        source: RulesetError,
    },
    #[error("Landlock: enforcing the ruleset failed: {source}")]
    Restrict {
        #[source]
        source: RulesetError,
    },
}

/// The kernel's Landlock ABI version, `None` when Landlock is not built in
/// or not enabled at boot.
pub fn abi_version() -> Option<u32> {
    // SAFETY: the documented version query: NULL attributes, size 0; the
    // kernel reads no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).ok().filter(|&v| v > 0)
}

/// The rights granted beneath each kind of path.
struct Grants {
    read: BitFlags<AccessFs>,
    write: BitFlags<AccessFs>,
    device: BitFlags<AccessFs>,
}

fn grants(abi: ABI) -> Grants {
    let mut device = AccessFs::from_file(abi);
    // Device files: read, write, truncate, ioctl (ABI >= 5); never execute.
    device.remove(AccessFs::Execute);
    Grants {
        read: AccessFs::from_read(abi),
        write: AccessFs::from_all(abi),
        device,
    }
}

/// Restricts the calling process (and its future children) to `plan`.
/// Paths that do not exist are skipped.
pub fn restrict(plan: &LandlockPlan) -> Result<LandlockStatus, LandlockError> {
    let g = grants(TARGET_ABI);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(TARGET_ABI))
        .and_then(|r| r.scope(Scope::from_all(TARGET_ABI)))
        .and_then(Ruleset::create)
        .map_err(|source| LandlockError::Ruleset { source })?;
    for (kind, paths, access) in [
        ("read", &plan.read, g.read),
        ("write", &plan.write, g.write),
        ("device", &plan.devices, g.device),
    ] {
        for path in paths {
            ruleset = add(ruleset, kind, path, access)?;
        }
    }
    let status = ruleset
        .restrict_self()
        .map_err(|source| LandlockError::Restrict { source })?;
    let enforced = match status.ruleset {
        RulesetStatus::FullyEnforced => Enforcement::FullyEnforced,
        RulesetStatus::PartiallyEnforced => Enforcement::PartiallyEnforced,
        RulesetStatus::NotEnforced => Enforcement::NotEnforced,
    };
    Ok(LandlockStatus {
        abi: abi_version().unwrap_or(0),
        enforced,
    })
}

fn add(
    ruleset: RulesetCreated,
    kind: &'static str,
    path: &Path,
    access: BitFlags<AccessFs>,
) -> Result<RulesetCreated, LandlockError> {
    let open_err = |source| LandlockError::Open {
        kind,
        path: path.to_owned(),
        source,
    };
    let fd: File = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ruleset),
        Err(e) => return Err(open_err(e)),
    };
    // Directory-only rights on a file would make the crate report a
    // partial ruleset; keep the rights that apply to files.
    let access = if fd.metadata().map_err(open_err)?.is_dir() {
        access
    } else {
        access & AccessFs::from_file(TARGET_ABI)
    };
    ruleset
        .add_rule(PathBeneath::new(fd, access))
        .map_err(|source| LandlockError::AddRule {
            kind,
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests;
