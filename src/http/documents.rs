//! /documents (spec §1.3.1: list, standalone upload, metadata, update, redact, signed download, page
//! previews, extractions, checks, classify, extract) and /settings/document-types and
//! /settings/document-groups (§1.3.2, §1.3.3). Must not touch storage or keys; decoding and rendering run
//! on the CPU pool.

use super::body::{sniff_mime, ApiBody, ApiPath, ApiQuery, PageQuery, PathNoun, Upload};
use super::error::ErrorBody;
use super::reply::{ApiResult, Deleted, Principal, Reply};
use super::{AppState, RouteTable};
use crate::checks::document_facts::{self as facts, PreviewError};
use crate::commands::documents::{
    self as cmd, CreateDocumentType, DocumentGroupInput, UpdateDocument, UpdateDocumentGroup, UpdateDocumentType,
    UploadDocument,
};
use crate::domain::document::{POA_TYPES, STATUSES};
use crate::domain::document_type::{DocumentTypeSlug, CATEGORIES};
use crate::domain::ids::{DocumentGroupId, DocumentId, DocumentTypeId, IdentityId, SessionId};
use crate::domain::values::{CalendarDate, Label, LongText};
use crate::error::AppError;
use crate::queries::documents::{
    self as q, ClassificationView, DocumentCheckView, DocumentChecks, DocumentDetail, DocumentFilter,
    DocumentGroupView, DocumentSummary, DocumentTypeView, ExtractionList, ExtractionView,
};
use crate::queries::OffsetPage;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

impl PathNoun for DocumentId {
    const NOUN: &'static str = "Document";
}
impl PathNoun for DocumentTypeId {
    const NOUN: &'static str = "Document type";
}
impl PathNoun for DocumentGroupId {
    const NOUN: &'static str = "Document group";
}

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/documents", "List documents", web::get().to(list));
    t.add("POST", "/documents", "Upload a standalone document", web::post().to(upload));
    t.add("GET", "/documents/{document_id}", "Get document metadata", web::get().to(get));
    t.add("PATCH", "/documents/{document_id}", "Update document metadata", web::patch().to(update));
    t.add("DELETE", "/documents/{document_id}", "Redact a document", web::delete().to(redact));
    t.add("GET", "/documents/{document_id}/pages/{page}/preview", "Preview a page as JPEG", web::get().to(preview));
    t.add("GET", "/documents/{document_id}/extractions", "List document extractions", web::get().to(extractions));
    t.add("GET", "/documents/{document_id}/checks", "List document checks", web::get().to(checks));
    t.add("POST", "/documents/{document_id}/classify", "Classify a document", web::post().to(classify));
    t.add("POST", "/documents/{document_id}/extract", "Extract a document's fields", web::post().to(extract));
    t.add("GET", "/settings/document-types", "List custom document types", web::get().to(list_types));
    t.add("POST", "/settings/document-types", "Create a custom document type", web::post().to(create_type));
    t.add("GET", "/settings/document-types/{type_id}", "Get a custom document type", web::get().to(get_type));
    t.add("PATCH", "/settings/document-types/{type_id}", "Update a custom document type", web::patch().to(update_type));
    t.add(
        "DELETE",
        "/settings/document-types/{type_id}",
        "Delete a custom document type",
        web::delete().to(delete_type),
    );
    t.add("GET", "/settings/document-groups", "List document groups", web::get().to(list_groups));
    t.add("POST", "/settings/document-groups", "Create a document group", web::post().to(create_group));
    t.add("GET", "/settings/document-groups/{group_id}", "Get a document group", web::get().to(get_group));
    t.add("PATCH", "/settings/document-groups/{group_id}", "Update a document group", web::patch().to(update_group));
    t.add("DELETE", "/settings/document-groups/{group_id}", "Delete a document group", web::delete().to(delete_group));
}

const READ: &str = "documents:read";
const READ_LEGACY: &[&str] = &["verifications:read"];
const WRITE: &str = "documents:write";
const SETTINGS: &str = "settings:write";

fn base_url(state: &AppState) -> String {
    state.config.public_url.clone().unwrap_or_default()
}

/// A document status, as a list filter.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum DocumentStatus {
    Pending,
    Verified,
    Failed,
    Redacted,
}

