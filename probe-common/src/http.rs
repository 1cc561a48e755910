//! HTTP/1.x message starts and message heads, byte by byte.
//!
//! Written for the BPF verifier as much as for people: every read goes through [`Window::at`],
//! which masks the index to the window's power-of-two size, so each access is provably in
//! bounds, and every loop has a constant bound.

use crate::wire::{
    BODY_NONE, BODY_REQUEST, BODY_RESPONSE, CHUNK_AFTER_LAST, CHUNK_AFTER_LAST_CR, CHUNK_AT_START,
    CHUNK_IN_EXTENSIONS, CHUNK_IN_SIZE, ChunkScan, FRAMING_CHUNKED, FRAMING_LENGTH, FRAMING_NONE,
    FRAMING_UNDELIMITED, HeadRest, LINE_AFTER_CR, LINE_AT_START, LINE_CARRIED, LINE_INSIDE, Method,
};

/// Bytes of a message looked at from its start: request/status line, headers, path prefix.
pub const WINDOW: usize = 512;

/// A fixed buffer of `N` bytes (a power of two) of which the first `len` are valid.
pub struct Window<'a, const N: usize = WINDOW> {
    pub buf: &'a [u8; N],
    pub len: usize,
}

impl<const N: usize> Window<'_, N> {
    /// Byte `i`, or 0 past the valid length (0 never matches anything the parser looks for).
    #[inline(always)]
    pub fn at(&self, i: usize) -> u8 {
        if i < self.len {
            self.buf[i & (N - 1)]
        } else {
            0
        }
    }

    /// Byte `i` without the length check. Only for the head scan's look-ahead: a header
    /// line matters only when the blank line after it lies within `len`, so a stale byte read
    /// past `len` can never change a result, and the verifier gets no length branch to fork on.
    #[inline(always)]
    fn peek(&self, i: usize) -> u8 {
        self.buf[i & (N - 1)]
    }

    /// Whether the bytes from `i` to the end (or the pattern's length, if fewer) are the
    /// pattern's start, ASCII case aside.
    #[inline(always)]
    fn prefix_ci(&self, i: usize, lower_pat: &[u8]) -> bool {
        let mut k = 0;
        while k < lower_pat.len() && i + k < self.len {
            if self.peek(i + k) | 0x20 != lower_pat[k] {
                return false;
            }
            k += 1;
        }
        true
    }

    #[inline(always)]
    fn peek_starts_with_ci(&self, i: usize, lower_pat: &[u8]) -> bool {
        let mut k = 0;
        while k < lower_pat.len() {
            if self.peek(i + k) | 0x20 != lower_pat[k] {
                return false;
            }
            k += 1;
        }
        true
    }

    /// The 8 bytes at `i & !7` as one little-endian word: an aligned load that stays inside
    /// the buffer whatever `i` (N is a power of two ≥ 8). Bytes past `len` may be stale.
    #[inline(always)]
    fn word(&self, i: usize) -> u64 {
        let at = i & (N - 8);
        let p = self.buf.as_ptr().wrapping_add(at).cast::<u64>();
        // In BPF an unaligned load compiles to eight byte loads; the kernel's windows are
        // 8-aligned (the probe asserts their offsets in its scratch map value) and `at` is a
        // multiple of 8, so one aligned load is sound there.
        #[cfg(target_arch = "bpf")]
        // SAFETY: at + 8 <= N, and p is 8-aligned (above).
        let word = unsafe { core::ptr::read(p) };
        #[cfg(not(target_arch = "bpf"))]
        // SAFETY: at + 8 <= N; read_unaligned has no alignment requirement.
        let word = unsafe { core::ptr::read_unaligned(p) };
        u64::from_le(word)
    }

    /// Big-endian u16 at `i`.
    #[inline(always)]
    pub fn be16(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.at(i), self.at(i + 1)])
    }

    /// Big-endian u32 at `i`.
    #[inline(always)]
    pub fn be32(&self, i: usize) -> u32 {
        u32::from_be_bytes([self.at(i), self.at(i + 1), self.at(i + 2), self.at(i + 3)])
    }

    #[inline(always)]
    fn starts_with_at(&self, i: usize, pat: &[u8]) -> bool {
        let mut k = 0;
        while k < pat.len() {
            if self.at(i + k) != pat[k] {
                return false;
            }
            k += 1;
        }
        true
    }
}

