//! The program's side of a scenario: its protocol lines on stdout
//! (`CORRAL-SCENARIO {...}`), what it attempted and what it saw of each
//! attempt.

use serde_json::Value;

/// The prefix of a protocol line on the program's stdout.
pub const PREFIX: &str = "CORRAL-SCENARIO ";

/// What the program saw of one attempt (its protocol line's `result`).
/// Named `Observed`, not `Seen`: other crates have a `Seen` of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    Refused,
    Done,
    Confined,
    Pending,
    Skipped,
    Info,
}

impl Observed {
    fn parse(s: &str) -> Option<Observed> {
        Some(match s {
            "refused" => Observed::Refused,
            "done" => Observed::Done,
            "confined" => Observed::Confined,
            "pending" => Observed::Pending,
            "skipped" => Observed::Skipped,
            "info" => Observed::Info,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Observed::Refused => "refused",
            Observed::Done => "done",
            Observed::Confined => "confined",
            Observed::Pending => "pending",
            Observed::Skipped => "skipped",
            Observed::Info => "info",
        }
    }
}

/// One attempt, as the program reported it (a `pending` one resolved by
/// the runner).
#[derive(Debug, Clone)]
pub struct Step {
    pub step: String,
    pub result: Observed,
    /// The layer that refused it.
    pub by: Option<String>,
    pub errno: Option<i64>,
    pub detail: Option<String>,
    /// When the attempt started (seconds since the epoch).
    pub t: f64,
    pub check: Option<String>,
}

/// What the program printed.
#[derive(Debug, Default, Clone)]
pub struct Program {
    pub began: Option<f64>,
    pub ended: bool,
    pub steps: Vec<Step>,
}

/// Parses the protocol lines of `stdout`; other lines are ignored.
pub fn parse_program(stdout: &str) -> Program {
    let mut p = Program::default();
    for line in stdout.lines() {
        let Some(json) = line.strip_prefix(PREFIX) else {
            continue;
        };
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(json) else {
            continue;
        };
        let t = obj.get("t").and_then(Value::as_f64).unwrap_or(0.0);
        match obj.get("event").and_then(Value::as_str) {
            Some("begin") => p.began = Some(t),
            Some("end") => p.ended = true,
            _ => {
                let Some(step) = obj.get("step").and_then(Value::as_str) else {
                    continue;
                };
                let Some(result) = obj
                    .get("result")
                    .and_then(Value::as_str)
                    .and_then(Observed::parse)
                else {
                    continue;
                };
                let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
                p.steps.push(Step {
                    step: step.to_owned(),
                    result,
                    by: text("by"),
                    errno: obj.get("errno").and_then(Value::as_i64),
                    detail: text("detail"),
                    t,
                    check: text("check"),
                });
            }
        }
    }
    p
}

/// The layer an errno most likely comes from, when the program did not say.
pub fn layer_of_errno(errno: i64) -> Option<&'static str> {
    Some(match errno as i32 {
        libc::EPERM | libc::ENOSYS => "seccomp",
        libc::EACCES | libc::EROFS | libc::ENOENT => "filesystem",
        libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EADDRNOTAVAIL => "netns",
        libc::EAGAIN | libc::EMFILE | libc::ENFILE | libc::ENOSPC | libc::EFBIG | libc::ENOMEM => {
            "limits"
        }
        _ => return None,
    })
}

impl Step {
    pub fn json(&self) -> Value {
        let mut v =
            serde_json::json!({ "step": self.step, "result": self.result.name(), "t": self.t });
        if let Value::Object(o) = &mut v {
            if let Some(by) = &self.by {
                o.insert("by".into(), by.clone().into());
            }
            if let Some(e) = self.errno {
                o.insert("errno".into(), e.into());
            }
            if let Some(d) = &self.detail {
                o.insert("detail".into(), d.clone().into());
            }
        }
        v
    }
}
