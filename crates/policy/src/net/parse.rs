//! Parsing `[network]` entries: `HOST[:PORT]` endpoints, `resolve` pins,
//! deny reasons and protocol lists. Every failure says what is wrong with
//! the text as written and what to write instead.

use super::{Endpoint, HostPattern, Pin, Ports, Protocol};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest DNS name, without the trailing dot.
const MAX_NAME: usize = 253;
/// The longest DNS label.
const MAX_LABEL: usize = 63;

const EXPECTED_HOST: &str = "expected HOST[:PORT] where HOST is a DNS name such as \
     \"pypi.org\", \"*.example.com\" (every subdomain), \"*\" (every name), an IP address or a \
     CIDR such as \"10.1.2.0/24\" (IPv6 with a port in brackets: \"[::1]:8080\")";
const EXPECTED_PORT: &str =
    "expected a port from 1 to 65535, a range such as 8000-8100, or * for every port";
const EXPECTED_PIN: &str = "expected HOST:PORT:ADDR[,ADDR...] as for curl --resolve, e.g. \
     \"git.test:8080:127.0.0.1\" or \"mirror.local:*:10.0.0.5,10.0.0.6\" (PORT may be *)";

/// What is wrong ("\"x\" is ...") and what to write instead ("expected ...").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub problem: String,
    pub expected: String,
}

fn problem(problem: String, expected: &str) -> Problem {
    Problem {
        problem,
        expected: expected.to_owned(),
    }
}

/// `"text"` when the part is the whole text, else `"text": "part"`.
fn subject(text: &str, part: &str) -> String {
    if text == part {
        format!("{text:?}")
    } else {
        format!("{text:?}: {part:?}")
    }
}

/// `HOST[:PORT]`; `default` is the ports of an entry without one
/// ([`Ports::Web`] for allow entries, [`Ports::Every`] for deny entries).
pub(crate) fn endpoint(text: &str, default: Ports) -> Result<Endpoint, Problem> {
    if text.is_empty() {
        return Err(problem("the entry is empty".to_owned(), EXPECTED_HOST));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem(
            format!("{text:?} contains whitespace or a control character"),
            EXPECTED_HOST,
        ));
    }
    if let Some(inner) = text.strip_prefix('[') {
        return bracketed(text, inner, default);
    }
    if text.matches(':').count() > 1 {
        let before_colon = text.split(':').next().unwrap_or_default();
        if before_colon.contains('.') {
            // Not IPv6 (a dotted quad can only end one): `pypi.org:443:1`.
            return Err(problem(
                format!("{text:?} has more than one ':'"),
                EXPECTED_HOST,
            ));
        }
        let host = ipv6_host(text).ok_or_else(|| {
            problem(
                format!("{text:?} is not an IPv6 address or CIDR"),
                "expected an IPv6 address or CIDR such as \"fd00::/8\"; to add a port, put the \
                 address in brackets: \"[fd00::/8]:5432\"",
            )
        })?;
        return Ok(Endpoint {
            host,
            ports: default,
        });
    }
    let (host, ports) = match text.split_once(':') {
        Some((host, port)) => (host, ports(text, port)?),
        None => (text, default),
    };
    if host.is_empty() {
        return Err(problem(format!("{text:?} has no host"), EXPECTED_HOST));
    }
    Ok(Endpoint {
        host: host_pattern(text, host)?,
        ports,
    })
}

