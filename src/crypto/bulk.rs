//! Sealing of uploaded files: XChaCha20-Poly1305, the same bytes `seal_raw` writes for a field (nonce,
//! ciphertext, tag), computed with ring's vectorised ChaCha20-Poly1305. Must not produce or accept any
//! other format, and must not touch the database.
//!
//! Fields are sealed with the portable ChaCha20 and Poly1305 backends (`.cargo/config.toml` says why: for
//! 20-40 byte values their set-up is cheaper). Files are kilobytes to megabytes, where the portable code
//! costs about forty instructions a byte: sealing a verification's two uploads was a tenth of its
//! instructions. XChaCha20-Poly1305 is ChaCha20-Poly1305 under a subkey: HChaCha20 of the key and the
//! first 16 bytes of the 24-byte nonce, with the last 8 bytes after four zero bytes as the 12-byte nonce
//! (draft-irtf-cfrg-xchacha, what the `chacha20poly1305` crate implements). The subkey is derived here
//! with the `chacha20` crate and the rest is ring's AEAD, already in the build for TLS, whose assembly
//! is constant-time. Either implementation opens what the other sealed; the tests check they agree byte
//! for byte.

use super::{CryptoError, NONCE_LEN};
use chacha20::cipher::consts::U10;
use chacha20::cipher::generic_array::GenericArray;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use zeroize::Zeroize;

const TAG_LEN: usize = 16;

/// `nonce ‖ ciphertext ‖ tag` of `plain` under `key`, bound to `aad`, with a fresh random nonce.
pub(super) fn seal(key: &[u8; 32], plain: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    seal_with_nonce(key, &nonce, plain, aad)
}

fn seal_with_nonce(key: &[u8; 32], nonce: &[u8; NONCE_LEN], plain: &[u8], aad: &[u8]) -> Vec<u8> {
    let (aead, inner_nonce) = subkey_cipher(key, nonce);
    let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN);
    out.extend_from_slice(nonce);
    out.extend_from_slice(plain);
    let tag = aead
        .seal_in_place_separate_tag(inner_nonce, Aad::from(aad), &mut out[NONCE_LEN..])
        .expect("ChaCha20-Poly1305 sealing of an in-memory buffer cannot fail");
    out.extend_from_slice(tag.as_ref());
    out
}

/// The plaintext of what `seal` (or `seal_raw`) wrote under `key` and `aad`.
pub(super) fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
    let (aead, inner_nonce) = subkey_cipher(key, nonce);
    let mut buffer = body.to_vec();
    let plain_len = aead.open_in_place(inner_nonce, Aad::from(aad), &mut buffer).map_err(|_| CryptoError::Open)?.len();
    buffer.truncate(plain_len);
    Ok(buffer)
}

/// ChaCha20-Poly1305 under HChaCha20(key, nonce[..16]), and the 12-byte nonce `0000 ‖ nonce[16..]`.
fn subkey_cipher(key: &[u8; 32], nonce: &[u8; NONCE_LEN]) -> (LessSafeKey, Nonce) {
    let mut subkey = chacha20::hchacha::<U10>(GenericArray::from_slice(key), GenericArray::from_slice(&nonce[..16]));
    let aead =
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &subkey).expect("ChaCha20-Poly1305 takes a 32-byte key"));
    subkey.as_mut_slice().zeroize();
    let mut inner = [0u8; 12];
    inner[4..].copy_from_slice(&nonce[16..]);
    (aead, Nonce::assume_unique_for_key(inner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{XChaCha20Poly1305, XNonce};
    use proptest::prelude::*;

    fn reference_seal(key: &[u8; 32], nonce: &[u8; NONCE_LEN], plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let ct =
            XChaCha20Poly1305::new(key.into()).encrypt(XNonce::from_slice(nonce), Payload { msg: plain, aad }).unwrap();
        [nonce.as_slice(), &ct].concat()
    }

    #[test]
    fn the_draft_test_vector_seals_to_its_ciphertext_and_tag() {
        // draft-irtf-cfrg-xchacha-03, A.3.1 (AEAD_XChaCha20_Poly1305).
        let hex = |s: &str| {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        let plain = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f").try_into().unwrap();
        let nonce: [u8; 24] = hex("404142434445464748494a4b4c4d4e4f5051525354555657").try_into().unwrap();
        let sealed = seal_with_nonce(&key, &nonce, plain, &aad);
        let ciphertext = hex(concat!(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452",
            "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
        ));
        let tag = hex("c0875924c1c7987947deafd8780acf49");
        assert_eq!(&sealed[NONCE_LEN..NONCE_LEN + plain.len()], ciphertext.as_slice());
        assert_eq!(&sealed[NONCE_LEN + plain.len()..], tag.as_slice());
        assert_eq!(open(&key, &sealed, &aad).unwrap(), plain);
    }

    #[test]
    fn a_changed_byte_key_or_binding_does_not_open() {
        let key = [7u8; 32];
        let sealed = seal(&key, b"passport front", b"ses_1\0id_front-bytes:blob_1");
        assert_eq!(open(&key, &sealed, b"ses_1\0id_front-bytes:blob_1").unwrap(), b"passport front");
        for at in [0, NONCE_LEN, sealed.len() - 1] {
            let mut tampered = sealed.clone();
            tampered[at] ^= 1;
            assert!(matches!(open(&key, &tampered, b"ses_1\0id_front-bytes:blob_1"), Err(CryptoError::Open)), "{at}");
        }
        assert!(matches!(open(&[8u8; 32], &sealed, b"ses_1\0id_front-bytes:blob_1"), Err(CryptoError::Open)));
        assert!(matches!(open(&key, &sealed, b"ses_2\0id_front-bytes:blob_1"), Err(CryptoError::Open)));
        assert!(matches!(open(&key, &sealed[..NONCE_LEN + TAG_LEN - 1], b""), Err(CryptoError::Malformed)));
    }

    proptest! {
        #[test]
        fn ring_and_the_portable_crate_write_and_open_the_same_bytes(
            key in any::<[u8; 32]>(), nonce in any::<[u8; 24]>(),
            plain in proptest::collection::vec(any::<u8>(), 0..3000),
            aad in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let sealed = seal_with_nonce(&key, &nonce, &plain, &aad);
            prop_assert_eq!(&sealed, &reference_seal(&key, &nonce, &plain, &aad));
            prop_assert_eq!(open(&key, &sealed, &aad).unwrap(), plain.clone());
            let by_reference = XChaCha20Poly1305::new((&key).into())
                .decrypt(XNonce::from_slice(&nonce), Payload { msg: &sealed[NONCE_LEN..], aad: &aad })
                .unwrap();
            prop_assert_eq!(by_reference, plain);
        }
    }
}
