//! The background sweeper: makes time-based rules take effect without any request (capture tokens
//! lapse into `expired`, the retention windows of spec §1.14 pass) and restarts processing of sessions left in `processing` (after a restart).
//! Reads the injectable clock, so tests drive it with `run_once`. Must not decide anything itself; it
//! only calls commands.

use crate::clock::Clock;
use crate::commands::sessions;
use crate::commands::writer::Writer;
use crate::commands::CommandMeta;
use crate::error::AppResult;
use crate::store::ReadPool;
use std::sync::Arc;
use std::time::Duration;

/// A session still `processing` this long after its last change was interrupted (the face service
/// itself times out after 30 s).
const STUCK_AFTER_SECONDS: i64 = 60;

/// One pass at the clock's current time. Returns the number of sessions it moved.
pub async fn run_once(writer: &Writer, read: &ReadPool, clock: &dyn Clock) -> AppResult<usize> {
    run_once_with(writer, read, clock, None).await
}

/// One pass, screening resumed sessions against the loaded watchlists.
pub async fn run_once_with(
    writer: &Writer,
    read: &ReadPool,
    clock: &dyn Clock,
    screening: Option<&crate::screening_service::ScreeningService>,
) -> AppResult<usize> {
    let now = crate::clock::format(clock.now());
    let expired = sessions::expire_lapsed(writer, now.clone()).await?;
    let retained = sessions::apply_retention(writer, now.clone()).await?;
    let cutoff = crate::clock::format(clock.now() - time::Duration::seconds(STUCK_AFTER_SECONDS));
    let stuck = read.run(move |c| sessions::processing_ids(c, &cutoff)).await?;
    for id in &stuck {
        let meta =
            CommandMeta { actor: "system".into(), environment: String::new(), request_id: None, now: now.clone() };
        sessions::process(writer, meta, id.clone(), None, screening.map(|s| s.current())).await?;
    }
    Ok(expired.len() + retained + stuck.len())
}

/// Runs `run_once` every `interval` on the current actix runtime, for the life of the server.
pub fn spawn(
    writer: Writer,
    read: ReadPool,
    clock: Arc<dyn Clock>,
    interval: Duration,
    screening: crate::screening_service::ScreeningService,
) {
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(interval).await;
            if let Err(e) = run_once_with(&writer, &read, clock.as_ref(), Some(&screening)).await {
                tracing::warn!(error = %e, "sweeper pass failed");
            }
        }
    });
}
