//! API keys: listing without secrets, creation, scopes, update, expiry, cloning, publishable keys,
//! IP allow lists and the rate-limit status endpoint.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DEFAULT_SCOPES: [&str; 5] =
    ["sessions:read", "sessions:create", "sessions:write", "verifications:read", "identities:read"];

#[actix_web::test]
async fn listing_keys_never_shows_a_secret() {
    let app = spawn_app().await;
    let extra = app.post("/api-keys", json!({"label": "extra"})).await;
    assert_eq!(extra.status, 201, "{}", extra.body);
    let extra_secret = extra.body["secret"].as_str().unwrap().to_string();

    let r = app.get("/api-keys").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "the two sandbox keys (the live key is in the other environment): {}", r.body);
    assert_eq!(r.body["pagination"]["total"], 2);
    for key in data {
        assert!(key["id"].as_str().unwrap().starts_with("key_"), "{key}");
        assert_eq!(key["environment"], "sandbox");
        let prefix = key["key_prefix"].as_str().unwrap();
        assert!(prefix.starts_with("vk_sandbox_") && prefix.len() < 24, "short prefix only: {prefix}");
    }
    assert_no_secret(&r.body);
    let raw = String::from_utf8_lossy(&r.raw);
    assert!(!raw.contains(&app.sandbox_key), "the sandbox secret is in the list");
    assert!(!raw.contains(&extra_secret), "the new secret is in the list");
    assert!(!raw.contains(&app.live_key));
    let prefixes: Vec<&str> = data.iter().map(|k| k["key_prefix"].as_str().unwrap()).collect();
    assert!(prefixes.iter().any(|p| app.sandbox_key.starts_with(p)), "{prefixes:?}");
    assert!(prefixes.iter().any(|p| extra_secret.starts_with(p)), "{prefixes:?}");

    let live = app.live_get("/api-keys").await;
    assert_eq!(live.status, 200, "{}", live.body);
    assert_eq!(live.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(live.body["data"][0]["environment"], "live");
    assert_no_secret(&live.body);
    assert!(!String::from_utf8_lossy(&live.raw).contains(&app.live_key));

    // Reading keys needs an api_keys scope.
    let plain = app.key_with_scopes(&["identities:read"]).await;
    let r = app.send("GET", "/api-keys", Some(&plain), &[], None).await;
    assert_eq!(assert_error(&r, 403), "insufficient_scope");
}

