//! The reviewed rule table of the seccomp deny filter. Data only: the
//! compiler in `mod.rs` turns it into BPF, `corral doctor` prints it, and
//! the unit tests in `tests.rs` check it.
//!
//! Names and numbers come from the same `libc::SYS_*` token (see `sys!`),
//! so a rule cannot name one syscall and deny another.

/// One deny rule: a syscall, optionally narrowed by argument comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The syscall's name, as in `man 2`.
    pub name: &'static str,
    /// The syscall's number on this architecture; `None` when the syscall
    /// does not exist here (then `only_on` names where it does).
    pub nr: Option<i64>,
    /// The only architecture the syscall exists on, if it is not on all
    /// that corral supports (x86_64 and aarch64).
    pub only_on: Option<&'static str>,
    /// Which plans the rule is part of.
    pub when: When,
    /// Which calls are denied.
    pub args: Args,
    /// What a denied call returns.
    pub action: Action,
    /// Why the rule exists: shown by `corral doctor` and in denials.
    pub reason: &'static str,
}

/// Which plans a rule is part of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// Dropped by `SeccompPlan::allow_nested_namespaces`.
    UnlessNestedNamespaces,
    /// Added by `SeccompPlan::deny_affinity_changes`.
    DenyAffinityChanges,
}

/// Which calls of the syscall are denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Args {
    /// Every call (number-only: the kernel's action cache stays exact).
    Any,
    /// A call matching any of the alternatives; an alternative matches
    /// when all its comparisons hold.
    AnyOf(&'static [&'static [ArgCmp]]),
}

/// A comparison of the low 32 bits of one argument. Every argument the
/// table inspects is an `int`/`unsigned int`/`umode_t` in the kernel (or,
/// for `clone`, only its low 32 bits are read), so the high half is
/// ignored exactly as the kernel ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCmp {
    /// Argument index, 0..=5.
    pub index: u8,
    pub op: Cmp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq(u32),
    Ne(u32),
    /// `arg & mask == value`.
    MaskedEq {
        mask: u32,
        value: u32,
    },
}

/// What a denied call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `EPERM`: "the sandbox does not allow this".
    Eperm,
    /// `ENOSYS`: "not implemented", so that callers fall back (only for
    /// number-only rules).
    Enosys,
}

impl Rule {
    const fn deny(
        sys: (&'static str, Option<i64>, Option<&'static str>),
        reason: &'static str,
    ) -> Rule {
        Rule {
            name: sys.0,
            nr: sys.1,
            only_on: sys.2,
            when: When::Always,
            args: Args::Any,
            action: Action::Eperm,
            reason,
        }
    }
    const fn when(self, when: When) -> Rule {
        Rule { when, ..self }
    }
    const fn args(self, any_of: &'static [&'static [ArgCmp]]) -> Rule {
        Rule {
            args: Args::AnyOf(any_of),
            ..self
        }
    }
    const fn action(self, action: Action) -> Rule {
        Rule { action, ..self }
    }
}

