//! The blind-index lookup: which identities carry a blind-index key, answered from an in-memory copy of
//! the keys the `identities` view lists (`blind_keys`), caught up before every lookup by log position
//! (`blind_seq`, the event that last wrote an identity's keys; the index on it carries the keys, so a
//! catch-up reads that index alone) and confirmed against the view. Owns that copy
//! and its SQL; must not write, and keeps nothing but key prefixes and row numbers (no id, no value).
//!
//! Why in memory and not a table keyed by digest, as before: a keyed hash is random by design, so each of
//! an identity's eight keys landed on its own page of that b-tree, and every commit wrote about one page per
//! key to the WAL and the checkpointer wrote it again to the database. With the keys listed in the identity's
//! own row (one row, appended) and this copy doing the lookup, wrk identity creations on the 2-core machine
//! went from about 7,500/s (p99 24 ms) to the rates the README gives.
//!
//! The copy is a few sorted runs of (first 8 bytes of the key, `identities` rowid): 16 bytes per key, so
//! about 128 MB for a million identities with eight indexed fields each. A run is added per catch-up and
//! runs are merged while the newest is at least half the size of the one before, so there are O(log n) of
//! them. It only proposes candidates: each is confirmed by reading the identity's row (its current keys, in
//! the caller's snapshot), so keys an identity no longer has (changed or redacted data), rows of a later
//! snapshot and prefix collisions are never reported. Rowids are stable while the server runs (nothing
//! vacuums); a schema change (an in-place replay drops and recreates the views) starts the copy afresh.

use super::read::Reads;
use crate::crypto::BLIND_INDEX_KEY_BYTES;
use crate::error::AppResult;
use rusqlite::OptionalExtension;
use std::sync::{Mutex, MutexGuard};

/// One database's copy; the read pool holds it and every `ReadOnly` of that pool reaches it.
#[derive(Default)]
pub struct BlindKeyIndex {
    inner: Mutex<KeyCopy>,
}

#[derive(Default)]
struct KeyCopy {
    /// The schema cookie the copy was built under (`PRAGMA schema_version`); `None` before the first catch-up.
    schema_version: Option<i64>,
    /// The largest `blind_seq` read so far.
    caught_up_to: i64,
    /// Sorted runs of (key prefix, rowid), oldest and largest first.
    runs: Vec<Vec<(u64, i64)>>,
}

/// The identities' rows written since a log position, with the keys they list now.
const KEYS_SINCE: &str = "SELECT rowid, blind_keys, blind_seq FROM identities WHERE blind_seq > ?1 ORDER BY blind_seq";

/// One candidate's row: its id, environment, status and current keys.
const CANDIDATE: &str = "SELECT id, environment, status, blind_keys FROM identities WHERE rowid = ?1";

/// An identity that carries the key, as the caller's snapshot has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carrier {
    pub id: String,
    pub environment: String,
    pub status: String,
}

impl BlindKeyIndex {
    /// The identities whose row lists `index_key` now (in `conn`'s snapshot), in rowid order.
    pub fn carriers(&self, conn: &impl Reads, index_key: &[u8]) -> AppResult<Vec<Carrier>> {
        let mut stmt = conn.prepare_cached(CANDIDATE)?;
        let mut out = Vec::new();
        for rowid in self.candidates(conn, &[index_key])? {
            let row = stmt
                .query_row([rowid], |r| {
                    Ok((
                        Carrier { id: r.get(0)?, environment: r.get(1)?, status: r.get(2)? },
                        r.get::<_, Option<Vec<u8>>>(3)?,
                    ))
                })
                .optional()?;
            if let Some((carrier, Some(keys))) = row {
                if lists(&keys, index_key) {
                    out.push(carrier);
                }
            }
        }
        Ok(out)
    }

    /// The `identities` rowids that may list every one of `index_keys`, sorted: a superset, which the caller
    /// confirms against the rows (as `carriers` does, or in its query); none for no key.
    pub fn candidates(&self, conn: &impl Reads, index_keys: &[&[u8]]) -> AppResult<Vec<i64>> {
        let mut copy = self.lock();
        copy.catch_up(conn)?;
        let mut found: Option<Vec<i64>> = None;
        for key in index_keys {
            let mut rowids = copy.rowids(prefix(key));
            rowids.sort_unstable();
            rowids.dedup();
            found = Some(match found {
                None => rowids,
                Some(before) => before.into_iter().filter(|r| rowids.binary_search(r).is_ok()).collect(),
            });
        }
        Ok(found.unwrap_or_default())
    }

