//! The `[network]` section compiled for the egress proxy: parsed endpoints,
//! deny rules and pins, and the questions the proxy asks of them ("is this
//! destination denied? which rules allow it? is this name pinned?").
//!
//! The syntax and its meaning are described on [`crate::model::Network`];
//! [`NetPolicy::compile`] runs the same checks as loading a policy file, so
//! a policy that loaded always compiles.

mod compile;
mod parse;
mod protocol;
mod special;

pub(crate) use compile::compile;
pub use parse::normalize_name;
pub(crate) use parse::{endpoint as parse_endpoint, pin as parse_pin};
pub use protocol::{Protocol, ProtocolError};
pub use special::special_range;

use crate::error::{Location, PolicyError};
use crate::model::Network;
use std::fmt;
use std::net::IpAddr;

/// The host part of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this name (normalized: lowercase, no trailing dot).
    Name(String),
    /// `*.suffix`: every name below `suffix`, at any depth, not `suffix`.
    Subdomains(String),
    /// `*`: every name (never an IP address).
    AnyName,
    /// Exactly this address.
    Ip(IpAddr),
    /// Every address in this network (no host bits set).
    Cidr(ipnet::IpNet),
}

/// The port part of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// No port in an allow entry: 80 and 443.
    Web,
    /// `*`.
    Any,
    One(u16),
    /// `LOW-HIGH`, both included, LOW <= HIGH.
    Range(u16, u16),
    /// No port in a deny entry: every port.
    Every,
}

impl Ports {
    pub fn contains(self, port: u16) -> bool {
        match self {
            Ports::Web => port == 80 || port == 443,
            Ports::Any | Ports::Every => true,
            Ports::One(p) => port == p,
            Ports::Range(low, high) => (low..=high).contains(&port),
        }
    }
}

/// A host pattern and its ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: HostPattern,
    pub ports: Ports,
}

/// A destination as the proxy sees it: the name the client asked for, or
/// the address it connects to. A name that is an IP literal must be given
/// as [`Dest::Ip`]; a name that is not a valid DNS name matches no rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest<'a> {
    Name(&'a str),
    Ip(IpAddr),
}

impl Endpoint {
    /// Allow semantics: names match name patterns; addresses match address
    /// patterns, an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4.
    pub fn matches(&self, dest: Dest<'_>, port: u16) -> bool {
        self.ports.contains(port)
            && match dest {
                Dest::Name(name) => normalize_name(name).is_some_and(|n| self.matches_name(&n)),
                Dest::Ip(addr) => self.matches_addr(addr) || self.matches_addr(addr.to_canonical()),
            }
    }

    /// Deny semantics, broader than [`Endpoint::matches`]: an IPv6 address
    /// that embeds an IPv4 one (mapped, compatible, NAT64, 6to4) also
    /// matches as that IPv4 address.
    fn matches_broadly(&self, dest: Dest<'_>, port: u16) -> bool {
        self.matches(dest, port)
            || match dest {
                Dest::Ip(IpAddr::V6(addr)) => special::embedded_v4(addr)
                    .is_some_and(|v4| self.ports.contains(port) && self.matches_addr(v4.into())),
                _ => false,
            }
    }

    /// `name` is normalized.
    fn matches_name(&self, name: &str) -> bool {
        match &self.host {
            HostPattern::Name(n) => n == name,
            HostPattern::Subdomains(suffix) => name
                .strip_suffix(suffix.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            HostPattern::AnyName => true,
            HostPattern::Ip(_) | HostPattern::Cidr(_) => false,
        }
    }

    fn matches_addr(&self, addr: IpAddr) -> bool {
        match &self.host {
            HostPattern::Ip(ip) => ip.to_canonical() == addr,
            HostPattern::Cidr(net) => net.contains(&addr),
            _ => false,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Name(name) => f.write_str(name),
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}"),
            HostPattern::AnyName => f.write_str("*"),
            HostPattern::Ip(ip) => write!(f, "{ip}"),
            HostPattern::Cidr(net) => write!(f, "{net}"),
        }
    }
}

