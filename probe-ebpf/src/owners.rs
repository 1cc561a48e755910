//! httptop's owners probe: which process holds each end of a TCP connection, told by the kernel
//! in that process's own context, so user space names both ends without searching `/proc`, and
//! even after the process exits. Raw tracepoints attach where kprobes and fentry are not
//! allowed.
//!
//! - `sock:inet_sock_set_state`: `CLOSE → SYN_SENT` happens inside `connect()`, where the current
//!   process is the connecting one but the local port is not chosen yet, so it is kept by socket
//!   until `SYN_SENT → ESTABLISHED` (in any context) completes the tuple and sends it.
//! - `sock:sock_recv_length`, at the end of every `recvmsg` on any socket: an accepted socket
//!   changes state only in softirq context, with no process of its own, so its owner is the
//!   process that first reads it (a server reads the request before it answers). A socket is
//!   told once: `TOLD` holds the sockets sent, and loses each at its `→ CLOSE`, so the common
//!   case, a read of a socket told already, costs one lookup.
//!
//! A separate object from the packet programs: loaded once for every watched namespace (the
//! namespace travels in each record), with none of their maps. Field offsets come from the
//! loader ([`SockLayout`], read from the running kernel's BTF); until it sets them the program
//! sends nothing.
#![cfg_attr(target_arch = "bpf", no_std, no_main)]

#[cfg(target_arch = "bpf")]
#[macro_use]
mod runtime;

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!("httptop-owners builds for the bpf target only; app/build.rs builds it");
}

#[cfg(target_arch = "bpf")]
mod probe {
    use aya_ebpf::{
        helpers::{bpf_get_current_pid_tgid, bpf_get_current_task, bpf_probe_read_kernel},
        macros::{map, raw_tracepoint},
        maps::{LruHashMap, PerCpuArray, RingBuf},
        programs::RawTracePointContext,
    };
    use probe_common::{
        names,
        wire::{MADE_BY_CONNECT, MADE_BY_READ, SockLayout, SocketMade},
    };

    named! {
        SOCK_LAYOUT = names::SOCK_LAYOUT;
        OWNERS = names::OWNERS;
        OWNERS_LOST = names::OWNERS_LOST;
        CONNECTING = names::CONNECTING;
        TOLD = names::TOLD;
        httptop_owners = names::OWNERS_PROGRAM;
        httptop_readers = names::READERS_PROGRAM;
    }

    /// Set by the loader.
    #[unsafe(no_mangle)]
    static SOCK_LAYOUT: SockLayout = SockLayout {
        family: 0,
        protocol: 0,
        num: 0,
        dport: 0,
        rcv_saddr: 0,
        daddr: 0,
        v6_rcv_saddr: 0,
        v6_daddr: 0,
        net: 0,
        state: 0,
        net_inum: 0,
        group_leader: 0,
        comm: 0,
        valid: 0,
    };

