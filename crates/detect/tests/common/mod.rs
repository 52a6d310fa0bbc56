//! Hand-built events for the detector tests.

#![allow(dead_code)]

use corral_detect::{Context, Engine, Finding};
use serde_json::{Map, Value};
use std::time::Duration;

pub const WORKSPACE: &str = "/home/me/proj";
pub const TRAIL: &str = "/home/me/.local/state/corral/runs/r1.jsonl";
pub const STATE: &str = "/home/me/.local/state/corral";

pub fn context() -> Context {
    Context {
        workspace: Some(WORKSPACE.into()),
        audit_paths: vec![TRAIL.into(), STATE.into()],
        cpu_budget_percent: 400.0,
    }
}

/// An engine for a `[detect]` section written in TOML (checked as a
/// policy file is).
pub fn engine(detect_toml: &str) -> Engine {
    let policy = corral_policy::Policy::from_toml_str(detect_toml, "test.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    Engine::new(&policy.detect, context(), None)
}

/// Feeds events to an engine; every finding is kept.
pub struct Run {
    pub engine: Engine,
    pub found: Vec<Finding>,
}

impl Run {
    pub fn new() -> Run {
        Run::with("")
    }

    pub fn with(detect_toml: &str) -> Run {
        Run {
            engine: engine(detect_toml),
            found: Vec::new(),
        }
    }

    /// One event at `at_ms`; returns its findings' ids.
    pub fn ev(&mut self, at_ms: u64, kind: &str, details: Value) -> Vec<String> {
        let Value::Object(map) = details else {
            panic!("details must be an object");
        };
        let new = observe(&mut self.engine, at_ms, kind, &map);
        let ids = new.iter().map(|f| f.id.clone()).collect();
        self.found.extend(new);
        ids
    }

    pub fn ids(&self) -> Vec<&str> {
        self.found.iter().map(|f| f.id.as_str()).collect()
    }

    pub fn get(&self, id: &str) -> &Finding {
        self.found
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("no {id} in {:?}", self.ids()))
    }

    pub fn has(&self, id: &str) -> bool {
        self.found.iter().any(|f| f.id == id)
    }

    // Event builders.

    pub fn exec(&mut self, at_ms: u64, pid: u32, ppid: u32, argv: &[&str]) -> Vec<String> {
        let path = argv.first().copied().unwrap_or("");
        self.ev(
            at_ms,
            "proc.exec",
            serde_json::json!({ "pid": pid, "ppid": ppid, "path": path, "argv": argv, "cwd": WORKSPACE }),
        )
    }

    pub fn write(&mut self, at_ms: u64, pid: u32, op: &str, path: &str) -> Vec<String> {
        self.ev(
            at_ms,
            "file.write",
            serde_json::json!({ "pid": pid, "op": op, "path": path, "writable": true }),
        )
    }

    pub fn open(&mut self, at_ms: u64, pid: u32, path: &str, flags: &[&str]) -> Vec<String> {
        self.ev(
            at_ms,
            "file.write",
            serde_json::json!({ "pid": pid, "op": "open", "path": path, "flags": flags, "writable": true }),
        )
    }

    pub fn sock(
        &mut self,
        at_ms: u64,
        kind: &str,
        pid: u32,
        family: &str,
        addr: &str,
    ) -> Vec<String> {
        self.ev(
            at_ms,
            kind,
            serde_json::json!({ "pid": pid, "fd": 3, "family": family, "addr": addr }),
        )
    }

    pub fn net(
        &mut self,
        at_ms: u64,
        pid: u32,
        host: &str,
        port: u16,
        decision: &str,
        protocol: &str,
    ) -> Vec<String> {
        self.ev(
            at_ms,
            "net.connect",
            serde_json::json!({
                "via": "http-connect", "pid": pid, "host": host, "port": port, "decision": decision,
                "protocol": protocol, "bytes_up": 1000, "bytes_down": 5000,
            }),
        )
    }

    pub fn dns(&mut self, at_ms: u64, pid: u32, host: &str) -> Vec<String> {
        self.ev(
            at_ms,
            "dns.query",
            serde_json::json!({ "pid": pid, "host": host, "qtype": "A", "decision": "allow" }),
        )
    }

    pub fn denied(&mut self, at_ms: u64, pid: u32, syscall: &str, args: &[u64]) -> Vec<String> {
        self.ev(
            at_ms,
            "sys.denied",
            serde_json::json!({ "pid": pid, "syscall": syscall, "reason": "r", "args": args, "errno": "EPERM" }),
        )
    }

    /// A sample with one busy process.
    pub fn sample(
        &mut self,
        at_ms: u64,
        pid: u32,
        comm: &str,
        cpu: f64,
        threads: u64,
    ) -> Vec<String> {
        self.ev(
            at_ms,
            "resource.sample",
            serde_json::json!({
                "interval_ms": 1000, "processes": 3, "threads": threads + 2, "cpu_percent": cpu + 1.0,
                "rss_kib": 100000,
                "top": [
                    { "pid": pid, "comm": comm, "cpu_percent": cpu, "cpu_ms": at_ms, "rss_kib": 50000, "threads": threads },
                    { "pid": 1, "comm": "init", "cpu_percent": 0.5, "cpu_ms": 10, "rss_kib": 1000, "threads": 1 },
                ],
            }),
        )
    }
}

pub fn observe(
    engine: &mut Engine,
    at_ms: u64,
    kind: &str,
    details: &Map<String, Value>,
) -> Vec<Finding> {
    // The test builders give the fields that matter; the others are filled.
    let event = corral_detect::test_support::event(kind, &Value::Object(details.clone()));
    engine.observe(Duration::from_millis(at_ms), &event)
}
