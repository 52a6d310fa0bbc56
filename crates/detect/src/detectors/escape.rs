//! `escape.*`: system calls the sandbox refused (`sys.denied`) that are the
//! shape of an escape or a kernel attack. Other refused calls raise
//! nothing: they are in the trail already, and some (clone3, openat2) are
//! refused on purpose so that libc falls back to a call that is checked.
//! Which calls, and the id each raises: [`corral_policy::ESCAPE_SYSCALLS`].

use super::{hit, pid_subject, Ev, Hit};
use crate::Severity;
use corral_policy::ESCAPE_SYSCALLS;

const AF_PACKET: u64 = 17;
const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541c;

/// The call as shown: `socket(AF_PACKET)`, `ioctl(TIOCSTI)`, `ptrace`.
fn shown(syscall: &str, args: &[u64]) -> String {
    let arg = |i: usize| args.get(i).copied();
    match syscall {
        "socket" => match arg(0) {
            Some(AF_PACKET) => "socket(AF_PACKET)".to_owned(),
            _ => "socket(SOCK_RAW)".to_owned(),
        },
        "ioctl" => match arg(1) {
            Some(TIOCSTI) => "ioctl(TIOCSTI)".to_owned(),
            Some(TIOCLINUX) => "ioctl(TIOCLINUX)".to_owned(),
            _ => "ioctl".to_owned(),
        },
        other => other.to_owned(),
    }
}

pub(crate) fn denied(ev: &Ev<'_>, out: &mut Vec<Hit>) {
    let Some(denied) = ev.denied() else {
        return;
    };
    let syscall = denied.syscall.as_str();
    let Some(escape) = ESCAPE_SYSCALLS.iter().find(|e| e.syscall == syscall) else {
        return;
    };
    let who = pid_subject(ev);
    let call = shown(syscall, &denied.args);
    out.push(hit(
        ev,
        escape.id,
        Severity::High,
        escape.technique,
        who.clone(),
        format!(
            "{who} tried {call}, refused by the sandbox: it would {}",
            escape.what
        ),
    ));
}
