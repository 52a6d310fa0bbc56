//! What the proxy reports: one event per connection attempt and per DNS
//! query, allowed or not. The audit trail (and, until it lands, the
//! `--net-log` file and the denial lines on stderr) are built from these.

use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

/// How the sandbox asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// `CONNECT host:port` on the HTTP proxy port.
    HttpConnect,
    /// A plain-HTTP request in absolute form (`GET http://host/...`).
    HttpForward,
    /// SOCKS5 CONNECT.
    Socks5,
    /// A DNS query over UDP.
    DnsUdp,
    /// A DNS query over TCP.
    DnsTcp,
}

impl Via {
    /// The word used in denial lines: `denied CONNECT host:port`.
    pub fn verb(self) -> &'static str {
        match self {
            Via::HttpConnect => "CONNECT",
            Via::HttpForward => "HTTP request to",
            Via::Socks5 => "SOCKS5 connection to",
            Via::DnsUdp | Via::DnsTcp => "DNS query for",
        }
    }
}

/// The proxy's verdict on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Allowed by the policy (the tunnel was opened, the name answered).
    Allow,
    /// Refused by the policy or by what the client sent.
    Deny,
    /// Allowed, but it failed: the name did not resolve, the upstream
    /// refused or timed out, the client broke the protocol.
    Error,
}

/// How bad it is. `Critical` is for behaviour no policy may allow
/// (mining); detectors (issue 5) act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// One connection attempt or DNS query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetEvent {
    /// When the attempt started (RFC 3339, nanoseconds, UTC).
    pub ts: String,
    pub kind: &'static str,
    pub via: Via,
    /// The sandboxed process that connected, when it could be found (a
    /// host pid; telemetry only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The host as the client named it (a DNS name or an address).
    pub host: String,
    /// The port asked for (0 for DNS queries).
    pub port: u16,
    /// DNS query type (`A`, `TXT`, ...), for DNS events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qtype: Option<String>,
    /// Addresses the name resolved to (for DNS events: the answer).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addrs: Vec<IpAddr>,
    /// The upstream address actually connected to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<SocketAddr>,
    pub decision: Decision,
    /// The policy entry that decided, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why, in plain words (for denials and errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The protocol seen in the client's first bytes: `tls`, `http`,
    /// `ssh`, `stratum`, `other`, or none when it sent nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
    /// TLS server name, SSH banner, HTTP Host or mining method seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub severity: Severity,
    /// Bytes from the sandbox to the upstream.
    pub bytes_up: u64,
    /// Bytes from the upstream to the sandbox.
    pub bytes_down: u64,
    /// From the attempt's start to its end, in milliseconds.
    pub duration_ms: f64,
}

impl NetEvent {
    pub(crate) fn new(kind: &'static str, via: Via, host: String, port: u16) -> NetEvent {
        NetEvent {
            ts: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
            kind,
            via,
            pid: None,
            host,
            port,
            qtype: None,
            addrs: Vec::new(),
            upstream: None,
            decision: Decision::Allow,
            rule: None,
            reason: None,
            protocol: None,
            detail: None,
            severity: Severity::Info,
            bytes_up: 0,
            bytes_down: 0,
            duration_ms: 0.0,
        }
    }

    /// `host:port`, with brackets around an IPv6 address; just the host
    /// for DNS queries.
    pub fn target(&self) -> String {
        match (self.port, self.host.contains(':')) {
            (0, _) => self.host.clone(),
            (p, true) => format!("[{}]:{p}", self.host),
            (p, false) => format!("{}:{p}", self.host),
        }
    }

    /// The one-line message for a denial or an error, as printed on
    /// corral's stderr and sent to the client where the protocol has room.
    /// What the sandbox chose (a SOCKS host name, say) has its control
    /// characters escaped, so it cannot rewrite or forge a terminal line.
    pub fn line(&self) -> String {
        printable(&self.raw_line())
    }

    fn raw_line(&self) -> String {
        let what = match self.decision {
            Decision::Allow => "allowed",
            Decision::Deny => "denied",
            Decision::Error => "failed",
        };
        let mut line = format!("{what} {} {}", self.via.verb(), self.target());
        if let Some(q) = &self.qtype {
            line = format!("{line} ({q})");
        }
        if let Some(reason) = &self.reason {
            line.push_str(" - ");
            line.push_str(reason);
        }
        line
    }
}

pub use corral_policy::printable;

/// Where events go. Called from the proxy's threads; must not block long.
pub type Sink = Box<dyn Fn(NetEvent) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_escape_what_the_sandbox_chose() {
        let mut ev = NetEvent::new(
            "net.connect",
            Via::Socks5,
            "x\r\u{1b}[2Kcorral: allowed\nforged".into(),
            443,
        );
        ev.decision = Decision::Deny;
        ev.reason = Some("no rule allows it".into());
        let line = ev.line();
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(
            line.contains(r"x\r\u{1b}[2Kcorral: allowed\nforged"),
            "{line}"
        );
    }
}
