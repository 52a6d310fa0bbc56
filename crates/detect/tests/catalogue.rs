//! The escape catalogue (`corral_policy::ESCAPE_SYSCALLS`) against the
//! sandbox's seccomp table: every escape-shaped call the detectors know is
//! one the sandbox refuses, and every call the sandbox refuses is either
//! escape-shaped or named below as refused without a finding. A rule added
//! to either side without the other fails here.

use corral_policy::ESCAPE_SYSCALLS;
use corral_sandbox::seccomp::rules;
use std::collections::BTreeSet;

/// Calls the seccomp table refuses that raise no finding: host-wide state
/// (clocks, swap, reboot, accounting, quotas, the kernel log), obsolete
/// calls, calls refused for a libc fallback (clone3, openat2: ENOSYS), and
/// the CPU limit's affinity rule.
const REFUSED_WITHOUT_FINDING: &[&str] = &[
    "clone3",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "quotactl",
    "lookup_dcookie",
    "uselib",
    "iopl",
    "ioperm",
    "vhangup",
    "fanotify_init",
    "nfsservctl",
    "personality",
    "openat2",
    "sched_setaffinity",
];

#[test]
fn every_escape_call_is_refused_by_the_seccomp_table() {
    let refused: BTreeSet<&str> = rules().iter().map(|r| r.name).collect();
    for escape in ESCAPE_SYSCALLS {
        assert!(
            refused.contains(escape.syscall),
            "{} ({}) is in corral_policy::ESCAPE_SYSCALLS but the seccomp table \
             (crates/sandbox/src/seccomp/table.rs) does not refuse it: add the rule, \
             or remove the entry",
            escape.syscall,
            escape.id
        );
    }
}

#[test]
fn every_refused_call_is_an_escape_or_named_as_refused_without_a_finding() {
    let escapes: BTreeSet<&str> = ESCAPE_SYSCALLS.iter().map(|e| e.syscall).collect();
    for rule in rules() {
        let escape = escapes.contains(rule.name);
        let quiet = REFUSED_WITHOUT_FINDING.contains(&rule.name);
        assert!(
            escape != quiet,
            "the seccomp table refuses {}: list it in corral_policy::ESCAPE_SYSCALLS (a \
             refusal raises escape.{}) or in REFUSED_WITHOUT_FINDING here, exactly once",
            rule.name,
            rule.name
        );
    }
    let refused: BTreeSet<&str> = rules().iter().map(|r| r.name).collect();
    for name in REFUSED_WITHOUT_FINDING {
        assert!(
            refused.contains(name),
            "{name} is in REFUSED_WITHOUT_FINDING but the seccomp table does not refuse it"
        );
    }
}