/// What the first bytes of a message say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// `METHOD SP`: the target starts at `target_off`.
    Request { method: Method, target_off: usize },
    /// `HTTP/1.x NNN`.
    Response { status: u16 },
}

/// The one 1xx status that is final: the connection switches to another protocol.
pub const SWITCHING_PROTOCOLS: u16 = 101;

/// Bytes needed to classify any start: `HTTP/1.1 200` is 12.
pub const START_LEN: usize = 12;

/// What every status line starts with, before the minor version digit.
const STATUS_LINE_PREFIX: &[u8] = b"HTTP/1.";

/// Longest extension method classified: the longest name in IANA's method registry,
/// `UPDATEREDIRECTREF`, has 17 bytes.
pub const MAX_METHOD_LEN: usize = 20;

// Every message starts with an uppercase letter: the named methods, "HTTP" and, by the
// classifier's rule, extension methods.
const _: () = {
    let mut i = 0;
    while i < Method::ALL.len() {
        assert!(Method::ALL[i].as_str().as_bytes()[0].is_ascii_uppercase());
        i += 1;
    }
    assert!(STATUS_LINE_PREFIX[0].is_ascii_uppercase());
};

/// Whether a message can start with byte `b` ([`classify`] can only say yes to these): lets
/// the kernel drop a segment on its first payload byte.
#[inline(always)]
pub const fn can_start_message(b: u8) -> bool {
    b.is_ascii_uppercase()
}

/// Whose first message the window's bytes (a whole segment's payload, too few for
/// [`classify`]) may begin: all of them the start of one of RFC 9110's nine methods and its
/// space (`Some(true)`: the client's; `GE`), or of a status line's first 12 bytes
/// (`Some(false)`: the server's; `HTTP/1.1 2`). So selective that a connection may be tracked
/// on them alone, its start carried to the next segment.
#[inline(always)]
pub fn start_prefix<const N: usize>(w: &Window<N>) -> Option<bool> {
    let n = w.len;
    if n == 0 || n >= 12 {
        return None;
    }
    // The first 8 bytes as one word, those past `n` masked off: each start is one compare
    // with an immediate (a loop over the names would put them in a read-only data section,
    // which the kernel's object must not have).
    let mask = |len: usize| {
        if len >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * len)) - 1
        }
    };
    let word = w.word(0) & mask(n);
    let starts = |(pattern, len): (u64, usize)| n <= len && word == pattern & mask(n);
    let [m0, m1, m2, m3, m4, m5, m6, m7, m8] = METHOD_STARTS;
    if starts(m0)
        || starts(m1)
        || starts(m2)
        || starts(m3)
        || starts(m4)
        || starts(m5)
        || starts(m6)
        || starts(m7)
        || starts(m8)
    {
        return Some(true);
    }
    // "HTTP/1." and then anything (the version's digit and the status are classify's).
    let status = STATUS_START & mask(n.min(STATUS_LINE_PREFIX.len()));
    (w.word(0) & mask(n.min(STATUS_LINE_PREFIX.len())) == status).then_some(false)
}

/// A start's first bytes as a little-endian word, and how many of them there are.
const fn start_word(bytes: &[u8], then: Option<u8>) -> (u64, usize) {
    let mut word = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        word |= (bytes[i] as u64) << (8 * i);
        i += 1;
    }
    match then {
        Some(b) => (word | (b as u64) << (8 * i), i + 1),
        None => (word, i),
    }
}

/// Each of the nine methods and its space, as [`start_word`]s (each fits in 8 bytes).
const METHOD_STARTS: [(u64, usize); 9] = {
    let mut starts = [(0, 0); 9];
    let mut m = 0;
    while m < Method::ALL.len() {
        let name = Method::ALL[m].as_str().as_bytes();
        assert!(name.len() < 8);
        starts[m] = start_word(name, Some(b' '));
        m += 1;
    }
    starts
};

/// `HTTP/1.` as a [`start_word`].
const STATUS_START: u64 = start_word(STATUS_LINE_PREFIX, None).0;
const _: () = assert!(STATUS_LINE_PREFIX.len() < 8 && Method::ALL.len() == 9);

