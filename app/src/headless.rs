//! `--headless`: collect until the duration or a signal, then print the summary.

use std::{
    io::Write as _,
    sync::{Arc, Mutex},
};

use anyhow::Context as _;
use tokio::sync::watch;

use crate::{
    cli::Cli,
    collector::{self, CollectorOptions},
    kernel::Kernel,
    model::Model,
};

pub async fn run(cli: &Cli, probe: Kernel, model: Model) -> anyhow::Result<()> {
    let model = Arc::new(Mutex::new(model));
    let (stop_tx, stop_rx) = watch::channel(false);
    let opts = CollectorOptions {
        interval: cli.interval,
        request_timeout: cli.request_timeout,
        ..CollectorOptions::default()
    };
    let collector = tokio::spawn(collector::run(probe, model.clone(), opts, stop_rx));

    wait_for_stop(cli.duration).await?;
    let _ = stop_tx.send(true);
    collector.await.context("collector task")??;

    let model = model.lock().unwrap_or_else(|p| p.into_inner());
    print_summary(cli, &model)
}

/// The summary on stdout: JSON with `--json`, else text.
pub fn print_summary(cli: &Cli, model: &Model) -> anyhow::Result<()> {
    let summary = model.summary(cli.top);
    let text = if cli.json {
        serde_json::to_string(&summary)? + "\n"
    } else {
        summary.to_text()
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Returns when the duration elapses or SIGINT/SIGTERM arrives.
async fn wait_for_stop(duration: Option<std::time::Duration>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let sleep = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sleep => {}
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
