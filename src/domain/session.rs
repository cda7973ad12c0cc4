//! The verification-session aggregate: statuses and the transitions of spec §3.1, the result statuses of
//! §3.2, the events a session's stream carries (`SessionEvent`, with their stored type names and JSON
//! payloads) and the pure recording of a processing verdict (`record_verdict`). PII arrives sealed (opaque
//! strings); this module only decides which transitions are allowed and which events follow. Must not
//! seal, read the database, the clock or make ids.

use super::vocabulary::vocabulary;
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const STATUSES: &[&str] = &[
    "pending",
    "capturing",
    "processing",
    "awaiting_external",
    "under_review",
    "sandbox_pending",
    "completed",
    "expired",
    "failed",
];

pub const UPLOAD_TYPES: &[&str] = &["id_front", "id_back", "selfie", "proof_of_address"];
pub const RESULT_STATUSES: &[&str] = &["approved", "declined", "rejected", "needs_review"];

/// Whether a document type has a back side that must be uploaded.
pub fn needs_back(document_type: &str) -> bool {
    matches!(document_type, "drivers_license" | "national_id" | "residence_permit")
}

pub fn is_terminal(status: &str) -> bool {
    matches!(status, "completed" | "expired" | "failed")
}

/// What a session may do next; every refusal names the current status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    StartCapture,
    Capture,
    Submit { sandbox: bool },
    Complete,
    RouteToReview,
    Expire,
    Resume,
    Reprocess,
    GenerateLink,
    ResendInvite,
    Update,
    AwaitExternal,
    ExternalDecision,
    Fail,
}

/// The state machine of spec §3.1: returns the status after `action`, or a 409 refusal naming the current
/// status (the request is fine; the session's state is what refuses it).
pub fn transition(status: &str, redacted: bool, action: Action) -> Result<&'static str, AppError> {
    use Action as A;
    let refuse = |what: &str| AppError::Conflict(format!("Cannot {what} a session whose status is '{status}'."));
    if redacted && !matches!(action, A::Update) {
        return Err(AppError::Conflict(format!(
            "The session's data has been redacted; it cannot be {}.",
            verb(action)
        )));
    }
    let next = match (action, status) {
        (A::StartCapture, "pending") => "capturing",
        (A::StartCapture, "capturing") => "capturing",
        (A::Capture, "pending" | "capturing") => "capturing",
        (A::Submit { sandbox: false }, "pending" | "capturing") => "processing",
        (A::Submit { sandbox: true }, "pending" | "capturing") => "sandbox_pending",
        (
            A::Complete,
            "processing" | "sandbox_pending" | "under_review" | "awaiting_external" | "pending" | "capturing",
        ) => "completed",
        (A::RouteToReview, "processing" | "sandbox_pending" | "awaiting_external" | "pending" | "capturing") => {
            "under_review"
        }
        (A::AwaitExternal, "processing") => "awaiting_external",
        (A::ExternalDecision, "awaiting_external") => "processing",
        (A::ExternalDecision, _) => {
            return Err(AppError::Conflict(format!("The session is '{status}', not awaiting an external decision.")))
        }
        (A::Fail, "processing") => "failed",
        (A::Expire, "pending" | "capturing" | "sandbox_pending") => "expired",
        (A::Resume, "pending" | "capturing" | "expired") => "pending",
        (A::Reprocess, "completed" | "failed") => "processing",
        (A::Reprocess, _) => {
            return Err(AppError::Conflict(format!(
                "Only completed or failed sessions can be reprocessed; this one is '{status}'."
            )))
        }
        (A::GenerateLink, s) if !matches!(s, "completed" | "failed") => {
            return Ok(match s {
                "pending" => "pending",
                "capturing" => "capturing",
                "expired" => "pending",
                _ => return Err(refuse("generate a link for")),
            })
        }
        (A::ResendInvite, "pending") => "pending",
        (A::ResendInvite, "capturing") => "capturing",
        (A::Update, s) => return Ok(static_status(s)),
        _ => return Err(refuse(verb(action))),
    };
    Ok(next)
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::StartCapture | Action::Capture => "capture for",
        Action::Submit { .. } => "submit",
        Action::Complete => "complete",
        Action::RouteToReview => "route to review",
        Action::Expire => "expire",
        Action::Resume => "resume",
        Action::Reprocess => "reprocess",
        Action::GenerateLink => "generate a link for",
        Action::ResendInvite => "resend the invite of",
        Action::Update => "update",
        Action::AwaitExternal => "pause",
        Action::ExternalDecision => "decide on",
        Action::Fail => "fail",
    }
}