    /// The copy only ever grows by whole runs, so a panic elsewhere while it was held leaves it usable.
    fn lock(&self) -> MutexGuard<'_, KeyCopy> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// True when `listed` (a row's `blind_keys`) holds `index_key` as one of its keys.
fn lists(listed: &[u8], index_key: &[u8]) -> bool {
    listed.chunks(BLIND_INDEX_KEY_BYTES).any(|k| k == index_key)
}

impl KeyCopy {
    /// Reads the keys written since the last catch-up (all of them the first time, or after the views were
    /// rebuilt) as one new run.
    fn catch_up(&mut self, conn: &impl Reads) -> AppResult<()> {
        let schema_version: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
        if self.schema_version != Some(schema_version) {
            *self = KeyCopy { schema_version: Some(schema_version), caught_up_to: i64::MIN, runs: Vec::new() };
        }
        let mut stmt = conn.prepare_cached(KEYS_SINCE)?;
        let mut rows = stmt.query([self.caught_up_to])?;
        let (mut run, mut read_to) = (Vec::new(), self.caught_up_to);
        while let Some(row) = rows.next()? {
            let rowid: i64 = row.get(0)?;
            let keys: Option<Vec<u8>> = row.get(1)?;
            read_to = read_to.max(row.get(2)?);
            for key in keys.iter().flat_map(|k| k.chunks(BLIND_INDEX_KEY_BYTES)) {
                run.push((prefix(key), rowid));
            }
        }
        // Only a whole run moves the position: a read failing halfway leaves both as they were.
        self.add_run(run);
        self.caught_up_to = read_to;
        Ok(())
    }

    fn add_run(&mut self, mut run: Vec<(u64, i64)>) {
        if run.is_empty() {
            return;
        }
        run.sort_unstable();
        run.shrink_to_fit();
        self.runs.push(run);
        while self.runs.len() >= 2 && self.runs[self.runs.len() - 1].len() * 2 >= self.runs[self.runs.len() - 2].len() {
            let newer = self.runs.pop().unwrap_or_default();
            let older = self.runs.pop().unwrap_or_default();
            self.runs.push(merge(older, newer));
        }
    }

    fn rowids(&self, key: u64) -> Vec<i64> {
        let mut out = Vec::new();
        for run in &self.runs {
            let start = run.partition_point(|(k, _)| *k < key);
            out.extend(run[start..].iter().take_while(|(k, _)| *k == key).map(|(_, rowid)| *rowid));
        }
        out
    }
}