    #[map]
    static OWNERS: RingBuf = RingBuf::with_byte_size(names::OWNERS_BYTES, 0);
    #[map]
    static OWNERS_LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);
    /// Sockets in `SYN_SENT`, by address: who connected them. LRU, so a connect whose end was
    /// never seen cannot fill it.
    #[map]
    static CONNECTING: LruHashMap<u64, Connector> =
        LruHashMap::with_max_entries(names::CONNECTING_ENTRIES, 0);
    /// Sockets whose owner was sent, by address.
    #[map]
    static TOLD: LruHashMap<u64, u8> = LruHashMap::with_max_entries(names::TOLD_ENTRIES, 0);

    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct Connector {
        tgid: u32,
        _pad: u32,
        comm: [u8; 16],
    }

    const AF_INET: u16 = 2;
    const AF_INET6: u16 = 10;
    const IPPROTO_TCP: u16 = 6;
    /// The kernel's `tcp_states.h` (each fits the `u8` of `skc_state`).
    const TCP_ESTABLISHED: u8 = 1;
    const TCP_SYN_SENT: u8 = 2;
    const TCP_FIN_WAIT1: u8 = 4;
    const TCP_FIN_WAIT2: u8 = 5;
    const TCP_CLOSE: u8 = 7;
    const TCP_CLOSE_WAIT: u8 = 8;

    /// `inet_sock_set_state(const struct sock *sk, const int oldstate, const int newstate)`.
    #[raw_tracepoint(tracepoint = "inet_sock_set_state")]
    pub fn httptop_owners(ctx: RawTracePointContext) -> i32 {
        let _ = state_changed(&ctx);
        0
    }

    /// `sock_recv_length(struct sock *sk, int ret, int flags)`, in the reading process.
    #[raw_tracepoint(tracepoint = "sock_recv_length")]
    pub fn httptop_readers(ctx: RawTracePointContext) -> i32 {
        let _ = socket_read(&ctx);
        0
    }

    /// Reads a `T` at `base + offset` of kernel memory.
    #[inline(always)]
    fn read<T>(base: *const u8, offset: u32) -> Option<T> {
        // SAFETY: bpf_probe_read_kernel checks the address; a failed read is None.
        unsafe { bpf_probe_read_kernel(base.wrapping_add(offset as usize) as *const T).ok() }
    }

    #[inline(always)]
    fn state_changed(ctx: &RawTracePointContext) -> Option<()> {
        let sk: u64 = ctx.arg(0);
        // `int`s of at most 12.
        let old = ctx.arg::<u64>(1) as u8;
        let new = ctx.arg::<u64>(2) as u8;
        if new == TCP_CLOSE {
            // Its address may be a new socket's next: that one is told afresh.
            let _ = TOLD.remove(sk);
        }
        let wanted = (old == TCP_CLOSE && new == TCP_SYN_SENT)
            || (old == TCP_SYN_SENT && (new == TCP_ESTABLISHED || new == TCP_CLOSE));
        if !wanted {
            return None;
        }
        // SAFETY: the loader's write to the global happens before the program attaches.
        let l = unsafe { core::ptr::read_volatile(&SOCK_LAYOUT) };
        let base = sk as *const u8;
        if l.valid == 0 || base.is_null() || read::<u16>(base, l.protocol)? != IPPROTO_TCP {
            return None;
        }
        if new == TCP_SYN_SENT {
            // Inside connect(): the current process is the connecting one.
            return CONNECTING.insert(sk, current(&l)?, 0).ok();
        }
        // SAFETY: a value of this map, copied out before the entry is removed.
        let who = unsafe { *CONNECTING.get(sk)? };
        let _ = CONNECTING.remove(sk);
        if new == TCP_ESTABLISHED {
            // Its reads are not told again.
            let _ = TOLD.insert(sk, 1, 0);
            send(base, &l, &who, MADE_BY_CONNECT);
        }
        Some(())
    }

    #[inline(always)]
    fn socket_read(ctx: &RawTracePointContext) -> Option<()> {
        let sk: u64 = ctx.arg(0);
        // SAFETY: the loader's write to the global happens before the program attaches.
        let l = unsafe { core::ptr::read_volatile(&SOCK_LAYOUT) };
        let base = sk as *const u8;
        // Every socket's reads come here: the others leave before any map is touched.
        if l.valid == 0 || base.is_null() || read::<u16>(base, l.protocol)? != IPPROTO_TCP {
            return None;
        }
        if !matches!(read::<u16>(base, l.family)?, AF_INET | AF_INET6) || TOLD.get_ptr(sk).is_some()
        {
            return None;
        }
        // Only a connected socket has its whole tuple (and a listener is never read).
        let state: u8 = read(base, l.state)?;
        if !matches!(
            state,
            TCP_ESTABLISHED | TCP_FIN_WAIT1 | TCP_FIN_WAIT2 | TCP_CLOSE_WAIT
        ) {
            return None;
        }
        let who = current(&l)?;
        TOLD.insert(sk, 1, 0).ok()?;
        send(base, &l, &who, MADE_BY_READ)
    }

    /// The current process: its thread group and its group leader's comm (as /proc/PID/comm
    /// says it).
    #[inline(always)]
    fn current(l: &SockLayout) -> Option<Connector> {
        // SAFETY: a helper without preconditions.
        let task = unsafe { bpf_get_current_task() } as *const u8;
        let leader: *const u8 = read(task, l.group_leader)?;
        Some(Connector {
            tgid: (bpf_get_current_pid_tgid() >> 32) as u32,
            _pad: 0,
            comm: read(leader, l.comm)?,
        })
    }

    #[inline(always)]
    fn send(sk: *const u8, l: &SockLayout, who: &Connector, how: u8) -> Option<()> {
        let family: u16 = read(sk, l.family)?;
        if family != AF_INET && family != AF_INET6 {
            return None;
        }
        let net: *const u8 = read(sk, l.net)?;
        let mut e = SocketMade {
            netns: read(net, l.net_inum)?,
            tgid: who.tgid,
            comm: who.comm,
            family,
            local_port: read(sk, l.num)?,
            remote_port: u16::from_be(read(sk, l.dport)?),
            how,
            _pad: 0,
            local: [0; 16],
            remote: [0; 16],
        };
        if family == AF_INET {
            let local: [u8; 4] = read(sk, l.rcv_saddr)?;
            let remote: [u8; 4] = read(sk, l.daddr)?;
            e.local[..4].copy_from_slice(&local);
            e.remote[..4].copy_from_slice(&remote);
        } else {
            e.local = read(sk, l.v6_rcv_saddr)?;
            e.remote = read(sk, l.v6_daddr)?;
        }
        if OWNERS.output::<SocketMade>(&e, 0).is_err()
            && let Some(lost) = OWNERS_LOST.get_ptr_mut(0)
        {
            // SAFETY: this CPU's own slot.
            unsafe { *lost += 1 };
        }
        Some(())
    }
}
