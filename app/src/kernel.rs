//! The kernel side from user space: loads the programs, attaches the socket filter to AF_PACKET
//! sockets, reads the maps, and undoes it all on drop (bpftop's way: a guard owns every
//! kernel-side change). Every program, map and global is found by its name in
//! `probe_common::names`.

use std::{
    ffi::CString,
    io,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
    time::Duration,
};

use aya::{
    Ebpf, EbpfError, EbpfLoader,
    maps::{
        Array, HashMap, IterableMap as _, MapData, MapError, PerCpuArray, ProgramArray, RingBuf,
    },
    programs::{Program, ProgramError, SchedClassifier, SocketFilter},
};
use probe_common::{
    engine, names,
    wire::{
        COUNTER_SLOTS, ConnKey, ConnState, Event as WireEvent, HISTOGRAM_BUCKETS,
        PORT_BITMAP_WORDS, Tombstone, port_bit,
    },
};

use crate::{
    model::{Event, Exchange, KernelTotals, NetnsId},
    netns::SharedNetns,
    records::{connection_end, model_event, totals_from_counters, unsent_record},
};

mod btf;
pub mod owners;
mod tc;

/// Slots of the jump arrays: the programs the entry program reaches by tail call.
const JUMP_SLOTS: usize = names::JUMP_SLOTS as usize;

/// The kernel programs' object, built by build.rs from `probe-ebpf`.
static KERNEL_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/httptop-ebpf"));

const ETH_P_ALL: u16 = 0x0003;

/// The program every tap's socket runs. The benchmark's controls (cargo feature
/// `bench-controls`) are `--bench-control-filter`'s values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "bench-controls", derive(clap::ValueEnum))]
pub enum EntryProgram {
    /// httptop's filter.
    #[default]
    #[cfg_attr(feature = "bench-controls", value(skip))]
    Httptop,
    /// Benchmark control: returns at once (nothing is counted; what remains is the cost of the
    /// packet sockets themselves).
    #[cfg(feature = "bench-controls")]
    ReturnAtOnce,
    /// Benchmark control: loads and parses the headers as httptop's filter does, then stops.
    #[cfg(feature = "bench-controls")]
    #[value(name = "headers")]
    HeadersOnly,
    /// Benchmark control: pairs by port (the lower one is the server's) without reading any
    /// payload byte, and sends each exchange's event: the least a kernel-pairing design does.
    #[cfg(feature = "bench-controls")]
    #[value(name = "pairing")]
    PairingOnly,
}

impl EntryProgram {
    fn name(self) -> &'static str {
        match self {
            EntryProgram::Httptop => names::ENTRY_PROGRAM,
            #[cfg(feature = "bench-controls")]
            EntryProgram::ReturnAtOnce => names::NULL_CONTROL_PROGRAM,
            #[cfg(feature = "bench-controls")]
            EntryProgram::HeadersOnly => names::HEADERS_CONTROL_PROGRAM,
            #[cfg(feature = "bench-controls")]
            EntryProgram::PairingOnly => names::PAIRING_CONTROL_PROGRAM,
        }
    }
}
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Where the programs see packets (`--attach`). Both run the same rules and count the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AttachMode {
    /// A socket filter on an AF_PACKET socket per interface (every kernel, every link type).
    /// The default: it needs only CAP_BPF, CAP_NET_RAW and CAP_PERFMON, and sees every link
    /// type.
    #[default]
    Socket,
    /// A tc classifier on each interface's hooks (TCX links; clsact through netlink before
    /// Linux 6.6): no packet tap, each packet seen once. Ethernet-framed interfaces only, and
    /// attaching to tc hooks also needs CAP_NET_ADMIN.
    Tc,
}

impl AttachMode {
    /// The name `--attach` takes.
    pub fn name(self) -> String {
        use clap::ValueEnum as _;
        self.to_possible_value()
            .map(|value| value.get_name().to_owned())
            .unwrap_or_default()
    }

    /// The entry program, the programs it reaches by tail call (by slot) and the jump array
    /// that holds them.
    fn programs(self) -> (&'static str, [&'static str; JUMP_SLOTS], &'static str) {
        match self {
            AttachMode::Socket => (names::ENTRY_PROGRAM, names::TAIL_PROGRAMS, names::JUMP),
            AttachMode::Tc => (
                names::TC_ENTRY_PROGRAM,
                names::TC_TAIL_PROGRAMS,
                names::JUMP_TC,
            ),
        }
    }
}

