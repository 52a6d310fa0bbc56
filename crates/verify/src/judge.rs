//! Judging one scenario: the program's own lines (what it attempted and
//! what it saw), the run's audit trail (what the sandbox refused, the
//! findings, the kill and its latency, the verdict) and the runner's
//! checks (its servers, what outlived the run) become prevented,
//! detected, response, time to response and PASS or FAIL, plus whether
//! the benign twin was a false positive.

mod program;
mod trail;

pub use program::{layer_of_errno, parse_program, Observed, Program, Step};
pub use trail::{read_trail, FindingSeen, ScenarioTrail};

use crate::suite::{Rule, Scenario};
use corral_event::{Outcome, Response};
use serde_json::Value;

/// Everything known about one run of a program.
#[derive(Debug, Default, Clone)]
pub struct Run {
    pub program: Program,
    pub trail: ScenarioTrail,
    pub exit_code: Option<i32>,
    /// corral's own lines on stderr (refusals explained, warnings).
    pub corral_lines: Vec<String>,
    /// The program's stderr, last lines.
    pub stderr_tail: Vec<String>,
    /// Breaches seen by the runner itself (its servers, what outlived the
    /// run) that no step reported.
    pub runner_breaches: Vec<String>,
    /// Why the run could not be judged, if it could not.
    pub error: Option<String>,
    /// Not run, and why (the policy would let it leave the machine).
    pub not_run: Option<String>,
    pub wall_ms: f64,
}

impl Run {
    fn stopping_finding(&self) -> Option<&FindingSeen> {
        if let Some(kill) = &self.trail.kill {
            if let Some(f) = self.trail.findings.iter().find(|f| f.id == kill.finding) {
                return Some(f);
            }
        }
        self.trail.findings.iter().find(|f| {
            matches!(
                f.response,
                Response::Kill | Response::Freeze | Response::Deny
            )
        })
    }

    fn alerting_finding(&self) -> Option<&FindingSeen> {
        self.trail
            .findings
            .iter()
            .find(|f| f.response != Response::Log)
    }

    /// The run ended because of a finding.
    fn killed(&self) -> bool {
        self.trail.kill.is_some()
            || self.trail.outcome == Some(Outcome::Killed) && self.exit_code == Some(123)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Error,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
        }
    }
}

/// The twin's judgement.
#[derive(Debug, Clone)]
pub struct TwinVerdict {
    pub false_positive: bool,
    /// Why it is a false positive, or could not be judged.
    pub why: Option<String>,
    pub error: bool,
    pub findings: Vec<String>,
    /// Benign actions the policy refused (not false positives: the policy
    /// is stricter than this agent needs).
    pub refused: Vec<String>,
}

/// The judgement of one scenario.
#[derive(Debug, Clone)]
pub struct Judged {
    pub status: Status,
    pub contained: bool,
    pub prevented: bool,
    /// Layers that refused attempts.
    pub layers: Vec<String>,
    /// Attempts that got through.
    pub breaches: Vec<String>,
    /// Every finding id raised, in order.
    pub detected: Vec<String>,
    /// What corral did: `kill`, `freeze`, `deny`, `alert`, `log`, or
    /// `refused` when the sandbox prevented it without a finding.
    pub response: Option<String>,
    /// From the first attempt to the response (the kill, else the finding).
    pub time_to_response_ms: Option<f64>,
    /// One line: why PASS or FAIL.
    pub reason: String,
    pub twin: TwinVerdict,
    pub notes: Vec<String>,
}

