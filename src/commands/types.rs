//! Identity types and custom field definition commands. Must not render responses.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::domain::identity_type::{
    self as dom, FieldDefinition, FieldDefinitionUpdated, FieldType, IdentityTypeCreated, IdentityTypeUpdated,
};
use crate::domain::ids::{self, CustomFieldId, IdentityTypeId};
use crate::domain::values::LongText;
use crate::domain::values::{Label, Slug};
use crate::error::{AppError, AppResult};
use crate::store::events::{stream_version, NewEvent};
use rusqlite::params;

fn require_type(w: &WriteCtx<'_>, env: &str, id: &str) -> AppResult<i64> {
    let exists: bool = w.conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM identity_types WHERE id = ?1 AND environment = ?2 AND is_deleted = 0)",
        params![id, env],
        |r| r.get(0),
    )?;
    if !exists {
        return Err(AppError::not_found("Identity type"));
    }
    stream_version(w.conn, id)
}

/// Whether `status` is a lifecycle status a new identity may start in (not `redacted` or `merged`).
fn is_start_lifecycle(status: &str) -> bool {
    crate::domain::identity::canonical_status(status).is_some_and(|s| s != "redacted" && s != "merged")
}

/// Checks the statuses and returns them with the default status added when it is neither listed nor a
/// lifecycle status: the status new identities start in is by definition one they may take.
fn with_default_status(mut statuses: Vec<String>, default_status: Option<&str>) -> AppResult<Vec<String>> {
    for s in &statuses {
        dom::check_slug("statuses", s)?;
    }
    if let Some(d) = default_status {
        if crate::domain::identity::canonical_status(d).is_some_and(|s| s == "redacted" || s == "merged") {
            return Err(AppError::validation("default_status", "must not be redacted or merged"));
        }
        if !is_start_lifecycle(d) && !statuses.iter().any(|s| s == d) {
            statuses.push(d.to_string());
        }
    }
    Ok(statuses)
}

/// A new identity type.
#[derive(Debug, Clone)]
pub struct CreateIdentityType {
    pub name: Slug,
    pub label: Label,
    pub description: Option<LongText>,
    pub statuses: Vec<Slug>,
    pub default_status: Option<Slug>,
    pub is_default: bool,
}

pub async fn create_type(writer: &Writer, meta: CommandMeta, input: CreateIdentityType) -> AppResult<IdentityTypeId> {
    let mut input = IdentityTypeCreated {
        id: String::new(),
        name: input.name.into_string(),
        label: input.label.into_string(),
        description: input.description.clone().map(LongText::into_string),
        statuses: input.statuses.into_iter().map(Slug::into_string).collect(),
        default_status: input.default_status.map(Slug::into_string),
        is_default: input.is_default,
    };
    writer
        .execute(move |w| {
            dom::check_slug("name", &input.name)?;
            input.statuses = with_default_status(std::mem::take(&mut input.statuses), input.default_status.as_deref())?;
            let taken: bool = w.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM identity_types WHERE environment = ?1 AND name = ?2 AND is_deleted = 0)",
                params![meta.environment, input.name],
                |r| r.get(0),
            )?;
            if taken {
                return Err(AppError::Conflict(format!("An identity type named '{}' already exists.", input.name)));
            }
            input.id = ids::new_id(ids::IDENTITY_TYPE);
            let id = IdentityTypeId::from_stored(input.id.clone());
            w.emit(
                &meta.event_meta(),
                id.as_str(),
                0,
                vec![NewEvent::new("IdentityTypeCreated", serde_json::to_value(&input)?)],
            )?;
            Ok(id)
        })
        .await
}

/// Changes to an identity type; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateIdentityType {
    pub label: Option<Label>,
    pub description: Option<Option<LongText>>,
    pub statuses: Option<Vec<Slug>>,
    pub default_status: Option<Option<Slug>>,
    pub is_default: Option<bool>,
}

