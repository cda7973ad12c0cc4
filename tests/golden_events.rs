//! Golden event streams keep decoding: the committed log in fixtures/events/ verifies under its fixture
//! key and replays into the same views as when it was written.

use idv::crypto::{Keyring, MasterKey};
use idv::domain::identity::IdentityEvent;
use idv::store::{self, Durability, ReadPool};
use rusqlite::params;
use serde_json::Value;

fn load(conn: &rusqlite::Connection) -> Vec<Value> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/events/golden-v1.jsonl")).unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for r in &rows {
        let hex = |k: &str| hex::decode(r[k].as_str().unwrap()).unwrap();
        let text = |k: &str| r[k].as_str().map(str::to_string);
        if r["table"] == "events" {
            conn.execute(
                "INSERT INTO events (seq, event_id, stream_id, stream_seq, event_type, event_version, payload, recorded_at,
                 actor, environment, request_id, prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                params![
                    r["seq"].as_i64(), text("event_id"), text("stream_id"), r["stream_seq"].as_i64(), text("event_type"),
                    r["event_version"].as_i64(), r["payload"].to_string(), text("recorded_at"), text("actor"),
                    text("environment"), text("request_id"), hex("prev_hash"), hex("hash")
                ],
            )
            .unwrap();
        } else {
            conn.execute(
                "INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)",
                params![text("subject_id"), hex("wrapped_key")],
            )
            .unwrap();
        }
    }
    rows
}

#[test]
fn the_golden_log_verifies_decodes_and_replays_into_the_same_views() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idv.db");
    let conn = store::open_writer(&path, Durability::Normal).unwrap();
    let rows = load(&conn);
    let ring = Keyring::new(&MasterKey::from_hex(&"42".repeat(32)).unwrap());

    let events = rows.iter().filter(|r| r["table"] == "events").count() as i64;
    assert_eq!(store::events::verify_chain(&conn, &ring).unwrap(), events);
    for r in rows.iter().filter(|r| r["table"] == "events") {
        let t = r["event_type"].as_str().unwrap();
        if t.starts_with("Identity") && !t.starts_with("IdentityType") {
            let decoded = IdentityEvent::decode(t, r["event_version"].as_i64().unwrap(), &r["payload"]).unwrap();
            assert!(decoded.is_some(), "{t} no longer decodes");
        }
    }
    assert_eq!(store::replay::rebuild_in_place(&conn, &ring).unwrap(), events);

    let pool = ReadPool::open(&path, 1).unwrap();
    let read = pool.get().unwrap();
    let a = serde_json::to_value(idv::queries::identities::get(&read, &ring, "sandbox", "golden-a").unwrap()).unwrap();
    assert_eq!(a["status"], "vip_review");
    assert_eq!(a["tags"], serde_json::json!(["pioneer", "vip"]));
    assert_eq!(a["extracted_data"]["first_name"], "Ada");
    assert_eq!(a["extracted_data"]["city"], "London");
    assert_eq!(a["custom_fields"]["tier"], "gold");
    assert_eq!(a["custom_fields"]["secret_word"], "analytical");
    let b = serde_json::to_value(idv::queries::identities::get(&read, &ring, "sandbox", "golden-b").unwrap()).unwrap();
    assert_eq!(b["status"], "merged");
    assert_eq!(b["merged_into"], a["id"]);
    let c = serde_json::to_value(idv::queries::identities::get(&read, &ring, "sandbox", "golden-c").unwrap()).unwrap();
    assert_eq!(c["status"], "redacted");
    assert!(c["extracted_data"].is_null());
    let links = idv::queries::relationships::all_for(&read, a["id"].as_str().unwrap(), true).unwrap();
    assert!(links.iter().any(|l| l.relationship_type == "merged"));
    let expired: i64 = read.query_row("SELECT COUNT(*) FROM api_keys WHERE is_active = 0", [], |r| r.get(0)).unwrap();
    assert_eq!(expired, 1);

    let scratch = dir.path().join("scratch.db");
    drop(read);
    assert_eq!(store::replay::check(&path, &scratch, &ring).unwrap(), events);
}
