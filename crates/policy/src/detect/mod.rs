//! `[detect]`: what corral's detectors (crate `corral-detect`) look for and
//! what is done about each finding.
//!
//! ```toml
//! [detect]
//! enabled = true                        # false: no detector runs at all
//! webhook = "http://127.0.0.1:9/hook"   # alerts are POSTed there as JSON
//!
//! [detect.response]                     # per severity (these are the defaults)
//! critical = "kill"
//! high = "alert"
//! medium = "alert"
//! low = "log"
//!
//! [detect.detectors."miner.cpu"]        # a detector id, or a family: "miner" / "miner.*"
//! response = "freeze"
//! # enabled = false
//! # severity = "high"
//!
//! [detect.thresholds]                   # every key optional; defaults below
//! scan_destinations = 12
//! scan_window = "10s"
//!
//! [[detect.rules]]                      # the user's own rules
//! id = "custom.no-rm-rf"
//! severity = "high"
//! exec = ["rm -rf /*"]
//! ```
//!
//! Every table rejects unknown keys. The defaults here are the documented
//! ones: an empty `[detect]` (or none at all) runs every detector with the
//! responses above.
//!
//! Which response a finding gets: the finding's own id in `detectors`
//! (`"miner.cpu"`), then the rule's own `response` for a `custom.*` rule,
//! then its families from the longest (`"custom.team"`, then `"custom"`;
//! `"miner.*"` is the same key as `"miner"`), then `[detect.response]` for
//! its severity (after any `severity` override). `enabled` and `severity`
//! are looked up the same way: the most specific key that sets them wins.

mod catalogue;
mod check;
mod glob;
mod render;
mod severity;
mod thresholds;
mod webhook;

pub use catalogue::{Detector, EscapeSyscall, DETECTORS, DETECTOR_IDS, ESCAPE_SYSCALLS, FAMILIES};
pub(crate) use check::check;
pub use check::connect_pattern;
pub use glob::{Glob, GlobMode};
pub(crate) use render::render;
pub use severity::{Response, Severity, EXIT_CORRAL_ERROR, EXIT_FINDING};
pub use thresholds::Thresholds;
pub use webhook::WebhookUrl;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `[detect]`: the detectors and the responses to their findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Detect {
    /// `false`: no detector runs at all (no findings, no responses; the
    /// audit trail is still written). Default `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// An `http://` URL: every finding whose response is not `log` is
    /// POSTed there as JSON (by corral's command line, which speaks plain
    /// HTTP only: for HTTPS, post to a local relay). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// `[detect.response]`: the response for each severity.
    #[serde(skip_serializing_if = "Responses::is_empty")]
    pub response: Responses,
    /// `[detect.detectors."ID"]`: settings for one detector (`"miner.cpu"`)
    /// or a family of them (`"miner"`, or the same written `"miner.*"`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub detectors: BTreeMap<String, DetectorSettings>,
    /// `[detect.thresholds]`: the numbers the detectors compare against.
    #[serde(skip_serializing_if = "Thresholds::is_empty")]
    pub thresholds: Thresholds,
    /// `[[detect.rules]]`: the user's own rules (`custom.*` ids).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<DetectRule>,
}

/// `[detect.response]`: what is done about a finding of each severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Responses {
    /// Default `log`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<Response>,
    /// Default `alert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medium: Option<Response>,
    /// Default `alert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<Response>,
    /// Default `kill`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical: Option<Response>,
}

/// `[detect.detectors."ID"]`: settings for one detector or a family.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorSettings {
    /// `false`: the detector (or every detector of the family) raises
    /// nothing. A more specific key may turn one back on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The response, whatever the severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    /// The severity the findings are reported with (and the response of
    /// that severity applies, unless `response` is set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
}

