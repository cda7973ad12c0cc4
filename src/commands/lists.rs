//! Custom list commands: create (with the list's own data key), update, archive, add items (one, bulk,
//! CSV rows) and delete them, mark match records as false positives, and record the matches a
//! verification finds (`record_found_in`, called by the session decision for its `check_against_list`
//! policy with the matches gathered beforehand; `record_matches_in` matches and records in one step).
//! Item values, notes and their blind digests are sealed here under the list's data key; must not
//! render responses or let a plaintext value reach an event.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::crypto::Keyring;
use crate::domain::custom_list::{
    self as dom, ItemAdded, ListCommand, ListCreated, ListEvent, ListMatch, ListState, ListType, ListUpdated,
    MatchEvent, MatchMode, MatchRecorded,
};
use crate::domain::ids::{self, ListId, ListItemId, ListMatchId};
use crate::domain::values::{LongText, Title};
use crate::error::{AppError, AppResult, FieldError};
use crate::store::events::NewEvent;
use crate::store::Exec;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub use crate::store::shared_reads::referencing_workflows;
pub use crate::store::subject_keys::{digest, list_key, normalise, open_part};

/// The list in this environment, or None (another environment's list is None too).
pub fn load_list(conn: &Connection, environment: &str, id: &str) -> AppResult<Option<ListState>> {
    let row: Option<(String, i64, String, String, bool, bool)> = conn
        .prepare_cached(
            "SELECT id, stream_seq, list_type, match_mode, is_active, archived_at IS NOT NULL
             FROM custom_lists WHERE id = ?1 AND environment = ?2",
        )?
        .query_row(params![id, environment], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()?;
    row.map(|(id, version, list_type, match_mode, is_active, archived)| {
        let list_type = ListType::parse(&list_type)
            .ok_or_else(|| AppError::Internal(format!("list {id} has an unknown type {list_type}")))?;
        Ok(ListState { id, version, list_type, match_mode, is_active, archived })
    })
    .transpose()
}

fn require_list(conn: &Connection, environment: &str, id: &str) -> AppResult<ListState> {
    load_list(conn, environment, id)?.ok_or_else(|| AppError::not_found("List"))
}

fn emit(w: &mut WriteCtx<'_>, meta: &CommandMeta, stream: &str, version: i64, evs: Vec<ListEvent>) -> AppResult<()> {
    if evs.is_empty() {
        return Ok(());
    }
    let new: Vec<NewEvent> = evs
        .iter()
        .map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() })
        .collect();
    w.emit(&meta.event_meta(), stream, version, new)?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct CreateList {
    pub name: Title,
    pub list_type: ListType,
    pub match_mode: MatchMode,
    pub description: Option<LongText>,
}

pub async fn create(writer: &Writer, keyring: Arc<Keyring>, meta: CommandMeta, input: CreateList) -> AppResult<ListId> {
    let id = ListId::new().into_string();
    let created = ListCreated {
        name: input.name.into_string(),
        list_type: input.list_type.as_str().to_string(),
        match_mode: input.match_mode.as_str().to_string(),
        description: input.description.map(LongText::into_string),
    };
    // Validated before the key is made, so a refused list leaves nothing behind.
    let evs = dom::decide(None, ListCommand::Create(created))?;
    let (key, wrapped) = keyring.new_data_key(&id);
    drop(key);
    writer
        .execute(move |w| {
            w.conn
                .prepare_cached("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)")?
                .execute(params![id, wrapped])?;
            emit(w, &meta, &id, 0, evs)?;
            Ok(ListId::from_stored(id))
        })
        .await
}

/// The changes of a list update; `None` leaves a field as it is, `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UpdateList {
    pub name: Option<Title>,
    pub description: Option<Option<LongText>>,
    pub match_mode: Option<MatchMode>,
    pub is_active: Option<bool>,
}

