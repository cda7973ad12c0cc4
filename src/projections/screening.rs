//! Projects watchlist and check events into `watchlist_entries`, `watchlist_versions`, `watchlist_imports`,
//! `watchlist_import_entries` (a background import's staged entries), `checks`,
//! `check_hits`, `screening_dismissals`, `check_monitoring` and `monitoring_passes` (the monitoring
//! history). Copies sealed values as they are. Must not write any other table.

use crate::domain::check::{CheckEvent, Created, HitRecord, RunResult};
use crate::domain::watchlist::{EntriesImported, ImportStarted, WatchlistEvent};
use crate::error::{AppError, AppResult};
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection};

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    if event.event_type.starts_with("Check") {
        return check(conn, event);
    }
    let decoded = WatchlistEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?;
    match decoded {
        Some(WatchlistEvent::EntriesImported(e)) => entries(conn, &e),
        Some(WatchlistEvent::ImportStarted(e)) => import_started(conn, event, &e),
        Some(WatchlistEvent::ImportFailed(e)) => {
            conn.exec(
                "UPDATE watchlist_imports SET status = 'failed', error = ?1, finished_at = ?2, entities_read = ?3
                 WHERE id = ?4",
                params![e.error, event.recorded_at, e.entities_read as i64, e.version_id],
            )?;
            conn.exec("DELETE FROM watchlist_import_entries WHERE version_id = ?1", [&e.version_id])?;
            Ok(())
        }
        Some(WatchlistEvent::SnapshotImported(e)) => {
            if importing(conn, &e.version_id)? {
                let read = e.counts.total + e.counts.skipped;
                activate_staged(conn, &e.version_id, &e.source, &event.recorded_at, read as i64)?;
            }
            let delta = e.counts.added + e.counts.changed;
            conn.exec(
                "INSERT INTO watchlist_versions (id, source, list_source, published, content_digest, entry_count, added,
                    changed, removed, skipped, files, imported_by, imported_at, monitoring_status, monitoring, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, NULL, ?15)",
                params![
                    e.version_id,
                    e.source,
                    e.list_source,
                    e.published,
                    e.content_digest,
                    e.counts.total as i64,
                    e.counts.added as i64,
                    e.counts.changed as i64,
                    e.counts.removed as i64,
                    e.counts.skipped as i64,
                    serde_json::to_string(&e.files)?,
                    event.actor,
                    event.recorded_at,
                    if delta == 0 { "not_needed" } else { "pending" },
                    event.seq
                ],
            )?;
            Ok(())
        }
        Some(WatchlistEvent::MonitoringCompleted(mut e)) => {
            let passes = std::mem::take(&mut e.passes);
            // The version keeps the pass's counts; each subject's part goes to the history.
            conn.exec(
                "UPDATE watchlist_versions SET monitoring_status = 'completed', monitoring = ?1 WHERE id = ?2",
                params![serde_json::to_string(&e)?, e.version_id],
            )?;
            let mut put = conn.prepare_cached(
                "INSERT INTO monitoring_passes (event_seq, position, subject_type, subject_id, environment,
                    watchlist_id, version_id, hits_before, hits_after, new_hit_ids, check_id, screened_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            let watchlist = event.stream_id.strip_prefix("watchlist_").unwrap_or(&event.stream_id);
            for (position, p) in passes.iter().enumerate() {
                put.execute(params![
                    event.seq,
                    position as i64,
                    p.subject_type,
                    p.subject_id,
                    p.environment,
                    watchlist,
                    e.version_id,
                    p.hits_before,
                    p.hits_after,
                    serde_json::to_string(&p.new_hit_ids)?,
                    p.check_id,
                    event.recorded_at
                ])?;
            }
            Ok(())
        }
        None => Ok(()),
    }
}

