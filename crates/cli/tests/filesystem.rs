//! Writes: only the workspace (and `--write` paths) are writable; the host
//! root, the home directory and everything else fail with EROFS.

mod common;
use common::*;

#[test]
fn write_to_etc_fails_read_only_file_system() {
    for_each_identity("write_to_etc_fails_read_only_file_system", |env| {
        let name = format!("/etc/{}", unique("corral-probe"));
        let out = env.sh(&[], &format!("touch {name}"));
        let created = std::path::Path::new(&name).exists();
        let _ = std::fs::remove_file(&name);
        assert!(!created, "{name} was created on the host:\n{out}");
        out.code(1).stderr_has(&format!(
            "touch: cannot touch '{name}': Read-only file system"
        ));
    });
}

#[test]
fn write_to_home_fails() {
    for_each_identity("write_to_home_fails", |env| {
        let out = env.sh(&[], "touch \"$HOME/x\"");
        assert!(
            !env.home.join("x").exists(),
            "$HOME/x was created on the host:\n{out}"
        );
        out.code(1).stderr_has("Read-only file system");
    });
}

#[test]
fn write_to_usr_and_root_dir_fail() {
    for_each_identity("write_to_usr_and_root_dir_fail", |env| {
        let name = unique("corral-probe");
        let out = env.sh(
            &[],
            &format!("mkdir /{name}; echo mkdir=$?; touch /usr/{name}; echo touch=$?"),
        );
        let leaked = std::path::Path::new(&format!("/{name}")).exists()
            || std::path::Path::new(&format!("/usr/{name}")).exists();
        let _ = std::fs::remove_dir(format!("/{name}"));
        let _ = std::fs::remove_file(format!("/usr/{name}"));
        assert!(!leaked, "a probe was created on the host:\n{out}");
        out.code(0).stdout_has("mkdir=1").stdout_has("touch=1");
        out.stderr_has(&format!(
            "mkdir: cannot create directory '/{name}': Read-only file system"
        ));
        out.stderr_has(&format!(
            "touch: cannot touch '/usr/{name}': Read-only file system"
        ));
    });
}

#[test]
fn write_inside_workspace_is_visible_on_host() {
    for_each_identity("write_inside_workspace_is_visible_on_host", |env| {
        let out = env.sh(
            &[],
            "mkdir -p sub && echo payload-42 > sub/out.txt && cat sub/out.txt",
        );
        out.code(0).stdout_has("payload-42");
        let host = std::fs::read_to_string(env.ws.join("sub/out.txt"))
            .unwrap_or_else(|e| panic!("file not on host ({e}):\n{out}"));
        assert_eq!(host, "payload-42\n");
    });
}

#[test]
fn workspace_flag_selects_the_writable_dir() {
    for_each_identity("workspace_flag_selects_the_writable_dir", |env| {
        // Started from the (default) workspace, but --workspace points elsewhere:
        // only that directory is writable.
        let other = env.scratch("other-ws");
        let other_s = other.to_string_lossy().into_owned();
        let ws_s = env.ws.to_string_lossy().into_owned();
        let out = env.sh(
            &["--workspace", &other_s],
            &format!(
                "pwd; echo in-other > {other_s}/f; echo rc1=$?; echo x > {ws_s}/g; echo rc2=$?"
            ),
        );
        out.code(0)
            .stdout_has(&format!("{other_s}\n"))
            .stdout_has("rc1=0");
        assert_eq!(
            std::fs::read_to_string(other.join("f")).ok().as_deref(),
            Some("in-other\n"),
            "{out}"
        );
        assert!(
            !env.ws.join("g").exists(),
            "wrote outside --workspace:\n{out}"
        );
        // The cwd's directory under /tmp is not visible at all (private /tmp).
        out.stdout_has("rc2=");
        assert!(!out.stdout.contains("rc2=0"), "{out}");
    });
}

#[test]
fn write_flag_makes_dir_writable() {
    for_each_identity("write_flag_makes_dir_writable", |env| {
        let extra = env.scratch("extra");
        let target = extra.join("made-inside");
        let script = format!("echo hello > {}", target.display());
        // Without --write: read-only.
        env.sh(&[], &script)
            .code(2)
            .stderr_has("Read-only file system");
        assert!(!target.exists());
        // With --write: writable, and the file lands on the host.
        let out = env.sh(&["--write", &extra.to_string_lossy()], &script);
        out.code(0);
        assert_eq!(
            std::fs::read_to_string(&target).ok().as_deref(),
            Some("hello\n"),
            "{out}"
        );
    });
}

#[test]
fn tmp_inside_is_private() {
    for_each_identity("tmp_inside_is_private", |env| {
        let name = unique("corral-private-tmp");
        let host_file = std::path::Path::new("/tmp").join(format!("{name}-host"));
        std::fs::write(&host_file, "host").expect("write host /tmp file");
        let out = env.sh(
            &[],
            &format!("echo secret > /tmp/{name} && ls /tmp; cat /tmp/{name}-host"),
        );
        let leaked = std::path::Path::new("/tmp").join(&name).exists();
        let _ = std::fs::remove_file(std::path::Path::new("/tmp").join(&name));
        let _ = std::fs::remove_file(&host_file);
        assert!(
            !leaked,
            "/tmp/{name} written inside appeared on the host:\n{out}"
        );
        // The write worked inside, the host's /tmp file is not there.
        out.code(1)
            .stdout_has(&name)
            .stderr_has(&format!("cat: /tmp/{name}-host: No such file or directory"));
    });
}
