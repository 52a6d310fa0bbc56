//! One run's audit trail: where it goes (`--audit FILE`, else the state
//! directory's `runs/RUN.jsonl`, listed in its index), what corral itself
//! records in it (the run's start and end, the proxy's events) and the
//! verdict that closes it.

use anyhow::{Context, Result};
use corral_audit::{Handle, Index, IndexEntry, Writer, WriterConfig};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where the trail goes, decided before the run (so a bad path fails
/// before anything starts).
pub struct Plan {
    pub path: PathBuf,
    /// The state directory holding every run's trail: masked in the
    /// sandbox (the command may neither read other runs nor touch them).
    pub state_dir: Option<PathBuf>,
    /// The index to list the run in (none with `--audit FILE`).
    pub index: Option<Index>,
    pub run: String,
    pub labels: BTreeMap<String, String>,
    pub command: Vec<String>,
    pub started: String,
}

impl Plan {
    pub fn new(
        audit: Option<PathBuf>,
        run: &str,
        labels: &[(String, String)],
        command: &[OsString],
    ) -> Result<Plan> {
        let (path, index, state_dir) = match audit {
            Some(path) => (std::path::absolute(&path).unwrap_or(path), None, None),
            None => {
                let dir = Index::default_dir().context(
                    "cannot place the audit trail: neither XDG_STATE_HOME nor HOME is set; \
                     set one, or pass --audit FILE",
                )?;
                // Made now, private, so that the sandbox can have it masked.
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir.join("runs"))
                    .with_context(|| {
                        format!(
                            "cannot create the audit trail directory {}; set XDG_STATE_HOME to a \
                             writable place, or pass --audit FILE",
                            dir.join("runs").display()
                        )
                    })?;
                let index = Index::open(dir.clone());
                (index.run_path(run), Some(index), Some(dir))
            }
        };
        if path.exists() {
            anyhow::bail!(
                "--audit {}: the file exists; an audit trail is never appended to or overwritten, \
                 give a new path",
                path.display()
            );
        }
        Ok(Plan {
            path,
            state_dir,
            index,
            run: run.to_owned(),
            labels: labels.iter().cloned().collect(),
            command: command
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            started: now(),
        })
    }
}

/// Refuses a trail the sandbox could alter: inside a path it may write.
pub fn check_outside(path: &std::path::Path, writable: &[PathBuf]) -> Result<()> {
    let parent = path.parent().unwrap_or(path);
    let parent = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
    if let Some(w) = writable.iter().find(|w| parent.starts_with(w)) {
        anyhow::bail!(
            "--audit {}: it is inside {}, which the sandbox can write, so the command could \
             delete or replace its own audit trail; put it outside the sandbox's writable paths",
            path.display(),
            w.display()
        );
    }
    Ok(())
}

/// Which paths the sandbox can write, from its mount plan: the deepest
/// mount covering a path decides (a writable bind, a private tmpfs, /dev)
/// or refuses (the read-only host tree, protected paths, masks).
#[derive(Debug, Clone, Default)]
pub struct WritableMap {
    /// (sandbox path, writable), deepest last wins.
    mounts: Vec<(PathBuf, bool)>,
    /// The private tmpfs mounts among them.
    tmpfs: Vec<PathBuf>,
}

impl WritableMap {
    pub fn new(plan: &corral_sandbox::plan::SandboxPlan) -> WritableMap {
        use corral_sandbox::plan::MountOp;
        let mounts = plan
            .fs
            .mounts
            .iter()
            .filter_map(|op| match op {
                MountOp::Bind { dst, writable, .. } => Some((dst.clone(), *writable)),
                MountOp::Tmpfs { dst, .. } => Some((dst.clone(), true)),
                MountOp::Dev => Some((PathBuf::from("/dev"), true)),
                MountOp::Proc => Some((PathBuf::from("/proc"), false)),
                MountOp::Mask { path, .. }
                | MountOp::Protect { path }
                | MountOp::OwnerBind { path } => Some((path.clone(), false)),
                MountOp::File { dst, .. } => Some((dst.clone(), false)),
                MountOp::Symlink { .. } | MountOp::Pin { .. } => None,
            })
            .collect();
        let tmpfs = plan
            .fs
            .mounts
            .iter()
            .filter_map(|op| match op {
                MountOp::Tmpfs { dst, .. } => Some(dst.clone()),
                _ => None,
            })
            .collect();
        WritableMap { mounts, tmpfs }
    }

    /// The writable places a person would name: the writable binds and the
    /// private tmpfs mounts (not /dev's device nodes), in plan order.
    pub fn roots(&self) -> Vec<PathBuf> {
        // Writable as the deepest mount there decides (a protected path
        // bound over a writable one is not), the binds (the workspace
        // first) before the private tmpfs mounts.
        let (mut binds, tmpfs): (Vec<PathBuf>, Vec<PathBuf>) = self
            .mounts
            .iter()
            .map(|(at, _)| at)
            .filter(|at| !at.starts_with("/dev") && self.writable(&at.to_string_lossy()))
            .cloned()
            .partition(|at| !self.tmpfs.contains(at));
        binds.extend(tmpfs);
        binds
    }

