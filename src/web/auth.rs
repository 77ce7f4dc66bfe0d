//! HTTP Basic authentication, and a small cache of verified credentials.
//!
//! Checking a password against its Argon2 hash ([`crate::password`]) is
//! deliberately slow, and a browser sends the Basic credentials with every
//! request, so a successful check is remembered as a keyed BLAKE2s tag of the
//! user name and password (never the password itself) and the next request
//! with the same credentials costs one MAC instead of one Argon2 run.
//! Failures are never cached: guessing stays as slow as Argon2 makes it.

use std::collections::VecDeque;
use std::sync::Mutex;

use base64ct::{Base64, Encoding};
use blake2::Blake2sMac256;
use blake2::digest::{KeyInit, Mac};

use crate::password;

/// How many verified credentials are remembered.
const CACHE_SIZE: usize = 16;

/// `Authorization: Basic base64(user:password)` → (user, password).
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = Base64::decode_vec(value.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// A user name and the hash of its password.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: String,
    pub hash: String,
}

pub struct Verifier {
    key: [u8; 32],
    verified: Mutex<VecDeque<[u8; 32]>>,
}

impl Verifier {
    pub fn new(key: [u8; 32]) -> Verifier {
        Verifier {
            key,
            verified: Mutex::new(VecDeque::with_capacity(CACHE_SIZE)),
        }
    }

    /// Whether `user` and `password` are those of `account`.
    pub fn check(&self, account: &Account, user: &str, password: &str) -> bool {
        let tag = self.tag(account, user, password);
        let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        // The tags are compared whole; a tag tells nothing about a password.
        if cache.contains(&tag) {
            return true;
        }
        drop(cache);
        if user != account.user {
            return false;
        }
        let ok = password::verify(&account.hash, password);
        if ok {
            cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_SIZE {
                cache.pop_front();
            }
            cache.push_back(tag);
        }
        ok
    }

    fn tag(&self, account: &Account, user: &str, password: &str) -> [u8; 32] {
        let mut mac = <Blake2sMac256 as KeyInit>::new_from_slice(&self.key)
            .expect("a 32-byte key fits BLAKE2s");
        for part in [&account.hash, user, password] {
            mac.update(&(part.len() as u64).to_le_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_check() {
        let hash = password::hash("correct horse").unwrap();
        let account = Account {
            user: "admin".into(),
            hash,
        };
        let v = Verifier::new([7; 32]);
        assert!(v.check(&account, "admin", "correct horse"));
        // the second time from the cache
        assert!(v.check(&account, "admin", "correct horse"));
        assert!(!v.check(&account, "admin", "correct horsE"));
        assert!(!v.check(&account, "root", "correct horse"));
        assert!(!v.check(&account, "admin", ""));
    }

    #[test]
    fn basic_header() {
        // "admin:s3cr:et" — the password may contain ':'
        assert_eq!(
            parse_basic("Basic YWRtaW46czNjcjpldA=="),
            Some(("admin".into(), "s3cr:et".into()))
        );
        assert_eq!(parse_basic("Bearer xyz"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic YWRtaW4="), None); // no ':'
    }
}
