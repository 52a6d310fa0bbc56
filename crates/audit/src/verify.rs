//! Reading a trail back, and checking its chain.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;

use crate::format::{genesis, hash, hex, valid_run_id};
use crate::{AuditError, SCHEMA_VERSION};

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The run id of the first line, if it has one.
    pub run: Option<String>,
    /// The lines that passed every check (all of them when `problem` is `None`).
    pub lines: u64,
    /// The hash of the last of those lines.
    pub last_hash: Option<String>,
    /// The verdict line, whole, if the trail has one.
    pub verdict: Option<Value>,
    /// What is wrong, if anything: `None` means intact and finished.
    pub problem: Option<Problem>,
}

/// What is wrong with a trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The chain is broken: `line` (1-based) is the first line that fails a
    /// check, and `what` says which, e.g. `line 7: prev does not match the
    /// hash of line 6 (edited, deleted or reordered lines)`. For a `prev`
    /// mismatch the change is in that line or the one before it.
    Broken { line: u64, what: String },
    /// Every line before `line` is intact, and `line`, the last, is cut
    /// (no newline) or not JSON: the writer was killed mid-write.
    Torn { line: u64 },
    /// The chain is intact but has no verdict: the run did not finish (corral
    /// was killed), or its end was cut off at a line boundary.
    NoVerdict,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Broken { what, .. } => f.write_str(what),
            Problem::Torn { line } => write!(
                f,
                "line {line} (the last) is torn: the writer was killed while writing it; every line before it is intact"
            ),
            Problem::NoVerdict => f.write_str(
                "no verdict: the chain is intact but the run did not finish (corral was killed), or the end of the trail was cut off",
            ),
        }
    }
}

/// Checks the trail at `path`: every line is a JSON object of schema
/// version 1, of one run, `seq` consecutive from 0, `prev` the hash of the
/// line before, nothing after the verdict. Problems in the content are in
/// [`Verified::problem`]; the error is for a file that cannot be read.
pub fn verify(path: &Path) -> Result<Verified, AuditError> {
    Checker::run(path, None)
}

/// [`verify`], and also check that the last line's hash is
/// `expected_last_hash` (the one recorded in the [`crate::Index`]): that
/// catches an edited last line, and lines cut off or appended at the end.
pub fn verify_against(path: &Path, expected_last_hash: &str) -> Result<Verified, AuditError> {
    Checker::run(path, Some(expected_last_hash))
}

/// The parsed lines of the trail at `path`, stopping before a torn last line.
pub fn read(path: &Path) -> Result<Vec<Value>, AuditError> {
    let mut lines = Lines::open(path)?;
    let mut out = Vec::new();
    while let Some(line) = lines.next_line()? {
        let number = line.number;
        let Some(text) = line.complete() else { break };
        match serde_json::from_slice(text) {
            Ok(value) => out.push(value),
            Err(_) if lines.at_eof()? => break,
            Err(source) => {
                return Err(AuditError::Parse {
                    path: path.to_owned(),
                    line: number,
                    source,
                })
            }
        }
    }
    Ok(out)
}

/// A file read line by line, keeping the line's exact bytes.
pub(crate) struct Lines<'p> {
    path: &'p Path,
    reader: BufReader<File>,
    buf: Vec<u8>,
    number: u64,
}

/// One line of [`Lines`].
pub(crate) struct Line<'a> {
    pub(crate) number: u64,
    bytes: &'a [u8],
}

impl<'a> Line<'a> {
    /// The line without its newline; `None` when it has none (torn).
    pub(crate) fn complete(&self) -> Option<&'a [u8]> {
        self.bytes.strip_suffix(b"\n")
    }
}

impl<'p> Lines<'p> {
    pub(crate) fn open(path: &'p Path) -> Result<Lines<'p>, AuditError> {
        let file = File::open(path).map_err(|source| AuditError::Open {
            path: path.to_owned(),
            source,
        })?;
        Ok(Lines {
            path,
            reader: BufReader::with_capacity(1 << 16, file),
            buf: Vec::new(),
            number: 0,
        })
    }

    pub(crate) fn next_line(&mut self) -> Result<Option<Line<'_>>, AuditError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| self.read_error(source))?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        Ok(Some(Line {
            number: self.number,
            bytes: &self.buf,
        }))
    }

    pub(crate) fn at_eof(&mut self) -> Result<bool, AuditError> {
        match self.reader.fill_buf() {
            Ok(rest) => Ok(rest.is_empty()),
            Err(source) => Err(self.read_error(source)),
        }
    }

    fn read_error(&self, source: std::io::Error) -> AuditError {
        AuditError::Read {
            path: self.path.to_owned(),
            source,
        }
    }
}

/// The state of a verification.
struct Checker<'e> {
    run: Option<String>,
    labels: Option<Value>,
    prev: String,
    lines: u64,
    verdict: Option<(u64, Value)>,
    expected: Option<&'e str>,
    /// The line whose hash is the expected one.
    expected_at: Option<u64>,
}

/// Why a line failed.
enum Bad {
    /// No newline: the last line, cut.
    Cut,
    /// Not JSON: torn, if it is the last line.
    Unparsable(String),
    Broken(String),
}

