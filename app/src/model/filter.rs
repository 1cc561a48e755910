//! The filter language, for `--filter` and the dashboard's `/`:
//!
//! ```text
//! filter  := or
//! or      := and ("or" and)*
//! and     := unary (["and"] unary)*        two terms side by side are ANDed
//! unary   := "not" unary | "(" or ")" | term
//! term    := port N | sport N | dport N    either side, the client's, the server's port
//!          | ip ADDR | src ADDR | dst ADDR  either side, the client, the server
//!          | net CIDR                       either side in the network (IPv4 or IPv6)
//!          | status 404 | status 5xx        a code or a class
//!          | method TOKEN                   any RFC 9110 method token, case-insensitive
//!          | path PREFIX                    request targets starting with PREFIX
//!          | latency >DURATION | <DURATION  time to first byte, e.g. >10ms, < 1s
//!          | process NAME | pid N          a local process on either side (its command name,
//!                                          or its pid)
//!          | netns NAME                     seen in this network namespace (`host`, or its
//!                                          `ip netns` name)
//! ```
//!
//! "src"/"sport" are the client side, "dst"/"dport" the server side (the client is the side
//! that sent the request line; docs/terms.md).
//!
//! A filter decides for an exchange ([`Filter::matches`]) and, where a row's key is enough,
//! for a whole row ([`Filter::matches_key`]): `dport 9090` keeps or drops a server row
//! whatever its exchanges, while `status 5xx` needs each exchange.

use std::{fmt, net::IpAddr, time::Duration};

use thiserror::Error;

use super::{Exchange, ProcessId, RowKey, template::ID};

