//! `corral policy check FILE` and `corral policy show [flags]`.

use super::effective;
use crate::cli::PolicyArgs;
use anyhow::Result;
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
