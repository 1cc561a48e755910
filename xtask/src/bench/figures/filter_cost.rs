//! Figure 3, filter cost per packet: httptop's programs' run time per packet (the kernel's BPF
//! statistics) under HTTP and non-HTTP load, in each attach mode, with httptop's CPU per exchange
//! all in; and the floors: the same HTTP load with httptop's control filters.

use crate::bench::measure::CPU_SOURCE;
use anyhow::Result;

use super::{Bench, MIB, addr};
use crate::bench::{
    load,
    measure::{
        Attach, BpfStatsEnabled, FilterCost, HEADERS_ONLY, PAIRING_ONLY, ProcessSample,
        ProgramStats, RETURN_AT_ONCE, RunStats, verified_instructions,
    },
    report::{Check, Figure, Row},
};

const BULK_ADDR: &str = "127.0.0.1:9000";

pub const NULL_NS_PER_PACKET: &str = "HTTP load, filter returning at once: per packet";
pub const HEADERS_NS_PER_PACKET: &str = "HTTP load, filter parsing the headers only: per packet";
pub const PAIRING_NS_PER_PACKET: &str =
    "HTTP load, filter pairing by port without reading the payload: per packet";
/// httptop's target for its filter's time per packet, read by the checks here and by the
/// analysis of a miss.
pub const FILTER_NS_TARGET: f64 = 80.0;
/// httptop's target for its CPU per exchange, all in: its programs' run time over every packet
/// of the exchange plus its process's CPU time.
pub const EXCHANGE_NS_TARGET: f64 = 400.0;

/// Both programs' time per HTTP packet in mode `attach`.
pub fn http_ns_per_packet(attach: Attach) -> String {
    format!(
        "HTTP load, --attach {}: both programs per packet",
        attach.name()
    )
}

/// Both programs' time per non-HTTP packet in mode `attach`.
pub fn bulk_ns_per_packet(attach: Attach) -> String {
    format!(
        "non-HTTP load, --attach {}: both programs per packet",
        attach.name()
    )
}

/// Program runs (packets seen) per exchange in mode `attach`.
pub fn packets_per_exchange(attach: Attach) -> String {
    format!(
        "HTTP load, --attach {}: packets (program runs) per exchange",
        attach.name()
    )
}

/// httptop's process CPU per exchange in mode `attach`.
pub fn process_ns_per_exchange(attach: Attach) -> String {
    format!(
        "HTTP load, --attach {}: httptop's process CPU per exchange",
        attach.name()
    )
}

/// Everything httptop spends per exchange in mode `attach`.
pub fn exchange_ns(attach: Attach) -> String {
    format!(
        "HTTP load, --attach {}: CPU per exchange, all in (programs + process)",
        attach.name()
    )
}

/// One HTTP phase of httptop in one mode: the programs' work, wrk's requests and httptop's
/// process CPU time over it.
struct HttpPhase {
    cost: FilterCost,
    requests: u64,
    process_ns: f64,
    /// The instructions the verifier processed to load each program of the mode
    /// (`Attach::all_programs`).
    verified: Vec<Option<u64>>,
}

impl HttpPhase {
    fn exchange_ns(&self) -> f64 {
        (self.cost.entry_ns + self.cost.message_ns) as f64 / self.requests.max(1) as f64
            + self.process_ns / self.requests.max(1) as f64
    }
}

/// httptop in mode `attach` through one HTTP phase and one non-HTTP phase.
fn measure_mode(
    bench: &Bench,
    attach: Attach,
    http: &mut Vec<HttpPhase>,
    bulk: &mut Vec<(FilterCost, u64)>,
) -> Result<()> {
    let name = format!("filter-{}", attach.name());
    let httptop = bench.headless(&name, &attach.args())?;
    let pid = httptop.pid();
    let log = bench.log_file(&name);
    let verified = attach
        .all_programs()
        .iter()
        .map(|program| verified_instructions(&log, program))
        .collect::<Result<_>>()?;
    let (before, process) = (ProgramStats::read(pid, attach)?, ProcessSample::read(pid)?);
    let wrk = bench.wrk(bench.plan.filter_phase)?;
    http.push(HttpPhase {
        cost: ProgramStats::read(pid, attach)?.since(&before),
        requests: wrk.requests,
        process_ns: ProcessSample::read(pid)?.cpu_ns_since(&process),
        verified,
    });

    let before = ProgramStats::read(pid, attach)?;
    let (bytes, time) = (bench.plan.bulk_bytes, bench.plan.filter_phase);
    let sent = bench
        .namespace
        .run(|| load::bulk_transfer(addr(BULK_ADDR), bytes, time))??;
    bulk.push((ProgramStats::read(pid, attach)?.since(&before), sent));
    httptop.finish()?;
    Ok(())
}

