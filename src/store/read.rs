//! The read side: `ReadPool` opens connections read-only, and `ReadOnly` wraps one of them so that the
//! queries built on it can prepare statements and read rows but have no `execute` and no transaction.
//! `ReadPool::run` is how async code reads: on a blocking thread, inside the caller's span. `Reads`
//! is what view reads shared by the writer (on its own connection, inside its transaction) and the
//! queries take. Must not write.

use super::{configure, Durability};
use crate::error::{AppError, AppResult};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{CachedStatement, Connection, OpenFlags, Params, Row, Statement};
use std::future::Future;
use std::path::Path;

/// A connection of the read-only pool. Only `ReadPool` makes one, so it can never be the writer's.
pub struct ReadOnly(r2d2::PooledConnection<SqliteConnectionManager>);

impl ReadOnly {
    pub fn prepare(&self, sql: &str) -> rusqlite::Result<Statement<'_>> {
        self.0.prepare(sql)
    }

    pub fn prepare_cached(&self, sql: &str) -> rusqlite::Result<CachedStatement<'_>> {
        self.0.prepare_cached(sql)
    }

    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.0.prepare_cached(sql)?.query_row(params, f)
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
        &self.0
    }
}
impl Reads for ReadOnly {}

/// How much of the database file each reader maps.
const READ_MMAP_BYTES: i64 = 1 << 30;

#[derive(Clone)]
pub struct ReadPool(r2d2::Pool<SqliteConnectionManager>);

impl ReadPool {
    pub fn open(path: &Path, size: u32) -> AppResult<Self> {
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI)
            .with_init(|c| {
                configure(c, Durability::Normal)?;
                // Readers map the database file instead of copying each page through a read call into
                // their own cache; the writer keeps ordinary I/O (writes never go through the map).
                c.pragma_update(None, "mmap_size", READ_MMAP_BYTES)
            });
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .build(manager)
            .map_err(|e| AppError::Unavailable(format!("read pool: {e}")))?;
        Ok(ReadPool(pool))
    }

    /// A connection, waiting for one to be free. Blocking: async code uses `run`.
    pub fn get(&self) -> AppResult<ReadOnly> {
        Ok(ReadOnly(self.0.get()?))
    }

    /// Runs `f` with a pooled connection on a blocking thread, inside the current span.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
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
        let pool = ReadPool::open(&path, 2).unwrap();
        (dir, pool)
    }

    #[tokio::test]
    async fn run_reads_on_a_pooled_connection_and_passes_errors_through() {
        let (_dir, pool) = pool();
        let n: i64 = pool.run(|c| Ok(c.query_row("SELECT COUNT(*) FROM api_keys", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(n, 0);
        let missing = pool.run(|c| Ok(c.query_row("SELECT nothing FROM nowhere", [], |r| r.get::<_, i64>(0))?)).await;
        assert!(missing.is_err());
    }

    #[test]
    fn a_statement_prepared_through_read_only_cannot_write() {
        let (_dir, pool) = pool();
        let conn = pool.get().unwrap();
        let mut stmt = conn.prepare("DELETE FROM api_keys").unwrap();
        assert!(stmt.execute([]).is_err(), "the pool's connections are opened read-only");
    }
}
