//! The egress proxy's events: `net.connect` (one per connection attempt)
//! and `dns.query` (one per DNS query), allowed or not.
//!
//! Both have the same fields: those of the proxy's `NetEvent`, with its
//! `ts` (the attempt's start) written as `started` (the line's own `ts` is
//! when the event was recorded) and its `kind` as the line's `kind`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};

/// How the sandbox asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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

/// The proxy's verdict on one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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

/// How bad a network event is (the proxy's scale, not a finding's).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum NetSeverity {
    /// Nothing remarkable.
    Info,
    /// Worth a look.
    Warning,
    /// Behaviour no policy may allow (mining): it flags the run.
    Critical,
}

/// Declares a proxy event struct (`net.connect` and `dns.query` share
/// their fields).
macro_rules! net_event {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        pub struct $name {
            /// Addresses the name resolved to (for `dns.query`: the answer);
            /// absent when none.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub addrs: Vec<IpAddr>,
            /// Bytes from the upstream to the sandbox.
            pub bytes_down: u64,
            /// Bytes from the sandbox to the upstream.
            pub bytes_up: u64,
            /// Allowed, denied, or allowed but failed.
            pub decision: Decision,
            /// What the first bytes said: the TLS server name, the SSH
            /// banner, the HTTP Host, or the mining method.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub detail: Option<String>,
            /// From the attempt's start to its end, in milliseconds.
            pub duration_ms: f64,
            /// The host as the client named it (a DNS name or an address).
            pub host: String,
            /// The sandboxed process that connected, when it could be found
            /// (a host pid; telemetry only).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub pid: Option<u32>,
            /// The port asked for (0 for DNS queries).
            pub port: u16,
            /// The protocol seen in the client's first bytes: `tls`, `http`,
            /// `ssh`, `stratum`, `other`; absent when it sent nothing.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub protocol: Option<String>,
            /// The DNS query type (`A`, `AAAA`, `TXT`, ...), for DNS events.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub qtype: Option<String>,
            /// Why, in plain words (for denials and errors).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub reason: Option<String>,
            /// The policy entry that decided, as written.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub rule: Option<String>,
            /// How bad it is.
            pub severity: NetSeverity,
            /// When the attempt started (RFC 3339, UTC, nanoseconds): the
            /// proxy event's `ts`.
            pub started: String,
            /// The upstream address actually connected to.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub upstream: Option<SocketAddr>,
            /// How the sandbox asked.
            pub via: Via,
        }
    };
}

net_event! {
    /// `net.connect`: a connection attempt through the egress proxy (HTTP
    /// CONNECT, a plain-HTTP request, SOCKS5).
    NetConnect
}

net_event! {
    /// `dns.query`: a DNS query the sandbox made to the proxy's resolver
    /// (`host` is the name, `qtype` its type, `addrs` the answer, `port` 0).
    DnsQuery
}
