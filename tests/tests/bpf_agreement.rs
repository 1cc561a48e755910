//! Kernel and user space agree on every input: generated sequences of frames (proptest) go
//! through the loaded kernel programs (BPF_PROG_TEST_RUN) and, written to a pcap file, through
//! `httptop --read`, which runs the same rules in user space; every counter must be equal.
//!
//! The frames bend every rule the parsers check: truncated headers, IPv4 IHL below 5 and past
//! the packet, TCP data offsets past the end, IPv6 extension header chains, VLAN stacks deeper
//! than the two looked through, IP lengths zero and maximal, random bytes on an HTTP port, and
//! HTTP that is pipelined, retransmitted, interim, chunked, longer than the scan window, reset
//! and closed.
//!
//! Root only: run through `cargo xtask test`.

use std::{process::Command, time::Duration};

use aya::programs::{TestRun as _, TestRunOptions};
use httptop::{
    Counter,
    kernel::{Kernel, KernelConfig},
};
use httptop_tests::{
    Summary, TempDir,
    frames::{
        ACK, ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, FIN, LINKTYPE_ETHERNET, RST, SYN,
        ethernet, pcap,
    },
    httptop_binary, run_to_exit,
};
use proptest::{collection::vec, prelude::*, test_runner::TestCaseError};

/// Messages a segment may carry: most of them whole and valid.
const MESSAGES: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"HEAD /h HTTP/1.1\r\n\r\n",
    b"PROPFIND /d/ HTTP/1.1\r\nDepth: 1\r\n\r\n",
    b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\n\r\n",
    b"EHLO mail.example.org\r\n",
    b"MKCOL /x",
    b"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"PUT /n HTTP/1.1\r\nContent-Length: -3\r\n\r\n",
    b"POST /z HTTP/1.1\r\nContent-Length: 000000000000000000000000000003\r\n\r\nabc",
    b"GET /dup HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    b"OPTIONS rtsp://cam/s RTSP/1.0\r\nCSeq: 1\r\n\r\n",
    b"CONNECT {\"verbose\":false}\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.0 404 Not Found\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    // Codings read to the last one, and trailer fields.
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1\r\nz\r\n0\r\nX: 1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nhi",
    b"PUT /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\nDigest: x\r\n\r\n",
    b"HTTP/1.1 500 E\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"HTTP/1.1 20",
    b"GET",
    // Bodies announced longer than sent, and the rest of such a body with a message after it:
    // streams followed across segments, the next message mid-segment.
    b"POST /big HTTP/1.1\r\nContent-Length: 40\r\n\r\n0123456789",
    b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nabc",
    b"012345678901234567890123456789GET /mid HTTP/1.1\r\n\r\n",
];

/// What a segment's payload is made of.
#[derive(Clone, Debug)]
enum Body {
    /// Messages from [`MESSAGES`], by index, back to back.
    Messages(Vec<usize>),
    /// One message from [`MESSAGES`] this many times (deep pipelining).
    Repeated(usize, usize),
    /// A head longer than the kernel's 512-byte window, then a second message.
    LongHead,
    /// Random bytes, sometimes after a request line's start.
    Random { get_prefix: bool, bytes: Vec<u8> },
}

/// How the frame around the payload is bent.
#[derive(Clone, Debug)]
enum Bend {
    None,
    /// Cut to this many bytes (at least the Ethernet header).
    Truncate(usize),
    Ihl(u8),
    DataOffset(u8),
    IpTotalLen(u16),
    /// IPv6 extension headers (next-header values) in front of TCP.
    Ipv6Extensions(Vec<u8>),
    /// Random bytes as the whole network layer.
    RandomNetwork(Vec<u8>),
}

#[derive(Clone, Debug)]
struct FrameSpec {
    conn: u8,
    from_client: bool,
    v6: bool,
    vlan_tags: u8,
    flags: u8,
    /// Resend the previous segment's sequence number (a retransmission).
    repeat_seq: bool,
    body: Body,
    bend: Bend,
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        6 => vec(0..MESSAGES.len(), 0..40).prop_map(Body::Messages),
        2 => (0..MESSAGES.len(), 1usize..40).prop_map(|(i, n)| Body::Repeated(i, n)),
        1 => Just(Body::LongHead),
        2 => (any::<bool>(), vec(any::<u8>(), 0..200))
            .prop_map(|(get_prefix, bytes)| Body::Random { get_prefix, bytes }),
    ]
}

