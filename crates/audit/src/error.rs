//! What can fail while writing or reading an audit trail.

use std::io;
use std::path::PathBuf;

/// An audit operation that failed, naming the path involved and what to do.
///
/// A log whose content is wrong is not an error: [`crate::verify`] reports it
/// as a [`crate::Problem`].
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit: run id {run:?} is not 16 lowercase hex digits (make one with corral_audit::new_run_id)")]
    InvalidRunId { run: String },

    #[error("audit: cannot read random bytes from /dev/urandom for a run id: {source}")]
    RandomRunId { source: io::Error },

    #[error("audit: cannot create directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: io::Error },

    #[error("audit: {} already exists; refusing to overwrite an audit trail (use a new run id, or move the file away)", path.display())]
    AlreadyExists { path: PathBuf },

    #[error("audit: cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },

    #[error("audit: cannot start the writer thread for {}: {source}", path.display())]
    Spawn { path: PathBuf, source: io::Error },

    #[error("audit: cannot encode an event for {}: {source}", path.display())]
    Encode { path: PathBuf, source: io::Error },

    #[error("audit: writing {} failed: {source}; the events recorded after this were lost (check the disk)", path.display())]
    Write { path: PathBuf, source: io::Error },

    #[error("audit: fsync of {} failed: {source}; the end of the trail may not be on disk", path.display())]
    Sync { path: PathBuf, source: io::Error },

    #[error("audit: the writer thread of {} panicked; the trail ends without a verdict", path.display())]
    WriterPanicked { path: PathBuf },

    #[error("audit: the trail cannot begin: {detail}")]
    NotHeld { detail: String },

    #[error("audit: cannot open {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },

    #[error("audit: reading {} failed: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },

    #[error("audit: {}:{line}: not a valid JSON line: {source}", path.display())]
    Parse {
        path: PathBuf,
        line: u64,
        source: serde_json::Error,
    },

    #[error("audit: appending to the runs index {} failed: {source}", path.display())]
    IndexWrite { path: PathBuf, source: io::Error },

    #[error("audit: run {prefix:?} is ambiguous: it starts {}; give more digits", runs.join(", "))]
    Ambiguous { prefix: String, runs: Vec<String> },
}
