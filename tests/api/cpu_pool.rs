//! The CPU pool bounds the heavy work of a request (an upload's preparation, screening): while every
//! thread is busy and its queue is full, such a request is refused at once (503, Retry-After, the spec's
//! error shape) with nothing stored, and taken again once the pool drains; a session already submitted is
//! still processed, however full the pool was.

use crate::helpers::*;
use idv::clock::ManualClock;
use serde_json::json;
use std::sync::Arc;

fn png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([(x as u8) ^ seed, (y as u8).wrapping_mul(5), seed]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// More jobs than any machine's queue holds, each waiting on `gate`, so every thread of the pool is taken
/// and the queue is over its bound until the gate opens.
fn fill(cpu: &idv::blocking::CpuPool, gate: &Arc<Gate>) {
    for _ in 0..4096 {
        let gate = gate.clone();
        drop(cpu.run_queued(move || {
            gate.wait();
            Ok(())
        }));
    }
}

/// A session that checks a document, for `external_ref`; returns its id.
async fn new_session(app: &TestApp, key: &str, external_ref: &str) -> String {
    let body = json!({"external_ref": external_ref, "first_name": "Ada", "last_name": "Byron",
                      "date_of_birth": "1990-01-01", "checks": ["document_ocr"]});
    let created = app.send("POST", "/sessions", Some(key), &[], Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().unwrap().to_string()
}

fn assert_refused_as_busy(r: &Resp) {
    assert_eq!(r.status, 503, "{}", r.body);
    let retry_after: u64 = r.headers.get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_eq!(r.body["error"], "service_unavailable", "{}", r.body);
    assert_eq!(r.body["status_code"], 503, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("busy"), "{}", r.body);
}

#[actix_web::test]
async fn a_full_cpu_pool_refuses_uploads_and_checks_at_once_and_takes_them_when_it_drains() {
    let clocked = spawn_app_with_clock(Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()))).await;
    let (app, key) = (&clocked.app, clocked.app.live_key.clone());
    let id = new_session(app, &key, "cpu-1").await;
    let uploads = format!("/sessions/{id}/documents");
    let check = json!({"check_type": "sanction", "external_ref": "cpu-check", "name_first": "Ada",
                       "name_last": "Byron"});

    let gate = Arc::new(Gate::default());
    fill(&clocked.cpu, &gate);
    let refused =
        app.upload(&uploads, Some(&key), &[("document_type", "id_front")], Some(("image/png", &png(3)))).await;
    assert_refused_as_busy(&refused);
    let refused =
        app.upload("/documents", Some(&key), &[("document_type", "id_front")], Some(("image/png", &png(4)))).await;
    assert_refused_as_busy(&refused);
    let refused = app.send("POST", "/checks", Some(&key), &[], Some(&check)).await;
    assert_refused_as_busy(&refused);

    // Nothing of the refused requests was stored.
    // (Session uploads are documents too.)
    let documents = app.send("GET", "/documents", Some(&key), &[], None).await;
    assert_eq!(documents.body["data"].as_array().map(Vec::len), Some(0), "{}", documents.body);
    let checks = app.send("GET", "/checks", Some(&key), &[], None).await;
    assert_eq!(checks.body["data"].as_array().map(Vec::len), Some(0), "{}", checks.body);

    gate.open();
    // Queued behind every job of `fill`: when it has run, the pool has drained.
    clocked.cpu.run_queued(|| Ok(())).await.unwrap();
    let taken = app.upload(&uploads, Some(&key), &[("document_type", "id_front")], Some(("image/png", &png(3)))).await;
    assert_eq!(taken.status, 201, "{}", taken.body);
    let taken = app.send("POST", "/checks", Some(&key), &[], Some(&check)).await;
    assert_eq!(taken.status, 201, "{}", taken.body);
}

#[actix_web::test]
async fn a_session_submitted_while_the_cpu_pool_is_full_is_processed_when_it_drains() {
    let clocked = spawn_app_with_clock(Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()))).await;
    let (app, key) = (&clocked.app, clocked.app.live_key.clone());
    let id = new_session(app, &key, "cpu-2").await;
    let r = app
        .upload(
            &format!("/sessions/{id}/documents"),
            Some(&key),
            &[("document_type", "id_front")],
            Some(("image/png", &png(7))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let gate = Arc::new(Gate::default());
    fill(&clocked.cpu, &gate);
    let submitted = app.send("POST", &format!("/sessions/{id}/submit"), Some(&key), &[], None).await;
    assert!(submitted.status < 300, "{}", submitted.body);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    let waiting = app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await;
    assert_eq!(waiting.body["status"], "processing", "the pool is full, so nothing is decided yet: {}", waiting.body);

    gate.open();
    let result = app.decided_result(&key, &id).await;
    assert_eq!(result["session_id"], id.as_str(), "{result}");
    let session = app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await;
    assert_eq!(session.body["status"], "completed", "the queued processing ran once the pool drained");
}

#[actix_web::test]
async fn a_watchlist_subscription_refused_by_a_full_pool_leaves_nothing_behind() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let clocked = spawn_app_with_clock_and(clock, |c| c.admin_secret = Some("s".into())).await;
    let app = &clocked.app;
    import_people(app, &[("p-1", "Viktor Zubrovsky", "1961-03-14")]).await;
    let client = app
        .send("POST", "/v1/admin/api-clients", None, &[("X-Admin-Secret", "s")], Some(&json!({"name": "aml"})))
        .await;
    let vhq_key = client.body["apiKey"].as_str().unwrap().to_string();
    let subscription = json!({"userId": "wl_busy", "fullName": "Viktor Zubrovsky", "dateOfBirth": "1961-03-14",
                              "lists": ["SANCTIONS"]});
    let subscribe = || app.send("POST", "/v1/monitoring/watchlist/subscribe", Some(&vhq_key), &[], Some(&subscription));
    let alerts = || app.send("GET", "/v1/monitoring/watchlist/alerts?userId=wl_busy", Some(&vhq_key), &[], None);

    let gate = Arc::new(Gate::default());
    fill(&clocked.cpu, &gate);
    let refused = subscribe().await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(refused.headers.get("retry-after").is_some(), "Retry-After on a busy answer");
    assert_eq!(refused.body["statusCode"], 503, "VerifyHQ's error shape: {}", refused.body);
    // The baseline screening was refused before anything was written: no identity, no check, no alert.
    assert_eq!(app.live_get("/identities/wl_busy").await.status, 404);
    let checks = app.send("GET", "/checks", Some(&app.live_key), &[], None).await;
    assert_eq!(checks.body["data"].as_array().map(Vec::len), Some(0), "{}", checks.body);
    assert_eq!(alerts().await.body["meta"]["total"], 0);

    gate.open();
    clocked.cpu.run_queued(|| Ok(())).await.unwrap();
    let taken = subscribe().await;
    assert_eq!(taken.status, 201, "{}", taken.body);
    let identity = app.live_get("/identities/wl_busy").await;
    assert_eq!(identity.body["monitoring_enabled"], true, "{}", identity.body);
    assert_eq!(alerts().await.body["meta"]["total"], 1, "the baseline screening found the listed person");
}
