//! Projects session events into `sessions`, `session_tags`, `session_documents` and `capture_links`.
//! Copies sealed values as they are. Must not write any other table.

use crate::domain::session::{Created, DocumentUploaded, Outcome, StatusChanged, TokenIssued};
use crate::error::{AppError, AppResult};
use crate::store::events::StoredEvent;
use rusqlite::{params, Connection};
use serde::de::DeserializeOwned;
use serde_json::Value;

fn decode<T: DeserializeOwned>(event: &StoredEvent) -> AppResult<T> {
    serde_json::from_value(event.payload.clone())
        .map_err(|e| AppError::Internal(format!("undecodable {} event {}: {e}", event.event_type, event.event_id)))
}

fn field<'a>(event: &'a StoredEvent, name: &str) -> &'a Value {
    event.payload.get(name).unwrap_or(&Value::Null)
}

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let id = event.stream_id.as_str();
    let at = event.recorded_at.as_str();
    match event.event_type.as_str() {
        "SessionCreated" => {
            let e: Created = decode(event)?;
            conn.prepare_cached(
                "INSERT INTO sessions (id, environment, status, external_ref, metadata, country, checks, workflow_id,
                    workflow_version, redirect_url, send_email, invites_sent, retention_status, processing_attempts,
                    token_hash, token_expires_at, prefill, fraud_signals, created_at, updated_at, stream_seq, token_sealed)
                 VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'active', 0, ?12, ?13, ?14, '[]', ?15, ?15, ?16, ?17)",
            )?
            .execute(params![
                id,
                event.environment,
                e.external_ref,
                serde_json::to_string(&e.metadata)?,
                e.country,
                e.checks.as_ref().map(serde_json::to_string).transpose()?,
                e.workflow_id,
                e.workflow_version,
                e.redirect_url,
                e.send_email,
                e.send_email as i64,
                e.token_hash,
                e.token_expires_at,
                e.prefill,
                at,
                event.stream_seq,
                e.token_sealed
            ])?;
        }
        "SessionUpdated" => {
            if let Some(r) = event.payload.get("external_ref") {
                conn.execute("UPDATE sessions SET external_ref = ?1 WHERE id = ?2", params![r.as_str(), id])?;
            }
            if let Some(m) = event.payload.get("metadata") {
                conn.execute("UPDATE sessions SET metadata = ?1 WHERE id = ?2", params![m.to_string(), id])?;
            }
        }
        "SessionTokenIssued" => {
            let e: TokenIssued = decode(event)?;
            conn.execute(
                "UPDATE sessions SET token_hash = ?1, token_expires_at = ?2, token_sealed = ?3 WHERE id = ?4",
                params![e.token_hash, e.expires_at, e.token_sealed, id],
            )?;
            if e.reason == "resume" {
                conn.execute("UPDATE sessions SET status = 'pending', expired_at = NULL WHERE id = ?1", [id])?;
            }
            // A new token replaces the old one, so any link still in use stops working.
            conn.execute(
                "UPDATE capture_links SET status = 'revoked' WHERE session_id = ?1 AND status IN ('active', 'consumed')",
                [id],
            )?;
            if let Some(link) = &e.link_id {
                conn.execute(
                    "INSERT INTO capture_links (id, session_id, token_hash, status, expires_at, created_at)
                     VALUES (?1, ?2, ?3, 'active', ?4, ?5)",
                    params![link, id, e.token_hash, e.expires_at, at],
                )?;
            }
        }
        "SessionWorkflowPaused" => {
            conn.execute(
                "UPDATE sessions SET status = 'awaiting_external', workflow_node = ?1, workflow_id = ?2, workflow_version = ?3
                 WHERE id = ?4",
                params![field(event, "node").as_str(), field(event, "workflow_id").as_str(), field(event, "workflow_version").as_i64(), id],
            )?;
        }
        "SessionLinkConsumed" => {
            conn.execute(
                "UPDATE capture_links SET status = 'consumed', consumed_at = ?1, browser_hash = ?2
                 WHERE id = ?3 AND status = 'active'",
                params![at, field(event, "browser_hash").as_str(), field(event, "link_id").as_str()],
            )?;
        }
        "SessionStatusChanged" => {
            let e: StatusChanged = decode(event)?;
            conn.execute("UPDATE sessions SET status = ?1 WHERE id = ?2", params![e.to, id])?;
            match e.to.as_str() {
                "capturing" => {
                    conn.execute(
                        "UPDATE sessions SET started_at = COALESCE(started_at, ?1) WHERE id = ?2",
                        params![at, id],
                    )?;
                }
                "expired" => {
                    conn.execute("UPDATE sessions SET expired_at = ?1 WHERE id = ?2", params![at, id])?;
                    conn.execute(
                        "UPDATE capture_links SET status = 'expired' WHERE session_id = ?1 AND status = 'active'",
                        [id],
                    )?;
                }
                "processing" => {
                    conn.execute(
                        "UPDATE sessions SET processing_attempts = processing_attempts + 1 WHERE id = ?1",
                        [id],
                    )?;
                }
                _ => {}
            }
        }
        "SessionConsentRecorded" => {
            conn.execute(
                "UPDATE sessions SET consent_at = ?1, consent_version = ?2, consent_ip = ?3 WHERE id = ?4",
                params![at, field(event, "version").as_str(), field(event, "ip").as_str(), id],
            )?;
        }
        "SessionDocumentTypeChosen" => {
            conn.execute(
                "UPDATE sessions SET document_type = ?1 WHERE id = ?2",
                params![field(event, "document_type").as_str(), id],
            )?;
        }
        "SessionDocumentUploaded" => {
            let e: DocumentUploaded = decode(event)?;
            conn.execute(
                "INSERT INTO session_documents (session_id, doc_type, mime_type, size_bytes, blob_id, phash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (session_id, doc_type) DO UPDATE SET mime_type = excluded.mime_type,
                    size_bytes = excluded.size_bytes, blob_id = excluded.blob_id, phash = excluded.phash,
                    created_at = excluded.created_at",
                params![id, e.doc_type, e.mime_type, e.size_bytes, e.blob_id, e.phash, at],
            )?;
        }
        "SessionDocumentRead" => {
            conn.execute(
                "UPDATE sessions SET document_source = ?1, document_data = ?2 WHERE id = ?3",
                params![field(event, "source").as_str(), field(event, "data").as_str(), id],
            )?;
        }
        "SessionUserDataProvided" => {
            conn.execute(
                "UPDATE sessions SET user_data = ?1 WHERE id = ?2",
                params![field(event, "data").as_str(), id],
            )?;
        }
        "SessionFraudSignalsRecorded" => {
            let hex_blob = |name: &str| field(event, name).as_str().and_then(|h| hex::decode(h).ok());
            conn.execute(
                "UPDATE sessions SET fraud_signals = ?1, ip_digest = COALESCE(?2, ip_digest),
                    device_digest = COALESCE(?3, device_digest) WHERE id = ?4",
                params![field(event, "signals").to_string(), hex_blob("ip_digest"), hex_blob("device_digest"), id],
            )?;
        }
        "SessionDecided" => {
            let to = field(event, "to").as_str().unwrap_or("completed").to_string();
            let outcome: Outcome = serde_json::from_value(field(event, "outcome").clone())
                .map_err(|e| AppError::Internal(format!("undecodable outcome in {}: {e}", event.event_id)))?;
            let mut public = serde_json::to_value(&outcome)?;
            if let Some(m) = public.as_object_mut() {
                m.remove("extracted");
            }
            if let (Some(wf), Some(v)) =
                (field(event, "workflow_id").as_str(), field(event, "workflow_version").as_i64())
            {
                conn.execute(
                    "UPDATE sessions SET workflow_id = ?1, workflow_version = ?2, workflow_node = NULL WHERE id = ?3",
                    params![wf, v, id],
                )?;
            }
            conn.execute(
                "UPDATE sessions SET status = ?1, result_status = ?2, result_json = ?3, result_extracted = ?4,
                    identity_id = COALESCE(?5, identity_id), decided_at = ?6,
                    case_status = CASE WHEN ?1 = 'under_review' THEN 'open' ELSE case_status END,
                    case_id = COALESCE(?8, case_id)
                 WHERE id = ?7",
                params![
                    to,
                    outcome.status,
                    public.to_string(),
                    outcome.extracted,
                    outcome.identity_id,
                    at,
                    id,
                    field(event, "case_id").as_str()
                ],
            )?;
        }
        "SessionTagsChanged" => {
            conn.execute("DELETE FROM session_tags WHERE session_id = ?1", [id])?;
            let tags: Vec<String> = serde_json::from_value(field(event, "tags").clone()).unwrap_or_default();
            for (i, tag) in tags.iter().enumerate() {
                conn.execute(
                    "INSERT INTO session_tags (session_id, tag, position) VALUES (?1, ?2, ?3)",
                    params![id, tag, i as i64],
                )?;
            }
        }
        "SessionIdentityChanged" => {
            conn.execute(
                "UPDATE sessions SET identity_id = ?1 WHERE id = ?2",
                params![field(event, "identity_id").as_str(), id],
            )?;
        }
        "SessionInviteSent" => {
            conn.execute("UPDATE sessions SET invites_sent = invites_sent + 1 WHERE id = ?1", [id])?;
        }
        "SessionRedacted" | "SessionRetentionExpired" => {
            conn.execute(
                "UPDATE sessions SET retention_status = 'redacted', prefill = NULL, user_data = NULL, document_data = NULL,
                    result_extracted = NULL, consent_ip = NULL, ip_digest = NULL, device_digest = NULL,
                    token_hash = NULL, token_sealed = NULL, redacted_at = ?1 WHERE id = ?2",
                params![at, id],
            )?;
            conn.execute("DELETE FROM session_documents WHERE session_id = ?1", [id])?;
        }
        "SessionSensitiveExpired" => {
            conn.execute(
                "UPDATE sessions SET retention_status = 'sensitive_redacted', sensitive_expired_at = ?1
                 WHERE id = ?2 AND retention_status = 'active'",
                params![at, id],
            )?;
        }
        _ => return Ok(()),
    }
    conn.execute(
        "UPDATE sessions SET updated_at = ?1, stream_seq = ?2 WHERE id = ?3",
        params![at, event.stream_seq, id],
    )?;
    audit(conn, event)
}

