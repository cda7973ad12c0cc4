//! Check commands: create (one or a batch), re-run, dismiss hits, tags, redact, turn monitoring on or off;
//! record a session's screening and a monitoring pass's results (an identity's new hits as a new check, a
//! monitored check's new hits on that check, and each subject's pass for the monitoring history); the
//! identity's `screening_status` (open hits across its checks) after each of them; an identity's monitored
//! lists. Seals the subject, explanations and dismissal reasons under the key owner's data key (the linked
//! identity, else the check). Screening for API checks runs before the write (on a blocking thread), never
//! inside the writer's transaction; the session pipeline hands in its results. Must not render responses.

use super::identities::{data_key, emit_identity, load_state as load_identity, load_surviving, open_pii};
use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::blocking::CpuPool;
use crate::crypto::DataKey;
use crate::domain::check::{
    self as dom, CheckCommand, CheckEvent, CheckState, CheckSubject, CheckType, HitRecord, HitState, RunResult,
};
use crate::domain::identity::{self as idom, IdentityCommand, Screened};
use crate::domain::ids::{self, CheckHitId, CheckId, IdentityRef, SessionId};
use crate::domain::values::{ExternalRef, Tag};
use crate::domain::watchlist::MonitoredList;
use crate::domain::watchlist::{MonitoringCompleted, MonitoringPass};
use crate::error::{AppError, AppResult};
use crate::screening_service::monitor::Finding;
use crate::screening_service::snapshot::round3;
use crate::screening_service::standalone::{self, StandaloneRun, PROVIDER_WATCHLISTS};
use crate::screening_service::{Dismissals, ScreeningOutcome, Snapshot};
use crate::store::events::NewEvent;
use crate::store::shared_reads as q;
use crate::store::Exec;
use crate::store::Reads;
use base64::Engine;
use rusqlite::{params, OptionalExtension};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One check to create, its subject validated at the boundary by its types.
#[derive(Debug, Clone)]
pub struct CreateCheck {
    pub check_type: CheckType,
    pub external_ref: Option<ExternalRef>,
    /// An `idn_*` id or an identity's external_ref.
    pub identity: Option<IdentityRef>,
    pub session_id: Option<SessionId>,
    pub subject: CheckSubject,
    /// 0 to 1.
    pub threshold: f64,
    pub tags: Vec<Tag>,
    /// Continuous monitoring (spec §1.9); applies to the AML types of a batch.
    pub monitoring_enabled: bool,
}

/// A change to a check's tags.
#[derive(Debug, Clone)]
pub enum TagChange {
    Add(Vec<Tag>),
    Set(Vec<Tag>),
    Remove(Tag),
}

pub fn load_state<C: Reads + ?Sized>(conn: &C, environment: &str, id: &str) -> AppResult<Option<CheckState>> {
    let row = conn
        .prepare_cached(
            "SELECT id, stream_seq, check_type, status, run, redacted_at IS NOT NULL, identity_id, key_owner,
                    subject_key, tags, EXISTS (SELECT 1 FROM check_monitoring m WHERE m.check_id = checks.id)
             FROM checks WHERE id = ?1 AND environment = ?2",
        )?
        .query_row([id, environment], |r| {
            Ok(CheckState {
                id: r.get(0)?,
                version: r.get(1)?,
                check_type: r.get(2)?,
                status: r.get(3)?,
                run: r.get(4)?,
                redacted: r.get(5)?,
                identity_id: r.get(6)?,
                key_owner: r.get(7)?,
                subject_key: r.get(8)?,
                tags: serde_json::from_str(&r.get::<_, String>(9)?).unwrap_or_default(),
                hits: Vec::new(),
                monitoring_enabled: r.get(10)?,
            })
        })
        .optional()?;
    let Some(mut state) = row else { return Ok(None) };
    let mut stmt = conn.prepare_cached(
        "SELECT id, dismissal_id IS NOT NULL FROM check_hits WHERE check_id = ?1 AND run = ?2 ORDER BY position",
    )?;
    state.hits = stmt
        .query_map(params![state.id, state.run], |r| Ok(HitState { id: r.get(0)?, dismissed: r.get(1)? }))?
        .collect::<Result<_, _>>()?;
    Ok(Some(state))
}

