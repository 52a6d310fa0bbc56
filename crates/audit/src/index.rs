//! The runs index: one JSON line per finished run, in corral's state directory.
//!
//! ```text
//! <state>/index.jsonl          one IndexEntry per finished run, appended
//! <state>/runs/<run>.jsonl     each run's trail
//! ```
//!
//! The index records each trail's final hash, which is what catches an edit
//! of a trail's last line or a cut at its end ([`crate::verify_against`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::verify::Lines;
use crate::AuditError;

/// One finished run, as recorded in the index.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    /// The run id.
    pub run: String,
    /// The run's trail.
    pub path: PathBuf,
    /// When the run started and ended, RFC 3339 UTC.
    pub started: String,
    pub ended: String,
    /// The run's labels.
    pub labels: BTreeMap<String, String>,
    /// The command run.
    pub command: Vec<String>,
    /// How it ended, in a word or a few (`exit 0`, `signal 9`, `timeout`, ...).
    pub outcome: String,
    /// Lines in the trail, the verdict included.
    pub lines: u64,
    /// The hash of the trail's last line (its verdict).
    pub last_hash: String,
}

/// The state directory's runs index.
#[derive(Clone, Debug)]
pub struct Index {
    dir: PathBuf,
}

impl Index {
    /// `$XDG_STATE_HOME/corral`, else `$HOME/.local/state/corral`; `None`
    /// when neither is set (to an absolute path).
    pub fn default_dir() -> Option<PathBuf> {
        default_dir_from(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
    }

    /// The index of the state directory `dir` (nothing is created until
    /// something is written).
    pub fn open(dir: PathBuf) -> Index {
        Index { dir }
    }

    /// The state directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Where the trail of `run` goes: `<dir>/runs/<run>.jsonl`. `run` must be
    /// a run id ([`crate::valid_run_id`]), as [`crate::Writer::create`] checks.
    pub fn run_path(&self, run: &str) -> PathBuf {
        self.dir.join("runs").join(format!("{run}.jsonl"))
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.jsonl")
    }

    /// Appends `entry` as one line of `<dir>/index.jsonl` (created 0600, the
    /// directory 0700), with one `write(2)` in append mode.
    pub fn append(&self, entry: &IndexEntry) -> Result<(), AuditError> {
        let path = self.index_path();
        let fail = |source: io::Error| AuditError::IndexWrite {
            path: path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(entry).map_err(|e| fail(e.into()))?;
        line.push(b'\n');
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|source| AuditError::CreateDir {
                path: self.dir.clone(),
                source,
            })?;
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(&line))
            .map_err(fail)
    }

    /// Every entry, oldest first; none when there is no index yet. A torn
    /// last line (a crash while appending) is skipped.
    pub fn entries(&self) -> Result<Vec<IndexEntry>, AuditError> {
        let path = self.index_path();
        if !path.exists() {
            return Ok(Vec::new());
        }
        let mut lines = Lines::open(&path)?;
        let mut out = Vec::new();
        while let Some(line) = lines.next_line()? {
            let number = line.number;
            let Some(text) = line.complete() else { break };
            match serde_json::from_slice(text) {
                Ok(entry) => out.push(entry),
                Err(_) if lines.at_eof()? => break,
                Err(source) => {
                    return Err(AuditError::Parse {
                        path: path.clone(),
                        line: number,
                        source,
                    })
                }
            }
        }
        Ok(out)
    }

    /// The run `run_or_prefix` names: the run with exactly that id, else the
    /// one run whose id starts with it (an error when several do). When a
    /// run appears more than once, the latest entry.
    pub fn find(&self, run_or_prefix: &str) -> Result<Option<IndexEntry>, AuditError> {
        let entries = self.entries()?;
        if let Some(exact) = entries.iter().rev().find(|e| e.run == run_or_prefix) {
            return Ok(Some(exact.clone()));
        }
        let mut runs: Vec<&IndexEntry> = Vec::new();
        for e in entries.iter().rev() {
            if e.run.starts_with(run_or_prefix) && !runs.iter().any(|r| r.run == e.run) {
                runs.push(e);
            }
        }
        match runs.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some((*one).clone())),
            many => {
                let mut runs: Vec<String> = many.iter().map(|e| e.run.clone()).collect();
                runs.sort();
                Err(AuditError::Ambiguous {
                    prefix: run_or_prefix.to_owned(),
                    runs,
                })
            }
        }
    }
}

/// [`Index::default_dir`] given `$XDG_STATE_HOME` and `$HOME`.
fn default_dir_from(xdg_state_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute = |var: Option<OsString>| var.map(PathBuf::from).filter(|p| p.is_absolute());
    absolute(xdg_state_home)
        .map(|state| state.join("corral"))
        .or_else(|| absolute(home).map(|home| home.join(".local/state/corral")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dir_prefers_xdg_state_home_then_home() {
        let some = |s: &str| Some(OsString::from(s));
        assert_eq!(
            default_dir_from(some("/x/state"), some("/home/a")),
            Some(PathBuf::from("/x/state/corral"))
        );
        assert_eq!(
            default_dir_from(None, some("/home/a")),
            Some(PathBuf::from("/home/a/.local/state/corral"))
        );
        // A relative or empty XDG_STATE_HOME is ignored, as the XDG spec says.
        assert_eq!(
            default_dir_from(some(""), some("/home/a")),
            Some(PathBuf::from("/home/a/.local/state/corral"))
        );
        assert_eq!(default_dir_from(some("rel"), None), None);
    }
}
