//! Workflow reads: the workflow object with its published definition, lists and versions. Must not
//! write.

use super::{OffsetPage, Page};
use crate::domain::ids::{WorkflowDraftId, WorkflowId};
use crate::domain::workflow::{Graph, Policy, WorkflowGraph, WorkflowNode};
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
    /// The newest draft's id when `has_draft` (see `/workflows/{id}/drafts`).
    pub draft_id: Option<WorkflowDraftId>,
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
    let draft_id: Option<String> = if latest > current {
        conn.query_row(
            "SELECT draft_id FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
            params![&id, latest],
            |r| r.get(0),
        )
        .optional()?
        .flatten()
    } else {
        None
    };
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
        draft_id: draft_id.map(WorkflowDraftId::from_stored),
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

// ---------------------------------------------------------------------------------------------------------
// Drafts: a drafted version seen by its draft id (`wfd_`).
// ---------------------------------------------------------------------------------------------------------

/// A drafted version of a workflow (spec §1.5.1 drafts). A draft is a version written by an update with
/// a new definition; publishing it makes it the version new sessions run.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftView {
    pub id: WorkflowDraftId,
    pub workflow_id: WorkflowId,
    /// The version this draft is.
    pub version: i64,
    /// `draft` until published; `published` while it is the current version; `superseded` after.
    pub status: VersionStatus,
    /// The version published now (what the draft is compared with).
    pub published_version: i64,
    pub format: WorkflowFormat,
    /// The steps list when the draft was given as steps; null for a graph.
    pub steps: Option<Vec<Policy>>,
    pub graph: WorkflowGraph,
    pub created_at: String,
    pub published_at: Option<String>,
}

/// A workflow's unpublished drafts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftList {
    pub data: Vec<DraftView>,
}

fn draft_view(conn: &ReadOnly, id: &WorkflowId, current: i64, version: i64, draft_id: String) -> AppResult<DraftView> {
    let v = version_view(conn, id.as_str(), version)?
        .ok_or_else(|| bad("version", format!("{} v{version} missing", id.as_str())))?;
    Ok(DraftView {
        id: WorkflowDraftId::from_stored(draft_id),
        workflow_id: id.clone(),
        version,
        status: v.status,
        published_version: current,
        format: v.format,
        steps: v.steps,
        graph: v.graph,
        created_at: v.created_at,
        published_at: v.published_at,
    })
}

pub fn drafts(conn: &ReadOnly, environment: &str, id: &WorkflowId) -> AppResult<DraftList> {
    let current = get(conn, environment, id)?.version;
    let rows: Vec<(i64, String)> = {
        let mut stmt = conn.prepare(
            "SELECT version, draft_id FROM workflow_versions
             WHERE workflow_id = ?1 AND status = 'draft' AND draft_id IS NOT NULL ORDER BY version DESC",
        )?;
        let rows = stmt.query_map([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let data = rows.into_iter().map(|(v, d)| draft_view(conn, id, current, v, d)).collect::<AppResult<_>>()?;
    Ok(DraftList { data })
}

/// One draft of the workflow, whatever its status now.
pub fn draft(conn: &ReadOnly, environment: &str, id: &WorkflowId, draft: &WorkflowDraftId) -> AppResult<DraftView> {
    let current = get(conn, environment, id)?.version;
    let version: i64 = conn
        .query_row(
            "SELECT version FROM workflow_versions WHERE workflow_id = ?1 AND draft_id = ?2",
            params![id.as_str(), draft.as_str()],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("Workflow draft"))?;
    draft_view(conn, id, current, version, draft.as_str().to_string())
}

/// A draft and the published version's graphs, stored form.
pub fn draft_graphs(
    conn: &ReadOnly,
    environment: &str,
    id: &WorkflowId,
    draft_id: &WorkflowDraftId,
) -> AppResult<(DraftView, Graph, Graph)> {
    let d = draft(conn, environment, id, draft_id)?;
    let text = |v: i64| -> AppResult<Graph> {
        let t: String = conn.query_row(
            "SELECT graph FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
            params![id.as_str(), v],
            |r| r.get(0),
        )?;
        serde_json::from_str(&t).map_err(|e| bad("graph", e))
    };
    let (draft_graph, published) = (text(d.version)?, text(d.published_version)?);
    Ok((d, draft_graph, published))
}

/// A node setting that differs.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingChange {
    /// The node key (`next`, `on_fail`, `policy`, `conditions`, a node setting such as `minimum_age`).
    pub setting: String,
    /// The published value (null: not set).
    #[schema(schema_with = any_value)]
    pub published: Value,
    /// The draft's value (null: not set).
    #[schema(schema_with = any_value)]
    pub draft: Value,
}

/// A node in both versions whose settings differ.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeChange {
    pub node: String,
    pub settings: Vec<SettingChange>,
}

/// A node only one side has.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeOnOneSide {
    pub node: String,
    #[serde(flatten)]
    pub definition: WorkflowNode,
}

/// The entry node of each side, when it differs.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryChange {
    pub published: String,
    pub draft: String,
}

/// How a draft differs from the published version.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftDiff {
    pub workflow_id: WorkflowId,
    pub draft_id: WorkflowDraftId,
    pub draft_version: i64,
    pub published_version: i64,
    /// The two graphs are the same.
    pub identical: bool,
    pub entry: Option<EntryChange>,
    pub nodes_added: Vec<NodeOnOneSide>,
    pub nodes_removed: Vec<NodeOnOneSide>,
    pub nodes_changed: Vec<NodeChange>,
    /// Policies the draft runs that the published version does not.
    pub policies_added: Vec<Policy>,
    /// Policies the published version runs that the draft does not.
    pub policies_removed: Vec<Policy>,
}

fn any_value() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .description(Some("Any JSON value."))
        .build()
}

pub fn draft_diff(
    conn: &ReadOnly,
    environment: &str,
    id: &WorkflowId,
    draft_id: &WorkflowDraftId,
) -> AppResult<DraftDiff> {
    let (d, draft_graph, published) = draft_graphs(conn, environment, id, draft_id)?;
    let diff = crate::domain::workflow_run::diff(&published, &draft_graph);
    let node = |g: &Graph, n: &str| -> AppResult<NodeOnOneSide> {
        let v = g.nodes.get(n).cloned().unwrap_or(Value::Null);
        let definition = serde_json::from_value(v).map_err(|e| bad("node", e))?;
        Ok(NodeOnOneSide { node: n.to_string(), definition })
    };
    let policy = |p: &String| serde_json::from_value::<Policy>(Value::String(p.clone())).map_err(|e| bad("policy", e));
    Ok(DraftDiff {
        workflow_id: id.clone(),
        draft_id: d.id,
        draft_version: d.version,
        published_version: d.published_version,
        identical: diff.is_empty(),
        entry: diff.entry_changed.map(|(published, draft)| EntryChange { published, draft }),
        nodes_added: diff.added.iter().map(|n| node(&draft_graph, n)).collect::<AppResult<_>>()?,
        nodes_removed: diff.removed.iter().map(|n| node(&published, n)).collect::<AppResult<_>>()?,
        nodes_changed: diff
            .changed
            .into_iter()
            .map(|(node, settings)| NodeChange {
                node,
                settings: settings
                    .into_iter()
                    .map(|(setting, published, draft)| SettingChange { setting, published, draft })
                    .collect(),
            })
            .collect(),
        policies_added: diff.policies_added.iter().map(policy).collect::<AppResult<_>>()?,
        policies_removed: diff.policies_removed.iter().map(policy).collect::<AppResult<_>>()?,
    })
}
