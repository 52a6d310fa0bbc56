//! The seccomp deny filter: the sandbox's escape surface (other processes,
//! mounts, namespaces, kernel attack surface) returns EPERM.
//!
//! The rules are data ([`rules`], in `table.rs`). [`build`] checks them and
//! compiles them (`codegen.rs`, on the instruction builder of `bpf.rs`)
//! before fork, once per plan variant and process; [`Filter::install`] runs
//! in the forked child right before execve and does not allocate.
//!
//! The program checks the architecture and the x32 bit, then finds the
//! syscall number by binary search. Everything but the argument checks of
//! `ioctl`, `socket`, `clone`, `personality` and of the calls that set a
//! file mode (`open`, `openat`, `creat`, `chmod`, `fchmod`, `fchmodat`,
//! `fchmodat2`, `mknod`, `mknodat`: S_ISUID/S_ISGID) depends on the
//! syscall number alone, so the kernel's seccomp action cache answers all
//! other allowed syscalls without running the filter.
//!
//! Why our own code generator rather than seccompiler (or libseccomp):
//! seccompiler emits one JEQ per rule in a line, which every uncached call
//! walks and which the kernel walks once per syscall number when it fills
//! its action cache at install; it also has no x32 guard and one action per
//! filter. The generator is small, and `tests/reference.rs` checks its
//! output against a plain reading of the table for every syscall number.

mod bpf;
mod codegen;
pub mod events;
pub mod monitor;
mod table;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::OnceLock;

use nix::errno::Errno;

use crate::plan::SeccompPlan;
use codegen::Entry;
pub use table::{
    rule_for, rules, watch_for, watches, Action, ArgCmp, Args, Cmp, Rule, WatchedSyscall, When,
};

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("corral's seccomp filter supports x86_64 and aarch64 only");

/// The kernel's limit on a seccomp program's length (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp rule `{rule}` {problem}; fix the rule table")]
    InvalidRule {
        rule: &'static str,
        problem: &'static str,
    },
    #[error("seccomp rule `{rule}` returns ENOSYS but has argument conditions; only number-only rules may return ENOSYS, fix the rule table")]
    ConditionalEnosys { rule: &'static str },
    #[error(
        "seccomp rules `{first}` and `{second}` both name syscall number {nr}; fix the rule table"
    )]
    DuplicateNumber {
        nr: u32,
        first: &'static str,
        second: &'static str,
    },
    #[error("the seccomp deny filter has {len} instructions, more than the kernel's limit of {MAX_INSTRUCTIONS}")]
    TooLong { len: usize },
    #[error("installing the seccomp deny filter failed: {errno}: {hint}")]
    Install { errno: Errno, hint: &'static str },
}

