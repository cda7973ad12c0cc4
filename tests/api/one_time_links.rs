//! One-time capture links (spec §1.1.11, §3.7): opening a link (GET) consumes nothing; the person's first
//! action consumes it and binds it to their browser with the capture cookie; anyone else, and any revoked
//! or expired link, gets 410 Gone (a human page, and the error shape on the JSON API).

use crate::helpers::*;
use idv::clock::ManualClock;
use serde_json::{json, Value};
use std::sync::Arc;
use time::OffsetDateTime;

const GONE_TEXT: &str = "This link was already used or has been revoked";

fn token_of(capture_url: &Value) -> String {
    let url = capture_url.as_str().unwrap_or_else(|| panic!("no capture_url: {capture_url}"));
    url.rsplit('/').next().unwrap().to_string()
}

/// A sandbox session and a one-time link for it: (session id, link id, link token).
async fn session_with_link(app: &TestApp) -> (String, String, String) {
    let s = app.post("/sessions", json!({})).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    let link = app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({"expires_in_minutes": 60})).await;
    assert_eq!(link.status, 200, "{}", link.body);
    (id, link.body["id"].as_str().unwrap().to_string(), token_of(&link.body["capture_url"]))
}

async fn link_status(app: &TestApp, session: &str, link: &str) -> Value {
    let s = app.get(&format!("/sessions/{session}")).await;
    assert_eq!(s.status, 200, "{}", s.body);
    s.body["one_time_links"]
        .as_array()
        .unwrap_or_else(|| panic!("one_time_links: {}", s.body))
        .iter()
        .find(|l| l["id"] == link)
        .unwrap_or_else(|| panic!("link {link} listed: {}", s.body))
        .clone()
}

fn is_capture_page(r: &Resp) -> bool {
    r.status == 200
        && r.header("content-type").unwrap_or_default().starts_with("text/html")
        && !String::from_utf8_lossy(&r.raw).contains(GONE_TEXT)
}

fn assert_gone_page(r: &Resp) {
    assert_eq!(r.status, 410, "{}", String::from_utf8_lossy(&r.raw));
    assert!(r.header("content-type").unwrap_or_default().starts_with("text/html"), "{:?}", r.headers);
    assert!(String::from_utf8_lossy(&r.raw).contains(GONE_TEXT), "{}", String::from_utf8_lossy(&r.raw));
}

fn assert_gone_json(r: &Resp) {
    assert_eq!(assert_error(r, 410), "gone");
}

/// The `name=value` pair of the capture cookie a response sets, and the whole Set-Cookie header.
fn capture_cookie(r: &Resp) -> Option<(String, String)> {
    r.headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("idv_capture="))
        .map(|v| (v.split(';').next().unwrap().to_string(), v.to_string()))
}

