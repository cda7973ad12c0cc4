//! Findings (spec §1.4.1): check hits, custom-list matches and a session's fraud signals show up in one
//! list with the analyst's filters; acknowledging and dismissing record who and why (sealed), a hit's
//! dismissal is the check's own, a list match's marks it a false positive; the view rebuilds from the log,
//! and a database from before the view gains it at open.

use crate::helpers::*;
use idv::crypto::{Keyring, MasterKey};
use serde_json::{json, Value};
use std::path::Path;

pub const OFAC_SAMPLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/watchman/internal/ofactest/testdata");

/// A listed person of the OFAC sample (ent_num 48603).
pub const LISTED: (&str, &str, &str) = ("Dmitry", "Khoroshev", "1993-04-17");

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// Imports an OFAC snapshot from a folder holding sdn.csv, add.csv and alt.csv (live key).
pub async fn import_ofac(app: &TestApp, dir: &Path) -> Resp {
    let boundary = "----idv-findings-boundary-77a1";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nofac\r\n").as_bytes(),
    );
    for (name, file) in [("file", "sdn.csv"), ("add_file", "add.csv"), ("alt_file", "alt.csv")] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&read(dir.join(file)));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = app.send_raw("POST", &app.url("/watchlists/import"), Some(&app.live_key), Some((&ct, body))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r
}

/// A copy of the OFAC sample in a temp folder, with `edit` applied to sdn.csv.
pub fn sample_copy(edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["add.csv", "alt.csv"] {
        std::fs::copy(Path::new(OFAC_SAMPLE).join(f), dir.path().join(f)).expect("copy");
    }
    let sdn = String::from_utf8(read(Path::new(OFAC_SAMPLE).join("sdn.csv"))).expect("utf-8");
    std::fs::write(dir.path().join("sdn.csv"), edit(sdn)).expect("write");
    dir
}

