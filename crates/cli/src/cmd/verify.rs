//! `corral verify`: a red-team suite that proves what the policy contains.
//!
//! Each scenario (a small program from `scenarios/`, embedded in the
//! binary) runs as a child `corral run -q --audit TRAIL [the user's
//! --policy/--profile] [the scenario's flags] -- python3 PROGRAM attack`
//! in a fresh workspace with a fake HOME full of decoys, then its benign
//! twin (`... PROGRAM twin`) the same way. The runner judges each from
//! three sources that do not depend on each other: the program's own
//! protocol lines (`CORRAL-SCENARIO {...}`: what it attempted and saw),
//! the run's audit trail (refusals, findings, the kill and its latency,
//! the verdict), and the runner's own local servers and checks (a pool
//! login, an SSH banner, a shell that answered, a daemon that outlived the
//! run).
//!
//! Safety: targets are the runner's servers on the host's 127.0.0.1
//! (reached through corral's proxy by names under `.verify.test`, allowed
//! and pinned with `--allow-net`/`--resolve`), TEST-NET-1 addresses that
//! the programs only try when the sandbox has nothing but loopback, and
//! names under `.invalid`. Before a scenario runs, the runner checks the
//! effective policy: if it would let any of the scenario's off-machine
//! destinations through the proxy (or a name reach the host's resolver),
//! the scenario is not run and is reported as not contained.

mod judge;
mod report;
mod servers;
mod suite;

use super::{effective, EXIT_CORRAL_ERROR};
use crate::cli::{PolicyArgs, VerifyArgs};
use anyhow::{bail, Context, Result};
use corral_policy::net::{Dest, NetPolicy};
use judge::{Judged, Run, Seen};
use servers::Servers;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use suite::{Scenario, Server};

/// The runner's caps for the resource scenario (the policy's own limits
/// when smaller).
const PIDS_CAP: u64 = 64;
const MEMORY_CAP: u64 = 128 << 20;
/// How long past its `--timeout` a run may take before the runner kills it.
const GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Attack,
    Twin,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Attack => "attack",
            Mode::Twin => "twin",
        }
    }
}

/// One scenario's runs and judgement.
pub struct Outcome {
    pub scenario: &'static Scenario,
    pub attack: Run,
    pub twin: Run,
    pub judged: Judged,
    /// Flags the runner added (for the report).
    pub flags: Vec<String>,
    pub wall: Duration,
}

/// What every run shares.
struct Ctx {
    exe: PathBuf,
    python: Python,
    base: PolicyArgs,
    tmp: PathBuf,
    trails: PathBuf,
    servers: Servers,
    /// corral's default state directory, when it exists (the log-tamper
    /// scenario tries to write in it).
    state_dir: Option<PathBuf>,
    /// The user's PATH, passed on.
    path: OsString,
    limits: corral_policy::Limits,
    /// The policy's `[detect] enabled`.
    detect_enabled: bool,
    counter: std::cell::Cell<u32>,
}

struct Python {
    exe: PathBuf,
    /// Directories to add with --read (an interpreter outside /usr).
    reads: Vec<PathBuf>,
}

