//! The identity aggregate: its state, commands, events and `decide`. PII arrives here already sealed
//! (opaque base64 strings); this module only decides which events follow. Must not seal, hash, read
//! the database or the clock.

use super::Ctx;
use crate::error::{AppError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// PII fields of the identity object, every one sealed at rest.
pub const PII_FIELDS: &[&str] = &[
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip_code",
    "document_number",
    "document_type",
    "ssn",
    "nationality",
    "gender",
    "email",
    "phone",
];

/// Statuses idv emits (spec §3.3 decision).
pub const STATUSES: &[&str] = &["pending", "approved", "failed", "rejected", "under_review", "redacted", "merged"];

/// Maps a client-supplied status (including the newer aliases) onto idv's vocabulary.
pub fn canonical_status(value: &str) -> Option<&'static str> {
    let v = value.trim().to_ascii_lowercase();
    let mapped = match v.as_str() {
        "verified" => "approved",
        "created" => "pending",
        "needs_review" => "under_review",
        other => other,
    };
    STATUSES.iter().copied().find(|s| *s == mapped)
}

/// The decision-relevant state of one identity, loaded from its view row.
#[derive(Debug, Clone)]
pub struct IdentityState {
    pub id: String,
    pub version: i64,
    pub status: String,
    pub external_ref: Option<String>,
    pub archived: bool,
    pub merged_into: Option<String>,
    pub monitoring_enabled: bool,
    pub monitoring_paused_reason: Option<String>,
    pub tags: Vec<String>,
    pub identity_type_id: Option<String>,
    pub session_count: i64,
}

impl IdentityState {
    pub fn is_redacted(&self) -> bool {
        self.status == "redacted"
    }
    pub fn is_merged(&self) -> bool {
        self.status == "merged"
    }
}

/// An identity's sealed personal data, as events carry it and the view keeps it: the entry
/// [`ALL_FIELDS_SEALED`] holds every field sealed together (base64 of nonce || ciphertext of the JSON map
/// of field names to values). Maps written before it hold one sealed entry per field, keyed by the field's
/// name; `store::subject_keys::open_pii` opens either, and an event holding the one entry replaces the
/// view's map instead of merging into it.
pub type SealedFields = BTreeMap<String, String>;

/// The key under which a [`SealedFields`] map holds all of an identity's fields sealed as one value (no
/// field is called this). One seal per identity instead of one per field: opening or sealing a value of up
/// to 64 bytes is a key derivation and two ChaCha20 blocks whatever its length, so ten short fields sealed
/// apart cost ten times what they cost together.
pub const ALL_FIELDS_SEALED: &str = "*";

