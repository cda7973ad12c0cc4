//! The background sweeper: makes time-based rules take effect without any request (capture tokens
//! lapse into `expired`, the retention windows of spec §1.14 pass) and resumes sessions left in
//! `processing` (after a restart), releases case claims idle for 30 minutes, through the processing service, so they get the same pipeline, face
//! provider and watchlists as any other. Reads the injectable clock, so tests drive it with `run_once`.
//! Must not decide anything itself; it only calls commands and the processing service.

use crate::clock::Clock;
use crate::commands::sessions;
use crate::commands::CommandMeta;
use crate::error::AppResult;
use crate::processing::Processing;
use std::sync::Arc;
use std::time::Duration;

/// A session still `processing` this long after its last change was interrupted (the face service
/// itself times out after 30 s).
const STUCK_AFTER_SECONDS: i64 = 60;

/// One pass at the clock's current time. Returns the number of sessions it moved.
pub async fn run_once(processing: &Processing, clock: &dyn Clock) -> AppResult<usize> {
    let writer = processing.writer();
    let now = crate::clock::format(clock.now());
    let expired = sessions::expire_lapsed(writer, now.clone()).await?;
    let retained = sessions::apply_retention(writer, now.clone()).await?;
    let claim_cutoff =
        crate::clock::format(clock.now() - time::Duration::seconds(crate::domain::case::CLAIM_TIMEOUT_SECONDS));
    let released = crate::commands::cases::release_stale(writer, now.clone(), claim_cutoff).await?;
    let cutoff = crate::clock::format(clock.now() - time::Duration::seconds(STUCK_AFTER_SECONDS));
    let stuck = processing.read().run(move |c| sessions::processing_ids(c, &cutoff)).await?;
    for id in &stuck {
        let meta = CommandMeta::untraced("system", String::new(), now.clone());
        // One session that cannot be decided must not hold up the others; the next pass tries it again.
        if let Err(e) = processing.process(meta, id.clone()).await {
            tracing::warn!(session_id = %id, error = %e, "resuming a stuck session failed");
        }
    }
    Ok(expired.len() + retained + stuck.len() + released)
}

/// Runs `run_once` every `interval` on the current actix runtime, for the life of the server.
pub fn spawn(processing: Processing, clock: Arc<dyn Clock>, interval: Duration) {
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(interval).await;
            if let Err(e) = run_once(&processing, clock.as_ref()).await {
                tracing::warn!(error = %e, "sweeper pass failed");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use crate::store::{open_writer, Durability};

    /// What SQLite would do for `sql`: every step of its query plan.
    fn plan(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let unbound = rusqlite::params_from_iter(std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count()));
        stmt.query_map(unbound, |r| r.get::<_, String>(3)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn each_pass_reads_only_what_is_due_through_an_index_never_a_whole_table() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("idv.db"), Durability::Normal).unwrap();
        let queries = [
            (crate::commands::sessions::LAPSED_CAPTURE_SQL, "sessions_awaiting_capture"),
            (crate::commands::sessions::STUCK_PROCESSING_SQL, "sessions_in_processing"),
            (crate::commands::retention::RETENTION_DUE_SQL, "sessions_retention_due"),
            (crate::commands::retention::SENSITIVE_DUE_SQL, "sessions_retention_due"),
            (crate::commands::cases::STALE_CLAIMS_SQL, "cases_claimed"),
        ];
        for (sql, index) in queries {
            let steps = plan(&conn, sql);
            assert!(steps.iter().any(|s| s.contains(&format!("USING INDEX {index}"))), "{sql}: {steps:?}");
        }
    }
}
