//! The Python the scenario programs run on.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The interpreter each scenario program runs on.
pub(crate) struct Python {
    pub(crate) exe: PathBuf,
    /// Directories to add with --read (an interpreter outside /usr).
    pub(crate) reads: Vec<PathBuf>,
}

/// A Python 3.9+ the sandbox can run: the system's, else the one on PATH
/// (its installation directories then get --read, for the profiles that
/// show only system directories).
pub(crate) fn find_python() -> Result<Python> {
    let probe = |exe: &Path| -> Option<(PathBuf, Vec<PathBuf>)> {
        let out = Command::new(exe)
            .args([
                "-c",
                "import sys; print(sys.version_info >= (3, 9)); print(sys.executable); print(sys.base_prefix); print(sys.prefix)",
            ])
            .env_clear()
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        if !out.status.success() || lines.next() != Some("True") {
            return None;
        }
        let real = PathBuf::from(lines.next()?);
        let mut reads: Vec<PathBuf> = Vec::new();
        for p in lines.map(PathBuf::from) {
            let system = ["/usr", "/bin", "/lib"].iter().any(|s| p.starts_with(s));
            if !system && !reads.contains(&p) {
                reads.push(p);
            }
        }
        Some((real, reads))
    };
    for system in ["/usr/bin/python3", "/bin/python3"] {
        if let Some((_, reads)) = probe(Path::new(system)).filter(|(_, r)| r.is_empty()) {
            return Ok(Python {
                exe: PathBuf::from(system),
                reads,
            });
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let cand = dir.join("python3");
        if cand.is_file() {
            if let Some((exe, reads)) = probe(&cand) {
                return Ok(Python { exe, reads });
            }
        }
    }
    bail!(
        "no Python 3.9 or later found (tried /usr/bin/python3 and python3 on PATH): corral verify's scenarios are Python programs; install python3"
    )
}
