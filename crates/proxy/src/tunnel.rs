//! A tunnel's life after the client has named its destination: decide,
//! connect, tell the client (in its protocol's words), check what the
//! client sends first, relay, report.

use crate::decide::{self, Allowed, Host, Refusal};
use crate::event::{Decision, NetEvent, NetKind, NetSeverity, Via};
use crate::sniff::{self, Sniffed};
use crate::Shared;
use crate::{peer, relay};
use corral_policy::net::Protocol;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
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
}

/// The rule that passed a client's first bytes, the protocol seen and
/// its detail.
type Judged = (Option<String>, Option<&'static str>, Option<String>);

/// What a running tunnel has done so far, kept where a report made on
/// shutdown (the task being dropped) can still read it.
#[derive(Default)]
pub struct Progress {
    pub up: AtomicU64,
    pub down: AtomicU64,
    /// The rule that passed the client's first bytes, the protocol seen
    /// and its detail, once judged.
    judged: Mutex<Option<Judged>>,
}

impl Progress {
    fn judged(&self, rule: Option<String>, protocol: Option<&'static str>, detail: Option<String>) {
        *self.judged.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((rule, protocol, detail));
    }
}

/// An attempt in progress: its event, its start, the lookup of the process
/// that made it, and its progress. Reported exactly once: by
/// [`Attempt::report`], or when dropped (the proxy stopping with the
/// attempt under way), so no attempt goes unrecorded.
pub struct Attempt<'a> {
    shared: &'a Shared,
    pub ev: NetEvent,
    pub started: Instant,
    pub progress: Progress,
    pid: Option<tokio::task::JoinHandle<Option<u32>>>,
    reported: bool,
}

impl<'a> Attempt<'a> {
    pub fn new(
        shared: &'a Shared,
        client: &TcpStream,
        via: Via,
        host: String,
        port: u16,
    ) -> Attempt<'a> {
        Attempt {
            shared,
            ev: NetEvent::new(NetKind::Connect, via, host, port),
            started: Instant::now(),
            progress: Progress::default(),
            pid: crate::lookup_pid(
                shared,
                peer::Transport::Tcp,
                client.peer_addr(),
                client.local_addr(),
            ),
            reported: false,
        }
    }

    /// Folds the progress into the event.
    fn settle(&mut self) {
        self.ev.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.ev.bytes_up = self
            .ev
            .bytes_up
            .max(self.progress.up.load(Ordering::Relaxed));
        self.ev.bytes_down = self
            .ev
            .bytes_down
            .max(self.progress.down.load(Ordering::Relaxed));
        let judged = self
            .progress
            .judged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((rule, protocol, detail)) = judged {
            if self.ev.decision == Decision::Allow {
                self.ev.rule = rule.or(self.ev.rule.take());
            }
            self.ev.protocol = protocol.or(self.ev.protocol);
            self.ev.detail = detail.or(self.ev.detail.take());
        }
    }

    /// Finishes the event and hands it to the sink.
    pub async fn report(mut self) {
        self.settle();
        if let Some(lookup) = self.pid.take() {
            self.ev.pid = lookup.await.ok().flatten();
        }
        self.reported = true;
        self.shared.emit(self.ev.clone());
    }

    pub fn fail(&mut self, decision: Decision, reason: String, rule: Option<String>) {
        self.ev.decision = decision;
        self.ev.reason = Some(reason);
        self.ev.rule = rule;
        if decision == Decision::Deny && self.ev.severity < NetSeverity::Warning {
            self.ev.severity = NetSeverity::Warning;
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.reported {
            return;
        }
        self.settle();
        if self.ev.reason.is_none() {
            self.ev.reason = Some("the sandbox ended while this was under way".into());
        }
        self.shared.emit(self.ev.clone());
    }
}

/// Runs a tunnel to `host:port` for `client`. `early` holds bytes the
/// client sent after its request (they are the start of the tunnel).
pub async fn run(
    shared: &Shared,
    client: TcpStream,
    front: &dyn Front,
    mut attempt: Attempt<'_>,
    host: Option<Host>,
    early: Vec<u8>,
) {
    let Some(host) = host else {
        attempt.fail(
            Decision::Deny,
            "not a valid host name or address".into(),
            None,
        );
        let _ = relay::write_all(&client, &front.refused(&attempt.ev, Failure::Denied)).await;
        return attempt.report().await;
    };
    let allowed = match decide::decide(&shared.policy, &shared.local, &host, attempt.ev.port).await
    {
        Ok(a) => a,
        Err(refusal) => {
            let failure = refusal_kind(&refusal);
            record_refusal(&mut attempt, refusal);
            let _ = relay::write_all(&client, &front.refused(&attempt.ev, failure)).await;
            return attempt.report().await;
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
            return attempt.report().await;
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
        return attempt.report().await;
    }
    inspect_and_relay(client, upstream, &allowed, &host, attempt, early).await
}

fn refusal_kind(r: &Refusal) -> Failure {
    if r.denied {
        Failure::Denied
    } else {
        Failure::Unresolved
    }
}

pub fn record_refusal(attempt: &mut Attempt<'_>, refusal: Refusal) {
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
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }?;
        relay::limit_buffers(&socket);
        match tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(*addr)).await {
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
    Refuse(String, NetSeverity),
}

