//! Session reads: the session object, lists, the result (flat, and the /results shapes), documents with
//! signed URLs and their download, the risk assessment, the capture page's view of a session, and the
//! session DSAR bundle. Opens sealed fields for the response only; must not write.

use super::{offset_envelope, Page};
use crate::commands::identities::data_key;
use crate::commands::sessions::open_map;
use crate::crypto::Keyring;
use crate::error::{AppError, AppResult};
use crate::store::ReadConn;
use base64::Engine;
use rusqlite::{params, types::Value as Sql, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

const COLUMNS: &str = "id, environment, status, external_ref, metadata, country, checks, workflow_id, document_type,
    retention_status, processing_attempts, consent_ip, token_expires_at, case_id, case_status, created_at, updated_at,
    identity_id, result_status, redirect_url, token_sealed";

fn tags(conn: &Connection, id: &str) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT tag FROM session_tags WHERE session_id = ?1 ORDER BY position")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The session's one-time links, oldest first: `active`, then `consumed` (the person's first action),
/// `revoked` (a newer link or token replaced it) or `expired`.
fn links(conn: &Connection, id: &str) -> AppResult<Vec<Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, status, expires_at, created_at, consumed_at FROM capture_links WHERE session_id = ?1
         ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(json!({
            "id": r.get::<_, String>(0)?,
            "status": r.get::<_, String>(1)?,
            "expires_at": r.get::<_, String>(2)?,
            "created_at": r.get::<_, String>(3)?,
            "consumed_at": r.get::<_, Option<String>>(4)?,
        }))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn render(conn: &Connection, keyring: &Keyring, r: &rusqlite::Row<'_>, base_url: &str) -> AppResult<Value> {
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
    let active = status == "pending" || status == "capturing";
    let token_sealed: Option<String> = r.get(20)?;
    let capture_url = match (active, token_sealed) {
        (true, Some(sealed)) => match data_key(conn, keyring, &id)? {
            Some(k) => {
                let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).unwrap_or_default();
                k.open(&id, "capture_token", &bytes).ok().map(|t| format!("{base_url}/verify/{t}"))
            }
            None => None,
        },
        _ => None,
    };
    Ok(json!({
        "id": id,
        "status": status,
        "is_sandbox": r.get::<_, String>(1)? == "sandbox",
        "environment": r.get::<_, String>(1)?,
        "external_ref": r.get::<_, Option<String>>(3)?,
        "metadata": serde_json::from_str::<Value>(&metadata).unwrap_or(json!({})),
        "country": r.get::<_, Option<String>>(5)?,
        "checks": checks.and_then(|c| serde_json::from_str::<Value>(&c).ok()),
        "workflow_id": r.get::<_, Option<String>>(7)?,
        "document_type": r.get::<_, Option<String>>(8)?,
        "retention_status": r.get::<_, String>(9)?,
        "processing_attempts": r.get::<_, i64>(10)?,
        "consent_ip": consent_ip,
        "capture_url": capture_url,
        "token_expires_at": if active { r.get::<_, Option<String>>(12)? } else { None },
        "case_id": r.get::<_, Option<String>>(13)?,
        "case_status": r.get::<_, Option<String>>(14)?,
        "identity_id": r.get::<_, Option<String>>(17)?,
        "result_status": r.get::<_, Option<String>>(18)?,
        "redirect_url": r.get::<_, Option<String>>(19)?,
        "created_at": r.get::<_, String>(15)?,
        "updated_at": r.get::<_, String>(16)?,
        "tags": tags(conn, r.get::<_, String>(0)?.as_str())?,
        "one_time_links": links(conn, r.get::<_, String>(0)?.as_str())?,
    }))
}

pub fn get(conn: &ReadConn, keyring: &Keyring, environment: &str, id: &str, base_url: &str) -> AppResult<Value> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM sessions WHERE id = ?1 AND environment = ?2"))?;
    let mut rows = stmt.query(params![id, environment])?;
    let row = rows.next()?.ok_or_else(|| AppError::not_found("Session"))?;
    render(conn, keyring, row, base_url)
}

pub struct SessionFilter {
    pub status: Option<String>,
    pub q: Option<String>,
    pub external_ref: Option<String>,
    pub identity_id: Option<String>,
}

pub fn list(
    conn: &ReadConn,
    keyring: &Keyring,
    environment: &str,
    f: &SessionFilter,
    page: Page,
    base_url: &str,
) -> AppResult<Value> {
    let mut cond = vec!["environment = ?".to_string()];
    let mut values = vec![Sql::Text(environment.to_string())];
    if let Some(s) = &f.status {
        let list: Vec<&str> = s.split(',').map(str::trim).collect();
        cond.push(format!("status IN ({})", vec!["?"; list.len()].join(", ")));
        values.extend(list.iter().map(|x| Sql::Text(x.to_string())));
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
        values.push(Sql::Text(i.clone()));
    }
    super::filtered_page(conn, "sessions", COLUMNS, &cond.join(" AND "), values, page, |r| {
        render(conn, keyring, r, base_url)
    })
}

