//! Workflow-run reads: a session's runs with the nodes each visited, a workflow's analytics over a
//! period (runs, outcomes, time per node), and the dry-run of a draft over recorded sessions (the pure
//! walk of `domain::workflow_run` over each session's recorded decision). Reads the run, session and
//! workflow views only; must not write.

use crate::domain::ids::{SessionId, WorkflowDraftId, WorkflowId};
use crate::domain::session::{Outcome, ResultStatus};
use crate::domain::workflow::{Graph, NodeType, Policy};
use crate::domain::workflow_run::{self as run, DryRunOutcome, Facts, NodeResult, RunStatus};
use crate::error::{AppError, AppResult};
use crate::store::ReadOnly;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// One node a run visited.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunNodeView {
    /// 1 for the first node visited.
    pub position: i64,
    pub node: String,
    /// The node's type (null: the node is not in the graph the run names).
    pub node_type: Option<NodeType>,
    /// The policy a policy node ran.
    pub policy: Option<Policy>,
    pub result: NodeResult,
    /// The node visited next (null at the end of a pass).
    pub next: Option<String>,
    /// When the walk reached the node: a pass's nodes are evaluated together, so they share the pass's
    /// start; a wait node is entered when the run paused there.
    pub entered_at: String,
    /// When the walk left it (null while a wait node waits).
    pub left_at: Option<String>,
    /// `left_at` minus `entered_at`, in milliseconds.
    pub duration_ms: Option<i64>,
}

/// One workflow run of a session: each entry into processing (submit, reprocess, a trigger) starts one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    pub session_id: SessionId,
    /// 1 for the session's first run.
    pub run: i64,
    pub workflow_id: Option<WorkflowId>,
    pub workflow_version: Option<i64>,
    /// What started it: `submitted` or `reprocess`.
    pub trigger: String,
    pub status: RunStatus,
    /// The result status the run reached, once decided.
    pub outcome: Option<ResultStatus>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub nodes: Vec<RunNodeView>,
}

/// Milliseconds from `a` to `b` (both idv timestamps).
fn millis(a: &str, b: Option<&str>) -> Option<i64> {
    let (a, b) = (crate::clock::parse(a)?, crate::clock::parse(b?)?);
    Some(((b - a).whole_milliseconds()).clamp(0, i64::MAX as i128) as i64)
}

fn nodes(conn: &ReadOnly, session: &str, run: i64) -> AppResult<Vec<RunNodeView>> {
    let mut stmt = conn.prepare_cached(
        "SELECT position, node, node_type, policy, result, next, entered_at, left_at FROM workflow_run_nodes
         WHERE session_id = ?1 AND run = ?2 ORDER BY position",
    )?;
    let rows = stmt.query_map(params![session, run], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, Option<String>>(7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (position, node, node_type, policy, result, next, entered_at, left_at) = row?;
        out.push(RunNodeView {
            position,
            node,
            node_type: node_type.and_then(|t| serde_json::from_value(t.into()).ok()),
            policy: policy.and_then(|p| serde_json::from_value(p.into()).ok()),
            result: NodeResult::parse(&result).unwrap_or(NodeResult::Visited),
            next,
            duration_ms: millis(&entered_at, left_at.as_deref()),
            entered_at,
            left_at,
        });
    }
    Ok(out)
}

const RUN_COLUMNS: &str =
    "session_id, run, workflow_id, workflow_version, trigger, status, outcome, started_at, finished_at";

fn run_view(conn: &ReadOnly, r: &rusqlite::Row<'_>) -> AppResult<RunView> {
    let session: String = r.get(0)?;
    let number: i64 = r.get(1)?;
    let status: String = r.get(5)?;
    let outcome: Option<String> = r.get(6)?;
    let started_at: String = r.get(7)?;
    let finished_at: Option<String> = r.get(8)?;
    Ok(RunView {
        nodes: nodes(conn, &session, number)?,
        session_id: SessionId::from_stored(session),
        run: number,
        workflow_id: r.get::<_, Option<String>>(2)?.map(WorkflowId::from_stored),
        workflow_version: r.get(3)?,
        trigger: r.get(4)?,
        status: RunStatus::from_stored(&status)?,
        outcome: outcome.as_deref().map(ResultStatus::from_stored).transpose()?,
        duration_ms: millis(&started_at, finished_at.as_deref()),
        started_at,
        finished_at,
    })
}

/// The session's latest run, if it has one (the session must be of `environment`).
pub fn latest(conn: &ReadOnly, environment: &str, session: &str) -> AppResult<Option<RunView>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM workflow_runs WHERE session_id = ?1 AND environment = ?2 ORDER BY run DESC LIMIT 1"
    ))?;
    let mut rows = stmt.query(params![session, environment])?;
    match rows.next()? {
        Some(r) => Ok(Some(run_view(conn, r)?)),
        None => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Analytics
// ---------------------------------------------------------------------------------------------------------

/// Runs by where they stand.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RunCounts {
    pub total: i64,
    pub running: i64,
    pub awaiting_external: i64,
    pub completed: i64,
    pub failed: i64,
    pub interrupted: i64,
}

