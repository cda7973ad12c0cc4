//! The VerifyHQ dialect's reads: identity verifications from the session views (A.1: a verification is a
//! session on a tier's workflow, `verifyhq_tiers`), document verifications with what was read (A.2), liveness
//! sessions (A.3), dedup checks and their candidates (A.4), subscriptions and their alerts (A.5) and webhooks
//! (A.8); the vocabulary comes from `domain::verifyhq`. Must not write, and must not show a session of any
//! other workflow as a verification.

use crate::crypto::Keyring;
use crate::domain::verifyhq::{self as dom, StepStatus, Tier, VerificationStatus};
use crate::error::{AppError, AppResult};
use crate::store::{ReadOnly, Reads};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A VerifyHQ identity verification (A.1). `id` is its session's id in the Verifa API.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "ses_01JD8ZQ7S3K2M4N5P6Q7R8S9T0", "userId": "user_123", "tier": "STANDARD", "status": "PENDING",
    "steps": { "document": "PENDING", "liveness": "PENDING" },
    "captureUrl": "http://localhost:8080/verify/cap_...", "createdAt": "2026-01-15T10:30:00Z",
    "updatedAt": "2026-01-15T10:30:00Z"
}))]
pub struct IdentityVerification {
    /// The verification's id (its session's id in the Verifa API).
    pub id: String,
    /// The integrator's user id (the identity's `external_ref` in the Verifa API).
    pub user_id: String,
    pub tier: Tier,
    pub status: VerificationStatus,
    /// One entry per step of the tier: `document`; `liveness` for STANDARD and ENHANCED; `screening` for
    /// ENHANCED.
    #[schema(value_type = BTreeMap<String, StepStatus>)]
    pub steps: BTreeMap<&'static str, StepStatus>,
    /// Addition: the hosted page where the user completes the verification, while it can be completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_url: Option<String>,
    /// Addition: why a REJECTED verification was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    /// Addition: the review case in the Verifa API, once there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// When the verification became final (VERIFIED, REJECTED or EXPIRED).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}

/// A page of verifications (`page` from 1, `limit` up to 100).
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationPage {
    pub data: Vec<IdentityVerification>,
    pub meta: PageMeta,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub page: i64,
    pub limit: i64,
    /// Matching items in all pages.
    pub total: i64,
    pub total_pages: i64,
}

impl PageMeta {
    pub fn new(page: i64, limit: i64, total: i64) -> Self {
        PageMeta { page, limit, total, total_pages: (total + limit - 1) / limit.max(1) }
    }
}

const COLUMNS: &str = "s.id, s.status, s.result_status, s.external_ref, t.tier, s.result_json, s.case_id, s.created_at,
    s.updated_at, s.decided_at, s.expired_at, s.token_sealed";
const FROM: &str =
    "sessions s JOIN verifyhq_tiers t ON t.environment = s.environment AND t.workflow_id = s.workflow_id";

fn uploaded(conn: &ReadOnly, id: &str) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT doc_type FROM session_documents WHERE session_id = ?1")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn render(
    conn: &ReadOnly,
    keyring: &Keyring,
    r: &rusqlite::Row<'_>,
    base_url: &str,
) -> AppResult<IdentityVerification> {
    let id: String = r.get(0)?;
    let session_status: String = r.get(1)?;
    let result_status: Option<String> = r.get(2)?;
    let result: Option<Map<String, Value>> = r.get::<_, Option<String>>(5)?.and_then(|t| serde_json::from_str(&t).ok());
    let check_results = result.as_ref().and_then(|o| o.get("check_results")).and_then(Value::as_object);
    let decided = check_results.is_some_and(|c| !c.is_empty());
    let tier = Tier::from_stored(&r.get::<_, String>(4)?)?;
    let status = dom::status_of(&session_status, result_status.as_deref());
    let steps = dom::steps(tier, &uploaded(conn, &id)?, check_results.filter(|_| decided))
        .into_iter()
        .map(|(step, s)| (step.key(), s))
        .collect();
    let updated_at: String = r.get(8)?;
    let final_at = match status {
        VerificationStatus::Verified | VerificationStatus::Rejected => {
            Some(r.get::<_, Option<String>>(9)?.unwrap_or_else(|| updated_at.clone()))
        }
        VerificationStatus::Expired => Some(r.get::<_, Option<String>>(10)?.unwrap_or_else(|| updated_at.clone())),
        _ => None,
    };
    let rejection_reason = (status == VerificationStatus::Rejected)
        .then(|| result.as_ref().and_then(|o| o.get("rejection_reason")).and_then(Value::as_str).map(str::to_string))
        .flatten();
    Ok(IdentityVerification {
        capture_url: super::sessions::capture_url(conn, keyring, &id, &session_status, r.get(11)?, base_url)?,
        id,
        user_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        tier,
        status,
        steps,
        rejection_reason,
        case_id: r.get(6)?,
        created_at: r.get(7)?,
        updated_at,
        completed_at: final_at,
    })
}

