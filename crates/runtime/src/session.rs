//! One sandboxed session, from policy to verdict: [`Session::prepare`]
//! decides everything that can fail before anything starts (the plan, the
//! trail's place, the layers, the detectors), [`Session::launch`] starts the
//! sandbox and with it the trail, the guard, the sampler, the monitor and the
//! egress proxy, [`Running::wait`] supervises it to its end, and
//! [`Session::finish`] records what the kernel reports afterwards and
//! closes the trail with its verdict.
//!
//! A session is single-use. [`Session::launch`] forks the sandbox: call it
//! while the process is single-threaded (the threads a session starts come
//! after the fork); `corral run` does, and the tests run each session in a
//! process of its own.

use crate::guard::{Guard, EXIT_FINDING};
use crate::layers::{self, Layers};
use crate::live::{Live, LiveSettings};
use crate::netreport;
use crate::resolve::{self, Resolved};
use crate::sampler::CpuBudget;
use crate::trail::{check_outside, TrailTarget};
use anyhow::Result;
use corral_detect::{Baseline, Context, Engine, Response};
use corral_event::{
    Event, FsProtected, Limit, ResourceLimit, RunError, RunExit, RunStart, Verdict,
};
use corral_policy::Policy;
use corral_sandbox::launch::{self, Ending, Launch, LaunchError, LaunchOutcome};
use corral_sandbox::writable::{host_writable, WritableMap};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The exit status of a run corral could not start or complete.
pub use corral_policy::EXIT_CORRAL_ERROR;

/// The exit status of a run killed at the caller's request (128 + SIGKILL).
pub const EXIT_KILLED: i32 = 128 + 9;

/// What a session runs, and how it is watched.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// The effective policy (profile, file and flags merged).
    pub policy: Policy,
    /// The command and its arguments. Empty: the sandbox has no command of
    /// its own and lasts until [`Control::stop`] (or a kill, a finding,
    /// the timeout); its work is [`Control::exec`]'s.
    pub command: Vec<OsString>,
    /// The caller's labels (episode, trajectory...), on every trail line.
    pub labels: Vec<(String, String)>,
    /// The trail's file; `None`: the state directory's `runs/RUN.jsonl`.
    pub audit: Option<PathBuf>,
    /// A learned baseline for the anomaly detectors.
    pub baseline: Option<PathBuf>,
    /// Whether the seccomp monitor reports execs, connections, writes.
    pub monitor: bool,
    /// How often resources are sampled; zero: never.
    pub sample_interval: Duration,
    /// Every proxy event also goes to this file (JSON Lines).
    pub net_log: Option<PathBuf>,
    /// No header, no line naming the trail.
    pub quiet: bool,
    /// Built ahead of its caller (a warm pool's): the trail is created at
    /// [`Control::claim`], with the caller's labels on every line; a
    /// session never claimed leaves no trail (nothing ran in it).
    pub park: bool,
}

/// A prepared session (see the module's documentation).
pub struct Session {
    policy: Policy,
    run_id: String,
    resolved: Resolved,
    layers: Layers,
    header: String,
    /// The host paths the sandbox can write.
    writable: Vec<PathBuf>,
    /// What the sandbox may write, as it sees it.
    writable_map: WritableMap,
    quiet: bool,
    /// Refusal lines wait while the command owns the terminal's screen.
    defer: bool,
    cpu: CpuBudget,
    interval: Duration,
    park: bool,
    live: Live,
}

/// How a session ended, as `corral run` reports it.
#[derive(Debug, Clone)]
pub struct Report {
    /// corral's exit status: the command's, or [`EXIT_FINDING`] when a
    /// finding ended the run.
    pub exit_code: i32,
    /// The verdict that closed the trail (none if the trail could not be
    /// completed).
    pub verdict: Option<Verdict>,
    /// The trail, and its line count.
    pub trail: Option<(PathBuf, u64)>,
}

