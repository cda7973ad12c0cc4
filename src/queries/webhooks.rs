//! Webhook reads: endpoints (the sealed secret is opened for sandbox endpoints only, or when the
//! caller has just minted it), deliveries with their attempts, and the event catalog. Must not write.

use super::{offset_envelope, Page};
use crate::crypto::Keyring;
use crate::domain::webhook::CATALOG;
use crate::error::{AppError, AppResult};
use crate::store::ReadConn;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

/// Whether a response may carry the endpoint's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// Sandbox endpoints show it; live ones do not.
    ByEnvironment,
    /// Never (the caller adds a freshly minted one itself).
    Hidden,
}

const COLUMNS: &str = "e.id, e.environment, e.url, e.label, e.description, e.enabled, e.enabled_events,
    e.attribute_blocklist, e.event_filter_conditions, e.api_version, e.key_inflection, e.secret_sealed,
    e.cloned_from, e.disabled_reason, e.disabled_at, e.secret_rotated_at, e.created_at, e.updated_at,
    COALESCE(h.consecutive_failures, 0)";
const FROM: &str = "FROM webhook_endpoints e
    LEFT JOIN webhook_endpoint_health h ON h.endpoint_id = e.id AND h.epoch_seq = e.enabled_seq";

struct Row {
    body: Value,
    id: String,
    environment: String,
    sealed: String,
}

fn json_text(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null)
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let id: String = r.get(0)?;
    let environment: String = r.get(1)?;
    let body = json!({
        "id": id,
        "object": "webhook_endpoint",
        "url": r.get::<_, String>(2)?,
        "label": r.get::<_, Option<String>>(3)?,
        "description": r.get::<_, Option<String>>(4)?,
        "enabled": r.get::<_, bool>(5)?,
        "enabled_events": json_text(r.get(6)?),
        "environment": environment,
        "attribute_blocklist": json_text(r.get(7)?),
        "event_filter_conditions": json_text(r.get(8)?),
        "api_version": r.get::<_, Option<String>>(9)?,
        "key_inflection": r.get::<_, String>(10)?,
        "cloned_from": r.get::<_, Option<String>>(12)?,
        "disabled_reason": r.get::<_, Option<String>>(13)?,
        "disabled_at": r.get::<_, Option<String>>(14)?,
        "secret_rotated_at": r.get::<_, Option<String>>(15)?,
        "created_at": r.get::<_, String>(16)?,
        "updated_at": r.get::<_, String>(17)?,
        "consecutive_failures": r.get::<_, i64>(18)?,
    });
    Ok(Row { body, id, environment, sealed: r.get(11)? })
}

fn render(keyring: &Keyring, row: Row, secret: Secret) -> AppResult<Value> {
    let mut body = row.body;
    if secret == Secret::ByEnvironment && row.environment == "sandbox" {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&row.sealed)
            .map_err(|_| AppError::Internal("webhook secret is not base64".into()))?;
        let text = keyring.open_webhook_secret(&row.id, &sealed)?;
        body["secret"] = json!(text.as_str());
    }
    Ok(body)
}

pub fn endpoint(conn: &ReadConn, keyring: &Keyring, environment: &str, id: &str, secret: Secret) -> AppResult<Value> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} {FROM} WHERE e.id = ?1 AND e.environment = ?2"),
            [id, environment],
            read_row,
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("Webhook endpoint"))?;
    render(keyring, row, secret)
}

pub fn list_endpoints(conn: &ReadConn, keyring: &Keyring, environment: &str, page: Page) -> AppResult<Value> {
    let total: i64 =
        conn.query_row("SELECT COUNT(*) FROM webhook_endpoints WHERE environment = ?1", [environment], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} {FROM} WHERE e.environment = ?1 ORDER BY e.created_at DESC, e.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows =
        stmt.query_map(params![environment, page.limit, page.offset], read_row)?.collect::<Result<Vec<_>, _>>()?;
    let data =
        rows.into_iter().map(|row| render(keyring, row, Secret::ByEnvironment)).collect::<AppResult<Vec<_>>>()?;
    Ok(offset_envelope(data, total, page))
}

/// Filters of the deliveries list, already validated (times are canonical RFC 3339 UTC).
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub event_type: Option<String>,
    pub status: Option<String>,
}

fn ms_to_text(ms: Option<i64>) -> Value {
    ms.and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .map(|t| json!(crate::clock::format(t)))
        .unwrap_or(Value::Null)
}

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_type, d.event_id, e.url, d.status, d.attempts,
    d.last_status_code, d.last_error, d.next_attempt_at, d.created_at, d.updated_at, d.completed_at, d.manual_retry";

