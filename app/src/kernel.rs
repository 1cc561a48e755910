//! Loads the socket filter, attaches it to AF_PACKET sockets, reads its maps, and undoes it all
//! on drop (bpftop's way: a guard owns every kernel-side change).

use std::{
    ffi::CString,
    io,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
    time::Duration,
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, PerCpuArray, ProgramArray, RingBuf},
    programs::{ProgramError, SocketFilter},
};
use probe_common::wire::{COUNTER_SLOTS, ConnKey, ConnState, ExchangeEvent, HISTOGRAM_BUCKETS};

use crate::{
    model::{ExchangeRecord, KernelTotals},
    records::{event_record, totals_from_counters},
};

/// The probe object, built by build.rs from `probe-ebpf`.
static PROBE_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/probe"));

const ETH_P_ALL: u16 = 0x0003;
/// The socket filter attached to the sockets.
const ENTRY_PROGRAM: &str = "httptop";
/// The per-message program the entry program tail-calls.
const MESSAGE_PROGRAM: &str = "httptop_message";

/// The program every tap's socket runs; the controls are `--bench-control-filter`'s values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EntryProgram {
    /// httptop's filter.
    #[default]
    #[value(skip)]
    Httptop,
    /// Benchmark control: returns at once (nothing is counted; what remains is the cost of the
    /// packet sockets themselves).
    ReturnAtOnce,
    /// Benchmark control: loads and parses the headers as httptop's filter does, then stops.
    #[value(name = "headers")]
    HeadersOnly,
    /// Benchmark control: pairs by port (the lower one is the server's) without reading any
    /// payload byte, and sends each exchange's event: the least a kernel-pairing design does.
    #[value(name = "pairing")]
    PairingOnly,
}

impl EntryProgram {
    fn name(self) -> &'static str {
        match self {
            EntryProgram::Httptop => ENTRY_PROGRAM,
            EntryProgram::ReturnAtOnce => "httptop_null",
            EntryProgram::HeadersOnly => "httptop_headers",
            EntryProgram::PairingOnly => "httptop_pairing",
        }
    }
}
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("missing capabilities: {0} (run as root, or grant them to the binary)")]
    MissingCapabilities(String),
    #[error("unknown interface '{0}'")]
    UnknownInterface(String),
    #[error("the kernel refused the BPF program ({0}); the verifier's log is in the log file")]
    Verifier(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Bpf(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ProbeError {
    let context = context.into();
    move |source| ProbeError::Io { context, source }
}

fn bpf_err(context: &str) -> impl FnOnce(String) -> ProbeError + '_ {
    move |e| ProbeError::Bpf(format!("{context}: {e}"))
}

/// What to watch.
#[derive(Clone, Debug, Default)]
pub struct ProbeConfig {
    /// Interface names; empty = every interface of this network namespace, new ones included.
    pub interfaces: Vec<String>,
    /// Server ports; empty = every port.
    pub ports: Vec<u16>,
    /// Turn the kernel's BPF run-time statistics on (the dashboard's cost figure). They cost two
    /// clock reads per program run, so the headless mode leaves them off.
    pub run_stats: bool,
    /// What the sockets run: httptop's filter, or a benchmark control.
    pub entry_program: EntryProgram,
}

/// One AF_PACKET socket bound to one interface.
struct Tap {
    ifindex: u32,
    socket: OwnedFd,
}

/// The loaded and attached probe. Dropping it detaches the filter and closes the sockets.
pub struct Probe {
    ebpf: Ebpf,
    taps: Vec<Tap>,
    /// The program each tap's socket runs.
    entry_program: &'static str,
    /// Watching every interface: new ones are tapped as they appear.
    all_interfaces: bool,
    loopback: u32,
    events: RingBuf<MapData>,
    /// Keeps the kernel's BPF run-time statistics on while held (`None` when refused).
    _stats: Option<OwnedFd>,
    /// Requests the sweeper expired (user space's share of `expired_requests`).
    swept_expired: u64,
    /// Outstanding requests found by the last sweep.
    in_flight: u64,
}

/// Capability bits (linux/capability.h).
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Names the capabilities this process lacks, from /proc/self/status.
pub fn missing_capabilities() -> Vec<&'static str> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |bit: u32| eff & (1u64 << bit) != 0;
    let admin = has(CAP_SYS_ADMIN);
    let mut missing = Vec::new();
    if !(has(CAP_BPF) || admin) {
        missing.push("CAP_BPF");
    }
    if !has(CAP_NET_RAW) {
        missing.push("CAP_NET_RAW");
    }
    if !(has(CAP_PERFMON) || admin) {
        missing.push("CAP_PERFMON");
    }
    missing
}

