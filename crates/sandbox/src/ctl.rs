//! The control channel between the supervisor (outside) and the sandbox's
//! init (inside): a `SOCK_SEQPACKET` socketpair, so each message arrives
//! whole. The sandbox end is close-on-exec, so the command never holds it.
//!
//! Sandbox -> supervisor: the pty master (with the fd attached), the egress
//! proxy's listening sockets (fds attached), a setup
//! failure, and the command's final wait status. Supervisor -> sandbox: a
//! single "go" once the supervisor has placed init in its cgroups.
//!
//! Further commands in a running sandbox ([`crate::exec`]): the supervisor
//! sends an [`SpawnRequest`] (argv, environment, working directory, the
//! three standard descriptors attached) and signals for it; init answers
//! with its wait status or why it could not run.

use nix::sys::socket::{self, ControlMessage, ControlMessageOwned, MsgFlags};
use std::ffi::CString;
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
    /// Run another command in the sandbox (supervisor -> init).
    Exec(SpawnRequest),
    /// Signal a command started by [`Msg::Exec`] (supervisor -> init).
    ExecSignal {
        id: u64,
        signal: i32,
    },
    /// Raw `waitpid` status of a command started by [`Msg::Exec`].
    ExecExited {
        id: u64,
        status: i32,
    },
    /// A command started by [`Msg::Exec`] could not be run.
    ExecFailed {
        id: u64,
        stage: Stage,
        message: String,
    },
    /// End the sandbox (supervisor -> init): every process in it is
    /// killed, and a sandbox with no command of its own reports status 0.
    Stop,
}

/// A further command for a running sandbox: confined exactly as the first
/// one, with these argv, environment and working directory.
#[derive(Debug)]
pub struct SpawnRequest {
    /// The supervisor's number for it, in the answers.
    pub id: u64,
    pub argv: Vec<CString>,
    pub env: Vec<CString>,
    pub cwd: CString,
    /// stdin, stdout, stderr.
    pub stdio: [OwnedFd; 3],
}

