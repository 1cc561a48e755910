//! httptop's kernel side: one socket filter on an AF_PACKET socket, or the same rules as a tc
//! classifier (`tc`).
//!
//! It returns 0 for every packet (nothing is queued to the socket); all results flow through
//! maps. The rules themselves live in `probe_common::engine`; `programs` only wires them to
//! packet bytes, BPF maps and the ring buffer.
#![cfg_attr(target_arch = "bpf", no_std, no_main)]

#[cfg(target_arch = "bpf")]
#[macro_use]
mod runtime;
#[cfg(all(target_arch = "bpf", feature = "bench-controls"))]
mod controls;
#[cfg(target_arch = "bpf")]
mod programs;
#[cfg(target_arch = "bpf")]
mod tc;

#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!("httptop-ebpf builds for the bpf target only; app/build.rs builds it");
}
