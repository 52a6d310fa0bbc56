//! Table checks, a decision check of the compiled program, and enforcement
//! tests in forked children (real kernel, real filter).

use std::collections::HashSet;

use super::bpf::{ret_errno, AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64, NATIVE_ARCH, X32_SYSCALL_BIT};
use super::*;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const EPERM: u32 = ret_errno(libc::EPERM);
const ENOSYS: u32 = ret_errno(libc::ENOSYS);
const AUDIT_ARCH_I386: u32 = 3 | 0x4000_0000;
// asm-generic/ioctls.h (same on x86_64 and aarch64), written out so that
// the test does not take its oracle from the code under test.
pub(crate) const TIOCSTI: u64 = 0x5412;
pub(crate) const TIOCLINUX: u64 = 0x541C;
const TIOCGWINSZ: u64 = 0x5413;

fn all_on() -> SeccompPlan {
    SeccompPlan {
        allow_nested_namespaces: false,
        deny_affinity_changes: true,
        notify: false,
    }
}

// ---------------------------------------------------------------- table

#[test]
fn every_rule_has_a_reason_and_a_unique_name() {
    let mut names = HashSet::new();
    for rule in rules() {
        assert!(
            rule.reason.trim().len() >= 10,
            "seccomp rule `{}` needs a reason",
            rule.name
        );
        assert!(
            names.insert(rule.name),
            "seccomp rule `{}` appears twice",
            rule.name
        );
    }
}

#[test]
fn every_rule_resolves_here_or_is_explicitly_skipped() {
    let arch = std::env::consts::ARCH;
    let mut numbers = HashSet::new();
    for rule in rules() {
        match (rule.nr, rule.only_on) {
            (Some(nr), _) => assert!(
                numbers.insert(nr),
                "two rules deny syscall number {nr} (`{}`)",
                rule.name
            ),
            (None, Some(only)) => assert_ne!(
                only, arch,
                "`{}` is marked {only}-only but has no number there",
                rule.name
            ),
            (None, None) => panic!(
                "seccomp rule `{}` has no number on {arch} and is not marked arch-only",
                rule.name
            ),
        }
    }
}

#[test]
fn the_brief_s_syscalls_are_all_in_the_table() {
    let names: HashSet<_> = rules().iter().map(|r| r.name).collect();
    for name in [
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "pidfd_getfd",
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "move_mount",
        "open_tree",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "mount_setattr",
        "open_by_handle_at",
        "name_to_handle_at",
        "unshare",
        "setns",
        "clone",
        "clone3",
        "bpf",
        "perf_event_open",
        "keyctl",
        "add_key",
        "request_key",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "userfaultfd",
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
        "personality",
        "ioctl",
        "socket",
        "sched_setaffinity",
        "vhangup",
        "fanotify_init",
        "chmod",
        "fchmod",
        "fchmodat",
        "fchmodat2",
        "open",
        "openat",
        "creat",
        "mknod",
        "mknodat",
        "openat2",
    ] {
        assert!(
            names.contains(name),
            "`{name}` missing from the seccomp table"
        );
    }
}

#[test]
fn denials_can_be_explained_by_number() {
    assert_eq!(rule_for(libc::SYS_ptrace).map(|r| r.name), Some("ptrace"));
    assert_eq!(rule_for(libc::SYS_mount).map(|r| r.name), Some("mount"));
    assert!(rule_for(libc::SYS_read).is_none());
}

#[test]
fn plan_options_select_rules() {
    let base = build(&SeccompPlan::default())
        .expect("default filter builds")
        .rule_count();
    let nested = build(&SeccompPlan {
        allow_nested_namespaces: true,
        ..Default::default()
    })
    .expect("builds");
    let affinity = build(&SeccompPlan {
        deny_affinity_changes: true,
        ..Default::default()
    })
    .expect("builds");
    assert_eq!(
        nested.rule_count(),
        base - 4,
        "unshare, setns, clone, clone3 are dropped"
    );
    assert_eq!(affinity.rule_count(), base + 1);
}

