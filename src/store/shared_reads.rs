//! View reads that both the writer (on its own connection, inside its transaction) and the queries (on a
//! `ReadOnly`) need: the workflows naming a list, matching a subject against custom lists, screening
//! dismissals, open hits, monitored lists, session existence, retention settings, the latest watchlist
//! version and the workflow a session runs. Generic over `Reads`; must not write.

use super::read::Reads;
use super::subject_keys::{digest, list_key, open_part};
use crate::crypto::Keyring;
use crate::domain::custom_list::{self as dom, ListMatch, ListType, Subject};
use crate::domain::settings::Retention;
use crate::domain::watchlist::MonitoredList;
use crate::domain::workflow::Graph;
use crate::error::{AppError, AppResult};
use crate::screening::records::{Dismissal, Dismissals};
use crate::screening::{score_names, EntityType};
use rusqlite::{params, OptionalExtension};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Workflows (active ones only, or all) whose published graph has a `check_against_list` node naming
/// the list in its `list_ids`.
pub fn referencing_workflows<C: Reads + ?Sized>(
    conn: &C,
    environment: &str,
    list_id: &str,
    active_only: bool,
) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT w.id, v.graph FROM workflows w
         JOIN workflow_versions v ON v.workflow_id = w.id AND v.version = w.current_version
         WHERE w.environment = ?1 AND instr(v.graph, ?2) > 0 AND (?3 = 0 OR w.is_active = 1) ORDER BY w.id",
    )?;
    let rows: Vec<(String, String)> = stmt
        .query_map(params![environment, list_id, active_only], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let names_list = |graph: &str| {
        let graph: Value = serde_json::from_str(graph).unwrap_or(Value::Null);
        graph["nodes"].as_object().into_iter().flatten().any(|(_, node)| {
            node["policy"] == "check_against_list"
                && node["list_ids"].as_array().is_some_and(|ids| ids.iter().any(|i| i == list_id))
        })
    };
    Ok(rows.into_iter().filter(|(_, graph)| names_list(graph)).map(|(id, _)| id).collect())
}

/// The retention windows of an environment, defaults filled in.
pub fn retention<C: Reads + ?Sized>(conn: &C, environment: &str) -> AppResult<Retention> {
    let mut stmt = conn.prepare_cached("SELECT name, value FROM settings WHERE environment = ?1")?;
    let rows: Vec<(String, String)> =
        stmt.query_map([environment], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut value = serde_json::to_value(Retention::default())?;
    for (name, text) in rows {
        if value.get(&name).is_some() {
            value[name] = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
        }
    }
    Ok(serde_json::from_value(value).unwrap_or_default())
}

// Custom list matching

/// An active list, as matching needs it.
pub struct ListInfo {
    id: String,
    name: String,
    list_type: ListType,
    match_mode: String,
}

fn active_lists<C: Reads + ?Sized>(conn: &C, environment: &str) -> AppResult<Vec<ListInfo>> {
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
pub fn select_lists<C: Reads + ?Sized>(
    conn: &C,
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

/// The subject's matches in `lists`: exact types by blind digest, names, places and faces by opening the
/// list's candidate items.
pub fn matches_in<C: Reads + ?Sized>(
    conn: &C,
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
    let mut value_stmt = conn.prepare_cached("SELECT id, value FROM custom_list_items WHERE id = ?1")?;
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
            let row: Option<(String, String)> =
                value_stmt.query_row([&item_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            let Some((id, sealed)) = row else { continue };
            let value: Map<String, Value> = serde_json::from_str(&open_part(&key, &list.id, &id, "value", &sealed)?)?;
            if let Some(hit) = dom::verify(list.list_type, &value, subject, &name_score) {
                push(id, hit.score, hit.matched_field, hit.details);
            }
        }
    }
    Ok(out)
}

/// The subject's matches against `list_ids` (every active list when None) for a verification: unlike
/// `queries::lists::check`, unknown list ids are skipped (a workflow may name a list that no longer applies).
pub fn check_lenient<C: Reads + ?Sized>(
    conn: &C,
    keyring: &Keyring,
    environment: &str,
    subject: &Subject,
    list_ids: Option<&[String]>,
) -> AppResult<Vec<ListMatch>> {
    let lists = select_lists(conn, environment, list_ids, false)?;
    matches_in(conn, keyring, environment, subject, &lists)
}

/// One subject's false-positive dismissals.
pub fn dismissals<C: Reads + ?Sized>(conn: &C, environment: &str, subject_key: &str) -> AppResult<Dismissals> {
    let mut stmt = conn.prepare_cached(
        "SELECT watchlist_id, entry_id, entry_hash, dismissal_id, check_id FROM screening_dismissals
         WHERE environment = ?1 AND subject_key = ?2",
    )?;
    let rows = stmt.query_map([environment, subject_key], |r| {
        Ok((
            (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
            Dismissal { entry_hash: r.get(2)?, dismissal_id: r.get(3)?, check_id: r.get(4)? },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Open (undismissed) hits in the latest run of the identity's checks.
pub fn open_hits<C: Reads + ?Sized>(conn: &C, identity_id: &str) -> AppResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM check_hits h JOIN checks c ON c.id = h.check_id
             WHERE c.identity_id = ?1 AND h.run = c.run AND h.dismissal_id IS NULL AND c.redacted_at IS NULL",
        )?
        .query_row([identity_id], |r| r.get(0))?)
}

/// The session exists in this environment.
pub fn session_exists<C: Reads + ?Sized>(conn: &C, environment: &str, session_id: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND environment = ?2)")?
        .query_row([session_id, environment], |r| r.get(0))?)
}

/// The lists an identity's monitoring is limited to (empty = every list).
pub fn monitored_lists<C: Reads + ?Sized>(conn: &C, identity_id: &str) -> AppResult<Vec<MonitoredList>> {
    let mut stmt =
        conn.prepare_cached("SELECT list_id FROM identity_monitored_lists WHERE identity_id = ?1 ORDER BY position")?;
    let rows = stmt.query_map([identity_id], |r| r.get(0).map(MonitoredList::from_stored))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The latest version record of one list, if any: (version id, content digest).
pub fn latest_version<C: Reads + ?Sized>(conn: &C, watchlist_id: &str) -> AppResult<Option<(String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, content_digest FROM watchlist_versions WHERE source = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([watchlist_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// The published graph a session runs: its workflow or the environment's default, with the version.
pub fn resolve_for_session<C: Reads + ?Sized>(
    conn: &C,
    environment: &str,
    workflow_id: Option<&str>,
) -> AppResult<Option<(String, i64, Graph)>> {
    let row: Option<(String, i64)> = match workflow_id {
        Some(id) => conn
            .query_row(
                "SELECT id, current_version FROM workflows WHERE id = ?1 AND environment = ?2",
                params![id, environment],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
        None => conn
            .query_row(
                "SELECT id, current_version FROM workflows WHERE environment = ?1 AND is_default = 1",
                [environment],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
    };
    let Some((id, version)) = row else { return Ok(None) };
    let graph: String = conn.query_row(
        "SELECT graph FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
        params![id, version],
        |r| r.get(0),
    )?;
    Ok(Some((id, version, serde_json::from_str(&graph)?)))
}
