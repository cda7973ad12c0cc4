//! The VerifyHQ dialect's rules (spec Appendix A): its tiers and the workflow each one runs, how a session's
//! status and check results read as a verification's status and steps, the permissions of its API
//! clients, and the event that links a tier to its workflow. A verification is a session: this module only
//! translates; it holds no state of its own. Must not read the database or the clock.

use super::vocabulary::vocabulary;
use super::workflow::Policy;
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

vocabulary!(
    /// How much a verification checks: BASIC the document, STANDARD also liveness (a selfie matched to the
    /// document), ENHANCED also sanctions screening.
    Tier { Basic = "BASIC", Standard = "STANDARD", Enhanced = "ENHANCED" }
);

vocabulary!(
    /// A verification's status (A.1).
    VerificationStatus {
        Pending = "PENDING",
        InProgress = "IN_PROGRESS",
        ManualReview = "MANUAL_REVIEW",
        Verified = "VERIFIED",
        Rejected = "REJECTED",
        Expired = "EXPIRED"
    }
);

vocabulary!(
    /// A reviewer's decision on a verification.
    ReviewDecision { Verified = "VERIFIED", Rejected = "REJECTED" }
);

vocabulary!(
    /// The status of one step of a verification: the document VERIFIED or REJECTED, liveness and screening
    /// PASSED or FAILED; PROCESSING once submitted, MANUAL_REVIEW where the check asked for a person,
    /// SKIPPED where it could not run (screening with no list loaded).
    StepStatus {
        Pending = "PENDING",
        Processing = "PROCESSING",
        Verified = "VERIFIED",
        Rejected = "REJECTED",
        Passed = "PASSED",
        Failed = "FAILED",
        ManualReview = "MANUAL_REVIEW",
        Skipped = "SKIPPED"
    }
);

impl Tier {
    /// The checks the tier's workflow runs, in order, before the automatic decision.
    pub fn policies(self) -> Vec<Policy> {
        let mut p = vec![Policy::DocumentOcr, Policy::DocumentExpiration];
        if self != Tier::Basic {
            p.extend([Policy::FaceMatch, Policy::DuplicateDetection]);
        }
        if self == Tier::Enhanced {
            p.push(Policy::WatchlistScreening);
        }
        p.push(Policy::AutoApprove);
        p
    }

    pub fn workflow_name(self) -> String {
        format!("VerifyHQ {}", self.as_str())
    }

    pub fn workflow_description(self) -> &'static str {
        match self {
            Tier::Basic => "VerifyHQ tier BASIC: the document only.",
            Tier::Standard => "VerifyHQ tier STANDARD: the document and liveness (a selfie matched to it).",
            Tier::Enhanced => "VerifyHQ tier ENHANCED: the document, liveness and sanctions screening.",
        }
    }

    /// The steps a verification of this tier reports.
    pub fn steps(self) -> &'static [Step] {
        match self {
            Tier::Basic => &[Step::Document],
            Tier::Standard => &[Step::Document, Step::Liveness],
            Tier::Enhanced => &[Step::Document, Step::Liveness, Step::Screening],
        }
    }
}

/// One step of a verification and the session check it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Document,
    Liveness,
    Screening,
}

impl Step {
    pub fn key(self) -> &'static str {
        match self {
            Step::Document => "document",
            Step::Liveness => "liveness",
            Step::Screening => "screening",
        }
    }

    fn check(self) -> &'static str {
        match self {
            Step::Document => "document_ocr",
            Step::Liveness => "face_match",
            Step::Screening => "watchlist_screening",
        }
    }

    /// The upload that submits the step (screening needs none: it runs on the document's data).
    fn upload(self) -> Option<&'static str> {
        match self {
            Step::Document => Some("id_front"),
            Step::Liveness => Some("selfie"),
            Step::Screening => None,
        }
    }
}

/// The verification status a session's status and result read as (A.10): a session awaiting its
/// person is PENDING, one being captured or processed IN_PROGRESS, one under review MANUAL_REVIEW; a
/// completed session is VERIFIED when approved and REJECTED otherwise; a session whose processing failed
/// is REJECTED (restart starts a new one).
pub fn status_of(session_status: &str, result_status: Option<&str>) -> VerificationStatus {
    use VerificationStatus as V;
    match session_status {
        "pending" => V::Pending,
        "capturing" | "processing" | "awaiting_external" | "sandbox_pending" => V::InProgress,
        "under_review" => V::ManualReview,
        "completed" => match result_status {
            Some("approved") => V::Verified,
            Some("needs_review") => V::ManualReview,
            _ => V::Rejected,
        },
        "expired" => V::Expired,
        _ => V::Rejected,
    }
}

