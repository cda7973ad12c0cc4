//! The VerifyHQ dialect (spec Appendix A.1, A.9) black-box: an integrator's script following the seed page
//! (start, the active one returned, get, list by user, review, restart, expiry), its conventions (camelCase,
//! the `{statusCode, error, message, timestamp}` errors, Idempotency-Key, keys and permissions, the admin
//! endpoint, rate limits, sandbox and live apart) and the one engine underneath: the same session, case and
//! identity seen through the Verifa API, a review in either dialect showing in both.

use crate::helpers::*;
use crate::passport_page::{blank_page, data_page, td3};
use idv::clock::ManualClock;
use serde_json::{json, Value};
use std::sync::Arc;

async fn vhq(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Resp {
    let key = app.verifyhq_key.clone();
    app.send(method, path, Some(&key), &[], body.as_ref()).await
}

async fn start(app: &TestApp, user: &str, tier: Option<&str>) -> Value {
    let mut body = json!({ "userId": user });
    if let Some(t) = tier {
        body["tier"] = json!(t);
    }
    let r = vhq(app, "POST", "/v1/verifications/identity", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

/// A VerifyHQ error: the dialect's shape, with the status repeated and a timestamp.
fn assert_vhq_error(r: &Resp, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["statusCode"], status, "{}", r.body);
    assert!(r.body["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", r.body);
    assert!(r.body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{}", r.body);
    assert!(r.body.get("detail").is_none() && r.body.get("status_code").is_none(), "not the Verifa shape: {}", r.body);
    r.body["message"].clone()
}

/// Every view, rebuilt from the log, equals the live one.
fn assert_replays(app: &TestApp) {
    let (master, _) = idv::crypto::MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    let ring = idv::crypto::Keyring::new(&master);
    let scratch = app.data_dir.path().join("scratch.db");
    idv::store::replay::check(&app.db_path(), &scratch, &ring).expect("the views rebuild from the log");
}

async fn reviewer(app: &TestApp) -> String {
    let r =
        app.post("/users", json!({"email": "vera@example.test", "name": "Vera Reviewer", "role": "reviewer"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn a_verification_is_started_once_per_user_read_listed_and_seen_as_a_session_by_the_verifa_api() {
    let app = spawn_app().await;
    let v = start(&app, "user_123", Some("ENHANCED")).await;
    assert_eq!(
        (v["userId"].as_str(), v["tier"].as_str(), v["status"].as_str()),
        (Some("user_123"), Some("ENHANCED"), Some("PENDING"))
    );
    assert_eq!(v["steps"], json!({"document": "PENDING", "liveness": "PENDING", "screening": "PENDING"}));
    assert!(v["captureUrl"].as_str().unwrap().contains("/verify/"), "{v}");
    assert!(v["createdAt"].is_string() && v.get("completedAt").is_none(), "{v}");
    let id = v["id"].as_str().unwrap().to_string();

    // The active verification comes back, whatever tier is asked for; another user gets a new one, BASIC by default.
    let again = start(&app, "user_123", Some("BASIC")).await;
    assert_eq!((again["id"].as_str(), again["tier"].as_str()), (Some(id.as_str()), Some("ENHANCED")));
    let other = start(&app, "user_456", None).await;
    assert_eq!((other["tier"].as_str(), other["steps"].clone()), (Some("BASIC"), json!({"document": "PENDING"})));
    assert_ne!(other["id"], v["id"]);

    let got = vhq(&app, "GET", &format!("/v1/verifications/identity/{id}"), None).await;
    assert_eq!((got.status, got.body["id"].as_str()), (200, Some(id.as_str())), "{}", got.body);
    assert_vhq_error(&vhq(&app, "GET", "/v1/verifications/identity/ses_01JD8ZQ7S3K2M4N5P6Q7R8S9T0", None).await, 404);

    // The same session through the Verifa API, on the tier's workflow, which the Verifa API lists and can edit.
    let session = app.get(&format!("/sessions/{id}")).await;
    assert_eq!((session.status, session.body["external_ref"].as_str()), (200, Some("user_123")), "{}", session.body);
    let workflow = session.body["workflow_id"].as_str().unwrap().to_string();
    let wf = app.get(&format!("/workflows/{workflow}")).await;
    assert_eq!(wf.body["name"], "VerifyHQ ENHANCED", "{}", wf.body);
    let policies = wf.body["graph"].to_string();
    assert!(policies.contains("watchlist_screening") && policies.contains("face_match"), "{policies}");
    // A session that is not a VerifyHQ verification is not one here.
    let plain = app.post("/sessions", json!({"external_ref": "user_123"})).await;
    let plain_id = plain.body["id"].as_str().unwrap();
    assert_vhq_error(&vhq(&app, "GET", &format!("/v1/verifications/identity/{plain_id}"), None).await, 404);

    // Listing by user: newest first, page and limit (max 100).
    app.post(&format!("/sessions/{id}/simulate"), json!({"action": "decline"})).await;
    let second = start(&app, "user_123", Some("STANDARD")).await;
    let list = vhq(&app, "GET", "/v1/verifications/identity/user/user_123?page=1&limit=1", None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["meta"], json!({"page": 1, "limit": 1, "total": 2, "totalPages": 2}));
    assert_eq!(list.body["data"][0]["id"], second["id"]);
    let page2 = vhq(&app, "GET", "/v1/verifications/identity/user/user_123?page=2&limit=1", None).await;
    assert_eq!(
        (page2.body["data"][0]["id"].as_str(), page2.body["data"][0]["status"].as_str()),
        (Some(id.as_str()), Some("REJECTED"))
    );
    assert!(page2.body["data"][0]["completedAt"].is_string(), "{}", page2.body);
    let bad =
        assert_vhq_error(&vhq(&app, "GET", "/v1/verifications/identity/user/user_123?limit=101", None).await, 422);
    assert!(bad.to_string().contains("limit"), "{bad}");
    let none = vhq(&app, "GET", "/v1/verifications/identity/user/nobody", None).await;
    assert_eq!(none.body["meta"]["total"], 0);

    // Bodies are validated field by field, the message a list naming each field in camelCase.
    let r = vhq(&app, "POST", "/v1/verifications/identity", Some(json!({"tier": "GOLD"}))).await;
    let message = assert_vhq_error(&r, 422);
    let text = message.to_string();
    assert!(message.is_array() && text.contains("userId") && text.contains("tier"), "{message}");
    let r = vhq(&app, "POST", "/v1/verifications/identity", Some(json!({"userId": "a/b"}))).await;
    assert_vhq_error(&r, 422);
}

#[actix_web::test]
async fn a_review_here_decides_the_case_there_and_a_case_decided_there_shows_here() {
    let app = spawn_app().await;
    let rev = reviewer(&app).await;

    // MANUAL_REVIEW -> review VERIFIED here: the Verifa case is approved, the session completed and approved.
    let v = start(&app, "user_r1", Some("STANDARD")).await;
    let id = v["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{id}/simulate"), json!({"action": "require-review"})).await;
    let under = vhq(&app, "GET", &format!("/v1/verifications/identity/{id}"), None).await.body;
    assert_eq!(under["status"], "MANUAL_REVIEW", "{under}");
    let case = under["caseId"].as_str().expect("the review case").to_string();
    let body = json!({"decision": "VERIFIED", "reviewedBy": "ops@example.test", "reviewNotes": "Checked the document by hand."});
    let r = vhq(&app, "POST", &format!("/v1/verifications/identity/{id}/review"), Some(body.clone())).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("VERIFIED")), "{}", r.body);
    assert!(r.body["completedAt"].is_string(), "{}", r.body);
    let c = app.get(&format!("/cases/{case}")).await.body;
    assert_eq!(c["status"], "approved", "{c}");
    assert_eq!(c["decision_notes"].as_str().or(c["notes"].as_str()), Some("Checked the document by hand."), "{c}");
    let s = app.get(&format!("/sessions/{id}")).await.body;
    assert_eq!((s["status"].as_str(), s["result_status"].as_str()), (Some("completed"), Some("approved")), "{s}");
    // Who decided is in the log, as the API client.
    let events = app.get(&format!("/events?resource_id={case}")).await.body;
    assert!(events.to_string().contains("case.approved"), "{events}");
    assert_vhq_error(&vhq(&app, "POST", &format!("/v1/verifications/identity/{id}/review"), Some(body)).await, 409);

    // The reverse: a reviewer rejects the case in the Verifa API; the verification reads REJECTED here.
    let v = start(&app, "user_r2", Some("BASIC")).await;
    let id2 = v["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{id2}/simulate"), json!({"action": "require-review"})).await;
    let case2 = app.get(&format!("/sessions/{id2}")).await.body["case_id"].as_str().unwrap().to_string();
    let rejected =
        app.post(&format!("/cases/{case2}/reject"), json!({"reviewer_id": rev, "notes": "Photo is a screen."})).await;
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    let here = vhq(&app, "GET", &format!("/v1/verifications/identity/{id2}"), None).await.body;
    assert_eq!(here["status"], "REJECTED", "{here}");

    // From PENDING: the review opens the case and decides it.
    let v = start(&app, "user_r3", None).await;
    let id3 = v["id"].as_str().unwrap().to_string();
    let body = json!({"decision": "REJECTED", "reviewedBy": "ops", "reviewNotes": "Known fraud ring."});
    let r = vhq(&app, "POST", &format!("/v1/verifications/identity/{id3}/review"), Some(body)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("REJECTED")), "{}", r.body);
    let case3 = r.body["caseId"].as_str().expect("a case was opened").to_string();
    assert_eq!(app.get(&format!("/cases/{case3}")).await.body["status"], "rejected");

    // A case a reviewer holds is theirs to decide.
    let v = start(&app, "user_r4", None).await;
    let id4 = v["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{id4}/simulate"), json!({"action": "require-review"})).await;
    let case4 = app.get(&format!("/sessions/{id4}")).await.body["case_id"].as_str().unwrap().to_string();
    assert_eq!(app.post(&format!("/cases/{case4}/claim"), json!({"reviewer_id": rev})).await.status, 200);
    let body = json!({"decision": "VERIFIED", "reviewedBy": "ops", "reviewNotes": "ok"});
    assert_vhq_error(&vhq(&app, "POST", &format!("/v1/verifications/identity/{id4}/review"), Some(body)).await, 409);

    // Every field is required.
    let r = vhq(&app, "POST", &format!("/v1/verifications/identity/{id4}/review"), Some(json!({"decision": "MAYBE"})))
        .await;
    let text = assert_vhq_error(&r, 422).to_string();
    assert!(text.contains("decision") && text.contains("reviewedBy") && text.contains("reviewNotes"), "{text}");
    let r = vhq(
        &app,
        "POST",
        "/v1/verifications/identity/ses_01JD8ZQ7S3K2M4N5P6Q7R8S9T0/review",
        Some(json!({"decision": "VERIFIED", "reviewedBy": "ops", "reviewNotes": "ok"})),
    )
    .await;
    assert_vhq_error(&r, 404);
    assert_replays(&app);
}

#[actix_web::test]
async fn restart_invalidates_the_current_verification_and_the_sweeper_expires_an_abandoned_one() {
    let clocked = spawn_app_with_clock(Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()))).await;
    let app = &clocked.app;
    let first = start(app, "user_x", Some("STANDARD")).await;
    let id = first["id"].as_str().unwrap().to_string();

    // A pending one is invalidated (EXPIRED) and the next, of the same tier, starts.
    let r = vhq(app, "POST", &format!("/v1/verifications/identity/{id}/restart"), None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let next = r.body["id"].as_str().unwrap().to_string();
    assert_ne!(next, id);
    assert_eq!((r.body["tier"].as_str(), r.body["status"].as_str()), (Some("STANDARD"), Some("PENDING")));
    let old = vhq(app, "GET", &format!("/v1/verifications/identity/{id}"), None).await.body;
    assert_eq!(old["status"], "EXPIRED", "{old}");
    assert!(old.get("captureUrl").is_none(), "an invalidated verification cannot be completed: {old}");

    // A verified one cannot be restarted; a rejected one can.
    app.post(&format!("/sessions/{next}/simulate"), json!({"action": "approve"})).await;
    assert_eq!(vhq(app, "GET", &format!("/v1/verifications/identity/{next}"), None).await.body["status"], "VERIFIED");
    assert_vhq_error(&vhq(app, "POST", &format!("/v1/verifications/identity/{next}/restart"), None).await, 409);
    let other = start(app, "user_y", None).await["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{other}/simulate"), json!({"action": "decline"})).await;
    let r = vhq(app, "POST", &format!("/v1/verifications/identity/{other}/restart"), None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (201, Some("PENDING")), "{}", r.body);
    let restarted = r.body["id"].as_str().unwrap().to_string();

    // Not completed within the window: the sweeper expires it.
    clocked.clock.advance(time::Duration::minutes(21));
    assert!(clocked.sweep().await >= 1);
    let expired = vhq(app, "GET", &format!("/v1/verifications/identity/{restarted}"), None).await.body;
    assert_eq!(expired["status"], "EXPIRED", "{expired}");
    assert!(expired["completedAt"].is_string(), "{expired}");
}

