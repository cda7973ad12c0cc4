//! The dashboard's review pages as a browser meets them, without a browser: signed-out visitors are sent to
//! the login page, form posts without the session's CSRF token are refused and change nothing, a decision
//! posted with it runs the cases command as the signed-in reviewer (dual review included), and a case's
//! document is served decrypted with no-store, only for a case of the dashboard's environment.

use crate::helpers::{browser_request, sign_in, spawn_app, FormPage, TestApp};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

/// A distinct little PNG per seed.
fn png(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(48, 48, |x, y| {
        let on = (x / (3 + seed % 5) + y / (4 + seed % 3)).is_multiple_of(2);
        let v = if on { 220 } else { 30 };
        image::Rgb([v, (v as u32 * (seed + 3) % 256) as u8, 255 - v])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("png encodes");
    out.into_inner()
}

type Page = FormPage;

async fn request(app: &TestApp, method: &str, path: &str, cookie: &str, form: Option<&[(&str, &str)]>) -> Page {
    browser_request(app, method, path, cookie, form, &[]).await
}

/// Creates an org user and signs it in through the login form; returns (user id, session cookie).
async fn signed_in(app: &TestApp, email: &str) -> (String, String) {
    let r = app.post("/users", json!({"email": email, "name": email, "role": "reviewer", "password": PASSWORD})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let ok = sign_in(app, email, PASSWORD, None).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    (id, format!("vk_org_token={}", ok.cookie_value("vk_org_token").expect("session cookie")))
}

/// A live session with a document front and a selfie, submitted: no face provider, so it goes to review.
/// Returns (session id, case id, the front's bytes).
async fn live_case(app: &TestApp, external_ref: &str, seed: u32) -> (String, String, Vec<u8>) {
    let key = app.live_key.clone();
    let body = json!({"external_ref": external_ref, "first_name": "Grace", "last_name": "Hopper", "date_of_birth": "1976-12-09"});
    let s = app.send("POST", "/sessions", Some(&key), &[], Some(&body)).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    let front = png(seed);
    for (doc, bytes) in [("id_front", front.clone()), ("selfie", png(seed + 10))] {
        let up = app
            .upload(
                &format!("/sessions/{id}/documents"),
                Some(&key),
                &[("document_type", doc)],
                Some(("image/png", &bytes)),
            )
            .await;
        assert_eq!(up.status, 201, "{}", up.body);
    }
    let sub = app.send("POST", &format!("/sessions/{id}/submit"), Some(&key), &[], Some(&json!({}))).await;
    assert_eq!(sub.status, 202, "{}", sub.body);
    let mut last = Value::Null;
    for _ in 0..200 {
        last = app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await.body;
        if last["status"] == "under_review" {
            let case = last["case_id"].as_str().expect("a case").to_string();
            return (id, case, front);
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("session {id} did not go to review: {last}");
}

/// Whether an audit entry's actor is the org user `id` (`orguser_…`, or `user:orguser_…` as the spec writes it).
fn is_actor(actor: &Value, id: &str) -> bool {
    actor.as_str().is_some_and(|a| a == id || a.strip_prefix("user:") == Some(id))
}

async fn live_case_json(app: &TestApp, case: &str) -> Value {
    app.send("GET", &format!("/cases/{case}"), Some(&app.live_key.clone()), &[], None).await.body
}

#[actix_web::test]
async fn review_pages_and_documents_need_a_signed_in_reviewer() {
    let app = spawn_app().await;
    let (_, case, _) = live_case(&app, "signed_out", 1).await;
    for path in [
        "/dashboard/cases".to_string(),
        format!("/dashboard/cases/{case}"),
        format!("/dashboard/cases/{case}/documents/id_front"),
    ] {
        let page = request(&app, "GET", &path, "", None).await;
        assert_eq!(page.status, 303, "{path}: {}", page.text);
        assert_eq!(page.header("location"), "/dashboard/login", "{path}");
        assert!(page.body.is_empty() || !page.text.contains("Hopper"), "{path} leaks data");
    }
    let post = request(&app, "POST", &format!("/dashboard/cases/{case}/approve"), "", Some(&[("csrf", "00")])).await;
    assert_eq!((post.status, post.header("location").as_str()), (303, "/dashboard/login"));
    assert_eq!(live_case_json(&app, &case).await["status"], "open");
}

#[actix_web::test]
async fn form_posts_without_the_sessions_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (_, case, _) = live_case(&app, "csrf_case", 2).await;
    let (_, cookie) = signed_in(&app, "rita@example.test").await;
    let page = request(&app, "GET", &format!("/dashboard/cases/{case}"), &cookie, None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.header("cache-control"), "no-store");
    let csrf = page.csrf();
    for action in ["claim", "approve", "reject", "notes", "escalate"] {
        let path = format!("/dashboard/cases/{case}/{action}");
        let missing = request(&app, "POST", &path, &cookie, Some(&[("body", "x"), ("notes", "x")])).await;
        assert_eq!(missing.status, 403, "{action} without a token: {}", missing.text);
        assert!(missing.header("content-type").starts_with("text/html"), "{action}: an HTML page, not JSON");
        let wrong = request(&app, "POST", &path, &cookie, Some(&[("csrf", "00ff"), ("body", "x")])).await;
        assert_eq!(wrong.status, 403, "{action} with a wrong token");
    }
    let next = request(&app, "POST", "/dashboard/cases/next", &cookie, Some(&[])).await;
    assert_eq!(next.status, 403);
    let c = live_case_json(&app, &case).await;
    assert_eq!((c["status"].as_str(), c["assigned_to"].is_null()), (Some("open"), true), "{c}");
    let notes = app.send("GET", &format!("/cases/{case}/notes"), Some(&app.live_key.clone()), &[], None).await;
    assert_eq!(notes.body["data"], json!([]), "{}", notes.body);

    // With the token, the same post claims the case for the signed-in reviewer.
    let ok = request(&app, "POST", &format!("/dashboard/cases/{case}/claim"), &cookie, Some(&[("csrf", &csrf)])).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    assert_eq!(ok.header("location"), format!("/dashboard/cases/{case}?done=claimed"));
    assert_eq!(live_case_json(&app, &case).await["status"], "in_review");
}

#[actix_web::test]
async fn decisions_posted_on_the_case_page_honour_dual_review() {
    let app = spawn_app().await;
    let (session, case, _) = live_case(&app, "dual_page", 3).await;
    let (rita, rita_cookie) = signed_in(&app, "rita@example.test").await;
    let (sam, sam_cookie) = signed_in(&app, "sam@example.test").await;
    let live = app.live_key.clone();
    let on = app.send("PATCH", "/settings/retention", Some(&live), &[], Some(&json!({"dual_review": true}))).await;
    assert_eq!(on.status, 200, "{}", on.body);

    let csrf = request(&app, "GET", "/dashboard/cases", &rita_cookie, None).await.csrf();
    let first =
        request(&app, "POST", &format!("/dashboard/cases/{case}/approve"), &rita_cookie, Some(&[("csrf", &csrf)]))
            .await;
    assert_eq!(first.status, 303, "{}", first.text);
    let c = live_case_json(&app, &case).await;
    assert_eq!(
        (c["status"].as_str(), c["recommendation"]["reviewer_id"].as_str()),
        (Some("pending_second_review"), Some(rita.as_str())),
        "{c}"
    );

    // The same reviewer again: the case page with the refusal, as a 409.
    let again =
        request(&app, "POST", &format!("/dashboard/cases/{case}/approve"), &rita_cookie, Some(&[("csrf", &csrf)]))
            .await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.header("content-type").starts_with("text/html"));
    assert!(again.text.contains("different reviewer"), "{}", again.text);
    assert!(again.text.contains("id=\"recommendation\""), "the page shows the first review");

    let sam_csrf = request(&app, "GET", "/dashboard/cases", &sam_cookie, None).await.csrf();
    let second =
        request(&app, "POST", &format!("/dashboard/cases/{case}/approve"), &sam_cookie, Some(&[("csrf", &sam_csrf)]))
            .await;
    assert_eq!(second.status, 303, "{}", second.text);
    let c = live_case_json(&app, &case).await;
    assert_eq!((c["status"].as_str(), c["decided_by"].as_str()), (Some("approved"), Some(sam.as_str())), "{c}");
    let s = app.send("GET", &format!("/sessions/{session}"), Some(&live), &[], None).await.body;
    assert_eq!(s["status"], "completed", "{s}");
}

#[actix_web::test]
async fn a_document_is_served_decrypted_with_no_store_only_for_a_case_of_this_environment() {
    let app = spawn_app().await;
    let (_, case, front) = live_case(&app, "doc_case", 4).await;
    let (_, cookie) = signed_in(&app, "rita@example.test").await;
    let doc = request(&app, "GET", &format!("/dashboard/cases/{case}/documents/id_front"), &cookie, None).await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    assert_eq!(doc.header("content-type"), "image/png");
    assert_eq!(doc.header("cache-control"), "no-store");
    assert_eq!(doc.header("x-content-type-options"), "nosniff");
    assert_eq!(doc.body, front, "the bytes uploaded");

    // A document the session lacks, an unknown case, a malformed id: 404.
    for path in [
        format!("/dashboard/cases/{case}/documents/id_back"),
        "/dashboard/cases/case_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C/documents/id_front".to_string(),
        "/dashboard/cases/not-a-case/documents/id_front".to_string(),
        format!("/dashboard/cases/{case}/documents/..%2Fsecret"),
    ] {
        let r = request(&app, "GET", &path, &cookie, None).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(r.header("cache-control"), "no-store", "{path}");
    }
    // The dashboard shows one environment at a time: in sandbox, the live case is someone else's.
    let csrf = request(&app, "GET", "/dashboard/cases", &cookie, None).await.csrf();
    let switched =
        request(&app, "POST", "/dashboard/environment", &cookie, Some(&[("csrf", &csrf), ("environment", "sandbox")]))
            .await;
    assert_eq!(switched.status, 303);
    let sandbox = format!("{cookie}; vk_dashboard_env=sandbox");
    let r = request(&app, "GET", &format!("/dashboard/cases/{case}/documents/id_front"), &sandbox, None).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(request(&app, "GET", &format!("/dashboard/cases/{case}"), &sandbox, None).await.status, 404);
    // A sandbox demo case has no session: its page still renders, without documents.
    let demo = app.post("/cases/demo", json!({})).await;
    assert_eq!(demo.status, 201, "{}", demo.body);
    let demo = demo.body["id"].as_str().unwrap().to_string();
    let page = request(&app, "GET", &format!("/dashboard/cases/{demo}"), &sandbox, None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("none (demo case)") && page.text.contains("No document images"), "{}", page.text);
    let r = request(&app, "GET", &format!("/dashboard/cases/{demo}/documents/id_front"), &sandbox, None).await;
    assert_eq!(r.status, 404);
    let queue = request(&app, "GET", "/dashboard/cases", &sandbox, None).await.text;
    assert!(queue.contains(&demo) && queue.contains("demo case"), "{queue}");
    assert!(!queue.contains(&case), "the live case is not in the sandbox queue");
}

#[actix_web::test]
async fn a_failed_check_is_overridden_and_data_corrected_from_the_case_page() {
    let app = spawn_app().await;
    let (session, case, _) = live_case(&app, "fix_case", 5).await;
    let (rita, cookie) = signed_in(&app, "rita@example.test").await;
    let page = request(&app, "GET", &format!("/dashboard/cases/{case}"), &cookie, None).await;
    let html = page.text.clone();
    assert!(html.contains("data-check=\"face_match\"") && html.contains("no face-match provider"), "{html}");
    assert!(html.contains("action=\"/dashboard/cases/") && html.contains("/override\""), "an override form");
    let csrf = page.csrf();
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let (app, cookie, case, csrf) = (&app, cookie.clone(), case.clone(), csrf.clone());
        async move {
            let mut f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            f.push(("csrf", &csrf));
            request(app, "POST", &format!("/dashboard/cases/{case}/{path}"), &cookie, Some(&f)).await
        }
    };

    // A correction with an impossible date is refused on the page (422); a good one re-seals the identity.
    let bad = post("pii", vec![("date_of_birth", "1976-02-30".into())]).await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    assert!(bad.text.contains("date_of_birth"), "{}", bad.text);
    let fixed =
        post("pii", vec![("last_name", "Hopper-Murray".into()), ("reason", "OCR dropped the second name".into())])
            .await;
    assert_eq!(fixed.status, 303, "{}", fixed.text);
    let live = app.live_key.clone();
    let identity = app.send("GET", "/identities/fix_case", Some(&live), &[], None).await.body;
    assert_eq!(identity["extracted_data"]["last_name"], "Hopper-Murray", "{identity}");
    let shown = request(&app, "GET", &format!("/dashboard/cases/{case}?done=corrected"), &cookie, None).await.text;
    assert!(shown.contains("Hopper-Murray") && shown.contains("corrected"), "{shown}");

    // Overriding the face match without a reason is refused; with one, the case continues to approval.
    let no_reason = post("override", vec![("check", "face_match".into())]).await;
    assert_eq!(no_reason.status, 422, "{}", no_reason.text);
    let ok = post("override", vec![("check", "face_match".into()), ("reason", "Checked on a video call".into())]).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    assert_eq!(ok.header("location"), format!("/dashboard/cases/{case}?done=overridden"));
    let c = live_case_json(&app, &case).await;
    assert_eq!((c["status"].as_str(), c["decided_by"].as_str()), (Some("approved"), Some(rita.as_str())), "{c}");
    assert_eq!(c["overrides"][0]["reviewer_id"], rita.as_str(), "{c}");
    let s = app.send("GET", &format!("/sessions/{session}"), Some(&live), &[], None).await.body;
    assert_eq!(s["status"], "completed", "{s}");
    let events = app.send("GET", &format!("/events?resource_id={case}&limit=100"), Some(&live), &[], None).await.body;
    for action in ["case.pii_corrected", "case.check_overridden", "case.approved"] {
        assert!(
            events["data"].as_array().unwrap().iter().any(|e| e["type"] == action && is_actor(&e["actor"], &rita)),
            "{action} by {rita}: {events}"
        );
    }
    // A decided case takes no more posts: the refusal is shown on the page.
    let late = post("notes", vec![("body", "after the fact".into())]).await;
    assert_eq!(late.status, 303, "notes stay possible on a decided case: {}", late.text);
    let again = post("approve", vec![]).await;
    assert_eq!(again.status, 409, "{}", again.text);
}

const OFAC_SAMPLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/watchman/internal/ofactest/testdata");

#[actix_web::test]
async fn a_screening_hit_is_dismissed_with_a_reason_from_the_case_page() {
    let app = spawn_app().await;
    let live = app.live_key.clone();
    let dir = std::path::Path::new(OFAC_SAMPLE);
    let file = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let boundary = "----idv-dashboard-boundary-41";
    let mut body =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nofac\r\n").into_bytes();
    for (part, name) in [("file", "sdn.csv"), ("add_file", "add.csv"), ("alt_file", "alt.csv")] {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n")
                .into_bytes(),
        );
        body.extend(file(name));
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").into_bytes());
    let ct = format!("multipart/form-data; boundary={boundary}");
    let imported = app.send_raw("POST", &app.url("/watchlists/import"), Some(&live), Some((&ct, body))).await;
    assert_eq!(imported.status, 201, "{}", imported.body);

    // A listed person (OFAC sample entry 48603) in a live session goes to review with the hit.
    let s = json!({"external_ref": "aml-listed", "first_name": "Dmitry", "last_name": "Khoroshev",
                   "date_of_birth": "1993-04-17", "checks": ["document_ocr", "watchlist_screening"]});
    let s = app.send("POST", "/sessions", Some(&live), &[], Some(&s)).await;
    let id = s.body["id"].as_str().unwrap().to_string();
    let up = app
        .upload(
            &format!("/sessions/{id}/documents"),
            Some(&live),
            &[("document_type", "id_front")],
            Some(("image/png", &png(7))),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.body);
    assert_eq!(app.send("POST", &format!("/sessions/{id}/submit"), Some(&live), &[], None).await.status, 202);
    let mut case = String::new();
    for _ in 0..200 {
        let b = app.send("GET", &format!("/sessions/{id}"), Some(&live), &[], None).await.body;
        if let Some(c) = b["case_id"].as_str() {
            case = c.to_string();
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(!case.is_empty(), "the listed person's session went to review");

    let (_, cookie) = signed_in(&app, "rita@example.test").await;
    let page = request(&app, "GET", &format!("/dashboard/cases/{case}"), &cookie, None).await;
    let html = page.text.clone();
    let hit = regex::Regex::new(r#"name="hit_id" value="(hit_[0-9A-Z]+)""#).unwrap();
    let hit_id = hit.captures(&html).unwrap_or_else(|| panic!("a dismiss form: {html}"))[1].to_string();
    let check = regex::Regex::new(r#"name="check_id" value="(schk_[0-9A-Z]+)""#).unwrap();
    let check_id = check.captures(&html).expect("the hit's check")[1].to_string();
    assert!(html.contains("class=\"explanation\""), "the hit's explanation is shown");
    let csrf = page.csrf();

    let path = format!("/dashboard/cases/{case}/dismiss");
    let no_reason =
        request(&app, "POST", &path, &cookie, Some(&[("csrf", &csrf), ("check_id", &check_id), ("hit_id", &hit_id)]))
            .await;
    assert_eq!(no_reason.status, 422, "{}", no_reason.text);
    let reason = "Different person: another birth place";
    let fields = [("csrf", csrf.as_str()), ("check_id", &check_id), ("hit_id", &hit_id), ("reason", reason)];
    let ok = request(&app, "POST", &path, &cookie, Some(&fields)).await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    let c = app.send("GET", &format!("/checks/{check_id}"), Some(&live), &[], None).await.body;
    let h = c["hits"].as_array().unwrap().iter().find(|h| h["id"] == hit_id.as_str()).expect("the hit").clone();
    assert_eq!((h["is_dismissed"].as_bool(), h["dismissed_reason"].as_str()), (Some(true), Some(reason)), "{c}");
    let after = request(&app, "GET", &format!("/dashboard/cases/{case}?done=dismissed"), &cookie, None).await.text;
    assert!(after.contains("Hit dismissed.") && after.contains(reason), "{after}");
}

#[actix_web::test]
async fn the_queue_colours_each_case_by_its_time_in_review() {
    let clock = std::sync::Arc::new(idv::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let clocked = crate::helpers::spawn_app_with_clock(clock.clone()).await;
    let app = &clocked.app;
    let mut cases = Vec::new();
    // Each case is followed by the hours that pass before the next one.
    for (i, hours) in [(0, 20), (1, 5), (2, 0)] {
        let s = app.post("/sessions", json!({"external_ref": format!("sla_{i}")})).await;
        let id = s.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            app.post(&format!("/sessions/{id}/simulate"), json!({"action": "require-review"})).await.status,
            200
        );
        cases.push(app.get(&format!("/sessions/{id}")).await.body["case_id"].as_str().unwrap().to_string());
        clock.advance(time::Duration::hours(hours));
    }
    // In review for 25 h, 5 h and 0 h now.
    let (_, cookie) = signed_in(app, "rita@example.test").await;
    let sandbox = format!("{cookie}; vk_dashboard_env=sandbox");
    let queue = request(app, "GET", "/dashboard/cases?tab=all", &sandbox, None).await;
    assert_eq!(queue.status, 200, "{}", queue.text);
    let html = queue.text;
    let band = |case: &str| {
        let row = &html[html.find(&format!("<tr data-case=\"{case}\"")).expect("a row")..];
        let row = &row[..row.find("</tr>").unwrap()];
        regex::Regex::new(r#"data-sla="([a-z]+)""#).unwrap().captures(row).expect("an SLA badge")[1].to_string()
    };
    assert_eq!([band(&cases[0]), band(&cases[1]), band(&cases[2])], ["red", "yellow", "green"]);
    assert!(html.contains("class=\"badge sla-red\""), "the colour comes from the stylesheet's SLA classes");
}

#[actix_web::test]
async fn an_escalated_case_offers_its_decision_to_senior_reviewers_only() {
    let app = spawn_app().await;
    let (_, case, _) = live_case(&app, "escalated_page", 5).await;
    let (_, rita_cookie) = signed_in(&app, "rita@example.test").await;
    let (sam, sam_cookie) = signed_in(&app, "sam@example.test").await;
    let live = app.live_key.clone();
    let promoted =
        app.send("PATCH", &format!("/users/{sam}"), Some(&live), &[], Some(&json!({"role": "senior_reviewer"}))).await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);

    let csrf = request(&app, "GET", "/dashboard/cases", &rita_cookie, None).await.csrf();
    let escalate = [("csrf", csrf.as_str()), ("reason", "a possible list match")];
    let r = request(&app, "POST", &format!("/dashboard/cases/{case}/escalate"), &rita_cookie, Some(&escalate)).await;
    assert_eq!(r.status, 303, "{}", r.text);

    // A reviewer sees why there is nothing to decide; a refused post changes nothing.
    let page = request(&app, "GET", &format!("/dashboard/cases/{case}"), &rita_cookie, None).await.text;
    assert!(page.contains("id=\"decision-refused\"") && !page.contains("id=\"approve\""), "{page}");
    let refused =
        request(&app, "POST", &format!("/dashboard/cases/{case}/approve"), &rita_cookie, Some(&[("csrf", &csrf)]))
            .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(live_case_json(&app, &case).await["status"], "escalated");

    // The senior reviewer gets the buttons and decides.
    let page = request(&app, "GET", &format!("/dashboard/cases/{case}"), &sam_cookie, None).await;
    assert!(page.text.contains("id=\"approve\""), "{}", page.text);
    let approved = request(
        &app,
        "POST",
        &format!("/dashboard/cases/{case}/approve"),
        &sam_cookie,
        Some(&[("csrf", &page.csrf())]),
    )
    .await;
    assert_eq!(approved.status, 303, "{}", approved.text);
    assert_eq!(live_case_json(&app, &case).await["status"], "approved");
}
