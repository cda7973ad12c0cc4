//! Continuous monitoring of standalone checks and the monitoring history (spec §1.9): a check created or
//! switched to `monitoring_enabled` is screened again against each new watchlist version's changes, its new
//! hits join it, and every pass (when, which version, open hits before and after, the new hits) is listed
//! newest first for the check and for a monitored identity; turning it off stops the passes.

use crate::findings::{import_ofac, live, replay_passes, sample_copy, OFAC_SAMPLE};
use crate::helpers::*;
use serde_json::{json, Value};
use std::path::Path;

/// An entry the second snapshot adds (matches Ivan Petrovsky, born 3 March 1971).
const NEW_ROW: &str = "99999,\"PETROVSKY, Ivan Sergeyevich\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 03 Mar 1971; nationality Russia.\"\r\n";

/// An unrelated entry, so a snapshot has changes that match nobody.
fn unrelated_row(n: u32) -> String {
    format!(
        "{n},\"ZQXWORTH, Barnaby Ulrich\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 01 Jan 1950.\"\r\n"
    )
}

async fn import_with(app: &TestApp, rows: &str) -> String {
    let rows = rows.to_string();
    let dir = sample_copy(move |sdn| format!("{sdn}{rows}"));
    let r = import_ofac(app, dir.path()).await;
    assert_eq!(r.body["version"]["monitoring"]["status"], "completed", "{}", r.body);
    r.body["version"]["id"].as_str().unwrap().to_string()
}

