//! The collector task: probe → model. It polls the ring buffer on a timer (the kernel never
//! wakes us per event: that halves a busy server's throughput), refreshes kernel totals, sweeps
//! stale connections and closes sparkline points. It is the only writer of what the kernel
//! reports; the dashboard writes nothing but its requests to reset or change the filter.

use std::time::Duration;

use tokio::{sync::watch, time::MissedTickBehavior};

use crate::{
    export::Exports,
    kernel::{Kernel, monotonic_ns},
    model::{Event, SharedModel},
};

#[derive(Clone, Debug)]
pub struct CollectorOptions {
    /// Ring-buffer poll period.
    pub poll: Duration,
    /// Kernel totals refresh period.
    pub totals: Duration,
    /// Sparkline point period (the dashboard's refresh interval).
    pub interval: Duration,
    /// A connection silent this long is dropped and its outstanding requests expire.
    pub request_timeout: Duration,
}

impl Default for CollectorOptions {
    fn default() -> Self {
        CollectorOptions {
            poll: Duration::from_millis(10),
            totals: Duration::from_millis(200),
            interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
        }
    }
}

fn ticker(period: Duration) -> tokio::time::Interval {
    let mut t = tokio::time::interval(period);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// Runs until `shutdown` turns true, then detaches the probe, drains what the kernel sent
/// before the detach and reads the totals last, so the model ends with every exchange the
/// kernel counted.
pub async fn run(
    mut probe: Kernel,
    model: SharedModel,
    exports: Exports,
    opts: CollectorOptions,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let to = Destinations {
        model: &model,
        exports: &exports,
    };
    let mut poll = ticker(opts.poll);
    let mut totals = ticker(opts.totals);
    let mut sweep = ticker(Duration::from_secs(1).min(opts.request_timeout));
    let mut interval = ticker(opts.interval);
    let mut batch: Vec<Event> = Vec::with_capacity(4096);
    loop {
        tokio::select! {
            _ = poll.tick() => drain(&mut probe, to, &mut batch),
            _ = totals.tick() => refresh_totals(&probe, to),
            // A scrape: everything up to now, so its counters and histogram agree.
            _ = exports.refresh_wanted() => {
                drain(&mut probe, to, &mut batch);
                refresh_totals(&probe, to);
                exports.refreshed();
            }
            _ = sweep.tick() => {
                if let Err(e) = probe.sweep(monotonic_ns(), opts.request_timeout) {
                    log::warn!("sweep: {e}");
                }
                if let Err(e) = probe.refresh_interfaces() {
                    log::warn!("tapping new interfaces: {e}");
                }
            }
            // Fresh totals right before the point closes, so each interval's deltas (the
            // filter's cost, the counts) cover exactly that interval.
            _ = interval.tick() => {
                refresh_totals(&probe, to);
                model.tick(monotonic_ns());
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    probe.detach();
    // Let program runs that started before the detach finish.
    tokio::time::sleep(Duration::from_millis(20)).await;
    drain(&mut probe, to, &mut batch);
    if let Err(e) = probe.sweep(monotonic_ns(), opts.request_timeout) {
        log::warn!("sweep: {e}");
    }
    refresh_totals(&probe, to);
    Ok(())
}

/// Where what the kernel reports goes: the model, and the exports that were asked for.
#[derive(Clone, Copy)]
struct Destinations<'a> {
    model: &'a SharedModel,
    exports: &'a Exports,
}

fn drain(probe: &mut Kernel, to: Destinations<'_>, batch: &mut Vec<Event>) {
    probe.drain_events(|e| batch.push(e));
    to.exports.record_events(batch);
    to.model.record_batch(batch);
}

fn refresh_totals(probe: &Kernel, to: Destinations<'_>) {
    match probe.totals() {
        Ok(t) => {
            to.exports.set_kernel_totals(&t);
            to.model.set_kernel_totals(t);
        }
        Err(e) => log::warn!("reading kernel totals: {e}"),
    }
}
