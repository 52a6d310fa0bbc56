//! The code generator beyond the real table: long programs whose jumps
//! need trampolines (checked by the interpreter and by the real kernel),
//! the length limit, malformed rules, and the per-plan cache.

use super::super::*;
use super::child::{err, in_child, no_new_privs, outcome};
use super::reference::{check_classic, expected, plans};
use super::{eval, Data};
use crate::seccomp::bpf::NATIVE_ARCH;

const MAGIC0: u32 = 0x5ecc_0a11;
const MAGIC1: u32 = 0x0bad_cafe;

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn rule(nr: i64, args: Args, action: Action) -> Rule {
    Rule {
        name: "synthetic",
        nr: Some(nr),
        only_on: None,
        when: When::Always,
        args,
        action,
        reason: "test rule",
    }
}

/// `alternatives` comparisons per argument rule, on numbers 0..`count`
/// (except getpriority: EPERM, and getcpu: ENOSYS, number-only), so that
/// every jump of the search crosses many argument blocks. Normal calls
/// never match (they would need magic values in two arguments).
fn synthetic(count: i64) -> Vec<Rule> {
    let alternatives: &'static [&'static [ArgCmp]] = leak(vec![
        leak(vec![
            ArgCmp {
                index: 0,
                op: Cmp::Eq(MAGIC0),
            },
            ArgCmp {
                index: 1,
                op: Cmp::Eq(MAGIC1),
            },
        ]),
        leak(vec![ArgCmp {
            index: 3,
            op: Cmp::MaskedEq {
                mask: 0xffff_ff00,
                value: MAGIC1 & 0xffff_ff00,
            },
        }]),
    ]);
    let mut out: Vec<Rule> = (0..count)
        .filter(|&nr| nr != libc::SYS_getpriority && nr != libc::SYS_getcpu)
        .map(|nr| rule(nr, Args::AnyOf(alternatives), Action::Eperm))
        .collect();
    out.push(rule(libc::SYS_getpriority, Args::Any, Action::Eperm));
    out.push(rule(libc::SYS_getcpu, Args::Any, Action::Enosys));
    out
}

#[test]
fn long_jumps_go_through_trampolines() {
    let rules = synthetic(300);
    let compiled = compile_rules(rules.iter(), false).expect("synthetic table compiles");
    let program = &compiled.program;
    check_classic(program);
    let ja = program.iter().filter(|i| i.code == 0x05).count();
    let rets = program.iter().filter(|i| i.code == 0x06).count();
    eprintln!(
        "{} instructions, {ja} ja trampolines, {rets} ret",
        program.len()
    );
    assert!(program.len() > 1000, "long enough to need trampolines");
    assert!(ja > 0, "jumps beyond 255 instructions go through `ja`");
    assert!(rets > 4, "far `ret` targets are copied");
    let (m0, m1) = (u64::from(MAGIC0), u64::from(MAGIC1));
    let vectors = [
        [0; 6],
        [m0, m1, 0, 0, 0, 0],
        [m0 | 1 << 40, m1 | 1 << 63, 0, 0, 0, 0],
        [m0, m1 ^ 1, 0, 0, 0, 0],
        [m0, 0, 0, m1 ^ 0x7f, 0, 0],
        [0, 0, 0, m1 ^ 0x100, 0, 0],
        [u64::MAX; 6],
    ];
    for nr in 0..1024u32 {
        for args in &vectors {
            let data = Data {
                nr,
                arch: NATIVE_ARCH,
                args: *args,
            };
            assert_eq!(
                eval(program, &data).0,
                expected(rules.iter(), nr, args),
                "syscall {nr} with {args:#x?}"
            );
        }
    }
}

