//! The keys a policy file may contain and, for each, what a valid value looks
//! like. Used to word errors (unknown keys list the allowed ones; type and
//! value errors say what is expected). A unit test checks this table against
//! the model, so a field added to `model.rs` without a line here fails.

/// Every dotted key of a policy file, with what its value should be (the
/// text after "expected").
const KEYS: &[(&str, &str)] = &[
    ("extends", "a built-in profile: \"offline\", \"coding-agent\", \"rollout\" or \"none\""),
    ("filesystem", "a table: [filesystem]"),
    ("filesystem.workspace", "a directory path, e.g. workspace = \"/home/me/project\""),
    ("filesystem.read", "a list of paths, e.g. read = [\"/usr\", \"~/data\"]"),
    ("filesystem.write", "a list of paths, e.g. write = [\"/tmp/cache\"]"),
    ("filesystem.deny_read", "a list of paths or globs, e.g. deny_read = [\"~/.ssh\", \"**/.env\"]"),
    ("filesystem.protected", "a list of paths or globs, e.g. protected = [\".git/hooks\"]"),
    ("network", "a table: [network]"),
    ("network.allow", "a list of HOST[:PORT] entries, e.g. allow = [\"api.anthropic.com:443\", \"*.githubusercontent.com\", \"10.1.2.0/24:5432\", \"[::1]:8080\"]; HOST is a DNS name, *.suffix, *, an IP address or a CIDR; PORT is a number, a range such as 8000-8100, or * (no port: 80 and 443)"),
    ("network.deny", "a list of tables such as { host = \"gist.github.com\", reason = \"no code leaves through gists\" }"),
    ("network.deny.host", "HOST[:PORT] as in network.allow, e.g. host = \"10.0.0.0/8\" (no port: every port)"),
    ("network.deny.reason", "one line of text saying why, e.g. reason = \"no code leaves through gists\""),
    ("network.resolve", "a list of HOST:PORT:ADDR[,ADDR...] pins as for curl --resolve, e.g. resolve = [\"git.test:8080:127.0.0.1\", \"mirror.local:*:10.0.0.5\"]"),
    ("network.rules", "tables of options keyed by HOST[:PORT], e.g. [network.rules.\"github.com:22\"] with protocols = [\"ssh\"]"),
    ("network.rules.*", "a table of options, e.g. [network.rules.\"github.com:22\"] with protocols = [\"ssh\"]"),
    ("network.rules.*.protocols", "a list of \"tls\", \"http\", \"ssh\" or \"any\", e.g. protocols = [\"ssh\"] (default [\"tls\", \"http\"])"),
    ("limits", "a table: [limits]"),
    ("limits.memory", "a size such as \"512M\" or \"2G\" (K, M, G, T are powers of 1024), or a whole number of bytes"),
    ("limits.pids", "a whole number of processes and threads, at least 1, e.g. pids = 256"),
    ("limits.cpus", "a number of CPU cores above 0 and at most 4096, e.g. cpus = 1 or cpus = 0.5"),
    ("limits.timeout", "a duration above 0 such as \"90s\", \"10m\" or \"1h30m\", or a whole number of seconds"),
    ("limits.open_files", "a whole number of open files per process, at least 1, e.g. open_files = 1024"),
    ("limits.file_size", "a size such as \"1G\" (K, M, G, T are powers of 1024), or a whole number of bytes"),
    ("process", "a table: [process]"),
    ("process.uid", "a user id from 0 to 4294967295, e.g. uid = 1000"),
    ("process.gid", "a group id from 0 to 4294967295, e.g. gid = 1000"),
    ("process.hostname", "a hostname of letters, digits, '-' and '.' (labels of at most 63, at most 64 in all), e.g. hostname = \"corral\""),
    ("process.env_deny", "a list of variable names or globs on names, e.g. env_deny = [\"AWS_*\", \"GITHUB_TOKEN\"]"),
    ("process.env_set", "a table of variable names ([A-Za-z_][A-Za-z0-9_]*) to strings, e.g. env_set = { LANG = \"C.UTF-8\" }"),
    ("sandbox", "a table: [sandbox]"),
    ("sandbox.dangerously_allow_degraded", "true or false"),
    ("sandbox.dangerously_allow_nested_namespaces", "true or false"),
    ("detect", "a table: [detect]"),
    ("detect.enabled", "true or false (false: no detector runs)"),
    ("detect.webhook", "an http:// URL that findings are POSTed to (for https, a local relay), e.g. webhook = \"http://127.0.0.1:9000/corral\""),
    ("detect.response", "a table of responses per severity, e.g. [detect.response] with critical = \"kill\""),
    ("detect.response.low", "a response: \"log\", \"alert\", \"deny\", \"freeze\" or \"kill\" (default \"log\")"),
    ("detect.response.medium", "a response: \"log\", \"alert\", \"deny\", \"freeze\" or \"kill\" (default \"alert\")"),
    ("detect.response.high", "a response: \"log\", \"alert\", \"deny\", \"freeze\" or \"kill\" (default \"alert\")"),
    ("detect.response.critical", "a response: \"log\", \"alert\", \"deny\", \"freeze\" or \"kill\" (default \"kill\")"),
    ("detect.detectors", "tables keyed by a detector id or family, e.g. [detect.detectors.\"miner.cpu\"] with response = \"freeze\""),
    ("detect.detectors.*", "a table with enabled, response or severity, e.g. [detect.detectors.\"miner.cpu\"] with response = \"freeze\""),
    ("detect.detectors.*.enabled", "true or false (false: the detector raises nothing)"),
    ("detect.detectors.*.response", "a response: \"log\", \"alert\", \"deny\", \"freeze\" or \"kill\""),
    ("detect.detectors.*.severity", "a severity: \"low\", \"medium\", \"high\" or \"critical\""),
    ("detect.thresholds", "a table: [detect.thresholds]"),
    ("detect.thresholds.scan_destinations", "a whole number of destinations, at least 2, e.g. scan_destinations = 12"),
    ("detect.thresholds.scan_window", "a duration above 0 such as \"10s\" or \"1m\", or a whole number of seconds"),
    ("detect.thresholds.mining_cpu_percent", "a percentage above 0 and at most 100, e.g. mining_cpu_percent = 90"),
    ("detect.thresholds.mining_seconds", "a duration above 0 such as \"3s\" or \"1m\", or a whole number of seconds"),
    ("detect.thresholds.upload_bytes", "a size above 0 such as \"64M\" or \"1G\" (K, M, G, T are powers of 1024), or a whole number of bytes"),
    ("detect.thresholds.dns_label_entropy", "a number of bits per character above 0 and at most 6, e.g. dns_label_entropy = 3.6"),
    ("detect.thresholds.dns_label_length", "a whole number of characters from 8 to 63, e.g. dns_label_length = 20"),
    ("detect.thresholds.dns_subdomains", "a whole number of names, at least 2, e.g. dns_subdomains = 20"),
    ("detect.thresholds.dns_window", "a duration above 0 such as \"60s\" or \"5m\", or a whole number of seconds"),
    ("detect.thresholds.cpu_limit_seconds", "a duration above 0 such as \"60s\" or \"5m\", or a whole number of seconds"),
    ("detect.rules", "a list of tables [[detect.rules]], each with id, severity and at least one of exec, write or connect"),
    ("detect.rules.id", "an id starting with \"custom.\", then dot-separated lowercase words, e.g. id = \"custom.no-rm-rf\""),
    ("detect.rules.severity", "a severity: \"low\", \"medium\", \"high\" or \"critical\""),
    ("detect.rules.explanation", "one line of text saying why a match matters"),
    ("detect.rules.technique", "a MITRE ATT&CK technique id such as \"T1485\" or \"T1059.004\""),
    ("detect.rules.exec", "a list of globs on the argv joined by spaces or on the executable's path, e.g. exec = [\"rm -rf /*\", \"*/nc\"]"),
    ("detect.rules.write", "a list of path globs, absolute, starting with **/ or a file name, e.g. write = [\"/srv/**\", \"**/.aws/*\", \"*.pem\"]"),
    ("detect.rules.connect", "a list of HOST[:PORT] entries as in network.allow (no port: every port), e.g. connect = [\"*.pastebin.com\", \"10.0.0.0/8:22\"]"),
    ("detect.rules.response", "a response: \"log\", \"alert\", \"deny\", \"freeze\" or \"kill\""),
];