/// `[IPV6]` or `[IPV6]:PORT`, `inner` being the text after `[`.
fn bracketed(text: &str, inner: &str, default: Ports) -> Result<Endpoint, Problem> {
    let expected = "expected an IPv6 address or CIDR in brackets, then an optional :PORT, \
                    e.g. \"[::1]:8080\" or \"[fd00::/8]:5432\"";
    let (host, rest) = inner
        .split_once(']')
        .ok_or_else(|| problem(format!("{text:?} has no closing ']'"), expected))?;
    let ports = match rest {
        "" => default,
        _ => match rest.strip_prefix(':') {
            Some(port) => ports(text, port)?,
            None => {
                return Err(problem(
                    format!("{text:?} has {rest:?} after ']' instead of :PORT"),
                    expected,
                ))
            }
        },
    };
    let host = ipv6_host(host).ok_or_else(|| {
        let why = if host.parse::<Ipv4Addr>().is_ok() || host.contains('.') {
            "brackets are only for IPv6 addresses; write an IPv4 address or a name without them, \
             e.g. \"192.0.2.7:22\""
        } else {
            expected
        };
        problem(
            format!("{text:?}: {host:?} is not an IPv6 address or CIDR"),
            why,
        )
    })?;
    Ok(Endpoint { host, ports })
}

fn ipv6_host(text: &str) -> Option<HostPattern> {
    if text.contains('/') {
        match text.parse::<ipnet::IpNet>() {
            Ok(net @ ipnet::IpNet::V6(_)) if net.trunc() == net => Some(HostPattern::Cidr(net)),
            _ => None,
        }
    } else {
        text.parse::<Ipv6Addr>()
            .ok()
            .map(|a| HostPattern::Ip(IpAddr::V6(a)))
    }
}

/// The host of a `HOST[:PORT]` entry without brackets: an IPv4 address or
/// CIDR, `*`, `*.suffix` or a name.
fn host_pattern(text: &str, host: &str) -> Result<HostPattern, Problem> {
    if host.contains('/') {
        return cidr(text, host);
    }
    if let Ok(addr) = host.parse::<Ipv4Addr>() {
        return Ok(HostPattern::Ip(IpAddr::V4(addr)));
    }
    if host == "*" {
        return Ok(HostPattern::AnyName);
    }
    let (wild, name) = match host.strip_prefix("*.") {
        Some(suffix) => (true, suffix),
        None => (false, host),
    };
    if name.contains('*') {
        return Err(problem(
            format!("{text:?}: '*' may only be the whole first label"),
            "expected \"*.example.com\" (every subdomain), \"*\" (every name) or an exact name",
        ));
    }
    let name = check_name(name).map_err(|why| {
        problem(
            format!("{} is not a valid host name: {why}", subject(text, name)),
            "expected a DNS name of ASCII letters, digits, '-' and '.' (labels of 1 to 63 \
             characters, at most 253 in all), \"*.suffix\", \"*\", an IP address or a CIDR",
        )
    })?;
    Ok(if wild {
        HostPattern::Subdomains(name)
    } else {
        HostPattern::Name(name)
    })
}

/// An IPv4 CIDR (IPv6 ones come through [`ipv6_host`]).
fn cidr(text: &str, host: &str) -> Result<HostPattern, Problem> {
    match host.parse::<ipnet::IpNet>() {
        Ok(net @ ipnet::IpNet::V4(_)) if net.trunc() == net => Ok(HostPattern::Cidr(net)),
        Ok(net @ ipnet::IpNet::V4(_)) => Err(problem(
            format!("{text:?}: {host} has bits set after the prefix"),
            &format!("expected the network's first address: \"{}\"", net.trunc()),
        )),
        _ => Err(problem(
            format!("{} is not a valid CIDR", subject(text, host)),
            "expected ADDRESS/PREFIX such as \"10.1.2.0/24\" (a prefix of at most 32 for \
             IPv4, 128 for IPv6)",
        )),
    }
}

/// The text after `:` in `text`.
fn ports(text: &str, port: &str) -> Result<Ports, Problem> {
    if port == "*" {
        return Ok(Ports::Any);
    }
    if let Some((low, high)) = port.split_once('-') {
        let (low, high) = (one_port(text, low)?, one_port(text, high)?);
        if low > high {
            return Err(problem(
                format!("{text:?}: port range {port} goes downwards"),
                EXPECTED_PORT,
            ));
        }
        return Ok(Ports::Range(low, high));
    }
    one_port(text, port).map(Ports::One)
}

