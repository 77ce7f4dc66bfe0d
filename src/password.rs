//! Password hashes: Argon2id PHC strings, made by `smss hash-password` and
//! kept in the configuration (`web-password-hash`, `kannel-password-hash`).
//!
//! Argon2id (RFC 9106; the OWASP recommendation for password storage) is
//! deliberately slow: about 20 ms and 19 MiB per check with the default
//! parameters. `web::auth` remembers successful checks so that a browser,
//! which sends its credentials with every request, does not pay that each
//! time.
//!
//! A hash from the configuration is parsed once ([`Hash`]); checks against
//! it run through [`Checks`]: at most N at once, each in a block of memory
//! allocated once and reused, so that wrong passwords by the thousand cost
//! CPU time but not memory (a fresh 19 MiB per check, freed on whatever
//! thread ran it, is what the allocator's per-thread arenas keep: hundreds
//! of MB after a few hundred guesses).

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, PasswordVerifier, Version};

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
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
}

/// Whether `password` is the one `hash` was made from; false for a hash
/// that cannot be parsed.
pub fn verify(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A password hash parsed once: what a check against it needs.
#[derive(Clone)]
pub struct Hash {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash({}, {:?})", self.algorithm, self.params)
    }
}

impl Hash {
    /// Parses an Argon2 PHC string (as [`check_hash`] accepts it).
    pub fn parse(value: &str) -> Result<Hash, String> {
        check_hash(value)?;
        let parsed = PasswordHash::new(value).map_err(|e| format!("not a password hash ({e})"))?;
        let algorithm = Algorithm::new(parsed.algorithm.as_str()).map_err(|e| e.to_string())?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return Err("the hash has no salt or no output".into());
        };
        Ok(Hash {
            algorithm,
            version,
            params,
            salt: salt.as_ref().to_vec(),
            expected: expected.as_bytes().to_vec(),
        })
    }

    /// The memory one check needs, in 1 KiB blocks.
    pub fn blocks(&self) -> usize {
        self.params.block_count()
    }

    /// Whether `password` is the one this hash was made from, computed in
    /// `memory` (at least [`Hash::blocks`] long). Compared in constant time.
    fn matches_in(&self, password: &[u8], memory: &mut [Block]) -> bool {
        let argon = Argon2::new(self.algorithm, self.version, self.params.clone());
        let mut out = vec![0u8; self.expected.len()];
        if argon
            .hash_password_into_with_memory(password, &self.salt, &mut out, memory)
            .is_err()
        {
            return false;
        }
        out.iter()
            .zip(&self.expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Every check waited longer than allowed for one of the [`Checks`]' places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Password checks, at most `concurrency` at once, each in memory of its
/// own that is allocated at its first use and reused ever after: the
/// memory they take is `concurrency` × the largest hash's, whatever the
/// number of checks.
pub struct Checks {
    blocks: usize,
    concurrency: usize,
    state: Mutex<Pool>,
    freed: Condvar,
}

struct Pool {
    /// Memory not in use.
    free: Vec<Vec<Block>>,
    /// Checks running now.
    running: usize,
    /// How many checks ran, and the most that ran at once.
    total: u64,
    most: usize,
}

impl Checks {
    /// Room for `concurrency` checks against hashes of up to `blocks` blocks.
    pub fn new(concurrency: usize, blocks: usize) -> Checks {
        Checks {
            blocks,
            concurrency: concurrency.max(1),
            state: Mutex::new(Pool {
                free: Vec::new(),
                running: 0,
                total: 0,
                most: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Checks `password` against `hash`, waiting at most `wait` for a place.
    /// A hash larger than the room given to [`Checks::new`] never matches.
    pub fn verify(&self, hash: &Hash, password: &str, wait: Duration) -> Result<bool, Busy> {
        let deadline = Instant::now() + wait;
        let mut memory = {
            let mut pool = self.state.lock().unwrap_or_else(|e| e.into_inner());
            while pool.running >= self.concurrency {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Busy);
                }
                pool = self
                    .freed
                    .wait_timeout(pool, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            pool.running += 1;
            pool.total += 1;
            pool.most = pool.most.max(pool.running);
            pool.free.pop()
        };
        let memory_ref = memory.get_or_insert_with(|| vec![Block::default(); self.blocks]);
        let ok =
            hash.blocks() <= memory_ref.len() && hash.matches_in(password.as_bytes(), memory_ref);
        let mut pool = self.state.lock().unwrap_or_else(|e| e.into_inner());
        pool.running -= 1;
        pool.free.extend(memory);
        drop(pool);
        self.freed.notify_one();
        Ok(ok)
    }

    /// How many checks have run.
    pub fn total(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        check_hash(&h).unwrap();
        assert!(verify(&h, "correct horse"));
        assert!(!verify(&h, "correct horsE"));
        assert!(!verify(&h, ""));
        assert!(!verify("secret", "secret"));
    }

    #[test]
    fn prepared_hash_checks_as_verify_does() {
        let h = hash("correct horse").unwrap();
        let prepared = Hash::parse(&h).unwrap();
        assert_eq!(prepared.blocks(), 19 * 1024);
        let checks = Checks::new(1, prepared.blocks());
        let wait = Duration::from_secs(30);
        assert_eq!(checks.verify(&prepared, "correct horse", wait), Ok(true));
        assert_eq!(checks.verify(&prepared, "correct horsE", wait), Ok(false));
        assert_eq!(checks.verify(&prepared, "", wait), Ok(false));
        assert_eq!(checks.total(), 3);
        // too little room: never a match
        let small = Checks::new(1, 8);
        assert_eq!(small.verify(&prepared, "correct horse", wait), Ok(false));
        assert!(Hash::parse("secret").is_err());
    }

    #[test]
    fn at_most_n_checks_at_once_in_n_memories() {
        use std::sync::Arc;
        // cheap parameters: this is about the places, not the hash
        let argon = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, None).unwrap(),
        );
        let h = argon.hash_password(b"pw").unwrap().to_string();
        let prepared = Arc::new(Hash::parse(&h).unwrap());
        let checks = Arc::new(Checks::new(2, prepared.blocks()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (checks, prepared) = (Arc::clone(&checks), Arc::clone(&prepared));
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        assert_eq!(
                            checks.verify(&prepared, "wrong", Duration::from_secs(60)),
                            Ok(false)
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let pool = checks.state.lock().unwrap();
        assert!((1..=2).contains(&pool.most), "{} at once", pool.most);
        assert_eq!(pool.running, 0);
        assert!(pool.free.len() <= 2, "{} memories made", pool.free.len());
        assert_eq!(pool.total, 160);
        drop(pool);
        // all places taken: Busy after the wait
        let hold = checks.state.lock().unwrap().running;
        assert_eq!(hold, 0);
        checks.state.lock().unwrap().running = 2;
        assert_eq!(
            checks.verify(&prepared, "pw", Duration::from_millis(50)),
            Err(Busy)
        );
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
}
