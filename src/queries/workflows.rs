//! Workflow reads: the workflow object with its published definition, lists and versions. Must not
//! write.

use super::{OffsetPage, Page};
use crate::domain::ids::WorkflowId;
use crate::domain::workflow::{Graph, Policy, WorkflowGraph};
use crate::error::{AppError, AppResult};
use crate::store::ReadOnly;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// How a workflow version was written: the legacy steps list or a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowFormat {
    Steps,
    Graph,
}

/// Where a version stands: a draft, the published one, or a formerly published one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    Draft,
    Published,
    Superseded,
}

/// A workflow (spec §1.5.2) with its published version's definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    pub id: WorkflowId,
    pub name: String,
    pub description: Option<String>,
    /// The environment's default workflow (sessions without a workflow run it).
    pub is_default: bool,
    pub is_active: bool,
    /// The published version.
    pub version: i64,
    /// The newest version, published or draft.
    pub latest_version: i64,
    /// A draft newer than the published version exists.
    pub has_draft: bool,
    pub format: WorkflowFormat,
    /// The steps list when the published version was given as steps; null for a graph.
    pub steps: Option<Vec<Policy>>,
    /// The number of nodes of the published graph.
    pub step_count: i64,
    pub graph: WorkflowGraph,
    /// What capture collects.
    #[schema(value_type = Object)]
    pub data_requirements: Map<String, Value>,
    /// AML/watchlist settings.
    #[schema(value_type = Object)]
    pub screening_settings: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// One version of a workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowVersionView {
    pub version: i64,
    pub format: WorkflowFormat,
    /// The steps list when the version was given as steps; null for a graph.
    pub steps: Option<Vec<Policy>>,
    pub graph: WorkflowGraph,
    pub status: VersionStatus,
    pub created_at: String,
    pub published_at: Option<String>,
}

/// A workflow's versions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowVersions {
    pub data: Vec<WorkflowVersionView>,
}

fn bad(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("stored workflow {what}: {e}"))
}

fn version_view(conn: &ReadOnly, id: &str, version: i64) -> AppResult<Option<WorkflowVersionView>> {
    let row = conn
        .query_row(
            "SELECT version, format, steps, graph, status, created_at, published_at FROM workflow_versions
             WHERE workflow_id = ?1 AND version = ?2",
            params![id, version],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((version, format, steps, graph, status, created_at, published_at)) = row else { return Ok(None) };
    let format = match format.as_str() {
        "steps" => WorkflowFormat::Steps,
        "graph" => WorkflowFormat::Graph,
        other => return Err(bad("format", other)),
    };
    let status = match status.as_str() {
        "draft" => VersionStatus::Draft,
        "published" => VersionStatus::Published,
        "superseded" => VersionStatus::Superseded,
        other => return Err(bad("version status", other)),
    };
    let steps = match steps {
        Some(s) => Some(serde_json::from_str::<Option<Vec<Policy>>>(&s).map_err(|e| bad("steps", e))?),
        None => None,
    }
    .flatten();
    let graph: Graph = serde_json::from_str(&graph).map_err(|e| bad("graph", e))?;
    Ok(Some(WorkflowVersionView {
        version,
        format,
        steps,
        graph: WorkflowGraph::from_graph(&graph)?,
        status,
        created_at,
        published_at,
    }))
}

fn object(text: &str) -> Map<String, Value> {
    serde_json::from_str::<Map<String, Value>>(text).unwrap_or_default()
}

fn render(conn: &ReadOnly, r: &rusqlite::Row<'_>) -> AppResult<WorkflowView> {
    let id: String = r.get(0)?;
    let current: i64 = r.get(5)?;
    let v = version_view(conn, &id, current)?.ok_or_else(|| bad("version", format!("{id} v{current} missing")))?;
    let latest: i64 =
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM workflow_versions WHERE workflow_id = ?1", [&id], |r| {
            r.get(0)
        })?;
    let data_req: String = r.get(6)?;
    let screening: String = r.get(7)?;
    Ok(WorkflowView {
        id: WorkflowId::from_stored(id),
        name: r.get(1)?,
        description: r.get(2)?,
        is_default: r.get(3)?,
        is_active: r.get(4)?,
        version: current,
        latest_version: latest,
        has_draft: latest > current,
        format: v.format,
        steps: v.steps,
        step_count: v.graph.nodes.len() as i64,
        graph: v.graph,
        data_requirements: object(&data_req),
        screening_settings: object(&screening),
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

const COLUMNS: &str = "id, name, description, is_default, is_active, current_version, data_requirements, screening_settings, created_at, updated_at";

pub fn get(conn: &ReadOnly, environment: &str, id: &WorkflowId) -> AppResult<WorkflowView> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1 AND environment = ?2"))?;
    let mut rows = stmt.query(params![id.as_str(), environment])?;
    let row = rows.next()?.ok_or_else(|| AppError::not_found("Workflow"))?;
    render(conn, row)
}

pub fn list(conn: &ReadOnly, environment: &str, page: Page) -> AppResult<OffsetPage<WorkflowView>> {
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
    Ok(OffsetPage::new(data, total, page))
}

pub fn versions(conn: &ReadOnly, environment: &str, id: &WorkflowId) -> AppResult<WorkflowVersions> {
    get(conn, environment, id)?;
    let versions: Vec<i64> = {
        let mut stmt =
            conn.prepare("SELECT version FROM workflow_versions WHERE workflow_id = ?1 ORDER BY version DESC")?;
        let rows = stmt.query_map([id.as_str()], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut data = Vec::new();
    for v in versions {
        if let Some(view) = version_view(conn, id.as_str(), v)? {
            data.push(view);
        }
    }
    Ok(WorkflowVersions { data })
}
