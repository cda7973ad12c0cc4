//! /workflows and /verification-policies (spec §1.5): definitions and versions, drafts (list, get, diff
//! against the published version, dry-run over recorded sessions, publish), the trigger that runs a
//! workflow for a session or an identity through the processing service, and analytics over a period.
//! Must not run SQL or the engine itself: queries read the views, the processing service processes.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::workflows::{self as cmd, CreateWorkflow, Definition, UpdateWorkflow};
use crate::domain::ids::{IdentityRef, SessionId, WorkflowDraftId, WorkflowId};
use crate::domain::session::SessionStatus;
use crate::domain::values::Timestamp;
use crate::domain::workflow::{Condition, ConditionOp, NodeType, Policy, TerminalOutcome, WorkflowGraph, WorkflowNode};
use crate::error::AppError;
use crate::processing::trigger::{TriggerTarget, Triggered};
use crate::queries::workflow_runs::{self as runs, DryRunView, RunNodeView, RunView, Selection, WorkflowAnalytics};
use crate::queries::workflows::{
    self as q, DraftDiff, DraftList, DraftView, VersionStatus, WorkflowFormat, WorkflowVersionView, WorkflowVersions,
    WorkflowView,
};
use crate::queries::{OffsetPage, OffsetPagination};
use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/workflows", "List workflows", web::get().to(list));
    t.add("POST", "/workflows", "Create a workflow", web::post().to(create));
    t.add("GET", "/workflows/{workflow_id}", "Get a workflow", web::get().to(get));
    t.add("PATCH", "/workflows/{workflow_id}", "Update a workflow", web::patch().to(update));
    t.add("GET", "/workflows/{workflow_id}/versions", "List workflow versions", web::get().to(versions));
    t.add("POST", "/workflows/{workflow_id}/publish", "Publish a workflow draft", web::post().to(publish));
    t.add("POST", "/workflows/{workflow_id}/set-default", "Make a workflow the default", web::post().to(set_default));
    t.add("POST", "/workflows/{workflow_id}/deactivate", "Deactivate a workflow", web::post().to(deactivate));
    t.add("POST", "/workflows/{workflow_id}/trigger", "Trigger a workflow", web::post().to(trigger));
    t.add("GET", "/workflows/{workflow_id}/analytics", "Get workflow analytics", web::get().to(analytics));
    t.add("GET", "/workflows/{workflow_id}/drafts", "List workflow drafts", web::get().to(drafts));
    t.add("GET", "/workflows/{workflow_id}/drafts/{draft_id}", "Get a workflow draft", web::get().to(draft));
    t.add(
        "GET",
        "/workflows/{workflow_id}/drafts/{draft_id}/diff",
        "Diff a draft against the published version",
        web::get().to(draft_diff),
    );
    t.add(
        "POST",
        "/workflows/{workflow_id}/drafts/{draft_id}/dry-run",
        "Dry-run a workflow draft",
        web::post().to(dry_run),
    );
    t.add(
        "POST",
        "/workflows/{workflow_id}/drafts/{draft_id}/publish",
        "Publish a workflow draft",
        web::post().to(publish_draft),
    );
    t.add("GET", "/verification-policies", "List verification policies", web::get().to(policies));
}

const READ: &str = "workflows:read";
const WRITE: &str = "workflows:write";

fn graph_example() -> Value {
    json!({
        "entry": "start",
        "nodes": {
            "start": { "type": "start", "next": "age" },
            "age": { "type": "policy", "policy": "age_verification", "on_pass": "ok", "on_fail": "no" },
            "ok": { "type": "terminal", "outcome": "approved" },
            "no": { "type": "terminal", "outcome": "rejected" }
        }
    })
}

fn workflow_example() -> Value {
    json!({
        "id": "wfl_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "name": "Age check", "description": null, "is_default": false,
        "is_active": true, "version": 1, "latest_version": 1, "has_draft": false, "draft_id": null, "format": "graph", "steps": null,
        "step_count": 4, "graph": graph_example(), "data_requirements": { "selfie": "required" },
        "screening_settings": { "similarity_threshold": 0.6 },
        "created_at": "2026-01-15T10:00:00.000Z", "updated_at": "2026-01-15T10:00:00.000Z"
    })
}