/// One `[[detect.rules]]` entry: a finding with the rule's `id` whenever an
/// exec, a write or a connection matches one of its patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectRule {
    /// `custom.NAME`: lowercase letters, digits, `-` and `_`, dot-separated
    /// parts (`custom.team.no-rm-rf`). Unique: a rule with the id of a
    /// rule of the base profile replaces it.
    pub id: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: Severity,
    /// One line saying why the match matters, shown in the finding after
    /// what matched. Default: none (the finding says what matched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// The MITRE ATT&CK technique, `T1234` or `T1234.001`. Default: none
    /// (the finding's technique is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technique: Option<String>,
    /// Globs matched against every `proc.exec`: against its argv joined by
    /// spaces (argv[0] as written and as its base name, so `"rm -rf /*"`
    /// also matches `/bin/rm -rf /`) and against the executable's path.
    /// Here `*` matches any characters, `/` and spaces included; `?` one
    /// character; `[a-z]`, `[!0-9]` a set; `\` makes the next character
    /// literal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<String>,
    /// Globs matched against the path of every `file.write` (and the
    /// destination of a rename): absolute (`/srv/**`), or starting with
    /// `**/` (any depth: `**/.aws/credentials`), or without `/` (matched
    /// against the file's name: `*.pem`). `*` stays within one path
    /// component, `**` crosses them (`**/` also matches no directory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub write: Vec<String>,
    /// `HOST[:PORT]` as in `[network]` (without a port: every port), matched
    /// against every egress-proxy connection (`net.connect`: the name or
    /// address asked for) and every inet socket connect (`sock.connect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connect: Vec<String>,
    /// The response, whatever the severity (a `[detect.detectors."ID"]`
    /// entry for the same id wins over it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
}

impl Detect {
    /// Whether detection runs at all (`enabled`, default true).
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// Whether nothing is set: the defaults throughout.
    pub fn is_default(&self) -> bool {
        *self == Detect::default()
    }

    /// The response for a finding of `severity`, from `[detect.response]`
    /// or the default: critical `kill`, high and medium `alert`, low `log`.
    pub fn response_for(&self, severity: Severity) -> Response {
        let r = &self.response;
        match severity {
            Severity::Low => r.low.unwrap_or(Response::Log),
            Severity::Medium => r.medium.unwrap_or(Response::Alert),
            Severity::High => r.high.unwrap_or(Response::Alert),
            Severity::Critical => r.critical.unwrap_or(Response::Kill),
        }
    }

    /// The `[detect.detectors]` entries that apply to `id`, most specific
    /// first: `id` itself, then each family (`custom.a.b`: `custom.a`,
    /// then `custom`). A key written `"miner.*"` counts as `"miner"`.
    pub fn settings_for<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a DetectorSettings> {
        let mut rest = Some(id);
        std::iter::from_fn(move || {
            let key = rest?;
            rest = key.rsplit_once('.').map(|(family, _)| family);
            Some(key)
        })
        .filter_map(|key| {
            self.detectors
                .get(key)
                .or_else(|| self.detectors.get(&format!("{key}.*")))
        })
    }

    /// This file's `[detect]` on top of `base`'s: scalars of `self` win when
    /// set, `response`, `thresholds` and each `detectors` entry merge key by
    /// key, `rules` are appended (a rule with the id of a base rule replaces
    /// it, in the base's place).
    pub fn merged_onto(self, base: Detect) -> Detect {
        let mut detectors = BTreeMap::new();
        for (key, upper) in base.detectors.into_iter().chain(self.detectors) {
            let key = match key.strip_suffix(".*") {
                Some(family) => family.to_owned(),
                None => key,
            };
            let entry: &mut DetectorSettings = detectors.entry(key).or_default();
            *entry = DetectorSettings {
                enabled: upper.enabled.or(entry.enabled),
                response: upper.response.or(entry.response),
                severity: upper.severity.or(entry.severity),
            };
        }
        let mut rules = base.rules;
        for rule in self.rules {
            match rules.iter_mut().find(|r| r.id == rule.id) {
                Some(existing) => *existing = rule,
                None => rules.push(rule),
            }
        }
        let (r, b) = (self.response, base.response);
        Detect {
            enabled: self.enabled.or(base.enabled),
            webhook: self.webhook.or(base.webhook),
            response: Responses {
                low: r.low.or(b.low),
                medium: r.medium.or(b.medium),
                high: r.high.or(b.high),
                critical: r.critical.or(b.critical),
            },
            detectors,
            thresholds: base.thresholds.overlaid(self.thresholds),
            rules,
        }
    }
}

impl Responses {
    fn is_empty(&self) -> bool {
        *self == Responses::default()
    }
}

#[cfg(test)]
mod tests;