/// `"SYS_ptrace"` -> `"ptrace"`, at compile time (a wrong token fails the build).
const fn strip_sys(token: &'static str) -> &'static str {
    let bytes = token.as_bytes();
    assert!(
        bytes.len() > 4
            && bytes[0] == b'S'
            && bytes[1] == b'Y'
            && bytes[2] == b'S'
            && bytes[3] == b'_'
    );
    let (_, rest) = bytes.split_at(4);
    match core::str::from_utf8(rest) {
        Ok(name) => name,
        Err(_) => panic!("syscall token is not UTF-8"),
    }
}

/// `(name, number, only_on)` from one `libc::SYS_*` token.
macro_rules! sys {
    ($sys:ident) => {
        (strip_sys(stringify!($sys)), Some(libc::$sys), None)
    };
    ($sys:ident, only_on = "x86_64") => {{
        #[cfg(target_arch = "x86_64")]
        const NR: Option<i64> = Some(libc::$sys);
        #[cfg(not(target_arch = "x86_64"))]
        const NR: Option<i64> = None;
        (strip_sys(stringify!($sys)), NR, Some("x86_64"))
    }};
}

const fn eq(index: u8, value: u32) -> ArgCmp {
    ArgCmp {
        index,
        op: Cmp::Eq(value),
    }
}
const fn ne(index: u8, value: u32) -> ArgCmp {
    ArgCmp {
        index,
        op: Cmp::Ne(value),
    }
}
const fn has_bits(index: u8, bits: u32) -> ArgCmp {
    ArgCmp {
        index,
        op: Cmp::MaskedEq {
            mask: bits,
            value: bits,
        },
    }
}

/// `clone(flags, ...)` with any namespace flag. CLONE_NEWTIME (0x80)
/// overlaps the exit-signal byte of legacy clone, where it is an invalid
/// signal anyway, so denying it costs nothing.
const CLONE_NEW_ANY: &[&[ArgCmp]] = &[
    &[has_bits(0, libc::CLONE_NEWNS as u32)],
    &[has_bits(0, libc::CLONE_NEWUSER as u32)],
    &[has_bits(0, libc::CLONE_NEWPID as u32)],
    &[has_bits(0, libc::CLONE_NEWNET as u32)],
    &[has_bits(0, libc::CLONE_NEWUTS as u32)],
    &[has_bits(0, libc::CLONE_NEWIPC as u32)],
    &[has_bits(0, libc::CLONE_NEWCGROUP as u32)],
    &[has_bits(0, libc::CLONE_NEWTIME as u32)],
];

/// `personality(persona)` unless PER_LINUX (0) or the query 0xffffffff.
const PERSONALITY_CHANGE: &[&[ArgCmp]] = &[&[ne(0, 0), ne(0, 0xffff_ffff)]];

/// `ioctl(fd, request)` with TIOCSTI or TIOCLINUX.
const TTY_INJECTION: &[&[ArgCmp]] = &[
    &[eq(1, libc::TIOCSTI as u32)],
    &[eq(1, libc::TIOCLINUX as u32)],
];

/// `socket(domain, type, protocol)`: AF_PACKET, or SOCK_RAW (type masked to
/// its low 4 bits, i.e. without SOCK_NONBLOCK/SOCK_CLOEXEC) outside
/// AF_NETLINK. Netlink treats SOCK_RAW and SOCK_DGRAM alike, so denying raw
/// netlink would protect nothing and would break getifaddrs(3) (glibc,
/// Node's os.networkInterfaces, Go's net.Interfaces).
const RAW_SOCKETS: &[&[ArgCmp]] = &[
    &[eq(0, libc::AF_PACKET as u32)],
    &[
        ne(0, libc::AF_NETLINK as u32),
        ArgCmp {
            index: 1,
            op: Cmp::MaskedEq {
                mask: 0xf,
                value: libc::SOCK_RAW as u32,
            },
        },
    ],
];

const S_ISUID: u32 = libc::S_ISUID;
const S_ISGID: u32 = libc::S_ISGID;

/// `mode` (the argument at the index) with S_ISUID or S_ISGID. The two
/// one-bit alternatives compile to a single `JSET 06000`.
const SET_ID_MODE_1: &[&[ArgCmp]] = &[&[has_bits(1, S_ISUID)], &[has_bits(1, S_ISGID)]];
const SET_ID_MODE_2: &[&[ArgCmp]] = &[&[has_bits(2, S_ISUID)], &[has_bits(2, S_ISGID)]];

/// The open flags under which the kernel uses the mode argument at all
/// (`build_open_how`: any other open gets mode 0). `__O_TMPFILE` is
/// O_TMPFILE without O_DIRECTORY (whose value differs by architecture).
const O_CREAT: u32 = libc::O_CREAT as u32;
const O_TMPFILE_BIT: u32 = (libc::O_TMPFILE & !libc::O_DIRECTORY) as u32;

/// `open`/`openat` that create a file (O_CREAT or O_TMPFILE in the flags,
/// argument `f`) with S_ISUID or S_ISGID in the mode (argument `f + 1`).
/// Without those flags the kernel ignores the mode register, and callers
/// such as `syscall(SYS_openat, fd, path, O_RDONLY)` leave garbage in it,
/// so a check of the mode alone would fail plain opens at random.
macro_rules! creates_set_id {
    ($f:literal, $m:literal) => {
        &[
            &[has_bits($f, O_CREAT), has_bits($m, S_ISUID)],
            &[has_bits($f, O_CREAT), has_bits($m, S_ISGID)],
            &[has_bits($f, O_TMPFILE_BIT), has_bits($m, S_ISUID)],
            &[has_bits($f, O_TMPFILE_BIT), has_bits($m, S_ISGID)],
        ]
    };
}
const CREATES_SET_ID_1: &[&[ArgCmp]] = creates_set_id!(1, 2);
const CREATES_SET_ID_2: &[&[ArgCmp]] = creates_set_id!(2, 3);

/// `fchmodat2` (Linux 6.6) is 452 on x86_64 and aarch64 alike; libc has no
/// `SYS_fchmodat2` for aarch64, so the number is written out (and checked
/// against libc where libc has it).
const SYS_FCHMODAT2: i64 = 452;
#[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
const _: () = assert!(SYS_FCHMODAT2 == libc::SYS_fchmodat2);

/// Why file modes with S_ISUID/S_ISGID are denied (shared by the rules
/// below; seccomp sees only registers, so the rules judge the mode
/// argument, never the path or the file's owner).
///
/// Not denied: `mkdir`/`mkdirat` with S_ISGID. The kernel drops S_ISUID
/// and S_ISGID from mkdir's mode (a directory gets S_ISGID only from a
/// setgid parent), a setgid directory makes nothing run with privileges,
/// and files created in it take its group but never S_ISGID, which only
/// calls the rules below deny could give them. Side effect of judging the
/// mode alone: `chmod g+s` on a directory is denied too.
macro_rules! set_id_reason {
    () => {
        "a setuid or setgid file: when root runs the sandbox, writable root-owned paths are bound through an idmapped mount, so files the command creates are owned by root on disk, and a setuid-root binary left there runs as root for any local user (the sandbox's mounts are nosuid, the host's are not)"
    };
}
const SET_ID_REASON: &str = concat!(
    "a mode with S_ISUID or S_ISGID would make ",
    set_id_reason!()
);
const OPEN_SET_ID_REASON: &str = concat!(
    "O_CREAT or O_TMPFILE with a mode with S_ISUID or S_ISGID would create ",
    set_id_reason!(),
    "; other opens ignore the mode and are allowed"
);
const MKNOD_SET_ID_REASON: &str = concat!(
    "a mode with S_ISUID or S_ISGID would create (with S_IFREG) ",
    set_id_reason!()
);

const NS: When = When::UnlessNestedNamespaces;

static RULES: &[Rule] = &[
    // Other processes.
    Rule::deny(sys!(SYS_ptrace), "reads and writes other processes' memory and registers; a traced helper outside the sandbox's rules would be a way out"),
    Rule::deny(sys!(SYS_process_vm_readv), "reads another process's memory directly"),
    Rule::deny(sys!(SYS_process_vm_writev), "writes another process's memory directly"),
    Rule::deny(sys!(SYS_pidfd_getfd), "steals a file descriptor out of another process"),
    // The mount table: the sandbox's view of the filesystem is fixed.
    Rule::deny(sys!(SYS_mount), "would change the sandbox's filesystem view (remount read-only binds writable, hide masks)"),
    Rule::deny(sys!(SYS_umount2), "would remove masks and read-only binds, revealing what they cover"),
    Rule::deny(sys!(SYS_pivot_root), "would change the sandbox's root"),
    Rule::deny(sys!(SYS_chroot), "would change the root; with a directory fd it is a classic way out of a chroot"),
    Rule::deny(sys!(SYS_move_mount), "new mount API: attaches mounts, same power as mount"),
    Rule::deny(sys!(SYS_open_tree), "new mount API: clones mount trees, same power as mount"),
    Rule::deny(sys!(SYS_fsopen), "new mount API: creates filesystem contexts"),
    Rule::deny(sys!(SYS_fsconfig), "new mount API: configures filesystem contexts"),
    Rule::deny(sys!(SYS_fsmount), "new mount API: turns a filesystem context into a mount"),
    Rule::deny(sys!(SYS_fspick), "new mount API: reconfigures existing mounts"),
    Rule::deny(sys!(SYS_mount_setattr), "would clear read-only, nosuid or nodev on mounts"),
    Rule::deny(sys!(SYS_open_by_handle_at), "opens files by handle, bypassing path lookup and the sandbox's mounts (the 'shocker' escape)"),
    Rule::deny(sys!(SYS_name_to_handle_at), "produces file handles for open_by_handle_at and leaks inode identities"),
    // Namespaces (allowed by sandbox.dangerously_allow_nested_namespaces).
    Rule::deny(sys!(SYS_unshare), "new namespaces give capabilities over fresh kernel objects (user namespaces are the largest kernel attack surface a process can reach); denied whole, as unsharing only CLONE_FILES/CLONE_FS is not needed in a sandbox").when(NS),
    Rule::deny(sys!(SYS_setns), "would join other namespaces").when(NS),
    Rule::deny(sys!(SYS_clone), "clone with a CLONE_NEW* flag creates namespaces like unshare; plain fork/threads are unaffected").when(NS).args(CLONE_NEW_ANY),
    Rule::deny(sys!(SYS_clone3), "its flags live in memory that seccomp cannot read, so it cannot be checked for CLONE_NEW*; ENOSYS makes libc fall back to clone, which is checked").when(NS).action(Action::Enosys),
    // Kernel attack surface and host-wide state.
    Rule::deny(sys!(SYS_bpf), "loads eBPF programs: large kernel attack surface, tracing of other processes"),
    Rule::deny(sys!(SYS_perf_event_open), "performance counters: kernel attack surface and side channels on other processes"),
    Rule::deny(sys!(SYS_keyctl), "kernel keyrings are not namespaced: keys of the user outside the sandbox are reachable"),
    Rule::deny(sys!(SYS_add_key), "kernel keyrings are not namespaced"),
    Rule::deny(sys!(SYS_request_key), "kernel keyrings are not namespaced; may call out to host helpers"),
    Rule::deny(sys!(SYS_kexec_load), "loads a new kernel"),
    Rule::deny(sys!(SYS_kexec_file_load), "loads a new kernel"),
    Rule::deny(sys!(SYS_init_module), "loads kernel modules"),
    Rule::deny(sys!(SYS_finit_module), "loads kernel modules"),
    Rule::deny(sys!(SYS_delete_module), "unloads kernel modules"),
    Rule::deny(sys!(SYS_io_uring_setup), "io_uring performs I/O that bypasses this filter and is a frequent source of kernel exploits"),
    Rule::deny(sys!(SYS_io_uring_enter), "io_uring performs I/O that bypasses this filter"),
    Rule::deny(sys!(SYS_io_uring_register), "io_uring performs I/O that bypasses this filter"),
    Rule::deny(sys!(SYS_userfaultfd), "stalls kernel accesses to user memory at will, the standard tool for winning kernel races"),
    Rule::deny(sys!(SYS_acct), "switches process accounting on the host"),
    Rule::deny(sys!(SYS_swapon), "changes the host's swap"),
    Rule::deny(sys!(SYS_swapoff), "changes the host's swap"),
    Rule::deny(sys!(SYS_reboot), "reboots the host or the pid namespace"),
    Rule::deny(sys!(SYS_syslog), "reads the kernel log (addresses, other workloads' messages)"),
    Rule::deny(sys!(SYS_settimeofday), "sets the host's clock"),
    Rule::deny(sys!(SYS_clock_settime), "sets the host's clock"),
    Rule::deny(sys!(SYS_clock_adjtime), "adjusts the host's clock"),
    Rule::deny(sys!(SYS_adjtimex), "adjusts the host's clock"),
    Rule::deny(sys!(SYS_quotactl), "manipulates disk quotas of host filesystems"),
    Rule::deny(sys!(SYS_lookup_dcookie), "resolves kernel directory cookies to paths (removed in Linux 6.8; denied for older kernels)"),
    Rule::deny(sys!(SYS_uselib, only_on = "x86_64"), "obsolete a.out library loader, old kernel attack surface"),
    Rule::deny(sys!(SYS_iopl, only_on = "x86_64"), "raw I/O port access"),
    Rule::deny(sys!(SYS_ioperm, only_on = "x86_64"), "raw I/O port access"),
    Rule::deny(sys!(SYS_vhangup), "hangs up the controlling terminal, which belongs to the user outside"),
    Rule::deny(sys!(SYS_fanotify_init), "filesystem-wide event monitoring, can intercept other processes' file accesses"),
    Rule::deny(sys!(SYS_nfsservctl), "obsolete NFS server control (removed in Linux 3.1; denied for old kernels)"),
    // Narrowed by arguments.
    Rule::deny(sys!(SYS_personality), "only PER_LINUX and the query are allowed: other personas disable ASLR (ADDR_NO_RANDOMIZE) or change the kernel ABI").args(PERSONALITY_CHANGE),
    Rule::deny(sys!(SYS_ioctl), "TIOCSTI and TIOCLINUX push input into the terminal, so sandboxed code could type commands into the user's shell outside").args(TTY_INJECTION),
    Rule::deny(sys!(SYS_socket), "AF_PACKET and raw IP sockets craft or sniff packets below the egress proxy").args(RAW_SOCKETS),
    // File modes with S_ISUID/S_ISGID (why mkdir is not denied: see
    // set_id_reason!).
    Rule::deny(sys!(SYS_chmod, only_on = "x86_64"), SET_ID_REASON).args(SET_ID_MODE_1),
    Rule::deny(sys!(SYS_fchmod), SET_ID_REASON).args(SET_ID_MODE_1),
    Rule::deny(sys!(SYS_fchmodat), SET_ID_REASON).args(SET_ID_MODE_2),
    Rule::deny(("fchmodat2", Some(SYS_FCHMODAT2), None), SET_ID_REASON).args(SET_ID_MODE_2),
    Rule::deny(sys!(SYS_open, only_on = "x86_64"), OPEN_SET_ID_REASON).args(CREATES_SET_ID_1),
    Rule::deny(sys!(SYS_openat), OPEN_SET_ID_REASON).args(CREATES_SET_ID_2),
    Rule::deny(sys!(SYS_creat, only_on = "x86_64"), SET_ID_REASON).args(SET_ID_MODE_1),
    Rule::deny(sys!(SYS_mknod, only_on = "x86_64"), MKNOD_SET_ID_REASON).args(SET_ID_MODE_1),
    Rule::deny(sys!(SYS_mknodat), MKNOD_SET_ID_REASON).args(SET_ID_MODE_2),
    Rule::deny(sys!(SYS_openat2), "passes its mode in memory that seccomp cannot read, so it cannot be checked for S_ISUID/S_ISGID; glibc's open functions never use it, and programs that do fall back to openat (which is checked) on ENOSYS, as on kernels before 5.6").action(Action::Enosys),
    Rule::deny(sys!(SYS_sched_setaffinity), "the CPU limit is enforced by affinity (no cgroup), so widening it would escape the limit").when(When::DenyAffinityChanges),
];

/// A call the monitor watches (notify mode only): reported, then let
/// through. `when` narrows it on the registers, so that uninteresting calls
/// (an `openat` for reading) stay in the kernel at full speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchedSyscall {
    pub name: &'static str,
    pub nr: Option<i64>,
    pub when: Args,
}

