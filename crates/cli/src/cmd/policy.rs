//! `corral policy check FILE`, `corral policy show [flags]`, `corral
//! policy brief [flags]` and `corral policy suggest LOG...`.

use super::effective;
use super::learn::{refuse_existing, trail_events, write_output};
use crate::cli::PolicyArgs;
use anyhow::{Context, Result};
use corral_policy::Policy;
use std::path::Path;

pub fn check(file: &Path) -> Result<i32> {
    match Policy::load(file) {
        Ok(policy) => {
            let base = policy
                .extends
                .as_deref()
                .unwrap_or(corral_policy::DEFAULT_PROFILE);
            println!("{}: ok (extends {base})", file.display());
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
    }
}

pub fn show(args: &PolicyArgs) -> Result<i32> {
    let policy = effective(args)?;
    print!("{}", policy.to_toml());
    Ok(0)
}

/// The effective policy in plain words, for the agent in the sandbox. The
/// workspace is named: the current directory unless given, as `run` does.
pub fn brief(args: &PolicyArgs) -> Result<i32> {
    let mut policy = effective(args)?;
    if policy.filesystem.workspace.is_none() {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        policy.filesystem.workspace = Some(cwd.to_string_lossy().into_owned());
    }
    print!("{}", policy.brief());
    Ok(0)
}

/// The tightest policy that would have allowed these runs, for review.
pub fn suggest(logs: &[String], output: Option<&Path>) -> Result<i32> {
    refuse_existing(output, "policy")?;
    let runs = logs
        .iter()
        .map(|run| trail_events(run))
        .collect::<Result<Vec<_>>>()?;
    let suggestion = corral_detect::suggest(&runs);
    let text = suggestion.to_toml();
    // What `corral policy check` will say of it: a failure is corral's bug.
    Policy::from_toml_str(&text, "the suggested policy").map_err(|e| {
        anyhow::anyhow!("internal error: the suggested policy does not check ({e}):\n{text}")
    })?;
    let wrote = write_output(output, &text, "policy")?;
    say!(
        "corral: suggested from {} run(s): extends {}, {} allow entr(ies), {} rule(s), {} \
         writable path(s), {} refused attempt(s) listed as comments{wrote}",
        suggestion.runs,
        suggestion.extends.value,
        suggestion.allow.len(),
        suggestion.rules.len(),
        suggestion.write.len(),
        suggestion.refused.len(),
    );
    Ok(0)
}
