//! Session reads: the session object, lists, the result (flat, and the /results shapes), documents with
//! signed URLs and their download, the risk assessment, the capture page's view of a session, and the
//! session DSAR bundle. Opens sealed fields for the response only; must not write.

use super::{OffsetPage, Page};
use crate::crypto::Keyring;
use crate::domain::ids::{IdentityId, SessionId};
use crate::domain::session::{
    DocumentType, Outcome, ResultStatus, RetentionStatus, SessionStatus, UploadType, WorkflowRunStatus,
};
use crate::error::{AppError, AppResult};
use crate::store::subject_keys::{data_key, open_file, open_map};
use crate::store::ReadOnly;
use base64::Engine;
use rusqlite::{params, types::Value as Sql, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The case status is the case view's (its projection owns it); a session from before the cases view
/// keeps the status it recorded when it went to review.
const COLUMNS: &str = "id, environment, status, external_ref, metadata, country, checks, workflow_id, document_type,
    retention_status, processing_attempts, consent_ip, token_expires_at, case_id,
    COALESCE((SELECT c.status FROM cases c WHERE c.id = sessions.case_id), case_status), created_at, updated_at,
    identity_id, result_status, redirect_url, token_sealed";

fn tags(conn: &ReadOnly, id: &str) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT tag FROM session_tags WHERE session_id = ?1 ORDER BY position")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One of the session's one-time links (spec §1.1.11).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OneTimeLinkView {
    pub id: String,
    /// active, consumed (the person's first action), revoked (a newer link or token replaced it) or expired.
    #[schema(examples("active"))]
    pub status: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub consumed_at: Option<String>,
}

/// The session's one-time links, oldest first.
fn links(conn: &ReadOnly, id: &str) -> AppResult<Vec<OneTimeLinkView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, status, expires_at, created_at, consumed_at FROM capture_links WHERE session_id = ?1
         ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(OneTimeLinkView {
            id: r.get(0)?,
            status: r.get(1)?,
            expires_at: r.get(2)?,
            created_at: r.get(3)?,
            consumed_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A verification session (spec §1.1).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub id: SessionId,
    pub status: SessionStatus,
    pub is_sandbox: bool,
    /// `sandbox` or `live`: the environment of the key that created the session.
    #[schema(example = "sandbox")]
    pub environment: String,
    pub external_ref: Option<String>,
    /// Your own key/value data, stored as given.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    /// ISO 3166-1 alpha-2 country the session was created for.
    pub country: Option<String>,
    /// The session's own list of checks, overriding its workflow's.
    pub checks: Option<Vec<String>>,
    pub workflow_id: Option<String>,
    pub document_type: Option<DocumentType>,
    pub retention_status: RetentionStatus,
    pub processing_attempts: i64,
    pub consent_ip: Option<String>,
    /// The hosted capture page, while the session can still be captured.
    pub capture_url: Option<String>,
    /// When the capture token expires, while the session can still be captured.
    pub token_expires_at: Option<String>,
    pub case_id: Option<String>,
    pub case_status: Option<String>,
    pub identity_id: Option<String>,
    pub result_status: Option<ResultStatus>,
    pub redirect_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub tags: Vec<String>,
    /// The one-time links generated for this session.
    pub one_time_links: Vec<OneTimeLinkView>,
}

/// A session list page.
pub type SessionPage = OffsetPage<SessionView>;

/// The hosted capture page of a session that can still be captured (its token is sealed with the session).
pub(crate) fn capture_url(
    conn: &ReadOnly,
    keyring: &Keyring,
    id: &str,
    status: &str,
    token_sealed: Option<String>,
    base_url: &str,
) -> AppResult<Option<String>> {
    let active = status == "pending" || status == "capturing";
    Ok(match (active, token_sealed) {
        (true, Some(sealed)) => match data_key(conn, keyring, id)? {
            Some(k) => {
                let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).unwrap_or_default();
                k.open(id, "capture_token", &bytes).ok().map(|t| format!("{base_url}/verify/{t}"))
            }
            None => None,
        },
        _ => None,
    })
}

