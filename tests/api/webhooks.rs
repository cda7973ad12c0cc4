//! Webhooks end to end: the endpoints API (CRUD, scopes, secrets, rotation, clone, event types, test
//! event, egress refusals), and deliveries from the event log to a real local receiver that checks
//! every request with idv's verifiers and with the PyPI `standardwebhooks` library (plus an
//! independent Verifa check in Python); payload shape and the absence of PII; retries on an injected
//! clock, the circuit breaker, manual retry and the deliveries list; restarts before dispatch and in
//! the middle of a delivery. Needs `python3` with `pip install standardwebhooks` (`make test-deps`).

use crate::helpers::{assert_error, TestApp};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use idv::clock::{Clock, ManualClock};
use idv::config::Config;
use idv::startup::Application;
use idv::webhooks::signing::{verify_standard, verify_verifa, StandardHeaders, WebhookSecret};
use idv::webhooks::worker::{RunReport, Webhooks};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------------------------
// A real receiver
// ---------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub(crate) struct Got {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    fn event(&self) -> String {
        self.json()["event"].as_str().unwrap_or_default().to_string()
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
}

#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    Hang(Duration),
}

#[derive(Clone)]
pub(crate) struct Receiver {
    port: u16,
    inbox: Arc<Mutex<Vec<Got>>>,
    /// Answers for the next requests, in order; then 200.
    plan: Arc<Mutex<VecDeque<Answer>>>,
}

struct ReceiverState {
    inbox: Arc<Mutex<Vec<Got>>>,
    plan: Arc<Mutex<VecDeque<Answer>>>,
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<ReceiverState>) -> HttpResponse {
    let headers =
        req.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
    state.inbox.lock().expect("inbox").push(Got { headers, body: body.to_vec() });
    let answer = state.plan.lock().expect("plan").pop_front().unwrap_or(Answer::Status(200));
    match answer {
        Answer::Status(code) => HttpResponse::build(actix_web::http::StatusCode::from_u16(code).expect("status"))
            .body(format!("answered {code}")),
        Answer::Hang(d) => {
            actix_web::rt::time::sleep(d).await;
            HttpResponse::Ok().body("late")
        }
    }
}

pub(crate) async fn spawn_receiver() -> Receiver {
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let plan = Arc::new(Mutex::new(VecDeque::new()));
    let data = web::Data::new(ReceiverState { inbox: inbox.clone(), plan: plan.clone() });
    let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::post().to(receive)))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind receiver");
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    Receiver { port, inbox, plan }
}

impl Receiver {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn got(&self) -> Vec<Got> {
        self.inbox.lock().expect("inbox").clone()
    }

    fn answer(&self, answers: &[Answer]) {
        self.plan.lock().expect("plan").extend(answers.iter().copied());
    }

