//! Identity types and custom field definition commands. Must not render responses.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::domain::identity_type::{
    self as dom, FieldDefinition, FieldDefinitionUpdated, IdentityTypeCreated, IdentityTypeUpdated,
};
use crate::domain::ids;
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

fn check_statuses(statuses: &[String], default_status: Option<&str>) -> AppResult<()> {
    for s in statuses {
        dom::check_slug("statuses", s)?;
    }
    if let Some(d) = default_status {
        let known = statuses.iter().any(|s| s == d) || crate::domain::identity::canonical_status(d).is_some();
        if !known || d == "redacted" || d == "merged" {
            return Err(AppError::validation(
                "default_status",
                "must be one of the type's statuses or a lifecycle status",
            ));
        }
    }
    Ok(())
}

pub async fn create_type(writer: &Writer, meta: CommandMeta, mut input: IdentityTypeCreated) -> AppResult<String> {
    writer
        .execute(move |w| {
            dom::check_slug("name", &input.name)?;
            check_statuses(&input.statuses, input.default_status.as_deref())?;
            let taken: bool = w.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM identity_types WHERE environment = ?1 AND name = ?2 AND is_deleted = 0)",
                params![meta.environment, input.name],
                |r| r.get(0),
            )?;
            if taken {
                return Err(AppError::Conflict(format!("An identity type named '{}' already exists.", input.name)));
            }
            input.id = ids::new_id(ids::IDENTITY_TYPE);
            let id = input.id.clone();
            w.emit(
                &meta.event_meta(),
                &id,
                0,
                vec![NewEvent::new("IdentityTypeCreated", serde_json::to_value(&input)?)],
            )?;
            Ok(id)
        })
        .await
}

pub async fn update_type(
    writer: &Writer,
    meta: CommandMeta,
    id: String,
    update: IdentityTypeUpdated,
) -> AppResult<String> {
    writer
        .execute(move |w| {
            let version = require_type(w, &meta.environment, &id)?;
            let current: (String, Option<String>) =
                w.conn.query_row("SELECT statuses, default_status FROM identity_types WHERE id = ?1", [&id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let statuses =
                update.statuses.clone().unwrap_or_else(|| serde_json::from_str(&current.0).unwrap_or_default());
            let default = update.default_status.clone().unwrap_or(current.1);
            check_statuses(&statuses, default.as_deref())?;
            w.emit(
                &meta.event_meta(),
                &id,
                version,
                vec![NewEvent::new("IdentityTypeUpdated", serde_json::to_value(&update)?)],
            )?;
            Ok(id)
        })
        .await
}

pub async fn delete_type(writer: &Writer, meta: CommandMeta, id: String) -> AppResult<()> {
    writer
        .execute(move |w| {
            let version = require_type(w, &meta.environment, &id)?;
            let in_use: bool = w.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM identities WHERE identity_type_id = ?1 AND status NOT IN ('redacted', 'merged'))",
                [&id],
                |r| r.get(0),
            )?;
            if in_use {
                return Err(AppError::Conflict("Identities of this type exist; reassign them before deleting the type.".into()));
            }
            w.emit(&meta.event_meta(), &id, version, vec![NewEvent::new("IdentityTypeDeleted", serde_json::json!({}))])?;
            Ok(())
        })
        .await
}

pub async fn define_field(writer: &Writer, meta: CommandMeta, mut def: FieldDefinition) -> AppResult<String> {
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
            let id = def.id.clone();
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

pub async fn update_field(
    writer: &Writer,
    meta: CommandMeta,
    type_id: String,
    update: FieldDefinitionUpdated,
) -> AppResult<String> {
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
            let id = update.id.clone();
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

pub async fn delete_field(writer: &Writer, meta: CommandMeta, type_id: String, field_id: String) -> AppResult<()> {
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