pub(crate) fn require<C: Reads + ?Sized>(conn: &C, environment: &str, id: &str) -> AppResult<CheckState> {
    load_state(conn, environment, id)?.ok_or_else(|| AppError::not_found("Check"))
}

fn seal(key: &DataKey, check_id: &str, field: &str, value: &str) -> String {
    B64.encode(key.seal(check_id, field, value))
}

fn seal_subject(key: &DataKey, check_id: &str, subject: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    subject.iter().map(|(f, v)| (f.clone(), seal(key, check_id, f, v))).collect()
}

/// The recorded form of a run: hit ids assigned, explanations sealed.
fn run_result(run: StandaloneRun, threshold: f64, key: &DataKey, check_id: &str) -> AppResult<RunResult> {
    let mut result = RunResult {
        status: run.status.to_string(),
        provider: run.provider.map(str::to_string),
        error_reason: run.error_reason,
        note: run.note,
        threshold,
        ..RunResult::default()
    };
    let Some(outcome) = run.outcome else { return Ok(result) };
    result.threshold = outcome.threshold;
    result.list_versions = outcome.list_versions.iter().map(serde_json::to_value).collect::<Result<_, _>>()?;
    for h in outcome.hits {
        let id = ids::new_id(ids::CHECK_HIT);
        result.hits.push(HitRecord {
            explanation: Some(seal(key, check_id, &format!("explanation.{id}"), &h.hit.explanation)),
            id,
            watchlist_id: h.watchlist_id.to_string(),
            source: h.hit.source.as_str().to_string(),
            entry_id: h.hit.entry_id.clone(),
            entry_hash: h.entry_hash,
            version_id: h.version_id,
            entity_type: h.hit.entity_type.as_str().to_string(),
            matched_name: h.hit.matched_name.clone(),
            matched_name_kind: h.hit.matched_name_kind.as_str().to_string(),
            score: round3(h.hit.score),
            features: json!({
                "name": h.hit.features.name.map(round3),
                "date_of_birth": h.hit.features.date_of_birth.map(round3),
                "country": h.hit.features.country.map(round3),
                "identifier": h.hit.features.identifier.map(round3),
            }),
            entry: serde_json::to_value(&h.entry)?,
        });
    }
    result.suppressed = outcome
        .suppressed
        .into_iter()
        .map(|(h, d)| dom::Suppressed {
            watchlist_id: h.watchlist_id.to_string(),
            entry_id: h.hit.entry_id,
            entry_hash: h.entry_hash,
            dismissal_id: d.dismissal_id,
            dismissed_in_check_id: d.check_id,
        })
        .collect();
    Ok(result)
}

fn emit_check(w: &mut WriteCtx<'_>, meta: &CommandMeta, id: &str, version: i64, evs: Vec<CheckEvent>) -> AppResult<()> {
    if evs.is_empty() {
        return Ok(());
    }
    let new: Vec<NewEvent> = evs.iter().map(|e| NewEvent::new(e.event_type(), e.payload())).collect();
    w.emit(&meta.event_meta(), id, version, new)?;
    Ok(())
}

/// Records the identity's `screening_status` after a screening run (or a dismissal: only when it changes).
fn screen_identity(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    identity_id: &str,
    mut screened: Screened,
) -> AppResult<()> {
    let Some(state) = load_identity(w.conn, &meta.environment, identity_id)? else { return Ok(()) };
    let open = q::open_hits(w.conn, &state.id)?;
    screened.status = if open > 0 { "hit" } else { "clear" }.to_string();
    screened.hit_count = open;
    if screened.trigger == "dismissal" {
        let current: Option<String> =
            w.conn.row("SELECT screening_status FROM identities WHERE id = ?1", [&state.id], |r| r.get(0))?;
        if current.as_deref() == Some(screened.status.as_str()) {
            return Ok(());
        }
    }
    let evs = idom::decide(Some(&state), IdentityCommand::RecordScreening(screened), &meta.ctx())?;
    emit_identity(w, meta, &state.id, state.version, evs)
}

