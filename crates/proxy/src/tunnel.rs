//! A tunnel's life after the client has named its destination: decide,
//! connect, tell the client (in its protocol's words), check what the
//! client sends first, relay, report.

use crate::decide::{self, Allowed, Host, Refusal};
use crate::event::{Decision, NetEvent, Severity, Via};
use crate::sniff::{self, Seen};
use crate::Shared;
use crate::{peer, relay};
use corral_policy::net::Protocol;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How long an upstream may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send the bytes that identify its
/// protocol. A client of a server-first protocol (only under an `any`
/// rule) is relayed meanwhile.
const FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(10);

/// How a front end (HTTP CONNECT, SOCKS5) answers its client.
pub trait Front: Sync {
    /// The destination is refused by policy, or failed; `ev` says why.
    fn refused(&self, ev: &NetEvent, refusal: Failure) -> Vec<u8>;
    /// The tunnel is open.
    fn opened(&self, local: Option<SocketAddr>) -> Vec<u8>;
}

/// Why a tunnel did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The policy refused it.
    Denied,
    /// The name did not resolve.
    Unresolved,
    /// The upstream refused or did not answer.
    Unreachable,
    /// The proxy is at its connection limit.
    Busy,
}

/// An attempt in progress: its event, its start, and the lookup of the
/// process that made it.
pub struct Attempt {
    pub ev: NetEvent,
    pub started: Instant,
    pid: Option<tokio::task::JoinHandle<Option<u32>>>,
}

impl Attempt {
    pub fn new(shared: &Shared, client: &TcpStream, via: Via, host: String, port: u16) -> Attempt {
        Attempt {
            ev: NetEvent::new("net.connect", via, host, port),
            started: Instant::now(),
            pid: crate::lookup_pid(
                shared,
                peer::Transport::Tcp,
                client.peer_addr(),
                client.local_addr(),
            ),
        }
    }

    /// Finishes the event and hands it to the sink.
    pub async fn report(mut self, shared: &Shared) {
        self.ev.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        if let Some(lookup) = self.pid.take() {
            self.ev.pid = lookup.await.ok().flatten();
        }
        shared.emit(self.ev);
    }

    pub fn fail(&mut self, decision: Decision, reason: String, rule: Option<String>) {
        self.ev.decision = decision;
        self.ev.reason = Some(reason);
        self.ev.rule = rule;
        if decision == Decision::Deny && self.ev.severity < Severity::Warning {
            self.ev.severity = Severity::Warning;
        }
    }
}

/// Runs a tunnel to `host:port` for `client`. `early` holds bytes the
/// client sent after its request (they are the start of the tunnel).
pub async fn run(
    shared: &Shared,
    client: TcpStream,
    front: &dyn Front,
    mut attempt: Attempt,
    host: Option<Host>,
    early: Vec<u8>,
) {
    let Ok(_slot) = shared.slots.try_acquire() else {
        attempt.fail(
            Decision::Deny,
            format!(
                "too many connections at once (the limit is {})",
                crate::MAX_CONNECTIONS
            ),
            None,
        );
        let _ = relay::write_all(&client, &front.refused(&attempt.ev, Failure::Busy)).await;
        return attempt.report(shared).await;
    };
    let Some(host) = host else {
        attempt.fail(
            Decision::Deny,
            "not a valid host name or address".into(),
            None,
        );
        let _ = relay::write_all(&client, &front.refused(&attempt.ev, Failure::Denied)).await;
        return attempt.report(shared).await;
    };
    let allowed = match decide::decide(&shared.policy, &host, attempt.ev.port).await {
        Ok(a) => a,
        Err(refusal) => {
            let failure = refusal_kind(&refusal);
            record_refusal(&mut attempt, refusal);
            let _ = relay::write_all(&client, &front.refused(&attempt.ev, failure)).await;
            return attempt.report(shared).await;
        }
    };
    attempt.ev.addrs = allowed.resolved.clone();
    let upstream = match connect(&allowed.addrs).await {
        Ok(s) => s,
        Err(e) => {
            attempt.fail(
                Decision::Error,
                format!("cannot connect to {}: {e}", list(&allowed.addrs)),
                allowed.rules.first().map(|r| r.text.clone()),
            );
            let _ =
                relay::write_all(&client, &front.refused(&attempt.ev, Failure::Unreachable)).await;
            return attempt.report(shared).await;
        }
    };
    attempt.ev.upstream = upstream.peer_addr().ok();
    if relay::write_all(&client, &front.opened(upstream.local_addr().ok()))
        .await
        .is_err()
    {
        attempt.fail(
            Decision::Error,
            "the client went away".into(),
            allowed.rules.first().map(|r| r.text.clone()),
        );
        return attempt.report(shared).await;
    }
    inspect_and_relay(shared, client, upstream, &allowed, &host, attempt, early).await
}

