//! The hosted capture flow under /verify/{token}: the page (served from the binary, no external
//! assets) and the token-authenticated JSON steps. The token is the credential; a one-time link is
//! consumed by the person's first action and from then on also needs the capture cookie that action set.

use super::body::{sniff_mime, ApiBody, Upload};
use super::AppState;
use crate::commands::sessions::{self as cmd, CaptureStep, CaptureToken, LinkAccess, SessionRef};
use crate::domain::values;
use crate::error::{AppError, FieldError};
use crate::queries::sessions as q;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const PAGE: &str = include_str!("capture_page.html");
/// The capture cookie: set when a browser consumes a one-time link, scoped to that link's path.
const COOKIE: &str = "idv_capture";
/// The longest a one-time link lives (7 days); the server checks the link's own expiry on every request.
const COOKIE_MAX_AGE: i64 = 7 * 24 * 60 * 60;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/verify/{token}", web::get().to(page))
        .route("/verify/{token}/session", web::get().to(session))
        .route("/verify/{token}/consent", web::post().to(consent))
        .route("/verify/{token}/document-type", web::post().to(document_type))
        .route("/verify/{token}/documents", web::post().to(documents))
        .route("/verify/{token}/selfie", web::post().to(selfie))
        .route("/verify/{token}/user-data", web::post().to(user_data))
        .route("/verify/{token}/fraud-signals", web::post().to(fraud_signals))
        .route("/verify/{token}/complete", web::post().to(complete))
        .route("/verify/{token}/sandbox-outcome", web::post().to(sandbox_outcome));
}

pub fn specs() -> Vec<super::RouteSpec> {
    let s = |method, path, summary| super::RouteSpec { method, path, summary, absolute: true };
    vec![
        s("GET", "/verify/{token}", "Hosted capture page"),
        s("GET", "/verify/{token}/session", "Capture: session state"),
        s("POST", "/verify/{token}/consent", "Capture: record consent"),
        s("POST", "/verify/{token}/document-type", "Capture: choose the document type"),
        s("POST", "/verify/{token}/documents", "Capture: upload a document side"),
        s("POST", "/verify/{token}/selfie", "Capture: upload the selfie"),
        s("POST", "/verify/{token}/user-data", "Capture: confirm personal data"),
        s("POST", "/verify/{token}/fraud-signals", "Capture: client-side fraud signals"),
        s("POST", "/verify/{token}/complete", "Capture: finish"),
        s("POST", "/verify/{token}/sandbox-outcome", "Capture: sandbox outcome"),
    ]
}

fn meta(state: &AppState, req: &HttpRequest) -> crate::commands::CommandMeta {
    let request_id = req.extensions_ref_id();
    crate::commands::CommandMeta { actor: "capture".into(), environment: String::new(), request_id, now: state.now() }
}

trait RequestIdExt {
    fn extensions_ref_id(&self) -> Option<String>;
}

impl RequestIdExt for HttpRequest {
    fn extensions_ref_id(&self) -> Option<String> {
        use actix_web::HttpMessage;
        self.extensions().get::<super::reply::RequestId>().map(|r| r.0.clone())
    }
}

async fn state_of(state: &AppState, id: &str) -> Result<HttpResponse, AppError> {
    let conn = state.read.get()?;
    Ok(HttpResponse::Ok().json(q::capture_state(&conn, &state.keyring, id)?))
}

/// The capture cookie's value from the request's Cookie header, if any.
fn browser_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
}

fn credential(req: &HttpRequest, token: String) -> CaptureToken {
    CaptureToken::new(token, browser_cookie(req))
}

/// Logs a refused or failed capture request without the token or any personal data.
fn log_failure(what: &str, e: &AppError) {
    let status = e.status_code();
    if status >= 500 {
        tracing::error!(step = what, status, error = e.code(), "capture request failed");
    } else {
        tracing::info!(step = what, status, error = e.code(), "capture request refused");
    }
}

/// The credential for one POST on the capture path. The first action through a one-time link consumes
/// it (an event, through the command layer) and binds it to this browser with the capture cookie;
/// `cookie` is the Set-Cookie value for the response. Opening the page (a GET) never consumes.
struct Admitted {
    cred: CaptureToken,
    cookie: Option<String>,
}

