//! Documents (spec §1.3.1): the document aggregate (standalone uploads, and session uploads once
//! something happens to them as documents), its events, state, commands and `decide`, the vocabulary of
//! document types, proof-of-address kinds, statuses and check outcomes, and the document checks
//! (classification match, recency, MRZ check digits) computed from the state and the rules of the
//! document's group and custom type. Bytes and extracted values arrive here already sealed.
//! Must not read the database, the clock, or open sealed values.

use super::Ctx;
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The built-in document types (the session upload slots).
pub const BUILTIN_TYPES: &[&str] = &["id_front", "id_back", "selfie", "proof_of_address"];
pub const PROOF_OF_ADDRESS: &str = "proof_of_address";
pub const POA_TYPES: &[&str] = &["utility_bill", "bank_statement"];

/// Where a document came from: `POST /documents`, or a session upload.
pub const SOURCE_API: &str = "api";
pub const SOURCE_SESSION: &str = "session";

/// Document statuses: uploaded and not yet checked, every required check passed, a required check
/// failed, erased.
pub const STATUS_PENDING: &str = "pending";
pub const STATUS_VERIFIED: &str = "verified";
pub const STATUS_FAILED: &str = "failed";
pub const STATUS_REDACTED: &str = "redacted";
pub const STATUSES: &[&str] = &[STATUS_PENDING, STATUS_VERIFIED, STATUS_FAILED, STATUS_REDACTED];

/// Check outcomes.
pub const PASSED: &str = "passed";
pub const FAILED: &str = "failed";
pub const SKIPPED: &str = "skipped";

/// The checks a document gets, in the order they are reported.
pub const CHECK_NAMES: &[&str] = &["file_integrity", "classification_match", "recency", "mrz_check_digits"];

/// A classification at or above this confidence that contradicts the declared type fails the document.
pub const CLASSIFICATION_TRUST: f64 = 0.6;

pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A standalone upload, or the first document event of a session upload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Uploaded {
    pub source: String,
    pub session_id: Option<String>,
    pub identity_id: Option<String>,
    /// Whose data key seals the bytes and the extracted values (the identity, the session, or the
    /// document itself).
    pub subject_id: String,
    pub document_type: String,
    pub mime_type: String,
    pub size_bytes: i64,
    pub page_count: u32,
    pub blob_id: String,
    pub poa_document_type: Option<String>,
    pub poa_document_date: Option<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Updated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub poa_document_type: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub poa_document_date: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl Updated {
    pub fn is_empty(&self) -> bool {
        *self == Updated::default()
    }
}

/// What the file looks like: a classification and the facts (names only) behind it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Classified {
    pub classification: String,
    pub confidence: f64,
    pub signals: Vec<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub page_count: u32,
}

/// One extraction run. `data` is the field map sealed under the subject's key (base64); only the field
/// names are in clear.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Extracted {
    pub extraction_id: String,
    pub sources: Vec<String>,
    pub fields: Vec<String>,
    pub data: Option<String>,
    pub confidence: Option<f64>,
    /// Whether the MRZ's check digits held (None without an MRZ).
    pub mrz_valid: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckOutcome {
    pub name: String,
    pub status: String,
    /// Why it failed or was skipped (never document content).
    pub reason: Option<String>,
    /// `required` or `optional` (an optional failure does not fail the document).
    pub requirement: String,
}