pub fn get(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id: &str,
    base_url: &str,
) -> AppResult<IdentityVerification> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE s.id = ?1 AND s.environment = ?2"))?;
    let mut rows = stmt.query(params![id, environment])?;
    match rows.next()? {
        Some(row) => render(conn, keyring, row, base_url),
        None => Err(AppError::not_found("Verification")),
    }
}

/// The user's verifications, newest first.
pub fn by_user(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    user_id: &str,
    page: i64,
    limit: i64,
    base_url: &str,
) -> AppResult<VerificationPage> {
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM {FROM} WHERE s.environment = ?1 AND s.external_ref = ?2"),
        params![environment, user_id],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE s.environment = ?1 AND s.external_ref = ?2
         ORDER BY s.created_at DESC, s.id DESC LIMIT ?3 OFFSET ?4"
    ))?;
    let mut rows = stmt.query(params![environment, user_id, limit, (page - 1) * limit])?;
    let mut data = Vec::new();
    while let Some(row) = rows.next()? {
        data.push(render(conn, keyring, row, base_url)?);
    }
    Ok(VerificationPage { data, meta: PageMeta::new(page, limit, total) })
}

/// A VerifyHQ webhook as `GET /v1/webhooks/client/:clientId` lists it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyhqWebhook {
    pub id: String,
    pub callback_url: String,
    #[schema(value_type = Vec<crate::domain::verifyhq::WebhookEventName>)]
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: String,
}

/// The client's webhooks in this environment, newest first.
pub fn webhooks_of_client(conn: &ReadOnly, environment: &str, client_id: &str) -> AppResult<Vec<VerifyhqWebhook>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, url, enabled_events, enabled, created_at FROM webhook_endpoints
         WHERE environment = ?1 AND dialect = 'verifyhq' AND client_id = ?2 ORDER BY created_at DESC, id DESC",
    )?;
    let rows = stmt.query_map(params![environment, client_id], webhook_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn webhook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VerifyhqWebhook> {
    let events: String = r.get(2)?;
    Ok(VerifyhqWebhook {
        id: r.get(0)?,
        callback_url: r.get(1)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        active: r.get(3)?,
        created_at: r.get(4)?,
    })
}

/// One VerifyHQ webhook of this environment.
pub fn webhook(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<VerifyhqWebhook> {
    conn.query_row(
        "SELECT id, url, enabled_events, enabled, created_at FROM webhook_endpoints
         WHERE id = ?1 AND environment = ?2 AND dialect = 'verifyhq'",
        params![id, environment],
        webhook_row,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Webhook"))
}

/// What was read from a document verification's images, in the dialect's names (A.2).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtractedFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
}

/// A VerifyHQ document verification (A.2). `id` is its front image's document id in the Verifa API.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentVerification {
    pub id: String,
    pub user_id: String,
    pub document_type: crate::domain::verifyhq::DocumentKind,
    /// ISO 3166-1 alpha-2.
    pub document_country: String,
    pub status: crate::domain::verifyhq::DocumentStatus,
    pub extracted_fields: ExtractedFields,
    /// Why a document was rejected or sent to a person: `MRZ_UNREADABLE`, `MRZ_CHECK_DIGIT_MISMATCH`,
    /// `DOCUMENT_TYPE_MISMATCH`, `DOCUMENT_EXPIRED`, `COUNTRY_MISMATCH`, `NO_DATA_READ`.
    pub fraud_indicators: Vec<String>,
    /// How sure the readers were of what they read, 0 to 1 (0: nothing was read).
    pub confidence: f64,
    /// A short-lived signed link to the front image (null once its data is redacted).
    pub front_image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_image_url: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The images are read when they arrive, so a verification is decided when it is created.
    pub completed_at: String,
}

/// A page of document verifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentVerificationPage {
    pub data: Vec<DocumentVerification>,
    pub meta: PageMeta,
}