    /// Waits (real time) until `done` holds for what arrived.
    pub(crate) async fn wait_until(&self, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; got {:?}", events(&got));
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

pub(crate) fn events(got: &[Got]) -> Vec<String> {
    got.iter().map(Got::event).collect()
}

/// A URL nobody listens on: every attempt is refused at connect.
fn down_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/down")
}

// ---------------------------------------------------------------------------------------------------------------
// Verification: idv's functions and, independently, Python
// ---------------------------------------------------------------------------------------------------------------

/// Verifies both schemes with idv's verifiers at `now` and checks the delivery-id headers agree.
fn verify_with_idv(secret: &str, got: &Got, now: i64) {
    let s = WebhookSecret::parse(secret).expect("secret parses");
    let verifa = got.header("x-verifa-signature").expect("X-Verifa-Signature");
    assert!(verifa.starts_with("t=") && verifa.contains(",v1="), "{verifa}");
    verify_verifa(&s, verifa, &got.body, now, 300).unwrap_or_else(|e| panic!("Verifa signature: {e}"));
    let headers = StandardHeaders::from_lookup(|name| got.header(name));
    verify_standard(&s, headers, &got.body, now, 300).unwrap_or_else(|e| panic!("Standard Webhooks signature: {e}"));
    let id = got.header("x-verifa-delivery-id").expect("X-Verifa-Delivery-Id");
    assert!(id.starts_with("dlv_"), "{id}");
    assert_eq!(got.header("webhook-id"), Some(id));
    assert_eq!(got.header("content-type"), Some("application/json"));
}

const PY_VERIFIER: &str = r#"
import hashlib, hmac, json, sys, time
try:
    import standardwebhooks
except ImportError:
    sys.stderr.write("the PyPI package 'standardwebhooks' is not installed\n")
    sys.exit(3)
req = json.load(sys.stdin)
secret = req["secret"]
for d in req["deliveries"]:
    headers, body = d["headers"], d["body"]
    try:
        standardwebhooks.Webhook(secret).verify(body, headers)
    except Exception as e:
        sys.stderr.write("standardwebhooks: %r\n" % (e,))
        sys.exit(1)
    lower = {k.lower(): v for k, v in headers.items()}
    parts = dict(p.split("=", 1) for p in lower["x-verifa-signature"].split(","))
    t = int(parts["t"])
    want = hmac.new(secret.encode(), ("%d." % t).encode() + body.encode(), hashlib.sha256).hexdigest()
    if abs(time.time() - t) > 300 or not hmac.compare_digest(want, parts["v1"]):
        sys.stderr.write("verifa signature mismatch\n")
        sys.exit(2)
"#;

/// Verifies every delivery with the PyPI `standardwebhooks` library and a Python Verifa check written
/// from spec §1.11.3. Fails (never skips) when Python or the package is missing.
fn verify_with_python(secret: &str, got: &[Got]) {
    let deliveries: Vec<Value> = got
        .iter()
        .map(|g| {
            let headers: serde_json::Map<String, Value> =
                g.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            json!({ "headers": headers, "body": g.text() })
        })
        .collect();
    let input = json!({ "secret": secret, "deliveries": deliveries });
    let mut child = Command::new("python3")
        .args(["-c", PY_VERIFIER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); run `make test-deps`"));
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!("python3 lacks the verifier: run `pip install standardwebhooks` ({stderr})"),
        other => panic!("the Python verifiers rejected a delivery ({other:?}): {stderr}"),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Apps: on a given data folder, optionally on a manual clock, with the webhook worker at hand
// ---------------------------------------------------------------------------------------------------------------

struct Wh {
    app: TestApp,
    webhooks: Arc<Webhooks>,
    server: actix_web::dev::ServerHandle,
}

impl Wh {
    async fn run_once(&self) -> RunReport {
        self.webhooks.run_once().await.expect("webhook pass")
    }

    /// Stops the HTTP server and the webhook loops (attempts in flight are dropped, as in a crash).
    async fn stop(self) {
        self.webhooks.shutdown();
        self.server.stop(false).await;
    }
}

/// The app on `dir`. `keys` are the (sandbox, live) keys of an earlier app on the same folder.
async fn start_on(
    dir: &Path,
    clock: Option<Arc<ManualClock>>,
    keys: Option<(String, String)>,
    tweak: impl FnOnce(&mut Config),
) -> Wh {
    let mut config = Config::new(dir.to_path_buf());
    config.bind = "127.0.0.1:0".into();
    config.workers = 1;
    config.read_pool_size = 4;
    config.rate_limit_rpm = 100_000;
    config.sweep_interval = Duration::from_secs(3600);
    config.webhook_poll_interval = Some(Duration::from_millis(100));
    tweak(&mut config);
    let app = match clock {
        Some(clock) => Application::build_with_clock(config, clock).await,
        None => Application::build(config).await,
    }
    .expect("app builds");
    let (sandbox_key, live_key) = match keys {
        Some(k) => k,
        None => (app.first_keys[0].secret.clone(), app.first_keys[1].secret.clone()),
    };
    let verifyhq_key = app.first_keys.get(2).map(|k| k.secret.clone()).unwrap_or_default();
    let base = format!("http://127.0.0.1:{}", app.port());
    let webhooks = app.webhooks.clone();
    let server = app.into_server();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let client = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
    let app =
        TestApp { base, sandbox_key, live_key, verifyhq_key, data_dir: tempfile::tempdir().expect("temp dir"), client };
    Wh { app, webhooks, server: handle }
}

/// A fresh app with background loops (system clock); the folder lives as long as the returned guard.
async fn start(tweak: impl FnOnce(&mut Config)) -> (Wh, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let wh = start_on(dir.path(), None, None, tweak).await;
    (wh, dir)
}

/// A fresh app on a manual clock without background loops: only `run_once` moves webhooks.
async fn start_clocked() -> (Wh, Arc<ManualClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let wh = start_on(dir.path(), Some(clock.clone()), None, |c| c.webhook_poll_interval = None).await;
    (wh, clock, dir)
}

async fn create_endpoint(app: &TestApp, body: Value) -> Value {
    let r = app.post("/webhooks/endpoints", body).await;
    assert_eq!(r.status, 201, "create endpoint: {}", r.body);
    r.body
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn secret_of(v: &Value) -> String {
    v["secret"].as_str().expect("secret").to_string()
}

async fn deliveries(app: &TestApp, endpoint: &str, query: &str) -> Value {
    let r = app.get(&format!("/webhooks/endpoints/{endpoint}/deliveries{query}")).await;
    assert_eq!(r.status, 200, "deliveries: {}", r.body);
    r.body
}

/// Polls the deliveries list until every delivery of the endpoint is `delivered`.
async fn wait_all_delivered(app: &TestApp, endpoint: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = deliveries(app, endpoint, "").await;
        let data = list["data"].as_array().expect("data");
        if !data.is_empty() && data.iter().all(|d| d["status"] == "delivered") {
            return list;
        }
        assert!(Instant::now() < deadline, "not all delivered: {list}");
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The endpoints view rebuilt from the log equals the live one (and so do all other views).
fn assert_replay_matches(dir: &Path) {
    let (master, created) = idv::crypto::MasterKey::load_or_create(&dir.join("master.key")).expect("master key");
    assert!(!created);
    let ring = idv::crypto::Keyring::new(&master);
    idv::store::replay::check(&dir.join("idv.db"), &dir.join("scratch.db"), &ring).expect("replay equals live views");
}

fn ts(v: &Value) -> time::OffsetDateTime {
    idv::clock::parse(v.as_str().expect("timestamp")).expect("RFC 3339")
}

// ---------------------------------------------------------------------------------------------------------------
// The endpoints API
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn endpoints_crud_with_scopes_and_environments() {
    let (wh, _dir) = start(|_| {}).await;
    let app = &wh.app;

    let created = create_endpoint(
        app,
        json!({
            "url": "http://127.0.0.1:9/hooks", "label": "CRM", "description": "sync",
            "enabled_events": ["session.approved", "identity.created"],
            "attribute_blocklist": ["external_ref"], "event_filter_conditions": {"data.status": "approved"},
            "api_version": "2026-02-01", "key_inflection": "camel"
        }),
    )
    .await;
    let id = id_of(&created);
    assert!(id.starts_with("webhook_"), "{id}");
    assert_eq!(created["object"], "webhook_endpoint");
    assert_eq!(created["url"], "http://127.0.0.1:9/hooks");
    assert_eq!(created["label"], "CRM");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["environment"], "sandbox");
    assert_eq!(created["enabled_events"], json!(["session.approved", "identity.created"]));
    assert_eq!(created["attribute_blocklist"], json!(["external_ref"]));
    assert_eq!(created["event_filter_conditions"], json!({"data.status": "approved"}));
    assert_eq!(created["api_version"], "2026-02-01");
    assert_eq!(created["key_inflection"], "camel");
    let secret = secret_of(&created);
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(WebhookSecret::parse(&secret).is_ok());

    // Sandbox secrets stay visible.
    let got = app.get(&format!("/webhooks/endpoints/{id}")).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["secret"], secret.as_str());

    // Defaults: every event, snake, no filter.
    let plain = create_endpoint(app, json!({"url": "http://127.0.0.1:9/other"})).await;
    assert_eq!(plain["enabled_events"], json!(["*"]));
    assert_eq!(plain["key_inflection"], "snake");
    assert_eq!(plain["event_filter_conditions"], Value::Null);
    assert_eq!(plain["api_version"], Value::Null);
    assert_ne!(secret_of(&plain), secret, "every endpoint has its own secret");

    let list = app.get("/webhooks/endpoints").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["pagination"]["total"], 2);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);

    // Update.
    let r = app
        .patch(
            &format!("/webhooks/endpoints/{id}"),
            json!({"label": "CRM 2", "description": null, "enabled": false, "enabled_events": ["*"],
                   "event_filter_conditions": null, "api_version": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["label"], "CRM 2");
    assert_eq!(r.body["description"], Value::Null);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["disabled_reason"], "manual");
    assert_eq!(r.body["enabled_events"], json!(["*"]));
    assert_eq!(r.body["event_filter_conditions"], Value::Null);
    assert_eq!(r.body["api_version"], Value::Null);
    assert_eq!(r.body["key_inflection"], "camel", "untouched fields stay");
    let r = app.patch(&format!("/webhooks/endpoints/{id}"), json!({"enabled": true})).await;
    assert_eq!(r.body["enabled"], true);
    assert_eq!(r.body["disabled_reason"], Value::Null);

    // Refusals.
    for (body, field) in [
        (json!({"enabled_events": ["session.requires_review"]}), "enabled_events[0]"),
        (json!({"key_inflection": "pascal"}), "key_inflection"),
        (json!({"api_version": "1999-01-01"}), "api_version"),
        (json!({"attribute_blocklist": ["event"]}), "attribute_blocklist"),
        (json!({"event_filter_conditions": [{"path": "a", "op": "gt", "value": 1}]}), "event_filter_conditions"),
    ] {
        let r = app.patch(&format!("/webhooks/endpoints/{id}"), body.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
    }
    assert_error(&app.patch(&format!("/webhooks/endpoints/{id}"), json!({"secret": "x"})).await, 422);
    assert_error(&app.post("/webhooks/endpoints", json!({"label": "no url"})).await, 422);
    assert_error(&app.post("/webhooks/endpoints", json!({"url": "ftp://127.0.0.1/x"})).await, 422);
    assert_error(&app.get("/webhooks/endpoints/webhook_01J0000000000000000000000").await, 404);

    // Environments are separate: the live key sees none of these.
    assert_error(&app.live_get(&format!("/webhooks/endpoints/{id}")).await, 404);
    assert_eq!(app.live_get("/webhooks/endpoints").await.body["pagination"]["total"], 0);

    // Scopes.
    let reader = app.key_with_scopes(&["webhooks:read"]).await;
    let none = app.key_with_scopes(&["sessions:read"]).await;
    assert_eq!(app.send("GET", "/webhooks/endpoints", Some(&reader), &[], None).await.status, 200);
    let r =
        app.send("POST", "/webhooks/endpoints", Some(&reader), &[], Some(&json!({"url": "http://127.0.0.1:9/"}))).await;
    assert_eq!(assert_error(&r, 403), "insufficient_scope");
    assert_error(&app.send("GET", "/webhooks/endpoints", Some(&none), &[], None).await, 403);
    assert_error(&app.send("GET", "/webhooks/endpoints/event-types", Some(&none), &[], None).await, 403);
    assert_error(&app.send("DELETE", &format!("/webhooks/endpoints/{id}"), Some(&reader), &[], None).await, 403);

    // Delete.
    let r = app.delete(&format!("/webhooks/endpoints/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["deleted"], true);
    assert_error(&app.get(&format!("/webhooks/endpoints/{id}")).await, 404);
    assert_error(&app.get(&format!("/webhooks/endpoints/{id}/deliveries")).await, 404);
    assert_error(&app.delete(&format!("/webhooks/endpoints/{id}")).await, 404);
    wh.stop().await;
}

#[actix_web::test]
async fn live_secrets_show_only_on_create_rotate_and_clone() {
    let (wh, dir) = start(|_| {}).await;
    let app = &wh.app;
    let live = |method: &'static str, path: String, body: Option<Value>| {
        let key = app.live_key.clone();
        async move { app.send(method, &path, Some(&key), &[], body.as_ref()).await }
    };
    let r = live("POST", "/webhooks/endpoints".into(), Some(json!({"url": "https://127.0.0.1:8443/hooks"}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["environment"], "live");
    let id = id_of(&r.body);
    let first = secret_of(&r.body);
    assert!(r.body["warning"].is_string());

    let got = live("GET", format!("/webhooks/endpoints/{id}"), None).await;
    assert_eq!(got.status, 200);
    assert!(got.body.get("secret").is_none(), "live secrets are not shown again: {}", got.body);
    let listed = live("GET", "/webhooks/endpoints".into(), None).await;
    assert!(listed.body["data"][0].get("secret").is_none());
    let patched = live("PATCH", format!("/webhooks/endpoints/{id}"), Some(json!({"label": "x"}))).await;
    assert!(patched.body.get("secret").is_none());

    let rotated = live("POST", format!("/webhooks/endpoints/{id}/rotate-secret"), None).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let second = secret_of(&rotated.body);
    assert_ne!(second, first);
    assert!(rotated.body["secret_rotated_at"].is_string());
    assert!(live("GET", format!("/webhooks/endpoints/{id}"), None).await.body.get("secret").is_none());

    let cloned = live("POST", format!("/webhooks/endpoints/{id}/clone"), Some(json!({}))).await;
    assert_eq!(cloned.status, 201, "{}", cloned.body);
    assert_eq!(cloned.body["cloned_from"], id.as_str());
    assert_eq!(cloned.body["url"], "https://127.0.0.1:8443/hooks");
    assert_eq!(cloned.body["label"], "x (clone)");
    let third = secret_of(&cloned.body);
    assert!(third != first && third != second, "a clone gets a fresh secret");
    assert_eq!(live("DELETE", format!("/webhooks/endpoints/{id}"), None).await.status, 200);
    assert_replay_matches(dir.path());
    wh.stop().await;
}

#[actix_web::test]
async fn egress_policy_refuses_metadata_link_local_and_plain_http_on_live() {
    let (wh, _dir) = start(|_| {}).await;
    let app = &wh.app;
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://metadata.google.internal/computeMetadata",
        "http://0.0.0.0/hook",
        "https://user:pw@127.0.0.1/hook",
        "/relative",
    ] {
        let r = app.post("/webhooks/endpoints", json!({ "url": url })).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{url}: {}", r.body);
        assert_eq!(r.body["errors"][0]["field"], "url", "{url}");
    }
    let r = app.post("/webhooks/endpoints", json!({"url": "http://169.254.169.254/"})).await;
    assert!(r.body["detail"].as_str().unwrap().contains("metadata"), "{}", r.body);

    // Private and loopback receivers are fine by default; live needs https.
    assert_eq!(app.post("/webhooks/endpoints", json!({"url": "http://10.1.2.3/hook"})).await.status, 201);
    let key = app.live_key.clone();
    let r =
        app.send("POST", "/webhooks/endpoints", Some(&key), &[], Some(&json!({"url": "http://10.1.2.3/hook"}))).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert!(r.body["detail"].as_str().unwrap().contains("https"), "{}", r.body);
    // ... also when changing the URL later.
    let ok = app.send("POST", "/webhooks/endpoints", Some(&key), &[], Some(&json!({"url": "https://10.1.2.3/"}))).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let r = app
        .send(
            "PATCH",
            &format!("/webhooks/endpoints/{}", id_of(&ok.body)),
            Some(&key),
            &[],
            Some(&json!({"url": "http://10.1.2.3/"})),
        )
        .await;
    assert_error(&r, 422);
    wh.stop().await;

    // Configured: http allowed on live, and a deny list.
    let (wh, _dir) = start(|c| {
        c.webhook_egress.require_https_for_live = false;
        c.webhook_egress.deny = vec![idv::webhooks::policy::HostRule::parse("10.0.0.0/8").expect("rule")];
    })
    .await;
    let app = &wh.app;
    let key = app.live_key.clone();
    let r =
        app.send("POST", "/webhooks/endpoints", Some(&key), &[], Some(&json!({"url": "http://192.168.1.5/"}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.post("/webhooks/endpoints", json!({"url": "http://10.9.9.9/hook"})).await;
    assert!(
        assert_error(&r, 422) == "validation_error" && r.body["detail"].as_str().unwrap().contains("deny"),
        "{}",
        r.body
    );
    wh.stop().await;
}

#[actix_web::test]
async fn event_types_are_listed_with_the_spec_spellings() {
    let (wh, _dir) = start(|_| {}).await;
    for path in ["/webhooks/endpoints/event-types", "/webhooks/event-types"] {
        let r = wh.app.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let names: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        for name in [
            "session.created",
            "session.started",
            "session.link_generated",
            "session.awaiting_external",
            "session.requires-review",
            "session.approved",
            "session.declined",
            "session.expired",
            "session.redacted",
            "session.retention-expired",
            "identity.created",
            "identity.updated",
            "identity.archived",
            "identity.restored",
            "identity.tag-added",
            "identity.tag-removed",
            "webhook.endpoint-disabled",
            "case.created",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let approved = r.body["data"].as_array().unwrap().iter().find(|t| t["name"] == "session.approved").unwrap();
        assert_eq!(approved["emitted"], true);
        let case = r.body["data"].as_array().unwrap().iter().find(|t| t["name"] == "case.created").unwrap();
        assert_eq!(case["emitted"], true);
        let later = r.body["data"].as_array().unwrap().iter().find(|t| t["name"] == "consortium.match_found").unwrap();
        assert_eq!(later["emitted"], false);
        let document = r.body["data"].as_array().unwrap().iter().find(|t| t["name"] == "document.verified").unwrap();
        assert_eq!(document["emitted"], true);
    }
    wh.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Deliveries to a real receiver
// ---------------------------------------------------------------------------------------------------------------

const PII: &[&str] = &["Zebulon", "Quixote-Marchetti", "1984-07-23", "X9Z8Y7W6", "zeb.q@example.org", "+14155550123"];

#[actix_web::test]
async fn events_reach_a_receiver_signed_in_both_schemes_without_pii() {
    let receiver = spawn_receiver().await;
    let (wh, _dir) = start(|_| {}).await;
    let app = &wh.app;
    let endpoint = create_endpoint(app, json!({"url": receiver.url("/hooks"), "label": "all"})).await;
    let secret = secret_of(&endpoint);

    // An identity with PII, and a sandbox session (with prefill PII) approved by simulation.
    let identity = app
        .create_identity(json!({
            "external_ref": "wh_user_1", "first_name": "Zebulon", "last_name": "Quixote-Marchetti",
            "date_of_birth": "1984-07-23", "document_number": "X9Z8Y7W6", "email": "zeb.q@example.org",
            "phone": "+14155550123"
        }))
        .await;
    let s = app
        .post(
            "/sessions",
            json!({"external_ref": "wh_user_2", "first_name": "Zebulon", "last_name": "Quixote-Marchetti",
                   "date_of_birth": "1984-07-23", "document_number": "X9Z8Y7W6", "email": "zeb.q@example.org",
                   "metadata": {"crm": "secret-metadata"}}),
        )
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    let session = id_of(&s.body);
    let r = app.post(&format!("/sessions/{session}/simulate"), json!({"action": "approve"})).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let got = receiver
        .wait_until("identity.created x2, session.created, session.approved, identity.updated", |g| {
            let e = events(g);
            e.iter().filter(|x| *x == "identity.created").count() == 2
                && e.contains(&"session.created".to_string())
                && e.contains(&"session.approved".to_string())
                && e.contains(&"identity.updated".to_string())
        })
        .await;

    // Every request verifies, with idv's verifiers and with the PyPI library.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for g in &got {
        verify_with_idv(&secret, g, now);
    }
    verify_with_python(&secret, &got);

    // No PII (nor client metadata) in any body.
    for g in &got {
        let text = g.text();
        for pii in PII {
            assert!(!text.contains(pii), "{pii} leaked into {}: {text}", g.event());
        }
        assert!(!text.contains("secret-metadata"), "metadata leaked: {text}");
        assert!(!text.contains("extracted_data"), "{text}");
    }

    // Shapes (spec §1.11.4: envelope + flat mirror).
    let find = |name: &str, pred: &dyn Fn(&Value) -> bool| {
        got.iter().map(Got::json).find(|b| b["event"] == name && pred(b)).unwrap_or_else(|| panic!("no {name}"))
    };
    let created = find("identity.created", &|b| b["data"]["identity_id"] == identity.as_str());
    assert_eq!(created["data"]["external_ref"], "wh_user_1");
    assert_eq!(created["data"]["is_sandbox"], true);
    assert_eq!(created["identity_id"], identity.as_str(), "flat mirror");
    assert!(created["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(created["idempotency_key"], created["id"]);
    assert_eq!(created["api_version"], "2026-01-01");
    let approved = find("session.approved", &|_| true);
    assert_eq!(approved["data"]["session_id"], session.as_str());
    assert_eq!(approved["data"]["external_ref"], "wh_user_2");
    assert_eq!(approved["data"]["status"], "approved");
    assert_eq!(approved["data"]["session_status"], "completed");
    assert_eq!(approved["data"]["is_sandbox"], true);
    assert_eq!(approved["data"]["result"]["face_match_passed"], true);
    assert!(approved["data"]["identity_id"].as_str().unwrap().starts_with("idn_"));
    assert_eq!(approved["session_id"], session.as_str());
    assert_eq!(approved["status"], "approved");
    let started = find("session.created", &|_| true);
    assert_eq!(started["data"]["status"], "pending");

    // Each delivery is listed as delivered, with its attempt.
    let endpoint_id = id_of(&endpoint);
    let list = wait_all_delivered(app, &endpoint_id).await;
    assert_eq!(list["pagination"]["total"], receiver.got().len() as u64, "{list}");
    for d in list["data"].as_array().unwrap() {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["response_status"], 200);
        assert_eq!(d["url"], receiver.url("/hooks"));
        let attempt = &d["attempt_history"][0];
        assert_eq!(attempt["response_status"], 200);
        assert_eq!(attempt["error"], Value::Null);
        assert!(attempt["latency_ms"].is_u64());
        assert_eq!(attempt["response_excerpt"], "answered 200");
    }
    let ids: Vec<String> = got.iter().map(|g| g.header("x-verifa-delivery-id").unwrap().to_string()).collect();
    for d in list["data"].as_array().unwrap() {
        assert!(ids.contains(&d["id"].as_str().unwrap().to_string()), "{d}");
    }
    let only = deliveries(app, &endpoint_id, "?event_type=session.approved").await;
    assert_eq!(only["pagination"]["total"], 1);
    wh.stop().await;
}

#[actix_web::test]
async fn payloads_honour_inflection_version_blocklist_and_filters() {
    let receiver = spawn_receiver().await;
    let (wh, _dir) = start(|_| {}).await;
    let app = &wh.app;
    let endpoint = create_endpoint(
        app,
        json!({
            "url": receiver.url("/camel"), "key_inflection": "camel", "api_version": "2026-02-01",
            "attribute_blocklist": ["external_ref"],
            "event_filter_conditions": [{"path": "event", "op": "in", "value": ["identity.created", "identity.tag-added"]}]
        }),
    )
    .await;
    let only_archive = create_endpoint(
        app,
        json!({"url": receiver.url("/archive"), "enabled_events": ["identity.archived"], "key_inflection": "kebab"}),
    )
    .await;
    let id = app.create_identity(json!({"external_ref": "wh_infl", "first_name": "Zebulon"})).await;
    assert_eq!(app.post(&format!("/identities/{id}/tags/add"), json!({"tag": "vip"})).await.status, 200);
    assert_eq!(app.post(&format!("/identities/{id}/archive"), json!({})).await.status, 200);

    let got = receiver.wait_until("three deliveries", |g| g.len() >= 3).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let got_all = receiver.got();
    assert_eq!(got_all.len(), 3, "{:?}", events(&got_all));
    let by = |event: &str| got.iter().find(|g| g.event() == event).unwrap_or_else(|| panic!("no {event}")).clone();

    let created = by("identity.created");
    let body = created.json();
    assert_eq!(body["apiVersion"], "2026-02-01");
    assert_eq!(body["idempotencyKey"], body["id"]);
    assert_eq!(body["data"]["identityId"], id.as_str());
    assert_eq!(body["data"]["isSandbox"], true);
    assert!(body["data"].get("externalRef").is_none() && body.get("externalRef").is_none(), "blocked: {body}");
    assert!(!created.text().contains("wh_infl"), "{}", created.text());
    verify_with_idv(&secret_of(&endpoint), &created, time::OffsetDateTime::now_utc().unix_timestamp());

    let tagged = by("identity.tag-added").json();
    assert_eq!(tagged["data"]["added"], json!(["vip"]));
    assert_eq!(tagged["data"]["tags"], json!(["vip"]));

    let archived = by("identity.archived");
    assert_eq!(archived.json()["data"]["identity-id"], id.as_str());
    assert_eq!(archived.json()["data"]["external-ref"], "wh_infl");
    verify_with_idv(&secret_of(&only_archive), &archived, time::OffsetDateTime::now_utc().unix_timestamp());
    wh.stop().await;
}

#[actix_web::test]
async fn the_test_event_goes_to_one_endpoint_and_verifies() {
    let receiver = spawn_receiver().await;
    let (wh, _dir) = start(|_| {}).await;
    let app = &wh.app;
    let target =
        create_endpoint(app, json!({"url": receiver.url("/target"), "enabled_events": ["session.approved"]})).await;
    let _other = create_endpoint(app, json!({"url": receiver.url("/other")})).await;
    let id = id_of(&target);
    let r = app.post(&format!("/webhooks/endpoints/{id}/test"), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["event"], "webhook.test");
    let delivery_id = r.body["delivery_id"].as_str().unwrap().to_string();

    let got = receiver.wait_until("the test event", |g| !g.is_empty()).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.got().len(), 1, "only the endpoint under test receives it");
    let g = &got[0];
    assert_eq!(g.header("x-verifa-delivery-id"), Some(delivery_id.as_str()));
    assert_eq!(g.json()["event"], "webhook.test");
    assert_eq!(g.json()["data"]["endpoint_id"], id.as_str());
    assert_eq!(g.json()["id"], r.body["event_id"]);
    verify_with_idv(&secret_of(&target), g, time::OffsetDateTime::now_utc().unix_timestamp());
    verify_with_python(&secret_of(&target), &got);

    // Rotation: later deliveries verify with the new secret only.
    let rotated = app.post(&format!("/webhooks/endpoints/{id}/rotate-secret"), json!({})).await;
    let new_secret = secret_of(&rotated.body);
    assert_eq!(app.post(&format!("/webhooks/endpoints/{id}/test"), json!({})).await.status, 202);
    let got = receiver.wait_until("the second test event", |g| g.len() >= 2).await;
    let second = &got[1];
    verify_with_idv(&new_secret, second, time::OffsetDateTime::now_utc().unix_timestamp());
    let old = WebhookSecret::parse(&secret_of(&target)).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(verify_verifa(&old, second.header("x-verifa-signature").unwrap(), &second.body, now, 300).is_err());

    // A disabled endpoint cannot be tested.
    app.patch(&format!("/webhooks/endpoints/{id}"), json!({"enabled": false})).await;
    assert_error(&app.post(&format!("/webhooks/endpoints/{id}/test"), json!({})).await, 422);
    wh.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Retries, the breaker, manual retry: on a manual clock, passes driven by the test
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn retries_reuse_the_delivery_id_and_record_every_attempt() {
    let receiver = spawn_receiver().await;
    receiver.answer(&[Answer::Status(500), Answer::Status(503)]);
    let (wh, clock, _dir) = start_clocked().await;
    let app = &wh.app;
    let endpoint =
        create_endpoint(app, json!({"url": receiver.url("/flaky"), "enabled_events": ["identity.created"]})).await;
    let endpoint_id = id_of(&endpoint);
    app.create_identity(json!({"external_ref": "flaky_1"})).await;

    // The delivery was created with its event; the pass only sends it.
    let r = wh.run_once().await;
    assert_eq!((r.dispatched, r.attempted, r.retrying), (0, 1, 1), "{r:?}");
    let list = deliveries(app, &endpoint_id, "").await;
    let d = &list["data"][0];
    assert_eq!(d["status"], "retrying", "{d}");
    assert_eq!(d["response_status"], 500);
    assert_eq!(ts(&d["next_attempt_at"]) - ts(&d["attempt_history"][0]["attempted_at"]), time::Duration::seconds(30));

    // Not due yet.
    clock.advance(time::Duration::seconds(29));
    assert_eq!(wh.run_once().await.attempted, 0);
    clock.advance(time::Duration::seconds(1));
    assert_eq!(wh.run_once().await.retrying, 1);
    clock.advance(time::Duration::minutes(2));
    let r = wh.run_once().await;
    assert_eq!(r.delivered, 1, "{r:?}");

    let got = receiver.got();
    assert_eq!(got.len(), 3);
    let ids: Vec<&str> = got.iter().map(|g| g.header("x-verifa-delivery-id").unwrap()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one delivery id across retries: {ids:?}");
    assert!(got.iter().all(|g| g.header("webhook-id") == Some(ids[0])));
    assert!(got.iter().all(|g| g.body == got[0].body), "the same body every time");
    // Each attempt is signed at its own time (the injected clock), so a late retry still verifies.
    let stamps: Vec<i64> = got.iter().map(|g| g.header("webhook-timestamp").unwrap().parse().unwrap()).collect();
    assert_eq!(stamps[1] - stamps[0], 30);
    assert_eq!(stamps[2] - stamps[1], 120);
    verify_with_idv(&secret_of(&endpoint), &got[2], clock.now().unix_timestamp());

    let d = &deliveries(app, &endpoint_id, "").await["data"][0];
    assert_eq!(d["id"], ids[0]);
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 3);
    let history: Vec<Value> =
        d["attempt_history"].as_array().unwrap().iter().map(|a| a["response_status"].clone()).collect();
    assert_eq!(history, vec![json!(500), json!(503), json!(200)]);
    assert_eq!(d["attempt_history"][0]["response_excerpt"], "answered 500");
    assert_eq!(d["next_attempt_at"], Value::Null);
    let single = app.get(&format!("/webhooks/endpoints/{endpoint_id}/deliveries/{}", ids[0])).await;
    assert_eq!(single.status, 200);
    assert_eq!(single.body["attempts"], 3);

    // Finished deliveries are pruned once the 30-day retention has passed.
    clock.advance(time::Duration::days(30));
    assert_eq!(wh.webhooks.prune().await.expect("prune"), 0, "not before 30 days");
    clock.advance(time::Duration::minutes(3));
    assert_eq!(wh.webhooks.prune().await.expect("prune"), 1);
    assert_eq!(deliveries(app, &endpoint_id, "").await["pagination"]["total"], 0);
    wh.stop().await;
}

#[actix_web::test]
async fn https_receivers_are_reached_over_tls() {
    // A plain-HTTP listener behind an https URL: the attempt must fail in the TLS handshake, which
    // shows the client speaks TLS (built without it, awc refuses https outright).
    let receiver = spawn_receiver().await;
    let (wh, _clock, _dir) = start_clocked().await;
    let app = &wh.app;
    let key = app.live_key.clone();
    let body = json!({ "url": format!("https://127.0.0.1:{}/tls", receiver.port) });
    let r = app.send("POST", "/webhooks/endpoints", Some(&key), &[], Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let endpoint = id_of(&r.body);
    let created = app.send("POST", "/identities", Some(&key), &[], Some(&json!({"external_ref": "tls_1"}))).await;
    assert_eq!(created.status, 201);
    let report = wh.run_once().await;
    assert_eq!(report.retrying, 1, "{report:?}");
    let list = app.send("GET", &format!("/webhooks/endpoints/{endpoint}/deliveries"), Some(&key), &[], None).await;
    let error = list.body["data"][0]["last_error"].as_str().expect("an error").to_string();
    assert!(!error.to_ascii_lowercase().contains("not supported"), "TLS must be compiled in: {error}");
    assert!(receiver.got().is_empty(), "nothing readable reached the plain listener");
    wh.stop().await;
}

#[actix_web::test]
async fn a_down_receiver_sees_the_schedule_and_the_endpoint_is_disabled_after_ten() {
    let watcher = spawn_receiver().await;
    let (wh, clock, dir) = start_clocked().await;
    let app = &wh.app;
    let down = create_endpoint(app, json!({"url": down_url(), "enabled_events": ["identity.created"]})).await;
    let down_id = id_of(&down);
    let observer =
        create_endpoint(app, json!({"url": watcher.url("/ops"), "enabled_events": ["webhook.endpoint-disabled"]}))
            .await;
    for i in 0..10 {
        app.create_identity(json!({ "external_ref": format!("down_{i}") })).await;
    }
    let t0 = clock.now();
    let r = wh.run_once().await;
    assert_eq!((r.dispatched, r.attempted, r.retrying), (0, 10, 10), "{r:?}");

    // 30 s, 2 min, 8 min, 32 min, 2 h 8 min after each failure; then failed.
    let mut elapsed = time::Duration::ZERO;
    for (retry, delay) in [(1, 30), (2, 120), (3, 480), (4, 1920), (5, 7680)] {
        let list = deliveries(app, &down_id, "").await;
        for d in list["data"].as_array().unwrap() {
            assert_eq!(d["status"], "retrying", "{d}");
            assert_eq!(d["attempts"], retry);
            let due_after_creation = ts(&d["next_attempt_at"]) - ts(&d["created_at"]);
            assert_eq!(due_after_creation, elapsed + time::Duration::seconds(delay), "retry {retry}: {d}");
            let last = &d["attempt_history"][retry as usize - 1];
            assert_eq!(last["response_status"], Value::Null);
            assert!(last["error"].as_str().unwrap().contains("connect"), "{last}");
        }
        clock.advance(time::Duration::seconds(delay - 1));
        assert_eq!(wh.run_once().await.attempted, 0, "retry {retry} is not due a second early");
        clock.advance(time::Duration::seconds(1));
        elapsed += time::Duration::seconds(delay);
        let r = wh.run_once().await;
        if retry < 5 {
            assert_eq!((r.attempted, r.retrying), (10, 10), "retry {retry}: {r:?}");
            let endpoint = app.get(&format!("/webhooks/endpoints/{down_id}")).await;
            assert_eq!(endpoint.body["enabled"], true);
        } else {
            // The ten give up, the breaker trips, and the notice goes out in the same pass.
            assert_eq!((r.failed, r.endpoints_disabled, r.delivered), (10, 1, 1), "{r:?}");
        }
    }
    let list = deliveries(app, &down_id, "?status=failed").await;
    assert_eq!(list["pagination"]["total"], 10);
    for d in list["data"].as_array().unwrap() {
        assert_eq!(d["attempts"], 6);
        assert_eq!(d["next_attempt_at"], Value::Null);
        assert_eq!(d["attempt_history"].as_array().unwrap().len(), 6);
    }
    let endpoint = app.get(&format!("/webhooks/endpoints/{down_id}")).await.body;
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert_eq!(endpoint["disabled_reason"], "circuit_breaker");
    assert_eq!(endpoint["consecutive_failures"], 10);

    // The other endpoint hears about it.
    let got = watcher.got();
    assert_eq!(events(&got), vec!["webhook.endpoint-disabled"]);
    let notice = got[0].json();
    assert_eq!(notice["data"]["endpoint_id"], down_id.as_str());
    assert_eq!(notice["data"]["reason"], "circuit_breaker");
    assert_eq!(notice["data"]["consecutive_failures"], 10);
    verify_with_idv(&secret_of(&observer), &got[0], clock.now().unix_timestamp());

    // Disabled: new events are not queued for it; retry is refused until it is enabled again.
    app.create_identity(json!({"external_ref": "while_disabled"})).await;
    assert_eq!(wh.run_once().await.dispatched, 0);
    let failed = list["data"][0]["id"].as_str().unwrap().to_string();
    let retry_path = format!("/webhooks/endpoints/{down_id}/deliveries/{failed}/retry");
    assert_error(&app.post(&retry_path, json!({})).await, 422);

    // Point it at a live receiver, enable it, retry one failed delivery by hand.
    let fixed = spawn_receiver().await;
    let r = app
        .patch(&format!("/webhooks/endpoints/{down_id}"), json!({"url": fixed.url("/fixed"), "enabled": true}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["consecutive_failures"], 0, "re-enabling starts a new count");
    let r = app.post(&retry_path, json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["status"], "retrying");
    let report = wh.run_once().await;
    assert_eq!(report.delivered, 1, "{report:?}");
    let got = fixed.got();
    assert_eq!(got.len(), 1, "events from while it was disabled are not sent: {:?}", events(&got));
    assert_eq!(got[0].header("x-verifa-delivery-id"), Some(failed.as_str()));
    let d = app.get(&format!("/webhooks/endpoints/{down_id}/deliveries/{failed}")).await.body;
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 7);
    assert_eq!(d["attempt_history"][6]["manual"], true);
    assert_eq!(d["attempt_history"][6]["response_status"], 200);
    assert_error(&app.post(&retry_path, json!({})).await, 409);
    assert_error(&app.post(&format!("/webhooks/endpoints/{down_id}/deliveries/dlv_nope/retry"), json!({})).await, 404);

    // List filters.
    assert_eq!(deliveries(app, &down_id, "?status=failed").await["pagination"]["total"], 9);
    assert_eq!(deliveries(app, &down_id, "?status=delivered").await["pagination"]["total"], 1);
    assert_eq!(deliveries(app, &down_id, "?event_type=identity.created").await["pagination"]["total"], 10);
    assert_eq!(deliveries(app, &down_id, "?event_type=session.created").await["pagination"]["total"], 0);
    let today = t0.date().to_string();
    assert_eq!(
        deliveries(app, &down_id, &format!("?date_from={today}&date_to={today}")).await["pagination"]["total"],
        10
    );
    assert_eq!(deliveries(app, &down_id, "?date_from=2999-01-01").await["pagination"]["total"], 0);
    assert_eq!(deliveries(app, &down_id, "?date_to=2000-01-01T00:00:00Z").await["pagination"]["total"], 0);
    let page = deliveries(app, &down_id, "?limit=3&offset=3").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    assert_eq!(page["pagination"], json!({"total": 10, "limit": 3, "offset": 3}));
    assert_error(&app.get(&format!("/webhooks/endpoints/{down_id}/deliveries?status=lost")).await, 422);
    assert_error(&app.get(&format!("/webhooks/endpoints/{down_id}/deliveries?date_from=yesterday")).await, 422);
    assert_error(&app.get(&format!("/webhooks/endpoints/{down_id}/deliveries?limit=101")).await, 422);
    assert_replay_matches(dir.path());
    wh.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Durability across restarts
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn events_written_before_a_restart_are_delivered_after_it() {
    let receiver = spawn_receiver().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // First run: no webhook loops at all (as if the process died right after the writes).
    let first = start_on(dir.path(), None, None, |c| c.webhook_poll_interval = None).await;
    let endpoint = create_endpoint(&first.app, json!({"url": receiver.url("/restart")})).await;
    let identity = first.app.create_identity(json!({"external_ref": "restart_1"})).await;
    let keys = (first.app.sandbox_key.clone(), first.app.live_key.clone());
    first.stop().await;
    assert!(receiver.got().is_empty());

    // Second run on the same folder (same master key file).
    let second = start_on(dir.path(), None, Some(keys), |_| {}).await;
    let got = receiver.wait_until("identity.created", |g| !g.is_empty()).await;
    assert_eq!(got[0].event(), "identity.created");
    assert_eq!(got[0].json()["data"]["identity_id"], identity.as_str());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    verify_with_idv(&secret_of(&endpoint), &got[0], now);
    verify_with_python(&secret_of(&endpoint), &got);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.got().len(), 1, "delivered once");
    second.stop().await;
}

#[actix_web::test]
async fn a_crash_in_the_middle_of_a_delivery_resends_it_with_the_same_id() {
    let receiver = spawn_receiver().await;
    receiver.answer(&[Answer::Hang(Duration::from_secs(25))]);
    let dir = tempfile::tempdir().expect("temp dir");
    let first = start_on(dir.path(), None, None, |_| {}).await;
    let endpoint = create_endpoint(&first.app, json!({"url": receiver.url("/slow")})).await;
    first.app.create_identity(json!({"external_ref": "crash_1"})).await;
    let keys = (first.app.sandbox_key.clone(), first.app.live_key.clone());
    // The receiver has the request but has not answered: stop everything now.
    receiver.wait_until("the first attempt", |g| !g.is_empty()).await;
    first.stop().await;

    let second = start_on(dir.path(), None, Some(keys), |_| {}).await;
    let got = receiver.wait_until("the resend", |g| g.len() >= 2).await;
    let (a, b) = (&got[0], &got[1]);
    assert_eq!(a.header("x-verifa-delivery-id"), b.header("x-verifa-delivery-id"), "same delivery id");
    assert_eq!(a.body, b.body, "same body");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    verify_with_idv(&secret_of(&endpoint), b, now);
    // The delivery is recorded as delivered (the unanswered attempt was never recorded).
    let list = wait_all_delivered(&second.app, &id_of(&endpoint)).await;
    assert_eq!(list["data"][0]["attempts"], 1, "{list}");
    assert_eq!(list["pagination"]["total"], 1);
    assert_eq!(list["data"][0]["id"], a.header("x-verifa-delivery-id").unwrap());
    second.stop().await;
}

#[actix_web::test]
async fn webhook_operations_are_documented_with_typed_schemas() {
    let (wh, _dir) = start(|_| {}).await;
    let doc = wh.app.send("GET", "/api/v1/openapi.json", None, &[], None).await.body;
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")].clone(),
            None => schema.clone(),
        }
    };
    let ops = [
        ("/api/v1/webhooks/endpoints", "get", "200", false),
        ("/api/v1/webhooks/endpoints", "post", "201", true),
        ("/api/v1/webhooks/endpoints/event-types", "get", "200", false),
        ("/api/v1/webhooks/event-types", "get", "200", false),
        ("/api/v1/webhooks/endpoints/{endpoint_id}", "get", "200", false),
        ("/api/v1/webhooks/endpoints/{endpoint_id}", "patch", "200", true),
        ("/api/v1/webhooks/endpoints/{endpoint_id}", "delete", "200", false),
        ("/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", "post", "200", false),
        ("/api/v1/webhooks/endpoints/{endpoint_id}/clone", "post", "201", true),
        ("/api/v1/webhooks/endpoints/{endpoint_id}/test", "post", "202", false),
        ("/api/v1/webhooks/endpoints/{endpoint_id}/deliveries", "get", "200", false),
        ("/api/v1/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}", "get", "200", false),
        ("/api/v1/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/retry", "post", "202", false),
    ];
    for (path, method, code, has_body) in ops {
        let op = &doc["paths"][path][method];
        assert_eq!(op["tags"], json!(["Webhooks"]), "{method} {path}");
        let response = resolve(&op["responses"][code]["content"]["application/json"]["schema"]);
        assert!(response["properties"].as_object().is_some_and(|p| !p.is_empty()), "{method} {path}: {response}");
        if has_body {
            let body = resolve(&op["requestBody"]["content"]["application/json"]["schema"]);
            assert!(body["properties"].as_object().is_some_and(|p| !p.is_empty()), "{method} {path}: {body}");
        }
    }
    let url = &doc["components"]["schemas"]["WebhookUrl"];
    assert_eq!(url["format"], "uri", "{url}");
    let statuses = &doc["components"]["schemas"]["DeliveryStatus"]["enum"];
    assert_eq!(statuses, &json!(["pending", "retrying", "delivered", "failed"]));
    let events = doc["components"]["schemas"]["EventSubscription"]["enum"].as_array().cloned().unwrap_or_default();
    assert!(events.contains(&json!("*")) && events.contains(&json!("session.approved")), "{events:?}");
}

#[actix_web::test]
async fn values_refused_by_the_webhook_types_name_the_field() {
    let (wh, _dir) = start(|_| {}).await;
    let app = &wh.app;
    let long = format!("http://127.0.0.1:9/{}", "a".repeat(2048));
    for (body, field) in [
        (json!({"url": long}), "url"),
        (json!({"url": "http://127.0.0.1:9/", "enabled_events": ["no.such.event"]}), "enabled_events[0]"),
        (json!({"url": "http://127.0.0.1:9/", "key_inflection": "pascal"}), "key_inflection"),
        (json!({"url": "http://127.0.0.1:9/", "colour": "red"}), "colour"),
        (json!({"label": "no url"}), "url"),
    ] {
        let r = app.post("/webhooks/endpoints", body.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
    }
    let endpoint = create_endpoint(app, json!({"url": "http://127.0.0.1:9/hooks"})).await;
    let id = id_of(&endpoint);
    let r = app.get(&format!("/webhooks/endpoints/{id}/deliveries?status=lost")).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    assert_eq!(r.body["errors"][0]["field"], "status", "{}", r.body);
    assert_error(&app.get("/webhooks/endpoints/not-an-endpoint").await, 404);
    assert_error(&app.get(&format!("/webhooks/endpoints/{id}/deliveries/nope")).await, 404);
}

// ---------------------------------------------------------------------------------------------------------------
// A delivery announces its own event: the state it carries is the state as of that event
// ---------------------------------------------------------------------------------------------------------------

#[actix_web::test]
async fn each_delivery_carries_the_state_as_of_its_own_event_not_a_later_one() {
    let receiver = spawn_receiver().await;
    let (wh, _clock, _dir) = start_clocked().await;
    let app = &wh.app;
    create_endpoint(app, json!({"url": receiver.url("/states"), "enabled_events": ["identity.updated"]})).await;
    let id = app.create_identity(json!({"external_ref": "state_0"})).await;
    // Two changes before any webhook pass runs: each announcement must still carry its own state.
    for (external_ref, status) in [("state_1", "under_review"), ("state_2", "approved")] {
        let r = app.patch(&format!("/identities/{id}"), json!({"external_ref": external_ref, "status": status})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    wh.run_once().await;
    let got = receiver.wait_until("two identity.updated deliveries", |g| g.len() >= 2).await;
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|g| {
            let data = &g.json()["data"];
            (data["external_ref"].as_str().unwrap_or("").to_string(), data["status"].as_str().unwrap_or("").to_string())
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![("state_1".to_string(), "under_review".to_string()), ("state_2".to_string(), "approved".to_string())],
        "the first update's delivery must not carry the second update's state"
    );
    wh.stop().await;
}

/// A case decided through the API (spec §1.11.5): the case, session and identity webhooks arrive, without PII.
#[actix_web::test]
async fn case_decisions_send_the_case_session_and_identity_webhooks() {
    let receiver = spawn_receiver().await;
    let (wh, _dir) = start(|_| {}).await;
    let app = &wh.app;
    create_endpoint(app, json!({"url": receiver.url("/hooks"), "label": "all"})).await;
    let reviewer =
        app.post("/users", json!({"email": "rita@example.test", "name": "Rita", "role": "senior_reviewer"})).await;
    assert_eq!(reviewer.status, 201, "{}", reviewer.body);
    let reviewer = id_of(&reviewer.body);
    let mut cases = Vec::new();
    for external_ref in ["wh_case_ok", "wh_case_no"] {
        let s = app
            .post(
                "/sessions",
                json!({"external_ref": external_ref, "first_name": "Zebulon", "last_name": "Quixote-Marchetti",
                       "date_of_birth": "1984-07-23", "email": "zeb.q@example.org"}),
            )
            .await;
        assert_eq!(s.status, 201, "{}", s.body);
        let session = id_of(&s.body);
        let r = app.post(&format!("/sessions/{session}/simulate"), json!({"action": "require-review"})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let case = app.get(&format!("/sessions/{session}")).await.body["case_id"].as_str().unwrap().to_string();
        cases.push(case);
    }
    let (ok, no) = (&cases[0], &cases[1]);
    let r = app.post(&format!("/cases/{ok}/escalate"), json!({"reason": "Zebulon looks older"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(&format!("/cases/{ok}/approve"), json!({"reviewer_id": reviewer})).await;
    assert_eq!(r.body["status"], "approved", "{}", r.body);
    let r = app
        .post(&format!("/cases/{no}/reject"), json!({"reviewer_id": reviewer, "rejection_reason": "Zebulon?"}))
        .await;
    assert_eq!(r.body["status"], "rejected", "{}", r.body);
    for (case, status) in [(ok, "approved"), (no, "rejected")] {
        let identity = app.get(&format!("/cases/{case}")).await.body["identity_id"].as_str().unwrap().to_string();
        assert_eq!(app.get(&format!("/identities/{identity}")).await.body["status"], status);
    }

    let wanted =
        ["case.created", "case.escalated", "case.approved", "case.rejected", "session.approved", "session.declined"];
    let got = receiver
        .wait_until("the case and session webhooks", |g| {
            let e = events(g);
            wanted.iter().all(|w| e.iter().any(|x| x == w))
                && e.iter().filter(|x| *x == "case.created").count() == 2
                && e.iter().filter(|x| *x == "identity.updated").count() >= 2
        })
        .await;
    for g in &got {
        let text = g.text();
        for pii in PII {
            assert!(!text.contains(pii), "{pii} leaked into {}: {text}", g.event());
        }
        assert!(!text.contains("looks older") && !text.contains("Zebulon?"), "reviewer text leaked: {text}");
    }
    let approved = got.iter().find(|g| g.event() == "case.approved").unwrap().text();
    assert!(approved.contains(ok.as_str()), "{approved}");
    let rejected = got.iter().find(|g| g.event() == "case.rejected").unwrap().text();
    assert!(rejected.contains(no.as_str()), "{rejected}");
}

#[actix_web::test]
async fn verifyhq_webhooks_send_the_dialects_events_signed_with_a_plain_hmac_and_retry_after_1_5_and_30_minutes() {
    use hmac::{Hmac, Mac};
    let receiver = spawn_receiver().await;
    let (wh, clock, _dir) = start_clocked().await;
    let app = &wh.app;
    let key = app.verifyhq_key.clone();
    let vhq = |method: &'static str, path: String, body: Option<Value>| {
        let key = key.clone();
        async move { app.send(method, &path, Some(&key), &[], body.as_ref()).await }
    };
    let configure = |path: &'static str, events: Value| {
        vhq(
            "POST",
            "/v1/webhooks/configure".into(),
            Some(json!({"clientId": "backend", "callbackUrl": receiver.url(path), "events": events})),
        )
    };

    for bad in [json!([]), json!(["session.approved"])] {
        let r = configure("/x", bad).await;
        assert_eq!((r.status, r.body["statusCode"].as_u64()), (422, Some(422)), "{}", r.body);
    }
    // The egress policy's refusal names the field as this body calls it.
    let body =
        json!({"clientId": "backend", "callbackUrl": "http://169.254.169.254/hook", "events": ["identity.verified"]});
    let r = vhq("POST", "/v1/webhooks/configure".into(), Some(body)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["message"][0].as_str().unwrap().starts_with("callbackUrl "), "{}", r.body);
    let hook =
        configure("/vhq", json!(["identity.verified", "verification.completed", "identity.manual_review"])).await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let secret = hook.body["secret"].as_str().unwrap().to_string();
    let hook_id = hook.body["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{}", hook.body);
    let listed = vhq("GET", "/v1/webhooks/client/backend".into(), None).await;
    assert_eq!(listed.body[0]["id"], hook.body["id"], "{}", listed.body);
    assert_eq!((listed.body[0]["active"].as_bool(), listed.body[0].get("secret")), (Some(true), None));
    assert_eq!(app.get("/webhooks/endpoints").await.body["pagination"]["total"], 0, "not a Verifa endpoint");

    // A verification approved through the Verifa API: the dialect's events, nothing else.
    let v = vhq("POST", "/v1/verifications/identity".into(), Some(json!({"userId": "hook_user"}))).await;
    let vid = v.body["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{vid}/simulate"), json!({"action": "approve"})).await;
    let r = wh.run_once().await;
    assert_eq!(r.delivered, 2, "{r:?}");
    let got = receiver.got();
    // Sent concurrently: in either order.
    let mut names = events(&got);
    names.sort();
    assert_eq!(names, ["identity.verified", "verification.completed"]);
    for g in &got {
        let body = g.json();
        assert_eq!(body["data"]["identityVerificationId"], vid.as_str(), "{body}");
        assert_eq!(
            (body["data"]["userId"].as_str(), body["data"]["status"].as_str()),
            (Some("hook_user"), Some("VERIFIED"))
        );
        assert!(body["timestamp"].is_string(), "{body}");
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&g.body);
        assert_eq!(g.header("x-webhook-signature"), Some(hex::encode(mac.finalize().into_bytes()).as_str()));
        assert!(g.header("x-verifa-signature").is_none(), "the dialect's own signature only");
    }

    // Deactivated: nothing more is sent to it.
    let gone = vhq("DELETE", format!("/v1/webhooks/{hook_id}"), None).await;
    assert_eq!((gone.status, gone.body["active"].as_bool()), (200, Some(false)), "{}", gone.body);
    assert_eq!(vhq("DELETE", "/v1/webhooks/whep_nope".into(), None).await.status, 404);

    // A receiver that keeps failing: three retries, 1, 5 and 30 minutes apart, then the delivery fails.
    let flaky = configure("/down", json!(["identity.rejected"])).await;
    assert_eq!(flaky.status, 201, "{}", flaky.body);
    receiver.answer(&[Answer::Status(500); 4]);
    let v = vhq("POST", "/v1/verifications/identity".into(), Some(json!({"userId": "hook_user_2"}))).await;
    let vid = v.body["id"].as_str().unwrap().to_string();
    app.post(&format!("/sessions/{vid}/simulate"), json!({"action": "decline"})).await;
    assert_eq!(wh.run_once().await.retrying, 1);
    for wait in [60, 300, 1800] {
        clock.advance(time::Duration::seconds(wait - 1));
        assert_eq!(wh.run_once().await.attempted, 0, "not before {wait} s");
        clock.advance(time::Duration::seconds(1));
        let r = wh.run_once().await;
        assert_eq!(r.attempted, 1, "{wait}: {r:?}");
        if wait == 1800 {
            assert_eq!(r.failed, 1, "given up after the third retry: {r:?}");
        }
    }
    clock.advance(time::Duration::hours(6));
    assert_eq!(wh.run_once().await.attempted, 0);
    let after = receiver.got();
    assert_eq!(after.len(), 6, "{:?}", events(&after));
    assert!(after[2..].iter().all(|g| g.event() == "identity.rejected" && g.body == after[2].body));
    wh.stop().await;
}