/// The first eight bytes of a key (zero-padded if shorter), the copy's sort key.
fn prefix(key: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = key.len().min(8);
    bytes[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(bytes)
}

fn merge(older: Vec<(u64, i64)>, newer: Vec<(u64, i64)>) -> Vec<(u64, i64)> {
    let mut out = Vec::with_capacity(older.len() + newer.len());
    let (mut a, mut b) = (older.into_iter().peekable(), newer.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x <= y => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Vec<u8> {
        let mut k = vec![n; BLIND_INDEX_KEY_BYTES];
        k[15] = 0xAB;
        k
    }

    fn scratch() -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        create(&conn);
        conn
    }

    /// The server's schema: the lookup runs against the `identities` table and index it defines.
    fn create(conn: &rusqlite::Connection) {
        conn.execute_batch(crate::store::SCHEMA_SQL).unwrap();
    }

    fn put(conn: &rusqlite::Connection, id: &str, keys: &[Vec<u8>], seq: i64) {
        let joined: Option<Vec<u8>> = (!keys.is_empty()).then(|| keys.concat());
        conn.execute(
            "INSERT INTO identities (id, environment, status, session_count, monitoring_enabled, is_flagged, pii,
                                     created_at, updated_at, stream_seq, blind_keys, blind_seq)
             VALUES (?1, 'live', 'active', 0, 1, 0, '{}', 'now', 'now', 1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET blind_keys = excluded.blind_keys, blind_seq = excluded.blind_seq",
            rusqlite::params![id, joined, joined.as_ref().map(|_| seq)],
        )
        .unwrap();
    }

    fn ids(index: &BlindKeyIndex, conn: &rusqlite::Connection, k: &[u8]) -> Vec<String> {
        index.carriers(conn, k).unwrap().into_iter().map(|c| c.id).collect()
    }

    #[test]
    fn finds_the_identities_listing_a_key_as_they_are_written_changed_and_redacted() {
        let conn = scratch();
        let index = BlindKeyIndex::default();
        put(&conn, "idn_a", &[key(1), key(2)], 1);
        put(&conn, "idn_b", &[key(2), key(3)], 2);
        assert_eq!(ids(&index, &conn, &key(2)), ["idn_a", "idn_b"]);
        assert_eq!(ids(&index, &conn, &key(1)), ["idn_a"]);
        assert!(ids(&index, &conn, &key(9)).is_empty());

        // Written after the first catch-up: found by the next one.
        put(&conn, "idn_c", &[key(1)], 3);
        assert_eq!(ids(&index, &conn, &key(1)), ["idn_a", "idn_c"]);

        // A changed key: the old one is still in the copy but no longer in the row.
        put(&conn, "idn_a", &[key(4), key(2)], 4);
        assert_eq!(ids(&index, &conn, &key(1)), ["idn_c"]);
        assert_eq!(ids(&index, &conn, &key(4)), ["idn_a"]);

        // Redacted: the row lists no key, so nothing finds it.
        put(&conn, "idn_b", &[], 5);
        assert_eq!(ids(&index, &conn, &key(2)), ["idn_a"]);
        assert!(ids(&index, &conn, &key(3)).is_empty());
    }

    #[test]
    fn candidates_for_several_keys_are_the_rows_that_may_list_all_of_them() {
        let conn = scratch();
        let index = BlindKeyIndex::default();
        put(&conn, "idn_a", &[key(1), key(2)], 1);
        put(&conn, "idn_b", &[key(1), key(3)], 2);
        put(&conn, "idn_c", &[key(2), key(1)], 3);
        let rowid = |id: &str| -> i64 {
            conn.query_row("SELECT rowid FROM identities WHERE id = ?1", [id], |r| r.get(0)).unwrap()
        };
        assert_eq!(index.candidates(&conn, &[&key(1), &key(2)]).unwrap(), [rowid("idn_a"), rowid("idn_c")]);
        assert_eq!(index.candidates(&conn, &[&key(3), &key(1)]).unwrap(), [rowid("idn_b")]);
        assert!(index.candidates(&conn, &[&key(3), &key(2)]).unwrap().is_empty());
        assert!(index.candidates(&conn, &[]).unwrap().is_empty());
    }

    #[test]
    fn a_key_sharing_the_first_eight_bytes_of_another_is_not_reported() {
        let conn = scratch();
        let index = BlindKeyIndex::default();
        let mut twin = key(1);
        twin[12] = 0x77;
        put(&conn, "idn_a", &[key(1)], 1);
        put(&conn, "idn_b", std::slice::from_ref(&twin), 2);
        assert_eq!(ids(&index, &conn, &key(1)), ["idn_a"]);
        assert_eq!(ids(&index, &conn, &twin), ["idn_b"]);
    }

    #[test]
    fn runs_stay_few_and_sorted_as_keys_arrive_one_catch_up_at_a_time() {
        let conn = scratch();
        let index = BlindKeyIndex::default();
        for n in 0..200u8 {
            put(&conn, &format!("idn_{n:03}"), &[key(n), key(250)], i64::from(n) + 1);
            assert_eq!(ids(&index, &conn, &key(n)), [format!("idn_{n:03}")]);
        }
        let copy = index.lock();
        assert!(copy.runs.len() <= 10, "{} runs for 200 catch-ups", copy.runs.len());
        assert!(copy.runs.iter().all(|r| r.windows(2).all(|w| w[0] <= w[1])));
        assert_eq!(copy.runs.iter().map(Vec::len).sum::<usize>(), 400);
        drop(copy);
        assert_eq!(ids(&index, &conn, &key(250)).len(), 200);
    }

    #[test]
    fn views_rebuilt_under_it_start_the_copy_afresh() {
        let conn = scratch();
        let index = BlindKeyIndex::default();
        put(&conn, "idn_a", &[key(1)], 1);
        put(&conn, "idn_b", &[key(2)], 2);
        assert_eq!(ids(&index, &conn, &key(1)), ["idn_a"]);
        // As an in-place replay does: the table dropped and filled again, the rows under new rowids.
        conn.execute_batch("DROP TABLE identities").unwrap();
        create(&conn);
        put(&conn, "idn_b", &[key(2)], 2);
        put(&conn, "idn_a", &[key(1)], 1);
        assert_eq!(ids(&index, &conn, &key(1)), ["idn_a"]);
        assert_eq!(ids(&index, &conn, &key(2)), ["idn_b"]);
    }

    #[test]
    fn the_catch_up_reads_only_the_index_entries_written_since() {
        let conn = scratch();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {KEYS_SINCE}"))
            .unwrap()
            .query_map([0], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("USING COVERING INDEX identities_by_blind_seq (blind_seq>?)")),
            "{plan:?}"
        );
    }
}
