//! The session decision command: records what processing concluded from evidence gathered outside the
//! transaction (`processing::evidence`). It loads the session, refuses evidence gathered at another
//! stream version (the caller gathers again), then only decides and writes: the custom-list matches and
//! their effect, the workflow walk, the identity upsert, duplicate links, the `SessionDecided` or
//! `SessionWorkflowPaused` event and the session's screening check. Must not scan, hash, screen, read
//! images or call out; everything expensive arrives in the evidence.

use super::identities::{
    data_key, emit_identity, load_state as load_identity, load_surviving, seal_fields, sealed_blind_set,
};
use super::sessions::{emit, load_state, seal_map, session_key, SessionState};
use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::checks::engine;
use crate::domain::identity::{self as idom, IdentityCommand};
use crate::domain::ids;
use crate::domain::session::{
    self as dom, Action, ExternalDecision, Outcome, SessionEvent, SimulateAction, Verdict, WorkflowPaused,
};
use crate::domain::workflow::{Graph, Stop};
use crate::error::{AppError, AppResult};
use crate::processing::evidence::SessionEvidence;
use crate::store::Exec;
use rusqlite::params;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What the decision does with the evidence.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A session in `processing`: evaluate, match custom lists and walk the workflow from its entry.
    Walk,
    /// The decision at an external gate (spec §1.1.17): continue, fail (the gate's on_fail) or reject.
    External(ExternalDecision),
    /// Sandbox: the outcome is chosen, not computed (spec §2.8).
    Simulate(SimulateAction),
}

/// The command's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The session changed since the evidence was read: nothing was written; gather again.
    Stale { expected: i64, found: i64 },
    /// The session's status afterwards, and the simulated result (simulations only).
    Done { id: String, status: String, result: Option<String> },
}

/// Records the decision for `ev` under `plan`, in one short write command.
///
/// Its refusals all come before its first write: a stale version, a session no longer in the status the plan
/// needs, a redacted session (`walk` and `external` test it before anything else, and `decide` before it
/// writes), a simulated expiry. What follows (list matches, system links, identity events, the case, the
/// screening check) refuses nothing, so only the storage can fail it once it writes, and it runs without a
/// savepoint of its own (`Writer::execute_checked_first`).
#[tracing::instrument(name = "record_decision", skip_all, fields(session_id = %ev.session.id, version = ev.session.version))]
pub async fn record(writer: &Writer, meta: CommandMeta, ev: SessionEvidence, plan: Plan) -> AppResult<Recorded> {
    writer
        .execute_checked_first(move |w| {
            let s = load_state(w.conn, Some(&ev.session.environment), &ev.session.id)?
                .ok_or_else(|| AppError::not_found("Session"))?;
            if s.version != ev.session.version {
                return Ok(Recorded::Stale { expected: ev.session.version, found: s.version });
            }
            let mut meta = meta.clone();
            meta.environment = s.environment.clone();
            match plan {
                Plan::Walk => {
                    if s.status != "processing" {
                        return Ok(Recorded::Done { id: s.id, status: s.status, result: None });
                    }
                    let status = walk(w, &meta, &s, ev, None)?;
                    Ok(Recorded::Done { id: s.id, status, result: None })
                }
                Plan::External(decision) => {
                    let status = external(w, &meta, &s, ev, decision)?;
                    Ok(Recorded::Done { id: s.id, status, result: None })
                }
                Plan::Simulate(action) => simulate(w, &meta, &s, ev, action),
            }
        })
        .await
}

fn external(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    ev: SessionEvidence,
    decision: ExternalDecision,
) -> AppResult<String> {
    dom::transition(&s.status, s.redacted(), Action::ExternalDecision)?;
    let target = external_target(&ev.graph, ev.node.as_deref(), decision);
    match target.as_deref() {
        Some("reject") | None => {
            let mut d = engine::Decision { status: "declined".into(), ..Default::default() };
            d.rejection_reason = Some("Rejected by the external decision.".into());
            d.rejection_reason_code = Some("external_rejected".into());
            decide(w, meta, s, d, ev.data, Vec::new(), false, None)
        }
        Some("review") => {
            let d = engine::Decision {
                status: "needs_review".into(),
                rejection_reason: Some("Sent to review by the external decision.".into()),
                ..Default::default()
            };
            decide(w, meta, s, d, ev.data, Vec::new(), false, None)
        }
        Some(next) => {
            emit(w, meta, s, vec![SessionEvent::status_changed(&s.status, "processing", "external_continue")])?;
            let s = load_state(w.conn, Some(&s.environment), &s.id)?.ok_or_else(|| AppError::not_found("Session"))?;
            walk(w, meta, &s, ev, Some(next.to_string()))
        }
    }
}

