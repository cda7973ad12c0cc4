//! SQLite storage: opening the database (the writer through a VFS that coalesces WAL writes and can leave a
//! commit's sync to its caller; every connection over a page cache that skips needless truncation walks),
//! the schema and its version stamp, WAL checkpoints, the read-only pool and its `ReadOnly` connection,
//! per-subject data keys, the view reads the writer and the queries share, the event log (append, load,
//! hash chain) and replay. Must not decide anything about the domain.

pub mod blind_keys;
mod cached;
pub mod checkpoint;
pub mod events;
mod kept_map;
pub mod page_cache;
mod read;
pub mod replay;
pub mod shared_reads;
pub mod subject_keys;
mod vfs_shim;
pub mod wal_coalesce;

pub use cached::Exec;
pub use checkpoint::WriterGate;
pub use read::{note_committed, within_request, ReadOnly, ReadPool, Reads};
pub use wal_coalesce::WalSync;

use crate::error::{AppError, AppResult};
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;

pub const SCHEMA_SQL: &str = include_str!("../../schema.sql");
/// 2 KiB pages: chosen while blind-index lookups were a table keyed by random digests, where every insert
/// dirtied a random leaf page and each commit wrote those pages to the WAL; halving the page halved that
/// write volume (measured by `make bench`: 4.7k -> 6.7k identity creations/s, p99 21 -> 14 ms). That table
/// is gone since version 14; the size stays, as a database's page size is fixed once it has tables.
const PAGE_SIZE: i64 = 2048;

/// Bumped whenever schema.sql changes: a database stamped older is brought up to date at open (version 2
/// added columns to capture links; version 3 added the org-user, case and audit-log tables, which
/// schema.sql creates, and a version-3 upgrade fills the new views by replaying the log; version 5 keeps
/// each session's selfie hash beside it; version 6 added the document tables, new tables only, which the
/// upgrade to it fills by replaying the log; version 8 gives each workflow version its draft id and adds the
/// workflow-run, findings, check-monitoring and monitoring-history views, filled at open by replaying the log;
/// version 10 keeps each session's latest log position and indexes what the sweeper looks for, the positions
/// filled at open by replaying the log; version 11 keys blind indexes by a short digest prefix alone; version
/// 12 keeps them in one table keyed by that prefix and lists each identity's keys in its row; version 13
/// keeps only the prefix and the identity in that table's rows; version 14 drops that table, the keys listed
/// in each identity's row with the log position that wrote them, which the in-memory lookup catches up by;
/// version 15 drops two indexes no query reads, which every upload and every decision with findings wrote:
/// documents by perceptual hash, a random key, and findings by source, whose id already names the source;
/// version 16 replaces the index of sessions by IP digest, which the device count could not use and whose
/// rows the IP count read one by one for their creation time, with indexes by digest and creation time).
pub const SCHEMA_VERSION: i64 = 16;

/// The view tables that projections own; replay drops and rebuilds exactly these.
pub const VIEW_TABLES: &[&str] = &[
    "api_keys",
    "identities",
    "identity_tags",
    "identity_custom_fields",
    "relationships",
    "relationship_types",
    "identity_types",
    "custom_field_definitions",
    "identity_audit",
    "sessions",
    "session_tags",
    "session_documents",
    "capture_links",
    "session_audit",
    "settings",
    "workflows",
    "workflow_versions",
    "workflow_runs",
    "workflow_run_nodes",
    "webhook_endpoints",
    "watchlist_versions",
    "watchlist_entries",
    "watchlist_imports",
    "watchlist_import_entries",
    "checks",
    "check_hits",
    "screening_dismissals",
    "identity_monitored_lists",
    "check_monitoring",
    "monitoring_passes",
    "findings",
    "custom_lists",
    "custom_list_items",
    "custom_list_digests",
    "list_matches",
    "org_users",
    "org_user_sessions",
    "cases",
    "case_notes",
    "audit_log",
    "documents",
    "document_extractions",
    "document_checks",
    "document_types",
    "document_groups",
    "verifyhq_tiers",
    "verifyhq_documents",
    "verifyhq_dedup_checks",
    "verifyhq_enrollments",
    "verifyhq_subscriptions",
    "verifyhq_liveness",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Full,
    Normal,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// Distinct statements a connection keeps prepared. The writer runs a few hundred (every projection's
/// inserts and updates) and rusqlite's default of 16 evicted them before their next use, so SQLite parsed
/// the same SQL again for every command: a quarter of the writer's time in a verification load.
const STATEMENT_CACHE_CAPACITY: usize = 1024;

fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys=ON; PRAGMA synchronous={}; PRAGMA secure_delete=ON; PRAGMA cache_size=-32000; \
         PRAGMA temp_store=MEMORY;",
        durability.pragma()
    ))
}

