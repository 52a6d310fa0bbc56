//! The scorecard: a table for people (colour on a terminal), JSON for CI,
//! and a Markdown report a security team can file.

use crate::judge::{Observed, Run, Status};
use crate::suite::Scenario;
use crate::Outcome;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub struct Card {
    /// The policy, as the user named it.
    pub label: String,
    /// The effective policy (before the runner's per-scenario additions).
    pub policy_toml: String,
    pub started: SystemTime,
    pub wall: Duration,
    pub outcomes: Vec<Outcome>,
    pub version: &'static str,
    /// The policy's `[detect] enabled`.
    pub detect_enabled: bool,
    pub kept: Option<PathBuf>,
}

/// Colour when stdout is a terminal and NO_COLOR is unset.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// `--list`.
pub fn list(scenarios: &[&Scenario]) {
    let mut out = String::new();
    for s in scenarios {
        let _ = writeln!(out, "{:<14} {}", s.id, s.title);
        let _ = writeln!(out, "{:<14} attempts:  {}", "", s.attempts);
        let _ = writeln!(out, "{:<14} twin:      {}", "", s.twin);
        let _ = writeln!(out, "{:<14} contained: {}", "", s.contained);
        if s.needs_detection {
            let _ = writeln!(out, "{:<14} (only detection can contain it)", "");
        }
    }
    print!("{out}");
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn seconds(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

impl Card {
    fn count(&self, status: Status) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.judged.status == status)
            .count()
    }

    fn false_positives(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.judged.twin.false_positive)
            .count()
    }

    fn contained(&self) -> usize {
        self.outcomes.iter().filter(|o| o.judged.contained).count()
    }

    /// Every scenario contained and no twin a false positive.
    pub fn all_pass(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| o.judged.status == Status::Pass)
    }

    fn detection_active(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| o.attack.trail.detection_active || o.twin.trail.detection_active)
    }

    fn date(&self) -> String {
        humantime::format_rfc3339_seconds(self.started).to_string()
    }

    fn summary(&self) -> String {
        format!(
            "{} of {} contained, {} false positive(s) from the benign twins; {} PASS, {} FAIL, {} ERROR",
            self.contained(),
            self.outcomes.len(),
            self.false_positives(),
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Error),
        )
    }

    fn prevented_cell(o: &Outcome) -> String {
        let j = &o.judged;
        if o.attack.not_run.is_some() {
            "not run".to_owned()
        } else if j.prevented {
            format!("yes ({})", j.layers.join(", "))
        } else if j.breaches.is_empty() {
            "-".to_owned()
        } else {
            let total = o
                .attack
                .program
                .steps
                .iter()
                .filter(|s| {
                    matches!(
                        s.result,
                        Observed::Refused | Observed::Done | Observed::Confined
                    )
                })
                .count()
                .max(j.breaches.len());
            format!("no ({} of {} got through)", j.breaches.len(), total)
        }
    }

    fn twin_cell(o: &Outcome) -> &'static str {
        let t = &o.judged.twin;
        if t.false_positive {
            "FALSE POSITIVE"
        } else if t.error {
            "error"
        } else if !t.refused.is_empty() {
            "clean (refused)"
        } else {
            "clean"
        }
    }

    pub fn print_table(&self, colour: bool) {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "corral verify {}: {} scenario(s) under {}",
            self.version,
            self.outcomes.len(),
            self.label
        );
        let rows: Vec<[String; 7]> = self
            .outcomes
            .iter()
            .map(|o| {
                let j = &o.judged;
                [
                    o.scenario.id.to_owned(),
                    Self::prevented_cell(o),
                    detected_cell(&j.detected, 2),
                    j.response.clone().unwrap_or_else(|| "-".to_owned()),
                    j.time_to_response_ms.map_or("-".to_owned(), seconds),
                    j.status.name().to_owned(),
                    Self::twin_cell(o).to_owned(),
                ]
            })
            .collect();
        let head = [
            "SCENARIO",
            "PREVENTED",
            "DETECTED",
            "RESPONSE",
            "TIME",
            "RESULT",
            "TWIN",
        ];
        let mut width = head.map(str::len);
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut line = String::new();
        for (h, w) in head.iter().zip(width) {
            let _ = write!(line, "{h:<w$}  ");
        }
        let _ = writeln!(out, "{}", paint(colour, "1", line.trim_end()));
        for r in &rows {
            let mut line = String::new();
            for (i, (c, w)) in r.iter().zip(width).enumerate() {
                let padded = format!("{c:<w$}");
                let cell = match (i, c.as_str()) {
                    (5, "PASS") => paint(colour, "32", &padded),
                    (5, _) => paint(colour, "1;31", &padded),
                    (6, "FALSE POSITIVE") => paint(colour, "1;31", &padded),
                    (6, "error") => paint(colour, "33", &padded),
                    _ => padded,
                };
                let _ = write!(line, "{cell}  ");
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let _ = writeln!(out);
        for o in &self.outcomes {
            let j = &o.judged;
            if j.status != Status::Pass {
                let _ = writeln!(
                    out,
                    "{} {}: {}",
                    paint(colour, "1;31", j.status.name()),
                    o.scenario.id,
                    j.reason
                );
            }
            for n in &j.notes {
                let _ = writeln!(
                    out,
                    "{} {}: {n}",
                    paint(colour, "33", "note"),
                    o.scenario.id
                );
            }
            for r in &j.twin.refused {
                let _ = writeln!(
                    out,
                    "{} {}: the policy refused the benign twin's {r}",
                    paint(colour, "33", "note"),
                    o.scenario.id
                );
            }
        }
        if !self.detect_enabled {
            let _ = writeln!(
                out,
                "{} the policy turns detection off ([detect] enabled = false): only prevention can contain anything",
                paint(colour, "33", "note")
            );
        } else if !self.detection_active() {
            let _ = writeln!(
                out,
                "{} this build of corral raised no findings and its verdicts list none: detection is not active, so only prevention was measured",
                paint(colour, "33", "note")
            );
        }
        let status = if self.all_pass() {
            paint(colour, "1;32", "PASS")
        } else {
            paint(colour, "1;31", "FAIL")
        };
        let _ = writeln!(
            out,
            "{status}: {} ({:.1}s)",
            self.summary(),
            self.wall.as_secs_f64()
        );
        print!("{out}");
    }

    fn run_json(run: &Run) -> Value {
        json!({
            "exit_code": run.exit_code,
            "outcome": run.trail.outcome,
            "findings": run.trail.findings.iter().map(|f| f.json()).collect::<Vec<_>>(),
            "kill": run.trail.kill.as_ref().map(|k| json!({
                "finding": k.finding, "response": k.response, "latency_ms": k.latency_ms,
            })),
            "steps": run.program.steps.iter().map(|s| s.json()).collect::<Vec<_>>(),
            "finished": run.program.ended,
            "evidence": run.trail.evidence,
            "refused_by": run.trail.refusals,
            "corral": run.corral_lines,
            "stderr": run.stderr_tail,
            "error": run.error,
            "not_run": run.not_run,
            "wall_ms": (run.wall_ms * 10.0).round() / 10.0,
        })
    }

    pub fn json(&self) -> Value {
        json!({
            "corral_version": self.version,
            "date": self.date(),
            "policy": self.label,
            "detection_active": self.detection_active(),
            "detection_enabled": self.detect_enabled,
            "passed": self.all_pass(),
            "summary": {
                "scenarios": self.outcomes.len(),
                "contained": self.contained(),
                "pass": self.count(Status::Pass),
                "fail": self.count(Status::Fail),
                "error": self.count(Status::Error),
                "false_positives": self.false_positives(),
            },
            "wall_s": (self.wall.as_secs_f64() * 10.0).round() / 10.0,
            "kept": self.kept,
            "scenarios": self.outcomes.iter().map(|o| {
                let mut v = o.judged.json();
                if let Value::Object(m) = &mut v {
                    m.insert("id".into(), o.scenario.id.into());
                    m.insert("title".into(), o.scenario.title.into());
                    m.insert("attempts".into(), o.scenario.attempts.into());
                    m.insert("contained_means".into(), o.scenario.contained.into());
                    m.insert("rule".into(), o.scenario.rule.name().into());
                    m.insert("expected_findings".into(), o.scenario.expect.into());
                    m.insert("needs_detection".into(), o.scenario.needs_detection.into());
                    m.insert("runner_flags".into(), o.flags.clone().into());
                    m.insert("attack".into(), Self::run_json(&o.attack));
                    m.insert("twin_run".into(), Self::run_json(&o.twin));
                    m.insert("wall_s".into(), ((o.wall.as_secs_f64() * 10.0).round() / 10.0).into());
                }
                v
            }).collect::<Vec<_>>(),
        })
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let verdict = if self.all_pass() { "PASS" } else { "FAIL" };
        let _ = writeln!(md, "# corral verify: containment report\n");
        let _ = writeln!(md, "| | |\n|---|---|");
        let _ = writeln!(md, "| result | **{verdict}**: {} |", self.summary());
        let _ = writeln!(md, "| policy | {} |", cell(&self.label));
        let _ = writeln!(md, "| date | {} |", self.date());
        let _ = writeln!(md, "| corral | {} |", self.version);
        let _ = writeln!(md, "| host | {} |", cell(&host()));
        let _ = writeln!(
            md,
            "| detection | {} |",
            if !self.detect_enabled {
                "off: the policy sets `[detect] enabled = false`, so only prevention was measured"
            } else if self.detection_active() {
                "active (the verdicts list findings)"
            } else {
                "not active in this build: only prevention was measured"
            }
        );
        let _ = writeln!(md, "| duration | {:.1} s |\n", self.wall.as_secs_f64());
        let _ = writeln!(
            md,
            "Each scenario ran in a fresh sandbox under this policy, then its benign twin \
             (what a normal agent does that looks alike) ran the same way: a twin that corral \
             killed or flagged is a false positive. Targets were corral verify's own servers on \
             127.0.0.1 (reached through corral's proxy as `NAME.verify.test`, allowed and pinned \
             for the scenario), TEST-NET-1 addresses tried only when the sandbox had no route out, \
             and names under `.invalid`: nothing was sent off the machine.\n"
        );
        let _ = writeln!(md, "## Scorecard\n");
        let _ = writeln!(
            md,
            "| scenario | prevented | detected | response | time to response | result | twin |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|---|");
        for o in &self.outcomes {
            let j = &o.judged;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | **{}** | {} |",
                o.scenario.id,
                cell(&Self::prevented_cell(o)),
                cell(&detected_cell(&j.detected, 4)),
                j.response.as_deref().unwrap_or("-"),
                j.time_to_response_ms.map_or("-".to_owned(), seconds),
                j.status.name(),
                Self::twin_cell(o),
            );
        }
        let _ = writeln!(md, "\n## Scenarios\n");
        for o in &self.outcomes {
            let s = o.scenario;
            let j = &o.judged;
            let _ = writeln!(md, "### {}: {} ({})\n", s.id, s.title, j.status.name());
            let _ = writeln!(md, "- **Attempted:** {}", s.attempts);
            let _ = writeln!(md, "- **Contained means:** {}", s.contained);
            let _ = writeln!(md, "- **Result:** {}", j.reason);
            if !j.detected.is_empty() {
                let _ = writeln!(
                    md,
                    "- **Detected:** {}",
                    detected_cell(&j.detected, usize::MAX)
                );
            }
            if let Some(r) = &j.response {
                let time = j
                    .time_to_response_ms
                    .map_or(String::new(), |t| format!(" after {}", seconds(t)));
                let _ = writeln!(md, "- **Response:** {r}{time}");
            }
            if !o.flags.is_empty() {
                let _ = writeln!(md, "- **Added by corral verify:** `{}`", o.flags.join(" "));
            }
            let _ = writeln!(
                md,
                "- **Twin:** {}: {}{}",
                s.twin,
                Self::twin_cell(o),
                j.twin
                    .why
                    .as_ref()
                    .map_or(String::new(), |w| format!(" ({w})"))
            );
            for r in &j.twin.refused {
                let _ = writeln!(md, "  - the policy refused the twin's {r}");
            }
            for n in &j.notes {
                let _ = writeln!(md, "- **Note:** {n}");
            }
            if !o.attack.program.steps.is_empty() {
                let _ = writeln!(
                    md,
                    "\n| attempt | result | layer | detail |\n|---|---|---|---|"
                );
                for st in &o.attack.program.steps {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} |",
                        cell(&st.step),
                        st.result.name(),
                        st.by.as_deref().unwrap_or(""),
                        cell(st.detail.as_deref().unwrap_or(""))
                    );
                }
            }
            let evidence = &o.attack.trail.evidence;
            if !evidence.is_empty() || !j.breaches.is_empty() {
                let _ = writeln!(md, "\nEvidence (the run's audit trail):\n\n```");
                for e in evidence {
                    let _ = writeln!(md, "{e}");
                }
                let more = o.attack.trail.evidence_total.saturating_sub(evidence.len());
                if more > 0 {
                    let _ = writeln!(md, "... and {more} more");
                }
                for b in &o.attack.runner_breaches {
                    let _ = writeln!(md, "runner: {b}");
                }
                let _ = writeln!(md, "```");
            }
            let _ = writeln!(md);
        }
        let _ = writeln!(
            md,
            "## Policy\n\nThe effective policy (before each scenario's additions above):\n\n```toml\n{}```",
            self.policy_toml
        );
        md
    }
}

/// The distinct finding ids, in order, at most `max` of them named.
fn detected_cell(ids: &[String], max: usize) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for id in ids {
        if !distinct.contains(&id.as_str()) {
            distinct.push(id);
        }
    }
    match distinct.len() {
        0 => "-".to_owned(),
        n if n <= max => distinct.join(", "),
        n => format!("{} +{} more", distinct[..max].join(", "), n - max),
    }
}

/// Text safe in a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn host() -> String {
    let uname = nix::sys::utsname::uname().ok();
    match uname {
        Some(u) => format!(
            "{} {} {}",
            u.sysname().to_string_lossy(),
            u.release().to_string_lossy(),
            u.machine().to_string_lossy()
        ),
        None => "unknown".to_owned(),
    }
}
