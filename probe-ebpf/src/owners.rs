//! httptop's owners probe: which process connected each TCP socket, told by the kernel in that
//! process's own context, so user space names a connection's client end without searching
//! `/proc`, and even after the process exits.
//!
//! It runs at the `sock:inet_sock_set_state` raw tracepoint (raw tracepoints attach where
//! kprobes and fentry are not allowed): `CLOSE → SYN_SENT` happens inside `connect()`, where the
//! current process is the connecting one but the local port is not chosen yet, so it is kept by
//! socket until `SYN_SENT → ESTABLISHED` (in any context) completes the tuple and sends it. An
//! accepted socket changes state only in softirq context, with no process of its own to name:
//! server ends stay with user space's search.
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
        wire::{MADE_BY_CONNECT, SockLayout, SocketMade},
    };

    named! {
        SOCK_LAYOUT = names::SOCK_LAYOUT;
        OWNERS = names::OWNERS;
        OWNERS_LOST = names::OWNERS_LOST;
        CONNECTING = names::CONNECTING;
        httptop_owners = names::OWNERS_PROGRAM;
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
    static CONNECTING: LruHashMap<u64, Connector> =
        LruHashMap::with_max_entries(names::CONNECTING_ENTRIES, 0);

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
    const TCP_ESTABLISHED: u64 = 1;
    const TCP_SYN_SENT: u64 = 2;
    const TCP_CLOSE: u64 = 7;

    /// `inet_sock_set_state(const struct sock *sk, const int oldstate, const int newstate)`.
    #[raw_tracepoint(tracepoint = "inet_sock_set_state")]
    pub fn httptop_owners(ctx: RawTracePointContext) -> i32 {
        let _ = state_changed(&ctx);
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
        let old = ctx.arg::<u64>(1) & 0xffff_ffff;
        let new = ctx.arg::<u64>(2) & 0xffff_ffff;
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
            // SAFETY: a helper without preconditions.
            let task = unsafe { bpf_get_current_task() } as *const u8;
            let leader: *const u8 = read(task, l.group_leader)?;
            let who = Connector {
                tgid: (bpf_get_current_pid_tgid() >> 32) as u32,
                _pad: 0,
                // The group leader's comm, as /proc/PID/comm says it.
                comm: read(leader, l.comm)?,
            };
            return CONNECTING.insert(sk, who, 0).ok();
        }
        // SAFETY: a value of this map, copied out before the entry is removed.
        let who = unsafe { *CONNECTING.get(sk)? };
        let _ = CONNECTING.remove(sk);
        if new == TCP_ESTABLISHED {
            send(base, &l, &who);
        }
        Some(())
    }

    #[inline(always)]
    fn send(sk: *const u8, l: &SockLayout, who: &Connector) -> Option<()> {
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
            how: MADE_BY_CONNECT,
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