impl DocumentStatus {
    fn as_str(self) -> &'static str {
        let i = self as usize;
        STATUSES[i]
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DocumentListQuery {
    session_id: Option<SessionId>,
    /// Documents of this identity (standalone uploads linked to it and its sessions' uploads).
    identity_id: Option<IdentityId>,
    document_type: Option<DocumentTypeSlug>,
    status: Option<DocumentStatus>,
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/documents", tag = "Documents", operation_id = "list_documents",
    params(DocumentListQuery),
    responses((status = 200, description = "Documents, newest first, without extracted values", body = OffsetPage<DocumentSummary>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, query: ApiQuery<DocumentListQuery>) -> ApiResult {
    p.require(READ, READ_LEGACY)?;
    let query = query.0;
    let page = PageQuery { limit: query.limit, offset: query.offset }.page(25)?;
    let filter = DocumentFilter {
        session_id: query.session_id.map(SessionId::into_string),
        identity_id: query.identity_id.map(IdentityId::into_string),
        document_type: query.document_type.map(DocumentTypeSlug::into_string),
        status: query.status.map(|s| s.as_str().to_string()),
    };
    let (keyring, env, base, now) =
        (state.keyring.clone(), p.env(), base_url(&state), state.clock.now().unix_timestamp());
    Ok(Reply::ok(state.read(move |c| q::list(c, &keyring, &env, &filter, page, &base, now)).await?))
}

/// A standalone document upload (multipart/form-data); no other fields.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct DocumentUploadForm {
    /// A JPEG, PNG, WebP or PDF file, at most 10 MB (checked by its first bytes).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    document_type: DocumentTypeSlug,
    identity_id: Option<IdentityId>,
    session_id: Option<SessionId>,
    /// Required when `document_type` is `proof_of_address`.
    poa_document_type: Option<PoaDocumentType>,
    /// The date printed on a proof of address (YYYY-MM-DD); a date after today fails the recency check.
    poa_document_date: Option<CalendarDate>,
}

fn form_field<T>(
    fields: &std::collections::HashMap<String, String>,
    name: &str,
    parse: impl Fn(&str, &str) -> Result<T, crate::error::FieldError>,
) -> Result<Option<T>, AppError> {
    // A form has no null: an empty value or the text `null` (what generic clients send for one) is absent.
    match fields.get(name).filter(|v| !v.is_empty() && v.as_str() != "null") {
        None => Ok(None),
        Some(v) => parse(name, v).map(Some).map_err(|e| AppError::validation(&e.field, e.message)),
    }
}

fn poa_type(field: &str, v: &str) -> Result<String, crate::error::FieldError> {
    if POA_TYPES.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(crate::error::FieldError::new(field, "must be utility_bill or bank_statement"))
    }
}

#[utoipa::path(post, path = "/api/v1/documents", tag = "Documents", operation_id = "upload_document",
    request_body(content = DocumentUploadForm, content_type = "multipart/form-data",
        encoding(("file" = (content_type = "image/jpeg, image/png, image/webp, application/pdf")))),
    responses((status = 201, description = "The stored, classified and checked document", body = DocumentDetail),
        (status = 404, description = "The identity, session or document type named does not exist.", body = ErrorBody),
        (status = 409, description = "The identity or session it belongs to has been erased.", body = ErrorBody),
        (status = 422, description = "A field is missing or unknown, or the file is not a readable JPEG, PNG, WebP or PDF of at most 10 MB.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn upload(state: web::Data<AppState>, p: Principal, upload: Upload) -> ApiResult {
    p.require(WRITE, &[])?;
    let f = &upload.fields;
    super::sessions::only_fields(
        f,
        &["document_type", "identity_id", "session_id", "poa_document_type", "poa_document_date"],
    )?;
    let document_type = form_field(f, "document_type", DocumentTypeSlug::parse)?
        .ok_or_else(|| AppError::validation("document_type", "is required"))?;
    let identity_id = form_field(f, "identity_id", IdentityId::parse)?;
    let session_id = form_field(f, "session_id", SessionId::parse)?;
    let poa_document_type = form_field(f, "poa_document_type", poa_type)?;
    let poa_document_date = form_field(f, "poa_document_date", CalendarDate::parse)?;
    // Metadata is a JSON object, set with PATCH: a form field cannot carry one faithfully.
    let metadata = Map::new();
    let bytes = upload.file.ok_or_else(|| AppError::validation("file", "is required"))?;
    let (mrz, printed, today) = (state.mrz.clone(), state.printed.clone(), state.today());
    let file = state.cpu.run(move || cmd::prepare(sniff_mime(&bytes), bytes, &mrz, &printed, today)).await?;
    let input =
        UploadDocument { document_type, identity_id, session_id, poa_document_type, poa_document_date, metadata, file };
    let id = cmd::upload(&state.writer, p.meta(state.now()), input).await?;
    let (keyring, env, base, now) =
        (state.keyring.clone(), p.env(), base_url(&state), state.clock.now().unix_timestamp());
    Ok(Reply::created(state.read(move |c| q::get(c, &keyring, &env, id.as_str(), &base, now)).await?))
}

#[utoipa::path(get, path = "/api/v1/documents/{document_id}", tag = "Documents", operation_id = "get_document",
    params(("document_id" = DocumentId, Path, description = "The document")),
    responses((status = 200, description = "The document's metadata, extracted values and signed download URL", body = DocumentDetail)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentId>) -> ApiResult {
    p.require(READ, READ_LEGACY)?;
    let (keyring, env, base, now) =
        (state.keyring.clone(), p.env(), base_url(&state), state.clock.now().unix_timestamp());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, path.as_str(), &base, now)).await?))
}

