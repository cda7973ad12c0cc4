//! conventions endpoints and rules, end to end over HTTP.

use crate::helpers::*;
use serde_json::{json, Value};

const UNKNOWN_ID: &str = "idn_01ARZ3NDEKTSV4RRFFQ69G5FAV";

// ---------------------------------------------------------------------------------------------------------------
// Authentication and scopes (§2.1)
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_missing_api_key_is_401_in_the_error_shape() {
    let app = spawn_app().await;
    for (method, path) in [("GET", "/identities"), ("POST", "/identities"), ("GET", "/rate-limits")] {
        let r = app.send(method, path, None, &[], Some(&json!({"external_ref": "x"}))).await;
        assert_eq!(assert_error(&r, 401), "unauthorized", "{method} {path}");
    }
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 0, "nothing was created");
}

#[actix_web::test]
async fn an_invalid_api_key_is_401() {
    let app = spawn_app().await;
    let mut tampered = app.sandbox_key.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    for key in ["vk_sandbox_notarealkey", "garbage", "", tampered.as_str()] {
        let r = app.send("GET", "/identities", Some(key), &[], None).await;
        assert_eq!(assert_error(&r, 401), "unauthorized", "key {key:?}");
        assert!(!r.body["detail"].as_str().unwrap().contains(&app.sandbox_key), "the secret is never echoed");
    }
}