async fn admit(state: &AppState, req: &HttpRequest, what: &str, token: String) -> Result<Admitted, AppError> {
    let mut cred = credential(req, token);
    let access = cmd::link_access(&*state.read.get()?, &state.keyring, &cred, &state.now());
    let access = access.inspect_err(|e| log_failure(what, e))?;
    if !matches!(access, LinkAccess::Unused { .. }) {
        return Ok(Admitted { cred, cookie: None });
    }
    let secret =
        cmd::consume_link(&state.writer, meta(state, req), cred.clone()).await.inspect_err(|e| log_failure(what, e))?;
    let cookie = secret.map(|secret| {
        let secure = state.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
        let cookie = format!(
            "{COOKIE}={secret}; Path=/verify/{}; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Strict{}",
            cred.token,
            if secure { "; Secure" } else { "" }
        );
        cred.browser = Some(secret);
        cookie
    });
    Ok(Admitted { cred, cookie })
}

impl Admitted {
    /// The step's response (or its error, in the spec's shape), carrying the capture cookie if this
    /// request consumed the link: the link is used up either way, so the browser must keep its binding.
    fn finish(self, what: &str, result: Result<HttpResponse, AppError>) -> Result<HttpResponse, AppError> {
        let mut response = match result {
            Ok(r) => r,
            Err(e) => {
                log_failure(what, &e);
                match self.cookie {
                    None => return Err(e),
                    Some(_) => actix_web::ResponseError::error_response(&e),
                }
            }
        };
        if let Some(cookie) = self.cookie {
            match actix_web::http::header::HeaderValue::from_str(&cookie) {
                Ok(v) => {
                    response.headers_mut().append(actix_web::http::header::SET_COOKIE, v);
                }
                Err(e) => tracing::error!(step = what, error = %e, "capture cookie could not be set"),
            }
        }
        Ok(response)
    }
}

fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .insert_header(("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; media-src 'self' blob:"))
        .insert_header(("Permissions-Policy", "camera=(self)"))
        .body(body)
}

/// The page a consumed, revoked or expired one-time link gets (410 Gone). `retry` makes the page load
/// itself once more: a browser that opens its link again from a webmail page (a cross-site navigation)
/// does not send the SameSite=Strict capture cookie, but does on a navigation the page itself starts.
fn gone_page(retry: Option<&str>) -> HttpResponse {
    let refresh = retry
        .filter(|token| token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .map(|token| format!("<meta http-equiv=\"refresh\" content=\"0; url=/verify/{token}?retry=1\">"))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">{refresh}\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Link no longer valid</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem\">\
         <h1>{}</h1><p>Please ask the company that sent you this link for a new one.</p></body></html>",
        cmd::LINK_GONE
    );
    html(actix_web::http::StatusCode::GONE, body)
}

async fn page(state: web::Data<AppState>, req: HttpRequest, token: web::Path<String>) -> HttpResponse {
    // A GET never consumes a one-time link (mail scanners and chat previews fetch links); the first action
    // does. Opening the page through the session's own token starts capture (pending -> capturing). An
    // invalid token still gets the page, which shows its "expired or invalid" screen.
    let cred = credential(&req, token.into_inner());
    let access = match state.read.get() {
        Ok(conn) => cmd::link_access(&conn, &state.keyring, &cred, &state.now()),
        Err(e) => Err(e),
    };
    match access {
        Ok(LinkAccess::NotALink) => {
            let opened =
                cmd::capture(&state.writer, meta(&state, &req), SessionRef::Token(cred), CaptureStep::Open).await;
            if let Err(e) = opened {
                log_failure("open", &e);
            }
        }
        Ok(LinkAccess::Unused { .. } | LinkAccess::Bound { .. }) => {}
        Err(e @ AppError::Gone(_)) => {
            log_failure("open", &e);
            let first_try = cred.browser.is_none() && !req.query_string().split('&').any(|p| p == "retry=1");
            return gone_page(first_try.then_some(cred.token.as_str()));
        }
        Err(e) => log_failure("open", &e),
    }
    html(actix_web::http::StatusCode::OK, PAGE.to_string())
}

