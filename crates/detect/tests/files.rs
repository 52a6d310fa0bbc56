//! Detectors over `file.write`: persistence and evasion.

mod common;
use common::*;
use corral_detect::{Response, Severity};
use serde_json::json;

#[test]
fn shell_startup_files_wherever_the_home_is() {
    let mut run = Run::new();
    assert_eq!(
        run.open(0, 5, "/home/me/.bashrc", &["O_WRONLY", "O_APPEND"]),
        ["persist.shell-rc"]
    );
    assert_eq!(
        run.write(1, 5, "create", "/root/.zshrc"),
        ["persist.shell-rc"]
    );
    assert_eq!(
        run.write(2, 5, "create", "/var/lib/jenkins/.profile"),
        ["persist.shell-rc"]
    );
    assert_eq!(
        run.write(3, 5, "create", "/etc/profile.d/x.sh"),
        ["persist.shell-rc"]
    );
    assert_eq!(
        run.ev(
            4,
            "file.write",
            json!({ "pid": 5, "op": "rename", "path": "/tmp/x", "to": "/home/u/.bash_profile" })
        ),
        ["persist.shell-rc"]
    );
    let f = run.get("persist.shell-rc");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::High, Response::Alert, "T1546.004")
    );
    assert!(
        f.explanation.contains("`/home/me/.bashrc`"),
        "{}",
        f.explanation
    );
    // Refused writes are still attempts.
    assert_eq!(
        run.ev(
            5,
            "file.write",
            json!({ "pid": 5, "op": "open", "path": "/home/x/.zprofile", "writable": false })
        ),
        ["persist.shell-rc"]
    );
    assert!(run.found.last().unwrap().explanation.contains("refused"));
}

#[test]
fn an_installer_writing_in_the_workspace_is_not_persistence() {
    let mut run = Run::new();
    for path in [
        "/home/me/proj/node_modules/left-pad/index.js",
        "/home/me/proj/node_modules/.bin/tsc",
        "/home/me/proj/.venv/bin/activate",
        "/home/me/proj/dotfiles/.bashrc",
        "/home/me/proj/tests/fixtures/.ssh/authorized_keys",
        "/home/me/proj/target/debug/build/x/out/etc/passwd",
        "/home/me/.cache/pip/http/a/b",
        "/tmp/etc/hosts",
    ] {
        run.write(0, 5, "create", path);
    }
    // git init writes sample hooks.
    for hook in ["pre-commit.sample", "pre-push.sample", "update.sample"] {
        run.write(1, 5, "create", &format!("/home/me/proj/.git/hooks/{hook}"));
    }
    run.write(2, 5, "create", "/home/me/proj/.git/config");
    // Removing a startup file is not persistence.
    run.write(3, 5, "unlink", "/home/me/.bashrc");
    assert!(run.found.is_empty(), "{:?}", run.found);
}

#[test]
fn cron_systemd_keys_hooks_and_etc() {
    let mut run = Run::new();
    assert_eq!(
        run.write(0, 5, "create", "/var/spool/cron/crontabs/me"),
        ["persist.cron"]
    );
    assert_eq!(
        run.write(1, 5, "create", "/etc/cron.d/job"),
        ["persist.cron"]
    );
    assert_eq!(
        run.write(2, 5, "create", "/home/me/.config/systemd/user/x.service"),
        ["persist.systemd"]
    );
    assert_eq!(
        run.write(3, 5, "create", "/etc/systemd/system/x.service"),
        ["persist.systemd"]
    );
    assert_eq!(
        run.write(4, 5, "create", "/home/me/.ssh/authorized_keys"),
        ["persist.ssh-keys"]
    );
    assert_eq!(
        run.write(5, 5, "create", "/home/me/proj/.git/hooks/post-checkout"),
        ["persist.git-hook"]
    );
    assert_eq!(
        run.write(6, 5, "create", "/etc/ld.so.preload"),
        ["persist.preload"]
    );
    assert_eq!(
        run.write(7, 5, "create", "/etc/sudoers.d/me"),
        ["persist.sudoers"]
    );
    assert_eq!(
        run.write(8, 5, "create", "/etc/passwd"),
        ["persist.account"]
    );
    assert_eq!(run.write(9, 5, "create", "/etc/hosts"), ["persist.etc"]);
    assert_eq!(run.get("persist.etc").severity, Severity::Medium);
    assert_eq!(run.get("persist.ssh-keys").technique, "T1098.004");
    assert_eq!(run.get("persist.systemd").technique, "T1543.002");
    // Each path once.
    assert!(run.write(10, 6, "create", "/etc/hosts").is_empty());
    assert_eq!(
        run.write(11, 6, "create", "/etc/resolv.conf"),
        ["persist.etc"]
    );
}

#[test]
fn wiping_histories_and_logs() {
    let mut run = Run::new();
    assert_eq!(
        run.open(0, 5, "/home/me/.bash_history", &["O_WRONLY", "O_TRUNC"]),
        ["evasion.history"]
    );
    assert_eq!(
        run.write(1, 5, "unlink", "/root/.python_history"),
        ["evasion.history"]
    );
    assert_eq!(
        run.write(2, 5, "truncate", "/home/me/.lesshst"),
        ["evasion.history"]
    );
    assert_eq!(
        run.write(3, 5, "unlink", "/var/log/auth.log"),
        ["evasion.logs"]
    );
    let f = run.get("evasion.history");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::High, Response::Alert, "T1070.003")
    );
    let mut quiet = Run::new();
    // Shells append to their history.
    quiet.open(
        0,
        5,
        "/home/me/.bash_history",
        &["O_WRONLY", "O_APPEND", "O_CREAT"],
    );
    quiet.open(1, 5, "/var/log/app.log", &["O_WRONLY", "O_APPEND"]);
    quiet.write(2, 5, "unlink", "/home/me/proj/history.txt");
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn any_write_to_the_audit_trail_is_critical() {
    let mut run = Run::new();
    assert_eq!(
        run.open(0, 5, TRAIL, &["O_WRONLY", "O_APPEND"]),
        ["evasion.audit"]
    );
    let f = run.get("evasion.audit");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::Critical, Response::Kill, "T1070")
    );
    assert_eq!(
        run.write(1, 5, "unlink", &format!("{STATE}/index.jsonl")),
        ["evasion.audit"]
    );
    assert_eq!(
        run.ev(2, "file.write", json!({ "pid": 5, "op": "rename", "path": "/tmp/fake", "to": format!("{STATE}/runs/r2.jsonl") })),
        ["evasion.audit"]
    );
    let mut quiet = Run::new();
    quiet.write(0, 5, "create", "/home/me/.local/state/corral-other/x");
    quiet.write(1, 5, "create", "/home/me/.local/state/other");
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn control_characters_are_escaped_in_explanations_and_evidence() {
    let mut run = Run::new();
    run.write(0, 5, "create", "/home/me/\n.bashrc\x1b[2J/.bashrc");
    let f = run.get("persist.shell-rc");
    assert!(
        !f.explanation.chars().any(char::is_control),
        "{:?}",
        f.explanation
    );
    assert!(
        f.explanation.contains("\\n.bashrc\\u{1b}[2J"),
        "{}",
        f.explanation
    );
    assert!(!f.evidence[0].summary.chars().any(char::is_control));
    assert_eq!(
        f.evidence[0].summary,
        "create /home/me/\\n.bashrc\\u{1b}[2J/.bashrc"
    );
}
