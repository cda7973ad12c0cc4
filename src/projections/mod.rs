//! Projections: turn each stored event into view rows, in the writer's transaction and during replay.
//! Deterministic: no clock, no randomness, no network; each submodule writes only its own tables.

use crate::store::Exec;
pub mod api_keys;
pub mod blind_memo;
pub mod cases;
pub mod documents;
pub mod findings;
pub mod identities;
pub mod lists;
pub mod relationships;
pub mod screening;
pub mod sessions;
pub mod types;
pub mod users;
pub mod verifyhq;
pub mod webhooks;
pub mod workflow_runs;
pub mod workflows;

use crate::crypto::Keyring;
use crate::domain::session::SessionEvent;
use crate::domain::settings::SettingsEvent;
use crate::error::{AppError, AppResult};
use crate::store::events::StoredEvent;
use rusqlite::Connection;

/// Routes one event to the projection that owns its type. Unknown types are ignored (forward compatible).
pub fn apply(conn: &Connection, keyring: &Keyring, event: &StoredEvent) -> AppResult<()> {
    // Every event is also a row of the org audit log.
    cases::audit(conn, event)?;
    // A session event is decoded once here, for the four projections that follow it.
    let session = match event.event_type.starts_with("Session") {
        true => SessionEvent::decode(&event.event_type, event.event_version, &event.payload)
            .map_err(|e| undecodable(event, e))?,
        false => None,
    };
    route(conn, keyring, event, session.as_ref())?;
    // After the owning projection: findings link to the check and session rows it just wrote.
    findings::apply(conn, event, session.as_ref())
}

fn route(conn: &Connection, keyring: &Keyring, event: &StoredEvent, session: Option<&SessionEvent>) -> AppResult<()> {
    let t = event.event_type.as_str();
    if t.starts_with("Case") {
        cases::apply(conn, event)
    } else if t.starts_with("Identity") && !t.starts_with("IdentityType") {
        identities::apply(conn, keyring, event)?;
        if t == "IdentityRedacted" {
            // The identity's key is gone, and with it any document sealed under it.
            documents::erased(conn, &event.stream_id, &event.recorded_at)?;
        }
        Ok(())
    } else if t.starts_with("Relationship") {
        relationships::apply(conn, event)
    } else if t.starts_with("IdentityType") || t.starts_with("CustomField") {
        types::apply(conn, event)
    } else if let Some(session) = session {
        sessions::apply(conn, event, session)?;
        workflow_runs::on_session(conn, event, session)?;
        documents::on_session(conn, event, session)
    } else if t.starts_with("Document") {
        documents::apply(conn, event)
    } else if t.starts_with("Workflow") {
        workflows::apply(conn, event)
    } else if let Some(SettingsEvent::Updated(retention)) =
        SettingsEvent::decode(t, event.event_version, &event.payload).map_err(|e| undecodable(event, e))?
    {
        // One row per setting, named as in the event.
        for (name, value) in serde_json::to_value(&retention)?.as_object().into_iter().flatten() {
            conn.exec(
                "INSERT INTO settings (environment, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (environment, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                rusqlite::params![event.environment, name, value.to_string(), event.recorded_at],
            )?;
        }
        Ok(())
    } else if t.starts_with("OrgUser") {
        users::apply(conn, keyring, event)
    } else if t.starts_with("ApiKey") {
        api_keys::apply(conn, event)
    } else if t.starts_with("WebhookEndpoint") {
        webhooks::apply(conn, event)
    } else if t.starts_with("Watchlist") || t.starts_with("Check") {
        screening::apply(conn, event)
    } else if t.starts_with("CustomList") || t.starts_with("ListMatch") {
        lists::apply(conn, keyring, event)
    } else if t.starts_with("Verifyhq") {
        verifyhq::apply(conn, event)
    } else {
        Ok(())
    }
}

/// Records one audit row for an identity (action and field names only, never values).
pub(crate) fn audit(
    conn: &Connection,
    event: &StoredEvent,
    identity_id: &str,
    action: &str,
    fields: &[String],
) -> AppResult<()> {
    conn.prepare_cached(
        "INSERT INTO identity_audit (event_seq, event_id, identity_id, environment, action, actor, fields, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(rusqlite::params![
        event.seq,
        event.event_id,
        identity_id,
        event.environment,
        action,
        event.actor,
        serde_json::to_string(fields)?,
        event.recorded_at
    ])?;
    Ok(())
}

/// A stored event its aggregate's decoder refuses (unknown version, payload that does not fit): a loud
/// error naming the event, so replay stops there instead of skipping it.
pub(crate) fn undecodable(event: &StoredEvent, e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("undecodable {} event {} (seq {}): {e}", event.event_type, event.event_id, event.seq))
}
