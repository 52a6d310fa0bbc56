//! The catalogue of the built-in detectors: their ids and what each looks
//! for, and the refused system calls that are the shape of an escape, each
//! with the `escape.*` id it raises. [`DETECTOR_IDS`] and [`DETECTORS`] are
//! derived from it; corral-detect's `escape.*` detector reads
//! [`ESCAPE_SYSCALLS`], and its tests check that the sandbox's seccomp
//! table refuses every one of them.

/// One built-in detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detector {
    /// Its stable dotted id (`miner.cpu`), a `[detect.detectors]` key.
    pub id: &'static str,
    /// What it looks for, in a few plain words.
    pub description: &'static str,
}

/// A system call the sandbox refuses that is the shape of an escape or a
/// kernel attack: a `sys.denied` of it raises `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EscapeSyscall {
    /// The syscall's name, as in `man 2` (and in `sys.denied`'s `syscall`).
    pub syscall: &'static str,
    /// The `escape.*` id its refusal raises.
    pub id: &'static str,
    /// The MITRE ATT&CK technique.
    pub technique: &'static str,
    /// What the call would do, completing "it would ...".
    pub what: &'static str,
}

/// The built-in detectors other than `escape.*`, family by family.
const OWN: &[Detector] = &[
    Detector {
        id: "miner.stratum",
        description: "a proxied connection that spoke Stratum, the mining-pool protocol",
    },
    Detector {
        id: "miner.argv",
        description: "an exec whose argv has a miner's options (a stratum URL, a mining algorithm, a wallet address)",
    },
    Detector {
        id: "miner.exec",
        description: "an exec of a known miner by name",
    },
    Detector {
        id: "miner.pool",
        description: "a DNS query or proxied connection to a mining pool's name",
    },
    Detector {
        id: "miner.port",
        description: "a connection to a well-known Stratum port without a pool-like name",
    },
    Detector {
        id: "miner.cpu",
        description: "unexpected processes holding the CPU with no progress, as a miner does",
    },
    Detector {
        id: "tunnel.ssh",
        description: "ssh with port forwarding",
    },
    Detector {
        id: "tunnel.ssh-proxy",
        description: "ssh hopping through a jump host or a proxy command",
    },
    Detector {
        id: "tunnel.autossh",
        description: "an exec of autossh, which keeps tunnels up",
    },
    Detector {
        id: "tunnel.ssh-egress",
        description: "a proxied connection that spoke SSH, not from git",
    },
    Detector {
        id: "shell.reverse",
        description: "a reverse shell: a shell joined to an outgoing connection",
    },
    Detector {
        id: "shell.bind",
        description: "a bind shell: a shell joined to a listening socket",
    },
    Detector {
        id: "net.scan",
        description: "connections to many distinct destinations in a short time",
    },
    Detector {
        id: "net.metadata",
        description: "a DNS query, connection or socket to a cloud metadata service",
    },
    Detector {
        id: "net.listen",
        description: "a socket listening on a non-loopback address",
    },
    Detector {
        id: "persist.shell-rc",
        description: "a write to a shell startup file",
    },
    Detector {
        id: "persist.cron",
        description: "a write to cron's schedule, or crontab run",
    },
    Detector {
        id: "persist.at",
        description: "a write to at's queue, or at or batch run",
    },
    Detector {
        id: "persist.systemd",
        description: "a write to a service definition, or a service enabled",
    },
    Detector {
        id: "persist.ssh-keys",
        description: "a write to SSH's authorized keys",
    },
    Detector {
        id: "persist.git-hook",
        description: "a write to a git hook",
    },
    Detector {
        id: "persist.preload",
        description: "a write to the dynamic linker's configuration",
    },
    Detector {
        id: "persist.sudoers",
        description: "a write to sudo's rules",
    },
    Detector {
        id: "persist.account",
        description: "a write to the account database",
    },
    Detector {
        id: "persist.etc",
        description: "any other write under /etc",
    },
    Detector {
        id: "evasion.history",
        description: "a shell or REPL history file removed, truncated or renamed",
    },
    Detector {
        id: "evasion.logs",
        description: "a log under /var/log removed, truncated or renamed",
    },
    Detector {
        id: "evasion.audit",
        description: "a write to corral's audit trail or its directory",
    },
    Detector {
        id: "evasion.memfd",
        description: "an exec from memory (memfd, /proc/PID/fd, /dev/fd)",
    },
    Detector {
        id: "evasion.shm",
        description: "an exec of a file under /dev/shm",
    },
    Detector {
        id: "evasion.written-exec",
        description: "an exec of a file this run wrote, not built by a compiler or linker",
    },
    Detector {
        id: "exfil.dns",
        description: "a DNS name with a long encoded-looking label",
    },
    Detector {
        id: "exfil.dns-burst",
        description: "many distinct names under one domain in a short time",
    },
    Detector {
        id: "exfil.upload",
        description: "proxied connections that sent much data to one destination",
    },
    Detector {
        id: "resource.memory",
        description: "the sandbox hit its memory limit",
    },
    Detector {
        id: "resource.pids",
        description: "the sandbox hit its process limit",
    },
    Detector {
        id: "resource.cpu",
        description: "the sandbox hit or ran at its CPU limit",
    },
    Detector {
        id: "resource.timeout",
        description: "the sandbox hit its time limit",
    },
];

