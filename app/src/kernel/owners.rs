//! The owners probe (`probe-ebpf`'s `httptop-owners` object): raw tracepoint programs at
//! `sock:inet_sock_set_state` and `sock:sock_recv_length` that send which process connected,
//! or first read, each end of a TCP connection.
//! Loaded once for every namespace; dropping [`OwnerProbe`] detaches it.
//!
//! The programs read socket and task fields at offsets found here in the running kernel's BTF
//! ([`sock_layout`]), so the object needs no build per kernel.

use super::btf::Btf;
use aya::{
    Ebpf, EbpfLoader,
    maps::{MapData, PerCpuArray, RingBuf},
    programs::RawTracePoint,
};
use probe_common::{
    names,
    wire::{SockLayout, SocketMade},
};

static OWNERS_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/httptop-owners"));

const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

#[derive(Debug, thiserror::Error)]
pub enum OwnerProbeError {
    #[error("reading the kernel's BTF ({VMLINUX_BTF}): {0}")]
    Btf(String),
    #[error("the kernel's BTF has no {0}")]
    Field(String),
    #[error("loading the owners probe: {0}")]
    Object(#[source] aya::EbpfError),
    #[error("{action} {name}: {source}")]
    Program {
        action: &'static str,
        name: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("the owners probe has no {0}")]
    Missing(&'static str),
    #[error("opening map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
}

pub struct OwnerProbe {
    // Holds the programs and their links: dropping it detaches them.
    _ebpf: Ebpf,
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
}

impl OwnerProbe {
    /// Loads the programs and attaches them at their kernel functions.
    pub fn attach() -> Result<OwnerProbe, OwnerProbeError> {
        // Dropped before the loader parses its own copy of the BTF.
        let layout = sock_layout(&read_vmlinux_btf()?)?;
        let mut ebpf = EbpfLoader::new()
            .override_global(names::SOCK_LAYOUT, &layout, true)
            .load(OWNERS_OBJECT)
            .map_err(OwnerProbeError::Object)?;
        for (name, tracepoint) in names::OWNER_PROGRAMS {
            let program_err = |action| {
                move |source| OwnerProbeError::Program {
                    action,
                    name,
                    source,
                }
            };
            let program: &mut RawTracePoint = ebpf
                .program_mut(name)
                .ok_or(OwnerProbeError::Missing(name))?
                .try_into()
                .map_err(program_err("opening"))?;
            program.load().map_err(program_err("loading"))?;
            program
                .attach(tracepoint)
                .map_err(program_err("attaching"))?;
        }
        let ring: RingBuf<_> = take_map(&mut ebpf, names::OWNERS)?;
        let lost: PerCpuArray<_, _> = take_map(&mut ebpf, names::OWNERS_LOST)?;
        Ok(OwnerProbe {
            _ebpf: ebpf,
            ring,
            lost,
        })
    }

    /// Calls `f` for every socket made since the last call; returns how many.
    pub fn drain(&mut self, mut f: impl FnMut(&SocketMade)) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            if item.len() >= size_of::<SocketMade>() {
                // SAFETY: the record holds a SocketMade (checked length; Pod, read unaligned).
                let made = unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<SocketMade>()) };
                f(&made);
                n += 1;
            }
        }
        n
    }

    /// Each program's name, cumulative run time (ns) and run count: zeros unless the kernel's
    /// BPF run-time statistics are on (`aya::sys::enable_stats`). For the attribution cost
    /// measurement only.
    #[cfg(test)]
    pub fn run_stats(&self) -> Vec<(&'static str, u64, u64)> {
        names::OWNER_PROGRAMS
            .iter()
            .map(|&(name, _)| {
                let info = self._ebpf.program(name).and_then(|p| p.info().ok());
                let (ns, runs) =
                    info.map_or((0, 0), |i| (i.run_time().as_nanos() as u64, i.run_count()));
                (name, ns, runs)
            })
            .collect()
    }

    /// Sockets the kernel could not report (the ring buffer was full).
    pub fn lost(&self) -> u64 {
        self.lost
            .get(&0, 0)
            .map(|per_cpu| per_cpu.iter().sum())
            .unwrap_or(0)
    }
}

/// A map of the owners object, as the kind `M` it is.
fn take_map<M>(ebpf: &mut aya::Ebpf, name: &'static str) -> Result<M, OwnerProbeError>
where
    M: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or(OwnerProbeError::Missing(name))?;
    M::try_from(map).map_err(|source| OwnerProbeError::Map { name, source })
}

fn read_vmlinux_btf() -> Result<Btf, OwnerProbeError> {
    let bytes = std::fs::read(VMLINUX_BTF).map_err(|e| OwnerProbeError::Btf(e.to_string()))?;
    Btf::parse(bytes).map_err(|e| OwnerProbeError::Btf(e.to_string()))
}

