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

use corral_audit::Handle;
use corral_detect::{Engine, Event, Finding, Response};
use corral_policy::WebhookUrl;
use serde_json::{json, Map, Value};
use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The exit status of a run corral ended for a finding.
pub use corral_policy::EXIT_FINDING;

/// Distinct explanation lines said; past that they are counted only.
const MAX_LINES: usize = 200;

/// How the run was ended, by the first finding that asked for it.
#[derive(Debug, Clone)]
pub struct Ended {
    pub finding: String,
    pub response: Response,
    /// From the event that completed the finding to the kill signal sent.
    pub latency: Duration,
}

pub struct Watch {
    engine: Mutex<Engine>,
    /// The run's id and labels, for the webhook's alerts.
    run: String,
    labels: std::collections::BTreeMap<String, String>,
    handle: Handle,
    start: Instant,
    init_pid: i32,
    /// A non-owning handle on the run's cgroup, for the freezer.
    cgroup: Option<corral_sandbox::cgroup::Cgroup>,
    ended: Mutex<Option<Ended>>,
    ending: std::sync::atomic::AtomicBool,
    gone: std::sync::atomic::AtomicBool,
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

impl Watch {
    /// `init_pid`: the sandbox's init (killing it ends every process in the
    /// sandbox's pid namespace). `defer`: hold explanation lines until the
    /// end, while the command owns the terminal.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: Engine,
        run: &str,
        labels: std::collections::BTreeMap<String, String>,
        handle: Handle,
        init_pid: i32,
        cgroup: Option<corral_sandbox::cgroup::Cgroup>,
        webhook: Option<&str>,
        defer: bool,
    ) -> std::io::Result<Watch> {
        let webhook = webhook.map(Webhook::start).transpose()?;
        Ok(Watch {
            engine: Mutex::new(engine),
            run: run.to_owned(),
            labels,
            handle,
            start: Instant::now(),
            init_pid,
            cgroup,
            ended: Mutex::new(None),
            ending: std::sync::atomic::AtomicBool::new(false),
            gone: std::sync::atomic::AtomicBool::new(false),
            lines: Mutex::new(Lines {
                defer,
                ..Lines::default()
            }),
            webhook,
            writable_hint: "see `corral policy brief`".into(),
        })
    }

    /// Names what the sandbox may write, in refusals of other writes.
    pub fn with_writable(mut self, paths: &[std::path::PathBuf]) -> Watch {
        let list: Vec<String> = paths
            .iter()
            .map(|p| corral_policy::printable(&p.to_string_lossy()))
            .collect();
        self.writable_hint = format!("writable: {}", list.join(", "));
        self
    }

    /// Records an event, waiting for room in the trail's queue.
    pub fn record(&self, kind: &str, details: Map<String, Value>) {
        let findings = self.observe(kind, &details);
        let refused = refused(kind, &details);
        self.handle.record(kind, details);
        self.act(findings, refused);
    }

    /// Records an event if the trail's queue has room (the proxy's
    /// threads never wait); detection sees it either way.
    pub fn try_record(&self, kind: &str, details: Map<String, Value>) -> bool {
        let findings = self.observe(kind, &details);
        let refused = refused(kind, &details);
        let recorded = self.handle.try_record(kind, details);
        self.act(findings, refused);
        recorded
    }

    fn observe(&self, kind: &str, details: &Map<String, Value>) -> Vec<(Finding, Instant)> {
        self.explain(kind, details);
        let (at, event) = (self.start.elapsed(), Event::from_details(kind, details));
        let seen = Instant::now();
        let found = match self.engine.lock() {
            Ok(mut engine) => engine.observe(at, &event),
            Err(poisoned) => poisoned.into_inner().observe(at, &event),
        };
        found.into_iter().map(|f| (f, seen)).collect()
    }

