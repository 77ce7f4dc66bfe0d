//! API tokens (`smss token add|list|revoke`): what a webhook or script
//! sends instead of the web password, as `Authorization: Bearer TOKEN`,
//! an `access-token` header or an `access_token` parameter.
//!
//! A token is 32 bytes from the operating system's random generator, so
//! it cannot be guessed and a fast hash of it reveals nothing: the
//! database keeps only its SHA-256, and a request costs one hash and one
//! indexed lookup (Argon2, right for passwords people choose, would cost
//! tens of milliseconds per request for nothing). The lookup is made for
//! every request, without a cache: a token revoked by `smss token revoke`
//! (another process) is refused by every running serve at once.

use sha2::{Digest, Sha256};

/// What every token starts with: recognisable in a leaked config, and by
/// secret scanners.
pub const PREFIX: &str = "smss_";

/// A new token: [`PREFIX`] and 64 hex digits (256 random bits).
pub fn generate() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no random numbers from the system: {e}"))?;
    Ok(format!(
        "{PREFIX}{}",
        crate::gsm::to_hex(&bytes).to_ascii_lowercase()
    ))
}

/// The stored form of a token: its SHA-256, 64 lowercase hex digits.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    crate::gsm::to_hex(&digest).to_ascii_lowercase()
}

/// Whether `s` has the shape of a token (checked before any lookup: a
/// long or odd value is no token and costs no query).
pub fn plausible(s: &str) -> bool {
    s.len() == PREFIX.len() + 64
        && s.starts_with(PREFIX)
        && s[PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert!(plausible(&a) && plausible(&b), "{a}");
        assert!(!plausible("smss_xyz") && !plausible(&a[1..]) && !plausible(""));
        // SHA-256("abc"), FIPS 180-2 appendix B.1
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }
}
