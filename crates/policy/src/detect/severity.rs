//! How bad a finding is ([`Severity`]) and what is done about it
//! ([`Response`]).
//!
//! Both are the trail's own types ([`corral_event::Severity`],
//! [`corral_event::Response`]): a policy's `[detect]` section, a finding and
//! the verdict speak of the same values.

pub use corral_event::{Response, Severity};

/// The exit status of a run corral ended for a finding (a response of
/// `kill`, `freeze` or `deny`).
pub const EXIT_FINDING: i32 = 123;

/// The exit status of corral's own failure (bad policy, missing layer,
/// set-up error): a run corral could not start or complete.
pub const EXIT_CORRAL_ERROR: i32 = 125;
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
