//! `net.scan`, `net.metadata`, `net.listen`.

use super::{hash, hit, host_port, loopback, Ev, Hit, Kind};
use crate::{Evidence, Severity};
use corral_event::Decision;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Ports of corral's own proxy on loopback: connections to them are the
/// normal path out, not scanning.
const PROXY_PORTS: [u16; 3] = [3128, 1080, 53];

/// Cloud instance metadata and credential endpoints.
const METADATA_IPS: [IpAddr; 6] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)),
];

const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "metadata.azure.com",
    "metadata.azure.internal",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.tencentyun.com",
    "metadata.platformequinix.com",
    "metadata.packet.net",
    "metadata.oraclecloud.com",
];

/// A host as written in an event: a name, an address (bracketed or not),
/// or a 32-bit number (`2852039166` is 169.254.169.254).
fn parse_host(host: &str) -> Result<IpAddr, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    if !bare.is_empty() && bare.len() <= 10 && bare.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = bare.parse::<u32>() {
            return Ok(IpAddr::V4(Ipv4Addr::from(n)));
        }
    }
    Err(bare.trim_end_matches('.').to_ascii_lowercase())
}

fn metadata_ip(ip: IpAddr) -> bool {
    METADATA_IPS.contains(&ip.to_canonical())
}

fn metadata_name(name: &str) -> bool {
    METADATA_NAMES.contains(&name)
}

pub(crate) struct Network {
    scan_threshold: usize,
    scan_window: Duration,
    /// Destinations in the window, oldest first, and when each was last seen.
    recent: VecDeque<(Duration, u64)>,
    last_seen: HashMap<u64, Duration>,
    /// The latest destinations, for the evidence.
    examples: VecDeque<Evidence>,
    scanned: bool,
}

impl Network {
    pub fn new(t: &corral_policy::Thresholds) -> Network {
        Network {
            scan_threshold: t.scan_destinations() as usize,
            scan_window: t.scan_window(),
            recent: VecDeque::new(),
            last_seen: HashMap::new(),
            examples: VecDeque::new(),
            scanned: false,
        }
    }

    /// One more destination for `net.scan`.
    fn destination(&mut self, ev: &Ev<'_>, dest: &str, out: &mut Vec<Hit>) {
        if self.scanned {
            return;
        }
        let key = hash(dest);
        self.recent.push_back((ev.at, key));
        self.last_seen.insert(key, ev.at);
        while let Some(&(at, old)) = self.recent.front() {
            if ev.at.saturating_sub(at) <= self.scan_window {
                break;
            }
            self.recent.pop_front();
            if self.last_seen.get(&old) == Some(&at) {
                self.last_seen.remove(&old);
            }
        }
        self.examples.push_back(ev.evidence_auto());
        if self.examples.len() > 5 {
            self.examples.pop_front();
        }
        let distinct = self.last_seen.len();
        if distinct >= self.scan_threshold {
            self.scanned = true;
            self.recent.clear();
            self.last_seen.clear();
            let who = ev
                .pid
                .map_or_else(|| "the sandbox".to_owned(), |p| format!("pid {p}"));
            out.push(Hit {
                id: "net.scan".to_owned(),
                severity: Severity::High,
                technique: "T1046".to_owned(),
                explanation: format!(
                    "{distinct} distinct destinations within {}s (the latest by {who}): the \
                     shape of a network scan",
                    self.scan_window.as_secs_f64()
                ),
                pid: ev.pid,
                subject: "sandbox".to_owned(),
                evidence: self.examples.drain(..).collect(),
            });
        }
    }

    fn metadata(&self, ev: &Ev<'_>, dest: &str, out: &mut Vec<Hit>) {
        let who = ev
            .pid
            .map_or_else(|| "a process".to_owned(), |p| format!("pid {p}"));
        out.push(hit(
            ev,
            "net.metadata",
            Severity::High,
            "T1552.005",
            dest.to_owned(),
            format!(
                "{who} reached for {dest}, a cloud instance metadata service that hands out the \
                 machine's credentials"
            ),
        ));
    }

    /// `sock.connect`, `sock.bind`, `sock.listen`.
    pub fn sock(&mut self, ev: &Ev<'_>, out: &mut Vec<Hit>) {
        let Some(addr) = ev.sock_addr() else {
            return;
        };
        match ev.kind {
            Kind::SockConnect => {
                if metadata_ip(addr.ip()) {
                    self.metadata(ev, &addr.ip().to_canonical().to_string(), out);
                }
                let proxy = loopback(addr.ip()) && PROXY_PORTS.contains(&addr.port());
                if !proxy && addr.port() != 0 {
                    self.destination(ev, &addr.to_string(), out);
                }
            }
            Kind::SockBind | Kind::SockListen => self.listen(ev, addr, out),
            _ => {}
        }
    }

    fn listen(&mut self, ev: &Ev<'_>, addr: SocketAddr, out: &mut Vec<Hit>) {
        if loopback(addr.ip()) || (ev.kind == Kind::SockBind && addr.port() == 0) {
            return;
        }
        let who = ev
            .pid
            .map_or_else(|| "a process".to_owned(), |p| format!("pid {p}"));
        let what = if addr.ip().is_unspecified() {
            "every interface"
        } else {
            "a non-loopback address"
        };
        out.push(hit(
            ev,
            "net.listen",
            Severity::Low,
            "T1021",
            addr.to_string(),
            format!(
                "{who} {} {addr}, {what}: a server meant to be reached from elsewhere (nothing \
                 outside can reach the sandbox's network)",
                if ev.kind == Kind::SockListen {
                    "listens on"
                } else {
                    "bound"
                }
            ),
        ));
    }

    /// `net.connect` from the proxy.
    pub fn net(&mut self, ev: &Ev<'_>, out: &mut Vec<Hit>) {
        let Some(net) = ev.proxied() else { return };
        let host = net.host;
        let port = u64::from(net.port);
        let metadata = match parse_host(host) {
            Ok(ip) => metadata_ip(ip),
            Err(name) => metadata_name(&name),
        };
        if metadata {
            self.metadata(ev, &host_port(host, port), out);
        }
        if matches!(net.decision, Decision::Deny | Decision::Error) {
            let dest = match parse_host(host) {
                Ok(ip) => SocketAddr::new(ip.to_canonical(), port as u16).to_string(),
                Err(name) => format!("{name}:{port}"),
            };
            self.destination(ev, &dest, out);
        }
    }

    /// `dns.query`.
    pub fn dns(&mut self, ev: &Ev<'_>, out: &mut Vec<Hit>) {
        let Some(dns) = ev.proxied() else {
            return;
        };
        let host = dns.host;
        let metadata = match parse_host(host) {
            Ok(ip) => metadata_ip(ip),
            Err(name) => metadata_name(&name),
        };
        if metadata {
            self.metadata(ev, host.trim_end_matches('.'), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("2852039166"),
            Ok("169.254.169.254".parse().unwrap())
        );
        assert_eq!(
            parse_host("[fd00:ec2::254]"),
            Ok("fd00:ec2::254".parse().unwrap())
        );
        assert_eq!(
            parse_host("Metadata.Google.Internal."),
            Err("metadata.google.internal".into())
        );
        assert!(metadata_ip("::ffff:169.254.169.254".parse().unwrap()));
        assert!(!metadata_ip("169.254.169.123".parse().unwrap()));
    }
}