/// What can go wrong on the kernel side. Each message is one line that names the program or
/// map concerned and ends with the cause (the source is also kept for `Error::source`).
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(
        "missing capabilities: {missing} (run as root, or grant them to the binary: \
         sudo setcap {setcap} {binary})"
    )]
    MissingCapabilities {
        missing: String,
        setcap: String,
        binary: String,
    },
    #[error("unknown interface '{0}'")]
    UnknownInterface(String),
    #[error("--attach tc watches Ethernet-framed interfaces only; use --attach socket for {0}")]
    NotEthernet(String),
    #[error("the benchmark's control filters run as socket filters only (--attach socket)")]
    ControlNotSocket,
    #[error(
        "the kernel refused the BPF program ({program}: {source}); the verifier's log is in the log file"
    )]
    Verifier {
        program: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("loading the BPF object: {0}")]
    Object(#[source] EbpfError),
    #[error("{0} missing from the BPF object")]
    Missing(String),
    #[error("{action} map {map}: {source}")]
    Map {
        map: &'static str,
        action: &'static str,
        #[source]
        source: MapError,
    },
    #[error("{action} program {program}: {source}")]
    Program {
        program: &'static str,
        action: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> KernelError {
    let context = context.into();
    move |source| KernelError::Io { context, source }
}

fn map_err(map: &'static str, action: &'static str) -> impl FnOnce(MapError) -> KernelError {
    move |source| KernelError::Map {
        map,
        action,
        source,
    }
}

fn program_err(
    program: &'static str,
    action: &'static str,
) -> impl FnOnce(ProgramError) -> KernelError {
    move |source| KernelError::Program {
        program,
        action,
        source,
    }
}

/// What to watch.
#[derive(Clone, Debug, Default)]
pub struct KernelConfig {
    /// Interface names; empty = every interface of this network namespace, new ones included.
    pub interfaces: Vec<String>,
    /// Server ports; empty = every port.
    pub ports: Vec<u16>,
    /// Turn the kernel's BPF run-time statistics on (the dashboard's cost figure). They cost two
    /// clock reads per program run, so the headless mode leaves them off.
    pub run_stats: bool,
    /// What the sockets run: httptop's filter, or a benchmark control.
    pub entry_program: EntryProgram,
    /// Socket filter or tc classifier.
    pub attach: AttachMode,
    /// Other network namespaces to watch (`--netns`), besides httptop's own.
    pub netns: crate::probes::NetnsConfig,
}

/// One interface's attachment.
struct Tap {
    ifindex: u32,
    attachment: Attachment,
}

enum Attachment {
    /// An AF_PACKET socket bound to the interface, the filter attached.
    Socket(OwnedFd),
    /// The classifier's tc hooks, detached on drop.
    Tc { _hook: tc::Hook },
    /// Left alone: `--attach tc` on an interface without an Ethernet header (listed, so it
    /// is not looked at again every second).
    Skipped,
}

/// The loaded and attached kernel programs. Dropping it detaches the filter and closes the
/// sockets.
pub struct Kernel {
    ebpf: Ebpf,
    taps: Vec<Tap>,
    /// The program each tap's socket runs.
    entry_program: &'static str,
    attach: AttachMode,
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
    /// What the sweep removed (the exchanges of responses still being received, then the
    /// connections' ends), handed out with the next events.
    swept: Vec<Event>,
    /// The network namespace of the taps: `None` for httptop's own. Its events carry
    /// `netns_id`.
    space: Option<SharedNetns>,
    netns_id: NetnsId,
}

/// Entries read per BPF_MAP_LOOKUP_BATCH call: more than any hash bucket holds (the kernel
/// refuses a batch smaller than a bucket), few enough that the buffers (zeroed at every sweep,
/// once a second) stay under 400 KiB: 4096 made each sweep clear 6 MiB, the most of what a
/// headless run did at 15k exchanges a second after the exchanges themselves.
const LOOKUP_BATCH: usize = 256;

/// Calls `f` on every connection of the table, read in batches; returns the table, for changes
/// after the walk.
fn walk_conns(
    ebpf: &mut Ebpf,
    mut f: impl FnMut(&ConnKey, &ConnState),
) -> Result<HashMap<&mut MapData, ConnKey, ConnState>, KernelError> {
    let conns: HashMap<_, ConnKey, ConnState> = HashMap::try_from(map_mut(ebpf, names::CONNS)?)
        .map_err(map_err(names::CONNS, "opening"))?;
    lookup_batched(
        conns.map().fd().as_fd(),
        LOOKUP_BATCH,
        1,
        |key, state: &[ConnState]| f(key, &state[0]),
    )
    .map_err(io_err("reading the connection table"))?;
    Ok(conns)
}

/// Leaves the tombstones of connections the sweep removed (`TOMBSTONES`, an LRU map: the
/// oldest make room).
fn bury(ebpf: &mut Ebpf, graves: &[(ConnKey, Tombstone)]) -> Result<(), KernelError> {
    if graves.is_empty() {
        return Ok(());
    }
    let mut tombstones: HashMap<_, ConnKey, Tombstone> =
        HashMap::try_from(map_mut(ebpf, names::TOMBSTONES)?)
            .map_err(map_err(names::TOMBSTONES, "opening"))?;
    for (key, tombstone) in graves {
        tombstones
            .insert(key, tombstone, 0)
            .map_err(map_err(names::TOMBSTONES, "writing"))?;
    }
    Ok(())
}

/// Calls `f` for every entry of the map `map`, `batch` entries per syscall
/// (BPF_MAP_LOOKUP_BATCH), where walking it key by key takes two syscalls per entry (a hash
/// map) or one (an array). Each entry's value is `per_entry` values of `V`: one, or one per
/// possible CPU for a per-CPU map. Entries the kernel adds or removes meanwhile may be seen or
/// not, as with any walk.
fn lookup_batched<K: aya::Pod, V: aya::Pod>(
    map: std::os::fd::BorrowedFd<'_>,
    batch: usize,
    per_entry: usize,
    mut f: impl FnMut(&K, &[V]),
) -> io::Result<()> {
    /// `union bpf_attr`'s `batch` member (linux/bpf.h).
    #[repr(C)]
    struct BatchAttr {
        in_batch: u64,
        out_batch: u64,
        keys: u64,
        values: u64,
        count: u32,
        map_fd: u32,
        elem_flags: u64,
        flags: u64,
    }
    const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
    fn zeroed<T: aya::Pod>(n: usize) -> Vec<T> {
        // SAFETY: Pod types are plain old data: all-zero bytes are a valid value.
        (0..n).map(|_| unsafe { std::mem::zeroed() }).collect()
    }
    // The kernel lays a per-CPU value out in 8-byte steps: V must be a multiple of 8 for
    // `values` to match it.
    debug_assert!(per_entry == 1 || std::mem::size_of::<V>().is_multiple_of(8));
    let (mut keys, mut values) = (zeroed::<K>(batch), zeroed::<V>(batch * per_entry));
    // The batch token is a bucket or slot index: none to start from, then where the last
    // call stopped.
    let (mut token_in, mut token_out) = (0u32, 0u32);
    let mut first = true;
    loop {
        let mut attr = BatchAttr {
            in_batch: if first {
                0
            } else {
                (&raw const token_in) as u64
            },
            out_batch: (&raw mut token_out) as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: batch as u32,
            map_fd: map.as_raw_fd() as u32,
            elem_flags: 0,
            flags: 0,
        };
        // SAFETY: attr points at buffers of `count` keys and values of the map's sizes (the
        // map was opened with these types, which aya checks) and at the two tokens.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_LOOKUP_BATCH,
                &raw mut attr,
                std::mem::size_of::<BatchAttr>(),
            )
        };
        let error = (ret < 0).then(io::Error::last_os_error);
        let n = (attr.count as usize).min(batch);
        for (key, value) in keys[..n].iter().zip(values.chunks_exact(per_entry)) {
            f(key, value);
        }
        match error {
            None => {}
            // ENOENT: the walk is over (this call may still have returned entries).
            Some(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Some(e) => return Err(e),
        }
        token_in = token_out;
        first = false;
    }
}

/// The possible CPUs, whose values a per-CPU map holds: read from sysfs once, not at every
/// totals refresh.
fn possible_cpus() -> io::Result<usize> {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    if let Some(&cpus) = CPUS.get() {
        return Ok(cpus);
    }
    let cpus = aya::util::nr_cpus().map_err(|(_, e)| e)?;
    Ok(*CPUS.get_or_init(|| cpus))
}

/// What one sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Requests it expired (idle connections' and evicted ones').
    pub expired: u64,
    /// Connections it dropped to make room (the table nearly full), oldest never-answered first.
    pub evicted: u64,
    /// Connections left in the table.
    pub connections: u64,
}

