//! Small secrets sealed at rest (a tenant's Agora certificate, say) with
//! AES-256-GCM under the process's data-at-rest key.
//!
//! A sealed value is `nonce (12 bytes) || ciphertext || tag (16 bytes)`, so
//! it is [`OVERHEAD`] bytes longer than the plaintext; store it in a
//! `VARBINARY`/`BLOB` column. Nonces are random: fine for far fewer than 2^32
//! seals under one key, which small secrets never approach.
//!
//! Bind a value to where it lives with associated data, e.g.
//! `b"agora_certificate:" + tenant id`: the same ciphertext copied into
//! another tenant's row (or another column) then fails to open instead of
//! decrypting there. The associated data is authenticated, not stored: pass
//! the same bytes to [`open_with_aad`].

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};

/// Length of a data-at-rest key.
pub const KEY_LEN: usize = 32;
/// Length of the random nonce that starts a sealed value.
pub const NONCE_LEN: usize = 12;
/// Length of the authentication tag that ends a sealed value.
pub const TAG_LEN: usize = 16;
/// How much longer a sealed value is than its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Why a sealed value could not be opened. Either way the value is useless:
/// treat it as an internal error and log which one it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Shorter than a nonce and a tag: not something [`seal`] produced.
    #[error("sealed value is too short")]
    TooShort,
    /// Wrong key, wrong associated data, or altered bytes (GCM cannot tell
    /// these apart).
    #[error("sealed value does not authenticate under this key and associated data")]
    Unauthentic,
}

/// Seals `plaintext` under `key` without associated data.
pub fn seal(key: &[u8; KEY_LEN], plaintext: &[u8]) -> Vec<u8> {
    seal_with_aad(key, plaintext, &[])
}

/// Opens a value from [`seal`].
pub fn open(key: &[u8; KEY_LEN], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
    open_with_aad(key, sealed, &[])
}

/// Seals `plaintext` under `key`, bound to `aad` (authenticated, not
/// stored). A fresh random nonce makes every call's output different.
///
/// # Panics
/// Only if `plaintext` exceeds AES-GCM's limit of 64 GiB.
pub fn seal_with_aad(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let ciphertext = Aes256Gcm::new(key.into())
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM seals anything under 64 GiB");
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// Opens a value from [`seal_with_aad`], given the same key and `aad`.
pub fn open_with_aad(key: &[u8; KEY_LEN], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, OpenError> {
    if sealed.len() < OVERHEAD {
        return Err(OpenError::TooShort);
    }
    let (nonce, ciphertext) = sealed
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(OpenError::TooShort)?;
    Aes256Gcm::new(key.into())
        .decrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| OpenError::Unauthentic)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; KEY_LEN] = [7; KEY_LEN];
    const CERT: &[u8] = b"5CFd2fd1755d40ecb72977518be15d3b";
    const TENANT_A: &[u8] = b"agora_certificate:0199a1b2-0000-7000-8000-00000000000a";
    const TENANT_B: &[u8] = b"agora_certificate:0199a1b2-0000-7000-8000-00000000000b";

    #[test]
    fn a_sealed_secret_opens_to_itself() {
        let sealed = seal(&KEY, CERT);
        assert_eq!(sealed.len(), CERT.len() + OVERHEAD);
        assert_eq!(open(&KEY, &sealed).unwrap(), CERT);

        let bound = seal_with_aad(&KEY, CERT, TENANT_A);
        assert_eq!(open_with_aad(&KEY, &bound, TENANT_A).unwrap(), CERT);

        assert_eq!(open(&KEY, &seal(&KEY, b"")).unwrap(), b"");
    }

    #[test]
    fn sealing_twice_gives_different_bytes_that_hide_the_plaintext() {
        let (a, b) = (seal(&KEY, CERT), seal(&KEY, CERT));
        assert_ne!(a, b);
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
        assert!(!a.windows(8).any(|w| CERT.windows(8).any(|c| c == w)));
    }

    #[test]
    fn any_altered_byte_is_detected() {
        let sealed = seal_with_aad(&KEY, CERT, TENANT_A);
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert_eq!(
                open_with_aad(&KEY, &tampered, TENANT_A),
                Err(OpenError::Unauthentic),
                "byte {i}"
            );
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(
            open_with_aad(&KEY, &longer, TENANT_A),
            Err(OpenError::Unauthentic)
        );
        let shorter = &sealed[..sealed.len() - 1];
        assert_eq!(
            open_with_aad(&KEY, shorter, TENANT_A),
            Err(OpenError::Unauthentic)
        );
    }

    #[test]
    fn another_key_cannot_open_it() {
        let sealed = seal(&KEY, CERT);
        let mut other = KEY;
        other[31] ^= 0x80;
        assert_eq!(open(&other, &sealed), Err(OpenError::Unauthentic));
    }

    #[test]
    fn a_value_copied_to_another_tenant_does_not_open_there() {
        let sealed = seal_with_aad(&KEY, CERT, TENANT_A);
        assert_eq!(
            open_with_aad(&KEY, &sealed, TENANT_B),
            Err(OpenError::Unauthentic)
        );
        assert_eq!(open(&KEY, &sealed), Err(OpenError::Unauthentic));
        assert_eq!(
            open_with_aad(&KEY, &seal(&KEY, CERT), TENANT_A),
            Err(OpenError::Unauthentic)
        );
    }

    #[test]
    fn input_shorter_than_nonce_and_tag_is_an_error() {
        for len in 0..OVERHEAD {
            assert_eq!(open(&KEY, &vec![0; len]), Err(OpenError::TooShort), "{len}");
        }
        assert_eq!(open(&KEY, &[0; OVERHEAD]), Err(OpenError::Unauthentic));
    }
}