/// Changes to a document; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateDocumentBody {
    /// Standalone documents only (a session document's type is its upload slot).
    document_type: Option<DocumentTypeSlug>,
    /// `utility_bill` or `bank_statement`; null clears it.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<PoaDocumentType>)]
    poa_document_type: Option<Option<PoaDocumentType>>,
    /// Null clears it.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<CalendarDate>)]
    poa_document_date: Option<Option<CalendarDate>>,
    /// Replaces the metadata object.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Map<String, Value>>,
    /// The version read; a different current version is a 409.
    #[schema(minimum = 0)]
    version: Option<i64>,
}

/// The kind of a proof of address.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum PoaDocumentType {
    UtilityBill,
    BankStatement,
}

impl PoaDocumentType {
    fn as_str(self) -> &'static str {
        POA_TYPES[self as usize]
    }
}

#[utoipa::path(patch, path = "/api/v1/documents/{document_id}", tag = "Documents", operation_id = "update_document",
    params(("document_id" = DocumentId, Path, description = "The document")),
    request_body = UpdateDocumentBody,
    responses((status = 200, description = "The updated document (checks run again)", body = DocumentDetail),
        (status = 409, description = "The version differs, the document is redacted, or a session document's type was sent.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<DocumentId>,
    body: ApiBody<UpdateDocumentBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let input = UpdateDocument {
        document_type: b.document_type,
        poa_document_type: b.poa_document_type.map(|t| t.map(|t| t.as_str().to_string())),
        poa_document_date: b.poa_document_date,
        metadata: b.metadata,
        version: b.version,
    };
    let id = path.into_inner();
    cmd::update(&state.writer, p.meta(state.now()), id.clone(), input).await?;
    let (keyring, env, base, now) =
        (state.keyring.clone(), p.env(), base_url(&state), state.clock.now().unix_timestamp());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, id.as_str(), &base, now)).await?))
}

#[utoipa::path(delete, path = "/api/v1/documents/{document_id}", tag = "Documents", operation_id = "redact_document",
    params(("document_id" = DocumentId, Path, description = "The document")),
    responses((status = 200, description = "The redacted document: its bytes and extracted values are destroyed, its metadata stays marked `redacted`", body = DocumentDetail),
        (status = 409, description = "A session's documents are redacted with the session.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn redact(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentId>) -> ApiResult {
    p.require(WRITE, &["redact:write"])?;
    let id = path.into_inner();
    cmd::redact(&state.writer, p.meta(state.now()), id.clone()).await?;
    let (keyring, env, base, now) =
        (state.keyring.clone(), p.env(), base_url(&state), state.clock.now().unix_timestamp());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, id.as_str(), &base, now)).await?))
}

