//! corral's policy: the model, TOML parsing with precise errors, built-in
//! profiles and the merging of command-line flags.
//!
//! The command line calls [`effective`]; `corral policy show` prints
//! [`Policy::to_toml`]; the egress proxy compiles the `[network]` section
//! with [`net::NetPolicy::compile`].

#![forbid(unsafe_code)]

mod brief;
mod detect;
mod error;
mod issue;
mod load;
mod merge;
pub mod model;
pub mod net;
mod profiles;
mod render;
mod schema;
mod text;
mod units;
mod validate;

pub use brief::brief;
pub use detect::*;
pub use error::{Location, PolicyError};
pub use merge::{effective, Overrides};
pub use model::*;
pub use profiles::{profile, DEFAULT_PROFILE, PROFILE_NAMES, SHELL_RC_FILES};
pub use text::printable;
pub use units::UnitError;
