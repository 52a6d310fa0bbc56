//! Telemetry from inside the sandbox by seccomp user notification. In
//! notify mode the deny filter itself (one filter, one listener) sends
//! two kinds of calls to the supervisor, which serves the listener with
//! [`serve`]:
//!
//! - the calls the monitor watches ([`super::watches`]: exec, exit,
//!   connect, bind, listen, sockets of unusual families, and opens,
//!   renames, unlinks and truncates with write intent, told apart from
//!   reads by the flags inside the filter): the supervisor reads what the
//!   call names (a path, argv, a socket address) from the caller's memory,
//!   reports it, and lets the call continue;
//! - every call the table denies with EPERM: the supervisor reports it
//!   (which syscall, the rule's reason) and answers EPERM. It never lets
//!   one continue: the decision was the kernel's, made on the registers
//!   by the filter; the supervisor only carries the answer back.
//!
//! Telemetry, never a gate: what is read from a process's memory can be
//! changed by another thread between the read and the kernel's own read,
//! so nothing is decided on it. If the supervisor goes away, the kernel
//! fails every notified call with ENOSYS: the sandbox stops rather than
//! runs unobserved, and a denied call stays denied.

use super::table::{rule_for, watch_for};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

/// Longest path or argument read; longer ones are cut (and marked).
const MAX_STRING: usize = 4096;
/// At most this many argv entries are read.
const MAX_ARGS: usize = 256;

/// A call seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `execve` or `execveat` (then `dirfd` and `flags`).
    Exec {
        path: String,
        argv: Vec<String>,
        dirfd: Option<i32>,
        /// The path names a file (for execveat: assumed). A shell's or a
        /// compiler driver's search tries one candidate after another;
        /// those that cannot succeed are let go at once and reported after.
        found: bool,
    },
    /// `addr`: `IP:PORT` for IPv4/IPv6, the path (or `@name` for an
    /// abstract name) for a unix socket.
    Connect {
        fd: i32,
        addr: Option<String>,
        family: u16,
    },
    Bind {
        fd: i32,
        addr: Option<String>,
        family: u16,
    },
    Listen {
        fd: i32,
        backlog: i32,
    },
    /// `sendto` with a destination address (a datagram).
    SendTo {
        fd: i32,
        addr: Option<String>,
        family: u16,
        len: u64,
    },
    /// `exit_group(code)`: the process is ending (the low 8 bits are its
    /// exit status). A process killed by a signal makes no such call.
    Exit {
        code: i32,
    },
    /// `socket(family, type, protocol)` of an unusual family.
    Socket {
        family: u16,
        kind: i32,
    },
    /// A write-intent file call: `open`/`openat` with write flags,
    /// `creat`, `truncate`/`ftruncate`, `rename*`, `unlink*`, `rmdir`.
    /// `path` is absolute when it could be resolved (against the caller's
    /// cwd or the directory descriptor, as the caller sees them).
    File {
        op: FileOp,
        syscall: &'static str,
        path: Option<String>,
        /// The new name, for a rename.
        to: Option<String>,
        /// The open flags, for an open.
        flags: Option<u32>,
    },
    /// A call the deny filter refused (answered EPERM).
    Denied {
        syscall: &'static str,
        reason: &'static str,
        args: [u64; 6],
    },
}

pub use corral_event::FileOp;

/// One observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Host pid of the caller.
    pub pid: u32,
    pub call: Call,
    /// The call was still pending after its memory was read (else what
    /// was read may be from another moment, or another program).
    pub consistent: bool,
}

/// What the sink wants done with the call it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Go {
    /// Let it go on.
    Continue,
    /// The sandbox is being ended (a detector asked for it): fail this
    /// call with EPERM and every later one, so nothing held here runs in
    /// the moment before the kill lands.
    Stop,
}

