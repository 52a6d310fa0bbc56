//! The engine: every detector over every event, findings deduplicated, and
//! the response the policy asks for attached to each.
//!
//! What the policy says, per finding (see [`corral_policy::Detect`]):
//! `[detect] enabled = false` turns everything off (the baseline's
//! findings too); otherwise the most specific `[detect.detectors]` key
//! that sets `enabled` decides whether the finding is raised at all, the
//! most specific that sets `severity` overrides the detector's, and the
//! response is the id's own `response`, else the `custom.*` rule's, else
//! the nearest family's, else `[detect.response]` for the severity.
//!
//! Each (id, subject) is raised once, and each id at most
//! [`crate::detectors::MAX_PER_ID`] times. The engine does no I/O, starts
//! no thread and reads no clock: time is the `at` given with each event.

use crate::detectors::{Custom, Detectors, Ev, Families, Hit, MAX_PER_ID};
use crate::{Baseline, Event, Finding, Response, Severity};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

/// What the engine knows about the run beyond the events.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The workspace (absolute host path).
    pub workspace: Option<PathBuf>,
    /// Paths the detectors treat as corral's own (the audit trail's file
    /// and directory): any write to them is `evasion.audit`.
    pub audit_paths: Vec<PathBuf>,
    /// The sandbox's CPU budget in percent of one core (`cpus = 1.5` is
    /// 150; without a limit, 100 times the machine's cores). 0 means
    /// unknown: a process's possible share is then its threads times 100.
    pub cpu_budget_percent: f64,
}

/// The detectors of one run.
pub struct Engine {
    enabled: bool,
    config: corral_policy::Detect,
    /// `custom.*` rules' own responses.
    rule_responses: HashMap<String, Response>,
    context: Context,
    baseline: Option<Baseline>,
    detectors: Detectors,
    findings: Vec<Finding>,
    raised: HashSet<(String, String)>,
    per_id: HashMap<String, usize>,
}

impl Engine {
    /// An engine for the policy's `[detect]` section. Patterns are compiled
    /// here, once.
    pub fn new(
        config: &corral_policy::Detect,
        context: Context,
        baseline: Option<Baseline>,
    ) -> Engine {
        let (custom, rule_responses) = Custom::new(&config.rules);
        let rule_responses: HashMap<String, Response> = rule_responses.into_iter().collect();
        let family_on = |family: &str| {
            corral_policy::DETECTOR_IDS
                .iter()
                .filter(|id| id.split('.').next() == Some(family))
                .any(|id| resolve(config, &rule_responses, id).enabled)
        };
        let on = Families {
            miner: family_on("miner"),
            tunnel: family_on("tunnel"),
            shell: family_on("shell"),
            net: family_on("net"),
            persist: family_on("persist"),
            evasion: family_on("evasion"),
            escape: family_on("escape"),
            exfil: family_on("exfil"),
            resource: family_on("resource"),
        };
        Engine {
            enabled: config.is_enabled(),
            detectors: Detectors::new(config, on, custom),
            config: config.clone(),
            rule_responses,
            context,
            baseline,
            findings: Vec::new(),
            raised: HashSet::new(),
            per_id: HashMap::new(),
        }
    }

    /// The findings `event`, at `at` from the run's start, completes (each
    /// raised once per id and subject), with their response set.
    pub fn observe(&mut self, at: Duration, event: &Event) -> Vec<Finding> {
        if !self.enabled {
            return Vec::new();
        }
        let Some(ev) = Ev::new(at, event) else {
            return Vec::new();
        };
        let mut hits = Vec::new();
        self.detectors
            .observe(&ev, &self.context, self.baseline.as_ref(), &mut hits);
        let mut out = Vec::new();
        for h in hits {
            if let Some(finding) = self.raise(h) {
                out.push(finding);
            }
        }
        let from_baseline = match &self.baseline {
            Some(baseline) => baseline.check(&self.context, at, event),
            None => Vec::new(),
        };
        for f in from_baseline {
            let subject = f
                .evidence
                .first()
                .map_or_else(|| f.explanation.clone(), |e| e.summary.clone());
            let h = Hit {
                id: f.id,
                severity: f.severity,
                technique: f.technique,
                explanation: f.explanation,
                pid: f.pid,
                subject,
                evidence: f.evidence,
            };
            if let Some(finding) = self.raise(h) {
                out.push(finding);
            }
        }
        out
    }

    /// Every finding raised so far, in order.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The finding for `h`, if the policy wants it and it is new.
    fn raise(&mut self, h: Hit) -> Option<Finding> {
        let settings = resolve(&self.config, &self.rule_responses, &h.id);
        if !settings.enabled {
            return None;
        }
        let count = self.per_id.get(&h.id).copied().unwrap_or(0);
        if count >= MAX_PER_ID {
            return None;
        }
        if !self.raised.insert((h.id.clone(), h.subject)) {
            return None;
        }
        self.per_id.insert(h.id.clone(), count + 1);
        let severity = settings.severity.unwrap_or(h.severity);
        let response = settings
            .response
            .unwrap_or_else(|| self.config.response_for(severity));
        let finding = Finding {
            id: h.id,
            severity,
            technique: h.technique,
            explanation: crate::detectors::escape(&h.explanation),
            response,
            pid: h.pid,
            evidence: h.evidence,
        };
        self.findings.push(finding.clone());
        Some(finding)
    }
}

/// The policy's word on one id.
struct Resolved {
    enabled: bool,
    severity: Option<Severity>,
    response: Option<Response>,
}

/// What `config` says about `id`: the most specific `[detect.detectors]`
/// key setting each field wins; a `custom.*` rule's own response comes
/// after the id's key and before its families'.
fn resolve(
    config: &corral_policy::Detect,
    rule_responses: &HashMap<String, Response>,
    id: &str,
) -> Resolved {
    let mut resolved = Resolved {
        enabled: true,
        severity: None,
        response: None,
    };
    let mut enabled = None;
    let mut key = Some(id);
    while let Some(k) = key {
        let found = config
            .detectors
            .get(k)
            .or_else(|| config.detectors.get(&format!("{k}.*")));
        if let Some(s) = found {
            enabled = enabled.or(s.enabled);
            resolved.severity = resolved.severity.or(s.severity);
            resolved.response = resolved.response.or(s.response);
        }
        if k == id {
            resolved.response = resolved
                .response
                .or_else(|| rule_responses.get(id).copied());
        }
        key = k.rsplit_once('.').map(|(family, _)| family);
    }
    resolved.enabled = enabled.unwrap_or(true);
    resolved
}
