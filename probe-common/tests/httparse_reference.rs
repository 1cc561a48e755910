//! The classifier and head scanner against httparse, a strict HTTP/1.x parser, on generated
//! heads, on edited ones and on random bytes.
//!
//! The rule compared: where httparse parses a head completely, httptop finds the same head
//! length and first line end, the same framing, and classifies the head as httparse reads it,
//! except where RFC 9112 leaves a recipient free and httptop narrows on purpose
//! ([`expected_request`], [`expected_response`], [`expected_framing`]). Where httparse says
//! the bytes are a valid head cut short, httptop finds no head end either. Where httparse
//! rejects the bytes, httptop may still take them (it observes, and validates no more than it
//! needs to frame messages), but a start line it takes that passes the checks httptop leaves
//! out must be one httparse takes too ([`check_start_line`]).
//!
//! Windows hold stale bytes past their length, as the kernel's do: they must never change a
//! result.

use std::fmt;

use httparse::{EMPTY_HEADER, Header, Request, Response, Status};
use probe_common::{
    http::{
        Framing, MAX_LEADING_ZEROS, MAX_METHOD_LEN, Start, WINDOW, Window, classify,
        ends_with_http1, scan_head,
    },
    wire::{Method, PATH_LEN, request_line},
};
use proptest::{
    collection::vec,
    option,
    prelude::*,
    sample::{Index, select},
    test_runner::TestCaseError,
};

/// Cases per property: the whole file runs in a few seconds in a debug build.
const CASES: u32 = 2000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// More header fields than a window can hold (`a:\n` is 3 bytes), so httparse never runs out.
const MAX_HEADERS: usize = WINDOW / 3;

/// Digits of the longest Content-Length httptop reads, past up to `MAX_LEADING_ZEROS` leading
/// zeros; a longer one is `Framing::Undelimited` by design (bounded loops for the verifier),
/// although RFC 9110 puts no bound on `1*DIGIT`.
const MAX_LENGTH_DIGITS: usize = 19;

/// Spaces and tabs httptop skips after `Content-Length:` (a bounded loop for the verifier);
/// RFC 9110's OWS has no bound, and past these the header is not read (README, Limits).
const MAX_LENGTH_OWS: usize = 8;

/// RFC 9110's `tchar`.
const TCHAR: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// RFC 3986's `pchar`, `/` and `?`: an origin-form target's bytes after its `/`.
const PATH: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@%/?";
const HOST: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789.-";
const BLANK: &[u8] = b" \t";
const SCHEMES: &[&[u8]] = &[b"http://", b"https://"];
/// Transfer-Encoding values: chunked last, or not.
const CODINGS: &[&[u8]] = &[b"chunked", b"gzip, chunked", b"gzip", b"chunked, gzip"];

// What is generated.

/// One header line.
#[derive(Clone, Debug)]
struct Line {
    field: Field,
    /// Bit `i` set: byte `i` of a Content-Length or Transfer-Encoding line in uppercase.
    case: u64,
    /// Blanks before the value, and after it.
    ows: Vec<u8>,
    trailing: Vec<u8>,
    eol: &'static [u8],
}

#[derive(Clone, Debug)]
enum Field {
    /// A token name and a value of visible ASCII, SP and HTAB.
    Other(Vec<u8>, Vec<u8>),
    /// `Content-Length`, with the message's one length (every such line has the same).
    ContentLength,
    /// `Transfer-Encoding`, chunked last.
    TransferEncoding(&'static [u8]),
}

#[derive(Clone)]
struct Message {
    start_line: Vec<u8>,
    eol: &'static [u8],
    lines: Vec<Line>,
    /// The Content-Length value's digits.
    length: Vec<u8>,
    /// The blank line's end of line.
    end: &'static [u8],
    body: Vec<u8>,
}

impl Message {
    /// The message's bytes, cut to the window, with the header lines that would take the head
    /// past the window left out.
    fn bytes(&self) -> Vec<u8> {
        let mut head = [&self.start_line[..], self.eol].concat();
        for line in &self.lines {
            let (name, value) = match &line.field {
                Field::Other(name, value) => (name.clone(), value.clone()),
                Field::ContentLength => (
                    mixed_case(b"content-length", line.case),
                    self.length.clone(),
                ),
                Field::TransferEncoding(value) => {
                    let mixed = mixed_case(&[b"transfer-encoding:", *value].concat(), line.case);
                    (mixed[..17].to_vec(), mixed[18..].to_vec())
                }
            };
            let text = [&name[..], b":", &line.ows, &value, &line.trailing, line.eol].concat();
            if head.len() + text.len() + self.end.len() <= WINDOW {
                head.extend(text);
            }
        }
        head.extend(self.end);
        head.extend(&self.body);
        head.truncate(WINDOW);
        head
    }
}

/// Shown as its bytes, when a case fails.
impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Bytes(self.bytes()).fmt(f)
    }
}

