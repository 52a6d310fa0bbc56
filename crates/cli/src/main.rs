//! The `corral` binary: parses the command line and hands each subcommand
//! to its module in `cmd/`.

#![forbid(unsafe_code)]

/// `eprintln!` that never panics: after a run, corral's stderr is shared
/// with whatever the command left behind (a full pipe, a closed reader),
/// and a warning lost is better than corral dying before its cleanup.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod cmd;

use clap::error::ErrorKind;
use clap::Parser;

fn main() {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(err) => std::process::exit(usage_error(err)),
    };
    let code = match cmd::dispatch(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("corral: error: {err:#}");
            cmd::EXIT_CORRAL_ERROR
        }
    };
    std::process::exit(code);
}

/// Prints a command-line error and returns corral's own failure status
/// (125), so that a wrapper never mistakes it for the command's status;
/// `--help` and `--version` exit 0.
fn usage_error(err: clap::Error) -> i32 {
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return 0;
    }
    let _ = err.print();
    let rendered = err.to_string();
    if matches!(
        err.kind(),
        ErrorKind::UnknownArgument | ErrorKind::MissingRequiredArgument
    ) && rendered.contains("corral run")
    {
        eprintln!(
            "hint: the command to sandbox goes after `--`: corral run [FLAGS] -- COMMAND [ARGS...]"
        );
    }
    cmd::EXIT_CORRAL_ERROR
}
