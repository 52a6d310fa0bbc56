//! `corral run [flags] -- COMMAND...`: run a command in a sandbox. The
//! flags become a [`corral_runtime::SessionOptions`]; the session does the rest.

use super::effective;
use crate::cli::RunArgs;
use anyhow::Result;
use corral_runtime::{Session, SessionOptions};
use std::time::Duration;

/// Resources are sampled this often unless `--sample-interval` says.
const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

pub fn run(args: RunArgs) -> Result<i32> {
    let sample_interval = args
        .sample_interval
        .as_deref()
        .map(|s| {
            s.parse::<corral_policy::Duration>()
                .map_err(|e| anyhow::anyhow!("--sample-interval {s:?}: {e}"))
        })
        .transpose()?
        .map_or(DEFAULT_SAMPLE_INTERVAL, |d| d.0);
    let session = Session::prepare(SessionOptions {
        policy: effective(&args.policy)?,
        command: args.command,
        labels: args.labels,
        audit: args.audit,
        baseline: args.baseline,
        monitor: !args.no_monitor,
        sample_interval,
        net_log: args.net_log,
        quiet: args.quiet,
        park: false,
    })?;
    if !args.quiet {
        say!("{}", session.header());
    }
    Ok(session.run()?.exit_code)
}