fn render(conn: &ReadOnly, keyring: &Keyring, r: &rusqlite::Row<'_>, base_url: &str) -> AppResult<SessionView> {
    let id: String = r.get(0)?;
    let status: String = r.get(2)?;
    let metadata: String = r.get(4)?;
    let checks: Option<String> = r.get(6)?;
    let sealed_ip: Option<String> = r.get(11)?;
    let consent_ip = match sealed_ip {
        Some(s) => match data_key(conn, keyring, &id)? {
            Some(k) => {
                let bytes = base64::engine::general_purpose::STANDARD.decode(s).unwrap_or_default();
                k.open(&id, "consent_ip", &bytes).ok()
            }
            None => None,
        },
        None => None,
    };
    let capture_url = capture_url(conn, keyring, &id, &status, r.get(20)?, base_url)?;
    let environment: String = r.get(1)?;
    Ok(SessionView {
        tags: tags(conn, &id)?,
        one_time_links: links(conn, &id)?,
        id: SessionId::from_stored(id),
        status: SessionStatus::from_stored(&status)?,
        is_sandbox: environment == "sandbox",
        environment,
        external_ref: r.get(3)?,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        country: r.get(5)?,
        checks: checks.and_then(|c| serde_json::from_str(&c).ok()),
        workflow_id: r.get(7)?,
        document_type: r.get::<_, Option<String>>(8)?.as_deref().map(DocumentType::from_stored).transpose()?,
        retention_status: RetentionStatus::from_stored(&r.get::<_, String>(9)?)?,
        processing_attempts: r.get(10)?,
        consent_ip,
        capture_url,
        token_expires_at: if status == "pending" || status == "capturing" { r.get(12)? } else { None },
        case_id: r.get(13)?,
        case_status: r.get(14)?,
        identity_id: r.get(17)?,
        result_status: r.get::<_, Option<String>>(18)?.as_deref().map(ResultStatus::from_stored).transpose()?,
        redirect_url: r.get(19)?,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
    })
}

pub fn get(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &str, base_url: &str) -> AppResult<SessionView> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1 AND environment = ?2"))?;
    let mut rows = stmt.query(params![id, environment])?;
    let row = rows.next()?.ok_or_else(|| AppError::not_found("Session"))?;
    render(conn, keyring, row, base_url)
}

/// A session's status alone (what a request waiting for the decision checks at each commit).
pub fn status(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<SessionStatus> {
    let status: Option<String> = conn
        .prepare_cached("SELECT status FROM sessions WHERE id = ?1 AND environment = ?2")?
        .query_row(params![id, environment], |r| r.get(0))
        .optional()?;
    SessionStatus::from_stored(&status.ok_or_else(|| AppError::not_found("Session"))?)
}

/// Which sessions a list shows; every part is optional and they combine with AND.
#[derive(Debug, Default)]
pub struct SessionFilter {
    /// Any of these statuses.
    pub status: Option<Vec<SessionStatus>>,
    /// The session id or its external reference.
    pub q: Option<String>,
    pub external_ref: Option<String>,
    pub identity_id: Option<IdentityId>,
}

/// `GET /identities/{id}/sessions`: the sessions of the identity named by id or external ref.
pub fn identity_sessions(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id_or_ref: &str,
    page: Page,
    base_url: &str,
) -> AppResult<SessionPage> {
    let id = super::identities::require(conn, environment, id_or_ref)?;
    let f = SessionFilter { identity_id: Some(IdentityId::from_stored(id)), ..SessionFilter::default() };
    list(conn, keyring, environment, &f, page, base_url)
}

pub fn list(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    f: &SessionFilter,
    page: Page,
    base_url: &str,
) -> AppResult<SessionPage> {
    let mut cond = vec!["environment = ?".to_string()];
    let mut values = vec![Sql::Text(environment.to_string())];
    if let Some(list) = &f.status {
        cond.push(format!("status IN ({})", vec!["?"; list.len()].join(", ")));
        values.extend(list.iter().map(|x| Sql::Text(x.as_str().to_string())));
    }
    if let Some(q) = &f.q {
        cond.push("(id = ? OR external_ref = ?)".into());
        values.push(Sql::Text(q.clone()));
        values.push(Sql::Text(q.clone()));
    }
    if let Some(r) = &f.external_ref {
        cond.push("external_ref = ?".into());
        values.push(Sql::Text(r.clone()));
    }
    if let Some(i) = &f.identity_id {
        cond.push("identity_id = ?".into());
        values.push(Sql::Text(i.as_str().to_string()));
    }
    let where_sql = cond.join(" AND ");
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM sessions WHERE {where_sql}"),
        rusqlite::params_from_iter(values.iter()),
        |r| r.get(0),
    )?;
    values.push(Sql::Integer(page.limit));
    values.push(Sql::Integer(page.offset));
    let mut stmt =
        conn.prepare(&format!("SELECT {COLUMNS} FROM sessions WHERE {where_sql} ORDER BY id DESC LIMIT ? OFFSET ?"))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
    let mut data = Vec::new();
    while let Some(row) = rows.next()? {
        data.push(render(conn, keyring, row, base_url)?);
    }
    Ok(OffsetPage::new(data, total, page))
}

/// The result row of a session, or 404 "No result yet".
struct ResultRow {
    environment: String,
    external_ref: Option<String>,
    result: StoredResult,
    extracted: Option<String>,
    decided_at: String,
    retention: String,
}

/// The stored outcome (`Outcome`) as the result endpoints answer it. The check results stay the JSON text
/// they were stored as: checked while read, not rebuilt into a tree to be written out again (they are most
/// of a result, and the result is asked for once per verification). What the endpoints do not show (the
/// risk details, the sealed extracted data, the workflow path) is skipped.
#[derive(Deserialize)]
struct StoredResult {
    status: String,
    face_match_passed: Option<bool>,
    face_match_score: Option<f64>,
    age_check_passed: Option<bool>,
    extracted_age: Option<i64>,
    rejection_reason: Option<String>,
    rejection_reason_code: Option<String>,
    check_results: Box<RawValue>,
    country_used: Option<String>,
    identity_id: Option<String>,
    simulated: bool,
}

