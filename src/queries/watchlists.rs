//! Watchlist reads: the lists and their versions (counts, digest, monitoring summary), the current entries
//! for the in-memory screening snapshot, and the versions still awaiting a monitoring pass. Must not write.

use super::identities::render_actor;
use crate::domain::watchlist::WATCHLIST_IDS;
use crate::error::{AppError, AppResult};
use crate::screening::WatchlistEntry;
use crate::screening_service::{list_source, ListVersionRef, LoadedEntry};
use crate::store::ReadConn;
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Value};

/// Display names of the lists idv imports.
pub fn display_name(watchlist_id: &str) -> &'static str {
    match watchlist_id {
        "ofac" => "OFAC Specially Designated Nationals (SDN) List",
        "un" => "UN Security Council Consolidated List",
        "eu" => "EU Consolidated Financial Sanctions List",
        "uk" => "UK HM Treasury (OFSI) Consolidated List",
        "opensanctions" => "OpenSanctions",
        _ => "",
    }
}

/// The highest event seq of any recorded version (0 when none): the snapshot's freshness stamp.
pub fn latest_seq(conn: &Connection) -> AppResult<i64> {
    Ok(conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM watchlist_versions", [], |r| r.get(0))?)
}

/// The current version of each imported list.
pub fn current_versions(conn: &Connection) -> AppResult<Vec<ListVersionRef>> {
    let mut stmt = conn.prepare(
        "SELECT v.source, v.id, v.published, v.entry_count, v.imported_at FROM watchlist_versions v
         WHERE v.seq = (SELECT MAX(w.seq) FROM watchlist_versions w WHERE w.source = v.source) ORDER BY v.source",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(ListVersionRef {
            watchlist_id: r.get(0)?,
            version_id: r.get(1)?,
            published: r.get(2)?,
            entry_count: r.get(3)?,
            imported_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every current entry, decoded, in a stable order.
pub fn load_entries(conn: &Connection) -> AppResult<Vec<LoadedEntry>> {
    let mut stmt =
        conn.prepare("SELECT entry, entry_hash, version_id FROM watchlist_entries ORDER BY source, entry_id")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let text: String = r.get(0)?;
        let entry: WatchlistEntry =
            serde_json::from_str(&text).map_err(|e| AppError::Internal(format!("undecodable watchlist entry: {e}")))?;
        out.push(LoadedEntry { entry, hash: r.get(1)?, version_id: r.get(2)? });
    }
    Ok(out)
}

/// Versions whose monitoring pass has not run yet, oldest first: (version id, watchlist id, seq).
pub fn pending_monitoring(conn: &Connection) -> AppResult<Vec<(String, String, i64)>> {
    let mut stmt = conn
        .prepare("SELECT id, source, seq FROM watchlist_versions WHERE monitoring_status = 'pending' ORDER BY seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The latest version record of one list, if any: (version id, content digest).
pub fn latest_version(conn: &Connection, watchlist_id: &str) -> AppResult<Option<(String, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, content_digest FROM watchlist_versions WHERE source = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([watchlist_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

const VERSION_COLUMNS: &str = "id, source, list_source, published, content_digest, entry_count, added, changed,
    removed, skipped, files, imported_by, imported_at, monitoring_status, monitoring";

fn render_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let files: String = r.get(10)?;
    let monitoring: Option<String> = r.get(14)?;
    let mut monitoring_obj =
        monitoring.and_then(|m| serde_json::from_str::<Value>(&m).ok()).unwrap_or_else(|| json!({}));
    if let Some(o) = monitoring_obj.as_object_mut() {
        o.remove("version_id");
        o.insert("status".into(), json!(r.get::<_, String>(13)?));
    }
    let actor: String = r.get(11)?;
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "object": "watchlist_version",
        "watchlist_id": r.get::<_, String>(1)?,
        "source": r.get::<_, String>(2)?,
        "published": r.get::<_, Option<String>>(3)?,
        "content_digest": r.get::<_, String>(4)?,
        "entry_count": r.get::<_, i64>(5)?,
        "counts": {
            "total": r.get::<_, i64>(5)?,
            "added": r.get::<_, i64>(6)?,
            "changed": r.get::<_, i64>(7)?,
            "removed": r.get::<_, i64>(8)?,
            "skipped": r.get::<_, i64>(9)?,
        },
        "files": serde_json::from_str::<Value>(&files).unwrap_or(Value::Null),
        "imported_by": render_actor(&actor),
        "imported_at": r.get::<_, String>(12)?,
        "monitoring": monitoring_obj,
    }))
}

pub fn version(conn: &ReadConn, version_id: &str) -> AppResult<Value> {
    conn.prepare_cached(&format!("SELECT {VERSION_COLUMNS} FROM watchlist_versions WHERE id = ?1"))?
        .query_row([version_id], render_version)
        .optional()?
        .ok_or_else(|| AppError::not_found("Watchlist version"))
}

fn watchlist(conn: &Connection, watchlist_id: &str, history: usize) -> AppResult<Value> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM watchlist_versions WHERE source = ?1 ORDER BY seq DESC LIMIT ?2"
    ))?;
    let versions: Vec<Value> =
        stmt.query_map(rusqlite::params![watchlist_id, history as i64], render_version)?.collect::<Result<_, _>>()?;
    let version_count: i64 =
        conn.query_row("SELECT COUNT(*) FROM watchlist_versions WHERE source = ?1", [watchlist_id], |r| r.get(0))?;
    let entry_count: i64 =
        conn.query_row("SELECT COUNT(*) FROM watchlist_entries WHERE source = ?1", [watchlist_id], |r| r.get(0))?;
    let current = versions.first().cloned().unwrap_or(Value::Null);
    Ok(json!({
        "id": watchlist_id,
        "object": "watchlist",
        "name": display_name(watchlist_id),
        "source": list_source(watchlist_id).map(|s| s.as_str()),
        "entry_count": entry_count,
        "imported": version_count > 0,
        "current_version": current,
        "version_count": version_count,
        "last_imported_at": current.get("imported_at").cloned().unwrap_or(Value::Null),
        "versions": if history > 1 { Value::Array(versions) } else { Value::Null },
    }))
}

/// Every list idv can import, with its current version (null until imported).
pub fn list(conn: &ReadConn) -> AppResult<Value> {
    let mut data = Vec::new();
    for id in WATCHLIST_IDS {
        let mut w = watchlist(conn, id, 1)?;
        if let Some(o) = w.as_object_mut() {
            o.remove("versions");
        }
        data.push(w);
    }
    let total = data.len();
    Ok(json!({ "data": data, "pagination": { "total": total, "limit": total, "offset": 0 } }))
}

/// One list with its version history (newest first, at most 100).
pub fn get(conn: &ReadConn, watchlist_id: &str) -> AppResult<Value> {
    if !WATCHLIST_IDS.contains(&watchlist_id) {
        return Err(AppError::not_found("Watchlist"));
    }
    watchlist(conn, watchlist_id, 100)
}
