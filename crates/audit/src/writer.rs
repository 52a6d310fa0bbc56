//! The writer: a bounded queue in front of one thread that owns the file.
//!
//! Recording takes the timestamp and enqueues; the thread assigns `seq` and
//! `prev`, encodes, and writes whatever the queue holds as one batch (one
//! `write(2)` unless the kernel takes less), always ending on a line boundary,
//! then, after a small batch, rests for [`LINGER`] so that a trickle of
//! events is batched too.

use std::collections::BTreeMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::format::{valid_run_id, Encoder};
use crate::AuditError;

/// The default queue length, in events.
pub const DEFAULT_QUEUE: usize = 65536;

/// A batch stops growing at about this many bytes (and is written at once).
const BATCH_BYTES: usize = 256 * 1024;

/// After writing a small batch (fewer than [`SMALL_BATCH`] events) the
/// thread rests this long before taking the next one, so that a steady
/// trickle of events (an exec-heavy build) is written in batches instead of
/// waking the thread, and a core, once per event. A full batch (a burst) is
/// followed at once by the next; an idle trail blocks, and the first event
/// of a burst wakes it. Events wait at most this long (plus the write) in
/// memory.
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);
/// A batch this small means a trickle: rest before the next.
const SMALL_BATCH: usize = 64;

/// Where and what to write.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// The trail's file; created (it must not exist), with its parent directories.
    pub path: PathBuf,
    /// The run id, 16 lowercase hex digits ([`crate::new_run_id`]).
    pub run: String,
    /// The run's labels, written on every line.
    pub labels: BTreeMap<String, String>,
    /// How many events may wait for the writer thread (at least 1).
    pub queue: usize,
    /// Create the file only at [`Handle::begin`], with the labels given
    /// then (a sandbox built before its caller is known: a warm pool's).
    /// Events recorded before wait, in order, and are written after the
    /// begin; a writer dropped before it creates nothing.
    pub held: bool,
}

impl WriterConfig {
    /// A config with no labels and the [`DEFAULT_QUEUE`].
    pub fn new(path: impl Into<PathBuf>, run: impl Into<String>) -> WriterConfig {
        WriterConfig {
            path: path.into(),
            run: run.into(),
            labels: BTreeMap::new(),
            queue: DEFAULT_QUEUE,
            held: false,
        }
    }
}

/// What a finished trail holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Lines written, the verdict included.
    pub lines: u64,
    /// Events lost because the queue was full (as the verdict says).
    pub dropped: u64,
    /// The hash of the verdict line: record it in the [`crate::Index`].
    pub last_hash: String,
    /// The trail's file.
    pub path: PathBuf,
    /// The labels on its lines (a held trail's are its begin's).
    pub labels: BTreeMap<String, String>,
}

enum Msg {
    Event {
        ts: SystemTime,
        kind: String,
        details: Map<String, Value>,
    },
    Finish {
        ts: SystemTime,
        verdict: Map<String, Value>,
    },
    Abort,
    /// Create the held file with these labels (see [`WriterConfig::held`]).
    Begin {
        labels: BTreeMap<String, String>,
        reply: SyncSender<Result<(), AuditError>>,
    },
}

