//! The screening service around the `screening` library: the loaded watchlists (an in-memory `Snapshot`
//! shared by every request, rebuilt from the `watchlist_entries` view whenever a new version is recorded,
//! whether by the API or by `idv lists import` in another process), and the continuous-monitoring pass that
//! follows each new version. Reads through the read pool and writes only through `commands`; must not
//! touch HTTP.

pub mod background;
pub mod files;
pub mod monitor;
pub mod snapshot;
pub mod standalone;

pub use crate::screening::records::{
    list_source, watchlist_id, Dismissal, Dismissals, ListVersionRef, LoadedEntry, MonitoredSubject,
};
pub use snapshot::{screen_subject, ScreenedHit, ScreeningOutcome, Snapshot};

use crate::clock::Clock;
use crate::commands::writer::Writer;
use crate::crypto::Keyring;
use crate::domain::watchlist::MonitoringCompleted;
use crate::error::AppResult;
use crate::screening::DEFAULT_THRESHOLD;
use crate::store::{ReadOnly, ReadPool};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often the server looks for list versions recorded by another process (the CLI).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// What a sync pass needs to read, write and stamp.
#[derive(Clone)]
pub struct Deps {
    pub writer: Writer,
    pub read: ReadPool,
    pub keyring: Arc<Keyring>,
    pub clock: Arc<dyn Clock>,
}

struct Inner {
    current: RwLock<Arc<Snapshot>>,
    /// One refresh-and-monitor pass at a time (the API import and the watcher may both ask).
    sync: tokio::sync::Mutex<()>,
    /// The background imports running in this server, by version id.
    jobs: std::sync::Mutex<std::collections::HashMap<String, Arc<background::Progress>>>,
    /// Names this server run's folder of spooled uploads.
    run_id: String,
    spool_cleaned: std::sync::atomic::AtomicBool,
}

/// The shared, swappable snapshot and the monitoring driver.
#[derive(Clone)]
pub struct ScreeningService {
    inner: Arc<Inner>,
}

impl Default for ScreeningService {
    fn default() -> Self {
        ScreeningService {
            inner: Arc::new(Inner {
                current: RwLock::new(Arc::new(Snapshot::empty())),
                sync: tokio::sync::Mutex::new(()),
                jobs: Default::default(),
                run_id: crate::domain::ids::new_id("run"),
                spool_cleaned: Default::default(),
            }),
        }
    }
}

fn read_snapshot(conn: &ReadOnly) -> AppResult<Snapshot> {
    let seq = crate::queries::watchlists::latest_seq(conn)?;
    let versions = crate::queries::watchlists::current_versions(conn)?;
    let rows = crate::queries::watchlists::load_entries(conn)?;
    Ok(Snapshot::build(rows, versions, seq))
}

impl ScreeningService {
    /// Builds the snapshot from the views (blocking: call at startup, before serving).
    pub fn load(read: &ReadPool) -> AppResult<Self> {
        let service = ScreeningService::default();
        service.replace(read_snapshot(&read.get()?)?);
        Ok(service)
    }

