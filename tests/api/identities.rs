//! Identity endpoints end to end.

use crate::helpers::*;
use serde_json::json;

#[actix_web::test]
async fn create_get_update_and_redact_an_identity() {
    let app = spawn_app().await;
    let created = app
        .post("/identities", json!({"external_ref": "user_1", "first_name": "Jane", "last_name": "Doe", "date_of_birth": "1990-01-02", "email": "jane@example.com"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["upserted"], false);
    assert_eq!(created.body["status"], "pending");
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("idn_"));

    let by_ref = app.get("/identities/user_1").await;
    assert_eq!(by_ref.status, 200);
    assert_eq!(by_ref.body["id"], id.as_str());
    assert_eq!(by_ref.body["extracted_data"]["first_name"], "Jane");

    let updated = app.patch(&format!("/identities/{id}"), json!({"city": "Paris", "status": "verified"})).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["status"], "approved");
    assert_eq!(updated.body["extracted_data"]["city"], "Paris");

    let redacted = app.delete(&format!("/identities/{id}/data")).await;
    assert_eq!(redacted.status, 200, "{}", redacted.body);
    assert_eq!(redacted.body["status"], "redacted");
    let after = app.get(&format!("/identities/{id}")).await;
    assert_eq!(after.body["status"], "redacted");
    assert!(after.body["extracted_data"].is_null());
    assert_eq!(assert_error(&app.patch(&format!("/identities/{id}"), json!({"city": "Rome"})).await, 409), "conflict");
    assert_error(&app.delete(&format!("/identities/{id}/data")).await, 409);
}

// ---------------------------------------------------------------------------------------------------------------
// GET /identities: filters, archive exclusion and both pagination styles
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn list_filters_by_status_with_aliases_and_by_external_ref_text() {
    let app = spawn_app().await;
    let alpha = app.create_identity(json!({"external_ref": "cust_alpha", "status": "approved"})).await;
    let beta = app.create_identity(json!({"external_ref": "cust_beta"})).await;
    let gamma = app.create_identity(json!({"external_ref": "other_gamma", "status": "rejected"})).await;

    let all = app.get("/identities").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(sorted(ids_of(&all)), sorted(vec![alpha.clone(), beta.clone(), gamma.clone()]));

    for status in ["approved", "verified", "VERIFIED"] {
        let r = app.get(&format!("/identities?status={status}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(ids_of(&r), vec![alpha.clone()], "status={status}");
        assert_eq!(r.body["pagination"]["total"], 1);
    }
    let pending = app.get("/identities?status=created").await;
    assert_eq!(ids_of(&pending), vec![beta.clone()], "created is an alias of pending");
    let two = app.get("/identities?status=pending,rejected").await;
    assert_eq!(sorted(ids_of(&two)), sorted(vec![beta.clone(), gamma.clone()]));

    let q = app.get("/identities?q=cust_").await;
    assert_eq!(sorted(ids_of(&q)), sorted(vec![alpha.clone(), beta.clone()]));
    let q = app.get("/identities?q=GAMM").await;
    assert_eq!(ids_of(&q), vec![gamma.clone()]);
    // `_` and `%` are literal in q, not wildcards.
    let q = app.get("/identities?q=%25").await;
    assert_eq!(q.body["pagination"]["total"], 0, "{}", q.body);
    let q = app.get("/identities?q=nobody").await;
    assert_eq!(q.body["data"], json!([]));
}

#[actix_web::test]
async fn archived_identities_are_listed_only_with_include_archived() {
    let app = spawn_app().await;
    let kept = app.create_identity(json!({"external_ref": "kept"})).await;
    let archived = app.create_identity(json!({"external_ref": "archived"})).await;
    assert_eq!(app.post(&format!("/identities/{archived}/archive"), json!({})).await.status, 200);

    let default = app.get("/identities").await;
    assert_eq!(ids_of(&default), vec![kept.clone()]);
    assert_eq!(default.body["pagination"]["total"], 1);
    let explicit_false = app.get("/identities?include_archived=false").await;
    assert_eq!(ids_of(&explicit_false), vec![kept.clone()]);
    let with = app.get("/identities?include_archived=true").await;
    assert_eq!(with.body["pagination"]["total"], 2);
    assert_eq!(sorted(ids_of(&with)), sorted(vec![kept.clone(), archived.clone()]));
    assert_error(&app.get("/identities?include_archived=maybe").await, 422);
}

#[actix_web::test]
async fn offset_pagination_has_the_documented_envelope_and_limits() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_identity(json!({ "external_ref": format!("page_{i}") })).await;
    }
    let first = app.get("/identities").await;
    assert_eq!(first.body["pagination"], json!({"total": 5, "limit": 25, "offset": 0}));
    let everything = ids_of(&first);
    assert_eq!(everything.len(), 5);

    let page = app.get("/identities?limit=2&offset=1").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["pagination"], json!({"total": 5, "limit": 2, "offset": 1}));
    assert_eq!(ids_of(&page), everything[1..3].to_vec());
    let tail = app.get("/identities?limit=2&offset=4").await;
    assert_eq!(ids_of(&tail), everything[4..].to_vec());
    let past = app.get("/identities?limit=2&offset=50").await;
    assert_eq!(past.body["data"], json!([]));
    assert_eq!(past.body["pagination"]["total"], 5);

    for bad in ["limit=0", "limit=101", "limit=abc", "offset=-1"] {
        let r = app.get(&format!("/identities?{bad}")).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{bad}");
    }
}