/// Whether a sealed map holds all the fields sealed together (and so replaces what the view holds).
pub fn seals_all_fields(pii: &SealedFields) -> bool {
    pii.contains_key(ALL_FIELDS_SEALED)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Created {
    pub external_ref: Option<String>,
    pub status: String,
    pub country: Option<String>,
    pub identity_type_id: Option<String>,
    pub tags: Vec<String>,
    pub monitoring_enabled: bool,
    pub pii: SealedFields,
    /// Names of the fields sealed in `pii` (never their values), for the audit log. Empty in events whose
    /// `pii` has one entry per field, whose keys name them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii_fields: Vec<String>,
    /// The identity's blind-index digests, sealed under its data key so the log cannot link people.
    pub blind: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Updated {
    /// Names of the fields this update touched (never their values).
    pub changed: Vec<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub set: Map<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pii: SealedFields,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii_cleared: Vec<String>,
    pub blind: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TagsChanged {
    pub tags: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MonitoringPaused {
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Restored {
    pub monitoring_resumed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustomFieldsSet {
    /// name -> value; encrypted fields carry `{"sealed": base64}`.
    pub values: Map<String, Value>,
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Merged {
    pub into: String,
    pub redacted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Absorbed {
    pub from: String,
    pub tags: Vec<String>,
    pub session_count: i64,
    pub custom_fields: Map<String, Value>,
}

/// A finished session's outcome applied to the identity (spec §1.6: upsert on completion).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Verified {
    pub session_id: String,
    /// Whether this session is counted for the first time (reprocessing does not count twice).
    pub new_session: bool,
    pub status: String,
    pub approved: bool,
    pub face_match_passed: Option<bool>,
    pub age_check_passed: Option<bool>,
    pub extracted_age: Option<i64>,
    pub rejection_reason: Option<String>,
    pub country: Option<String>,
    /// All the identity's fields after this session's were merged in, sealed together; one sealed entry per
    /// field the session brought in older events.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pii: SealedFields,
    /// Names of the fields this session brought (never their values), for the audit log. Empty in events
    /// whose `pii` has one entry per field, whose keys name them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pii_fields: Vec<String>,
    pub blind: Option<String>,
}

/// A screening run concerning this identity finished (standalone check, session step, monitoring, or a
/// dismissal that cleared the last open hit). Carries ids and counts, never names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Screened {
    /// The identity's new `screening_status`: `clear` or `hit`.
    pub status: String,
    /// `check`, `session`, `monitoring` or `dismissal`.
    pub trigger: String,
    pub check_id: Option<String>,
    pub session_id: Option<String>,
    /// Open (undismissed) hits across the identity's checks after this run.
    pub hit_count: i64,
    /// Monitoring: the hits this list change produced (they fire `screening.monitoring.new_hits`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_hit_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list_version_ids: Vec<String>,
}

impl Screened {
    pub fn is_monitoring_alert(&self) -> bool {
        self.trigger == "monitoring" && !self.new_hit_ids.is_empty()
    }
}

/// Spec §1.6.13: the lists this identity's monitoring is limited to (empty = every list).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MonitoredListsSet {
    pub list_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum IdentityEvent {
    Verified(Verified),
    Created(Created),
    Updated(Updated),
    Redacted,
    TagsChanged(TagsChanged),
    Archived,
    Restored(Restored),
    MonitoringPaused(MonitoringPaused),
    MonitoringResumed,
    CustomFieldsSet(CustomFieldsSet),
    Merged(Merged),
    Absorbed(Absorbed),
    Exported,
    Screened(Screened),
    MonitoredListsSet(MonitoredListsSet),
}

impl IdentityEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            IdentityEvent::Created(_) => "IdentityCreated",
            IdentityEvent::Verified(_) => "IdentityVerified",
            IdentityEvent::Updated(_) => "IdentityUpdated",
            IdentityEvent::Redacted => "IdentityRedacted",
            IdentityEvent::TagsChanged(_) => "IdentityTagsChanged",
            IdentityEvent::Archived => "IdentityArchived",
            IdentityEvent::Restored(_) => "IdentityRestored",
            IdentityEvent::MonitoringPaused(_) => "IdentityMonitoringPaused",
            IdentityEvent::MonitoringResumed => "IdentityMonitoringResumed",
            IdentityEvent::CustomFieldsSet(_) => "IdentityCustomFieldsSet",
            IdentityEvent::Merged(_) => "IdentityMerged",
            IdentityEvent::Absorbed(_) => "IdentityAbsorbed",
            IdentityEvent::Exported => "IdentityExported",
            IdentityEvent::Screened(_) => "IdentityScreened",
            IdentityEvent::MonitoredListsSet(_) => "IdentityMonitoredListsSet",
        }
    }

    pub fn payload(&self) -> Value {
        let value = match self {
            IdentityEvent::Created(e) => serde_json::to_value(e),
            IdentityEvent::Verified(e) => serde_json::to_value(e),
            IdentityEvent::Updated(e) => serde_json::to_value(e),
            IdentityEvent::TagsChanged(e) => serde_json::to_value(e),
            IdentityEvent::Restored(e) => serde_json::to_value(e),
            IdentityEvent::MonitoringPaused(e) => serde_json::to_value(e),
            IdentityEvent::CustomFieldsSet(e) => serde_json::to_value(e),
            IdentityEvent::Merged(e) => serde_json::to_value(e),
            IdentityEvent::Absorbed(e) => serde_json::to_value(e),
            IdentityEvent::Screened(e) => serde_json::to_value(e),
            IdentityEvent::MonitoredListsSet(e) => serde_json::to_value(e),
            IdentityEvent::Redacted
            | IdentityEvent::Archived
            | IdentityEvent::MonitoringResumed
            | IdentityEvent::Exported => Ok(Value::Object(Map::new())),
        };
        value.unwrap_or(Value::Null)
    }

    /// Decodes a stored event (type, version, payload). Unknown types give `None`; an unknown version is an
    /// error naming the event.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        if !event_type.starts_with("Identity") || event_type.starts_with("IdentityType") {
            return Ok(None);
        }
        let p = super::codec::upcast(event_type, version, payload, 1, super::codec::no_steps)?;
        Ok(Some(match event_type {
            "IdentityCreated" => IdentityEvent::Created(super::codec::payload(event_type, p)?),
            "IdentityUpdated" => IdentityEvent::Updated(super::codec::payload(event_type, p)?),
            "IdentityVerified" => IdentityEvent::Verified(super::codec::payload(event_type, p)?),
            "IdentityRedacted" => IdentityEvent::Redacted,
            "IdentityTagsChanged" => IdentityEvent::TagsChanged(super::codec::payload(event_type, p)?),
            "IdentityArchived" => IdentityEvent::Archived,
            "IdentityRestored" => IdentityEvent::Restored(super::codec::payload(event_type, p)?),
            "IdentityMonitoringPaused" => IdentityEvent::MonitoringPaused(super::codec::payload(event_type, p)?),
            "IdentityMonitoringResumed" => IdentityEvent::MonitoringResumed,
            "IdentityCustomFieldsSet" => IdentityEvent::CustomFieldsSet(super::codec::payload(event_type, p)?),
            "IdentityMerged" => IdentityEvent::Merged(super::codec::payload(event_type, p)?),
            "IdentityAbsorbed" => IdentityEvent::Absorbed(super::codec::payload(event_type, p)?),
            "IdentityExported" => IdentityEvent::Exported,
            "IdentityScreened" => IdentityEvent::Screened(super::codec::payload(event_type, p)?),
            "IdentityMonitoredListsSet" => IdentityEvent::MonitoredListsSet(super::codec::payload(event_type, p)?),
            _ => return Ok(None),
        }))
    }

    /// The public action name used by the audit log and webhooks.
    pub fn action(&self) -> &'static str {
        match self {
            IdentityEvent::Created(_) => "identity.created",
            IdentityEvent::Updated(_) | IdentityEvent::Verified(_) => "identity.updated",
            IdentityEvent::Redacted => "identity.redacted",
            IdentityEvent::TagsChanged(_) => "identity.tags-changed",
            IdentityEvent::Archived => "identity.archived",
            IdentityEvent::Restored(_) => "identity.restored",
            IdentityEvent::MonitoringPaused(_) => "identity.monitoring-paused",
            IdentityEvent::MonitoringResumed => "identity.monitoring-resumed",
            IdentityEvent::CustomFieldsSet(_) => "identity.custom-fields-updated",
            IdentityEvent::Merged(_) => "identity.merged",
            IdentityEvent::Absorbed(_) => "identity.merge-absorbed",
            IdentityEvent::Exported => "api.identity.export",
            IdentityEvent::Screened(e) if e.is_monitoring_alert() => "screening.monitoring.new_hits",
            IdentityEvent::Screened(_) => "screening.completed",
            IdentityEvent::MonitoredListsSet(_) => "identity.monitored-lists-updated",
        }
    }

    /// Field names this event touched, for the audit log (never values).
    pub fn fields(&self) -> Vec<String> {
        match self {
            IdentityEvent::Created(e) => {
                let mut f = field_names(&e.pii, &e.pii_fields);
                if e.external_ref.is_some() {
                    f.push("external_ref".into());
                }
                if e.country.is_some() {
                    f.push("country".into());
                }
                if !e.tags.is_empty() {
                    f.push("tags".into());
                }
                f
            }
            IdentityEvent::Updated(e) => e.changed.clone(),
            IdentityEvent::Verified(e) => {
                let mut f = field_names(&e.pii, &e.pii_fields);
                f.extend(["status".to_string(), "latest_session_id".to_string()]);
                f
            }
            IdentityEvent::TagsChanged(_) => vec!["tags".into()],
            IdentityEvent::CustomFieldsSet(e) => e.changed.iter().map(|n| format!("custom_fields.{n}")).collect(),
            IdentityEvent::Redacted => vec!["status".into(), "pii".into()],
            IdentityEvent::Merged(_) => vec!["status".into()],
            IdentityEvent::Absorbed(_) => vec!["tags".into(), "session_count".into(), "custom_fields".into()],
            IdentityEvent::Archived | IdentityEvent::Restored(_) => vec!["archived_at".into()],
            IdentityEvent::MonitoringPaused(_) | IdentityEvent::MonitoringResumed => {
                vec!["monitoring_enabled".into()]
            }
            IdentityEvent::Exported => Vec::new(),
            IdentityEvent::Screened(_) => vec!["screening_status".into()],
            IdentityEvent::MonitoredListsSet(_) => vec!["monitored_lists".into()],
        }
    }
}