/// RFC 9110's `tchar`: the bytes of a token.
#[inline(always)]
pub const fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Classifies the bytes at offset `at` of the window: request line, status line, or nothing.
/// Methods are case-sensitive (RFC 9110 §9.1) and must be followed by a space. A token that
/// is not one of the nine named methods is a request's method ([`Method::Extension`]) when it
/// starts with an uppercase letter (every registered method does), has at most
/// [`MAX_METHOD_LEN`] bytes and is followed by an origin-form (`/…`), asterisk-form (`*`) or
/// absolute-form (`http…`) target: SMTP's `EHLO host` or FTP's `USER name` are not requests.
#[inline(always)]
pub fn classify<const N: usize>(w: &Window<N>, at: usize) -> Option<Start> {
    let b0 = w.at(at);
    // Cheap dispatch on the first byte: every named method and "HTTP" start with one of these.
    let method = match b0 {
        b'G' if w.starts_with_at(at, b"GET ") => Method::Get,
        b'H' if w.starts_with_at(at, b"HEAD ") => Method::Head,
        b'H' if w.starts_with_at(at, STATUS_LINE_PREFIX) => return classify_status(w, at),
        b'P' if w.starts_with_at(at, b"POST ") => Method::Post,
        b'P' if w.starts_with_at(at, b"PUT ") => Method::Put,
        b'P' if w.starts_with_at(at, b"PATCH ") => Method::Patch,
        b'D' if w.starts_with_at(at, b"DELETE ") => Method::Delete,
        b'C' if w.starts_with_at(at, b"CONNECT ") => Method::Connect,
        b'O' if w.starts_with_at(at, b"OPTIONS ") => Method::Options,
        b'T' if w.starts_with_at(at, b"TRACE ") => Method::Trace,
        _ => return classify_extension(w, at),
    };
    Some(Start::Request {
        method,
        target_off: at + method.as_str().len() + 1,
    })
}

/// RFC 9110's `tchar` as a 256-bit set, for [`tchar_bit`].
const TCHAR_BITS: [u64; 4] = {
    let mut bits = [0u64; 4];
    let mut b = 0;
    while b < 256 {
        if is_tchar(b as u8) {
            bits[b / 64] |= 1 << (b % 64);
        }
        b += 1;
    }
    bits
};

/// 1 when `b` is a tchar, else 0, without a branch.
#[inline(always)]
fn tchar_bit(b: u8) -> u64 {
    (TCHAR_BITS[(b >> 6) as usize] >> (b & 63)) & 1
}

/// An extension method's request line at `at` ([`classify`]'s rule).
#[inline(always)]
fn classify_extension<const N: usize>(w: &Window<N>, at: usize) -> Option<Start> {
    if !w.at(at).is_ascii_uppercase() {
        return None;
    }
    // The kernel's verifier follows one path per way through here, each with its own bounds on
    // the window's length; so the token's length is counted without a branch (a loop that
    // stops at the token's end gives a path per length), its bytes are read without the
    // length check, and one check at the end says they were all valid (a path per check
    // put the message program past its limit).
    let mut run = 1u64;
    let mut len = 1usize;
    let mut k = 1;
    while k <= MAX_METHOD_LEN {
        run &= tchar_bit(w.peek(at + k));
        len += run as usize;
        k += 1;
    }
    let target_off = at + len + 1;
    let t0 = w.peek(target_off);
    // `&` and `|`, not `&&` and `||`: one path through all the checks.
    let absolute = (t0 == b'h')
        & (w.peek(target_off + 1) == b't')
        & (w.peek(target_off + 2) == b't')
        & (w.peek(target_off + 3) == b'p');
    let form = (t0 == b'/') | (t0 == b'*') | absolute;
    // Every target form is followed by at least ` HTTP/1.x`: asking for its first 4 bytes
    // to be valid loses no request line that ends in the window.
    let valid =
        (len <= MAX_METHOD_LEN) & (w.peek(at + len) == b' ') & form & (target_off + 4 <= w.len);
    if !valid {
        return None;
    }
    Some(Start::Request {
        method: Method::Extension,
        target_off,
    })
}

/// Whether a request line whose method ends at `method_end` (its space) and whose `\n` is at
/// `end` ends with ` HTTP/1.x` (a `\r` before the `\n` allowed), past a target (RFC 9112 §3):
/// RTSP's `OPTIONS rtsp://… RTSP/1.0`, SIP, NATS' and IRC's `CONNECT …` and HTTP/0.9 do not.
#[inline(always)]
pub fn ends_with_http1<const N: usize>(w: &Window<N>, method_end: usize, end: usize) -> bool {
    let end = if w.at(end.wrapping_sub(1)) == b'\r' {
        end - 1
    } else {
        end
    };
    end >= method_end + 11
        && w.at(end - 9) == b' '
        && w.starts_with_at(end - 8, STATUS_LINE_PREFIX)
        && w.at(end - 1).is_ascii_digit()
}

