//! `corral verify`: the red-team suite, run for real. Every test runs the
//! real binary, which runs every scenario in a real sandbox against its
//! own servers on 127.0.0.1.
//!
//! Scenarios that only detection can contain under the built-in profiles
//! (the suite marks them `needs_detection`) are reported with `SKIP:` when
//! this build has no detectors, never passed silently.

mod common;
use common::*;

use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// A whole suite takes about 20 s alone; the tests run side by side on a
/// small machine.
const SUITE_DEADLINE: Duration = Duration::from_secs(300);

const ALL: [&str; 15] = [
    "mining",
    "ssh-tunnel",
    "reverse-shell",
    "net-probe",
    "metadata",
    "dns-exfil",
    "credentials",
    "persistence",
    "log-tamper",
    "fileless-exec",
    "escape",
    "resources",
    "backdoor",
    "upload",
    "daemon",
];

/// `corral verify ARGS --json`, with its scorecard parsed.
fn verify(env: &Env, args: &[&str]) -> (Out, Value) {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    all.push("--json");
    let ctx = format!("as {}: corral {}", env.who, all.join(" "));
    let mut cmd = env.command(&all);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = wait_with_deadline(cmd.spawn().expect("spawn corral"), ctx, SUITE_DEADLINE);
    let card: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("the scorecard is not JSON ({e}):\n{out}"));
    (out, card)
}

fn scenarios(card: &Value) -> &Vec<Value> {
    card["scenarios"].as_array().expect("scenarios")
}

fn status<'a>(card: &'a Value, id: &str) -> &'a str {
    scenarios(card)
        .iter()
        .find(|s| s["id"] == id)
        .and_then(|s| s["status"].as_str())
        .unwrap_or_else(|| panic!("no scenario {id} in the scorecard"))
}

