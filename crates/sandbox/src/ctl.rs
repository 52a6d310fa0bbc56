//! The control channel between the supervisor (outside) and the sandbox's
//! init (inside): a `SOCK_SEQPACKET` socketpair, so each message arrives
//! whole. The sandbox end is close-on-exec, so the command never holds it.
//!
//! Sandbox -> supervisor: the pty master (with the fd attached), the egress
//! proxy's listening sockets (fds attached), a setup
//! failure, and the command's final wait status. Supervisor -> sandbox: a
//! single "go" once the supervisor has placed init in its cgroups.

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The sandbox step that failed, so the supervisor can pick an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Namespaces, uid map, mounts, limits: corral's own failure (125).
    Setup = 1,
    /// Landlock, seccomp, capabilities: a security layer failed (125).
    Confine = 2,
    /// The program was not found (127).
    NotFound = 3,
    /// The program exists but cannot be executed (126).
    NotExecutable = 4,
}

impl Stage {
    fn from_u8(v: u8) -> Stage {
        match v {
            3 => Stage::NotFound,
            4 => Stage::NotExecutable,
            2 => Stage::Confine,
            _ => Stage::Setup,
        }
    }
}

/// One message on the channel.
#[derive(Debug)]
pub enum Msg {
    Go,
    PtyMaster(OwnedFd),
    /// The egress proxy's listening sockets, in [`crate::net::Listeners`] order.
    Listeners(Vec<OwnedFd>),
    /// The command's seccomp notification listener (sent by the command
    /// itself, before it execs).
    Monitor(OwnedFd),
    Failed {
        stage: Stage,
        message: String,
    },
    /// Raw `waitpid` status of the command.
    Exited(i32),
}

const TAG_GO: u8 = b'G';
const TAG_PTY: u8 = b'P';
const TAG_LISTENERS: u8 = b'L';
const TAG_MONITOR: u8 = b'M';
const TAG_FAILED: u8 = b'E';
const TAG_EXITED: u8 = b'X';
const MAX_MSG: usize = 4096;

/// Creates the pair: `(supervisor_end, sandbox_end)`, both close-on-exec.
pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    socket::socketpair(
        socket::AddressFamily::Unix,
        socket::SockType::SeqPacket,
        None,
        socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

/// Sends one message. Messages longer than the channel's limit are cut.
pub fn send(fd: RawFd, msg: &Msg) -> io::Result<()> {
    let mut buf = Vec::with_capacity(64);
    let mut fds: Vec<RawFd> = Vec::new();
    match msg {
        Msg::Go => buf.push(TAG_GO),
        Msg::PtyMaster(master) => {
            buf.push(TAG_PTY);
            fds.push(master.as_raw_fd());
        }
        Msg::Monitor(listener) => {
            buf.push(TAG_MONITOR);
            fds.push(listener.as_raw_fd());
        }
        Msg::Listeners(socks) => {
            buf.push(TAG_LISTENERS);
            fds.extend(socks.iter().map(|s| s.as_raw_fd()));
        }
        Msg::Failed { stage, message } => {
            buf.push(TAG_FAILED);
            buf.push(*stage as u8);
            let bytes = message.as_bytes();
            buf.extend_from_slice(&bytes[..bytes.len().min(MAX_MSG - 2)]);
        }
        Msg::Exited(status) => {
            buf.push(TAG_EXITED);
            buf.extend_from_slice(&status.to_le_bytes());
        }
    }
    let iov = [IoSlice::new(&buf)];
    let cmsgs: Vec<ControlMessage<'_>> = if fds.is_empty() {
        Vec::new()
    } else {
        vec![ControlMessage::ScmRights(&fds)]
    };
    socket::sendmsg::<()>(fd, &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(io::Error::from)?;
    Ok(())
}

/// Receives one message; `Ok(None)` when the other end has closed.
pub fn recv(fd: RawFd) -> io::Result<Option<Msg>> {
    let mut buf = [0u8; MAX_MSG];
    let mut cmsg = nix::cmsg_space!([RawFd; 8]);
    let (len, received) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let r = socket::recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
            .map_err(io::Error::from)?;
        let mut received: Vec<OwnedFd> = Vec::new();
        for c in r.cmsgs().map_err(io::Error::from)? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    // SAFETY: SCM_RIGHTS just installed this descriptor in our table; we own it.
                    received.push(unsafe { OwnedFd::from_raw_fd(raw) });
                }
            }
        }
        (r.bytes, received)
    };
    if len == 0 {
        return Ok(None);
    }
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed control message");
    let msg = match buf[0] {
        TAG_GO => Msg::Go,
        TAG_PTY => Msg::PtyMaster(received.into_iter().next().ok_or_else(bad)?),
        TAG_LISTENERS => Msg::Listeners(received),
        TAG_MONITOR => Msg::Monitor(received.into_iter().next().ok_or_else(bad)?),
        TAG_FAILED if len >= 2 => Msg::Failed {
            stage: Stage::from_u8(buf[1]),
            message: String::from_utf8_lossy(&buf[2..len]).into_owned(),
        },
        TAG_EXITED if len == 5 => Msg::Exited(i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]])),
        _ => return Err(bad()),
    };
    Ok(Some(msg))
}