/// Bytes shown as a byte string.
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

fn mixed_case(lower: &[u8], mask: u64) -> Vec<u8> {
    lower
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if mask >> (i % 64) & 1 == 1 {
                b.to_ascii_uppercase()
            } else {
                *b
            }
        })
        .collect()
}

/// Line ends: CRLF, and a bare LF, which RFC 9112 §2.2 lets a recipient take (both do).
fn eol() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![4 => Just(&b"\r\n"[..]), 1 => Just(&b"\n"[..])]
}

fn text_byte() -> impl Strategy<Value = u8> {
    prop_oneof![1 => Just(b'\t'), 20 => b' '..=b'~']
}

/// Methods: the nine RFC 9110 names, tokens as httptop takes them as extension methods (an
/// uppercase letter first, at most `MAX_METHOD_LEN` bytes), and any other token.
fn method() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => select(Method::ALL.to_vec()).prop_map(|m| m.as_str().as_bytes().to_vec()),
        3 => (select(UPPER), vec(select(TCHAR), 0..MAX_METHOD_LEN))
            .prop_map(|(first, rest)| [vec![first], rest].concat()),
        1 => vec(select(TCHAR), 1..=MAX_METHOD_LEN + 8),
    ]
}

/// Targets in origin-, asterisk- and absolute-form, and in authority-form (CONNECT's).
fn target() -> impl Strategy<Value = Vec<u8>> {
    let host = || vec(select(HOST), 1..20);
    prop_oneof![
        6 => vec(select(PATH), 0..40).prop_map(|path| [&b"/"[..], &path].concat()),
        1 => Just(b"*".to_vec()),
        2 => (select(SCHEMES), host(), vec(select(PATH), 0..30))
            .prop_map(|(scheme, host, path)| [scheme, &host, b"/", &path].concat()),
        1 => (host(), 1u16..)
            .prop_map(|(host, port)| [host, format!(":{port}").into_bytes()].concat()),
    ]
}

fn request_line_bytes() -> impl Strategy<Value = Vec<u8>> {
    (method(), target(), select(&b"01"[..])).prop_map(|(method, target, minor)| {
        [&method[..], b" ", &target, b" HTTP/1.", &[minor]].concat()
    })
}

/// `HTTP/1.x NNN reason`: codes 100..=599 mostly, any three digits sometimes; the reason
/// phrase empty, or left out with its space.
fn status_line_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        select(&b"01"[..]),
        prop_oneof![9 => 100u16..=599, 1 => 0u16..=999],
        option::of(vec(text_byte(), 0..24)),
    )
        .prop_map(|(minor, code, reason)| {
            let mut line = format!("HTTP/1.{} {code:03}", minor as char).into_bytes();
            if let Some(reason) = reason {
                line.push(b' ');
                line.extend(reason);
            }
            line
        })
}

/// A Content-Length value: sometimes with leading zeros, sometimes more digits in all than
/// httptop reads.
fn length() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![4 => 0usize..=3, 1 => 15usize..=21, 1 => 60usize..=90],
        prop_oneof![0u64..1000, any::<u64>()],
    )
        .prop_map(|(zeros, n)| format!("{}{n}", "0".repeat(zeros)).into_bytes())
}

