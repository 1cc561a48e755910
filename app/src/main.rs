use std::{io::Write as _, process::ExitCode};

use clap::{Parser as _, error::ErrorKind};
use httptop::{
    cli::{Cli, one_line},
    run,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            e.exit()
        }
        Err(e) => {
            eprintln!("httptop: error: {}", one_line(&e));
            return ExitCode::from(2);
        }
    };
    if let Some(text) = cli.generated() {
        return match std::io::stdout().write_all(&text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("httptop: error: writing to stdout: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let result = cli
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
