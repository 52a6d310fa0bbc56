//! The SOCKS5 port (RFC 1928): no authentication, CONNECT only, with the
//! name resolved by the proxy (`socks5h://`). A refusal is SOCKS reply 2,
//! "connection not allowed by ruleset"; the reason goes to the log.

use crate::decide::Host;
use crate::event::{Decision, NetEvent, Via};
use crate::relay;
use crate::tunnel::{self, Attempt, Failure, Front};
use crate::Shared;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpStream;

/// How long a client may take over the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

const REP_OK: u8 = 0;
const REP_FAILURE: u8 = 1;
const REP_NOT_ALLOWED: u8 = 2;
const REP_HOST_UNREACHABLE: u8 = 4;
const REP_COMMAND: u8 = 7;
const REP_ADDRESS_TYPE: u8 = 8;

fn reply(code: u8, bound: Option<SocketAddr>) -> Vec<u8> {
    let mut out = vec![5, code, 0];
    match bound {
        Some(SocketAddr::V6(a)) => {
            out.push(4);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
        }
        Some(SocketAddr::V4(a)) => {
            out.push(1);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_be_bytes());
        }
        None => out.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0]),
    }
    out
}

struct SocksFront;

impl Front for SocksFront {
    fn refused(&self, _ev: &NetEvent, failure: Failure) -> Vec<u8> {
        let code = match failure {
            Failure::Denied => REP_NOT_ALLOWED,
            Failure::Unresolved | Failure::Unreachable => REP_HOST_UNREACHABLE,
        };
        reply(code, None)
    }

    fn opened(&self, local: Option<SocketAddr>) -> Vec<u8> {
        reply(REP_OK, local)
    }
}

/// Reads exactly `n` more bytes into `buf`.
async fn need(client: &TcpStream, buf: &mut Vec<u8>, n: usize) -> Option<()> {
    let want = buf.len() + n;
    while buf.len() < want {
        let got = relay::read_more(client, buf, want).await.ok()?;
        if got == 0 {
            return None;
        }
    }
    Some(())
}

/// The request: destination and any bytes the client sent after it.
enum Request {
    Connect(Option<Host>, String, u16),
    /// A command other than CONNECT: answer this code and report it
    /// (UDP ASSOCIATE is an attempt at UDP egress).
    Reject(u8, &'static str, String, u16),
    /// Broken or foreign protocol (already answered): reported.
    Malformed(String),
}

async fn handshake(client: &TcpStream) -> Option<Request> {
    let mut buf = Vec::with_capacity(64);
    need(client, &mut buf, 2).await?;
    if buf[0] != 5 {
        // SOCKS4 or something else entirely: SOCKS4's "rejected".
        let _ = relay::write_all(client, &[0, 0x5b, 0, 0, 0, 0, 0, 0]).await;
        let what = if buf[0] == 4 { "SOCKS4" } else { "not SOCKS5" };
        return Some(Request::Malformed(format!(
            "{what}: only SOCKS5 is served here"
        )));
    }
    let methods = buf[1] as usize;
    need(client, &mut buf, methods).await?;
    if !buf[2..2 + methods].contains(&0) {
        let _ = relay::write_all(client, &[5, 0xff]).await;
        return Some(Request::Malformed(
            "the client offered no SOCKS5 method without authentication".into(),
        ));
    }
    relay::write_all(client, &[5, 0]).await.ok()?;
    buf.clear();
    need(client, &mut buf, 4).await?;
    if buf[0] != 5 {
        let _ = relay::write_all(client, &reply(REP_FAILURE, None)).await;
        return Some(Request::Malformed("a malformed SOCKS5 request".into()));
    }
    let command = buf[1];
    let (host, text) = match buf[3] {
        1 => {
            need(client, &mut buf, 4).await?;
            let ip = IpAddr::V4(Ipv4Addr::new(buf[4], buf[5], buf[6], buf[7]));
            (Some(Host::Ip(crate::decide::canonical(ip))), ip.to_string())
        }
        3 => {
            need(client, &mut buf, 1).await?;
            let len = buf[4] as usize;
            need(client, &mut buf, len).await?;
            let name = String::from_utf8_lossy(&buf[5..5 + len]).into_owned();
            (Host::parse(&name), name)
        }
        4 => {
            need(client, &mut buf, 16).await?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&buf[4..20]);
            let ip = IpAddr::V6(Ipv6Addr::from(octets));
            (Some(Host::Ip(crate::decide::canonical(ip))), ip.to_string())
        }
        kind => {
            let _ = relay::write_all(client, &reply(REP_ADDRESS_TYPE, None)).await;
            return Some(Request::Malformed(format!(
                "unknown SOCKS5 address type {kind}"
            )));
        }
    };
    let at = buf.len();
    need(client, &mut buf, 2).await?;
    let port = u16::from_be_bytes([buf[at], buf[at + 1]]);
    if command != 1 {
        let name = match command {
            2 => "BIND (an inbound connection)",
            3 => "UDP ASSOCIATE (UDP traffic)",
            _ => "an unknown command",
        };
        return Some(Request::Reject(REP_COMMAND, name, text, port));
    }
    Some(Request::Connect(host, text, port))
}

/// Serves one client connection on the SOCKS5 port.
pub async fn serve(shared: &Shared, client: TcpStream) {
    let _ = client.set_nodelay(true);
    let request = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&client)).await {
        Ok(Some(r)) => r,
        _ => return,
    };
    match request {
        Request::Reject(code, name, text, port) => {
            let _ = relay::write_all(&client, &reply(code, None)).await;
            let mut attempt = Attempt::new(shared, &client, Via::Socks5, text, port);
            let why = format!("SOCKS5 {name} is not supported; only CONNECT is");
            attempt.fail(Decision::Deny, why, None);
            attempt.report().await;
        }
        Request::Malformed(why) => {
            let mut attempt = Attempt::new(shared, &client, Via::Socks5, String::new(), 0);
            attempt.fail(Decision::Deny, why, None);
            attempt.report().await;
        }
        Request::Connect(host, text, port) => {
            let attempt = Attempt::new(shared, &client, Via::Socks5, text, port);
            tunnel::run(shared, client, &SocksFront, attempt, host, Vec::new()).await
        }
    }
}
