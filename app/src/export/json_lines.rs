//! `--json-lines`: one JSON object per finished exchange on stdout, flushed as soon as no other
//! line waits, so `httptop --headless --json-lines | jq` follows the traffic live.
//!
//! The collector never waits for stdout: exchanges go through a bounded queue to a writer
//! thread, and when the reader falls behind and the queue is full, an exchange is dropped and
//! counted ([`JsonLinesCounts`]). `--read` waits instead (nothing is lost offline). The schema
//! ([`ExchangeLine`], version [`SCHEMA_VERSION`]) is documented in docs/terms.md ("JSON lines").

use std::{
    borrow::Cow,
    io::{self, Write},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc::{self, Receiver, SyncSender, TrySendError},
    },
    thread::JoinHandle,
    time::SystemTime,
};

use serde::Serialize;
use tokio::sync::watch;

use crate::model::{Clock, Exchange, Filter, Method, PathTemplate, ProcessSummary};

/// The `v` of every line; raised when a field changes meaning or goes away (new fields may be
/// added within a version).
pub const SCHEMA_VERSION: u32 = 1;
/// Exchanges queued for the writer before new ones are dropped (about 2 MiB).
pub const QUEUE_LEN: usize = 16_384;

/// One line of `--json-lines`: every field, its meaning in docs/terms.md ("JSON lines").
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ExchangeLine<'a> {
    /// The schema's version, [`SCHEMA_VERSION`].
    pub v: u32,
    /// The request's first segment, RFC 3339 with nanoseconds, UTC.
    pub time: String,
    /// `ip:port`, IPv6 as `[addr]:port`.
    pub client: String,
    pub server: String,
    /// The network namespace it was seen in: `host`, or its `ip netns` name; `null` with
    /// `--read`.
    pub netns: Option<String>,
    /// `null` when the method is not one httptop names.
    pub method: Option<&'a str>,
    /// The request target, query string and path parameters hidden unless `--show-query`.
    pub path: Cow<'a, str>,
    /// The endpoint's path template, as `--group endpoint` shows it.
    pub path_template: Cow<'a, str>,
    /// The final response's status code.
    pub status: u16,
    /// Time to first byte: request's first segment to the status line, ns.
    pub latency_ns: u64,
    /// Time to last byte: request's first segment to the segment with the response's last
    /// byte, ns; `null` when that end was not seen.
    pub ttlb_ns: Option<u64>,
    /// The request's and the response's body bytes (a chunked body's chunk data); `null` when
    /// not known.
    pub request_body_bytes: Option<u64>,
    pub response_body_bytes: Option<u64>,
    /// When the connection was first seen, RFC 3339 with nanoseconds: with `client` and
    /// `server`, it tells connections on a reused tuple apart.
    pub connection_start: String,
    /// The local process on each side; `null` where nobody looked (`--read`).
    pub client_process: Option<ProcessSummary>,
    pub server_process: Option<ProcessSummary>,
}