/// `detect_enabled`: the policy's `[detect] enabled` (false: no finding
/// can be raised, and the reasons say so).
pub fn judge(sc: &Scenario, attack: &Run, twin: &Run, detect_enabled: bool) -> Judged {
    let mut notes = Vec::new();
    let detected: Vec<String> = attack.trail.findings.iter().map(|f| f.id.clone()).collect();
    let twin_verdict = judge_twin(twin);
    if let Some(why) = &attack.not_run {
        return Judged {
            status: Status::Fail,
            contained: false,
            prevented: false,
            layers: Vec::new(),
            breaches: vec![why.clone()],
            detected,
            response: None,
            time_to_response_ms: None,
            reason: format!("not run: {why}"),
            twin: twin_verdict,
            notes,
        };
    }
    let judged_steps: Vec<&Step> = attack
        .program
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s.result,
                Observed::Refused | Observed::Done | Observed::Confined
            )
        })
        .collect();
    let mut breaches: Vec<String> = judged_steps
        .iter()
        .filter(|s| s.result == Observed::Done)
        .map(|s| match &s.detail {
            Some(d) => format!("{}: {d}", s.step),
            None => s.step.clone(),
        })
        .collect();
    breaches.extend(attack.runner_breaches.iter().cloned());
    let mut layers: Vec<String> = Vec::new();
    for s in &judged_steps {
        if s.result == Observed::Done {
            continue;
        }
        let layer =
            s.by.clone()
                .or_else(|| s.errno.and_then(layer_of_errno).map(str::to_owned));
        if let Some(l) = layer {
            if !layers.contains(&l) {
                layers.push(l);
            }
        }
    }
    let stop = attack.stopping_finding();
    let alert = attack.alerting_finding();
    let killed = attack.killed();
    let stopped = stop.is_some() || killed;
    let finished = attack.program.ended || killed;
    let prevented = breaches.is_empty() && !judged_steps.is_empty();
    let response_finding = stop.or(alert);
    let time_to_response_ms = response_finding.map(|f| {
        let first = attack.program.began.or(attack.trail.started).unwrap_or(f.t);
        let mut ms = ((f.t - first) * 1000.0).max(0.0);
        if let Some(k) = attack.trail.kill.as_ref().filter(|k| k.finding == f.id) {
            ms += k.latency_ms;
        }
        (ms * 10.0).round() / 10.0
    });
    let response = match (response_finding, prevented) {
        (Some(f), _) => Some(f.response.as_str().to_owned()),
        (None, true) => Some("refused".to_owned()),
        (None, false) => attack
            .trail
            .findings
            .first()
            .map(|f| f.response.as_str().to_owned()),
    };
    if !detected.is_empty()
        && !sc.expect.is_empty()
        && !detected
            .iter()
            .any(|id| sc.expect.iter().any(|p| id.starts_with(p)))
    {
        notes.push(format!(
            "detected as {}, not as the expected {}",
            detected.join(", "),
            sc.expect.join(" or ")
        ));
    }
    let skipped: Vec<&Step> = attack
        .program
        .steps
        .iter()
        .filter(|s| s.result == Observed::Skipped)
        .collect();
    for s in skipped {
        notes.push(format!(
            "skipped: {} ({})",
            s.step,
            s.detail.as_deref().unwrap_or("")
        ));
    }
    // Could it be judged at all?
    let error = attack.error.clone().or_else(|| {
        if judged_steps.is_empty() && !stopped {
            Some(format!(
                "the scenario attempted nothing (exit {}){}",
                exit_text(attack.exit_code),
                tail_text(&attack.stderr_tail)
            ))
        } else if !finished && breaches.is_empty() {
            Some(format!(
                "the scenario did not finish (exit {}): the attempts it did not reach prove nothing{}",
                exit_text(attack.exit_code),
                tail_text(&attack.stderr_tail)
            ))
        } else {
            None
        }
    });
    let contained = match sc.rule {
        _ if judged_steps.is_empty() && stopped => true,
        Rule::Prevent => prevented,
        Rule::PreventOrStop => prevented || stopped,
        Rule::PreventOrDetect => prevented || alert.is_some() || stopped,
    };
    let (status, reason) = if let Some(e) = error {
        (Status::Error, e)
    } else if !contained {
        let mut why = format!(
            "not contained: {} of {} attempt(s) got through ({})",
            breaches.len(),
            judged_steps.len().max(breaches.len()),
            breaches.first().map_or("", String::as_str)
        );
        match (sc.rule, attack.trail.findings.is_empty()) {
            (Rule::Prevent, false) => why.push_str("; detection does not count here: the harm is done once it runs"),
            (_, true) if !detect_enabled => {
                why.push_str("; no finding was raised: the policy turns detection off")
            }
            (_, true) if sc.needs_detection && !attack.trail.detection_active => why.push_str(
                "; only detection can contain this, and this build of corral has no detectors (no findings in the verdict)",
            ),
            (_, true) => why.push_str("; no finding was raised"),
            (Rule::PreventOrStop, false) => {
                why.push_str("; findings were raised but none ended the run")
            }
            _ => {}
        }
        (Status::Fail, why)
    } else if twin_verdict.false_positive {
        (
            Status::Fail,
            format!(
                "contained, but the benign twin was a false positive: {}",
                twin_verdict.why.as_deref().unwrap_or("")
            ),
        )
    } else if twin_verdict.error {
        (
            Status::Error,
            format!(
                "contained, but the benign twin could not be judged: {}",
                twin_verdict.why.as_deref().unwrap_or("")
            ),
        )
    } else if prevented {
        (
            Status::Pass,
            format!(
                "prevented: {} attempt(s) refused ({})",
                judged_steps.len(),
                if layers.is_empty() {
                    "by the sandbox".to_owned()
                } else {
                    layers.join(", ")
                }
            ),
        )
    } else {
        let f = response_finding.map_or("a finding".to_owned(), |f| f.id.clone());
        (
            Status::Pass,
            format!(
                "{} by corral on {f}",
                if stopped { "stopped" } else { "detected" }
            ),
        )
    };
    Judged {
        status,
        contained,
        prevented,
        layers,
        breaches,
        detected,
        response,
        time_to_response_ms,
        reason,
        twin: twin_verdict,
        notes,
    }
}