pub async fn update_type(
    writer: &Writer,
    meta: CommandMeta,
    id: IdentityTypeId,
    input: UpdateIdentityType,
) -> AppResult<IdentityTypeId> {
    let mut update = IdentityTypeUpdated {
        label: input.label.map(Label::into_string),
        description: input.description.clone().map(|d| d.map(LongText::into_string)),
        statuses: input.statuses.map(|s| s.into_iter().map(Slug::into_string).collect()),
        default_status: input.default_status.map(|d| d.map(Slug::into_string)),
        is_default: input.is_default,
    };
    writer
        .execute(move |w| {
            let version = require_type(w, &meta.environment, id.as_str())?;
            let current: (String, Option<String>) = w.conn.query_row(
                "SELECT statuses, default_status FROM identity_types WHERE id = ?1",
                [id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let stored: Vec<String> = serde_json::from_str(&current.0).unwrap_or_default();
            match &update.default_status {
                // A new default status joins the statuses (the ones sent, or the stored ones).
                Some(default) => {
                    let statuses = update.statuses.clone().unwrap_or_else(|| stored.clone());
                    let merged = with_default_status(statuses.clone(), default.as_deref())?;
                    if merged != statuses || update.statuses.is_some() {
                        update.statuses = Some(merged);
                    }
                }
                // New statuses must keep the stored default status, unless that is a lifecycle status.
                None => {
                    if let Some(statuses) = update.statuses.clone() {
                        with_default_status(statuses.clone(), None)?;
                        if let Some(d) = current.1.as_deref() {
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
            w.emit(
                &meta.event_meta(),
                id.as_str(),
                version,
                vec![NewEvent::new("IdentityTypeUpdated", serde_json::to_value(&update)?)],
            )?;
            Ok(id)
        })
        .await
}

pub async fn delete_type(writer: &Writer, meta: CommandMeta, id: IdentityTypeId) -> AppResult<()> {
    writer
        .execute(move |w| {
            let id = id.as_str();
            let version = require_type(w, &meta.environment, id)?;
            let in_use: bool = w.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM identities WHERE identity_type_id = ?1 AND status NOT IN ('redacted', 'merged'))",
                [id],
                |r| r.get(0),
            )?;
            if in_use {
                return Err(AppError::Conflict("Identities of this type exist; reassign them before deleting the type.".into()));
            }
            w.emit(&meta.event_meta(), id, version, vec![NewEvent::new("IdentityTypeDeleted", serde_json::json!({}))])?;
            Ok(())
        })
        .await
}

/// A new custom field definition on an identity type.
#[derive(Debug, Clone)]
pub struct DefineField {
    pub identity_type_id: IdentityTypeId,
    pub name: Slug,
    pub label: Label,
    pub field_type: FieldType,
    pub is_required: bool,
    pub is_unique: bool,
    pub is_encrypted: bool,
    pub enum_values: Option<Vec<String>>,
    pub validation_regex: Option<String>,
    pub sort_order: i64,
}

pub async fn define_field(writer: &Writer, meta: CommandMeta, input: DefineField) -> AppResult<CustomFieldId> {
    let mut def = FieldDefinition {
        id: String::new(),
        identity_type_id: input.identity_type_id.into_string(),
        name: input.name.into_string(),
        label: input.label.into_string(),
        field_type: input.field_type.as_str().to_string(),
        is_required: input.is_required,
        is_unique: input.is_unique,
        is_encrypted: input.is_encrypted,
        enum_values: input.enum_values,
        validation_regex: input.validation_regex,
        sort_order: input.sort_order,
    };
    writer
        .execute(move |w| {
            let version = require_type(w, &meta.environment, &def.identity_type_id)?;
            dom::check_definition(&def)?;
            let taken: bool = w.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM custom_field_definitions WHERE identity_type_id = ?1 AND name = ?2 AND is_deleted = 0)",
                params![def.identity_type_id, def.name],
                |r| r.get(0),
            )?;
            if taken {
                return Err(AppError::Conflict(format!("A field named '{}' already exists on this type.", def.name)));
            }
            def.id = ids::new_id(ids::CUSTOM_FIELD);
            let id = CustomFieldId::from_stored(def.id.clone());
            let stream = def.identity_type_id.clone();
            w.emit(&meta.event_meta(), &stream, version, vec![NewEvent::new("CustomFieldDefined", serde_json::to_value(&def)?)])?;
            Ok(id)
        })
        .await
}

/// What an update of a field definition must respect.
struct StoredField {
    field_type: String,
    enum_values: Option<Vec<String>>,
    is_encrypted: bool,
}

fn require_field(w: &WriteCtx<'_>, type_id: &str, field_id: &str) -> AppResult<StoredField> {
    w.conn
        .query_row(
            "SELECT field_type, enum_values, is_encrypted FROM custom_field_definitions
             WHERE id = ?1 AND identity_type_id = ?2 AND is_deleted = 0",
            params![field_id, type_id],
            |r| {
                let e: Option<String> = r.get(1)?;
                Ok(StoredField {
                    field_type: r.get(0)?,
                    enum_values: e.and_then(|e| serde_json::from_str(&e).ok()),
                    is_encrypted: r.get(2)?,
                })
            },
        )
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => AppError::not_found("Custom field"),
            other => other.into(),
        })
}

