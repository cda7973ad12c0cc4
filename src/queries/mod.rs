//! Read-only functions over the views, one module per view. They take a read-only pooled connection,
//! never read the events table (the audit view is a projection like any other), and return JSON-ready
//! values. Sealed fields are opened here, for the response only.

pub mod api_keys;
pub mod checks;
pub mod identities;
pub mod lists;
pub mod relationships;
pub mod sessions;
pub mod settings;
pub mod types;
pub mod watchlists;
pub mod webhooks;
pub mod workflows;

use serde_json::{json, Value};

/// Offset pagination parameters, already validated.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

pub fn offset_envelope(data: Vec<Value>, total: i64, page: Page) -> Value {
    json!({ "data": data, "pagination": { "total": total, "limit": page.limit, "offset": page.offset } })
}

/// Readiness: the database answers a query.
pub fn ping(conn: &crate::store::ReadConn) -> crate::error::AppResult<()> {
    conn.query_row("SELECT COUNT(*) FROM meta", [], |r| r.get::<_, i64>(0))?;
    Ok(())
}
