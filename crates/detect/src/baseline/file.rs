//! The baseline file: TOML (see the module doc of [`super`]), read with
//! the `toml` crate into serde structs and written by hand (with its
//! comments, one item a line, so that it reads and diffs well).

use super::{Baseline, WORKSPACE};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The file format's version, the `version` key.
pub(super) const VERSION: i64 = 1;

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Spanned<i64>,
    #[serde(default)]
    runs: Option<u64>,
    #[serde(default)]
    exec: Paths,
    #[serde(default)]
    connect: Endpoints,
    #[serde(default)]
    write: Paths,
    #[serde(default)]
    envelope: Envelope,
}

/// `[exec]` and `[write]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Paths {
    #[serde(default)]
    paths: Option<Spanned<Vec<String>>>,
}

/// `[connect]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoints {
    #[serde(default)]
    endpoints: Option<Spanned<Vec<String>>>,
}

/// `[envelope]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(default)]
    cpu_percent: Option<Spanned<f64>>,
    #[serde(default)]
    rss_kib: Option<u64>,
    #[serde(default)]
    processes: Option<u64>,
}

/// What each key holds, for its error.
fn expected(key: &str) -> String {
    match key {
        "version" => format!("expected the number {VERSION}, e.g. `version = 1`"),
        "runs" => "expected a whole number of runs, e.g. `runs = 3`".to_owned(),
        "envelope.cpu_percent" => {
            "expected a number of percent of one core, e.g. `cpu_percent = 150.0`".to_owned()
        }
        "envelope.rss_kib" | "envelope.processes" => {
            let name = key.trim_start_matches("envelope.");
            format!("expected a whole number, e.g. `{name} = 1024`")
        }
        _ => "expected an array of strings, e.g. `[\"/usr/bin/git\"]`".to_owned(),
    }
}

/// The keys a table has, for an unknown key's error.
fn keys_of(table: &str) -> &'static str {
    match table {
        "" => "`version`, `runs` and the tables [exec], [connect], [write], [envelope]",
        "exec" | "write" => "`paths`",
        "connect" => "`endpoints`",
        "envelope" => "`cpu_percent`, `rss_kib` and `processes`",
        _ => "the tables [exec], [connect], [write] and [envelope]",
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    before.matches('\n').count() + 1
}

impl Baseline {
    /// Parses a baseline (see the module doc); the error names the line
    /// and the key, and says what to do.
    pub fn from_toml_str(text: &str) -> Result<Baseline, String> {
        let document = DeTable::parse(text).map_err(|e| syntax_error(&e, text))?;
        only_plain_values(document.get_ref(), text, 0)?;
        let deserializer = toml::Deserializer::from(document);
        let file: File =
            serde_path_to_error::deserialize(deserializer).map_err(|e| shape_error(e, text))?;
        let at = |offset: usize, key: &str, problem: String| {
            format!("line {}: `{key}`: {problem}", line_of(text, offset))
        };
        let version = *file.version.get_ref();
        if version != VERSION {
            return Err(at(
                file.version.span().start,
                "version",
                format!(
                    "version {version} is not one this corral reads (it reads version \
                     {VERSION}); learn the baseline again with `corral learn`"
                ),
            ));
        }
        let list = |items: Option<Spanned<Vec<String>>>,
                    key: &str,
                    check: fn(&str) -> Result<(), String>|
         -> Result<BTreeSet<String>, String> {
            let Some(items) = items else {
                return Ok(BTreeSet::new());
            };
            let start = items.span().start;
            let mut out = BTreeSet::new();
            for (i, item) in items.into_inner().into_iter().enumerate() {
                check(&item).map_err(|e| at(start, key, format!("item {}: {e}", i + 1)))?;
                out.insert(item);
            }
            Ok(out)
        };
        let mut b = Baseline {
            runs: file.runs.unwrap_or(0),
            execs: list(file.exec.paths, "exec.paths", check_path_pattern)?,
            endpoints: list(
                file.connect.endpoints,
                "connect.endpoints",
                check_endpoint_pattern,
            )?,
            writes: list(file.write.paths, "write.paths", check_path_pattern)?,
            ..Baseline::default()
        };
        if let Some(cpu) = file.envelope.cpu_percent {
            let v = *cpu.get_ref();
            if !v.is_finite() || v < 0.0 {
                let key = "envelope.cpu_percent";
                return Err(at(cpu.span().start, key, expected(key)));
            }
            b.envelope.cpu_percent = Some(v);
        }
        b.envelope.rss_kib = file.envelope.rss_kib;
        b.envelope.processes = file.envelope.processes;
        Ok(b.compile())
    }

    /// The baseline as its file (see the module doc): comments first, the
    /// lists one item a line, sorted.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# corral baseline: what normal runs did. `corral learn` wrote it; edit freely.\n\
             # Paths: `*` matches within a component, `**` any depth; `$WORKSPACE` is the run's\n\
             # workspace. Endpoints: `*` matches anything. Format: README, \"Baselines\".\n",
        );
        let _ = writeln!(out, "version = {VERSION}");
        let _ = writeln!(out, "runs = {}", self.runs);
        out.push_str("\n[exec]\n# Executables run.\n");
        string_list(&mut out, "paths", &self.execs);
        out.push_str("\n[connect]\n# Endpoints reached, host:port.\n");
        string_list(&mut out, "endpoints", &self.endpoints);
        out.push_str("\n[write]\n# Where files were written, created, renamed or removed.\n");
        string_list(&mut out, "paths", &self.writes);
        out.push_str(
            "\n[envelope]\n# Peaks of the whole sandbox; a run is flagged above 1.5x (and at least\n\
             # +50 CPU percent, +64 MiB).\n",
        );
        let env = &self.envelope;
        if let Some(cpu) = env.cpu_percent {
            let _ = writeln!(out, "cpu_percent = {cpu:.1}");
        }
        if let Some(rss) = env.rss_kib {
            let _ = writeln!(out, "rss_kib = {rss}");
        }
        if let Some(n) = env.processes {
            let _ = writeln!(out, "processes = {n}");
        }
        out
    }
}