fn result_row(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<ResultRow> {
    let row: Option<(String, Option<String>, Option<String>, Option<String>, Option<String>, String)> = conn
        .prepare_cached(
            "SELECT environment, external_ref, result_json, result_extracted, decided_at, retention_status
             FROM sessions WHERE id = ?1 AND environment = ?2",
        )?
        .query_row(params![id, environment], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()?;
    let (environment, external_ref, json_text, extracted, decided_at, retention) =
        row.ok_or_else(|| AppError::not_found("Session"))?;
    let (Some(text), Some(decided_at)) = (json_text, decided_at) else {
        return Err(AppError::NotFound("No result yet.".into()));
    };
    Ok(ResultRow { environment, external_ref, result: serde_json::from_str(&text)?, extracted, decided_at, retention })
}

fn extracted_data(
    conn: &ReadOnly,
    keyring: &Keyring,
    id: &str,
    row: &ResultRow,
) -> AppResult<BTreeMap<String, String>> {
    if row.retention != "active" {
        return Ok(BTreeMap::new());
    }
    let Some(key) = data_key(conn, keyring, id)? else { return Ok(BTreeMap::new()) };
    open_map(&key, id, "extracted", row.extracted.as_deref())
}

/// A session's result (`GET /sessions/{id}/result`, flat shape).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultView {
    pub session_id: SessionId,
    pub status: ResultStatus,
    pub is_sandbox: bool,
    /// When the decision was made.
    pub created_at: String,
    pub face_match_passed: Option<bool>,
    pub face_match_score: Option<f64>,
    pub age_check_passed: Option<bool>,
    pub extracted_age: Option<i64>,
    /// Data read from the document; empty once the sensitive window has passed.
    pub extracted_data: BTreeMap<String, String>,
    pub rejection_reason: Option<String>,
    pub rejection_reason_code: Option<String>,
    #[schema(example = "workflow")]
    pub processing_mode: String,
    pub country_used: Option<String>,
    pub sensitive_data_expired: bool,
    /// Each check's outcome, by check name.
    #[schema(value_type = Object)]
    pub check_results: Box<RawValue>,
    pub identity_id: Option<String>,
    pub simulated: bool,
}

/// `GET /sessions/{id}/result` (flat shape).
pub fn result(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &str) -> AppResult<ResultView> {
    let row = result_row(conn, environment, id)?;
    let extracted_data = extracted_data(conn, keyring, id, &row)?;
    let r = row.result;
    Ok(ResultView {
        session_id: SessionId::from_stored(id.to_string()),
        status: ResultStatus::from_stored(&r.status)?,
        is_sandbox: row.environment == "sandbox",
        created_at: row.decided_at,
        face_match_passed: r.face_match_passed,
        face_match_score: r.face_match_score,
        age_check_passed: r.age_check_passed,
        extracted_age: r.extracted_age,
        extracted_data,
        rejection_reason: r.rejection_reason,
        rejection_reason_code: r.rejection_reason_code,
        processing_mode: "workflow".into(),
        country_used: r.country_used,
        sensitive_data_expired: row.retention != "active",
        check_results: r.check_results,
        identity_id: r.identity_id,
        simulated: r.simulated,
    })
}

/// The checks part of a nested result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultDetail {
    pub face_match_passed: Option<bool>,
    pub face_match_score: Option<f64>,
    pub age_check_passed: Option<bool>,
    pub extracted_age: Option<i64>,
    pub extracted_data: BTreeMap<String, String>,
}

/// A result in the `/results/{session_id}` shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NestedResultView {
    pub session_id: SessionId,
    pub status: ResultStatus,
    pub created_at: String,
    pub external_ref: Option<String>,
    pub result: ResultDetail,
    pub rejection_reason: Option<String>,
    pub rejection_reason_code: Option<String>,
    #[schema(example = "workflow")]
    pub processing_mode: String,
    /// Present (true) once the sensitive window has passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub sensitive_data_expired: Option<bool>,
}

/// `GET /results/{session_id}` (nested shape).
pub fn result_nested(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &str) -> AppResult<NestedResultView> {
    let row = result_row(conn, environment, id)?;
    let extracted_data = extracted_data(conn, keyring, id, &row)?;
    let r = row.result;
    Ok(NestedResultView {
        session_id: SessionId::from_stored(id.to_string()),
        status: ResultStatus::from_stored(&r.status)?,
        created_at: row.decided_at,
        external_ref: row.external_ref,
        result: ResultDetail {
            face_match_passed: r.face_match_passed,
            face_match_score: r.face_match_score,
            age_check_passed: r.age_check_passed,
            extracted_age: r.extracted_age,
            extracted_data,
        },
        rejection_reason: r.rejection_reason,
        rejection_reason_code: r.rejection_reason_code,
        processing_mode: "workflow".into(),
        sensitive_data_expired: (row.retention != "active").then_some(true),
    })
}