/// The offsets the owners probe reads, in this kernel.
pub fn sock_layout(btf: &Btf) -> Result<SockLayout, OwnerProbeError> {
    let offset_of = |name: &str, path: &[&str]| {
        btf.offset_of(name, path)
            .ok_or_else(|| OwnerProbeError::Field(format!("{name}.{}", path.join("."))))
    };
    let sock = |field: &str| offset_of("sock", &["__sk_common", field]);
    Ok(SockLayout {
        family: sock("skc_family")?,
        protocol: offset_of("sock", &["sk_protocol"])?,
        num: sock("skc_num")?,
        dport: sock("skc_dport")?,
        rcv_saddr: sock("skc_rcv_saddr")?,
        daddr: sock("skc_daddr")?,
        v6_rcv_saddr: sock("skc_v6_rcv_saddr")?,
        v6_daddr: sock("skc_v6_daddr")?,
        net: offset_of("sock", &["__sk_common", "skc_net", "net"])?,
        net_inum: offset_of("net", &["ns", "inum"])?,
        group_leader: offset_of("task_struct", &["group_leader"])?,
        comm: offset_of("task_struct", &["comm"])?,
        valid: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offsets that have not moved in decades, as a check that the BTF walk is right.
    #[test]
    fn the_layout_of_the_running_kernel_has_the_fixed_places_of_the_address_pair() {
        let btf = read_vmlinux_btf().expect("this test needs the kernel's BTF");
        let l = sock_layout(&btf).expect("every field is in the kernel's BTF");
        assert_eq!((l.daddr, l.rcv_saddr, l.dport, l.num), (0, 4, 12, 14));
        assert_eq!(l.valid, 1);
        assert!(l.family > l.num && l.v6_daddr > l.family && l.v6_rcv_saddr == l.v6_daddr + 16);
    }

    /// This thread's network namespace's inode.
    fn netns_inode() -> u32 {
        crate::netns::NetnsIdentity::current()
            .expect("reading /proc/thread-self/ns/net")
            .inode() as u32
    }

    /// In a network namespace of its own, a connection over loopback per family, with a
    /// request and an answer each read: the probe tells the client end at its connect and the
    /// server end at its first read, both by this process, with the namespace, the ends and the
    /// comm; nothing more for the later reads of either end, nor for an accepted socket closed
    /// unread.
    #[test]
    #[ignore = "needs root"]
    fn the_probe_names_the_process_that_connected_and_the_one_that_read() {
        use probe_common::wire::{MADE_BY_CONNECT, MADE_BY_READ};
        use std::io::{Read, Write};
        let mut probe = OwnerProbe::attach().expect("attaching the owners probe");
        std::thread::spawn(move || {
            // SAFETY: plain syscall; it moves only this thread into a fresh network namespace.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
            let up = std::process::Command::new("ip")
                .args(["link", "set", "lo", "up"])
                .status()
                .expect("running ip");
            assert!(up.success());
            let netns = netns_inode();
            let mut seen = Vec::new();
            let mut ends = Vec::new();
            for bind in ["127.0.0.1:0", "[::1]:0"] {
                let listener = std::net::TcpListener::bind(bind).expect("bind");
                let server = listener.local_addr().unwrap();
                let mut client = std::net::TcpStream::connect(server).expect("connect");
                let (mut accepted, _) = listener.accept().expect("accept");
                let mut byte = [0u8; 1];
                for _ in 0..2 {
                    client.write_all(b"q").unwrap();
                    accepted.read_exact(&mut byte).unwrap();
                    accepted.write_all(b"a").unwrap();
                    client.read_exact(&mut byte).unwrap();
                }
                let client_end = client.local_addr().unwrap();
                ends.push((MADE_BY_CONNECT, client_end, server));
                ends.push((MADE_BY_READ, server, client_end));
                drop((client, accepted));
            }
            // Accepted and closed unread: its connect told, nothing for the server end.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let server = listener.local_addr().unwrap();
            let client = std::net::TcpStream::connect(server).expect("connect");
            let (accepted, _) = listener.accept().expect("accept");
            ends.push((MADE_BY_CONNECT, client.local_addr().unwrap(), server));
            drop((client, accepted));
            // A refused connect goes SYN_SENT → CLOSE: forgotten, not sent.
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let refused = closed.local_addr().unwrap();
            drop(closed);
            assert!(std::net::TcpStream::connect(refused).is_err());
            probe.drain(|m| {
                if m.netns == netns {
                    seen.push(*m);
                }
            });
            let pid = std::process::id();
            let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
            let bytes = |ip: std::net::IpAddr| match ip {
                std::net::IpAddr::V4(ip) => {
                    let mut b = [0u8; 16];
                    b[..4].copy_from_slice(&ip.octets());
                    b
                }
                std::net::IpAddr::V6(ip) => ip.octets(),
            };
            assert_eq!(seen.len(), 5, "{seen:?}");
            for (m, (how, local, remote)) in seen.iter().zip(ends) {
                assert_eq!(m.how, how);
                assert_eq!(m.tgid, pid);
                let family = if local.is_ipv4() {
                    libc::AF_INET
                } else {
                    libc::AF_INET6
                };
                assert_eq!(m.family, family as u16);
                assert_eq!((m.local_port, m.remote_port), (local.port(), remote.port()));
                assert_eq!((m.local, m.remote), (bytes(local.ip()), bytes(remote.ip())));
                let len = m.comm.iter().position(|&b| b == 0).unwrap_or(16);
                assert_eq!(
                    std::str::from_utf8(&m.comm[..len]).unwrap(),
                    comm.trim_end()
                );
            }
            assert_eq!(probe.lost(), 0);
        })
        .join()
        .expect("the test thread");
    }
}
