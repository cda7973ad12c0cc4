//! Workflow commands: create (version 1, published), draft a new version, publish, update descriptive
//! fields, set the environment's default, deactivate; and the default workflow each environment gets on
//! first start. Must not render responses.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::checks::engine::DEFAULT_CHECKS;
use crate::domain::ids::WorkflowId;
pub use crate::domain::workflow::Definition;
use crate::domain::workflow::{
    self as dom, Policy, VersionState, WorkflowCommand, WorkflowCreated, WorkflowEvent, WorkflowState, WorkflowUpdated,
};
use crate::error::{AppError, AppResult};
use crate::store::events::{stream_version, NewEvent};
use crate::store::Exec;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone)]
pub struct CreateWorkflow {
    pub name: String,
    pub description: Option<String>,
    pub is_default: bool,
    pub definition: Definition,
    pub data_requirements: Map<String, Value>,
    pub screening_settings: Map<String, Value>,
}

/// The workflow's state from its view rows (None: no such workflow in this environment), with the
/// stream version to append after.
fn load(w: &WriteCtx<'_>, env: &str, id: &str) -> AppResult<Option<(WorkflowState, i64)>> {
    let found: Option<bool> = w
        .conn
        .row("SELECT is_default FROM workflows WHERE id = ?1 AND environment = ?2", params![id, env], |r| r.get(0))
        .optional()?;
    let Some(is_default) = found else { return Ok(None) };
    let versions = {
        let mut stmt = w.conn.prepare_cached(
            "SELECT version, status = 'published' FROM workflow_versions WHERE workflow_id = ?1 ORDER BY version",
        )?;
        let rows = stmt.query_map([id], |r| Ok(VersionState { version: r.get(0)?, published: r.get(1)? }))?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    Ok(Some((WorkflowState { id: id.to_string(), is_default, versions }, stream_version(w.conn, id)?)))
}

fn emit(w: &mut WriteCtx<'_>, meta: &CommandMeta, id: &str, version: i64, events: Vec<WorkflowEvent>) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let new =
        events.iter().map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() });
    w.emit(&meta.event_meta(), id, version, new.collect())?;
    Ok(())
}

/// Decides `command` against the workflow's current state and appends what follows.
fn run(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    id: &WorkflowId,
    command: WorkflowCommand,
) -> AppResult<Vec<WorkflowEvent>> {
    let loaded = load(w, &meta.environment, id.as_str())?;
    let (state, version) = match &loaded {
        Some((s, v)) => (Some(s), *v),
        None => (None, 0),
    };
    let events = dom::decide(state, command, &meta.ctx())?;
    emit(w, meta, id.as_str(), version, events.clone())?;
    Ok(events)
}

pub(crate) fn create_in(w: &mut WriteCtx<'_>, meta: &CommandMeta, input: CreateWorkflow) -> AppResult<WorkflowId> {
    let id = WorkflowId::new();
    let created = WorkflowCreated {
        name: input.name,
        description: input.description,
        data_requirements: input.data_requirements,
        screening_settings: input.screening_settings,
    };
    let command = WorkflowCommand::Create { created, definition: input.definition, is_default: input.is_default };
    run(w, meta, &id, command)?;
    Ok(id)
}

pub async fn create(writer: &Writer, meta: CommandMeta, input: CreateWorkflow) -> AppResult<WorkflowId> {
    writer.execute(move |w| create_in(w, &meta, input)).await
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
            let fields = WorkflowUpdated {
                name: u.name,
                description: u.description,
                data_requirements: u.data_requirements,
                screening_settings: u.screening_settings,
            };
            let command = WorkflowCommand::Update {
                fields,
                definition: u.definition,
                publish: u.publish,
                set_default: u.is_default == Some(true),
            };
            run(w, &meta, &id, command)?;
            Ok(id)
        })
        .await
}

/// Publishes a draft version (the latest when `version` is None).
pub async fn publish(writer: &Writer, meta: CommandMeta, id: WorkflowId, version: Option<i64>) -> AppResult<i64> {
    writer
        .execute(move |w| {
            let events = run(w, &meta, &id, WorkflowCommand::Publish(version))?;
            match events.first() {
                Some(WorkflowEvent::Published(p)) => Ok(p.version),
                _ => Err(AppError::Internal("publishing appended no event".into())),
            }
        })
        .await
}

pub async fn set_default(writer: &Writer, meta: CommandMeta, id: WorkflowId) -> AppResult<WorkflowId> {
    writer
        .execute(move |w| {
            run(w, &meta, &id, WorkflowCommand::SetDefault)?;
            Ok(id)
        })
        .await
}

pub async fn deactivate(writer: &Writer, meta: CommandMeta, id: WorkflowId) -> AppResult<WorkflowId> {
    writer
        .execute(move |w| {
            run(w, &meta, &id, WorkflowCommand::Deactivate)?;
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
                    w.conn.row("SELECT EXISTS (SELECT 1 FROM workflows WHERE environment = ?1 AND is_default = 1)", [env], |r| r.get(0))?;
                if has {
                    continue;
                }
                let meta = CommandMeta::untraced("system", env, now.clone());
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
