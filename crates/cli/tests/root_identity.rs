//! A sandbox started by root runs under an unprivileged host uid; these
//! check what that uid may and may not reach (root only: they need files of
//! several owners).

mod common;
use common::*;
use std::os::unix::fs::MetadataExt;

fn test_user() -> Option<(u32, u32)> {
    let name = std::env::var("CORRAL_TEST_USER").unwrap_or_else(|_| "nobody".into());
    let out = std::process::Command::new("id")
        .args(["-u", &name])
        .output()
        .ok()?;
    let uid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let out = std::process::Command::new("id")
        .args(["-g", &name])
        .output()
        .ok()?;
    Some((
        uid,
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()?,
    ))
}

#[test]
fn root_owned_files_in_a_users_workspace_stay_read_only() {
    if !i_am_root() {
        return skip(
            "root_owned_files_in_a_users_workspace_stay_read_only",
            "needs root",
        );
    }
    let Some((uid, gid)) = test_user() else {
        return skip(
            "root_owned_files_in_a_users_workspace_stay_read_only",
            "no unprivileged test user",
        );
    };
    let env = Env::new(Who::Me);
    std::os::unix::fs::chown(&env.ws, Some(uid), Some(gid)).expect("chown ws");
    // Root-owned, inside the user's workspace, and pinned (a .git below).
    std::fs::create_dir_all(env.ws.join("sub/.git/hooks")).expect("mkdir");
    std::fs::write(env.ws.join("sub/rootonly"), "root\n").expect("write");
    let out = env.sh(
        &[],
        "echo pwn >> sub/rootonly; echo y > sub/newfile; echo z > sub/.git/newobj; echo done",
    );
    out.code(0)
        .stdout_has("done")
        .stderr_has("Permission denied");
    assert_eq!(
        std::fs::read_to_string(env.ws.join("sub/rootonly")).expect("read"),
        "root\n"
    );
    assert!(!env.ws.join("sub/newfile").exists(), "{out}");
    assert!(!env.ws.join("sub/.git/newobj").exists(), "{out}");
    // The user's own files are writable and stay theirs on disk.
    env.sh(&[], "echo mine > mine.txt").code(0);
    assert_eq!(
        std::fs::metadata(env.ws.join("mine.txt"))
            .expect("stat")
            .uid(),
        uid
    );
}

#[test]
fn another_users_private_directory_stays_hidden() {
    if !i_am_root() {
        return skip("another_users_private_directory_stays_hidden", "needs root");
    }
    let Some((uid, gid)) = test_user() else {
        return skip(
            "another_users_private_directory_stays_hidden",
            "no unprivileged test user",
        );
    };
    let env = Env::new(Who::Me);
    let bob = env.scratch("bob");
    std::fs::create_dir_all(bob.join(".ssh")).expect("mkdir");
    std::fs::create_dir_all(bob.join("cache")).expect("mkdir");
    std::fs::write(bob.join(".ssh/id_rsa"), "BOB-KEY\n").expect("write");
    chown_r(&bob, uid, gid);
    chmod(&bob, 0o700);
    let cache = bob.join("cache");
    let out = env.sh(
        &["--write", cache.to_str().expect("utf-8")],
        &format!(
            "cat {}/.ssh/id_rsa; ls {}; echo ok > {}/f",
            bob.display(),
            bob.display(),
            cache.display()
        ),
    );
    out.lacks("BOB-KEY")
        .stderr_has("No such file or directory")
        .stdout_has("cache");
    assert!(
        cache.join("f").exists(),
        "the --write path was not writable:\n{out}"
    );
}

#[test]
fn a_private_home_that_is_the_workspace_stays_writable() {
    if !i_am_root() {
        return skip(
            "a_private_home_that_is_the_workspace_stays_writable",
            "needs root",
        );
    }
    let env = Env::new(Who::Me);
    chmod(&env.ws, 0o700);
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["run", "-q", "--", "sh", "-c", "echo ok > written"])
        .current_dir(&env.ws)
        .env("HOME", &env.ws)
        .stdin(std::process::Stdio::null());
    let out = wait_with_deadline(
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn"),
        "corral run with HOME = the workspace (mode 700)".into(),
        std::time::Duration::from_secs(60),
    );
    chmod(&env.ws, 0o755);
    out.code(0);
    assert!(env.ws.join("written").exists());
}