pub fn verify(args: VerifyArgs) -> Result<i32> {
    let selected = suite::select(&args.only).map_err(anyhow::Error::msg)?;
    if args.list {
        report::list(&selected);
        return Ok(0);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let base = PolicyArgs {
        policy: args.policy.as_ref().map(|p| cwd.join(p)),
        profile: args.profile.clone(),
        ..PolicyArgs::default()
    };
    // A bad policy fails here, once, with the loader's precise error.
    let policy = effective(&base)?;
    // Fail before the suite runs, not after.
    let report_file = args
        .report
        .as_ref()
        .map(|p| {
            std::fs::File::create(p)
                .with_context(|| format!("--report {}: cannot create the file", p.display()))
        })
        .transpose()?;
    let python = find_python()?;
    let exe = std::env::current_exe().context("cannot find corral's own executable")?;
    let tmp = make_temp_dir().context(
        "cannot create a temporary directory for the scenarios' workspaces (set TMPDIR to a writable place)",
    )?;
    let trails = tmp.join("trails");
    std::fs::create_dir(&trails).with_context(|| format!("cannot create {}", trails.display()))?;
    std::fs::set_permissions(&trails, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot chmod {}", trails.display()))?;
    let servers = Servers::start()
        .context("cannot start corral verify's local servers on 127.0.0.1 (is loopback up?)")?;
    let ctx = Ctx {
        exe,
        python,
        base,
        trails,
        servers,
        state_dir: corral_audit::Index::default_dir().filter(|d| d.join("runs").is_dir()),
        path: std::env::var_os("PATH")
            .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into()),
        limits: policy.limits.clone(),
        detect_enabled: policy.detect.is_enabled(),
        counter: std::cell::Cell::new(0),
        tmp,
    };
    let label = match (&args.policy, &args.profile) {
        (Some(p), Some(n)) => format!("{} (profile {n})", p.display()),
        (Some(p), None) => p.display().to_string(),
        (None, Some(n)) => format!("profile {n}"),
        (None, None) => format!("profile {} (the default)", corral_policy::DEFAULT_PROFILE),
    };
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !args.json;
    let started = std::time::SystemTime::now();
    let clock = Instant::now();
    let mut outcomes = Vec::new();
    let mut corral_failed = None;
    for (i, sc) in selected.iter().enumerate() {
        if progress {
            say!(
                "corral verify: [{}/{}] {} ...",
                i + 1,
                selected.len(),
                sc.id
            );
        }
        let o = run_scenario(&ctx, sc);
        for run in [&o.attack, &o.twin] {
            if run.exit_code == Some(EXIT_CORRAL_ERROR) && corral_failed.is_none() {
                corral_failed = Some(format!(
                    "{}: corral run failed: {}",
                    sc.id,
                    run.corral_lines.join(" / ")
                ));
            }
        }
        outcomes.push(o);
    }
    let card = report::Card {
        label,
        policy_toml: policy.to_toml(),
        started,
        wall: clock.elapsed(),
        outcomes,
        version: env!("CARGO_PKG_VERSION"),
        detect_enabled: ctx.detect_enabled,
        kept: args.keep.then(|| ctx.tmp.clone()),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&card.json()).unwrap_or_default()
        );
    } else {
        card.print_table(report::colour());
    }
    if let Some(mut f) = report_file {
        use std::io::Write;
        let path = args.report.as_deref().unwrap_or(Path::new(""));
        f.write_all(card.markdown().as_bytes())
            .with_context(|| format!("--report {}: cannot write", path.display()))?;
        if !args.json {
            say!("corral verify: report written to {}", path.display());
        }
    }
    if args.keep {
        say!(
            "corral verify: workspaces and audit trails kept in {}",
            ctx.tmp.display()
        );
    } else {
        let _ = std::fs::remove_dir_all(&ctx.tmp);
    }
    if let Some(why) = corral_failed {
        say!("corral verify: error: {why}");
        return Ok(EXIT_CORRAL_ERROR);
    }
    Ok(if card.all_pass() { 0 } else { 1 })
}

/// Both runs of a scenario, judged.
fn run_scenario(ctx: &Ctx, sc: &'static Scenario) -> Outcome {
    let clock = Instant::now();
    let mut flags = Vec::new();
    let attack = run_once(ctx, sc, Mode::Attack, &mut flags);
    let twin = run_once(ctx, sc, Mode::Twin, &mut Vec::new());
    let mut judged = judge::judge(sc, &attack, &twin, ctx.detect_enabled);
    if sc.limits {
        let unenforced = attack
            .corral_lines
            .iter()
            .any(|l| l.contains("cannot enforce a memory limit"));
        for (what, had) in [
            ("process", ctx.limits.pids.is_some()),
            ("memory", ctx.limits.memory.is_some() || unenforced),
        ] {
            if !had {
                judged.notes.push(format!(
                    "the policy sets no {what} limit: corral verify supplied one for this scenario; without it a real grab would meet no {what} limit"
                ));
            }
        }
    }
    for run in [&attack, &twin] {
        for note in run_notes(run) {
            if !judged.notes.contains(&note) {
                judged.notes.push(note);
            }
        }
    }
    Outcome {
        scenario: sc,
        attack,
        twin,
        judged,
        flags,
        wall: clock.elapsed(),
    }
}

fn run_notes(run: &Run) -> Vec<String> {
    run.corral_lines
        .iter()
        .filter(|l| l.contains("cannot enforce") || l.contains("supplied"))
        .cloned()
        .collect()
}

