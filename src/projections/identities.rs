//! Projects identity events into `identities` (with the identity's blind-index keys, which the in-memory
//! lookup `store::blind_keys` reads), `identity_tags`, `identity_custom_fields`, `identity_monitored_lists`
//! and `identity_audit`. Copies sealed values as they are; opens only the sealed blind-index set (to list its
//! keys). Must not write any other table.

use super::blind_memo::IndexKeys;
use crate::crypto::Keyring;
use crate::domain::identity::{seals_all_fields, IdentityEvent, SealedFields};
use crate::error::{AppError, AppResult};
use crate::store::events::StoredEvent;
use crate::store::Exec;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;

pub fn apply(conn: &Connection, keyring: &Keyring, event: &StoredEvent) -> AppResult<()> {
    let decoded = IdentityEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| AppError::Internal(format!("undecodable {} event {}: {e}", event.event_type, event.event_id)))?;
    let Some(decoded) = decoded else { return Ok(()) };
    let id = event.stream_id.as_str();
    let at = event.recorded_at.as_str();
    match &decoded {
        IdentityEvent::Created(e) => {
            // A new identity's keys go in with its row.
            let blind = blind_rows(conn, keyring, id, e.blind.as_deref())?;
            let keys = joined_keys(&blind);
            conn.prepare_cached(
                "INSERT INTO identities (id, environment, external_ref, status, session_count, country,
                    identity_type_id, monitoring_enabled, is_flagged, pii, created_at, updated_at, stream_seq,
                    blind_keys, blind_seq)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6, ?7, 0, ?8, ?9, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                id,
                event.environment,
                e.external_ref,
                e.status,
                e.country,
                e.identity_type_id,
                e.monitoring_enabled,
                serde_json::to_string(&e.pii)?,
                at,
                event.stream_seq,
                keys,
                keys.as_ref().map(|_| event.seq)
            ])?;
            if !e.tags.is_empty() {
                write_tags(conn, id, &e.tags)?;
            }
        }
        IdentityEvent::Verified(e) => {
            conn.exec(
                "UPDATE identities SET status = ?1, latest_session_id = ?2, latest_result_id = ?2,
                    session_count = session_count + ?3, face_match_passed = ?4, age_check_passed = ?5,
                    extracted_age = ?6, rejection_reason = ?7, country = COALESCE(?8, country),
                    first_verified_at = CASE WHEN ?9 THEN COALESCE(first_verified_at, ?10) ELSE first_verified_at END,
                    last_verified_at = CASE WHEN ?9 THEN ?10 ELSE last_verified_at END
                 WHERE id = ?11",
                params![
                    e.status,
                    e.session_id,
                    e.new_session as i64,
                    e.face_match_passed,
                    e.age_check_passed,
                    e.extracted_age,
                    e.rejection_reason,
                    e.country,
                    e.approved,
                    at,
                    id
                ],
            )?;
            if !e.pii.is_empty() {
                write_pii(conn, id, &e.pii, &[])?;
            }
            if e.blind.is_some() {
                write_blind(conn, keyring, event, e.blind.as_deref())?;
            }
        }
        IdentityEvent::Updated(e) => {
            for (name, value) in &e.set {
                let column = match name.as_str() {
                    "external_ref" => "external_ref",
                    "status" => "status",
                    "country" => "country",
                    "identity_type_id" => "identity_type_id",
                    _ => continue,
                };
                let text = value.as_str().map(str::to_string);
                conn.exec(&format!("UPDATE identities SET {column} = ?1 WHERE id = ?2"), params![text, id])?;
            }
            if !e.pii.is_empty() || !e.pii_cleared.is_empty() {
                write_pii(conn, id, &e.pii, &e.pii_cleared)?;
            }
            if e.blind.is_some() {
                write_blind(conn, keyring, event, e.blind.as_deref())?;
            }
        }
        IdentityEvent::Redacted => {
            conn.exec(
                "UPDATE identities SET status = 'redacted', pii = '{}', country = NULL, blind_keys = NULL,
                    blind_seq = NULL
                 WHERE id = ?1",
                [id],
            )?;
            conn.exec(
                "DELETE FROM identity_custom_fields WHERE identity_id = ?1 AND value LIKE '{\"sealed\":%'",
                [id],
            )?;
        }
        IdentityEvent::TagsChanged(e) => write_tags(conn, id, &e.tags)?,
        IdentityEvent::Archived => {
            conn.exec("UPDATE identities SET archived_at = ?1 WHERE id = ?2", params![at, id])?;
        }
        IdentityEvent::Restored(e) => {
            conn.exec("UPDATE identities SET archived_at = NULL WHERE id = ?1", [id])?;
            if e.monitoring_resumed {
                conn.exec(
                    "UPDATE identities SET monitoring_enabled = 1, monitoring_paused_reason = NULL WHERE id = ?1",
                    [id],
                )?;
            }
        }
        IdentityEvent::MonitoringPaused(e) => {
            conn.exec(
                "UPDATE identities SET monitoring_enabled = 0, monitoring_paused_reason = ?1 WHERE id = ?2",
                params![e.reason, id],
            )?;
        }
        IdentityEvent::MonitoringResumed => {
            conn.exec(
                "UPDATE identities SET monitoring_enabled = 1, monitoring_paused_reason = NULL WHERE id = ?1",
                [id],
            )?;
        }
        IdentityEvent::CustomFieldsSet(e) => {
            for (name, value) in &e.values {
                if value.is_null() {
                    conn.exec(
                        "DELETE FROM identity_custom_fields WHERE identity_id = ?1 AND name = ?2",
                        params![id, name],
                    )?;
                } else {
                    conn.exec(
                        "INSERT INTO identity_custom_fields (identity_id, name, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (identity_id, name) DO UPDATE SET value = excluded.value",
                        params![id, name, serde_json::to_string(value)?],
                    )?;
                }
            }
        }
        IdentityEvent::Merged(e) => {
            let status = if e.redacted { "redacted" } else { "merged" };
            conn.exec(
                "UPDATE identities SET status = ?1, merged_into = ?2, monitoring_enabled = 0 WHERE id = ?3",
                params![status, e.into, id],
            )?;
            if e.redacted {
                conn.exec(
                    "UPDATE identities SET pii = '{}', country = NULL, blind_keys = NULL, blind_seq = NULL WHERE id = ?1",
                    [id],
                )?;
                conn.exec("DELETE FROM identity_custom_fields WHERE identity_id = ?1", [id])?;
            }
        }
        IdentityEvent::Absorbed(e) => {
            write_tags(conn, id, &e.tags)?;
            conn.exec(
                "UPDATE identities SET session_count = session_count + ?1 WHERE id = ?2",
                params![e.session_count, id],
            )?;
            for (name, value) in &e.custom_fields {
                conn.exec(
                    "INSERT OR IGNORE INTO identity_custom_fields (identity_id, name, value) VALUES (?1, ?2, ?3)",
                    params![id, name, serde_json::to_string(value)?],
                )?;
            }
        }
        IdentityEvent::Exported => {}
        IdentityEvent::Screened(e) => {
            conn.exec("UPDATE identities SET screening_status = ?1 WHERE id = ?2", params![e.status, id])?;
        }
        IdentityEvent::MonitoredListsSet(e) => {
            conn.exec("DELETE FROM identity_monitored_lists WHERE identity_id = ?1", [id])?;
            let mut stmt = conn.prepare_cached(
                "INSERT INTO identity_monitored_lists (identity_id, list_id, position) VALUES (?1, ?2, ?3)",
            )?;
            for (position, list_id) in e.list_ids.iter().enumerate() {
                stmt.execute(params![id, list_id, position as i64])?;
            }
        }
    }
    // An export changes nothing about the person (updated_at stays), but it is a stream event: the view's
    // stream_seq must follow it or the next command on this identity fails its version check.
    if matches!(decoded, IdentityEvent::Exported) {
        conn.exec("UPDATE identities SET stream_seq = ?1 WHERE id = ?2", params![event.stream_seq, id])?;
    } else if !matches!(decoded, IdentityEvent::Created(_)) {
        conn.exec(
            "UPDATE identities SET updated_at = ?1, stream_seq = ?2 WHERE id = ?3",
            params![at, event.stream_seq, id],
        )?;
    }
    super::audit(conn, event, id, decoded.action(), &decoded.fields())
}

