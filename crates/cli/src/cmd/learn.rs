//! `corral learn`: a baseline of what normal runs do, from their audit
//! trails (`--from LOG...`), or from N runs of a command made for the
//! purpose (`--runs N -- COMMAND`). The baseline's format and what it
//! holds are described in `corral_detect`'s `baseline` module.
//!
//! Also home to [`trail_events`], which `corral policy suggest` shares:
//! a finished, intact trail as the detectors' events.

use super::log::locate;
use crate::cli::{LearnArgs, PolicyArgs};
use anyhow::{bail, Context, Result};
use corral_audit::{Index, Problem};
use corral_detect::{Baseline, OwnedEvent};
use serde_json::Value;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

/// The label that names the runs `--runs` makes (and finds them by).
const LEARN_LABEL: &str = "corral.learn";

pub fn learn(args: &LearnArgs) -> Result<i32> {
    // Before any run: a run is not worth making for a file that cannot be written.
    refuse_existing(args.output.as_deref(), "baseline")?;
    let runs = match args.runs {
        Some(n) => run_n(n, args)?,
        None => {
            if !policy_flags(&args.policy).is_empty() {
                bail!(
                    "the policy flags (--policy, --profile, --write, ...) apply to the runs \
                     `--runs N -- COMMAND` makes; with --from the trails already say what ran: \
                     remove them"
                );
            }
            args.from
                .iter()
                .map(|run| trail_events(run))
                .collect::<Result<Vec<_>>>()?
        }
    };
    let baseline = Baseline::learn(&runs);
    let text = baseline.to_toml();
    // Read back as `corral run --baseline` will: a failure is corral's bug.
    Baseline::from_toml_str(&text).map_err(|e| {
        anyhow::anyhow!("internal error: the baseline learnt does not read back ({e})")
    })?;
    let wrote = write_output(args.output.as_deref(), &text, "baseline")?;
    say!(
        "corral: learnt from {} run(s): {} executable(s), {} endpoint(s), {} write location(s){wrote}",
        baseline.runs(),
        baseline.execs().count(),
        baseline.endpoints().count(),
        baseline.writes().count(),
    );
    Ok(0)
}

/// The events of a finished run, from its trail (a run id, a unique
/// prefix, or a file, as `corral log show` takes): the chain must be
/// intact and the verdict present. `at` is each line's `ts` minus the
/// first line's.
pub(super) fn trail_events(run: &str) -> Result<Vec<OwnedEvent>> {
    let (path, last) = locate(run)?;
    let shown = path.display();
    let verified = match &last {
        Some(hash) => corral_audit::verify_against(&path, hash),
        None => corral_audit::verify(&path),
    }
    .with_context(|| format!("cannot read the audit trail {shown}"))?;
    match &verified.problem {
        None => {}
        Some(Problem::Broken { line, what }) => {
            // `what` usually names the line already.
            let what = if what.starts_with(&format!("line {line}:")) {
                what.clone()
            } else {
                format!("line {line}: {what}")
            };
            bail!(
                "{shown}: the audit trail is not intact: {what}; it cannot be trusted to learn \
                 from: leave it out (`corral log verify` shows the same)"
            )
        }
        Some(Problem::Torn { line }) => bail!(
            "{shown}: the audit trail is not complete (line {line}, the last, is torn: corral was \
             killed while writing it); learn from finished runs only: leave it out"
        ),
        Some(Problem::NoVerdict) => bail!(
            "{shown}: the audit trail has no verdict (the run did not finish, or is still \
             running); learn from finished runs only: leave it out, or wait for it to end"
        ),
    }
    let lines = corral_audit::read(&path)
        .with_context(|| format!("cannot read the audit trail {shown}"))?;
    Ok(events(&lines))
}

/// Audit lines as typed events (see `corral_event::Event::from_line`).
fn events(lines: &[Value]) -> Vec<OwnedEvent> {
    let ts = |line: &Value| {
        line.get("ts")
            .and_then(Value::as_str)
            .and_then(|t| humantime::parse_rfc3339(t).ok())
    };
    let first = lines.first().and_then(ts);
    lines
        .iter()
        .map(|line| {
            let at = match (first, ts(line)) {
                (Some(first), Some(t)) => t.duration_since(first).unwrap_or_default(),
                _ => std::time::Duration::ZERO,
            };
            OwnedEvent {
                at,
                event: corral_detect::Event::from_line(line),
            }
        })
        .collect()
}

fn must_be_new(path: &Path, what: &str) -> String {
    format!(
        "-o {}: cannot create the {what} file (it must be a new file: remove the old one first, \
         or give another path)",
        path.display()
    )
}

/// Fails early when `output` exists (writing it will refuse to replace it).
pub(super) fn refuse_existing(output: Option<&Path>, what: &str) -> Result<()> {
    match output {
        Some(path) if path.symlink_metadata().is_ok() => {
            bail!("{}: it exists", must_be_new(path, what))
        }
        _ => Ok(()),
    }
}

/// Writes `text` to `output` (a new file), or to stdout. Returns the words
/// that end the summary line (`"; wrote FILE"`, or nothing).
pub(super) fn write_output(output: Option<&Path>, text: &str, what: &str) -> Result<String> {
    let Some(path) = output else {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .with_context(|| format!("cannot write the {what} to stdout"))?;
        return Ok(String::new());
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| must_be_new(path, what))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("-o {}: cannot write the {what}", path.display()))?;
    Ok(format!("; wrote {}", path.display()))
}

