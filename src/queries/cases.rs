//! Case reads over the `cases` and `case_notes` views: one case (sealed reviewer text opened with the
//! case's key, the SLA band computed from the time passed in), lists with filters and tabs, search, tab
//! counts and notes. Must not write.

use super::checks::open_sealed;
use super::{OffsetPage, OffsetPagination, Page};
use crate::crypto::{DataKey, Keyring};
use crate::domain::case::sla_band;
use crate::domain::ids::CaseId;
use crate::error::{AppError, AppResult};
use crate::store::subject_keys::data_key;
use crate::store::ReadOnly;
use rusqlite::types::Value as Sql;
use rusqlite::OptionalExtension;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A first-review recommendation (dual review).
#[derive(Debug, Serialize, ToSchema)]
pub struct Recommendation {
    pub decision: String,
    pub reviewer_id: String,
    pub recommended_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Escalation {
    pub escalated_to: Option<String>,
    pub reason: Option<String>,
    pub notes: Option<String>,
    pub escalated_at: Option<String>,
}

/// The session a case reviews, as a reviewer needs it (no personal data).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSession {
    pub id: String,
    pub status: String,
    pub result_status: Option<String>,
    pub external_ref: Option<String>,
    pub identity_id: Option<String>,
    /// The session's check results with their sub-checks.
    #[schema(value_type = Object)]
    pub check_results: Value,
}

/// A review case (spec §1.8.2).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    #[schema(value_type = String, example = "case_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C")]
    pub id: String,
    pub object: &'static str,
    pub session_id: Option<String>,
    pub identity_id: Option<String>,
    /// `open`, `in_review`, `escalated`, `pending_second_review`, `approved`, `rejected`.
    pub status: String,
    /// `approved` or `rejected` once decided.
    pub decision: Option<String>,
    /// The reviewer (`orguser_*`) holding the case.
    pub assigned_to: Option<String>,
    pub claimed_at: Option<String>,
    pub entered_review_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    /// SLA band at the time of the request: green under 4 h in review, yellow under 24 h, red after.
    pub sla: &'static str,
    pub notes: Option<String>,
    pub rejection_reason: Option<String>,
    pub recommendation: Option<Recommendation>,
    pub escalation: Option<Escalation>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    pub tags: Vec<String>,
    /// Overridden checks: `{check_name, reviewer_id, reason, at}`.
    #[schema(value_type = Vec<Object>)]
    pub overrides: Vec<Value>,
    /// PII corrections: `{fields, reviewer_id, reason, at}` (field names only).
    #[schema(value_type = Vec<Object>)]
    pub pii_corrections: Vec<Value>,
    pub is_demo: bool,
    pub is_sandbox: bool,
    pub session: Option<CaseSession>,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "c.id, c.session_id, c.identity_id, c.status, c.decision, c.assigned_to, c.claimed_at,
    c.entered_review_at, c.decided_at, c.decided_by, c.decision_notes, c.rejection_reason, c.recommendation,
    c.recommended_by, c.recommended_at, c.escalated_to, c.escalation_reason, c.escalation_notes, c.escalated_at,
    c.metadata, c.tags, c.overrides, c.pii_corrections, c.is_demo, c.environment, c.created_at, c.updated_at,
    s.status, s.result_status, s.external_ref, s.identity_id, s.result_json";

struct Row(Vec<Sql>);

impl Row {
    fn text(&self, i: usize) -> Option<String> {
        match &self.0[i] {
            Sql::Text(t) => Some(t.clone()),
            _ => None,
        }
    }
    fn str(&self, i: usize) -> String {
        self.text(i).unwrap_or_default()
    }
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    (0..32).map(|i| r.get::<_, Sql>(i)).collect::<Result<Vec<_>, _>>().map(Row)
}

fn hours_between(from: &str, now: &str) -> f64 {
    match (crate::clock::parse(from), crate::clock::parse(now)) {
        (Some(a), Some(b)) => (b - a).as_seconds_f64() / 3600.0,
        _ => 0.0,
    }
}

