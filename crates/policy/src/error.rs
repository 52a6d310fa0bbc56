//! The one error type of this crate. Every message says where (file, line
//! and column when known), which dotted key, what is wrong with the value
//! and what is expected instead.

use std::fmt;
use std::path::PathBuf;

/// Where a problem was found: a policy file (with line and column when the
/// key could be located) or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file name as given, or `command line` for flags.
    pub origin: String,
    /// 1-based line and column (in characters) of the offending key or value.
    pub line_col: Option<(usize, usize)>,
}

impl Location {
    /// The location of a value given on the command line.
    pub fn command_line() -> Self {
        Location {
            origin: "command line".to_owned(),
            line_col: None,
        }
    }

    /// A location in `text` (the whole document) at byte offset `offset`.
    pub(crate) fn in_text(origin: &str, text: &str, offset: usize) -> Self {
        let before = text.get(..offset.min(text.len())).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        Location {
            origin: origin.to_owned(),
            line_col: Some((line, col)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line_col {
            Some((line, col)) => write!(f, "{}:{line}:{col}", self.origin),
            None => f.write_str(&self.origin),
        }
    }
}

/// Everything that can go wrong while loading, checking and merging a policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("cannot read policy file {}: {error}; check that the path exists and is readable", path.display())]
    Read {
        path: PathBuf,
        /// Shown in the message (not chained, so it is printed once).
        error: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{at}: invalid TOML: {message}; fix the syntax at that position")]
    Syntax { at: Location, message: String },
    /// A key is unknown, has the wrong type, or its value is not allowed.
    /// `expected` starts with "expected" or "allowed".
    #[error("{at}: {key}: {problem}; {expected}")]
    Invalid {
        at: Location,
        /// Dotted key, e.g. `limits.memory` or `filesystem.read[2]`; for a
        /// command-line value, the flag, e.g. `--memory`.
        key: String,
        problem: String,
        expected: String,
    },
}

impl PolicyError {
    /// The dotted key (or flag) involved, when the error is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            PolicyError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Where the error was found, when it is in a file or on the command line.
    pub fn location(&self) -> Option<&Location> {
        match self {
            PolicyError::Syntax { at, .. } | PolicyError::Invalid { at, .. } => Some(at),
            PolicyError::Read { .. } => None,
        }
    }
}