/// One line per scenario, for failure messages.
fn brief(card: &Value) -> String {
    scenarios(card)
        .iter()
        .map(|s| {
            format!(
                "  {} {}: {} (twin: {})",
                s["id"].as_str().unwrap_or("?"),
                s["status"].as_str().unwrap_or("?"),
                s["reason"].as_str().unwrap_or(""),
                s["twin"]["why"].as_str().unwrap_or("clean")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The whole suite under a built-in profile: every scenario PASSes, or it
/// is one only detection can contain and this build has none (SKIP).
fn whole_suite(test: &str, profile: &str) {
    as_self(test, |env| {
        let (out, card) = verify(env, &["--profile", profile]);
        let mut failed = Vec::new();
        let mut skipped = Vec::new();
        for s in scenarios(&card) {
            let id = s["id"].as_str().unwrap_or("?");
            match s["status"].as_str() {
                Some("PASS") => {}
                _ if s["needs_detection"] == true && card["detection_active"] == false => {
                    skip(
                        test,
                        format_args!(
                            "{id}: only detection can contain it, and this build of corral raises no findings ({})",
                            s["reason"].as_str().unwrap_or("")
                        ),
                    );
                    skipped.push(id);
                }
                _ => failed.push(id),
            }
        }
        assert!(
            failed.is_empty(),
            "under profile {profile}, not contained: {failed:?}\n{}\n{out}",
            brief(&card)
        );
        assert_eq!(
            card["summary"]["false_positives"],
            0,
            "false positives:\n{}",
            brief(&card)
        );
        let expected = if skipped.is_empty() { 0 } else { 1 };
        assert_eq!(
            out.code,
            Some(expected),
            "exit status (skipped: {skipped:?}):\n{out}"
        );
        let needing: Vec<&str> = scenarios(&card)
            .iter()
            .filter(|s| s["needs_detection"] == true)
            .filter_map(|s| s["id"].as_str())
            .collect();
        eprintln!(
            "{test}: {} scenarios in {} s; only detection contains {needing:?}; skipped: {skipped:?}",
            scenarios(&card).len(),
            card["wall_s"]
        );
    });
}

#[test]
fn suite_passes_under_offline() {
    whole_suite("suite_passes_under_offline", "offline");
}

#[test]
fn suite_passes_under_coding_agent() {
    whole_suite("suite_passes_under_coding_agent", "coding-agent");
}

#[test]
fn suite_passes_under_rollout() {
    whole_suite("suite_passes_under_rollout", "rollout");
}

/// A few scenarios under the default profile, as root and as an ordinary
/// user, with the Markdown report.
#[test]
fn a_few_scenarios_pass_under_the_default_profile() {
    for_each_identity("a_few_scenarios_pass_under_the_default_profile", |env| {
        let (out, card) = verify(
            env,
            &[
                "--only",
                "escape",
                "credentials",
                "persistence",
                "backdoor",
                "daemon",
                "--report",
                "report.md",
            ],
        );
        assert_eq!(out.code, Some(0), "{}\n{out}", brief(&card));
        assert_eq!(scenarios(&card).len(), 5);
        assert_eq!(card["passed"], true);
        for id in ["escape", "credentials", "persistence", "backdoor", "daemon"] {
            assert_eq!(status(&card, id), "PASS", "{}", brief(&card));
        }
        let order: Vec<&str> = scenarios(&card)
            .iter()
            .filter_map(|s| s["id"].as_str())
            .collect();
        assert_eq!(
            order,
            ["credentials", "persistence", "escape", "backdoor", "daemon"],
            "suite order"
        );
        let escape = &scenarios(&card)[2];
        assert_eq!(escape["layers"][0], "seccomp", "{escape}");
        assert!(escape["attack"]["steps"]
            .as_array()
            .is_some_and(|s| s.len() == 6 && s.iter().all(|st| st["result"] == "refused")));
        let md = std::fs::read_to_string(env.ws.join("report.md")).expect("the report");
        for want in [
            "# corral verify: containment report",
            "| result | **PASS**",
            "| escape | yes (seccomp)",
            "### credentials: credential theft (PASS)",
            "| read ~/.ssh/id_ed25519 | refused | mask |",
            "```toml\nextends = \"none\"",
        ] {
            assert!(md.contains(want), "the report lacks {want:?}:\n{md}");
        }
    });
}

/// The suite must be able to fail: under a policy that lets any protocol
/// reach the local servers and turns the detectors off, exactly the
/// scenarios contained only by the proxy's protocol check or by detection
/// fail, and nothing else does.
#[test]
fn a_weak_policy_fails_exactly_the_scenarios_it_cannot_contain() {
    as_self(
        "a_weak_policy_fails_exactly_the_scenarios_it_cannot_contain",
        |env| {
            env.write(
                "weak.toml",
                "extends = \"offline\"\n\
             [network.rules.\"*.verify.test:*\"]\nprotocols = [\"any\"]\n\
             [detect]\nenabled = false\n",
            );
            let (out, card) = verify(env, &["--policy", "weak.toml"]);
            assert_eq!(out.code, Some(1), "{}\n{out}", brief(&card));
            let failed: BTreeSet<&str> = scenarios(&card)
                .iter()
                .filter(|s| s["status"] == "FAIL")
                .filter_map(|s| s["id"].as_str())
                .collect();
            let want: BTreeSet<&str> = [
                // The base64-wrapped Stratum passes an `any` rule; no miner.cpu.
                "mining",
                // The SSH banner passes an `any` rule; no tunnel.ssh.
                "ssh-tunnel",
                // The shell's prompt passes an `any` rule; no shell.reverse.
                "reverse-shell",
                // memfd and /dev/shm execs run; no evasion.*.
                "fileless-exec",
                // The allowed host takes 96 MiB; no exfil.upload.
                "upload",
            ]
            .into();
            assert_eq!(failed, want, "\n{}", brief(&card));
            for s in scenarios(&card) {
                let id = s["id"].as_str().unwrap_or("?");
                if !want.contains(id) {
                    assert_eq!(s["status"], "PASS", "{id}:\n{}", brief(&card));
                }
            }
            assert_eq!(card["detection_enabled"], false);
            let upload = scenarios(&card)
                .iter()
                .find(|s| s["id"] == "upload")
                .expect("upload");
            assert!(
                upload["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("the policy turns detection off")),
                "{upload}"
            );
            // The runner's own servers saw the breaches, not only the programs.
            let shell = scenarios(&card)
                .iter()
                .find(|s| s["id"] == "reverse-shell")
                .expect("reverse-shell");
            assert!(
                shell["breaches"].to_string().contains("CORRAL-C2-42"),
                "{shell}"
            );
        },
    );
}

/// A policy that would let a scenario's traffic leave the machine: the
/// scenario is not run (nothing is sent) and counts as not contained.
#[test]
fn a_policy_that_allows_off_machine_targets_is_not_run() {
    as_self(
        "a_policy_that_allows_off_machine_targets_is_not_run",
        |env| {
            env.write(
                "open.toml",
                "[network]\nallow = [\"10.0.0.0/8:*\", \"*.invalid\"]\n",
            );
            let (out, card) = verify(
                env,
                &[
                    "--policy",
                    "open.toml",
                    "--only",
                    "net-probe",
                    "dns-exfil",
                    "escape",
                ],
            );
            assert_eq!(out.code, Some(1), "{}\n{out}", brief(&card));
            assert_eq!(status(&card, "escape"), "PASS");
            for (id, why) in [
                ("net-probe", "not run: the policy allows 10.0.0.1:22"),
                ("dns-exfil", "not run: the policy lets names like"),
            ] {
                let s = scenarios(&card)
                    .iter()
                    .find(|s| s["id"] == id)
                    .expect("scenario");
                assert_eq!(s["status"], "FAIL", "{s}");
                assert!(
                    s["reason"].as_str().is_some_and(|r| r.starts_with(why)),
                    "{s}"
                );
                assert_eq!(s["attack"]["steps"], Value::Array(vec![]), "it ran: {s}");
            }
        },
    );
}

#[test]
fn bad_flags_are_corral_errors() {
    as_self("bad_flags_are_corral_errors", |env| {
        env.run(&["verify", "--only", "minig"])
            .code(125)
            .stderr_has("--only: no scenario \"minig\"; the scenarios are: mining, ssh-tunnel");
        env.run(&["verify", "--policy", "missing.toml"])
            .code(125)
            .stderr_has("missing.toml");
        env.run(&["verify", "--profile", "offlne"])
            .code(125)
            .stderr_has("offlne");
        env.run(&["verify", "--report", "no/such/dir/r.md", "--only", "escape"])
            .code(125)
            .stderr_has("--report no/such/dir/r.md: cannot create the file");
    });
}

#[test]
fn list_names_every_scenario_and_its_twin() {
    as_self("list_names_every_scenario_and_its_twin", |env| {
        let out = env.run(&["verify", "--list"]);
        out.code(0).stdout_has("twin:").stdout_has("contained:");
        for id in ALL {
            assert!(
                out.stdout.lines().any(|l| l.starts_with(&format!("{id} "))),
                "--list lacks {id}:\n{out}"
            );
        }
        let only = env.run(&["verify", "--list", "--only", "upload"]);
        only.code(0)
            .stdout_has("only detection can contain it")
            .lacks("mining");
    });
}
