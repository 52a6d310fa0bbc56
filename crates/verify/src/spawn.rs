//! One `corral run` of a scenario's program: its command line and
//! environment, the wait (with a deadline), and everything it left: stdout,
//! stderr, the audit trail.

use crate::judge::{self, Run};
use crate::suite::{Scenario, Server};
use crate::{Ctx, Mode};
use anyhow::{Context, Result};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long past its `--timeout` a run may take before the runner kills it.
const GRACE: Duration = Duration::from_secs(15);

/// Starts `corral run` for one program and collects everything.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn_run(
    ctx: &Ctx,
    sc: &Scenario,
    mode: Mode,
    ws: &Path,
    home: &Path,
    trail: &Path,
    token: &str,
    extra: &[String],
) -> Result<Run> {
    let mut cmd = Command::new(&ctx.exe);
    cmd.args(["run", "-q"]).arg("--audit").arg(trail);
    if let Some(p) = &ctx.policy_file {
        cmd.arg("--policy").arg(p);
    }
    if let Some(p) = &ctx.profile {
        cmd.arg("--profile").arg(p);
    }
    cmd.arg("--workspace").arg(ws).arg("--read").arg(home);
    for r in &ctx.python.reads {
        cmd.arg("--read").arg(r);
    }
    cmd.arg("--timeout").arg(format!("{}s", sc.timeout_s));
    cmd.args(extra);
    cmd.arg("--")
        .arg(&ctx.python.exe)
        .arg(sc.program)
        .arg(mode.name());
    cmd.current_dir(ws)
        .env_clear()
        .env("PATH", &ctx.path)
        .env("HOME", home)
        .env("LC_ALL", "C")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CV_TOKEN", token)
        .env("CV_TRAIL", trail)
        // Decoys: the policy's env_deny should remove them.
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "CORRAL-DECOY-wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env(
            "GITHUB_TOKEN",
            "CORRAL-DECOY-ghp_000000000000000000000000000000000000",
        );
    for var in ["USER", "LOGNAME", "TMPDIR"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    for s in Server::ALL {
        cmd.env(
            format!("CV_{}", s.key().to_uppercase()),
            format!("{}:{}", s.host(), ctx.servers.port(s)),
        );
    }
    if let Some(state) = &ctx.state_dir {
        cmd.env("CV_STATE", state);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let clock = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", ctx.exe.display()))?;
    let out = collect(child.stdout.take());
    let err = collect(child.stderr.take());
    let deadline = Duration::from_secs(sc.timeout_s) + GRACE;
    let status = loop {
        if let Some(st) = child.try_wait().context("cannot wait for corral run")? {
            break Some(st);
        }
        if clock.elapsed() > deadline {
            // Our own child, by its pid.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall_ms = clock.elapsed().as_secs_f64() * 1000.0;
    // Output of processes that outlived the run may keep the pipes open:
    // take what arrived.
    std::thread::sleep(Duration::from_millis(20));
    let stdout = out.take_after(Duration::from_secs(2));
    let stderr = err.take_after(Duration::from_secs(2));
    let lines = if trail.exists() {
        corral_audit::read(trail)
            .with_context(|| format!("cannot read the audit trail {}", trail.display()))?
    } else {
        Vec::new()
    };
    let corral_lines: Vec<String> = stderr
        .lines()
        .filter(|l| l.starts_with("corral:"))
        .map(str::to_owned)
        .collect();
    let mut stderr_tail: Vec<String> = stderr
        .lines()
        .filter(|l| !l.starts_with("corral:") && !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let keep = stderr_tail.len().saturating_sub(5);
    stderr_tail.drain(..keep);
    let error = match status {
        None => Some(format!(
            "corral run did not end within {} s; the runner killed it",
            deadline.as_secs()
        )),
        Some(_) => None,
    };
    Ok(Run {
        program: judge::parse_program(&stdout),
        trail: judge::read_trail(&lines),
        exit_code: status.and_then(|s| s.code()),
        corral_lines,
        stderr_tail,
        runner_breaches: Vec::new(),
        error,
        not_run: None,
        wall_ms,
    })
}

/// A pipe read on a thread into a shared buffer.
struct Collected {
    buf: Arc<Mutex<Vec<u8>>>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Collected {
    fn take_after(&self, wait: Duration) -> String {
        let _ = self.done.recv_timeout(wait);
        let buf = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> Collected {
    let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
    let (tx, done) = std::sync::mpsc::channel();
    let shared = buf.clone();
    std::thread::spawn(move || {
        if let Some(mut pipe) = pipe {
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => shared
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend_from_slice(&chunk[..n]),
                }
            }
        }
        let _ = tx.send(());
    });
    Collected { buf, done }
}
