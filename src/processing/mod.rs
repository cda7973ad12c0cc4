//! The processing service: the one owner of the session pipeline. Handlers (submit, reprocess, external
//! decision, simulate, a workflow trigger), the capture page's complete step and the sweeper all go
//! through it. It gathers a session's evidence from the read pool on a bounded pool of blocking threads
//! (sized to the machine), asks the face provider over HTTP, then records the decision in one short
//! writer command that refuses evidence gathered at a stale stream version; it then gathers again (a few
//! times at most). Must not write except through that command (and, for a trigger, the session commands
//! the sessions API uses), and must not run CPU work on the async runtime or in the writer.

pub mod evidence;
pub mod selfie_index;
pub mod trigger;

use crate::blocking::CpuPool;
use crate::checks::engine::{self, FaceMatch};
use crate::commands::session_decision::{self, external_target, Plan, Recorded};
use crate::commands::sessions::{self as cmd, load_state, resolve_in, SessionRef};
use crate::commands::writer::Writer;
use crate::commands::CommandMeta;
use crate::crypto::Keyring;
use crate::domain::ids::SessionId;
use crate::domain::session::{self as dom, Action, ExternalDecision, SimulateAction};
use crate::error::{AppError, AppResult};
use crate::face::FaceClient;
use crate::screening_service::ScreeningService;
use crate::store::ReadPool;
use evidence::{Scope, SessionEvidence};
use std::sync::Arc;

/// How often a decision is tried with fresh evidence before the session is left for the sweeper.
pub const ATTEMPTS: usize = 3;

/// How the session to process is found. Not `Debug`: it may hold a capture token.
#[derive(Clone)]
pub enum Lookup {
    /// By id in any environment (the sweeper and background processing).
    Any(String),
    At(SessionRef),
}

/// What gathering found: evidence, or a session that has nothing to process (its status).
pub enum Gathered {
    Ready(Box<SessionEvidence>),
    Nothing { id: String, status: String },
}

struct Inner {
    writer: Writer,
    read: ReadPool,
    keyring: Arc<Keyring>,
    face: FaceClient,
    screening: ScreeningService,
    selfies: selfie_index::SelfieIndex,
    cpu: CpuPool,
}

/// Cheap to clone; built once at startup.
#[derive(Clone)]
pub struct Processing {
    inner: Arc<Inner>,
}

impl Processing {
    pub fn new(
        writer: Writer,
        read: ReadPool,
        keyring: Arc<Keyring>,
        face: FaceClient,
        screening: ScreeningService,
        cpu: CpuPool,
    ) -> Self {
        let inner =
            Inner { writer, read, keyring, face, screening, selfies: selfie_index::SelfieIndex::default(), cpu };
        Processing { inner: Arc::new(inner) }
    }

    pub fn writer(&self) -> &Writer {
        &self.inner.writer
    }

    /// The face provider client (VerifyHQ's liveness sessions ask it too).
    pub fn face(&self) -> &FaceClient {
        &self.inner.face
    }

