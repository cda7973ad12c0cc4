//! Projects the VerifyHQ dialect's events into `verifyhq_tiers` (which workflow each tier runs) and
//! `verifyhq_documents` (document verifications' outcomes), `verifyhq_dedup_checks` and
//! `verifyhq_enrollments` (biometric duplicate checks and the selfies they enrolled) and
//! `verifyhq_subscriptions` (watchlist subscriptions). Must not write any other table.

use crate::domain::verifyhq::{
    decode_dedup_checked, decode_document_assessed, decode_subscribed, decode_tier_linked, SUBSCRIPTION_CANCELLED,
};
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use rusqlite::{params, Connection};

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let assessed = decode_document_assessed(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?;
    if let Some(d) = assessed {
        conn.execute(
            "INSERT INTO verifyhq_documents (id, environment, user_id, document_type, document_country, back_document_id,
                status, fraud_indicators, confidence, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                event.stream_id,
                event.environment,
                d.user_id,
                d.document_type,
                d.document_country,
                d.back_document_id,
                d.status,
                serde_json::to_string(&d.fraud_indicators)?,
                d.confidence,
                event.recorded_at
            ],
        )?;
        return Ok(());
    }
    if event.event_type == SUBSCRIPTION_CANCELLED {
        conn.execute(
            "UPDATE verifyhq_subscriptions SET status = 'CANCELLED', cancelled_at = ?1 WHERE id = ?2",
            params![event.recorded_at, event.stream_id],
        )?;
        return Ok(());
    }
    let subscribed = decode_subscribed(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?;
    if let Some(s) = subscribed {
        conn.execute(
            "INSERT INTO verifyhq_subscriptions (id, environment, user_id, identity_id, status, lists, unavailable_lists,
                created_at) VALUES (?1, ?2, ?3, ?4, 'ACTIVE', ?5, ?6, ?7)",
            params![
                event.stream_id,
                event.environment,
                s.user_id,
                s.identity_id,
                serde_json::to_string(&s.lists)?,
                serde_json::to_string(&s.unavailable_lists)?,
                event.recorded_at
            ],
        )?;
        return Ok(());
    }
    let dedup = decode_dedup_checked(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?;
    if let Some(d) = dedup {
        conn.execute(
            "INSERT INTO verifyhq_dedup_checks (id, environment, user_id, threshold, enrolled, matches, checked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                event.stream_id,
                event.environment,
                d.user_id,
                d.threshold,
                d.enrolled,
                serde_json::to_string(&d.matches)?,
                event.recorded_at
            ],
        )?;
        let bits = crate::checks::imagehash::stored_bits(&d.selfie_hash);
        if let (true, Some(bits)) = (d.enrolled, bits) {
            conn.execute(
                "INSERT INTO verifyhq_enrollments (check_id, environment, user_id, selfie_hash, blob_id, enrolled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![event.stream_id, event.environment, d.user_id, bits, d.blob_id, event.recorded_at],
            )?;
        }
        return Ok(());
    }
    let Some(linked) = decode_tier_linked(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?
    else {
        return Ok(());
    };
    conn.execute(
        "INSERT INTO verifyhq_tiers (environment, tier, workflow_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (environment, tier) DO UPDATE SET workflow_id = excluded.workflow_id",
        params![event.environment, linked.tier, linked.workflow_id],
    )?;
    Ok(())
}
