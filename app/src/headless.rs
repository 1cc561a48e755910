//! `--headless` and `--read`: no dashboard; the run ends with the summary on stdout.

use std::time::Duration;

use tokio::sync::watch;

use crate::{
    model::{Group, Summary},
    signals::StopSignals,
};

/// How the summary is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummaryFormat {
    /// Aligned lines for people, latencies in human units.
    Text,
    /// One JSON object (`--json`): its keys are a contract scripts rely on.
    Json,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryOptions {
    pub format: SummaryFormat,
    /// The busiest rows listed (`--top`), of `group` and of connections.
    pub top: usize,
    /// The grouping of the summary's `top_rows` (`--group`).
    pub group: Group,
}

/// A live run without the dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadlessOptions {
    /// Collect this long; `None`: until SIGINT/SIGTERM.
    pub duration: Option<Duration>,
    pub summary: SummaryOptions,
}

/// Prints `summary` on stdout, or on stderr when stdout carried the JSON lines.
pub fn print_summary(summary: &Summary, opts: &SummaryOptions) -> anyhow::Result<()> {
    let text = match opts.format {
        SummaryFormat::Json => serde_json::to_string(summary)? + "\n",
        SummaryFormat::Text => summary.to_text(),
    };
    let mut out: Box<dyn std::io::Write> = if summary.json_lines.is_some() {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Returns when `duration` elapses, a stopping signal ([`StopSignals`]) arrives or `closed`
/// (the JSON lines' reader went away) turns true.
pub async fn wait_for_stop(
    duration: Option<Duration>,
    closed: Option<&mut watch::Receiver<bool>>,
) -> anyhow::Result<()> {
    let mut stop_signals = StopSignals::install()?;
    let sleep = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let closed = async {
        match closed {
            Some(closed) => {
                let _ = closed.wait_for(|closed| *closed).await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sleep => {}
        _ = stop_signals.recv() => {}
        _ = closed => {}
    }
    Ok(())
}
