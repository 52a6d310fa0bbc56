//! The seccomp monitor's observations, as typed trail events
//! ([`corral_sandbox::seccomp::events`]), handed to the session's guard.

use corral_event::Event;
use corral_sandbox::seccomp::events::MonitorEvents;
use corral_sandbox::seccomp::monitor::{Go, Observed};
use corral_sandbox::writable::WritableMap;

/// Turns each observation into its event and hands it to `record` (which
/// waits for room in the trail's queue, and the observed call waits with
/// it: back-pressure reaches the sandbox instead of events being lost).
/// Writes to noise (`/dev/null`, terminals, pipes) are not recorded.
///
/// `record` says whether the call may go on (false: the run is being
/// ended, and the call is failed instead).
pub fn monitor_sink(
    record: impl Fn(Event) -> bool,
    writable: WritableMap,
) -> impl FnMut(Observed) -> Go {
    let mut events = MonitorEvents::new(move |p: &str| writable.writable(p));
    move |seen| {
        let Some(event) = events.event(seen) else {
            return Go::Continue;
        };
        if record(event) {
            Go::Continue
        } else {
            Go::Stop
        }
    }
}
