//! Terminal pass-through. When any of corral's stdin, stdout and stderr is
//! a terminal the command gets a pty of its own (allocated inside the
//! sandbox's devpts) in its place: the user's terminal is put in raw mode
//! (when the output goes to it) and bytes are relayed both ways;
//! window-size changes are copied onto the pty, which delivers SIGWINCH to
//! the command. The sandbox never holds a descriptor of the user's real
//! terminal, so it cannot inject input into it or change its settings.

use nix::sys::termios::{self, SetArg, Termios};
use std::io::{self, Read, Write};
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

/// Reads once from `from` and writes everything to `to` (or drops it).
/// Returns false at end of input or on a read error (EIO from a pty master
/// means every slave is closed).
pub fn copy_once(from: BorrowedFd<'_>, to: Option<BorrowedFd<'_>>) -> bool {
    let mut buf = [0u8; 16384];
    let mut reader = borrowed_file(from);
    let n = match reader.read(&mut buf) {
        Ok(0) | Err(_) => return false,
        Ok(n) => n,
    };
    match to {
        Some(to) => borrowed_file(to).write_all(&buf[..n]).is_ok(),
        None => true,
    }
}

/// A `File` view of a borrowed descriptor that never closes it.
fn borrowed_file(fd: BorrowedFd<'_>) -> std::mem::ManuallyDrop<std::fs::File> {
    // SAFETY: the File is never dropped (ManuallyDrop), so the borrowed fd is not closed.
    std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd.as_raw_fd()) })
}
