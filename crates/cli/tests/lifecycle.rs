//! Process lifecycle: exit statuses, signal forwarding, no survivors after
//! the command exits or corral dies.

mod common;
use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

fn tag() -> String {
    unique("").replace('-', "")
}

#[test]
fn daemons_do_not_outlive_the_command() {
    for_each_identity("daemons_do_not_outlive_the_command", |env| {
        let (a, b) = (format!("300.{}", tag()), format!("301.{}", tag()));
        let out = env.sh(&[], &format!("setsid sh -c 'sleep {a} &'; (sleep {b} &); nohup sleep {b} >/dev/null 2>&1 & echo started"));
        let left_a = host_pids_with_argv(&["sleep", &a]);
        let left_b = host_pids_with_argv(&["sleep", &b]);
        kill_leftovers(&["sleep", &a]);
        kill_leftovers(&["sleep", &b]);
        out.code(0).stdout_has("started");
        assert!(
            left_a.is_empty() && left_b.is_empty(),
            "daemons survived corral: {left_a:?} {left_b:?}\n{out}"
        );
    });
}

#[test]
fn exit_codes_are_passed_through() {
    for_each_identity("exit_codes_are_passed_through", |env| {
        env.sh(&[], "exit 7").code(7);
        env.sh(&[], "exit 0").code(0);
        env.sh(&[], "kill -9 $$").code(137);
        env.sh(&[], "kill -TERM $$").code(143);
    });
}

#[test]
fn command_not_found_is_127_and_named() {
    for_each_identity("command_not_found_is_127_and_named", |env| {
        env.run(&["run", "-q", "--", "no-such-program-xyz"])
            .code(127)
            .stderr_has("cannot execute no-such-program-xyz: No such file or directory");
    });
}

#[test]
fn non_executable_file_is_126() {
    for_each_identity("non_executable_file_is_126", |env| {
        let f = env.write("script.sh", "echo should-not-run\n");
        chmod(&f, 0o644);
        env.run(&["run", "-q", "--", "./script.sh"])
            .code(126)
            .stderr_has("cannot execute ./script.sh: Permission denied")
            .lacks("should-not-run");
    });
}

/// Starts `sh -c 'trap ... SIG; echo ready; sleep & wait'`, sends SIG to
/// corral, expects the trap's output and exit 42.
fn forwards(env: &Env, sig: Signal, name: &str) {
    forwards_with(env, sig, name, &[])
}

fn forwards_with(env: &Env, sig: Signal, name: &str, flags: &[&str]) {
    let arg = format!("30.{}", tag());
    let script = format!("trap 'echo got-{name}; exit 42' {name}; echo ready; sleep {arg} & wait");
    let mut args = vec!["run", "-q"];
    args.extend_from_slice(flags);
    args.extend(["--", "sh", "-c", &script]);
    let mut child = env
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn corral");
    let pid = Pid::from_raw(child.id() as i32);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read ready line");
    assert_eq!(line, "ready\n", "as {}: the command did not start", env.who);
    kill(pid, sig).expect("signal corral");
    let out = wait_with_deadline(
        child,
        format!("as {}: corral run -- sh -c {script:?} + {sig}", env.who),
        Duration::from_secs(20),
    );
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
    kill_leftovers(&["sleep", &arg]);
    assert!(
        rest.contains(&format!("got-{name}")),
        "no got-{name} in stdout {rest:?}:\n{out}"
    );
    out.code(42);
}

/// With a network the supervisor runs the proxy's threads: they must
/// block the forwarded signals too, or one of them would take the signal
/// and its default action would kill corral.
#[test]
fn signals_are_forwarded_with_a_network() {
    for_each_identity("signals_are_forwarded_with_a_network", |env| {
        let flags = ["--allow-net", "web.test:443"];
        forwards_with(env, Signal::SIGHUP, "HUP", &flags);
        forwards_with(env, Signal::SIGTERM, "TERM", &flags);
    });
}

#[test]
fn sigterm_is_forwarded() {
    for_each_identity("sigterm_is_forwarded", |env| {
        forwards(env, Signal::SIGTERM, "TERM")
    });
}

#[test]
fn sigint_is_forwarded() {
    for_each_identity("sigint_is_forwarded", |env| {
        forwards(env, Signal::SIGINT, "INT")
    });
}

#[test]
fn sighup_is_forwarded() {
    for_each_identity("sighup_is_forwarded", |env| {
        forwards(env, Signal::SIGHUP, "HUP")
    });
}

#[test]
fn killing_corral_kills_the_sandbox() {
    for_each_identity("killing_corral_kills_the_sandbox", |env| {
        let arg = format!("303.{}", tag());
        let script = format!("echo ready; sleep {arg}; echo after");
        let mut child = env
            .command(&["run", "-q", "--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn corral");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read ready line");
        assert_eq!(line, "ready\n");
        // The sleep runs on the host (in the sandbox's namespaces).
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while host_pids_with_argv(&["sleep", &arg]).is_empty() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !host_pids_with_argv(&["sleep", &arg]).is_empty(),
            "as {}: sleep never seen",
            env.who
        );
        child.kill().expect("SIGKILL corral");
        let _ = child.wait();
        let left = wait_gone(&["sleep", &arg], Duration::from_secs(5));
        kill_leftovers(&["sleep", &arg]);
        assert!(
            left.is_empty(),
            "as {}: the sandbox outlived corral: sleep pids {left:?}",
            env.who
        );
    });
}

#[test]
fn a_script_whose_interpreter_is_missing_exits_126_and_says_why() {
    for_each_identity("a_script_whose_interpreter_is_missing_exits_126", |env| {
        let script = env.write("bad.sh", "#!/nonexistent/interp\necho hi\n");
        chmod(&script, 0o755);
        env.run(&["run", "-q", "--", "./bad.sh"])
            .code(126)
            .stderr_has("cannot execute ./bad.sh: its interpreter (the #! line) or its dynamic loader was not found")
            .lacks("hi\n");
    });
}

#[test]
fn a_path_directory_the_sandbox_cannot_enter_does_not_hide_command_not_found() {
    for_each_identity("a_path_directory_the_sandbox_cannot_enter", |env| {
        let locked = env.scratch("locked");
        chmod(&locked, 0o000);
        let policy = env.write(
            "path.toml",
            &format!(
                "[process]\nenv_set = {{ PATH = \"{}:/usr/bin:/bin\" }}\n",
                locked.display()
            ),
        );
        let out = env.run(&[
            "run",
            "-q",
            "--policy",
            policy.to_str().expect("utf-8"),
            "--",
            "no-such-command-x",
        ]);
        chmod(&locked, 0o755);
        out.code(127)
            .stderr_has("cannot execute no-such-command-x: No such file or directory");
    });
}