/// Where an external decision sends the session: a node to continue at, `review` or `reject`.
pub fn external_target(graph: &Graph, node: Option<&str>, decision: ExternalDecision) -> Option<String> {
    let gate = node.and_then(|n| graph.nodes.get(n)).cloned().unwrap_or(Value::Null);
    match decision {
        ExternalDecision::Continue => gate["next"].as_str().map(str::to_string),
        ExternalDecision::Fail => gate["on_fail"].as_str().map(str::to_string).or(Some("review".into())),
        ExternalDecision::Reject => Some("reject".into()),
    }
}

fn simulate(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    ev: SessionEvidence,
    action: SimulateAction,
) -> AppResult<Recorded> {
    use SimulateAction as Sim;
    let result = match action {
        Sim::Approve => "approved",
        Sim::Decline | Sim::Reject => "declined",
        Sim::RequireReview | Sim::NeedsReview => "needs_review",
        Sim::Expire => return Err(AppError::Internal("an expiry is simulated without evidence".into())),
    };
    let mut decision = ev.decision.clone();
    decision.status = result.to_string();
    decision.face_match_passed = Some(result != "declined");
    decision.face_match_score = Some(if result == "declined" { 0.12 } else { 0.95 });
    if decision.age_check_passed.is_none() {
        decision.age_check_passed = Some(result != "declined");
    }
    match result {
        "declined" => {
            decision.rejection_reason = Some("Simulated decline.".into());
            decision.rejection_reason_code = Some("simulated_decline".into());
        }
        "needs_review" => {
            decision.rejection_reason = Some("Simulated review.".into());
            decision.rejection_reason_code = None;
        }
        _ => {
            decision.rejection_reason = None;
            decision.rejection_reason_code = None;
        }
    }
    let status = decide(w, meta, s, decision, ev.data, Vec::new(), true, None)?;
    Ok(Recorded::Done { id: s.id.clone(), status, result: Some(result.to_string()) })
}

/// Applies the custom-list matches and walks the workflow graph from `from` (None: the entry), then
/// records the decision or the pause at an external gate.
fn walk(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    ev: SessionEvidence,
    from: Option<String>,
) -> AppResult<String> {
    let SessionEvidence { workflow, graph, engine: evidence, mut decision, data, screening, list_matches, .. } = ev;
    // From `processing` every verdict is allowed; a redacted session refuses them all, and does so before the
    // custom lists write anything.
    dom::decided_status(&s.status, s.redacted(), &decision.status)?;
    if let Some(found) = list_matches {
        apply_custom_lists(w, meta, s, found, &mut decision)?;
    }
    let ctx = decision_context(&decision, &evidence);
    let stop = crate::domain::workflow::walk(&graph, from.as_deref().unwrap_or(&graph.entry), &ctx);
    if let Stop::Wait { node, path } = &stop {
        let (workflow_id, workflow_version) = workflow.clone().unwrap_or_default();
        let paused = WorkflowPaused { node: node.clone(), workflow_id, workflow_version, path: path.clone() };
        let events = dom::record_verdict(&s.status, s.redacted(), Verdict::Pause(paused))?;
        emit(w, meta, s, events)?;
        return Ok("awaiting_external".into());
    }
    let mut decision = apply_stop(decision, &stop);
    decision.workflow_path = match &stop {
        Stop::Terminal { path, .. } | Stop::AutoApprove { path } | Stop::Wait { path, .. } => path.clone(),
    };
    let screened = data.clone();
    let to = decide(w, meta, s, decision, data, evidence.duplicates, false, workflow)?;
    if let Some(outcome) = screening.filter(|o| o.error_reason != Some("no_lists")) {
        let after = load_state(w.conn, Some(&s.environment), &s.id)?.ok_or_else(|| AppError::not_found("Session"))?;
        super::checks::record_session_screening(
            w,
            meta,
            &s.id,
            after.identity_id.as_deref(),
            s.external_ref.as_deref(),
            &screened,
            &outcome,
        )?;
    }
    Ok(to)
}

