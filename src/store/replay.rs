//! Rebuilding views from the event log: in place (`idv replay`) or into a fresh database that is then
//! compared table by table with the live one (`idv replay --check`). Must not append events.

use super::events;
use super::{SCHEMA_SQL, VIEW_TABLES};
use crate::crypto::Keyring;
use crate::error::{AppError, AppResult};
use crate::projections;
use rusqlite::Connection;
use std::path::Path;

/// Drops every view row and projects the whole log again, in one transaction.
pub fn rebuild_in_place(conn: &Connection, keyring: &Keyring) -> AppResult<i64> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        for table in VIEW_TABLES {
            conn.execute(&format!("DELETE FROM {table}"), [])?;
        }
        let mut count = 0;
        events::for_each(conn, |e| {
            projections::apply(conn, keyring, &e)?;
            count += 1;
            Ok(())
        })?;
        Ok(count)
    })();
    match result {
        Ok(n) => {
            conn.execute_batch("COMMIT")?;
            Ok(n)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Replays the live database's log into a fresh file and compares every view. Returns the number of
/// events replayed, or the first difference.
pub fn check(live_path: &Path, scratch_path: &Path, keyring: &Keyring) -> AppResult<i64> {
    let _ = std::fs::remove_file(scratch_path);
    let fresh = super::open_private(scratch_path)?;
    fresh.execute_batch("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")?;
    fresh.execute_batch(SCHEMA_SQL)?;
    let uri = format!("file:{}?mode=ro", live_path.display());
    fresh.execute("ATTACH DATABASE ?1 AS live", [uri])?;
    fresh.execute_batch("BEGIN")?;
    fresh.execute_batch("INSERT INTO main.events SELECT * FROM live.events; INSERT INTO main.subject_keys SELECT * FROM live.subject_keys;")?;
    let mut count = 0;
    events::for_each(&fresh, |e| {
        projections::apply(&fresh, keyring, &e)?;
        count += 1;
        Ok(())
    })?;
    fresh.execute_batch("COMMIT")?;
    for table in VIEW_TABLES {
        for (a, b, label) in
            [("live", "main", "live but not in the rebuild"), ("main", "live", "the rebuild but not live")]
        {
            let sql = format!("SELECT * FROM {a}.{table} EXCEPT SELECT * FROM {b}.{table} LIMIT 1");
            let first: Option<String> = fresh
                .query_row(&sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
                .map(|v| Some(format!("{v:?}")))
                .or_else(|e| if matches!(e, rusqlite::Error::QueryReturnedNoRows) { Ok(None) } else { Err(e) })?;
            if let Some(key) = first {
                return Err(AppError::Conflict(format!("table {table}: row {key} is in {label}")));
            }
        }
    }
    drop(fresh);
    let _ = std::fs::remove_file(scratch_path);
    Ok(count)
}
