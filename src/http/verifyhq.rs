//! The VerifyHQ dialect over HTTP (spec Appendix A): the `/v1` scope with its identity verifications (A.1),
//! document verifications (A.2), liveness sessions (A.3), biometric dedup (A.4), watchlist subscriptions
//! (A.5), IP intelligence (A.6), webhooks (A.8), the admin endpoint that creates API clients (A.9) and the
//! dialect's own OpenAPI document. camelCase
//! bodies, UPPER_CASE vocabularies and the `{statusCode, error, message, timestamp}` error shape; the gate
//! (`middleware::verifyhq_gate`) authenticates, limits and applies `Idempotency-Key`. Handlers parse, make
//! one call into `commands::verifyhq` or `queries::verifyhq`, and respond. Must not import rusqlite, the
//! store or crypto.

use super::body::MAX_UPLOAD_BYTES;
use super::body::{read_json_object, typed};
use super::error::{VerifyhqError, VerifyhqErrorBody};
use super::reply::Principal;
use super::AppState;
use crate::commands::api_keys::{self as key_cmd, CreateClient};
use crate::commands::verifyhq as cmd;
use crate::commands::webhooks as webhook_cmd;
use crate::domain::api_key::Environment;
use crate::domain::values::{CountryCode, ExternalRef, Label, PartialBirthDate, PersonName, WebhookUrl};
use crate::domain::verifyhq::{
    all_permissions, AlertStatus, ClientEnvironment, DocumentKind, Permission, ReviewDecision, Tier, WatchlistKind,
    WebhookEventName,
};
use crate::error::{AppError, FieldError};
use crate::queries::verifyhq::{
    self as q, DocumentVerification, DocumentVerificationPage, IdentityVerification, VerificationPage, VerifyhqWebhook,
};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{OpenApi, ToSchema};

type VhqResult = Result<HttpResponse, VerifyhqError>;

/// A JSON body with the dialect's camelCase field names; every refusal in the dialect's error shape.
pub struct VhqBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for VhqBody<T> {
    type Error = VerifyhqError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let value = read_json_object(&req, &mut payload).await?;
            Ok(VhqBody(typed(value)?))
        })
    }
}

/// The caller, put in the request by the gate.
struct Client(Principal);

impl FromRequest for Client {
    type Error = VerifyhqError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        std::future::ready(Principal::from_request(req, payload).into_inner().map(Client).map_err(VerifyhqError::from))
    }
}

impl Client {
    /// Passes when the client holds `permission` (A.9).
    fn require(&self, permission: &str) -> Result<(), VerifyhqError> {
        if self.0.key.scopes.iter().any(|p| p == permission) {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                code: "insufficient_permission",
                detail: format!("This API client lacks the permission {permission}."),
            }
            .into())
        }
    }
}

fn base_url(state: &AppState) -> String {
    state.config.public_url.clone().unwrap_or_default()
}

async fn read_verification(state: &AppState, client: &Client, id: String) -> Result<IdentityVerification, AppError> {
    let (keyring, env, base) = (state.keyring.clone(), client.0.env(), base_url(state));
    state.read(move |c| q::get(c, &keyring, &env, &id, &base)).await
}

/// `POST /v1/verifications/identity`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartVerificationBody {
    /// Your user's id: the identity's `external_ref` in the Verifa API (1 to 255 characters, no '/').
    #[schema(value_type = ExternalRef)]
    pub user_id: ExternalRef,
    /// BASIC (document), STANDARD (document and liveness) or ENHANCED (also sanctions screening).
    #[serde(default)]
    pub tier: Option<Tier>,
}

/// `POST /v1/verifications/identity/{id}/review`. Every field is required; they are read as optional so
/// that one answer names every missing or invalid field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewBody {
    #[schema(value_type = ReviewDecision, required = true)]
    pub decision: Option<String>,
    /// Who decided (recorded sealed, with the decision, in the review case).
    #[schema(value_type = Label, required = true)]
    pub reviewed_by: Option<Label>,
    /// Why (recorded sealed in the review case): some text other than spaces, at most 5000 characters.
    #[schema(value_type = String, required = true, example = "Document checked by hand against the selfie.",
        min_length = 1, max_length = 5000, pattern = "\\S")]
    pub review_notes: Option<String>,
}

impl ReviewBody {
    fn checked(self) -> Result<(ReviewDecision, String, String), AppError> {
        let mut errors = Vec::new();
        let decision = match self.decision.as_deref() {
            None => {
                errors.push(FieldError::new("decision", "is required"));
                None
            }
            Some(d) => match ReviewDecision::parse(d) {
                Some(d) => Some(d),
                None => {
                    errors.push(FieldError::new("decision", "must be one of: VERIFIED, REJECTED"));
                    None
                }
            },
        };
        let reviewed_by = self.reviewed_by.map(Label::into_string).unwrap_or_default();
        if reviewed_by.is_empty() {
            errors.push(FieldError::new("reviewedBy", "is required"));
        }
        let notes = self.review_notes.unwrap_or_default().trim().to_string();
        if notes.is_empty() || notes.chars().count() > 5000 {
            errors.push(FieldError::new("reviewNotes", "is required: 1 to 5000 characters"));
        }
        match decision {
            Some(decision) if errors.is_empty() => Ok((decision, reviewed_by, notes)),
            _ => Err(AppError::fields(errors)),
        }
    }
}

