//! Standalone checks (spec §1.4, `schk_*`) and recorded screening runs: check types, the check's state,
//! commands, events and `decide`. Subject data arrives sealed and hits arrive computed (the screening
//! itself happens in `screening_service`); this module only decides which events follow. Must not seal,
//! screen, read the database or the clock.

use super::Ctx;
use crate::error::{AppError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// AML check types (spec §1.4.2). `sanction` is screened against the imported watchlists.
pub const AML_TYPES: &[&str] = &["sanction", "pep", "adverse_media", "warning"];

/// The risk and enhanced types of the spec; idv has no offline source for them.
pub const OTHER_TYPES: &[&str] =
    &["email_risk", "phone_risk", "ip_risk", "email_risk_enhanced", "phone_risk_enhanced", "address_validation"];

pub fn is_check_type(t: &str) -> bool {
    AML_TYPES.contains(&t) || OTHER_TYPES.contains(&t)
}

pub fn is_aml(t: &str) -> bool {
    AML_TYPES.contains(&t)
}

/// A standalone check's type (spec §1.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckType {
    Sanction,
    Pep,
    AdverseMedia,
    Warning,
    EmailRisk,
    PhoneRisk,
    IpRisk,
    EmailRiskEnhanced,
    PhoneRiskEnhanced,
    AddressValidation,
}

impl CheckType {
    pub const ALL: [CheckType; 10] = [
        CheckType::Sanction,
        CheckType::Pep,
        CheckType::AdverseMedia,
        CheckType::Warning,
        CheckType::EmailRisk,
        CheckType::PhoneRisk,
        CheckType::IpRisk,
        CheckType::EmailRiskEnhanced,
        CheckType::PhoneRiskEnhanced,
        CheckType::AddressValidation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckType::Sanction => "sanction",
            CheckType::Pep => "pep",
            CheckType::AdverseMedia => "adverse_media",
            CheckType::Warning => "warning",
            CheckType::EmailRisk => "email_risk",
            CheckType::PhoneRisk => "phone_risk",
            CheckType::IpRisk => "ip_risk",
            CheckType::EmailRiskEnhanced => "email_risk_enhanced",
            CheckType::PhoneRiskEnhanced => "phone_risk_enhanced",
            CheckType::AddressValidation => "address_validation",
        }
    }

    /// A stored type (written by this code, so always one of the above).
    pub fn from_stored(text: &str) -> Option<CheckType> {
        CheckType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// A check's status (spec §3.6): `pending` -> `clear` | `hit` | `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pending,
    Clear,
    Hit,
    Error,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pending => "pending",
            CheckStatus::Clear => "clear",
            CheckStatus::Hit => "hit",
            CheckStatus::Error => "error",
        }
    }

    pub fn from_stored(text: &str) -> Option<CheckStatus> {
        [CheckStatus::Pending, CheckStatus::Clear, CheckStatus::Hit, CheckStatus::Error]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// What created a check: the API (`POST /checks`), a session's screening step or a monitoring pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckOrigin {
    Api,
    Session,
    Monitoring,
}

impl CheckOrigin {
    pub fn from_stored(text: &str) -> Option<CheckOrigin> {
        match text {
            "api" => Some(CheckOrigin::Api),
            "session" => Some(CheckOrigin::Session),
            "monitoring" => Some(CheckOrigin::Monitoring),
            _ => None,
        }
    }
}

/// The screened subject of a check, each value already validated by its type (the same limits as an
/// identity's personal data). Field names are the spec's check fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckSubject {
    pub name_first: Option<crate::domain::values::PersonName>,
    pub name_last: Option<crate::domain::values::PersonName>,
    pub birthdate: Option<crate::domain::values::PartialBirthDate>,
    pub country_code: Option<crate::domain::values::SubjectCountry>,
    pub email: Option<crate::domain::values::Email>,
    pub phone: Option<crate::domain::values::Phone>,
    pub ip_address: Option<crate::domain::values::IpAddress>,
    pub address_line1: Option<crate::domain::values::AddressLine>,
    pub address_line2: Option<crate::domain::values::AddressLine>,
    pub city: Option<crate::domain::values::PlaceName>,
    pub state: Option<crate::domain::values::PlaceName>,
    pub zip_code: Option<crate::domain::values::ShortText>,
}

