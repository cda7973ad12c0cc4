//! The org audit log (spec §1.16): `GET /events` filters, paging and limits, one entry by id, the
//! environment boundary, the item shape, and no personal data in any answer.

use crate::helpers::{assert_error, spawn_app, TestApp};
use serde_json::{json, Value};

const NAMES: [&str; 4] = ["Persephone", "Vanderkloot", "persephone.v@example.net", "1966-11-30"];

/// Identities with personal data and a few changes to them; returns the first identity's id.
async fn seed(app: &TestApp) -> String {
    let a = app
        .create_identity(json!({"external_ref": "audit_a", "first_name": "Persephone", "last_name": "Vanderkloot",
                                "email": "persephone.v@example.net", "date_of_birth": "1966-11-30"}))
        .await;
    app.create_identity(json!({"external_ref": "audit_b", "first_name": "Persephone"})).await;
    let r = app.patch(&format!("/identities/{a}"), json!({"status": "approved"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    a
}

fn items(r: &Value) -> &Vec<Value> {
    r["data"].as_array().expect("data")
}

async fn list(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/events{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    assert!(!String::from_utf8_lossy(&r.raw).contains(NAMES[0]), "PII in /events{query}");
    for name in NAMES {
        assert!(!String::from_utf8_lossy(&r.raw).contains(name), "{name} in /events{query}");
    }
    r.body
}

#[actix_web::test]
async fn the_audit_log_filters_and_pages_newest_first() {
    let app = spawn_app().await;
    let a = seed(&app).await;
    let all = list(&app, "?limit=100").await;
    let data = items(&all);
    assert!(data.len() >= 3, "{all}");
    assert_eq!(all["pagination"]["total"].as_i64(), Some(data.len() as i64), "{all}");
    let seqs: Vec<i64> = data.iter().map(|e| e["sequence_num"].as_i64().expect("sequence_num")).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first, strictly increasing in the log: {seqs:?}");
    for e in data {
        assert!(e["id"].as_str().unwrap().starts_with("evt_"), "{e}");
        assert!(e["actor"].as_str().is_some_and(|a| !a.is_empty()), "{e}");
        assert!(e["created_at"].is_string() && e["resource_type"].is_string() && e["metadata"].is_object(), "{e}");
    }
    let created_row = data.iter().find(|e| e["type"] == "identity.created").expect("identity.created");
    let key_actor = created_row["actor"].clone();
    assert!(key_actor.as_str().unwrap().starts_with("api_key:key_"), "{key_actor}");
    // The request behind a change made with a key: method, path without its query, the caller's address.
    assert_eq!(created_row["request_method"], "POST", "{created_row}");
    assert_eq!(created_row["request_path"], "/api/v1/identities", "{created_row}");
    assert_eq!(created_row["ip_address"], "127.0.0.1", "{created_row}");
    let by_address = list(&app, "?q=127.0.0.1&limit=100").await;
    assert!(items(&by_address).iter().any(|e| e["id"] == created_row["id"]), "q covers the address: {by_address}");
    assert!(items(&by_address).iter().all(|e| e["ip_address"] == "127.0.0.1"), "{by_address}");

    // action, resource_type, resource_id
    let created = list(&app, "?action=identity.created").await;
    assert_eq!(items(&created).len(), 2, "{created}");
    assert!(items(&created).iter().all(|e| e["type"] == "identity.created"));
    let identities = list(&app, "?resource_type=identity&limit=100").await;
    assert!(items(&identities).iter().all(|e| e["resource_type"] == "identity"));
    assert!(items(&identities).len() >= 3, "{identities}");
    let one = list(&app, &format!("?resource_id={a}")).await;
    assert!(!items(&one).is_empty() && items(&one).iter().all(|e| e["resource_id"] == a.as_str()), "{one}");
    assert_eq!(items(&list(&app, "?resource_id=idn_nothing").await).len(), 0);

    // q: free text over actor, action and resource
    let q = list(&app, &format!("?q={}", &a[4..])).await;
    assert!(!items(&q).is_empty() && items(&q).iter().all(|e| e["resource_id"] == a.as_str()), "{q}");
    let q = list(&app, "?q=identity.crea").await;
    assert_eq!(items(&q).len(), 2, "{q}");
    assert_eq!(items(&list(&app, "?q=zzzz_nothing").await).len(), 0);

    // created_after / created_before
    let oldest = data.last().unwrap()["created_at"].as_str().unwrap().to_string();
    let newest = data[0]["created_at"].as_str().unwrap().to_string();
    let after = list(&app, "?created_after=2000-01-01T00:00:00Z&limit=100").await;
    assert_eq!(items(&after).len(), data.len());
    assert_eq!(items(&list(&app, "?created_after=2999-01-01T00:00:00Z").await).len(), 0);
    assert_eq!(items(&list(&app, "?created_before=2000-01-01T00:00:00Z").await).len(), 0);
    let before = list(&app, "?created_before=2999-01-01T00:00:00Z&limit=100").await;
    assert_eq!(items(&before).len(), data.len());
    let strictly_after = list(&app, &format!("?created_after={oldest}&limit=100")).await;
    assert!(items(&strictly_after).iter().all(|e| e["created_at"].as_str().unwrap() > oldest.as_str()));
    let strictly_before = list(&app, &format!("?created_before={newest}&limit=100")).await;
    assert!(items(&strictly_before).iter().all(|e| e["created_at"].as_str().unwrap() < newest.as_str()));
    assert_error(&app.get("/events?created_after=yesterday").await, 422);

    // limit and offset
    let page = list(&app, "?limit=1&offset=1").await;
    assert_eq!(items(&page).len(), 1);
    assert_eq!(items(&page)[0]["id"], data[1]["id"]);
    assert_eq!((page["pagination"]["limit"].as_i64(), page["pagination"]["offset"].as_i64()), (Some(1), Some(1)));
    assert_eq!(items(&list(&app, "?limit=100").await).len(), data.len());
    for bad in ["?limit=0", "?limit=101", "?limit=-1", "?offset=-1", "?limit=ten"] {
        assert_error(&app.get(&format!("/events{bad}")).await, 422);
    }
}

#[actix_web::test]
async fn one_entry_by_id_and_404_for_unknown_or_malformed_ids() {
    let app = spawn_app().await;
    seed(&app).await;
    let first = items(&list(&app, "?limit=1").await)[0].clone();
    let id = first["id"].as_str().unwrap();
    let one = app.get(&format!("/events/{id}")).await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body, first);
    for name in NAMES {
        assert!(!String::from_utf8_lossy(&one.raw).contains(name));
    }
    assert_error(&app.get("/events/evt_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C").await, 404);
    assert_error(&app.get("/events/not-an-event").await, 404);
}

#[actix_web::test]
async fn a_key_sees_its_own_environment_only() {
    let app = spawn_app().await;
    let sandbox_identity = seed(&app).await;
    let live_key = app.live_key.clone();
    let r = app.send("POST", "/identities", Some(&live_key), &[], Some(&json!({"external_ref": "live_one"}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let live_identity = r.body["id"].as_str().unwrap().to_string();

    let sandbox = list(&app, "?limit=100").await;
    assert!(items(&sandbox).iter().all(|e| e["resource_id"] != live_identity.as_str()), "{sandbox}");
    let live = app.live_get("/events?limit=100").await;
    assert_eq!(live.status, 200, "{}", live.body);
    assert!(items(&live.body).iter().any(|e| e["resource_id"] == live_identity.as_str()), "{}", live.body);
    assert!(items(&live.body).iter().all(|e| e["resource_id"] != sandbox_identity.as_str()), "{}", live.body);
    let live_event = items(&live.body).iter().find(|e| e["resource_id"] == live_identity.as_str()).unwrap().clone();
    let id = live_event["id"].as_str().unwrap();
    assert_error(&app.get(&format!("/events/{id}")).await, 404);
    assert_eq!(app.live_get(&format!("/events/{id}")).await.status, 200);
}

#[actix_web::test]
async fn exports_are_audited_under_the_specs_action_names_with_their_request() {
    let app = spawn_app().await;
    let identity = seed(&app).await;
    let session = app.post("/sessions", json!({"external_ref": "audit_export"})).await;
    assert_eq!(session.status, 201, "{}", session.body);
    let session_id = session.body["id"].as_str().unwrap().to_string();
    let before = app.get(&format!("/sessions/{session_id}")).await.body["updated_at"].clone();

    assert_eq!(app.get(&format!("/identities/{identity}/export")).await.status, 200);
    assert_eq!(app.get(&format!("/sessions/{session_id}/export?format=json")).await.status, 200);

    let identity_exports = list(&app, "?action=api.identity.export").await;
    let row = &items(&identity_exports)[0];
    assert_eq!(row["resource_id"], identity.as_str(), "{row}");
    assert_eq!(row["request_method"], "GET", "{row}");
    assert_eq!(row["request_path"], format!("/api/v1/identities/{identity}/export"), "no query string: {row}");
    assert!(row["actor"].as_str().unwrap().starts_with("api_key:"), "{row}");

    let session_exports = list(&app, "?action=api.session.export").await;
    assert_eq!(items(&session_exports).len(), 1, "{session_exports}");
    let row = &items(&session_exports)[0];
    assert_eq!(
        (row["resource_type"].as_str(), row["resource_id"].as_str()),
        (Some("session"), Some(session_id.as_str()))
    );
    assert_eq!(row["request_path"], format!("/api/v1/sessions/{session_id}/export"), "no query string: {row}");
    // Exporting reads the session; it does not change it.
    assert_eq!(app.get(&format!("/sessions/{session_id}")).await.body["updated_at"], before);
    let audit = app.get(&format!("/sessions/{session_id}/events")).await;
    assert!(audit.body.to_string().contains("api.session.export"), "{}", audit.body);
    // An unknown session is 404 and records nothing.
    assert_eq!(app.get("/sessions/ses_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C/export").await.status, 404);
    assert_eq!(items(&list(&app, "?action=api.session.export").await).len(), 1);
}
