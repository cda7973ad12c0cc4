//! Reads over `documents`, `document_extractions`, `document_checks`, `document_types` and
//! `document_groups`: document metadata with a signed download URL, lists without PII, extracted values
//! (opened with the subject's key), checks, the bytes behind a signed URL or for a preview, and the custom
//! document type and group settings. Must not write, or read the events table.

use super::{OffsetPage, Page};
use crate::crypto::Keyring;
use crate::domain::ids::{DocumentGroupId, DocumentId, DocumentTypeId, ExtractionId, IdentityId, SessionId};
use crate::error::{AppError, AppResult};
use crate::store::subject_keys::{data_key, open_file};
use crate::store::ReadOnly;
use base64::Engine;
use rusqlite::{params, types::Value as Sql, OptionalExtension, Row};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// How long a signed document URL works (the session documents' window).
pub const URL_TTL_SECONDS: i64 = super::sessions::URL_TTL_SECONDS;

/// What the file looks like, from the facts idv read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClassificationView {
    #[schema(example = "proof_of_address")]
    pub classification: String,
    /// 0 to 1.
    #[schema(example = 0.6)]
    pub confidence: f64,
    /// The facts behind it, e.g. `pdf417_barcode`, `mrz_td3`, `portrait_aspect`.
    pub signals: Vec<String>,
}

/// A document without its extracted values (list items carry no PII).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentSummary {
    pub id: DocumentId,
    /// `api` for `POST /documents`, `session` for a session upload.
    #[schema(example = "api")]
    pub source: String,
    pub session_id: Option<SessionId>,
    pub identity_id: Option<IdentityId>,
    /// A built-in type or a custom document type's slug.
    #[schema(example = "proof_of_address")]
    pub document_type: String,
    /// `pending`, `verified`, `failed` or `redacted`.
    #[schema(example = "verified")]
    pub status: String,
    #[schema(example = "application/pdf")]
    pub mime_type: String,
    pub file_size_bytes: i64,
    pub page_count: Option<i64>,
    /// `utility_bill` or `bank_statement` (proof of address only).
    pub poa_document_type: Option<String>,
    /// The date printed on a proof of address, YYYY-MM-DD.
    pub poa_document_date: Option<String>,
    pub classification: Option<ClassificationView>,
    /// The names of the fields the latest extraction found (values on `GET /documents/{id}`).
    pub extracted_field_names: Vec<String>,
    /// The document group whose rules applied at the latest checks.
    pub group_id: Option<DocumentGroupId>,
    /// Signed, expiring download URL; null once redacted or past the session's data window.
    pub url: Option<String>,
    pub expires_in: Option<i64>,
    /// Increases with every change; send it back as `version` on PATCH to refuse a lost update.
    pub version: i64,
    pub redacted_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A document's metadata, its extracted values and its signed download URL.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentDetail {
    #[serde(flatten)]
    pub summary: DocumentSummary,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// The latest extraction's values (empty when nothing was found or after redaction).
    pub extracted_fields: BTreeMap<String, String>,
}

/// One extraction run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExtractionView {
    pub id: ExtractionId,
    pub document_id: DocumentId,
    /// Where the values came from: `barcode`, `mrz`, `hints`.
    pub sources: Vec<String>,
    pub field_names: Vec<String>,
    /// The values (empty after redaction).
    pub fields: BTreeMap<String, String>,
    pub confidence: Option<f64>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExtractionList {
    pub data: Vec<ExtractionView>,
}

/// One document check's latest outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentCheckView {
    #[schema(example = "recency")]
    pub name: String,
    /// `passed`, `failed` or `skipped`.
    #[schema(example = "failed")]
    pub status: String,
    /// `required` or `optional`.
    #[schema(example = "required")]
    pub requirement: String,
    pub reason: Option<String>,
    pub checked_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentChecks {
    pub document_id: DocumentId,
    #[schema(example = "failed")]
    pub status: String,
    pub group_id: Option<DocumentGroupId>,
    pub data: Vec<DocumentCheckView>,
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    pub session_id: Option<String>,
    pub identity_id: Option<String>,
    pub document_type: Option<String>,
    pub status: Option<String>,
}

const COLUMNS: &str = "d.id, d.source, d.session_id, COALESCE(d.identity_id, s.identity_id), d.document_type, d.status,
    d.mime_type, d.size_bytes, d.page_count, d.poa_document_type, d.poa_document_date, d.classification,
    d.classification_confidence, d.classification_signals, d.extracted_fields, d.group_id, d.version, d.redacted_at,
    d.created_at, d.updated_at, d.blob_id, COALESCE(s.retention_status, 'active'), d.metadata, d.width, d.height,
    d.subject_id, d.extracted_data, d.extraction_id";
