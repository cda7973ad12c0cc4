//! Custom list reads: lists (with the workflows that use them), items (opened for the key holder), the
//! CSV export, match records, and the matcher itself (`check`): exact types by blind digest, names,
//! places and faces by opening the list's candidate items. Must not write; never returns another
//! environment's rows.

use super::{OffsetPage, Page};
use crate::crypto::{DataKey, Keyring};
use crate::domain::custom_list::{self as dom, ListMatch, ListType, MatchMode, Outcome, Subject};
use crate::domain::ids::{ListId, ListItemId, ListMatchId, SessionId, WorkflowId};
use crate::domain::watchlist::MonitoredList;
use crate::error::{AppError, AppResult};
use crate::store::shared_reads::{self, referencing_workflows};
use crate::store::subject_keys::{list_key, open_part};
use crate::store::ReadOnly;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

const LIST_COLUMNS: &str =
    "id, name, description, list_type, match_mode, is_active, item_count, archived_at, created_at, updated_at";

/// A custom list (spec §1.10).
#[derive(Debug, Serialize, ToSchema)]
pub struct ListView {
    pub id: ListId,
    #[schema(example = "Known fraudsters")]
    pub name: String,
    pub description: Option<String>,
    pub list_type: ListType,
    pub match_mode: MatchMode,
    /// Inactive lists are skipped by checks.
    pub is_active: bool,
    pub item_count: i64,
    /// When the list was archived (read-only from then on); null while it is open.
    pub archived_at: Option<String>,
    #[schema(example = "org_default")]
    pub org_id: String,
    pub created_at: String,
    pub updated_at: String,
    /// The workflows whose published version checks against this list (only on a single list, not in
    /// the list of lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub workflows: Option<Vec<ListWorkflow>>,
}

/// A workflow that references a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListWorkflow {
    pub id: WorkflowId,
    pub name: String,
    pub is_active: bool,
    /// The published version that names the list.
    pub version: i64,
}

/// A text column that holds one of a closed set of values (validated when it was written).
fn enum_col<T>(r: &rusqlite::Row<'_>, i: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unexpected stored value '{text}'").into(),
        )
    })
}

fn render_list(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListView> {
    Ok(ListView {
        id: ListId::from_stored(r.get(0)?),
        name: r.get(1)?,
        description: r.get(2)?,
        list_type: enum_col(r, 3, ListType::parse)?,
        match_mode: enum_col(r, 4, MatchMode::parse)?,
        is_active: r.get(5)?,
        item_count: r.get(6)?,
        archived_at: r.get(7)?,
        org_id: "org_default".to_string(),
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        workflows: None,
    })
}

/// Filters of the list of lists, already parsed.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub list_type: Option<ListType>,
    pub match_mode: Option<MatchMode>,
    pub is_active: Option<bool>,
    pub include_archived: bool,
}

pub fn list(conn: &ReadOnly, environment: &str, f: &ListFilter, page: Page) -> AppResult<OffsetPage<ListView>> {
    let filter = "environment = ?1 AND (?2 IS NULL OR list_type = ?2) AND (?3 IS NULL OR match_mode = ?3)
        AND (?4 IS NULL OR is_active = ?4) AND (?5 OR archived_at IS NULL)";
    let list_type = f.list_type.map(ListType::as_str);
    let match_mode = f.match_mode.map(MatchMode::as_str);
    let args = params![environment, list_type, match_mode, f.is_active, f.include_archived];
    let total: i64 =
        conn.query_row(&format!("SELECT COUNT(*) FROM custom_lists WHERE {filter}"), args, |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {LIST_COLUMNS} FROM custom_lists WHERE {filter} ORDER BY id DESC LIMIT ?6 OFFSET ?7"
    ))?;
    let data = stmt
        .query_map(
            params![environment, list_type, match_mode, f.is_active, f.include_archived, page.limit, page.offset],
            render_list,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage::new(data, total, page))
}