/// Whether a verification in `status` still counts as the user's active one (A.1: PENDING, IN_PROGRESS).
pub fn is_active(status: VerificationStatus) -> bool {
    matches!(status, VerificationStatus::Pending | VerificationStatus::InProgress)
}

/// The status of each step of `tier`: from the session's check results once it was decided, else from
/// what was uploaded.
pub fn steps(tier: Tier, uploaded: &[String], check_results: Option<&Map<String, Value>>) -> Vec<(Step, StepStatus)> {
    tier.steps()
        .iter()
        .map(|&step| {
            let status = match check_results.and_then(|r| r.get(step.check())) {
                Some(result) => match result.get("status").and_then(Value::as_str) {
                    Some("passed") if step == Step::Document => StepStatus::Verified,
                    Some("passed") => StepStatus::Passed,
                    Some("failed") if step == Step::Document => StepStatus::Rejected,
                    Some("failed") => StepStatus::Failed,
                    Some("skipped") => StepStatus::Skipped,
                    _ => StepStatus::ManualReview,
                },
                None if check_results.is_some() => StepStatus::Skipped,
                None => match step.upload() {
                    Some(u) if uploaded.iter().any(|x| x == u) => StepStatus::Processing,
                    _ => StepStatus::Pending,
                },
            };
            (step, status)
        })
        .collect()
}

/// What `restart` may do with the current verification: start beside a final one, or invalidate (expire)
/// one still awaiting its person first. One being processed, under review or verified refuses (409).
pub fn restart_plan(session_status: &str, status: VerificationStatus) -> Result<bool, AppError> {
    use VerificationStatus as V;
    match status {
        V::Rejected | V::Expired => Ok(false),
        V::Pending | V::InProgress if matches!(session_status, "pending" | "capturing" | "sandbox_pending") => Ok(true),
        other => Err(AppError::Conflict(format!(
            "A verification that is {} cannot be restarted{}.",
            other.as_str(),
            if other == V::InProgress { " while it is being processed" } else { "" }
        ))),
    }
}

vocabulary!(
    /// A permission of a VerifyHQ API client (A.9).
    Permission {
        IdentityRead = "identity:read",
        IdentityWrite = "identity:write",
        DocumentRead = "document:read",
        DocumentWrite = "document:write",
        LivenessRead = "liveness:read",
        LivenessWrite = "liveness:write",
        BiometricsRead = "biometrics:read",
        BiometricsWrite = "biometrics:write",
        MonitoringRead = "monitoring:read",
        MonitoringWrite = "monitoring:write",
        IntelligenceRead = "intelligence:read",
        WebhooksRead = "webhooks:read",
        WebhooksWrite = "webhooks:write"
    }
);

vocabulary!(
    /// Where a VerifyHQ client's data lives: `live` (a `vhq_live_` key) or `test` (a `vhq_test_` key, the sandbox).
    ClientEnvironment { Live = "live", Test = "test" }
);

/// Every permission, as stored.
pub fn all_permissions() -> Vec<String> {
    Permission::ALL.iter().map(|p| p.as_str().to_string()).collect()
}

pub fn check_permissions(permissions: &[String]) -> Result<(), AppError> {
    if let Some(bad) = permissions.iter().find(|p| Permission::parse(p).is_none()) {
        return Err(AppError::validation("permissions", format!("unknown permission '{bad}'")));
    }
    Ok(())
}

vocabulary!(
    /// An event a VerifyHQ webhook can subscribe to (A.8).
    WebhookEventName {
        VerificationCompleted = "verification.completed",
        IdentityVerified = "identity.verified",
        IdentityRejected = "identity.rejected",
        IdentityManualReview = "identity.manual_review",
        DocumentVerified = "document.verified",
        DocumentRejected = "document.rejected",
        LivenessPassed = "liveness.passed",
        LivenessFailed = "liveness.failed",
        PhoneVerified = "phone.verified",
        PhoneFailed = "phone.failed"
    }
);