/// The result row of a session, or 404 "No result yet".
struct ResultRow {
    environment: String,
    external_ref: Option<String>,
    result: Value,
    extracted: Option<String>,
    decided_at: String,
    retention: String,
}

fn result_row(conn: &Connection, environment: &str, id: &str) -> AppResult<ResultRow> {
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

fn extracted_data(conn: &Connection, keyring: &Keyring, id: &str, row: &ResultRow) -> AppResult<Value> {
    if row.retention != "active" {
        return Ok(json!({}));
    }
    let Some(key) = data_key(conn, keyring, id)? else { return Ok(json!({})) };
    let map = open_map(&key, id, "extracted", row.extracted.as_deref())?;
    Ok(Value::Object(map.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
}

/// `GET /sessions/{id}/result` (flat shape).
pub fn result(conn: &ReadConn, keyring: &Keyring, environment: &str, id: &str) -> AppResult<Value> {
    let row = result_row(conn, environment, id)?;
    let r = &row.result;
    Ok(json!({
        "session_id": id,
        "status": r["status"],
        "is_sandbox": row.environment == "sandbox",
        "created_at": row.decided_at,
        "face_match_passed": r["face_match_passed"],
        "face_match_score": r["face_match_score"],
        "age_check_passed": r["age_check_passed"],
        "extracted_age": r["extracted_age"],
        "extracted_data": extracted_data(conn, keyring, id, &row)?,
        "rejection_reason": r["rejection_reason"],
        "rejection_reason_code": r["rejection_reason_code"],
        "processing_mode": "workflow",
        "country_used": r["country_used"],
        "sensitive_data_expired": row.retention != "active",
        "check_results": r["check_results"],
        "identity_id": r["identity_id"],
        "simulated": r["simulated"],
    }))
}

/// `GET /results/{session_id}` (nested shape).
pub fn result_nested(conn: &ReadConn, keyring: &Keyring, environment: &str, id: &str) -> AppResult<Value> {
    let row = result_row(conn, environment, id)?;
    let r = &row.result;
    let mut out = json!({
        "session_id": id,
        "status": r["status"],
        "created_at": row.decided_at,
        "external_ref": row.external_ref,
        "result": {
            "face_match_passed": r["face_match_passed"],
            "face_match_score": r["face_match_score"],
            "age_check_passed": r["age_check_passed"],
            "extracted_age": r["extracted_age"],
            "extracted_data": extracted_data(conn, keyring, id, &row)?,
        },
        "rejection_reason": r["rejection_reason"],
        "rejection_reason_code": r["rejection_reason_code"],
        "processing_mode": "workflow",
    });
    if row.retention != "active" {
        out["sensitive_data_expired"] = json!(true);
    }
    Ok(out)
}

/// `GET /results`: no PII in list items.
pub fn results(
    conn: &ReadConn,
    environment: &str,
    status: Option<&str>,
    after: Option<&str>,
    before: Option<&str>,
    page: Page,
) -> AppResult<Value> {
    let status = status.map(|s| if s == "rejected" { "declined".to_string() } else { s.to_string() });
    let cond = "environment = ?1 AND result_status IS NOT NULL AND (?2 IS NULL OR result_status = ?2 OR (?2 = 'declined' AND result_status = 'rejected'))
                AND (?3 IS NULL OR decided_at >= ?3) AND (?4 IS NULL OR decided_at < ?4)";
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM sessions WHERE {cond}"),
        params![environment, status, after, before],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT id, result_json, decided_at FROM sessions WHERE {cond} ORDER BY decided_at DESC, id DESC LIMIT ?5 OFFSET ?6"
    ))?;
    let rows = stmt.query_map(params![environment, status, after, before, page.limit, page.offset], |r| {
        let text: String = r.get(1)?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(json!({
            "session_id": r.get::<_, String>(0)?,
            "status": v["status"],
            "created_at": r.get::<_, String>(2)?,
            "face_match_passed": v["face_match_passed"],
            "face_match_score": v["face_match_score"],
            "age_check_passed": v["age_check_passed"],
            "rejection_reason": v["rejection_reason"],
            "rejection_reason_code": v["rejection_reason_code"],
        }))
    })?;
    let data = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(offset_envelope(data, total, page))
}

pub const URL_TTL_SECONDS: i64 = 300;

/// Document list with signed, short-lived URLs; 410 after the sensitive window.
pub fn documents(
    conn: &ReadConn,
    keyring: &Keyring,
    environment: &str,
    id: &str,
    base_url: &str,
    now_unix: i64,
) -> AppResult<Value> {
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
    let rows = stmt.query_map([id], |r| {
        let doc_type: String = r.get(0)?;
        let path = format!("/api/v1/sessions/{id}/documents/{doc_type}");
        let sig = keyring.url_signature(&path, expires);
        Ok(json!({
            "doc_type": doc_type,
            "mime_type": r.get::<_, String>(1)?,
            "file_size_bytes": r.get::<_, i64>(2)?,
            "created_at": r.get::<_, String>(3)?,
            "url": format!("{base_url}{path}?expires={expires}&sig={sig}"),
            "expires_in": URL_TTL_SECONDS,
        }))
    })?;
    Ok(json!({ "data": rows.collect::<Result<Vec<_>, _>>()? }))
}

/// The bytes of one document, after checking the URL signature (no API key: the signature is the
/// credential).
pub fn document_bytes(
    conn: &ReadConn,
    keyring: &Keyring,
    id: &str,
    doc_type: &str,
    expires: i64,
    sig: &str,
    now_unix: i64,
) -> AppResult<(String, Vec<u8>)> {
    let path = format!("/api/v1/sessions/{id}/documents/{doc_type}");
    let expected = keyring.url_signature(&path, expires);
    if expires < now_unix || !constant_eq(expected.as_bytes(), sig.as_bytes()) {
        return Err(AppError::Forbidden {
            code: "invalid_signature",
            detail: "The document URL is invalid or has expired.".into(),
        });
    }
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
    let sealed: Vec<u8> =
        conn.query_row("SELECT sealed FROM sealed_blobs WHERE blob_id = ?1", [&blob_id], |r| r.get(0))?;
    let key = data_key(conn, keyring, id)?.ok_or_else(|| AppError::Gone("The document has been erased.".into()))?;
    let b64 = key.open(id, &format!("document:{blob_id}"), &sealed)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| AppError::Internal("document is not base64".into()))?;
    Ok((mime, bytes))
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn risk(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    let row: Option<(Option<String>, String)> = conn
        .query_row(
            "SELECT result_json, fraud_signals FROM sessions WHERE id = ?1 AND environment = ?2",
            params![id, environment],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (result, _) = row.ok_or_else(|| AppError::not_found("Session"))?;
    let result: Value = result
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| AppError::NotFound("No risk assessment yet.".into()))?;
    let mut risk = result["risk"].clone();
    risk["session_id"] = json!(id);
    Ok(risk)
}

/// Whether the session's checks (its override, else its workflow's policies) include face matching.
fn needs_selfie(conn: &Connection, environment: &str, id: &str, checks: Option<&[String]>) -> AppResult<bool> {
    if let Some(c) = checks {
        return Ok(c.iter().any(|x| x == "face_match"));
    }
    let workflow_id: Option<String> =
        conn.query_row("SELECT workflow_id FROM sessions WHERE id = ?1", [id], |r| r.get(0))?;
    Ok(match crate::commands::workflows::resolve_for_session(conn, environment, workflow_id.as_deref())? {
        Some((_, _, graph)) => crate::domain::workflow::policies(&graph).iter().any(|p| p == "face_match"),
        None => true,
    })
}

/// What the capture page needs to render its next step.
pub fn capture_state(conn: &Connection, keyring: &Keyring, id: &str) -> AppResult<Value> {
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
    Ok(json!({
        "session_id": id,
        "status": status,
        "result_status": result_status,
        "is_sandbox": environment == "sandbox",
        "document_type": document_type,
        "document_types": crate::domain::session::DOCUMENT_TYPES,
        "needs_back": document_type.as_deref().is_some_and(crate::domain::session::needs_back),
        "needs_selfie": needs_selfie(conn, &environment, id, checks.as_deref())?,
        "consented": consented,
        "uploaded": uploaded,
        "prefill": prefill,
        "expires_at": expires,
        "redirect_url": redirect_url,
    }))
}

/// Everything held about one session, decrypted (GDPR Art. 15).
pub fn export(
    conn: &ReadConn,
    keyring: &Keyring,
    environment: &str,
    id: &str,
    base_url: &str,
    now_unix: i64,
) -> AppResult<Value> {
    let session = get(conn, keyring, environment, id, base_url)?;
    let result = match result(conn, keyring, environment, id) {
        Ok(r) => r,
        Err(AppError::NotFound(_)) => Value::Null,
        Err(e) => return Err(e),
    };
    let documents = match documents(conn, keyring, environment, id, base_url, now_unix) {
        Ok(mut d) => {
            // DSAR links live 24 h (spec §1.15).
            let expires = now_unix + 24 * 3600;
            if let Some(items) = d["data"].as_array_mut() {
                for item in items.iter_mut() {
                    let doc_type = item["doc_type"].as_str().unwrap_or_default().to_string();
                    let path = format!("/api/v1/sessions/{id}/documents/{doc_type}");
                    let sig = keyring.url_signature(&path, expires);
                    item["download_url"] = json!(format!("{base_url}{path}?expires={expires}&sig={sig}"));
                    item["expires_in"] = json!(24 * 3600);
                }
            }
            d["data"].clone()
        }
        Err(AppError::Gone(_)) => json!([]),
        Err(e) => return Err(e),
    };
    let personal: Map<String, Value> = match data_key(conn, keyring, id)? {
        Some(k) => {
            let (prefill, user_data): (Option<String>, Option<String>) =
                conn.query_row("SELECT prefill, user_data FROM sessions WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let mut m = open_map(&k, id, "prefill", prefill.as_deref())?;
            m.extend(open_map(&k, id, "user_data", user_data.as_deref())?);
            m.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
        }
        None => Map::new(),
    };
    Ok(json!({
        "session": session,
        "result": result,
        "provided_data": personal,
        "documents": documents,
        "screening": [],
        "review_case": Value::Null,
        "case_notes": [],
        "fraud_signals": result.get("check_results").and_then(|c| c.get("risk_assessment")).cloned().unwrap_or(Value::Null),
        "webhook_deliveries": [],
    }))
}

/// The decrypted bytes of one document of a session, for in-process checks (no URL signature).
pub fn document_plain(conn: &Connection, keyring: &Keyring, id: &str, doc_type: &str) -> AppResult<Option<Vec<u8>>> {
    let blob: Option<String> = conn
        .query_row(
            "SELECT blob_id FROM session_documents WHERE session_id = ?1 AND doc_type = ?2",
            params![id, doc_type],
            |r| r.get(0),
        )
        .optional()?;
    let Some(blob_id) = blob else { return Ok(None) };
    let sealed: Vec<u8> =
        conn.query_row("SELECT sealed FROM sealed_blobs WHERE blob_id = ?1", [&blob_id], |r| r.get(0))?;
    let Some(key) = data_key(conn, keyring, id)? else { return Ok(None) };
    let b64 = key.open(id, &format!("document:{blob_id}"), &sealed)?;
    Ok(base64::engine::general_purpose::STANDARD.decode(b64).ok())
}

/// `GET /sessions/{id}/events`: the session's audit trail, newest first.
pub fn events(conn: &ReadConn, environment: &str, id: &str, page: Page) -> AppResult<Value> {
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
        Ok(json!({
            "id": format!("aud_{}", event_id.trim_start_matches("evt_")),
            "type": action,
            "action": action,
            "created_at": r.get::<_, String>(4)?,
            "resource_type": "session",
            "resource_id": id,
            "actor": crate::queries::identities::render_actor(&actor),
            "metadata": serde_json::from_str::<Value>(&metadata).unwrap_or(Value::Null),
            "sequence_num": r.get::<_, i64>(5)?,
        }))
    })?;
    Ok(offset_envelope(rows.collect::<Result<Vec<_>, _>>()?, total, page))
}