    pub fn read(&self) -> &ReadPool {
        &self.inner.read
    }

    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.inner.keyring
    }

    /// Processes a session that has just entered `processing`, in the background. The pipeline's future
    /// holds every step's state (13 KB); boxed, the task keeps a pointer to it, so spawning
    /// and finishing the task move eight bytes instead of copying the whole future in and out of its cell.
    pub fn spawn(&self, meta: CommandMeta, id: String) {
        let this = self.clone();
        actix_web::rt::spawn(Box::pin(async move {
            if let Err(e) = this.process(meta, id.clone()).await {
                tracing::error!(session_id = %id, error = %e, "session processing failed");
            }
        }));
    }

    /// Runs the pipeline on a session in `processing` and records the decision. Returns its status after.
    pub async fn process(&self, meta: CommandMeta, id: String) -> AppResult<String> {
        match self.settle(meta, Lookup::Any(id), Plan::Walk, None).await? {
            Recorded::Done { status, .. } => Ok(status),
            Recorded::Stale { .. } => Err(stale()),
        }
    }

    /// The decision at an external gate (spec §1.1.17).
    pub async fn external_decision(
        &self,
        meta: CommandMeta,
        id: SessionId,
        decision: ExternalDecision,
    ) -> AppResult<String> {
        let at = Lookup::At(SessionRef::Id { environment: meta.environment.clone(), id });
        match self.settle(meta, at, Plan::External(decision), None).await? {
            Recorded::Done { status, .. } => Ok(status),
            Recorded::Stale { .. } => Err(stale()),
        }
    }

    /// Sandbox: the outcome is chosen, not computed (spec §2.8). Works from pending without capture.
    /// Returns (session id, status, simulated result).
    pub async fn simulate(
        &self,
        meta: CommandMeta,
        at: SessionRef,
        action: SimulateAction,
    ) -> AppResult<(String, String, Option<String>)> {
        if action == SimulateAction::Expire {
            let (id, status) = cmd::simulate_expire(self.writer(), meta, at).await?;
            return Ok((id, status, None));
        }
        match self.settle(meta, Lookup::At(at), Plan::Simulate(action), None).await? {
            Recorded::Done { id, status, result } => Ok((id, status, result)),
            Recorded::Stale { .. } => Err(stale()),
        }
    }

    /// Records `plan` from fresh evidence (or from `first`, when given), gathering again while the
    /// decision refuses evidence as stale, up to `ATTEMPTS` times.
    pub async fn settle(
        &self,
        meta: CommandMeta,
        lookup: Lookup,
        plan: Plan,
        mut first: Option<SessionEvidence>,
    ) -> AppResult<Recorded> {
        let (mut last, mut session_id) = (None, String::new());
        for attempt in 1..=ATTEMPTS {
            let ev = match first.take() {
                Some(ev) => ev,
                None => match self.gather(&meta, &lookup, &plan).await? {
                    Gathered::Ready(ev) => *ev,
                    Gathered::Nothing { id, status } => return Ok(Recorded::Done { id, status, result: None }),
                },
            };
            session_id = ev.session.id.clone();
            match session_decision::record(self.writer(), meta.clone(), ev, plan.clone()).await? {
                Recorded::Stale { expected, found } => {
                    tracing::info!(session_id = %session_id, attempt, expected, found, "session changed while processing; gathering again");
                    last = Some(Recorded::Stale { expected, found });
                }
                done => return Ok(done),
            }
        }
        tracing::error!(session_id = %session_id, attempts = ATTEMPTS, "session kept changing while processing; decision not recorded");
        Ok(last.unwrap_or(Recorded::Stale { expected: 0, found: 0 }))
    }

    /// Reads the session and everything its decision needs, outside the write transaction.
    pub async fn gather(&self, meta: &CommandMeta, lookup: &Lookup, plan: &Plan) -> AppResult<Gathered> {
        let this = self.clone();
        let (lookup, plan_for_read, now) = (lookup.clone(), plan.clone(), meta.now.clone());
        let gathered = self
            .cpu(move || {
                // One snapshot: the evidence is read as of one commit, with one read lock for its statements.
                this.inner.read.in_snapshot(|conn| {
                    let keyring = &this.inner.keyring;
                    let s = match &lookup {
                        Lookup::Any(id) => load_state(conn, None, id)?.ok_or_else(|| AppError::not_found("Session"))?,
                        Lookup::At(at) => resolve_in(conn, keyring, at, &now)?,
                    };
                    let scope = match &plan_for_read {
                        Plan::Walk if s.status != "processing" => {
                            return Ok(Gathered::Nothing { id: s.id, status: s.status })
                        }
                        Plan::Walk => Scope::Pipeline,
                        Plan::External(_) => {
                            dom::transition(&s.status, s.redacted(), Action::ExternalDecision)?;
                            Scope::Pipeline
                        }
                        Plan::Simulate(_) => {
                            cmd::require_sandbox(&s)?;
                            Scope::Base
                        }
                    };
                    let snapshot = this.inner.screening.current();
                    let ev = evidence::gather(conn, keyring, &snapshot, &this.inner.selfies, s, &now, scope)?;
                    Ok(Gathered::Ready(Box::new(ev)))
                })
            })
            .await?;
        let Gathered::Ready(mut ev) = gathered else { return Ok(gathered) };
        let walks = match plan {
            Plan::Walk => true,
            Plan::External(d) => !matches!(
                external_target(&ev.graph, ev.node.as_deref(), *d).as_deref(),
                Some("reject" | "review") | None
            ),
            Plan::Simulate(_) => false,
        };
        if walks && engine::enabled(&ev.engine, "face_match") && ev.session.uploaded.iter().any(|d| d == "selfie") {
            let face = match ev.face_unreadable.take() {
                Some(reason) => FaceMatch::Unavailable(reason),
                None => {
                    let images = ev.face_images.take();
                    self.inner.face.evaluate(&ev.session.id, ev.session.sandbox(), images).await
                }
            };
            ev.engine.face = Some(face);
        }
        ev.face_images = None;
        ev.decision = engine::evaluate(&ev.engine);
        Ok(Gathered::Ready(ev))
    }

    /// Runs CPU or blocking work on the machine's CPU pool, in the caller's span. Always queued: a session
    /// in processing has no caller left to refuse.
    async fn cpu<T: Send + 'static>(&self, f: impl FnOnce() -> AppResult<T> + Send + 'static) -> AppResult<T> {
        self.inner.cpu.run_queued(f).await
    }
}

fn stale() -> AppError {
    AppError::Conflict("The session kept changing while it was processed; retry the request.".into())
}