/// The escape-shaped refused calls, in the order of the sandbox's table
/// (several calls may raise one id: `escape.setid`).
pub const ESCAPE_SYSCALLS: &[EscapeSyscall] = &[
    EscapeSyscall {
        syscall: "ptrace",
        id: "escape.ptrace",
        technique: "T1055.008",
        what: "trace another process, its memory and registers",
    },
    EscapeSyscall {
        syscall: "process_vm_readv",
        id: "escape.process_vm_readv",
        technique: "T1055.008",
        what: "read another process's memory",
    },
    EscapeSyscall {
        syscall: "process_vm_writev",
        id: "escape.process_vm_writev",
        technique: "T1055.008",
        what: "write another process's memory",
    },
    EscapeSyscall {
        syscall: "pidfd_getfd",
        id: "escape.pidfd_getfd",
        technique: "T1055",
        what: "take a file descriptor out of another process",
    },
    EscapeSyscall {
        syscall: "mount",
        id: "escape.mount",
        technique: "T1611",
        what: "change the sandbox's filesystem view",
    },
    EscapeSyscall {
        syscall: "umount2",
        id: "escape.umount2",
        technique: "T1611",
        what: "remove the masks and read-only binds of the sandbox",
    },
    EscapeSyscall {
        syscall: "pivot_root",
        id: "escape.pivot_root",
        technique: "T1611",
        what: "change the sandbox's root",
    },
    EscapeSyscall {
        syscall: "chroot",
        id: "escape.chroot",
        technique: "T1611",
        what: "change the root, a classic way out of a chroot",
    },
    EscapeSyscall {
        syscall: "move_mount",
        id: "escape.move_mount",
        technique: "T1611",
        what: "attach mounts",
    },
    EscapeSyscall {
        syscall: "open_tree",
        id: "escape.open_tree",
        technique: "T1611",
        what: "clone mount trees",
    },
    EscapeSyscall {
        syscall: "fsopen",
        id: "escape.fsopen",
        technique: "T1611",
        what: "create a filesystem to mount",
    },
    EscapeSyscall {
        syscall: "fsconfig",
        id: "escape.fsconfig",
        technique: "T1611",
        what: "configure a filesystem to mount",
    },
    EscapeSyscall {
        syscall: "fsmount",
        id: "escape.fsmount",
        technique: "T1611",
        what: "mount a filesystem",
    },
    EscapeSyscall {
        syscall: "fspick",
        id: "escape.fspick",
        technique: "T1611",
        what: "reconfigure a mount",
    },
    EscapeSyscall {
        syscall: "mount_setattr",
        id: "escape.mount_setattr",
        technique: "T1611",
        what: "make read-only mounts writable",
    },
    EscapeSyscall {
        syscall: "open_by_handle_at",
        id: "escape.open_by_handle_at",
        technique: "T1611",
        what: "open files by handle, past the sandbox's mounts (the 'shocker' escape)",
    },
    EscapeSyscall {
        syscall: "name_to_handle_at",
        id: "escape.name_to_handle_at",
        technique: "T1611",
        what: "make file handles for open_by_handle_at",
    },
    EscapeSyscall {
        syscall: "unshare",
        id: "escape.unshare",
        technique: "T1611",
        what: "create namespaces, the largest kernel attack surface a process can reach",
    },
    EscapeSyscall {
        syscall: "setns",
        id: "escape.setns",
        technique: "T1611",
        what: "join other namespaces",
    },
    EscapeSyscall {
        syscall: "clone",
        id: "escape.clone",
        technique: "T1611",
        what: "create namespaces",
    },
    EscapeSyscall {
        syscall: "bpf",
        id: "escape.bpf",
        technique: "T1068",
        what: "load eBPF programs into the kernel",
    },
    EscapeSyscall {
        syscall: "perf_event_open",
        id: "escape.perf_event_open",
        technique: "T1068",
        what: "open performance counters, a kernel attack surface",
    },
    EscapeSyscall {
        syscall: "keyctl",
        id: "escape.keyctl",
        technique: "T1555",
        what: "reach the kernel keyrings, shared with the host",
    },
    EscapeSyscall {
        syscall: "add_key",
        id: "escape.add_key",
        technique: "T1555",
        what: "reach the kernel keyrings, shared with the host",
    },
    EscapeSyscall {
        syscall: "request_key",
        id: "escape.request_key",
        technique: "T1555",
        what: "reach the kernel keyrings, shared with the host",
    },
    EscapeSyscall {
        syscall: "kexec_load",
        id: "escape.kexec_load",
        technique: "T1547.006",
        what: "load a new kernel",
    },
    EscapeSyscall {
        syscall: "kexec_file_load",
        id: "escape.kexec_file_load",
        technique: "T1547.006",
        what: "load a new kernel",
    },
    EscapeSyscall {
        syscall: "init_module",
        id: "escape.init_module",
        technique: "T1547.006",
        what: "load a kernel module",
    },
    EscapeSyscall {
        syscall: "finit_module",
        id: "escape.finit_module",
        technique: "T1547.006",
        what: "load a kernel module",
    },
    EscapeSyscall {
        syscall: "delete_module",
        id: "escape.delete_module",
        technique: "T1547.006",
        what: "unload a kernel module",
    },
    EscapeSyscall {
        syscall: "io_uring_setup",
        id: "escape.io_uring_setup",
        technique: "T1068",
        what: "use io_uring, which bypasses the syscall filter",
    },
    EscapeSyscall {
        syscall: "io_uring_enter",
        id: "escape.io_uring_enter",
        technique: "T1068",
        what: "use io_uring, which bypasses the syscall filter",
    },
    EscapeSyscall {
        syscall: "io_uring_register",
        id: "escape.io_uring_register",
        technique: "T1068",
        what: "use io_uring, which bypasses the syscall filter",
    },
    EscapeSyscall {
        syscall: "userfaultfd",
        id: "escape.userfaultfd",
        technique: "T1068",
        what: "stall kernel accesses to memory, the standard tool for kernel races",
    },
    EscapeSyscall {
        syscall: "socket",
        id: "escape.socket",
        technique: "T1040",
        what: "open a packet or raw socket, below the egress proxy",
    },
    EscapeSyscall {
        syscall: "ioctl",
        id: "escape.ioctl",
        technique: "T1611",
        what: "push input into the terminal outside the sandbox",
    },
    EscapeSyscall {
        syscall: "chmod",
        id: "escape.setid",
        technique: "T1548.001",
        what: "make a setuid or setgid file",
    },
    EscapeSyscall {
        syscall: "fchmod",
        id: "escape.setid",
        technique: "T1548.001",
        what: "make a setuid or setgid file",
    },
    EscapeSyscall {
        syscall: "fchmodat",
        id: "escape.setid",
        technique: "T1548.001",
        what: "make a setuid or setgid file",
    },
    EscapeSyscall {
        syscall: "fchmodat2",
        id: "escape.setid",
        technique: "T1548.001",
        what: "make a setuid or setgid file",
    },
    EscapeSyscall {
        syscall: "open",
        id: "escape.setid",
        technique: "T1548.001",
        what: "create a setuid or setgid file",
    },
    EscapeSyscall {
        syscall: "openat",
        id: "escape.setid",
        technique: "T1548.001",
        what: "create a setuid or setgid file",
    },
    EscapeSyscall {
        syscall: "creat",
        id: "escape.setid",
        technique: "T1548.001",
        what: "create a setuid or setgid file",
    },
    EscapeSyscall {
        syscall: "mknod",
        id: "escape.setid",
        technique: "T1548.001",
        what: "create a setuid or setgid file",
    },
    EscapeSyscall {
        syscall: "mknodat",
        id: "escape.setid",
        technique: "T1548.001",
        what: "create a setuid or setgid file",
    },
];