fn import_started(conn: &Connection, event: &StoredEvent, e: &ImportStarted) -> AppResult<()> {
    conn.exec(
        "INSERT INTO watchlist_imports (id, source, list_source, status, content_digest, files, bytes_total,
            entries_staged, entities_read, base_version_id, error, started_by, started_at, finished_at, seq)
         VALUES (?1, ?2, ?3, 'importing', ?4, ?5, ?6, 0, NULL, ?7, NULL, ?8, ?9, NULL, ?10)",
        params![
            e.version_id,
            e.source,
            e.list_source,
            e.content_digest,
            serde_json::to_string(&e.files)?,
            e.bytes_total as i64,
            e.base_version_id,
            event.actor,
            event.recorded_at,
            event.seq
        ],
    )?;
    Ok(())
}

/// True while `version_id` is a background import that has not ended.
fn importing(conn: &Connection, version_id: &str) -> AppResult<bool> {
    use rusqlite::OptionalExtension;
    let status: Option<String> = conn
        .prepare_cached("SELECT status FROM watchlist_imports WHERE id = ?1")?
        .query_row([version_id], |r| r.get(0))
        .optional()?;
    Ok(status.as_deref() == Some("importing"))
}

/// A background import's version is recorded: its staged changes become the list's entries at once.
fn activate_staged(conn: &Connection, version_id: &str, source: &str, at: &str, read: i64) -> AppResult<()> {
    conn.exec(
        "DELETE FROM watchlist_entries WHERE source = ?1 AND entry_id IN
            (SELECT entry_id FROM watchlist_import_entries WHERE version_id = ?2 AND removed = 1)",
        params![source, version_id],
    )?;
    conn.exec(
        "INSERT INTO watchlist_entries (source, entry_id, entity_type, entry, entry_hash, version_id)
         SELECT ?1, entry_id, entity_type, entry, entry_hash, version_id FROM watchlist_import_entries
         WHERE version_id = ?2 AND removed = 0
         ON CONFLICT (source, entry_id) DO UPDATE SET entity_type = excluded.entity_type, entry = excluded.entry,
            entry_hash = excluded.entry_hash, version_id = excluded.version_id",
        params![source, version_id],
    )?;
    conn.exec("DELETE FROM watchlist_import_entries WHERE version_id = ?1", [version_id])?;
    conn.exec(
        "UPDATE watchlist_imports SET status = 'active', finished_at = ?1, entities_read = ?2 WHERE id = ?3",
        params![at, read, version_id],
    )?;
    Ok(())
}

fn entries(conn: &Connection, e: &EntriesImported) -> AppResult<()> {
    if importing(conn, &e.version_id)? {
        return stage(conn, e);
    }
    let mut put = conn.prepare_cached(
        "INSERT INTO watchlist_entries (source, entry_id, entity_type, entry, entry_hash, version_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (source, entry_id) DO UPDATE SET entity_type = excluded.entity_type, entry = excluded.entry,
            entry_hash = excluded.entry_hash, version_id = excluded.version_id",
    )?;
    for h in e.added.iter().chain(e.changed.iter()) {
        let entry_id = h.entry["entry_id"].as_str().unwrap_or_default();
        let entity_type = h.entry["entity_type"].as_str().unwrap_or_default();
        put.execute(params![e.source, entry_id, entity_type, h.entry.to_string(), h.hash, e.version_id])?;
    }
    let mut delete = conn.prepare_cached("DELETE FROM watchlist_entries WHERE source = ?1 AND entry_id = ?2")?;
    for id in &e.removed {
        delete.execute(params![e.source, id])?;
    }
    Ok(())
}