impl<'a> ExchangeLine<'a> {
    pub fn new(
        e: &'a Exchange,
        template: &'a PathTemplate,
        clock: &Clock,
        show_query: bool,
    ) -> Self {
        ExchangeLine {
            v: SCHEMA_VERSION,
            time: rfc3339(clock.wall_time(e.request_ns)),
            client: e.tuple.client.to_string(),
            server: e.tuple.server.to_string(),
            netns: e.netns.known_name(),
            method: e.method.as_ref().map(Method::as_str),
            path: e.path.display(show_query),
            path_template: Cow::Owned(crate::model::shown_target(template.as_str(), show_query)),
            status: e.status,
            latency_ns: e.latency_ns,
            ttlb_ns: e.ttlb_ns,
            request_body_bytes: e.bodies.request,
            response_body_bytes: e.bodies.response,
            connection_start: rfc3339(clock.wall_time(e.conn_start_ns)),
            client_process: ProcessSummary::of(e.processes.client),
            server_process: ProcessSummary::of(e.processes.server),
        }
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Lines written and dropped so far; final once [`JsonLines::finish`] returned.
#[derive(Debug, Default)]
pub struct JsonLinesCounts {
    written: AtomicU64,
    dropped: AtomicU64,
}

impl JsonLinesCounts {
    /// (written, dropped).
    pub fn get(&self) -> (u64, u64) {
        (
            self.written.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }

    fn add_written(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
    }

    fn add_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }
}

/// What to do with an exchange when the queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenBehind {
    /// Live: drop it and count it; the collector never waits for a reader.
    Drop,
    /// Offline: wait for the writer.
    Wait,
}

/// How the lines are made.
#[derive(Clone, Debug)]
pub struct JsonLinesOptions {
    pub show_query: bool,
    /// Only the exchanges it lets through are written (`--filter`).
    pub filter: Option<Filter>,
    pub when_behind: WhenBehind,
}

/// The writing end the collector (or the capture reader) hands exchanges to; cheap to clone.
#[derive(Clone, Debug)]
pub struct JsonLinesSender {
    queue: Arc<Mutex<Option<SyncSender<Exchange>>>>,
    counts: Arc<JsonLinesCounts>,
    filter: Option<Filter>,
    when_behind: WhenBehind,
}

impl JsonLinesSender {
    /// Queues the exchanges the filter lets through.
    pub fn send<'a>(&self, exchanges: impl IntoIterator<Item = &'a Exchange>) {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let mut dropped = 0;
        for e in exchanges {
            if self.filter.as_ref().is_some_and(|f| !f.matches(e)) {
                continue;
            }
            let Some(tx) = queue.as_ref() else {
                dropped += 1;
                continue;
            };
            let sent = match self.when_behind {
                WhenBehind::Drop => match tx.try_send(*e) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
                },
                WhenBehind::Wait => tx.send(*e).is_ok(),
            };
            if !sent {
                dropped += 1;
            }
        }
        if dropped > 0 {
            self.counts.add_dropped(dropped);
        }
    }
}

/// The writer thread and its counts; [`finish`](Self::finish) writes what is queued and stops.
#[derive(Debug)]
pub struct JsonLines {
    queue: Arc<Mutex<Option<SyncSender<Exchange>>>>,
    counts: Arc<JsonLinesCounts>,
    writer: Option<JoinHandle<()>>,
    closed: watch::Receiver<bool>,
}

impl JsonLines {
    /// Starts the writer on `out` (stdout, or a buffer in tests); wall times through `clock`.
    pub fn start(
        out: impl Write + Send + 'static,
        clock: Clock,
        opts: JsonLinesOptions,
    ) -> io::Result<(JsonLines, JsonLinesSender)> {
        let (tx, rx) = mpsc::sync_channel(QUEUE_LEN);
        let queue = Arc::new(Mutex::new(Some(tx)));
        let counts = Arc::new(JsonLinesCounts::default());
        let (closed_tx, closed) = watch::channel(false);
        let writer = Writer {
            out: io::BufWriter::with_capacity(64 * 1024, out),
            clock,
            show_query: opts.show_query,
            counts: counts.clone(),
            pending: 0,
            line: Vec::with_capacity(512),
            closed: closed_tx,
        };
        let writer = std::thread::Builder::new()
            .name("json-lines".into())
            .spawn(move || writer.run(rx))?;
        let sender = JsonLinesSender {
            queue: queue.clone(),
            counts: counts.clone(),
            filter: opts.filter,
            when_behind: opts.when_behind,
        };
        Ok((
            JsonLines {
                queue,
                counts,
                writer: Some(writer),
                closed,
            },
            sender,
        ))
    }

    pub fn counts(&self) -> Arc<JsonLinesCounts> {
        self.counts.clone()
    }

    /// Turns true when stdout's reader went away (a broken pipe): the run has no one to
    /// write for and ends, as a pipeline's stage does.
    pub fn closed(&self) -> watch::Receiver<bool> {
        self.closed.clone()
    }

    /// Closes the queue, lets the writer write and flush what it holds, and returns the final
    /// (written, dropped).
    pub fn finish(mut self) -> (u64, u64) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        self.counts.get()
    }
}

