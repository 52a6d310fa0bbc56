//! Checks `[detect]` as written: detector keys, rules, thresholds, the
//! webhook URL.

use super::catalogue::{DETECTOR_IDS, OPEN_FAMILIES};
use super::{Detect, Glob, GlobMode, Thresholds, WebhookUrl};
use crate::issue::{Issue, Seg};
use crate::net::{Endpoint, Ports};

/// A `connect` entry of a rule: `HOST[:PORT]` as in `[network]`, every port
/// when none is given.
pub fn connect_pattern(text: &str) -> Result<Endpoint, String> {
    crate::net::parse_endpoint(text, Ports::Every).map_err(|p| p.problem)
}

/// `detect.detectors` key syntax: dot-separated parts of lowercase letters,
/// digits, `-` and `_`, optionally ending in `.*`.
fn check_id_syntax(id: &str) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    id.split('.').all(part_ok)
}

/// What a `detect.detectors` key may be, for its error.
const DETECTOR_KEY_EXPECTED: &str = "expected a detector id such as \"miner.cpu\", a family such \
     as \"miner\" or \"miner.*\" (families: miner, tunnel, shell, net, persist, evasion, escape, \
     exfil, resource), or a key under \"custom\" or \"baseline\"";

pub(super) fn check_detector_key(key: &str) -> Result<(), String> {
    let id = key.strip_suffix(".*").unwrap_or(key);
    if !check_id_syntax(id) {
        return Err(format!(
            "{key:?} is not a detector id: ids are dot-separated lowercase words"
        ));
    }
    let family = id.split('.').next().unwrap_or(id);
    if OPEN_FAMILIES.contains(&family) {
        return Ok(());
    }
    let known = DETECTOR_IDS.iter().any(|known| {
        *known == id
            || known
                .strip_prefix(id)
                .is_some_and(|rest| rest.starts_with('.'))
    });
    if known {
        return Ok(());
    }
    let siblings: Vec<&str> = DETECTOR_IDS
        .iter()
        .copied()
        .filter(|k| k.split('.').next() == Some(family))
        .collect();
    if siblings.is_empty() {
        Err(format!("unknown detector family {family:?} in {key:?}"))
    } else {
        Err(format!(
            "unknown detector {key:?}; the {family} detectors are {}",
            siblings.join(", ")
        ))
    }
}

fn check_rule_id(id: &str) -> Result<(), String> {
    match id.strip_prefix("custom.") {
        Some(rest) if check_id_syntax(rest) => Ok(()),
        Some(_) => Err(format!(
            "rule id {id:?} is not dot-separated lowercase words after \"custom.\""
        )),
        None => Err(format!("rule id {id:?} does not start with \"custom.\"")),
    }
}

fn check_technique(text: &str) -> Result<(), String> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let ok = text
        .strip_prefix('T')
        .is_some_and(|rest| match rest.split_once('.') {
            Some((main, sub)) => digits(main, 4) && digits(sub, 3),
            None => digits(rest, 4),
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{text:?} is not a MITRE ATT&CK technique id"))
    }
}

fn check_line(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        Err("the explanation is empty".to_owned())
    } else if text.chars().any(|c| c.is_control()) {
        Err(format!(
            "explanation {text:?} contains a line break or a control character"
        ))
    } else {
        Ok(())
    }
}

