//! Protected paths (git hooks, shell rc files...) created or replaced
//! during a run.

use crate::resolve::Resolved;
use corral_sandbox::fsplan;

/// Protected paths that did not exist when the sandbox started could not
/// be mounted read-only; the command may have created them. The sandbox is
/// gone now, so this check cannot be raced. Says each, and returns what
/// changed (path, change) for the audit trail.
pub(crate) fn report_new(resolved: &Resolved) -> Vec<(String, String)> {
    let mut changed = Vec::new();
    for (path, what) in resolved.fs.rescan.replaced() {
        changed.push((path.to_string_lossy().into_owned(), what.to_string()));
        say!(
            "corral: warning: protected path {} {what} during the run; review it before a tool on this machine uses it",
            fsplan::printable(&path)
        );
    }
    let now = resolved.fs.rescan.now();
    for path in now.iter().filter(|p| !resolved.fs.protected.contains(p)) {
        changed.push((path.to_string_lossy().into_owned(), "created".to_string()));
        let link = match std::fs::read_link(path) {
            Ok(target) => format!(" (a symbolic link to {})", fsplan::printable(&target)),
            Err(_) => String::new(),
        };
        say!(
            "corral: warning: protected path {}{link} was created during the run; review it before a tool on this machine uses it (git runs hooks and reads its config, shells source rc files)",
            fsplan::printable(path)
        );
    }
    changed
}
