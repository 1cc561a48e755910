//! The dashboard's filter language: `port N`, `sport N`, `dport N`, `ip ADDR`, `src ADDR`,
//! `dst ADDR`, `net CIDR`, `status 5xx|404`, `method GET`; terms are ANDed, `not` negates the
//! next term. "src"/"sport" are the client side, "dst"/"dport" the server side (the client is
//! the side that sent the request line; docs/terms.md).

use std::{fmt, net::IpAddr};

use thiserror::Error;

use super::{Method, exchange::Exchange};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// The text it was parsed from, for the header.
    text: String,
    terms: Vec<Term>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    negated: bool,
    test: Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Either,
    Client,
    Server,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Test {
    Port(Side, u16),
    /// Address and prefix length; an address is a /32 or /128.
    Net(Side, IpAddr, u8),
    Status(StatusPattern),
    Method(Method),
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
    #[error("`not` needs a term after it")]
    DanglingNot,
    #[error("unknown term `{0}` (try port, sport, dport, ip, src, dst, net, status, method)")]
    UnknownTerm(String),
    #[error("`{0}` is not a port (0-65535)")]
    BadPort(String),
    #[error("`{0}` is not an IP address")]
    BadAddr(String),
    #[error("`{0}` is not a network (e.g. 10.0.0.0/8, fd00::/8)")]
    BadNet(String),
    #[error("`{0}` is not a status (e.g. 404, 5xx)")]
    BadStatus(String),
    #[error("`{0}` is not a method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH)")]
    BadMethod(String),
}

impl Filter {
    /// Parses a filter. An empty (or blank) text is an error-free "no filter": `Ok(None)`.
    pub fn parse(text: &str) -> Result<Option<Filter>, FilterError> {
        let mut words = text.split_whitespace();
        let mut terms = Vec::new();
        let mut negated = false;
        while let Some(word) = words.next() {
            let keyword = word.to_ascii_lowercase();
            if keyword == "not" {
                negated = !negated;
                continue;
            }
            let mut value = || {
                words
                    .next()
                    .ok_or_else(|| FilterError::MissingValue(keyword.clone()))
            };
            let test = match keyword.as_str() {
                "port" => Test::Port(Side::Either, parse_port(value()?)?),
                "sport" => Test::Port(Side::Client, parse_port(value()?)?),
                "dport" => Test::Port(Side::Server, parse_port(value()?)?),
                "ip" => parse_addr(Side::Either, value()?)?,
                "src" => parse_addr(Side::Client, value()?)?,
                "dst" => parse_addr(Side::Server, value()?)?,
                "net" => parse_net(value()?)?,
                "status" => Test::Status(parse_status(value()?)?),
                "method" => Test::Method(parse_method(value()?)?),
                _ => return Err(FilterError::UnknownTerm(word.to_string())),
            };
            terms.push(Term { negated, test });
            negated = false;
        }
        if negated {
            return Err(FilterError::DanglingNot);
        }
        Ok((!terms.is_empty()).then(|| Filter {
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            terms,
        }))
    }

