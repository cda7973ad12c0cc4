//! Finding commands: acknowledge and dismiss (spec §1.4.1). The finding's state comes from its view row;
//! `domain::finding::decide` says what follows. A screening hit is dismissed through the check's one
//! dismissal path (as `POST /checks/{id}/dismiss`), a list match is marked a false positive through the
//! lists' one path and the finding records the reason, any other finding records the dismissal itself.
//! Notes and reasons are sealed, bound to the finding, under the data key of whose personal data the finding
//! is about (a hit's check key owner, else its session), so erasing that data erases them too. Must not
//! render responses.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::domain::finding::{
    self as dom, DismissalRoute, FindingCommand, FindingEvent, FindingKind, FindingState, FindingStatus,
};
use crate::domain::ids::{self, FindingId};
use crate::error::{AppError, AppResult};
use crate::store::events::NewEvent;
use crate::store::subject_keys::data_key;
use base64::Engine;
use rusqlite::{Connection, OptionalExtension};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn load_state(conn: &Connection, environment: &str, id: &str) -> AppResult<Option<FindingState>> {
    type Row = (String, i64, String, String, String, Option<String>, Option<String>);
    let row: Option<Row> = conn
        .prepare_cached(
            "SELECT id, stream_seq, kind, status, source_id, check_id, session_id FROM findings
             WHERE id = ?1 AND environment = ?2",
        )?
        .query_row([id, environment], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .optional()?;
    let Some((id, version, kind, status, source_id, check_id, session_id)) = row else { return Ok(None) };
    let stored = |what: &str, text: &str| AppError::Internal(format!("stored finding has an unknown {what}: {text}"));
    Ok(Some(FindingState {
        kind: FindingKind::from_stored(&kind).ok_or_else(|| stored("kind", &kind))?,
        status: FindingStatus::from_stored(&status).ok_or_else(|| stored("status", &status))?,
        id,
        version,
        source_id,
        check_id,
        session_id,
    }))
}

fn require(conn: &Connection, environment: &str, id: &str) -> AppResult<FindingState> {
    load_state(conn, environment, id)?.ok_or_else(|| AppError::not_found("Finding"))
}

/// Seals reviewer text (it may name the person) bound to the finding, under the key of whose personal data
/// the finding is about: a hit's check key owner (its identity, else the check), else its session. Returns
/// the sealed text and that key owner's id.
fn seal(w: &WriteCtx<'_>, state: &FindingState, field: &str, text: &str) -> AppResult<(String, String)> {
    let owner = match (&state.check_id, &state.session_id) {
        (Some(check), _) => {
            let owner: Option<String> = w
                .conn
                .prepare_cached("SELECT key_owner FROM checks WHERE id = ?1")?
                .query_row([check], |r| r.get(0))
                .optional()?;
            owner.ok_or_else(|| AppError::Internal(format!("finding {} names no stored check", state.id)))?
        }
        (None, Some(session)) => session.clone(),
        (None, None) => return Err(AppError::Internal(format!("finding {} has no subject", state.id))),
    };
    let key = data_key(w.conn, w.keyring, &owner)?.ok_or_else(|| {
        AppError::Conflict("The personal data this finding is about has been erased: no note can be kept.".into())
    })?;
    Ok((B64.encode(key.seal(&state.id, field, text)), owner))
}

fn emit(w: &mut WriteCtx<'_>, meta: &CommandMeta, state: &FindingState, evs: Vec<FindingEvent>) -> AppResult<()> {
    if evs.is_empty() {
        return Ok(());
    }
    let new: Vec<NewEvent> = evs
        .iter()
        .map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() })
        .collect();
    w.emit(&meta.event_meta(), &state.id, state.version, new)?;
    Ok(())
}

/// Marks a finding as looked at, with an optional note. Acknowledging it again changes nothing.
pub async fn acknowledge(
    writer: &Writer,
    meta: CommandMeta,
    id: FindingId,
    note: Option<String>,
) -> AppResult<FindingId> {
    writer
        .execute(move |w| {
            let state = require(w.conn, &meta.environment, id.as_str())?;
            let (note, key_owner) = match (&note, state.status) {
                (Some(n), FindingStatus::Open) => {
                    let (sealed, owner) = seal(w, &state, "acknowledgement_note", n)?;
                    (Some(sealed), Some(owner))
                }
                _ => (None, None),
            };
            let evs = dom::decide(&state, FindingCommand::Acknowledge { note, key_owner }, &meta.ctx())?;
            emit(w, &meta, &state, evs)?;
            Ok(FindingId::from_stored(state.id))
        })
        .await
}

/// Dismisses a finding with a reason, through the one path that dismisses what it is about.
pub async fn dismiss(writer: &Writer, meta: CommandMeta, id: FindingId, reason: String) -> AppResult<FindingId> {
    let dismissal_id = ids::new_id(ids::DISMISSAL);
    writer
        .execute(move |w| {
            let state = require(w.conn, &meta.environment, id.as_str())?;
            // Refusals (already dismissed, resolved) come before anything is sealed or written.
            let placeholder = FindingCommand::Dismiss { reason: String::new(), key_owner: String::new() };
            let planned = dom::decide(&state, placeholder, &meta.ctx())?;
            match dom::dismissal_route(&state) {
                DismissalRoute::CheckHit { check_id, hit_id } => {
                    let check = super::checks::require(w.conn, &meta.environment, &check_id)?;
                    super::checks::dismiss_in(w, &meta, &check, &dismissal_id, Some(vec![hit_id]), Some(&reason))?;
                }
                DismissalRoute::ListMatch { match_id } => {
                    super::lists::mark_false_positive_in(w, &meta, &match_id, None)?;
                    let sealed = seal(w, &state, "dismissal_reason", &reason)?;
                    emit(w, &meta, &state, with_reason(planned, sealed))?;
                }
                DismissalRoute::Finding => {
                    let sealed = seal(w, &state, "dismissal_reason", &reason)?;
                    emit(w, &meta, &state, with_reason(planned, sealed))?;
                }
            }
            Ok(FindingId::from_stored(state.id))
        })
        .await
}

/// The decided events with the sealed reason and its key owner in place of the placeholder.
fn with_reason(evs: Vec<FindingEvent>, (reason, key_owner): (String, String)) -> Vec<FindingEvent> {
    evs.into_iter()
        .map(|e| match e {
            FindingEvent::Dismissed(_) => {
                FindingEvent::Dismissed(dom::Dismissed { reason: reason.clone(), key_owner: key_owner.clone() })
            }
            other => other,
        })
        .collect()
}