/// Serves the listener until every process under the filter is gone,
/// handing each observation to `sink` and continuing every call until the
/// sink says [`Go::Stop`].
pub fn serve(listener: OwnedFd, mut sink: impl FnMut(Observed) -> Go) {
    let mut stopped = false;
    let fd = listener.as_raw_fd();
    sync_wake_up(fd);
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; no timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if pfd.revents & libc::POLLIN == 0 {
            // POLLHUP: no process is left under the filter.
            return;
        }
        // SAFETY: seccomp_notif is plain old data; the kernel requires it zeroed.
        let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: RECV fills the seccomp_notif we own.
        let rc = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif) };
        if rc < 0 {
            match io::Error::last_os_error().raw_os_error() {
                // The caller went away, or a signal: next one.
                Some(libc::ENOENT) | Some(libc::EINTR) => continue,
                _ => return,
            }
        }
        let nr = i64::from(notif.data.nr);
        let args = notif.data.args;
        // A call that reached us for a denial is never let through (the
        // reference tests hold the filter to the tables).
        let denied = denial(nr, &args);
        if stopped {
            respond(fd, notif.id, -libc::EPERM, 0);
            continue;
        }
        if let Some(rule) = denied {
            stopped |= sink(Observed {
                pid: notif.pid,
                call: Call::Denied {
                    syscall: rule.name,
                    reason: rule.reason,
                    args,
                },
                consistent: true,
            }) == Go::Stop;
            respond(fd, notif.id, -libc::EPERM, 0);
            continue;
        }
        let pid = notif.pid;
        // Calls whose registers say it all go on at once; the others after
        // their memory is read (their buffers may be gone afterwards).
        if let Some(call) = register_only(nr, &args) {
            respond(fd, notif.id, 0, CONTINUE);
            stopped |= sink(Observed {
                pid,
                call,
                consistent: true,
            }) == Go::Stop;
            continue;
        }
        let call = read_call(&notif);
        let consistent = id_valid(fd, notif.id);
        // An exec of nothing fails and runs nothing: it goes on at once.
        let early = matches!(call, Some(Call::Exec { found: false, .. }));
        if early {
            respond(fd, notif.id, 0, CONTINUE);
        }
        // Reported before the call goes on: when the command ends, every
        // call it made is on record, and a full trail holds the sandbox
        // back rather than losing events.
        if let Some(call) = call {
            stopped |= sink(Observed {
                pid,
                call,
                consistent,
            }) == Go::Stop;
        }
        if early {
            continue;
        }
        if stopped {
            respond(fd, notif.id, -libc::EPERM, 0);
        } else {
            respond(fd, notif.id, 0, CONTINUE);
        }
    }
}

const CONTINUE: u32 = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;

/// The rule a notified call is refused by, or `None` for a watched call
/// that goes on: the deny rule first, on the registers the filter decided
/// on. A call neither selects is refused too (it cannot arrive).
pub(crate) fn denial(nr: i64, args: &[u64; 6]) -> Option<&'static super::Rule> {
    match (rule_for(nr), watch_for(nr)) {
        (Some(rule), _) if rule.args.matches(args) => Some(rule),
        (_, Some(watch)) if watch.when.matches(args) => None,
        (rule, _) => Some(rule.unwrap_or(&UNKNOWN)),
    }
}

/// For a notification no table explains (which cannot happen).
static UNKNOWN: super::Rule = super::Rule {
    name: "(unknown)",
    nr: None,
    only_on: None,
    when: super::When::Always,
    args: super::Args::Any,
    action: super::Action::Eperm,
    reason: "denied by the seccomp filter",
};

/// Asks the kernel to switch straight to the woken task on both legs of a
/// notification (Linux 6.6): the caller and the supervisor hand the CPU to
/// each other instead of waiting to be scheduled. Best effort.
fn sync_wake_up(fd: i32) {
    // SECCOMP_IOCTL_NOTIF_SET_FLAGS = SECCOMP_IOW(4, __u64), and
    // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1; libc has neither yet.
    const SET_FLAGS: u64 = 0x4008_2104;
    const SYNC_WAKE_UP: u64 = 1;
    // SAFETY: SET_FLAGS takes its flags by value; a kernel without it fails
    // with EINVAL/ENOTTY and nothing changes.
    let _ = unsafe { libc::ioctl(fd, SET_FLAGS as _, SYNC_WAKE_UP) };
}