impl Drop for JsonLines {
    fn drop(&mut self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

struct Writer<W: Write> {
    out: io::BufWriter<W>,
    clock: Clock,
    show_query: bool,
    counts: Arc<JsonLinesCounts>,
    /// Lines in the buffer, not yet flushed: written once the flush succeeds.
    pending: u64,
    line: Vec<u8>,
    closed: watch::Sender<bool>,
}

impl<W: Write> Writer<W> {
    fn run(mut self, rx: Receiver<Exchange>) {
        let mut broken = false;
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            // Write what is queued, then flush: a line waits in the buffer only while another
            // one follows it at once.
            while let Some(e) = next {
                if broken {
                    self.counts.add_dropped(1);
                } else if self.write(&e).is_err() {
                    broken = self.broke();
                }
                // Empty or closed: flush what was written.
                next = rx.try_recv().ok();
            }
            if !broken && self.flush().is_err() {
                broken = self.broke();
            }
        }
        if !broken && self.flush().is_err() {
            self.broke();
        }
    }

    fn write(&mut self, e: &Exchange) -> io::Result<()> {
        let template = PathTemplate::of(e.path.as_str());
        let line = ExchangeLine::new(e, &template, &self.clock, self.show_query);
        self.line.clear();
        serde_json::to_writer(&mut self.line, &line)?;
        self.line.push(b'\n');
        self.pending += 1;
        self.out.write_all(&self.line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.counts.add_written(std::mem::take(&mut self.pending));
        Ok(())
    }

    /// Stdout failed: what it held is lost (counted), and the run is told.
    fn broke(&mut self) -> bool {
        self.counts.add_dropped(std::mem::take(&mut self.pending));
        let _ = self.closed.send(true);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::mpsc::{Receiver, sync_channel},
        time::Duration,
    };

    use super::*;
    use crate::model::{PathPrefix, test_support::record};

    /// A stdout whose reader takes each write only when the test says so.
    struct SlowReader {
        bytes: Arc<Mutex<Vec<u8>>>,
        go: Receiver<()>,
    }

    impl Write for SlowReader {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.go
                .recv()
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn options(when_behind: WhenBehind) -> JsonLinesOptions {
        JsonLinesOptions {
            show_query: false,
            filter: None,
            when_behind,
        }
    }

    #[test]
    fn a_line_holds_every_field_of_the_exchange() {
        let mut e = record(40000, 8080, 5_000_000_123, 1_234_567, 404);
        e.path = PathPrefix::new("/users/42/orders?token=secret");
        e.conn_start_ns = 4_000_000_000;
        e.ttlb_ns = Some(2_000_000);
        e.bodies.response = Some(1_234);
        let template = PathTemplate::of(e.path.as_str());
        let line = ExchangeLine::new(&e, &template, &Clock::default(), false);
        let json: serde_json::Value = serde_json::to_value(&line).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "v": 1,
                "time": "1970-01-01T00:00:05.000000123Z",
                "client": "10.0.0.1:40000",
                "server": "10.0.0.2:8080",
                "netns": null,
                "method": "GET",
                "path": "/users/42/orders?…",
                "path_template": "/users/{id}/orders",
                "status": 404,
                "latency_ns": 1_234_567,
                "ttlb_ns": 2_000_000,
                "request_body_bytes": null,
                "response_body_bytes": 1_234,
                "connection_start": "1970-01-01T00:00:04.000000000Z",
                "client_process": null,
                "server_process": null,
            })
        );
        let shown = ExchangeLine::new(&e, &template, &Clock::default(), true);
        assert_eq!(shown.path, "/users/42/orders?token=secret");
    }

    /// docs/terms.md's table is the schema: it lists exactly the keys a line has.
    #[test]
    fn the_terms_list_exactly_the_keys_of_a_line() {
        let e = record(40000, 8080, 1, 1, 200);
        let template = PathTemplate::of(e.path.as_str());
        let line = serde_json::to_value(ExchangeLine::new(&e, &template, &Clock::default(), false))
            .unwrap();
        let mut keys: Vec<String> = line.as_object().unwrap().keys().cloned().collect();
        let mut listed = crate::export::docs::terms_table("JSON lines");
        keys.sort();
        listed.sort();
        assert_eq!(keys, listed);
    }

