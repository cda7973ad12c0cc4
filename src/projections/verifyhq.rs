//! Projects the VerifyHQ dialect's events into `verifyhq_tiers` (which workflow each tier runs) and
//! `verifyhq_documents` (document verifications' outcomes), `verifyhq_dedup_checks` and
//! `verifyhq_enrollments` (biometric duplicate checks and the selfies they enrolled) and
//! `verifyhq_subscriptions` (watchlist subscriptions) and `verifyhq_liveness` (liveness sessions). Must not
//! write any other table.

use crate::domain::verifyhq::{
    decode_dedup_checked, decode_document_assessed, decode_liveness, decode_subscribed, decode_tier_linked,
    LivenessEvent, SUBSCRIPTION_CANCELLED,
};
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection};

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let assessed = decode_document_assessed(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?;
    if let Some(d) = assessed {
        conn.exec(
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
    let liveness = decode_liveness(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?;
    if let Some(l) = liveness {
        return apply_liveness(conn, event, l);
    }
    if event.event_type == SUBSCRIPTION_CANCELLED {
        conn.exec(
            "UPDATE verifyhq_subscriptions SET status = 'CANCELLED', cancelled_at = ?1 WHERE id = ?2",
            params![event.recorded_at, event.stream_id],
        )?;
        return Ok(());
    }
    let subscribed = decode_subscribed(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?;
    if let Some(s) = subscribed {
        conn.exec(
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
        conn.exec(
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
            conn.exec(
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
    conn.exec(
        "INSERT INTO verifyhq_tiers (environment, tier, workflow_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (environment, tier) DO UPDATE SET workflow_id = excluded.workflow_id",
        params![event.environment, linked.tier, linked.workflow_id],
    )?;
    Ok(())
}

fn apply_liveness(conn: &Connection, event: &StoredEvent, l: LivenessEvent) -> AppResult<()> {
    let (id, at) = (&event.stream_id, &event.recorded_at);
    match l {
        LivenessEvent::Started(s) => {
            conn.exec(
                "INSERT INTO verifyhq_liveness (id, environment, user_id, challenges, completed, photo_blobs, photo_hashes,
                    expires_at, decided, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, '[]', '[]', '[]', ?5, 0, ?6, ?6)",
                params![id, event.environment, s.user_id, serde_json::to_string(&s.challenges)?, s.expires_at, at],
            )?;
        }
        LivenessEvent::ChallengeCompleted(c) => {
            let (completed, blobs, hashes): (String, String, String) = conn.row(
                "SELECT completed, photo_blobs, photo_hashes FROM verifyhq_liveness WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let push = |text: &str, value: &str| -> AppResult<String> {
                let mut list: Vec<String> = serde_json::from_str(text)?;
                list.push(value.to_string());
                Ok(serde_json::to_string(&list)?)
            };
            conn.exec(
                "UPDATE verifyhq_liveness SET completed = ?1, photo_blobs = ?2, photo_hashes = ?3, updated_at = ?4
                 WHERE id = ?5",
                params![
                    push(&completed, &c.challenge_id)?,
                    push(&blobs, &c.blob_id)?,
                    push(&hashes, &c.photo_hash)?,
                    at,
                    id
                ],
            )?;
        }
        LivenessEvent::Decided(d) => {
            conn.exec(
                "UPDATE verifyhq_liveness SET decided = 1, is_alive = ?1, confidence = ?2, anti_spoof_score = ?3,
                    reason = ?4, updated_at = ?5 WHERE id = ?6",
                params![d.is_alive, d.confidence, d.anti_spoof_score, d.reason, at, id],
            )?;
        }
    }
    Ok(())
}
