//! httptop's kernel side: one socket filter on an AF_PACKET socket.
//!
//! It returns 0 for every packet (nothing is queued to the socket); all results flow through
//! maps. The rules themselves live in `probe_common::engine`; this file only wires them to
//! packet bytes, BPF maps and the ring buffer.
#![cfg_attr(target_arch = "bpf", no_std, no_main)]

#[cfg(target_arch = "bpf")]
mod probe;

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!("probe-ebpf builds for the bpf target only; app/build.rs builds it");
}

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // SAFETY: the verifier rejects any program with a reachable panic path.
    unsafe { core::hint::unreachable_unchecked() }
}

#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
