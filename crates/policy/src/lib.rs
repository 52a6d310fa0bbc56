//! corral's policy: the model, TOML parsing with precise errors, built-in
//! profiles and the merging of command-line flags.

pub mod model;

pub use model::*;
