//! Projects session events into `sessions`, `session_tags`, `session_documents` and `capture_links`.
//! Copies sealed values as they are. Must not write any other table.

use crate::domain::session::SessionEvent as E;
use crate::domain::session::{Outcome, SessionEvent};
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// `decoded` is `event` as the session event it records (decoded once by the caller).
pub fn apply(conn: &Connection, event: &StoredEvent, decoded: &SessionEvent) -> AppResult<()> {
    let id = event.stream_id.as_str();
    let at = event.recorded_at.as_str();
    match decoded {
        E::Created(e) => {
            conn.prepare_cached(
                "INSERT INTO sessions (id, environment, status, external_ref, metadata, country, checks, workflow_id,
                    workflow_version, redirect_url, send_email, invites_sent, retention_status, processing_attempts,
                    token_hash, token_expires_at, prefill, fraud_signals, created_at, updated_at, stream_seq, token_sealed,
                    last_event_seq)
                 VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'active', 0, ?12, ?13, ?14, '[]', ?15, ?15, ?16, ?17,
                    ?18)",
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
                e.token_sealed,
                event.seq
            ])?;
            return audit(conn, event, decoded);
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
            conn.exec(
                "UPDATE sessions SET status = ?1,
                    started_at = CASE WHEN ?1 = 'capturing' THEN COALESCE(started_at, ?2) ELSE started_at END,
                    expired_at = CASE WHEN ?1 = 'expired' THEN ?2 ELSE expired_at END,
                    processing_attempts = processing_attempts + CASE WHEN ?1 = 'processing' THEN 1 ELSE 0 END,
                    updated_at = ?2, stream_seq = ?3, last_event_seq = ?4
                 WHERE id = ?5",
                params![e.to, at, event.stream_seq, event.seq, id],
            )?;
            if e.to == "expired" {
                conn.exec(
                    "UPDATE capture_links SET status = 'expired' WHERE session_id = ?1 AND status = 'active'",
                    [id],
                )?;
            }
            return audit(conn, event, decoded);
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
                conn.exec(
                    "UPDATE sessions SET selfie_phash = ?1, updated_at = ?2, stream_seq = ?3, last_event_seq = ?4
                     WHERE id = ?5",
                    params![bits, at, event.stream_seq, event.seq, id],
                )?;
                return audit(conn, event, decoded);
            }
        }
        E::DocumentRead(e) => {
            conn.exec(
                "UPDATE sessions SET document_source = ?1, document_data = ?2,
                    updated_at = ?3, stream_seq = ?4, last_event_seq = ?5
                 WHERE id = ?6",
                params![e.source, e.data, at, event.stream_seq, event.seq, id],
            )?;
            return audit(conn, event, decoded);
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
            let public = serde_json::to_string(&StoredOutcome::from(&e.outcome))?;
            // The workflow the decision was reached under, when it names one (both its id and version).
            let (workflow_id, workflow_version) = match (&e.workflow_id, e.workflow_version) {
                (Some(wf), Some(v)) => (Some(wf.as_str()), Some(v)),
                _ => (None, None),
            };
            conn.exec(
                "UPDATE sessions SET status = ?1, result_status = ?2, result_json = ?3, result_extracted = ?4,
                    identity_id = COALESCE(?5, identity_id), decided_at = ?6,
                    case_status = CASE WHEN ?1 = 'under_review' THEN 'open' ELSE case_status END,
                    case_id = COALESCE(?8, case_id),
                    workflow_id = COALESCE(?9, workflow_id), workflow_version = COALESCE(?10, workflow_version),
                    workflow_node = CASE WHEN ?9 IS NULL THEN workflow_node ELSE NULL END,
                    updated_at = ?6, stream_seq = ?11, last_event_seq = ?12
                 WHERE id = ?7",
                params![
                    e.to,
                    e.outcome.status,
                    public,
                    e.outcome.extracted,
                    e.outcome.identity_id,
                    at,
                    id,
                    e.case_id,
                    workflow_id,
                    workflow_version,
                    event.stream_seq,
                    event.seq
                ],
            )?;
            return audit(conn, event, decoded);
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
    // The events of a verification's path (created, status changes, the selfie, the reading, the decision)
    // set the session's position in their own UPDATE and return above: one row rewrite instead of two.
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

/// A decision's outcome as `result_json` holds it: every field but the sealed `extracted` (kept in its own
/// column), keys in alphabetical order. That is the text older rows hold, written through a
/// `serde_json::Value` (whose maps sort their keys); serialising the fields in place spares the decision's
/// write a copy of the outcome as a tree of values.
#[derive(Serialize)]
struct StoredOutcome<'a> {
    age_check_passed: Option<bool>,
    check_results: &'a Map<String, Value>,
    country_used: &'a Option<String>,
    extracted_age: Option<i64>,
    face_match_passed: Option<bool>,
    face_match_score: Option<f64>,
    identity_id: &'a Option<String>,
    rejection_reason: &'a Option<String>,
    rejection_reason_code: &'a Option<String>,
    risk: &'a Value,
    simulated: bool,
    status: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    workflow_path: &'a [String],
}

