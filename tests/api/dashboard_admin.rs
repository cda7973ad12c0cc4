//! The dashboard's directory and admin pages, black-box: admins only on /dashboard/admin and its posts,
//! CSRF on every post, users and API keys made through the forms work against the API, dual review set on
//! the page shows in the settings API, identity search through the blind indexes, the webhook delivery log,
//! the audit log naming the admin, refusals as HTML pages, and no searched PII in the database file.

use crate::helpers::*;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

type Page = FormPage;

async fn request(app: &TestApp, method: &str, path: &str, cookie: &str, form: Option<&[(&str, &str)]>) -> Page {
    browser_request(app, method, path, cookie, form, &[]).await
}

async fn create_user(app: &TestApp, email: &str, role: &str) -> String {
    let r = app.post("/users", json!({"email": email, "name": "Dana Admin", "role": role, "password": PASSWORD})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// Logs in through the form; the session cookie, or None when refused.
async fn try_login(app: &TestApp, email: &str, password: &str) -> Option<String> {
    let res = sign_in(app, email, password, None).await;
    (res.status == 303).then(|| format!("vk_org_token={}", res.cookie_value("vk_org_token").expect("session cookie")))
}

async fn login(app: &TestApp, email: &str) -> String {
    try_login(app, email, PASSWORD).await.expect("login succeeds")
}

/// A signed-in admin: (cookie, csrf, user id).
async fn admin(app: &TestApp) -> (String, String, String) {
    let id = create_user(app, "dana.admin@example.com", "admin").await;
    let cookie = login(app, "dana.admin@example.com").await;
    let page = request(app, "GET", "/dashboard/admin", &cookie, None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    (cookie, page.csrf(), id)
}

async fn live_settings(app: &TestApp) -> serde_json::Value {
    let r = app.live_get("/settings/retention").await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[actix_web::test]
async fn a_reviewer_gets_403_on_the_admin_page_and_its_posts_and_sees_no_admin_link() {
    let app = spawn_app().await;
    create_user(&app, "rita@example.com", "senior_reviewer").await;
    let cookie = login(&app, "rita@example.com").await;
    let events = request(&app, "GET", "/dashboard/events", &cookie, None).await;
    assert_eq!(events.status, 200);
    assert!(!events.text.contains("href=\"/dashboard/admin\""), "the Admin link is shown to a reviewer");
    let csrf = events.csrf();

    let page = request(&app, "GET", "/dashboard/admin", &cookie, None).await;
    assert_eq!(page.status, 403);
    assert!(page.is_html(), "{}", page.header("content-type"));
    for (path, fields) in [
        ("/dashboard/admin/users", vec![("email", "x@example.com"), ("name", "X Y"), ("role", "admin")]),
        ("/dashboard/admin/review", vec![("dual_review", "on")]),
        ("/dashboard/admin/api-keys", vec![("environment", "live"), ("scopes", "identities:read")]),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let res = request(&app, "POST", path, &cookie, Some(&form)).await;
        assert_eq!(res.status, 403, "{path}: {}", res.text);
        assert!(res.is_html(), "{path} answers HTML");
    }
    assert_eq!(live_settings(&app).await["dual_review"], false);
    assert!(try_login(&app, "x@example.com", PASSWORD).await.is_none());
    assert_eq!(app.live_get("/api-keys").await.body["pagination"]["total"], 1, "no key was made");
}

#[actix_web::test]
async fn an_admin_creates_users_through_the_form_who_can_log_in_then_changes_a_role_and_disables_one() {
    let app = spawn_app().await;
    let (cookie, csrf, _) = admin(&app).await;

    let set = [
        ("csrf", csrf.as_str()),
        ("email", "new.reviewer@example.com"),
        ("name", "Nora Newton"),
        ("role", "reviewer"),
        ("password", PASSWORD),
    ];
    let res = request(&app, "POST", "/dashboard/admin/users", &cookie, Some(&set)).await;
    assert_eq!(res.status, 303, "{}", res.text);
    assert!(res.header("location").starts_with("/dashboard/admin?done=user_created"), "{}", res.header("location"));
    let nora = login(&app, "new.reviewer@example.com").await;
    assert_eq!(request(&app, "GET", "/dashboard/admin", &nora, None).await.status, 403, "a reviewer, as chosen");

    // Without a password one is generated and shown once.
    let gen =
        [("csrf", csrf.as_str()), ("email", "gen@example.com"), ("name", "Gene Rated"), ("role", "senior_reviewer")];
    let res = request(&app, "POST", "/dashboard/admin/users", &cookie, Some(&gen)).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let password = res.secret();
    assert!(try_login(&app, "gen@example.com", &password).await.is_some(), "the shown password works");
    let listed = request(&app, "GET", "/dashboard/admin", &cookie, None).await;
    assert!(listed.text.contains("gen@example.com") && !listed.text.contains(&password), "shown once only");

    // A duplicate is refused on the page, as HTML with its status.
    let res = request(&app, "POST", "/dashboard/admin/users", &cookie, Some(&set)).await;
    assert_eq!(res.status, 409);
    assert!(res.is_html() && res.text.contains("already exists"), "{}", res.text);
    let bad = [("csrf", csrf.as_str()), ("email", "not-an-email"), ("name", "X"), ("role", "reviewer")];
    let res = request(&app, "POST", "/dashboard/admin/users", &cookie, Some(&bad)).await;
    assert_eq!(res.status, 422);
    assert!(res.is_html() && res.text.contains("email"), "{}", res.text);

    let users = app.get("/users").await.body;
    let id_of = |email: &str| {
        users["data"].as_array().unwrap().iter().find(|u| u["email"] == email).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let nora_id = id_of("new.reviewer@example.com");
    let role = [("csrf", csrf.as_str()), ("role", "admin")];
    let res = request(&app, "POST", &format!("/dashboard/admin/users/{nora_id}/role"), &cookie, Some(&role)).await;
    assert_eq!(res.status, 303, "{}", res.text);
    assert_eq!(app.get(&format!("/users/{nora_id}")).await.body["role"], "admin");
    assert_eq!(request(&app, "GET", "/dashboard/admin", &nora, None).await.status, 200, "the new role applies");

    let gen_id = id_of("gen@example.com");
    let res =
        request(&app, "POST", &format!("/dashboard/admin/users/{gen_id}/disable"), &cookie, Some(&[("csrf", &csrf)]))
            .await;
    assert_eq!(res.status, 303, "{}", res.text);
    assert_eq!(app.get(&format!("/users/{gen_id}")).await.body["status"], "disabled");
    assert!(try_login(&app, "gen@example.com", &password).await.is_none(), "a disabled user cannot log in");
}

#[actix_web::test]
async fn an_api_key_made_on_the_page_authenticates_until_it_is_expired_there() {
    let app = spawn_app().await;
    let (cookie, csrf, _) = admin(&app).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("label", "Back office"),
        ("environment", "live"),
        ("scopes", "identities:read"),
        ("scopes", "sessions:read"),
    ];
    let res = request(&app, "POST", "/dashboard/admin/api-keys", &cookie, Some(&form)).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let secret = res.secret();
    assert!(secret.starts_with("vk_live_"), "{secret}");
    let r = app.send("GET", "/identities", Some(&secret), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.send("GET", "/webhooks/endpoints", Some(&secret), &[], None).await.status,
        403,
        "only the chosen scopes"
    );

    let page = request(&app, "GET", "/dashboard/admin", &cookie, None).await;
    assert!(page.text.contains("Back office") && !page.text.contains(&secret), "listed without its secret");
    let keys = app.live_get("/api-keys").await.body;
    let key = keys["data"].as_array().unwrap().iter().find(|k| k["label"] == "Back office").expect("the key").clone();
    assert_eq!(key["scopes"], json!(["identities:read", "sessions:read"]));
    let id = key["id"].as_str().unwrap();
    let expire = [("csrf", csrf.as_str()), ("environment", "live")];
    let res = request(&app, "POST", &format!("/dashboard/admin/api-keys/{id}/expire"), &cookie, Some(&expire)).await;
    assert_eq!(res.status, 303, "{}", res.text);
    assert_eq!(app.send("GET", "/identities", Some(&secret), &[], None).await.status, 401);

    let none = [("csrf", csrf.as_str()), ("environment", "live")];
    let res = request(&app, "POST", "/dashboard/admin/api-keys", &cookie, Some(&none)).await;
    assert_eq!(res.status, 422, "a key needs a scope");
    assert!(res.is_html());
}

#[actix_web::test]
async fn dual_review_and_retention_set_on_the_page_show_in_the_settings_api() {
    let app = spawn_app().await;
    let (cookie, csrf, _) = admin(&app).await;
    assert_eq!(live_settings(&app).await["dual_review"], false);
    let on = [("csrf", csrf.as_str()), ("dual_review", "on")];
    let res = request(&app, "POST", "/dashboard/admin/review", &cookie, Some(&on)).await;
    assert_eq!(res.status, 303, "{}", res.text);
    assert_eq!(live_settings(&app).await["dual_review"], true);
    assert_eq!(app.get("/settings/retention").await.body["dual_review"], false, "the other environment is untouched");
    let page = request(&app, "GET", "/dashboard/admin?done=review_saved", &cookie, None).await;
    assert!(
        page.text.contains("Review settings saved.") && page.text.contains("name=\"dual_review\" value=\"on\" checked")
    );

    let res = request(&app, "POST", "/dashboard/admin/review", &cookie, Some(&[("csrf", &csrf)])).await;
    assert_eq!(res.status, 303);
    assert_eq!(live_settings(&app).await["dual_review"], false);

    let retention = [
        ("csrf", csrf.as_str()),
        ("sensitive_data_retention_days", "30"),
        ("data_retention_days", ""),
        ("image_url_expiry_seconds", "600"),
    ];
    let res = request(&app, "POST", "/dashboard/admin/retention", &cookie, Some(&retention)).await;
    assert_eq!(res.status, 303, "{}", res.text);
    let s = live_settings(&app).await;
    assert_eq!(
        (s["sensitive_data_retention_days"].clone(), s["data_retention_days"].clone()),
        (json!(30), json!(null))
    );
    assert_eq!(
        (s["image_url_expiry_seconds"].clone(), s["auto_redact_on_retention_expiry"].clone()),
        (json!(600), json!(false))
    );
    let bad = [("csrf", csrf.as_str()), ("image_url_expiry_seconds", "5")];
    let res = request(&app, "POST", "/dashboard/admin/retention", &cookie, Some(&bad)).await;
    assert_eq!(res.status, 422);
    assert!(res.is_html() && res.text.contains("image_url_expiry_seconds"), "{}", res.text);
}

#[actix_web::test]
async fn posts_without_the_sessions_csrf_token_are_refused_with_403() {
    let app = spawn_app().await;
    let (cookie, _, id) = admin(&app).await;
    for (path, fields) in [
        (
            "/dashboard/admin/users".to_string(),
            vec![("email", "x@example.com"), ("name", "X Y"), ("role", "admin"), ("password", PASSWORD)],
        ),
        ("/dashboard/admin/review".to_string(), vec![("dual_review", "on")]),
        ("/dashboard/admin/retention".to_string(), vec![("image_url_expiry_seconds", "600")]),
        ("/dashboard/admin/api-keys".to_string(), vec![("environment", "live"), ("scopes", "identities:read")]),
        (format!("/dashboard/admin/users/{id}/role"), vec![("role", "reviewer")]),
        ("/dashboard/identities/search".to_string(), vec![("email", "a@example.com")]),
    ] {
        for csrf in [None, Some("00ff00ff")] {
            let mut form = fields.clone();
            if let Some(c) = csrf {
                form.push(("csrf", c));
            }
            let res = request(&app, "POST", &path, &cookie, Some(&form)).await;
            assert_eq!(res.status, 403, "{path} with {csrf:?}: {}", res.text);
            assert!(res.is_html(), "{path} answers HTML");
        }
    }
    assert_eq!(live_settings(&app).await["dual_review"], false);
    assert!(try_login(&app, "x@example.com", PASSWORD).await.is_none());
    // Signed out, a post goes to the login page.
    let res = request(&app, "POST", "/dashboard/admin/review", "", Some(&[("csrf", "00")])).await;
    assert_eq!((res.status, res.header("location").as_str()), (303, "/dashboard/login"));
}

#[actix_web::test]
async fn identity_search_finds_by_blind_index_and_the_identity_page_opens_its_data_and_no_pii_is_stored_plain() {
    let app = spawn_app().await;
    create_user(&app, "rita@example.com", "reviewer").await;
    let cookie = login(&app, "rita@example.com").await;
    let body = json!({"external_ref": "cust-7781", "email": "quintessa.marplewood@example.org", "first_name": "Quintessa",
        "last_name": "Marplewood", "date_of_birth": "1984-02-29", "phone": "+447700900123"});
    let r = app.send("POST", "/identities", Some(&app.live_key.clone()), &[], Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let other = app
        .send(
            "POST",
            "/identities",
            Some(&app.live_key.clone()),
            &[],
            Some(&json!({"external_ref": "cust-0002", "email": "someone.else@example.org"})),
        )
        .await;
    let other_id = other.body["id"].as_str().unwrap().to_string();

    let page = request(&app, "GET", "/dashboard/identities", &cookie, None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&id) && page.text.contains(&other_id), "the newest identities are listed");
    let csrf = page.csrf();
    let search = |fields: Vec<(&'static str, &'static str)>| {
        let app = &app;
        let (cookie, csrf) = (cookie.clone(), csrf.clone());
        async move {
            let mut form = vec![("csrf", csrf.as_str())];
            form.extend(fields);
            request(app, "POST", "/dashboard/identities/search", &cookie, Some(&form)).await
        }
    };
    let found = search(vec![("email", " Quintessa.Marplewood@example.org ")]).await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert!(found.text.contains(&id) && !found.text.contains(&other_id), "{}", found.text);
    assert!(found.text.contains("1 match"));
    let missed = search(vec![("email", "quintessa.marplewood@example.com")]).await;
    assert_eq!(missed.status, 200);
    assert!(!missed.text.contains(&id) && missed.text.contains("0 matches"), "a wrong email finds nothing");
    let by_name =
        search(vec![("first_name", "quintessa"), ("last_name", "MARPLEWOOD"), ("date_of_birth", "1984-02-29")]).await;
    assert!(by_name.text.contains(&id), "name + date of birth");
    let by_phone = search(vec![("phone", "+447700900123")]).await;
    assert!(by_phone.text.contains(&id) && !by_phone.text.contains(&other_id));
    let by_ref = search(vec![("external_ref", "cust-7781")]).await;
    assert!(by_ref.text.contains(&id) && !by_ref.text.contains(&other_id));
    let half = search(vec![("first_name", "Quintessa")]).await;
    assert_eq!(half.status, 422, "name without date of birth");
    assert!(half.is_html() && half.text.contains("together"));

    let page = request(&app, "GET", &format!("/dashboard/identities/{id}"), &cookie, None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    for shown in ["Quintessa", "Marplewood", "quintessa.marplewood@example.org", "1984-02-29", "identity.created"] {
        assert!(page.text.contains(shown), "{shown} on the identity page");
    }
    assert_eq!(
        request(&app, "GET", "/dashboard/identities/idn_01HZZZZZZZZZZZZZZZZZZZZZZZ", &cookie, None).await.status,
        404
    );
    let sandbox = format!("{cookie}; vk_dashboard_env=sandbox");
    assert_eq!(
        request(&app, "GET", &format!("/dashboard/identities/{id}"), &sandbox, None).await.status,
        404,
        "live data stays out of sandbox"
    );

    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    assert!(bytes.windows(id.len()).any(|w| w == id.as_bytes()), "the scan must see the file's contents");
    for plain in ["Quintessa", "quintessa", "Marplewood", "MARPLEWOOD", "7700900123", "1984-02-29"] {
        assert!(!bytes.windows(plain.len()).any(|w| w == plain.as_bytes()), "{plain} found in the database file");
    }
}

#[actix_web::test]
async fn the_audit_log_page_names_the_admin_as_the_actor_of_its_changes() {
    let app = spawn_app().await;
    let (cookie, csrf, admin_id) = admin(&app).await;
    let set = [
        ("csrf", csrf.as_str()),
        ("email", "audited@example.com"),
        ("name", "Audi Ted"),
        ("role", "reviewer"),
        ("password", PASSWORD),
    ];
    assert_eq!(request(&app, "POST", "/dashboard/admin/users", &cookie, Some(&set)).await.status, 303);
    assert_eq!(
        request(&app, "POST", "/dashboard/admin/review", &cookie, Some(&[("csrf", &csrf), ("dual_review", "on")]))
            .await
            .status,
        303
    );
    let users = app.get("/users").await.body;
    let new_id = users["data"].as_array().unwrap().iter().find(|u| u["email"] == "audited@example.com").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let page = request(&app, "GET", "/dashboard/events", &cookie, None).await;
    assert_eq!(page.status, 200);
    let rows: Vec<&str> = page.text.split("<tr>").filter(|r| r.contains(&admin_id)).collect();
    assert!(rows.iter().any(|r| r.contains(&new_id)), "the user creation, by the admin: {}", page.text);
    assert!(rows.iter().any(|r| r.contains("settings")), "the settings change, by the admin");
    assert!(!page.text.contains("audited@example.com") && !page.text.contains("Audi Ted"), "no PII in the log");

    let filtered = request(&app, "GET", &format!("/dashboard/events?resource_id={new_id}"), &cookie, None).await;
    assert!(filtered.text.contains(&new_id) && !filtered.text.contains("settings_live"), "{}", filtered.text);
    let bad = request(&app, "GET", "/dashboard/events?created_after=yesterday", &cookie, None).await;
    assert_eq!(bad.status, 422);
    assert!(bad.is_html());
}

#[actix_web::test]
async fn the_webhook_log_lists_an_endpoints_deliveries_in_its_environment() {
    let app = spawn_app().await;
    create_user(&app, "rita@example.com", "reviewer").await;
    let cookie = format!("{}; vk_dashboard_env=sandbox", login(&app, "rita@example.com").await);
    let r = app.post("/webhooks/endpoints", json!({"url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let endpoint = r.body["id"].as_str().unwrap().to_string();
    let t = app.post(&format!("/webhooks/endpoints/{endpoint}/test"), json!({})).await;
    assert_eq!(t.status, 202, "{}", t.body);
    let delivery = t.body["delivery_id"].as_str().unwrap().to_string();

    let page = request(&app, "GET", "/dashboard/webhooks", &cookie, None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(&endpoint) && page.text.contains(&format!("data-delivery=\"{delivery}\"")),
        "{}",
        page.text
    );
    assert!(page.text.contains("http://127.0.0.1:9/hook"));
    let filtered =
        request(&app, "GET", &format!("/dashboard/webhooks?endpoint={endpoint}&status=delivered"), &cookie, None).await;
    assert!(!filtered.text.contains(&format!("data-delivery=\"{delivery}\"")), "nothing reached port 9");
    let live = request(&app, "GET", "/dashboard/webhooks", &cookie.replace("sandbox", "live"), None).await;
    assert!(!live.text.contains(&endpoint), "sandbox endpoints stay out of live");
}

#[actix_web::test]
async fn the_identity_page_lists_its_sessions_with_links_to_their_cases() {
    let app = spawn_app().await;
    create_user(&app, "rita@example.com", "reviewer").await;
    let cookie = format!("{}; vk_dashboard_env=sandbox", login(&app, "rita@example.com").await);
    let s = app
        .post(
            "/sessions",
            json!({"external_ref": "cust-case-1", "first_name": "Peregrine", "last_name": "Oakhart",
            "date_of_birth": "1979-11-02", "email": "peregrine.oakhart@example.org"}),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    let session_id = s.body["id"].as_str().unwrap().to_string();
    let r = app.post(&format!("/sessions/{session_id}/simulate"), json!({"action": "require-review"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let session = app.get(&format!("/sessions/{session_id}")).await.body;
    let case_id = session["case_id"].as_str().expect("a case").to_string();
    let identity_id = session["identity_id"].as_str().expect("an identity").to_string();

    let page = request(&app, "GET", &format!("/dashboard/identities/{identity_id}"), &cookie, None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(&session_id), "the session is listed");
    assert!(page.text.contains(&format!("href=\"/dashboard/cases/{case_id}\"")), "linked to its case: {}", page.text);
    assert!(page.text.contains("<h1>Peregrine Oakhart</h1>"), "titled by the opened name");
    let by_ref = request(&app, "GET", "/dashboard/identities/cust-case-1", &cookie, None).await;
    assert!(by_ref.status == 200 && by_ref.text.contains(&identity_id), "an external ref opens it too");
}
