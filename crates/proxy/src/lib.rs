//! corral's egress proxy. The supervisor serves listening sockets that
//! init created inside the sandbox's network namespace: an HTTP proxy
//! (forward and CONNECT), a SOCKS5 proxy and a DNS resolver. Every attempt
//! is decided by the policy, checked against what the client actually
//! sends, and reported as an [`event::NetEvent`].
//!
//! The proxy runs on its own tokio runtime (two worker threads) beside the
//! supervisor's single-threaded loop; [`start`] takes the sockets and the
//! policy, [`Proxy::finish`] stops it and waits for the last events.

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

/// Concurrent connections the proxy serves for one sandbox; more are
/// refused (and reported), so a sandbox cannot exhaust the supervisor.
pub const MAX_CONNECTIONS: usize = 4096;

/// The listening sockets, already bound inside the sandbox's namespace.
#[derive(Debug)]
pub struct Sockets {
    pub http: TcpListener,
    pub socks: TcpListener,
    pub dns_udp: UdpSocket,
    pub dns_tcp: TcpListener,
    /// The sandbox's init (host pid), to find which process connected.
    pub init_pid: Option<i32>,
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub policy: NetPolicy,
    pub sink: Sink,
    pub shutdown: watch::Receiver<bool>,
    pub slots: Semaphore,
    pub active: AtomicUsize,
    pub init_pid: Option<i32>,
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
        .enable_all()
        .build()
        .map_err(StartError::Runtime)?;
    let (stop, shutdown) = watch::channel(false);
    let shared = Arc::new(Shared {
        policy,
        sink,
        shutdown,
        slots: Semaphore::new(MAX_CONNECTIONS),
        active: AtomicUsize::new(0),
        init_pid: sockets.init_pid,
    });
    let sock = |what| move |source| StartError::Socket { what, source };
    {
        let _guard = runtime.enter();
        let tcp = |l: TcpListener, what| -> Result<tokio::net::TcpListener, StartError> {
            l.set_nonblocking(true).map_err(sock(what))?;
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
    /// itself, and waits up to `grace` for them.
    pub fn finish(self, grace: Duration) {
        let _ = self.stop.send(true);
        let deadline = Instant::now() + grace;
        let shared = self.shared.clone();
        self.runtime.block_on(async move {
            while shared.active.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        self.runtime.shutdown_background();
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
        let shared = shared.clone();
        tokio::spawn(async move {
            let _active = Active::new(&shared);
            match kind {
                Kind::Http => http::serve(&shared, stream).await,
                Kind::Socks => socks::serve(&shared, stream).await,
                Kind::DnsTcp => dns_server::serve_tcp(&shared, stream).await,
            }
        });
    }
}

/// Starts looking up the process behind a client socket (telemetry; the
/// attempt goes on meanwhile).
pub(crate) fn lookup_pid(
    shared: &Shared,
    transport: peer::Transport,
    client: std::io::Result<std::net::SocketAddr>,
    server: std::io::Result<std::net::SocketAddr>,
) -> Option<tokio::task::JoinHandle<Option<u32>>> {
    let (init, client, server) = (shared.init_pid?, client.ok()?, server.ok()?);
    Some(tokio::task::spawn_blocking(move || {
        peer::client_pid(init, transport, client, server)
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
