//! Figure 3, filter cost per packet: the socket filter's run time per packet (the kernel's BPF
//! statistics) under HTTP and non-HTTP load, and the floors: the same HTTP load with httptop's
//! control filters.

use anyhow::Result;

use super::{Bench, MIB, addr};
use crate::bench::{
    load,
    measure::{
        BpfStatsEnabled, ENTRY_PROGRAM, FilterCost, HEADERS_ONLY, MESSAGE_PROGRAM, PAIRING_ONLY,
        ProgramStats, RETURN_AT_ONCE, RunStats,
    },
    report::{Check, Figure, Row},
};

const BULK_ADDR: &str = "127.0.0.1:9000";

pub const NULL_NS_PER_PACKET: &str = "HTTP load, filter returning at once: per packet";
pub const HEADERS_NS_PER_PACKET: &str = "HTTP load, filter parsing the headers only: per packet";
pub const PAIRING_NS_PER_PACKET: &str =
    "HTTP load, filter pairing by port without reading the payload: per packet";
pub const HTTP_NS_PER_PACKET: &str = "HTTP load: both programs per packet";
pub const BULK_NS_PER_PACKET: &str = "non-HTTP load: both programs per packet";
pub const PACKETS_PER_EXCHANGE: &str = "HTTP load: packets (filter runs) per exchange";
/// httptop's target for its filter's time per packet, read by the checks here and by the
/// analysis of a miss.
pub const FILTER_NS_TARGET: f64 = 80.0;