#[actix_web::test]
async fn cursor_pagination_walks_forward_and_back() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_identity(json!({ "external_ref": format!("cur_{i}") })).await;
    }
    let everything = ids_of(&app.get("/identities?limit=100").await);
    assert_eq!(everything.len(), 5);

    let p1 = app.get("/identities?page%5Bsize%5D=2").await;
    assert_eq!(p1.status, 200, "{}", p1.body);
    assert_eq!(ids_of(&p1), everything[0..2].to_vec());
    let pg = &p1.body["pagination"];
    assert_eq!(pg["has_next"], true);
    assert_eq!(pg["has_prev"], false);
    assert!(pg["prev_cursor"].is_null());
    assert_eq!(pg["next_cursor"], everything[1].as_str());
    assert!(pg.get("total").is_none(), "cursor pages carry no total: {pg}");

    let after = pg["next_cursor"].as_str().unwrap().to_string();
    let p2 = app.get(&format!("/identities?page%5Bsize%5D=2&page%5Bafter%5D={after}")).await;
    assert_eq!(ids_of(&p2), everything[2..4].to_vec());
    let pg = &p2.body["pagination"];
    assert_eq!((pg["has_next"].clone(), pg["has_prev"].clone()), (json!(true), json!(true)));
    assert_eq!(pg["prev_cursor"], everything[2].as_str());
    assert_eq!(pg["next_cursor"], everything[3].as_str());

    let after = pg["next_cursor"].as_str().unwrap().to_string();
    let p3 = app.get(&format!("/identities?page%5Bsize%5D=2&page%5Bafter%5D={after}")).await;
    assert_eq!(ids_of(&p3), everything[4..].to_vec());
    let pg = &p3.body["pagination"];
    assert_eq!(pg["has_next"], false);
    assert!(pg["next_cursor"].is_null());
    assert_eq!(pg["has_prev"], true);
    assert_eq!(pg["prev_cursor"], everything[4].as_str());

    // Walking back from page 3 gives page 2, then page 1.
    let before = pg["prev_cursor"].as_str().unwrap().to_string();
    let back2 = app.get(&format!("/identities?page%5Bsize%5D=2&page%5Bbefore%5D={before}")).await;
    assert_eq!(ids_of(&back2), everything[2..4].to_vec());
    assert_eq!(back2.body["pagination"]["has_prev"], true);
    assert_eq!(back2.body["pagination"]["has_next"], true);
    let before = back2.body["pagination"]["prev_cursor"].as_str().unwrap().to_string();
    let back1 = app.get(&format!("/identities?page%5Bsize%5D=2&page%5Bbefore%5D={before}")).await;
    assert_eq!(ids_of(&back1), everything[0..2].to_vec());
    assert_eq!(back1.body["pagination"]["has_prev"], false);
    assert!(back1.body["pagination"]["prev_cursor"].is_null());
    assert_eq!(back1.body["pagination"]["has_next"], true);

    // Default size is 25; size is bounded; after and before together are refused.
    let all = app.get(&format!("/identities?page%5Bafter%5D={}", everything[0])).await;
    assert_eq!(ids_of(&all), everything[1..].to_vec());
    assert_error(&app.get("/identities?page%5Bsize%5D=101").await, 422);
    assert_error(&app.get("/identities?page%5Bsize%5D=0").await, 422);
    let both =
        app.get(&format!("/identities?page%5Bafter%5D={}&page%5Bbefore%5D={}", everything[0], everything[1])).await;
    assert_eq!(both.status, 200, "page[after] wins when both are sent: {}", both.body);
}

// ---------------------------------------------------------------------------------------------------------------
// POST /identities
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn create_returns_201_with_the_documented_shape() {
    let app = spawn_app().await;
    let r = app.post("/identities", json!({"external_ref": "shape_1", "country": "fr", "tags": ["vip", "vip"]})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    for field in ["id", "external_ref", "status", "is_sandbox", "created_at", "upserted"] {
        assert!(r.body.get(field).is_some(), "{field} missing: {}", r.body);
    }
    assert_eq!(r.body["external_ref"], "shape_1");
    assert_eq!(r.body["is_sandbox"], true);
    assert_eq!(r.body["upserted"], false);
    assert!(r.body["created_at"].as_str().unwrap().ends_with('Z'));
    let id = r.body["id"].as_str().unwrap();
    let full = app.get(&format!("/identities/{id}")).await;
    assert_eq!(full.body["country"], "FR", "country is canonicalised");
    assert_eq!(full.body["tags"], json!(["vip"]), "tags are deduplicated");
    assert_eq!(full.body["monitoring_enabled"], true);
    assert!(full.body["archived_at"].is_null());
}

#[actix_web::test]
async fn create_without_external_ref_is_422_naming_the_field() {
    let app = spawn_app().await;
    let r = app.post("/identities", json!({"first_name": "Ann"})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "external_ref"), "{}", r.body);
    for err in r.body["errors"].as_array().unwrap() {
        assert!(err["field"].is_string() && err["message"].is_string(), "{err}");
    }
    let r = app.post("/identities", json!({"external_ref": "   "})).await;
    assert_error(&r, 422);
    assert!(has_field_error(&r.body, "external_ref"), "{}", r.body);
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 0, "nothing was created");
}

#[actix_web::test]
async fn duplicate_external_ref_is_409_unless_upsert() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "dup_1", "first_name": "Ann"})).await;
    let again = app.post("/identities", json!({"external_ref": "dup_1"})).await;
    assert_eq!(assert_error(&again, 409), "conflict");

    let upsert = app.post("/identities", json!({"external_ref": "dup_1", "upsert": true})).await;
    assert_eq!(upsert.status, 200, "{}", upsert.body);
    assert_eq!(upsert.body["upserted"], true);
    assert_eq!(upsert.body["id"], id.as_str());
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 1);

    // upsert on a fresh ref creates.
    let fresh = app.post("/identities", json!({"external_ref": "dup_2", "upsert": true})).await;
    assert_eq!(fresh.status, 201, "{}", fresh.body);
    assert_eq!(fresh.body["upserted"], false);
    assert_error(&app.post("/identities", json!({"external_ref": "dup_3", "upsert": "yes"})).await, 422);

    // A reference shaped like an identity id is still a reference: a second use is a conflict (not a
    // failure of the view's unique index), and it never resolves to the identity with that id.
    let id_shaped = "idn_01JZZZZZZZZZZZZZZZZZZZZZZZ";
    app.create_identity(json!({"external_ref": id_shaped})).await;
    assert_eq!(assert_error(&app.post("/identities", json!({"external_ref": id_shaped})).await, 409), "conflict");
    let own_id_as_ref = app.post("/identities", json!({"external_ref": id, "upsert": true})).await;
    assert_eq!(own_id_as_ref.status, 201, "{}", own_id_as_ref.body);
    assert_ne!(own_id_as_ref.body["id"], id.as_str());
}

#[actix_web::test]
async fn create_validates_email_date_of_birth_and_country() {
    let app = spawn_app().await;
    let cases = [
        (json!({"external_ref": "v1", "email": "not-an-email"}), "email"),
        (json!({"external_ref": "v2", "date_of_birth": "02/01/1990"}), "date_of_birth"),
        (json!({"external_ref": "v3", "date_of_birth": "1991-02-29"}), "date_of_birth"),
        (json!({"external_ref": "v4", "date_of_birth": "2999-01-01"}), "date_of_birth"),
        (json!({"external_ref": "v5", "country": "XX"}), "country"),
        (json!({"external_ref": "v6", "country": "USA"}), "country"),
        (json!({"external_ref": "v7", "nationality": "ZZ"}), "nationality"),
        (json!({"external_ref": "v8", "phone": "12"}), "phone"),
        (json!({"external_ref": "v9", "first_name": 42}), "first_name"),
        (json!({"external_ref": "v10", "status": "bogus"}), "status"),
    ];
    for (body, field) in cases {
        let r = app.post("/identities", body.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{body}");
        assert!(has_field_error(&r.body, field), "{field} not named for {body}: {}", r.body);
    }
    // Every problem is reported at once.
    let r = app.post("/identities", json!({"external_ref": "v11", "email": "x", "country": "QQ"})).await;
    assert_error(&r, 422);
    assert!(has_field_error(&r.body, "email") && has_field_error(&r.body, "country"), "{}", r.body);
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 0);
}