const FROM: &str = "FROM documents d LEFT JOIN sessions s ON s.id = d.session_id AND d.source = 'session'";

fn json_list(text: Option<String>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

pub fn download_path(id: &str) -> String {
    format!("/api/v1/documents/{id}/download")
}

struct Row0 {
    summary: DocumentSummary,
    metadata: String,
    width: Option<i64>,
    height: Option<i64>,
    subject_id: String,
    extracted_data: Option<String>,
    extraction_id: Option<String>,
}

fn row(r: &Row<'_>, keyring: &Keyring, base_url: &str, now: i64) -> rusqlite::Result<Row0> {
    let id: String = r.get(0)?;
    let blob: Option<String> = r.get(20)?;
    let retention: String = r.get(21)?;
    let (url, expires_in) = if blob.is_some() && retention == "active" {
        let expires = now + URL_TTL_SECONDS;
        let path = download_path(&id);
        let sig = keyring.url_signature(&path, expires);
        (Some(format!("{base_url}{path}?expires={expires}&sig={sig}")), Some(URL_TTL_SECONDS))
    } else {
        (None, None)
    };
    let classification = r.get::<_, Option<String>>(11)?.map(|c| ClassificationView {
        classification: c,
        confidence: r.get::<_, Option<f64>>(12).ok().flatten().unwrap_or(0.0),
        signals: json_list(r.get(13).ok().flatten()),
    });
    Ok(Row0 {
        summary: DocumentSummary {
            id: DocumentId::from_stored(id),
            source: r.get(1)?,
            session_id: r.get::<_, Option<String>>(2)?.map(SessionId::from_stored),
            identity_id: r.get::<_, Option<String>>(3)?.map(IdentityId::from_stored),
            document_type: r.get(4)?,
            status: r.get(5)?,
            mime_type: r.get(6)?,
            file_size_bytes: r.get(7)?,
            page_count: r.get(8)?,
            poa_document_type: r.get(9)?,
            poa_document_date: r.get(10)?,
            classification,
            extracted_field_names: json_list(r.get(14)?),
            group_id: r.get::<_, Option<String>>(15)?.map(DocumentGroupId::from_stored),
            url,
            expires_in,
            version: r.get(16)?,
            redacted_at: r.get(17)?,
            created_at: r.get(18)?,
            updated_at: r.get(19)?,
        },
        metadata: r.get(22)?,
        width: r.get(23)?,
        height: r.get(24)?,
        subject_id: r.get(25)?,
        extracted_data: r.get(26)?,
        extraction_id: r.get(27)?,
    })
}

/// Opens a sealed extraction map; an erased key reads as no values.
fn open_extraction(
    conn: &ReadOnly,
    keyring: &Keyring,
    subject_id: &str,
    extraction_id: &str,
    sealed: Option<&str>,
) -> AppResult<BTreeMap<String, String>> {
    let Some(sealed) = sealed else { return Ok(BTreeMap::new()) };
    let Some(key) = data_key(conn, keyring, subject_id)? else { return Ok(BTreeMap::new()) };
    let bytes = B64.decode(sealed).map_err(|_| AppError::Internal("sealed extraction is not base64".into()))?;
    Ok(serde_json::from_str(&key.open(subject_id, &format!("document_extraction:{extraction_id}"), &bytes)?)?)
}

pub fn list(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    filter: &DocumentFilter,
    page: Page,
    base_url: &str,
    now: i64,
) -> AppResult<OffsetPage<DocumentSummary>> {
    let mut clauses = vec!["d.environment = ?".to_string()];
    let mut args: Vec<Sql> = vec![Sql::Text(environment.to_string())];
    let mut add = |clause: &str, v: &Option<String>| {
        if let Some(v) = v {
            clauses.push(clause.to_string());
            args.push(Sql::Text(v.clone()));
        }
    };
    add("d.session_id = ?", &filter.session_id);
    add("COALESCE(d.identity_id, s.identity_id) = ?", &filter.identity_id);
    add("d.document_type = ?", &filter.document_type);
    add("d.status = ?", &filter.status);
    let filter_sql = clauses.join(" AND ");
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) {FROM} WHERE {filter_sql}"),
        rusqlite::params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    args.push(Sql::Integer(page.limit));
    args.push(Sql::Integer(page.offset));
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} {FROM} WHERE {filter_sql} ORDER BY d.created_at DESC, d.id DESC LIMIT ? OFFSET ?"
    ))?;
    let data = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| row(r, keyring, base_url, now).map(|x| x.summary))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage::new(data, total, page))
}