    /// Whether the sandbox may write `path` (a sandbox path, absolute).
    pub fn writable(&self, path: &str) -> bool {
        let path = std::path::Path::new(path);
        self.mounts
            .iter()
            .filter(|(at, _)| path.starts_with(at))
            .max_by_key(|(at, _)| at.components().count())
            .is_some_and(|(_, w)| *w)
    }
}

/// What the monitor sees, as trail events: `proc.exec`, `proc.exit`,
/// `sock.connect`, `sock.bind`, `sock.listen`, `sock.socket`,
/// `file.write` and `sys.denied`, handed to `record` (which waits for room
/// in the trail's queue, and the observed call waits with it:
/// back-pressure reaches the sandbox instead of events being lost).
///
/// `record` says whether the call may go on (false: the run is being
/// ended, and the call is failed instead).
pub fn monitor_sink(
    record: impl Fn(&str, Map<String, Value>) -> bool,
    writable: WritableMap,
) -> impl FnMut(corral_sandbox::seccomp::monitor::Observed) -> corral_sandbox::seccomp::monitor::Go
{
    use corral_sandbox::seccomp::monitor::Go;
    let mut events =
        corral_sandbox::seccomp::events::MonitorEvents::new(move |p: &str| writable.writable(p));
    move |seen| {
        let Some(event) = events.event(seen) else {
            return Go::Continue;
        };
        let (kind, details) = event.into_details();
        if record(&kind, details) {
            Go::Continue
        } else {
            Go::Stop
        }
    }
}

/// Samples the sandbox's processes every `interval` into the trail
/// (`resource.sample`: the whole sandbox, and its busiest processes), until
/// told to stop.
pub struct Sampler {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    /// `budget`: the sandbox's CPU budget in percent of one core (its
    /// `cpus` limit, else all the machine's cores), stated in each sample.
    pub fn start(
        record: impl Fn(&str, Map<String, Value>) + Send + 'static,
        init_pid: i32,
        interval: std::time::Duration,
        budget: f64,
        limited: bool,
    ) -> Result<Sampler> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("corral-sampler".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                use corral_sandbox::sample::{resource_sample, sample};
                let mut before = sample(init_pid);
                let mut at = std::time::Instant::now();
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(interval)
                {
                    let now = sample(init_pid);
                    let elapsed = at.elapsed().as_millis() as u64;
                    at = std::time::Instant::now();
                    let event = resource_sample(&before, &now, elapsed, budget, limited);
                    let (kind, details) = corral_event::Event::from(event).into_details();
                    record(&kind, details);
                    before = now;
                }
            })
            .context("cannot start the resource sampler")?;
        Ok(Sampler { stop, thread })
    }

    /// Stops sampling (at once, not at the next tick) and waits for it.
    pub fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// The running trail.
pub struct Trail {
    writer: Writer,
    plan: Plan,
    /// Events at `critical` severity seen (for the verdict).
    critical: Arc<AtomicU64>,
}

impl Trail {
    /// Starts the writer (a thread: call after the clone) and records the
    /// run's start.
    pub fn start(plan: Plan, details: Map<String, Value>) -> Result<Trail> {
        let writer = Writer::create(WriterConfig {
            path: plan.path.clone(),
            run: plan.run.clone(),
            labels: plan.labels.clone(),
            // Enough to absorb bursts; the channel allocates (and touches)
            // all of it up front, which a launch pays for.
            queue: 4096,
        })
        .with_context(|| format!("cannot create the audit trail {}", plan.path.display()))?;
        writer.handle().record("run.start", details);
        Ok(Trail {
            writer,
            plan,
            critical: Arc::default(),
        })
    }

    pub fn handle(&self) -> Handle {
        self.writer.handle()
    }

    /// Counts critical events (the proxy's sink reports them here).
    pub fn critical_counter(&self) -> Arc<AtomicU64> {
        self.critical.clone()
    }

    /// Records the run's end and the verdict, and lists the run in the
    /// index. Returns the trail's path and its line count.
    pub fn finish(
        self,
        end: Map<String, Value>,
        mut verdict: Map<String, Value>,
    ) -> Result<(PathBuf, u64)> {
        let killed = verdict
            .get("killed")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.writer.handle().record("run.exit", end);
        // A finding of medium severity or worse flags the run.
        let found = matches!(
            verdict.get("severity").and_then(Value::as_str),
            Some("medium" | "high" | "critical")
        );
        let outcome = if killed {
            "killed"
        } else if found || self.critical.load(Ordering::Relaxed) > 0 {
            "flagged"
        } else {
            "clean"
        };
        verdict.insert("outcome".into(), Value::from(outcome));
        let summary = self.writer.finish(verdict)?;
        if let Some(index) = &self.plan.index {
            index.append(&IndexEntry {
                run: self.plan.run.clone(),
                path: summary.path.clone(),
                started: self.plan.started.clone(),
                ended: now(),
                labels: self.plan.labels.clone(),
                command: self.plan.command.clone(),
                outcome: outcome.to_owned(),
                lines: summary.lines,
                last_hash: summary.last_hash.clone(),
            })?;
        }
        Ok((summary.path, summary.lines))
    }
}