impl<'e> Checker<'e> {
    fn run(path: &Path, expected: Option<&'e str>) -> Result<Verified, AuditError> {
        let mut c = Checker {
            run: None,
            labels: None,
            prev: String::new(),
            lines: 0,
            verdict: None,
            expected,
            expected_at: None,
        };
        let mut lines = Lines::open(path)?;
        let mut problem = None;
        while let Some(line) = lines.next_line()? {
            let n = line.number;
            let result = match line.complete() {
                Some(text) => c.check(n, text),
                None => Err(Bad::Cut),
            };
            match result {
                Ok(()) => continue,
                Err(Bad::Cut) => problem = Some(c.torn(n)),
                Err(Bad::Unparsable(_)) if lines.at_eof()? => problem = Some(c.torn(n)),
                Err(Bad::Unparsable(what) | Bad::Broken(what)) => {
                    problem = Some(Problem::Broken { line: n, what });
                }
            }
            break;
        }
        if problem.is_none() && c.verdict.is_none() {
            problem = Some(Problem::NoVerdict);
        }
        if c.expected.is_some() && !matches!(problem, Some(Problem::Broken { .. })) {
            if let Some(p) = c.against_index() {
                problem = Some(p);
            }
        }
        Ok(Verified {
            run: c.run,
            lines: c.lines,
            last_hash: (c.lines > 0).then_some(c.prev),
            verdict: c.verdict.map(|(_, v)| v),
            problem,
        })
    }

    /// Checks line `n` (1-based), given without its newline.
    fn check(&mut self, n: u64, text: &[u8]) -> Result<(), Bad> {
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| Bad::Unparsable(format!("line {n}: not valid JSON: {e}")))?;
        let broken = |what: String| Bad::Broken(format!("line {n}: {what}"));
        let obj = value
            .as_object()
            .ok_or_else(|| broken("not a JSON object".into()))?;
        match obj.get("v") {
            Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
            Some(v) => {
                return Err(broken(format!(
                    "schema version {v}, expected {SCHEMA_VERSION}"
                )))
            }
            None => return Err(broken("no schema version \"v\"".into())),
        }
        let run = obj
            .get("run")
            .and_then(Value::as_str)
            .ok_or_else(|| broken("no run id \"run\"".into()))?;
        match &self.run {
            None if !valid_run_id(run) => {
                return Err(broken(format!(
                    "run id {run:?} is not 16 lowercase hex digits"
                )))
            }
            None => {
                self.prev = hex(&genesis(run));
                self.run = Some(run.to_owned());
            }
            Some(first) if first != run => {
                return Err(broken(format!(
                    "run {run}, expected {first} (a line from another run)"
                )))
            }
            Some(_) => {}
        }
        if let Some((k, _)) = &self.verdict {
            return Err(Bad::Broken(format!(
                "line {n}: follows the verdict on line {k} (nothing may follow the verdict)"
            )));
        }
        let expected_seq = n - 1;
        match obj.get("seq").and_then(Value::as_u64) {
            Some(seq) if seq == expected_seq => {}
            Some(seq) => {
                return Err(broken(format!(
                    "seq {seq}, expected {expected_seq} (lines deleted, inserted or reordered)"
                )))
            }
            None => return Err(broken("no sequence number \"seq\"".into())),
        }
        if obj.get("prev").and_then(Value::as_str) != Some(self.prev.as_str()) {
            return Err(broken(if n == 1 {
                "prev is not the start of the chain of this run (the line was edited)".into()
            } else {
                format!(
                    "prev does not match the hash of line {} (edited, deleted or reordered lines)",
                    n - 1
                )
            }));
        }
        let ts = obj.get("ts").and_then(Value::as_str).unwrap_or_default();
        if humantime::parse_rfc3339(ts).is_err() {
            return Err(broken(format!("ts {ts:?} is not an RFC 3339 UTC time")));
        }
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        if kind.is_empty() {
            return Err(broken("no kind".into()));
        }
        match (obj.get("labels"), &self.labels) {
            (Some(labels @ Value::Object(_)), None) => self.labels = Some(labels.clone()),
            (Some(labels), Some(first)) if labels == first => {}
            (Some(Value::Object(_)), Some(_)) => {
                return Err(broken("labels differ from line 1's".into()))
            }
            _ => return Err(broken("no labels object".into())),
        }
        let h = hex(&hash(text));
        if self.expected == Some(h.as_str()) {
            self.expected_at = Some(n);
        }
        self.prev = h;
        self.lines = n;
        if kind == "verdict" {
            self.verdict = Some((n, value));
        }
        Ok(())
    }

    /// A torn line `n`: a cut-off last line, unless it follows the verdict.
    fn torn(&self, n: u64) -> Problem {
        match &self.verdict {
            Some((k, _)) => after_verdict(n, *k),
            None => Problem::Torn { line: n },
        }
    }

    /// The problem, if any, with the end of an otherwise intact trail given
    /// the last hash recorded in the index.
    fn against_index(&self) -> Option<Problem> {
        let last = self.lines;
        match self.expected_at {
            Some(k) if k == last => None,
            Some(k) => Some(Problem::Broken {
                line: k + 1,
                what: format!(
                    "line {}: the index records line {k} as the last line of this run; the lines after it were added later",
                    k + 1
                ),
            }),
            None if last == 0 => Some(Problem::Broken {
                line: 1,
                what: "line 1: missing: the trail is empty but the index records a finished run".into(),
            }),
            None if self.verdict.is_none() => Some(Problem::Broken {
                line: last,
                what: format!(
                    "line {last} (the last): its hash does not match the one recorded in the index, and there is no verdict: the end of the trail was cut off"
                ),
            }),
            None => Some(Problem::Broken {
                line: last,
                what: format!(
                    "line {last} (the last): its hash does not match the one recorded in the index (the line was edited, or the end of the trail replaced)"
                ),
            }),
        }
    }
}

fn after_verdict(n: u64, verdict_line: u64) -> Problem {
    Problem::Broken {
        line: n,
        what: format!(
            "line {n}: follows the verdict on line {verdict_line} (nothing may follow the verdict)"
        ),
    }
}