fn view(row: Row, key: Option<&DataKey>, now: &str) -> CaseView {
    let id = row.str(0);
    let open = |i: usize, field: &str| open_sealed(key, &id, field, row.text(i).as_deref());
    let json_list = |i: usize| serde_json::from_str::<Vec<Value>>(&row.str(i)).unwrap_or_default();
    let open_reasons = |list: Vec<Value>, field: &str| -> Vec<Value> {
        list.into_iter()
            .map(|mut v| {
                let sealed = v["reason"].as_str().map(str::to_string);
                v["reason"] = open_sealed(key, &id, field, sealed.as_deref()).map(Value::String).unwrap_or(Value::Null);
                v
            })
            .collect()
    };
    let status = row.str(3);
    let entered = row.str(7);
    let decided_at = row.text(8);
    // A decided case's band stays where it was when it was decided.
    let until = decided_at.clone().unwrap_or_else(|| now.to_string());
    let session = row.text(1).and_then(|sid| {
        row.text(27).map(|st| CaseSession {
            id: sid,
            status: st,
            result_status: row.text(28),
            external_ref: row.text(29),
            identity_id: row.text(30),
            check_results: row
                .text(31)
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .map(|v| v["check_results"].clone())
                .unwrap_or(Value::Null),
        })
    });
    CaseView {
        session_id: row.text(1),
        identity_id: row.text(2).or_else(|| row.text(30)),
        decision: row.text(4),
        assigned_to: row.text(5),
        claimed_at: row.text(6),
        sla: sla_band(hours_between(&entered, &until)),
        entered_review_at: entered,
        decided_at,
        decided_by: row.text(9),
        notes: open(10, "decision_notes"),
        rejection_reason: open(11, "rejection_reason"),
        recommendation: row.text(12).map(|d| Recommendation {
            decision: d,
            reviewer_id: row.str(13),
            recommended_at: row.text(14),
        }),
        escalation: row.text(18).map(|at| Escalation {
            escalated_to: row.text(15),
            reason: open(16, "escalation_reason"),
            notes: open(17, "escalation_notes"),
            escalated_at: Some(at),
        }),
        metadata: serde_json::from_str(&row.str(19)).unwrap_or_default(),
        tags: serde_json::from_str(&row.str(20)).unwrap_or_default(),
        overrides: open_reasons(json_list(21), "override_reason"),
        pii_corrections: open_reasons(json_list(22), "pii_reason"),
        is_demo: matches!(row.0[23], Sql::Integer(1)),
        is_sandbox: row.str(24) == "sandbox",
        created_at: row.str(25),
        updated_at: row.str(26),
        session,
        object: "case",
        status,
        id: id.clone(),
    }
}

pub fn get(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &str, now: &str) -> AppResult<CaseView> {
    let sql = format!(
        "SELECT {COLUMNS} FROM cases c LEFT JOIN sessions s ON s.id = c.session_id WHERE c.id = ?1 AND c.environment = ?2"
    );
    let row = conn.query_row(&sql, rusqlite::params![id, environment], read_row).optional()?;
    let row = row.ok_or_else(|| AppError::not_found("Case"))?;
    let key = data_key(conn, keyring, id)?;
    Ok(view(row, key.as_ref(), now))
}

/// Filters of a case list (all optional). `tab` is one of the counts' names.
#[derive(Debug, Default, Clone)]
pub struct CaseFilter {
    pub status: Option<String>,
    pub assigned_to: Option<String>,
    pub session_id: Option<String>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub tab: Option<String>,
    /// The reviewer of the `mine` tab.
    pub reviewer_id: Option<String>,
    /// Free text over the case id, session id, identity id, external_ref, reviewer and tags.
    pub q: Option<String>,
}

/// The SQL condition of a tab; the counts count the same cases (`mine`: claimed by the reviewer and not yet
/// decided; `all`: every case, decided ones included).
fn tab_condition(tab: &str) -> &'static str {
    match tab {
        "unassigned" => "c.status = 'open' AND c.assigned_to IS NULL",
        "mine" => "c.assigned_to = ? AND c.status NOT IN ('approved', 'rejected')",
        "pending_second_review" => "c.status = 'pending_second_review'",
        "escalated" => "c.status = 'escalated'",
        _ => "1 = 1",
    }
}