/// A running background import's slice: kept aside under its version until the version is recorded.
fn stage(conn: &Connection, e: &EntriesImported) -> AppResult<()> {
    let mut put = conn.prepare_cached(
        "INSERT INTO watchlist_import_entries (version_id, entry_id, entity_type, entry, entry_hash, removed)
         VALUES (?1, ?2, ?3, ?4, ?5, 0)
         ON CONFLICT (version_id, entry_id) DO UPDATE SET entity_type = excluded.entity_type,
            entry = excluded.entry, entry_hash = excluded.entry_hash, removed = 0",
    )?;
    for h in e.added.iter().chain(e.changed.iter()) {
        let entry_id = h.entry["entry_id"].as_str().unwrap_or_default();
        let entity_type = h.entry["entity_type"].as_str().unwrap_or_default();
        put.execute(params![e.version_id, entry_id, entity_type, h.entry.to_string(), h.hash])?;
    }
    let mut remove = conn.prepare_cached(
        "INSERT OR REPLACE INTO watchlist_import_entries (version_id, entry_id, entity_type, entry, entry_hash,
            removed) VALUES (?1, ?2, '', NULL, NULL, 1)",
    )?;
    for id in &e.removed {
        remove.execute(params![e.version_id, id])?;
    }
    conn.prepare_cached("UPDATE watchlist_imports SET entries_staged = entries_staged + ?1 WHERE id = ?2")?
        .execute(params![(e.added.len() + e.changed.len()) as i64, e.version_id])?;
    Ok(())
}

fn insert_hits(conn: &Connection, check_id: &str, run: i64, first: i64, hits: &[HitRecord]) -> AppResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO check_hits (id, check_id, run, position, watchlist_id, source, entry_id, entry_hash, version_id,
            entity_type, matched_name, matched_name_kind, score, features, explanation, entry)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    for (position, h) in hits.iter().enumerate() {
        stmt.execute(params![
            h.id,
            check_id,
            run,
            first + position as i64,
            h.watchlist_id,
            h.source,
            h.entry_id,
            h.entry_hash,
            h.version_id,
            h.entity_type,
            h.matched_name,
            h.matched_name_kind,
            h.score,
            h.features.to_string(),
            h.explanation,
            h.entry.to_string()
        ])?;
    }
    Ok(())
}

fn completed_at<'a>(result: &RunResult, at: &'a str) -> Option<&'a str> {
    (result.status != "pending").then_some(at)
}