/// The files SQLite keeps beside a database: the WAL, its shared-memory index and the rollback journal.
const SIDE_FILES: &[&str] = &["-wal", "-shm", "-journal"];

/// Creates `path` empty and owner-only (0600) when it does not exist yet. SQLite gives the files it
/// creates beside a database (-wal, -shm, -journal) the database file's mode, so creating the database
/// this way first keeps every one of them private whatever the process umask is.
pub fn create_private(path: &Path) -> AppResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(AppError::Unavailable(format!("cannot create {}: {e}", path.display()))),
    }
}

/// Sets owner-only permissions (0600) on `path` and on whichever of its -wal, -shm and -journal files
/// exist, for files made before this rule or by another tool.
pub fn restrict_files(path: &Path) -> AppResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut paths = vec![path.to_path_buf()];
        paths.extend(SIDE_FILES.iter().map(|suffix| {
            let mut p = path.as_os_str().to_os_string();
            p.push(suffix);
            std::path::PathBuf::from(p)
        }));
        for p in paths {
            match std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(AppError::Unavailable(format!("cannot restrict {}: {e}", p.display()))),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, SIDE_FILES);
    Ok(())
}

/// Opens `path` read-write, creating it owner-only (0600) when it does not exist, and tightens the
/// permissions of an existing file and its side files to 0600.
pub fn open_private(path: &Path) -> AppResult<Connection> {
    open_private_through(path, None)
}

/// `open_private` through the named SQLite VFS, or the platform's.
fn open_private_through(path: &Path, vfs: Option<&str>) -> AppResult<Connection> {
    create_private(path)?;
    let conn = match vfs {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, rusqlite::OpenFlags::default(), vfs)?,
        None => Connection::open(path)?,
    };
    restrict_files(path)?;
    Ok(conn)
}

/// Opens (creating if needed) the write connection, applies the schema to an empty database and refuses
/// a database stamped by a newer binary. The database and its -wal and -shm files are owner-only (0600).
pub fn open_writer(path: &Path, durability: Durability) -> AppResult<Connection> {
    // The VFS that hands each commit's WAL frames to the OS in a few large writes (`wal_coalesce`) is sound
    // only where every commit syncs before it is published: synchronous=FULL.
    let vfs = match durability {
        Durability::Full => Some(wal_coalesce::register().map_err(AppError::Unavailable)?),
        Durability::Normal => None,
    };
    let conn = open_private_through(path, vfs)?;
    // Only takes effect on a new, empty database file.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    configure(&conn, durability)?;
    // The -wal and -shm files exist once WAL mode is on; SQLite created them with the database's mode,
    // and this also tightens ones left by an older version.
    restrict_files(path)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(AppError::Unavailable(format!(
            "database {} has schema version {version}, newer than this idv (which knows {SCHEMA_VERSION}); \
             use a newer idv binary",
            path.display()
        )));
    }
    if version < SCHEMA_VERSION {
        if version == 1 {
            // Version 2 binds a consumed one-time link to the browser that consumed it.
            conn.execute_batch(
                "ALTER TABLE capture_links ADD COLUMN consumed_at TEXT;
                 ALTER TABLE capture_links ADD COLUMN browser_hash TEXT;",
            )?;
        }
        // Version 4 records the request behind each event (older rows keep nulls). Before version 3
        // there is no audit_log yet: the schema below creates it whole.
        for table in ["events", "audit_log"] {
            for column in ["request_method", "request_path", "ip_address"] {
                add_column_if_missing(&conn, table, &format!("{column} TEXT"))?;
            }
        }
        // Version 5 keeps each session's selfie hash as an integer beside the session, filled here from
        // the documents view (the schema below then indexes it).
        add_selfie_hash_column(&conn)?;
        // Version 7 adds the VerifyHQ dialect: its endpoints' dialect and client (TEXT, null for older
        // endpoints) and its API clients' own rate limit (null for every older key).
        for column in ["dialect", "client_id"] {
            add_column_if_missing(&conn, "webhook_endpoints", &format!("{column} TEXT"))?;
        }
        add_column_if_missing(&conn, "api_keys", "rate_limit_rpm INTEGER")?;
        // Version 8 names each workflow version's draft (filled by the replay at open, see startup).
        add_column_if_missing(&conn, "workflow_versions", "draft_id TEXT")?;
        // Version 9 adds the background watchlist imports (new tables only).
        // Version 10 keeps each session's latest log position (0 until the replay at open fills it, see
        // startup), which the duplicate search catches up by.
        add_column_if_missing(&conn, "sessions", "last_event_seq INTEGER NOT NULL DEFAULT 0")?;
        // Versions 11 to 13 reshaped the blind-index table; version 14 drops it, each identity's row listing
        // its keys (since 12) with the log position the in-memory lookup catches up by.
        drop_blind_index_table(&conn)?;
        // Version 15 drops indexes no query reads (see SCHEMA_VERSION).
        conn.execute_batch(UNREAD_INDEXES_DROPPED)?;
        // Version 16 replaces the index of sessions by IP digest (see SCHEMA_VERSION); the schema below
        // creates the new ones.
        conn.execute_batch("DROP INDEX IF EXISTS sessions_by_ip;")?;
        // Version 3 adds the case views and the audit log (new tables only); `idv replay` fills them
        // from the events already in the log.
        conn.execute_batch(SCHEMA_SQL)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    Ok(conn)
}