/// At least one event, each one of A.8's.
pub fn check_webhook_events(events: &[String]) -> Result<(), AppError> {
    if events.is_empty() {
        return Err(AppError::validation("events", "must name at least one event"));
    }
    if let Some(bad) = events.iter().find(|e| WebhookEventName::parse(e).is_none()) {
        return Err(AppError::validation("events", format!("unknown event '{bad}'")));
    }
    Ok(())
}

/// A.8's retry schedule: three retries, 1, 5 and 30 minutes after the failed attempt; `None` after the
/// third (`retry` is 1-based).
pub fn webhook_retry_delay(retry: u32) -> Option<std::time::Duration> {
    const MINUTES: [u64; 3] = [1, 5, 30];
    let i = usize::try_from(retry).ok()?.checked_sub(1)?;
    MINUTES.get(i).map(|m| std::time::Duration::from_secs(m * 60))
}

vocabulary!(
    /// The document a document verification is for (A.2).
    DocumentKind {
        IdCard = "ID_CARD",
        Passport = "PASSPORT",
        DriverLicense = "DRIVER_LICENSE",
        ResidencePermit = "RESIDENCE_PERMIT"
    }
);

vocabulary!(
    /// A document verification's status (A.2).
    DocumentStatus { Processing = "PROCESSING", Verified = "VERIFIED", Rejected = "REJECTED", ManualReview = "MANUAL_REVIEW" }
);

impl DocumentKind {
    /// Whether the document carries a machine-readable zone that must be read.
    fn has_zone(self) -> bool {
        self != DocumentKind::DriverLicense
    }

    /// The ICAO document codes (first letter of the zone) the kind admits.
    fn zone_codes(self) -> &'static [char] {
        match self {
            DocumentKind::Passport => &['P'],
            DocumentKind::IdCard => &['I', 'A', 'C'],
            DocumentKind::ResidencePermit => &['I', 'A', 'C', 'R'],
            DocumentKind::DriverLicense => &['D'],
        }
    }
}

/// What the readers found on the document's images (no values: only what the assessment needs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocumentReading {
    /// A zone was read and every check digit held (`Some(false)`: read, a digit failed).
    pub zone_valid: Option<bool>,
    /// The zone's document code (`P`, `I`, ...).
    pub zone_code: Option<char>,
    /// The issuing state as ISO alpha-2, from the zone or the barcode.
    pub issuing_country: Option<String>,
    /// The expiry date read (YYYY-MM-DD).
    pub expiry_date: Option<String>,
    /// Fields read at all (from the zone, a barcode or hints).
    pub fields_read: usize,
    /// The readers' confidence (the lowest of them).
    pub confidence: Option<f64>,
}

/// A document verification's outcome: its status, the fraud indicators found, the confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentAssessed {
    pub user_id: String,
    pub document_type: String,
    pub document_country: String,
    pub back_document_id: Option<String>,
    pub status: String,
    pub fraud_indicators: Vec<String>,
    pub confidence: f64,
}

pub const DOCUMENT_ASSESSED: &str = "VerifyhqDocumentAssessed";

pub fn decode_document_assessed(
    event_type: &str,
    version: i64,
    payload: &Value,
) -> Result<Option<DocumentAssessed>, serde_json::Error> {
    decode_as(DOCUMENT_ASSESSED, event_type, version, payload)
}

/// Judges a document from what was read (pure): an unreadable or invalid zone, a zone of another kind of
/// document, or an expired document is REJECTED; another issuing country than the one given asks for a
/// person (MANUAL_REVIEW), as does a document nothing could be read from (a driving licence without a
/// barcode); otherwise VERIFIED. `today` is YYYY-MM-DD.
pub fn assess(kind: DocumentKind, country: &str, r: &DocumentReading, today: &str) -> (DocumentStatus, Vec<String>) {
    let mut reject: Vec<&str> = Vec::new();
    let mut review: Vec<&str> = Vec::new();
    match r.zone_valid {
        None if kind.has_zone() => reject.push("MRZ_UNREADABLE"),
        Some(false) => reject.push("MRZ_CHECK_DIGIT_MISMATCH"),
        _ => {}
    }
    if let Some(code) = r.zone_code {
        if !kind.zone_codes().contains(&code) {
            reject.push("DOCUMENT_TYPE_MISMATCH");
        }
    }
    if r.expiry_date.as_deref().is_some_and(|d| d < today) {
        reject.push("DOCUMENT_EXPIRED");
    }
    if r.issuing_country.as_deref().is_some_and(|c| !c.eq_ignore_ascii_case(country)) {
        review.push("COUNTRY_MISMATCH");
    }
    if r.fields_read == 0 && !kind.has_zone() {
        review.push("NO_DATA_READ");
    }
    let status = if !reject.is_empty() {
        DocumentStatus::Rejected
    } else if !review.is_empty() {
        DocumentStatus::ManualReview
    } else {
        DocumentStatus::Verified
    };
    (status, reject.into_iter().chain(review).map(str::to_string).collect())
}

