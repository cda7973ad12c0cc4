//! Custom document types (spec §1.3.2) and document groups (§1.3.3): their aggregates (events, state,
//! commands, `decide`) and the rules of their settings: slugs, categories, `extraction_hints` (a label
//! rule or a regular expression per field, compiled here to refuse a bad one), `check_suite` tuples and
//! a group's `recency_config`. Must not read the database or the clock.

use crate::checks::document_facts::Hint;
use crate::error::{AppError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const CATEGORIES: &[&str] = &["financial", "corporate", "identity", "address", "vehicle", "government", "other"];
pub const REQUIREMENTS: &[&str] = &["required", "optional", "disabled"];
pub const MAX_SLUG: usize = 64;
pub const MAX_HINTS: usize = 50;
pub const MAX_HINT_LEN: usize = 500;
pub const MAX_SUITE: usize = 50;
pub const MAX_CLASSIFICATIONS: usize = 50;
/// Ten years: a longer recency window is no rule at all.
pub const MAX_AGE_DAYS: i64 = 3650;

/// A document type slug: `^[a-z0-9_-]+$`, at most 64 characters.
pub fn parse_slug(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_SLUG
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldError::new(field, "must be 1 to 64 characters of a-z, 0-9, '_' or '-'"))
    }
}

/// A document type slug (built-in or custom), validated at the boundary.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentTypeSlug(String);

impl DocumentTypeSlug {
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        parse_slug(field, text).map(DocumentTypeSlug)
    }
    pub fn from_stored(text: String) -> Self {
        DocumentTypeSlug(text)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

crate::domain::values::string_newtype_impls!(DocumentTypeSlug);

impl utoipa::PartialSchema for DocumentTypeSlug {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        crate::domain::values::schema_from(serde_json::json!({
            "type": "string", "minLength": 1, "maxLength": MAX_SLUG, "pattern": "^[a-z0-9_-]{1,64}$",
            "description": "A document type: a built-in one (id_front, id_back, selfie, proof_of_address) or the slug of a custom document type.",
            "examples": ["proof_of_address"],
        }))
    }
}

impl utoipa::ToSchema for DocumentTypeSlug {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("DocumentTypeSlug")
    }
}

/// One hint as stored: a string (label rule) or `{"label": ...}` / `{"regex": ...}`.
pub fn parse_hint(field: &str, value: &Value) -> Result<Hint, FieldError> {
    let too_long = || FieldError::new(field, format!("must be at most {MAX_HINT_LEN} characters"));
    let label = |t: &str| {
        let t = t.trim();
        if t.is_empty() {
            Err(FieldError::new(field, "must not be empty"))
        } else if t.chars().count() > MAX_HINT_LEN {
            Err(too_long())
        } else {
            Ok(Hint::Label(t.to_string()))
        }
    };
    match value {
        Value::String(t) => label(t),
        Value::Object(m) if m.len() == 1 => match (m.get("label"), m.get("regex")) {
            (Some(Value::String(t)), None) => label(t),
            (None, Some(Value::String(re))) => {
                if re.chars().count() > MAX_HINT_LEN {
                    return Err(too_long());
                }
                regex::RegexBuilder::new(re).size_limit(1 << 20).build().map(Hint::Pattern).map_err(|e| {
                    FieldError::new(field, format!("is not a valid regular expression: {}", first_line(&e.to_string())))
                })
            }
            _ => Err(FieldError::new(field, "must be a label string, {\"label\": text} or {\"regex\": pattern}")),
        },
        _ => Err(FieldError::new(field, "must be a label string, {\"label\": text} or {\"regex\": pattern}")),
    }
}

fn fe(e: FieldError) -> AppError {
    AppError::validation(&e.field, e.message)
}

fn first_line(text: &str) -> String {
    text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(text).trim().to_string()
}

