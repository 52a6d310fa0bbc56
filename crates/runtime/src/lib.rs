//! corral's supervisor as a library: one [`Session`] takes a policy and a
//! command from prepared plan to verdict.
//!
//! ```text
//! SessionOptions ─prepare─▶ Session ─launch─▶ Running ─wait─▶ LaunchOutcome ─finish─▶ Report
//!                   │                   │                 │
//!               resolve           trail + guard     monitor, proxy,
//!               layers            + sampler         sampler events
//!               detectors         (after clone)     ──▶ guard (detect, respond) ──▶ trail
//! ```
//!
//! Every event is a typed [`corral_event::Event`]: the monitor's
//! observations ([`monitor_events`]), the proxy's attempts, the sampler's
//! samples and the session's own (start, limits, exit, verdict). Each goes
//! through the [`guard::Guard`] (the detectors, the plain-words
//! explanations, the response) on its way into the trail ([`trail`]).
//!
//! The kernel work (namespaces, the monitor, killing, freezing, the
//! `/proc` reads) is `corral-sandbox`'s; this crate has no `unsafe`.

#![forbid(unsafe_code)]

/// Says a line on corral's stderr (never fails the run).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// A mutex's guard, poisoned or not: a panic elsewhere never stops the
/// recording and the response.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

pub mod exec;
pub mod guard;
pub mod layers;
mod live;
pub mod monitor_events;
pub mod netreport;
mod protected;
pub mod resolve;
pub mod sampler;
pub mod session;
pub mod trail;
mod webhook;

pub use exec::{ExecOutput, ExecRequest, OutputSink, OutputStream};
pub use guard::{Ended, Guard, EXIT_FINDING};
pub use session::{Control, Report, Running, Session, SessionOptions, EXIT_CORRAL_ERROR};