fn static_status(s: &str) -> &'static str {
    STATUSES.iter().copied().find(|x| *x == s).unwrap_or("pending")
}

/// Decisions of a finished session, without PII.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Outcome {
    pub status: String,
    pub face_match_passed: Option<bool>,
    pub face_match_score: Option<f64>,
    pub age_check_passed: Option<bool>,
    pub extracted_age: Option<i64>,
    pub rejection_reason: Option<String>,
    pub rejection_reason_code: Option<String>,
    pub check_results: Map<String, Value>,
    pub risk: Value,
    pub country_used: Option<String>,
    /// The extracted data, sealed under the session's data key.
    pub extracted: Option<String>,
    pub identity_id: Option<String>,
    pub simulated: bool,
    /// The workflow nodes visited, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workflow_path: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Created {
    pub external_ref: Option<String>,
    pub metadata: Map<String, Value>,
    pub country: Option<String>,
    pub checks: Option<Vec<String>>,
    pub workflow_id: Option<String>,
    pub workflow_version: Option<i64>,
    pub redirect_url: Option<String>,
    pub send_email: bool,
    pub token_hash: String,
    /// The token itself, sealed under the session's key, so the session can show its capture URL.
    #[serde(default)]
    pub token_sealed: Option<String>,
    pub token_expires_at: String,
    /// Prefilled PII, sealed as one JSON object under the session's data key.
    pub prefill: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenIssued {
    pub token_hash: String,
    #[serde(default)]
    pub token_sealed: Option<String>,
    pub expires_at: String,
    pub link_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentUploaded {
    pub doc_type: String,
    pub mime_type: String,
    pub size_bytes: i64,
    pub blob_id: String,
    pub phash: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusChanged {
    pub from: String,
    pub to: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Updated {
    /// Absent: unchanged; null: cleared.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::double_option")]
    pub external_ref: Option<Option<String>>,
    /// The whole metadata object after the patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InviteSent {
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TagsChanged {
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LinkConsumed {
    pub link_id: String,
    /// Digest of the capture-cookie secret handed to the browser that consumed the link.
    pub browser_hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConsentRecorded {
    pub version: String,
    /// The consenting IP, sealed under the session's key.
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentTypeChosen {
    pub document_type: String,
}

/// The field of a document reading that says the photo was searched and no MRZ could be read (its
/// sealed value is the reason, which names no document content).
pub const MRZ_UNREADABLE: &str = "mrz_unreadable";

/// What a document's barcode or MRZ said: field names in clear, values sealed as one JSON object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentRead {
    pub source: String,
    pub fields: Vec<String>,
    pub data: String,
}

/// Person data the subject confirmed: field names in clear, the merged values sealed as one JSON object.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserDataProvided {
    pub fields: Vec<String>,
    pub data: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FraudSignalsRecorded {
    pub signals: Value,
    pub ip_digest: Option<String>,
    pub device_digest: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkflowPaused {
    pub node: String,
    /// Empty when the session runs no stored workflow.
    pub workflow_id: String,
    pub workflow_version: i64,
    pub path: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decided {
    pub to: String,
    pub outcome: Outcome,
    pub workflow_id: Option<String>,
    pub workflow_version: Option<i64>,
    /// A review routes to an open case (the cases API reads these).
    pub case_id: Option<String>,
}

/// A redaction (by request or by the retention window): how many documents were destroyed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Redacted {
    pub documents_removed: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SensitiveExpired {
    pub reason: String,
}

/// The session's identity changed (the identity it pointed to was merged into another).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdentityChanged {
    pub identity_id: String,
    pub from: String,
    pub reason: String,
}

/// Every event of a session's stream. The type names and payloads are the stored contract: never rename.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    Created(Box<Created>),
    Updated(Updated),
    TokenIssued(TokenIssued),
    InviteSent(InviteSent),
    TagsChanged(TagsChanged),
    LinkConsumed(LinkConsumed),
    StatusChanged(StatusChanged),
    ConsentRecorded(ConsentRecorded),
    DocumentTypeChosen(DocumentTypeChosen),
    DocumentUploaded(DocumentUploaded),
    DocumentRead(DocumentRead),
    UserDataProvided(UserDataProvided),
    FraudSignalsRecorded(FraudSignalsRecorded),
    WorkflowPaused(WorkflowPaused),
    Decided(Box<Decided>),
    Redacted(Redacted),
    RetentionExpired(Redacted),
    SensitiveExpired(SensitiveExpired),
    IdentityChanged(IdentityChanged),
    /// The session's data left through a DSAR export (audited as `api.session.export`).
    Exported,
}

impl SessionEvent {
    pub fn status_changed(from: &str, to: &str, reason: &str) -> Self {
        SessionEvent::StatusChanged(StatusChanged { from: from.into(), to: to.into(), reason: reason.into() })
    }

    pub fn event_type(&self) -> &'static str {
        use SessionEvent as E;
        match self {
            E::Created(_) => "SessionCreated",
            E::Updated(_) => "SessionUpdated",
            E::TokenIssued(_) => "SessionTokenIssued",
            E::InviteSent(_) => "SessionInviteSent",
            E::TagsChanged(_) => "SessionTagsChanged",
            E::LinkConsumed(_) => "SessionLinkConsumed",
            E::StatusChanged(_) => "SessionStatusChanged",
            E::ConsentRecorded(_) => "SessionConsentRecorded",
            E::DocumentTypeChosen(_) => "SessionDocumentTypeChosen",
            E::DocumentUploaded(_) => "SessionDocumentUploaded",
            E::DocumentRead(_) => "SessionDocumentRead",
            E::UserDataProvided(_) => "SessionUserDataProvided",
            E::FraudSignalsRecorded(_) => "SessionFraudSignalsRecorded",
            E::WorkflowPaused(_) => "SessionWorkflowPaused",
            E::Decided(_) => "SessionDecided",
            E::Redacted(_) => "SessionRedacted",
            E::RetentionExpired(_) => "SessionRetentionExpired",
            E::SensitiveExpired(_) => "SessionSensitiveExpired",
            E::IdentityChanged(_) => "SessionIdentityChanged",
            E::Exported => "SessionExported",
        }
    }

    pub fn payload(&self) -> Value {
        use SessionEvent as E;
        let value = match self {
            E::Created(e) => serde_json::to_value(e),
            E::Updated(e) => serde_json::to_value(e),
            E::TokenIssued(e) => serde_json::to_value(e),
            E::InviteSent(e) => serde_json::to_value(e),
            E::TagsChanged(e) => serde_json::to_value(e),
            E::LinkConsumed(e) => serde_json::to_value(e),
            E::StatusChanged(e) => serde_json::to_value(e),
            E::ConsentRecorded(e) => serde_json::to_value(e),
            E::DocumentTypeChosen(e) => serde_json::to_value(e),
            E::DocumentUploaded(e) => serde_json::to_value(e),
            E::DocumentRead(e) => serde_json::to_value(e),
            E::UserDataProvided(e) => serde_json::to_value(e),
            E::FraudSignalsRecorded(e) => serde_json::to_value(e),
            E::WorkflowPaused(e) => serde_json::to_value(e),
            E::Decided(e) => serde_json::to_value(e),
            E::Redacted(e) | E::RetentionExpired(e) => serde_json::to_value(e),
            E::SensitiveExpired(e) => serde_json::to_value(e),
            E::IdentityChanged(e) => serde_json::to_value(e),
            E::Exported => Ok(Value::Object(serde_json::Map::new())),
        };
        value.unwrap_or(Value::Null)
    }

    /// Decodes a stored event. Unknown types give `None`; a version this build does not know is an error.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use SessionEvent as E;
        if !event_type.starts_with("Session") {
            return Ok(None);
        }
        let p = super::codec::upcast(event_type, version, payload, 1, super::codec::no_steps)?;
        Ok(Some(match event_type {
            "SessionCreated" => E::Created(Box::new(super::codec::payload(event_type, p)?)),
            "SessionUpdated" => E::Updated(super::codec::payload(event_type, p)?),
            "SessionTokenIssued" => E::TokenIssued(super::codec::payload(event_type, p)?),
            "SessionInviteSent" => E::InviteSent(super::codec::payload(event_type, p)?),
            "SessionTagsChanged" => E::TagsChanged(super::codec::payload(event_type, p)?),
            "SessionLinkConsumed" => E::LinkConsumed(super::codec::payload(event_type, p)?),
            "SessionStatusChanged" => E::StatusChanged(super::codec::payload(event_type, p)?),
            "SessionConsentRecorded" => E::ConsentRecorded(super::codec::payload(event_type, p)?),
            "SessionDocumentTypeChosen" => E::DocumentTypeChosen(super::codec::payload(event_type, p)?),
            "SessionDocumentUploaded" => E::DocumentUploaded(super::codec::payload(event_type, p)?),
            "SessionDocumentRead" => E::DocumentRead(super::codec::payload(event_type, p)?),
            "SessionUserDataProvided" => E::UserDataProvided(super::codec::payload(event_type, p)?),
            "SessionFraudSignalsRecorded" => E::FraudSignalsRecorded(super::codec::payload(event_type, p)?),
            "SessionWorkflowPaused" => E::WorkflowPaused(super::codec::payload(event_type, p)?),
            "SessionDecided" => E::Decided(Box::new(super::codec::payload(event_type, p)?)),
            "SessionRedacted" => E::Redacted(super::codec::payload(event_type, p)?),
            "SessionRetentionExpired" => E::RetentionExpired(super::codec::payload(event_type, p)?),
            "SessionSensitiveExpired" => E::SensitiveExpired(super::codec::payload(event_type, p)?),
            "SessionIdentityChanged" => E::IdentityChanged(super::codec::payload(event_type, p)?),
            "SessionExported" => E::Exported,
            _ => return Ok(None),
        }))
    }
}

/// Where processing ended: paused at an external gate, or decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pause(WorkflowPaused),
    Decide {
        outcome: Box<Outcome>,
        workflow: Option<(String, i64)>,
        /// The id a review case gets, made by the caller (used only when the session goes to review).
        case_id: String,
    },
}

/// The status a decided session moves to: review for `needs_review`, else completed. Refuses (409) a
/// session whose status or redaction does not allow it.
pub fn decided_status(status: &str, redacted: bool, result: &str) -> Result<&'static str, AppError> {
    match result {
        "needs_review" => transition(status, redacted, Action::RouteToReview),
        _ => transition(status, redacted, Action::Complete),
    }
}

/// The events that record a processing verdict on a session in `status`. Pure.
pub fn record_verdict(status: &str, redacted: bool, verdict: Verdict) -> Result<Vec<SessionEvent>, AppError> {
    match verdict {
        Verdict::Pause(paused) => {
            transition(status, redacted, Action::AwaitExternal)?;
            Ok(vec![SessionEvent::WorkflowPaused(paused)])
        }
        Verdict::Decide { outcome, workflow, case_id } => {
            let to = decided_status(status, redacted, &outcome.status)?;
            let (workflow_id, workflow_version) = workflow.map(|(i, v)| (Some(i), Some(v))).unwrap_or((None, None));
            Ok(vec![SessionEvent::Decided(Box::new(Decided {
                to: to.to_string(),
                outcome: *outcome,
                workflow_id,
                workflow_version,
                case_id: (to == "under_review").then_some(case_id),
            }))])
        }
    }
}

vocabulary!(
    /// A session's status (spec §3.1).
    SessionStatus {
        Pending = "pending",
        Capturing = "capturing",
        Processing = "processing",
        AwaitingExternal = "awaiting_external",
        UnderReview = "under_review",
        SandboxPending = "sandbox_pending",
        Completed = "completed",
        Expired = "expired",
        Failed = "failed",
    }
);

vocabulary!(
    /// A session result's status (spec §3.2); `rejected` is a reviewer's rejection.
    ResultStatus {
        Approved = "approved",
        Declined = "declined",
        Rejected = "rejected",
        NeedsReview = "needs_review",
    }
);

vocabulary!(
    /// What is still held of a session's data (spec §3.1).
    RetentionStatus {
        Active = "active",
        SensitiveRedacted = "sensitive_redacted",
        Redacted = "redacted",
    }
);

vocabulary!(
    /// The kind of identity document the person presents.
    DocumentType {
        Passport = "passport",
        DriversLicense = "drivers_license",
        NationalId = "national_id",
        ResidencePermit = "residence_permit",
    }
);

vocabulary!(
    /// One uploaded image of a session.
    UploadType {
        IdFront = "id_front",
        IdBack = "id_back",
        Selfie = "selfie",
        ProofOfAddress = "proof_of_address",
    }
);

vocabulary!(
    /// A document side the capture page uploads to `/documents` (the selfie has its own route).
    CaptureDocumentType {
        IdFront = "id_front",
        IdBack = "id_back",
        ProofOfAddress = "proof_of_address",
    }
);

vocabulary!(
    /// A sandbox simulation (spec §2.8).
    SimulateAction {
        Approve = "approve",
        Decline = "decline",
        Reject = "reject",
        RequireReview = "require-review",
        NeedsReview = "needs_review",
        Expire = "expire",
    }
);

vocabulary!(
    /// The outcome the sandbox capture page picks.
    SandboxOutcome {
        Approve = "approve",
        Reject = "reject",
        NeedsReview = "needs_review",
    }
);

vocabulary!(
    /// The decision at an external gate (spec §1.1.17).
    ExternalDecision {
        Continue = "continue",
        Fail = "fail",
        Reject = "reject",
    }
);

vocabulary!(
    /// How far a session's workflow run has come.
    WorkflowRunStatus {
        NotStarted = "not_started",
        Running = "running",
        AwaitingExternal = "awaiting_external",
        Failed = "failed",
        Completed = "completed",
    }
);

vocabulary!(
    /// What a redaction did to one session.
    RedactionStatus {
        Deleted = "deleted",
        AlreadyRedacted = "already_redacted",
    }
);

vocabulary!(
    /// A check a session's `checks` override may list: any workflow policy but the decision itself.
    SessionCheck {
        DocumentOcr = "document_ocr",
        DocumentExpiration = "document_expiration",
        AgeVerification = "age_verification",
        FaceMatch = "face_match",
        DuplicateDetection = "duplicate_detection",
        RiskAssessment = "risk_assessment",
        WatchlistScreening = "watchlist_screening",
        IdentityCrossref = "identity_crossref",
        CheckAgainstList = "check_against_list",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decide(status: &str, result: &str) -> Result<Vec<SessionEvent>, AppError> {
        let outcome = Outcome { status: result.into(), ..Outcome::default() };
        let verdict = Verdict::Decide {
            outcome: Box::new(outcome),
            workflow: Some(("wfl_1".into(), 3)),
            case_id: "case_1".into(),
        };
        record_verdict(status, false, verdict)
    }

    #[test]
    fn an_approval_completes_the_session_without_a_case() {
        let events = decide("processing", "approved").unwrap();
        let [SessionEvent::Decided(d)] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!((d.to.as_str(), d.case_id.as_deref()), ("completed", None));
        assert_eq!((d.workflow_id.as_deref(), d.workflow_version), (Some("wfl_1"), Some(3)));
    }

    #[test]
    fn a_review_opens_a_case() {
        let events = decide("processing", "needs_review").unwrap();
        let [SessionEvent::Decided(d)] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!((d.to.as_str(), d.case_id.as_deref()), ("under_review", Some("case_1")));
    }

    #[test]
    fn a_finished_or_redacted_session_refuses_a_verdict() {
        assert!(matches!(decide("completed", "approved"), Err(AppError::Conflict(_))));
        let outcome = Box::new(Outcome { status: "approved".into(), ..Outcome::default() });
        let v = Verdict::Decide { outcome, workflow: None, case_id: "c".into() };
        assert!(matches!(record_verdict("processing", true, v), Err(AppError::Conflict(_))));
    }

    #[test]
    fn a_pause_needs_a_session_in_processing() {
        let paused =
            WorkflowPaused { node: "gate".into(), workflow_id: String::new(), workflow_version: 0, path: vec![] };
        let events = record_verdict("processing", false, Verdict::Pause(paused.clone())).unwrap();
        assert_eq!(events, vec![SessionEvent::WorkflowPaused(paused.clone())]);
        assert!(record_verdict("pending", false, Verdict::Pause(paused)).is_err());
    }

    #[test]
    fn payloads_keep_their_stored_shape_and_decode_back() {
        let cases = vec![
            (SessionEvent::InviteSent(InviteSent { count: 2 }), json!({"count": 2})),
            (
                SessionEvent::ConsentRecorded(ConsentRecorded { version: "v1".into(), ip: None }),
                json!({"version": "v1", "ip": null}),
            ),
            (
                SessionEvent::Updated(Updated {
                    external_ref: Some(None),
                    metadata: None,
                    changed: vec!["external_ref".into()],
                }),
                json!({"external_ref": null, "changed": ["external_ref"]}),
            ),
            (
                SessionEvent::Updated(Updated {
                    external_ref: None,
                    metadata: Some(Map::new()),
                    changed: vec!["metadata".into()],
                }),
                json!({"metadata": {}, "changed": ["metadata"]}),
            ),
            (
                SessionEvent::FraudSignalsRecorded(FraudSignalsRecorded {
                    signals: json!({"a": 1}),
                    ip_digest: Some("ab".into()),
                    device_digest: None,
                }),
                json!({"signals": {"a": 1}, "ip_digest": "ab", "device_digest": null}),
            ),
            (SessionEvent::RetentionExpired(Redacted { documents_removed: 3 }), json!({"documents_removed": 3})),
            (
                SessionEvent::status_changed("pending", "expired", "token_expired"),
                json!({"from": "pending", "to": "expired", "reason": "token_expired"}),
            ),
        ];
        for (event, payload) in cases {
            assert_eq!(event.payload(), payload, "{}", event.event_type());
            let back = SessionEvent::decode(event.event_type(), 1, &payload).unwrap();
            assert_eq!(back, Some(event));
        }
        let decided = decide("processing", "approved").unwrap().remove(0);
        let p = decided.payload();
        assert_eq!(p["to"], "completed");
        assert!(p["case_id"].is_null() && p.as_object().unwrap().contains_key("case_id"));
        assert_eq!(SessionEvent::decode("SessionDecided", 1, &p).unwrap(), Some(decided));
    }

    #[test]
    fn unknown_types_are_none_and_unknown_versions_are_errors() {
        assert_eq!(SessionEvent::decode("SessionTeleported", 1, &json!({})).unwrap(), None);
        assert!(SessionEvent::decode("SessionInviteSent", 2, &json!({"count": 1})).is_err());
    }
}
