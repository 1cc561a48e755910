//! Figure 5, scale: many concurrent keep-alive connections, mostly idle: httptop's count, its
//! memory and the kernel map's, and the dashboard's frame render time.

use std::{
    collections::BTreeMap,
    thread,
    time::{Duration, Instant},
};

use anyhow::Result;

use super::{Bench, MIB, NGINX_ADDR, SETTLE, addr};
use crate::bench::{
    load,
    measure::{ProcessSample, map_memory},
    observers,
    report::{Check, Figure, Row},
};

/// Figure 5: many concurrent keep-alive connections, mostly idle.
pub fn figure(bench: &Bench) -> Result<Figure> {
    let plan = bench.plan;
    let connections = plan.scale_connections;
    let timeout = plan.scale_request_timeout;
    let timeout_arg = format!("{}s", timeout.as_secs());
    let mut rows: [Vec<f64>; 10] = Default::default();
    for run in 0..plan.runs {
        eprintln!(
            "xtask bench: scale run {}/{}: {connections} connections × {} requests",
            run + 1,
            plan.runs,
            plan.scale_rounds
        );
        bench.nginx.truncate_access_log()?;
        let httptop = bench.headless("scale", &["--request-timeout", &timeout_arg])?;
        let pid = httptop.pid();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut open = bench
            .namespace
            .run(|| load::open_connections(addr(NGINX_ADDR), connections, 4, deadline))??;
        let mut sent = 0;
        for _ in 0..plan.scale_rounds {
            sent += load::exchange_on_each(&mut open, 4, deadline)?;
        }
        // All open, all idle: what the kernel map and httptop hold for them.
        thread::sleep(SETTLE);
        let busy_maps = map_memory(pid)?;
        // Past the request timeout (plus a sweep period), idle entries must be gone.
        thread::sleep(timeout + Duration::from_millis(1500));
        let idle_maps = map_memory(pid)?;
        let sample = ProcessSample::read(pid)?;
        drop(open);
        thread::sleep(SETTLE);
        let summary = httptop.finish()?;
        let logged = bench.nginx.logged_requests()?;
        let conns =
            |maps: &BTreeMap<String, u64>| maps.get("CONNS").copied().unwrap_or(0) as f64 / MIB;
        let values = [
            f64::from(connections),
            sent as f64,
            logged as f64,
            summary.exchanges as f64,
            summary.exchanges.abs_diff(sent) as f64,
            sample.peak_rss_bytes as f64 / MIB,
            conns(&busy_maps),
            conns(&idle_maps),
            (conns(&busy_maps) - conns(&idle_maps)) * MIB / f64::from(connections.max(1)),
            busy_maps.values().sum::<u64>() as f64 / MIB,
        ];
        for (row, value) in rows.iter_mut().zip(values) {
            row.push(value);
        }
    }
    bench.commands.record_line(format!(
        "(scale load, the bench's own client: {connections} keep-alive connections to {NGINX_ADDR} opened by 4 \
         threads, then {} rounds of one request on each, then all left open and idle)",
        plan.scale_rounds
    ));
    let render: Vec<f64> = (0..plan.runs)
        .map(|_| {
            observers::render_time(bench.binary, plan.render_frames, bench.commands)
                .map(|d| d.as_secs_f64() * 1e3)
        })
        .collect::<Result<_>>()?;
    let [
        opened,
        sent,
        logged,
        exchanges,
        difference,
        rss,
        conns_busy,
        conns_idle,
        conns_per_connection,
        maps_total,
    ] = rows;
    Ok(Figure {
        title: "5. Scale",
        setup: format!(
            "{connections} concurrent keep-alive connections to nginx (`worker_connections` 12000, \
             `worker_rlimit_nofile` raised; the bench raises its own open-file limit to the hard limit), {} requests \
             on each, all left open and idle. httptop runs with `--request-timeout {timeout_arg}`; the kernel map \
             memory (`bytes_memlock` from `bpftool -j map show`, maps held by httptop) is read with every \
             connection open just after the requests, and again after the request timeout plus 1.5 s (idle entries \
             expired by httptop's sweep). Frame render time: `httptop --bench-render {}` (mean time to draw a 200×60 \
             dashboard frame with 10,000 rows).",
            plan.scale_rounds, plan.render_frames
        ),
        rows: vec![
            Row::new("connections open at once", "connections", opened),
            Row::new("exchanges sent", "exchanges", sent),
            Row::new("nginx access-log lines", "requests", logged),
            Row::new("httptop exchanges", "exchanges", exchanges),
            Row::new("|httptop exchanges − sent|", "exchanges", difference)
                .target(Check::AllAtMost(0.0)),
            Row::new("httptop peak RSS", "MiB", rss).target(Check::MedianAtMost(50.0)),
            Row::new("CONNS map, all connections open", "MiB", conns_busy),
            Row::new("CONNS map, after the request timeout", "MiB", conns_idle),
            Row::new(
                "CONNS map, per open connection (all open − after the timeout)",
                "bytes",
                conns_per_connection,
            ),
            Row::new("all httptop maps, all connections open", "MiB", maps_total),
            Row::new("frame render time, 10,000 rows", "ms", render)
                .target(Check::MedianAtMost(2.0)),
        ],
        notes: Vec::new(),
    })
}
