//! Read-only functions over the views, one module per view. They take `store::ReadOnly` (a connection of the read-only pool that cannot write),
//! never read the events table (the audit view is a projection like any other), and return JSON-ready
//! values. Sealed fields are opened here, for the response only.

pub mod api_keys;
pub mod case_page;
pub mod cases;
pub mod checks;
pub mod delivery_log;
pub mod documents;
pub mod events;
pub mod findings;
pub mod identities;
pub mod lists;
pub mod relationships;
pub mod selfies;
pub mod sessions;
pub mod settings;
pub mod types;
pub mod users;
pub mod verifyhq;
pub mod watchlists;
pub mod webhooks;
pub mod workflow_runs;
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
pub fn ping(conn: &crate::store::ReadOnly) -> crate::error::AppResult<()> {
    conn.query_row("SELECT COUNT(*) FROM meta", [], |r| r.get::<_, i64>(0))?;
    Ok(())
}

/// One offset page of `table` rows matching `where_sql` (with its bound `values`), newest id first,
/// each rendered by `render`: the count, the page query and the envelope every filtered list shares.
pub fn filtered_page(
    conn: &crate::store::ReadOnly,
    table: &str,
    columns: &str,
    where_sql: &str,
    values: Vec<rusqlite::types::Value>,
    page: Page,
    render: impl FnMut(&rusqlite::Row<'_>) -> crate::error::AppResult<Value>,
) -> crate::error::AppResult<Value> {
    let p = filtered_offset_page(conn, table, columns, where_sql, values, page, render)?;
    Ok(offset_envelope(p.data, p.pagination.total, page))
}

/// `filtered_page` for a typed item: the page as an `OffsetPage<T>`.
pub fn filtered_offset_page<T>(
    conn: &crate::store::ReadOnly,
    table: &str,
    columns: &str,
    where_sql: &str,
    values: Vec<rusqlite::types::Value>,
    page: Page,
    render: impl FnMut(&rusqlite::Row<'_>) -> crate::error::AppResult<T>,
) -> crate::error::AppResult<OffsetPage<T>> {
    filtered_offset_page_by(conn, table, columns, where_sql, "id DESC", values, page, render)
}

/// `filtered_offset_page` in another order than newest id first (`order_by` is an ORDER BY list).
#[allow(clippy::too_many_arguments)]
pub fn filtered_offset_page_by<T>(
    conn: &crate::store::ReadOnly,
    table: &str,
    columns: &str,
    where_sql: &str,
    order_by: &str,
    mut values: Vec<rusqlite::types::Value>,
    page: Page,
    mut render: impl FnMut(&rusqlite::Row<'_>) -> crate::error::AppResult<T>,
) -> crate::error::AppResult<OffsetPage<T>> {
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM {table} WHERE {where_sql}"),
        rusqlite::params_from_iter(values.iter()),
        |r| r.get(0),
    )?;
    values.push(rusqlite::types::Value::Integer(page.limit));
    values.push(rusqlite::types::Value::Integer(page.offset));
    let mut stmt =
        conn.prepare(&format!("SELECT {columns} FROM {table} WHERE {where_sql} ORDER BY {order_by} LIMIT ? OFFSET ?"))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
    let mut data = Vec::new();
    while let Some(row) = rows.next()? {
        data.push(render(row)?);
    }
    Ok(OffsetPage::new(data, total, page))
}

/// One offset page of `T` (spec §2.2): the list envelope every offset-paginated endpoint answers with.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct OffsetPage<T> {
    pub data: Vec<T>,
    pub pagination: OffsetPagination,
}

#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct OffsetPagination {
    /// Matching items in all pages.
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T> OffsetPage<T> {
    pub fn new(data: Vec<T>, total: i64, page: Page) -> Self {
        OffsetPage { data, pagination: OffsetPagination { total, limit: page.limit, offset: page.offset } }
    }
}

/// One cursor page of `T` (spec §2.2, identities).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CursorPage<T> {
    pub data: Vec<T>,
    pub pagination: CursorPagination,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CursorPagination {
    /// Pass as `page[after]` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
    /// Pass as `page[before]` for the previous (newer) page; null on the first page.
    pub prev_cursor: Option<String>,
    pub has_next: bool,
    pub has_prev: bool,
}

/// `text` for a `LIKE ... ESCAPE '\'` pattern that matches it literally: its `\`, `%` and `_` escaped.
pub fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
