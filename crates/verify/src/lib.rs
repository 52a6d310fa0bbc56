#![forbid(unsafe_code)]
//! `corral verify`: a red-team suite that proves what the policy contains.
//!
//! The library behind the subcommand: the cli maps its flags to
//! [`Options`] and calls [`verify`]. It needs the path of a `corral`
//! binary ([`Options::corral`]) and never assumes it is one itself.
//!
//! Each scenario (a small program from `scenarios/`, embedded in the
//! library) runs as a child `corral run -q --audit TRAIL [the user's
//! --policy/--profile] [the scenario's flags] -- python3 PROGRAM attack`
//! in a fresh workspace with a fake HOME full of decoys, then its benign
//! twin (`... PROGRAM twin`) the same way. The runner judges each from
//! three sources that do not depend on each other: the program's own
//! protocol lines (`CORRAL-SCENARIO {...}`: what it attempted and saw),
//! the run's audit trail (refusals, findings, the kill and its latency,
//! the verdict), and the runner's own local servers and checks (a pool
//! login, an SSH banner, a shell that answered, a daemon that outlived the
//! run).
//!
//! Safety: targets are the runner's servers on the host's 127.0.0.1
//! (reached through corral's proxy by names under `.verify.test`, allowed
//! and pinned with `--allow-net`/`--resolve`), TEST-NET-1 addresses that
//! the programs only try when the sandbox has nothing but loopback, and
//! names under `.invalid`. Before a scenario runs, the runner checks the
//! effective policy: if it would let any of the scenario's off-machine
//! destinations through the proxy (or a name reach the host's resolver),
//! the scenario is not run and is reported as not contained.

/// `eprintln!` that never panics (as the cli's own `say!`): a warning lost
/// is better than the runner dying before its cleanup.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod fixtures;
mod judge;
mod python;
mod report;
mod run;
mod servers;
mod spawn;
pub mod suite;
mod survivors;

use anyhow::{Context, Result};
use judge::{Judged, Run};
use python::Python;
use servers::Servers;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use report::list;
pub use suite::{select, Scenario};

/// corral's own failure (bad policy, missing layer, setup error). A
/// `corral run` that exits with it failed to run its scenario; [`verify`]
/// then returns it too.
pub use corral_policy::EXIT_CORRAL_ERROR;

/// What one `corral verify` runs, and how it reports.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenarios to run, in suite order (see [`select`]).
    pub scenarios: Vec<&'static Scenario>,
    /// The `corral` binary each run starts as `corral run`.
    pub corral: PathBuf,
    /// The policy file each run gets as `--policy` (absolute: the runs
    /// start in their own workspaces).
    pub policy_file: Option<PathBuf>,
    /// The profile each run gets as `--profile`.
    pub profile: Option<String>,
    /// The effective policy of `policy_file` and `profile` (the caller
    /// loads it, so that a bad policy fails once, with the loader's error).
    pub policy: corral_policy::Policy,
    /// The policy as the user named it, for the scorecard (see
    /// [`policy_label`]).
    pub label: String,
    /// The scorecard as JSON on stdout instead of the table.
    pub json: bool,
    /// Also write the Markdown report to this file.
    pub report: Option<PathBuf>,
    /// Keep the workspaces and audit trails (their directory is printed).
    pub keep: bool,
    /// The corral version the scorecard names.
    pub version: &'static str,
}

/// The scorecard's name for a policy: the file as the user typed it and/or
/// the profile, else the default profile.
pub fn policy_label(policy: Option<&Path>, profile: Option<&str>) -> String {
    match (policy, profile) {
        (Some(p), Some(n)) => format!("{} (profile {n})", p.display()),
        (Some(p), None) => p.display().to_string(),
        (None, Some(n)) => format!("profile {n}"),
        (None, None) => format!("profile {} (the default)", corral_policy::DEFAULT_PROFILE),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Attack,
    Twin,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Attack => "attack",
            Mode::Twin => "twin",
        }
    }
}

/// One scenario's runs and judgement.
struct Outcome {
    pub scenario: &'static Scenario,
    pub attack: Run,
    pub twin: Run,
    pub judged: Judged,
    /// Flags the runner added (for the report).
    pub flags: Vec<String>,
    pub wall: Duration,
}

