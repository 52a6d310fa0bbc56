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

use crate::net::{Endpoint, Ports};
use crate::validate::{Issue, Seg};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The name as written in a policy: `low`, `medium`, `high`, `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Severity {
    type Err = String;

    /// Exactly the lowercase names.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .ok_or_else(|| format!("unknown severity {text:?}"))
    }
}

/// What is done about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Response {
    /// Recorded in the audit trail only.
    Log,
    /// Recorded, printed on stderr, and sent to the webhook if one is set.
    Alert,
    /// As `alert`, and the behaviour is refused where corral can refuse it
    /// (the egress proxy); elsewhere the same as `kill`.
    Deny,
    /// As `alert`, then the whole sandbox is frozen (cgroup freezer) for a
    /// forensic snapshot, then killed.
    Freeze,
    /// As `alert`, and the whole sandbox is killed at once.
    Kill,
}

impl Response {
    /// Every response, mildest first.
    pub const ALL: [Response; 5] = [
        Response::Log,
        Response::Alert,
        Response::Deny,
        Response::Freeze,
        Response::Kill,
    ];

    /// The name as written in a policy: `log`, `alert`, `deny`, `freeze`,
    /// `kill`.
    pub fn name(self) -> &'static str {
        match self {
            Response::Log => "log",
            Response::Alert => "alert",
            Response::Deny => "deny",
            Response::Freeze => "freeze",
            Response::Kill => "kill",
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Response {
    type Err = String;

    /// Exactly the lowercase names.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Response::ALL
            .into_iter()
            .find(|r| r.name() == text)
            .ok_or_else(|| format!("unknown response {text:?}"))
    }
}

/// The ids of the built-in detectors (the `baseline.*` findings and the
/// user's `custom.*` rules come on top). `[detect.detectors]` keys must be
/// one of these, a family of them (`miner`, `miner.*`), or under `custom`
/// or `baseline`. corral-detect's tests check that this is exactly the set
/// of ids its detectors raise.
/// The exit status of a run corral ended for a finding (a response of
/// `kill`, `freeze` or `deny`).
pub const EXIT_FINDING: i32 = 123;

pub const DETECTOR_IDS: &[&str] = &[
    "miner.stratum",
    "miner.argv",
    "miner.exec",
    "miner.pool",
    "miner.port",
    "miner.cpu",
    "tunnel.ssh",
    "tunnel.ssh-proxy",
    "tunnel.autossh",
    "tunnel.ssh-egress",
    "shell.reverse",
    "shell.bind",
    "net.scan",
    "net.metadata",
    "net.listen",
    "persist.shell-rc",
    "persist.cron",
    "persist.at",
    "persist.systemd",
    "persist.ssh-keys",
    "persist.git-hook",
    "persist.preload",
    "persist.sudoers",
    "persist.account",
    "persist.etc",
    "evasion.history",
    "evasion.logs",
    "evasion.audit",
    "evasion.memfd",
    "evasion.shm",
    "evasion.written-exec",
    "escape.ptrace",
    "escape.process_vm_readv",
    "escape.process_vm_writev",
    "escape.pidfd_getfd",
    "escape.mount",
    "escape.umount2",
    "escape.pivot_root",
    "escape.chroot",
    "escape.move_mount",
    "escape.open_tree",
    "escape.fsopen",
    "escape.fsconfig",
    "escape.fsmount",
    "escape.fspick",
    "escape.mount_setattr",
    "escape.open_by_handle_at",
    "escape.name_to_handle_at",
    "escape.unshare",
    "escape.setns",
    "escape.clone",
    "escape.bpf",
    "escape.perf_event_open",
    "escape.keyctl",
    "escape.add_key",
    "escape.request_key",
    "escape.kexec_load",
    "escape.kexec_file_load",
    "escape.init_module",
    "escape.finit_module",
    "escape.delete_module",
    "escape.io_uring_setup",
    "escape.io_uring_enter",
    "escape.io_uring_register",
    "escape.userfaultfd",
    "escape.socket",
    "escape.ioctl",
    "escape.setid",
    "exfil.dns",
    "exfil.dns-burst",
    "exfil.upload",
    "resource.memory",
    "resource.pids",
    "resource.cpu",
    "resource.timeout",
];

/// Families whose ids are open-ended: the user's rules and the baselines'.
const OPEN_FAMILIES: [&str; 2] = ["custom", "baseline"];

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

/// `[detect.thresholds]`: every key optional; the accessor of the same name
/// gives the value in force (the default when unset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// `net.scan`: distinct destinations (address and port) within
    /// `scan_window`. Default 12, at least 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_destinations: Option<u32>,
    /// `net.scan`: the sliding window. Default `"10s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_window: Option<crate::model::Duration>,
    /// `miner.cpu`: the percentage of its possible share a process must
    /// hold (its possible share: its threads times 100, at most the
    /// sandbox's CPU budget). Default 90, above 0 and at most 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mining_cpu_percent: Option<f64>,
    /// `miner.cpu`: for how long (consecutive samples), without progress.
    /// Default `"3s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mining_seconds: Option<crate::model::Duration>,
    /// `exfil.upload`: bytes sent to one destination during the run.
    /// Default `"64M"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_bytes: Option<crate::model::ByteSize>,
    /// `exfil.dns`: the Shannon entropy (bits per character) from which a
    /// long DNS label looks encoded. Default 3.6, above 0 and at most 6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_label_entropy: Option<f64>,
    /// `exfil.dns`: the length from which a DNS label is looked at. Default
    /// 20, from 8 to 63.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_label_length: Option<u32>,
    /// `exfil.dns-burst`: distinct names under one parent domain within
    /// `dns_window`. Default 20, at least 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_subdomains: Option<u32>,
    /// `exfil.dns-burst`: the sliding window. Default `"60s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_window: Option<crate::model::Duration>,
    /// `resource.cpu`: for how long the sandbox may run at its CPU limit
    /// (samples at 95% of it or more) before it is a finding. Default
    /// `"60s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_limit_seconds: Option<crate::model::Duration>,
}