fn list_row(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<ListView> {
    conn.query_row(
        &format!("SELECT {LIST_COLUMNS} FROM custom_lists WHERE id = ?1 AND environment = ?2"),
        params![id, environment],
        render_list,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("List"))
}

/// The list, with the workflows whose published version references it.
pub fn get(conn: &ReadOnly, environment: &str, id: &ListId) -> AppResult<ListView> {
    let mut list = list_row(conn, environment, id.as_str())?;
    let mut workflows = Vec::new();
    for wf in referencing_workflows(conn, environment, id.as_str(), false)? {
        let w =
            conn.query_row("SELECT id, name, is_active, current_version FROM workflows WHERE id = ?1", [&wf], |r| {
                Ok(ListWorkflow {
                    id: WorkflowId::from_stored(r.get(0)?),
                    name: r.get(1)?,
                    is_active: r.get(2)?,
                    version: r.get(3)?,
                })
            })?;
        workflows.push(w);
    }
    list.workflows = Some(workflows);
    Ok(list)
}

/// The list's id if it exists in this environment.
pub fn require(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<String> {
    conn.query_row("SELECT id FROM custom_lists WHERE id = ?1 AND environment = ?2", params![id, environment], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| AppError::not_found("List"))
}

/// Every custom list among `ids` exists in this environment; the first that does not is a 404.
pub fn require_custom_lists(conn: &ReadOnly, environment: &str, ids: &[MonitoredList]) -> AppResult<()> {
    for id in ids {
        if let MonitoredList::List(list) = id {
            // A list id that names no list of this environment refers to nothing: 404.
            if require(conn, environment, list.as_str()).is_err() {
                return Err(AppError::NotFound(format!("List not found: {list} (list_ids).")));
            }
        }
    }
    Ok(())
}

struct ItemRow {
    id: String,
    value: String,
    notes: Option<String>,
    created_at: String,
}

fn open_value(key: &DataKey, list_id: &str, item: &ItemRow) -> AppResult<Map<String, Value>> {
    Ok(serde_json::from_str(&open_part(key, list_id, &item.id, "value", &item.value)?)?)
}

/// One list item, its value opened for the key holder.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListItemView {
    pub id: ListItemId,
    pub list_id: ListId,
    /// The canonical value; its keys depend on the list type (e.g. `{"email": "..."}` for email lists,
    /// `{"first_name", "last_name", "date_of_birth"}` for name lists).
    #[schema(value_type = Object, example = json!({"email": "fraud@example.com"}))]
    pub value: Map<String, Value>,
    pub notes: Option<String>,
    pub created_at: String,
}

/// The answer to a bulk add or a CSV import: the new items, in input order.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemsAdded {
    /// How many items were added.
    pub created: usize,
    pub data: Vec<ListItemView>,
}

fn render_item(key: &DataKey, list_id: &str, item: &ItemRow) -> AppResult<ListItemView> {
    let notes = item.notes.as_deref().map(|n| open_part(key, list_id, &item.id, "notes", n)).transpose()?;
    Ok(ListItemView {
        id: ListItemId::from_stored(item.id.clone()),
        list_id: ListId::from_stored(list_id.to_string()),
        value: open_value(key, list_id, item)?,
        notes,
        created_at: item.created_at.clone(),
    })
}

