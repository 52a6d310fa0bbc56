//! Masked secrets: credentials in the home directory and `.env` files in
//! the workspace read as EACCES, by any path.

mod common;
use common::*;

/// A fake home with SSH and AWS credentials, and a workspace `.env`.
fn plant_secrets(env: &Env) {
    std::fs::create_dir_all(env.home.join(".ssh")).expect("mkdir .ssh");
    std::fs::create_dir_all(env.home.join(".aws")).expect("mkdir .aws");
    std::fs::write(env.home.join(".ssh/id_rsa"), "SECRET-SSH-KEY\n").expect("write id_rsa");
    std::fs::write(env.home.join(".aws/credentials"), "SECRET-AWS-KEY\n")
        .expect("write credentials");
    std::fs::write(env.home.join("notes.txt"), "plain-home-file\n").expect("write notes");
    env.write(".env", "SECRET-DOTENV\n");
    env.write("sub/.env", "SECRET-NESTED-DOTENV\n");
}

#[test]
fn home_credentials_and_dotenv_are_masked() {
    for_each_identity("home_credentials_and_dotenv_are_masked", |env| {
        plant_secrets(env);
        let out = env.sh(
            &[],
            "cat \"$HOME/notes.txt\"; cat \"$HOME/.ssh/id_rsa\"; cat \"$HOME/.aws/credentials\"; cat sub/.env; cat .env",
        );
        out.code(1)
            .stderr_has(&format!(
                "cat: {}/.ssh/id_rsa: Permission denied",
                env.home.display()
            ))
            .stderr_has(&format!(
                "cat: {}/.aws/credentials: Permission denied",
                env.home.display()
            ))
            .stderr_has("cat: .env: Permission denied")
            .stderr_has("cat: sub/.env: Permission denied")
            // The rest of the home stays readable: only the secrets are masked.
            .stdout_has("plain-home-file")
            .lacks("SECRET-");
    });
}

#[test]
fn masked_directory_cannot_be_listed_or_unmasked() {
    for_each_identity("masked_directory_cannot_be_listed_or_unmasked", |env| {
        plant_secrets(env);
        let out = env.sh(
            &[],
            "ls \"$HOME/.ssh\"; echo ls=$?; chmod 700 \"$HOME/.ssh\"; echo chmod=$?; umount \"$HOME/.ssh\"; echo umount=$?; cat \"$HOME/.ssh/id_rsa\"",
        );
        out.stdout_has("ls=2").lacks("id_rsa\n").lacks("SECRET-");
        out.stderr_has("Permission denied");
        assert!(
            !out.stdout.contains("chmod=0"),
            "chmod of a mask succeeded:\n{out}"
        );
        assert!(
            !out.stdout.contains("umount=0"),
            "umount of a mask succeeded:\n{out}"
        );
    });
}

#[test]
fn deny_read_flag_masks_an_extra_file() {
    for_each_identity("deny_read_flag_masks_an_extra_file", |env| {
        let dir = env.scratch("extra");
        let token = dir.join("token");
        std::fs::write(&token, "SECRET-TOKEN\n").expect("write token");
        let script = format!("cat {}", token.display());
        // Control: readable without the flag, so the mask is what denies it.
        env.sh(&[], &script).code(0).stdout_has("SECRET-TOKEN");
        env.sh(&["--deny-read", &token.to_string_lossy()], &script)
            .code(1)
            .stderr_has(&format!("cat: {}: Permission denied", token.display()))
            .lacks("SECRET-TOKEN");
    });
}

#[test]
fn deny_read_glob_masks_matching_workspace_files() {
    for_each_identity("deny_read_glob_masks_matching_workspace_files", |env| {
        env.write("keys/a.pem", "SECRET-PEM-A\n");
        env.write("deep/er/b.pem", "SECRET-PEM-B\n");
        env.write("keys/readme", "not-secret\n");
        env.sh(
            &["--deny-read", "**/*.pem"],
            "cat keys/readme; cat deep/er/b.pem; cat keys/a.pem",
        )
        .code(1)
        .stderr_has("cat: keys/a.pem: Permission denied")
        .stderr_has("cat: deep/er/b.pem: Permission denied")
        .stdout_has("not-secret")
        .lacks("SECRET-PEM");
    });
}

