//! The processing service: evidence is gathered outside the write transaction at one version of the
//! session's stream; a decision on evidence the session has since moved past is refused, and the
//! service gathers again.

use crate::helpers::*;
use idv::commands::session_decision::{self, Plan, Recorded};
use idv::commands::sessions::{self, SessionRef};
use idv::commands::CommandMeta;
use idv::domain::ids::SessionId;
use idv::processing::{Gathered, Lookup};
use serde_json::json;
use std::sync::Arc;

fn png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([(x as u8) ^ seed, (y as u8).wrapping_mul(3), seed]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

#[actix_web::test]
async fn a_decision_on_stale_evidence_is_refused_and_retried_with_fresh_evidence() {
    let clock = Arc::new(idv::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let clocked = spawn_app_with_clock(clock.clone()).await;
    let (app, key) = (&clocked.app, clocked.app.live_key.clone());
    let body = json!({"external_ref": "stale-1", "first_name": "Ada", "last_name": "Byron",
                      "date_of_birth": "1990-01-01", "checks": ["document_ocr"]});
    let created = app.send("POST", "/sessions", Some(&key), &[], Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/sessions/{id}/documents");
    let r = app.upload(&path, Some(&key), &[("document_type", "id_front")], Some(("image/png", &png(9)))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let meta = CommandMeta {
        actor: "test".into(),
        environment: "live".into(),
        request_id: None,
        now: idv::clock::format(idv::clock::Clock::now(clock.as_ref())),
    };
    // Submitted without starting the background task, so the test drives processing itself.
    let at = SessionRef::Id { environment: "live".into(), id: SessionId::from_stored(id.clone()) };
    sessions::submit(&clocked.writer, meta.clone(), at).await.unwrap();

    let processing = &clocked.processing;
    let lookup = Lookup::Any(id.clone());
    let gather = || async {
        match processing.gather(&meta, &lookup, &Plan::Walk).await.unwrap() {
            Gathered::Ready(ev) => *ev,
            Gathered::Nothing { status, .. } => panic!("nothing to process in '{status}'"),
        }
    };
    let (first, second) = (gather().await, gather().await);
    let version = first.session.version;

    // The session changes after its evidence was gathered.
    let r = app.send("POST", &format!("/sessions/{id}/tags/add"), Some(&key), &[], Some(&json!({"tag": "vip"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let refused = session_decision::record(&clocked.writer, meta.clone(), first, Plan::Walk).await.unwrap();
    assert_eq!(refused, Recorded::Stale { expected: version, found: version + 1 });
    let s = app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await;
    assert_eq!(s.body["status"], "processing", "nothing was recorded: {}", s.body);

    // Handed the stale evidence, the service is refused once, gathers again and records.
    let done = processing.settle(meta.clone(), lookup.clone(), Plan::Walk, Some(second)).await.unwrap();
    let Recorded::Done { status, .. } = done else { panic!("not recorded: {done:?}") };
    assert_eq!(status, "completed");
    let events = app.send("GET", &format!("/sessions/{id}/events"), Some(&key), &[], None).await;
    let actions: Vec<String> =
        events.body["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect();
    assert_eq!(actions.iter().filter(|a| a.as_str() == "session.approved").count(), 1, "{actions:?}");
    assert!(actions.iter().any(|a| a == "session.tags_changed"), "{actions:?}");
    let result = app.send("GET", &format!("/sessions/{id}/result"), Some(&key), &[], None).await;
    assert_eq!(result.status, 200, "{}", result.body);
}
