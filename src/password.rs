//! Password hashes: Argon2id PHC strings, made by `smss hash-password` and
//! kept in the configuration (`web-password-hash`, `kannel-password-hash`).
//!
//! Argon2id (RFC 9106; the OWASP recommendation for password storage) is
//! deliberately slow: about 20 ms and 19 MiB per check with the default
//! parameters. `web::auth` remembers successful checks so that a browser,
//! which sends its credentials with every request, does not pay that each
//! time.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

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
