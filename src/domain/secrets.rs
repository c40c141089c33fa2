//! The secrets behind refresh tokens, API keys and emailed links: random
//! 256-bit values in base64url (43 characters), stored only as SHA-256,
//! compared in constant time.

use base64::Engine;
use sha2::{Digest, Sha256};

/// Length of a secret from [`random`].
pub const LEN: usize = 43;

/// A fresh random secret: 32 bytes, base64url without padding.
pub fn random() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored instead of a secret.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Equality that does not stop at the first differing byte.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_43_characters_of_base64url_and_unique() {
        let (a, b) = (random(), random());
        assert_eq!(a.len(), LEN);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn digests_compare_whole() {
        assert_eq!(digest("x").len(), 32);
        assert!(same(&digest("x"), &digest("x")));
        assert!(!same(&digest("x"), &digest("y")));
        assert!(!same(b"abc", b"ab"));
    }
}