/// A baseline holds strings, numbers, arrays of them and top-level tables:
/// anything else (a boolean, a date, a nested table) is refused with its
/// line.
fn only_plain_values(table: &DeTable<'_>, text: &str, depth: usize) -> Result<(), String> {
    for value in table.values() {
        let plain = match value.get_ref() {
            DeValue::String(_) | DeValue::Integer(_) | DeValue::Float(_) => true,
            DeValue::Array(items) => items.iter().all(|item| {
                matches!(
                    item.get_ref(),
                    DeValue::String(_) | DeValue::Integer(_) | DeValue::Float(_)
                )
            }),
            DeValue::Table(inner) if depth == 0 => {
                only_plain_values(inner, text, depth + 1)?;
                true
            }
            DeValue::Boolean(_) | DeValue::Datetime(_) | DeValue::Table(_) => false,
        };
        if !plain {
            return Err(format!(
                "line {}: expected a value: a \"string\", a number or an [array] of them; a \
                 baseline has nothing else",
                line_of(text, value.span().start)
            ));
        }
    }
    Ok(())
}

/// Invalid TOML, in the words of what to fix.
fn syntax_error(error: &toml::de::Error, text: &str) -> String {
    let span = error.span().unwrap_or(0..0);
    let line = line_of(text, span.start);
    let at = text.get(span.clone()).unwrap_or("");
    let message = error.message().lines().next().unwrap_or("").trim();
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let problem = if message.starts_with("duplicate key") {
        if line_text.trim_start().starts_with('[') {
            format!("table [{at}] appears twice: merge them")
        } else {
            format!("`{at}` is set twice: keep one")
        }
    } else if message.contains("escape") {
        let c = text.get(span.start..).and_then(|r| r.chars().next());
        format!(
            "invalid escape \\{} in a string: write \\\\ for a backslash",
            c.map(String::from).unwrap_or_default()
        )
    } else if message.starts_with("unclosed array") {
        if quotes_open(line_text) {
            "unterminated string: close it with \"".to_owned()
        } else {
            "expected `,` or `]` after an array item".to_owned()
        }
    } else if let Some(extra) = at.split_whitespace().nth(1).and_then(|w| w.chars().next()) {
        format!("unexpected {extra:?} after the value; one `key = value` per line")
    } else {
        format!("{message}; fix the TOML there")
    };
    format!("line {line}: {problem}")
}

/// Whether `line` ends inside a basic string (an odd number of unescaped
/// `"`).
fn quotes_open(line: &str) -> bool {
    let mut open = false;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if open && !escaped => escaped = true,
            '"' if !escaped => open = !open,
            _ => escaped = false,
        }
    }
    open
}

/// An unknown key, a missing `version` or a value of the wrong type.
fn shape_error(error: serde_path_to_error::Error<toml::de::Error>, text: &str) -> String {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    let mut item = None;
    for segment in error.path().iter() {
        match segment {
            // `Spanned` reads its value under a private key.
            Segment::Map { key: k } if k.starts_with("$__serde_spanned") => {}
            Segment::Map { key: k } | Segment::Enum { variant: k } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(k);
            }
            Segment::Seq { index } => item = Some(index + 1),
            Segment::Unknown => {}
        }
    }
    let inner = error.into_inner();
    let line = line_of(text, inner.span().map_or(0, |s| s.start));
    let message = inner.message();
    if message.starts_with("unknown field `") {
        // The path ends with the unknown key.
        let table = key.rsplit_once('.').map_or("", |(table, _)| table);
        return format!(
            "line {line}: `{key}`: unknown key; a baseline has {}: remove it or fix its name",
            keys_of(table)
        );
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        return format!(
            "`{field}`: missing; add `version = {VERSION}` at the top (the file must be a \
             baseline written by `corral learn`)"
        );
    }
    match item {
        Some(n) => format!("line {line}: `{key}`: item {n}: expected a string"),
        None => format!("line {line}: `{key}`: {}", expected(&key)),
    }
}

fn check_path_pattern(s: &str) -> Result<(), String> {
    let ok = s.starts_with('/')
        || s == WORKSPACE
        || s.strip_prefix(WORKSPACE)
            .is_some_and(|r| r.starts_with('/'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not an absolute path or a `$WORKSPACE/...` one; write e.g. \
             \"/usr/bin/git\" or \"$WORKSPACE/target/**\""
        ))
    }
}

fn check_endpoint_pattern(s: &str) -> Result<(), String> {
    let ok = s.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && (port == "*" || port.parse::<u16>().is_ok_and(|p| p > 0))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not HOST:PORT; write e.g. \"pypi.org:443\", \"[::1]:8080\" or \
             \"127.0.0.1:*\""
        ))
    }
}

fn string_list(out: &mut String, key: &str, items: &BTreeSet<String>) {
    if items.is_empty() {
        let _ = writeln!(out, "{key} = []");
        return;
    }
    let _ = writeln!(out, "{key} = [");
    for item in items {
        let _ = writeln!(out, "    {},", toml_quote(item));
    }
    out.push_str("]\n");
}

/// A TOML basic string (`"..."`, escapes as TOML reads them back).
pub(crate) fn toml_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