/// Decided runs by result status.
#[derive(Debug, Default, Clone, Serialize, ToSchema)]
pub struct OutcomeCounts {
    pub approved: i64,
    pub declined: i64,
    pub needs_review: i64,
}

impl OutcomeCounts {
    fn add(&mut self, outcome: &str) {
        match outcome {
            "approved" => self.approved += 1,
            "declined" | "rejected" => self.declined += 1,
            "needs_review" => self.needs_review += 1,
            _ => {}
        }
    }
}

/// Runs and outcomes of one version.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionAnalytics {
    pub version: i64,
    pub runs: i64,
    pub outcomes: OutcomeCounts,
}

/// Time statistics in milliseconds (null when nothing was timed).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Timing {
    /// How many durations the statistics cover.
    pub count: i64,
    pub average_ms: Option<i64>,
    pub median_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

impl Timing {
    fn of(mut ms: Vec<i64>) -> Self {
        if ms.is_empty() {
            return Timing::default();
        }
        ms.sort_unstable();
        let sum: i64 = ms.iter().sum();
        Timing {
            count: ms.len() as i64,
            average_ms: Some(sum / ms.len() as i64),
            median_ms: Some(ms[ms.len() / 2]),
            max_ms: ms.last().copied(),
        }
    }
}

/// One node's visits, results and time over the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeAnalytics {
    pub node: String,
    pub node_type: Option<NodeType>,
    pub policy: Option<Policy>,
    pub visits: i64,
    /// Visits by result (`passed`, `failed`, `condition`, `waiting`, ...).
    pub results: BTreeMap<String, i64>,
    /// Time from entering to leaving the node (a gate: the wait for the external decision).
    pub time: Timing,
}

/// A workflow's runs over a period (spec §1.5.1), from the run views the log projects.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowAnalytics {
    pub workflow_id: WorkflowId,
    /// The period's start (runs started at or after it), if given.
    pub from: Option<String>,
    /// The period's end (runs started before it), if given.
    pub to: Option<String>,
    pub runs: RunCounts,
    pub outcomes: OutcomeCounts,
    /// Decided runs' time from start to decision.
    pub run_time: Timing,
    /// By version, newest first.
    pub versions: Vec<VersionAnalytics>,
    /// By node, in order of first visit.
    pub nodes: Vec<NodeAnalytics>,
}

