//! The live watch over one run: every event the sandbox produces goes
//! through the detectors on its way into the audit trail; each finding is
//! recorded, said on stderr, posted to the webhook, and acted on (the
//! whole sandbox killed, or frozen for a snapshot and then killed) as the
//! policy's `[detect]` section asks.
//!
//! The detectors run on the thread that observed the event (the monitor,
//! the proxy, the sampler), under one lock, before the event is queued for
//! the trail: a kill does not wait for the writer.
//!
//! The same place explains the sandbox's own refusals in plain words
//! (a refused syscall, a write outside the writable paths), once each.

use crate::lock;
use crate::webhook::Webhook;
use corral_audit::Handle;
use corral_detect::{Engine, Finding, Response};
use corral_event::{Decision, Event, ResponseKill, ResponseSnapshot, SnapshotProcess};
use corral_sandbox::cgroup::Cgroup;
use corral_sandbox::process::{self, Frozen};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The exit status of a run corral ended for a finding.
pub use corral_policy::EXIT_FINDING;

/// Distinct explanation lines said; past that they are counted only.
const MAX_LINES: usize = 200;

/// How the run was ended, by the first finding that asked for it.
#[derive(Debug, Clone)]
pub struct Ended {
    /// The finding's id.
    pub finding: String,
    /// Its response (kill or freeze).
    pub response: Response,
    /// From the event that completed the finding to the kill signal sent.
    pub latency: Duration,
}

/// The detectors and the response over one running sandbox.
pub struct Guard {
    engine: Mutex<Engine>,
    /// The run's id and labels, for the webhook's alerts.
    run: String,
    labels: Mutex<BTreeMap<String, String>>,
    /// The trail is open (a parked session's opens at its claim).
    claimed: AtomicBool,
    /// Why the caller killed the sandbox, for `run.exit`.
    kill_reason: Mutex<Option<String>>,
    /// The caller ended the sandbox ([`Guard::mark_stopped`]).
    stopped: AtomicBool,
    handle: Handle,
    start: Instant,
    init_pid: i32,
    /// A non-owning handle on the run's cgroup, for the freezer.
    cgroup: Option<Cgroup>,
    ended: Mutex<Option<Ended>>,
    ending: AtomicBool,
    gone: AtomicBool,
    /// The caller (not a finding) killed the sandbox.
    killed: AtomicBool,
    lines: Mutex<Lines>,
    webhook: Option<Webhook>,
    /// "writable: /ws, /tmp, ..." for the refusals' explanations.
    writable_hint: String,
}

#[derive(Default)]
struct Lines {
    seen: HashSet<String>,
    deferred: Vec<String>,
    /// Hold lines until the end (the command owns the terminal).
    defer: bool,
    unshown: u64,
}