fn item_rows(conn: &ReadOnly, list_id: &str, limit: i64, offset: i64) -> AppResult<Vec<ItemRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, value, notes, created_at FROM custom_list_items WHERE list_id = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![list_id, limit, offset], |r| {
        Ok(ItemRow { id: r.get(0)?, value: r.get(1)?, notes: r.get(2)?, created_at: r.get(3)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn items(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    list_id: &ListId,
    page: Page,
) -> AppResult<OffsetPage<ListItemView>> {
    let list_id = require(conn, environment, list_id.as_str())?;
    let total: i64 =
        conn.query_row("SELECT COUNT(*) FROM custom_list_items WHERE list_id = ?1", [&list_id], |r| r.get(0))?;
    let rows = item_rows(conn, &list_id, page.limit, page.offset)?;
    let key = list_key(conn, keyring, &list_id)?;
    let data = rows.iter().map(|i| render_item(&key, &list_id, i)).collect::<AppResult<Vec<_>>>()?;
    Ok(OffsetPage::new(data, total, page))
}

/// Items by id, in the given order (the answer to a bulk add or an import).
pub fn items_by_id(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    list_id: &ListId,
    ids: &[ListItemId],
) -> AppResult<Vec<ListItemView>> {
    let list_id = require(conn, environment, list_id.as_str())?;
    let key = list_key(conn, keyring, &list_id)?;
    let mut stmt = conn
        .prepare_cached("SELECT id, value, notes, created_at FROM custom_list_items WHERE id = ?1 AND list_id = ?2")?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = stmt
            .query_row(params![id.as_str(), list_id], |r| {
                Ok(ItemRow { id: r.get(0)?, value: r.get(1)?, notes: r.get(2)?, created_at: r.get(3)? })
            })
            .optional()?
            .ok_or_else(|| AppError::not_found("List item"))?;
        out.push(render_item(&key, &list_id, &row)?);
    }
    Ok(out)
}

/// The items just added, with their count.
pub fn items_added(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    list_id: &ListId,
    ids: &[ListItemId],
) -> AppResult<ItemsAdded> {
    let data = items_by_id(conn, keyring, environment, list_id, ids)?;
    Ok(ItemsAdded { created: data.len(), data })
}

pub fn item(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    list_id: &ListId,
    item_id: &ListItemId,
) -> AppResult<ListItemView> {
    let mut found = items_by_id(conn, keyring, environment, list_id, std::slice::from_ref(item_id))?;
    Ok(found.remove(0))
}

/// The list's items as CSV: the value keys of its type, then notes, id and created_at (which an
/// import ignores, so an export re-imports as it is). Returns (file name, text).
pub fn export_csv(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    list_id: &ListId,
) -> AppResult<(String, String)> {
    let (list_id, list_type): (String, String) = conn
        .query_row(
            "SELECT id, list_type FROM custom_lists WHERE id = ?1 AND environment = ?2",
            params![list_id.as_str(), environment],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("List"))?;
    let t = ListType::parse(&list_type).ok_or_else(|| AppError::Internal("unknown list type".into()))?;
    let key = list_key(conn, keyring, &list_id)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    let mut header: Vec<&str> = t.value_keys().to_vec();
    header.extend(["notes", "id", "created_at"]);
    out.write_record(&header).map_err(csv_err)?;
    for row in item_rows(conn, &list_id, i64::MAX, 0)? {
        let value = open_value(&key, &list_id, &row)?;
        let notes = row.notes.as_deref().map(|n| open_part(&key, &list_id, &row.id, "notes", n)).transpose()?;
        let mut record: Vec<String> = t.value_keys().iter().map(|k| dom::csv_cell(value.get(*k))).collect();
        record.extend([notes.unwrap_or_default(), row.id.clone(), row.created_at.clone()]);
        out.write_record(&record).map_err(csv_err)?;
    }
    let bytes = out.into_inner().map_err(|e| AppError::Internal(format!("csv: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| AppError::Internal("csv is not UTF-8".into()))?;
    Ok((format!("{list_id}.csv"), text))
}

// ---------------------------------------------------------------------------------------------------------
// Matching

/// One match of a check: which list and item matched, on which subject field, how closely. Never
/// holds the matched value.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListCheckMatch {
    pub list_id: ListId,
    pub list_name: String,
    pub list_type: ListType,
    pub match_mode: MatchMode,
    pub list_item_id: ListItemId,
    /// 1 for exact matches; the similarity (0 to 1) for names and faces.
    #[schema(minimum = 0, maximum = 1)]
    pub score: f64,
    /// The subject field that matched.
    #[schema(example = "email")]
    pub matched_field: String,
    /// Matcher details (e.g. the distance of a geolocation match).
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
}

/// The answer to `POST /lists/check`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListCheckResult {
    pub data: Vec<ListCheckMatch>,
    pub total_matches: usize,
    /// `blocked` when a block list matched, else `flagged` on a flag list, `allowed` on an allow list,
    /// `clear` without matches.
    pub outcome: Outcome,
}

fn check_match(m: ListMatch) -> AppResult<ListCheckMatch> {
    let bad = |what: &str| AppError::Internal(format!("list match with an unknown {what}"));
    Ok(ListCheckMatch {
        list_type: ListType::parse(&m.list_type).ok_or_else(|| bad("list type"))?,
        match_mode: MatchMode::parse(&m.match_mode).ok_or_else(|| bad("match mode"))?,
        list_id: ListId::from_stored(m.list_id),
        list_name: m.list_name,
        list_item_id: ListItemId::from_stored(m.list_item_id),
        score: m.score,
        matched_field: m.matched_field,
        details: m.details,
    })
}

/// `POST /lists/check`: the subject's matches against `list_ids` (every active list when None),
/// without persisting anything. A named list that does not exist here is a 422; an inactive or
/// archived one is skipped.
pub fn check(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    subject: &Subject,
    list_ids: Option<&[ListId]>,
) -> AppResult<ListCheckResult> {
    let names: Option<Vec<String>> = list_ids.map(|ids| ids.iter().map(|i| i.as_str().to_string()).collect());
    let lists = shared_reads::select_lists(conn, environment, names.as_deref(), true)?;
    let found = shared_reads::matches_in(conn, keyring, environment, subject, &lists)?;
    let outcome = dom::outcome(found.iter().map(|m| m.match_mode.as_str()));
    let outcome = Outcome::parse(outcome).ok_or_else(|| AppError::Internal(format!("unknown outcome {outcome}")))?;
    let data = found.into_iter().map(check_match).collect::<AppResult<Vec<_>>>()?;
    Ok(ListCheckResult { total_matches: data.len(), data, outcome })
}

// ---------------------------------------------------------------------------------------------------------
// Match records

const MATCH_COLUMNS: &str = "id, session_id, list_id, list_item_id, list_type, match_mode, score, matched_field,
    details, is_false_positive, false_positive_reason, marked_at, marked_by, created_at";

/// A list match recorded during a verification.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListMatchRecord {
    pub id: ListMatchId,
    pub session_id: SessionId,
    pub list_id: ListId,
    pub list_item_id: ListItemId,
    pub list_type: ListType,
    pub match_mode: MatchMode,
    #[schema(minimum = 0, maximum = 1)]
    pub score: f64,
    pub matched_field: String,
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
    /// Marked by a reviewer; a false positive no longer counts towards the outcome.
    pub is_false_positive: bool,
    pub false_positive_reason: Option<String>,
    pub marked_false_positive_at: Option<String>,
    pub marked_false_positive_by: Option<String>,
    pub created_at: String,
}

fn render_match(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListMatchRecord> {
    let details: String = r.get(8)?;
    Ok(ListMatchRecord {
        id: ListMatchId::from_stored(r.get(0)?),
        session_id: SessionId::from_stored(r.get(1)?),
        list_id: ListId::from_stored(r.get(2)?),
        list_item_id: ListItemId::from_stored(r.get(3)?),
        list_type: enum_col(r, 4, ListType::parse)?,
        match_mode: enum_col(r, 5, MatchMode::parse)?,
        score: r.get(6)?,
        matched_field: r.get(7)?,
        details: serde_json::from_str::<Map<String, Value>>(&details).unwrap_or_default(),
        is_false_positive: r.get(9)?,
        false_positive_reason: r.get(10)?,
        marked_false_positive_at: r.get(11)?,
        marked_false_positive_by: r.get(12)?,
        created_at: r.get(13)?,
    })
}

pub fn get_match(conn: &ReadOnly, environment: &str, id: &ListMatchId) -> AppResult<ListMatchRecord> {
    conn.query_row(
        &format!("SELECT {MATCH_COLUMNS} FROM list_matches WHERE id = ?1 AND environment = ?2"),
        params![id.as_str(), environment],
        render_match,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("List match"))
}

/// A session's match records (404 when the session is not in this environment).
pub fn session_matches(
    conn: &ReadOnly,
    environment: &str,
    session_id: &SessionId,
    page: Page,
) -> AppResult<OffsetPage<ListMatchRecord>> {
    let session_id = session_id.as_str();
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND environment = ?2)",
        params![session_id, environment],
        |r| r.get(0),
    )?;
    if !exists {
        return Err(AppError::not_found("Session"));
    }
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM list_matches WHERE session_id = ?1 AND environment = ?2",
        params![session_id, environment],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MATCH_COLUMNS} FROM list_matches WHERE session_id = ?1 AND environment = ?2 ORDER BY created_at, id LIMIT ?3 OFFSET ?4"
    ))?;
    let data = stmt
        .query_map(params![session_id, environment, page.limit, page.offset], render_match)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage::new(data, total, page))
}
