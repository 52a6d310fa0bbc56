//! Policy files, profiles and labels on the command line.

mod common;
use common::*;

fn file(env: &Env, name: &str, content: &str) -> String {
    let p = env.scratch("policies").join(name);
    std::fs::write(&p, content).expect("write policy");
    p.to_string_lossy().into_owned()
}

#[test]
fn check_reports_file_line_col_and_key() {
    let env = Env::new(Who::Me);
    let f = file(&env, "typo.toml", "[limits]\nmemroy = \"2G\"\n");
    let out = env.run(&["policy", "check", &f]);
    assert!(
        out.code.is_some_and(|c| c != 0),
        "a malformed policy passed the check:\n{out}"
    );
    out.stderr_has(&format!("{f}:2:1"))
        .stderr_has("limits.memroy")
        .stderr_has("memory");
}

#[test]
fn check_reports_a_bad_value_with_its_location() {
    let env = Env::new(Who::Me);
    let f = file(
        &env,
        "bad-value.toml",
        "[limits]\npids = 10\nmemory = \"lots\"\n",
    );
    let out = env.run(&["policy", "check", &f]);
    assert!(out.code.is_some_and(|c| c != 0), "{out}");
    out.stderr_has(&format!("{f}:3:"))
        .stderr_has("limits.memory")
        .stderr_has("lots");
}

#[test]
fn check_accepts_a_valid_policy() {
    let env = Env::new(Who::Me);
    let f = file(
        &env,
        "ok.toml",
        "extends = \"rollout\"\n[limits]\npids = 64\n",
    );
    env.run(&["policy", "check", &f])
        .code(0)
        .stdout_has(&format!("{f}: ok"));
}

#[test]
fn run_with_a_malformed_policy_fails_125_with_the_location() {
    as_self(
        "run_with_a_malformed_policy_fails_125_with_the_location",
        |env| {
            let f = file(env, "typo.toml", "[limits]\nmemroy = \"2G\"\n");
            env.run(&["run", "--policy", &f, "--", "sh", "-c", "echo RAN"])
                .code(125)
                .stderr_has(&format!("{f}:2:1"))
                .stderr_has("limits.memroy")
                .lacks("RAN");
        },
    );
}

#[test]
fn show_rollout_profile() {
    let env = Env::new(Who::Me);
    let out = env.run(&["policy", "show", "--profile", "rollout"]);
    out.code(0)
        .stdout_has("[limits]")
        .stdout_has("pids = 256")
        .stdout_has("memory = \"2G\"")
        .stdout_has("timeout = \"10m\"")
        .stdout_has("\"~/.ssh\"");
}

#[test]
fn show_merges_flags_over_the_profile() {
    let env = Env::new(Who::Me);
    env.run(&[
        "policy",
        "show",
        "--profile",
        "rollout",
        "--pids",
        "7",
        "--memory",
        "512M",
    ])
    .code(0)
    .stdout_has("pids = 7")
    .stdout_has("memory = \"512M\"");
}

#[test]
fn unknown_profile_is_rejected() {
    let env = Env::new(Who::Me);
    let out = env.run(&["policy", "show", "--profile", "offlne"]);
    out.code(125).stderr_has("offlne").stderr_has("offline");
}

#[test]
fn label_is_accepted_and_shown_in_the_header() {
    as_self("label_is_accepted_and_shown_in_the_header", |env| {
        env.run(&[
            "run",
            "--label",
            "episode=17",
            "--label",
            "task=abc",
            "--",
            "true",
        ])
        .code(0)
        .stderr_has("corral: sandbox:")
        .stderr_has("labels episode=17,task=abc");
    });
}

#[test]
fn malformed_label_is_rejected() {
    let env = Env::new(Who::Me);
    env.run(&["run", "--label", "bad", "--", "sh", "-c", "echo RAN"])
        .code(125)
        .stderr_has("label \"bad\" must be KEY=VALUE")
        .lacks("RAN");
    env.run(&["run", "--label", "=x", "--", "true"])
        .code(125)
        .stderr_has("label key");
}

#[test]
fn a_command_without_the_double_dash_gets_a_hint_and_125() {
    let env = Env::new(Who::Me);
    env.run(&["run", "ls", "-la"])
        .code(125)
        .stderr_has("unexpected argument 'ls'")
        .stderr_has("hint: the command to sandbox goes after `--`");
}
