//! The typed events of corral's audit trail (schema version 1).
//!
//! A trail line is `{"v":1,"ts":...,"run":...,"seq":N,"kind":"...",
//! "labels":{...}, <details...>, "prev":"..."}` (see `corral-audit` for
//! the envelope and the hash chain). This crate gives every `kind` corral
//! writes a struct of its details ([`ProcExec`], [`NetConnect`],
//! [`Verdict`], ...), gathers them in [`Event`] (serde internally tagged by
//! `kind`), reads a whole line as a [`Line`], and describes a line as a
//! JSON Schema ([`schema`], committed as `schema/corral-event.schema.json`).
//!
//! # Key order
//!
//! The writer writes the details in the order of the `serde_json::Map` it
//! is given. corral builds serde_json without `preserve_order`, so that map
//! is sorted by key, and so is every object nested in it: each struct here
//! lists its fields in that (alphabetical) order, so that serialising the
//! struct gives the same text as the map. The one exception is
//! [`Verdict`]: the writer appends `events` and `dropped` after the
//! caller's details.
//!
//! # Forward compatibility
//!
//! Reading never fails on an event: a kind this crate does not know, or
//! details that do not fit the kind's struct (a field missing or of another
//! type), read as [`Event::Unknown`] with the kind and the details as they
//! are. Extra fields are ignored (the typed event is kept, without them).
//!
//! # Producing
//!
//! Build the kind's struct, turn it into an [`Event`] (`From`), and hand
//! [`Event::to_details`]'s kind and map to the audit writer
//! (`Handle::record(kind, details)`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub mod audit;
pub mod detect;
pub mod file;
mod line;
mod names;
pub mod net;
pub mod proc;
pub mod resource;
pub mod run;
mod schema;
pub mod sock;
pub mod sys;

pub use audit::{AuditDropped, Outcome, Verdict, VERDICT_TRAILER};
pub use detect::{
    Evidence, Finding, Response, ResponseKill, ResponseSnapshot, Severity, SnapshotProcess,
};
pub use file::{FileOp, FileWrite, FsProtected};
pub use line::{Line, LineError, ENVELOPE};
pub use net::{Decision, DnsQuery, NetConnect, NetSeverity, Via};
pub use proc::{ProcExec, ProcExit, Stdio};
pub use resource::{Limit, ResourceLimit, ResourceSample, SampleProcess};
pub use run::{ExecExit, ExecStart, RunClaim, RunError, RunExit, RunStart};
pub use schema::{schema, schema_json};
pub use sock::{SockBind, SockConnect, SockListen, SockSendTo, SockSocket};
pub use sys::SysDenied;

