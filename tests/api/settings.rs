//! /settings/retention, and the sweeper applying its windows.

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

async fn retention_status(app: &TestApp, key: &str, id: &str) -> serde_json::Value {
    app.send("GET", &format!("/sessions/{id}"), Some(key), &[], None).await.body["retention_status"].clone()
}

#[actix_web::test]
async fn the_retention_window_expires_a_decided_session_once_then_redacts_it_when_asked() {
    let clock = std::sync::Arc::new(idv::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let clocked = spawn_app_with_clock_and(clock.clone(), |_| {}).await;
    let (app, key) = (&clocked.app, clocked.app.live_key.clone());
    let window = json!({"data_retention_days": 1, "auto_redact_on_retention_expiry": false});
    let r = app.send("PATCH", "/settings/retention", Some(&key), &[], Some(&window)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = crate::sessions::live_submitted(app, "kept_a", "Ada", "Byron", "1990-01-01", 3, None).await;
    app.decided_result(&key, &id).await;
    assert_eq!(clocked.sweep().await, 0, "not due within the window");
    assert_eq!(retention_status(app, &key, &id).await, "active");

    clock.advance(time::Duration::days(2));
    assert_eq!(clocked.sweep().await, 1, "due: its sensitive data expires");
    assert_eq!(retention_status(app, &key, &id).await, "sensitive_redacted");
    assert_eq!(clocked.sweep().await, 0, "a session whose data expired is not picked again");

    let r = app
        .send("PATCH", "/settings/retention", Some(&key), &[], Some(&json!({"auto_redact_on_retention_expiry": true})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(clocked.sweep().await, 1, "with auto-redaction the expired session is redacted");
    assert_eq!(retention_status(app, &key, &id).await, "redacted");
    assert_eq!(clocked.sweep().await, 0);
}
