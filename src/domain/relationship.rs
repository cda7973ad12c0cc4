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

/// Relationship and relationship-type events. A link's stream is its forward row's id (both directions
/// are one event); a custom type's stream is the type's id.
#[derive(Debug, Clone, PartialEq)]
pub enum RelationshipEvent {
    Created(RelationshipCreated),
    Deleted(RelationshipDeleted),
    TypeCreated(RelationshipTypeCreated),
    TypeUpdated(RelationshipTypeUpdated),
    TypeDeleted,
}

/// The newest version of every relationship event.
pub const RELATIONSHIP_EVENT_VERSION: i64 = 1;

impl RelationshipEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            RelationshipEvent::Created(_) => "RelationshipCreated",
            RelationshipEvent::Deleted(_) => "RelationshipDeleted",
            RelationshipEvent::TypeCreated(_) => "RelationshipTypeCreated",
            RelationshipEvent::TypeUpdated(_) => "RelationshipTypeUpdated",
            RelationshipEvent::TypeDeleted => "RelationshipTypeDeleted",
        }
    }

    pub fn version(&self) -> i64 {
        RELATIONSHIP_EVENT_VERSION
    }

    pub fn payload(&self) -> Value {
        let value = match self {
            RelationshipEvent::Created(e) => serde_json::to_value(e),
            RelationshipEvent::Deleted(e) => serde_json::to_value(e),
            RelationshipEvent::TypeCreated(e) => serde_json::to_value(e),
            RelationshipEvent::TypeUpdated(e) => serde_json::to_value(e),
            RelationshipEvent::TypeDeleted => Ok(Value::Object(Map::new())),
        };
        value.unwrap_or(Value::Null)
    }

    /// Decodes a stored event, upcasting older versions. Unknown types give `None`; an unknown version or
    /// a payload that does not fit is an error naming the event.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use crate::domain::codec;
        if !event_type.starts_with("Relationship") {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, RELATIONSHIP_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "RelationshipCreated" => RelationshipEvent::Created(codec::payload(event_type, p)?),
            "RelationshipDeleted" => RelationshipEvent::Deleted(codec::payload(event_type, p)?),
            "RelationshipTypeCreated" => RelationshipEvent::TypeCreated(codec::payload(event_type, p)?),
            "RelationshipTypeUpdated" => RelationshipEvent::TypeUpdated(codec::payload(event_type, p)?),
            "RelationshipTypeDeleted" => RelationshipEvent::TypeDeleted,
            _ => return Ok(None),
        }))
    }
}

/// What deciding about a link needs, looked up by the command layer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinkState {
    /// The same (source, related, type) link exists already.
    pub exists: bool,
    /// A custom type of that name: whether it is active (`None`: no such custom type).
    pub custom_type_active: Option<bool>,
}

pub enum LinkCommand {
    /// A link asked for through the API: the user-link rules apply; a duplicate is refused.
    CreateUser(RelationshipCreated),
    /// A link made by idv itself (merge, duplicate detection, links moved by a merge): a duplicate is a no-op.
    CreateSystem(RelationshipCreated),
    /// Deletes both directions of a user link.
    Delete { deleted: RelationshipDeleted, relationship_type: String, is_system: bool },
}

pub fn decide_link(state: &LinkState, command: LinkCommand) -> Result<Vec<RelationshipEvent>, AppError> {
    match command {
        LinkCommand::CreateUser(created) => {
            check_user_link(
                &created.source_identity_id,
                &created.related_identity_id,
                &created.relationship_type,
                state.custom_type_active,
            )?;
            if state.exists {
                return Err(AppError::Conflict(
                    "These identities are already linked with this relationship type.".into(),
                ));
            }
            Ok(vec![RelationshipEvent::Created(created)])
        }
        LinkCommand::CreateSystem(_) if state.exists => Ok(Vec::new()),
        LinkCommand::CreateSystem(created) => Ok(vec![RelationshipEvent::Created(created)]),
        LinkCommand::Delete { deleted, relationship_type, is_system } => {
            check_user_delete(&relationship_type, is_system)?;
            Ok(vec![RelationshipEvent::Deleted(deleted)])
        }
    }
}

