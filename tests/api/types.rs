//! Identity types, custom field definitions, and custom field values on identities.

use crate::helpers::*;
use serde_json::{json, Value};

#[actix_web::test]
async fn identity_types_can_be_created_read_updated_and_deleted() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/identity-types",
            json!({"name": "business", "label": "Business", "description": "Companies",
                   "statuses": ["kyb_pending", "kyb_done"], "default_status": "kyb_pending"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("idtype_"), "{}", r.body);
    for field in [
        "id",
        "org_id",
        "name",
        "label",
        "is_default",
        "description",
        "statuses",
        "default_status",
        "created_at",
        "updated_at",
    ] {
        assert!(r.body.get(field).is_some(), "missing {field}: {}", r.body);
    }
    assert_eq!(r.body["name"], "business");
    assert_eq!(r.body["label"], "Business");
    assert_eq!(r.body["description"], "Companies");
    assert_eq!(r.body["statuses"], json!(["kyb_pending", "kyb_done"]));
    assert_eq!(r.body["default_status"], "kyb_pending");
    assert_eq!(r.body["is_default"], false);
    assert!(r.body["org_id"].is_string());

    let minimal = app.post("/identity-types", json!({"name": "person", "label": "Person"})).await;
    assert_eq!(minimal.status, 201, "{}", minimal.body);
    assert_eq!(minimal.body["statuses"], json!([]));
    assert!(minimal.body["default_status"].is_null());
    assert!(minimal.body["description"].is_null());

    assert_error(&app.post("/identity-types", json!({"name": "business", "label": "Again"})).await, 409);
    assert_error(&app.post("/identity-types", json!({"name": "nolabel"})).await, 422);
    assert_error(&app.post("/identity-types", json!({"label": "No name"})).await, 422);
    assert_error(&app.post("/identity-types", json!({"name": "blank", "label": ""})).await, 422);
    assert_error(&app.post("/identity-types", json!({"name": "bad name!", "label": "X"})).await, 422);
    // A default status that is not listed joins the statuses; redacted and merged are no start status.
    let r = app
        .post("/identity-types", json!({"name": "odd", "label": "Odd", "statuses": ["a"], "default_status": "zzz"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["statuses"], json!(["a", "zzz"]));
    assert_eq!(r.body["default_status"], "zzz");
    let odd = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(app.delete(&format!("/identity-types/{odd}")).await.status, 200);
    let r = app.post("/identity-types", json!({"name": "odd2", "label": "Odd", "default_status": "merged"})).await;
    assert_error(&r, 422);

    let got = app.get(&format!("/identity-types/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["name"], "business");
    let list = app.get("/identity-types").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let names: Vec<&str> = list.body["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{}", list.body);
    assert!(names.contains(&"business") && names.contains(&"person"));

    let patched = app
        .patch(
            &format!("/identity-types/{id}"),
            json!({"label": "Business entity", "statuses": ["kyb_pending", "kyb_done", "kyb_hold"]}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["label"], "Business entity");
    assert_eq!(patched.body["statuses"], json!(["kyb_pending", "kyb_done", "kyb_hold"]));
    assert_eq!(patched.body["name"], "business");
    assert_eq!(app.get(&format!("/identity-types/{id}")).await.body["label"], "Business entity");
    // New statuses without the stored default status conflict with it; a new default joins the statuses.
    let r = app.patch(&format!("/identity-types/{id}"), json!({"statuses": ["kyb_done"]})).await;
    assert_eq!(assert_error(&r, 409), "conflict");
    let r = app.patch(&format!("/identity-types/{id}"), json!({"default_status": "kyb_new"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["statuses"], json!(["kyb_pending", "kyb_done", "kyb_hold", "kyb_new"]));
    assert_eq!(r.body["default_status"], "kyb_new");
    let r = app
        .patch(&format!("/identity-types/{id}"), json!({"statuses": ["kyb_done"], "default_status": "kyb_pending"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["statuses"], json!(["kyb_done", "kyb_pending"]));
    assert_error(&app.patch(&format!("/identity-types/{id}"), json!({"name": "renamed"})).await, 422);
    assert_error(&app.patch(&format!("/identity-types/{id}"), json!({"label": ""})).await, 422);

    let r = app.delete(&format!("/identity-types/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"deleted": true}));
    assert_error(&app.get(&format!("/identity-types/{id}")).await, 404);
    assert_error(&app.patch(&format!("/identity-types/{id}"), json!({"label": "x"})).await, 404);
    assert_error(&app.delete(&format!("/identity-types/{id}")).await, 404);
    assert_error(&app.get("/identity-types/idtype_unknown").await, 404);
    assert_eq!(app.get("/identity-types").await.body["data"].as_array().unwrap().len(), 1);

    // Types are per environment.
    assert_error(&app.live_get(&format!("/identity-types/{}", minimal.body["id"].as_str().unwrap())).await, 404);

    // Managing types needs settings:write (or the legacy identities:write).
    let reader = app.key_with_scopes(&["identities:read"]).await;
    let body = json!({"name": "nope", "label": "Nope"});
    let r = app.send("POST", "/identity-types", Some(&reader), &[], Some(&body)).await;
    assert_eq!(assert_error(&r, 403), "insufficient_scope");
    let settings = app.key_with_scopes(&["settings:write"]).await;
    let r = app.send("POST", "/identity-types", Some(&settings), &[], Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[actix_web::test]
async fn only_one_identity_type_is_the_default() {
    let app = spawn_app().await;
    let first = create_type(&app, json!({"name": "first", "label": "First", "is_default": true})).await;
    assert_eq!(app.get(&format!("/identity-types/{first}")).await.body["is_default"], true);
    let second = create_type(&app, json!({"name": "second", "label": "Second", "is_default": true})).await;
    assert_eq!(app.get(&format!("/identity-types/{second}")).await.body["is_default"], true);
    assert_eq!(app.get(&format!("/identity-types/{first}")).await.body["is_default"], false);

    let r = app.patch(&format!("/identity-types/{first}"), json!({"is_default": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["is_default"], true);
    assert_eq!(app.get(&format!("/identity-types/{second}")).await.body["is_default"], false);
    let defaults = app.get("/identity-types").await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["is_default"] == true)
        .count();
    assert_eq!(defaults, 1);

    // An identity created without a type gets the default type.
    let id = app.create_identity(json!({"external_ref": "typed_by_default"})).await;
    assert_eq!(app.get(&format!("/identities/{id}")).await.body["identity_type_id"], first.as_str());
}

#[actix_web::test]
async fn the_default_status_and_custom_statuses_of_a_type_apply_to_its_identities() {
    let app = spawn_app().await;
    let t = create_type(
        &app,
        json!({"name": "company", "label": "Company", "statuses": ["kyb_pending", "kyb_done"], "default_status": "kyb_pending"}),
    )
    .await;
    let r = app.post("/identities", json!({"external_ref": "acme", "identity_type_id": t})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["status"], "kyb_pending");
    let id = r.body["id"].as_str().unwrap().to_string();
    let got = app.get(&format!("/identities/{id}")).await;
    assert_eq!(got.body["identity_type_id"], t.as_str());
    assert_eq!(got.body["status"], "kyb_pending");

    let r = app.patch(&format!("/identities/{id}"), json!({"status": "kyb_done"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "kyb_done");
    let r = app.patch(&format!("/identities/{id}"), json!({"status": "approved"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "approved");
    assert_error(&app.patch(&format!("/identities/{id}"), json!({"status": "kyb_unknown"})).await, 422);

    // An untyped identity starts pending and cannot take another type's custom status.
    let plain = app.post("/identities", json!({"external_ref": "plain"})).await;
    assert_eq!(plain.body["status"], "pending");
    let plain_id = plain.body["id"].as_str().unwrap();
    assert_error(&app.patch(&format!("/identities/{plain_id}"), json!({"status": "kyb_done"})).await, 422);

    let r = app.post("/identities", json!({"external_ref": "ghost", "identity_type_id": "idtype_unknown"})).await;
    assert_error(&r, 422);

    // A type with identities cannot be deleted out from under them.
    assert_error(&app.delete(&format!("/identity-types/{t}")).await, 409);
}

#[actix_web::test]
async fn custom_field_definitions_can_be_managed() {
    let app = spawn_app().await;
    let t = create_type(&app, json!({"name": "person", "label": "Person"})).await;
    let fields = format!("/identity-types/{t}/fields");

    for (i, ft) in ["string", "number", "boolean", "date", "email", "phone", "url"].iter().enumerate() {
        let r = app
            .post(
                &fields,
                json!({"name": format!("f_{ft}"), "label": format!("F {ft}"), "field_type": ft, "sort_order": 10 - i}),
            )
            .await;
        assert_eq!(r.status, 201, "{ft}: {}", r.body);
        assert_eq!(r.body["field_type"], *ft);
    }
    let r = app
        .post(
            &fields,
            json!({"name": "tier", "label": "Tier", "field_type": "enum", "enum_values": ["gold", "silver"],
                   "is_required": false, "is_unique": false, "is_encrypted": false, "validation_regex": "^[a-z]+$", "sort_order": 0}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let field_id = r.body["id"].as_str().unwrap().to_string();
    assert!(field_id.starts_with("cfield_"), "{}", r.body);
    for field in [
        "id",
        "org_id",
        "identity_type_id",
        "name",
        "label",
        "field_type",
        "is_required",
        "created_at",
        "is_unique",
        "is_encrypted",
        "enum_values",
        "validation_regex",
        "sort_order",
    ] {
        assert!(r.body.get(field).is_some(), "missing {field}: {}", r.body);
    }
    assert_eq!(r.body["identity_type_id"], t.as_str());
    assert_eq!(r.body["enum_values"], json!(["gold", "silver"]));
    assert_eq!(r.body["validation_regex"], "^[a-z]+$");
    let defaults = app.post(&fields, json!({"name": "plain", "label": "Plain", "field_type": "string"})).await;
    assert_eq!(defaults.status, 201, "{}", defaults.body);
    assert_eq!(defaults.body["is_required"], false);
    assert_eq!(defaults.body["is_unique"], false);
    assert_eq!(defaults.body["is_encrypted"], false);

    // Refusals.
    assert_error(&app.post(&fields, json!({"name": "tier", "label": "Dup", "field_type": "string"})).await, 409);
    assert_error(&app.post(&fields, json!({"name": "x1", "label": "X", "field_type": "color"})).await, 422);
    assert_error(&app.post(&fields, json!({"name": "x2", "label": "X", "field_type": "enum"})).await, 422);
    assert_error(
        &app.post(&fields, json!({"name": "x3", "label": "X", "field_type": "enum", "enum_values": []})).await,
        422,
    );
    let r = app
        .post(&fields, json!({"name": "x4", "label": "X", "field_type": "string", "validation_regex": "(unclosed"}))
        .await;
    assert_error(&r, 422);
    assert_error(&app.post(&fields, json!({"name": "x5", "field_type": "string"})).await, 422);
    assert_error(&app.post(&fields, json!({"name": "bad name", "label": "X", "field_type": "string"})).await, 422);
    let r = app
        .post("/identity-types/idtype_unknown/fields", json!({"name": "x", "label": "X", "field_type": "string"}))
        .await;
    assert_error(&r, 404);

    let list = app.get(&fields).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let data = list.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 9, "{}", list.body);
    let orders: Vec<i64> = data.iter().map(|f| f["sort_order"].as_i64().unwrap()).collect();
    assert!(orders.windows(2).all(|w| w[0] <= w[1]), "sorted by sort_order: {orders:?}");
    let got = app.get(&format!("{fields}/{field_id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["name"], "tier");

    // Mutable attributes.
    let r = app
        .patch(
            &format!("{fields}/{field_id}"),
            json!({"label": "Loyalty tier", "is_required": true, "sort_order": 42, "is_unique": true,
                   "validation_regex": null, "enum_values": ["gold", "silver", "bronze"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["label"], "Loyalty tier");
    assert_eq!(r.body["is_required"], true);
    assert_eq!(r.body["sort_order"], 42);
    assert_eq!(r.body["is_unique"], true);
    assert!(r.body["validation_regex"].is_null(), "{}", r.body);
    assert_eq!(r.body["enum_values"], json!(["gold", "silver", "bronze"]));
    let got = app.get(&format!("{fields}/{field_id}")).await;
    assert_eq!(got.body["label"], "Loyalty tier");
    assert!(got.body["validation_regex"].is_null());
    let r = app.patch(&format!("{fields}/{field_id}"), json!({"validation_regex": "^g"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["validation_regex"], "^g");

    // Immutable attributes, and invalid updates.
    for body in [
        json!({"name": "renamed"}),
        json!({"field_type": "string"}),
        json!({"is_encrypted": true}),
        json!({"validation_regex": "[unclosed"}),
        json!({"enum_values": []}),
        json!({"label": ""}),
    ] {
        let r = app.patch(&format!("{fields}/{field_id}"), body.clone()).await;
        assert_error(&r, 422);
    }
    let got = app.get(&format!("{fields}/{field_id}")).await;
    assert_eq!(got.body["name"], "tier");
    assert_eq!(got.body["field_type"], "enum");
    assert_eq!(got.body["is_encrypted"], false);
    assert_eq!(got.body["validation_regex"], "^g");
    assert_error(&app.patch(&format!("{fields}/cfield_unknown"), json!({"label": "x"})).await, 404);

    let r = app.delete(&format!("{fields}/{field_id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"deleted": true}));
    assert_error(&app.get(&format!("{fields}/{field_id}")).await, 404);
    assert_error(&app.delete(&format!("{fields}/{field_id}")).await, 404);
    assert_eq!(app.get(&fields).await.body["data"].as_array().unwrap().len(), 8);

    // A field is only reachable under its own type.
    let other = create_type(&app, json!({"name": "other", "label": "Other"})).await;
    let plain_id = defaults.body["id"].as_str().unwrap();
    assert_error(&app.get(&format!("/identity-types/{other}/fields/{plain_id}")).await, 404);
}

#[actix_web::test]
async fn custom_field_values_are_validated_against_the_definitions() {
    let app = spawn_app().await;
    let t = create_type(&app, json!({"name": "member", "label": "Member"})).await;
    let fields = format!("/identity-types/{t}/fields");
    for def in [
        json!({"name": "employees", "label": "Employees", "field_type": "number"}),
        json!({"name": "tier", "label": "Tier", "field_type": "enum", "enum_values": ["gold", "silver"]}),
        json!({"name": "code", "label": "Code", "field_type": "string", "validation_regex": "^[A-Z]{3}$"}),
        json!({"name": "active", "label": "Active", "field_type": "boolean"}),
        json!({"name": "joined", "label": "Joined", "field_type": "date"}),
        json!({"name": "contact", "label": "Contact", "field_type": "email"}),
        json!({"name": "site", "label": "Site", "field_type": "url"}),
    ] {
        let r = app.post(&fields, def).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let id = app.create_identity(json!({"external_ref": "member_1", "identity_type_id": t})).await;
    let cf = format!("/identities/{id}/custom-fields");

    let r = app.get(&cf).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["identity_id"], id.as_str());
    assert_eq!(r.body["custom_fields"], json!({}));

    let cases = [
        ("employees", json!("many")),
        ("tier", json!("bronze")),
        ("code", json!("abc")),
        ("code", json!(123)),
        ("active", json!("yes")),
        ("joined", json!("2024-13-45")),
        ("contact", json!("not-an-email")),
        ("site", json!("ftp://example.com")),
        ("nope", json!("x")),
    ];
    for (name, value) in cases {
        let r = app.patch(&cf, json!({"custom_fields": {name: value.clone()}})).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{name}={value}");
        let needle = format!("custom_fields.{name}");
        assert!(String::from_utf8_lossy(&r.raw).contains(&needle), "error names {needle}: {}", r.body);
    }
    assert_eq!(app.get(&cf).await.body["custom_fields"], json!({}), "nothing was stored");

    let good = json!({"employees": 12, "tier": "gold", "code": "ABC", "active": true, "joined": "2024-02-29",
                      "contact": "ops@example.com", "site": "https://example.com"});
    let r = app.patch(&cf, json!({"custom_fields": good})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["identity_id"], id.as_str());
    for (k, v) in good.as_object().unwrap() {
        assert_eq!(&r.body["custom_fields"][k], v, "{k}: {}", r.body);
    }
    let got = app.get(&cf).await;
    assert_eq!(got.body["custom_fields"]["employees"], 12);
    assert_eq!(got.body["custom_fields"]["tier"], "gold");
    let identity = app.get(&format!("/identities/{id}")).await;
    assert_eq!(identity.body["custom_fields"]["code"], "ABC", "{}", identity.body);

    // A partial update keeps the other values; one bad value rejects the whole update.
    let r = app.patch(&cf, json!({"custom_fields": {"tier": "silver"}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["custom_fields"]["tier"], "silver");
    assert_eq!(r.body["custom_fields"]["employees"], 12);
    let r = app.patch(&cf, json!({"custom_fields": {"tier": "gold", "employees": "x"}})).await;
    assert_error(&r, 422);
    assert_eq!(app.get(&cf).await.body["custom_fields"]["tier"], "silver");

    assert_error(
        &app.patch("/identities/idn_nope/custom-fields", json!({"custom_fields": {"tier": "gold"}})).await,
        404,
    );
    assert_error(&app.get("/identities/idn_nope/custom-fields").await, 404);
}

#[actix_web::test]
async fn required_and_unique_custom_fields_are_enforced() {
    let app = spawn_app().await;
    let t = create_type(&app, json!({"name": "company", "label": "Company"})).await;
    let fields = format!("/identity-types/{t}/fields");
    for def in [
        json!({"name": "reg_no", "label": "Registration", "field_type": "string", "is_required": true}),
        json!({"name": "tax_id", "label": "Tax id", "field_type": "string", "is_unique": true}),
        json!({"name": "note", "label": "Note", "field_type": "string"}),
    ] {
        assert_eq!(app.post(&fields, def).await.status, 201);
    }
    let first = app.create_identity(json!({"external_ref": "co_1", "identity_type_id": t})).await;
    let second = app.create_identity(json!({"external_ref": "co_2", "identity_type_id": t})).await;

    let r = app.patch(&format!("/identities/{first}/custom-fields"), json!({"custom_fields": {"note": "hi"}})).await;
    assert_error(&r, 422);
    assert!(String::from_utf8_lossy(&r.raw).contains("custom_fields.reg_no"), "{}", r.body);

    let r = app
        .patch(
            &format!("/identities/{first}/custom-fields"),
            json!({"custom_fields": {"reg_no": "R1", "tax_id": "T-1"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Once set, the required field need not be repeated, but cannot be cleared.
    let r = app.patch(&format!("/identities/{first}/custom-fields"), json!({"custom_fields": {"note": "hi"}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.patch(&format!("/identities/{first}/custom-fields"), json!({"custom_fields": {"reg_no": null}})).await;
    assert_error(&r, 422);
    // Re-saving one's own unique value is fine.
    let r = app.patch(&format!("/identities/{first}/custom-fields"), json!({"custom_fields": {"tax_id": "T-1"}})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = app
        .patch(
            &format!("/identities/{second}/custom-fields"),
            json!({"custom_fields": {"reg_no": "R2", "tax_id": "T-1"}}),
        )
        .await;
    assert_error(&r, 422);
    assert!(String::from_utf8_lossy(&r.raw).contains("custom_fields.tax_id"), "{}", r.body);
    let r = app
        .patch(
            &format!("/identities/{second}/custom-fields"),
            json!({"custom_fields": {"reg_no": "R2", "tax_id": "T-2"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A non-unique field may repeat.
    let r = app.patch(&format!("/identities/{second}/custom-fields"), json!({"custom_fields": {"note": "hi"}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn encrypted_custom_fields_round_trip_and_never_reach_the_database_in_plaintext() {
    let app = spawn_app().await;
    let t = create_type(&app, json!({"name": "vip", "label": "VIP"})).await;
    let r = app
        .post(
            &format!("/identity-types/{t}/fields"),
            json!({"name": "secret_note", "label": "Secret", "field_type": "string", "is_encrypted": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["is_encrypted"], true);
    let r = app
        .post(
            &format!("/identity-types/{t}/fields"),
            json!({"name": "public_note", "label": "Public", "field_type": "string"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let id = app.create_identity(json!({"external_ref": "vip_1", "identity_type_id": t})).await;
    let secret = "Zq7-PLAINTEXT-canary-5531";
    let r = app
        .patch(
            &format!("/identities/{id}/custom-fields"),
            json!({"custom_fields": {"secret_note": secret, "public_note": "visible-canary-0042"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["custom_fields"]["secret_note"], secret);

    let got = app.get(&format!("/identities/{id}/custom-fields")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["custom_fields"]["secret_note"], secret);
    assert_eq!(got.body["custom_fields"]["public_note"], "visible-canary-0042");
    let identity = app.get(&format!("/identities/{id}")).await;
    assert_eq!(identity.body["custom_fields"]["secret_note"], secret, "{}", identity.body);
    let camel = app
        .send(
            "GET",
            &format!("/identities/{id}/custom-fields"),
            Some(&app.sandbox_key),
            &[("Key-Inflection", "camel")],
            None,
        )
        .await;
    assert_eq!(camel.body["identityId"], id.as_str(), "{}", camel.body);
    assert_eq!(camel.body["customFields"]["secret_note"], secret, "field names are not inflected: {}", camel.body);

    let bytes = database_bytes(&app);
    assert!(
        contains(&bytes, b"visible-canary-0042"),
        "the unencrypted control value should be in the database files (is the check reading them?)"
    );
    assert!(!contains(&bytes, secret.as_bytes()), "the encrypted field's plaintext is in the database files");

    // Updating the encrypted value keeps it sealed too.
    let newer = "Kp2-ANOTHER-canary-9917";
    let r =
        app.patch(&format!("/identities/{id}/custom-fields"), json!({"custom_fields": {"secret_note": newer}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.get(&format!("/identities/{id}/custom-fields")).await.body["custom_fields"]["secret_note"], newer);
    let bytes = database_bytes(&app);
    assert!(!contains(&bytes, newer.as_bytes()));
    assert!(!contains(&bytes, secret.as_bytes()));
}

// ---- helpers ----

async fn create_type(app: &TestApp, body: Value) -> String {
    let r = app.post("/identity-types", body).await;
    assert_eq!(r.status, 201, "create type: {}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// The main database file and its write-ahead log, concatenated.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let path = app.db_path();
    let mut bytes = std::fs::read(&path).expect("database file");
    let wal = format!("{}-wal", path.display());
    if let Ok(more) = std::fs::read(&wal) {
        bytes.extend(more);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[actix_web::test]
async fn a_sort_order_written_with_a_zero_fraction_is_a_whole_number() {
    let app = spawn_app().await;
    let t = app.post("/identity-types", json!({"name": "sorted", "label": "Sorted"})).await;
    let type_id = t.body["id"].as_str().unwrap().to_string();
    let fields = format!("/identity-types/{type_id}/fields");
    let r =
        app.post(&fields, json!({"name": "tier", "label": "Tier", "field_type": "string", "sort_order": 3.0})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["sort_order"], 3);
    let field = format!("{fields}/{}", r.body["id"].as_str().unwrap());
    let r = app.patch(&field, json!({"sort_order": 304250263.0})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sort_order"], 304250263);
    for bad in [json!(1.5), json!(2_000_000_000), json!("1")] {
        let r = app.patch(&field, json!({"sort_order": bad})).await;
        assert_error(&r, 422);
        assert_eq!(r.body["errors"][0]["field"], "sort_order", "{}", r.body);
    }
}