fn refusal_kind(r: &Refusal) -> Failure {
    if r.denied {
        Failure::Denied
    } else {
        Failure::Unresolved
    }
}

pub fn record_refusal(attempt: &mut Attempt, refusal: Refusal) {
    attempt.ev.addrs = refusal.resolved;
    let decision = if refusal.denied {
        Decision::Deny
    } else {
        Decision::Error
    };
    attempt.fail(decision, refusal.reason, refusal.rule);
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Connects to the first address that answers.
pub async fn connect(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => last = e,
            Err(_) => {
                last = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                )
            }
        }
    }
    Err(last)
}

/// The verdict on the client's first bytes.
pub enum Verdict {
    /// Pass them on, with the rule that allows this protocol.
    Pass(String),
    /// Refuse the tunnel: reason, severity.
    Refuse(String, Severity),
}

/// Checks what the client sent first against the destination and the
/// rules. Stratum (mining) is refused whatever the rules say.
pub fn judge(seen: &Seen, host: &Host, allowed: &Allowed) -> Verdict {
    let protocol = match seen {
        Seen::Stratum { method, agent } => {
            let agent = agent
                .as_deref()
                .map(|a| format!(", agent {a:?}"))
                .unwrap_or_default();
            return Verdict::Refuse(
                format!(
                    "cryptocurrency mining protocol (Stratum {method:?}{agent}) is never allowed"
                ),
                Severity::Critical,
            );
        }
        Seen::Tls { .. } => Protocol::Tls,
        Seen::Http { .. } => Protocol::Http,
        Seen::Ssh { .. } => Protocol::Ssh,
        Seen::Other | Seen::NeedMore => Protocol::Any,
    };
    // What the client says must match where it asked to go.
    if let Host::Name(name) = host {
        match seen {
            Seen::Tls { sni } if sni.as_deref() != Some(name.as_str()) => {
                let said = match sni {
                    Some(s) => format!("names {s:?}"),
                    None => "names no server".into(),
                };
                return Verdict::Refuse(
                    format!(
                        "the TLS handshake {said}, not {name:?} as requested (domain fronting)"
                    ),
                    Severity::Warning,
                );
            }
            Seen::Http { host: h, .. } if h.as_deref() != Some(name.as_str()) => {
                let said = match h {
                    Some(h) => format!("Host {h:?}"),
                    None => "no Host header".into(),
                };
                return Verdict::Refuse(
                    format!("the HTTP request has {said}, not {name:?} as requested"),
                    Severity::Warning,
                );
            }
            _ => {}
        }
    }
    match allowed.rule_for(protocol) {
        Some(rule) => Verdict::Pass(rule.text.clone()),
        None => {
            let what = match protocol {
                Protocol::Any => "an unrecognised protocol".to_string(),
                p => p.to_string().to_uppercase(),
            };
            let severity = if protocol == Protocol::Ssh {
                Severity::Warning
            } else {
                Severity::Info
            };
            Verdict::Refuse(
                format!(
                    "{what} is not allowed here (the matching rules allow: {}; add protocols = \
                     [\"{}\"] to a [network.rules] entry to allow it)",
                    allowed.protocols(),
                    match protocol {
                        Protocol::Any => "any".to_string(),
                        p => p.to_string(),
                    }
                ),
                severity,
            )
        }
    }
}