#[actix_web::test]
async fn keys_permissions_idempotency_rate_limits_and_environments_follow_the_dialect() {
    let app = spawn_app_with(|c| c.admin_secret = Some("operator-secret".into())).await;
    let path = "/v1/verifications/identity";

    // Only a VerifyHQ key calls /v1, and a VerifyHQ key calls nothing else.
    assert_vhq_error(&app.send("GET", "/v1/verifications/identity/user/u", None, &[], None).await, 401);
    let sandbox = app.sandbox_key.clone();
    assert_vhq_error(&app.send("GET", "/v1/verifications/identity/user/u", Some(&sandbox), &[], None).await, 401);
    assert_error(&app.send("GET", "/identities", Some(&app.verifyhq_key.clone()), &[], None).await, 401);
    assert_vhq_error(&vhq(&app, "GET", "/v1/no-such-thing", None).await, 404);
    assert_vhq_error(&vhq(&app, "DELETE", path, None).await, 405);

    // The admin endpoint: the operator's secret, a live key by default, permissions and a rate limit.
    let admin = |secret: Option<&'static str>, body: Value| {
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> = secret.map(|s| vec![("X-Admin-Secret", s)]).unwrap_or_default();
            app.send("POST", "/v1/admin/api-clients", None, &headers, Some(&body)).await
        }
    };
    assert_vhq_error(&admin(None, json!({"name": "x"})).await, 401);
    assert_vhq_error(&admin(Some("wrong"), json!({"name": "x"})).await, 401);
    let bad = admin(Some("operator-secret"), json!({"name": "x", "permissions": ["everything"]})).await;
    assert!(assert_vhq_error(&bad, 422).to_string().contains("permissions"), "{}", bad.body);
    let reader = admin(
        Some("operator-secret"),
        json!({"name": "reader", "permissions": ["identity:read"], "rateLimit": 3, "environment": "test"}),
    )
    .await;
    assert_eq!(reader.status, 201, "{}", reader.body);
    assert_eq!(
        (reader.body["rateLimit"].as_u64(), reader.body["permissions"].clone()),
        (Some(3), json!(["identity:read"]))
    );
    let reader_key = reader.body["apiKey"].as_str().unwrap().to_string();
    assert!(reader_key.starts_with("vhq_test_"), "{reader_key}");
    let live = admin(Some("operator-secret"), json!({"name": "backend"})).await;
    let live_key = live.body["apiKey"].as_str().unwrap().to_string();
    assert!(live_key.starts_with("vhq_live_"), "{}", live.body);

    // A missing permission is a 403; the client's own limit answers 429 with Retry-After.
    let r = app.send("POST", path, Some(&reader_key), &[], Some(&json!({"userId": "u1"}))).await;
    assert_vhq_error(&r, 403);
    let ok = app.send("GET", "/v1/verifications/identity/user/u1", Some(&reader_key), &[], None).await;
    assert_eq!((ok.status, ok.header("x-ratelimit-limit").as_deref()), (200, Some("3")), "{}", ok.body);
    // The refused POST counted too: the third request is the last of the minute, the fourth is refused.
    let last = app.send("GET", "/v1/verifications/identity/user/u1", Some(&reader_key), &[], None).await;
    assert_eq!((last.status, last.header("x-ratelimit-remaining").as_deref()), (200, Some("0")), "{}", last.body);
    let limited = app.send("GET", "/v1/verifications/identity/user/u1", Some(&reader_key), &[], None).await;
    assert_vhq_error(&limited, 429);
    assert!(limited.header("retry-after").is_some());

    // Sandbox and live are apart: the live client's verification is not the test client's to read.
    let lv = app.send("POST", path, Some(&live_key), &[], Some(&json!({"userId": "u2"}))).await;
    assert_eq!(lv.status, 201, "{}", lv.body);
    let lid = lv.body["id"].as_str().unwrap();
    assert_vhq_error(&vhq(&app, "GET", &format!("/v1/verifications/identity/{lid}"), None).await, 404);
    let live_verifa = app.live_get(&format!("/sessions/{lid}")).await;
    assert_eq!(live_verifa.status, 200, "the live Verifa key sees the live session: {}", live_verifa.body);

    // Idempotency-Key on POST: the same body replays the first answer; another body is a 422.
    let key = app.verifyhq_key.clone();
    let idem = [("Idempotency-Key", "start-u3")];
    let a = app.send("POST", path, Some(&key), &idem, Some(&json!({"userId": "u3", "tier": "BASIC"}))).await;
    let b = app.send("POST", path, Some(&key), &idem, Some(&json!({"userId": "u3", "tier": "BASIC"}))).await;
    assert_eq!((a.status, b.status, b.header("idempotent-replayed").as_deref()), (201, 201, Some("true")));
    assert_eq!(a.body, b.body);
    let c = app.send("POST", path, Some(&key), &idem, Some(&json!({"userId": "u4"}))).await;
    assert_vhq_error(&c, 422);

    // The dialect documents itself.
    let doc = app.send("GET", "/v1/openapi.json", None, &[], None).await;
    assert_eq!(doc.status, 200);
    for (method, p) in idv::http::verifyhq::OPERATIONS.iter().filter(|(_, p)| *p != "/v1/openapi.json") {
        assert!(doc.body["paths"][p][method.to_lowercase()].is_object(), "{method} {p} documented");
    }
    assert!(doc.body["components"]["schemas"]["IdentityVerification"]["properties"]["userId"].is_object());
}