/// Every hint of a map, compiled, in field-name order.
pub fn parse_hints(hints: &Map<String, Value>) -> Result<Vec<(String, Hint)>, AppError> {
    if hints.len() > MAX_HINTS {
        return Err(AppError::validation("extraction_hints", format!("at most {MAX_HINTS} fields")));
    }
    let mut out = Vec::new();
    for (name, hint) in hints {
        let field = format!("extraction_hints.{name}");
        crate::domain::values::parse_slug(&field, name).map_err(fe)?;
        out.push((name.clone(), parse_hint(&field, hint).map_err(fe)?));
    }
    Ok(out)
}

/// `[check_name, category, requirement]` tuples; the requirement is `required`, `optional` or `disabled`.
pub fn check_suite(suite: &[Vec<String>]) -> Result<(), AppError> {
    if suite.len() > MAX_SUITE {
        return Err(AppError::validation("check_suite", format!("at most {MAX_SUITE} entries")));
    }
    for (i, entry) in suite.iter().enumerate() {
        let field = format!("check_suite[{i}]");
        let [name, category, requirement] = entry.as_slice() else {
            return Err(AppError::validation(&field, "must be [check_name, category, requirement]"));
        };
        parse_slug(&field, name).map_err(fe)?;
        parse_slug(&field, category).map_err(fe)?;
        if !REQUIREMENTS.contains(&requirement.as_str()) {
            return Err(AppError::validation(&field, "requirement must be required, optional or disabled"));
        }
    }
    Ok(())
}

fn check_category(c: &str) -> Result<(), AppError> {
    if CATEGORIES.contains(&c) {
        Ok(())
    } else {
        Err(AppError::validation("category", format!("must be one of {}", CATEGORIES.join(", "))))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TypeCreated {
    pub slug: String,
    pub label: String,
    pub category: String,
    pub description: Option<String>,
    pub extraction_hints: Map<String, Value>,
    pub check_suite: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TypeUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction_hints: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_suite: Option<Vec<Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GroupCreated {
    pub name: String,
    pub description: Option<String>,
    pub classifications: Vec<String>,
    pub extraction_config: Map<String, Value>,
    pub check_config: Map<String, Value>,
    pub recency_config: Map<String, Value>,
    pub is_default: bool,
    pub priority: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct GroupUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifications: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extraction_config: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_config: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recency_config: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DocumentTypeEvent {
    TypeCreated(TypeCreated),
    TypeUpdated(TypeUpdated),
    TypeDeleted,
    GroupCreated(GroupCreated),
    GroupUpdated(GroupUpdated),
    GroupDeleted,
}

pub const DOCUMENT_TYPE_EVENT_VERSION: i64 = 1;

impl DocumentTypeEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            DocumentTypeEvent::TypeCreated(_) => "DocumentTypeCreated",
            DocumentTypeEvent::TypeUpdated(_) => "DocumentTypeUpdated",
            DocumentTypeEvent::TypeDeleted => "DocumentTypeDeleted",
            DocumentTypeEvent::GroupCreated(_) => "DocumentGroupCreated",
            DocumentTypeEvent::GroupUpdated(_) => "DocumentGroupUpdated",
            DocumentTypeEvent::GroupDeleted => "DocumentGroupDeleted",
        }
    }

    pub fn version(&self) -> i64 {
        DOCUMENT_TYPE_EVENT_VERSION
    }

    pub fn payload(&self) -> Value {
        let v = match self {
            DocumentTypeEvent::TypeCreated(e) => serde_json::to_value(e),
            DocumentTypeEvent::TypeUpdated(e) => serde_json::to_value(e),
            DocumentTypeEvent::GroupCreated(e) => serde_json::to_value(e),
            DocumentTypeEvent::GroupUpdated(e) => serde_json::to_value(e),
            DocumentTypeEvent::TypeDeleted | DocumentTypeEvent::GroupDeleted => Ok(Value::Object(Map::new())),
        };
        v.unwrap_or(Value::Null)
    }

    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use super::codec;
        if !(event_type.starts_with("DocumentType") || event_type.starts_with("DocumentGroup")) {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, DOCUMENT_TYPE_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "DocumentTypeCreated" => DocumentTypeEvent::TypeCreated(codec::payload(event_type, p)?),
            "DocumentTypeUpdated" => DocumentTypeEvent::TypeUpdated(codec::payload(event_type, p)?),
            "DocumentTypeDeleted" => DocumentTypeEvent::TypeDeleted,
            "DocumentGroupCreated" => DocumentTypeEvent::GroupCreated(codec::payload(event_type, p)?),
            "DocumentGroupUpdated" => DocumentTypeEvent::GroupUpdated(codec::payload(event_type, p)?),
            "DocumentGroupDeleted" => DocumentTypeEvent::GroupDeleted,
            _ => return Ok(None),
        }))
    }
}

