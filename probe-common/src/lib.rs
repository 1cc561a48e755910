//! Everything the eBPF probe and user space must agree on, written once.
//!
//! - [`wire`]: `#[repr(C)]` types that cross the kernel/user boundary (map keys, values, events).
//! - [`http`]: the byte-level HTTP/1.x classifier and message-head scanner.
//! - [`packet`]: IPv4/IPv6 + TCP header parsing.
//! - [`engine`]: the per-segment rules (dedupe, message boundaries, request/response pairing),
//!   generic over where payload bytes, connection state and results live, so the kernel program
//!   and the offline pcap reader run the very same code.
#![no_std]

pub mod engine;
pub mod http;
pub mod packet;
pub mod wire;