impl fmt::Display for Endpoint {
    /// The canonical form: `github.com:22`, `[::1]:8080`, `pypi.org` (no
    /// port for [`Ports::Web`] and [`Ports::Every`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = match self.ports {
            Ports::Web | Ports::Every => return write!(f, "{}", self.host),
            Ports::Any => "*".to_owned(),
            Ports::One(p) => p.to_string(),
            Ports::Range(low, high) => format!("{low}-{high}"),
        };
        match &self.host {
            HostPattern::Ip(IpAddr::V6(_)) | HostPattern::Cidr(ipnet::IpNet::V6(_)) => {
                write!(f, "[{}]:{port}", self.host)
            }
            host => write!(f, "{host}:{port}"),
        }
    }
}

/// An allow entry (from `allow` or a `rules` key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    pub endpoint: Endpoint,
    /// Never empty, no repeats.
    pub protocols: Vec<Protocol>,
    /// The entry as the user wrote it.
    pub text: String,
}

/// A deny entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyRule {
    pub endpoint: Endpoint,
    pub reason: Option<String>,
    /// The `host` as the user wrote it.
    pub text: String,
}

/// A `resolve` pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Normalized name.
    pub host: String,
    /// `None`: any port (`*`).
    pub port: Option<u16>,
    /// Never empty.
    pub addrs: Vec<IpAddr>,
    /// The pin as the user wrote it.
    pub text: String,
}

/// The compiled `[network]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetPolicy {
    /// The `allow` entries in order, then the `rules` keys not in `allow`.
    pub allow: Vec<AllowRule>,
    pub deny: Vec<DenyRule>,
    pub pins: Vec<Pin>,
}

impl NetPolicy {
    /// Compiles `net`, with the same checks as loading a policy file. Errors
    /// name the key (`network.allow[2]`) but no line: the policy may come
    /// from several files and flags.
    pub fn compile(net: &Network) -> Result<NetPolicy, PolicyError> {
        compile(net).map_err(|issue| PolicyError::Invalid {
            at: Location {
                origin: "policy".to_owned(),
                line_col: None,
            },
            key: issue.dotted(),
            problem: issue.problem.clone(),
            expected: issue.expected_text(),
        })
    }

    /// No allow rule: no network at all.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty()
    }

    /// The first deny rule that matches. Name rules only see names and
    /// address rules only addresses, so ask for the name the client asked
    /// for and for every address it is connected to. Addresses are matched
    /// broadly: an IPv6 address that embeds an IPv4 one (mapped, compatible,
    /// NAT64, 6to4) is also matched as that IPv4 address.
    pub fn denied(&self, dest: Dest<'_>, port: u16) -> Option<&DenyRule> {
        self.deny
            .iter()
            .find(|rule| rule.endpoint.matches_broadly(dest, port))
    }

    /// Every allow rule that matches, in order (deny rules are not looked at:
    /// ask [`NetPolicy::denied`] first).
    pub fn allowed(&self, dest: Dest<'_>, port: u16) -> Vec<&AllowRule> {
        self.allow
            .iter()
            .filter(|rule| rule.endpoint.matches(dest, port))
            .collect()
    }

    /// The pin for exactly this name (normalized) and this port or `*`.
    /// Pins are appended profile, file, flags: the last match wins, so a
    /// `--resolve` flag overrides the policy file's pin.
    pub fn pinned(&self, host: &str, port: u16) -> Option<&Pin> {
        let host = normalize_name(host)?;
        self.pins
            .iter()
            .rev()
            .find(|pin| pin.host == host && pin.port.is_none_or(|p| p == port))
    }

    /// Whether DNS should answer for `name`: some allow rule's host pattern
    /// matches it (on any port) and no deny rule for every port does.
    pub fn name_visible(&self, name: &str) -> bool {
        let Some(name) = normalize_name(name) else {
            return false;
        };
        let allowed = self.allow.iter().any(|r| r.endpoint.matches_name(&name));
        let denied = self.deny.iter().any(|r| {
            matches!(r.endpoint.ports, Ports::Every | Ports::Any) && r.endpoint.matches_name(&name)
        });
        allowed && !denied
    }

    /// The allow rules as written, at most `max` of them:
    /// `"api.anthropic.com:443, pypi.org and 3 more"`; `"nothing"` when empty.
    pub fn summary(&self, max: usize) -> String {
        let texts: Vec<&str> = self.allow.iter().map(|r| r.text.as_str()).collect();
        match (texts.len(), max) {
            (0, _) => "nothing".to_owned(),
            (n, 0) => format!("{n} allow rules"),
            (n, max) if n <= max => texts.join(", "),
            (n, max) => format!("{} and {} more", texts[..max].join(", "), n - max),
        }
    }
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
