//! Projects into `findings` from the events that already record what needs a human look: check hits
//! (`CheckCreated`, `CheckRerun`, `CheckMonitoringHitsFound`; `CheckHitsDismissed` dismisses them),
//! custom-list matches in `flag` or `block` mode (`ListMatchRecorded`; `ListMatchMarkedFalsePositive`
//! dismisses them), a decided session's duplicates and fraud signals (`SessionDecided`), and the findings'
//! own acknowledgements and dismissals; a merged identity's findings move to the survivor. Runs after the owning projections, so it may read `checks` and
//! `sessions` for links; copies sealed text as it is. Must not write any other table.

use crate::domain::check::{CheckEvent, HitRecord};
use crate::domain::custom_list::MatchEvent;
use crate::domain::finding::{self as dom, FindingEvent, FindingKind};
use crate::domain::identity::IdentityEvent;
use crate::domain::session::SessionEvent;
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::undecodable;

/// `session` is `event` decoded, when it is a session event (decoded once by the caller).
pub fn apply(conn: &Connection, event: &StoredEvent, session: Option<&SessionEvent>) -> AppResult<()> {
    let t = event.event_type.as_str();
    if t.starts_with("Check") {
        let decoded = CheckEvent::decode(t, event.event_version, &event.payload).map_err(|e| undecodable(event, e))?;
        if let Some(e) = decoded {
            check(conn, event, e)?;
        }
    } else if t.starts_with("ListMatch") {
        let decoded = MatchEvent::decode(t, event.event_version, &event.payload).map_err(|e| undecodable(event, e))?;
        if let Some(e) = decoded {
            list_match(conn, event, e)?;
        }
    } else if let Some(SessionEvent::Decided(d)) = session {
        session_decided(conn, event, &d.outcome)?;
    } else if t == "IdentityMerged" {
        // A merged identity's findings follow it to the survivor, as its checks and sessions do.
        if let Some(IdentityEvent::Merged(m)) =
            IdentityEvent::decode(t, event.event_version, &event.payload).map_err(|e| undecodable(event, e))?
        {
            conn.exec("UPDATE findings SET identity_id = ?1 WHERE identity_id = ?2", params![m.into, event.stream_id])?;
        }
    } else if t.starts_with("Finding") {
        let decoded =
            FindingEvent::decode(t, event.event_version, &event.payload).map_err(|e| undecodable(event, e))?;
        if let Some(e) = decoded {
            own(conn, event, e)?;
        }
    }
    Ok(())
}

/// A new finding, or (same source again: a re-decided session) the same one with its detail refreshed and,
/// if a re-decision had resolved it, opened again.
struct NewFinding<'a> {
    source: String,
    kind: FindingKind,
    source_id: &'a str,
    summary: String,
    detail: Value,
    check_id: Option<&'a str>,
    identity_id: Option<&'a str>,
    session_id: Option<&'a str>,
}

fn put(conn: &Connection, event: &StoredEvent, f: NewFinding<'_>) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO findings (id, environment, kind, status, source_id, summary, detail, check_id, identity_id,
            session_id, created_seq, created_at, updated_at, stream_seq)
         VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, 0)
         ON CONFLICT (id) DO UPDATE SET summary = excluded.summary, detail = excluded.detail,
            identity_id = COALESCE(excluded.identity_id, findings.identity_id), updated_at = excluded.updated_at,
            status = CASE findings.status WHEN 'resolved' THEN 'open' ELSE findings.status END,
            resolved_at = CASE findings.status WHEN 'resolved' THEN NULL ELSE findings.resolved_at END",
    )?
    .execute(params![
        dom::finding_id(&f.source),
        event.environment,
        f.kind.as_str(),
        f.source_id,
        f.summary,
        f.detail.to_string(),
        f.check_id,
        f.identity_id,
        f.session_id,
        event.seq,
        event.recorded_at
    ])?;
    Ok(())
}

fn hit_findings(
    conn: &Connection,
    event: &StoredEvent,
    check_id: &str,
    check_type: &str,
    links: (Option<&str>, Option<&str>),
    hits: &[HitRecord],
) -> AppResult<()> {
    for h in hits {
        put(
            conn,
            event,
            NewFinding {
                source: dom::hit_source(&h.id),
                kind: FindingKind::ScreeningHit,
                source_id: &h.id,
                summary: format!(
                    "Watchlist hit: {} entry {} ({}), score {}",
                    h.watchlist_id, h.entry_id, h.entity_type, h.score
                ),
                detail: json!({
                    "check_id": check_id, "check_type": check_type, "hit_id": h.id,
                    "watchlist_id": h.watchlist_id, "entry_id": h.entry_id, "entity_type": h.entity_type,
                    "matched_name": h.matched_name, "score": h.score, "list_version_id": h.version_id,
                }),
                check_id: Some(check_id),
                identity_id: links.0,
                session_id: links.1,
            },
        )?;
    }
    Ok(())
}

