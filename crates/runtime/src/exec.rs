//! Further commands in a running session's sandbox ([`crate::Control::exec`]):
//! the same confinement, trail and guard as the first command, with their
//! own argv, working directory, extra environment, stdin, captured and
//! bounded stdout and stderr, and a timeout.

use crate::resolve::cstring;
use anyhow::{Context, Result};
use corral_sandbox::exec::Executor;
use corral_sandbox::launch::Ending;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use std::ffi::{CString, OsString};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// Output kept per stream by default; the rest is read and counted.
pub const DEFAULT_OUTPUT_LIMIT: usize = 1 << 20;

/// How long the output is still read once the command has ended (a child
/// it left behind may hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// A further command.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// The command and its arguments (looked up in the sandbox's PATH).
    pub argv: Vec<OsString>,
    /// Set in (or added to) the session's environment.
    pub env: Vec<(OsString, OsString)>,
    /// Where it starts (a sandbox path); `None`: where the first command did.
    pub cwd: Option<PathBuf>,
    /// Written to its stdin, which is then closed.
    pub stdin: Vec<u8>,
    /// Killed (its process group, SIGKILL) when it runs longer.
    pub timeout: Option<Duration>,
    /// Bytes of stdout and of stderr kept (each).
    pub output_limit: usize,
}

impl ExecRequest {
    /// `argv` with the session's environment and working directory, no
    /// input, no timeout, [`DEFAULT_OUTPUT_LIMIT`].
    pub fn new<S: Into<OsString>>(argv: impl IntoIterator<Item = S>) -> ExecRequest {
        ExecRequest {
            argv: argv.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            cwd: None,
            stdin: Vec::new(),
            timeout: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
        }
    }
}

/// How a further command ended, and what it wrote.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// Exited, signalled, or could not run (not found, confinement...).
    pub ending: Ending,
    /// The conventional status: the exit code, 128+N for signal N, 126,
    /// 127 or 125 when it could not run.
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// More was written than [`ExecRequest::output_limit`] (or it was
    /// still being written when the command ended and the grace ran out).
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// It ran past its timeout and was killed.
    pub timed_out: bool,
    pub duration: Duration,
}

/// The session's environment and working directory, for further commands.
#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    pub env: Vec<CString>,
    pub cwd: PathBuf,
}

fn environment(defaults: &[CString], extra: &[(OsString, OsString)]) -> Result<Vec<CString>> {
    let mut env: Vec<CString> = defaults
        .iter()
        .filter(|kv| {
            let name = kv
                .as_bytes()
                .split(|b| *b == b'=')
                .next()
                .unwrap_or_default();
            !extra.iter().any(|(k, _)| k.as_bytes() == name)
        })
        .cloned()
        .collect();
    for (k, v) in extra {
        if k.is_empty() || k.as_bytes().contains(&b'=') {
            anyhow::bail!(
                "environment variable name {:?} is empty or contains '='",
                k.to_string_lossy()
            );
        }
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        env.push(cstring(&kv, "an environment variable")?);
    }
    Ok(env)
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).context("cannot create a pipe for the command")
}

/// Reads `from` to its end on a thread of its own, keeping the first
/// `limit` bytes.
fn read_bounded(from: OwnedFd, limit: usize) -> Result<Receiver<(Vec<u8>, bool)>> {
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("corral-exec-out".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut file = std::fs::File::from(from);
            let mut kept = Vec::new();
            let mut more = false;
            let mut buf = [0u8; 16 * 1024];
            loop {
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let room = limit.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                        more |= n > room;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send((kept, more));
        })
        .context("cannot start a reader of the command's output")?;
    Ok(rx)
}

/// Writes `input` to `to` on a thread of its own, then closes it (a
/// command that does not read its input closes the pipe first).
fn write_all(to: OwnedFd, input: Vec<u8>) -> Result<()> {
    std::thread::Builder::new()
        .name("corral-exec-in".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let _ = std::fs::File::from(to).write_all(&input);
        })
        .context("cannot start the writer of the command's input")?;
    Ok(())
}

/// Runs `req` in the sandbox `executor` serves.
pub(crate) fn run(
    executor: &Executor,
    defaults: &Defaults,
    req: ExecRequest,
) -> Result<ExecOutput> {
    let argv = req
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes(), "a command argument"))
        .collect::<Result<Vec<_>>>()?;
    let env = environment(&defaults.env, &req.env)?;
    let cwd = cstring(
        req.cwd
            .as_ref()
            .unwrap_or(&defaults.cwd)
            .as_os_str()
            .as_bytes(),
        "the working directory",
    )?;
    let (stdin_r, stdin_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    // The pipes' far ends are served before the command starts: if a
    // thread cannot start, nothing runs.
    let out = read_bounded(out_r, req.output_limit)?;
    let err = read_bounded(err_r, req.output_limit)?;
    write_all(stdin_w, req.stdin)?;
    let started = Instant::now();
    let spawned = executor
        .spawn(argv, env, cwd, [stdin_r, out_w, err_w])
        .context("cannot start the command in the sandbox")?;
    let mut timed_out = false;
    let ending = match spawned.wait(req.timeout) {
        Some(ending) => ending,
        None => {
            timed_out = true;
            let _ = spawned.signal(Signal::SIGKILL);
            spawned.wait(None).unwrap_or(Ending::TimedOut)
        }
    };
    let duration = started.elapsed();
    let collect =
        |rx: Receiver<(Vec<u8>, bool)>| rx.recv_timeout(OUTPUT_GRACE).unwrap_or((Vec::new(), true));
    let (stdout, stdout_truncated) = collect(out);
    let (stderr, stderr_truncated) = collect(err);
    Ok(ExecOutput {
        exit_code: ending.exit_code(),
        ending,
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        timed_out,
        duration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_variables_replace_the_sessions() {
        let defaults = vec![
            CString::new("PATH=/usr/bin").expect("c"),
            CString::new("HOME=/home/a").expect("c"),
        ];
        let env = environment(
            &defaults,
            &[("HOME".into(), "/ws".into()), ("X".into(), "1".into())],
        )
        .expect("env");
        let env: Vec<String> = env
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        assert_eq!(env, ["PATH=/usr/bin", "HOME=/ws", "X=1"]);
        assert!(environment(&defaults, &[("A=B".into(), "1".into())]).is_err());
        assert!(environment(&defaults, &[("".into(), "1".into())]).is_err());
    }
}
