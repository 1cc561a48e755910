//! For each missed target, a paragraph with the measurements that explain it, read back from
//! the figures (medians over the runs).

use super::{
    figures::{
        attribution::{
            CPU_AT_NEW_PER_SECOND, CPU_TARGET, FRESH, KERNEL_CPU_AT_NEW_PER_SECOND,
            KERNEL_NS_PER_NEW, NEW_AS_CALLS_OF_TEN, READLINKS_PER_NEW,
            SEARCH_CPU_AT_NEW_PER_SECOND, TOLD_AS_CALLS_OF_TEN, TOLD_LOOKUPS_PER_NEW,
        },
        filter_cost::{
            EXCHANGE_NS_TARGET, FILTER_NS_TARGET, HEADERS_NS_PER_PACKET, NULL_NS_PER_PACKET,
            PAIRING_NS_PER_PACKET, bulk_ns_per_packet, exchange_ns, http_ns_per_packet,
            packets_per_exchange, process_ns_per_exchange,
        },
        latency::{CLIENT_READ, CLIENT_RECEIVED, CLIENT_WAKE_UP, HTTPTOP, TSHARK},
        throughput::{
            IDLE_TAP_RATIO, NO_OBSERVER_RATE, NULL_FILTER_RATIO, PAIRING_FILTER_RATIO,
            PAIRING_PROCESS_NS, THROUGHPUT_RATIO_TARGET, attached_process_ns, httptop_ratio,
            ratio_over_bare_tap, ratio_over_captures,
        },
    },
    measure::Attach,
    report::{Figure, Row, Spread, number},
};

pub fn explain_misses(figures: &[Figure]) -> Vec<String> {
    let rows: Vec<&Row> = figures.iter().flat_map(|figure| &figure.rows).collect();
    let median = |metric: &str| -> Option<f64> {
        rows.iter()
            .find(|row| row.metric == metric)
            .and_then(|row| Spread::of(&row.samples))
            .map(|spread| spread.median)
    };
    let mut paragraphs = Vec::new();
    let mode_of = |names: &dyn Fn(Attach) -> String, metric: &str| {
        Attach::ALL
            .into_iter()
            .find(|attach| names(*attach) == metric)
    };
    for row in rows.iter().filter(|row| row.met() == Some(false)) {
        let throughput_mode = mode_of(&ratio_over_bare_tap, &row.metric)
            .or_else(|| mode_of(&ratio_over_captures, &row.metric));
        let filter_mode = mode_of(&http_ns_per_packet, &row.metric)
            .or_else(|| mode_of(&bulk_ns_per_packet, &row.metric));
        let explained = if let Some(attach) = throughput_mode {
            throughput(&median, attach)
        } else if let Some(attach) = filter_mode {
            filter_cost(&median, attach)
        } else if let Some(attach) = mode_of(&exchange_ns, &row.metric) {
            exchange_cost(&median, attach)
        } else if let Some((server, reference, percentile)) = latency_comparison(&row.metric) {
            latency(&median, server, reference, percentile)
        } else if row.metric == CPU_AT_NEW_PER_SECOND {
            attribution_cost(&median)
        } else {
            None
        };
        paragraphs.push(explained.unwrap_or_else(|| {
            let spread = Spread::of(&row.samples).map_or_else(String::new, |s| {
                format!(
                    "min {} / median {} / max {} {}",
                    number(s.min),
                    number(s.median),
                    number(s.max),
                    row.unit
                )
            });
            format!("{}: {spread}.", row.metric)
        }));
    }
    // Two rows can have one explanation (a mode's HTTP and non-HTTP filter cost): say it once.
    let mut seen = std::collections::HashSet::new();
    paragraphs.retain(|paragraph| seen.insert(paragraph.clone()));
    paragraphs
}