    /// Records and acts on `findings`; `refused`: the event that completed
    /// them was already refused (by the proxy or the kernel), which is all
    /// a `deny` response asks for.
    fn act(&self, findings: Vec<(Finding, Instant)>, refused: bool) {
        for (finding, seen) in findings {
            let mut details = match serde_json::to_value(&finding) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            self.handle.record("finding", details.clone());
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
                    details.insert("labels".into(), json!(self.labels));
                    w.post(Value::Object(details));
                }
            }
        }
    }

    /// Ends the run for `finding` (the first such finding is the one the
    /// verdict names; later ones find the sandbox already gone).
    fn end(&self, finding: &Finding, seen: Instant) {
        let mut ended = match self.ended.lock() {
            Ok(e) => e,
            Err(p) => p.into_inner(),
        };
        if ended.is_some() {
            return;
        }
        self.ending.store(true, Ordering::SeqCst);
        let frozen = finding.response == Response::Freeze && self.freeze();
        if frozen {
            self.snapshot(&finding.id);
        }
        // When a pid namespace's init dies the kernel kills every process
        // in it: one signal ends the whole sandbox.
        let kill = |pid: i32| {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        };
        // The kernel kills the rest once init has exited; until then they
        // could still run, so each gets its own SIGKILL too (listed while
        // init, and so their pids, are still held).
        let rest = corral_sandbox::sample::descendants(self.init_pid);
        kill(self.init_pid);
        for pid in rest {
            kill(pid as i32);
        }
        let latency = seen.elapsed();
        if frozen {
            if let Some(cg) = &self.cgroup {
                let _ = cg.thaw();
            }
        }
        let mut details = Map::new();
        details.insert("finding".into(), json!(finding.id));
        details.insert("response".into(), json!(finding.response));
        details.insert("frozen".into(), json!(frozen));
        details.insert(
            "latency_ms".into(),
            json!((latency.as_secs_f64() * 1e6).round() / 1e3),
        );
        self.handle.record("response.kill", details);
        *ended = Some(Ended {
            finding: finding.id.clone(),
            response: finding.response,
            latency,
        });
    }

    /// Stops every process of the sandbox: the cgroup freezer when the run
    /// has one, else SIGSTOP to each process (three passes, against forks
    /// racing the walk). Whether everything was stopped by the freezer.
    fn freeze(&self) -> bool {
        if let Some(cg) = &self.cgroup {
            if cg.freeze().is_ok() {
                return true;
            }
        }
        for _ in 0..3 {
            for pid in corral_sandbox::sample::descendants(self.init_pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGSTOP,
                );
            }
        }
        true
    }

    /// The frozen sandbox, for forensics: every process with its argv,
    /// cwd, and open files.
    fn snapshot(&self, finding: &str) {
        let procs: Vec<Value> = corral_sandbox::sample::descendants(self.init_pid)
            .into_iter()
            .map(|pid| {
                let argv = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|b| {
                        b.split(|c| *c == 0)
                            .filter(|s| !s.is_empty())
                            .map(|s| String::from_utf8_lossy(s).into_owned())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let link = |p: String| {
                    std::fs::read_link(p)
                        .ok()
                        .map(|p| p.to_string_lossy().into_owned())
                };
                let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
                    .map(|d| {
                        d.filter_map(|e| e.ok())
                            .filter_map(|e| link(e.path().to_string_lossy().into_owned()))
                            .take(64)
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "pid": pid,
                    "ppid": corral_sandbox::sample::ppid(pid),
                    "argv": argv,
                    "exe": link(format!("/proc/{pid}/exe")),
                    "cwd": link(format!("/proc/{pid}/cwd")),
                    "fds": fds,
                })
            })
            .collect();
        let mut details = Map::new();
        details.insert("finding".into(), json!(finding));
        details.insert("processes".into(), Value::Array(procs));
        self.handle.record("response.snapshot", details);
    }

    /// Plain words for what the sandbox refused (the agent reads stderr).
    fn explain(&self, kind: &str, details: &Map<String, Value>) {
        let text = |k: &str| details.get(k).and_then(Value::as_str).unwrap_or("?");
        let line = match kind {
            "sys.denied" => format!("corral: refused {}: {}", text("syscall"), text("reason")),
            "file.write" if details.get("writable") == Some(&Value::Bool(false)) => format!(
                "corral: refused {} of {}: it is outside the paths this sandbox may write ({})",
                text("op"),
                corral_policy::printable(text("path")),
                self.writable_hint
            ),
            _ => return,
        };
        self.say(line);
    }

    /// Says a line once (held back while the command owns the terminal).
    fn say(&self, line: String) {
        let mut lines = match self.lines.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
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
        match self.ended.lock() {
            Ok(e) => e.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Every finding so far, for the verdict.
    pub fn findings(&self) -> Vec<Finding> {
        match self.engine.lock() {
            Ok(e) => e.findings().to_vec(),
            Err(p) => p.into_inner().findings().to_vec(),
        }
    }

    /// Prints the held-back lines and waits (briefly) for the webhook.
    pub fn finish(&self) {
        let mut lines = match self.lines.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
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
fn refused(kind: &str, details: &Map<String, Value>) -> bool {
    kind == "sys.denied"
        || details.get("decision").and_then(Value::as_str) == Some("deny")
        || details.get("writable") == Some(&Value::Bool(false))
}

/// Alerts posted as JSON (`POST`, `Content-Type: application/json`) to an
/// `http://HOST[:PORT]/PATH` URL from a thread of its own: retried three
/// times with backoff, never waited for by the run (a full queue drops
/// the alert and counts it).
struct Webhook {
    tx: Mutex<Option<SyncSender<Value>>>,
    pending: Arc<AtomicU64>,
    dropped: AtomicU64,
    url: String,
}

impl Webhook {
    fn start(url: &str) -> std::io::Result<Webhook> {
        let target = WebhookUrl::parse(url)
            .map_err(|e| std::io::Error::other(format!("detect.webhook: {e}")))?;
        let (tx, rx) = sync_channel::<Value>(256);
        let pending = Arc::new(AtomicU64::new(0));
        let p = pending.clone();
        std::thread::Builder::new()
            .name("corral-webhook".into())
            .stack_size(256 * 1024)
            .spawn(move || post_all(rx, target, p))?;
        Ok(Webhook {
            tx: Mutex::new(Some(tx)),
            pending,
            dropped: AtomicU64::new(0),
            url: url.to_owned(),
        })
    }

    fn post(&self, alert: Value) {
        let tx = match self.tx.lock() {
            Ok(t) => t.clone(),
            Err(p) => p.into_inner().clone(),
        };
        self.pending.fetch_add(1, Ordering::SeqCst);
        if tx.is_none_or(|tx| tx.try_send(alert).is_err()) {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self, within: Duration) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let deadline = Instant::now() + within;
        while self.pending.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let left = self.pending.load(Ordering::SeqCst) + self.dropped.load(Ordering::Relaxed);
        if left > 0 {
            say!(
                "corral: warning: {left} alert(s) could not be delivered to the webhook {}",
                self.url
            );
        }
    }
}

fn post_all(rx: Receiver<Value>, url: WebhookUrl, pending: Arc<AtomicU64>) {
    for alert in rx {
        let body = alert.to_string();
        for attempt in 0..3u32 {
            if post_one(&url, &body).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(250 << attempt));
        }
        pending.fetch_sub(1, Ordering::SeqCst);
    }
}

fn post_one(url: &WebhookUrl, body: &str) -> std::io::Result<()> {
    use std::io::Read;
    use std::net::ToSocketAddrs;
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("no address"))?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: corral\r\n\r\n{body}",
        url.path,
        url.host,
        body.len()
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    // "HTTP/1.1 2xx"
    if head.get(9) == Some(&b'2') {
        Ok(())
    } else {
        Err(std::io::Error::other("webhook answered non-2xx"))
    }
}
