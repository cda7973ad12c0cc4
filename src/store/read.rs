//! The read side: `ReadPool` opens connections read-only, and `ReadOnly` wraps one of them so that the
//! queries built on it can prepare statements and read rows but have no `execute` and no transaction;
//! through it they also reach the pool's one blind-key lookup (`store::blind_keys`).
//! `ReadPool::run` is how async code reads: on the read lane (a few threads, each with its own
//! connection), inside the caller's span, refused when the lane is full unless the request has already
//! written (`within_request`); `ReadPool::run_scan` is for reads that may take long (loading a
//! watchlist, exporting a list, background scans), on the runtime's blocking pool; `ReadPool::in_snapshot` is
//! for code already on a blocking thread that reads many times for one answer (a session's evidence). `Reads`
//! is what view reads shared by the writer (on its own connection, inside its transaction) and the
//! queries take. Must not write.

use super::blind_keys::{BlindKeyIndex, Carrier};
use super::{configure, Durability};
use crate::blocking::{Admission, Lane};
use crate::error::{AppError, AppResult};
use rusqlite::{CachedStatement, Connection, OpenFlags, Params, Row, Statement};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

/// A read-only connection: one of the pool's, or one a read-lane thread owns, with its database's blind-key
/// lookup. Only `ReadPool` makes one, so it can never be the writer's.
pub struct ReadOnly(Opened, Arc<BlindKeyIndex>);

enum Opened {
    Pooled(r2d2::PooledConnection<ReadConnections>),
    Owned(Connection),
}

impl ReadOnly {
    fn conn(&self) -> &Connection {
        match &self.0 {
            Opened::Pooled(c) => c,
            Opened::Owned(c) => c,
        }
    }

    /// Which identities carry a blind-index key (`store::blind_keys`), as this connection's snapshot has them.
    pub fn blind_key_carriers(&self, index_key: &[u8]) -> AppResult<Vec<Carrier>> {
        self.1.carriers(self, index_key)
    }

    /// The `identities` rowids that may carry every one of `index_keys` (`store::blind_keys`): a superset
    /// for the caller's query to confirm.
    pub fn blind_key_candidates(&self, index_keys: &[&[u8]]) -> AppResult<Vec<i64>> {
        self.1.candidates(self, index_keys)
    }

    pub fn prepare(&self, sql: &str) -> rusqlite::Result<Statement<'_>> {
        self.conn().prepare(sql)
    }

    pub fn prepare_cached(&self, sql: &str) -> rusqlite::Result<CachedStatement<'_>> {
        self.conn().prepare_cached(sql)
    }

    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.conn().prepare_cached(sql)?.query_row(params, f)
    }
}

mod sealed {
    /// The raw connection behind a `Reads`; private to this module, so code elsewhere cannot reach
    /// `execute` or a transaction through it.
    pub trait Raw {
        fn raw(&self) -> &rusqlite::Connection;
    }
}

/// What a read needs from a connection, and nothing more: statements and single-row reads. Implemented
/// for the writer's own connection (reads the writer and the queries share, run inside its transaction)
/// and for `ReadOnly`; a function generic over it cannot write.
pub trait Reads: sealed::Raw {
    fn prepare(&self, sql: &str) -> rusqlite::Result<Statement<'_>> {
        self.raw().prepare(sql)
    }

    fn prepare_cached(&self, sql: &str) -> rusqlite::Result<CachedStatement<'_>> {
        self.raw().prepare_cached(sql)
    }

    fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.raw().prepare_cached(sql)?.query_row(params, f)
    }
}

impl sealed::Raw for Connection {
    fn raw(&self) -> &Connection {
        self
    }
}
impl Reads for Connection {}

impl sealed::Raw for ReadOnly {
    fn raw(&self) -> &Connection {
        self.conn()
    }
}
impl Reads for ReadOnly {}

/// How much of the database file each reader maps.
const READ_MMAP_BYTES: i64 = 1 << 30;

/// Runs `f` inside one read transaction: its statements see one snapshot (an identity and its tags as of
/// the same commit), and the WAL's read lock is taken once instead of once per statement. The transaction
/// is ended however `f` ends, a panic included, so the connection goes back to the lane clean.
fn in_one_snapshot<T>(conn: &ReadOnly, f: impl FnOnce(&ReadOnly) -> AppResult<T>) -> AppResult<T> {
    conn.conn().prepare_cached("BEGIN")?.execute([])?;
    let _ends = EndsTransaction(conn.conn());
    f(conn)
}

/// Ends the read transaction it guards when dropped.
struct EndsTransaction<'a>(&'a Connection);

