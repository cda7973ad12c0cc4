//! Watchlist commands: record an imported list as a versioned snapshot (entries added, changed and removed
//! against the previous snapshot, in slices, then the version record) either in one transaction (the CLI)
//! or as a background import (started, written in bounded slices, then recorded or failed), and close a
//! version's monitoring pass. Watchlists are public data shared by both environments: their events carry
//! environment `system`. Must not parse list files or render responses.

use super::writer::{WriteCtx, Writer};
use crate::domain::ids;
use crate::domain::watchlist::{
    self as dom, Counts, EntriesImported, HashedEntry, ImportFailed, ImportStarted, MonitoringCompleted,
    SnapshotImported, WatchlistEvent, ENTRIES_PER_EVENT, SYSTEM_ENVIRONMENT,
};
use crate::error::{AppError, AppResult};
use crate::screening::Import;
use crate::store::events::{stream_version, EventMeta, NewEvent};
use crate::store::Exec;
use serde_json::Value;
use std::collections::HashMap;

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub version_id: String,
    /// The list's bytes were identical to the previous snapshot's: nothing was recorded.
    pub unchanged: bool,
    pub counts: Counts,
}

/// The canonical hash of an entry: BLAKE3 of its JSON with sorted keys (the form the views store).
pub fn entry_hash(entry: &Value) -> String {
    blake3::hash(entry.to_string().as_bytes()).to_hex().to_string()
}

fn system_meta(actor: &str, now: &str, request_id: Option<String>) -> EventMeta {
    EventMeta {
        actor: actor.to_string(),
        environment: SYSTEM_ENVIRONMENT.to_string(),
        request_id,
        recorded_at: now.to_string(),
        origin: None,
    }
}

/// Records `import` as the next snapshot of `watchlist_id` (a no-op when its content digest equals the
/// previous snapshot's). `files` names what was read, for the record.
pub async fn import(
    writer: &Writer,
    actor: String,
    now: String,
    request_id: Option<String>,
    watchlist_id: String,
    import: Import,
    files: Vec<String>,
) -> AppResult<ImportOutcome> {
    // Serialising and hashing happen here, off the writer thread.
    let mut entries: Vec<(String, String, Value)> = Vec::with_capacity(import.entries.len());
    for e in &import.entries {
        let value = serde_json::to_value(e)?;
        entries.push((e.entry_id.clone(), entry_hash(&value), value));
    }
    let version = import.version;
    let skipped = import.skipped;
    drop(import.entries);
    let version_id = ids::new_id(ids::WATCHLIST_VERSION);
    writer
        .execute(move |w| {
            if let Some((previous_id, digest)) = crate::store::shared_reads::latest_version(w.conn, &watchlist_id)? {
                if digest == version.content_digest {
                    return Ok(ImportOutcome { version_id: previous_id, unchanged: true, counts: Counts::default() });
                }
            }
            let previous = previous_hashes(w, &watchlist_id)?;
            let keys: Vec<(String, String)> = entries.iter().map(|(id, hash, _)| (id.clone(), hash.clone())).collect();
            let diff = dom::diff(&previous, &keys);
            drop(keys);
            let counts = Counts {
                total: entries.len() - diff.duplicates,
                added: diff.added.len(),
                changed: diff.changed.len(),
                removed: diff.removed.len(),
                skipped: skipped + diff.duplicates,
            };
            let take = |i: &usize| HashedEntry { hash: entries[*i].1.clone(), entry: entries[*i].2.clone() };
            let mut slices: Vec<EntriesImported> = Vec::new();
            let slice = |slices: &mut Vec<EntriesImported>| {
                slices.push(EntriesImported {
                    version_id: version_id.clone(),
                    source: watchlist_id.clone(),
                    added: Vec::new(),
                    changed: Vec::new(),
                    removed: Vec::new(),
                })
            };
            for chunk in diff.added.chunks(ENTRIES_PER_EVENT) {
                slice(&mut slices);
                if let Some(s) = slices.last_mut() {
                    s.added = chunk.iter().map(take).collect();
                }
            }
            for chunk in diff.changed.chunks(ENTRIES_PER_EVENT) {
                slice(&mut slices);
                if let Some(s) = slices.last_mut() {
                    s.changed = chunk.iter().map(take).collect();
                }
            }
            for chunk in diff.removed.chunks(ENTRIES_PER_EVENT * 10) {
                slice(&mut slices);
                if let Some(s) = slices.last_mut() {
                    s.removed = chunk.to_vec();
                }
            }
            let mut new_events = Vec::with_capacity(slices.len() + 1);
            for s in &slices {
                new_events.push(typed(&WatchlistEvent::EntriesImported(s.clone())));
            }
            let record = SnapshotImported {
                version_id: version_id.clone(),
                source: watchlist_id.clone(),
                list_source: version.source.as_str().to_string(),
                published: version.published.clone(),
                content_digest: version.content_digest.clone(),
                counts,
                files: files.clone(),
            };
            new_events.push(typed(&WatchlistEvent::SnapshotImported(record)));
            let stream = dom::stream_id(&watchlist_id);
            let at = stream_version(w.conn, &stream)?;
            w.emit(&system_meta(&actor, &now, request_id.clone()), &stream, at, new_events)?;
            Ok(ImportOutcome { version_id: version_id.clone(), unchanged: false, counts })
        })
        .await
}

