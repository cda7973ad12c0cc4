//! Workflow reads: the workflow object with its published definition, lists and versions. Must not
//! write.

use super::{offset_envelope, Page};
use crate::error::{AppError, AppResult};
use crate::store::ReadConn;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

fn version_json(conn: &Connection, id: &str, version: i64) -> AppResult<Option<Value>> {
    Ok(conn
        .query_row(
            "SELECT version, format, steps, graph, status, created_at, published_at FROM workflow_versions
             WHERE workflow_id = ?1 AND version = ?2",
            params![id, version],
            |r| {
                let steps: Option<String> = r.get(2)?;
                let graph: String = r.get(3)?;
                Ok(json!({
                    "version": r.get::<_, i64>(0)?,
                    "format": r.get::<_, String>(1)?,
                    "steps": steps.and_then(|s| serde_json::from_str::<Value>(&s).ok()),
                    "graph": serde_json::from_str::<Value>(&graph).unwrap_or(Value::Null),
                    "status": r.get::<_, String>(4)?,
                    "created_at": r.get::<_, String>(5)?,
                    "published_at": r.get::<_, Option<String>>(6)?,
                }))
            },
        )
        .optional()?)
}

fn render(conn: &Connection, r: &rusqlite::Row<'_>) -> AppResult<Value> {
    let id: String = r.get(0)?;
    let current: i64 = r.get(5)?;
    let v = version_json(conn, &id, current)?.unwrap_or(Value::Null);
    let latest: i64 =
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM workflow_versions WHERE workflow_id = ?1", [&id], |r| {
            r.get(0)
        })?;
    let data_req: String = r.get(6)?;
    let screening: String = r.get(7)?;
    let steps = v["steps"].clone();
    let step_count = v["graph"]["nodes"].as_object().map(|n| n.len()).unwrap_or(0);
    Ok(json!({
        "id": id,
        "name": r.get::<_, String>(1)?,
        "description": r.get::<_, Option<String>>(2)?,
        "is_default": r.get::<_, bool>(3)?,
        "is_active": r.get::<_, bool>(4)?,
        "version": current,
        "latest_version": latest,
        "has_draft": latest > current,
        "format": v["format"],
        "steps": steps,
        "step_count": step_count,
        "graph": v["graph"],
        "data_requirements": serde_json::from_str::<Value>(&data_req).unwrap_or(json!({})),
        "screening_settings": serde_json::from_str::<Value>(&screening).unwrap_or(json!({})),
        "created_at": r.get::<_, String>(8)?,
        "updated_at": r.get::<_, String>(9)?,
    }))
}

const COLUMNS: &str = "id, name, description, is_default, is_active, current_version, data_requirements, screening_settings, created_at, updated_at";

pub fn get(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1 AND environment = ?2"))?;
    let mut rows = stmt.query(params![id, environment])?;
    let row = rows.next()?.ok_or_else(|| AppError::not_found("Workflow"))?;
    render(conn, row)
}

pub fn list(conn: &ReadConn, environment: &str, page: Page) -> AppResult<Value> {
    let total: i64 =
        conn.query_row("SELECT COUNT(*) FROM workflows WHERE environment = ?1", [environment], |r| r.get(0))?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM workflows WHERE environment = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let mut rows = stmt.query(params![environment, page.limit, page.offset])?;
    let mut data = Vec::new();
    while let Some(r) = rows.next()? {
        data.push(render(conn, r)?);
    }
    Ok(offset_envelope(data, total, page))
}

pub fn versions(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    get(conn, environment, id)?;
    let versions: Vec<i64> = {
        let mut stmt =
            conn.prepare("SELECT version FROM workflow_versions WHERE workflow_id = ?1 ORDER BY version DESC")?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut data = Vec::new();
    for v in versions {
        if let Some(j) = version_json(conn, id, v)? {
            data.push(j);
        }
    }
    Ok(json!({ "data": data }))
}