/// One item of `GET /results` (no personal data).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultListItem {
    pub session_id: SessionId,
    pub status: ResultStatus,
    pub created_at: String,
    pub face_match_passed: Option<bool>,
    pub face_match_score: Option<f64>,
    pub age_check_passed: Option<bool>,
    pub rejection_reason: Option<String>,
    pub rejection_reason_code: Option<String>,
}

/// Which results `GET /results` lists.
#[derive(Debug, Default)]
pub struct ResultFilter {
    /// Any of these result statuses (`rejected` also finds `declined`, and the reverse).
    pub status: Option<Vec<ResultStatus>>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
}

/// `GET /results`: no PII in list items.
pub fn results(
    conn: &ReadOnly,
    environment: &str,
    f: &ResultFilter,
    page: Page,
) -> AppResult<OffsetPage<ResultListItem>> {
    let mut cond = vec!["environment = ?".to_string(), "result_status IS NOT NULL".to_string()];
    let mut values = vec![Sql::Text(environment.to_string())];
    if let Some(list) = &f.status {
        let mut wanted: Vec<&str> = Vec::new();
        for s in list {
            match s {
                ResultStatus::Declined | ResultStatus::Rejected => wanted.extend(["declined", "rejected"]),
                other => wanted.push(other.as_str()),
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        cond.push(format!("result_status IN ({})", vec!["?"; wanted.len()].join(", ")));
        values.extend(wanted.iter().map(|x| Sql::Text(x.to_string())));
    }
    if let Some(a) = &f.created_after {
        cond.push("decided_at >= ?".into());
        values.push(Sql::Text(a.clone()));
    }
    if let Some(b) = &f.created_before {
        cond.push("decided_at < ?".into());
        values.push(Sql::Text(b.clone()));
    }
    let where_sql = cond.join(" AND ");
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM sessions WHERE {where_sql}"),
        rusqlite::params_from_iter(values.iter()),
        |r| r.get(0),
    )?;
    values.push(Sql::Integer(page.limit));
    values.push(Sql::Integer(page.offset));
    let mut stmt = conn.prepare(&format!(
        "SELECT id, result_json, decided_at FROM sessions WHERE {where_sql} ORDER BY decided_at DESC, id DESC LIMIT ? OFFSET ?"
    ))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
    let mut data = Vec::new();
    while let Some(r) = rows.next()? {
        let text: String = r.get(1)?;
        let v: Outcome = serde_json::from_str(&text)?;
        data.push(ResultListItem {
            session_id: SessionId::from_stored(r.get(0)?),
            status: ResultStatus::from_stored(&v.status)?,
            created_at: r.get(2)?,
            face_match_passed: v.face_match_passed,
            face_match_score: v.face_match_score,
            age_check_passed: v.age_check_passed,
            rejection_reason: v.rejection_reason,
            rejection_reason_code: v.rejection_reason_code,
        });
    }
    Ok(OffsetPage::new(data, total, page))
}

pub const URL_TTL_SECONDS: i64 = 300;

/// One uploaded document of a session, with a short-lived signed download URL.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentView {
    pub doc_type: UploadType,
    #[schema(example = "image/jpeg")]
    pub mime_type: String,
    pub file_size_bytes: i64,
    pub created_at: String,
    /// Signed download URL; needs no API key and stops working after `expires_in` seconds.
    pub url: String,
    /// Seconds the URL stays valid.
    pub expires_in: i64,
}

/// The documents of a session.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentList {
    pub data: Vec<DocumentView>,
}

/// Document list with signed, short-lived URLs; 410 after the sensitive window.
pub fn documents(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id: &str,
    base_url: &str,
    now_unix: i64,
) -> AppResult<DocumentList> {
    let retention: Option<String> = conn
        .query_row(
            "SELECT retention_status FROM sessions WHERE id = ?1 AND environment = ?2",
            params![id, environment],
            |r| r.get(0),
        )
        .optional()?;
    match retention.as_deref() {
        None => return Err(AppError::not_found("Session")),
        Some("active") => {}
        Some(_) => {
            return Err(AppError::Gone(
                "The documents of this session are past their retention window or redacted.".into(),
            ))
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT doc_type, mime_type, size_bytes, created_at FROM session_documents WHERE session_id = ?1 ORDER BY doc_type",
    )?;
    let expires = now_unix + URL_TTL_SECONDS;
    let mut rows = stmt.query([id])?;
    let mut data = Vec::new();
    while let Some(r) = rows.next()? {
        let doc_type: String = r.get(0)?;
        let path = format!("/api/v1/sessions/{id}/documents/{doc_type}");
        let sig = keyring.url_signature(&path, expires);
        data.push(DocumentView {
            doc_type: UploadType::from_stored(&doc_type)?,
            mime_type: r.get(1)?,
            file_size_bytes: r.get(2)?,
            created_at: r.get(3)?,
            url: format!("{base_url}{path}?expires={expires}&sig={sig}"),
            expires_in: URL_TTL_SECONDS,
        });
    }
    Ok(DocumentList { data })
}

/// The bytes of one document, after checking the URL signature (no API key: the signature is the
/// credential).
pub fn document_bytes(
    conn: &ReadOnly,
    keyring: &Keyring,
    id: &str,
    doc_type: &str,
    expires: i64,
    sig: &str,
    now_unix: i64,
) -> AppResult<(String, Vec<u8>)> {
    let path = format!("/api/v1/sessions/{id}/documents/{doc_type}");
    let expected = keyring.url_signature(&path, expires);
    if expires < now_unix || !crate::crypto::constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
        return Err(AppError::Forbidden {
            code: "invalid_signature",
            detail: "The document URL is invalid or has expired.".into(),
        });
    }
    session_document(conn, keyring, id, doc_type)
}