/// The key that seals a check's data: the linked identity's, else a new one of the check's own.
fn key_for(w: &WriteCtx<'_>, check_id: &str, identity_id: Option<&str>) -> AppResult<(DataKey, String)> {
    match identity_id {
        Some(identity) => {
            let key = data_key(w.conn, w.keyring, identity)?
                .ok_or_else(|| AppError::Conflict("The identity's personal data has been erased.".into()))?;
            Ok((key, identity.to_string()))
        }
        None => {
            let (key, wrapped) = w.keyring.new_data_key(check_id);
            w.conn
                .prepare_cached("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)")?
                .execute(params![check_id, wrapped])?;
            Ok((key, check_id.to_string()))
        }
    }
}

fn subject_key(identity_id: Option<&str>, external_ref: Option<&str>, check_id: &str) -> String {
    match (identity_id, external_ref) {
        (Some(i), _) => i.to_string(),
        (None, Some(r)) => format!("ref:{r}"),
        (None, None) => check_id.to_string(),
    }
}

/// Creates checks (one, or a `/checks/full` batch sharing a batch id) in one transaction. Each runs at
/// once against `snapshot`. Returns the new check ids.
pub async fn create(
    writer: &Writer,
    cpu: &CpuPool,
    snapshot: Arc<Snapshot>,
    meta: CommandMeta,
    inputs: Vec<CreateCheck>,
    batch: bool,
) -> AppResult<Vec<CheckId>> {
    let screened = screen(cpu, snapshot, meta.environment == "sandbox", inputs).await?;
    let batch_id = batch.then(|| ids::new_id(ids::CHECK_BATCH));
    writer.execute(move |w| record_in(w, &meta, screened, batch_id)).await
}

/// Checks screened and waiting to be recorded by [`record_in`].
pub struct ScreenedChecks(Vec<(CreateCheck, BTreeMap<String, String>, StandaloneRun)>);

