//! Identity type and custom field definition reads. Must not write.

use super::{offset_envelope, Page};
use crate::error::{AppError, AppResult};
use crate::store::ReadConn;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

const TYPE_COLUMNS: &str = "id, name, label, description, statuses, default_status, is_default, created_at, updated_at";

fn render_type(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let statuses: String = r.get(4)?;
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "org_id": "org_default",
        "name": r.get::<_, String>(1)?,
        "label": r.get::<_, String>(2)?,
        "description": r.get::<_, Option<String>>(3)?,
        "statuses": serde_json::from_str::<Value>(&statuses).unwrap_or(Value::Array(vec![])),
        "default_status": r.get::<_, Option<String>>(5)?,
        "is_default": r.get::<_, bool>(6)?,
        "created_at": r.get::<_, String>(7)?,
        "updated_at": r.get::<_, String>(8)?,
    }))
}

pub fn list_types(conn: &ReadConn, environment: &str, page: Page) -> AppResult<Value> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM identity_types WHERE environment = ?1 AND is_deleted = 0",
        [environment],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TYPE_COLUMNS} FROM identity_types WHERE environment = ?1 AND is_deleted = 0 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let data =
        stmt.query_map(params![environment, page.limit, page.offset], render_type)?.collect::<Result<Vec<_>, _>>()?;
    Ok(offset_envelope(data, total, page))
}

pub fn get_type(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    conn.query_row(
        &format!("SELECT {TYPE_COLUMNS} FROM identity_types WHERE id = ?1 AND environment = ?2 AND is_deleted = 0"),
        [id, environment],
        render_type,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Identity type"))
}

const FIELD_COLUMNS: &str = "id, identity_type_id, name, label, field_type, is_required, is_unique, is_encrypted,
    enum_values, validation_regex, sort_order, created_at, updated_at";

fn render_field(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let enums: Option<String> = r.get(8)?;
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "org_id": "org_default",
        "identity_type_id": r.get::<_, String>(1)?,
        "name": r.get::<_, String>(2)?,
        "label": r.get::<_, String>(3)?,
        "field_type": r.get::<_, String>(4)?,
        "is_required": r.get::<_, bool>(5)?,
        "is_unique": r.get::<_, bool>(6)?,
        "is_encrypted": r.get::<_, bool>(7)?,
        "enum_values": enums.and_then(|e| serde_json::from_str::<Value>(&e).ok()),
        "validation_regex": r.get::<_, Option<String>>(9)?,
        "sort_order": r.get::<_, i64>(10)?,
        "created_at": r.get::<_, String>(11)?,
        "updated_at": r.get::<_, String>(12)?,
    }))
}

pub fn list_fields(conn: &ReadConn, type_id: &str) -> AppResult<Value> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FIELD_COLUMNS} FROM custom_field_definitions WHERE identity_type_id = ?1 AND is_deleted = 0 ORDER BY sort_order, name"
    ))?;
    let data = stmt.query_map([type_id], render_field)?.collect::<Result<Vec<_>, _>>()?;
    let total = data.len() as i64;
    Ok(offset_envelope(data, total, Page { limit: total.max(1), offset: 0 }))
}

pub fn get_field(conn: &ReadConn, type_id: &str, field_id: &str) -> AppResult<Value> {
    conn.query_row(
        &format!("SELECT {FIELD_COLUMNS} FROM custom_field_definitions WHERE id = ?1 AND identity_type_id = ?2 AND is_deleted = 0"),
        [field_id, type_id],
        render_field,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Custom field"))
}
