//! The committed JSON Schema (`schema/corral-event.schema.json` at the
//! repository root) is the one the types give.
//!
//! After changing an event: `CORRAL_UPDATE_SCHEMA=1 cargo test -p
//! corral-event` rewrites it.

use corral_event::Event;
use serde_json::Value;
use std::path::PathBuf;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/corral-event.schema.json")
}

#[test]
fn the_committed_schema_is_current() {
    let path = committed();
    let fresh = corral_event::schema_json();
    if std::env::var_os("CORRAL_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "{} is out of date with the event types; regenerate it with \
         `CORRAL_UPDATE_SCHEMA=1 cargo test -p corral-event` and commit it",
        path.display()
    );
}

#[test]
fn the_schema_is_draft_2020_12_and_names_every_kind() {
    let schema: Value = serde_json::to_value(corral_event::schema()).expect("schema");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let text = schema.to_string();
    for kind in Event::KINDS {
        assert!(
            text.contains(&format!("\"const\":\"{kind}\"")),
            "{kind} missing from the schema"
        );
    }
    // Unknown kinds are allowed, as any string but the known ones.
    assert!(text.contains("\"not\":{\"enum\":["), "{text}");
}
