//! Which sandboxed process made a connection: the client socket's inode,
//! asked of the sandbox's own `NETLINK_SOCK_DIAG` socket (an exact lookup
//! by address and ports; reading `/proc/PID/net/tcp` instead makes the
//! kernel walk the host's whole connection table, about 10 ms a read on
//! a large machine), then the descendant of the sandbox's init holding
//! that inode. Telemetry only: it never decides anything (the process
//! may be gone, or lie in wait), and it is bounded in the work it does.

use nix::sys::socket::{recv, send, setsockopt, sockopt, MsgFlags};
use std::net::{SocketAddr, SocketAddrV4};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Upper bound on one lookup's descriptor reads, so an fd-heavy sandbox
/// cannot make it expensive (the process walk is bounded by its provider).
const MAX_DESCRIPTORS: usize = 32 * 1024;

/// Transport of the socket looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

/// The means of a lookup: the sandbox's init (host pid), the walk that
/// lists the processes below it (the sandbox crate's, handed in by the
/// caller: this crate does not depend on it), and a sock_diag socket in
/// the sandbox's network namespace.
#[derive(Debug)]
pub struct Peers {
    init_pid: i32,
    processes: fn(i32) -> Vec<u32>,
    diag: Mutex<OwnedFd>,
    seq: AtomicU32,
}

impl Peers {
    pub fn new(init_pid: i32, processes: fn(i32) -> Vec<u32>, diag: OwnedFd) -> Peers {
        // A lookup never waits long for the kernel's answer.
        let _ = setsockopt(
            &diag,
            sockopt::ReceiveTimeout,
            &nix::sys::time::TimeVal::new(0, 200_000),
        );
        Peers {
            init_pid,
            processes,
            diag: Mutex::new(diag),
            seq: AtomicU32::new(1),
        }
    }

    /// The host pid of the sandboxed process that owns the socket bound to
    /// `client` and connected to `server`.
    pub fn client_pid(
        &self,
        transport: Transport,
        client: SocketAddr,
        server: SocketAddr,
    ) -> Option<u32> {
        let (SocketAddr::V4(client), SocketAddr::V4(server)) = (client, server) else {
            return None;
        };
        let inode = self.inode(transport, client, server)?;
        let wanted = format!("socket:[{inode}]");
        let mut budget = MAX_DESCRIPTORS;
        (self.processes)(self.init_pid)
            .into_iter()
            .find(|pid| holds(*pid, &wanted, &mut budget))
    }

    fn inode(
        &self,
        transport: Transport,
        client: SocketAddrV4,
        server: SocketAddrV4,
    ) -> Option<u32> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let request = diag_request(transport, client, server, seq);
        let fd = self.diag.lock().ok()?;
        send(
            std::os::fd::AsRawFd::as_raw_fd(&*fd),
            &request,
            MsgFlags::empty(),
        )
        .ok()?;
        let mut buf = [0u8; 1024];
        // Answers to earlier, timed-out requests may be queued: skip them.
        for _ in 0..8 {
            let n = recv(
                std::os::fd::AsRawFd::as_raw_fd(&*fd),
                &mut buf,
                MsgFlags::empty(),
            )
            .ok()?;
            if let Some(answer) = parse_answer(&buf[..n], seq) {
                return answer;
            }
        }
        None
    }
}

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_HDRLEN: usize = 16;

/// An exact `inet_diag_req_v2` for the socket `client` -> `server`.
fn diag_request(
    transport: Transport,
    client: SocketAddrV4,
    server: SocketAddrV4,
    seq: u32,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(72);
    m.extend_from_slice(&72u32.to_ne_bytes()); // nlmsg_len
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel
    m.push(libc::AF_INET as u8);
    m.push(match transport {
        Transport::Tcp => libc::IPPROTO_TCP as u8,
        Transport::Udp => libc::IPPROTO_UDP as u8,
    });
    m.push(0); // idiag_ext
    m.push(0); // pad
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
                                                  // inet_diag_sockid, ports and addresses in network order. TCP's exact
                                                  // lookup takes the socket's own address as the source; UDP's takes
                                                  // it as the destination (as for a datagram arriving at it).
    let (src, dst) = match transport {
        Transport::Tcp => (client, server),
        Transport::Udp => (server, client),
    };
    m.extend_from_slice(&src.port().to_be_bytes());
    m.extend_from_slice(&dst.port().to_be_bytes());
    for addr in [src, dst] {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&addr.ip().octets());
        m.extend_from_slice(&bytes);
    }
    m.extend_from_slice(&0u32.to_ne_bytes()); // interface
    m.extend_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
    debug_assert_eq!(m.len(), 72);
    m
}

/// The inode in the kernel's answer to request `seq`: `Some(Some(inode))`,
/// `Some(None)` when the kernel answered with an error (no such socket),
/// `None` for a message that is not the answer to `seq`.
fn parse_answer(msg: &[u8], seq: u32) -> Option<Option<u32>> {
    let u16_at = |at: usize| Some(u16::from_ne_bytes(msg.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_ne_bytes(msg.get(at..at + 4)?.try_into().ok()?));
    if u32_at(8)? != seq {
        return None;
    }
    match u16_at(4)? {
        NLMSG_ERROR => Some(None),
        SOCK_DIAG_BY_FAMILY => {
            // inet_diag_msg: 4 bytes, the 48-byte sockid, expires, rqueue,
            // wqueue, uid, then the inode.
            Some(u32_at(NLMSG_HDRLEN + 4 + 48 + 16))
        }
        _ => Some(None),
    }
}

/// Whether `pid` has a descriptor on `wanted`; each one read spends one
/// of `budget`.
fn holds(pid: u32, wanted: &str, budget: &mut usize) -> bool {
    let dir = format!("/proc/{pid}/fd");
    let Ok(entries) = std::fs::read_dir(Path::new(&dir)) else {
        return false;
    };
    for e in entries.flatten() {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        if std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == wanted) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
    use std::net::Ipv4Addr;

    fn diag_socket() -> OwnedFd {
        socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )
        .expect("a sock_diag socket")
    }

    #[test]
    fn finds_this_process_behind_a_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let server = listener.local_addr().expect("addr");
        let client = std::net::TcpStream::connect(server).expect("connect");
        let (_accepted, from) = listener.accept().expect("accept");
        let peers = Peers::new(0, |_| Vec::new(), diag_socket());
        let (SocketAddr::V4(from), SocketAddr::V4(to)) = (from, server) else {
            panic!("IPv4 expected")
        };
        let inode = peers
            .inode(Transport::Tcp, from, to)
            .expect("the kernel knows the client socket");
        let mut budget = MAX_DESCRIPTORS;
        assert!(holds(
            std::process::id(),
            &format!("socket:[{inode}]"),
            &mut budget
        ));
        drop(client);
    }

    #[test]
    fn no_such_socket_is_none() {
        let peers = Peers::new(0, |_| Vec::new(), diag_socket());
        let nowhere = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1);
        assert_eq!(peers.inode(Transport::Tcp, nowhere, nowhere), None);
    }

    #[test]
    fn answers_to_other_requests_are_skipped() {
        let mut msg = vec![0u8; 100];
        msg[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        msg[8..12].copy_from_slice(&7u32.to_ne_bytes());
        msg[84..88].copy_from_slice(&4242u32.to_ne_bytes());
        assert_eq!(parse_answer(&msg, 7), Some(Some(4242)));
        assert_eq!(parse_answer(&msg, 8), None);
        assert_eq!(parse_answer(&msg[..10], 7), None);
    }
}
