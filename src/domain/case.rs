//! The review-case aggregate (spec §1.8, §3.4): statuses, the commands a reviewer gives, the events a
//! case's stream carries (`CaseEvent`, with their stored type names and JSON payloads) and the pure
//! `decide`. Free text (notes, reasons) arrives sealed (opaque strings); reviewer ids arrive validated.
//! Must not seal, read the database, the clock or make ids.

use super::user::Role;
use super::vocabulary::vocabulary;
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

vocabulary!(
    /// A review case's status (spec §3.4).
    CaseStatus {
        Open = "open",
        InReview = "in_review",
        Escalated = "escalated",
        PendingSecondReview = "pending_second_review",
        Approved = "approved",
        Rejected = "rejected",
    }
);

impl CaseStatus {
    pub fn is_final(self) -> bool {
        matches!(self, CaseStatus::Approved | CaseStatus::Rejected)
    }
}

vocabulary!(
    /// A reviewer's decision on a case.
    CaseDecision {
        Approved = "approved",
        Rejected = "rejected",
    }
);

vocabulary!(
    /// A tab of the review queue.
    CaseTab {
        Unassigned = "unassigned",
        Mine = "mine",
        PendingSecondReview = "pending_second_review",
        Escalated = "escalated",
        All = "all",
    }
);

/// How long a claim lasts without activity before the sweeper releases it (spec §1.8.3).
pub const CLAIM_TIMEOUT_SECONDS: i64 = 30 * 60;
/// Demo cases per environment (spec §1.8.3).
pub const MAX_DEMO_CASES: i64 = 3;

/// The SLA band of a case `hours` after it entered review: green under 4 h, yellow under 24 h, else red.
pub fn sla_band(hours: f64) -> &'static str {
    if hours < 4.0 {
        "green"
    } else if hours < 24.0 {
        "yellow"
    } else {
        "red"
    }
}

/// What `decide` needs to know about a case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseState {
    pub status: CaseStatus,
    pub assigned_to: Option<String>,
    /// The reviewer whose recommendation moved the case to `pending_second_review`.
    pub recommended_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Created {
    pub session_id: Option<String>,
    pub identity_id: Option<String>,
    pub entered_review_at: String,
    #[serde(default)]
    pub demo: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Updated {
    pub metadata: Option<Map<String, Value>>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claimed {
    pub reviewer_id: String,
    /// `claim`, `claim_next` or `assign`.
    pub how: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Released {
    /// `release` or `inactivity`.
    pub reason: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Escalated {
    pub escalated_to: Option<String>,
    /// Sealed under the case's key.
    pub reason: Option<String>,
    /// Sealed under the case's key.
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Decided {
    pub decision: String,
    pub reviewer_id: String,
    /// `true`: a first-review recommendation (dual review); the case waits for a second reviewer.
    pub recommendation: bool,
    /// Sealed under the case's key.
    pub notes: Option<String>,
    /// Sealed under the case's key.
    pub rejection_reason: Option<String>,
    /// Who decided, as an API client named them (VerifyHQ's `reviewedBy`), sealed under the case's key;
    /// absent for a dashboard reviewer, who is `reviewer_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NoteAdded {
    pub note_id: String,
    pub author: Option<String>,
    /// Sealed under the case's key.
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckOverridden {
    pub check_name: String,
    pub reviewer_id: String,
    /// Sealed under the case's key.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PiiCorrected {
    pub reviewer_id: String,
    /// Sealed under the case's key.
    pub reason: Option<String>,
    /// Field names only; the values went to the identity, sealed under its key.
    pub fields: Vec<String>,
    pub identity_id: String,
}

/// Every event of a case's stream. The type names and payloads are the stored contract: never rename.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseEvent {
    Created(Created),
    Updated(Updated),
    Claimed(Claimed),
    Released(Released),
    Escalated(Escalated),
    Decided(Decided),
    NoteAdded(NoteAdded),
    CheckOverridden(CheckOverridden),
    PiiCorrected(PiiCorrected),
}

impl CaseEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            CaseEvent::Created(_) => "CaseCreated",
            CaseEvent::Updated(_) => "CaseUpdated",
            CaseEvent::Claimed(_) => "CaseClaimed",
            CaseEvent::Released(_) => "CaseReleased",
            CaseEvent::Escalated(_) => "CaseEscalated",
            CaseEvent::Decided(_) => "CaseDecided",
            CaseEvent::NoteAdded(_) => "CaseNoteAdded",
            CaseEvent::CheckOverridden(_) => "CaseCheckOverridden",
            CaseEvent::PiiCorrected(_) => "CasePiiCorrected",
        }
    }

    pub fn payload(&self) -> Value {
        let v = match self {
            CaseEvent::Created(e) => serde_json::to_value(e),
            CaseEvent::Updated(e) => serde_json::to_value(e),
            CaseEvent::Claimed(e) => serde_json::to_value(e),
            CaseEvent::Released(e) => serde_json::to_value(e),
            CaseEvent::Escalated(e) => serde_json::to_value(e),
            CaseEvent::Decided(e) => serde_json::to_value(e),
            CaseEvent::NoteAdded(e) => serde_json::to_value(e),
            CaseEvent::CheckOverridden(e) => serde_json::to_value(e),
            CaseEvent::PiiCorrected(e) => serde_json::to_value(e),
        };
        v.unwrap_or(Value::Null)
    }

    /// Decodes a stored event. Unknown types give `None`; a version this build does not know is an error.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        if !event_type.starts_with("Case") {
            return Ok(None);
        }
        let p = super::codec::upcast(event_type, version, payload, 1, super::codec::no_steps)?;
        Ok(Some(match event_type {
            "CaseCreated" => CaseEvent::Created(super::codec::payload(event_type, p)?),
            "CaseUpdated" => CaseEvent::Updated(super::codec::payload(event_type, p)?),
            "CaseClaimed" => CaseEvent::Claimed(super::codec::payload(event_type, p)?),
            "CaseReleased" => CaseEvent::Released(super::codec::payload(event_type, p)?),
            "CaseEscalated" => CaseEvent::Escalated(super::codec::payload(event_type, p)?),
            "CaseDecided" => CaseEvent::Decided(super::codec::payload(event_type, p)?),
            "CaseNoteAdded" => CaseEvent::NoteAdded(super::codec::payload(event_type, p)?),
            "CaseCheckOverridden" => CaseEvent::CheckOverridden(super::codec::payload(event_type, p)?),
            "CasePiiCorrected" => CaseEvent::PiiCorrected(super::codec::payload(event_type, p)?),
            _ => return Ok(None),
        }))
    }
}

