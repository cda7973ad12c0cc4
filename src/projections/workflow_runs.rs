//! Projects a session's processing events into `workflow_runs` and `workflow_run_nodes`: entering
//! processing starts a run, a pause at an external gate and the decision record the nodes the walk
//! visited (with the graph of the version that ran), the external decision continues it. Timings are the
//! events' recorded times: a pass's nodes are evaluated together, so each is entered when the pass
//! began and left when it ended; a gate is entered at the pause and left at the external decision.
//! Must not write other tables, and holds no subject data.

use crate::domain::session::SessionEvent;
use crate::domain::workflow::{graph_from_steps, Graph};
use crate::domain::workflow_run::{node_steps, NodeStep};
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Map;

/// `decoded` is `event` as the session event it records (decoded once by the caller).
pub fn on_session(conn: &Connection, event: &StoredEvent, decoded: &SessionEvent) -> AppResult<()> {
    let (id, at) = (event.stream_id.as_str(), event.recorded_at.as_str());
    match decoded {
        SessionEvent::StatusChanged(c) if c.to == "processing" && c.reason == "external_continue" => {
            let Some(run) = open_run(conn, id)? else { return Ok(()) };
            // Continue or a jump to the gate's on_fail node: told apart by where the next pass begins.
            conn.exec(
                "UPDATE workflow_run_nodes SET result = 'decided', left_at = ?1
                 WHERE session_id = ?2 AND run = ?3 AND left_at IS NULL",
                params![at, id, run.run],
            )?;
            conn.exec(
                "UPDATE workflow_runs SET status = 'running', pass_started_at = ?1 WHERE session_id = ?2 AND run = ?3",
                params![at, id, run.run],
            )?;
        }
        SessionEvent::StatusChanged(c) if c.to == "processing" => {
            // A run left open (processing that never decided) ends where the next one starts.
            conn.exec(
                "UPDATE workflow_runs SET status = 'interrupted', finished_at = ?1
                 WHERE session_id = ?2 AND finished_at IS NULL",
                params![at, id],
            )?;
            // The workflow processing will resolve (the pause or decision records the one it ran).
            let (workflow_id, workflow_version) = resolved_workflow(conn, id, &event.environment)?.unzip();
            conn.exec(
                "INSERT INTO workflow_runs (session_id, run, environment, workflow_id, workflow_version, trigger, status,
                    started_at, pass_started_at)
                 VALUES (?1, (SELECT COALESCE(MAX(run), 0) + 1 FROM workflow_runs WHERE session_id = ?1), ?2, ?3, ?4,
                         ?5, 'running', ?6, ?6)",
                params![id, event.environment, workflow_id, workflow_version, c.reason, at],
            )?;
        }
        SessionEvent::StatusChanged(c) if c.from == "processing" && c.to == "failed" => {
            conn.exec(
                "UPDATE workflow_runs SET status = 'failed', finished_at = ?1 WHERE session_id = ?2 AND finished_at IS NULL",
                params![at, id],
            )?;
        }
        SessionEvent::WorkflowPaused(p) => {
            let Some(run) = open_run(conn, id)? else { return Ok(()) };
            let workflow = (!p.workflow_id.is_empty()).then(|| (p.workflow_id.clone(), p.workflow_version));
            let graph = graph_of(conn, id, workflow.as_ref())?;
            // A second gate in the same run: the first one's decision shows in where this pass began.
            settle_gate(conn, id, run.run, graph.as_ref(), &p.path, None, at)?;
            let steps = node_steps(graph.as_ref(), &p.path, &Map::new(), None);
            insert_steps(conn, id, &run, &steps, at)?;
            set_workflow(conn, id, run.run, workflow.as_ref())?;
            conn.exec(
                "UPDATE workflow_runs SET status = 'awaiting_external' WHERE session_id = ?1 AND run = ?2",
                params![id, run.run],
            )?;
        }
        SessionEvent::Decided(d) if !d.outcome.simulated => {
            let Some(run) = open_run(conn, id)? else { return Ok(()) };
            let workflow = d.workflow_id.clone().zip(d.workflow_version);
            let graph = graph_of(conn, id, workflow.as_ref())?;
            settle_gate(conn, id, run.run, graph.as_ref(), &d.outcome.workflow_path, Some(&d.outcome), at)?;
            let steps =
                node_steps(graph.as_ref(), &d.outcome.workflow_path, &d.outcome.check_results, Some(&d.outcome.status));
            insert_steps(conn, id, &run, &steps, at)?;
            set_workflow(conn, id, run.run, workflow.as_ref())?;
            conn.exec(
                "UPDATE workflow_runs SET status = 'completed', outcome = ?1, finished_at = ?2
                 WHERE session_id = ?3 AND run = ?4",
                params![d.outcome.status, at, id, run.run],
            )?;
        }
        SessionEvent::Decided(_) => {
            // A simulated outcome walks no workflow; a run it cuts short stays unfinished.
            conn.exec(
                "UPDATE workflow_runs SET status = 'interrupted', finished_at = ?1
                 WHERE session_id = ?2 AND finished_at IS NULL",
                params![at, id],
            )?;
        }
        _ => {}
    }
    Ok(())
}

struct OpenRun {
    run: i64,
    pass_started_at: String,
}

