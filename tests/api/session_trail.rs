//! A session's audit trail (`/sessions/{id}/events`), the identity audit log combining identity and
//! session entries, and the workflow run (`/sessions/{id}/workflow-run`) through an external gate.

use crate::helpers::*;
use serde_json::json;

#[actix_web::test]
async fn the_session_trail_and_the_combined_identity_log_carry_actions_not_values() {
    let app = spawn_app().await;
    let s = app.post("/sessions", json!({"external_ref": "trail-1", "first_name": "Wilhelmina", "last_name": "Zyx", "date_of_birth": "1988-08-08"})).await;
    let id = s.body["id"].as_str().unwrap().to_string();
    let page = app.send_raw("GET", s.body["capture_url"].as_str().unwrap(), None, None).await;
    assert_eq!(page.status, 200);
    assert_eq!(app.post(&format!("/sessions/{id}/simulate"), json!({"action": "approve"})).await.status, 200);

    let events = app.get(&format!("/sessions/{id}/events")).await;
    assert_eq!(events.status, 200, "{}", events.body);
    let actions: Vec<&str> =
        events.body["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.first(), Some(&"session.approved"), "newest first: {actions:?}");
    assert!(actions.contains(&"session.started") && actions.last() == Some(&"session.created"), "{actions:?}");
    assert!(!events.body.to_string().contains("Wilhelmina"));
    assert_eq!(app.live_get(&format!("/sessions/{id}/events")).await.status, 404);

    let log = app.get("/identities/trail-1/audit-log").await;
    let kinds: Vec<&str> =
        log.body["data"].as_array().unwrap().iter().map(|e| e["resource_type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"identity") && kinds.contains(&"session"), "{}", log.body);
    assert!(!log.body.to_string().contains("Wilhelmina"));
}

#[actix_web::test]
async fn the_workflow_run_shows_the_gate_and_then_the_path_to_the_terminal() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    let graph = json!({"name": "gate", "graph": {"entry": "s", "nodes": {
        "s": {"type": "start", "next": "age"},
        "age": {"type": "policy", "policy": "age_verification", "on_pass": "gate", "on_fail": "no"},
        "gate": {"type": "wait", "next": "yes", "on_fail": "review"},
        "yes": {"type": "terminal", "outcome": "approved"},
        "no": {"type": "terminal", "outcome": "rejected"}}}});
    let wf = app.send("POST", "/workflows", Some(&key), &[], Some(&graph)).await;
    assert_eq!(wf.status, 201, "{}", wf.body);
    let body = json!({"external_ref": "gate-1", "workflow_id": wf.body["id"], "first_name": "A", "last_name": "B", "date_of_birth": "1980-01-01"});
    let s = app.send("POST", "/sessions", Some(&key), &[], Some(&body)).await;
    let id = s.body["id"].as_str().unwrap().to_string();
    let png = {
        let img = image::RgbImage::from_fn(48, 48, |x, y| image::Rgb([x as u8 * 5, y as u8 * 5, 0]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    app.upload(
        &format!("/sessions/{id}/documents"),
        Some(&key),
        &[("document_type", "id_front")],
        Some(("image/png", &png)),
    )
    .await;
    assert_eq!(app.send("POST", &format!("/sessions/{id}/submit"), Some(&key), &[], None).await.status, 202);
    let mut run = json!(null);
    for _ in 0..100 {
        run = app.send("GET", &format!("/sessions/{id}/workflow-run"), Some(&key), &[], None).await.body;
        if run["status"] == "awaiting_external" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(run["status"], "awaiting_external", "{run}");
    assert_eq!(run["waiting_at"], "gate");
    assert_eq!(run["workflow_id"], wf.body["id"]);
    let decided = app
        .send(
            "POST",
            &format!("/sessions/{id}/external-decision"),
            Some(&key),
            &[],
            Some(&json!({"decision": "continue"})),
        )
        .await;
    assert_eq!(decided.status, 202, "{}", decided.body);
    let run = app.send("GET", &format!("/sessions/{id}/workflow-run"), Some(&key), &[], None).await.body;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["outcome"], "approved");
    assert_eq!(run["path"].as_array().and_then(|p| p.last()).and_then(|v| v.as_str()), Some("yes"), "{run}");
    assert_eq!(run["check_results"]["age_verification"]["status"], "passed");
}

#[actix_web::test]
async fn an_unknown_status_filter_is_a_422_not_an_empty_page() {
    let app = spawn_app().await;
    assert_eq!(assert_error(&app.get("/sessions?status=bogus").await, 422), "validation_error");
    assert_eq!(app.get("/sessions?status=pending,completed").await.status, 200);
    assert_eq!(assert_error(&app.get("/results?status=approvedd").await, 422), "validation_error");
    assert_eq!(app.get("/results?status=rejected").await.status, 200);
}
