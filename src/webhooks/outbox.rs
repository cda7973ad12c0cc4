//! The durable webhook outbox, driven by the event log. Owns the state tables `webhook_outbox_cursor`,
//! `webhook_deliveries`, `webhook_attempts` and `webhook_endpoint_health` (operational state like
//! `idempotency_records`, not views: `idv replay` leaves them alone), and:
//! - the mapping from stored events to the §1.11.5 catalog with PII-free data (ids, external_ref,
//!   statuses, result flags; never names, dates of birth, document numbers or extracted data);
//! - enqueueing at append: the writer calls [`on_append`] for each event right after projecting it, in
//!   the same transaction, so a delivery's data is what was true at that event (a later change cannot
//!   leak into an earlier announcement); the cursor advances with it;
//! - dispatch: events after the cursor that were not enqueued at append (written by an older idv)
//!   become one delivery row per matching enabled endpoint, and the cursor advances in the same
//!   transaction;
//! - recording an attempt: its row, the delivery's next state per the retry policy, and whether the
//!   circuit breaker trips (the endpoint's command disables it, so that is an event).
//!
//! Functions named `*_in` write and run inside the writer's transaction (they take its connection);
//! the others only read. Must not append events (that is `commands`; this module never calls it), send
//! anything over the network, sign, or decide delivery policy itself (that is `policy`).

use crate::domain::identity::IdentityEvent;
use crate::domain::webhook::{self as dom, EndpointEvent};
use crate::error::{AppError, AppResult};
use crate::store::events::StoredEvent;
use crate::store::Exec;
use crate::store::Reads;
use crate::webhooks::payload::{matches, FilterConditions, WebhookEvent};
use crate::webhooks::policy::{after_failed_attempt, should_disable, AfterFailure};
use crate::webhooks::sender::AttemptResult;
use dom::{
    DELIVERY_DELIVERED as STATUS_DELIVERED, DELIVERY_FAILED as STATUS_FAILED, DELIVERY_PENDING as STATUS_PENDING,
    DELIVERY_RETRYING as STATUS_RETRYING,
};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

const CURSOR: &str = "dispatch";
/// Events examined per dispatch transaction.
pub const DISPATCH_BATCH: i64 = 512;

pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

// ------------------------------------------------------------------------------------------ mapping

/// Who receives a mapped event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Endpoints subscribed to the event name whose filters match.
    Subscribers,
    /// One endpoint, whatever it subscribes to (the test event).
    Only(String),
    /// Subscribers other than this endpoint (the breaker's notice about it).
    SubscribersExcept(String),
}

#[derive(Debug, Clone)]
pub struct Mapped {
    pub event: WebhookEvent,
    pub audience: Audience,
    /// The dialect whose endpoints receive it (`None`: Verifa's).
    pub dialect: Option<&'static str>,
}

struct Builder<'a> {
    source: &'a StoredEvent,
    out: Vec<Mapped>,
}

impl Builder<'_> {
    fn push(&mut self, name: &str, data: Map<String, Value>, audience: Audience) {
        self.push_for(None, name, data, audience);
    }

    fn push_for(&mut self, dialect: Option<&'static str>, name: &str, data: Map<String, Value>, audience: Audience) {
        // One log event can yield several webhook events (tags added and removed); each needs its own
        // stable id, because receivers dedupe on it.
        let id = match self.out.len() {
            0 => self.source.event_id.clone(),
            n => format!("{}_{}", self.source.event_id, n + 1),
        };
        self.out.push(Mapped {
            event: WebhookEvent { id, event: name.to_string(), created_at: self.source.recorded_at.clone(), data },
            audience,
            dialect,
        });
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

struct SessionFacts {
    external_ref: Option<String>,
    created_at: Option<String>,
    identity_id: Option<String>,
    status: Option<String>,
}

fn session_facts(conn: &Connection, id: &str) -> AppResult<SessionFacts> {
    let row = conn
        .prepare_cached("SELECT external_ref, created_at, identity_id, status FROM sessions WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(SessionFacts {
                external_ref: r.get(0)?,
                created_at: r.get(1)?,
                identity_id: r.get(2)?,
                status: r.get(3)?,
            })
        })
        .optional()?;
    Ok(row.unwrap_or(SessionFacts { external_ref: None, created_at: None, identity_id: None, status: None }))
}

fn session_data(e: &StoredEvent, f: &SessionFacts, status: &str) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("session_id".into(), json!(e.stream_id));
    d.insert("external_ref".into(), json!(f.external_ref));
    d.insert("status".into(), json!(status));
    d.insert("is_sandbox".into(), json!(e.environment == "sandbox"));
    d.insert("created_at".into(), json!(f.created_at.clone().unwrap_or_else(|| e.recorded_at.clone())));
    if let Some(identity) = &f.identity_id {
        d.insert("identity_id".into(), json!(identity));
    }
    d
}

