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
