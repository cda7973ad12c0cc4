//! Webhook reads: endpoints (the sealed secret is opened for sandbox endpoints only, or when the
//! caller has just minted it), deliveries with their attempts, and the event catalog. Must not write.

use super::{OffsetPage, Page};
use crate::crypto::Keyring;
use crate::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::domain::webhook::{DeliveryStatus, EventName, EventSubscription, KeyInflection, PayloadApiVersion, CATALOG};
use crate::error::{AppError, AppResult};
use crate::store::ReadOnly;
use base64::Engine;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

/// Whether a response may carry the endpoint's secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// Sandbox endpoints show it; live ones do not.
    ByEnvironment,
    /// Never (the caller adds a freshly minted one itself).
    Hidden,
}

/// The `object` of an endpoint.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointObject {
    WebhookEndpoint,
}

/// The `object` of a delivery.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryObject {
    WebhookDelivery,
}

/// The schema of `event_filter_conditions`: null (no filter), the object shorthand `{path: value}`, or
/// the list form `[{path, op, value}]`.
pub fn filter_schema() -> RefOr<Schema> {
    crate::domain::values::schema_from(serde_json::json!({
        "description": "Deliver only events whose payload matches: the object shorthand `{\"data.status\": \"approved\"}` (an array value means any of), or a list of `{path, op (eq, neq, in), value}`; null for every event.",
        "oneOf": [
            { "type": "null" },
            { "type": "object" },
            { "type": "array", "items": { "type": "object",
                "properties": { "path": { "type": "string" }, "op": { "type": "string", "enum": ["eq", "neq", "in"] }, "value": {} },
                "required": ["path", "value"] } }
        ]
    }))
}

/// A webhook endpoint (spec §1.11.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: WebhookEndpointId,
    pub object: EndpointObject,
    #[schema(example = "https://example.com/webhooks/idv")]
    pub url: String,
    pub label: Option<String>,
    pub description: Option<String>,
    /// False after a manual disable or the circuit breaker.
    pub enabled: bool,
    /// The subscribed events; `["*"]` for every event.
    pub enabled_events: Vec<EventSubscription>,
    /// `sandbox` or `live`.
    #[schema(example = "sandbox")]
    pub environment: String,
    /// Payload fields never sent to this endpoint (paths inside `data`).
    pub attribute_blocklist: Vec<String>,
    #[schema(schema_with = filter_schema)]
    pub event_filter_conditions: Option<Value>,
    pub api_version: Option<PayloadApiVersion>,
    pub key_inflection: KeyInflection,
    /// The endpoint this one was cloned from.
    pub cloned_from: Option<WebhookEndpointId>,
    /// `manual` or `circuit_breaker` while disabled.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub secret_rotated_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Failed deliveries in a row since the endpoint was last enabled.
    pub consecutive_failures: i64,
    /// The signing secret (`whsec_...`): on sandbox endpoints always, on live ones only in the
    /// create, rotate and clone responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub secret: Option<String>,
    /// Present with a live secret: it will not be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub warning: Option<String>,
}

const COLUMNS: &str = "e.id, e.environment, e.url, e.label, e.description, e.enabled, e.enabled_events,
    e.attribute_blocklist, e.event_filter_conditions, e.api_version, e.key_inflection, e.secret_sealed,
    e.cloned_from, e.disabled_reason, e.disabled_at, e.secret_rotated_at, e.created_at, e.updated_at,
    COALESCE(h.consecutive_failures, 0)";
const FROM: &str = "FROM webhook_endpoints e
    LEFT JOIN webhook_endpoint_health h ON h.endpoint_id = e.id AND h.epoch_seq = e.enabled_seq";

struct Row {
    body: EndpointView,
    sealed: String,
}

