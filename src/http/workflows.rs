//! /workflows and /verification-policies.

use super::body::{ApiBody, QueryMap};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::workflows::{self as cmd, CreateWorkflow, Definition, UpdateWorkflow};
use crate::domain::workflow::{Graph, POLICIES};
use crate::error::AppError;
use crate::queries::workflows as q;
use actix_web::web;
use serde::Deserialize;
use serde_json::{json, Map, Value};

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

fn definition(steps: Option<Vec<String>>, graph: Option<Value>) -> Result<Option<Definition>, AppError> {
    match (steps, graph) {
        (Some(_), Some(_)) => Err(AppError::validation("graph", "give either steps or graph, not both")),
        (Some(s), None) => Ok(Some(Definition::Steps(s))),
        (None, Some(g)) => {
            let g: Graph = serde_json::from_value(g)
                .map_err(|e| AppError::validation("graph", format!("must be {{entry, nodes}}: {e}")))?;
            Ok(Some(Definition::Graph(g)))
        }
        (None, None) => Ok(None),
    }
}

async fn list(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::list(&state.read.get()?, p.environment(), query.page(25)?)?))
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    description: Option<String>,
    steps: Option<Vec<String>>,
    graph: Option<Value>,
    is_default: Option<bool>,
    data_requirements: Option<Map<String, Value>>,
    screening_settings: Option<Map<String, Value>>,
    graph_layout: Option<Value>,
}

async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateBody>) -> ApiResult {
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
    Ok(Reply::created(q::get(&state.read.get()?, p.environment(), &id)?))
}

async fn get(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::get(&state.read.get()?, p.environment(), &path)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    #[serde(default, with = "crate::domain::double_option")]
    description: Option<Option<String>>,
    steps: Option<Vec<String>>,
    graph: Option<Value>,
    is_default: Option<bool>,
    data_requirements: Option<Map<String, Value>>,
    screening_settings: Option<Map<String, Value>>,
    publish: Option<bool>,
    graph_layout: Option<Value>,
}

async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<UpdateBody>,
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
    Ok(Reply::ok(q::get(&state.read.get()?, p.environment(), &id)?))
}

async fn versions(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::versions(&state.read.get()?, p.environment(), &path)?))
}

#[derive(Deserialize, Default)]
struct PublishBody {
    version: Option<i64>,
}

async fn publish(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<PublishBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = path.into_inner();
    cmd::publish(&state.writer, p.meta(state.now()), id.clone(), body.0.version).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, p.environment(), &id)?))
}

async fn set_default(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::set_default(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, p.environment(), &id)?))
}

async fn deactivate(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::deactivate(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, p.environment(), &id)?))
}

async fn policies(p: Principal) -> ApiResult {
    p.require(READ, &[WRITE, "sessions:read"])?;
    let data: Vec<Value> = POLICIES.iter().map(|name| json!({ "name": name })).collect();
    Ok(Reply::ok(json!({ "data": data })))
}
