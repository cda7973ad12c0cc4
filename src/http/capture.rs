//! The hosted capture flow under /verify/{token}: the page (served from the binary, no external
//! assets) and the token-authenticated JSON steps. The single-use token is the only credential.

use super::body::{sniff_mime, ApiBody, ApiPath, Upload};
use super::error::ErrorBody;
use super::AppState;
use crate::commands::sessions::{self as cmd, CaptureStep, SessionRef};
use crate::domain::ids::SessionId;
use crate::domain::session::{
    CaptureDocumentType, DocumentType, ResultStatus, SandboxOutcome, SessionStatus, SimulateAction, UploadType,
};
use crate::domain::values::CalendarDate;
use crate::error::AppError;
use crate::queries::sessions::{self as q, CaptureState};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

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

#[utoipa::path(get, path = "/verify/{token}/session", tag = "Capture", operation_id = "capture_session",
    params(("token" = String, Path, description = "The capture token")),
    responses((status = 200, description = "What the capture page shows next", body = CaptureState)))]
async fn session(state: web::Data<AppState>, token: ApiPath<String>) -> Result<HttpResponse, AppError> {
    let conn = state.read.get()?;
    let s = cmd::session_for_token(&conn, &state.keyring, &token, &state.now())?;
    Ok(HttpResponse::Ok().json(q::capture_state(&conn, &state.keyring, &s.id)?))
}

async fn step(state: &AppState, req: &HttpRequest, token: String, step: CaptureStep) -> Result<HttpResponse, AppError> {
    let id = cmd::capture(&state.writer, meta(state, req), SessionRef::Token(token), step).await?;
    state_of(state, &id).await
}

/// The person's consent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    /// Must be true to continue.
    accepted: bool,
    /// The version of the consent text shown (default `2026-01`).
    #[schema(min_length = 1, max_length = 40)]
    consent_version: Option<String>,
}

#[utoipa::path(post, path = "/verify/{token}/consent", tag = "Capture", operation_id = "capture_consent",
    params(("token" = String, Path, description = "The capture token")),
    request_body = ConsentBody,
    responses((status = 200, description = "Consent recorded", body = CaptureState),
        (status = 400, description = "The session cannot be captured in its status.", body = ErrorBody)))]
async fn consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    body: ApiBody<ConsentBody>,
) -> Result<HttpResponse, AppError> {
    if !body.0.accepted {
        return Err(AppError::validation("accepted", "consent must be accepted to continue"));
    }
    let ip = req.peer_addr().map(|a| a.ip().to_string());
    let version = body.0.consent_version.unwrap_or_else(|| "2026-01".into());
    if version.chars().count() > 40 || version.chars().any(char::is_control) {
        return Err(AppError::validation("consent_version", "must be at most 40 printable characters"));
    }
    step(&state, &req, token.into_inner(), CaptureStep::Consent { version, ip }).await
}

/// The document the person will photograph.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DocumentTypeBody {
    document_type: DocumentType,
}

#[utoipa::path(post, path = "/verify/{token}/document-type", tag = "Capture", operation_id = "capture_document_type",
    params(("token" = String, Path, description = "The capture token")),
    request_body = DocumentTypeBody,
    responses((status = 200, description = "The document type is chosen", body = CaptureState),
        (status = 400, description = "The session cannot be captured in its status.", body = ErrorBody)))]
async fn document_type(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    body: ApiBody<DocumentTypeBody>,
) -> Result<HttpResponse, AppError> {
    let chosen = body.0.document_type.as_str().to_string();
    step(&state, &req, token.into_inner(), CaptureStep::DocumentType(chosen)).await
}

async fn upload_as(
    state: &AppState,
    req: &HttpRequest,
    token: String,
    doc_type: UploadType,
    bytes: Option<Vec<u8>>,
) -> Result<HttpResponse, AppError> {
    let bytes = bytes.ok_or_else(|| AppError::validation("file", "is required"))?;
    let step = prepare(doc_type.as_str(), bytes).await?;
    let (mime, size) = match &step {
        CaptureStep::Upload { mime_type, bytes, .. } => (mime_type.clone(), bytes.len()),
        _ => (String::new(), 0),
    };
    cmd::capture(&state.writer, meta(state, req), SessionRef::Token(token), step).await?;
    Ok(HttpResponse::Created().json(CaptureUpload { doc_type, mime_type: mime, size_bytes: size as i64 }))
}

