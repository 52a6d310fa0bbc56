//! The runner's local servers, on the host's 127.0.0.1, outside every
//! sandbox: the targets the scenarios reach through corral's proxy by a
//! pinned, allowed name. Each records what a breach would look like from
//! the other end (a pool login, an SSH client banner, a shell that
//! answered, bytes uploaded), so the runner never has to take a scenario's
//! word for it.

use crate::suite::Server;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a server waits for a client's next bytes.
const IDLE: Duration = Duration::from_secs(5);
/// The reverse shell's listener: what it asks, and the answer that proves
/// a shell ran it.
pub const C2_COMMAND: &[u8] = b"echo CORRAL-C2-$((6*7))\n";
pub const C2_MARKER: &str = "CORRAL-C2-42";

/// What the runner's servers saw of the clients that contacted them, one
/// line per event (named apart from the judge's [`crate::judge::Observed`]:
/// this is the other end's view).
#[derive(Debug, Default, Clone)]
pub struct ServerContacts {
    /// Logins the pool accepted (`mining.authorize`, `login`).
    pub pool_logins: Vec<String>,
    /// SSH client banners received.
    pub ssh_banners: Vec<String>,
    /// Shells that answered the listener.
    pub shells: Vec<String>,
    /// Bytes of each upload received.
    pub uploads: Vec<u64>,
}

impl ServerContacts {
    /// Breaches of `server`, in words.
    pub fn breaches(&self, server: Server) -> Vec<String> {
        match server {
            Server::Pool => self
                .pool_logins
                .iter()
                .map(|l| format!("the pool accepted a login: {l}"))
                .collect(),
            Server::Ssh => self
                .ssh_banners
                .iter()
                .map(|b| format!("the SSH server received a client banner: {b}"))
                .collect(),
            Server::C2 => self
                .shells
                .iter()
                .map(|s| format!("a shell answered the listener: {s}"))
                .collect(),
            Server::Web => Vec::new(),
        }
    }
}

pub struct Servers {
    ports: [(Server, u16); 4],
    seen: Arc<Mutex<ServerContacts>>,
    stop: Arc<AtomicBool>,
}

impl Servers {
    /// Binds every server on 127.0.0.1 (ephemeral ports) and starts it.
    pub fn start() -> std::io::Result<Servers> {
        let seen: Arc<Mutex<ServerContacts>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut ports = [(Server::Pool, 0u16); 4];
        for (slot, server) in ports.iter_mut().zip(Server::ALL) {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let port = listener.local_addr()?.port();
            *slot = (server, port);
            let seen = seen.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("verify-{}", server.key()))
                .spawn(move || serve(listener, server, seen, stop))?;
        }
        Ok(Servers { ports, seen, stop })
    }

    pub fn port(&self, server: Server) -> u16 {
        self.ports
            .iter()
            .find(|(s, _)| *s == server)
            .map_or(0, |(_, p)| *p)
    }

    /// What the servers saw since the last call.
    pub fn take(&self) -> ServerContacts {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake every accept loop so it sees the flag.
        for (_, port) in self.ports {
            let _ = TcpStream::connect(("127.0.0.1", port));
        }
    }
}

fn serve(
    listener: TcpListener,
    server: Server,
    seen: Arc<Mutex<ServerContacts>>,
    stop: Arc<AtomicBool>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let seen = seen.clone();
        let _ = std::thread::Builder::new()
            .name(format!("verify-{}-conn", server.key()))
            .spawn(move || {
                let _ = stream.set_read_timeout(Some(IDLE));
                let _ = stream.set_write_timeout(Some(IDLE));
                let record = |f: &dyn Fn(&mut ServerContacts)| {
                    f(&mut seen.lock().unwrap_or_else(PoisonError::into_inner));
                };
                match server {
                    Server::Pool => pool(stream, &record),
                    Server::Ssh => ssh(stream, &record),
                    Server::C2 => c2(stream, &record),
                    Server::Web => web(stream, &record),
                }
            });
    }
}

type Record<'a> = &'a dyn Fn(&dyn Fn(&mut ServerContacts));