/// A dotted key in the schema's terms: indexes dropped and the keys of
/// `network.rules` (quoted) replaced by `*`: `network.deny[0].host` ->
/// `network.deny.host`, `network.rules."github.com:22".protocols[1]` ->
/// `network.rules.*.protocols`.
fn generic(dotted: &str) -> String {
    let mut out = String::with_capacity(dotted.len());
    let mut chars = dotted.chars();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                chars.by_ref().find(|c| *c == ']');
            }
            '"' => {
                out.push('*');
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => break,
                        _ => {}
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The schema key a (possibly indexed or nested) dotted key falls under:
/// `filesystem.read[2]` -> `filesystem.read`, `process.env_set.LANG` ->
/// `process.env_set`.
fn schema_key(dotted: &str) -> Option<&'static str> {
    let plain = generic(dotted);
    KEYS.iter()
        .map(|(key, _)| *key)
        .filter(|key| plain == *key || plain.starts_with(&format!("{key}.")))
        .max_by_key(|key| key.len())
}

/// "expected ..." for a dotted key; a generic text for keys outside the schema.
pub(crate) fn expected(dotted: &str) -> String {
    let text = schema_key(dotted)
        .and_then(|key| KEYS.iter().find(|(k, _)| *k == key))
        .map_or(
            "a value as described in the policy documentation",
            |(_, e)| e,
        );
    format!("expected {text}")
}