/// Figure 3: the programs' run time per packet under HTTP and under non-HTTP load, per mode.
pub fn figure(bench: &Bench) -> Result<Figure> {
    let _stats = BpfStatsEnabled::enable()?;
    bench
        .commands
        .record_line("sysctl -w kernel.bpf_stats_enabled=1   # restored afterwards".into());
    bench
        .commands
        .record_line("bpftool -j prog show   # before and after each phase".into());
    let mut http: [Vec<HttpPhase>; 2] = [Vec::new(), Vec::new()];
    let mut bulk: [Vec<(FilterCost, u64)>; 2] = [Vec::new(), Vec::new()];
    for run in 0..bench.plan.runs {
        for (index, attach) in Attach::ALL.into_iter().enumerate() {
            eprintln!(
                "xtask bench: filter cost run {}/{}: --attach {}: HTTP, then non-HTTP",
                run + 1,
                bench.plan.runs,
                attach.name()
            );
            measure_mode(bench, attach, &mut http[index], &mut bulk[index])?;
        }
    }
    bench.commands.record_line(format!(
        "(bulk TCP transfer, the bench's own client: one connection to {BULK_ADDR}, 64 KiB writes, at most {} MiB or {} s)",
        bench.plan.bulk_bytes >> 20,
        bench.plan.filter_phase.as_secs()
    ));
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
            // The controls are socket filters.
            let args = [
                &Attach::Socket.args()[..],
                &["--bench-control-filter", value],
            ]
            .concat();
            let control = bench.headless("filter-control", &args)?;
            let before = RunStats::read(control.pid(), program)?;
            bench.wrk(bench.plan.filter_phase)?;
            control_ns[index]
                .push(RunStats::read(control.pid(), program)?.ns_per_run_since(&before));
            control.finish()?;
        }
    }
    let [null_ns, headers_ns, pairing_ns] = control_ns;
    let mut rows = Vec::new();
    for (index, attach) in Attach::ALL.into_iter().enumerate() {
        rows.extend(mode_rows(attach, &http[index], &bulk[index]));
    }
    rows.extend([
        Row::new(NULL_NS_PER_PACKET, "ns", null_ns),
        Row::new(HEADERS_NS_PER_PACKET, "ns", headers_ns),
        Row::new(PAIRING_NS_PER_PACKET, "ns", pairing_ns),
    ]);
    let [entry, message, head] = Attach::Socket.all_programs();
    let [tc_entry, tc_message, tc_head] = Attach::Tc.all_programs();
    let figure = Figure {
        title: "3. Filter cost per packet",
        setup: format!(
            "`kernel.bpf_stats_enabled=1`; run time and run count of httptop's programs (with `--attach \
             socket`, `{entry}` runs on every packet, `{message}` once per HTTP message and `{head}` where a \
             head runs on past its window or its segment; with `--attach tc`, `{tc_entry}`, `{tc_message}` and \
             `{tc_head}`) read with `bpftool -j prog show` before and after each phase, and \
             httptop's CPU time ({CPU_SOURCE}) over the HTTP phase. Per packet = (Δrun_time entry + Δrun_time \
             message) / Δrun_cnt entry. CPU per exchange, all in = (Δrun_time of both programs + httptop's CPU \
             time) / wrk's requests. Each mode in its own httptop, modes interleaved per run: HTTP (`wrk -t2 -c64 \
             -d{secs}s` against nginx) and non-HTTP (one bulk TCP transfer on loopback, 64 KiB writes). Then, as \
             the floors, the HTTP phase again with `httptop --attach socket --bench-control-filter {null}` \
             (program `{null_program}`, which returns at once), `--bench-control-filter {headers}` (program \
             `{headers_program}`, which loads and parses the network and TCP headers as `{entry}` does, then \
             returns) and `--bench-control-filter {pairing}` (program `{pairing_program}`: the same headers, then, \
             taking the lower port as the server's and reading no payload byte, the connection's state in the same \
             hash map as httptop's, the request's time kept, the response paired with it and the exchange sent \
             through the same ring buffer: the least a filter that pairs in the kernel does). The verifier's \
             instruction counts are from httptop's log of each mode's run (`BPF program NAME loaded: Some(N) \
             instructions verified`): the work of proving the programs safe, of its 1M limit.",
            secs = bench.plan.filter_phase.as_secs(),
            null = RETURN_AT_ONCE.0,
            null_program = RETURN_AT_ONCE.1,
            headers = HEADERS_ONLY.0,
            headers_program = HEADERS_ONLY.1,
            pairing = PAIRING_ONLY.0,
            pairing_program = PAIRING_ONLY.1,
        ),
        rows,
        notes: vec![
            "The message and head programs are reached by tail calls, and the kernel counts run time and runs only \
             for the program it starts (the entry program), from its start to the end of the last tail-called \
             one: so they show no runs of their own, and the entry program's run time already includes all of \
             theirs. Per packet is then the entry program's Δrun_time / Δrun_cnt, which includes the \
             statistics' own clock reads. On lo each packet is seen once in either mode: the socket ignores the \
             outgoing copy (`PACKET_IGNORE_OUTGOING`), and the classifier takes lo's ingress hook only. So an \
             exchange is about two program runs, both carrying HTTP (request and response; ACKs ride along): the \
             HTTP phase measures HTTP packets and the bulk phase non-HTTP ones (64 KiB segments on loopback)."
                .into(),
        ],
    };
    Ok(figure)
}