fn one_port(text: &str, port: &str) -> Result<u16, Problem> {
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => Err(problem(
            format!("{text:?}: port {port} is out of range"),
            EXPECTED_PORT,
        )),
        _ => Err(problem(
            format!("{text:?}: port {port:?} is not a number"),
            EXPECTED_PORT,
        )),
    }
}

/// The name lowercased, without one trailing dot, if it is a valid DNS
/// name: ASCII letters, digits, `-` and `.`, labels of 1 to 63 characters,
/// at most 253 in all, and a last label that is not all digits (so that
/// `127.1`, which some resolvers read as 127.0.0.1, is not a name).
pub fn normalize_name(s: &str) -> Option<String> {
    check_name(s).ok()
}

fn check_name(s: &str) -> Result<String, String> {
    let name = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    if name.is_empty() {
        return Err("it is empty".to_owned());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "it is {} characters long (at most {MAX_NAME})",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(format!("{c:?} is not allowed"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label".to_owned());
        }
        if label.len() > MAX_LABEL {
            return Err(format!(
                "label {label:?} is {} characters long (at most {MAX_LABEL})",
                label.len()
            ));
        }
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("its last label is a number (write a full IPv4 address instead)".to_owned());
    }
    Ok(name)
}

/// `HOST:PORT:ADDR[,ADDR...]`, PORT a number or `*`, IPv6 addresses with
/// or without brackets.
pub(crate) fn pin(text: &str) -> Result<Pin, Problem> {
    let shape = || {
        problem(
            format!("{text:?} is not HOST:PORT:ADDR[,ADDR...]"),
            EXPECTED_PIN,
        )
    };
    let (host, rest) = text.split_once(':').ok_or_else(shape)?;
    let (port, addrs) = rest.split_once(':').ok_or_else(shape)?;
    if host.is_empty() || port.is_empty() || addrs.is_empty() {
        return Err(shape());
    }
    let host = check_name(host).map_err(|why| {
        let why = if host.contains('*') {
            "a pin names one host, not a pattern".to_owned()
        } else if host.parse::<IpAddr>().is_ok() {
            "a pin gives a name its addresses; an address needs none".to_owned()
        } else {
            why
        };
        problem(
            format!("{text:?}: {host:?} is not a valid host name: {why}"),
            EXPECTED_PIN,
        )
    })?;
    let port = match port {
        "*" => None,
        _ => Some(one_port(text, port).map_err(|p| problem(p.problem, EXPECTED_PIN))?),
    };
    let addrs = addrs
        .split(',')
        .map(|addr| {
            let bare = addr
                .strip_prefix('[')
                .and_then(|a| a.strip_suffix(']'))
                .unwrap_or(addr);
            bare.parse::<IpAddr>().map_err(|_| {
                problem(
                    format!("{text:?}: {addr:?} is not an IP address"),
                    EXPECTED_PIN,
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Pin {
        host,
        port,
        addrs,
        text: text.to_owned(),
    })
}

/// A deny reason: shown to the command, so one line of printable text.
pub(crate) fn reason(reason: &str) -> Result<(), Problem> {
    let expected = "expected one line of text saying why, e.g. reason = \"no code leaves \
                    through gists\", or no reason key at all";
    if reason.trim().is_empty() {
        Err(problem("the reason is empty".to_owned(), expected))
    } else if reason.chars().any(char::is_control) {
        Err(problem(
            format!("reason {reason:?} contains a control character"),
            expected,
        ))
    } else {
        Ok(())
    }
}

/// A rule's `protocols`: not empty; repeats dropped.
pub(crate) fn protocols(list: &[Protocol]) -> Result<Vec<Protocol>, Problem> {
    if list.is_empty() {
        return Err(problem(
            "an empty list of protocols allows nothing".to_owned(),
            "expected at least one of \"tls\", \"http\", \"ssh\" or \"any\" (leave protocols \
             out for [\"tls\", \"http\"]), or remove the rule",
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for p in list {
        if !out.contains(p) {
            out.push(*p);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
