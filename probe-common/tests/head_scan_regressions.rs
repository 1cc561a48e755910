//! Inputs the fuzz targets (fuzz/) found the head scanner getting wrong, kept as tests.

use probe_common::http::{Framing, WINDOW, Window, scan_head};

fn scan(bytes: &[u8]) -> (Option<usize>, Framing) {
    let mut buf = [0u8; WINDOW];
    buf[..bytes.len()].copy_from_slice(bytes);
    let head = scan_head(&Window {
        buf: &buf,
        len: bytes.len(),
    });
    (head.head_len, head.framing)
}

/// A vertical tab (0x0b) right after a line's `\n`, in the same 8-byte word, is no line end:
/// the newline search's borrow from the `\n` below must not mark it.
#[test]
fn vertical_tab_after_a_newline_is_not_a_line_end() {
    let msg = b"GET /a HTTP/1.1\r\n\x0bX: y\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(scan(msg), (Some(msg.len() - 3), Framing::ContentLength(3)));
}