#[actix_web::test]
async fn a_live_verification_is_completed_by_the_capture_page_and_by_api_only_uploads() {
    let app = spawn_app_with(|c| {
        c.admin_secret = Some("s".into());
        // The receiver below is plain http on loopback.
        c.webhook_egress.require_https_for_live = false;
    })
    .await;
    let created = app
        .send("POST", "/v1/admin/api-clients", None, &[("X-Admin-Secret", "s")], Some(&json!({"name": "live"})))
        .await;
    let key = created.body["apiKey"].as_str().unwrap().to_string();
    let live = app.live_key.clone();
    let page = data_page(&td3("VAN<DER<STEEG", "WILLEKE MARIJE", "NX4KF72P1", "850412", 'F', "330907"));
    let receiver = crate::webhooks::spawn_receiver().await;
    let all = json!([
        "document.verified",
        "document.rejected",
        "liveness.passed",
        "liveness.failed",
        "identity.verified",
        "identity.rejected",
        "identity.manual_review",
        "verification.completed"
    ]);
    let hook = json!({"clientId": "live", "callbackUrl": receiver.url("/live"), "events": all});
    let r = app.send("POST", "/v1/webhooks/configure", Some(&key), &[], Some(&hook)).await;
    assert_eq!(r.status, 201, "{}", r.body);

    // BASIC through the hosted capture page: the photo's zone is read and the verification is VERIFIED.
    let v = app.send("POST", "/v1/verifications/identity", Some(&key), &[], Some(&json!({"userId": "w1"}))).await;
    assert_eq!(v.status, 201, "{}", v.body);
    let id = v.body["id"].as_str().unwrap().to_string();
    let token = v.body["captureUrl"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    let step = |s: &str| format!("/verify/{token}/{s}");
    assert_eq!(app.send_json_raw("POST", &step("consent"), &json!({"accepted": true})).await.status, 200);
    assert_eq!(
        app.send_json_raw("POST", &step("document-type"), &json!({"document_type": "passport"})).await.status,
        200
    );
    let up = app.upload(&step("documents"), None, &[("document_type", "id_front")], Some(("image/png", &page))).await;
    assert_eq!(up.status, 201, "{}", up.body);
    let done = app.send_json_raw("POST", &step("complete"), &json!({})).await;
    assert!(done.status < 300, "{}", done.body);
    let v = settled(&app, &key, &id).await;
    assert_eq!((v["status"].as_str(), v["steps"]["document"].as_str()), (Some("VERIFIED"), Some("VERIFIED")), "{v}");
    let identity = app.live_get("/identities/w1").await;
    assert_eq!(identity.body["status"], "approved", "the identity of userId: {}", identity.body);
    // The steps and the outcome reach the dialect's webhook, without any of the document's data.
    let got = receiver.wait_until("the BASIC verification's events", |g| g.len() >= 3).await;
    // Deliveries are sent concurrently: compare them in name order.
    let sorted = |got: &[crate::webhooks::Got]| {
        let mut names = crate::webhooks::events(got);
        names.sort();
        names
    };
    assert_eq!(sorted(&got), ["document.verified", "identity.verified", "verification.completed"]);
    let document = got.iter().find(|g| g.json()["event"] == "document.verified").unwrap().json();
    assert_eq!(document["data"]["documentType"], "PASSPORT", "{document}");
    for g in &got {
        let text = String::from_utf8_lossy(&g.json().to_string().into_bytes()).to_string();
        assert!(!text.contains("STEEG") && !text.contains("NX4KF72P1") && !text.contains("1985"), "{text}");
    }

    // STANDARD through the Verifa API's uploads: no face provider in live, so liveness goes to a person.
    let v = app
        .send("POST", "/v1/verifications/identity", Some(&key), &[], Some(&json!({"userId": "w2", "tier": "STANDARD"})))
        .await;
    let id = v.body["id"].as_str().unwrap().to_string();
    for (side, bytes) in
        [("id_front", page.clone()), ("selfie", data_page(&td3("A", "B", "X1", "900101", 'M', "300101")))]
    {
        let r = app
            .upload(
                &format!("/sessions/{id}/documents"),
                Some(&live),
                &[("document_type", side)],
                Some(("image/png", &bytes)),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let mid = app.send("GET", &format!("/v1/verifications/identity/{id}"), Some(&key), &[], None).await.body;
    assert_eq!(mid["steps"], json!({"document": "PROCESSING", "liveness": "PROCESSING"}), "{mid}");
    let sub = app.send("POST", &format!("/sessions/{id}/submit"), Some(&live), &[], None).await;
    assert_eq!(sub.status, 202, "{}", sub.body);
    let v = settled(&app, &key, &id).await;
    assert_eq!(v["status"], "MANUAL_REVIEW", "{v}");
    assert_eq!(v["steps"]["document"], "VERIFIED", "{v}");
    assert_eq!(v["steps"]["liveness"], "MANUAL_REVIEW", "{v}");
    let got = receiver.wait_until("the STANDARD verification's events", |g| g.len() >= 5).await;
    assert_eq!(sorted(&got[3..]), ["document.verified", "identity.manual_review"]);

    // A document verification announces its verdict too.
    let fields = [("userId", "w3"), ("documentType", "PASSPORT"), ("documentCountry", "NL")];
    let d = verify_document(&app, &key, &fields, &[("frontImage", &page)]).await;
    assert_eq!((d.status, d.body["status"].as_str()), (201, Some("VERIFIED")), "{}", d.body);
    let got = receiver.wait_until("the document verification's event", |g| g.len() >= 6).await;
    let data = got[5].json()["data"].clone();
    assert_eq!(
        (data["verificationId"].clone(), data["status"].as_str()),
        (d.body["id"].clone(), Some("VERIFIED")),
        "{data}"
    );
    assert!(data.get("extractedFields").is_none(), "no document data in a webhook: {data}");
}

/// Polls the verification until it leaves IN_PROGRESS (processing is asynchronous).
async fn settled(app: &TestApp, key: &str, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let r = app.send("GET", &format!("/v1/verifications/identity/{id}"), Some(key), &[], None).await;
        if r.body["status"] != "IN_PROGRESS" {
            return r.body;
        }
        last = r.body;
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("verification {id} stayed IN_PROGRESS: {last}");
}

/// A multipart body with text fields and named image parts. Returns (content type, bytes).
fn document_form(fields: &[(&str, &str)], images: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----idv-vhq-boundary-51c2";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (name, bytes) in images {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn verify_document(app: &TestApp, key: &str, fields: &[(&str, &str)], images: &[(&str, &[u8])]) -> Resp {
    let (content_type, body) = document_form(fields, images);
    app.send_raw("POST", "/v1/verifications/document", Some(key), Some((&content_type, body))).await
}

#[actix_web::test]
async fn a_document_verification_reads_the_zone_judges_the_document_and_keeps_its_data_sealed() {
    let app = spawn_app().await;
    let key = app.verifyhq_key.clone();
    let zone = td3("VAN<DER<STEEG", "WILLEKE MARIJE", "NX4KF72P1", "850412", 'F', "330907");
    let page = data_page(&zone);
    let passport = [("userId", "doc_user"), ("documentType", "PASSPORT"), ("documentCountry", "NL")];

    let r = verify_document(&app, &key, &passport, &[("frontImage", &page)]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["documentType"].as_str()),
        (Some("VERIFIED"), Some("PASSPORT")),
        "{}",
        r.body
    );
    assert_eq!(
        r.body["extractedFields"],
        json!({"fullName": "WILLEKE MARIJE VAN DER STEEG", "dateOfBirth": "1985-04-12", "documentNumber": "NX4KF72P1",
               "expiryDate": "2033-09-07", "nationality": "NLD"})
    );
    assert_eq!(r.body["fraudIndicators"], json!([]));
    assert!(r.body["confidence"].as_f64().unwrap() >= 0.8, "{}", r.body);
    assert!(r.body["frontImageUrl"].as_str().is_some_and(|u| u.contains("sig=")), "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let got = vhq(&app, "GET", &format!("/v1/verifications/document/{id}"), None).await;
    assert_eq!((got.status, got.body["status"].as_str()), (200, Some("VERIFIED")), "{}", got.body);
    // The image is a Verifa document too.
    let verifa = app.get(&format!("/documents/{id}")).await;
    assert_eq!((verifa.status, verifa.body["document_type"].as_str()), (200, Some("id_front")), "{}", verifa.body);

    // What the readers find decides: another kind of document, an expired one, another country, no zone.
    let blank = blank_page();
    let card = [("userId", "doc_user"), ("documentType", "ID_CARD"), ("documentCountry", "NL")];
    let r = verify_document(&app, &key, &card, &[("frontImage", &page), ("backImage", &blank)]).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["fraudIndicators"].clone()),
        (Some("REJECTED"), json!(["DOCUMENT_TYPE_MISMATCH"])),
        "{}",
        r.body
    );
    assert!(r.body["backImageUrl"].is_string(), "{}", r.body);
    let expired = data_page(&td3("JANSEN", "PIET", "XR81B2K05", "700101", 'M', "200101"));
    let r = verify_document(&app, &key, &passport, &[("frontImage", &expired)]).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["fraudIndicators"].clone()),
        (Some("REJECTED"), json!(["DOCUMENT_EXPIRED"])),
        "{}",
        r.body
    );
    let belgian = [("userId", "doc_user"), ("documentType", "PASSPORT"), ("documentCountry", "BE")];
    let r = verify_document(&app, &key, &belgian, &[("frontImage", &page)]).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["fraudIndicators"].clone()),
        (Some("MANUAL_REVIEW"), json!(["COUNTRY_MISMATCH"])),
        "{}",
        r.body
    );
    let r = verify_document(&app, &key, &passport, &[("frontImage", &blank)]).await;
    assert_eq!(
        (r.body["status"].as_str(), r.body["fraudIndicators"].clone()),
        (Some("REJECTED"), json!(["MRZ_UNREADABLE"])),
        "{}",
        r.body
    );
    assert_eq!(r.body["extractedFields"], json!({}));

    let list = vhq(&app, "GET", "/v1/verifications/document/user/doc_user?limit=2", None).await;
    assert_eq!(list.body["meta"], json!({"page": 1, "limit": 2, "total": 5, "totalPages": 3}), "{}", list.body);

    // Refusals name every field; an ID card needs its back; an image must be one.
    let r = verify_document(&app, &key, &[("documentType", "VISA")], &[]).await;
    let text = assert_vhq_error(&r, 422).to_string();
    for field in ["userId", "documentType", "documentCountry", "frontImage"] {
        assert!(text.contains(field), "{field}: {text}");
    }
    let r = verify_document(&app, &key, &card, &[("frontImage", &page)]).await;
    assert!(assert_vhq_error(&r, 422).to_string().contains("backImage"), "{}", r.body);
    let r = verify_document(&app, &key, &passport, &[("frontImage", b"not an image")]).await;
    assert!(assert_vhq_error(&r, 422).to_string().contains("frontImage"), "{}", r.body);
    let r = vhq(&app, "POST", "/v1/verifications/document", Some(json!({"userId": "x"}))).await;
    assert_vhq_error(&r, 415);
    assert_vhq_error(&vhq(&app, "GET", "/v1/verifications/document/doc_01JD8ZQ7S3K2M4N5P6Q7R8S9T0", None).await, 404);

    // Nothing read from the images is stored in plaintext.
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in ["NX4KF72P1", "XR81B2K05", "STEEG", "WILLEKE"] {
        assert!(!text.contains(secret), "{secret} found in the database file");
    }
    assert_replays(&app);
}

