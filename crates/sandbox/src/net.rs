//! The sandbox's side of the egress proxy. A sandbox with network has its
//! own network namespace with only loopback; init binds the proxy's
//! listening sockets there, before anything of the command runs, and sends
//! them to the supervisor, which serves them from the host side. So the
//! only way out of the namespace is a connection to one of these sockets.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The address the proxy listens on inside the sandbox.
pub const PROXY_ADDR: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// HTTP forward proxy and CONNECT (`HTTP_PROXY`, `HTTPS_PROXY`).
pub const HTTP_PORT: u16 = 3128;
/// SOCKS5 (`ALL_PROXY=socks5h://...`).
pub const SOCKS_PORT: u16 = 1080;
/// The resolver named by the sandbox's resolv.conf (UDP and TCP).
pub const DNS_PORT: u16 = 53;

/// What the sandbox's resolv.conf says.
pub const RESOLV_CONF: &str =
    "# corral: names are resolved by corral's resolver, which answers by policy\nnameserver 127.0.0.1\n";

/// The proxy's listening sockets, in the sandbox's network namespace.
#[derive(Debug)]
pub struct Listeners {
    pub http: TcpListener,
    pub socks: TcpListener,
    pub dns_udp: UdpSocket,
    pub dns_tcp: TcpListener,
    /// A `NETLINK_SOCK_DIAG` socket of the sandbox's namespace: the
    /// supervisor asks it which socket inode a client connection has
    /// (an exact lookup, where `/proc/PID/net/tcp` walks every socket of
    /// the host's table).
    pub diag: OwnedFd,
    /// The sandbox's init, as a host pid (for looking up a client's pid
    /// through `/proc/PID/net`).
    pub init_pid: i32,
}

/// Binds the listeners (in init, inside the namespace). Port 53 is fine:
/// init holds CAP_NET_BIND_SERVICE in the namespace's own user namespace.
pub(crate) fn bind() -> std::io::Result<Vec<OwnedFd>> {
    let at = |port| SocketAddrV4::new(PROXY_ADDR, port);
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
    let diag = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    Ok(vec![
        TcpListener::bind(at(HTTP_PORT))?.into(),
        TcpListener::bind(at(SOCKS_PORT))?.into(),
        UdpSocket::bind(at(DNS_PORT))?.into(),
        TcpListener::bind(at(DNS_PORT))?.into(),
        diag,
    ])
}

impl Listeners {
    /// Takes the descriptors init sent, in [`bind`]'s order.
    pub(crate) fn from_fds(fds: Vec<OwnedFd>, init_pid: i32) -> Option<Listeners> {
        let [http, socks, dns_udp, dns_tcp, diag]: [OwnedFd; 5] = fds.try_into().ok()?;
        Some(Listeners {
            http: http.into(),
            socks: socks.into(),
            dns_udp: dns_udp.into(),
            dns_tcp: dns_tcp.into(),
            diag,
            init_pid,
        })
    }
}

/// The file to cover with [`RESOLV_CONF`] in the sandbox, as a host path:
/// `/etc/resolv.conf` itself, or the regular file its symlink leads to.
/// `None` when there is nothing to cover: no resolv.conf at all, or a
/// link into a directory that is private in the sandbox (`/run`, `/tmp`),
/// where it dangles. glibc and musl then use a nameserver on 127.0.0.1,
/// which is corral's resolver all the same.
pub fn resolv_conf_target() -> Option<PathBuf> {
    let path = Path::new("/etc/resolv.conf");
    let real = std::fs::canonicalize(path).ok()?;
    let private = ["/run", "/tmp", "/var/tmp", "/dev", "/proc"];
    if private.iter().any(|p| real.starts_with(p)) {
        return None;
    }
    real.metadata().ok()?.is_file().then_some(real)
}
