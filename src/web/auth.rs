//! Passwords: Argon2id hashes (PHC strings made by `smss hash-password`),
//! HTTP Basic authentication, and a small cache of verified credentials.
//!
//! Argon2id (RFC 9106; the OWASP recommendation for password storage) is
//! deliberately slow: about 20 ms and 19 MiB per check with the default
//! parameters. A browser sends the Basic credentials with every request, so
//! a successful check is remembered as a keyed BLAKE2s tag of the user name
//! and password (never the password itself) and the next request with the
//! same credentials costs one MAC instead of one Argon2 run. Failures are
//! never cached: guessing stays as slow as Argon2 makes it.

use std::collections::VecDeque;
use std::sync::Mutex;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64ct::{Base64, Encoding};
use blake2::Blake2sMac256;
use blake2::digest::{KeyInit, Mac};

/// How many verified credentials are remembered.
const CACHE_SIZE: usize = 16;

/// Checks that `value` is an Argon2 PHC string (`$argon2id$v=19$m=...`).
pub fn check_hash(value: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(value)
        .map_err(|e| format!("not a password hash ({e}): make one with `smss hash-password`"))?;
    let alg = parsed.algorithm.as_str();
    if !alg.starts_with("argon2") || parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(format!(
            "'{alg}' is not an Argon2 hash: make one with `smss hash-password`"
        ));
    }
    Ok(())
}

/// Hashes a password for the configuration (Argon2id, default parameters,
/// random salt).
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

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
        let ok = PasswordHash::new(&account.hash)
            .map(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
            .unwrap_or(false);
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
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        check_hash(&hash).unwrap();
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
    fn bad_hashes_are_refused() {
        for bad in [
            "",
            "secret",
            "$2b$12$abcdefghijklmnopqrstuu",
            "$argon2id$v=19",
        ] {
            assert!(check_hash(bad).is_err(), "{bad}");
        }
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
