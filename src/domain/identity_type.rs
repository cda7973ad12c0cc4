//! Identity types and their custom field definitions, and the validation of custom field values
//! against those definitions. Must not read the database (uniqueness lookups are passed in).

use crate::error::{AppError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const FIELD_TYPES: &[&str] = &["string", "number", "boolean", "date", "enum", "email", "phone", "url"];

/// The type of a custom field's values (spec §1.6.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Number,
    Boolean,
    Date,
    Enum,
    Email,
    Phone,
    Url,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Enum => "enum",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
        }
    }

    /// The type of a stored definition (written as one of `FIELD_TYPES`).
    pub fn from_stored(text: &str) -> FieldType {
        serde_json::from_value(Value::String(text.to_string())).unwrap_or(FieldType::String)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdentityTypeCreated {
    pub id: String,
    pub name: String,
    pub label: String,
    pub description: Option<String>,
    pub statuses: Vec<String>,
    pub default_status: Option<String>,
    pub is_default: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct IdentityTypeUpdated {
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub description: Option<Option<String>>,
    pub statuses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub default_status: Option<Option<String>>,
    pub is_default: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldDefinition {
    pub id: String,
    pub identity_type_id: String,
    pub name: String,
    pub label: String,
    pub field_type: String,
    pub is_required: bool,
    pub is_unique: bool,
    pub is_encrypted: bool,
    pub enum_values: Option<Vec<String>>,
    pub validation_regex: Option<String>,
    pub sort_order: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct FieldDefinitionUpdated {
    pub id: String,
    pub label: Option<String>,
    pub is_required: Option<bool>,
    pub is_unique: Option<bool>,
    pub sort_order: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub validation_regex: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub enum_values: Option<Option<Vec<String>>>,
}

pub fn check_slug(field: &str, name: &str) -> Result<(), AppError> {
    let ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(field, "must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'"))
    }
}

pub fn check_definition(def: &FieldDefinition) -> Result<(), AppError> {
    check_slug("name", &def.name)?;
    if !FIELD_TYPES.contains(&def.field_type.as_str()) {
        return Err(AppError::validation("field_type", format!("must be one of {}", FIELD_TYPES.join(", "))));
    }
    if def.field_type == "enum" && def.enum_values.as_ref().is_none_or(|v| v.is_empty()) {
        return Err(AppError::validation("enum_values", "an enum field needs at least one value"));
    }
    if let Some(re) = &def.validation_regex {
        if regex::Regex::new(re).is_err() {
            return Err(AppError::validation("validation_regex", "is not a valid regular expression"));
        }
    }
    if def.is_unique && def.is_encrypted {
        // Sealed values cannot be compared without opening every one of them.
        return Err(AppError::validation("is_unique", "an encrypted field cannot also be unique"));
    }
    Ok(())
}

/// Validates one value against its definition; returns the canonical JSON value.
pub fn check_value(def: &FieldDefinition, value: &Value) -> Result<Value, FieldError> {
    let field = format!("custom_fields.{}", def.name);
    let err = |m: &str| FieldError::new(field.clone(), m.to_string());
    if value.is_null() {
        if def.is_required {
            return Err(err("is required"));
        }
        return Ok(Value::Null);
    }
    let text = value.as_str();
    match def.field_type.as_str() {
        "number" if !value.is_number() => return Err(err("must be a number")),
        "boolean" if !value.is_boolean() => return Err(err("must be true or false")),
        "string" | "date" | "enum" | "email" | "phone" | "url" if text.is_none() => {
            return Err(err("must be a string"))
        }
        _ => {}
    }
    if let Some(t) = text {
        match def.field_type.as_str() {
            "date" if super::values::parse_date(&field, t).is_err() => return Err(err("must be a date YYYY-MM-DD")),
            "email" if super::values::parse_email(&field, t).is_err() => return Err(err("must be an email address")),
            "phone" if super::values::parse_phone(&field, t).is_err() => return Err(err("must be a phone number")),
            "url" if !(t.starts_with("https://") || t.starts_with("http://")) => {
                return Err(err("must be an http(s) URL"))
            }
            "enum" if !def.enum_values.as_ref().is_some_and(|v| v.iter().any(|e| e == t)) => {
                return Err(err("must be one of the field's enum_values"))
            }
            _ => {}
        }
        if let Some(re) = &def.validation_regex {
            if let Ok(re) = regex::Regex::new(re) {
                if !re.is_match(t) {
                    return Err(err("does not match the field's validation_regex"));
                }
            }
        }
    }
    Ok(value.clone())
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldDeleted {
    pub id: String,
}

/// Identity-type events; custom-field definitions live on their type's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum IdentityTypeEvent {
    Created(IdentityTypeCreated),
    Updated(IdentityTypeUpdated),
    Deleted,
    FieldDefined(FieldDefinition),
    FieldUpdated(FieldDefinitionUpdated),
    FieldDeleted(FieldDeleted),
}

/// The newest version of every identity-type event.
pub const IDENTITY_TYPE_EVENT_VERSION: i64 = 1;

impl IdentityTypeEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            IdentityTypeEvent::Created(_) => "IdentityTypeCreated",
            IdentityTypeEvent::Updated(_) => "IdentityTypeUpdated",
            IdentityTypeEvent::Deleted => "IdentityTypeDeleted",
            IdentityTypeEvent::FieldDefined(_) => "CustomFieldDefined",
            IdentityTypeEvent::FieldUpdated(_) => "CustomFieldUpdated",
            IdentityTypeEvent::FieldDeleted(_) => "CustomFieldDeleted",
        }
    }

    pub fn version(&self) -> i64 {
        IDENTITY_TYPE_EVENT_VERSION
    }

    pub fn payload(&self) -> Value {
        let value = match self {
            IdentityTypeEvent::Created(e) => serde_json::to_value(e),
            IdentityTypeEvent::Updated(e) => serde_json::to_value(e),
            IdentityTypeEvent::Deleted => Ok(Value::Object(serde_json::Map::new())),
            IdentityTypeEvent::FieldDefined(e) => serde_json::to_value(e),
            IdentityTypeEvent::FieldUpdated(e) => serde_json::to_value(e),
            IdentityTypeEvent::FieldDeleted(e) => serde_json::to_value(e),
        };
        value.unwrap_or(Value::Null)
    }

    /// Decodes a stored event, upcasting older versions. Unknown types give `None`; an unknown version or
    /// a payload that does not fit is an error naming the event.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use crate::domain::codec;
        if !(event_type.starts_with("IdentityType") || event_type.starts_with("CustomField")) {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, IDENTITY_TYPE_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "IdentityTypeCreated" => IdentityTypeEvent::Created(codec::payload(event_type, p)?),
            "IdentityTypeUpdated" => IdentityTypeEvent::Updated(codec::payload(event_type, p)?),
            "IdentityTypeDeleted" => IdentityTypeEvent::Deleted,
            "CustomFieldDefined" => IdentityTypeEvent::FieldDefined(codec::payload(event_type, p)?),
            "CustomFieldUpdated" => IdentityTypeEvent::FieldUpdated(codec::payload(event_type, p)?),
            "CustomFieldDeleted" => IdentityTypeEvent::FieldDeleted(codec::payload(event_type, p)?),
            _ => return Ok(None),
        }))
    }
}