fn line(max_ows: usize) -> impl Strategy<Value = Line> {
    let field = prop_oneof![
        4 => (vec(select(TCHAR), 1..20), vec(text_byte(), 0..30))
            .prop_map(|(name, value)| Field::Other(name, value)),
        2 => Just(Field::ContentLength),
        1 => select(CODINGS).prop_map(Field::TransferEncoding),
    ];
    (
        field,
        any::<u64>(),
        vec(select(BLANK), 0..=max_ows),
        vec(select(BLANK), 0..=3),
        eol(),
    )
        .prop_map(|(field, case, ows, trailing, eol)| Line {
            field,
            case,
            ows,
            trailing,
            eol,
        })
}

/// A message with the given start line, at most `max_ows` blanks before header values.
fn message(
    start_line: impl Strategy<Value = Vec<u8>>,
    max_ows: usize,
) -> impl Strategy<Value = Message> {
    (
        start_line,
        eol(),
        vec(line(max_ows), 0..8),
        length(),
        eol(),
        vec(any::<u8>(), 0..64),
    )
        .prop_map(|(start_line, eol, lines, length, end, body)| Message {
            start_line,
            eol,
            lines,
            length,
            end,
            body,
        })
}

fn request(max_ows: usize) -> impl Strategy<Value = Message> {
    message(request_line_bytes(), max_ows)
}

fn response() -> impl Strategy<Value = Message> {
    message(status_line_bytes(), MAX_LENGTH_OWS)
}

/// The bytes past the window's length: leftovers.
fn stale() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=WINDOW).prop_map(Bytes)
}

#[derive(Clone, Debug)]
enum Edit {
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Cut(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = || {
        prop_oneof![
            select(&b" \t\r\n:/0123456789.HTPaAz,\x00\x0b\x7f\x80\xff"[..]),
            any::<u8>()
        ]
    };
    prop_oneof![
        (any::<Index>(), byte()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<Index>(), byte()).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<Index>().prop_map(Edit::Remove),
        any::<Index>().prop_map(Edit::Cut),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let len = bytes.len();
    match edit {
        Edit::Insert(at, b) => bytes.insert(at.index(len + 1), *b),
        // The others need a byte to act on.
        _ if len == 0 => {}
        Edit::Set(at, b) => bytes[at.index(len)] = *b,
        Edit::Remove(at) => {
            bytes.remove(at.index(len));
        }
        Edit::Cut(at) => bytes.truncate(at.index(len)),
    }
}

/// Pieces of heads, strung together at random.
const PIECES: &[&[u8]] = &[
    b"GET ",
    b"PROPFIND ",
    b"get ",
    b"/",
    b"*",
    b"http://a",
    b" ",
    b"\t",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/1.2",
    b" 200",
    b" 099",
    b" OK",
    b"\r\n",
    b"\n",
    b"\r",
    b"Content-Length:",
    b"content-length: ",
    b"Transfer-Encoding: chunked",
    b"Host: a",
    b"0",
    b"12",
    b":",
    b"x",
];

/// Generated messages with a few edits (cuts among them: heads cut short) or a later minor
/// version, pieces of heads strung together, and random bytes.
fn garbage() -> impl Strategy<Value = Bytes> {
    let messages = || prop_oneof![request(MAX_LENGTH_OWS), response()];
    let edited = (messages(), vec(edit(), 1..4)).prop_map(|(message, edits)| {
        let mut bytes = message.bytes();
        for edit in &edits {
            apply(&mut bytes, edit);
        }
        bytes.truncate(WINDOW);
        bytes
    });
    let later_version = (messages(), b'2'..=b'9').prop_map(|(mut message, minor)| {
        let line = &mut message.start_line;
        let at = if line.starts_with(b"HTTP/1.") {
            7
        } else {
            line.len() - 1
        };
        line[at] = minor;
        message.bytes()
    });
    prop_oneof![
        6 => edited,
        1 => later_version,
        2 => vec(select(PIECES), 0..40).prop_map(|pieces| {
            let mut bytes = pieces.concat();
            bytes.truncate(WINDOW);
            bytes
        }),
        1 => vec(any::<u8>(), 0..64),
    ]
    .prop_map(Bytes)
}

// What httparse says.

/// What httparse makes of the bytes.
#[derive(Debug)]
enum Parsed<'b> {
    Request {
        method: &'b str,
        target: &'b str,
        len: usize,
        framing: Option<Framing>,
        long_ows: bool,
    },
    Response {
        code: u16,
        len: usize,
        framing: Option<Framing>,
        long_ows: bool,
    },
    /// The valid start of a head, cut short.
    Partial,
    Invalid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Request,
    Response,
    Partial,
    Invalid,
}

fn parse(bytes: &[u8]) -> Parsed<'_> {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let mut request = Request::new(&mut headers);
    let request_status = request.parse(bytes);
    if let Ok(Status::Complete(len)) = request_status {
        return Parsed::Request {
            method: request.method.expect("a parsed request's method"),
            target: request.path.expect("a parsed request's target"),
            len,
            framing: expected_framing(request.headers),
            long_ows: long_ows(bytes, request.headers),
        };
    }
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let mut response = Response::new(&mut headers);
    let response_status = response.parse(bytes);
    if let Ok(Status::Complete(len)) = response_status {
        return Parsed::Response {
            code: response.code.expect("a parsed response's code"),
            len,
            framing: expected_framing(response.headers),
            long_ows: long_ows(bytes, response.headers),
        };
    }
    if matches!(request_status, Ok(Status::Partial))
        || matches!(response_status, Ok(Status::Partial))
    {
        Parsed::Partial
    } else {
        Parsed::Invalid
    }
}