impl WatchedSyscall {
    const fn on(sys: (&'static str, Option<i64>, Option<&'static str>)) -> WatchedSyscall {
        WatchedSyscall {
            name: sys.0,
            nr: sys.1,
            when: Args::Any,
        }
    }
    const fn when(self, any_of: &'static [&'static [ArgCmp]]) -> WatchedSyscall {
        WatchedSyscall {
            when: Args::AnyOf(any_of),
            ..self
        }
    }
}

/// Open flags that mean an intent to write: the single-bit alternatives
/// compile to one `JSET`. (`O_RDONLY` is 0: a read-only open has none.)
macro_rules! write_intent {
    ($f:literal) => {
        &[
            &[has_bits($f, libc::O_WRONLY as u32)],
            &[has_bits($f, libc::O_RDWR as u32)],
            &[has_bits($f, O_CREAT)],
            &[has_bits($f, libc::O_TRUNC as u32)],
            &[has_bits($f, O_TMPFILE_BIT)],
        ]
    };
}
const WRITE_INTENT_1: &[&[ArgCmp]] = write_intent!(1);
const WRITE_INTENT_2: &[&[ArgCmp]] = write_intent!(2);

/// `socket(domain, ...)` outside the families every program uses (unix,
/// IPv4, IPv6, netlink): AF_VSOCK, AF_BLUETOOTH, AF_ALG, AF_XDP... are
/// unusual for an agent and worth a line.
const UNUSUAL_FAMILY: &[&[ArgCmp]] = &[&[
    ne(0, libc::AF_UNIX as u32),
    ne(0, libc::AF_INET as u32),
    ne(0, libc::AF_INET6 as u32),
    ne(0, libc::AF_NETLINK as u32),
]];

