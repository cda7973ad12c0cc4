//! `Prefer: wait=N` on GET /sessions/{id}: a session in processing is answered when it leaves processing,
//! or after N seconds still processing; without the preference the answer is immediate. The result endpoint
//! waits the same way.

use crate::face::{slow_provider, submitted_live_session};
use crate::helpers::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// A server whose face provider approves after `delay`, with a live session submitted to it (so processing
/// until the provider answers): the app, its live key and the session id.
async fn session_processing_for(delay: Duration, external_ref: &str) -> (TestApp, String, String) {
    let url = slow_provider(200, json!({"score": 0.9, "liveness_passed": true}), delay);
    let app = spawn_app_with(|c| c.face_provider_url = Some(url)).await;
    let key = app.live_key.clone();
    let id = submitted_live_session(&app, external_ref).await;
    (app, key, id)
}

#[actix_web::test]
async fn a_wait_preference_holds_the_answer_until_the_session_leaves_processing() {
    let (app, key, id) = session_processing_for(Duration::from_millis(1500), "wait-1").await;

    let at_once = app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await;
    assert_eq!(at_once.status, 200, "{}", at_once.body);
    assert_eq!(at_once.body["status"], "processing", "the face provider is still answering");
    assert_eq!(at_once.header("preference-applied"), None);

    let started = Instant::now();
    let waited = app.send("GET", &format!("/sessions/{id}"), Some(&key), &[("Prefer", "wait=20")], None).await;
    assert_eq!(waited.status, 200, "{}", waited.body);
    assert_eq!(waited.body["status"], "completed", "{}", waited.body);
    assert_eq!(waited.header("preference-applied").as_deref(), Some("wait=20"));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered when the session left processing, not at the deadline"
    );

    let result = app.send("GET", &format!("/sessions/{id}/result"), Some(&key), &[], None).await;
    assert_eq!(result.body["status"], "approved", "{}", result.body);
}

#[actix_web::test]
async fn a_wait_shorter_than_the_processing_answers_still_processing_after_it() {
    let (app, key, id) = session_processing_for(Duration::from_secs(4), "wait-2").await;

    let started = Instant::now();
    let waited = app.send("GET", &format!("/sessions/{id}"), Some(&key), &[("Prefer", "wait=1")], None).await;
    assert_eq!(waited.status, 200, "{}", waited.body);
    assert_eq!(waited.body["status"], "processing");
    assert_eq!(waited.header("preference-applied").as_deref(), Some("wait=1"));
    assert!(started.elapsed() >= Duration::from_millis(900), "held for the second it asked for");

    // A session that is not processing is answered at once, whatever the wait.
    let other = app
        .send(
            "POST",
            "/sessions",
            Some(&key),
            &[],
            Some(&json!({"external_ref": "wait-3", "checks": ["document_ocr"]})),
        )
        .await;
    let other_id = other.body["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let pending = app.send("GET", &format!("/sessions/{other_id}"), Some(&key), &[("Prefer", "wait=30")], None).await;
    assert_eq!(pending.body["status"], "pending");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[actix_web::test]
async fn the_result_waits_for_the_decision_too() {
    let (app, key, id) = session_processing_for(Duration::from_millis(1500), "wait-4").await;

    let at_once = app.send("GET", &format!("/sessions/{id}/result"), Some(&key), &[], None).await;
    assert_eq!(at_once.status, 404, "no result while processing: {}", at_once.body);

    let waited = app.send("GET", &format!("/sessions/{id}/result"), Some(&key), &[("Prefer", "wait=20")], None).await;
    assert_eq!(waited.status, 200, "{}", waited.body);
    assert_eq!(waited.body["status"], "approved", "{}", waited.body);
    assert_eq!(waited.header("preference-applied").as_deref(), Some("wait=20"));
}