/// The decrypted bytes and content type of one document of session `id` (the caller has checked access):
/// 404 without such a document, 410 past retention or once erased.
pub fn session_document(conn: &ReadOnly, keyring: &Keyring, id: &str, doc_type: &str) -> AppResult<(String, Vec<u8>)> {
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT d.mime_type, d.blob_id, s.retention_status FROM session_documents d JOIN sessions s ON s.id = d.session_id
             WHERE d.session_id = ?1 AND d.doc_type = ?2",
            params![id, doc_type],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (mime, blob_id, retention) = row.ok_or_else(|| AppError::not_found("Document"))?;
    if retention != "active" {
        return Err(AppError::Gone("The document is past its retention window.".into()));
    }
    let erased = || AppError::Gone("The document has been erased.".into());
    let key = data_key(conn, keyring, id)?.ok_or_else(erased)?;
    Ok((mime, open_file(conn, &key, id, "document", &blob_id)?.ok_or_else(erased)?))
}

/// One signal that raised a session's fraud risk score.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RiskSignal {
    #[schema(example = "completion_too_fast")]
    pub name: String,
    #[schema(example = "behavioral")]
    pub category: String,
    pub weight: i64,
    #[schema(example = "score")]
    pub action: String,
}

/// A session's fraud risk assessment (spec §4.10).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RiskView {
    pub session_id: SessionId,
    /// 0 to 100; null when the decision was made without an assessment (an external rejection).
    pub risk_score: Option<i64>,
    /// `low`, `medium`, `high` or `critical`.
    #[schema(example = "low")]
    pub risk_level: Option<String>,
    pub signals: Vec<RiskSignal>,
}

#[derive(Deserialize, Default)]
struct StoredRisk {
    risk_score: Option<i64>,
    risk_level: Option<String>,
    #[serde(default)]
    signals: Vec<RiskSignal>,
}

pub fn risk(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<RiskView> {
    let row: Option<(Option<String>, String)> = conn
        .query_row(
            "SELECT result_json, fraud_signals FROM sessions WHERE id = ?1 AND environment = ?2",
            params![id, environment],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (result, _) = row.ok_or_else(|| AppError::not_found("Session"))?;
    let result: Outcome = result
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| AppError::NotFound("No risk assessment yet.".into()))?;
    let stored: StoredRisk =
        if result.risk.is_null() { StoredRisk::default() } else { serde_json::from_value(result.risk)? };
    Ok(RiskView {
        session_id: SessionId::from_stored(id.to_string()),
        risk_score: stored.risk_score,
        risk_level: stored.risk_level,
        signals: stored.signals,
    })
}

/// Whether the session's checks (its override, else its workflow's policies) include face matching.
fn needs_selfie(conn: &ReadOnly, environment: &str, id: &str, checks: Option<&[String]>) -> AppResult<bool> {
    if let Some(c) = checks {
        return Ok(c.iter().any(|x| x == "face_match"));
    }
    let workflow_id: Option<String> =
        conn.query_row("SELECT workflow_id FROM sessions WHERE id = ?1", [id], |r| r.get(0))?;
    Ok(match crate::store::shared_reads::resolve_for_session(conn, environment, workflow_id.as_deref())? {
        Some((_, _, graph)) => crate::domain::workflow::policies(&graph).iter().any(|p| p == "face_match"),
        None => true,
    })
}

/// What the capture page needs to render its next step.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaptureState {
    pub session_id: SessionId,
    pub status: SessionStatus,
    pub result_status: Option<ResultStatus>,
    pub is_sandbox: bool,
    /// The document type chosen so far.
    pub document_type: Option<DocumentType>,
    /// The document types the person may choose from.
    pub document_types: Vec<DocumentType>,
    /// Whether the chosen document has a back side to upload.
    pub needs_back: bool,
    pub needs_selfie: bool,
    pub consented: bool,
    /// The images uploaded so far.
    pub uploaded: Vec<UploadType>,
    /// Personal data the integrator prefilled, for the person to confirm.
    pub prefill: BTreeMap<String, String>,
    pub expires_at: Option<String>,
    pub redirect_url: Option<String>,
}