/// This network namespace's interfaces: index and name.
fn interfaces() -> Vec<(u32, String)> {
    let mut found = Vec::new();
    // SAFETY: if_nameindex returns an array ended by a zero entry, freed below; names are
    // NUL-terminated strings inside it.
    unsafe {
        let list = libc::if_nameindex();
        if list.is_null() {
            return found;
        }
        let mut entry = list;
        while (*entry).if_index != 0 {
            let name = std::ffi::CStr::from_ptr((*entry).if_name);
            found.push(((*entry).if_index, name.to_string_lossy().into_owned()));
            entry = entry.add(1);
        }
        libc::if_freenameindex(list);
    }
    found
}

fn ifindex(name: &str) -> Result<u32, ProbeError> {
    let c = CString::new(name).map_err(|_| ProbeError::UnknownInterface(name.to_owned()))?;
    // SAFETY: a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(ProbeError::UnknownInterface(name.to_owned())),
        i => Ok(i),
    }
}

impl Probe {
    /// Loads the programs and maps and attaches the filter to AF_PACKET sockets.
    pub fn attach(config: &ProbeConfig) -> Result<Probe, ProbeError> {
        let missing = missing_capabilities();
        if !missing.is_empty() {
            return Err(ProbeError::MissingCapabilities(missing.join(", ")));
        }
        // Resolve every interface before touching the kernel: a typo changes nothing.
        let targets: Vec<(String, u32)> = config
            .interfaces
            .iter()
            .map(|name| ifindex(name).map(|i| (name.clone(), i)))
            .collect::<Result<_, _>>()?;
        let mut probe = Probe::load(config)?;
        probe.loopback = ifindex("lo").unwrap_or(0);
        if targets.is_empty() {
            probe.all_interfaces = true;
            probe.refresh_interfaces()?;
        }
        for (name, index) in targets {
            probe.tap(index).map_err(|e| match e {
                ProbeError::Io { context, source } => ProbeError::Io {
                    context: format!("{context} on {name}"),
                    source,
                },
                other => other,
            })?;
        }
        log::info!(
            "attached to {} interface(s), lo ifindex {}, ports {:?}",
            probe.taps.len(),
            probe.loopback,
            config.ports
        );
        Ok(probe)
    }

    /// One socket per interface rather than one for all: the socket on `lo` can then ignore
    /// the outgoing copy of every packet (`PACKET_IGNORE_OUTGOING`), which halves the filter's
    /// runs there, while a NIC's or a veth's outgoing packets, their only copy, still pass.
    fn tap(&mut self, ifindex: u32) -> Result<(), ProbeError> {
        let program = socket_filter(&mut self.ebpf, self.entry_program)?;
        let socket = packet_socket(program, ifindex, ifindex == self.loopback)?;
        self.taps.push(Tap { ifindex, socket });
        Ok(())
    }