impl CheckSubject {
    /// The fields that were given, by field name, in canonical form (the screening input and what is sealed).
    pub fn fields(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                out.insert(k.to_string(), v.to_string());
            }
        };
        put("name_first", self.name_first.as_ref().map(|v| v.as_str()));
        put("name_last", self.name_last.as_ref().map(|v| v.as_str()));
        put("birthdate", self.birthdate.as_ref().map(|v| v.as_str()));
        put("country_code", self.country_code.as_ref().map(|v| v.as_str()));
        put("email", self.email.as_ref().map(|v| v.as_str()));
        put("phone", self.phone.as_ref().map(|v| v.as_str()));
        put("ip_address", self.ip_address.as_ref().map(|v| v.as_str()));
        put("address_line1", self.address_line1.as_ref().map(|v| v.as_str()));
        put("address_line2", self.address_line2.as_ref().map(|v| v.as_str()));
        put("city", self.city.as_ref().map(|v| v.as_str()));
        put("state", self.state.as_ref().map(|v| v.as_str()));
        put("zip_code", self.zip_code.as_ref().map(|v| v.as_str()));
        out
    }
}

/// The subject fields a check may carry (all sealed at rest).
pub const SUBJECT_FIELDS: &[&str] = &[
    "name_first",
    "name_last",
    "birthdate",
    "country_code",
    "email",
    "phone",
    "ip_address",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip_code",
];

/// The field a check type cannot run without (AML types need both names).
pub fn required_fields(check_type: &str) -> &'static [&'static str] {
    match check_type {
        t if is_aml(t) => &["name_first", "name_last"],
        "email_risk" | "email_risk_enhanced" => &["email"],
        "phone_risk" | "phone_risk_enhanced" => &["phone"],
        "ip_risk" => &["ip_address"],
        "address_validation" => &["address_line1"],
        _ => &[],
    }
}

/// One hit as recorded: list data, scores and the list version, in plaintext; the explanation (which
/// quotes the subject's name) sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitRecord {
    pub id: String,
    pub watchlist_id: String,
    pub source: String,
    pub entry_id: String,
    pub entry_hash: String,
    pub version_id: String,
    pub entity_type: String,
    pub matched_name: String,
    pub matched_name_kind: String,
    pub score: f64,
    pub features: Value,
    /// Sealed (base64) under the check's key owner, field `explanation.<hit id>`.
    pub explanation: Option<String>,
    /// The list entry as it was when it matched.
    pub entry: Value,
}

/// A match left out of a run because this subject's earlier dismissal covers the same entry version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suppressed {
    pub watchlist_id: String,
    pub entry_id: String,
    pub entry_hash: String,
    pub dismissal_id: String,
    pub dismissed_in_check_id: String,
}

