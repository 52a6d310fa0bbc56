//! Readers never fail on an event: unknown kinds, details that do not fit,
//! extra fields.

use corral_event::{Event, Line, ProcExit, RunError, Verdict};
use serde_json::{json, Map, Value};

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

#[test]
fn an_unknown_kind_is_kept_as_it_is() {
    let details = map(json!({ "b": [1, 2], "a": { "x": null } }));
    let event = Event::from_details("gpu.sample", &details);
    assert_eq!(
        event,
        Event::Unknown {
            kind: "gpu.sample".into(),
            details: details.clone()
        }
    );
    assert_eq!(event.kind(), "gpu.sample");
    assert_eq!(event.to_details(), ("gpu.sample", details));
    assert_eq!(
        serde_json::to_string(&event).expect("json"),
        r#"{"kind":"gpu.sample","a":{"x":null},"b":[1,2]}"#
    );
    let back: Event = serde_json::from_str(r#"{"kind":"gpu.sample","a":{"x":null},"b":[1,2]}"#)
        .expect("serde reads an unknown kind");
    assert_eq!(back, event);
}

#[test]
fn details_that_do_not_fit_are_unknown_of_the_same_kind() {
    for details in [
        json!({}),
        json!({ "code": "zero", "pid": 7 }),
        json!({ "code": 0, "pid": -7 }),
        json!({ "code": 0, "pid": 7, "consistent": "no" }),
    ] {
        let details = map(details);
        let event = Event::from_details("proc.exit", &details);
        assert!(event.is_unknown(), "{event:?}");
        assert_eq!(event.kind(), "proc.exit");
        assert_eq!(event.to_details().1, details);
    }
}

#[test]
fn extra_fields_are_ignored() {
    let event = Event::from_details(
        "proc.exit",
        &map(json!({ "code": 1, "pid": 7, "added_later": true })),
    );
    assert_eq!(
        event,
        Event::ProcExit(ProcExit {
            code: 1,
            consistent: None,
            pid: 7
        })
    );
}

#[test]
fn odd_lines_never_panic() {
    for line in [
        json!(null),
        json!([1, 2]),
        json!("x"),
        json!({}),
        json!({ "kind": 7 }),
        json!({ "kind": "verdict" }),
    ] {
        let event = Event::from_line(&line);
        assert!(event.is_unknown(), "{line}");
    }
    assert!(Line::parse("not json").is_err());
    assert!(Line::parse("[]").is_err());
    assert!(Line::parse(r#"{"v":1,"kind":"run.error"}"#).is_err());
    // A `kind` key among the details cannot replace the kind.
    let event = Event::from_details("run.error", &map(json!({ "kind": "x", "message": "m" })));
    assert_eq!(event.kind(), "run.error");
}

#[test]
fn an_unknown_kind_in_a_line_keeps_the_envelope_and_the_text() {
    let text = r#"{"v":1,"ts":"2026-12-04T19:04:34.601891129Z","run":"b8f10cc205e154c3","seq":3,"kind":"gpu.sample","labels":{"a":"b"},"util":0.5,"prev":"00"}"#;
    let line = Line::parse(text).expect("line");
    assert_eq!(line.seq, 3);
    assert_eq!(line.labels.get("a").map(String::as_str), Some("b"));
    assert!(line.event.is_unknown());
    assert_eq!(line.to_json(), text);
}

#[test]
fn producers_get_what_the_writer_takes() {
    let (kind, details) = Event::from(RunError {
        message: "boom".into(),
    })
    .into_details();
    assert_eq!(kind, "run.error");
    assert_eq!(details, map(json!({ "message": "boom" })));

    // A verdict as produced: the writer adds events and dropped.
    let verdict = Verdict {
        denied: 0,
        ended_by: None,
        exit_code: Some(0),
        findings: vec![],
        killed: false,
        layers: "net none".into(),
        outcome: corral_event::Outcome::Clean,
        response_ms: None,
        severity: None,
        events: None,
        dropped: None,
    };
    let (kind, details) = Event::from(verdict).into_details();
    assert_eq!(kind, "verdict");
    assert_eq!(
        details,
        map(
            json!({ "denied": 0, "exit_code": 0, "findings": [], "killed": false,
                    "layers": "net none", "outcome": "clean" })
        )
    );
}

#[test]
fn kinds_are_unique_and_match_their_variants() {
    let mut seen = std::collections::BTreeSet::new();
    for kind in Event::KINDS {
        assert!(seen.insert(kind), "{kind} twice");
    }
    assert_eq!(corral_event::EVENT_SCHEMA_VERSION, 1);
}
