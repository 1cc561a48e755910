use std::process::ExitCode;

use clap::Parser as _;
use httptop::{
    cli::Cli,
    headless, logging,
    model::{Model, ModelOptions},
    probe::{Probe, ProbeConfig},
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole chain.
            eprintln!("httptop: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let log_path = cli
        .log_file
        .clone()
        .unwrap_or_else(logging::default_log_path);
    if let Err(e) = logging::init(&log_path, log::LevelFilter::Info) {
        eprintln!(
            "httptop: warning: cannot open log file {}: {e}",
            log_path.display()
        );
    }
    let probe = Probe::attach(&ProbeConfig {
        interfaces: cli.interfaces.clone(),
        ports: cli.ports.clone(),
    })
    .map_err(|e| anyhow::anyhow!("{e} (log: {})", log_path.display()))?;
    let scope = if cli.interfaces.is_empty() {
        "all interfaces".to_owned()
    } else {
        cli.interfaces.join(", ")
    };
    let ports = if cli.ports.is_empty() {
        "all ports".to_owned()
    } else {
        format!("server ports {:?}", cli.ports)
    };
    // Scripts wait for this line before sending traffic.
    eprintln!(
        "httptop: attached to {scope} ({ports}); log: {}",
        log_path.display()
    );

    let model = Model::new(ModelOptions {
        max_talkers: 100_000,
        recent_per_talker: 64,
        history_len: 300,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(headless::run(&cli, probe, model))
}