/// The names of the fields an event's sealed map carries: listed beside it when they are sealed together,
/// the map's own keys when each is sealed on its own.
fn field_names(pii: &SealedFields, listed: &[String]) -> Vec<String> {
    if seals_all_fields(pii) {
        listed.to_vec()
    } else {
        pii.keys().cloned().collect()
    }
}

pub enum IdentityCommand {
    Create(Created),
    Update(Updated),
    Redact,
    SetTags(Vec<super::values::Tag>),
    AddTag(super::values::Tag),
    RemoveTag(super::values::Tag),
    Archive,
    Restore,
    PauseMonitoring,
    ResumeMonitoring,
    SetCustomFields(CustomFieldsSet),
    /// This identity is the secondary of a merge into `into`.
    MergeInto {
        into: String,
        redact: bool,
    },
    /// This identity is the primary of a merge and takes over the secondary's tags, sessions and fields.
    Absorb {
        from: IdentityState,
        custom_fields: Map<String, Value>,
    },
    RecordExport,
    /// A session finished for this identity.
    ApplyVerification(Verified),
    /// A screening run concerning this identity finished.
    RecordScreening(Screened),
    /// Replace the monitored lists (the command layer merges for "add").
    SetMonitoredLists(Vec<String>),
}

/// A change the identity's current state does not allow (redacted, merged, already archived, ...): a 409,
/// as spec §2.5 answers state conflicts (docs/api-decisions.md).
fn refuse(detail: &str) -> AppError {
    AppError::Conflict(detail.to_string())
}

