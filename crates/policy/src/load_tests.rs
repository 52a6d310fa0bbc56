use crate::{Location, Policy, PolicyError};

fn err(text: &str) -> String {
    Policy::from_toml_str(text, "corral.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn a_full_file_loads() {
    let policy = Policy::from_toml_str(
        r#"
extends = "rollout"
limits.memory = "512M"

[filesystem]
read = ["/usr", "~/data"]
deny_read = ["~/secrets"]

[process]
env_set = { LANG = "C.UTF-8" }
"#,
        "corral.toml",
    )
    .unwrap();
    assert_eq!(policy.extends.as_deref(), Some("rollout"));
    assert_eq!(policy.limits.memory, Some("512M".parse().unwrap()));
    assert_eq!(policy.filesystem.read, ["/usr", "~/data"]);
    assert_eq!(policy.process.env_set["LANG"], "C.UTF-8");
    assert_eq!(
        Policy::from_toml_str("", "empty.toml").unwrap(),
        Policy::default()
    );
}

#[test]
fn unknown_key_names_the_dotted_key_its_position_and_the_allowed_keys() {
    let text = "[limits]\npids = 10\n  memroy = \"2G\"\n";
    assert_eq!(
        err(text),
        "corral.toml:3:3: limits.memroy: unknown key; allowed keys in [limits] are: \
         memory, pids, cpus, timeout, open_files, file_size"
    );
    let e = Policy::from_toml_str(text, "corral.toml").unwrap_err();
    assert_eq!(e.key(), Some("limits.memroy"));
    assert_eq!(
        e.location(),
        Some(&Location {
            origin: "corral.toml".into(),
            line_col: Some((3, 3))
        })
    );
}

#[test]
fn unknown_top_level_key_or_section() {
    assert_eq!(
        err("extends = \"offline\"\n[limitz]\n"),
        "corral.toml:2:2: limitz: unknown key; allowed top-level keys are: \
         extends, filesystem, network, limits, process, sandbox, detect"
    );
    assert!(err("[sandbox]\nallow_degraded = true\n").starts_with(
        "corral.toml:2:1: sandbox.allow_degraded: unknown key; allowed keys in [sandbox] are: \
         dangerously_allow_degraded, dangerously_allow_nested_namespaces"
    ));
}

#[test]
fn type_errors_name_the_key_the_value_and_what_is_expected() {
    assert_eq!(
        err("[limits]\npids = \"many\"\n"),
        "corral.toml:2:8: limits.pids: invalid type: string \"many\"; \
         expected a whole number of processes and threads, at least 1, e.g. pids = 256"
    );
    assert_eq!(
        err("[filesystem]\nread = [\"/usr\", 3]\n"),
        "corral.toml:2:17: filesystem.read[1]: invalid type: integer `3`; \
         expected a list of paths, e.g. read = [\"/usr\", \"~/data\"]"
    );
    assert!(err("limits = 3").starts_with(
        "corral.toml:1:10: limits: invalid type: integer `3`; expected a table: [limits]"
    ));
    // Non-ASCII text before the value: the column counts characters.
    assert!(
        err("[process]\nenv_set = { \"é\" = \"x\", B = 3 }\n").starts_with(
            "corral.toml:2:28: process.env_set.B: invalid type: integer `3`; expected a table"
        )
    );
    assert!(err("# é\n[process]\nuid = -1\n").starts_with(
        "corral.toml:3:7: process.uid: invalid value: integer `-1`; expected a user id"
    ));
}

#[test]
fn unit_errors_keep_their_explanation() {
    assert_eq!(
        err("[limits]\nmemory = \"2X\"\n"),
        "corral.toml:2:10: limits.memory: invalid size \"2X\"; expected a size such as \"512M\" or \
         \"2G\" (K, M, G, T are powers of 1024), or a whole number of bytes"
    );
    assert!(err("[limits]\ntimeout = \"30m1h\"\n").starts_with(
        "corral.toml:2:11: limits.timeout: invalid duration \"30m1h\": units must go from largest to smallest"
    ));
}

#[test]
fn syntax_errors_have_a_position() {
    let e = Policy::from_toml_str("[limits\npids = 3\n", "corral.toml").unwrap_err();
    assert!(matches!(e, PolicyError::Syntax { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("corral.toml:1:8: invalid TOML: "),
        "{e}"
    );
    assert!(
        e.to_string().ends_with("; fix the syntax at that position"),
        "{e}"
    );
    assert!(err("a = 1\nextends = \"x\"\nextends = \"y\"\n")
        .starts_with("corral.toml:3:1: invalid TOML: duplicate key"));
}

#[test]
fn load_reads_files_and_names_missing_ones() {
    let dir = std::env::temp_dir().join(format!("corral-policy-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.toml");
    std::fs::write(&path, "[limits]\ncpus = 0\n").unwrap();
    let e = Policy::load(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:2:8: limits.cpus: ", path.display())),
        "{e}"
    );
    std::fs::write(&path, "[limits]\ncpus = 2\n").unwrap();
    assert_eq!(Policy::load(&path).unwrap().limits.cpus, Some(2.0));
    let missing = dir.join("missing.toml");
    let e = Policy::load(&missing).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot read policy file {}: ", missing.display())),
        "{e}"
    );
    assert!(
        e.ends_with("; check that the path exists and is readable"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_read_or_write_list_needs_extends_none() {
    assert_eq!(
        err("[filesystem]\nread = []\n"),
        "corral.toml:2:8: filesystem.read: an empty list cannot remove the read paths of the base \
         profile \"offline\"; leave the key out to keep the profile's list, list the paths you want \
         instead, or set extends = \"none\" to start from nothing"
    );
    assert!(err("extends = \"rollout\"\nfilesystem.write = []\n").contains("filesystem.write: an empty list cannot remove the write paths of the base profile \"rollout\""));
    let p = Policy::from_toml_str("extends = \"none\"\n[filesystem]\nread = []\n", "c").unwrap();
    assert!(p.filesystem.read.is_empty());
}

#[test]
fn network_shape_errors_quote_rule_keys_and_list_allowed_keys() {
    assert_eq!(
        err("[network.rules.\"github.com:22\"]\nprotocols = [\"ssh\", \"ftp\"]\n"),
        "corral.toml:2:21: network.rules.\"github.com:22\".protocols[1]: unknown protocol \"ftp\"; \
         expected a list of \"tls\", \"http\", \"ssh\" or \"any\", e.g. protocols = [\"ssh\"] \
         (default [\"tls\", \"http\"])"
    );
    assert_eq!(
        err("[network.rules.\"github.com:22\"]\nprotocol = [\"ssh\"]\n"),
        "corral.toml:2:1: network.rules.\"github.com:22\".protocol: unknown key; allowed keys in \
         [network.rules.\"github.com:22\"] are: protocols"
    );
    assert!(err("network.rules.\"git.hub.com:22\".protocols = [3]\n").starts_with(
        "corral.toml:1:45: network.rules.\"git.hub.com:22\".protocols[0]: invalid type: integer `3`;"
    ));
    assert_eq!(
        err("[network]\ndeny = [{ hots = \"gist.github.com\" }]\n"),
        "corral.toml:2:11: network.deny[0].hots: unknown key; allowed keys in network.deny[0] \
         are: host, reason"
    );
    assert_eq!(
        err("[network]\ndeny = [\"gist.github.com\"]\n"),
        "corral.toml:2:9: network.deny[0]: invalid type: string \"gist.github.com\"; expected a \
         list of tables such as { host = \"gist.github.com\", reason = \"no code leaves through \
         gists\" }"
    );
    assert!(err("[network]\ndeny = [{ reason = \"x\" }]\n").starts_with(
        "corral.toml:2:9: network.deny[0]: missing field `host`; expected a list of tables"
    ));
    assert_eq!(
        err("[network]\nalow = []\n"),
        "corral.toml:2:1: network.alow: unknown key; allowed keys in [network] are: allow, deny, \
         resolve, rules"
    );
}

#[test]
fn an_empty_allow_list_cannot_drop_a_profiles_network() {
    assert_eq!(
        err("extends = \"coding-agent\"\n[network]\nallow = []\n"),
        "corral.toml:3:9: network.allow: an empty list cannot remove the network rules of the \
         base profile \"coding-agent\"; leave the key out to keep the profile's rules, add deny \
         entries for what must stay unreachable, or set extends = \"offline\" for no network at all"
    );
    for ok in [
        "[network]\nallow = []\n",
        "extends = \"rollout\"\n[network]\nallow = []\n",
        "extends = \"none\"\n[network]\nallow = []\n",
    ] {
        assert!(Policy::from_toml_str(ok, "c").is_ok(), "{ok}");
    }
}
