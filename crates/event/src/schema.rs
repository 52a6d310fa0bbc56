//! The JSON Schema (draft 2020-12) of a trail line.

use crate::{Event, Line};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Value};
use std::borrow::Cow;

/// The JSON Schema (draft 2020-12) of one trail line: the envelope, and
/// one of the typed events, or an event of a kind not listed (which
/// readers keep as [`Event::Unknown`]).
pub fn schema() -> Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Line>()
}

/// [`schema`] as pretty-printed JSON with a final newline: the text of the
/// committed `schema/corral-event.schema.json`.
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Builds a schema from JSON that is an object (never fails for one).
fn object(value: Value) -> Schema {
    Schema::try_from(value).unwrap_or_default()
}

/// The `kind` of an unknown event: any string but the known kinds.
pub(crate) fn unknown_kind(_: &mut SchemaGenerator) -> Schema {
    object(json!({
        "type": "string",
        "description": "A kind not listed here: readers keep the event as it is.",
        "not": { "enum": Event::KINDS },
    }))
}

impl JsonSchema for Line {
    fn schema_name() -> Cow<'static, str> {
        "Line".into()
    }

    fn schema_id() -> Cow<'static, str> {
        "corral_event::Line".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let event = generator.subschema_for::<Event>();
        object(json!({
            "title": "corral audit trail line",
            "description": "One line of a corral audit trail (JSON Lines, schema version 1): \
                the envelope (v, ts, run, seq, kind, labels ... prev) around one event's details. \
                Keys are written in this order: v, ts, run, seq, kind, labels, the details \
                (sorted by key; a verdict's events and dropped last), prev.",
            "type": "object",
            "properties": {
                "v": {
                    "description": "The schema version.",
                    "const": crate::EVENT_SCHEMA_VERSION,
                },
                "ts": {
                    "description": "When the event was recorded: RFC 3339, UTC, nanoseconds.",
                    "type": "string",
                },
                "run": {
                    "description": "The run id: 16 lowercase hex digits.",
                    "type": "string",
                    "pattern": "^[0-9a-f]{16}$",
                },
                "seq": {
                    "description": "The line's number: 0, 1, 2, ... without gaps.",
                    "type": "integer",
                    "minimum": 0,
                },
                "labels": {
                    "description": "The run's labels.",
                    "type": "object",
                    "additionalProperties": { "type": "string" },
                },
                "prev": {
                    "description": "The lowercase hex SHA-256 of the previous line's bytes \
                        (for line 0, of `corral-audit-v1:` and the run id).",
                    "type": "string",
                    "pattern": "^[0-9a-f]{64}$",
                },
            },
            "required": ["v", "ts", "run", "seq", "kind", "labels", "prev"],
            "allOf": [event],
        }))
    }
}
