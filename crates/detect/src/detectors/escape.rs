//! `escape.*`: system calls the sandbox refused (`sys.denied`) that are the
//! shape of an escape or a kernel attack. Other refused calls raise
//! nothing: they are in the trail already, and some (clone3, openat2) are
//! refused on purpose so that libc falls back to a call that is checked.

use super::{hit, pid_subject, Ev, Hit};
use crate::Severity;
use serde_json::Value;

/// `(syscall, id, technique, what it would do)`.
pub(crate) const ESCAPES: &[(&str, &str, &str, &str)] = &[
    (
        "ptrace",
        "escape.ptrace",
        "T1055.008",
        "trace another process, its memory and registers",
    ),
    (
        "process_vm_readv",
        "escape.process_vm_readv",
        "T1055.008",
        "read another process's memory",
    ),
    (
        "process_vm_writev",
        "escape.process_vm_writev",
        "T1055.008",
        "write another process's memory",
    ),
    (
        "pidfd_getfd",
        "escape.pidfd_getfd",
        "T1055",
        "take a file descriptor out of another process",
    ),
    (
        "mount",
        "escape.mount",
        "T1611",
        "change the sandbox's filesystem view",
    ),
    (
        "umount2",
        "escape.umount2",
        "T1611",
        "remove the masks and read-only binds of the sandbox",
    ),
    (
        "umount",
        "escape.umount2",
        "T1611",
        "remove the masks and read-only binds of the sandbox",
    ),
    (
        "pivot_root",
        "escape.pivot_root",
        "T1611",
        "change the sandbox's root",
    ),
    (
        "chroot",
        "escape.chroot",
        "T1611",
        "change the root, a classic way out of a chroot",
    ),
    ("move_mount", "escape.move_mount", "T1611", "attach mounts"),
    (
        "open_tree",
        "escape.open_tree",
        "T1611",
        "clone mount trees",
    ),
    (
        "fsopen",
        "escape.fsopen",
        "T1611",
        "create a filesystem to mount",
    ),
    (
        "fsconfig",
        "escape.fsconfig",
        "T1611",
        "configure a filesystem to mount",
    ),
    ("fsmount", "escape.fsmount", "T1611", "mount a filesystem"),
    ("fspick", "escape.fspick", "T1611", "reconfigure a mount"),
    (
        "mount_setattr",
        "escape.mount_setattr",
        "T1611",
        "make read-only mounts writable",
    ),
    (
        "open_by_handle_at",
        "escape.open_by_handle_at",
        "T1611",
        "open files by handle, past the sandbox's mounts (the 'shocker' escape)",
    ),
    (
        "name_to_handle_at",
        "escape.name_to_handle_at",
        "T1611",
        "make file handles for open_by_handle_at",
    ),
    (
        "unshare",
        "escape.unshare",
        "T1611",
        "create namespaces, the largest kernel attack surface a process can reach",
    ),
    ("setns", "escape.setns", "T1611", "join other namespaces"),
    ("clone", "escape.clone", "T1611", "create namespaces"),
    (
        "bpf",
        "escape.bpf",
        "T1068",
        "load eBPF programs into the kernel",
    ),
    (
        "perf_event_open",
        "escape.perf_event_open",
        "T1068",
        "open performance counters, a kernel attack surface",
    ),
    (
        "keyctl",
        "escape.keyctl",
        "T1555",
        "reach the kernel keyrings, shared with the host",
    ),
    (
        "add_key",
        "escape.add_key",
        "T1555",
        "reach the kernel keyrings, shared with the host",
    ),
    (
        "request_key",
        "escape.request_key",
        "T1555",
        "reach the kernel keyrings, shared with the host",
    ),
    (
        "kexec_load",
        "escape.kexec_load",
        "T1547.006",
        "load a new kernel",
    ),
    (
        "kexec_file_load",
        "escape.kexec_file_load",
        "T1547.006",
        "load a new kernel",
    ),
    (
        "init_module",
        "escape.init_module",
        "T1547.006",
        "load a kernel module",
    ),
    (
        "finit_module",
        "escape.finit_module",
        "T1547.006",
        "load a kernel module",
    ),
    (
        "delete_module",
        "escape.delete_module",
        "T1547.006",
        "unload a kernel module",
    ),
    (
        "io_uring_setup",
        "escape.io_uring_setup",
        "T1068",
        "use io_uring, which bypasses the syscall filter",
    ),
    (
        "io_uring_enter",
        "escape.io_uring_enter",
        "T1068",
        "use io_uring, which bypasses the syscall filter",
    ),
    (
        "io_uring_register",
        "escape.io_uring_register",
        "T1068",
        "use io_uring, which bypasses the syscall filter",
    ),
    (
        "userfaultfd",
        "escape.userfaultfd",
        "T1068",
        "stall kernel accesses to memory, the standard tool for kernel races",
    ),
    (
        "socket",
        "escape.socket",
        "T1040",
        "open a packet or raw socket, below the egress proxy",
    ),
    (
        "ioctl",
        "escape.ioctl",
        "T1611",
        "push input into the terminal outside the sandbox",
    ),
    (
        "chmod",
        "escape.setid",
        "T1548.001",
        "make a setuid or setgid file",
    ),
    (
        "fchmod",
        "escape.setid",
        "T1548.001",
        "make a setuid or setgid file",
    ),
    (
        "fchmodat",
        "escape.setid",
        "T1548.001",
        "make a setuid or setgid file",
    ),
    (
        "fchmodat2",
        "escape.setid",
        "T1548.001",
        "make a setuid or setgid file",
    ),
    (
        "open",
        "escape.setid",
        "T1548.001",
        "create a setuid or setgid file",
    ),
    (
        "openat",
        "escape.setid",
        "T1548.001",
        "create a setuid or setgid file",
    ),
    (
        "creat",
        "escape.setid",
        "T1548.001",
        "create a setuid or setgid file",
    ),
    (
        "mknod",
        "escape.setid",
        "T1548.001",
        "create a setuid or setgid file",
    ),
    (
        "mknodat",
        "escape.setid",
        "T1548.001",
        "create a setuid or setgid file",
    ),
];

const AF_PACKET: u64 = 17;
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;

/// The call as shown: `socket(AF_PACKET)`, `ioctl(TIOCSTI)`, `ptrace`.
fn shown(syscall: &str, args: Option<&Vec<Value>>) -> String {
    let arg = |i: usize| args.and_then(|a| a.get(i)).and_then(Value::as_u64);
    match syscall {
        "socket" => match arg(0) {
            Some(AF_PACKET) => "socket(AF_PACKET)".to_owned(),
            _ => "socket(SOCK_RAW)".to_owned(),
        },
        "ioctl" => match arg(1) {
            Some(TIOCSTI) => "ioctl(TIOCSTI)".to_owned(),
            Some(TIOCLINUX) => "ioctl(TIOCLINUX)".to_owned(),
            _ => "ioctl".to_owned(),
        },
        other => other.to_owned(),
    }
}

pub(crate) fn denied(ev: &Ev<'_>, out: &mut Vec<Hit>) {
    let Some(syscall) = ev.str("syscall") else {
        return;
    };
    let Some((_, id, technique, what)) = ESCAPES.iter().find(|(s, ..)| *s == syscall) else {
        return;
    };
    let who = pid_subject(ev);
    let call = shown(syscall, ev.d.get("args").and_then(Value::as_array));
    out.push(hit(
        ev,
        id,
        Severity::High,
        technique,
        who.clone(),
        format!("{who} tried {call}, refused by the sandbox: it would {what}"),
    ));
}
