//! Watchlist reads: the lists and their versions (counts, digest, monitoring summary), background imports
//! and their progress, the current entries for the in-memory screening snapshot (and their hashes, which an
//! import diffs against), and the versions still awaiting a monitoring pass. Must not write.

use super::identities::render_actor;
use super::{OffsetPage, Page};
use crate::domain::ids::{CheckId, WatchlistVersionId};
use crate::domain::watchlist::WatchlistId;
use crate::error::{AppError, AppResult};
use crate::screening::records::{list_source, ListVersionRef, LoadedEntry};
use crate::screening::WatchlistEntry;
use crate::store::ReadOnly;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
pub fn latest_seq(conn: &ReadOnly) -> AppResult<i64> {
    Ok(conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM watchlist_versions", [], |r| r.get(0))?)
}

/// The current version of each imported list.
pub fn current_versions(conn: &ReadOnly) -> AppResult<Vec<ListVersionRef>> {
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
pub fn load_entries(conn: &ReadOnly) -> AppResult<Vec<LoadedEntry>> {
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
pub fn pending_monitoring(conn: &ReadOnly) -> AppResult<Vec<(String, String, i64)>> {
    let mut stmt = conn
        .prepare("SELECT id, source, seq FROM watchlist_versions WHERE monitoring_status = 'pending' ORDER BY seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const VERSION_COLUMNS: &str = "id, source, list_source, published, content_digest, entry_count, added, changed,
    removed, skipped, files, imported_by, imported_at, monitoring_status, monitoring";

/// Where a version's monitoring pass stands: `pending` (changes to screen), `not_needed` (nothing added or
/// changed), `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MonitoringStatus {
    Pending,
    NotNeeded,
    Completed,
}

/// The monitoring pass over one version; the counts are present once it has completed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionMonitoring {
    pub status: MonitoringStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub identities_screened: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub identities_with_new_hits: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub new_hits: Option<i64>,
    /// The checks recorded for identities with new hits.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub check_ids: Option<Vec<CheckId>>,
}

/// Entries of a version and how they changed against the previous one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionCounts {
    pub total: i64,
    pub added: i64,
    pub changed: i64,
    pub removed: i64,
    /// Rows the parser could not use, and duplicate entry ids.
    pub skipped: i64,
}

/// One imported snapshot of a watchlist.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WatchlistVersionView {
    pub id: WatchlistVersionId,
    /// Always `watchlist_version`.
    #[schema(example = "watchlist_version")]
    pub object: String,
    pub watchlist_id: WatchlistId,
    /// The parser's list name (`ofac_sdn`, `un_consolidated`, ...).
    #[schema(example = "ofac_sdn")]
    pub source: String,
    /// The list's own publication date, when it states one.
    pub published: Option<String>,
    /// BLAKE3 of the files as uploaded.
    pub content_digest: String,
    pub entry_count: i64,
    pub counts: VersionCounts,
    /// The file names read.
    pub files: Vec<String>,
    /// `api_key:<key id>`, or `cli` for an import from the command line.
    pub imported_by: String,
    pub imported_at: String,
    pub monitoring: VersionMonitoring,
}

/// A watchlist idv can import, with its current version (null until imported).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WatchlistView {
    pub id: WatchlistId,
    /// Always `watchlist`.
    #[schema(example = "watchlist")]
    pub object: String,
    #[schema(example = "OFAC Specially Designated Nationals (SDN) List")]
    pub name: String,
    /// The parser's list name (`ofac_sdn`, ...).
    pub source: String,
    /// Entries in the current version.
    pub entry_count: i64,
    pub imported: bool,
    pub current_version: Option<WatchlistVersionView>,
    pub version_count: i64,
    pub last_imported_at: Option<String>,
    /// The newest background upload of this list (null when none): `importing` while it runs, `failed` when it
    /// ended without a version (the current version stays in force), `active` once its version is current.
    pub latest_import: Option<WatchlistImportView>,
    /// The version history, newest first (at most 100): on `GET /watchlists/{watchlist_id}` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = Vec<WatchlistVersionView>)]
    pub versions: Option<Vec<WatchlistVersionView>>,
}

#[derive(Deserialize)]
struct StoredMonitoring {
    identities_screened: i64,
    identities_with_new_hits: i64,
    new_hits: i64,
    #[serde(default)]
    check_ids: Vec<String>,
}