#[actix_web::test]
async fn a_key_without_the_scope_is_403_insufficient_scope() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "scoped_1"})).await;
    let reader = app.key_with_scopes(&["identities:read"]).await;

    let ok = app.send("GET", "/identities", Some(&reader), &[], None).await;
    assert_eq!(ok.status, 200, "reads are allowed: {}", ok.body);
    assert_eq!(ok.body["pagination"]["total"], 1);

    let r = app.send("POST", "/identities", Some(&reader), &[], Some(&json!({"external_ref": "scoped_2"}))).await;
    assert_eq!(assert_error(&r, 403), "insufficient_scope");
    assert!(r.body["detail"].as_str().unwrap().contains("identities:write"), "names the scope: {}", r.body);
    for (method, path) in [
        ("PATCH", format!("/identities/{id}")),
        ("DELETE", format!("/identities/{id}/data")),
        ("POST", format!("/identities/{id}/archive")),
    ] {
        let r = app.send(method, &path, Some(&reader), &[], Some(&json!({"city": "X"}))).await;
        assert_eq!(assert_error(&r, 403), "insufficient_scope", "{method} {path}");
    }
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 1);
    assert!(app.get(&format!("/identities/{id}")).await.body["archived_at"].is_null());

    // Redaction accepts the narrow redact:write scope on its own.
    let redactor = app.key_with_scopes(&["redact:write"]).await;
    let r = app.send("DELETE", &format!("/identities/{id}/data"), Some(&redactor), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

// ---------------------------------------------------------------------------------------------------------------
// Environment isolation (§2.1, §2.8)
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_sandbox_identity_is_invisible_to_the_live_key() {
    let app = spawn_app().await;
    let id = app
        .create_identity(
            json!({"external_ref": "iso_1", "first_name": "Sandy", "last_name": "Box", "date_of_birth": "1990-01-01"}),
        )
        .await;
    let other = app.create_identity(json!({"external_ref": "iso_2"})).await;
    let archived = app.create_identity(json!({"external_ref": "iso_3"})).await;
    assert_eq!(app.post(&format!("/identities/{archived}/archive"), json!({})).await.status, 200);
    let rel = app.post(&format!("/identities/{id}/relationships"), json!({"related_identity_id": other})).await;
    assert_eq!(rel.status, 201, "{}", rel.body);
    let rel_id = rel.body["id"].as_str().unwrap().to_string();

    let live = app.live_key.clone();
    let live_id = {
        let r = app.send("POST", "/identities", Some(&live), &[], Some(&json!({"external_ref": "iso_live"}))).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["is_sandbox"], false);
        r.body["id"].as_str().unwrap().to_string()
    };
    let empty = json!({});
    let cases: Vec<(&str, String, Value)> = vec![
        ("GET", format!("/identities/{id}"), empty.clone()),
        ("GET", "/identities/iso_1".into(), empty.clone()),
        ("PATCH", format!("/identities/{id}"), json!({"city": "Live"})),
        ("DELETE", format!("/identities/{id}/data"), empty.clone()),
        ("GET", format!("/identities/{id}/export"), empty.clone()),
        ("GET", format!("/identities/{id}/audit-log"), empty.clone()),
        ("POST", format!("/identities/{id}/tags/add"), json!({"tag": "x"})),
        ("POST", format!("/identities/{id}/tags/remove"), json!({"tag": "x"})),
        ("POST", format!("/identities/{id}/tags"), json!({"tags": ["x"]})),
        ("POST", format!("/identities/{id}/archive"), empty.clone()),
        ("POST", format!("/identities/{archived}/restore"), empty.clone()),
        ("POST", format!("/identities/{id}/monitoring/pause"), empty.clone()),
        ("POST", format!("/identities/{id}/monitoring/resume"), empty.clone()),
        ("GET", format!("/identities/{id}/custom-fields"), empty.clone()),
        ("PATCH", format!("/identities/{id}/custom-fields"), json!({"custom_fields": {"a": 1}})),
        ("GET", format!("/identities/{id}/relationships"), empty.clone()),
        ("POST", format!("/identities/{id}/relationships"), json!({"related_identity_id": live_id})),
        ("DELETE", format!("/identities/{id}/relationships/{rel_id}"), empty.clone()),
        ("GET", format!("/identities/{id}/graph"), empty.clone()),
        ("POST", "/identities/merge".into(), json!({"primary_identity_id": live_id, "secondary_identity_id": id})),
        (
            "POST",
            "/identities/merge/preview".into(),
            json!({"primary_identity_id": live_id, "secondary_identity_id": id}),
        ),
    ];
    for (method, path, body) in &cases {
        let r = app.send(method, path, Some(&live), &[], Some(body)).await;
        assert_eq!(assert_error(&r, 404), "not_found", "{method} {path}");
        assert!(!String::from_utf8_lossy(&r.raw).contains("Sandy"), "{method} {path} leaks PII");
    }

    // A sandbox id in a live request body is treated exactly like an id that does not exist anywhere.
    let live_rel = format!("/identities/{live_id}/relationships");
    let cross = app.send("POST", &live_rel, Some(&live), &[], Some(&json!({"related_identity_id": id}))).await;
    let unknown =
        app.send("POST", &live_rel, Some(&live), &[], Some(&json!({"related_identity_id": UNKNOWN_ID}))).await;
    assert!(cross.status == 404 || cross.status == 422, "{}", cross.body);
    assert_eq!((cross.status, &cross.body["error"]), (unknown.status, &unknown.body["error"]), "indistinguishable");
    assert_eq!(app.live_get(&live_rel).await.body["pagination"]["total"], 0);

    let list = app.live_get("/identities?include_archived=true").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["pagination"]["total"], 1, "{}", list.body);
    assert_eq!(list.body["data"][0]["id"], live_id.as_str());
    let search =
        app.send("POST", "/identities/search", Some(&live), &[], Some(&json!({"external_ref": "iso_1"}))).await;
    assert_eq!(search.body["pagination"]["total"], 0, "{}", search.body);
    let by_pii = json!({"first_name": "Sandy", "last_name": "Box", "date_of_birth": "1990-01-01"});
    let search = app.send("POST", "/identities/search", Some(&live), &[], Some(&by_pii)).await;
    assert_eq!(search.body["pagination"]["total"], 0, "blind indexes are per environment: {}", search.body);
    let adv = app.send("POST", "/identities/search/advanced", Some(&live), &[], Some(&json!({}))).await;
    assert_eq!(adv.body["pagination"]["total"], 1, "{}", adv.body);

    // Nothing changed in the sandbox, and the same external_ref is free in live.
    let sandbox = app.get(&format!("/identities/{id}")).await;
    assert_eq!(sandbox.body["status"], "pending");
    assert_eq!(sandbox.body["tags"], json!([]));
    assert_eq!(sandbox.body["monitoring_enabled"], true);
    assert!(sandbox.body["archived_at"].is_null());
    assert_eq!(sandbox.body["extracted_data"]["first_name"], "Sandy");
    assert!(app.get(&format!("/identities/{archived}")).await.body["archived_at"].is_string());
    assert_eq!(app.get(&format!("/identities/{id}/relationships")).await.body["pagination"]["total"], 1);
    let twin = app.send("POST", "/identities", Some(&live), &[], Some(&json!({"external_ref": "iso_1"}))).await;
    assert_eq!(twin.status, 201, "external_ref is unique per environment only: {}", twin.body);
    assert_eq!(app.get("/identities/iso_1").await.body["id"], id.as_str());
    // And the other way round: the live identity is 404 for the sandbox key.
    assert_error(&app.get(&format!("/identities/{live_id}")).await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// Request parsing (§2.5)
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn malformed_json_is_400_bad_request() {
    let app = spawn_app().await;
    for body in [&b"{\"external_ref\": "[..], b"not json", b"{\"a\":1}}"] {
        let r = send_raw(&app, "POST", "/identities", &[("Content-Type", "application/json")], body.to_vec()).await;
        assert_eq!(assert_error(&r, 400), "bad_request", "{}", String::from_utf8_lossy(body));
    }
    let r = send_raw(&app, "POST", "/identities", &[("Content-Type", "application/json")], b"[1, 2]".to_vec()).await;
    assert_eq!(assert_error(&r, 400), "bad_request");
    let r = send_raw(&app, "PATCH", &format!("/identities/{UNKNOWN_ID}"), &[], b"{oops".to_vec()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 0);
}

#[actix_web::test]
async fn a_wrong_json_type_is_422_with_field_errors() {
    let app = spawn_app().await;
    let r = app.post("/identities", json!({"external_ref": 5})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    let errors = r.body["errors"].as_array().expect("errors array");
    assert!(errors.iter().any(|e| e["field"] == "external_ref" && e["message"].is_string()), "{}", r.body);

    let id = app.create_identity(json!({"external_ref": "typed"})).await;
    let r = app.post(&format!("/identities/{id}/tags"), json!({"tags": "vip"})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert_eq!(r.body["errors"][0]["field"], "tags", "{}", r.body);
    let r = app.post("/identities/search", json!({"limit": "ten"})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert_eq!(r.body["errors"][0]["field"], "limit", "{}", r.body);
}

#[actix_web::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(|c| c.json_body_limit = 256).await;
    let small = app.post("/identities", json!({"external_ref": "fits"})).await;
    assert_eq!(small.status, 201, "{}", small.body);
    let big = json!({"external_ref": "big", "first_name": "x".repeat(4000)});
    let r = app.post("/identities", big.clone()).await;
    assert_eq!(assert_error(&r, 413), "payload_too_large");
    // Through the idempotency path too.
    let r = app.send("POST", "/identities", Some(&app.sandbox_key), &[("Idempotency-Key", "big-1")], Some(&big)).await;
    assert_error(&r, 413);
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 1);
}

#[actix_web::test]
async fn an_unknown_route_is_404_json() {
    let app = spawn_app().await;
    for path in ["/api/v1/no-such-thing", "/api/v1/identities/a/b/c/d", "/nope", "/api/v2/identities"] {
        let r = app.get(path).await;
        assert_eq!(assert_error(&r, 404), "not_found", "{path}");
        assert!(r.header("content-type").unwrap_or_default().contains("application/json"), "{path}");
    }
}

#[actix_web::test]
async fn a_wrong_method_is_405_json() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "m405"})).await;
    for (method, path) in [
        ("PUT", "/api/v1/identities".to_string()),
        ("DELETE", "/api/v1/identities".to_string()),
        ("DELETE", format!("/api/v1/identities/{id}")),
        ("GET", "/api/v1/identities/search".to_string()),
    ] {
        let r = app.send(method, &path, Some(&app.sandbox_key), &[], Some(&json!({}))).await;
        assert_eq!(assert_error(&r, 405), "method_not_allowed", "{method} {path}");
        assert!(r.header("content-type").unwrap_or_default().contains("application/json"));
    }
    assert_eq!(app.get(&format!("/identities/{id}")).await.status, 200, "DELETE did not delete");
}