/// A stored field definition, as decisions need it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldState {
    pub id: String,
    pub name: String,
    pub field_type: String,
    pub enum_values: Option<Vec<String>>,
    pub is_encrypted: bool,
}

/// The decision-relevant state of one (not deleted) identity type, loaded from its view rows.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityTypeState {
    pub id: String,
    pub statuses: Vec<String>,
    pub default_status: Option<String>,
    /// Live (not redacted or merged) identities of this type exist.
    pub in_use: bool,
    pub fields: Vec<FieldState>,
}

pub enum IdentityTypeCommand {
    /// `name_taken`: a live type of this name exists in the environment.
    Create {
        created: IdentityTypeCreated,
        name_taken: bool,
    },
    Update(IdentityTypeUpdated),
    Delete,
    DefineField(FieldDefinition),
    UpdateField(FieldDefinitionUpdated),
    DeleteField(String),
}

/// A status of the built-in lifecycle an identity may start in (not a custom status).
fn is_start_lifecycle(status: &str) -> bool {
    super::identity::canonical_status(status).is_some_and(|s| s != "redacted" && s != "merged")
}

/// The statuses with a custom default status added when it is not among them.
fn with_default_status(mut statuses: Vec<String>, default_status: Option<&str>) -> Result<Vec<String>, AppError> {
    for s in &statuses {
        check_slug("statuses", s)?;
    }
    if let Some(d) = default_status {
        if super::identity::canonical_status(d).is_some_and(|s| s == "redacted" || s == "merged") {
            return Err(AppError::validation("default_status", "must not be redacted or merged"));
        }
        if !is_start_lifecycle(d) && !statuses.iter().any(|s| s == d) {
            statuses.push(d.to_string());
        }
    }
    Ok(statuses)
}

fn field<'a>(state: &'a IdentityTypeState, id: &str) -> Result<&'a FieldState, AppError> {
    state.fields.iter().find(|f| f.id == id).ok_or_else(|| AppError::not_found("Custom field"))
}