/// The view's sealed map after an event's: all the fields sealed together replace whatever the view held
/// (they are the identity's whole set); one sealed entry per field, as events before it carry them, merges
/// into the view's entries after dropping the cleared ones.
fn write_pii(conn: &Connection, id: &str, sealed: &SealedFields, cleared: &[String]) -> AppResult<()> {
    let pii = if seals_all_fields(sealed) {
        sealed.clone()
    } else {
        let current: String = conn.row("SELECT pii FROM identities WHERE id = ?1", [id], |r| r.get(0))?;
        let mut pii: SealedFields = serde_json::from_str(&current).unwrap_or_default();
        for field in cleared {
            pii.remove(field);
        }
        pii.extend(sealed.clone());
        pii
    };
    conn.exec("UPDATE identities SET pii = ?1 WHERE id = ?2", params![serde_json::to_string(&pii)?, id])?;
    Ok(())
}

fn write_tags(conn: &Connection, id: &str, tags: &[String]) -> AppResult<()> {
    conn.exec("DELETE FROM identity_tags WHERE identity_id = ?1", [id])?;
    let mut stmt = conn.prepare_cached("INSERT INTO identity_tags (identity_id, tag, position) VALUES (?1, ?2, ?3)")?;
    for (position, tag) in tags.iter().enumerate() {
        stmt.execute(params![id, tag, position as i64])?;
    }
    Ok(())
}

