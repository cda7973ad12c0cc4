//! Projects workflow events into `workflows` and `workflow_versions`. Must not write other tables.

use crate::error::AppResult;
use crate::store::events::StoredEvent;
use rusqlite::{params, Connection};
use serde_json::Value;

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let p = &event.payload;
    let id = event.stream_id.as_str();
    let at = event.recorded_at.as_str();
    let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    let json_text = |k: &str| p.get(k).map(|v| v.to_string()).unwrap_or_else(|| "{}".into());
    match event.event_type.as_str() {
        "WorkflowCreated" => {
            conn.execute(
                "INSERT INTO workflows (id, environment, name, description, is_default, is_active, current_version,
                    data_requirements, screening_settings, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 0, 1, 0, ?5, ?6, ?7, ?7)",
                params![
                    id,
                    event.environment,
                    text("name"),
                    text("description"),
                    json_text("data_requirements"),
                    json_text("screening_settings"),
                    at
                ],
            )?;
        }
        "WorkflowVersionDrafted" => {
            conn.execute(
                "INSERT INTO workflow_versions (workflow_id, version, format, steps, graph, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'draft', ?6)",
                params![
                    id,
                    p["version"].as_i64(),
                    text("format"),
                    p.get("steps").filter(|s| !s.is_null()).map(|s| s.to_string()),
                    p["graph"].to_string(),
                    at
                ],
            )?;
        }
        "WorkflowPublished" => {
            let version = p["version"].as_i64();
            conn.execute(
                "UPDATE workflow_versions SET status = 'superseded' WHERE workflow_id = ?1 AND status = 'published'",
                [id],
            )?;
            conn.execute(
                "UPDATE workflow_versions SET status = 'published', published_at = ?1 WHERE workflow_id = ?2 AND version = ?3",
                params![at, id, version],
            )?;
            conn.execute("UPDATE workflows SET current_version = ?1 WHERE id = ?2", params![version, id])?;
        }
        "WorkflowUpdated" => {
            if let Some(v) = p.get("name").and_then(Value::as_str) {
                conn.execute("UPDATE workflows SET name = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = p.get("description") {
                conn.execute("UPDATE workflows SET description = ?1 WHERE id = ?2", params![v.as_str(), id])?;
            }
            if let Some(v) = p.get("data_requirements") {
                conn.execute("UPDATE workflows SET data_requirements = ?1 WHERE id = ?2", params![v.to_string(), id])?;
            }
            if let Some(v) = p.get("screening_settings") {
                conn.execute("UPDATE workflows SET screening_settings = ?1 WHERE id = ?2", params![v.to_string(), id])?;
            }
        }
        "WorkflowSetDefault" => {
            conn.execute("UPDATE workflows SET is_default = 0 WHERE environment = ?1", [&event.environment])?;
            conn.execute("UPDATE workflows SET is_default = 1, is_active = 1 WHERE id = ?1", [id])?;
        }
        "WorkflowDeactivated" => {
            conn.execute("UPDATE workflows SET is_active = 0, is_default = 0 WHERE id = ?1", [id])?;
        }
        _ => return Ok(()),
    }
    conn.execute("UPDATE workflows SET updated_at = ?1 WHERE id = ?2", params![at, id])?;
    Ok(())
}
