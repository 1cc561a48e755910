//! Wire types → model records: shared by the kernel reader and the capture reader.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use probe_common::engine;
use probe_common::wire::{
    Answer, COUNTER_SLOTS, ConnKey, ConnState, Counter, Event as WireEvent, ExchangeEvent,
    HISTOGRAM_BUCKETS, InFlight, PATH_LEN, UNKNOWN, request_line,
};

use crate::model::{
    Bodies, ConnectionEnd, Event, Exchange, KernelTotals, Method, NetnsId, PathPrefix, Tuple,
};

/// An address as the kernel stores it (IPv4-mapped for IPv4) back to an `IpAddr`.
pub fn ip_from_wire(addr: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(addr);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

pub fn tuple_from_key(key: &ConnKey) -> Tuple {
    Tuple {
        client: SocketAddr::new(ip_from_wire(key.client_addr), key.client_port),
        server: SocketAddr::new(ip_from_wire(key.server_addr), key.server_port),
    }
}

/// A record from the request's in-flight entry and the response that ended it.
pub fn exchange_record(
    key: &ConnKey,
    conn_start_ns: u64,
    request: &InFlight,
    answer: &Answer,
) -> Exchange {
    record(
        key,
        conn_start_ns,
        request.request_ns,
        [
            answer.latency_ns,
            answer.ttlb_ns,
            request.body_len,
            answer.body_len,
        ],
        request.method,
        answer.status,
        &request.path,
        request.path_len,
    )
}

pub fn event_record(e: &ExchangeEvent) -> Exchange {
    record(
        &e.key,
        e.conn_start_ns,
        e.request_ns,
        [
            e.latency_ns,
            e.ttlb_ns,
            e.request_body_len,
            e.response_body_len,
        ],
        e.method,
        e.status,
        &e.path,
        e.path_len,
    )
}

/// The exchange of a response a connection was still receiving when it was dropped without a
/// close (swept, or left at a capture's end): its end was not seen.
pub fn unsent_record(key: &ConnKey, state: &ConnState) -> Option<Exchange> {
    let (request, answer) = engine::unsent_answer(state)?;
    Some(exchange_record(key, state.start_ns, request, &answer))
}

/// A connection's end, from the kernel's event or the sweep.
pub fn connection_end(key: &ConnKey, conn_start_ns: u64) -> ConnectionEnd {
    ConnectionEnd {
        netns: NetnsId::OWN,
        tuple: tuple_from_key(key),
        conn_start_ns,
    }
}

/// A ring-buffer record for the model.
pub fn model_event(e: &WireEvent) -> Event {
    match e {
        WireEvent::Exchange(x) => Event::Exchange(event_record(x)),
        WireEvent::ConnEnd(end) => {
            Event::ConnectionEnded(connection_end(&end.key, end.conn_start_ns))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    key: &ConnKey,
    conn_start_ns: u64,
    request_ns: u64,
    // TTFB, TTLB, request body, response body: the last three `wire::UNKNOWN` when not known.
    [latency_ns, ttlb_ns, request_body, response_body]: [u64; 4],
    method: u8,
    status: u16,
    path: &[u8; PATH_LEN],
    path_len: u8,
) -> Exchange {
    let (name, target) = request_line(method, path, path_len);
    Exchange {
        tuple: tuple_from_key(key),
        conn_start_ns,
        request_ns,
        latency_ns,
        ttlb_ns: known(ttlb_ns),
        bodies: Bodies {
            request: known(request_body),
            response: known(response_body),
        },
        method: Method::from_token(name),
        status,
        path: PathPrefix::from_wire(target),
        processes: Default::default(),
        netns: NetnsId::OWN,
    }
}

/// A figure the kernel may not know, as an option.
fn known(value: u64) -> Option<u64> {
    (value != UNKNOWN).then_some(value)
}

/// Totals from summed counters and histogram, plus what user space adds: the requests its
/// sweeper expired and the in-flight gauge.
pub fn totals_from_counters(
    sums: &[u64; COUNTER_SLOTS],
    histogram_log2: [u64; HISTOGRAM_BUCKETS],
    swept_expired: u64,
    in_flight: u64,
) -> KernelTotals {
    let mut totals = KernelTotals {
        in_flight,
        histogram_log2,
        ..KernelTotals::default()
    };
    for counter in Counter::ALL {
        totals[counter] = sums[counter as usize];
    }
    totals[Counter::ExpiredRequests] += swept_expired;
    totals
}