/// A reviewer's command on a case. Reviewer ids are validated `orguser_*` ids; text is sealed.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseCommand {
    Create(Created),
    Update(Updated),
    Claim {
        reviewer_id: String,
        how: &'static str,
    },
    Release {
        inactivity: bool,
    },
    Assign {
        reviewer_id: String,
    },
    Escalate(Escalated),
    Decide {
        decision: CaseDecision,
        reviewer_id: String,
        notes: Option<String>,
        rejection_reason: Option<String>,
        dual_review: bool,
        /// Sealed; see `Decided::reviewed_by`.
        reviewed_by: Option<String>,
    },
    AddNote(NoteAdded),
    OverrideCheck(CheckOverridden),
    CorrectPii(PiiCorrected),
}

fn refuse(status: CaseStatus, what: &str) -> AppError {
    AppError::Conflict(format!("Cannot {what} a case whose status is '{}'.", status.as_str()))
}

/// Whether a reviewer of `role` may claim, decide, correct or override a case in `status`: an escalated
/// case is for a senior reviewer or an admin (409 for a reviewer, like the other who-may-act rules).
pub fn ensure_may_handle(status: CaseStatus, role: Role) -> Result<(), AppError> {
    if status == CaseStatus::Escalated && !role.at_least(Role::SeniorReviewer) {
        return Err(AppError::Conflict(
            "This case was escalated: a senior reviewer or an admin must handle it.".into(),
        ));
    }
    Ok(())
}