impl Session {
    /// Decides everything that can fail before anything starts.
    pub fn prepare(options: SessionOptions) -> Result<Session> {
        let SessionOptions {
            mut policy,
            command,
            labels,
            audit,
            baseline,
            monitor,
            sample_interval,
            net_log,
            quiet,
            park,
        } = options;
        let run_id = new_run_id();
        let mut target = TrailTarget::new(audit, &run_id, &labels, &command)?;
        target.held = park;
        if let Some(dir) = &target.state_dir {
            // Every run's trail is out of the command's sight.
            policy
                .filesystem
                .deny_read
                .push(dir.to_string_lossy().into_owned());
        }
        let mut resolved = resolve::resolve(&policy, &command)?;
        resolved.plan.seccomp.notify = monitor;
        let plan = &resolved.plan;
        let writable = host_writable(plan);
        match &target.state_dir {
            // An explicit file must be out of the command's reach.
            None => check_outside(&target.path, &writable)?,
            // The state directory is masked (a mount point the command can
            // neither read, write, remove nor rename); one inside a writable
            // tree (HOME as the workspace) still has parents it could rename.
            Some(dir) => {
                if check_outside(&dir.join("runs").join("x"), &writable).is_err() {
                    say!(
                        "corral: warning: the audit trails' directory {} is inside a path the sandbox can write; it is hidden from the command, but set XDG_STATE_HOME outside the workspace (or pass --audit FILE) to keep its parents out of reach too",
                        dir.display()
                    );
                }
            }
        }
        let baseline = baseline.as_deref().map(Baseline::load).transpose()?;
        let layers = layers::prepare(plan, &run_id)?;
        let writable_map = WritableMap::new(plan);
        let header = layers.header(plan, resolved.net.as_ref(), &labels);
        let log = netreport::open_log(net_log.as_deref())?;
        let cpu = CpuBudget {
            percent: policy.limits.cpus.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
            }) * 100.0,
            limited: policy.limits.cpus.is_some(),
        };
        let context = Context {
            workspace: Some(resolved.workspace.clone()),
            audit_paths: std::iter::once(target.path.clone())
                .chain(target.state_dir.clone())
                .collect(),
            cpu_budget_percent: cpu.percent,
        };
        let engine = Engine::new(&policy.detect, context, baseline);
        Ok(Session {
            policy,
            run_id,
            resolved,
            layers,
            header,
            writable,
            writable_map,
            quiet,
            defer: corral_sandbox::tty::pty_fds()[2],
            cpu,
            interval: sample_interval,
            park,
            live: Live::new(target, engine, log),
        })
    }

    /// The one-line description of the layers in force
    /// (`corral: sandbox: ...`).
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The run's id (16 hex digits).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Where the trail is written.
    pub fn trail_path(&self) -> PathBuf {
        self.live.trail_path()
    }

    /// Starts the sandbox. Its trail, guard and sampler start right after
    /// the clone; the monitor and the proxy as the sandbox hands over their
    /// descriptors (in [`Running::wait`]). An error here has already been
    /// cleaned up; pass it to [`Session::finish`] to close the trail.
    pub fn launch(&self) -> Result<Running<'_>, LaunchError> {
        let plan = &self.resolved.plan;
        let live = &self.live;
        let start = self.start_event();
        let after_clone = Box::new(move |init_pid: libc::pid_t| {
            let mut start = start;
            start.init_pid = init_pid.unsigned_abs();
            live.start(start, init_pid, self.live_settings())
        }) as launch::AfterClone<'_>;
        let on_network = self.resolved.net.clone().map(|net| {
            Box::new(move |l: corral_sandbox::net::Listeners| {
                live.serve_network(l, net, self.defer)
            }) as launch::ServeNetwork<'_>
        });
        let on_monitor = plan.seccomp.notify.then(|| {
            let writable = self.writable_map.clone();
            Box::new(move |listener| live.serve_monitor(listener, writable.clone()))
                as launch::ServeMonitor<'_>
        });
        let started = launch::start(Launch {
            plan,
            filter: &self.layers.filter,
            cgroup: self.layers.cgroup.as_ref(),
            landlock: self.layers.landlock_abi.is_some(),
            memory_rlimit_fallback: self.layers.memory_rlimit_fallback,
            after_clone: Some(after_clone),
            on_monitor,
            on_network,
        })?;
        Ok(Running {
            control: self.live.guard().map(|guard| Control {
                guard,
                executor: started.executor(),
                defaults: Arc::new(crate::exec::Defaults {
                    env: plan.env.clone(),
                    cwd: plan.cwd.clone(),
                }),
                launched: std::time::Instant::now(),
                execs: Arc::default(),
            }),
            started,
        })
    }

    /// Launches, waits and finishes: `corral run`.
    pub fn run(self) -> Result<Report> {
        let outcome = self.launch().and_then(Running::wait);
        self.finish(outcome)
    }

    fn start_event(&self) -> RunStart {
        let plan = &self.resolved.plan;
        RunStart {
            command: self.live.command(),
            cwd: plan.cwd.to_string_lossy().into_owned(),
            header: self.header.clone(),
            init_pid: 0,
            monitor: plan.seccomp.notify,
            network: self.resolved.net.is_some(),
            profile: self
                .policy
                .extends
                .clone()
                .unwrap_or_else(|| corral_policy::DEFAULT_PROFILE.to_owned()),
            workspace: self.resolved.workspace.to_string_lossy().into_owned(),
            writable: self
                .writable
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        }
    }

    /// Records what the kernel reports after the run (the timeout, limits
    /// hit, protected paths created), says it, and closes the trail with
    /// the verdict. A launch error is recorded (`run.error`) and returned,
    /// with the likely reason.
    pub fn finish(self, outcome: Result<LaunchOutcome, LaunchError>) -> Result<Report> {
        let guard = self.live.guard();
        self.live.stop_sampler();
        // The sandbox's pids may be reused from now on: findings made of
        // what is recorded after this point are reported, never acted on.
        if let Some(g) = &guard {
            g.sandbox_gone();
        }
        // The command shared this stderr and may have left it non-blocking;
        // what corral prints now must not fail (or panic) for that.
        corral_sandbox::tty::set_blocking(libc::STDERR_FILENO);
        self.live.stop_proxy();
        let record = |event: Event| {
            if let Some(g) = &guard {
                g.record(event);
            }
        };
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                record(
                    RunError {
                        message: e.to_string(),
                    }
                    .into(),
                );
                let end = RunExit {
                    exit_code: EXIT_CORRAL_ERROR,
                    ..RunExit::default()
                };
                self.close(guard.as_deref(), end, false);
                return Err(explain_launch_error(e));
            }
        };
        let plan = &self.resolved.plan;
        // Killed at the caller's request ([`Control::kill`]): init was
        // killed with the rest, so it reported no status.
        let by_caller = guard.as_ref().is_some_and(|g| g.killed_by_caller());
        let stopped = guard.as_ref().is_some_and(|g| g.stopped_by_caller());
        match &outcome.ending {
            Ending::Failed { .. } if by_caller => {}
            Ending::Failed { message, .. } => say!("corral: {message}"),
            Ending::TimedOut => {
                let secs = plan.limits.timeout.map_or(0, |t| t.as_secs());
                say!("corral: the command ran past its timeout ({secs}s) and the sandbox was stopped");
                record(limit_of(Limit::Timeout, format!("ran past its {secs}s timeout")).into());
            }
            _ => {}
        }
        for (path, change) in crate::protected::report_new(&self.resolved) {
            record(FsProtected { change, path }.into());
        }
        if let Some(cg) = &self.layers.cgroup {
            let oom = cg.oom_kills();
            if oom > 0 {
                say!(
                    "corral: the sandbox hit its memory limit: the kernel killed {oom} process(es)"
                );
                record(
                    ResourceLimit {
                        oom_kills: Some(oom),
                        ..limit_of(
                            Limit::Memory,
                            format!("the kernel killed {oom} process(es) at the memory limit"),
                        )
                    }
                    .into(),
                );
            }
            let pids = cg.pids_max_hit();
            if pids > 0 {
                say!("corral: the sandbox hit its process limit {pids} time(s)");
                record(
                    ResourceLimit {
                        refused_forks: Some(pids),
                        ..limit_of(
                            Limit::Pids,
                            format!("{pids} fork(s) refused at the process limit"),
                        )
                    }
                    .into(),
                );
            }
        }
        let ended = guard.as_ref().and_then(|g| g.ended());
        let exit_code = match &ended {
            Some(_) => EXIT_FINDING,
            None if by_caller => EXIT_KILLED,
            None => outcome.ending.exit_code(),
        };
        let mut end = RunExit {
            ending: Some(if by_caller {
                guard
                    .as_ref()
                    .and_then(|g| g.kill_reason())
                    .unwrap_or_else(|| "killed at the caller's request".to_owned())
            } else if stopped && matches!(outcome.ending, Ending::Exited(0)) {
                "ended at the caller's request".to_owned()
            } else {
                ending_name(&outcome.ending)
            }),
            exit_code,
            wall_ms: Some(outcome.wall_time.as_secs_f64() * 1000.0),
        };
        if let Some(e) = &ended {
            end.ending = Some(format!("stopped by corral for {}", e.finding));
            say!(
                "corral: the run was stopped ({}) for finding {}; exit status {EXIT_FINDING}",
                match e.response {
                    Response::Freeze => "frozen, snapshot taken, killed",
                    _ => "killed",
                },
                e.finding,
            );
        }
        let killed = matches!(outcome.ending, Ending::TimedOut) || ended.is_some() || by_caller;
        let (verdict, trail) = self.close(guard.as_deref(), end, killed);
        Ok(Report {
            exit_code,
            verdict,
            trail,
        })
    }

    /// Closes the trail with its verdict (what ended the run, the counts,
    /// the layers in force) and says where it is; destroys the cgroup.
    fn close(
        mut self,
        guard: Option<&Guard>,
        end: RunExit,
        killed: bool,
    ) -> (Option<Verdict>, Option<(PathBuf, u64)>) {
        if let Some(cg) = self.layers.cgroup.take() {
            if let Err(e) = cg.destroy() {
                say!("corral: warning: {e}");
            }
        }
        let Some(trail) = self.live.take_trail() else {
            return (None, None);
        };
        // Never claimed: nothing ran, and no trail is left (dropping a
        // held trail creates no file).
        if guard.is_some_and(|g| !g.is_claimed()) {
            drop(trail);
            return (None, None);
        }
        if let Some(g) = guard {
            g.finish();
        }
        let findings = guard.map(Guard::findings).unwrap_or_default();
        let ended = guard.and_then(Guard::ended);
        let verdict = Verdict {
            denied: self.live.denied(),
            ended_by: ended.as_ref().map(|e| e.finding.clone()),
            exit_code: Some(end.exit_code),
            findings: findings.iter().map(|f| f.id.clone()).collect(),
            killed,
            layers: self
                .header
                .strip_prefix("corral: sandbox: ")
                .unwrap_or(&self.header)
                .to_owned(),
            outcome: corral_event::Outcome::Clean,
            response_ms: ended
                .as_ref()
                .map(|e| (e.latency.as_secs_f64() * 1e6).round() / 1e3),
            severity: findings.iter().map(|f| f.severity).max(),
            events: None,
            dropped: None,
        };
        match trail.finish(end, verdict) {
            Ok(done) => {
                if !self.quiet {
                    say!(
                        "corral: audit trail: {} ({} events)",
                        done.path.display(),
                        done.lines
                    );
                }
                (Some(done.verdict), Some((done.path, done.lines)))
            }
            Err(e) => {
                say!("corral: error: the audit trail could not be completed: {e:#}");
                (None, None)
            }
        }
    }

    /// What the guard and the sampler are built with, right after the
    /// clone.
    fn live_settings(&self) -> LiveSettings<'_> {
        LiveSettings {
            run_id: &self.run_id,
            cgroup: self.layers.cgroup.as_ref().map(|c| c.control()),
            webhook: self.policy.detect.webhook.as_deref(),
            defer: self.defer,
            writable_roots: self.writable_map.roots(),
            sample_interval: self.interval,
            cpu: self.cpu,
            parked: self.park,
        }
    }
}