#[actix_web::test]
async fn opening_a_link_twice_consumes_nothing() {
    let app = spawn_app().await;
    let (id, link, t) = session_with_link(&app).await;

    for _ in 0..2 {
        let page = app.send_with_cookie("GET", &format!("/verify/{t}"), None, None).await;
        assert!(is_capture_page(&page), "{} {}", page.status, String::from_utf8_lossy(&page.raw));
        assert!(capture_cookie(&page).is_none(), "a GET sets no cookie: {:?}", page.headers);
        let state = app.send_with_cookie("GET", &format!("/verify/{t}/session"), None, None).await;
        assert_eq!(state.status, 200, "{}", state.body);
    }
    let l = link_status(&app, &id, &link).await;
    assert_eq!(l["status"], "active", "{l}");
    assert_eq!(l["consumed_at"], Value::Null, "{l}");
    assert_eq!(app.get(&format!("/sessions/{id}")).await.body["status"], "pending", "opening starts nothing");

    // Still usable by the person after any number of previews.
    let r = app.send_with_cookie("POST", &format!("/verify/{t}/consent"), None, Some(&json!({"accepted": true}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[actix_web::test]
async fn the_first_action_consumes_the_link_and_binds_it_to_that_browser() {
    let app = spawn_app().await;
    let (id, link, t) = session_with_link(&app).await;
    let consent = json!({"accepted": true});

    // The first action consumes the link and sets the capture cookie.
    let first = app.send_with_cookie("POST", &format!("/verify/{t}/consent"), None, Some(&consent)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["consented"], true);
    let (cookie, header) = capture_cookie(&first).unwrap_or_else(|| panic!("capture cookie set: {:?}", first.headers));
    assert!(cookie.len() > "idv_capture=".len() + 20, "{header}");
    for attribute in ["HttpOnly", "SameSite=Strict", &format!("Path=/verify/{t}")] {
        assert!(header.split("; ").any(|a| a == attribute), "{attribute} in {header}");
    }
    assert!(!header.contains("Secure"), "plain http public URL: {header}");
    let l = link_status(&app, &id, &link).await;
    assert_eq!(l["status"], "consumed", "{l}");
    assert!(l["consumed_at"].is_string(), "{l}");
    assert_eq!(app.get(&format!("/sessions/{id}")).await.body["status"], "capturing");

    // The same browser keeps working: reloads, reads and further steps.
    let page = app.send_with_cookie("GET", &format!("/verify/{t}"), Some(&cookie), None).await;
    assert!(is_capture_page(&page), "{} {}", page.status, String::from_utf8_lossy(&page.raw));
    let state = app.send_with_cookie("GET", &format!("/verify/{t}/session"), Some(&cookie), None).await;
    assert_eq!(state.status, 200, "{}", state.body);
    assert_eq!(state.body["consented"], true);
    let doc = json!({"document_type": "passport"});
    let r = app.send_with_cookie("POST", &format!("/verify/{t}/document-type"), Some(&cookie), Some(&doc)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(capture_cookie(&r).is_none(), "the cookie is set once: {:?}", r.headers);
    let cookies = format!("theme=dark; {cookie}; other=1");
    let r = app.send_with_cookie("GET", &format!("/verify/{t}/session"), Some(&cookies), None).await;
    assert_eq!(r.status, 200, "the cookie is found among others: {}", r.body);

    // Anyone else: no cookie, or a wrong one.
    for other in [None, Some("idv_capture=cb_notthebrowserthatconsumedthislink0000000")] {
        assert_gone_page(&app.send_with_cookie("GET", &format!("/verify/{t}"), other, None).await);
        assert_gone_json(&app.send_with_cookie("GET", &format!("/verify/{t}/session"), other, None).await);
        assert_gone_json(&app.send_with_cookie("POST", &format!("/verify/{t}/consent"), other, Some(&consent)).await);
        assert_gone_json(&app.send_with_cookie("POST", &format!("/verify/{t}/complete"), other, None).await);
    }
    assert_eq!(link_status(&app, &id, &link).await["status"], "consumed");

    // Opened again from a webmail page, the browser sends no SameSite=Strict cookie: the gone page loads
    // itself once more (a same-site navigation, which carries the cookie), and only once.
    let from_webmail = app.send_with_cookie("GET", &format!("/verify/{t}"), None, None).await;
    assert!(String::from_utf8_lossy(&from_webmail.raw).contains(&format!("url=/verify/{t}?retry=1")));
    let retried = app.send_with_cookie("GET", &format!("/verify/{t}?retry=1"), Some(&cookie), None).await;
    assert!(is_capture_page(&retried), "{}", retried.status);
    let stranger = app.send_with_cookie("GET", &format!("/verify/{t}?retry=1"), None, None).await;
    assert_gone_page(&stranger);
    assert!(!String::from_utf8_lossy(&stranger.raw).contains("refresh"), "no loop");

    // The consuming browser finishes.
    let r = app
        .send_with_cookie(
            "POST",
            &format!("/verify/{t}/sandbox-outcome"),
            Some(&cookie),
            Some(&json!({"outcome": "approve"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result_status"], "approved");
}

#[actix_web::test]
async fn a_refused_first_action_still_consumes_the_link_and_sets_the_cookie() {
    let app = spawn_app().await;
    let (id, link, t) = session_with_link(&app).await;
    let r =
        app.send_with_cookie("POST", &format!("/verify/{t}/consent"), None, Some(&json!({"accepted": false}))).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    let (cookie, _) = capture_cookie(&r).unwrap_or_else(|| panic!("capture cookie set: {:?}", r.headers));
    assert_eq!(link_status(&app, &id, &link).await["status"], "consumed");
    let r = app
        .send_with_cookie("POST", &format!("/verify/{t}/consent"), Some(&cookie), Some(&json!({"accepted": true})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_gone_json(&app.send_with_cookie("GET", &format!("/verify/{t}/session"), None, None).await);
}

#[actix_web::test]
async fn a_revoked_link_is_gone_even_for_the_browser_that_used_it() {
    let app = spawn_app().await;
    let (id, first, t1) = session_with_link(&app).await;
    let r =
        app.send_with_cookie("POST", &format!("/verify/{t1}/consent"), None, Some(&json!({"accepted": true}))).await;
    let (cookie, _) = capture_cookie(&r).expect("capture cookie");

    let second = app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({})).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let t2 = token_of(&second.body["capture_url"]);
    let (l1, l2) =
        (link_status(&app, &id, &first).await, link_status(&app, &id, second.body["id"].as_str().unwrap()).await);
    assert_eq!((l1["status"].as_str(), l2["status"].as_str()), (Some("revoked"), Some("active")));

    for c in [None, Some(cookie.as_str())] {
        assert_gone_page(&app.send_with_cookie("GET", &format!("/verify/{t1}"), c, None).await);
        assert_gone_json(&app.send_with_cookie("GET", &format!("/verify/{t1}/session"), c, None).await);
        let r = app
            .send_with_cookie(
                "POST",
                &format!("/verify/{t1}/document-type"),
                c,
                Some(&json!({"document_type": "passport"})),
            )
            .await;
        assert_gone_json(&r);
    }

    // An unused link revoked by a newer one is gone too.
    let third = app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({})).await;
    assert_eq!(link_status(&app, &id, second.body["id"].as_str().unwrap()).await["status"], "revoked");
    assert_gone_page(&app.send_with_cookie("GET", &format!("/verify/{t2}"), None, None).await);
    let r =
        app.send_with_cookie("POST", &format!("/verify/{t2}/consent"), None, Some(&json!({"accepted": true}))).await;
    assert_gone_json(&r);
    let t3 = token_of(&third.body["capture_url"]);
    assert!(is_capture_page(&app.send_with_cookie("GET", &format!("/verify/{t3}"), None, None).await));
}

#[actix_web::test]
async fn an_expired_link_is_gone() {
    let clocked = spawn_app_with_clock(Arc::new(ManualClock::new(OffsetDateTime::now_utc()))).await;
    let app = &clocked.app;
    let s = app.post("/sessions", json!({})).await;
    let id = s.body["id"].as_str().unwrap().to_string();
    let link = app.post(&format!("/sessions/{id}/generate-one-time-link"), json!({"expires_in_minutes": 5})).await;
    let t = token_of(&link.body["capture_url"]);
    let link_id = link.body["id"].as_str().unwrap().to_string();

    clocked.clock.advance(time::Duration::minutes(6));
    assert_gone_page(&app.send_with_cookie("GET", &format!("/verify/{t}"), None, None).await);
    assert_gone_json(&app.send_with_cookie("GET", &format!("/verify/{t}/session"), None, None).await);
    let r = app.send_with_cookie("POST", &format!("/verify/{t}/consent"), None, Some(&json!({"accepted": true}))).await;
    assert_gone_json(&r);
    assert_eq!(clocked.sweep().await, 1);
    assert_eq!(link_status(app, &id, &link_id).await["status"], "expired");
}

#[actix_web::test]
async fn the_capture_cookie_is_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(|c| c.public_url = Some("https://verify.example.com".into())).await;
    let (_, _, t) = session_with_link(&app).await;
    let r = app.send_with_cookie("POST", &format!("/verify/{t}/consent"), None, Some(&json!({"accepted": true}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, header) = capture_cookie(&r).expect("capture cookie");
    assert!(header.split("; ").any(|a| a == "Secure"), "{header}");
}
