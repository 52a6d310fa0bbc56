//! The compiled program against a plain reading of the rule table: every
//! syscall number 0..=1023 (and x32 and out-of-range numbers), under every
//! plan variant, with argument vectors built from the table's own values,
//! with and without high bits.

use std::collections::BTreeSet;

use super::super::bpf::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64, NATIVE_ARCH, X32_SYSCALL_BIT};
use super::super::*;
use super::{eval, run_counted, Data, ALLOW, ENOSYS, EPERM};

const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const HIGH: u64 = 0xdead_beef_0000_0000;

pub(super) fn plans() -> [SeccompPlan; 8] {
    let mut out = Vec::new();
    for n in [false, true] {
        for a in [false, true] {
            for notify in [false, true] {
                out.push(SeccompPlan {
                    allow_nested_namespaces: n,
                    deny_affinity_changes: a,
                    notify,
                });
            }
        }
    }
    out.try_into().expect("eight plans")
}

/// The rules of the table `plan` selects, read straight from `when`.
fn selected(plan: &SeccompPlan) -> Vec<&'static Rule> {
    rules()
        .iter()
        .filter(|r| match r.when {
            When::Always => true,
            When::UnlessNestedNamespaces => !plan.allow_nested_namespaces,
            When::DenyAffinityChanges => plan.deny_affinity_changes,
        })
        .collect()
}

/// What `rules` say about a native call: the x32 guard, then any rule for
/// `nr` whose arguments match denies with its action, else ALLOW.
pub(super) fn expected<'a>(
    rules: impl IntoIterator<Item = &'a Rule>,
    nr: u32,
    args: &[u64; 6],
) -> u32 {
    if cfg!(target_arch = "x86_64") && nr >= X32_SYSCALL_BIT {
        return EPERM;
    }
    for rule in rules {
        if rule.nr != Some(i64::from(nr)) {
            continue;
        }
        if rule.args.matches(args) {
            return match rule.action {
                Action::Eperm => EPERM,
                Action::Enosys => ENOSYS,
            };
        }
    }
    ALLOW
}

/// Every argument condition of the deny table and of the monitor's
/// watches.
fn conditions() -> impl Iterator<Item = &'static [&'static [ArgCmp]]> {
    rules()
        .iter()
        .map(|r| r.args)
        .chain(watches().iter().map(|w| w.when))
        .filter_map(|a| match a {
            Args::AnyOf(a) => Some(a),
            Args::Any => None,
        })
}

/// Argument values for index `i`: edge values and, for every comparison
/// of the table on `i`, values that match it, miss it by one bit, and
/// carry high bits.
fn candidates(index: u8) -> Vec<u64> {
    let mut low: BTreeSet<u32> = [0, 1, 0x80, 0x8_0000, 0x7fff_ffff, 0x8000_0000, u32::MAX].into();
    for alternatives in conditions() {
        for cmp in alternatives
            .iter()
            .flat_map(|a| a.iter())
            .filter(|c| c.index == index)
        {
            match cmp.op {
                Cmp::Eq(k) | Cmp::Ne(k) => low.extend([k, k ^ 1, k | 0x8_0800, !k]),
                Cmp::MaskedEq { mask, value } => {
                    let lowest = mask & mask.wrapping_neg();
                    low.extend([
                        value,
                        value | !mask,
                        value ^ mask,
                        value ^ lowest,
                        value | 0x11,
                    ]);
                }
            }
        }
    }
    low.into_iter()
        .flat_map(|v| [u64::from(v), HIGH | u64::from(v), 1 << 32 | u64::from(v)])
        .collect()
}

/// Every pair of candidate values on every pair of argument indices the
/// table reads, the other arguments all-zero or all-one.
fn full_vectors() -> Vec<[u64; 6]> {
    let used: BTreeSet<u8> = conditions()
        .flat_map(|a| a.iter().flat_map(|all| all.iter().map(|c| c.index)))
        .collect();
    let mut out = Vec::new();
    for &i in &used {
        for &j in used.iter().filter(|&&j| j > i) {
            for fill in [0, u64::MAX] {
                for a in candidates(i) {
                    for b in candidates(j) {
                        let mut v = [fill; 6];
                        v[usize::from(i)] = a;
                        v[usize::from(j)] = b;
                        out.push(v);
                    }
                }
            }
        }
        if used.len() == 1 {
            out.extend(candidates(i).into_iter().map(|a| {
                let mut v = [0; 6];
                v[usize::from(i)] = a;
                v
            }));
        }
    }
    out
}

/// A few vectors for numbers without argument rules (the program must not
/// read their arguments at all, which the test checks).
const SOME_VECTORS: [[u64; 6]; 4] = [[0; 6], [u64::MAX; 6], [HIGH; 6], [0x5412; 6]];

fn numbers() -> Vec<u32> {
    let x32 = |nr: i64| X32_SYSCALL_BIT | nr as u32;
    (0..=1023)
        .chain([
            0x3fff_ffff,
            X32_SYSCALL_BIT,
            x32(libc::SYS_ptrace),
            x32(libc::SYS_ioctl),
            x32(libc::SYS_clone3),
            x32(libc::SYS_getpid),
            0x7fff_ffff,
            0x8000_0000,
            u32::MAX - 1,
            u32::MAX,
        ])
        .collect()
}