fn render_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<WatchlistVersionView> {
    let files: String = r.get(10)?;
    let monitoring: Option<String> = r.get(14)?;
    let status = match r.get::<_, String>(13)?.as_str() {
        "pending" => MonitoringStatus::Pending,
        "completed" => MonitoringStatus::Completed,
        _ => MonitoringStatus::NotNeeded,
    };
    let done = monitoring.and_then(|m| serde_json::from_str::<StoredMonitoring>(&m).ok());
    let actor: String = r.get(11)?;
    let source: String = r.get(1)?;
    let watchlist_id = WatchlistId::parse("source", &source).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("unknown list {source}").into(),
        )
    })?;
    Ok(WatchlistVersionView {
        id: WatchlistVersionId::from_stored(r.get(0)?),
        object: "watchlist_version".into(),
        watchlist_id,
        source: r.get(2)?,
        published: r.get(3)?,
        content_digest: r.get(4)?,
        entry_count: r.get(5)?,
        counts: VersionCounts {
            total: r.get(5)?,
            added: r.get(6)?,
            changed: r.get(7)?,
            removed: r.get(8)?,
            skipped: r.get(9)?,
        },
        files: serde_json::from_str(&files).unwrap_or_default(),
        imported_by: render_actor(&actor),
        imported_at: r.get(12)?,
        monitoring: VersionMonitoring {
            status,
            identities_screened: done.as_ref().map(|d| d.identities_screened),
            identities_with_new_hits: done.as_ref().map(|d| d.identities_with_new_hits),
            new_hits: done.as_ref().map(|d| d.new_hits),
            check_ids: done.map(|d| d.check_ids.into_iter().map(CheckId::from_stored).collect()),
        },
    })
}

pub fn version(conn: &ReadOnly, version_id: &str) -> AppResult<WatchlistVersionView> {
    conn.prepare_cached(&format!("SELECT {VERSION_COLUMNS} FROM watchlist_versions WHERE id = ?1"))?
        .query_row([version_id], render_version)
        .optional()?
        .ok_or_else(|| AppError::not_found("Watchlist version"))
}

fn watchlist(conn: &ReadOnly, watchlist_id: WatchlistId, history: usize) -> AppResult<WatchlistView> {
    let id = watchlist_id.as_str();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM watchlist_versions WHERE source = ?1 ORDER BY seq DESC LIMIT ?2"
    ))?;
    let versions: Vec<WatchlistVersionView> =
        stmt.query_map(rusqlite::params![id, history as i64], render_version)?.collect::<Result<_, _>>()?;
    let version_count: i64 =
        conn.query_row("SELECT COUNT(*) FROM watchlist_versions WHERE source = ?1", [id], |r| r.get(0))?;
    let entry_count: i64 =
        conn.query_row("SELECT COUNT(*) FROM watchlist_entries WHERE source = ?1", [id], |r| r.get(0))?;
    let current = versions.first().cloned();
    let latest_import = conn
        .prepare_cached(&format!(
            "SELECT {IMPORT_COLUMNS} FROM watchlist_imports WHERE source = ?1 ORDER BY seq DESC LIMIT 1"
        ))?
        .query_row([id], render_import)
        .optional()?;
    let latest_import = match latest_import {
        Some(i) => Some(with_version(conn, i)?),
        None => None,
    };
    Ok(WatchlistView {
        latest_import,
        id: watchlist_id,
        object: "watchlist".into(),
        name: display_name(id).to_string(),
        source: list_source(id).map(|s| s.as_str().to_string()).unwrap_or_default(),
        entry_count,
        imported: version_count > 0,
        last_imported_at: current.as_ref().map(|v| v.imported_at.clone()),
        current_version: current,
        version_count,
        versions: (history > 1).then_some(versions),
    })
}

/// Every list idv can import, with its current version (null until imported).
pub fn list(conn: &ReadOnly) -> AppResult<OffsetPage<WatchlistView>> {
    let data = WatchlistId::ALL.into_iter().map(|id| watchlist(conn, id, 1)).collect::<AppResult<Vec<_>>>()?;
    let total = data.len() as i64;
    Ok(OffsetPage::new(data, total, Page { limit: total, offset: 0 }))
}

/// One list with its version history (newest first, at most 100).
pub fn get(conn: &ReadOnly, watchlist_id: WatchlistId) -> AppResult<WatchlistView> {
    watchlist(conn, watchlist_id, 100)
}

/// Where a background import stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Reading the upload and writing its entries; the previous version is still the one screened.
    Importing,
    /// Its version is recorded and screened.
    Active,
    /// It ended without a version (`error` says why); the previous version stays in force.
    Failed,
}

