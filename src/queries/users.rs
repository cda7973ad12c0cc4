//! Org user reads: the admin view (email and name opened from their sealed form, never the password
//! hash), the login lookup by blind digest, the session lookup by token hash, and the decision state the
//! writer loads. Must not write, log what it opens, or serve the password hash.

use super::{OffsetPage, Page};
use crate::crypto::Keyring;
use crate::domain::ids::OrgUserId;
use crate::domain::user::{LoginSessionState, Role, UserState, UserStatus};
use crate::error::{AppError, AppResult};
use crate::store::subject_keys::data_key;
use crate::store::{ReadOnly, Reads};
use base64::Engine;
use rusqlite::OptionalExtension;
use serde::Serialize;
use utoipa::ToSchema;

/// An org user as the admin API answers it: no password hash, no TOTP secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgUserView {
    pub id: OrgUserId,
    #[schema(example = "org_user")]
    pub object: String,
    /// As given at creation (opened from its sealed form).
    #[schema(example = "reviewer@example.com")]
    pub email: String,
    /// The display name (opened from its sealed form).
    #[schema(example = "Rita Reviewer")]
    pub name: String,
    pub role: Role,
    pub status: UserStatus,
    /// Whether logins need a TOTP code.
    pub totp_enabled: bool,
    /// Set while the account is locked after repeated failed logins.
    pub locked_until: Option<String>,
    pub last_login_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, email_sealed, name_sealed, role, status, totp_sealed IS NOT NULL, locked_until, \
                       last_login_at, created_at, updated_at";

/// Opens one sealed (base64) field of a user.
pub fn open_field<C: Reads + ?Sized>(
    conn: &C,
    keyring: &Keyring,
    id: &str,
    field: &str,
    sealed: &str,
) -> AppResult<String> {
    let key =
        data_key(conn, keyring, id)?.ok_or_else(|| AppError::Internal(format!("org user {id} has no data key")))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| AppError::Internal("sealed user field is not base64".into()))?;
    Ok(key.open(id, field, &bytes)?)
}

fn render(conn: &ReadOnly, keyring: &Keyring, row: &rusqlite::Row<'_>) -> AppResult<OrgUserView> {
    let id: String = row.get(0)?;
    let email: String = row.get(1)?;
    let name: String = row.get(2)?;
    let role: String = row.get(3)?;
    let status: String = row.get(4)?;
    Ok(OrgUserView {
        email: open_field(conn, keyring, &id, "email", &email)?,
        name: open_field(conn, keyring, &id, "name", &name)?,
        id: OrgUserId::from_stored(id),
        object: "org_user".into(),
        role: Role::from_stored(&role)?,
        status: UserStatus::from_stored(&status)?,
        totp_enabled: row.get(5)?,
        locked_until: row.get(6)?,
        last_login_at: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
    })
}

pub fn list(conn: &ReadOnly, keyring: &Keyring, page: Page) -> AppResult<OffsetPage<OrgUserView>> {
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM org_users", [], |r| r.get(0))?;
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM org_users ORDER BY id DESC LIMIT ?1 OFFSET ?2"))?;
    let mut rows = stmt.query([page.limit, page.offset])?;
    let mut data = Vec::new();
    while let Some(row) = rows.next()? {
        data.push(render(conn, keyring, row)?);
    }
    Ok(OffsetPage::new(data, total, page))
}

pub fn get(conn: &ReadOnly, keyring: &Keyring, id: &str) -> AppResult<OrgUserView> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM org_users WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => render(conn, keyring, row),
        None => Err(AppError::not_found("User")),
    }
}

/// What a login checks, found by the blind digest of the email.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: String,
    pub password_hash: String,
    pub totp_sealed: Option<String>,
}

pub fn credentials_by_email(conn: &ReadOnly, digest: &[u8]) -> AppResult<Option<Credentials>> {
    Ok(conn
        .prepare_cached("SELECT id, password_hash, totp_sealed FROM org_users WHERE email_digest = ?1")?
        .query_row([digest], |r| Ok(Credentials { id: r.get(0)?, password_hash: r.get(1)?, totp_sealed: r.get(2)? }))
        .optional()?)
}

/// A dashboard session as the `Reviewer` extractor needs it.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub session_id: String,
    pub user_id: OrgUserId,
    pub role: Role,
    pub status: UserStatus,
    pub expires_at: String,
    pub ended: bool,
}

pub fn session_by_token_hash(conn: &ReadOnly, hash: &[u8]) -> AppResult<Option<SessionRecord>> {
    let row: Option<(String, String, String, String, String, bool)> = conn
        .prepare_cached(
            "SELECT s.session_id, s.user_id, u.role, u.status, s.expires_at, s.ended_at IS NOT NULL
             FROM org_user_sessions s JOIN org_users u ON u.id = s.user_id WHERE s.token_hash = ?1",
        )?
        .query_row([hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()?;
    row.map(|(session_id, user_id, role, status, expires_at, ended)| {
        Ok(SessionRecord {
            session_id,
            user_id: OrgUserId::from_stored(user_id),
            role: Role::from_stored(&role)?,
            status: UserStatus::from_stored(&status)?,
            expires_at,
            ended,
        })
    })
    .transpose()
}

/// The decision state of one user (the writer reads it on its own connection).
pub fn state<C: Reads + ?Sized>(conn: &C, id: &str) -> AppResult<Option<UserState>> {
    let row: Option<(String, String, i64, Option<String>, bool)> = conn
        .prepare_cached(
            "SELECT role, status, failed_logins, locked_until, totp_sealed IS NOT NULL FROM org_users WHERE id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    row.map(|(role, status, failed_logins, locked_until, totp_enrolled)| {
        Ok(UserState {
            id: id.to_string(),
            role: Role::from_stored(&role)?,
            status: UserStatus::from_stored(&status)?,
            failed_logins,
            locked_until,
            totp_enrolled,
        })
    })
    .transpose()
}

/// One login session of a user, found by its token hash (the writer reads it on its own connection).
pub fn login_session<C: Reads + ?Sized>(conn: &C, hash: &[u8]) -> AppResult<Option<(String, LoginSessionState)>> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id, session_id, expires_at, ended_at IS NOT NULL FROM org_user_sessions WHERE token_hash = ?1",
        )?
        .query_row([hash], |r| {
            Ok((r.get(0)?, LoginSessionState { session_id: r.get(1)?, expires_at: r.get(2)?, ended: r.get(3)? }))
        })
        .optional()?)
}

/// True when another user already has this email (by its blind digest).
pub fn email_taken<C: Reads + ?Sized>(conn: &C, digest: &[u8]) -> AppResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM org_users WHERE email_digest = ?1")?
        .query_row([digest], |_| Ok(()))
        .optional()?
        .is_some())
}
