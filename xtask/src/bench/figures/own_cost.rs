//! Figure 4, httptop's own cost: its CPU time and peak RSS at a fixed request rate, headless
//! and with the dashboard drawing in tmux.

use crate::bench::measure::CPU_SOURCE;
use std::{thread, time::Duration};

use anyhow::{Result, bail};

use super::{Bench, MIB, NGINX_ADDR, addr};
use crate::bench::{
    load,
    measure::ProcessSample,
    observers::{Dashboard, Headless},
    report::{Check, Figure, Row},
};

#[derive(Clone, Copy)]
enum Display {
    Headless,
    Dashboard,
}

/// Figure 4: httptop's CPU time and peak RSS at a fixed request rate, headless and with the
/// dashboard drawing in tmux.
pub fn figure(bench: &Bench) -> Result<Figure> {
    let plan = bench.plan;
    let mut cpu = [Vec::new(), Vec::new()];
    let mut rss = [Vec::new(), Vec::new()];
    let mut rates = [Vec::new(), Vec::new()];
    let mut notes = Vec::new();
    for run in 0..plan.runs {
        for (index, display) in [Display::Headless, Display::Dashboard]
            .into_iter()
            .enumerate()
        {
            eprintln!(
                "xtask bench: own-cost run {}/{}: {}",
                run + 1,
                plan.runs,
                ["headless", "dashboard"][index]
            );
            let (headless, dashboard) = match display {
                Display::Headless => (Some(bench.headless("own-cost", &[])?), None),
                Display::Dashboard => (
                    None,
                    Some(Dashboard::start(
                        bench.namespace,
                        bench.binary,
                        &bench.log_file("dashboard"),
                        bench.commands,
                    )?),
                ),
            };
            let pid = headless.as_ref().map_or_else(
                || dashboard.as_ref().map_or(0, Dashboard::pid),
                Headless::pid,
            );
            let warmup = Duration::from_millis(500);
            let (first, last, result) = thread::scope(|scope| -> Result<_> {
                let traffic = scope.spawn(|| {
                    bench.namespace.run(|| {
                        load::fixed_rate(
                            addr(NGINX_ADDR),
                            plan.fixed_rate_connections,
                            plan.fixed_rate,
                            plan.own_cost_window + 2 * warmup,
                        )
                    })
                });
                thread::sleep(warmup);
                let first = ProcessSample::read(pid)?;
                thread::sleep(plan.own_cost_window);
                let last = ProcessSample::read(pid)?;
                let result = load::joined(traffic)??;
                Ok((first, last, result))
            })?;
            cpu[index].push(last.cpu_percent_since(&first));
            rss[index].push(last.peak_rss_bytes as f64 / MIB);
            rates[index].push(result.exchanges as f64 / result.elapsed.as_secs_f64());
            if let Some(dashboard) = &dashboard
                && run == 0
            {
                let screen = dashboard.screen()?;
                if screen.trim().is_empty() {
                    bail!("httptop's dashboard drew nothing in tmux");
                }
                notes.push(format!(
                    "The dashboard's first screen lines in tmux (200×50), to show it drew: `{}`",
                    screen
                        .lines()
                        .find(|line| !line.trim().is_empty())
                        .unwrap_or("")
                        .trim()
                ));
            }
            if let Some(headless) = headless {
                headless.finish()?;
            }
        }
    }
    bench.commands.record_line(format!(
        "(fixed-rate load, the bench's own client: {} keep-alive connections to {NGINX_ADDR}, one thread each on a \
         fixed schedule, {} req/s in all, {} s)",
        plan.fixed_rate_connections,
        plan.fixed_rate,
        (plan.own_cost_window + Duration::from_secs(1)).as_secs()
    ));
    let [cpu_headless, cpu_dashboard] = cpu;
    let [rss_headless, rss_dashboard] = rss;
    let [rate_headless, rate_dashboard] = rates;
    let figure = Figure {
        title: "4. httptop's own cost",
        setup: format!(
            "nginx at a fixed {} req/s (the bench's own rate-limited client: {} keep-alive connections, each on a \
             fixed schedule). httptop's CPU time ({CPU_SOURCE}) over a {} s window that starts \
             0.5 s into the load (so loading the programs is not counted), and its peak RSS (VmHWM from \
             `/proc/PID/status`). Headless, and with the dashboard drawing in a 200×50 tmux pseudo-terminal \
             (default 1 s refresh), interleaved.",
            plan.fixed_rate,
            plan.fixed_rate_connections,
            plan.own_cost_window.as_secs()
        ),
        rows: vec![
            // Headless is what a fleet runs on every host: a hundredth of a core at 20k req/s.
            Row::new("headless: CPU", "% of one core", cpu_headless)
                .target(Check::MedianAtMost(1.0)),
            Row::new("headless: peak RSS", "MiB", rss_headless).target(Check::MedianAtMost(50.0)),
            Row::new("headless: rate reached", "req/s", rate_headless),
            Row::new("dashboard: CPU", "% of one core", cpu_dashboard)
                .target(Check::MedianAtMost(5.0)),
            Row::new("dashboard: peak RSS", "MiB", rss_dashboard).target(Check::MedianAtMost(50.0)),
            Row::new("dashboard: rate reached", "req/s", rate_dashboard),
        ],
        notes,
    };
    Ok(figure)
}