/// The check's type and links as its view row holds them now.
fn check_links(conn: &Connection, check_id: &str) -> AppResult<(String, Option<String>, Option<String>)> {
    Ok(conn
        .prepare_cached("SELECT check_type, identity_id, session_id FROM checks WHERE id = ?1")?
        .query_row([check_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .unwrap_or_default())
}

fn check(conn: &Connection, event: &StoredEvent, e: CheckEvent) -> AppResult<()> {
    let id = event.stream_id.as_str();
    match e {
        CheckEvent::Created(c) => hit_findings(
            conn,
            event,
            id,
            &c.check_type,
            (c.identity_id.as_deref(), c.session_id.as_deref()),
            &c.result.hits,
        ),
        CheckEvent::Rerun(r) => {
            // The earlier run's hits are replaced: what was still waiting for a look is resolved.
            conn.exec(
                "UPDATE findings SET status = 'resolved', resolved_at = ?1, updated_at = ?1
                 WHERE check_id = ?2 AND kind = 'screening_hit' AND status IN ('open', 'acknowledged')",
                params![event.recorded_at, id],
            )?;
            let (check_type, identity, session) = check_links(conn, id)?;
            hit_findings(conn, event, id, &check_type, (identity.as_deref(), session.as_deref()), &r.result.hits)
        }
        CheckEvent::MonitoringHitsFound(m) => {
            let (check_type, identity, session) = check_links(conn, id)?;
            hit_findings(conn, event, id, &check_type, (identity.as_deref(), session.as_deref()), &m.hits)
        }
        CheckEvent::HitsDismissed(d) => {
            let owner: Option<String> = conn
                .prepare_cached("SELECT key_owner FROM checks WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            let mut mark = conn.prepare_cached(
                "UPDATE findings SET status = 'dismissed', dismissed_at = ?1, dismissed_by = ?2, reason = ?3,
                    reason_owner = ?4, reason_aad = ?5, reason_field = ?6, updated_at = ?1
                 WHERE id = ?7 AND status != 'dismissed'",
            )?;
            let field = format!("dismissal_reason.{}", d.dismissal_id);
            for hit in &d.hit_ids {
                mark.execute(params![
                    event.recorded_at,
                    event.actor,
                    d.reason,
                    owner,
                    id,
                    field,
                    dom::finding_id(&dom::hit_source(hit))
                ])?;
            }
            Ok(())
        }
        CheckEvent::TagsChanged(_)
        | CheckEvent::Redacted
        | CheckEvent::MonitoringEnabled
        | CheckEvent::MonitoringDisabled => Ok(()),
    }
}

fn list_match(conn: &Connection, event: &StoredEvent, e: MatchEvent) -> AppResult<()> {
    let id = event.stream_id.as_str();
    match e {
        MatchEvent::Recorded(m) => {
            // An `allow` match is a trusted one: nothing to look at.
            if m.match_mode == "allow" {
                return Ok(());
            }
            let identity: Option<String> = conn
                .prepare_cached("SELECT identity_id FROM sessions WHERE id = ?1")?
                .query_row([&m.session_id], |r| r.get(0))
                .optional()?
                .flatten();
            put(
                conn,
                event,
                NewFinding {
                    source: dom::list_match_source(id),
                    kind: FindingKind::ListMatch,
                    source_id: id,
                    summary: format!(
                        "Custom list match ({} list, {} mode) on {}, score {}",
                        m.list_type, m.match_mode, m.matched_field, m.score
                    ),
                    detail: json!({
                        "list_match_id": id, "list_id": m.list_id, "list_item_id": m.list_item_id,
                        "list_type": m.list_type, "match_mode": m.match_mode, "matched_field": m.matched_field,
                        "score": m.score,
                    }),
                    check_id: None,
                    identity_id: identity.as_deref(),
                    session_id: Some(&m.session_id),
                },
            )
        }
        MatchEvent::MarkedFalsePositive(_) => {
            conn.exec(
                "UPDATE findings SET status = 'dismissed', dismissed_at = ?1, dismissed_by = ?2, updated_at = ?1
                 WHERE id = ?3 AND status != 'dismissed'",
                params![event.recorded_at, event.actor, dom::finding_id(&dom::list_match_source(id))],
            )?;
            Ok(())
        }
    }
}

fn session_decided(conn: &Connection, event: &StoredEvent, outcome: &crate::domain::session::Outcome) -> AppResult<()> {
    let session = event.stream_id.as_str();
    let identity = outcome.identity_id.as_deref();
    // The session's list matches were recorded before its identity was known.
    if let Some(i) = identity {
        conn.exec(
            "UPDATE findings SET identity_id = ?1 WHERE session_id = ?2 AND identity_id IS NULL",
            params![i, session],
        )?;
    }
    let mut current: Vec<String> = Vec::new();
    let matches = outcome
        .check_results
        .get("duplicate_detection")
        .and_then(|c| c["detail"]["matches"].as_array())
        .cloned()
        .unwrap_or_default();
    for m in &matches {
        let (Some(other), Some(kind)) = (m["identity_id"].as_str(), m["relationship_type"].as_str()) else {
            continue;
        };
        let source = dom::duplicate_source(session, other, kind);
        current.push(dom::finding_id(&source));
        put(
            conn,
            event,
            NewFinding {
                source,
                kind: FindingKind::Duplicate,
                source_id: session,
                summary: format!("Possible duplicate of identity {other} ({kind})"),
                detail: json!({ "session_id": session, "matched_identity_id": other, "relationship_type": kind }),
                check_id: None,
                identity_id: identity,
                session_id: Some(session),
            },
        )?;
    }
    let signals = outcome.risk["signals"].as_array().cloned().unwrap_or_default();
    for s in &signals {
        let Some(name) = s["name"].as_str() else { continue };
        let source = dom::signal_source(session, name);
        current.push(dom::finding_id(&source));
        put(
            conn,
            event,
            NewFinding {
                source,
                kind: FindingKind::FraudSignal,
                source_id: session,
                summary: format!(
                    "Fraud signal {name} ({}, weight {})",
                    s["category"].as_str().unwrap_or("unknown"),
                    s["weight"]
                ),
                detail: json!({
                    "session_id": session, "signal": name, "category": s["category"], "weight": s["weight"],
                    "risk_score": outcome.risk["risk_score"], "risk_level": outcome.risk["risk_level"],
                }),
                check_id: None,
                identity_id: identity,
                session_id: Some(session),
            },
        )?;
    }
    // A re-decided session no longer showing a signal or duplicate: what still waited for a look is resolved.
    let mut stale = conn.prepare_cached(
        "SELECT id FROM findings WHERE session_id = ?1 AND kind IN ('duplicate', 'fraud_signal')
            AND status IN ('open', 'acknowledged')",
    )?;
    let ids: Vec<String> = stale.query_map([session], |r| r.get(0))?.collect::<Result<_, _>>()?;
    for id in ids.into_iter().filter(|id| !current.contains(id)) {
        conn.exec(
            "UPDATE findings SET status = 'resolved', resolved_at = ?1, updated_at = ?1 WHERE id = ?2",
            params![event.recorded_at, id],
        )?;
    }
    Ok(())
}

fn own(conn: &Connection, event: &StoredEvent, e: FindingEvent) -> AppResult<()> {
    let id = event.stream_id.as_str();
    match e {
        FindingEvent::Acknowledged(a) => {
            conn.exec(
                "UPDATE findings SET status = 'acknowledged', acknowledged_at = ?1, acknowledged_by = ?2,
                    ack_note = ?3, note_owner = ?4, updated_at = ?1, stream_seq = ?5 WHERE id = ?6",
                params![event.recorded_at, event.actor, a.note, a.key_owner, event.stream_seq, id],
            )?;
        }
        FindingEvent::Dismissed(d) => {
            conn.exec(
                "UPDATE findings SET status = 'dismissed', dismissed_at = COALESCE(dismissed_at, ?1),
                    dismissed_by = COALESCE(dismissed_by, ?2), reason = ?3, reason_owner = ?4, reason_aad = ?5,
                    reason_field = 'dismissal_reason', updated_at = ?1, stream_seq = ?6 WHERE id = ?5",
                params![event.recorded_at, event.actor, d.reason, d.key_owner, id, event.stream_seq],
            )?;
        }
    }
    Ok(())
}