    pub fn matches(&self, e: &Exchange) -> bool {
        self.terms.iter().all(|t| t.test.matches(e) != t.negated)
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

impl Test {
    fn matches(&self, e: &Exchange) -> bool {
        let (client, server) = (e.tuple.client, e.tuple.server);
        let on_side = |side: Side, test: &dyn Fn(std::net::SocketAddr) -> bool| match side {
            Side::Either => test(client) || test(server),
            Side::Client => test(client),
            Side::Server => test(server),
        };
        match *self {
            Test::Port(side, port) => on_side(side, &|a| a.port() == port),
            Test::Net(side, net, prefix) => on_side(side, &|a| in_net(a.ip(), net, prefix)),
            Test::Status(StatusPattern::Exact(s)) => e.status == s,
            Test::Status(StatusPattern::Class(c)) => e.status / 100 == c,
            Test::Method(m) => e.method == Some(m),
        }
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

fn parse_method(s: &str) -> Result<Method, FilterError> {
    Method::ALL
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| FilterError::BadMethod(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PathPrefix, Tuple};

    fn ex(client: &str, server: &str, status: u16, method: Method) -> Exchange {
        Exchange {
            tuple: Tuple {
                client: client.parse().unwrap(),
                server: server.parse().unwrap(),
            },
            request_ns: 0,
            latency_ns: 1,
            method: Some(method),
            status,
            path: PathPrefix::new("/"),
        }
    }

    fn matches(filter: &str, e: &Exchange) -> bool {
        Filter::parse(filter).unwrap().unwrap().matches(e)
    }

    #[test]
    fn ports_distinguish_client_and_server_sides() {
        let e = ex("10.0.0.1:40000", "10.0.0.2:8080", 200, Method::Get);
        assert!(matches("port 8080", &e));
        assert!(matches("port 40000", &e));
        assert!(matches("dport 8080", &e));
        assert!(!matches("sport 8080", &e));
        assert!(matches("sport 40000", &e));
        assert!(!matches("port 80", &e));
    }

    #[test]
    fn addresses_and_networks_in_both_families() {
        let v4 = ex("10.0.0.1:40000", "192.168.1.7:80", 200, Method::Get);
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
            Method::Get,
        );
        assert!(matches("src 10.0.0.1", &mapped));
        assert!(matches("net ::ffff:192.168.0.0/112", &v4));

        let v6 = ex("[fd00::1]:40000", "[2001:db8::5]:443", 200, Method::Get);
        assert!(matches("ip fd00::1", &v6));
        assert!(matches("src [fd00::1]", &v6));
        assert!(matches("net 2001:db8::/32", &v6));
        assert!(!matches("net 2001:db9::/32", &v6));
        assert!(!matches("net 10.0.0.0/8", &v6));
    }

    #[test]
    fn status_method_and_negation() {
        let e = ex("10.0.0.1:40000", "10.0.0.2:80", 503, Method::Post);
        assert!(matches("status 5xx", &e));
        assert!(matches("status 503", &e));
        assert!(!matches("status 4xx", &e));
        assert!(!matches("status 500", &e));
        assert!(matches("method post", &e));
        assert!(!matches("method GET", &e));
        assert!(matches("not method GET", &e));
        assert!(!matches("not status 5xx", &e));
        assert!(matches("not not status 5xx", &e));
        // Terms are ANDed.
        assert!(matches("dport 80 status 5xx method POST", &e));
        assert!(!matches("dport 80 not status 5xx", &e));
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
    fn errors_name_the_offending_word() {
        assert_eq!(
            Filter::parse("port"),
            Err(FilterError::MissingValue("port".into()))
        );
        assert_eq!(
            Filter::parse("port x"),
            Err(FilterError::BadPort("x".into()))
        );
        assert_eq!(
            Filter::parse("port 70000"),
            Err(FilterError::BadPort("70000".into()))
        );
        assert_eq!(
            Filter::parse("ip 10.0.0"),
            Err(FilterError::BadAddr("10.0.0".into()))
        );
        assert_eq!(
            Filter::parse("net 10.0.0.0/33"),
            Err(FilterError::BadNet("10.0.0.0/33".into()))
        );
        assert_eq!(
            Filter::parse("status 6xx"),
            Err(FilterError::BadStatus("6xx".into()))
        );
        assert_eq!(
            Filter::parse("status 42"),
            Err(FilterError::BadStatus("42".into()))
        );
        assert_eq!(
            Filter::parse("method FETCH"),
            Err(FilterError::BadMethod("FETCH".into()))
        );
        assert_eq!(
            Filter::parse("host x"),
            Err(FilterError::UnknownTerm("host".into()))
        );
        assert_eq!(Filter::parse("port 80 not"), Err(FilterError::DanglingNot));
        assert_eq!(
            Filter::parse("port x").unwrap_err().to_string(),
            "`x` is not a port (0-65535)"
        );
    }
}