/// The calls answered from the registers alone.
fn register_only(nr: i64, a: &[u64; 6]) -> Option<Call> {
    match nr {
        libc::SYS_exit_group => Some(Call::Exit {
            code: (a[0] & 0xff) as i32,
        }),
        libc::SYS_listen => Some(Call::Listen {
            fd: a[0] as i32,
            backlog: a[1] as i32,
        }),
        libc::SYS_socket => Some(Call::Socket {
            family: a[0] as u16,
            kind: a[1] as i32,
        }),
        _ => None,
    }
}

fn id_valid(fd: i32, id: u64) -> bool {
    let mut id = id;
    // SAFETY: ID_VALID reads the u64 we pass.
    unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &mut id) == 0 }
}

/// Answers a notification: continue (`flags` CONTINUE, `error` 0) or
/// fail with `-error`.
fn respond(fd: i32, id: u64, error: i32, flags: u32) {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error,
        flags,
    };
    // SAFETY: SEND reads the response we own. A failure means the caller
    // is gone (ENOENT): nothing to do.
    let _ = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
}

fn read_call(n: &libc::seccomp_notif) -> Option<Call> {
    let pid = n.pid;
    let a = n.data.args;
    let nr = i64::from(n.data.nr);
    if nr == libc::SYS_execve || nr == libc::SYS_execveat {
        let (path_at, argv_at, dirfd) = if nr == libc::SYS_execve {
            (a[0], a[1], None)
        } else {
            (a[1], a[2], Some(a[0] as i32))
        };
        let path = read_string(pid, path_at).unwrap_or_default();
        // As the caller sees it: its root (the sandbox's) or its cwd.
        let found = dirfd.is_some()
            || std::fs::metadata(if path.starts_with('/') {
                format!("/proc/{pid}/root{path}")
            } else {
                format!("/proc/{pid}/cwd/{path}")
            })
            .is_ok_and(|m| m.is_file());
        return Some(Call::Exec {
            path,
            argv: read_argv(pid, argv_at),
            dirfd,
            found,
        });
    }
    if nr == libc::SYS_connect || nr == libc::SYS_bind {
        let fd = a[0] as i32;
        let (family, addr) = read_sockaddr(pid, a[1], a[2] as usize);
        return Some(if nr == libc::SYS_connect {
            Call::Connect { fd, addr, family }
        } else {
            Call::Bind { fd, addr, family }
        });
    }
    if nr == libc::SYS_sendto {
        let (family, addr) = read_sockaddr(pid, a[4], a[5] as usize);
        return Some(Call::SendTo {
            fd: a[0] as i32,
            addr,
            family,
            len: a[2],
        });
    }
    read_file_call(pid, nr, &a)
}

/// The path a `*at` call names: absolute as given, else joined to the
/// directory `dirfd` names (the cwd for AT_FDCWD), as the caller sees it.
fn at_path(pid: u32, dirfd: i32, path: Option<String>) -> Option<String> {
    let path = path?;
    if path.starts_with('/') {
        return Some(path);
    }
    let base = if dirfd == libc::AT_FDCWD {
        format!("/proc/{pid}/cwd")
    } else {
        format!("/proc/{pid}/fd/{dirfd}")
    };
    let base = std::fs::read_link(base).ok()?;
    let base = base.to_string_lossy();
    Some(match path.as_str() {
        "" | "." => base.into_owned(),
        _ => format!("{}/{path}", base.trim_end_matches('/')),
    })
}

