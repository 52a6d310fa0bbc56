//! The audit trail, end to end: `corral run` writes it (labels on every
//! line, the proxy's events, the run's end, the verdict), `corral log`
//! lists, shows and verifies it, and every kind of tampering is caught.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn trail_in(env: &Env, name: &str) -> PathBuf {
    env.scratch("trails").join(name)
}

#[test]
fn a_run_leaves_a_labelled_verified_trail() {
    for_each_identity("a_run_leaves_a_labelled_verified_trail", |env| {
        let web = common::upstream::http();
        let p = web.port;
        let allow = format!("web.test:{p}");
        let pin = format!("web.test:{p}:127.0.0.1");
        let script =
            format!("curl -s http://web.test:{p}/ >/dev/null; curl -s http://evil.test/; exit 3");
        let out = env.run(&[
            "run",
            "--label",
            "episode=17",
            "--label",
            "trajectory=a-1",
            "--allow-net",
            &allow,
            "--resolve",
            &pin,
            "--",
            "sh",
            "-c",
            &script,
        ]);
        out.code(3).stderr_has("corral: audit trail: ");
        let path = out
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("corral: audit trail: "))
            .and_then(|l| l.split(" (").next())
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no trail path:\n{out}"));
        let all = json_lines(&path);
        let kinds = |pred: &dyn Fn(&str) -> bool| -> Vec<String> {
            all.iter()
                .map(|e| e["kind"].as_str().unwrap_or("").to_string())
                .filter(|k| pred(k))
                .collect()
        };
        // What corral and the proxy record, in order...
        assert_eq!(
            kinds(&|k| !k.starts_with("proc.")
                && !k.starts_with("sock.")
                && k != "resource.sample"),
            [
                "run.start",
                "net.connect",
                "net.connect",
                "run.exit",
                "verdict"
            ],
            "{all:?}"
        );
        // ...and what the monitor saw inside: the shell, each curl (a
        // child of the shell) and its connection to the proxy.
        let execs: Vec<&Value> = all.iter().filter(|e| e["kind"] == "proc.exec").collect();
        let argv0: Vec<&str> = execs
            .iter()
            .map(|e| e["argv"][0].as_str().unwrap_or(""))
            .collect();
        assert_eq!(argv0, ["sh", "curl", "curl"], "{all:?}");
        assert_eq!(execs[1]["ppid"], execs[0]["pid"], "{all:?}");
        assert!(
            all.iter().any(|e| e["kind"] == "sock.connect"
                && e["addr"] == "127.0.0.1:3128"
                && e["pid"] == execs[1]["pid"]),
            "{all:?}"
        );
        let evs: Vec<Value> = all
            .iter()
            .filter(|e| {
                let k = e["kind"].as_str().unwrap_or("");
                !k.starts_with("proc.") && !k.starts_with("sock.") && k != "resource.sample"
            })
            .cloned()
            .collect();
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e["v"], 1, "{e}");
            assert_eq!(e["seq"], i as u64, "{e}");
            assert_eq!(e["labels"]["episode"], "17", "{e}");
            assert_eq!(e["labels"]["trajectory"], "a-1", "{e}");
            assert_eq!(e["run"], evs[0]["run"], "{e}");
        }
        assert_eq!(evs[1]["decision"], "allow");
        assert_eq!(evs[2]["decision"], "deny");
        assert_eq!(evs[2]["host"], "evil.test");
        assert_eq!(evs[3]["exit_code"], 3);
        assert_eq!(evs[4]["outcome"], "clean");
        assert_eq!(evs[4]["denied"], 1);
        // The index lists it, verify accepts it, show prints it.
        let run = evs[0]["run"].as_str().unwrap_or_default().to_string();
        env.run(&["log", "list"])
            .code(0)
            .stdout_has(&run)
            .stdout_has("episode=17");
        env.run(&["log", "verify", &run[..8]])
            .code(0)
            .stdout_has(&format!("intact: {} lines", all.len()))
            .stdout_has("last line matches the index");
        env.run(&["log", "show", &run, "--kind", "net", "--decision", "deny"])
            .code(0)
            .stdout_has("net.connect")
            .stdout_has("evil.test")
            .lacks("host=web.test")
            .lacks("run.start");
    });
}