fn map_session(conn: &Connection, e: &StoredEvent, b: &mut Builder<'_>) -> AppResult<()> {
    let p = &e.payload;
    match e.event_type.as_str() {
        "SessionCreated" => {
            let mut f = session_facts(conn, &e.stream_id)?;
            f.external_ref = text(&p["external_ref"]);
            f.created_at = Some(e.recorded_at.clone());
            b.push("session.created", session_data(e, &f, "pending"), Audience::Subscribers);
        }
        "SessionStatusChanged" => {
            let (from, to) = (p["from"].as_str().unwrap_or(""), p["to"].as_str().unwrap_or(""));
            let name = match (from, to) {
                ("pending", "capturing") => "session.started",
                (_, "expired") => "session.expired",
                _ => return Ok(()),
            };
            let f = session_facts(conn, &e.stream_id)?;
            b.push(name, session_data(e, &f, to), Audience::Subscribers);
        }
        "SessionTokenIssued" => {
            // A one-time link; the token itself (a credential) is never sent.
            let Some(link_id) = text(&p["link_id"]) else { return Ok(()) };
            let f = session_facts(conn, &e.stream_id)?;
            let mut d = session_data(e, &f, f.status.as_deref().unwrap_or("pending"));
            d.insert("link_id".into(), json!(link_id));
            d.insert("expires_at".into(), p["expires_at"].clone());
            b.push("session.link_generated", d, Audience::Subscribers);
        }
        "SessionWorkflowPaused" => {
            let f = session_facts(conn, &e.stream_id)?;
            let mut d = session_data(e, &f, "awaiting_external");
            d.insert("workflow_id".into(), p["workflow_id"].clone());
            d.insert("workflow_node".into(), p["node"].clone());
            b.push("session.awaiting_external", d, Audience::Subscribers);
        }
        "SessionDecided" => {
            let to = p["to"].as_str().unwrap_or("completed");
            let o = &p["outcome"];
            let result = o["status"].as_str().unwrap_or("");
            let name = match (to, result) {
                ("under_review", _) | (_, "needs_review") => "session.requires-review",
                ("completed", "approved") => "session.approved",
                ("completed", _) => "session.declined",
                _ => return Ok(()),
            };
            let mut f = session_facts(conn, &e.stream_id)?;
            if let Some(identity) = text(&o["identity_id"]) {
                f.identity_id = Some(identity);
            }
            let mut d = session_data(e, &f, result);
            d.insert("session_status".into(), json!(to));
            d.insert(
                "result".into(),
                json!({
                    "status": result,
                    "face_match_passed": o["face_match_passed"],
                    "age_check_passed": o["age_check_passed"],
                    "rejection_reason_code": o["rejection_reason_code"],
                }),
            );
            b.push(name, d, Audience::Subscribers);
        }
        "SessionRedacted" | "SessionRetentionExpired" => {
            let name = if e.event_type == "SessionRedacted" { "session.redacted" } else { "session.retention-expired" };
            let f = session_facts(conn, &e.stream_id)?;
            let mut d = session_data(e, &f, f.status.as_deref().unwrap_or(""));
            d.insert("retention_status".into(), json!("redacted"));
            b.push(name, d, Audience::Subscribers);
        }
        _ => {}
    }
    Ok(())
}

struct IdentityFacts {
    external_ref: Option<String>,
    status: Option<String>,
    created_at: Option<String>,
}

fn identity_data(conn: &Connection, e: &StoredEvent) -> AppResult<Map<String, Value>> {
    let f = conn
        .prepare_cached("SELECT external_ref, status, created_at FROM identities WHERE id = ?1")?
        .query_row([&e.stream_id], |r| {
            Ok(IdentityFacts { external_ref: r.get(0)?, status: r.get(1)?, created_at: r.get(2)? })
        })
        .optional()?
        .unwrap_or(IdentityFacts { external_ref: None, status: None, created_at: None });
    let mut d = Map::new();
    d.insert("identity_id".into(), json!(e.stream_id));
    d.insert("external_ref".into(), json!(f.external_ref));
    d.insert("status".into(), json!(f.status));
    d.insert("is_sandbox".into(), json!(e.environment == "sandbox"));
    d.insert("created_at".into(), json!(f.created_at.unwrap_or_else(|| e.recorded_at.clone())));
    Ok(d)
}