#[actix_web::test]
async fn a_duplicate_check_finds_another_users_selfie_enrolled_here_or_in_a_verification() {
    use base64::Engine;
    let app = spawn_app().await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let (s1, s2, s3) = (crate::sessions::png(11), crate::sessions::png(12), crate::sessions::png(13));
    let check = |user: &'static str, image: Vec<u8>, enroll: bool| {
        let body =
            json!({"userId": user, "selfieBase64": b64(&image), "selfieMimeType": "image/png", "enroll": enroll});
        let app = &app;
        async move { vhq(app, "POST", "/v1/biometrics/dedup/check", Some(body)).await }
    };

    let a = check("bio_a", s1.clone(), true).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        (a.body["status"].as_str(), a.body["matchFound"].as_bool(), a.body["enrolled"].as_bool()),
        (Some("UNIQUE"), Some(false), Some(true))
    );
    let b = check("bio_b", s1.clone(), true).await;
    assert_eq!(
        (b.body["status"].as_str(), b.body["matches"][0]["matchedUserId"].as_str()),
        (Some("DUPLICATE"), Some("bio_a")),
        "{}",
        b.body
    );
    assert_eq!(b.body["matches"][0]["similarity"].as_f64(), Some(1.0));
    assert!(b.body["matches"][0]["enrolledAt"].is_string());
    assert_eq!(check("bio_b", s2.clone(), true).await.body["status"], "UNIQUE", "another face is not a match");
    // Not enrolled: checked, not kept.
    let c = check("bio_c", s1.clone(), false).await;
    assert_eq!(c.body["matches"].as_array().unwrap().len(), 2, "{}", c.body);
    let d = check("bio_d", s1.clone(), true).await;
    let users: Vec<&str> =
        d.body["matches"].as_array().unwrap().iter().map(|m| m["matchedUserId"].as_str().unwrap()).collect();
    assert_eq!(users, ["bio_a", "bio_b"], "bio_c was not enrolled: {}", d.body);
    // A user's own selfies are never their duplicates.
    let again = check("bio_a", s1.clone(), false).await;
    assert!(again.body["matches"].as_array().unwrap().iter().all(|m| m["matchedUserId"] != "bio_a"), "{}", again.body);

    // A verification's selfie counts too: the identity's external_ref is the user.
    let s = app.post("/sessions", json!({"external_ref": "bio_session_user"})).await;
    let sid = s.body["id"].as_str().unwrap().to_string();
    let up = app
        .upload(
            &format!("/sessions/{sid}/documents"),
            Some(&app.sandbox_key.clone()),
            &[("document_type", "selfie")],
            Some(("image/png", &s3)),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.body);
    app.post(&format!("/sessions/{sid}/simulate"), json!({"action": "approve"})).await;
    let e = check("bio_e", s3.clone(), false).await;
    assert_eq!(e.body["matches"][0]["matchedUserId"], "bio_session_user", "{}", e.body);

    let got = vhq(&app, "GET", &format!("/v1/biometrics/dedup/{}", b.body["id"].as_str().unwrap()), None).await;
    assert_eq!((got.status, got.body["status"].as_str()), (200, Some("DUPLICATE")), "{}", got.body);
    assert_vhq_error(&vhq(&app, "GET", "/v1/biometrics/dedup/dedup_01JD8ZQ7S3K2M4N5P6Q7R8S9T0", None).await, 404);

    // Refusals name the field.
    for (body, field) in [
        (json!({"userId": "x", "selfieBase64": "***", "selfieMimeType": "image/png"}), "selfieBase64"),
        (json!({"userId": "x", "selfieBase64": b64(&s1), "selfieMimeType": "image/jpeg"}), "selfieMimeType"),
        (
            json!({"userId": "x", "selfieBase64": b64(&s1), "selfieMimeType": "image/png", "threshold": 0.2}),
            "threshold",
        ),
        (json!({"selfieBase64": b64(&s1), "selfieMimeType": "image/png"}), "userId"),
    ] {
        let r = vhq(&app, "POST", "/v1/biometrics/dedup/check", Some(body)).await;
        assert!(assert_vhq_error(&r, 422).to_string().contains(field), "{field}: {}", r.body);
    }
    // The enrolled selfies are sealed.
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    let needle = &b64(&s1)[20..60];
    assert!(!String::from_utf8_lossy(&bytes).contains(needle), "a selfie in plaintext");
    assert_replays(&app);
}