/// The attribution of new connections against its CPU target, told by the owners probe: the
/// time of the calls of 10 and the lookups they still made, the probe's own kernel time; then
/// the search's, the way for ends the probe did not tell.
fn attribution_cost(median: &dyn Fn(&str) -> Option<f64>) -> Option<String> {
    let cpu = median(CPU_AT_NEW_PER_SECOND)?;
    let told = median(TOLD_AS_CALLS_OF_TEN)?;
    let lookups = median(TOLD_LOOKUPS_PER_NEW)?;
    let kernel_ns = median(KERNEL_NS_PER_NEW)?;
    let kernel_cpu = median(KERNEL_CPU_AT_NEW_PER_SECOND)?;
    let search_cpu = median(SEARCH_CPU_AT_NEW_PER_SECOND)?;
    let calls_of_ten = median(NEW_AS_CALLS_OF_TEN)?;
    let readlinks = median(READLINKS_PER_NEW)?;
    let fresh = median(FRESH)?;
    Some(format!(
        "Process attribution at 1,000 new connections per second, both ends told by the owners probe: {} % of \
         one core against the {} % target ({}×): 100 calls of 10 new connections, each draining the probe, \
         took {} ms, {} µs per new connection, with {} sock_diag lookups each. The probe's programs spent {} ns \
         in the kernel per new connection ({} % of a core at that rate). Ends found by the search instead \
         (connections older than httptop, or records lost): {} % of one core, {} µs per new connection with {} \
         readlinks each (one per local end); its first call, 10,000 connections with the index empty, took {} \
         ms ({} µs each).",
        number(cpu),
        number(CPU_TARGET),
        number(cpu / CPU_TARGET),
        number(told),
        number(told),
        number(lookups),
        number(kernel_ns),
        number(kernel_cpu),
        number(search_cpu),
        number(calls_of_ten),
        number(readlinks),
        number(fresh),
        number(fresh / 10.0),
    ))
}

/// httptop's CPU per exchange, all in, against its target: the programs' and the process's
/// shares, and by how much the target is missed.
fn exchange_cost(median: &dyn Fn(&str) -> Option<f64>, attach: Attach) -> Option<String> {
    let all_in = median(&exchange_ns(attach))?;
    let per_packet = median(&http_ns_per_packet(attach))?;
    let packets = median(&packets_per_exchange(attach))?;
    let process = median(&process_ns_per_exchange(attach))?;
    Some(format!(
        "CPU per exchange, all in (--attach {}): {} ns against the {} ns target, missed by {} ns ({}×): the \
         programs {} ns per packet × {} packets = {} ns, httptop's process {} ns (medians of separate rows, so \
         the sum need not equal the all-in median exactly).",
        attach.name(),
        number(all_in),
        number(EXCHANGE_NS_TARGET),
        number(all_in - EXCHANGE_NS_TARGET),
        number(all_in / EXCHANGE_NS_TARGET),
        number(per_packet),
        number(packets),
        number(per_packet * packets),
        number(process),
    ))
}

/// Where the requests lost with httptop attached went, per request, against the machine's CPU
/// budget per request and what the target allows.
fn throughput(median: &dyn Fn(&str) -> Option<f64>, attach: Attach) -> Option<String> {
    let baseline = median(NO_OBSERVER_RATE)?;
    let ratio = median(&httptop_ratio(attach))?;
    // The target is relative to httptop's bare tap (its sockets, filter returning at once).
    let bare_tap = median(NULL_FILTER_RATIO)?;
    let target = THROUGHPUT_RATIO_TARGET * bare_tap;
    let beaten = median(&ratio_over_captures(attach)).map_or_else(String::new, |margin| {
        format!(
            "httptop's ratio less the better of tcpdump's and tshark's, round by round: median {} (the \
             target: above 0 in every round). ",
            number(margin)
        )
    });
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let budget_ns = cores * 1e9 / baseline;
    // With every core busy, a rate ratio r means each request cost 1/r as much CPU.
    let extra_ns = |ratio: f64| budget_ns * (1.0 / ratio - 1.0);
    let mut text = format!(
        "{beaten}Throughput (--attach {}: httptop / none = {}, the bare tap's {} so the target is {}): \
         unobserved, the machine spends {} ns of CPU per request ({cores:.0} \
         cores / {} req/s, nginx and wrk keeping every core busy), so the ratio means {} ns more per request, \
         where the target allows {} ns. ",
        attach.name(),
        number(ratio),
        number(bare_tap),
        number(target),
        number(budget_ns),
        number(baseline),
        number(extra_ns(ratio)),
        number(extra_ns(target)),
    );
    let mut parts = Vec::new();
    // Only the socket mode has the sockets: the classifier has no tap to pay for.
    if attach == Attach::Socket
        && let Some(null) = median(NULL_FILTER_RATIO)
    {
        text.push_str(&format!(
            "httptop's own sockets and process with a filter that returns at once reach {} of the unobserved \
             rate ({} ns per request{}). ",
            number(null),
            number(extra_ns(null).max(0.0)),
            if null < target {
                ": below the target before httptop's filter does any work"
            } else {
                ""
            },
        ));
        parts.push((
            "the sockets, filter returning at once".to_owned(),
            extra_ns(null).max(0.0),
        ));
    }
    // Headless runs leave BPF statistics off: the filter's share comes from figure 3, less
    // what the filter returning at once costs there (it is inside the part above).
    if let Some(work) = FilterWork::of(median, &http_ns_per_packet(attach), attach) {
        parts.push((
            format!("httptop's filter work (figure 3: {})", work.formula()),
            work.per_exchange_ns,
        ));
    }
    if let Some(process) = median(&attached_process_ns(attach)) {
        parts.push((
            "httptop's process (its CPU time over the same runs, per request)".to_owned(),
            process,
        ));
    }
    let accounted: f64 = parts.iter().map(|(_, ns)| ns).sum();
    let listed = parts
        .iter()
        .map(|(what, ns)| format!("{what}: {} ns", number(*ns)))
        .collect::<Vec<_>>()
        .join("; ");
    text.push_str(&format!(
        "Accounted for: {listed}; together {} ns against the {} ns measured{}.",
        number(accounted),
        number(extra_ns(ratio)),
        if let Some(tap) = median(IDLE_TAP_RATIO) {
            format!(
                " (for comparison, tcpdump's kind of tap with a filter that matches nothing: ratio {})",
                number(tap)
            )
        } else {
            String::new()
        },
    ));
    if let Some(floor) = pairing_floor(median, extra_ns(target)) {
        text.push(' ');
        text.push_str(&floor);
    }
    Some(text)
}