impl<'a> From<&'a Outcome> for StoredOutcome<'a> {
    fn from(o: &'a Outcome) -> Self {
        StoredOutcome {
            age_check_passed: o.age_check_passed,
            check_results: &o.check_results,
            country_used: &o.country_used,
            extracted_age: o.extracted_age,
            face_match_passed: o.face_match_passed,
            face_match_score: o.face_match_score,
            identity_id: &o.identity_id,
            rejection_reason: &o.rejection_reason,
            rejection_reason_code: &o.rejection_reason_code,
            risk: &o.risk,
            simulated: o.simulated,
            status: &o.status,
            workflow_path: &o.workflow_path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(seq: i64, at: &str, decoded: &SessionEvent) -> StoredEvent {
        StoredEvent {
            seq,
            event_id: format!("evt_{seq}"),
            stream_id: "ses_1".into(),
            stream_seq: seq,
            event_type: decoded.event_type().into(),
            event_version: 1,
            payload: decoded.payload(),
            recorded_at: at.into(),
            actor: "api_key:test".into(),
            environment: "live".into(),
            request_id: None,
            origin: None,
        }
    }

    #[test]
    fn a_status_change_rewrites_the_session_row_once_with_its_position_and_side_columns() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::store::SCHEMA_SQL).unwrap();
        conn.execute(
            "INSERT INTO sessions (id, environment, status, metadata, send_email, invites_sent, retention_status,
                processing_attempts, fraud_signals, created_at, updated_at, stream_seq, last_event_seq)
             VALUES ('ses_1', 'live', 'pending', '{}', 0, 0, 'active', 0, '[]', 't1', 't1', 1, 1)",
            [],
        )
        .unwrap();
        for (seq, at, from, to) in [(2, "t2", "pending", "capturing"), (3, "t3", "capturing", "processing")] {
            let decoded = SessionEvent::status_changed(from, to, "test");
            let before = conn.total_changes();
            apply(&conn, &stored(seq, at, &decoded), &decoded).unwrap();
            assert_eq!(conn.total_changes() - before, 2, "{to}: one session row update and one audit row");
        }
        let row: (String, Option<String>, Option<String>, i64, String, i64, i64) = conn
            .query_row(
                "SELECT status, started_at, expired_at, processing_attempts, updated_at, stream_seq, last_event_seq
                 FROM sessions WHERE id = 'ses_1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )
            .unwrap();
        assert_eq!(row, ("processing".into(), Some("t2".into()), None, 1, "t3".into(), 3, 3));
    }

    /// What `result_json` held when it was written through a `Value` with `extracted` removed.
    fn through_a_value(outcome: &Outcome) -> String {
        let mut public = serde_json::to_value(outcome).unwrap();
        public.as_object_mut().unwrap().remove("extracted");
        public.to_string()
    }

    #[test]
    fn the_stored_outcome_is_the_text_older_rows_hold_without_the_sealed_extract() {
        let mut check_results = Map::new();
        check_results
            .insert("document_ocr".into(), json!({"passed": true, "score": 0.93, "details": {"b": 1, "a": [2]}}));
        check_results.insert("age_verification".into(), json!({"passed": false, "reason": "under 18"}));
        let full = Outcome {
            status: "declined".into(),
            face_match_passed: Some(false),
            face_match_score: Some(0.4137),
            age_check_passed: Some(false),
            extracted_age: Some(17),
            rejection_reason: Some("Too young".into()),
            rejection_reason_code: Some("age_requirement".into()),
            check_results,
            risk: json!({"score": 72.5, "level": "high", "signals": ["vpn", "new_device"]}),
            country_used: Some("GB".into()),
            extracted: Some("c2VhbGVk".into()),
            identity_id: Some("idn_1".into()),
            simulated: true,
            workflow_path: vec!["start".into(), "decide".into()],
        };
        let bare = Outcome { status: "approved".into(), face_match_score: Some(f64::NAN), ..Outcome::default() };
        for outcome in [full, bare] {
            let stored = serde_json::to_string(&StoredOutcome::from(&outcome)).unwrap();
            assert_eq!(stored, through_a_value(&outcome));
            assert!(!stored.contains("extracted\""), "{stored}");
        }
    }
}
