//! Projects custom list events into `custom_lists`, `custom_list_items` and `custom_list_digests`, and
//! list match events into `list_matches`. Copies sealed item values and notes as they are; opens only
//! an item's sealed digest set (to write its lookup rows). Must not write any other table.

use crate::crypto::Keyring;
use crate::domain::custom_list::{sealed_field, ListEvent, MatchEvent};
use crate::error::{AppError, AppResult};
use crate::store::events::StoredEvent;
use crate::store::Exec;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;

use super::undecodable;

pub fn apply(conn: &Connection, keyring: &Keyring, event: &StoredEvent) -> AppResult<()> {
    let matched = MatchEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| undecodable(event, e))?;
    match matched {
        Some(MatchEvent::Recorded(e)) => {
            conn.prepare_cached(
                "INSERT INTO list_matches (id, environment, session_id, list_id, list_item_id, list_type, match_mode,
                    score, matched_field, details, is_false_positive, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, ?11)",
            )?
            .execute(params![
                event.stream_id,
                event.environment,
                e.session_id,
                e.list_id,
                e.list_item_id,
                e.list_type,
                e.match_mode,
                e.score,
                e.matched_field,
                serde_json::to_string(&e.details)?,
                event.recorded_at
            ])?;
            return Ok(());
        }
        Some(MatchEvent::MarkedFalsePositive(e)) => {
            conn.exec(
                "UPDATE list_matches SET is_false_positive = 1, false_positive_reason = ?1, marked_at = ?2,
                    marked_by = ?3 WHERE id = ?4",
                params![e.reason, event.recorded_at, event.actor, event.stream_id],
            )?;
            return Ok(());
        }
        None => {}
    }
    let Some(decoded) =
        ListEvent::decode(&event.event_type, event.event_version, &event.payload).map_err(|e| undecodable(event, e))?
    else {
        return Ok(());
    };
    let id = event.stream_id.as_str();
    let at = event.recorded_at.as_str();
    match decoded {
        ListEvent::Created(e) => {
            conn.exec(
                "INSERT INTO custom_lists (id, environment, name, description, list_type, match_mode, is_active,
                    item_count, archived_at, created_at, updated_at, stream_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 0, NULL, ?7, ?7, ?8)",
                params![id, event.environment, e.name, e.description, e.list_type, e.match_mode, at, event.stream_seq],
            )?;
            return Ok(());
        }
        ListEvent::Updated(e) => {
            if let Some(v) = &e.name {
                conn.exec("UPDATE custom_lists SET name = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.description {
                conn.exec("UPDATE custom_lists SET description = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &e.match_mode {
                conn.exec("UPDATE custom_lists SET match_mode = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = e.is_active {
                conn.exec("UPDATE custom_lists SET is_active = ?1 WHERE id = ?2", params![v, id])?;
            }
        }
        ListEvent::Archived => {
            conn.exec("UPDATE custom_lists SET archived_at = ?1, is_active = 0 WHERE id = ?2", params![at, id])?;
        }
        ListEvent::ItemAdded(e) => {
            conn.prepare_cached(
                "INSERT INTO custom_list_items (id, list_id, environment, value, notes, scan, seq, created_by,
                    created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                e.item_id,
                id,
                event.environment,
                e.value,
                e.notes,
                e.scan,
                event.seq,
                event.actor,
                at
            ])?;
            write_digests(conn, keyring, id, &e.item_id, &event.environment, &e.digests)?;
            conn.prepare_cached("UPDATE custom_lists SET item_count = item_count + 1 WHERE id = ?1")?.execute([id])?;
        }
        ListEvent::ItemDeleted(e) => {
            conn.exec("DELETE FROM custom_list_digests WHERE item_id = ?1", [&e.item_id])?;
            let removed =
                conn.exec("DELETE FROM custom_list_items WHERE id = ?1 AND list_id = ?2", params![e.item_id, id])?;
            conn.exec(
                "UPDATE custom_lists SET item_count = item_count - ?1 WHERE id = ?2",
                params![removed as i64, id],
            )?;
        }
    }
    conn.prepare_cached("UPDATE custom_lists SET updated_at = ?1, stream_seq = ?2 WHERE id = ?3")?.execute(params![
        at,
        event.stream_seq,
        id
    ])?;
    Ok(())
}

fn write_digests(
    conn: &Connection,
    keyring: &Keyring,
    list_id: &str,
    item_id: &str,
    environment: &str,
    sealed: &str,
) -> AppResult<()> {
    let wrapped: Option<Vec<u8>> = conn
        .prepare_cached("SELECT wrapped_key FROM subject_keys WHERE subject_id = ?1")?
        .query_row([list_id], |r| r.get(0))
        .optional()?;
    // A list whose key was destroyed has nothing left to look up.
    let Some(wrapped) = wrapped else { return Ok(()) };
    let key = keyring.unwrap_data_key(list_id, &wrapped)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| AppError::Internal("list item digest set is not base64".into()))?;
    let digests: BTreeMap<String, String> =
        serde_json::from_str(&key.open(list_id, &sealed_field(item_id, "digests"), &bytes)?)?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO custom_list_digests (item_id, kind, list_id, environment, digest) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (kind, digest) in digests {
        let digest = hex::decode(digest).map_err(|_| AppError::Internal("list digest is not hex".into()))?;
        stmt.execute(params![item_id, kind, list_id, environment, digest])?;
    }
    Ok(())
}