fn secs(s: u64) -> std::time::Duration {
    std::time::Duration::from_secs(s)
}

impl Thresholds {
    pub const DEFAULT_SCAN_DESTINATIONS: u32 = 12;
    pub const DEFAULT_SCAN_WINDOW_SECS: u64 = 10;
    pub const DEFAULT_MINING_CPU_PERCENT: f64 = 90.0;
    pub const DEFAULT_MINING_SECS: u64 = 3;
    pub const DEFAULT_UPLOAD_BYTES: u64 = 64 << 20;
    pub const DEFAULT_DNS_LABEL_ENTROPY: f64 = 3.6;
    pub const DEFAULT_DNS_LABEL_LENGTH: u32 = 20;
    pub const DEFAULT_DNS_SUBDOMAINS: u32 = 20;
    pub const DEFAULT_DNS_WINDOW_SECS: u64 = 60;
    pub const DEFAULT_CPU_LIMIT_SECS: u64 = 60;

    fn is_empty(&self) -> bool {
        *self == Thresholds::default()
    }

    pub fn scan_destinations(&self) -> u32 {
        self.scan_destinations
            .unwrap_or(Self::DEFAULT_SCAN_DESTINATIONS)
    }

    pub fn scan_window(&self) -> std::time::Duration {
        self.scan_window
            .map_or(secs(Self::DEFAULT_SCAN_WINDOW_SECS), |d| d.0)
    }

    pub fn mining_cpu_percent(&self) -> f64 {
        self.mining_cpu_percent
            .unwrap_or(Self::DEFAULT_MINING_CPU_PERCENT)
    }

    pub fn mining_seconds(&self) -> std::time::Duration {
        self.mining_seconds
            .map_or(secs(Self::DEFAULT_MINING_SECS), |d| d.0)
    }

    pub fn upload_bytes(&self) -> u64 {
        self.upload_bytes
            .map_or(Self::DEFAULT_UPLOAD_BYTES, |b| b.0)
    }

    pub fn dns_label_entropy(&self) -> f64 {
        self.dns_label_entropy
            .unwrap_or(Self::DEFAULT_DNS_LABEL_ENTROPY)
    }

    pub fn dns_label_length(&self) -> u32 {
        self.dns_label_length
            .unwrap_or(Self::DEFAULT_DNS_LABEL_LENGTH)
    }

    pub fn dns_subdomains(&self) -> u32 {
        self.dns_subdomains.unwrap_or(Self::DEFAULT_DNS_SUBDOMAINS)
    }

    pub fn dns_window(&self) -> std::time::Duration {
        self.dns_window
            .map_or(secs(Self::DEFAULT_DNS_WINDOW_SECS), |d| d.0)
    }

    pub fn cpu_limit_seconds(&self) -> std::time::Duration {
        self.cpu_limit_seconds
            .map_or(secs(Self::DEFAULT_CPU_LIMIT_SECS), |d| d.0)
    }

