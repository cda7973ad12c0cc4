//! Projects relationship and relationship-type events into `relationships` and `relationship_types`
//! (plus an audit row per linked identity). Must not write any other table.

use crate::domain::relationship::RelationshipEvent;
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection};

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let Some(decoded) = RelationshipEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?
    else {
        return Ok(());
    };
    match decoded {
        RelationshipEvent::Created(e) => {
            let metadata = serde_json::to_string(&e.metadata)?;
            let mut stmt = conn.prepare_cached(
                "INSERT INTO relationships (id, environment, source_identity_id, related_identity_id,
                    relationship_type, is_system, note, metadata, pair_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            stmt.execute(params![
                e.id,
                event.environment,
                e.source_identity_id,
                e.related_identity_id,
                e.relationship_type,
                e.is_system,
                e.note,
                metadata,
                e.id,
                event.recorded_at
            ])?;
            stmt.execute(params![
                e.inverse_id,
                event.environment,
                e.related_identity_id,
                e.source_identity_id,
                e.relationship_type,
                e.is_system,
                e.note,
                metadata,
                e.id,
                event.recorded_at
            ])?;
            let fields = vec![format!("relationships.{}", e.relationship_type)];
            super::audit(conn, event, &e.source_identity_id, "identity.relationship-created", &fields)?;
            super::audit(conn, event, &e.related_identity_id, "identity.relationship-created", &fields)?;
        }
        RelationshipEvent::Deleted(e) => {
            let ends: Vec<(String, String)> = {
                let mut stmt = conn
                    .prepare("SELECT source_identity_id, relationship_type FROM relationships WHERE id IN (?1, ?2)")?;
                let rows = stmt.query_map(params![e.id, e.inverse_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            conn.exec("DELETE FROM relationships WHERE id IN (?1, ?2)", params![e.id, e.inverse_id])?;
            for (identity, kind) in ends {
                super::audit(
                    conn,
                    event,
                    &identity,
                    "identity.relationship-deleted",
                    &[format!("relationships.{kind}")],
                )?;
            }
        }
        RelationshipEvent::TypeCreated(e) => {
            conn.exec(
                "INSERT INTO relationship_types (id, environment, name, label, inverse_label, description,
                    is_active, is_deleted, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)",
                params![
                    e.id,
                    event.environment,
                    e.name,
                    e.label,
                    e.inverse_label,
                    e.description,
                    e.is_active,
                    event.recorded_at
                ],
            )?;
        }
        RelationshipEvent::TypeUpdated(e) => {
            let id = &event.stream_id;
            if let Some(v) = &e.label {
                conn.exec("UPDATE relationship_types SET label = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.inverse_label {
                conn.exec("UPDATE relationship_types SET inverse_label = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.description {
                conn.exec("UPDATE relationship_types SET description = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = e.is_active {
                conn.exec("UPDATE relationship_types SET is_active = ?1 WHERE id = ?2", params![v, id])?;
            }
            conn.exec("UPDATE relationship_types SET updated_at = ?1 WHERE id = ?2", params![event.recorded_at, id])?;
        }
        RelationshipEvent::TypeDeleted => {
            conn.exec(
                "UPDATE relationship_types SET is_deleted = 1, is_active = 0, updated_at = ?1 WHERE id = ?2",
                params![event.recorded_at, event.stream_id],
            )?;
        }
    }
    Ok(())
}