fn check_recency(config: &Map<String, Value>) -> Result<(), AppError> {
    if let Some(v) = config.get("max_age_days") {
        match v.as_i64() {
            Some(d) if (1..=MAX_AGE_DAYS).contains(&d) => {}
            _ if v.is_null() => {}
            _ => {
                return Err(AppError::validation(
                    "recency_config.max_age_days",
                    format!("must be a whole number of days from 1 to {MAX_AGE_DAYS}"),
                ))
            }
        }
    }
    Ok(())
}

fn check_classifications(c: &[String]) -> Result<(), AppError> {
    if c.len() > MAX_CLASSIFICATIONS {
        return Err(AppError::validation("classifications", format!("at most {MAX_CLASSIFICATIONS} entries")));
    }
    for (i, t) in c.iter().enumerate() {
        parse_slug(&format!("classifications[{i}]"), t).map_err(fe)?;
    }
    Ok(())
}

pub enum DocumentTypeCommand {
    CreateType(TypeCreated),
    UpdateType(TypeUpdated),
    DeleteType,
    CreateGroup(GroupCreated),
    UpdateGroup(GroupUpdated),
    DeleteGroup,
}

/// Decides the events of a command on a type or group (`exists` = the stream has been created and not
/// deleted). Uniqueness of slugs is the command layer's (it needs the views).
pub fn decide(exists: bool, command: DocumentTypeCommand) -> Result<Vec<DocumentTypeEvent>, AppError> {
    use DocumentTypeCommand as C;
    use DocumentTypeEvent as E;
    match (exists, command) {
        (false, C::CreateType(t)) => {
            parse_slug("slug", &t.slug).map_err(fe)?;
            if crate::domain::document::BUILTIN_TYPES.contains(&t.slug.as_str()) {
                return Err(AppError::Conflict(format!("'{}' is a built-in document type.", t.slug)));
            }
            check_category(&t.category)?;
            parse_hints(&t.extraction_hints)?;
            check_suite(&t.check_suite)?;
            Ok(vec![E::TypeCreated(t)])
        }
        (false, C::CreateGroup(g)) => {
            check_classifications(&g.classifications)?;
            check_recency(&g.recency_config)?;
            Ok(vec![E::GroupCreated(g)])
        }
        (false, C::UpdateType(_) | C::DeleteType) => Err(AppError::not_found("Document type")),
        (false, C::UpdateGroup(_) | C::DeleteGroup) => Err(AppError::not_found("Document group")),
        (true, C::CreateType(_) | C::CreateGroup(_)) => Err(AppError::Conflict("This id exists already.".into())),
        (true, C::UpdateType(u)) => {
            if let Some(c) = &u.category {
                check_category(c)?;
            }
            if let Some(h) = &u.extraction_hints {
                parse_hints(h)?;
            }
            if let Some(s) = &u.check_suite {
                check_suite(s)?;
            }
            Ok(if u == TypeUpdated::default() { vec![] } else { vec![E::TypeUpdated(u)] })
        }
        (true, C::UpdateGroup(u)) => {
            if let Some(c) = &u.classifications {
                check_classifications(c)?;
            }
            if let Some(r) = &u.recency_config {
                check_recency(r)?;
            }
            Ok(if u == GroupUpdated::default() { vec![] } else { vec![E::GroupUpdated(u)] })
        }
        (true, C::DeleteType) => Ok(vec![E::TypeDeleted]),
        (true, C::DeleteGroup) => Ok(vec![E::GroupDeleted]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn created(hints: Value) -> TypeCreated {
        TypeCreated {
            slug: "bank_letter".into(),
            label: "Bank letter".into(),
            category: "financial".into(),
            description: None,
            extraction_hints: hints.as_object().cloned().unwrap_or_default(),
            check_suite: vec![vec!["recency".into(), "document".into(), "optional".into()]],
        }
    }

    #[test]
    fn hints_are_label_rules_or_regexes_and_a_bad_regex_names_its_field() {
        let ok = decide(
            false,
            DocumentTypeCommand::CreateType(created(json!({
                "account": "Account number", "iban": {"regex": "IBAN ([A-Z0-9 ]+)"}, "ref": {"label": "Ref"}
            }))),
        );
        assert_eq!(ok.unwrap().len(), 1);
        let bad = decide(false, DocumentTypeCommand::CreateType(created(json!({"iban": {"regex": "([A-Z"}}))));
        match bad {
            Err(AppError::Validation { errors, .. }) => assert_eq!(errors[0].field, "extraction_hints.iban"),
            other => panic!("{other:?}"),
        }
        assert!(decide(false, DocumentTypeCommand::CreateType(created(json!({"x": 3})))).is_err());
        assert!(decide(false, DocumentTypeCommand::CreateType(created(json!({"x": {"regex": "a", "label": "b"}}))))
            .is_err());
    }

    #[test]
    fn slugs_categories_and_suites_are_checked() {
        let mut t = created(json!({}));
        t.slug = "Bank Letter".into();
        assert!(decide(false, DocumentTypeCommand::CreateType(t)).is_err());
        let mut t = created(json!({}));
        t.slug = "selfie".into();
        assert!(decide(false, DocumentTypeCommand::CreateType(t)).is_err());
        let mut t = created(json!({}));
        t.category = "money".into();
        assert!(decide(false, DocumentTypeCommand::CreateType(t)).is_err());
        let mut t = created(json!({}));
        t.check_suite = vec![vec!["recency".into(), "document".into()]];
        assert!(decide(false, DocumentTypeCommand::CreateType(t)).is_err());
        let mut t = created(json!({}));
        t.check_suite = vec![vec!["recency".into(), "document".into(), "sometimes".into()]];
        assert!(decide(false, DocumentTypeCommand::CreateType(t)).is_err());
    }

    #[test]
    fn recency_days_must_be_in_range() {
        let group = |r: Value| GroupCreated {
            name: "PoA".into(),
            description: None,
            classifications: vec!["proof_of_address".into()],
            extraction_config: Map::new(),
            check_config: Map::new(),
            recency_config: r.as_object().cloned().unwrap(),
            is_default: false,
            priority: 0,
        };
        assert!(decide(false, DocumentTypeCommand::CreateGroup(group(json!({"max_age_days": 90})))).is_ok());
        assert!(decide(false, DocumentTypeCommand::CreateGroup(group(json!({"max_age_days": 0})))).is_err());
        assert!(decide(false, DocumentTypeCommand::CreateGroup(group(json!({"max_age_days": "90"})))).is_err());
        assert!(decide(true, DocumentTypeCommand::UpdateGroup(GroupUpdated::default())).unwrap().is_empty());
        assert!(matches!(decide(false, DocumentTypeCommand::DeleteGroup), Err(AppError::NotFound(_))));
    }

    #[test]
    fn events_round_trip() {
        for e in [
            DocumentTypeEvent::TypeCreated(created(json!({"a": "b"}))),
            DocumentTypeEvent::TypeUpdated(TypeUpdated { description: Some(None), ..TypeUpdated::default() }),
            DocumentTypeEvent::TypeDeleted,
            DocumentTypeEvent::GroupUpdated(GroupUpdated { priority: Some(3), ..GroupUpdated::default() }),
            DocumentTypeEvent::GroupDeleted,
        ] {
            assert_eq!(DocumentTypeEvent::decode(e.event_type(), 1, &e.payload()).unwrap().unwrap(), e);
        }
    }
}
