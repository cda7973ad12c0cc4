//! Test harness: the real application on 127.0.0.1:0 with a fresh data folder per test, its two
//! first-start keys, and small request helpers. Tests are black-box: HTTP in, JSON out.

use idv::config::Config;
use idv::startup::Application;
use serde_json::Value;
use std::path::PathBuf;

pub struct TestApp {
    pub base: String,
    pub sandbox_key: String,
    pub live_key: String,
    /// The first-start VerifyHQ client (`vhq_test_`, sandbox, every permission).
    pub verifyhq_key: String,
    pub data_dir: tempfile::TempDir,
    pub client: awc::Client,
}

pub struct Resp {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(data_dir.path().to_path_buf());
    config.bind = "127.0.0.1:0".into();
    config.workers = 1;
    config.read_pool_size = 4;
    config.rate_limit_rpm = 100_000;
    tweak(&mut config);
    let app = Application::build(config).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let sandbox_key = app.first_keys[0].secret.clone();
    let live_key = app.first_keys[1].secret.clone();
    let verifyhq_key = app.first_keys[2].secret.clone();
    actix_web::rt::spawn(app.run());
    let client = awc::Client::builder().timeout(std::time::Duration::from_secs(30)).finish();
    TestApp { base, sandbox_key, live_key, verifyhq_key, data_dir, client }
}

