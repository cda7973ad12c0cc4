//! Relationship reads: an identity's links, the breadth-first graph (at most 5 hops) and custom
//! relationship types. Must not write.

use super::{offset_envelope, Page};
use crate::error::{AppError, AppResult};
use crate::store::ReadConn;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};

fn render(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    let metadata: String = r.get(6)?;
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "source_identity_id": r.get::<_, String>(1)?,
        "related_identity_id": r.get::<_, String>(2)?,
        "relationship_type": r.get::<_, String>(3)?,
        "is_system": r.get::<_, bool>(4)?,
        "note": r.get::<_, Option<String>>(5)?,
        "metadata": serde_json::from_str::<Value>(&metadata).unwrap_or(Value::Null),
        "created_at": r.get::<_, String>(7)?,
    }))
}

const COLUMNS: &str =
    "id, source_identity_id, related_identity_id, relationship_type, is_system, note, metadata, created_at";

pub fn list(conn: &ReadConn, identity_id: &str, kind: Option<&str>, page: Page) -> AppResult<Value> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM relationships WHERE source_identity_id = ?1 AND (?2 IS NULL OR relationship_type = ?2)",
        params![identity_id, kind],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM relationships WHERE source_identity_id = ?1 AND (?2 IS NULL OR relationship_type = ?2)
         ORDER BY id DESC LIMIT ?3 OFFSET ?4"
    ))?;
    let data =
        stmt.query_map(params![identity_id, kind, page.limit, page.offset], render)?.collect::<Result<Vec<_>, _>>()?;
    Ok(offset_envelope(data, total, page))
}

pub fn get(conn: &ReadConn, id: &str) -> AppResult<Value> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM relationships WHERE id = ?1"), [id], render)
        .optional()?
        .ok_or_else(|| AppError::not_found("Relationship"))
}

/// Every link of the identity: system ones (same-person links) or user ones.
pub fn all_for(conn: &Connection, identity_id: &str, system: bool) -> AppResult<Vec<Value>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM relationships WHERE source_identity_id = ?1 AND is_system = ?2 ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![identity_id, system], render)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[derive(Debug, Clone, Default)]
pub struct GraphQuery {
    pub depth: u32,
    pub relationship_types: Vec<String>,
    pub identity_statuses: Vec<String>,
    pub exclude_identity_ids: Vec<String>,
}

/// Breadth-first traversal from the root. Nodes failing the status filter are neither shown nor
/// walked through; the root is always included.
pub fn graph(conn: &ReadConn, root: &str, q: &GraphQuery) -> AppResult<Value> {
    let mut node_stmt =
        conn.prepare_cached("SELECT id, external_ref, status, archived_at, created_at FROM identities WHERE id = ?1")?;
    let mut edge_stmt = conn.prepare_cached(
        "SELECT related_identity_id, relationship_type, is_system, id FROM relationships WHERE source_identity_id = ?1 ORDER BY id",
    )?;
    let node_of =
        |stmt: &mut rusqlite::CachedStatement<'_>, id: &str, depth: u32| -> AppResult<Option<(Value, String)>> {
            Ok(stmt
                .query_row([id], |r| {
                    let status: String = r.get(2)?;
                    Ok((
                        json!({
                            "id": r.get::<_, String>(0)?,
                            "external_ref": r.get::<_, Option<String>>(1)?,
                            "status": status.clone(),
                            "archived_at": r.get::<_, Option<String>>(3)?,
                            "created_at": r.get::<_, String>(4)?,
                            "depth": depth,
                        }),
                        status,
                    ))
                })
                .optional()?)
        };
    let excluded: HashSet<&str> = q.exclude_identity_ids.iter().map(String::as_str).collect();
    let status_ok = |s: &str| q.identity_statuses.is_empty() || q.identity_statuses.iter().any(|x| x == s);
    let type_ok = |t: &str| q.relationship_types.is_empty() || q.relationship_types.iter().any(|x| x == t);

    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut seen_edges: HashSet<(String, String, String)> = HashSet::new();
    let (root_node, _) = node_of(&mut node_stmt, root, 0)?.ok_or_else(|| AppError::not_found("Identity"))?;
    nodes.push(root_node);
    seen.insert(root.to_string(), 0);
    let mut queue = VecDeque::from([(root.to_string(), 0u32)]);
    while let Some((current, depth)) = queue.pop_front() {
        if depth >= q.depth {
            continue;
        }
        let links: Vec<(String, String, bool, String)> = edge_stmt
            .query_map([&current], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        for (related, kind, is_system, rel_id) in links {
            if !type_ok(&kind) || excluded.contains(related.as_str()) {
                continue;
            }
            if !seen.contains_key(&related) {
                let Some((node, status)) = node_of(&mut node_stmt, &related, depth + 1)? else { continue };
                if !status_ok(&status) {
                    continue;
                }
                seen.insert(related.clone(), depth + 1);
                nodes.push(node);
                queue.push_back((related.clone(), depth + 1));
            }
            let (a, b) =
                if current < related { (current.clone(), related.clone()) } else { (related.clone(), current.clone()) };
            if seen_edges.insert((a, b, kind.clone())) {
                edges.push(json!({
                    "id": rel_id,
                    "source": current,
                    "target": related,
                    "relationship_type": kind,
                    "is_system": is_system,
                    "depth": depth + 1,
                }));
            }
        }
    }
    Ok(json!({ "root_identity_id": root, "depth": q.depth, "nodes": nodes, "edges": edges }))
}

fn render_type(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": r.get::<_, String>(0)?,
        "name": r.get::<_, String>(1)?,
        "label": r.get::<_, String>(2)?,
        "inverse_label": r.get::<_, String>(3)?,
        "description": r.get::<_, Option<String>>(4)?,
        "is_active": r.get::<_, bool>(5)?,
        "is_system": false,
        "created_at": r.get::<_, String>(6)?,
        "updated_at": r.get::<_, String>(7)?,
    }))
}

const TYPE_COLUMNS: &str = "id, name, label, inverse_label, description, is_active, created_at, updated_at";

pub fn list_types(conn: &ReadConn, environment: &str, page: Page) -> AppResult<Value> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM relationship_types WHERE environment = ?1 AND is_deleted = 0",
        [environment],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TYPE_COLUMNS} FROM relationship_types WHERE environment = ?1 AND is_deleted = 0 ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let data =
        stmt.query_map(params![environment, page.limit, page.offset], render_type)?.collect::<Result<Vec<_>, _>>()?;
    Ok(offset_envelope(data, total, page))
}

pub fn get_type(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    conn.query_row(
        &format!("SELECT {TYPE_COLUMNS} FROM relationship_types WHERE id = ?1 AND environment = ?2 AND is_deleted = 0"),
        [id, environment],
        render_type,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Relationship type"))
}
