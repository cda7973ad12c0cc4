//! Org users (reviewer accounts): the admin API, `idv users create`, dashboard login with its session
//! cookie, CSRF, lockout with backoff on the manual clock, TOTP, refresh, logout, disabled users, sealed
//! PII at rest and views rebuilt by replay.

use crate::helpers::*;
use crate::helpers::{browser_request as request, sign_in as login, FormPage as Page};
use serde_json::{json, Value};
use std::sync::Arc;

const PASSWORD: &str = "correct horse battery staple";

async fn create_user(app: &TestApp, email: &str, role: &str) -> String {
    let r =
        app.post("/users", json!({"email": email, "name": "Rita Reviewer", "role": role, "password": PASSWORD})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// A browser-like client that does not follow redirects, so the login answer itself is seen.
fn session_cookie(page: &Page) -> String {
    assert_eq!(page.status, 303, "{}", page.text);
    format!("vk_org_token={}", page.cookie_value("vk_org_token").expect("session cookie"))
}

#[actix_web::test]
async fn users_are_created_read_updated_and_disabled_through_the_api() {
    let app = spawn_app().await;
    let r = app.post("/users", json!({"email": "Ann.Admin@Example.com", "name": "Ann Admin", "role": "admin"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("orguser_"), "{id}");
    assert_eq!(r.body["email"], "Ann.Admin@Example.com");
    assert_eq!(r.body["name"], "Ann Admin");
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["status"], "active");
    assert!(r.body["generated_password"].as_str().is_some_and(|p| p.len() >= 20));
    assert!(r.body.get("password_hash").is_none() && !r.raw.windows(7).any(|w| w == b"argon2i"));
    // The same email in another case is the same person.
    let dup = app.post("/users", json!({"email": "ann.admin@example.com", "name": "Other", "role": "reviewer"})).await;
    assert_eq!(assert_error(&dup, 409), "conflict");
    let short = app
        .post("/users", json!({"email": "b@example.com", "name": "B", "role": "reviewer", "password": "short"}))
        .await;
    assert_error(&short, 422);
    let bad_role = app.post("/users", json!({"email": "b@example.com", "name": "B", "role": "owner"})).await;
    assert_error(&bad_role, 422);
    let reviewer = create_user(&app, "rita@example.com", "reviewer").await;

    let list = app.get("/users").await;
    assert_eq!(list.body["pagination"]["total"], 2, "{}", list.body);
    let patched = app.patch(&format!("/users/{reviewer}"), json!({"role": "senior_reviewer", "name": "Rita S."})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["role"], "senior_reviewer");
    assert_eq!(app.get(&format!("/users/{reviewer}")).await.body["name"], "Rita S.");
    let disabled = app.post(&format!("/users/{reviewer}/disable"), json!({})).await;
    assert_eq!(disabled.body["status"], "disabled");
    assert_error(&app.patch(&format!("/users/{reviewer}"), json!({"role": "admin"})).await, 409);
    assert_error(&app.get("/users/orguser_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C").await, 404);

    let weak = app.key_with_scopes(&["sessions:read"]).await;
    let refused = app.send("GET", "/users", Some(&weak), &[], None).await;
    assert_eq!(assert_error(&refused, 403), "insufficient_scope");
}

#[actix_web::test]
async fn the_cli_creates_a_user_that_can_log_in() {
    let app = spawn_app().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_idv"))
        .args([
            "users",
            "create",
            "--email",
            "cli@example.com",
            "--name",
            "Cli User",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .env("IDV_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    let id = text.trim().to_string();
    assert!(id.starts_with("orguser_"), "{text}");
    assert_eq!(app.get(&format!("/users/{id}")).await.body["email"], "cli@example.com");
    session_cookie(&login(&app, "cli@example.com", PASSWORD, None).await);

    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_idv"))
        .args(["users", "create", "--email", "gen@example.com", "--name", "Gen User"])
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .env("IDV_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&generated.stdout).to_string();
    let password = text.lines().find_map(|l| l.strip_prefix("password: ")).expect("a generated password");
    session_cookie(&login(&app, "gen@example.com", password, None).await);
}

#[actix_web::test]
async fn login_sets_a_strict_cookie_and_refresh_and_logout_need_the_sessions_csrf_token() {
    let app = spawn_app().await;
    create_user(&app, "rita@example.com", "reviewer").await;
    let unauthenticated = request(&app, "GET", "/dashboard/account", "", None, &[]).await;
    assert_eq!(unauthenticated.status, 303);
    assert_eq!(unauthenticated.headers.get("location").unwrap(), "/dashboard/login");
    let login_page = request(&app, "GET", "/dashboard/login", "", None, &[]).await;
    assert!(login_page
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));

    // The login form without its double-submit token is refused.
    let forged = request(
        &app,
        "POST",
        "/dashboard/login",
        "",
        Some(&[("email", "rita@example.com"), ("password", PASSWORD)]),
        &[],
    )
    .await;
    assert_eq!(forged.status, 403);

    let ok = login(&app, "RITA@example.com", PASSWORD, None).await;
    let set = ok.cookie("vk_org_token").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let cookie = session_cookie(&ok);
    let home = request(&app, "GET", "/dashboard/account", &cookie, None, &[]).await;
    assert_eq!(home.status, 200);
    assert!(home.text.contains("rita@example.com") && home.text.contains("reviewer"), "{}", home.text);
    let csrf = home.csrf();

    let no_csrf = request(&app, "POST", "/api/v1/auth/refresh", &cookie, None, &[]).await;
    assert_eq!(no_csrf.status, 403);
    let refreshed = request(&app, "POST", "/api/v1/auth/refresh", &cookie, None, &[("X-CSRF-Token", &csrf)]).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let body: Value = serde_json::from_str(&refreshed.text).unwrap();
    assert_eq!(body["refreshed"], true);
    assert_eq!(request(&app, "POST", "/api/v1/auth/refresh", "", None, &[]).await.status, 401);

    let wrong = request(&app, "POST", "/dashboard/logout", &cookie, Some(&[("csrf", "00ff")]), &[]).await;
    assert_eq!(wrong.status, 403);
    assert_eq!(request(&app, "GET", "/dashboard/account", &cookie, None, &[]).await.status, 200);
    let out = request(&app, "POST", "/dashboard/logout", &cookie, Some(&[("csrf", &csrf)]), &[]).await;
    assert_eq!(out.status, 303);
    assert!(out.cookie("vk_org_token").unwrap().contains("Max-Age=0"));
    assert_eq!(request(&app, "GET", "/dashboard/account", &cookie, None, &[]).await.status, 303);
    let after = request(&app, "POST", "/api/v1/auth/refresh", &cookie, None, &[("X-CSRF-Token", &csrf)]).await;
    assert_eq!(after.status, 401);
}

#[actix_web::test]
async fn failed_logins_look_alike_and_lock_the_account_with_a_doubling_backoff() {
    let clock = Arc::new(idv::clock::ManualClock::new(time::OffsetDateTime::now_utc()));
    let clocked = spawn_app_with_clock(clock.clone()).await;
    let app = &clocked.app;
    create_user(app, "rita@example.com", "reviewer").await;
    let unknown = login(app, "nobody@example.com", PASSWORD, None).await;
    let wrong = login(app, "rita@example.com", "wrong password!!", None).await;
    assert_eq!((unknown.status, wrong.status), (401, 401));
    let message = |p: &Page| p.text.split("role=\"alert\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert_eq!(message(&unknown), message(&wrong));
    for _ in 0..4 {
        assert_eq!(login(app, "rita@example.com", "wrong password!!", None).await.status, 401);
    }
    // Five failures: locked for a minute, even with the right password, with the same answer.
    let locked = login(app, "rita@example.com", PASSWORD, None).await;
    assert_eq!(locked.status, 401);
    assert_eq!(message(&locked), message(&wrong));
    clock.advance(time::Duration::seconds(61));
    for _ in 0..5 {
        assert_eq!(login(app, "rita@example.com", "wrong password!!", None).await.status, 401);
    }
    // The second lock lasts two minutes.
    clock.advance(time::Duration::seconds(61));
    assert_eq!(login(app, "rita@example.com", PASSWORD, None).await.status, 401);
    clock.advance(time::Duration::seconds(60));
    session_cookie(&login(app, "rita@example.com", PASSWORD, None).await);
    // A success resets the count: one more failure does not lock.
    assert_eq!(login(app, "rita@example.com", "wrong password!!", None).await.status, 401);
    session_cookie(&login(app, "rita@example.com", PASSWORD, None).await);
}

fn totp_now(secret_b32: &str) -> String {
    let secret = idv::commands::users::base32_decode(secret_b32).unwrap();
    let step = time::OffsetDateTime::now_utc().unix_timestamp() / 30;
    format!("{:06}", idv::commands::users::totp_code(&secret, step as u64))
}

#[actix_web::test]
async fn totp_enrolled_users_need_a_code_and_disabled_users_cannot_log_in() {
    let app = spawn_app().await;
    let id = create_user(&app, "rita@example.com", "reviewer").await;
    let enrolled = app.post(&format!("/users/{id}/totp"), json!({})).await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let uri = enrolled.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/idv%3Arita%40example.com?secret="), "{uri}");
    let secret = enrolled.body["secret"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("/users/{id}")).await.body["totp_enabled"], true);
    assert_error(&app.post(&format!("/users/{id}/totp"), json!({})).await, 409);

    assert_eq!(login(&app, "rita@example.com", PASSWORD, None).await.status, 401);
    assert_eq!(login(&app, "rita@example.com", PASSWORD, Some("000000")).await.status, 401);
    let cookie = session_cookie(&login(&app, "rita@example.com", PASSWORD, Some(&totp_now(&secret))).await);

    assert_eq!(app.post(&format!("/users/{id}/disable"), json!({})).await.status, 200);
    // Disabling ends the open session and refuses new logins.
    assert_eq!(request(&app, "GET", "/dashboard/account", &cookie, None, &[]).await.status, 303);
    assert_eq!(login(&app, "rita@example.com", PASSWORD, Some(&totp_now(&secret))).await.status, 401);
}

fn file_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    bytes
}

#[actix_web::test]
async fn user_pii_and_passwords_stay_sealed_and_replay_rebuilds_the_user_views() {
    let app = spawn_app().await;
    let r = app
        .post("/users", json!({"email": "quillon.vasquez@example.org", "name": "Quillon Vasquez", "role": "admin", "password": "Zanzibar-Lantern-0042"}))
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let cookie = session_cookie(&login(&app, "quillon.vasquez@example.org", "Zanzibar-Lantern-0042", None).await);
    assert_eq!(app.patch(&format!("/users/{id}"), json!({"name": "Quillon Vasquez-Ortiz"})).await.status, 200);
    assert_eq!(login(&app, "quillon.vasquez@example.org", "wrong password!!", None).await.status, 401);
    let home = request(&app, "GET", "/dashboard/account", &cookie, None, &[]).await;
    let csrf = home.csrf();
    assert_eq!(request(&app, "POST", "/dashboard/logout", &cookie, Some(&[("csrf", &csrf)]), &[]).await.status, 303);

    let bytes = file_bytes(&app);
    assert!(bytes.windows(id.len()).any(|w| w == id.as_bytes()), "the scan must see the file's contents");
    for plain in ["quillon", "Quillon", "Vasquez", "Zanzibar-Lantern-0042"] {
        assert!(!bytes.windows(plain.len()).any(|w| w == plain.as_bytes()), "{plain} found in the database file");
    }
    let token = cookie.trim_start_matches("vk_org_token=");
    assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "the session token is stored");

    let (master, _) = idv::crypto::MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    let ring = idv::crypto::Keyring::new(&master);
    let scratch = app.data_dir.path().join("scratch.db");
    idv::store::replay::check(&app.db_path(), &scratch, &ring).expect("replay rebuilds identical user views");
    // The check compared every user view with its rebuild; the live one holds what the log says.
    let conn =
        rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let sessions: i64 = conn
        .query_row("SELECT COUNT(*) FROM org_user_sessions WHERE user_id = ?1 AND ended_at IS NOT NULL", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(sessions, 1);
}

#[actix_web::test]
async fn the_first_start_of_a_served_instance_makes_one_admin_who_can_sign_in() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = idv::config::Config::new(data_dir.path().to_path_buf());
    config.bind = "127.0.0.1:0".into();
    config.workers = 1;
    config.bootstrap_admin = true;
    let first = idv::startup::Application::build(config).await.expect("app builds");
    let admin = first.first_admin.as_ref().expect("an admin on first start");
    assert_eq!(admin.email, idv::startup::FIRST_ADMIN_EMAIL);
    let password = admin.password.to_string();
    assert!(password.len() >= 16, "a generated password");
    let base = format!("http://127.0.0.1:{}", first.port());
    let (sandbox_key, live_key) = (first.first_keys[0].secret.clone(), first.first_keys[1].secret.clone());
    let verifyhq_key = first.first_keys[2].secret.clone();
    let server = first.into_server();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let client = awc::Client::builder().timeout(std::time::Duration::from_secs(30)).finish();
    let app = TestApp { base, sandbox_key, live_key, verifyhq_key, data_dir, client };

    let signed_in = login(&app, idv::startup::FIRST_ADMIN_EMAIL, &password, None).await;
    let cookie = session_cookie(&signed_in);
    let account = request(&app, "GET", "/dashboard/account", &cookie, None, &[]).await;
    assert_eq!(account.status, 200);
    assert!(account.text.contains("<code>admin</code>"), "{}", account.text);
    let users = app.live_get("/users").await;
    assert_eq!(users.body["data"].as_array().map(Vec::len), Some(1), "{}", users.body);
    assert!(!std::fs::read(app.db_path()).unwrap().windows(password.len()).any(|w| w == password.as_bytes()));
    handle.stop(true).await;

    // A second start of the same database makes no other admin and prints no password.
    let mut again = idv::config::Config::new(app.data_dir.path().to_path_buf());
    again.bind = "127.0.0.1:0".into();
    again.bootstrap_admin = true;
    let second = idv::startup::Application::build(again).await.expect("app builds again");
    assert!(second.first_admin.is_none() && second.first_keys.is_empty());
}