fn is_content_length(header: &Header) -> bool {
    header.name.eq_ignore_ascii_case("content-length")
}

/// The framing RFC 9112 §6.3 gives the fields httparse parsed, as httptop reports it:
/// Transfer-Encoding wins over Content-Length: chunked when its last coding (of the last such
/// field) is `chunked`, else undelimited; so is a Content-Length of more than
/// `MAX_LENGTH_DIGITS` digits after its leading zeros (`MAX_LEADING_ZEROS` at most). `None` where the lengths make the message invalid (a Content-Length that is
/// not `1*DIGIT`, or several that differ), which leaves httptop free to read them as it will.
fn expected_framing(headers: &[Header]) -> Option<Framing> {
    if let Some(coding) = headers
        .iter()
        .rev()
        .find(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
    {
        let last = coding
            .value
            .rsplit(|&b| b == b',')
            .next()
            .unwrap_or_default();
        return Some(if last.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            Framing::Chunked
        } else {
            Framing::Undelimited
        });
    }
    let mut lengths = headers
        .iter()
        .filter(|h| is_content_length(h))
        .map(|h| h.value);
    let Some(first) = lengths.next() else {
        return Some(Framing::None);
    };
    if first.is_empty() || !first.iter().all(u8::is_ascii_digit) || lengths.any(|v| v != first) {
        return None;
    }
    let zeros = first.iter().take_while(|&&d| d == b'0').count();
    let first = &first[zeros.min(first.len() - 1).min(MAX_LEADING_ZEROS)..];
    if first.len() > MAX_LENGTH_DIGITS {
        return Some(Framing::Undelimited);
    }
    let digits = std::str::from_utf8(first).expect("ASCII digits");
    Some(Framing::ContentLength(
        digits.parse().expect("at most 19 digits"),
    ))
}

/// Whether a Content-Length value, or the last coding of a Transfer-Encoding, lies among
/// more blanks than httptop skips.
fn long_ows(bytes: &[u8], headers: &[Header]) -> bool {
    let blanks = |run: &mut dyn Iterator<Item = &u8>| run.take_while(|b| BLANK.contains(b)).count();
    headers.iter().any(|h| {
        let value_at = h.name.as_ptr().addr() - bytes.as_ptr().addr() + h.name.len() + 1;
        let line_end = value_at
            + bytes[value_at..]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(0);
        let raw = bytes[value_at..line_end]
            .strip_suffix(b"\r")
            .unwrap_or(&bytes[value_at..line_end]);
        if is_content_length(h) {
            blanks(&mut raw.iter()) > MAX_LENGTH_OWS
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = raw.rsplit(|&b| b == b',').next().unwrap_or_default();
            blanks(&mut last.iter()) > MAX_LENGTH_OWS
                || blanks(&mut last.iter().rev()) > MAX_LENGTH_OWS
        } else {
            false
        }
    })
}

