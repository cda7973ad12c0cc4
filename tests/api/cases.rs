//! The cases API (spec §1.8): a session sent to review opens a case; claim, decide, dual review, claim-next
//! (FIFO, 204 when empty, never the same case twice), demo cases, and the effects on the session.

use crate::helpers::{assert_error, spawn_app, spawn_app_with_clock, TestApp};
use idv::clock::ManualClock;
use serde_json::{json, Value};
use std::sync::Arc;

/// Two active reviewers (org users), created through the admin API: a reviewer and a senior reviewer.
async fn reviewers(app: &TestApp) -> (String, String) {
    let mut ids = Vec::new();
    for (email, name, role) in
        [("rita@example.test", "Rita Reviewer", "reviewer"), ("sam@example.test", "Sam Senior", "senior_reviewer")]
    {
        let r = app.post("/users", json!({"email": email, "name": name, "role": role})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    (ids[0].clone(), ids[1].clone())
}

/// A sandbox session sent to review; returns (session id, case id).
async fn reviewed_session(app: &TestApp, external_ref: &str) -> (String, String) {
    let s = app.post("/sessions", json!({"external_ref": external_ref})).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    let r = app.post(&format!("/sessions/{id}/simulate"), json!({"action": "require-review"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let session = app.get(&format!("/sessions/{id}")).await.body;
    let case_id = session["case_id"].as_str().expect("a case id").to_string();
    (id, case_id)
}

#[actix_web::test]
async fn a_review_opens_a_case_and_approval_completes_the_session() {
    let app = spawn_app().await;
    let (rev_a, rev_b) = reviewers(&app).await;
    let (session, case) = reviewed_session(&app, "case_user_1").await;
    let c = app.get(&format!("/cases/{case}")).await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!((c.body["status"].as_str(), c.body["session_id"].as_str()), (Some("open"), Some(session.as_str())));
    assert_eq!(c.body["sla"], "green");
    let again = app.post("/cases", json!({"session_id": session})).await;
    assert_eq!((again.status, again.body["id"].as_str()), (200, Some(case.as_str())), "{}", again.body);

    let claimed = app.post(&format!("/cases/{case}/claim"), json!({"reviewer_id": rev_a})).await;
    assert_eq!((claimed.status, claimed.body["status"].as_str()), (200, Some("in_review")), "{}", claimed.body);
    assert_error(&app.post(&format!("/cases/{case}/claim"), json!({"reviewer_id": rev_b})).await, 409);
    let note = app.post(&format!("/cases/{case}/notes"), json!({"body": "Looks fine", "reviewer_id": rev_a})).await;
    assert_eq!(note.status, 201, "{}", note.body);
    let notes = app.get(&format!("/cases/{case}/notes")).await;
    assert_eq!(notes.body["data"][0]["body"], "Looks fine", "{}", notes.body);

    let approved = app.post(&format!("/cases/{case}/approve"), json!({"reviewer_id": rev_a, "notes": "ok"})).await;
    assert_eq!((approved.status, approved.body["status"].as_str()), (200, Some("approved")), "{}", approved.body);
    assert_eq!(approved.body["notes"], "ok");
    let s = app.get(&format!("/sessions/{session}")).await.body;
    assert_eq!((s["status"].as_str(), s["case_status"].as_str()), (Some("completed"), Some("approved")), "{s}");
    let result = app.get(&format!("/sessions/{session}/result")).await.body;
    assert_eq!(result["status"], "approved", "{result}");
    assert_error(&app.post(&format!("/cases/{case}/reject"), json!({"reviewer_id": rev_a})).await, 409);
    assert_error(&app.get("/cases/case_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C").await, 404);
    // Each count counts what its tab lists: the decided case is in `all`, no longer in `mine`.
    let counts = app.get(&format!("/cases/counts?reviewer_id={rev_a}")).await.body;
    assert_eq!((counts["mine"].as_i64(), counts["all"].as_i64()), (Some(0), Some(1)), "{counts}");
    for (tab, count) in [("mine", 0), ("all", 1)] {
        let listed = app.get(&format!("/cases?tab={tab}&reviewer_id={rev_a}")).await.body;
        assert_eq!(listed["pagination"]["total"].as_i64(), Some(count), "{tab}: {listed}");
    }

    let events = app.get(&format!("/events?resource_id={case}")).await;
    assert_eq!(events.status, 200, "{}", events.body);
    let types: Vec<&str> =
        events.body["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"case.approved") && types.contains(&"case.created"), "{types:?}");
}

#[actix_web::test]
async fn dual_review_needs_a_different_second_reviewer() {
    let app = spawn_app().await;
    let (rev_a, rev_b) = reviewers(&app).await;
    let r = app.patch("/settings/retention", json!({"dual_review": true})).await;
    assert_eq!((r.status, r.body["dual_review"].as_bool()), (200, Some(true)), "{}", r.body);
    let (session, case) = reviewed_session(&app, "case_user_2").await;
    let first = app.post(&format!("/cases/{case}/reject"), json!({"reviewer_id": rev_a})).await;
    assert_eq!(first.body["status"], "pending_second_review", "{}", first.body);
    assert_error(&app.post(&format!("/cases/{case}/reject"), json!({"reviewer_id": rev_a})).await, 409);
    let second = app.post(&format!("/cases/{case}/reject"), json!({"reviewer_id": rev_b})).await;
    assert_eq!(second.body["status"], "rejected", "{}", second.body);
    let s = app.get(&format!("/sessions/{session}")).await.body;
    assert_eq!(s["status"], "completed", "{s}");
}

#[actix_web::test]
async fn claim_next_is_fifo_and_answers_204_when_empty() {
    let app = spawn_app().await;
    let (rev_a, rev_b) = reviewers(&app).await;
    let r = app.post("/cases/next", json!({"reviewer_id": rev_a})).await;
    assert_eq!(r.status, 204);
    let (_, first) = reviewed_session(&app, "fifo_1").await;
    let (_, second) = reviewed_session(&app, "fifo_2").await;
    let counts = app.get(&format!("/cases/counts?reviewer_id={rev_a}")).await.body;
    assert_eq!(counts, json!({"unassigned": 2, "mine": 0, "pending_second_review": 0, "escalated": 0, "all": 2}));
    let got = app.post("/cases/next", json!({"reviewer_id": rev_a})).await;
    assert_eq!(got.body["id"].as_str(), Some(first.as_str()));
    let got = app.post("/cases/next", json!({"reviewer_id": rev_b})).await;
    assert_eq!(got.body["id"].as_str(), Some(second.as_str()));
    assert_eq!(app.post("/cases/next", json!({"reviewer_id": rev_b})).await.status, 204);
    let mine = app.get(&format!("/cases?tab=mine&reviewer_id={rev_a}")).await.body;
    assert_eq!(mine["pagination"]["total"], 1, "{mine}");
}

#[actix_web::test]
async fn concurrent_claim_next_never_hands_out_a_case_twice() {
    let app = spawn_app().await;
    let (rev_a, rev_b) = reviewers(&app).await;
    for i in 0..6 {
        reviewed_session(&app, &format!("race_{i}")).await;
    }
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..4 {
        let (a, b) = futures_util::future::join(
            app.post("/cases/next", json!({"reviewer_id": rev_a})),
            app.post("/cases/next", json!({"reviewer_id": rev_b})),
        )
        .await;
        for r in [a, b] {
            if r.status == 200 {
                let id = r.body["id"].as_str().unwrap().to_string();
                assert!(!seen.contains(&id), "{id} handed out twice");
                seen.push(id);
            } else {
                assert_eq!(r.status, 204);
            }
        }
    }
    assert_eq!(seen.len(), 6);
}

#[actix_web::test]
async fn demo_cases_are_sandbox_only_and_limited_to_three() {
    let app = spawn_app().await;
    let live = app.send("POST", "/cases/demo", Some(&app.live_key.clone()), &[], Some(&json!({}))).await;
    assert_error(&live, 403);
    for _ in 0..3 {
        let r = app.post("/cases/demo", json!({})).await;
        assert_eq!((r.status, r.body["is_demo"].as_bool()), (201, Some(true)), "{}", r.body);
    }
    assert_error(&app.post("/cases/demo", json!({})).await, 409);
    let escalated: Value = {
        let id = app.get("/cases").await.body["data"][0]["id"].as_str().unwrap().to_string();
        app.post(&format!("/cases/{id}/escalate"), json!({"reason": "needs a senior"})).await.body
    };
    assert_eq!(
        (escalated["status"].as_str(), escalated["escalation"]["reason"].as_str()),
        (Some("escalated"), Some("needs a senior"))
    );
}

#[actix_web::test]
async fn only_an_active_org_user_may_review() {
    let app = spawn_app().await;
    let (rev_a, _) = reviewers(&app).await;
    let (_, case) = reviewed_session(&app, "cust_unknown_reviewer").await;
    let stranger = "orguser_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C";
    assert_error(&app.post(&format!("/cases/{case}/claim"), json!({"reviewer_id": stranger})).await, 404);
    assert_eq!(app.post(&format!("/users/{rev_a}/disable"), json!({})).await.status, 200);
    assert_error(&app.post(&format!("/cases/{case}/approve"), json!({"reviewer_id": rev_a})).await, 409);
    let case_now = app.get(&format!("/cases/{case}")).await.body;
    assert_eq!(case_now["status"], "open", "{case_now}");
}

/// The raw database file and its WAL, to look for plaintext.
fn file_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The audit-log types recorded for one resource, oldest first.
async fn event_types(app: &TestApp, resource_id: &str) -> Vec<String> {
    let r = app.get(&format!("/events?resource_id={resource_id}&limit=100")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut types: Vec<String> =
        r.body["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_string()).collect();
    types.reverse();
    types
}

#[actix_web::test]
async fn an_idle_claim_is_released_after_thirty_minutes() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let clocked = spawn_app_with_clock(clock.clone()).await;
    let app = &clocked.app;
    let (rev_a, _) = reviewers(app).await;
    let (_, case) = reviewed_session(app, "idle_claim").await;
    let claimed = app.post(&format!("/cases/{case}/claim"), json!({"reviewer_id": rev_a})).await;
    assert_eq!(claimed.status, 200, "{}", claimed.body);

    clock.advance(time::Duration::minutes(29));
    clocked.sweep().await;
    let c = app.get(&format!("/cases/{case}")).await.body;
    assert_eq!((c["status"].as_str(), c["assigned_to"].as_str()), (Some("in_review"), Some(rev_a.as_str())), "{c}");
    // Activity (a note) restarts the 30 minutes.
    let note = app.post(&format!("/cases/{case}/notes"), json!({"body": "still looking", "reviewer_id": rev_a})).await;
    assert_eq!(note.status, 201, "{}", note.body);
    clock.advance(time::Duration::minutes(29));
    clocked.sweep().await;
    assert_eq!(app.get(&format!("/cases/{case}")).await.body["status"], "in_review");

    clock.advance(time::Duration::minutes(2));
    clocked.sweep().await;
    let c = app.get(&format!("/cases/{case}")).await.body;
    assert_eq!(c["status"], "open", "{c}");
    assert!(c["assigned_to"].is_null(), "{c}");
    let types = event_types(app, &case).await;
    assert_eq!(types.last().map(String::as_str), Some("case.released"), "{types:?}");
    let released = app.get(&format!("/events?resource_id={case}&action=case.released")).await.body;
    assert_eq!(released["data"][0]["actor"], "system", "{released}");
    // The case is back in the queue.
    let next = app.post("/cases/next", json!({"reviewer_id": rev_a})).await;
    assert_eq!(next.body["id"].as_str(), Some(case.as_str()), "{}", next.body);
}

/// A session with personal data sent to review, for the identity `external_ref`; returns (session, case).
async fn reviewed_session_with_pii(app: &TestApp, external_ref: &str) -> (String, String) {
    let s = app
        .post(
            "/sessions",
            json!({"external_ref": external_ref, "first_name": "Wilhelmina", "last_name": "Ozymandias",
                   "date_of_birth": "1971-03-09", "email": "wilhelmina.oz@example.org"}),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    let r = app.post(&format!("/sessions/{id}/simulate"), json!({"action": "require-review"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let case_id = app.get(&format!("/sessions/{id}")).await.body["case_id"].as_str().expect("case").to_string();
    (id, case_id)
}

async fn search_ids(app: &TestApp, body: Value) -> Vec<String> {
    let r = app.post("/identities/search", body.clone()).await;
    assert_eq!(r.status, 200, "search {body}: {}", r.body);
    r.body["data"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

#[actix_web::test]
async fn a_pii_correction_reseals_the_identity_and_recomputes_its_search() {
    let app = spawn_app().await;
    let (rev_a, _) = reviewers(&app).await;
    let (_, case) = reviewed_session_with_pii(&app, "pii_fix_1").await;
    let identity = app.get(&format!("/cases/{case}")).await.body["identity_id"].as_str().expect("identity").to_string();
    let before = json!({"first_name": "Wilhelmina", "last_name": "Ozymandias", "date_of_birth": "1971-03-09"});
    assert_eq!(search_ids(&app, before).await, vec![identity.clone()]);

    let fixed = app
        .send(
            "PUT",
            &format!("/cases/{case}/result/pii"),
            Some(&app.sandbox_key.clone()),
            &[],
            Some(&json!({"reviewer_id": rev_a, "reason": "OCR misread the surname",
                         "fields": {"last_name": "Quenneville-Thornbury", "date_of_birth": "1971-08-09"}})),
        )
        .await;
    assert_eq!(fixed.status, 200, "{}", fixed.body);
    let corrections = fixed.body["pii_corrections"].to_string();
    assert!(corrections.contains("last_name") && corrections.contains("date_of_birth"), "{corrections}");
    assert!(!corrections.contains("Quenneville") && !corrections.contains("1971-08-09"), "{corrections}");

    let i = app.get(&format!("/identities/{identity}")).await;
    assert_eq!(i.status, 200, "{}", i.body);
    let text = i.body.to_string();
    assert!(text.contains("Quenneville-Thornbury") && text.contains("1971-08-09"), "{text}");
    assert!(text.contains("Wilhelmina"), "unchanged fields stay: {text}");

    let by = |last: &str, dob: &str| json!({"first_name": "Wilhelmina", "last_name": last, "date_of_birth": dob});
    assert_eq!(search_ids(&app, by("Quenneville-Thornbury", "1971-08-09")).await, vec![identity.clone()]);
    assert!(search_ids(&app, by("Ozymandias", "1971-03-09")).await.is_empty());
    assert!(search_ids(&app, by("Quenneville-Thornbury", "1971-03-09")).await.is_empty());
    assert!(search_ids(&app, by("Ozymandias", "1971-08-09")).await.is_empty());
    assert_eq!(search_ids(&app, json!({"email": "wilhelmina.oz@example.org"})).await, vec![identity.clone()]);

    let audit = app.get(&format!("/events?resource_id={case}")).await.body.to_string();
    assert!(audit.contains("case.pii_corrected"), "{audit}");
    assert!(!audit.contains("Quenneville") && !audit.contains("1971-08-09"), "{audit}");
    let bytes = file_bytes(&app);
    assert!(contains(&bytes, case.as_bytes()), "the scan must see the file's real contents");
    for plain in ["Quenneville-Thornbury", "quenneville-thornbury", "1971-08-09", "OCR misread the surname"] {
        assert!(!contains(&bytes, plain.as_bytes()), "plaintext {plain:?} in the database file or WAL");
    }

    let bad = json!({"reviewer_id": rev_a, "fields": {"favourite_colour": "blue"}});
    let key = app.sandbox_key.clone();
    assert_error(&app.send("PUT", &format!("/cases/{case}/result/pii"), Some(&key), &[], Some(&bad)).await, 422);
    assert_eq!(app.post(&format!("/cases/{case}/approve"), json!({"reviewer_id": rev_a})).await.status, 200);
    let late = json!({"reviewer_id": rev_a, "fields": {"last_name": "Other"}});
    assert_error(&app.send("PUT", &format!("/cases/{case}/result/pii"), Some(&key), &[], Some(&late)).await, 409);
}

#[actix_web::test]
async fn replay_rebuilds_the_case_views() {
    let app = spawn_app().await;
    let (rev_a, rev_b) = reviewers(&app).await;
    let (_, one) = reviewed_session_with_pii(&app, "replay_1").await;
    let (_, two) = reviewed_session(&app, "replay_2").await;
    let (_, three) = reviewed_session(&app, "replay_3").await;
    let ok = |r: crate::helpers::Resp| assert!(r.status < 300, "{}: {}", r.status, r.body);
    ok(app.post(&format!("/cases/{one}/claim"), json!({"reviewer_id": rev_a})).await);
    ok(app.post(&format!("/cases/{one}/notes"), json!({"body": "first note", "reviewer_id": rev_a})).await);
    ok(app.patch(&format!("/cases/{one}"), json!({"tags": ["priority"], "metadata": {"queue": "eu"}})).await);
    let key = app.sandbox_key.clone();
    let fix = json!({"reviewer_id": rev_a, "fields": {"last_name": "Corrected"}});
    ok(app.send("PUT", &format!("/cases/{one}/result/pii"), Some(&key), &[], Some(&fix)).await);
    ok(app.post(&format!("/cases/{one}/approve"), json!({"reviewer_id": rev_a, "notes": "fine"})).await);
    ok(app.post(&format!("/cases/{two}/escalate"), json!({"reason": "senior eyes"})).await);
    ok(app.post(&format!("/cases/{two}/claim"), json!({"reviewer_id": rev_b})).await);
    ok(app.post(&format!("/cases/{two}/release"), json!({})).await);
    ok(app.patch("/settings/retention", json!({"dual_review": true})).await);
    ok(app.post(&format!("/cases/{three}/reject"), json!({"reviewer_id": rev_a, "rejection_reason": "blurry"})).await);
    ok(app.post(&format!("/cases/{three}/reject"), json!({"reviewer_id": rev_b})).await);
    ok(app.post("/cases/demo", json!({})).await);

    let (master, _) = idv::crypto::MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    let ring = idv::crypto::Keyring::new(&master);
    let scratch = app.data_dir.path().join("scratch.db");
    let replayed = idv::store::replay::check(&app.db_path(), &scratch, &ring).expect("replay equals the live views");
    assert!(replayed > 20, "{replayed}");
}

#[actix_web::test]
async fn overriding_the_check_that_sent_a_session_to_review_approves_it() {
    let app = spawn_app().await;
    let (rev_a, _) = reviewers(&app).await;
    let (session, case) = reviewed_session_with_pii(&app, "override_1").await;
    let path = |check: &str| format!("/cases/{case}/checks/{check}/override");
    let reason = "Selfie checked by video call with the customer";
    // face_match did not pass (no selfie); age_verification passed; no check is named `palm_reading`.
    assert_error(&app.post(&path("age_verification"), json!({"reviewer_id": rev_a, "reason": "x"})).await, 409);
    assert_error(&app.post(&path("palm_reading"), json!({"reviewer_id": rev_a, "reason": "x"})).await, 404);
    assert_error(&app.post(&path("face_match"), json!({"reviewer_id": rev_a})).await, 422);
    assert_eq!(app.get(&format!("/cases/{case}")).await.body["status"], "open");

    let r = app.post(&path("face_match"), json!({"reviewer_id": rev_a, "reason": reason})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let o = &r.body["overrides"][0];
    assert_eq!(
        (o["check_name"].as_str(), o["reviewer_id"].as_str()),
        (Some("face_match"), Some(rev_a.as_str())),
        "{o}"
    );
    // Skipped checks that were never required (expiry, sandbox screening) do not hold the case back.
    assert_eq!((r.body["status"].as_str(), r.body["decided_by"].as_str()), (Some("approved"), Some(rev_a.as_str())));
    let s = app.get(&format!("/sessions/{session}")).await.body;
    assert_eq!((s["status"].as_str(), s["case_status"].as_str()), (Some("completed"), Some("approved")), "{s}");
    let identity = r.body["identity_id"].as_str().expect("identity");
    assert_eq!(app.get(&format!("/identities/{identity}")).await.body["status"], "approved");

    let types = event_types(&app, &case).await;
    assert!(types.contains(&"case.check_overridden".to_string()), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("case.approved"), "{types:?}");
    let audit = app.get(&format!("/events?resource_id={case}&action=case.check_overridden")).await.body;
    assert!(audit["data"][0]["actor"].as_str().unwrap().starts_with("api_key:"), "{audit}");
    assert!(!audit.to_string().contains("video call"), "{audit}");
    assert!(!contains(&file_bytes(&app), reason.as_bytes()), "the override reason is on disk in plaintext");
    // A decided case takes no more overrides.
    assert_error(&app.post(&path("watchlist_screening"), json!({"reviewer_id": rev_a, "reason": "x"})).await, 409);
}

#[actix_web::test]
async fn search_finds_cases_by_text_and_tab_and_the_cases_api_needs_a_key_and_its_scopes() {
    let app = spawn_app().await;
    let (rita, _) = reviewers(&app).await;
    let (session_a, case_a) = reviewed_session(&app, "search_alpha").await;
    let (_, case_b) = reviewed_session(&app, "search_beta").await;
    let r = app.post(&format!("/cases/{case_b}/claim"), json!({"reviewer_id": rita})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let ids = |v: &Value| -> Vec<String> {
        v["data"].as_array().expect("data").iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    };
    // GET and POST search: free text over ids and external_ref, and the tabs.
    let by_ref = app.get("/cases/search?q=search_alpha").await;
    assert_eq!(by_ref.status, 200, "{}", by_ref.body);
    assert_eq!(ids(&by_ref.body), vec![case_a.clone()]);
    let by_session = app.post("/cases/search", json!({"q": session_a})).await;
    assert_eq!(by_session.status, 200, "{}", by_session.body);
    assert_eq!(ids(&by_session.body), vec![case_a.clone()]);
    let mine = app.post("/cases/search", json!({"tab": "mine", "reviewer_id": rita})).await;
    assert_eq!(ids(&mine.body), vec![case_b.clone()], "{}", mine.body);
    let unassigned = app.get("/cases/search?tab=unassigned").await;
    assert_eq!(ids(&unassigned.body), vec![case_a.clone()], "{}", unassigned.body);
    assert!(ids(&app.get("/cases/search?q=nothing_like_this").await.body).is_empty());
    assert_error(&app.post("/cases/search", json!({"tab": "someone_elses"})).await, 422);

    // No key: 401. A key that may read cases may not decide them; one without cases:read sees nothing.
    assert_error(&app.send("GET", "/cases", None, &[], None).await, 401);
    assert_error(&app.send("POST", "/cases/next", None, &[], Some(&json!({"reviewer_id": rita}))).await, 401);
    let reader = app.key_with_scopes(&["cases:read"]).await;
    assert_eq!(app.send("GET", &format!("/cases/{case_a}"), Some(&reader), &[], None).await.status, 200);
    let approve = json!({"reviewer_id": rita});
    let refused = app.send("POST", &format!("/cases/{case_a}/approve"), Some(&reader), &[], Some(&approve)).await;
    assert_eq!(assert_error(&refused, 403), "insufficient_scope", "{}", refused.body);
    let other = app.key_with_scopes(&["identities:read"]).await;
    assert_error(&app.send("GET", "/cases", Some(&other), &[], None).await, 403);
    // Nothing changed on the refused case.
    assert_eq!(app.get(&format!("/cases/{case_a}")).await.body["status"], "open");
}

#[actix_web::test]
async fn an_escalated_case_is_handled_by_a_senior_reviewer_only() {
    let app = spawn_app().await;
    let (rita, sam) = reviewers(&app).await;
    let (session, case) = reviewed_session(&app, "escalated_1").await;
    let r = app.post(&format!("/cases/{case}/claim"), json!({"reviewer_id": rita})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(&format!("/cases/{case}/escalate"), json!({"reason": "possible match on a list"})).await;
    assert_eq!(r.body["status"], "escalated", "{}", r.body);

    // The reviewer who escalated it can neither decide it nor take it back.
    let refused = app.post(&format!("/cases/{case}/approve"), json!({"reviewer_id": rita})).await;
    assert_error(&refused, 409);
    assert!(refused.body["detail"].as_str().unwrap().contains("senior"), "{}", refused.body);
    let fix = json!({"reviewer_id": rita, "fields": {"last_name": "Other"}});
    assert_error(
        &app.send("PUT", &format!("/cases/{case}/result/pii"), Some(&app.sandbox_key), &[], Some(&fix)).await,
        409,
    );
    assert_eq!(app.get(&format!("/cases/{case}")).await.body["status"], "escalated");

    // Escalating released the claim; a senior reviewer takes it over and decides; the session completes.
    assert!(app.get(&format!("/cases/{case}")).await.body["assigned_to"].is_null());
    assert_error(&app.post(&format!("/cases/{case}/claim"), json!({"reviewer_id": rita})).await, 409);
    let r = app.post(&format!("/cases/{case}/claim"), json!({"reviewer_id": sam})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(&format!("/cases/{case}/reject"), json!({"reviewer_id": sam, "rejection_reason": "listed"})).await;
    assert_eq!(r.body["status"], "rejected", "{}", r.body);
    assert_eq!(app.get(&format!("/sessions/{session}")).await.body["status"], "completed");
}
