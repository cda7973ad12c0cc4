//! Reading the event log is loud: a row whose payload is not JSON, or whose version this build does not
//! read, is an error naming the row (replay stops there), never a silently null payload.

use idv::config::Config;
use idv::startup::open_core;
use idv::store::events;
use rusqlite::params;

/// A data folder with one valid event, then `bad` appended as a raw row (bypassing the writer).
fn log_with_a_bad_row(version: i64, payload: &str) -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new(dir.path().to_path_buf());
    let core = open_core(&config).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        core.writer
            .execute(|w| {
                let meta = events::EventMeta {
                    actor: "test".into(),
                    environment: "sandbox".into(),
                    request_id: None,
                    recorded_at: "2026-01-01T00:00:00.000Z".into(),
                    origin: None,
                };
                w.emit(
                    &meta,
                    "stream_1",
                    0,
                    vec![events::NewEvent::new("TestHappened", serde_json::json!({"ok": 1}))],
                )?;
                Ok(())
            })
            .await
            .unwrap();
    });
    drop(core);
    let conn = rusqlite::Connection::open(config.database_path()).unwrap();
    conn.execute(
        "INSERT INTO events (seq, event_id, stream_id, stream_seq, event_type, event_version, payload, recorded_at,
                             actor, environment, request_id, prev_hash, hash)
         VALUES ((SELECT MAX(seq) + 1 FROM events), 'evt_bad', 'stream_2', 1, 'TestHappened', ?1, ?2,
                 '2026-01-01T00:00:00.000Z', 'test', 'sandbox', NULL, x'00', x'00')",
        params![version, payload],
    )
    .unwrap();
    (dir, conn)
}

fn read_all(conn: &rusqlite::Connection) -> Result<usize, String> {
    let mut n = 0;
    events::for_each(conn, |_| {
        n += 1;
        Ok(())
    })
    .map(|_| n)
    .map_err(|e| e.to_string())
}

#[test]
fn a_payload_that_is_not_json_stops_the_read_naming_the_row() {
    let (_dir, conn) = log_with_a_bad_row(1, "{not json");
    let err = read_all(&conn).expect_err("a corrupt payload must not read as null");
    assert!(err.contains("event seq 2") && err.contains("not valid JSON"), "{err}");
}

#[test]
fn an_event_version_newer_than_this_build_stops_the_read() {
    let (_dir, conn) = log_with_a_bad_row(events::NEWEST_EVENT_VERSION + 1, "{}");
    let err = read_all(&conn).expect_err("an unknown version must not be guessed at");
    assert!(err.contains("event seq 2") && err.contains("version 2"), "{err}");
}

#[test]
fn a_well_formed_log_reads_whole() {
    let (_dir, conn) = log_with_a_bad_row(1, "{\"ok\": 2}");
    assert_eq!(read_all(&conn), Ok(2));
}

/// Every aggregate's decoder refuses a version it does not know, by name, rather than reading the payload
/// as if it were version 1.
#[test]
fn every_typed_decoder_refuses_an_unknown_version() {
    use idv::domain::{case::CaseEvent, check::CheckEvent, identity::IdentityEvent, session::SessionEvent};
    let payload = serde_json::json!({ "tags": [] });
    let errors = [
        IdentityEvent::decode("IdentityTagsChanged", 2, &payload).map(|_| ()).err(),
        CheckEvent::decode("CheckTagsChanged", 2, &payload).map(|_| ()).err(),
        SessionEvent::decode("SessionTagsChanged", 2, &payload).map(|_| ()).err(),
        CaseEvent::decode("CaseReleased", 0, &payload).map(|_| ()).err(),
    ];
    for (i, e) in errors.iter().enumerate() {
        let e = e.as_ref().unwrap_or_else(|| panic!("decoder {i} accepted an unknown version"));
        assert!(e.to_string().contains("version"), "{e}");
    }
    // Another aggregate's event is not claimed, whatever its version.
    assert!(IdentityEvent::decode("IdentityTypeCreated", 1, &payload).unwrap().is_none());
}
