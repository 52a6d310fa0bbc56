use super::*;
use crate::profiles::profile;
use crate::Policy;

fn load(text: &str) -> Policy {
    Policy::from_toml_str(text, "p.toml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `haystack` contains `needle` (at the start with `at_start`); the
/// failure shows both.
#[track_caller]
fn has(haystack: String, needle: &str, at_start: bool) {
    let ok = if at_start {
        haystack.starts_with(needle)
    } else {
        haystack.contains(needle)
    };
    assert!(ok, "{haystack:?}\ndoes not contain {needle:?}");
}

fn err(text: &str) -> String {
    Policy::from_toml_str(text, "p.toml")
        .unwrap_err()
        .to_string()
}

const FULL: &str = r#"
[detect]
enabled = true
webhook = "http://127.0.0.1:9/hook"

[detect.response]
critical = "freeze"
low = "alert"

[detect.detectors."miner.cpu"]
response = "kill"
severity = "high"

[detect.detectors."persist.*"]
enabled = false

[detect.thresholds]
scan_destinations = 30
scan_window = "1m"
mining_cpu_percent = 75.5
mining_seconds = 10
upload_bytes = "1G"
dns_label_entropy = 4
dns_label_length = 30
dns_subdomains = 50
dns_window = "2m"
cpu_limit_seconds = "5m"

[[detect.rules]]
id = "custom.no-rm-rf"
severity = "high"
explanation = "wipes the disk"
technique = "T1485"
exec = ["rm -rf /*"]
response = "kill"

[[detect.rules]]
id = "custom.team.paste"
severity = "medium"
write = ["/srv/**", "*.pem"]
connect = ["*.pastebin.com:443", "10.0.0.0/8"]
"#;

#[test]
fn a_full_section_loads() {
    let d = load(FULL).detect;
    assert!(d.is_enabled());
    assert_eq!(d.webhook.as_deref(), Some("http://127.0.0.1:9/hook"));
    assert_eq!(d.response_for(Severity::Critical), Response::Freeze);
    assert_eq!(d.response_for(Severity::Low), Response::Alert);
    assert_eq!(d.response_for(Severity::High), Response::Alert);
    assert_eq!(d.detectors["miner.cpu"].response, Some(Response::Kill));
    assert_eq!(d.detectors["miner.cpu"].severity, Some(Severity::High));
    assert_eq!(d.detectors["persist.*"].enabled, Some(false));
    let t = &d.thresholds;
    assert_eq!(t.scan_destinations(), 30);
    assert_eq!(t.scan_window(), std::time::Duration::from_secs(60));
    assert_eq!(t.mining_cpu_percent(), 75.5);
    assert_eq!(t.mining_seconds(), std::time::Duration::from_secs(10));
    assert_eq!(t.upload_bytes(), 1 << 30);
    assert_eq!(t.dns_label_entropy(), 4.0);
    assert_eq!(t.dns_label_length(), 30);
    assert_eq!(t.dns_subdomains(), 50);
    assert_eq!(t.dns_window(), std::time::Duration::from_secs(120));
    assert_eq!(t.cpu_limit_seconds(), std::time::Duration::from_secs(300));
    assert_eq!(d.rules.len(), 2);
    assert_eq!(d.rules[0].id, "custom.no-rm-rf");
    assert_eq!(d.rules[0].response, Some(Response::Kill));
    assert_eq!(d.rules[0].technique.as_deref(), Some("T1485"));
    assert_eq!(d.rules[1].severity, Severity::Medium);
    assert_eq!(d.rules[1].connect, ["*.pastebin.com:443", "10.0.0.0/8"]);
}

#[test]
fn defaults_are_the_documented_ones() {
    let d = Detect::default();
    assert!(d.is_enabled());
    assert!(d.is_default());
    assert_eq!(d.response_for(Severity::Critical), Response::Kill);
    assert_eq!(d.response_for(Severity::High), Response::Alert);
    assert_eq!(d.response_for(Severity::Medium), Response::Alert);
    assert_eq!(d.response_for(Severity::Low), Response::Log);
    let t = &d.thresholds;
    assert_eq!(t.scan_destinations(), 12);
    assert_eq!(t.scan_window(), std::time::Duration::from_secs(10));
    assert_eq!(t.mining_cpu_percent(), 90.0);
    assert_eq!(t.mining_seconds(), std::time::Duration::from_secs(3));
    assert_eq!(t.upload_bytes(), 64 << 20);
    assert_eq!(t.dns_label_entropy(), 3.6);
    assert_eq!(t.dns_label_length(), 20);
    assert_eq!(t.dns_subdomains(), 20);
    assert_eq!(t.dns_window(), std::time::Duration::from_secs(60));
    assert_eq!(t.cpu_limit_seconds(), std::time::Duration::from_secs(60));
    // No profile changes the defaults, and an empty section is the default.
    for name in crate::PROFILE_NAMES {
        assert!(profile(name).unwrap().detect.is_default(), "{name}");
    }
    assert!(load("[detect]\n").detect.is_default());
    assert!(!load("[detect]\nenabled = false\n").detect.is_enabled());
}

#[test]
fn settings_are_looked_up_from_the_most_specific_key() {
    let d = load(
        "[detect.detectors.\"custom.team\"]\nresponse = \"kill\"\n\
         [detect.detectors.custom]\nenabled = false\nresponse = \"log\"\n\
         [detect.detectors.\"miner.*\"]\nseverity = \"low\"\n",
    )
    .detect;
    let found: Vec<_> = d.settings_for("custom.team.x").collect();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].response, Some(Response::Kill));
    assert_eq!(found[1].enabled, Some(false));
    assert_eq!(
        d.settings_for("miner.cpu").next().unwrap().severity,
        Some(Severity::Low)
    );
    assert_eq!(d.settings_for("net.scan").count(), 0);
}

