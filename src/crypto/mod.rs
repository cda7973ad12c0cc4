//! Key material and sealing: the master key, per-subject data keys (wrapped), field sealing with
//! XChaCha20-Poly1305 bound to (subject, field), keyed BLAKE3 blind indexes and the log-chain key.
//! Must not touch the database or the network, and must never log or serialise key bytes.

pub mod blind;
mod bulk;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::fmt;
use std::path::Path;
use zeroize::{Zeroize, ZeroizeOnDrop};

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed value could not be opened (wrong key, wrong owner, or tampered)")]
    Open,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("master key: {0}")]
    MasterKey(String),
}

/// 32 secret bytes. Not Clone, not Serialize; Debug is redacted; zeroed on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
struct SecretBytes([u8; 32]);

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

/// The master key. Lives in the key file or `IDV_MASTER_KEY`, never in the database.
#[derive(Debug)]
pub struct MasterKey(SecretBytes);

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(SecretBytes(bytes))
    }

    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let raw = hex::decode(text.trim())
            .map_err(|_| CryptoError::MasterKey("master key must be 64 hex characters".into()))?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| CryptoError::MasterKey("master key must be 32 bytes (64 hex characters)".into()))?;
        Ok(Self::from_bytes(bytes))
    }

    /// Loads the key file, creating it (mode 0600, 32 random bytes as hex) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CryptoError::MasterKey(format!("cannot read {}: {e}", path.display())))?;
            return Ok((Self::from_hex(&text)?, false));
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let mut text = hex::encode(bytes);
        write_private_file(path, text.as_bytes())
            .map_err(|e| CryptoError::MasterKey(format!("cannot create {}: {e}", path.display())))?;
        text.zeroize();
        Ok((Self::from_bytes(bytes), true))
    }

    fn derive(&self, context: &str) -> SecretBytes {
        SecretBytes(blake3::derive_key(context, &self.0 .0))
    }
}

fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // The creation mode passes through the umask; set it exactly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(contents)?;
    file.sync_all()
}

/// Everything derived from the master key, each with its own context so no key serves two purposes.
#[derive(Debug)]
pub struct Keyring {
    wrapping: SecretBytes,
    blind_index: SecretBytes,
    chain: SecretBytes,
    api_key_hash: SecretBytes,
    responses: SecretBytes,
    capture_tokens: SecretBytes,
    url_signing: SecretBytes,
    webhook_secrets: SecretBytes,
    org_sessions: SecretBytes,
}

/// A per-subject data key, unwrapped in memory only for the time it is used.
#[derive(Debug)]
pub struct DataKey(SecretBytes);

impl Keyring {
    pub fn new(master: &MasterKey) -> Self {
        Keyring {
            wrapping: master.derive("idv 2026-01 subject data-key wrapping"),
            blind_index: master.derive("idv 2026-01 blind index"),
            chain: master.derive("idv 2026-01 event log hash chain"),
            api_key_hash: master.derive("idv 2026-01 api key hashing"),
            responses: master.derive("idv 2026-01 idempotent response sealing"),
            capture_tokens: master.derive("idv 2026-01 capture token hashing"),
            url_signing: master.derive("idv 2026-01 document url signing"),
            webhook_secrets: master.derive("idv 2026-01 webhook endpoint secret sealing"),
            org_sessions: master.derive("idv 2026-01 dashboard session token hashing"),
        }
    }

    /// A fresh data key and its wrapped form (bound to the subject id).
    pub fn new_data_key(&self, subject_id: &str) -> (DataKey, Vec<u8>) {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let wrapped = seal_raw(&self.wrapping.0, &bytes, subject_id.as_bytes());
        let key = DataKey(SecretBytes(bytes));
        bytes.zeroize();
        (key, wrapped)
    }