/// The keys allowed directly inside `section` (`""` for the top level).
pub(crate) fn allowed_keys(section: &str) -> Vec<&'static str> {
    KEYS.iter()
        .map(|(key, _)| *key)
        .filter_map(|key| {
            let rest = if section.is_empty() {
                Some(key)
            } else {
                key.strip_prefix(section)?.strip_prefix('.')
            };
            rest.filter(|r| !r.contains('.'))
        })
        .collect()
}

/// "allowed keys in [limits] are: memory, pids, ..." for an unknown key
/// `dotted` (e.g. `limits.memroy`, `network.deny[0].hots`).
pub(crate) fn allowed_text(dotted: &str) -> String {
    let section = dotted.rsplit_once('.').map_or("", |(section, _)| section);
    let keys = allowed_keys(&generic(section)).join(", ");
    if section.is_empty() {
        format!("allowed top-level keys are: {keys}")
    } else if section.ends_with(']') {
        format!("allowed keys in {section} are: {keys}")
    } else {
        format!("allowed keys in [{section}] are: {keys}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    /// Every dotted key the model can serialize, descending into tables and
    /// lists of tables (except env_set, whose keys are the user's; the keys
    /// of `network.rules` are the user's too, shown as `*`).
    fn model_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
        for (key, value) in table {
            let dotted = match prefix {
                "" => key.clone(),
                "network.rules" | "detect.detectors" => format!("{prefix}.*"),
                _ => format!("{prefix}.{key}"),
            };
            match value {
                toml::Value::Table(inner) if dotted != "process.env_set" => {
                    model_keys(inner, &dotted, out)
                }
                toml::Value::Array(items) => {
                    if let Some(toml::Value::Table(inner)) = items.first() {
                        model_keys(inner, &dotted, out);
                    }
                }
                _ => {}
            }
            out.push(dotted);
        }
    }

    #[test]
    fn schema_lists_exactly_the_model_keys() {
        let mut full = Policy {
            extends: Some("none".into()),
            ..Policy::default()
        };
        full.filesystem.workspace = Some("w".into());
        full.network.deny = vec![NetDeny {
            host: "h".into(),
            reason: Some("r".into()),
        }];
        full.network.rules.insert(
            "h:22".into(),
            NetRule {
                protocols: Some(vec![Protocol::Ssh]),
            },
        );
        full.limits = Limits {
            memory: Some(ByteSize(1)),
            pids: Some(1),
            cpus: Some(1.0),
            timeout: Some(Duration(std::time::Duration::from_secs(1))),
            open_files: Some(1),
            file_size: Some(ByteSize(1)),
        };
        full.process.uid = Some(1);
        full.process.gid = Some(1);
        full.process.hostname = Some("h".into());
        full.detect = crate::Detect {
            enabled: Some(true),
            webhook: Some("http://h/".into()),
            response: crate::Responses {
                low: Some(crate::Response::Log),
                medium: Some(crate::Response::Log),
                high: Some(crate::Response::Log),
                critical: Some(crate::Response::Log),
            },
            detectors: [(
                "miner".to_owned(),
                crate::DetectorSettings {
                    enabled: Some(true),
                    response: Some(crate::Response::Log),
                    severity: Some(crate::Severity::Low),
                },
            )]
            .into(),
            thresholds: crate::Thresholds {
                scan_destinations: Some(2),
                scan_window: Some(Duration(std::time::Duration::from_secs(1))),
                mining_cpu_percent: Some(1.0),
                mining_seconds: Some(Duration(std::time::Duration::from_secs(1))),
                upload_bytes: Some(ByteSize(1)),
                dns_label_entropy: Some(1.0),
                dns_label_length: Some(8),
                dns_subdomains: Some(2),
                dns_window: Some(Duration(std::time::Duration::from_secs(1))),
                cpu_limit_seconds: Some(Duration(std::time::Duration::from_secs(1))),
            },
            rules: vec![crate::DetectRule {
                id: "custom.x".into(),
                severity: crate::Severity::Low,
                explanation: Some("e".into()),
                technique: Some("T1000".into()),
                exec: vec!["x".into()],
                write: vec!["x".into()],
                connect: vec!["x".into()],
                response: Some(crate::Response::Log),
            }],
        };
        let table = toml::Table::try_from(&full).unwrap();
        let mut keys = Vec::new();
        model_keys(&table, "", &mut keys);
        keys.sort();
        keys.dedup();
        let mut schema: Vec<String> = KEYS.iter().map(|(k, _)| k.to_string()).collect();
        schema.sort();
        assert_eq!(keys, schema);
    }

    #[test]
    fn sections_and_expectations() {
        assert_eq!(
            allowed_keys("limits"),
            [
                "memory",
                "pids",
                "cpus",
                "timeout",
                "open_files",
                "file_size"
            ]
        );
        assert_eq!(
            allowed_keys(""),
            [
                "extends",
                "filesystem",
                "network",
                "limits",
                "process",
                "sandbox",
                "detect"
            ]
        );
        assert!(expected("filesystem.read[3]").starts_with("expected a list of paths"));
        assert!(expected("process.env_set.LANG").starts_with("expected a table of variable"));
        assert_eq!(
            allowed_text("limits.memroy"),
            "allowed keys in [limits] are: memory, pids, cpus, timeout, open_files, file_size"
        );
        assert_eq!(
            allowed_keys("network"),
            ["allow", "deny", "resolve", "rules"]
        );
    }

    #[test]
    fn network_keys_map_onto_the_schema() {
        assert_eq!(generic("network.deny[0].host"), "network.deny.host");
        assert_eq!(
            generic(r#"network.rules."a.b:22\"x".protocols[1]"#),
            "network.rules.*.protocols"
        );
        assert_eq!(
            schema_key(r#"network.rules."github.com:22".protocols[0]"#),
            Some("network.rules.*.protocols")
        );
        assert_eq!(
            schema_key(r#"network.rules."github.com:22""#),
            Some("network.rules.*")
        );
        assert_eq!(schema_key("network.allow[3]"), Some("network.allow"));
        assert_eq!(
            allowed_text("network.deny[1].hots"),
            "allowed keys in network.deny[1] are: host, reason"
        );
        assert_eq!(
            allowed_text(r#"network.rules."git.test:22".protocol"#),
            r#"allowed keys in [network.rules."git.test:22"] are: protocols"#
        );
    }
}