/// Refuses changes to a redacted or merged identity.
pub fn ensure_writable(state: &IdentityState) -> Result<(), AppError> {
    if state.is_redacted() {
        return Err(refuse("This identity has been redacted and can no longer be changed."));
    }
    if state.is_merged() {
        return Err(refuse("This identity has been merged into another identity and can no longer be changed."));
    }
    Ok(())
}

/// Decides which events a command produces against the current state (None = does not exist yet).
pub fn decide(
    state: Option<&IdentityState>,
    command: IdentityCommand,
    _ctx: &Ctx,
) -> Result<Vec<IdentityEvent>, AppError> {
    use IdentityCommand as C;
    let Some(state) = state else {
        return match command {
            C::Create(created) => Ok(vec![IdentityEvent::Created(created)]),
            _ => Err(AppError::not_found("Identity")),
        };
    };
    match command {
        C::Create(_) => Err(AppError::Conflict("An identity with this id already exists.".into())),
        C::Update(update) => {
            ensure_writable(state)?;
            if let Some(Value::String(status)) = update.set.get("status") {
                if status == "redacted" || status == "merged" {
                    return Err(AppError::validation(
                        "status",
                        "cannot be set to redacted or merged; use the redact or merge endpoints",
                    ));
                }
            }
            if update.changed.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![IdentityEvent::Updated(update)])
        }
        C::Redact => {
            if state.is_redacted() {
                return Err(refuse("This identity has already been redacted."));
            }
            Ok(vec![IdentityEvent::Redacted])
        }
        C::SetTags(tags) => {
            ensure_writable(state)?;
            Ok(tag_change(state, tags.into_iter().map(String::from).collect()))
        }
        C::AddTag(tag) => {
            ensure_writable(state)?;
            let tag = tag.into_string();
            let mut tags = state.tags.clone();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
            if tags.len() > super::values::MAX_TAGS {
                return Err(AppError::Validation {
                    detail: "An identity can carry at most 50 tags.".into(),
                    errors: vec![FieldError::new("tag", "at most 50 tags per identity")],
                });
            }
            Ok(tag_change(state, tags))
        }
        C::RemoveTag(tag) => {
            ensure_writable(state)?;
            let tag = tag.into_string();
            let tags = state.tags.iter().filter(|t| **t != tag).cloned().collect();
            Ok(tag_change(state, tags))
        }
        C::Archive => {
            if state.is_redacted() {
                return Err(refuse("A redacted identity cannot be archived."));
            }
            if state.archived {
                return Err(refuse("This identity is already archived."));
            }
            let mut events = vec![IdentityEvent::Archived];
            if state.monitoring_enabled {
                events.push(IdentityEvent::MonitoringPaused(MonitoringPaused { reason: "archived".into() }));
            }
            Ok(events)
        }
        C::Restore => {
            if !state.archived {
                return Err(refuse("This identity is not archived."));
            }
            let resume = state.monitoring_paused_reason.as_deref() == Some("archived");
            Ok(vec![IdentityEvent::Restored(Restored { monitoring_resumed: resume })])
        }
        C::PauseMonitoring => {
            ensure_writable(state)?;
            if state.monitoring_paused_reason.as_deref() == Some("manual") {
                return Ok(Vec::new());
            }
            Ok(vec![IdentityEvent::MonitoringPaused(MonitoringPaused { reason: "manual".into() })])
        }
        C::ResumeMonitoring => {
            ensure_writable(state)?;
            if state.archived {
                return Err(refuse("Monitoring of an archived identity resumes when it is restored."));
            }
            if state.monitoring_enabled {
                return Ok(Vec::new());
            }
            Ok(vec![IdentityEvent::MonitoringResumed])
        }
        C::SetCustomFields(set) => {
            ensure_writable(state)?;
            if set.changed.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![IdentityEvent::CustomFieldsSet(set)])
        }
        C::MergeInto { into, redact } => {
            if state.is_redacted() {
                return Err(refuse("A redacted identity cannot be merged."));
            }
            if state.is_merged() {
                return Err(refuse("This identity has already been merged."));
            }
            if state.id == into {
                return Err(AppError::validation("secondary_identity_id", "must differ from primary_identity_id"));
            }
            Ok(vec![IdentityEvent::Merged(Merged { into, redacted: redact })])
        }
        C::Absorb { from, custom_fields } => {
            ensure_writable(state)?;
            let mut tags = state.tags.clone();
            for t in &from.tags {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
            tags.truncate(super::values::MAX_TAGS);
            Ok(vec![IdentityEvent::Absorbed(Absorbed {
                from: from.id.clone(),
                tags,
                session_count: from.session_count,
                custom_fields,
            })])
        }
        C::RecordExport => Ok(vec![IdentityEvent::Exported]),
        C::ApplyVerification(v) => {
            if state.is_redacted() || state.is_merged() {
                // The person asked to be forgotten (or lives on elsewhere): the session result stays on the
                // session only.
                return Ok(Vec::new());
            }
            Ok(vec![IdentityEvent::Verified(v)])
        }
        C::RecordScreening(s) => {
            if state.is_redacted() || state.is_merged() {
                return Ok(Vec::new());
            }
            Ok(vec![IdentityEvent::Screened(s)])
        }
        C::SetMonitoredLists(list_ids) => {
            ensure_writable(state)?;
            Ok(vec![IdentityEvent::MonitoredListsSet(MonitoredListsSet { list_ids })])
        }
    }
}

