use std::process::ExitCode;

use clap::Parser as _;
use httptop::{cli::Cli, run};

fn main() -> ExitCode {
    let result = Cli::parse()
        .into_run_config()
        .map_err(anyhow::Error::from)
        .and_then(run::run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole chain.
            eprintln!("httptop: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
