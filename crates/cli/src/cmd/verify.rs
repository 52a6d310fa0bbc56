//! `corral verify`: the flags, mapped to [`corral_verify::Options`]; the
//! suite, its runner, judge and scorecard are in the `corral-verify` crate.

use super::effective;
use crate::cli::{PolicyArgs, VerifyArgs};
use anyhow::{Context, Result};

pub fn verify(args: VerifyArgs) -> Result<i32> {
    let scenarios = corral_verify::select(&args.only).map_err(anyhow::Error::msg)?;
    if args.list {
        corral_verify::list(&scenarios);
        return Ok(0);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let base = PolicyArgs {
        policy: args.policy.as_ref().map(|p| cwd.join(p)),
        profile: args.profile.clone(),
        ..PolicyArgs::default()
    };
    // A bad policy fails here, once, with the loader's precise error.
    let policy = effective(&base)?;
    // Each scenario runs under this binary's `corral run`.
    let corral = std::env::current_exe().context("cannot find corral's own executable")?;
    corral_verify::verify(corral_verify::Options {
        scenarios,
        corral,
        label: corral_verify::policy_label(args.policy.as_deref(), args.profile.as_deref()),
        policy_file: base.policy,
        profile: base.profile,
        policy,
        json: args.json,
        report: args.report,
        keep: args.keep,
        version: env!("CARGO_PKG_VERSION"),
    })
}
