//! The generator of the golden all-aggregates streams in fixtures/events/ (the newest is [`NEWEST_STREAM`]):
//! drives a real app with the fixture master key through the HTTP API so that every aggregate writes its
//! events, then dumps the log (and the wrapped data keys it needs) with the view values
//! tests/golden_events.rs compares after replay. Ignored: run it only to write a new stream
//! (`cargo test --test api -- --ignored golden::generate`). All names are synthetic.

use crate::helpers::{spawn_app_with, TestApp};
use serde_json::{json, Map, Value};
use std::time::Duration;

const FIXTURE_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

/// The view queries recorded at generation and compared after replay.
pub const CHECKS: &[&str] = &[
    "SELECT status || '|' || COALESCE(external_ref, '') FROM identities WHERE external_ref = 'golden-agg-a'",
    "SELECT COUNT(*) FROM identity_tags",
    "SELECT name || '|' || current_version || '|' || is_active FROM workflows WHERE name = 'Golden flow'",
    "SELECT COUNT(*) FROM workflow_versions",
    "SELECT value FROM settings WHERE environment = 'sandbox' AND name = 'data_retention_days'",
    "SELECT COUNT(*) FROM api_keys WHERE is_active = 1",
    "SELECT COUNT(*) FROM relationships",
    "SELECT label || '|' || is_deleted FROM relationship_types WHERE name = 'golden_mentor'",
    "SELECT label || '|' || is_deleted FROM identity_types WHERE name = 'golden_member'",
    "SELECT COUNT(*) FROM custom_field_definitions WHERE is_deleted = 0",
    "SELECT status || '|' || COALESCE(result_status, '') FROM sessions WHERE external_ref = 'golden-agg-s'",
    "SELECT COUNT(*) FROM session_documents",
    "SELECT check_type || '|' || status FROM checks WHERE external_ref = 'golden-agg-c'",
    "SELECT name || '|' || is_active FROM custom_lists WHERE name = 'golden blocked'",
    "SELECT COUNT(*) FROM custom_list_items",
    "SELECT label || '|' || enabled FROM webhook_endpoints WHERE label = 'golden receiver'",
];

fn png(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        let on = (x + 2 * y + seed) % 23 < 11;
        let v = if on { 230 } else { 20 };
        image::Rgb([v, (v as u32 * (seed + 1) % 256) as u8, 255 - v])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("png encodes");
    out.into_inner()
}