/// The grammar, for `--help` (the module doc says the same, with the meaning of each term).
pub const FILTER_GRAMMAR: &str = "\
Terms: port N, sport N (client), dport N (server), ip ADDR, src ADDR (client), dst ADDR (server),
net CIDR, status 404 | status 5xx, method TOKEN, path PREFIX, latency >10ms | latency <1s
(TTFB), process NAME, pid N (a local process on either side), netns NAME (`host` or an
`ip netns` name). Combine with `and` (or nothing: terms side by side are ANDed), `or` (binds looser than
and), `not`, and parentheses: \"dport 8080 and (status 5xx or latency >100ms)\".";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// The text it was parsed from, for the header.
    text: String,
    expr: Expr,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Expr {
    Test(Test),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Either,
    Client,
    Server,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Test {
    Port(Side, u16),
    /// Address and prefix length; an address is a /32 or /128.
    Net(Side, IpAddr, u8),
    Status(StatusPattern),
    /// Upper-cased method token.
    Method(String),
    PathPrefix(String),
    /// Latency strictly above (`true`) or below (`false`) the bound, ns.
    Latency {
        above: bool,
        ns: u64,
    },
    /// A local process on either side with this command name.
    Process(String),
    /// A local process on either side with this pid.
    Pid(u32),
    /// Seen in the network namespace of this name.
    Netns(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StatusPattern {
    Exact(u16),
    /// `5xx`: the hundreds digit.
    Class(u16),
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FilterError {
    #[error("`{0}` needs a value")]
    MissingValue(String),
    #[error("`{0}` needs a term after it")]
    MissingTerm(String),
    #[error(
        "unknown term `{0}` (try port, sport, dport, ip, src, dst, net, status, method, path, latency, process, pid, netns)"
    )]
    UnknownTerm(String),
    #[error("`{0}` is not a port (0-65535)")]
    BadPort(String),
    #[error("`{0}` is not an IP address")]
    BadAddr(String),
    #[error("`{0}` is not a network (e.g. 10.0.0.0/8, fd00::/8)")]
    BadNet(String),
    #[error("`{0}` is not a status (e.g. 404, 5xx)")]
    BadStatus(String),
    #[error("`{0}` is not a method (an RFC 9110 token, e.g. GET, PROPFIND)")]
    BadMethod(String),
    #[error("`{0}` is not a latency bound (e.g. >10ms, <1s)")]
    BadLatency(String),
    #[error("`{0}` is not a pid (a number)")]
    BadPid(String),
    #[error("unbalanced parentheses")]
    Unbalanced,
    #[error("unexpected `{0}`")]
    Unexpected(String),
}

impl Filter {
    /// Parses a filter. An empty (or blank) text is an error-free "no filter": `Ok(None)`.
    pub fn parse(text: &str) -> Result<Option<Filter>, FilterError> {
        let tokens = tokenize(text);
        if tokens.is_empty() {
            return Ok(None);
        }
        let mut parser = Parser { tokens, at: 0 };
        let expr = parser.or()?;
        if let Some(rest) = parser.peek() {
            return Err(if rest == ")" {
                FilterError::Unbalanced
            } else {
                FilterError::Unexpected(rest.to_owned())
            });
        }
        Ok(Some(Filter {
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            expr,
        }))
    }

    /// Whether the exchange `e` passes.
    pub fn matches(&self, e: &Exchange) -> bool {
        self.expr.matches(e)
    }

    /// Whether every exchange of the row `key` passes (`Some(true)`), none does
    /// (`Some(false)`), or the key cannot tell (`None`: it depends on each exchange).
    pub fn matches_key(&self, key: &RowKey) -> Option<bool> {
        self.expr.matches_key(key)
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Words, with parentheses as words of their own and a comparison sign kept on its value
/// (`latency > 10ms` reads as `latency >10ms`).
fn tokenize(text: &str) -> Vec<String> {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let mut tokens: Vec<String> = Vec::new();
    for word in spaced.split_whitespace() {
        match tokens.last_mut() {
            Some(last) if last == ">" || last == "<" => last.push_str(word),
            _ => tokens.push(word.to_owned()),
        }
    }
    tokens
}

struct Parser {
    tokens: Vec<String>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).map(String::as_str)
    }

    fn next(&mut self) -> Option<String> {
        let t = self.tokens.get(self.at).cloned();
        self.at += usize::from(t.is_some());
        t
    }

    fn keyword(&self, word: &str) -> bool {
        self.peek().is_some_and(|t| t.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut alternatives = vec![self.and()?];
        while self.keyword("or") {
            self.next();
            alternatives.push(self.operand("or")?);
        }
        Ok(flatten(alternatives, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut all = vec![self.unary()?];
        loop {
            if self.keyword("and") {
                self.next();
                all.push(self.operand("and")?);
            } else if self.peek().is_some_and(|t| t != ")") && !self.keyword("or") {
                all.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(flatten(all, Expr::And))
    }

    /// The operand after `word`, which must be there.
    fn operand(&mut self, word: &str) -> Result<Expr, FilterError> {
        match self.peek() {
            None | Some(")") => Err(FilterError::MissingTerm(word.to_owned())),
            _ if self.keyword("or") || self.keyword("and") => {
                Err(FilterError::MissingTerm(word.to_owned()))
            }
            _ => self.unary(),
        }
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        let Some(word) = self.next() else {
            return Err(FilterError::Unexpected("end of filter".to_owned()));
        };
        let keyword = word.to_ascii_lowercase();
        match keyword.as_str() {
            "not" => Ok(Expr::Not(Box::new(self.operand("not")?))),
            "(" => {
                let inner = self.or()?;
                if self.next().as_deref() != Some(")") {
                    return Err(FilterError::Unbalanced);
                }
                Ok(inner)
            }
            ")" => Err(FilterError::Unbalanced),
            "and" | "or" => Err(FilterError::Unexpected(word)),
            _ => self.test(&word, &keyword).map(Expr::Test),
        }
    }

    fn test(&mut self, word: &str, keyword: &str) -> Result<Test, FilterError> {
        if !TERMS.contains(&keyword) {
            return Err(FilterError::UnknownTerm(word.to_owned()));
        }
        let value = match self.peek() {
            Some(v) if v != "(" && v != ")" => self.next().unwrap_or_default(),
            _ => return Err(FilterError::MissingValue(keyword.to_owned())),
        };
        let value = value.as_str();
        Ok(match keyword {
            "port" => Test::Port(Side::Either, parse_port(value)?),
            "sport" => Test::Port(Side::Client, parse_port(value)?),
            "dport" => Test::Port(Side::Server, parse_port(value)?),
            "ip" => parse_addr(Side::Either, value)?,
            "src" => parse_addr(Side::Client, value)?,
            "dst" => parse_addr(Side::Server, value)?,
            "net" => parse_net(value)?,
            "status" => Test::Status(parse_status(value)?),
            "method" => Test::Method(parse_method(value)?),
            "path" => Test::PathPrefix(value.to_owned()),
            "process" => Test::Process(value.to_owned()),
            "netns" => Test::Netns(value.to_owned()),
            "pid" => Test::Pid(
                value
                    .parse()
                    .map_err(|_| FilterError::BadPid(value.to_owned()))?,
            ),
            _ => parse_latency(value)?,
        })
    }
}

const TERMS: [&str; 14] = [
    "port", "sport", "dport", "ip", "src", "dst", "net", "status", "method", "path", "latency",
    "process", "pid", "netns",
];

fn flatten(mut items: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if items.len() == 1 {
        items.remove(0)
    } else {
        join(items)
    }
}

/// Kleene's three-valued AND (`decisive` false) or OR (`decisive` true), where `None` is
/// "cannot tell": one `decisive` value decides; otherwise any unknown leaves it unknown.
fn kleene(values: impl Iterator<Item = Option<bool>>, decisive: bool) -> Option<bool> {
    let mut unknown = false;
    for v in values {
        match v {
            Some(b) if b == decisive => return Some(decisive),
            None => unknown = true,
            Some(_) => {}
        }
    }
    (!unknown).then_some(!decisive)
}

impl Expr {
    fn matches(&self, e: &Exchange) -> bool {
        match self {
            Expr::Test(t) => t.matches(e),
            Expr::Not(inner) => !inner.matches(e),
            Expr::And(all) => all.iter().all(|x| x.matches(e)),
            Expr::Or(any) => any.iter().any(|x| x.matches(e)),
        }
    }

    fn matches_key(&self, key: &RowKey) -> Option<bool> {
        match self {
            Expr::Test(t) => t.matches_key(key),
            Expr::Not(inner) => inner.matches_key(key).map(|b| !b),
            Expr::And(all) => kleene(all.iter().map(|x| x.matches_key(key)), false),
            Expr::Or(any) => kleene(any.iter().map(|x| x.matches_key(key)), true),
        }
    }
}

/// A test of one side of a row's key: decided when the key has that side, else `None`;
/// `Either` is true when one known side passes and unknown when a side is missing.
fn on_key_side(
    side: Side,
    client: Option<std::net::SocketAddr>,
    client_ip: Option<IpAddr>,
    server: Option<std::net::SocketAddr>,
    test_client: impl Fn(std::net::SocketAddr, IpAddr) -> Option<bool>,
    test_server: impl Fn(std::net::SocketAddr) -> bool,
) -> Option<bool> {
    let c = client_ip.and_then(|ip| match client {
        Some(a) => test_client(a, ip),
        None => test_client(std::net::SocketAddr::new(ip, 0), ip),
    });
    let s = server.map(test_server);
    match side {
        Side::Client => c,
        Side::Server => s,
        Side::Either => kleene([c, s].into_iter(), true),
    }
}

impl Test {
    fn matches(&self, e: &Exchange) -> bool {
        let (client, server) = (e.tuple.client, e.tuple.server);
        let on_side = |side: Side, test: &dyn Fn(std::net::SocketAddr) -> bool| match side {
            Side::Either => test(client) || test(server),
            Side::Client => test(client),
            Side::Server => test(server),
        };
        match self {
            Test::Port(side, port) => on_side(*side, &|a| a.port() == *port),
            Test::Net(side, net, prefix) => on_side(*side, &|a| in_net(a.ip(), *net, *prefix)),
            Test::Status(StatusPattern::Exact(s)) => e.status == *s,
            Test::Status(StatusPattern::Class(c)) => e.status / 100 == *c,
            Test::Method(m) => e.method.is_some_and(|x| x.as_str().eq_ignore_ascii_case(m)),
            Test::PathPrefix(p) => e.path.as_str().starts_with(p.as_str()),
            Test::Latency { above: true, ns } => e.latency_ns > *ns,
            Test::Latency { above: false, ns } => e.latency_ns < *ns,
            Test::Process(_) | Test::Pid(_) => [e.processes.client, e.processes.server]
                .into_iter()
                .any(|id| self.matches_process(id)),
            Test::Netns(name) => e.netns.is_called(name),
        }
    }

    /// For `process` and `pid`: whether the process `id` names passes.
    fn matches_process(&self, id: ProcessId) -> bool {
        let Some(info) = id.info() else {
            return false;
        };
        match self {
            Test::Process(name) => info.comm == *name,
            Test::Pid(pid) => info.pid == Some(*pid),
            _ => false,
        }
    }

    fn matches_key(&self, key: &RowKey) -> Option<bool> {
        let (client, client_ip, server) = (key.client(), key.client_ip(), key.server());
        match self {
            Test::Port(side, port) => on_key_side(
                *side,
                client,
                client_ip,
                server,
                // A client row knows the address, not the port.
                |a, _| client.map(|_| a.port() == *port),
                |a| a.port() == *port,
            ),
            Test::Net(side, net, prefix) => on_key_side(
                *side,
                client,
                client_ip,
                server,
                |_, ip| Some(in_net(ip, *net, *prefix)),
                |a| in_net(a.ip(), *net, *prefix),
            ),
            Test::Method(m) => match key {
                RowKey::Endpoint { method, .. } => {
                    Some(method.is_some_and(|x| x.as_str().eq_ignore_ascii_case(m)))
                }
                _ => None,
            },
            Test::PathPrefix(p) => match key {
                RowKey::Endpoint { template, .. } => path_prefix_on_template(p, template.as_str()),
                _ => None,
            },
            Test::Status(_) | Test::Latency { .. } => None,
            // A process row decides when it is the process; its exchanges may still pass on
            // their other side.
            Test::Process(_) | Test::Pid(_) => match key {
                RowKey::Process { process, .. } if self.matches_process(*process) => Some(true),
                _ => None,
            },
            // A process row's exchanges may come from several namespaces.
            Test::Netns(name) => key.netns().map(|n| n.is_called(name)),
        }
    }
}

/// Whether every path of an endpoint with `template` starts with `prefix`: its literal head
/// (up to the first `{id}`) decides when it is long enough; a query string in the prefix never
/// can be (templates drop it).
fn path_prefix_on_template(prefix: &str, template: &str) -> Option<bool> {
    if prefix.contains(['?', '#']) {
        return None;
    }
    let head = template.find(ID).map_or(template, |i| &template[..i]);
    if head.starts_with(prefix) {
        Some(true)
    } else if prefix.starts_with(head) {
        // The prefix runs past the literal head into an id, or past the whole path into a
        // query string the template dropped.
        None
    } else {
        Some(false)
    }
}

/// Whether `addr` lies in `net/prefix`. IPv4-mapped IPv6 addresses count as IPv4, so
/// `ip 10.0.0.1` matches however the kernel side spelled the address.
fn in_net(addr: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (addr.to_canonical(), net.to_canonical()) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            masked(u32::from(a).into(), u32::from(n).into(), prefix, 32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => masked(u128::from(a), u128::from(n), prefix, 128),
        _ => false,
    }
}

fn masked(a: u128, n: u128, prefix: u8, bits: u32) -> bool {
    let keep = u32::from(prefix).min(bits);
    if keep == 0 {
        return true;
    }
    let shift = bits - keep;
    (a >> shift) == (n >> shift)
}

fn parse_port(s: &str) -> Result<u16, FilterError> {
    s.parse().map_err(|_| FilterError::BadPort(s.to_string()))
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    // Accept the bracketed form people copy from the table.
    s.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

fn full_prefix(addr: IpAddr) -> u8 {
    if addr.to_canonical().is_ipv4() {
        32
    } else {
        128
    }
}

fn parse_addr(side: Side, s: &str) -> Result<Test, FilterError> {
    let addr = parse_ip(s).ok_or_else(|| FilterError::BadAddr(s.to_string()))?;
    Ok(Test::Net(side, addr, full_prefix(addr)))
}

fn parse_net(s: &str) -> Result<Test, FilterError> {
    let bad = || FilterError::BadNet(s.to_string());
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr = parse_ip(addr).ok_or_else(bad)?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        None => max,
    };
    // An IPv4-mapped network's prefix counts from the mapped address's 96th bit.
    let prefix = match addr {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => prefix.saturating_sub(96),
        _ => prefix,
    };
    Ok(Test::Net(Side::Either, addr, prefix))
}

fn parse_status(s: &str) -> Result<StatusPattern, FilterError> {
    let bad = || FilterError::BadStatus(s.to_string());
    let lower = s.to_ascii_lowercase();
    if let Some(class) = lower.strip_suffix("xx") {
        return match class.parse::<u16>() {
            Ok(c) if (1..=5).contains(&c) => Ok(StatusPattern::Class(c)),
            _ => Err(bad()),
        };
    }
    match lower.parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) => Ok(StatusPattern::Exact(code)),
        _ => Err(bad()),
    }
}

/// RFC 9110's `token`: one or more tchar.
fn parse_method(s: &str) -> Result<String, FilterError> {
    let tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    if s.bytes().all(tchar) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(FilterError::BadMethod(s.to_string()))
    }
}

fn parse_latency(s: &str) -> Result<Test, FilterError> {
    let bad = || FilterError::BadLatency(s.to_string());
    let (above, rest) = match s.as_bytes().first() {
        Some(b'>') => (true, &s[1..]),
        Some(b'<') => (false, &s[1..]),
        _ => return Err(bad()),
    };
    let d: Duration = humantime::parse_duration(rest).map_err(|_| bad())?;
    let ns = u64::try_from(d.as_nanos()).map_err(|_| bad())?;
    Ok(Test::Latency { above, ns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Group, Method, PathPrefix, Tuple};

    fn ex(client: &str, server: &str, status: u16, method: Method) -> Exchange {
        Exchange {
            tuple: Tuple {
                client: client.parse().unwrap(),
                server: server.parse().unwrap(),
            },
            conn_start_ns: 0,
            request_ns: 0,
            latency_ns: 1,
            ttlb_ns: Some(1),
            bodies: Default::default(),
            method: Some(method),
            status,
            path: PathPrefix::new("/"),
            processes: Default::default(),
            netns: Default::default(),
        }
    }

    fn matches(filter: &str, e: &Exchange) -> bool {
        Filter::parse(filter).unwrap().unwrap().matches(e)
    }

    fn on_key(filter: &str, group: Group, e: &Exchange) -> Option<bool> {
        Filter::parse(filter)
            .unwrap()
            .unwrap()
            .matches_key(&group.key(e))
    }

    fn error(filter: &str) -> String {
        Filter::parse(filter).unwrap_err().to_string()
    }

    #[test]
    fn netns_selects_the_namespace_an_exchange_was_seen_in() {
        let blue = crate::model::NetnsId::add("filter-test-blue").unwrap();
        let own = ex("10.0.0.1:40000", "10.0.0.2:80", 200, Method::GET);
        let in_blue = Exchange { netns: blue, ..own };
        assert!(matches("netns filter-test-blue", &in_blue));
        assert!(!matches("netns filter-test-blue", &own));
        assert!(matches("not netns filter-test-blue", &own));
        // Rows of addresses are per namespace: the key decides; a process row cannot.
        assert_eq!(
            on_key("netns filter-test-blue", Group::Server, &in_blue),
            Some(true)
        );
        assert_eq!(
            on_key("netns filter-test-blue", Group::Client, &own),
            Some(false)
        );
        assert_eq!(
            on_key("netns filter-test-blue", Group::Process, &in_blue),
            None
        );
        assert_eq!(error("netns"), "`netns` needs a value");
    }

    #[test]
    fn ports_distinguish_client_and_server_sides() {
        let e = ex("10.0.0.1:40000", "10.0.0.2:8080", 200, Method::GET);
        assert!(matches("port 8080", &e));
        assert!(matches("port 40000", &e));
        assert!(matches("dport 8080", &e));
        assert!(!matches("sport 8080", &e));
        assert!(matches("sport 40000", &e));
        assert!(!matches("port 80", &e));
    }

    #[test]
    fn addresses_and_networks_in_both_families() {
        let v4 = ex("10.0.0.1:40000", "192.168.1.7:80", 200, Method::GET);
        assert!(matches("ip 10.0.0.1", &v4));
        assert!(matches("src 10.0.0.1", &v4));
        assert!(!matches("dst 10.0.0.1", &v4));
        assert!(matches("dst 192.168.1.7", &v4));
        assert!(matches("net 192.168.0.0/16", &v4));
        assert!(!matches("net 192.168.2.0/24", &v4));
        assert!(matches("net 0.0.0.0/0", &v4));
        assert!(!matches("net ::/0", &v4));
        // IPv4-mapped spellings on either side meet.
        let mapped = ex(
            "[::ffff:10.0.0.1]:40000",
            "[::ffff:192.168.1.7]:80",
            200,
            Method::GET,
        );
        assert!(matches("src 10.0.0.1", &mapped));
        assert!(matches("net ::ffff:192.168.0.0/112", &v4));

        let v6 = ex("[fd00::1]:40000", "[2001:db8::5]:443", 200, Method::GET);
        assert!(matches("ip fd00::1", &v6));
        assert!(matches("src [fd00::1]", &v6));
        assert!(matches("net 2001:db8::/32", &v6));
        assert!(!matches("net 2001:db9::/32", &v6));
        assert!(!matches("net 10.0.0.0/8", &v6));
    }

    #[test]
    fn status_method_and_negation() {
        let e = ex("10.0.0.1:40000", "10.0.0.2:80", 503, Method::POST);
        assert!(matches("status 5xx", &e));
        assert!(matches("status 503", &e));
        assert!(!matches("status 4xx", &e));
        assert!(!matches("status 500", &e));
        assert!(matches("method post", &e));
        assert!(!matches("method GET", &e));
        assert!(matches("not method GET", &e));
        assert!(!matches("not status 5xx", &e));
        assert!(matches("not not status 5xx", &e));
        // Terms side by side are ANDed, as with `and`.
        assert!(matches("dport 80 status 5xx method POST", &e));
        assert!(matches("dport 80 and status 5xx and method POST", &e));
        assert!(!matches("dport 80 not status 5xx", &e));
        // Any token is a method, extension methods too (named case-insensitively, as the
        // others).
        assert!(!matches("method PROPFIND", &e));
        let mut dav = e;
        dav.method = Method::from_token(b"PROPFIND");
        assert!(matches("method PROPFIND", &dav));
        assert!(matches("method propfind", &dav));
        assert!(!matches("method POST", &dav));
        dav.method = Method::from_token(b"Mkcol");
        assert!(matches("method MKCOL", &dav));
    }

    #[test]
    fn or_binds_looser_than_and_and_parentheses_group() {
        let e = ex("10.0.0.1:40000", "10.0.0.2:80", 200, Method::GET);
        // (dport 81 and status 200) or method GET
        assert!(matches("dport 81 and status 200 or method GET", &e));
        // dport 81 and (status 200 or method GET)
        assert!(!matches("dport 81 and (status 200 or method GET)", &e));
        assert!(matches("status 5xx or dport 80", &e));
        assert!(!matches("status 5xx or dport 81", &e));
        assert!(matches("not (status 5xx or dport 81)", &e));
        assert!(matches("(dport 80)", &e));
    }

    #[test]
    fn path_prefix_and_latency_bounds() {
        let mut e = ex("10.0.0.1:40000", "10.0.0.2:80", 200, Method::GET);
        e.path = PathPrefix::new("/api/users/7?x=1");
        e.latency_ns = 15_000_000;
        assert!(matches("path /api", &e));
        assert!(matches("path /api/users/7?x", &e));
        assert!(!matches("path /apx", &e));
        assert!(matches("latency >10ms", &e));
        assert!(matches("latency > 10ms", &e));
        assert!(!matches("latency <10ms", &e));
        assert!(matches("latency <1s", &e));
        assert!(!matches("latency >15ms", &e));
    }

    #[test]
    fn keys_decide_what_they_can_and_leave_the_rest_to_exchanges() {
        let mut e = ex("10.0.0.1:40000", "10.0.0.2:9090", 500, Method::GET);
        e.path = PathPrefix::new("/users/42");
        use Group::*;
        assert_eq!(on_key("dport 9090", Server, &e), Some(true));
        assert_eq!(on_key("dport 80", Server, &e), Some(false));
        assert_eq!(on_key("dport 9090", Client, &e), None);
        assert_eq!(on_key("sport 40000", Connection, &e), Some(true));
        assert_eq!(on_key("sport 40000", Server, &e), None);
        assert_eq!(on_key("sport 40000", Client, &e), None);
        assert_eq!(on_key("src 10.0.0.1", Client, &e), Some(true));
        assert_eq!(on_key("ip 10.0.0.2", Client, &e), None);
        assert_eq!(on_key("ip 10.0.0.2", Endpoint, &e), Some(true));
        // A port matching neither known side may still be the client's.
        assert_eq!(on_key("port 40000", Server, &e), None);
        assert_eq!(on_key("port 9090", Server, &e), Some(true));
        assert_eq!(on_key("status 5xx", Connection, &e), None);
        assert_eq!(on_key("dport 80 and status 5xx", Server, &e), Some(false));
        assert_eq!(on_key("dport 9090 or status 5xx", Server, &e), Some(true));
        assert_eq!(on_key("dport 9090 and status 5xx", Server, &e), None);
        assert_eq!(on_key("method GET", Endpoint, &e), Some(true));
        assert_eq!(on_key("method GET", Server, &e), None);
        assert_eq!(on_key("path /users/", Endpoint, &e), Some(true));
        assert_eq!(on_key("path /users/4", Endpoint, &e), None);
        assert_eq!(on_key("path /orders", Endpoint, &e), Some(false));
        assert_eq!(on_key("not dport 9090", Server, &e), Some(false));
    }

    #[test]
    fn blank_is_no_filter_and_text_is_normalised() {
        assert_eq!(Filter::parse("   "), Ok(None));
        assert_eq!(
            Filter::parse(" port  80 ").unwrap().unwrap().text(),
            "port 80"
        );
    }

    #[test]
    fn errors_are_one_line_and_name_the_offending_word() {
        for (filter, message) in [
            ("port", "`port` needs a value"),
            ("port x", "`x` is not a port (0-65535)"),
            ("port 70000", "`70000` is not a port (0-65535)"),
            ("ip 10.0.0", "`10.0.0` is not an IP address"),
            (
                "net 10.0.0.0/33",
                "`10.0.0.0/33` is not a network (e.g. 10.0.0.0/8, fd00::/8)",
            ),
            ("status 6xx", "`6xx` is not a status (e.g. 404, 5xx)"),
            ("status 42", "`42` is not a status (e.g. 404, 5xx)"),
            (
                "method GE{T",
                "`GE{T` is not a method (an RFC 9110 token, e.g. GET, PROPFIND)",
            ),
            (
                "host x",
                "unknown term `host` (try port, sport, dport, ip, src, dst, net, status, \
                 method, path, latency, process, pid, netns)",
            ),
            ("port 80 not", "`not` needs a term after it"),
            ("pid nginx", "`nginx` is not a pid (a number)"),
            ("port 80 and", "`and` needs a term after it"),
            ("port 80 or", "`or` needs a term after it"),
            ("port 80 and or port 81", "`and` needs a term after it"),
            ("or port 80", "unexpected `or`"),
            ("(port 80", "unbalanced parentheses"),
            ("port 80)", "unbalanced parentheses"),
            (
                "latency 10ms",
                "`10ms` is not a latency bound (e.g. >10ms, <1s)",
            ),
            (
                "latency >ten",
                "`>ten` is not a latency bound (e.g. >10ms, <1s)",
            ),
            ("path", "`path` needs a value"),
        ] {
            assert_eq!(error(filter), message, "{filter}");
        }
    }
}