#[test]
fn a_file_merges_over_its_profile_key_by_key() {
    let base = load(FULL);
    let upper = load(
        "[detect]\nwebhook = \"http://alerts.example/x\"\n\
         [detect.response]\nhigh = \"kill\"\n\
         [detect.detectors.\"miner.cpu\"]\nenabled = false\n\
         [detect.detectors.persist]\nresponse = \"log\"\n\
         [detect.thresholds]\nscan_destinations = 5\n\
         [[detect.rules]]\nid = \"custom.no-rm-rf\"\nseverity = \"low\"\nexec = [\"rm -r *\"]\n\
         [[detect.rules]]\nid = \"custom.more\"\nseverity = \"low\"\nwrite = [\"/x\"]\n",
    );
    let merged = upper.detect.merged_onto(base.detect);
    assert_eq!(merged.webhook.as_deref(), Some("http://alerts.example/x"));
    assert_eq!(merged.enabled, Some(true));
    assert_eq!(merged.response.high, Some(Response::Kill));
    assert_eq!(merged.response.critical, Some(Response::Freeze));
    // One detector entry, fields merged.
    let cpu = &merged.detectors["miner.cpu"];
    assert_eq!(cpu.enabled, Some(false));
    assert_eq!(cpu.response, Some(Response::Kill));
    assert_eq!(cpu.severity, Some(Severity::High));
    // "persist.*" and "persist" are one family key.
    assert_eq!(
        merged.detectors["persist"],
        DetectorSettings {
            enabled: Some(false),
            response: Some(Response::Log),
            severity: None,
        }
    );
    assert!(!merged.detectors.contains_key("persist.*"));
    assert_eq!(merged.thresholds.scan_destinations(), 5);
    assert_eq!(merged.thresholds.dns_subdomains(), 50);
    let ids: Vec<&str> = merged.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["custom.no-rm-rf", "custom.team.paste", "custom.more"]);
    assert_eq!(merged.rules[0].exec, ["rm -r *"]);
    // Through the policy merge too.
    let p = load("[detect.thresholds]\nupload_bytes = \"1M\"\n").merged_onto(base_policy());
    assert_eq!(p.detect.thresholds.upload_bytes(), 1 << 20);
}

fn base_policy() -> Policy {
    profile("offline").unwrap()
}

