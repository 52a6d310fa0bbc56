//! What the seccomp monitor sees, as typed trail events: `proc.exec`,
//! `proc.exit`, `sock.connect`, `sock.bind`, `sock.sendto`, `sock.listen`,
//! `sock.socket`, `file.write` and `sys.denied`.

use corral_event::{
    Event, FileOp, FileWrite, ProcExec, ProcExit, SockBind, SockConnect, SockListen, SockSendTo,
    SockSocket, Stdio, SysDenied,
};
use corral_sandbox::process;
use corral_sandbox::seccomp::decode::{family_name, is_noise, open_flags};
use corral_sandbox::seccomp::monitor::{self, Call, Go, Observed};
use corral_sandbox::writable::WritableMap;
use std::collections::HashMap;

/// Turns each observation into its event and hands it to `record` (which
/// waits for room in the trail's queue, and the observed call waits with
/// it: back-pressure reaches the sandbox instead of events being lost).
/// Writes to noise (`/dev/null`, terminals, pipes) are not recorded.
///
/// `record` says whether the call may go on (false: the run is being
/// ended, and the call is failed instead).
pub fn monitor_sink(
    record: impl Fn(Event) -> bool,
    writable: WritableMap,
) -> impl FnMut(Observed) -> Go {
    // Where each (pid, fd) was bound, for its `listen`.
    let mut bound: HashMap<(u32, i32), String> = HashMap::new();
    move |seen| match event(seen, &writable, &mut bound) {
        Some(ev) => {
            if record(ev) {
                Go::Continue
            } else {
                Go::Stop
            }
        }
        None => Go::Continue,
    }
}

fn stdio_kind(name: &str) -> Stdio {
    match name {
        "socket" => Stdio::Socket,
        "pipe" => Stdio::Pipe,
        "tty" => Stdio::Tty,
        "null" => Stdio::Null,
        "closed" => Stdio::Closed,
        _ => Stdio::File,
    }
}

fn file_op(op: monitor::FileOp) -> FileOp {
    match op {
        monitor::FileOp::Open => FileOp::Open,
        monitor::FileOp::Create => FileOp::Create,
        monitor::FileOp::Truncate => FileOp::Truncate,
        monitor::FileOp::Rename => FileOp::Rename,
        monitor::FileOp::Unlink => FileOp::Unlink,
    }
}

/// The event of one observation (`None`: noise, not recorded).
fn event(
    seen: Observed,
    writable: &WritableMap,
    bound: &mut HashMap<(u32, i32), String>,
) -> Option<Event> {
    let pid = seen.pid;
    let consistent = (!seen.consistent).then_some(false);
    let ev = match seen.call {
        // A search's miss: the call fails and runs nothing, and the process
        // is already past it (detectors skip these).
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
            cwd: process::cwd(pid),
            dirfd,
            found: None,
            path,
            pid,
            ppid: corral_sandbox::sample::ppid(pid),
            stdio: Some(process::stdio(pid).into_iter().map(stdio_kind).collect()),
        }
        .into(),
        Call::Exit { code } => {
            bound.retain(|(p, _), _| *p != pid);
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
                bound.insert((pid, fd), a.clone());
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
            addr: bound.get(&(pid, fd)).cloned(),
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
            let may = path.as_deref().is_some_and(|p| writable.writable(p))
                && to.as_deref().is_none_or(|p| writable.writable(p));
            FileWrite {
                consistent,
                flags: flags.map(|f| open_flags(f).into_iter().map(String::from).collect()),
                op: file_op(op),
                path,
                pid,
                syscall: syscall.to_owned(),
                to,
                writable: may,
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
            errno: "EPERM".into(),
            pid,
            reason: reason.to_owned(),
            syscall: syscall.to_owned(),
        }
        .into(),
    };
    Some(ev)
}
