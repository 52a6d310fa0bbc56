//! The audit trail's side of a scenario: the findings, the kill and its
//! latency, the verdict, and the telling events (refusals first among
//! them) as one line of evidence each.

use serde_json::Value;
use std::time::UNIX_EPOCH;

/// A finding from the trail.
#[derive(Debug, Clone)]
pub struct FindingSeen {
    pub id: String,
    pub severity: Option<String>,
    pub technique: Option<String>,
    pub explanation: String,
    pub response: String,
    /// When it was recorded (seconds since the epoch).
    pub t: f64,
}

/// corral ending the run for a finding.
#[derive(Debug, Clone)]
pub struct Kill {
    pub finding: String,
    pub response: String,
    pub latency_ms: f64,
}

/// What one scenario run's audit trail says, as the judge reads it (not
/// the audit crate's trail: only the findings, the kill, the verdict and
/// the telling events).
#[derive(Debug, Default, Clone)]
pub struct ScenarioTrail {
    pub findings: Vec<FindingSeen>,
    pub kill: Option<Kill>,
    /// The verdict's `outcome` (`clean`, `flagged`, `killed`).
    pub outcome: Option<String>,
    /// The verdict lists findings: corral's detectors are in this build.
    pub detection_active: bool,
    /// The run's start (seconds since the epoch).
    pub started: Option<f64>,
    /// The telling events, one line each.
    pub evidence: Vec<String>,
    /// How many telling events there were (evidence keeps the first ones).
    pub evidence_total: usize,
    /// Layers the trail shows refusing something (seccomp, filesystem,
    /// proxy, resolver, limits).
    pub refusals: Vec<&'static str>,
}

/// Evidence lines kept per run.
const EVIDENCE_MAX: usize = 40;

fn ts(line: &Value) -> Option<f64> {
    let s = line.get("ts")?.as_str()?;
    let t = humantime::parse_rfc3339(s).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs_f64())
}

fn text<'a>(line: &'a Value, key: &str) -> &'a str {
    line.get(key).and_then(Value::as_str).unwrap_or("")
}

/// One line of evidence for a telling event, and the layer that refused
/// (when it is a refusal); `None` for events that tell nothing here.
fn evidence(line: &Value) -> Option<(String, Option<&'static str>)> {
    let pid = line
        .get("pid")
        .and_then(Value::as_u64)
        .map(|p| format!(" (pid {p})"))
        .unwrap_or_default();
    let kind = text(line, "kind");
    Some(match kind {
        "sys.denied" => (
            format!(
                "seccomp refused {}{pid}: {}",
                text(line, "syscall"),
                text(line, "reason")
            ),
            Some("seccomp"),
        ),
        "file.write" if line.get("writable") == Some(&Value::Bool(false)) => (
            format!(
                "write refused: {} {}{pid}",
                text(line, "op"),
                text(line, "path")
            ),
            Some("filesystem"),
        ),
        "net.connect" | "dns.query" if text(line, "decision") != "allow" => {
            let what = if kind == "dns.query" {
                format!("DNS {} {}", text(line, "qtype"), text(line, "host"))
            } else {
                format!(
                    "{} {}:{}",
                    text(line, "via"),
                    text(line, "host"),
                    line.get("port").and_then(Value::as_u64).unwrap_or(0)
                )
            };
            let layer = if kind == "dns.query" {
                "resolver"
            } else {
                "proxy"
            };
            (
                format!(
                    "proxy {}: {what}{pid}: {}",
                    text(line, "decision"),
                    text(line, "reason")
                ),
                Some(layer),
            )
        }
        "sock.connect" => {
            let addr = text(line, "addr");
            let family = text(line, "family");
            let local = addr.starts_with("127.") || addr.starts_with("[::1]");
            if !matches!(family, "inet" | "inet6") || local {
                return None;
            }
            (format!("direct connect to {addr}{pid}"), None)
        }
        "sock.listen" => (format!("listen on {}{pid}", text(line, "addr")), None),
        "sock.socket" => (
            format!(
                "socket of family {} type {}{pid}",
                text(line, "family"),
                text(line, "type")
            ),
            None,
        ),
        "resource.limit" => (
            format!(
                "{} limit hit: {}",
                text(line, "limit"),
                text(line, "detail")
            ),
            Some("limits"),
        ),
        "fs.protected" => (
            format!(
                "protected path {}: {}",
                text(line, "change"),
                text(line, "path")
            ),
            None,
        ),
        "finding" => (
            format!(
                "finding {} ({}, {}): {} -> {}",
                text(line, "id"),
                text(line, "severity"),
                text(line, "technique"),
                text(line, "explanation"),
                text(line, "response")
            ),
            None,
        ),
        "response.kill" => (
            format!(
                "corral ended the run ({}) for {} {} ms after its event",
                text(line, "response"),
                text(line, "finding"),
                line.get("latency_ms")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
            ),
            None,
        ),
        _ => return None,
    })
}

/// Reads what matters from a trail's lines.
pub fn read_trail(lines: &[Value]) -> ScenarioTrail {
    let mut t = ScenarioTrail::default();
    for line in lines {
        let kind = text(line, "kind");
        match kind {
            "run.start" => t.started = ts(line),
            "finding" => t.findings.push(FindingSeen {
                id: text(line, "id").to_owned(),
                severity: line
                    .get("severity")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                technique: line
                    .get("technique")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                explanation: text(line, "explanation").to_owned(),
                response: text(line, "response").to_owned(),
                t: ts(line).unwrap_or(0.0),
            }),
            "response.kill" if t.kill.is_none() => {
                t.kill = Some(Kill {
                    finding: text(line, "finding").to_owned(),
                    response: text(line, "response").to_owned(),
                    latency_ms: line
                        .get("latency_ms")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0),
                })
            }
            "verdict" => {
                t.outcome = line
                    .get("outcome")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                t.detection_active = line.get("findings").is_some();
            }
            _ => {}
        }
        if let Some((ev, layer)) = evidence(line) {
            t.evidence_total += 1;
            if t.evidence.len() < EVIDENCE_MAX {
                t.evidence.push(ev);
            }
            if let Some(layer) = layer {
                if !t.refusals.contains(&layer) {
                    t.refusals.push(layer);
                }
            }
        }
    }
    t
}

impl FindingSeen {
    pub fn json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "severity": self.severity,
            "technique": self.technique,
            "explanation": self.explanation,
            "response": self.response,
        })
    }
}