/// One selfie of another user that looks like the one checked (A.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DedupMatch {
    pub matched_user_id: String,
    /// 0 to 1, on the threshold's scale.
    pub similarity: f64,
    pub enrolled_at: String,
}

/// `VerifyhqDedupChecked`: a biometric duplicate check, its matches, and whether the selfie was enrolled
/// (then sealed in `blob_id` under the check's own key). No image and no name in the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DedupChecked {
    pub user_id: String,
    pub threshold: f64,
    /// The selfie's 64-bit perceptual hash, hex.
    pub selfie_hash: String,
    pub enrolled: bool,
    pub blob_id: Option<String>,
    pub matches: Vec<DedupMatch>,
}

pub const DEDUP_CHECKED: &str = "VerifyhqDedupChecked";

pub fn decode_dedup_checked(
    event_type: &str,
    version: i64,
    payload: &Value,
) -> Result<Option<DedupChecked>, serde_json::Error> {
    decode_as(DEDUP_CHECKED, event_type, version, payload)
}

/// The default similarity a duplicate must reach (A.4).
pub const DEDUP_DEFAULT_THRESHOLD: f64 = 0.90;

/// The matches at or above `threshold`, best first, one per user (its best selfie).
pub fn dedup_matches(candidates: Vec<DedupMatch>, threshold: f64) -> Vec<DedupMatch> {
    let mut best: Vec<DedupMatch> = Vec::new();
    for c in candidates.into_iter().filter(|c| c.similarity >= threshold) {
        match best.iter_mut().find(|b| b.matched_user_id == c.matched_user_id) {
            Some(b) if b.similarity < c.similarity => *b = c,
            Some(_) => {}
            None => best.push(c),
        }
    }
    best.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| a.matched_user_id.cmp(&b.matched_user_id)));
    best
}

vocabulary!(
    /// A kind of list a watchlist subscription watches (A.5).
    WatchlistKind { Sanctions = "SANCTIONS", Pep = "PEP", AdverseMedia = "ADVERSE_MEDIA" }
);

vocabulary!(
    /// A monitoring alert's status: OPEN until a reviewer dismisses the hit (DISMISSED). idv records no
    /// separate "reviewed" state, so no alert is REVIEWED.
    AlertStatus { Open = "OPEN", Reviewed = "REVIEWED", Dismissed = "DISMISSED" }
);

/// Which requested kinds idv can watch: SANCTIONS (the imported sanctions lists); PEP and ADVERSE_MEDIA
/// need lists of those kinds, which idv's importers do not bring. Returns (watched, unavailable).
pub fn watchable(requested: &[WatchlistKind]) -> (Vec<String>, Vec<String>) {
    let mut watched = Vec::new();
    let mut unavailable = Vec::new();
    for k in requested {
        let name = k.as_str().to_string();
        let list = if *k == WatchlistKind::Sanctions { &mut watched } else { &mut unavailable };
        if !list.contains(&name) {
            list.push(name);
        }
    }
    (watched, unavailable)
}

/// `VerifyhqWatchlistSubscribed`: a user's identity is watched against `lists`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribed {
    pub user_id: String,
    pub identity_id: String,
    pub lists: Vec<String>,
    pub unavailable_lists: Vec<String>,
}

pub const SUBSCRIBED: &str = "VerifyhqWatchlistSubscribed";
/// `VerifyhqWatchlistCancelled` (empty payload).
pub const SUBSCRIPTION_CANCELLED: &str = "VerifyhqWatchlistCancelled";

pub fn decode_subscribed(
    event_type: &str,
    version: i64,
    payload: &Value,
) -> Result<Option<Subscribed>, serde_json::Error> {
    decode_as(SUBSCRIBED, event_type, version, payload)
}

vocabulary!(
    /// A liveness challenge the person performs for one photo (A.3).
    ChallengeType {
        TurnLeft = "TURN_LEFT",
        TurnRight = "TURN_RIGHT",
        Smile = "SMILE",
        Blink = "BLINK",
        Nod = "NOD",
        LookUp = "LOOK_UP"
    }
);

