//! Identity inside the sandbox: never root (root callers become uid 1000),
//! no capabilities, no_new_privs, a seccomp filter.

mod common;
use common::*;

#[test]
fn uid_inside_is_1000_for_root_and_unchanged_otherwise() {
    for_each_identity(
        "uid_inside_is_1000_for_root_and_unchanged_otherwise",
        |env| {
            let want = if env.who.is_root() {
                1000
            } else {
                env.who.uid()
            };
            let want_gid = if env.who.is_root() {
                1000
            } else {
                env.who.gid()
            };
            env.sh(&[], "id -u; id -g")
                .code(0)
                .stdout_has(&format!("{want}\n{want_gid}\n"));
        },
    );
}

#[test]
fn no_capabilities_no_new_privs_seccomp_filter() {
    for_each_identity("no_capabilities_no_new_privs_seccomp_filter", |env| {
        env.sh(
            &[],
            "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status",
        )
        .code(0)
        .stdout_has("CapInh:\t0000000000000000\n")
        .stdout_has("CapPrm:\t0000000000000000\n")
        .stdout_has("CapEff:\t0000000000000000\n")
        .stdout_has("CapBnd:\t0000000000000000\n")
        .stdout_has("CapAmb:\t0000000000000000\n")
        .stdout_has("NoNewPrivs:\t1\n")
        .stdout_has("Seccomp:\t2\n");
    });
}

#[test]
fn hostname_is_the_sandbox_one() {
    for_each_identity("hostname_is_the_sandbox_one", |env| {
        let out = env.sh(&[], "hostname; hostname evil; echo rc=$?; hostname");
        out.code(0).stdout_has("corral\n").lacks("evil\n");
        assert!(!out.stdout.contains("rc=0"), "{out}");
    });
}

/// A file only the host's root may read (mode 0600, owned by root) must
/// stay unreadable inside: the command is not root, even when corral is
/// started by root.
#[test]
fn host_root_only_file_is_not_readable() {
    if !i_am_root() {
        return skip(
            "host_root_only_file_is_not_readable",
            "needs root to create a root-only file",
        );
    }
    for_each_identity("host_root_only_file_is_not_readable", |env| {
        let dir = TempDir::new_in(scratch_root(), "corral-rootonly-");
        chmod(dir.path(), 0o755);
        let file = dir.path().join("root-only");
        std::fs::write(&file, "ROOT-ONLY-SECRET\n").expect("write");
        chmod(&file, 0o600);
        let private_dir = dir.path().join("private");
        std::fs::create_dir(&private_dir).expect("mkdir");
        std::fs::write(private_dir.join("f"), "ROOT-ONLY-DIR-SECRET\n").expect("write");
        chmod(&private_dir, 0o700);
        let out = env.sh(
            &[],
            &format!("cat {} {}/f", file.display(), private_dir.display()),
        );
        out.code(1)
            .stderr_has(&format!("cat: {}: Permission denied", file.display()))
            .stderr_has(&format!(
                "cat: {}/f: Permission denied",
                private_dir.display()
            ))
            .lacks("ROOT-ONLY");
    });
}