/// `sendto(fd, buf, len, flags, dest_addr, addrlen)` naming a destination
/// (a datagram's address; `send()` passes none and stays in the kernel).
/// Only the pointer's low half is compared: telemetry, not a gate.
const SENDTO_WITH_ADDRESS: &[&[ArgCmp]] = &[&[ne(4, 0)]];

/// What the monitor watches. A call here that a deny rule also names is
/// sent to the supervisor when either matches; the supervisor applies
/// the deny rule first, on the same registers the filter saw.
#[rustfmt::skip]
const WATCHES: &[WatchedSyscall] = &[
    WatchedSyscall::on(sys!(SYS_execve)),
    WatchedSyscall::on(sys!(SYS_execveat)),
    WatchedSyscall::on(sys!(SYS_exit_group)),
    WatchedSyscall::on(sys!(SYS_connect)),
    WatchedSyscall::on(sys!(SYS_bind)),
    WatchedSyscall::on(sys!(SYS_listen)),
    WatchedSyscall::on(sys!(SYS_sendto)).when(SENDTO_WITH_ADDRESS),
    WatchedSyscall::on(sys!(SYS_socket)).when(UNUSUAL_FAMILY),
    WatchedSyscall::on(sys!(SYS_open, only_on = "x86_64")).when(WRITE_INTENT_1),
    WatchedSyscall::on(sys!(SYS_openat)).when(WRITE_INTENT_2),
    WatchedSyscall::on(sys!(SYS_creat, only_on = "x86_64")),
    WatchedSyscall::on(sys!(SYS_truncate)),
    WatchedSyscall::on(sys!(SYS_ftruncate)),
    WatchedSyscall::on(sys!(SYS_rename, only_on = "x86_64")),
    WatchedSyscall::on(sys!(SYS_renameat)),
    WatchedSyscall::on(sys!(SYS_renameat2)),
    WatchedSyscall::on(sys!(SYS_unlink, only_on = "x86_64")),
    WatchedSyscall::on(sys!(SYS_unlinkat)),
    WatchedSyscall::on(sys!(SYS_rmdir, only_on = "x86_64")),
];