pub async fn update(writer: &Writer, meta: CommandMeta, id: ListId, input: UpdateList) -> AppResult<ListId> {
    let update = ListUpdated {
        name: input.name.map(Title::into_string),
        description: input.description.map(|d| d.map(LongText::into_string)),
        match_mode: input.match_mode.map(|m| m.as_str().to_string()),
        is_active: input.is_active,
    };
    writer
        .execute(move |w| {
            let s = require_list(w.conn, &meta.environment, id.as_str())?;
            let evs = dom::decide(Some(&s), ListCommand::Update(update))?;
            emit(w, &meta, &s.id, s.version, evs)?;
            Ok(ListId::from_stored(s.id))
        })
        .await
}

pub async fn archive(writer: &Writer, meta: CommandMeta, id: ListId) -> AppResult<ListId> {
    writer
        .execute(move |w| {
            let s = require_list(w.conn, &meta.environment, id.as_str())?;
            let referenced_by = referencing_workflows(w.conn, &meta.environment, &s.id, true)?;
            let evs = dom::decide(Some(&s), ListCommand::Archive { referenced_by })?;
            emit(w, &meta, &s.id, s.version, evs)?;
            Ok(ListId::from_stored(s.id))
        })
        .await
}

/// One item as given: its raw `value` object (checked against the list type here) and notes.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub value: Map<String, Value>,
    pub notes: Option<String>,
}

/// How item errors are named: a single item's `value.email`, bulk `items[3].value.email`, CSV
/// `rows[3].email`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    Single,
    Bulk,
    Csv,
}

impl Batch {
    fn field(self, index: usize, field: &str) -> String {
        match self {
            Batch::Single => field.to_string(),
            Batch::Bulk => format!("items[{index}].{field}"),
            Batch::Csv => format!("rows[{index}].{}", field.strip_prefix("value.").unwrap_or(field)),
        }
    }
}

/// Validates every item first (all or nothing, every error named), then seals and appends them.
/// Returns the new item ids in input order.
pub async fn add_items(
    writer: &Writer,
    meta: CommandMeta,
    list_id: ListId,
    items: Vec<NewItem>,
    batch: Batch,
) -> AppResult<Vec<ListItemId>> {
    if items.len() > dom::MAX_BATCH {
        return Err(AppError::validation("items", format!("at most {} items per request", dom::MAX_BATCH)));
    }
    writer
        .execute(move |w| {
            let s = require_list(w.conn, &meta.environment, list_id.as_str())?;
            add_items_in(w, &meta, &s, &items, batch)
        })
        .await
}

/// A CSV import: the header row names the list type's value keys (plus `notes`), at most 1,000 rows.
pub async fn import_csv(
    writer: &Writer,
    meta: CommandMeta,
    list_id: ListId,
    file: Vec<u8>,
) -> AppResult<Vec<ListItemId>> {
    writer
        .execute(move |w| {
            let s = require_list(w.conn, &meta.environment, list_id.as_str())?;
            let rows = dom::parse_csv(s.list_type, &file)?;
            let items: Vec<NewItem> = rows
                .into_iter()
                .map(|(value, notes)| {
                    let value = match value {
                        Value::Object(map) => map,
                        _ => Map::new(),
                    };
                    NewItem { value, notes }
                })
                .collect();
            add_items_in(w, &meta, &s, &items, Batch::Csv)
        })
        .await
}