pub async fn live(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Resp {
    app.send(method, path, Some(&app.live_key.clone()), &[], body.as_ref()).await
}

pub fn keyring(app: &TestApp) -> Keyring {
    let (master, created) = MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    assert!(!created);
    Keyring::new(&master)
}

pub fn replay_passes(app: &TestApp) {
    let scratch = app.data_dir.path().join("scratch.db");
    idv::store::replay::check(&app.db_path(), &scratch, &keyring(app)).expect("replay check passes");
}

async fn sanction_check(app: &TestApp, external_ref: &str, who: (&str, &str, &str)) -> Value {
    let body = json!({"check_type": "sanction", "external_ref": external_ref, "name_first": who.0,
        "name_last": who.1, "birthdate": who.2});
    let r = live(app, "POST", "/checks", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().into_iter().flatten().map(|f| f["id"].as_str().unwrap_or_default().to_string()).collect()
}

#[actix_web::test]
async fn a_hit_is_a_finding_acknowledged_and_dismissed_with_who_and_why_and_its_check_follows() {
    let app = spawn_app().await;
    import_ofac(&app, Path::new(OFAC_SAMPLE)).await;
    let check = sanction_check(&app, "f-1", LISTED).await;
    assert_eq!(check["status"], "hit", "{check}");
    let check_id = check["id"].as_str().unwrap();
    let hit_id = check["hits"][0]["id"].as_str().unwrap();

    let listed = live(&app, "GET", &format!("/findings?check_id={check_id}"), None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["pagination"]["total"], check["hits"].as_array().unwrap().len(), "{}", listed.body);
    let finding = listed.body["data"].as_array().unwrap().iter().find(|f| f["hit_id"] == hit_id).unwrap().clone();
    let id = finding["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("fnd_"), "{finding}");
    assert_eq!(finding["kind"], "screening_hit");
    assert_eq!(finding["status"], "open");
    assert_eq!(finding["check_id"], check_id);
    assert_eq!(finding["detail"]["entry_id"], "48603");
    assert_eq!(finding["detail"]["watchlist_id"], "ofac");
    assert!(finding["summary"].as_str().unwrap().contains("48603"), "{finding}");
    assert!(!finding.to_string().contains("Khoroshev, Dmitry") && !finding.to_string().contains("1993-04-17"));

    // Only this environment's findings: the sandbox key sees none of them.
    assert_eq!(app.get(&format!("/findings/{id}")).await.status, 404);
    assert_eq!(app.get("/findings").await.body["pagination"]["total"], 0);

    let ack =
        live(&app, "POST", &format!("/findings/{id}/acknowledge"), Some(json!({"note": "Asking Dmitry's bank"}))).await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    assert_eq!(ack.body["status"], "acknowledged");
    assert_eq!(ack.body["acknowledgement_note"], "Asking Dmitry's bank");
    assert!(ack.body["acknowledged_by"].as_str().unwrap().starts_with("api_key:key_"), "{}", ack.body);
    let again = live(&app, "POST", &format!("/findings/{id}/acknowledge"), None).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["acknowledgement_note"], "Asking Dmitry's bank", "acknowledging again changes nothing");

    let missing = live(&app, "POST", &format!("/findings/{id}/dismiss"), Some(json!({}))).await;
    assert_error(&missing, 422);
    let blank = live(&app, "POST", &format!("/findings/{id}/dismiss"), Some(json!({"reason": "  "}))).await;
    assert!(has_field_error(&assert_error_body(&blank, 422), "reason"), "{}", blank.body);

    let dismissed =
        live(&app, "POST", &format!("/findings/{id}/dismiss"), Some(json!({"reason": "Different Dmitry, born 1961"})))
            .await;
    assert_eq!(dismissed.status, 200, "{}", dismissed.body);
    assert_eq!(dismissed.body["status"], "dismissed");
    assert_eq!(dismissed.body["dismissal_reason"], "Different Dmitry, born 1961");
    assert_eq!(dismissed.body["dismissed_by"], ack.body["acknowledged_by"]);
    assert_error(&live(&app, "POST", &format!("/findings/{id}/dismiss"), Some(json!({"reason": "x"}))).await, 409);
    assert_error(&live(&app, "POST", &format!("/findings/{id}/acknowledge"), None).await, 409);

    // The same dismissal as POST /checks/{id}/dismiss: the hit is dismissed on its check, with the reason.
    let after = live(&app, "GET", &format!("/checks/{check_id}"), None).await.body;
    let hit = after["hits"].as_array().unwrap().iter().find(|h| h["id"] == hit_id).unwrap();
    assert_eq!(hit["is_dismissed"], true, "{after}");
    assert_eq!(hit["dismissed_reason"], "Different Dmitry, born 1961");
    assert_eq!(hit["dismissed_by"], dismissed.body["dismissed_by"]);
    // ... so the subject is not alerted for that entry again: a re-run suppresses it.
    let rerun = live(&app, "POST", &format!("/checks/{check_id}/rerun"), None).await;
    assert!(rerun.body["suppressed_hits"].as_array().unwrap().iter().any(|s| s["entry_id"] == "48603"));

    // And the other way round: a dismissal on the check shows on the finding.
    let other = sanction_check(&app, "f-2", LISTED).await;
    let other_id = other["id"].as_str().unwrap();
    let d =
        live(&app, "POST", &format!("/checks/{other_id}/dismiss"), Some(json!({"reason": "duplicate record"}))).await;
    assert_eq!(d.status, 200, "{}", d.body);
    let theirs = live(&app, "GET", &format!("/findings?check_id={other_id}&status=dismissed"), None).await;
    assert_eq!(theirs.body["pagination"]["total"], other["hits"].as_array().unwrap().len(), "{}", theirs.body);
    assert_eq!(theirs.body["data"][0]["dismissal_reason"], "duplicate record");

    // Filters: status, kind, window.
    let dismissed_all = live(&app, "GET", "/findings?status=dismissed&kind=screening_hit", None).await;
    assert!(ids(&dismissed_all.body).contains(&id), "{}", dismissed_all.body);
    let open = live(&app, "GET", "/findings?status=open", None).await;
    assert!(!ids(&open.body).contains(&id));
    let future = live(&app, "GET", "/findings?created_after=2999-01-01T00:00:00Z", None).await;
    assert_eq!(future.body["pagination"]["total"], 0, "{}", future.body);
    let past = live(&app, "GET", "/findings?created_before=2999-01-01T00:00:00Z&limit=1", None).await;
    assert_eq!(past.body["data"].as_array().unwrap().len(), 1);
    assert!(past.body["pagination"]["total"].as_i64().unwrap() >= 2);
    assert_error(&live(&app, "GET", "/findings?status=maybe", None).await, 422);
    assert_error(&live(&app, "GET", "/findings?created_after=yesterday", None).await, 422);
    assert_error(&live(&app, "GET", "/findings/fnd_nope", None).await, 404);

    // Who did what is in the audit log; the note and the reason are not in the log in plaintext.
    let log = live(&app, "GET", &format!("/events?resource_id={id}"), None).await;
    let actions: Vec<&str> = log.body["data"].as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(actions.contains(&"finding.acknowledged"), "{}", log.body);
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let text: String = conn
        .query_row(
            "SELECT group_concat(payload) FROM events WHERE event_type LIKE 'Finding%' OR event_type LIKE 'Check%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!text.contains("bank") && !text.contains("Different Dmitry") && !text.contains("duplicate record"));
    let stored: String =
        conn.query_row("SELECT group_concat(detail || summary) FROM findings", [], |r| r.get(0)).unwrap();
    assert!(!stored.contains("1993-04-17"));
    replay_passes(&app);
}

#[actix_web::test]
async fn a_rerun_resolves_the_findings_of_the_hits_it_replaced_and_opens_its_own() {
    let app = spawn_app().await;
    import_ofac(&app, Path::new(OFAC_SAMPLE)).await;
    let check = sanction_check(&app, "f-4", LISTED).await;
    let check_id = check["id"].as_str().unwrap();
    let before = live(&app, "GET", &format!("/findings?check_id={check_id}"), None).await.body;
    let old = before["data"][0]["id"].as_str().unwrap().to_string();
    let rerun = live(&app, "POST", &format!("/checks/{check_id}/rerun"), None).await;
    assert_eq!(rerun.status, 200, "{}", rerun.body);
    let resolved = live(&app, "GET", &format!("/findings/{old}"), None).await.body;
    assert_eq!(resolved["status"], "resolved", "{resolved}");
    assert!(resolved["resolved_at"].as_str().is_some());
    assert_error(&live(&app, "POST", &format!("/findings/{old}/acknowledge"), None).await, 409);
    let open = live(&app, "GET", &format!("/findings?check_id={check_id}&status=open"), None).await.body;
    assert_eq!(open["data"][0]["hit_id"], rerun.body["hits"][0]["id"], "{open}");
    assert_eq!(open["pagination"]["total"], rerun.body["hits"].as_array().unwrap().len());
}

fn has_field_error(body: &Value, field: &str) -> bool {
    body["errors"].as_array().is_some_and(|errs| errs.iter().any(|e| e["field"] == field))
}

fn assert_error_body(r: &Resp, status: u16) -> Value {
    assert_error(r, status);
    r.body.clone()
}

#[actix_web::test]
async fn reading_and_writing_findings_need_the_checks_or_cases_scopes() {
    let app = spawn_app().await;
    let none = app.key_with_scopes(&["sessions:read"]).await;
    assert_error(&app.send("GET", "/findings", Some(&none), &[], None).await, 403);
    let reader = app.key_with_scopes(&["cases:read"]).await;
    assert_eq!(app.send("GET", "/findings", Some(&reader), &[], None).await.status, 200);
    let fake = "/findings/fnd_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C/dismiss";
    let r = app.send("POST", fake, Some(&reader), &[], Some(&json!({"reason": "x"}))).await;
    assert_error(&r, 403);
    let writer = app.key_with_scopes(&["checks:write"]).await;
    assert_error(&app.send("POST", fake, Some(&writer), &[], Some(&json!({"reason": "x"}))).await, 404);
}

/// A live session through a workflow with `check_against_list`, with client signals from the capture
/// page; returns the session id.
async fn live_session(
    app: &TestApp,
    workflow: &str,
    (first, last, reference): (&str, &str, &str),
    signals: Value,
) -> String {
    let key = app.live_key.clone();
    let s = app
        .send(
            "POST",
            "/sessions",
            Some(&key),
            &[],
            Some(&json!({"external_ref": reference, "workflow_id": workflow, "first_name": first,
                "last_name": last, "date_of_birth": "1975-05-05"})),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    let url = s.body["capture_url"].as_str().unwrap().to_string();
    let token = url.rsplit('/').next().unwrap().to_string();
    assert_eq!(app.send_raw("GET", &url, None, None).await.status, 200);
    let r = app.send_json_raw("POST", &format!("/verify/{token}/fraud-signals"), &json!({"signals": signals})).await;
    assert_eq!(r.status, 200, "{}", r.body);
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
    for _ in 0..300 {
        if app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await.body["status"] != "processing" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    id
}

#[actix_web::test]
async fn list_matches_and_fraud_signals_of_a_session_are_findings_and_a_dismissed_match_is_a_false_positive() {
    let app = spawn_app().await;
    let list =
        live(&app, "POST", "/lists", Some(json!({"name": "watched", "list_type": "name", "match_mode": "flag"}))).await;
    let list_id = list.body["id"].as_str().unwrap().to_string();
    let item = json!({"value": {"first_name": "Eve", "last_name": "Watcher", "date_of_birth": "1975-05-05"}});
    assert_eq!(live(&app, "POST", &format!("/lists/{list_id}/items"), Some(item)).await.status, 201);
    let wf = live(
        &app,
        "POST",
        "/workflows",
        Some(json!({"name": "lists", "steps": ["document_ocr", "check_against_list", "risk_assessment", "auto_approve"]})),
    )
    .await;
    assert_eq!(wf.status, 201, "{}", wf.body);
    let wf = wf.body["id"].as_str().unwrap().to_string();

    let session =
        live_session(&app, &wf, ("Eve", "Watcher", "fs-eve"), json!({"webdriver": true, "completion_ms": 3000})).await;
    let found = live(&app, "GET", &format!("/findings?session_id={session}"), None).await;
    assert_eq!(found.status, 200, "{}", found.body);
    let data = found.body["data"].as_array().unwrap().clone();
    let of_kind = |k: &str| data.iter().filter(|f| f["kind"] == k).cloned().collect::<Vec<_>>();
    let matches = of_kind("list_match");
    assert_eq!(matches.len(), 1, "{}", found.body);
    assert_eq!(matches[0]["detail"]["list_id"], list_id.as_str());
    assert_eq!(matches[0]["detail"]["match_mode"], "flag");
    let signals: Vec<String> =
        of_kind("fraud_signal").iter().map(|f| f["detail"]["signal"].as_str().unwrap().to_string()).collect();
    assert!(signals.contains(&"bot_detected".to_string()), "{signals:?}");
    assert!(signals.contains(&"completion_too_fast".to_string()), "{signals:?}");
    assert!(!found.body.to_string().contains("Watcher"), "no person data in findings: {}", found.body);
    let kinds = live(&app, "GET", &format!("/findings?session_id={session}&kind=fraud_signal"), None).await;
    assert_eq!(kinds.body["pagination"]["total"], signals.len(), "{}", kinds.body);

    // Dismissing the list match's finding marks the match a false positive.
    let match_finding = matches[0]["id"].as_str().unwrap();
    let r =
        live(&app, "POST", &format!("/findings/{match_finding}/dismiss"), Some(json!({"reason": "Known customer"})))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "dismissed");
    assert_eq!(r.body["dismissal_reason"], "Known customer");
    let list_matches = live(&app, "GET", &format!("/sessions/{session}/list-matches"), None).await;
    assert_eq!(list_matches.body["data"][0]["is_false_positive"], true, "{}", list_matches.body);
    assert_eq!(list_matches.body["data"][0]["id"], matches[0]["list_match_id"]);

    // A fraud signal is acknowledged, then dismissed on the finding itself.
    let signal = of_kind("fraud_signal")[0]["id"].as_str().unwrap().to_string();
    let a = live(&app, "POST", &format!("/findings/{signal}/acknowledge"), Some(json!({}))).await;
    assert_eq!(a.body["status"], "acknowledged", "{}", a.body);
    assert!(a.body["acknowledgement_note"].is_null());
    let d = live(&app, "POST", &format!("/findings/{signal}/dismiss"), Some(json!({"reason": "QA run"}))).await;
    assert_eq!(d.body["status"], "dismissed", "{}", d.body);
    assert_eq!(d.body["dismissal_reason"], "QA run");
    let open = live(&app, "GET", &format!("/findings?session_id={session}&status=open"), None).await;
    assert_eq!(open.body["pagination"]["total"], data.len() - 2, "{}", open.body);
    replay_passes(&app);

    // The reasons are sealed under the session's key: erasing the session's data erases them; the record stays.
    let r = live(&app, "DELETE", &format!("/sessions/{session}/data"), None).await;
    assert!((200..300).contains(&r.status), "{}", r.body);
    let erased = live(&app, "GET", &format!("/findings/{match_finding}"), None).await.body;
    assert_eq!(erased["status"], "dismissed", "{erased}");
    assert!(erased["dismissal_reason"].is_null(), "{erased}");
    let signal_after = live(&app, "GET", &format!("/findings/{signal}"), None).await.body;
    assert!(signal_after["dismissal_reason"].is_null() && signal_after["dismissed_by"].is_string());
    let left = of_kind("fraud_signal").iter().map(|f| f["id"].as_str().unwrap().to_string()).find(|id| *id != signal);
    if let Some(other) = left {
        let r = live(&app, "POST", &format!("/findings/{other}/acknowledge"), Some(json!({"note": "n"}))).await;
        assert_error(&r, 409);
    }
}

#[actix_web::test]
async fn a_possible_duplicate_is_a_finding_on_the_later_session_and_its_identity() {
    let app = spawn_app().await;
    let wf = live(
        &app,
        "POST",
        "/workflows",
        Some(json!({"name": "dups", "steps": ["document_ocr", "duplicate_detection", "auto_approve"]})),
    )
    .await;
    assert_eq!(wf.status, 201, "{}", wf.body);
    let wf = wf.body["id"].as_str().unwrap().to_string();
    let first = live_session(&app, &wf, ("Maria", "Gonzalez", "dup-a"), json!({})).await;
    let second = live_session(&app, &wf, ("Maria", "Gonzalez", "dup-b"), json!({})).await;
    let none = live(&app, "GET", &format!("/findings?session_id={first}&kind=duplicate"), None).await.body;
    assert_eq!(none["pagination"]["total"], 0, "{none}");
    let dups = live(&app, "GET", &format!("/findings?session_id={second}&kind=duplicate"), None).await.body;
    assert_eq!(dups["pagination"]["total"], 1, "{dups}");
    let a = live(&app, "GET", "/identities/dup-a", None).await.body["id"].clone();
    let b = live(&app, "GET", "/identities/dup-b", None).await.body["id"].clone();
    let f = &dups["data"][0];
    assert_eq!(f["detail"]["matched_identity_id"], a);
    assert_eq!(f["identity_id"], b, "the finding is on the later session's identity: {f}");
    assert_eq!(f["detail"]["relationship_type"], "same_name_dob");
    let by_identity =
        live(&app, "GET", &format!("/findings?identity_id={}&kind=duplicate", b.as_str().unwrap()), None).await;
    assert_eq!(by_identity.body["data"][0]["id"], f["id"]);
    assert!(!dups.to_string().contains("Gonzalez"));

    // Merged into the earlier identity, the finding follows it.
    let merged =
        live(&app, "POST", "/identities/merge", Some(json!({"primary_identity_id": a, "secondary_identity_id": b})))
            .await;
    assert_eq!(merged.status, 200, "{}", merged.body);
    let moved = live(&app, "GET", &format!("/findings/{}", f["id"].as_str().unwrap()), None).await.body;
    assert_eq!(moved["identity_id"], a, "{moved}");
    replay_passes(&app);
}

#[actix_web::test]
async fn the_findings_view_rebuilds_from_the_log_and_an_older_database_gains_it_at_open() {
    let app = spawn_app().await;
    import_ofac(&app, Path::new(OFAC_SAMPLE)).await;
    let check = sanction_check(&app, "f-3", LISTED).await;
    let check_id = check["id"].as_str().unwrap().to_string();
    let before = live(&app, "GET", &format!("/findings?check_id={check_id}"), None).await.body;
    let first = before["data"][0]["id"].as_str().unwrap().to_string();
    let r = live(&app, "POST", &format!("/findings/{first}/dismiss"), Some(json!({"reason": "not him"}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let before = live(&app, "GET", &format!("/findings?check_id={check_id}"), None).await.body;
    replay_passes(&app);

    // Rebuilt in place: the same findings, same ids, same statuses and reasons.
    idv::store::replay::rebuild_in_place(&rusqlite::Connection::open(app.db_path()).unwrap(), &keyring(&app)).unwrap();
    let after = live(&app, "GET", &format!("/findings?check_id={check_id}"), None).await.body;
    assert_eq!(after, before);

    // A database from before the view (schema 7, no findings rows): opening it fills the view from the log.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("idv.db");
    {
        let conn = rusqlite::Connection::open(app.db_path()).unwrap();
        conn.execute("VACUUM INTO ?1", [copy.to_str().unwrap()]).unwrap();
    }
    std::fs::copy(app.data_dir.path().join("master.key"), dir.path().join("master.key")).unwrap();
    {
        let conn = rusqlite::Connection::open(&copy).unwrap();
        conn.execute_batch(
            "DROP TABLE findings; DROP TABLE monitoring_passes; DROP TABLE check_monitoring; PRAGMA user_version = 7;",
        )
        .unwrap();
    }
    let mut config = idv::config::Config::new(dir.path().to_path_buf());
    config.master_key_hex = None;
    let core = idv::startup::open_core(&config).unwrap();
    let read = core.read.get().unwrap();
    let (count, dismissed): (i64, i64) = read
        .query_row("SELECT COUNT(*), SUM(status = 'dismissed') FROM findings WHERE check_id = ?1", [&check_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(count, before["pagination"]["total"].as_i64().unwrap());
    assert_eq!(dismissed, 1);
}

// ------------------------------------------------------------------------------------------ golden stream

const FIXTURE_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/events/golden-findings-v1.jsonl");

/// The view values recorded when the golden findings stream was written and compared after its replay.
const GOLDEN_CHECKS: &[&str] = &[
    "SELECT group_concat(kind || ':' || status, ',') FROM (SELECT kind, status FROM findings ORDER BY kind, status)",
    "SELECT COUNT(*) FROM findings WHERE ack_note IS NOT NULL",
    "SELECT COUNT(*) FROM findings WHERE reason IS NOT NULL AND dismissed_by IS NOT NULL",
    "SELECT COUNT(*) FROM check_monitoring",
    "SELECT group_concat(subject_type || ':' || hits_before || '>' || hits_after || ':' || json_array_length(new_hit_ids), ',') FROM (SELECT * FROM monitoring_passes ORDER BY event_seq, position)",
    "SELECT group_concat(status || ':' || hit_count, ',') FROM (SELECT status, hit_count FROM checks ORDER BY created_at, id)",
    "SELECT COUNT(*) FROM list_matches WHERE is_false_positive = 1",
];

fn sql_text(v: rusqlite::types::Value) -> String {
    match v {
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(t) => t,
        other => format!("{other:?}"),
    }
}

/// Writes every finding event and the check monitoring events (with what they stand on: list imports, checks,
/// an identity, a custom list, a workflow and a live session) through the HTTP API under the fixture key.
/// Names are synthetic or the public list's own.
async fn golden_drive(app: &TestApp) {
    let ok = |r: Resp| {
        assert!((200..300).contains(&r.status), "{} {}", r.status, r.body);
        r.body
    };
    import_ofac(app, Path::new(OFAC_SAMPLE)).await;
    let body = json!({"external_ref": "golden-p", "first_name": "Ivan", "last_name": "Petrovsky",
        "date_of_birth": "1971-03-03"});
    ok(live(app, "POST", "/identities", Some(body)).await);
    let listed = ok(live(
        app,
        "POST",
        "/checks",
        Some(json!({"check_type": "sanction", "external_ref": "golden-k",
        "name_first": LISTED.0, "name_last": LISTED.1, "birthdate": LISTED.2, "monitoring_enabled": true})),
    )
    .await);
    let watched = ok(live(
        app,
        "POST",
        "/checks",
        Some(json!({"check_type": "sanction", "external_ref": "golden-w",
        "name_first": "Ivan", "name_last": "Petrovsky", "birthdate": "1971-03-03", "monitoring_enabled": true})),
    )
    .await);
    let new_row = "99999,\"PETROVSKY, Ivan Sergeyevich\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 03 Mar 1971; nationality Russia.\"\r\n";
    let dir = sample_copy(|sdn| format!("{sdn}{new_row}"));
    import_ofac(app, dir.path()).await;

    let hits = ok(live(app, "GET", &format!("/findings?check_id={}", listed["id"].as_str().unwrap()), None).await);
    let first = hits["data"][0]["id"].as_str().unwrap().to_string();
    ok(live(app, "POST", &format!("/findings/{first}/acknowledge"), Some(json!({"note": "golden note"}))).await);
    ok(live(app, "POST", &format!("/findings/{first}/dismiss"), Some(json!({"reason": "golden reason"}))).await);
    let id = watched["id"].as_str().unwrap();
    ok(live(app, "POST", &format!("/checks/{id}/monitoring/disable"), None).await);

    let list =
        ok(live(app, "POST", "/lists", Some(json!({"name": "golden", "list_type": "name", "match_mode": "flag"})))
            .await);
    let item = json!({"value": {"first_name": "Eve", "last_name": "Watcher", "date_of_birth": "1975-05-05"}});
    ok(live(app, "POST", &format!("/lists/{}/items", list["id"].as_str().unwrap()), Some(item)).await);
    let wf = ok(live(
        app,
        "POST",
        "/workflows",
        Some(json!({"name": "golden", "steps": ["document_ocr", "check_against_list", "risk_assessment", "auto_approve"]})),
    )
    .await);
    let session =
        live_session(app, wf["id"].as_str().unwrap(), ("Eve", "Watcher", "fs-eve"), json!({"webdriver": true})).await;
    let found = ok(live(app, "GET", &format!("/findings?session_id={session}"), None).await);
    for f in found["data"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        if f["kind"] == "list_match" {
            ok(live(app, "POST", &format!("/findings/{id}/dismiss"), Some(json!({"reason": "golden customer"}))).await);
        } else {
            ok(live(app, "POST", &format!("/findings/{id}/acknowledge"), None).await);
        }
    }
}

#[actix_web::test]
#[ignore = "regenerates fixtures/events/golden-findings-v1.jsonl"]
async fn generate_golden_findings_stream() {
    let app = spawn_app_with(|c| {
        c.master_key_hex = Some(FIXTURE_KEY.into());
        c.webhook_poll_interval = None;
    })
    .await;
    golden_drive(&app).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    let conn =
        rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut out = String::new();
    for (table, order, blobs) in
        [("events", "seq", &["prev_hash", "hash"][..]), ("subject_keys", "subject_id", &["wrapped_key"][..])]
    {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}")).unwrap();
        let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let mut row = serde_json::Map::new();
            row.insert("table".into(), json!(table));
            for (i, name) in names.iter().enumerate() {
                let v = match r.get::<_, rusqlite::types::Value>(i).unwrap() {
                    rusqlite::types::Value::Blob(b) if blobs.contains(&name.as_str()) => json!(hex::encode(b)),
                    rusqlite::types::Value::Integer(n) => json!(n),
                    rusqlite::types::Value::Text(t) => json!(t),
                    rusqlite::types::Value::Null => Value::Null,
                    other => panic!("{table}.{name}: {other:?}"),
                };
                row.insert(name.clone(), v);
            }
            out.push_str(&Value::Object(row).to_string());
            out.push('\n');
        }
    }
    let mut expected = serde_json::Map::new();
    expected.insert("table".into(), json!("expected"));
    for sql in GOLDEN_CHECKS {
        let v = conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0)).map(sql_text).unwrap();
        expected.insert(sql.to_string(), json!(v));
    }
    out.push_str(&Value::Object(expected).to_string());
    out.push('\n');
    std::fs::write(GOLDEN, out).unwrap();
}

/// The committed findings stream keeps decoding: its chain verifies under the fixture key, every finding and
/// check event decodes through its typed decoder, and a replay gives the views recorded when it was written.
#[test]
fn the_golden_findings_stream_verifies_decodes_and_replays_to_the_recorded_views() {
    use idv::domain::check::CheckEvent;
    use idv::domain::finding::FindingEvent;
    use idv::domain::watchlist::WatchlistEvent;
    let dir = tempfile::tempdir().unwrap();
    let conn = idv::store::open_writer(&dir.path().join("idv.db"), idv::store::Durability::Normal).unwrap();
    let text = std::fs::read_to_string(GOLDEN).unwrap();
    let mut expected = serde_json::Map::new();
    let mut events = 0;
    let mut types = std::collections::BTreeSet::new();
    let mut passes = 0;
    for line in text.lines() {
        let Value::Object(mut row) = serde_json::from_str::<Value>(line).unwrap() else { panic!("{line}") };
        let table = row.remove("table").unwrap();
        if table == "expected" {
            expected = row;
            continue;
        }
        let table = table.as_str().unwrap().to_string();
        if table == "events" {
            events += 1;
            let (t, v) = (row["event_type"].as_str().unwrap().to_string(), row["event_version"].as_i64().unwrap());
            let payload: Value = serde_json::from_str(row["payload"].as_str().unwrap()).unwrap();
            if t.starts_with("Finding") || t.starts_with("Check") {
                let typed = FindingEvent::decode(&t, v, &payload).unwrap().is_some()
                    || CheckEvent::decode(&t, v, &payload).unwrap().is_some();
                assert!(typed, "no typed decoder claims {t}");
            }
            if let Some(WatchlistEvent::MonitoringCompleted(m)) = WatchlistEvent::decode(&t, v, &payload).unwrap() {
                passes += m.passes.len();
            }
            types.insert(t);
        }
        let names: Vec<String> = row.keys().cloned().collect();
        let values: Vec<rusqlite::types::Value> = names
            .iter()
            .map(|n| match &row[n] {
                Value::String(s) if ["prev_hash", "hash", "wrapped_key"].contains(&n.as_str()) => {
                    rusqlite::types::Value::Blob(hex::decode(s).unwrap())
                }
                Value::String(s) => rusqlite::types::Value::Text(s.clone()),
                Value::Number(n) => rusqlite::types::Value::Integer(n.as_i64().unwrap()),
                _ => rusqlite::types::Value::Null,
            })
            .collect();
        let marks = vec!["?"; names.len()].join(", ");
        conn.execute(
            &format!("INSERT INTO {table} ({}) VALUES ({marks})", names.join(", ")),
            rusqlite::params_from_iter(values),
        )
        .unwrap();
    }
    for t in [
        "FindingAcknowledged",
        "FindingDismissed",
        "CheckMonitoringEnabled",
        "CheckMonitoringDisabled",
        "CheckMonitoringHitsFound",
        "CheckHitsDismissed",
        "ListMatchRecorded",
        "ListMatchMarkedFalsePositive",
        "SessionDecided",
        "WatchlistMonitoringCompleted",
    ] {
        assert!(types.contains(t), "the golden stream has no {t}");
    }
    assert!(passes >= 3, "the monitoring passes are in the stream");
    let ring = idv::crypto::Keyring::new(&idv::crypto::MasterKey::from_hex(FIXTURE_KEY).unwrap());
    assert_eq!(idv::store::events::verify_chain(&conn, &ring).unwrap(), events);
    assert_eq!(idv::store::replay::rebuild_in_place(&conn, &ring).unwrap(), events);
    assert_eq!(expected.len(), GOLDEN_CHECKS.len());
    for sql in GOLDEN_CHECKS {
        let got = conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0)).map(sql_text).unwrap();
        assert_eq!(Some(got.as_str()), expected[*sql].as_str(), "{sql}");
    }
}
