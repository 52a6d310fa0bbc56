//! The HTTP proxy port: `CONNECT host:port` opens a tunnel; a request in
//! absolute form (`GET http://host/path`) is forwarded to that host. A
//! refusal is an HTTP error whose body says why, in plain words.

use crate::decide::{self, Host};
use crate::event::{Decision, NetEvent, Via};
use crate::relay;
use crate::tunnel::{self, Attempt, Failure, Front};
use crate::Shared;
use corral_policy::net::Protocol;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpStream;

/// Largest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers meant for the proxy (or for one hop) that are not passed on.
const HOP_HEADERS: [&str; 5] = [
    "proxy-connection",
    "proxy-authorization",
    "connection",
    "keep-alive",
    "te",
];

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    version: u8,
    headers: Vec<(String, Vec<u8>)>,
    len: usize,
}

fn parse(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(len)) => Ok(Some(Head {
            method: req.method.unwrap_or_default().to_owned(),
            target: req.path.unwrap_or_default().to_owned(),
            version: req.version.unwrap_or(1),
            headers: req
                .headers
                .iter()
                .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                .collect(),
            len,
        })),
        Err(e) => Err(format!("malformed HTTP request: {e}")),
    }
}

/// A response with a plain-text body.
fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\nX-Corral: {}\r\n\r\n{body}",
        body.len(),
        status.split(' ').next().unwrap_or_default(),
    )
    .into_bytes()
}

/// The body of a refusal: the same line corral prints on its stderr.
fn refusal_body(ev: &NetEvent) -> String {
    format!("corral: {}\n", ev.line())
}

struct ConnectFront;

impl Front for ConnectFront {
    fn refused(&self, ev: &NetEvent, failure: Failure) -> Vec<u8> {
        let status = match failure {
            Failure::Denied => "403 Forbidden",
            Failure::Unresolved | Failure::Unreachable => "502 Bad Gateway",
        };
        response(status, &refusal_body(ev))
    }

    fn opened(&self, _local: Option<SocketAddr>) -> Vec<u8> {
        b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec()
    }
}

/// Splits `host:port` (`[v6]:port` for IPv6). The port is required
/// unless `default` is given.
pub fn split_authority(authority: &str, default: Option<u16>) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return None,
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
        None => default?,
    };
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

/// Refuses a request that never named a destination we could decide on
/// (malformed, too large, not a proxy request): the client gets `status`
/// with the reason, and it is on record like any attempt.
async fn reject(
    shared: &Shared,
    client: &TcpStream,
    via: Via,
    target: &str,
    status: &str,
    reason: String,
) {
    let mut attempt = Attempt::new(shared, client, via, target.to_owned(), 0);
    attempt.fail(Decision::Deny, reason, None);
    let _ = relay::write_all(client, &response(status, &refusal_body(&attempt.ev))).await;
    attempt.report().await
}

/// Serves one client connection on the HTTP port.
pub async fn serve(shared: &Shared, client: TcpStream) {
    let _ = client.set_nodelay(true);
    let mut buf = Vec::with_capacity(1024);
    // One deadline for the whole head, however slowly it trickles in.
    let deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
    let head = loop {
        let read =
            tokio::time::timeout_at(deadline, relay::read_more(&client, &mut buf, MAX_HEAD)).await;
        match read {
            Ok(Ok(n)) if n > 0 => {}
            // Went away before asking anything: nothing to report.
            Ok(_) if buf.is_empty() => return,
            Ok(_) => {
                let why = "the client closed the connection in the middle of its request".into();
                return reject(
                    shared,
                    &client,
                    Via::HttpForward,
                    "",
                    "400 Bad Request",
                    why,
                )
                .await;
            }
            Err(_) => {
                let why = format!("no complete request within {} s", HEAD_TIMEOUT.as_secs());
                return reject(
                    shared,
                    &client,
                    Via::HttpForward,
                    "",
                    "408 Request Timeout",
                    why,
                )
                .await;
            }
        }
        match parse(&buf) {
            Ok(Some(head)) => break head,
            Ok(None) if buf.len() < MAX_HEAD => continue,
            Ok(None) => {
                let why = format!("the request head is larger than {MAX_HEAD} bytes");
                let status = "431 Request Header Fields Too Large";
                return reject(shared, &client, Via::HttpForward, "", status, why).await;
            }
            Err(why) => {
                return reject(
                    shared,
                    &client,
                    Via::HttpForward,
                    "",
                    "400 Bad Request",
                    why,
                )
                .await;
            }
        }
    };
    let early = buf[head.len..].to_vec();
    // Nothing of the head is kept for a tunnel's life but its target.
    drop(buf);
    if head.method.eq_ignore_ascii_case("CONNECT") {
        connect(shared, client, head.target, early).await
    } else {
        forward(shared, client, head, early).await
    }
}

async fn connect(shared: &Shared, client: TcpStream, target: String, early: Vec<u8>) {
    let Some((host, port)) = split_authority(&target, None) else {
        let why = format!("CONNECT needs host:port, got {target:?}");
        let status = "400 Bad Request";
        return reject(shared, &client, Via::HttpConnect, &target, status, why).await;
    };
    let attempt = Attempt::new(shared, &client, Via::HttpConnect, host.clone(), port);
    tunnel::run(
        shared,
        client,
        &ConnectFront,
        attempt,
        Host::parse(&host),
        early,
    )
    .await
}

