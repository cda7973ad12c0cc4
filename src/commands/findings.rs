//! Finding commands: acknowledge and dismiss (spec §1.4.1). The finding's state comes from its view row;
//! `domain::finding::decide` says what follows. A screening hit is dismissed through the check's one
//! dismissal path (as `POST /checks/{id}/dismiss`), a list match is marked a false positive through the
//! lists' one path and the finding records the reason, any other finding records the dismissal itself.
//! Notes and reasons are sealed under the finding's own data key (minted on first use), or the check's key
//! owner for a hit. Must not render responses.

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
use rusqlite::{params, Connection, OptionalExtension};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn load_state(conn: &Connection, environment: &str, id: &str) -> AppResult<Option<FindingState>> {
    let row: Option<(String, i64, String, String, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT id, stream_seq, kind, status, source_id, check_id FROM findings
             WHERE id = ?1 AND environment = ?2",
        )?
        .query_row([id, environment], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .optional()?;
    let Some((id, version, kind, status, source_id, check_id)) = row else { return Ok(None) };
    let stored = |what: &str, text: &str| AppError::Internal(format!("stored finding has an unknown {what}: {text}"));
    Ok(Some(FindingState {
        kind: FindingKind::from_stored(&kind).ok_or_else(|| stored("kind", &kind))?,
        status: FindingStatus::from_stored(&status).ok_or_else(|| stored("status", &status))?,
        id,
        version,
        source_id,
        check_id,
    }))
}

fn require(conn: &Connection, environment: &str, id: &str) -> AppResult<FindingState> {
    load_state(conn, environment, id)?.ok_or_else(|| AppError::not_found("Finding"))
}

/// Seals reviewer text under the finding's own key, minting it the first time (the text may name the
/// person the finding is about).
fn seal(w: &WriteCtx<'_>, finding_id: &str, field: &str, text: &str) -> AppResult<String> {
    let key = match data_key(w.conn, w.keyring, finding_id)? {
        Some(key) => key,
        None => {
            let (key, wrapped) = w.keyring.new_data_key(finding_id);
            w.conn
                .prepare_cached("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)")?
                .execute(params![finding_id, wrapped])?;
            key
        }
    };
    Ok(B64.encode(key.seal(finding_id, field, text)))
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
            let note = match (&note, state.status) {
                (Some(n), FindingStatus::Open) => Some(seal(w, &state.id, "acknowledgement_note", n)?),
                _ => None,
            };
            let evs = dom::decide(&state, FindingCommand::Acknowledge { note }, &meta.ctx())?;
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
            let planned = dom::decide(&state, FindingCommand::Dismiss { reason: String::new() }, &meta.ctx())?;
            match dom::dismissal_route(&state) {
                DismissalRoute::CheckHit { check_id, hit_id } => {
                    let check = super::checks::require(w.conn, &meta.environment, &check_id)?;
                    super::checks::dismiss_in(w, &meta, &check, &dismissal_id, Some(vec![hit_id]), Some(&reason))?;
                }
                DismissalRoute::ListMatch { match_id } => {
                    super::lists::mark_false_positive_in(w, &meta, &match_id, None)?;
                    let sealed = seal(w, &state.id, "dismissal_reason", &reason)?;
                    emit(w, &meta, &state, with_reason(planned, sealed))?;
                }
                DismissalRoute::Finding => {
                    let sealed = seal(w, &state.id, "dismissal_reason", &reason)?;
                    emit(w, &meta, &state, with_reason(planned, sealed))?;
                }
            }
            Ok(FindingId::from_stored(state.id))
        })
        .await
}

/// The decided events with the sealed reason in place of the placeholder.
fn with_reason(evs: Vec<FindingEvent>, sealed: String) -> Vec<FindingEvent> {
    evs.into_iter()
        .map(|e| match e {
            FindingEvent::Dismissed(_) => FindingEvent::Dismissed(dom::Dismissed { reason: sealed.clone() }),
            other => other,
        })
        .collect()
}
