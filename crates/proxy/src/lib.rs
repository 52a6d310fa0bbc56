//! corral's egress proxy. The supervisor serves listening sockets that
//! init created inside the sandbox's network namespace: an HTTP proxy
//! (forward and CONNECT), a SOCKS5 proxy and a DNS resolver. Every attempt
//! is decided by the policy, checked against what the client actually
//! sends, and reported as an [`event::NetEvent`].
//!
//! The proxy runs on its own tokio runtime (two worker threads) beside the
//! supervisor's single-threaded loop; [`start`] takes the sockets and the
//! policy, [`Proxy::finish`] stops it and waits for the last events.

#![forbid(unsafe_code)]

pub mod decide;
pub mod dns;
mod dns_server;
pub mod event;
mod http;
pub mod peer;
mod relay;
pub mod sniff;
mod socks;
mod tunnel;

use corral_policy::net::NetPolicy;
use event::Sink;
use std::net::{TcpListener, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Semaphore};

/// Concurrent connections (and DNS queries) the proxy serves for one
/// sandbox, counted from the moment they are accepted; more are refused
/// (and reported), so a sandbox cannot exhaust the supervisor.
pub const MAX_CONNECTIONS: usize = 2048;

/// Kernel buffer size asked for on every proxied socket (the kernel
/// doubles it). Bounds the host memory a sandbox can pin in socket
/// buffers: at most about MAX_CONNECTIONS x 2 sockets x 2 x 2 x this.
pub const SOCKET_BUFFER: usize = 256 * 1024;

/// The listening sockets, already bound inside the sandbox's namespace.
#[derive(Debug)]
pub struct Sockets {
    pub http: TcpListener,
    pub socks: TcpListener,
    pub dns_udp: UdpSocket,
    pub dns_tcp: TcpListener,
    /// How to find which sandboxed process connected.
    pub peers: Option<peer::Peers>,
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub policy: NetPolicy,
    pub sink: Sink,
    pub shutdown: watch::Receiver<bool>,
    pub slots: Arc<Semaphore>,
    pub active: AtomicUsize,
    pub peers: Option<Arc<peer::Peers>>,
    /// A few client-pid lookups at a time; others are skipped (telemetry).
    pub lookups: Arc<Semaphore>,
    /// The addresses of this machine's interfaces.
    pub local: Vec<std::net::IpAddr>,
}

impl Shared {
    pub fn emit(&self, ev: event::NetEvent) {
        (self.sink)(ev)
    }
}

/// A running proxy.
pub struct Proxy {
    runtime: tokio::runtime::Runtime,
    stop: watch::Sender<bool>,
    shared: Arc<Shared>,
}

/// Errors starting the proxy.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the egress proxy's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("cannot serve the egress proxy's {what} socket: {source}")]
    Socket {
        what: &'static str,
        source: std::io::Error,
    },
}

/// Starts serving. Call after the sandbox exists (this starts threads).
pub fn start(sockets: Sockets, policy: NetPolicy, sink: Sink) -> Result<Proxy, StartError> {
    raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Name lookups (getaddrinfo) run here; bounded like connections.
        .max_blocking_threads(64)
        .thread_name("corral-proxy")
        .thread_stack_size(512 * 1024)
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    let (stop, shutdown) = watch::channel(false);
    let shared = Arc::new(Shared {
        policy,
        sink,
        shutdown,
        slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        active: AtomicUsize::new(0),
        peers: sockets.peers.map(Arc::new),
        lookups: Arc::new(Semaphore::new(4)),
        local: local_addresses(),
    });
    let sock = |what| move |source| StartError::Socket { what, source };
    {
        let _guard = runtime.enter();
        let tcp = |l: TcpListener, what| -> Result<tokio::net::TcpListener, StartError> {
            l.set_nonblocking(true).map_err(sock(what))?;
            // Accepted sockets inherit the listener's buffer sizes.
            relay::limit_buffers(&l);
            tokio::net::TcpListener::from_std(l).map_err(sock(what))
        };
        let http = tcp(sockets.http, "HTTP")?;
        let socks = tcp(sockets.socks, "SOCKS5")?;
        let dns_tcp = tcp(sockets.dns_tcp, "DNS (TCP)")?;
        sockets.dns_udp.set_nonblocking(true).map_err(sock("DNS"))?;
        let dns_udp = tokio::net::UdpSocket::from_std(sockets.dns_udp).map_err(sock("DNS"))?;
        runtime.spawn(accept_loop(shared.clone(), http, Kind::Http));
        runtime.spawn(accept_loop(shared.clone(), socks, Kind::Socks));
        runtime.spawn(accept_loop(shared.clone(), dns_tcp, Kind::DnsTcp));
        runtime.spawn(dns_server::serve_udp(shared.clone(), dns_udp));
    }
    Ok(Proxy {
        runtime,
        stop,
        shared,
    })
}

