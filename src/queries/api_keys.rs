//! API key reads: listing and fetching (never a secret), and the lookup that authenticates a request
//! by the keyed hash of the presented secret. Must not write.

use super::{offset_envelope, Page};
use crate::error::{AppError, AppResult};
use crate::store::ReadConn;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

/// What authentication needs to know about a key.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: String,
    pub key_type: String,
    pub environment: String,
    pub key_prefix: String,
    pub scopes: Vec<String>,
    pub allowed_ips: Option<Vec<String>>,
    pub api_version: String,
    pub default_key_inflection: String,
    pub expires_at: Option<String>,
    pub is_active: bool,
}

pub fn by_hash(conn: &Connection, hash: &[u8]) -> AppResult<Option<KeyRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, key_type, environment, key_prefix, scopes, allowed_ips, api_version, default_key_inflection,
                    expires_at, is_active FROM api_keys WHERE secret_hash = ?1",
        )?
        .query_row([hash], |r| {
            let scopes: String = r.get(4)?;
            let ips: Option<String> = r.get(5)?;
            Ok(KeyRecord {
                id: r.get(0)?,
                key_type: r.get(1)?,
                environment: r.get(2)?,
                key_prefix: r.get(3)?,
                scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                allowed_ips: ips.and_then(|i| serde_json::from_str(&i).ok()),
                api_version: r.get(6)?,
                default_key_inflection: r.get(7)?,
                expires_at: r.get(8)?,
                is_active: r.get(9)?,
            })
        })
        .optional()?)
}

const COLUMNS: &str = "id, key_type, environment, key_prefix, scopes, allowed_ips, api_version, default_key_inflection,
    expires_at, label, note, is_active, cloned_from, created_at, updated_at";

fn render(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let scopes: String = r.get(4)?;
    let ips: Option<String> = r.get(5)?;
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "type": r.get::<_, String>(1)?,
        "environment": r.get::<_, String>(2)?,
        "key_prefix": r.get::<_, String>(3)?,
        "scopes": serde_json::from_str::<Value>(&scopes).unwrap_or(Value::Null),
        "allowed_ips": ips.and_then(|i| serde_json::from_str::<Value>(&i).ok()),
        "api_version": r.get::<_, String>(6)?,
        "default_key_inflection": r.get::<_, String>(7)?,
        "expires_at": r.get::<_, Option<String>>(8)?,
        "label": r.get::<_, Option<String>>(9)?,
        "note": r.get::<_, Option<String>>(10)?,
        "is_active": r.get::<_, bool>(11)?,
        "cloned_from": r.get::<_, Option<String>>(12)?,
        "last_used_at": Value::Null,
        "created_at": r.get::<_, String>(13)?,
        "updated_at": r.get::<_, String>(14)?,
    }))
}

pub fn list(conn: &Connection, environment: Option<&str>, page: Page) -> AppResult<Value> {
    let total: i64 =
        conn.query_row("SELECT COUNT(*) FROM api_keys WHERE ?1 IS NULL OR environment = ?1", [environment], |r| {
            r.get(0)
        })?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE ?1 IS NULL OR environment = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let data = stmt.query_map(params![environment, page.limit, page.offset], render)?.collect::<Result<Vec<_>, _>>()?;
    Ok(offset_envelope(data, total, page))
}

pub fn get(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1 AND environment = ?2"),
        [id, environment],
        render,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("API key"))
}
