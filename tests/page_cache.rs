//! The layer over SQLite's page cache (`store::page_cache`), in a process of its own so it is installed
//! before SQLite is first used: commits after page splits skip the walk, truncations with pages to drop
//! still drop them, and what was written reads back whole.

use rusqlite::{params, Connection};

fn random_keys(seed: u64, n: usize) -> Vec<[u8; 16]> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            let mut key = [0u8; 16];
            for chunk in key.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.copy_from_slice(&state.to_le_bytes());
            }
            key
        })
        .collect()
}

#[test]
fn splits_skip_the_walk_and_rolled_back_pages_are_still_dropped() {
    idv::store::page_cache::install().expect("installed before SQLite is used");
    assert!(idv::store::page_cache::install().is_ok(), "a second call reports the first outcome");
    let dir = std::env::temp_dir().join(format!("idv-page-cache-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let conn = Connection::open(dir.join("t.db")).unwrap();
    conn.execute_batch(
        "PRAGMA page_size=2048; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-4000;
         CREATE TABLE t (id INTEGER PRIMARY KEY, digest BLOB NOT NULL);
         CREATE INDEX t_by_digest ON t (digest);",
    )
    .unwrap();

    // Random keys split index pages all over the b-tree, and each split swaps pages through the
    // number at 1 GiB; each commit then asks the cache to drop pages past the end of the file.
    let keys = random_keys(0x9e37_79b9_7f4a_7c15, 20_000);
    let (skipped_before, _) = idv::store::page_cache::truncations();
    for batch in keys.chunks(50) {
        let tx = conn.unchecked_transaction().unwrap();
        for key in batch {
            tx.execute("INSERT INTO t (digest) VALUES (?1)", params![&key[..]]).unwrap();
        }
        tx.commit().unwrap();
    }
    let (skipped, forwarded_before) = idv::store::page_cache::truncations();
    assert!(skipped - skipped_before >= 300, "most of the 400 commits skip the walk: {skipped}");

    // A transaction that grows the file and rolls back leaves cached pages past the end: those are dropped.
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for key in random_keys(7, 5_000) {
        tx.execute("INSERT INTO t (digest) VALUES (?1)", params![&key[..]]).unwrap();
    }
    drop(tx);
    let (_, forwarded) = idv::store::page_cache::truncations();
    assert!(forwarded > forwarded_before, "the rollback's truncation reached SQLite's cache");
    assert_eq!(conn.query_row("PRAGMA page_count", [], |r| r.get::<_, i64>(0)).unwrap(), pages);

    // The file grows again over the page numbers the rolled-back pages had; then everything reads back.
    for key in random_keys(11, 3_000) {
        conn.execute("INSERT INTO t (digest) VALUES (?1)", params![&key[..]]).unwrap();
    }
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 23_000);
    let mut found = conn.prepare("SELECT COUNT(*) FROM t WHERE digest = ?1").unwrap();
    for key in keys.iter().step_by(97).chain(random_keys(11, 3_000).iter().step_by(31)) {
        assert_eq!(found.query_row(params![&key[..]], |r| r.get::<_, i64>(0)).unwrap(), 1);
    }
    let rolled_back = random_keys(7, 5_000);
    assert_eq!(found.query_row(params![&rolled_back[0][..]], |r| r.get::<_, i64>(0)).unwrap(), 0);
    drop(found);
    drop(conn);

    // A fresh connection (a fresh cache) reads the same file.
    let again = Connection::open(dir.join("t.db")).unwrap();
    assert_eq!(again.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 23_000);
    drop(again);
    let _ = std::fs::remove_dir_all(&dir);
}
