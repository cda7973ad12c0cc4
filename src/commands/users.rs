//! Org user commands: create (the password hashed with argon2id here, email and name sealed under the
//! user's own data key, the email's blind digest sealed beside them), update, disable, TOTP enrolment,
//! and the dashboard login-session lifecycle (login with lockout, refresh, logout). Passwords are
//! verified off the writer thread; the writer only decides and appends. Must not render responses or log
//! a password, token, code or secret.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::crypto::{blind, Keyring};
use crate::domain::ids::{self, OrgUserId};
use crate::domain::user::{self as dom, CredentialCheck, Role, UserCommand, UserEvent};
use crate::domain::values::{Email, PersonName};
use crate::error::{AppError, AppResult};
use crate::queries::users as q;
use crate::store::events::{stream_version, NewEvent};
use crate::store::ReadPool;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use rusqlite::params;
use std::sync::{Arc, OnceLock};
use zeroize::Zeroizing;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const PASSWORD_MIN: usize = 12;
pub const PASSWORD_MAX: usize = 256;

/// Argon2id with the crate's default parameters (19 MiB, 2 passes, 1 lane): the OWASP Password Storage
/// Cheat Sheet's first recommended configuration, costing tens of milliseconds per login here.
fn argon2() -> argon2::Argon2<'static> {
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, argon2::Params::default())
}

pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, verified when the email names no user so that an unknown email costs
/// the same time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password(&generate_password()).unwrap_or_default())
}

pub fn check_password(field: &str, password: &str) -> AppResult<()> {
    let n = password.chars().count();
    if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&n) {
        return Err(AppError::validation(field, format!("must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")));
    }
    Ok(())
}

/// 20 characters from a 62-letter alphabet (about 119 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// RFC 4648 base32 without padding (how authenticator apps take a TOTP secret).
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buffer >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').chars() {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buffer >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Some(out)
}

pub const TOTP_STEP: i64 = 30;

/// RFC 6238 TOTP (HMAC-SHA1, 6 digits) for time step `counter`.
pub fn totp_code(secret: &[u8], counter: u64) -> u32 {
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(secret) else { return u32::MAX };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = (digest[19] & 0x0f) as usize;
    let value = u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    value % 1_000_000
}

/// Accepts the code of the current step or of one step either side (clock drift).
pub fn totp_matches(secret: &[u8], unix: i64, code: &str) -> bool {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(given) = code.parse::<u32>() else { return false };
    let step = unix.div_euclid(TOTP_STEP);
    (step - 1..=step + 1).filter(|s| *s >= 0).any(|s| totp_code(secret, s as u64) == given)
}

fn email_digest(keyring: &Keyring, email: &str) -> [u8; 32] {
    // Org users are not per environment: one lookup space for the whole organisation.
    keyring.blind_digest("org", "org_user_email", &blind::email(email))
}

fn emit(w: &mut WriteCtx<'_>, meta: &CommandMeta, id: &str, version: i64, events: Vec<UserEvent>) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let new =
        events.iter().map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() });
    w.emit(&meta.event_meta(), id, version, new.collect())?;
    Ok(())
}

fn require(w: &WriteCtx<'_>, id: &str) -> AppResult<(dom::UserState, i64)> {
    let state = q::state(w.conn, id)?.ok_or_else(|| AppError::not_found("User"))?;
    Ok((state, stream_version(w.conn, id)?))
}

/// A new org user. Without a password one is generated and returned once.
#[derive(Debug, Clone)]
pub struct CreateUser {
    pub email: Email,
    pub name: PersonName,
    pub role: Role,
    pub password: Option<Zeroizing<String>>,
}

#[derive(Debug)]
pub struct NewUser {
    pub id: OrgUserId,
    /// Set only when the password was generated here.
    pub generated_password: Option<Zeroizing<String>>,
}

pub async fn create(
    writer: &Writer,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    input: CreateUser,
) -> AppResult<NewUser> {
    let generated = match &input.password {
        Some(p) => {
            check_password("password", p)?;
            None
        }
        None => Some(Zeroizing::new(generate_password())),
    };
    let password = input.password.clone().or_else(|| generated.clone()).unwrap_or_default();
    // Hashing is deliberately slow: off the writer thread and off the async workers.
    let password_hash = crate::blocking::run(move || hash_password(&password)).await?;
    let id = OrgUserId::new();
    let (key, wrapped) = keyring.new_data_key(id.as_str());
    let digest = email_digest(&keyring, input.email.as_str());
    let created = dom::Created {
        role: input.role.as_str().to_string(),
        email: B64.encode(key.seal(id.as_str(), "email", input.email.as_str())),
        name: B64.encode(key.seal(id.as_str(), "name", input.name.as_str())),
        email_index: B64.encode(key.seal(id.as_str(), "email_index", &hex::encode(digest))),
        password_hash,
    };
    drop(key);
    writer
        .execute(move |w| {
            if q::email_taken(w.conn, &digest)? {
                return Err(AppError::Conflict("A user with this email already exists.".into()));
            }
            w.conn
                .prepare_cached("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)")?
                .execute(params![id.as_str(), wrapped])?;
            let events = dom::decide(None, UserCommand::Create(Box::new(created)), &meta.ctx())?;
            emit(w, &meta, id.as_str(), 0, events)?;
            Ok(NewUser { id, generated_password: generated })
        })
        .await
}

