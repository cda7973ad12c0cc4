//! Projects webhook endpoint events into `webhook_endpoints`. Copies the sealed secret as it is.
//! Must not write any other table (delivery progress lives in the outbox's state tables).

use crate::domain::webhook::EndpointEvent;
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection};

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let decoded = EndpointEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?;
    let Some(decoded) = decoded else { return Ok(()) };
    let id = event.stream_id.as_str();
    let at = event.recorded_at.as_str();
    match decoded {
        EndpointEvent::Created(e) => {
            conn.exec(
                "INSERT INTO webhook_endpoints (id, environment, url, label, description, enabled, enabled_events,
                    attribute_blocklist, event_filter_conditions, api_version, key_inflection, secret_sealed,
                    cloned_from, enabled_seq, created_at, updated_at, dialect, client_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?16)",
                params![
                    id,
                    event.environment,
                    e.url,
                    e.label,
                    e.description,
                    serde_json::to_string(&e.enabled_events)?,
                    serde_json::to_string(&e.attribute_blocklist)?,
                    (!e.event_filter_conditions.is_null()).then(|| e.event_filter_conditions.to_string()),
                    e.api_version,
                    e.key_inflection,
                    e.secret_sealed,
                    e.cloned_from,
                    event.seq,
                    at,
                    e.dialect,
                    e.client_id
                ],
            )?;
        }
        EndpointEvent::Updated(u) => {
            if let Some(v) = &u.url {
                conn.exec("UPDATE webhook_endpoints SET url = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &u.label {
                conn.exec("UPDATE webhook_endpoints SET label = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &u.description {
                conn.exec("UPDATE webhook_endpoints SET description = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &u.enabled_events {
                conn.exec(
                    "UPDATE webhook_endpoints SET enabled_events = ?1 WHERE id = ?2",
                    params![serde_json::to_string(v)?, id],
                )?;
            }
            if let Some(v) = &u.attribute_blocklist {
                conn.exec(
                    "UPDATE webhook_endpoints SET attribute_blocklist = ?1 WHERE id = ?2",
                    params![serde_json::to_string(v)?, id],
                )?;
            }
            if let Some(v) = &u.event_filter_conditions {
                let text = v.as_ref().filter(|v| !v.is_null()).map(|v| v.to_string());
                conn.exec(
                    "UPDATE webhook_endpoints SET event_filter_conditions = ?1 WHERE id = ?2",
                    params![text, id],
                )?;
            }
            if let Some(v) = &u.api_version {
                conn.exec("UPDATE webhook_endpoints SET api_version = ?1 WHERE id = ?2", params![v, id])?;
            }
            if let Some(v) = &u.key_inflection {
                conn.exec("UPDATE webhook_endpoints SET key_inflection = ?1 WHERE id = ?2", params![v, id])?;
            }
            match u.enabled {
                // Re-enabling starts a new period: events from while it was disabled are not sent.
                Some(true) => {
                    conn.exec(
                        "UPDATE webhook_endpoints SET enabled_seq = CASE WHEN enabled = 0 THEN ?1 ELSE enabled_seq END,
                            enabled = 1, disabled_reason = NULL, disabled_at = NULL WHERE id = ?2",
                        params![event.seq, id],
                    )?;
                }
                Some(false) => {
                    conn.exec(
                        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = 'manual', disabled_at = ?1
                         WHERE id = ?2 AND enabled = 1",
                        params![at, id],
                    )?;
                }
                None => {}
            }
            conn.exec("UPDATE webhook_endpoints SET updated_at = ?1 WHERE id = ?2", params![at, id])?;
        }
        EndpointEvent::SecretRotated(e) => {
            conn.exec(
                "UPDATE webhook_endpoints SET secret_sealed = ?1, secret_rotated_at = ?2, updated_at = ?2 WHERE id = ?3",
                params![e.secret_sealed, at, id],
            )?;
        }
        EndpointEvent::Disabled(e) => {
            conn.exec(
                "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?1, disabled_at = ?2, updated_at = ?2
                 WHERE id = ?3",
                params![e.reason, at, id],
            )?;
        }
        EndpointEvent::Deleted => {
            conn.exec("DELETE FROM webhook_endpoints WHERE id = ?1", [id])?;
        }
        EndpointEvent::TestRequested => {}
    }
    Ok(())
}
