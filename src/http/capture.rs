//! The hosted capture flow under /verify/{token}: the page (served from the binary, no external
//! assets) and the token-authenticated JSON steps. The single-use token is the only credential.

use super::body::{sniff_mime, ApiBody, Upload};
use super::AppState;
use crate::commands::sessions::{self as cmd, CaptureStep, SessionRef};
use crate::domain::session::{SandboxOutcome, SimulateAction};
use crate::domain::values;
use crate::error::{AppError, FieldError};
use crate::queries::sessions as q;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const PAGE: &str = include_str!("capture_page.html");

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

async fn page(state: web::Data<AppState>, req: HttpRequest, token: web::Path<String>) -> HttpResponse {
    // Opening the page starts capture (pending -> capturing) and consumes a one-time link. An invalid
    // token still gets the page, which shows its "expired or invalid" screen.
    let _ =
        cmd::capture(&state.writer, meta(&state, &req), SessionRef::Token(token.into_inner()), CaptureStep::Open).await;
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("X-Frame-Options", "SAMEORIGIN"))
        .insert_header(("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; media-src 'self' blob:"))
        .insert_header(("Permissions-Policy", "camera=(self)"))
        .body(PAGE)
}

async fn session(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, AppError> {
    let conn = state.read.get()?;
    let s = cmd::session_for_token(&conn, &state.keyring, &token, &state.now())?;
    Ok(HttpResponse::Ok().json(q::capture_state(&conn, &state.keyring, &s.id)?))
}

async fn step(state: &AppState, req: &HttpRequest, token: String, step: CaptureStep) -> Result<HttpResponse, AppError> {
    let id = cmd::capture(&state.writer, meta(state, req), SessionRef::Token(token), step).await?;
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
    if !body.0.accepted {
        return Err(AppError::validation("accepted", "consent must be accepted to continue"));
    }
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    let version = body.0.consent_version.unwrap_or_else(|| "2026-01".into());
    step(&state, &req, token.into_inner(), CaptureStep::Consent { version, ip }).await
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
    step(&state, &req, token.into_inner(), CaptureStep::DocumentType(body.0.document_type)).await
}

async fn upload_as(
    state: &AppState,
    req: &HttpRequest,
    token: String,
    doc_type: &str,
    bytes: Option<Vec<u8>>,
) -> Result<HttpResponse, AppError> {
    let bytes = bytes.ok_or_else(|| AppError::validation("file", "is required"))?;
    let step = prepare(doc_type, bytes).await?;
    let (mime, size) = match &step {
        CaptureStep::Upload { mime_type, bytes, .. } => (mime_type.clone(), bytes.len()),
        _ => (String::new(), 0),
    };
    cmd::capture(&state.writer, meta(state, req), SessionRef::Token(token), step).await?;
    Ok(HttpResponse::Created().json(json!({ "doc_type": doc_type, "mime_type": mime, "size_bytes": size })))
}

async fn documents(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    upload: Upload,
) -> Result<HttpResponse, AppError> {
    let doc_type = upload
        .fields
        .get("document_type")
        .cloned()
        .ok_or_else(|| AppError::validation("document_type", "is required"))?;
    if doc_type == "selfie" {
        return Err(AppError::validation("document_type", "upload the selfie to /selfie"));
    }
    upload_as(&state, &req, token.into_inner(), &doc_type, upload.file).await
}

async fn selfie(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    upload: Upload,
) -> Result<HttpResponse, AppError> {
    upload_as(&state, &req, token.into_inner(), "selfie", upload.file).await
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
    let today = state.now();
    let mut fields = BTreeMap::new();
    let mut errors = Vec::new();
    for (k, v) in body.0 {
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
    cmd::capture(
        &state.writer,
        meta(&state, &req),
        SessionRef::Token(token.into_inner()),
        CaptureStep::UserData(fields),
    )
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
    let b = body.0;
    let signals = b.signals.unwrap_or(Value::Null);
    if signals.to_string().len() > 8192 {
        return Err(AppError::validation("signals", "must be at most 8 KB"));
    }
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    let device = b.device_fingerprint.filter(|d| !d.is_empty() && d.len() <= 256);
    cmd::capture(
        &state.writer,
        meta(&state, &req),
        SessionRef::Token(token.into_inner()),
        CaptureStep::FraudSignals { signals, ip, device },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "recorded": true })))
}

async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let meta = meta(&state, &req);
    let (id, status) = cmd::submit(&state.writer, meta.clone(), SessionRef::Token(token.into_inner())).await?;
    if status == "processing" {
        super::sessions::spawn_processing(state.clone(), meta, id.clone());
    }
    Ok(HttpResponse::Ok().json(json!({ "session_id": id, "status": status })))
}

#[derive(Deserialize)]
struct OutcomeBody {
    outcome: SandboxOutcome,
}

async fn sandbox_outcome(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: ApiBody<OutcomeBody>,
) -> Result<HttpResponse, AppError> {
    let action = match body.0.outcome {
        SandboxOutcome::Approve => SimulateAction::Approve,
        SandboxOutcome::Reject => SimulateAction::Reject,
        SandboxOutcome::NeedsReview => SimulateAction::NeedsReview,
    };
    let (id, status, result) =
        cmd::simulate(&state.writer, meta(&state, &req), SessionRef::Token(token.into_inner()), action).await?;
    Ok(HttpResponse::Ok().json(json!({ "session_id": id, "status": status, "result_status": result })))
}

/// Decoding, hashing and barcode scanning take up to a second: off the async worker, on the blocking pool.
pub(crate) async fn prepare(doc_type: &str, bytes: Vec<u8>) -> Result<CaptureStep, AppError> {
    let doc_type = doc_type.to_string();
    web::block(move || cmd::prepare_upload(&doc_type, sniff_mime(&bytes), bytes))
        .await
        .map_err(|e| AppError::Internal(format!("upload preparation stopped: {e}")))?
}
