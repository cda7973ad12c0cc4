//! Findings (spec §1.4.1, `fnd_*`): one record per thing that needs a human look (a screening hit, a
//! custom-list match, a possible duplicate, a fraud signal), derived by the `findings` projection from the
//! events that already record them. Owns the finding's kinds and statuses, its id (derived from what it is
//! about, so a replay gives every finding the same id), and the decisions on acknowledging and dismissing;
//! acknowledgement notes and dismissal reasons arrive sealed. Must not seal, read the database or the
//! clock.

use super::Ctx;
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A hit of a screening check (API, session or monitoring) against a watchlist entry.
    ScreeningHit,
    /// A session matched an item of a custom list in `flag` or `block` mode.
    ListMatch,
    /// A session's person looks like another identity (same document, face or data).
    Duplicate,
    /// A fraud or risk signal of a session's risk assessment.
    FraudSignal,
}

impl FindingKind {
    pub const ALL: [FindingKind; 4] =
        [FindingKind::ScreeningHit, FindingKind::ListMatch, FindingKind::Duplicate, FindingKind::FraudSignal];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ScreeningHit => "screening_hit",
            FindingKind::ListMatch => "list_match",
            FindingKind::Duplicate => "duplicate",
            FindingKind::FraudSignal => "fraud_signal",
        }
    }

    pub fn from_stored(text: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Where a finding stands: `open` -> `acknowledged` -> `dismissed`; `resolved` when what it was about went
/// away without a human (a re-run replaced the hit, a re-decided session no longer shows the signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingStatus {
    Open,
    Acknowledged,
    Dismissed,
    Resolved,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 4] =
        [FindingStatus::Open, FindingStatus::Acknowledged, FindingStatus::Dismissed, FindingStatus::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::Acknowledged => "acknowledged",
            FindingStatus::Dismissed => "dismissed",
            FindingStatus::Resolved => "resolved",
        }
    }

    pub fn from_stored(text: &str) -> Option<FindingStatus> {
        FindingStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// The id of the finding about `source` (`hit:<hit id>`, `lmatch:<match id>`, `dup:<session>:<identity>:<type>`,
/// `signal:<session>:<name>`): `fnd_` and a ULID made from a hash of it, so the projection gives
/// the same finding the same id live and in a replay, and a re-decided session updates its findings in
/// place instead of adding new ones.
pub fn finding_id(source: &str) -> String {
    let hash = blake3::hash(format!("idv finding v1\n{source}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_bytes()[..16]);
    format!("{}_{}", super::ids::FINDING, ulid::Ulid::from(u128::from_be_bytes(bytes)))
}

pub fn hit_source(hit_id: &str) -> String {
    format!("hit:{hit_id}")
}

pub fn list_match_source(match_id: &str) -> String {
    format!("lmatch:{match_id}")
}

pub fn duplicate_source(session_id: &str, identity_id: &str, relationship_type: &str) -> String {
    format!("dup:{session_id}:{identity_id}:{relationship_type}")
}

pub fn signal_source(session_id: &str, name: &str) -> String {
    format!("signal:{session_id}:{name}")
}

/// A human looked at the finding. The note, if any, is sealed (bound to the finding id) under the data key of
/// `key_owner`: whose personal data the finding is about (the check's key owner for a hit, else the
/// session), so erasing that person's data erases the note too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledged {
    pub note: Option<String>,
    pub key_owner: Option<String>,
}

/// A human dismissed the finding, the reason sealed as an acknowledgement's note is. Hits and list matches
/// are dismissed through their own events (`CheckHitsDismissed`, `ListMatchMarkedFalsePositive`); this one
/// carries the reason for a list match and the whole dismissal for the other kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dismissed {
    pub reason: String,
    pub key_owner: String,
}

/// The newest version of every finding event.
pub const FINDING_EVENT_VERSION: i64 = 1;

/// Events of one finding's stream (the finding id). Type names and payloads are the stored contract.
#[derive(Debug, Clone, PartialEq)]
pub enum FindingEvent {
    Acknowledged(Acknowledged),
    Dismissed(Dismissed),
}

impl FindingEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            FindingEvent::Acknowledged(_) => "FindingAcknowledged",
            FindingEvent::Dismissed(_) => "FindingDismissed",
        }
    }

    pub fn version(&self) -> i64 {
        FINDING_EVENT_VERSION
    }

    pub fn payload(&self) -> Value {
        let v = match self {
            FindingEvent::Acknowledged(e) => serde_json::to_value(e),
            FindingEvent::Dismissed(e) => serde_json::to_value(e),
        };
        v.unwrap_or(Value::Null)
    }

    /// Decodes a stored event; `None` for a type this module does not own, an error for an unknown version
    /// or a payload that does not fit.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use super::codec;
        if !event_type.starts_with("Finding") {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, FINDING_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "FindingAcknowledged" => FindingEvent::Acknowledged(codec::payload(event_type, p)?),
            "FindingDismissed" => FindingEvent::Dismissed(codec::payload(event_type, p)?),
            _ => return Ok(None),
        }))
    }
}

