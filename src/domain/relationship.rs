//! Relationships between identities and custom relationship types: commands, events and rules
//! (system types are read-only through the API; links are bidirectional). Must not read the database.

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Detected by the server; never created or deleted through the API (spec §5.2).
pub const SYSTEM_TYPES: &[&str] = &[
    "same_document",
    "same_name_dob",
    "same_ssn",
    "same_device",
    "same_email",
    "same_phone",
    "same_address",
    "same_ip",
    "same_face",
    "same_document_face",
    "merged",
];

/// Built-in user types (spec §1.7.2).
pub const USER_TYPES: &[&str] = &[
    "user_linked",
    "same_household",
    "family_member",
    "business_associate",
    "authorized_representative",
    "power_of_attorney",
    "beneficial_owner",
    "related_account",
];

pub fn is_system_type(name: &str) -> bool {
    SYSTEM_TYPES.contains(&name)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RelationshipCreated {
    pub id: String,
    pub inverse_id: String,
    pub source_identity_id: String,
    pub related_identity_id: String,
    pub relationship_type: String,
    pub is_system: bool,
    pub note: Option<String>,
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RelationshipDeleted {
    pub id: String,
    pub inverse_id: String,
}

/// Rules for a user-requested link: a known, active, non-system type between two different identities.
/// An unknown type name is a 404 (it names nothing that exists); a self-link, a system type (kept by idv)
/// and an inactive custom type are refusals because of what the objects are: 409.
pub fn check_user_link(
    source: &str,
    related: &str,
    relationship_type: &str,
    custom_type_active: Option<bool>,
) -> Result<(), AppError> {
    if source == related {
        return Err(AppError::Conflict("An identity cannot be related to itself.".into()));
    }
    if is_system_type(relationship_type) {
        return Err(AppError::Conflict(format!(
            "'{relationship_type}' is a system relationship type, kept by idv; it cannot be created through the API."
        )));
    }
    if USER_TYPES.contains(&relationship_type) {
        return Ok(());
    }
    match custom_type_active {
        Some(true) => Ok(()),
        Some(false) => Err(AppError::Conflict(format!(
            "The custom relationship type '{relationship_type}' is not active; activate it first."
        ))),
        None => Err(AppError::NotFound(format!("Relationship type '{relationship_type}' not found."))),
    }
}

pub fn check_user_delete(relationship_type: &str, is_system: bool) -> Result<(), AppError> {
    if is_system || is_system_type(relationship_type) {
        return Err(AppError::Conflict(format!(
            "'{relationship_type}' is a system relationship and cannot be deleted through the API."
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RelationshipTypeCreated {
    pub id: String,
    pub name: String,
    pub label: String,
    pub inverse_label: String,
    pub description: Option<String>,
    pub is_active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RelationshipTypeUpdated {
    pub label: Option<String>,
    pub inverse_label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub description: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// A custom type's name: a lowercase slug that does not shadow a built-in type (taken: 409, like a
/// duplicate name).
pub fn check_type_name(name: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if !ok {
        return Err(AppError::validation("name", "must be a lowercase slug (a-z, 0-9, _), at most 64 characters"));
    }
    if is_system_type(name) || USER_TYPES.contains(&name) {
        return Err(AppError::Conflict(format!("'{name}' is the name of a built-in relationship type.")));
    }
    Ok(())
}