    /// The snapshot to screen against now (cheap: an `Arc`).
    pub fn current(&self) -> Arc<Snapshot> {
        match self.inner.current.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        match self.inner.current.write() {
            Ok(mut s) => *s = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// Rebuilds the snapshot when the views hold a version it does not reflect. True when it did.
    pub async fn refresh(&self, read: &ReadPool) -> AppResult<bool> {
        let loaded = self.current().loaded_seq;
        let latest = read.run_scan(crate::queries::watchlists::latest_seq).await?;
        if latest == loaded {
            return Ok(false);
        }
        let snapshot = read.run_scan(read_snapshot).await?;
        tracing::info!(entries = snapshot.len(), lists = snapshot.versions.len(), "watchlist snapshot loaded");
        self.replace(snapshot);
        Ok(true)
    }

    /// Refreshes the snapshot, then runs continuous monitoring for every version not yet monitored (in the
    /// order they were recorded). Returns what each monitoring run found.
    pub async fn sync(&self, deps: &Deps) -> AppResult<Vec<MonitoringCompleted>> {
        let _one_at_a_time = self.inner.sync.lock().await;
        self.refresh(&deps.read).await?;
        let pending = deps.read.run_scan(crate::queries::watchlists::pending_monitoring).await?;
        let mut out = Vec::new();
        for (version_id, watchlist_id, seq) in pending {
            let snapshot = self.current();
            if seq > snapshot.loaded_seq {
                break; // recorded after this snapshot was read: the next pass picks it up
            }
            out.push(self.monitor_version(deps, snapshot, version_id, watchlist_id).await?);
        }
        Ok(out)
    }

    async fn monitor_version(
        &self,
        deps: &Deps,
        snapshot: Arc<Snapshot>,
        version_id: String,
        watchlist_id: String,
    ) -> AppResult<MonitoringCompleted> {
        let (keyring, version) = (deps.keyring.clone(), version_id.clone());
        let (screened, findings, check_findings) = deps
            .read
            .run(move |conn| {
                let subjects = crate::queries::checks::monitoring_subjects(conn, &keyring)?;
                // A copy of a million-entry snapshot would double the server's memory for nothing.
                let copy = (!snapshot.is_whole_delta(&version)).then(|| snapshot.delta(&version));
                let delta: &Snapshot = copy.as_ref().unwrap_or(&snapshot);
                let (screened, findings) = monitor::findings(&snapshot, delta, subjects, DEFAULT_THRESHOLD);
                // Monitored standalone checks, each at its own threshold (the check id in `identity_id`).
                let mut check_findings = Vec::new();
                for mut c in crate::queries::checks::monitored_checks(conn, &keyring)? {
                    c.subject.data = standalone::person_data(&c.subject.data);
                    check_findings.extend(monitor::findings(&snapshot, delta, vec![c.subject], c.threshold).1);
                }
                Ok((screened, findings, check_findings))
            })
            .await?;
        let now = crate::clock::format(deps.clock.now());
        let done = crate::commands::checks::record_monitoring(
            &deps.writer,
            now,
            version_id,
            watchlist_id,
            screened,
            findings,
            check_findings,
        )
        .await?;
        if done.new_hits > 0 {
            tracing::info!(
                version_id = %done.version_id,
                identities = done.identities_with_new_hits,
                hits = done.new_hits,
                "monitoring found new watchlist hits"
            );
        }
        Ok(done)
    }
}

/// Marks imports an earlier run left unfinished as failed, then every `interval` picks up versions
/// recorded by another process and monitors them, for the life of the server.
pub fn spawn_watcher(service: ScreeningService, deps: Deps, interval: Duration) {
    actix_web::rt::spawn(async move {
        loop {
            if let Err(e) = service.fail_interrupted(&deps).await {
                tracing::warn!(error = %e, "marking interrupted watchlist imports failed did not succeed");
            }
            actix_web::rt::time::sleep(interval).await;
            if let Err(e) = service.sync(&deps).await {
                tracing::warn!(error = %e, "watchlist sync failed");
            }
        }
    });
}

/// What an import through the service did: the version recorded and the monitoring it triggered.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub outcome: crate::commands::watchlists::ImportOutcome,
    pub monitoring: Vec<MonitoringCompleted>,
}

impl ScreeningService {
    /// Parses `files` with the list's importer, records the snapshot, reloads the screening snapshot and
    /// runs continuous monitoring for it, before returning (the API import).
    pub async fn import(
        &self,
        deps: &Deps,
        actor: String,
        request_id: Option<String>,
        watchlist_id: String,
        files: files::ListFiles,
    ) -> AppResult<ImportReport> {
        let names = files.names();
        let id = watchlist_id.clone();
        let parsed = crate::blocking::run(move || files::parse(&id, files)).await?;
        tracing::info!(watchlist = %watchlist_id, entries = parsed.entries.len(), skipped = parsed.skipped, "watchlist parsed");
        let now = crate::clock::format(deps.clock.now());
        let outcome =
            crate::commands::watchlists::import(&deps.writer, actor, now, request_id, watchlist_id, parsed, names)
                .await?;
        // The snapshot is recorded: a failed monitoring pass is retried by the watcher, not reported as a
        // failed import.
        let monitoring = match self.sync(deps).await {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "monitoring after an import failed; the watcher retries it");
                Vec::new()
            }
        };
        Ok(ImportReport { outcome, monitoring })
    }
}
