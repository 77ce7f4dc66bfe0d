//! Cross-site request forgery: the send form carries a token, and every
//! state-changing request must come from this site.
//!
//! The token is stateless: `<issued, hex>.<tag, hex>`, the tag a keyed
//! BLAKE2s MAC of the time of issue and the user name under a key drawn at
//! start-up. Another site cannot read our pages (same-origin policy), so it
//! cannot get a token to put in a forged form. A token is good for
//! [`TOKEN_LIFETIME`], and only until `serve` restarts (new key): the form
//! then says so and the user reloads the page.
//!
//! Second line, for every POST (the API's too, since a browser may have
//! Basic credentials cached): a request whose `Sec-Fetch-Site` says
//! `cross-site`, or whose `Origin` names another host, is refused. Browsers
//! send these headers; curl and scripts do not, and need no token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use blake2::Blake2sMac256;
use blake2::digest::{KeyInit, Mac};

pub const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

pub struct Csrf {
    key: [u8; 32],
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Csrf {
    pub fn new(key: [u8; 32]) -> Csrf {
        Csrf { key }
    }

    fn mac(&self, issued: u64, user: &str) -> Blake2sMac256 {
        let mut mac = <Blake2sMac256 as KeyInit>::new_from_slice(&self.key)
            .expect("a 32-byte key fits BLAKE2s");
        mac.update(b"smss csrf\0");
        mac.update(&issued.to_le_bytes());
        mac.update(user.as_bytes());
        mac
    }

    /// A token for a form shown to `user` ("" when there is no login).
    pub fn token(&self, user: &str) -> String {
        self.token_at(now_secs(), user)
    }

    fn token_at(&self, issued: u64, user: &str) -> String {
        let tag = self.mac(issued, user).finalize().into_bytes();
        format!("{issued:x}.{}", hex(&tag))
    }

    /// Whether `token` was issued by us, to `user`, and is still fresh.
    pub fn check(&self, token: &str, user: &str) -> bool {
        self.check_at(token, user, now_secs())
    }

    fn check_at(&self, token: &str, user: &str, now: u64) -> bool {
        let Some((issued, tag)) = token.split_once('.') else {
            return false;
        };
        let (Ok(issued), Some(tag)) = (u64::from_str_radix(issued, 16), unhex(tag)) else {
            return false;
        };
        // a few seconds of clock skew between issue and check are fine
        let fresh = issued <= now + 60 && now.saturating_sub(issued) <= TOKEN_LIFETIME.as_secs();
        fresh && self.mac(issued, user).verify_slice(&tag).is_ok()
    }
}

/// Whether a request's browser headers say it came from another site.
/// `host` is the request's `Host` header.
/// `Sec-Fetch-Site` decides when the browser sends it (`same-site` is
/// refused too: another port of the same host is another origin); older
/// browsers are judged by `Origin`.
pub fn cross_site(sec_fetch_site: Option<&str>, origin: Option<&str>, host: Option<&str>) -> bool {
    if let Some(site) = sec_fetch_site {
        let site = site.trim().to_ascii_lowercase();
        return !(site == "same-origin" || site == "none");
    }
    match origin {
        None => false,
        // "null": sandboxed frames, file:// pages, some redirects
        Some(o) if o.trim() == "null" => true,
        Some(o) => {
            let origin_host = o
                .trim()
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(o)
                .trim_end_matches('/');
            match host {
                Some(h) => !origin_host.eq_ignore_ascii_case(h.trim()),
                None => true,
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let c = Csrf::new([1; 32]);
        let t = c.token_at(1_000_000, "admin");
        assert!(c.check_at(&t, "admin", 1_000_010));
        // another user, another key, expired, from the future, tampered
        assert!(!c.check_at(&t, "eve", 1_000_010));
        assert!(!Csrf::new([2; 32]).check_at(&t, "admin", 1_000_010));
        assert!(!c.check_at(&t, "admin", 1_000_000 + TOKEN_LIFETIME.as_secs() + 1));
        assert!(!c.check_at(&t, "admin", 1_000_000 - 3600));
        let mut bad = t.clone();
        bad.pop();
        bad.push(if t.ends_with('0') { '1' } else { '0' });
        assert!(!c.check_at(&bad, "admin", 1_000_010));
        for junk in ["", ".", "zz.zz", "f4240.", "f4240.abc"] {
            assert!(!c.check_at(junk, "admin", 1_000_010), "{junk:?}");
        }
    }

    #[test]
    fn cross_site_headers() {
        let host = Some("127.0.0.1:8025");
        assert!(!cross_site(None, None, host)); // curl
        assert!(!cross_site(
            Some("same-origin"),
            Some("http://127.0.0.1:8025"),
            host
        ));
        assert!(!cross_site(Some("none"), None, host));
        // Origin "null" under a strict referrer policy, same origin
        assert!(!cross_site(Some("same-origin"), Some("null"), host));
        assert!(cross_site(Some("cross-site"), None, host));
        assert!(cross_site(
            Some("same-site"),
            Some("http://127.0.0.1:9999"),
            host
        ));
        assert!(cross_site(None, Some("https://evil.example"), host));
        assert!(cross_site(None, Some("null"), host));
        assert!(cross_site(None, Some("http://127.0.0.1:8025"), None));
    }
}
