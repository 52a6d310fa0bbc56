//! The sandbox's resolver (its resolv.conf names 127.0.0.1). Every query
//! is an event. A name the policy allows is resolved by the host's
//! resolver (or its pin) and answered; any other name gets NXDOMAIN with
//! the reason as an Extended DNS Error text, and never leaves the machine.
//! So DNS cannot carry data out except inside names the policy allows,
//! and every name asked is on record.

use crate::decide::{self, canonical};
use crate::dns::{self, Query, Reply};
use crate::event::{Decision, NetEvent, NetKind, NetSeverity, Via};
use crate::peer::Transport;
use crate::relay;
use crate::Shared;
use corral_policy::net::{self, Dest};

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpStream, UdpSocket};

/// TTL of answers: short, the policy may change between runs.
const TTL: u32 = 30;
/// How long a TCP client may stay idle between queries.
const TCP_IDLE: Duration = Duration::from_secs(10);
const QTYPE_A: u16 = 1;
const QTYPE_AAAA: u16 = 28;
const QTYPE_ANY: u16 = 255;

/// Answers one query message: the reply (none for a message that cannot
/// be answered) and the event, which the caller completes and emits once
/// the reply is on its way.
async fn answer(shared: &Shared, msg: &[u8], via: Via) -> (Option<Vec<u8>>, NetEvent) {
    let started = Instant::now();
    let query = match dns::parse_query(msg) {
        Ok(q) => q,
        Err(e) => {
            let mut ev = NetEvent::new(NetKind::Dns, via, String::new(), 0);
            ev.decision = Decision::Deny;
            ev.reason = Some(format!("malformed DNS query: {e}"));
            ev.severity = NetSeverity::Warning;
            return (dns::query_id(msg).map(dns::formerr), ev);
        }
    };
    let mut ev = NetEvent::new(NetKind::Dns, via, query.name.clone(), 0);
    ev.qtype = Some(dns::qtype_name(query.qtype));
    let reply = decide_name(shared, &query, &mut ev).await;
    ev.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    (Some(dns::build_reply(&query, &reply)), ev)
}

/// Adds the querying process (its lookup started when the query came in,
/// while the client still holds its socket) and emits the event.
async fn finish(shared: &Shared, mut ev: NetEvent, lookup: Option<PidLookup>) {
    if let Some(lookup) = lookup {
        ev.pid = lookup.await.ok().flatten();
    }
    shared.emit(ev);
}

type PidLookup = tokio::task::JoinHandle<Option<u32>>;

async fn decide_name(shared: &Shared, q: &Query, ev: &mut NetEvent) -> Reply {
    let policy = &shared.policy;
    let refuse = |ev: &mut NetEvent, reason: String, rule: Option<String>| {
        ev.decision = Decision::Deny;
        ev.severity = NetSeverity::Warning;
        ev.rule = rule;
        let text = format!("corral: {reason}");
        ev.reason = Some(reason);
        Reply::NxDomain { text: Some(text) }
    };
    // The sandbox's own loopback, for tools that ask DNS for localhost.
    if q.name == "localhost" || q.name.ends_with(".localhost") {
        let addrs = vec![
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        ];
        ev.addrs = addrs.clone();
        return Reply::Addrs { addrs, ttl: TTL };
    }
    let Some(name) = net::normalize_name(&q.name) else {
        return refuse(ev, format!("{:?} is not a valid host name", q.name), None);
    };
    if let Some(rule) = policy.denied(Dest::Name(&name), 0) {
        return refuse(ev, decide::deny_reason(rule), Some(rule.text.clone()));
    }
    if !policy.name_visible(&name) {
        return refuse(
            ev,
            format!("no rule allows this name (allowed: {})", policy.summary(6)),
            None,
        );
    }
    if !matches!(q.qtype, QTYPE_A | QTYPE_AAAA | QTYPE_ANY) {
        // Allowed names exist, but corral answers addresses only: TXT,
        // MX and the rest are where DNS tunnels live.
        return Reply::NoData;
    }
    // The name's last pin on any port (DNS has no ports).
    let pinned: Vec<IpAddr> = policy
        .pins
        .iter()
        .rev()
        .find(|p| p.host == name)
        .map(|p| p.addrs.iter().map(|a| canonical(*a)).collect())
        .unwrap_or_default();
    let addrs = if !pinned.is_empty() {
        pinned
    } else {
        match decide::resolve(&name, 0).await {
            Ok(found) => found
                .into_iter()
                .filter(|ip| {
                    net::special_range(*ip).is_none()
                        || !policy.allowed(Dest::Ip(*ip), 0).is_empty()
                })
                .collect(),
            Err(r) => {
                ev.decision = Decision::Error;
                ev.reason = Some(r.reason.clone());
                return Reply::ServFail {
                    text: Some(format!("corral: {}", r.reason)),
                };
            }
        }
    };
    // On record: what the answer holds for this type.
    ev.addrs = addrs
        .iter()
        .copied()
        .filter(|a| match q.qtype {
            QTYPE_A => a.is_ipv4(),
            QTYPE_AAAA => a.is_ipv6(),
            _ => true,
        })
        .collect();
    Reply::Addrs { addrs, ttl: TTL }
}