// ------------------------------------------- decisions of the compiled program

struct Data {
    nr: u32,
    arch: u32,
    args: [u64; 6],
}

/// A classic-BPF interpreter for the instructions `bpf.rs` emits. Returns
/// the action and whether any argument was read (a path that reads no
/// argument is one the kernel's action cache can answer: its emulator,
/// `seccomp_is_const_allow`, gives up on argument loads only).
fn eval(program: &[libc::sock_filter], d: &Data) -> (u32, bool) {
    let (action, read_args, _) = run_counted(program, d);
    (action, read_args)
}

/// `eval`, plus how many instructions ran.
fn run_counted(program: &[libc::sock_filter], d: &Data) -> (u32, bool, usize) {
    let (mut acc, mut pc, mut read_args, mut steps) = (0u32, 0usize, false, 0usize);
    loop {
        let i = program[pc];
        pc += 1;
        steps += 1;
        let k = i.k;
        let cond = |c: bool| usize::from(if c { i.jt } else { i.jf });
        match i.code {
            0x20 => {
                acc = match k {
                    0 => d.nr,
                    4 => d.arch,
                    16..=63 => {
                        read_args = true;
                        let arg = d.args[(k as usize - 16) / 8];
                        if (k - 16) % 8 == 4 {
                            (arg >> 32) as u32
                        } else {
                            arg as u32
                        }
                    }
                    _ => panic!("load from offset {k}"),
                }
            }
            0x54 => acc &= k,
            0x05 => pc += k as usize,
            0x15 => pc += cond(acc == k),
            0x25 => pc += cond(acc > k),
            0x35 => pc += cond(acc >= k),
            0x45 => pc += cond(acc & k != 0),
            0x06 => return (k, read_args, steps),
            code => panic!("unexpected BPF opcode {code:#x}"),
        }
    }
}

fn decide(filter: &Filter, nr: i64, args: [u64; 6]) -> u32 {
    eval(
        filter.program,
        &Data {
            nr: nr as u32,
            arch: NATIVE_ARCH,
            args,
        },
    )
    .0
}

#[test]
fn number_only_everywhere_except_the_narrowed_rules() {
    let filter = build(&all_on()).expect("filter builds");
    let table: Vec<_> = rules().iter().filter(|r| applies(r, &all_on())).collect();
    for nr in 0..1024i64 {
        let (action, read_args) = eval(
            filter.program,
            &Data {
                nr: nr as u32,
                arch: NATIVE_ARCH,
                args: [0; 6],
            },
        );
        match table.iter().find(|r| r.nr == Some(nr)) {
            None => assert_eq!(
                (action, read_args),
                (ALLOW, false),
                "syscall {nr} is not in the table"
            ),
            Some(rule) => match (rule.args, rule.action) {
                (Args::Any, Action::Eperm) => {
                    assert_eq!((action, read_args), (EPERM, false), "{}", rule.name)
                }
                (Args::Any, Action::Enosys) => {
                    assert_eq!((action, read_args), (ENOSYS, false), "{}", rule.name)
                }
                (Args::AnyOf(_), _) => assert!(read_args, "{} reads its arguments", rule.name),
            },
        }
    }
}

#[test]
fn guards_for_x32_and_foreign_architectures() {
    let filter = build(&SeccompPlan::default()).expect("filter builds");
    let run = |nr: u32, arch: u32| {
        eval(
            filter.program,
            &Data {
                nr,
                arch,
                args: [0; 6],
            },
        )
        .0
    };
    let foreign = if NATIVE_ARCH == AUDIT_ARCH_X86_64 {
        AUDIT_ARCH_I386
    } else {
        AUDIT_ARCH_X86_64
    };
    assert_eq!(run(20, foreign), libc::SECCOMP_RET_KILL_PROCESS);
    assert_eq!(
        run(0, AUDIT_ARCH_AARCH64 ^ NATIVE_ARCH ^ AUDIT_ARCH_X86_64),
        libc::SECCOMP_RET_KILL_PROCESS
    );
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            run(X32_SYSCALL_BIT | libc::SYS_getpid as u32, NATIVE_ARCH),
            EPERM
        );
        assert_eq!(
            run(X32_SYSCALL_BIT | libc::SYS_ptrace as u32, NATIVE_ARCH),
            EPERM
        );
        assert_eq!(run(u32::MAX, NATIVE_ARCH), EPERM);
    }
}