impl ChallengeType {
    pub fn instruction(self) -> &'static str {
        match self {
            ChallengeType::TurnLeft => "Turn your head slowly to the left.",
            ChallengeType::TurnRight => "Turn your head slowly to the right.",
            ChallengeType::Smile => "Smile at the camera.",
            ChallengeType::Blink => "Blink twice.",
            ChallengeType::Nod => "Nod your head.",
            ChallengeType::LookUp => "Look up, then back at the camera.",
        }
    }
}

vocabulary!(
    /// A liveness session's status (A.3): EXPIRED ten minutes after its start unless completed.
    LivenessStatus { Created = "CREATED", InProgress = "IN_PROGRESS", Completed = "COMPLETED", Expired = "EXPIRED" }
);

/// How long a liveness session accepts photos.
pub const LIVENESS_MINUTES: i64 = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Challenge {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `VerifyhqLivenessStarted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivenessStarted {
    pub user_id: String,
    pub challenges: Vec<Challenge>,
    pub expires_at: String,
}

/// `VerifyhqLivenessChallengeCompleted`: a challenge's photo, sealed in `blob_id` under the session's key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeCompleted {
    pub challenge_id: String,
    pub blob_id: String,
    /// The photo's perceptual hash, hex (to catch one photo sent for every challenge).
    pub photo_hash: String,
}

/// `VerifyhqLivenessDecided`: `is_alive` null when no one could say (no face provider in live).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivenessDecided {
    pub is_alive: Option<bool>,
    pub confidence: Option<f64>,
    pub anti_spoof_score: Option<f64>,
    pub reason: Option<String>,
}

pub const LIVENESS_STARTED: &str = "VerifyhqLivenessStarted";
pub const CHALLENGE_COMPLETED: &str = "VerifyhqLivenessChallengeCompleted";
pub const LIVENESS_DECIDED: &str = "VerifyhqLivenessDecided";

/// The stored liveness events, decoded (None: another event type).
#[derive(Debug, Clone, PartialEq)]
pub enum LivenessEvent {
    Started(LivenessStarted),
    ChallengeCompleted(ChallengeCompleted),
    Decided(LivenessDecided),
}

pub fn decode_liveness(
    event_type: &str,
    version: i64,
    payload: &Value,
) -> Result<Option<LivenessEvent>, serde_json::Error> {
    if !matches!(event_type, LIVENESS_STARTED | CHALLENGE_COMPLETED | LIVENESS_DECIDED) {
        return Ok(None);
    }
    let p = super::codec::upcast(event_type, version, payload, 1, super::codec::no_steps)?;
    Ok(Some(match event_type {
        LIVENESS_STARTED => LivenessEvent::Started(super::codec::payload(event_type, p)?),
        CHALLENGE_COMPLETED => LivenessEvent::ChallengeCompleted(super::codec::payload(event_type, p)?),
        _ => LivenessEvent::Decided(super::codec::payload(event_type, p)?),
    }))
}

/// A session's status from what happened and the time (`now` and `expires_at` in RFC 3339 UTC).
pub fn liveness_status(completed: usize, total: usize, expires_at: &str, now: &str) -> LivenessStatus {
    if total > 0 && completed >= total {
        LivenessStatus::Completed
    } else if now > expires_at {
        LivenessStatus::Expired
    } else if completed == 0 {
        LivenessStatus::Created
    } else {
        LivenessStatus::InProgress
    }
}

/// Whether a photo may be taken for `challenge_id` now; refusals are 404 (no such challenge) or 409.
pub fn accept_challenge(
    challenges: &[Challenge],
    completed: &[String],
    challenge_id: &str,
    expires_at: &str,
    now: &str,
) -> Result<(), AppError> {
    match liveness_status(completed.len(), challenges.len(), expires_at, now) {
        LivenessStatus::Expired => {
            return Err(AppError::Conflict("This liveness session has expired; start a new one.".into()))
        }
        LivenessStatus::Completed => {
            return Err(AppError::Conflict("This liveness session is already complete.".into()))
        }
        _ => {}
    }
    if !challenges.iter().any(|c| c.id == challenge_id) {
        return Err(AppError::NotFound(format!("Challenge '{challenge_id}' is not one of this session's.")));
    }
    if completed.iter().any(|c| c == challenge_id) {
        return Err(AppError::Conflict(format!("Challenge '{challenge_id}' already has its photo.")));
    }
    Ok(())
}

/// One photo sent for every challenge is a replay, not a live person: true when every pair of photos is
/// near-identical (perceptual hashes at most `max_distance` bits apart).
pub fn is_replay(distances: &[u32], max_distance: u32) -> bool {
    !distances.is_empty() && distances.iter().all(|d| *d <= max_distance)
}

/// Decodes an event of type `expected` (version 1) into `T`; `None` for any other type.
fn decode_as<T: serde::de::DeserializeOwned>(
    expected: &str,
    event_type: &str,
    version: i64,
    payload: &Value,
) -> Result<Option<T>, serde_json::Error> {
    if event_type != expected {
        return Ok(None);
    }
    let p = super::codec::upcast(event_type, version, payload, 1, super::codec::no_steps)?;
    Ok(Some(super::codec::payload(event_type, p)?))
}

/// The stream linking an environment's tiers to their workflows.
pub fn tiers_stream(environment: &str) -> String {
    format!("verifyhq_tiers_{environment}")
}

/// `VerifyhqTierLinked`: the tier's workflow was created (on the first verification of that tier).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TierLinked {
    pub tier: String,
    pub workflow_id: String,
}

pub const TIER_LINKED: &str = "VerifyhqTierLinked";

pub fn decode_tier_linked(
    event_type: &str,
    version: i64,
    payload: &Value,
) -> Result<Option<TierLinked>, serde_json::Error> {
    decode_as(TIER_LINKED, event_type, version, payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_statuses_read_as_the_dialects_statuses() {
        use VerificationStatus as V;
        assert_eq!(status_of("pending", None), V::Pending);
        assert_eq!(status_of("capturing", None), V::InProgress);
        assert_eq!(status_of("processing", None), V::InProgress);
        assert_eq!(status_of("under_review", Some("needs_review")), V::ManualReview);
        assert_eq!(status_of("completed", Some("approved")), V::Verified);
        assert_eq!(status_of("completed", Some("declined")), V::Rejected);
        assert_eq!(status_of("completed", Some("rejected")), V::Rejected);
        assert_eq!(status_of("expired", None), V::Expired);
        assert_eq!(status_of("failed", None), V::Rejected);
        assert!(is_active(V::Pending) && is_active(V::InProgress) && !is_active(V::ManualReview));
    }

    #[test]
    fn steps_follow_uploads_then_check_results() {
        let none: Vec<String> = Vec::new();
        let s = steps(Tier::Enhanced, &none, None);
        let keys: Vec<&str> = s.iter().map(|(k, _)| k.key()).collect();
        assert_eq!(keys, ["document", "liveness", "screening"]);
        assert!(s.iter().all(|(_, v)| *v == StepStatus::Pending));
        let uploaded = vec!["id_front".to_string()];
        assert_eq!(steps(Tier::Standard, &uploaded, None)[0].1, StepStatus::Processing);
        assert_eq!(steps(Tier::Standard, &uploaded, None)[1].1, StepStatus::Pending);
        let results = json!({
            "document_ocr": { "status": "passed" }, "face_match": { "status": "failed" },
            "watchlist_screening": { "status": "skipped" }
        });
        let r = steps(Tier::Enhanced, &uploaded, results.as_object());
        assert_eq!(
            r.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            [StepStatus::Verified, StepStatus::Failed, StepStatus::Skipped]
        );
        let basic = steps(Tier::Basic, &uploaded, json!({ "document_ocr": { "status": "failed" } }).as_object());
        assert_eq!(basic, vec![(Step::Document, StepStatus::Rejected)]);
    }

    #[test]
    fn a_document_is_judged_by_its_zone_expiry_and_country() {
        let read = DocumentReading {
            zone_valid: Some(true),
            zone_code: Some('P'),
            issuing_country: Some("NL".into()),
            expiry_date: Some("2033-09-07".into()),
            fields_read: 7,
            confidence: Some(0.9),
        };
        let today = "2026-12-05";
        assert_eq!(assess(DocumentKind::Passport, "NL", &read, today), (DocumentStatus::Verified, vec![]));
        let (s, why) = assess(DocumentKind::IdCard, "NL", &read, today);
        assert_eq!((s, why), (DocumentStatus::Rejected, vec!["DOCUMENT_TYPE_MISMATCH".to_string()]));
        let (s, why) = assess(DocumentKind::Passport, "BE", &read, today);
        assert_eq!((s, why), (DocumentStatus::ManualReview, vec!["COUNTRY_MISMATCH".to_string()]));
        let expired = DocumentReading { expiry_date: Some("2020-01-01".into()), ..read.clone() };
        assert_eq!(assess(DocumentKind::Passport, "NL", &expired, today).1, vec!["DOCUMENT_EXPIRED".to_string()]);
        let bad = DocumentReading { zone_valid: Some(false), ..read.clone() };
        assert_eq!(assess(DocumentKind::Passport, "NL", &bad, today).0, DocumentStatus::Rejected);
        let nothing = DocumentReading::default();
        assert_eq!(assess(DocumentKind::Passport, "NL", &nothing, today).1, vec!["MRZ_UNREADABLE".to_string()]);
        assert_eq!(assess(DocumentKind::DriverLicense, "US", &nothing, today).0, DocumentStatus::ManualReview);
    }

    #[test]
    fn dedup_keeps_each_users_best_match_at_or_above_the_threshold() {
        let m = |u: &str, s: f64| DedupMatch { matched_user_id: u.into(), similarity: s, enrolled_at: "t".into() };
        let got = dedup_matches(vec![m("a", 0.92), m("b", 0.5), m("a", 0.96), m("c", 0.90)], 0.90);
        assert_eq!(got, vec![m("a", 0.96), m("c", 0.90)]);
        assert!(dedup_matches(vec![m("a", 0.89)], 0.90).is_empty());
    }

    #[test]
    fn a_liveness_session_takes_each_challenge_once_within_ten_minutes() {
        let c = |id: &str| Challenge { id: id.into(), kind: "SMILE".into() };
        let challenges = vec![c("ch_001"), c("ch_002")];
        let (before, after) = ("2026-01-01T00:00:00Z", "2026-01-01T00:11:00Z");
        let expires = "2026-01-01T00:10:00Z";
        assert!(accept_challenge(&challenges, &[], "ch_001", expires, before).is_ok());
        assert!(matches!(accept_challenge(&challenges, &[], "ch_009", expires, before), Err(AppError::NotFound(_))));
        let done = vec!["ch_001".to_string()];
        assert!(matches!(accept_challenge(&challenges, &done, "ch_001", expires, before), Err(AppError::Conflict(_))));
        assert!(matches!(accept_challenge(&challenges, &[], "ch_001", expires, after), Err(AppError::Conflict(_))));
        assert_eq!(liveness_status(0, 2, expires, before), LivenessStatus::Created);
        assert_eq!(liveness_status(1, 2, expires, before), LivenessStatus::InProgress);
        assert_eq!(liveness_status(1, 2, expires, after), LivenessStatus::Expired);
        assert_eq!(liveness_status(2, 2, expires, after), LivenessStatus::Completed);
        assert!(is_replay(&[0, 1], 2) && !is_replay(&[0, 9], 2) && !is_replay(&[], 2));
    }

    #[test]
    fn tiers_add_checks_and_restart_refuses_live_work() {
        assert!(!Tier::Basic.policies().contains(&Policy::FaceMatch));
        assert!(Tier::Standard.policies().contains(&Policy::FaceMatch));
        assert!(Tier::Enhanced.policies().contains(&Policy::WatchlistScreening));
        assert!(!restart_plan("completed", VerificationStatus::Rejected).unwrap());
        assert!(restart_plan("pending", VerificationStatus::Pending).unwrap());
        assert!(restart_plan("processing", VerificationStatus::InProgress).is_err());
        assert!(restart_plan("completed", VerificationStatus::Verified).is_err());
        assert!(restart_plan("under_review", VerificationStatus::ManualReview).is_err());
        assert!(check_permissions(&["identity:read".into()]).is_ok());
        assert_eq!(webhook_retry_delay(1), Some(std::time::Duration::from_secs(60)));
        assert_eq!(webhook_retry_delay(3), Some(std::time::Duration::from_secs(1800)));
        assert_eq!((webhook_retry_delay(0), webhook_retry_delay(4)), (None, None));
        assert!(check_webhook_events(&[]).is_err() && check_webhook_events(&["session.approved".into()]).is_err());
        assert!(check_permissions(&["everything".into()]).is_err());
    }
}