impl Drop for EndsTransaction<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self.0.prepare_cached("COMMIT").and_then(|mut s| s.execute([]));
        }
    }
}

tokio::task_local! {
    /// Whether the request this task serves has committed a write (set by the writer's caller).
    static COMMITTED: std::cell::Cell<bool>;
}

/// Runs one request's handling, keeping track of whether it commits a write, so that its reads after
/// the write are never refused ([`ReadPool::run`]). Outside such a scope (background work, the CLI) reads
/// are admitted as usual.
pub async fn within_request<F: Future>(request: F) -> F::Output {
    COMMITTED.scope(std::cell::Cell::new(false), request).await
}

/// Records that the current request has committed a write (nothing outside a request).
pub fn note_committed() {
    let _ = COMMITTED.try_with(|c| c.set(true));
}

/// How the current task's reads are admitted to the lane: always once its request has committed a write.
fn admission() -> Admission {
    if COMMITTED.try_with(std::cell::Cell::get).unwrap_or(false) {
        Admission::Always
    } else {
        Admission::IfRoom
    }
}

/// Request-sized reads waiting for a lane thread; past that, reads answer 503 with Retry-After.
const READ_LANE_CAPACITY: usize = 8192;

#[derive(Clone)]
pub struct ReadPool {
    pool: r2d2::Pool<ReadConnections>,
    lane: Lane<ReadOnly>,
    blind_keys: Arc<BlindKeyIndex>,
}

/// Opens the read connections: read-only, through the VFS that keeps their map of the database file
/// across other connections' commits (`store::kept_map`).
pub struct ReadConnections {
    path: std::path::PathBuf,
    vfs: &'static str,
}

impl r2d2::ManageConnection for ReadConnections {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let c = Connection::open_with_flags_and_vfs(&self.path, flags, self.vfs)?;
        configure(&c, Durability::Normal)?;
        // Readers map the database file instead of copying each page through a read call into their own
        // cache; the writer keeps ordinary I/O (writes never go through the map).
        c.pragma_update(None, "mmap_size", READ_MMAP_BYTES)?;
        Ok(c)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch("")
    }

    fn has_broken(&self, _: &mut Connection) -> bool {
        false
    }
}

fn manager(path: &Path) -> AppResult<ReadConnections> {
    let vfs = super::kept_map::register().map_err(AppError::Unavailable)?;
    Ok(ReadConnections { path: path.to_path_buf(), vfs })
}

