//! Custom list reads: lists (with the workflows that use them), items (opened for the key holder), the
//! CSV export, match records, and the matcher itself (`check`): exact types by blind digest, names,
//! places and faces by opening the list's candidate items. Must not write; never returns another
//! environment's rows.

use super::{offset_envelope, Page};
use crate::commands::lists::{digest, list_key, open_part, referencing_workflows};
use crate::crypto::{DataKey, Keyring};
use crate::domain::custom_list::{self as dom, ListMatch, ListType, Subject};
use crate::error::{AppError, AppResult};
use crate::screening::{score_names, EntityType};
use crate::store::ReadConn;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

const LIST_COLUMNS: &str =
    "id, name, description, list_type, match_mode, is_active, item_count, archived_at, created_at, updated_at";

fn render_list(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "name": r.get::<_, String>(1)?,
        "description": r.get::<_, Option<String>>(2)?,
        "list_type": r.get::<_, String>(3)?,
        "match_mode": r.get::<_, String>(4)?,
        "is_active": r.get::<_, bool>(5)?,
        "item_count": r.get::<_, i64>(6)?,
        "archived_at": r.get::<_, Option<String>>(7)?,
        "org_id": "org_default",
        "created_at": r.get::<_, String>(8)?,
        "updated_at": r.get::<_, String>(9)?,
    }))
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub list_type: Option<String>,
    pub match_mode: Option<String>,
    pub is_active: Option<bool>,
    pub include_archived: bool,
}

pub fn list(conn: &ReadConn, environment: &str, f: &ListFilter, page: Page) -> AppResult<Value> {
    let filter = "environment = ?1 AND (?2 IS NULL OR list_type = ?2) AND (?3 IS NULL OR match_mode = ?3)
        AND (?4 IS NULL OR is_active = ?4) AND (?5 OR archived_at IS NULL)";
    let args = params![environment, f.list_type, f.match_mode, f.is_active, f.include_archived];
    let total: i64 =
        conn.query_row(&format!("SELECT COUNT(*) FROM custom_lists WHERE {filter}"), args, |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {LIST_COLUMNS} FROM custom_lists WHERE {filter} ORDER BY id DESC LIMIT ?6 OFFSET ?7"
    ))?;
    let data = stmt
        .query_map(
            params![environment, f.list_type, f.match_mode, f.is_active, f.include_archived, page.limit, page.offset],
            render_list,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(offset_envelope(data, total, page))
}

fn list_row(conn: &Connection, environment: &str, id: &str) -> AppResult<Value> {
    conn.query_row(
        &format!("SELECT {LIST_COLUMNS} FROM custom_lists WHERE id = ?1 AND environment = ?2"),
        params![id, environment],
        render_list,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("List"))
}

