//! Further commands in a running session's sandbox ([`crate::Control::exec`]):
//! the same confinement, trail and guard as the first command, with their
//! own argv, working directory, extra environment, stdin, captured and
//! bounded stdout and stderr, and a timeout.

use crate::guard::Guard;
use crate::resolve::cstring;
use anyhow::{Context, Result};
use corral_detect::Finding;
use corral_event::{ExecExit, ExecStart};
use corral_sandbox::exec::Executor;
use corral_sandbox::launch::Ending;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Output kept per stream by default; the rest is read and counted.
pub const DEFAULT_OUTPUT_LIMIT: usize = 1 << 20;

/// How long the output is still read once the command has ended (a child
/// it left behind may hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_millis(200);

/// Which of a command's outputs a chunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// Receives a command's output as it is written (the kept part: at most
/// [`ExecRequest::output_limit`] bytes per stream), on the reader threads.
#[derive(Clone)]
pub struct OutputSink(pub Arc<SinkFn>);

/// What an [`OutputSink`] calls.
pub type SinkFn = dyn Fn(OutputStream, &[u8]) + Send + Sync;

impl std::fmt::Debug for OutputSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutputSink")
    }
}

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
    /// Recorded on its `exec.start` line (e.g. the rollout's step).
    pub labels: BTreeMap<String, String>,
    /// Also hands the output over as it comes (a streaming caller).
    pub sink: Option<OutputSink>,
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
            labels: BTreeMap::new(),
            sink: None,
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
    /// Bytes written to each stream in all (kept or not).
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// It ran past its timeout and was killed.
    pub timed_out: bool,
    pub duration: Duration,
    /// The findings raised while it ran.
    pub findings: Vec<Finding>,
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

/// What a reader kept, whether there was more, and the total it read.
type Kept = (Vec<u8>, bool, u64);

/// Reads `from` to its end on a thread of its own, keeping the first
/// `limit` bytes (and handing them to `sink` as they come).
fn read_bounded(
    from: OwnedFd,
    limit: usize,
    sink: Option<(OutputSink, OutputStream)>,
) -> Result<Receiver<Kept>> {
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("corral-exec-out".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut file = std::fs::File::from(from);
            let mut kept = Vec::new();
            let mut more = false;
            let mut total = 0u64;
            let mut buf = [0u8; 16 * 1024];
            loop {
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        total += n as u64;
                        let room = limit.saturating_sub(kept.len());
                        let taken = &buf[..n.min(room)];
                        if let (Some((sink, stream)), false) = (&sink, taken.is_empty()) {
                            (sink.0)(*stream, taken);
                        }
                        kept.extend_from_slice(taken);
                        more |= n > room;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send((kept, more, total));
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

/// Runs `req`, the session's command number `number`, in the sandbox
/// `executor` serves, framed in the trail by `exec.start` and `exec.exit`.
pub(crate) fn run(
    executor: &Executor,
    defaults: &Defaults,
    guard: &Guard,
    number: u64,
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
    let sink = |stream| req.sink.clone().map(|s| (s, stream));
    let out = read_bounded(out_r, req.output_limit, sink(OutputStream::Stdout))?;
    let err = read_bounded(err_r, req.output_limit, sink(OutputStream::Stderr))?;
    write_all(stdin_w, req.stdin)?;
    let findings_before = guard.finding_count();
    guard.record(
        ExecStart {
            exec: number,
            argv: req
                .argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            cwd: cwd.to_string_lossy().into_owned(),
            exec_labels: req.labels,
        }
        .into(),
    );
    let started = Instant::now();
    let spawned = match executor.spawn(argv, env, cwd, [stdin_r, out_w, err_w]) {
        Ok(spawned) => spawned,
        Err(e) => {
            guard.record(
                ExecExit {
                    exec: number,
                    ending: format!("failed: {e}"),
                    exit_code: corral_policy::EXIT_CORRAL_ERROR,
                    duration_ms: 0.0,
                    ..ExecExit::default()
                }
                .into(),
            );
            return Err(anyhow::Error::new(e).context("cannot start the command in the sandbox"));
        }
    };
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
    let collect = |rx: Receiver<Kept>| {
        rx.recv_timeout(OUTPUT_GRACE)
            .unwrap_or((Vec::new(), true, 0))
    };
    let (stdout, stdout_truncated, stdout_bytes) = collect(out);
    let (stderr, stderr_truncated, stderr_bytes) = collect(err);
    let findings = guard.findings_since(findings_before);
    guard.record(
        ExecExit {
            exec: number,
            ending: crate::session::ending_name(&ending),
            exit_code: ending.exit_code(),
            timed_out,
            duration_ms: (duration.as_secs_f64() * 1e6).round() / 1e3,
            stdout_bytes,
            stderr_bytes,
            findings: findings.iter().map(|f| f.id.clone()).collect(),
        }
        .into(),
    );
    Ok(ExecOutput {
        exit_code: ending.exit_code(),
        ending,
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        stdout_bytes,
        stderr_bytes,
        timed_out,
        duration,
        findings,
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
