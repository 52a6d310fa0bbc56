//! What the monitor sees, as typed trail events: `proc.exec`, `proc.exit`,
//! `sock.connect`, `sock.bind`, `sock.sendto`, `sock.listen`,
//! `sock.socket`, `file.write` and `sys.denied`.
//!
//! [`MonitorEvents::event`] adds what the observation itself does not say,
//! read from `/proc` while the call is held: an exec's cwd, parent and
//! standard descriptors; a listen's address (from the same process's bind);
//! whether a write is inside what the sandbox may write.

use super::monitor::{Call, Observed};
use corral_event::{
    Event, FileWrite, ProcExec, ProcExit, SockBind, SockConnect, SockListen, SockSendTo,
    SockSocket, SysDenied,
};
use std::collections::HashMap;

/// Turns the monitor's observations into trail events, remembering what
/// a later event needs (where each socket was bound).
pub struct MonitorEvents<W> {
    /// Whether the sandbox may write a path (a sandbox path, absolute).
    writable: W,
    /// Where each (pid, fd) was bound, for its `listen`.
    bound: HashMap<(u32, i32), String>,
}

impl<W: Fn(&str) -> bool> MonitorEvents<W> {
    /// `writable`: whether the sandbox may write a path (its mount plan
    /// decides), for `file.write`'s `writable`.
    pub fn new(writable: W) -> MonitorEvents<W> {
        MonitorEvents {
            writable,
            bound: HashMap::new(),
        }
    }

    /// The event of one observation; `None` for a write that is noise, not
    /// evidence (`/dev/null`, terminals, pipes, sockets).
    pub fn event(&mut self, seen: Observed) -> Option<Event> {
        let pid = seen.pid;
        let consistent = (!seen.consistent).then_some(false);
        Some(match seen.call {
            // A search's miss: the call fails and runs nothing, and the
            // process is already past it (detectors skip these).
            Call::Exec {
                path,
                argv,
                dirfd,
                found: false,
            } => ProcExec {
                argv,
                consistent,
                dirfd,
                found: Some(false),
                path,
                pid,
                ..ProcExec::default()
            }
            .into(),
            Call::Exec {
                path, argv, dirfd, ..
            } => ProcExec {
                argv,
                consistent,
                cwd: crate::process::cwd(pid),
                dirfd,
                found: None,
                path,
                pid,
                ppid: crate::sample::ppid(pid),
                stdio: Some(crate::process::stdio(pid)),
            }
            .into(),
            Call::Exit { code } => {
                self.bound.retain(|(p, _), _| *p != pid);
                ProcExit {
                    code,
                    consistent,
                    pid,
                }
                .into()
            }
            Call::Connect { fd, addr, family } => SockConnect {
                addr,
                consistent,
                family: family_name(family),
                fd,
                pid,
            }
            .into(),
            Call::Bind { fd, addr, family } => {
                if let Some(a) = &addr {
                    self.bound.insert((pid, fd), a.clone());
                }
                SockBind {
                    addr,
                    consistent,
                    family: family_name(family),
                    fd,
                    pid,
                }
                .into()
            }
            Call::SendTo {
                fd,
                addr,
                family,
                len,
            } => SockSendTo {
                addr,
                bytes: len,
                consistent,
                family: family_name(family),
                fd,
                pid,
            }
            .into(),
            Call::Listen { fd, backlog } => SockListen {
                addr: self.bound.get(&(pid, fd)).cloned(),
                backlog,
                consistent,
                fd,
                pid,
            }
            .into(),
            Call::Socket { family, kind } => SockSocket {
                consistent,
                family: family_name(family),
                pid,
                socket_type: kind & 0xf,
            }
            .into(),
            Call::File {
                op,
                syscall,
                path,
                to,
                flags,
            } => {
                if path.as_deref().is_some_and(is_noise) {
                    return None;
                }
                let writable = path.as_deref().is_some_and(&self.writable)
                    && to.as_deref().is_none_or(&self.writable);
                FileWrite {
                    consistent,
                    flags: flags.map(open_flags),
                    op,
                    path,
                    pid,
                    syscall: syscall.to_owned(),
                    to,
                    writable,
                }
                .into()
            }
            Call::Denied {
                syscall,
                reason,
                args,
            } => SysDenied {
                args: args.to_vec(),
                consistent,
                errno: "EPERM".to_owned(),
                pid,
                reason: reason.to_owned(),
                syscall: syscall.to_owned(),
            }
            .into(),
        })
    }
}

/// Writes to these are noise, not evidence (`2>/dev/null` in every shell
/// script): not recorded.
fn is_noise(path: &str) -> bool {
    matches!(
        path,
        "/dev/null" | "/dev/zero" | "/dev/full" | "/dev/tty" | "/dev/stdout" | "/dev/stderr"
    ) || path.starts_with("/dev/pts/")
        || path.starts_with("pipe:")
        || path.starts_with("socket:")
}

/// The names of the open flags that mean writing.
fn open_flags(flags: u32) -> Vec<String> {
    let f = flags as i32;
    let mut out = Vec::new();
    match f & libc::O_ACCMODE {
        libc::O_WRONLY => out.push("O_WRONLY"),
        libc::O_RDWR => out.push("O_RDWR"),
        _ => out.push("O_RDONLY"),
    }
    for (bit, name) in [
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_EXCL, "O_EXCL"),
    ] {
        if f & bit != 0 {
            out.push(name);
        }
    }
    if f & libc::O_TMPFILE == libc::O_TMPFILE {
        out.push("O_TMPFILE");
    }
    out.into_iter().map(str::to_owned).collect()
}

/// The address family's name (`family N` for a number without one).
fn family_name(family: u16) -> String {
    match i32::from(family) {
        libc::AF_UNIX => "unix".into(),
        libc::AF_INET => "inet".into(),
        libc::AF_INET6 => "inet6".into(),
        libc::AF_NETLINK => "netlink".into(),
        libc::AF_PACKET => "packet".into(),
        libc::AF_VSOCK => "vsock".into(),
        libc::AF_ALG => "alg".into(),
        libc::AF_BLUETOOTH => "bluetooth".into(),
        libc::AF_XDP => "xdp".into(),
        libc::AF_CAN => "can".into(),
        libc::AF_TIPC => "tipc".into(),
        libc::AF_RDS => "rds".into(),
        other => format!("family {other}"),
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