/// The signature of a document URL: the credential of a download.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// Unix time the URL stops working.
    expires: i64,
    /// The URL's signature.
    #[param(min_length = 1)]
    sig: String,
}

/// A file's bytes.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct FileBytes(Vec<u8>);

/// `GET /api/v1/documents/{id}/download?expires=&sig=`: the signature is the credential (no API key).
#[utoipa::path(get, path = "/api/v1/documents/{document_id}/download", tag = "Documents",
    operation_id = "download_document",
    params(("document_id" = DocumentId, Path, description = "The document"), SignedQuery),
    responses((status = 200, description = "The document's bytes",
        content((FileBytes = "image/jpeg"), (FileBytes = "image/png"), (FileBytes = "image/webp"),
            (FileBytes = "application/pdf"))),
        (status = 403, description = "The signature is wrong or the URL has expired.", body = ErrorBody),
        (status = 410, description = "The document was redacted or is past its retention window.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn download(
    state: web::Data<AppState>,
    path: ApiPath<DocumentId>,
    query: ApiQuery<SignedQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.0;
    let now = state.clock.now().unix_timestamp();
    let keyring = state.keyring.clone();
    let (mime, bytes) =
        state.read(move |c| q::signed_bytes(c, &keyring, path.as_str(), query.expires, &query.sig, now)).await?;
    Ok(HttpResponse::Ok().content_type(mime).insert_header(("Cache-Control", "no-store")).body(bytes))
}

#[utoipa::path(get, path = "/api/v1/documents/{document_id}/pages/{page}/preview", tag = "Documents",
    operation_id = "preview_document_page",
    params(("document_id" = DocumentId, Path, description = "The document"),
        ("page" = u32, Path, minimum = 1, description = "The page, from 1 (images have one)")),
    responses((status = 200, description = "The page as a JPEG, at most 1024 pixels on its longest side",
        content((FileBytes = "image/jpeg"))),
        (status = 410, description = "The document was redacted or is past its retention window.", body = ErrorBody),
        (status = 503, description = "This server cannot render the file type (no WebP decoder, or pdftoppm is not installed), or is busy (Retry-After says when to retry).", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn preview(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    p.require(READ, READ_LEGACY)?;
    let (id, page) = path.into_inner();
    let id = DocumentId::parse("document_id", &id).map_err(|_| AppError::not_found("Document"))?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let (mime, bytes) = state.read(move |c| q::bytes(c, &keyring, &env, id.as_str())).await?;
    let page: u32 = match page.parse() {
        Ok(n) if n >= 1 => n,
        _ => return Err(AppError::NotFound(format!("The document has no page {page}."))),
    };
    let jpeg = state.cpu.run(move || Ok(facts::preview_jpeg(&bytes, &mime, page))).await?.map_err(|e| match e {
        PreviewError::NoSuchPage(n) => AppError::NotFound(format!("The document has no page {n}.")),
        PreviewError::Unavailable(detail) => AppError::Unavailable(detail),
        PreviewError::Unrenderable => AppError::invalid_state("The document could not be rendered."),
    })?;
    Ok(HttpResponse::Ok().content_type("image/jpeg").insert_header(("Cache-Control", "no-store")).body(jpeg))
}

#[utoipa::path(get, path = "/api/v1/documents/{document_id}/extractions", tag = "Documents",
    operation_id = "list_document_extractions",
    params(("document_id" = DocumentId, Path, description = "The document")),
    responses((status = 200, description = "Every extraction run, newest first, with its values", body = ExtractionList)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn extractions(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentId>) -> ApiResult {
    p.require(READ, READ_LEGACY)?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::extractions(c, &keyring, &env, path.as_str())).await?))
}

#[utoipa::path(get, path = "/api/v1/documents/{document_id}/checks", tag = "Documents",
    operation_id = "list_document_checks",
    params(("document_id" = DocumentId, Path, description = "The document")),
    responses((status = 200, description = "The latest outcome of each document check", body = DocumentChecks)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn checks(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentId>) -> ApiResult {
    p.require(READ, READ_LEGACY)?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::checks(c, &env, path.as_str())).await?))
}