#[actix_web::test]
async fn creating_a_key_returns_its_secret_once() {
    let app = spawn_app().await;
    let r = app.post("/api-keys", json!({"label": "backend", "note": "for the worker"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("vk_sandbox_"), "{secret}");
    assert!(secret.len() >= 32, "{secret}");
    assert!(r.body["warning"].as_str().is_some_and(|w| !w.is_empty()), "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("key_"));
    assert_eq!(r.body["type"], "secret");
    assert_eq!(r.body["environment"], "sandbox");
    assert_eq!(r.body["is_active"], true);
    assert_eq!(r.body["label"], "backend");
    assert_eq!(r.body["note"], "for the worker");
    assert!(r.body["allowed_ips"].is_null());
    assert!(r.body["expires_at"].is_null());
    assert!(r.body["api_version"].is_string());
    let prefix = r.body["key_prefix"].as_str().unwrap();
    assert!(secret.starts_with(prefix) && prefix.len() < secret.len() - 16, "{prefix}");
    assert_eq!(scopes(&r.body), set(&DEFAULT_SCOPES), "the five default scopes");

    let got = app.get(&format!("/api-keys/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["id"], id.as_str());
    assert_eq!(got.body["label"], "backend");
    assert_no_secret(&got.body);
    assert!(!String::from_utf8_lossy(&got.raw).contains(&secret));
    assert_error(&app.get("/api-keys/key_unknown").await, 404);

    // The live key's id is not visible from the sandbox.
    let live_id = app.live_get("/api-keys").await.body["data"][0]["id"].as_str().unwrap().to_string();
    assert_error(&app.get(&format!("/api-keys/{live_id}")).await, 404);

    let chosen = app.post("/api-keys", json!({"scopes": ["identities:read", "identities:write"]})).await;
    assert_eq!(chosen.status, 201, "{}", chosen.body);
    assert_eq!(scopes(&chosen.body), set(&["identities:read", "identities:write"]));

    for body in [
        json!({"scopes": ["identities:read", "everything:all"]}),
        json!({"scopes": ["*"]}),
        json!({"allowed_ips": ["not-an-ip"]}),
        json!({"allowed_ips": ["10.0.0.0/33"]}),
        json!({"environment": "staging"}),
        json!({"type": "magic"}),
        json!({"api_version": "1999-01-01"}),
        json!({"expires_at": "tomorrow"}),
    ] {
        let r = app.post("/api-keys", body.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{body}");
    }
    // A sandbox key may not create live keys: a refusal of the caller, not of the request's shape.
    let r = app.post("/api-keys", json!({"environment": "live"})).await;
    assert_eq!(assert_error(&r, 403), "forbidden");
    assert!(r.body["detail"].as_str().unwrap().contains("live"), "{}", r.body);
    // None of the refusals created a key.
    assert_eq!(app.get("/api-keys").await.body["pagination"]["total"], 3);

    // Addresses and CIDR blocks of both families, compressed IPv6 included, match the documented pattern.
    let r = app.post("/api-keys", json!({"allowed_ips": ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1"]})).await;
    assert_eq!(r.status, 201, "{}", r.body);

    // An expiry already past is accepted: the new key is expired from the start.
    let r = app.post("/api-keys", json!({"label": "born expired", "expires_at": "2001-01-01T00:00:00Z"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["expires_at"], "2001-01-01T00:00:00.000Z", "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert_eq!(assert_error(&app.send("GET", "/identities", Some(&secret), &[], None).await, 401), "unauthorized");
}

#[actix_web::test]
async fn a_new_key_authenticates_with_its_scopes_only() {
    let app = spawn_app().await;
    let r = app.post("/api-keys", json!({"label": "defaults"})).await;
    let secret = r.body["secret"].as_str().unwrap().to_string();

    let read = app.send("GET", "/identities", Some(&secret), &[], None).await;
    assert_eq!(read.status, 200, "{}", read.body);
    let write = app.send("POST", "/identities", Some(&secret), &[], Some(&json!({"external_ref": "x"}))).await;
    assert_eq!(assert_error(&write, 403), "insufficient_scope");
    assert!(write.body["detail"].as_str().unwrap().contains("identities:write"), "{}", write.body);
    let keys = app.send("POST", "/api-keys", Some(&secret), &[], Some(&json!({}))).await;
    assert_eq!(assert_error(&keys, 403), "insufficient_scope");

    // A tampered or unknown secret is refused.
    let mut tampered = secret.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    let r = app.send("GET", "/identities", Some(&tampered), &[], None).await;
    assert_eq!(assert_error(&r, 401), "unauthorized");
    let r = app.send("GET", "/identities", None, &[], None).await;
    assert_error(&r, 401);

    // The identities created with a key are in that key's environment.
    let writer = app.key_with_scopes(&["identities:read", "identities:write"]).await;
    let r = app.send("POST", "/identities", Some(&writer), &[], Some(&json!({"external_ref": "by_new_key"}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["is_sandbox"], true);
}

#[actix_web::test]
async fn updating_a_key_changes_its_scopes_on_the_next_request() {
    let app = spawn_app().await;
    let r = app.post("/api-keys", json!({"label": "narrow", "scopes": ["identities:read"]})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let body = json!({"external_ref": "after_patch"});
    let before = app.send("POST", "/identities", Some(&secret), &[], Some(&body)).await;
    assert_eq!(assert_error(&before, 403), "insufficient_scope");

    let patched = app
        .patch(&format!("/api-keys/{id}"), json!({"label": "wider", "scopes": ["identities:read", "identities:write"]}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["label"], "wider");
    assert_eq!(scopes(&patched.body), set(&["identities:read", "identities:write"]));
    assert_no_secret(&patched.body);
    let got = app.get(&format!("/api-keys/{id}")).await;
    assert_eq!(got.body["label"], "wider");

    // An expiry already past is accepted and stops the key at once; a later one lets it in again.
    let r = app.patch(&format!("/api-keys/{id}"), json!({"expires_at": "2000-01-01T00:00:00Z"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let stopped = app.send("GET", "/identities", Some(&secret), &[], None).await;
    assert_eq!(assert_error(&stopped, 401), "unauthorized");
    let r = app.patch(&format!("/api-keys/{id}"), json!({"expires_at": null})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.send("GET", "/identities", Some(&secret), &[], None).await.status, 200);

    let after = app.send("POST", "/identities", Some(&secret), &[], Some(&body)).await;
    assert_eq!(after.status, 201, "{}", after.body);

    // Narrowing takes effect immediately too.
    let r = app.patch(&format!("/api-keys/{id}"), json!({"scopes": ["sessions:read"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.send("GET", "/identities", Some(&secret), &[], None).await;
    assert_eq!(assert_error(&r, 403), "insufficient_scope");

    for body in [
        json!({"scopes": ["nope:nope"]}),
        json!({"allowed_ips": ["300.1.1.1"]}),
        json!({"secret": "vk_sandbox_mine"}),
        json!({"environment": "live"}),
    ] {
        let r = app.patch(&format!("/api-keys/{id}"), body.clone()).await;
        assert_error(&r, 422);
    }
    assert_eq!(scopes(&app.get(&format!("/api-keys/{id}")).await.body), set(&["sessions:read"]));
    assert_error(&app.patch("/api-keys/key_unknown", json!({"label": "x"})).await, 404);
}

#[actix_web::test]
async fn an_expired_key_stops_working_and_no_key_expires_itself() {
    let app = spawn_app().await;
    let r = app.post("/api-keys", json!({"label": "doomed"})).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert_eq!(app.send("GET", "/identities", Some(&secret), &[], None).await.status, 200);

    let r = app.post(&format!("/api-keys/{id}/expire"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"id": id, "expired": true}));
    let r = app.send("GET", "/identities", Some(&secret), &[], None).await;
    assert_eq!(assert_error(&r, 401), "unauthorized");
    let got = app.get(&format!("/api-keys/{id}")).await;
    assert_eq!(got.body["is_active"], false, "{}", got.body);
    assert_error(&app.post("/api-keys/key_unknown/expire", json!({})).await, 404);

    // A manager key cannot expire itself, and still works afterwards.
    let r = app.post("/api-keys", json!({"label": "manager", "scopes": ["api_keys:read", "api_keys:write"]})).await;
    let manager_id = r.body["id"].as_str().unwrap().to_string();
    let manager = r.body["secret"].as_str().unwrap().to_string();
    let path = format!("/api-keys/{manager_id}/expire");
    let r = app.send("POST", &path, Some(&manager), &[], Some(&json!({}))).await;
    assert_eq!(assert_error(&r, 409), "conflict");
    let r = app.send("GET", "/api-keys", Some(&manager), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The bootstrap sandbox key cannot expire itself either.
    let own_id = own_key_id(&app, &app.sandbox_key).await;
    assert_eq!(assert_error(&app.post(&format!("/api-keys/{own_id}/expire"), json!({})).await, 409), "conflict");
    assert_eq!(app.get("/identities").await.status, 200);

    // Another key may expire it.
    let r = app.send("POST", &format!("/api-keys/{own_id}/expire"), Some(&manager), &[], Some(&json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(assert_error(&app.get("/identities").await, 401), "unauthorized");
}

#[actix_web::test]
async fn cloning_a_key_copies_its_settings_under_a_new_secret() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api-keys",
            json!({"label": "source", "scopes": ["identities:read", "lists:read"], "allowed_ips": ["127.0.0.1", "10.0.0.0/8"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let source_id = r.body["id"].as_str().unwrap().to_string();
    let source_secret = r.body["secret"].as_str().unwrap().to_string();

    let c = app.post(&format!("/api-keys/{source_id}/clone"), json!({})).await;
    assert!(c.status == 200 || c.status == 201, "{}: {}", c.status, c.body);
    let clone_id = c.body["id"].as_str().unwrap().to_string();
    let clone_secret = c.body["secret"].as_str().unwrap().to_string();
    assert_ne!(clone_id, source_id);
    assert_ne!(clone_secret, source_secret);
    assert!(clone_secret.starts_with("vk_sandbox_"), "{clone_secret}");
    assert_eq!(c.body["cloned_from"], source_id.as_str());
    assert_eq!(c.body["environment"], "sandbox");
    assert!(c.body["warning"].is_string());
    assert!(c.body["created_at"].is_string());
    assert!(c.body.get("label").is_some());
    assert_eq!(scopes(&c.body), set(&["identities:read", "lists:read"]));

    let got = app.get(&format!("/api-keys/{clone_id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(scopes(&got.body), set(&["identities:read", "lists:read"]));
    assert_eq!(got.body["allowed_ips"], json!(["127.0.0.1", "10.0.0.0/8"]));
    assert_no_secret(&got.body);

    // The clone works on its own, with the source's scopes, and survives the source's expiry.
    assert_eq!(app.post(&format!("/api-keys/{source_id}/expire"), json!({})).await.status, 200);
    let r = app.send("GET", "/identities", Some(&clone_secret), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.send("POST", "/identities", Some(&clone_secret), &[], Some(&json!({"external_ref": "c"}))).await;
    assert_eq!(assert_error(&r, 403), "insufficient_scope");
    assert_eq!(app.send("GET", "/identities", Some(&source_secret), &[], None).await.status, 401);

    assert_error(&app.post("/api-keys/key_unknown/clone", json!({})).await, 404);
}

#[actix_web::test]
async fn publishable_keys_may_only_create_sessions() {
    let app = spawn_app().await;
    let r = app.post("/api-keys", json!({"type": "publishable", "label": "browser"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["type"], "publishable");
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("vk_pub_sandbox_"), "{secret}");

    for (method, path, body) in [
        ("GET", "/identities", None),
        ("POST", "/identities", Some(json!({"external_ref": "pub"}))),
        ("GET", "/api-keys", None),
        ("POST", "/api-keys", Some(json!({}))),
        ("GET", "/sessions", None),
        ("GET", "/rate-limits", None),
        ("GET", "/relationship-types", None),
    ] {
        let r = app.send(method, path, Some(&secret), &[], body.as_ref()).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert_error(&r, 403);
    }
    // Creating a session is the one thing it is for: never refused as forbidden or unauthenticated.
    let r = app.send("POST", "/api/v1/sessions", Some(&secret), &[], Some(&json!({"external_ref": "pub_user"}))).await;
    assert!(r.status != 403 && r.status != 401, "POST /sessions with a publishable key: {} {}", r.status, r.body);
}

#[actix_web::test]
async fn ip_allow_lists_are_enforced() {
    let app = spawn_app().await;
    let elsewhere = app.post("/api-keys", json!({"allowed_ips": ["10.0.0.0/8"]})).await;
    assert_eq!(elsewhere.status, 201, "{}", elsewhere.body);
    assert_eq!(elsewhere.body["allowed_ips"], json!(["10.0.0.0/8"]));
    let secret = elsewhere.body["secret"].as_str().unwrap().to_string();
    let r = app.send("GET", "/identities", Some(&secret), &[], None).await;
    assert!(r.status == 401 || r.status == 403, "request from 127.0.0.1: {} {}", r.status, r.body);
    assert_error(&r, r.status);

    for allowed in [json!(["127.0.0.1"]), json!(["127.0.0.0/8"]), json!(["10.0.0.0/8", "127.0.0.1/32"])] {
        let r = app.post("/api-keys", json!({"allowed_ips": allowed.clone()})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let s = r.body["secret"].as_str().unwrap().to_string();
        assert_eq!(app.send("GET", "/identities", Some(&s), &[], None).await.status, 200, "{allowed}");
    }

    // Lifting the restriction (allowed_ips null = every address) lets the key in.
    let id = elsewhere.body["id"].as_str().unwrap();
    let r = app.patch(&format!("/api-keys/{id}"), json!({"allowed_ips": null})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["allowed_ips"].is_null());
    assert_eq!(app.send("GET", "/identities", Some(&secret), &[], None).await.status, 200);
    let r = app.patch(&format!("/api-keys/{id}"), json!({"allowed_ips": ["192.168.0.0/16"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.send("GET", "/identities", Some(&secret), &[], None).await;
    assert!(r.status == 401 || r.status == 403, "{} {}", r.status, r.body);
}

#[actix_web::test]
async fn rate_limit_status_has_the_documented_shape() {
    let app = spawn_app().await;
    let r = app.get("/rate-limits").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rl = &r.body["rate_limit"];
    let limit = rl["limit"].as_u64().expect("limit");
    let remaining = rl["remaining"].as_u64().expect("remaining");
    let reset = rl["reset_in_seconds"].as_u64().expect("reset_in_seconds");
    assert_eq!(limit, 100_000, "the configured per-minute limit");
    assert!(remaining <= limit);
    assert!(reset <= 60, "{reset}");
    assert_eq!(rl["window_seconds"], 60);
    assert_eq!(r.body["environment"], "sandbox");

    // Asking does not use up the budget.
    let again = app.get("/rate-limits").await;
    assert!(again.body["rate_limit"]["remaining"].as_u64().unwrap() >= remaining, "{}", again.body);

    let live = app.live_get("/rate-limits").await;
    assert_eq!(live.status, 200, "{}", live.body);
    assert_eq!(live.body["environment"], "live");

    // Any key may ask, whatever its scopes; an unauthenticated caller may not.
    let narrow = app.key_with_scopes(&["sessions:read"]).await;
    let r = app.send("GET", "/rate-limits", Some(&narrow), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_error(&app.send("GET", "/rate-limits", None, &[], None).await, 401);
}

// ---- helpers ----

fn scopes(body: &Value) -> BTreeSet<String> {
    body["scopes"]
        .as_array()
        .unwrap_or_else(|| panic!("no scopes: {body}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// No field named `secret` anywhere, and no string that looks like a whole key (prefixes are short).
fn assert_no_secret(v: &Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                assert_ne!(k, "secret", "a secret field is exposed: {v}");
                assert_no_secret(child);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_no_secret),
        Value::String(s) if s.starts_with("vk_") => {
            assert!(s.len() < 24, "a full key is exposed: {s}");
        }
        _ => {}
    }
}

/// The id of the key with this secret, found through its prefix in the list.
async fn own_key_id(app: &TestApp, secret: &str) -> String {
    let list = app.send("GET", "/api-keys?limit=100", Some(secret), &[], None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let matching: Vec<&Value> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| secret.starts_with(k["key_prefix"].as_str().unwrap()))
        .collect();
    assert_eq!(matching.len(), 1, "one key matches the prefix: {}", list.body);
    matching[0]["id"].as_str().unwrap().to_string()
}
