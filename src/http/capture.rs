//! The hosted capture flow under /verify/{token}: the page (served from the binary, no external
//! assets) and the token-authenticated JSON steps. The token is the credential; a one-time link is
//! consumed by the person's first action and from then on also needs the capture cookie that action set.

use super::body::{sniff_mime, ApiBody, ApiPath, Upload};
use super::error::ErrorBody;
use super::AppState;
use crate::commands::sessions::{self as cmd, CaptureStep, CaptureToken, LinkAccess, SessionRef};
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
    crate::commands::CommandMeta {
        actor: "capture".into(),
        environment: String::new(),
        request_id,
        now: state.now(),
        origin: Some(super::reply::end_user_origin(req)),
    }
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
    let (keyring, id) = (state.keyring.clone(), id.to_string());
    Ok(HttpResponse::Ok().json(state.read(move |c| q::capture_state(c, &keyring, &id)).await?))
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

/// What the presented token is (a one-time link, used or not, or a session's own token).
async fn link_access(state: &AppState, cred: &CaptureToken) -> Result<LinkAccess, AppError> {
    let (keyring, now, cred) = (state.keyring.clone(), state.now(), cred.clone());
    state.read(move |c| cmd::link_access(c, &keyring, &cred, &now)).await
}

async fn admit(state: &AppState, req: &HttpRequest, what: &str, token: String) -> Result<Admitted, AppError> {
    let mut cred = credential(req, token);
    let access = link_access(state, &cred).await;
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

#[utoipa::path(get, path = "/verify/{token}", tag = "Capture", operation_id = "capture_page",
    params(("token" = String, Path, description = "The capture token or one-time link token")),
    responses(
        (status = 200, description = "The hosted capture page (an invalid token shows its expired-or-invalid screen)", content_type = "text/html", body = String),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired", content_type = "text/html", body = String)))]
#[tracing::instrument(skip_all)]
async fn page(state: web::Data<AppState>, req: HttpRequest, token: web::Path<String>) -> HttpResponse {
    // A GET never consumes a one-time link (mail scanners and chat previews fetch links); the first action
    // does. Opening the page through the session's own token starts capture (pending -> capturing). An
    // invalid token still gets the page, which shows its "expired or invalid" screen.
    let cred = credential(&req, token.into_inner());
    let access = link_access(&state, &cred).await;
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

#[utoipa::path(get, path = "/verify/{token}/session", tag = "Capture", operation_id = "capture_session",
    params(("token" = String, Path, description = "The capture token")),
    responses((status = 200, description = "What the capture page shows next", body = CaptureState),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn session(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
) -> Result<HttpResponse, AppError> {
    let cred = credential(&req, token.into_inner());
    let (keyring, now) = (state.keyring.clone(), state.now());
    let s = state
        .read(move |c| cmd::session_for_token(c, &keyring, &cred, &now))
        .await
        .inspect_err(|e| log_failure("session", e))?;
    state_of(&state, &s.id).await
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

/// The person's consent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    /// Must be true: consent is what lets capture continue.
    #[schema(schema_with = must_be_true)]
    accepted: bool,
    /// The version of the consent text shown (default `2026-01`): at most 40 characters, no control characters.
    #[schema(min_length = 1, max_length = 40, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    consent_version: Option<String>,
}

/// `accepted` admits only `true`: a refusal is not something the server can record as consent.
fn must_be_true() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([true]))
        .description(Some("Must be true: consent is what lets capture continue."))
        .build()
}

#[utoipa::path(post, path = "/verify/{token}/consent", tag = "Capture", operation_id = "capture_consent",
    params(("token" = String, Path, description = "The capture token")),
    request_body = ConsentBody,
    responses((status = 200, description = "Consent recorded", body = CaptureState),
        (status = 409, description = "The session cannot be captured in its status.", body = ErrorBody),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    body: ApiBody<ConsentBody>,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "consent", token.into_inner()).await?;
    let result = async {
        if !body.0.accepted {
            return Err(AppError::validation("accepted", "consent must be accepted to continue"));
        }
        let ip = req.peer_addr().map(|a| a.ip().to_string());
        let version = body.0.consent_version.unwrap_or_else(|| "2026-01".into());
        if version.chars().count() > 40 || version.chars().any(char::is_control) {
            return Err(AppError::validation("consent_version", "must be at most 40 printable characters"));
        }
        step(&state, &req, &a.cred, CaptureStep::Consent { version, ip }).await
    }
    .await;
    a.finish("consent", result)
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
        (status = 409, description = "The session cannot be captured in its status.", body = ErrorBody),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn document_type(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
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
    doc_type: UploadType,
    bytes: Option<Vec<u8>>,
) -> Result<HttpResponse, AppError> {
    let bytes = bytes.ok_or_else(|| AppError::validation("file", "is required"))?;
    let at = SessionRef::Token(cred.clone());
    let step = prepare(state, &at, doc_type.as_str(), bytes).await?;
    let (mime, size) = step.uploaded_file().unwrap_or_default();
    cmd::capture(&state.writer, meta(state, req), at, step).await?;
    Ok(HttpResponse::Created().json(CaptureUpload { doc_type, mime_type: mime, size_bytes: size }))
}

/// An image stored for the session.
#[derive(Debug, Serialize, ToSchema)]
struct CaptureUpload {
    doc_type: UploadType,
    #[schema(example = "image/jpeg")]
    mime_type: String,
    size_bytes: i64,
}

/// A document side (multipart/form-data); no other fields.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CaptureDocumentForm {
    document_type: CaptureDocumentType,
    /// A JPEG, PNG, WebP or PDF file, at most 10 MB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The selfie (multipart/form-data); no other fields.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SelfieForm {
    /// A JPEG, PNG or WebP image, at most 10 MB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(post, path = "/verify/{token}/documents", tag = "Capture", operation_id = "capture_document",
    params(("token" = String, Path, description = "The capture token")),
    request_body(content = CaptureDocumentForm, content_type = "multipart/form-data",
        encoding(("file" = (content_type = "image/jpeg, image/png, image/webp, application/pdf")))),
    responses((status = 201, description = "The image is stored", body = CaptureUpload),
        (status = 409, description = "Consent is missing or the session cannot be captured in its status.", body = ErrorBody),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired.", body = ErrorBody),
        (status = 422, description = "A field is missing or unknown, or the file is not a readable JPEG, PNG, WebP or PDF (`errors` names it).", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn documents(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    upload: Upload,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "documents", token.into_inner()).await?;
    let result = async {
        super::sessions::only_fields(&upload.fields, &["document_type"])?;
        let doc_type = super::sessions::upload_type(&upload.fields)?;
        if doc_type == UploadType::Selfie {
            return Err(AppError::validation("document_type", "upload the selfie to /selfie"));
        }
        upload_as(&state, &req, &a.cred, doc_type, upload.file).await
    }
    .await;
    a.finish("documents", result)
}

#[utoipa::path(post, path = "/verify/{token}/selfie", tag = "Capture", operation_id = "capture_selfie",
    params(("token" = String, Path, description = "The capture token")),
    request_body(content = SelfieForm, content_type = "multipart/form-data",
        encoding(("file" = (content_type = "image/jpeg, image/png, image/webp")))),
    responses((status = 201, description = "The selfie is stored", body = CaptureUpload),
        (status = 409, description = "Consent is missing or the session cannot be captured in its status.", body = ErrorBody),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired.", body = ErrorBody),
        (status = 422, description = "A field is unknown, or the file is not a readable JPEG, PNG or WebP photo (`errors` names it).", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn selfie(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    upload: Upload,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "selfie", token.into_inner()).await?;
    let result = match super::sessions::only_fields(&upload.fields, &[]) {
        Ok(()) => upload_as(&state, &req, &a.cred, UploadType::Selfie, upload.file).await,
        Err(e) => Err(e),
    };
    a.finish("selfie", result)
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
        (status = 409, description = "The session cannot be captured in its status.", body = ErrorBody),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn user_data(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
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
    // Blank form fields are not answers: drop them before the typed parse.
    let kept: Map<String, Value> =
        body.into_iter().filter(|(_, v)| !v.as_str().is_some_and(|t| t.trim().is_empty())).collect();
    let data: CaptureUserData = super::body::typed(Value::Object(kept)).map_err(|e| match e {
        // The person reads this page; each field's message is shown beside the field.
        AppError::Validation { errors, .. } => {
            AppError::Validation { detail: "Some details need correcting.".into(), errors }
        }
        other => other,
    })?;
    let mut fields = data.personal_data().into_map();
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
    cmd::capture(&state.writer, meta(state, req), SessionRef::Token(cred.clone()), CaptureStep::UserData(fields))
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
        (status = 409, description = "The session cannot be captured in its status.", body = ErrorBody),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn fraud_signals(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
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
        Ok(HttpResponse::Ok().json(SignalsRecorded { recorded: true }))
    }
    .await;
    a.finish("fraud-signals", result)
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
        (status = 409, description = "The session cannot be submitted in its status, or a required step is missing (`detail` names it).", body = ErrorBody),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "complete", token.into_inner()).await?;
    let result = async {
        let meta = meta(&state, &req);
        let (id, status) = cmd::submit(&state.writer, meta.clone(), SessionRef::Token(a.cred.clone())).await?;
        if status == "processing" {
            state.processing.spawn(meta, id.clone());
        }
        Ok(HttpResponse::Ok().json(CaptureCompleted {
            session_id: SessionId::from_stored(id),
            status: SessionStatus::from_stored(&status)?,
        }))
    }
    .await;
    a.finish("complete", result)
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
        (status = 409, description = "The session cannot take an outcome in its status.", body = ErrorBody),
        (status = 403, description = "The session is not a sandbox session.", body = ErrorBody),
        (status = 410, description = "The one-time link was used by another browser, revoked or expired.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn sandbox_outcome(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: ApiPath<String>,
    body: ApiBody<OutcomeBody>,
) -> Result<HttpResponse, AppError> {
    let a = admit(&state, &req, "sandbox-outcome", token.into_inner()).await?;
    let result = async {
        let action = match body.0.outcome {
            SandboxOutcome::Approve => SimulateAction::Approve,
            SandboxOutcome::Reject => SimulateAction::Reject,
            SandboxOutcome::NeedsReview => SimulateAction::NeedsReview,
        };
        let at = SessionRef::Token(a.cred.clone());
        let (id, status, result) = state.processing.simulate(meta(&state, &req), at, action).await?;
        Ok(HttpResponse::Ok().json(OutcomeApplied {
            session_id: SessionId::from_stored(id),
            status: SessionStatus::from_stored(&status)?,
            result_status: result.as_deref().map(ResultStatus::from_stored).transpose()?,
        }))
    }
    .await;
    a.finish("sandbox-outcome", result)
}

/// Decoding, hashing, barcode scanning, MRZ reading and sealing take up to a second: off the async worker,
/// on the CPU pool. The session's key is read first, so the writer stores the image already sealed.
pub(crate) async fn prepare(
    state: &AppState,
    at: &SessionRef,
    doc_type: &str,
    bytes: Vec<u8>,
) -> Result<CaptureStep, AppError> {
    let (keyring, lookup, now) = (state.keyring.clone(), at.clone(), state.now());
    // A session this cannot resolve is left to the write, which answers as it does for any step.
    let sealing = state.read(move |c| Ok(cmd::upload_key(c, &keyring, &lookup, &now))).await.unwrap_or(None);
    let (doc_type, mrz, printed, today) =
        (doc_type.to_string(), state.mrz.clone(), state.printed.clone(), state.today());
    state
        .cpu
        .run(move || cmd::prepare_upload(&doc_type, sniff_mime(&bytes), bytes, &mrz, &printed, today, sealing))
        .await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        page,
        session,
        consent,
        document_type,
        documents,
        selfie,
        user_data,
        fraud_signals,
        complete,
        sandbox_outcome
    ),
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