/// An image stored for the session.
#[derive(Debug, Serialize, ToSchema)]
struct CaptureUpload {
    doc_type: UploadType,
    #[schema(example = "image/jpeg")]
    mime_type: String,
    size_bytes: i64,
}

/// A document side (multipart/form-data).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
struct CaptureDocumentForm {
    document_type: CaptureDocumentType,
    /// A JPEG, PNG, WebP or PDF file, at most 10 MB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The selfie (multipart/form-data).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
struct SelfieForm {
    /// A JPEG, PNG or WebP image, at most 10 MB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(post, path = "/verify/{token}/documents", tag = "Capture", operation_id = "capture_document",
    params(("token" = String, Path, description = "The capture token")),
    request_body(content = CaptureDocumentForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "The image is stored", body = CaptureUpload),
        (status = 400, description = "Consent is missing or the session cannot be captured in its status.", body = ErrorBody)))]
async fn documents(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    upload: Upload,
) -> Result<HttpResponse, AppError> {
    let doc_type = super::sessions::upload_type(&upload.fields)?;
    if doc_type == UploadType::Selfie {
        return Err(AppError::validation("document_type", "upload the selfie to /selfie"));
    }
    upload_as(&state, &req, token.into_inner(), doc_type, upload.file).await
}

#[utoipa::path(post, path = "/verify/{token}/selfie", tag = "Capture", operation_id = "capture_selfie",
    params(("token" = String, Path, description = "The capture token")),
    request_body(content = SelfieForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "The selfie is stored", body = CaptureUpload),
        (status = 400, description = "Consent is missing or the session cannot be captured in its status.", body = ErrorBody)))]
async fn selfie(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    upload: Upload,
) -> Result<HttpResponse, AppError> {
    upload_as(&state, &req, token.into_inner(), UploadType::Selfie, upload.file).await
}

crate::personal_data_struct!(
    /// The personal data the person confirms, with the same limits as an identity's. Empty strings count as
    /// absent (blank form fields).
    pub struct CaptureUserData {
        /// The document's expiry date.
        pub document_expiration_date: Option<CalendarDate>,
        /// The document's machine-readable zone as read, at most 300 characters.
        #[schema(max_length = 300)]
        pub mrz: Option<String>,
    }
);

/// The fields that were saved.
#[derive(Debug, Serialize, ToSchema)]
struct UserDataSaved {
    fields: Vec<String>,
}

#[utoipa::path(post, path = "/verify/{token}/user-data", tag = "Capture", operation_id = "capture_user_data",
    params(("token" = String, Path, description = "The capture token")),
    request_body = CaptureUserData,
    responses((status = 200, description = "The data is saved", body = UserDataSaved),
        (status = 400, description = "The session cannot be captured in its status.", body = ErrorBody)))]
async fn user_data(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    body: ApiBody<Map<String, Value>>,
) -> Result<HttpResponse, AppError> {
    // Blank form fields are not answers: drop them before the typed parse.
    let kept: Map<String, Value> =
        body.0.into_iter().filter(|(_, v)| !v.as_str().is_some_and(|t| t.trim().is_empty())).collect();
    let data: CaptureUserData = super::body::typed(Value::Object(kept)).map_err(|e| match e {
        // The person reads this page; each field's message is shown beside the field.
        AppError::Validation { errors, .. } => {
            AppError::Validation { detail: "Some details need correcting.".into(), errors }
        }
        other => other,
    })?;
    let mut fields = data.personal_data();
    if let Some(d) = &data.document_expiration_date {
        fields.insert("document_expiration_date".into(), d.as_str().to_string());
    }
    if let Some(m) = data.mrz.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        if m.chars().count() > 300 {
            return Err(AppError::validation("mrz", "is too long for a machine-readable zone"));
        }
        fields.insert("mrz".into(), m.to_string());
    }
    let names: Vec<String> = fields.keys().cloned().collect();
    cmd::capture(
        &state.writer,
        meta(&state, &req),
        SessionRef::Token(token.into_inner()),
        CaptureStep::UserData(fields),
    )
    .await?;
    Ok(HttpResponse::Ok().json(UserDataSaved { fields: names }))
}

/// Signals the capture page observed (behaviour, automation), for the risk assessment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignalsBody {
    /// Free-form observations, at most 8 KB as JSON.
    #[schema(value_type = Option<Object>)]
    signals: Option<Value>,
    /// A device fingerprint; ignored when longer than 256 characters.
    device_fingerprint: Option<String>,
}