/// What the capture page needs to render its next step.
pub fn capture_state(conn: &ReadOnly, keyring: &Keyring, id: &str) -> AppResult<CaptureState> {
    let (status, environment, document_type, consented, checks, prefill, expires): (String, String, Option<String>, bool, Option<String>, Option<String>, Option<String>) = conn.query_row(
        "SELECT status, environment, document_type, consent_at IS NOT NULL, checks, prefill, token_expires_at FROM sessions WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
    )?;
    let mut stmt =
        conn.prepare_cached("SELECT doc_type FROM session_documents WHERE session_id = ?1 ORDER BY doc_type")?;
    let uploaded: Vec<String> = stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let checks: Option<Vec<String>> = checks.and_then(|c| serde_json::from_str(&c).ok());
    let prefill = match data_key(conn, keyring, id)? {
        Some(k) => open_map(&k, id, "prefill", prefill.as_deref())?,
        None => Default::default(),
    };
    let (result_status, redirect_url): (Option<String>, Option<String>) =
        conn.query_row("SELECT result_status, redirect_url FROM sessions WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(CaptureState {
        session_id: SessionId::from_stored(id.to_string()),
        status: SessionStatus::from_stored(&status)?,
        result_status: result_status.as_deref().map(ResultStatus::from_stored).transpose()?,
        is_sandbox: environment == "sandbox",
        needs_back: document_type.as_deref().is_some_and(crate::domain::session::needs_back),
        document_type: document_type.as_deref().map(DocumentType::from_stored).transpose()?,
        document_types: DocumentType::ALL.to_vec(),
        needs_selfie: needs_selfie(conn, &environment, id, checks.as_deref())?,
        consented,
        uploaded: uploaded.iter().map(|u| UploadType::from_stored(u)).collect::<AppResult<_>>()?,
        prefill,
        expires_at: expires,
        redirect_url,
    })
}

/// A document in a session export, with a download URL that lives 24 hours.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportDocument {
    pub doc_type: UploadType,
    pub mime_type: String,
    pub file_size_bytes: i64,
    pub created_at: String,
    /// Short-lived signed URL (5 minutes).
    pub url: String,
    /// Signed URL valid for `expires_in` seconds (24 hours, spec §1.15).
    pub download_url: String,
    pub expires_in: i64,
}

/// Everything held about one session (GDPR Art. 15).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionExport {
    pub session: SessionView,
    /// The result, or null before a decision.
    pub result: Option<ResultView>,
    /// Personal data given by the integrator (prefill) and confirmed by the person, by field name.
    pub provided_data: BTreeMap<String, String>,
    pub documents: Vec<ExportDocument>,
    /// Screening runs of the session (none are kept per session).
    #[schema(value_type = Vec<Object>)]
    pub screening: Vec<Value>,
    /// The review case (cases are exported with the identity).
    #[schema(value_type = Option<Object>)]
    pub review_case: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub case_notes: Vec<Value>,
    /// The risk assessment check's outcome, or null.
    #[schema(value_type = Option<Object>)]
    pub fraud_signals: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub webhook_deliveries: Vec<Value>,
}