#[actix_web::test]
async fn create_rejects_unknown_fields() {
    let app = spawn_app().await;
    let r = app.post("/identities", json!({"external_ref": "u1", "favourite_colour": "blue"})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(has_field_error(&r.body, "favourite_colour"), "{}", r.body);
    assert_eq!(app.get("/identities").await.body["pagination"]["total"], 0);
}

// ---------------------------------------------------------------------------------------------------------------
// GET /identities/{id}
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn get_by_id_and_by_external_ref_and_404s() {
    let app = spawn_app().await;
    let id = app
        .create_identity(
            json!({"external_ref": "ref-42", "first_name": "Ada", "last_name": "Lovelace", "country": "GB"}),
        )
        .await;
    let by_id = app.get(&format!("/identities/{id}")).await;
    assert_eq!(by_id.status, 200, "{}", by_id.body);
    let by_ref = app.get("/identities/ref-42").await;
    assert_eq!(by_ref.status, 200, "{}", by_ref.body);
    assert_eq!(by_id.body, by_ref.body);
    let b = &by_id.body;
    assert_eq!(b["id"], id.as_str());
    assert_eq!(b["external_ref"], "ref-42");
    assert_eq!(b["status"], "pending");
    assert_eq!(b["is_sandbox"], true);
    assert_eq!(b["session_count"], 0);
    assert_eq!(b["extracted_data"]["first_name"], "Ada");
    assert_eq!(b["extracted_data"]["last_name"], "Lovelace");
    assert_eq!(b["country"], "GB");
    assert!(b["tags"].is_array() && b["custom_fields"].is_object(), "{b}");

    let missing = app.get("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV").await;
    assert_eq!(assert_error(&missing, 404), "not_found");
    assert_eq!(assert_error(&app.get("/identities/no-such-ref").await, 404), "not_found");
}

// ---------------------------------------------------------------------------------------------------------------
// PATCH /identities/{id}
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn patch_recomputes_search_hashes_for_changed_pii() {
    let app = spawn_app().await;
    let id = app
        .create_identity(json!({"external_ref": "p1", "first_name": "Mia", "last_name": "Wong", "date_of_birth": "1985-05-05", "email": "old@example.com"}))
        .await;
    assert_eq!(search_ids(&app, json!({"email": "old@example.com"})).await, vec![id.clone()]);

    let r = app.patch(&format!("/identities/{id}"), json!({"email": "new@example.com"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["extracted_data"]["email"], "new@example.com");
    assert_eq!(r.body["extracted_data"]["first_name"], "Mia", "other PII kept");
    assert!(search_ids(&app, json!({"email": "old@example.com"})).await.is_empty());
    assert_eq!(search_ids(&app, json!({"email": "NEW@example.com"})).await, vec![id.clone()]);
    // Unchanged PII stays searchable after the update.
    let name_dob = json!({"first_name": "mia", "last_name": "WONG", "date_of_birth": "1985-05-05"});
    assert_eq!(search_ids(&app, name_dob.clone()).await, vec![id.clone()]);

    // Changing the name moves the name+DOB hash; clearing the email removes its hash.
    let r = app.patch(&format!("/identities/{id}"), json!({"last_name": "Chen", "email": null})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["extracted_data"].get("email").is_none(), "{}", r.body);
    assert!(search_ids(&app, name_dob).await.is_empty());
    let new_name = json!({"first_name": "Mia", "last_name": "Chen", "date_of_birth": "1985-05-05"});
    assert_eq!(search_ids(&app, new_name).await, vec![id.clone()]);
    assert!(search_ids(&app, json!({"email": "new@example.com"})).await.is_empty());
}

#[actix_web::test]
async fn patch_sets_status_manually_and_validates() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "s1"})).await;
    app.create_identity(json!({"external_ref": "s2"})).await;
    let r = app.patch(&format!("/identities/{id}"), json!({"status": "rejected"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(app.get("/identities/s1").await.body["status"], "rejected");
    let r = app.patch("/identities/s1", json!({"status": "needs_review"})).await;
    assert_eq!(r.body["status"], "under_review", "{}", r.body);

    for body in [json!({"status": "bogus"}), json!({"status": "redacted"}), json!({"status": "merged"})] {
        let r = app.patch(&format!("/identities/{id}"), body.clone()).await;
        assert_error(&r, 422);
        assert!(has_field_error(&r.body, "status"), "{body}: {}", r.body);
    }
    let r = app.patch(&format!("/identities/{id}"), json!({"email": "bad"})).await;
    assert!(has_field_error(&r.body, "email"), "{}", r.body);
    assert_error(&app.patch(&format!("/identities/{id}"), json!({"nope": 1})).await, 422);
    assert_error(&app.patch(&format!("/identities/{id}"), json!({"external_ref": "s2"})).await, 409);
    assert_eq!(app.get("/identities/s1").await.body["status"], "under_review", "failed patches changed nothing");
    let missing = app.patch("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV", json!({"city": "Oslo"})).await;
    assert_error(&missing, 404);

    // The external_ref can be changed; the old ref no longer resolves.
    let r = app.patch(&format!("/identities/{id}"), json!({"external_ref": "s1-renamed"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.get("/identities/s1-renamed").await.body["id"], id.as_str());
    assert_error(&app.get("/identities/s1").await, 404);
}

#[actix_web::test]
async fn patch_of_a_redacted_identity_is_409() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "r1", "first_name": "Al"})).await;
    assert_eq!(app.delete(&format!("/identities/{id}/data")).await.status, 200);
    for body in [json!({"first_name": "Bo"}), json!({"status": "approved"}), json!({"country": "US"})] {
        let r = app.patch(&format!("/identities/{id}"), body).await;
        assert_eq!(assert_error(&r, 409), "conflict");
    }
    assert_eq!(app.get(&format!("/identities/{id}")).await.body["status"], "redacted");
}