/// A started sandbox.
pub struct Running<'s> {
    started: launch::Started<'s>,
    control: Option<Control>,
}

impl Running<'_> {
    /// The sandbox's init, as the host sees it.
    pub fn init_pid(&self) -> libc::pid_t {
        self.started.init_pid()
    }

    /// A handle to kill, freeze, thaw or snapshot the sandbox from any
    /// thread while [`Running::wait`] supervises it.
    pub fn control(&self) -> Option<Control> {
        self.control.clone()
    }

    /// Supervises the sandbox to its end.
    pub fn wait(self) -> Result<LaunchOutcome, LaunchError> {
        self.started.wait()
    }
}

/// Runs further commands in, kills, freezes, thaws or snapshots a running
/// sandbox (cheap to clone, usable from any thread).
#[derive(Clone)]
pub struct Control {
    guard: Arc<Guard>,
    executor: corral_sandbox::exec::Executor,
    defaults: Arc<crate::exec::Defaults>,
    launched: std::time::Instant,
    /// Further commands started so far (their numbers in the trail).
    execs: Arc<std::sync::atomic::AtomicU64>,
}

impl Control {
    /// Hands a parked session ([`SessionOptions::park`]) to its caller:
    /// its trail is created now, with `labels` on every line, and a
    /// `run.claim` line says how long it waited. Fails for a session
    /// claimed already or not parked.
    pub fn claim(&self, labels: std::collections::BTreeMap<String, String>) -> Result<()> {
        self.guard.claim(labels, self.launched.elapsed())
    }