fn definition(steps: Option<Vec<Policy>>, graph: Option<WorkflowGraph>) -> Result<Option<Definition>, AppError> {
    match (steps, graph) {
        (Some(_), Some(_)) => Err(AppError::validation("graph", "give either steps or graph, not both")),
        (Some(s), None) => Ok(Some(Definition::Steps(s))),
        (None, Some(g)) => Ok(Some(Definition::Graph(g))),
        (None, None) => Ok(None),
    }
}

#[utoipa::path(get, path = "/api/v1/workflows", tag = "Workflows", operation_id = "list_workflows",
    params(PageQuery),
    responses((status = 200, description = "The environment's workflows, newest first", body = OffsetPage<WorkflowView>,
        example = json!({ "data": [workflow_example()], "pagination": { "total": 1, "limit": 25, "offset": 0 } }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, page: ApiQuery<PageQuery>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    let page = page.0.page(25)?;
    Ok(Reply::ok(state.read(move |c| q::list(c, &env, page)).await?))
}

/// A new workflow: its definition is either `steps` (policies in order, then `auto_approve` decides) or a
/// `graph`, not both. It is created as version 1, published.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateWorkflowBody {
    /// 1 to 200 printable characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        example = "Age check"
    )]
    name: String,
    description: Option<String>,
    /// The legacy steps format: at least one policy.
    #[schema(min_items = 1, nullable = false, example = json!(["document_ocr", "age_verification", "auto_approve"]))]
    steps: Option<Vec<Policy>>,
    #[schema(nullable = false, example = graph_example)]
    graph: Option<WorkflowGraph>,
    /// Make it the environment's default workflow (default false).
    is_default: Option<bool>,
    /// What capture collects: `selfie` and user-info fields (`first_name`, `last_name`, `email`, `phone`,
    /// `dob`, `ssn`, `address`), each `collect` or `required`.
    #[schema(value_type = Option<Object>, example = json!({"selfie": "required", "first_name": "required"}))]
    data_requirements: Option<Map<String, Value>>,
    /// AML/watchlist settings, e.g. `similarity_threshold` (default 0.6).
    #[schema(value_type = Option<Object>, example = json!({"similarity_threshold": 0.6}))]
    screening_settings: Option<Map<String, Value>>,
    /// Dashboard layout coordinates; accepted and not stored.
    #[schema(value_type = Option<Object>)]
    graph_layout: Option<Map<String, Value>>,
}

#[utoipa::path(post, path = "/api/v1/workflows", tag = "Workflows", operation_id = "create_workflow",
    request_body = CreateWorkflowBody,
    responses((status = 201, description = "The new workflow, version 1 published", body = WorkflowView,
        example = workflow_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateWorkflowBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let _ = b.graph_layout;
    let def =
        definition(b.steps, b.graph)?.ok_or_else(|| AppError::validation("steps", "steps or graph is required"))?;
    let input = CreateWorkflow {
        name: b.name,
        description: b.description,
        is_default: b.is_default.unwrap_or(false),
        definition: def,
        data_requirements: b.data_requirements.unwrap_or_default(),
        screening_settings: b.screening_settings.unwrap_or_default(),
    };
    let id = cmd::create(&state.writer, p.meta(state.now()), input).await?;
    let env = p.env();
    Ok(Reply::created(state.read(move |c| q::get(c, &env, &id)).await?))
}

#[utoipa::path(get, path = "/api/v1/workflows/{workflow_id}", tag = "Workflows", operation_id = "get_workflow",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow")),
    responses((status = 200, description = "The workflow with its published definition", body = WorkflowView,
        example = workflow_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<WorkflowId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &path)).await?))
}

/// Changes to a workflow; omitted fields stay as they are. A new definition (`steps` or `graph`, not both)
/// becomes a new version: a draft, or published at once with `publish: true`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateWorkflowBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    description: Option<Option<String>>,
    #[schema(min_items = 1, nullable = false)]
    steps: Option<Vec<Policy>>,
    #[schema(nullable = false)]
    graph: Option<WorkflowGraph>,
    /// true makes it the environment's default (and active); false changes nothing.
    is_default: Option<bool>,
    #[schema(value_type = Option<Object>)]
    data_requirements: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    screening_settings: Option<Map<String, Value>>,
    /// Publish the new definition at once (default false: it stays a draft until /publish).
    publish: Option<bool>,
    /// Dashboard layout coordinates; accepted and not stored.
    #[schema(value_type = Option<Object>)]
    graph_layout: Option<Map<String, Value>>,
}