pub fn list(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    f: &CaseFilter,
    page: Page,
    now: &str,
) -> AppResult<OffsetPage<CaseView>> {
    let mut conds = vec!["c.environment = ?".to_string()];
    let mut args: Vec<Sql> = vec![Sql::Text(environment.to_string())];
    let mut push = |cond: &str, v: &Option<String>| {
        if let Some(v) = v {
            conds.push(cond.to_string());
            args.push(Sql::Text(v.clone()));
        }
    };
    push("c.status = ?", &f.status);
    push("c.assigned_to = ?", &f.assigned_to);
    push("c.session_id = ?", &f.session_id);
    push("c.created_at > ?", &f.created_after);
    push("c.created_at < ?", &f.created_before);
    if let Some(tab) = &f.tab {
        conds.push(tab_condition(tab).to_string());
        if tab == "mine" {
            args.push(Sql::Text(f.reviewer_id.clone().unwrap_or_default()));
        }
    }
    if let Some(q) = &f.q {
        conds.push(
            "(c.id LIKE ? ESCAPE '\\' OR c.session_id LIKE ? ESCAPE '\\' OR c.identity_id LIKE ? ESCAPE '\\'
              OR s.external_ref LIKE ? ESCAPE '\\' OR c.assigned_to LIKE ? ESCAPE '\\' OR c.tags LIKE ? ESCAPE '\\')"
                .into(),
        );
        let like = format!("%{}%", super::like_escape(q));
        for _ in 0..6 {
            args.push(Sql::Text(like.clone()));
        }
    }
    let from = format!("FROM cases c LEFT JOIN sessions s ON s.id = c.session_id WHERE {}", conds.join(" AND "));
    let total: i64 =
        conn.query_row(&format!("SELECT COUNT(*) {from}"), rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
    let mut page_args = args.clone();
    page_args.push(Sql::Integer(page.limit));
    page_args.push(Sql::Integer(page.offset));
    let rows: Vec<Row> = conn
        .prepare(&format!("SELECT {COLUMNS} {from} ORDER BY c.entered_review_at, c.id LIMIT ? OFFSET ?"))?
        .query_map(rusqlite::params_from_iter(page_args.iter()), read_row)?
        .collect::<Result<_, _>>()?;
    let mut data = Vec::with_capacity(rows.len());
    for row in rows {
        let key = data_key(conn, keyring, &row.str(0))?;
        data.push(view(row, key.as_ref(), now));
    }
    Ok(OffsetPage { data, pagination: OffsetPagination { total, limit: page.limit, offset: page.offset } })
}

/// Tab counts (spec §1.8.3).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseCounts {
    /// Open cases no reviewer holds.
    pub unassigned: i64,
    /// Active cases held by `reviewer_id` (0 without it).
    pub mine: i64,
    pub pending_second_review: i64,
    pub escalated: i64,
    /// Every case of the environment, decided ones included (what the `all` tab lists).
    pub all: i64,
}

pub fn counts(conn: &ReadOnly, environment: &str, reviewer_id: Option<&str>) -> AppResult<CaseCounts> {
    Ok(conn.query_row(
        "SELECT
            COALESCE(SUM(status = 'open' AND assigned_to IS NULL), 0),
            COALESCE(SUM(assigned_to IS NOT NULL AND assigned_to = ?2 AND status NOT IN ('approved', 'rejected')), 0),
            COALESCE(SUM(status = 'pending_second_review'), 0),
            COALESCE(SUM(status = 'escalated'), 0),
            COUNT(*)
         FROM cases WHERE environment = ?1",
        rusqlite::params![environment, reviewer_id],
        |r| {
            Ok(CaseCounts {
                unassigned: r.get(0)?,
                mine: r.get(1)?,
                pending_second_review: r.get(2)?,
                escalated: r.get(3)?,
                all: r.get(4)?,
            })
        },
    )?)
}

/// A note on a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseNote {
    pub id: String,
    pub case_id: String,
    pub author: Option<String>,
    pub body: Option<String>,
    pub created_at: String,
}

/// A case's notes, oldest first.
pub fn notes(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &CaseId) -> AppResult<Vec<CaseNote>> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM cases WHERE id = ?1 AND environment = ?2",
            rusqlite::params![id.as_str(), environment],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Err(AppError::not_found("Case"));
    }
    let key = data_key(conn, keyring, id.as_str())?;
    let rows: Vec<(String, Option<String>, String, String)> = conn
        .prepare("SELECT id, author, body, created_at FROM case_notes WHERE case_id = ?1 ORDER BY event_seq")?
        .query_map([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows
        .into_iter()
        .map(|(nid, author, body, at)| CaseNote {
            body: open_sealed(key.as_ref(), id.as_str(), "note", Some(&body)),
            id: nid,
            case_id: id.to_string(),
            author,
            created_at: at,
        })
        .collect())
}

/// The case of a session, if it has one (for `POST /cases`).
pub fn exists(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM cases WHERE id = ?1 AND environment = ?2", rusqlite::params![id, environment], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
        .is_some())
}
