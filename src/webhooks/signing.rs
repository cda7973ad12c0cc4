//! Webhook signatures (spec §1.11.3): endpoint secrets (`whsec_<base64>`), the Verifa scheme
//! (`X-Verifa-Signature: t=<unix>,v1=<hex>`), the Standard Webhooks scheme (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64>`), the full header set of one delivery
//! attempt, and verification of both schemes for tests and receivers' docs.
//! Must not read the clock (times come in as arguments), touch the network or storage, or log,
//! serialise or `Debug`-print secret material.
//!
//! Keys. Standard Webhooks HMACs with the base64-*decoded* bytes after `whsec_` (that is what every
//! off-the-shelf verifier does). The Verifa scheme HMACs with the *whole secret string*
//! `whsec_...` as UTF-8 bytes, because spec §1.11.3 says so ("key = whsec secret string") and
//! receivers written against Verifa's docs do exactly that. The same secret therefore feeds two
//! different HMAC keys; neither signature can be turned into the other.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a freshly generated secret (256 bits; encodes to 44 base64 characters).
pub const GENERATED_SECRET_BYTES: usize = 32;
/// Shortest and longest decoded secret accepted by [`WebhookSecret::parse`] (Standard Webhooks
/// recommends 24 to 64 bytes).
pub const MIN_SECRET_BYTES: usize = 24;
pub const MAX_SECRET_BYTES: usize = 64;
/// Replay window both schemes use by default: a signature more than 300 s from the receiver's
/// clock, in either direction, is rejected (spec §1.11.3; the Standard Webhooks libraries agree).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

pub const HEADER_VERIFA_SIGNATURE: &str = "X-Verifa-Signature";
pub const HEADER_VERIFA_DELIVERY_ID: &str = "X-Verifa-Delivery-Id";
pub const HEADER_WEBHOOK_ID: &str = "webhook-id";
pub const HEADER_WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_WEBHOOK_SIGNATURE: &str = "webhook-signature";
pub const HEADER_CONTENT_TYPE: &str = "Content-Type";
pub const HEADER_USER_AGENT: &str = "User-Agent";

/// `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("idv-webhooks/", env!("CARGO_PKG_VERSION"));

// Standard alphabet, canonical (padded) on output. On input, padding is optional and non-zero
// trailing bits are ignored, as Python's `base64.b64decode` (the reference library) does, so any
// secret it accepts decodes to the same key here.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("webhook secret is empty")]
    Empty,
    #[error("webhook secret must be base64 after the \"whsec_\" prefix")]
    NotBase64,
    #[error("webhook secret must decode to {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes (got {0})")]
    BadLength(usize),
}

/// An endpoint's signing secret. Not `Clone`/`Serialize`; `Debug` is redacted; zeroed on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct WebhookSecret {
    /// Canonical text, always with the `whsec_` prefix: the Verifa HMAC key.
    text: String,
    /// Decoded bytes after the prefix: the Standard Webhooks HMAC key.
    key: Vec<u8>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// A fresh secret of [`GENERATED_SECRET_BYTES`] random bytes from the OS.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; GENERATED_SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let text = format!("{SECRET_PREFIX}{}", B64_LENIENT.encode(&bytes));
        WebhookSecret { text, key: bytes }
    }

    /// Parses `whsec_<base64>`. Like the Standard Webhooks libraries, the prefix and the base64
    /// padding are optional on input; the stored text is canonicalised to carry the prefix, so the
    /// Verifa key is the same whichever spelling was given. The base64 part is kept as written.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let body = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        if body.is_empty() {
            return Err(SecretError::Empty);
        }
        let key = B64_LENIENT.decode(body).map_err(|_| SecretError::NotBase64)?;
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(SecretError::BadLength(key.len()));
        }
        Ok(WebhookSecret { text: format!("{SECRET_PREFIX}{body}"), key })
    }

    /// The secret text (`whsec_...`), for sealing into storage and for the create/rotate response.
    pub fn expose(&self) -> &str {
        &self.text
    }

    fn verifa_mac(&self) -> HmacSha256 {
        mac_with(self.text.as_bytes())
    }

    fn standard_mac(&self) -> HmacSha256 {
        mac_with(&self.key)
    }
}

fn mac_with(key: &[u8]) -> HmacSha256 {
    // Not input-dependent: HMAC takes keys of any length, `new_from_slice` only fails for
    // fixed-size-key MACs. A panic beats any fallback key.
    HmacSha256::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length")
}