#[utoipa::path(post, path = "/v1/verifications/identity", tag = "Identity verification",
    operation_id = "start_identity_verification", request_body = StartVerificationBody,
    responses(
        (status = 201, description = "The new verification, or the user's active (PENDING or IN_PROGRESS) one", body = IdentityVerification),
        (status = 401, description = "Missing or invalid API key", body = VerifyhqErrorBody),
        (status = 403, description = "The client lacks identity:write", body = VerifyhqErrorBody),
        (status = 409, description = "The tier's workflow was deactivated", body = VerifyhqErrorBody),
        (status = 422, description = "A field is missing or invalid", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn start(state: web::Data<AppState>, client: Client, body: VhqBody<StartVerificationBody>) -> VhqResult {
    client.require("identity:write")?;
    let b = body.0;
    let tier = b.tier.unwrap_or(Tier::Basic);
    let started = cmd::start(&state.writer, state.keyring.clone(), client.0.meta(state.now()), b.user_id, tier).await?;
    let v = read_verification(&state, &client, started.id).await?;
    Ok(HttpResponse::Created().json(v))
}

#[utoipa::path(get, path = "/v1/verifications/identity/{id}", tag = "Identity verification",
    operation_id = "get_identity_verification",
    params(("id" = String, Path, description = "The verification's id")),
    responses(
        (status = 200, description = "The verification", body = IdentityVerification),
        (status = 401, description = "Missing or invalid API key", body = VerifyhqErrorBody),
        (status = 404, description = "No such verification", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn get(state: web::Data<AppState>, client: Client, path: web::Path<String>) -> VhqResult {
    client.require("identity:read")?;
    Ok(HttpResponse::Ok().json(read_verification(&state, &client, path.into_inner()).await?))
}

/// `page` from 1 and `limit` from 1 to 100 (default 20), or a 422 naming the parameter.
fn page_and_limit(query: &HashMap<String, String>) -> Result<(i64, i64), AppError> {
    let number = |name: &str, default: i64, max: i64| -> Result<i64, FieldError> {
        match query.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(FieldError::new(name, format!("must be an integer from 1 to {max}"))),
            },
        }
    };
    let (page, limit) = (number("page", 1, 1_000_000), number("limit", 20, 100));
    let errors: Vec<FieldError> = [&page, &limit].iter().filter_map(|r| r.as_ref().err().cloned()).collect();
    match (page, limit) {
        (Ok(p), Ok(l)) => Ok((p, l)),
        _ => Err(AppError::fields(errors)),
    }
}

#[utoipa::path(get, path = "/v1/verifications/identity/user/{userId}", tag = "Identity verification",
    operation_id = "list_user_identity_verifications",
    params(
        ("userId" = String, Path, description = "Your user's id"),
        ("page" = Option<i64>, Query, description = "Page number from 1", minimum = 1, maximum = 1000000),
        ("limit" = Option<i64>, Query, description = "Items per page, 1 to 100 (default 20)", minimum = 1, maximum = 100)),
    responses(
        (status = 200, description = "The user's verifications, newest first", body = VerificationPage),
        (status = 401, description = "Missing or invalid API key", body = VerifyhqErrorBody),
        (status = 422, description = "A bad page or limit", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn by_user(
    state: web::Data<AppState>,
    client: Client,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> VhqResult {
    client.require("identity:read")?;
    let (page, limit) = page_and_limit(&query)?;
    let (keyring, env, base, user) = (state.keyring.clone(), client.0.env(), base_url(&state), path.into_inner());
    let list = state.read(move |c| q::by_user(c, &keyring, &env, &user, page, limit, &base)).await?;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(post, path = "/v1/verifications/identity/{id}/review", tag = "Identity verification",
    operation_id = "review_identity_verification", request_body = ReviewBody,
    params(("id" = String, Path, description = "The verification's id")),
    responses(
        (status = 200, description = "The verification, VERIFIED or REJECTED", body = IdentityVerification),
        (status = 401, description = "Missing or invalid API key", body = VerifyhqErrorBody),
        (status = 404, description = "No such verification", body = VerifyhqErrorBody),
        (status = 409, description = "Not PENDING or MANUAL_REVIEW, or its case is held by a reviewer", body = VerifyhqErrorBody),
        (status = 422, description = "A field is missing or invalid", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn review(
    state: web::Data<AppState>,
    client: Client,
    path: web::Path<String>,
    body: VhqBody<ReviewBody>,
) -> VhqResult {
    client.require("identity:write")?;
    let (decision, reviewed_by, notes) = body.0.checked()?;
    let meta = client.0.meta(state.now());
    let id = cmd::review(&state.writer, meta, path.into_inner(), decision, reviewed_by, notes).await?;
    Ok(HttpResponse::Ok().json(read_verification(&state, &client, id).await?))
}

#[utoipa::path(post, path = "/v1/verifications/identity/{id}/restart", tag = "Identity verification",
    operation_id = "restart_identity_verification",
    params(("id" = String, Path, description = "The verification's id")),
    responses(
        (status = 201, description = "The user's next verification, of the same tier", body = IdentityVerification),
        (status = 401, description = "Missing or invalid API key", body = VerifyhqErrorBody),
        (status = 404, description = "No such verification", body = VerifyhqErrorBody),
        (status = 409, description = "The verification is VERIFIED, MANUAL_REVIEW or being processed", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn restart(state: web::Data<AppState>, client: Client, path: web::Path<String>) -> VhqResult {
    client.require("identity:write")?;
    let meta = client.0.meta(state.now());
    let started = cmd::restart(&state.writer, state.keyring.clone(), meta, path.into_inner()).await?;
    Ok(HttpResponse::Created().json(read_verification(&state, &client, started.id).await?))
}

/// `POST /v1/admin/api-clients`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateClientBody {
    #[schema(value_type = Label, example = "Marketplace backend")]
    pub name: Label,
    /// The client's permissions; absent: all of them.
    #[serde(default)]
    pub permissions: Option<Vec<Permission>>,
    /// Requests per minute (absent: the server's limit).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000, example = 100)]
    pub rate_limit: Option<u32>,
    /// Addition: `live` (a `vhq_live_` key, the default) or `test` (a `vhq_test_` key, the sandbox).
    #[serde(default)]
    pub environment: Option<ClientEnvironment>,
}

/// A new API client: the only time its key is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedClient {
    pub id: String,
    pub name: String,
    /// Shown once; stored only as a keyed hash.
    #[schema(example = "vhq_live_...")]
    pub api_key: String,
    #[schema(value_type = Vec<Permission>)]
    pub permissions: Vec<String>,
    /// Requests per minute.
    pub rate_limit: u64,
    #[schema(value_type = ClientEnvironment)]
    pub environment: String,
    pub message: String,
}

/// Whether `X-Admin-Secret` matches the configured secret (compared by keyed hash, in constant time).
fn admin_allowed(state: &AppState, req: &HttpRequest) -> Result<(), AppError> {
    let Some(configured) = state.config.admin_secret.as_deref() else {
        return Err(AppError::Forbidden {
            code: "admin_disabled",
            detail: "The admin API is off: start idv with IDV_ADMIN_SECRET set, or use `idv keys create --verifyhq`."
                .into(),
        });
    };
    let given = req.headers().get("x-admin-secret").and_then(|v| v.to_str().ok()).unwrap_or("");
    let digest = |s: &str| blake3::keyed_hash(&[7u8; 32], s.as_bytes());
    // blake3::Hash compares in constant time.
    if given.is_empty() || digest(given) != digest(configured) {
        return Err(AppError::Unauthorized("Invalid or missing X-Admin-Secret.".into()));
    }
    Ok(())
}

#[utoipa::path(post, path = "/v1/admin/api-clients", tag = "Admin",
    operation_id = "create_api_client", request_body = CreateClientBody,
    params(("X-Admin-Secret" = String, Header, description = "The secret the operator configured (IDV_ADMIN_SECRET)")),
    responses(
        (status = 201, description = "The client and its key, shown once", body = CreatedClient),
        (status = 401, description = "Missing or wrong X-Admin-Secret", body = VerifyhqErrorBody),
        (status = 403, description = "The admin API is off (no secret configured)", body = VerifyhqErrorBody),
        (status = 422, description = "A field is missing or invalid", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all)]
async fn create_client(state: web::Data<AppState>, req: HttpRequest, body: VhqBody<CreateClientBody>) -> VhqResult {
    admin_allowed(&state, &req)?;
    let b = body.0;
    let environment = match b.environment {
        None | Some(ClientEnvironment::Live) => Environment::Live,
        Some(ClientEnvironment::Test) => Environment::Sandbox,
    };
    let permissions = match b.permissions {
        Some(list) => list.iter().map(|p| p.as_str().to_string()).collect(),
        None => all_permissions(),
    };
    let name = b.name.as_str().to_string();
    let meta = crate::commands::CommandMeta {
        origin: Some(super::reply::org_origin(&req)),
        ..crate::commands::CommandMeta::untraced("admin", environment.as_str(), state.now())
    };
    let input =
        CreateClient { name: b.name, environment, permissions: permissions.clone(), rate_limit_rpm: b.rate_limit };
    let created = key_cmd::create_client(&state.writer, meta, input).await?;
    state.auth.invalidate();
    Ok(HttpResponse::Created().json(CreatedClient {
        id: created.id,
        name,
        api_key: created.secret,
        permissions,
        rate_limit: b.rate_limit.map(u64::from).unwrap_or(state.config.rate_limit_rpm),
        environment: if environment == Environment::Live { "live".into() } else { "test".into() },
        message: "Store this API key securely: it is shown only once.".into(),
    }))
}

/// The multipart body of `POST /v1/verifications/document`: text fields and the two images (each at most
/// 10 MB).
pub struct DocumentForm {
    fields: HashMap<String, String>,
    front: Option<Vec<u8>>,
    back: Option<Vec<u8>>,
}

impl FromRequest for DocumentForm {
    type Error = VerifyhqError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = super::body::read_form(
            req,
            payload,
            &["frontImage", "backImage"],
            2 * MAX_UPLOAD_BYTES,
            "Send the document as multipart/form-data with userId, documentType, documentCountry, frontImage and backImage.",
        );
        Box::pin(async move {
            let mut form = form.await?;
            let mut image = |name: &str| -> Result<Option<Vec<u8>>, VerifyhqError> {
                match form.files.remove(name) {
                    Some((_, bytes)) if bytes.len() > MAX_UPLOAD_BYTES => {
                        Err(AppError::PayloadTooLarge(format!("{name} is over 10 MB.")).into())
                    }
                    Some((_, bytes)) => Ok(Some(bytes)),
                    None => Ok(None),
                }
            };
            let (front, back) = (image("frontImage")?, image("backImage")?);
            Ok(DocumentForm { fields: form.fields, front, back })
        })
    }
}

/// The form's fields, checked together: every refusal named in one answer.
fn document_input(
    form: DocumentForm,
) -> Result<(ExternalRef, DocumentKind, CountryCode, Vec<u8>, Option<Vec<u8>>), AppError> {
    let mut errors = Vec::new();
    let field = |name: &str| form.fields.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let user_id = match field("userId") {
        None => {
            errors.push(FieldError::new("userId", "is required"));
            None
        }
        Some(v) => ExternalRef::parse("userId", v).map_err(|e| errors.push(e)).ok(),
    };
    let kind = match field("documentType") {
        None => {
            errors.push(FieldError::new("documentType", "is required"));
            None
        }
        Some(v) => DocumentKind::parse(v).or_else(|| {
            errors.push(FieldError::new(
                "documentType",
                "must be one of: ID_CARD, PASSPORT, DRIVER_LICENSE, RESIDENCE_PERMIT",
            ));
            None
        }),
    };
    let country = match field("documentCountry") {
        None => {
            errors.push(FieldError::new("documentCountry", "is required"));
            None
        }
        Some(v) => CountryCode::parse("documentCountry", v).map_err(|e| errors.push(e)).ok(),
    };
    if form.front.is_none() {
        errors.push(FieldError::new("frontImage", "is required"));
    }
    if form.back.is_none() && kind.is_some_and(|k| k != DocumentKind::Passport) {
        errors.push(FieldError::new("backImage", "is required for this documentType (optional for a PASSPORT)"));
    }
    match (user_id, kind, country, form.front) {
        (Some(u), Some(k), Some(c), Some(front)) if errors.is_empty() => Ok((u, k, c, front, form.back)),
        _ => Err(AppError::fields(errors)),
    }
}

/// Reads an image on the CPU pool; a refusal names the form field.
async fn prepared(
    state: &AppState,
    field: &'static str,
    bytes: Vec<u8>,
) -> Result<crate::commands::documents::Prepared, AppError> {
    let (mrz, printed, today) = (state.mrz.clone(), state.printed.clone(), state.today());
    let mime = super::body::sniff_mime(&bytes).filter(|m| *m != "application/pdf");
    state.cpu.run(move || crate::commands::documents::prepare(mime, bytes, &mrz, &printed, today)).await.map_err(|e| {
        match e {
            AppError::Validation { errors, .. } => {
                let message = errors.first().map(|f| f.message.clone()).unwrap_or_default();
                let message =
                    if message.contains("JPEG") { "must be a JPEG, PNG or WebP image".into() } else { message };
                AppError::validation(field, message)
            }
            other => other,
        }
    })
}

#[utoipa::path(post, path = "/v1/verifications/document", tag = "Document verification",
    operation_id = "verify_document",
    request_body(content = DocumentUploadSchema, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The document verification, decided (the images are read as they arrive)", body = DocumentVerification),
        (status = 403, description = "The client lacks document:write", body = VerifyhqErrorBody),
        (status = 409, description = "The user's identity was redacted: its documents can no longer be stored", body = VerifyhqErrorBody),
        (status = 413, description = "An image is over 10 MB", body = VerifyhqErrorBody),
        (status = 415, description = "Not multipart/form-data", body = VerifyhqErrorBody),
        (status = 422, description = "A field is missing or invalid, or an image cannot be read", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn verify_document(state: web::Data<AppState>, client: Client, form: DocumentForm) -> VhqResult {
    client.require("document:write")?;
    let (user_id, kind, country, front, back) = document_input(form)?;
    let front = prepared(&state, "frontImage", front).await?;
    let back = match back {
        Some(b) => Some(prepared(&state, "backImage", b).await?),
        None => None,
    };
    let input = cmd::DocumentInput { user_id, kind, country, front, back };
    let id = cmd::verify_document(&state.writer, client.0.meta(state.now()), input, state.today()).await?;
    Ok(HttpResponse::Created().json(read_document(&state, &client, id).await?))
}

async fn read_document(state: &AppState, client: &Client, id: String) -> Result<q::DocumentVerification, AppError> {
    let (keyring, env, base, now) =
        (state.keyring.clone(), client.0.env(), base_url(state), state.clock.now().unix_timestamp());
    state.read(move |c| q::document(c, &keyring, &env, &id, &base, now)).await
}

#[utoipa::path(get, path = "/v1/verifications/document/{id}", tag = "Document verification",
    operation_id = "get_document_verification",
    params(("id" = String, Path, description = "The document verification's id")),
    responses(
        (status = 200, description = "The document verification", body = DocumentVerification),
        (status = 403, description = "The client lacks document:read", body = VerifyhqErrorBody),
        (status = 404, description = "No such document verification", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn get_document(state: web::Data<AppState>, client: Client, path: web::Path<String>) -> VhqResult {
    client.require("document:read")?;
    Ok(HttpResponse::Ok().json(read_document(&state, &client, path.into_inner()).await?))
}

#[utoipa::path(get, path = "/v1/verifications/document/user/{userId}", tag = "Document verification",
    operation_id = "list_user_document_verifications",
    params(
        ("userId" = String, Path, description = "Your user's id"),
        ("page" = Option<i64>, Query, description = "Page number from 1", minimum = 1, maximum = 1000000),
        ("limit" = Option<i64>, Query, description = "Items per page, 1 to 100 (default 20)", minimum = 1, maximum = 100)),
    responses(
        (status = 200, description = "The user's document verifications, newest first", body = DocumentVerificationPage),
        (status = 403, description = "The client lacks document:read", body = VerifyhqErrorBody),
        (status = 422, description = "A bad page or limit", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn documents_by_user(
    state: web::Data<AppState>,
    client: Client,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> VhqResult {
    client.require("document:read")?;
    let paging = page_and_limit(&query)?;
    let (keyring, env, base, user) = (state.keyring.clone(), client.0.env(), base_url(&state), path.into_inner());
    let now = state.clock.now().unix_timestamp();
    let list = state.read(move |c| q::documents_by_user(c, &keyring, &env, &user, paging, &base, now)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The multipart form of `POST /v1/verifications/document`, for the document.
#[derive(ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DocumentUploadSchema {
    #[schema(example = "user_123")]
    user_id: String,
    document_type: DocumentKind,
    /// ISO 3166-1 alpha-2.
    #[schema(example = "NL", pattern = "^[A-Za-z]{2}$")]
    document_country: String,
    /// JPEG, PNG or WebP, at most 10 MB.
    #[schema(value_type = String, format = Binary)]
    front_image: Vec<u8>,
    /// Required except for a PASSPORT.
    #[schema(value_type = Option<String>, format = Binary)]
    back_image: Option<Vec<u8>>,
}

/// `POST /v1/biometrics/dedup/check`: a JSON body carrying an image, so its own size limit (a 10 MB image
/// in base64, and the rest of the body).
pub struct DedupBody(DedupCheckBody);

const DEDUP_BODY_LIMIT: usize = MAX_UPLOAD_BYTES / 3 * 4 + 64 * 1024;

impl FromRequest for DedupBody {
    type Error = VerifyhqError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let value = super::body::read_json_object_within(&req, &mut payload, DEDUP_BODY_LIMIT).await?;
            Ok(DedupBody(typed(value)?))
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DedupCheckBody {
    #[schema(value_type = ExternalRef)]
    pub user_id: ExternalRef,
    /// The selfie, base64 (JPEG, PNG or WebP; at most 10 MB decoded).
    #[schema(format = Byte, min_length = 4)]
    pub selfie_base64: String,
    /// `image/jpeg`, `image/png` or `image/webp`: what the image is.
    #[schema(example = "image/jpeg")]
    pub selfie_mime_type: String,
    /// The similarity a match must reach, 0.5 to 1 (default 0.90).
    #[serde(default)]
    #[schema(minimum = 0.5, maximum = 1.0, example = 0.9)]
    pub threshold: Option<f64>,
    /// Keep the selfie for later checks (default true).
    #[serde(default)]
    pub enroll: Option<bool>,
}

#[utoipa::path(post, path = "/v1/biometrics/dedup/check", tag = "Biometric dedup", operation_id = "check_duplicates",
    request_body = DedupCheckBody,
    responses(
        (status = 201, description = "The check: UNIQUE, or DUPLICATE with the users whose selfie matches", body = q::DedupCheck),
        (status = 403, description = "The client lacks biometrics:write", body = VerifyhqErrorBody),
        (status = 413, description = "The selfie is over 10 MB", body = VerifyhqErrorBody),
        (status = 422, description = "A field is missing or invalid, or the selfie is not a readable image", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn check_duplicates(state: web::Data<AppState>, client: Client, body: DedupBody) -> VhqResult {
    client.require("biometrics:write")?;
    let b = body.0;
    let threshold = b.threshold.unwrap_or(crate::domain::verifyhq::DEDUP_DEFAULT_THRESHOLD);
    if !(0.5..=1.0).contains(&threshold) {
        return Err(AppError::validation("threshold", "must be from 0.5 to 1").into());
    }
    let selfie = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b.selfie_base64.trim())
        .map_err(|_| AppError::validation("selfieBase64", "is not base64"))?;
    if selfie.len() > MAX_UPLOAD_BYTES {
        return Err(AppError::PayloadTooLarge("selfieBase64 is over 10 MB.".into()).into());
    }
    let sniffed = super::body::sniff_mime(&selfie).filter(|m| m.starts_with("image/"));
    let declared = b.selfie_mime_type.trim().to_ascii_lowercase().replace("image/jpg", "image/jpeg");
    match sniffed {
        None => return Err(AppError::validation("selfieBase64", "must be a JPEG, PNG or WebP image").into()),
        Some(m) if m != declared => {
            return Err(AppError::validation("selfieMimeType", format!("does not match the image, which is {m}")).into())
        }
        Some(_) => {}
    }
    let (hash, selfie) = state.cpu.run(move || Ok((crate::checks::imagehash::phash(&selfie), selfie))).await?;
    let selfie_hash = hash.map_err(|_| AppError::validation("selfieBase64", "is not a readable image"))?;
    let input =
        cmd::DedupInput { user_id: b.user_id, selfie, selfie_hash, threshold, enroll: b.enroll.unwrap_or(true) };
    let meta = client.0.meta(state.now());
    let id = cmd::check_duplicates(&state.read, &state.writer, state.keyring.clone(), meta, input).await?;
    let env = client.0.env();
    Ok(HttpResponse::Created().json(state.read(move |c| q::dedup_check(c, &env, &id)).await?))
}

#[utoipa::path(get, path = "/v1/biometrics/dedup/{id}", tag = "Biometric dedup", operation_id = "get_dedup_check",
    params(("id" = String, Path, description = "The check's id")),
    responses(
        (status = 200, description = "The check", body = q::DedupCheck),
        (status = 403, description = "The client lacks biometrics:read", body = VerifyhqErrorBody),
        (status = 404, description = "No such check", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn get_dedup(state: web::Data<AppState>, client: Client, path: web::Path<String>) -> VhqResult {
    client.require("biometrics:read")?;
    let (env, id) = (client.0.env(), path.into_inner());
    Ok(HttpResponse::Ok().json(state.read(move |c| q::dedup_check(c, &env, &id)).await?))
}

/// `POST /v1/monitoring/watchlist/subscribe`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeBody {
    #[schema(value_type = ExternalRef)]
    pub user_id: ExternalRef,
    /// Given names then family name; the last word is taken as the family name.
    #[schema(value_type = PersonName, example = "Maria Jose Garcia")]
    pub full_name: PersonName,
    #[serde(default)]
    #[schema(value_type = Option<PartialBirthDate>)]
    pub date_of_birth: Option<PartialBirthDate>,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    #[schema(value_type = Option<CountryCode>)]
    pub nationality: Option<CountryCode>,
    /// The kinds of list to watch; SANCTIONS must be one (PEP and ADVERSE_MEDIA are answered as unavailable).
    #[schema(min_items = 1)]
    pub lists: Vec<WatchlistKind>,
}

impl SubscribeBody {
    fn checked(self) -> Result<cmd::SubscribeInput, AppError> {
        let words: Vec<&str> = self.full_name.as_str().split_whitespace().collect();
        let Some((last, given)) = words.split_last() else {
            return Err(AppError::validation("fullName", "is required"));
        };
        let name =
            |field: &str, v: &str| PersonName::parse(field, v).map_err(|e| AppError::validation(&e.field, e.message));
        let first_name = if given.is_empty() { None } else { Some(name("fullName", &given.join(" "))?) };
        if self.lists.is_empty() {
            return Err(AppError::validation("lists", "must name at least one list"));
        }
        Ok(cmd::SubscribeInput {
            user_id: self.user_id,
            first_name,
            last_name: name("fullName", last)?,
            date_of_birth: self.date_of_birth,
            nationality: self.nationality,
            lists: self.lists,
        })
    }
}

#[utoipa::path(post, path = "/v1/monitoring/watchlist/subscribe", tag = "Watchlist monitoring",
    operation_id = "subscribe_watchlist", request_body = SubscribeBody,
    responses(
        (status = 201, description = "The subscription; the user is screened now and again on every list import", body = q::Subscription),
        (status = 403, description = "The client lacks monitoring:write", body = VerifyhqErrorBody),
        (status = 409, description = "The user's identity was redacted or archived", body = VerifyhqErrorBody),
        (status = 422, description = "A field is missing or invalid, or no requested list can be watched", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn subscribe(state: web::Data<AppState>, client: Client, body: VhqBody<SubscribeBody>) -> VhqResult {
    client.require("monitoring:write")?;
    let input = body.0.checked()?;
    let snapshot = state.screening.current();
    let meta = client.0.meta(state.now());
    let id = cmd::subscribe(&state.writer, &state.cpu, state.keyring.clone(), snapshot, meta, input).await?;
    let env = client.0.env();
    Ok(HttpResponse::Created().json(state.read(move |c| q::subscription(c, &env, &id)).await?))
}

#[utoipa::path(delete, path = "/v1/monitoring/watchlist/subscribe/{id}", tag = "Watchlist monitoring",
    operation_id = "cancel_watchlist_subscription",
    params(("id" = String, Path, description = "The subscription's id")),
    responses(
        (status = 200, description = "Cancelled (`status: CANCELLED`, `cancelledAt`)", body = q::Subscription),
        (status = 403, description = "The client lacks monitoring:write", body = VerifyhqErrorBody),
        (status = 404, description = "No such subscription", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn cancel_subscription(state: web::Data<AppState>, client: Client, path: web::Path<String>) -> VhqResult {
    client.require("monitoring:write")?;
    let id = cmd::cancel_subscription(&state.writer, client.0.meta(state.now()), path.into_inner()).await?;
    let env = client.0.env();
    Ok(HttpResponse::Ok().json(state.read(move |c| q::subscription(c, &env, &id)).await?))
}

#[utoipa::path(get, path = "/v1/monitoring/watchlist/alerts", tag = "Watchlist monitoring", operation_id = "list_watchlist_alerts",
    params(
        ("userId" = Option<String>, Query, description = "One user's alerts"),
        ("status" = Option<AlertStatus>, Query, description = "OPEN, REVIEWED or DISMISSED"),
        ("page" = Option<i64>, Query, description = "Page number from 1", minimum = 1, maximum = 1000000),
        ("limit" = Option<i64>, Query, description = "Items per page, 1 to 100 (default 20)", minimum = 1, maximum = 100)),
    responses(
        (status = 200, description = "Alerts, newest first", body = q::AlertPage),
        (status = 403, description = "The client lacks monitoring:read", body = VerifyhqErrorBody),
        (status = 422, description = "A bad filter, page or limit", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn alerts(state: web::Data<AppState>, client: Client, query: web::Query<HashMap<String, String>>) -> VhqResult {
    client.require("monitoring:read")?;
    let paging = page_and_limit(&query)?;
    let status = match query.get("status").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(AlertStatus::parse_field("status", s)?),
    };
    let user = query.get("userId").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let env = client.0.env();
    Ok(HttpResponse::Ok().json(state.read(move |c| q::alerts(c, &env, user.as_deref(), status, paging)).await?))
}

/// `POST /v1/verifications/liveness/session`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LivenessSessionBody {
    #[schema(value_type = ExternalRef)]
    pub user_id: ExternalRef,
}

async fn read_liveness(state: &AppState, client: &Client, token: String) -> Result<q::LivenessSession, AppError> {
    let (env, now) = (client.0.env(), state.now());
    state.read(move |c| q::liveness(c, &env, &token, &now)).await
}

#[utoipa::path(post, path = "/v1/verifications/liveness/session", tag = "Liveness", operation_id = "start_liveness",
    request_body = LivenessSessionBody,
    responses(
        (status = 201, description = "The session: its token, 2 or 3 random challenges, 10 minutes to complete them", body = q::LivenessSession),
        (status = 403, description = "The client lacks liveness:write", body = VerifyhqErrorBody),
        (status = 422, description = "A field is missing or invalid", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn start_liveness(state: web::Data<AppState>, client: Client, body: VhqBody<LivenessSessionBody>) -> VhqResult {
    client.require("liveness:write")?;
    let token = cmd::start_liveness(&state.writer, client.0.meta(state.now()), body.0.user_id).await?;
    Ok(HttpResponse::Created().json(read_liveness(&state, &client, token).await?))
}

/// The multipart body of `POST /v1/verifications/liveness/challenge`.
pub struct ChallengeForm {
    fields: HashMap<String, String>,
    photo: Option<Vec<u8>>,
}

impl FromRequest for ChallengeForm {
    type Error = VerifyhqError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = super::body::read_form(
            req,
            payload,
            &["photo"],
            MAX_UPLOAD_BYTES,
            "Send the photo as multipart/form-data with sessionToken, challengeId and photo.",
        );
        Box::pin(async move {
            let mut form = form.await?;
            Ok(ChallengeForm { photo: form.files.remove("photo").map(|(_, b)| b), fields: form.fields })
        })
    }
}

/// The multipart form of `POST /v1/verifications/liveness/challenge`, for the document.
#[derive(ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChallengeUploadSchema {
    #[schema(example = "lvs_01JD8ZQ7S3K2M4N5P6Q7R8S9T0")]
    session_token: String,
    #[schema(example = "ch_001")]
    challenge_id: String,
    /// JPEG, PNG or WebP, at most 10 MB.
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
}

#[utoipa::path(post, path = "/v1/verifications/liveness/challenge", tag = "Liveness", operation_id = "submit_liveness_challenge",
    request_body(content = ChallengeUploadSchema, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The session after this photo; the last one brings the verdict (`isAlive`)", body = q::LivenessSession),
        (status = 403, description = "The client lacks liveness:write", body = VerifyhqErrorBody),
        (status = 404, description = "No such session or challenge", body = VerifyhqErrorBody),
        (status = 409, description = "The session expired or is complete, or the challenge already has its photo", body = VerifyhqErrorBody),
        (status = 413, description = "The photo is over 10 MB", body = VerifyhqErrorBody),
        (status = 415, description = "Not multipart/form-data", body = VerifyhqErrorBody),
        (status = 422, description = "A field is missing, or the photo is not a readable image", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn submit_challenge(state: web::Data<AppState>, client: Client, form: ChallengeForm) -> VhqResult {
    client.require("liveness:write")?;
    let field = |name: &str| form.fields.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let mut errors = Vec::new();
    let token = field("sessionToken");
    let challenge_id = field("challengeId");
    for (name, v) in [("sessionToken", &token), ("challengeId", &challenge_id)] {
        if v.is_none() {
            errors.push(FieldError::new(name, "is required"));
        }
    }
    if form.photo.is_none() {
        errors.push(FieldError::new("photo", "is required"));
    }
    let (Some(token), Some(challenge_id), Some(photo), true) = (token, challenge_id, form.photo, errors.is_empty())
    else {
        return Err(AppError::fields(errors).into());
    };
    if super::body::sniff_mime(&photo).filter(|m| m.starts_with("image/")).is_none() {
        return Err(AppError::validation("photo", "must be a JPEG, PNG or WebP image").into());
    }
    let (hash, photo) = state.cpu.run(move || Ok((crate::checks::imagehash::phash(&photo), photo))).await?;
    let photo_hash = hash.map_err(|_| AppError::validation("photo", "is not a readable image"))?;
    let input = cmd::ChallengePhoto { token, challenge_id, photo, photo_hash };
    let meta = client.0.meta(state.now());
    let face = state.processing.face();
    let token = cmd::submit_challenge(&state.read, &state.writer, state.keyring.clone(), face, meta, input).await?;
    Ok(HttpResponse::Ok().json(read_liveness(&state, &client, token).await?))
}

#[utoipa::path(get, path = "/v1/verifications/liveness/session/{sessionToken}", tag = "Liveness",
    operation_id = "get_liveness_session",
    params(("sessionToken" = String, Path, description = "The session's token")),
    responses(
        (status = 200, description = "Addition: the session, its progress and verdict", body = q::LivenessSession),
        (status = 403, description = "The client lacks liveness:read", body = VerifyhqErrorBody),
        (status = 404, description = "No such session", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn get_liveness(state: web::Data<AppState>, client: Client, path: web::Path<String>) -> VhqResult {
    client.require("liveness:read")?;
    Ok(HttpResponse::Ok().json(read_liveness(&state, &client, path.into_inner()).await?))
}

/// `POST /v1/intelligence/ip`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpLookupBody {
    /// An IPv4 or IPv6 address.
    #[schema(example = "81.2.69.160", format = Ipv4)]
    pub ip: String,
    /// Your user's id (kept in the answer only; nothing is recorded).
    #[serde(default)]
    #[schema(value_type = Option<ExternalRef>)]
    pub user_id: Option<ExternalRef>,
}

#[utoipa::path(post, path = "/v1/intelligence/ip", tag = "IP intelligence", operation_id = "ip_intelligence",
    request_body = IpLookupBody,
    responses(
        (status = 200, description = "What the loaded databases and lists say about the address", body = crate::ip_intelligence::IpReport),
        (status = 403, description = "The client lacks intelligence:read", body = VerifyhqErrorBody),
        (status = 422, description = "Not an IP address", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn ip_intelligence(state: web::Data<AppState>, client: Client, body: VhqBody<IpLookupBody>) -> VhqResult {
    client.require("intelligence:read")?;
    let ip: std::net::IpAddr =
        body.0.ip.trim().parse().map_err(|_| AppError::validation("ip", "must be an IPv4 or IPv6 address"))?;
    let mut report = state.ip_intelligence.lookup(ip);
    report.checked_at = state.now();
    Ok(HttpResponse::Ok().json(report))
}

/// `POST /v1/webhooks/configure`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigureWebhookBody {
    /// The client the webhook belongs to (listed by `GET /v1/webhooks/client/:clientId`).
    #[schema(value_type = Label, example = "client_abc123")]
    pub client_id: Label,
    /// Where to POST (https; plain http only for sandbox clients or when the operator allows it).
    #[schema(value_type = WebhookUrl)]
    pub callback_url: WebhookUrl,
    /// At least one event.
    #[schema(min_items = 1)]
    pub events: Vec<WebhookEventName>,
}

/// A configured webhook: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfiguredWebhook {
    pub id: String,
    pub callback_url: String,
    #[schema(value_type = Vec<WebhookEventName>)]
    pub events: Vec<String>,
    /// Verify each delivery's `X-Webhook-Signature`: hex HMAC-SHA256 of the raw body with this text as key.
    #[schema(example = "whsec_...")]
    pub secret: String,
    pub message: String,
}

/// `DELETE /v1/webhooks/:id`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeactivatedWebhook {
    pub id: String,
    pub active: bool,
    pub message: String,
}

#[utoipa::path(post, path = "/v1/webhooks/configure", tag = "Webhooks", operation_id = "configure_webhook",
    request_body = ConfigureWebhookBody,
    responses(
        (status = 201, description = "The webhook and its signing secret, shown once", body = ConfiguredWebhook),
        (status = 403, description = "The client lacks webhooks:write", body = VerifyhqErrorBody),
        (status = 422, description = "A field is missing or invalid (an unknown event, a refused URL)", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn configure_webhook(
    state: web::Data<AppState>,
    client: Client,
    body: VhqBody<ConfigureWebhookBody>,
) -> VhqResult {
    client.require("webhooks:write")?;
    let b = body.0;
    if b.events.is_empty() {
        return Err(AppError::validation("events", "must name at least one event").into());
    }
    let events: Vec<String> = b.events.iter().map(|e| e.as_str().to_string()).collect();
    let meta = client.0.meta(state.now());
    let policy = &state.config.webhook_egress;
    let client_id = b.client_id.into_string();
    let new = webhook_cmd::create_verifyhq(&state.writer, policy, meta, client_id, b.callback_url, events).await?;
    let env = client.0.env();
    let id = new.id.as_str().to_string();
    let view = state.read(move |c| q::webhook(c, &env, &id)).await?;
    Ok(HttpResponse::Created().json(ConfiguredWebhook {
        id: view.id,
        callback_url: view.callback_url,
        events: view.events,
        secret: new.secret.expose().to_string(),
        message: "Store the secret: it signs every delivery and is shown only once.".into(),
    }))
}

#[utoipa::path(get, path = "/v1/webhooks/client/{clientId}", tag = "Webhooks", operation_id = "list_client_webhooks",
    params(("clientId" = String, Path, description = "The client the webhooks were configured for")),
    responses(
        (status = 200, description = "The client's webhooks, newest first", body = Vec<VerifyhqWebhook>),
        (status = 403, description = "The client lacks webhooks:read", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn client_webhooks(state: web::Data<AppState>, client: Client, path: web::Path<String>) -> VhqResult {
    client.require("webhooks:read")?;
    let (env, client_id) = (client.0.env(), path.into_inner());
    Ok(HttpResponse::Ok().json(state.read(move |c| q::webhooks_of_client(c, &env, &client_id)).await?))
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "Webhooks", operation_id = "deactivate_webhook",
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "Deactivated: nothing more is delivered to it", body = DeactivatedWebhook),
        (status = 403, description = "The client lacks webhooks:write", body = VerifyhqErrorBody),
        (status = 404, description = "No such webhook", body = VerifyhqErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %client.0.key.id))]
async fn deactivate_webhook(state: web::Data<AppState>, client: Client, path: web::Path<String>) -> VhqResult {
    client.require("webhooks:write")?;
    let id = webhook_cmd::deactivate_verifyhq(&state.writer, client.0.meta(state.now()), path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(DeactivatedWebhook { id, active: false, message: "The webhook is deactivated.".into() }))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "idv: VerifyHQ-compatible identity verification API",
        description = "The VerifyHQ dialect served by idv on the same engine as its Verifa API: an identity \
            verification is a Verifa session on its tier's workflow, `userId` is the identity's `external_ref`, \
            and a review here decides the Verifa case (and the reverse).\n\n\
            Authenticate with `X-API-Key: vhq_live_...` (live) or `vhq_test_...` (sandbox). Bodies and answers \
            use camelCase keys and UPPER_CASE values. Errors: `{statusCode, error, message, timestamp}`; on a \
            422 `message` is a list, one entry per refused field. Every POST accepts an `Idempotency-Key`: the \
            same key with the same body replays the first answer for 24 h; with a different body it is a 422."
    ),
    paths(
        start,
        get,
        by_user,
        review,
        restart,
        verify_document,
        get_document,
        documents_by_user,
        start_liveness,
        submit_challenge,
        get_liveness,
        check_duplicates,
        get_dedup,
        subscribe,
        cancel_subscription,
        alerts,
        ip_intelligence,
        configure_webhook,
        client_webhooks,
        deactivate_webhook,
        create_client
    ),
    components(schemas(
        VerifyhqErrorBody,
        IdentityVerification,
        VerificationPage,
        DocumentVerification,
        DocumentVerificationPage,
        LivenessSessionBody,
        q::LivenessSession,
        q::ChallengeView,
        DedupCheckBody,
        q::DedupCheck,
        q::DedupMatchView,
        SubscribeBody,
        IpLookupBody,
        crate::ip_intelligence::IpReport,
        q::Subscription,
        q::Alert,
        q::AlertPage,
        StartVerificationBody,
        ReviewBody,
        ConfigureWebhookBody,
        ConfiguredWebhook,
        VerifyhqWebhook,
        DeactivatedWebhook,
        CreateClientBody,
        CreatedClient
    ))
)]
struct VerifyhqApi;

/// The dialect's OpenAPI document, served at `/v1/openapi.json`.
pub fn document() -> serde_json::Value {
    let mut value = serde_json::to_value(VerifyhqApi::openapi()).unwrap_or_default();
    value["openapi"] = serde_json::json!("3.1.0");
    value["components"]["securitySchemes"] =
        serde_json::json!({ "apiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" } });
    // JSON Schema says what utoipa's attributes cannot: a subscription must ask for a list idv can watch.
    value["components"]["schemas"]["SubscribeBody"]["properties"]["lists"]["contains"] =
        serde_json::json!({ "const": "SANCTIONS" });
    value["components"]["schemas"]["VerifyhqErrorBody"]["properties"]["message"] = serde_json::json!({
        "description": "A sentence; on a 422, one sentence per refused field.",
        "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }]
    });
    let error = |description: &str| {
        serde_json::json!({ "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/VerifyhqErrorBody" } } } })
    };
    if let Some(paths) = value["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let admin = path.starts_with("/v1/admin/");
            for (method, op) in item.as_object_mut().into_iter().flat_map(|m| m.iter_mut()) {
                if !admin {
                    op["security"] = serde_json::json!([{ "apiKey": [] }]);
                }
                let Some(responses) = op["responses"].as_object_mut() else { continue };
                responses.entry("400").or_insert_with(|| error("A malformed request (the body is not a JSON object)"));
                if method == "post" || method == "delete" {
                    responses.entry("413").or_insert_with(|| error("The body is over the size limit"));
                }
                responses.entry("503").or_insert_with(|| {
                    error("Busy: a full write, read or processing queue (Retry-After says when to retry)")
                });
                if !admin {
                    responses.entry("401").or_insert_with(|| error("Missing or invalid API key"));
                    responses
                        .entry("429")
                        .or_insert_with(|| error("Rate limit exceeded (Retry-After says when to retry)"));
                }
            }
        }
    }
    value
}

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

async fn not_found() -> VhqResult {
    Err(AppError::NotFound("No such resource or route.".into()).into())
}

async fn method_not_allowed() -> VhqResult {
    Err(AppError::MethodNotAllowed.into())
}

/// Every operation the dialect serves (method, path): what its OpenAPI document must cover.
pub const OPERATIONS: &[(&str, &str)] = &[
    ("POST", "/v1/verifications/identity"),
    ("GET", "/v1/verifications/identity/user/{userId}"),
    ("GET", "/v1/verifications/identity/{id}"),
    ("POST", "/v1/verifications/identity/{id}/review"),
    ("POST", "/v1/verifications/identity/{id}/restart"),
    ("POST", "/v1/verifications/document"),
    ("GET", "/v1/verifications/document/user/{userId}"),
    ("GET", "/v1/verifications/document/{id}"),
    ("POST", "/v1/verifications/liveness/session"),
    ("GET", "/v1/verifications/liveness/session/{sessionToken}"),
    ("POST", "/v1/verifications/liveness/challenge"),
    ("POST", "/v1/biometrics/dedup/check"),
    ("GET", "/v1/biometrics/dedup/{id}"),
    ("POST", "/v1/monitoring/watchlist/subscribe"),
    ("DELETE", "/v1/monitoring/watchlist/subscribe/{id}"),
    ("GET", "/v1/monitoring/watchlist/alerts"),
    ("POST", "/v1/intelligence/ip"),
    ("POST", "/v1/webhooks/configure"),
    ("GET", "/v1/webhooks/client/{clientId}"),
    ("DELETE", "/v1/webhooks/{id}"),
    ("POST", "/v1/admin/api-clients"),
    ("GET", "/v1/openapi.json"),
];

/// The `/v1` scope, wrapped by the dialect's gate.
pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<actix_web::body::BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let resource = |path: &str| web::resource(path).default_service(web::to(method_not_allowed));
    web::scope("/v1")
        .wrap(actix_web::middleware::from_fn(super::middleware::verifyhq_gate))
        .service(resource("/openapi.json").route(web::get().to(openapi)))
        .service(resource("/admin/api-clients").route(web::post().to(create_client)))
        .service(resource("/verifications/identity").route(web::post().to(start)))
        .service(resource("/verifications/identity/user/{userId}").route(web::get().to(by_user)))
        .service(resource("/verifications/identity/{id}").route(web::get().to(get)))
        .service(resource("/verifications/identity/{id}/review").route(web::post().to(review)))
        .service(resource("/verifications/identity/{id}/restart").route(web::post().to(restart)))
        .service(resource("/verifications/document").route(web::post().to(verify_document)))
        .service(resource("/verifications/document/user/{userId}").route(web::get().to(documents_by_user)))
        .service(resource("/verifications/document/{id}").route(web::get().to(get_document)))
        .service(resource("/verifications/liveness/session").route(web::post().to(start_liveness)))
        .service(resource("/verifications/liveness/session/{sessionToken}").route(web::get().to(get_liveness)))
        .service(resource("/verifications/liveness/challenge").route(web::post().to(submit_challenge)))
        .service(resource("/biometrics/dedup/check").route(web::post().to(check_duplicates)))
        .service(resource("/biometrics/dedup/{id}").route(web::get().to(get_dedup)))
        .service(resource("/monitoring/watchlist/subscribe").route(web::post().to(subscribe)))
        .service(resource("/monitoring/watchlist/subscribe/{id}").route(web::delete().to(cancel_subscription)))
        .service(resource("/monitoring/watchlist/alerts").route(web::get().to(alerts)))
        .service(resource("/intelligence/ip").route(web::post().to(ip_intelligence)))
        .service(resource("/webhooks/configure").route(web::post().to(configure_webhook)))
        .service(resource("/webhooks/client/{clientId}").route(web::get().to(client_webhooks)))
        .service(resource("/webhooks/{id}").route(web::delete().to(deactivate_webhook)))
        .default_service(web::to(not_found))
}