#[test]
fn argument_rules_decide_on_the_low_32_bits() {
    let f = build(&SeccompPlan::default()).expect("filter builds");
    let (raw, cloexec, nonblock) = (
        libc::SOCK_RAW as u64,
        libc::SOCK_CLOEXEC as u64,
        libc::SOCK_NONBLOCK as u64,
    );
    let sock = |domain: i32, ty: u64| decide(&f, libc::SYS_socket, [domain as u64, ty, 0, 0, 0, 0]);
    assert_eq!(sock(libc::AF_INET, raw | cloexec | nonblock), EPERM);
    assert_eq!(sock(libc::AF_INET6, raw), EPERM);
    assert_eq!(sock(libc::AF_PACKET, libc::SOCK_DGRAM as u64), EPERM);
    assert_eq!(sock(libc::AF_NETLINK, raw | cloexec), ALLOW);
    assert_eq!(
        sock(libc::AF_INET, libc::SOCK_STREAM as u64 | cloexec),
        ALLOW
    );
    assert_eq!(sock(libc::AF_UNIX, libc::SOCK_SEQPACKET as u64), ALLOW);

    let ioctl = |req: u64| decide(&f, libc::SYS_ioctl, [0, req, 0, 0, 0, 0]);
    assert_eq!(ioctl(TIOCSTI), EPERM);
    assert_eq!(
        ioctl(TIOCSTI | 0xdead_0000_0000),
        EPERM,
        "high bits are ignored by the kernel"
    );
    assert_eq!(ioctl(TIOCLINUX), EPERM);
    assert_eq!(ioctl(TIOCGWINSZ), ALLOW);

    let persona = |p: u64| decide(&f, libc::SYS_personality, [p, 0, 0, 0, 0, 0]);
    assert_eq!(persona(0), ALLOW);
    assert_eq!(persona(0xffff_ffff), ALLOW);
    assert_eq!(persona(libc::ADDR_NO_RANDOMIZE as u64), EPERM);
    assert_eq!(persona(8), EPERM, "PER_LINUX32");

    let clone = |flags: u64| decide(&f, libc::SYS_clone, [flags, 0, 0, 0, 0, 0]);
    assert_eq!(clone(libc::SIGCHLD as u64), ALLOW);
    assert_eq!(
        clone((libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64),
        ALLOW
    );
    for flag in [
        libc::CLONE_NEWNS,
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWCGROUP,
    ] {
        assert_eq!(
            clone(flag as u64 | libc::SIGCHLD as u64),
            EPERM,
            "clone flag {flag:#x}"
        );
    }
    assert_eq!(decide(&f, libc::SYS_clone3, [0; 6]), ENOSYS);
    assert_eq!(decide(&f, libc::SYS_sched_setaffinity, [0; 6]), ALLOW);

    let nested = build(&SeccompPlan {
        allow_nested_namespaces: true,
        deny_affinity_changes: true,
        notify: false,
    })
    .expect("builds");
    assert_eq!(
        decide(
            &nested,
            libc::SYS_clone,
            [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0]
        ),
        ALLOW
    );
    assert_eq!(decide(&nested, libc::SYS_clone3, [0; 6]), ALLOW);
    assert_eq!(decide(&nested, libc::SYS_unshare, [0; 6]), ALLOW);
    assert_eq!(decide(&nested, libc::SYS_sched_setaffinity, [0; 6]), EPERM);
}

// ------------------------------------------------------- real enforcement

pub(crate) mod child;
mod codegen;
mod enforcement;
mod reference;
mod set_id;
