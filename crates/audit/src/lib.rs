//! corral's audit trail: a hash-chained, append-only event log in JSON Lines.
//!
//! # The format (schema version 1)
//!
//! One event per line, each line one JSON object, `\n`-terminated, UTF-8.
//! Every line starts with the same keys in the same order, then the event's
//! own details, and ends with `prev`:
//!
//! ```text
//! {"v":1,"ts":"2026-11-22T06:40:12.123456789Z","run":"9f86d081884c7d65","seq":0,"kind":"run.start","labels":{"episode":"17"},"command":["sh"],"prev":"<64 hex>"}
//! ```
//!
//! - `v`: the schema version, [`SCHEMA_VERSION`].
//! - `ts`: when the event was recorded (not when it was written), RFC 3339,
//!   UTC, nanoseconds. Events recorded concurrently from several threads are
//!   ordered by `seq`; their `ts` may then differ from that order by the
//!   time it takes to enqueue an event.
//! - `run`: the run id, 16 lowercase hex digits ([`new_run_id`]), the same on
//!   every line.
//! - `seq`: 0, 1, 2, ... with no gaps.
//! - `kind`: what happened (`run.start`, `net.connect`, ...). The writer
//!   itself emits two kinds: `audit.dropped` with `count`, the events lost
//!   since the previous such line because the queue was full (see
//!   [`Handle::try_record`]), and the final `verdict`, with the caller's
//!   details plus `events` (the number of lines before it) and `dropped` (the
//!   total lost).
//! - `labels`: the run's labels, a JSON object of strings, on every line, so
//!   that any single line can be attributed (an episode, a tenant, ...).
//! - the details: the caller's keys, in the order of the map given. A detail
//!   key that is one of the reserved keys (`v`, `ts`, `run`, `seq`, `kind`,
//!   `labels`, `prev`, and for a `verdict` also `events` and `dropped`) is
//!   **renamed** with `_` appended (as many as needed to be unique): recording
//!   never fails on a key, and the reserved keys always mean what they say.
//! - `prev`: the lowercase hex SHA-256 of the previous line's exact bytes
//!   (without its `\n`); for `seq` 0, of the ASCII text `corral-audit-v1:`
//!   followed by the run id. It is always the last key.
//!
//! The last line of a finished run has kind `verdict`; nothing follows it.
//! Each finished run is also appended to the runs [`Index`] (one JSON line per
//! run), which records the hash of the run's last line.
//!
//! # What the chain proves, and what it does not
//!
//! - The agent inside the sandbox cannot write the log at all: the file lives
//!   outside the sandbox (under corral's state directory) and is written by
//!   corral, not by anything the agent runs. The chain is not what protects
//!   the log from the agent; it is what makes a *later* edit visible.
//! - Editing, deleting, inserting or reordering any line but the last breaks
//!   the chain at the first line after the change: [`verify`] names it.
//! - Truncating the log at a line boundary, or editing its last line, leaves
//!   a chain that is intact as far as it goes. A missing verdict shows that the
//!   run did not finish (or that the end was cut); the final hash recorded in
//!   the index catches the rest ([`verify_against`]).
//! - Whoever can write both the log and the index can forge both: rewrite the
//!   lines, recompute every `prev` and record the new last hash. The chain is
//!   tamper-evident against a partial edit, not a signature. Keeping the index
//!   (or just the final hashes) somewhere else, e.g. shipped off the machine,
//!   closes that gap.
//!
//! # Crashes
//!
//! The writer flushes each batch with as few `write(2)` calls as possible,
//! always ending on a line boundary. If corral is killed, every complete line
//! is verifiable and at most the last line is torn: [`verify`] reports
//! [`Problem::Torn`] or [`Problem::NoVerdict`], never [`Problem::Broken`].

#![forbid(unsafe_code)]

mod error;
mod format;
mod index;
mod verify;
mod writer;

pub use error::AuditError;
pub use format::{new_run_id, valid_run_id};
pub use index::{Index, IndexEntry};
pub use verify::{read, verify, verify_against, Problem, Verified};
pub use writer::{Handle, Summary, Writer, WriterConfig, DEFAULT_QUEUE};

/// The schema version, the `v` of every line.
pub const SCHEMA_VERSION: u32 = 1;