/// Serves DNS over UDP until the proxy stops.
pub async fn serve_udp(shared: Arc<Shared>, socket: UdpSocket) {
    let socket = Arc::new(socket);
    let mut shutdown = shared.shutdown.clone();
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, from) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(_) => continue,
            },
            _ = shutdown.changed() => return,
        };
        let msg = buf[..n].to_vec();
        let shared = shared.clone();
        let socket = socket.clone();
        // Each query on its own task: a slow upstream name must not hold
        // up the others.
        tokio::spawn(async move {
            let _active = crate::Active::new(&shared);
            let Ok(_slot) = shared.slots.try_acquire() else {
                // Over the limit: SERVFAIL, and on record like any query.
                let mut ev = NetEvent::new(NetKind::Dns, Via::DnsUdp, String::new(), 0);
                ev.decision = Decision::Deny;
                ev.severity = NetSeverity::Warning;
                ev.reason = Some(format!(
                    "too many queries and connections at once (the limit is {})",
                    crate::MAX_CONNECTIONS
                ));
                if let Ok(q) = dns::parse_query(&msg) {
                    ev.host = q.name.clone();
                    let reply = Reply::ServFail {
                        text: ev.reason.clone(),
                    };
                    let _ = socket.send_to(&dns::build_reply(&q, &reply), from).await;
                }
                return shared.emit(ev);
            };
            let pid = crate::lookup_pid(&shared, Transport::Udp, Ok(from), socket.local_addr());
            let (reply, ev) = answer(&shared, &msg, Via::DnsUdp).await;
            if let Some(reply) = reply {
                let _ = socket.send_to(&reply, from).await;
            }
            finish(&shared, ev, pid).await;
        });
    }
}

/// Serves one DNS-over-TCP connection (length-prefixed messages).
pub async fn serve_tcp(shared: &Shared, client: TcpStream) {
    let mut buf = Vec::with_capacity(512);
    loop {
        while buf.len() < 2 || buf.len() < 2 + usize::from(u16::from_be_bytes([buf[0], buf[1]])) {
            match tokio::time::timeout(TCP_IDLE, relay::read_more(&client, &mut buf, 2 + 65535))
                .await
            {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
        }
        let len = usize::from(u16::from_be_bytes([buf[0], buf[1]]));
        let msg: Vec<u8> = buf.drain(..2 + len).skip(2).collect();
        let pid = crate::lookup_pid(
            shared,
            Transport::Tcp,
            client.peer_addr(),
            client.local_addr(),
        );
        let (reply, ev) = answer(shared, &msg, Via::DnsTcp).await;
        finish(shared, ev, pid).await;
        let Some(reply) = reply else {
            return;
        };
        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&reply);
        if relay::write_all(&client, &framed).await.is_err() {
            return;
        }
    }
}
