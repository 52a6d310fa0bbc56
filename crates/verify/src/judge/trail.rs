//! The audit trail's side of a scenario: the findings, the kill and its
//! latency, the verdict, and the telling events (refusals first among
//! them) as one line of evidence each.

use corral_event::{Decision, Event, Outcome, Response, Severity};
use serde_json::Value;
use std::time::UNIX_EPOCH;

/// A finding from the trail.
#[derive(Debug, Clone)]
pub struct FindingSeen {
    pub id: String,
    pub severity: Severity,
    pub technique: String,
    pub explanation: String,
    pub response: Response,
    /// When it was recorded (seconds since the epoch).
    pub t: f64,
}

/// corral ending the run for a finding.
#[derive(Debug, Clone)]
pub struct Kill {
    pub finding: String,
    pub response: Response,
    pub latency_ms: f64,
}

/// What one scenario run's audit trail says, as the judge reads it (not
/// the audit crate's trail: only the findings, the kill, the verdict and
/// the telling events).
#[derive(Debug, Default, Clone)]
pub struct ScenarioTrail {
    pub findings: Vec<FindingSeen>,
    pub kill: Option<Kill>,
    /// The verdict's outcome.
    pub outcome: Option<Outcome>,
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

/// When a line was recorded (its envelope's `ts`), in seconds since the
/// epoch.
fn ts(line: &Value) -> Option<f64> {
    let s = line.get("ts")?.as_str()?;
    let t = humantime::parse_rfc3339(s).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs_f64())
}

/// ` (pid N)`, or nothing without a pid.
fn pid_text(pid: Option<u32>) -> String {
    pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
}

/// One line of evidence for a telling event, and the layer that refused
/// (when it is a refusal); `None` for events that tell nothing here.
fn evidence(event: &Event) -> Option<(String, Option<&'static str>)> {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    Some(match event {
        Event::SysDenied(d) => (
            format!(
                "seccomp refused {}{}: {}",
                d.syscall,
                pid_text(Some(d.pid)),
                d.reason
            ),
            Some("seccomp"),
        ),
        Event::FileWrite(w) if !w.writable => (
            format!(
                "write refused: {} {}{}",
                w.op,
                opt(&w.path),
                pid_text(Some(w.pid))
            ),
            Some("filesystem"),
        ),
        Event::NetConnect(n) if n.decision != Decision::Allow => (
            format!(
                "proxy {}: {} {}:{}{}: {}",
                n.decision,
                n.via,
                n.host,
                n.port,
                pid_text(n.pid),
                opt(&n.reason)
            ),
            Some("proxy"),
        ),
        Event::DnsQuery(q) if q.decision != Decision::Allow => (
            format!(
                "proxy {}: DNS {} {}{}: {}",
                q.decision,
                opt(&q.qtype),
                q.host,
                pid_text(q.pid),
                opt(&q.reason)
            ),
            Some("resolver"),
        ),
        Event::SockConnect(c) => {
            let addr = opt(&c.addr);
            let local = addr.starts_with("127.") || addr.starts_with("[::1]");
            if !matches!(c.family.as_str(), "inet" | "inet6") || local {
                return None;
            }
            (
                format!("direct connect to {addr}{}", pid_text(Some(c.pid))),
                None,
            )
        }
        Event::SockListen(l) => (
            format!("listen on {}{}", opt(&l.addr), pid_text(Some(l.pid))),
            None,
        ),
        Event::SockSocket(s) => (
            format!(
                "socket of family {} type {}{}",
                s.family,
                s.socket_type,
                pid_text(Some(s.pid))
            ),
            None,
        ),
        Event::ResourceLimit(l) => (
            format!("{} limit hit: {}", l.limit, l.detail),
            Some("limits"),
        ),
        Event::FsProtected(p) => (format!("protected path {}: {}", p.change, p.path), None),
        Event::Finding(f) => (
            format!(
                "finding {} ({}, {}): {} -> {}",
                f.id, f.severity, f.technique, f.explanation, f.response
            ),
            None,
        ),
        Event::ResponseKill(k) => (
            format!(
                "corral ended the run ({}) for {} {} ms after its event",
                k.response, k.finding, k.latency_ms
            ),
            None,
        ),
        _ => return None,
    })
}

/// Reads what matters from a trail's lines (as parsed JSON: each line's
/// event is read as a typed [`Event`]; lines of kinds the judge does not
/// know, or that do not fit their kind, tell it nothing).
pub fn read_trail(lines: &[Value]) -> ScenarioTrail {
    let mut t = ScenarioTrail::default();
    for line in lines {
        let event = Event::from_line(line);
        match &event {
            Event::RunStart(_) => t.started = ts(line),
            Event::Finding(f) => t.findings.push(FindingSeen {
                id: f.id.clone(),
                severity: f.severity,
                technique: f.technique.clone(),
                explanation: f.explanation.clone(),
                response: f.response,
                t: ts(line).unwrap_or(0.0),
            }),
            Event::ResponseKill(k) if t.kill.is_none() => {
                t.kill = Some(Kill {
                    finding: k.finding.clone(),
                    response: k.response,
                    latency_ms: k.latency_ms,
                })
            }
            // A verdict of a build with detectors lists its findings (none
            // is an empty list); one without that list does not fit the
            // typed verdict and says nothing here.
            Event::Verdict(v) => {
                t.outcome = Some(v.outcome);
                t.detection_active = true;
            }
            _ => {}
        }
        if let Some((ev, layer)) = evidence(&event) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn telling_events_are_one_line_each_and_name_the_refusing_layer() {
        let lines = [
            json!({"kind": "file.write", "op": "open", "syscall": "openat", "path": "/etc/x",
                   "pid": 9, "writable": false}),
            json!({"kind": "file.write", "op": "open", "syscall": "openat", "path": "/work/x",
                   "pid": 9, "writable": true}),
            json!({"kind": "net.connect", "via": "socks5", "host": "pool.example", "port": 3333,
                   "decision": "deny", "reason": "mining protocol", "severity": "critical",
                   "bytes_up": 0, "bytes_down": 0, "duration_ms": 1.0,
                   "started": "2026-12-04T19:04:34.627428954Z"}),
            json!({"kind": "dns.query", "via": "dns-udp", "host": "x.example", "port": 0,
                   "qtype": "TXT", "pid": 8, "decision": "deny", "reason": "no rule allows it",
                   "severity": "warning", "bytes_up": 0, "bytes_down": 0, "duration_ms": 0.1,
                   "started": "2026-12-04T19:04:34.627428954Z"}),
            json!({"kind": "sock.connect", "fd": 3, "family": "inet", "addr": "127.0.0.1:80",
                   "pid": 9}),
            json!({"kind": "sock.connect", "fd": 3, "family": "inet", "addr": "192.0.2.1:22",
                   "pid": 9}),
            json!({"kind": "sock.socket", "family": "vsock", "type": 1, "pid": 9}),
            json!({"kind": "resource.limit", "limit": "pids", "detail": "forks refused",
                   "refused_forks": 3}),
        ];
        let t = read_trail(&lines);
        assert_eq!(
            t.evidence,
            [
                "write refused: open /etc/x (pid 9)",
                "proxy deny: socks5 pool.example:3333: mining protocol",
                "proxy deny: DNS TXT x.example (pid 8): no rule allows it",
                "direct connect to 192.0.2.1:22 (pid 9)",
                "socket of family vsock type 1 (pid 9)",
                "pids limit hit: forks refused",
            ]
        );
        assert_eq!(t.refusals, ["filesystem", "proxy", "resolver", "limits"]);
        assert_eq!(t.evidence_total, 6);
    }
}
