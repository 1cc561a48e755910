//! The classifier and the head scanner against a plain reference written over the valid bytes.
//!
//! Input: two bytes of little-endian `len` (taken modulo `WINDOW + 1`), then the window's bytes.
//! Bytes past `len` stay in the buffer on purpose: the kernel's windows hold stale bytes there,
//! and the scanner peeks at them without a length check, so they must never change a result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use probe_common::{
    http::{Framing, MAX_METHOD_LEN, Start, WINDOW, Window, body_len, classify, scan_head},
    wire::Method,
};

fuzz_target!(|data: &[u8]| {
    let Some((len_bytes, bytes)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = usize::from(u16::from_le_bytes(*len_bytes)) % (WINDOW + 1);
    let mut buf = [0u8; WINDOW];
    let n = bytes.len().min(WINDOW);
    buf[..n].copy_from_slice(&bytes[..n]);
    let valid = &buf[..len];

    check_window(&Window { buf: &buf, len }, valid);
    // A small window: the index masks wrap around within the buffer.
    let small: &[u8; 64] = buf[..64].try_into().expect("64 bytes");
    let small_len = len.min(64);
    check_window(
        &Window {
            buf: small,
            len: small_len,
        },
        &small[..small_len],
    );
});

fn check_window<const N: usize>(w: &Window<N>, valid: &[u8]) {
    // Where the engine classifies: a segment's start, and where a message ended; line starts
    // stand in for the latter.
    let line_starts = valid
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .map(|(i, _)| i + 1)
        .filter(|&at| at < valid.len());
    for at in std::iter::once(0).chain(line_starts).take(17) {
        if at >= valid.len() {
            break;
        }
        let start = classify(w, at);
        assert_eq!(start, reference_classify(valid, at), "classify at {at}");
        if let Some(start) = start {
            for method in [None, Some(Method::Get), Some(Method::Head)] {
                let _ = body_len(start, Framing::None, method);
                let _ = body_len(start, Framing::Chunked, method);
                let _ = body_len(start, Framing::Undelimited, method);
                let _ = body_len(start, Framing::ContentLength(u64::MAX), method);
            }
        }
    }
    let head = scan_head(w);
    // The first line ends at the first `\n` of the valid bytes (the engine checks a request
    // line's version there).
    assert_eq!(
        head.first_line_end,
        valid.iter().position(|&b| b == b'\n'),
        "first line end"
    );
    let expected = reference_head(valid);
    assert_eq!(head.head_len, expected.0, "head length");
    if let Some(head_len) = head.head_len {
        // The head ends on a `\n` within the valid bytes, and only valid bytes decide framing.
        assert!(head_len <= valid.len());
        assert_eq!(valid[head_len - 1], b'\n');
        assert_eq!(head.framing, expected.1, "framing");
    }
}

/// What the request or status line at `at` is, read plainly from the valid bytes.
fn reference_classify(valid: &[u8], at: usize) -> Option<Start> {
    let rest = &valid[at..];
    for method in Method::ALL {
        let name = method.as_str().as_bytes();
        if rest.len() > name.len() && rest.starts_with(name) && rest[name.len()] == b' ' {
            return Some(Start::Request {
                method,
                target_off: at + name.len() + 1,
            });
        }
    }
    if !rest.starts_with(b"HTTP/1.") {
        return reference_extension(rest, at);
    }
    if rest.len() < 12 || rest[8] != b' ' {
        return None;
    }
    let digits = [rest[7], rest[9], rest[10], rest[11]];
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if rest.len() > 12 && !matches!(rest[12], b' ' | b'\r' | b'\n') {
        return None;
    }
    let status = rest[9..12]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    (status >= 100).then_some(Start::Response { status })
}

/// Any other token (an uppercase letter, then tchar, at most `MAX_METHOD_LEN` bytes) before a
/// space and a target starting `/`, `*` or `http`, with at least 4 bytes from the target on.
fn reference_extension(rest: &[u8], at: usize) -> Option<Start> {
    let space = rest.iter().position(|&b| b == b' ')?;
    let token = &rest[..space];
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if token.is_empty()
        || token.len() > MAX_METHOD_LEN
        || !token[0].is_ascii_uppercase()
        || !token.iter().all(tchar)
    {
        return None;
    }
    let target = &rest[space + 1..];
    if target.len() < 4
        || !(target.starts_with(b"/") || target.starts_with(b"*") || target.starts_with(b"http"))
    {
        return None;
    }
    Some(Start::Request {
        method: Method::Extension,
        target_off: at + space + 1,
    })
}

/// Where the head ends (after its blank line) and the framing its header lines give, line by
/// line over the valid bytes. Header names match as the scanner matches them: each byte with
/// 0x20 set (ASCII case folding, applied to every byte).
fn reference_head(valid: &[u8]) -> (Option<usize>, Framing) {
    let mut framing = Framing::None;
    let mut line_start = 0;
    for (i, &b) in valid.iter().enumerate() {
        if b != b'\n' {
            continue;
        }
        let line = &valid[line_start..i];
        if line.is_empty() || line == b"\r" {
            return (Some(i + 1), framing);
        }
        line_start = i + 1;
        let next = &valid[line_start..];
        // Transfer-Encoding wins over Content-Length, whichever comes first.
        let settled = matches!(framing, Framing::Chunked | Framing::Undelimited);
        if !settled && folded_prefix(next, b"content-length:") {
            match decimal(&next[15..]) {
                Decimal::Value(n) => framing = Framing::ContentLength(n),
                Decimal::TooLong => framing = Framing::Undelimited,
                Decimal::Missing => {}
            }
        } else if folded_prefix(next, b"transfer-encoding:") {
            let end = next.iter().position(|&b| b == b'\n').unwrap_or(next.len());
            framing = if last_coding_is_chunked(&next[18..end]) {
                Framing::Chunked
            } else {
                Framing::Undelimited
            };
        }
    }
    (None, framing)
}

/// Whether a Transfer-Encoding's value ends with `chunked` (folded as names are), within at
/// most 8 blanks each side, after the colon or a comma.
fn last_coding_is_chunked(value: &[u8]) -> bool {
    let blanks = |v: &[u8]| {
        v.iter()
            .rev()
            .take(8)
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count()
    };
    let v = value.strip_suffix(b"\r").unwrap_or(value);
    let v = &v[..v.len() - blanks(v)];
    let Some(coding) = v.len().checked_sub(7) else {
        return false;
    };
    if !v[coding..]
        .iter()
        .zip(b"chunked")
        .all(|(b, l)| b | 0x20 == *l)
    {
        return false;
    }
    let v = &v[..coding];
    let v = &v[..v.len() - blanks(v)];
    v.is_empty() || v.ends_with(b",") || v.ends_with(b":")
}

fn folded_prefix(bytes: &[u8], lower: &[u8]) -> bool {
    bytes.len() >= lower.len() && bytes.iter().zip(lower).all(|(b, l)| b | 0x20 == *l)
}

enum Decimal {
    Value(u64),
    Missing,
    TooLong,
}

/// Up to 8 spaces or tabs, then digits: none, at most 19 past up to 64 leading zeros, or more.
fn decimal(bytes: &[u8]) -> Decimal {
    let blanks = bytes
        .iter()
        .take(8)
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let digits: Vec<u8> = bytes[blanks..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    let zeros = digits.iter().take_while(|&&d| d == b'0').count();
    let digits = &digits[zeros.min(digits.len().saturating_sub(1)).min(64)..];
    match digits.len() {
        0 => Decimal::Missing,
        1..=19 => Decimal::Value(
            digits
                .iter()
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
        ),
        _ => Decimal::TooLong,
    }
}