fn open_run(conn: &Connection, session: &str) -> AppResult<Option<OpenRun>> {
    Ok(conn
        .row(
            "SELECT run, pass_started_at FROM workflow_runs WHERE session_id = ?1 AND finished_at IS NULL
             ORDER BY run DESC LIMIT 1",
            [session],
            |r| Ok(OpenRun { run: r.get(0)?, pass_started_at: r.get(1)? }),
        )
        .optional()?)
}

/// The session's workflow (or the environment's default) at its published version; None for a session
/// that runs its own checks.
fn resolved_workflow(conn: &Connection, session: &str, environment: &str) -> AppResult<Option<(String, i64)>> {
    let row: Option<(Option<String>, Option<String>)> = conn
        .row("SELECT checks, workflow_id FROM sessions WHERE id = ?1", [session], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((checks, workflow_id)) = row else { return Ok(None) };
    if checks.is_some() {
        return Ok(None);
    }
    Ok(conn
        .row(
            "SELECT id, current_version FROM workflows
             WHERE environment = ?1 AND ((?2 IS NULL AND is_default = 1) OR id = ?2) LIMIT 1",
            params![environment, workflow_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

fn set_workflow(conn: &Connection, session: &str, run: i64, workflow: Option<&(String, i64)>) -> AppResult<()> {
    if let Some((wf, version)) = workflow {
        conn.exec(
            "UPDATE workflow_runs SET workflow_id = ?1, workflow_version = ?2 WHERE session_id = ?3 AND run = ?4",
            params![wf, version, session, run],
        )?;
    }
    Ok(())
}

/// The graph the run walked: the stored version it names, else the session's checks (or the built-in
/// checks) as a steps list, as processing resolved it.
fn graph_of(conn: &Connection, session: &str, workflow: Option<&(String, i64)>) -> AppResult<Option<Graph>> {
    if let Some((wf, version)) = workflow {
        let text: Option<String> = conn
            .row(
                "SELECT graph FROM workflow_versions WHERE workflow_id = ?1 AND version = ?2",
                params![wf, version],
                |r| r.get(0),
            )
            .optional()?;
        return Ok(text.and_then(|t| serde_json::from_str(&t).ok()));
    }
    let checks: Option<String> =
        conn.row("SELECT checks FROM sessions WHERE id = ?1", [session], |r| r.get(0)).optional()?.flatten();
    let mut steps: Vec<String> = match checks.and_then(|c| serde_json::from_str::<Vec<String>>(&c).ok()) {
        Some(c) => c,
        None => crate::checks::engine::DEFAULT_CHECKS.iter().map(|c| c.to_string()).collect(),
    };
    steps.push("auto_approve".into());
    Ok(graph_from_steps(&steps).ok())
}

/// The external decision at a gate that ends or continues the run: `reject`, `fail` (review, or a jump
/// to the gate's on_fail node) or `continue`.
fn settle_gate(
    conn: &Connection,
    session: &str,
    run: i64,
    graph: Option<&Graph>,
    path: &[String],
    outcome: Option<&crate::domain::session::Outcome>,
    at: &str,
) -> AppResult<()> {
    // A pause settles only a gate already decided (the one it continued from), never itself.
    let open = if outcome.is_some() { "('waiting', 'decided')" } else { "('decided')" };
    let gate: Option<(i64, String)> = conn
        .row(
            &format!(
                "SELECT position, node FROM workflow_run_nodes
                 WHERE session_id = ?1 AND run = ?2 AND result IN {open} ORDER BY position DESC LIMIT 1"
            ),
            params![session, run],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((position, node)) = gate else { return Ok(()) };
    let result = match path.first() {
        None if outcome.and_then(|o| o.rejection_reason_code.as_deref()) == Some("external_rejected") => "reject",
        None => "fail",
        Some(first) => {
            let next = graph.and_then(|g| g.nodes.get(&node)).and_then(|n| n["next"].as_str());
            if next == Some(first.as_str()) {
                "continue"
            } else {
                "fail"
            }
        }
    };
    conn.exec(
        "UPDATE workflow_run_nodes SET result = ?1, next = COALESCE(?2, next), left_at = COALESCE(left_at, ?3)
         WHERE session_id = ?4 AND run = ?5 AND position = ?6",
        params![result, path.first(), at, session, run, position],
    )?;
    Ok(())
}

fn insert_steps(conn: &Connection, session: &str, run: &OpenRun, steps: &[NodeStep], at: &str) -> AppResult<()> {
    let start: i64 = conn.row(
        "SELECT COALESCE(MAX(position), 0) FROM workflow_run_nodes WHERE session_id = ?1 AND run = ?2",
        params![session, run.run],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO workflow_run_nodes (session_id, run, position, node, node_type, policy, result, next, entered_at, left_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for (i, s) in steps.iter().enumerate() {
        // A gate the pass stopped at is entered now and left at the external decision.
        let waiting = s.result == "waiting";
        let (entered, left) = if waiting { (at, None) } else { (run.pass_started_at.as_str(), Some(at)) };
        stmt.execute(params![
            session,
            run.run,
            start + 1 + i as i64,
            s.node,
            s.node_type,
            s.policy,
            s.result,
            s.next,
            entered,
            left
        ])?;
    }
    Ok(())
}