fn tag_change(state: &IdentityState, tags: Vec<String>) -> Vec<IdentityEvent> {
    let added: Vec<String> = tags.iter().filter(|t| !state.tags.contains(t)).cloned().collect();
    let removed: Vec<String> = state.tags.iter().filter(|t| !tags.contains(t)).cloned().collect();
    if added.is_empty() && removed.is_empty() && tags == state.tags {
        return Vec::new();
    }
    vec![IdentityEvent::TagsChanged(TagsChanged { tags, added, removed })]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: &str) -> IdentityState {
        IdentityState {
            id: "idn_a".into(),
            version: 1,
            status: status.into(),
            external_ref: None,
            archived: false,
            merged_into: None,
            monitoring_enabled: true,
            monitoring_paused_reason: None,
            tags: vec!["vip".into()],
            identity_type_id: None,
            session_count: 0,
        }
    }

    fn ctx() -> Ctx {
        Ctx { now: "2026-01-01T00:00:00Z".into(), environment: "sandbox".into() }
    }

    #[test]
    fn a_redacted_identity_refuses_updates_and_a_second_redaction() {
        let s = state("redacted");
        let update = Updated { changed: vec!["first_name".into()], ..Default::default() };
        assert!(decide(Some(&s), IdentityCommand::Update(update), &ctx()).is_err());
        assert!(decide(Some(&s), IdentityCommand::Redact, &ctx()).is_err());
    }

    #[test]
    fn archiving_pauses_monitoring_and_restoring_resumes_only_that_pause() {
        let s = state("approved");
        let events = decide(Some(&s), IdentityCommand::Archive, &ctx()).unwrap();
        assert_eq!(events.len(), 2);
        let mut archived = s.clone();
        archived.archived = true;
        archived.monitoring_enabled = false;
        archived.monitoring_paused_reason = Some("manual".into());
        let events = decide(Some(&archived), IdentityCommand::Restore, &ctx()).unwrap();
        assert_eq!(events, vec![IdentityEvent::Restored(Restored { monitoring_resumed: false })]);
    }

    #[test]
    fn status_aliases_map_onto_the_seed_vocabulary() {
        assert_eq!(canonical_status("verified"), Some("approved"));
        assert_eq!(canonical_status("needs_review"), Some("under_review"));
        assert_eq!(canonical_status("bogus"), None);
    }
}
