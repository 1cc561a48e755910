use std::{io::Write as _, process::ExitCode};

use clap::{Parser as _, error::ErrorKind};
use httptop::{
    cli::{Cli, one_line},
    run,
};

fn main() -> ExitCode {
    // A fixed threshold: glibc's moving one rises to the largest block freed so far (the
    // kernel's BTF, read at start), after which tables of megabytes come from the heap and
    // stay resident once freed.
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter, at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
    }
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