/// Reads the stored file's facts again (the file decrypted on the read lane, read on the CPU pool).
async fn stored_facts(state: &AppState, p: &Principal, id: &DocumentId) -> Result<facts::Facts, AppError> {
    let (keyring, env, id) = (state.keyring.clone(), p.env(), id.clone());
    let (mime, bytes) = state.read(move |c| q::bytes(c, &keyring, &env, id.as_str())).await?;
    let (mrz, printed, today) = (state.mrz.clone(), state.printed.clone(), state.today());
    state.cpu.run(move || cmd::facts_of(&mime, &bytes, &mrz, &printed, today)).await
}

#[utoipa::path(post, path = "/api/v1/documents/{document_id}/classify", tag = "Documents",
    operation_id = "classify_document",
    params(("document_id" = DocumentId, Path, description = "The document")),
    responses((status = 200, description = "The classification", body = ClassificationView),
        (status = 409, description = "The document is redacted.", body = ErrorBody),
        (status = 410, description = "The document's bytes are gone (redacted or past retention).", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn classify(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = path.into_inner();
    let f = stored_facts(&state, &p, &id).await?;
    cmd::classify(&state.writer, p.meta(state.now()), id.clone(), f).await?;
    let (keyring, env, base, now) =
        (state.keyring.clone(), p.env(), base_url(&state), state.clock.now().unix_timestamp());
    let doc = state.read(move |c| q::get(c, &keyring, &env, id.as_str(), &base, now)).await?;
    let c = doc.summary.classification.ok_or_else(|| AppError::Internal("classification not recorded".into()))?;
    Ok(Reply::ok(c))
}

#[utoipa::path(post, path = "/api/v1/documents/{document_id}/extract", tag = "Documents",
    operation_id = "extract_document",
    params(("document_id" = DocumentId, Path, description = "The document")),
    responses((status = 200, description = "The new extraction (the document checks run again)", body = ExtractionView),
        (status = 409, description = "The document is redacted.", body = ErrorBody),
        (status = 410, description = "The document's bytes are gone (redacted or past retention).", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn extract(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = path.into_inner();
    let f = stored_facts(&state, &p, &id).await?;
    cmd::extract(&state.writer, p.meta(state.now()), id.clone(), f).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let list = state.read(move |c| q::extractions(c, &keyring, &env, id.as_str())).await?;
    let latest = list.data.into_iter().next().ok_or_else(|| AppError::Internal("extraction not recorded".into()))?;
    Ok(Reply::ok(latest))
}

// ------------------------------------------------------------------------------------------ settings

const SLUG_PATTERN: &str = "^[a-z0-9_-]{1,64}$";

/// One `check_suite` entry: `[check_name, category, requirement]`.
#[allow(dead_code)]
struct CheckSuiteEntry;

impl utoipa::PartialSchema for CheckSuiteEntry {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        let slug = serde_json::json!({"type": "string", "pattern": SLUG_PATTERN, "minLength": 1, "maxLength": 64});
        crate::domain::values::schema_from(serde_json::json!({
            "type": "array", "minItems": 3, "maxItems": 3,
            "prefixItems": [slug, slug, {"type": "string", "enum": ["required", "optional", "disabled"]}],
            "items": false,
            "description": "[check_name, category, requirement]: the requirement is required, optional or disabled.",
            "examples": [["recency", "document", "required"]],
        }))
    }
}

impl ToSchema for CheckSuiteEntry {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("CheckSuiteEntry")
    }
}

/// A group's recency rules.
#[allow(dead_code)]
struct RecencyConfig;

impl utoipa::PartialSchema for RecencyConfig {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        crate::domain::values::schema_from(serde_json::json!({
            "type": "object",
            "properties": {"max_age_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 3650,
                "description": "A proof of address dated earlier than this many days fails its recency check."}},
            "description": "Recency rules; other keys are kept as they are.",
            "examples": [{"max_age_days": 90}],
        }))
    }
}

impl ToSchema for RecencyConfig {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("RecencyConfig")
    }
}

/// `extraction_hints`: field name to a label rule or a regular expression.
#[allow(dead_code)]
struct ExtractionHints;