fn bend() -> impl Strategy<Value = Bend> {
    prop_oneof![
        8 => Just(Bend::None),
        1 => (14usize..120).prop_map(Bend::Truncate),
        1 => (0u8..16).prop_map(Bend::Ihl),
        1 => (0u8..16).prop_map(Bend::DataOffset),
        1 => prop_oneof![Just(0u16), Just(u16::MAX), any::<u16>()].prop_map(Bend::IpTotalLen),
        1 => vec(prop_oneof![Just(0u8), Just(43), Just(44), Just(60), Just(6)], 1..4)
            .prop_map(Bend::Ipv6Extensions),
        1 => vec(any::<u8>(), 0..120).prop_map(Bend::RandomNetwork),
    ]
}

fn frame_spec() -> impl Strategy<Value = FrameSpec> {
    (
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        prop_oneof![6 => Just(0u8), 1 => 1u8..6],
        prop_oneof![
            6 => Just(ACK),
            1 => Just(ACK | FIN),
            1 => Just(ACK | RST),
            1 => Just(SYN),
        ],
        prop::bool::weighted(0.1),
        body(),
        bend(),
    )
        .prop_map(
            |(conn, from_client, v6, vlan_tags, flags, repeat_seq, body, bend)| FrameSpec {
                conn,
                from_client,
                v6,
                vlan_tags,
                flags,
                repeat_seq,
                body,
                bend,
            },
        )
}

/// Builds the frames of a sequence, keeping each direction's sequence numbers.
struct Builder {
    /// Next sequence number per (connection, direction).
    next_seq: [[u32; 2]; 3],
    last_seq: [[u32; 2]; 3],
}

impl Builder {
    fn payload(body: &Body) -> Vec<u8> {
        match body {
            Body::Messages(indices) => indices.iter().flat_map(|&i| MESSAGES[i].to_vec()).collect(),
            Body::Repeated(i, n) => MESSAGES[*i].repeat(*n),
            Body::LongHead => {
                let mut p = b"GET /long HTTP/1.1\r\n".to_vec();
                for i in 0..40 {
                    p.extend_from_slice(format!("X-Header-{i}: {}\r\n", "v".repeat(20)).as_bytes());
                }
                p.extend_from_slice(b"\r\n");
                p.extend_from_slice(MESSAGES[0]);
                p
            }
            Body::Random { get_prefix, bytes } => {
                let mut p = if *get_prefix {
                    b"GET ".to_vec()
                } else {
                    Vec::new()
                };
                p.extend_from_slice(bytes);
                p
            }
        }
    }

    fn frame(&mut self, spec: &FrameSpec) -> Vec<u8> {
        let payload = Self::payload(&spec.body);
        let (conn, dir) = (usize::from(spec.conn), usize::from(!spec.from_client));
        let seq = if spec.repeat_seq {
            self.last_seq[conn][dir]
        } else {
            self.next_seq[conn][dir]
        };
        self.last_seq[conn][dir] = seq;
        self.next_seq[conn][dir] = seq.wrapping_add(payload.len() as u32);

        let client_port = 40000 + u16::from(spec.conn);
        let (sport, dport) = if spec.from_client {
            (client_port, 80)
        } else {
            (80, client_port)
        };
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&sport.to_be_bytes());
        tcp[2..4].copy_from_slice(&dport.to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = spec.flags;
        if let Bend::DataOffset(d) = spec.bend {
            tcp[12] = d << 4;
        }
        let (client, server) = (1u8, 2u8);
        let (src, dst) = if spec.from_client {
            (client, server)
        } else {
            (server, client)
        };
        let (ethertype, mut network) = if spec.v6 {
            let mut extensions = Vec::new();
            let mut next = 6u8;
            if let Bend::Ipv6Extensions(chain) = &spec.bend {
                // Each extension header: its next header, its length in 8-byte units past
                // the first 8, then padding.
                next = chain[0];
                for (i, _) in chain.iter().enumerate() {
                    let after = chain.get(i + 1).copied().unwrap_or(6);
                    extensions.extend_from_slice(&[after, 0, 0, 0, 0, 0, 0, 0]);
                }
            }
            let mut ip = vec![0u8; 40];
            ip[0] = 0x60;
            let len = extensions.len() + tcp.len() + payload.len();
            ip[4..6].copy_from_slice(&(len as u16).to_be_bytes());
            ip[6] = next;
            ip[7] = 64;
            ip[8] = 0xfd;
            ip[23] = src;
            ip[24] = 0xfd;
            ip[39] = dst;
            ip.extend_from_slice(&extensions);
            (ETH_P_IPV6, ip)
        } else {
            let mut ip = vec![0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&((40 + payload.len()) as u16).to_be_bytes());
            ip[8] = 64;
            ip[9] = 6;
            ip[12..16].copy_from_slice(&[10, 0, 0, src]);
            ip[16..20].copy_from_slice(&[10, 0, 0, dst]);
            if let Bend::Ihl(ihl) = spec.bend {
                ip[0] = 0x40 | ihl;
            }
            (ETH_P_IP, ip)
        };
        match &spec.bend {
            Bend::IpTotalLen(len) if spec.v6 => network[4..6].copy_from_slice(&len.to_be_bytes()),
            Bend::IpTotalLen(len) => network[2..4].copy_from_slice(&len.to_be_bytes()),
            _ => {}
        }
        network.extend_from_slice(&tcp);
        network.extend_from_slice(&payload);
        if let Bend::RandomNetwork(bytes) = &spec.bend {
            network = bytes.clone();
        }
        // VLAN tags, outermost first: 802.1ad outside, 802.1Q inside.
        let mut tagged = Vec::new();
        let mut outer = ethertype;
        for tag in (0..spec.vlan_tags).rev() {
            let tpid = if tag == 0 && spec.vlan_tags > 1 {
                ETH_P_8021AD
            } else {
                ETH_P_8021Q
            };
            let mut t = vec![0, 7];
            t.extend_from_slice(&outer.to_be_bytes());
            t.extend_from_slice(&tagged);
            tagged = t;
            outer = tpid;
        }
        tagged.extend_from_slice(&network);
        let mut frame = ethernet(outer, &tagged);
        if let Bend::Truncate(len) = spec.bend {
            frame.truncate(len.max(14));
        }
        frame
    }
}