/// The document checks finished: the document's new status and each check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checked {
    pub status: String,
    pub checks: Vec<CheckOutcome>,
    /// The document group whose rules applied.
    pub group_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Redacted {
    pub blob_removed: bool,
    pub key_destroyed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DocumentEvent {
    Uploaded(Uploaded),
    Updated(Updated),
    Classified(Classified),
    Extracted(Extracted),
    Checked(Checked),
    Redacted(Redacted),
}

/// The newest version of every document event.
pub const DOCUMENT_EVENT_VERSION: i64 = 1;

impl DocumentEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            DocumentEvent::Uploaded(_) => "DocumentUploaded",
            DocumentEvent::Updated(_) => "DocumentUpdated",
            DocumentEvent::Classified(_) => "DocumentClassified",
            DocumentEvent::Extracted(_) => "DocumentExtracted",
            DocumentEvent::Checked(_) => "DocumentChecked",
            DocumentEvent::Redacted(_) => "DocumentRedacted",
        }
    }

    pub fn version(&self) -> i64 {
        DOCUMENT_EVENT_VERSION
    }

    pub fn payload(&self) -> Value {
        let v = match self {
            DocumentEvent::Uploaded(e) => serde_json::to_value(e),
            DocumentEvent::Updated(e) => serde_json::to_value(e),
            DocumentEvent::Classified(e) => serde_json::to_value(e),
            DocumentEvent::Extracted(e) => serde_json::to_value(e),
            DocumentEvent::Checked(e) => serde_json::to_value(e),
            DocumentEvent::Redacted(e) => serde_json::to_value(e),
        };
        v.unwrap_or(Value::Null)
    }

    /// Decodes a stored event; types of other aggregates give `None`.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use super::codec;
        let known = [
            "DocumentUploaded",
            "DocumentUpdated",
            "DocumentClassified",
            "DocumentExtracted",
            "DocumentChecked",
            "DocumentRedacted",
        ];
        if !known.contains(&event_type) {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, DOCUMENT_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "DocumentUploaded" => DocumentEvent::Uploaded(codec::payload(event_type, p)?),
            "DocumentUpdated" => DocumentEvent::Updated(codec::payload(event_type, p)?),
            "DocumentClassified" => DocumentEvent::Classified(codec::payload(event_type, p)?),
            "DocumentExtracted" => DocumentEvent::Extracted(codec::payload(event_type, p)?),
            "DocumentChecked" => DocumentEvent::Checked(codec::payload(event_type, p)?),
            _ => DocumentEvent::Redacted(codec::payload(event_type, p)?),
        }))
    }
}

/// What `decide` knows about an existing document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocumentState {
    pub id: String,
    pub version: i64,
    pub source: String,
    pub document_type: String,
    pub mime_type: String,
    pub poa_document_type: Option<String>,
    pub poa_document_date: Option<String>,
    pub classification: Option<(String, f64)>,
    pub mrz_valid: Option<bool>,
    pub redacted: bool,
}

impl DocumentState {
    /// The state right after an upload event.
    pub fn from_upload(id: &str, u: &Uploaded) -> Self {
        DocumentState {
            id: id.to_string(),
            version: 0,
            source: u.source.clone(),
            document_type: u.document_type.clone(),
            mime_type: u.mime_type.clone(),
            poa_document_type: u.poa_document_type.clone(),
            poa_document_date: u.poa_document_date.clone(),
            ..DocumentState::default()
        }
    }

    pub fn apply(&mut self, e: &DocumentEvent) {
        match e {
            DocumentEvent::Uploaded(u) => {
                *self = DocumentState { version: self.version, ..Self::from_upload(&self.id, u) }
            }
            DocumentEvent::Updated(u) => {
                if let Some(t) = &u.document_type {
                    self.document_type = t.clone();
                }
                if let Some(t) = &u.poa_document_type {
                    self.poa_document_type = t.clone();
                }
                if let Some(d) = &u.poa_document_date {
                    self.poa_document_date = d.clone();
                }
            }
            DocumentEvent::Classified(c) => self.classification = Some((c.classification.clone(), c.confidence)),
            DocumentEvent::Extracted(x) => self.mrz_valid = x.mrz_valid,
            DocumentEvent::Checked(_) => {}
            DocumentEvent::Redacted(_) => self.redacted = true,
        }
        self.version += 1;
    }
}

/// The rules that apply to one document: its group's recency limit and its custom type's check suite
/// (`check name -> required | optional | disabled`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    pub group_id: Option<String>,
    pub max_age_days: Option<i64>,
    pub suite: BTreeMap<String, String>,
    /// Whether the type is a built-in one (a custom type has no expected classification).
    pub builtin: bool,
}