impl utoipa::PartialSchema for ExtractionHints {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        let label = serde_json::json!({"type": "string", "minLength": 1, "maxLength": 500, "pattern": "\\S"});
        crate::domain::values::schema_from(serde_json::json!({
            "type": "object", "maxProperties": 50,
            "propertyNames": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
            "additionalProperties": {"anyOf": [
                label,
                {"type": "object", "properties": {"label": label}, "required": ["label"], "additionalProperties": false},
                {"type": "object", "properties": {"regex": {"type": "string", "format": "regex", "minLength": 1, "maxLength": 500}},
                 "required": ["regex"], "additionalProperties": false},
            ]},
            "description": "{field_name: hint}: a label (the rest of the line after it), {\"label\": text} or {\"regex\": pattern} (its first group, else the whole match).",
            "examples": [{"account_number": "Account number", "iban": {"regex": "IBAN ([A-Z0-9 ]+)"}}],
        }))
    }
}

impl ToSchema for ExtractionHints {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ExtractionHints")
    }
}

/// A document type category.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum DocumentCategory {
    Financial,
    Corporate,
    Identity,
    Address,
    Vehicle,
    Government,
    Other,
}

impl DocumentCategory {
    fn as_str(self) -> &'static str {
        CATEGORIES[self as usize]
    }
}

/// A new custom document type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateDocumentTypeBody {
    /// Unique in the environment; not a built-in type (id_front, id_back, selfie, proof_of_address).
    #[schema(example = "bank_letter")]
    slug: DocumentTypeSlug,
    label: Label,
    category: DocumentCategory,
    /// What the document looks like and contains.
    description: Option<LongText>,
    /// `{field_name: hint}`; a hint is a label (`"Account number"` or `{"label": "Account number"}`: the value
    /// after it on the same line) or `{"regex": "IBAN ([A-Z0-9 ]+)"}` (the first group, else the whole match).
    #[schema(value_type = Option<ExtractionHints>)]
    extraction_hints: Option<Map<String, Value>>,
    /// `[check_name, category, requirement]` tuples; requirement `required`, `optional` or `disabled`.
    #[schema(value_type = Option<Vec<CheckSuiteEntry>>, max_items = 50)]
    check_suite: Option<Vec<Vec<String>>>,
}

