//! Custom lists (spec §1.10) end to end: lists, items, bulk and CSV, the no-persistence check for every
//! list type and mode, match records and false positives, archive rules, environment isolation, scopes,
//! and sealed values at rest.

use crate::helpers::*;
use serde_json::{json, Value};

const UNKNOWN_LIST: &str = "list_01ARZ3NDEKTSV4RRFFQ69G5FAV";

async fn create_list(app: &TestApp, list_type: &str, mode: &str) -> String {
    let r = app
        .post("/lists", json!({"name": format!("{list_type} {mode}"), "list_type": list_type, "match_mode": mode}))
        .await;
    assert_eq!(r.status, 201, "create list: {}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn add_item(app: &TestApp, list_id: &str, value: Value) -> String {
    let r = app.post(&format!("/lists/{list_id}/items"), json!({ "value": value })).await;
    assert_eq!(r.status, 201, "add item {value}: {}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn check(app: &TestApp, subject: Value, list_ids: Value) -> Resp {
    let r = app.post("/lists/check", json!({ "subject_data": subject, "list_ids": list_ids })).await;
    assert_eq!(r.status, 200, "check: {}", r.body);
    r
}

/// The number of matches of `subject` against one list.
async fn matches(app: &TestApp, list_id: &str, subject: Value) -> usize {
    let r = check(app, subject, json!([list_id])).await;
    assert_eq!(r.body["total_matches"].as_u64().unwrap() as usize, r.body["data"].as_array().unwrap().len());
    r.body["total_matches"].as_u64().unwrap() as usize
}

fn event_count(app: &TestApp) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn a_list_is_created_read_updated_listed_and_archived() {
    let app = spawn_app().await;
    let r =
        app.post("/lists", json!({"name": "Known fraudsters", "list_type": "name", "description": "Confirmed"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("list_"), "{id}");
    assert_eq!(r.body["match_mode"], "flag", "flag is the default mode");
    assert_eq!(r.body["list_type"], "name");
    assert_eq!(r.body["item_count"], 0);
    assert_eq!(r.body["is_active"], true);
    assert_eq!(r.body["description"], "Confirmed");
    assert_eq!(r.body["workflows"], json!([]));
    assert!(r.body["created_at"].is_string() && r.body["updated_at"].is_string());

    for (body, field) in [
        (json!({"list_type": "email"}), None),
        (json!({"name": "x", "list_type": "email", "color": "red"}), None),
        (json!({"name": "x", "list_type": "blocklist"}), Some("list_type")),
        (json!({"name": "x", "list_type": "email", "match_mode": "deny"}), Some("match_mode")),
        (json!({"name": " ", "list_type": "email"}), Some("name")),
    ] {
        let r = app.post("/lists", body.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{body}");
        if let Some(field) = field {
            assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
        }
    }
    assert_eq!(app.get("/lists").await.body["pagination"]["total"], 1, "refused lists leave nothing behind");

    let got = app.get(&format!("/lists/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["name"], "Known fraudsters");

    let patched = app
        .patch(&format!("/lists/{id}"), json!({"name": "Fraud ring", "match_mode": "block", "description": null}))
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["name"], "Fraud ring");
    assert_eq!(patched.body["match_mode"], "block");
    assert!(patched.body["description"].is_null());
    assert_eq!(
        assert_error(&app.patch(&format!("/lists/{id}"), json!({"match_mode": "x"})).await, 422),
        "validation_error"
    );
    assert_eq!(
        assert_error(&app.patch(&format!("/lists/{id}"), json!({"list_type": "email"})).await, 422),
        "validation_error"
    );

    let other = create_list(&app, "email", "allow").await;
    let all = app.get("/lists").await;
    assert_eq!(all.body["pagination"]["total"], 2, "{}", all.body);
    let emails = app.get("/lists?list_type=email").await;
    assert_eq!(emails.body["pagination"]["total"], 1);
    assert_eq!(emails.body["data"][0]["id"], other.as_str());
    assert_eq!(app.get("/lists?match_mode=block").await.body["data"][0]["id"], id.as_str());

    let archived = app.post(&format!("/lists/{id}/archive"), json!({})).await;
    assert_eq!(archived.status, 200, "{}", archived.body);
    assert!(archived.body["archived_at"].is_string());
    assert_eq!(archived.body["is_active"], false);
    assert_eq!(app.post(&format!("/lists/{id}/archive"), json!({})).await.status, 200, "archiving twice is a no-op");
    assert_eq!(app.get("/lists").await.body["pagination"]["total"], 1, "archived lists are hidden by default");
    assert_eq!(app.get("/lists?include_archived=true").await.body["pagination"]["total"], 2);
    let refused =
        app.post(&format!("/lists/{id}/items"), json!({"value": {"first_name": "A", "last_name": "B"}})).await;
    assert_eq!(assert_error(&refused, 409), "conflict", "an archived list refuses changes: a state conflict");
    assert_error(&app.patch(&format!("/lists/{id}"), json!({"name": "again"})).await, 409);

    assert_error(&app.get(&format!("/lists/{UNKNOWN_LIST}")).await, 404);
    assert_error(&app.patch(&format!("/lists/{UNKNOWN_LIST}"), json!({"name": "x"})).await, 404);
    assert_error(&app.post(&format!("/lists/{UNKNOWN_LIST}/archive"), json!({})).await, 404);
}

#[actix_web::test]
async fn items_are_added_shown_opened_and_deleted() {
    let app = spawn_app().await;
    let list = create_list(&app, "email", "block").await;
    let r = app
        .post(&format!("/lists/{list}/items"), json!({"value": {"email": "Fraud@Example.com"}, "notes": "Case #12345"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let item = r.body["id"].as_str().unwrap().to_string();
    assert!(item.starts_with("litem_"));
    assert_eq!(r.body["list_id"], list.as_str());
    assert_eq!(r.body["value"], json!({"email": "Fraud@Example.com", "match_domain_only": false}));
    assert_eq!(r.body["notes"], "Case #12345");
    let second = add_item(&app, &list, json!({"email": "@spam.io", "match_domain_only": true})).await;

    let items = app.get(&format!("/lists/{list}/items")).await;
    assert_eq!(items.status, 200);
    assert_eq!(items.body["pagination"]["total"], 2);
    assert_eq!(items.body["data"][0]["value"]["email"], "Fraud@Example.com");
    assert_eq!(app.get(&format!("/lists/{list}/items?limit=1&offset=1")).await.body["data"][0]["id"], second.as_str());
    assert_eq!(app.get(&format!("/lists/{list}")).await.body["item_count"], 2);
    let one = app.get(&format!("/lists/{list}/items/{item}")).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["notes"], "Case #12345");

    for (value, field) in [
        (json!({"email": "not-an-email"}), "value.email"),
        (json!({}), "value.email"),
        (json!({"email": "a@b.co", "phone": "1"}), "value.phone"),
        (json!({"email": "a@b.co", "match_domain_only": "maybe"}), "value.match_domain_only"),
        (json!("a@b.co"), "value"),
    ] {
        let r = app.post(&format!("/lists/{list}/items"), json!({ "value": value })).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{value}");
        assert_eq!(r.body["errors"][0]["field"], field, "{value}: {}", r.body);
    }
    let long_notes = "n".repeat(1001);
    let r = app.post(&format!("/lists/{list}/items"), json!({"value": {"email": "a@b.co"}, "notes": long_notes})).await;
    assert_eq!(r.body["errors"][0]["field"], "notes", "{}", r.body);

    let deleted = app.delete(&format!("/lists/{list}/items/{item}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_error(&app.get(&format!("/lists/{list}/items/{item}")).await, 404);
    assert_error(&app.delete(&format!("/lists/{list}/items/{item}")).await, 404);
    assert_eq!(app.get(&format!("/lists/{list}")).await.body["item_count"], 1);
    assert_eq!(
        matches(&app, &list, json!({"email": "fraud@example.com"})).await,
        0,
        "a deleted item no longer matches"
    );

    // An item of another list is not reachable through this one.
    let other = create_list(&app, "email", "flag").await;
    assert_error(&app.get(&format!("/lists/{other}/items/{second}")).await, 404);
    assert_error(&app.delete(&format!("/lists/{other}/items/{second}")).await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// Matching: every list type, every mode
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn each_list_type_matches_what_it_should_and_not_what_it_should_not() {
    let app = spawn_app().await;

    let names = create_list(&app, "name", "block").await;
    add_item(&app, &names, json!({"first_name": "John", "last_name": "Smith", "date_of_birth": "1985-03-02"})).await;
    let same_dob = json!({"first_name": "Jon", "last_name": "Smyth", "date_of_birth": "1985-03-02"});
    assert_eq!(matches(&app, &names, same_dob.clone()).await, 1, "fuzzy name with the same date of birth");
    let r = check(&app, same_dob, json!([names])).await;
    assert_eq!(r.body["data"][0]["matched_field"], "name,date_of_birth");
    assert!(r.body["data"][0]["score"].as_f64().unwrap() < 1.0);
    assert_eq!(r.body["data"][0]["list_type"], "name");
    assert!(r.body["data"][0].get("value").is_none(), "a match never carries the listed value");
    let other_dob = json!({"first_name": "John", "last_name": "Smith", "date_of_birth": "1985-03-03"});
    assert_eq!(matches(&app, &names, other_dob).await, 0, "a different date of birth never matches");
    let other_name = json!({"first_name": "Maria", "last_name": "Gonzalez", "date_of_birth": "1985-03-02"});
    assert_eq!(matches(&app, &names, other_name).await, 0);
    assert_eq!(matches(&app, &names, json!({"first_name": "John", "last_name": "Smith"})).await, 0, "no date of birth");
    // An item without a date of birth matches on the name alone.
    add_item(&app, &names, json!({"first_name": "Vladimir", "last_name": "Kowalczyk"})).await;
    assert_eq!(matches(&app, &names, json!({"first_name": "Wladimir", "last_name": "Kowalczyk"})).await, 1);

    let emails = create_list(&app, "email", "block").await;
    add_item(&app, &emails, json!({"email": "fraud@example.com"})).await;
    add_item(&app, &emails, json!({"email": "anyone@spam.io", "match_domain_only": true})).await;
    assert_eq!(matches(&app, &emails, json!({"email": " FRAUD@example.com "})).await, 1);
    assert_eq!(matches(&app, &emails, json!({"email": "other@example.com"})).await, 0, "exact unless domain-only");
    assert_eq!(matches(&app, &emails, json!({"email": "someone.else@SPAM.io"})).await, 1, "domain only");
    assert_eq!(matches(&app, &emails, json!({"email": "x@notspam.io"})).await, 0);

    let phones = create_list(&app, "phone", "block").await;
    add_item(&app, &phones, json!({"phone": "+1 (555) 010-9999"})).await;
    assert_eq!(matches(&app, &phones, json!({"phone": "555.010.9999"})).await, 1);
    assert_eq!(matches(&app, &phones, json!({"phone": "001 555 010 9999"})).await, 1, "the last 10 digits");
    assert_eq!(matches(&app, &phones, json!({"phone": "+1 555 010 9998"})).await, 0);

    let ips = create_list(&app, "ip_address", "block").await;
    add_item(&app, &ips, json!({"ip": "203.0.113.7"})).await;
    assert_eq!(matches(&app, &ips, json!({"ip": "203.0.113.7"})).await, 1);
    assert_eq!(matches(&app, &ips, json!({"ip_address": "::ffff:203.0.113.7"})).await, 1);
    assert_eq!(matches(&app, &ips, json!({"ip": "203.0.113.8"})).await, 0);
    let bad = app.post(&format!("/lists/{ips}/items"), json!({"value": {"ip": "999.1.1.1"}})).await;
    assert_eq!(bad.body["errors"][0]["field"], "value.ip", "{}", bad.body);

    let ids = create_list(&app, "government_id", "block").await;
    let r = app
        .post(&format!("/lists/{ids}/items"), json!({"value": {"id_number": "AB-123 456", "id_class": "passport"}}))
        .await;
    assert_eq!(r.body["value"], json!({"id_number": "AB-123 456", "id_class": "passport"}));
    assert_eq!(matches(&app, &ids, json!({"document_number": "ab123456"})).await, 1, "uppercase, no spaces or dashes");
    assert_eq!(matches(&app, &ids, json!({"id_number": "AB 123-456"})).await, 1);
    assert_eq!(matches(&app, &ids, json!({"document_number": "AB123457"})).await, 0);

    let countries = create_list(&app, "country", "block").await;
    add_item(&app, &countries, json!({"country_code": "kp"})).await;
    assert_eq!(matches(&app, &countries, json!({"nationality": "KP"})).await, 1);
    assert_eq!(matches(&app, &countries, json!({"country_code": "kp"})).await, 1);
    assert_eq!(matches(&app, &countries, json!({"nationality": "KR"})).await, 0);
    let bad = app.post(&format!("/lists/{countries}/items"), json!({"value": {"country_code": "XX"}})).await;
    assert_eq!(assert_error(&bad, 422), "validation_error");

    let places = create_list(&app, "geolocation", "flag").await;
    add_item(&app, &places, json!({"latitude": 52.5200, "longitude": 13.4050, "radius_meters": 1000})).await;
    let r = check(&app, json!({"latitude": 52.5230, "longitude": 13.4100}), json!([places])).await;
    assert_eq!(r.body["total_matches"], 1, "about 470 m away: {}", r.body);
    let d = r.body["data"][0]["details"]["distance_meters"].as_f64().unwrap();
    assert!((300.0..700.0).contains(&d), "{d}");
    assert_eq!(matches(&app, &places, json!({"latitude": "52.39", "longitude": "13.06"})).await, 0, "Potsdam");
    let bad = app
        .post(&format!("/lists/{places}/items"), json!({"value": {"latitude": 95, "longitude": 0, "radius_meters": 1}}))
        .await;
    assert_eq!(bad.body["errors"][0]["field"], "value.latitude", "{}", bad.body);

    let faces = create_list(&app, "face", "block").await;
    add_item(&app, &faces, json!({"embedding": [0.6, 0.8, 0.0, 0.0], "image_url": "https://img.example/f.jpg"})).await;
    let r = check(&app, json!({"embedding": [0.55, 0.83, 0.05, 0.0]}), json!([faces])).await;
    assert_eq!(r.body["total_matches"], 1, "{}", r.body);
    assert!(r.body["data"][0]["score"].as_f64().unwrap() >= 0.8);
    assert_eq!(matches(&app, &faces, json!({"embedding": [0.8, -0.6, 0.0, 0.0]})).await, 0, "orthogonal");
    assert_eq!(matches(&app, &faces, json!({"embedding": [0.6, 0.8, 0.0]})).await, 0, "other dimensions");

    let browsers = create_list(&app, "browser_fingerprint", "block").await;
    add_item(&app, &browsers, json!({"fingerprint_hash": "bfp_9f8e7d"})).await;
    let devices = create_list(&app, "device_fingerprint", "block").await;
    add_item(&app, &devices, json!({"fingerprint_hash": "dfp_1a2b3c"})).await;
    assert_eq!(matches(&app, &browsers, json!({"browser_fingerprint": "bfp_9f8e7d"})).await, 1);
    assert_eq!(matches(&app, &browsers, json!({"device_fingerprint": "bfp_9f8e7d"})).await, 0, "another kind");
    assert_eq!(matches(&app, &browsers, json!({"browser_fingerprint": "bfp_9f8e7e"})).await, 0);
    assert_eq!(matches(&app, &devices, json!({"device_fingerprint": "dfp_1a2b3c"})).await, 1);

    let strings = create_list(&app, "string", "flag").await;
    add_item(&app, &strings, json!({"value": "Promo-Abuse-7"})).await;
    assert_eq!(matches(&app, &strings, json!({"value": "promo-abuse-7"})).await, 1);
    let r = check(&app, json!({"referral_code": "PROMO-ABUSE-7"}), json!([strings])).await;
    assert_eq!(r.body["data"][0]["matched_field"], "referral_code", "{}", r.body);
    assert_eq!(matches(&app, &strings, json!({"value": "promo-abuse-8"})).await, 0);

    // Nothing was persisted by any of these checks, and a named list must exist here.
    let before = event_count(&app);
    check(&app, json!({"email": "fraud@example.com"}), Value::Null).await;
    assert_eq!(event_count(&app), before, "a check appends nothing");
    let r = app.post("/lists/check", json!({"subject_data": {}, "list_ids": [UNKNOWN_LIST]})).await;
    assert_error(&r, 404);
    assert!(r.body["detail"].as_str().unwrap().contains("list_ids[0]"), "{}", r.body);
    assert_error(&app.post("/lists/check", json!({"list_ids": null})).await, 422);
}

#[actix_web::test]
async fn block_flag_and_allow_modes_are_reported() {
    let app = spawn_app().await;
    let mut lists = Vec::new();
    for mode in ["block", "flag", "allow"] {
        let id = create_list(&app, "email", mode).await;
        add_item(&app, &id, json!({"email": "shared@example.com"})).await;
        lists.push(id);
    }
    let subject = json!({"email": "shared@example.com"});
    let all = check(&app, subject.clone(), Value::Null).await;
    assert_eq!(all.body["total_matches"], 3, "every active list when list_ids is null: {}", all.body);
    assert_eq!(all.body["outcome"], "blocked");
    let modes: Vec<&str> =
        all.body["data"].as_array().unwrap().iter().map(|m| m["match_mode"].as_str().unwrap()).collect();
    for mode in ["block", "flag", "allow"] {
        assert!(modes.contains(&mode), "{modes:?}");
    }
    assert_eq!(check(&app, subject.clone(), json!([lists[1], lists[2]])).await.body["outcome"], "flagged");
    assert_eq!(check(&app, subject.clone(), json!([lists[2]])).await.body["outcome"], "allowed");
    assert_eq!(check(&app, json!({"email": "nobody@example.com"}), Value::Null).await.body["outcome"], "clear");

    // An inactive list is not checked, even when named.
    assert_eq!(app.patch(&format!("/lists/{}", lists[0]), json!({"is_active": false})).await.status, 200);
    assert_eq!(check(&app, subject.clone(), Value::Null).await.body["total_matches"], 2);
    assert_eq!(check(&app, subject.clone(), json!([lists[0]])).await.body["total_matches"], 0);
    assert_eq!(app.get("/lists?is_active=false").await.body["pagination"]["total"], 1);
}

// ---------------------------------------------------------------------------------------------------------------
// Bulk and CSV
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn bulk_add_takes_up_to_1000_items_all_or_nothing() {
    let app = spawn_app().await;
    let list = create_list(&app, "email", "flag").await;
    let items = |n: usize| -> Vec<Value> {
        (0..n).map(|i| json!({"value": {"email": format!("user{i}@bulk.example")}, "notes": format!("n{i}")})).collect()
    };
    let r = app.post(&format!("/lists/{list}/items/bulk"), json!({ "items": items(1000) })).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["created"], 1000);
    assert_eq!(r.body["data"][999]["value"]["email"], "user999@bulk.example");
    assert_eq!(app.get(&format!("/lists/{list}")).await.body["item_count"], 1000);
    assert_eq!(matches(&app, &list, json!({"email": "user500@bulk.example"})).await, 1);

    let over = app.post(&format!("/lists/{list}/items/bulk"), json!({ "items": items(1001) })).await;
    assert_eq!(assert_error(&over, 422), "validation_error");
    assert_eq!(over.body["errors"][0]["field"], "items");

    let mut mixed = items(3);
    mixed[2] = json!({"value": {"email": "broken"}});
    mixed[0] = json!({"value": {"email": "ok@bulk.example", "extra": 1}});
    let r = app.post(&format!("/lists/{list}/items/bulk"), json!({ "items": mixed })).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["items[0].value.extra", "items[2].value.email"], "{}", r.body);
    assert_eq!(app.get(&format!("/lists/{list}")).await.body["item_count"], 1000, "nothing was added");
    assert_error(&app.post(&format!("/lists/{list}/items/bulk"), json!({"items": []})).await, 422);
    assert_error(&app.post(&format!("/lists/{UNKNOWN_LIST}/items/bulk"), json!({ "items": items(1) })).await, 404);
}

#[actix_web::test]
async fn csv_import_and_export_round_trip() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let list = create_list(&app, "name", "block").await;
    let csv =
        "first_name,last_name,date_of_birth,notes\nJohn,Smith,1985-03-02,\"Case 1, confirmed\"\nÉlodie,D'Arcy,,\n";
    let r = app.upload(&format!("/lists/{list}/import"), Some(&key), &[], Some(("text/csv", csv.as_bytes()))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["created"], 2);
    assert_eq!(r.body["data"][1]["value"], json!({"first_name": "Élodie", "last_name": "D'Arcy"}));
    assert_eq!(r.body["data"][0]["notes"], "Case 1, confirmed");

    let export = app.get(&format!("/lists/{list}/export")).await;
    assert_eq!(export.status, 200);
    assert!(export.header("content-type").unwrap().starts_with("text/csv"), "{:?}", export.header("content-type"));
    assert!(export.header("content-disposition").unwrap().contains(&list));
    let text = String::from_utf8(export.raw.clone()).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, vec!["first_name", "last_name", "date_of_birth", "notes", "id", "created_at"]);
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][..4], &["John", "Smith", "1985-03-02", "Case 1, confirmed"]);
    assert_eq!(&rows[1][..4], &["Élodie", "D'Arcy", "", ""]);

    // The export re-imports as it is, into another list of the same type.
    let copy = create_list(&app, "name", "flag").await;
    let r =
        app.upload(&format!("/lists/{copy}/import"), Some(&key), &[], Some(("text/csv", export.raw.as_slice()))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let again = app.get(&format!("/lists/{copy}/export")).await;
    let again_rows: Vec<Vec<String>> = csv::Reader::from_reader(again.raw.as_slice())
        .records()
        .map(|r| r.unwrap().iter().take(4).map(str::to_string).collect())
        .collect();
    let first4: Vec<Vec<String>> = rows.iter().map(|r| r[..4].to_vec()).collect();
    assert_eq!(again_rows, first4);
    assert_eq!(
        matches(&app, &copy, json!({"first_name": "Jon", "last_name": "Smith", "date_of_birth": "1985-03-02"})).await,
        1
    );

    // Errors: unknown column, bad row, no file, too many rows, not multipart.
    let r = app
        .upload(&format!("/lists/{list}/import"), Some(&key), &[], Some(("text/csv", b"name\nJohn\n".as_slice())))
        .await;
    assert_eq!(r.body["errors"][0]["field"], "file", "{}", r.body);
    let bad_row = "first_name,last_name,date_of_birth\nA,B,1985-03-02\nC,,01/02/1990\n";
    let r = app.upload(&format!("/lists/{list}/import"), Some(&key), &[], Some(("text/csv", bad_row.as_bytes()))).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["rows[1].last_name", "rows[1].date_of_birth"], "{}", r.body);
    assert_eq!(app.get(&format!("/lists/{list}")).await.body["item_count"], 2, "all or nothing");
    let r = app.upload(&format!("/lists/{list}/import"), Some(&key), &[("note", "x")], None).await;
    assert_eq!(r.body["errors"][0]["field"], "file", "{}", r.body);
    let mut big = String::from("first_name,last_name\n");
    for i in 0..1001 {
        big.push_str(&format!("N{i},L{i}\n"));
    }
    let r = app.upload(&format!("/lists/{list}/import"), Some(&key), &[], Some(("text/csv", big.as_bytes()))).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    let r = app.post(&format!("/lists/{list}/import"), json!({"file": "x"})).await;
    assert_eq!(assert_error(&r, 415), "unsupported_media_type");
    assert_error(&app.get(&format!("/lists/{UNKNOWN_LIST}/export")).await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// Archive and workflows
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn archiving_is_refused_while_an_active_workflow_uses_the_list() {
    let app = spawn_app().await;
    let list = create_list(&app, "email", "block").await;
    let unused = create_list(&app, "email", "flag").await;
    let graph = json!({
        "entry": "start",
        "nodes": {
            "start": {"type": "start", "next": "lists"},
            "lists": {"type": "policy", "policy": "check_against_list", "list_ids": [list],
                      "on_pass": "ok", "on_fail": "no"},
            "ok": {"type": "terminal", "outcome": "approved"},
            "no": {"type": "terminal", "outcome": "rejected"}
        }
    });
    let wf = app.post("/workflows", json!({"name": "with lists", "graph": graph})).await;
    if wf.status == 422 {
        // The workflow layer does not know the `check_against_list` policy yet, so no workflow can
        // reference a list: archiving simply succeeds.
        assert!(wf.body.to_string().contains("check_against_list"), "{}", wf.body);
        assert_eq!(app.get(&format!("/lists/{list}")).await.body["workflows"], json!([]));
        let r = app.post(&format!("/lists/{list}/archive"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        return;
    }
    assert_eq!(wf.status, 201, "{}", wf.body);
    let wf_id = wf.body["id"].as_str().unwrap().to_string();
    let got = app.get(&format!("/lists/{list}")).await;
    assert_eq!(got.body["workflows"][0]["id"], wf_id.as_str(), "{}", got.body);
    assert_eq!(got.body["workflows"][0]["is_active"], true);
    assert_eq!(app.get(&format!("/lists/{unused}")).await.body["workflows"], json!([]));

    let refused = app.post(&format!("/lists/{list}/archive"), json!({})).await;
    assert_eq!(assert_error(&refused, 409), "conflict");
    assert!(refused.body["detail"].as_str().unwrap().contains(&wf_id), "{}", refused.body);
    assert_eq!(app.post(&format!("/lists/{unused}/archive"), json!({})).await.status, 200);

    assert_eq!(app.post(&format!("/workflows/{wf_id}/deactivate"), json!({})).await.status, 200);
    let r = app.post(&format!("/lists/{list}/archive"), json!({})).await;
    assert_eq!(r.status, 200, "an inactive workflow does not hold the list: {}", r.body);
    assert_eq!(r.body["workflows"][0]["is_active"], false);
}

/// The same rule, with the workflow written straight to the log: the workflow API does not accept the
/// `check_against_list` policy yet, but the list side must already honour a published graph naming it.
#[actix_web::test]
async fn a_published_graph_naming_the_list_holds_it_until_the_workflow_is_deactivated() {
    use idv::store::events::NewEvent;
    use std::sync::Arc;

    let clocked = spawn_app_with_clock(Arc::new(idv::clock::ManualClock::new(time::OffsetDateTime::now_utc()))).await;
    let app = &clocked.app;
    let list = create_list(app, "email", "block").await;
    let unused = create_list(app, "email", "flag").await;
    let wf_id = "wfl_01ARZ3NDEKTSV4RRFFQ69G5FAV".to_string();
    let graph = json!({
        "entry": "start",
        "nodes": {
            "start": {"type": "start", "next": "lists"},
            "lists": {"type": "policy", "policy": "check_against_list", "list_ids": [list], "on_pass": "ok", "on_fail": "no"},
            "ok": {"type": "terminal", "outcome": "approved"},
            "no": {"type": "terminal", "outcome": "rejected"},
            // Naming a list anywhere else is not a reference.
            "note": {"type": "terminal", "outcome": "needs_review", "comment": unused}
        }
    });
    let meta = idv::store::events::EventMeta {
        actor: "test".into(),
        environment: "sandbox".into(),
        request_id: None,
        recorded_at: "2026-02-01T12:00:00.000Z".into(),
        origin: None,
    };
    let stream = wf_id.clone();
    clocked
        .writer
        .execute(move |w| {
            let events = vec![
                NewEvent::new(
                    "WorkflowCreated",
                    json!({"name": "lists", "description": null, "data_requirements": {}, "screening_settings": {}}),
                ),
                NewEvent::new(
                    "WorkflowVersionDrafted",
                    json!({"version": 1, "format": "graph", "steps": null, "graph": graph}),
                ),
                NewEvent::new("WorkflowPublished", json!({"version": 1})),
            ];
            w.emit(&meta, &stream, 0, events).map(|_| ())
        })
        .await
        .expect("workflow written");

    let got = app.get(&format!("/lists/{list}")).await;
    assert_eq!(got.body["workflows"], json!([{"id": wf_id, "name": "lists", "is_active": true, "version": 1}]));
    assert_eq!(app.get(&format!("/lists/{unused}")).await.body["workflows"], json!([]));
    let refused = app.post(&format!("/lists/{list}/archive"), json!({})).await;
    assert_eq!(assert_error(&refused, 409), "conflict");
    assert!(refused.body["detail"].as_str().unwrap().contains(&wf_id), "{}", refused.body);
    assert!(app.get(&format!("/lists/{list}")).await.body["archived_at"].is_null());
    assert_eq!(app.post(&format!("/lists/{unused}/archive"), json!({})).await.status, 200);

    assert_eq!(app.post(&format!("/workflows/{wf_id}/deactivate"), json!({})).await.status, 200);
    let r = app.post(&format!("/lists/{list}/archive"), json!({})).await;
    assert_eq!(r.status, 200, "an inactive workflow does not hold the list: {}", r.body);
    assert_eq!(r.body["workflows"][0]["is_active"], false);
}

// ---------------------------------------------------------------------------------------------------------------
// Match records and false positives
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn verification_matches_are_recorded_once_and_can_be_marked_false_positive() {
    use idv::commands::lists::record_matches_in;
    use idv::commands::CommandMeta;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    let clocked = spawn_app_with_clock(Arc::new(idv::clock::ManualClock::new(time::OffsetDateTime::now_utc()))).await;
    let app = &clocked.app;
    let blocked = create_list(app, "email", "block").await;
    let flagged = create_list(app, "country", "flag").await;
    let item = add_item(app, &blocked, json!({"email": "fraud@example.com"})).await;
    add_item(app, &flagged, json!({"country_code": "KP"})).await;
    let session = app.post("/sessions", json!({})).await;
    assert_eq!(session.status, 201, "{}", session.body);
    let session_id = session.body["id"].as_str().unwrap().to_string();

    let record = |list_ids: Option<Vec<String>>| {
        let session_id = session_id.clone();
        let writer = clocked.writer.clone();
        async move {
            let meta = CommandMeta::untraced("system", "sandbox", "2026-02-01T12:00:00.000Z");
            let subject: BTreeMap<String, String> =
                [("email", "Fraud@Example.com"), ("nationality", "KP"), ("first_name", "Zed")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
            writer
                .execute(move |w| record_matches_in(w, &meta, &session_id, &subject, list_ids.as_deref()))
                .await
                .expect("records")
        }
    };
    let outcome = record(None).await;
    assert_eq!(outcome.outcome, "blocked");
    assert!(outcome.blocked());
    assert_eq!(outcome.matches.len(), 2);
    assert_eq!(outcome.check_result()["status"], "failed");
    assert_eq!(record(Some(vec![flagged.clone()])).await.outcome, "flagged");
    assert_eq!(record(None).await.matches.len(), 2, "recorded once per session and item");

    let listed = app.get(&format!("/sessions/{session_id}/list-matches")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["pagination"]["total"], 2, "{}", listed.body);
    let record_json =
        listed.body["data"].as_array().unwrap().iter().find(|m| m["list_item_id"] == item.as_str()).unwrap();
    assert_eq!(record_json["list_id"], blocked.as_str());
    assert_eq!(record_json["match_mode"], "block");
    assert_eq!(record_json["matched_field"], "email");
    assert_eq!(record_json["is_false_positive"], false);
    assert!(!listed.body.to_string().to_lowercase().contains("fraud@example.com"), "no values in match records");
    let match_id = record_json["id"].as_str().unwrap().to_string();
    assert!(match_id.starts_with("lmatch_"));

    let marked =
        app.post(&format!("/lists/matches/{match_id}/false-positive"), json!({"reason": "Different person"})).await;
    assert_eq!(marked.status, 200, "{}", marked.body);
    assert_eq!(marked.body["is_false_positive"], true);
    assert_eq!(marked.body["false_positive_reason"], "Different person");
    assert!(marked.body["marked_false_positive_at"].is_string());
    let again = app.post(&format!("/lists/matches/{match_id}/false-positive"), json!({})).await;
    assert_eq!(again.status, 200, "marking twice is a no-op");
    assert_eq!(again.body["false_positive_reason"], "Different person");

    let after = record(None).await;
    assert_eq!(after.outcome, "flagged", "the reviewer's false positive no longer blocks");
    assert_eq!(after.check_result()["match_count"], 1);

    assert_error(&app.post("/lists/matches/lmatch_01ARZ3NDEKTSV4RRFFQ69G5FAV/false-positive", json!({})).await, 404);
    assert_error(&app.get("/sessions/ses_01ARZ3NDEKTSV4RRFFQ69G5FAV/list-matches").await, 404);
    let live = app.live_key.clone();
    let r = app.send("GET", &format!("/sessions/{session_id}/list-matches"), Some(&live), &[], None).await;
    assert_error(&r, 404);
    let r = app
        .send("POST", &format!("/lists/matches/{match_id}/false-positive"), Some(&live), &[], Some(&json!({})))
        .await;
    assert_error(&r, 404);

    // The views rebuild from the log exactly (match records and items included).
    let (master, _) = idv::crypto::MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    let ring = idv::crypto::Keyring::new(&master);
    let scratch = app.data_dir.path().join("scratch.db");
    idv::store::replay::check(&app.db_path(), &scratch, &ring).expect("replay equals the live views");
}

// ---------------------------------------------------------------------------------------------------------------
// Isolation, scopes, sealing
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn another_environments_list_is_not_found() {
    let app = spawn_app().await;
    let list = create_list(&app, "email", "block").await;
    let item = add_item(&app, &list, json!({"email": "sandbox-only@example.com"})).await;
    let live = app.live_key.clone();
    let cases: Vec<(&str, String, Value)> = vec![
        ("GET", format!("/lists/{list}"), json!({})),
        ("PATCH", format!("/lists/{list}"), json!({"name": "x"})),
        ("POST", format!("/lists/{list}/archive"), json!({})),
        ("GET", format!("/lists/{list}/items"), json!({})),
        ("POST", format!("/lists/{list}/items"), json!({"value": {"email": "a@b.co"}})),
        ("POST", format!("/lists/{list}/items/bulk"), json!({"items": [{"value": {"email": "a@b.co"}}]})),
        ("GET", format!("/lists/{list}/items/{item}"), json!({})),
        ("DELETE", format!("/lists/{list}/items/{item}"), json!({})),
        ("GET", format!("/lists/{list}/export"), json!({})),
    ];
    for (method, path, body) in &cases {
        let r = app.send(method, path, Some(&live), &[], Some(body)).await;
        assert_eq!(assert_error(&r, 404), "not_found", "{method} {path}");
        assert!(!String::from_utf8_lossy(&r.raw).contains("sandbox-only"), "{method} {path} leaks");
    }
    let r = app
        .upload(&format!("/lists/{list}/import"), Some(&live), &[], Some(("text/csv", b"email\na@b.co\n".as_slice())))
        .await;
    assert_error(&r, 404);
    assert_eq!(app.live_get("/lists").await.body["pagination"]["total"], 0);
    let subject = json!({"subject_data": {"email": "sandbox-only@example.com"}, "list_ids": null});
    let r = app.send("POST", "/lists/check", Some(&live), &[], Some(&subject)).await;
    assert_eq!(r.body["total_matches"], 0, "live checks never see sandbox lists: {}", r.body);
    let named = json!({"subject_data": {"email": "sandbox-only@example.com"}, "list_ids": [list]});
    let r = app.send("POST", "/lists/check", Some(&live), &[], Some(&named)).await;
    assert_eq!(assert_error(&r, 404), "not_found", "another environment's list names nothing here");
    // Unchanged in the sandbox.
    assert_eq!(app.get(&format!("/lists/{list}")).await.body["item_count"], 1);
}

#[actix_web::test]
async fn list_scopes_are_enforced() {
    let app = spawn_app().await;
    let list = create_list(&app, "email", "flag").await;
    let reader = app.key_with_scopes(&["lists:read"]).await;
    let other = app.key_with_scopes(&["identities:read"]).await;
    assert_eq!(app.send("GET", "/lists", Some(&reader), &[], None).await.status, 200);
    assert_eq!(app.send("GET", &format!("/lists/{list}/export"), Some(&reader), &[], None).await.status, 200);
    let c = json!({"subject_data": {"email": "a@b.co"}});
    assert_eq!(app.send("POST", "/lists/check", Some(&reader), &[], Some(&c)).await.status, 200);
    let r = app.send("POST", "/lists", Some(&reader), &[], Some(&json!({"name": "x", "list_type": "email"}))).await;
    assert_eq!(assert_error(&r, 403), "insufficient_scope");
    assert!(r.body["detail"].as_str().unwrap().contains("lists:write"));
    let add = json!({"value": {"email": "a@b.co"}});
    assert_error(&app.send("POST", &format!("/lists/{list}/items"), Some(&reader), &[], Some(&add)).await, 403);
    assert_error(&app.send("POST", &format!("/lists/{list}/archive"), Some(&reader), &[], Some(&json!({}))).await, 403);
    assert_error(&app.send("GET", "/lists", Some(&other), &[], None).await, 403);
    assert_error(&app.send("POST", "/lists/check", Some(&other), &[], Some(&c)).await, 403);
    assert_error(&app.send("GET", "/lists", None, &[], None).await, 401);
}

const SEEDED: &[&str] = &[
    "Quintavious",
    "Blunderbore",
    "1957-11-23",
    "quintavious.b@sealed-example.org",
    "sealed-domain-example.net",
    "+1 555 019 4321",
    "5550194321",
    "198.51.100.231",
    "ZX-9081-QW",
    "ZX9081QW",
    "fp-browser-7c1e55aa",
    "fp-device-3b9d02ff",
    "48.85837",
    "2.294481",
    "0.3141592653",
    "https://faces.sealed-example.org/q.jpg",
    "ultra-secret-token-7781",
    "Reported by branch 42",
];

fn file_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    bytes
}

#[actix_web::test]
async fn list_item_values_never_reach_the_database_file_or_wal_in_plaintext() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let seed: Vec<(&str, Value)> = vec![
        ("name", json!({"first_name": "Quintavious", "last_name": "Blunderbore", "date_of_birth": "1957-11-23"})),
        ("email", json!({"email": "quintavious.b@sealed-example.org"})),
        ("email", json!({"email": "sealed-domain-example.net", "match_domain_only": true})),
        ("phone", json!({"phone": "+1 555 019 4321"})),
        ("ip_address", json!({"ip": "198.51.100.231"})),
        ("government_id", json!({"id_number": "ZX-9081-QW"})),
        ("browser_fingerprint", json!({"fingerprint_hash": "fp-browser-7c1e55aa"})),
        ("device_fingerprint", json!({"fingerprint_hash": "fp-device-3b9d02ff"})),
        ("geolocation", json!({"latitude": 48.858370, "longitude": 2.294481, "radius_meters": 250})),
        (
            "face",
            json!({"embedding": [0.3141592653, 0.5, 0.25], "image_url": "https://faces.sealed-example.org/q.jpg"}),
        ),
        ("string", json!({"value": "ultra-secret-token-7781"})),
    ];
    let mut lists = Vec::new();
    for (list_type, value) in seed {
        let list = create_list(&app, list_type, "block").await;
        let r =
            app.post(&format!("/lists/{list}/items"), json!({"value": value, "notes": "Reported by branch 42"})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        lists.push(list);
    }
    let csv = "phone,notes\n+1 555 019 4321,Reported by branch 42\n";
    let r =
        app.upload(&format!("/lists/{}/import", lists[3]), Some(&key), &[], Some(("text/csv", csv.as_bytes()))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let hit = check(
        &app,
        json!({"first_name": "Quintavious", "last_name": "Blunderbore", "date_of_birth": "1957-11-23",
               "email": "quintavious.b@sealed-example.org", "latitude": 48.8584, "longitude": 2.2945,
               "embedding": [0.3141592653, 0.5, 0.25], "ip": "198.51.100.231"}),
        Value::Null,
    )
    .await;
    assert!(hit.body["total_matches"].as_u64().unwrap() >= 5, "{}", hit.body);
    assert_eq!(
        app.get(&format!("/lists/{}/items", lists[0])).await.body["data"][0]["value"]["first_name"],
        "Quintavious"
    );

    let bytes = file_bytes(&app);
    for needle in SEEDED {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "plaintext {needle:?} found in the database file or WAL"
        );
    }
}

/// The operation at `path`/`method` in the served document, with `$ref`s to components resolved.
fn typed_schema<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

#[actix_web::test]
async fn list_operations_are_documented_with_typed_schemas() {
    let app = spawn_app().await;
    let doc = app.send("GET", "/api/v1/openapi.json", None, &[], None).await.body;
    let ops = [
        ("/api/v1/lists", "get", "200", false),
        ("/api/v1/lists", "post", "201", true),
        ("/api/v1/lists/check", "post", "200", true),
        ("/api/v1/lists/matches/{match_id}/false-positive", "post", "200", true),
        ("/api/v1/lists/{list_id}", "get", "200", false),
        ("/api/v1/lists/{list_id}", "patch", "200", true),
        ("/api/v1/lists/{list_id}/archive", "post", "200", false),
        ("/api/v1/lists/{list_id}/items", "get", "200", false),
        ("/api/v1/lists/{list_id}/items", "post", "201", true),
        ("/api/v1/lists/{list_id}/items/bulk", "post", "201", true),
        ("/api/v1/lists/{list_id}/items/{item_id}", "get", "200", false),
        ("/api/v1/lists/{list_id}/items/{item_id}", "delete", "200", false),
        ("/api/v1/sessions/{session_id}/list-matches", "get", "200", false),
        ("/api/v1/sessions/{session_id}/lists/matches", "get", "200", false),
    ];
    for (path, method, code, has_body) in ops {
        let op = &doc["paths"][path][method];
        assert_eq!(op["tags"], json!(["Lists"]), "{method} {path}");
        let response = typed_schema(&doc, &op["responses"][code]["content"]["application/json"]["schema"]);
        assert!(response["properties"].as_object().is_some_and(|p| !p.is_empty()), "{method} {path}: {response}");
        if has_body {
            let body = typed_schema(&doc, &op["requestBody"]["content"]["application/json"]["schema"]);
            assert!(body["properties"].as_object().is_some_and(|p| !p.is_empty()), "{method} {path}: {body}");
        }
    }
    let list = &doc["components"]["schemas"]["ListView"];
    assert_eq!(list["properties"]["list_type"]["$ref"], "#/components/schemas/ListType");
    let types = &doc["components"]["schemas"]["ListType"]["enum"];
    assert!(types.as_array().is_some_and(|t| t.contains(&json!("string")) && t.contains(&json!("ip_address"))));
    let import = &doc["paths"]["/api/v1/lists/{list_id}/import"]["post"]["requestBody"]["content"];
    assert!(import.get("multipart/form-data").is_some(), "{import}");
    let export = &doc["paths"]["/api/v1/lists/{list_id}/export"]["get"]["responses"]["200"]["content"];
    assert!(export.get("text/csv").is_some(), "{export}");
}

#[actix_web::test]
async fn values_refused_by_the_list_types_name_the_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"name": "L", "list_type": "planet"}), "list_type"),
        (json!({"name": "L", "list_type": "email", "match_mode": "maybe"}), "match_mode"),
        (json!({"name": "L", "list_type": "email", "colour": "red"}), "colour"),
        (json!({"list_type": "email"}), "name"),
    ] {
        let r = app.post("/lists", body.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
    }
    let r = app.post("/lists/check", json!({"subject_data": {}, "list_ids": ["not-a-list"]})).await;
    assert_eq!(r.body["errors"][0]["field"], "list_ids[0]", "{}", r.body);
    let r = app.get("/lists?list_type=planet").await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert_eq!(r.body["errors"][0]["field"], "list_type", "{}", r.body);
    // A malformed id in a path names nothing that exists.
    assert_error(&app.get("/lists/not-a-list").await, 404);
    assert_error(&app.get("/lists/list_01ARZ3NDEKTSV4RRFFQ69G5FAV/items/nope").await, 404);
}