#[test]
fn the_section_renders_and_reads_back() {
    let policy = load(FULL).merged_onto(profile("none").unwrap());
    let shown = policy.to_toml();
    let back =
        Policy::from_toml_str(&shown, "shown.toml").unwrap_or_else(|e| panic!("{e}\n{shown}"));
    assert_eq!(back.merged_onto(profile("none").unwrap()), policy);
    assert!(
        shown.contains("\n[detect.detectors.\"miner.cpu\"]\n"),
        "{shown}"
    );
    assert!(shown.contains("\n[[detect.rules]]\n"), "{shown}");
    // Nothing set: no section at all.
    assert!(!profile("offline").unwrap().to_toml().contains("[detect"));
}

#[test]
fn unknown_keys_and_bad_values_name_the_key_and_its_position() {
    assert_eq!(
        err("[detect]\nenable = false\n"),
        "p.toml:2:1: detect.enable: unknown key; allowed keys in [detect] are: enabled, webhook, \
         response, detectors, thresholds, rules"
    );
    assert_eq!(
        err("[detect.detectors.\"miner.cpu\"]\nresponse = \"stop\"\n"),
        "p.toml:2:12: detect.detectors.\"miner.cpu\".response: unknown variant `stop`; expected \
         a response: \"log\", \"alert\", \"deny\", \"freeze\" or \"kill\""
    );
    assert_eq!(
        err("[detect.detectors.\"miner.cpu\"]\nrespons = \"kill\"\n"),
        "p.toml:2:1: detect.detectors.\"miner.cpu\".respons: unknown key; allowed keys in \
         [detect.detectors.\"miner.cpu\"] are: enabled, response, severity"
    );
    assert_eq!(
        err("[detect.response]\nfatal = \"kill\"\n"),
        "p.toml:2:1: detect.response.fatal: unknown key; allowed keys in [detect.response] are: \
         low, medium, high, critical"
    );
    has(err("[detect.thresholds]\nscan_window = \"10 parsecs\"\n"), 
        "p.toml:2:15: detect.thresholds.scan_window: invalid duration \"10 parsecs\"; expected a duration"
    , true);
    has(
        err("[detect.thresholds]\nscan_windw = 3\n"),
        "detect.thresholds.scan_windw: unknown key; allowed keys in [detect.thresholds] are: \
         scan_destinations, scan_window,",
        false,
    );
    has(
        err("[detect]\nenabled = \"yes\"\n"),
        "p.toml:2:11: detect.enabled: invalid type: string \"yes\"; expected true or false",
        true,
    );
}

#[test]
fn detector_keys_must_name_detectors() {
    assert_eq!(
        err("[detect.detectors.\"miner.cpuu\"]\nenabled = false\n"),
        "p.toml:1:19: detect.detectors.\"miner.cpuu\": unknown detector \"miner.cpuu\"; the miner \
         detectors are miner.stratum, miner.argv, miner.exec, miner.pool, miner.port, miner.cpu; \
         expected a detector id such as \"miner.cpu\", a family such as \"miner\" or \"miner.*\" \
         (families: miner, tunnel, shell, net, persist, evasion, escape, exfil, resource), or a \
         key under \"custom\" or \"baseline\""
    );
    has(
        err("[detect.detectors.crypto]\nenabled = false\n"),
        "detect.detectors.\"crypto\": unknown detector family \"crypto\"",
        false,
    );
    has(
        err("[detect.detectors.\"Miner\"]\n"),
        "\"Miner\" is not a detector id: ids are dot-separated lowercase words",
        false,
    );
    has(
        err("[detect.detectors.\"miner\"]\n[detect.detectors.\"miner.*\"]\n"),
        "detect.detectors.\"miner.*\": \"miner.*\" is the same family as \"miner\"",
        false,
    );
    for ok in [
        "miner",
        "miner.*",
        "miner.cpu",
        "escape",
        "escape.ptrace",
        "custom",
        "custom.anything.at-all",
        "baseline.exec",
        "exfil.dns-burst",
    ] {
        let text = format!("[detect.detectors.{ok:?}]\nenabled = false\n");
        assert!(Policy::from_toml_str(&text, "p").is_ok(), "{ok}");
    }
}

