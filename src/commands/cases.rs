//! Review-case commands (spec §1.8): create (with the session's decision to review, or on request),
//! update, claim, claim-next, release (also by the sweeper after inactivity), assign, escalate, approve and
//! reject (with dual review and the effects on the session and identity), notes, check overrides and PII
//! corrections. Free text is sealed under the case's own data key; corrected PII under the identity's.
//! Must not render HTTP responses or read the clock (the time arrives in `CommandMeta`).

use super::identities::{
    data_key, emit_identity, load_state as load_identity, open_pii, seal_fields, sealed_blind_set,
};
use super::sessions::{emit as emit_session, load_state as load_session};
use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::domain::case::{self as dom, CaseCommand, CaseDecision, CaseEvent, CaseState, CaseStatus};
use crate::domain::identity::{self as idom, IdentityCommand};
use crate::domain::ids::{self, OrgUserId};
use crate::domain::session::{self as sdom, Outcome, Verdict};
use crate::domain::user::{Role, UserStatus};
use crate::error::{AppError, AppResult};
use crate::store::events::NewEvent;
use crate::store::Exec;
use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const B64: base64::engine::general_purpose::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Whether `reviewer` exists and may review cases: an active org user (any role reviews; org users belong
/// to the installation, so both environments share them). An unknown id is a 404 like any missing
/// referenced object; a disabled account is a 409. Returns the reviewer's role.
pub fn ensure_reviewer(conn: &Connection, _environment: &str, reviewer: &OrgUserId) -> AppResult<Role> {
    match crate::queries::users::state(conn, reviewer.as_str())? {
        None => Err(AppError::NotFound("Reviewer not found.".into())),
        Some(user) if user.status == UserStatus::Disabled => {
            Err(AppError::Conflict("The reviewer's account is disabled.".into()))
        }
        Some(user) => Ok(user.role),
    }
}

/// A case as its commands need it.
struct Loaded {
    state: CaseState,
    version: i64,
    environment: String,
    session_id: Option<String>,
}

fn load(conn: &Connection, environment: &str, id: &str) -> AppResult<Option<Loaded>> {
    let row = conn
        .prepare_cached(
            "SELECT status, assigned_to, recommended_by, stream_seq, environment, session_id
             FROM cases WHERE id = ?1 AND environment = ?2",
        )?
        .query_row(params![id, environment], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .optional()?;
    let Some((status, assigned_to, recommended_by, version, environment, session_id)) = row else {
        return Ok(None);
    };
    Ok(Some(Loaded {
        state: CaseState { status: CaseStatus::from_stored(&status)?, assigned_to, recommended_by },
        version,
        environment,
        session_id,
    }))
}

fn require(conn: &Connection, environment: &str, id: &str) -> AppResult<Loaded> {
    load(conn, environment, id)?.ok_or_else(|| AppError::not_found("Case"))
}

fn emit(w: &mut WriteCtx<'_>, meta: &CommandMeta, id: &str, version: i64, events: &[CaseEvent]) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let new = events.iter().map(|e| NewEvent::new(e.event_type(), e.payload())).collect();
    w.emit(&meta.event_meta(), id, version, new)?;
    Ok(())
}

/// Seals reviewer text under the case's key (it may name the person under review).
fn seal(w: &WriteCtx<'_>, case_id: &str, field: &str, text: Option<&str>) -> AppResult<Option<String>> {
    let Some(text) = text else { return Ok(None) };
    let key = data_key(w.conn, w.keyring, case_id)?
        .ok_or_else(|| AppError::invalid_state("This case's data key has been erased."))?;
    Ok(Some(B64.encode(key.seal(case_id, field, text))))
}

/// Creates case `case_id` for a session that went to review, in the caller's transaction (the session's
/// decision, or `POST /cases`). Mints the case's data key.
pub fn create_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    case_id: &str,
    session_id: Option<&str>,
    identity_id: Option<&str>,
    demo: bool,
) -> AppResult<()> {
    let (_, wrapped) = w.keyring.new_data_key(case_id);
    w.conn.exec("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)", params![case_id, wrapped])?;
    let created = dom::Created {
        session_id: session_id.map(str::to_string),
        identity_id: identity_id.map(str::to_string),
        entered_review_at: meta.now.clone(),
        demo,
    };
    let events = dom::decide(None, CaseCommand::Create(created))?;
    emit(w, meta, case_id, 0, &events)
}

/// `POST /cases {session_id}`: the session's case if it has one, else a new case for a session under
/// review (409 otherwise).
pub async fn create_for_session(writer: &Writer, meta: CommandMeta, session_id: String) -> AppResult<String> {
    writer
        .execute(move |w| {
            let s = load_session(w.conn, Some(&meta.environment), &session_id)?
                .ok_or_else(|| AppError::not_found("Session"))?;
            let existing: Option<String> = w
                .conn
                .row("SELECT id FROM cases WHERE session_id = ?1 ORDER BY created_at LIMIT 1", [&s.id], |r| r.get(0))
                .optional()?;
            if let Some(id) = existing {
                return Ok(id);
            }
            if s.status != "under_review" {
                return Err(AppError::Conflict(format!(
                    "Only a session under review gets a case; this one is '{}'.",
                    s.status
                )));
            }
            let case_id: Option<String> =
                w.conn.row("SELECT case_id FROM sessions WHERE id = ?1", [&s.id], |r| r.get(0))?;
            let case_id = case_id.unwrap_or_else(|| ids::new_id(ids::CASE));
            create_in(w, &meta, &case_id, Some(&s.id), s.identity_id.as_deref(), false)?;
            Ok(case_id)
        })
        .await
}

/// `POST /cases/demo`: a synthetic case without a session (sandbox only; at most 3 per environment).
pub async fn create_demo(writer: &Writer, meta: CommandMeta) -> AppResult<String> {
    writer
        .execute(move |w| {
            if meta.environment != "sandbox" {
                return Err(AppError::Forbidden {
                    code: "sandbox_only",
                    detail: "Demo cases can only be created with a sandbox key.".into(),
                });
            }
            let count: i64 = w.conn.row(
                "SELECT COUNT(*) FROM cases WHERE environment = ?1 AND is_demo = 1",
                [&meta.environment],
                |r| r.get(0),
            )?;
            if count >= dom::MAX_DEMO_CASES {
                return Err(AppError::Conflict(format!(
                    "At most {} demo cases can be created per environment.",
                    dom::MAX_DEMO_CASES
                )));
            }
            let id = ids::new_id(ids::CASE);
            create_in(w, &meta, &id, None, None, true)?;
            Ok(id)
        })
        .await
}

/// Runs one case command on case `id` and emits its events; returns the events for follow-ups.
fn run(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    id: &str,
    command: CaseCommand,
) -> AppResult<(Loaded, Vec<CaseEvent>)> {
    let c = require(w.conn, &meta.environment, id)?;
    let events = dom::decide(Some(&c.state), command)?;
    emit(w, meta, id, c.version, &events)?;
    Ok((c, events))
}

/// A case command without follow-up effects (update, claim, release, assign, escalate, notes).
pub async fn simple(writer: &Writer, meta: CommandMeta, id: String, command: CaseCommand) -> AppResult<String> {
    writer
        .execute(move |w| {
            let case = require(w.conn, &meta.environment, &id)?;
            let command = seal_command(w, &id, command)?;
            if let CaseCommand::Claim { reviewer_id, .. } | CaseCommand::Assign { reviewer_id } = &command {
                let role = ensure_reviewer(
                    w.conn,
                    &meta.environment,
                    &OrgUserId::parse("reviewer_id", reviewer_id)
                        .map_err(|e| AppError::validation(&e.field, e.message))?,
                )?;
                dom::ensure_may_handle(case.state.status, role)?;
            }
            run(w, &meta, &id, command)?;
            Ok(id)
        })
        .await
}

/// Seals the free text a command carries, under the case's key.
fn seal_command(w: &WriteCtx<'_>, id: &str, command: CaseCommand) -> AppResult<CaseCommand> {
    Ok(match command {
        CaseCommand::Escalate(e) => CaseCommand::Escalate(dom::Escalated {
            escalated_to: e.escalated_to,
            reason: seal(w, id, "escalation_reason", e.reason.as_deref())?,
            notes: seal(w, id, "escalation_notes", e.notes.as_deref())?,
        }),
        CaseCommand::AddNote(n) => {
            CaseCommand::AddNote(dom::NoteAdded { body: seal(w, id, "note", Some(&n.body))?.unwrap_or_default(), ..n })
        }
        other => other,
    })
}

/// `POST /cases/next`: claims the oldest unassigned open case (FIFO by `entered_review_at`). Picking and
/// claiming happen in one writer command, so two reviewers never get the same case. None: queue empty.
pub async fn claim_next(writer: &Writer, meta: CommandMeta, reviewer: OrgUserId) -> AppResult<Option<String>> {
    writer
        .execute(move |w| {
            ensure_reviewer(w.conn, &meta.environment, &reviewer)?;
            let next: Option<String> = w
                .conn
                .row(
                    "SELECT id FROM cases WHERE environment = ?1 AND status = 'open' AND assigned_to IS NULL
                     ORDER BY entered_review_at, id LIMIT 1",
                    [&meta.environment],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = next else { return Ok(None) };
            run(w, &meta, &id, CaseCommand::Claim { reviewer_id: reviewer.to_string(), how: "claim_next" })?;
            Ok(Some(id))
        })
        .await
}

/// Claimed cases without activity since `?1` (index `cases_claimed`).
pub(crate) const STALE_CLAIMS_SQL: &str = "SELECT id, environment FROM cases
    WHERE status = 'in_review' AND assigned_to IS NOT NULL AND last_activity_at < ?1 ORDER BY id";

/// The sweeper: releases claims without activity since `cutoff`. Returns how many were released.
pub async fn release_stale(writer: &Writer, now: String, cutoff: String) -> AppResult<usize> {
    writer
        .execute(move |w| {
            let stale: Vec<(String, String)> = w
                .conn
                .prepare_cached(STALE_CLAIMS_SQL)?
                .query_map([&cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (id, environment) in &stale {
                let meta = CommandMeta::untraced("system", environment.clone(), now.clone());
                run(w, &meta, id, CaseCommand::Release { inactivity: true })?;
            }
            Ok(stale.len())
        })
        .await
}

/// What a reviewer decides.
#[derive(Debug, Clone)]
pub struct DecideInput {
    pub decision: CaseDecision,
    pub reviewer: OrgUserId,
    pub notes: Option<String>,
    pub rejection_reason: Option<String>,
}

/// Approve or reject. Under dual review the first decision is a recommendation; a final decision
/// completes the session and updates the identity in the same transaction.
pub async fn decide(writer: &Writer, meta: CommandMeta, id: String, input: DecideInput) -> AppResult<String> {
    writer
        .execute(move |w| {
            decide_in(w, &meta, &id, input)?;
            Ok(id)
        })
        .await
}

fn decide_in(w: &mut WriteCtx<'_>, meta: &CommandMeta, id: &str, input: DecideInput) -> AppResult<()> {
    let role = ensure_reviewer(w.conn, &meta.environment, &input.reviewer)?;
    dom::ensure_may_handle(require(w.conn, &meta.environment, id)?.state.status, role)?;
    let dual_review = crate::store::shared_reads::retention(w.conn, &meta.environment)?.dual_review;
    let command = CaseCommand::Decide {
        decision: input.decision,
        reviewer_id: input.reviewer.to_string(),
        notes: seal(w, id, "decision_notes", input.notes.as_deref())?,
        rejection_reason: seal(w, id, "rejection_reason", input.rejection_reason.as_deref())?,
        dual_review,
        reviewed_by: None,
    };
    let (case, events) = run(w, meta, id, command)?;
    let is_final = events.iter().any(|e| matches!(e, CaseEvent::Decided(d) if !d.recommendation));
    if let (true, Some(session)) = (is_final, case.session_id.as_deref()) {
        complete_session(w, meta, &case.environment, session, id, input.decision)?;
    }
    Ok(())
}

/// A decision an API client makes on its own verification (VerifyHQ's review), inside the caller's
/// transaction. It is recorded on the session's case like a reviewer's: a session still awaiting its
/// person (pending or capturing) is first routed to review, which opens the case. The client's decision is
/// final whatever the dual-review setting (dual review governs the dashboard's reviewers); the name the
/// client gives and its notes are sealed under the case's key. A case held by a dashboard reviewer or
/// escalated refuses it (409). Returns the case id.
pub fn decide_for_client_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    session_id: &str,
    decision: CaseDecision,
    reviewed_by: &str,
    notes: &str,
) -> AppResult<String> {
    let s = load_session(w.conn, Some(&meta.environment), session_id)?.ok_or_else(|| AppError::not_found("Session"))?;
    let case_id = match s.status.as_str() {
        "under_review" => w
            .conn
            .row("SELECT case_id FROM sessions WHERE id = ?1", [&s.id], |r| r.get::<_, Option<String>>(0))?
            .ok_or_else(|| AppError::Internal(format!("session {} is under review without a case", s.id)))?,
        "pending" | "capturing" => {
            let case_id = ids::new_id(ids::CASE);
            let identity_id = match &s.external_ref {
                Some(r) => super::identities::load_surviving(w.conn, &s.environment, r)?.map(|i| i.id),
                None => s.identity_id.clone(),
            };
            let outcome = Outcome {
                status: "needs_review".into(),
                rejection_reason: Some("Sent to review by the API client before any submission.".into()),
                rejection_reason_code: Some("client_review".into()),
                identity_id: identity_id.clone(),
                ..Outcome::default()
            };
            let verdict = Verdict::Decide { outcome: Box::new(outcome), workflow: None, case_id: case_id.clone() };
            let events = sdom::record_verdict(&s.status, s.redacted(), verdict)?;
            emit_session(w, meta, &s, events)?;
            create_in(w, meta, &case_id, Some(&s.id), identity_id.as_deref(), false)?;
            case_id
        }
        other => {
            return Err(AppError::Conflict(format!(
                "Only a verification awaiting review or still pending can be reviewed; this session is '{other}'."
            )))
        }
    };
    let loaded = require(w.conn, &meta.environment, &case_id)?;
    if loaded.state.status == CaseStatus::Escalated {
        return Err(AppError::Conflict("This case was escalated: a senior reviewer must decide it.".into()));
    }
    let command = CaseCommand::Decide {
        decision,
        reviewer_id: meta.actor.clone(),
        notes: seal(w, &case_id, "decision_notes", Some(notes))?,
        rejection_reason: None,
        dual_review: false,
        reviewed_by: seal(w, &case_id, "reviewed_by", Some(reviewed_by))?,
    };
    let (case, _) = run(w, meta, &case_id, command)?;
    if let Some(session) = case.session_id.as_deref() {
        complete_session(w, meta, &case.environment, session, &case_id, decision)?;
    }
    Ok(case_id)
}

/// The effects of a final decision (spec §1.8.5): the session completes with the decision as its result,
/// and its identity takes the decision's status.
fn complete_session(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    environment: &str,
    session_id: &str,
    case_id: &str,
    decision: CaseDecision,
) -> AppResult<()> {
    let Some(s) = load_session(w.conn, Some(environment), session_id)? else { return Ok(()) };
    if s.status != "under_review" {
        return Ok(());
    }
    let (result_json, extracted): (Option<String>, Option<String>) =
        w.conn.row("SELECT result_json, result_extracted FROM sessions WHERE id = ?1", [session_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let mut outcome: Outcome = result_json.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    outcome.extracted = extracted;
    let result = decision.as_str();
    outcome.status = result.to_string();
    if decision == CaseDecision::Approved {
        outcome.rejection_reason = None;
        outcome.rejection_reason_code = None;
    } else {
        outcome.rejection_reason = Some("Rejected by a reviewer.".into());
        outcome.rejection_reason_code = Some("review_rejected".into());
    }
    outcome.identity_id = outcome.identity_id.or_else(|| s.identity_id.clone());
    let verdict = Verdict::Decide { outcome: Box::new(outcome.clone()), workflow: None, case_id: case_id.to_string() };
    let events = sdom::record_verdict(&s.status, s.redacted(), verdict)?;
    emit_session(w, meta, &s, events)?;
    if let Some(identity_id) = outcome.identity_id.as_deref() {
        if let Some(state) = load_identity(w.conn, environment, identity_id)? {
            if state.merged_into.is_none() {
                let verified = idom::Verified {
                    session_id: session_id.to_string(),
                    new_session: false,
                    status: result.to_string(),
                    approved: decision == CaseDecision::Approved,
                    face_match_passed: outcome.face_match_passed,
                    age_check_passed: outcome.age_check_passed,
                    extracted_age: outcome.extracted_age,
                    rejection_reason: outcome.rejection_reason.clone(),
                    country: None,
                    pii: BTreeMap::new(),
                    pii_fields: Vec::new(),
                    blind: None,
                };
                let evs = idom::decide(Some(&state), IdentityCommand::ApplyVerification(verified), &meta.ctx())?;
                emit_identity(w, meta, &state.id, state.version, evs)?;
            }
        }
    }
    Ok(())
}

/// `POST /cases/{id}/checks/{check_name}/override`: records the override of a failed check, then continues:
/// when no other check of the session failed (earlier overrides count as passed), the case is approved by
/// the same reviewer (a recommendation under dual review). Returns whether it was decided.
pub async fn override_check(
    writer: &Writer,
    meta: CommandMeta,
    id: String,
    check_name: String,
    reviewer: OrgUserId,
    reason: String,
) -> AppResult<String> {
    writer
        .execute(move |w| {
            let role = ensure_reviewer(w.conn, &meta.environment, &reviewer)?;
            let case = require(w.conn, &meta.environment, &id)?;
            dom::ensure_may_handle(case.state.status, role)?;
            let session = case.session_id.clone().ok_or_else(|| AppError::not_found("Check"))?;
            let (result_json, overrides): (Option<String>, String) = w.conn.row(
                "SELECT s.result_json, c.overrides FROM cases c JOIN sessions s ON s.id = ?1 WHERE c.id = ?2",
                params![session, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let result: Value = result_json.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null);
            let checks = result["check_results"].as_object().cloned().unwrap_or_default();
            // Any check that did not pass may be overridden (a skipped face match is what sends a session
            // without a face provider to review); only a check that actually failed holds the case back
            // afterwards, since a skipped one (no expiry date, no lists loaded) was never evidence against it.
            let failed = |c: &Value| c["status"].as_str() == Some("failed") || c["passed"] == Value::Bool(false);
            let failed_outright = |c: &Value| match c["status"].as_str() {
                Some(status) => status == "failed",
                None => c["passed"] == Value::Bool(false),
            };
            let check = checks.get(&check_name).ok_or_else(|| AppError::not_found("Check"))?;
            if !failed(check) {
                return Err(AppError::Conflict(format!("The check '{check_name}' did not fail; nothing to override.")));
            }
            let mut overridden: Vec<String> = serde_json::from_str::<Vec<Value>>(&overrides)
                .unwrap_or_default()
                .iter()
                .filter_map(|o| o["check_name"].as_str().map(str::to_string))
                .collect();
            overridden.push(check_name.clone());
            let o = dom::CheckOverridden {
                check_name,
                reviewer_id: reviewer.to_string(),
                reason: seal(w, &id, "override_reason", Some(&reason))?.unwrap_or_default(),
            };
            run(w, &meta, &id, CaseCommand::OverrideCheck(o))?;
            let others_failed = checks.iter().any(|(name, c)| !overridden.contains(name) && failed_outright(c));
            if !others_failed {
                let input =
                    DecideInput { decision: CaseDecision::Approved, reviewer, notes: None, rejection_reason: None };
                decide_in(w, &meta, &id, input)?;
            }
            Ok(id)
        })
        .await
}

/// `PUT /cases/{id}/result/pii`: corrects the identity's personal data (OCR mistakes). The values are
/// sealed under the identity's key and its blind indexes recomputed (an `IdentityUpdated`); the case
/// records who corrected which fields and why (`CasePiiCorrected`, field names only).
pub async fn correct_pii(
    writer: &Writer,
    meta: CommandMeta,
    id: String,
    reviewer: OrgUserId,
    reason: Option<String>,
    fields: BTreeMap<String, String>,
) -> AppResult<String> {
    writer
        .execute(move |w| {
            let role = ensure_reviewer(w.conn, &meta.environment, &reviewer)?;
            let case = require(w.conn, &meta.environment, &id)?;
            dom::ensure_may_handle(case.state.status, role)?;
            if case.state.status.is_final() {
                return Err(AppError::Conflict("A decided case's data can no longer be corrected.".into()));
            }
            let identity_id: Option<String> = match &case.session_id {
                Some(s) => w.conn.row("SELECT identity_id FROM sessions WHERE id = ?1", [s], |r| r.get(0))?,
                None => None,
            };
            let identity_id = identity_id
                .ok_or_else(|| AppError::Conflict("This case's session has no identity to correct.".into()))?;
            let state = load_identity(w.conn, &case.environment, &identity_id)?
                .ok_or_else(|| AppError::not_found("Identity"))?;
            idom::ensure_writable(&state)?;
            if fields.is_empty() {
                // Nothing named: nothing to correct, nothing recorded.
                return Ok(id);
            }
            let key = data_key(w.conn, w.keyring, &identity_id)?
                .ok_or_else(|| AppError::invalid_state("This identity's personal data has been erased."))?;
            let sealed_now: String =
                w.conn.row("SELECT pii FROM identities WHERE id = ?1", [&identity_id], |r| r.get(0))?;
            let mut full = open_pii(&key, &identity_id, &sealed_now)?;
            full.extend(fields.clone());
            let update = idom::Updated {
                changed: fields.keys().cloned().collect(),
                pii: seal_fields(&key, &identity_id, &full)?,
                blind: Some(sealed_blind_set(w.keyring, &key, &case.environment, &identity_id, &full)?),
                ..idom::Updated::default()
            };
            let evs = idom::decide(Some(&state), IdentityCommand::Update(update), &meta.ctx())?;
            emit_identity(w, &meta, &identity_id, state.version, evs)?;
            let p = dom::PiiCorrected {
                reviewer_id: reviewer.to_string(),
                reason: seal(w, &id, "pii_reason", reason.as_deref())?,
                fields: fields.keys().cloned().collect(),
                identity_id,
            };
            run(w, &meta, &id, CaseCommand::CorrectPii(p))?;
            Ok(id)
        })
        .await
}

/// Metadata and tags of `PATCH /cases/{id}`.
pub fn update_command(metadata: Option<Map<String, Value>>, tags: Option<Vec<String>>) -> CaseCommand {
    CaseCommand::Update(dom::Updated { metadata, tags })
}
