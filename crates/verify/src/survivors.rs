//! The survivors walk: processes of a run still alive on the host after
//! the run ended (the daemon scenario's check).

use corral_sandbox::process::{kill_pids, wait_gone, ArgvMatch};
use std::time::Duration;

/// Host processes whose argv[0] is `name`, still there once the kernel has
/// had a moment to reap the sandbox (its init kills what is left as the
/// command ends), killed (by pid) once found.
pub(crate) fn survivors(name: &str) -> Vec<u32> {
    let pids = wait_gone(ArgvMatch::First(name), Duration::from_millis(1500));
    kill_pids(&pids);
    pids
}