#[test]
fn the_sandbox_cannot_see_the_trails() {
    as_self("the_sandbox_cannot_see_the_trails", |env| {
        env.run(&["run", "-q", "--", "true"]).code(0);
        let out = env.sh(&[], "ls ~/.local/state/corral/runs 2>&1; echo exit $?");
        out.code(0).stdout_has("Permission denied");
    });
}

#[test]
fn an_audit_file_the_sandbox_could_write_is_refused() {
    as_self("an_audit_file_the_sandbox_could_write_is_refused", |env| {
        let inside = env.ws.join("trail.jsonl");
        env.run(&["run", "--audit", &inside.display().to_string(), "--", "true"])
            .code(125)
            .stderr_has("which the sandbox can write, so the command could delete or replace its own audit trail");
        let exists = trail_in(env, "exists.jsonl");
        std::fs::write(&exists, "x\n").expect("write");
        env.run(&[
            "run",
            "--audit",
            &exists.display().to_string(),
            "--",
            "true",
        ])
        .code(125)
        .stderr_has("the file exists");
    });
}

/// Runs a short command with `--audit FILE` and returns the file.
fn recorded(env: &Env, name: &str) -> PathBuf {
    let path = trail_in(env, name);
    let web = common::upstream::http();
    let allow = format!("web.test:{}", web.port);
    let pin = format!("web.test:{}:127.0.0.1", web.port);
    let url = format!("http://web.test:{}/", web.port);
    env.run(&[
        "run",
        "-q",
        "--audit",
        &path.display().to_string(),
        "--allow-net",
        &allow,
        "--resolve",
        &pin,
        "--",
        "sh",
        "-c",
        &format!("curl -s {url} >/dev/null; curl -s {url} >/dev/null"),
    ])
    .code(0);
    path
}

fn rewrite(path: &Path, edit: impl Fn(&mut Vec<String>)) {
    let text = std::fs::read_to_string(path).expect("read");
    let mut v: Vec<String> = text.lines().map(str::to_owned).collect();
    edit(&mut v);
    std::fs::write(path, v.join("\n") + "\n").expect("write");
}

#[test]
fn tampering_is_caught_and_the_first_bad_line_named() {
    as_self("tampering_is_caught_and_the_first_bad_line_named", |env| {
        let verify = |p: &Path| env.run(&["log", "verify", &p.display().to_string()]);
        let good = recorded(env, "good.jsonl");
        let count = json_lines(&good).len();
        verify(&good)
            .code(0)
            .stdout_has(&format!("intact: {count} lines"));

        // Editing a line breaks the chain at the next one.
        let edited = recorded(env, "edited.jsonl");
        let at = json_lines(&edited)
            .iter()
            .position(|e| e["kind"] == "net.connect")
            .expect("a net.connect line");
        rewrite(&edited, |v| v[at] = v[at].replace("\"allow\"", "\"deny\""));
        verify(&edited)
            .code(1)
            .stdout_has(&format!("NOT intact: line {}", at + 2));

        let deleted = recorded(env, "deleted.jsonl");
        rewrite(&deleted, |v| {
            v.remove(1);
        });
        verify(&deleted).code(1).stdout_has("NOT intact: line 2");

        let swapped = recorded(env, "swapped.jsonl");
        rewrite(&swapped, |v| v.swap(1, 2));
        verify(&swapped).code(1).stdout_has("NOT intact: line 2");

        let truncated = recorded(env, "truncated.jsonl");
        let text = std::fs::read_to_string(&truncated).expect("read");
        std::fs::write(&truncated, &text[..text.len() - 20]).expect("write");
        verify(&truncated).code(1).stdout_has("is torn");

        let cut = recorded(env, "cut.jsonl");
        rewrite(&cut, |v| {
            v.pop();
        });
        verify(&cut).code(1).stdout_has("no verdict");
    });
}

