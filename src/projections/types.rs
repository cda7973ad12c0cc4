//! Projects identity-type and custom-field-definition events into `identity_types` and
//! `custom_field_definitions`. Must not write any other table.

use crate::domain::identity_type::IdentityTypeEvent;
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection};

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let Some(decoded) = IdentityTypeEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?
    else {
        return Ok(());
    };
    let at = &event.recorded_at;
    match decoded {
        IdentityTypeEvent::Created(e) => {
            if e.is_default {
                conn.exec(
                    "UPDATE identity_types SET is_default = 0 WHERE environment = ?1 AND is_default = 1",
                    [&event.environment],
                )?;
            }
            conn.exec(
                "INSERT INTO identity_types (id, environment, name, label, description, statuses, default_status,
                    is_default, is_deleted, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9)",
                params![
                    e.id,
                    event.environment,
                    e.name,
                    e.label,
                    e.description,
                    serde_json::to_string(&e.statuses)?,
                    e.default_status,
                    e.is_default,
                    at
                ],
            )?;
        }
        IdentityTypeEvent::Updated(e) => {
            let id = &event.stream_id;
            if let Some(v) = &e.label {
                conn.exec("UPDATE identity_types SET label = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.description {
                conn.exec("UPDATE identity_types SET description = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.statuses {
                conn.exec(
                    "UPDATE identity_types SET statuses = ?1 WHERE id = ?2",
                    params![serde_json::to_string(v)?, id],
                )?;
            }
            if let Some(v) = &e.default_status {
                conn.exec("UPDATE identity_types SET default_status = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = e.is_default {
                if v {
                    conn.exec(
                        "UPDATE identity_types SET is_default = 0 WHERE environment = ?1 AND is_default = 1",
                        [&event.environment],
                    )?;
                }
                conn.exec("UPDATE identity_types SET is_default = ?1 WHERE id = ?2", params![v, id])?;
            }
            conn.exec("UPDATE identity_types SET updated_at = ?1 WHERE id = ?2", params![at, id])?;
        }
        IdentityTypeEvent::Deleted => {
            conn.exec(
                "UPDATE identity_types SET is_deleted = 1, is_default = 0, updated_at = ?1 WHERE id = ?2",
                params![at, event.stream_id],
            )?;
            conn.exec(
                "UPDATE custom_field_definitions SET is_deleted = 1, updated_at = ?1 WHERE identity_type_id = ?2",
                params![at, event.stream_id],
            )?;
        }
        IdentityTypeEvent::FieldDefined(e) => {
            conn.exec(
                "INSERT INTO custom_field_definitions (id, environment, identity_type_id, name, label, field_type,
                    is_required, is_unique, is_encrypted, enum_values, validation_regex, sort_order, is_deleted,
                    created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?13, ?13)",
                params![
                    e.id,
                    event.environment,
                    e.identity_type_id,
                    e.name,
                    e.label,
                    e.field_type,
                    e.is_required,
                    e.is_unique,
                    e.is_encrypted,
                    e.enum_values.as_ref().map(serde_json::to_string).transpose()?,
                    e.validation_regex,
                    e.sort_order,
                    at
                ],
            )?;
        }
        IdentityTypeEvent::FieldUpdated(e) => {
            let id = &e.id;
            if let Some(v) = &e.label {
                conn.exec("UPDATE custom_field_definitions SET label = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = e.is_required {
                conn.exec("UPDATE custom_field_definitions SET is_required = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = e.is_unique {
                conn.exec("UPDATE custom_field_definitions SET is_unique = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = e.sort_order {
                conn.exec("UPDATE custom_field_definitions SET sort_order = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.validation_regex {
                conn.exec("UPDATE custom_field_definitions SET validation_regex = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.enum_values {
                let text = v.as_ref().map(serde_json::to_string).transpose()?;
                conn.exec("UPDATE custom_field_definitions SET enum_values = ?1 WHERE id = ?2", params![text, id])?;
            }
            conn.exec("UPDATE custom_field_definitions SET updated_at = ?1 WHERE id = ?2", params![at, id])?;
        }
        IdentityTypeEvent::FieldDeleted(e) => {
            conn.exec(
                "UPDATE custom_field_definitions SET is_deleted = 1, updated_at = ?1 WHERE id = ?2",
                params![at, e.id],
            )?;
        }
    }
    Ok(())
}
