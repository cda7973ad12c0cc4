//! Verification sessions end to end (spec §1.1, §1.2, §1.14–1.15, §2.8, §3.1, §3.2): create, read,
//! update and tags; the API-only live flow through the offline checks into an identity; the hosted
//! capture flow by token in the sandbox; simulate; the state machine's refusals; signed document URLs;
//! the sweeper on a manual clock; redaction, export and replay.

use crate::helpers::*;
use idv::clock::ManualClock;
use serde_json::{json, Value};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------------------------

/// A small valid PNG whose pattern (and so perceptual hash) depends on `seed`.
pub(crate) fn png(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| {
        let on = match seed % 5 {
            0 => ((x / (4 + seed % 7)) + (y / (4 + seed % 7))).is_multiple_of(2),
            1 => (y / (3 + seed % 5)).is_multiple_of(2),
            2 => (x / (3 + seed % 5)).is_multiple_of(2),
            3 => (x + 2 * y + seed) % 23 < 11,
            _ => {
                let (dx, dy) = (x as i32 - 32, y as i32 - (16 + (seed % 32) as i32));
                dx * dx + dy * dy < 300
            }
        };
        let v = if on { 230 } else { 20 };
        image::Rgb([v, (v as u32 * (seed + 1) % 256) as u8, 255 - v])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("png encodes");
    out.into_inner()
}

fn has_field_error(body: &Value, field: &str) -> bool {
    body["errors"].as_array().is_some_and(|errs| errs.iter().any(|e| e["field"] == field))
}

fn ts(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")), &Rfc3339)
        .unwrap_or_else(|e| panic!("bad timestamp {v}: {e}"))
}

fn token_of(capture_url: &Value) -> String {
    let url = capture_url.as_str().unwrap_or_else(|| panic!("no capture_url: {capture_url}"));
    let token = url.rsplit('/').next().unwrap().to_string();
    assert!(token.starts_with("tok_"), "{url}");
    token
}

fn ids_of(r: &Resp) -> Vec<String> {
    let mut v: Vec<String> = r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array: {}", r.body))
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_string())
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn file_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Creates a session with `key` and returns the 201 body.
async fn create_with(app: &TestApp, key: &str, body: Value) -> Value {
    let r = app.send("POST", "/sessions", Some(key), &[], Some(&body)).await;
    assert_eq!(r.status, 201, "create session: {}", r.body);
    r.body
}

async fn create(app: &TestApp, body: Value) -> Value {
    create_with(app, &app.sandbox_key.clone(), body).await
}

async fn get_with(app: &TestApp, key: &str, path: &str) -> Resp {
    app.send("GET", path, Some(key), &[], None).await
}

async fn post_with(app: &TestApp, key: &str, path: &str, body: Value) -> Resp {
    app.send("POST", path, Some(key), &[], Some(&body)).await
}

/// Uploads `bytes` as `doc_type` through the API-key route.
async fn api_upload(app: &TestApp, key: &str, id: &str, doc_type: &str, bytes: &[u8]) -> Resp {
    app.upload(
        &format!("/sessions/{id}/documents"),
        Some(key),
        &[("document_type", doc_type)],
        Some(("image/png", bytes)),
    )
    .await
}

/// Polls GET /sessions/{id} until its status is one of `wanted` (processing is asynchronous).
async fn wait_for(app: &TestApp, key: &str, id: &str, wanted: &[&str]) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let r = get_with(app, key, &format!("/sessions/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        if wanted.iter().any(|w| r.body["status"] == *w) {
            return r.body;
        }
        last = r.body;
        actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("session {id} never reached {wanted:?}; last: {last}");
}

/// The live-mode checks without face_match (no provider is configured offline).
fn no_face() -> Value {
    json!(["document_ocr", "document_expiration", "age_verification", "duplicate_detection", "risk_assessment"])
}

/// Creates a live session with prefill, uploads the front (and `selfie` when there is one) and submits;
/// returns the session id.
pub(crate) async fn live_submitted(
    app: &TestApp,
    external_ref: &str,
    first: &str,
    last: &str,
    dob: &str,
    seed: u32,
    selfie: Option<&[u8]>,
) -> String {
    let key = app.live_key.clone();
    let s = create_with(
        app,
        &key,
        json!({"external_ref": external_ref, "first_name": first, "last_name": last, "date_of_birth": dob, "checks": no_face()}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_string();
    let up = api_upload(app, &key, &id, "id_front", &png(seed)).await;
    assert_eq!(up.status, 201, "{}", up.body);
    if let Some(selfie) = selfie {
        let up = api_upload(app, &key, &id, "selfie", selfie).await;
        assert_eq!(up.status, 201, "{}", up.body);
    }
    let sub = post_with(app, &key, &format!("/sessions/{id}/submit"), json!({})).await;
    assert_eq!(sub.status, 202, "{}", sub.body);
    assert_eq!(sub.body["status"], "processing");
    id
}

// ---------------------------------------------------------------------------------------------------------------
// POST /sessions
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn create_returns_the_documented_shape() {
    let app = spawn_app().await;
    let r = app.post("/sessions", json!({"external_ref": "user_abc123", "metadata": {"plan": "gold"}})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    for h in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
        assert!(r.header(h).is_some(), "{h} on create: {:?}", r.headers);
    }
    let b = &r.body;
    assert!(b["id"].as_str().unwrap().starts_with("ses_"), "{b}");
    assert_eq!(b["status"], "pending");
    let url = b["capture_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/verify/tok_", app.base)), "{url}");
    assert!(b["qr_code_data_url"].as_str().unwrap().starts_with("data:image/png;base64,"), "{b}");
    use base64::Engine;
    let png_bytes = base64::engine::general_purpose::STANDARD
        .decode(b["qr_code_data_url"].as_str().unwrap().trim_start_matches("data:image/png;base64,"))
        .expect("qr is base64");
    assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "the QR code is a PNG");
    assert_eq!(ts(&b["expires_at"]) - ts(&b["created_at"]), time::Duration::minutes(20), "{b}");
    assert_eq!(b["is_sandbox"], true);
    assert_eq!(b["external_ref"], "user_abc123");
    assert_eq!(b["tags"], json!([]));

    // The session object carries the same capture URL while pending.
    let got = app.get(&format!("/sessions/{}", b["id"].as_str().unwrap())).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["capture_url"], b["capture_url"]);
    assert_eq!(got.body["metadata"], json!({"plan": "gold"}));
    assert_eq!(got.body["retention_status"], "active");
    assert_eq!(got.body["environment"], "sandbox");

    // Nothing is required.
    let empty = app.post("/sessions", json!({})).await;
    assert_eq!(empty.status, 201, "{}", empty.body);
    assert!(empty.body["external_ref"].is_null());

    let live = create_with(&app, &app.live_key.clone(), json!({})).await;
    assert_eq!(live["is_sandbox"], false);

    // Keys in any casing are accepted; an Idempotency-Key replays the first answer.
    let camel = app.post("/sessions", json!({"externalRef": "camel_user", "dateOfBirth": "1990-01-01"})).await;
    assert_eq!(camel.status, 201, "{}", camel.body);
    assert_eq!(camel.body["external_ref"], "camel_user");
    let key = app.sandbox_key.clone();
    let body = json!({"external_ref": "idem_user"});
    let once = app.send("POST", "/sessions", Some(&key), &[("Idempotency-Key", "idem-1")], Some(&body)).await;
    let twice = app.send("POST", "/sessions", Some(&key), &[("Idempotency-Key", "idem-1")], Some(&body)).await;
    assert_eq!(once.status, 201, "{}", once.body);
    assert_eq!(twice.body["id"], once.body["id"], "{}", twice.body);
    assert_eq!(app.get("/sessions?external_ref=idem_user").await.body["pagination"]["total"], 1);
}

#[actix_web::test]
async fn create_validates_every_field_and_names_it() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"country": "USA"}), "country"),
        (json!({"checks": ["document_ocr", "palm_reading"]}), "checks[1]"),
        (json!({"favourite_colour": "blue"}), "favourite_colour"),
        (json!({"date_of_birth": "1990-02-30"}), "date_of_birth"),
        (json!({"metadata": "not an object"}), "metadata"),
    ] {
        let r = app.post("/sessions", body.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{body}");
        assert!(has_field_error(&r.body, field), "{body} should name {field}: {}", r.body);
    }
    // The typed body stops at the first bad field and names it.
    let r = app.post("/sessions", json!({"country": "USA", "checks": ["nope"]})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "country") || has_field_error(&r.body, "checks[0]"), "{}", r.body);
    assert_eq!(app.get("/sessions").await.body["pagination"]["total"], 0, "nothing was created");
}

#[actix_web::test]
async fn a_publishable_key_creates_but_cannot_read_and_environments_are_isolated() {
    let app = spawn_app().await;
    let k = app.post("/api-keys", json!({"type": "publishable", "label": "browser"})).await;
    assert_eq!(k.status, 201, "{}", k.body);
    let publishable = k.body["secret"].as_str().unwrap().to_string();

    let s = create_with(&app, &publishable, json!({"external_ref": "web_user"})).await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(s["status"], "pending");
    assert_eq!(assert_error(&get_with(&app, &publishable, &format!("/sessions/{id}")).await, 403), "forbidden");
    assert_error(&get_with(&app, &publishable, "/sessions").await, 403);

    // The secret key of the same environment sees it; the live key does not.
    assert_eq!(app.get(&format!("/sessions/{id}")).await.status, 200);
    assert_error(&app.live_get(&format!("/sessions/{id}")).await, 404);
    assert_error(&app.live_get(&format!("/sessions/{id}/result")).await, 404);
    assert_eq!(app.live_get("/sessions").await.body["pagination"]["total"], 0);
}

// ---------------------------------------------------------------------------------------------------------------
// GET / list / PATCH / tags
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn list_filters_by_status_external_ref_and_q_and_paginates() {
    let app = spawn_app().await;
    let a = create(&app, json!({"external_ref": "cust_1"})).await["id"].as_str().unwrap().to_string();
    let b = create(&app, json!({"external_ref": "cust_2"})).await["id"].as_str().unwrap().to_string();
    let c = create(&app, json!({"external_ref": "cust_1"})).await["id"].as_str().unwrap().to_string();
    assert_eq!(app.post(&format!("/sessions/{b}/expire"), json!({})).await.status, 200);

    let all = app.get("/sessions").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(ids_of(&all), sorted(vec![a.clone(), b.clone(), c.clone()]));
    assert_eq!(all.body["pagination"], json!({"total": 3, "limit": 50, "offset": 0}));

    assert_eq!(ids_of(&app.get("/sessions?status=expired").await), vec![b.clone()]);
    assert_eq!(ids_of(&app.get("/sessions?status=pending").await), sorted(vec![a.clone(), c.clone()]));
    assert_eq!(ids_of(&app.get("/sessions?external_ref=cust_1").await), sorted(vec![a.clone(), c.clone()]));
    assert_eq!(ids_of(&app.get("/sessions?external_ref=cust_1&status=pending").await).len(), 2);
    assert_eq!(ids_of(&app.get("/sessions?external_ref=cust_2&status=pending").await), Vec::<String>::new());
    assert_eq!(ids_of(&app.get("/sessions?q=cust_2").await), vec![b.clone()]);
    assert_eq!(ids_of(&app.get(&format!("/sessions?q={a}")).await), vec![a.clone()]);
    assert_eq!(app.get("/sessions?q=nobody").await.body["data"], json!([]));

    let page = app.get("/sessions?limit=2&offset=1").await;
    assert_eq!(page.body["pagination"], json!({"total": 3, "limit": 2, "offset": 1}));
    assert_eq!(page.body["data"].as_array().unwrap().len(), 2);
    let tail = app.get("/sessions?limit=2&offset=2").await;
    assert_eq!(tail.body["data"].as_array().unwrap().len(), 1);
    let mut seen: Vec<String> = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(app.get("/sessions?limit=1&offset=0").await.body["data"].as_array().unwrap())
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    assert_eq!(seen, sorted(vec![a, b, c]), "pages do not overlap and cover everything");
    for bad in ["limit=0", "limit=101", "offset=-1"] {
        assert_eq!(assert_error(&app.get(&format!("/sessions?{bad}")).await, 422), "validation_error", "{bad}");
    }
    // The expired session no longer shows a capture URL.
    let expired = app.get("/sessions?status=expired").await;
    assert!(expired.body["data"][0]["capture_url"].is_null(), "{}", expired.body);
}

