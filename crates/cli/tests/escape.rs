//! Privilege escapes: ptrace, mount, nested namespaces. Each must fail with
//! EPERM, whoever runs corral.

mod common;
use common::*;

#[test]
fn ptrace_traceme_is_denied() {
    for_each_identity("ptrace_traceme_is_denied", |env| {
        let code = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_TRACEME = 0
r = libc.ptrace(PTRACE_TRACEME, 0, None, None)
e = ctypes.get_errno()
print("ptrace", r, e, os.strerror(e))
"#;
        env.py(&[], code)
            .code(0)
            .stdout_has("ptrace -1 1 Operation not permitted");
    });
}

#[test]
fn ptrace_attach_to_sibling_is_denied() {
    for_each_identity("ptrace_attach_to_sibling_is_denied", |env| {
        let code = r#"
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
child = subprocess.Popen(["sleep", "10"])
PTRACE_ATTACH = 16
r = libc.ptrace(PTRACE_ATTACH, child.pid, None, None)
e = ctypes.get_errno()
print("attach", r, e, os.strerror(e))
child.kill()
"#;
        env.py(&[], code)
            .code(0)
            .stdout_has("attach -1 1 Operation not permitted");
    });
}

#[test]
fn mount_tmpfs_fails() {
    for_each_identity("mount_tmpfs_fails", |env| {
        let out = env.sh(&[], "mount -t tmpfs none /mnt");
        assert!(out.code.is_some_and(|c| c != 0), "mount succeeded:\n{out}");
        out.stderr_has("must be superuser to use mount");
        // The syscall itself, without mount(8)'s interpretation.
        let code = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.mount(b"none", b"/mnt", b"tmpfs", 0, None)
e = ctypes.get_errno()
print("mount", r, e, os.strerror(e))
"#;
        env.py(&[], code)
            .code(0)
            .stdout_has("mount -1 1 Operation not permitted");
    });
}

#[test]
fn nested_user_namespace_is_denied() {
    for_each_identity("nested_user_namespace_is_denied", |env| {
        env.sh(&[], "unshare -U true")
            .code(1)
            .stderr_has("unshare: unshare failed: Operation not permitted");
    });
}

#[test]
fn nested_unshare_map_root_is_denied() {
    for_each_identity("nested_unshare_map_root_is_denied", |env| {
        env.sh(&[], "unshare -r true")
            .code(1)
            .stderr_has("unshare: unshare failed: Operation not permitted");
    });
}

#[test]
fn setns_into_host_namespaces_is_denied() {
    for_each_identity("setns_into_host_namespaces_is_denied", |env| {
        // The sandbox's own pid 1 is the only reachable "other" namespace
        // holder; joining its namespaces must be refused as well.
        let code = r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/proc/self/ns/net", os.O_RDONLY)
r = libc.setns(fd, 0)
e = ctypes.get_errno()
print("setns", r, e, os.strerror(e))
"#;
        env.py(&[], code)
            .code(0)
            .stdout_has("setns -1 1 Operation not permitted");
    });
}

#[test]
fn host_processes_are_invisible() {
    for_each_identity("host_processes_are_invisible", |env| {
        let me = std::process::id();
        let out = env.sh(&[], &format!("test -e /proc/{me} && echo SEES-HOST-PID; ls /proc | grep -c '^[0-9]'; kill -0 {me}; echo kill=$?"));
        out.code(0).lacks("SEES-HOST-PID").lacks("kill=0");
        // Only the sandbox's own few processes: init, sh, ls, grep.
        let n: u32 = out
            .stdout
            .lines()
            .find_map(|l| l.trim().parse().ok())
            .unwrap_or(999);
        assert!(n <= 6, "sees {n} processes:\n{out}");
    });
}

#[test]
fn setuid_root_binary_gains_nothing() {
    if !i_am_root() {
        return skip(
            "setuid_root_binary_gains_nothing",
            "needs root to create a setuid-root binary",
        );
    }
    for_each_identity("setuid_root_binary_gains_nothing", |env| {
        // A setuid-root copy of `id`, where the sandbox can see it.
        let dir = TempDir::new_in(scratch_root(), "corral-suid-");
        let suid = dir.path().join("id");
        std::fs::copy("/usr/bin/id", &suid).expect("copy id");
        std::os::unix::fs::chown(&suid, Some(0), Some(0)).expect("chown");
        chmod(&suid, 0o4755);
        let script = format!(
            "{} -u; {} -ur; grep -E '^(CapEff|CapPrm)' /proc/self/status",
            suid.display(),
            suid.display()
        );
        let out = env.sh(&[], &script);
        out.code(0)
            .lacks("\n0\n")
            .stdout_has("CapEff:\t0000000000000000")
            .stdout_has("CapPrm:\t0000000000000000");
        let inside_uid = if env.who.is_root() {
            1000
        } else {
            env.who.uid()
        };
        let expected = format!("{inside_uid}\n{inside_uid}\n");
        assert!(
            out.stdout.starts_with(&expected),
            "the setuid-root binary changed the effective uid:\n{out}"
        );
    });
}
