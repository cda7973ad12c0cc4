//! Relationship reads: an identity's links, the breadth-first graph (at most 5 hops) and custom
//! relationship types. Must not write.

use super::{OffsetPage, Page};
use crate::domain::ids::{IdentityId, RelationshipId, RelationshipTypeId};
use crate::error::{AppError, AppResult};
use crate::store::ReadOnly;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use utoipa::ToSchema;

/// One direction of a link between two identities (every link is stored in both directions).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RelationshipView {
    pub id: RelationshipId,
    /// The identity whose relationships these are.
    pub source_identity_id: IdentityId,
    pub related_identity_id: IdentityId,
    /// A built-in user type, a system type (`same_*`, `merged`) or a custom type's name.
    #[schema(example = "user_linked")]
    pub relationship_type: String,
    /// Made by the server (duplicate detection, merge); cannot be deleted through the API.
    pub is_system: bool,
    pub note: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    pub created_at: String,
}

fn render(r: &rusqlite::Row<'_>) -> rusqlite::Result<RelationshipView> {
    let metadata: String = r.get(6)?;
    Ok(RelationshipView {
        id: RelationshipId::from_stored(r.get(0)?),
        source_identity_id: IdentityId::from_stored(r.get(1)?),
        related_identity_id: IdentityId::from_stored(r.get(2)?),
        relationship_type: r.get(3)?,
        is_system: r.get(4)?,
        note: r.get(5)?,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        created_at: r.get(7)?,
    })
}

const COLUMNS: &str =
    "id, source_identity_id, related_identity_id, relationship_type, is_system, note, metadata, created_at";

pub fn list(
    conn: &ReadOnly,
    identity_id: &str,
    kind: Option<&str>,
    page: Page,
) -> AppResult<OffsetPage<RelationshipView>> {
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
    Ok(OffsetPage::new(data, total, page))
}

pub fn get(conn: &ReadOnly, id: &str) -> AppResult<RelationshipView> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM relationships WHERE id = ?1"), [id], render)
        .optional()?
        .ok_or_else(|| AppError::not_found("Relationship"))
}

/// Every link of the identity: system ones (same-person links) or user ones.
pub fn all_for(conn: &ReadOnly, identity_id: &str, system: bool) -> AppResult<Vec<RelationshipView>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM relationships WHERE source_identity_id = ?1 AND is_system = ?2 ORDER BY id"
    ))?;
    let rows = stmt.query_map(params![identity_id, system], render)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What the graph walk follows and shows.
#[derive(Debug, Clone, Default)]
pub struct GraphQuery {
    pub depth: u32,
    pub relationship_types: Vec<String>,
    pub identity_statuses: Vec<String>,
    pub exclude_identity_ids: Vec<String>,
}

/// An identity reached by the graph walk.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GraphNode {
    pub id: IdentityId,
    pub external_ref: Option<String>,
    pub status: String,
    pub archived_at: Option<String>,
    pub created_at: String,
    /// Hops from the root (0 for the root).
    pub depth: u32,
}

/// A link followed by the graph walk (one per pair and type).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GraphEdge {
    pub id: RelationshipId,
    pub source: IdentityId,
    pub target: IdentityId,
    pub relationship_type: String,
    pub is_system: bool,
    /// Hops from the root to `target`.
    pub depth: u32,
}

/// The relationship graph around an identity, breadth-first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GraphView {
    pub root_identity_id: IdentityId,
    pub depth: u32,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// Breadth-first traversal from the root. Nodes failing the status filter are neither shown nor
/// walked through; the root is always included.
pub fn graph(conn: &ReadOnly, root: &str, q: &GraphQuery) -> AppResult<GraphView> {
    let mut node_stmt =
        conn.prepare_cached("SELECT id, external_ref, status, archived_at, created_at FROM identities WHERE id = ?1")?;
    let mut edge_stmt = conn.prepare_cached(
        "SELECT related_identity_id, relationship_type, is_system, id FROM relationships WHERE source_identity_id = ?1 ORDER BY id",
    )?;
    let node_of =
        |stmt: &mut rusqlite::CachedStatement<'_>, id: &str, depth: u32| -> AppResult<Option<(GraphNode, String)>> {
            Ok(stmt
                .query_row([id], |r| {
                    let status: String = r.get(2)?;
                    Ok((
                        GraphNode {
                            id: IdentityId::from_stored(r.get(0)?),
                            external_ref: r.get(1)?,
                            status: status.clone(),
                            archived_at: r.get(3)?,
                            created_at: r.get(4)?,
                            depth,
                        },
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
                edges.push(GraphEdge {
                    id: RelationshipId::from_stored(rel_id),
                    source: IdentityId::from_stored(current.clone()),
                    target: IdentityId::from_stored(related),
                    relationship_type: kind,
                    is_system,
                    depth: depth + 1,
                });
            }
        }
    }
    Ok(GraphView { root_identity_id: IdentityId::from_stored(root.to_string()), depth: q.depth, nodes, edges })
}

/// A custom relationship type of this environment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RelationshipTypeView {
    pub id: RelationshipTypeId,
    /// The name links use as `relationship_type`.
    #[schema(example = "guarantor")]
    pub name: String,
    #[schema(example = "Guarantor")]
    pub label: String,
    /// The label seen from the related identity's side.
    #[schema(example = "Guaranteed by")]
    pub inverse_label: String,
    pub description: Option<String>,
    pub is_active: bool,
    /// Always false: system types are built in and not listed here.
    pub is_system: bool,
    pub created_at: String,
    pub updated_at: String,
}

fn render_type(r: &rusqlite::Row<'_>) -> rusqlite::Result<RelationshipTypeView> {
    Ok(RelationshipTypeView {
        id: RelationshipTypeId::from_stored(r.get(0)?),
        name: r.get(1)?,
        label: r.get(2)?,
        inverse_label: r.get(3)?,
        description: r.get(4)?,
        is_active: r.get(5)?,
        is_system: false,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

const TYPE_COLUMNS: &str = "id, name, label, inverse_label, description, is_active, created_at, updated_at";

pub fn list_types(conn: &ReadOnly, environment: &str, page: Page) -> AppResult<OffsetPage<RelationshipTypeView>> {
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
    Ok(OffsetPage::new(data, total, page))
}

pub fn get_type(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<RelationshipTypeView> {
    conn.query_row(
        &format!("SELECT {TYPE_COLUMNS} FROM relationship_types WHERE id = ?1 AND environment = ?2 AND is_deleted = 0"),
        [id, environment],
        render_type,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("Relationship type"))
}