/// Everything held about one session, decrypted (GDPR Art. 15).
pub fn export(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id: &str,
    base_url: &str,
    now_unix: i64,
) -> AppResult<SessionExport> {
    let session = get(conn, keyring, environment, id, base_url)?;
    let result = match result(conn, keyring, environment, id) {
        Ok(r) => Some(r),
        Err(AppError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let documents = match documents(conn, keyring, environment, id, base_url, now_unix) {
        Ok(d) => {
            // DSAR links live 24 h (spec §1.15).
            let expires = now_unix + 24 * 3600;
            d.data
                .into_iter()
                .map(|item| {
                    let path = format!("/api/v1/sessions/{id}/documents/{}", item.doc_type);
                    let sig = keyring.url_signature(&path, expires);
                    ExportDocument {
                        doc_type: item.doc_type,
                        mime_type: item.mime_type,
                        file_size_bytes: item.file_size_bytes,
                        created_at: item.created_at,
                        url: item.url,
                        download_url: format!("{base_url}{path}?expires={expires}&sig={sig}"),
                        expires_in: 24 * 3600,
                    }
                })
                .collect()
        }
        Err(AppError::Gone(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let provided_data = match data_key(conn, keyring, id)? {
        Some(k) => {
            let (prefill, user_data): (Option<String>, Option<String>) =
                conn.query_row("SELECT prefill, user_data FROM sessions WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let mut m = open_map(&k, id, "prefill", prefill.as_deref())?;
            m.extend(open_map(&k, id, "user_data", user_data.as_deref())?);
            m
        }
        None => BTreeMap::new(),
    };
    let fraud_signals = result
        .as_ref()
        .and_then(|r| serde_json::from_str::<Map<String, Value>>(r.check_results.get()).ok())
        .and_then(|mut checks| checks.remove("risk_assessment"));
    Ok(SessionExport {
        session,
        result,
        provided_data,
        documents,
        screening: Vec::new(),
        review_case: None,
        case_notes: Vec::new(),
        fraud_signals,
        webhook_deliveries: Vec::new(),
    })
}

/// The decrypted bytes of one document of a session, for in-process checks (no URL signature).
pub fn document_plain(conn: &ReadOnly, keyring: &Keyring, id: &str, doc_type: &str) -> AppResult<Option<Vec<u8>>> {
    let blob: Option<String> = conn
        .query_row(
            "SELECT blob_id FROM session_documents WHERE session_id = ?1 AND doc_type = ?2",
            params![id, doc_type],
            |r| r.get(0),
        )
        .optional()?;
    let Some(blob_id) = blob else { return Ok(None) };
    let Some(key) = data_key(conn, keyring, id)? else { return Ok(None) };
    open_file(conn, &key, id, "document", &blob_id)
}

/// One entry of a session's audit trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionEventView {
    #[schema(example = "aud_01J9ZQ4X8Y2K3M4N5P6Q7R8S9T")]
    pub id: String,
    /// The event type, e.g. `SessionCreated`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Same as `type`.
    pub action: String,
    pub created_at: String,
    #[schema(example = "session")]
    pub resource_type: String,
    pub resource_id: SessionId,
    /// Who acted: `api_key:<id>`, `capture`, `system`, ...
    pub actor: String,
    /// What changed (never personal data).
    #[schema(value_type = Option<Object>)]
    pub metadata: Value,
    pub sequence_num: i64,
}

/// `GET /sessions/{id}/events`: the session's audit trail, newest first.
pub fn events(conn: &ReadOnly, environment: &str, id: &str, page: Page) -> AppResult<OffsetPage<SessionEventView>> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND environment = ?2)",
        params![id, environment],
        |r| r.get(0),
    )?;
    if !exists {
        return Err(AppError::not_found("Session"));
    }
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM session_audit WHERE session_id = ?1", [id], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT event_id, action, actor, metadata, recorded_at, event_seq FROM session_audit
         WHERE session_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt.query_map(params![id, page.limit, page.offset], |r| {
        let event_id: String = r.get(0)?;
        let action: String = r.get(1)?;
        let actor: String = r.get(2)?;
        let metadata: String = r.get(3)?;
        Ok(SessionEventView {
            id: format!("aud_{}", event_id.trim_start_matches("evt_")),
            event_type: action.clone(),
            action,
            created_at: r.get(4)?,
            resource_type: "session".into(),
            resource_id: SessionId::from_stored(id.to_string()),
            actor: crate::queries::identities::render_actor(&actor),
            metadata: serde_json::from_str::<Value>(&metadata).unwrap_or(Value::Null),
            sequence_num: r.get(5)?,
        })
    })?;
    Ok(OffsetPage::new(rows.collect::<Result<Vec<_>, _>>()?, total, page))
}

/// Which workflow version ran a session, where it is and what each check found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkflowRunView {
    pub session_id: SessionId,
    pub workflow_id: Option<String>,
    pub workflow_version: Option<i64>,
    pub status: WorkflowRunStatus,
    pub session_status: SessionStatus,
    /// The node the run waits at (an external gate), if any.
    pub waiting_at: Option<String>,
    /// The workflow nodes visited, in order.
    pub path: Vec<String>,
    /// The result status the run reached, or null.
    pub outcome: Option<ResultStatus>,
    /// Each check's outcome, by check name.
    #[schema(value_type = Object)]
    pub check_results: Map<String, Value>,
    pub completed_at: Option<String>,
    /// When the latest run began (entering processing), if the session has run.
    pub started_at: Option<String>,
    /// Every node the latest run visited across its passes (the gate included), with what happened
    /// there and when.
    pub nodes: Vec<crate::queries::workflow_runs::RunNodeView>,
}

/// `GET /sessions/{id}/workflow-run`: which workflow version ran, the nodes it visited, where it waits,
/// and each check's outcome.
pub fn workflow_run(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<WorkflowRunView> {
    let row: Option<(String, Option<String>, Option<i64>, Option<String>, Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT status, workflow_id, workflow_version, workflow_node, result_json, decided_at FROM sessions
             WHERE id = ?1 AND environment = ?2",
            params![id, environment],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let (status, workflow_id, version, node, result, decided_at) = row.ok_or_else(|| AppError::not_found("Session"))?;
    let result: Option<Outcome> = result.and_then(|t| serde_json::from_str(&t).ok());
    let run_status = match status.as_str() {
        "pending" | "capturing" | "sandbox_pending" => WorkflowRunStatus::NotStarted,
        "processing" => WorkflowRunStatus::Running,
        "awaiting_external" => WorkflowRunStatus::AwaitingExternal,
        "failed" => WorkflowRunStatus::Failed,
        _ if result.is_none() => WorkflowRunStatus::NotStarted,
        _ => WorkflowRunStatus::Completed,
    };
    let (path, outcome, check_results) = match result {
        Some(r) => (r.workflow_path, Some(ResultStatus::from_stored(&r.status)?), r.check_results),
        None => (Vec::new(), None, Map::new()),
    };
    let run = crate::queries::workflow_runs::latest(conn, environment, id)?;
    Ok(WorkflowRunView {
        started_at: run.as_ref().map(|r| r.started_at.clone()),
        nodes: run.map(|r| r.nodes).unwrap_or_default(),
        session_id: SessionId::from_stored(id.to_string()),
        workflow_id,
        workflow_version: version,
        status: run_status,
        session_status: SessionStatus::from_stored(&status)?,
        waiting_at: node,
        path,
        outcome,
        check_results,
        completed_at: decided_at,
    })
}

/// Which fraud-signal digest a velocity count compares (`sessions.ip_digest` or `sessions.device_digest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalDigest {
    Ip,
    Device,
}

impl SignalDigest {
    /// The `sessions` column holding the digest.
    fn column(self) -> &'static str {
        match self {
            SignalDigest::Ip => "ip_digest",
            SignalDigest::Device => "device_digest",
        }
    }
}

fn velocity_sql(kind: SignalDigest) -> String {
    format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM sessions
          WHERE environment = ?1 AND {} = ?2 AND created_at >= ?3 AND id != ?4 LIMIT ?5)",
        kind.column()
    )
}

