//! Background list imports for the API: an upload spooled to files in the data folder (never held whole in
//! memory), read on the blocking pool with the list's importer, diffed entry by entry against the current
//! version and written in bounded slices through the commands; the new version becomes the one screened
//! only when it is complete. Progress lives here, per running import. Must not touch HTTP or SQL.

use super::{files, Deps, ScreeningService};
use crate::commands::watchlists::{self as cmd, ImportMeta, ImportOutcome};
use crate::domain::ids;
use crate::domain::watchlist::{Counts, HashedEntry, ImportFailed, ImportStarted, SnapshotImported};
use crate::error::{AppError, AppResult};
use crate::queries::watchlists::LiveProgress;
use crate::screening::import::{combined_digest, opensanctions, ImportError};
use crate::screening::{ListSource, WatchlistEntry};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Entries per write transaction: bounds what a running import holds beyond its diff state.
pub const SLICE: usize = 1000;

/// Bytes gathered in memory before they go to the spool file.
const SPOOL_BUFFER: usize = 1024 * 1024;

/// The folder of one upload's files, removed with everything in it when dropped.
pub struct SpoolDir {
    path: PathBuf,
    /// The version id the import records once complete (also the folder's name).
    pub version_id: String,
}

impl SpoolDir {
    /// A new file in this folder for the multipart field `field`, named `name` for the record.
    pub async fn file(&self, field: &str, name: String) -> AppResult<SpoolFile> {
        let path = self.path.join(field);
        let at = path.clone();
        let file = crate::blocking::run(move || {
            File::create(&at).map_err(|e| AppError::Internal(format!("cannot create {}: {e}", at.display())))
        })
        .await?;
        Ok(SpoolFile {
            file: Some(file),
            path,
            name,
            len: 0,
            hasher: blake3::Hasher::new(),
            buf: Vec::with_capacity(SPOOL_BUFFER),
        })
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One uploaded file being written to disk, hashed and counted as it arrives.
pub struct SpoolFile {
    file: Option<File>,
    path: PathBuf,
    /// The file name as uploaded (no path), for the record.
    pub name: String,
    pub len: u64,
    hasher: blake3::Hasher,
    buf: Vec<u8>,
}

impl SpoolFile {
    pub async fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        self.buf.extend_from_slice(chunk);
        if self.buf.len() >= SPOOL_BUFFER {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> AppResult<()> {
        let (Some(mut file), buf) = (self.file.take(), std::mem::take(&mut self.buf)) else {
            return Err(AppError::Internal("spool file already closed".into()));
        };
        let path = self.path.clone();
        let (file, mut buf) = crate::blocking::run(move || {
            file.write_all(&buf).map_err(|e| AppError::Internal(format!("cannot write {}: {e}", path.display())))?;
            Ok((file, buf))
        })
        .await?;
        buf.clear();
        self.file = Some(file);
        self.buf = buf;
        Ok(())
    }

    /// Writes what is left and closes the file.
    pub async fn finish(mut self) -> AppResult<Spooled> {
        self.flush().await?;
        drop(self.file.take());
        Ok(Spooled { path: self.path, name: self.name, len: self.len, hasher: self.hasher })
    }
}

/// An uploaded file, on disk.
pub struct Spooled {
    path: PathBuf,
    pub name: String,
    pub len: u64,
    hasher: blake3::Hasher,
}

/// A whole upload on disk: the list and its files (for OFAC also `add`, `alt`, `comments`).
pub struct SpooledList {
    pub dir: SpoolDir,
    pub watchlist_id: String,
    pub main: Spooled,
    pub add: Option<Spooled>,
    pub alt: Option<Spooled>,
    pub comments: Option<Spooled>,
}

impl SpooledList {
    fn parts(&self) -> Vec<&Spooled> {
        // The importers' own digest order (OFAC: sdn, alt, add, comments), so an identical upload is
        // recognised as the current version.
        [Some(&self.main), self.alt.as_ref(), self.add.as_ref(), self.comments.as_ref()].into_iter().flatten().collect()
    }

    fn digest(&self) -> String {
        let hashers: Vec<&blake3::Hasher> = self.parts().iter().map(|p| &p.hasher).collect();
        combined_digest(&hashers)
    }

    fn names(&self) -> Vec<String> {
        [Some(&self.main), self.add.as_ref(), self.alt.as_ref(), self.comments.as_ref()]
            .into_iter()
            .flatten()
            .map(|s| s.name.clone())
            .collect()
    }

    fn bytes_total(&self) -> u64 {
        self.parts().iter().map(|p| p.len).sum()
    }
}

/// How far a running import is (shared between its reader and the queries that show it).
#[derive(Default)]
pub struct Progress {
    bytes_read: AtomicU64,
    entities_read: AtomicU64,
    activating: AtomicBool,
}

impl Progress {
    pub fn live(&self) -> LiveProgress {
        LiveProgress {
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            entities_read: self.entities_read.load(Ordering::Relaxed),
            activating: self.activating.load(Ordering::Relaxed),
        }
    }
}

/// What starting an import did.
pub enum Started {
    /// The upload equals the list's current version (this version id): nothing was recorded.
    Unchanged(String),
    /// Importing in the background under this version id; `done` resolves when it has ended.
    Running { version_id: String, done: tokio::sync::oneshot::Receiver<AppResult<ImportOutcome>> },
}

/// Why an import ended without a version, as recorded: the importer's message for a bad file, a generic
/// sentence for a server fault (whose cause goes to the log only).
fn recorded_error(e: &AppError) -> String {
    match e {
        AppError::Validation { errors, detail } => {
            errors.first().map(|f| f.message.clone()).unwrap_or_else(|| detail.clone())
        }
        AppError::Conflict(m) => m.clone(),
        _ => "The import failed on the server (see its log); the previous version stays in force.".into(),
    }
}

/// A 128-bit digest of a text: the running diff keeps these, not the ids and hashes themselves.
fn short(text: &str) -> u128 {
    let h = blake3::hash(text.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h.as_bytes()[..16]);
    u128::from_le_bytes(b)
}

/// A slice of added and changed entries, on its way from the reader to the writer.
struct Slice {
    added: Vec<HashedEntry>,
    changed: Vec<HashedEntry>,
}

/// The reading half: diffs each entry against the current version as it is read.
struct Differ {
    previous: HashMap<u128, u128>,
    seen: HashSet<u128>,
    slice: Slice,
    tx: tokio::sync::mpsc::Sender<Slice>,
    progress: Arc<Progress>,
    read: usize,
    duplicates: usize,
    added: usize,
    changed: usize,
}

impl Differ {
    fn take(&mut self, e: &WatchlistEntry) -> Result<(), ImportError> {
        self.read += 1;
        self.progress.entities_read.fetch_add(1, Ordering::Relaxed);
        let id = short(&e.entry_id);
        if !self.seen.insert(id) {
            self.duplicates += 1;
            return Ok(());
        }
        let value = serde_json::to_value(e).map_err(|e| ImportError::Stopped(e.to_string()))?;
        let hash = cmd::entry_hash(&value);
        match self.previous.get(&id) {
            None => {
                self.added += 1;
                self.slice.added.push(HashedEntry { hash, entry: value });
            }
            Some(h) if *h != short(&hash) => {
                self.changed += 1;
                self.slice.changed.push(HashedEntry { hash, entry: value });
            }
            Some(_) => {}
        }
        if self.slice.added.len() + self.slice.changed.len() >= SLICE {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), ImportError> {
        if self.slice.added.is_empty() && self.slice.changed.is_empty() {
            return Ok(());
        }
        let slice = std::mem::replace(&mut self.slice, Slice { added: Vec::new(), changed: Vec::new() });
        // Waits while the writer is behind: at most two slices are ever in flight.
        self.tx.blocking_send(slice).map_err(|_| ImportError::Stopped("the import was stopped".into()))
    }
}

/// What the reading half found, besides the slices it sent.
struct Read {
    list_source: ListSource,
    published: Option<String>,
    content_digest: String,
    counts: Counts,
    removed: Vec<String>,
}

fn open_counting(s: &Spooled, progress: &Arc<Progress>) -> AppResult<files::Input> {
    let file = File::open(&s.path).map_err(|e| AppError::Internal(format!("cannot open the upload: {e}")))?;
    let progress = progress.clone();
    let on_read: files::OnRead = Arc::new(move |n| {
        progress.bytes_read.fetch_add(n, Ordering::Relaxed);
    });
    Ok(files::Input {
        name: s.name.clone(),
        reader: Box::new(files::counting(BufReader::with_capacity(256 * 1024, file), on_read)),
    })
}

/// The blocking half: reads the spooled files with the list's importer, sending slices to `tx`.
fn read_list(
    deps: &Deps,
    list: &SpooledList,
    progress: Arc<Progress>,
    tx: tokio::sync::mpsc::Sender<Slice>,
) -> AppResult<Read> {
    let source = super::list_source(&list.watchlist_id)
        .ok_or_else(|| AppError::validation("source", "must be one of ofac, un, eu, uk, opensanctions"))?;
    let conn = deps.read.get()?;
    let mut previous = HashMap::new();
    crate::queries::watchlists::each_entry_hash(&conn, &list.watchlist_id, |id, hash| {
        previous.insert(short(id), short(hash));
    })?;
    drop(conn);
    let mut differ = Differ {
        previous,
        seen: HashSet::new(),
        slice: Slice { added: Vec::new(), changed: Vec::new() },
        tx,
        progress: progress.clone(),
        read: 0,
        duplicates: 0,
        added: 0,
        changed: 0,
    };
    let main = open_counting(&list.main, &progress)?;
    let (version, skipped) = if source == ListSource::OpenSanctions {
        // The one format published at a million entities: streamed, never held whole.
        opensanctions::import_each(main.reader, |e| differ.take(&e))
            .map_err(|e| AppError::validation("file", e.to_string()))?
    } else {
        let open = |s: &Option<Spooled>| s.as_ref().map(|s| open_counting(s, &progress)).transpose();
        let files =
            files::ListFiles { main, add: open(&list.add)?, alt: open(&list.alt)?, comments: open(&list.comments)? };
        let parsed = files::parse(&list.watchlist_id, files)?;
        for e in &parsed.entries {
            differ.take(e).map_err(|e| AppError::validation("file", e.to_string()))?;
        }
        (parsed.version, parsed.skipped)
    };
    differ.send().map_err(|e| AppError::validation("file", e.to_string()))?;
    let seen = std::mem::take(&mut differ.seen);
    let mut removed = Vec::new();
    let conn = deps.read.get()?;
    crate::queries::watchlists::each_entry_hash(&conn, &list.watchlist_id, |id, _| {
        if !seen.contains(&short(id)) {
            removed.push(id.to_string());
        }
    })?;
    removed.sort();
    let counts = Counts {
        total: differ.read - differ.duplicates,
        added: differ.added,
        changed: differ.changed,
        removed: removed.len(),
        skipped: skipped + differ.duplicates,
    };
    Ok(Read {
        list_source: version.source,
        published: version.published,
        content_digest: version.content_digest,
        counts,
        removed,
    })
}

impl ScreeningService {
    /// A new folder for one upload under `<data_dir>/imports/<this server run>/`. The first call removes
    /// the folders of earlier runs (uploads of imports a stopped server left behind).
    pub async fn spool_dir(&self, data_dir: &Path) -> AppResult<SpoolDir> {
        let root = data_dir.join("imports");
        let run = root.join(&self.inner.run_id);
        let version_id = ids::new_id(ids::WATCHLIST_VERSION);
        let path = run.join(&version_id);
        let clean = !self.inner.spool_cleaned.swap(true, Ordering::Relaxed);
        let (dir, this_run) = (path.clone(), self.inner.run_id.clone());
        crate::blocking::run(move || {
            if clean {
                for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                    if entry.file_name().to_string_lossy() != this_run.as_str() {
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
            std::fs::create_dir_all(&dir)
                .map_err(|e| AppError::Internal(format!("cannot create {}: {e}", dir.display())))
        })
        .await?;
        Ok(SpoolDir { path, version_id })
    }

    /// The progress of every import running in this server, by version id. Take it before reading the views:
    /// a job leaves this set only after its version is recorded and its monitoring pass has run (or failed, for
    /// the watcher to retry), so a view read afterwards never shows an import `active` with that pass to come.
    pub fn live_imports(&self) -> HashMap<String, LiveProgress> {
        self.jobs().iter().map(|(id, p)| (id.clone(), p.live())).collect()
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Progress>>> {
        match self.inner.jobs.lock() {
            Ok(j) => j,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Starts importing an uploaded list in the background (or answers that it equals the current version).
    /// Refused (409) while another upload of the same list is importing.
    pub async fn start_import(&self, deps: &Deps, meta: ImportMeta, list: SpooledList) -> AppResult<Started> {
        let id = list.watchlist_id.clone();
        let latest = deps.read.run(move |c| crate::store::shared_reads::latest_version(c, &id)).await?;
        let digest = list.digest();
        if let Some((version_id, d)) = &latest {
            if *d == digest {
                return Ok(Started::Unchanged(version_id.clone()));
            }
        }
        let version_id = list.dir.version_id.clone();
        let list_source = super::list_source(&list.watchlist_id)
            .ok_or_else(|| AppError::validation("source", "must be one of ofac, un, eu, uk, opensanctions"))?;
        let started = ImportStarted {
            version_id: version_id.clone(),
            source: list.watchlist_id.clone(),
            list_source: list_source.as_str().to_string(),
            content_digest: digest,
            files: list.names(),
            bytes_total: list.bytes_total(),
            base_version_id: latest.map(|(id, _)| id),
        };
        let base = started.base_version_id.clone();
        let progress = Arc::new(Progress::default());
        // Registered before the start is recorded, so the watcher never takes it for an interrupted one.
        self.jobs().insert(version_id.clone(), progress.clone());
        let now = crate::clock::format(deps.clock.now());
        if let Err(e) = cmd::start_import(&deps.writer, meta.clone(), now, started).await {
            self.jobs().remove(&version_id);
            return Err(e);
        }
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let (service, deps, id) = (self.clone(), deps.clone(), version_id.clone());
        actix_web::rt::spawn(async move {
            let result = service.run_import(&deps, meta, list, base, progress).await;
            service.jobs().remove(&id);
            let _ = done_tx.send(result);
        });
        Ok(Started::Running { version_id, done })
    }

    async fn run_import(
        &self,
        deps: &Deps,
        meta: ImportMeta,
        list: SpooledList,
        base: Option<String>,
        progress: Arc<Progress>,
    ) -> AppResult<ImportOutcome> {
        let version_id = list.dir.version_id.clone();
        let watchlist_id = list.watchlist_id.clone();
        let files = list.names();
        let result = self.read_and_record(deps, &meta, list, base, &progress).await;
        match result {
            Ok(outcome) => {
                tracing::info!(version_id = %version_id, counts = ?outcome.counts, "watchlist import recorded");
                // The version is recorded; a failed monitoring pass is retried by the watcher.
                if let Err(e) = self.sync(deps).await {
                    tracing::error!(error = %e, "monitoring after an import failed; the watcher retries it");
                }
                Ok(outcome)
            }
            Err(e) => {
                if !matches!(e, AppError::Validation { .. } | AppError::Conflict(_)) {
                    tracing::error!(error = %e, version_id = %version_id, "watchlist import failed");
                }
                let failed = ImportFailed {
                    version_id,
                    source: watchlist_id,
                    error: recorded_error(&e),
                    entities_read: progress.live().entities_read,
                };
                let now = crate::clock::format(deps.clock.now());
                if let Err(f) = cmd::fail_import(&deps.writer, meta, now, failed).await {
                    tracing::error!(error = %f, ?files, "could not record a failed import; the watcher marks it");
                }
                Err(e)
            }
        }
    }

    async fn read_and_record(
        &self,
        deps: &Deps,
        meta: &ImportMeta,
        list: SpooledList,
        base: Option<String>,
        progress: &Arc<Progress>,
    ) -> AppResult<ImportOutcome> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Slice>(2);
        let (reader_deps, reader_progress) = (deps.clone(), progress.clone());
        let version_id = list.dir.version_id.clone();
        let watchlist_id = list.watchlist_id.clone();
        let files = list.names();
        let reading = crate::blocking::run(move || {
            let read = read_list(&reader_deps, &list, reader_progress, tx);
            // The spooled files go as soon as they are read.
            drop(list);
            read
        });
        let writing = async {
            while let Some(slice) = rx.recv().await {
                let now = crate::clock::format(deps.clock.now());
                let (v, w) = (version_id.clone(), watchlist_id.clone());
                cmd::write_slice(&deps.writer, meta.clone(), now, v, w, slice.added, slice.changed).await?;
            }
            Ok::<(), AppError>(())
        };
        let (read, written) = tokio::join!(reading, writing);
        // A writer failure stops the reader (its sends fail): report the writer's error, not the stop.
        written?;
        let read = read?;
        progress.activating.store(true, Ordering::Relaxed);
        let record = SnapshotImported {
            version_id: version_id.clone(),
            source: watchlist_id.clone(),
            list_source: read.list_source.as_str().to_string(),
            published: read.published,
            content_digest: read.content_digest,
            counts: read.counts,
            files,
        };
        let now = crate::clock::format(deps.clock.now());
        cmd::finish_import(&deps.writer, meta.clone(), now, base, read.removed, record).await
    }

    /// Marks imports left `importing` by an earlier run of the server (stopped mid-import) as failed: their
    /// staged entries are dropped and the previous version stays in force.
    pub async fn fail_interrupted(&self, deps: &Deps) -> AppResult<()> {
        let unfinished = deps.read.run_scan(crate::queries::watchlists::unfinished_imports).await?;
        for (version_id, source) in unfinished {
            if self.jobs().contains_key(&version_id) {
                continue;
            }
            tracing::warn!(version_id = %version_id, watchlist = %source, "an interrupted watchlist import is marked failed");
            let failed = ImportFailed {
                version_id,
                source,
                error: "The server stopped before this import completed; the previous version stays in force. \
                        Upload the list again."
                    .into(),
                entities_read: 0,
            };
            let meta = ImportMeta { actor: "system:watchlists".into(), request_id: None };
            cmd::fail_import(&deps.writer, meta, crate::clock::format(deps.clock.now()), failed).await?;
        }
        Ok(())
    }
}
