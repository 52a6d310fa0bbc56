//! Turns the checked rule entries into the filter program.
//!
//! Layout, first instruction first:
//! 1. architecture check: a foreign ABI (i386 `int 0x80`, arm32 compat)
//!    kills the process, since its numbers mean other syscalls;
//! 2. x86_64: numbers at or above the x32 bit return EPERM (x32 syscalls
//!    arrive with `AUDIT_ARCH_X86_64` and `nr | 0x40000000`, so without
//!    this `syscall(0x40000000 | SYS_ptrace)` would pass a number-only
//!    list);
//! 3. a balanced binary search (JGE) over the number line cut into ranges
//!    of one outcome each: ALLOW, EPERM, ENOSYS, or an argument block;
//! 4. the argument blocks (low 32 bits of the arguments, as the table
//!    specifies), then the shared `ret` instructions.
//!
//! A syscall without an argument rule is decided by the syscall number
//! alone in about log2(ranges) jumps, so the kernel's action cache answers
//! it, and precomputing that cache (one emulation per syscall number at
//! install time) stays cheap.

use super::bpf::{
    arg_low, ret_errno, Code, Label, ARCH_OFFSET, BPF_JEQ, BPF_JGE, BPF_JSET, NATIVE_ARCH,
    NR_OFFSET, X32_SYSCALL_BIT,
};
use super::table::{Action, ArgCmp, Args, Cmp};

/// One rule of the plan, checked by `mod.rs`: numbers are unique and
/// below the x32 bit, ENOSYS rules are number-only, argument indices are
/// 0..=5.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) nr: u32,
    pub(super) action: Action,
    pub(super) args: Args,
    /// Watched by the monitor (notify mode only), on the calls `args`
    /// selects: merged with the deny rule's conditions when the table also
    /// names the syscall.
    pub(super) watch: bool,
}

/// Compiles `entries` (sorted by number, unique) into a program. In
/// `notify` mode every EPERM outcome, and every watched entry, is a user
/// notification instead: the supervisor answers a denied call with EPERM
/// (and records it) and lets a watched one continue (and records it).
/// ENOSYS rules and the x32 guard still answer in the kernel.
pub(super) fn compile(entries: &[Entry], notify: bool) -> Vec<libc::sock_filter> {
    debug_assert!(entries.windows(2).all(|w| w[0].nr < w[1].nr));
    let mut code = Code::with_capacity(8 + 3 * entries.len());
    let allow = code.ret(libc::SECCOMP_RET_ALLOW);
    let eperm = code.ret(ret_errno(libc::EPERM));
    let notified = notify.then(|| code.ret(libc::SECCOMP_RET_USER_NOTIF));
    let enosys = entries
        .iter()
        .any(|e| e.action == Action::Enosys)
        .then(|| code.ret(ret_errno(libc::ENOSYS)));

    // The number line as ranges `(first number, outcome)`, ascending, each
    // outcome different from its neighbours'.
    let mut ranges: Vec<(u32, Label)> = Vec::with_capacity(2 * entries.len() + 1);
    ranges.push((0, allow));
    for entry in entries {
        let deny = match (entry.action, notified) {
            (_, Some(n)) if entry.watch => n,
            (Action::Eperm, Some(n)) => n,
            (Action::Eperm, None) => eperm,
            (Action::Enosys, _) => enosys.unwrap_or(eperm),
        };
        let outcome = match entry.args {
            Args::Any => deny,
            Args::AnyOf(alternatives) => arg_block(&mut code, alternatives, deny, allow),
        };
        push_range(&mut ranges, entry.nr, outcome);
        if let Some(next) = entry.nr.checked_add(1) {
            push_range(&mut ranges, next, allow);
        }
    }
    let search = search(&mut code, &ranges);

    let checked_nr = if cfg!(target_arch = "x86_64") {
        code.jump(BPF_JGE, X32_SYSCALL_BIT, eperm, search)
    } else {
        search
    };
    let load_nr = code.load(NR_OFFSET, checked_nr);
    let kill = code.ret(libc::SECCOMP_RET_KILL_PROCESS);
    let arch_ok = code.jump(BPF_JEQ, NATIVE_ARCH, load_nr, kill);
    code.load(ARCH_OFFSET, arch_ok);
    code.finish()
}

fn push_range(ranges: &mut Vec<(u32, Label)>, first: u32, outcome: Label) {
    if ranges.last().is_some_and(|r| r.0 == first) {
        ranges.pop();
    }
    if ranges.last().map(|r| r.1) != Some(outcome) {
        ranges.push((first, outcome));
    }
}

