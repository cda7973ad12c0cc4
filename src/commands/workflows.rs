//! Workflow commands: create (version 1, published), draft a new version, publish, update descriptive
//! fields, set the environment's default, deactivate; and the default workflow each environment gets on
//! first start. Must not render responses.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::checks::engine::DEFAULT_CHECKS;
use crate::domain::ids::WorkflowId;
use crate::domain::values::parse_text;
use crate::domain::workflow::{self as dom, Graph, Policy, WorkflowGraph};
use crate::error::{AppError, AppResult};
use crate::store::events::{stream_version, NewEvent};
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Map, Value};

/// A workflow definition as given: the legacy steps list or a graph.
#[derive(Debug, Clone)]
pub enum Definition {
    Steps(Vec<Policy>),
    Graph(WorkflowGraph),
}

impl Definition {
    pub fn graph(&self) -> AppResult<(String, Option<Vec<String>>, Graph)> {
        match self {
            Definition::Steps(s) => {
                let s: Vec<String> = s.iter().map(|p| p.as_str().to_string()).collect();
                let g = dom::graph_from_steps(&s)?;
                Ok(("steps".into(), Some(s), g))
            }
            Definition::Graph(g) => {
                let g = g.to_graph()?;
                dom::validate(&g)?;
                Ok(("graph".into(), None, g))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct CreateWorkflow {
    pub name: String,
    pub description: Option<String>,
    pub is_default: bool,
    pub definition: Definition,
    pub data_requirements: Map<String, Value>,
    pub screening_settings: Map<String, Value>,
}

fn draft_event(version: i64, def: &Definition) -> AppResult<NewEvent> {
    let (format, steps, graph) = def.graph()?;
    Ok(NewEvent::new(
        "WorkflowVersionDrafted",
        json!({ "version": version, "format": format, "steps": steps, "graph": graph }),
    ))
}

/// A workflow name: 1 to 200 characters after trimming, no control characters.
fn name(text: &str) -> AppResult<String> {
    parse_text("name", text, 200).map_err(|e| AppError::validation(&e.field, e.message))
}

fn create_in(w: &mut WriteCtx<'_>, meta: &CommandMeta, input: CreateWorkflow) -> AppResult<WorkflowId> {
    let name = name(&input.name)?;
    let id = WorkflowId::new();
    let mut events = vec![
        NewEvent::new(
            "WorkflowCreated",
            json!({
                "name": name,
                "description": input.description,
                "data_requirements": input.data_requirements,
                "screening_settings": input.screening_settings,
            }),
        ),
        draft_event(1, &input.definition)?,
        NewEvent::new("WorkflowPublished", json!({ "version": 1 })),
    ];
    if input.is_default {
        events.push(NewEvent::new("WorkflowSetDefault", json!({})));
    }
    w.emit(&meta.event_meta(), id.as_str(), 0, events)?;
    Ok(id)
}

pub async fn create(writer: &Writer, meta: CommandMeta, input: CreateWorkflow) -> AppResult<WorkflowId> {
    writer.execute(move |w| create_in(w, &meta, input)).await
}

fn require(w: &WriteCtx<'_>, env: &str, id: &str) -> AppResult<(i64, i64)> {
    let found: Option<i64> = w
        .conn
        .query_row("SELECT current_version FROM workflows WHERE id = ?1 AND environment = ?2", params![id, env], |r| {
            r.get(0)
        })
        .optional()?;
    let current = found.ok_or_else(|| AppError::not_found("Workflow"))?;
    let latest: i64 = w.conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM workflow_versions WHERE workflow_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    let _ = current;
    Ok((stream_version(w.conn, id)?, latest))
}

#[derive(Debug, Clone, Default)]
pub struct UpdateWorkflow {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub data_requirements: Option<Map<String, Value>>,
    pub screening_settings: Option<Map<String, Value>>,
    pub definition: Option<Definition>,
    /// Publish the new definition at once (otherwise it stays a draft until /publish).
    pub publish: bool,
    pub is_default: Option<bool>,
}

pub async fn update(writer: &Writer, meta: CommandMeta, id: WorkflowId, u: UpdateWorkflow) -> AppResult<WorkflowId> {
    writer
        .execute(move |w| {
            let (version, latest) = require(w, &meta.environment, id.as_str())?;
            let mut events = Vec::new();
            let mut fields = Map::new();
            if let Some(n) = &u.name {
                fields.insert("name".into(), json!(name(n)?));
            }
            if let Some(d) = &u.description {
                fields.insert("description".into(), json!(d));
            }
            if let Some(d) = &u.data_requirements {
                fields.insert("data_requirements".into(), Value::Object(d.clone()));
            }
            if let Some(s) = &u.screening_settings {
                fields.insert("screening_settings".into(), Value::Object(s.clone()));
            }
            if !fields.is_empty() {
                events.push(NewEvent::new("WorkflowUpdated", Value::Object(fields)));
            }
            if let Some(def) = &u.definition {
                events.push(draft_event(latest + 1, def)?);
                if u.publish {
                    events.push(NewEvent::new("WorkflowPublished", json!({ "version": latest + 1 })));
                }
            }
            match u.is_default {
                Some(true) => events.push(NewEvent::new("WorkflowSetDefault", json!({}))),
                Some(false) => {}
                None => {}
            }
            if !events.is_empty() {
                w.emit(&meta.event_meta(), id.as_str(), version, events)?;
            }
            Ok(id)
        })
        .await
}

/// Publishes a draft version (the latest when `version` is None).
pub async fn publish(writer: &Writer, meta: CommandMeta, id: WorkflowId, version: Option<i64>) -> AppResult<i64> {
    writer
        .execute(move |w| {
            let (stream, latest) = require(w, &meta.environment, id.as_str())?;
            let v = version.unwrap_or(latest);
            let status: Option<String> = w
                .conn
                .query_row(
                    "SELECT status FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
                    params![id.as_str(), v],
                    |r| r.get(0),
                )
                .optional()?;
            match status.as_deref() {
                None => return Err(AppError::not_found("Workflow version")),
                Some("published") => return Err(AppError::Conflict(format!("Version {v} is already published."))),
                Some(_) => {}
            }
            w.emit(
                &meta.event_meta(),
                id.as_str(),
                stream,
                vec![NewEvent::new("WorkflowPublished", json!({ "version": v }))],
            )?;
            Ok(v)
        })
        .await
}

pub async fn set_default(writer: &Writer, meta: CommandMeta, id: WorkflowId) -> AppResult<WorkflowId> {
    writer
        .execute(move |w| {
            let (stream, _) = require(w, &meta.environment, id.as_str())?;
            w.emit(&meta.event_meta(), id.as_str(), stream, vec![NewEvent::new("WorkflowSetDefault", json!({}))])?;
            Ok(id)
        })
        .await
}

pub async fn deactivate(writer: &Writer, meta: CommandMeta, id: WorkflowId) -> AppResult<WorkflowId> {
    writer
        .execute(move |w| {
            let (stream, _) = require(w, &meta.environment, id.as_str())?;
            let is_default: bool =
                w.conn.query_row("SELECT is_default FROM workflows WHERE id = ?1", [id.as_str()], |r| r.get(0))?;
            if is_default {
                return Err(AppError::Conflict(
                    "The default workflow cannot be deactivated; make another one the default first.".into(),
                ));
            }
            w.emit(&meta.event_meta(), id.as_str(), stream, vec![NewEvent::new("WorkflowDeactivated", json!({}))])?;
            Ok(id)
        })
        .await
}

/// Each environment without a default workflow gets the built-in KYC pipeline as its default.
pub async fn ensure_defaults(writer: &Writer, now: String) -> AppResult<()> {
    writer
        .execute(move |w| {
            for env in ["sandbox", "live"] {
                let has: bool =
                    w.conn.query_row("SELECT EXISTS (SELECT 1 FROM workflows WHERE environment = ?1 AND is_default = 1)", [env], |r| r.get(0))?;
                if has {
                    continue;
                }
                let meta = CommandMeta { actor: "system".into(), environment: env.into(), request_id: None, now: now.clone() };
                let input = CreateWorkflow {
                    name: "Default KYC".into(),
                    description: Some("Document, age, face match, duplicates and risk, then auto-approve.".into()),
                    is_default: true,
                    definition: Definition::Steps(
                        DEFAULT_CHECKS
                            .iter()
                            .filter_map(|s| Policy::ALL.into_iter().find(|p| p.as_str() == *s))
                            .chain([Policy::AutoApprove])
                            .collect(),
                    ),
                    data_requirements: json!({ "selfie": "required", "first_name": "required", "last_name": "required", "dob": "required" })
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                    screening_settings: json!({ "similarity_threshold": 0.6 }).as_object().cloned().unwrap_or_default(),
                };
                create_in(w, &meta, input)?;
            }
            Ok(())
        })
        .await
}

pub use crate::store::shared_reads::resolve_for_session;
