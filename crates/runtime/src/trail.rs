//! One run's audit trail: where it goes (`--audit FILE`, else the state
//! directory's `runs/RUN.jsonl`, listed in its index), what corral itself
//! records in it (the run's start and end, the proxy's events) and the
//! verdict that closes it.

use anyhow::{Context, Result};
use corral_audit::{Handle, Index, IndexEntry, Writer, WriterConfig};
use corral_event::{Event, Outcome, RunExit, RunStart, Severity, Verdict};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where the trail goes, decided before the run (so a bad path fails
/// before anything starts).
pub struct TrailTarget {
    /// The trail's file.
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
    /// The file is created at the claim ([`corral_audit::WriterConfig::held`]).
    pub held: bool,
}

impl TrailTarget {
    pub fn new(
        audit: Option<PathBuf>,
        run: &str,
        labels: &[(String, String)],
        command: &[OsString],
    ) -> Result<TrailTarget> {
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
        Ok(TrailTarget {
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
            held: false,
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

fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// The running trail of one run.
pub struct RunTrail {
    writer: Writer,
    target: TrailTarget,
    /// Events at `critical` severity seen (for the verdict).
    critical: Arc<AtomicU64>,
}

impl RunTrail {
    /// Starts the writer (a thread: call after the clone) and records the
    /// run's start.
    pub fn start(target: TrailTarget, start: RunStart) -> Result<RunTrail> {
        let writer = Writer::create(WriterConfig {
            path: target.path.clone(),
            run: target.run.clone(),
            labels: target.labels.clone(),
            // Enough to absorb bursts; the channel allocates (and touches)
            // all of it up front, which a launch pays for.
            queue: 4096,
            held: target.held,
        })
        .with_context(|| format!("cannot create the audit trail {}", target.path.display()))?;
        let (kind, details) = Event::from(start).into_details();
        writer.handle().record(&kind, details);
        Ok(RunTrail {
            writer,
            target,
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

    /// Records the run's end and the verdict (its outcome decided here:
    /// killed, else flagged by a finding of medium severity or worse or a
    /// critical proxy event, else clean), and lists the run in the index.
    /// Returns the verdict as written, the trail's path and its line count.
    pub fn finish(self, end: RunExit, mut verdict: Verdict) -> Result<ClosedTrail> {
        let (kind, details) = Event::from(end).into_details();
        self.writer.handle().record(&kind, details);
        let found = verdict.severity.is_some_and(|s| s >= Severity::Medium);
        verdict.outcome = if verdict.killed {
            Outcome::Killed
        } else if found || self.critical.load(Ordering::Relaxed) > 0 {
            Outcome::Flagged
        } else {
            Outcome::Clean
        };
        let (_, details) = Event::from(verdict.clone()).into_details();
        let summary = self.writer.finish(details)?;
        let outcome = match verdict.outcome {
            Outcome::Clean => "clean",
            Outcome::Flagged => "flagged",
            Outcome::Killed => "killed",
        };
        if let Some(index) = &self.target.index {
            index.append(&IndexEntry {
                run: self.target.run.clone(),
                path: summary.path.clone(),
                started: self.target.started.clone(),
                ended: now(),
                labels: summary.labels.clone(),
                command: self.target.command.clone(),
                outcome: outcome.to_owned(),
                lines: summary.lines,
                last_hash: summary.last_hash.clone(),
            })?;
        }
        Ok(ClosedTrail {
            verdict,
            path: summary.path,
            lines: summary.lines,
        })
    }
}

/// A finished trail.
#[derive(Debug, Clone)]
pub struct ClosedTrail {
    /// The verdict it ends with.
    pub verdict: Verdict,
    /// Where it is.
    pub path: PathBuf,
    /// Its line count (the verdict included).
    pub lines: u64,
}
