//! The reviewer dashboard's page reads: the queue (tab counts, one filtered page of cases, reviewer
//! names), everything a case page shows in one read (the case, its notes, the person's data from the
//! session and the identity, the session's documents, the identity's screening checks with their hits,
//! its relationship graph and audit timeline, the dual-review setting), and one document's decrypted
//! bytes for a case. Assembles the other query modules' reads; opens sealed values for the response only.
//! Must not write, and must not keep plaintext anywhere but in the returned values.

use super::cases::{self, CaseCounts, CaseFilter, CaseNote, CaseView};
use super::checks::{self, CheckView, ListFilter};
use super::events::{self, EventFilter};
use super::identities;
use super::relationships::{self, GraphQuery, GraphView};
use super::{OffsetPage, Page};
use crate::crypto::Keyring;
use crate::domain::ids::{CaseId, SessionId};
use crate::error::{AppError, AppResult};
use crate::store::ReadOnly;
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;

/// Org users' display names by id, to show reviewers by name.
pub type ReviewerNames = BTreeMap<String, String>;

fn reviewer_names(conn: &ReadOnly, keyring: &Keyring) -> AppResult<ReviewerNames> {
    let users = super::users::list(conn, keyring, Page { limit: 500, offset: 0 })?;
    Ok(users.data.into_iter().map(|u| (u.id.to_string(), u.name)).collect())
}

/// The queue page: counts per tab, one page of cases and who is who.
pub struct QueuePage {
    pub counts: CaseCounts,
    pub cases: OffsetPage<CaseView>,
    pub reviewers: ReviewerNames,
}

pub fn queue(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    reviewer_id: &str,
    filter: &CaseFilter,
    page: Page,
    now: &str,
) -> AppResult<QueuePage> {
    Ok(QueuePage {
        counts: cases::counts(conn, environment, Some(reviewer_id))?,
        cases: cases::list(conn, keyring, environment, filter, page, now)?,
        reviewers: reviewer_names(conn, keyring)?,
    })
}

/// One uploaded document of the case's session (its bytes come from `document`).
pub struct DocumentMeta {
    pub doc_type: String,
    pub mime_type: String,
    pub size_bytes: i64,
}

/// One entry of the case page's timeline: the identity's and the case's audit entries, newest first.
pub struct TimelineEntry {
    pub at: String,
    pub action: String,
    pub actor: String,
    pub resource_type: String,
    pub resource_id: String,
    pub sequence_num: i64,
}

/// Everything the case page shows.
pub struct CasePage {
    pub case: CaseView,
    pub notes: Vec<CaseNote>,
    /// The person's data as read from the session (its result's extracted data).
    pub session_data: BTreeMap<String, String>,
    /// The identity's current data (after any correction); empty without an identity.
    pub identity_data: BTreeMap<String, String>,
    pub identity_status: Option<String>,
    pub external_ref: Option<String>,
    /// Documents of the session, while they may still be shown (none past retention).
    pub documents: Vec<DocumentMeta>,
    /// Screening checks of the identity (or of the session without one), newest first.
    pub screening: Vec<CheckView>,
    pub graph: Option<GraphView>,
    pub timeline: Vec<TimelineEntry>,
    pub reviewers: ReviewerNames,
    pub dual_review: bool,
}