pub async fn update(
    writer: &Writer,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    id: OrgUserId,
    role: Option<Role>,
    name: Option<PersonName>,
) -> AppResult<OrgUserId> {
    writer
        .execute(move |w| {
            let (state, version) = require(w, id.as_str())?;
            let name = match name {
                Some(n) => {
                    let key = crate::store::subject_keys::data_key(w.conn, &keyring, id.as_str())?
                        .ok_or_else(|| AppError::Internal("org user has no data key".into()))?;
                    Some(B64.encode(key.seal(id.as_str(), "name", n.as_str())))
                }
                None => None,
            };
            let update = dom::Updated { role: role.map(|r| r.as_str().to_string()), name };
            let events = dom::decide(Some(&state), UserCommand::Update(update), &meta.ctx())?;
            emit(w, &meta, id.as_str(), version, events)?;
            Ok(id)
        })
        .await
}

/// Disables a user: it can no longer log in and its open sessions end.
pub async fn disable(writer: &Writer, meta: CommandMeta, id: OrgUserId) -> AppResult<OrgUserId> {
    writer
        .execute(move |w| {
            let (state, version) = require(w, id.as_str())?;
            let events = dom::decide(Some(&state), UserCommand::Disable, &meta.ctx())?;
            emit(w, &meta, id.as_str(), version, events)?;
            Ok(id)
        })
        .await
}

/// Enrols TOTP: a fresh 160-bit secret, sealed; returned (base32) this once for the otpauth URI.
pub async fn enrol_totp(
    writer: &Writer,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    id: OrgUserId,
) -> AppResult<Zeroizing<String>> {
    let mut secret = Zeroizing::new([0u8; 20]);
    rand::rngs::OsRng.fill_bytes(secret.as_mut());
    let encoded = Zeroizing::new(base32(secret.as_ref()));
    let to_seal = encoded.clone();
    writer
        .execute(move |w| {
            let (state, version) = require(w, id.as_str())?;
            let key = crate::store::subject_keys::data_key(w.conn, &keyring, id.as_str())?
                .ok_or_else(|| AppError::Internal("org user has no data key".into()))?;
            let sealed = B64.encode(key.seal(id.as_str(), "totp_secret", &to_seal));
            let events =
                dom::decide(Some(&state), UserCommand::EnrolTotp(dom::TotpEnrolled { secret: sealed }), &meta.ctx())?;
            emit(w, &meta, id.as_str(), version, events)?;
            Ok(())
        })
        .await?;
    Ok(encoded)
}

/// A new dashboard session: the token goes into the cookie and exists nowhere else.
#[derive(Debug)]
pub struct LoginSession {
    pub user_id: OrgUserId,
    pub token: Zeroizing<String>,
    pub expires_at: String,
}

/// What a login form sent.
pub struct LoginAttempt {
    pub email: String,
    pub password: Zeroizing<String>,
    pub totp: Option<String>,
}

