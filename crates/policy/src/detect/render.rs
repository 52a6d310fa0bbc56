//! `[detect]` as TOML, for `corral policy show`.

use super::Detect;
use std::fmt;

/// Appends `[detect]` to `out` (TOML) when anything in it is set: only what
/// is set, so that the text reads back to the same policy.
pub(crate) fn render(detect: &Detect, out: &mut String) {
    use fmt::Write as _;
    if detect.is_default() {
        return;
    }
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    out.push_str("\n[detect]\n");
    if let Some(enabled) = detect.enabled {
        let _ = writeln!(out, "enabled = {enabled}");
    }
    if let Some(url) = &detect.webhook {
        let _ = writeln!(out, "webhook = {}", quote(url));
    }
    let r = &detect.response;
    if !r.is_empty() {
        out.push_str("\n[detect.response]\n");
        for (name, value) in [
            ("low", r.low),
            ("medium", r.medium),
            ("high", r.high),
            ("critical", r.critical),
        ] {
            if let Some(value) = value {
                let _ = writeln!(out, "{name} = {}", quote(value.name()));
            }
        }
    }
    for (key, s) in &detect.detectors {
        let _ = writeln!(out, "\n[detect.detectors.{}]", quote(key));
        if let Some(enabled) = s.enabled {
            let _ = writeln!(out, "enabled = {enabled}");
        }
        if let Some(response) = s.response {
            let _ = writeln!(out, "response = {}", quote(response.name()));
        }
        if let Some(severity) = s.severity {
            let _ = writeln!(out, "severity = {}", quote(severity.name()));
        }
    }
    if !detect.thresholds.is_empty() {
        out.push_str("\n[detect.thresholds]\n");
        if let Ok(toml::Value::Table(table)) = toml::Value::try_from(&detect.thresholds) {
            for (name, value) in &table {
                let _ = writeln!(out, "{name} = {value}");
            }
        }
    }
    for rule in &detect.rules {
        out.push_str("\n[[detect.rules]]\n");
        if let Ok(toml::Value::Table(table)) = toml::Value::try_from(rule) {
            for (name, value) in &table {
                let _ = writeln!(out, "{name} = {value}");
            }
        }
    }
}
