//! The dashboard's webhook delivery log: every delivery of an environment (across its endpoints), newest
//! first, filtered by endpoint and status, and a short list of the environment's endpoints to filter by.
//! Reads the outbox's delivery rows and the endpoint view only; never opens a sealed secret, never writes.

use super::{OffsetPage, Page};
use crate::error::AppResult;
use crate::store::ReadOnly;
use rusqlite::params;

/// Which deliveries the log shows; absent parts match everything.
#[derive(Debug, Clone, Default)]
pub struct DeliveryLogFilter {
    pub endpoint_id: Option<String>,
    /// `pending`, `retrying`, `delivered` or `failed`.
    pub status: Option<String>,
}

/// One delivery of one event to one endpoint, as the log lists it.
#[derive(Debug, Clone)]
pub struct DeliveryLogEntry {
    pub id: String,
    pub endpoint_id: String,
    /// The endpoint's URL (None when the endpoint has since been deleted).
    pub url: Option<String>,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    /// The receiver's HTTP status at the last attempt.
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    /// When the next attempt is due, while one is scheduled.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// An endpoint of the environment, without its secret or options.
#[derive(Debug, Clone)]
pub struct EndpointSummary {
    pub id: String,
    pub url: String,
    pub label: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: String,
}

fn ms_to_text(ms: Option<i64>) -> Option<String> {
    ms.and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .map(crate::clock::format)
}

/// The environment's deliveries, newest first.
pub fn list(
    conn: &ReadOnly,
    environment: &str,
    filter: &DeliveryLogFilter,
    page: Page,
) -> AppResult<OffsetPage<DeliveryLogEntry>> {
    let condition = "d.environment = ?1 AND (?2 IS NULL OR d.endpoint_id = ?2) AND (?3 IS NULL OR d.status = ?3)";
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM webhook_deliveries d WHERE {condition}"),
        params![environment, filter.endpoint_id, filter.status],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT d.id, d.endpoint_id, e.url, d.event_type, d.status, d.attempts, d.last_status_code, d.last_error,
                d.next_attempt_at, d.created_at, d.updated_at
         FROM webhook_deliveries d LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE {condition} ORDER BY d.created_at DESC, d.id DESC LIMIT ?4 OFFSET ?5"
    ))?;
    let data = stmt
        .query_map(params![environment, filter.endpoint_id, filter.status, page.limit, page.offset], |r| {
            Ok(DeliveryLogEntry {
                id: r.get(0)?,
                endpoint_id: r.get(1)?,
                url: r.get(2)?,
                event_type: r.get(3)?,
                status: r.get(4)?,
                attempts: r.get(5)?,
                last_status_code: r.get(6)?,
                last_error: r.get(7)?,
                next_attempt_at: ms_to_text(r.get(8)?),
                created_at: r.get(9)?,
                updated_at: r.get(10)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage::new(data, total, page))
}

/// The environment's endpoints, newest first (at most 200: the filter's choices).
pub fn endpoints(conn: &ReadOnly, environment: &str) -> AppResult<Vec<EndpointSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, url, label, enabled, disabled_reason, created_at FROM webhook_endpoints
         WHERE environment = ?1 ORDER BY created_at DESC, id DESC LIMIT 200",
    )?;
    let rows = stmt
        .query_map([environment], |r| {
            Ok(EndpointSummary {
                id: r.get(0)?,
                url: r.get(1)?,
                label: r.get(2)?,
                enabled: r.get(3)?,
                disabled_reason: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