fn verifa_tag(secret: &WebhookSecret, t: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = secret.verifa_mac();
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn standard_tag(secret: &WebhookSecret, msg_id: &str, t: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = secret.standard_mac();
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// `X-Verifa-Signature` value: `t=<t>,v1=<hex HMAC-SHA256(key = "whsec_..." text, "<t>.<body>")>`.
pub fn sign_verifa(secret: &WebhookSecret, t: i64, body: &[u8]) -> String {
    let tag = verifa_tag(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(tag))
}

/// `webhook-signature` value: `v1,<base64 HMAC-SHA256(key = decoded secret, "<id>.<t>.<body>")>`.
pub fn sign_standard(secret: &WebhookSecret, msg_id: &str, t: i64, body: &[u8]) -> String {
    let tag = standard_tag(secret, msg_id, t, body).finalize().into_bytes();
    format!("v1,{}", B64_LENIENT.encode(tag))
}

/// Every header of one delivery attempt, in sending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders(Vec<(&'static str, String)>);

impl WebhookHeaders {
    /// Signs `body` for one attempt at time `t`. `delivery_id` is the delivery's id: it is the
    /// same on every retry of that delivery (Standard Webhooks says `webhook-id` stays the same on
    /// resends, so receivers can dedupe), while `t` and both signatures are fresh per attempt so a
    /// retry two hours later still passes the receiver's 300 s window.
    pub fn build(secret: &WebhookSecret, delivery_id: &str, t: i64, body: &[u8]) -> Self {
        WebhookHeaders(vec![
            (HEADER_CONTENT_TYPE, "application/json".to_string()),
            (HEADER_USER_AGENT, USER_AGENT.to_string()),
            (HEADER_VERIFA_DELIVERY_ID, delivery_id.to_string()),
            (HEADER_VERIFA_SIGNATURE, sign_verifa(secret, t, body)),
            (HEADER_WEBHOOK_ID, delivery_id.to_string()),
            (HEADER_WEBHOOK_TIMESTAMP, t.to_string()),
            (HEADER_WEBHOOK_SIGNATURE, sign_standard(secret, delivery_id, t, body)),
        ])
    }

    /// Headers made by another dialect's signer (see `webhooks::verifyhq`).
    pub fn from_pairs(pairs: Vec<(&'static str, String)>) -> Self {
        WebhookHeaders(pairs)
    }

    /// The value of `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// The three Standard Webhooks headers, ready for [`verify_standard`].
    pub fn standard(&self) -> StandardHeaders<'_> {
        StandardHeaders::from_lookup(|name| self.get(name))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed signature header")]
    MalformedHeader,
    #[error("timestamp is not a unix time in whole seconds")]
    BadTimestamp,
    #[error("timestamp is too old (more than the tolerance before now)")]
    TooOld,
    #[error("timestamp is too new (more than the tolerance after now)")]
    TooNew,
    #[error("no matching signature")]
    NoMatch,
}

/// Whole seconds, digits only: rejects "", "-1", "+1", "1.0" and anything that overflows.
fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    text.parse::<i64>().map_err(|_| VerifyError::BadTimestamp)
}

fn check_window(t: i64, now: i64, tolerance_secs: i64) -> Result<(), VerifyError> {
    if now.saturating_sub(t) > tolerance_secs {
        return Err(VerifyError::TooOld);
    }
    if t.saturating_sub(now) > tolerance_secs {
        return Err(VerifyError::TooNew);
    }
    Ok(())
}

/// Verifies an `X-Verifa-Signature` value (`t=<unix>,v1=<hex>[,v1=<hex>...]`; unknown keys are
/// ignored, any matching `v1` passes) against the raw body, in constant time, and rejects `t`
/// more than `tolerance_secs` from `now`.
pub fn verify_verifa(
    secret: &WebhookSecret,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(VerifyError::MalformedHeader)?;
        match key.trim() {
            "t" => t = Some(parse_timestamp(value)?),
            "v1" => candidates.push(value.trim()),
            _ => {}
        }
    }
    let t = t.ok_or(VerifyError::MalformedHeader)?;
    if candidates.is_empty() {
        return Err(VerifyError::MalformedHeader);
    }
    check_window(t, now, tolerance_secs)?;
    let expected = verifa_tag(secret, t, body);
    let matched =
        candidates.iter().filter_map(|c| hex::decode(c).ok()).any(|tag| expected.clone().verify_slice(&tag).is_ok());
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// Deprecated legacy form (spec §1.11.3): `X-Verifa-Signature: <hex HMAC-SHA256(body)>` with no
/// timestamp. idv never sends it; it is here for receivers migrating old code. It offers no replay
/// protection, so prefer [`verify_verifa`].
pub fn verify_verifa_legacy(secret: &WebhookSecret, header: &str, body: &[u8]) -> Result<(), VerifyError> {
    let tag = hex::decode(header.trim()).map_err(|_| VerifyError::MalformedHeader)?;
    let mut mac = secret.verifa_mac();
    mac.update(body);
    mac.verify_slice(&tag).map_err(|_| VerifyError::NoMatch)
}

/// The three Standard Webhooks headers of a received request (`None` when absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StandardHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

impl<'a> StandardHeaders<'a> {
    /// Builds from any header lookup; pass a case-insensitive one (HTTP header names are).
    pub fn from_lookup(get: impl Fn(&str) -> Option<&'a str>) -> Self {
        StandardHeaders {
            id: get(HEADER_WEBHOOK_ID),
            timestamp: get(HEADER_WEBHOOK_TIMESTAMP),
            signature: get(HEADER_WEBHOOK_SIGNATURE),
        }
    }
}

/// Verifies Standard Webhooks headers against the raw body, as the reference libraries do: all
/// three headers present and non-empty, an integer timestamp within `tolerance_secs` of `now`, and
/// at least one `v1,<base64>` entry of the space-separated signature list matching (other
/// versions are ignored); comparison is constant time.
pub fn verify_standard(
    secret: &WebhookSecret,
    headers: StandardHeaders<'_>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let id = headers.id.filter(|v| !v.is_empty()).ok_or(VerifyError::MissingHeader(HEADER_WEBHOOK_ID))?;
    let ts = headers.timestamp.filter(|v| !v.is_empty()).ok_or(VerifyError::MissingHeader(HEADER_WEBHOOK_TIMESTAMP))?;
    let sigs =
        headers.signature.filter(|v| !v.is_empty()).ok_or(VerifyError::MissingHeader(HEADER_WEBHOOK_SIGNATURE))?;
    let t = parse_timestamp(ts)?;
    check_window(t, now, tolerance_secs)?;
    let expected = standard_tag(secret, id, t, body);
    let matched = sigs
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| B64_LENIENT.decode(sig).ok())
        .any(|tag| expected.clone().verify_slice(&tag).is_ok());
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SECRET_A).expect("vector secret parses")
    }

    #[test]
    fn generated_secrets_parse_back_to_the_same_keys() {
        let s = WebhookSecret::generate();
        assert!(s.expose().starts_with(SECRET_PREFIX));
        let again = WebhookSecret::parse(s.expose()).expect("parses");
        assert_eq!(again.expose(), s.expose());
        assert_eq!(again.key, s.key);
        assert_eq!(s.key.len(), GENERATED_SECRET_BYTES);
        assert_ne!(WebhookSecret::generate().expose(), s.expose());
    }

    #[test]
    fn bad_secrets_are_refused_with_a_reason() {
        assert_eq!(WebhookSecret::parse("").unwrap_err(), SecretError::Empty);
        assert_eq!(WebhookSecret::parse("whsec_").unwrap_err(), SecretError::Empty);
        assert_eq!(WebhookSecret::parse("whsec_not base64!").unwrap_err(), SecretError::NotBase64);
        assert_eq!(WebhookSecret::parse("whsec_AAAA").unwrap_err(), SecretError::BadLength(3));
    }

    #[test]
    fn prefix_is_optional_and_canonicalised() {
        let bare = WebhookSecret::parse(&SECRET_A[SECRET_PREFIX.len()..]).expect("parses");
        assert_eq!(bare.expose(), SECRET_A);
        assert_eq!(sign_verifa(&bare, 1, b"x"), sign_verifa(&secret(), 1, b"x"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = secret();
        assert_eq!(format!("{s:?}"), "WebhookSecret(<redacted>)");
    }

    #[test]
    fn verifa_uses_the_whole_secret_string_as_key() {
        let mut mac = HmacSha256::new_from_slice(SECRET_A.as_bytes()).expect("key");
        mac.update(b"1700000000.{}");
        let want = format!("t=1700000000,v1={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(sign_verifa(&secret(), 1_700_000_000, b"{}"), want);
    }

    #[test]
    fn windows_are_inclusive_at_the_tolerance() {
        assert_eq!(check_window(1000, 1300, 300), Ok(()));
        assert_eq!(check_window(1000, 1301, 300), Err(VerifyError::TooOld));
        assert_eq!(check_window(1301, 1000, 300), Err(VerifyError::TooNew));
        assert_eq!(parse_timestamp("-1"), Err(VerifyError::BadTimestamp));
        assert_eq!(parse_timestamp("1.0"), Err(VerifyError::BadTimestamp));
        assert_eq!(parse_timestamp("+1"), Err(VerifyError::BadTimestamp));
        assert_eq!(parse_timestamp("99999999999999999999999"), Err(VerifyError::BadTimestamp));
    }
}
