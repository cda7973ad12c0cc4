//! Projects the VerifyHQ dialect's events into `verifyhq_tiers` (which workflow each tier runs). Must not
//! write any other table.

use crate::domain::verifyhq::decode_tier_linked;
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use rusqlite::{params, Connection};

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let Some(linked) = decode_tier_linked(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?
    else {
        return Ok(());
    };
    conn.execute(
        "INSERT INTO verifyhq_tiers (environment, tier, workflow_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (environment, tier) DO UPDATE SET workflow_id = excluded.workflow_id",
        params![event.environment, linked.tier, linked.workflow_id],
    )?;
    Ok(())
}