fn json_list(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let filters: Option<String> = r.get(8)?;
    let body = EndpointView {
        id: WebhookEndpointId::from_stored(r.get(0)?),
        object: EndpointObject::WebhookEndpoint,
        url: r.get(2)?,
        label: r.get(3)?,
        description: r.get(4)?,
        enabled: r.get(5)?,
        enabled_events: json_list(r.get(6)?).into_iter().map(EventSubscription::from_stored).collect(),
        environment: r.get(1)?,
        attribute_blocklist: json_list(r.get(7)?),
        event_filter_conditions: filters.and_then(|t| serde_json::from_str::<Value>(&t).ok()).filter(|v| !v.is_null()),
        api_version: r.get::<_, Option<String>>(9)?.map(PayloadApiVersion::from_stored),
        key_inflection: KeyInflection::from_stored(r.get(10)?),
        cloned_from: r.get::<_, Option<String>>(12)?.map(WebhookEndpointId::from_stored),
        disabled_reason: r.get(13)?,
        disabled_at: r.get(14)?,
        secret_rotated_at: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
        consecutive_failures: r.get(18)?,
        secret: None,
        warning: None,
    };
    Ok(Row { body, sealed: r.get(11)? })
}

fn render(keyring: &Keyring, row: Row, secret: Secret) -> AppResult<EndpointView> {
    let mut body = row.body;
    if secret == Secret::ByEnvironment && body.environment == "sandbox" {
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&row.sealed)
            .map_err(|_| AppError::Internal("webhook secret is not base64".into()))?;
        let text = keyring.open_webhook_secret(body.id.as_str(), &sealed)?;
        body.secret = Some(text.as_str().to_string());
    }
    Ok(body)
}

pub fn endpoint(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id: &WebhookEndpointId,
    secret: Secret,
) -> AppResult<EndpointView> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} {FROM} WHERE e.id = ?1 AND e.environment = ?2 AND e.dialect IS NULL"),
            [id.as_str(), environment],
            read_row,
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("Webhook endpoint"))?;
    render(keyring, row, secret)
}

pub fn list_endpoints(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    page: Page,
) -> AppResult<OffsetPage<EndpointView>> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE environment = ?1 AND dialect IS NULL",
        [environment],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} {FROM} WHERE e.environment = ?1 AND e.dialect IS NULL
         ORDER BY e.created_at DESC, e.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows =
        stmt.query_map(params![environment, page.limit, page.offset], read_row)?.collect::<Result<Vec<_>, _>>()?;
    let data =
        rows.into_iter().map(|row| render(keyring, row, Secret::ByEnvironment)).collect::<AppResult<Vec<_>>>()?;
    Ok(OffsetPage::new(data, total, page))
}

/// Filters of the deliveries list, already validated (times are canonical RFC 3339 UTC).
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub event_type: Option<EventName>,
    pub status: Option<DeliveryStatus>,
}

fn ms_to_text(ms: Option<i64>) -> Option<String> {
    ms.and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .map(crate::clock::format)
}

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_type, d.event_id, e.url, d.status, d.attempts,
    d.last_status_code, d.last_error, d.next_attempt_at, d.created_at, d.updated_at, d.completed_at, d.manual_retry";

/// One attempt to deliver.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// 1 for the first attempt.
    pub attempt: i64,
    pub attempted_at: String,
    /// The receiver's HTTP status; null when no response came.
    pub response_status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The start of the receiver's response body.
    pub response_excerpt: Option<String>,
    /// A manual retry.
    pub manual: bool,
}

/// One event's delivery to one endpoint, with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: WebhookDeliveryId,
    pub object: DeliveryObject,
    pub endpoint_id: WebhookEndpointId,
    pub event: EventName,
    /// The event's id (the payload's `id` and idempotency key).
    pub event_id: String,
    /// The endpoint's URL.
    pub url: String,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    /// The last attempt's HTTP status.
    pub response_status: Option<i64>,
    pub last_error: Option<String>,
    /// When the next attempt is due; null when none is scheduled.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    pub manual_retry: bool,
    pub attempt_history: Vec<AttemptView>,
}

