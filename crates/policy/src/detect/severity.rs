//! How bad a finding is ([`Severity`]) and what is done about it
//! ([`Response`]).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The name as written in a policy: `low`, `medium`, `high`, `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Severity {
    type Err = String;

    /// Exactly the lowercase names.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .ok_or_else(|| format!("unknown severity {text:?}"))
    }
}

/// What is done about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Response {
    /// Recorded in the audit trail only.
    Log,
    /// Recorded, printed on stderr, and sent to the webhook if one is set.
    Alert,
    /// As `alert`, and the behaviour is refused where corral can refuse it
    /// (the egress proxy); elsewhere the same as `kill`.
    Deny,
    /// As `alert`, then the whole sandbox is frozen (cgroup freezer) for a
    /// forensic snapshot, then killed.
    Freeze,
    /// As `alert`, and the whole sandbox is killed at once.
    Kill,
}

impl Response {
    /// Every response, mildest first.
    pub const ALL: [Response; 5] = [
        Response::Log,
        Response::Alert,
        Response::Deny,
        Response::Freeze,
        Response::Kill,
    ];

    /// The name as written in a policy: `log`, `alert`, `deny`, `freeze`,
    /// `kill`.
    pub fn name(self) -> &'static str {
        match self {
            Response::Log => "log",
            Response::Alert => "alert",
            Response::Deny => "deny",
            Response::Freeze => "freeze",
            Response::Kill => "kill",
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Response {
    type Err = String;

    /// Exactly the lowercase names.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Response::ALL
            .into_iter()
            .find(|r| r.name() == text)
            .ok_or_else(|| format!("unknown response {text:?}"))
    }
}

/// The exit status of a run corral ended for a finding (a response of
/// `kill`, `freeze` or `deny`).
pub const EXIT_FINDING: i32 = 123;
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_and_responses_have_names() {
        for s in Severity::ALL {
            assert_eq!(s.name().parse::<Severity>(), Ok(s));
            assert_eq!(s.to_string(), s.name());
        }
        for r in Response::ALL {
            assert_eq!(r.name().parse::<Response>(), Ok(r));
        }
        assert!("Kill".parse::<Response>().is_err());
        assert!(Severity::Critical > Severity::High && Response::Kill > Response::Freeze);
    }
}
