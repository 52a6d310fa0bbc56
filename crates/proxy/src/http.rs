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
            Failure::Busy => "503 Service Unavailable",
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

/// Serves one client connection on the HTTP port.
pub async fn serve(shared: &Shared, client: TcpStream) {
    let _ = client.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let head = loop {
        match tokio::time::timeout(HEAD_TIMEOUT, relay::read_more(&client, &mut buf, MAX_HEAD))
            .await
        {
            Ok(Ok(n)) if n > 0 => {}
            // Went away, or too slow: nothing was asked, nothing to report.
            _ => return,
        }
        match parse(&buf) {
            Ok(Some(head)) => break head,
            Ok(None) if buf.len() < MAX_HEAD => continue,
            Ok(None) => {
                let body = format!("corral: the request head is larger than {MAX_HEAD} bytes\n");
                let _ = relay::write_all(
                    &client,
                    &response("431 Request Header Fields Too Large", &body),
                )
                .await;
                return;
            }
            Err(why) => {
                let body = format!("corral: {why}\n");
                let _ = relay::write_all(&client, &response("400 Bad Request", &body)).await;
                return;
            }
        }
    };
    let early = buf[head.len..].to_vec();
    if head.method.eq_ignore_ascii_case("CONNECT") {
        connect(shared, client, &head, early).await
    } else {
        forward(shared, client, head, early).await
    }
}

async fn connect(shared: &Shared, client: TcpStream, head: &Head, early: Vec<u8>) {
    let Some((host, port)) = split_authority(&head.target, None) else {
        let body = format!("corral: CONNECT needs host:port, got {:?}\n", head.target);
        let _ = relay::write_all(&client, &response("400 Bad Request", &body)).await;
        return;
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
    let Some(rest) = head
        .target
        .strip_prefix("http://")
        .or_else(|| head.target.strip_prefix("HTTP://"))
    else {
        let body = if head.target.starts_with("https://") {
            "corral: this is corral's egress proxy; HTTPS goes through CONNECT (set HTTPS_PROXY)\n"
                .to_string()
        } else {
            format!(
                "corral: this is corral's egress proxy; it forwards absolute http:// URLs and \
                 CONNECT only, not {:?}\n",
                head.target
            )
        };
        let _ = relay::write_all(&client, &response("400 Bad Request", &body)).await;
        return;
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let Some((host, port)) = split_authority(authority, Some(80)) else {
        let body = format!("corral: cannot read the host in {:?}\n", head.target);
        let _ = relay::write_all(&client, &response("400 Bad Request", &body)).await;
        return;
    };
    let mut attempt = Attempt::new(shared, &client, Via::HttpForward, host.clone(), port);
    attempt.ev.protocol = Some("http");
    attempt.ev.detail = Some(format!("{} {}", head.method, path));
    let _slot = match shared.slots.try_acquire() {
        Ok(s) => s,
        Err(_) => {
            attempt.fail(
                Decision::Deny,
                format!(
                    "too many connections at once (the limit is {})",
                    crate::MAX_CONNECTIONS
                ),
                None,
            );
            let _ = relay::write_all(
                &client,
                &response("503 Service Unavailable", &refusal_body(&attempt.ev)),
            )
            .await;
            return attempt.report(shared).await;
        }
    };
    let refuse = |attempt: &mut Attempt, status: &str, reason: String, rule: Option<String>| {
        let decision = if status.starts_with('4') {
            Decision::Deny
        } else {
            Decision::Error
        };
        attempt.fail(decision, reason, rule);
        response(status, &refusal_body(&attempt.ev))
    };
    let Some(target) = Host::parse(&host) else {
        let r = refuse(
            &mut attempt,
            "403 Forbidden",
            "not a valid host name or address".into(),
            None,
        );
        let _ = relay::write_all(&client, &r).await;
        return attempt.report(shared).await;
    };
    // The Host header must name the same host (else it is fronting).
    let host_header = head
        .headers
        .iter()
        .find(|(n, _)| n == "host")
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
    if let Some(h) = &host_header {
        let named = split_authority(h, Some(port)).and_then(|(h, _)| Host::parse(&h));
        if named.as_ref() != Some(&target) {
            let r = refuse(
                &mut attempt,
                "403 Forbidden",
                format!("the Host header {h:?} does not match the URL's host {host:?}"),
                None,
            );
            let _ = relay::write_all(&client, &r).await;
            return attempt.report(shared).await;
        }
    }
    let allowed = match decide::decide(&shared.policy, &target, port).await {
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
            return attempt.report(shared).await;
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
        return attempt.report(shared).await;
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
            return attempt.report(shared).await;
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
    let sent = out.len() as u64;
    if relay::write_all(&upstream, &out).await.is_err() {
        attempt.fail(
            Decision::Error,
            "the upstream closed the connection".into(),
            Some(rule),
        );
        return attempt.report(shared).await;
    }
    let mut shutdown = shared.shutdown.clone();
    let both = async {
        tokio::join!(
            relay::pump(&client, &upstream),
            relay::pump(&upstream, &client)
        )
    };
    tokio::select! {
        ((up, _), (down, _)) = both => {
            attempt.ev.bytes_up = sent + up;
            attempt.ev.bytes_down = down;
        }
        _ = shutdown.wait_for(|s| *s) => {
            attempt.ev.reason = Some("the sandbox ended while the request was open".into());
        }
    }
    attempt.report(shared).await
}