fn describe(seen: &Seen) -> (Option<&'static str>, Option<String>) {
    match seen {
        Seen::Tls { sni } => (Some("tls"), sni.clone()),
        Seen::Http { method, host } => (
            Some("http"),
            Some(format!("{method} Host: {}", host.as_deref().unwrap_or("-"))),
        ),
        Seen::Ssh { banner } => (Some("ssh"), Some(banner.clone())),
        Seen::Stratum { method, agent } => (
            Some("stratum"),
            Some(match agent {
                Some(a) => format!("{method} agent={a}"),
                None => method.clone(),
            }),
        ),
        Seen::Other => (Some("other"), None),
        Seen::NeedMore => (None, None),
    }
}

/// Reads the client's first bytes, judges them, then relays. Under an
/// `any` rule the upstream's bytes flow at once (server-first protocols);
/// otherwise only once the client's first bytes passed.
async fn inspect_and_relay(
    shared: &Shared,
    client: TcpStream,
    upstream: TcpStream,
    allowed: &Allowed,
    host: &Host,
    mut attempt: Attempt,
    early: Vec<u8>,
) {
    let any = allowed
        .rules
        .iter()
        .any(|r| r.protocols.contains(&Protocol::Any));
    // Some(true): relay the upstream's bytes; Some(false): refused.
    let (open_tx, open_rx) = watch::channel(any.then_some(true));
    let mut shutdown = shared.shutdown.clone();
    let up = async {
        let mut first = early;
        let deadline = tokio::time::Instant::now() + FIRST_BYTES_TIMEOUT;
        let mut seen = sniff::sniff(&first);
        while seen == Seen::NeedMore && first.len() < sniff::MAX_SNIFF {
            match tokio::time::timeout_at(
                deadline,
                relay::read_more(&client, &mut first, sniff::MAX_SNIFF),
            )
            .await
            {
                Ok(Ok(n)) if n > 0 => seen = sniff::sniff(&first),
                // End of file, an error, or silence: judge what is there.
                _ => break,
            }
        }
        let silent = first.is_empty();
        let (protocol, detail) = describe(&seen);
        let verdict = if silent && any {
            Verdict::Pass(
                allowed
                    .rule_for(Protocol::Any)
                    .map(|r| r.text.clone())
                    .unwrap_or_default(),
            )
        } else if silent {
            Verdict::Refuse(
                format!(
                    "the client sent nothing within {} s, so its protocol is unknown",
                    FIRST_BYTES_TIMEOUT.as_secs()
                ),
                Severity::Info,
            )
        } else {
            judge(&seen, host, allowed)
        };
        let rule = match verdict {
            Verdict::Pass(rule) => rule,
            Verdict::Refuse(reason, severity) => {
                relay::close_both(&client, &upstream);
                let _ = open_tx.send(Some(false));
                return Err((reason, severity, protocol, detail));
            }
        };
        let _ = open_tx.send(Some(true));
        if relay::write_all(&upstream, &first).await.is_err() {
            return Ok((rule, protocol, detail, first.len() as u64));
        }
        let (n, _) = relay::pump(&client, &upstream).await;
        Ok((rule, protocol, detail, first.len() as u64 + n))
    };
    let down = async {
        let mut open = open_rx.clone();
        match open.wait_for(|o| o.is_some()).await.map(|o| *o) {
            Ok(Some(true)) => {}
            _ => return 0,
        }
        relay::pump(&upstream, &client).await.0
    };
    let both = async { tokio::join!(up, down) };
    let finished = tokio::select! {
        r = both => Some(r),
        _ = shutdown.wait_for(|s| *s) => None,
    };
    let Some((up_result, down_bytes)) = finished else {
        attempt.ev.reason = Some("the sandbox ended while the tunnel was open".into());
        attempt.ev.rule = allowed.rules.first().map(|r| r.text.clone());
        return attempt.report(shared).await;
    };
    attempt.ev.bytes_down = down_bytes;
    match up_result {
        Ok((rule, protocol, detail, up)) => {
            attempt.ev.rule = Some(rule);
            attempt.ev.protocol = protocol;
            attempt.ev.detail = detail;
            attempt.ev.bytes_up = up;
        }
        Err((reason, severity, protocol, detail)) => {
            attempt.ev.protocol = protocol;
            attempt.ev.detail = detail;
            attempt.fail(Decision::Deny, reason, None);
            attempt.ev.severity = attempt.ev.severity.max(severity);
        }
    }
    attempt.report(shared).await
}