// ---------------------------------------------------------------------------------------------------------------
// DELETE /identities/{id}/data
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn redaction_erases_pii_and_search_hashes() {
    let app = spawn_app().await;
    let person = json!({
        "external_ref": "gdpr_1", "first_name": "Olga", "last_name": "Petrova", "date_of_birth": "1970-03-03",
        "email": "olga@example.com", "ssn": "123-45-6789", "phone": "+44 20 7946 0958", "country": "GB"
    });
    let id = app.create_identity(person).await;
    let other = app.create_identity(json!({"external_ref": "gdpr_2", "email": "olga@example.com"})).await;
    let name_dob = json!({"first_name": "Olga", "last_name": "Petrova", "date_of_birth": "1970-03-03"});
    assert_eq!(search_ids(&app, name_dob.clone()).await, vec![id.clone()]);
    assert_eq!(search_ids(&app, json!({"ssn": "123456789"})).await, vec![id.clone()]);
    assert_eq!(
        sorted(search_ids(&app, json!({"email": "olga@example.com"})).await),
        sorted(vec![id.clone(), other.clone()])
    );

    let r = app.delete(&format!("/identities/{id}/data")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["status"], "redacted");
    assert!(r.body["message"].is_string(), "{}", r.body);

    let after = app.get(&format!("/identities/{id}")).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.body["status"], "redacted");
    assert!(after.body["extracted_data"].is_null());
    assert_eq!(after.body["external_ref"], "gdpr_1", "the record itself is kept");
    assert!(!after.raw.windows(5).any(|w| w == b"Olga@" || w == b"Petro"), "no PII in the response");

    assert!(search_ids(&app, name_dob).await.is_empty());
    assert!(search_ids(&app, json!({"ssn": "123-45-6789"})).await.is_empty());
    assert!(search_ids(&app, json!({"phone": "02079460958"})).await.is_empty());
    assert_eq!(search_ids(&app, json!({"email": "olga@example.com"})).await, vec![other.clone()], "others untouched");
    // The export no longer holds the erased data either.
    let export = app.get(&format!("/identities/{id}/export")).await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert!(export.body["identity"]["extracted_data"].is_null());
    assert!(!String::from_utf8_lossy(&export.raw).contains("Petrova"));

    assert_eq!(assert_error(&app.delete(&format!("/identities/{id}/data")).await, 409), "conflict");
    assert_error(&app.delete("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV/data").await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// GET /identities/{id}/export
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn export_returns_decrypted_pii_links_and_an_audited_trail() {
    let app = spawn_app().await;
    let id = app
        .create_identity(json!({"external_ref": "dsar_1", "first_name": "Hana", "last_name": "Sato", "email": "hana@example.com", "tags": ["t1"]}))
        .await;
    let friend = app.create_identity(json!({"external_ref": "dsar_2"})).await;
    let rel = app.post(&format!("/identities/{id}/relationships"), json!({"related_identity_id": friend})).await;
    assert_eq!(rel.status, 201, "{}", rel.body);

    let r = app.get(&format!("/identities/{id}/export")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let identity = &r.body["identity"];
    assert_eq!(identity["id"], id.as_str());
    assert_eq!(identity["extracted_data"]["first_name"], "Hana");
    assert_eq!(identity["extracted_data"]["email"], "hana@example.com");
    assert_eq!(identity["tags"], json!(["t1"]));
    assert!(r.body["identity_links"].is_array(), "{}", r.body);
    let rels = r.body["identity_relationships"].as_array().expect("identity_relationships array");
    assert!(rels.iter().any(|x| x["related_identity_id"] == friend.as_str()), "{}", r.body);
    assert!(r.body["exported_at"].is_string());
    let audit = r.body["audit_log"].as_array().expect("audit_log array");
    let actions: Vec<&str> = audit.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"identity.created"), "{actions:?}");
    assert!(actions.contains(&"api.identity.export"), "the export itself is audited: {actions:?}");

    let log = app.get(&format!("/identities/{id}/audit-log")).await;
    assert_eq!(log.body["data"][0]["action"], "api.identity.export", "{}", log.body);
    // An export does not block later writes or exports of the same identity.
    let patched = app.patch(&format!("/identities/{id}"), json!({"city": "Kyoto"})).await;
    assert_eq!(patched.status, 200, "write after export: {}", patched.body);
    let again = app.get("/identities/dsar_1/export").await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["identity"]["extracted_data"]["city"], "Kyoto");
    let log = app.get(&format!("/identities/{id}/audit-log")).await;
    let exports = log.body["data"].as_array().unwrap().iter().filter(|e| e["action"] == "api.identity.export").count();
    assert_eq!(exports, 2, "each export is recorded: {}", log.body);

    assert_error(&app.get("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV/export").await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// POST /identities/search
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn search_by_name_and_dob_ignores_case_and_accents() {
    let app = spawn_app().await;
    let jose = app
        .create_identity(
            json!({"external_ref": "j1", "first_name": "jose", "last_name": "Garcia", "date_of_birth": "1992-07-14"}),
        )
        .await;
    app.create_identity(
        json!({"external_ref": "j2", "first_name": "Jose", "last_name": "Garcia", "date_of_birth": "1992-07-15"}),
    )
    .await;
    let hit = search(&app, json!({"first_name": "JOSÉ", "last_name": "GARCÍA", "date_of_birth": "1992-07-14"})).await;
    assert_eq!(hit.status, 200, "{}", hit.body);
    assert_eq!(ids_of(&hit), vec![jose.clone()]);
    assert_eq!(hit.body["pagination"]["total"], 1);
    assert_eq!(hit.body["data"][0]["extracted_data"]["first_name"], "jose");
    let spaced = json!({"first_name": "  José ", "last_name": "garcía", "date_of_birth": "1992-07-14"});
    assert_eq!(search_ids(&app, spaced).await, vec![jose.clone()]);
    let wrong = json!({"first_name": "Josef", "last_name": "Garcia", "date_of_birth": "1992-07-14"});
    assert!(search_ids(&app, wrong).await.is_empty());
}

#[actix_web::test]
async fn search_with_a_partial_name_and_dob_set_is_422() {
    let app = spawn_app().await;
    app.create_identity(
        json!({"external_ref": "n1", "first_name": "A", "last_name": "B", "date_of_birth": "1990-01-01"}),
    )
    .await;
    for (body, missing) in [
        (json!({"first_name": "A", "last_name": "B"}), "date_of_birth"),
        (json!({"first_name": "A"}), "last_name"),
        (json!({"date_of_birth": "1990-01-01"}), "first_name"),
    ] {
        let r = search(&app, body.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{body}");
        assert!(has_field_error(&r.body, missing), "{body}: {}", r.body);
    }
    assert_error(&search(&app, json!({"favourite_colour": "red"})).await, 422);
    assert_error(&search(&app, json!({"email": 5})).await, 422);
    assert_error(&search(&app, json!({"limit": 0})).await, 422);
    assert_error(&search(&app, json!({"limit": 101})).await, 422);
}

#[actix_web::test]
async fn search_matches_each_hashed_field_after_normalisation() {
    let app = spawn_app().await;
    let target = app
        .create_identity(json!({
            "external_ref": "h1", "email": "Kim@Example.com", "ssn": "123-45-6789", "document_number": "ab-123 456",
            "phone": "+1 (555) 010-9999", "zip_code": "sw1a 1aa", "city": "Zürich", "state": "Bern"
        }))
        .await;
    let decoy = app
        .create_identity(json!({
            "external_ref": "h2", "email": "lee@example.com", "ssn": "987-65-4321", "document_number": "ZZ999",
            "phone": "+1 555 010 0000", "zip_code": "EC1A 1BB", "city": "Geneva", "state": "Vaud"
        }))
        .await;
    let cases = [
        json!({"email": "kim@example.COM"}),
        json!({"ssn": "123456789"}),
        json!({"document_number": "AB123456"}),
        json!({"phone": "555-010-9999"}),
        json!({"zip_code": "SW1A1AA"}),
        json!({"city": "zurich"}),
        json!({"state": "BERN"}),
        json!({"email": "kim@example.com", "zip_code": "sw1a1aa"}),
    ];
    for body in cases {
        assert_eq!(search_ids(&app, body.clone()).await, vec![target.clone()], "{body}");
    }
    assert_eq!(search_ids(&app, json!({"ssn": "987654321"})).await, vec![decoy.clone()]);
    assert!(
        search_ids(&app, json!({"email": "kim@example.com", "zip_code": "EC1A1BB"})).await.is_empty(),
        "criteria AND"
    );
    assert!(search_ids(&app, json!({"email": "nobody@example.com"})).await.is_empty());
}

#[actix_web::test]
async fn search_compares_external_ref_status_and_country_directly() {
    let app = spawn_app().await;
    let a = app.create_identity(json!({"external_ref": "d1", "country": "DE", "status": "approved"})).await;
    let b = app.create_identity(json!({"external_ref": "d2", "country": "FR"})).await;
    assert_eq!(search_ids(&app, json!({"external_ref": "d1"})).await, vec![a.clone()]);
    assert!(search_ids(&app, json!({"external_ref": "d"})).await.is_empty(), "external_ref is exact");
    assert_eq!(search_ids(&app, json!({"status": "verified"})).await, vec![a.clone()]);
    assert_eq!(search_ids(&app, json!({"status": "pending"})).await, vec![b.clone()]);
    assert_eq!(search_ids(&app, json!({"country": "fr"})).await, vec![b.clone()]);
    assert!(search_ids(&app, json!({"country": "DE", "status": "pending"})).await.is_empty());
    let all = search(&app, json!({})).await;
    assert_eq!(all.body["pagination"]["total"], 2);
    let paged = search(&app, json!({"limit": 1, "offset": 1})).await;
    assert_eq!(paged.body["pagination"], json!({"total": 2, "limit": 1, "offset": 1}));
    assert_eq!(paged.body["data"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// POST /identities/search/advanced
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn advanced_search_filters_by_tags_statuses_dates_and_custom_fields() {
    let app = spawn_app().await;
    let a = app.create_identity(json!({"external_ref": "adv_a", "tags": ["vip", "eu"], "status": "approved"})).await;
    let b = app.create_identity(json!({"external_ref": "adv_b", "tags": ["vip"], "status": "rejected"})).await;
    let c = app.create_identity(json!({"external_ref": "other_c", "tags": ["us"]})).await;
    let cf = app
        .patch(&format!("/identities/{a}/custom-fields"), json!({"custom_fields": {"plan": "gold", "score": 7}}))
        .await;
    assert_eq!(cf.status, 200, "{}", cf.body);
    app.patch(&format!("/identities/{b}/custom-fields"), json!({"custom_fields": {"plan": "silver"}})).await;
    assert_eq!(app.post(&format!("/identities/{c}/monitoring/pause"), json!({})).await.status, 200);

    let adv = |body: serde_json::Value| {
        let app = &app;
        async move {
            let r = app.post("/identities/search/advanced", body.clone()).await;
            assert_eq!(r.status, 200, "{body}: {}", r.body);
            sorted(ids_of(&r))
        }
    };
    assert_eq!(adv(json!({"tags": ["vip"]})).await, sorted(vec![a.clone(), b.clone()]));
    assert_eq!(adv(json!({"tags": ["vip", "eu"]})).await, vec![a.clone()], "tags means all of them");
    assert_eq!(adv(json!({"tags_any": ["eu", "us"]})).await, sorted(vec![a.clone(), c.clone()]));
    assert_eq!(adv(json!({"statuses": ["verified", "rejected"]})).await, sorted(vec![a.clone(), b.clone()]));
    assert_eq!(adv(json!({"status": "pending"})).await, vec![c.clone()]);
    assert_eq!(adv(json!({"external_ref_prefix": "adv_"})).await, sorted(vec![a.clone(), b.clone()]));
    assert_eq!(adv(json!({"custom_fields": {"plan": "gold"}})).await, vec![a.clone()]);
    assert_eq!(adv(json!({"custom_fields": {"score": 7}})).await, vec![a.clone()]);
    assert!(adv(json!({"custom_fields": {"score": "7"}})).await.is_empty(), "typed equality");
    assert_eq!(adv(json!({"monitoring_enabled": false})).await, vec![c.clone()]);
    assert_eq!(adv(json!({"is_flagged": false})).await.len(), 3);
    assert_eq!(adv(json!({"created_after": "2000-01-01T00:00:00Z"})).await.len(), 3);
    assert!(adv(json!({"created_after": "2999-01-01T00:00:00Z"})).await.is_empty());
    assert_eq!(adv(json!({"created_before": "2999-01-01T00:00:00Z", "tags": ["us"]})).await, vec![c.clone()]);
    assert!(adv(json!({"updated_before": "2000-01-01T00:00:00Z"})).await.is_empty());

    // Archive handling: excluded by default, included on request, or only archived ones.
    assert_eq!(app.post(&format!("/identities/{b}/archive"), json!({})).await.status, 200);
    assert_eq!(adv(json!({"tags": ["vip"]})).await, vec![a.clone()]);
    assert_eq!(adv(json!({"tags": ["vip"], "include_archived": true})).await, sorted(vec![a.clone(), b.clone()]));
    assert_eq!(adv(json!({"archived": true})).await, vec![b.clone()]);

    let bad = app.post("/identities/search/advanced", json!({"created_after": "yesterday"})).await;
    assert_eq!(assert_error(&bad, 422), "validation_error");
    assert_error(&app.post("/identities/search/advanced", json!({"tags": "vip"})).await, 422);
    let partial = app.post("/identities/search/advanced", json!({"first_name": "A"})).await;
    assert_error(&partial, 422);
}

// ---------------------------------------------------------------------------------------------------------------
// GET /identities/{id}/audit-log
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn audit_log_is_newest_first_and_names_fields_never_values() {
    let app = spawn_app().await;
    let first_name = "Quillonius";
    let id = app
        .create_identity(json!({"external_ref": "aud_1", "first_name": first_name, "email": "quill@example.com", "ssn": "555-12-3456"}))
        .await;
    app.patch(&format!("/identities/{id}"), json!({"city": "Lisbonville", "first_name": "Quillonia"})).await;
    app.post(&format!("/identities/{id}/tags/add"), json!({"tag": "secret-tag-value"})).await;

    let r = app.get(&format!("/identities/{id}/audit-log")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.body["data"].as_array().expect("data");
    assert_eq!(data.len(), 3, "{}", r.body);
    assert_eq!(r.body["pagination"]["total"], 3);
    let actions: Vec<&str> = data.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[2], "identity.created", "oldest last: {actions:?}");
    assert_eq!(actions[1], "identity.updated", "{actions:?}");
    let seqs: Vec<i64> = data.iter().map(|e| e["sequence_num"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
    let times: Vec<&str> = data.iter().map(|e| e["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    for entry in data {
        let actor = entry["actor"].as_str().unwrap();
        assert!(actor.starts_with("api_key:key_"), "{actor}");
        assert!(entry["metadata"]["fields"].is_array(), "{entry}");
    }
    let created_fields = &data[2]["metadata"]["fields"];
    for f in ["first_name", "email", "ssn", "external_ref"] {
        assert!(created_fields.as_array().unwrap().contains(&json!(f)), "{f} in {created_fields}");
    }
    let updated_fields = data[1]["metadata"]["fields"].as_array().unwrap();
    assert!(
        updated_fields.contains(&json!("city")) && updated_fields.contains(&json!("first_name")),
        "{updated_fields:?}"
    );

    let text = String::from_utf8_lossy(&r.raw);
    for value in [first_name, "Quillonia", "quill@example.com", "555-12-3456", "Lisbonville"] {
        assert!(!text.contains(value), "audit log leaks {value}: {text}");
    }

    let page = app.get(&format!("/identities/{id}/audit-log?limit=1&offset=2")).await;
    assert_eq!(page.body["data"][0]["action"], "identity.created", "{}", page.body);
    assert_eq!(page.body["pagination"], json!({"total": 3, "limit": 1, "offset": 2}));
    assert_error(&app.get("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV/audit-log").await, 404);
    let by_ref = app.get("/identities/aud_1/audit-log").await;
    assert_eq!(by_ref.body["pagination"]["total"], 3);
}

// ---------------------------------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn tags_add_remove_and_set() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "tag_1"})).await;
    let r = app.post(&format!("/identities/{id}/tags/add"), json!({"tag": "vip"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"id": id, "tags": ["vip"]}));
    let r = app.post(&format!("/identities/{id}/tags/add"), json!({"tag": "eu"})).await;
    assert_eq!(r.body["tags"], json!(["vip", "eu"]));
    let r = app.post(&format!("/identities/{id}/tags/add"), json!({"tag": "vip"})).await;
    assert_eq!(r.body["tags"], json!(["vip", "eu"]), "adding twice does not duplicate");

    let r = app.post(&format!("/identities/{id}/tags/remove"), json!({"tag": "vip"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"id": id, "tags": ["eu"]}));
    let r = app.post(&format!("/identities/{id}/tags/remove"), json!({"tag": "absent"})).await;
    assert_eq!(r.status, 200, "removing an absent tag is a no-op: {}", r.body);
    assert_eq!(r.body["tags"], json!(["eu"]));

    let r = app.post(&format!("/identities/{id}/tags"), json!({"tags": ["a", "b", "a"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"id": id, "tags": ["a", "b"]}));
    assert_eq!(app.get(&format!("/identities/{id}")).await.body["tags"], json!(["a", "b"]));
    let r = app.post(&format!("/identities/{id}/tags"), json!({"tags": []})).await;
    assert_eq!(r.body, json!({"id": id, "tags": []}));
    assert_eq!(app.get(&format!("/identities/{id}")).await.body["tags"], json!([]));

    // Tags work through the external_ref too; unknown identities are 404.
    let r = app.post("/identities/tag_1/tags/add", json!({"tag": "by-ref"})).await;
    assert_eq!(r.body["tags"], json!(["by-ref"]));
    assert_error(&app.post("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV/tags/add", json!({"tag": "x"})).await, 404);
    assert_error(&app.post(&format!("/identities/{id}/tags/add"), json!({"tag": "  "})).await, 422);
    assert_error(&app.post(&format!("/identities/{id}/tags/add"), json!({})).await, 422);
}

#[actix_web::test]
async fn more_than_fifty_tags_is_422() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "tag_max"})).await;
    let fifty_one: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let r = app.post(&format!("/identities/{id}/tags"), json!({ "tags": fifty_one })).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert_eq!(app.get(&format!("/identities/{id}")).await.body["tags"], json!([]));

    let fifty: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
    let r = app.post(&format!("/identities/{id}/tags"), json!({ "tags": fifty })).await;
    assert_eq!(r.status, 200, "exactly 50 is allowed: {}", r.body);
    assert_eq!(r.body["tags"].as_array().unwrap().len(), 50);
    let r = app.post(&format!("/identities/{id}/tags/add"), json!({"tag": "one-more"})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    let r = app.post(&format!("/identities/{id}/tags/add"), json!({"tag": "t0"})).await;
    assert_eq!(r.status, 200, "re-adding an existing tag at the cap is fine: {}", r.body);
    let create = app
        .post(
            "/identities",
            json!({"external_ref": "tag_max_2", "tags": (0..51).map(|i| format!("x{i}")).collect::<Vec<_>>()}),
        )
        .await;
    assert_error(&create, 422);
}

// ---------------------------------------------------------------------------------------------------------------
// Archive / restore and monitoring
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn archive_keeps_status_and_pauses_monitoring_restore_resumes_it() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "arc_1", "status": "approved"})).await;
    let r = app.post(&format!("/identities/{id}/archive"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{}", r.body);
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["status"], "approved", "archiving does not change status");
    assert!(r.body["archived_at"].as_str().is_some_and(|s| s.ends_with('Z')), "{}", r.body);

    let got = app.get(&format!("/identities/{id}")).await;
    assert_eq!(got.body["status"], "approved");
    assert_eq!(got.body["archived_at"], r.body["archived_at"]);
    assert_eq!(got.body["monitoring_enabled"], false);
    assert_eq!(got.body["monitoring_paused_reason"], "archived");

    assert_eq!(assert_error(&app.post(&format!("/identities/{id}/archive"), json!({})).await, 409), "conflict");

    let restored = app.post(&format!("/identities/{id}/restore"), json!({})).await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(restored.body["id"], id.as_str());
    assert!(restored.body["archived_at"].is_null());
    assert_eq!(restored.body["status"], "approved");
    assert_eq!(restored.body["monitoring_enabled"], true);
    assert!(restored.body["monitoring_paused_reason"].is_null());
    assert!(restored.body["extracted_data"].is_object() || restored.body["extracted_data"].is_null());
    assert!(restored.body.get("tags").is_some(), "restore returns the full identity: {}", restored.body);
    assert_error(&app.post(&format!("/identities/{id}/restore"), json!({})).await, 409);
    assert_error(&app.post("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV/archive", json!({})).await, 404);
    assert_error(&app.post("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV/restore", json!({})).await, 404);
}

#[actix_web::test]
async fn a_manual_monitoring_pause_survives_archive_and_restore() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "arc_2"})).await;
    let p = app.post(&format!("/identities/{id}/monitoring/pause"), json!({})).await;
    assert_eq!(p.body["monitoring_paused_reason"], "manual", "{}", p.body);
    assert_eq!(app.post(&format!("/identities/{id}/archive"), json!({})).await.status, 200);
    let got = app.get(&format!("/identities/{id}")).await;
    assert_eq!(got.body["monitoring_paused_reason"], "manual", "archive must not overwrite a manual pause");
    let restored = app.post(&format!("/identities/{id}/restore"), json!({})).await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(restored.body["monitoring_enabled"], false);
    assert_eq!(restored.body["monitoring_paused_reason"], "manual");
    let resumed = app.post(&format!("/identities/{id}/monitoring/resume"), json!({})).await;
    assert_eq!(resumed.body["monitoring_enabled"], true, "{}", resumed.body);
}

