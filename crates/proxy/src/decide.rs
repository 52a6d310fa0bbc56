//! From "the sandbox wants host:port" to either the addresses to connect
//! to and the rules that allow it, or a refusal that explains itself.
//!
//! Order: deny rules on the name; allow rules on the name; resolution (a
//! pinned name at its pinned addresses, else the host's resolver); deny
//! rules on each address; then every address in a local or private range
//! is dropped unless the name was pinned or an IP rule allows that address
//! (so a name that resolves to 127.0.0.1 or 169.254.169.254 is refused:
//! DNS rebinding). An IP literal needs an IP rule.

use corral_policy::net::{self, AllowRule, Dest, NetPolicy, Protocol};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long the host's resolver may take for one name.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A destination as the client named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Host {
    /// Parses what a client sent: a DNS name, an IPv4 address, or an IPv6
    /// address with or without brackets. `None` for anything else.
    pub fn parse(s: &str) -> Option<Host> {
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Some(Host::Ip(canonical(ip)));
        }
        net::normalize_name(s).map(Host::Name)
    }

    pub fn as_dest(&self) -> Dest<'_> {
        match self {
            Host::Name(n) => Dest::Name(n),
            Host::Ip(ip) => Dest::Ip(*ip),
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 address: rules and ranges
/// see it as such.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// What the policy allows for this destination.
#[derive(Debug, Clone)]
pub struct Allowed {
    /// Where to connect, in order.
    pub addrs: Vec<SocketAddr>,
    /// Every allow rule that matched (their protocols are united).
    pub rules: Vec<AllowRule>,
    /// All the addresses the name resolved to (for the event).
    pub resolved: Vec<IpAddr>,
}

impl Allowed {
    /// The first rule allowing `protocol` (or any protocol).
    pub fn rule_for(&self, protocol: Protocol) -> Option<&AllowRule> {
        self.rules
            .iter()
            .find(|r| r.protocols.contains(&protocol) || r.protocols.contains(&Protocol::Any))
    }

    /// The protocols the matching rules allow, for messages.
    pub fn protocols(&self) -> String {
        let mut all: Vec<Protocol> = self
            .rules
            .iter()
            .flat_map(|r| r.protocols.clone())
            .collect();
        all.sort();
        all.dedup();
        all.iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// In plain words, for the agent and the log.
    pub reason: String,
    /// The rule that refused, when one did (else the default: no rule).
    pub rule: Option<String>,
    /// Addresses the name resolved to, if it got that far.
    pub resolved: Vec<IpAddr>,
    /// A policy decision (`true`) or a failure such as an unresolvable
    /// name (`false`).
    pub denied: bool,
}

impl Refusal {
    fn deny(reason: String, rule: Option<String>) -> Refusal {
        Refusal {
            reason,
            rule,
            resolved: Vec::new(),
            denied: true,
        }
    }
}

/// The policy's deny reason, or a default naming the rule.
pub(crate) fn deny_reason(rule: &net::DenyRule) -> String {
    match &rule.reason {
        Some(r) => format!("{r} (deny rule {:?})", rule.text),
        None => format!("deny rule {:?} refuses it", rule.text),
    }
}

/// Why an address is never a destination, whatever the rules: "this
/// host" (0.0.0.0/8, `::`) reaches the proxy's own machine.
fn never(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.octets()[0] == 0 => Some("\"this host\" (0.0.0.0/8)"),
        IpAddr::V6(v6) if v6.is_unspecified() => Some("\"this host\" (::)"),
        _ => None,
    }
}

/// Decides `host:port`. `local` holds the addresses of the machine the
/// proxy runs on: reached like loopback, so treated like it.
pub async fn decide(
    policy: &NetPolicy,
    local: &[IpAddr],
    host: &Host,
    port: u16,
) -> Result<Allowed, Refusal> {
    if let Host::Ip(ip) = host {
        if let Some(what) = never(*ip) {
            return Err(Refusal::deny(
                format!("{ip} is {what}, which reaches corral's own machine; it is never allowed"),
                None,
            ));
        }
    }
    if let Some(rule) = policy.denied(host.as_dest(), port) {
        return Err(Refusal::deny(deny_reason(rule), Some(rule.text.clone())));
    }
    let rules: Vec<AllowRule> = policy
        .allowed(host.as_dest(), port)
        .into_iter()
        .cloned()
        .collect();
    if rules.is_empty() {
        let why = match host {
            Host::Ip(_) => "an address needs an IP or CIDR rule, and none allows it",
            Host::Name(_) => "no rule allows it",
        };
        return Err(Refusal::deny(
            format!("{why} (allowed: {})", policy.summary(6)),
            None,
        ));
    }
    let (resolved, trusted) = match host {
        Host::Ip(ip) => (vec![*ip], true),
        Host::Name(name) => match policy.pinned(name, port) {
            Some(pin) => (pin.addrs.iter().map(|a| canonical(*a)).collect(), true),
            None => (resolve(name, port).await?, false),
        },
    };
    let mut addrs = Vec::new();
    let mut dropped: Option<(IpAddr, &'static str)> = None;
    for ip in &resolved {
        if never(*ip).is_some() {
            dropped.get_or_insert((*ip, "\"this host\""));
            continue;
        }
        if let Some(rule) = policy.denied(Dest::Ip(*ip), port) {
            let mut r = Refusal::deny(
                format!("{host} resolves to {ip}, and {}", deny_reason(rule)),
                Some(rule.text.clone()),
            );
            r.resolved = resolved.clone();
            return Err(r);
        }
        if !trusted {
            let range = net::special_range(*ip).or_else(|| {
                local
                    .contains(ip)
                    .then_some("an address of corral's own machine")
            });
            if let Some(range) = range {
                if policy.allowed(Dest::Ip(*ip), port).is_empty() {
                    dropped.get_or_insert((*ip, range));
                    continue;
                }
            }
        }
        addrs.push(SocketAddr::new(*ip, port));
    }
    if addrs.is_empty() {
        let reason = match dropped {
            Some((ip, range)) => format!(
                "{host} resolves to {ip} ({range}); local and private addresses are reached only \
                 through an IP or CIDR rule, never through a name (DNS rebinding)"
            ),
            None => format!("{host} has no address"),
        };
        let mut r = Refusal::deny(reason, None);
        r.resolved = resolved;
        return Err(r);
    }
    Ok(Allowed {
        addrs,
        rules,
        resolved,
    })
}

/// The host's resolver (getaddrinfo, on tokio's blocking pool).
pub async fn resolve(name: &str, port: u16) -> Result<Vec<IpAddr>, Refusal> {
    let failed = |why: String| Refusal {
        reason: format!("cannot resolve {name}: {why}"),
        rule: None,
        resolved: Vec::new(),
        denied: false,
    };
    // A name without a dot would be completed with the host's search
    // domains (its internal names). (A trailing dot would prevent that,
    // but glibc then skips /etc/hosts.)
    if !name.contains('.') {
        return Err(failed(
            "a single-label name would be completed by this machine's search domains; \
             pin it with --resolve or use a full name"
                .into(),
        ));
    }
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port))).await;
    match found {
        Err(_) => Err(failed(format!(
            "no answer within {} s",
            RESOLVE_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Ok(Ok(found)) => {
            let mut ips: Vec<IpAddr> = Vec::new();
            for a in found {
                let ip = canonical(a.ip());
                if !ips.contains(&ip) {
                    ips.push(ip);
                }
            }
            Ok(ips)
        }
    }
}