/// Forwards a plain-HTTP request: the head is rewritten to origin form
/// with `Connection: close`, then both directions are relayed.
async fn forward(shared: &Shared, client: TcpStream, head: Head, early: Vec<u8>) {
    let target = head.target.as_str();
    let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("HTTP://"))
    else {
        let why = if target.starts_with("https://") {
            "this is corral's egress proxy; HTTPS goes through CONNECT (set HTTPS_PROXY)"
                .to_string()
        } else {
            format!(
                "this is corral's egress proxy; it forwards absolute http:// URLs and CONNECT \
                 only, not {target:?}"
            )
        };
        return reject(
            shared,
            &client,
            Via::HttpForward,
            target,
            "400 Bad Request",
            why,
        )
        .await;
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let Some((host, port)) = split_authority(authority, Some(80)) else {
        let why = format!("cannot read the host in {target:?}");
        return reject(
            shared,
            &client,
            Via::HttpForward,
            target,
            "400 Bad Request",
            why,
        )
        .await;
    };
    let mut attempt = Attempt::new(shared, &client, Via::HttpForward, host.clone(), port);
    attempt.ev.protocol = Some("http");
    attempt.ev.detail = Some(format!("{} {}", head.method, path));
    let refuse = |attempt: &mut Attempt<'_>, status: &str, reason: String, rule: Option<String>| {
        let decision = if status.starts_with('4') {
            Decision::Deny
        } else {
            Decision::Error
        };
        attempt.fail(decision, reason, rule);
        response(status, &refusal_body(&attempt.ev))
    };
    let Some(dest) = Host::parse(&host) else {
        let r = refuse(
            &mut attempt,
            "403 Forbidden",
            "not a valid host name or address".into(),
            None,
        );
        let _ = relay::write_all(&client, &r).await;
        return attempt.report().await;
    };
    // The Host header (one at most) must name the same host: a server
    // behind a shared front would otherwise route by what it says.
    let hosts: Vec<String> = head
        .headers
        .iter()
        .filter(|(n, _)| n == "host")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect();
    let host_header = hosts.first().cloned();
    let mismatch = match hosts.as_slice() {
        [] => None,
        [h] => {
            let named = split_authority(h, Some(port)).and_then(|(h, _)| Host::parse(&h));
            (named.as_ref() != Some(&dest))
                .then(|| format!("the Host header {h:?} does not match the URL's host {host:?}"))
        }
        _ => Some(format!("the request has {} Host headers", hosts.len())),
    };
    if let Some(reason) = mismatch {
        let r = refuse(&mut attempt, "403 Forbidden", reason, None);
        let _ = relay::write_all(&client, &r).await;
        return attempt.report().await;
    }
    let allowed = match decide::decide(&shared.policy, &shared.local, &dest, port).await {
        Ok(a) => a,
        Err(refusal) => {
            let status = if refusal.denied {
                "403 Forbidden"
            } else {
                "502 Bad Gateway"
            };
            tunnel::record_refusal(&mut attempt, refusal);
            let r = response(status, &refusal_body(&attempt.ev));
            let _ = relay::write_all(&client, &r).await;
            return attempt.report().await;
        }
    };
    attempt.ev.addrs = allowed.resolved.clone();
    let Some(rule) = allowed.rule_for(Protocol::Http).map(|r| r.text.clone()) else {
        let reason = format!(
            "plain HTTP is not allowed here (the matching rules allow: {})",
            allowed.protocols()
        );
        let r = refuse(&mut attempt, "403 Forbidden", reason, None);
        let _ = relay::write_all(&client, &r).await;
        return attempt.report().await;
    };
    attempt.ev.rule = Some(rule.clone());
    let upstream = match tunnel::connect(&allowed.addrs).await {
        Ok(s) => s,
        Err(e) => {
            let r = refuse(
                &mut attempt,
                "502 Bad Gateway",
                format!("cannot connect to {host}:{port}: {e}"),
                Some(rule),
            );
            let _ = relay::write_all(&client, &r).await;
            return attempt.report().await;
        }
    };
    attempt.ev.upstream = upstream.peer_addr().ok();
    let mut out = format!("{} {} HTTP/1.{}\r\n", head.method, path, head.version).into_bytes();
    if host_header.is_none() {
        out.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
    }
    for (name, value) in &head.headers {
        if HOP_HEADERS.contains(&name.as_str()) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&early);
    if relay::write_all(&upstream, &out).await.is_err() {
        attempt.fail(
            Decision::Error,
            "the upstream closed the connection".into(),
            Some(rule),
        );
        return attempt.report().await;
    }
    let progress = &attempt.progress;
    progress.up.fetch_add(out.len() as u64, Ordering::Relaxed);
    tokio::join!(
        relay::pump(&client, &upstream, &progress.up),
        relay::pump(&upstream, &client, &progress.down)
    );
    attempt.report().await
}