#[utoipa::path(patch, path = "/api/v1/workflows/{workflow_id}", tag = "Workflows", operation_id = "update_workflow",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow")),
    request_body = UpdateWorkflowBody,
    responses((status = 200, description = "The workflow (its published definition)", body = WorkflowView,
        example = workflow_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<WorkflowId>,
    body: ApiBody<UpdateWorkflowBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let _ = b.graph_layout;
    let u = UpdateWorkflow {
        name: b.name,
        description: b.description,
        data_requirements: b.data_requirements,
        screening_settings: b.screening_settings,
        definition: definition(b.steps, b.graph)?,
        publish: b.publish.unwrap_or(false),
        is_default: b.is_default,
    };
    let id = cmd::update(&state.writer, p.meta(state.now()), path.into_inner(), u).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &id)).await?))
}

#[utoipa::path(get, path = "/api/v1/workflows/{workflow_id}/versions", tag = "Workflows",
    operation_id = "list_workflow_versions",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow")),
    responses((status = 200, description = "Every version, newest first", body = WorkflowVersions,
        example = json!({ "data": [{ "version": 1, "format": "graph", "steps": null, "graph": graph_example(),
            "status": "published", "created_at": "2026-01-15T10:00:00.000Z",
            "published_at": "2026-01-15T10:00:00.000Z" }] }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn versions(state: web::Data<AppState>, p: Principal, path: ApiPath<WorkflowId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::versions(c, &env, &path)).await?))
}

/// Which draft to publish; an empty body publishes the latest version.
#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    /// The version to publish (default: the latest).
    #[schema(minimum = 1, maximum = 2147483647, example = 2)]
    version: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/workflows/{workflow_id}/publish", tag = "Workflows",
    operation_id = "publish_workflow",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow")),
    request_body = PublishBody,
    responses((status = 200, description = "The workflow, with the version now published", body = WorkflowView,
        example = workflow_example),
        (status = 404, description = "No such workflow, or no such version of it", body = ErrorBody),
        (status = 409, description = "The version is already published", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn publish(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<WorkflowId>,
    body: ApiBody<PublishBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = path.into_inner();
    cmd::publish(&state.writer, p.meta(state.now()), id.clone(), body.0.version).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &id)).await?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{workflow_id}/set-default", tag = "Workflows",
    operation_id = "set_default_workflow",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow")),
    responses((status = 200, description = "The workflow, now the environment's default (and active)",
        body = WorkflowView, example = workflow_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn set_default(state: web::Data<AppState>, p: Principal, path: ApiPath<WorkflowId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::set_default(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &id)).await?))
}

#[utoipa::path(post, path = "/api/v1/workflows/{workflow_id}/deactivate", tag = "Workflows",
    operation_id = "deactivate_workflow",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow")),
    responses((status = 200, description = "The deactivated workflow (deactivating again changes nothing)",
        body = WorkflowView, example = workflow_example),
        (status = 409, description = "The workflow is the environment's default", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn deactivate(state: web::Data<AppState>, p: Principal, path: ApiPath<WorkflowId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::deactivate(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &id)).await?))
}

// ---------------------------------------------------------------------------------------------------------
// Trigger
// ---------------------------------------------------------------------------------------------------------

/// Run the workflow for a session of it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TriggerSession {
    /// A session that runs this workflow (its own, or the default when this is the default), capturing,
    /// completed or failed: it is submitted or reprocessed and processed before the answer.
    session_id: SessionId,
}

/// Start a new session on the workflow for an identity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TriggerIdentity {
    /// The identity's id or external_ref; the new session carries its external_ref, so its decision
    /// updates this identity.
    identity_id: IdentityRef,
}

/// What to run the workflow for: a session or an identity. The document's shape of the body; it is read
/// as `TriggerFields`, so a refused value is named by its field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum TriggerBody {
    Session(TriggerSession),
    Identity(TriggerIdentity),
}

/// The trigger body as read: exactly one of the two fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerFields {
    session_id: Option<SessionId>,
    identity_id: Option<IdentityRef>,
}

/// A triggered workflow: the session it runs on and its run.
#[derive(Debug, Serialize, ToSchema)]
struct TriggeredRun {
    workflow_id: WorkflowId,
    session_id: SessionId,
    /// The identity a new session was started for (identity triggers).
    identity_id: Option<String>,
    /// A new session was created (identity triggers): it runs once captured and submitted.
    session_created: bool,
    session_status: SessionStatus,
    /// The new session's capture page (identity triggers only).
    capture_url: Option<String>,
    /// The run the trigger made (null until the session is processed).
    run: Option<RunView>,
}