fn find(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &str, base_url: &str, now: i64) -> AppResult<Row0> {
    conn.query_row(
        &format!("SELECT {COLUMNS} {FROM} WHERE d.id = ?1 AND d.environment = ?2"),
        params![id, environment],
        |r| row(r, keyring, base_url, now),
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Document"))
}

pub fn get(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id: &str,
    base_url: &str,
    now: i64,
) -> AppResult<DocumentDetail> {
    let r = find(conn, keyring, environment, id, base_url, now)?;
    let extracted_fields = match &r.extraction_id {
        Some(x) => open_extraction(conn, keyring, &r.subject_id, x, r.extracted_data.as_deref())?,
        None => BTreeMap::new(),
    };
    Ok(DocumentDetail {
        metadata: serde_json::from_str(&r.metadata).unwrap_or_default(),
        width: r.width,
        height: r.height,
        extracted_fields,
        summary: r.summary,
    })
}

/// The (mime type, bytes) of a document of `environment`: for previews, classification and extraction.
pub fn bytes(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &str) -> AppResult<(String, Vec<u8>)> {
    let found: Option<String> = conn
        .query_row("SELECT id FROM documents WHERE id = ?1 AND environment = ?2", params![id, environment], |r| {
            r.get(0)
        })
        .optional()?;
    found.ok_or_else(|| AppError::not_found("Document"))?;
    open_bytes(conn, keyring, id)
}

fn open_bytes(conn: &ReadOnly, keyring: &Keyring, id: &str) -> AppResult<(String, Vec<u8>)> {
    let (mime, blob, subject, retention): (String, Option<String>, String, String) = conn
        .query_row(
            &format!("SELECT d.mime_type, d.blob_id, d.subject_id, COALESCE(s.retention_status, 'active') {FROM} WHERE d.id = ?1"),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("Document"))?;
    let gone = || AppError::Gone("The document has been redacted or is past its retention window.".into());
    let blob = blob.ok_or_else(gone)?;
    if retention != "active" {
        return Err(gone());
    }
    let key = data_key(conn, keyring, &subject)?.ok_or_else(gone)?;
    Ok((mime, open_file(conn, &key, &subject, "document", &blob)?.ok_or_else(gone)?))
}

/// The bytes behind a signed URL (no API key: the signature is the credential).
pub fn signed_bytes(
    conn: &ReadOnly,
    keyring: &Keyring,
    id: &str,
    expires: i64,
    sig: &str,
    now: i64,
) -> AppResult<(String, Vec<u8>)> {
    let expected = keyring.url_signature(&download_path(id), expires);
    if expires < now || !crate::crypto::constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
        return Err(AppError::Forbidden {
            code: "invalid_signature",
            detail: "The document URL is invalid or has expired.".into(),
        });
    }
    open_bytes(conn, keyring, id)
}

pub fn extractions(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &str) -> AppResult<ExtractionList> {
    let subject: String = conn
        .query_row(
            "SELECT subject_id FROM documents WHERE id = ?1 AND environment = ?2",
            params![id, environment],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("Document"))?;
    let mut stmt = conn.prepare(
        "SELECT id, sources, fields, data, confidence, created_at FROM document_extractions
         WHERE document_id = ?1 ORDER BY event_seq DESC",
    )?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<f64>>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut data = Vec::with_capacity(rows.len());
    for (x, sources, fields, sealed, confidence, created_at) in rows {
        data.push(ExtractionView {
            fields: open_extraction(conn, keyring, &subject, &x, sealed.as_deref())?,
            id: ExtractionId::from_stored(x),
            document_id: DocumentId::from_stored(id.to_string()),
            sources: json_list(Some(sources)),
            field_names: json_list(Some(fields)),
            confidence,
            created_at,
        });
    }
    Ok(ExtractionList { data })
}

