//! Face match in live: an on-prem provider over HTTP decides the score; a failing or missing provider
//! sends the session to review.

use crate::helpers::*;
use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

fn png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(96, 96, |x, y| {
        image::Rgb([((x * 3) as u8).wrapping_add(seed), ((y * 5) as u8) ^ seed, ((x + y) as u8).wrapping_mul(seed | 1)])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// A face service on 127.0.0.1:0 answering every request with `status` and `body`; returns its URL.
pub(crate) fn provider(status: u16, body: Value) -> String {
    slow_provider(status, body, std::time::Duration::ZERO)
}

/// The same, taking `delay` to answer each request.
pub(crate) fn slow_provider(status: u16, body: Value, delay: std::time::Duration) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move |payload: web::Json<Value>| {
            let body = body.clone();
            async move {
                // The contract: both images arrive base64-encoded with the session id.
                assert!(payload["selfie"].as_str().is_some_and(|s| !s.is_empty()));
                assert!(payload["document_front"].as_str().is_some_and(|s| !s.is_empty()));
                actix_web::rt::time::sleep(delay).await;
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}/match")
}

/// Uploads a document front and a selfie to session `id`.
async fn upload_front_and_selfie(app: &TestApp, key: &str, id: &str) {
    for (doc, seed) in [("id_front", 3u8), ("selfie", 77u8)] {
        let path = format!("/sessions/{id}/documents");
        let r = app.upload(&path, Some(key), &[("document_type", doc)], Some(("image/png", &png(seed)))).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

/// A live session with a document and a selfie and the face match among its checks, submitted; its id.
pub(crate) async fn submitted_live_session(app: &TestApp, external_ref: &str) -> String {
    let key = app.live_key.clone();
    let created = app
        .send(
            "POST",
            "/sessions",
            Some(&key),
            &[],
            Some(&json!({"external_ref": external_ref, "first_name": "Ada", "last_name": "Byron", "date_of_birth": "1990-01-01",
                         "checks": ["document_ocr", "face_match"]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    upload_front_and_selfie(app, &key, &id).await;
    let submitted = app.send("POST", &format!("/sessions/{id}/submit"), Some(&key), &[], None).await;
    assert_eq!(submitted.status, 202, "{}", submitted.body);
    id
}

async fn verify_live(app: &TestApp) -> Value {
    let key = app.live_key.clone();
    let id = submitted_live_session(app, "face-1").await;
    app.decided_result(&key, &id).await
}

#[actix_web::test]
async fn a_configured_face_provider_scores_the_live_face_match() {
    let url = provider(200, json!({"score": 0.82, "liveness_passed": true}));
    let app = spawn_app_with(|c| c.face_provider_url = Some(url)).await;
    let result = verify_live(&app).await;
    assert_eq!(result["status"], "approved", "{result}");
    assert_eq!(result["face_match_score"], 0.82);
    assert_eq!(result["face_match_passed"], true);
}

#[actix_web::test]
async fn a_low_score_declines_and_a_failing_provider_sends_to_review() {
    let url = provider(200, json!({"score": 0.1}));
    let app = spawn_app_with(|c| c.face_provider_url = Some(url)).await;
    let result = verify_live(&app).await;
    assert_eq!(result["status"], "declined", "{result}");
    assert_eq!(result["rejection_reason_code"], "face_mismatch");

    let url = provider(500, json!({"error": "down"}));
    let app = spawn_app_with(|c| c.face_provider_url = Some(url)).await;
    let result = verify_live(&app).await;
    assert_eq!(result["status"], "needs_review", "{result}");
    assert_eq!(result["check_results"]["face_match"]["status"], "error");

    let app = spawn_app().await;
    let result = verify_live(&app).await;
    assert_eq!(result["status"], "needs_review", "{result}");
}

/// A face service that counts the requests it answers with `body`; returns its URL.
fn counting_provider(calls: std::sync::Arc<std::sync::atomic::AtomicUsize>, body: Value) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let (body, calls) = (body.clone(), calls.clone());
        App::new().default_service(web::to(move |_: web::Json<Value>| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = body.clone();
            async move { HttpResponse::Ok().json(body) }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}/match")
}

#[actix_web::test]
async fn a_stuck_session_resumed_by_the_sweeper_asks_the_configured_provider() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicUsize::new(0));
    let url = counting_provider(calls.clone(), json!({"score": 0.82, "liveness_passed": true}));
    let clock = Arc::new(idv::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let clocked = spawn_app_with_clock_and(clock.clone(), |c| c.face_provider_url = Some(url)).await;
    let (app, key) = (&clocked.app, clocked.app.live_key.clone());
    let created = app
        .send(
            "POST",
            "/sessions",
            Some(&key),
            &[],
            Some(&json!({"external_ref": "face-stuck", "first_name": "Ada", "last_name": "Byron",
                         "date_of_birth": "1990-01-01", "checks": ["document_ocr", "face_match"]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    upload_front_and_selfie(app, &key, &id).await;
    // The session enters `processing` and the server stops before processing it (as a restart would).
    let meta = idv::commands::CommandMeta::untraced(
        "test",
        "live",
        idv::clock::format(idv::clock::Clock::now(clock.as_ref())),
    );
    let at = idv::commands::sessions::SessionRef::Id {
        environment: "live".into(),
        id: idv::domain::ids::SessionId::from_stored(id.clone()),
    };
    let (_, status) = idv::commands::sessions::submit(&clocked.writer, meta, at).await.unwrap();
    assert_eq!(status, "processing");
    assert_eq!(clocked.sweep().await, 0, "a fresh session belongs to its own task");

    clock.advance(time::Duration::minutes(2));
    assert_eq!(clocked.sweep().await, 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the sweeper asked the configured provider");
    let result = app.send("GET", &format!("/sessions/{id}/result"), Some(&key), &[], None).await.body;
    assert_eq!(result["status"], "approved", "{result}");
    assert_eq!(result["face_match_score"], 0.82);
    assert!(!result.to_string().contains("no face-match provider"), "{result}");
}

#[actix_web::test]
async fn a_session_whose_checks_leave_out_the_face_match_never_sends_its_images_to_the_provider() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let calls = Arc::new(AtomicUsize::new(0));
    let url = counting_provider(calls.clone(), json!({"score": 0.82, "liveness_passed": true}));
    let app = spawn_app_with(|c| c.face_provider_url = Some(url)).await;
    let key = app.live_key.clone();
    let body = json!({"external_ref": "no-face", "first_name": "Ada", "last_name": "Byron", "date_of_birth": "1990-01-01",
                      "checks": ["document_ocr", "age_verification"]});
    let created = app.send("POST", "/sessions", Some(&key), &[], Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    upload_front_and_selfie(&app, &key, &id).await;
    let submitted = app.send("POST", &format!("/sessions/{id}/submit"), Some(&key), &[], None).await;
    assert_eq!(submitted.status, 202, "{}", submitted.body);
    let result = app.decided_result(&key, &id).await;
    assert_eq!(result["status"], "approved", "{result}");
    assert!(result["check_results"].get("face_match").is_none(), "{result}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the provider was not asked");

    // The same provider is asked when the face match is among the checks.
    let id = submitted_live_session(&app, "with-face").await;
    assert_eq!(app.decided_result(&key, &id).await["face_match_score"], 0.82);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
