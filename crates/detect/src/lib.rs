//! corral's detection layer: it turns the events of a running sandbox (the
//! same events the audit trail records) into [`Finding`]s, and says what
//! the policy wants done about each ([`Response`]).
//!
//! Data flows one way: the caller (corral's `run`) hands every event to
//! [`Engine::observe`] as it is recorded (typed: [`Event`], the schema of
//! `corral-event`; [`Event::from_details`] makes one of a kind and its
//! details), acts on the findings returned
//! (records them, prints them, kills or freezes the sandbox) and ends the
//! run's verdict with [`Engine::findings`]. The engine does no I/O and
//! starts no thread: it is plain logic over the events, tested as such.
//!
//! # The events (audit schema v1, the details of each `kind`)
//!
//! Every event has `kind` and its details (a JSON object). `pid` is a host
//! pid. The kinds the detectors read:
//!
//! - `proc.exec`: `pid`, `ppid`, `path` (as passed to execve), `argv`
//!   (array of strings), `cwd`, `dirfd` (execveat only).
//! - `proc.exit`: `pid`, `code` (the exit_group status) or `signal`.
//! - `sock.connect` / `sock.bind`: `pid`, `fd`, `family` (`unix`, `inet`,
//!   `inet6`, `netlink`, `packet`, `family N`), `addr` (`IP:PORT`,
//!   `[IPv6]:PORT`, a unix path or `@abstract`).
//! - `sock.sendto`: as `sock.connect` (a datagram sent to an address),
//!   plus `bytes`; the detectors treat it as a connection attempt.
//! - `sock.listen`: `pid`, `fd`, `backlog`, `addr` (from the bind, if seen).
//! - `sock.socket`: `pid`, `family`, `type` (unusual families only).
//! - `file.write`: `pid`, `op` (`open`, `create`, `rename`, `unlink`,
//!   `truncate`), `path` (absolute when it could be resolved), `to` (for
//!   `rename`), `flags` (for `open`, e.g. `["O_WRONLY","O_CREAT"]`),
//!   `writable` (false when the path is outside every path the sandbox may
//!   write: the kernel refuses it).
//! - `sys.denied`: `pid`, `syscall`, `reason`, `args`, `errno`.
//! - `resource.sample`: `interval_ms`, `processes`, `threads`,
//!   `cpu_percent` (of one core: 200 = two cores busy), `rss_kib`, `top`
//!   (array of `{pid, comm, cpu_percent, cpu_ms, rss_kib, threads}`), and
//!   `cpu_limit_percent` when the policy caps CPU (`cpus = 1` is 100).
//! - `resource.limit`: `limit` (`memory`, `pids`, `cpu`, `timeout`), `detail`.
//! - `net.connect` (the egress proxy): `via`, `pid`, `host`, `port`, `addrs`,
//!   `upstream`, `decision` (`allow`, `deny`, `error`), `rule`, `reason`,
//!   `protocol` (`tls`, `http`, `ssh`, `stratum`, `other`), `detail` (SNI,
//!   Host, SSH banner, mining method), `severity` (`info`, `warning`,
//!   `critical`), `bytes_up`, `bytes_down`, `duration_ms`.
//! - `dns.query`: the same fields, with `host` the name, `qtype`, `addrs`
//!   the answer.
//! - `run.start`, `run.exit`, `verdict`, `audit.dropped`, `finding`: corral's
//!   own, ignored by detectors.

#![forbid(unsafe_code)]

use std::time::Duration;

/// One trail event, typed (`corral_event::Event`): what
/// [`Engine::observe`] reads.
pub use corral_event::Event;

pub use corral_policy::{Response, Severity};

/// What a detector found, and the events it rests on: the trail's own
/// `finding` (one type from detection to the trail, the webhook and
/// `corral verify`'s judge).
pub use corral_event::{Evidence, Finding};

mod baseline;
pub mod detectors;
mod engine;

pub use baseline::{Baseline, BaselineError};
pub use engine::{Context, Engine};
mod suggest;
#[doc(hidden)]
pub mod test_support;
pub use suggest::{suggest, Noted, Suggestion};

/// An event with when it happened, from the run's start (a live run: the
/// monotonic clock; a log read back: `ts` minus the first line's `ts`).
#[derive(Debug, Clone)]
pub struct OwnedEvent {
    /// From the run's start.
    pub at: Duration,
    /// The event, typed.
    pub event: Event,
}

impl OwnedEvent {
    /// The event of `kind` with `details` at `at` (see
    /// [`Event::from_details`]: details that do not fit the kind's struct
    /// are an [`Event::Unknown`], which the detectors skip).
    pub fn from_details(
        at: Duration,
        kind: &str,
        details: &serde_json::Map<String, serde_json::Value>,
    ) -> OwnedEvent {
        OwnedEvent {
            at,
            event: Event::from_details(kind, details),
        }
    }
}