pub fn analytics(
    conn: &ReadOnly,
    environment: &str,
    id: &WorkflowId,
    from: Option<&str>,
    to: Option<&str>,
) -> AppResult<WorkflowAnalytics> {
    super::workflows::get(conn, environment, id)?;
    let mut out = WorkflowAnalytics {
        workflow_id: id.clone(),
        from: from.map(str::to_string),
        to: to.map(str::to_string),
        runs: RunCounts::default(),
        outcomes: OutcomeCounts::default(),
        run_time: Timing::default(),
        versions: Vec::new(),
        nodes: Vec::new(),
    };
    let period = "workflow_id = ?1 AND environment = ?2 AND (?3 IS NULL OR started_at >= ?3) AND (?4 IS NULL OR started_at < ?4)";
    let mut stmt = conn.prepare(&format!(
        "SELECT status, outcome, workflow_version, started_at, finished_at FROM workflow_runs WHERE {period}"
    ))?;
    let rows = stmt.query_map(params![id.as_str(), environment, from, to], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
        ))
    })?;
    let mut by_version: BTreeMap<i64, VersionAnalytics> = BTreeMap::new();
    let mut run_ms = Vec::new();
    for row in rows {
        let (status, outcome, version, started, finished) = row?;
        out.runs.total += 1;
        match RunStatus::from_stored(&status)? {
            RunStatus::Running => out.runs.running += 1,
            RunStatus::AwaitingExternal => out.runs.awaiting_external += 1,
            RunStatus::Completed => out.runs.completed += 1,
            RunStatus::Failed => out.runs.failed += 1,
            RunStatus::Interrupted => out.runs.interrupted += 1,
        }
        let v = by_version.entry(version.unwrap_or(0)).or_insert_with(|| VersionAnalytics {
            version: version.unwrap_or(0),
            runs: 0,
            outcomes: OutcomeCounts::default(),
        });
        v.runs += 1;
        if let Some(o) = &outcome {
            out.outcomes.add(o);
            v.outcomes.add(o);
            run_ms.extend(millis(&started, finished.as_deref()));
        }
    }
    out.run_time = Timing::of(run_ms);
    out.versions = by_version.into_values().rev().collect();

    let mut stmt = conn.prepare(
        "SELECT n.node, n.node_type, n.policy, n.result, n.entered_at, n.left_at FROM workflow_run_nodes n
         JOIN workflow_runs r ON r.session_id = n.session_id AND r.run = n.run
         WHERE r.workflow_id = ?1 AND r.environment = ?2 AND (?3 IS NULL OR r.started_at >= ?3)
           AND (?4 IS NULL OR r.started_at < ?4)
         ORDER BY r.started_at, n.session_id, n.run, n.position",
    )?;
    let rows = stmt.query_map(params![id.as_str(), environment, from, to], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut order: Vec<String> = Vec::new();
    let mut acc: BTreeMap<String, (NodeAnalytics, Vec<i64>)> = BTreeMap::new();
    for row in rows {
        let (node, node_type, policy, result, entered, left) = row?;
        let entry = acc.entry(node.clone()).or_insert_with(|| {
            order.push(node.clone());
            let a = NodeAnalytics {
                node: node.clone(),
                node_type: node_type.and_then(|t| serde_json::from_value(t.into()).ok()),
                policy: policy.and_then(|p| serde_json::from_value(p.into()).ok()),
                visits: 0,
                results: BTreeMap::new(),
                time: Timing::default(),
            };
            (a, Vec::new())
        });
        entry.0.visits += 1;
        *entry.0.results.entry(result).or_insert(0) += 1;
        entry.1.extend(millis(&entered, left.as_deref()));
    }
    for node in order {
        if let Some((mut a, ms)) = acc.remove(&node) {
            a.time = Timing::of(ms);
            out.nodes.push(a);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------------------
// Dry-run
// ---------------------------------------------------------------------------------------------------------

/// Which recorded sessions a dry-run evaluates.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These sessions of the environment, whatever workflow decided them.
    Sessions(Vec<SessionId>),
    /// The workflow's decided runs finished in the period (latest per session), newest first.
    Period { from: Option<String>, to: Option<String>, limit: i64 },
}

/// What the published version decided, as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedDecision {
    pub workflow_id: Option<WorkflowId>,
    pub workflow_version: Option<i64>,
    pub outcome: ResultStatus,
    /// The nodes the recorded run visited.
    pub path: Vec<String>,
}

/// What the draft would have decided from the same recorded evidence.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftDecision {
    pub outcome: DryRunOutcome,
    pub path: Vec<String>,
    /// The wait node the walk would pause at.
    pub waiting_at: Option<String>,
    /// Policies the draft runs that the recorded evidence has no result for (seen as skipped).
    pub unevaluated_policies: Vec<String>,
}

/// One session of a dry-run.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunItem {
    pub session_id: SessionId,
    pub published: RecordedDecision,
    pub draft: DraftDecision,
    /// The draft reaches another outcome than the recorded one.
    pub changed: bool,
}

/// Why a session was not evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// No session with this id in the environment.
    NotFound,
    /// The session has no recorded decision yet.
    NotDecided,
}

/// A session the dry-run could not evaluate.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunSkipped {
    pub session_id: SessionId,
    pub reason: SkipReason,
}

/// Outcome counts of a dry-run's draft side.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct DraftOutcomeCounts {
    pub approved: i64,
    pub declined: i64,
    pub needs_review: i64,
    pub awaiting_external: i64,
}

/// The dry-run's totals.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct DryRunSummary {
    pub evaluated: i64,
    pub changed: i64,
    pub skipped: i64,
    pub published: OutcomeCounts,
    pub draft: DraftOutcomeCounts,
}

/// A draft evaluated over recorded sessions, beside what was decided; nothing is written.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunView {
    pub workflow_id: WorkflowId,
    pub draft_id: WorkflowDraftId,
    pub draft_version: i64,
    pub summary: DryRunSummary,
    pub data: Vec<DryRunItem>,
    pub skipped: Vec<DryRunSkipped>,
}

/// A session's recorded decision and the facts it was made from.
struct Recorded {
    outcome: Outcome,
    document_type: Option<String>,
    decision: RecordedDecision,
}