/// Imports an OpenSanctions list (one JSON line per person) through the Verifa API.
#[actix_web::test]
async fn a_subscription_screens_now_and_on_every_list_import_and_its_alerts_follow_the_hits() {
    let app = spawn_app_with(|c| c.admin_secret = Some("s".into())).await;
    let created = app
        .send("POST", "/v1/admin/api-clients", None, &[("X-Admin-Secret", "s")], Some(&json!({"name": "aml"})))
        .await;
    let key = created.body["apiKey"].as_str().unwrap().to_string();
    let call = |method: &'static str, path: String, body: Option<Value>| {
        let (app, key) = (&app, key.clone());
        async move { app.send(method, &path, Some(&key), &[], body.as_ref()).await }
    };
    import_people(&app, &[("p-1", "Viktor Zubrovsky", "1961-03-14")]).await;

    let sub = json!({"userId": "wl_1", "fullName": "Viktor Zubrovsky", "dateOfBirth": "1961-03-14",
                     "nationality": "RU", "lists": ["SANCTIONS", "PEP"]});
    let r = call("POST", "/v1/monitoring/watchlist/subscribe".into(), Some(sub)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["lists"].clone()),
        (Some("ACTIVE"), json!(["SANCTIONS"])),
        "{}",
        r.body
    );
    assert_eq!(r.body["unavailableLists"], json!(["PEP"]), "PEP is answered as unavailable: {}", r.body);
    assert!(r.body["id"].as_str().unwrap().starts_with("wl_sub_"));
    // Screened at once: the existing entry is the first alert.
    let alerts = call("GET", "/v1/monitoring/watchlist/alerts?userId=wl_1".into(), None).await;
    assert_eq!(alerts.status, 200, "{}", alerts.body);
    assert_eq!(alerts.body["meta"]["total"], 1, "{}", alerts.body);
    let alert = alerts.body["data"][0].clone();
    assert_eq!((alert["status"].as_str(), alert["list"].as_str()), (Some("OPEN"), Some("SANCTIONS")), "{alert}");
    assert!(alert["matchedName"].as_str().unwrap().contains("Zubrovsky"), "{alert}");

    // A clean user gets no alert until a list import names them; then monitoring raises one.
    let sub2 = json!({"userId": "wl_2", "fullName": "Anneliese Quarterman", "dateOfBirth": "1979-11-02", "lists": ["SANCTIONS"]});
    let r2 = call("POST", "/v1/monitoring/watchlist/subscribe".into(), Some(sub2)).await;
    assert_eq!(r2.status, 201, "{}", r2.body);
    assert_eq!(call("GET", "/v1/monitoring/watchlist/alerts?userId=wl_2".into(), None).await.body["meta"]["total"], 0);
    import_people(&app, &[("p-1", "Viktor Zubrovsky", "1961-03-14"), ("p-2", "Anneliese Quarterman", "1979-11-02")])
        .await;
    let after = call("GET", "/v1/monitoring/watchlist/alerts?userId=wl_2".into(), None).await;
    assert_eq!(after.body["meta"]["total"], 1, "monitoring found the new entry: {}", after.body);

    // A hit dismissed in the Verifa API is a DISMISSED alert.
    let check = alert["checkId"].as_str().unwrap();
    let d = app
        .send(
            "POST",
            &format!("/checks/{check}/dismiss"),
            Some(&app.live_key.clone()),
            &[],
            Some(&json!({"reason": "other person"})),
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    let open = call("GET", "/v1/monitoring/watchlist/alerts?status=OPEN".into(), None).await;
    assert_eq!(open.body["meta"]["total"], 1, "{}", open.body);
    let dismissed = call("GET", "/v1/monitoring/watchlist/alerts?status=DISMISSED&userId=wl_1".into(), None).await;
    assert_eq!(dismissed.body["data"][0]["status"], "DISMISSED", "{}", dismissed.body);

    // Cancelled: the identity is no longer monitored.
    let id2 = r2.body["id"].as_str().unwrap();
    let c = call("DELETE", format!("/v1/monitoring/watchlist/subscribe/{id2}"), None).await;
    assert_eq!((c.status, c.body["status"].as_str()), (200, Some("CANCELLED")), "{}", c.body);
    assert!(c.body["cancelledAt"].is_string());
    let identity = app.live_get("/identities/wl_2").await;
    assert_eq!(identity.body["monitoring_enabled"], false, "{}", identity.body);
    assert_vhq_error(&call("DELETE", "/v1/monitoring/watchlist/subscribe/wl_sub_nope".into(), None).await, 404);

    // Only lists idv can watch; every field checked.
    let r = call(
        "POST",
        "/v1/monitoring/watchlist/subscribe".into(),
        Some(json!({"userId": "x", "fullName": "A B", "lists": ["PEP"]})),
    )
    .await;
    assert!(assert_vhq_error(&r, 422).to_string().contains("lists"), "{}", r.body);
    let r =
        call("POST", "/v1/monitoring/watchlist/subscribe".into(), Some(json!({"userId": "x", "lists": ["SANCTIONS"]})))
            .await;
    assert!(assert_vhq_error(&r, 422).to_string().contains("fullName"), "{}", r.body);
    assert_vhq_error(&call("GET", "/v1/monitoring/watchlist/alerts?status=MAYBE".into(), None).await, 422);
    // The name given is sealed like any personal data.
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    assert!(!String::from_utf8_lossy(&bytes).contains("1979-11-02"), "a birth date in plaintext");
    assert_replays(&app);
}