/// What every run shares.
struct Ctx {
    /// The corral binary (`Options::corral`).
    exe: PathBuf,
    python: Python,
    /// The user's `--policy` (absolute) and `--profile`, passed on to
    /// every run.
    policy_file: Option<PathBuf>,
    profile: Option<String>,
    tmp: PathBuf,
    trails: PathBuf,
    servers: Servers,
    /// corral's default state directory, when it exists (the log-tamper
    /// scenario tries to write in it).
    state_dir: Option<PathBuf>,
    /// The user's PATH, passed on.
    path: OsString,
    limits: corral_policy::Limits,
    /// The policy's `[detect] enabled`.
    detect_enabled: bool,
    counter: std::cell::Cell<u32>,
}

/// Runs the scenarios and prints the scorecard: 0 when every scenario was
/// contained with a clean twin, 1 when not, [`EXIT_CORRAL_ERROR`] when a
/// `corral run` itself failed.
pub fn verify(opts: Options) -> Result<i32> {
    let policy = &opts.policy;
    // Fail before the suite runs, not after.
    let report_file = opts
        .report
        .as_ref()
        .map(|p| {
            std::fs::File::create(p)
                .with_context(|| format!("--report {}: cannot create the file", p.display()))
        })
        .transpose()?;
    let python = python::find_python()?;
    let tmp = fixtures::make_temp_dir().context(
        "cannot create a temporary directory for the scenarios' workspaces (set TMPDIR to a writable place)",
    )?;
    let trails = tmp.join("trails");
    std::fs::create_dir(&trails).with_context(|| format!("cannot create {}", trails.display()))?;
    std::fs::set_permissions(&trails, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot chmod {}", trails.display()))?;
    let servers = Servers::start()
        .context("cannot start corral verify's local servers on 127.0.0.1 (is loopback up?)")?;
    let ctx = Ctx {
        exe: opts.corral.clone(),
        python,
        policy_file: opts.policy_file.clone(),
        profile: opts.profile.clone(),
        trails,
        servers,
        state_dir: corral_audit::Index::default_dir().filter(|d| d.join("runs").is_dir()),
        path: std::env::var_os("PATH")
            .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into()),
        limits: policy.limits.clone(),
        detect_enabled: policy.detect.is_enabled(),
        counter: std::cell::Cell::new(0),
        tmp,
    };
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !opts.json;
    let started = std::time::SystemTime::now();
    let clock = Instant::now();
    let mut outcomes = Vec::new();
    let mut corral_failed = None;
    for (i, sc) in opts.scenarios.iter().enumerate() {
        if progress {
            say!(
                "corral verify: [{}/{}] {} ...",
                i + 1,
                opts.scenarios.len(),
                sc.id
            );
        }
        let o = run::run_scenario(&ctx, sc);
        for run in [&o.attack, &o.twin] {
            if run.exit_code == Some(EXIT_CORRAL_ERROR) && corral_failed.is_none() {
                corral_failed = Some(format!(
                    "{}: corral run failed: {}",
                    sc.id,
                    run.corral_lines.join(" / ")
                ));
            }
        }
        outcomes.push(o);
    }
    let card = report::Card {
        label: opts.label.clone(),
        policy_toml: policy.to_toml(),
        started,
        wall: clock.elapsed(),
        outcomes,
        version: opts.version,
        detect_enabled: ctx.detect_enabled,
        kept: opts.keep.then(|| ctx.tmp.clone()),
    };
    if opts.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&card.json()).unwrap_or_default()
        );
    } else {
        card.print_table(report::colour());
    }
    if let Some(mut f) = report_file {
        use std::io::Write;
        let path = opts.report.as_deref().unwrap_or(Path::new(""));
        f.write_all(card.markdown().as_bytes())
            .with_context(|| format!("--report {}: cannot write", path.display()))?;
        if !opts.json {
            say!("corral verify: report written to {}", path.display());
        }
    }
    if opts.keep {
        say!(
            "corral verify: workspaces and audit trails kept in {}",
            ctx.tmp.display()
        );
    } else {
        let _ = std::fs::remove_dir_all(&ctx.tmp);
    }
    if let Some(why) = corral_failed {
        say!("corral verify: error: {why}");
        return Ok(EXIT_CORRAL_ERROR);
    }
    Ok(if card.all_pass() { 0 } else { 1 })
}