/// How httptop classifies a request line httparse parsed: by its method, the nine RFC 9110
/// names as theirs; any other token as `Method::Extension` only when it starts with an
/// uppercase letter, has at most `MAX_METHOD_LEN` bytes and is followed by an origin-,
/// asterisk- or absolute-form target (`/`, `*`, `http`), which tells HTTP from other text
/// protocols (SMTP's `EHLO host`). RFC 9110 §9.1 lets a recipient not know any method.
fn expected_request(method: &str, target: &str) -> Option<Start> {
    let target_off = method.len() + 1;
    if let Some(&named) = Method::ALL.iter().find(|m| m.as_str() == method) {
        return Some(Start::Request {
            method: named,
            target_off,
        });
    }
    let extension = method.as_bytes()[0].is_ascii_uppercase()
        && method.len() <= MAX_METHOD_LEN
        && (target.starts_with(['/', '*']) || target.starts_with("http"));
    extension.then_some(Start::Request {
        method: Method::Extension,
        target_off,
    })
}

/// How httptop classifies a status line httparse parsed: httparse takes any three digits,
/// httptop none below 100 (RFC 9110 §15: codes outside 100..=599 are invalid).
fn expected_response(code: u16) -> Option<Start> {
    (code >= 100).then_some(Start::Response { status: code })
}

// The comparisons.

/// The bytes after the empty lines they start with, which the engine skips between messages
/// before it classifies (RFC 9112 §2.2), as httparse does before a start line.
fn skip_empty_lines(mut bytes: &[u8]) -> &[u8] {
    while let Some(rest) = bytes
        .strip_prefix(b"\n")
        .or_else(|| bytes.strip_prefix(b"\r\n"))
    {
        bytes = rest;
    }
    bytes
}

/// A window's buffer: `bytes`, then `stale` bytes.
fn window(bytes: &[u8], stale: &[u8]) -> [u8; WINDOW] {
    let mut buf = [0; WINDOW];
    buf[..bytes.len()].copy_from_slice(bytes);
    for (b, s) in buf[bytes.len()..].iter_mut().zip(stale) {
        *b = *s;
    }
    buf
}

/// The rule compared (the file's doc) on `bytes` (at most a window), stale bytes after them.
/// `strict_ows`: compare the framing after more blanks than httptop skips too.
fn check(bytes: &[u8], stale: &[u8], strict_ows: bool) -> Result<Kind, TestCaseError> {
    let bytes = skip_empty_lines(bytes);
    let buf = window(bytes, stale);
    let w = Window {
        buf: &buf,
        len: bytes.len(),
    };
    let start = classify(&w, 0);
    let head = scan_head(&w);
    let (kind, len, framing, long_ows) = match parse(bytes) {
        Parsed::Request {
            method,
            target,
            len,
            framing,
            long_ows,
        } => {
            prop_assert_eq!(start, expected_request(method, target), "classify");
            if let Some(Start::Request {
                method: m,
                target_off,
            }) = start
            {
                // The method's name and the target as user space reads them from the bytes
                // the kernel copies: from the target on, or from the start for an extension.
                let from = if m == Method::Extension {
                    0
                } else {
                    target_off
                };
                let copied = &bytes[from..bytes.len().min(from + PATH_LEN)];
                let mut path = [0; PATH_LEN];
                path[..copied.len()].copy_from_slice(copied);
                let (name, kept) = request_line(m as u8, &path, copied.len() as u8);
                prop_assert_eq!(name, method.as_bytes(), "method name");
                let fits = target.len().min(PATH_LEN - (target_off - from));
                prop_assert_eq!(kept, &target.as_bytes()[..fits], "target");
                let end = head.first_line_end.expect("a parsed head's first line end");
                prop_assert!(
                    ends_with_http1(&w, target_off - 1, end),
                    "HTTP/1.x at the end"
                );
            }
            (Kind::Request, len, framing, long_ows)
        }
        Parsed::Response {
            code,
            len,
            framing,
            long_ows,
        } => {
            prop_assert_eq!(start, expected_response(code), "classify");
            (Kind::Response, len, framing, long_ows)
        }
        Parsed::Partial => {
            prop_assert_eq!(head.head_len, None, "head end of a head cut short");
            return Ok(Kind::Partial);
        }
        Parsed::Invalid => return Ok(Kind::Invalid),
    };
    prop_assert_eq!(
        head.first_line_end,
        bytes.iter().position(|&b| b == b'\n'),
        "first line end"
    );
    prop_assert_eq!(head.head_len, Some(len), "head length");
    if let Some(framing) = framing
        && (strict_ows || !long_ows)
    {
        prop_assert_eq!(head.framing, framing, "framing");
    }
    Ok(kind)
}

