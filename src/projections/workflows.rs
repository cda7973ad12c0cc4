//! Projects workflow events into `workflows` and `workflow_versions` (each version named by its draft id). Must not write other tables.

use crate::domain::ids::WorkflowDraftId;
use crate::domain::workflow::WorkflowEvent;
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection};
use serde_json::Value;

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let Some(decoded) = WorkflowEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?
    else {
        return Ok(());
    };
    let id = event.stream_id.as_str();
    let at = event.recorded_at.as_str();
    match decoded {
        WorkflowEvent::Created(e) => {
            conn.exec(
                "INSERT INTO workflows (id, environment, name, description, is_default, is_active, current_version,
                    data_requirements, screening_settings, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 0, 1, 0, ?5, ?6, ?7, ?7)",
                params![
                    id,
                    event.environment,
                    e.name,
                    e.description,
                    Value::Object(e.data_requirements).to_string(),
                    Value::Object(e.screening_settings).to_string(),
                    at
                ],
            )?;
        }
        WorkflowEvent::VersionDrafted(e) => {
            conn.exec(
                "INSERT INTO workflow_versions (workflow_id, version, format, steps, graph, status, created_at, draft_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'draft', ?6, ?7)",
                params![
                    id,
                    e.version,
                    e.format,
                    e.steps.as_ref().map(serde_json::to_string).transpose()?,
                    serde_json::to_string(&e.graph)?,
                    at,
                    WorkflowDraftId::of_event(&event.event_id).as_str()
                ],
            )?;
        }
        WorkflowEvent::Published(e) => {
            conn.exec(
                "UPDATE workflow_versions SET status = 'superseded' WHERE workflow_id = ?1 AND status = 'published'",
                [id],
            )?;
            conn.exec(
                "UPDATE workflow_versions SET status = 'published', published_at = ?1 WHERE workflow_id = ?2 AND version = ?3",
                params![at, id, e.version],
            )?;
            conn.exec("UPDATE workflows SET current_version = ?1 WHERE id = ?2", params![e.version, id])?;
        }
        WorkflowEvent::Updated(e) => {
            if let Some(v) = &e.name {
                conn.exec("UPDATE workflows SET name = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.description {
                conn.exec("UPDATE workflows SET description = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = e.data_requirements {
                conn.exec(
                    "UPDATE workflows SET data_requirements = ?1 WHERE id = ?2",
                    params![Value::Object(v).to_string(), id],
                )?;
            }
            if let Some(v) = e.screening_settings {
                conn.exec(
                    "UPDATE workflows SET screening_settings = ?1 WHERE id = ?2",
                    params![Value::Object(v).to_string(), id],
                )?;
            }
        }
        WorkflowEvent::SetDefault => {
            conn.exec("UPDATE workflows SET is_default = 0 WHERE environment = ?1", [&event.environment])?;
            conn.exec("UPDATE workflows SET is_default = 1, is_active = 1 WHERE id = ?1", [id])?;
        }
        WorkflowEvent::Deactivated => {
            conn.exec("UPDATE workflows SET is_active = 0, is_default = 0 WHERE id = ?1", [id])?;
        }
    }
    conn.exec("UPDATE workflows SET updated_at = ?1 WHERE id = ?2", params![at, id])?;
    Ok(())
}