// ---------------------------------------------------------------------------------------------------------------
// Idempotency (§2.6)
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_same_idempotency_key_and_body_replays_the_response() {
    let app = spawn_app().await;
    let body = json!({"external_ref": "idem_1", "first_name": "Ida"});
    let key = app.sandbox_key.clone();
    let h = [("Idempotency-Key", "signup_user_1")];
    let first = app.send("POST", "/identities", Some(&key), &h, Some(&body)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.header("idempotent-replayed").is_none());
    let second = app.send("POST", "/identities", Some(&key), &h, Some(&body)).await;
    assert_eq!(second.status, 201, "replayed, not a 409: {}", second.body);
    assert_eq!(second.raw, first.raw, "identical body");
    assert_eq!(second.header("idempotent-replayed").as_deref(), Some("true"));
    // Key order and whitespace do not make a different request.
    let reordered = send_raw(
        &app,
        "POST",
        "/identities",
        &[("Idempotency-Key", "signup_user_1"), ("Content-Type", "application/json")],
        br#"{ "first_name": "Ida",   "external_ref": "idem_1" }"#.to_vec(),
    )
    .await;
    assert_eq!(reordered.status, 201);
    assert_eq!(reordered.raw, first.raw);
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 1);

    // Without the header the duplicate is a real conflict; error responses are replayed too.
    let h2 = [("Idempotency-Key", "dup-attempt")];
    let conflict = app.send("POST", "/identities", Some(&key), &h2, Some(&body)).await;
    assert_eq!(assert_error(&conflict, 409), "conflict");
    let conflict_again = app.send("POST", "/identities", Some(&key), &h2, Some(&body)).await;
    assert_eq!(conflict_again.status, 409);
    assert_eq!(conflict_again.raw, conflict.raw);

    // The cache is scoped per API key: another key with the same Idempotency-Key runs its own request.
    let other = app.key_with_scopes(&["identities:read", "identities:write"]).await;
    let r = app.send("POST", "/identities", Some(&other), &h, Some(&body)).await;
    assert_eq!(assert_error(&r, 409), "conflict", "not a replay of another key's response");
}

#[actix_web::test]
async fn the_same_idempotency_key_with_a_different_body_is_422() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let h = [("Idempotency-Key", "reverify_user_2_2026-01-01")];
    let first = app.send("POST", "/identities", Some(&key), &h, Some(&json!({"external_ref": "idem_2"}))).await;
    assert_eq!(first.status, 201);
    let r = app.send("POST", "/identities", Some(&key), &h, Some(&json!({"external_ref": "idem_3"}))).await;
    assert_eq!(assert_error(&r, 422), "idempotency_mismatch");
    let id = first.body["id"].as_str().unwrap();
    let other_path =
        app.send("PATCH", &format!("/identities/{id}"), Some(&key), &h, Some(&json!({"external_ref": "idem_2"}))).await;
    assert_eq!(assert_error(&other_path, 422), "idempotency_mismatch", "the path is part of the request");
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 1);
    assert_error(&app.get("/identities/idem_3").await, 404);
    let long = "k".repeat(256);
    let r = app
        .send(
            "POST",
            "/identities",
            Some(&key),
            &[("Idempotency-Key", &long)],
            Some(&json!({"external_ref": "idem_4"})),
        )
        .await;
    assert_error(&r, 422);
}