#[inline(always)]
fn classify_status<const N: usize>(w: &Window<N>, at: usize) -> Option<Start> {
    if !w.starts_with_at(at, STATUS_LINE_PREFIX) {
        return None;
    }
    let minor = w.at(at + 7);
    if !minor.is_ascii_digit() || w.at(at + 8) != b' ' {
        return None;
    }
    let (d0, d1, d2) = (w.at(at + 9), w.at(at + 10), w.at(at + 11));
    if !(d0.is_ascii_digit() && d1.is_ascii_digit() && d2.is_ascii_digit()) {
        return None;
    }
    // The status code must end there (RFC 9112 §4: SP reason, or CRLF from lenient servers).
    let after = w.at(at + 12);
    if after != b' ' && after != b'\r' && after != b'\n' && at + 12 < w.len {
        return None;
    }
    let status = (d0 - b'0') as u16 * 100 + (d1 - b'0') as u16 * 10 + (d2 - b'0') as u16;
    if status < 100 {
        return None;
    }
    Some(Start::Response { status })
}

/// How the message's body is delimited, from its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No length header: no body for a request, read-until-close for a response.
    None,
    ContentLength(u64),
    /// Transfer-Encoding present, chunked last: the end is not known from the head, the
    /// chunks tell it. It wins over a Content-Length in either order (RFC 9112 §6.3).
    Chunked,
    /// The head does not delimit the body: a Transfer-Encoding whose last coding is not chunked
    /// (`gzip` alone; RFC 9112 §6.3: a response's body then runs until the close, a request's
    /// cannot be told), or a Content-Length with more digits than a u64 holds. A
    /// Content-Length after it does not count either.
    Undelimited,
}

/// The head of a message that starts at window offset 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Where the first line (request or status line) ends: its `\n`, or `None` when the window
    /// ends first.
    pub first_line_end: Option<usize>,
    /// Bytes from the message start to the end of the blank line after the headers,
    /// or `None` when the window ends first.
    pub head_len: Option<usize>,
    pub framing: Framing,
    /// Where the window's end left the last line, when it came before the head's end:
    /// `wire::LINE_AT_START`, `LINE_AFTER_CR`, `LINE_INSIDE`, or [`LINE_IN_FRAMING`].
    pub cut: u8,
    /// Where that last line starts in the window.
    pub last_line: usize,
}

/// The window ends inside a line that is, or may be, a `Content-Length` or a
/// `Transfer-Encoding`: what it says is not known until the line is read whole.
pub const LINE_IN_FRAMING: u8 = 4;

impl Framing {
    /// As a [`HeadRest`] keeps it.
    pub const fn to_rest(self) -> (u8, u64) {
        match self {
            Framing::None => (FRAMING_NONE, 0),
            Framing::ContentLength(n) => (FRAMING_LENGTH, n),
            Framing::Chunked => (FRAMING_CHUNKED, 0),
            Framing::Undelimited => (FRAMING_UNDELIMITED, 0),
        }
    }

    pub const fn from_rest(rest: &HeadRest) -> Self {
        match rest.framing {
            FRAMING_LENGTH => Framing::ContentLength(rest.length),
            FRAMING_CHUNKED => Framing::Chunked,
            FRAMING_UNDELIMITED => Framing::Undelimited,
            _ => Framing::None,
        }
    }
}

/// Scans the header lines of the message at window offset 0: where the head ends, and how the
/// body is framed.
pub fn scan_head<const N: usize>(w: &Window<N>) -> Head {
    scan_head_from(w, None)
}

/// [`scan_head`] of a head going on where `rest` says (or, without it, a new one).
pub fn scan_head_from<const N: usize>(w: &Window<N>, rest: Option<&HeadRest>) -> Head {
    let mut scan = HeadScan::new();
    if let Some(rest) = rest {
        scan.resume(rest);
    }
    scan_with::<true, N>(&mut scan, w)
}

/// [`scan_head`] as the kernel's message program runs it ([`HeadScan::quick_step`]): a
/// `Transfer-Encoding` other than a plain `chunked` stops it at that line, which the rest of
/// the head's scan ([`scan_head_from`]) reads from its start.
pub fn scan_head_quick<const N: usize>(w: &Window<N>) -> Head {
    scan_with::<false, N>(&mut HeadScan::new(), w)
}