/// The indexes older schemas made and no query reads.
const UNREAD_INDEXES_DROPPED: &str =
    "DROP INDEX IF EXISTS session_documents_by_phash; DROP INDEX IF EXISTS findings_by_source;";

/// Drops the blind-index table of versions before 14. Each identity's row lists its keys
/// (`identities.blind_keys`, the first `crypto::BLIND_INDEX_KEY_BYTES` bytes of each digest, in the order of
/// their kinds): since version 12 the projection writes that list; before it, it is filled here from the
/// table's rows (keyed by identity and kind, digests whole before version 11). The lookup keeps the keys in
/// memory (`store::blind_keys`), caught up by `identities.blind_seq`: 0 for the rows listed before it, so its
/// first catch-up reads them. One transaction.
fn drop_blind_index_table(conn: &Connection) -> AppResult<()> {
    let has_column = |table: &str, column: &str| -> AppResult<bool> {
        let n: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
            [column],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    };
    if !has_column("identities", "id")? {
        return Ok(()); // a new database: the schema creates everything
    }
    let tx = conn.unchecked_transaction()?;
    if has_column("blind_indexes", "kind")? && !has_column("identities", "blind_keys")? {
        add_column_if_missing(&tx, "identities", "blind_keys BLOB")?;
        let rows: Vec<(String, Vec<u8>)> = tx
            .prepare("SELECT identity_id, substr(digest, 1, ?1) FROM blind_indexes ORDER BY identity_id, kind")?
            .query_map([crate::crypto::BLIND_INDEX_KEY_BYTES as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut list = tx.prepare("UPDATE identities SET blind_keys = ?1 WHERE id = ?2")?;
        for identity in rows.chunk_by(|a, b| a.0 == b.0) {
            let keys: Vec<u8> = identity.iter().flat_map(|(_, key)| key.iter().copied()).collect();
            list.execute(rusqlite::params![keys, identity[0].0])?;
        }
    }
    add_column_if_missing(&tx, "identities", "blind_seq INTEGER")?;
    tx.execute_batch(
        "UPDATE identities SET blind_seq = 0 WHERE blind_keys IS NOT NULL AND blind_seq IS NULL;
         DROP TABLE IF EXISTS blind_indexes;",
    )?;
    tx.commit()?;
    Ok(())
}

/// Adds `sessions.selfie_phash` to a database made before it and fills it from `session_documents`.
fn add_selfie_hash_column(conn: &Connection) -> AppResult<()> {
    let tables: i64 =
        conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'sessions'", [], |r| {
            r.get(0)
        })?;
    let present: i64 =
        conn.query_row("SELECT COUNT(*) FROM pragma_table_info('sessions') WHERE name = 'selfie_phash'", [], |r| {
            r.get(0)
        })?;
    if tables == 0 || present > 0 {
        return Ok(());
    }
    conn.execute_batch("ALTER TABLE sessions ADD COLUMN selfie_phash INTEGER")?;
    let selfies: Vec<(String, String)> = conn
        .prepare("SELECT session_id, phash FROM session_documents WHERE doc_type = 'selfie' AND phash IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = conn.prepare("UPDATE sessions SET selfie_phash = ?1 WHERE id = ?2")?;
    for (session, hex) in selfies {
        if let Some(bits) = crate::checks::imagehash::stored_bits(&hex) {
            update.execute(rusqlite::params![bits, session])?;
        }
    }
    Ok(())
}

/// Adds a column (`definition`: its name, then its type and constraints) to an existing table that lacks
/// it (a table that does not exist yet is left to the schema).
fn add_column_if_missing(conn: &Connection, table: &str, definition: &str) -> AppResult<()> {
    let column = definition.split_whitespace().next().unwrap_or(definition);
    let columns: i64 =
        conn.query_row(&format!("SELECT COUNT(*) FROM pragma_table_info('{table}')"), [], |r| r.get(0))?;
    let present: i64 =
        conn.query_row(&format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1"), [column], |r| {
            r.get(0)
        })?;
    if columns > 0 && present == 0 {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {definition}"))?;
    }
    Ok(())
}