async fn challenge_photo(app: &TestApp, key: &str, token: &str, challenge: &str, photo: &[u8]) -> Resp {
    let (ct, body) = document_form(&[("sessionToken", token), ("challengeId", challenge)], &[("photo", photo)]);
    app.send_raw("POST", "/v1/verifications/liveness/challenge", Some(key), Some((&ct, body))).await
}

/// Starts a liveness session and sends `photos(i)` for each challenge in turn; returns the last answer.
async fn liveness_run(app: &TestApp, key: &str, user: &str, photo: impl Fn(u32) -> Vec<u8>) -> Value {
    let s =
        app.send("POST", "/v1/verifications/liveness/session", Some(key), &[], Some(&json!({"userId": user}))).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let token = s.body["sessionToken"].as_str().unwrap().to_string();
    let ids: Vec<String> =
        s.body["challenges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    let mut last = Value::Null;
    for (i, id) in ids.iter().enumerate() {
        let r = challenge_photo(app, key, &token, id, &photo(i as u32)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        last = r.body;
    }
    last
}

#[actix_web::test]
async fn a_liveness_session_takes_one_photo_per_random_challenge_and_never_passes_without_a_verdict() {
    let clocked = spawn_app_with_clock(Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()))).await;
    let app = &clocked.app;
    let key = app.verifyhq_key.clone();
    let s = vhq(app, "POST", "/v1/verifications/liveness/session", Some(json!({"userId": "live_1"}))).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let total = s.body["challenges"].as_array().unwrap().len();
    assert!((2..=3).contains(&total), "{}", s.body);
    assert_eq!((s.body["status"].as_str(), s.body["nextStep"].as_str()), (Some("CREATED"), Some("ch_001")));
    let minutes = (time::OffsetDateTime::parse(
        s.body["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
        - time::OffsetDateTime::parse(
            s.body["createdAt"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap())
    .whole_minutes();
    assert_eq!(minutes, 10);
    assert!(s.body["challenges"][0]["instruction"].is_string());
    let token = s.body["sessionToken"].as_str().unwrap().to_string();

    // One photo per challenge; the last brings the sandbox's simulated verdict.
    let first = challenge_photo(app, &key, &token, "ch_001", &crate::sessions::png(21)).await;
    assert_eq!(
        (first.body["status"].as_str(), first.body["challengesCompleted"].as_u64()),
        (Some("IN_PROGRESS"), Some(1))
    );
    assert_eq!(first.body["isAlive"], Value::Null);
    assert_vhq_error(&challenge_photo(app, &key, &token, "ch_001", &crate::sessions::png(22)).await, 409);
    assert_vhq_error(&challenge_photo(app, &key, &token, "ch_009", &crate::sessions::png(22)).await, 404);
    assert_vhq_error(
        &challenge_photo(app, &key, "lvs_01JD8ZQ7S3K2M4N5P6Q7R8S9T0", "ch_001", &crate::sessions::png(22)).await,
        404,
    );
    let mut last = first.body;
    // Each photo its own pattern (png seeds of different families), as a person moving would give.
    for i in 2..=total {
        let r = challenge_photo(app, &key, &token, &format!("ch_{i:03}"), &crate::sessions::png(20 + i as u32)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        last = r.body;
    }
    assert_eq!(
        (last["status"].as_str(), last["isComplete"].as_bool(), last["isAlive"].as_bool()),
        (Some("COMPLETED"), Some(true), Some(true)),
        "{last}"
    );
    assert_vhq_error(&challenge_photo(app, &key, &token, "ch_001", &crate::sessions::png(22)).await, 409);

    // One photo re-sent for every challenge is a replay.
    let replay = liveness_run(app, &key, "live_2", |_| crate::sessions::png(30)).await;
    assert_eq!(replay["isAlive"], false, "{replay}");
    assert_eq!(replay["antiSpoofScore"].as_f64(), Some(0.0));

    // Ten minutes, then EXPIRED.
    let s = vhq(app, "POST", "/v1/verifications/liveness/session", Some(json!({"userId": "live_3"}))).await;
    let late = s.body["sessionToken"].as_str().unwrap().to_string();
    clocked.clock.advance(time::Duration::minutes(11));
    assert_vhq_error(&challenge_photo(app, &key, &late, "ch_001", &crate::sessions::png(23)).await, 409);
    let got = vhq(app, "GET", &format!("/v1/verifications/liveness/session/{late}"), None).await;
    assert_eq!(
        (got.body["status"].as_str(), got.body["nextStep"].clone()),
        (Some("EXPIRED"), Value::Null),
        "{}",
        got.body
    );

    // Every field is required; the photo must be an image.
    let (ct, body) = document_form(&[("note", "no fields")], &[]);
    let r = app.send_raw("POST", "/v1/verifications/liveness/challenge", Some(&key), Some((&ct, body))).await;
    let text = assert_vhq_error(&r, 422).to_string();
    assert!(text.contains("sessionToken") && text.contains("challengeId") && text.contains("photo"), "{text}");
    assert!(assert_vhq_error(&challenge_photo(app, &key, &token, "ch_001", b"text").await, 422)
        .to_string()
        .contains("photo"));
}

#[actix_web::test]
async fn in_live_the_face_provider_decides_liveness_and_without_one_nothing_passes() {
    for (provider, alive) in [
        (None, Value::Null),
        (Some(crate::face::provider(200, json!({"score": 0.93, "liveness_passed": true}))), json!(true)),
        (Some(crate::face::provider(200, json!({"score": 0.91, "liveness_passed": false}))), json!(false)),
        (Some(crate::face::provider(200, json!({"score": 0.35}))), json!(false)),
    ] {
        let has_provider = provider.is_some();
        let app = spawn_app_with(|c| {
            c.admin_secret = Some("s".into());
            c.face_provider_url = provider;
        })
        .await;
        let created = app
            .send("POST", "/v1/admin/api-clients", None, &[("X-Admin-Secret", "s")], Some(&json!({"name": "live"})))
            .await;
        let key = created.body["apiKey"].as_str().unwrap().to_string();
        let done = liveness_run(&app, &key, "live_user", |i| crate::sessions::png(40 + i * 7)).await;
        assert_eq!(done["status"], "COMPLETED", "{done}");
        assert_eq!(done["isAlive"], alive, "provider {has_provider}: {done}");
        if !has_provider {
            assert!(done["reason"].as_str().unwrap().contains("provider"), "{done}");
        }
        assert_replays(&app);
    }
}

#[actix_web::test]
async fn a_last_liveness_photo_refused_by_a_full_writer_leaves_the_session_one_photo_short() {
    // The provider takes 600 ms to answer: time to hold the writer and fill its queue meanwhile.
    let verdict = json!({"score": 0.93, "liveness_passed": true});
    let provider = crate::face::slow_provider(200, verdict, std::time::Duration::from_millis(600));
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let clocked = spawn_app_with_clock_and(clock, |c| {
        c.admin_secret = Some("s".into());
        c.face_provider_url = Some(provider);
        c.writer_queue_capacity = 4;
    })
    .await;
    let app = &clocked.app;
    let created = app
        .send("POST", "/v1/admin/api-clients", None, &[("X-Admin-Secret", "s")], Some(&json!({"name": "live"})))
        .await;
    let key = created.body["apiKey"].as_str().unwrap().to_string();
    let s = app
        .send("POST", "/v1/verifications/liveness/session", Some(&key), &[], Some(&json!({"userId": "busy_user"})))
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    let token = s.body["sessionToken"].as_str().unwrap().to_string();
    let ids: Vec<String> =
        s.body["challenges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    let (last_id, first_ids) = ids.split_last().unwrap();
    for (i, id) in first_ids.iter().enumerate() {
        let r = challenge_photo(app, &key, &token, id, &crate::sessions::png(40 + i as u32 * 7)).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let last_photo = crate::sessions::png(90);

    // While the last photo is with the provider, the writer is held by one job (running, so it is off the
    // queue) and four more fill its queue.
    let gate = Arc::new(Gate::default());
    let fill_writer = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
        let mut held = vec![hold_writer(&clocked.writer, &gate).await];
        held.extend((0..4).map(|_| gated_command(&clocked.writer, &gate, None)));
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        held
    };
    let (refused, held) = tokio::join!(challenge_photo(app, &key, &token, last_id, &last_photo), fill_writer);
    assert_eq!(refused.status, 503, "{}", refused.body);
    gate.open();
    for job in held {
        job.await.unwrap().unwrap();
    }

    // Nothing of the last photo was kept: the session is one photo short, not complete without a verdict.
    let got = app.send("GET", &format!("/v1/verifications/liveness/session/{token}"), Some(&key), &[], None).await;
    assert_eq!(
        (got.body["status"].as_str(), got.body["challengesCompleted"].as_u64(), got.body["isAlive"].clone()),
        (Some("IN_PROGRESS"), Some(first_ids.len() as u64), Value::Null),
        "{}",
        got.body
    );
    // Sent again, it completes the session with the provider's verdict.
    let done = challenge_photo(app, &key, &token, last_id, &last_photo).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!((done.body["status"].as_str(), done.body["isAlive"].as_bool()), (Some("COMPLETED"), Some(true)));
    assert_replays(app);
}

/// Writes MaxMind-format City and ASN databases with PyPI's `mmdb-writer` (an independent writer of the
/// format, installed by `make test-deps`) into `dir`.
fn write_mmdb(dir: &std::path::Path) {
    let script = format!(
        r#"
from netaddr import IPSet
from mmdb_writer import MMDBWriter
city = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type='GeoLite2-City', languages=['en'], description={{'en': 'test'}})
city.insert_network(IPSet(['81.2.69.0/24']), {{'country': {{'iso_code': 'GB', 'names': {{'en': 'United Kingdom'}}}},
    'city': {{'names': {{'en': 'London'}}}}, 'subdivisions': [{{'names': {{'en': 'England'}}}}],
    'location': {{'latitude': 51.5142, 'longitude': -0.0931}}}})
city.to_db_file('{dir}/GeoLite2-City.mmdb')
asn = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type='GeoLite2-ASN', languages=['en'], description={{'en': 'test'}})
asn.insert_network(IPSet(['81.2.69.0/24']), {{'autonomous_system_number': 20712, 'autonomous_system_organization': 'Andrews & Arnold Ltd'}})
asn.to_db_file('{dir}/GeoLite2-ASN.mmdb')
"#,
        dir = dir.display()
    );
    let out = std::process::Command::new("python3").args(["-c", &script]).output().expect("python3 runs");
    assert!(out.status.success(), "mmdb-writer (make test-deps): {}", String::from_utf8_lossy(&out.stderr));
}

#[actix_web::test]
async fn ip_intelligence_reads_the_imported_databases_and_lists_and_says_unknown_without_them() {
    let folder = tempfile::tempdir().unwrap();
    write_mmdb(folder.path());
    std::fs::write(folder.path().join("tor-exit-nodes.txt"), "# Tor exits\n185.220.101.4\n").unwrap();
    std::fs::write(folder.path().join("datacenter-ranges.txt"), "81.2.69.128/25\n").unwrap();
    let dir = folder.path().to_path_buf();
    let app = spawn_app_with(move |c| c.ip_intelligence_dir = Some(dir)).await;
    let ask = |ip: &str| vhq(&app, "POST", "/v1/intelligence/ip", Some(json!({"ip": ip, "userId": "u1"})));

    let r = ask("81.2.69.10").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["geolocation"]["country"], "GB", "{}", r.body);
    assert_eq!(
        (r.body["geolocation"]["city"].as_str(), r.body["geolocation"]["region"].as_str()),
        (Some("London"), Some("England"))
    );
    assert_eq!(r.body["network"]["asn"], "AS20712");
    assert_eq!(r.body["network"]["organization"], "Andrews & Arnold Ltd");
    assert_eq!((r.body["riskLevel"].as_str(), r.body["threats"]["threatTypes"].clone()), (Some("LOW"), json!([])));
    assert!(r.body["checkedAt"].is_string());
    let dc = ask("81.2.69.200").await;
    assert_eq!(
        (dc.body["threats"]["isDatacenter"].as_bool(), dc.body["network"]["connectionType"].as_str()),
        (Some(true), Some("DATACENTER"))
    );
    assert_eq!(dc.body["riskLevel"], "MEDIUM");
    let tor = ask("185.220.101.4").await;
    assert_eq!(
        (tor.body["threats"]["isTor"].as_bool(), tor.body["riskLevel"].as_str()),
        (Some(true), Some("HIGH")),
        "{}",
        tor.body
    );
    assert_eq!(tor.body["geolocation"], Value::Null, "not in the database: {}", tor.body);
    assert_eq!(ask("2001:db8::1").await.status, 200);
    assert!(assert_vhq_error(&ask("not-an-ip").await, 422).to_string().contains("ip"));

    // Nothing imported: an honest unknown, never a guess.
    let bare = spawn_app().await;
    let r = vhq(&bare, "POST", "/v1/intelligence/ip", Some(json!({"ip": "81.2.69.10"}))).await;
    assert_eq!(
        (r.body["riskLevel"].as_str(), r.body["riskScore"].clone(), r.body["geolocation"].clone()),
        (Some("UNKNOWN"), Value::Null, Value::Null),
        "{}",
        r.body
    );
    assert_eq!(r.body["sources"]["geolocation"], "unknown");
}
