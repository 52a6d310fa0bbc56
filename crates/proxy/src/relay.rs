//! Moving bytes between the sandbox's socket and the upstream's: `splice`
//! through a pipe, so the payload never enters the proxy's memory (no
//! per-tunnel buffers: a thousand idle tunnels cost their sockets and
//! nothing else).
//!
//! A pipe starts at the kernel's default 64 KiB. One that a splice fills
//! (a bulk transfer) grows to 1 MiB, which cuts the proxy's CPU per byte
//! several times over (fewer wake-ups per byte; see BENCHMARKS.md), while
//! at most [`BIG_PIPES`] directions hold a large pipe at once, so the
//! kernel memory a sandbox can pin in pipes stays bounded.

use nix::fcntl::{splice, OFlag, SpliceFFlags};
use nix::sys::socket::{shutdown, Shutdown};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// The default pipe's capacity.
const SMALL: usize = 64 * 1024;
/// A grown pipe's capacity (the unprivileged maximum by default).
const LARGE: usize = 1024 * 1024;
/// Directions that may hold a grown pipe at once (per process: one
/// proxy per corral).
pub const BIG_PIPES: usize = 64;
static BIG_IN_USE: AtomicUsize = AtomicUsize::new(0);

/// A grown pipe's place in the budget, given back on drop.
struct BigPipe;

impl BigPipe {
    fn take() -> Option<BigPipe> {
        BIG_IN_USE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < BIG_PIPES).then_some(n + 1)
            })
            .ok()
            .map(|_| BigPipe)
    }
}

impl Drop for BigPipe {
    fn drop(&mut self) {
        BIG_IN_USE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Copies `src` to `dst` until `src` reaches end of file, then shuts
/// down `dst`'s write side, adding to `count` as bytes pass (so a report
/// made while it runs is right). On an error (a reset, say), both sockets
/// are shut down entirely so the other direction ends too.
pub async fn pump(src: &TcpStream, dst: &TcpStream, count: &AtomicU64) {
    match pump_inner(src, dst, count).await {
        Ok(()) => {
            let _ = shutdown(dst.as_raw_fd(), Shutdown::Write);
        }
        Err(_) => close_both(src, dst),
    }
}

/// Shuts both sockets down in both directions: whatever waits on them
/// wakes up and ends.
pub fn close_both(a: &TcpStream, b: &TcpStream) {
    let _ = shutdown(a.as_raw_fd(), Shutdown::Both);
    let _ = shutdown(b.as_raw_fd(), Shutdown::Both);
}

async fn pump_inner(src: &TcpStream, dst: &TcpStream, count: &AtomicU64) -> io::Result<()> {
    let (pipe_r, pipe_w): (OwnedFd, OwnedFd) =
        nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let mut chunk = SMALL;
    let mut big: Option<BigPipe> = None;
    let flags = SpliceFFlags::SPLICE_F_NONBLOCK | SpliceFFlags::SPLICE_F_MOVE;
    loop {
        // The pipe is empty here, so EAGAIN can only be the socket's.
        let n = loop {
            src.readable().await?;
            match src.try_io(Interest::READABLE, || {
                splice(src, None, &pipe_w, None, chunk, flags).map_err(io::Error::from)
            }) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return Ok(());
        }
        if n == chunk && big.is_none() {
            if let Some(permit) = BigPipe::take() {
                let grow = nix::fcntl::FcntlArg::F_SETPIPE_SZ(LARGE as libc::c_int);
                if let Ok(size) = nix::fcntl::fcntl(&pipe_w, grow) {
                    chunk = usize::try_from(size).unwrap_or(SMALL);
                    big = Some(permit);
                }
            }
        }
        let mut left = n;
        while left > 0 {
            dst.writable().await?;
            match dst.try_io(Interest::WRITABLE, || {
                splice(&pipe_r, None, dst, None, left, flags).map_err(io::Error::from)
            }) {
                Ok(m) => {
                    left -= m;
                    count.fetch_add(m as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Caps a socket's kernel buffers at [`crate::SOCKET_BUFFER`].
pub fn limit_buffers(fd: &impl std::os::fd::AsFd) {
    use nix::sys::socket::{setsockopt, sockopt};
    let _ = setsockopt(fd, sockopt::SndBuf, &crate::SOCKET_BUFFER);
    let _ = setsockopt(fd, sockopt::RcvBuf, &crate::SOCKET_BUFFER);
}

/// Writes all of `data` to a non-blocking socket.
pub async fn write_all(dst: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        dst.writable().await?;
        match dst.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads what is available (at least one byte, or 0 at end of file),
/// appending to `buf` up to `max` bytes in total.
pub async fn read_more(src: &TcpStream, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    let room = max.saturating_sub(buf.len());
    if room == 0 {
        return Ok(0);
    }
    let start = buf.len();
    buf.resize(start + room.min(4096), 0);
    let r = loop {
        src.readable().await?;
        match src.try_read(&mut buf[start..]) {
            Ok(n) => break Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => break Err(e),
        }
    };
    let n = *r.as_ref().unwrap_or(&0);
    buf.truncate(start + n);
    r
}