/// Changes to a custom field definition; its name, type and encryption are fixed at creation.
#[derive(Debug, Clone)]
pub struct UpdateField {
    pub id: CustomFieldId,
    pub label: Option<Label>,
    pub is_required: Option<bool>,
    pub is_unique: Option<bool>,
    pub sort_order: Option<i64>,
    pub validation_regex: Option<Option<String>>,
    pub enum_values: Option<Option<Vec<String>>>,
}

pub async fn update_field(
    writer: &Writer,
    meta: CommandMeta,
    type_id: IdentityTypeId,
    input: UpdateField,
) -> AppResult<CustomFieldId> {
    let type_id = type_id.into_string();
    let update = FieldDefinitionUpdated {
        id: input.id.into_string(),
        label: input.label.map(Label::into_string),
        is_required: input.is_required,
        is_unique: input.is_unique,
        sort_order: input.sort_order,
        validation_regex: input.validation_regex,
        enum_values: input.enum_values,
    };
    writer
        .execute(move |w| {
            let version = require_type(w, &meta.environment, &type_id)?;
            let stored = require_field(w, &type_id, &update.id)?;
            if update.is_unique == Some(true) && stored.is_encrypted {
                return Err(AppError::validation("is_unique", "an encrypted field cannot also be unique"));
            }
            let (field_type, enums) = (stored.field_type, stored.enum_values);
            if let Some(Some(re)) = &update.validation_regex {
                if regex::Regex::new(re).is_err() {
                    return Err(AppError::validation("validation_regex", "is not a valid regular expression"));
                }
            }
            let enums_after = update.enum_values.clone().unwrap_or(enums);
            if field_type == "enum" && enums_after.as_ref().is_none_or(|v| v.is_empty()) {
                return Err(AppError::validation("enum_values", "an enum field needs at least one value"));
            }
            let id = CustomFieldId::from_stored(update.id.clone());
            w.emit(
                &meta.event_meta(),
                &type_id,
                version,
                vec![NewEvent::new("CustomFieldUpdated", serde_json::to_value(&update)?)],
            )?;
            Ok(id)
        })
        .await
}

pub async fn delete_field(
    writer: &Writer,
    meta: CommandMeta,
    type_id: IdentityTypeId,
    field_id: CustomFieldId,
) -> AppResult<()> {
    let (type_id, field_id) = (type_id.into_string(), field_id.into_string());
    writer
        .execute(move |w| {
            let version = require_type(w, &meta.environment, &type_id)?;
            require_field(w, &type_id, &field_id)?;
            w.emit(
                &meta.event_meta(),
                &type_id,
                version,
                vec![NewEvent::new("CustomFieldDeleted", serde_json::json!({ "id": field_id }))],
            )?;
            Ok(())
        })
        .await
}
