//! Relationship commands: user links (create/delete, bidirectional), system links made by the server
//! (merge, duplicate detection), and custom relationship types. Must not render responses.

use super::identities::load_state;
use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::domain::ids::{self, IdentityRef, RelationshipId, RelationshipTypeId};
use crate::domain::relationship::{
    self as dom, LinkCommand, LinkState, RelationshipCreated, RelationshipDeleted, RelationshipEvent,
    RelationshipTypeCreated, RelationshipTypeUpdated, TypeCommand, TypeState,
};
use crate::domain::values::LongText;
use crate::domain::values::{Label, RelationshipTypeName};
use crate::error::{AppError, AppResult};
use crate::store::events::NewEvent;
use crate::store::Exec;
use rusqlite::{params, OptionalExtension};
use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub struct CreateLink {
    pub related_identity_id: IdentityRef,
    pub relationship_type: RelationshipTypeName,
    pub note: Option<LongText>,
    pub metadata: Map<String, Value>,
}

fn emit(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    stream: &str,
    version: i64,
    events: Vec<RelationshipEvent>,
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let new =
        events.iter().map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() });
    w.emit(&meta.event_meta(), stream, version, new.collect())?;
    Ok(())
}

/// A system link (or one moved by a merge): nothing when the same link exists.
fn append_system_link(w: &mut WriteCtx<'_>, meta: &CommandMeta, created: RelationshipCreated) -> AppResult<()> {
    let state = LinkState {
        exists: link_exists(w, &created.source_identity_id, &created.related_identity_id, &created.relationship_type)?,
        custom_type_active: None,
    };
    let stream = created.id.clone();
    let events = dom::decide_link(&state, LinkCommand::CreateSystem(created))?;
    emit(w, meta, &stream, 0, events)
}

fn link_exists(w: &WriteCtx<'_>, source: &str, related: &str, kind: &str) -> AppResult<bool> {
    Ok(w.conn.row(
        "SELECT EXISTS (SELECT 1 FROM relationships WHERE source_identity_id = ?1 AND related_identity_id = ?2
         AND relationship_type = ?3)",
        params![source, related, kind],
        |r| r.get(0),
    )?)
}

/// Creates a user link between two identities of the same environment; returns the forward row's id.
pub async fn create(
    writer: &Writer,
    meta: CommandMeta,
    source: IdentityRef,
    input: CreateLink,
) -> AppResult<RelationshipId> {
    writer
        .execute(move |w| {
            let env = meta.environment.clone();
            let kind = input.relationship_type.into_string();
            let source = load_state(w.conn, &env, source.as_str())?.ok_or_else(|| AppError::not_found("Identity"))?;
            let related = load_state(w.conn, &env, input.related_identity_id.as_str())?
                .ok_or_else(|| AppError::not_found("Related identity"))?;
            let custom_active: Option<bool> = w
                .conn
                .row(
                    "SELECT is_active FROM relationship_types WHERE environment = ?1 AND name = ?2 AND is_deleted = 0",
                    params![env, kind],
                    |r| r.get(0),
                )
                .optional()?;
            for s in [&source, &related] {
                crate::domain::identity::ensure_writable(s)?;
            }
            let state = LinkState {
                exists: link_exists(w, &source.id, &related.id, &kind)?,
                custom_type_active: custom_active,
            };
            let created = RelationshipCreated {
                id: ids::new_id(ids::RELATIONSHIP),
                inverse_id: ids::new_id(ids::RELATIONSHIP),
                source_identity_id: source.id,
                related_identity_id: related.id,
                relationship_type: kind,
                is_system: false,
                note: input.note.clone().map(LongText::into_string),
                metadata: input.metadata,
            };
            let id = RelationshipId::from_stored(created.id.clone());
            let events = dom::decide_link(&state, LinkCommand::CreateUser(created))?;
            emit(w, &meta, id.as_str(), 0, events)?;
            Ok(id)
        })
        .await
}