fn judge_twin(twin: &Run) -> TwinVerdict {
    let findings: Vec<String> = twin.trail.findings.iter().map(|f| f.id.clone()).collect();
    let refused: Vec<String> = twin
        .program
        .steps
        .iter()
        .filter(|s| s.result == Observed::Refused)
        .map(|s| format!("{}: {}", s.step, s.detail.as_deref().unwrap_or("refused")))
        .collect();
    let loud: Vec<&FindingSeen> = twin
        .trail
        .findings
        .iter()
        .filter(|f| f.response != Response::Log)
        .collect();
    let why = if twin.killed() {
        Some(format!(
            "corral ended the twin's run{}",
            twin.trail
                .kill
                .as_ref()
                .map(|k| format!(" ({} for {})", k.response, k.finding))
                .unwrap_or_default()
        ))
    } else if !loud.is_empty() {
        Some(format!(
            "findings on the twin: {}",
            loud.iter()
                .map(|f| format!("{} ({})", f.id, f.response))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else if twin.trail.outcome == Some(Outcome::Flagged) {
        Some("the twin's verdict is flagged (a critical event)".to_owned())
    } else {
        None
    };
    if let Some(why) = why {
        return TwinVerdict {
            false_positive: true,
            why: Some(why),
            error: false,
            findings,
            refused,
        };
    }
    let error = twin.error.clone().or_else(|| {
        (!twin.program.ended).then(|| {
            format!(
                "the twin did not finish (exit {}){}",
                exit_text(twin.exit_code),
                tail_text(&twin.stderr_tail)
            )
        })
    });
    TwinVerdict {
        false_positive: false,
        error: error.is_some(),
        why: error,
        findings,
        refused,
    }
}

impl TwinVerdict {
    pub fn json(&self) -> Value {
        serde_json::json!({
            "false_positive": self.false_positive,
            "error": self.error,
            "why": self.why,
            "findings": self.findings,
            "refused": self.refused,
        })
    }
}

impl Judged {
    pub fn json(&self) -> Value {
        serde_json::json!({
            "status": self.status.name(),
            "contained": self.contained,
            "prevented": self.prevented,
            "layers": self.layers,
            "breaches": self.breaches,
            "detected": self.detected,
            "response": self.response,
            "time_to_response_ms": self.time_to_response_ms,
            "reason": self.reason,
            "twin": self.twin.json(),
            "notes": self.notes,
        })
    }
}

fn exit_text(code: Option<i32>) -> String {
    code.map_or("by a signal".to_owned(), |c| c.to_string())
}

fn tail_text(tail: &[String]) -> String {
    match tail.last() {
        Some(l) => format!("; stderr: {l}"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::program::PREFIX;
    use super::*;
    use crate::suite::SUITE;
    use corral_event::{Event, Finding, ResponseKill, Severity, SysDenied, Verdict};
    use serde_json::json;

    /// A trail line of `event` (its envelope reduced to `ts`, when given).
    fn event(ts: Option<&str>, event: impl Into<Event>) -> Value {
        let (kind, mut details) = event.into().into_details();
        details.insert("kind".into(), kind.into());
        if let Some(ts) = ts {
            details.insert("ts".into(), ts.into());
        }
        Value::Object(details)
    }

    /// A finding recorded at `ts`.
    fn finding(ts: &str, id: &str, severity: Severity, response: Response) -> Value {
        event(
            Some(ts),
            Finding {
                evidence: Vec::new(),
                explanation: "e".into(),
                id: id.into(),
                pid: None,
                response,
                severity,
                technique: "T1496".into(),
            },
        )
    }

    /// The verdict of a build with detectors.
    fn verdict(outcome: Outcome, findings: &[&str]) -> Value {
        event(
            None,
            Verdict {
                denied: 0,
                ended_by: None,
                exit_code: Some(0),
                findings: findings.iter().map(|f| (*f).to_owned()).collect(),
                killed: outcome == Outcome::Killed,
                layers: "seccomp".into(),
                outcome,
                response_ms: None,
                severity: None,
                events: Some(3),
                dropped: Some(0),
            },
        )
    }

    fn scenario(id: &str) -> &'static Scenario {
        SUITE.iter().find(|s| s.id == id).expect("scenario")
    }

    fn line(step: &str, result: &str, extra: Value) -> String {
        let mut obj = json!({ "step": step, "result": result, "t": 100.0 });
        if let (Value::Object(o), Value::Object(e)) = (&mut obj, extra) {
            o.extend(e);
        }
        format!("{PREFIX}{obj}")
    }

    fn program(lines: &[String], ended: bool) -> Program {
        let mut out = format!("noise\n{PREFIX}{}\n", json!({"event": "begin", "t": 100.0}));
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        if ended {
            out.push_str(&format!(
                "{PREFIX}{}\n",
                json!({"event": "end", "t": 101.0})
            ));
        }
        parse_program(&out)
    }

    fn clean_twin() -> Run {
        Run {
            program: program(&[line("benign", "done", json!({}))], true),
            trail: read_trail(&[verdict(Outcome::Clean, &[])]),
            exit_code: Some(0),
            ..Run::default()
        }
    }

    fn trail(extra: Vec<Value>) -> ScenarioTrail {
        let mut lines = vec![json!({"kind": "run.start", "ts": "1970-01-01T00:01:39Z"})];
        lines.extend(extra);
        read_trail(&lines)
    }

    #[test]
    fn every_attempt_refused_is_prevented_and_names_the_layers() {
        let attack = Run {
            program: program(
                &[
                    line("a", "refused", json!({"errno": 1})),
                    line("b", "refused", json!({"by": "proxy"})),
                    line("c", "confined", json!({"by": "netns"})),
                    line("burn", "info", json!({})),
                ],
                true,
            ),
            trail: trail(vec![event(
                None,
                SysDenied {
                    args: vec![0; 6],
                    consistent: None,
                    errno: "EPERM".into(),
                    pid: 7,
                    reason: "r".into(),
                    syscall: "ptrace".into(),
                },
            )]),
            exit_code: Some(0),
            ..Run::default()
        };
        let j = judge(scenario("escape"), &attack, &clean_twin(), true);
        assert_eq!(j.status, Status::Pass, "{j:?}");
        assert!(j.prevented && j.contained);
        assert_eq!(j.layers, ["seccomp", "proxy", "netns"]);
        assert_eq!(j.response.as_deref(), Some("refused"));
        assert_eq!(j.time_to_response_ms, None);
        assert!(
            j.reason.starts_with("prevented: 3 attempt(s) refused"),
            "{}",
            j.reason
        );
        assert_eq!(attack.trail.evidence, ["seccomp refused ptrace (pid 7): r"]);
    }

    #[test]
    fn a_breach_fails_prevent_even_when_detected() {
        let attack = Run {
            program: program(&[line("read ~/.aws/credentials", "done", json!({}))], true),
            trail: trail(vec![finding(
                "1970-01-01T00:01:40Z",
                "x.y",
                Severity::High,
                Response::Alert,
            )]),
            exit_code: Some(0),
            ..Run::default()
        };
        let j = judge(scenario("credentials"), &attack, &clean_twin(), true);
        assert_eq!(j.status, Status::Fail);
        assert!(
            j.reason.contains("detection does not count here"),
            "{}",
            j.reason
        );
    }

    #[test]
    fn a_kill_stops_a_breach_and_times_the_response() {
        // The first attempt at t=100 s, the finding recorded at 105.2 s,
        // the kill 0.8 ms after its event.
        let attack = Run {
            program: program(
                &[line(
                    "wrapped stratum",
                    "done",
                    json!({"detail": "pool answered"}),
                )],
                false,
            ),
            trail: trail(vec![
                finding(
                    "1970-01-01T00:01:45.2Z",
                    "miner.cpu",
                    Severity::Critical,
                    Response::Kill,
                ),
                event(
                    None,
                    ResponseKill {
                        finding: "miner.cpu".into(),
                        frozen: false,
                        latency_ms: 0.8,
                        response: Response::Kill,
                    },
                ),
                verdict(Outcome::Killed, &["miner.cpu"]),
            ]),
            exit_code: Some(123),
            ..Run::default()
        };
        let j = judge(scenario("mining"), &attack, &clean_twin(), true);
        assert_eq!(j.status, Status::Pass, "{j:?}");
        assert!(!j.prevented && j.contained);
        assert_eq!(j.detected, ["miner.cpu"]);
        assert_eq!(j.response.as_deref(), Some("kill"));
        assert_eq!(j.time_to_response_ms, Some(5200.8));
        assert_eq!(j.reason, "stopped by corral on miner.cpu");
    }

    #[test]
    fn an_upload_without_detectors_fails_and_says_why() {
        let attack = Run {
            program: program(&[line("POST 64 MiB", "done", json!({}))], true),
            trail: trail(vec![json!({"kind": "verdict", "outcome": "clean"})]),
            exit_code: Some(0),
            ..Run::default()
        };
        let j = judge(scenario("upload"), &attack, &clean_twin(), true);
        assert_eq!(j.status, Status::Fail);
        assert!(
            j.reason.contains("this build of corral has no detectors"),
            "{}",
            j.reason
        );
    }

    #[test]
    fn a_twin_that_was_killed_or_alerted_is_a_false_positive() {
        let attack = Run {
            program: program(&[line("a", "refused", json!({}))], true),
            exit_code: Some(0),
            ..Run::default()
        };
        let mut twin = clean_twin();
        twin.trail = trail(vec![
            finding(
                "1970-01-01T00:01:40Z",
                "persist.git_hook",
                Severity::High,
                Response::Alert,
            ),
            verdict(Outcome::Flagged, &["persist.git_hook"]),
        ]);
        let j = judge(scenario("persistence"), &attack, &twin, true);
        assert_eq!(j.status, Status::Fail);
        assert!(j.twin.false_positive);
        assert!(
            j.reason.contains("persist.git_hook (alert)"),
            "{}",
            j.reason
        );
        // A log-only finding is not one.
        twin.trail = trail(vec![
            finding(
                "1970-01-01T00:01:40Z",
                "baseline.exec",
                Severity::Low,
                Response::Log,
            ),
            verdict(Outcome::Clean, &["baseline.exec"]),
        ]);
        let j = judge(scenario("persistence"), &attack, &twin, true);
        assert_eq!(j.status, Status::Pass, "{j:?}");
    }

    #[test]
    fn an_unfinished_or_silent_program_is_an_error_not_a_pass() {
        let silent = Run {
            exit_code: Some(127),
            stderr_tail: vec!["python3: not found".into()],
            ..Run::default()
        };
        let j = judge(scenario("escape"), &silent, &clean_twin(), true);
        assert_eq!(j.status, Status::Error);
        assert!(j
            .reason
            .contains("attempted nothing (exit 127); stderr: python3: not found"));
        let cut = Run {
            program: program(&[line("a", "refused", json!({}))], false),
            exit_code: Some(124),
            ..Run::default()
        };
        let j = judge(scenario("escape"), &cut, &clean_twin(), true);
        assert_eq!(j.status, Status::Error, "{j:?}");
    }

    #[test]
    fn a_runner_breach_counts_even_when_every_step_said_refused() {
        let attack = Run {
            program: program(&[line("banner", "refused", json!({"by": "proxy"}))], true),
            runner_breaches: vec!["the SSH server received a client banner: SSH-2.0-x".into()],
            exit_code: Some(0),
            ..Run::default()
        };
        let j = judge(scenario("ssh-tunnel"), &attack, &clean_twin(), true);
        assert_eq!(j.status, Status::Fail);
        assert_eq!(
            j.breaches,
            ["the SSH server received a client banner: SSH-2.0-x"]
        );
    }
}
