//! Identity types and custom field definition commands. Must not render responses.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::domain::identity_type::{
    self as dom, FieldDefinition, FieldDefinitionUpdated, FieldState, FieldType, IdentityTypeCommand,
    IdentityTypeCreated, IdentityTypeState, IdentityTypeUpdated,
};
use crate::domain::ids::{self, CustomFieldId, IdentityTypeId};
use crate::domain::values::LongText;
use crate::domain::values::{Label, Slug};
use crate::error::AppResult;
use crate::store::events::{stream_version, NewEvent};
use crate::store::Exec;
use rusqlite::{params, OptionalExtension};

/// The type's state from its view rows (None: no live type of this id in the environment), with the
/// stream version to append after.
fn load(w: &WriteCtx<'_>, env: &str, id: &str) -> AppResult<(Option<IdentityTypeState>, i64)> {
    let row: Option<(String, Option<String>)> = w
        .conn
        .row(
            "SELECT statuses, default_status FROM identity_types WHERE id = ?1 AND environment = ?2 AND is_deleted = 0",
            params![id, env],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((statuses, default_status)) = row else { return Ok((None, 0)) };
    let in_use: bool = w.conn.row(
        "SELECT EXISTS (SELECT 1 FROM identities WHERE identity_type_id = ?1 AND status NOT IN ('redacted', 'merged'))",
        [id],
        |r| r.get(0),
    )?;
    let fields = {
        let mut stmt = w.conn.prepare_cached(
            "SELECT id, name, field_type, enum_values, is_encrypted FROM custom_field_definitions
             WHERE identity_type_id = ?1 AND is_deleted = 0",
        )?;
        let rows = stmt.query_map([id], |r| {
            let e: Option<String> = r.get(3)?;
            Ok(FieldState {
                id: r.get(0)?,
                name: r.get(1)?,
                field_type: r.get(2)?,
                enum_values: e.and_then(|e| serde_json::from_str(&e).ok()),
                is_encrypted: r.get(4)?,
            })
        })?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    let state = IdentityTypeState {
        id: id.to_string(),
        statuses: serde_json::from_str(&statuses).unwrap_or_default(),
        default_status,
        in_use,
        fields,
    };
    Ok((Some(state), stream_version(w.conn, id)?))
}

/// Decides `command` against the type's current state and appends what follows.
fn run(w: &mut WriteCtx<'_>, meta: &CommandMeta, id: &str, command: IdentityTypeCommand) -> AppResult<()> {
    let (state, version) = load(w, &meta.environment, id)?;
    let events = dom::decide(state.as_ref(), command)?;
    let new =
        events.iter().map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() });
    w.emit(&meta.event_meta(), id, version, new.collect())?;
    Ok(())
}

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
    let created = IdentityTypeCreated {
        id: ids::new_id(ids::IDENTITY_TYPE),
        name: input.name.into_string(),
        label: input.label.into_string(),
        description: input.description.clone().map(LongText::into_string),
        statuses: input.statuses.into_iter().map(Slug::into_string).collect(),
        default_status: input.default_status.map(Slug::into_string),
        is_default: input.is_default,
    };
    writer
        .execute(move |w| {
            let name_taken: bool = w.conn.row(
                "SELECT EXISTS (SELECT 1 FROM identity_types WHERE environment = ?1 AND name = ?2 AND is_deleted = 0)",
                params![meta.environment, created.name],
                |r| r.get(0),
            )?;
            let id = IdentityTypeId::from_stored(created.id.clone());
            run(w, &meta, id.as_str(), IdentityTypeCommand::Create { created, name_taken })?;
            Ok(id)
        })
        .await
}

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
    let update = IdentityTypeUpdated {
        label: input.label.map(Label::into_string),
        description: input.description.clone().map(|d| d.map(LongText::into_string)),
        statuses: input.statuses.map(|s| s.into_iter().map(Slug::into_string).collect()),
        default_status: input.default_status.map(|d| d.map(Slug::into_string)),
        is_default: input.is_default,
    };
    writer
        .execute(move |w| {
            run(w, &meta, id.as_str(), IdentityTypeCommand::Update(update))?;
            Ok(id)
        })
        .await
}

pub async fn delete_type(writer: &Writer, meta: CommandMeta, id: IdentityTypeId) -> AppResult<()> {
    writer.execute(move |w| run(w, &meta, id.as_str(), IdentityTypeCommand::Delete)).await
}

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
    let def = FieldDefinition {
        id: ids::new_id(ids::CUSTOM_FIELD),
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
            let id = CustomFieldId::from_stored(def.id.clone());
            let stream = def.identity_type_id.clone();
            run(w, &meta, &stream, IdentityTypeCommand::DefineField(def))?;
            Ok(id)
        })
        .await
}

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
            let id = CustomFieldId::from_stored(update.id.clone());
            run(w, &meta, &type_id, IdentityTypeCommand::UpdateField(update))?;
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
    writer.execute(move |w| run(w, &meta, &type_id, IdentityTypeCommand::DeleteField(field_id))).await
}