/// Deletes both directions of a user link seen from `identity`.
pub async fn delete(
    writer: &Writer,
    meta: CommandMeta,
    identity: IdentityRef,
    relationship_id: RelationshipId,
) -> AppResult<()> {
    writer
        .execute(move |w| {
            let source = load_state(w.conn, &meta.environment, identity.as_str())?
                .ok_or_else(|| AppError::not_found("Identity"))?;
            let row: Option<(String, String, bool)> = w
                .conn
                .row(
                    "SELECT pair_id, relationship_type, is_system FROM relationships
                     WHERE id = ?1 AND source_identity_id = ?2 AND environment = ?3",
                    params![relationship_id.as_str(), source.id, meta.environment],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (pair_id, kind, is_system) = row.ok_or_else(|| AppError::not_found("Relationship"))?;
            let inverse_id: String = w.conn.row(
                "SELECT id FROM relationships WHERE pair_id = ?1 AND id != ?1 LIMIT 1",
                [&pair_id],
                |r| r.get(0),
            )?;
            let deleted = RelationshipDeleted { id: pair_id.clone(), inverse_id };
            let command = LinkCommand::Delete { deleted, relationship_type: kind, is_system };
            let events = dom::decide_link(&LinkState { exists: true, custom_type_active: None }, command)?;
            emit(w, &meta, &pair_id, 1, events)?;
            Ok(())
        })
        .await
}

/// A system link (merge, duplicate detection), created by the server itself; idempotent.
pub fn link_system(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    source: &str,
    related: &str,
    kind: &str,
    metadata: Map<String, Value>,
) -> AppResult<()> {
    append_system_link(
        w,
        meta,
        RelationshipCreated {
            id: ids::new_id(ids::RELATIONSHIP),
            inverse_id: ids::new_id(ids::RELATIONSHIP),
            source_identity_id: source.to_string(),
            related_identity_id: related.to_string(),
            relationship_type: kind.to_string(),
            is_system: true,
            note: None,
            metadata,
        },
    )
}

/// On merge, the secondary's user links are recreated on the primary (skipping links to the primary
/// itself and links it already has).
pub fn move_user_links(w: &mut WriteCtx<'_>, meta: &CommandMeta, from: &str, to: &str) -> AppResult<()> {
    let links: Vec<(String, String, Option<String>, String)> = {
        let mut stmt = w.conn.prepare(
            "SELECT related_identity_id, relationship_type, note, metadata FROM relationships
             WHERE source_identity_id = ?1 AND is_system = 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (related, kind, note, metadata) in links {
        if related == to {
            continue;
        }
        append_system_link(
            w,
            meta,
            RelationshipCreated {
                id: ids::new_id(ids::RELATIONSHIP),
                inverse_id: ids::new_id(ids::RELATIONSHIP),
                source_identity_id: to.to_string(),
                related_identity_id: related,
                relationship_type: kind,
                is_system: false,
                note,
                metadata: serde_json::from_str(&metadata).unwrap_or_default(),
            },
        )?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct CreateRelationshipType {
    pub name: RelationshipTypeName,
    pub label: Label,
    pub inverse_label: Option<Label>,
    pub description: Option<LongText>,
    pub is_active: bool,
}

pub async fn create_type(
    writer: &Writer,
    meta: CommandMeta,
    input: CreateRelationshipType,
) -> AppResult<RelationshipTypeId> {
    writer
        .execute(move |w| {
            let name = input.name.into_string();
            let name_taken: bool = w.conn.row(
                "SELECT EXISTS (SELECT 1 FROM relationship_types WHERE environment = ?1 AND name = ?2 AND is_deleted = 0)",
                params![meta.environment, name],
                |r| r.get(0),
            )?;
            let label = input.label.into_string();
            let created = RelationshipTypeCreated {
                id: ids::new_id(ids::RELATIONSHIP_TYPE),
                inverse_label: input.inverse_label.map(Label::into_string).unwrap_or_else(|| label.clone()),
                name,
                label,
                description: input.description.clone().map(LongText::into_string),
                is_active: input.is_active,
            };
            let id = RelationshipTypeId::from_stored(created.id.clone());
            let events = dom::decide_type(None, TypeCommand::Create { created, name_taken })?;
            emit(w, &meta, id.as_str(), 0, events)?;
            Ok(id)
        })
        .await
}

fn load_type(w: &WriteCtx<'_>, env: &str, id: &str) -> AppResult<(Option<TypeState>, i64)> {
    let exists: bool = w.conn.row(
        "SELECT EXISTS (SELECT 1 FROM relationship_types WHERE id = ?1 AND environment = ?2 AND is_deleted = 0)",
        params![id, env],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok((None, 0));
    }
    Ok((Some(TypeState { id: id.to_string() }), crate::store::events::stream_version(w.conn, id)?))
}

/// The changes to a custom relationship type; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateRelationshipType {
    pub label: Option<Label>,
    pub inverse_label: Option<Label>,
    pub description: Option<Option<LongText>>,
    pub is_active: Option<bool>,
}

pub async fn update_type(
    writer: &Writer,
    meta: CommandMeta,
    id: RelationshipTypeId,
    input: UpdateRelationshipType,
) -> AppResult<RelationshipTypeId> {
    writer
        .execute(move |w| {
            let (state, version) = load_type(w, &meta.environment, id.as_str())?;
            let update = RelationshipTypeUpdated {
                label: input.label.map(Label::into_string),
                inverse_label: input.inverse_label.map(Label::into_string),
                description: input.description.clone().map(|d| d.map(LongText::into_string)),
                is_active: input.is_active,
            };
            let events = dom::decide_type(state.as_ref(), TypeCommand::Update(update))?;
            emit(w, &meta, id.as_str(), version, events)?;
            Ok(id)
        })
        .await
}

pub async fn delete_type(writer: &Writer, meta: CommandMeta, id: RelationshipTypeId) -> AppResult<()> {
    writer
        .execute(move |w| {
            let (state, version) = load_type(w, &meta.environment, id.as_str())?;
            let events = dom::decide_type(state.as_ref(), TypeCommand::Delete)?;
            emit(w, &meta, id.as_str(), version, events)?;
            Ok(())
        })
        .await
}