fn add_items_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &ListState,
    items: &[NewItem],
    batch: Batch,
) -> AppResult<Vec<ListItemId>> {
    if s.archived {
        return Err(AppError::Conflict("This list is archived and can no longer be changed.".into()));
    }
    let today = &meta.now[..10.min(meta.now.len())];
    let mut parsed = Vec::with_capacity(items.len());
    let mut errors: Vec<FieldError> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if let Err(e) = dom::check_notes("notes", &item.notes) {
            errors.push(FieldError::new(batch.field(i, &e.field), e.message));
        }
        match dom::parse_item(s.list_type, &Value::Object(item.value.clone()), today) {
            Ok(p) => parsed.push(p),
            Err(es) => errors.extend(es.into_iter().map(|e| FieldError::new(batch.field(i, &e.field), e.message))),
        }
    }
    if !errors.is_empty() {
        let detail = match batch {
            Batch::Single => format!("{}: {}", errors[0].field, errors[0].message),
            _ => format!("{} invalid field(s); nothing was added.", errors.len()),
        };
        return Err(AppError::Validation { detail, errors });
    }
    let key = list_key(w.conn, w.keyring, &s.id)?;
    let mut added = Vec::with_capacity(parsed.len());
    for (p, item) in parsed.into_iter().zip(items) {
        let item_id = ids::new_id(ids::LIST_ITEM);
        let digests: BTreeMap<&str, String> =
            p.lookups.iter().map(|l| (l.kind, hex::encode(digest(w.keyring, &meta.environment, l)))).collect();
        let seal = |part: &str, text: &str| B64.encode(key.seal(&s.id, &dom::sealed_field(&item_id, part), text));
        let value = seal("value", &serde_json::to_string(&p.value)?);
        let notes = item.notes.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(|n| seal("notes", n));
        let digests = seal("digests", &serde_json::to_string(&digests)?);
        added.push(ItemAdded { item_id, value, notes, digests, scan: p.scan });
    }
    let ids: Vec<ListItemId> = added.iter().map(|a| ListItemId::from_stored(a.item_id.clone())).collect();
    let evs = dom::decide(Some(s), ListCommand::AddItems(added))?;
    emit(w, meta, &s.id, s.version, evs)?;
    Ok(ids)
}

pub async fn delete_item(writer: &Writer, meta: CommandMeta, list_id: ListId, item_id: ListItemId) -> AppResult<()> {
    writer
        .execute(move |w| {
            let s = require_list(w.conn, &meta.environment, list_id.as_str())?;
            let exists: bool = w.conn.row(
                "SELECT EXISTS (SELECT 1 FROM custom_list_items WHERE id = ?1 AND list_id = ?2)",
                params![item_id.as_str(), s.id],
                |r| r.get(0),
            )?;
            let item_id = item_id.into_string();
            let evs = dom::decide(Some(&s), ListCommand::DeleteItem { item_id, exists })?;
            emit(w, &meta, &s.id, s.version, evs)
        })
        .await
}

pub async fn mark_false_positive(
    writer: &Writer,
    meta: CommandMeta,
    match_id: ListMatchId,
    reason: Option<String>,
) -> AppResult<ListMatchId> {
    writer
        .execute(move |w| {
            let match_id = match_id.into_string();
            mark_false_positive_in(w, &meta, &match_id, reason)?;
            Ok(ListMatchId::from_stored(match_id))
        })
        .await
}

/// Inside the writer: marks a list match a false positive (a no-op when it already is). The one path for
/// `POST /lists/matches/{id}/false-positive` and for dismissing the match's finding.
pub(crate) fn mark_false_positive_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    match_id: &str,
    reason: Option<String>,
) -> AppResult<()> {
    let row: Option<bool> = w
        .conn
        .row(
            "SELECT is_false_positive FROM list_matches WHERE id = ?1 AND environment = ?2",
            params![match_id, meta.environment],
            |r| r.get(0),
        )
        .optional()?;
    let already = row.ok_or_else(|| AppError::not_found("List match"))?;
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if let Some(e) = dom::decide_false_positive(already, reason)? {
        let version = crate::store::events::stream_version(w.conn, match_id)?;
        w.emit(&meta.event_meta(), match_id, version, vec![typed_match(&MatchEvent::MarkedFalsePositive(e))])?;
    }
    Ok(())
}

/// One match of a verification and its record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedMatch {
    pub id: String,
    pub is_false_positive: bool,
    pub found: ListMatch,
}

/// What the `check_against_list` policy needs: the outcome over the matches that are not false
/// positives (`blocked` > `flagged` > `allowed` > `clear`) and every match record.
#[derive(Debug, Clone, PartialEq)]
pub struct ListOutcome {
    pub outcome: &'static str,
    pub matches: Vec<RecordedMatch>,
}