/// Writes the decision: the result on the session, the identity upsert, the duplicate links.
#[allow(clippy::too_many_arguments)]
fn decide(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    decision: engine::Decision,
    data: BTreeMap<String, String>,
    duplicates: Vec<engine::DuplicateHit>,
    simulated: bool,
    workflow: Option<(String, i64)>,
) -> AppResult<String> {
    // Refused before anything is written.
    dom::decided_status(&s.status, s.redacted(), &decision.status)?;
    let key = session_key(w, &s.id)?;
    let extracted = if data.is_empty() { None } else { Some(seal_map(&key, &s.id, "extracted", &data)?) };
    let identity_id = match &s.external_ref {
        Some(r) => Some(upsert_identity(w, meta, s, r, &decision, &data)?),
        None => None,
    };
    if let Some(identity) = &identity_id {
        for hit in &duplicates {
            let metadata = json!({ "session_id": s.id }).as_object().cloned().unwrap_or_default();
            super::relationships::link_system(w, meta, identity, &hit.identity_id, &hit.relationship_type, metadata)?;
        }
    }
    let outcome = Outcome {
        status: decision.status.clone(),
        face_match_passed: decision.face_match_passed,
        face_match_score: decision.face_match_score,
        age_check_passed: decision.age_check_passed,
        extracted_age: decision.extracted_age,
        rejection_reason: decision.rejection_reason.clone(),
        rejection_reason_code: decision.rejection_reason_code.clone(),
        check_results: decision.check_results.clone(),
        risk: decision.risk.clone(),
        country_used: s.country.clone().or_else(|| data.get("nationality").cloned()),
        extracted,
        identity_id: identity_id.clone(),
        simulated,
        workflow_path: decision.workflow_path.clone(),
    };
    // The identity upsert may have appended to the session's stream (a new link); decide on the fresh state.
    let s = load_state(w.conn, Some(&s.environment), &s.id)?.ok_or_else(|| AppError::not_found("Session"))?;
    let case_id = ids::new_id(ids::CASE);
    let verdict = Verdict::Decide { outcome: Box::new(outcome), workflow, case_id: case_id.clone() };
    let events = dom::record_verdict(&s.status, s.redacted(), verdict)?;
    let to = match events.first() {
        Some(SessionEvent::Decided(d)) => d.to.clone(),
        _ => return Err(AppError::Internal("a decision recorded no SessionDecided event".into())),
    };
    emit(w, meta, &s, events)?;
    if to == "under_review" {
        // The case opens in the same transaction as the decision to review.
        super::cases::create_in(w, meta, &case_id, Some(&s.id), identity_id.as_deref(), false)?;
    }
    Ok(to)
}

fn identity_status(result: &str) -> &'static str {
    match result {
        "approved" => "approved",
        "needs_review" => "under_review",
        "rejected" => "rejected",
        _ => "failed",
    }
}