/// A custom relationship type that exists (not deleted) in the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeState {
    pub id: String,
}

pub enum TypeCommand {
    /// `name_taken`: a live type of this name exists in the environment.
    Create {
        created: RelationshipTypeCreated,
        name_taken: bool,
    },
    Update(RelationshipTypeUpdated),
    Delete,
}

pub fn decide_type(state: Option<&TypeState>, command: TypeCommand) -> Result<Vec<RelationshipEvent>, AppError> {
    match (state, command) {
        (None, TypeCommand::Create { created, name_taken }) => {
            check_type_name(&created.name)?;
            if name_taken {
                return Err(AppError::Conflict(format!(
                    "A relationship type named '{}' already exists.",
                    created.name
                )));
            }
            Ok(vec![RelationshipEvent::TypeCreated(created)])
        }
        (Some(_), TypeCommand::Create { .. }) => {
            Err(AppError::Conflict("A relationship type with this id already exists.".into()))
        }
        (None, _) => Err(AppError::not_found("Relationship type")),
        (Some(_), TypeCommand::Update(update)) => Ok(vec![RelationshipEvent::TypeUpdated(update)]),
        (Some(_), TypeCommand::Delete) => Ok(vec![RelationshipEvent::TypeDeleted]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn link(kind: &str) -> RelationshipCreated {
        RelationshipCreated {
            id: "idrel_1".into(),
            inverse_id: "idrel_2".into(),
            source_identity_id: "idn_a".into(),
            related_identity_id: "idn_b".into(),
            relationship_type: kind.into(),
            is_system: false,
            note: None,
            metadata: Map::new(),
        }
    }

    #[test]
    fn user_links_follow_the_rules_and_system_links_are_idempotent() {
        let fresh = LinkState::default();
        assert_eq!(decide_link(&fresh, LinkCommand::CreateUser(link("family_member"))).unwrap().len(), 1);
        assert!(matches!(decide_link(&fresh, LinkCommand::CreateUser(link("same_email"))), Err(AppError::Conflict(_))));
        assert!(matches!(decide_link(&fresh, LinkCommand::CreateUser(link("mentor"))), Err(AppError::NotFound(_))));
        let existing = LinkState { exists: true, custom_type_active: None };
        assert!(decide_link(&existing, LinkCommand::CreateUser(link("family_member"))).is_err());
        assert!(decide_link(&existing, LinkCommand::CreateSystem(link("merged"))).unwrap().is_empty());
        let delete = LinkCommand::Delete {
            deleted: RelationshipDeleted { id: "idrel_1".into(), inverse_id: "idrel_2".into() },
            relationship_type: "merged".into(),
            is_system: true,
        };
        assert!(decide_link(&fresh, delete).is_err());
    }

    #[test]
    fn types_need_a_free_name_and_payloads_keep_their_shape() {
        let created = RelationshipTypeCreated {
            id: "crel_1".into(),
            name: "mentor".into(),
            label: "Mentor".into(),
            inverse_label: "Mentee".into(),
            description: None,
            is_active: true,
        };
        let taken = TypeCommand::Create { created: created.clone(), name_taken: true };
        assert!(matches!(decide_type(None, taken), Err(AppError::Conflict(_))));
        let events = decide_type(None, TypeCommand::Create { created, name_taken: false }).unwrap();
        assert_eq!(
            RelationshipEvent::decode(events[0].event_type(), 1, &events[0].payload()).unwrap().as_ref(),
            events.first()
        );
        let update = RelationshipTypeUpdated { description: Some(Some("teaches".into())), ..Default::default() };
        let e = decide_type(Some(&TypeState { id: "crel_1".into() }), TypeCommand::Update(update)).unwrap();
        assert_eq!(
            e[0].payload(),
            json!({ "description": "teaches", "inverse_label": null, "is_active": null, "label": null })
        );
        assert!(decide_type(None, TypeCommand::Delete).is_err());
        assert!(RelationshipEvent::decode("RelationshipTypeDeleted", 2, &json!({})).is_err());
    }
}
