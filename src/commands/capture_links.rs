//! Capture credentials: the token a capture URL carries, one-time links (active, consumed and bound to
//! the browser that consumed them, revoked or expired) and resolving a token to its session. Consuming a
//! link is the one write here. Must not render responses or run capture steps.

use super::sessions::{emit, load_state, new_token, SessionState};
use super::writer::Writer;
use super::CommandMeta;
use crate::crypto::Keyring;
use crate::domain::session::{LinkConsumed, SessionEvent};
use crate::error::{AppError, AppResult};
use crate::store::Reads;
use rusqlite::OptionalExtension;

/// What the capture path presents: the token from the URL and, when the browser has one, the capture
/// cookie that binds a consumed one-time link to the browser that consumed it.
#[derive(Debug, Clone)]
pub struct CaptureToken {
    pub token: String,
    pub browser: Option<String>,
}

impl CaptureToken {
    pub fn new(token: impl Into<String>, browser: Option<String>) -> Self {
        CaptureToken { token: token.into(), browser }
    }
}

/// How a token stands with respect to one-time links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAccess {
    /// The token is not a one-time link (the session's own token, or no token at all).
    NotALink,
    /// An active link nobody has acted on yet: opening it is fine, the first action consumes it.
    Unused { link_id: String },
    /// A consumed link, presented by the browser that consumed it.
    Bound { link_id: String },
}

pub const LINK_GONE: &str = "This link was already used or has been revoked.";

fn gone_link() -> AppError {
    AppError::Gone(LINK_GONE.into())
}

/// Looks the token up among one-time links. A revoked, expired or consumed link (unless the browser
/// presents the cookie it was given when it consumed the link) is 410 Gone.
pub fn link_access<C: Reads + ?Sized>(
    conn: &C,
    keyring: &Keyring,
    cred: &CaptureToken,
    now: &str,
) -> AppResult<LinkAccess> {
    if !cred.token.starts_with("tok_") || cred.token.len() > 100 {
        return Ok(LinkAccess::NotALink);
    }
    let digest = keyring.capture_token_digest(&cred.token);
    let row: Option<(String, String, String, Option<String>)> = conn
        .prepare_cached("SELECT id, status, expires_at, browser_hash FROM capture_links WHERE token_hash = ?1")?
        .query_row([&digest], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((link_id, status, expires_at, browser_hash)) = row else { return Ok(LinkAccess::NotALink) };
    if expires_at.as_str() <= now {
        return Err(gone_link());
    }
    match status.as_str() {
        "active" => Ok(LinkAccess::Unused { link_id }),
        "consumed" => {
            let presented = cred.browser.as_deref().filter(|b| b.starts_with("cb_") && b.len() <= 100);
            match (presented, browser_hash) {
                (Some(b), Some(bound))
                    if crate::crypto::constant_time_eq(
                        keyring.capture_token_digest(b).as_bytes(),
                        bound.as_bytes(),
                    ) =>
                {
                    Ok(LinkAccess::Bound { link_id })
                }
                _ => Err(gone_link()),
            }
        }
        _ => Err(gone_link()),
    }
}

/// A new capture-cookie secret, given to the browser that consumes a one-time link.
fn new_browser_secret() -> String {
    new_token().replacen("tok_", "cb_", 1)
}

/// The person's first action through a one-time link consumes it and binds it to their browser.
/// Returns the capture-cookie secret to hand to that browser, or None when there was nothing to consume
/// (not a link, or already bound to this browser). Refuses (410) a link that is gone.
pub async fn consume_link(writer: &Writer, meta: CommandMeta, cred: CaptureToken) -> AppResult<Option<String>> {
    writer
        .execute(move |w| {
            let LinkAccess::Unused { link_id } = link_access(w.conn, w.keyring, &cred, &meta.now)? else {
                return Ok(None);
            };
            let s = session_for_token(w.conn, w.keyring, &cred, &meta.now)?;
            let secret = new_browser_secret();
            let browser_hash = w.keyring.capture_token_digest(&secret);
            emit(w, &meta, &s, vec![SessionEvent::LinkConsumed(LinkConsumed { link_id, browser_hash })])?;
            Ok(Some(secret))
        })
        .await
}

/// Resolves a capture token to its session: it must exist and not be past its expiry, and a one-time
/// link must still be usable by this browser (see `link_access`).
pub fn session_for_token<C: Reads + ?Sized>(
    conn: &C,
    keyring: &Keyring,
    cred: &CaptureToken,
    now: &str,
) -> AppResult<SessionState> {
    let gone = || AppError::NotFound("This verification link is invalid or has expired.".into());
    link_access(conn, keyring, cred, now)?;
    let token = cred.token.as_str();
    if !token.starts_with("tok_") || token.len() > 100 {
        return Err(gone());
    }
    let digest = keyring.capture_token_digest(token);
    let id: Option<String> = conn
        .prepare_cached("SELECT id FROM sessions WHERE token_hash = ?1")?
        .query_row([&digest], |r| r.get(0))
        .optional()?;
    let s = load_state(conn, None, &id.ok_or_else(gone)?)?.ok_or_else(gone)?;
    if s.redacted() || s.token_expires_at.as_deref().is_none_or(|e| e <= now) {
        return Err(gone());
    }
    Ok(s)
}