/// Who and when, for the events of a background import.
#[derive(Debug, Clone)]
pub struct ImportMeta {
    pub actor: String,
    pub request_id: Option<String>,
}

fn import_status(w: &WriteCtx<'_>, version_id: &str) -> AppResult<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(w.conn
        .prepare_cached("SELECT status FROM watchlist_imports WHERE id = ?1")?
        .query_row([version_id], |r| r.get(0))
        .optional()?)
}

fn emit_list(w: &mut WriteCtx<'_>, meta: &ImportMeta, now: &str, source: &str, events: Vec<NewEvent>) -> AppResult<()> {
    let stream = dom::stream_id(source);
    let at = stream_version(w.conn, &stream)?;
    w.emit(&system_meta(&meta.actor, now, meta.request_id.clone()), &stream, at, events)?;
    Ok(())
}

/// Records the start of a background import. Refused (409) while another upload of the same list is
/// importing. `base_version_id` must name the list's current version (the one the import diffs against).
pub async fn start_import(writer: &Writer, meta: ImportMeta, now: String, started: ImportStarted) -> AppResult<()> {
    writer
        .execute(move |w| {
            let running: i64 = w.conn.row(
                "SELECT COUNT(*) FROM watchlist_imports WHERE source = ?1 AND status = 'importing'",
                [&started.source],
                |r| r.get(0),
            )?;
            if running > 0 {
                return Err(AppError::Conflict(format!(
                    "An upload of {} is still importing: wait for it to end (GET /watchlists/{}).",
                    started.source, started.source
                )));
            }
            let source = started.source.clone();
            emit_list(w, &meta, &now, &source, vec![typed(&WatchlistEvent::ImportStarted(started))])
        })
        .await
}

/// Writes one bounded slice of a running import's added and changed entries (staged, not yet screened).
pub async fn write_slice(
    writer: &Writer,
    meta: ImportMeta,
    now: String,
    version_id: String,
    source: String,
    added: Vec<HashedEntry>,
    changed: Vec<HashedEntry>,
) -> AppResult<()> {
    writer
        .execute(move |w| {
            if import_status(w, &version_id)?.as_deref() != Some("importing") {
                return Err(AppError::Conflict("The import has already ended.".into()));
            }
            let mut events = Vec::new();
            let mut added = added.into_iter().peekable();
            let mut changed = changed.into_iter().peekable();
            while added.peek().is_some() || changed.peek().is_some() {
                let a: Vec<HashedEntry> = added.by_ref().take(ENTRIES_PER_EVENT).collect();
                let c: Vec<HashedEntry> = changed.by_ref().take(ENTRIES_PER_EVENT - a.len()).collect();
                events.push(typed(&WatchlistEvent::EntriesImported(EntriesImported {
                    version_id: version_id.clone(),
                    source: source.clone(),
                    added: a,
                    changed: c,
                    removed: Vec::new(),
                })));
            }
            if events.is_empty() {
                return Ok(());
            }
            emit_list(w, &meta, &now, &source, events)
        })
        .await
}