#[test]
fn every_syscall_number_decides_as_the_table_says() {
    let full = full_vectors();
    assert!(full.len() > 100, "too few argument vectors: {}", full.len());
    let foreign = if NATIVE_ARCH == AUDIT_ARCH_X86_64 {
        AUDIT_ARCH_AARCH64
    } else {
        AUDIT_ARCH_X86_64
    };
    for plan in plans() {
        let filter = build(&plan).expect("filter builds");
        let table = selected(&plan);
        let mut reading = BTreeSet::new();
        let mut narrowed_names = BTreeSet::new();
        for nr in numbers() {
            let rule = table.iter().find(|r| r.nr == Some(i64::from(nr)));
            let watch = watch_for(i64::from(nr)).filter(|_| plan.notify);
            let name = rule
                .map(|r| r.name)
                .or(watch.map(|w| w.name))
                .unwrap_or("-");
            // Rule and watch merge: the arguments are read unless either
            // selects every call.
            let narrowed = !matches!(
                (rule.map(|r| r.args), watch.map(|w| w.when)),
                (Some(Args::Any), _) | (_, Some(Args::Any)) | (None, None)
            );

            if narrowed {
                narrowed_names.insert(name);
            }
            let vectors: &[[u64; 6]] = if narrowed { &full } else { &SOME_VECTORS };
            for args in vectors {
                let data = Data {
                    nr,
                    arch: NATIVE_ARCH,
                    args: *args,
                };
                let (got, read) = eval(filter.program, &data);
                let mut want = expected(table.iter().copied(), nr, args);
                if plan.notify {
                    // Denials (not the x32 guard's) and watched calls go to
                    // the supervisor; ENOSYS stays in the kernel.
                    let watched = watch_for(i64::from(nr)).is_some_and(|w| w.when.matches(args));
                    if watched || (want == EPERM && nr < X32_SYSCALL_BIT) {
                        want = libc::SECCOMP_RET_USER_NOTIF;
                    }
                }
                assert_eq!(
                    got, want,
                    "{plan:?}: syscall {nr:#x} (`{name}`) with arguments {args:#x?}"
                );
                if read {
                    reading.insert(name);
                }
                assert!(
                    narrowed || !read,
                    "{plan:?}: syscall {nr:#x} (`{name}`) reads its arguments, so the kernel cannot cache it"
                );
            }
            let data = Data {
                nr,
                arch: foreign,
                args: [0; 6],
            };
            assert_eq!(eval(filter.program, &data).0, KILL, "foreign arch, {nr}");
        }
        // The kernel's action cache is exact for everything else. The
        // mode-setting calls read their mode (and open/openat their flags)
        // for S_ISUID/S_ISGID.
        let allowed = BTreeSet::from([
            "ioctl",
            "socket",
            "clone",
            "personality",
            "sched_setaffinity",
            "open",
            "openat",
            "creat",
            "chmod",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "mknod",
            "mknodat",
            // the monitor's: sendto only with a destination address
            "sendto",
        ]);
        assert!(
            reading.is_subset(&allowed),
            "{plan:?}: only {allowed:?} may read arguments, these do: {reading:?}"
        );
        assert_eq!(reading, narrowed_names, "{plan:?}");
    }
}

/// The kernel's `bpf_check_classic` and `seccomp_check_filter`, for the
/// instructions corral emits: known opcodes, loads inside `seccomp_data`,
/// every jump inside the program, a `ret` last.
pub(super) fn check_classic(program: &[libc::sock_filter]) {
    let len = program.len();
    assert!((1..=MAX_INSTRUCTIONS).contains(&len), "length {len}");
    for (pc, i) in program.iter().enumerate() {
        let rest = len - pc - 1;
        match i.code {
            0x20 => assert!(i.k < 64 && i.k % 4 == 0, "{pc}: load from {}", i.k),
            0x54 | 0x06 => {}
            0x05 => assert!((i.k as usize) < rest, "{pc}: ja {} out of the program", i.k),
            0x15 | 0x25 | 0x35 | 0x45 => assert!(
                usize::from(i.jt) < rest && usize::from(i.jf) < rest,
                "{pc}: jump out of the program"
            ),
            code => panic!("{pc}: opcode {code:#x}"),
        }
    }
    assert_eq!(program[len - 1].code, 0x06, "the program must end with ret");
}

#[test]
fn the_program_is_small_valid_and_a_search_not_a_chain() {
    for plan in plans() {
        let filter = build(&plan).expect("filter builds");
        check_classic(filter.program);
        let deepest = (0..1024u32)
            .map(|nr| {
                let data = Data {
                    nr,
                    arch: NATIVE_ARCH,
                    args: [0; 6],
                };
                run_counted(filter.program, &data)
            })
            .filter(|&(_, read, _)| !read)
            .map(|(_, _, steps)| steps)
            .max()
            .expect("numbers");
        eprintln!(
            "{plan:?}: {} instructions, {} rules, at most {deepest} run for a number-only decision",
            filter.program.len(),
            filter.rule_count()
        );
        assert!(filter.program.len() <= MAX_INSTRUCTIONS);
        // The prefix (4), a balanced search over < 256 ranges (<= 8), ret.
        assert!(
            deepest <= 13,
            "{plan:?}: {deepest} instructions for one decision"
        );
    }
}