/// The outcome of one run of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunResult {
    /// `clear`, `hit` or `error`.
    pub status: String,
    pub provider: Option<String>,
    pub error_reason: Option<String>,
    pub note: Option<String>,
    pub threshold: f64,
    /// The list versions screened against (`{watchlist_id, version_id, published, ...}`).
    #[serde(default)]
    pub list_versions: Vec<Value>,
    #[serde(default)]
    pub hits: Vec<HitRecord>,
    #[serde(default)]
    pub suppressed: Vec<Suppressed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Created {
    pub check_type: String,
    /// `api` (POST /checks), `monitoring` (a list change found new hits) or `session` (workflow step).
    pub origin: String,
    pub external_ref: Option<String>,
    pub identity_id: Option<String>,
    pub session_id: Option<String>,
    pub batch_id: Option<String>,
    /// Whose dismissals apply: the identity id, else `ref:<external_ref>`.
    pub subject_key: String,
    /// Whose data key seals the subject: the linked identity (its erasure erases this too), else the check.
    pub key_owner: String,
    /// Sealed subject fields (base64), AAD bound to the check id.
    pub subject: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub result: RunResult,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rerun {
    pub run: i64,
    pub result: RunResult,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitsDismissed {
    pub dismissal_id: String,
    pub hit_ids: Vec<String>,
    /// Sealed (base64) under the check's key owner, field `dismissal_reason.<dismissal id>`.
    pub reason: Option<String>,
    pub subject_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagsChanged {
    pub tags: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// A monitoring pass over a new watchlist version found hits the check did not have: they join its
/// latest run (numbered after its hits), so they show, count and are dismissed like the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitoringHitsFound {
    pub run: i64,
    pub version_id: String,
    pub watchlist_id: String,
    pub hits: Vec<HitRecord>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckEvent {
    Created(Box<Created>),
    Rerun(Box<Rerun>),
    HitsDismissed(HitsDismissed),
    TagsChanged(TagsChanged),
    Redacted,
    /// Continuous monitoring (spec §1.9) turned on or off for this check.
    MonitoringEnabled,
    MonitoringDisabled,
    MonitoringHitsFound(Box<MonitoringHitsFound>),
}

impl CheckEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            CheckEvent::Created(_) => "CheckCreated",
            CheckEvent::Rerun(_) => "CheckRerun",
            CheckEvent::HitsDismissed(_) => "CheckHitsDismissed",
            CheckEvent::TagsChanged(_) => "CheckTagsChanged",
            CheckEvent::Redacted => "CheckRedacted",
            CheckEvent::MonitoringEnabled => "CheckMonitoringEnabled",
            CheckEvent::MonitoringDisabled => "CheckMonitoringDisabled",
            CheckEvent::MonitoringHitsFound(_) => "CheckMonitoringHitsFound",
        }
    }

    pub fn payload(&self) -> Value {
        let value = match self {
            CheckEvent::Created(e) => serde_json::to_value(e),
            CheckEvent::Rerun(e) => serde_json::to_value(e),
            CheckEvent::HitsDismissed(e) => serde_json::to_value(e),
            CheckEvent::TagsChanged(e) => serde_json::to_value(e),
            CheckEvent::Redacted | CheckEvent::MonitoringEnabled | CheckEvent::MonitoringDisabled => {
                Ok(Value::Object(Map::new()))
            }
            CheckEvent::MonitoringHitsFound(e) => serde_json::to_value(e),
        };
        value.unwrap_or(Value::Null)
    }

    /// Decodes a stored event. Unknown types give `None`; an unknown version is an error naming the event.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        if !event_type.starts_with("Check") {
            return Ok(None);
        }
        let p = super::codec::upcast(event_type, version, payload, 1, super::codec::no_steps)?;
        Ok(Some(match event_type {
            "CheckCreated" => CheckEvent::Created(Box::new(super::codec::payload(event_type, p)?)),
            "CheckRerun" => CheckEvent::Rerun(Box::new(super::codec::payload(event_type, p)?)),
            "CheckHitsDismissed" => CheckEvent::HitsDismissed(super::codec::payload(event_type, p)?),
            "CheckTagsChanged" => CheckEvent::TagsChanged(super::codec::payload(event_type, p)?),
            "CheckRedacted" => CheckEvent::Redacted,
            "CheckMonitoringEnabled" => CheckEvent::MonitoringEnabled,
            "CheckMonitoringDisabled" => CheckEvent::MonitoringDisabled,
            "CheckMonitoringHitsFound" => {
                CheckEvent::MonitoringHitsFound(Box::new(super::codec::payload(event_type, p)?))
            }
            _ => return Ok(None),
        }))
    }
}

/// A hit of the check's current run, as decisions need it.
#[derive(Debug, Clone, PartialEq)]
pub struct HitState {
    pub id: String,
    pub dismissed: bool,
}

/// The decision-relevant state of one check, loaded from its view row.
#[derive(Debug, Clone)]
pub struct CheckState {
    pub id: String,
    pub version: i64,
    pub check_type: String,
    pub status: String,
    pub run: i64,
    pub redacted: bool,
    pub identity_id: Option<String>,
    pub key_owner: String,
    pub subject_key: String,
    pub tags: Vec<String>,
    pub hits: Vec<HitState>,
    pub monitoring_enabled: bool,
}

pub enum CheckCommand {
    Create(Box<Created>),
    Rerun(RunResult),
    /// `hit_ids: None` dismisses every hit of the current run.
    Dismiss {
        dismissal_id: String,
        hit_ids: Option<Vec<String>>,
        reason: Option<String>,
    },
    SetTags(Vec<String>),
    AddTags(Vec<String>),
    RemoveTag(String),
    Redact,
    /// Turn continuous monitoring on (`true`) or off; AML checks only.
    SetMonitoring(bool),
    /// New hits a monitoring pass found (hit ids assigned, explanations sealed).
    AddMonitoringHits {
        version_id: String,
        watchlist_id: String,
        hits: Vec<HitRecord>,
    },
}

/// A refusal because of the check's state (redacted, data owned by its identity): a conflict.
fn refuse(detail: &str) -> AppError {
    AppError::Conflict(detail.to_string())
}

fn ensure_not_redacted(state: &CheckState) -> Result<(), AppError> {
    if state.redacted {
        return Err(refuse("This check has been redacted and can no longer be changed."));
    }
    Ok(())
}

