//! Triggering a workflow (spec §1.5.1, `POST /workflows/{id}/trigger`) through the processing service:
//! for a session, the same submit or reprocess command the sessions API uses, then the same processing,
//! awaited; for an identity, a new session on the workflow for the identity's reference (it runs once
//! its person has captured and it is submitted). Must not write except through those commands.

use super::Processing;
use crate::commands::sessions::{self as cmd, CreateSession, NewSession, SessionRef};
use crate::commands::CommandMeta;
use crate::domain::ids::{IdentityRef, SessionId, WorkflowId};
use crate::domain::values::ExternalRef;
use crate::error::{AppError, AppResult};
use std::collections::BTreeMap;

/// What a trigger runs the workflow for.
#[derive(Debug, Clone)]
pub enum TriggerTarget {
    Session(SessionId),
    Identity(IdentityRef),
}

/// What a trigger did.
pub enum Triggered {
    /// The session was submitted or reprocessed and processed; its status after.
    Ran { session_id: String, status: String },
    /// A new session on the workflow for the identity, waiting for its capture.
    Created { session: NewSession, identity_id: String },
}

impl Processing {
    /// Runs `workflow` for a session that runs it (its own or, without one, the default), or starts a
    /// new session on it for an identity.
    pub async fn trigger(
        &self,
        meta: CommandMeta,
        workflow: WorkflowId,
        target: TriggerTarget,
    ) -> AppResult<Triggered> {
        let (env, read) = (meta.environment.clone(), self.read().clone());
        let wf = workflow.clone();
        let target_for_read = target.clone();
        let plan = read
            .run(move |conn| {
                let active: Option<bool> = rusqlite::OptionalExtension::optional(conn.query_row(
                    "SELECT is_active FROM workflows WHERE id = ?1 AND environment = ?2",
                    rusqlite::params![wf.as_str(), env],
                    |r| r.get(0),
                ))?;
                match active {
                    None => return Err(AppError::not_found("Workflow")),
                    Some(false) => return Err(AppError::Conflict("The workflow is not active.".into())),
                    Some(true) => {}
                }
                match target_for_read {
                    TriggerTarget::Session(id) => {
                        let s = cmd::load_state(conn, Some(&env), id.as_str())?
                            .ok_or_else(|| AppError::not_found("Session"))?;
                        let (runs, _) = super::evidence::session_graph(conn, &s)?;
                        if runs.as_ref().map(|(w, _)| w.as_str()) != Some(wf.as_str()) {
                            return Err(AppError::Conflict(
                                "The session runs another workflow (or its own checks); a trigger runs a workflow \
                                 for the sessions created on it, or on the default when it is the default."
                                    .into(),
                            ));
                        }
                        Ok(Plan::Session { id, status: s.status })
                    }
                    TriggerTarget::Identity(r) => {
                        let i = crate::commands::identities::load_surviving(conn, &env, r.as_str())?
                            .ok_or_else(|| AppError::not_found("Identity"))?;
                        if i.is_redacted() {
                            return Err(AppError::Conflict("The identity's data has been redacted.".into()));
                        }
                        let external_ref = i.external_ref.ok_or_else(|| {
                            AppError::Conflict(
                                "The identity has no external_ref; a session reaches its identity through it.".into(),
                            )
                        })?;
                        Ok(Plan::Identity { id: i.id, external_ref })
                    }
                }
            })
            .await?;
        match plan {
            Plan::Session { id, status } => {
                let at = SessionRef::Id { environment: meta.environment.clone(), id: id.clone() };
                let (session_id, to) = match status.as_str() {
                    "pending" | "capturing" => cmd::submit(self.writer(), meta.clone(), at).await?,
                    "completed" | "failed" => {
                        (cmd::reprocess(self.writer(), meta.clone(), id).await?, "processing".to_string())
                    }
                    other => {
                        return Err(AppError::Conflict(format!(
                            "The session is '{other}'; a trigger runs a session that is capturing, completed or failed."
                        )))
                    }
                };
                let status = if to == "processing" { self.process(meta, session_id.clone()).await? } else { to };
                Ok(Triggered::Ran { session_id, status })
            }
            Plan::Identity { id, external_ref } => {
                let input = CreateSession {
                    external_ref: Some(ExternalRef::from_stored(external_ref)),
                    metadata: Default::default(),
                    country: None,
                    checks: None,
                    workflow_id: Some(workflow),
                    redirect_url: None,
                    send_email: false,
                    prefill: BTreeMap::new(),
                };
                let session = cmd::create(self.writer(), self.keyring().clone(), meta, input).await?;
                Ok(Triggered::Created { session, identity_id: id })
            }
        }
    }
}

enum Plan {
    Session { id: SessionId, status: String },
    Identity { id: String, external_ref: String },
}