/// Line-delimited JSON-RPC, each line plain or base64.
fn pool(stream: TcpStream, record: Record<'_>) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut lines = BufReader::new(stream);
    let mut line = String::new();
    for _ in 0..32 {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = line.trim();
        let call: Option<Value> = serde_json::from_str(text)
            .ok()
            .or_else(|| base64_decode(text).and_then(|bytes| serde_json::from_slice(&bytes).ok()));
        let Some(call) = call else {
            let _ = out.write_all(b"{\"id\":null,\"result\":null,\"error\":\"bad request\"}\n");
            continue;
        };
        let id = call.get("id").cloned().unwrap_or(Value::Null);
        let method = call.get("method").and_then(Value::as_str).unwrap_or("");
        let reply = match method {
            "mining.subscribe" => serde_json::json!({
                "id": id,
                "result": [[["mining.notify", "ae6812eb4cd7735a302a8a9dd95cf71f"]], "08000002", 4],
                "error": null,
            }),
            "mining.authorize" => {
                let worker = call
                    .pointer("/params/0")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned();
                record(&|s| {
                    s.pool_logins
                        .push(format!("mining.authorize as {}", printable(&worker)))
                });
                serde_json::json!({ "id": id, "result": true, "error": null })
            }
            "login" => {
                let agent = call
                    .pointer("/params/agent")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned();
                record(&|s| {
                    s.pool_logins
                        .push(format!("login with agent {}", printable(&agent)))
                });
                serde_json::json!({
                    "id": id, "jsonrpc": "2.0", "error": null,
                    "result": { "id": "corral-verify", "status": "OK",
                                "job": { "blob": "0707", "job_id": "1", "target": "b88d0600" } },
                })
            }
            _ => serde_json::json!({ "id": id, "result": null, "error": "unknown method" }),
        };
        let mut bytes = reply.to_string().into_bytes();
        bytes.push(b'\n');
        if out.write_all(&bytes).is_err() {
            return;
        }
    }
}

/// Sends a banner; a client banner back is an SSH session that got through.
fn ssh(mut stream: TcpStream, record: Record<'_>) {
    if stream
        .write_all(b"SSH-2.0-OpenSSH_9.6 corral-verify\r\n")
        .is_err()
    {
        return;
    }
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 256 {
        match stream.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&line).trim().to_owned();
    if text.starts_with("SSH-") {
        record(&|s| s.ssh_banners.push(printable(&text)));
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Sends one command and waits for its answer.
fn c2(mut stream: TcpStream, record: Record<'_>) {
    if stream.write_all(C2_COMMAND).is_err() {
        return;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&got).contains(C2_MARKER) {
            record(&|s| s.shells.push(format!("{C2_MARKER} came back")));
            break;
        }
    }
    let _ = stream.write_all(b"exit\n");
    let _ = stream.shutdown(Shutdown::Both);
}

/// HTTP/1.x: GET answers `ok`; POST counts (and discards) the body.
fn web(mut stream: TcpStream, record: Record<'_>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let body_start = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if head.len() > 64 * 1024 {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    };
    let text = String::from_utf8_lossy(&head[..body_start]).into_owned();
    let method = text.split_whitespace().next().unwrap_or("").to_owned();
    let length: u64 = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut received = (head.len() - body_start) as u64;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut big = vec![0u8; 256 * 1024];
    while received < length {
        match stream.read(&mut big) {
            Ok(0) | Err(_) => break,
            Ok(n) => received += n as u64,
        }
    }
    let body = if method == "POST" || method == "PUT" {
        record(&|s| s.uploads.push(received));
        format!("received {received} bytes\n")
    } else {
        "ok\n".to_owned()
    };
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.shutdown(Shutdown::Write);
}

/// Control characters escaped, at most 120 characters.
fn printable(s: &str) -> String {
    let cut = s.char_indices().nth(120).map_or(s.len(), |(i, _)| i);
    corral_policy::printable(&s[..cut])
}

/// Standard base64 (padding optional); `None` for anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_what_python_writes() {
        // base64.b64encode(b'{"id": 1}')
        assert_eq!(
            base64_decode("eyJpZCI6IDF9").as_deref(),
            Some(&b"{\"id\": 1}"[..])
        );
        assert_eq!(base64_decode("aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64_decode("not base64!"), None);
    }

    #[test]
    fn the_pool_records_a_wrapped_login_and_the_sink_counts_bytes() {
        let servers = Servers::start().expect("start");
        let mut s = TcpStream::connect(("127.0.0.1", servers.port(Server::Pool))).expect("pool");
        // base64 of {"id": 2, "method": "mining.authorize", "params": ["w", "x"]}
        s.write_all(b"eyJpZCI6IDIsICJtZXRob2QiOiAibWluaW5nLmF1dGhvcml6ZSIsICJwYXJhbXMiOiBbInciLCAieCJdfQ==\n")
            .expect("write");
        let mut answer = String::new();
        BufReader::new(&s).read_line(&mut answer).expect("read");
        assert!(answer.contains("\"result\":true"), "{answer}");
        let mut w = TcpStream::connect(("127.0.0.1", servers.port(Server::Web))).expect("web");
        w.write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            .expect("write");
        let mut reply = String::new();
        w.read_to_string(&mut reply).expect("read");
        assert!(reply.contains("received 5 bytes"), "{reply}");
        let seen = servers.take();
        assert_eq!(seen.pool_logins, ["mining.authorize as w"]);
        assert_eq!(seen.uploads, [5]);
        assert!(servers.take().pool_logins.is_empty());
    }
}
