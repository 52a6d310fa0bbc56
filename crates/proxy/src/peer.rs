//! Which sandboxed process made a connection: the socket's inode from the
//! sandbox's `/proc/PID/net/{tcp,udp}` (the table of its own network
//! namespace), then the descendant of the sandbox's init holding that
//! inode. Telemetry only: it is looked up while the attempt goes on and
//! never decides anything (the process may be gone, or lie in wait).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;

/// Upper bound on processes examined, so a fork-heavy sandbox cannot make
/// a lookup expensive.
const MAX_PROCESSES: usize = 4096;

/// Transport of the socket looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

/// The host pid of the process in the sandbox of `init_pid` that owns
/// the socket bound to `client` and connected to (or sending to)
/// `server`.
pub fn client_pid(
    init_pid: i32,
    transport: Transport,
    client: SocketAddr,
    server: SocketAddr,
) -> Option<u32> {
    let (SocketAddr::V4(client), SocketAddr::V4(server)) = (client, server) else {
        return None;
    };
    let table = match transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    };
    let text = std::fs::read_to_string(format!("/proc/{init_pid}/net/{table}")).ok()?;
    let inode = find_inode(&text, client, server)?;
    let wanted = format!("socket:[{inode}]");
    descendants(init_pid)
        .into_iter()
        .find(|pid| holds(*pid, &wanted))
}

/// The inode of the socket whose local address is `client` and whose
/// remote is `server` (or unset, for an unconnected UDP socket).
fn find_inode(table: &str, client: SocketAddrV4, server: SocketAddrV4) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local = parse_addr(f.get(1)?)?;
        let remote = parse_addr(f.get(2)?)?;
        let unset = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0);
        (local == client && (remote == server || remote == unset))
            .then(|| f.get(9)?.parse().ok())
            .flatten()
    })
}

/// `0100007F:1F90` (the address as the kernel's in-memory word, the port
/// in host order) -> 127.0.0.1:8080.
fn parse_addr(s: &str) -> Option<SocketAddrV4> {
    let (ip, port) = s.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(ip.to_ne_bytes()), port))
}

/// Every process below `init_pid` (not init itself), breadth first.
fn descendants(init_pid: i32) -> Vec<u32> {
    let mut found: Vec<u32> = Vec::new();
    let mut queue = vec![u32::try_from(init_pid).unwrap_or(0)];
    while let Some(pid) = queue.pop() {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
        for task in tasks.into_iter().flatten().flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                if found.len() >= MAX_PROCESSES {
                    return found;
                }
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

fn holds(pid: u32, wanted: &str) -> bool {
    let dir = format!("/proc/{pid}/fd");
    let Ok(entries) = std::fs::read_dir(Path::new(&dir)) else {
        return false;
    };
    entries
        .flatten()
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0C38 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A1B2 0100007F:0C38 01 00000000:00000000 00:00000000 00000000  1000        0 2222 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn finds_the_client_socket() {
        let client = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0xA1B2);
        let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 3128);
        assert_eq!(find_inode(TABLE, client, server), Some(2222));
        let other = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0xA1B3);
        assert_eq!(find_inode(TABLE, other, server), None);
    }

    #[test]
    fn parses_kernel_addresses() {
        assert_eq!(
            parse_addr("0100007F:0C38"),
            Some(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 3128))
        );
        assert_eq!(parse_addr("zz:1"), None);
    }

    #[test]
    fn finds_a_real_process_holding_a_socket() {
        // This process's own listening socket, found from its parent's
        // point of view is not possible here; check the fd scan instead.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let local = listener.local_addr().expect("addr");
        let text = std::fs::read_to_string("/proc/self/net/tcp").expect("read tcp table");
        let SocketAddr::V4(local) = local else {
            panic!("bound an IPv4 address")
        };
        let inode = find_inode(&text, local, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
            .expect("the listener is in the table");
        assert!(holds(std::process::id(), &format!("socket:[{inode}]")));
    }
}