impl TestApp {
    /// The result of a submitted session, asked for once with `Prefer: wait` so the answer comes when the
    /// session leaves processing.
    pub async fn decided_result(&self, key: &str, session_id: &str) -> Value {
        let path = format!("/sessions/{session_id}/result");
        let r = self.send("GET", &path, Some(key), &[("Prefer", "wait=30")], None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.path().join("idv.db")
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/')
            && !path.starts_with("/api/")
            && !path.starts_with("/v1/")
            && !path.starts_with("/healthz")
            && !path.starts_with("/readyz")
            && !path.starts_with("/metrics")
        {
            format!("{}/api/v1{}", self.base, path)
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// Sends a request with the given key and headers; `body` None sends no body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(k) = key {
            req = req.insert_header(("X-API-Key", k));
        }
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = match body {
            Some(b) => req.insert_header(("Content-Type", "application/json")).send_body(b.to_string()).await,
            None => req.send().await,
        }
        .expect("request sent");
        let raw = res.body().limit(64 * 1024 * 1024).await.expect("body").to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp { status: res.status().as_u16(), headers: res.headers().clone(), body, raw }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send("GET", path, Some(&self.sandbox_key.clone()), &[], None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send("POST", path, Some(&self.sandbox_key.clone()), &[], Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send("PATCH", path, Some(&self.sandbox_key.clone()), &[], Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send("DELETE", path, Some(&self.sandbox_key.clone()), &[], None).await
    }

    pub async fn live_get(&self, path: &str) -> Resp {
        self.send("GET", path, Some(&self.live_key.clone()), &[], None).await
    }

    /// Creates an identity in the sandbox and returns its id.
    pub async fn create_identity(&self, body: Value) -> String {
        let r = self.post("/identities", body).await;
        assert_eq!(r.status, 201, "create identity: {}", r.body);
        r.body["id"].as_str().expect("id").to_string()
    }

    /// Creates a key with the given scopes in the sandbox and returns its secret.
    pub async fn key_with_scopes(&self, scopes: &[&str]) -> String {
        let r = self.post("/api-keys", serde_json::json!({ "label": "scoped", "scopes": scopes })).await;
        assert_eq!(r.status, 201, "create key: {}", r.body);
        r.body["secret"].as_str().expect("secret").to_string()
    }
}

/// Asserts the spec's error shape and returns the error code.
pub fn assert_error(r: &Resp, status: u16) -> String {
    assert_eq!(r.status, status, "expected {status}, got {}: {}", r.status, r.body);
    assert_eq!(r.body["status_code"], status, "status_code field: {}", r.body);
    assert!(r.body["detail"].is_string(), "detail present: {}", r.body);
    r.body["error"].as_str().expect("error code").to_string()
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions: an app on a manual clock (with its writer and read pool, to drive the sweeper), absolute-URL
// requests (capture pages, signed downloads) and multipart uploads.
// ---------------------------------------------------------------------------------------------------------------

/// An app whose clock only moves when the test says so, plus the server's own writer and read pool.
pub struct ClockedApp {
    pub app: TestApp,
    pub clock: std::sync::Arc<idv::clock::ManualClock>,
    pub writer: idv::commands::writer::Writer,
    pub read: idv::store::ReadPool,
    pub processing: idv::processing::Processing,
    pub cpu: idv::blocking::CpuPool,
}

impl ClockedApp {
    /// One sweeper pass at the manual clock's time, on the server's own writer.
    pub async fn sweep(&self) -> usize {
        idv::sweeper::run_once(&self.processing, self.clock.as_ref()).await.expect("sweeper pass")
    }
}

/// Like `spawn_app`, on `clock`. The background sweeper is slowed to once an hour (real time) so that only
/// explicit `sweep()` calls move sessions on.
pub async fn spawn_app_with_clock(clock: std::sync::Arc<idv::clock::ManualClock>) -> ClockedApp {
    spawn_app_with_clock_and(clock, |_| {}).await
}

/// Like `spawn_app_with_clock`, with the config adjusted by `tweak` first.
pub async fn spawn_app_with_clock_and(
    clock: std::sync::Arc<idv::clock::ManualClock>,
    tweak: impl FnOnce(&mut Config),
) -> ClockedApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(data_dir.path().to_path_buf());
    config.bind = "127.0.0.1:0".into();
    config.workers = 1;
    config.read_pool_size = 4;
    config.rate_limit_rpm = 100_000;
    config.sweep_interval = std::time::Duration::from_secs(3600);
    tweak(&mut config);
    let app = Application::build_with_clock(config, clock.clone()).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let sandbox_key = app.first_keys[0].secret.clone();
    let live_key = app.first_keys[1].secret.clone();
    let verifyhq_key = app.first_keys[2].secret.clone();
    let (writer, read, processing, cpu) =
        (app.writer.clone(), app.read.clone(), app.processing.clone(), app.cpu.clone());
    actix_web::rt::spawn(app.run());
    let client = awc::Client::builder().timeout(std::time::Duration::from_secs(30)).finish();
    ClockedApp {
        app: TestApp { base, sandbox_key, live_key, verifyhq_key, data_dir, client },
        clock,
        writer,
        read,
        processing,
        cpu,
    }
}

/// Imports sanctioned people `(id, name, birth date)` into the live environment's watchlists, as an
/// OpenSanctions file.
pub async fn import_people(app: &TestApp, people: &[(&str, &str, &str)]) {
    let lines: String = people
        .iter()
        .map(|(id, name, born)| {
            format!(
                "{}\n",
                serde_json::json!({"id": id, "schema": "Person", "caption": name,
                       "properties": {"name": [name], "birthDate": [born]}, "datasets": ["test"]})
            )
        })
        .collect();
    let (ct, body) = multipart(&[("source", "opensanctions")], Some(("application/json", lines.as_bytes())));
    let r = app.send_raw("POST", &app.url("/watchlists/import"), Some(&app.live_key.clone()), Some((&ct, body))).await;
    assert!(r.status == 201 || r.status == 200, "{}", r.body);
}

/// A multipart/form-data body: text fields, then an optional `file` part. Returns (content type, bytes).
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----idv-test-boundary-7d1f0c2a9b";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some((content_type, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl TestApp {
    /// Sends to an absolute URL (or a path on the server root, such as `/verify/...`), with raw body bytes.
    pub async fn send_raw(&self, method: &str, url: &str, key: Option<&str>, body: Option<(&str, Vec<u8>)>) -> Resp {
        let url = if url.starts_with('/') { format!("{}{}", self.base, url) } else { url.to_string() };
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, url);
        if let Some(k) = key {
            req = req.insert_header(("X-API-Key", k));
        }
        let mut res = match body {
            Some((content_type, bytes)) => req.insert_header(("Content-Type", content_type)).send_body(bytes).await,
            None => req.send().await,
        }
        .expect("request sent");
        let raw = res.body().limit(64 * 1024 * 1024).await.expect("body").to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp { status: res.status().as_u16(), headers: res.headers().clone(), body, raw }
    }

    /// Sends JSON to an absolute URL or a server-root path (the capture endpoints take no API key).
    pub async fn send_json_raw(&self, method: &str, url: &str, body: &Value) -> Resp {
        self.send_raw(method, url, None, Some(("application/json", body.to_string().into_bytes()))).await
    }

    /// Uploads a multipart form to an absolute URL, an /api/v1 path (with `key`) or a /verify path.
    pub async fn upload(
        &self,
        path: &str,
        key: Option<&str>,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
    ) -> Resp {
        let (content_type, bytes) = multipart(fields, file);
        let url = if path.starts_with("/verify/") { format!("{}{}", self.base, path) } else { self.url(path) };
        self.send_raw("POST", &url, key, Some((&content_type, bytes))).await
    }
}

impl TestApp {
    /// Sends to a server-root path (such as `/verify/...`) as a browser would: with an optional Cookie
    /// header and an optional JSON body.
    pub async fn send_with_cookie(&self, method: &str, path: &str, cookie: Option<&str>, body: Option<&Value>) -> Resp {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(c) = cookie {
            req = req.insert_header(("Cookie", c));
        }
        let mut res = match body {
            Some(b) => req.insert_header(("Content-Type", "application/json")).send_body(b.to_string()).await,
            None => req.send().await,
        }
        .expect("request sent");
        let raw = res.body().limit(64 * 1024 * 1024).await.expect("body").to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Resp { status: res.status().as_u16(), headers: res.headers().clone(), body, raw }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Dashboard pages as a browser meets them: cookies and form posts, redirects not followed.
// ---------------------------------------------------------------------------------------------------------------

/// A dashboard answer: status, headers, and the body as bytes and as text.
pub struct FormPage {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Vec<u8>,
    pub text: String,
}

impl FormPage {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }
    pub fn is_html(&self) -> bool {
        self.header("content-type").starts_with("text/html")
    }
    pub fn cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
    }
    /// The whole Set-Cookie line of `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().into_iter().find(|c| c.starts_with(&format!("{name}=")))
    }
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        self.cookie(name).map(|c| c.split(';').next().unwrap_or_default()[name.len() + 1..].to_string())
    }
    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> String {
        let re = regex::Regex::new(r#"name="csrf" value="([0-9a-f]+)""#).unwrap();
        re.captures(&self.text).expect("a csrf field")[1].to_string()
    }
    /// The secret shown once on a "created" page.
    pub fn secret(&self) -> String {
        let re = regex::Regex::new(r#"<code id="secret" class="secret">([^<]+)</code>"#).unwrap();
        re.captures(&self.text).unwrap_or_else(|| panic!("a secret in: {}", self.text))[1].to_string()
    }
}

/// A request as a browser sends it: the Cookie header, a form body, extra headers; redirects not followed.
pub async fn browser_request(
    app: &TestApp,
    method: &str,
    path: &str,
    cookie: &str,
    form: Option<&[(&str, &str)]>,
    headers: &[(&str, &str)],
) -> FormPage {
    let client = awc::Client::builder().disable_redirects().timeout(std::time::Duration::from_secs(30)).finish();
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client.request(method, format!("{}{path}", app.base));
    if !cookie.is_empty() {
        req = req.insert_header(("Cookie", cookie.to_string()));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut res = match form {
        Some(f) => {
            let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(f).finish();
            req.insert_header(("Content-Type", "application/x-www-form-urlencoded")).send_body(body).await
        }
        None => req.send().await,
    }
    .expect("request sent");
    let body = res.body().limit(16 * 1024 * 1024).await.expect("body").to_vec();
    let text = String::from_utf8_lossy(&body).to_string();
    FormPage { status: res.status().as_u16(), headers: res.headers().clone(), body, text }
}

/// Opens the login page and posts its form (with its double-submit CSRF token); the answer to the post.
pub async fn sign_in(app: &TestApp, email: &str, password: &str, totp: Option<&str>) -> FormPage {
    let form_page = browser_request(app, "GET", "/dashboard/login", "", None, &[]).await;
    assert_eq!(form_page.status, 200);
    let csrf = form_page.cookie_value("vk_login_csrf").expect("login csrf cookie");
    assert_eq!(form_page.csrf(), csrf);
    let mut fields = vec![("csrf", csrf.as_str()), ("email", email), ("password", password)];
    if let Some(code) = totp {
        fields.push(("totp", code));
    }
    browser_request(app, "POST", "/dashboard/login", &format!("vk_login_csrf={csrf}"), Some(&fields), &[]).await
}

/// Closed until `open`: jobs handed to a pool or the writer wait on it, to hold them busy.
#[derive(Default)]
pub struct Gate {
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Gate {
    pub fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// A command that waits on `gate` inside the writer, spawned; `running` is set once it runs.
pub fn gated_command(
    writer: &idv::commands::writer::Writer,
    gate: &std::sync::Arc<Gate>,
    running: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
) -> actix_web::rt::task::JoinHandle<Result<(), idv::error::AppError>> {
    let (writer, gate) = (writer.clone(), gate.clone());
    actix_web::rt::spawn(async move {
        writer
            .execute(move |_| {
                if let Some(running) = running {
                    running.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                gate.wait();
                Ok(())
            })
            .await
    })
}

/// Holds the writer with a command waiting on `gate`: it is running (off the queue) when this returns, so
/// every command sent after it waits in the queue until the gate opens.
pub async fn hold_writer(
    writer: &idv::commands::writer::Writer,
    gate: &std::sync::Arc<Gate>,
) -> actix_web::rt::task::JoinHandle<Result<(), idv::error::AppError>> {
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let held = gated_command(writer, gate, Some(running.clone()));
    while !running.load(std::sync::atomic::Ordering::SeqCst) {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    held
}
