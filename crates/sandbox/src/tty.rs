//! Terminal pass-through. When any of corral's stdin, stdout and stderr is
//! a terminal the command gets a pty of its own (allocated inside the
//! sandbox's devpts) in its place: the user's terminal is put in raw mode
//! (when the output goes to it) and bytes are relayed both ways;
//! window-size changes are copied onto the pty, which delivers SIGWINCH to
//! the command. The sandbox never holds a descriptor of the user's real
//! terminal, so it cannot inject input into it or change its settings.

use nix::sys::termios::{self, SetArg, Termios};
use std::io::{self, Read as _, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd};

fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// Which of stdin, stdout and stderr the pty replaces: those that are a
/// terminal. The command never holds a descriptor of the user's terminal.
pub fn pty_fds() -> [bool; 3] {
    [is_tty(0), is_tty(1), is_tty(2)]
}

/// Where the pty's output goes: the first of stdout and stderr that is a
/// terminal (None when only stdin is: the output is then only the pty's
/// echo, which the user's terminal, left in cooked mode, shows itself).
pub fn output_fd(pty_fds: [bool; 3]) -> Option<i32> {
    if pty_fds[1] {
        Some(1)
    } else if pty_fds[2] {
        Some(2)
    } else {
        None
    }
}

/// The user's terminal size, read from stdout (or stdin).
pub fn winsize() -> Option<libc::winsize> {
    for fd in [1, 0, 2] {
        // SAFETY: winsize is plain old data; all-zero is valid.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes into a valid winsize we own.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws as *mut libc::winsize) } == 0 {
            return Some(ws);
        }
    }
    None
}

/// Copies a window size onto the pty (the kernel then signals the
/// foreground process group with SIGWINCH).
pub fn set_winsize(master: &impl AsRawFd, ws: &libc::winsize) {
    // SAFETY: TIOCSWINSZ reads a valid winsize.
    unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCSWINSZ,
            ws as *const libc::winsize,
        )
    };
}

/// The user's terminal in raw mode; restored when dropped.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin's terminal in raw mode; `None` if it is not a terminal.
    pub fn enter() -> Option<RawMode> {
        let stdin = io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSADRAIN, &self.saved);
    }
}

/// What one read gave.
pub enum ReadResult {
    Data(Vec<u8>),
    /// Nothing now (a non-blocking descriptor).
    Later,
    /// End of input, or an error (EIO from a pty master means every slave
    /// is closed).
    End,
}

/// Reads once from `from` (up to 16 KiB).
pub fn read_some(from: BorrowedFd<'_>) -> ReadResult {
    let mut buf = vec![0u8; 16384];
    match borrowed_file(from).read(&mut buf) {
        Ok(0) => ReadResult::End,
        Ok(n) => {
            buf.truncate(n);
            ReadResult::Data(buf)
        }
        Err(e)
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::Interrupted =>
        {
            ReadResult::Later
        }
        Err(_) => ReadResult::End,
    }
}

/// Writes all of `data` to `to` (a blocking descriptor: the user's terminal).
pub fn write_all(to: BorrowedFd<'_>, data: &[u8]) -> bool {
    borrowed_file(to).write_all(data).is_ok()
}

/// Writes as much of `pending` as `to` (non-blocking) takes now and removes
/// it; false on an error other than "try again".
pub fn write_some(to: BorrowedFd<'_>, pending: &mut Vec<u8>) -> bool {
    while !pending.is_empty() {
        match borrowed_file(to).write(pending) {
            Ok(n) => {
                pending.drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    true
}

/// Makes a descriptor non-blocking (the pty master: a command that stops
/// reading its input must not stall the supervisor, which also enforces
/// the timeout and forwards signals).
pub fn set_nonblocking(fd: BorrowedFd<'_>) {
    if let Ok(flags) = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL) {
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags));
    }
}

/// Clears `O_NONBLOCK` on one of corral's own std descriptors (the
/// sandbox shares their open file descriptions and may have set it).
pub fn set_blocking(fd: std::os::fd::RawFd) {
    // SAFETY: a std descriptor of this process, borrowed for two fcntl calls.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    if let Ok(flags) = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL) {
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) - nix::fcntl::OFlag::O_NONBLOCK;
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags));
    }
}

/// A `File` view of a borrowed descriptor that never closes it.
fn borrowed_file(fd: BorrowedFd<'_>) -> std::mem::ManuallyDrop<std::fs::File> {
    // SAFETY: the File is never dropped (ManuallyDrop), so the borrowed fd is not closed.
    std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd.as_raw_fd()) })
}