pub fn checks(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<DocumentChecks> {
    let (status, group): (String, Option<String>) = conn
        .query_row(
            "SELECT status, group_id FROM documents WHERE id = ?1 AND environment = ?2",
            params![id, environment],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("Document"))?;
    let mut stmt = conn.prepare(
        "SELECT name, status, requirement, reason, checked_at FROM document_checks WHERE document_id = ?1 ORDER BY position",
    )?;
    let data = stmt
        .query_map([id], |r| {
            Ok(DocumentCheckView {
                name: r.get(0)?,
                status: r.get(1)?,
                requirement: r.get(2)?,
                reason: r.get(3)?,
                checked_at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DocumentChecks {
        document_id: DocumentId::from_stored(id.to_string()),
        status,
        group_id: group.map(DocumentGroupId::from_stored),
        data,
    })
}

// ------------------------------------------------------------------------------------------ settings

/// A custom document type (spec §1.3.2).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentTypeView {
    pub id: DocumentTypeId,
    /// The environment (idv's organisation is its environment).
    #[schema(example = "sandbox")]
    pub org_id: String,
    #[schema(example = "bank_letter")]
    pub slug: String,
    #[schema(example = "Bank letter")]
    pub label: String,
    #[schema(example = "financial")]
    pub category: String,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
    pub description: Option<String>,
    /// `{field_name: hint}`: a label string, `{"label": text}` or `{"regex": pattern}`.
    #[schema(value_type = Object)]
    pub extraction_hints: Map<String, Value>,
    /// `[check_name, category, requirement]` tuples.
    pub check_suite: Vec<Vec<String>>,
}

/// A document group (spec §1.3.3).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentGroupView {
    pub id: DocumentGroupId,
    #[schema(example = "sandbox")]
    pub org_id: String,
    #[schema(example = "Proof of address")]
    pub name: String,
    pub description: Option<String>,
    /// The document types (built-in or custom slugs) the group covers.
    pub classifications: Vec<String>,
    #[schema(value_type = Object)]
    pub extraction_config: Map<String, Value>,
    #[schema(value_type = Object)]
    pub check_config: Map<String, Value>,
    /// E.g. `{"max_age_days": 90}`.
    #[schema(value_type = Object)]
    pub recency_config: Map<String, Value>,
    pub is_default: bool,
    pub priority: i64,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

fn obj(text: String) -> Map<String, Value> {
    serde_json::from_str(&text).unwrap_or_default()
}

const TYPE_COLUMNS: &str =
    "id, environment, slug, label, category, is_active, created_at, updated_at, description, extraction_hints, check_suite";

fn type_row(r: &Row<'_>) -> rusqlite::Result<DocumentTypeView> {
    Ok(DocumentTypeView {
        id: DocumentTypeId::from_stored(r.get(0)?),
        org_id: r.get(1)?,
        slug: r.get(2)?,
        label: r.get(3)?,
        category: r.get(4)?,
        is_active: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
        description: r.get(8)?,
        extraction_hints: obj(r.get(9)?),
        check_suite: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or_default(),
    })
}

pub fn list_types(conn: &ReadOnly, environment: &str, page: Page) -> AppResult<OffsetPage<DocumentTypeView>> {
    let total: i64 =
        conn.query_row("SELECT COUNT(*) FROM document_types WHERE environment = ?1", [environment], |r| r.get(0))?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {TYPE_COLUMNS} FROM document_types WHERE environment = ?1 ORDER BY slug LIMIT ?2 OFFSET ?3"
    ))?;
    let data =
        stmt.query_map(params![environment, page.limit, page.offset], type_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage::new(data, total, page))
}

pub fn get_type(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<DocumentTypeView> {
    conn.query_row(
        &format!("SELECT {TYPE_COLUMNS} FROM document_types WHERE id = ?1 AND environment = ?2"),
        params![id, environment],
        type_row,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Document type"))
}

const GROUP_COLUMNS: &str = "id, environment, name, description, classifications, extraction_config, check_config,
    recency_config, is_default, priority, is_active, created_at, updated_at";

fn group_row(r: &Row<'_>) -> rusqlite::Result<DocumentGroupView> {
    Ok(DocumentGroupView {
        id: DocumentGroupId::from_stored(r.get(0)?),
        org_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        classifications: json_list(r.get(4)?),
        extraction_config: obj(r.get(5)?),
        check_config: obj(r.get(6)?),
        recency_config: obj(r.get(7)?),
        is_default: r.get(8)?,
        priority: r.get(9)?,
        is_active: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

pub fn list_groups(conn: &ReadOnly, environment: &str, page: Page) -> AppResult<OffsetPage<DocumentGroupView>> {
    let total: i64 =
        conn.query_row("SELECT COUNT(*) FROM document_groups WHERE environment = ?1", [environment], |r| r.get(0))?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {GROUP_COLUMNS} FROM document_groups WHERE environment = ?1
         ORDER BY priority, created_at, id LIMIT ?2 OFFSET ?3"
    ))?;
    let data =
        stmt.query_map(params![environment, page.limit, page.offset], group_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage::new(data, total, page))
}

pub fn get_group(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<DocumentGroupView> {
    conn.query_row(
        &format!("SELECT {GROUP_COLUMNS} FROM document_groups WHERE id = ?1 AND environment = ?2"),
        params![id, environment],
        group_row,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Document group"))
}

/// The document now filling a session's upload slot (the id a session upload answers with).
pub fn session_slot(conn: &ReadOnly, session_id: &str, slot: &str) -> AppResult<Option<DocumentId>> {
    Ok(conn
        .query_row(
            "SELECT id FROM documents WHERE session_id = ?1 AND session_slot = ?2",
            params![session_id, slot],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .map(DocumentId::from_stored))
}