/// A capability httptop needs: its name, its bit (linux/capability.h), and whether
/// CAP_SYS_ADMIN stands in for it (it does for the two split out of it in Linux 5.8).
struct Capability {
    name: &'static str,
    bit: u32,
    sys_admin_covers: bool,
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: Capability = Capability {
    name: "CAP_BPF",
    bit: 39,
    sys_admin_covers: true,
};
const CAP_PERFMON: Capability = Capability {
    name: "CAP_PERFMON",
    bit: 38,
    sys_admin_covers: true,
};
/// The packet sockets of `--attach socket`.
const CAP_NET_RAW: Capability = Capability {
    name: "CAP_NET_RAW",
    bit: 13,
    sys_admin_covers: false,
};
/// The tc hooks of `--attach tc` (and loading classifier programs).
const CAP_NET_ADMIN: Capability = Capability {
    name: "CAP_NET_ADMIN",
    bit: 12,
    sys_admin_covers: false,
};

impl AttachMode {
    /// Everything this mode needs, nothing more.
    fn capabilities(self) -> [Capability; 3] {
        match self {
            AttachMode::Socket => [CAP_BPF, CAP_NET_RAW, CAP_PERFMON],
            AttachMode::Tc => [CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON],
        }
    }

    /// What `setcap` grants the binary so that any user can run it in this mode, e.g.
    /// `cap_bpf,cap_net_raw,cap_perfmon+ep`.
    pub fn setcap_capabilities(self) -> String {
        let names: Vec<String> = self
            .capabilities()
            .iter()
            .map(|c| c.name.to_lowercase())
            .collect();
        format!("{}+ep", names.join(","))
    }
}

/// `Err` naming the capabilities this process lacks for `mode` and the command that grants
/// them.
fn check_capabilities(mode: AttachMode) -> Result<(), KernelError> {
    let missing = missing_capabilities(mode);
    if missing.is_empty() {
        return Ok(());
    }
    let binary = std::env::current_exe()
        .map_or_else(|_| "httptop".to_owned(), |path| path.display().to_string());
    Err(KernelError::MissingCapabilities {
        missing: missing.join(", "),
        setcap: mode.setcap_capabilities(),
        binary,
    })
}

/// This process's effective capabilities, from /proc/self/status (bit N: capability N).
pub(crate) fn effective_capabilities() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// Whether this process may read other users' `/proc/PID/fd` (CAP_SYS_PTRACE or
/// CAP_DAC_READ_SEARCH): what naming their processes needs beyond attaching.
pub fn can_read_other_processes() -> bool {
    const CAP_DAC_READ_SEARCH: u32 = 2;
    const CAP_SYS_PTRACE: u32 = 19;
    let eff = effective_capabilities();
    [CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE]
        .iter()
        .any(|bit| eff & (1u64 << bit) != 0)
}

/// Names the capabilities `mode` needs that this process lacks, from /proc/self/status.
pub fn missing_capabilities(mode: AttachMode) -> Vec<&'static str> {
    let eff = effective_capabilities();
    let has = |bit: u32| eff & (1u64 << bit) != 0;
    mode.capabilities()
        .iter()
        .filter(|c| !(has(c.bit) || (c.sys_admin_covers && has(CAP_SYS_ADMIN))))
        .map(|c| c.name)
        .collect()
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

fn ifindex(name: &str) -> Result<u32, KernelError> {
    let c = CString::new(name).map_err(|_| KernelError::UnknownInterface(name.to_owned()))?;
    // SAFETY: a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(KernelError::UnknownInterface(name.to_owned())),
        i => Ok(i),
    }
}