fn map_identity(conn: &Connection, e: &StoredEvent, b: &mut Builder<'_>) -> AppResult<()> {
    let Some(ev) = decoded(IdentityEvent::decode(&e.event_type, e.event_version, &e.payload), e) else {
        return Ok(());
    };
    let mut d = identity_data(conn, e)?;
    match &ev {
        IdentityEvent::Created(c) => {
            // The event's own values: the view may already show later changes.
            d.insert("external_ref".into(), json!(c.external_ref));
            d.insert("status".into(), json!(c.status));
            d.insert("created_at".into(), json!(e.recorded_at));
            b.push("identity.created", d, Audience::Subscribers);
        }
        IdentityEvent::Verified(v) => {
            d.insert("status".into(), json!(v.status));
            d.insert("session_id".into(), json!(v.session_id));
            d.insert("changed".into(), json!(ev.fields()));
            b.push("identity.updated", d, Audience::Subscribers);
        }
        IdentityEvent::Updated(_) | IdentityEvent::CustomFieldsSet(_) | IdentityEvent::Absorbed(_) => {
            d.insert("changed".into(), json!(ev.fields()));
            if let IdentityEvent::Absorbed(a) = &ev {
                d.insert("merged_from".into(), json!(a.from));
            }
            b.push("identity.updated", d, Audience::Subscribers);
        }
        IdentityEvent::Redacted => {
            d.insert("status".into(), json!("redacted"));
            d.insert("changed".into(), json!(ev.fields()));
            b.push("identity.updated", d, Audience::Subscribers);
        }
        IdentityEvent::Merged(m) => {
            d.insert("changed".into(), json!(ev.fields()));
            d.insert("merged_into".into(), json!(m.into));
            b.push("identity.updated", d, Audience::Subscribers);
        }
        IdentityEvent::Archived => b.push("identity.archived", d, Audience::Subscribers),
        IdentityEvent::Restored(_) => b.push("identity.restored", d, Audience::Subscribers),
        IdentityEvent::TagsChanged(t) => {
            d.insert("tags".into(), json!(t.tags));
            if !t.added.is_empty() {
                let mut added = d.clone();
                added.insert("added".into(), json!(t.added));
                b.push("identity.tag-added", added, Audience::Subscribers);
            }
            if !t.removed.is_empty() {
                d.insert("removed".into(), json!(t.removed));
                b.push("identity.tag-removed", d, Audience::Subscribers);
            }
        }
        IdentityEvent::MonitoringPaused(_) | IdentityEvent::MonitoringResumed | IdentityEvent::Exported => {}
        IdentityEvent::Screened(s) => {
            // Ids, counts and list versions only: hits name listed people, never the subject.
            d.insert("screening_status".into(), json!(s.status));
            d.insert("trigger".into(), json!(s.trigger));
            d.insert("check_id".into(), json!(s.check_id));
            d.insert("session_id".into(), json!(s.session_id));
            d.insert("hit_count".into(), json!(s.hit_count));
            d.insert("list_version_ids".into(), json!(s.list_version_ids));
            if s.trigger == "monitoring" && !s.new_hit_ids.is_empty() {
                d.insert("new_hit_ids".into(), json!(s.new_hit_ids));
                // The spec names this event two ways (§1.9 [CONFLICT]); both are sent.
                b.push("screening.monitoring.new_hits", d.clone(), Audience::Subscribers);
                b.push("check.monitoring.new_hits", d, Audience::Subscribers);
            } else {
                b.push("screening.completed", d, Audience::Subscribers);
            }
        }
        IdentityEvent::MonitoredListsSet(_) => {}
    }
    Ok(())
}