/// Commits the transaction of a connection opened through the coalescing VFS, leaving the WAL sync to
/// the caller: the commit is published, and nobody may rely on it until the returned sync has been made.
/// None when the commit synced (or had nothing to sync) itself. The server does not use it: see
/// `wal_coalesce` for why.
pub fn commit_deferring_sync(conn: &Connection) -> (rusqlite::Result<()>, Option<WalSync>) {
    wal_coalesce::commit_deferring_sync(|| conn.prepare_cached("COMMIT")?.execute([]).map(|_| ()))
}

/// Moves WAL checkpoints off the writer (see `checkpoint`); the returned gate is the writer's to hold
/// for each batch, and `observe` is told what each checkpoint round did.
pub fn start_checkpointer(
    writer: &Connection,
    path: &Path,
    durability: Durability,
    observe: impl Fn(&checkpoint::Round) + Send + 'static,
) -> AppResult<Arc<WriterGate>> {
    checkpoint::start(writer, path, |conn| Ok(configure(conn, durability)?), observe)
}

#[cfg(test)]
mod upgrade_tests {
    use super::*;

    #[test]
    fn a_version_2_database_gains_the_org_user_tables_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        {
            let conn = open_writer(&path, Durability::Normal).unwrap();
            conn.execute_batch("DROP TABLE org_user_sessions; DROP TABLE org_users; PRAGMA user_version = 2;").unwrap();
        }
        let conn = open_writer(&path, Durability::Normal).unwrap();
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('org_users', 'org_user_sessions')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 2);
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_version_10_database_lists_each_identitys_short_keys_in_its_row_and_drops_the_blind_index_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        let (email, phone, other) = ([0xabu8; 32], [0xcdu8; 32], [0x01u8; 32]);
        {
            let conn = open_writer(&path, Durability::Normal).unwrap();
            conn.execute_batch(
                "DROP INDEX identities_by_blind_seq;
                 ALTER TABLE identities DROP COLUMN blind_seq;
                 ALTER TABLE identities DROP COLUMN blind_keys;
                 CREATE TABLE blind_indexes (
                     identity_id TEXT NOT NULL, kind TEXT NOT NULL, environment TEXT NOT NULL, digest BLOB NOT NULL,
                     PRIMARY KEY (identity_id, kind)
                 ) WITHOUT ROWID;
                 CREATE INDEX blind_indexes_lookup ON blind_indexes (environment, kind, digest);
                 PRAGMA user_version = 10;",
            )
            .unwrap();
            for id in ["idn_a", "idn_b", "idn_c"] {
                conn.execute(
                    "INSERT INTO identities (id, environment, status, session_count, monitoring_enabled, is_flagged,
                                             pii, created_at, updated_at, stream_seq)
                     VALUES (?1, 'live', 'pending', 0, 1, 0, '{}', 'now', 'now', 1)",
                    [id],
                )
                .unwrap();
            }
            for (id, kind, digest) in [("idn_a", "phone", phone), ("idn_a", "email", email), ("idn_b", "email", other)]
            {
                conn.execute(
                    "INSERT INTO blind_indexes (identity_id, kind, environment, digest) VALUES (?1, ?2, 'live', ?3)",
                    rusqlite::params![id, kind, digest.to_vec()],
                )
                .unwrap();
            }
        }
        let conn = open_writer(&path, Durability::Normal).unwrap();
        let tables: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'blind_indexes%'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0, "no blind-index table or index is left");
        let rows: Vec<(String, Option<Vec<u8>>, Option<i64>)> = conn
            .prepare("SELECT id, blind_keys, blind_seq FROM identities ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let short = crate::crypto::blind_index_key;
        assert_eq!(
            rows,
            [
                ("idn_a".to_string(), Some([short(&email), short(&phone)].concat()), Some(0)),
                ("idn_b".to_string(), Some(short(&other).to_vec()), Some(0)),
                ("idn_c".to_string(), None, None),
            ],
            "each identity's keys cut to the stored length, in the order of their kinds, to be read from position 0"
        );
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        drop(conn);
        let reads = ReadPool::open(&path, 1, 1).unwrap().get().unwrap();
        let found = reads.blind_key_carriers(short(&email)).unwrap();
        assert_eq!(found.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["idn_a"], "found through the lookup");
    }

    #[test]
    fn a_version_13_database_keeps_the_keys_its_rows_list_and_drops_the_blind_index_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        let listed = [[0xabu8; 16], [0xcdu8; 16]].concat();
        {
            let conn = open_writer(&path, Durability::Normal).unwrap();
            conn.execute_batch(
                "DROP INDEX identities_by_blind_seq;
                 ALTER TABLE identities DROP COLUMN blind_seq;
                 CREATE TABLE blind_indexes (
                     digest BLOB NOT NULL, identity_id TEXT NOT NULL, PRIMARY KEY (digest, identity_id)
                 ) WITHOUT ROWID;
                 PRAGMA user_version = 13;",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO identities (id, environment, status, session_count, monitoring_enabled, is_flagged,
                                         pii, created_at, updated_at, stream_seq, blind_keys)
                 VALUES ('idn_a', 'live', 'pending', 0, 1, 0, '{}', 'now', 'now', 1, ?1)",
                [&listed],
            )
            .unwrap();
            conn.execute("INSERT INTO blind_indexes (digest, identity_id) VALUES (?1, 'idn_a')", [&listed[..16]])
                .unwrap();
        }
        let conn = open_writer(&path, Durability::Normal).unwrap();
        let tables: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'blind_indexes'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0);
        let row: (Vec<u8>, i64) = conn
            .query_row("SELECT blind_keys, blind_seq FROM identities WHERE id = 'idn_a'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(row, (listed.clone(), 0), "the list is kept as it was, to be read from position 0");
        drop(conn);
        let reads = ReadPool::open(&path, 1, 1).unwrap().get().unwrap();
        assert_eq!(reads.blind_key_carriers(&listed[16..]).unwrap().len(), 1);
    }

    #[test]
    fn a_version_14_database_loses_the_indexes_no_query_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        let indexes = |conn: &Connection| -> i64 {
            conn.query_row(
                "SELECT COUNT(*) FROM sqlite_master
                 WHERE name IN ('session_documents_by_phash', 'findings_by_source')",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        {
            let conn = open_writer(&path, Durability::Normal).unwrap();
            conn.execute_batch(
                "CREATE INDEX session_documents_by_phash ON session_documents (doc_type, phash);
                 CREATE INDEX findings_by_source ON findings (source_id);
                 PRAGMA user_version = 14;",
            )
            .unwrap();
            assert_eq!(indexes(&conn), 2);
        }
        let conn = open_writer(&path, Durability::Normal).unwrap();
        assert_eq!(indexes(&conn), 0);
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_version_4_database_gains_the_selfie_hash_column_filled_from_its_documents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        {
            let conn = open_writer(&path, Durability::Normal).unwrap();
            conn.execute_batch(
                "DROP INDEX sessions_selfie_phash; DROP INDEX sessions_selfies_since;
                 ALTER TABLE sessions DROP COLUMN selfie_phash;
                 INSERT INTO sessions (id, environment, status, metadata, send_email, invites_sent, retention_status,
                    processing_attempts, fraud_signals, created_at, updated_at, stream_seq)
                 VALUES ('ses_a', 'live', 'approved', '{}', 0, 0, 'active', 0, '{}', 't', 't', 1),
                        ('ses_b', 'live', 'approved', '{}', 0, 0, 'active', 0, '{}', 't', 't', 1);
                 INSERT INTO session_documents (session_id, doc_type, mime_type, size_bytes, blob_id, phash, created_at)
                 VALUES ('ses_a', 'selfie', 'image/png', 1, 'blb_1', 'ff00000000000001', 't'),
                        ('ses_b', 'id_front', 'image/png', 1, 'blb_2', '0000000000000002', 't');
                 PRAGMA user_version = 4;",
            )
            .unwrap();
        }
        let conn = open_writer(&path, Durability::Normal).unwrap();
        let hash = |id: &str| -> Option<i64> {
            conn.query_row("SELECT selfie_phash FROM sessions WHERE id = ?1", [id], |r| r.get(0)).unwrap()
        };
        assert_eq!(hash("ses_a"), Some(0xff00_0000_0000_0001_u64 as i64), "the selfie's hash, same 64 bits");
        assert_eq!(hash("ses_b"), None, "a document that is not a selfie leaves it empty");
        let indexed: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sessions_selfie_phash'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(indexed, 1);
    }

    #[test]
    fn a_version_3_database_gains_the_request_columns_and_its_chain_still_verifies() {
        use crate::store::events::{append, verify_chain, ChainHead, EventMeta, NewEvent};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        let keyring = crate::crypto::Keyring::new(&crate::crypto::MasterKey::from_bytes([7u8; 32]));
        {
            let conn = open_writer(&path, Durability::Normal).unwrap();
            conn.execute_batch(
                "ALTER TABLE events DROP COLUMN request_method; ALTER TABLE events DROP COLUMN request_path;
                 ALTER TABLE events DROP COLUMN ip_address; ALTER TABLE audit_log DROP COLUMN request_method;
                 ALTER TABLE audit_log DROP COLUMN request_path; ALTER TABLE audit_log DROP COLUMN ip_address;
                 PRAGMA user_version = 3;",
            )
            .unwrap();
        }
        let conn = open_writer(&path, Durability::Normal).unwrap();
        let mut chain = ChainHead::load(&conn).unwrap();
        let meta = |origin| EventMeta {
            actor: "cli".into(),
            environment: "live".into(),
            request_id: None,
            recorded_at: "2026-01-01T00:00:00.000Z".into(),
            origin,
        };
        append(
            &conn,
            &mut chain,
            &keyring,
            &meta(None),
            "s",
            0,
            vec![NewEvent::new("TestHappened", serde_json::json!({}))],
        )
        .unwrap();
        let origin = crate::store::events::RequestOrigin {
            method: "POST".into(),
            path: "/api/v1/identities".into(),
            ip: Some("203.0.113.7".into()),
        };
        append(
            &conn,
            &mut chain,
            &keyring,
            &meta(Some(origin)),
            "s",
            1,
            vec![NewEvent::new("TestHappened", serde_json::json!({}))],
        )
        .unwrap();
        assert_eq!(verify_chain(&conn, &keyring), Ok(2));
        let (method, ip): (Option<String>, Option<String>) = conn
            .query_row("SELECT request_method, ip_address FROM events WHERE seq = 2", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((method.as_deref(), ip.as_deref()), (Some("POST"), Some("203.0.113.7")));
        let audit_columns: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('audit_log') WHERE name LIKE 'request_%' OR name = 'ip_address'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(audit_columns, 3);
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn a_version_15_database_counts_velocity_by_digest_and_creation_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        {
            let conn = open_writer(&path, Durability::Normal).unwrap();
            conn.execute_batch(
                "DROP INDEX sessions_by_ip_day; DROP INDEX sessions_by_device_day;
                 CREATE INDEX sessions_by_ip ON sessions (environment, ip_digest);
                 PRAGMA user_version = 15;",
            )
            .unwrap();
        }
        let conn = open_writer(&path, Durability::Normal).unwrap();
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'sessions_by_%' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!indexes.iter().any(|name| name == "sessions_by_ip"), "{indexes:?}");
        for index in ["sessions_by_device_day", "sessions_by_ip_day"] {
            assert!(indexes.iter().any(|name| name == index), "{index}: {indexes:?}");
        }
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
