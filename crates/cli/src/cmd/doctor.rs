//! `corral doctor`: which isolation layers this machine supports.

use anyhow::Result;

pub fn doctor() -> Result<i32> {
    println!("TODO");
    Ok(0)
}