/// One mode's rows.
fn mode_rows(attach: Attach, http: &[HttpPhase], bulk: &[(FilterCost, u64)]) -> Vec<Row> {
    let mode = attach.name();
    let of_http = |f: &dyn Fn(&HttpPhase) -> f64| -> Vec<f64> { http.iter().map(f).collect() };
    // A kernel that does not report it gives no row rather than a 0.
    let verified = |program: usize, name: &str| {
        let counts: Option<Vec<f64>> = http
            .iter()
            .map(|p| p.verified[program].map(|n| n as f64))
            .collect();
        counts.map(|counts| {
            Row::new(
                format!("--attach {mode}: instructions the verifier processed to load {name}"),
                "insns",
                counts,
            )
        })
    };
    let of_bulk = |f: &dyn Fn(&FilterCost, u64) -> f64| -> Vec<f64> {
        bulk.iter().map(|(cost, sent)| f(cost, *sent)).collect()
    };
    vec![
        Row::new(
            http_ns_per_packet(attach),
            "ns",
            of_http(&|p| p.cost.ns_per_packet()),
        )
        .target(Check::MedianAtMost(FILTER_NS_TARGET)),
        Row::new(
            packets_per_exchange(attach),
            "packets",
            of_http(&|p| p.cost.entry_runs as f64 / p.requests.max(1) as f64),
        ),
        Row::new(
            process_ns_per_exchange(attach),
            "ns",
            of_http(&|p| p.process_ns / p.requests.max(1) as f64),
        ),
        Row::new(exchange_ns(attach), "ns", of_http(&HttpPhase::exchange_ns))
            .target(Check::MedianAtMost(EXCHANGE_NS_TARGET)),
        Row::new(
            format!("HTTP load, --attach {mode}: runs counted for the message program"),
            "runs",
            of_http(&|p| p.cost.message_runs as f64),
        ),
        Row::new(
            format!("HTTP load, --attach {mode}: packets"),
            "packets",
            of_http(&|p| p.cost.entry_runs as f64),
        ),
        Row::new(
            bulk_ns_per_packet(attach),
            "ns",
            of_bulk(&|cost, _| cost.ns_per_packet()),
        )
        .target(Check::MedianAtMost(FILTER_NS_TARGET)),
        Row::new(
            format!("non-HTTP load, --attach {mode}: message program runs"),
            "runs",
            of_bulk(&|cost, _| cost.message_runs as f64),
        ),
        Row::new(
            format!("non-HTTP load, --attach {mode}: packets"),
            "packets",
            of_bulk(&|cost, _| cost.entry_runs as f64),
        ),
        Row::new(
            format!("non-HTTP load, --attach {mode}: bytes sent"),
            "MiB",
            of_bulk(&|_, bytes| bytes as f64 / MIB),
        ),
    ]
    .into_iter()
    .chain(
        attach
            .all_programs()
            .iter()
            .enumerate()
            .filter_map(|(i, program)| verified(i, program)),
    )
    .collect()
}