impl Kernel {
    /// Loads the programs and maps and attaches the filter to AF_PACKET sockets.
    pub fn attach(config: &KernelConfig) -> Result<Kernel, KernelError> {
        check_capabilities(config.attach)?;
        // Resolve every interface before touching the kernel: a typo changes nothing.
        let targets: Vec<(String, u32)> = config
            .interfaces
            .iter()
            .map(|name| ifindex(name).map(|i| (name.clone(), i)))
            .collect::<Result<_, _>>()?;
        let mut kernel = Kernel::load(config)?;
        kernel.loopback = ifindex("lo").unwrap_or(0);
        if targets.is_empty() {
            kernel.all_interfaces = true;
            kernel.refresh_interfaces()?;
        }
        for (name, index) in targets {
            // Named interfaces are attached or the run fails: `tap` never skips one.
            kernel.tap(index, &name).map_err(|e| match e {
                KernelError::Io { context, source } => KernelError::Io {
                    context: format!("{context} on {name}"),
                    source,
                },
                other => other,
            })?;
        }
        log::info!(
            "attached to {} interface(s), lo ifindex {}, ports {:?}",
            kernel.taps.len(),
            kernel.loopback,
            config.ports
        );
        Ok(kernel)
    }

    /// One socket per interface rather than one for all: the socket on `lo` can then ignore
    /// the outgoing copy of every packet (`PACKET_IGNORE_OUTGOING`), which halves the filter's
    /// runs there, while a NIC's or a veth's outgoing packets, their only copy, still pass.
    /// Returns whether the interface is watched (`--attach tc` skips non-Ethernet ones when
    /// watching every interface).
    fn tap(&mut self, ifindex: u32, name: &str) -> Result<bool, KernelError> {
        if self.attach == AttachMode::Tc {
            return self.tc_hook(ifindex, name);
        }
        let program = socket_filter(&mut self.ebpf, self.entry_program)?;
        let socket = packet_socket(
            program,
            self.entry_program,
            ifindex,
            ifindex == self.loopback,
        )?;
        self.taps.push(Tap {
            ifindex,
            attachment: Attachment::Socket(socket),
        });
        Ok(true)
    }