/// One run of a scenario's program; never fails: what went wrong is in
/// the result.
fn run_once(ctx: &Ctx, sc: &'static Scenario, mode: Mode, shown: &mut Vec<String>) -> Run {
    match try_run_once(ctx, sc, mode, shown) {
        Ok(run) => run,
        Err(e) => Run {
            error: Some(format!("{e:#}")),
            ..Run::default()
        },
    }
}

fn try_run_once(
    ctx: &Ctx,
    sc: &'static Scenario,
    mode: Mode,
    shown: &mut Vec<String>,
) -> Result<Run> {
    let n = ctx.counter.get() + 1;
    ctx.counter.set(n);
    let token = format!("{}x{n}", std::process::id());
    let dir = ctx.tmp.join(format!("{}-{}", sc.id, mode.name()));
    let ws = dir.join("ws");
    let home = dir.join("home");
    make_dir(&dir)?;
    fixtures_workspace(&ws, sc)?;
    fixtures_home(&home)?;
    let trail = ctx.trails.join(format!("{}-{}.jsonl", sc.id, mode.name()));
    // The runner's additions to the user's policy.
    let mut extra: Vec<String> = Vec::new();
    let servers = match mode {
        Mode::Attack => sc.servers,
        Mode::Twin => sc.twin_servers,
    };
    let mut net = PolicyArgs {
        policy: ctx.base.policy.clone(),
        profile: ctx.base.profile.clone(),
        ..PolicyArgs::default()
    };
    for s in servers {
        let port = ctx.servers.port(*s);
        let allow = format!("{}:{port}", s.host());
        let pin = format!("{}:{port}:127.0.0.1", s.host());
        extra.extend(["--allow-net".into(), allow.clone()]);
        extra.extend(["--resolve".into(), pin.clone()]);
        net.allow_net.push(allow);
        net.resolve.push(pin);
    }
    if sc.limits {
        let pids = ctx.limits.pids.map_or(PIDS_CAP, |p| p.min(PIDS_CAP));
        let memory = ctx
            .limits
            .memory
            .map_or(MEMORY_CAP, |m| m.0.min(MEMORY_CAP));
        extra.extend(["--pids".into(), pids.to_string()]);
        extra.extend(["--memory".into(), format!("{}M", memory >> 20)]);
    }
    if mode == Mode::Attack {
        *shown = extra.clone();
        if let Some(why) = unsafe_destination(sc, &net)? {
            return Ok(Run {
                not_run: Some(why),
                ..Run::default()
            });
        }
    }
    let mut run = spawn_run(ctx, sc, mode, &ws, &home, &trail, &token, &extra)?;
    // No writable cgroup (an unprivileged user without delegation): the
    // memory cap cannot be had; run without it and say so.
    if run.exit_code == Some(EXIT_CORRAL_ERROR) && sc.limits && ctx.limits.memory.is_none() {
        let reason = run
            .corral_lines
            .iter()
            .chain(&run.stderr_tail)
            .map(|l| l.trim().trim_start_matches("corral: error: "))
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(300)
            .collect::<String>();
        if let Some(i) = extra.iter().position(|a| a == "--memory") {
            extra.drain(i..i + 2);
        }
        let _ = std::fs::remove_file(&trail);
        fixtures_workspace(&ws, sc)?;
        run = spawn_run(ctx, sc, mode, &ws, &home, &trail, &token, &extra)?;
        run.corral_lines.insert(
            0,
            format!(
                "corral verify cannot enforce a memory limit on this machine, so none was supplied: the memory balloon and the /tmp fill ran to their caps (see `corral doctor`; {reason})"
            ),
        );
        if mode == Mode::Attack {
            *shown = extra.clone();
        }
    }
    // The runner's own view of breaches.
    let seen = ctx.servers.take();
    resolve_pending(&mut run, &seen, &token);
    // A breach only the runner's servers saw (no step claimed one).
    if mode == Mode::Attack && !run.program.steps.iter().any(|st| st.result == Seen::Done) {
        for s in servers {
            run.runner_breaches.extend(seen.breaches(*s));
        }
    }
    Ok(run)
}