async fn check(app: &TestApp, external_ref: &str, monitoring: bool) -> Value {
    let body = json!({"check_type": "sanction", "external_ref": external_ref, "name_first": "Ivan",
        "name_last": "Petrovsky", "birthdate": "1971-03-03", "monitoring_enabled": monitoring});
    let r = live(app, "POST", "/checks", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

async fn history(app: &TestApp, key: &str, path: &str) -> Value {
    let r = app.send("GET", path, Some(key), &[], None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body
}

/// The webhook events the outbox makes of `stream`'s last event of `event_type`: (name, data).
fn webhooks_of(app: &TestApp, stream: &str, event_type: &str) -> Vec<(String, Value)> {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let event = conn
        .query_row(
            "SELECT seq, event_id, stream_seq, event_version, payload, recorded_at, actor, environment FROM events
             WHERE stream_id = ?1 AND event_type = ?2 ORDER BY seq DESC LIMIT 1",
            [stream, event_type],
            |r| {
                Ok(idv::store::events::StoredEvent {
                    seq: r.get(0)?,
                    event_id: r.get(1)?,
                    stream_id: stream.to_string(),
                    stream_seq: r.get(2)?,
                    event_type: event_type.to_string(),
                    event_version: r.get(3)?,
                    payload: serde_json::from_str(&r.get::<_, String>(4)?).unwrap(),
                    recorded_at: r.get(5)?,
                    actor: r.get(6)?,
                    environment: r.get(7)?,
                    request_id: None,
                    origin: None,
                })
            },
        )
        .unwrap();
    idv::webhooks::outbox::map_event(&conn, &event)
        .unwrap()
        .into_iter()
        .map(|m| (m.event.event, Value::Object(m.event.data)))
        .collect()
}

#[actix_web::test]
async fn a_monitored_check_gets_new_hits_from_a_list_change_and_lists_each_pass() {
    let app = spawn_app().await;
    let key = app.live_key.clone();
    import_ofac(&app, Path::new(OFAC_SAMPLE)).await;
    let watched = check(&app, "mh-1", true).await;
    assert_eq!(watched["status"], "clear", "{watched}");
    assert_eq!(watched["monitoring_enabled"], true);
    let id = watched["id"].as_str().unwrap().to_string();
    let unwatched = check(&app, "mh-2", false).await;
    assert_eq!(unwatched["monitoring_enabled"], false);
    let other = unwatched["id"].as_str().unwrap().to_string();
    let h = history(&app, &key, &format!("/checks/{id}/monitoring-history")).await;
    assert_eq!(h["pagination"]["total"], 0, "created, not yet monitored: {h}");

    // Snapshot 2 adds the entry: the monitored check gets the hit, the other check does not.
    let v2 = import_with(&app, NEW_ROW).await;
    let got = live(&app, "GET", &format!("/checks/{id}"), None).await.body;
    assert_eq!(got["status"], "hit", "{got}");
    assert_eq!(got["hit_count"], 1);
    let hit = got["hits"].as_array().unwrap().iter().find(|h| h["entry_id"] == "99999").expect("the new entry").clone();
    assert_eq!(hit["list_version_id"], v2.as_str());
    assert!(hit["explanation"].as_str().is_some_and(|e| e.contains("99999")), "{hit}");
    assert_eq!(live(&app, "GET", &format!("/checks/{other}"), None).await.body["status"], "clear");
    let h = history(&app, &key, &format!("/checks/{id}/monitoring-history")).await;
    assert_eq!(h["pagination"]["total"], 1, "{h}");
    let pass = &h["data"][0];
    assert_eq!(pass["subject_type"], "check");
    assert_eq!(pass["subject_id"], id.as_str());
    assert_eq!(pass["watchlist_id"], "ofac");
    assert_eq!(pass["list_version_id"], v2.as_str());
    assert_eq!((pass["hits_before"].as_i64(), pass["hits_after"].as_i64()), (Some(0), Some(1)), "{pass}");
    assert_eq!(pass["new_hit_ids"], json!([hit["id"]]));
    assert_eq!(pass["new_hit_count"], 1);
    assert_eq!(pass["check_id"], id.as_str());
    assert!(pass["screened_at"].as_str().is_some());
    assert_eq!(history(&app, &key, &format!("/checks/{other}/monitoring-history")).await["pagination"]["total"], 0);
    // It is announced as the spec's monitoring webhook, under both of its names, with ids only.
    let announced = webhooks_of(&app, &id, "CheckMonitoringHitsFound");
    assert_eq!(announced.len(), 2, "{announced:?}");
    assert_eq!(announced[0].0, "check.monitoring.new_hits");
    assert_eq!(announced[1].0, "screening.monitoring.new_hits");
    assert_eq!(announced[0].1["new_hit_ids"], json!([hit["id"]]));
    assert_eq!(announced[0].1["list_version_ids"], json!([v2]));
    assert_eq!(announced[0].1["external_ref"], "mh-1");
    assert!(!announced[0].1.to_string().contains("Petrovsky"));
    // The new hit is a finding like any other.
    let f = live(&app, "GET", &format!("/findings?check_id={id}"), None).await.body;
    assert_eq!(f["data"][0]["hit_id"], hit["id"], "{f}");

    // Turned off, a change passes it by; turned on again, the next change is a pass with nothing new.
    let off = live(&app, "POST", &format!("/checks/{id}/monitoring/disable"), None).await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(off.body["monitoring_enabled"], false);
    import_with(&app, &format!("{NEW_ROW}{}", unrelated_row(90001))).await;
    assert_eq!(history(&app, &key, &format!("/checks/{id}/monitoring-history")).await["pagination"]["total"], 1);
    let on = live(&app, "POST", &format!("/checks/{id}/monitoring/enable"), None).await;
    assert_eq!(on.body["monitoring_enabled"], true, "{}", on.body);
    let v4 = import_with(&app, &format!("{NEW_ROW}{}{}", unrelated_row(90001), unrelated_row(90002))).await;
    let h = history(&app, &key, &format!("/checks/{id}/monitoring-history")).await;
    assert_eq!(h["pagination"]["total"], 2, "{h}");
    assert_eq!(h["data"][0]["list_version_id"], v4.as_str(), "newest first: {h}");
    assert_eq!((h["data"][0]["hits_before"].as_i64(), h["data"][0]["hits_after"].as_i64()), (Some(1), Some(1)));
    assert_eq!(h["data"][0]["new_hit_ids"], json!([]));
    assert!(h["data"][0]["check_id"].is_null());
    assert_eq!(h["data"][1]["list_version_id"], v2.as_str());
    let page = history(&app, &key, &format!("/checks/{id}/monitoring-history?limit=1&offset=1")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["list_version_id"], v2.as_str());
    assert_eq!(page["pagination"], json!({"total": 2, "limit": 1, "offset": 1}));

    // Only AML checks are monitored; unknown checks are 404; the subject never reaches the log or views.
    let email = live(
        &app,
        "POST",
        "/checks",
        Some(json!({"check_type": "email_risk", "external_ref": "mh-3", "email": "a@example.com", "monitoring_enabled": true})),
    )
    .await;
    assert_error(&email, 422);
    let email = live(
        &app,
        "POST",
        "/checks",
        Some(json!({"check_type": "email_risk", "external_ref": "mh-3", "email": "a@example.com"})),
    )
    .await;
    let email_id = email.body["id"].as_str().unwrap();
    assert_error(&live(&app, "POST", &format!("/checks/{email_id}/monitoring/enable"), None).await, 409);
    // In a batch, monitoring applies to its AML types only.
    let batch = live(
        &app,
        "POST",
        "/checks/full",
        Some(json!({"check_types": ["sanction", "email_risk"], "external_ref": "mh-4", "name_first": "Ivan",
            "name_last": "Petrovsky", "email": "a@example.com", "monitoring_enabled": true})),
    )
    .await;
    assert_eq!(batch.status, 201, "{}", batch.body);
    for c in batch.body["data"].as_array().unwrap() {
        assert_eq!(c["monitoring_enabled"], c["check_type"] == "sanction", "{c}");
    }
    assert_error(&app.get(&format!("/checks/{id}/monitoring-history")).await, 404);
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let text: String = conn
        .query_row(
            "SELECT group_concat(payload) FROM events WHERE event_type LIKE 'Check%' OR event_type LIKE 'Watchlist%Monitoring%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // The list entry's own name is upper case; the subject's form never reaches the log.
    assert!(text.contains("PETROVSKY") && !text.contains("Petrovsky"), "no subject data in the log");
    let views: String = conn
        .query_row("SELECT group_concat(subject_id || new_hit_ids) FROM monitoring_passes", [], |r| r.get(0))
        .unwrap();
    assert!(!views.contains("Petrovsky"));
    replay_passes(&app);
}

#[actix_web::test]
async fn an_identitys_monitoring_history_lists_its_baseline_and_each_pass_newest_first() {
    let app = spawn_app().await;
    let target = app
        .create_identity(json!({"external_ref": "mh-i1", "first_name": "Ivan", "last_name": "Petrovsky", "date_of_birth": "1971-03-03"}))
        .await;
    let paused = app
        .create_identity(json!({"external_ref": "mh-i2", "first_name": "Ivan", "last_name": "Petrovsky", "date_of_birth": "1971-03-03"}))
        .await;
    assert_eq!(app.post(&format!("/identities/{paused}/monitoring/pause"), json!({})).await.status, 200);
    let key = app.sandbox_key.clone();

    let v1 = import_ofac(&app, Path::new(OFAC_SAMPLE)).await.body["version"]["id"].as_str().unwrap().to_string();
    let h = history(&app, &key, &format!("/identities/{target}/monitoring-history")).await;
    assert_eq!(h["pagination"]["total"], 1, "the baseline: {h}");
    assert_eq!(h["data"][0]["subject_type"], "identity");
    assert_eq!(h["data"][0]["list_version_id"], v1.as_str());
    assert_eq!((h["data"][0]["hits_before"].as_i64(), h["data"][0]["hits_after"].as_i64()), (Some(0), Some(0)));

    let v2 = import_with(&app, NEW_ROW).await;
    let h = history(&app, &key, &format!("/identities/{target}/monitoring-history")).await;
    assert_eq!(h["pagination"]["total"], 2, "{h}");
    let pass = &h["data"][0];
    assert_eq!(pass["list_version_id"], v2.as_str(), "newest first: {h}");
    assert_eq!((pass["hits_before"].as_i64(), pass["hits_after"].as_i64()), (Some(0), Some(1)), "{pass}");
    let checks = app.get(&format!("/identities/{target}/checks")).await.body;
    assert_eq!(pass["check_id"], checks["data"][0]["id"], "the monitoring check holding the hit: {checks}");
    assert_eq!(pass["new_hit_ids"], json!([checks["data"][0]["hits"][0]["id"]]));
    // By external_ref too; a paused identity has no passes; another environment's key sees nothing.
    let by_ref = history(&app, &key, "/identities/mh-i1/monitoring-history").await;
    assert_eq!(by_ref, h);
    assert_eq!(
        history(&app, &key, &format!("/identities/{paused}/monitoring-history")).await["pagination"]["total"],
        0
    );
    assert_error(&live(&app, "GET", &format!("/identities/{target}/monitoring-history"), None).await, 404);
    assert_error(&app.get("/identities/idn_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C/monitoring-history").await, 404);
    assert_error(&app.get(&format!("/identities/{target}/monitoring-history?limit=0")).await, 422);
    replay_passes(&app);
}