/// How many distinct ids [`ESCAPE_SYSCALLS`] raises.
const ESCAPE_IDS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < ESCAPE_SYSCALLS.len() {
        if first_of_its_id(i) {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Whether `ESCAPE_SYSCALLS[i]` is the first to raise its id.
const fn first_of_its_id(i: usize) -> bool {
    let mut j = 0;
    while j < i {
        if same(ESCAPE_SYSCALLS[j].id, ESCAPE_SYSCALLS[i].id) {
            return false;
        }
        j += 1;
    }
    true
}

/// `a == b`, in a const context.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const COUNT: usize = OWN.len() + ESCAPE_IDS;

/// [`OWN`], then one `escape.*` detector per id of [`ESCAPE_SYSCALLS`]
/// (described by its first call's `what`).
const fn catalogue() -> [Detector; COUNT] {
    let mut out = [Detector {
        id: "",
        description: "",
    }; COUNT];
    let mut n = 0;
    while n < OWN.len() {
        out[n] = OWN[n];
        n += 1;
    }
    let mut i = 0;
    while i < ESCAPE_SYSCALLS.len() {
        if first_of_its_id(i) {
            out[n] = Detector {
                id: ESCAPE_SYSCALLS[i].id,
                description: ESCAPE_SYSCALLS[i].what,
            };
            n += 1;
        }
        i += 1;
    }
    out
}

const fn ids() -> [&'static str; COUNT] {
    let mut out = [""; COUNT];
    let mut i = 0;
    while i < COUNT {
        out[i] = DETECTORS[i].id;
        i += 1;
    }
    out
}

/// Every built-in detector (the `baseline.*` findings and the user's
/// `custom.*` rules come on top).
pub const DETECTORS: &[Detector] = &catalogue();

/// The ids of the built-in detectors ([`DETECTORS`]' ids, in order).
/// `[detect.detectors]` keys must be one of these, a family of them
/// (`miner`, `miner.*`), or under `custom` or `baseline`. corral-detect's
/// tests check that this is exactly the set of ids its detectors raise.
pub const DETECTOR_IDS: &[&str] = &ids();

/// The families of the built-in detectors, in order.
pub const FAMILIES: &[&str] = &[
    "miner", "tunnel", "shell", "net", "persist", "evasion", "escape", "exfil", "resource",
];

/// Families whose ids are open-ended: the user's rules and the baselines'.
pub(super) const OPEN_FAMILIES: [&str; 2] = ["custom", "baseline"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::check::check_detector_key;

    #[test]
    fn the_id_list_has_no_repeats_and_valid_ids() {
        let mut seen = std::collections::HashSet::new();
        for id in DETECTOR_IDS {
            assert!(seen.insert(id), "{id} twice");
            assert!(check_detector_key(id).is_ok(), "{id}");
            assert!(id.contains('.'), "{id}");
            let family = id.split('.').next().unwrap_or_default();
            assert!(
                FAMILIES.contains(&family),
                "{id}: family {family} is not listed"
            );
        }
        for family in FAMILIES {
            assert!(
                DETECTOR_IDS
                    .iter()
                    .any(|id| id.starts_with(&format!("{family}."))),
                "{family}"
            );
        }
        assert_eq!(DETECTOR_IDS.len(), DETECTORS.len());
        assert!(DETECTORS.iter().all(|d| !d.description.is_empty()));
    }

    #[test]
    fn escape_calls_are_escape_ids_and_each_call_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for e in ESCAPE_SYSCALLS {
            assert!(seen.insert(e.syscall), "{} twice", e.syscall);
            assert!(e.id.starts_with("escape."), "{}: {}", e.syscall, e.id);
            assert!(DETECTOR_IDS.contains(&e.id), "{}", e.id);
        }
        assert!(OWN.iter().all(|d| !d.id.starts_with("escape.")));
        // Each call raises its own id, but the set-id ones share one.
        for e in ESCAPE_SYSCALLS {
            let own = e.id == format!("escape.{}", e.syscall);
            assert!(
                own || e.id == "escape.setid",
                "{} raises {}",
                e.syscall,
                e.id
            );
        }
    }
}