/// The calls the monitor watches (those that exist on this architecture
/// have `nr`).
pub fn watches() -> &'static [WatchedSyscall] {
    WATCHES
}

/// The watch for syscall number `nr`, if any.
pub fn watch_for(nr: i64) -> Option<&'static WatchedSyscall> {
    WATCHES.iter().find(|w| w.nr == Some(nr))
}

impl ArgCmp {
    /// Whether the comparison holds for `args`: the low 32 bits, as the
    /// filter compares them.
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        let v = args[usize::from(self.index.min(5))] as u32;
        match self.op {
            Cmp::Eq(k) => v == k,
            Cmp::Ne(k) => v != k,
            Cmp::MaskedEq { mask, value } => v & mask == value,
        }
    }
}

impl Args {
    /// Whether a call with `args` is selected, as the filter decides it.
    pub fn matches(&self, args: &[u64; 6]) -> bool {
        match self {
            Args::Any => true,
            Args::AnyOf(alternatives) => alternatives
                .iter()
                .any(|all_of| all_of.iter().all(|c| c.holds(args))),
        }
    }
}

/// The whole table, for documentation and `corral doctor`. Rules that do
/// not exist on this architecture have `nr: None`.
pub fn rules() -> &'static [Rule] {
    RULES
}

/// The rule for syscall number `nr` on this architecture, to explain a
/// denial (`None` for syscalls the table does not name).
pub fn rule_for(nr: i64) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.nr == Some(nr))
}