const DOCUMENT_COLUMNS: &str =
    "id, user_id, document_type, document_country, back_document_id, status, fraud_indicators, confidence, created_at";

fn document_row(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    r: &rusqlite::Row<'_>,
    base_url: &str,
    now: i64,
) -> AppResult<DocumentVerification> {
    let id: String = r.get(0)?;
    let back_id: Option<String> = r.get(4)?;
    let front = super::documents::get(conn, keyring, environment, &id, base_url, now)?;
    let back =
        back_id.as_deref().map(|b| super::documents::get(conn, keyring, environment, b, base_url, now)).transpose()?;
    let mut read = front.extracted_fields.clone();
    for (k, v) in back.iter().flat_map(|b| b.extracted_fields.clone()) {
        read.entry(k).or_insert(v);
    }
    let full_name = match (read.get("first_name"), read.get("last_name")) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (f, l) => f.or(l).cloned(),
    };
    let fraud: String = r.get(6)?;
    let created_at: String = r.get(8)?;
    Ok(DocumentVerification {
        user_id: r.get(1)?,
        document_type: crate::domain::verifyhq::DocumentKind::from_stored(&r.get::<_, String>(2)?)?,
        document_country: r.get(3)?,
        status: crate::domain::verifyhq::DocumentStatus::from_stored(&r.get::<_, String>(5)?)?,
        extracted_fields: ExtractedFields {
            full_name,
            date_of_birth: read.get("date_of_birth").cloned(),
            document_number: read.get("document_number").cloned(),
            expiry_date: read.get("date_of_expiry").cloned(),
            nationality: read.get("nationality").cloned(),
        },
        fraud_indicators: serde_json::from_str(&fraud).unwrap_or_default(),
        confidence: r.get(7)?,
        front_image_url: front.summary.url.clone(),
        back_image_url: back.and_then(|b| b.summary.url),
        updated_at: front.summary.updated_at.clone(),
        completed_at: created_at.clone(),
        created_at,
        id,
    })
}

pub fn document(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id: &str,
    base_url: &str,
    now: i64,
) -> AppResult<DocumentVerification> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DOCUMENT_COLUMNS} FROM verifyhq_documents WHERE id = ?1 AND environment = ?2"
    ))?;
    let mut rows = stmt.query(params![id, environment])?;
    match rows.next()? {
        Some(row) => document_row(conn, keyring, environment, row, base_url, now),
        None => Err(AppError::not_found("Document verification")),
    }
}

/// The user's document verifications, newest first.
pub fn documents_by_user(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    user_id: &str,
    (page, limit): (i64, i64),
    base_url: &str,
    now: i64,
) -> AppResult<DocumentVerificationPage> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM verifyhq_documents WHERE environment = ?1 AND user_id = ?2",
        params![environment, user_id],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DOCUMENT_COLUMNS} FROM verifyhq_documents WHERE environment = ?1 AND user_id = ?2
         ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4"
    ))?;
    let mut rows = stmt.query(params![environment, user_id, limit, (page - 1) * limit])?;
    let mut data = Vec::new();
    while let Some(row) = rows.next()? {
        data.push(document_row(conn, keyring, environment, row, base_url, now)?);
    }
    Ok(DocumentVerificationPage { data, meta: PageMeta::new(page, limit, total) })
}