fn session_documents(conn: &ReadOnly, session_id: &str) -> AppResult<Vec<DocumentMeta>> {
    let retention: Option<String> =
        conn.query_row("SELECT retention_status FROM sessions WHERE id = ?1", [session_id], |r| r.get(0)).optional()?;
    if retention.as_deref() != Some("active") {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT doc_type, mime_type, size_bytes FROM session_documents WHERE session_id = ?1 ORDER BY doc_type",
    )?;
    let rows = stmt.query_map([session_id], |r| {
        Ok(DocumentMeta { doc_type: r.get(0)?, mime_type: r.get(1)?, size_bytes: r.get(2)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn timeline(
    conn: &ReadOnly,
    environment: &str,
    case_id: &str,
    identity_id: Option<&str>,
) -> AppResult<Vec<TimelineEntry>> {
    let page = Page { limit: 60, offset: 0 };
    let f = EventFilter { resource_id: Some(case_id.to_string()), ..EventFilter::default() };
    let mut out: Vec<TimelineEntry> = events::list(conn, environment, &f, page)?
        .data
        .into_iter()
        .map(|e| TimelineEntry {
            at: e.created_at,
            action: e.kind,
            actor: e.actor,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            sequence_num: e.sequence_num,
        })
        .collect();
    if let Some(identity) = identity_id {
        for e in identities::audit_log(conn, identity, page)?.data {
            if out.iter().any(|o| o.sequence_num == e.sequence_num) {
                continue;
            }
            out.push(TimelineEntry {
                at: e.created_at,
                action: e.action,
                actor: e.actor,
                resource_type: e.resource_type,
                resource_id: e.resource_id,
                sequence_num: e.sequence_num,
            });
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.sequence_num));
    out.truncate(80);
    Ok(out)
}

pub fn case_page(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &CaseId, now: &str) -> AppResult<CasePage> {
    let case = cases::get(conn, keyring, environment, id.as_str(), now)?;
    let notes = cases::notes(conn, keyring, environment, id)?;
    let session_id = case.session_id.clone();
    let session_data = match &session_id {
        Some(s) => match super::sessions::result(conn, keyring, environment, s) {
            Ok(r) => r.extracted_data,
            Err(AppError::NotFound(_)) => BTreeMap::new(),
            Err(e) => return Err(e),
        },
        None => BTreeMap::new(),
    };
    let documents = match &session_id {
        Some(s) => session_documents(conn, s)?,
        None => Vec::new(),
    };
    let identity = match &case.identity_id {
        Some(i) => Some(identities::get(conn, keyring, environment, i)?),
        None => None,
    };
    let screening_filter = match (&identity, &session_id) {
        (Some(i), _) => Some(ListFilter { identity_id: Some(i.id.clone()), ..ListFilter::default() }),
        (None, Some(s)) => {
            Some(ListFilter { session_id: Some(SessionId::from_stored(s.clone())), ..ListFilter::default() })
        }
        (None, None) => None,
    };
    let screening = match screening_filter {
        Some(f) => checks::list(conn, keyring, environment, &f, Page { limit: 20, offset: 0 })?.data,
        None => Vec::new(),
    };
    let graph = match &identity {
        Some(i) => Some(relationships::graph(conn, i.id.as_str(), &GraphQuery { depth: 2, ..GraphQuery::default() })?),
        None => None,
    };
    let timeline = timeline(conn, environment, id.as_str(), identity.as_ref().map(|i| i.id.as_str()))?;
    Ok(CasePage {
        notes,
        session_data,
        identity_data: identity.as_ref().and_then(|i| i.extracted_data.clone()).unwrap_or_default(),
        identity_status: identity.as_ref().map(|i| i.status.clone()),
        external_ref: identity.as_ref().and_then(|i| i.external_ref.clone()),
        documents,
        screening,
        graph,
        timeline,
        reviewers: reviewer_names(conn, keyring)?,
        dual_review: super::settings::retention(conn, environment)?.dual_review,
        case,
    })
}

/// The decrypted bytes and content type of one document of case `id`'s session, in `environment`.
/// 404 when the case is not this environment's, has no session or no such document; 410 past retention.
pub fn document(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id: &CaseId,
    doc_type: &str,
) -> AppResult<(String, Vec<u8>)> {
    let session: Option<Option<String>> = conn
        .query_row(
            "SELECT session_id FROM cases WHERE id = ?1 AND environment = ?2",
            params![id.as_str(), environment],
            |r| r.get(0),
        )
        .optional()?;
    let session = session.flatten().ok_or_else(|| AppError::not_found("Document"))?;
    super::sessions::session_document(conn, keyring, &session, doc_type)
}
