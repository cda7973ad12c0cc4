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
    let meta = CommandMeta::untraced("test", "live", idv::clock::format(idv::clock::Clock::now(clock.as_ref())));
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

#[actix_web::test]
async fn every_session_event_decodes_and_encodes_back_to_the_stored_payload() {
    let app = spawn_app().await;
    let body = json!({"external_ref": "typed-1", "first_name": "Ada", "last_name": "Byron", "metadata": {"a": 1}});
    let created = app.post("/sessions", body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let patched = app.patch(&format!("/sessions/{id}"), json!({"external_ref": null, "metadata": {"b": 2}})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(app.post(&format!("/sessions/{id}/tags/add"), json!({"tag": "vip"})).await.status, 200);
    let r = app
        .upload(
            &format!("/sessions/{id}/documents"),
            Some(&app.sandbox_key),
            &[("document_type", "id_front")],
            Some(("image/png", &png(5))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let link = app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({})).await;
    assert_eq!(link.status, 200, "{}", link.body);
    let sim = app.post(&format!("/sessions/{id}/simulate"), json!({"action": "approve"})).await;
    assert_eq!(sim.status, 200, "{}", sim.body);
    let other = app.post("/sessions", json!({})).await.body["id"].as_str().unwrap().to_string();
    assert_eq!(app.post(&format!("/sessions/{other}/expire"), json!({})).await.status, 200);
    assert_eq!(app.delete(&format!("/sessions/{id}/data")).await.status, 200);

    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT event_type, event_version, payload FROM events WHERE event_type LIKE 'Session%' ORDER BY seq")
        .unwrap();
    let rows: Vec<(String, i64, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    let mut seen = std::collections::BTreeSet::new();
    for (event_type, version, payload) in rows {
        let stored: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let decoded = idv::domain::session::SessionEvent::decode(&event_type, version, &stored)
            .unwrap_or_else(|e| panic!("{event_type}: {e}"))
            .unwrap_or_else(|| panic!("{event_type} is not a SessionEvent"));
        assert_eq!(decoded.event_type(), event_type);
        assert_eq!(decoded.payload(), stored, "{event_type} keeps its stored payload");
        seen.insert(event_type);
    }
    for t in [
        "SessionCreated",
        "SessionUpdated",
        "SessionTagsChanged",
        "SessionDocumentUploaded",
        "SessionTokenIssued",
        "SessionDecided",
        "SessionStatusChanged",
        "SessionRedacted",
    ] {
        assert!(seen.contains(t), "{t} missing from {seen:?}");
    }
}
