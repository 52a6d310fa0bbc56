//! One module per subcommand.

mod doctor;
mod learn;
mod log;
mod policy;
mod run;
mod verify;

use crate::cli::{Cli, Command, PolicyArgs, PolicyCommand};
use anyhow::{Context, Result};
use corral_policy::{Overrides, Policy};
use std::path::Path;

/// corral's own failure (bad policy, missing layer, setup error).
pub use corral_runtime::EXIT_CORRAL_ERROR;

pub fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Policy(PolicyCommand::Check { file }) => policy::check(&file),
        Command::Policy(PolicyCommand::Show(args)) => policy::show(&args),
        Command::Policy(PolicyCommand::Brief(args)) => policy::brief(&args),
        Command::Policy(PolicyCommand::Suggest { logs, output }) => {
            policy::suggest(&logs, output.as_deref())
        }
        Command::Doctor => doctor::doctor(),
        Command::Verify(args) => verify::verify(*args),
        Command::Log(cmd) => log::log(cmd),
        Command::Learn(args) => learn::learn(&args),
    }
}

/// Flags -> overrides. Relative paths on the command line are relative to
/// the current directory (in a policy file they are relative to the
/// workspace), so they are made absolute here; globs stay as typed. Network
/// entries pass as typed: `corral_policy::effective` checks them and names
/// the flag and the value in errors.
fn overrides(args: &PolicyArgs) -> Result<Overrides> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let abs = |p: &Path| -> String {
        let s = p.to_string_lossy();
        if p.is_absolute() || s.starts_with('~') {
            s.into_owned()
        } else {
            cwd.join(p).to_string_lossy().into_owned()
        }
    };
    let glob_or_abs = |s: &String| -> String {
        if s.contains(['*', '?', '[']) {
            s.clone()
        } else {
            abs(Path::new(s))
        }
    };
    let parse = |flag: &str, value: &str, err: String| anyhow::anyhow!("{flag} {value:?}: {err}");
    Ok(Overrides {
        profile: args.profile.clone(),
        workspace: args.workspace.as_deref().map(abs),
        read: args.read.iter().map(|p| abs(p)).collect(),
        write: args.write.iter().map(|p| abs(p)).collect(),
        deny_read: args.deny_read.iter().map(glob_or_abs).collect(),
        memory: args
            .memory
            .as_deref()
            .map(|m| {
                m.parse()
                    .map_err(|e: corral_policy::UnitError| parse("--memory", m, e.to_string()))
            })
            .transpose()?,
        pids: args.pids,
        cpus: args.cpus,
        timeout: args
            .timeout
            .as_deref()
            .map(|t| {
                t.parse()
                    .map_err(|e: corral_policy::UnitError| parse("--timeout", t, e.to_string()))
            })
            .transpose()?,
        open_files: None,
        file_size: None,
        allow_degraded: args.allow_degraded,
        allow_net: args.allow_net.clone(),
        deny_net: args.deny_net.clone(),
        resolve: args.resolve.clone(),
    })
}

/// The effective policy for these flags.
fn effective(args: &PolicyArgs) -> Result<Policy> {
    let overrides = overrides(args)?;
    Ok(corral_policy::effective(
        args.policy.as_deref(),
        &overrides,
    )?)
}
