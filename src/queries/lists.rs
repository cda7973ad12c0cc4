//! Custom list reads: lists (with the workflows that use them), items (opened for the key holder), the
//! CSV export, match records, and the matcher itself (`check`): exact types by blind digest, names,
//! places and faces by opening the list's candidate items. Must not write; never returns another
//! environment's rows.

use super::{OffsetPage, Page};
use crate::commands::lists::{digest, list_key, open_part, referencing_workflows};
use crate::crypto::{DataKey, Keyring};
use crate::domain::custom_list::{self as dom, ListMatch, ListType, MatchMode, Outcome, Subject};
use crate::domain::ids::{ListId, ListItemId, ListMatchId, SessionId, WorkflowId};
use crate::error::{AppError, AppResult};
use crate::screening::{score_names, EntityType};
use crate::store::ReadConn;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
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

pub fn list(conn: &ReadConn, environment: &str, f: &ListFilter, page: Page) -> AppResult<OffsetPage<ListView>> {
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

fn list_row(conn: &Connection, environment: &str, id: &str) -> AppResult<ListView> {
    conn.query_row(
        &format!("SELECT {LIST_COLUMNS} FROM custom_lists WHERE id = ?1 AND environment = ?2"),
        params![id, environment],
        render_list,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("List"))
}

/// The list, with the workflows whose published version references it.
pub fn get(conn: &ReadConn, environment: &str, id: &ListId) -> AppResult<ListView> {
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
pub fn require(conn: &Connection, environment: &str, id: &str) -> AppResult<String> {
    conn.query_row("SELECT id FROM custom_lists WHERE id = ?1 AND environment = ?2", params![id, environment], |r| {
        r.get(0)
    })
    .optional()?
    .ok_or_else(|| AppError::not_found("List"))
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

fn item_rows(conn: &Connection, list_id: &str, limit: i64, offset: i64) -> AppResult<Vec<ItemRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, value, notes, created_at FROM custom_list_items WHERE list_id = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![list_id, limit, offset], |r| {
        Ok(ItemRow { id: r.get(0)?, value: r.get(1)?, notes: r.get(2)?, created_at: r.get(3)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn items(
    conn: &ReadConn,
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
    conn: &ReadConn,
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
    conn: &ReadConn,
    keyring: &Keyring,
    environment: &str,
    list_id: &ListId,
    ids: &[ListItemId],
) -> AppResult<ItemsAdded> {
    let data = items_by_id(conn, keyring, environment, list_id, ids)?;
    Ok(ItemsAdded { created: data.len(), data })
}

pub fn item(
    conn: &ReadConn,
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
    conn: &ReadConn,
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

struct ListInfo {
    id: String,
    name: String,
    list_type: ListType,
    match_mode: String,
}

fn active_lists(conn: &Connection, environment: &str) -> AppResult<Vec<ListInfo>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, list_type, match_mode FROM custom_lists
         WHERE environment = ?1 AND is_active = 1 AND archived_at IS NULL ORDER BY id",
    )?;
    let rows: Vec<(String, String, String, String)> = stmt
        .query_map([environment], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, t, match_mode)| {
            ListType::parse(&t).map(|list_type| ListInfo { id, name, list_type, match_mode })
        })
        .collect())
}

/// The lists to check: every active one, or the named ones that are active. With `strict`, a name that
/// is not a list of this environment is a 422.
fn select_lists(
    conn: &Connection,
    environment: &str,
    list_ids: Option<&[String]>,
    strict: bool,
) -> AppResult<Vec<ListInfo>> {
    let active = active_lists(conn, environment)?;
    let Some(wanted) = list_ids else { return Ok(active) };
    if strict {
        let mut stmt =
            conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM custom_lists WHERE id = ?1 AND environment = ?2)")?;
        for (i, id) in wanted.iter().enumerate() {
            if !stmt.query_row(params![id, environment], |r| r.get::<_, bool>(0))? {
                return Err(AppError::NotFound(format!("List not found: {id} (list_ids[{i}]).")));
            }
        }
    }
    Ok(active.into_iter().filter(|l| wanted.iter().any(|w| w == &l.id)).collect())
}

fn name_score(a: &str, b: &str) -> f64 {
    score_names(a, b, Some(EntityType::Person))
}

fn matches_in(
    conn: &Connection,
    keyring: &Keyring,
    environment: &str,
    subject: &Subject,
    lists: &[ListInfo],
) -> AppResult<Vec<ListMatch>> {
    let mut out = Vec::new();
    let mut digest_stmt = conn.prepare_cached(
        "SELECT item_id FROM custom_list_digests WHERE environment = ?1 AND kind = ?2 AND digest = ?3 AND list_id = ?4
         ORDER BY item_id",
    )?;
    let mut scan_stmt =
        conn.prepare_cached("SELECT id FROM custom_list_items WHERE list_id = ?1 AND scan = 1 ORDER BY id")?;
    let mut value_stmt =
        conn.prepare_cached("SELECT id, value, notes, created_at FROM custom_list_items WHERE id = ?1")?;
    // Digests depend on the subject and type only, not on the list: computed once per type.
    let mut probes_by_type: HashMap<ListType, Vec<(String, &'static str, [u8; 32])>> = HashMap::new();
    for list in lists {
        let probes = probes_by_type.entry(list.list_type).or_insert_with(|| {
            dom::probes(list.list_type, subject)
                .into_iter()
                .map(|p| (p.field, p.lookup.kind, digest(keyring, environment, &p.lookup)))
                .collect()
        });
        // item id -> the subject field that found it (first wins).
        let mut candidates: BTreeMap<String, String> = BTreeMap::new();
        for (field, kind, d) in probes.iter() {
            let ids: Vec<String> = digest_stmt
                .query_map(params![environment, kind, d.to_vec(), list.id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in ids {
                candidates.entry(id).or_insert_with(|| field.clone());
            }
        }
        let mut push = |item_id: String, score: f64, matched_field: String, details: Map<String, Value>| {
            out.push(ListMatch {
                list_id: list.id.clone(),
                list_name: list.name.clone(),
                list_type: list.list_type.as_str().to_string(),
                match_mode: list.match_mode.clone(),
                list_item_id: item_id,
                score,
                matched_field,
                details,
            })
        };
        if !list.list_type.opens_values() {
            for (item_id, field) in candidates {
                push(item_id, 1.0, field, Map::new());
            }
            continue;
        }
        let scanned: Vec<String> = scan_stmt.query_map([&list.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let mut to_open: Vec<String> = candidates.into_keys().collect();
        to_open.extend(scanned);
        to_open.sort();
        to_open.dedup();
        if to_open.is_empty() {
            continue;
        }
        let key = list_key(conn, keyring, &list.id)?;
        for item_id in to_open {
            let row = value_stmt
                .query_row([&item_id], |r| {
                    Ok(ItemRow { id: r.get(0)?, value: r.get(1)?, notes: r.get(2)?, created_at: r.get(3)? })
                })
                .optional()?;
            let Some(row) = row else { continue };
            let value = open_value(&key, &list.id, &row)?;
            if let Some(hit) = dom::verify(list.list_type, &value, subject, &name_score) {
                push(row.id, hit.score, hit.matched_field, hit.details);
            }
        }
    }
    Ok(out)
}

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
    conn: &Connection,
    keyring: &Keyring,
    environment: &str,
    subject: &Subject,
    list_ids: Option<&[ListId]>,
) -> AppResult<ListCheckResult> {
    let names: Option<Vec<String>> = list_ids.map(|ids| ids.iter().map(|i| i.as_str().to_string()).collect());
    let lists = select_lists(conn, environment, names.as_deref(), true)?;
    let found = matches_in(conn, keyring, environment, subject, &lists)?;
    let outcome = dom::outcome(found.iter().map(|m| m.match_mode.as_str()));
    let outcome = Outcome::parse(outcome).ok_or_else(|| AppError::Internal(format!("unknown outcome {outcome}")))?;
    let data = found.into_iter().map(check_match).collect::<AppResult<Vec<_>>>()?;
    Ok(ListCheckResult { total_matches: data.len(), data, outcome })
}

/// Like `check`, but unknown list ids are skipped (a workflow may name a list that no longer applies).
pub fn check_lenient(
    conn: &Connection,
    keyring: &Keyring,
    environment: &str,
    subject: &Subject,
    list_ids: Option<&[String]>,
) -> AppResult<Vec<ListMatch>> {
    let lists = select_lists(conn, environment, list_ids, false)?;
    matches_in(conn, keyring, environment, subject, &lists)
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

pub fn get_match(conn: &ReadConn, environment: &str, id: &ListMatchId) -> AppResult<ListMatchRecord> {
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
    conn: &ReadConn,
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
