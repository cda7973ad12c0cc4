//! Projects org user events into `org_users` and `org_user_sessions`: sealed email and name as they
//! arrive, the login lookup digest opened from its sealed form, the lockout counters and the login
//! sessions (token hashes only). Must not write any other table.

use crate::crypto::Keyring;
use crate::domain::user::UserEvent;
use crate::error::{AppError, AppResult};
use crate::store::events::StoredEvent;
use crate::store::subject_keys::data_key;
use crate::store::Exec;
use base64::Engine;
use rusqlite::{params, Connection};

pub fn apply(conn: &Connection, keyring: &Keyring, event: &StoredEvent) -> AppResult<()> {
    let Some(decoded) = UserEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?
    else {
        return Ok(());
    };
    let id = event.stream_id.as_str();
    let at = &event.recorded_at;
    match decoded {
        UserEvent::Created(e) => {
            let key = data_key(conn, keyring, id)?
                .ok_or_else(|| AppError::Internal(format!("org user {id} has no data key")))?;
            let sealed = base64::engine::general_purpose::STANDARD
                .decode(&e.email_index)
                .map_err(|_| AppError::Internal("sealed email index is not base64".into()))?;
            let digest = hex::decode(key.open(id, "email_index", &sealed)?)
                .map_err(|_| AppError::Internal("email index is not hex".into()))?;
            conn.exec(
                "INSERT INTO org_users (id, email_digest, email_sealed, name_sealed, role, status, password_hash,
                    totp_sealed, failed_logins, locked_until, last_login_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, NULL, 0, NULL, NULL, ?7, ?7)",
                params![id, digest, e.email, e.name, e.role, e.password_hash, at],
            )?;
        }
        UserEvent::Updated(e) => {
            if let Some(role) = &e.role {
                conn.exec("UPDATE org_users SET role = ?1 WHERE id = ?2", params![role, id])?;
            }
            if let Some(name) = &e.name {
                conn.exec("UPDATE org_users SET name_sealed = ?1 WHERE id = ?2", params![name, id])?;
            }
            conn.exec("UPDATE org_users SET updated_at = ?1 WHERE id = ?2", params![at, id])?;
        }
        UserEvent::Disabled => {
            conn.exec("UPDATE org_users SET status = 'disabled', updated_at = ?1 WHERE id = ?2", params![at, id])?;
            conn.exec(
                "UPDATE org_user_sessions SET ended_at = ?1 WHERE user_id = ?2 AND ended_at IS NULL",
                params![at, id],
            )?;
        }
        UserEvent::TotpEnrolled(e) => {
            conn.exec(
                "UPDATE org_users SET totp_sealed = ?1, updated_at = ?2 WHERE id = ?3",
                params![e.secret, at, id],
            )?;
        }
        UserEvent::LoginFailed(e) => {
            conn.exec(
                "UPDATE org_users SET failed_logins = ?1, locked_until = COALESCE(?2, locked_until) WHERE id = ?3",
                params![e.failures, e.locked_until, id],
            )?;
        }
        UserEvent::LoggedIn(e) => {
            let hash = hex::decode(&e.token_hash).map_err(|_| AppError::Internal("token hash is not hex".into()))?;
            conn.exec(
                "UPDATE org_users SET failed_logins = 0, locked_until = NULL, last_login_at = ?1 WHERE id = ?2",
                params![at, id],
            )?;
            conn.exec(
                "INSERT INTO org_user_sessions (session_id, user_id, token_hash, created_at, expires_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                params![e.session_id, id, hash, at, e.expires_at],
            )?;
        }
        UserEvent::SessionRefreshed(e) => {
            conn.exec(
                "UPDATE org_user_sessions SET expires_at = ?1 WHERE session_id = ?2",
                params![e.expires_at, e.session_id],
            )?;
        }
        UserEvent::LoggedOut(e) => {
            conn.exec("UPDATE org_user_sessions SET ended_at = ?1 WHERE session_id = ?2", params![at, e.session_id])?;
        }
    }
    Ok(())
}
