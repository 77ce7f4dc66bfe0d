//! HTTP Basic authentication, and a small cache of verified credentials.
//!
//! Checking a password against its Argon2 hash ([`crate::password`]) is
//! deliberately slow, and a browser sends the Basic credentials with every
//! request, so a successful check is remembered as a keyed BLAKE2s tag of the
//! user name and password (never the password itself) and the next request
//! with the same credentials costs one MAC instead of one Argon2 run.
//! Failures are never cached: guessing stays as slow as Argon2 makes it.
//!
//! Every check that is not in the cache costs one Argon2 run, whether the
//! user name is right or not (a wrong user name must not answer faster),
//! and runs through [`password::Checks`]: a few at once, in reused memory.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use blake2::Blake2sMac256;
use blake2::digest::{KeyInit, Mac};

use crate::password::{self, Busy, Checks};

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
    /// The hash as configured (for the cache's tags).
    hash_text: String,
    hash: password::Hash,
}

impl Account {
    pub fn new(user: &str, hash: &str) -> Result<Account, String> {
        Ok(Account {
            user: user.to_owned(),
            hash_text: hash.to_owned(),
            hash: password::Hash::parse(hash)?,
        })
    }
}

/// Equal bytes, in a time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

pub struct Verifier {
    key: [u8; 32],
    verified: Mutex<VecDeque<[u8; 32]>>,
    checks: Checks,
}

impl Verifier {
    /// Room for `concurrency` Argon2 runs at once against any of `accounts`.
    pub fn new(key: [u8; 32], concurrency: usize, accounts: &[&Account]) -> Verifier {
        let blocks = accounts.iter().map(|a| a.hash.blocks()).max().unwrap_or(0);
        Verifier {
            key,
            verified: Mutex::new(VecDeque::with_capacity(CACHE_SIZE)),
            checks: Checks::new(concurrency, blocks),
        }
    }

    /// Whether `user` and `password` are those of `account` and were
    /// verified lately (one MAC, no Argon2).
    pub fn cached(&self, account: &Account, user: &str, password: &str) -> bool {
        let tag = self.tag(account, user, password);
        let cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        // The tags are compared whole; a tag tells nothing about a password.
        cache.contains(&tag)
    }

    /// Whether `user` and `password` are those of `account`: from the
    /// cache, or one Argon2 run (waiting at most `wait` for a place), the
    /// same whether the user name is right or not.
    pub fn check(
        &self,
        account: &Account,
        user: &str,
        password: &str,
        wait: Duration,
    ) -> Result<bool, Busy> {
        if self.cached(account, user, password) {
            return Ok(true);
        }
        let password_ok = self.checks.verify(&account.hash, password, wait)?;
        let ok = same(user.as_bytes(), account.user.as_bytes()) & password_ok;
        if ok {
            let tag = self.tag(account, user, password);
            let mut cache = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_SIZE {
                cache.pop_front();
            }
            cache.push_back(tag);
        }
        Ok(ok)
    }

    /// Argon2 runs so far.
    pub fn argon2_runs(&self) -> u64 {
        self.checks.total()
    }

    fn tag(&self, account: &Account, user: &str, password: &str) -> [u8; 32] {
        let mut mac = <Blake2sMac256 as KeyInit>::new_from_slice(&self.key)
            .expect("a 32-byte key fits BLAKE2s");
        // The account's user too: the same hash may serve two accounts
        // (sendsms's defaults to the web's) under different user names.
        for part in [&account.hash_text, &account.user, user, password] {
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
        let account = Account::new("admin", &hash).unwrap();
        let v = Verifier::new([7; 32], 2, &[&account]);
        let wait = Duration::from_secs(30);
        let check = |user, password| v.check(&account, user, password, wait).unwrap();
        assert!(check("admin", "correct horse"));
        assert_eq!(v.argon2_runs(), 1);
        // the second time from the cache
        assert!(v.cached(&account, "admin", "correct horse"));
        assert!(check("admin", "correct horse"));
        assert_eq!(v.argon2_runs(), 1);
        assert!(!check("admin", "correct horsE"));
        assert!(!check("admin", ""));
        assert_eq!(v.argon2_runs(), 3);
        // an unknown user name costs an Argon2 run too, and fails even
        // with the right password
        assert!(!check("root", "correct horse"));
        assert!(!check("admi", "correct horse"));
        assert!(!check("admin2", "correct horse"));
        assert_eq!(v.argon2_runs(), 6);
    }

    #[test]
    fn same_bytes() {
        assert!(same(b"admin", b"admin"));
        assert!(!same(b"admin", b"admiN"));
        assert!(!same(b"admin", b"admi"));
        assert!(!same(b"admi", b"admin"));
        assert!(!same(b"", b"a"));
        assert!(same(b"", b""));
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