/// The kernel's counters after the frames, and the frames it ran on: BPF_PROG_TEST_RUN refuses
/// (EINVAL) a frame whose announced network header is shorter than its fixed part, which no
/// socket would hand over either; those are left out of both sides.
fn kernel_counters(frames: &[Vec<u8>]) -> (Vec<(Counter, u64)>, Vec<Vec<u8>>) {
    let kernel = Kernel::load(&KernelConfig::default()).expect("load the kernel programs");
    let program = kernel.program().expect("entry program");
    let mut ran = Vec::new();
    for frame in frames {
        let result = program.test_run(TestRunOptions {
            data_in: Some(frame),
            ..TestRunOptions::default()
        });
        match result {
            Ok(result) => {
                assert_eq!(result.return_value, 0);
                ran.push(frame.clone());
            }
            Err(e) if format!("{e:?}").contains("code: 22") => {}
            Err(e) => panic!("BPF_PROG_TEST_RUN ({} bytes): {e:?}", frame.len()),
        }
    }
    let totals = kernel.totals().expect("totals");
    (Counter::ALL.iter().map(|&c| (c, totals[c])).collect(), ran)
}

/// `httptop --read`'s counters for the same frames in a pcap file.
fn offline_counters(frames: &[Vec<u8>]) -> Vec<(Counter, u64)> {
    let dir = TempDir::new();
    let path = dir.path().join("frames.pcap");
    let timed: Vec<(u64, Vec<u8>)> = frames.iter().map(|f| (0, f.clone())).collect();
    std::fs::write(&path, pcap(LINKTYPE_ETHERNET, &timed)).expect("writing the pcap");
    let mut httptop = Command::new(httptop_binary());
    httptop.arg("--read").arg(&path).arg("--json");
    let output = run_to_exit(httptop, Duration::from_secs(30));
    assert!(
        output.status.success(),
        "httptop --read: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = Summary::parse(&String::from_utf8_lossy(&output.stdout)).expect("JSON");
    summary.counters()
}

#[test]
#[ignore = "needs root"]
fn kernel_and_offline_reader_agree_on_generated_frames() {
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(specs in vec(frame_spec(), 1..40))| {
        let mut builder = Builder {
            next_seq: [[1000, 50_000]; 3],
            last_seq: [[1000, 50_000]; 3],
        };
        let frames: Vec<Vec<u8>> = specs.iter().map(|s| builder.frame(s)).collect();
        let (kernel, ran) = kernel_counters(&frames);
        let offline = offline_counters(&ran);
        if kernel != offline {
            return Err(TestCaseError::fail(format!(
                "kernel {kernel:?}\noffline {offline:?}"
            )));
        }
    });
}
