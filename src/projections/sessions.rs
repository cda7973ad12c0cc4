//! Projects session events into `sessions`, `session_tags`, `session_documents` and `capture_links`.
//! Copies sealed values as they are. Must not write any other table.

use crate::domain::session::SessionEvent;
use crate::domain::session::SessionEvent as E;
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection};
use serde_json::json;

/// `decoded` is `event` as the session event it records (decoded once by the caller).
pub fn apply(conn: &Connection, event: &StoredEvent, decoded: &SessionEvent) -> AppResult<()> {
    let id = event.stream_id.as_str();
    let at = event.recorded_at.as_str();
    match decoded {
        E::Created(e) => {
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
        E::Updated(e) => {
            if let Some(r) = &e.external_ref {
                conn.exec("UPDATE sessions SET external_ref = ?1 WHERE id = ?2", params![r, id])?;
            }
            if let Some(m) = &e.metadata {
                conn.exec("UPDATE sessions SET metadata = ?1 WHERE id = ?2", params![serde_json::to_string(m)?, id])?;
            }
        }
        E::TokenIssued(e) => {
            conn.exec(
                "UPDATE sessions SET token_hash = ?1, token_expires_at = ?2, token_sealed = ?3 WHERE id = ?4",
                params![e.token_hash, e.expires_at, e.token_sealed, id],
            )?;
            if e.reason == "resume" {
                conn.exec("UPDATE sessions SET status = 'pending', expired_at = NULL WHERE id = ?1", [id])?;
            }
            // A new token replaces the old one, so any link still in use stops working.
            conn.exec(
                "UPDATE capture_links SET status = 'revoked' WHERE session_id = ?1 AND status IN ('active', 'consumed')",
                [id],
            )?;
            if let Some(link) = &e.link_id {
                conn.exec(
                    "INSERT INTO capture_links (id, session_id, token_hash, status, expires_at, created_at)
                     VALUES (?1, ?2, ?3, 'active', ?4, ?5)",
                    params![link, id, e.token_hash, e.expires_at, at],
                )?;
            }
        }
        E::WorkflowPaused(e) => {
            conn.exec(
                "UPDATE sessions SET status = 'awaiting_external', workflow_node = ?1, workflow_id = ?2, workflow_version = ?3
                 WHERE id = ?4",
                params![e.node, e.workflow_id, e.workflow_version, id],
            )?;
        }
        E::LinkConsumed(e) => {
            conn.exec(
                "UPDATE capture_links SET status = 'consumed', consumed_at = ?1, browser_hash = ?2
                 WHERE id = ?3 AND status = 'active'",
                params![at, e.browser_hash, e.link_id],
            )?;
        }
        E::StatusChanged(e) => {
            conn.exec("UPDATE sessions SET status = ?1 WHERE id = ?2", params![e.to, id])?;
            match e.to.as_str() {
                "capturing" => {
                    conn.exec(
                        "UPDATE sessions SET started_at = COALESCE(started_at, ?1) WHERE id = ?2",
                        params![at, id],
                    )?;
                }
                "expired" => {
                    conn.exec("UPDATE sessions SET expired_at = ?1 WHERE id = ?2", params![at, id])?;
                    conn.exec(
                        "UPDATE capture_links SET status = 'expired' WHERE session_id = ?1 AND status = 'active'",
                        [id],
                    )?;
                }
                "processing" => {
                    conn.exec("UPDATE sessions SET processing_attempts = processing_attempts + 1 WHERE id = ?1", [id])?;
                }
                _ => {}
            }
        }
        E::ConsentRecorded(e) => {
            conn.exec(
                "UPDATE sessions SET consent_at = ?1, consent_version = ?2, consent_ip = ?3 WHERE id = ?4",
                params![at, e.version, e.ip, id],
            )?;
        }
        E::DocumentTypeChosen(e) => {
            conn.exec("UPDATE sessions SET document_type = ?1 WHERE id = ?2", params![e.document_type, id])?;
        }
        E::DocumentUploaded(e) => {
            conn.exec(
                "INSERT INTO session_documents (session_id, doc_type, mime_type, size_bytes, blob_id, phash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (session_id, doc_type) DO UPDATE SET mime_type = excluded.mime_type,
                    size_bytes = excluded.size_bytes, blob_id = excluded.blob_id, phash = excluded.phash,
                    created_at = excluded.created_at",
                params![id, e.doc_type, e.mime_type, e.size_bytes, e.blob_id, e.phash, at],
            )?;
            if e.doc_type == "selfie" {
                let bits = e.phash.as_deref().and_then(crate::checks::imagehash::stored_bits);
                conn.exec("UPDATE sessions SET selfie_phash = ?1 WHERE id = ?2", params![bits, id])?;
            }
        }
        E::DocumentRead(e) => {
            conn.exec(
                "UPDATE sessions SET document_source = ?1, document_data = ?2 WHERE id = ?3",
                params![e.source, e.data, id],
            )?;
        }
        E::UserDataProvided(e) => {
            conn.exec("UPDATE sessions SET user_data = ?1 WHERE id = ?2", params![e.data, id])?;
        }
        E::FraudSignalsRecorded(e) => {
            let blob = |hex_text: &Option<String>| hex_text.as_deref().and_then(|h| hex::decode(h).ok());
            conn.exec(
                "UPDATE sessions SET fraud_signals = ?1, ip_digest = COALESCE(?2, ip_digest),
                    device_digest = COALESCE(?3, device_digest) WHERE id = ?4",
                params![e.signals.to_string(), blob(&e.ip_digest), blob(&e.device_digest), id],
            )?;
        }
        E::Decided(e) => {
            let mut public = serde_json::to_value(&e.outcome)?;
            if let Some(m) = public.as_object_mut() {
                m.remove("extracted");
            }
            if let (Some(wf), Some(v)) = (&e.workflow_id, e.workflow_version) {
                conn.exec(
                    "UPDATE sessions SET workflow_id = ?1, workflow_version = ?2, workflow_node = NULL WHERE id = ?3",
                    params![wf, v, id],
                )?;
            }
            conn.exec(
                "UPDATE sessions SET status = ?1, result_status = ?2, result_json = ?3, result_extracted = ?4,
                    identity_id = COALESCE(?5, identity_id), decided_at = ?6,
                    case_status = CASE WHEN ?1 = 'under_review' THEN 'open' ELSE case_status END,
                    case_id = COALESCE(?8, case_id)
                 WHERE id = ?7",
                params![
                    e.to,
                    e.outcome.status,
                    public.to_string(),
                    e.outcome.extracted,
                    e.outcome.identity_id,
                    at,
                    id,
                    e.case_id
                ],
            )?;
        }
        E::TagsChanged(e) => {
            conn.exec("DELETE FROM session_tags WHERE session_id = ?1", [id])?;
            for (i, tag) in e.tags.iter().enumerate() {
                conn.exec(
                    "INSERT INTO session_tags (session_id, tag, position) VALUES (?1, ?2, ?3)",
                    params![id, tag, i as i64],
                )?;
            }
        }
        E::IdentityChanged(e) => {
            conn.exec("UPDATE sessions SET identity_id = ?1 WHERE id = ?2", params![e.identity_id, id])?;
        }
        E::InviteSent(_) => {
            conn.exec("UPDATE sessions SET invites_sent = invites_sent + 1 WHERE id = ?1", [id])?;
        }
        E::Redacted(_) | E::RetentionExpired(_) => {
            conn.exec(
                "UPDATE sessions SET retention_status = 'redacted', prefill = NULL, user_data = NULL, document_data = NULL,
                    result_extracted = NULL, consent_ip = NULL, ip_digest = NULL, device_digest = NULL,
                    token_hash = NULL, token_sealed = NULL, selfie_phash = NULL, redacted_at = ?1 WHERE id = ?2",
                params![at, id],
            )?;
            conn.exec("DELETE FROM session_documents WHERE session_id = ?1", [id])?;
        }
        E::SensitiveExpired(_) => {
            conn.exec(
                "UPDATE sessions SET retention_status = 'sensitive_redacted', sensitive_expired_at = ?1
                 WHERE id = ?2 AND retention_status = 'active'",
                params![at, id],
            )?;
        }
        // An export reads the session: only its position in the stream moves, not `updated_at`.
        E::Exported => {
            conn.exec(
                "UPDATE sessions SET stream_seq = ?1, last_event_seq = ?2 WHERE id = ?3",
                params![event.stream_seq, event.seq, id],
            )?;
            return audit(conn, event, decoded);
        }
    }
    conn.exec(
        "UPDATE sessions SET updated_at = ?1, stream_seq = ?2, last_event_seq = ?3 WHERE id = ?4",
        params![at, event.stream_seq, event.seq, id],
    )?;
    audit(conn, event, decoded)
}

/// One audit row per session event: the action and non-personal facts (statuses, document kinds, field
/// names), never values.
fn audit(conn: &Connection, event: &StoredEvent, decoded: &SessionEvent) -> AppResult<()> {
    let (action, metadata) = match decoded {
        E::Created(_) => ("session.created", json!({})),
        E::Updated(e) => ("session.updated", json!({ "fields": e.changed })),
        E::TokenIssued(e) => match &e.link_id {
            Some(link) => ("session.link_generated", json!({ "link_id": link })),
            None => ("session.token_issued", json!({ "reason": e.reason })),
        },
        E::LinkConsumed(e) => ("session.link_consumed", json!({ "link_id": e.link_id })),
        E::StatusChanged(e) => (
            match e.to.as_str() {
                "capturing" => "session.started",
                "expired" => "session.expired",
                "processing" => "session.processing",
                "sandbox_pending" => "session.sandbox_pending",
                _ => "session.status_changed",
            },
            json!({ "from": e.from, "to": e.to, "reason": e.reason }),
        ),
        E::ConsentRecorded(e) => ("session.consent_recorded", json!({ "version": e.version })),
        E::DocumentTypeChosen(e) => ("session.document_type_chosen", json!({ "document_type": e.document_type })),
        E::DocumentUploaded(e) => ("session.document_uploaded", json!({ "doc_type": e.doc_type })),
        E::UserDataProvided(e) => ("session.user_data_provided", json!({ "fields": e.fields })),
        E::DocumentRead(e) => ("session.document_read", json!({ "source": e.source, "fields": e.fields })),
        E::FraudSignalsRecorded(_) => ("session.fraud_signals_recorded", json!({})),
        E::WorkflowPaused(e) => ("session.awaiting_external", json!({ "node": e.node })),
        E::Decided(e) => {
            let action = match e.outcome.status.as_str() {
                "approved" => "session.approved",
                "needs_review" => "session.requires-review",
                _ => "session.declined",
            };
            (action, json!({ "result_status": e.outcome.status, "session_status": e.to }))
        }
        E::TagsChanged(e) => ("session.tags_changed", json!({ "tags": e.tags })),
        E::InviteSent(e) => ("session.invite_sent", json!({ "count": e.count })),
        E::Redacted(e) => ("session.redacted", json!({ "documents_removed": e.documents_removed })),
        E::RetentionExpired(_) => ("session.retention-expired", json!({})),
        E::SensitiveExpired(e) => ("session.sensitive_data_expired", json!({ "reason": e.reason })),
        E::IdentityChanged(_) => ("session.identity_changed", json!({})),
        E::Exported => ("api.session.export", json!({})),
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
