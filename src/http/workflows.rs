//! /workflows and /verification-policies (spec §1.5).

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::workflows::{self as cmd, CreateWorkflow, Definition, UpdateWorkflow};
use crate::domain::ids::WorkflowId;
use crate::domain::workflow::{Condition, ConditionOp, NodeType, Policy, TerminalOutcome, WorkflowGraph, WorkflowNode};
use crate::error::AppError;
use crate::queries::workflows::{
    self as q, VersionStatus, WorkflowFormat, WorkflowVersionView, WorkflowVersions, WorkflowView,
};
use crate::queries::{OffsetPage, OffsetPagination};
use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/workflows", "List workflows", web::get().to(list));
    t.add("POST", "/workflows", "Create a workflow", web::post().to(create));
    t.add("GET", "/workflows/{workflow_id}", "Get a workflow", web::get().to(get));
    t.add("PATCH", "/workflows/{workflow_id}", "Update a workflow", web::patch().to(update));
    t.add("GET", "/workflows/{workflow_id}/versions", "List workflow versions", web::get().to(versions));
    t.add("POST", "/workflows/{workflow_id}/publish", "Publish a workflow draft", web::post().to(publish));
    t.add("POST", "/workflows/{workflow_id}/set-default", "Make a workflow the default", web::post().to(set_default));
    t.add("POST", "/workflows/{workflow_id}/deactivate", "Deactivate a workflow", web::post().to(deactivate));
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
        "is_active": true, "version": 1, "latest_version": 1, "has_draft": false, "format": "graph", "steps": null,
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
    paths(list, create, get, update, versions, publish, set_default, deactivate, policies),
    components(schemas(
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