#[utoipa::path(get, path = "/api/v1/settings/document-types", tag = "Document settings",
    operation_id = "list_document_types", params(PageQuery),
    responses((status = 200, description = "The environment's custom document types", body = OffsetPage<DocumentTypeView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list_types(state: web::Data<AppState>, p: Principal, page: ApiQuery<PageQuery>) -> ApiResult {
    p.require(SETTINGS, &[WRITE, READ])?;
    let (env, page) = (p.env(), page.0.page(50)?);
    Ok(Reply::ok(state.read(move |c| q::list_types(c, &env, page)).await?))
}

#[utoipa::path(post, path = "/api/v1/settings/document-types", tag = "Document settings",
    operation_id = "create_document_type", request_body = CreateDocumentTypeBody,
    responses((status = 201, description = "The new document type", body = DocumentTypeView),
        (status = 409, description = "A document type with this slug exists, or it is a built-in type.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create_type(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateDocumentTypeBody>) -> ApiResult {
    p.require(SETTINGS, &[])?;
    let b = body.0;
    let input = CreateDocumentType {
        slug: b.slug,
        label: b.label,
        category: b.category.as_str().to_string(),
        description: b.description,
        extraction_hints: b.extraction_hints.unwrap_or_default(),
        check_suite: b.check_suite.unwrap_or_default(),
    };
    let id = cmd::create_type(&state.writer, p.meta(state.now()), input).await?;
    let env = p.env();
    Ok(Reply::created(state.read(move |c| q::get_type(c, &env, id.as_str())).await?))
}

#[utoipa::path(get, path = "/api/v1/settings/document-types/{type_id}", tag = "Document settings",
    operation_id = "get_document_type",
    params(("type_id" = DocumentTypeId, Path, description = "The document type")),
    responses((status = 200, description = "The document type", body = DocumentTypeView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get_type(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentTypeId>) -> ApiResult {
    p.require(SETTINGS, &[WRITE, READ])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get_type(c, &env, path.as_str())).await?))
}

/// Changes to a custom document type; absent fields stay. The slug cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateDocumentTypeBody {
    label: Option<Label>,
    category: Option<DocumentCategory>,
    /// Null clears it.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<LongText>)]
    description: Option<Option<LongText>>,
    /// Replaces the hints.
    #[schema(value_type = Option<ExtractionHints>)]
    extraction_hints: Option<Map<String, Value>>,
    /// Replaces the suite.
    #[schema(value_type = Option<Vec<CheckSuiteEntry>>, max_items = 50)]
    check_suite: Option<Vec<Vec<String>>>,
    is_active: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/settings/document-types/{type_id}", tag = "Document settings",
    operation_id = "update_document_type",
    params(("type_id" = DocumentTypeId, Path, description = "The document type")),
    request_body = UpdateDocumentTypeBody,
    responses((status = 200, description = "The updated document type", body = DocumentTypeView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update_type(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<DocumentTypeId>,
    body: ApiBody<UpdateDocumentTypeBody>,
) -> ApiResult {
    p.require(SETTINGS, &[WRITE])?;
    let b = body.0;
    let input = UpdateDocumentType {
        label: b.label,
        category: b.category.map(|c| c.as_str().to_string()),
        description: b.description,
        extraction_hints: b.extraction_hints,
        check_suite: b.check_suite,
        is_active: b.is_active,
    };
    let id = path.into_inner();
    cmd::update_type(&state.writer, p.meta(state.now()), id.clone(), input).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get_type(c, &env, id.as_str())).await?))
}

#[utoipa::path(delete, path = "/api/v1/settings/document-types/{type_id}", tag = "Document settings",
    operation_id = "delete_document_type",
    params(("type_id" = DocumentTypeId, Path, description = "The document type")),
    responses((status = 200, description = "The type is deleted (documents keep its slug)", body = Deleted)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn delete_type(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentTypeId>) -> ApiResult {
    p.require(SETTINGS, &[])?;
    cmd::delete_type(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(Deleted::YES))
}

/// A new document group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateDocumentGroupBody {
    name: Label,
    description: Option<LongText>,
    /// The document types the group covers (built-in types or custom slugs).
    #[schema(max_items = 50)]
    classifications: Option<Vec<DocumentTypeSlug>>,
    #[schema(value_type = Option<Object>)]
    extraction_config: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    check_config: Option<Map<String, Value>>,
    /// Recency rules, e.g. `{"max_age_days": 90}`: a proof of address dated earlier fails its `recency` check.
    #[schema(value_type = Option<RecencyConfig>)]
    recency_config: Option<Map<String, Value>>,
    /// The group for documents no other group lists (one per environment).
    is_default: Option<bool>,
    /// Lower is evaluated first.
    #[schema(minimum = -1_000_000, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "priority")]
    priority: Option<i64>,
}

const PRIORITY_LIMIT: i64 = 1_000_000;

fn priority<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    match Option::<i64>::deserialize(d)? {
        Some(i) if !(-PRIORITY_LIMIT..=PRIORITY_LIMIT).contains(&i) => {
            Err(D::Error::custom("must be a whole number from -1000000 to 1000000"))
        }
        other => Ok(other),
    }
}