#[test]
fn the_kernel_accepts_and_enforces_a_program_with_trampolines() {
    let rules = synthetic(300);
    let compiled = compile_rules(rules.iter(), false).expect("synthetic table compiles");
    let filter = Filter {
        program: Box::leak(compiled.program),
        rule_count: compiled.rule_count,
        notify: false,
    };
    let got = in_child(|| {
        no_new_privs()?;
        filter.install().map_err(|_| "Filter::install")?;
        let (m0, m1) = (MAGIC0 as libc::c_long, MAGIC1 as libc::c_long);
        // SAFETY: getppid/getpriority/getcpu with integer or null
        // arguments, in a forked child.
        Ok(unsafe {
            [
                outcome(libc::syscall(libc::SYS_getppid)),
                outcome(libc::syscall(libc::SYS_getppid, m0, m1)),
                outcome(libc::syscall(libc::SYS_getppid, 0, 0, 0, m1)),
                outcome(libc::syscall(libc::SYS_getpriority, libc::PRIO_PROCESS, 0)),
                outcome(libc::syscall(libc::SYS_getcpu, 0, 0, 0)),
                outcome(libc::syscall(libc::SYS_getpid)),
            ]
        })
    });
    let eperm = err(libc::EPERM);
    assert_eq!(got, [0, eperm, eperm, eperm, err(libc::ENOSYS), 0]);
}

#[test]
fn programs_over_the_kernel_limit_are_refused() {
    let rules = synthetic(1000);
    match compile_rules(rules.iter(), false) {
        Err(SeccompError::TooLong { len }) => assert!(len > MAX_INSTRUCTIONS),
        other => panic!("expected TooLong, got {:?}", other.map(|c| c.program.len())),
    }
}

#[test]
fn malformed_rules_are_refused() {
    const ONE: &[ArgCmp] = &[ArgCmp {
        index: 0,
        op: Cmp::Eq(1),
    }];
    const SIX: &[ArgCmp] = &[ArgCmp {
        index: 6,
        op: Cmp::Eq(1),
    }];
    let any_of = |a: &'static [&'static [ArgCmp]]| Args::AnyOf(a);
    let cases = [
        (vec![rule(1, any_of(&[ONE]), Action::Enosys)], "ENOSYS"),
        (vec![rule(1, any_of(&[]), Action::Eperm)], "empty"),
        (vec![rule(1, any_of(&[ONE, &[]]), Action::Eperm)], "empty"),
        (vec![rule(1, any_of(&[SIX]), Action::Eperm)], "above 5"),
        (vec![rule(-1, Args::Any, Action::Eperm)], "outside"),
        (vec![rule(0x4000_0000, Args::Any, Action::Eperm)], "outside"),
        (
            vec![
                rule(7, Args::Any, Action::Eperm),
                rule(7, Args::Any, Action::Enosys),
            ],
            "both name syscall number 7",
        ),
    ];
    for (rules, want) in cases {
        match compile_rules(rules.iter(), false) {
            Err(e) => assert!(e.to_string().contains(want), "{e}: want {want:?}"),
            Ok(_) => panic!("{rules:?} compiled"),
        }
    }
}

#[test]
fn build_compiles_once_per_plan_and_quickly() {
    // The first call of the process is the one a launch pays (cold caches,
    // when this test runs alone).
    std::hint::black_box(vec![0u8; 4096]);
    let start = std::time::Instant::now();
    std::hint::black_box(compile(&SeccompPlan::default()).expect("compiles"));
    let first = start.elapsed();
    for plan in plans() {
        let first = build(&plan).expect("builds");
        let again = build(&plan).expect("builds");
        assert!(
            std::ptr::eq(first.program, again.program),
            "{plan:?} is compiled once"
        );
        let fresh = compile(&plan).expect("compiles");
        assert_eq!(
            fresh
                .program
                .iter()
                .map(|i| (i.code, i.jt, i.jf, i.k))
                .collect::<Vec<_>>(),
            first
                .program
                .iter()
                .map(|i| (i.code, i.jt, i.jf, i.k))
                .collect::<Vec<_>>(),
            "{plan:?}: the cache holds what compile makes"
        );
    }
    // A rough figure for the log, never asserted (noisy machines); the
    // launch benchmark in bench/ is the measurement.
    let plan = SeccompPlan::default();
    let n = 2000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(compile(std::hint::black_box(&plan)).expect("compiles"));
    }
    eprintln!(
        "compile(default plan), uncached: first call {first:?}, then {:?} per call",
        start.elapsed() / n
    );
}