#[test]
fn a_killed_corral_leaves_a_verifiable_prefix() {
    as_self("a_killed_corral_leaves_a_verifiable_prefix", |env| {
        let path = trail_in(env, "killed.jsonl");
        let mut child = env
            .command(&[
                "run",
                "-q",
                "--audit",
                &path.display().to_string(),
                "--",
                "sh",
                "-c",
                "echo ready; sleep 30",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        std::io::BufRead::read_line(&mut out, &mut line).expect("ready");
        // The run's first line is on disk before corral dies.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(&path).map_or(true, |t| !t.ends_with('\n'))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        env.run(&["log", "verify", &path.display().to_string()])
            .code(1)
            .stdout_has("line(s) are intact but there is no verdict");
    });
}

#[test]
fn a_scripted_agent_is_recorded_in_order() {
    for_each_identity("a_scripted_agent_is_recorded_in_order", |env| {
        let agent = env.write(
            "agent.py",
            r#"
import socket, subprocess
subprocess.run(["/bin/true"])
with open("inside.txt", "w") as f:
    f.write("x")
try:
    open("/etc/corral-outside", "w")
except OSError as e:
    print("write refused:", e.errno)
s = socket.socket()
try:
    s.connect(("192.0.2.1", 22))
except OSError as e:
    print("connect failed:", e.errno)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b"x", ("192.0.2.1", 53))
except OSError as e:
    print("sendto failed:", e.errno)
l = socket.socket()
l.bind(("127.0.0.1", 8765))
l.listen(7)
print("listening")
try:
    socket.socket(40, socket.SOCK_STREAM)  # AF_VSOCK: unusual for an agent
except OSError:
    pass
"#,
        );
        let path = trail_in(env, "agent.jsonl");
        let script = format!("python3 {}; kill -KILL $$", agent.display());
        env.run(&[
            "run",
            "-q",
            "--label",
            "episode=9",
            "--audit",
            &path.display().to_string(),
            "--",
            "sh",
            "-c",
            &script,
        ])
        .code(137)
        .stdout_has("write refused: 30")
        // Told in plain words, with what it may write instead.
        .stderr_has("corral: refused open of /etc/corral-outside: it is outside the paths this sandbox may write (writable: ")
        .stderr_has(", /tmp, /run, /var/tmp)")
        .stdout_has("connect failed: 101")
        .stdout_has("listening");
        let all = json_lines(&path);
        // The story, in order (unix-socket connects of library start-up
        // left aside).
        let story: Vec<String> = all
            .iter()
            // (samples depend on timing)
            .filter(|e| e["kind"] != "resource.sample")
            .filter(|e| e["kind"] != "sock.connect" || e["family"] != "unix")
            // (exec attempts along PATH that cannot succeed)
            .filter(|e| e["found"] != false)
            .map(|e| {
                let k = e["kind"].as_str().unwrap_or("");
                let name = |p: &Value| {
                    let p = p.as_str().unwrap_or("-");
                    p.rsplit('/').next().unwrap_or(p).to_string()
                };
                match k {
                    "proc.exec" => format!("exec {}", e["argv"][0].as_str().unwrap_or("")),
                    "proc.exit" => format!("exit of {} with {}", e["pid"], e["code"]),
                    "file.write" => format!(
                        "{} {} {}",
                        e["op"].as_str().unwrap_or("-"),
                        name(&e["path"]),
                        if e["writable"] == true {
                            "allowed"
                        } else {
                            "refused"
                        }
                    ),
                    "sock.socket" => format!("{k} {}", e["family"].as_str().unwrap_or("-")),
                    "sock.connect" | "sock.sendto" | "sock.bind" | "sock.listen" => {
                        format!("{k} {}", e["addr"].as_str().unwrap_or("-"))
                    }
                    "run.exit" => format!("exit {}", e["exit_code"]),
                    "finding" => format!("finding {}", e["id"].as_str().unwrap_or("-")),
                    other => other.to_string(),
                }
            })
            .collect();
        let pid_of = |argv0: &str| {
            all.iter()
                .find(|e| e["kind"] == "proc.exec" && e["argv"][0] == argv0)
                .map(|e| e["pid"].clone())
                .unwrap_or_default()
        };
        let (python, child) = (pid_of("python3"), pid_of("/bin/true"));
        assert_eq!(
            story,
            [
                "run.start".to_string(),
                "exec sh".into(),
                "exec python3".into(),
                "exec /bin/true".into(),
                format!("exit of {child} with 0"),
                "open inside.txt allowed".into(),
                "open corral-outside refused".into(),
                // A write under /etc is a finding (persistence), recorded
                // right after the event it rests on.
                "finding persist.etc".into(),
                "sock.connect 192.0.2.1:22".into(),
                "sock.sendto 192.0.2.1:53".into(),
                "sock.bind 127.0.0.1:8765".into(),
                "sock.listen 127.0.0.1:8765".into(),
                "sock.socket vsock".into(),
                format!("exit of {python} with 0"),
                "exit 137".into(),
                "verdict".into(),
            ],
            "{all:?}"
        );
        for e in &all {
            assert_eq!(e["labels"]["episode"], "9", "{e}");
        }
        let python = all
            .iter()
            .find(|e| e["kind"] == "proc.exec" && e["argv"][0] == "python3")
            .expect("python's exec");
        let connect = all
            .iter()
            .find(|e| e["kind"] == "sock.connect" && e["family"] == "inet")
            .expect("the connect");
        assert_eq!(connect["pid"], python["pid"], "{all:?}");
        let exit = all.iter().find(|e| e["kind"] == "run.exit").expect("exit");
        assert_eq!(exit["ending"], "killed by signal 9", "{exit}");
        env.run(&["log", "verify", &path.display().to_string()])
            .code(0);
    });
}

#[test]
fn resources_are_sampled_into_the_trail() {
    as_self("resources_are_sampled_into_the_trail", |env| {
        let busy = "import time\nt = time.time()\nwhile time.time() - t < 1.0:\n    pass\n";
        let script = env.write("busy.py", busy);
        let path = trail_in(env, "sampled.jsonl");
        env.run(&[
            "run",
            "-q",
            "--sample-interval",
            "200ms",
            "--audit",
            &path.display().to_string(),
            "--",
            "python3",
            &script.display().to_string(),
        ])
        .code(0);
        let samples: Vec<Value> = json_lines(&path)
            .into_iter()
            .filter(|e| e["kind"] == "resource.sample")
            .collect();
        assert!(samples.len() >= 2, "{samples:?}");
        let python: Vec<&Value> = samples
            .iter()
            .flat_map(|s| s["top"].as_array().into_iter().flatten())
            .filter(|p| p["comm"] == "python3")
            .collect();
        assert!(!python.is_empty(), "{samples:?}");
        let cpu: Vec<u64> = python
            .iter()
            .map(|p| p["cpu_ms"].as_u64().unwrap_or(0))
            .collect();
        assert!(
            cpu.last() > cpu.first(),
            "the busy loop's CPU time grows: {cpu:?}"
        );
        assert!(python
            .iter()
            .all(|p| p["rss_kib"].as_u64().unwrap_or(0) > 0));
        // Off when asked.
        let quiet = trail_in(env, "unsampled.jsonl");
        env.run(&[
            "run",
            "-q",
            "--sample-interval",
            "0",
            "--audit",
            &quiet.display().to_string(),
            "--",
            "python3",
            &script.display().to_string(),
        ])
        .code(0);
        assert!(json_lines(&quiet)
            .iter()
            .all(|e| e["kind"] != "resource.sample"));
    });
}

#[test]
fn refused_syscalls_are_recorded_and_still_refused() {
    for_each_identity("refused_syscalls_are_recorded_and_still_refused", |env| {
        let path = trail_in(env, "denied.jsonl");
        env.run(&[
            "run",
            "-q",
            "--audit",
            &path.display().to_string(),
            "--",
            "sh",
            "-c",
            "unshare -U true; echo unshare-exit $?",
        ])
        .code(0)
        .stdout_has("unshare-exit 1")
        .stderr_has("Operation not permitted");
        let all = json_lines(&path);
        let denied = all
            .iter()
            .find(|e| e["kind"] == "sys.denied")
            .unwrap_or_else(|| panic!("no sys.denied: {all:?}"));
        assert_eq!(denied["syscall"], "unshare", "{denied}");
        assert_eq!(denied["errno"], "EPERM", "{denied}");
        assert!(
            denied["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{denied}"
        );
        let exec = all
            .iter()
            .find(|e| e["kind"] == "proc.exec" && e["argv"][0] == "unshare")
            .unwrap_or_else(|| panic!("no exec of unshare: {all:?}"));
        assert_eq!(denied["pid"], exec["pid"], "{all:?}");
    });
}