/// A compiled deny filter, ready to install (cheap to copy: the program
/// is compiled once per plan variant and kept for the process's life).
#[derive(Clone, Copy)]
pub struct Filter {
    program: &'static [libc::sock_filter],
    rule_count: usize,
    /// Installed with a listener (see [`monitor`]).
    notify: bool,
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

/// Checks the rule's shape and turns it into a code generator entry.
fn entry(rule: &Rule, nr: i64) -> Result<Entry, SeccompError> {
    let invalid = |problem| SeccompError::InvalidRule {
        rule: rule.name,
        problem,
    };
    let nr = u32::try_from(nr)
        .ok()
        .filter(|&nr| nr < bpf::X32_SYSCALL_BIT)
        .ok_or_else(|| invalid("has a syscall number outside 0..0x40000000"))?;
    if let Args::AnyOf(alternatives) = rule.args {
        if rule.action == Action::Enosys {
            return Err(SeccompError::ConditionalEnosys { rule: rule.name });
        }
        if alternatives.is_empty() || alternatives.iter().any(|all_of| all_of.is_empty()) {
            return Err(invalid(
                "has an empty argument condition (a number-only rule is Args::Any)",
            ));
        }
        if alternatives
            .iter()
            .flat_map(|a| a.iter())
            .any(|c| c.index > 5)
        {
            return Err(invalid("compares an argument index above 5"));
        }
    }
    Ok(Entry {
        nr,
        action: rule.action,
        args: rule.args,
        watch: false,
    })
}

/// A compiled program and the number of table rules in it.
struct Compiled {
    program: Box<[libc::sock_filter]>,
    rule_count: usize,
    notify: bool,
}

/// Checks the rules `plan` selects and compiles them (uncached).
fn compile(plan: &SeccompPlan) -> Result<Compiled, SeccompError> {
    compile_rules(rules().iter().filter(|r| applies(r, plan)), plan.notify)
}

/// Checks `rules` (those without a number here are skipped) and compiles
/// them; in `notify` mode with the monitor's watched calls.
fn compile_rules<'a>(
    rules: impl Iterator<Item = &'a Rule>,
    notify: bool,
) -> Result<Compiled, SeccompError> {
    let mut selected: Vec<(&'static str, Entry)> = Vec::with_capacity(64);
    for rule in rules {
        let Some(nr) = rule.nr else { continue };
        selected.push((rule.name, entry(rule, nr)?));
    }
    let rule_count = selected.len();
    if notify {
        for watch in watches() {
            let Some(nr) = watch.nr else { continue };
            let nr = nr as u32;
            match selected.iter_mut().find(|(_, e)| e.nr == nr) {
                // A call both denied (on some arguments) and watched (on
                // others): notified when either matches; the supervisor
                // applies the deny rule first.
                Some((name, e)) => {
                    if e.action != Action::Eperm {
                        return Err(SeccompError::InvalidRule {
                            rule: name,
                            problem: "returns ENOSYS but is also watched by the monitor",
                        });
                    }
                    e.args = union(e.args, watch.when);
                    e.watch = true;
                }
                None => selected.push((
                    watch.name,
                    Entry {
                        nr,
                        action: Action::Eperm,
                        args: watch.when,
                        watch: true,
                    },
                )),
            }
        }
    }
    selected.sort_unstable_by_key(|(_, e)| e.nr);
    if let Some(w) = selected.windows(2).find(|w| w[0].1.nr == w[1].1.nr) {
        return Err(SeccompError::DuplicateNumber {
            nr: w[0].1.nr,
            first: w[0].0,
            second: w[1].0,
        });
    }
    let entries: Vec<Entry> = selected.iter().map(|(_, e)| *e).collect();
    Ok(Compiled {
        program: compile_entries(&entries, notify)?,
        rule_count,
        notify,
    })
}

/// Calls selected by `a` or by `b`. The merged list is made once per plan
/// variant (programs are cached for the process's life), so it is leaked.
fn union(a: Args, b: Args) -> Args {
    match (a, b) {
        (Args::AnyOf(a), Args::AnyOf(b)) => {
            let both: Vec<&'static [ArgCmp]> = a.iter().chain(b.iter()).copied().collect();
            Args::AnyOf(Box::leak(both.into_boxed_slice()))
        }
        _ => Args::Any,
    }
}

/// Compiles checked `entries` (sorted, unique) within the kernel's limit.
fn compile_entries(
    entries: &[Entry],
    notify: bool,
) -> Result<Box<[libc::sock_filter]>, SeccompError> {
    let program = codegen::compile(entries, notify);
    if program.len() > MAX_INSTRUCTIONS {
        return Err(SeccompError::TooLong { len: program.len() });
    }
    Ok(program.into_boxed_slice())
}

/// Compiles the deny filter for `plan` (once per plan variant; later calls
/// return the same program). Call before fork: the first call allocates.
pub fn build(plan: &SeccompPlan) -> Result<Filter, SeccompError> {
    // Every field of the plan is part of the cache key (a new field fails
    // to compile here until it is).
    let SeccompPlan {
        allow_nested_namespaces,
        deny_affinity_changes,
        notify,
    } = *plan;
    static COMPILED: [OnceLock<Result<Compiled, SeccompError>>; 8] = [const { OnceLock::new() }; 8];
    let slot = usize::from(allow_nested_namespaces)
        | usize::from(deny_affinity_changes) << 1
        | usize::from(notify) << 2;
    match COMPILED[slot].get_or_init(|| compile(plan)) {
        Ok(compiled) => Ok(Filter {
            program: &compiled.program,
            rule_count: compiled.rule_count,
            notify: compiled.notify,
        }),
        Err(e) => Err(e.clone()),
    }
}

impl Filter {
    /// Installs the filter on the calling thread. For the forked child right
    /// before execve, after `PR_SET_NO_NEW_PRIVS`: it does not allocate.
    /// In notify mode, returns the listener the supervisor must serve.
    pub fn install(&self) -> Result<Option<std::os::fd::OwnedFd>, SeccompError> {
        // `compile` keeps the program within MAX_INSTRUCTIONS (< u16::MAX).
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr().cast_mut(),
        };
        let flags = if self.notify {
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as libc::c_uint
        } else {
            0
        };
        // SAFETY: `prog` points to `self.program`, which outlives the call;
        // the kernel copies the program and does not write through the
        // pointer despite its `*mut` type.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc >= 0 && self.notify {
            // SAFETY: seccomp returned a new listener descriptor nobody else owns.
            return Ok(Some(unsafe {
                <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(rc as i32)
            }));
        }
        if rc == 0 {
            return Ok(None);
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