/// A start line httptop takes (with ` HTTP/1.x` at a request line's end, as the engine asks),
/// on its own before an empty line, must be one httparse takes, unless it fails a check that
/// httptop leaves out: a target of bytes other than VCHAR (httptop does not look at the target
/// past its first bytes), a minor version other than 0 and 1 (RFC 9112 §2.3 asks a recipient
/// to take a higher one as the highest it knows; httparse knows none), and a reason phrase of
/// bytes other than HTAB, SP, VCHAR and obs-text (httptop reads up to the status code).
fn check_start_line(bytes: &[u8], stale: &[u8]) -> Result<(), TestCaseError> {
    let bytes = skip_empty_lines(bytes);
    let buf = window(bytes, stale);
    let w = Window {
        buf: &buf,
        len: bytes.len(),
    };
    let (Some(start), Some(end)) = (classify(&w, 0), scan_head(&w).first_line_end) else {
        return Ok(());
    };
    let line = &bytes[..=end];
    let content = line[..end].strip_suffix(b"\r").unwrap_or(&line[..end]);
    let head = [line, b"\r\n"].concat();
    let parsed = parse(&head);
    match start {
        Start::Request { method, target_off } => {
            if !ends_with_http1(&w, target_off - 1, end) {
                return Ok(());
            }
            let target = &content[target_off..content.len() - 9];
            let minor = content[content.len() - 1];
            if !target.iter().all(|b| (0x21..=0x7e).contains(b)) || !b"01".contains(&minor) {
                return Ok(());
            }
            let Parsed::Request {
                method: name,
                target: parsed_target,
                len,
                ..
            } = parsed
            else {
                return Err(TestCaseError::fail(format!(
                    "httptop takes the request line {content:?}, httparse: {parsed:?}"
                )));
            };
            prop_assert_eq!(len, head.len());
            prop_assert_eq!(name.as_bytes(), &content[..target_off - 1]);
            if method != Method::Extension {
                prop_assert_eq!(name, method.as_str());
            }
            prop_assert_eq!(parsed_target.as_bytes(), target);
        }
        Start::Response { status } => {
            let minor = content[7];
            let rest = &content[12..];
            let reason_ok = match rest.split_first() {
                None => true,
                Some((&b' ', reason)) => reason
                    .iter()
                    .all(|&b| b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80),
                Some(_) => false,
            };
            if !reason_ok || !b"01".contains(&minor) {
                return Ok(());
            }
            let Parsed::Response { code, len, .. } = parsed else {
                return Err(TestCaseError::fail(format!(
                    "httptop takes the status line {content:?}, httparse: {parsed:?}"
                )));
            };
            prop_assert_eq!(len, head.len());
            prop_assert_eq!(code, status);
        }
    }
    Ok(())
}

#[test]
fn requests_agree_with_httparse() {
    proptest!(config(), |(message in request(MAX_LENGTH_OWS), stale in stale())| {
        let bytes = message.bytes();
        prop_assert_eq!(check(&bytes, &stale.0, false)?, Kind::Request, "httparse takes it");
        check_start_line(&bytes, &stale.0)?;
    });
}

#[test]
fn responses_agree_with_httparse() {
    proptest!(config(), |(message in response(), stale in stale())| {
        let bytes = message.bytes();
        prop_assert_eq!(check(&bytes, &stale.0, false)?, Kind::Response, "httparse takes it");
        check_start_line(&bytes, &stale.0)?;
    });
}

#[test]
fn edited_and_random_bytes_agree_with_httparse() {
    proptest!(config(), |(bytes in garbage(), stale in stale())| {
        check(&bytes.0, &stale.0, false)?;
        check_start_line(&bytes.0, &stale.0)?;
    });
}