/// A finding as decisions need it, loaded from its view row.
#[derive(Debug, Clone)]
pub struct FindingState {
    pub id: String,
    /// The version of the finding's own stream (0 before its first acknowledgement or dismissal).
    pub version: i64,
    pub kind: FindingKind,
    pub status: FindingStatus,
    /// The hit id (screening hits) or the list match id (list matches).
    pub source_id: String,
    pub check_id: Option<String>,
    pub session_id: Option<String>,
}

/// Where a dismissal is written: the one path that already dismisses that kind of record, or the finding.
#[derive(Debug, Clone, PartialEq)]
pub enum DismissalRoute {
    /// Through the check's dismissal (`CheckHitsDismissed`), as `POST /checks/{id}/dismiss` does.
    CheckHit { check_id: String, hit_id: String },
    /// The list match is marked a false positive, and the finding records the sealed reason.
    ListMatch { match_id: String },
    /// Only the finding records it.
    Finding,
}

/// Notes and reasons arrive sealed, with the id whose data key sealed them.
pub enum FindingCommand {
    Acknowledge { note: Option<String>, key_owner: Option<String> },
    Dismiss { reason: String, key_owner: String },
}

/// A refusal because of the finding's state.
fn refuse(state: &FindingState, verb: &str) -> AppError {
    AppError::Conflict(format!("This finding is {} and can no longer be {verb}.", state.status.as_str()))
}

/// Where `state`'s dismissal goes, once `decide` allowed it.
pub fn dismissal_route(state: &FindingState) -> DismissalRoute {
    match (state.kind, &state.check_id) {
        (FindingKind::ScreeningHit, Some(check)) => {
            DismissalRoute::CheckHit { check_id: check.clone(), hit_id: state.source_id.clone() }
        }
        (FindingKind::ListMatch, _) => DismissalRoute::ListMatch { match_id: state.source_id.clone() },
        _ => DismissalRoute::Finding,
    }
}

