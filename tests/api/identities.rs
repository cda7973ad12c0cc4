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
    assert_eq!(assert_error(&app.patch(&format!("/identities/{id}"), json!({"city": "Rome"})).await, 422), "validation_error");
    assert_error(&app.delete(&format!("/identities/{id}/data")).await, 422);
}
