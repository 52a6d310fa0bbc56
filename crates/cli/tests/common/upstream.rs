//! Upstream servers for the egress proxy's tests: all on the host's
//! 127.0.0.1 (the tests run in a namespace with only loopback), reached
//! from the sandbox through corral's proxy and a `--resolve` pin.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A server on 127.0.0.1 and what it received, one entry per connection.
pub struct Upstream {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Upstream {
    /// Everything received so far, per connection, as text.
    pub fn received(&self) -> Vec<String> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect()
    }

    pub fn connections(&self) -> usize {
        self.got.lock().expect("lock").len()
    }
}

fn spawn(handler: fn(&mut TcpStream) -> Vec<u8>) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
    let port = listener.local_addr().expect("addr").port();
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let record = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let record = record.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
                let data = handler(&mut stream);
                record.lock().expect("lock").push(data);
            });
        }
    });
    Upstream { port, got }
}

/// Reads until the end of an HTTP head (or EOF, or the timeout).
fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while !data.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    data
}

/// Answers every request with 200 and `hello from upstream`.
pub fn http() -> Upstream {
    spawn(|s| {
        let head = read_head(s);
        let body = "hello from upstream\n";
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        head
    })
}

/// Takes one POST (head and `Content-Length` body), answers 200, records
/// both: a webhook's receiver.
#[allow(dead_code)]
pub fn webhook() -> Upstream {
    spawn(|s| {
        let mut data = read_head(s);
        let head = String::from_utf8_lossy(&data).to_ascii_lowercase();
        let want = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let body_at = data
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(data.len(), |i| i + 4);
        let mut buf = [0u8; 4096];
        while data.len() - body_at < want {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        let _ = write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        data
    })
}

/// Sends an SSH banner, then records what the client sends.
pub fn ssh_banner() -> Upstream {
    spawn(|s| {
        let _ = s.write_all(b"SSH-2.0-CorralTestServer\r\n");
        let mut data = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
            if data.contains(&b'\n') {
                break;
            }
        }
        data
    })
}

/// Records the first bytes that arrive (or none, at EOF or the
/// timeout); sends nothing.
pub fn recorder() -> Upstream {
    spawn(|s| {
        let mut buf = vec![0u8; 64 * 1024];
        let n = s.read(&mut buf).unwrap_or(0);
        buf.truncate(n);
        buf
    })
}

/// Reads everything and never answers; keeps the connection open until
/// the client closes it or 3 s pass in silence.
pub fn holder() -> Upstream {
    spawn(|s| {
        let mut data = Vec::new();
        let _ = s.read_to_end(&mut data);
        data
    })
}

/// A child process killed on drop, with the port it printed first.
pub struct ChildServer {
    pub port: u16,
    child: Child,
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs python code that prints its port on the first line of stdout.
pub fn python_server(code: &str, dir: &Path) -> ChildServer {
    let mut child = Command::new("python3")
        .args(["-c", code])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python server");
    let mut out = child.stdout.take().expect("stdout");
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    let port = String::from_utf8_lossy(&line)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("python server printed no port: {line:?}"));
    ChildServer { port, child }
}

/// A self-signed certificate for `name` (cert, key) in `dir`.
pub fn certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName=DNS:{name}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// An HTTPS server answering `secret-ok` with the given certificate.
pub fn https(dir: &Path, cert: &Path, key: &Path) -> ChildServer {
    let code = format!(
        r#"
import ssl, http.server
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain({cert:?}, {key:?})
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"secret-ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#,
        cert = cert.display().to_string(),
        key = key.display().to_string(),
    );
    python_server(&code, dir)
}

/// Git's smart HTTP protocol: `git http-backend` behind a tiny CGI host.
pub fn git_http(root: &Path) -> ChildServer {
    let code = format!(
        r#"
import http.server, subprocess, os
ROOT = {root:?}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def cgi(self):
        path, _, query = self.path.partition("?")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        env = dict(os.environ, GIT_PROJECT_ROOT=ROOT, GIT_HTTP_EXPORT_ALL="1",
                   PATH_INFO=path, QUERY_STRING=query, REQUEST_METHOD=self.command,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(n), REMOTE_ADDR="127.0.0.1")
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, rest = out.partition(b"\r\n\r\n")
        status = 200
        headers = []
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)
    do_GET = cgi
    do_POST = cgi
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#,
        root = root.display().to_string()
    );
    python_server(&code, root)
}

/// A static file server for `dir` (a package index, say).
pub fn static_files(dir: &Path) -> ChildServer {
    let code = r#"
import http.server, functools
H = functools.partial(http.server.SimpleHTTPRequestHandler, directory=".")
H.log_message = lambda *a: None
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;
    python_server(code, dir)
}