/// `GET /sessions/{id}/workflow-run`: which workflow version ran, the nodes it visited, where it waits,
/// and each check's outcome.
pub fn workflow_run(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    let row: Option<(String, Option<String>, Option<i64>, Option<String>, Option<String>, Option<String>)> = conn
        .query_row(
            "SELECT status, workflow_id, workflow_version, workflow_node, result_json, decided_at FROM sessions
             WHERE id = ?1 AND environment = ?2",
            params![id, environment],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .optional()?;
    let (status, workflow_id, version, node, result, decided_at) = row.ok_or_else(|| AppError::not_found("Session"))?;
    let result: Value = result.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null);
    let run_status = match status.as_str() {
        "pending" | "capturing" | "sandbox_pending" => "not_started",
        "processing" => "running",
        "awaiting_external" => "awaiting_external",
        "failed" => "failed",
        _ if result.is_null() => "not_started",
        _ => "completed",
    };
    Ok(json!({
        "session_id": id,
        "workflow_id": workflow_id,
        "workflow_version": version,
        "status": run_status,
        "session_status": status,
        "waiting_at": node,
        "path": result.get("workflow_path").cloned().unwrap_or(json!([])),
        "outcome": result.get("status"),
        "check_results": result.get("check_results").cloned().unwrap_or(json!({})),
        "completed_at": decided_at,
    }))
}