impl Guard {
    /// `init_pid`: the sandbox's init (killing it ends every process in the
    /// sandbox's pid namespace). `defer`: hold explanation lines until the
    /// end, while the command owns the terminal.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: Engine,
        run: &str,
        labels: BTreeMap<String, String>,
        handle: Handle,
        init_pid: i32,
        cgroup: Option<Cgroup>,
        webhook: Option<&str>,
        defer: bool,
    ) -> std::io::Result<Guard> {
        let webhook = webhook.map(Webhook::start).transpose()?;
        Ok(Guard {
            engine: Mutex::new(engine),
            run: run.to_owned(),
            labels: Mutex::new(labels),
            claimed: AtomicBool::new(true),
            kill_reason: Mutex::new(None),
            stopped: AtomicBool::new(false),
            handle,
            start: Instant::now(),
            init_pid,
            cgroup,
            ended: Mutex::new(None),
            ending: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            lines: Mutex::new(Lines {
                defer,
                ..Lines::default()
            }),
            webhook,
            writable_hint: "see `corral policy brief`".into(),
        })
    }

    /// Names what the sandbox may write, in refusals of other writes.
    pub fn with_writable(mut self, paths: &[std::path::PathBuf]) -> Guard {
        let list: Vec<String> = paths
            .iter()
            .map(|p| corral_policy::printable(&p.to_string_lossy()))
            .collect();
        self.writable_hint = format!("writable: {}", list.join(", "));
        self
    }

    /// A parked guard: its trail opens at [`Guard::claim`], and until then
    /// resource samples are not recorded (nothing runs in the sandbox).
    pub fn parked(self) -> Guard {
        self.claimed.store(false, Ordering::SeqCst);
        self
    }

    /// Whether the trail is open (always, unless [`Guard::parked`] and not
    /// yet claimed).
    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::SeqCst)
    }

    /// Opens a parked guard's trail with the caller's labels (on every
    /// line) and records the claim; fails if claimed already or if the
    /// trail's file cannot be created.
    pub fn claim(&self, labels: BTreeMap<String, String>, parked: Duration) -> anyhow::Result<()> {
        // One claim at a time; `claimed` turns true only once `run.claim`
        // is recorded (the sampler waits for it).
        let mut current = lock(&self.labels);
        if self.is_claimed() {
            anyhow::bail!("the sandbox was claimed already");
        }
        self.handle
            .begin(labels.clone())
            .map_err(|e| anyhow::Error::new(e).context("cannot open the session's audit trail"))?;
        *current = labels;
        drop(current);
        self.record(
            corral_event::RunClaim {
                parked_ms: (parked.as_secs_f64() * 1e6).round() / 1e3,
            }
            .into(),
        );
        self.claimed.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Records an event, waiting for room in the trail's queue.
    pub fn record(&self, event: Event) {
        let refused = refused(&event);
        let findings = self.observe(&event);
        let (kind, details) = event.into_details();
        self.handle.record(&kind, details);
        self.act(findings, refused);
    }

    /// Records an event if the trail's queue has room (the proxy's
    /// threads never wait); detection sees it either way.
    pub fn try_record(&self, event: Event) -> bool {
        let refused = refused(&event);
        let findings = self.observe(&event);
        let (kind, details) = event.into_details();
        let recorded = self.handle.try_record(&kind, details);
        self.act(findings, refused);
        recorded
    }

    fn observe(&self, event: &Event) -> Vec<(Finding, Instant)> {
        self.explain(event);
        let at = self.start.elapsed();
        let seen = Instant::now();
        let found = lock(&self.engine).observe(at, event);
        found.into_iter().map(|f| (f, seen)).collect()
    }

    /// Records and acts on `findings`; `refused`: the event that completed
    /// them was already refused (by the proxy or the kernel), which is all
    /// a `deny` response asks for.
    fn act(&self, findings: Vec<(Finding, Instant)>, refused: bool) {
        for (finding, seen) in findings {
            let (kind, mut details) = Event::from(finding.clone()).into_details();
            self.handle.record(&kind, details.clone());
            let ends = match finding.response {
                Response::Kill | Response::Freeze => true,
                Response::Deny => !refused,
                Response::Alert | Response::Log => false,
            } && !self.gone.load(Ordering::SeqCst);
            // The kill first: saying it on stderr may block (a full pipe).
            if ends {
                self.end(&finding, seen);
            }
            if finding.response != Response::Log {
                let line = format!(
                    "corral: {} {} ({}, {}): {}",
                    if ends { "stopping the run:" } else { "alert:" },
                    finding.id,
                    finding.severity.name(),
                    finding.technique,
                    corral_policy::printable(&finding.explanation)
                );
                if ends {
                    say!("{line}");
                } else {
                    self.say(line);
                }
                if let Some(w) = &self.webhook {
                    details.insert("run".into(), json!(self.run));
                    details.insert("labels".into(), json!(*lock(&self.labels)));
                    w.post(Value::Object(details));
                }
            }
        }
    }

    /// Ends the run for `finding` (the first such finding is the one the
    /// verdict names; later ones find the sandbox already gone).
    fn end(&self, finding: &Finding, seen: Instant) {
        let mut ended = lock(&self.ended);
        if ended.is_some() {
            return;
        }
        self.ending.store(true, Ordering::SeqCst);
        let frozen = finding.response == Response::Freeze;
        if frozen {
            // Frozen by the cgroup or by SIGSTOP to each process: either
            // way nothing runs while the snapshot is taken.
            self.freeze();
            self.record_snapshot(&finding.id);
        }
        process::kill_sandbox(self.init_pid);
        let latency = seen.elapsed();
        if frozen {
            if let Some(cg) = &self.cgroup {
                let _ = cg.thaw();
            }
        }
        let (kind, details) = Event::from(ResponseKill {
            finding: finding.id.clone(),
            frozen,
            latency_ms: (latency.as_secs_f64() * 1e6).round() / 1e3,
            response: finding.response,
        })
        .into_details();
        self.handle.record(&kind, details);
        *ended = Some(Ended {
            finding: finding.id.clone(),
            response: finding.response,
            latency,
        });
    }

    /// Records the frozen sandbox, for forensics: every process with its
    /// argv, cwd, and open files.
    fn record_snapshot(&self, finding: &str) {
        let (kind, details) = Event::from(ResponseSnapshot {
            finding: finding.to_owned(),
            processes: self.snapshot(),
        })
        .into_details();
        self.handle.record(&kind, details);
    }

    /// Every process of the sandbox now (best taken frozen).
    pub fn snapshot(&self) -> Vec<SnapshotProcess> {
        process::snapshot_sandbox(self.init_pid)
    }

    /// Stops every process of the sandbox (see [`process::freeze_sandbox`]).
    pub fn freeze(&self) -> Frozen {
        process::freeze_sandbox(self.cgroup.as_ref(), self.init_pid)
    }

    /// Lets a frozen sandbox run again.
    pub fn thaw(&self) {
        process::thaw_sandbox(self.cgroup.as_ref(), self.init_pid);
    }

    /// Kills the whole sandbox for the caller (not for a finding): the
    /// verdict says `killed`. Nothing once the sandbox has ended (its pids
    /// may be reused).
    pub fn kill(&self) {
        if self.gone.load(Ordering::SeqCst) {
            return;
        }
        self.killed.store(true, Ordering::SeqCst);
        self.ending.store(true, Ordering::SeqCst);
        process::kill_sandbox(self.init_pid);
    }

    /// [`Guard::kill`], saying why in `run.exit` (e.g. a service's
    /// session deadline).
    pub fn kill_because(&self, reason: String) {
        *lock(&self.kill_reason) = Some(reason);
        self.kill();
    }

    /// Whether the caller killed the sandbox ([`Guard::kill`]).
    pub fn killed_by_caller(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Why the caller killed the sandbox ([`Guard::kill_because`]).
    pub fn kill_reason(&self) -> Option<String> {
        lock(&self.kill_reason).clone()
    }

    /// The caller ended the sandbox in order (no command of its own: it
    /// asked init to stop); the ending says so.
    pub fn mark_stopped(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.ending.store(true, Ordering::SeqCst);
    }

    /// Whether [`Guard::mark_stopped`] was called.
    pub fn stopped_by_caller(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Plain words for what the sandbox refused (the agent reads stderr).
    fn explain(&self, event: &Event) {
        let line = match event {
            Event::SysDenied(d) => format!("corral: refused {}: {}", d.syscall, d.reason),
            Event::FileWrite(w) if !w.writable => format!(
                "corral: refused {} of {}: it is outside the paths this sandbox may write ({})",
                w.op.as_str(),
                corral_policy::printable(w.path.as_deref().unwrap_or("?")),
                self.writable_hint
            ),
            _ => return,
        };
        self.say(line);
    }

    /// Says a line once (held back while the command owns the terminal).
    fn say(&self, line: String) {
        let mut lines = lock(&self.lines);
        if lines.seen.contains(&line) {
            return;
        }
        if lines.seen.len() >= MAX_LINES {
            lines.unshown += 1;
            return;
        }
        lines.seen.insert(line.clone());
        if lines.defer {
            lines.deferred.push(line);
        } else {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    /// The sandbox has ended (its init was reaped): its pids may be reused,
    /// so later findings are reported but never acted on.
    pub fn sandbox_gone(&self) {
        self.gone.store(true, Ordering::SeqCst);
    }

    /// Whether a finding has asked for the run to end (the monitor then
    /// fails every call it holds instead of letting it go on).
    pub fn is_ending(&self) -> bool {
        self.ending.load(Ordering::SeqCst)
    }

    /// What ended the run, if a finding did.
    pub fn ended(&self) -> Option<Ended> {
        lock(&self.ended).clone()
    }

    /// Every finding so far, for the verdict.
    pub fn findings(&self) -> Vec<Finding> {
        lock(&self.engine).findings().to_vec()
    }

    /// How many findings so far ([`Guard::findings_since`] takes it).
    pub fn finding_count(&self) -> usize {
        lock(&self.engine).findings().len()
    }

    /// The findings after the first `count`.
    pub fn findings_since(&self, count: usize) -> Vec<Finding> {
        lock(&self.engine)
            .findings()
            .get(count..)
            .unwrap_or_default()
            .to_vec()
    }

    /// Prints the held-back lines and waits (briefly) for the webhook.
    pub fn finish(&self) {
        let mut lines = lock(&self.lines);
        let mut err = std::io::stderr().lock();
        for line in lines.deferred.drain(..) {
            let _ = writeln!(err, "{line}");
        }
        if lines.unshown > 0 {
            let _ = writeln!(
                err,
                "corral: ({} more refusal(s) not shown; see the audit trail)",
                lines.unshown
            );
        }
        if let Some(w) = &self.webhook {
            w.flush(Duration::from_secs(3));
        }
    }
}

/// Whether the event is something the proxy or the kernel refused.
fn refused(event: &Event) -> bool {
    match event {
        Event::SysDenied(_) => true,
        Event::FileWrite(w) => !w.writable,
        Event::NetConnect(n) => n.decision == Decision::Deny,
        Event::DnsQuery(q) => q.decision == Decision::Deny,
        Event::Unknown { details, .. } => {
            details.get("decision").and_then(Value::as_str) == Some("deny")
                || details.get("writable") == Some(&Value::Bool(false))
        }
        _ => false,
    }
}