#[test]
fn thresholds_and_webhook_are_checked() {
    assert_eq!(
        err("[detect.thresholds]\nmining_cpu_percent = 150\n"),
        "p.toml:2:22: detect.thresholds.mining_cpu_percent: 150 percent is out of range; expected \
         a percentage above 0 and at most 100, e.g. mining_cpu_percent = 90"
    );
    for (text, message) in [
        (
            "scan_destinations = 1",
            "detect.thresholds.scan_destinations: 1 is too few",
        ),
        (
            "dns_subdomains = 0",
            "detect.thresholds.dns_subdomains: 0 is too few",
        ),
        (
            "scan_window = 0",
            "detect.thresholds.scan_window: a duration of 0s is too short",
        ),
        (
            "mining_seconds = \"0ms\"",
            "detect.thresholds.mining_seconds: a duration of 0s",
        ),
        (
            "dns_window = 0",
            "detect.thresholds.dns_window: a duration of 0s",
        ),
        (
            "cpu_limit_seconds = 0",
            "detect.thresholds.cpu_limit_seconds: a duration of 0s",
        ),
        (
            "dns_label_entropy = 0",
            "detect.thresholds.dns_label_entropy: 0 bits is out of range",
        ),
        (
            "dns_label_entropy = 7",
            "detect.thresholds.dns_label_entropy: 7 bits",
        ),
        (
            "dns_label_length = 64",
            "detect.thresholds.dns_label_length: 64 characters",
        ),
        (
            "upload_bytes = 0",
            "detect.thresholds.upload_bytes: size 0 is zero",
        ),
        (
            "mining_cpu_percent = 0",
            "detect.thresholds.mining_cpu_percent: 0 percent",
        ),
    ] {
        let e = err(&format!("[detect.thresholds]\n{text}\n"));
        assert!(e.starts_with("p.toml:2:") && e.contains(message), "{e}");
    }
    assert_eq!(
        err("[detect]\nwebhook = \"ftp://x\"\n"),
        "p.toml:2:11: detect.webhook: \"ftp://x\" is not an http:// URL; expected an http:// URL \
         that findings are POSTed to (for https, a local relay), e.g. webhook = \
         \"http://127.0.0.1:9000/corral\""
    );
    has(
        err("[detect]\nwebhook = \"http:///x\"\n"),
        "\"http:///x\" has no host",
        false,
    );
    has(
        err("[detect]\nwebhook = \"http://a b\"\n"),
        "whitespace",
        false,
    );
    has(
        err("[detect]\nwebhook = \"https://h/x\"\n"),
        "detect.webhook: \"https://h/x\" is an https:// URL: corral posts alerts over plain HTTP only",
        false,
    );
    has(
        err("[detect]\nwebhook = \"http://u@h/\"\n"),
        "has user info",
        false,
    );
    has(
        err("[detect]\nwebhook = \"http://h:99999/\"\n"),
        "has the port \"99999\"",
        false,
    );
    has(
        err("[detect]\nwebhook = \"http://:80/\"\n"),
        "has no host",
        false,
    );
    for ok in [
        "http://h:8443/p?q",
        "http://127.0.0.1:9/hook",
        "http://[::1]:9",
        "http://h",
    ] {
        let text = format!("[detect]\nwebhook = {ok:?}\n");
        assert!(Policy::from_toml_str(&text, "p").is_ok(), "{ok}");
    }
}