const TAG_GO: u8 = b'G';
const TAG_PTY: u8 = b'P';
const TAG_LISTENERS: u8 = b'L';
const TAG_MONITOR: u8 = b'M';
const TAG_FAILED: u8 = b'E';
const TAG_EXITED: u8 = b'X';
const TAG_EXEC: u8 = b'R';
const TAG_EXEC_SIGNAL: u8 = b'K';
const TAG_EXEC_EXITED: u8 = b'x';
const TAG_EXEC_FAILED: u8 = b'e';
const TAG_STOP: u8 = b'S';
const MAX_MSG: usize = 4096;
/// The largest message: an [`SpawnRequest`]'s argv, environment and working
/// directory together (under the socket's default send buffer).
pub const MAX_EXEC_MSG: usize = 128 * 1024;

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
        Msg::Stop => buf.push(TAG_STOP),
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
        Msg::Exec(req) => {
            buf.push(TAG_EXEC);
            buf.extend_from_slice(&req.id.to_le_bytes());
            for list in [&req.argv, &req.env] {
                buf.extend_from_slice(&(list.len() as u32).to_le_bytes());
                for s in list {
                    buf.extend_from_slice(s.as_bytes_with_nul());
                }
            }
            buf.extend_from_slice(req.cwd.as_bytes_with_nul());
            if buf.len() > MAX_EXEC_MSG {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the command, its environment and working directory take {} bytes, more than the {MAX_EXEC_MSG} a sandbox accepts",
                        buf.len()
                    ),
                ));
            }
            fds.extend(req.stdio.iter().map(AsRawFd::as_raw_fd));
        }
        Msg::ExecSignal { id, signal } => {
            buf.push(TAG_EXEC_SIGNAL);
            buf.extend_from_slice(&id.to_le_bytes());
            buf.extend_from_slice(&signal.to_le_bytes());
        }
        Msg::ExecExited { id, status } => {
            buf.push(TAG_EXEC_EXITED);
            buf.extend_from_slice(&id.to_le_bytes());
            buf.extend_from_slice(&status.to_le_bytes());
        }
        Msg::ExecFailed { id, stage, message } => {
            buf.push(TAG_EXEC_FAILED);
            buf.extend_from_slice(&id.to_le_bytes());
            buf.push(*stage as u8);
            let bytes = message.as_bytes();
            buf.extend_from_slice(&bytes[..bytes.len().min(MAX_MSG - 10)]);
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

/// Receives one message (the sandbox's, or a "go": up to 4 KiB);
/// `Ok(None)` when the other end has closed.
pub fn recv(fd: RawFd) -> io::Result<Option<Msg>> {
    let mut buf = [0u8; MAX_MSG];
    recv_into(fd, &mut buf)
}

/// As [`recv`], for init's side once the command runs: a message may be
/// an [`SpawnRequest`] of up to [`MAX_EXEC_MSG`] bytes.
pub fn recv_request(fd: RawFd) -> io::Result<Option<Msg>> {
    let mut buf = vec![0u8; MAX_EXEC_MSG];
    recv_into(fd, &mut buf)
}

fn recv_into(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<Msg>> {
    let mut cmsg = nix::cmsg_space!([RawFd; 8]);
    let (len, received) = {
        let mut iov = [IoSliceMut::new(buf)];
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
        TAG_STOP => Msg::Stop,
        TAG_PTY => Msg::PtyMaster(received.into_iter().next().ok_or_else(bad)?),
        TAG_LISTENERS => Msg::Listeners(received),
        TAG_MONITOR => Msg::Monitor(received.into_iter().next().ok_or_else(bad)?),
        TAG_FAILED if len >= 2 => Msg::Failed {
            stage: Stage::from_u8(buf[1]),
            message: String::from_utf8_lossy(&buf[2..len]).into_owned(),
        },
        TAG_EXITED if len == 5 => Msg::Exited(i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]])),
        TAG_EXEC if len >= 9 => Msg::Exec(exec_request(&buf[1..len], received).ok_or_else(bad)?),
        TAG_EXEC_SIGNAL if len == 13 => Msg::ExecSignal {
            id: u64_at(buf, 1),
            signal: i32_at(buf, 9),
        },
        TAG_EXEC_EXITED if len == 13 => Msg::ExecExited {
            id: u64_at(buf, 1),
            status: i32_at(buf, 9),
        },
        TAG_EXEC_FAILED if len >= 10 => Msg::ExecFailed {
            id: u64_at(buf, 1),
            stage: Stage::from_u8(buf[9]),
            message: String::from_utf8_lossy(&buf[10..len]).into_owned(),
        },
        _ => return Err(bad()),
    };
    Ok(Some(msg))
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

fn i32_at(buf: &[u8], at: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    i32::from_le_bytes(b)
}

/// An [`SpawnRequest`] from its bytes (after the tag) and the descriptors
/// that came with it; `None` when malformed.
fn exec_request(body: &[u8], fds: Vec<OwnedFd>) -> Option<SpawnRequest> {
    let id = u64_at(body.get(..8)?, 0);
    let mut rest = &body[8..];
    let take_str = |rest: &mut &[u8]| -> Option<CString> {
        let end = rest.iter().position(|b| *b == 0)?;
        let s = CString::new(&rest[..end]).ok()?;
        *rest = &rest[end + 1..];
        Some(s)
    };
    let mut lists = Vec::with_capacity(2);
    for _ in 0..2 {
        let n = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        rest = &rest[4..];
        let mut list = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            list.push(take_str(&mut rest)?);
        }
        lists.push(list);
    }
    let cwd = take_str(&mut rest)?;
    let env = lists.pop()?;
    let argv = lists.pop()?;
    let stdio: [OwnedFd; 3] = fds.try_into().ok()?;
    (!argv.is_empty() && rest.is_empty()).then_some(SpawnRequest {
        id,
        argv,
        env,
        cwd,
        stdio,
    })
}