/// A filter's own work per exchange from figure 3: its cost per packet, less what a filter
/// returning at once costs (the run itself and the statistics' clock reads), times the packets
/// of an exchange.
struct FilterWork {
    per_packet_ns: f64,
    run_floor_ns: f64,
    packets: f64,
    per_exchange_ns: f64,
}

impl FilterWork {
    fn of(
        median: &dyn Fn(&str) -> Option<f64>,
        per_packet_metric: &str,
        attach: Attach,
    ) -> Option<Self> {
        let per_packet_ns = median(per_packet_metric)?;
        let packets = median(&packets_per_exchange(attach))?;
        let run_floor_ns = median(NULL_NS_PER_PACKET).unwrap_or(0.0);
        Some(Self {
            per_packet_ns,
            run_floor_ns,
            packets,
            per_exchange_ns: (per_packet_ns - run_floor_ns).max(0.0) * packets,
        })
    }

    /// "(P − F) ns per packet × N packets per exchange".
    fn formula(&self) -> String {
        format!(
            "({} − {}) ns per packet × {} packets per exchange",
            number(self.per_packet_ns),
            number(self.run_floor_ns),
            number(self.packets)
        )
    }
}

/// What the least design that pairs in the kernel and reports every exchange costs per request
/// (the pairing control of figures 1 and 3), against what the throughput target allows.
fn pairing_floor(median: &dyn Fn(&str) -> Option<f64>, allowed_ns: f64) -> Option<String> {
    // The pairing control is a socket filter.
    let work = FilterWork::of(median, PAIRING_NS_PER_PACKET, Attach::Socket)?;
    let process = median(PAIRING_PROCESS_NS)?;
    let filter = work.per_exchange_ns;
    let floor = filter + process;
    let mut text = format!(
        "The least a design that pairs requests with responses in the kernel and reports each exchange to \
         user space costs here (the pairing control: the headers parsed, the connection's state in httptop's hash \
         map, the request's time kept, the response paired, the event through the ring buffer and consumed by \
         httptop's process, and no payload byte read): filter {} = {} ns, \
         {}× the {} ns the target allows before any user space; with httptop's process consuming the events \
         ({} ns), {} ns per request",
        work.formula(),
        number(filter),
        number(filter / allowed_ns),
        number(allowed_ns),
        number(process),
        number(floor),
    );
    if let Some(ratio) = median(PAIRING_FILTER_RATIO) {
        text.push_str(&format!(" (its measured ratio: {})", number(ratio)));
    }
    text.push_str(if filter > allowed_ns {
        ". So at the rate this machine reaches, the target is out of reach for the design the product \
         prescribes (pairing by tuple in kernel maps, an event per exchange), however cheap its HTTP parsing; \
         httptop's parsing and framing (the rest of its cost) come on top of that floor."
    } else {
        ". The filter's floor fits the target: the miss is in httptop's own work on top of it."
    });
    Some(text)
}