impl Proxy {
    /// Stops accepting, tells every open connection to end and report
    /// itself, waits up to `grace` for them, then drops whatever is left
    /// (which reports itself as it goes). Every event has been handed to
    /// the sink when this returns, and the sink itself is dropped.
    pub fn finish(self, grace: Duration) {
        let _ = self.stop.send(true);
        let deadline = Instant::now() + grace;
        let shared = self.shared.clone();
        self.runtime.block_on(async move {
            while shared.active.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        self.runtime.shutdown_timeout(Duration::from_millis(100));
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Http,
    Socks,
    DnsTcp,
}

async fn accept_loop(shared: Arc<Shared>, listener: tokio::net::TcpListener, kind: Kind) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                // Out of descriptors and the like: wait, do not spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        // A slot from the start: a connection that never finishes its
        // request holds one too.
        let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
            refuse_busy(&shared, stream, kind);
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _active = Active::new(&shared);
            let _slot = slot;
            let mut stop = shared.shutdown.clone();
            let serve = async {
                match kind {
                    Kind::Http => http::serve(&shared, stream).await,
                    Kind::Socks => socks::serve(&shared, stream).await,
                    Kind::DnsTcp => dns_server::serve_tcp(&shared, stream).await,
                }
            };
            // On shutdown the attempt is dropped, which reports it.
            tokio::select! {
                () = serve => {}
                _ = stop.wait_for(|s| *s) => {}
            }
        });
    }
}

/// At the connection limit: the client is told (HTTP 503) where its
/// protocol allows it without waiting for it, and it is on record.
fn refuse_busy(shared: &Shared, stream: tokio::net::TcpStream, kind: Kind) {
    let via = match kind {
        Kind::Http => event::Via::HttpConnect,
        Kind::Socks => event::Via::Socks5,
        Kind::DnsTcp => event::Via::DnsTcp,
    };
    let mut ev = event::NetEvent::new(event::NetKind::Connect, via, String::new(), 0);
    ev.decision = event::Decision::Deny;
    ev.severity = event::NetSeverity::Warning;
    ev.reason = Some(format!(
        "too many connections at once (the limit is {MAX_CONNECTIONS})"
    ));
    if matches!(kind, Kind::Http) {
        let body = format!("corral: {}\n", ev.line());
        let reply = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.try_write(reply.as_bytes());
    }
    shared.emit(ev);
}

/// The addresses of this machine's interfaces (the proxy connects from
/// the host's namespace, where they reach local services).
fn local_addresses() -> Vec<std::net::IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| {
            let addr = a.address?;
            if let Some(v4) = addr.as_sockaddr_in() {
                return Some(std::net::IpAddr::V4(v4.ip()));
            }
            addr.as_sockaddr_in6()
                .map(|v6| std::net::IpAddr::V6(v6.ip()))
        })
        .collect()
}

/// Starts looking up the process behind a client socket (telemetry; the
/// attempt goes on meanwhile). At most one runs at a time: when one is
/// already running this attempt goes without.
pub(crate) fn lookup_pid(
    shared: &Shared,
    transport: peer::Transport,
    client: std::io::Result<std::net::SocketAddr>,
    server: std::io::Result<std::net::SocketAddr>,
) -> Option<tokio::task::JoinHandle<Option<u32>>> {
    let (peers, client, server) = (shared.peers.clone()?, client.ok()?, server.ok()?);
    let permit = shared.lookups.clone().try_acquire_owned().ok()?;
    Some(tokio::task::spawn_blocking(move || {
        let _permit = permit;
        peers.client_pid(transport, client, server)
    }))
}

/// Counts a connection as open while alive (for [`Proxy::finish`]).
pub(crate) struct Active<'a>(&'a Shared);

impl<'a> Active<'a> {
    pub fn new(shared: &'a Shared) -> Active<'a> {
        shared.active.fetch_add(1, Ordering::AcqRel);
        Active(shared)
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Each tunnel holds up to six descriptors (two sockets, two pipes):
/// lift the soft limit towards the hard one. The sandbox was created
/// before, with the limits it was given.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let want = (MAX_CONNECTIONS as u64 * 6 + 256).min(hard);
        if want > soft {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, want, hard);
        }
    }
}