pub fn decide(
    state: Option<&IdentityTypeState>,
    command: IdentityTypeCommand,
) -> Result<Vec<IdentityTypeEvent>, AppError> {
    use IdentityTypeCommand as C;
    let Some(state) = state else {
        return match command {
            C::Create { mut created, name_taken } => {
                check_slug("name", &created.name)?;
                created.statuses =
                    with_default_status(std::mem::take(&mut created.statuses), created.default_status.as_deref())?;
                if name_taken {
                    return Err(AppError::Conflict(format!(
                        "An identity type named '{}' already exists.",
                        created.name
                    )));
                }
                Ok(vec![IdentityTypeEvent::Created(created)])
            }
            _ => Err(AppError::not_found("Identity type")),
        };
    };
    match command {
        C::Create { .. } => Err(AppError::Conflict("An identity type with this id already exists.".into())),
        C::Update(mut update) => {
            match &update.default_status {
                Some(default) => {
                    let statuses = update.statuses.clone().unwrap_or_else(|| state.statuses.clone());
                    let merged = with_default_status(statuses.clone(), default.as_deref())?;
                    if merged != statuses || update.statuses.is_some() {
                        update.statuses = Some(merged);
                    }
                }
                None => {
                    if let Some(statuses) = update.statuses.clone() {
                        with_default_status(statuses.clone(), None)?;
                        if let Some(d) = state.default_status.as_deref() {
                            // Dropping the custom default status would leave new identities in a status the
                            // type no longer has.
                            if !is_start_lifecycle(d) && !statuses.iter().any(|s| s == d) {
                                return Err(AppError::Conflict(format!(
                                    "The type's default status '{d}' is not among the new statuses; \
                                     send a new default_status with them (or keep '{d}')."
                                )));
                            }
                        }
                    }
                }
            }
            Ok(vec![IdentityTypeEvent::Updated(update)])
        }
        C::Delete => {
            if state.in_use {
                return Err(AppError::Conflict(
                    "Identities of this type exist; reassign them before deleting the type.".into(),
                ));
            }
            Ok(vec![IdentityTypeEvent::Deleted])
        }
        C::DefineField(def) => {
            check_definition(&def)?;
            if state.fields.iter().any(|f| f.name == def.name) {
                return Err(AppError::Conflict(format!("A field named '{}' already exists on this type.", def.name)));
            }
            Ok(vec![IdentityTypeEvent::FieldDefined(def)])
        }
        C::UpdateField(update) => {
            let stored = field(state, &update.id)?;
            if update.is_unique == Some(true) && stored.is_encrypted {
                return Err(AppError::validation("is_unique", "an encrypted field cannot also be unique"));
            }
            if let Some(Some(re)) = &update.validation_regex {
                if regex::Regex::new(re).is_err() {
                    return Err(AppError::validation("validation_regex", "is not a valid regular expression"));
                }
            }
            let enums_after = update.enum_values.clone().unwrap_or_else(|| stored.enum_values.clone());
            if stored.field_type == "enum" && enums_after.as_ref().is_none_or(|v| v.is_empty()) {
                return Err(AppError::validation("enum_values", "an enum field needs at least one value"));
            }
            Ok(vec![IdentityTypeEvent::FieldUpdated(update)])
        }
        C::DeleteField(id) => {
            field(state, &id)?;
            Ok(vec![IdentityTypeEvent::FieldDeleted(FieldDeleted { id })])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state() -> IdentityTypeState {
        IdentityTypeState {
            id: "idtype_a".into(),
            statuses: vec!["vip_review".into()],
            default_status: Some("vip_review".into()),
            in_use: false,
            fields: vec![FieldState {
                id: "cfield_1".into(),
                name: "tier".into(),
                field_type: "enum".into(),
                enum_values: Some(vec!["gold".into()]),
                is_encrypted: false,
            }],
        }
    }

    #[test]
    fn a_custom_default_status_is_kept_among_the_statuses() {
        let created = IdentityTypeCreated {
            id: "idtype_a".into(),
            name: "customer".into(),
            label: "Customer".into(),
            description: None,
            statuses: vec![],
            default_status: Some("vip_review".into()),
            is_default: false,
        };
        let events = decide(None, IdentityTypeCommand::Create { created, name_taken: false }).unwrap();
        assert_eq!(events[0].payload()["statuses"], json!(["vip_review"]));
        let drop_default = IdentityTypeUpdated { statuses: Some(vec![]), ..Default::default() };
        assert!(matches!(
            decide(Some(&state()), IdentityTypeCommand::Update(drop_default)),
            Err(AppError::Conflict(_))
        ));
    }

    #[test]
    fn fields_are_checked_against_the_type_and_deleting_a_type_in_use_is_refused() {
        let update = FieldDefinitionUpdated { id: "cfield_1".into(), enum_values: Some(None), ..Default::default() };
        assert!(decide(Some(&state()), IdentityTypeCommand::UpdateField(update)).is_err());
        assert!(matches!(
            decide(Some(&state()), IdentityTypeCommand::DeleteField("cfield_9".into())),
            Err(AppError::NotFound(_))
        ));
        let events = decide(Some(&state()), IdentityTypeCommand::DeleteField("cfield_1".into())).unwrap();
        assert_eq!(events[0].payload(), json!({ "id": "cfield_1" }));
        assert_eq!(
            IdentityTypeEvent::decode("CustomFieldDeleted", 1, &events[0].payload()).unwrap().as_ref(),
            events.first()
        );
        let mut busy = state();
        busy.in_use = true;
        assert!(decide(Some(&busy), IdentityTypeCommand::Delete).is_err());
        assert!(IdentityTypeEvent::decode("IdentityTypeDeleted", 0, &json!({})).is_err());
    }
}