fn read_file_call(pid: u32, nr: i64, a: &[u64; 6]) -> Option<Call> {
    let s = |at: u64| read_string(pid, at);
    let cwd = libc::AT_FDCWD;
    let (op, path, to, flags) = match nr {
        #[cfg(target_arch = "x86_64")]
        libc::SYS_open => (FileOp::Open, at_path(pid, cwd, s(a[0])), None, Some(a[1])),
        libc::SYS_openat => (
            FileOp::Open,
            at_path(pid, a[0] as i32, s(a[1])),
            None,
            Some(a[2]),
        ),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_creat => (FileOp::Create, at_path(pid, cwd, s(a[0])), None, None),
        libc::SYS_truncate => (FileOp::Truncate, at_path(pid, cwd, s(a[0])), None, None),
        libc::SYS_ftruncate => (
            FileOp::Truncate,
            std::fs::read_link(format!("/proc/{pid}/fd/{}", a[0] as i32))
                .ok()
                .map(|p| p.to_string_lossy().into_owned()),
            None,
            None,
        ),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_rename => (
            FileOp::Rename,
            at_path(pid, cwd, s(a[0])),
            at_path(pid, cwd, s(a[1])),
            None,
        ),
        libc::SYS_renameat | libc::SYS_renameat2 => (
            FileOp::Rename,
            at_path(pid, a[0] as i32, s(a[1])),
            at_path(pid, a[2] as i32, s(a[3])),
            None,
        ),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_unlink | libc::SYS_rmdir => {
            (FileOp::Unlink, at_path(pid, cwd, s(a[0])), None, None)
        }
        libc::SYS_unlinkat => (
            FileOp::Unlink,
            at_path(pid, a[0] as i32, s(a[1])),
            None,
            None,
        ),
        _ => return None,
    };
    Some(Call::File {
        op,
        syscall: watch_for(nr).map_or("?", |w| w.name),
        path,
        to,
        flags: flags.map(|f| f as u32),
    })
}

/// Reads `len` bytes at `addr` in process `pid` (fewer at an unmapped end).
/// One call: the remote range is split at page boundaries, and the kernel
/// stops at the first page it cannot read, so a range running past the
/// end of a mapping still yields what lies before it.
fn read_mem(pid: u32, addr: u64, len: usize) -> Vec<u8> {
    const PAGE: u64 = 4096;
    let mut buf = vec![0u8; len];
    let mut remote = Vec::with_capacity(len / 4096 + 2);
    let (mut at, end) = (addr, addr.saturating_add(len as u64));
    while at < end {
        let next = ((at / PAGE) + 1).saturating_mul(PAGE).min(end);
        remote.push(nix::sys::uio::RemoteIoVec {
            base: at as usize,
            len: (next - at) as usize,
        });
        at = next;
    }
    let local = [std::io::IoSliceMut::new(&mut buf)];
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    let mut local = local;
    match nix::sys::uio::process_vm_readv(pid, &mut local, &remote) {
        Ok(n) => {
            buf.truncate(n);
            buf
        }
        Err(_) => Vec::new(),
    }
}

