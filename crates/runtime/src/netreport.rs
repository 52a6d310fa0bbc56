//! Where the egress proxy's events go until the audit trail exists: every
//! event to the `--net-log` file (JSON Lines), and each distinct denial or
//! failure as one line on corral's stderr. While the command owns the
//! terminal (a pty relay is running) those lines wait until it ends, so
//! they cannot garble a full-screen program.
//!
//! A writer thread does the writing, fed through a bounded queue: a slow
//! disk or a stalled stderr never stalls the proxy. An event the queue
//! cannot take is counted, and the count is reported at the end.

use anyhow::{Context, Result};
use corral_proxy::event::{Decision, NetEvent, NetSeverity, Sink};
use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The audit trail's side of the sink: the trail and the counts its
/// verdict needs.
#[derive(Clone)]
pub struct AuditSink {
    /// The run's guard: the detectors, then the trail.
    pub guard: Arc<crate::guard::Guard>,
    pub critical: Arc<AtomicU64>,
    pub denied: Arc<AtomicU64>,
}

impl AuditSink {
    fn record(&self, ev: &NetEvent) {
        if ev.severity == NetSeverity::Critical {
            self.critical.fetch_add(1, Ordering::Relaxed);
        }
        if ev.decision == Decision::Deny {
            self.denied.fetch_add(1, Ordering::Relaxed);
        }
        self.guard.try_record(ev.to_event());
    }
}

/// Events waiting for the writer.
const QUEUE: usize = 1024;
/// Distinct refusal lines remembered (and printed); past that they are
/// counted only, so a flood of unique names cannot grow corral's memory.
const MAX_LINES: usize = 1000;

/// Collects the proxy's events for one run.
pub struct Reporter {
    tx: SyncSender<NetEvent>,
    dropped: Arc<AtomicU64>,
    writer: JoinHandle<Summary>,
}

/// What the writer has to say at the end.
#[derive(Default)]
struct Summary {
    deferred: Vec<String>,
    repeats: u64,
    unshown: u64,
    log_error: Option<String>,
}

/// Opens (creating) the `--net-log` file for appending, before the run,
/// so a bad path fails before anything starts.
pub fn open_log(path: Option<&Path>) -> Result<Option<File>> {
    path.map(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .with_context(|| {
                format!(
                    "--net-log: cannot open {} for appending; give a writable path",
                    p.display()
                )
            })
    })
    .transpose()
}

impl Reporter {
    /// Starts the writer thread (so only once the sandbox is cloned: the
    /// clone must happen while corral is single-threaded). `defer`: hold
    /// stderr lines until [`Reporter::finish`].
    pub fn start(log: Option<File>, defer: bool) -> Result<Reporter> {
        let (tx, rx) = sync_channel(QUEUE);
        let writer = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .name("corral-netlog".into())
            .spawn(move || write_events(rx, log, defer))
            .context("cannot start the network event writer")?;
        Ok(Reporter {
            tx,
            dropped: Arc::default(),
            writer,
        })
    }

    /// The sink handed to the proxy. With an audit trail, every event is
    /// also recorded there at once (never blocking the proxy: a full queue
    /// is counted by the trail and becomes an `audit.dropped` line).
    pub fn sink(&self, audit: Option<AuditSink>) -> Sink {
        let tx = self.tx.clone();
        let dropped = self.dropped.clone();
        Box::new(move |ev| {
            if let Some(audit) = &audit {
                audit.record(&ev);
            }
            match tx.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    }

    /// Waits for the writer, then prints what waited and what was lost.
    pub fn finish(self) {
        drop(self.tx);
        let summary = self.writer.join().unwrap_or_default();
        let mut err = std::io::stderr().lock();
        for line in &summary.deferred {
            let _ = writeln!(err, "{line}");
        }
        if summary.repeats > 0 {
            let _ = writeln!(
                err,
                "corral: ({} repeated network refusal(s) not shown again)",
                summary.repeats
            );
        }
        if summary.unshown > 0 {
            let _ = writeln!(
                err,
                "corral: ({} more distinct network refusal(s) not shown; see --net-log)",
                summary.unshown
            );
        }
        if let Some(e) = &summary.log_error {
            let _ = writeln!(
                err,
                "corral: warning: writing the --net-log file failed ({e}); events after that were not recorded there"
            );
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            let _ = writeln!(
                err,
                "corral: warning: {dropped} network event(s) arrived faster than they could be written and were not recorded"
            );
        }
    }
}

fn write_events(rx: Receiver<NetEvent>, mut log: Option<File>, defer: bool) -> Summary {
    let mut summary = Summary::default();
    let mut seen: HashSet<String> = HashSet::new();
    for ev in rx {
        if let Some(file) = log.as_mut() {
            let mut line = serde_json::to_vec(&ev).unwrap_or_default();
            line.push(b'\n');
            if let Err(e) = file.write_all(&line) {
                summary.log_error.get_or_insert(e.to_string());
                log = None;
            }
        }
        if ev.decision == Decision::Allow {
            continue;
        }
        let line = format!("corral: {}", ev.line());
        if seen.contains(&line) {
            summary.repeats += 1;
            continue;
        }
        if seen.len() >= MAX_LINES {
            summary.unshown += 1;
            continue;
        }
        seen.insert(line.clone());
        if defer {
            summary.deferred.push(line);
        } else {
            // Never panics: the command shares this stderr and may have
            // made it non-blocking or closed its reader.
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
    summary
}