/// Acknowledging an open finding records it; an acknowledged one is left as it is (no event). Dismissing
/// works from open or acknowledged. A dismissed or resolved finding refuses both (409). For a screening hit
/// `Dismiss` yields no finding event: the caller writes the check's dismissal (see `dismissal_route`).
pub fn decide(state: &FindingState, command: FindingCommand, _ctx: &Ctx) -> Result<Vec<FindingEvent>, AppError> {
    use FindingStatus as S;
    match command {
        FindingCommand::Acknowledge { note, key_owner } => match state.status {
            S::Open => Ok(vec![FindingEvent::Acknowledged(Acknowledged { note, key_owner })]),
            S::Acknowledged => Ok(Vec::new()),
            S::Dismissed | S::Resolved => Err(refuse(state, "acknowledged")),
        },
        FindingCommand::Dismiss { reason, key_owner } => match state.status {
            S::Open | S::Acknowledged => match dismissal_route(state) {
                DismissalRoute::CheckHit { .. } => Ok(Vec::new()),
                _ => Ok(vec![FindingEvent::Dismissed(Dismissed { reason, key_owner })]),
            },
            S::Dismissed | S::Resolved => Err(refuse(state, "dismissed")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(kind: FindingKind, status: FindingStatus) -> FindingState {
        FindingState {
            id: finding_id("hit:hit_1"),
            version: 0,
            kind,
            status,
            source_id: "hit_1".into(),
            check_id: Some("schk_1".into()),
            session_id: None,
        }
    }

    fn ctx() -> Ctx {
        Ctx { now: "2026-01-01T00:00:00.000Z".into(), environment: "live".into() }
    }

    fn dismiss() -> FindingCommand {
        FindingCommand::Dismiss { reason: "r".into(), key_owner: "ses_1".into() }
    }

    #[test]
    fn ids_are_stable_per_source_and_parse_as_finding_ids() {
        let a = finding_id(&hit_source("hit_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C"));
        assert_eq!(a, finding_id(&hit_source("hit_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C")));
        assert_ne!(a, finding_id(&list_match_source("hit_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C")));
        assert!(super::super::ids::FindingId::parse("id", &a).is_ok(), "{a}");
    }

    #[test]
    fn acknowledging_twice_records_once_and_closed_findings_refuse_both() {
        let open = state(FindingKind::FraudSignal, FindingStatus::Open);
        let ack = decide(&open, FindingCommand::Acknowledge { note: None, key_owner: None }, &ctx()).unwrap();
        assert_eq!(ack, vec![FindingEvent::Acknowledged(Acknowledged { note: None, key_owner: None })]);
        let acked = state(FindingKind::FraudSignal, FindingStatus::Acknowledged);
        assert!(decide(&acked, FindingCommand::Acknowledge { note: None, key_owner: None }, &ctx())
            .unwrap()
            .is_empty());
        let dismissed = decide(&acked, dismiss(), &ctx()).unwrap();
        assert_eq!(
            dismissed,
            vec![FindingEvent::Dismissed(Dismissed { reason: "r".into(), key_owner: "ses_1".into() })]
        );
        for closed in [FindingStatus::Dismissed, FindingStatus::Resolved] {
            let s = state(FindingKind::FraudSignal, closed);
            assert!(decide(&s, FindingCommand::Acknowledge { note: None, key_owner: None }, &ctx()).is_err());
            assert!(decide(&s, dismiss(), &ctx()).is_err());
        }
    }

    #[test]
    fn a_hit_is_dismissed_through_its_check_and_a_list_match_through_both() {
        let hit = state(FindingKind::ScreeningHit, FindingStatus::Open);
        assert_eq!(
            dismissal_route(&hit),
            DismissalRoute::CheckHit { check_id: "schk_1".into(), hit_id: "hit_1".into() }
        );
        assert!(decide(&hit, dismiss(), &ctx()).unwrap().is_empty());
        let mut matched = state(FindingKind::ListMatch, FindingStatus::Open);
        matched.source_id = "lmatch_1".into();
        assert_eq!(dismissal_route(&matched), DismissalRoute::ListMatch { match_id: "lmatch_1".into() });
        assert_eq!(decide(&matched, dismiss(), &ctx()).unwrap().len(), 1);
    }

    #[test]
    fn events_round_trip_and_unknown_versions_are_refused() {
        for e in [
            FindingEvent::Acknowledged(Acknowledged { note: Some("c2VhbGVk".into()), key_owner: Some("ses_1".into()) }),
            FindingEvent::Dismissed(Dismissed { reason: "c2VhbGVk".into(), key_owner: "idn_1".into() }),
        ] {
            assert_eq!(FindingEvent::decode(e.event_type(), 1, &e.payload()).unwrap(), Some(e.clone()));
        }
        assert!(FindingEvent::decode("FindingDismissed", 2, &json!({"reason": "x", "key_owner": "ses_1"})).is_err());
        assert_eq!(FindingEvent::decode("CheckCreated", 1, &json!({})).unwrap(), None);
    }
}