#[test]
fn secret_not_readable_through_another_path() {
    for_each_identity("secret_not_readable_through_another_path", |env| {
        plant_secrets(env);
        let key = env.home.join(".ssh/id_rsa");
        std::os::unix::fs::symlink(&key, env.ws.join("link-to-key")).expect("symlink");
        std::os::unix::fs::symlink(env.home.join(".aws"), env.ws.join("link-to-aws"))
            .expect("symlink");
        let h = env.home.display();
        let out = env.sh(
            &[],
            &format!(
                "cat link-to-key; cat link-to-aws/credentials; cat /proc/self/root{h}/.ssh/id_rsa; \
                 cat {h}/./.ssh/../.ssh/id_rsa; cat /proc/1/root{h}/.ssh/id_rsa; cp link-to-key copy; \
                 python3 -c 'import os; os.open(\"{h}/.ssh/id_rsa\", os.O_RDONLY|os.O_PATH); print(\"opath-ok\")'"
            ),
        );
        out.stderr_has("cat: link-to-key: Permission denied")
            .stderr_has("cat: link-to-aws/credentials: Permission denied")
            .stderr_has(&format!(
                "cat: /proc/self/root{h}/.ssh/id_rsa: Permission denied"
            ))
            .stderr_has(&format!(
                "cat: {h}/./.ssh/../.ssh/id_rsa: Permission denied"
            ))
            .lacks("SECRET-");
        assert!(
            !env.ws.join("copy").exists()
                || std::fs::read_to_string(env.ws.join("copy"))
                    .unwrap_or_default()
                    .is_empty(),
            "{out}"
        );
    });
}

/// A HOME below /tmp (common in CI) is not visible inside the sandbox,
/// which has a private /tmp: the run must still start, and the secrets stay
/// unreadable.
#[test]
fn secrets_under_a_tmp_home_do_not_break_the_run() {
    for_each_identity("secrets_under_a_tmp_home_do_not_break_the_run", |env| {
        let tmp_home = TempDir::new_in("/tmp", "corral-tmphome-");
        let h = tmp_home.path();
        std::fs::create_dir_all(h.join(".ssh")).expect("mkdir");
        std::fs::write(h.join(".ssh/id_rsa"), "SECRET-SSH-KEY\n").expect("write");
        if let Who::Unprivileged(u) = &env.who {
            chown_r(h, u.uid, u.gid);
        }
        let mut argv: Vec<String> = env
            .argv(&[])
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        for a in argv.iter_mut() {
            if a.starts_with("HOME=") {
                *a = format!("HOME={}", h.display());
            }
        }
        env.fix_ownership();
        let child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .args([
                "run",
                "-q",
                "--",
                "sh",
                "-c",
                "cat \"$HOME/.ssh/id_rsa\"; echo ran",
            ])
            .current_dir(&env.ws)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let out = wait_with_deadline(
            child,
            format!("as {}: HOME={} corral run", env.who, h.display()),
            RUN_DEADLINE,
        );
        out.code(0).stdout_has("ran").lacks("SECRET-");
    });
}

#[test]
fn host_unix_sockets_outside_tmp_and_run_are_masked() {
    for_each_identity("host_unix_sockets_outside_tmp_and_run_are_masked", |env| {
        // A host daemon's socket in a directory the sandbox can see.
        let dir = env.scratch("sock");
        let path = dir.join("daemon.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        chmod(&path, 0o777);
        let code = format!(
            "import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({:?})\n    print('CONNECTED')\nexcept OSError as e:\n    print('refused', e.errno)\n",
            path.to_str().expect("utf-8 path")
        );
        let out = env.py(&[], &code);
        drop(listener);
        out.code(0).stdout_has("refused 13").lacks("CONNECTED");
    });
}

#[test]
fn an_unreadable_directory_is_masked_rather_than_skipped() {
    for_each_identity(
        "an_unreadable_directory_is_masked_rather_than_skipped",
        |env| {
            env.write("priv/.env", "TOPSECRET\n");
            env.fix_ownership();
            // Search-only for its owner: the planner cannot list it, the
            // command (same owner) could chmod it back and read `.env`.
            chmod(&env.ws.join("priv"), 0o300);
            let out = env.sh(&[], "chmod 700 priv; cat priv/.env");
            chmod(&env.ws.join("priv"), 0o700);
            out.lacks("TOPSECRET");
        },
    );
}