/// A NUL-terminated string, read page by page (a string may end right
/// before an unmapped page).
fn read_string(pid: u32, addr: u64) -> Option<String> {
    if addr == 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < MAX_STRING {
        let to_page_end = 4096 - (at as usize % 4096);
        let chunk = read_mem(pid, at, to_page_end.min(MAX_STRING - out.len()));
        if chunk.is_empty() {
            break;
        }
        if let Some(end) = chunk.iter().position(|b| *b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Some(String::from_utf8_lossy(&out).into_owned());
        }
        at += chunk.len() as u64;
        out.extend_from_slice(&chunk);
    }
    out.extend_from_slice("…".as_bytes());
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn read_argv(pid: u32, addr: u64) -> Vec<String> {
    if addr == 0 {
        return Vec::new();
    }
    let raw = read_mem(pid, addr, MAX_ARGS * 8);
    let mut ptrs = Vec::new();
    let mut cut = true;
    for ptr in raw.chunks_exact(8) {
        let p = u64::from_ne_bytes(ptr.try_into().unwrap_or([0; 8]));
        if p == 0 {
            cut = false;
            break;
        }
        ptrs.push(p);
    }
    // The strings usually lie one after the other (on the new stack):
    // read them all at once, and only a string outside that block alone.
    let (lo, hi) = (
        ptrs.iter().copied().min().unwrap_or(0),
        ptrs.iter().copied().max().unwrap_or(0),
    );
    let block = if !ptrs.is_empty() && hi - lo < 64 * 1024 {
        read_mem(pid, lo, (hi - lo) as usize + MAX_STRING)
    } else {
        Vec::new()
    };
    let mut argv: Vec<String> = ptrs
        .iter()
        .map(|&p| {
            let from = (p - lo) as usize;
            match block
                .get(from..)
                .and_then(|b| b.iter().position(|c| *c == 0).map(|e| &b[..e]))
            {
                Some(s) => String::from_utf8_lossy(s).into_owned(),
                None => read_string(pid, p).unwrap_or_default(),
            }
        })
        .collect();
    if cut {
        argv.push("…".into());
    }
    argv
}

/// The family and the address of a `sockaddr`: `IP:PORT` for IPv4 and
/// IPv6, the path for a unix socket (`@name` for an abstract one).
fn read_sockaddr(pid: u32, addr: u64, len: usize) -> (u16, Option<String>) {
    if addr == 0 || len < 2 {
        return (0, None);
    }
    let raw = read_mem(pid, addr, len.min(128));
    if raw.len() < 2 {
        return (0, None);
    }
    let family = u16::from_ne_bytes([raw[0], raw[1]]);
    let port = |r: &[u8]| u16::from_be_bytes([r[2], r[3]]);
    let parsed = match i32::from(family) {
        libc::AF_INET if raw.len() >= 8 => Some(
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7])),
                port(&raw),
            )
            .to_string(),
        ),
        libc::AF_INET6 if raw.len() >= 24 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&raw[8..24]);
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port(&raw)).to_string())
        }
        libc::AF_UNIX if raw.len() > 2 => {
            let path = &raw[2..];
            Some(match path.split_first() {
                Some((0, name)) => format!("@{}", String::from_utf8_lossy(name)),
                _ => {
                    let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
                    String::from_utf8_lossy(&path[..end]).into_owned()
                }
            })
        }
        _ => None,
    };
    (family, parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watched_calls_denied_on_some_arguments_are_denied_in_every_plan() {
        // The supervisor applies a watched call's deny rule without knowing
        // the plan: such a rule must be in every plan.
        for w in super::super::watches() {
            let Some(nr) = w.nr else { continue };
            if let Some(rule) = rule_for(nr) {
                assert_eq!(rule.when, super::super::When::Always, "{}", w.name);
                assert_ne!(
                    rule.args,
                    super::super::Args::Any,
                    "{} is always denied",
                    w.name
                );
            }
        }
    }

    #[test]
    fn reads_its_own_memory() {
        let s = std::ffi::CString::new("hello").expect("cstring");
        let me = std::process::id();
        assert_eq!(read_string(me, s.as_ptr() as u64).as_deref(), Some("hello"));
        let argv = [s.as_ptr(), std::ptr::null()];
        assert_eq!(
            read_argv(me, argv.as_ptr() as u64),
            vec!["hello".to_string()]
        );
        // sockaddr_in for 192.0.2.1:22
        let sa: [u8; 16] = [2, 0, 0, 22, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let (family, addr) = read_sockaddr(me, sa.as_ptr() as u64, sa.len());
        assert_eq!(family, libc::AF_INET as u16);
        assert_eq!(addr.as_deref(), Some("192.0.2.1:22"));
        let mut un = [0u8; 20];
        un[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
        un[2..10].copy_from_slice(b"/run/x.s");
        let (_, addr) = read_sockaddr(me, un.as_ptr() as u64, un.len());
        assert_eq!(addr.as_deref(), Some("/run/x.s"));
    }
}
