//! Test-only helpers shared by the unit tests of this crate.

/// Reports a test that cannot run here (a kernel feature or a privilege is
/// missing): printed, and appended to `$CORRAL_SKIP_LOG` when set, so that
/// `scripts/test.sh` can list every skip at the end of a run even though
/// cargo hides the output of passing tests.
pub(crate) fn skip(test: &str, reason: impl std::fmt::Display) {
    let line = format!("SKIP: {test}: {reason}");
    println!("{line}");
    if let Some(path) = std::env::var_os("CORRAL_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{line}");
        }
    }
}
