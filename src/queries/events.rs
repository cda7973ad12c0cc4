//! The org audit log (spec §1.16) over the `audit_log` view: filtered pages newest first, and one entry.
//! Items carry ids, actors, dotted actions and a PII-free summary only. Must not write.

use super::{OffsetPage, OffsetPagination, Page};
use crate::error::{AppError, AppResult};
use crate::store::ReadOnly;
use rusqlite::types::Value as Sql;
use rusqlite::OptionalExtension;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// One audit-log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    /// The event's id in the log (`evt_*`).
    #[schema(example = "evt_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C")]
    pub id: String,
    /// Dotted action, e.g. `session.approved`, `identity.created`, `case.claimed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    /// e.g. `session`, `identity`, `case`, `api_key`.
    pub resource_type: String,
    pub resource_id: String,
    /// `api_key:<key id>`, `system`, or the key id that acted.
    pub actor: String,
    /// A small summary without personal data (statuses, ids, names of changed fields).
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// The caller's address for a change made through the API or the dashboard; null for the sweeper,
    /// the CLI, an end user on the capture page, and events recorded before addresses were kept.
    #[schema(example = "203.0.113.7")]
    pub ip_address: Option<String>,
    /// The HTTP method of the request behind the change; null when no request caused it.
    #[schema(example = "POST")]
    pub request_method: Option<String>,
    /// The request's path without its query string (the route's pattern on the capture page, whose paths
    /// hold the link's token); null when no request caused it.
    #[schema(example = "/api/v1/cases/case_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C/approve")]
    pub request_path: Option<String>,
    /// The event's position in the log: monotonically increasing, gap-free across environments.
    pub sequence_num: i64,
}

#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub q: Option<String>,
}

const COLUMNS: &str = "event_id, action, recorded_at, resource_type, resource_id, actor, metadata, seq, \
                       ip_address, request_method, request_path";

fn item(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEvent> {
    let actor: String = r.get(5)?;
    let metadata: String = r.get(6)?;
    Ok(AuditEvent {
        id: r.get(0)?,
        kind: r.get(1)?,
        created_at: r.get(2)?,
        resource_type: r.get(3)?,
        resource_id: r.get(4)?,
        actor: public_actor(actor),
        metadata: serde_json::from_str(&metadata).unwrap_or(Value::Null),
        ip_address: r.get(8)?,
        request_method: r.get(9)?,
        request_path: r.get(10)?,
        sequence_num: r.get(7)?,
    })
}

/// The actor as the spec writes it: `api_key:<key id>` for a key, `user:<orguser id>` for a reviewer,
/// anything else (`system`, `cli`, `capture`, `dashboard`) as recorded.
fn public_actor(actor: String) -> String {
    if actor.starts_with("key_") {
        format!("api_key:{actor}")
    } else if actor.starts_with("orguser_") {
        format!("user:{actor}")
    } else {
        actor
    }
}

pub fn list(conn: &ReadOnly, environment: &str, f: &EventFilter, page: Page) -> AppResult<OffsetPage<AuditEvent>> {
    let mut conds = vec!["environment = ?".to_string()];
    let mut args: Vec<Sql> = vec![Sql::Text(environment.to_string())];
    let mut push = |cond: &str, v: &Option<String>| {
        if let Some(v) = v {
            conds.push(cond.to_string());
            args.push(Sql::Text(v.clone()));
        }
    };
    push("action = ?", &f.action);
    push("resource_type = ?", &f.resource_type);
    push("resource_id = ?", &f.resource_id);
    push("recorded_at > ?", &f.created_after);
    push("recorded_at < ?", &f.created_before);
    if let Some(q) = &f.q {
        conds.push(
            "(actor LIKE ? ESCAPE '\\' OR action LIKE ? ESCAPE '\\' OR resource_type LIKE ? ESCAPE '\\' \
             OR resource_id LIKE ? ESCAPE '\\' OR ip_address LIKE ? ESCAPE '\\')"
                .into(),
        );
        let like = format!("%{}%", super::like_escape(q));
        for _ in 0..5 {
            args.push(Sql::Text(like.clone()));
        }
    }
    let filter = conds.join(" AND ");
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM audit_log WHERE {filter}"),
        rusqlite::params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    args.push(Sql::Integer(page.limit));
    args.push(Sql::Integer(page.offset));
    let data = conn
        .prepare(&format!("SELECT {COLUMNS} FROM audit_log WHERE {filter} ORDER BY seq DESC LIMIT ? OFFSET ?"))?
        .query_map(rusqlite::params_from_iter(args.iter()), item)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage { data, pagination: OffsetPagination { total, limit: page.limit, offset: page.offset } })
}

pub fn get(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<AuditEvent> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM audit_log WHERE event_id = ?1 AND environment = ?2"),
        rusqlite::params![id, environment],
        item,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Event"))
}