/// How many of the environment's sessions other than `except`, created at or after `since`, carry this IP
/// or device digest, counted up to `enough` (what the risk rule compares with). The index on digest and
/// creation time finds them: an address or device behind thousands of sessions (a shared NAT, a test
/// phone) costs a few rows, not a walk over every session it ever had.
pub fn sessions_with_digest_since(
    conn: &ReadOnly,
    environment: &str,
    kind: SignalDigest,
    digest: &[u8],
    since: &str,
    except: &str,
    enough: i64,
) -> AppResult<i64> {
    Ok(conn.query_row(&velocity_sql(kind), params![environment, digest, since, except, enough], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{open_writer, Durability, ReadPool};

    #[test]
    fn a_velocity_count_takes_the_environments_other_sessions_of_the_window_with_that_digest_up_to_enough() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        let (address, other_address, device) = (vec![1u8; 32], vec![2u8; 32], vec![3u8; 32]);
        {
            let writer = open_writer(&path, Durability::Normal).unwrap();
            let mut insert = writer
                .prepare(
                    "INSERT INTO sessions (id, environment, status, metadata, send_email, invites_sent, retention_status,
                        processing_attempts, fraud_signals, created_at, updated_at, stream_seq, ip_digest, device_digest)
                     VALUES (?1, ?2, 'completed', '{}', 0, 0, 'active', 0, '{}', ?3, ?3, 1, ?4, ?5)",
                )
                .unwrap();
            // Seven of the window from the address and the device, the session itself among them.
            for n in 0..7 {
                let at = format!("2026-12-06T0{n}:00:00.000Z");
                insert.execute(params![format!("ses_{n}"), "live", at, address, device]).unwrap();
            }
            // Outside the count: from the address the day before the window, in the other environment, from
            // another address, and one from the address without a device fingerprint.
            insert.execute(params!["ses_old", "live", "2026-12-04T23:59:59.000Z", address, device]).unwrap();
            insert.execute(params!["ses_sandbox", "sandbox", "2026-12-06T09:00:00.000Z", address, device]).unwrap();
            insert
                .execute(params!["ses_elsewhere", "live", "2026-12-06T09:00:00.000Z", other_address, None::<Vec<u8>>])
                .unwrap();
            insert
                .execute(params!["ses_no_device", "live", "2026-12-06T09:00:00.000Z", address, None::<Vec<u8>>])
                .unwrap();
        }
        let conn = ReadPool::open(&path, 1, 1).unwrap().get().unwrap();
        let since = "2026-12-05T12:00:00.000Z";
        let count = |kind, digest: &[u8], enough| {
            sessions_with_digest_since(&conn, "live", kind, digest, since, "ses_0", enough).unwrap()
        };
        assert_eq!(count(SignalDigest::Ip, &address, 100), 7, "six others with the device, one without");
        assert_eq!(count(SignalDigest::Device, &device, 100), 6);
        assert_eq!(count(SignalDigest::Ip, &other_address, 100), 1);
        // The count stops at what the rule compares with.
        assert_eq!(count(SignalDigest::Ip, &address, 5), 5);
        assert_eq!(count(SignalDigest::Device, &device, 3), 3);
        assert_eq!(count(SignalDigest::Device, &[9u8; 32], 3), 0);
    }

    #[test]
    fn velocity_counts_seek_by_digest_and_creation_time() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::store::SCHEMA_SQL).unwrap();
        for (kind, index) in
            [(SignalDigest::Ip, "sessions_by_ip_day"), (SignalDigest::Device, "sessions_by_device_day")]
        {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {}", velocity_sql(kind)))
                .unwrap()
                .query_map(params!["live", vec![1u8; 32], "2026-12-06T00:00:00.000Z", "ses_a", 5], |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let search = format!("USING INDEX {index} (environment=? AND {}=? AND created_at>?)", kind.column());
            assert!(plan.iter().any(|step| step.contains(&search)), "{kind:?}: {plan:?}");
        }
    }
}
