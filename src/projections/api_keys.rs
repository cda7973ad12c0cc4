//! Projects API key events into `api_keys`. Holds only secret hashes. Must not write any other table.

use crate::domain::api_key::ApiKeyEvent;
use crate::error::{AppError, AppResult};
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection};

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let Some(decoded) = ApiKeyEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?
    else {
        return Ok(());
    };
    let at = &event.recorded_at;
    match decoded {
        ApiKeyEvent::Created(e) => {
            let hash = hex::decode(&e.secret_hash).map_err(|_| AppError::Internal("api key hash is not hex".into()))?;
            conn.exec(
                "INSERT INTO api_keys (id, key_type, environment, key_prefix, secret_hash, scopes, allowed_ips,
                    api_version, default_key_inflection, label, note, expires_at, is_active, cloned_from,
                    created_at, updated_at, rate_limit_rpm)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13, ?14, ?14, ?15)",
                params![
                    e.id,
                    e.key_type,
                    e.environment,
                    e.key_prefix,
                    hash,
                    serde_json::to_string(&e.scopes)?,
                    e.allowed_ips.as_ref().map(serde_json::to_string).transpose()?,
                    e.api_version,
                    e.default_key_inflection,
                    e.label,
                    e.note,
                    e.expires_at,
                    e.cloned_from,
                    at,
                    e.rate_limit_rpm
                ],
            )?;
        }
        ApiKeyEvent::Updated(e) => {
            let id = &event.stream_id;
            if let Some(v) = &e.label {
                conn.exec("UPDATE api_keys SET label = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.note {
                conn.exec("UPDATE api_keys SET note = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.scopes {
                conn.exec("UPDATE api_keys SET scopes = ?1 WHERE id = ?2", params![serde_json::to_string(v)?, id])?;
            }
            if let Some(v) = &e.allowed_ips {
                let text = v.as_ref().map(serde_json::to_string).transpose()?;
                conn.exec("UPDATE api_keys SET allowed_ips = ?1 WHERE id = ?2", params![text, id])?;
            }
            if let Some(v) = &e.api_version {
                conn.exec("UPDATE api_keys SET api_version = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.expires_at {
                conn.exec("UPDATE api_keys SET expires_at = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.default_key_inflection {
                conn.exec("UPDATE api_keys SET default_key_inflection = ?1 WHERE id = ?2", params![v, id])?;
            }
            conn.exec("UPDATE api_keys SET updated_at = ?1 WHERE id = ?2", params![at, id])?;
        }
        ApiKeyEvent::Expired => {
            conn.exec(
                "UPDATE api_keys SET is_active = 0, expires_at = COALESCE(expires_at, ?1), updated_at = ?1 WHERE id = ?2",
                params![at, event.stream_id],
            )?;
        }
    }
    Ok(())
}