pub fn decide(state: Option<&CheckState>, command: CheckCommand, _ctx: &Ctx) -> Result<Vec<CheckEvent>, AppError> {
    use CheckCommand as C;
    let Some(state) = state else {
        return match command {
            C::Create(created) => Ok(vec![CheckEvent::Created(created)]),
            _ => Err(AppError::not_found("Check")),
        };
    };
    match command {
        C::Create(_) => Err(AppError::Conflict("A check with this id already exists.".into())),
        C::Rerun(result) => {
            ensure_not_redacted(state)?;
            Ok(vec![CheckEvent::Rerun(Box::new(Rerun { run: state.run + 1, result }))])
        }
        C::Dismiss { dismissal_id, hit_ids, reason } => {
            ensure_not_redacted(state)?;
            let chosen: Vec<String> = match hit_ids {
                None => state.hits.iter().filter(|h| !h.dismissed).map(|h| h.id.clone()).collect(),
                Some(ids) => {
                    // A hit id that names no hit of the latest run refers to nothing here: 404.
                    let unknown: Vec<&str> =
                        ids.iter().filter(|id| !state.hits.iter().any(|h| &h.id == *id)).map(String::as_str).collect();
                    if !unknown.is_empty() {
                        return Err(AppError::NotFound(format!(
                            "Hit not found: {} (not a hit of this check's latest run).",
                            unknown.join(", ")
                        )));
                    }
                    let mut out: Vec<String> = Vec::new();
                    for id in ids {
                        let open = state.hits.iter().any(|h| h.id == id && !h.dismissed);
                        if open && !out.contains(&id) {
                            out.push(id);
                        }
                    }
                    out
                }
            };
            if chosen.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![CheckEvent::HitsDismissed(HitsDismissed {
                dismissal_id,
                hit_ids: chosen,
                reason,
                subject_key: state.subject_key.clone(),
            })])
        }
        C::SetTags(tags) => {
            ensure_not_redacted(state)?;
            tag_change(state, tags)
        }
        C::AddTags(new) => {
            ensure_not_redacted(state)?;
            let mut tags = state.tags.clone();
            for t in new {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            // The tags already there leave no room: a conflict with the check's state, not a bad request.
            if tags.len() > super::values::MAX_TAGS {
                return Err(AppError::Conflict(format!(
                    "A check can carry at most {} tags; this one already has {}.",
                    super::values::MAX_TAGS,
                    state.tags.len()
                )));
            }
            tag_change(state, tags)
        }
        C::RemoveTag(tag) => {
            ensure_not_redacted(state)?;
            let tags = state.tags.iter().filter(|t| **t != tag).cloned().collect();
            tag_change(state, tags)
        }
        C::Redact => {
            if state.redacted {
                return Err(refuse("This check has already been redacted."));
            }
            if state.key_owner != state.id {
                return Err(refuse(
                    "This check's data belongs to its identity: redact the identity (DELETE /identities/{id}/data).",
                ));
            }
            Ok(vec![CheckEvent::Redacted])
        }
        C::SetMonitoring(on) => {
            ensure_not_redacted(state)?;
            // The check's type, not the request, stands in the way: a conflict with its state.
            if on && !is_aml(&state.check_type) {
                return Err(refuse(&format!(
                    "Continuous monitoring is for AML checks only; this is a {} check.",
                    state.check_type
                )));
            }
            Ok(match (on, state.monitoring_enabled) {
                (true, false) => vec![CheckEvent::MonitoringEnabled],
                (false, true) => vec![CheckEvent::MonitoringDisabled],
                _ => Vec::new(),
            })
        }
        C::AddMonitoringHits { version_id, watchlist_id, hits } => {
            // A pass that raced with a redaction or with monitoring being turned off records nothing.
            if state.redacted || !state.monitoring_enabled || hits.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![CheckEvent::MonitoringHitsFound(Box::new(MonitoringHitsFound {
                run: state.run,
                version_id,
                watchlist_id,
                hits,
            }))])
        }
    }
}

fn tag_change(state: &CheckState, tags: Vec<String>) -> Result<Vec<CheckEvent>, AppError> {
    if tags.len() > super::values::MAX_TAGS {
        return Err(AppError::Validation {
            detail: "A check can carry at most 50 tags.".into(),
            errors: vec![FieldError::new("tags", "at most 50 tags per check")],
        });
    }
    let added: Vec<String> = tags.iter().filter(|t| !state.tags.contains(t)).cloned().collect();
    let removed: Vec<String> = state.tags.iter().filter(|t| !tags.contains(t)).cloned().collect();
    if added.is_empty() && removed.is_empty() && tags == state.tags {
        return Ok(Vec::new());
    }
    Ok(vec![CheckEvent::TagsChanged(TagsChanged { tags, added, removed })])
}