#[test]
fn rules_are_checked_with_their_index() {
    let rule = |body: &str| {
        format!("[[detect.rules]]\nid = \"custom.a\"\nseverity = \"low\"\nexec = [\"x\"]\n\n[[detect.rules]]\n{body}\n")
    };
    assert_eq!(
        err(&rule(
            "id = \"no-rm-rf\"\nseverity = \"high\"\nexec = [\"rm\"]"
        )),
        "p.toml:7:6: detect.rules[1].id: rule id \"no-rm-rf\" does not start with \"custom.\"; \
         expected an id starting with \"custom.\", then dot-separated lowercase words, e.g. id = \
         \"custom.no-rm-rf\""
    );
    has(
        err(&rule(
            "id = \"custom.A\"\nseverity = \"high\"\nexec = [\"rm\"]",
        )),
        "p.toml:7:6: detect.rules[1].id: rule id \"custom.A\" is not dot-separated",
        true,
    );
    has(
        err(&rule(
            "id = \"custom.a\"\nseverity = \"high\"\nexec = [\"rm\"]",
        )),
        "p.toml:7:6: detect.rules[1].id: rule id \"custom.a\" is already used by detect.rules[0]",
        true,
    );
    assert_eq!(
        err(&rule("id = \"custom.b\"\nseverity = \"high\"")),
        "p.toml:6:1: detect.rules[1]: rule \"custom.b\" matches nothing; expected at least one \
         pattern in exec, write or connect, e.g. exec = [\"rm -rf /*\"]"
    );
    has(
        err(&rule("id = \"custom.b\"\nexec = [\"rm\"]")),
        "p.toml:6:1: detect.rules[1]: missing field `severity`; expected a list of tables",
        true,
    );
    has(
        err(&rule(
            "id = \"custom.b\"\nseverity = \"severe\"\nexec = [\"rm\"]",
        )),
        "p.toml:8:12: detect.rules[1].severity: unknown variant `severe`",
        true,
    );
    has(err(&rule("id = \"custom.b\"\nseverity = \"low\"\nexec = [\"rm\"]\nexe = []")), "p.toml:10:1: detect.rules[1].exe: unknown key; allowed keys in detect.rules[1] are: id, severity, explanation, technique, exec, write, connect, response", true);
    has(
        err(&rule(
            "id = \"custom.b\"\nseverity = \"low\"\nexec = [\"rm\", \"x[a-\"]",
        )),
        "p.toml:9:15: detect.rules[1].exec[1]: pattern \"x[a-\" has a '[' without its closing ']'",
        true,
    );
    has(
        err(&rule(
            "id = \"custom.b\"\nseverity = \"low\"\nwrite = [\"srv/**\"]",
        )),
        "p.toml:9:10: detect.rules[1].write[0]: pattern \"srv/**\" is relative",
        true,
    );
    has(
        err(&rule(
            "id = \"custom.b\"\nseverity = \"low\"\nwrite = [\"/a/***\"]",
        )),
        "detect.rules[1].write[0]: pattern \"/a/***\" has 3 '*' in a row",
        false,
    );
    has(
        err(&rule(
            "id = \"custom.b\"\nseverity = \"low\"\nconnect = [\"a.com:0\"]",
        )),
        "p.toml:9:12: detect.rules[1].connect[0]: ",
        true,
    );
    has(
        err(&rule(
            "id = \"custom.b\"\nseverity = \"low\"\nconnect = [\"a b\"]",
        )),
        "detect.rules[1].connect[0]: \"a b\" contains whitespace",
        false,
    );
    has(
        err(&rule(
            "id = \"custom.b\"\nseverity = \"low\"\nexec = [\"x\"]\ntechnique = \"1059\"",
        )),
        "detect.rules[1].technique: \"1059\" is not a MITRE ATT&CK technique id",
        false,
    );
    has(
        err(&rule(
            "id = \"custom.b\"\nseverity = \"low\"\nexec = [\"x\"]\nexplanation = \"a\\nb\"",
        )),
        "detect.rules[1].explanation: explanation \"a\\nb\" contains a line break",
        false,
    );
    has(
        err(&rule(
            "id = \"custom.b\"\nseverity = \"low\"\nexec = [\"x\"]\nresponse = \"ignore\"",
        )),
        "detect.rules[1].response: unknown variant `ignore`",
        false,
    );
    assert!(Policy::from_toml_str(&rule("id = \"custom.b\"\nseverity = \"low\"\nconnect = [\"[::1]:22\", \"*\"]\ntechnique = \"T1059.004\""), "p").is_ok());
}