    /// `--attach tc`: the classifier on the interface's hooks. With every interface watched,
    /// one without an Ethernet header is skipped (and said so in the log); named, it is an
    /// error.
    fn tc_hook(&mut self, ifindex: u32, name: &str) -> Result<bool, KernelError> {
        if !tc::ethernet_framed(name) {
            if self.all_interfaces {
                log::warn!("--attach tc: not watching {name}, not Ethernet-framed");
                self.taps.push(Tap {
                    ifindex,
                    attachment: Attachment::Skipped,
                });
                return Ok(false);
            }
            return Err(KernelError::NotEthernet(name.to_owned()));
        }
        let program: &mut SchedClassifier = self
            .ebpf
            .program_mut(self.entry_program)
            .ok_or_else(|| not_in_object("program", self.entry_program))?
            .try_into()
            .map_err(program_err(self.entry_program, "opening"))?;
        let hook = tc::attach(program, self.entry_program, name, ifindex == self.loopback)?;
        self.taps.push(Tap {
            ifindex,
            attachment: Attachment::Tc { _hook: hook },
        });
        Ok(true)
    }

    /// [`Kernel::attach`] inside another network namespace, every interface of it (new ones
    /// included); its events say `netns_id`.
    pub fn attach_in(
        config: &KernelConfig,
        space: SharedNetns,
        netns_id: NetnsId,
    ) -> Result<Kernel, KernelError> {
        let config = KernelConfig {
            interfaces: Vec::new(),
            netns: Default::default(),
            ..config.clone()
        };
        let mut kernel = space.within(|| Kernel::attach(&config))??;
        kernel.space = Some(space);
        kernel.netns_id = netns_id;
        Ok(kernel)
    }

    /// The namespace whose traffic this watches (`None`: httptop's own).
    pub fn netns(&self) -> Option<&SharedNetns> {
        self.space.as_ref()
    }

    /// With every interface watched: taps interfaces that appeared since the last call and
    /// closes the taps of interfaces that are gone. Returns how many were added.
    pub fn refresh_interfaces(&mut self) -> Result<usize, KernelError> {
        if !self.all_interfaces {
            return Ok(0);
        }
        // Interfaces are listed, and sockets made, inside the namespace they belong to.
        if let Some(space) = self.space.clone() {
            return space.within(|| self.refresh_interfaces_here())?;
        }
        self.refresh_interfaces_here()
    }

