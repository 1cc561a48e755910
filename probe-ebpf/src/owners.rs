//! httptop's owners probe: which process holds each end of a TCP connection, told by the kernel
//! in that process's own context, so user space names both ends without searching `/proc`, and
//! even after the process exits. Raw tracepoints attach where kprobes and fentry are not
//! allowed.
//!
//! - `sock:inet_sock_set_state`: `CLOSE → SYN_SENT` happens inside `connect()`, where the current
//!   process is the connecting one but the local port is not chosen yet, so it is kept by socket
//!   until `SYN_SENT → ESTABLISHED` (in any context) completes the tuple and sends it.
//! - An accepted socket changes state only in softirq context, with no process of its own:
//!   `SYN_RECV → ESTABLISHED` puts it in `ACCEPTED`, and `sock:sock_recv_length`, at the end of
//!   every `recvmsg` on the host, sends the process that first reads it (a server reads the
//!   request before it answers) and takes it out. Every other read leaves after one load from
//!   a table counting the sockets in `ACCEPTED` by a hash of their address (`PENDING`), with no
//!   map lookup and no field of the socket read.
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
        maps::{HashMap, LruHashMap, PerCpuArray, RingBuf},
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
        ACCEPTED = names::ACCEPTED;
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
    static CONNECTING: LruHashMap<u64, Holder> =
        LruHashMap::with_max_entries(names::CONNECTING_ENTRIES, 0);
    /// Sockets accepted and not read yet, by address. Not LRU: a lookup that finds nothing,
    /// every read's, stays cheap; when it is full, a socket is not told (counted as lost).
    #[map]
    static ACCEPTED: HashMap<u64, u8> = HashMap::with_max_entries(names::ACCEPTED_ENTRIES, 0);
    /// How many sockets of each slot of socket addresses are in `ACCEPTED`: a read whose slot
    /// counts none leaves without the lookup. Plain loads and stores (the BPF target has no
    /// atomic read-modify-write in Rust): two CPUs changing one slot at once can lose a change,
    /// which leaves a slot counting too many (a read looks up for nothing) or too few (an
    /// accepted socket is not told, and user space searches for it): never a wrong owner.
    static mut PENDING: [u8; PENDING_SLOTS] = [0; PENDING_SLOTS];
    const PENDING_SLOTS: usize = 1 << 16;

    /// The slot of a socket's address: its bits mixed (Fibonacci hashing), the top 16 kept.
    #[inline(always)]
    fn pending_slot(sk: u64) -> *mut u8 {
        let slot = (sk.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 48) as usize & (PENDING_SLOTS - 1);
        // SAFETY: an index masked into the array.
        unsafe { (&raw mut PENDING).cast::<u8>().add(slot) }
    }

    #[inline(always)]
    fn pending_count(sk: u64) -> u8 {
        // SAFETY: a place in the array (`pending_slot`).
        unsafe { core::ptr::read_volatile(pending_slot(sk)) }
    }

    #[inline(always)]
    fn set_pending_count(sk: u64, count: u8) {
        // SAFETY: a place in the array (`pending_slot`).
        unsafe { core::ptr::write_volatile(pending_slot(sk), count) }
    }

    /// A process holding a socket: its thread group and its group leader's comm.
    #[repr(C)]
    #[derive(Clone, Copy)]
    pub struct Holder {
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
    const TCP_SYN_RECV: u8 = 3;
    const TCP_CLOSE: u8 = 7;

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
        let wanted = (old == TCP_CLOSE && new == TCP_SYN_SENT)
            || (old == TCP_SYN_SENT && (new == TCP_ESTABLISHED || new == TCP_CLOSE))
            || (old == TCP_SYN_RECV && new == TCP_ESTABLISHED);
        if new == TCP_CLOSE && old != TCP_SYN_SENT {
            // Closed before any read: its address may be a new socket's next.
            let _ = unaccept(sk);
        }
        if !wanted {
            return None;
        }
        // SAFETY: the loader's write to the global happens before the program attaches.
        let l = unsafe { core::ptr::read_volatile(&SOCK_LAYOUT) };
        let base = sk as *const u8;
        if l.valid == 0 || base.is_null() || read::<u16>(base, l.protocol)? != IPPROTO_TCP {
            return None;
        }
        if old == TCP_SYN_RECV {
            // Accepted, in softirq: its owner is whoever reads it first (this tracepoint is
            // for inet sockets only; `send` checks the family).
            if ACCEPTED.insert(sk, 1, 0).is_err() {
                count_lost();
            } else {
                set_pending_count(sk, pending_count(sk).saturating_add(1));
            }
            return Some(());
        }
        if new == TCP_SYN_SENT {
            // Inside connect(): the current process is the connecting one.
            return CONNECTING.insert(sk, current(&l)?, 0).ok();
        }
        // SAFETY: a value of this map, copied out before the entry is removed.
        let who = unsafe { *CONNECTING.get(sk)? };
        let _ = CONNECTING.remove(sk);
        if new == TCP_ESTABLISHED {
            send(base, &l, &who, MADE_BY_CONNECT);
        }
        Some(())
    }

    #[inline(always)]
    fn socket_read(ctx: &RawTracePointContext) -> Option<()> {
        let sk: u64 = ctx.arg(0);
        // Every socket's reads come here: all but an accepted socket's first leave at once.
        if !unaccept(sk) {
            return None;
        }
        // SAFETY: the loader's write to the global happens before the program attaches.
        let l = unsafe { core::ptr::read_volatile(&SOCK_LAYOUT) };
        send(sk as *const u8, &l, &current(&l)?, MADE_BY_READ)
    }

    /// Takes the socket out of `ACCEPTED`; whether it was there. A socket whose slot counts
    /// none (every read but an accepted socket's first, every close) costs one load.
    #[inline(always)]
    fn unaccept(sk: u64) -> bool {
        let count = pending_count(sk);
        if count == 0 || ACCEPTED.remove(sk).is_err() {
            return false;
        }
        set_pending_count(sk, count.saturating_sub(1));
        true
    }

    #[inline(always)]
    fn count_lost() {
        if let Some(lost) = OWNERS_LOST.get_ptr_mut(0) {
            // SAFETY: this CPU's own slot.
            unsafe { *lost += 1 };
        }
    }

    /// The current process: its thread group and its group leader's comm (as /proc/PID/comm
    /// says it).
    #[inline(always)]
    fn current(l: &SockLayout) -> Option<Holder> {
        // SAFETY: a helper without preconditions.
        let task = unsafe { bpf_get_current_task() } as *const u8;
        let leader: *const u8 = read(task, l.group_leader)?;
        Some(Holder {
            tgid: (bpf_get_current_pid_tgid() >> 32) as u32,
            _pad: 0,
            comm: read(leader, l.comm)?,
        })
    }

    #[inline(always)]
    fn send(sk: *const u8, l: &SockLayout, who: &Holder, how: u8) -> Option<()> {
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
        if OWNERS.output::<SocketMade>(&e, 0).is_err() {
            count_lost();
        }
        Some(())
    }
}