/// One audit row per session event: the action and non-personal facts (statuses, document kinds, field
/// names), never values.
fn audit(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let p = &event.payload;
    let (action, metadata) = match event.event_type.as_str() {
        "SessionCreated" => ("session.created", serde_json::json!({})),
        "SessionUpdated" => ("session.updated", serde_json::json!({ "fields": p.get("changed") })),
        "SessionTokenIssued" => match p.get("link_id").and_then(Value::as_str) {
            Some(link) => ("session.link_generated", serde_json::json!({ "link_id": link })),
            None => ("session.token_issued", serde_json::json!({ "reason": p.get("reason") })),
        },
        "SessionLinkConsumed" => ("session.link_consumed", serde_json::json!({ "link_id": p.get("link_id") })),
        "SessionStatusChanged" => (
            match p.get("to").and_then(Value::as_str) {
                Some("capturing") => "session.started",
                Some("expired") => "session.expired",
                Some("processing") => "session.processing",
                Some("sandbox_pending") => "session.sandbox_pending",
                _ => "session.status_changed",
            },
            serde_json::json!({ "from": p.get("from"), "to": p.get("to"), "reason": p.get("reason") }),
        ),
        "SessionConsentRecorded" => ("session.consent_recorded", serde_json::json!({ "version": p.get("version") })),
        "SessionDocumentTypeChosen" => {
            ("session.document_type_chosen", serde_json::json!({ "document_type": p.get("document_type") }))
        }
        "SessionDocumentUploaded" => {
            ("session.document_uploaded", serde_json::json!({ "doc_type": p.get("doc_type") }))
        }
        "SessionUserDataProvided" => ("session.user_data_provided", serde_json::json!({ "fields": p.get("fields") })),
        "SessionDocumentRead" => {
            ("session.document_read", serde_json::json!({ "source": p.get("source"), "fields": p.get("fields") }))
        }
        "SessionFraudSignalsRecorded" => ("session.fraud_signals_recorded", serde_json::json!({})),
        "SessionWorkflowPaused" => ("session.awaiting_external", serde_json::json!({ "node": p.get("node") })),
        "SessionDecided" => {
            let status = p.pointer("/outcome/status").and_then(Value::as_str).unwrap_or("");
            let action = match status {
                "approved" => "session.approved",
                "needs_review" => "session.requires-review",
                _ => "session.declined",
            };
            (action, serde_json::json!({ "result_status": status, "session_status": p.get("to") }))
        }
        "SessionTagsChanged" => ("session.tags_changed", serde_json::json!({ "tags": p.get("tags") })),
        "SessionInviteSent" => ("session.invite_sent", serde_json::json!({ "count": p.get("count") })),
        "SessionRedacted" => {
            ("session.redacted", serde_json::json!({ "documents_removed": p.get("documents_removed") }))
        }
        "SessionRetentionExpired" => ("session.retention-expired", serde_json::json!({})),
        "SessionSensitiveExpired" => {
            ("session.sensitive_data_expired", serde_json::json!({ "reason": p.get("reason") }))
        }
        "SessionIdentityChanged" => ("session.identity_changed", serde_json::json!({})),
        other => (other, serde_json::json!({})),
    };
    conn.prepare_cached(
        "INSERT INTO session_audit (event_seq, event_id, session_id, environment, action, actor, metadata, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        event.seq,
        event.event_id,
        event.stream_id,
        event.environment,
        action,
        event.actor,
        metadata.to_string(),
        event.recorded_at
    ])?;
    Ok(())
}