/// Replaces the keys the identity's row lists with those of the sealed set, stamped with the event's log
/// position so the lookup's copy reads them on its next catch-up. When the data key has been destroyed
/// (redaction) the set cannot be opened and the row lists none, which is the point.
fn write_blind(conn: &Connection, keyring: &Keyring, event: &StoredEvent, sealed: Option<&str>) -> AppResult<()> {
    let keys = joined_keys(&blind_rows(conn, keyring, &event.stream_id, sealed)?);
    conn.prepare_cached("UPDATE identities SET blind_keys = ?1, blind_seq = ?2 WHERE id = ?3")?.execute(params![
        keys,
        keys.as_ref().map(|_| event.seq),
        event.stream_id
    ])?;
    Ok(())
}

/// The identity's blind-index keys as its row lists them: one after another, in the order of their kinds;
/// none when the set is empty or could not be opened.
fn joined_keys(blind: &IndexKeys) -> Option<Vec<u8>> {
    (!blind.is_empty()).then(|| blind.iter().flat_map(|(_, key)| key.iter().copied()).collect())
}

/// The (kind, index key) rows of the sealed set, in the order of their kinds (none when the data key is
/// gone): from the memo when this process sealed it moments ago, else by opening it.
fn blind_rows(conn: &Connection, keyring: &Keyring, id: &str, sealed: Option<&str>) -> AppResult<IndexKeys> {
    let Some(sealed) = sealed else { return Ok(Vec::new()) };
    if let Some(mut index_keys) = super::blind_memo::take(sealed) {
        index_keys.sort_by(|a, b| a.0.cmp(&b.0));
        return Ok(index_keys);
    }
    let wrapped: Option<Vec<u8>> = conn
        .prepare_cached("SELECT wrapped_key FROM subject_keys WHERE subject_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(wrapped) = wrapped else { return Ok(Vec::new()) };
    let key = keyring.unwrap_data_key(id, &wrapped)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| AppError::Internal("blind-index set is not base64".into()))?;
    // Each kind's index key in hex, or (sets sealed before schema 13) its whole digest, which starts with it.
    let digests: BTreeMap<String, String> = serde_json::from_str(&key.open(id, "blind_indexes", &bytes)?)?;
    let mut rows = Vec::with_capacity(digests.len());
    for (kind, digest) in digests {
        let digest = hex::decode(digest).map_err(|_| AppError::Internal("blind digest is not hex".into()))?;
        rows.push((kind, crate::crypto::blind_index_key(&digest).to_vec()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{blind_index_key, MasterKey, BLIND_INDEX_KEY_BYTES};

    /// A connection holding one identity's wrapped data key, as `blind_rows` looks it up.
    fn with_subject_key(keyring: &Keyring, id: &str) -> (Connection, crate::crypto::DataKey) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE subject_keys (subject_id TEXT PRIMARY KEY, wrapped_key BLOB NOT NULL)")
            .unwrap();
        let (key, wrapped) = keyring.new_data_key(id);
        conn.execute("INSERT INTO subject_keys VALUES (?1, ?2)", params![id, wrapped]).unwrap();
        (conn, key)
    }

    #[test]
    fn a_sealed_set_holds_the_index_keys_and_one_of_whole_digests_still_opens_to_them() {
        let keyring = Keyring::new(&MasterKey::from_bytes([7; 32]));
        let id = format!("idn_{}", ulid::Ulid::new());
        let (conn, key) = with_subject_key(&keyring, &id);
        let pii: BTreeMap<String, String> =
            [("email", "ada@example.org"), ("phone", "+44 20 7946 0000")].map(|(k, v)| (k.into(), v.into())).into();
        let sealed = crate::commands::identities::sealed_blind_set(&keyring, &key, "live", &id, &pii).unwrap();
        // The memo would answer for a set this process sealed; a replay opens it instead.
        let remembered = crate::projections::blind_memo::take(&sealed).unwrap();
        let opened = blind_rows(&conn, &keyring, &id, Some(&sealed)).unwrap();
        assert_eq!(opened, remembered);
        let email = keyring.blind_index_key("live", "email", &crate::crypto::blind::email("ada@example.org"));
        assert!(opened.contains(&("email".to_string(), email)));
        let plain: BTreeMap<String, String> = serde_json::from_str(
            &key.open(&id, "blind_indexes", &base64::engine::general_purpose::STANDARD.decode(&sealed).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(plain.values().all(|k| k.len() == 2 * BLIND_INDEX_KEY_BYTES), "{plain:?}");

        let digest = keyring.blind_digest("live", "email", "ada@example.org");
        let whole = serde_json::json!({ "email": hex::encode(digest) }).to_string();
        let older = base64::engine::general_purpose::STANDARD.encode(key.seal(&id, "blind_indexes", &whole));
        let opened = blind_rows(&conn, &keyring, &id, Some(&older)).unwrap();
        assert_eq!(opened, vec![("email".to_string(), blind_index_key(&digest).to_vec())]);
    }
}
