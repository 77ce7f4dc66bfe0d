//! Which `Host` (and, for a POST, which `Origin`) the web interface answers
//! to: against DNS rebinding.
//!
//! A web page on `evil.example` can make its name resolve to 127.0.0.1 (or
//! to the smss machine): the visiting browser then sends requests to smss
//! as if they were evil.example's own, and reads the answers. The browser
//! still says `Host: evil.example`, so smss answers only requests that
//! name it:
//!
//! * an IP address literal: the listener's own address (any address when
//!   it listens on `0.0.0.0` or `::`: whichever of the machine's addresses
//!   the client used; a literal is never a rebound name);
//! * `localhost`;
//! * a name configured in `web-host` (how the LAN reaches it: `smss.lan`).
//!
//! The port is not compared (a proxy may forward another); case and a
//! trailing dot do not matter. Everything else gets `421 Misdirected
//! Request` (an `Origin` of another host on a POST: `403`), on loopback too.

use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone)]
pub struct HostRule {
    listen: IpAddr,
    names: Vec<String>,
}

/// `host[:port]`, `[v6]:port` → the host, lower case, without a trailing dot.
fn host_part(value: &str) -> Option<String> {
    let value = value.trim();
    let host = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        inside
    } else {
        match value.rsplit_once(':') {
            Some((host, port)) if is_port(port) && !host.contains(':') => host,
            Some(_) if value.parse::<IpAddr>().is_ok() => value,
            Some(_) => return None,
            None => value,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

impl HostRule {
    /// The listener's address and the `web-host` names.
    pub fn new(listen: SocketAddr, names: &[String]) -> HostRule {
        let mut names: Vec<String> = names
            .iter()
            .filter_map(|n| host_part(n))
            .chain(["localhost".to_owned()])
            .collect();
        names.dedup();
        HostRule {
            listen: listen.ip(),
            names,
        }
    }

    /// Whether a `Host` header names this server.
    pub fn allows_host(&self, header: &str) -> bool {
        let Some(host) = host_part(header) else {
            return false;
        };
        match host.parse::<IpAddr>() {
            Ok(ip) => self.listen.is_unspecified() || ip == self.listen,
            Err(_) => self.names.contains(&host),
        }
    }

    /// Whether an `Origin` header (`scheme://host[:port]`) names this server.
    pub fn allows_origin(&self, header: &str) -> bool {
        let header = header.trim();
        let Some((scheme, rest)) = header.split_once("://") else {
            return false;
        };
        (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
            && !rest.contains('/')
            && self.allows_host(rest)
    }

    /// The names answered to, for the log and the refusal.
    pub fn describe(&self) -> String {
        let address = if self.listen.is_unspecified() {
            "any address of this machine".to_owned()
        } else {
            self.listen.to_string()
        };
        format!("{address}, {}", self.names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(listen: &str, names: &[&str]) -> HostRule {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        HostRule::new(listen.parse().unwrap(), &names)
    }

    #[test]
    fn hosts_on_loopback() {
        let r = rule("127.0.0.1:8025", &[]);
        for ok in [
            "127.0.0.1:8025",
            "127.0.0.1",
            "localhost:8025",
            "LOCALHOST",
            "localhost.:8025",
        ] {
            assert!(r.allows_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:8025",
            "evil.example",
            "127.0.0.2:8025",
            "[::1]:8025",
            "localhost.evil.example",
            "",
            "localhost:80:80",
            "localhost:http",
            "[::1",
        ] {
            assert!(!r.allows_host(bad), "{bad}");
        }
    }

    #[test]
    fn hosts_on_every_address_and_configured_names() {
        let r = rule("0.0.0.0:8025", &["smss.lan", "SMS.Example.COM."]);
        for ok in [
            "192.168.1.5:8025",
            "[fe80::1]:8025",
            "::1",
            "smss.lan:8025",
            "sms.example.com",
            "localhost",
        ] {
            assert!(r.allows_host(ok), "{ok}");
        }
        for bad in ["smss.lan.evil.example", "evil.example", "lan"] {
            assert!(!r.allows_host(bad), "{bad}");
        }
        let v6 = rule("[::1]:8025", &[]);
        assert!(v6.allows_host("[::1]:8025"));
        assert!(!v6.allows_host("127.0.0.1:8025"));
    }

    #[test]
    fn origins() {
        let r = rule("127.0.0.1:8025", &["smss.lan"]);
        assert!(r.allows_origin("http://127.0.0.1:8025"));
        assert!(r.allows_origin("https://smss.lan"));
        assert!(r.allows_origin("http://localhost:8025"));
        for bad in [
            "http://evil.example",
            "http://evil.example:8025",
            "null",
            "127.0.0.1:8025",
            "ftp://127.0.0.1",
            "http://127.0.0.1:8025/path",
        ] {
            assert!(!r.allows_origin(bad), "{bad}");
        }
    }
}
