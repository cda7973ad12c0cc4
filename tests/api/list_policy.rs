//! `check_against_list` inside a workflow (spec §4.8): a block-list match declines the session, a
//! flag-list match sends it to review, and the match is recorded on the session.

use crate::helpers::*;
use serde_json::{json, Value};

/// Simulated sandbox sessions skip the pipeline, so these run live through submit.
async fn run(app: &TestApp, workflow: &str, first: &str, last: &str) -> Value {
    let key = app.live_key.clone();
    let s = app
        .send(
            "POST",
            "/sessions",
            Some(&key),
            &[],
            Some(&json!({"external_ref": format!("lp-{first}"), "workflow_id": workflow, "first_name": first, "last_name": last, "date_of_birth": "1975-05-05"})),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    let png = {
        let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 3, y as u8 * 2, 9]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let r = app
        .upload(
            &format!("/sessions/{id}/documents"),
            Some(&key),
            &[("document_type", "id_front")],
            Some(("image/png", &png)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(app.send("POST", &format!("/sessions/{id}/submit"), Some(&key), &[], None).await.status, 202);
    for _ in 0..200 {
        if app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await.body["status"] != "processing" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut result = app.send("GET", &format!("/sessions/{id}/result"), Some(&key), &[], None).await.body;
    result["list_matches"] = app.send("GET", &format!("/sessions/{id}/list-matches"), Some(&key), &[], None).await.body;
    let alias = app.send("GET", &format!("/sessions/{id}/lists/matches"), Some(&key), &[], None).await.body;
    assert_eq!(alias, result["list_matches"], "both spellings of the session's list matches agree");
    result
}

#[actix_web::test]
async fn block_and_flag_lists_decide_inside_a_workflow() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    // Lists and workflows are per environment: make them with the live key.
    let as_live = |path: &'static str, body: Value| {
        let key = key.clone();
        let app = &app;
        async move { app.send("POST", path, Some(&key), &[], Some(&body)).await }
    };
    let block = as_live("/lists", json!({"name": "blocked", "list_type": "name", "match_mode": "block"})).await;
    let block_id = block.body["id"].as_str().unwrap().to_string();
    let r = app
        .send(
            "POST",
            &format!("/lists/{block_id}/items"),
            Some(&key),
            &[],
            Some(&json!({"value": {"first_name": "Mallory", "last_name": "Crook", "date_of_birth": "1975-05-05"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let flag = as_live("/lists", json!({"name": "watched", "list_type": "name", "match_mode": "flag"})).await;
    let flag_id = flag.body["id"].as_str().unwrap().to_string();
    let r = app
        .send(
            "POST",
            &format!("/lists/{flag_id}/items"),
            Some(&key),
            &[],
            Some(&json!({"value": {"first_name": "Eve", "last_name": "Watcher", "date_of_birth": "1975-05-05"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let wf = as_live(
        "/workflows",
        json!({"name": "lists", "steps": ["document_ocr", "check_against_list", "auto_approve"]}),
    )
    .await;
    assert_eq!(wf.status, 201, "{}", wf.body);
    let wf = wf.body["id"].as_str().unwrap().to_string();

    let blocked = run(&app, &wf, "Mallory", "Crook").await;
    assert_eq!(blocked["status"], "declined", "{blocked}");
    assert_eq!(blocked["rejection_reason_code"], "list_blocked");
    assert_eq!(blocked["check_results"]["check_against_list"]["status"], "failed");
    assert_eq!(blocked["list_matches"]["data"].as_array().map(|a| a.len()), Some(1), "{}", blocked["list_matches"]);

    let flagged = run(&app, &wf, "Eve", "Watcher").await;
    assert_eq!(flagged["status"], "needs_review", "{flagged}");

    let clean = run(&app, &wf, "Alice", "Honest").await;
    assert_eq!(clean["status"], "approved", "{clean}");
}