    pub fn unwrap_data_key(&self, subject_id: &str, wrapped: &[u8]) -> Result<DataKey, CryptoError> {
        let mut plain = open_raw(&self.wrapping.0, wrapped, subject_id.as_bytes())?;
        let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| CryptoError::Malformed)?;
        plain.zeroize();
        Ok(DataKey(SecretBytes(bytes)))
    }

    pub fn chain_hash(&self, prev: &[u8], row: &[u8]) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.chain.0);
        hasher.update(&(prev.len() as u64).to_le_bytes());
        hasher.update(prev);
        hasher.update(row);
        *hasher.finalize().as_bytes()
    }

    pub fn api_key_digest(&self, secret: &str) -> [u8; 32] {
        *blake3::keyed_hash(&self.api_key_hash.0, secret.as_bytes()).as_bytes()
    }

    /// Keyed digest of one normalised value of one kind, in one environment.
    pub fn blind_digest(&self, environment: &str, kind: &str, normalised: &str) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.blind_index.0);
        for part in [environment, kind, normalised] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        *hasher.finalize().as_bytes()
    }

    /// The key an identity's row lists and lookups search by for a value: its blind digest's first
    /// `BLIND_INDEX_KEY_BYTES` bytes (see `blind_index_key`).
    pub fn blind_index_key(&self, environment: &str, kind: &str, normalised: &str) -> Vec<u8> {
        blind_index_key(&self.blind_digest(environment, kind, normalised)).to_vec()
    }

    /// Dashboard session tokens (and the CSRF tokens bound to them) are credentials: only keyed hashes
    /// of them exist, under a key of their own. `purpose` separates the two uses.
    pub fn org_session_digest(&self, purpose: &str, token: &str) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.org_sessions.0);
        hasher.update(&(purpose.len() as u64).to_le_bytes());
        hasher.update(purpose.as_bytes());
        hasher.update(token.as_bytes());
        *hasher.finalize().as_bytes()
    }

    /// Capture tokens are credentials: only this keyed hash is stored.
    pub fn capture_token_digest(&self, token: &str) -> String {
        hex::encode(blake3::keyed_hash(&self.capture_tokens.0, token.as_bytes()).as_bytes())
    }

    /// Signature of a short-lived document URL (spec §2.9).
    pub fn url_signature(&self, path: &str, expires: i64) -> String {
        let mut h = blake3::Hasher::new_keyed(&self.url_signing.0);
        h.update(path.as_bytes());
        h.update(b"\n");
        h.update(expires.to_string().as_bytes());
        hex::encode(&h.finalize().as_bytes()[..16])
    }

    pub fn seal_response(&self, scope: &str, body: &[u8]) -> Vec<u8> {
        seal_raw(&self.responses.0, body, scope.as_bytes())
    }

    pub fn open_response(&self, scope: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open_raw(&self.responses.0, sealed, scope.as_bytes())
    }

    /// Webhook signing secrets at rest (they must be usable again to sign, so they are sealed, not
    /// hashed), bound to their endpoint id.
    pub fn seal_webhook_secret(&self, endpoint_id: &str, secret: &str) -> Vec<u8> {
        seal_raw(&self.webhook_secrets.0, secret.as_bytes(), endpoint_id.as_bytes())
    }

    pub fn open_webhook_secret(
        &self,
        endpoint_id: &str,
        sealed: &[u8],
    ) -> Result<zeroize::Zeroizing<String>, CryptoError> {
        let plain = zeroize::Zeroizing::new(open_raw(&self.webhook_secrets.0, sealed, endpoint_id.as_bytes())?);
        let text = std::str::from_utf8(&plain).map_err(|_| CryptoError::Malformed)?;
        Ok(zeroize::Zeroizing::new(text.to_string()))
    }
}

impl DataKey {
    /// Seals one field value for one subject; the (subject, field) pair is authenticated.
    pub fn seal(&self, subject_id: &str, field: &str, value: &str) -> Vec<u8> {
        seal_raw(&self.0 .0, value.as_bytes(), &field_aad(subject_id, field))
    }

    pub fn open(&self, subject_id: &str, field: &str, sealed: &[u8]) -> Result<String, CryptoError> {
        let plain = open_raw(&self.0 .0, sealed, &field_aad(subject_id, field))?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed)
    }

    /// Seals an uploaded file (a document photo, a selfie, a liveness frame) of one subject as it is,
    /// bound to the subject, the file's kind and its blob id.
    pub fn seal_image(&self, subject_id: &str, kind: &str, blob_id: &str, bytes: &[u8]) -> Vec<u8> {
        bulk::seal(&self.0 .0, bytes, &field_aad(subject_id, &image_field(kind, blob_id)))
    }

    /// Opens a file `seal_image` sealed, or one sealed before it existed, when files were sealed as
    /// base64 text under the field `{kind}:{blob_id}`. The two are told apart by the authenticated field
    /// name, so a file is never taken for the other form; what opens as neither is an error.
    pub fn open_image(
        &self,
        subject_id: &str,
        kind: &str,
        blob_id: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        match bulk::open(&self.0 .0, sealed, &field_aad(subject_id, &image_field(kind, blob_id))) {
            Err(CryptoError::Open) => {
                let text = self.open(subject_id, &format!("{kind}:{blob_id}"), sealed)?;
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, text)
                    .map_err(|_| CryptoError::Malformed)
            }
            opened => opened,
        }
    }
}

/// The field an uploaded file is sealed under: a name of its own, apart from the `{kind}:{blob_id}` that
/// files sealed as base64 text were, which is what lets `open_image` read both.
fn image_field(kind: &str, blob_id: &str) -> String {
    format!("{kind}-bytes:{blob_id}")
}

fn field_aad(subject_id: &str, field: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(subject_id.len() + field.len() + 1);
    aad.extend_from_slice(subject_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(field.as_bytes());
    aad
}

fn seal_raw(key: &[u8; 32], plain: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.into());
    // ThreadRng is a ChaCha-based CSPRNG reseeded from the OS; it avoids a syscall per sealed field.
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn open_raw(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Malformed);
    }
    let cipher = XChaCha20Poly1305::new(key.into());
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad }).map_err(|_| CryptoError::Open)
}