/// The binary search over `ranges` (non-empty), with the syscall number
/// in the accumulator. The lower half follows each jump directly.
fn search(code: &mut Code, ranges: &[(u32, Label)]) -> Label {
    if let [(_, outcome)] = ranges {
        return *outcome;
    }
    let (lower, upper) = ranges.split_at(ranges.len() / 2);
    let high = search(code, upper);
    let low = search(code, lower);
    code.jump(BPF_JGE, upper[0].0, high, low)
}

/// How one comparison is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    /// `jump(op, k)`, with the outcomes swapped when `negate`.
    Jump { op: u16, k: u32, negate: bool },
    /// `A &= mask; A == value` (overwrites the loaded argument).
    Masked { mask: u32, value: u32 },
}

/// One test on the low half of argument `index`.
#[derive(Debug, Clone, Copy)]
struct Check {
    index: u8,
    test: Test,
}

fn lower(cmp: &ArgCmp) -> Check {
    let test = match cmp.op {
        Cmp::Eq(k) => Test::Jump {
            op: BPF_JEQ,
            k,
            negate: false,
        },
        Cmp::Ne(k) => Test::Jump {
            op: BPF_JEQ,
            k,
            negate: true,
        },
        // `A & bit == bit` for a single bit, and `A & mask == 0`, are JSET.
        Cmp::MaskedEq { mask, value } if mask == value && mask.is_power_of_two() => Test::Jump {
            op: BPF_JSET,
            k: mask,
            negate: false,
        },
        Cmp::MaskedEq { mask, value: 0 } => Test::Jump {
            op: BPF_JSET,
            k: mask,
            negate: true,
        },
        Cmp::MaskedEq { mask, value } => Test::Masked { mask, value },
    };
    Check {
        index: cmp.index,
        test,
    }
}

/// The alternatives as checks. Neighbouring alternatives that are each
/// one "any of these bits" test of the same argument become one test of
/// the union of the bits (clone's eight CLONE_NEW* flags: one JSET).
fn lower_all(alternatives: &[&[ArgCmp]]) -> Vec<Vec<Check>> {
    let mut out: Vec<Vec<Check>> = Vec::with_capacity(alternatives.len());
    for all_of in alternatives {
        let checks: Vec<Check> = all_of.iter().map(lower).collect();
        if let ([new], Some([last])) = (checks.as_slice(), out.last_mut().map(Vec::as_mut_slice)) {
            if let (
                Test::Jump {
                    op: BPF_JSET,
                    k: bits,
                    negate: false,
                },
                Test::Jump {
                    op: BPF_JSET,
                    k: ref mut union,
                    negate: false,
                },
            ) = (new.test, &mut last.test)
            {
                if new.index == last.index {
                    *union |= bits;
                    continue;
                }
            }
        }
        out.push(checks);
    }
    out
}

/// For each check, whether it must load its argument: not when every path
/// to it leaves that argument's low half in the accumulator.
fn loads(alternatives: &[Vec<Check>]) -> Vec<Vec<bool>> {
    // What the accumulator holds: `Some(index)` for an argument's low half.
    let mut at_start: Option<u8> = None; // the syscall number
    let mut plan = Vec::with_capacity(alternatives.len());
    for all_of in alternatives {
        let mut acc = at_start;
        // The accumulator on the edges that fail to the next alternative.
        let mut on_failure: Option<Option<u8>> = None;
        let mut needs = Vec::with_capacity(all_of.len());
        for check in all_of {
            needs.push(acc != Some(check.index));
            acc = match check.test {
                Test::Jump { .. } => Some(check.index),
                Test::Masked { .. } => None,
            };
            on_failure = match on_failure {
                None => Some(acc),
                Some(seen) if seen == acc => Some(acc),
                Some(_) => Some(None),
            };
        }
        at_start = on_failure.flatten();
        plan.push(needs);
    }
    plan
}

/// `deny` when any alternative has all its comparisons true, else `allow`.
fn arg_block(code: &mut Code, alternatives: &[&[ArgCmp]], deny: Label, allow: Label) -> Label {
    let alternatives = lower_all(alternatives);
    let plan = loads(&alternatives);
    let mut next_alternative = allow;
    for (all_of, needs) in alternatives.iter().zip(&plan).rev() {
        let mut on_true = deny;
        for (check, &load) in all_of.iter().zip(needs).rev() {
            let mut entry = match check.test {
                Test::Jump {
                    op,
                    k,
                    negate: false,
                } => code.jump(op, k, on_true, next_alternative),
                Test::Jump {
                    op,
                    k,
                    negate: true,
                } => code.jump(op, k, next_alternative, on_true),
                Test::Masked { mask, value } => {
                    let eq = code.jump(BPF_JEQ, value, on_true, next_alternative);
                    code.and(mask, eq)
                }
            };
            if load {
                entry = code.load(arg_low(check.index), entry);
            }
            on_true = entry;
        }
        next_alternative = on_true;
    }
    next_alternative
}