/// Is any of the scenario's off-machine destinations allowed by the
/// policy? Then it is not run: corral verify never sends a packet off
/// this machine.
fn unsafe_destination(sc: &Scenario, args: &PolicyArgs) -> Result<Option<String>> {
    if sc.proxied.is_empty() && sc.looked_up.is_empty() {
        return Ok(None);
    }
    let policy = effective(args)?;
    let net = NetPolicy::compile(&policy.network)?;
    for (host, port) in sc.proxied {
        let ip = host.parse::<std::net::IpAddr>().ok();
        let dest = ip.map_or(Dest::Name(host), Dest::Ip);
        if net.denied(dest, *port).is_none() && !net.allowed(dest, *port).is_empty() {
            return Ok(Some(format!(
                "the policy allows {host}:{port}, which is off this machine (rule {}); corral verify does not send it a packet, and counts it as not contained",
                net.allowed(dest, *port)
                    .first()
                    .map_or("?", |r| r.text.as_str())
            )));
        }
    }
    for name in sc.looked_up {
        if net.name_visible(name) {
            return Ok(Some(format!(
                "the policy lets names like {name} reach the host's resolver (off this machine); corral verify does not send the queries, and counts it as not contained"
            )));
        }
    }
    Ok(None)
}

/// Settles the steps only the runner can judge.
fn resolve_pending(run: &mut Run, seen: &servers::Seen, token: &str) {
    let daemon_name = format!("corral-verify-daemon-{token}");
    let survivors = if run
        .program
        .steps
        .iter()
        .any(|s| s.check.as_deref() == Some("daemon"))
    {
        survivors(&daemon_name)
    } else {
        Vec::new()
    };
    for step in &mut run.program.steps {
        if step.result != Seen::Pending {
            continue;
        }
        match step.check.as_deref() {
            Some("c2") => {
                if seen.shells.is_empty() {
                    step.result = Seen::Refused;
                    step.by.get_or_insert_with(|| "proxy".into());
                    step.detail = Some(
                        "the listener got no answer: the shell's bytes never reached it".into(),
                    );
                } else {
                    step.result = Seen::Done;
                    step.detail = Some(format!("the listener saw {}", servers::C2_MARKER));
                }
            }
            Some("daemon") => {
                if survivors.is_empty() {
                    step.result = Seen::Refused;
                    step.by = Some("lifecycle".into());
                    step.detail = Some(
                        "gone after the run: the sandbox's init killed it when the command ended"
                            .into(),
                    );
                } else {
                    step.result = Seen::Done;
                    step.detail = Some(format!(
                        "still running on the host after the run (pids {}); corral verify killed it",
                        survivors
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            _ => {
                step.result = Seen::Done;
                step.detail = Some("the runner has no check for this step".into());
            }
        }
    }
}

/// Host processes whose argv[0] is `name`, killed (by pid) once found.
fn survivors(name: &str) -> Vec<u32> {
    let find = || {
        let mut pids = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
                    if cmdline.split(|b| *b == 0).next() == Some(name.as_bytes()) {
                        pids.push(pid);
                    }
                }
            }
        }
        pids
    };
    // The sandbox's init kills what is left as the command ends; give the
    // kernel a moment to reap.
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut pids = find();
    while !pids.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        pids = find();
    }
    for pid in &pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    pids
}

