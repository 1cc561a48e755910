//! `httptop --read` on capture files this test writes byte by byte: a link type it cannot
//! decode is an error, a pcapng's later sections use their own interfaces, pcapng
//! timestamps keep every nanosecond, and a short snap length or a long sub-second field is read.
//!
//! These run the release binary (no root needed): run through `cargo xtask test`.

use std::{path::Path, process::Output, time::Duration};

use httptop_tests::{
    Summary, TempDir,
    frames::{
        ACK, ETH_P_IP, End, LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapNg, ethernet, ipv4_tcp, pcap,
    },
    httptop_binary, run_to_exit,
};

const CLIENT: End = End {
    addr: [10, 0, 0, 1],
    port: 40000,
};
const SERVER: End = End {
    addr: [10, 0, 0, 2],
    port: 80,
};
const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
/// An instant of 2025 in ns since the epoch: 61 bits, more than a double holds exactly.
const T0_NS: u64 = 1_764_000_000_123_456_789;

fn request() -> Vec<u8> {
    ipv4_tcp(CLIENT, SERVER, 1, ACK, GET)
}

fn response() -> Vec<u8> {
    ipv4_tcp(SERVER, CLIENT, 1, ACK, OK)
}

/// `httptop --read FILE --json` on `bytes` written to a file.
fn read(bytes: &[u8]) -> Output {
    let dir = TempDir::new();
    let path = dir.path().join("crafted.cap");
    std::fs::write(&path, bytes).expect("writing the capture");
    read_path(&path)
}

fn read_path(path: &Path) -> Output {
    let mut httptop = std::process::Command::new(httptop_binary());
    httptop.arg("--read").arg(path).arg("--json");
    run_to_exit(httptop, Duration::from_secs(30))
}

#[track_caller]
fn summary(output: &Output) -> Summary {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "httptop --read failed: {stderr}");
    Summary::parse(&String::from_utf8_lossy(&output.stdout)).expect("one JSON object")
}

#[test]
#[ignore = "runs the release binary"]
fn unsupported_link_type_is_a_one_line_error_naming_it() {
    // 189: Linux USB (usbmon), which carries no IP.
    let output = read(&pcap(189, &[(T0_NS, vec![0u8; 64])]));
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert!(
        !output.status.success(),
        "exit 0; stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(stderr.lines().count(), 1, "one line on stderr:\n{stderr}");
    assert!(
        stderr.contains("link type 189 is not supported"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "no summary of zeros");
    // The same packets on a supported link type are read.
    let ok = read(&pcap(
        LINKTYPE_RAW,
        &[(T0_NS, request()), (T0_NS + 1000, response())],
    ));
    assert_eq!(summary(&ok).count("exchanges"), 1);
}

/// Section 1 declares raw IP, section 2 Ethernet, each as its interface 0: the response in
/// section 2 must be decoded as Ethernet.
#[test]
#[ignore = "runs the release binary"]
fn each_pcapng_section_uses_its_own_interfaces() {
    let file = PcapNg::new()
        .section()
        .interface(LINKTYPE_RAW as u16, None)
        .packet(0, T0_NS / 1000, &request())
        .section()
        .interface(LINKTYPE_ETHERNET as u16, None)
        .packet(0, T0_NS / 1000 + 5, &ethernet(ETH_P_IP, &response()))
        .bytes();
    let s = summary(&read(&file));
    assert_eq!(
        (
            s.count("requests"),
            s.count("responses"),
            s.count("exchanges")
        ),
        (1, 1, 1),
        "{s}"
    );
    assert_eq!(s.latency_ns("max"), 5_000, "{s}");
}

/// Nanosecond and 2^-30 s resolutions at today's epoch: the latency is exact to the ns.
#[test]
#[ignore = "runs the release binary"]
fn pcapng_timestamps_keep_every_nanosecond() {
    let file = PcapNg::new()
        .section()
        .interface(LINKTYPE_RAW as u16, Some(9))
        .packet(0, T0_NS, &request())
        .packet(0, T0_NS + 1_000, &response())
        .bytes();
    let s = summary(&read(&file));
    assert_eq!(
        (s.count("exchanges"), s.latency_ns("max")),
        (1, 1_000),
        "{s}"
    );

    // 2^-30 s units, 2^20 apart (976,562.5 ns): each timestamp is rounded down to the ns.
    let units0 = (T0_NS / 1_000_000_000) << 30;
    let units1 = units0 + (1 << 20);
    let ns = |units: u64| ((u128::from(units) * 1_000_000_000) >> 30) as u64;
    let file = PcapNg::new()
        .section()
        .interface(LINKTYPE_RAW as u16, Some(0x80 | 30))
        .packet(0, units0, &request())
        .packet(0, units1, &response())
        .bytes();
    let s = summary(&read(&file));
    assert_eq!(s.latency_ns("max"), ns(units1) - ns(units0), "{s}");
}

/// A capture taken with a snap length (`tcpdump -s 64`): records hold the first 64 bytes and
/// say the frame was longer; and a sub-second field past a second, as some writers leave it.
/// Both are read (a reader that rejects them reads such files as zero exchanges).
#[test]
#[ignore = "runs the release binary"]
fn short_snap_length_and_long_sub_second_fields_are_read() {
    const SNAP: usize = 64;
    let mut file = Vec::new();
    file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    file.extend_from_slice(&2u16.to_le_bytes());
    file.extend_from_slice(&4u16.to_le_bytes());
    file.extend_from_slice(&[0; 8]);
    file.extend_from_slice(&(SNAP as u32).to_le_bytes());
    file.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    let seconds = (T0_NS / 1_000_000_000) as u32;
    // The response's microseconds field reads 1,500,000: 1.5 s after the request.
    for (micros, packet) in [(0u32, request()), (1_500_000, response())] {
        assert!(
            packet.len() > SNAP,
            "the frame must be longer than the snap length"
        );
        file.extend_from_slice(&seconds.to_le_bytes());
        file.extend_from_slice(&micros.to_le_bytes());
        file.extend_from_slice(&(SNAP as u32).to_le_bytes());
        file.extend_from_slice(&(packet.len() as u32).to_le_bytes());
        file.extend_from_slice(&packet[..SNAP]);
    }
    let output = read(&file);
    assert!(
        output.stderr.is_empty(),
        "no warning: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let s = summary(&output);
    assert_eq!(
        (
            s.count("requests"),
            s.count("responses"),
            s.count("exchanges"),
            s.latency_ns("max")
        ),
        (1, 1, 1, 1_500_000_000),
        "{s}"
    );
}