    fn refresh_interfaces_here(&mut self) -> Result<usize, KernelError> {
        let present = interfaces();
        self.taps.retain(|t| {
            let here = present.iter().any(|(index, _)| *index == t.ifindex);
            if !here {
                log::info!("interface {} is gone: its tap is closed", t.ifindex);
            }
            here
        });
        let mut added = 0;
        for (index, name) in present {
            if self.taps.iter().any(|t| t.ifindex == index) {
                continue;
            }
            match self.tap(index, &name) {
                Ok(false) => {}
                Ok(true) => {
                    log::info!("tapped interface {name} (ifindex {index})");
                    added += 1;
                }
                // An interface that vanished between listing and binding: not an error.
                Err(KernelError::Io { source, .. })
                    if source.raw_os_error() == Some(libc::ENODEV) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(added)
    }

    /// Loads the programs and maps without attaching them anywhere (BPF_PROG_TEST_RUN).
    pub fn load(config: &KernelConfig) -> Result<Kernel, KernelError> {
        check_capabilities(config.attach)?;
        let loopback = ifindex("lo").unwrap_or(0);
        let port_filter: u32 = u32::from(!config.ports.is_empty());

        let mut ebpf = EbpfLoader::new()
            .override_global(names::LOOPBACK_IFINDEX, &loopback, true)
            .override_global(names::PORT_FILTER, &port_filter, true)
            .load(KERNEL_OBJECT)
            .map_err(KernelError::Object)?;

        if !config.ports.is_empty() {
            let mut ports: Array<_, u64> = Array::try_from(map_mut(&mut ebpf, names::PORTS)?)
                .map_err(map_err(names::PORTS, "opening"))?;
            let mut bitmap = [0u64; PORT_BITMAP_WORDS];
            for &port in &config.ports {
                let (word, bit) = port_bit(port);
                bitmap[word as usize] |= bit;
            }
            for (i, bits) in bitmap.iter().enumerate().filter(|(_, b)| **b != 0) {
                ports
                    .set(i as u32, *bits, 0)
                    .map_err(map_err(names::PORTS, "setting the port filter in"))?;
            }
        }

        let events = ebpf
            .take_map(names::EVENTS)
            .ok_or_else(|| not_in_object("map", names::EVENTS))?;
        let events = RingBuf::try_from(events).map_err(map_err(names::EVENTS, "opening"))?;

        // The per-message programs first: the entry program tail-calls them through the jump
        // array.
        let (httptop_program, tail_programs, jump_map) = config.attach.programs();
        let mut tail_fds = Vec::with_capacity(JUMP_SLOTS);
        for program in tail_programs {
            load_program(&mut ebpf, program)?;
            let fd = ebpf
                .program(program)
                .ok_or_else(|| not_in_object("program", program))?
                .fd()
                .map_err(program_err(program, "reading the fd of"))?
                .try_clone()
                .map_err(io_err(format!("duplicating the fd of program {program}")))?;
            tail_fds.push(fd);
        }
        let mut jump: ProgramArray<_> = ProgramArray::try_from(map_mut(&mut ebpf, jump_map)?)
            .map_err(map_err(jump_map, "opening"))?;
        for (slot, fd) in tail_fds.iter().enumerate() {
            jump.set(slot as u32, fd, 0)
                .map_err(map_err(jump_map, "linking a per-message program through"))?;
        }
        load_program(&mut ebpf, httptop_program)?;
        let entry_program = match config.attach {
            AttachMode::Socket => config.entry_program.name(),
            AttachMode::Tc if config.entry_program == EntryProgram::Httptop => httptop_program,
            AttachMode::Tc => return Err(KernelError::ControlNotSocket),
        };
        if entry_program != httptop_program {
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
        Ok(Kernel {
            ebpf,
            taps: Vec::new(),
            entry_program,
            attach: config.attach,
            all_interfaces: false,
            loopback: 0,
            events,
            _stats,
            swept_expired: 0,
            in_flight: 0,
            swept: Vec::new(),
            space: None,
            netns_id: NetnsId::OWN,
        })
    }

    /// Calls `f` for every event waiting in the ring buffer (exchanges and connection ends),
    /// then for the connections the sweep removed since; returns how many.
    pub fn drain_events(&mut self, mut f: impl FnMut(Event)) -> usize {
        let mut n = 0;
        let netns = self.netns_id;
        while let Some(item) = self.events.next() {
            if let Some(event) = WireEvent::parse(&item) {
                let mut event = model_event(&event);
                match &mut event {
                    Event::Exchange(e) => e.netns = netns,
                    Event::ConnectionEnded(end) => end.netns = netns,
                }
                f(event);
                n += 1;
            }
        }
        n += self.swept.len();
        for mut event in self.swept.drain(..) {
            match &mut event {
                Event::Exchange(e) => e.netns = netns,
                Event::ConnectionEnded(end) => end.netns = netns,
            }
            f(event);
        }
        n
    }

    /// Sums the per-CPU counters and histogram.
    pub fn totals(&self) -> Result<KernelTotals, KernelError> {
        let sums: [u64; COUNTER_SLOTS] = self.per_cpu_sums(names::COUNTERS)?;
        let histogram_log2: [u64; HISTOGRAM_BUCKETS] = self.per_cpu_sums(names::LATENCY_LOG2)?;
        let (filter_run_ns, filter_run_cnt) = self.run_stats();
        Ok(KernelTotals {
            filter_run_ns,
            filter_run_cnt,
            ..totals_from_counters(&sums, histogram_log2, self.swept_expired, self.in_flight)
        })
    }

    /// Each slot of the per-CPU array map `name`, summed over the CPUs: one syscall for all
    /// of them (the totals are read five times a second).
    fn per_cpu_sums<const N: usize>(&self, name: &'static str) -> Result<[u64; N], KernelError> {
        let map = self
            .ebpf
            .map(name)
            .ok_or_else(|| not_in_object("map", name))?;
        let array: PerCpuArray<_, u64> =
            PerCpuArray::try_from(map).map_err(map_err(name, "opening"))?;
        let cpus = possible_cpus().map_err(io_err("counting the CPUs"))?;
        let mut sums = [0u64; N];
        lookup_batched(
            array.map().fd().as_fd(),
            N,
            cpus,
            |slot: &u32, per_cpu: &[u64]| {
                if let Some(sum) = sums.get_mut(*slot as usize) {
                    *sum = per_cpu.iter().sum();
                }
            },
        )
        .map_err(io_err("reading the kernel's counters"))?;
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

    /// Expires connections idle for `timeout` (their outstanding requests count as expired),
    /// makes room when the table is nearly full (`engine::evictions`) and refreshes the
    /// in-flight gauge. Each connection removed leaves a tombstone, as a close does: a client
    /// that retransmits an unanswered request after a pause longer than `timeout` has its
    /// copy counted as a duplicate, not as a new connection's request. The table is read thousands of entries per syscall: one lookup per
    /// entry cost 13–17 % of a core each second with the table full.
    pub fn sweep(&mut self, now_ns: u64, timeout: Duration) -> Result<Swept, KernelError> {
        let timeout_ns = timeout.as_nanos() as u64;
        let mut stale = Vec::new();
        let mut evictable = Vec::new();
        let mut in_flight = 0u64;
        let mut connections = 0usize;
        let mut conns = walk_conns(&mut self.ebpf, |key, state| {
            connections += 1;
            match engine::expire_idle(state, now_ns, timeout_ns) {
                Some(expired) => stale.push((
                    *key,
                    state.start_ns,
                    expired,
                    unsent_record(key, state),
                    state.tombstone(),
                )),
                None => {
                    in_flight += u64::from(state.outstanding());
                    if engine::evictable(state) {
                        evictable.push((state.last_seen_ns, *key));
                    }
                }
            }
        })?;
        let mut swept = Swept::default();
        let mut graves = Vec::new();
        for (key, start_ns, expired, unsent, tombstone) in stale {
            // Count only what this call removed: the kernel may have removed it first (FIN).
            if conns.remove(&key).is_ok() {
                swept.expired += u64::from(expired);
                connections -= 1;
                swept_away(&mut self.swept, &key, start_ns, unsent);
                graves.push((key, tombstone));
            }
        }
        let evict = engine::evictions(connections, &mut evictable);
        for (last_seen_ns, key) in &evictable[..evict] {
            // Looked at again right before: a connection that moved since the walk stays.
            let Ok(state) = conns.get(key, 0) else {
                continue;
            };
            if state.last_seen_ns != *last_seen_ns || !engine::evictable(&state) {
                continue;
            }
            if conns.remove(key).is_ok() {
                swept.expired += u64::from(state.outstanding());
                in_flight = in_flight.saturating_sub(u64::from(state.outstanding()));
                swept.evicted += 1;
                connections -= 1;
                swept_away(
                    &mut self.swept,
                    key,
                    state.start_ns,
                    unsent_record(key, &state),
                );
                graves.push((*key, state.tombstone()));
            }
        }
        // Best effort: the connections are gone and counted already, so a tombstone not
        // written must not lose this sweep's figures (a late copy may then count once more).
        if let Err(e) = bury(&mut self.ebpf, &graves) {
            log::warn!("sweep: leaving tombstones: {e}");
        }
        swept.connections = connections as u64;
        self.swept_expired += swept.expired;
        self.in_flight = in_flight;
        Ok(swept)
    }

    /// Hands out, with the next events, the exchanges of the responses still being received
    /// when httptop stops: counted already, their ends not seen.
    pub fn flush_unsent(&mut self) -> Result<(), KernelError> {
        let mut unsent = Vec::new();
        walk_conns(&mut self.ebpf, |key, state| {
            unsent.extend(unsent_record(key, state).map(Event::Exchange));
        })?;
        self.swept.extend(unsent);
        Ok(())
    }

    /// The program the taps run (httptop's, or a bench control), for BPF_PROG_TEST_RUN in tests.
    pub fn program(&self) -> Option<&SocketFilter> {
        self.ebpf.program(self.entry_program)?.try_into().ok()
    }

    /// The classifier `--attach tc` hooks, for BPF_PROG_TEST_RUN in tests.
    pub fn classifier(&self) -> Option<&SchedClassifier> {
        self.ebpf.program(self.entry_program)?.try_into().ok()
    }
}

/// A connection the sweep removed, for the next events: the exchange of the response it was
/// receiving, if any, then its end.
fn swept_away(swept: &mut Vec<Event>, key: &ConnKey, start_ns: u64, unsent: Option<Exchange>) {
    swept.extend(unsent.map(Event::Exchange));
    swept.push(Event::ConnectionEnded(connection_end(key, start_ns)));
}

impl Kernel {
    /// Detaches the filter from every socket and closes them; the maps stay readable, so a
    /// final read after this sees everything that was counted.
    pub fn detach(&mut self) {
        if self.taps.is_empty() {
            return;
        }
        for tap in &self.taps {
            // A tc hook detaches when dropped, below.
            if let Attachment::Socket(socket) = &tap.attachment
                && let Err(e) = SocketFilter::detach(socket.as_fd())
            {
                log::warn!("detaching the filter: {e}");
            }
        }
        log::info!("detached from {} interface(s)", self.taps.len());
        // No new taps after this.
        self.all_interfaces = false;
        let taps = std::mem::take(&mut self.taps);
        // A tc hook without TCX is removed through netlink, which speaks to the namespace of
        // the thread that asks.
        match &self.space {
            Some(space) => {
                if let Err(e) = space.within(move || drop(taps)) {
                    log::warn!("detaching in {space}: {e}");
                }
            }
            None => drop(taps),
        }
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        // Maps and the program are released with `ebpf`.
        self.detach();
    }
}

fn not_in_object(kind: &str, name: &str) -> KernelError {
    KernelError::Missing(format!("{kind} {name}"))
}

fn map_mut<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut aya::maps::Map, KernelError> {
    ebpf.map_mut(name).ok_or_else(|| not_in_object("map", name))
}

fn socket_filter<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut SocketFilter, KernelError> {
    ebpf.program_mut(name)
        .ok_or_else(|| not_in_object("program", name))?
        .try_into()
        .map_err(program_err(name, "opening"))
}

/// Loads one program; a verifier refusal goes to the log in full, its last lines included.
fn load_program(ebpf: &mut Ebpf, name: &'static str) -> Result<(), KernelError> {
    let loaded = match ebpf.program_mut(name) {
        Some(Program::SocketFilter(program)) => program.load(),
        Some(Program::SchedClassifier(program)) => program.load(),
        _ => return Err(not_in_object("socket filter or classifier", name)),
    };
    match loaded {
        Ok(()) => {
            // The verifier's acceptance, in the log: how much of the program it walked.
            let verified = ebpf
                .program(name)
                .and_then(|program| program.info().ok())
                .and_then(|info| info.verified_instruction_count());
            log::info!("BPF program {name} loaded: {verified:?} instructions verified");
            Ok(())
        }
        Err(ProgramError::LoadError {
            io_error,
            verifier_log,
        }) => {
            let log_text = verifier_log.to_string();
            log::error!("BPF program {name} refused: {io_error}\n{log_text}");
            let last: Vec<&str> = log_text.lines().rev().take(5).collect();
            log::error!("verifier's last lines: {}", last.join(" | "));
            Err(KernelError::Verifier {
                program: name,
                source: io_error,
            })
        }
        Err(other) => Err(program_err(name, "loading")(other)),
    }
}

/// An AF_PACKET SOCK_DGRAM socket (the program sees packets from the network header on, on
/// every link type) with the filter attached *before* bind, so no packet is seen unfiltered.
fn packet_socket(
    program: &SocketFilter,
    program_name: &'static str,
    ifindex: u32,
    ignore_outgoing: bool,
) -> Result<OwnedFd, KernelError> {
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
        .map_err(program_err(program_name, "attaching"))?;
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

pub use crate::clock::monotonic_ns;

#[cfg(test)]
mod tests {
    use object::{Object as _, ObjectSection as _, ObjectSymbol as _};
    use probe_common::names;

    use super::KERNEL_OBJECT;

    #[test]
    fn each_mode_names_the_setcap_it_needs() {
        use super::AttachMode;
        assert_eq!(
            AttachMode::Socket.setcap_capabilities(),
            "cap_bpf,cap_net_raw,cap_perfmon+ep"
        );
        assert_eq!(
            AttachMode::Tc.setcap_capabilities(),
            "cap_bpf,cap_net_admin,cap_perfmon+ep"
        );
    }

    /// The names of the symbols defined in the embedded object's section `section`.
    fn symbols_in(section: &str) -> Vec<String> {
        let file = object::File::parse(KERNEL_OBJECT).expect("the embedded object is ELF");
        let index = file
            .section_by_name(section)
            .unwrap_or_else(|| panic!("no section {section} in the embedded object"))
            .index();
        let mut found: Vec<String> = file
            .symbols()
            .filter(|symbol| symbol.section_index() == Some(index))
            .filter_map(|symbol| symbol.name().ok().map(str::to_owned))
            // Local labels of the section's code, not objects.
            .filter(|name| !name.is_empty() && !name.starts_with("LBB") && !name.starts_with('.'))
            .collect();
        found.sort();
        found
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn embedded_object_has_exactly_the_named_maps_programs_and_globals() {
        assert_eq!(symbols_in("maps"), sorted(&names::MAPS));
        assert_eq!(symbols_in(".rodata"), sorted(&names::GLOBALS));
        let mut programs = names::PROGRAMS.to_vec();
        if cfg!(feature = "bench-controls") {
            programs.extend(names::CONTROL_PROGRAMS);
        }
        assert_eq!(symbols_in("socket"), sorted(&programs));
        assert_eq!(symbols_in("classifier"), sorted(&names::TC_PROGRAMS));
    }
}