/// Checks what the client sent first against the destination and the
/// rules. Stratum (mining) is refused whatever the rules say.
pub fn judge(seen: &Sniffed, host: &Host, allowed: &Allowed) -> Verdict {
    let protocol = match seen {
        Sniffed::Stratum { method, agent } => {
            let agent = agent
                .as_deref()
                .map(|a| format!(", agent {a:?}"))
                .unwrap_or_default();
            return Verdict::Refuse(
                format!(
                    "cryptocurrency mining protocol (Stratum {method:?}{agent}) is never allowed"
                ),
                NetSeverity::Critical,
            );
        }
        Sniffed::Tls { .. } => Protocol::Tls,
        Sniffed::Http { .. } => Protocol::Http,
        Sniffed::Ssh { .. } => Protocol::Ssh,
        Sniffed::Other | Sniffed::NeedMore => Protocol::Any,
    };
    // What the client says must match where it asked to go.
    if let Host::Name(name) = host {
        match seen {
            Sniffed::Tls { sni } if sni.as_deref() != Some(name.as_str()) => {
                let said = match sni {
                    Some(s) => format!("names {s:?}"),
                    None => "names no server".into(),
                };
                return Verdict::Refuse(
                    format!(
                        "the TLS handshake {said}, not {name:?} as requested (domain fronting)"
                    ),
                    NetSeverity::Warning,
                );
            }
            Sniffed::Http { host: h, .. } if h.as_deref() != Some(name.as_str()) => {
                let said = match h {
                    Some(h) => format!("Host {h:?}"),
                    None => "no Host header".into(),
                };
                return Verdict::Refuse(
                    format!("the HTTP request has {said}, not {name:?} as requested"),
                    NetSeverity::Warning,
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
                NetSeverity::Warning
            } else {
                NetSeverity::Info
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

fn describe(seen: &Sniffed) -> (Option<&'static str>, Option<String>) {
    match seen {
        Sniffed::Tls { sni } => (Some("tls"), sni.clone()),
        Sniffed::Http { method, host } => (
            Some("http"),
            Some(format!("{method} Host: {}", host.as_deref().unwrap_or("-"))),
        ),
        Sniffed::Ssh { banner } => (Some("ssh"), Some(banner.clone())),
        Sniffed::Stratum { method, agent } => (
            Some("stratum"),
            Some(match agent {
                Some(a) => format!("{method} agent={a}"),
                None => method.clone(),
            }),
        ),
        Sniffed::Other => (Some("other"), None),
        Sniffed::NeedMore => (None, None),
    }
}

/// Reads the client's first bytes, judges them, then relays. Under an
/// `any` rule the upstream's bytes flow at once (server-first protocols);
/// otherwise only once the client's first bytes passed.
async fn inspect_and_relay(
    client: TcpStream,
    upstream: TcpStream,
    allowed: &Allowed,
    host: &Host,
    mut attempt: Attempt<'_>,
    early: Vec<u8>,
) {
    let any = allowed
        .rules
        .iter()
        .any(|r| r.protocols.contains(&Protocol::Any));
    // Some(true): relay the upstream's bytes; Some(false): refused.
    let (open_tx, open_rx) = watch::channel(any.then_some(true));
    let progress = &attempt.progress;
    let up = async {
        let mut first = early;
        let deadline = tokio::time::Instant::now() + FIRST_BYTES_TIMEOUT;
        let mut seen = sniff::sniff(&first);
        while seen == Sniffed::NeedMore && first.len() < sniff::MAX_SNIFF {
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
                NetSeverity::Info,
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
        progress.judged(Some(rule), protocol, detail);
        let _ = open_tx.send(Some(true));
        if relay::write_all(&upstream, &first).await.is_ok() {
            progress.up.fetch_add(first.len() as u64, Ordering::Relaxed);
            relay::pump(&client, &upstream, &progress.up).await;
        }
        Ok(())
    };
    let down = async {
        let mut open = open_rx.clone();
        match open.wait_for(|o| o.is_some()).await.map(|o| *o) {
            Ok(Some(true)) => {}
            _ => return,
        }
        relay::pump(&upstream, &client, &progress.down).await;
    };
    let (verdict, ()) = tokio::join!(up, down);
    if let Err((reason, severity, protocol, detail)) = verdict {
        attempt.ev.protocol = protocol;
        attempt.ev.detail = detail;
        attempt.fail(Decision::Deny, reason, None);
        attempt.ev.severity = attempt.ev.severity.max(severity);
    }
    attempt.report().await
}
