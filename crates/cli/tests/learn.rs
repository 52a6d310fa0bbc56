//! `corral learn` and `corral policy suggest` on the trails of real runs:
//! the baseline lists what ran, the suggested policy passes `corral policy
//! check` and lets the same run through, and a tampered trail is refused.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn scratch_file(env: &Env, name: &str) -> PathBuf {
    env.scratch("learn").join(name)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// The quoted entries of TOML lists as corral writes them, one per line
/// (`    "/usr/bin/ls",` or `    "pypi.org:443",  # why`).
fn entries(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix('"'))
        .filter_map(|l| l.split_once("\","))
        .map(|(entry, _)| entry.to_owned())
        .collect()
}

#[test]
fn learn_lists_what_real_runs_ran_and_refuses_a_tampered_trail() {
    for_each_identity(
        "learn_lists_what_real_runs_ran_and_refuses_a_tampered_trail",
        |env| {
            let trail = scratch_file(env, "one.jsonl");
            env.run(&[
                "run",
                "-q",
                "--audit",
                &s(&trail),
                "--",
                "sh",
                "-c",
                "mkdir -p sub && echo x > sub/f; ls >/dev/null; cat /etc/hostname >/dev/null",
            ])
            .code(0);
            // A second run, recorded in the index and named by its id.
            env.run(&["run", "-q", "--", "sh", "-c", "true"]).code(0);
            let list = env.run(&["log", "list", "--json"]);
            list.code(0);
            let id = list
                .stdout
                .lines()
                .last()
                .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .and_then(|v| v["run"].as_str().map(str::to_owned))
                .unwrap_or_else(|| panic!("no run listed:\n{list}"));

            let baseline = scratch_file(env, "baseline.toml");
            let out = env.run(&["learn", "--from", &s(&trail), &id[..8], "-o", &s(&baseline)]);
            out.code(0)
                .stderr_has("corral: learnt from 2 run(s)")
                .stderr_has(&format!("wrote {}", baseline.display()));
            let text = read(&baseline);
            assert!(text.contains("version = 1\nruns = 2\n"), "{text}");
            let listed = entries(&text);
            for exe in ["sh", "ls", "cat", "mkdir"] {
                assert!(
                    listed
                        .iter()
                        .any(|e| e.starts_with('/') && e.ends_with(&format!("/{exe}"))),
                    "{exe} is not in the baseline:\n{text}"
                );
            }
            // A shell's PATH search tries directories first: only what ran counts.
            assert!(
                !listed.iter().any(|e| e.starts_with("/usr/local/")),
                "{text}"
            );
            // The write in the workspace, relative to it, when writes are recorded.
            if read(&trail).contains("\"kind\":\"file.write\"") {
                assert!(listed.iter().any(|e| e == "$WORKSPACE/sub/**"), "{text}");
            }
            // The baseline is a new file: never overwritten.
            env.run(&["learn", "--from", &s(&trail), "-o", &s(&baseline)])
                .code(125)
                .stderr_has("it must be a new file");

            // One line edited: the chain breaks, and learning refuses it.
            let tampered = scratch_file(env, "tampered.jsonl");
            let original = read(&trail);
            let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
            assert!(lines.len() > 3, "{original}");
            lines[1] = lines[1].replacen("\"seq\":1,", "\"seq\":1,\"x\":0,", 1);
            assert_ne!(lines[1], original.lines().nth(1).unwrap_or(""));
            std::fs::write(&tampered, lines.join("\n") + "\n").expect("write tampered trail");
            env.run(&["learn", "--from", &s(&tampered)])
                .code(125)
                .stderr_has("the audit trail is not intact: line 3: prev does not match")
                .stderr_has("leave it out");
            env.run(&["policy", "suggest", &s(&tampered)])
                .code(125)
                .stderr_has("not intact");
            env.run(&["learn", "--from", "no-such-run"])
                .code(125)
                .stderr_has("no audit trail \"no-such-run\"");
        },
    );
}

#[test]
fn learn_runs_the_command_itself() {
    for_each_identity("learn_runs_the_command_itself", |env| {
        let out = env.run(&[
            "learn",
            "--runs",
            "2",
            "--",
            "sh",
            "-c",
            "echo said-inside; ls >/dev/null",
        ]);
        out.code(0)
            .stderr_has("corral: learn: run 1 of 2")
            .stderr_has("corral: learn: run 2 of 2")
            .stderr_has("corral: learnt from 2 run(s)");
        // The command's output goes to stderr: stdout is the baseline.
        assert_eq!(out.stderr.matches("said-inside").count(), 2, "{out}");
        assert!(!out.stdout.contains("said-inside"), "{out}");
        assert!(out.stdout.contains("version = 1\nruns = 2\n"), "{out}");
        assert!(
            entries(&out.stdout).iter().any(|e| e.ends_with("/ls")),
            "{out}"
        );
        // The runs stay listed, labelled.
        env.run(&["log", "list"])
            .code(0)
            .stdout_has("corral.learn=");
        // A run corral refuses to start: nothing is learnt.
        env.run(&["learn", "--runs", "1", "--profile", "nope", "--", "true"])
            .code(125)
            .stderr_has("unknown profile")
            .stderr_has("nothing was learnt");
    });
}

#[test]
fn suggest_writes_a_policy_that_checks_and_lets_the_run_through() {
    for_each_identity(
        "suggest_writes_a_policy_that_checks_and_lets_the_run_through",
        |env| {
            let web = common::upstream::http();
            let p = web.port;
            let allow = format!("web.test:{p}");
            let pin = format!("web.test:{p}:127.0.0.1");
            let script = format!(
                "curl -s http://web.test:{p}/; curl -s -o /dev/null http://evil.test/; \
                 touch /etc/corral-nope 2>/dev/null; true"
            );
            let trail = scratch_file(env, "net.jsonl");
            env.run(&[
                "run",
                "-q",
                "--audit",
                &s(&trail),
                "--allow-net",
                &allow,
                "--resolve",
                &pin,
                "--",
                "sh",
                "-c",
                &script,
            ])
            .code(0)
            .stdout_has("hello from upstream");

            let policy = scratch_file(env, "suggested.toml");
            env.run(&["policy", "suggest", &s(&trail), "-o", &s(&policy)])
                .code(0)
                .stderr_has("corral: suggested from 1 run(s): extends offline, 1 allow");
            let text = read(&policy);
            let listed = entries(&text);
            assert!(listed.contains(&allow), "{text}");
            assert!(listed.contains(&pin), "{text}");
            assert!(
                text.contains("# - connection to evil.test:80 denied"),
                "{text}"
            );
            if read(&trail).contains("\"kind\":\"file.write\"") {
                assert!(
                    text.contains("# - write (open) to /etc/corral-nope refused"),
                    "{text}"
                );
            }
            env.run(&["policy", "check", &s(&policy)])
                .code(0)
                .stdout_has("ok (extends offline)");

            // The suggested policy alone lets the same run through, and no more.
            env.run(&[
                "run",
                "-q",
                "--policy",
                &s(&policy),
                "--",
                "sh",
                "-c",
                &script,
            ])
            .code(0)
            .stdout_has("hello from upstream")
            .stderr_has("denied HTTP request to evil.test:80");
            // Without it, the same script reaches nothing.
            env.run(&["run", "-q", "--", "sh", "-c", &script])
                .code(0)
                .lacks("hello from upstream");

            // To stdout when no file is given.
            env.run(&["policy", "suggest", &s(&trail)])
                .code(0)
                .stdout_has("extends = \"offline\"");
        },
    );
}