/// Figure 3: the socket filter's run time per packet under HTTP and under non-HTTP load.
pub fn figure(bench: &Bench) -> Result<Figure> {
    let _stats = BpfStatsEnabled::enable()?;
    bench
        .commands
        .record_line("sysctl -w kernel.bpf_stats_enabled=1   # restored afterwards".into());
    bench
        .commands
        .record_line("bpftool -j prog show   # before and after each phase".into());
    let httptop = bench.headless("filter", &[])?;
    let pid = httptop.pid();
    let mut http: Vec<(FilterCost, u64)> = Vec::new();
    let mut bulk: Vec<(FilterCost, u64)> = Vec::new();
    for run in 0..bench.plan.runs {
        eprintln!(
            "xtask bench: filter cost run {}/{}: HTTP, then non-HTTP",
            run + 1,
            bench.plan.runs
        );
        let before = ProgramStats::read(pid)?;
        let wrk = bench.wrk(bench.plan.filter_phase)?;
        http.push((ProgramStats::read(pid)?.since(&before), wrk.requests));

        let before = ProgramStats::read(pid)?;
        let (bytes, time) = (bench.plan.bulk_bytes, bench.plan.filter_phase);
        let sent = bench
            .namespace
            .run(|| load::bulk_transfer(addr(BULK_ADDR), bytes, time))??;
        bulk.push((ProgramStats::read(pid)?.since(&before), sent));
    }
    bench.commands.record_line(format!(
        "(bulk TCP transfer, the bench's own client: one connection to {BULK_ADDR}, 64 KiB writes, at most {} MiB or {} s)",
        bench.plan.bulk_bytes >> 20,
        bench.plan.filter_phase.as_secs()
    ));
    httptop.finish()?;
    // The floors, under the same HTTP load: a filter that returns at once (the run itself and
    // the statistics' clock reads), one that only loads and parses the headers as httptop's
    // does, and one that also pairs requests with responses by port and sends the events, but
    // reads no payload byte. Separate runs: two taps at once would share the load.
    let mut control_ns = [Vec::new(), Vec::new(), Vec::new()];
    for run in 0..bench.plan.runs {
        let controls = [RETURN_AT_ONCE, HEADERS_ONLY, PAIRING_ONLY];
        for (index, (value, program)) in controls.into_iter().enumerate() {
            eprintln!(
                "xtask bench: filter cost run {}/{}: HTTP, control filter {value}",
                run + 1,
                bench.plan.runs
            );
            let control = bench.headless("filter-control", &["--bench-control-filter", value])?;
            let before = RunStats::read(control.pid(), program)?;
            bench.wrk(bench.plan.filter_phase)?;
            control_ns[index]
                .push(RunStats::read(control.pid(), program)?.ns_per_run_since(&before));
            control.finish()?;
        }
    }
    let [null_ns, headers_ns, pairing_ns] = control_ns;
    let per = |runs: &[(FilterCost, u64)], f: &dyn Fn(&FilterCost, u64) -> f64| -> Vec<f64> {
        runs.iter().map(|(cost, extra)| f(cost, *extra)).collect()
    };
    let http_ns = per(&http, &|cost, _| cost.ns_per_packet());
    let packets_per_exchange = per(&http, &|cost, requests| {
        cost.entry_runs as f64 / requests.max(1) as f64
    });
    let figure = Figure {
        title: "3. Filter cost per packet",
        setup: format!(
            "`kernel.bpf_stats_enabled=1`; run time and run count of httptop's two programs (`{}` runs on every \
             packet, `{}` once per HTTP message) read with `bpftool -j prog show` before and after each phase. Per \
             packet = (Δrun_time `{}` + Δrun_time `{}`) / Δrun_cnt `{}`. Phases, interleaved: HTTP (`wrk -t2 -c64 \
             -d{}s` against nginx) and non-HTTP (one bulk TCP transfer on loopback, 64 KiB writes). Then, as the \
             floors, the HTTP phase again with `httptop --bench-control-filter {}` (program `{}`, which returns \
             at once), `--bench-control-filter {}` (program `{}`, which loads and parses the network and TCP \
             headers as `{}` does, then returns) and `--bench-control-filter {}` (program `{}`: the same headers, \
             then, taking the lower port as the server's and reading no payload byte, the connection's state in \
             the same hash map as httptop's, the request's time kept, the response paired with it and the \
             exchange sent through the same ring buffer: the least a filter that pairs in the kernel does).",
            ENTRY_PROGRAM,
            MESSAGE_PROGRAM,
            ENTRY_PROGRAM,
            MESSAGE_PROGRAM,
            ENTRY_PROGRAM,
            bench.plan.filter_phase.as_secs(),
            RETURN_AT_ONCE.0,
            RETURN_AT_ONCE.1,
            HEADERS_ONLY.0,
            HEADERS_ONLY.1,
            ENTRY_PROGRAM,
            PAIRING_ONLY.0,
            PAIRING_ONLY.1,
        ),
        rows: vec![
            Row::new(HTTP_NS_PER_PACKET, "ns", http_ns).target(Check::MedianAtMost(FILTER_NS_TARGET)),
            Row::new(PACKETS_PER_EXCHANGE, "packets", packets_per_exchange),
            Row::new("HTTP load: runs counted for the message program", "runs", per(&http, &|cost, _| cost.message_runs as f64)),
            Row::new("HTTP load: packets", "packets", per(&http, &|cost, _| cost.entry_runs as f64)),
            Row::new(BULK_NS_PER_PACKET, "ns", per(&bulk, &|cost, _| cost.ns_per_packet()))
                .target(Check::MedianAtMost(FILTER_NS_TARGET)),
            Row::new("non-HTTP load: message program runs", "runs", per(&bulk, &|cost, _| cost.message_runs as f64)),
            Row::new("non-HTTP load: packets", "packets", per(&bulk, &|cost, _| cost.entry_runs as f64)),
            Row::new("non-HTTP load: bytes sent", "MiB", per(&bulk, &|_, bytes| bytes as f64 / MIB)),
            Row::new(NULL_NS_PER_PACKET, "ns", null_ns),
            Row::new(HEADERS_NS_PER_PACKET, "ns", headers_ns),
            Row::new(PAIRING_NS_PER_PACKET, "ns", pairing_ns),
        ],
        notes: vec![
            "The message program is reached by a tail call, and the kernel counts run time and runs only for the \
             program it starts (the entry program), from its start to the end of the tail-called one: so \
             `httptop_message` shows no runs of its own, and the entry program's run time already includes every \
             message program run. Per packet is then the entry program's Δrun_time / Δrun_cnt, which includes the \
             statistics' own clock reads. httptop's socket on lo ignores the outgoing copy of each packet \
             (`PACKET_IGNORE_OUTGOING`), so an exchange is about two filter runs, both carrying HTTP (request and \
             response; ACKs ride along): the HTTP phase measures HTTP packets and the bulk phase non-HTTP ones \
             (64 KiB segments on loopback)."
                .into(),
        ],
    };
    Ok(figure)
}