    /// With every interface watched: taps interfaces that appeared since the last call and
    /// closes the taps of interfaces that are gone. Returns how many were added.
    pub fn refresh_interfaces(&mut self) -> Result<usize, ProbeError> {
        if !self.all_interfaces {
            return Ok(0);
        }
        let present = interfaces();
        self.taps
            .retain(|t| present.iter().any(|(index, _)| *index == t.ifindex));
        let mut added = 0;
        for (index, name) in present {
            if self.taps.iter().any(|t| t.ifindex == index) {
                continue;
            }
            match self.tap(index) {
                Ok(()) => {
                    log::info!("tapped interface {name} (ifindex {index})");
                    added += 1;
                }
                // An interface that vanished between listing and binding: not an error.
                Err(ProbeError::Io { source, .. })
                    if source.raw_os_error() == Some(libc::ENODEV) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(added)
    }

    /// Loads the programs and maps without attaching them anywhere (BPF_PROG_TEST_RUN).
    pub fn load(config: &ProbeConfig) -> Result<Probe, ProbeError> {
        let missing = missing_capabilities();
        if !missing.is_empty() {
            return Err(ProbeError::MissingCapabilities(missing.join(", ")));
        }
        let loopback = ifindex("lo").unwrap_or(0);
        let port_filter: u32 = u32::from(!config.ports.is_empty());

        let mut ebpf = EbpfLoader::new()
            .override_global("LOOPBACK_IFINDEX", &loopback, true)
            .override_global("PORT_FILTER", &port_filter, true)
            .load(PROBE_OBJECT)
            .map_err(|e| ProbeError::Bpf(format!("loading the BPF object: {e}")))?;

        if !config.ports.is_empty() {
            let mut ports: Array<_, u64> = Array::try_from(
                ebpf.map_mut("PORTS")
                    .ok_or_else(|| ProbeError::Bpf("map PORTS missing from the object".into()))?,
            )
            .map_err(|e| ProbeError::Bpf(e.to_string()))?;
            let mut bitmap = [0u64; 1024];
            for &p in &config.ports {
                bitmap[usize::from(p / 64)] |= 1u64 << (p % 64);
            }
            for (i, bits) in bitmap.iter().enumerate().filter(|(_, b)| **b != 0) {
                ports
                    .set(i as u32, *bits, 0)
                    .map_err(|e| ProbeError::Bpf(format!("setting port filter: {e}")))?;
            }
        }

        let events = RingBuf::try_from(
            ebpf.take_map("EVENTS")
                .ok_or_else(|| ProbeError::Bpf("map EVENTS missing from the object".into()))?,
        )
        .map_err(|e| ProbeError::Bpf(e.to_string()))?;

        // The per-message program first: the entry program tail-calls it through JUMP.
        load_program(&mut ebpf, MESSAGE_PROGRAM)?;
        let message_fd = socket_filter(&mut ebpf, MESSAGE_PROGRAM)?
            .fd()
            .map_err(|e| ProbeError::Bpf(e.to_string()))?
            .try_clone()
            .map_err(|e| ProbeError::Bpf(e.to_string()))?;
        let mut jump: ProgramArray<_> = ProgramArray::try_from(
            ebpf.map_mut("JUMP")
                .ok_or_else(|| ProbeError::Bpf("map JUMP missing from the object".into()))?,
        )
        .map_err(|e| ProbeError::Bpf(e.to_string()))?;
        jump.set(0, &message_fd, 0)
            .map_err(|e| ProbeError::Bpf(format!("linking the message program: {e}")))?;
        load_program(&mut ebpf, ENTRY_PROGRAM)?;
        let entry_program = config.entry_program.name();
        if entry_program != ENTRY_PROGRAM {
            load_program(&mut ebpf, entry_program)?;
        }
        let _stats = if config.run_stats {
            match aya::sys::enable_stats(aya::sys::Stats::RunTime) {
                Ok(fd) => Some(fd),
                Err(e) => {
                    log::warn!("BPF run-time statistics unavailable: {e}");
                    None
                }
            }
        } else {
            None
        };
        Ok(Probe {
            ebpf,
            taps: Vec::new(),
            entry_program,
            all_interfaces: false,
            loopback: 0,
            events,
            _stats,
            swept_expired: 0,
            in_flight: 0,
        })
    }

    /// Calls `f` for every exchange event waiting in the ring buffer; returns how many.
    pub fn drain_events(&mut self, mut f: impl FnMut(ExchangeRecord)) -> usize {
        let mut n = 0;
        while let Some(item) = self.events.next() {
            if let Some(event) = parse_event(&item) {
                f(event_record(&event));
                n += 1;
            }
        }
        n
    }

    /// Sums the per-CPU counters and histogram.
    pub fn totals(&self) -> Result<KernelTotals, ProbeError> {
        let sums: [u64; COUNTER_SLOTS] = self.per_cpu_sums("COUNTERS")?;
        let histogram_log2: [u64; HISTOGRAM_BUCKETS] = self.per_cpu_sums("LATENCY_LOG2")?;
        let (filter_run_ns, filter_run_cnt) = self.run_stats();
        Ok(KernelTotals {
            filter_run_ns,
            filter_run_cnt,
            ..totals_from_counters(&sums, histogram_log2, self.swept_expired, self.in_flight)
        })
    }

    /// Each slot of the per-CPU array map `name`, summed over the CPUs.
    fn per_cpu_sums<const N: usize>(&self, name: &str) -> Result<[u64; N], ProbeError> {
        let array: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.map(name)?).map_err(|e| bpf_err(name)(e.to_string()))?;
        let mut sums = [0u64; N];
        for (i, sum) in sums.iter_mut().enumerate() {
            let values = array
                .get(&(i as u32), 0)
                .map_err(|e| bpf_err(&format!("reading {name}"))(e.to_string()))?;
            *sum = values.iter().sum();
        }
        Ok(sums)
    }

    /// The socket filter's cumulative run time and run count (0, 0 when stats are off).
    fn run_stats(&self) -> (u64, u64) {
        let Some(program) = self.ebpf.program(self.entry_program) else {
            return (0, 0);
        };
        match program.info() {
            Ok(info) => (info.run_time().as_nanos() as u64, info.run_count()),
            Err(_) => (0, 0),
        }
    }

    /// Expires connections idle for `timeout` (their outstanding requests count as expired)
    /// and refreshes the in-flight gauge. Returns how many requests expired.
    pub fn sweep(&mut self, now_ns: u64, timeout: Duration) -> Result<u64, ProbeError> {
        let timeout_ns = timeout.as_nanos() as u64;
        let mut conns: HashMap<_, ConnKey, ConnState> = HashMap::try_from(
            self.ebpf
                .map_mut("CONNS")
                .ok_or_else(|| ProbeError::Bpf("map CONNS missing".into()))?,
        )
        .map_err(|e| bpf_err("CONNS")(e.to_string()))?;
        let mut stale = Vec::new();
        let mut in_flight = 0u64;
        for entry in conns.iter() {
            // An entry deleted by the kernel while we walk is simply gone.
            let Ok((key, state)) = entry else { continue };
            match probe_common::engine::expire_idle(&state, now_ns, timeout_ns) {
                Some(expired) => stale.push((key, expired)),
                None => in_flight += u64::from(state.outstanding()),
            }
        }
        let mut expired_total = 0u64;
        for (key, expired) in stale {
            // Count only what this call removed: the kernel may have removed it first (FIN).
            if conns.remove(&key).is_ok() {
                expired_total += u64::from(expired);
            }
        }
        self.swept_expired += expired_total;
        self.in_flight = in_flight;
        Ok(expired_total)
    }

    fn map(&self, name: &str) -> Result<&aya::maps::Map, ProbeError> {
        self.ebpf
            .map(name)
            .ok_or_else(|| ProbeError::Bpf(format!("map {name} missing from the object")))
    }

    /// The program the taps run (httptop's, or a bench control), for BPF_PROG_TEST_RUN in tests.
    pub fn program(&self) -> Option<&SocketFilter> {
        self.ebpf.program(self.entry_program)?.try_into().ok()
    }
}

impl Probe {
    /// Detaches the filter from every socket and closes them; the maps stay readable, so a
    /// final read after this sees everything that was counted.
    pub fn detach(&mut self) {
        if self.taps.is_empty() {
            return;
        }
        for tap in &self.taps {
            if let Err(e) = SocketFilter::detach(tap.socket.as_fd()) {
                log::warn!("detaching the filter: {e}");
            }
        }
        log::info!("detached from {} interface(s)", self.taps.len());
        // No new taps after this.
        self.all_interfaces = false;
        self.taps.clear();
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        // Maps and the program are released with `ebpf`.
        self.detach();
    }
}

fn socket_filter<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut SocketFilter, ProbeError> {
    ebpf.program_mut(name)
        .ok_or_else(|| ProbeError::Bpf(format!("program {name} missing from the object")))?
        .try_into()
        .map_err(|e: ProgramError| ProbeError::Bpf(e.to_string()))
}

/// Loads one program; a verifier refusal goes to the log in full, its last lines included.
fn load_program(ebpf: &mut Ebpf, name: &str) -> Result<(), ProbeError> {
    match socket_filter(ebpf, name)?.load() {
        Ok(()) => Ok(()),
        Err(ProgramError::LoadError {
            io_error,
            verifier_log,
        }) => {
            let log_text = verifier_log.to_string();
            log::error!("BPF program {name} refused: {io_error}\n{log_text}");
            let last: Vec<&str> = log_text.lines().rev().take(5).collect();
            log::error!("verifier's last lines: {}", last.join(" | "));
            Err(ProbeError::Verifier(format!("{name}: {io_error}")))
        }
        Err(other) => Err(ProbeError::Bpf(format!("loading {name}: {other}"))),
    }
}

/// An AF_PACKET SOCK_DGRAM socket (the program sees packets from the network header on, on
/// every link type) with the filter attached *before* bind, so no packet is seen unfiltered.
fn packet_socket(
    program: &SocketFilter,
    ifindex: u32,
    ignore_outgoing: bool,
) -> Result<OwnedFd, ProbeError> {
    // SAFETY: plain syscall; the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(io_err("creating the AF_PACKET socket")(
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a fresh descriptor we own.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    program
        .attach(socket.as_fd())
        .map_err(|e| ProbeError::Bpf(format!("attaching the filter: {e}")))?;
    if ignore_outgoing {
        let one: libc::c_int = 1;
        // SAFETY: valid fd and option buffer.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            // Not fatal: the filter drops lo's outgoing copies itself.
            log::warn!("PACKET_IGNORE_OUTGOING: {}", io::Error::last_os_error());
        }
    }
    // SAFETY: sockaddr_ll is plain data; zero is a valid starting point.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = ETH_P_ALL.to_be();
    addr.sll_ifindex = ifindex as i32;
    // SAFETY: valid fd and address of the right size.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io_err("binding the AF_PACKET socket")(
            io::Error::last_os_error(),
        ));
    }
    Ok(socket)
}

/// Reads an event record; `None` when it has the wrong size (never expected).
fn parse_event(bytes: &[u8]) -> Option<ExchangeEvent> {
    if bytes.len() < size_of::<ExchangeEvent>() {
        return None;
    }
    // SAFETY: ExchangeEvent is plain old data and the slice is long enough.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<ExchangeEvent>()) })
}

/// CLOCK_MONOTONIC now, in ns: the clock of `bpf_ktime_get_ns()`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