/// The events that follow `command` on a case in `state` (None: no case yet). Pure.
pub fn decide(state: Option<&CaseState>, command: CaseCommand) -> Result<Vec<CaseEvent>, AppError> {
    use CaseCommand as C;
    use CaseStatus as S;
    let Some(state) = state else {
        return match command {
            C::Create(c) => Ok(vec![CaseEvent::Created(c)]),
            _ => Err(AppError::not_found("Case")),
        };
    };
    let status = state.status;
    match command {
        C::Create(_) => Err(AppError::Conflict("This case already exists.".into())),
        C::Update(u) => Ok(vec![CaseEvent::Updated(u)]),
        C::Claim { reviewer_id, how } => {
            if status.is_final() {
                return Err(refuse(status, "claim"));
            }
            match &state.assigned_to {
                Some(r) if *r == reviewer_id => return Ok(Vec::new()),
                Some(_) => return Err(AppError::Conflict("This case is claimed by another reviewer.".into())),
                None => {}
            }
            if status == S::PendingSecondReview && state.recommended_by.as_deref() == Some(reviewer_id.as_str()) {
                return Err(AppError::Conflict(
                    "The second review must be made by a different reviewer than the first.".into(),
                ));
            }
            let to = if status == S::Open { S::InReview } else { status };
            Ok(vec![CaseEvent::Claimed(Claimed { reviewer_id, how: how.into(), status: to.as_str().into() })])
        }
        C::Release { inactivity } => {
            if status.is_final() {
                return Err(refuse(status, "release"));
            }
            if state.assigned_to.is_none() {
                return Err(AppError::Conflict("This case is not claimed, so there is no claim to release.".into()));
            }
            let to = if status == S::InReview { S::Open } else { status };
            let reason = if inactivity { "inactivity" } else { "release" };
            Ok(vec![CaseEvent::Released(Released { reason: reason.into(), status: to.as_str().into() })])
        }
        C::Assign { reviewer_id } => {
            if status.is_final() {
                return Err(refuse(status, "assign"));
            }
            if state.assigned_to.as_deref() == Some(reviewer_id.as_str()) {
                return Ok(Vec::new());
            }
            if status == S::PendingSecondReview && state.recommended_by.as_deref() == Some(reviewer_id.as_str()) {
                return Err(AppError::Conflict(
                    "The second review must be made by a different reviewer than the first.".into(),
                ));
            }
            let to = if status == S::Open { S::InReview } else { status };
            Ok(vec![CaseEvent::Claimed(Claimed { reviewer_id, how: "assign".into(), status: to.as_str().into() })])
        }
        C::Escalate(e) => match status {
            S::Open | S::InReview => Ok(vec![CaseEvent::Escalated(e)]),
            _ => Err(refuse(status, "escalate")),
        },
        C::Decide { decision, reviewer_id, notes, rejection_reason, dual_review, reviewed_by } => {
            let recommendation = match status {
                S::Open | S::InReview | S::Escalated => dual_review,
                S::PendingSecondReview => {
                    if state.recommended_by.as_deref() == Some(reviewer_id.as_str()) {
                        return Err(AppError::Conflict(
                            "The second review must be made by a different reviewer than the first.".into(),
                        ));
                    }
                    false
                }
                S::Approved | S::Rejected => return Err(refuse(status, "decide")),
            };
            if let Some(other) = &state.assigned_to {
                if *other != reviewer_id && status != S::PendingSecondReview {
                    return Err(AppError::Conflict("This case is claimed by another reviewer.".into()));
                }
            }
            Ok(vec![CaseEvent::Decided(Decided {
                decision: decision.as_str().into(),
                reviewer_id,
                recommendation,
                notes,
                rejection_reason,
                reviewed_by,
            })])
        }
        C::AddNote(n) => Ok(vec![CaseEvent::NoteAdded(n)]),
        C::OverrideCheck(o) => {
            if status.is_final() {
                return Err(refuse(status, "override a check of"));
            }
            Ok(vec![CaseEvent::CheckOverridden(o)])
        }
        C::CorrectPii(p) => {
            if status.is_final() {
                return Err(refuse(status, "correct the data of"));
            }
            Ok(vec![CaseEvent::PiiCorrected(p)])
        }
    }
}

