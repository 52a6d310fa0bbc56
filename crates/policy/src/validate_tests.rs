use super::*;
use crate::Policy;

fn err(text: &str) -> String {
    Policy::from_toml_str(text, "p.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn extends_must_name_a_profile() {
    assert_eq!(
        err("extends = \"strict\""),
        "p.toml:1:11: extends: unknown profile \"strict\"; expected a built-in profile: \
         \"offline\", \"coding-agent\", \"rollout\" or \"none\""
    );
    for name in ["offline", "coding-agent", "rollout", "none"] {
        assert!(Policy::from_toml_str(&format!("extends = {name:?}"), "p").is_ok());
    }
}

#[test]
fn paths_must_be_non_empty_and_free_of_nul() {
    assert_eq!(
        err("[filesystem]\ndeny_read = [\"~/.ssh\", \"\"]\n"),
        "p.toml:2:24: filesystem.deny_read[1]: the path is empty; \
         expected a list of paths or globs, e.g. deny_read = [\"~/.ssh\", \"**/.env\"]"
    );
    assert!(err("[filesystem]\nworkspace = \"\"\n")
        .starts_with("p.toml:2:13: filesystem.workspace: the path is empty; expected a directory"));
    assert!(err("[filesystem]\nwrite = [\"/a\\u0000b\"]\n").starts_with(
        "p.toml:2:10: filesystem.write[0]: path \"/a\\0b\" contains a NUL character;"
    ));
    assert!(err("[filesystem]\nread = [\"\"]\n").starts_with("p.toml:2:9: filesystem.read[0]:"));
    assert!(err("[filesystem]\nprotected = [\"\"]\n")
        .starts_with("p.toml:2:14: filesystem.protected[0]:"));
}

#[test]
fn limits_must_be_positive_and_in_range() {
    assert_eq!(
        err("[limits]\ncpus = 0\n"),
        "p.toml:2:8: limits.cpus: 0 CPUs is out of range; expected a number of CPU cores above 0 \
         and at most 4096, e.g. cpus = 1 or cpus = 0.5"
    );
    assert!(err("[limits]\ncpus = 4096.5\n").contains("limits.cpus: 4096.5 CPUs is out of range"));
    assert!(err("[limits]\ncpus = nan\n").contains("limits.cpus: NaN CPUs is out of range"));
    assert!(
        err("[limits]\npids = 0\n").starts_with("p.toml:2:8: limits.pids: 0 processes is too few;")
    );
    assert!(err("[limits]\nmemory = \"0G\"\n")
        .starts_with("p.toml:2:10: limits.memory: size 0 is zero;"));
    assert!(err("[limits]\nfile_size = 0\n")
        .starts_with("p.toml:2:13: limits.file_size: size 0 is zero;"));
    assert!(err("[limits]\ntimeout = \"0s\"\n")
        .starts_with("p.toml:2:11: limits.timeout: a timeout of 0s is too short;"));
    assert!(err("[limits]\nopen_files = 0\n")
        .starts_with("p.toml:2:14: limits.open_files: 0 open files is too few;"));
    let ok = "[limits]\ncpus = 0.5\npids = 1\nmemory = 1\ntimeout = 1\nopen_files = 1\nfile_size = \"1K\"\n";
    assert!(Policy::from_toml_str(ok, "p").is_ok());
}

#[test]
fn hostnames_follow_rfc_1123() {
    assert_eq!(
        err("[process]\nhostname = \"-x\""),
        "p.toml:2:12: process.hostname: hostname \"-x\" is not a valid hostname; expected a \
         hostname of letters, digits, '-' and '.' (labels of at most 63, at most 64 in all), \
         e.g. hostname = \"corral\""
    );
    for bad in [
        "",
        "a_b",
        "a..b",
        "x-",
        "caf\u{e9}",
        &"a".repeat(64),
        &"a.".repeat(33),
    ] {
        assert!(check_hostname(bad).is_err(), "{bad:?}");
    }
    for good in ["corral", "box-1", "a.b.c", "9lives", &"a".repeat(63)] {
        assert_eq!(check_hostname(good), Ok(()), "{good:?}");
    }
    assert!(err(&format!(
        "[process]\nhostname = \"{}\"",
        "a.".repeat(32) + "a"
    ))
    .contains("is 65 characters long"));
}

#[test]
fn environment_names_are_checked() {
    assert!(err("[process]\nenv_deny = [\"AWS_*\", \"BAD-NAME\"]\n").starts_with(
        "p.toml:2:22: process.env_deny[1]: \"BAD-NAME\" is not a valid environment variable name or glob;"
    ));
    assert_eq!(
        err("[process]\nenv_set = { \"1X\" = \"a\" }\n"),
        "p.toml:2:13: process.env_set.1X: \"1X\" is not a valid environment variable name; \
         expected a table of variable names ([A-Za-z_][A-Za-z0-9_]*) to strings, e.g. \
         env_set = { LANG = \"C.UTF-8\" }"
    );
    assert!(
        err("[process.env_set]\nA_STAR = \"x\"\n\"B*\" = \"y\"\n").starts_with(
            "p.toml:3:1: process.env_set.B*: \"B*\" is not a valid environment variable name;"
        )
    );
    assert!(err("[process.env_set]\nA = \"x\\u0000\"\n").starts_with(
        "p.toml:2:5: process.env_set.A: value \"x\\0\" contains a NUL character; expected a string"
    ));
    for good in ["_", "PATH", "a1", "AWS_*", "*TOKEN*", "X?"] {
        assert_eq!(check_env_name(good, true), Ok(()), "{good}");
    }
    for bad in ["", "1A", "A B", "A=B", "A.B"] {
        assert!(check_env_name(bad, true).is_err(), "{bad:?}");
    }
    assert!(check_env_name("AWS_*", false).is_err());
}

#[test]
fn errors_from_other_sections_point_at_the_right_place_with_dotted_keys() {
    // Dotted keys at the top level and inline tables are located too.
    assert!(err("limits.pids = 0\n").starts_with("p.toml:1:15: limits.pids:"));
    assert!(err("limits = { cpus = -1 }\n").starts_with("p.toml:1:19: limits.cpus:"));
}

#[test]
fn network_entries_are_checked_where_they_are_written() {
    assert_eq!(
        err("[network]\nallow = [\"api.anthropic.com:443\", \"pypi.org\", \"x.test:0\"]\n"),
        "p.toml:2:47: network.allow[2]: \"x.test:0\": port 0 is out of range; expected a port \
         from 1 to 65535, a range such as 8000-8100, or * for every port"
    );
    assert_eq!(
        err("[network]\nallow = [\n  \"a.test\",\n  \"[::1]8080\",\n]\n"),
        "p.toml:4:3: network.allow[1]: \"[::1]8080\" has \"8080\" after ']' instead of :PORT; \
         expected an IPv6 address or CIDR in brackets, then an optional :PORT, e.g. \
         \"[::1]:8080\" or \"[fd00::/8]:5432\""
    );
    assert_eq!(
        err("[network]\ndeny = [{ host = \"gist.github.com\", reason = \"r\" }, { host = \"a_b\" }]\n"),
        "p.toml:2:62: network.deny[1].host: \"a_b\" is not a valid host name: '_' is not allowed; \
         expected a DNS name of ASCII letters, digits, '-' and '.' (labels of 1 to 63 characters, \
         at most 253 in all), \"*.suffix\", \"*\", an IP address or a CIDR"
    );
    assert!(
        err("[network]\ndeny = [{ host = \"gist.github.com\", reason = \"\" }]\n").starts_with(
            "p.toml:2:46: network.deny[0].reason: the reason is empty; expected one line of text"
        )
    );
    assert_eq!(
        err("[network]\nresolve = [\"git.test:8080\"]\n"),
        "p.toml:2:12: network.resolve[0]: \"git.test:8080\" is not HOST:PORT:ADDR[,ADDR...]; \
         expected HOST:PORT:ADDR[,ADDR...] as for curl --resolve, e.g. \
         \"git.test:8080:127.0.0.1\" or \"mirror.local:*:10.0.0.5,10.0.0.6\" (PORT may be *)"
    );
    // A bad rule key points at the key in the table header.
    assert_eq!(
        err("[network.rules.\"github.com:x\"]\nprotocols = [\"ssh\"]\n"),
        "p.toml:1:16: network.rules.\"github.com:x\": \"github.com:x\": port \"x\" is not a number; \
         expected a port from 1 to 65535, a range such as 8000-8100, or * for every port"
    );
    assert_eq!(
        err("[network.rules.\"github.com:22\"]\nprotocols = []\n"),
        "p.toml:2:13: network.rules.\"github.com:22\".protocols: an empty list of protocols \
         allows nothing; expected at least one of \"tls\", \"http\", \"ssh\" or \"any\" (leave \
         protocols out for [\"tls\", \"http\"]), or remove the rule"
    );
    // Inline tables and dotted keys are located too.
    assert!(
        err("[network]\nrules = { \"a.test:1-0\" = {} }\n").starts_with(
            "p.toml:2:11: network.rules.\"a.test:1-0\": \"a.test:1-0\": port 0 is out of range;"
        )
    );
    assert!(err("network.allow = [\"*.\"]\n").starts_with(
        "p.toml:1:18: network.allow[0]: \"*.\": \"\" is not a valid host name: it is empty;"
    ));
}

#[test]
fn a_full_network_section_loads() {
    let text = r#"
[network]
allow = ["api.anthropic.com:443", "*.githubusercontent.com", "pypi.org", "10.1.2.0/24:5432", "[::1]:8080", "192.0.2.7", "*:443"]
deny  = [{ host = "gist.github.com", reason = "no code leaves through gists" }, { host = "10.0.0.0/8" }]
resolve = ["git.test:8080:127.0.0.1", "mirror.local:*:10.0.0.5,10.0.0.6"]
[network.rules."github.com:22"]
protocols = ["ssh"]
"#;
    let policy = Policy::from_toml_str(text, "p.toml").unwrap();
    let net = &policy.network;
    assert_eq!(net.allow.len(), 7);
    assert_eq!(net.deny[1].reason, None);
    assert_eq!(net.resolve.len(), 2);
    assert_eq!(
        net.rules["github.com:22"].protocols,
        Some(vec![crate::Protocol::Ssh])
    );
    let compiled = crate::net::NetPolicy::compile(net).unwrap();
    assert_eq!(compiled.allow.len(), 8);
    assert_eq!(compiled.allow[7].text, "github.com:22");
}