fn scan_with<const FULL: bool, const N: usize>(scan: &mut HeadScan, w: &Window<N>) -> Head {
    // Each step consumes at least one byte: `len` steps always suffice.
    let mut steps = 0;
    while steps < w.len && !scan.step_with::<FULL, N>(w) {
        steps += 1;
    }
    scan.head()
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
const NEWLINES: u64 = 0x0a0a_0a0a_0a0a_0a0a;

/// 0x80 in the lowest byte of `word` that is `\n` (bytes above it may be marked too: only the
/// lowest mark is exact, and only the lowest is used).
#[inline(always)]
const fn newline_marks(word: u64) -> u64 {
    let x = word ^ NEWLINES;
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The head scanner's state. Each [`HeadScan::step`] finds the next line end, 8 bytes at a
/// time, and looks at the line that follows. User space drives it with a plain loop
/// ([`scan_head`]); the kernel with `bpf_loop`, which the verifier checks once instead of once
/// per line, at one call per header line.
#[derive(Clone, Copy, Debug)]
pub struct HeadScan {
    /// Next byte to look at.
    pos: usize,
    line_start: usize,
    framing: Framing,
    first_line_end: Option<usize>,
    head_len: Option<usize>,
    /// Where the line the window starts in stood before it (`wire::LINE_*`): a head going on
    /// from bytes read earlier. Back to `LINE_AT_START` after the first line end.
    carried: u8,
    /// The window starts a header line (a head going on after a whole line): it is looked
    /// at for the framing before the first step.
    header_first: bool,
    /// The line being read is a `Transfer-Encoding`: its last coding is read at its end.
    te_line: bool,
    cut: u8,
}

impl Default for HeadScan {
    fn default() -> Self {
        Self::new()
    }
}

impl HeadScan {
    pub const fn new() -> Self {
        HeadScan {
            pos: 0,
            line_start: 0,
            framing: Framing::None,
            first_line_end: None,
            head_len: None,
            carried: LINE_AT_START,
            header_first: false,
            te_line: false,
            cut: LINE_AT_START,
        }
    }

    /// A new scan turned into one of a head going on where earlier bytes (a segment, or a
    /// window) left it. In place: the kernel's scan lives in map memory, and a whole
    /// `HeadScan` moved by value carries a `Framing` payload the verifier sees unwritten.
    #[inline(always)]
    pub fn resume(&mut self, rest: &HeadRest) {
        self.framing = Framing::from_rest(rest);
        // A carried line is read again whole: the window starts with it.
        let at_start = rest.line == LINE_AT_START || rest.line == LINE_CARRIED;
        self.carried = if at_start { LINE_AT_START } else { rest.line };
        self.header_first = at_start;
    }

    /// Handles the next `\n` within 64 bytes of where the last step stopped (or skips those
    /// 64 bytes). True when the scan is over: the head's end was found, or the window ends.
    #[inline(always)]
    pub fn step<const N: usize>(&mut self, w: &Window<N>) -> bool {
        self.step_with::<true, N>(w)
    }

    /// [`HeadScan::step`] with the coding of a `Transfer-Encoding` read only in its plain
    /// form, `chunked` alone: any other stops the scan at that line's start, cut as
    /// [`LINE_IN_FRAMING`], for a full step to read again. The kernel's message program runs
    /// this one: reading a list of codings to its last one put it past the verifier's limit.
    #[inline(always)]
    pub fn quick_step<const N: usize>(&mut self, w: &Window<N>) -> bool {
        self.step_with::<false, N>(w)
    }

    #[inline(always)]
    fn step_with<const FULL: bool, const N: usize>(&mut self, w: &Window<N>) -> bool {
        if self.header_first {
            self.header_first = false;
            if self.header_line::<FULL, N>(w, 0) {
                return self.hand_over(w);
            }
        }
        let start = self.pos;
        let first_word = start & !7;
        let mut k = 0;
        while k < 8 {
            let i0 = first_word + k * 8;
            if i0 >= w.len {
                return self.window_end::<FULL, N>(w);
            }
            let mut word = w.word(i0);
            if k == 0 {
                // Bytes before `start` were handled by earlier steps: made 0xff, never a `\n`.
                // Masking their marks afterwards is not enough: a `\n` there lends a borrow
                // that marks a 0x0b just above it as a newline too.
                word |= !(u64::MAX << ((start & 7) * 8));
            }
            let marks = newline_marks(word);
            if marks != 0 {
                let i = i0 + (marks.trailing_zeros() / 8) as usize;
                if i >= w.len {
                    return self.window_end::<FULL, N>(w);
                }
                self.pos = i + 1;
                return self.newline::<FULL, N>(w, i);
            }
            k += 1;
        }
        self.pos = first_word + 64;
        false
    }

    /// The `\n` at `i` ends a line; true when that line was blank (the head's end).
    #[inline(always)]
    fn newline<const FULL: bool, const N: usize>(&mut self, w: &Window<N>, i: usize) -> bool {
        let line_start = self.line_start;
        if line_start == 0 {
            self.first_line_end = Some(i);
        }
        if FULL && self.te_line {
            self.te_line = false;
            self.framing = if last_coding_is_chunked(w, line_start, i) {
                Framing::Chunked
            } else {
                Framing::Undelimited
            };
        }
        // A line begun before the window counts as its carried bytes: none, a `\r`, or more.
        let carried = self.carried;
        self.carried = LINE_AT_START;
        let line_len = i.wrapping_sub(line_start) + carried as usize;
        // A blank line ("\r\n" or a bare "\n") ends the head.
        if line_len == 0
            || (line_len == 1 && (carried == LINE_AFTER_CR || w.peek(line_start) == b'\r'))
        {
            self.head_len = Some(i + 1);
            return true;
        }
        let next = i + 1;
        self.line_start = next;
        if self.header_line::<FULL, N>(w, next) {
            return self.hand_over(w);
        }
        false
    }

    /// A quick step met a line it leaves to a full one: the scan ends there, as if the window
    /// ended in that line.
    #[inline(always)]
    fn hand_over<const N: usize>(&mut self, w: &Window<N>) -> bool {
        self.pos = w.len;
        self.cut = LINE_IN_FRAMING;
        true
    }

    /// The window ends before the head does: where that leaves its last line.
    #[inline(always)]
    fn window_end<const FULL: bool, const N: usize>(&mut self, w: &Window<N>) -> bool {
        self.pos = w.len;
        let line_start = self.line_start;
        let read = w.len.wrapping_sub(line_start);
        self.cut = if read == 0 {
            self.carried
        } else if self.carried != LINE_AT_START {
            LINE_INSIDE
        } else if read == 1 && w.at(line_start) == b'\r' {
            LINE_AFTER_CR
        } else if w.prefix_ci(line_start, b"content-length:")
            || ((FULL || read < 18) && w.prefix_ci(line_start, b"transfer-encoding:"))
        {
            // A Content-Length's name or value, or a Transfer-Encoding's name (or with full
            // steps, its value), cut short.
            LINE_IN_FRAMING
        } else {
            LINE_INSIDE
        };
        true
    }

    /// The header line starting at `next`: its framing, if it tells one. True when a quick
    /// step leaves the line to a full one.
    #[inline(always)]
    fn header_line<const FULL: bool, const N: usize>(
        &mut self,
        w: &Window<N>,
        next: usize,
    ) -> bool {
        let c = w.peek(next) | 0x20;
        if c == b'c'
            && !matches!(self.framing, Framing::Chunked | Framing::Undelimited)
            && w.peek_starts_with_ci(next, b"content-length:")
        {
            match parse_decimal::<FULL, N>(w, next + 15) {
                Decimal::Value(n) => self.framing = Framing::ContentLength(n),
                // Leading zeros, maybe: a full step skips them.
                Decimal::TooLong if !FULL => return true,
                Decimal::TooLong => self.framing = Framing::Undelimited,
                // No number at all (empty, negative): the header is ignored.
                Decimal::Missing => {}
            }
        } else if c == b't' && w.peek_starts_with_ci(next, b"transfer-encoding:") {
            if FULL {
                self.te_line = true;
            } else if plain_chunked(w, next + 18) {
                self.framing = Framing::Chunked;
            } else {
                return true;
            }
        }
        false
    }

    pub const fn head(&self) -> Head {
        Head {
            first_line_end: self.first_line_end,
            head_len: self.head_len,
            framing: self.framing,
            cut: self.cut,
            last_line: self.line_start,
        }
    }
}

/// Whether a `Transfer-Encoding`'s value from `at` (after its colon) is `chunked` alone (ASCII
/// case aside), after one space at most and before the line's end: what nearly every chunked
/// message sends, read at fixed places. (Read as one word against two constants instead, it
/// cost the message program's verifier 12,000 instructions more.)
#[inline(always)]
fn plain_chunked<const N: usize>(w: &Window<N>, at: usize) -> bool {
    let v = at + (w.peek(at) == b' ') as usize;
    // `at` checks the length: the bytes before the line's end are all valid.
    let end = w.at(v + 7);
    w.peek_starts_with_ci(v, b"chunked")
        & ((end == b'\n') | ((end == b'\r') & (w.at(v + 8) == b'\n')))
}

/// Whether the header line from `start` to its `\n` at `end` ends with the coding `chunked`
/// (ASCII case aside): after the field's name or a comma and at most 8 blanks, before at most
/// 8 blanks and a `\r`. More blanks read as another coding (as a `Content-Length`'s do).
#[inline(always)]
fn last_coding_is_chunked<const N: usize>(w: &Window<N>, start: usize, end: usize) -> bool {
    let blank = |c: u8| c == b' ' || c == b'\t';
    let mut j = end;
    if j > start && w.peek(j - 1) == b'\r' {
        j -= 1;
    }
    let mut k = 0;
    while k < 8 && j > start && blank(w.peek(j - 1)) {
        j -= 1;
        k += 1;
    }
    // "transfer-encoding:" and "chunked" at least.
    if j < start + 25 {
        return false;
    }
    let mut m = 0;
    while m < 7 {
        if w.peek(j - 7 + m) | 0x20 != b"chunked"[m] {
            return false;
        }
        m += 1;
    }
    let mut p = j - 7;
    let mut k = 0;
    while k < 8 && p > start && blank(w.peek(p - 1)) {
        p -= 1;
        k += 1;
    }
    p > start && matches!(w.peek(p - 1), b',' | b':')
}

/// Digits of the largest decimal a u64 always holds (10^19 - 1). A quick step counts leading
/// zeros among them (a loop to skip them puts the message program past the verifier's limit)
/// and leaves a longer run of digits to a full step, which skips up to [`MAX_LEADING_ZEROS`]
/// first: a value with more digits still is undelimited rather than read wrong.
const MAX_DIGITS: usize = 19;
/// Leading zeros a full step skips before a Content-Length's digits (RFC 9110 allows any).
pub const MAX_LEADING_ZEROS: usize = 64;
/// 10^18: a value read so far at least this large has 19 significant digits already.
const SIGNIFICANT_LIMIT: u64 = 1_000_000_000_000_000_000;

/// What a header's decimal value reads as.
enum Decimal {
    Value(u64),
    /// No digit after the blanks.
    Missing,
    /// More digits than [`MAX_DIGITS`]: never a wrapped or truncated number.
    TooLong,
}

/// A decimal after optional spaces/tabs (with `FULL`, its leading zeros skipped).
#[inline(always)]
fn parse_decimal<const FULL: bool, const N: usize>(w: &Window<N>, mut i: usize) -> Decimal {
    let mut k = 0;
    while k < 8 && (w.peek(i) == b' ' || w.peek(i) == b'\t') {
        i += 1;
        k += 1;
    }
    // One loop over the digits, zeros first or not: a loop to skip the zeros, then one for the
    // rest, gave the verifier a path per pair of counts and put the head program past its
    // limit. Leading zeros leave `n` at 0, so at most 19 significant digits means `n` below
    // 10^18 before each digit.
    let limit = if FULL {
        MAX_DIGITS + MAX_LEADING_ZEROS
    } else {
        MAX_DIGITS
    };
    let mut n: u64 = 0;
    let mut digits = 0;
    while digits < limit {
        let c = w.peek(i);
        if !c.is_ascii_digit() {
            break;
        }
        if FULL && n >= SIGNIFICANT_LIMIT {
            return Decimal::TooLong;
        }
        n = n * 10 + (c - b'0') as u64;
        i += 1;
        digits += 1;
    }
    if digits == 0 {
        Decimal::Missing
    } else if w.peek(i).is_ascii_digit() {
        Decimal::TooLong
    } else {
        Decimal::Value(n)
    }
}

/// The longest chunk-size line read (RFC 9112 §7.1: the size in hex, optional extensions,
/// CRLF), leading zeros and extensions included: a longer one is not read.
pub const CHUNK_LINE_MAX: usize = 32;

/// The value of a hex digit, or 16 for any other byte.
#[inline(always)]
const fn hex_digit(c: u8) -> u64 {
    match c {
        b'0'..=b'9' => (c - b'0') as u64,
        b'a'..=b'f' => (c - b'a' + 10) as u64,
        b'A'..=b'F' => (c - b'A' + 10) as u64,
        _ => 16,
    }
}

/// What a chunked body holds where its walk goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkStep {
    /// A chunk-size line ends this many bytes into the window; its chunk holds `size` bytes
    /// (0: the last chunk, whose empty line comes next).
    Line { len: usize, size: u64 },
    /// The empty line after the last chunk ends this many bytes in: so does the message.
    End { len: usize },
    /// The window ended inside the line: the scan goes on from where it stopped.
    More,
    /// Trailer fields follow the last chunk, from window offset 0: they end like a head.
    Trailers,
    /// Not a chunk-size line (or not the empty line, or a field): a size past a u64, a line
    /// longer than [`CHUNK_LINE_MAX`], or a byte no such line holds.
    Bad,
}

/// Walks a chunk-size line (RFC 9112 §7.1: the size in hex, extensions, CRLF or a bare LF),
/// or the empty line after the last chunk, from window offset 0 and from where `scan` stands
/// (a line split across segments goes on in the next one).
#[inline(always)]
pub fn chunk_scan<const N: usize>(scan: &mut ChunkScan, w: &Window<N>) -> ChunkStep {
    // One pass, the phase a plain value: the kernel's verifier walks each byte's few states
    // once.
    let mut i = 0;
    while i < CHUNK_LINE_MAX {
        if i >= w.len {
            scan.read = scan.read.wrapping_add(i as u32);
            return ChunkStep::More;
        }
        if scan.read as usize + i >= CHUNK_LINE_MAX {
            return ChunkStep::Bad;
        }
        let c = w.at(i);
        match scan.phase {
            CHUNK_AFTER_LAST | CHUNK_AFTER_LAST_CR => {
                if c == b'\n' {
                    return ChunkStep::End { len: i + 1 };
                }
                // A field's name where the empty line would be: the line after the last
                // chunk's starts the window.
                if scan.phase == CHUNK_AFTER_LAST && tchar_bit(c) != 0 {
                    return ChunkStep::Trailers;
                }
                if c != b'\r' || scan.phase == CHUNK_AFTER_LAST_CR {
                    return ChunkStep::Bad;
                }
                scan.phase = CHUNK_AFTER_LAST_CR;
            }
            CHUNK_AT_START | CHUNK_IN_SIZE if hex_digit(c) <= 15 => {
                if scan.size >> 60 != 0 {
                    return ChunkStep::Bad;
                }
                scan.size = (scan.size << 4) | hex_digit(c);
                scan.phase = CHUNK_IN_SIZE;
            }
            CHUNK_AT_START => return ChunkStep::Bad,
            _ => {
                if c == b'\n' {
                    return ChunkStep::Line {
                        len: i + 1,
                        size: scan.size,
                    };
                }
                // 0: a byte no chunk line holds.
                if c == 0 {
                    return ChunkStep::Bad;
                }
                scan.phase = CHUNK_IN_EXTENSIONS;
            }
        }
        i += 1;
    }
    ChunkStep::Bad
}

/// Body length of a message when it is known from its head.
/// `request_method` is the method of the request a response answers (HEAD responses have no
/// body whatever their headers say).
#[inline(always)]
pub fn body_len(start: Start, framing: Framing, request_method: Option<Method>) -> Option<u64> {
    framed_body_len(body_rule(start, request_method), framing)
}

/// How a message's head tells its body (`wire::BODY_*`): what [`framed_body_len`] needs of
/// the message's first line, kept while a head spans segments.
#[inline(always)]
pub fn body_rule(start: Start, request_method: Option<Method>) -> u8 {
    match start {
        Start::Request { .. } => BODY_REQUEST,
        Start::Response { status } => {
            if status < 200 || status == 204 || status == 304 {
                return BODY_NONE;
            }
            if let Some(Method::Head) = request_method {
                return BODY_NONE;
            }
            BODY_RESPONSE
        }
    }
}

/// Body length of a message whose body is told by `rule` ([`body_rule`]), when its framing
/// tells it.
#[inline(always)]
pub fn framed_body_len(rule: u8, framing: Framing) -> Option<u64> {
    match rule {
        BODY_REQUEST => match framing {
            Framing::None => Some(0),
            Framing::ContentLength(n) => Some(n),
            Framing::Chunked | Framing::Undelimited => None,
        },
        BODY_RESPONSE => match framing {
            Framing::ContentLength(n) => Some(n),
            // Read-until-close, chunked or undelimited: the end is unknown.
            Framing::None | Framing::Chunked | Framing::Undelimited => None,
        },
        _ => Some(0),
    }
}
