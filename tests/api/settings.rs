//! /settings/retention.

use crate::helpers::*;
use serde_json::json;

#[actix_web::test]
async fn a_sensitive_window_longer_than_the_data_window_is_accepted() {
    let app = spawn_app().await;
    // Schema-valid on its own; full deletion at the end of the data window simply comes first.
    let r = app
        .patch(
            "/settings/retention",
            json!({"data_retention_days": 1, "sensitive_data_retention_days": 36499, "image_url_expiry_seconds": 30}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data_retention_days"], 1);
    assert_eq!(r.body["sensitive_data_retention_days"], 36499);
    let got = app.get("/settings/retention").await;
    assert_eq!(got.body["sensitive_data_retention_days"], 36499, "{}", got.body);
    // A whole number written with a zero fraction is a whole number (JSON Schema's integer).
    let r = app.patch("/settings/retention", json!({"sensitive_data_retention_days": 25445.0})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["sensitive_data_retention_days"], 25445);
    assert_error(&app.patch("/settings/retention", json!({"data_retention_days": 1.5})).await, 422);
    // Out-of-range values are still refused, naming the field.
    let r = app.patch("/settings/retention", json!({"data_retention_days": 0})).await;
    assert_error(&r, 422);
    assert_eq!(r.body["errors"][0]["field"], "data_retention_days", "{}", r.body);
}