impl ReadPool {
    /// `size` pooled connections (for `get` and `run_scan`) and `lane_threads` more, one per lane thread.
    pub fn open(path: &Path, size: u32, lane_threads: usize) -> AppResult<Self> {
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .build(manager(path)?)
            .map_err(|e| AppError::Unavailable(format!("read pool: {e}")))?;
        let opener = manager(path)?;
        let blind_keys = Arc::new(BlindKeyIndex::default());
        let owned = (0..lane_threads.max(1))
            .map(|_| r2d2::ManageConnection::connect(&opener).map(|c| ReadOnly(Opened::Owned(c), blind_keys.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let lane = Lane::start("idv-read", owned, READ_LANE_CAPACITY)?;
        Ok(ReadPool { pool, lane, blind_keys })
    }

    /// A connection, waiting for one to be free. Blocking: async code uses `run`.
    pub fn get(&self) -> AppResult<ReadOnly> {
        Ok(ReadOnly(Opened::Pooled(self.pool.get()?), self.blind_keys.clone()))
    }

    /// Runs `f` on a pooled connection inside one read transaction, on the calling thread (blocking): its
    /// reads see one commit, and the WAL's read lock is taken once instead of once per statement (a
    /// session's evidence is twenty-odd statements). `f` should be request-sized, as on the lane: the
    /// snapshot holds the WAL's restart back while it lasts.
    pub fn in_snapshot<T>(&self, f: impl FnOnce(&ReadOnly) -> AppResult<T>) -> AppResult<T> {
        in_one_snapshot(&self.get()?, f)
    }

    /// Runs `f` on a read-lane thread with its connection, inside the current span: the way handlers,
    /// middleware and services read. `f` should be request-sized (a page, one record); see `run_scan`.
    /// A read of a request that has already committed a write (see [`within_request`]) is queued however
    /// full the lane is: refusing it would answer 503, "try again", for a write that is done.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&ReadOnly) -> AppResult<T> + Send + 'static,
    {
        self.lane.submit(move |conn| in_one_snapshot(conn, f), admission())
    }

    /// Runs `f` with a pooled connection on the runtime's blocking pool, inside the current span: for reads
    /// that may take seconds, which on the lane would hold up every request behind them.
    pub fn run_scan<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&ReadOnly) -> AppResult<T> + Send + 'static,
    {
        let pool = self.clone();
        crate::blocking::run(move || f(&pool.get()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> (tempfile::TempDir, ReadPool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        drop(super::super::open_writer(&path, Durability::Normal).unwrap());
        let pool = ReadPool::open(&path, 2, 1).unwrap();
        (dir, pool)
    }

    #[tokio::test]
    async fn run_and_run_scan_read_and_pass_errors_through() {
        let (_dir, pool) = pool();
        let n: i64 = pool.run(|c| Ok(c.query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(n, 0);
        let missing = pool.run(|c| Ok(c.query_row("SELECT nothing FROM nowhere", [], |r| r.get::<_, i64>(0))?)).await;
        assert!(missing.is_err());
        let n: i64 =
            pool.run_scan(|c| Ok(c.query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn a_lane_read_sees_one_snapshot_and_leaves_no_transaction_open() {
        let (_dir, pool) = pool();
        let open = pool.run(|c| Ok(c.conn().is_autocommit())).await.unwrap();
        assert!(!open, "the read runs inside a transaction");
        let panicked = pool.run(|_| -> AppResult<()> { panic!("boom") }).await;
        assert!(panicked.is_err());
        let after = pool.run(|c| Ok(c.query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get::<_, i64>(0))?)).await;
        assert_eq!(after.unwrap(), 0, "the next read begins its own transaction after a panic");
    }

    #[test]
    fn a_blocking_snapshot_read_sees_one_commit_and_leaves_no_transaction_open() {
        let (dir, _) = pool();
        let path = dir.path().join("idv.db");
        // One pooled connection, so the last check below looks at the one the failed read used.
        let pool = ReadPool::open(&path, 1, 1).unwrap();
        let writer = super::super::open_writer(&path, Durability::Normal).unwrap();
        let count = |c: &ReadOnly| c.query_row("SELECT COUNT(*) FROM meta", [], |r| r.get::<_, i64>(0));
        let (before, after) = pool
            .in_snapshot(|c| {
                assert!(!c.conn().is_autocommit(), "the reads run inside a transaction");
                let before = count(c)?;
                writer.execute("INSERT INTO meta (name, value) VALUES ('snapshot_test', 'x')", []).unwrap();
                Ok((before, count(c)?))
            })
            .unwrap();
        assert_eq!(before, after, "a commit during the reads is not seen by them");
        let later = pool.in_snapshot(|c| Ok(count(c)?)).unwrap();
        assert_eq!(later, before + 1, "the next snapshot sees it");
        let failed = pool.in_snapshot(|_| -> AppResult<()> { Err(AppError::not_found("Thing")) });
        assert!(failed.is_err());
        assert!(pool.get().unwrap().conn().is_autocommit(), "a failed read leaves no transaction open");
    }

    #[test]
    fn the_pools_connections_keep_their_map_of_the_file_across_commits() {
        let (dir, _) = pool();
        let path = dir.path().join("idv.db");
        let pool = ReadPool::open(&path, 1, 1).unwrap();
        let writer = super::super::open_writer(&path, Durability::Normal).unwrap();
        let count = |c: &ReadOnly| {
            c.query_row("SELECT COUNT(*) FROM meta WHERE name LIKE 'map_test_%'", [], |r| r.get::<_, i64>(0))
        };
        assert_eq!(pool.in_snapshot(|c| Ok(count(c)?)).unwrap(), 0);
        let before = super::super::kept_map::thread_unmaps();
        for n in 1..=5 {
            writer.execute("INSERT INTO meta (name, value) VALUES (?1, 'x')", [format!("map_test_{n}")]).unwrap();
            assert_eq!(pool.in_snapshot(|c| Ok(count(c)?)).unwrap(), n, "each read sees the commit before it");
        }
        let (through, kept) = super::super::kept_map::thread_unmaps();
        assert_eq!((through - before.0, kept - before.1), (0, 5), "opened through store::kept_map, which kept the map");
    }

    #[tokio::test]
    async fn the_lanes_connections_are_read_only_too() {
        let (_dir, pool) = pool();
        let refused = pool.run(|c| Ok(c.prepare("DELETE FROM api_keys")?.execute([]).is_err())).await.unwrap();
        assert!(refused, "a lane thread's connection is opened read-only");
    }

    #[test]
    fn a_statement_prepared_through_read_only_cannot_write() {
        let (_dir, pool) = pool();
        let conn = pool.get().unwrap();
        let mut stmt = conn.prepare("DELETE FROM api_keys").unwrap();
        assert!(stmt.execute([]).is_err(), "the pool's connections are opened read-only");
    }
}