/// Checks `[detect]` as written; the first problem wins. Paths name the key:
/// `detect.rules[2].id`, `detect.detectors."miner.cpu".response`.
pub(crate) fn check(detect: &Detect) -> Result<(), Issue> {
    let key = |k: &'static str| vec![Seg::Key("detect"), Seg::Key(k)];
    if let Some(url) = &detect.webhook {
        WebhookUrl::parse(url).map_err(|p| Issue::new(key("webhook"), p))?;
    }
    for name in detect.detectors.keys() {
        let twin = name
            .strip_suffix(".*")
            .filter(|family| detect.detectors.contains_key(*family));
        if let Some(family) = twin {
            return Err(Issue {
                at_key: true,
                expected: Some(format!("expected one of {family:?} and {name:?}, not both")),
                ..Issue::new(
                    [key("detectors"), vec![Seg::Quoted(name.clone())]].concat(),
                    format!("{name:?} is the same family as {family:?}"),
                )
            });
        }
        check_detector_key(name).map_err(|p| Issue {
            at_key: true,
            expected: Some(DETECTOR_KEY_EXPECTED.to_owned()),
            ..Issue::new(
                [key("detectors"), vec![Seg::Quoted(name.clone())]].concat(),
                p,
            )
        })?;
    }
    check_thresholds(&detect.thresholds)
        .map_err(|(field, p)| Issue::new([key("thresholds"), vec![Seg::Key(field)]].concat(), p))?;
    for (i, rule) in detect.rules.iter().enumerate() {
        let path = |k: &'static str| [key("rules"), vec![Seg::Index(i), Seg::Key(k)]].concat();
        check_rule_id(&rule.id).map_err(|p| Issue::new(path("id"), p))?;
        if let Some(first) = detect.rules[..i].iter().position(|r| r.id == rule.id) {
            return Err(Issue {
                expected: Some(
                    "expected an id no other rule of this file has (a rule with the id of a \
                     profile's rule replaces it)"
                        .to_owned(),
                ),
                ..Issue::new(
                    path("id"),
                    format!(
                        "rule id {:?} is already used by detect.rules[{first}]",
                        rule.id
                    ),
                )
            });
        }
        if let Some(text) = &rule.explanation {
            check_line(text).map_err(|p| Issue::new(path("explanation"), p))?;
        }
        if let Some(text) = &rule.technique {
            check_technique(text).map_err(|p| Issue::new(path("technique"), p))?;
        }
        if rule.exec.is_empty() && rule.write.is_empty() && rule.connect.is_empty() {
            return Err(Issue {
                expected: Some(
                    "expected at least one pattern in exec, write or connect, e.g. exec = \
                     [\"rm -rf /*\"]"
                        .to_owned(),
                ),
                ..Issue::new(
                    [key("rules"), vec![Seg::Index(i)]].concat(),
                    format!("rule {:?} matches nothing", rule.id),
                )
            });
        }
        let lists: [(&'static str, &Vec<String>); 3] = [
            ("exec", &rule.exec),
            ("write", &rule.write),
            ("connect", &rule.connect),
        ];
        for (name, list) in lists {
            for (j, text) in list.iter().enumerate() {
                let checked = match name {
                    "exec" => Glob::new(text, GlobMode::Text).map(drop),
                    "write" => Glob::new(text, GlobMode::Path).map(drop),
                    _ => connect_pattern(text).map(drop),
                };
                checked.map_err(|p| Issue::new([path(name), vec![Seg::Index(j)]].concat(), p))?;
            }
        }
    }
    Ok(())
}

/// Thresholds that parsed but make no sense. Returns the field name.
fn check_thresholds(t: &Thresholds) -> Result<(), (&'static str, String)> {
    let counts = [
        ("scan_destinations", t.scan_destinations, 2),
        ("dns_subdomains", t.dns_subdomains, 2),
    ];
    for (field, value, min) in counts {
        if let Some(n) = value.filter(|n| *n < min) {
            return Err((field, format!("{n} is too few")));
        }
    }
    let durations = [
        ("scan_window", t.scan_window),
        ("mining_seconds", t.mining_seconds),
        ("dns_window", t.dns_window),
        ("cpu_limit_seconds", t.cpu_limit_seconds),
    ];
    for (field, value) in durations {
        if value.is_some_and(|d| d.0.is_zero()) {
            return Err((field, "a duration of 0s is too short".to_owned()));
        }
    }
    if let Some(p) = t.mining_cpu_percent {
        if !(p > 0.0 && p <= 100.0) {
            return Err(("mining_cpu_percent", format!("{p} percent is out of range")));
        }
    }
    if let Some(e) = t.dns_label_entropy {
        if !(e > 0.0 && e <= 6.0) {
            return Err(("dns_label_entropy", format!("{e} bits is out of range")));
        }
    }
    if let Some(n) = t.dns_label_length {
        if !(8..=63).contains(&n) {
            return Err((
                "dns_label_length",
                format!("{n} characters is out of range"),
            ));
        }
    }
    if t.upload_bytes.is_some_and(|b| b.0 == 0) {
        return Err(("upload_bytes", "size 0 is zero".to_owned()));
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_error_lists_every_family() {
        for family in crate::detect::FAMILIES {
            assert!(
                DETECTOR_KEY_EXPECTED.contains(&format!(" {family},"))
                    || DETECTOR_KEY_EXPECTED.contains(&format!(" {family})")),
                "{family}"
            );
        }
    }

    #[test]
    fn connect_patterns_use_network_syntax() {
        use crate::net::Dest;
        let e = connect_pattern("*.pastebin.com:443").unwrap();
        assert!(e.matches(Dest::Name("x.pastebin.com"), 443));
        assert!(!e.matches(Dest::Name("x.pastebin.com"), 80));
        let every = connect_pattern("10.0.0.0/8").unwrap();
        assert!(every.matches(Dest::Ip("10.1.2.3".parse().unwrap()), 22));
        assert!(connect_pattern("bad host").is_err());
    }
}