    /// Runs a further command in the sandbox, confined as the first one
    /// (its calls go through the same monitor, detectors and trail), and
    /// waits for it. Its `exec.start` and `exec.exit` lines frame it in the
    /// trail, and its output lists the findings raised while it ran (with
    /// several commands at once, each lists every finding of its window).
    /// Fails when the sandbox has ended or is being ended, or is parked.
    pub fn exec(&self, request: crate::exec::ExecRequest) -> Result<crate::exec::ExecOutput> {
        if !self.guard.is_claimed() {
            anyhow::bail!("the sandbox is parked: claim it before running commands in it");
        }
        if self.guard.is_ending() {
            anyhow::bail!("the sandbox is being ended (a finding or a kill); start a new one");
        }
        let number = self
            .execs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        crate::exec::run(&self.executor, &self.defaults, &self.guard, number, request)
    }

    /// How many further commands were started.
    pub fn exec_count(&self) -> u64 {
        self.execs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every finding so far, in order.
    pub fn findings(&self) -> Vec<corral_detect::Finding> {
        self.guard.findings()
    }

    /// The finding that ended the sandbox, if one did.
    pub fn ended(&self) -> Option<crate::guard::Ended> {
        self.guard.ended()
    }

    /// Ends a sandbox that has no command of its own, in order: init kills
    /// every process in it and [`Running::wait`] returns `exited 0`; the
    /// ending says the caller asked. (A sandbox with a command of its own
    /// is killed the same way; its ending is the command's.)
    pub fn stop(&self) -> Result<()> {
        self.guard.mark_stopped();
        self.executor
            .stop()
            .map_err(|e| anyhow::anyhow!("cannot ask the sandbox to stop: {e}"))
    }

    /// Kills every process of the sandbox; the verdict says `killed`.
    pub fn kill(&self) {
        self.guard.kill();
    }

    /// [`Control::kill`], with `reason` as the run's ending (e.g. "ran
    /// past the session's 600s timeout").
    pub fn kill_because(&self, reason: impl Into<String>) {
        self.guard.kill_because(reason.into());
    }

    /// Stops every process of the sandbox (the cgroup freezer, else
    /// SIGSTOP to each).
    pub fn freeze(&self) -> corral_sandbox::process::Frozen {
        self.guard.freeze()
    }

    /// Lets a frozen sandbox run again.
    pub fn thaw(&self) {
        self.guard.thaw();
    }

    /// Every process of the sandbox now, with argv, cwd and open files.
    pub fn snapshot(&self) -> Vec<corral_event::SnapshotProcess> {
        self.guard.snapshot()
    }
}

fn limit_of(limit: Limit, detail: String) -> ResourceLimit {
    ResourceLimit {
        detail,
        limit,
        oom_kills: None,
        refused_forks: None,
    }
}

pub(crate) fn ending_name(ending: &Ending) -> String {
    match ending {
        Ending::Exited(c) => format!("exited {c}"),
        Ending::Signaled(s) => format!("killed by signal {s}"),
        Ending::TimedOut => "timed out".into(),
        Ending::Failed { message, .. } => format!("failed: {message}"),
    }
}

/// Adds the likely reason (and fix) when the namespaces could not be made.
fn explain_launch_error(err: LaunchError) -> anyhow::Error {
    use corral_sandbox::probe::{explain_userns, Support, UsernsKnobs};
    let clone_failed = matches!(err, LaunchError::Clone(_));
    let err = anyhow::Error::new(err).context("the sandbox could not be started");
    match (clone_failed, explain_userns(&UsernsKnobs::read(), None)) {
        (true, Support::No { reason, fix }) => err.context(format!("{reason}; fix: {fix}")),
        _ => err,
    }
}

/// The audit crate's run id (16 hex digits from the kernel's random pool),
/// or, without /dev/urandom, one from the clock and the pid.
fn new_run_id() -> String {
    corral_audit::new_run_id().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        format!("{:016x}", nanos ^ u64::from(std::process::id()))
    })
}