impl ListOutcome {
    pub fn blocked(&self) -> bool {
        self.outcome == "blocked"
    }
    pub fn flagged(&self) -> bool {
        self.outcome == "flagged"
    }
    pub fn allowed(&self) -> bool {
        self.outcome == "allowed"
    }

    /// The policy's check result (no values, only ids, modes, fields and scores): `failed` on a block
    /// match, else `passed`; `needs_review` on a flag match; `trusted` on an allow match.
    pub fn check_result(&self) -> Value {
        let matches: Vec<Value> = self
            .matches
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "list_id": m.found.list_id,
                    "list_item_id": m.found.list_item_id,
                    "list_type": m.found.list_type,
                    "match_mode": m.found.match_mode,
                    "score": m.found.score,
                    "matched_field": m.found.matched_field,
                    "is_false_positive": m.is_false_positive,
                })
            })
            .collect();
        let status = if self.blocked() { "failed" } else { "passed" };
        let reason = match self.outcome {
            "blocked" => "matches a blocking list",
            "flagged" => "matches a list that flags for review",
            "allowed" => "matches a list of trusted subjects",
            _ => "no match on the lists checked",
        };
        json!({
            "status": status,
            "sub_checks": [crate::checks::engine::sub_check("lists", status, reason)],
            "outcome": self.outcome,
            "needs_review": self.flagged(),
            "trusted": self.allowed(),
            "match_count": self.matches.iter().filter(|m| !m.is_false_positive).count(),
            "matches": matches,
        })
    }
}

/// Checks a verification subject against the environment's lists (`list_ids`, or every active list)
/// and records each match once per (session, item) as a `ListMatchRecorded` event. Unknown or inactive
/// lists named by a workflow are skipped, not an error. A match already marked as a false positive is
/// kept out of the outcome, so reprocessing a session honours the reviewer's decision.
pub fn record_matches_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    session_id: &str,
    subject: &BTreeMap<String, String>,
    list_ids: Option<&[String]>,
) -> AppResult<ListOutcome> {
    let found = crate::store::shared_reads::check_lenient(w.conn, w.keyring, &meta.environment, subject, list_ids)?;
    record_found_in(w, meta, session_id, found)
}

/// Records matches found outside the transaction (the session pipeline matches before it writes).
pub fn record_found_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    session_id: &str,
    found: Vec<crate::domain::custom_list::ListMatch>,
) -> AppResult<ListOutcome> {
    let mut matches = Vec::with_capacity(found.len());
    for m in found {
        let existing: Option<(String, bool)> = w
            .conn
            .prepare_cached(
                "SELECT id, is_false_positive FROM list_matches WHERE session_id = ?1 AND list_item_id = ?2",
            )?
            .query_row(params![session_id, m.list_item_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (id, is_false_positive) = match existing {
            Some(e) => e,
            None => {
                let id = ids::new_id(ids::LIST_MATCH);
                let recorded = MatchRecorded {
                    session_id: session_id.to_string(),
                    list_id: m.list_id.clone(),
                    list_item_id: m.list_item_id.clone(),
                    list_type: m.list_type.clone(),
                    match_mode: m.match_mode.clone(),
                    score: m.score,
                    matched_field: m.matched_field.clone(),
                    details: m.details.clone(),
                };
                w.emit(&meta.event_meta(), &id, 0, vec![typed_match(&MatchEvent::Recorded(recorded))])?;
                (id, false)
            }
        };
        matches.push(RecordedMatch { id, is_false_positive, found: m });
    }
    let outcome = dom::outcome(matches.iter().filter(|m| !m.is_false_positive).map(|m| m.found.match_mode.as_str()));
    Ok(ListOutcome { outcome, matches })
}

fn typed_match(e: &MatchEvent) -> NewEvent {
    NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() }
}
