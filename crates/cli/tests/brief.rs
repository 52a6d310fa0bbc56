//! `corral policy brief`: the effective policy in plain words, for the
//! agent inside, from the real binary.

mod common;
use common::*;

#[test]
fn brief_tells_the_agent_the_effective_policy() {
    let env = Env::new(Who::Me);
    let policy = env.scratch("policies").join("agent.toml");
    std::fs::write(
        &policy,
        "extends = \"coding-agent\"\n\
         [filesystem]\nwrite = [\"/srv/cache\"]\n\
         [network]\ndeny = [{ host = \"paste.example.com\", reason = \"no pastebins\" }]\n\
         [limits]\nmemory = \"1G\"\ntimeout = \"5m\"\n",
    )
    .expect("write policy");
    let policy = policy.to_string_lossy().into_owned();
    let out = env.run(&[
        "policy",
        "brief",
        "--policy",
        &policy,
        "--allow-net",
        "example.org:8443",
        "--pids",
        "128",
    ]);
    out.code(0)
        .stdout_has("# Sandbox brief")
        // The workspace is named: the directory corral was started in.
        .stdout_has(&format!("your workspace, `{}`", env.ws.display()))
        .stdout_has("and `/srv/cache`.")
        // The file's deny rule with its reason, the profile's with its own.
        .stdout_has("`paste.example.com` (no pastebins)")
        .stdout_has("(code must not leave through gists)")
        .stdout_has("  - port 8443, TLS or HTTP: `example.org`\n")
        .stdout_has("  - port 443, TLS or HTTP: `api.anthropic.com`")
        // Flags and file limits merged.
        .stdout_has("- Memory: 1G for the whole sandbox")
        .stdout_has("- Time: 5m of wall clock")
        .stdout_has("- Processes and threads: 128 in all")
        .stdout_has("`SSH_AUTH_SOCK`")
        .stdout_has("EPERM")
        .lacks("There is no network at all");

    let agent = env.run(&["policy", "brief", "--profile", "coding-agent"]);
    agent.code(0);
    let lines = agent.stdout.lines().count();
    assert!(lines < 40, "{lines} lines for coding-agent:\n{agent}");

    env.run(&["policy", "brief"])
        .code(0)
        .stdout_has("There is no network at all")
        .stdout_has("- Processes and threads: 4096 in all")
        .lacks("egress proxy");

    env.run(&["policy", "brief", "--profile", "rollout"])
        .code(0)
        .stdout_has("- Memory: 2G for the whole sandbox")
        .stdout_has("You can also read `/usr`");

    env.run(&["policy", "brief", "--profile", "nope"])
        .code(125)
        .stderr_has("unknown profile \"nope\"");
}