fn recorded(conn: &ReadOnly, environment: &str, session: &str) -> AppResult<Result<Recorded, SkipReason>> {
    let row: Option<(Option<String>, Option<String>, Option<String>, Option<i64>)> = conn
        .query_row(
            "SELECT result_json, document_type, workflow_id, workflow_version FROM sessions
             WHERE id = ?1 AND environment = ?2",
            params![session, environment],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((result, document_type, workflow_id, workflow_version)) = row else {
        return Ok(Err(SkipReason::NotFound));
    };
    let Some(outcome) = result.and_then(|t| serde_json::from_str::<Outcome>(&t).ok()) else {
        return Ok(Err(SkipReason::NotDecided));
    };
    // The latest decided run names the workflow version and the whole path (across a gate); a decision
    // without a run (a simulation) stands as recorded on the session.
    let last = latest(conn, environment, session)?.filter(|r| r.outcome.is_some());
    let decision = match last {
        Some(r) => RecordedDecision {
            workflow_id: r.workflow_id,
            workflow_version: r.workflow_version,
            outcome: r.outcome.unwrap_or(ResultStatus::NeedsReview),
            path: r.nodes.into_iter().map(|n| n.node).collect(),
        },
        None => RecordedDecision {
            workflow_id: workflow_id.map(WorkflowId::from_stored),
            workflow_version,
            outcome: ResultStatus::from_stored(&outcome.status)?,
            path: outcome.workflow_path.clone(),
        },
    };
    Ok(Ok(Recorded { outcome, document_type, decision }))
}

fn selected(conn: &ReadOnly, environment: &str, id: &WorkflowId, selection: &Selection) -> AppResult<Vec<String>> {
    match selection {
        Selection::Sessions(ids) => {
            let mut seen = std::collections::BTreeSet::new();
            Ok(ids.iter().map(|s| s.as_str().to_string()).filter(|s| seen.insert(s.clone())).collect())
        }
        Selection::Period { from, to, limit } => {
            let mut stmt = conn.prepare(
                "SELECT session_id FROM workflow_runs
                 WHERE workflow_id = ?1 AND environment = ?2 AND outcome IS NOT NULL
                   AND (?3 IS NULL OR finished_at >= ?3) AND (?4 IS NULL OR finished_at < ?4)
                 GROUP BY session_id ORDER BY MAX(finished_at) DESC, session_id LIMIT ?5",
            )?;
            let rows = stmt.query_map(params![id.as_str(), environment, from, to, limit], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        }
    }
}

/// Walks `graph` (the draft's) over each selected session's recorded evidence, beside the recorded
/// decision. Reads only; the walk is the pure function the engine uses.
pub fn dry_run(
    conn: &ReadOnly,
    environment: &str,
    id: &WorkflowId,
    draft: (&WorkflowDraftId, i64, &Graph),
    selection: &Selection,
) -> AppResult<DryRunView> {
    let (draft_id, draft_version, graph) = draft;
    let mut view = DryRunView {
        workflow_id: id.clone(),
        draft_id: draft_id.clone(),
        draft_version,
        summary: DryRunSummary::default(),
        data: Vec::new(),
        skipped: Vec::new(),
    };
    for session in selected(conn, environment, id, selection)? {
        let r = match recorded(conn, environment, &session)? {
            Ok(r) => r,
            Err(reason) => {
                view.skipped.push(DryRunSkipped { session_id: SessionId::from_stored(session), reason });
                continue;
            }
        };
        let o = &r.outcome;
        let facts = Facts {
            check_results: Some(&o.check_results),
            risk: Some(&o.risk),
            extracted_age: o.extracted_age,
            age_check_passed: o.age_check_passed,
            face_match_passed: o.face_match_passed,
            face_match_score: o.face_match_score,
            duplicates: run::recorded_duplicates(&o.check_results),
            document_type: r.document_type.as_deref(),
            country: o.country_used.as_deref(),
        };
        let e = run::evaluate(graph, &facts);
        let outcome = DryRunOutcome::parse(&e.outcome)
            .ok_or_else(|| AppError::Internal(format!("dry-run outcome '{}'", e.outcome)))?;
        let published = r.decision.outcome.as_str();
        let same = e.outcome == published || (published == "rejected" && e.outcome == "declined");
        view.summary.evaluated += 1;
        view.summary.changed += i64::from(!same);
        view.summary.published.add(published);
        match outcome {
            DryRunOutcome::Approved => view.summary.draft.approved += 1,
            DryRunOutcome::Declined => view.summary.draft.declined += 1,
            DryRunOutcome::NeedsReview => view.summary.draft.needs_review += 1,
            DryRunOutcome::AwaitingExternal => view.summary.draft.awaiting_external += 1,
        }
        view.data.push(DryRunItem {
            session_id: SessionId::from_stored(session),
            published: r.decision,
            draft: DraftDecision {
                outcome,
                path: e.path,
                waiting_at: e.waiting_at,
                unevaluated_policies: e.unevaluated_policies,
            },
            changed: !same,
        });
    }
    view.summary.skipped = view.skipped.len() as i64;
    Ok(view)
}