    #[test]
    fn every_exchange_is_written_or_counted_as_dropped_when_the_reader_lags() {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (go, wait) = sync_channel(0);
        let out = SlowReader {
            bytes: bytes.clone(),
            go: wait,
        };
        let (lines, sender) =
            JsonLines::start(out, Clock::default(), options(WhenBehind::Drop)).unwrap();
        let sent = QUEUE_LEN as u64 + 5_000;
        let exchanges: Vec<Exchange> = (0..sent)
            .map(|i| record(40000, 8080, i, 1_000 + i, 200))
            .collect();
        // The reader takes nothing: the writer's buffer holds what fits in it (lines are
        // over 200 bytes), the queue QUEUE_LEN more, and the rest is dropped at once, never
        // waited for.
        sender.send(&exchanges);
        let (_, dropped_at_once) = lines.counts().get();
        let buffered = 64 * 1024 / 200 + 1;
        assert!(
            dropped_at_once >= sent - QUEUE_LEN as u64 - buffered,
            "{dropped_at_once}"
        );
        // Now the reader reads: whatever was queued reaches it.
        let reader = std::thread::spawn(move || while go.send(()).is_ok() {});
        let (written, dropped) = lines.finish();
        reader.join().unwrap();
        assert_eq!(written + dropped, sent);
        assert_eq!(dropped, dropped_at_once);
        let text = String::from_utf8(bytes.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count() as u64, written);
        // In order, none twice: the latencies written are an increasing run.
        let latencies: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["latency_ns"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert!(latencies.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn offline_waits_for_the_reader_and_loses_nothing() {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (go, wait) = sync_channel(0);
        let out = SlowReader {
            bytes: bytes.clone(),
            go: wait,
        };
        let reader = std::thread::spawn(move || {
            while go.send(()).is_ok() {
                std::thread::sleep(Duration::from_micros(1));
            }
        });
        let (lines, sender) =
            JsonLines::start(out, Clock::default(), options(WhenBehind::Wait)).unwrap();
        let sent = QUEUE_LEN as u64 * 2;
        for i in 0..sent {
            sender.send([&record(40000, 8080, i, 1_000 + i, 200)]);
        }
        drop(sender);
        assert_eq!(lines.finish(), (sent, 0));
        reader.join().unwrap();
        assert_eq!(
            String::from_utf8(bytes.lock().unwrap().clone())
                .unwrap()
                .lines()
                .count() as u64,
            sent
        );
    }

    #[test]
    fn a_reader_gone_counts_the_rest_as_dropped_and_says_so() {
        let (go, wait) = sync_channel(0);
        drop(go);
        let out = SlowReader {
            bytes: Arc::default(),
            go: wait,
        };
        let (lines, sender) =
            JsonLines::start(out, Clock::default(), options(WhenBehind::Wait)).unwrap();
        let mut closed = lines.closed();
        for i in 0..10 {
            sender.send([&record(40000, 8080, i, 1_000, 200)]);
        }
        assert_eq!(lines.finish(), (0, 10));
        assert!(*closed.borrow_and_update());
    }

    #[test]
    fn only_what_the_filter_lets_through_is_written() {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (go, wait) = sync_channel(0);
        let reader = std::thread::spawn(move || while go.send(()).is_ok() {});
        let out = SlowReader {
            bytes: bytes.clone(),
            go: wait,
        };
        let mut opts = options(WhenBehind::Wait);
        opts.filter = Filter::parse("status 5xx").unwrap();
        let (lines, sender) = JsonLines::start(out, Clock::default(), opts).unwrap();
        let statuses = [200, 500, 404, 503, 200];
        for (i, status) in statuses.into_iter().enumerate() {
            sender.send([&record(40000, 8080, i as u64, 1_000, status)]);
        }
        assert_eq!(lines.finish(), (2, 0));
        reader.join().unwrap();
        let text = String::from_utf8(bytes.lock().unwrap().clone()).unwrap();
        let written: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["status"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(written, [500, 503]);
    }
}
