//! The cases API (spec §1.8): a session sent to review opens a case; claim, decide, dual review, claim-next
//! (FIFO, 204 when empty, never the same case twice), demo cases, and the effects on the session.

use crate::helpers::{assert_error, spawn_app, TestApp};
use serde_json::{json, Value};

/// Two active reviewers (org users), created through the admin API.
async fn reviewers(app: &TestApp) -> (String, String) {
    let mut ids = Vec::new();
    for (email, name) in [("rita@example.test", "Rita Reviewer"), ("sam@example.test", "Sam Senior")] {
        let r = app.post("/users", json!({"email": email, "name": name, "role": "reviewer"})).await;
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