/// Ends a running import with its version: the removed entries and the version record, in one
/// transaction, which makes the staged entries the list's. Refused (409) when another version of the list
/// was recorded since the import started (its diff would be against a stale base).
pub async fn finish_import(
    writer: &Writer,
    meta: ImportMeta,
    now: String,
    base_version_id: Option<String>,
    removed: Vec<String>,
    record: SnapshotImported,
) -> AppResult<ImportOutcome> {
    writer
        .execute(move |w| {
            if import_status(w, &record.version_id)?.as_deref() != Some("importing") {
                return Err(AppError::Conflict("The import has already ended.".into()));
            }
            let latest = crate::store::shared_reads::latest_version(w.conn, &record.source)?.map(|(id, _)| id);
            if latest != base_version_id {
                return Err(AppError::Conflict(
                    "Another version of this list was recorded while the upload was importing; upload it again.".into(),
                ));
            }
            let mut events = Vec::new();
            for chunk in removed.chunks(ENTRIES_PER_EVENT * 10) {
                events.push(typed(&WatchlistEvent::EntriesImported(EntriesImported {
                    version_id: record.version_id.clone(),
                    source: record.source.clone(),
                    added: Vec::new(),
                    changed: Vec::new(),
                    removed: chunk.to_vec(),
                })));
            }
            let outcome =
                ImportOutcome { version_id: record.version_id.clone(), unchanged: false, counts: record.counts };
            let source = record.source.clone();
            events.push(typed(&WatchlistEvent::SnapshotImported(record)));
            emit_list(w, &meta, &now, &source, events)?;
            Ok(outcome)
        })
        .await
}

/// Ends a running import without a version (a no-op when it has already ended).
pub async fn fail_import(writer: &Writer, meta: ImportMeta, now: String, failed: ImportFailed) -> AppResult<()> {
    writer
        .execute(move |w| {
            if import_status(w, &failed.version_id)?.as_deref() != Some("importing") {
                return Ok(());
            }
            let source = failed.source.clone();
            emit_list(w, &meta, &now, &source, vec![typed(&WatchlistEvent::ImportFailed(failed))])
        })
        .await
}

fn previous_hashes(w: &WriteCtx<'_>, watchlist_id: &str) -> AppResult<HashMap<String, String>> {
    let mut stmt = w.conn.prepare("SELECT entry_id, entry_hash FROM watchlist_entries WHERE source = ?1")?;
    let rows = stmt.query_map([watchlist_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// True while `version_id` awaits its monitoring pass.
pub(crate) fn monitoring_pending(w: &WriteCtx<'_>, version_id: &str) -> AppResult<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(w.conn
        .prepare_cached("SELECT source FROM watchlist_versions WHERE id = ?1 AND monitoring_status = 'pending'")?
        .query_row([version_id], |r| r.get(0))
        .optional()?)
}

/// Appends the end of a version's monitoring pass to its list's stream.
pub(crate) fn emit_monitoring_completed(
    w: &mut WriteCtx<'_>,
    now: &str,
    watchlist_id: &str,
    done: &MonitoringCompleted,
) -> AppResult<()> {
    let stream = dom::stream_id(watchlist_id);
    let at = stream_version(w.conn, &stream)?;
    w.emit(
        &system_meta("system:monitoring", now, None),
        &stream,
        at,
        vec![typed(&WatchlistEvent::MonitoringCompleted(done.clone()))],
    )?;
    Ok(())
}

fn typed(e: &WatchlistEvent) -> NewEvent {
    NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() }
}
