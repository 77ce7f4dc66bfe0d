//! The IP allowlist for the request port (and the web port): a list of
//! addresses and CIDR networks, IPv4 and IPv6. An empty list allows all.

use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// `10.0.0.0/8`, `192.168.1.5`, `2001:db8::/32`, `::1`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let bad = |why: &str| {
            format!("'{s}' is not an address or network ({why}); e.g. 10.0.0.0/8 or ::1")
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .trim_matches(['[', ']'])
            .parse()
            .map_err(|_| bad("bad address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| bad("bad prefix length"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_match(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_match(net: &[u8], ip: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if net[..full] != ip[..full] {
        return false;
    }
    rest == 0 || {
        let mask = 0xFFu8 << (8 - rest);
        net[full] & mask == ip[full] & mask
    }
}

/// A comma (or space) separated list; empty = everyone.
pub fn parse_list(s: &str) -> Result<Vec<Cidr>, String> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(Cidr::parse)
        .collect()
}

/// Whether `ip` may connect.
pub fn allowed(list: &[Cidr], ip: IpAddr) -> bool {
    list.is_empty() || list.iter().any(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_and_edges() {
        let list = parse_list("10.0.0.0/8, 192.168.1.5 2001:db8::/32,::1").unwrap();
        assert!(allowed(&list, ip("10.255.255.255")));
        assert!(!allowed(&list, ip("11.0.0.0")));
        assert!(allowed(&list, ip("192.168.1.5")));
        assert!(!allowed(&list, ip("192.168.1.6")));
        assert!(allowed(&list, ip("2001:db8:ffff::1")));
        assert!(!allowed(&list, ip("2001:db9::1")));
        assert!(allowed(&list, ip("::1")));
        assert!(!allowed(&list, ip("127.0.0.1")));
        // IPv4 clients of a dual-stack listener
        assert!(allowed(&list, ip("::ffff:10.1.2.3")));
    }

    #[test]
    fn odd_prefixes() {
        let c = Cidr::parse("192.168.0.0/23").unwrap();
        assert!(c.contains(ip("192.168.1.200")));
        assert!(!c.contains(ip("192.168.2.0")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!Cidr::parse("0.0.0.0/0").unwrap().contains(ip("::2")));
    }

    #[test]
    fn empty_allows_everyone_and_errors_are_clear() {
        assert!(allowed(&parse_list("").unwrap(), ip("8.8.8.8")));
        assert_eq!(
            parse_list("10.0.0.0/33").unwrap_err(),
            "'10.0.0.0/33' is not an address or network (bad prefix length); e.g. 10.0.0.0/8 or ::1"
        );
        assert!(parse_list("example.com").is_err());
    }
}