#[actix_web::test]
async fn patch_merges_metadata_changes_external_ref_and_refuses_other_fields() {
    let app = spawn_app().await;
    let id = create(&app, json!({"external_ref": "before", "metadata": {"a": 1, "b": 2}})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/sessions/{id}");

    let r = app.patch(&path, json!({"metadata": {"b": null, "c": {"deep": true}}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["metadata"], json!({"a": 1, "c": {"deep": true}}));
    assert_eq!(r.body["id"], id.as_str(), "the full session object is returned");
    assert_eq!(r.body["external_ref"], "before", "untouched");

    let r = app.patch(&path, json!({"external_ref": "after"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["external_ref"], "after");
    assert_eq!(r.body["metadata"], json!({"a": 1, "c": {"deep": true}}), "metadata kept");
    assert_eq!(ids_of(&app.get("/sessions?external_ref=after").await), vec![id.clone()]);
    assert_eq!(app.get("/sessions?external_ref=before").await.body["data"], json!([]));

    let r = app.patch(&path, json!({"status": "completed"})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "status"), "names the field: {}", r.body);
    let r = app.patch(&path, json!({"metadata": [1, 2]})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "metadata"), "{}", r.body);
    assert_eq!(app.get(&path).await.body["status"], "pending");
    assert_error(&app.patch("/sessions/ses_missing", json!({"metadata": {}})).await, 404);
}

#[actix_web::test]
async fn tags_are_added_removed_and_set() {
    let app = spawn_app().await;
    let id = create(&app, json!({})).await["id"].as_str().unwrap().to_string();
    let r = app.post(&format!("/sessions/{id}/tags/add"), json!({"tag": "vip"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"id": id, "tags": ["vip"]}));
    let r = app.post(&format!("/sessions/{id}/tags/add"), json!({"tag": "vip"})).await;
    assert_eq!(r.body["tags"], json!(["vip"]), "adding twice is a no-op");
    app.post(&format!("/sessions/{id}/tags/add"), json!({"tag": "eu"})).await;
    let r = app.post(&format!("/sessions/{id}/tags/remove"), json!({"tag": "vip"})).await;
    assert_eq!(r.body["tags"], json!(["eu"]));
    let r = app.post(&format!("/sessions/{id}/tags/remove"), json!({"tag": "absent"})).await;
    assert_eq!(r.status, 200, "removing an absent tag is a no-op: {}", r.body);
    assert_eq!(r.body["tags"], json!(["eu"]));
    let r = app
        .send(
            "PUT",
            &format!("/sessions/{id}/tags"),
            Some(&app.sandbox_key),
            &[],
            Some(&json!({"tags": ["x", "y", "x"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["tags"], json!(["x", "y"]), "set replaces and deduplicates");
    assert_eq!(app.get(&format!("/sessions/{id}")).await.body["tags"], json!(["x", "y"]));
    let too_many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    assert_error(&app.post(&format!("/sessions/{id}/tags"), json!({ "tags": too_many })).await, 422);
    assert_error(&app.post("/sessions/ses_missing/tags/add", json!({"tag": "x"})).await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// API-only live flow: upload, submit, offline checks, result, identity
// ---------------------------------------------------------------------------------------------------------------

/// A session for an identity that already holds fields it does not bring: the decision re-seals the whole
/// set, so the identity keeps its own fields beside the session's, and its audit row names only the
/// session's fields.
#[actix_web::test]
async fn a_decision_keeps_the_identitys_other_fields_beside_the_sessions() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    let body = json!({"external_ref": "kept_fields_1", "email": "kept@example.org", "city": "Keswick"});
    let r = post_with(&app, &key, "/identities", body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let identity_id = r.body["id"].as_str().expect("id").to_string();
    let id = live_submitted(&app, "kept_fields_1", "Ottoline", "Kept", "1979-04-02", 7, None).await;
    let done = wait_for(&app, &key, &id, &["completed", "under_review", "failed"]).await;
    assert_eq!(done["identity_id"], identity_id.as_str(), "{done}");

    let identity = get_with(&app, &key, "/identities/kept_fields_1").await.body;
    let data = &identity["extracted_data"];
    assert_eq!((&data["first_name"], &data["last_name"]), (&json!("Ottoline"), &json!("Kept")), "{identity}");
    assert_eq!((&data["email"], &data["city"]), (&json!("kept@example.org"), &json!("Keswick")), "{identity}");

    let audit = get_with(&app, &key, &format!("/identities/{identity_id}/audit-log")).await.body;
    // The verification's row is the identity's update that names the session.
    let verified = audit["data"].as_array().expect("data").iter().find(|e| {
        e["action"] == "identity.updated"
            && e["metadata"]["fields"].as_array().is_some_and(|f| f.contains(&json!("latest_session_id")))
    });
    let fields = verified.map(|e| e["metadata"]["fields"].clone()).unwrap_or_default();
    assert!(fields.as_array().is_some_and(|f| f.contains(&json!("first_name"))), "{audit}");
    assert!(!fields.to_string().contains("email") && !fields.to_string().contains('*'), "{fields}");
}

#[actix_web::test]
async fn the_api_only_live_flow_approves_and_creates_the_identity() {
    let app = spawn_app().await;
    let key = app.live_key.clone();

    // With the default checks (face_match included) the selfie is required.
    let strict =
        create_with(&app, &key, json!({"first_name": "Ada", "last_name": "Byron", "date_of_birth": "1985-12-10"}))
            .await;
    let strict_id = strict["id"].as_str().unwrap();
    assert_eq!(api_upload(&app, &key, strict_id, "id_front", &png(1)).await.status, 201);
    // Missing steps are a state of the session, not a fault of the request: 409 naming them.
    let r = post_with(&app, &key, &format!("/sessions/{strict_id}/submit"), json!({})).await;
    assert_eq!(assert_error(&r, 409), "conflict");
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("selfie"), "{}", r.body);
    assert!(!detail.contains("id_front"), "{}", r.body);
    assert_eq!(get_with(&app, &key, &format!("/sessions/{strict_id}")).await.body["status"], "capturing");

    // Nothing uploaded: id_front is named.
    let bare = create_with(&app, &key, json!({"checks": no_face()})).await;
    let r = post_with(&app, &key, &format!("/sessions/{}/submit", bare["id"].as_str().unwrap()), json!({})).await;
    assert_error(&r, 409);
    assert!(r.body["detail"].as_str().unwrap_or_default().contains("id_front"), "{}", r.body);

    let s = create_with(
        &app,
        &key,
        json!({"external_ref": "live_user_1", "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1985-12-10",
               "country": "GB", "checks": no_face()}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_string();
    assert_eq!(s["is_sandbox"], false);
    let front = png(2);
    let up = api_upload(&app, &key, &id, "id_front", &front).await;
    assert_eq!(up.status, 201, "{}", up.body);
    assert_eq!(up.body["document_type"], "id_front");
    assert_eq!(up.body["mime_type"], "image/png");
    assert_eq!(up.body["file_size_bytes"], front.len());
    assert_eq!(get_with(&app, &key, &format!("/sessions/{id}")).await.body["status"], "capturing");
    // No result before the decision.
    assert_eq!(assert_error(&get_with(&app, &key, &format!("/sessions/{id}/result")).await, 404), "not_found");

    let sub = post_with(&app, &key, &format!("/sessions/{id}/submit"), json!({})).await;
    assert_eq!(sub.status, 202, "{}", sub.body);
    assert_eq!(sub.body["status"], "processing");
    let done = wait_for(&app, &key, &id, &["completed", "under_review", "failed"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["processing_attempts"], 1);
    assert!(done["capture_url"].is_null(), "no capture URL once completed: {done}");

    let result = get_with(&app, &key, &format!("/sessions/{id}/result")).await;
    assert_eq!(result.status, 200, "{}", result.body);
    let r = &result.body;
    assert_eq!(r["session_id"], id.as_str());
    assert_eq!(r["status"], "approved", "{r}");
    assert_eq!(r["is_sandbox"], false);
    assert_eq!(r["extracted_data"]["first_name"], "Ada");
    assert_eq!(r["extracted_data"]["last_name"], "Lovelace");
    assert_eq!(r["extracted_data"]["date_of_birth"], "1985-12-10");
    assert_eq!(r["age_check_passed"], true);
    assert!(r["extracted_age"].as_i64().unwrap() >= 40, "{r}");
    assert_eq!(r["check_results"]["document_ocr"]["status"], "passed", "{r}");
    assert_eq!(r["check_results"]["age_verification"]["status"], "passed", "{r}");
    assert_eq!(r["check_results"]["duplicate_detection"]["status"], "passed", "{r}");
    assert!(r["check_results"].get("face_match").is_none(), "face_match was not requested: {r}");
    assert!(r["rejection_reason"].is_null() && r["rejection_reason_code"].is_null(), "{r}");
    assert_eq!(r["processing_mode"], "workflow");
    assert_eq!(r["country_used"], "GB");
    assert_eq!(r["sensitive_data_expired"], false);
    let identity_id = r["identity_id"].as_str().expect("identity id").to_string();
    assert!(identity_id.starts_with("idn_"), "{r}");

    let identity = get_with(&app, &key, "/identities/live_user_1").await;
    assert_eq!(identity.status, 200, "{}", identity.body);
    assert_eq!(identity.body["id"], identity_id.as_str());
    assert_eq!(identity.body["status"], "approved");
    assert_eq!(identity.body["session_count"], 1);
    assert_eq!(identity.body["latest_session_id"], id.as_str());
    assert_eq!(identity.body["extracted_data"]["first_name"], "Ada", "{}", identity.body);
    assert_error(&app.get("/identities/live_user_1").await, 404);

    let listed = get_with(&app, &key, "/identities/live_user_1/sessions").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(ids_of(&listed), vec![id.clone()]);
    assert_eq!(listed.body["pagination"]["total"], 1);
    assert_eq!(get_with(&app, &key, &format!("/sessions/{id}")).await.body["identity_id"], identity_id.as_str());

    // /results: the list carries no PII; the single result nests the scores.
    let results = get_with(&app, &key, "/results").await;
    assert_eq!(results.status, 200, "{}", results.body);
    assert_eq!(results.body["pagination"]["total"], 1, "{}", results.body);
    let item = &results.body["data"][0];
    assert_eq!(item["session_id"], id.as_str());
    assert_eq!(item["status"], "approved");
    let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
    for k in &keys {
        assert!(
            [
                "session_id",
                "status",
                "created_at",
                "face_match_passed",
                "face_match_score",
                "age_check_passed",
                "rejection_reason",
                "rejection_reason_code"
            ]
            .contains(&k.as_str()),
            "unexpected list field {k}: {item}"
        );
    }
    let raw = String::from_utf8_lossy(&results.raw);
    assert!(!raw.contains("Lovelace") && !raw.contains("1985-12-10"), "no PII in /results: {raw}");
    assert_eq!(get_with(&app, &key, "/results?status=approved").await.body["pagination"]["total"], 1);
    assert_eq!(get_with(&app, &key, "/results?status=declined").await.body["pagination"]["total"], 0);
    assert_error(&get_with(&app, &key, "/results?created_after=yesterday").await, 422);
    assert_eq!(app.get("/results").await.body["pagination"]["total"], 0, "the sandbox has none");

    let nested = get_with(&app, &key, &format!("/results/{id}")).await;
    assert_eq!(nested.status, 200, "{}", nested.body);
    assert_eq!(nested.body["session_id"], id.as_str());
    assert_eq!(nested.body["external_ref"], "live_user_1");
    assert_eq!(nested.body["status"], "approved");
    assert_eq!(nested.body["result"]["age_check_passed"], true);
    assert_eq!(nested.body["result"]["extracted_data"]["last_name"], "Lovelace");
    assert_eq!(nested.body["processing_mode"], "workflow");
    assert!(nested.body.get("sensitive_data_expired").is_none(), "only present once expired: {}", nested.body);
    assert_error(&get_with(&app, &key, "/results/ses_missing").await, 404);
}

#[actix_web::test]
async fn a_live_face_match_without_a_provider_goes_to_review() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    let s = create_with(
        &app,
        &key,
        json!({"external_ref": "face_user", "first_name": "Grace", "last_name": "Hopper", "date_of_birth": "1976-12-09"}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_string();
    assert_eq!(api_upload(&app, &key, &id, "id_front", &png(3)).await.status, 201);
    assert_eq!(api_upload(&app, &key, &id, "selfie", &png(4)).await.status, 201);
    let sub = post_with(&app, &key, &format!("/sessions/{id}/submit"), json!({})).await;
    assert_eq!(sub.status, 202, "{}", sub.body);
    let done = wait_for(&app, &key, &id, &["completed", "under_review", "failed"]).await;
    assert_eq!(done["status"], "under_review", "{done}");

    let r = get_with(&app, &key, &format!("/sessions/{id}/result")).await.body;
    assert_eq!(r["status"], "needs_review", "{r}");
    assert_eq!(r["check_results"]["face_match"]["status"], "error", "{r}");
    assert!(r["face_match_passed"].is_null(), "{r}");
    let identity = get_with(&app, &key, "/identities/face_user").await;
    assert_eq!(identity.body["status"], "under_review", "{}", identity.body);
    assert_eq!(get_with(&app, &key, "/results?status=needs_review").await.body["pagination"]["total"], 1);
}

#[actix_web::test]
async fn an_underage_person_is_declined_and_the_identity_fails() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    let id = live_submitted(&app, "young_user", "Tim", "Young", "2015-06-01", 5, None).await;
    let done = wait_for(&app, &key, &id, &["completed", "under_review", "failed"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    let r = get_with(&app, &key, &format!("/sessions/{id}/result")).await.body;
    assert_eq!(r["status"], "declined", "{r}");
    assert_eq!(r["rejection_reason_code"], "underage", "{r}");
    assert!(r["rejection_reason"].as_str().is_some_and(|t| !t.is_empty()), "{r}");
    assert_eq!(r["age_check_passed"], false);
    assert!(r["extracted_age"].as_i64().unwrap() < 18, "{r}");
    assert_eq!(r["check_results"]["age_verification"]["status"], "failed");
    let identity = get_with(&app, &key, "/identities/young_user").await;
    assert_eq!(identity.body["status"], "failed", "{}", identity.body);
    let list = get_with(&app, &key, "/results?status=rejected").await;
    assert_eq!(list.body["pagination"]["total"], 1, "rejected is an alias of declined: {}", list.body);
    assert_eq!(list.body["data"][0]["rejection_reason_code"], "underage");
}

#[actix_web::test]
async fn the_same_name_and_birth_date_under_two_refs_is_a_duplicate() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    let first = live_submitted(&app, "dup_a", "Maria", "Gonzalez", "1990-03-04", 6, None).await;
    wait_for(&app, &key, &first, &["completed", "under_review", "failed"]).await;
    assert_eq!(get_with(&app, &key, &format!("/sessions/{first}/result")).await.body["status"], "approved");

    let second = live_submitted(&app, "dup_b", "Maria", "Gonzalez", "1990-03-04", 7, None).await;
    let done = wait_for(&app, &key, &second, &["completed", "under_review", "failed"]).await;
    assert_eq!(done["status"], "under_review", "{done}");
    let r = get_with(&app, &key, &format!("/sessions/{second}/result")).await.body;
    assert_eq!(r["status"], "needs_review", "{r}");
    assert_eq!(r["check_results"]["duplicate_detection"]["status"], "failed", "{r}");

    let a = get_with(&app, &key, "/identities/dup_a").await.body["id"].as_str().unwrap().to_string();
    let b = get_with(&app, &key, "/identities/dup_b").await.body["id"].as_str().unwrap().to_string();
    assert_ne!(a, b);
    assert_eq!(r["check_results"]["duplicate_detection"]["detail"]["matches"][0]["identity_id"], a.as_str(), "{r}");
    for (from, to) in [(&b, &a), (&a, &b)] {
        let rels = get_with(&app, &key, &format!("/identities/{from}/relationships?type=same_name_dob")).await;
        assert_eq!(rels.status, 200, "{}", rels.body);
        let rows = rels.body["data"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{}", rels.body);
        assert_eq!(rows[0]["relationship_type"], "same_name_dob");
        assert_eq!(rows[0]["related_identity_id"], to.as_str());
    }
}

/// A live session of a new person with `selfie`, submitted and decided; returns the session id.
async fn decided_with_selfie(app: &TestApp, external_ref: &str, first: &str, dob: &str, selfie: &[u8]) -> String {
    let seed = 50 + first.len() as u32;
    let id = live_submitted(app, external_ref, first, "Face", dob, seed, Some(selfie)).await;
    wait_for(app, &app.live_key, &id, &["completed", "under_review", "failed"]).await;
    id
}

#[actix_web::test]
async fn the_same_selfie_on_another_identity_is_a_duplicate_face_until_that_session_is_redacted() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    let selfie = png(40);
    let result = |id: String| {
        let app = &app;
        let key = key.clone();
        async move { get_with(app, &key, &format!("/sessions/{id}/result")).await.body }
    };
    // The first selfie of the environment: nothing to compare with.
    let first = decided_with_selfie(&app, "face_a", "Ada", "1985-12-10", &selfie).await;
    let r = result(first.clone()).await;
    assert_eq!(r["check_results"]["duplicate_detection"]["status"], "passed", "{r}");
    let a = get_with(&app, &key, "/identities/face_a").await.body["id"].as_str().unwrap().to_string();

    // Another person with the same selfie, enrolled after the first search had read the environment's selfies.
    let second = decided_with_selfie(&app, "face_b", "Bea", "1979-04-02", &selfie).await;
    let r = result(second.clone()).await;
    assert_eq!(r["status"], "needs_review", "{r}");
    assert_eq!(r["check_results"]["duplicate_detection"]["status"], "failed", "{r}");
    assert_eq!(r["check_results"]["duplicate_detection"]["detail"]["matches"][0]["identity_id"], a.as_str(), "{r}");
    let b = get_with(&app, &key, "/identities/face_b").await.body["id"].as_str().unwrap().to_string();
    let rels = get_with(&app, &key, &format!("/identities/{b}/relationships?type=same_face")).await;
    assert_eq!(rels.status, 200, "{}", rels.body);
    assert_eq!(rels.body["data"].as_array().map(Vec::len), Some(1), "{}", rels.body);

    // A different selfie matches nobody.
    let other = decided_with_selfie(&app, "face_c", "Cy", "1990-01-01", &png(43)).await;
    let r = result(other).await;
    assert_eq!(r["check_results"]["duplicate_detection"]["status"], "passed", "{r}");

    // Redacted sessions keep no selfie: the same picture then matches nobody.
    for id in [&first, &second] {
        let r = app.send("DELETE", &format!("/sessions/{id}/data"), Some(&key), &[], None).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let third = decided_with_selfie(&app, "face_d", "Dee", "1970-07-07", &selfie).await;
    let r = result(third).await;
    assert_eq!(r["check_results"]["duplicate_detection"]["status"], "passed", "{r}");
}

#[actix_web::test]
async fn merging_identities_repoints_the_secondarys_sessions() {
    let app = spawn_app().await;
    let mut sessions = Vec::new();
    for (r, person) in [
        ("merge_a", json!({"first_name": "Ann", "last_name": "Lee", "date_of_birth": "1980-01-01"})),
        ("merge_b", json!({})),
    ] {
        let mut body = person;
        body["external_ref"] = json!(r);
        let id = create(&app, body).await["id"].as_str().unwrap().to_string();
        assert_eq!(app.post(&format!("/sessions/{id}/simulate"), json!({"action": "approve"})).await.status, 200);
        sessions.push(id);
    }
    let a = app.get("/identities/merge_a").await.body["id"].as_str().unwrap().to_string();
    let b = app.get("/identities/merge_b").await.body["id"].as_str().unwrap().to_string();
    let r = app.post("/identities/merge", json!({"primary_identity_id": a, "secondary_identity_id": b})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["primary"]["session_count"], 2, "{}", r.body);

    // Spec §1.6.10: the secondary's sessions are re-pointed to the primary.
    let listed = app.get(&format!("/identities/{a}/sessions")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(ids_of(&listed), sorted(sessions.clone()), "{}", listed.body);
    assert_eq!(listed.body["pagination"]["total"], 2);
    assert_eq!(app.get(&format!("/sessions/{}", sessions[1])).await.body["identity_id"], a.as_str());
    assert_eq!(app.get(&format!("/sessions/{}/result", sessions[1])).await.body["status"], "approved");
    assert_eq!(app.get(&format!("/identities/{b}/sessions")).await.body["pagination"]["total"], 0);
    // Re-pointed sessions stay fully usable.
    let r = app.post(&format!("/sessions/{}/tags/add", sessions[1]), json!({"tag": "after-merge"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.post(&format!("/sessions/{}/reprocess", sessions[1]), json!({})).await.status, 202);
    let again = wait_for(&app, &app.sandbox_key.clone(), &sessions[1], &["completed", "under_review", "failed"]).await;
    assert_eq!(again["identity_id"], a.as_str(), "a new decision keeps the session on the primary: {again}");
    assert_eq!(app.get(&format!("/identities/{a}")).await.body["session_count"], 2);

    // A later session under the secondary's external_ref lands on the primary, which is the same person
    // (not a duplicate of itself).
    let later = create(
        &app,
        json!({"external_ref": "merge_b", "first_name": "Ann", "last_name": "Lee", "date_of_birth": "1980-01-01"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.post(&format!("/sessions/{later}/simulate"), json!({"action": "approve"})).await.status, 200);
    assert_eq!(app.post(&format!("/sessions/{later}/reprocess"), json!({})).await.status, 202);
    let done = wait_for(&app, &app.sandbox_key.clone(), &later, &["completed", "under_review", "failed"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["identity_id"], a.as_str(), "{done}");
    let result = app.get(&format!("/sessions/{later}/result")).await.body;
    assert_eq!(result["status"], "approved", "{result}");
    let primary = app.get(&format!("/identities/{a}")).await.body;
    assert_eq!(primary["session_count"], 3, "{primary}");
    assert_eq!(primary["latest_session_id"], later.as_str(), "{primary}");
    assert_eq!(app.get(&format!("/identities/{a}/sessions")).await.body["pagination"]["total"], 3);
    assert_eq!(app.get(&format!("/identities/{b}")).await.body["status"], "merged");
}

// ---------------------------------------------------------------------------------------------------------------
// Signed document URLs
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn documents_are_served_through_short_lived_signed_urls() {
    let clocked = spawn_app_with_clock(Arc::new(ManualClock::new(OffsetDateTime::now_utc()))).await;
    let app = &clocked.app;
    let id = create(app, json!({})).await["id"].as_str().unwrap().to_string();
    let front = png(8);
    let back = png(9);
    assert_eq!(api_upload(app, &app.sandbox_key, &id, "id_front", &front).await.status, 201);
    assert_eq!(api_upload(app, &app.sandbox_key, &id, "id_back", &back).await.status, 201);
    // Uploads are validated: an unknown document type, and bytes that are not an image.
    let r = api_upload(app, &app.sandbox_key, &id, "passport_page", &front).await;
    assert!(has_field_error(&r.body, "document_type"), "{}", r.body);
    let r = api_upload(app, &app.sandbox_key, &id, "id_front", b"just some text").await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "file"), "{}", r.body);

    let list = app.get(&format!("/sessions/{id}/documents")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let docs = list.body["data"].as_array().unwrap();
    assert_eq!(docs.len(), 2, "{}", list.body);
    let doc = docs.iter().find(|d| d["doc_type"] == "id_front").expect("id_front listed");
    assert_eq!(doc["mime_type"], "image/png");
    assert_eq!(doc["expires_in"], 300);
    let url = doc["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/api/v1/sessions/{id}/documents/id_front?expires=", app.base)), "{url}");
    assert!(url.contains("&sig="), "{url}");

    // No API key: the signature is the credential.
    let dl = app.send_raw("GET", &url, None, None).await;
    assert_eq!(dl.status, 200, "{}", String::from_utf8_lossy(&dl.raw));
    assert_eq!(dl.raw, front, "the exact uploaded bytes");
    assert_eq!(dl.header("content-type").as_deref(), Some("image/png"));
    let back_url = docs.iter().find(|d| d["doc_type"] == "id_back").unwrap()["url"].as_str().unwrap().to_string();
    assert_eq!(app.send_raw("GET", &back_url, None, None).await.raw, back);

    // A signature is bound to its path and expiry.
    let last = url.chars().last().unwrap();
    let tampered = format!("{}{}", &url[..url.len() - 1], if last == 'A' { 'B' } else { 'A' });
    assert_error(&app.send_raw("GET", &tampered, None, None).await, 403);
    let other_doc = url.replace("/id_front?", "/id_back?");
    assert_error(&app.send_raw("GET", &other_doc, None, None).await, 403);
    let (prefix, rest) = url.split_once("expires=").unwrap();
    let (expires, sig) = rest.split_once('&').unwrap();
    let later = format!("{prefix}expires={}&{sig}", expires.parse::<i64>().unwrap() + 3600);
    assert_error(&app.send_raw("GET", &later, None, None).await, 403);
    let unsigned = url.split_once('?').unwrap().0.to_string();
    assert!(app.send_raw("GET", &unsigned, None, None).await.status >= 400);

    clocked.clock.advance(time::Duration::seconds(299));
    assert_eq!(app.send_raw("GET", &url, None, None).await.status, 200, "still valid just before expiry");
    clocked.clock.advance(time::Duration::seconds(2));
    assert_error(&app.send_raw("GET", &url, None, None).await, 403);
    // A fresh listing signs again.
    let fresh = app.get(&format!("/sessions/{id}/documents")).await;
    let fresh_url = fresh.body["data"][1]["url"].as_str().unwrap().to_string();
    assert_eq!(app.send_raw("GET", &fresh_url, None, None).await.status, 200);

    assert_error(&app.live_get(&format!("/sessions/{id}/documents")).await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// Hosted capture by token (sandbox)
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_capture_flow_by_token_reaches_a_sandbox_outcome() {
    let app = spawn_app().await;
    let s = create(&app, json!({"external_ref": "cap_user", "first_name": "Cara"})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let token = token_of(&s["capture_url"]);
    let v = |step: &str| format!("/verify/{token}/{step}");

    // Opening the page starts capture.
    let page = app.send_raw("GET", s["capture_url"].as_str().unwrap(), None, None).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap_or_default().starts_with("text/html"), "{:?}", page.headers);
    assert!(String::from_utf8_lossy(&page.raw).to_ascii_lowercase().contains("<html"));
    assert_eq!(app.get(&format!("/sessions/{id}")).await.body["status"], "capturing");

    let state = app.send_raw("GET", &v("session"), None, None).await;
    assert_eq!(state.status, 200, "{}", state.body);
    assert_eq!(state.body["session_id"], id.as_str());
    assert_eq!(state.body["status"], "capturing");
    assert_eq!(state.body["consented"], false);
    assert_eq!(state.body["prefill"]["first_name"], "Cara");

    // Consent comes first.
    let early =
        app.upload(&v("documents"), None, &[("document_type", "id_front")], Some(("image/png", &png(10)))).await;
    assert_eq!(assert_error(&early, 409), "conflict");
    let early = app.upload(&v("selfie"), None, &[], Some(("image/png", &png(11)))).await;
    assert_error(&early, 409);
    assert_error(&app.send_json_raw("POST", &v("consent"), &json!({"accepted": false})).await, 422);
    let r = app.send_json_raw("POST", &v("consent"), &json!({"accepted": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["consented"], true);

    assert_error(&app.send_json_raw("POST", &v("document-type"), &json!({"document_type": "library_card"})).await, 422);
    let r = app.send_json_raw("POST", &v("document-type"), &json!({"document_type": "drivers_license"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["document_type"], "drivers_license");
    assert_eq!(r.body["needs_back"], true);

    let r = app.upload(&v("documents"), None, &[("document_type", "id_front")], Some(("image/png", &png(12)))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["doc_type"], "id_front");

    // Without the back of a driver's licence (and the selfie) capture cannot complete.
    let r = app.send_raw("POST", &v("complete"), None, None).await;
    assert_eq!(assert_error(&r, 409), "conflict");
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("id_back") && detail.contains("selfie"), "{}", r.body);

    let r = app.upload(&v("documents"), None, &[("document_type", "id_back")], Some(("image/png", &png(13)))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.upload(&v("selfie"), None, &[], Some(("image/png", &png(14)))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["doc_type"], "selfie");

    let r =
        app.send_json_raw("POST", &v("user-data"), &json!({"last_name": "Lopez", "date_of_birth": "1991-02-31"})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "date_of_birth"), "{}", r.body);
    let r = app.send_json_raw("POST", &v("user-data"), &json!({"shoe_size": "42"})).await;
    assert!(has_field_error(&r.body, "shoe_size"), "{}", r.body);
    let r =
        app.send_json_raw("POST", &v("user-data"), &json!({"last_name": "Lopez", "date_of_birth": "1991-02-03"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut fields: Vec<String> =
        r.body["fields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
    fields.sort();
    assert_eq!(fields, vec!["date_of_birth", "last_name"]);

    let r = app
        .send_json_raw(
            "POST",
            &v("fraud-signals"),
            &json!({"signals": {"completion_ms": 60000, "tab_switches": 1}, "device_fingerprint": "dev-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["recorded"], true);

    let state = app.send_raw("GET", &v("session"), None, None).await.body;
    assert_eq!(state["uploaded"], json!(["id_back", "id_front", "selfie"]), "{state}");

    let r = app.send_raw("POST", &v("complete"), None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "sandbox_pending");
    assert_eq!(app.get(&format!("/sessions/{id}")).await.body["status"], "sandbox_pending");
    assert_error(&app.get(&format!("/sessions/{id}/result")).await, 404);

    assert_error(&app.send_json_raw("POST", &v("sandbox-outcome"), &json!({"outcome": "maybe"})).await, 422);
    let r = app.send_json_raw("POST", &v("sandbox-outcome"), &json!({"outcome": "approve"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "completed");
    assert_eq!(r.body["result_status"], "approved");

    let session = app.get(&format!("/sessions/{id}")).await.body;
    assert_eq!(session["status"], "completed");
    assert_eq!(session["document_type"], "drivers_license");
    assert!(session["consent_ip"].as_str().is_some(), "consent IP recorded: {session}");
    let result = app.get(&format!("/sessions/{id}/result")).await.body;
    assert_eq!(result["status"], "approved", "{result}");
    assert_eq!(result["is_sandbox"], true);
    assert_eq!(result["extracted_data"]["first_name"], "Cara", "prefill: {result}");
    assert_eq!(result["extracted_data"]["last_name"], "Lopez", "confirmed by the person: {result}");
    assert_eq!(result["extracted_data"]["document_type"], "drivers_license", "{result}");
    let identity = app.get("/identities/cap_user").await;
    assert_eq!(identity.body["status"], "approved", "{}", identity.body);
    assert_eq!(identity.body["latest_session_id"], id.as_str());

    // After completion the token works for no step.
    for (step, body) in [
        ("consent", json!({"accepted": true})),
        ("document-type", json!({"document_type": "passport"})),
        ("complete", json!({})),
        ("sandbox-outcome", json!({"outcome": "reject"})),
    ] {
        let r = app.send_json_raw("POST", &v(step), &body).await;
        assert!(r.status == 409 || r.status == 404, "{step} after completion: {} {}", r.status, r.body);
        assert_error(&r, r.status);
    }
    let r = app.upload(&v("selfie"), None, &[], Some(("image/png", &png(15)))).await;
    assert!(r.status == 409 || r.status == 404, "{} {}", r.status, r.body);
    assert_eq!(app.get(&format!("/sessions/{id}/result")).await.body["status"], "approved", "unchanged");

    // The sandbox outcome is not available to a live session's token.
    let live = create_with(&app, &app.live_key.clone(), json!({})).await;
    let live_token = token_of(&live["capture_url"]);
    let r = app
        .send_json_raw("POST", &format!("/verify/{live_token}/sandbox-outcome"), &json!({"outcome": "approve"}))
        .await;
    assert_error(&r, 403);
    assert_eq!(app.live_get(&format!("/sessions/{}", live["id"].as_str().unwrap())).await.body["status"], "pending");

    // An invalid token: the page still renders, the JSON steps are 404 with the error shape.
    let bad = app.send_raw("GET", "/verify/tok_doesnotexist", None, None).await;
    assert_eq!(bad.status, 200);
    for path in ["/verify/tok_doesnotexist/session", "/verify/not-a-token/session"] {
        assert_eq!(assert_error(&app.send_raw("GET", path, None, None).await, 404), "not_found");
    }
    let r = app.send_json_raw("POST", "/verify/tok_doesnotexist/consent", &json!({"accepted": true})).await;
    assert_eq!(assert_error(&r, 404), "not_found");
}

#[actix_web::test]
async fn the_sandbox_outcome_can_reject_or_route_to_review() {
    let app = spawn_app().await;
    for (outcome, status, result) in
        [("reject", "completed", "declined"), ("needs_review", "under_review", "needs_review")]
    {
        let s = create(&app, json!({"external_ref": format!("out_{outcome}")})).await;
        let token = token_of(&s["capture_url"]);
        let r =
            app.send_json_raw("POST", &format!("/verify/{token}/sandbox-outcome"), &json!({"outcome": outcome})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!((r.body["status"].as_str(), r.body["result_status"].as_str()), (Some(status), Some(result)));
        let id = s["id"].as_str().unwrap();
        assert_eq!(app.get(&format!("/sessions/{id}/result")).await.body["status"], result);
    }
    assert_eq!(app.get("/identities/out_reject").await.body["status"], "failed");
    assert_eq!(app.get("/identities/out_needs_review").await.body["status"], "under_review");
}

#[actix_web::test]
async fn a_live_capture_by_token_is_processed_and_an_expired_document_is_declined() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    let s = create_with(&app, &key, json!({"external_ref": "live_cap", "checks": no_face()})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let token = token_of(&s["capture_url"]);
    let v = |step: &str| format!("/verify/{token}/{step}");
    assert_eq!(app.send_json_raw("POST", &v("consent"), &json!({"accepted": true})).await.status, 200);
    // A driving licence: its photos carry no machine-readable zone (a passport photo without one would be
    // declined as unreadable before its expiry is looked at; tests/api/mrz_document.rs).
    let r = app.send_json_raw("POST", &v("document-type"), &json!({"document_type": "drivers_license"})).await;
    assert_eq!(r.status, 200);
    let r = app.upload(&v("documents"), None, &[("document_type", "id_front")], Some(("image/png", &png(18)))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let state = app.send_raw("GET", &v("session"), None, None).await.body;
    assert_eq!((state["needs_back"].as_bool(), state["needs_selfie"].as_bool()), (Some(true), Some(false)), "{state}");
    let r = app.upload(&v("documents"), None, &[("document_type", "id_back")], Some(("image/png", &png(20)))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .send_json_raw(
            "POST",
            &v("user-data"),
            &json!({"first_name": "Lena", "last_name": "Park", "date_of_birth": "1979-11-30", "document_expiration_date": "2020-01-31"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.send_raw("POST", &v("complete"), None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "processing");
    let done = wait_for(&app, &key, &id, &["completed", "under_review", "failed"]).await;
    assert_eq!(done["status"], "completed", "{done}");
    let result = get_with(&app, &key, &format!("/sessions/{id}/result")).await.body;
    assert_eq!(result["status"], "declined", "{result}");
    assert_eq!(result["rejection_reason_code"], "document_expired", "{result}");
    assert_eq!(result["check_results"]["document_expiration"]["status"], "failed");
    assert_eq!(result["extracted_data"]["document_type"], "drivers_license");
    assert_eq!(get_with(&app, &key, "/identities/live_cap").await.body["status"], "failed");
    assert_error(&app.send_raw("POST", &v("complete"), None, None).await, 409);
}

#[actix_web::test]
async fn an_expired_passport_with_valid_check_digits_shows_each_digit_passed_and_the_expiry_failed() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    let s = create_with(&app, &key, json!({"external_ref": "live_mrz", "checks": no_face()})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let token = token_of(&s["capture_url"]);
    let v = |step: &str| format!("/verify/{token}/{step}");
    assert_eq!(app.send_json_raw("POST", &v("consent"), &json!({"accepted": true})).await.status, 200);
    assert_eq!(app.send_json_raw("POST", &v("document-type"), &json!({"document_type": "passport"})).await.status, 200);
    let r = app.upload(&v("documents"), None, &[("document_type", "id_front")], Some(("image/png", &png(19)))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A GBR passport, every check digit valid, expired 2020-01-31.
    let mrz = "P<GBRPARK<<LENA<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\n9256654166GBR7908301F2001311AB1234567<<<<<18";
    let data = json!({"first_name": "Lena", "last_name": "Park", "date_of_birth": "1979-08-30", "mrz": mrz});
    let r = app.send_json_raw("POST", &v("user-data"), &data).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.send_raw("POST", &v("complete"), None, None).await.status, 200);
    wait_for(&app, &key, &id, &["completed", "under_review", "failed"]).await;

    let result = get_with(&app, &key, &format!("/sessions/{id}/result")).await.body;
    assert_eq!(result["status"], "declined", "{result}");
    let subs = |check: &str| -> Vec<Value> {
        result["check_results"][check]["sub_checks"]
            .as_array()
            .unwrap_or_else(|| panic!("{check} lists its sub-checks: {result}"))
            .clone()
    };
    let status_of = |check: &str, name: &str| -> (String, bool, String) {
        let s =
            subs(check).into_iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{check}.{name}: {result}"));
        (s["status"].as_str().unwrap().into(), s["passed"].as_bool().unwrap(), s["reason"].as_str().unwrap().into())
    };
    for digit in [
        "mrz.document_number_check_digit",
        "mrz.date_of_birth_check_digit",
        "mrz.date_of_expiry_check_digit",
        "mrz.optional_data_check_digit",
        "mrz.composite_check_digit",
    ] {
        let (status, passed, reason) = status_of("document_ocr", digit);
        assert_eq!((status.as_str(), passed), ("passed", true), "{digit}: {result}");
        assert!(!reason.is_empty(), "{digit} says why");
    }
    for name in ["document_front", "required_field.date_of_birth", "mrz.issuing_state", "consistency.last_name"] {
        assert_eq!(status_of("document_ocr", name).0, "passed", "{name}: {result}");
    }
    let (status, passed, reason) = status_of("document_ocr", "mrz.not_expired");
    assert_eq!((status.as_str(), passed, reason.as_str()), ("failed", false, "expired"), "{result}");
    let (status, passed, _) = status_of("document_expiration", "not_expired");
    assert_eq!((status.as_str(), passed), ("failed", false), "{result}");
    assert_eq!(result["check_results"]["document_expiration"]["status"], "failed");
    assert_eq!(status_of("age_verification", "minimum_age").0, "passed", "{result}");
}

// ---------------------------------------------------------------------------------------------------------------
// Simulate (sandbox)
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn simulate_resolves_a_pending_sandbox_session() {
    let app = spawn_app().await;
    let cases = [
        ("approve", "completed", Some("approved")),
        ("decline", "completed", Some("declined")),
        ("require-review", "under_review", Some("needs_review")),
        ("expire", "expired", None),
    ];
    for (action, status, result) in cases {
        let id =
            create(&app, json!({"external_ref": format!("sim_{action}")})).await["id"].as_str().unwrap().to_string();
        let r = app.post(&format!("/sessions/{id}/simulate"), json!({"action": action})).await;
        assert_eq!(r.status, 200, "{action}: {}", r.body);
        assert_eq!(r.body, json!({"id": id, "action": action, "status": status, "simulated": true}), "{action}");
        assert_eq!(app.get(&format!("/sessions/{id}")).await.body["status"], status, "{action}");
        let res = app.get(&format!("/sessions/{id}/result")).await;
        match result {
            Some(want) => {
                assert_eq!(res.status, 200, "{action}: {}", res.body);
                assert_eq!(res.body["status"], want, "{action}");
                assert_eq!(res.body["is_sandbox"], true);
            }
            None => {
                assert_error(&res, 404);
            }
        }
    }
    let approved = app.get("/sessions?status=completed").await;
    assert_eq!(approved.body["pagination"]["total"], 2);
    let nested = app.get(&format!("/results/{}", approved.body["data"][0]["id"].as_str().unwrap())).await;
    assert_eq!(nested.status, 200, "{}", nested.body);
    let declined_result = app.get("/results?status=declined").await;
    assert_eq!(
        declined_result.body["data"][0]["rejection_reason_code"], "simulated_decline",
        "{}",
        declined_result.body
    );
    assert_eq!(app.get("/identities/sim_approve").await.body["status"], "approved");
    assert_eq!(app.get("/identities/sim_require-review").await.body["status"], "under_review");
    let review = app.get("/sessions?status=under_review").await.body;
    assert_eq!(review["data"][0]["case_status"], "open", "{review}");

    // The API-only sandbox path: submit parks the session in sandbox_pending until an outcome is chosen.
    let parked = create(
        &app,
        json!({"checks": ["document_ocr"], "first_name": "P", "last_name": "Q", "date_of_birth": "1999-09-09"}),
    )
    .await;
    let parked = parked["id"].as_str().unwrap().to_string();
    assert_eq!(api_upload(&app, &app.sandbox_key, &parked, "id_front", &png(16)).await.status, 201);
    let r = app.post(&format!("/sessions/{parked}/submit"), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "sandbox_pending");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        app.get(&format!("/sessions/{parked}")).await.body["status"],
        "sandbox_pending",
        "no processing in the sandbox"
    );
    assert_error(&app.get(&format!("/sessions/{parked}/result")).await, 404);
    let r = app.post(&format!("/sessions/{parked}/simulate"), json!({"action": "decline"})).await;
    assert_eq!(r.body["status"], "completed", "{}", r.body);
    assert_eq!(app.get(&format!("/sessions/{parked}/result")).await.body["status"], "declined");

    // Refusals.
    let live = create_with(&app, &app.live_key.clone(), json!({})).await;
    let live_id = live["id"].as_str().unwrap();
    let r =
        post_with(&app, &app.live_key.clone(), &format!("/sessions/{live_id}/simulate"), json!({"action": "approve"}))
            .await;
    assert_eq!(assert_error(&r, 403), "forbidden");
    assert_eq!(app.live_get(&format!("/sessions/{live_id}")).await.body["status"], "pending", "untouched");
    let id = create(&app, json!({})).await["id"].as_str().unwrap().to_string();
    let r = app.post(&format!("/sessions/{id}/simulate"), json!({"action": "explode"})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "action"), "{}", r.body);
    assert_error(&app.post(&format!("/sessions/{id}/simulate"), json!({})).await, 422);
    assert_eq!(app.post(&format!("/sessions/{id}/simulate"), json!({"action": "approve"})).await.status, 200);
    assert_eq!(
        assert_error(&app.post(&format!("/sessions/{id}/simulate"), json!({"action": "expire"})).await, 409),
        "conflict"
    );
    assert_error(&app.post("/sessions/ses_missing/simulate", json!({"action": "approve"})).await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// The state machine (§3.1): refusals, resume, reprocess, links, invites
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn expire_and_resume_follow_the_state_machine() {
    let app = spawn_app().await;
    let done = create(&app, json!({})).await["id"].as_str().unwrap().to_string();
    assert_eq!(app.post(&format!("/sessions/{done}/simulate"), json!({"action": "approve"})).await.status, 200);
    assert_eq!(assert_error(&app.post(&format!("/sessions/{done}/expire"), json!({})).await, 409), "conflict");
    assert_eq!(assert_error(&app.post(&format!("/sessions/{done}/resume"), json!({})).await, 409), "conflict");
    assert_eq!(app.get(&format!("/sessions/{done}")).await.body["status"], "completed");

    let s = create(&app, json!({})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let old = token_of(&s["capture_url"]);
    // Some progress before the session lapses: consent and the document front.
    let r = app.send_json_raw("POST", &format!("/verify/{old}/consent"), &json!({"accepted": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .upload(
            &format!("/verify/{old}/documents"),
            None,
            &[("document_type", "id_front")],
            Some(("image/png", &png(17))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.post(&format!("/sessions/{id}/expire"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["status"], "expired");
    assert!(r.body["expired_at"].is_string());
    assert_error(&app.post(&format!("/sessions/{id}/expire"), json!({})).await, 409);
    assert!(app.get(&format!("/sessions/{id}")).await.body["capture_url"].is_null());

    let r = app.post(&format!("/sessions/{id}/resume"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["status"], "pending");
    assert!(r.body["qr_code_data_url"].as_str().unwrap().starts_with("data:image/png;base64,"));
    let new = token_of(&r.body["capture_url"]);
    assert_ne!(new, old);
    let minutes = (ts(&r.body["expires_at"]) - OffsetDateTime::now_utc()).whole_minutes();
    assert!((18..=20).contains(&minutes), "a fresh 20-minute expiry: {}", r.body);
    let session = app.get(&format!("/sessions/{id}")).await.body;
    assert_eq!(session["status"], "pending");
    assert_eq!(session["capture_url"], r.body["capture_url"]);

    let state = app.send_raw("GET", &format!("/verify/{new}/session"), None, None).await;
    assert_eq!(state.status, 200, "{}", state.body);
    assert_eq!(state.body["consented"], true, "progress is kept: {}", state.body);
    assert_eq!(state.body["uploaded"], json!(["id_front"]), "documents are kept: {}", state.body);
    assert_error(&app.send_raw("GET", &format!("/verify/{old}/session"), None, None).await, 404);
    let r = app.send_json_raw("POST", &format!("/verify/{new}/consent"), &json!({"accepted": true})).await;
    assert_eq!(r.status, 200, "the new token works for steps: {}", r.body);
    assert_eq!(app.get(&format!("/sessions/{id}")).await.body["status"], "capturing");
    assert_error(&app.send_json_raw("POST", &format!("/verify/{old}/consent"), &json!({"accepted": true})).await, 404);
    assert_error(&app.post("/sessions/ses_missing/resume", json!({})).await, 404);
}

#[actix_web::test]
async fn reprocess_and_external_decision_refuse_the_wrong_state() {
    let app = spawn_app().await;
    let id = create(
        &app,
        json!({"external_ref": "rep_user", "first_name": "Ida", "last_name": "Wells", "date_of_birth": "1962-07-16"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(assert_error(&app.post(&format!("/sessions/{id}/reprocess"), json!({})).await, 409), "conflict");
    let r = app.post(&format!("/sessions/{id}/external-decision"), json!({"decision": "continue"})).await;
    assert_eq!(assert_error(&r, 409), "conflict");
    let r = app.post(&format!("/sessions/{id}/external-decision"), json!({"decision": "shrug"})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");

    assert_eq!(app.post(&format!("/sessions/{id}/simulate"), json!({"action": "approve"})).await.status, 200);
    let r = app.post(&format!("/sessions/{id}/reprocess"), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body, json!({"session_id": id, "status": "processing"}));
    let after = wait_for(&app, &app.sandbox_key.clone(), &id, &["completed", "under_review", "failed"]).await;
    assert_eq!(after["status"], "completed", "{after}");
    assert_eq!(after["processing_attempts"], 1);
    let result = app.get(&format!("/sessions/{id}/result")).await.body;
    assert_eq!(result["status"], "approved", "the stored data still passes: {result}");
    assert_eq!(result["simulated"], false, "the decision was recomputed: {result}");
    let identity = app.get("/identities/rep_user").await.body;
    assert_eq!(identity["session_count"], 1, "a reprocessed session is not counted twice: {identity}");
    assert_eq!(identity["latest_session_id"], id.as_str());
    assert_eq!(app.get("/identities/rep_user/sessions").await.body["pagination"]["total"], 1);

    // Declined sessions can be reprocessed too; under_review and expired ones cannot.
    let review = create(&app, json!({})).await["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{review}/simulate"), json!({"action": "require-review"})).await;
    assert_error(&app.post(&format!("/sessions/{review}/reprocess"), json!({})).await, 409);
    let expired = create(&app, json!({})).await["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{expired}/expire"), json!({})).await;
    assert_error(&app.post(&format!("/sessions/{expired}/reprocess"), json!({})).await, 409);
    assert_error(&app.post("/sessions/ses_missing/reprocess", json!({})).await, 404);
    assert_error(&app.post("/sessions/ses_missing/external-decision", json!({"decision": "reject"})).await, 404);
}

#[actix_web::test]
async fn a_new_one_time_link_revokes_the_previous_one() {
    let app = spawn_app().await;
    let s = create(&app, json!({})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let original = token_of(&s["capture_url"]);

    let first = app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({"expires_in_minutes": 60})).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body["id"].as_str().unwrap().starts_with("link_"), "{}", first.body);
    assert_eq!(first.body["session_id"], id.as_str());
    assert_eq!(first.body["status"], "active");
    assert!(first.body["created_at"].is_string());
    assert!(first.body["qr_code_data_url"].as_str().unwrap().starts_with("data:image/png;base64,"));
    let minutes = (ts(&first.body["expires_at"]) - OffsetDateTime::now_utc()).whole_minutes();
    assert!((58..=60).contains(&minutes), "{}", first.body);
    let t1 = token_of(&first.body["capture_url"]);
    assert_eq!(app.send_raw("GET", &format!("/verify/{t1}/session"), None, None).await.status, 200);
    assert_error(&app.send_raw("GET", &format!("/verify/{original}/session"), None, None).await, 404);

    let second = app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({})).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_ne!(second.body["id"], first.body["id"]);
    let t2 = token_of(&second.body["capture_url"]);
    let minutes = (ts(&second.body["expires_at"]) - OffsetDateTime::now_utc()).whole_minutes();
    assert!((18..=20).contains(&minutes), "null uses the 20-minute default: {}", second.body);
    assert_eq!(assert_error(&app.send_raw("GET", &format!("/verify/{t1}/session"), None, None).await, 410), "gone");
    assert_error(&app.send_json_raw("POST", &format!("/verify/{t1}/consent"), &json!({"accepted": true})).await, 410);
    assert_eq!(app.send_raw("GET", &format!("/verify/{t2}/session"), None, None).await.status, 200);

    for bad in [json!({"expires_in_minutes": 0}), json!({"expires_in_minutes": 20000})] {
        let r = app.post(&format!("/sessions/{id}/generate-one-time-link"), bad.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{bad}");
        assert!(has_field_error(&r.body, "expires_in_minutes"), "{}", r.body);
    }
    // A completed session cannot get a link.
    app.post(&format!("/sessions/{id}/simulate"), json!({"action": "approve"})).await;
    assert_error(&app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({})).await, 409);
}

#[actix_web::test]
async fn invites_are_resent_only_for_send_email_sessions_and_are_capped() {
    let app = spawn_app().await;
    let plain = create(&app, json!({})).await["id"].as_str().unwrap().to_string();
    assert_eq!(assert_error(&app.post(&format!("/sessions/{plain}/resend-invite"), json!({})).await, 409), "conflict");

    let id = create(&app, json!({"send_email": true, "email": "applicant@example.com"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.post(&format!("/sessions/{id}/resend-invite"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["invites_sent"], 2, "the first invite went out at creation: {}", r.body);
    for n in 3..=6 {
        let r = app.post(&format!("/sessions/{id}/resend-invite"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["invites_sent"], n);
    }
    // The sixth resend is refused for good (not "try later"): a state conflict.
    assert_eq!(assert_error(&app.post(&format!("/sessions/{id}/resend-invite"), json!({})).await, 409), "conflict");
    // Only in pending or capturing.
    app.post(&format!("/sessions/{plain}/expire"), json!({})).await;
    let sent = create(&app, json!({"send_email": true})).await["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{sent}/expire"), json!({})).await;
    assert_error(&app.post(&format!("/sessions/{sent}/resend-invite"), json!({})).await, 409);
}

// ---------------------------------------------------------------------------------------------------------------
// The sweeper on a manual clock
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_sweeper_expires_sessions_whose_token_lapsed() {
    let clocked = spawn_app_with_clock(Arc::new(ManualClock::new(OffsetDateTime::now_utc()))).await;
    let app = &clocked.app;
    let s = create(app, json!({})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let token = token_of(&s["capture_url"]);
    let capturing = create(app, json!({})).await;
    let capturing_id = capturing["id"].as_str().unwrap().to_string();
    assert_eq!(app.send_raw("GET", capturing["capture_url"].as_str().unwrap(), None, None).await.status, 200);
    let done = create(app, json!({})).await["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{done}/simulate"), json!({"action": "approve"})).await;

    clocked.clock.advance(time::Duration::minutes(19));
    assert_eq!(clocked.sweep().await, 0);
    assert_eq!(app.get(&format!("/sessions/{id}")).await.body["status"], "pending");
    assert_eq!(app.send_raw("GET", &format!("/verify/{token}/session"), None, None).await.status, 200);

    clocked.clock.advance(time::Duration::minutes(2));
    // The token is refused as soon as it lapses, even before the sweeper runs.
    assert_error(&app.send_raw("GET", &format!("/verify/{token}/session"), None, None).await, 404);
    assert_eq!(clocked.sweep().await, 2);
    let after = app.get(&format!("/sessions/{id}")).await.body;
    assert_eq!(after["status"], "expired", "{after}");
    assert!(after["capture_url"].is_null());
    assert_eq!(app.get(&format!("/sessions/{capturing_id}")).await.body["status"], "expired");
    assert_eq!(app.get(&format!("/sessions/{done}")).await.body["status"], "completed", "terminal sessions stay");
    assert_eq!(clocked.sweep().await, 0, "nothing left to do");

    // A resumed session gets 20 fresh minutes on the same clock.
    let r = app.post(&format!("/sessions/{id}/resume"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    clocked.clock.advance(time::Duration::minutes(10));
    assert_eq!(clocked.sweep().await, 0);
    assert_eq!(app.get(&format!("/sessions/{id}")).await.body["status"], "pending");
}

// ---------------------------------------------------------------------------------------------------------------
// Redaction and export
// ---------------------------------------------------------------------------------------------------------------

const SECRET_FIRST: &str = "Zorblaxia";
const SECRET_LAST: &str = "Quimbleton";
const SECRET_DOB: &str = "1966-09-17";

#[actix_web::test]
async fn redaction_destroys_the_session_data_and_bulk_redaction_reports_each() {
    let app = spawn_app().await;
    let s =
        create(&app, json!({"first_name": SECRET_FIRST, "last_name": SECRET_LAST, "date_of_birth": SECRET_DOB})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let front = png(20);
    let selfie = png(21);
    assert_eq!(api_upload(&app, &app.sandbox_key, &id, "id_front", &front).await.status, 201);
    assert_eq!(api_upload(&app, &app.sandbox_key, &id, "selfie", &selfie).await.status, 201);
    assert_eq!(app.post(&format!("/sessions/{id}/simulate"), json!({"action": "approve"})).await.status, 200);
    // Before: the data is there through the API.
    assert_eq!(app.get(&format!("/sessions/{id}/result")).await.body["extracted_data"]["first_name"], SECRET_FIRST);
    assert_eq!(app.get(&format!("/sessions/{id}/documents")).await.body["data"].as_array().unwrap().len(), 2);

    let r = app.delete(&format!("/sessions/{id}/data")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "deleted");
    assert_eq!(r.body["session_id"], id.as_str());
    assert_eq!(r.body["documents_removed"], 2);
    assert!(r.body["message"].is_string());

    let session = app.get(&format!("/sessions/{id}")).await.body;
    assert_eq!(session["retention_status"], "redacted");
    assert_eq!(session["status"], "completed", "the status is unchanged");
    let result = app.get(&format!("/sessions/{id}/result")).await.body;
    assert_eq!(result["extracted_data"], json!({}), "{result}");
    assert_eq!(result["status"], "approved", "non-PII stays readable");
    assert_eq!(result["sensitive_data_expired"], true);
    assert_eq!(assert_error(&app.get(&format!("/sessions/{id}/documents")).await, 410), "gone");
    let export = app.get(&format!("/sessions/{id}/export")).await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.body["provided_data"], json!({}));
    assert_eq!(export.body["documents"], json!([]));
    // A redacted session cannot be updated, resumed or given a link.
    assert_error(&app.patch(&format!("/sessions/{id}"), json!({"metadata": {"a": 1}})).await, 409);
    assert_error(&app.post(&format!("/sessions/{id}/reprocess"), json!({})).await, 409);
    assert_error(&api_upload(&app, &app.sandbox_key, &id, "id_back", &png(22)).await, 409);

    // Neither the image bytes nor the prefill plaintext remain in the database file or its WAL.
    let bytes = file_bytes(&app);
    for (name, needle) in [("front", &front), ("selfie", &selfie)] {
        assert!(!contains(&bytes, needle), "{name} image bytes remain");
        assert!(!contains(&bytes, &needle[needle.len() / 2..needle.len() / 2 + 32]), "{name} image fragment remains");
    }
    for plain in [SECRET_FIRST, SECRET_LAST, SECRET_DOB] {
        assert!(!contains(&bytes, plain.as_bytes()), "{plain} remains in the database");
    }

    // Bulk: a second redaction is reported, not refused.
    let other = create(&app, json!({"first_name": "Other"})).await["id"].as_str().unwrap().to_string();
    let r = app.post("/sessions/bulk-redact", json!({"session_ids": [id, other]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["results"][0], json!({"session_id": id, "status": "already_redacted", "documents_removed": 0}));
    assert_eq!(r.body["results"][1], json!({"session_id": other, "status": "deleted", "documents_removed": 0}));
    let again = app.delete(&format!("/sessions/{id}/data")).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["status"], "already_redacted");

    let many: Vec<String> = (0..101).map(|i| format!("ses_01J9ZQ4X8Y2K3M4N5P6Q7R8{i:03}")).collect();
    let r = app.post("/sessions/bulk-redact", json!({ "session_ids": many })).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "session_ids"), "{}", r.body);
    assert_error(&app.post("/sessions/bulk-redact", json!({"session_ids": []})).await, 422);
    assert_error(&app.delete("/sessions/ses_missing/data").await, 404);
    assert_error(&app.live_get(&format!("/sessions/{other}/export")).await, 404);
}

#[actix_web::test]
async fn export_bundles_the_session_its_result_data_and_documents() {
    let app = spawn_app().await;
    let s = create(
        &app,
        json!({"external_ref": "dsar_user", "first_name": "Olive", "last_name": "Ng", "date_of_birth": "1980-05-05"}),
    )
    .await;
    let id = s["id"].as_str().unwrap().to_string();
    let token = token_of(&s["capture_url"]);
    app.send_json_raw("POST", &format!("/verify/{token}/consent"), &json!({"accepted": true})).await;
    let front = png(30);
    let r = app
        .upload(
            &format!("/verify/{token}/documents"),
            None,
            &[("document_type", "id_front")],
            Some(("image/png", &front)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.send_json_raw("POST", &format!("/verify/{token}/user-data"), &json!({"city": "Lisbon"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.post(&format!("/sessions/{id}/simulate"), json!({"action": "approve"})).await.status, 200);

    let r = app.get(&format!("/sessions/{id}/export")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = &r.body;
    assert_eq!(e["session"]["id"], id.as_str());
    assert_eq!(e["session"]["external_ref"], "dsar_user");
    assert_eq!(e["result"]["status"], "approved");
    assert_eq!(e["result"]["session_id"], id.as_str());
    assert_eq!(e["provided_data"]["first_name"], "Olive", "{e}");
    assert_eq!(e["provided_data"]["last_name"], "Ng");
    assert_eq!(e["provided_data"]["date_of_birth"], "1980-05-05");
    assert_eq!(e["provided_data"]["city"], "Lisbon", "what the person confirmed: {e}");
    let docs = e["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 1, "{e}");
    assert_eq!(docs[0]["doc_type"], "id_front");
    assert_eq!(docs[0]["expires_in"], 24 * 3600);
    let url = docs[0]["download_url"].as_str().unwrap();
    let dl = app.send_raw("GET", url, None, None).await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.raw, front);
    for key in ["screening", "review_case", "case_notes", "fraud_signals", "webhook_deliveries"] {
        assert!(e.get(key).is_some(), "section {key} present: {e}");
    }
    assert!(e["result"]["check_results"]["risk_assessment"].is_object(), "{e}");
    assert_eq!(e["fraud_signals"], e["result"]["check_results"]["risk_assessment"], "the risk check's findings");

    // Before a decision the result section is null, not an error.
    let pending = create(&app, json!({"email": "p@example.com"})).await["id"].as_str().unwrap().to_string();
    let r = app.get(&format!("/sessions/{pending}/export")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["result"].is_null());
    assert_eq!(r.body["provided_data"]["email"], "p@example.com");
    assert_error(&app.get("/sessions/ses_missing/export").await, 404);
}

/// A live session captured through the hosted page with this device fingerprint, completed; returns its
/// result once decided.
async fn captured_from_device(app: &TestApp, external_ref: &str, device: &str, seed: u32) -> Value {
    let key = app.live_key.clone();
    let body = json!({"external_ref": external_ref, "first_name": "Vel", "last_name": "Ocity", "date_of_birth": "1985-05-05",
        "checks": no_face()});
    let s = create_with(app, &key, body).await;
    let id = s["id"].as_str().unwrap().to_string();
    let t = token_of(&s["capture_url"]);
    app.send_raw("GET", &format!("/verify/{t}"), None, None).await;
    app.send_json_raw("POST", &format!("/verify/{t}/consent"), &json!({"accepted": true})).await;
    app.send_json_raw("POST", &format!("/verify/{t}/document-type"), &json!({"document_type": "passport"})).await;
    let front = &[("document_type", "id_front")];
    let up = app.upload(&format!("/verify/{t}/documents"), None, front, Some(("image/png", &png(seed)))).await;
    assert_eq!(up.status, 201, "{}", up.body);
    let up = app.upload(&format!("/verify/{t}/selfie"), None, &[], Some(("image/png", &png(seed + 1)))).await;
    assert_eq!(up.status, 201, "{}", up.body);
    let signals = json!({"signals": {"completion_ms": 90000}, "device_fingerprint": device});
    assert_eq!(app.send_json_raw("POST", &format!("/verify/{t}/fraud-signals"), &signals).await.status, 200);
    let done = app.send_raw("POST", &format!("/verify/{t}/complete"), None, None).await;
    assert_eq!(done.status, 200, "{}", done.body);
    wait_for(app, &key, &id, &["completed", "under_review", "failed"]).await;
    let result = get_with(app, &key, &format!("/sessions/{id}/result")).await;
    assert_eq!(result.status, 200, "{}", result.body);
    result.body
}

fn risk_signal_names(result: &Value) -> Vec<String> {
    let signals = result["check_results"]["risk_assessment"]["detail"]["signals"].as_array();
    let signals = signals.unwrap_or_else(|| panic!("no risk signals: {result}"));
    signals.iter().filter_map(|s| s["name"].as_str().map(str::to_string)).collect()
}

#[actix_web::test]
async fn velocity_counts_the_days_other_sessions_from_one_device_and_one_address() {
    let app = spawn_app().await;
    // The first three sessions from the device have fewer than three others before them.
    for n in 0..3u32 {
        let result = captured_from_device(&app, &format!("vel_{n}"), "phone-1", 60 + 2 * n).await;
        assert!(!risk_signal_names(&result).contains(&"device_velocity".to_string()), "session {n}: {result}");
    }
    // Another device is not counted with it.
    let other = captured_from_device(&app, "vel_other", "phone-2", 70).await;
    assert!(!risk_signal_names(&other).contains(&"device_velocity".to_string()), "{other}");
    // The fourth from the same device has three others of the last day.
    let fourth = captured_from_device(&app, "vel_3", "phone-1", 72).await;
    let names = risk_signal_names(&fourth);
    assert!(names.contains(&"device_velocity".to_string()), "{names:?}: {fourth}");
    assert!(!names.contains(&"ip_velocity".to_string()), "four others from the address: {names:?}");
    // Every session came from the test client's address: the sixth has five others from it.
    let sixth = captured_from_device(&app, "vel_ip", "phone-3", 74).await;
    let names = risk_signal_names(&sixth);
    assert!(names.contains(&"ip_velocity".to_string()), "{names:?}: {sixth}");
    assert!(!names.contains(&"device_velocity".to_string()), "{names:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn replay_of_a_session_workload_equals_the_live_views() {
    let app = spawn_app().await;
    // Capture by token to a sandbox outcome.
    let s = create(
        &app,
        json!({"external_ref": "rp_1", "first_name": "Rita", "last_name": "Levi", "date_of_birth": "1970-04-22" }),
    )
    .await;
    let id1 = s["id"].as_str().unwrap().to_string();
    let t = token_of(&s["capture_url"]);
    app.send_raw("GET", &format!("/verify/{t}"), None, None).await;
    app.send_json_raw("POST", &format!("/verify/{t}/consent"), &json!({"accepted": true})).await;
    app.send_json_raw("POST", &format!("/verify/{t}/document-type"), &json!({"document_type": "passport"})).await;
    app.upload(
        &format!("/verify/{t}/documents"),
        None,
        &[("document_type", "id_front")],
        Some(("image/png", &png(40))),
    )
    .await;
    app.upload(&format!("/verify/{t}/selfie"), None, &[], Some(("image/png", &png(41)))).await;
    app.send_json_raw("POST", &format!("/verify/{t}/user-data"), &json!({"city": "Turin"})).await;
    app.send_json_raw(
        "POST",
        &format!("/verify/{t}/fraud-signals"),
        &json!({"signals": {"completion_ms": 90000}, "device_fingerprint": "d"}),
    )
    .await;
    assert_eq!(app.send_raw("POST", &format!("/verify/{t}/complete"), None, None).await.status, 200);
    assert_eq!(
        app.send_json_raw("POST", &format!("/verify/{t}/sandbox-outcome"), &json!({"outcome": "approve"})).await.status,
        200
    );
    // Tags, patch, reprocess.
    app.post(&format!("/sessions/{id1}/tags/add"), json!({"tag": "replayed"})).await;
    app.patch(&format!("/sessions/{id1}"), json!({"metadata": {"k": "v"}})).await;
    assert_eq!(app.post(&format!("/sessions/{id1}/reprocess"), json!({})).await.status, 202);
    wait_for(&app, &app.sandbox_key.clone(), &id1, &["completed", "under_review", "failed"]).await;
    // Live processing with a duplicate.
    let l1 = live_submitted(&app, "rp_live_a", "Sam", "Cole", "1988-08-08", 42, None).await;
    wait_for(&app, &app.live_key.clone(), &l1, &["completed", "under_review"]).await;
    let l2 = live_submitted(&app, "rp_live_b", "Sam", "Cole", "1988-08-08", 43, None).await;
    wait_for(&app, &app.live_key.clone(), &l2, &["completed", "under_review"]).await;
    // Expire, resume, links, invites, simulate, redaction.
    let s2 = create(&app, json!({"send_email": true})).await["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{s2}/resend-invite"), json!({})).await;
    app.post(&format!("/sessions/{s2}/expire"), json!({})).await;
    app.post(&format!("/sessions/{s2}/resume"), json!({})).await;
    app.post(&format!("/sessions/{s2}/generate-one-time-link"), json!({})).await;
    let link = app.post(&format!("/sessions/{s2}/generate-one-time-link"), json!({"expires_in_minutes": 30})).await;
    app.send_raw("GET", link.body["capture_url"].as_str().unwrap(), None, None).await;
    let consumed = app
        .send_json_raw(
            "POST",
            &format!("{}/consent", link.body["capture_url"].as_str().unwrap()),
            &json!({"accepted": true}),
        )
        .await;
    assert_eq!(consumed.status, 200, "{}", consumed.body);
    let s3 = create(&app, json!({"first_name": "Gone"})).await["id"].as_str().unwrap().to_string();
    api_upload(&app, &app.sandbox_key, &s3, "id_front", &png(44)).await;
    app.post(&format!("/sessions/{s3}/simulate"), json!({"action": "require-review"})).await;
    assert_eq!(app.delete(&format!("/sessions/{s3}/data")).await.status, 200);
    let live_key = app.live_key.clone();
    let merge = json!({"primary_identity_id": "rp_live_a", "secondary_identity_id": "rp_live_b"});
    let merged = post_with(&app, &live_key, "/identities/merge", merge).await;
    assert_eq!(merged.status, 200, "{}", merged.body);
    let s4 = create(&app, json!({})).await["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{s4}/simulate"), json!({"action": "expire"})).await;

    let (master, created) =
        idv::crypto::MasterKey::load_or_create(&app.data_dir.path().join("master.key")).expect("master key");
    assert!(!created);
    let ring = idv::crypto::Keyring::new(&master);
    let scratch = app.data_dir.path().join("scratch.db");
    let replayed = idv::store::replay::check(&app.db_path(), &scratch, &ring).expect("replay check passes");
    assert!(replayed > 40, "{replayed}");
}

#[actix_web::test]
async fn openapi_documents_sessions_results_and_capture_with_typed_schemas() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json").await.body;
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")].clone(),
            None => schema.clone(),
        }
    };
    for (path, method, code) in [
        ("/api/v1/sessions", "post", "201"),
        ("/api/v1/sessions", "get", "200"),
        ("/api/v1/sessions/{session_id}", "get", "200"),
        ("/api/v1/sessions/{session_id}", "patch", "200"),
        ("/api/v1/sessions/{session_id}/result", "get", "200"),
        ("/api/v1/results", "get", "200"),
        ("/api/v1/results/{session_id}", "get", "200"),
        ("/api/v1/sessions/{session_id}/export", "get", "200"),
        ("/api/v1/sessions/{session_id}/submit", "post", "202"),
        ("/verify/{token}/session", "get", "200"),
        ("/verify/{token}/complete", "post", "200"),
    ] {
        let op = &doc["paths"][path][method];
        let schema = resolve(&op["responses"][code]["content"]["application/json"]["schema"]);
        assert!(
            schema["properties"].as_object().is_some_and(|p| !p.is_empty()),
            "{method} {path} answers {code} with a typed schema: {schema}"
        );
    }
    let create =
        resolve(&doc["paths"]["/api/v1/sessions"]["post"]["requestBody"]["content"]["application/json"]["schema"]);
    assert!(create["properties"]["first_name"].is_object(), "prefill fields are typed: {create}");
    let status = resolve(&doc["components"]["schemas"]["SessionStatus"]);
    assert!(status["enum"].as_array().is_some_and(|e| e.len() == 9), "the statuses of spec §3.1: {status}");
}

#[actix_web::test]
async fn prefill_uses_the_identity_limits_and_names_the_field() {
    let app = spawn_app().await;
    let r = app.post("/sessions", json!({"first_name": "a".repeat(101)})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "first_name"), "{}", r.body);
    let r = app.post("/sessions", json!({"nationality": "XX"})).await;
    assert!(has_field_error(&r.body, "nationality"), "{}", r.body);
    let r = app.post("/sessions", json!({"first_name": "a".repeat(100), "redirect_url": "ftp://x"})).await;
    assert!(has_field_error(&r.body, "redirect_url"), "{}", r.body);
    let r = app.post("/sessions", json!({"first_name": "a".repeat(100)})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_error(&app.get("/sessions/not-a-session-id").await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// The typed contract: what the schema allows is accepted; state refusals are 409, missing references 404
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn an_unknown_workflow_is_a_404() {
    let app = spawn_app().await;
    let r = app.post("/sessions", json!({"workflow_id": "wfl_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C"})).await;
    assert_eq!(assert_error(&r, 404), "not_found", "{}", r.body);
}

#[actix_web::test]
async fn link_minutes_are_whole_numbers_whatever_their_json_spelling() {
    let app = spawn_app().await;
    let id = create(&app, json!({})).await["id"].as_str().unwrap().to_string();
    let r = app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({"expires_in_minutes": 60.0})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let minutes = (ts(&r.body["expires_at"]) - OffsetDateTime::now_utc()).whole_minutes();
    assert!((58..=60).contains(&minutes), "{}", r.body);
    let r = app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({"expires_in_minutes": 60.5})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "expires_in_minutes"), "{}", r.body);
}

#[actix_web::test]
async fn upload_forms_refuse_unknown_fields_and_name_them() {
    let app = spawn_app().await;
    let s = create(&app, json!({})).await;
    let id = s["id"].as_str().unwrap().to_string();
    let r = app
        .upload(
            &format!("/sessions/{id}/documents"),
            Some(&app.sandbox_key),
            &[("document_type", "id_front"), ("side", "front")],
            Some(("image/png", &png(61))),
        )
        .await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "side"), "{}", r.body);

    let t = token_of(&s["capture_url"]);
    assert_eq!(
        app.send_json_raw("POST", &format!("/verify/{t}/consent"), &json!({"accepted": true})).await.status,
        200
    );
    let r = app.upload(&format!("/verify/{t}/selfie"), None, &[("note", "x")], Some(("image/png", &png(62)))).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "note"), "{}", r.body);
    let r = app.upload(&format!("/verify/{t}/selfie"), None, &[], Some(("image/png", &png(62)))).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[actix_web::test]
async fn the_document_is_explicit_about_what_each_field_admits() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json").await.body;
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["ConsentBody"]["properties"]["accepted"]["enum"], json!([true]), "{}", schemas["ConsentBody"]);
    for form in ["UploadForm", "CaptureDocumentForm", "SelfieForm"] {
        assert_eq!(schemas[form]["additionalProperties"], json!(false), "{form}: {}", schemas[form]);
    }
    let bulk = &doc["paths"]["/api/v1/sessions/bulk-redact"]["post"]["requestBody"]["content"]["application/json"];
    assert_eq!(bulk["schema"]["$ref"], "#/components/schemas/BulkRedactBody");
    assert!(schemas["BulkRedactBody"]["properties"]["session_ids"].is_object(), "{}", schemas["BulkRedactBody"]);
    let sig = doc["paths"]["/api/v1/sessions/{session_id}/documents/{doc_type}"]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "sig"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(sig["schema"]["minLength"], 1, "{sig}");
    for (path, method) in [
        ("/api/v1/sessions/{session_id}/reprocess", "post"),
        ("/api/v1/sessions/{session_id}/expire", "post"),
        ("/api/v1/sessions/{session_id}/resend-invite", "post"),
        ("/api/v1/sessions/{session_id}/submit", "post"),
        ("/verify/{token}/complete", "post"),
    ] {
        assert!(doc["paths"][path][method]["responses"]["409"].is_object(), "{method} {path} documents its 409");
    }
}

#[actix_web::test]
async fn a_database_from_before_session_log_positions_gets_them_when_it_is_opened() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    decided_with_selfie(&app, "pos_a", "Ada", "1985-12-10", &png(40)).await;
    create_with(&app, &key, json!({"external_ref": "pos_b"})).await;
    let positions_sql = "SELECT group_concat(s.last_event_seq || '=' || (SELECT MAX(e.seq) FROM events e
        WHERE e.stream_id = s.id), ',') FROM sessions s";
    let read = |sql: &str| -> String {
        let conn = rusqlite::Connection::open(app.db_path()).unwrap();
        conn.query_row(sql, [], |r| r.get::<_, Option<String>>(0)).unwrap().unwrap_or_default()
    };
    let positions = read(positions_sql);
    assert!(positions.split(',').all(|p| p.split_once('=').is_some_and(|(a, b)| a == b && a != "0")), "{positions}");

    // The database as schema version 9 left it: no log positions on sessions.
    rusqlite::Connection::open(app.db_path())
        .unwrap()
        .execute_batch(
            "DROP INDEX sessions_selfies_since; ALTER TABLE sessions DROP COLUMN last_event_seq;
             PRAGMA user_version = 9;",
        )
        .unwrap();
    let config = idv::config::Config::new(app.data_dir.path().to_path_buf());
    drop(idv::startup::open_core(&config).expect("the older database opens"));
    assert_eq!(read(positions_sql), positions, "filled from the log at open");
    let index = read("SELECT name FROM sqlite_master WHERE name = 'sessions_selfies_since'");
    assert_eq!(index, "sessions_selfies_since");
}
