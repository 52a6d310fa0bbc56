//! What the proxy reports: one event per connection attempt and per DNS
//! query, allowed or not. The audit trail's typed events
//! ([`NetEvent::to_event`]), the `--net-log` file and the denial lines on
//! stderr are built from these.

use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

pub use corral_event::{Decision, NetSeverity, Via};
use corral_event::{DnsQuery, Event, NetConnect};

/// The word used in denial lines: `denied CONNECT host:port`.
fn verb(via: Via) -> &'static str {
    match via {
        Via::HttpConnect => "CONNECT",
        Via::HttpForward => "HTTP request to",
        Via::Socks5 => "SOCKS5 connection to",
        Via::DnsUdp | Via::DnsTcp => "DNS query for",
    }
}

/// Which of the trail's kinds an attempt is (written as the kind's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NetKind {
    /// A connection attempt: `net.connect`.
    #[serde(rename = "net.connect")]
    Connect,
    /// A DNS query: `dns.query`.
    #[serde(rename = "dns.query")]
    Dns,
}

/// One connection attempt or DNS query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NetEvent {
    /// When the attempt started (RFC 3339, nanoseconds, UTC).
    pub ts: String,
    /// `net.connect` or `dns.query`.
    pub kind: NetKind,
    /// How the sandbox asked.
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
    /// Allowed, denied, or allowed but failed.
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
    /// How bad it is: `critical` is for behaviour no policy may allow
    /// (mining), and flags the run.
    pub severity: NetSeverity,
    /// Bytes from the sandbox to the upstream.
    pub bytes_up: u64,
    /// Bytes from the upstream to the sandbox.
    pub bytes_down: u64,
    /// From the attempt's start to its end, in milliseconds.
    pub duration_ms: f64,
}

impl NetEvent {
    pub(crate) fn new(kind: NetKind, via: Via, host: String, port: u16) -> NetEvent {
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
            severity: NetSeverity::Info,
            bytes_up: 0,
            bytes_down: 0,
            duration_ms: 0.0,
        }
    }

    /// The trail's event for this attempt (`net.connect` or `dns.query`):
    /// the same fields, with the attempt's start `ts` as `started` (the
    /// trail line's own `ts` is when it was recorded).
    pub fn to_event(&self) -> Event {
        /// The typed event: both kinds have the same fields.
        macro_rules! typed {
            ($ty:ident) => {
                Event::from($ty {
                    addrs: self.addrs.clone(),
                    bytes_down: self.bytes_down,
                    bytes_up: self.bytes_up,
                    decision: self.decision,
                    detail: self.detail.clone(),
                    duration_ms: self.duration_ms,
                    host: self.host.clone(),
                    pid: self.pid,
                    port: self.port,
                    protocol: self.protocol.map(str::to_owned),
                    qtype: self.qtype.clone(),
                    reason: self.reason.clone(),
                    rule: self.rule.clone(),
                    severity: self.severity,
                    started: self.ts.clone(),
                    upstream: self.upstream,
                    via: self.via,
                })
            };
        }
        match self.kind {
            NetKind::Connect => typed!(NetConnect),
            NetKind::Dns => typed!(DnsQuery),
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
        let mut line = format!("{what} {} {}", verb(self.via), self.target());
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
            NetKind::Connect,
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

    /// The trail's details, as they were made by hand before the typed
    /// events: the event serialised, `ts` renamed `started`, `kind` removed.
    fn by_hand(ev: &NetEvent) -> serde_json::Map<String, serde_json::Value> {
        let Ok(serde_json::Value::Object(mut details)) = serde_json::to_value(ev) else {
            panic!("an event is an object");
        };
        if let Some(ts) = details.remove("ts") {
            details.insert("started".into(), ts);
        }
        details.remove("kind");
        details
    }

    #[test]
    fn typed_events_are_the_details_made_by_hand() {
        let mut connect = NetEvent::new(NetKind::Connect, Via::HttpConnect, "pypi.org".into(), 443);
        connect.pid = Some(1362);
        connect.addrs = vec!["151.101.0.223".parse().expect("ip")];
        connect.upstream = Some("151.101.0.223:443".parse().expect("addr"));
        connect.rule = Some("pypi.org".into());
        connect.protocol = Some("tls");
        connect.detail = Some("pypi.org".into());
        connect.bytes_up = 517;
        connect.bytes_down = 5120;
        connect.duration_ms = 0.5931649999999999;
        let mut dns = NetEvent::new(NetKind::Dns, Via::DnsUdp, "pool.example".into(), 0);
        dns.qtype = Some("TXT".into());
        dns.decision = Decision::Deny;
        dns.reason = Some("no rule allows it".into());
        dns.severity = NetSeverity::Warning;
        for (ev, kind) in [(connect, "net.connect"), (dns, "dns.query")] {
            let event = ev.to_event();
            assert!(!event.is_unknown(), "{event:?}");
            let (typed_kind, details) = event.to_details();
            assert_eq!(typed_kind, kind);
            assert_eq!(
                serde_json::to_string(&details).expect("json"),
                serde_json::to_string(&by_hand(&ev)).expect("json")
            );
        }
    }
}