/// Records events into a [`Writer`]'s queue. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Handle {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl Handle {
    /// Records an event now, waiting while the queue is full (back-pressure).
    ///
    /// An event recorded after the writer stopped (finished, or failed to
    /// write) is not written; it is counted in [`Handle::dropped`].
    pub fn record(&self, kind: &str, details: Map<String, Value>) {
        let msg = Msg::Event {
            ts: SystemTime::now(),
            kind: kind.to_owned(),
            details,
        };
        if self.tx.send(msg).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records an event now if the queue has room; never waits. When it is
    /// full, the event is counted as dropped (the trail gets an
    /// `audit.dropped` line before this thread's next recorded event, and
    /// the verdict the total) and this returns false.
    pub fn try_record(&self, kind: &str, details: Map<String, Value>) -> bool {
        let msg = Msg::Event {
            ts: SystemTime::now(),
            kind: kind.to_owned(),
            details,
        };
        if self.tx.try_send(msg).is_ok() {
            return true;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// Creates a held trail's file ([`WriterConfig::held`]) with these
    /// labels on every line, and writes what waited. Fails when the file
    /// cannot be created, when the trail is not held, or was begun already.
    pub fn begin(&self, labels: BTreeMap<String, String>) -> Result<(), AuditError> {
        let (reply, answer) = sync_channel(1);
        let gone = || AuditError::NotHeld {
            detail: "its writer has stopped".into(),
        };
        self.tx
            .send(Msg::Begin { labels, reply })
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Events dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The owner of one trail's file and its writer thread.
///
/// Dropping a `Writer` without [`Writer::finish`] writes what is queued and
/// stops without a verdict: the trail then verifies as
/// [`crate::Problem::NoVerdict`], which is the truth.
pub struct Writer {
    handle: Handle,
    path: PathBuf,
    thread: Option<JoinHandle<Result<Summary, AuditError>>>,
}

impl Writer {
    /// Creates the trail's file (mode 0600, parent directories 0700) and
    /// starts the writer thread. Refuses to overwrite an existing file.
    pub fn create(cfg: WriterConfig) -> Result<Writer, AuditError> {
        if !valid_run_id(&cfg.run) {
            return Err(AuditError::InvalidRunId { run: cfg.run });
        }
        let path = cfg.path;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| AuditError::CreateDir {
                    path: parent.to_owned(),
                    source,
                })?;
        }
        let (tx, rx) = sync_channel(cfg.queue.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let out = match cfg.held {
            true => None,
            false => Some(open(&path, &cfg.run, &cfg.labels)?),
        };
        let thread = Thread {
            out,
            path: path.clone(),
            run: cfg.run,
            labels: cfg.labels,
            backlog: std::collections::VecDeque::new(),
            rx,
            dropped: Arc::clone(&dropped),
            reported: 0,
        };
        // A small stack: the writer only encodes and hashes (a default
        // 2 MiB stack costs a sandbox launch measurable time to map and
        // unmap).
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .name("corral-audit".into())
            .spawn(move || thread.start())
            .map_err(|source| AuditError::Spawn {
                path: path.clone(),
                source,
            })?;
        Ok(Writer {
            handle: Handle { tx, dropped },
            path,
            thread: Some(thread),
        })
    }

    /// A handle to record events with.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Writes every event queued so far, then the `verdict` line (the given
    /// details plus `events` and `dropped`), and fsyncs the file. Events
    /// recorded after this (from other handles) are not written.
    pub fn finish(mut self, verdict: Map<String, Value>) -> Result<Summary, AuditError> {
        let msg = Msg::Finish {
            ts: SystemTime::now(),
            verdict,
        };
        // The end does not wait out the writer's rest.
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
        // If the thread already stopped, it did so on an error its result names.
        let _ = self.handle.tx.send(msg);
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) | None => Err(AuditError::WriterPanicked {
                path: self.path.clone(),
            }),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = self.handle.tx.send(Msg::Abort);
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// Creates the trail's file (it must not exist) and its encoder.
fn open(path: &PathBuf, run: &str, labels: &BTreeMap<String, String>) -> Result<Out, AuditError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => AuditError::AlreadyExists { path: path.clone() },
            _ => AuditError::Create {
                path: path.clone(),
                source,
            },
        })?;
    let enc = Encoder::new(run, labels).map_err(|source| AuditError::Encode {
        path: path.clone(),
        source,
    })?;
    Ok(Out { file, enc })
}

/// The open trail.
struct Out {
    file: File,
    enc: Encoder,
}

/// The writer thread's state.
struct Thread {
    /// `None` while held ([`WriterConfig::held`]).
    out: Option<Out>,
    path: PathBuf,
    run: String,
    labels: BTreeMap<String, String>,
    /// Messages taken while held, to write after the begin.
    backlog: std::collections::VecDeque<Msg>,
    rx: Receiver<Msg>,
    dropped: Arc<AtomicU64>,
    /// Drops already written as `audit.dropped` lines.
    reported: u64,
}

impl Thread {
    /// Waits for the begin of a held trail (keeping what comes before),
    /// then writes.
    fn start(mut self) -> Result<Summary, AuditError> {
        while self.out.is_none() {
            match self.rx.recv().unwrap_or(Msg::Abort) {
                Msg::Begin { labels, reply } => match open(&self.path, &self.run, &labels) {
                    Ok(out) => {
                        self.out = Some(out);
                        self.labels = labels;
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                },
                // Finished while held: the trail is written with the
                // configured labels (what happened is never lost).
                finish @ Msg::Finish { .. } => {
                    self.out = Some(open(&self.path, &self.run, &self.labels)?);
                    self.backlog.push_back(finish);
                }
                event @ Msg::Event { .. } => self.backlog.push_back(event),
                // Dropped before it began: nothing was written, no file.
                Msg::Abort => {
                    return Err(AuditError::NotHeld {
                        detail: "it was dropped before it began".into(),
                    })
                }
            }
        }
        self.run()
    }

    fn next(&mut self, wait: bool) -> Option<Msg> {
        if let Some(msg) = self.backlog.pop_front() {
            return Some(msg);
        }
        match wait {
            // Every handle gone is impossible while the Writer lives; treat it as Abort.
            true => Some(self.rx.recv().unwrap_or(Msg::Abort)),
            false => self.rx.try_recv().ok(),
        }
    }

    fn out(&mut self) -> &mut Out {
        match &mut self.out {
            Some(out) => out,
            None => unreachable!("the writer runs only once its file is open"),
        }
    }

    fn run(mut self) -> Result<Summary, AuditError> {
        let mut buf = Vec::with_capacity(BATCH_BYTES + 64 * 1024);
        loop {
            let mut next = self.next(true);
            buf.clear();
            let mut events = 0usize;
            while let Some(msg) = next {
                match msg {
                    Msg::Event { ts, kind, details } => {
                        self.note_drops(&mut buf)?;
                        self.encode(&mut buf, ts, &kind, &details, &[])?;
                        events += 1;
                    }
                    Msg::Finish { ts, verdict } => return self.close(buf, Some((ts, verdict))),
                    Msg::Abort => return self.close(buf, None),
                    Msg::Begin { reply, .. } => {
                        let _ = reply.send(Err(AuditError::NotHeld {
                            detail: "it was begun already (or was never held)".into(),
                        }));
                    }
                }
                if buf.len() >= BATCH_BYTES {
                    break;
                }
                next = self.next(false);
            }
            self.note_drops(&mut buf)?;
            self.write(&buf)?;
            if events < SMALL_BATCH {
                // Cut short by `finish` (an unpark), never by an event.
                std::thread::park_timeout(LINGER);
            }
        }
    }

    /// Adds an `audit.dropped` line when events were dropped since the last one.
    fn note_drops(&mut self, buf: &mut Vec<u8>) -> Result<(), AuditError> {
        let total = self.dropped.load(Ordering::Relaxed);
        if total > self.reported {
            let count = total - self.reported;
            self.encode(
                buf,
                SystemTime::now(),
                "audit.dropped",
                &Map::new(),
                &[("count", count.into())],
            )?;
            self.reported = total;
        }
        Ok(())
    }

    fn encode(
        &mut self,
        buf: &mut Vec<u8>,
        ts: SystemTime,
        kind: &str,
        details: &Map<String, Value>,
        trailer: &[(&str, Value)],
    ) -> Result<(), AuditError> {
        self.out()
            .enc
            .push(buf, ts, kind, details, trailer)
            .map_err(|source| AuditError::Encode {
                path: self.path.clone(),
                source,
            })
    }

    fn write(&mut self, buf: &[u8]) -> Result<(), AuditError> {
        self.out()
            .file
            .write_all(buf)
            .map_err(|source| AuditError::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// Writes the rest (and the verdict, if any), fsyncs, and counts what
    /// was queued too late as dropped.
    fn close(
        mut self,
        mut buf: Vec<u8>,
        verdict: Option<(SystemTime, Map<String, Value>)>,
    ) -> Result<Summary, AuditError> {
        self.note_drops(&mut buf)?;
        if let Some((ts, details)) = verdict {
            let trailer = [
                ("events", Value::from(self.out().enc.lines())),
                ("dropped", Value::from(self.reported)),
            ];
            self.encode(&mut buf, ts, "verdict", &details, &trailer)?;
        }
        self.write(&buf)?;
        let path = self.path.clone();
        let out = self.out();
        out.file
            .sync_all()
            .map_err(|source| AuditError::Sync { path, source })?;
        let (lines, last_hash) = (out.enc.lines(), out.enc.last_hash());
        let late = self.rx.try_iter().count() as u64;
        self.dropped.fetch_add(late, Ordering::Relaxed);
        Ok(Summary {
            lines,
            dropped: self.reported,
            last_hash,
            path: self.path,
            labels: self.labels,
        })
    }
}
