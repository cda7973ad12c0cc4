//! Golden event streams keep decoding: the committed log in fixtures/events/ verifies under its fixture
//! key and replays into the same views as when it was written.

use idv::crypto::{Keyring, MasterKey};
use idv::domain::identity::IdentityEvent;
use idv::store::{self, Durability, ReadPool};
use rusqlite::params;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn load(conn: &rusqlite::Connection) -> Vec<Value> {
    load_file(conn, "golden-v1.jsonl")
}

fn load_file(conn: &rusqlite::Connection, name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{}/fixtures/events/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for r in &rows {
        let hex = |k: &str| hex::decode(r[k].as_str().unwrap()).unwrap();
        let text = |k: &str| r[k].as_str().map(str::to_string);
        if r["table"] == "events" {
            // Streams written since events carry their request keep the payload's stored text beside it.
            let payload = text("payload_text").unwrap_or_else(|| r["payload"].to_string());
            conn.execute(
                "INSERT INTO events (seq, event_id, stream_id, stream_seq, event_type, event_version, payload, recorded_at,
                 actor, environment, request_id, prev_hash, hash, request_method, request_path, ip_address)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
                params![
                    r["seq"].as_i64(), text("event_id"), text("stream_id"), r["stream_seq"].as_i64(), text("event_type"),
                    r["event_version"].as_i64(), payload, text("recorded_at"), text("actor"),
                    text("environment"), text("request_id"), hex("prev_hash"), hex("hash"), text("request_method"),
                    text("request_path"), text("ip_address")
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

/// The sealed field map an identity's view row holds (its names are the map's keys).
fn stored_pii(conn: &rusqlite::Connection, external_ref: &str) -> BTreeMap<String, String> {
    let text: String =
        conn.query_row("SELECT pii FROM identities WHERE external_ref = ?1", [external_ref], |r| r.get(0)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The identity as `GET /identities/{external_ref}` answers it in the sandbox, read through a fresh pool.
fn identity(path: &std::path::Path, ring: &Keyring, external_ref: &str) -> Value {
    let pool = ReadPool::open(path, 1, 1).unwrap();
    let read = pool.get().unwrap();
    serde_json::to_value(idv::queries::identities::get(&read, ring, "sandbox", external_ref).unwrap()).unwrap()
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

    let pool = ReadPool::open(&path, 1, 1).unwrap();
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

/// Decodes one stored event through the typed decoder of its aggregate: `Ok(true)` when some decoder
/// claims the type, an error when the claiming decoder refuses the payload or version.
fn decode_typed(t: &str, v: i64, p: &Value) -> Result<bool, String> {
    use idv::domain::{
        api_key, check, custom_list, identity_type, relationship, settings, watchlist, webhook, workflow,
    };
    let e = |e: serde_json::Error| format!("{t} v{v}: {e}");
    let claimed = IdentityEvent::decode(t, v, p).map_err(e)?.is_some()
        || check::CheckEvent::decode(t, v, p).map_err(e)?.is_some()
        || workflow::WorkflowEvent::decode(t, v, p).map_err(e)?.is_some()
        || settings::SettingsEvent::decode(t, v, p).map_err(e)?.is_some()
        || api_key::ApiKeyEvent::decode(t, v, p).map_err(e)?.is_some()
        || relationship::RelationshipEvent::decode(t, v, p).map_err(e)?.is_some()
        || identity_type::IdentityTypeEvent::decode(t, v, p).map_err(e)?.is_some()
        || custom_list::ListEvent::decode(t, v, p).map_err(e)?.is_some()
        || custom_list::MatchEvent::decode(t, v, p).map_err(e)?.is_some()
        || webhook::EndpointEvent::decode(t, v, p).map_err(e)?.is_some()
        || watchlist::WatchlistEvent::decode(t, v, p).map_err(e)?.is_some()
        || idv::domain::session::SessionEvent::decode(t, v, p).map_err(e)?.is_some();
    Ok(claimed)
}

#[test]
fn an_event_type_no_decoder_knows_is_reported() {
    assert_eq!(decode_typed("SomethingInvented", 1, &serde_json::json!({})), Ok(false));
    assert!(decode_typed("WorkflowPublished", 2, &serde_json::json!({"version": 1})).is_err());
    assert!(decode_typed("ApiKeyUpdated", 1, &serde_json::json!({"scopes": "all"})).is_err());
}

/// The streams written through the HTTP API by every aggregate (tests/api/golden.rs generates them; the
/// second seals each identity's fields together): the chain verifies, every event decodes through its
/// aggregate's typed decoder, the rebuilt views answer what the live ones answered when it was written, and
/// the identities' personal data opens to what was sent.
#[test]
fn the_all_aggregates_streams_verify_decode_typed_and_replay_to_the_recorded_views() {
    for (stem, sealed_together) in [("golden-aggregates-v1", false), ("golden-aggregates-sealed-together", true)] {
        all_aggregates_stream_verifies_decodes_typed_and_replays(stem, sealed_together);
    }
}

fn all_aggregates_stream_verifies_decodes_typed_and_replays(stem: &str, sealed_together: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idv.db");
    let conn = store::open_writer(&path, Durability::Normal).unwrap();
    let rows = load_file(&conn, &format!("{stem}.jsonl"));
    let ring = Keyring::new(&MasterKey::from_hex(&"42".repeat(32)).unwrap());

    let events: Vec<&Value> = rows.iter().filter(|r| r["table"] == "events").collect();
    assert_eq!(store::events::verify_chain(&conn, &ring).unwrap(), events.len() as i64);
    let mut types = std::collections::BTreeSet::new();
    for r in &events {
        let t = r["event_type"].as_str().unwrap();
        let claimed = decode_typed(t, r["event_version"].as_i64().unwrap(), &r["payload"]).unwrap();
        assert!(claimed, "no typed decoder claims {t}");
        types.insert(t.to_string());
    }
    for prefix in [
        "IdentityCreated",
        "SessionDecided",
        "SessionDocumentUploaded",
        "Check",
        "Workflow",
        "CustomList",
        "CustomField",
        "IdentityType",
        "WebhookEndpoint",
        "Settings",
        "ApiKey",
        "Relationship",
    ] {
        assert!(types.iter().any(|t| t.starts_with(prefix)), "the stream has no {prefix} events");
    }
    assert_eq!(store::replay::rebuild_in_place(&conn, &ring).unwrap(), events.len() as i64);

    let expected: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/fixtures/events/{stem}.expected.json", env!("CARGO_MANIFEST_DIR")))
            .unwrap(),
    )
    .unwrap();
    assert!(expected.len() >= 10);
    for (sql, want) in &expected {
        let got: Option<String> =
            conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0)).ok().map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            });
        assert_eq!(got.as_deref(), want.as_str(), "{sql}");
    }
    let stored = stored_pii(&conn, "golden-agg-a");
    let together = stored.keys().eq([idv::domain::identity::ALL_FIELDS_SEALED].iter());
    assert_eq!(together, sealed_together, "{stem}: {stored:?}");
    let a = identity(&path, &ring, "golden-agg-a");
    let opened = &a["extracted_data"];
    assert_eq!(
        (&opened["first_name"], &opened["last_name"], &opened["city"]),
        (&json!("Testa"), &json!("Synthetic"), &json!("Nowhere")),
        "{stem}: {a}"
    );
    let scratch = dir.path().join("scratch.db");
    assert_eq!(store::replay::check(&path, &scratch, &ring).unwrap(), events.len() as i64);
}

/// Logs written before workflow runs and draft ids existed replay into both: the golden live session's
/// processing becomes a completed run through its steps graph, and every drafted version is named by the
/// event that drafted it.
#[test]
fn the_all_aggregates_stream_replays_into_workflow_runs_and_draft_ids() {
    let dir = tempfile::tempdir().unwrap();
    let conn = store::open_writer(&dir.path().join("idv.db"), Durability::Normal).unwrap();
    let rows = load_file(&conn, "golden-aggregates-v1.jsonl");
    let ring = Keyring::new(&MasterKey::from_hex(&"42".repeat(32)).unwrap());
    store::replay::rebuild_in_place(&conn, &ring).unwrap();

    let decided = rows.iter().find(|r| r["event_type"] == "SessionDecided").expect("a decided session");
    let session = decided["stream_id"].as_str().unwrap();
    let run: (String, String, String, String) = conn
        .query_row(
            "SELECT trigger, status, outcome, finished_at FROM workflow_runs WHERE session_id = ?1",
            [session],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let outcome = decided["payload"]["outcome"]["status"].as_str().unwrap();
    assert_eq!(
        run,
        ("submitted".into(), "completed".into(), outcome.to_string(), decided["recorded_at"].as_str().unwrap().into())
    );
    let nodes: String = conn
        .query_row(
            "SELECT group_concat(node || ':' || result, ',') FROM
               (SELECT node, result FROM workflow_run_nodes WHERE session_id = ?1 ORDER BY position)",
            [session],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(nodes, format!("start:started,decide:{outcome}"));

    for drafted in rows.iter().filter(|r| r["event_type"] == "WorkflowVersionDrafted") {
        let want = drafted["event_id"].as_str().unwrap().replacen("evt_", "wfd_", 1);
        let got: String = conn
            .query_row(
                "SELECT draft_id FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
                params![drafted["stream_id"].as_str().unwrap(), drafted["payload"]["version"].as_i64().unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(got, want);
    }
}

/// A database written before the audit-log view existed holds events and no audit rows; opening it fills
/// the view from the log, so `/events` covers the whole history.
#[test]
fn opening_a_log_without_audit_rows_fills_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = idv::config::Config::new(dir.path().to_path_buf());
    config.master_key_hex = Some("42".repeat(32));
    let events = {
        let conn = store::open_writer(&config.database_path(), Durability::Normal).unwrap();
        let rows = load(&conn);
        let audited: i64 = conn.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0)).unwrap();
        assert_eq!(audited, 0);
        rows.iter().filter(|r| r["table"] == "events").count() as i64
    };
    let core = idv::startup::open_core(&config).unwrap();
    let read = core.read.get().unwrap();
    let audited: i64 = read.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0)).unwrap();
    assert_eq!(audited, events);
}

/// An identity whose fields were sealed one by one (the golden log predates sealing them together) is
/// updated through the writer: the update's event seals the whole set, which replaces the view's per-field
/// entries; a cleared field is gone, the others keep their values, and a replay rebuilds the same view.
#[test]
fn an_update_seals_all_fields_together_over_a_map_sealed_field_by_field() {
    use idv::commands::identities::{self as cmd, UpdateIdentity};
    use idv::domain::ids::IdentityRef;
    use idv::domain::values::PersonalDataPatch;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idv.db");
    let ring = Keyring::new(&MasterKey::from_hex(&"42".repeat(32)).unwrap());
    {
        let conn = store::open_writer(&path, Durability::Normal).unwrap();
        load(&conn);
        store::replay::rebuild_in_place(&conn, &ring).unwrap();
        let before = stored_pii(&conn, "golden-a");
        assert!(before.contains_key("first_name") && before.contains_key("city"), "sealed field by field: {before:?}");
    }
    let mut config = idv::config::Config::new(dir.path().to_path_buf());
    config.master_key_hex = Some("42".repeat(32));
    actix_web::rt::System::new().block_on(async {
        let core = idv::startup::open_core(&config).unwrap();
        let meta = idv::commands::CommandMeta {
            actor: "test".into(),
            environment: "sandbox".into(),
            request_id: None,
            now: "2026-12-08T00:00:00.000Z".into(),
            origin: None,
        };
        let mut pii = PersonalDataPatch::default();
        pii.set("email", Some("ada@example.org")).unwrap();
        pii.set("city", None).unwrap();
        let golden_a = IdentityRef::parse("identity", "golden-a").unwrap();
        cmd::update(&core.writer, meta, golden_a, UpdateIdentity { pii, ..Default::default() }).await.unwrap();
    });

    let conn = store::open_writer(&path, Durability::Normal).unwrap();
    let after = stored_pii(&conn, "golden-a");
    assert_eq!(after.keys().collect::<Vec<_>>(), [idv::domain::identity::ALL_FIELDS_SEALED], "{after:?}");
    let a = identity(&path, &ring, "golden-a");
    assert_eq!(a["extracted_data"]["first_name"], "Ada");
    assert_eq!(a["extracted_data"]["email"], "ada@example.org");
    assert!(a["extracted_data"].get("city").is_none(), "{a}");
    let audit: String = conn
        .query_row(
            "SELECT metadata FROM audit_log WHERE resource_id = ?1 ORDER BY seq DESC LIMIT 1",
            [a["id"].as_str().unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(audit.contains("email") && audit.contains("city") && !audit.contains('*'), "{audit}");

    store::replay::rebuild_in_place(&conn, &ring).unwrap();
    assert_eq!(identity(&path, &ring, "golden-a"), a, "the replayed view opens to the same identity");
}
