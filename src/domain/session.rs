//! The verification-session aggregate: statuses and the transitions of spec §3.1, the result statuses of
//! §3.2, and the events a session's stream carries. PII arrives sealed (opaque strings); this module only
//! decides which transitions are allowed. Must not seal, read the database or the clock.

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
