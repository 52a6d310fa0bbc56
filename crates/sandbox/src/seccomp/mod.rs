//! The seccomp deny filter: the sandbox's escape surface (other processes,
//! mounts, namespaces, kernel attack surface) returns EPERM.
//!
//! The rules are data ([`rules`], in `table.rs`). [`build`] compiles them
//! before fork (it allocates); [`Filter::install`] runs in the forked child
//! right before execve and does not allocate.
//!
//! Program layout (see `bpf.rs` for why the first part is hand-written):
//! 1. architecture check: a foreign ABI (i386 `int 0x80`) kills the process;
//! 2. x86_64: syscall numbers with the x32 bit return EPERM;
//! 3. number-only ENOSYS rules (clone3);
//! 4. seccompiler's program: one JEQ per denied syscall, argument checks
//!    for the few narrowed rules, default ALLOW.
//!
//! Everything but the argument checks of `ioctl`, `socket`, `clone` and
//! `personality` depends on the syscall number alone, so the kernel's
//! seccomp action cache answers all other allowed syscalls without running
//! the filter.

mod bpf;
mod table;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;

use nix::errno::Errno;
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

use crate::plan::SeccompPlan;
pub use table::{rule_for, rules, Action, ArgCmp, Args, Cmp, Rule, When};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("corral's seccomp filter supports x86_64 and aarch64 only");

#[cfg(target_arch = "x86_64")]
const TARGET_ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const TARGET_ARCH: TargetArch = TargetArch::aarch64;

/// The kernel's limit on a seccomp program's length (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error(
        "seccomp rule `{rule}` has an invalid argument comparison: {source}; fix the rule table"
    )]
    Rule {
        rule: &'static str,
        #[source]
        source: seccompiler::BackendError,
    },
    #[error("seccomp rule `{rule}` returns ENOSYS but has argument conditions; only number-only rules may return ENOSYS, fix the rule table")]
    ConditionalEnosys { rule: &'static str },
    #[error("compiling the seccomp deny filter failed: {source}")]
    Compile {
        #[source]
        source: seccompiler::BackendError,
    },
    #[error("the seccomp deny filter has {len} instructions, more than the kernel's limit of {MAX_INSTRUCTIONS}")]
    TooLong { len: usize },
    #[error("installing the seccomp deny filter failed: {errno}: {hint}")]
    Install { errno: Errno, hint: &'static str },
}

/// A compiled deny filter, ready to install.
#[derive(Clone)]
pub struct Filter {
    program: Box<[libc::sock_filter]>,
    rule_count: usize,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("rule_count", &self.rule_count)
            .finish()
    }
}

/// Whether `rule` is part of the filter for `plan` on this architecture.
fn applies(rule: &Rule, plan: &SeccompPlan) -> bool {
    let wanted = match rule.when {
        When::Always => true,
        When::UnlessNestedNamespaces => !plan.allow_nested_namespaces,
        When::DenyAffinityChanges => plan.deny_affinity_changes,
    };
    wanted && rule.nr.is_some()
}

fn condition(rule: &Rule, cmp: &ArgCmp) -> Result<SeccompCondition, SeccompError> {
    let (op, value) = match cmp.op {
        Cmp::Eq(v) => (SeccompCmpOp::Eq, v),
        Cmp::Ne(v) => (SeccompCmpOp::Ne, v),
        Cmp::MaskedEq { mask, value } => (SeccompCmpOp::MaskedEq(u64::from(mask)), value),
    };
    SeccompCondition::new(cmp.index, SeccompCmpArgLen::Dword, op, u64::from(value)).map_err(
        |source| SeccompError::Rule {
            rule: rule.name,
            source,
        },
    )
}

/// Compiles the deny filter for `plan`. Call before fork: it allocates.
pub fn build(plan: &SeccompPlan) -> Result<Filter, SeccompError> {
    let mut enosys = Vec::new();
    let mut eperm: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut rule_count = 0;
    for rule in rules().iter().filter(|r| applies(r, plan)) {
        let Some(nr) = rule.nr else { continue };
        rule_count += 1;
        match (rule.action, rule.args) {
            (Action::Enosys, Args::Any) => enosys.push(nr),
            (Action::Enosys, Args::AnyOf(_)) => {
                return Err(SeccompError::ConditionalEnosys { rule: rule.name })
            }
            (Action::Eperm, Args::Any) => {
                eperm.insert(nr, Vec::new());
            }
            (Action::Eperm, Args::AnyOf(alternatives)) => {
                let mut chain = Vec::with_capacity(alternatives.len());
                for all_of in alternatives {
                    let conditions = all_of
                        .iter()
                        .map(|c| condition(rule, c))
                        .collect::<Result<Vec<_>, _>>()?;
                    chain.push(SeccompRule::new(conditions).map_err(|source| {
                        SeccompError::Rule {
                            rule: rule.name,
                            source,
                        }
                    })?);
                }
                eperm.insert(nr, chain);
            }
        }
    }
    let compiled: seccompiler::BpfProgram = SeccompFilter::new(
        eperm,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        TARGET_ARCH,
    )
    .and_then(TryInto::try_into)
    .map_err(|source| SeccompError::Compile { source })?;
    let mut program = bpf::prefix(&enosys);
    program.extend(bpf::from_seccompiler(&compiled));
    if program.len() > MAX_INSTRUCTIONS {
        return Err(SeccompError::TooLong { len: program.len() });
    }
    Ok(Filter {
        program: program.into_boxed_slice(),
        rule_count,
    })
}

impl Filter {
    /// Installs the filter on the calling thread. For the forked child right
    /// before execve, after `PR_SET_NO_NEW_PRIVS`: it does not allocate.
    pub fn install(&self) -> Result<(), SeccompError> {
        // `build` keeps the program within MAX_INSTRUCTIONS (< u16::MAX).
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points to `self.program`, which outlives the call;
        // the kernel copies the program and does not write through the
        // pointer despite its `*mut` type.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0 as libc::c_uint,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let errno = Errno::last();
        let hint = match errno {
            Errno::EACCES => {
                "set PR_SET_NO_NEW_PRIVS before installing the filter (or run with CAP_SYS_ADMIN)"
            }
            Errno::EINVAL => {
                "the kernel lacks seccomp filters (CONFIG_SECCOMP_FILTER) or rejected the program"
            }
            Errno::ENOMEM => "too many seccomp filters are already attached to this process",
            _ => "unexpected error from seccomp(2)",
        };
        Err(SeccompError::Install { errno, hint })
    }

    /// How many table rules the filter enforces (the x32 and architecture
    /// guards are not counted).
    pub fn rule_count(&self) -> usize {
        self.rule_count
    }
}