/// Tries a login. `Ok(None)` is a refusal (unknown email, wrong password or code, locked, disabled), all
/// alike to the caller; a failure against a known account is recorded (it counts towards the lockout).
pub async fn login(
    writer: &Writer,
    read: &ReadPool,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    attempt: LoginAttempt,
) -> AppResult<Option<LoginSession>> {
    let digest = email_digest(&keyring, attempt.email.trim());
    let ring = keyring.clone();
    let found = read
        .run(move |c| {
            let Some(creds) = q::credentials_by_email(c, &digest)? else { return Ok(None) };
            let totp = match &creds.totp_sealed {
                Some(sealed) => Some(Zeroizing::new(q::open_field(c, &ring, &creds.id, "totp_secret", sealed)?)),
                None => None,
            };
            Ok(Some((creds.id, creds.password_hash, totp)))
        })
        .await?;
    let unix = crate::clock::parse(&meta.now).map(|t| t.unix_timestamp()).unwrap_or_default();
    let (user, check) = crate::blocking::run(move || {
        let hash = found.as_ref().map(|f| f.1.as_str()).unwrap_or_else(|| decoy_hash());
        let password_ok = verify_password(hash, &attempt.password);
        let totp_ok = match (found.as_ref().and_then(|f| f.2.as_ref()), attempt.totp.as_deref()) {
            (Some(secret), Some(code)) if !code.trim().is_empty() => {
                Some(base32_decode(secret).is_some_and(|s| totp_matches(&s, unix, code)))
            }
            _ => None,
        };
        Ok((found.map(|f| f.0), CredentialCheck { password_ok, totp_ok }))
    })
    .await?;
    let Some(user_id) = user else { return Ok(None) };
    let token = Zeroizing::new(B64URL.encode({
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        bytes
    }));
    let token_hash = hex::encode(keyring.org_session_digest("session", &token));
    let session_id = ids::new_id(ids::LOGIN_SESSION);
    let meta = CommandMeta { actor: user_id.clone(), ..meta };
    let expires = writer
        .execute(move |w| {
            let (state, version) = require(w, &user_id)?;
            let decision = dom::decide_login(&state, check, session_id, token_hash, &meta.ctx())?;
            let expires_at = decision.events.iter().find_map(|e| match e {
                UserEvent::LoggedIn(l) => Some(l.expires_at.clone()),
                _ => None,
            });
            emit(w, &meta, &user_id, version, decision.events)?;
            Ok(decision.refused.is_none().then(|| (user_id, expires_at.unwrap_or_default())))
        })
        .await?;
    Ok(expires.map(|(user_id, expires_at)| LoginSession {
        user_id: OrgUserId::from_stored(user_id),
        token,
        expires_at,
    }))
}

/// The keyed hash under which a session token is stored.
pub fn token_hash(keyring: &Keyring, token: &str) -> [u8; 32] {
    keyring.org_session_digest("session", token)
}

/// The CSRF token bound to a session token (synchroniser token, derived, so nothing more is stored).
/// Whether a presented token (a CSRF token from a form or header) equals the expected one, in constant
/// time. An empty expectation never matches.
pub fn tokens_match(expected: &str, given: &str) -> bool {
    !expected.is_empty() && crate::crypto::constant_time_eq(expected.as_bytes(), given.as_bytes())
}

/// A fresh random token for the login form's double-submit CSRF check (there is no session yet).
pub fn new_login_csrf_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn csrf_token(keyring: &Keyring, session_token: &str) -> String {
    hex::encode(&keyring.org_session_digest("csrf", session_token)[..16])
}

async fn session_command(
    writer: &Writer,
    keyring: &Keyring,
    meta: CommandMeta,
    token: &str,
    make: fn(dom::LoginSessionState) -> UserCommand,
) -> AppResult<Option<String>> {
    let hash = token_hash(keyring, token);
    writer
        .execute(move |w| {
            let Some((user_id, session)) = q::login_session(w.conn, &hash)? else {
                return Err(AppError::Unauthorized("Not logged in.".into()));
            };
            let (state, version) = require(w, &user_id)?;
            let meta = CommandMeta { actor: user_id.clone(), ..meta };
            let events = dom::decide(Some(&state), make(session), &meta.ctx())?;
            let expires_at = events.iter().find_map(|e| match e {
                UserEvent::SessionRefreshed(r) => Some(r.expires_at.clone()),
                _ => None,
            });
            emit(w, &meta, &user_id, version, events)?;
            Ok(expires_at)
        })
        .await
}

/// Extends a live session by the full lifetime; its new expiry.
pub async fn refresh(writer: &Writer, keyring: &Keyring, meta: CommandMeta, token: &str) -> AppResult<String> {
    session_command(writer, keyring, meta, token, UserCommand::Refresh)
        .await?
        .ok_or_else(|| AppError::Internal("refresh appended no event".into()))
}

/// Ends a session (an unknown token is already logged out).
pub async fn logout(writer: &Writer, keyring: &Keyring, meta: CommandMeta, token: &str) -> AppResult<()> {
    match session_command(writer, keyring, meta, token, UserCommand::Logout).await {
        Ok(_) | Err(AppError::Unauthorized(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_matches_the_rfc_6238_sha1_vectors() {
        // RFC 6238 appendix B, SHA-1 seed, truncated to 6 digits.
        let secret = b"12345678901234567890";
        assert_eq!(totp_code(secret, 59 / 30), 287082);
        assert_eq!(totp_code(secret, 1111111109 / 30), 81804);
        assert_eq!(totp_code(secret, 1234567890 / 30), 5924);
        assert!(totp_matches(secret, 1234567890, "005924"));
        assert!(totp_matches(secret, 1234567890 + 30, "005924"));
        assert!(!totp_matches(secret, 1234567890 + 90, "005924"));
        assert!(!totp_matches(secret, 1234567890, "5924"));
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(base32_decode(&base32(&bytes)).unwrap(), bytes);
    }

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery!"));
        assert!(!verify_password("not a hash", "x"));
        assert!(check_password("p", "short").is_err());
    }
}
