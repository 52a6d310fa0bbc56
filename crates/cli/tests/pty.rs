//! Terminals: under a pseudo-terminal, the command gets its own pty with
//! the outer window size (and later resizes), and typed input reaches it.
//! The outer pty is driven by python3's `pty` module.

mod common;
use common::*;
use std::time::Duration;

/// Runs argv under a new pty of 33x111; when "READY" appears it resizes to
/// 44x122 (the kernel sends SIGWINCH to corral, the foreground process);
/// when "WINCH-DONE" appears it types "hello".
const DRIVER: &str = r#"
import os, pty, sys, fcntl, termios, struct, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
out = b""
end = time.time() + 10
resized = typed = False
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            d = os.read(fd, 4096)
        except OSError:
            break
        if not d:
            break
        out += d
    if b"READY" in out and not resized:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 122, 0, 0))
        resized = True
    if b"WINCH-DONE" in out and not typed:
        os.write(fd, b"hello\n")
        typed = True
if time.time() >= end:
    # Still running at the deadline: the test failed; leave nothing behind.
    os.kill(pid, 9)
    out += b"\nDRIVER-TIMEOUT\n"
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
print("DRIVER-STATUS", os.waitstatus_to_exitcode(st))
"#;

fn under_pty(env: &Env, script: &str) -> Out {
    env.fix_ownership();
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    cmd.arg("-c")
        .arg(DRIVER)
        .args(env.argv(&["run", "-q", "--", "sh", "-c", script]));
    cmd.current_dir(&env.ws)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn python3 pty driver");
    wait_with_deadline(
        child,
        format!("as {}: [pty] corral run -- sh -c {script:?}", env.who),
        Duration::from_secs(30),
    )
}

fn have_python() -> bool {
    std::path::Path::new("/usr/bin/python3").exists()
}

#[test]
fn command_gets_a_terminal_with_the_outer_size() {
    if !have_python() {
        return skip(
            "command_gets_a_terminal_with_the_outer_size",
            "/usr/bin/python3 is missing",
        );
    }
    for_each_identity("command_gets_a_terminal_with_the_outer_size", |env| {
        let out = under_pty(
            env,
            "tty; test -t 0 && test -t 1 && echo both-tty; stty size",
        );
        out.code(0)
            .stdout_has("/dev/pts/")
            .stdout_has("both-tty")
            .stdout_has("33 111")
            .stdout_has("DRIVER-STATUS 0")
            .lacks("not a tty");
    });
}

#[test]
fn resize_and_typed_input_reach_the_command() {
    if !have_python() {
        return skip(
            "resize_and_typed_input_reach_the_command",
            "/usr/bin/python3 is missing",
        );
    }
    for_each_identity("resize_and_typed_input_reach_the_command", |env| {
        let script = "trap 'stty size; echo WINCH-DONE' WINCH; echo READY; \
                      while :; do if read line; then break; fi; done; echo got:$line";
        let out = under_pty(env, script);
        out.code(0)
            .lacks("DRIVER-TIMEOUT")
            .stdout_has("44 122\nWINCH-DONE")
            .stdout_has("got:hello")
            .stdout_has("DRIVER-STATUS 0");
    });
}

#[test]
fn pty_exit_status_passes_through() {
    if !have_python() {
        return skip(
            "pty_exit_status_passes_through",
            "/usr/bin/python3 is missing",
        );
    }
    for_each_identity("pty_exit_status_passes_through", |env| {
        under_pty(env, "echo x; exit 9")
            .code(0)
            .stdout_has("DRIVER-STATUS 9");
    });
}

/// Runs argv under a new pty and writes a large paste into it at once,
/// without waiting for anyone to read it.
const PASTE_DRIVER: &str = r#"
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
os.set_blocking(fd, False)
paste = b"x" * 200000
out = b""
end = time.time() + 20
while time.time() < end:
    if paste:
        try:
            paste = paste[os.write(fd, paste):]
        except BlockingIOError:
            pass
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        try:
            d = os.read(fd, 65536)
        except OSError:
            break
        if not d:
            break
        out += d[-200:]
else:
    # The loop ran to its deadline: corral never closed the terminal.
    print("DRIVER-DEADLINE")
# EIO on the master can come a moment before the child is reapable: give
# it a few seconds before calling it stuck.
grace = time.time() + 5
done, st = os.waitpid(pid, os.WNOHANG)
while done == 0 and time.time() < grace:
    time.sleep(0.05)
    done, st = os.waitpid(pid, os.WNOHANG)
if done == 0:
    os.kill(pid, 9)
    _, st = os.waitpid(pid, 0)
    print("DRIVER-TIMEOUT")
print("DRIVER-STATUS", os.waitstatus_to_exitcode(st))
"#;

#[test]
fn a_command_that_never_reads_its_input_cannot_stall_the_timeout() {
    if !have_python() {
        return skip(
            "a_command_that_never_reads_its_input_cannot_stall_the_timeout",
            "/usr/bin/python3 is missing",
        );
    }
    for_each_identity(
        "a_command_that_never_reads_its_input_cannot_stall_the_timeout",
        |env| {
            env.fix_ownership();
            let mut cmd = std::process::Command::new("/usr/bin/python3");
            // Raw mode, as a TUI sets it: the pty's input queue fills and a
            // blocking writer would wait forever.
            cmd.arg("-c").arg(PASTE_DRIVER).args(env.argv(&[
                "run",
                "-q",
                "--timeout",
                "2s",
                "--",
                "sh",
                "-c",
                "stty raw -echo; sleep 60",
            ]));
            cmd.current_dir(&env.ws)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let child = cmd.spawn().expect("spawn python3 pty driver");
            let out = wait_with_deadline(
                child,
                format!(
                    "as {}: [pty] a 200 KB paste into `corral run --timeout 2s` of a raw-mode command that never reads",
                    env.who
                ),
                Duration::from_secs(40),
            );
            // corral still enforced the timeout: it ended (closing the
            // terminal) well before the driver's 20 s deadline, with 124.
            out.code(0)
                .lacks("DRIVER-DEADLINE")
                .lacks("DRIVER-TIMEOUT")
                .stdout_has("DRIVER-STATUS 124");
        },
    );
}