/// The list, with the workflows whose published version references it.
pub fn get(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    let mut list = list_row(conn, environment, id)?;
    let mut workflows = Vec::new();
    for wf in referencing_workflows(conn, environment, id, false)? {
        let w =
            conn.query_row("SELECT id, name, is_active, current_version FROM workflows WHERE id = ?1", [&wf], |r| {
                Ok(json!({
                    "id": r.get::<_, String>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "is_active": r.get::<_, bool>(2)?,
                    "version": r.get::<_, i64>(3)?,
                }))
            })?;
        workflows.push(w);
    }
    list["workflows"] = Value::Array(workflows);
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

fn render_item(key: &DataKey, list_id: &str, item: &ItemRow) -> AppResult<Value> {
    let notes = item.notes.as_deref().map(|n| open_part(key, list_id, &item.id, "notes", n)).transpose()?;
    Ok(json!({
        "id": item.id,
        "list_id": list_id,
        "value": open_value(key, list_id, item)?,
        "notes": notes,
        "created_at": item.created_at,
    }))
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

pub fn items(conn: &ReadConn, keyring: &Keyring, environment: &str, list_id: &str, page: Page) -> AppResult<Value> {
    let list_id = require(conn, environment, list_id)?;
    let total: i64 =
        conn.query_row("SELECT COUNT(*) FROM custom_list_items WHERE list_id = ?1", [&list_id], |r| r.get(0))?;
    let rows = item_rows(conn, &list_id, page.limit, page.offset)?;
    let key = list_key(conn, keyring, &list_id)?;
    let data = rows.iter().map(|i| render_item(&key, &list_id, i)).collect::<AppResult<Vec<_>>>()?;
    Ok(offset_envelope(data, total, page))
}

/// Items by id, in the given order (the answer to a bulk add or an import).
pub fn items_by_id(
    conn: &ReadConn,
    keyring: &Keyring,
    environment: &str,
    list_id: &str,
    ids: &[String],
) -> AppResult<Vec<Value>> {
    let list_id = require(conn, environment, list_id)?;
    let key = list_key(conn, keyring, &list_id)?;
    let mut stmt = conn
        .prepare_cached("SELECT id, value, notes, created_at FROM custom_list_items WHERE id = ?1 AND list_id = ?2")?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let row = stmt
            .query_row(params![id, list_id], |r| {
                Ok(ItemRow { id: r.get(0)?, value: r.get(1)?, notes: r.get(2)?, created_at: r.get(3)? })
            })
            .optional()?
            .ok_or_else(|| AppError::not_found("List item"))?;
        out.push(render_item(&key, &list_id, &row)?);
    }
    Ok(out)
}

pub fn item(conn: &ReadConn, keyring: &Keyring, environment: &str, list_id: &str, item_id: &str) -> AppResult<Value> {
    let mut found = items_by_id(conn, keyring, environment, list_id, &[item_id.to_string()])?;
    Ok(found.remove(0))
}

/// The list's items as CSV: the value keys of its type, then notes, id and created_at (which an
/// import ignores, so an export re-imports as it is). Returns (file name, text).
pub fn export_csv(conn: &ReadConn, keyring: &Keyring, environment: &str, list_id: &str) -> AppResult<(String, String)> {
    let (list_id, list_type): (String, String) = conn
        .query_row(
            "SELECT id, list_type FROM custom_lists WHERE id = ?1 AND environment = ?2",
            params![list_id, environment],
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
                return Err(AppError::validation(
                    &format!("list_ids[{i}]"),
                    format!("no list '{id}' in this environment"),
                ));
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

/// `POST /lists/check`: the subject's matches against `list_ids` (every active list when None),
/// without persisting anything. A named list that does not exist here is a 422; an inactive or
/// archived one is skipped.
pub fn check(
    conn: &Connection,
    keyring: &Keyring,
    environment: &str,
    subject: &Subject,
    list_ids: Option<&[String]>,
) -> AppResult<Vec<ListMatch>> {
    let lists = select_lists(conn, environment, list_ids, true)?;
    matches_in(conn, keyring, environment, subject, &lists)
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

fn render_match(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let details: String = r.get(8)?;
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "session_id": r.get::<_, String>(1)?,
        "list_id": r.get::<_, String>(2)?,
        "list_item_id": r.get::<_, String>(3)?,
        "list_type": r.get::<_, String>(4)?,
        "match_mode": r.get::<_, String>(5)?,
        "score": r.get::<_, f64>(6)?,
        "matched_field": r.get::<_, String>(7)?,
        "details": serde_json::from_str::<Value>(&details).unwrap_or(json!({})),
        "is_false_positive": r.get::<_, bool>(9)?,
        "false_positive_reason": r.get::<_, Option<String>>(10)?,
        "marked_false_positive_at": r.get::<_, Option<String>>(11)?,
        "marked_false_positive_by": r.get::<_, Option<String>>(12)?,
        "created_at": r.get::<_, String>(13)?,
    }))
}

pub fn get_match(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    conn.query_row(
        &format!("SELECT {MATCH_COLUMNS} FROM list_matches WHERE id = ?1 AND environment = ?2"),
        params![id, environment],
        render_match,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("List match"))
}

/// A session's match records (404 when the session is not in this environment).
pub fn session_matches(conn: &ReadConn, environment: &str, session_id: &str, page: Page) -> AppResult<Value> {
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
    Ok(offset_envelope(data, total, page))
}
