//! One whole trail line: the envelope and the event.

use crate::{Event, VERDICT_TRAILER};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// The envelope's keys (every line's, besides `kind`): `v`, `ts`, `run`,
/// `seq` and `labels` come first, `prev` last.
pub const ENVELOPE: [&str; 6] = ["v", "ts", "run", "seq", "labels", "prev"];

/// One trail line, read.
///
/// Serialised (or [`Line::to_json`]), it is the text the audit writer
/// writes for it, byte for byte (without the newline): the envelope's
/// keys, `kind`, the details in key order (a verdict's `events` and
/// `dropped` last), `prev`.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The schema version ([`crate::EVENT_SCHEMA_VERSION`]).
    pub v: u32,
    /// When the event was recorded: RFC 3339, UTC, nanoseconds.
    pub ts: String,
    /// The run id: 16 lowercase hex digits, the same on every line.
    pub run: String,
    /// The line's number: 0, 1, 2, ... without gaps.
    pub seq: u64,
    /// The run's labels (every `--label`), on every line.
    pub labels: BTreeMap<String, String>,
    /// The event: its kind and details.
    pub event: Event,
    /// The lowercase hex SHA-256 of the previous line's bytes (for line 0,
    /// of `corral-audit-v1:` and the run id).
    pub prev: String,
}

/// Why a line is not a trail line (its envelope; the event itself never
/// fails, see [`Event::from_details`]).
#[derive(Debug)]
pub enum LineError {
    /// Not JSON.
    Json(serde_json::Error),
    /// JSON, but not an object.
    NotObject,
    /// An envelope key (or `kind`) is missing or of the wrong type.
    Key(&'static str),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::Json(e) => write!(f, "not JSON: {e}"),
            LineError::NotObject => write!(f, "not a JSON object"),
            LineError::Key(key) => write!(f, "`{key}` is missing or of the wrong type"),
        }
    }
}

impl std::error::Error for LineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LineError::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl Line {
    /// Parses one line of a trail (with or without its newline).
    pub fn parse(text: &str) -> Result<Line, LineError> {
        let value: Value = serde_json::from_str(text).map_err(LineError::Json)?;
        Line::from_value(&value)
    }

    /// Reads one parsed line: the envelope must be there, with its types;
    /// the event is whatever the rest says ([`Event::from_line`]).
    pub fn from_value(value: &Value) -> Result<Line, LineError> {
        let object = value.as_object().ok_or(LineError::NotObject)?;
        let text = |key: &'static str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(LineError::Key(key))
        };
        let v = object
            .get("v")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(LineError::Key("v"))?;
        let seq = object
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or(LineError::Key("seq"))?;
        let labels = match object.get("labels") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect::<Option<BTreeMap<_, _>>>()
                .ok_or(LineError::Key("labels"))?,
            _ => return Err(LineError::Key("labels")),
        };
        text("kind")?;
        Ok(Line {
            v,
            ts: text("ts")?,
            run: text("run")?,
            seq,
            labels,
            event: Event::from_line(value),
            prev: text("prev")?,
        })
    }

    /// The line's text as the writer writes it (without the newline).
    pub fn to_json(&self) -> String {
        // Serialising strings, integers, floats and maps of them cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Line {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, mut details) = self.event.to_details();
        // The writer appends a verdict's own keys after the caller's details.
        let trailer: Vec<(&str, Value)> = if kind == "verdict" {
            VERDICT_TRAILER
                .iter()
                .filter_map(|k| details.remove(*k).map(|v| (*k, v)))
                .collect()
        } else {
            Vec::new()
        };
        let mut map = serializer.serialize_map(Some(8 + details.len() + trailer.len()))?;
        map.serialize_entry("v", &self.v)?;
        map.serialize_entry("ts", &self.ts)?;
        map.serialize_entry("run", &self.run)?;
        map.serialize_entry("seq", &self.seq)?;
        map.serialize_entry("kind", kind)?;
        map.serialize_entry("labels", &self.labels)?;
        for (key, value) in &details {
            map.serialize_entry(key, value)?;
        }
        for (key, value) in &trailer {
            map.serialize_entry(key, value)?;
        }
        map.serialize_entry("prev", &self.prev)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Line {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Line, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Line::from_value(&value).map_err(serde::de::Error::custom)
    }
}