async fn ok(app: &TestApp, method: &str, path: &str, key: &str, body: Option<Value>) -> Value {
    let r = app.send(method, path, Some(key), &[], body.as_ref()).await;
    assert!((200..300).contains(&r.status), "{method} {path}: {} {}", r.status, r.body);
    r.body
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn drive(app: &TestApp) {
    let sk = app.sandbox_key.clone();
    let lk = app.live_key.clone();
    // Settings, workflows, API keys.
    ok(app, "PATCH", "/settings/retention", &sk, Some(json!({"data_retention_days": 400}))).await;
    let wf =
        ok(app, "POST", "/workflows", &sk, Some(json!({"name": "Golden flow", "steps": ["age_verification"]}))).await;
    let wf = id(&wf);
    ok(
        app,
        "PATCH",
        &format!("/workflows/{wf}"),
        &sk,
        Some(json!({"description": "synthetic", "steps": ["age_verification", "risk_assessment"]})),
    )
    .await;
    ok(app, "POST", &format!("/workflows/{wf}/publish"), &sk, Some(json!({}))).await;
    let spare =
        ok(app, "POST", "/workflows", &sk, Some(json!({"name": "Golden spare", "steps": ["document_ocr"]}))).await;
    ok(app, "POST", &format!("/workflows/{}/deactivate", id(&spare)), &sk, Some(json!({}))).await;
    let key = ok(app, "POST", "/api-keys", &sk, Some(json!({"label": "golden extra"}))).await;
    ok(app, "PATCH", &format!("/api-keys/{}", id(&key)), &sk, Some(json!({"note": "synthetic"}))).await;
    ok(app, "POST", &format!("/api-keys/{}/expire", id(&key)), &sk, Some(json!({}))).await;
    // Identity types and custom fields.
    let t = ok(app, "POST", "/identity-types", &sk, Some(json!({"name": "golden_member", "label": "Member"}))).await;
    let t = id(&t);
    let f = ok(
        app,
        "POST",
        &format!("/identity-types/{t}/fields"),
        &sk,
        Some(json!({"name": "level", "label": "Level", "field_type": "string"})),
    )
    .await;
    ok(app, "PATCH", &format!("/identity-types/{t}/fields/{}", id(&f)), &sk, Some(json!({"label": "Tier level"})))
        .await;
    let g = ok(
        app,
        "POST",
        &format!("/identity-types/{t}/fields"),
        &sk,
        Some(json!({"name": "gone", "label": "Gone", "field_type": "number"})),
    )
    .await;
    ok(app, "DELETE", &format!("/identity-types/{t}/fields/{}", id(&g)), &sk, None).await;
    ok(app, "PATCH", &format!("/identity-types/{t}"), &sk, Some(json!({"label": "Golden member"}))).await;
    // Identities and relationships.
    let a = ok(
        app,
        "POST",
        "/identities",
        &sk,
        Some(json!({"external_ref": "golden-agg-a", "first_name": "Testa", "last_name": "Synthetic"})),
    )
    .await;
    let a = id(&a);
    let b = ok(
        app,
        "POST",
        "/identities",
        &sk,
        Some(json!({"external_ref": "golden-agg-b", "first_name": "Testb", "last_name": "Synthetic"})),
    )
    .await;
    let b = id(&b);
    ok(app, "PATCH", &format!("/identities/{a}"), &sk, Some(json!({"status": "under_review", "city": "Nowhere"})))
        .await;
    ok(app, "POST", &format!("/identities/{a}/tags"), &sk, Some(json!({"tags": ["golden"]}))).await;
    let rt =
        ok(app, "POST", "/relationship-types", &sk, Some(json!({"name": "golden_mentor", "label": "Mentor"}))).await;
    ok(app, "PATCH", &format!("/relationship-types/{}", id(&rt)), &sk, Some(json!({"label": "Golden mentor"}))).await;
    let link = ok(
        app,
        "POST",
        &format!("/identities/{a}/relationships"),
        &sk,
        Some(json!({"related_identity_id": b, "relationship_type": "golden_mentor"})),
    )
    .await;
    ok(app, "DELETE", &format!("/identities/{a}/relationships/{}", id(&link)), &sk, None).await;
    ok(
        app,
        "POST",
        &format!("/identities/{a}/relationships"),
        &sk,
        Some(json!({"related_identity_id": b, "relationship_type": "family_member"})),
    )
    .await;
    // Custom lists.
    let list = ok(
        app,
        "POST",
        "/lists",
        &sk,
        Some(json!({"name": "golden blocked", "list_type": "email", "match_mode": "block"})),
    )
    .await;
    let list = id(&list);
    let item = ok(
        app,
        "POST",
        &format!("/lists/{list}/items"),
        &sk,
        Some(json!({"value": {"email": "blocked@example.invalid"}})),
    )
    .await;
    ok(app, "POST", &format!("/lists/{list}/items"), &sk, Some(json!({"value": {"email": "other@example.invalid"}})))
        .await;
    ok(app, "DELETE", &format!("/lists/{list}/items/{}", id(&item)), &sk, None).await;
    // Webhook endpoints (never reachable: the fixture only needs their events).
    let ep = ok(
        app,
        "POST",
        "/webhooks/endpoints",
        &sk,
        Some(json!({"url": "http://127.0.0.1:9/golden", "label": "golden receiver"})),
    )
    .await;
    let ep = id(&ep);
    ok(app, "PATCH", &format!("/webhooks/endpoints/{ep}"), &sk, Some(json!({"description": "synthetic"}))).await;
    ok(app, "POST", &format!("/webhooks/endpoints/{ep}/rotate-secret"), &sk, Some(json!({}))).await;
    ok(app, "POST", &format!("/webhooks/endpoints/{ep}/test"), &sk, Some(json!({}))).await;
    // Checks.
    let c = ok(app, "POST", "/checks", &lk, Some(json!({"check_type": "sanction", "external_ref": "golden-agg-c", "name_first": "Testc", "name_last": "Synthetic"}))).await;
    ok(app, "POST", &format!("/checks/{}/tags", id(&c)), &lk, Some(json!({"tags": ["golden"]}))).await;
    // A live session through capture, processing and decision.
    let checks =
        json!(["document_ocr", "document_expiration", "age_verification", "duplicate_detection", "risk_assessment"]);
    let s = ok(app, "POST", "/sessions", &lk, Some(json!({"external_ref": "golden-agg-s", "first_name": "Tests", "last_name": "Synthetic", "date_of_birth": "1980-01-02", "checks": checks}))).await;
    let s = id(&s);
    let up = app
        .upload(
            &format!("/sessions/{s}/documents"),
            Some(&lk),
            &[("document_type", "id_front")],
            Some(("image/png", &png(7))),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.body);
    ok(app, "POST", &format!("/sessions/{s}/submit"), &lk, Some(json!({}))).await;
    for _ in 0..400 {
        let r = ok(app, "GET", &format!("/sessions/{s}"), &lk, None).await;
        if ["completed", "under_review", "failed"].iter().any(|w| r["status"] == *w) {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
    // A sandbox session with its capture link and tags (left open).
    let open = ok(app, "POST", "/sessions", &sk, Some(json!({"external_ref": "golden-agg-open"}))).await;
    ok(app, "POST", &format!("/sessions/{}/tags", id(&open)), &sk, Some(json!({"tags": ["golden"]}))).await;
}

/// The file `generate` writes (with `.jsonl` and `.expected.json`): the newest golden stream. Older ones
/// stay as they were written; a change to what the log holds gets a new name here.
pub const NEWEST_STREAM: &str = "golden-aggregates-sealed-together";

#[actix_web::test]
#[ignore = "writes fixtures/events/ NEWEST_STREAM .jsonl and .expected.json"]
async fn generate() {
    let app = spawn_app_with(|c| {
        c.master_key_hex = Some(FIXTURE_KEY.into());
        c.webhook_poll_interval = None;
    })
    .await;
    drive(&app).await;
    // Let the writer settle, then read the file the app wrote.
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    let conn = rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("db opens");
    let mut out = String::new();
    let mut stmt = conn
        .prepare(
            "SELECT seq, event_id, stream_id, stream_seq, event_type, event_version, payload, recorded_at, actor,
                    environment, request_id, prev_hash, hash, request_method, request_path, ip_address
             FROM events ORDER BY seq",
        )
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let payload: String = r.get(6).unwrap();
        let row = json!({
            "table": "events", "seq": r.get::<_, i64>(0).unwrap(), "event_id": r.get::<_, String>(1).unwrap(),
            "stream_id": r.get::<_, String>(2).unwrap(), "stream_seq": r.get::<_, i64>(3).unwrap(),
            "event_type": r.get::<_, String>(4).unwrap(), "event_version": r.get::<_, i64>(5).unwrap(),
            "payload": serde_json::from_str::<Value>(&payload).unwrap(), "recorded_at": r.get::<_, String>(7).unwrap(),
            "actor": r.get::<_, String>(8).unwrap(), "environment": r.get::<_, String>(9).unwrap(),
            "request_id": r.get::<_, Option<String>>(10).unwrap(),
            "prev_hash": hex::encode(r.get::<_, Vec<u8>>(11).unwrap()), "hash": hex::encode(r.get::<_, Vec<u8>>(12).unwrap()),
            // The text the chain hashed (a typed event's fields are not in key order, so the parsed payload
            // above would not serialise back to it) and the request the event came from, which it hashed too.
            "payload_text": payload,
            "request_method": r.get::<_, Option<String>>(13).unwrap(),
            "request_path": r.get::<_, Option<String>>(14).unwrap(),
            "ip_address": r.get::<_, Option<String>>(15).unwrap(),
        });
        out.push_str(&row.to_string());
        out.push('\n');
    }
    let mut stmt = conn.prepare("SELECT subject_id, wrapped_key FROM subject_keys ORDER BY subject_id").unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let row = json!({"table": "subject_keys", "subject_id": r.get::<_, String>(0).unwrap(),
                         "wrapped_key": hex::encode(r.get::<_, Vec<u8>>(1).unwrap())});
        out.push_str(&row.to_string());
        out.push('\n');
    }
    let mut expected = Map::new();
    for sql in CHECKS {
        let v: Option<String> =
            conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0)).ok().map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            });
        assert!(v.is_some(), "the generator left nothing for: {sql}");
        expected.insert(sql.to_string(), json!(v));
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/events");
    std::fs::write(format!("{dir}/{NEWEST_STREAM}.jsonl"), out).unwrap();
    std::fs::write(
        format!("{dir}/{NEWEST_STREAM}.expected.json"),
        serde_json::to_string_pretty(&Value::Object(expected)).unwrap() + "\n",
    )
    .unwrap();
}