#[utoipa::path(get, path = "/api/v1/settings/document-groups", tag = "Document settings",
    operation_id = "list_document_groups", params(PageQuery),
    responses((status = 200, description = "The environment's document groups, by priority", body = OffsetPage<DocumentGroupView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list_groups(state: web::Data<AppState>, p: Principal, page: ApiQuery<PageQuery>) -> ApiResult {
    p.require(SETTINGS, &[WRITE, READ])?;
    let (env, page) = (p.env(), page.0.page(50)?);
    Ok(Reply::ok(state.read(move |c| q::list_groups(c, &env, page)).await?))
}

#[utoipa::path(post, path = "/api/v1/settings/document-groups", tag = "Document settings",
    operation_id = "create_document_group", request_body = CreateDocumentGroupBody,
    responses((status = 201, description = "The new document group", body = DocumentGroupView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create_group(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateDocumentGroupBody>) -> ApiResult {
    p.require(SETTINGS, &[])?;
    let b = body.0;
    let input = DocumentGroupInput {
        name: b.name,
        description: b.description,
        classifications: b.classifications.unwrap_or_default(),
        extraction_config: b.extraction_config.unwrap_or_default(),
        check_config: b.check_config.unwrap_or_default(),
        recency_config: b.recency_config.unwrap_or_default(),
        is_default: b.is_default.unwrap_or(false),
        priority: b.priority.unwrap_or(0),
    };
    let id = cmd::create_group(&state.writer, p.meta(state.now()), input).await?;
    let env = p.env();
    Ok(Reply::created(state.read(move |c| q::get_group(c, &env, id.as_str())).await?))
}

#[utoipa::path(get, path = "/api/v1/settings/document-groups/{group_id}", tag = "Document settings",
    operation_id = "get_document_group",
    params(("group_id" = DocumentGroupId, Path, description = "The document group")),
    responses((status = 200, description = "The document group", body = DocumentGroupView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get_group(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentGroupId>) -> ApiResult {
    p.require(SETTINGS, &[WRITE, READ])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get_group(c, &env, path.as_str())).await?))
}

/// Changes to a document group; absent fields stay, objects and lists sent replace the stored ones.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateDocumentGroupBody {
    name: Option<Label>,
    /// Null clears it.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<LongText>)]
    description: Option<Option<LongText>>,
    #[schema(max_items = 50)]
    classifications: Option<Vec<DocumentTypeSlug>>,
    #[schema(value_type = Option<Object>)]
    extraction_config: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    check_config: Option<Map<String, Value>>,
    #[schema(value_type = Option<RecencyConfig>)]
    recency_config: Option<Map<String, Value>>,
    is_default: Option<bool>,
    #[schema(minimum = -1_000_000, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "priority")]
    priority: Option<i64>,
    is_active: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/settings/document-groups/{group_id}", tag = "Document settings",
    operation_id = "update_document_group",
    params(("group_id" = DocumentGroupId, Path, description = "The document group")),
    request_body = UpdateDocumentGroupBody,
    responses((status = 200, description = "The updated document group", body = DocumentGroupView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update_group(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<DocumentGroupId>,
    body: ApiBody<UpdateDocumentGroupBody>,
) -> ApiResult {
    p.require(SETTINGS, &[])?;
    let b = body.0;
    let input = UpdateDocumentGroup {
        name: b.name,
        description: b.description,
        classifications: b.classifications,
        extraction_config: b.extraction_config,
        check_config: b.check_config,
        recency_config: b.recency_config,
        is_default: b.is_default,
        priority: b.priority,
        is_active: b.is_active,
    };
    let id = path.into_inner();
    cmd::update_group(&state.writer, p.meta(state.now()), id.clone(), input).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get_group(c, &env, id.as_str())).await?))
}

#[utoipa::path(delete, path = "/api/v1/settings/document-groups/{group_id}", tag = "Document settings",
    operation_id = "delete_document_group",
    params(("group_id" = DocumentGroupId, Path, description = "The document group")),
    responses((status = 200, description = "The group is deleted", body = Deleted)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn delete_group(state: web::Data<AppState>, p: Principal, path: ApiPath<DocumentGroupId>) -> ApiResult {
    p.require(SETTINGS, &[])?;
    cmd::delete_group(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(Deleted::YES))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        upload,
        get,
        update,
        redact,
        download,
        preview,
        extractions,
        checks,
        classify,
        extract,
        list_types,
        create_type,
        get_type,
        update_type,
        delete_type,
        list_groups,
        create_group,
        get_group,
        update_group,
        delete_group
    ),
    components(schemas(
        DocumentUploadForm,
        UpdateDocumentBody,
        PoaDocumentType,
        DocumentStatus,
        DocumentSummary,
        DocumentDetail,
        ClassificationView,
        ExtractionView,
        ExtractionList,
        DocumentCheckView,
        DocumentChecks,
        FileBytes,
        DocumentCategory,
        CheckSuiteEntry,
        ExtractionHints,
        RecencyConfig,
        CreateDocumentTypeBody,
        UpdateDocumentTypeBody,
        DocumentTypeView,
        CreateDocumentGroupBody,
        UpdateDocumentGroupBody,
        DocumentGroupView,
        Deleted
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