/// Every selfie of another user a duplicate check compares with: the selfies enrolled through the dialect,
/// and the selfies of verification sessions whose identity has an `external_ref` (the user id).
pub fn dedup_candidates(conn: &ReadOnly, environment: &str, user_id: &str) -> AppResult<Vec<(String, i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, selfie_hash, enrolled_at FROM verifyhq_enrollments WHERE environment = ?1 AND user_id <> ?2
         UNION ALL
         SELECT i.external_ref, s.selfie_phash, s.created_at FROM sessions s JOIN identities i ON i.id = s.identity_id
         WHERE s.environment = ?1 AND s.selfie_phash IS NOT NULL AND i.external_ref IS NOT NULL AND i.external_ref <> ?2",
    )?;
    let rows = stmt.query_map(params![environment, user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A biometric duplicate check (A.4).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DedupCheck {
    pub id: String,
    pub user_id: String,
    /// `UNIQUE` or `DUPLICATE`.
    #[schema(example = "UNIQUE")]
    pub status: String,
    pub match_found: bool,
    /// Whether the selfie was kept for later checks.
    pub enrolled: bool,
    pub threshold: f64,
    pub matches: Vec<DedupMatchView>,
    pub checked_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DedupMatchView {
    pub matched_user_id: String,
    pub similarity: f64,
    pub enrolled_at: String,
}

pub fn dedup_check(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<DedupCheck> {
    conn.query_row(
        "SELECT id, user_id, threshold, enrolled, matches, checked_at FROM verifyhq_dedup_checks
         WHERE id = ?1 AND environment = ?2",
        params![id, environment],
        |r| {
            let matches: Vec<crate::domain::verifyhq::DedupMatch> =
                serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default();
            let matches: Vec<DedupMatchView> = matches
                .into_iter()
                .map(|m| DedupMatchView {
                    matched_user_id: m.matched_user_id,
                    similarity: m.similarity,
                    enrolled_at: m.enrolled_at,
                })
                .collect();
            Ok(DedupCheck {
                id: r.get(0)?,
                user_id: r.get(1)?,
                status: if matches.is_empty() { "UNIQUE".into() } else { "DUPLICATE".into() },
                match_found: !matches.is_empty(),
                enrolled: r.get(3)?,
                threshold: r.get(2)?,
                matches,
                checked_at: r.get(5)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Dedup check"))
}

/// A watchlist subscription (A.5).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub user_id: String,
    /// `ACTIVE` or `CANCELLED`.
    #[schema(example = "ACTIVE")]
    pub status: String,
    #[schema(value_type = Vec<crate::domain::verifyhq::WatchlistKind>)]
    pub lists: Vec<String>,
    /// Addition: the requested kinds idv cannot watch (no such list is loaded).
    #[schema(value_type = Vec<crate::domain::verifyhq::WatchlistKind>)]
    pub unavailable_lists: Vec<String>,
    /// Always null: the identity is screened again whenever a list is imported, not on a schedule.
    pub next_scan_at: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<String>,
}

pub fn subscription(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<Subscription> {
    conn.query_row(
        "SELECT id, user_id, status, lists, unavailable_lists, created_at, cancelled_at FROM verifyhq_subscriptions
         WHERE id = ?1 AND environment = ?2",
        params![id, environment],
        |r| {
            Ok(Subscription {
                id: r.get(0)?,
                user_id: r.get(1)?,
                status: r.get(2)?,
                lists: serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default(),
                unavailable_lists: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                next_scan_at: None,
                created_at: r.get(5)?,
                cancelled_at: r.get(6)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Subscription"))
}

/// A watchlist alert: one hit of a screening of a subscribed user's identity (its baseline at subscription,
/// or continuous monitoring after a list import).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub user_id: String,
    pub subscription_id: String,
    #[schema(example = "SANCTIONS")]
    pub list: String,
    /// The list the entry is on (`ofac_sdn`, `un_consolidated`, ...).
    pub source: String,
    /// The list entry's name that matched (public list data).
    pub matched_name: String,
    pub score: f64,
    pub status: crate::domain::verifyhq::AlertStatus,
    /// The Verifa check holding the hit (`/api/v1/checks/{id}`), where it is dismissed.
    pub check_id: String,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    pub data: Vec<Alert>,
    pub meta: PageMeta,
}

/// The alerts of the environment's subscriptions (of one user, of one status), newest first.
pub fn alerts(
    conn: &ReadOnly,
    environment: &str,
    user_id: Option<&str>,
    status: Option<crate::domain::verifyhq::AlertStatus>,
    (page, limit): (i64, i64),
) -> AppResult<AlertPage> {
    use crate::domain::verifyhq::AlertStatus;
    let dismissed = match status {
        None => None,
        Some(AlertStatus::Dismissed) => Some(true),
        Some(AlertStatus::Open) => Some(false),
        Some(AlertStatus::Reviewed) => return Ok(AlertPage { data: Vec::new(), meta: PageMeta::new(page, limit, 0) }),
    };
    const FROM: &str = "FROM checks c JOIN check_hits h ON h.check_id = c.id AND h.run = c.run
        WHERE c.environment = ?1 AND c.check_type = 'sanction'
          AND c.identity_id IN (SELECT identity_id FROM verifyhq_subscriptions WHERE environment = ?1
                                AND (?2 IS NULL OR user_id = ?2))
          AND (?3 IS NULL OR ?3 = (h.dismissal_id IS NOT NULL))";
    let total: i64 =
        conn.query_row(&format!("SELECT COUNT(*) {FROM}"), params![environment, user_id, dismissed], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT h.id, h.watchlist_id, h.matched_name, h.score, h.dismissal_id IS NOT NULL, c.id, c.created_at,
                (SELECT s.id FROM verifyhq_subscriptions s WHERE s.identity_id = c.identity_id ORDER BY s.created_at DESC LIMIT 1),
                (SELECT s.user_id FROM verifyhq_subscriptions s WHERE s.identity_id = c.identity_id ORDER BY s.created_at DESC LIMIT 1)
         {FROM} ORDER BY c.created_at DESC, c.id DESC, h.position LIMIT ?4 OFFSET ?5"
    ))?;
    let rows = stmt.query_map(params![environment, user_id, dismissed, limit, (page - 1) * limit], |r| {
        let dismissed: bool = r.get(4)?;
        Ok(Alert {
            id: r.get(0)?,
            source: r.get(1)?,
            matched_name: r.get(2)?,
            score: r.get(3)?,
            status: if dismissed { AlertStatus::Dismissed } else { AlertStatus::Open },
            check_id: r.get(5)?,
            created_at: r.get(6)?,
            subscription_id: r.get(7)?,
            user_id: r.get(8)?,
            list: "SANCTIONS".into(),
        })
    })?;
    let data = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(AlertPage { data, meta: PageMeta::new(page, limit, total) })
}

/// One challenge of a liveness session, as shown to the person.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeView {
    #[schema(example = "ch_001")]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: crate::domain::verifyhq::ChallengeType,
    pub instruction: String,
}

/// A liveness session (A.3) and, once complete, its verdict.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LivenessSession {
    pub session_token: String,
    pub user_id: String,
    pub status: crate::domain::verifyhq::LivenessStatus,
    pub expires_at: String,
    pub challenges: Vec<ChallengeView>,
    pub challenges_completed: usize,
    pub challenges_total: usize,
    pub is_complete: bool,
    /// The next challenge to photograph; null once complete.
    pub next_step: Option<String>,
    pub instructions: String,
    /// The verdict, once complete: true or false; null when no one could say (see `reason`).
    pub is_alive: Option<bool>,
    pub confidence: Option<f64>,
    pub anti_spoof_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: String,
}

pub const LIVENESS_INSTRUCTIONS: &str =
    "Take one photo for each challenge, in order, with your face in the frame and good light, within 10 minutes.";

pub fn liveness(conn: &ReadOnly, environment: &str, token: &str, now: &str) -> AppResult<LivenessSession> {
    use crate::domain::verifyhq::{liveness_status, Challenge, ChallengeType, LivenessStatus};
    conn.query_row(
        "SELECT id, user_id, challenges, completed, expires_at, is_alive, confidence, anti_spoof_score, reason,
                created_at FROM verifyhq_liveness WHERE id = ?1 AND environment = ?2",
        params![token, environment],
        |r| {
            let challenges: Vec<Challenge> = serde_json::from_str(&r.get::<_, String>(2)?).unwrap_or_default();
            let completed: Vec<String> = serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default();
            let expires_at: String = r.get(4)?;
            let status = liveness_status(completed.len(), challenges.len(), &expires_at, now);
            let next_step = challenges.iter().find(|c| !completed.contains(&c.id)).map(|c| c.id.clone());
            let views = challenges
                .iter()
                .filter_map(|c| {
                    ChallengeType::parse(&c.kind).map(|kind| ChallengeView {
                        id: c.id.clone(),
                        kind,
                        instruction: kind.instruction().to_string(),
                    })
                })
                .collect();
            Ok(LivenessSession {
                session_token: r.get(0)?,
                user_id: r.get(1)?,
                is_complete: status == LivenessStatus::Completed,
                next_step: if status == LivenessStatus::Expired { None } else { next_step },
                status,
                expires_at,
                challenges_completed: completed.len(),
                challenges_total: challenges.len(),
                challenges: views,
                instructions: LIVENESS_INSTRUCTIONS.to_string(),
                is_alive: r.get(5)?,
                confidence: r.get(6)?,
                anti_spoof_score: r.get(7)?,
                reason: r.get(8)?,
                created_at: r.get(9)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Liveness session"))
}

/// A liveness session's challenges, those done, its expiry and its photos (hashes and blob ids), as its
/// row holds them: what a challenge photo is checked against, before the write and again inside it.
pub struct LivenessRow {
    pub challenges: Vec<dom::Challenge>,
    pub completed: Vec<String>,
    pub expires_at: String,
    pub photo_hashes: Vec<String>,
    pub photo_blobs: Vec<String>,
}

impl LivenessRow {
    /// Whether the next photo recorded completes the session (and so brings its verdict).
    pub fn one_photo_left(&self) -> bool {
        self.completed.len() + 1 == self.challenges.len()
    }
}

/// The row of liveness session `token` in `environment` (404 when there is none).
pub fn liveness_row<C: Reads + ?Sized>(conn: &C, environment: &str, token: &str) -> AppResult<LivenessRow> {
    let (challenges, completed, expires_at, hashes, blobs): (String, String, String, String, String) = conn
        .query_row(
            "SELECT challenges, completed, expires_at, photo_hashes, photo_blobs FROM verifyhq_liveness
             WHERE id = ?1 AND environment = ?2",
            params![token, environment],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("Liveness session"))?;
    Ok(LivenessRow {
        challenges: serde_json::from_str(&challenges)?,
        completed: serde_json::from_str(&completed)?,
        expires_at,
        photo_hashes: serde_json::from_str(&hashes)?,
        photo_blobs: serde_json::from_str(&blobs)?,
    })
}

/// Where a liveness session stands before a challenge photo is recorded: its row, its data key, and (when
/// one more photo completes it) its first photo opened, which the verdict compares with the last.
pub struct LivenessProgress {
    pub row: LivenessRow,
    pub key: crate::crypto::DataKey,
    pub first_photo: Option<Vec<u8>>,
}

pub fn liveness_progress(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    token: &str,
) -> AppResult<LivenessProgress> {
    let row = liveness_row(conn, environment, token)?;
    let key = crate::store::subject_keys::data_key(conn, keyring, token)?
        .ok_or_else(|| AppError::not_found("Liveness session"))?;
    let first_photo = match (row.one_photo_left(), row.photo_blobs.first()) {
        (true, Some(first)) => Some(
            crate::store::subject_keys::open_file(conn, &key, token, "liveness", first)?
                .ok_or_else(|| AppError::invalid_state("This liveness session's photo has been erased."))?,
        ),
        _ => None,
    };
    Ok(LivenessProgress { row, key, first_photo })
}