/// How many bytes of a blind digest an identity's row lists (`identities.blind_keys`). 128 bits of a keyed
/// hash over environment, kind and value: two different (environment, kind, value) triples share a key with
/// odds near 2^-128 per pair, so a key alone picks the identities of one kind in one environment. Half the
/// digest halves what each row lists and what the lookup's in-memory copy holds (`store::blind_keys`).
pub const BLIND_INDEX_KEY_BYTES: usize = 16;

/// The part of a blind digest that an identity's row lists and lookups search by.
pub fn blind_index_key(digest: &[u8]) -> &[u8] {
    &digest[..BLIND_INDEX_KEY_BYTES.min(digest.len())]
}

/// Compares two secrets (tokens, signatures, digests in text) in time that does not depend on where they
/// first differ, so a caller cannot learn a valid value byte by byte from response times.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_eq_matches_only_identical_bytes() {
        assert!(super::constant_time_eq(b"tok_abc", b"tok_abc"));
        assert!(!super::constant_time_eq(b"tok_abc", b"tok_abd"));
        assert!(!super::constant_time_eq(b"tok_abc", b"tok_ab"));
        assert!(super::constant_time_eq(b"", b""));
    }

    use super::*;
    use proptest::prelude::*;

    fn keyring() -> Keyring {
        Keyring::new(&MasterKey::from_bytes([7u8; 32]))
    }

    proptest! {
        #[test]
        fn open_of_seal_is_identity_and_any_flipped_bit_fails(value in ".{0,64}", bit in 0usize..512) {
            let ring = keyring();
            let (key, _) = ring.new_data_key("idn_a");
            let sealed = key.seal("idn_a", "first_name", &value);
            prop_assert_eq!(key.open("idn_a", "first_name", &sealed).unwrap(), value);
            let mut flipped = sealed.clone();
            let index = (bit / 8) % flipped.len();
            flipped[index] ^= 1 << (bit % 8);
            prop_assert!(key.open("idn_a", "first_name", &flipped).is_err());
        }
    }

    #[test]
    fn a_value_moved_to_another_subject_or_field_does_not_open() {
        let ring = keyring();
        let (key, _) = ring.new_data_key("idn_a");
        let sealed = key.seal("idn_a", "ssn", "123-45-6789");
        assert!(key.open("idn_b", "ssn", &sealed).is_err());
        assert!(key.open("idn_a", "email", &sealed).is_err());
    }

    #[test]
    fn an_image_is_sealed_as_its_bytes_and_opens_only_as_the_file_it_was_sealed_as() {
        let ring = keyring();
        let (key, _) = ring.new_data_key("ses_a");
        let photo: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let sealed = key.seal_image("ses_a", "document", "blob_1", &photo);
        // The nonce and the tag around the bytes themselves, not around a base64 text a third longer.
        assert_eq!(sealed.len(), NONCE_LEN + photo.len() + 16);
        assert_eq!(key.open_image("ses_a", "document", "blob_1", &sealed).unwrap(), photo);
        assert!(key.open_image("ses_a", "document", "blob_2", &sealed).is_err());
        assert!(key.open_image("ses_a", "liveness", "blob_1", &sealed).is_err());
        assert!(key.open_image("ses_b", "document", "blob_1", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN + 10] ^= 1;
        assert!(matches!(key.open_image("ses_a", "document", "blob_1", &tampered), Err(CryptoError::Open)));
    }

    #[test]
    fn an_image_sealed_as_base64_text_before_still_opens() {
        let ring = keyring();
        let (key, _) = ring.new_data_key("ses_a");
        let photo = b"\x89PNG\r\n\x1a\n and the rest of an older upload".to_vec();
        let text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &photo);
        let sealed_before = key.seal("ses_a", "document:blob_1", &text);
        assert_eq!(key.open_image("ses_a", "document", "blob_1", &sealed_before).unwrap(), photo);
        assert!(key.open_image("ses_a", "document", "blob_2", &sealed_before).is_err());
        // A text field that is not base64 is refused, not returned as some bytes.
        let not_base64 = key.seal("ses_a", "document:blob_3", "not base64!");
        assert!(matches!(key.open_image("ses_a", "document", "blob_3", &not_base64), Err(CryptoError::Malformed)));
    }

    #[test]
    fn wrapped_keys_are_bound_to_their_subject() {
        let ring = keyring();
        let (key, wrapped) = ring.new_data_key("idn_a");
        let again = ring.unwrap_data_key("idn_a", &wrapped).unwrap();
        let sealed = key.seal("idn_a", "f", "v");
        assert_eq!(again.open("idn_a", "f", &sealed).unwrap(), "v");
        assert!(ring.unwrap_data_key("idn_b", &wrapped).is_err());
    }
}
