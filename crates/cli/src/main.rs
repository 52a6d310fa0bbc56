//! The `corral` binary: parses the command line and hands each subcommand
//! to its module in `cmd/`.

mod cli;
mod cmd;
mod layers;
mod resolve;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    let code = match cmd::dispatch(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("corral: error: {err:#}");
            cmd::EXIT_CORRAL_ERROR
        }
    };
    std::process::exit(code);
}
