use std::{
    process::ExitCode,
    sync::{Arc, Mutex},
};

use clap::Parser as _;
use httptop::{
    cli::Cli,
    collector::{self, CollectorOptions},
    headless,
    kernel::{Kernel, KernelConfig},
    logging,
    model::{Filter, Model, ModelOptions},
    offline,
    tui::{self, TuiOptions},
};
use tokio::sync::watch;

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
    if let Some(frames) = cli.bench_render {
        let per_frame = tui::bench::bench_render_10k(frames.max(1));
        println!("{}", per_frame.as_nanos());
        return Ok(());
    }
    // A bad filter is reported before anything is attached.
    if let Some(text) = &cli.filter {
        Filter::parse(text).map_err(|e| anyhow::anyhow!("--filter: {e}"))?;
    }
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
    if let Some(path) = &cli.read {
        let mut model = Model::new(model_options());
        offline::read_capture(path, &cli.ports, cli.request_timeout, &mut model)?;
        return headless::print_summary(&cli, &model);
    }
    if cli.json && !cli.headless {
        anyhow::bail!("--json goes with --headless or --read");
    }
    let probe = Kernel::attach(&KernelConfig {
        interfaces: cli.interfaces.clone(),
        ports: cli.ports.clone(),
        // The dashboard shows the filter's cost; headless runs do not pay for measuring it.
        run_stats: !cli.headless,
        #[cfg(feature = "bench-controls")]
        entry_program: cli.bench_control_filter.unwrap_or_default(),
        #[cfg(not(feature = "bench-controls"))]
        entry_program: Default::default(),
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

    let model = Model::new(model_options());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if cli.headless {
        runtime.block_on(headless::run(&cli, probe, model))
    } else {
        runtime.block_on(dashboard(&cli, probe, model))
    }
}

fn model_options() -> ModelOptions {
    ModelOptions {
        max_talkers: 100_000,
        // Keeps memory near 25 MB with 10,000 busy connections.
        recent_per_talker: 16,
        history_len: 300,
    }
}

/// The live dashboard: collector task → shared model → TUI.
async fn dashboard(cli: &Cli, probe: Kernel, model: Model) -> anyhow::Result<()> {
    let model = Arc::new(Mutex::new(model));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let collector = tokio::spawn(collector::run(
        probe,
        model.clone(),
        CollectorOptions {
            interval: cli.interval,
            request_timeout: cli.request_timeout,
            ..CollectorOptions::default()
        },
        shutdown_rx.clone(),
    ));
    let ui = tui::run(
        model,
        TuiOptions {
            interval: cli.interval,
            initial_filter: cli.filter.clone(),
            show_query: cli.show_query,
            interfaces: cli.interfaces.clone(),
        },
        shutdown_rx,
    )
    .await;
    let _ = shutdown_tx.send(true);
    collector.await??;
    ui
}
