//! `corral log list | show | verify`: the audit trails of past runs.

use crate::cli::{LogCommand, ShowArgs};
use anyhow::{bail, Context, Result};
use corral_audit::{Index, Problem};
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

pub fn log(cmd: LogCommand) -> Result<i32> {
    match cmd {
        LogCommand::List { json } => list(json),
        LogCommand::Show(args) => show(&args),
        LogCommand::Verify { run } => verify(&run),
    }
}

fn index() -> Result<Index> {
    let dir = Index::default_dir().context(
        "cannot find the audit trails: neither XDG_STATE_HOME nor HOME is set; set one, \
         or give a trail's file",
    )?;
    Ok(Index::open(dir))
}

/// A file path as given, else a run id (or a unique prefix) from the index.
/// Also `corral learn` and `corral policy suggest`'s way to find a trail.
pub(super) fn locate(run: &str) -> Result<(PathBuf, Option<String>)> {
    let as_path = Path::new(run);
    if as_path.is_file() {
        let last = index()
            .ok()
            .and_then(|i| i.entries().ok())
            .and_then(|entries| {
                let canonical = std::fs::canonicalize(as_path).ok()?;
                entries
                    .into_iter()
                    .find(|e| std::fs::canonicalize(&e.path).ok().as_ref() == Some(&canonical))
            })
            .map(|e| e.last_hash);
        return Ok((as_path.to_path_buf(), last));
    }
    match index()?.find(run)? {
        Some(entry) => Ok((entry.path, Some(entry.last_hash))),
        None => bail!(
            "no audit trail {run:?}: not a file, and no run in the index starts with it; \
             `corral log list` shows the runs"
        ),
    }
}

fn list(json: bool) -> Result<i32> {
    let entries = index()?.entries()?;
    let mut out = std::io::stdout().lock();
    if json {
        for e in &entries {
            let _ = writeln!(out, "{}", serde_json::to_string(e)?);
        }
        return Ok(0);
    }
    if entries.is_empty() {
        let _ = writeln!(out, "no runs recorded yet");
        return Ok(0);
    }
    for e in &entries {
        let labels: Vec<String> = e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "{}  {}  {:<7}  {:>6} events  {}{}",
            e.run,
            e.started.get(..19).unwrap_or(&e.started),
            e.outcome,
            e.lines,
            e.command.join(" "),
            if labels.is_empty() {
                String::new()
            } else {
                format!("  [{}]", labels.join(","))
            }
        );
    }
    Ok(0)
}

fn verify(run: &str) -> Result<i32> {
    let (path, last) = locate(run)?;
    let v = match &last {
        Some(hash) => corral_audit::verify_against(&path, hash),
        None => corral_audit::verify(&path),
    }
    .with_context(|| format!("cannot read the audit trail {}", path.display()))?;
    let shown = path.display();
    match &v.problem {
        None => {
            println!(
                "{shown}: intact: {} lines, hash chain unbroken, verdict present{}",
                v.lines,
                if last.is_some() {
                    ", last line matches the index"
                } else {
                    " (no index entry to check the last line against)"
                }
            );
            Ok(0)
        }
        Some(Problem::Broken { line, what }) => {
            println!("{shown}: NOT intact: line {line}: {what}");
            Ok(1)
        }
        Some(Problem::Torn { line }) => {
            println!(
                "{shown}: NOT complete: line {line} is torn (corral was killed while writing it); \
                 lines 1 to {} are intact",
                line.saturating_sub(1)
            );
            Ok(1)
        }
        Some(Problem::NoVerdict) => {
            println!(
                "{shown}: NOT complete: the {} line(s) are intact but there is no verdict (the run \
                 did not finish: corral was killed, or is still running)",
                v.lines
            );
            Ok(1)
        }
    }
}

fn show(args: &ShowArgs) -> Result<i32> {
    let (path, _) = locate(&args.run)?;
    let lines = corral_audit::read(&path)
        .with_context(|| format!("cannot read the audit trail {}", path.display()))?;
    let color = !args.json && std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    for line in lines.iter().filter(|l| keep(l, args)) {
        if args.json {
            let _ = writeln!(out, "{line}");
        } else {
            let _ = writeln!(out, "{}", human(line, color));
        }
    }
    Ok(0)
}

fn keep(line: &Value, args: &ShowArgs) -> bool {
    let s = |k: &str| line.get(k).and_then(Value::as_str).unwrap_or("");
    if !args.kind.is_empty() && !args.kind.iter().any(|k| s("kind").starts_with(k.as_str())) {
        return false;
    }
    if let Some(pid) = args.pid {
        if line.get("pid").and_then(Value::as_u64) != Some(pid) {
            return false;
        }
    }
    if let Some(d) = &args.decision {
        if s("decision") != d {
            return false;
        }
    }
    // RFC 3339 UTC timestamps of one format compare as text.
    if let Some(since) = &args.since {
        if s("ts") < since.as_str() {
            return false;
        }
    }
    if let Some(until) = &args.until {
        if s("ts") > until.as_str() {
            return false;
        }
    }
    true
}

/// One line of the human timeline: time, seq, kind, then what matters.
fn human(line: &Value, color: bool) -> String {
    let s = |k: &str| line.get(k).and_then(Value::as_str).unwrap_or("");
    let time = s("ts").get(11..23).unwrap_or("");
    let seq = line.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let kind = s("kind");
    let skip = [
        "v", "ts", "run", "seq", "kind", "labels", "prev", "decision", "reason", "started",
    ];
    let mut rest: Vec<String> = Vec::new();
    if let Some(obj) = line.as_object() {
        for (k, v) in obj {
            if skip.contains(&k.as_str()) || v.is_null() {
                continue;
            }
            let shown = match v {
                Value::String(t) => corral_proxy::event::printable(t),
                other => other.to_string(),
            };
            rest.push(format!("{k}={shown}"));
        }
    }
    let decision = s("decision");
    let reason = s("reason");
    let mut text = format!("{time} {seq:>5} {kind:<14}");
    if !decision.is_empty() {
        text.push(' ');
        text.push_str(&paint(
            decision,
            decision_color(decision, s("severity")),
            color,
        ));
    }
    if !rest.is_empty() {
        text.push(' ');
        text.push_str(&rest.join(" "));
    }
    if !reason.is_empty() {
        text.push_str(" - ");
        text.push_str(&corral_proxy::event::printable(reason));
    }
    text
}

fn decision_color(decision: &str, severity: &str) -> &'static str {
    match (decision, severity) {
        (_, "critical") => "1;31",
        ("deny", _) => "31",
        ("error", _) => "33",
        _ => "32",
    }
}

fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}