/// The status after one event (what the projection stores and `decide` reads back).
pub fn status_after(current: CaseStatus, event: &CaseEvent) -> CaseStatus {
    match event {
        CaseEvent::Created(_) => CaseStatus::Open,
        CaseEvent::Claimed(c) => CaseStatus::parse(&c.status).unwrap_or(current),
        CaseEvent::Released(r) => CaseStatus::parse(&r.status).unwrap_or(current),
        CaseEvent::Escalated(_) => CaseStatus::Escalated,
        CaseEvent::Decided(d) if d.recommendation => CaseStatus::PendingSecondReview,
        CaseEvent::Decided(d) => CaseDecision::parse(&d.decision)
            .map(|d| if d == CaseDecision::Approved { CaseStatus::Approved } else { CaseStatus::Rejected })
            .unwrap_or(current),
        _ => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "orguser_a";
    const B: &str = "orguser_b";

    fn st(status: CaseStatus, assigned: Option<&str>, rec: Option<&str>) -> CaseState {
        CaseState { status, assigned_to: assigned.map(String::from), recommended_by: rec.map(String::from) }
    }

    fn decide_cmd(reviewer: &str, dual: bool) -> CaseCommand {
        CaseCommand::Decide {
            decision: CaseDecision::Approved,
            reviewer_id: reviewer.into(),
            notes: None,
            rejection_reason: None,
            dual_review: dual,
            reviewed_by: None,
        }
    }

    fn after(s: &CaseState, evs: &[CaseEvent]) -> CaseStatus {
        evs.iter().fold(s.status, status_after)
    }

    #[test]
    fn claim_moves_an_open_case_into_review_and_release_back() {
        let s = st(CaseStatus::Open, None, None);
        let evs = decide(Some(&s), CaseCommand::Claim { reviewer_id: A.into(), how: "claim" }).unwrap();
        assert_eq!(after(&s, &evs), CaseStatus::InReview);
        let s = st(CaseStatus::InReview, Some(A), None);
        let evs = decide(Some(&s), CaseCommand::Release { inactivity: false }).unwrap();
        assert_eq!(after(&s, &evs), CaseStatus::Open);
    }

    #[test]
    fn a_claimed_case_refuses_another_reviewer() {
        let s = st(CaseStatus::InReview, Some(A), None);
        let e = decide(Some(&s), CaseCommand::Claim { reviewer_id: B.into(), how: "claim" }).unwrap_err();
        assert!(matches!(e, AppError::Conflict(_)));
        assert!(matches!(decide(Some(&s), decide_cmd(B, false)).unwrap_err(), AppError::Conflict(_)));
    }

    #[test]
    fn releasing_an_unclaimed_case_is_refused() {
        let s = st(CaseStatus::Open, None, None);
        assert!(decide(Some(&s), CaseCommand::Release { inactivity: true }).is_err());
    }

    #[test]
    fn a_decision_is_final_without_dual_review() {
        let s = st(CaseStatus::InReview, Some(A), None);
        let evs = decide(Some(&s), decide_cmd(A, false)).unwrap();
        assert_eq!(after(&s, &evs), CaseStatus::Approved);
        let done = st(CaseStatus::Approved, Some(A), None);
        assert!(matches!(decide(Some(&done), decide_cmd(A, false)).unwrap_err(), AppError::Conflict(_)));
    }

    #[test]
    fn dual_review_needs_a_second_different_reviewer() {
        let s = st(CaseStatus::InReview, Some(A), None);
        let evs = decide(Some(&s), decide_cmd(A, true)).unwrap();
        assert_eq!(after(&s, &evs), CaseStatus::PendingSecondReview);
        let pending = st(CaseStatus::PendingSecondReview, None, Some(A));
        assert!(matches!(decide(Some(&pending), decide_cmd(A, true)).unwrap_err(), AppError::Conflict(_)));
        let e = decide(Some(&pending), CaseCommand::Claim { reviewer_id: A.into(), how: "claim" }).unwrap_err();
        assert!(matches!(e, AppError::Conflict(_)));
        let evs = decide(Some(&pending), decide_cmd(B, true)).unwrap();
        assert_eq!(after(&pending, &evs), CaseStatus::Approved);
    }

    #[test]
    fn escalation_from_active_only() {
        let s = st(CaseStatus::InReview, Some(A), None);
        let evs = decide(Some(&s), CaseCommand::Escalate(Escalated::default())).unwrap();
        assert_eq!(after(&s, &evs), CaseStatus::Escalated);
        let done = st(CaseStatus::Rejected, None, None);
        assert!(decide(Some(&done), CaseCommand::Escalate(Escalated::default())).is_err());
    }

    #[test]
    fn sla_bands() {
        assert_eq!(sla_band(0.0), "green");
        assert_eq!(sla_band(3.99), "green");
        assert_eq!(sla_band(4.0), "yellow");
        assert_eq!(sla_band(23.9), "yellow");
        assert_eq!(sla_band(24.0), "red");
    }

    #[test]
    fn payloads_round_trip() {
        let e = CaseEvent::Decided(Decided {
            decision: "rejected".into(),
            reviewer_id: A.into(),
            recommendation: true,
            notes: None,
            rejection_reason: Some("sealed".into()),
            reviewed_by: None,
        });
        assert!(e.payload().get("reviewed_by").is_none(), "a dashboard decision keeps its stored shape");
        assert_eq!(CaseEvent::decode(e.event_type(), 1, &e.payload()).unwrap(), Some(e));
        let by_client = CaseEvent::Decided(Decided {
            decision: "approved".into(),
            reviewer_id: "key_a".into(),
            recommendation: false,
            notes: Some("sealed".into()),
            rejection_reason: None,
            reviewed_by: Some("sealed".into()),
        });
        assert_eq!(CaseEvent::decode(by_client.event_type(), 1, &by_client.payload()).unwrap(), Some(by_client));
    }
}