#[cfg(test)]
mod exec_tests {
    use super::*;

    fn null() -> OwnedFd {
        std::fs::File::open("/dev/null").expect("/dev/null").into()
    }

    #[test]
    fn an_exec_request_crosses_the_channel_whole() {
        let (a, b) = pair().expect("socketpair");
        let req = SpawnRequest {
            id: 42,
            argv: vec![
                CString::new("sh").expect("c"),
                CString::new("-c").expect("c"),
            ],
            env: vec![CString::new("A=1").expect("c")],
            cwd: CString::new("/work").expect("c"),
            stdio: [null(), null(), null()],
        };
        send(a.as_raw_fd(), &Msg::Exec(req)).expect("send");
        let Some(Msg::Exec(got)) = recv(b.as_raw_fd()).expect("recv") else {
            panic!("an exec request");
        };
        assert_eq!(got.id, 42);
        assert_eq!(got.argv.len(), 2);
        assert_eq!(got.env, [CString::new("A=1").expect("c")]);
        assert_eq!(got.cwd.as_bytes(), b"/work");
        send(
            b.as_raw_fd(),
            &Msg::ExecExited {
                id: 42,
                status: 7 << 8,
            },
        )
        .expect("send");
        assert!(matches!(
            recv(a.as_raw_fd()).expect("recv"),
            Some(Msg::ExecExited { id: 42, status }) if status == 7 << 8
        ));
        send(
            b.as_raw_fd(),
            &Msg::ExecFailed {
                id: 3,
                stage: Stage::NotFound,
                message: "no x".into(),
            },
        )
        .expect("send");
        assert!(matches!(
            recv(a.as_raw_fd()).expect("recv"),
            Some(Msg::ExecFailed { id: 3, stage: Stage::NotFound, message }) if message == "no x"
        ));
        send(a.as_raw_fd(), &Msg::ExecSignal { id: 9, signal: 15 }).expect("send");
        assert!(matches!(
            recv(b.as_raw_fd()).expect("recv"),
            Some(Msg::ExecSignal { id: 9, signal: 15 })
        ));
    }

    #[test]
    fn a_large_exec_request_needs_init_s_large_receive() {
        let (a, b) = pair().expect("socketpair");
        let env: Vec<CString> = (0..2000)
            .map(|i| CString::new(format!("VAR_{i}=some value of a variable")).expect("c"))
            .collect();
        let req = || SpawnRequest {
            id: 5,
            argv: vec![CString::new("true").expect("c")],
            env: env.clone(),
            cwd: CString::new("/").expect("c"),
            stdio: [null(), null(), null()],
        };
        send(a.as_raw_fd(), &Msg::Exec(req())).expect("send");
        let Some(Msg::Exec(got)) = recv_request(b.as_raw_fd()).expect("recv") else {
            panic!("a whole exec request");
        };
        assert_eq!(got.env.len(), 2000);
        send(a.as_raw_fd(), &Msg::Exec(req())).expect("send");
        assert!(
            recv(b.as_raw_fd()).is_err(),
            "the 4 KiB receive cuts it and says it is malformed"
        );
    }

    #[test]
    fn an_oversized_exec_request_is_refused_with_its_size() {
        let (a, _b) = pair().expect("socketpair");
        let big = CString::new(vec![b'x'; MAX_EXEC_MSG]).expect("c");
        let req = SpawnRequest {
            id: 1,
            argv: vec![big],
            env: vec![],
            cwd: CString::new("/").expect("c"),
            stdio: [null(), null(), null()],
        };
        let err = send(a.as_raw_fd(), &Msg::Exec(req)).expect_err("too big");
        assert!(err.to_string().contains("bytes, more than"), "{err}");
    }
}
