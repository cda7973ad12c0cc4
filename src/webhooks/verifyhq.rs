//! The VerifyHQ dialect's webhooks (spec A.8): which of its events a log event announces (the decisions of
//! sessions that are VerifyHQ verifications), their PII-free `data`, the `{event, timestamp, data}` body and
//! the `X-Webhook-Signature` header (hex HMAC-SHA256 of the body, keyed with the `whsec_...` secret text).
//! Reads the session and tier views only; must not write, and must not put personal data in `data`
//! (the seed's `extractedFields` are left out: names and numbers never travel in a webhook).

use super::payload::WebhookEvent;
use super::signing::{WebhookHeaders, WebhookSecret, HEADER_CONTENT_TYPE, HEADER_USER_AGENT, USER_AGENT};
use crate::domain::verifyhq::{
    decode_document_assessed, decode_liveness, status_of, LivenessEvent, VerificationStatus,
};
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use hmac::{Hmac, Mac};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{json, Map, Value};
use sha2::Sha256;

pub const HEADER_SIGNATURE: &str = "X-Webhook-Signature";
pub const HEADER_EVENT: &str = "X-Webhook-Event";
pub const HEADER_DELIVERY_ID: &str = "X-Webhook-Delivery-Id";

/// The verification behind a session: its user and tier, when it is one.
fn verification_of(conn: &Connection, session_id: &str) -> AppResult<Option<(Option<String>, String, Option<String>)>> {
    Ok(conn
        .prepare_cached(
            "SELECT s.external_ref, t.tier, s.document_type FROM sessions s
             JOIN verifyhq_tiers t ON t.environment = s.environment AND t.workflow_id = s.workflow_id
             WHERE s.id = ?1",
        )?
        .query_row([session_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The dialect's events `e` announces, as (name, data), in order.
pub fn map(conn: &Connection, e: &StoredEvent) -> AppResult<Vec<(&'static str, Map<String, Value>)>> {
    if let Ok(Some(d)) = decode_document_assessed(&e.event_type, e.event_version, &e.payload) {
        // A document verification (A.2): its verdict, when it has one.
        let name = match d.status.as_str() {
            "VERIFIED" => "document.verified",
            "REJECTED" => "document.rejected",
            _ => return Ok(Vec::new()),
        };
        let data = object(json!({ "verificationId": e.stream_id, "userId": d.user_id, "documentType": d.document_type,
            "documentCountry": d.document_country, "status": d.status, "confidence": d.confidence,
            "fraudIndicators": d.fraud_indicators }));
        return Ok(vec![(name, data)]);
    }
    if let Ok(Some(LivenessEvent::Decided(d))) = decode_liveness(&e.event_type, e.event_version, &e.payload) {
        // A liveness session (A.3) with a verdict; an open one (no provider) announces nothing.
        let Some(alive) = d.is_alive else { return Ok(Vec::new()) };
        let user_id: Option<String> = conn
            .prepare_cached("SELECT user_id FROM verifyhq_liveness WHERE id = ?1")?
            .query_row([&e.stream_id], |r| r.get(0))
            .optional()?;
        let name = if alive { "liveness.passed" } else { "liveness.failed" };
        let data = object(json!({ "userId": user_id, "sessionToken": e.stream_id, "isAlive": alive,
            "confidence": d.confidence, "antiSpoofScore": d.anti_spoof_score }));
        return Ok(vec![(name, data)]);
    }
    if e.event_type != "SessionDecided" {
        return Ok(Vec::new());
    }
    let Some((user_id, tier, document_type)) = verification_of(conn, &e.stream_id)? else { return Ok(Vec::new()) };
    let p = &e.payload;
    let outcome = &p["outcome"];
    let status = status_of(p["to"].as_str().unwrap_or(""), outcome["status"].as_str());
    let id = &e.stream_id;
    let verification = |status: VerificationStatus| {
        object(json!({ "identityVerificationId": id, "verificationId": id, "userId": user_id, "tier": tier,
                       "status": status.as_str() }))
    };
    let mut out = Vec::new();
    // The steps are announced with the decision that ran the checks (a workflow's), not again when a
    // reviewer decides.
    if !p["workflow_id"].is_null() {
        let results = outcome["check_results"].as_object();
        let check =
            |name: &str| results.and_then(|r| r.get(name)).and_then(|c| c["status"].as_str()).map(str::to_string);
        let document_status = check("document_ocr");
        if let Some(s @ ("passed" | "failed")) = document_status.as_deref() {
            let (name, verdict) =
                if s == "passed" { ("document.verified", "VERIFIED") } else { ("document.rejected", "REJECTED") };
            let document_type = document_type.as_deref().map(|t| match t {
                "passport" => "PASSPORT",
                "national_id" => "ID_CARD",
                "drivers_license" => "DRIVER_LICENSE",
                "residence_permit" => "RESIDENCE_PERMIT",
                _ => "OTHER",
            });
            out.push((
                name,
                object(json!({ "verificationId": id, "userId": user_id, "documentType": document_type,
                               "status": verdict })),
            ));
        }
        if let Some(s @ ("passed" | "failed")) = check("face_match").as_deref() {
            let name = if s == "passed" { "liveness.passed" } else { "liveness.failed" };
            out.push((
                name,
                object(json!({ "verificationId": id, "userId": user_id, "isAlive": s == "passed",
                               "confidence": outcome["face_match_score"] })),
            ));
        }
    }
    match status {
        VerificationStatus::ManualReview => out.push(("identity.manual_review", verification(status))),
        VerificationStatus::Verified => {
            out.push(("identity.verified", verification(status)));
            out.push(("verification.completed", verification(status)));
        }
        VerificationStatus::Rejected => {
            out.push(("identity.rejected", verification(status)));
            out.push(("verification.completed", verification(status)));
        }
        _ => {}
    }
    Ok(out)
}

/// The body of one delivery: `{event, timestamp, data}`, plus the delivery's stable `id` to dedupe on.
pub fn body(event: &WebhookEvent) -> Vec<u8> {
    json!({ "id": event.id, "event": event.event, "timestamp": event.created_at, "data": event.data })
        .to_string()
        .into_bytes()
}

/// `X-Webhook-Signature`: hex HMAC-SHA256 of the body, keyed with the secret's text (`whsec_...`).
pub fn signature(secret: &WebhookSecret, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Every header of one attempt, in sending order.
pub fn headers(secret: &WebhookSecret, delivery_id: &str, event: &str, body: &[u8]) -> WebhookHeaders {
    WebhookHeaders::from_pairs(vec![
        (HEADER_CONTENT_TYPE, "application/json".to_string()),
        (HEADER_USER_AGENT, USER_AGENT.to_string()),
        (HEADER_DELIVERY_ID, delivery_id.to_string()),
        (HEADER_EVENT, event.to_string()),
        (HEADER_SIGNATURE, signature(secret, body)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_of_the_body_under_the_secret_text() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"event":"identity.verified"}"#;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        mac.update(body);
        assert_eq!(signature(&secret, body), hex::encode(mac.finalize().into_bytes()));
        assert_eq!(signature(&secret, body).len(), 64);
        assert_ne!(signature(&secret, body), signature(&secret, b"{}"));
    }
}