fn filter_cost(median: &dyn Fn(&str) -> Option<f64>, attach: Attach) -> Option<String> {
    let target = FILTER_NS_TARGET;
    let http = median(&http_ns_per_packet(attach))?;
    let bulk = median(&bulk_ns_per_packet(attach))?;
    let mut text = format!(
        "Filter cost (--attach {}): {} ns per HTTP packet, {} ns per non-HTTP packet.",
        attach.name(),
        number(http),
        number(bulk),
    );
    if let (Some(floor), Some(headers)) =
        (median(NULL_NS_PER_PACKET), median(HEADERS_NS_PER_PACKET))
    {
        text.push_str(&format!(
            " Under the same HTTP load, a filter that returns at once costs {} ns per packet (the run and the \
             statistics' own clock reads), and one that only loads and parses the network and TCP headers, as \
             httptop's does before anything else, {} ns{}. On top of the headers, an HTTP packet costs httptop {} \
             ns (the connection's hash lookup, the request or status line, the header scan, the pairing and a \
             ring-buffer record), a non-HTTP one {} ns.",
            number(floor),
            number(headers),
            if headers > target {
                format!(": above the {target} ns target before a single payload byte is looked at")
            } else {
                format!(", which leaves {} ns of the target for the rest", number(target - headers))
            },
            number(http - headers),
            number(bulk - headers),
        ));
    }
    if let Some(pairing) = median(PAIRING_NS_PER_PACKET) {
        text.push_str(&format!(
            " A filter that only pairs by port and sends the events (no payload byte read) costs {} ns per \
             packet: of httptop's {} ns, {} ns are its HTTP parsing and framing.",
            number(pairing),
            number(http),
            number(http - pairing),
        ));
    }
    Some(text)
}

/// ("5 ms server", "client, read() return", "p99") from
/// "5 ms server: httptop vs client, read() return, p99".
fn latency_comparison(metric: &str) -> Option<(&str, &str, &str)> {
    let (server, comparison) = metric.split_once(": ")?;
    let (reference, percentile) = comparison
        .strip_prefix(&format!("{HTTPTOP} vs "))?
        .rsplit_once(", ")?;
    Some((server, reference, percentile))
}

fn latency(
    median: &dyn Fn(&str) -> Option<f64>,
    server: &str,
    reference: &str,
    percentile: &str,
) -> Option<String> {
    let at = |what: &str| median(&format!("{server}: {what} {percentile}"));
    let read = at(CLIENT_READ)?;
    let received = at(CLIENT_RECEIVED)?;
    let httptop = at(HTTPTOP)?;
    let tshark = at(TSHARK)?;
    let mut text = format!(
        "Latency, {server}, {percentile}, httptop against the {reference}: the client's read() returned at \
         {} ms, its kernel received the answer at {} ms, tshark saw it on the wire at {} ms, httptop measured {} \
         ms ({} µs from tshark, {} µs from the client's receive time).",
        number(read),
        number(received),
        number(tshark),
        number(httptop),
        number((httptop - tshark).abs() * 1e3),
        number((httptop - received).abs() * 1e3),
    );
    if reference == CLIENT_READ
        && let Some(wake_up) = at(CLIENT_WAKE_UP)
    {
        text.push_str(&format!(
            " Between the answer reaching the client's socket and its read() returning, the client waited {} µs \
             ({percentile} over its requests): its own wake-up on this busy two-core machine, after the bytes \
             arrived, which neither httptop nor tshark can see.",
            number(wake_up),
        ));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::latency_comparison;

    #[test]
    fn latency_metrics_name_their_server_reference_and_percentile() {
        assert_eq!(
            latency_comparison("5 ms server: httptop vs client, read() return, p99"),
            Some(("5 ms server", "client, read() return", "p99"))
        );
        assert_eq!(
            latency_comparison("50 ms server: httptop vs tshark http.time, p50"),
            Some(("50 ms server", "tshark http.time", "p50"))
        );
        assert_eq!(
            latency_comparison("5 ms server: client, read() return p99"),
            None
        );
    }
}