/// The status of a run from its hits (dismissed-earlier matches are already left out).
pub fn run_status(hits: usize) -> &'static str {
    if hits == 0 {
        "clear"
    } else {
        "hit"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> CheckState {
        CheckState {
            id: "schk_a".into(),
            version: 1,
            check_type: "sanction".into(),
            status: "hit".into(),
            run: 1,
            redacted: false,
            identity_id: None,
            key_owner: "schk_a".into(),
            subject_key: "ref:u1".into(),
            tags: vec![],
            hits: vec![
                HitState { id: "hit_1".into(), dismissed: false },
                HitState { id: "hit_2".into(), dismissed: true },
            ],
            monitoring_enabled: false,
        }
    }

    fn ctx() -> Ctx {
        Ctx { now: "2026-01-01T00:00:00Z".into(), environment: "live".into() }
    }

    fn dismiss(ids: Option<Vec<&str>>) -> CheckCommand {
        CheckCommand::Dismiss {
            dismissal_id: "dsm_1".into(),
            hit_ids: ids.map(|v| v.into_iter().map(String::from).collect()),
            reason: None,
        }
    }

    #[test]
    fn dismissing_all_takes_only_open_hits_and_unknown_ids_are_refused() {
        let events = decide(Some(&state()), dismiss(None), &ctx()).unwrap();
        match &events[..] {
            [CheckEvent::HitsDismissed(d)] => assert_eq!(d.hit_ids, vec!["hit_1".to_string()]),
            other => panic!("{other:?}"),
        }
        assert!(decide(Some(&state()), dismiss(Some(vec!["hit_2"])), &ctx()).unwrap().is_empty());
        assert!(decide(Some(&state()), dismiss(Some(vec!["hit_9"])), &ctx()).is_err());
    }

    #[test]
    fn a_redacted_check_refuses_changes_and_identity_checks_are_redacted_with_the_identity() {
        let mut s = state();
        s.redacted = true;
        assert!(decide(Some(&s), CheckCommand::Rerun(RunResult::default()), &ctx()).is_err());
        let mut s = state();
        s.key_owner = "idn_x".into();
        assert!(decide(Some(&s), CheckCommand::Redact, &ctx()).is_err());
        assert_eq!(decide(Some(&state()), CheckCommand::Redact, &ctx()).unwrap(), vec![CheckEvent::Redacted]);
    }

    #[test]
    fn monitoring_is_for_aml_checks_changes_only_when_it_differs_and_new_hits_join_the_latest_run() {
        let on = decide(Some(&state()), CheckCommand::SetMonitoring(true), &ctx()).unwrap();
        assert_eq!(on, vec![CheckEvent::MonitoringEnabled]);
        assert!(decide(Some(&state()), CheckCommand::SetMonitoring(false), &ctx()).unwrap().is_empty());
        let mut email = state();
        email.check_type = "email_risk".into();
        assert!(decide(Some(&email), CheckCommand::SetMonitoring(true), &ctx()).is_err());
        let add = || CheckCommand::AddMonitoringHits {
            version_id: "wlv_2".into(),
            watchlist_id: "ofac".into(),
            hits: vec![HitRecord {
                id: "hit_3".into(),
                watchlist_id: "ofac".into(),
                source: "ofac_sdn".into(),
                entry_id: "1".into(),
                entry_hash: "h".into(),
                version_id: "wlv_2".into(),
                entity_type: "person".into(),
                matched_name: "X".into(),
                matched_name_kind: "primary".into(),
                score: 0.9,
                features: Value::Null,
                explanation: None,
                entry: Value::Null,
            }],
        };
        assert!(decide(Some(&state()), add(), &ctx()).unwrap().is_empty(), "not monitored: nothing recorded");
        let mut monitored = state();
        monitored.monitoring_enabled = true;
        match &decide(Some(&monitored), add(), &ctx()).unwrap()[..] {
            [e @ CheckEvent::MonitoringHitsFound(found)] => {
                assert_eq!(found.run, 1);
                assert_eq!(CheckEvent::decode(e.event_type(), 1, &e.payload()).unwrap().as_ref(), Some(e));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rerun_is_numbered_after_the_current_run() {
        match &decide(Some(&state()), CheckCommand::Rerun(RunResult::default()), &ctx()).unwrap()[..] {
            [CheckEvent::Rerun(r)] => assert_eq!(r.run, 2),
            other => panic!("{other:?}"),
        }
    }
}