async fn session(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let conn = state.read.get()?;
    let cred = credential(&req, token.into_inner());
    let s = cmd::session_for_token(&conn, &state.keyring, &cred, &state.now())
        .inspect_err(|e| log_failure("session", e))?;
    Ok(HttpResponse::Ok().json(q::capture_state(&conn, &state.keyring, &s.id)?))
}

async fn step(
    state: &AppState,
    req: &HttpRequest,
    cred: &CaptureToken,
    step: CaptureStep,
) -> Result<HttpResponse, AppError> {
    let id = cmd::capture(&state.writer, meta(state, req), SessionRef::Token(cred.clone()), step).await?;
    state_of(state, &id).await
}

#[derive(Deserialize)]
struct ConsentBody {
    accepted: bool,
    consent_version: Option<String>,
}

async fn consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: ApiBody<ConsentBody>,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "consent", token.into_inner()).await?;
    let result = async {
        if !body.0.accepted {
            return Err(AppError::validation("accepted", "consent must be accepted to continue"));
        }
        let ip = req.peer_addr().map(|a| a.ip().to_string());
        let version = body.0.consent_version.unwrap_or_else(|| "2026-01".into());
        step(&state, &req, &a.cred, CaptureStep::Consent { version, ip }).await
    }
    .await;
    a.finish("consent", result)
}

#[derive(Deserialize)]
struct DocumentTypeBody {
    document_type: String,
}

async fn document_type(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: ApiBody<DocumentTypeBody>,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "document-type", token.into_inner()).await?;
    let result = step(&state, &req, &a.cred, CaptureStep::DocumentType(body.0.document_type)).await;
    a.finish("document-type", result)
}

async fn upload_as(
    state: &AppState,
    req: &HttpRequest,
    cred: &CaptureToken,
    doc_type: &str,
    bytes: Option<Vec<u8>>,
) -> Result<HttpResponse, AppError> {
    let bytes = bytes.ok_or_else(|| AppError::validation("file", "is required"))?;
    let step = prepare(doc_type, bytes).await?;
    let (mime, size) = match &step {
        CaptureStep::Upload { mime_type, bytes, .. } => (mime_type.clone(), bytes.len()),
        _ => (String::new(), 0),
    };
    cmd::capture(&state.writer, meta(state, req), SessionRef::Token(cred.clone()), step).await?;
    Ok(HttpResponse::Created().json(json!({ "doc_type": doc_type, "mime_type": mime, "size_bytes": size })))
}

async fn documents(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    upload: Upload,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "documents", token.into_inner()).await?;
    let result = async {
        let doc_type = upload
            .fields
            .get("document_type")
            .cloned()
            .ok_or_else(|| AppError::validation("document_type", "is required"))?;
        if doc_type == "selfie" {
            return Err(AppError::validation("document_type", "upload the selfie to /selfie"));
        }
        upload_as(&state, &req, &a.cred, &doc_type, upload.file).await
    }
    .await;
    a.finish("documents", result)
}

async fn selfie(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    upload: Upload,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "selfie", token.into_inner()).await?;
    let result = upload_as(&state, &req, &a.cred, "selfie", upload.file).await;
    a.finish("selfie", result)
}

const USER_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "middle_name",
    "date_of_birth",
    "document_number",
    "document_expiration_date",
    "nationality",
    "gender",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip_code",
    "mrz",
];

async fn user_data(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: ApiBody<Map<String, Value>>,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "user-data", token.into_inner()).await?;
    let result = confirm_user_data(&state, &req, &a.cred, body.0).await;
    a.finish("user-data", result)
}