/// A monitored standalone check's new hits (spec §1.9): ids, counts and the list version, never the subject.
/// A check linked to an identity is announced by the identity's screening event instead (it names the check).
fn map_check_monitoring(conn: &Connection, e: &StoredEvent, b: &mut Builder<'_>) -> AppResult<()> {
    use crate::domain::check::CheckEvent;
    let Some(CheckEvent::MonitoringHitsFound(m)) =
        decoded(CheckEvent::decode(&e.event_type, e.event_version, &e.payload), e)
    else {
        return Ok(());
    };
    let row: Option<(Option<String>, Option<String>, String, i64)> = conn
        .prepare_cached("SELECT identity_id, external_ref, check_type, hit_count FROM checks WHERE id = ?1")?
        .query_row([&e.stream_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((None, external_ref, check_type, hit_count)) = row else { return Ok(()) };
    let mut d = Map::new();
    d.insert("check_id".into(), json!(e.stream_id));
    d.insert("check_type".into(), json!(check_type));
    d.insert("external_ref".into(), json!(external_ref));
    d.insert("trigger".into(), json!("monitoring"));
    d.insert("hit_count".into(), json!(hit_count));
    d.insert("new_hit_ids".into(), json!(m.hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>()));
    d.insert("list_version_ids".into(), json!([m.version_id]));
    // The spec names this event two ways (§1.9 [CONFLICT]); both are sent, as for identities.
    b.push("check.monitoring.new_hits", d.clone(), Audience::Subscribers);
    b.push("screening.monitoring.new_hits", d, Audience::Subscribers);
    Ok(())
}

/// An event that does not decode is logged and produces no webhook: one bad row must not stop the
/// cursor (and so every later delivery) forever.
fn decoded<T>(result: Result<Option<T>, serde_json::Error>, e: &StoredEvent) -> Option<T> {
    result.unwrap_or_else(|err| {
        tracing::error!(event_id = %e.event_id, event_type = %e.event_type, error = %err, "event skipped by webhooks");
        None
    })
}

/// Case events (§1.11.5): ids, statuses and reviewer ids only; notes and reasons stay sealed.
fn map_case(conn: &Connection, e: &StoredEvent, b: &mut Builder<'_>) -> AppResult<()> {
    let p = &e.payload;
    let name = match e.event_type.as_str() {
        "CaseCreated" => "case.created",
        "CaseEscalated" => "case.escalated",
        "CaseDecided" if p["recommendation"] == json!(false) => match p["decision"].as_str() {
            Some("approved") => "case.approved",
            _ => "case.rejected",
        },
        _ => return Ok(()),
    };
    let (session_id, status): (Option<String>, Option<String>) = conn
        .prepare_cached("SELECT session_id, status FROM cases WHERE id = ?1")?
        .query_row([&e.stream_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((None, None));
    let mut d = Map::new();
    d.insert("case_id".into(), json!(e.stream_id));
    d.insert("session_id".into(), json!(session_id));
    d.insert("status".into(), json!(status));
    d.insert("is_sandbox".into(), json!(e.environment == "sandbox"));
    if let Some(reviewer) = p.get("reviewer_id") {
        d.insert("reviewer_id".into(), reviewer.clone());
    }
    b.push(name, d, Audience::Subscribers);
    Ok(())
}

fn map_endpoint(e: &StoredEvent, b: &mut Builder<'_>) {
    match decoded(EndpointEvent::decode(&e.event_type, e.event_version, &e.payload), e) {
        Some(EndpointEvent::TestRequested) => {
            let mut d = Map::new();
            d.insert("endpoint_id".into(), json!(e.stream_id));
            d.insert("is_sandbox".into(), json!(e.environment == "sandbox"));
            d.insert("message".into(), json!("This is a test event sent from idv."));
            b.push(dom::EVENT_TEST, d, Audience::Only(e.stream_id.clone()));
        }
        Some(EndpointEvent::Disabled(x)) => {
            let mut d = Map::new();
            d.insert("endpoint_id".into(), json!(e.stream_id));
            d.insert("is_sandbox".into(), json!(e.environment == "sandbox"));
            d.insert("reason".into(), json!(x.reason));
            d.insert("consecutive_failures".into(), json!(x.consecutive_failures));
            d.insert("disabled_at".into(), json!(e.recorded_at));
            b.push(dom::EVENT_ENDPOINT_DISABLED, d, Audience::SubscribersExcept(e.stream_id.clone()));
        }
        _ => {}
    }
}

/// Document events (§1.11.5): `document.extracted` and `document.verified` with ids, the type and
/// statuses only; extracted values and check reasons stay out.
fn map_document(conn: &Connection, e: &StoredEvent, b: &mut Builder<'_>) -> AppResult<()> {
    use crate::domain::document::DocumentEvent;
    let event = decoded(DocumentEvent::decode(&e.event_type, e.event_version, &e.payload), e);
    if !matches!(event, Some(DocumentEvent::Extracted(_) | DocumentEvent::Checked(_))) {
        return Ok(());
    }
    let row: Option<(Option<String>, Option<String>, String)> = conn
        .prepare_cached(
            "SELECT d.session_id, COALESCE(d.identity_id, s.identity_id), d.document_type FROM documents d
             LEFT JOIN sessions s ON s.id = d.session_id WHERE d.id = ?1",
        )?
        .query_row([&e.stream_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((session_id, identity_id, document_type)) = row else { return Ok(()) };
    let mut d = Map::new();
    d.insert("document_id".into(), json!(e.stream_id));
    d.insert("session_id".into(), json!(session_id));
    d.insert("identity_id".into(), json!(identity_id));
    d.insert("document_type".into(), json!(document_type));
    d.insert("is_sandbox".into(), json!(e.environment == "sandbox"));
    match event {
        Some(DocumentEvent::Extracted(x)) => {
            d.insert("extraction_id".into(), json!(x.extraction_id));
            d.insert("status".into(), json!(if x.fields.is_empty() { "empty" } else { "completed" }));
            d.insert("fields_extracted".into(), json!(x.fields.len()));
            b.push("document.extracted", d, Audience::Subscribers);
        }
        Some(DocumentEvent::Checked(c)) => {
            d.insert("status".into(), json!(c.status));
            let checks: Vec<Value> = c.checks.iter().map(|c| json!({ "name": c.name, "status": c.status })).collect();
            d.insert("checks".into(), Value::Array(checks));
            b.push("document.verified", d, Audience::Subscribers);
        }
        _ => {}
    }
    Ok(())
}

/// The webhook events one stored event produces (most produce none). Reads the session and identity
/// views for context (external_ref, creation time), inside the caller's transaction.
pub fn map_event(conn: &Connection, e: &StoredEvent) -> AppResult<Vec<Mapped>> {
    let mut b = Builder { source: e, out: Vec::new() };
    let t = e.event_type.as_str();
    if t.starts_with("Case") {
        map_case(conn, e, &mut b)?;
    } else if t.starts_with("Session") {
        map_session(conn, e, &mut b)?;
    } else if t.starts_with("Identity") && !t.starts_with("IdentityType") {
        map_identity(conn, e, &mut b)?;
    } else if t.starts_with("WebhookEndpoint") {
        map_endpoint(e, &mut b);
    } else if t.starts_with("Document") {
        map_document(conn, e, &mut b)?;
    } else if t == "CheckMonitoringHitsFound" {
        map_check_monitoring(conn, e, &mut b)?;
    }
    // The VerifyHQ dialect's events come last, so the Verifa events keep their ids.
    for (name, data) in super::verifyhq::map(conn, e)? {
        b.push_for(Some(dom::VERIFYHQ_DIALECT), name, data, Audience::Subscribers);
    }
    Ok(b.out)
}

// ------------------------------------------------------------------------------------------ dispatch

/// An enabled endpoint, as dispatch needs it.
struct Target {
    id: String,
    dialect: Option<String>,
    environment: String,
    enabled_seq: i64,
    events: Vec<String>,
    filters: FilterConditions,
}

impl Target {
    fn wants(&self, source: &StoredEvent, mapped: &Mapped) -> bool {
        if self.environment != source.environment
            || source.seq <= self.enabled_seq
            || self.dialect.as_deref() != mapped.dialect
        {
            return false;
        }
        let subscribed = || {
            dom::subscribes(&self.events, &mapped.event.event)
                && (self.filters.is_empty() || matches(&self.filters, &mapped.event.canonical()))
        };
        match &mapped.audience {
            Audience::Only(id) => *id == self.id,
            Audience::Subscribers => subscribed(),
            Audience::SubscribersExcept(id) => *id != self.id && subscribed(),
        }
    }
}

fn enabled_targets(conn: &Connection) -> AppResult<Vec<Target>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, environment, enabled_seq, enabled_events, event_filter_conditions, dialect
         FROM webhook_endpoints WHERE enabled = 1",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, environment, enabled_seq, events, filters, dialect) in rows {
        let filters = filters.and_then(|f| serde_json::from_str::<Value>(&f).ok()).unwrap_or(Value::Null);
        out.push(Target {
            id,
            dialect,
            environment,
            enabled_seq,
            events: serde_json::from_str(&events).unwrap_or_default(),
            // Validated on the way in; an unreadable one (never expected) filters nothing out.
            filters: FilterConditions::parse(&filters).unwrap_or_default(),
        });
    }
    Ok(out)
}

fn cursor<C: Reads + ?Sized>(conn: &C) -> AppResult<i64> {
    Ok(conn
        .prepare_cached("SELECT last_seq FROM webhook_outbox_cursor WHERE name = ?1")?
        .query_row([CURSOR], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The first seq a dispatch pass must look at, or `None` when no endpoint is enabled (then nothing
/// can match; the cursor may lag, since an endpoint only receives events after its `enabled_seq`).
fn dispatch_floor<C: Reads + ?Sized>(conn: &C) -> AppResult<Option<i64>> {
    let min_enabled: Option<i64> =
        conn.query_row("SELECT MIN(enabled_seq) FROM webhook_endpoints WHERE enabled = 1", [], |r| r.get(0))?;
    Ok(match min_enabled {
        Some(floor) => Some(cursor(conn)?.max(floor)),
        None => None,
    })
}

/// What a dispatch pass would find now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DispatchOutlook {
    /// Some endpoint is enabled: a commit may create a delivery.
    pub endpoints_enabled: bool,
    /// Events past the cursor wait for an enabled endpoint: a pass would create something.
    pub pending: bool,
}

/// Read-only check: is any endpoint enabled, and could a dispatch pass create anything now?
pub fn dispatch_outlook<C: Reads + ?Sized>(conn: &C) -> AppResult<DispatchOutlook> {
    let Some(start) = dispatch_floor(conn)? else {
        return Ok(DispatchOutlook { endpoints_enabled: false, pending: false });
    };
    let pending = conn.query_row("SELECT EXISTS (SELECT 1 FROM events WHERE seq > ?1)", [start], |r| r.get(0))?;
    Ok(DispatchOutlook { endpoints_enabled: true, pending })
}

const SELECT_EVENTS: &str = "SELECT seq, event_id, stream_id, stream_seq, event_type, event_version, payload,
    recorded_at, actor, environment, request_id FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2";

fn load_events(conn: &Connection, after: i64, limit: i64) -> AppResult<Vec<StoredEvent>> {
    let mut stmt = conn.prepare_cached(SELECT_EVENTS)?;
    let rows = stmt.query_map(params![after, limit], |r| {
        let payload: String = r.get(6)?;
        Ok(StoredEvent {
            seq: r.get(0)?,
            event_id: r.get(1)?,
            stream_id: r.get(2)?,
            stream_seq: r.get(3)?,
            event_type: r.get(4)?,
            event_version: r.get(5)?,
            payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
            recorded_at: r.get(7)?,
            actor: r.get(8)?,
            environment: r.get(9)?,
            request_id: r.get(10)?,
            // Deliveries do not carry the request behind an event.
            origin: None,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Inserts the delivery of `mapped` to `endpoint_id` unless it exists; returns its id either way.
fn enqueue(
    conn: &Connection,
    endpoint_id: &str,
    source: &StoredEvent,
    mapped: &Mapped,
    now: OffsetDateTime,
) -> AppResult<(String, bool)> {
    let id = crate::domain::ids::new_id(dom::DELIVERY_PREFIX);
    let at = crate::clock::format(now);
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO webhook_deliveries (id, endpoint_id, environment, event_id, event_seq, event_type,
                event_data, event_created_at, status, attempts, next_attempt_at, manual_retry, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, 0, ?10, ?10)",
        )?
        .execute(params![
            id,
            endpoint_id,
            source.environment,
            mapped.event.id,
            source.seq,
            mapped.event.event,
            Value::Object(mapped.event.data.clone()).to_string(),
            mapped.event.created_at,
            unix_ms(now),
            at
        ])?;
    if inserted == 1 {
        return Ok((id, true));
    }
    let existing: String = conn.row(
        "SELECT id FROM webhook_deliveries WHERE endpoint_id = ?1 AND event_id = ?2",
        params![endpoint_id, mapped.event.id],
        |r| r.get(0),
    )?;
    Ok((existing, false))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DispatchOutcome {
    pub examined: usize,
    pub created: usize,
    /// No more events after the cursor (as far as this transaction sees).
    pub caught_up: bool,
}

/// One dispatch pass over at most `limit` events after the cursor, in the writer's transaction: the
/// delivery rows and the cursor commit together, so a crash either keeps both or neither.
pub fn dispatch_in(conn: &Connection, now: OffsetDateTime, limit: i64) -> AppResult<DispatchOutcome> {
    let Some(start) = dispatch_floor(conn)? else {
        return Ok(DispatchOutcome { caught_up: true, ..Default::default() });
    };
    let targets = enabled_targets(conn)?;
    let events = load_events(conn, start, limit)?;
    let mut outcome = DispatchOutcome { examined: events.len(), created: 0, caught_up: (events.len() as i64) < limit };
    for source in &events {
        for mapped in map_event(conn, source)? {
            for target in targets.iter().filter(|t| t.wants(source, &mapped)) {
                if enqueue(conn, &target.id, source, &mapped, now)?.1 {
                    outcome.created += 1;
                }
            }
        }
    }
    let last = events.last().map(|e| e.seq).unwrap_or(start);
    set_cursor(conn, last)?;
    Ok(outcome)
}

fn set_cursor(conn: &Connection, last: i64) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO webhook_outbox_cursor (name, last_seq) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)",
    )?
    .execute(params![CURSOR, last])?;
    Ok(())
}

/// Whether an event of this type can announce anything (the others never produce a delivery).
fn may_announce(event_type: &str) -> bool {
    event_type.starts_with("Session")
        || event_type.starts_with("Case")
        || (event_type.starts_with("Identity") && !event_type.starts_with("IdentityType"))
        || event_type.starts_with("WebhookEndpoint")
        || matches!(event_type, "DocumentExtracted" | "DocumentChecked" | "CheckMonitoringHitsFound")
        || event_type == crate::domain::verifyhq::DOCUMENT_ASSESSED
        || event_type == crate::domain::verifyhq::LIVENESS_DECIDED
}

/// Called by the writer for each appended event, right after it is projected and in the same
/// transaction: the views hold exactly the state as of this event, so the delivery rows created here
/// carry that state, never a later one. Then, when dispatch had caught up to just before this event, the
/// cursor moves past it (dispatch has nothing left to do for it).
pub fn on_append(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let Some(floor) = dispatch_floor(conn)? else { return Ok(()) };
    if may_announce(&event.event_type) {
        let now = crate::clock::parse(&event.recorded_at).unwrap_or_else(OffsetDateTime::now_utc);
        let targets = enabled_targets(conn)?;
        for mapped in map_event(conn, event)? {
            for target in targets.iter().filter(|t| t.wants(event, &mapped)) {
                enqueue(conn, &target.id, event, &mapped, now)?;
            }
        }
    }
    if floor >= event.seq - 1 {
        set_cursor(conn, event.seq)?;
    }
    Ok(())
}

/// Enqueues the deliveries of one just-appended event right away (the test event, so its delivery id
/// can be answered). Dispatch meets the same event later and finds the rows already there.
pub fn enqueue_now(conn: &Connection, source: &StoredEvent, now: OffsetDateTime) -> AppResult<Vec<(String, String)>> {
    let targets = enabled_targets(conn)?;
    let mut out = Vec::new();
    for mapped in map_event(conn, source)? {
        for target in targets.iter().filter(|t| t.wants(source, &mapped)) {
            out.push((target.id.clone(), enqueue(conn, &target.id, source, &mapped, now)?.0));
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------ sending side

/// A delivery whose next attempt is due, with what the attempt needs.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: String,
    pub endpoint_id: String,
    pub environment: String,
    pub url: String,
    pub attempts: u32,
    pub event_id: String,
    pub event_type: String,
    pub event_data: String,
    pub event_created_at: String,
    pub api_version: Option<String>,
    pub key_inflection: String,
    pub attribute_blocklist: String,
    pub secret_sealed: String,
    /// The endpoint's dialect (`None`: Verifa).
    pub dialect: Option<String>,
}

/// Deliveries due at `now_ms` on enabled endpoints, oldest due first. (A disabled endpoint's
/// deliveries wait; they resume when it is enabled again.)
pub fn due<C: Reads + ?Sized>(conn: &C, now_ms: i64, limit: i64) -> AppResult<Vec<DueDelivery>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.endpoint_id, d.environment, e.url, d.attempts, d.event_id, d.event_type, d.event_data,
                d.event_created_at, e.api_version, e.key_inflection, e.attribute_blocklist, e.secret_sealed, e.dialect
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.next_attempt_at IS NOT NULL AND d.next_attempt_at <= ?1 AND e.enabled = 1
         ORDER BY d.next_attempt_at, d.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now_ms, limit], |r| {
        Ok(DueDelivery {
            id: r.get(0)?,
            endpoint_id: r.get(1)?,
            environment: r.get(2)?,
            url: r.get(3)?,
            attempts: r.get(4)?,
            event_id: r.get(5)?,
            event_type: r.get(6)?,
            event_data: r.get(7)?,
            event_created_at: r.get(8)?,
            api_version: r.get(9)?,
            key_inflection: r.get(10)?,
            attribute_blocklist: r.get(11)?,
            secret_sealed: r.get(12)?,
            dialect: r.get(13)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// The circuit breaker tripped: this endpoint failed `consecutive_failures` deliveries in a row and
/// must be disabled (by its command, which appends the event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerTripped {
    pub environment: String,
    pub endpoint_id: String,
    pub consecutive_failures: u32,
    pub at: String,
}

/// What recording an attempt did to the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Delivered,
    /// Scheduled again at this unix ms.
    Retrying(i64),
    /// All retries used (or a manual retry failed); `true` when this disabled the endpoint.
    Failed(bool),
    /// Someone else recorded this attempt number first (or the delivery is final); nothing changed.
    Stale,
}

fn health_epoch(conn: &Connection, endpoint_id: &str) -> AppResult<Option<i64>> {
    Ok(conn.row("SELECT enabled_seq FROM webhook_endpoints WHERE id = ?1", [endpoint_id], |r| r.get(0)).optional()?)
}

/// Counts one more failed delivery in the endpoint's current enabled period; returns the count.
fn count_failed_delivery(conn: &Connection, endpoint_id: &str, at: &str) -> AppResult<u32> {
    let Some(epoch) = health_epoch(conn, endpoint_id)? else { return Ok(0) };
    conn.exec(
        "INSERT INTO webhook_endpoint_health (endpoint_id, epoch_seq, consecutive_failures, last_failure_at)
         VALUES (?1, ?2, 1, ?3)
         ON CONFLICT (endpoint_id) DO UPDATE SET
            consecutive_failures = CASE WHEN epoch_seq = excluded.epoch_seq THEN consecutive_failures + 1 ELSE 1 END,
            epoch_seq = excluded.epoch_seq, last_failure_at = excluded.last_failure_at",
        params![endpoint_id, epoch, at],
    )?;
    Ok(conn.row(
        "SELECT consecutive_failures FROM webhook_endpoint_health WHERE endpoint_id = ?1",
        [endpoint_id],
        |r| r.get(0),
    )?)
}

fn count_success(conn: &Connection, endpoint_id: &str, at: &str) -> AppResult<()> {
    let Some(epoch) = health_epoch(conn, endpoint_id)? else { return Ok(()) };
    conn.prepare_cached(
        "INSERT INTO webhook_endpoint_health (endpoint_id, epoch_seq, consecutive_failures, last_success_at)
         VALUES (?1, ?2, 0, ?3)
         ON CONFLICT (endpoint_id) DO UPDATE SET consecutive_failures = 0, epoch_seq = excluded.epoch_seq,
            last_success_at = excluded.last_success_at",
    )?
    .execute(params![endpoint_id, epoch, at])?;
    Ok(())
}

/// Records attempt number `attempt` of a delivery (made at `attempted_at`, finished by `now`) and moves
/// the delivery on: delivered, retried per the policy, or failed. A failure that trips the breaker is
/// returned for the caller to act on (`Recorded::Failed(false)` until then).
pub fn record_attempt_in(
    conn: &Connection,
    delivery_id: &str,
    attempt: u32,
    result: &AttemptResult,
    attempted_at: OffsetDateTime,
    now: OffsetDateTime,
) -> AppResult<(Recorded, Option<BreakerTripped>)> {
    let row: Option<(String, u32, bool, String, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT d.status, d.attempts, d.manual_retry, d.endpoint_id, d.environment, e.dialect
             FROM webhook_deliveries d LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ?1",
        )?
        .query_row([delivery_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()?;
    let Some((status, attempts, manual, endpoint_id, environment, dialect)) = row else {
        return Ok((Recorded::Stale, None));
    };
    if attempts + 1 != attempt || !(status == STATUS_PENDING || status == STATUS_RETRYING) {
        return Ok((Recorded::Stale, None));
    }
    let mut breaker = None;
    let at = crate::clock::format(now);
    conn.prepare_cached(
        "INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, status_code, latency_ms, error,
            response_excerpt, manual)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        delivery_id,
        attempt,
        crate::clock::format(attempted_at),
        result.status,
        i64::try_from(result.latency_ms).unwrap_or(i64::MAX),
        result.error,
        result.response_excerpt,
        manual
    ])?;
    let (new_status, next, recorded) = if result.succeeded() {
        count_success(conn, &endpoint_id, &at)?;
        (STATUS_DELIVERED, None, Recorded::Delivered)
    } else {
        let after = match dialect.as_deref() {
            Some(dom::VERIFYHQ_DIALECT) => match crate::domain::verifyhq::webhook_retry_delay(attempt) {
                Some(delay) => AfterFailure::RetryIn(delay),
                None => AfterFailure::GiveUp,
            },
            _ => after_failed_attempt(attempt),
        };
        match (manual, after) {
            (false, AfterFailure::RetryIn(delay)) => {
                let next = unix_ms(now) + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                (STATUS_RETRYING, Some(next), Recorded::Retrying(next))
            }
            // A manual retry is one attempt; its failure does not count towards the breaker again.
            (true, _) => (STATUS_FAILED, None, Recorded::Failed(false)),
            (false, AfterFailure::GiveUp) => {
                let failures = count_failed_delivery(conn, &endpoint_id, &at)?;
                if should_disable(failures) {
                    breaker = Some(BreakerTripped {
                        environment: environment.clone(),
                        endpoint_id: endpoint_id.clone(),
                        consecutive_failures: failures,
                        at: at.clone(),
                    });
                }
                (STATUS_FAILED, None, Recorded::Failed(false))
            }
        }
    };
    let final_at = if next.is_none() { Some(at.clone()) } else { None };
    conn.prepare_cached(
            "UPDATE webhook_deliveries SET status = ?1, attempts = ?2, next_attempt_at = ?3, last_status_code = ?4,
                last_error = ?5, updated_at = ?6, completed_at = ?7, manual_retry = CASE WHEN ?3 IS NULL THEN 0 ELSE manual_retry END
             WHERE id = ?8",
        )?
        .execute(params![new_status, attempt, next, result.status, result.error, at, final_at, delivery_id])?;
    Ok((recorded, breaker))
}

/// Finished deliveries (and their attempts) are kept this long, then pruned.
pub const DELIVERY_RETENTION: time::Duration = time::Duration::days(30);
/// Rows removed per prune transaction (the writer is shared; keep its transactions short).
const PRUNE_BATCH: i64 = 5000;

/// Removes deliveries finished before `now - DELIVERY_RETENTION` and everything of deleted endpoints
/// (at most [`PRUNE_BATCH`] deliveries); returns the deliveries removed.
pub fn prune_in(conn: &Connection, now: OffsetDateTime) -> AppResult<usize> {
    let cutoff = crate::clock::format(now - DELIVERY_RETENTION);
    // The same ordered selection twice in one transaction: the first statement does not change it.
    let doomed = "SELECT id FROM webhook_deliveries
         WHERE (completed_at IS NOT NULL AND completed_at < ?1)
            OR NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = endpoint_id)
         ORDER BY id LIMIT ?2";
    conn.exec(&format!("DELETE FROM webhook_attempts WHERE delivery_id IN ({doomed})"), params![cutoff, PRUNE_BATCH])?;
    let removed =
        conn.exec(&format!("DELETE FROM webhook_deliveries WHERE id IN ({doomed})"), params![cutoff, PRUNE_BATCH])?;
    conn.exec(
        "DELETE FROM webhook_endpoint_health
         WHERE NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = webhook_endpoint_health.endpoint_id)",
        [],
    )?;
    Ok(removed)
}

/// Manual retry of a failed delivery: one more attempt, now.
pub fn schedule_manual_retry_in(
    conn: &Connection,
    environment: &str,
    endpoint_id: &str,
    delivery_id: &str,
    now: OffsetDateTime,
) -> AppResult<()> {
    let row: Option<(String, bool)> = conn
        .row(
            "SELECT d.status, e.enabled FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
             WHERE d.id = ?1 AND d.endpoint_id = ?2 AND e.environment = ?3",
            params![delivery_id, endpoint_id, environment],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((status, enabled)) = row else { return Err(AppError::not_found("Webhook delivery")) };
    match status.as_str() {
        STATUS_FAILED => {}
        STATUS_DELIVERED => return Err(AppError::Conflict("This delivery has already succeeded.".into())),
        _ => return Err(AppError::Conflict("This delivery is already scheduled for another attempt.".into())),
    }
    if !enabled {
        return Err(AppError::invalid_state(
            "This webhook endpoint is disabled; enable it (PATCH enabled=true) before retrying a delivery.",
        ));
    }
    conn.exec(
        "UPDATE webhook_deliveries SET status = ?1, manual_retry = 1, next_attempt_at = ?2, completed_at = NULL,
            updated_at = ?3 WHERE id = ?4",
        params![STATUS_RETRYING, unix_ms(now), crate::clock::format(now), delivery_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outlook_sees_enabled_endpoints_and_events_past_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::store::open_writer(&dir.path().join("idv.db"), crate::store::Durability::Normal).unwrap();
        let none = DispatchOutlook { endpoints_enabled: false, pending: false };
        assert_eq!(dispatch_outlook(&conn).unwrap(), none);
        let endpoint = |id: &str, enabled: i64| {
            conn.execute(
                "INSERT INTO webhook_endpoints (id, environment, url, enabled, enabled_events, attribute_blocklist,
                     key_inflection, secret_sealed, enabled_seq, created_at, updated_at)
                 VALUES (?1, 'live', 'http://127.0.0.1:9/hook', ?2, '[]', '[]', 'snake', 'x', 0, 'now', 'now')",
                rusqlite::params![id, enabled],
            )
            .unwrap();
        };
        endpoint("whe_off", 0);
        assert_eq!(dispatch_outlook(&conn).unwrap(), none, "a disabled endpoint receives nothing");
        endpoint("whe_on", 1);
        let caught_up = DispatchOutlook { endpoints_enabled: true, pending: false };
        assert_eq!(dispatch_outlook(&conn).unwrap(), caught_up, "no event past the floor yet");
        conn.execute(
            "INSERT INTO events (seq, event_id, stream_id, stream_seq, event_type, event_version, payload,
                 recorded_at, actor, environment, prev_hash, hash)
             VALUES (1, 'evt_1', 'idn_1', 1, 'IdentityCreated', 1, '{}', 'now', 'test', 'live', x'00', x'00')",
            [],
        )
        .unwrap();
        assert_eq!(dispatch_outlook(&conn).unwrap(), DispatchOutlook { endpoints_enabled: true, pending: true });
    }
}
