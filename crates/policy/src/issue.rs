//! A value a policy may not have, and the path of its key: what the
//! semantic checks ([`crate::validate`], the `[network]` and `[detect]`
//! checks) report and the loader turns into a `PolicyError` with
//! file:line:col.

use crate::schema;
use std::fmt::Write as _;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(&'static str),
    /// A key the user chose, shown bare: `process.env_set.LANG`.
    Name(String),
    /// A key the user chose, shown quoted: `network.rules."github.com:22"`.
    Quoted(String),
    Index(usize),
}

/// A value that is not allowed, with the path of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    pub path: Vec<Seg>,
    pub problem: String,
    /// What is expected; `None` means the schema's text for the key.
    pub expected: Option<String>,
    /// Point at the key itself (e.g. a bad `env_set` name), not its value.
    pub at_key: bool,
}

impl Issue {
    pub fn new(path: Vec<Seg>, problem: String) -> Self {
        Issue {
            path,
            problem,
            expected: None,
            at_key: false,
        }
    }

    /// `filesystem.read[2]`, `process.env_set.LANG`,
    /// `network.rules."github.com:22".protocols`.
    pub fn dotted(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) if out.is_empty() => out.push_str(k),
                Seg::Key(k) => {
                    let _ = write!(out, ".{k}");
                }
                Seg::Name(n) => {
                    let _ = write!(out, ".{n}");
                }
                Seg::Quoted(n) => {
                    let _ = write!(out, ".{n:?}");
                }
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }

    pub fn expected_text(&self) -> String {
        self.expected
            .clone()
            .unwrap_or_else(|| schema::expected(&self.dotted()))
    }
}