#[actix_web::test]
async fn a_redacted_identity_cannot_be_archived() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "arc_3"})).await;
    assert_eq!(app.delete(&format!("/identities/{id}/data")).await.status, 200);
    let r = app.post(&format!("/identities/{id}/archive"), json!({})).await;
    assert_eq!(assert_error(&r, 409), "conflict");
    assert!(app.get(&format!("/identities/{id}")).await.body["archived_at"].is_null());
}

#[actix_web::test]
async fn monitoring_pause_and_resume() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "mon_1"})).await;
    let r = app.post(&format!("/identities/{id}/monitoring/pause"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"id": id, "monitoring_enabled": false, "monitoring_paused_reason": "manual"}));
    let got = app.get(&format!("/identities/{id}")).await;
    assert_eq!(got.body["monitoring_enabled"], false);
    let again = app.post(&format!("/identities/{id}/monitoring/pause"), json!({})).await;
    assert_eq!(again.status, 200, "pausing twice is harmless: {}", again.body);

    let r = app.post(&format!("/identities/{id}/monitoring/resume"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"id": id, "monitoring_enabled": true, "monitoring_paused_reason": null}));
    assert_eq!(app.get(&format!("/identities/{id}")).await.body["monitoring_enabled"], true);
    assert_error(&app.post("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV/monitoring/pause", json!({})).await, 404);
    assert_error(&app.post("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV/monitoring/resume", json!({})).await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// Custom field values
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn custom_fields_on_an_untyped_identity_accept_scalars_only() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "cf_1"})).await;
    let r = app.get(&format!("/identities/{id}/custom-fields")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"identity_id": id, "custom_fields": {}}));

    let set = app
        .patch(
            &format!("/identities/{id}/custom-fields"),
            json!({"custom_fields": {"plan": "gold", "score": 7.5, "vip": true}}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let expected = json!({"identity_id": id, "custom_fields": {"plan": "gold", "score": 7.5, "vip": true}});
    assert_eq!(set.body, expected);
    assert_eq!(app.get(&format!("/identities/{id}/custom-fields")).await.body, expected);
    assert_eq!(app.get(&format!("/identities/{id}")).await.body["custom_fields"], expected["custom_fields"]);

    // Merge semantics: untouched fields stay, null removes one.
    let r = app
        .patch(&format!("/identities/{id}/custom-fields"), json!({"custom_fields": {"plan": "silver", "vip": null}}))
        .await;
    assert_eq!(r.body["custom_fields"], json!({"plan": "silver", "score": 7.5}), "{}", r.body);

    for bad in [json!({"nested": {"a": 1}}), json!({"list": [1, 2]})] {
        let r = app.patch(&format!("/identities/{id}/custom-fields"), json!({ "custom_fields": bad })).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{bad}");
        assert!(r.body["errors"][0]["field"].as_str().unwrap().starts_with("custom_fields."), "{}", r.body);
    }
    assert_error(&app.patch(&format!("/identities/{id}/custom-fields"), json!({"custom_fields": "x"})).await, 422);
    assert_error(&app.patch(&format!("/identities/{id}/custom-fields"), json!({})).await, 422);
    assert_eq!(
        app.get(&format!("/identities/{id}/custom-fields")).await.body["custom_fields"],
        json!({"plan": "silver", "score": 7.5})
    );
    assert_error(&app.get("/identities/idn_01ARZ3NDEKTSV4RRFFQ69G5FAV/custom-fields").await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// Merge, preview, merge-multiple
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn merge_marks_the_secondary_merged_and_merges_tags() {
    let app = spawn_app().await;
    let primary = app.create_identity(json!({"external_ref": "m_p", "tags": ["a"]})).await;
    let secondary = app.create_identity(json!({"external_ref": "m_s", "tags": ["b", "a"]})).await;
    app.patch(&format!("/identities/{secondary}/custom-fields"), json!({"custom_fields": {"plan": "gold"}})).await;

    let r =
        app.post("/identities/merge", json!({"primary_identity_id": primary, "secondary_identity_id": "m_s"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["primary"]["id"], primary.as_str());
    assert_eq!(r.body["secondary"]["id"], secondary.as_str());
    assert_eq!(r.body["secondary"]["status"], "merged");
    assert_eq!(r.body["primary"]["tags"], json!(["a", "b"]), "merged and deduplicated");
    assert_eq!(r.body["primary"]["custom_fields"]["plan"], "gold");
    assert_eq!(r.body["primary"]["status"], "pending");
    assert_eq!(app.get(&format!("/identities/{secondary}")).await.body["status"], "merged");

    // A system relationship of type merged links the two.
    let links = app.get(&format!("/identities/{secondary}/export")).await.body["identity_links"].clone();
    let primary_links = app.get(&format!("/identities/{primary}/export")).await.body["identity_links"].clone();
    let all: Vec<&serde_json::Value> =
        links.as_array().unwrap().iter().chain(primary_links.as_array().unwrap()).collect();
    assert!(all.iter().any(|l| l["relationship_type"] == "merged"), "{all:?}");

    // An already-merged identity cannot be merged again or changed.
    let again = app
        .post("/identities/merge", json!({"primary_identity_id": primary, "secondary_identity_id": secondary}))
        .await;
    assert_eq!(assert_error(&again, 409), "conflict");
    assert_error(&app.patch(&format!("/identities/{secondary}"), json!({"city": "X"})).await, 409);
    let same =
        app.post("/identities/merge", json!({"primary_identity_id": primary, "secondary_identity_id": primary})).await;
    assert_error(&same, 409);
    let missing = app
        .post(
            "/identities/merge",
            json!({"primary_identity_id": primary, "secondary_identity_id": "idn_01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
        )
        .await;
    assert_error(&missing, 404);
    assert_error(&app.post("/identities/merge", json!({"primary_identity_id": primary})).await, 422);
}

#[actix_web::test]
async fn merging_a_redacted_secondary_is_409() {
    let app = spawn_app().await;
    let primary = app.create_identity(json!({"external_ref": "mr_p", "tags": ["a"]})).await;
    let secondary = app.create_identity(json!({"external_ref": "mr_s", "tags": ["z"]})).await;
    assert_eq!(app.delete(&format!("/identities/{secondary}/data")).await.status, 200);
    let r = app
        .post("/identities/merge", json!({"primary_identity_id": primary, "secondary_identity_id": secondary}))
        .await;
    assert_eq!(assert_error(&r, 409), "conflict");
    assert_eq!(app.get(&format!("/identities/{primary}")).await.body["tags"], json!(["a"]), "nothing moved");
    assert_eq!(app.get(&format!("/identities/{secondary}")).await.body["status"], "redacted");
}

#[actix_web::test]
async fn merge_preview_writes_nothing() {
    let app = spawn_app().await;
    let primary = app.create_identity(json!({"external_ref": "pv_p", "tags": ["a"]})).await;
    let secondary = app.create_identity(json!({"external_ref": "pv_s", "tags": ["b"]})).await;
    let audit_before = app.get(&format!("/identities/{primary}/audit-log")).await.body["pagination"]["total"].clone();
    let sec_audit_before =
        app.get(&format!("/identities/{secondary}/audit-log")).await.body["pagination"]["total"].clone();

    let r = app
        .post("/identities/merge/preview", json!({"primary_identity_id": primary, "secondary_identity_id": secondary}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["primary"]["id"], primary.as_str());
    assert_eq!(r.body["secondary"]["id"], secondary.as_str());
    assert_eq!(r.body["can_merge"], true);
    assert_eq!(r.body["would_transfer"]["tags"], json!(["b"]));

    let p = app.get(&format!("/identities/{primary}")).await;
    let s = app.get(&format!("/identities/{secondary}")).await;
    assert_eq!(p.body["tags"], json!(["a"]));
    assert_eq!(s.body["status"], "pending");
    assert_eq!(app.get(&format!("/identities/{primary}/audit-log")).await.body["pagination"]["total"], audit_before);
    assert_eq!(
        app.get(&format!("/identities/{secondary}/audit-log")).await.body["pagination"]["total"],
        sec_audit_before
    );

    // A redacted secondary shows up as a blocker in the preview.
    assert_eq!(app.delete(&format!("/identities/{secondary}/data")).await.status, 200);
    let r = app
        .post("/identities/merge/preview", json!({"primary_identity_id": primary, "secondary_identity_id": secondary}))
        .await;
    assert_eq!(r.body["can_merge"], false, "{}", r.body);
    assert_error(
        &app.post(
            "/identities/merge/preview",
            json!({"primary_identity_id": primary, "secondary_identity_id": "nope"}),
        )
        .await,
        404,
    );
}

#[actix_web::test]
async fn merge_multiple_merges_each_secondary() {
    let app = spawn_app().await;
    let primary = app.create_identity(json!({"external_ref": "mm_p"})).await;
    let s1 = app.create_identity(json!({"external_ref": "mm_1", "tags": ["one"]})).await;
    let s2 = app.create_identity(json!({"external_ref": "mm_2", "tags": ["two"]})).await;
    let r = app
        .post(
            "/identities/merge-multiple",
            json!({"primary_identity_id": primary, "secondary_identity_ids": [s1, "mm_2"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["merged_count"], 2);
    assert_eq!(r.body["merged_ids"], json!([s1, s2]));
    assert_eq!(r.body["primary"]["id"], primary.as_str());
    assert_eq!(r.body["primary"]["tags"], json!(["one", "two"]));
    for s in [&s1, &s2] {
        assert_eq!(app.get(&format!("/identities/{s}")).await.body["status"], "merged");
    }

    // All or nothing: one bad secondary leaves every identity untouched.
    let s3 = app.create_identity(json!({"external_ref": "mm_3"})).await;
    let r = app
        .post("/identities/merge-multiple", json!({"primary_identity_id": primary, "secondary_identity_ids": [s3, s1]}))
        .await;
    assert_error(&r, 409);
    assert_eq!(app.get(&format!("/identities/{s3}")).await.body["status"], "pending");
    let empty = app
        .post("/identities/merge-multiple", json!({"primary_identity_id": primary, "secondary_identity_ids": []}))
        .await;
    assert_error(&empty, 422);
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

fn ids_of(r: &Resp) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array: {}", r.body))
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn has_field_error(body: &serde_json::Value, field: &str) -> bool {
    body["errors"].as_array().is_some_and(|errs| errs.iter().any(|e| e["field"] == field))
}

async fn search(app: &TestApp, body: serde_json::Value) -> Resp {
    app.post("/identities/search", body).await
}

async fn search_ids(app: &TestApp, body: serde_json::Value) -> Vec<String> {
    let r = search(app, body.clone()).await;
    assert_eq!(r.status, 200, "search {body}: {}", r.body);
    ids_of(&r)
}

#[actix_web::test]
async fn whole_numbers_written_with_a_fraction_count_as_integers() {
    let app = spawn_app().await;
    app.create_identity(json!({"external_ref": "wn_1"})).await;
    let r = app.post("/identities/search", json!({"external_ref": "wn_1", "limit": 10.0, "offset": 0.0})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pagination"]["limit"], 10);
    assert_error(&app.post("/identities/search", json!({"limit": 10.5})).await, 422);
}

#[actix_web::test]
async fn the_search_schema_states_that_name_and_birth_date_come_together() {
    let app = spawn_app().await;
    let doc = app.send("GET", "/api/v1/openapi.json", None, &[], None).await.body;
    let search = &doc["components"]["schemas"]["SearchBody"];
    assert!(search["properties"]["first_name"].is_object(), "{search}");
    let branches = search["anyOf"].as_array().expect("all-or-none branches");
    assert_eq!(branches[0]["required"], json!(["first_name", "last_name", "date_of_birth"]));
    assert!(search["properties"].get("address_line1").is_none(), "only searchable fields: {search}");
}

#[actix_web::test]
async fn custom_field_values_keep_the_number_form_they_were_sent_in() {
    let app = spawn_app().await;
    let id = app.create_identity(json!({"external_ref": "cf_float"})).await;
    let r = app.patch(&format!("/identities/{id}/custom-fields"), json!({"custom_fields": {"score": 3.0}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["custom_fields"]["score"].is_f64(), "kept as sent: {}", r.body);
}