/// Screening is the expensive part of a check: it runs here, before the write, on the CPU pool (which
/// refuses with 503 when full); only the subject's dismissals (an indexed read) are applied inside the
/// transaction.
pub async fn screen(
    cpu: &CpuPool,
    snapshot: Arc<Snapshot>,
    sandbox: bool,
    inputs: Vec<CreateCheck>,
) -> AppResult<ScreenedChecks> {
    let runs = screen_off_writer(cpu, move || {
        inputs
            .into_iter()
            .map(|input| {
                let subject = input.subject.fields();
                let run = standalone::run_standalone(
                    input.check_type.as_str(),
                    sandbox,
                    &snapshot,
                    &subject,
                    input.threshold,
                    &Dismissals::new(),
                );
                (input, subject, run)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(ScreenedChecks(runs))
}

/// Records screened checks inside the caller's write; answers their ids.
pub fn record_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    screened: ScreenedChecks,
    batch_id: Option<String>,
) -> AppResult<Vec<CheckId>> {
    let runs = screened.0;
    let env = meta.environment.clone();
    let mut created = Vec::new();
    for (input, subject, run) in runs {
        // An explicit identity must exist and hold data; an identity found by external_ref links
        // the check only when it does. Merged identities are followed to the survivor.
        let identity = match &input.identity {
            Some(i) => {
                let s = load_surviving(w.conn, &env, i.as_str())?
                    .ok_or_else(|| AppError::NotFound("Identity not found (identity_id).".into()))?;
                if s.is_redacted() {
                    return Err(AppError::Conflict("The identity (identity_id) has been redacted.".into()));
                }
                Some(s)
            }
            None => match &input.external_ref {
                Some(r) => load_surviving(w.conn, &env, r.as_str())?.filter(|s| !s.is_redacted()),
                None => None,
            },
        };
        if let Some(s) = &input.session_id {
            if !q::session_exists(w.conn, &env, s.as_str())? {
                return Err(AppError::NotFound("Session not found (session_id).".into()));
            }
        }
        let id = ids::new_id(ids::CHECK);
        let identity_id = identity.as_ref().map(|s| s.id.clone());
        let external_ref = input
            .external_ref
            .as_ref()
            .map(|r| r.as_str().to_string())
            .or_else(|| identity.as_ref().and_then(|s| s.external_ref.clone()));
        let (key, key_owner) = key_for(w, &id, identity_id.as_deref())?;
        let subject_key = subject_key(identity_id.as_deref(), external_ref.as_deref(), &id);
        let run = with_dismissals(run, &q::dismissals(w.conn, &env, &subject_key)?);
        let result = run_result(run, input.threshold, &key, &id)?;
        let check = dom::Created {
            check_type: input.check_type.as_str().to_string(),
            origin: "api".into(),
            external_ref,
            identity_id: identity_id.clone(),
            session_id: input.session_id.as_ref().map(|s| s.as_str().to_string()),
            batch_id: batch_id.clone(),
            subject_key,
            key_owner,
            subject: seal_subject(&key, &id, &subject),
            tags: input.tags.iter().map(|t| t.as_str().to_string()).collect(),
            result,
        };
        let screened = identity_screening(&check.check_type, &check.result, &id);
        let evs = dom::decide(None, CheckCommand::Create(Box::new(check)), &meta.ctx())?;
        emit_check(w, meta, &id, 0, evs)?;
        if input.monitoring_enabled && dom::is_aml(input.check_type.as_str()) {
            let state = require(w.conn, &env, &id)?;
            let evs = dom::decide(Some(&state), CheckCommand::SetMonitoring(true), &meta.ctx())?;
            emit_check(w, meta, &id, state.version, evs)?;
        }
        if let (Some(identity), Some(screened)) = (&identity_id, screened) {
            screen_identity(w, meta, identity, screened)?;
        }
        created.push(CheckId::from_stored(id));
    }
    Ok(created)
}

/// A check's state, its subject opened and its threshold: what a re-run screens.
fn stored_subject<C: Reads + ?Sized>(
    conn: &C,
    keyring: &crate::crypto::Keyring,
    environment: &str,
    id: &str,
) -> AppResult<(CheckState, BTreeMap<String, String>, f64)> {
    let state = require(conn, environment, id)?;
    if state.redacted {
        return Err(AppError::Conflict("This check has been redacted and can no longer be run.".into()));
    }
    let (sealed, threshold): (String, f64) =
        conn.query_row("SELECT subject, threshold FROM checks WHERE id = ?1", [&state.id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let key = data_key(conn, keyring, &state.key_owner)?
        .ok_or_else(|| AppError::Conflict("This check's personal data has been erased.".into()))?;
    let subject = open_pii(&key, &state.id, &sealed)?;
    Ok((state, subject, threshold))
}

/// A sanction run that completed concerns the linked identity's screening status; others do not.
fn identity_screening(check_type: &str, result: &RunResult, check_id: &str) -> Option<Screened> {
    if check_type != "sanction" || result.status == "error" {
        return None;
    }
    Some(Screened {
        trigger: "check".into(),
        check_id: Some(check_id.to_string()),
        list_version_ids: result
            .list_versions
            .iter()
            .filter_map(|v| v["version_id"].as_str().map(str::to_string))
            .collect(),
        ..Screened::default()
    })
}

/// How often a re-run screens again when the check changed while it was being screened.
const RERUN_ATTEMPTS: usize = 3;

/// Runs the check again on its stored subject against the current lists; earlier dismissals apply. The
/// subject is read and opened on the read lane, screened outside the writer, and the run recorded at the
/// check's version (screened again if the check changed meanwhile).
pub async fn rerun(
    writer: &Writer,
    read: &crate::store::ReadPool,
    cpu: &CpuPool,
    keyring: Arc<crate::crypto::Keyring>,
    snapshot: Arc<Snapshot>,
    meta: CommandMeta,
    id: CheckId,
) -> AppResult<CheckId> {
    for _ in 0..RERUN_ATTEMPTS {
        let (env, check, keyring) = (meta.environment.clone(), id.clone(), keyring.clone());
        let (state, subject, threshold) = read.run(move |c| stored_subject(c, &keyring, &env, check.as_str())).await?;
        let (snap, check_type, sandbox) = (snapshot.clone(), state.check_type.clone(), meta.environment == "sandbox");
        let run = screen_off_writer(cpu, move || {
            standalone::run_standalone(&check_type, sandbox, &snap, &subject, threshold, &Dismissals::new())
        })
        .await?;
        let m = meta.clone();
        let recorded = writer
            .execute(move |w| {
                let now = require(w.conn, &m.environment, &state.id)?;
                if now.version != state.version {
                    return Ok(None);
                }
                let key = data_key(w.conn, w.keyring, &now.key_owner)?
                    .ok_or_else(|| AppError::Conflict("This check's personal data has been erased.".into()))?;
                let run = with_dismissals(run, &q::dismissals(w.conn, &m.environment, &now.subject_key)?);
                let result = run_result(run, threshold, &key, &now.id)?;
                let screened = identity_screening(&now.check_type, &result, &now.id);
                let evs = dom::decide(Some(&now), CheckCommand::Rerun(result), &m.ctx())?;
                emit_check(w, &m, &now.id, now.version, evs)?;
                if let (Some(identity), Some(screened)) = (&now.identity_id, screened) {
                    screen_identity(w, &m, identity, screened)?;
                }
                Ok(Some(CheckId::from_stored(now.id)))
            })
            .await?;
        if let Some(id) = recorded {
            return Ok(id);
        }
        tracing::info!(check_id = %id.as_str(), "check changed while it was screened; screening again");
    }
    Err(AppError::Conflict("The check kept changing while it was re-run; retry the request.".into()))
}

/// Runs screening on the CPU pool, off the async runtime and outside the writer.
async fn screen_off_writer<T: Send + 'static>(cpu: &CpuPool, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
    let span = tracing::info_span!("screening");
    cpu.run(move || Ok(span.in_scope(f))).await
}

/// A run screened without dismissals, with the subject's dismissals applied (cheap: a filter).
fn with_dismissals(mut run: StandaloneRun, dismissals: &Dismissals) -> StandaloneRun {
    if let Some(outcome) = run.outcome.as_mut() {
        outcome.apply_dismissals(dismissals);
        run.status = outcome.status;
        run.error_reason = outcome.error_reason.map(str::to_string);
    }
    run
}

/// Dismisses hits of the check's latest run as false positives (all of them when `hit_ids` is None).
/// Returns the number newly dismissed.
pub async fn dismiss(
    writer: &Writer,
    meta: CommandMeta,
    id: CheckId,
    hit_ids: Option<Vec<CheckHitId>>,
    reason: Option<String>,
) -> AppResult<(CheckId, usize)> {
    let dismissal_id = ids::new_id(ids::DISMISSAL);
    let hit_ids: Option<Vec<String>> = hit_ids.map(|h| h.into_iter().map(CheckHitId::into_string).collect());
    writer
        .execute(move |w| {
            let state = require(w.conn, &meta.environment, id.as_str())?;
            let count = dismiss_in(w, &meta, &state, &dismissal_id, hit_ids, reason.as_deref())?;
            Ok((CheckId::from_stored(state.id), count))
        })
        .await
}

/// Inside the writer: dismisses hits of `state`'s latest run (all open ones when `hit_ids` is None), the
/// reason sealed under the check's key owner, and records the identity's screening status when it changes.
/// The one dismissal path, for `POST /checks/{id}/dismiss` and for dismissing a hit's finding. Returns the
/// number newly dismissed.
pub(crate) fn dismiss_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    state: &CheckState,
    dismissal_id: &str,
    hit_ids: Option<Vec<String>>,
    reason: Option<&str>,
) -> AppResult<usize> {
    let sealed_reason = match (reason, state.redacted) {
        (Some(r), false) => {
            let key = data_key(w.conn, w.keyring, &state.key_owner)?
                .ok_or_else(|| AppError::Conflict("This check's personal data has been erased.".into()))?;
            Some(seal(&key, &state.id, &format!("dismissal_reason.{dismissal_id}"), r))
        }
        _ => None,
    };
    let command = CheckCommand::Dismiss { dismissal_id: dismissal_id.to_string(), hit_ids, reason: sealed_reason };
    let evs = dom::decide(Some(state), command, &meta.ctx())?;
    let count = match evs.first() {
        Some(CheckEvent::HitsDismissed(d)) => d.hit_ids.len(),
        _ => 0,
    };
    emit_check(w, meta, &state.id, state.version, evs)?;
    if let (Some(identity), true) = (&state.identity_id, count > 0) {
        let screened =
            Screened { trigger: "dismissal".into(), check_id: Some(state.id.clone()), ..Screened::default() };
        screen_identity(w, meta, identity, screened)?;
    }
    Ok(count)
}

/// Turns continuous monitoring of a check on or off (AML checks only; the same state again changes nothing).
pub async fn set_monitoring(writer: &Writer, meta: CommandMeta, id: CheckId, on: bool) -> AppResult<CheckId> {
    writer
        .execute(move |w| {
            let state = require(w.conn, &meta.environment, id.as_str())?;
            let evs = dom::decide(Some(&state), CheckCommand::SetMonitoring(on), &meta.ctx())?;
            emit_check(w, &meta, &state.id, state.version, evs)?;
            Ok(CheckId::from_stored(state.id))
        })
        .await
}

/// Tag changes (set, add, remove).
pub async fn tags(writer: &Writer, meta: CommandMeta, id: CheckId, change: TagChange) -> AppResult<CheckId> {
    let text = |tags: Vec<Tag>| tags.into_iter().map(Tag::into_string).collect();
    let command = match change {
        TagChange::Add(tags) => CheckCommand::AddTags(text(tags)),
        TagChange::Set(tags) => CheckCommand::SetTags(text(tags)),
        TagChange::Remove(tag) => CheckCommand::RemoveTag(tag.into_string()),
    };
    writer
        .execute(move |w| {
            let state = require(w.conn, &meta.environment, id.as_str())?;
            let evs = dom::decide(Some(&state), command, &meta.ctx())?;
            emit_check(w, &meta, &state.id, state.version, evs)?;
            Ok(CheckId::from_stored(state.id))
        })
        .await
}

/// Crypto-shredding of a check not linked to an identity: its data key goes, the record stays.
pub async fn redact(writer: &Writer, meta: CommandMeta, id: CheckId) -> AppResult<CheckId> {
    writer
        .execute(move |w| {
            let state = require(w.conn, &meta.environment, id.as_str())?;
            let evs = dom::decide(Some(&state), CheckCommand::Redact, &meta.ctx())?;
            w.conn.exec("DELETE FROM subject_keys WHERE subject_id = ?1", [&state.id])?;
            emit_check(w, &meta, &state.id, state.version, evs)?;
            w.request_wal_truncate();
            Ok(CheckId::from_stored(state.id))
        })
        .await
}

/// For the session pipeline (inside the writer, before screening): the false-positive dismissals that apply
/// to this session's person (its identity's, else its external_ref's). Hand them to
/// `ScreeningOutcome::apply_dismissals`.
pub fn session_dismissals<C: Reads + ?Sized>(
    conn: &C,
    environment: &str,
    identity_id: Option<&str>,
    external_ref: Option<&str>,
) -> AppResult<crate::screening_service::Dismissals> {
    let identity = match (identity_id, external_ref) {
        (Some(i), _) => Some(i.to_string()),
        (None, Some(r)) => load_surviving(conn, environment, r)?.map(|s| s.id),
        (None, None) => None,
    };
    match (identity.as_deref(), external_ref) {
        (None, None) => Ok(Default::default()),
        (i, r) => q::dismissals(conn, environment, &subject_key(i, r, "")),
    }
}

/// For the session pipeline (call inside the writer, after the identity upsert): records a session's
/// watchlist screening as a `sanction` check (origin `session`) linked to the session and identity, and the
/// identity's screening status. `data` is the session's person data (idv field names) and `outcome` comes
/// from `screening_service::screen_subject` with the subject's dismissals applied. Returns the check id.
pub fn record_session_screening(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    session_id: &str,
    identity_id: Option<&str>,
    external_ref: Option<&str>,
    data: &BTreeMap<String, String>,
    outcome: &ScreeningOutcome,
) -> AppResult<String> {
    let id = ids::new_id(ids::CHECK);
    let identity_id = match identity_id {
        Some(i) => load_identity(w.conn, &meta.environment, i)?.filter(|s| !s.is_redacted()).map(|s| s.id),
        None => None,
    };
    let (key, key_owner) = key_for(w, &id, identity_id.as_deref())?;
    let run = StandaloneRun {
        status: outcome.status,
        provider: Some(PROVIDER_WATCHLISTS),
        error_reason: outcome.error_reason.map(str::to_string),
        note: None,
        outcome: Some(outcome.clone()),
    };
    let result = run_result(run, outcome.threshold, &key, &id)?;
    let check = dom::Created {
        check_type: "sanction".into(),
        origin: "session".into(),
        external_ref: external_ref.map(str::to_string),
        identity_id: identity_id.clone(),
        session_id: Some(session_id.to_string()),
        batch_id: None,
        subject_key: subject_key(identity_id.as_deref(), external_ref, &id),
        key_owner,
        subject: seal_subject(&key, &id, &standalone::subject_from_person(data)),
        tags: Vec::new(),
        result,
    };
    let mut screened = identity_screening("sanction", &check.result, &id);
    let evs = dom::decide(None, CheckCommand::Create(Box::new(check)), &meta.ctx())?;
    emit_check(w, meta, &id, 0, evs)?;
    if let (Some(identity), Some(s)) = (&identity_id, screened.as_mut()) {
        s.trigger = "session".into();
        s.session_id = Some(session_id.to_string());
        screen_identity(w, meta, identity, s.clone())?;
    }
    Ok(id)
}

/// Records a monitoring pass over `version_id`: a `sanction` check (origin `monitoring`) per identity with
/// new hits, each identity's screening status (baselines included), a monitored check's new hits on that
/// check, one history entry per subject screened, then the pass's end on the list's stream. `findings` are
/// the identities' (`Finding::identity_id`), `check_findings` the monitored checks' (the check id in
/// `Finding::identity_id`). A version already monitored is left alone (the pass may have raced with
/// another).
pub async fn record_monitoring(
    writer: &Writer,
    now: String,
    version_id: String,
    watchlist_id: String,
    screened_count: usize,
    findings: Vec<Finding>,
    check_findings: Vec<Finding>,
) -> AppResult<MonitoringCompleted> {
    writer
        .execute(move |w| {
            let mut done = MonitoringCompleted {
                version_id: version_id.clone(),
                identities_screened: screened_count,
                ..Default::default()
            };
            if super::watchlists::monitoring_pending(w, &version_id)?.is_none() {
                return Ok(done);
            }
            for f in findings {
                let Some(state) = load_identity(w.conn, &f.environment, &f.identity_id)? else { continue };
                if state.is_redacted() || state.is_merged() || state.archived || !state.monitoring_enabled {
                    continue;
                }
                let meta = CommandMeta::untraced("system:monitoring", f.environment.clone(), now.clone());
                let hits_before = q::open_hits(w.conn, &state.id)?;
                let mut pass = MonitoringPass {
                    subject_type: "identity".into(),
                    subject_id: state.id.clone(),
                    environment: f.environment.clone(),
                    hits_before,
                    hits_after: hits_before,
                    ..MonitoringPass::default()
                };
                let mut screened = Screened {
                    trigger: "monitoring".into(),
                    list_version_ids: f.outcome.list_version_ids(),
                    ..Screened::default()
                };
                if !f.outcome.hits.is_empty() {
                    let Some(key) = data_key(w.conn, w.keyring, &state.id)? else { continue };
                    let id = ids::new_id(ids::CHECK);
                    let run = StandaloneRun {
                        status: f.outcome.status,
                        provider: Some(PROVIDER_WATCHLISTS),
                        error_reason: None,
                        note: Some(format!("Continuous monitoring: new hits after watchlist version {version_id}.")),
                        outcome: Some(f.outcome.clone()),
                    };
                    let result = run_result(run, f.outcome.threshold, &key, &id)?;
                    screened.new_hit_ids = result.hits.iter().map(|h| h.id.clone()).collect();
                    screened.check_id = Some(id.clone());
                    let check = dom::Created {
                        check_type: "sanction".into(),
                        origin: "monitoring".into(),
                        external_ref: state.external_ref.clone(),
                        identity_id: Some(state.id.clone()),
                        session_id: None,
                        batch_id: None,
                        subject_key: state.id.clone(),
                        key_owner: state.id.clone(),
                        subject: seal_subject(&key, &id, &standalone::subject_from_person(&f.data)),
                        tags: Vec::new(),
                        result,
                    };
                    let evs = dom::decide(None, CheckCommand::Create(Box::new(check)), &meta.ctx())?;
                    emit_check(w, &meta, &id, 0, evs)?;
                    done.identities_with_new_hits += 1;
                    done.new_hits += screened.new_hit_ids.len();
                    done.check_ids.push(id.clone());
                    pass.new_hit_ids = screened.new_hit_ids.clone();
                    pass.check_id = Some(id);
                } else if !f.baseline {
                    done.passes.push(pass);
                    continue;
                }
                screen_identity(w, &meta, &state.id, screened)?;
                pass.hits_after = q::open_hits(w.conn, &state.id)?;
                done.passes.push(pass);
            }
            for f in check_findings {
                let Some(state) = load_state(w.conn, &f.environment, &f.identity_id)? else { continue };
                if state.redacted || !state.monitoring_enabled {
                    continue;
                }
                let meta = CommandMeta::untraced("system:monitoring", f.environment.clone(), now.clone());
                let open = |s: &CheckState| s.hits.iter().filter(|h| !h.dismissed).count() as i64;
                let mut pass = MonitoringPass {
                    subject_type: "check".into(),
                    subject_id: state.id.clone(),
                    environment: f.environment.clone(),
                    hits_before: open(&state),
                    hits_after: open(&state),
                    ..MonitoringPass::default()
                };
                if !f.outcome.hits.is_empty() {
                    let Some(key) = data_key(w.conn, w.keyring, &state.key_owner)? else { continue };
                    let run = StandaloneRun {
                        status: f.outcome.status,
                        provider: Some(PROVIDER_WATCHLISTS),
                        error_reason: None,
                        note: None,
                        outcome: Some(f.outcome.clone()),
                    };
                    let hits = run_result(run, f.outcome.threshold, &key, &state.id)?.hits;
                    let new_hit_ids: Vec<String> = hits.iter().map(|h| h.id.clone()).collect();
                    let command = CheckCommand::AddMonitoringHits {
                        version_id: version_id.clone(),
                        watchlist_id: watchlist_id.clone(),
                        hits,
                    };
                    let evs = dom::decide(Some(&state), command, &meta.ctx())?;
                    emit_check(w, &meta, &state.id, state.version, evs)?;
                    done.new_hits += new_hit_ids.len();
                    done.check_ids.push(state.id.clone());
                    if let (Some(identity), "sanction") = (&state.identity_id, state.check_type.as_str()) {
                        let screened = Screened {
                            trigger: "monitoring".into(),
                            check_id: Some(state.id.clone()),
                            list_version_ids: f.outcome.list_version_ids(),
                            new_hit_ids: new_hit_ids.clone(),
                            ..Screened::default()
                        };
                        screen_identity(w, &meta, identity, screened)?;
                    }
                    pass.hits_after = load_state(w.conn, &f.environment, &state.id)?.as_ref().map(open).unwrap_or(0);
                    pass.new_hit_ids = new_hit_ids;
                    pass.check_id = Some(state.id.clone());
                }
                done.passes.push(pass);
            }
            super::watchlists::emit_monitoring_completed(w, &now, &watchlist_id, &done)?;
            Ok(done)
        })
        .await
}

/// Sets (`replace`) or extends an identity's monitored lists (spec §1.6.13). Returns the identity id.
pub async fn set_monitored_lists(
    writer: &Writer,
    meta: CommandMeta,
    identity: IdentityRef,
    list_ids: Vec<MonitoredList>,
    replace: bool,
) -> AppResult<ids::IdentityId> {
    writer
        .execute(move |w| {
            let state = load_identity(w.conn, &meta.environment, identity.as_str())?
                .ok_or_else(|| AppError::not_found("Identity"))?;
            let current: Vec<String> =
                q::monitored_lists(w.conn, &state.id)?.iter().map(|l| l.as_str().to_string()).collect();
            let mut next = if replace { Vec::new() } else { current.clone() };
            for l in list_ids.iter().map(|l| l.as_str().to_string()) {
                if !next.contains(&l) {
                    next.push(l);
                }
            }
            if next == current {
                idom::ensure_writable(&state)?;
                return Ok(ids::IdentityId::from_stored(state.id));
            }
            let evs = idom::decide(Some(&state), IdentityCommand::SetMonitoredLists(next), &meta.ctx())?;
            emit_identity(w, &meta, &state.id, state.version, evs)?;
            Ok(ids::IdentityId::from_stored(state.id))
        })
        .await
}
