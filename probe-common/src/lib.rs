//! The rules and wire types the kernel programs and user space share, written once: what both
//! sides must agree on lives here and nowhere else.
//!
//! - [`wire`]: `#[repr(C)]` types that cross the kernel/user boundary (map keys, values, events),
//!   the counter list and the layouts of the maps (histogram buckets, port bitmap).
//! - [`names`]: the names and sizes of the kernel's programs, maps and globals.
//! - [`http`]: the byte-level HTTP/1.x classifier and message-head scanner.
//! - [`packet`]: VLAN tags, IPv4/IPv6 + TCP header parsing.
//! - [`engine`]: the per-segment rules (dedupe, message boundaries, request/response pairing),
//!   generic over where payload bytes, connection state and results live, so the kernel program
//!   and the offline pcap reader run the very same code.
#![no_std]

pub mod engine;
pub mod http;
pub mod names;
pub mod packet;
pub mod wire;