/// `--runs N -- COMMAND`: N runs of this very binary's `corral run`, each
/// with the policy flags given and a label that finds its trail in the
/// index afterwards; the command's output goes to stderr (stdout may be
/// the baseline).
fn run_n(n: u32, args: &LearnArgs) -> Result<Vec<Vec<OwnedEvent>>> {
    if n == 0 {
        bail!("--runs 0: learn from at least one run, e.g. --runs 3");
    }
    if args.command.is_empty() {
        bail!("--runs needs the command to run after `--`: corral learn --runs 3 -- COMMAND");
    }
    let exe = std::env::current_exe().context("cannot find corral's own executable")?;
    let dir = Index::default_dir().context(
        "cannot place the runs' audit trails: neither XDG_STATE_HOME nor HOME is set; set one",
    )?;
    let index = Index::open(dir);
    let token = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    );
    let mut runs = Vec::new();
    for i in 1..=n {
        let label = format!("{token}-{i}");
        let _ = std::io::stderr().flush();
        let stdout = {
            use std::os::fd::AsFd;
            std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map_or(std::process::Stdio::inherit(), std::process::Stdio::from)
        };
        let status = std::process::Command::new(&exe)
            .arg("run")
            .arg("-q")
            .arg("--label")
            .arg(format!("{LEARN_LABEL}={label}"))
            .args(policy_flags(&args.policy))
            .arg("--")
            .args(&args.command)
            .stdout(stdout)
            .status()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let entry = index
            .entries()
            .context("cannot read the index of audit trails")?
            .into_iter()
            .find(|e| e.labels.get(LEARN_LABEL) == Some(&label));
        let Some(entry) = entry else {
            bail!(
                "run {i} of {n}: corral recorded no run ({}; its error is above); nothing was \
                 learnt",
                describe(status)
            );
        };
        say!(
            "corral: learn: run {i} of {n} ({}): {}",
            entry.run,
            describe(status)
        );
        runs.push(trail_events(&entry.path.to_string_lossy())?);
    }
    Ok(runs)
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended".to_owned(),
    }
}

/// The policy flags as `corral run` takes them, as typed (the runs start in
/// the same directory, so relative paths mean the same).
fn policy_flags(p: &PolicyArgs) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    let mut flag = |name: &str, value: OsString| {
        out.push(name.into());
        out.push(value);
    };
    if let Some(v) = &p.policy {
        flag("--policy", v.into());
    }
    if let Some(v) = &p.profile {
        flag("--profile", v.into());
    }
    if let Some(v) = &p.workspace {
        flag("--workspace", v.into());
    }
    for v in &p.write {
        flag("--write", v.into());
    }
    for v in &p.read {
        flag("--read", v.into());
    }
    for v in &p.deny_read {
        flag("--deny-read", v.into());
    }
    if let Some(v) = &p.memory {
        flag("--memory", v.into());
    }
    if let Some(v) = p.pids {
        flag("--pids", v.to_string().into());
    }
    if let Some(v) = p.cpus {
        flag("--cpus", v.to_string().into());
    }
    if let Some(v) = &p.timeout {
        flag("--timeout", v.into());
    }
    for v in &p.allow_net {
        flag("--allow-net", v.into());
    }
    for v in &p.deny_net {
        flag("--deny-net", v.into());
    }
    for v in &p.resolve {
        flag("--resolve", v.into());
    }
    if p.allow_degraded {
        out.push("--allow-degraded".into());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_events_timed_from_the_first() {
        let lines: Vec<Value> = [
            r#"{"v":1,"ts":"2026-01-01T00:00:00.000000000Z","run":"r","seq":0,"kind":"run.start","labels":{},"cwd":"/w","prev":"x"}"#,
            r#"{"v":1,"ts":"2026-01-01T00:00:01.500000000Z","run":"r","seq":1,"kind":"proc.exec","labels":{"a":"b"},"path":"/bin/sh","pid":7,"prev":"y"}"#,
        ]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
        let evs = events(&lines);
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].event.kind(), "run.start");
        assert_eq!(evs[0].at, std::time::Duration::ZERO);
        assert_eq!(evs[1].at, std::time::Duration::from_millis(1500));
        let (_, details) = evs[1].event.to_details();
        let keys: Vec<&str> = details.keys().map(String::as_str).collect();
        assert_eq!(keys, ["path", "pid"]);
    }

    #[test]
    fn policy_flags_pass_through_as_typed() {
        let p = PolicyArgs {
            profile: Some("rollout".into()),
            write: vec!["out".into()],
            pids: Some(64),
            cpus: Some(0.5),
            allow_net: vec!["pypi.org:443".into()],
            allow_degraded: true,
            ..PolicyArgs::default()
        };
        let flags: Vec<String> = policy_flags(&p)
            .iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            flags,
            [
                "--profile",
                "rollout",
                "--write",
                "out",
                "--pids",
                "64",
                "--cpus",
                "0.5",
                "--allow-net",
                "pypi.org:443",
                "--allow-degraded"
            ]
        );
        assert!(policy_flags(&PolicyArgs::default()).is_empty());
    }
}