fn attempts_of(conn: &Connection, delivery_id: &str) -> AppResult<Value> {
    let mut stmt = conn.prepare_cached(
        "SELECT attempt, attempted_at, status_code, latency_ms, error, response_excerpt, manual
         FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY attempt",
    )?;
    let rows = stmt
        .query_map([delivery_id], |r| {
            Ok(json!({
                "attempt": r.get::<_, i64>(0)?,
                "attempted_at": r.get::<_, String>(1)?,
                "response_status": r.get::<_, Option<i64>>(2)?,
                "latency_ms": r.get::<_, i64>(3)?,
                "error": r.get::<_, Option<String>>(4)?,
                "response_excerpt": r.get::<_, Option<String>>(5)?,
                "manual": r.get::<_, bool>(6)?,
            }))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::Array(rows))
}

fn read_delivery(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "object": "webhook_delivery",
        "endpoint_id": r.get::<_, String>(1)?,
        "event": r.get::<_, String>(2)?,
        "event_id": r.get::<_, String>(3)?,
        "url": r.get::<_, String>(4)?,
        "status": r.get::<_, String>(5)?,
        "attempts": r.get::<_, i64>(6)?,
        "response_status": r.get::<_, Option<i64>>(7)?,
        "last_error": r.get::<_, Option<String>>(8)?,
        "next_attempt_at": ms_to_text(r.get(9)?),
        "created_at": r.get::<_, String>(10)?,
        "updated_at": r.get::<_, String>(11)?,
        "completed_at": r.get::<_, Option<String>>(12)?,
        "manual_retry": r.get::<_, bool>(13)?,
    }))
}

fn with_attempts(conn: &Connection, mut delivery: Value) -> AppResult<Value> {
    let id = delivery["id"].as_str().unwrap_or_default().to_string();
    delivery["attempt_history"] = attempts_of(conn, &id)?;
    Ok(delivery)
}

fn require_endpoint(conn: &Connection, environment: &str, endpoint_id: &str) -> AppResult<()> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM webhook_endpoints WHERE id = ?1 AND environment = ?2",
            [endpoint_id, environment],
            |r| r.get(0),
        )
        .optional()?;
    found.map(|_| ()).ok_or_else(|| AppError::not_found("Webhook endpoint"))
}

/// An endpoint's deliveries, most recent first, each with its attempts.
pub fn deliveries(
    conn: &ReadConn,
    environment: &str,
    endpoint_id: &str,
    filter: &DeliveryFilter,
    page: Page,
) -> AppResult<Value> {
    require_endpoint(conn, environment, endpoint_id)?;
    let condition = "d.endpoint_id = ?1 AND (?2 IS NULL OR d.created_at >= ?2) AND (?3 IS NULL OR d.created_at <= ?3)
        AND (?4 IS NULL OR d.event_type = ?4) AND (?5 IS NULL OR d.status = ?5)";
    let args = params![endpoint_id, filter.date_from, filter.date_to, filter.event_type, filter.status];
    let total: i64 =
        conn.query_row(&format!("SELECT COUNT(*) FROM webhook_deliveries d WHERE {condition}"), args, |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE {condition} ORDER BY d.created_at DESC, d.id DESC LIMIT ?6 OFFSET ?7"
    ))?;
    let rows = stmt
        .query_map(
            params![
                endpoint_id,
                filter.date_from,
                filter.date_to,
                filter.event_type,
                filter.status,
                page.limit,
                page.offset
            ],
            read_delivery,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let data = rows.into_iter().map(|d| with_attempts(conn, d)).collect::<AppResult<Vec<_>>>()?;
    Ok(offset_envelope(data, total, page))
}

pub fn delivery(conn: &ReadConn, environment: &str, endpoint_id: &str, delivery_id: &str) -> AppResult<Value> {
    require_endpoint(conn, environment, endpoint_id)?;
    let row = conn
        .query_row(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 WHERE d.id = ?1 AND d.endpoint_id = ?2"
            ),
            [delivery_id, endpoint_id],
            read_delivery,
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("Webhook delivery"))?;
    with_attempts(conn, row)
}

/// The event catalog: every name an endpoint may subscribe to.
pub fn event_types() -> Value {
    let data: Vec<Value> = CATALOG
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "category": t.category,
                "description": t.description,
                "emitted": t.emitted,
            })
        })
        .collect();
    json!({ "data": data, "wildcard": "*" })
}
