//! `--headless` and `--read`: no dashboard; the run ends with the summary on stdout.

use std::{io::Write as _, time::Duration};

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

/// Prints `summary` on stdout.
pub fn print_summary(summary: &Summary, opts: &SummaryOptions) -> anyhow::Result<()> {
    let text = match opts.format {
        SummaryFormat::Json => serde_json::to_string(summary)? + "\n",
        SummaryFormat::Text => summary.to_text(),
    };
    let mut out = std::io::stdout();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Returns when `duration` elapses or a stopping signal ([`StopSignals`]) arrives.
pub async fn wait_for_stop(duration: Option<Duration>) -> anyhow::Result<()> {
    let mut stop_signals = StopSignals::install()?;
    let sleep = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = sleep => {}
        _ = stop_signals.recv() => {}
    }
    Ok(())
}