fn attempts_of(conn: &ReadOnly, delivery_id: &str) -> AppResult<Vec<AttemptView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT attempt, attempted_at, status_code, latency_ms, error, response_excerpt, manual
         FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY attempt",
    )?;
    let rows = stmt
        .query_map([delivery_id], |r| {
            Ok(AttemptView {
                attempt: r.get(0)?,
                attempted_at: r.get(1)?,
                response_status: r.get(2)?,
                latency_ms: r.get(3)?,
                error: r.get(4)?,
                response_excerpt: r.get(5)?,
                manual: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn read_delivery(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeliveryView> {
    let status: String = r.get(5)?;
    let status = DeliveryStatus::parse(&status).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            5,
            rusqlite::types::Type::Text,
            format!("unknown delivery status '{status}'").into(),
        )
    })?;
    Ok(DeliveryView {
        id: WebhookDeliveryId::from_stored(r.get(0)?),
        object: DeliveryObject::WebhookDelivery,
        endpoint_id: WebhookEndpointId::from_stored(r.get(1)?),
        event: EventName::from_stored(r.get(2)?),
        event_id: r.get(3)?,
        url: r.get(4)?,
        status,
        attempts: r.get(6)?,
        response_status: r.get(7)?,
        last_error: r.get(8)?,
        next_attempt_at: ms_to_text(r.get(9)?),
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        completed_at: r.get(12)?,
        manual_retry: r.get(13)?,
        attempt_history: Vec::new(),
    })
}

fn with_attempts(conn: &ReadOnly, mut delivery: DeliveryView) -> AppResult<DeliveryView> {
    delivery.attempt_history = attempts_of(conn, delivery.id.as_str())?;
    Ok(delivery)
}

fn require_endpoint(conn: &ReadOnly, environment: &str, endpoint_id: &str) -> AppResult<()> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM webhook_endpoints WHERE id = ?1 AND environment = ?2 AND dialect IS NULL",
            [endpoint_id, environment],
            |r| r.get(0),
        )
        .optional()?;
    found.map(|_| ()).ok_or_else(|| AppError::not_found("Webhook endpoint"))
}

/// An endpoint's deliveries, most recent first, each with its attempts.
pub fn deliveries(
    conn: &ReadOnly,
    environment: &str,
    endpoint_id: &WebhookEndpointId,
    filter: &DeliveryFilter,
    page: Page,
) -> AppResult<OffsetPage<DeliveryView>> {
    let endpoint_id = endpoint_id.as_str();
    require_endpoint(conn, environment, endpoint_id)?;
    let event_type = filter.event_type.as_ref().map(EventName::as_str);
    let status = filter.status.map(DeliveryStatus::as_str);
    let condition = "d.endpoint_id = ?1 AND (?2 IS NULL OR d.created_at >= ?2) AND (?3 IS NULL OR d.created_at <= ?3)
        AND (?4 IS NULL OR d.event_type = ?4) AND (?5 IS NULL OR d.status = ?5)";
    let args = params![endpoint_id, filter.date_from, filter.date_to, event_type, status];
    let total: i64 =
        conn.query_row(&format!("SELECT COUNT(*) FROM webhook_deliveries d WHERE {condition}"), args, |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE {condition} ORDER BY d.created_at DESC, d.id DESC LIMIT ?6 OFFSET ?7"
    ))?;
    let rows = stmt
        .query_map(
            params![endpoint_id, filter.date_from, filter.date_to, event_type, status, page.limit, page.offset],
            read_delivery,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let data = rows.into_iter().map(|d| with_attempts(conn, d)).collect::<AppResult<Vec<_>>>()?;
    Ok(OffsetPage::new(data, total, page))
}

pub fn delivery(
    conn: &ReadOnly,
    environment: &str,
    endpoint_id: &WebhookEndpointId,
    delivery_id: &WebhookDeliveryId,
) -> AppResult<DeliveryView> {
    require_endpoint(conn, environment, endpoint_id.as_str())?;
    let row = conn
        .query_row(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 WHERE d.id = ?1 AND d.endpoint_id = ?2"
            ),
            [delivery_id.as_str(), endpoint_id.as_str()],
            read_delivery,
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("Webhook delivery"))?;
    with_attempts(conn, row)
}

/// One entry of the event catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeView {
    pub name: EventName,
    #[schema(example = "session")]
    pub category: String,
    pub description: String,
    /// Whether this server produces the event today (others may still be subscribed to).
    pub emitted: bool,
}

/// The event catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypes {
    pub data: Vec<EventTypeView>,
    /// The `enabled_events` entry meaning every event.
    #[schema(example = "*")]
    pub wildcard: String,
}

/// The event catalog: every name an endpoint may subscribe to.
pub fn event_types() -> EventTypes {
    let data = CATALOG
        .iter()
        .map(|t| EventTypeView {
            name: EventName::from_stored(t.name.to_string()),
            category: t.category.to_string(),
            description: t.description.to_string(),
            emitted: t.emitted,
        })
        .collect();
    EventTypes { data, wildcard: crate::domain::webhook::ALL_EVENTS.to_string() }
}