#[actix_web::test]
async fn concurrent_requests_with_one_idempotency_key_create_one_identity() {
    let app = spawn_app().await;
    let body = json!({"external_ref": "race_1", "email": "race@example.com"});
    let key = app.sandbox_key.clone();
    let h = [("Idempotency-Key", "race-key")];
    let requests = (0..20).map(|_| app.send("POST", "/identities", Some(&key), &h, Some(&body)));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = std::collections::BTreeSet::new();
    for r in &responses {
        assert_eq!(r.status, 201, "every caller sees the one creation: {}", r.body);
        ids.insert(r.body["id"].as_str().expect("id").to_string());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(responses.iter().all(|r| r.raw == responses[0].raw));
    let list = app.get("/identities").await;
    assert_eq!(list.body["pagination"]["total"], 1, "{}", list.body);
}

// ---------------------------------------------------------------------------------------------------------------
// Key inflection (§2.7)
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn responses_follow_key_inflection_but_user_maps_keep_their_keys() {
    let app = spawn_app().await;
    let id = app
        .create_identity(json!({"external_ref": "infl_1", "first_name": "Ina", "date_of_birth": "1990-01-01"}))
        .await;
    let cf = app
        .patch(&format!("/identities/{id}/custom-fields"), json!({"custom_fields": {"my_key": 1, "otherKey": 2}}))
        .await;
    assert_eq!(cf.status, 200, "{}", cf.body);
    let friend = app.create_identity(json!({"external_ref": "infl_2"})).await;
    let rel = app
        .post(
            &format!("/identities/{id}/relationships"),
            json!({"related_identity_id": friend, "metadata": {"source_system": "crm"}}),
        )
        .await;
    assert_eq!(rel.status, 201, "{}", rel.body);
    let key = app.sandbox_key.clone();

    let camel = app.send("GET", &format!("/identities/{id}"), Some(&key), &[("Key-Inflection", "camel")], None).await;
    assert_eq!(camel.status, 200);
    let b = &camel.body;
    assert_eq!(b["externalRef"], "infl_1", "{b}");
    assert_eq!(b["isSandbox"], true);
    assert_eq!(b["extractedData"]["firstName"], "Ina");
    assert_eq!(b["extractedData"]["dateOfBirth"], "1990-01-01");
    assert!(b.get("external_ref").is_none() && b.get("extracted_data").is_none(), "{b}");
    assert_eq!(b["customFields"], json!({"my_key": 1, "otherKey": 2}), "user keys untouched");
    assert_eq!(b["status"], "pending", "values are never inflected");

    let kebab = app.send("GET", &format!("/identities/{id}"), Some(&key), &[("Key-Inflection", "kebab")], None).await;
    let b = &kebab.body;
    assert_eq!(b["external-ref"], "infl_1", "{b}");
    assert_eq!(b["extracted-data"]["first-name"], "Ina");
    assert_eq!(b["custom-fields"], json!({"my_key": 1, "otherKey": 2}));
    assert_eq!(b["monitoring-enabled"], true);

    let list = app.send("GET", "/identities", Some(&key), &[("Key-Inflection", "camel")], None).await;
    assert!(list.body["data"][0].get("externalRef").is_some(), "nested in arrays: {}", list.body);
    let rels = app
        .send("GET", &format!("/identities/{id}/relationships"), Some(&key), &[("Key-Inflection", "camel")], None)
        .await;
    let first = &rels.body["data"][0];
    assert_eq!(first["relatedIdentityId"], friend.as_str(), "{}", rels.body);
    assert_eq!(first["metadata"], json!({"source_system": "crm"}), "metadata keys untouched");

    let snake = app.send("GET", &format!("/identities/{id}"), Some(&key), &[("Key-Inflection", "snake")], None).await;
    assert_eq!(snake.body["external_ref"], "infl_1");

    // The key's default inflection applies when the header is absent; the header wins over it.
    let r = app
        .post("/api-keys", json!({"label": "camel", "scopes": ["identities:read"], "default_key_inflection": "camel"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let camel_key = r.body["secret"].as_str().unwrap().to_string();
    let d = app.send("GET", &format!("/identities/{id}"), Some(&camel_key), &[], None).await;
    assert_eq!(d.body["externalRef"], "infl_1", "{}", d.body);
    let d = app.send("GET", &format!("/identities/{id}"), Some(&camel_key), &[("Key-Inflection", "snake")], None).await;
    assert_eq!(d.body["external_ref"], "infl_1", "{}", d.body);
    let e = app.send("GET", &format!("/identities/{UNKNOWN_ID}"), Some(&camel_key), &[], None).await;
    assert_eq!(assert_error(&e, 404), "not_found", "error bodies keep the documented keys");
}

#[actix_web::test]
async fn request_bodies_are_accepted_in_camel_kebab_and_json_api_form() {
    let app = spawn_app().await;
    let camel =
        app.post("/identities", json!({"externalRef": "c_1", "firstName": "Cam", "dateOfBirth": "1991-01-01"})).await;
    assert_eq!(camel.status, 201, "{}", camel.body);
    let kebab = app.post("/identities", json!({"external-ref": "k_1", "last-name": "Keb", "zip-code": "12345"})).await;
    assert_eq!(kebab.status, 201, "{}", kebab.body);
    let envelope = app
        .post(
            "/identities",
            json!({"data": {"type": "identity", "attributes": {"externalRef": "e_1", "first_name": "Env"}}}),
        )
        .await;
    assert_eq!(envelope.status, 201, "{}", envelope.body);

    let c = app.get("/identities/c_1").await;
    assert_eq!(c.body["extracted_data"]["first_name"], "Cam");
    assert_eq!(c.body["extracted_data"]["date_of_birth"], "1991-01-01");
    let k = app.get("/identities/k_1").await;
    assert_eq!(k.body["extracted_data"]["last_name"], "Keb");
    assert_eq!(k.body["extracted_data"]["zip_code"], "12345");
    assert_eq!(app.get("/identities/e_1").await.body["extracted_data"]["first_name"], "Env");

    // Inflected keys reach every parser, but custom field names are the caller's own.
    let id = camel.body["id"].as_str().unwrap();
    let r = app
        .patch(&format!("/identities/{id}/custom-fields"), json!({"customFields": {"myKey": "v", "my-other": 1}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["custom_fields"], json!({"myKey": "v", "my-other": 1}));
    let s = app
        .post("/identities/search", json!({"firstName": "cam", "lastName": null, "dateOfBirth": "1991-01-01"}))
        .await;
    assert_eq!(s.status, 422, "partial set still detected after inflection: {}", s.body);
    let s = app.post("/identities/search", json!({"zip-code": "12345"})).await;
    assert_eq!(s.body["pagination"]["total"], 1, "{}", s.body);
}

#[actix_web::test]
async fn an_invalid_key_inflection_is_400() {
    let app = spawn_app().await;
    let r = app.send("GET", "/identities", Some(&app.sandbox_key), &[("Key-Inflection", "pascal")], None).await;
    assert_eq!(assert_error(&r, 400), "bad_request");
    let r = app
        .send(
            "POST",
            "/identities",
            Some(&app.sandbox_key),
            &[("Key-Inflection", "SCREAMING")],
            Some(&json!({"external_ref": "x"})),
        )
        .await;
    assert_error(&r, 400);
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 0, "rejected before running");
}

// ---------------------------------------------------------------------------------------------------------------
// Versioning (§2.4)
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn verifa_version_is_validated_and_echoed() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let unknown = app.send("GET", "/identities", Some(&key), &[("Verifa-Version", "1999-01-01")], None).await;
    assert_eq!(assert_error(&unknown, 400), "bad_request");
    assert!(unknown.body["detail"].as_str().unwrap().contains("2026-01-01"), "lists supported versions");
    let garbage = app.send("GET", "/identities", Some(&key), &[("Verifa-Version", "latest")], None).await;
    assert_error(&garbage, 400);
    let r = app
        .send(
            "POST",
            "/identities",
            Some(&key),
            &[("Verifa-Version", "2000-01-01")],
            Some(&json!({"external_ref": "v"})),
        )
        .await;
    assert_error(&r, 400);
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 0);

    let known = app.send("GET", "/identities", Some(&key), &[("Verifa-Version", "2026-02-01")], None).await;
    assert_eq!(known.status, 200);
    assert_eq!(known.header("verifa-version").as_deref(), Some("2026-02-01"));
    let default = app.get("/identities").await;
    assert_eq!(default.header("verifa-version").as_deref(), Some("2026-01-01"), "the key's pinned version");
    let err = app.get(&format!("/identities/{UNKNOWN_ID}")).await;
    assert_eq!(err.header("verifa-version").as_deref(), Some("2026-01-01"), "on errors too");

    // A key pinned to another version gets that one by default.
    let r = app
        .post("/api-keys", json!({"label": "pinned", "scopes": ["identities:read"], "api_version": "2026-02-01"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let pinned = r.body["secret"].as_str().unwrap().to_string();
    let r = app.send("GET", "/identities", Some(&pinned), &[], None).await;
    assert_eq!(r.header("verifa-version").as_deref(), Some("2026-02-01"));
    let r = app.send("GET", "/identities", Some(&pinned), &[("Verifa-Version", "2026-01-01")], None).await;
    assert_eq!(r.header("verifa-version").as_deref(), Some("2026-01-01"), "the header wins");
}

// ---------------------------------------------------------------------------------------------------------------
// Rate limiting (§2.3)
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn the_fourth_request_in_a_minute_is_429_with_retry_after() {
    let app = spawn_app_with(|c| c.rate_limit_rpm = 3).await;
    // The window is a fixed minute; retry if a run straddles a minute boundary.
    for attempt in 0..3 {
        let mut responses = Vec::new();
        for _ in 0..4 {
            responses.push(app.get("/identities").await);
        }
        let resets: Vec<String> =
            responses.iter().map(|r| r.header("x-ratelimit-reset").expect("reset header")).collect();
        if resets.iter().any(|r| *r != resets[0]) && attempt < 2 {
            // Crossed into a new window; wait for the next one to be fresh and try again.
            let reset: i64 = resets.last().unwrap().parse().unwrap();
            let now = now_unix();
            actix_web::rt::time::sleep(std::time::Duration::from_secs((reset - now).max(0) as u64 + 1)).await;
            continue;
        }
        for (i, r) in responses[..3].iter().enumerate() {
            assert_eq!(r.status, 200, "request {i}: {}", r.body);
            assert_eq!(r.header("x-ratelimit-limit").as_deref(), Some("3"));
            assert_eq!(r.header("x-ratelimit-remaining"), Some((2 - i).to_string()), "request {i}");
        }
        let limited = &responses[3];
        assert_eq!(assert_error(limited, 429), "rate_limited");
        let retry: u64 = limited.header("retry-after").expect("Retry-After").parse().expect("seconds");
        assert!((1..=60).contains(&retry), "{retry}");
        assert!(limited.body["detail"].as_str().unwrap().contains(&retry.to_string()), "{}", limited.body);
        assert_eq!(limited.header("x-ratelimit-remaining").as_deref(), Some("0"));
        assert_eq!(limited.header("x-ratelimit-limit").as_deref(), Some("3"));
        assert!(limited.header("x-request-id").is_some());
        // A different key has its own bucket.
        let live = app.live_get("/identities").await;
        assert_eq!(live.status, 200, "{}", live.body);
        return;
    }
    panic!("could not observe a rate-limit window");
}

#[actix_web::test]
async fn ordinary_responses_carry_rate_limit_headers() {
    let app = spawn_app().await;
    for r in [
        app.get("/identities").await,
        app.post("/identities", json!({"external_ref": "rl"})).await,
        app.get("/identities/nope").await,
    ] {
        let limit: u64 = r.header("x-ratelimit-limit").expect("limit").parse().unwrap();
        let remaining: u64 = r.header("x-ratelimit-remaining").expect("remaining").parse().unwrap();
        let reset: i64 = r.header("x-ratelimit-reset").expect("reset").parse().unwrap();
        assert_eq!(limit, 100_000);
        assert!(remaining < limit);
        let now = now_unix();
        assert!(reset > now - 1 && reset <= now + 61, "reset is a unix timestamp: {reset} vs {now}");
    }
    let a: u64 = app.get("/identities").await.header("x-ratelimit-remaining").unwrap().parse().unwrap();
    let b: u64 = app.get("/identities").await.header("x-ratelimit-remaining").unwrap().parse().unwrap();
    assert!(b < a || b > a + 50, "each request consumes one (unless the window rolled): {a} then {b}");
}

#[actix_web::test]
async fn rate_limits_endpoint_reports_the_window_without_consuming_it() {
    let app = spawn_app_with(|c| c.rate_limit_rpm = 50).await;
    let r = app.get("/rate-limits").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rl = &r.body["rate_limit"];
    assert_eq!(rl["limit"], 50);
    assert_eq!(rl["window_seconds"], 60);
    let remaining = rl["remaining"].as_u64().expect("remaining");
    let reset_in = rl["reset_in_seconds"].as_u64().expect("reset_in_seconds");
    assert!(remaining <= 50 && (1..=60).contains(&reset_in), "{rl}");
    assert!(r.body["quotas"].is_object(), "{}", r.body);
    assert!(r.body["plan"].is_string());
    assert_eq!(r.body["environment"], "sandbox");
    let again = app.get("/rate-limits").await;
    let after = again.body["rate_limit"]["remaining"].as_u64().unwrap();
    assert!(after == remaining || after == 50, "reading the status is free: {remaining} then {after}");
    let live = app.live_get("/rate-limits").await;
    assert_eq!(live.body["environment"], "live");
    assert_eq!(assert_error(&app.send("GET", "/rate-limits", None, &[], None).await, 401), "unauthorized");
}

// ---------------------------------------------------------------------------------------------------------------
// Request ids, health, metrics and the OpenAPI document
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn every_response_has_a_request_id_and_an_incoming_one_is_echoed() {
    let app = spawn_app().await;
    let responses = [
        app.get("/identities").await,
        app.post("/identities", json!({})).await,
        app.get(&format!("/identities/{UNKNOWN_ID}")).await,
        app.send("GET", "/identities", None, &[], None).await,
        app.send("PUT", "/identities", Some(&app.sandbox_key), &[], None).await,
        app.get("/healthz").await,
        app.get("/metrics").await,
        app.get("/nope").await,
    ];
    let mut seen = std::collections::HashSet::new();
    for r in &responses {
        let id = r.header("x-request-id").unwrap_or_else(|| panic!("x-request-id missing ({})", r.status));
        assert!(!id.is_empty());
        assert!(seen.insert(id.clone()), "request ids are unique: {id}");
    }
    let echoed =
        app.send("GET", "/identities", Some(&app.sandbox_key), &[("X-Request-Id", "trace-abc_123.4")], None).await;
    assert_eq!(echoed.header("x-request-id").as_deref(), Some("trace-abc_123.4"));
    let echoed = app.send("GET", "/healthz", None, &[("X-Request-Id", "health-1")], None).await;
    assert_eq!(echoed.header("x-request-id").as_deref(), Some("health-1"));
    let unsafe_id =
        app.send("GET", "/identities", Some(&app.sandbox_key), &[("X-Request-Id", "evil id;drop")], None).await;
    let replaced = unsafe_id.header("x-request-id").unwrap();
    assert_ne!(replaced, "evil id;drop", "unsafe ids are replaced");
    assert!(!replaced.is_empty());
}

/// The value of an unlabelled metric in Prometheus text.
fn metric_value(text: &str, name: &str) -> u64 {
    let prefix = format!("{name} ");
    let line = text.lines().find_map(|l| l.strip_prefix(prefix.as_str()));
    line.unwrap_or_else(|| panic!("no {name} line")).trim().parse().unwrap()
}

#[actix_web::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let h = app.send("GET", "/healthz", None, &[], None).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body["status"], "ok");
    let r = app.send("GET", "/readyz", None, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "ready");

    app.create_identity(json!({"external_ref": "metric_1"})).await;
    app.get("/identities").await;
    let m = app.send("GET", "/metrics", None, &[], None).await;
    assert_eq!(m.status, 200);
    let text = String::from_utf8(m.raw.clone()).expect("utf-8");
    for name in ["idv_http_requests_total", "idv_events_appended_total", "idv_writer_batch_commands"] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    let appended = metric_value(&text, "idv_events_appended_total");
    assert!(appended >= 1, "the create appended at least one event");
    assert!(
        text.contains("route=\"/api/v1/identities\""),
        "requests are labelled by route pattern: {}",
        text.lines().filter(|l| l.starts_with("idv_http_requests_total")).collect::<Vec<_>>().join("\n")
    );
    assert!(!text.contains("metric_1") && !text.contains(&app.sandbox_key), "no ids, refs or keys in metrics");

    // The checkpointer reports the WAL's length after each round (every quarter second).
    let started = std::time::Instant::now();
    loop {
        let m = app.send("GET", "/metrics", None, &[], None).await;
        let text = String::from_utf8(m.raw.clone()).expect("utf-8");
        assert!(text.contains("idv_wal_restart_copy_ms_count"), "the copies in the writer's pauses are reported");
        if metric_value(&text, "idv_wal_frames") > 0 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the WAL's length was never reported");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn the_openapi_document_covers_every_route() {
    let app = spawn_app().await;
    let r = app.send("GET", "/api/v1/openapi.json", None, &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let doc = &r.body;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    let specs = idv::http::all_specs();
    assert!(specs.len() >= 40, "{} specs", specs.len());
    let mut missing = Vec::new();
    for spec in &specs {
        let path = spec.full_path();
        let method = spec.method.to_ascii_lowercase();
        if paths.get(&path).and_then(|p| p.get(&method)).is_none() {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(missing.is_empty(), "not in the OpenAPI document: {missing:?}");
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                specs.iter().any(|s| s.full_path() == *path && s.method.eq_ignore_ascii_case(method)),
                "documented but not served: {method} {path}"
            );
            assert!(op["responses"].is_object(), "{method} {path}");
        }
    }
    // A handful of documented endpoints, spelled exactly as in the spec.
    for (method, path) in [
        ("get", "/api/v1/identities"),
        ("delete", "/api/v1/identities/{identity_id}/data"),
        ("post", "/api/v1/identities/search/advanced"),
        ("post", "/api/v1/identities/merge-multiple"),
        ("get", "/api/v1/rate-limits"),
        ("get", "/healthz"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path}");
    }
}

/// The document comes from the handlers' annotations and the route table from `routes()`: the test above
/// compares the two lists; this one asks the server itself: every documented operation, called with
/// placeholder ids, reaches a handler (never the unknown-route 404 nor a 405), and a made-up path does not.
#[actix_web::test]
async fn every_documented_operation_is_served() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let doc = app.send("GET", "/api/v1/openapi.json", None, &[], None).await.body;
    let mut unrouted = Vec::new();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "placeholder_0" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let body = matches!(method.as_str(), "post" | "patch" | "put").then(|| json!({}));
            let r = app
                .send_raw(
                    &method.to_ascii_uppercase(),
                    &concrete,
                    Some(&key),
                    body.map(|b| ("application/json", b.to_string().into_bytes())),
                )
                .await;
            let unknown_route = r.status == 404 && r.body["detail"] == "No such resource or route.";
            if unknown_route || r.status == 405 {
                unrouted.push(format!("{method} {path} -> {} {}", r.status, r.body));
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} operations");
    assert!(unrouted.is_empty(), "documented but not routed: {unrouted:#?}");
    let made_up = app.send_raw("GET", "/api/v1/no-such-thing", Some(&key), None).await;
    assert_eq!(made_up.body["detail"], "No such resource or route.", "the probe can tell an unknown route");
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/// Sends raw bytes (for bodies that are not valid JSON) with the sandbox key.
async fn send_raw(app: &TestApp, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = app.client.request(method, app.url(path)).insert_header(("X-API-Key", app.sandbox_key.as_str()));
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut res = req.send_body(body).await.expect("request sent");
    let raw = res.body().limit(64 * 1024 * 1024).await.expect("body").to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Resp { status: res.status().as_u16(), headers: res.headers().clone(), body, raw }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// The converted resources are described by typed schemas (with properties), not the untyped fallback.
#[actix_web::test]
async fn typed_operations_declare_their_request_and_response_schemas() {
    let app = spawn_app().await;
    let doc = app.send("GET", "/api/v1/openapi.json", None, &[], None).await.body;
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
            None => schema.clone(),
        }
    };
    let has_properties = |schema: &Value| -> bool {
        let s = resolve(schema);
        s["properties"].is_object()
            || s["allOf"].as_array().is_some_and(|parts| parts.iter().any(|p| resolve(p)["properties"].is_object()))
    };
    for (method, path, code, tag) in [
        ("get", "/api/v1/identities/{identity_id}/relationships", "200", "Relationships"),
        ("post", "/api/v1/identities/{identity_id}/relationships", "201", "Relationships"),
        ("get", "/api/v1/identities/{identity_id}/graph", "200", "Relationships"),
        ("patch", "/api/v1/relationship-types/{type_id}", "200", "Relationships"),
        ("post", "/api/v1/identity-types", "201", "Identity types"),
        ("post", "/api/v1/identity-types/{type_id}/fields", "201", "Identity types"),
        ("patch", "/api/v1/identity-types/{type_id}/fields/{field_id}", "200", "Identity types"),
        ("post", "/api/v1/api-keys", "201", "API keys"),
        ("patch", "/api/v1/api-keys/{api_key_id}", "200", "API keys"),
        ("get", "/api/v1/rate-limits", "200", "API keys"),
        ("patch", "/api/v1/settings/retention", "200", "Settings"),
        ("get", "/healthz", "200", "System"),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(op["tags"], json!([tag]), "{method} {path}: {op}");
        let response = &op["responses"][code]["content"]["application/json"]["schema"];
        assert!(has_properties(response), "{method} {path} {code} is untyped: {response}");
        if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
            assert!(has_properties(&Value::Object(body.clone())), "{method} {path} request is untyped");
        }
    }
    let field = resolve(&json!({"$ref": "#/components/schemas/CreateCustomFieldBody"}));
    assert!(field["properties"]["field_type"].is_object(), "{field}");
    assert_eq!(
        doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]["text/plain"]["schema"]["type"],
        "string"
    );
}

/// Values refused by the types are 422s naming the field.
#[actix_web::test]
async fn typed_bodies_name_the_refused_field() {
    let app = spawn_app().await;
    let long = "x".repeat(101);
    for (path, body, field) in [
        ("/identity-types", json!({"name": "t", "label": long}), "label"),
        ("/identity-types", json!({"name": "bad name", "label": "T"}), "name"),
        ("/relationship-types", json!({"name": "Guarantor", "label": "G"}), "name"),
        ("/api-keys", json!({"scopes": ["everything:all"]}), "scopes"),
        ("/api-keys", json!({"type": "magic"}), "type"),
        ("/api-keys", json!({"colour": "red"}), "colour"),
    ] {
        let r = app.post(path, body.clone()).await;
        assert_eq!(r.status, 422, "{path} {body}: {}", r.body);
        let named = r.body["errors"].as_array().is_some_and(|e| {
            e.iter().any(|e| e["field"].as_str().is_some_and(|f| f == field || f.starts_with(&format!("{field}["))))
        });
        assert!(named, "{path} {body}: {}", r.body);
    }
    let r = app.patch("/settings/retention", json!({"data_retention_days": "soon"})).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["errors"][0]["field"], "data_retention_days", "{}", r.body);
}

/// Issue 8's bar: the document describes what it serves. Every operation has a tag, and at least 95% of
/// request bodies and of 2xx responses declare their properties (through `$ref`s and compositions).
#[actix_web::test]
async fn request_bodies_and_responses_declare_their_properties() {
    fn declares(schema: &Value, comps: &Value, depth: usize) -> bool {
        if depth > 8 {
            return false;
        }
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap_or_default();
            return declares(&comps[name], comps, depth + 1);
        }
        if schema["properties"].as_object().is_some_and(|p| !p.is_empty()) || schema["enum"].is_array() {
            return true;
        }
        if schema["type"] == "string" || schema["type"] == "array" && declares(&schema["items"], comps, depth + 1) {
            return true;
        }
        ["allOf", "oneOf", "anyOf"]
            .iter()
            .any(|k| schema[*k].as_array().is_some_and(|xs| xs.iter().any(|x| declares(x, comps, depth + 1))))
    }
    let app = spawn_app().await;
    let doc = app.send("GET", "/api/v1/openapi.json", None, &[], None).await.body;
    let comps = &doc["components"]["schemas"];
    let (mut bodies, mut typed_bodies, mut responses, mut typed_responses) = (0, 0, 0, 0);
    let mut untagged = Vec::new();
    let mut without_example = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["tags"].as_array().is_none_or(|t| t.is_empty()) {
                untagged.push(format!("{method} {path}"));
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                bodies += 1;
                typed_bodies += content.values().any(|c| declares(&c["schema"], comps, 0)) as usize;
            }
            for (code, r) in op["responses"].as_object().unwrap() {
                let Some(content) = r["content"].as_object() else { continue };
                if code.starts_with('2') {
                    responses += 1;
                    typed_responses += content.values().any(|c| declares(&c["schema"], comps, 0)) as usize;
                    if let Some(json) = content.get("application/json") {
                        if json.get("example").is_none() && json.get("examples").is_none() {
                            without_example.push(format!("{method} {path} {code}"));
                        }
                    }
                }
            }
        }
    }
    assert!(untagged.is_empty(), "operations without a tag: {untagged:?}");
    assert!(without_example.is_empty(), "JSON success responses without an example body: {without_example:?}");
    assert!(
        bodies > 50 && typed_bodies * 100 >= bodies * 95,
        "{typed_bodies}/{bodies} request bodies declare properties"
    );
    assert!(
        responses > 100 && typed_responses * 100 >= responses * 95,
        "{typed_responses}/{responses} 2xx responses declare properties"
    );
}
