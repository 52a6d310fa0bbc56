//! The command-line surface. Flags that scripts rely on are stable:
//! `--policy`, `--profile`, `--workspace`, `--write`, `--read`,
//! `--deny-read`, `--memory`, `--pids`, `--cpus`, `--timeout`, `--label`,
//! `--allow-net`, `--deny-net`, `--resolve`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "corral",
    version,
    about = "A runtime guard for autonomous AI agents: run a command in a least-privilege Linux sandbox"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command inside a sandbox described by a policy.
    Run(Box<RunArgs>),
    /// Validate or display policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Show which isolation layers this machine supports, and how to fix what is missing.
    Doctor,
    /// Prove containment: run a red-team suite of rogue-agent behaviours
    /// (mining, tunnels, reverse shells, probes, credential theft...), each in
    /// a fresh sandbox under the policy, and print a scorecard. Exit 0 only
    /// when every scenario is contained and no benign twin was flagged.
    Verify(Box<VerifyArgs>),
    /// List, show and verify the audit trails of past runs.
    #[command(subcommand)]
    Log(LogCommand),
    /// Learn a baseline (what normal runs do: executables, endpoints, write
    /// locations, CPU and memory) from audit trails, for `corral run --baseline`.
    Learn(Box<LearnArgs>),
}