/// The schema version of the events described here: the `v` of every
/// trail line.
///
/// It must move together with `corral_audit::SCHEMA_VERSION` (the
/// writer's): a change to a kind's fields that an old reader would misread
/// is a new version of both.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// Declares [`Event`] and what is derived from its list of kinds.
macro_rules! events {
    ($( $(#[$doc:meta])* $kind:literal => $variant:ident($ty:ty), )*) => {
        /// One audit trail event: its `kind` and its details.
        ///
        /// Serialised, it is the details object with `kind` first
        /// (`{"kind":"proc.exit","code":0,"pid":7}`); the trail line puts the
        /// envelope around it ([`Line`]).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(tag = "kind")]
        pub enum Event {
            $(
                $(#[$doc])*
                #[serde(rename = $kind)]
                $variant($ty),
            )*
            /// A kind this crate does not know, or details that do not fit
            /// the kind's struct: kept as they are.
            #[serde(untagged)]
            Unknown {
                /// The event's kind.
                #[schemars(schema_with = "crate::schema::unknown_kind")]
                kind: String,
                /// The event's details (without `kind`).
                #[serde(flatten)]
                details: Map<String, Value>,
            },
        }

        impl Event {
            /// Every kind with a typed variant, in declaration order.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The event's kind (`proc.exec`, `verdict`, ...).
            pub fn kind(&self) -> &str {
                match self {
                    $(Event::$variant(_) => $kind,)*
                    Event::Unknown { kind, .. } => kind,
                }
            }
        }

        $(
            impl From<$ty> for Event {
                fn from(details: $ty) -> Event {
                    Event::$variant(details)
                }
            }
        )*
    };
}

events! {
    /// An `execve`/`execveat` inside the sandbox.
    "proc.exec" => ProcExec(ProcExec),
    /// An `exit_group` inside the sandbox.
    "proc.exit" => ProcExit(ProcExit),
    /// A write-intent file call inside the sandbox.
    "file.write" => FileWrite(FileWrite),
    /// A `connect` inside the sandbox.
    "sock.connect" => SockConnect(SockConnect),
    /// A `bind` inside the sandbox.
    "sock.bind" => SockBind(SockBind),
    /// A `sendto` with a destination inside the sandbox.
    "sock.sendto" => SockSendTo(SockSendTo),
    /// A `listen` inside the sandbox.
    "sock.listen" => SockListen(SockListen),
    /// A `socket` of an unusual family inside the sandbox.
    "sock.socket" => SockSocket(SockSocket),
    /// A call the seccomp deny filter refused.
    "sys.denied" => SysDenied(SysDenied),
    /// A connection attempt through the egress proxy.
    "net.connect" => NetConnect(NetConnect),
    /// A DNS query through the egress proxy.
    "dns.query" => DnsQuery(DnsQuery),
    /// A protected path changed during the run.
    "fs.protected" => FsProtected(FsProtected),
    /// A periodic sample of the sandbox's processes.
    "resource.sample" => ResourceSample(ResourceSample),
    /// A limit the sandbox hit.
    "resource.limit" => ResourceLimit(ResourceLimit),
    /// The run's start (the first line).
    "run.start" => RunStart(RunStart),
    /// How the command ended.
    "run.exit" => RunExit(RunExit),
    /// The sandbox could not be started.
    "run.error" => RunError(RunError),
    /// A sandbox built ahead of time was handed to its caller.
    "run.claim" => RunClaim(RunClaim),
    /// A further command started in the running sandbox.
    "exec.start" => ExecStart(ExecStart),
    /// How a further command ended.
    "exec.exit" => ExecExit(ExecExit),
    /// A detector's finding.
    "finding" => Finding(Finding),
    /// corral ended the run for a finding.
    "response.kill" => ResponseKill(ResponseKill),
    /// The frozen sandbox's processes, before the kill.
    "response.snapshot" => ResponseSnapshot(ResponseSnapshot),
    /// Events lost because the writer's queue was full.
    "audit.dropped" => AuditDropped(AuditDropped),
    /// The last line of a finished trail.
    "verdict" => Verdict(Verdict),
}

impl Event {
    /// The event of `kind` with `details` (a trail line without its
    /// envelope): the typed variant when the kind is known and the details
    /// fit it, else [`Event::Unknown`]. Never fails.
    pub fn from_details(kind: &str, details: &Map<String, Value>) -> Event {
        if !Event::KINDS.contains(&kind) {
            return Event::unknown(kind, details.clone());
        }
        let mut object = Map::with_capacity(details.len() + 1);
        object.insert("kind".into(), Value::from(kind));
        object.extend(
            details
                .iter()
                .filter(|(k, _)| k.as_str() != "kind")
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        match serde_json::from_value::<Event>(Value::Object(object)) {
            // A known kind never reads as Unknown of another kind.
            Ok(event) if event.kind() == kind => event,
            _ => Event::unknown(kind, details.clone()),
        }
    }

    /// The event of one trail line (parsed JSON): its `kind`, and the rest
    /// without the envelope's keys ([`ENVELOPE`]). Never fails: a line that
    /// is not an object, or has no string `kind`, is an
    /// [`Event::Unknown`] of kind `""`.
    pub fn from_line(line: &Value) -> Event {
        let Some(object) = line.as_object() else {
            return Event::unknown("", Map::new());
        };
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let details: Map<String, Value> = object
            .iter()
            .filter(|(k, _)| k.as_str() != "kind" && !ENVELOPE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Event::from_details(kind, &details)
    }

    /// The kind and the details, as the audit writer takes them
    /// (`Handle::record(kind, details)`): the details map without `kind`.
    pub fn to_details(&self) -> (&str, Map<String, Value>) {
        let details = match self {
            Event::Unknown { details, .. } => details.clone(),
            _ => match serde_json::to_value(self) {
                Ok(Value::Object(mut map)) => {
                    map.remove("kind");
                    map
                }
                // Not reached: every variant serialises to an object.
                _ => Map::new(),
            },
        };
        (self.kind(), details)
    }

    /// As [`Event::to_details`], consuming the event (no copy of an
    /// unknown event's details).
    pub fn into_details(self) -> (String, Map<String, Value>) {
        match self {
            Event::Unknown { kind, details } => (kind, details),
            known => {
                let (kind, details) = known.to_details();
                (kind.to_owned(), details)
            }
        }
    }

    /// Whether this is [`Event::Unknown`].
    pub fn is_unknown(&self) -> bool {
        matches!(self, Event::Unknown { .. })
    }

    fn unknown(kind: &str, details: Map<String, Value>) -> Event {
        Event::Unknown {
            kind: kind.to_owned(),
            details,
        }
    }
}