/// The signals were recorded.
#[derive(Debug, Serialize, ToSchema)]
struct SignalsRecorded {
    recorded: bool,
}

#[utoipa::path(post, path = "/verify/{token}/fraud-signals", tag = "Capture", operation_id = "capture_fraud_signals",
    params(("token" = String, Path, description = "The capture token")),
    request_body = SignalsBody,
    responses((status = 200, description = "Recorded", body = SignalsRecorded),
        (status = 400, description = "The session cannot be captured in its status.", body = ErrorBody)))]
async fn fraud_signals(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
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
    Ok(HttpResponse::Ok().json(SignalsRecorded { recorded: true }))
}

/// The session after capture.
#[derive(Debug, Serialize, ToSchema)]
struct CaptureCompleted {
    session_id: SessionId,
    /// `processing` (live) or `sandbox_pending` (sandbox).
    status: SessionStatus,
}

#[utoipa::path(post, path = "/verify/{token}/complete", tag = "Capture", operation_id = "capture_complete",
    params(("token" = String, Path, description = "The capture token")),
    responses((status = 200, description = "Capture is finished", body = CaptureCompleted),
        (status = 400, description = "The session cannot be submitted in its status.", body = ErrorBody),
        (status = 422, description = "A required step is missing (`errors` names it).", body = ErrorBody)))]
async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
) -> Result<HttpResponse, AppError> {
    let meta = meta(&state, &req);
    let (id, status) = cmd::submit(&state.writer, meta.clone(), SessionRef::Token(token.into_inner())).await?;
    if status == "processing" {
        super::sessions::spawn_processing(state.clone(), meta, id.clone());
    }
    Ok(HttpResponse::Ok().json(CaptureCompleted {
        session_id: SessionId::from_stored(id),
        status: SessionStatus::from_stored(&status)?,
    }))
}

/// The outcome picked on the sandbox capture page.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    outcome: SandboxOutcome,
}

/// The session after a sandbox outcome.
#[derive(Debug, Serialize, ToSchema)]
struct OutcomeApplied {
    session_id: SessionId,
    status: SessionStatus,
    result_status: Option<ResultStatus>,
}

#[utoipa::path(post, path = "/verify/{token}/sandbox-outcome", tag = "Capture", operation_id = "capture_sandbox_outcome",
    params(("token" = String, Path, description = "The capture token")),
    request_body = OutcomeBody,
    responses((status = 200, description = "The outcome is applied", body = OutcomeApplied),
        (status = 400, description = "The session cannot take an outcome in its status.", body = ErrorBody),
        (status = 403, description = "The session is not a sandbox session.", body = ErrorBody)))]
async fn sandbox_outcome(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    body: ApiBody<OutcomeBody>,
) -> Result<HttpResponse, AppError> {
    let action = match body.0.outcome {
        SandboxOutcome::Approve => SimulateAction::Approve,
        SandboxOutcome::Reject => SimulateAction::Reject,
        SandboxOutcome::NeedsReview => SimulateAction::NeedsReview,
    };
    let (id, status, result) =
        cmd::simulate(&state.writer, meta(&state, &req), SessionRef::Token(token.into_inner()), action).await?;
    Ok(HttpResponse::Ok().json(OutcomeApplied {
        session_id: SessionId::from_stored(id),
        status: SessionStatus::from_stored(&status)?,
        result_status: result.as_deref().map(ResultStatus::from_stored).transpose()?,
    }))
}

/// Decoding, hashing and barcode scanning take up to a second: off the async worker, on the blocking pool.
pub(crate) async fn prepare(doc_type: &str, bytes: Vec<u8>) -> Result<CaptureStep, AppError> {
    let doc_type = doc_type.to_string();
    web::block(move || cmd::prepare_upload(&doc_type, sniff_mime(&bytes), bytes))
        .await
        .map_err(|e| AppError::Internal(format!("upload preparation stopped: {e}")))?
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(session, consent, document_type, documents, selfie, user_data, fraud_signals, complete, sandbox_outcome),
    components(schemas(
        CaptureState,
        ConsentBody,
        DocumentTypeBody,
        CaptureUpload,
        CaptureDocumentForm,
        SelfieForm,
        CaptureUserData,
        UserDataSaved,
        SignalsBody,
        SignalsRecorded,
        CaptureCompleted,
        OutcomeBody,
        OutcomeApplied,
        CaptureDocumentType,
        DocumentType,
        SandboxOutcome
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