/// `corral learn --from LOG... | --runs N [POLICY FLAGS] -- COMMAND`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["from", "runs"]))]
pub struct LearnArgs {
    /// Finished audit trails to learn from: run ids (or unique prefixes) from
    /// `corral log list`, or trail files (repeatable: `--from A B` or `--from A --from B`).
    #[arg(long, value_name = "LOG", num_args = 1.., conflicts_with = "runs")]
    pub from: Vec<String>,
    /// Run COMMAND N times in the sandbox (with the policy flags given; each
    /// run's trail is kept, labelled `corral.learn`) and learn from those runs.
    #[arg(long, value_name = "N", requires = "command")]
    pub runs: Option<u32>,
    /// Write the baseline to FILE (a new file) instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With --runs: the policy the runs get (the same flags as `corral run`).
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// With --runs: the command and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND", conflicts_with = "from")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// The runs recorded in the index, oldest first.
    List {
        /// One JSON object per run.
        #[arg(long)]
        json: bool,
    },
    /// A run's timeline (colour on a terminal), filtered.
    Show(Box<ShowArgs>),
    /// Check a trail's hash chain and completeness: exit 0 only if intact,
    /// else 1 and the first bad line.
    Verify {
        /// A run id (or a unique prefix) from `corral log list`, or a trail's file.
        run: String,
    },
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A run id (or a unique prefix) from `corral log list`, or a trail's file.
    pub run: String,
    /// Only events whose kind starts with KIND (repeatable), e.g. net, dns.query, run.
    #[arg(long = "kind", value_name = "KIND")]
    pub kind: Vec<String>,
    /// Only events of this process (host pid).
    #[arg(long, value_name = "PID")]
    pub pid: Option<u64>,
    /// Only events with this decision: allow, deny or error.
    #[arg(long, value_name = "DECISION")]
    pub decision: Option<String>,
    /// Only events at or after this time (RFC 3339, UTC, e.g. 2026-11-22T06:40:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events at or before this time (RFC 3339, UTC).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// The lines as recorded (JSON), instead of the timeline.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file; errors name file:line:col, the key and what is expected.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
    },
    /// Print the effective policy as TOML, after the profile, the file and the flags are merged.
    Show(Box<PolicyArgs>),
    /// Print the effective policy as a short Markdown brief for the agent
    /// inside (its system prompt or AGENTS.md): what it may do, what it
    /// cannot, and what a refusal looks like.
    Brief(Box<PolicyArgs>),
    /// Write the tightest policy that would have allowed these runs (TOML to
    /// review, with what they were refused as comments), from their audit trails.
    Suggest {
        /// Finished audit trails: run ids (or unique prefixes) from `corral log list`, or trail files.
        #[arg(required = true, value_name = "LOG")]
        logs: Vec<String>,
        /// Write the policy to FILE (a new file) instead of stdout.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

/// Flags that shape the effective policy (shared by `run` and `policy show`).
#[derive(Debug, Args, Clone, Default)]
pub struct PolicyArgs {
    /// Policy file (TOML) to start from.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Built-in profile: offline (default), coding-agent, rollout.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The workspace directory, read-write (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Also allow writing beneath PATH (repeatable).
    #[arg(long = "write", value_name = "PATH")]
    pub write: Vec<PathBuf>,
    /// Also allow reading beneath PATH (repeatable).
    #[arg(long = "read", value_name = "PATH")]
    pub read: Vec<PathBuf>,
    /// Mask PATH or GLOB entirely: reading it fails (repeatable).
    #[arg(long = "deny-read", value_name = "PATH_OR_GLOB")]
    pub deny_read: Vec<String>,
    /// Memory limit for the whole sandbox, e.g. 512M, 2G.
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Maximum number of processes and threads.
    #[arg(long, value_name = "N")]
    pub pids: Option<u64>,
    /// CPU cores, e.g. 1 or 0.5.
    #[arg(long, value_name = "N")]
    pub cpus: Option<f64>,
    /// Wall-clock timeout, e.g. 30s, 10m, 1h.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Run even if a layer the policy needs is unavailable; the header says what is off.
    #[arg(long)]
    pub allow_degraded: bool,
    /// Also allow connections to HOST[:PORT] (repeatable), e.g. pypi.org (ports 80 and 443),
    /// api.github.com:443, *.example.com:*, 10.1.2.0/24:5432, [::1]:8080.
    #[arg(long = "allow-net", value_name = "HOST[:PORT]")]
    pub allow_net: Vec<String>,
    /// Never allow connections to HOST[:PORT] (repeatable; no port means every port).
    #[arg(long = "deny-net", value_name = "HOST[:PORT]")]
    pub deny_net: Vec<String>,
    /// Pin HOST to these addresses, as curl --resolve (repeatable; PORT may be *), e.g.
    /// git.test:8080:127.0.0.1. A pinned host still needs --allow-net.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR[,ADDR]")]
    pub resolve: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Label KEY=VALUE for the audit trail (repeatable), e.g. episode=17.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Do not print the one-line header on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// How often to sample the sandbox's processes (CPU, memory, threads)
    /// into the audit trail, e.g. 500ms, 2s; 0 turns sampling off.
    /// Default 1s.
    #[arg(long, value_name = "DURATION")]
    pub sample_interval: Option<String>,
    /// Do not record what happens inside the sandbox (execs, connects,
    /// binds, listens): the trail keeps the run, the network and the
    /// verdict. For measuring the monitor's cost, or a kernel without
    /// seccomp user notification.
    #[arg(long)]
    pub no_monitor: bool,
    /// Write the audit trail to FILE (a new file; default: the state
    /// directory's runs/RUN.jsonl, listed by `corral log list`).
    #[arg(long, value_name = "FILE")]
    pub audit: Option<std::path::PathBuf>,
    /// Append every network event (connection attempts and DNS queries,
    /// allowed or not) to FILE as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub net_log: Option<std::path::PathBuf>,
    /// A baseline (`corral learn`): what deviates from it is a `baseline.*`
    /// finding.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("label {s:?} must be KEY=VALUE, e.g. episode=17"))?;
    let valid_key = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid_key {
        return Err(format!(
            "label key {k:?} must be non-empty and use only letters, digits, '_', '-' and '.'"
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

/// `corral verify [--policy FILE | --profile NAME] [--only ID...] [--json] [--report FILE.md]`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Policy file (TOML) the scenarios run under.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Built-in profile: offline (default), coding-agent, rollout.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Only these scenarios (`--only mining escape`, or comma-separated); see --list.
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    pub only: Vec<String>,
    /// Print the scorecard as JSON (for CI) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write a Markdown report a security team can file to FILE.
    #[arg(long, value_name = "FILE.md")]
    pub report: Option<PathBuf>,
    /// List the scenarios (id, what each attempts, its twin) and exit.
    #[arg(long)]
    pub list: bool,
    /// Keep the scenarios' workspaces and audit trails; their directory is printed.
    #[arg(long)]
    pub keep: bool,
}