fn check(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let decoded = CheckEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| AppError::Internal(format!("undecodable {} event {}: {e}", event.event_type, event.event_id)))?;
    let Some(decoded) = decoded else { return Ok(()) };
    let id = event.stream_id.as_str();
    let at = event.recorded_at.as_str();
    match &decoded {
        CheckEvent::Created(c) => {
            let Created { result: r, .. } = c.as_ref();
            conn.exec(
                "INSERT INTO checks (id, environment, check_type, origin, status, provider, error_reason, note,
                    external_ref, identity_id, session_id, batch_id, subject_key, key_owner, subject, threshold,
                    list_versions, suppressed, run, hit_count, total_hits, tags, redacted_at, created_at, updated_at,
                    completed_at, stream_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, 1, ?19, ?19,
                    ?20, NULL, ?21, ?21, ?22, ?23)",
                params![
                    id,
                    event.environment,
                    c.check_type,
                    c.origin,
                    r.status,
                    r.provider,
                    r.error_reason,
                    r.note,
                    c.external_ref,
                    c.identity_id,
                    c.session_id,
                    c.batch_id,
                    c.subject_key,
                    c.key_owner,
                    serde_json::to_string(&c.subject)?,
                    r.threshold,
                    serde_json::to_string(&r.list_versions)?,
                    serde_json::to_string(&r.suppressed)?,
                    r.hits.len() as i64,
                    serde_json::to_string(&c.tags)?,
                    at,
                    completed_at(r, at),
                    event.stream_seq
                ],
            )?;
            insert_hits(conn, id, 1, 0, &r.hits)?;
            return Ok(());
        }
        CheckEvent::Rerun(e) => {
            let r = &e.result;
            conn.exec(
                "UPDATE checks SET status = ?1, provider = ?2, error_reason = ?3, note = ?4, threshold = ?5,
                    list_versions = ?6, suppressed = ?7, run = ?8, hit_count = ?9, total_hits = ?9, completed_at = ?10
                 WHERE id = ?11",
                params![
                    r.status,
                    r.provider,
                    r.error_reason,
                    r.note,
                    r.threshold,
                    serde_json::to_string(&r.list_versions)?,
                    serde_json::to_string(&r.suppressed)?,
                    e.run,
                    r.hits.len() as i64,
                    completed_at(r, at),
                    id
                ],
            )?;
            insert_hits(conn, id, e.run, 0, &r.hits)?;
        }
        CheckEvent::HitsDismissed(d) => {
            let mut mark = conn.prepare_cached(
                "UPDATE check_hits SET dismissal_id = ?1, dismissal_reason = ?2, dismissed_by = ?3, dismissed_at = ?4
                 WHERE id = ?5 AND check_id = ?6",
            )?;
            let mut remember = conn.prepare_cached(
                "INSERT INTO screening_dismissals (environment, subject_key, watchlist_id, entry_id, entry_hash,
                    dismissal_id, check_id, hit_id, dismissed_by, dismissed_at)
                 SELECT ?1, ?2, watchlist_id, entry_id, entry_hash, ?3, check_id, id, ?4, ?5 FROM check_hits
                 WHERE id = ?6 AND check_id = ?7
                 ON CONFLICT (environment, subject_key, watchlist_id, entry_id) DO UPDATE SET
                    entry_hash = excluded.entry_hash, dismissal_id = excluded.dismissal_id,
                    check_id = excluded.check_id, hit_id = excluded.hit_id, dismissed_by = excluded.dismissed_by,
                    dismissed_at = excluded.dismissed_at",
            )?;
            for hit in &d.hit_ids {
                mark.execute(params![d.dismissal_id, d.reason, event.actor, at, hit, id])?;
                remember.execute(params![
                    event.environment,
                    d.subject_key,
                    d.dismissal_id,
                    event.actor,
                    at,
                    hit,
                    id
                ])?;
            }
            conn.exec(
                "UPDATE checks SET hit_count = (SELECT COUNT(*) FROM check_hits h
                    WHERE h.check_id = checks.id AND h.run = checks.run AND h.dismissal_id IS NULL)
                 WHERE id = ?1",
                [id],
            )?;
        }
        CheckEvent::TagsChanged(t) => {
            conn.exec("UPDATE checks SET tags = ?1 WHERE id = ?2", params![serde_json::to_string(&t.tags)?, id])?;
        }
        CheckEvent::MonitoringEnabled => {
            conn.exec(
                "INSERT INTO check_monitoring (check_id, environment, enabled_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (check_id) DO NOTHING",
                params![id, event.environment, at],
            )?;
        }
        CheckEvent::MonitoringDisabled => {
            conn.exec("DELETE FROM check_monitoring WHERE check_id = ?1", [id])?;
        }
        CheckEvent::MonitoringHitsFound(m) => {
            let first: i64 = conn.row(
                "SELECT COUNT(*) FROM check_hits WHERE check_id = ?1 AND run = ?2",
                params![id, m.run],
                |r| r.get(0),
            )?;
            insert_hits(conn, id, m.run, first, &m.hits)?;
            conn.exec(
                "UPDATE checks SET status = 'hit', error_reason = NULL,
                    hit_count = hit_count + ?1, total_hits = total_hits + ?1 WHERE id = ?2",
                params![m.hits.len() as i64, id],
            )?;
        }
        CheckEvent::Redacted => {
            // Its subject is gone: nothing left to re-screen.
            conn.exec("DELETE FROM check_monitoring WHERE check_id = ?1", [id])?;
            conn.exec("UPDATE checks SET subject = '{}', redacted_at = ?1 WHERE id = ?2", params![at, id])?;
            conn.exec("UPDATE check_hits SET explanation = NULL, dismissal_reason = NULL WHERE check_id = ?1", [id])?;
        }
    }
    conn.exec("UPDATE checks SET updated_at = ?1, stream_seq = ?2 WHERE id = ?3", params![at, event.stream_seq, id])?;
    Ok(())
}