async fn confirm_user_data(
    state: &AppState,
    req: &HttpRequest,
    cred: &CaptureToken,
    body: Map<String, Value>,
) -> Result<HttpResponse, AppError> {
    let today = state.now();
    let mut fields = BTreeMap::new();
    let mut errors = Vec::new();
    for (k, v) in body {
        if !USER_FIELDS.contains(&k.as_str()) {
            errors.push(FieldError::new(&k, "is not a capture field"));
            continue;
        }
        let Some(text) = v.as_str().map(str::trim).filter(|t| !t.is_empty()) else {
            if !v.is_null() && v.as_str().is_none() {
                errors.push(FieldError::new(&k, "must be a string"));
            }
            continue;
        };
        let parsed = match k.as_str() {
            "date_of_birth" => values::parse_date_of_birth(&k, text, &today),
            "document_expiration_date" => values::parse_date(&k, text),
            "nationality" => values::parse_country(&k, text),
            "email" => values::parse_email(&k, text),
            "phone" => values::parse_phone(&k, text),
            "mrz" if text.len() <= 300 => Ok(text.to_string()),
            "mrz" => Err(FieldError::new(&k, "is too long for a machine-readable zone")),
            _ => values::parse_text(&k, text, 200),
        };
        match parsed {
            Ok(v) => {
                fields.insert(k, v);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        // The person reads this page; each field's message is shown beside the field.
        return Err(AppError::Validation { detail: "Some details need correcting.".into(), errors });
    }
    let names: Vec<String> = fields.keys().cloned().collect();
    cmd::capture(&state.writer, meta(state, req), SessionRef::Token(cred.clone()), CaptureStep::UserData(fields))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "fields": names })))
}

#[derive(Deserialize)]
struct SignalsBody {
    signals: Option<Value>,
    device_fingerprint: Option<String>,
}

async fn fraud_signals(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: ApiBody<SignalsBody>,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "fraud-signals", token.into_inner()).await?;
    let result = async {
        let b = body.0;
        let signals = b.signals.unwrap_or(Value::Null);
        if signals.to_string().len() > 8192 {
            return Err(AppError::validation("signals", "must be at most 8 KB"));
        }
        let ip = req.peer_addr().map(|a| a.ip().to_string());
        let device = b.device_fingerprint.filter(|d| !d.is_empty() && d.len() <= 256);
        let step = CaptureStep::FraudSignals { signals, ip, device };
        cmd::capture(&state.writer, meta(&state, &req), SessionRef::Token(a.cred.clone()), step).await?;
        Ok(HttpResponse::Ok().json(json!({ "recorded": true })))
    }
    .await;
    a.finish("fraud-signals", result)
}

async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "complete", token.into_inner()).await?;
    let result = async {
        let meta = meta(&state, &req);
        let (id, status) = cmd::submit(&state.writer, meta.clone(), SessionRef::Token(a.cred.clone())).await?;
        if status == "processing" {
            super::sessions::spawn_processing(state.clone(), meta, id.clone());
        }
        Ok(HttpResponse::Ok().json(json!({ "session_id": id, "status": status })))
    }
    .await;
    a.finish("complete", result)
}

#[derive(Deserialize)]
struct OutcomeBody {
    outcome: String,
}

async fn sandbox_outcome(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: ApiBody<OutcomeBody>,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "sandbox-outcome", token.into_inner()).await?;
    let result = async {
        let action = match body.0.outcome.as_str() {
            "approve" => "approve",
            "reject" => "reject",
            "needs_review" => "needs_review",
            _ => return Err(AppError::validation("outcome", "must be approve, reject or needs_review")),
        };
        let at = SessionRef::Token(a.cred.clone());
        let (id, status, result) = cmd::simulate(&state.writer, meta(&state, &req), at, action.to_string()).await?;
        Ok(HttpResponse::Ok().json(json!({ "session_id": id, "status": status, "result_status": result })))
    }
    .await;
    a.finish("sandbox-outcome", result)
}

/// Decoding, hashing and barcode scanning take up to a second: off the async worker, on the blocking pool.
pub(crate) async fn prepare(doc_type: &str, bytes: Vec<u8>) -> Result<CaptureStep, AppError> {
    let doc_type = doc_type.to_string();
    web::block(move || cmd::prepare_upload(&doc_type, sniff_mime(&bytes), bytes))
        .await
        .map_err(|e| AppError::Internal(format!("upload preparation stopped: {e}")))?
}