    /// `upper`'s values where set, else `self`'s.
    fn overlaid(self, upper: Thresholds) -> Thresholds {
        Thresholds {
            scan_destinations: upper.scan_destinations.or(self.scan_destinations),
            scan_window: upper.scan_window.or(self.scan_window),
            mining_cpu_percent: upper.mining_cpu_percent.or(self.mining_cpu_percent),
            mining_seconds: upper.mining_seconds.or(self.mining_seconds),
            upload_bytes: upper.upload_bytes.or(self.upload_bytes),
            dns_label_entropy: upper.dns_label_entropy.or(self.dns_label_entropy),
            dns_label_length: upper.dns_label_length.or(self.dns_label_length),
            dns_subdomains: upper.dns_subdomains.or(self.dns_subdomains),
            dns_window: upper.dns_window.or(self.dns_window),
            cpu_limit_seconds: upper.cpu_limit_seconds.or(self.cpu_limit_seconds),
        }
    }
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

/// How a [`Glob`] treats `/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobMode {
    /// `*` matches any characters, `/` included (`exec` patterns).
    Text,
    /// `*` and `?` stay within a path component, `**` crosses them, `**/`
    /// also matches nothing, and a pattern without `/` is matched against
    /// the last component (`write` patterns).
    Path,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`.
    One,
    /// `*`.
    Star,
    /// `**` not followed by `/`: any characters.
    AnyChars,
    /// `**/`: nothing, or any characters ending with `/`.
    AnyDirs,
    /// `[...]`: the ranges (a single character is a range of one).
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled glob of `[[detect.rules]]` (see [`DetectRule::exec`] and
/// [`DetectRule::write`] for the syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
    mode: GlobMode,
    /// Path mode without `/`: matched against the last component.
    name_only: bool,
    text: String,
}

impl Glob {
    /// Compiles `text`; the error says what is wrong with it.
    pub fn new(text: &str, mode: GlobMode) -> Result<Glob, String> {
        if text.is_empty() {
            return Err("the pattern is empty".to_owned());
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(format!(
                "pattern {text:?} contains the control character {c:?}"
            ));
        }
        let name_only = mode == GlobMode::Path && !text.contains('/');
        if mode == GlobMode::Path
            && !name_only
            && !text.starts_with('/')
            && !text.starts_with("**/")
        {
            return Err(format!(
                "pattern {text:?} is relative: paths in file.write events are absolute; start \
                 it with / or **/, or give a file name without /"
            ));
        }
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    let c = chars.get(i + 1).ok_or_else(|| {
                        format!("pattern {text:?} ends with '\\', which escapes nothing")
                    })?;
                    tokens.push(Token::Char(*c));
                    i += 2;
                }
                '?' => {
                    tokens.push(Token::One);
                    i += 1;
                }
                '*' => {
                    let mut n = 0;
                    while chars.get(i + n) == Some(&'*') {
                        n += 1;
                    }
                    if mode == GlobMode::Text {
                        tokens.push(Token::Star);
                    } else if n > 2 {
                        return Err(format!(
                            "pattern {text:?} has {n} '*' in a row: write * (within a path \
                             component) or ** (across components)"
                        ));
                    } else if n == 1 {
                        tokens.push(Token::Star);
                    } else if chars.get(i + 2) == Some(&'/') {
                        tokens.push(Token::AnyDirs);
                        n += 1;
                    } else {
                        tokens.push(Token::AnyChars);
                    }
                    i += n;
                }
                '[' => {
                    let (token, next) = set(text, &chars, i)?;
                    tokens.push(token);
                    i = next;
                }
                c => {
                    tokens.push(Token::Char(c));
                    i += 1;
                }
            }
        }
        Ok(Glob {
            tokens,
            mode,
            name_only,
            text: text.to_owned(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `subject` (a joined argv or a path) matches the whole pattern.
    pub fn matches(&self, subject: &str) -> bool {
        match self.mode {
            GlobMode::Text => self.matches_text(subject),
            GlobMode::Path => {
                let subject = if self.name_only {
                    subject.rsplit('/').next().unwrap_or(subject)
                } else {
                    subject
                };
                let chars: Vec<char> = subject.chars().collect();
                let mut failed = vec![false; (self.tokens.len() + 1) * (chars.len() + 1)];
                self.matches_path(0, &chars, 0, &mut failed)
            }
        }
    }

    /// The classic wildcard walk, backtracking to the last `*` only: linear
    /// in practice, so a long argv costs little.
    fn matches_text(&self, subject: &str) -> bool {
        let text: Vec<char> = subject.chars().collect();
        let (mut t, mut s) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while s < text.len() {
            match self.tokens.get(t) {
                Some(Token::Star | Token::AnyChars | Token::AnyDirs) => {
                    star = Some((t, s));
                    t += 1;
                }
                Some(token) if single(token, text[s], false) => {
                    t += 1;
                    s += 1;
                }
                _ => match star {
                    Some((st, ss)) => {
                        t = st + 1;
                        s = ss + 1;
                        star = Some((st, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        self.tokens[t..]
            .iter()
            .all(|tok| matches!(tok, Token::Star | Token::AnyChars | Token::AnyDirs))
    }

    /// Path matching, memoizing the (token, position) pairs that failed.
    fn matches_path(&self, t: usize, s: &[char], at: usize, failed: &mut [bool]) -> bool {
        let width = s.len() + 1;
        if failed[t * width + at] {
            return false;
        }
        let ok = match self.tokens.get(t) {
            None => at == s.len(),
            Some(Token::Star) => (at..=s.len())
                .take_while(|&end| end == at || s[end - 1] != '/')
                .any(|end| self.matches_path(t + 1, s, end, failed)),
            Some(Token::AnyChars) => {
                (at..=s.len()).any(|end| self.matches_path(t + 1, s, end, failed))
            }
            Some(Token::AnyDirs) => {
                self.matches_path(t + 1, s, at, failed)
                    || (at + 1..=s.len())
                        .filter(|&end| s[end - 1] == '/')
                        .any(|end| self.matches_path(t + 1, s, end, failed))
            }
            Some(token) => {
                at < s.len()
                    && single(token, s[at], true)
                    && self.matches_path(t + 1, s, at + 1, failed)
            }
        };
        if !ok {
            failed[t * width + at] = true;
        }
        ok
    }
}

/// Whether a one-character token matches `c` (`path`: never `/` by `?` or a set).
fn single(token: &Token, c: char, path: bool) -> bool {
    match token {
        Token::Char(x) => *x == c,
        Token::One => !(path && c == '/'),
        Token::Set { negated, ranges } => {
            !(path && c == '/')
                && ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
        }
        Token::Star | Token::AnyChars | Token::AnyDirs => false,
    }
}

/// `[...]` starting at `chars[start]`: the token and the index after `]`.
fn set(text: &str, chars: &[char], start: usize) -> Result<(Token, usize), String> {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let first = i;
    loop {
        let c = *chars
            .get(i)
            .ok_or_else(|| format!("pattern {text:?} has a '[' without its closing ']'"))?;
        if c == ']' && i > first {
            break;
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|e| *e != ']') {
            let end = chars[i + 2];
            if end < c {
                return Err(format!(
                    "pattern {text:?} has the range {c}-{end}, which goes backwards"
                ));
            }
            ranges.push((c, end));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    Ok((Token::Set { negated, ranges }, i + 1))
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

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

fn check_detector_key(key: &str) -> Result<(), String> {
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

/// A webhook's `http://HOST[:PORT][/PATH]`, split: what corral's command
/// line connects to and posts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// A name or an address (an IPv6 one without its brackets).
    pub host: String,
    /// 80 when the URL names none.
    pub port: u16,
    /// `/` when the URL names none.
    pub path: String,
}

impl WebhookUrl {
    /// Parses and checks `http://HOST[:PORT][/PATH]` (HOST a name, an IPv4
    /// address or a bracketed IPv6 one).
    pub fn parse(url: &str) -> Result<WebhookUrl, String> {
        if url.starts_with("https://") {
            return Err(format!(
                "{url:?} is an https:// URL: corral posts alerts over plain HTTP only"
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{url:?} contains whitespace or a control character"
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains(['@', '?', '#']) {
            return Err(format!(
                "{url:?} has user info, a query or a fragment before the path"
            ));
        }
        // `host`, `host:port`, `[v6]`, `[v6]:port`.
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                match port.parse::<u16>() {
                    Ok(p) if p > 0 => (host, p),
                    _ => return Err(format!("{url:?} has the port {port:?}, not 1 to 65535")),
                }
            }
            _ => (authority, 80),
        };
        if host.is_empty() || host == "[]" {
            return Err(format!("{url:?} has no host"));
        }
        Ok(WebhookUrl {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            path: path.to_owned(),
        })
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

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