pub enum DocumentCommand {
    /// A standalone upload with the first classification and extraction.
    Upload {
        uploaded: Box<Uploaded>,
        classified: Classified,
        extracted: Extracted,
    },
    Update {
        update: Updated,
        expected_version: Option<i64>,
    },
    Classify(Classified),
    Extract(Extracted),
    Redact {
        blob_removed: bool,
        key_destroyed: bool,
    },
}

/// The classifications that agree with a declared built-in type.
fn agrees(document_type: &str, classification: &str) -> bool {
    match document_type {
        "id_front" => matches!(classification, "id_front" | "drivers_license_front" | "passport"),
        "id_back" => matches!(classification, "id_back" | "drivers_license_back"),
        other => other == classification,
    }
}

fn date(text: &str) -> Option<time::Date> {
    time::Date::parse(text.get(..10)?, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// The document checks on a state, under `rules`, on the day `today` (`YYYY-MM-DD...`).
pub fn run_checks(s: &DocumentState, rules: &Rules, today: &str) -> Checked {
    let mut out = Vec::new();
    let mut push = |name: &str, status: &str, reason: Option<String>| {
        let requirement = rules.suite.get(name).cloned().unwrap_or_else(|| "required".into());
        if requirement != "disabled" {
            out.push(CheckOutcome { name: name.into(), status: status.into(), reason, requirement });
        }
    };
    push("file_integrity", PASSED, None);
    match &s.classification {
        _ if !rules.builtin => push("classification_match", SKIPPED, Some("custom document type".into())),
        Some((c, conf)) if *conf >= CLASSIFICATION_TRUST && !agrees(&s.document_type, c) => push(
            "classification_match",
            FAILED,
            Some(format!("the file looks like a {c} (confidence {conf:.2}), not a {}", s.document_type)),
        ),
        Some((c, conf)) if *conf >= CLASSIFICATION_TRUST => {
            push("classification_match", PASSED, Some(format!("classified as {c}")))
        }
        _ => push("classification_match", SKIPPED, Some("no confident classification".into())),
    }
    let future = match (s.poa_document_date.as_deref().and_then(date), date(today)) {
        (Some(d), Some(t)) if d > t => Some(d),
        _ => None,
    };
    if let Some(d) = future {
        push("recency", FAILED, Some(format!("dated {d}, after today")));
    } else if s.document_type == PROOF_OF_ADDRESS || s.poa_document_date.is_some() {
        match (rules.max_age_days, s.poa_document_date.as_deref().and_then(date), date(today)) {
            (None, _, _) => push("recency", SKIPPED, Some("no document group sets a recency rule".into())),
            (Some(_), None, _) | (_, _, None) => push("recency", SKIPPED, Some("no poa_document_date".into())),
            (Some(max), Some(d), Some(t)) => {
                let age = (t - d).whole_days();
                if age > max {
                    push("recency", FAILED, Some(format!("dated {d}, {age} days old; at most {max} days allowed")))
                } else {
                    push("recency", PASSED, Some(format!("{age} days old; at most {max} days allowed")))
                }
            }
        }
    }
    match s.mrz_valid {
        Some(true) => push("mrz_check_digits", PASSED, None),
        Some(false) => push("mrz_check_digits", FAILED, Some("an MRZ check digit does not hold".into())),
        None => {}
    }
    let failed = out.iter().any(|c| c.status == FAILED && c.requirement == "required");
    Checked {
        status: if failed { STATUS_FAILED } else { STATUS_VERIFIED }.into(),
        checks: out,
        group_id: rules.group_id.clone(),
    }
}

/// The proof-of-address fields of a document as it will be: a proof of address needs its kind (a 422 on
/// upload, a 409 when an update would leave it without one); any other type may carry them too (a custom
/// address document). A date after today is accepted; the `recency` check fails it.
fn check_poa(
    document_type: &str,
    poa_type: &Option<String>,
    poa_date: &Option<String>,
    conflict: bool,
) -> Result<(), AppError> {
    if document_type == PROOF_OF_ADDRESS && poa_type.is_none() {
        let message = "is required for a proof_of_address document";
        return Err(if conflict {
            AppError::Conflict(format!("poa_document_type {message}."))
        } else {
            AppError::validation("poa_document_type", message)
        });
    }
    if let Some(t) = poa_type {
        if !POA_TYPES.contains(&t.as_str()) {
            return Err(AppError::validation("poa_document_type", "must be utility_bill or bank_statement"));
        }
    }
    if let Some(d) = poa_date {
        if date(d).is_none() {
            return Err(AppError::validation("poa_document_date", "must be a date YYYY-MM-DD"));
        }
    }
    Ok(())
}

fn check_metadata(m: &Map<String, Value>) -> Result<(), AppError> {
    if serde_json::to_string(m).map(|s| s.len()).unwrap_or(usize::MAX) > MAX_METADATA_BYTES {
        return Err(AppError::validation("metadata", format!("must be at most {MAX_METADATA_BYTES} bytes of JSON")));
    }
    Ok(())
}

/// Decides the events of a command (`None` = no such document). `rules` are those that apply after the
/// command (the command layer reads them for the document's type as it will be).
pub fn decide(
    state: Option<&DocumentState>,
    command: DocumentCommand,
    rules: &Rules,
    ctx: &Ctx,
) -> Result<Vec<DocumentEvent>, AppError> {
    use DocumentCommand as C;
    let Some(state) = state else {
        return match command {
            C::Upload { uploaded, classified, extracted } => {
                check_poa(&uploaded.document_type, &uploaded.poa_document_type, &uploaded.poa_document_date, false)?;
                check_metadata(&uploaded.metadata)?;
                let mut s = DocumentState::from_upload("", &uploaded);
                let mut events = vec![
                    DocumentEvent::Uploaded(*uploaded),
                    DocumentEvent::Classified(classified),
                    DocumentEvent::Extracted(extracted),
                ];
                for e in &events {
                    s.apply(e);
                }
                events.push(DocumentEvent::Checked(run_checks(&s, rules, &ctx.now)));
                Ok(events)
            }
            _ => Err(AppError::not_found("Document")),
        };
    };
    if state.redacted {
        return match command {
            C::Redact { .. } => Ok(Vec::new()),
            _ => Err(AppError::Conflict("This document has been redacted.".into())),
        };
    }
    let mut next = state.clone();
    let mut events = match command {
        C::Upload { .. } => return Err(AppError::Conflict("A document with this id already exists.".into())),
        C::Update { update, expected_version } => {
            if let Some(v) = expected_version {
                if v != state.version {
                    return Err(AppError::Conflict(format!(
                        "The document is at version {}, not {v}; read it again before changing it.",
                        state.version
                    )));
                }
            }
            if update.document_type.is_some() && state.source == SOURCE_SESSION {
                return Err(AppError::Conflict(
                    "A session document's type is its upload slot; upload it again to the session instead.".into(),
                ));
            }
            if let Some(m) = &update.metadata {
                check_metadata(m)?;
            }
            if update.is_empty() {
                return Ok(Vec::new());
            }
            let e = DocumentEvent::Updated(update);
            next.apply(&e);
            check_poa(&next.document_type, &next.poa_document_type, &next.poa_document_date, true)?;
            vec![e]
        }
        C::Classify(c) => {
            let e = DocumentEvent::Classified(c);
            next.apply(&e);
            vec![e]
        }
        C::Extract(x) => {
            let e = DocumentEvent::Extracted(x);
            next.apply(&e);
            vec![e]
        }
        C::Redact { blob_removed, key_destroyed } => {
            if state.source == SOURCE_SESSION {
                return Err(AppError::Conflict(
                    "A session's documents are redacted with the session: DELETE /sessions/{id}/data.".into(),
                ));
            }
            return Ok(vec![DocumentEvent::Redacted(Redacted { blob_removed, key_destroyed })]);
        }
    };
    if !matches!(events.first(), Some(DocumentEvent::Classified(_))) {
        events.push(DocumentEvent::Checked(run_checks(&next, rules, &ctx.now)));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Ctx {
        Ctx { now: "2026-06-30T12:00:00.000Z".into(), environment: "sandbox".into() }
    }

    fn uploaded(t: &str) -> Uploaded {
        Uploaded {
            source: SOURCE_API.into(),
            session_id: None,
            identity_id: None,
            subject_id: "doc_1".into(),
            document_type: t.into(),
            mime_type: "application/pdf".into(),
            size_bytes: 10,
            page_count: 1,
            blob_id: "blob_1".into(),
            poa_document_type: (t == PROOF_OF_ADDRESS).then(|| "utility_bill".into()),
            poa_document_date: (t == PROOF_OF_ADDRESS).then(|| "2026-01-01".into()),
            metadata: Map::new(),
        }
    }

    fn classified(c: &str, confidence: f64) -> Classified {
        Classified { classification: c.into(), confidence, signals: vec![], width: None, height: None, page_count: 1 }
    }

    fn extracted() -> Extracted {
        Extracted {
            extraction_id: "dext_1".into(),
            sources: vec![],
            fields: vec![],
            data: None,
            confidence: None,
            mrz_valid: None,
        }
    }

    fn upload(t: &str, rules: &Rules) -> Result<Vec<DocumentEvent>, AppError> {
        let c = DocumentCommand::Upload {
            uploaded: Box::new(uploaded(t)),
            classified: classified("proof_of_address", 0.6),
            extracted: extracted(),
        };
        decide(None, c, rules, &ctx())
    }

    fn checked(events: &[DocumentEvent]) -> Checked {
        match events.last() {
            Some(DocumentEvent::Checked(c)) => c.clone(),
            other => panic!("last event is not Checked: {other:?}"),
        }
    }

    #[test]
    fn an_old_proof_of_address_fails_recency_under_its_groups_rule() {
        let rules = Rules { max_age_days: Some(90), builtin: true, ..Rules::default() };
        let c = checked(&upload(PROOF_OF_ADDRESS, &rules).unwrap());
        assert_eq!(c.status, STATUS_FAILED);
        let recency = c.checks.iter().find(|c| c.name == "recency").unwrap();
        assert_eq!(recency.status, FAILED);
        assert!(recency.reason.as_deref().unwrap().contains("180 days old"), "{recency:?}");
        let lenient = Rules { max_age_days: Some(365), builtin: true, ..Rules::default() };
        assert_eq!(checked(&upload(PROOF_OF_ADDRESS, &lenient).unwrap()).status, STATUS_VERIFIED);
        let optional = Rules { suite: BTreeMap::from([("recency".to_string(), "optional".to_string())]), ..rules };
        assert_eq!(checked(&upload(PROOF_OF_ADDRESS, &optional).unwrap()).status, STATUS_VERIFIED);
    }

    #[test]
    fn a_proof_of_address_needs_its_kind_and_other_types_may_carry_the_fields() {
        let mut u = uploaded(PROOF_OF_ADDRESS);
        u.poa_document_type = None;
        let c = DocumentCommand::Upload {
            uploaded: Box::new(u),
            classified: classified("other", 0.1),
            extracted: extracted(),
        };
        assert!(matches!(decide(None, c, &Rules::default(), &ctx()), Err(AppError::Validation { .. })));
        let mut u = uploaded("id_front");
        u.poa_document_date = Some("2026-01-01".into());
        let c = DocumentCommand::Upload {
            uploaded: Box::new(u),
            classified: classified("other", 0.1),
            extracted: extracted(),
        };
        assert!(decide(None, c, &Rules::default(), &ctx()).is_ok(), "other types may carry the date");
        let mut u = uploaded(PROOF_OF_ADDRESS);
        u.poa_document_date = Some("2027-01-01".into());
        let c = DocumentCommand::Upload {
            uploaded: Box::new(u),
            classified: classified("other", 0.1),
            extracted: extracted(),
        };
        let events = decide(None, c, &Rules::default(), &ctx()).unwrap();
        let recency = checked(&events).checks.into_iter().find(|c| c.name == "recency").unwrap();
        assert_eq!(recency.status, FAILED, "a future date is accepted and fails recency: {recency:?}");
    }

    #[test]
    fn an_update_that_leaves_a_wrong_combination_is_a_conflict() {
        let s = DocumentState::from_upload("doc_1", &uploaded(PROOF_OF_ADDRESS));
        let clear = Updated { poa_document_type: Some(None), ..Updated::default() };
        let c = DocumentCommand::Update { update: clear, expected_version: None };
        assert!(matches!(decide(Some(&s), c, &Rules::default(), &ctx()), Err(AppError::Conflict(_))));
    }

    #[test]
    fn a_confident_contradicting_classification_fails_and_a_guess_does_not() {
        let rules = Rules { builtin: true, ..Rules::default() };
        let mut s = DocumentState::from_upload("doc_1", &uploaded("selfie"));
        s.classification = Some(("drivers_license_back".into(), 0.9));
        assert_eq!(run_checks(&s, &rules, "2026-01-01").status, STATUS_FAILED);
        s.classification = Some(("id_front".into(), 0.4));
        assert_eq!(run_checks(&s, &rules, "2026-01-01").status, STATUS_VERIFIED);
        s.document_type = "id_back".into();
        s.classification = Some(("drivers_license_back".into(), 0.9));
        assert_eq!(run_checks(&s, &rules, "2026-01-01").status, STATUS_VERIFIED);
    }

    #[test]
    fn updates_are_version_checked_and_session_documents_keep_their_type() {
        let s = DocumentState { version: 4, ..DocumentState::from_upload("doc_1", &uploaded("id_front")) };
        let update = Updated { metadata: Some(Map::from_iter([("a".to_string(), json!(1))])), ..Updated::default() };
        let stale = DocumentCommand::Update { update: update.clone(), expected_version: Some(3) };
        assert!(matches!(decide(Some(&s), stale, &Rules::default(), &ctx()), Err(AppError::Conflict(_))));
        let ok = DocumentCommand::Update { update, expected_version: Some(4) };
        assert_eq!(decide(Some(&s), ok, &Rules::default(), &ctx()).unwrap().len(), 2);
        let session = DocumentState { source: SOURCE_SESSION.into(), ..s.clone() };
        let retype = Updated { document_type: Some("selfie".into()), ..Updated::default() };
        let c = DocumentCommand::Update { update: retype, expected_version: None };
        assert!(decide(Some(&session), c, &Rules::default(), &ctx()).is_err());
        let redact = DocumentCommand::Redact { blob_removed: true, key_destroyed: false };
        assert!(decide(Some(&session), redact, &Rules::default(), &ctx()).is_err());
    }

    #[test]
    fn redaction_is_final_and_repeating_it_changes_nothing() {
        let s = DocumentState { redacted: true, ..DocumentState::from_upload("doc_1", &uploaded("id_front")) };
        let redact = DocumentCommand::Redact { blob_removed: true, key_destroyed: true };
        assert_eq!(decide(Some(&s), redact, &Rules::default(), &ctx()).unwrap(), vec![]);
        assert!(
            decide(Some(&s), DocumentCommand::Classify(classified("other", 0.1)), &Rules::default(), &ctx()).is_err()
        );
    }

    #[test]
    fn events_round_trip_through_their_payloads() {
        let events = upload(PROOF_OF_ADDRESS, &Rules::default()).unwrap();
        for e in events.into_iter().chain([
            DocumentEvent::Updated(Updated { poa_document_date: Some(None), ..Updated::default() }),
            DocumentEvent::Redacted(Redacted { blob_removed: true, key_destroyed: true }),
        ]) {
            assert_eq!(DocumentEvent::decode(e.event_type(), 1, &e.payload()).unwrap().unwrap(), e);
        }
        assert!(DocumentEvent::decode("DocumentTypeCreated", 1, &json!({})).unwrap().is_none());
        assert!(DocumentEvent::decode("DocumentUploaded", 2, &json!({})).is_err());
    }
}