/// Starts `corral run` for one program and collects everything.
#[allow(clippy::too_many_arguments)]
fn spawn_run(
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
    if let Some(p) = &ctx.base.policy {
        cmd.arg("--policy").arg(p);
    }
    if let Some(p) = &ctx.base.profile {
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

/// A Python 3.9+ the sandbox can run: the system's, else the one on PATH
/// (its installation directories then get --read, for the profiles that
/// show only system directories).
fn find_python() -> Result<Python> {
    let probe = |exe: &Path| -> Option<(PathBuf, Vec<PathBuf>)> {
        let out = Command::new(exe)
            .args([
                "-c",
                "import sys; print(sys.version_info >= (3, 9)); print(sys.executable); print(sys.base_prefix); print(sys.prefix)",
            ])
            .env_clear()
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        if !out.status.success() || lines.next() != Some("True") {
            return None;
        }
        let real = PathBuf::from(lines.next()?);
        let mut reads: Vec<PathBuf> = Vec::new();
        for p in lines.map(PathBuf::from) {
            let system = ["/usr", "/bin", "/lib"].iter().any(|s| p.starts_with(s));
            if !system && !reads.contains(&p) {
                reads.push(p);
            }
        }
        Some((real, reads))
    };
    for system in ["/usr/bin/python3", "/bin/python3"] {
        if let Some((_, reads)) = probe(Path::new(system)).filter(|(_, r)| r.is_empty()) {
            return Ok(Python {
                exe: PathBuf::from(system),
                reads,
            });
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let cand = dir.join("python3");
        if cand.is_file() {
            if let Some((exe, reads)) = probe(&cand) {
                return Ok(Python { exe, reads });
            }
        }
    }
    bail!(
        "no Python 3.9 or later found (tried /usr/bin/python3 and python3 on PATH): corral verify's scenarios are Python programs; install python3"
    )
}

fn make_temp_dir() -> Result<PathBuf> {
    let template = std::env::temp_dir().join("corral-verify-XXXXXX");
    let dir = nix::unistd::mkdtemp(&template)
        .with_context(|| format!("mkdtemp {}", template.display()))?;
    // The sandbox (an unprivileged uid when root runs corral) must be able
    // to walk down to each workspace.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

fn make_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

fn write_file(path: &Path, content: &str, mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        make_dir(parent)?;
    }
    std::fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

/// A small project: the scenario program and its helper, a README, a
/// config, `.env` decoys, a git repository's metadata, a build script.
fn fixtures_workspace(ws: &Path, sc: &Scenario) -> Result<()> {
    if ws.exists() {
        std::fs::remove_dir_all(ws).with_context(|| format!("cannot clear {}", ws.display()))?;
    }
    make_dir(ws)?;
    write_file(&ws.join(sc.program), sc.source, 0o644)?;
    write_file(&ws.join(suite::HELPER.0), suite::HELPER.1, 0o644)?;
    write_file(
        &ws.join("README.md"),
        "# demo\n\nA project corral verify's scenarios work in.\n",
        0o644,
    )?;
    write_file(&ws.join("config.toml"), "[build]\njobs = 2\n", 0o644)?;
    write_file(
        &ws.join(".env"),
        "DATABASE_URL=postgres://app:CORRAL-DECOY-pw@db/app\n",
        0o644,
    )?;
    write_file(
        &ws.join("app/.env.production"),
        "STRIPE_KEY=CORRAL-DECOY-sk_live_000000\n",
        0o644,
    )?;
    write_file(
        &ws.join("tools/build.sh"),
        "#!/bin/sh\necho build ok\n",
        0o755,
    )?;
    write_file(&ws.join(".git/HEAD"), "ref: refs/heads/main\n", 0o644)?;
    write_file(
        &ws.join(".git/config"),
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n",
        0o644,
    )?;
    write_file(
        &ws.join(".git/hooks/pre-commit.sample"),
        "#!/bin/sh\nexit 0\n",
        0o755,
    )?;
    make_dir(&ws.join(".git/objects"))?;
    make_dir(&ws.join(".git/refs/heads"))
}

/// A fake HOME whose secrets are decoys (each holds `CORRAL-DECOY`).
fn fixtures_home(home: &Path) -> Result<()> {
    if home.exists() {
        return Ok(());
    }
    let decoy = "CORRAL-DECOY: not a real secret\n";
    for (path, content) in [
        (
            ".ssh/id_ed25519",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nCORRAL-DECOY\n-----END OPENSSH PRIVATE KEY-----\n",
        ),
        (
            ".ssh/id_rsa",
            "-----BEGIN RSA PRIVATE KEY-----\nCORRAL-DECOY\n-----END RSA PRIVATE KEY-----\n",
        ),
        (
            ".aws/credentials",
            "[default]\naws_access_key_id = AKIACORRALDECOY\naws_secret_access_key = CORRAL-DECOY\n",
        ),
        (".config/gcloud/application_default_credentials.json", decoy),
        (".kube/config", decoy),
        (".docker/config.json", decoy),
        (".netrc", "machine example.com login me password CORRAL-DECOY\n"),
        (".git-credentials", "https://me:CORRAL-DECOY@example.com\n"),
        (".bash_history", "ls\ncd project\n"),
        (".bashrc", "# ~/.bashrc\n"),
        (".profile", "# ~/.profile\n"),
    ] {
        write_file(&home.join(path), content, 0o644)?;
    }
    make_dir(&home.join(".config/systemd/user"))
}