/// A list upload imported in the background (`POST /watchlists/import`), and its progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WatchlistImportView {
    /// The id of the version this import records once complete.
    pub id: WatchlistVersionId,
    /// Always `watchlist_import`.
    #[schema(example = "watchlist_import")]
    pub object: String,
    pub watchlist_id: WatchlistId,
    pub status: ImportStatus,
    /// While `importing`: `reading` (parsing the upload and writing its entries) or `activating` (recording
    /// the version, loading it for screening and running continuous monitoring). Null once ended.
    #[schema(example = "reading")]
    pub phase: Option<String>,
    /// The parser's list name (`ofac_sdn`, ...).
    pub source: String,
    /// BLAKE3 of the files as uploaded.
    pub content_digest: String,
    pub files: Vec<String>,
    /// Size of the upload.
    pub bytes_total: i64,
    /// Bytes parsed so far (null when not known: the import ended in an earlier run of the server).
    pub bytes_read: Option<i64>,
    /// Records (entities, rows) read so far, or in all once ended (null when not known).
    pub entities_read: Option<i64>,
    /// Added and changed entries written so far.
    pub entries_written: i64,
    /// Why it failed.
    pub error: Option<String>,
    /// `api_key:<key id>`.
    pub started_by: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The version it recorded, once `active`.
    pub version: Option<WatchlistVersionView>,
}

/// What only the server running an import knows: how far it has read.
#[derive(Debug, Clone, Copy)]
pub struct LiveProgress {
    pub bytes_read: u64,
    pub entities_read: u64,
    pub activating: bool,
}

impl WatchlistImportView {
    /// Overlays the running import's own progress; until the screening snapshot holds its version it is
    /// still `importing`, even once the version is recorded.
    pub fn with_live(mut self, live: Option<LiveProgress>) -> Self {
        if let Some(l) = live {
            self.status = ImportStatus::Importing;
            self.phase = Some(if l.activating { "activating" } else { "reading" }.into());
            self.bytes_read = Some(l.bytes_read as i64);
            self.entities_read = Some(l.entities_read as i64);
            self.finished_at = None;
            self.version = None;
        }
        self
    }
}

const IMPORT_COLUMNS: &str = "id, source, list_source, status, content_digest, files, bytes_total, entries_staged,
    entities_read, error, started_by, started_at, finished_at";

fn render_import(r: &rusqlite::Row<'_>) -> rusqlite::Result<WatchlistImportView> {
    let source: String = r.get(1)?;
    let watchlist_id = WatchlistId::parse("source", &source).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            1,
            rusqlite::types::Type::Text,
            format!("unknown list {source}").into(),
        )
    })?;
    let status = match r.get::<_, String>(3)?.as_str() {
        "active" => ImportStatus::Active,
        "failed" => ImportStatus::Failed,
        _ => ImportStatus::Importing,
    };
    let files: String = r.get(5)?;
    let bytes_total: i64 = r.get(6)?;
    let actor: String = r.get(10)?;
    Ok(WatchlistImportView {
        id: WatchlistVersionId::from_stored(r.get(0)?),
        object: "watchlist_import".into(),
        watchlist_id,
        status,
        phase: (status == ImportStatus::Importing).then(|| "reading".to_string()),
        source: r.get(2)?,
        content_digest: r.get(4)?,
        files: serde_json::from_str(&files).unwrap_or_default(),
        bytes_total,
        bytes_read: (status == ImportStatus::Active).then_some(bytes_total),
        entities_read: r.get(8)?,
        entries_written: r.get(7)?,
        error: r.get(9)?,
        started_by: render_actor(&actor),
        started_at: r.get(11)?,
        finished_at: r.get(12)?,
        version: None,
    })
}

fn with_version(conn: &ReadOnly, mut view: WatchlistImportView) -> AppResult<WatchlistImportView> {
    if view.status == ImportStatus::Active {
        view.version = Some(version(conn, view.id.as_str())?);
        view.entries_written = view.version.as_ref().map_or(0, |v| v.counts.added + v.counts.changed);
    }
    Ok(view)
}

/// One background import.
pub fn import(conn: &ReadOnly, import_id: &str) -> AppResult<WatchlistImportView> {
    let view = conn
        .prepare_cached(&format!("SELECT {IMPORT_COLUMNS} FROM watchlist_imports WHERE id = ?1"))?
        .query_row([import_id], render_import)
        .optional()?
        .ok_or_else(|| AppError::not_found("Watchlist import"))?;
    with_version(conn, view)
}

/// Imports still marked `importing`: (version id, watchlist id).
pub fn unfinished_imports(conn: &ReadOnly) -> AppResult<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT id, source FROM watchlist_imports WHERE status = 'importing' ORDER BY seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Calls `each(entry_id, entry_hash)` for every current entry of one list, without holding them all.
pub fn each_entry_hash(conn: &ReadOnly, watchlist_id: &str, mut each: impl FnMut(&str, &str)) -> AppResult<()> {
    let mut stmt = conn.prepare("SELECT entry_id, entry_hash FROM watchlist_entries WHERE source = ?1")?;
    let mut rows = stmt.query([watchlist_id])?;
    while let Some(r) = rows.next()? {
        let id = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
        let hash = r.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?;
        each(id, hash);
    }
    Ok(())
}