/// Creates or updates the identity of `external_ref` with the session's outcome and data.
fn upsert_identity(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    external_ref: &str,
    d: &engine::Decision,
    data: &BTreeMap<String, String>,
) -> AppResult<String> {
    let pii: BTreeMap<String, String> = data
        .iter()
        .filter(|(k, _)| idom::PII_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut identity_meta = meta.clone();
    identity_meta.environment = s.environment.clone();
    // A merged identity's sessions belong to the identity it was merged into.
    let existing = load_surviving(w.conn, &s.environment, external_ref)?;
    let (state, key) = match existing {
        Some(state) => {
            let key = data_key(w.conn, w.keyring, &state.id)?;
            (state, key)
        }
        None => {
            let id = ids::new_id(ids::IDENTITY);
            let (key, wrapped) = w.keyring.new_data_key(&id);
            w.conn.exec("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)", params![id, wrapped])?;
            let created = idom::Created {
                external_ref: Some(external_ref.to_string()),
                status: "pending".into(),
                country: None,
                identity_type_id: None,
                tags: Vec::new(),
                monitoring_enabled: true,
                pii: BTreeMap::new(),
                pii_fields: Vec::new(),
                blind: None,
            };
            let evs = idom::decide(None, IdentityCommand::Create(created), &identity_meta.ctx())?;
            emit_identity(w, &identity_meta, &id, 0, evs)?;
            let state = load_identity(w.conn, &s.environment, &id)?.ok_or_else(|| AppError::not_found("Identity"))?;
            (state, Some(key))
        }
    };
    let (sealed, pii_fields, blind_set) = match &key {
        Some(k) if !pii.is_empty() => {
            let sealed_now: String =
                w.conn.row("SELECT pii FROM identities WHERE id = ?1", [&state.id], |r| r.get(0))?;
            let mut full = super::identities::open_pii(k, &state.id, &sealed_now)?;
            full.extend(pii.clone());
            let blind = sealed_blind_set(w.keyring, k, &s.environment, &state.id, &full)?;
            (seal_fields(k, &state.id, &full)?, pii.keys().cloned().collect(), Some(blind))
        }
        _ => (BTreeMap::new(), Vec::new(), None),
    };
    let verified = idom::Verified {
        session_id: s.id.clone(),
        new_session: s.identity_id.as_deref() != Some(state.id.as_str()),
        status: identity_status(&d.status).to_string(),
        approved: d.status == "approved",
        face_match_passed: d.face_match_passed,
        age_check_passed: d.age_check_passed,
        extracted_age: d.extracted_age,
        rejection_reason: d.rejection_reason.clone(),
        country: data.get("nationality").cloned().or_else(|| s.country.clone()),
        pii_fields,
        pii: sealed,
        blind: blind_set,
    };
    let evs = idom::decide(Some(&state), IdentityCommand::ApplyVerification(verified), &identity_meta.ctx())?;
    emit_identity(w, &identity_meta, &state.id, state.version, evs)?;
    Ok(state.id)
}

/// The facts conditional nodes may test: the same context a dry-run builds from a recorded decision.
fn decision_context(d: &engine::Decision, evidence: &engine::Evidence) -> Map<String, Value> {
    crate::domain::workflow_run::decision_context(&crate::domain::workflow_run::Facts {
        check_results: Some(&d.check_results),
        risk: Some(&d.risk),
        extracted_age: d.extracted_age,
        age_check_passed: d.age_check_passed,
        face_match_passed: d.face_match_passed,
        face_match_score: d.face_match_score,
        duplicates: evidence.duplicates.len(),
        document_type: evidence.document_type.as_deref(),
        country: evidence.data.get("nationality").map(String::as_str),
    })
}

/// Applies a workflow stop to the pipeline's decision.
fn apply_stop(mut d: engine::Decision, stop: &Stop) -> engine::Decision {
    if let Stop::Terminal { outcome, path } = stop {
        let node = path.last().cloned().unwrap_or_default();
        match outcome.as_str() {
            "approved" => {
                d.status = "approved".into();
                d.rejection_reason = None;
                d.rejection_reason_code = None;
            }
            "rejected" => {
                d.status = "declined".into();
                if d.rejection_reason.is_none() {
                    d.rejection_reason = Some(format!("Rejected by the workflow at step '{node}'."));
                    d.rejection_reason_code = Some("workflow_rejected".into());
                }
            }
            _ => {
                d.status = "needs_review".into();
                if d.rejection_reason.is_none() {
                    d.rejection_reason = Some(format!("Sent to review by the workflow at step '{node}'."));
                }
            }
        }
    }
    d
}

/// The `check_against_list` policy (spec §4.8): records the matches the evidence found. A block match
/// fails the check and, under auto-approve, declines; a flag match sends the session to review; an allow
/// match is recorded.
fn apply_custom_lists(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    found: Vec<Vec<crate::domain::custom_list::ListMatch>>,
    decision: &mut engine::Decision,
) -> AppResult<()> {
    let mut worst: Option<super::lists::ListOutcome> = None;
    for matches in found {
        let outcome = super::lists::record_found_in(w, meta, &s.id, matches)?;
        let rank = |o: &super::lists::ListOutcome| match o.outcome {
            "blocked" => 3,
            "flagged" => 2,
            "allowed" => 1,
            _ => 0,
        };
        if worst.as_ref().is_none_or(|wo| rank(&outcome) > rank(wo)) {
            worst = Some(outcome);
        }
    }
    let Some(outcome) = worst else { return Ok(()) };
    decision.check_results.insert("check_against_list".into(), outcome.check_result());
    if outcome.blocked() && decision.status != "declined" {
        decision.status = "declined".into();
        decision.rejection_reason = Some("The subject matches a blocking list.".into());
        decision.rejection_reason_code = Some("list_blocked".into());
    } else if outcome.flagged() && decision.status == "approved" {
        decision.status = "needs_review".into();
        decision.rejection_reason = Some("The subject matches a flagged list.".into());
    }
    Ok(())
}