fn run_example() -> Value {
    json!({
        "session_id": "ses_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "run": 2, "workflow_id": "wfl_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
        "workflow_version": 1, "trigger": "reprocess", "status": "completed", "outcome": "approved",
        "started_at": "2026-01-15T10:00:00.000Z", "finished_at": "2026-01-15T10:00:00.250Z", "duration_ms": 250,
        "nodes": [
            { "position": 1, "node": "start", "node_type": "start", "policy": null, "result": "started",
              "next": "age", "entered_at": "2026-01-15T10:00:00.000Z", "left_at": "2026-01-15T10:00:00.250Z",
              "duration_ms": 250 },
            { "position": 2, "node": "age", "node_type": "policy", "policy": "age_verification", "result": "passed",
              "next": "ok", "entered_at": "2026-01-15T10:00:00.000Z", "left_at": "2026-01-15T10:00:00.250Z",
              "duration_ms": 250 },
            { "position": 3, "node": "ok", "node_type": "terminal", "policy": null, "result": "approved",
              "next": null, "entered_at": "2026-01-15T10:00:00.000Z", "left_at": "2026-01-15T10:00:00.250Z",
              "duration_ms": 250 }
        ]
    })
}

#[utoipa::path(post, path = "/api/v1/workflows/{workflow_id}/trigger", tag = "Workflows",
    operation_id = "trigger_workflow",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow")),
    request_body = TriggerBody,
    responses(
        (status = 200, description = "The session was submitted or reprocessed and processed: its run", body = TriggeredRun,
            example = json!({ "workflow_id": "wfl_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "session_id": "ses_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
                "identity_id": null, "session_created": false, "session_status": "completed", "capture_url": null,
                "run": run_example() })),
        (status = 201, description = "A new session on the workflow for the identity, waiting for its capture", body = TriggeredRun),
        (status = 404, description = "No such workflow, session or identity", body = ErrorBody),
        (status = 409, description = "The workflow is not active; the session runs another workflow or is in a status a trigger cannot run (processing, awaiting an external decision, under review, expired); the identity is redacted or has no external_ref", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn trigger(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<WorkflowId>,
    body: ApiBody<TriggerFields>,
) -> ApiResult {
    p.require(WRITE, &["sessions:write"])?;
    let workflow = path.into_inner();
    let target = match (body.0.session_id, body.0.identity_id) {
        (Some(s), None) => TriggerTarget::Session(s),
        (None, Some(i)) => TriggerTarget::Identity(i),
        (Some(_), Some(_)) => {
            return Err(AppError::validation("identity_id", "give session_id or identity_id, not both"))
        }
        (None, None) => return Err(AppError::validation("session_id", "session_id or identity_id is required")),
    };
    let triggered = state.processing.trigger(p.meta(state.now()), workflow.clone(), target).await?;
    let env = p.env();
    let (session_id, identity_id, capture_url) = match &triggered {
        Triggered::Ran { session_id, .. } => (session_id.clone(), None, None),
        Triggered::Created { session, identity_id } => {
            let base = state.config.public_url.clone().unwrap_or_default();
            (session.id.clone(), Some(identity_id.clone()), Some(format!("{base}/verify/{}", session.token)))
        }
    };
    let sid = session_id.clone();
    let (status, run) = state
        .read(move |c| {
            let status: SessionStatus = crate::queries::sessions::workflow_run(c, &env, &sid)?.session_status;
            Ok((status, runs::latest(c, &env, &sid)?))
        })
        .await?;
    let created = matches!(triggered, Triggered::Created { .. });
    let out = TriggeredRun {
        workflow_id: workflow,
        session_id: SessionId::from_stored(session_id),
        identity_id,
        session_created: created,
        session_status: status,
        capture_url,
        run: if created { None } else { run },
    };
    Ok(if created { Reply::created(out) } else { Reply::ok(out) })
}

// ---------------------------------------------------------------------------------------------------------
// Analytics
// ---------------------------------------------------------------------------------------------------------

/// The period: runs started at or after `from` and before `to` (either may be left out).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    from: Option<Timestamp>,
    to: Option<Timestamp>,
}

#[utoipa::path(get, path = "/api/v1/workflows/{workflow_id}/analytics", tag = "Workflows",
    operation_id = "get_workflow_analytics",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow"), PeriodQuery),
    responses((status = 200, description = "Runs, outcomes and time per node over the period, from the log", body = WorkflowAnalytics,
        example = json!({ "workflow_id": "wfl_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "from": "2026-01-01T00:00:00.000Z", "to": null,
            "runs": { "total": 2, "running": 0, "awaiting_external": 0, "completed": 2, "failed": 0, "interrupted": 0 },
            "outcomes": { "approved": 1, "declined": 1, "needs_review": 0 },
            "run_time": { "count": 2, "average_ms": 240, "median_ms": 250, "max_ms": 250 },
            "versions": [{ "version": 1, "runs": 2, "outcomes": { "approved": 1, "declined": 1, "needs_review": 0 } }],
            "nodes": [{ "node": "age", "node_type": "policy", "policy": "age_verification", "visits": 2,
                "results": { "passed": 1, "failed": 1 }, "time": { "count": 2, "average_ms": 240, "median_ms": 250, "max_ms": 250 } }] })),
        (status = 404, description = "No such workflow", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn analytics(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<WorkflowId>,
    query: ApiQuery<PeriodQuery>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    let q = query.0;
    let (from, to) = (q.from.map(Timestamp::into_string), q.to.map(Timestamp::into_string));
    Ok(Reply::ok(state.read(move |c| runs::analytics(c, &env, &path, from.as_deref(), to.as_deref())).await?))
}

// ---------------------------------------------------------------------------------------------------------
// Drafts
// ---------------------------------------------------------------------------------------------------------

#[utoipa::path(get, path = "/api/v1/workflows/{workflow_id}/drafts", tag = "Workflows",
    operation_id = "list_workflow_drafts",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow")),
    responses((status = 200, description = "The workflow's unpublished drafts, newest first", body = DraftList),
        (status = 404, description = "No such workflow", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn drafts(state: web::Data<AppState>, p: Principal, path: ApiPath<WorkflowId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::drafts(c, &env, &path)).await?))
}

#[utoipa::path(get, path = "/api/v1/workflows/{workflow_id}/drafts/{draft_id}", tag = "Workflows",
    operation_id = "get_workflow_draft",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow"),
        ("draft_id" = WorkflowDraftId, Path, description = "The draft")),
    responses((status = 200, description = "The draft (also once published)", body = DraftView),
        (status = 404, description = "No such workflow or draft", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn draft(state: web::Data<AppState>, p: Principal, path: ApiPath<(WorkflowId, WorkflowDraftId)>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    let (id, d) = path.into_inner();
    Ok(Reply::ok(state.read(move |c| q::draft(c, &env, &id, &d)).await?))
}

#[utoipa::path(get, path = "/api/v1/workflows/{workflow_id}/drafts/{draft_id}/diff", tag = "Workflows",
    operation_id = "diff_workflow_draft",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow"),
        ("draft_id" = WorkflowDraftId, Path, description = "The draft")),
    responses((status = 200, description = "How the draft differs from the published version", body = DraftDiff),
        (status = 404, description = "No such workflow or draft", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn draft_diff(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<(WorkflowId, WorkflowDraftId)>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    let (id, d) = path.into_inner();
    Ok(Reply::ok(state.read(move |c| q::draft_diff(c, &env, &id, &d)).await?))
}

/// Which recorded sessions to evaluate: the given sessions, or the workflow's decided runs of a period
/// (the latest per session, newest first). `session_ids`, when given, takes precedence over the period.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DryRunBody {
    /// These sessions of the environment (1 to 500), whatever workflow decided them.
    #[schema(min_items = 1, max_items = 500, nullable = false)]
    session_ids: Option<Vec<SessionId>>,
    /// Runs decided at or after this moment.
    #[schema(nullable = false)]
    from: Option<Timestamp>,
    /// Runs decided before this moment.
    #[schema(nullable = false)]
    to: Option<Timestamp>,
    /// How many sessions of the period, 1 to 500 (default 100).
    #[schema(minimum = 1, maximum = 500, nullable = false)]
    limit: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/workflows/{workflow_id}/drafts/{draft_id}/dry-run", tag = "Workflows",
    operation_id = "dry_run_workflow_draft",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow"),
        ("draft_id" = WorkflowDraftId, Path, description = "The draft")),
    request_body = DryRunBody,
    responses((status = 200, description = "What the draft would have decided for each session, beside what was decided; nothing is written", body = DryRunView,
        example = json!({ "workflow_id": "wfl_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "draft_id": "wfd_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
            "draft_version": 2,
            "summary": { "evaluated": 1, "changed": 1, "skipped": 0,
                "published": { "approved": 0, "declined": 1, "needs_review": 0 },
                "draft": { "approved": 0, "declined": 0, "needs_review": 1, "awaiting_external": 0 } },
            "data": [{ "session_id": "ses_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
                "published": { "workflow_id": "wfl_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "workflow_version": 1, "outcome": "declined",
                    "path": ["start", "age", "no"] },
                "draft": { "outcome": "needs_review", "path": ["start", "age", "look"], "waiting_at": null,
                    "unevaluated_policies": [] },
                "changed": true }],
            "skipped": [] })),
        (status = 404, description = "No such workflow or draft", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn dry_run(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<(WorkflowId, WorkflowDraftId)>,
    body: ApiBody<DryRunBody>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let b = body.0;
    let selection = match b.session_ids {
        Some(ids) => Selection::Sessions(ids),
        None => Selection::Period {
            from: b.from.map(Timestamp::into_string),
            to: b.to.map(Timestamp::into_string),
            limit: b.limit.unwrap_or(100),
        },
    };
    if let Selection::Sessions(ids) = &selection {
        if ids.is_empty() || ids.len() > 500 {
            return Err(AppError::validation("session_ids", "give 1 to 500 session ids"));
        }
    }
    if !(1..=500).contains(&b.limit.unwrap_or(100)) {
        return Err(AppError::validation("limit", "must be 1 to 500"));
    }
    let env = p.env();
    let (id, d) = path.into_inner();
    Ok(Reply::ok(
        state
            .read(move |c| {
                let (draft, graph, _) = q::draft_graphs(c, &env, &id, &d)?;
                runs::dry_run(c, &env, &id, (&draft.id, draft.version, &graph), &selection)
            })
            .await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/workflows/{workflow_id}/drafts/{draft_id}/publish", tag = "Workflows",
    operation_id = "publish_workflow_draft",
    params(("workflow_id" = WorkflowId, Path, description = "The workflow"),
        ("draft_id" = WorkflowDraftId, Path, description = "The draft")),
    responses((status = 200, description = "The workflow, with the draft now its published version", body = WorkflowView,
        example = workflow_example),
        (status = 404, description = "No such workflow or draft", body = ErrorBody),
        (status = 409, description = "The draft is the published version already", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn publish_draft(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<(WorkflowId, WorkflowDraftId)>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let env = p.env();
    let (id, d) = path.into_inner();
    let (read_id, read_env) = (id.clone(), env.clone());
    let version = state.read(move |c| Ok(q::draft(c, &read_env, &read_id, &d)?.version)).await?;
    cmd::publish(&state.writer, p.meta(state.now()), id.clone(), Some(version)).await?;
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &id)).await?))
}

/// A verification policy a workflow can run.
#[derive(Debug, Serialize, ToSchema)]
struct PolicyView {
    name: Policy,
}

/// The verification policies.
#[derive(Debug, Serialize, ToSchema)]
struct PolicyList {
    data: Vec<PolicyView>,
}

#[utoipa::path(get, path = "/api/v1/verification-policies", tag = "Workflows",
    operation_id = "list_verification_policies",
    responses((status = 200, description = "Every policy a workflow node or steps list can name", body = PolicyList,
        example = json!({ "data": [{ "name": "document_ocr" }, { "name": "age_verification" }] }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn policies(p: Principal) -> ApiResult {
    p.require(READ, &[WRITE, "sessions:read"])?;
    let data = Policy::ALL.into_iter().map(|name| PolicyView { name }).collect();
    Ok(Reply::ok(PolicyList { data }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get,
        update,
        versions,
        publish,
        set_default,
        deactivate,
        trigger,
        analytics,
        drafts,
        draft,
        draft_diff,
        dry_run,
        publish_draft,
        policies
    ),
    components(schemas(
        WorkflowDraftId,
        TriggerBody,
        TriggerSession,
        TriggerIdentity,
        TriggeredRun,
        RunView,
        RunNodeView,
        WorkflowAnalytics,
        DraftView,
        DraftList,
        DraftDiff,
        DryRunBody,
        DryRunView,
        CreateWorkflowBody,
        UpdateWorkflowBody,
        PublishBody,
        WorkflowView,
        WorkflowVersionView,
        WorkflowVersions,
        WorkflowGraph,
        WorkflowNode,
        Condition,
        ConditionOp,
        NodeType,
        Policy,
        TerminalOutcome,
        WorkflowFormat,
        VersionStatus,
        PolicyView,
        PolicyList,
        OffsetPagination
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
