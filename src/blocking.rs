//! The one way async code runs blocking work (SQLite reads, decryption, scans, image decoding): on the
//! runtime's blocking pool, inside the caller's tracing span, with a failed task and the work's own error
//! flattened into one `AppError`. Must not know what the work is.

use crate::error::{AppError, AppResult};
use std::future::Future;

/// Runs `f` on a blocking thread; the future waits for it without holding up the async worker. The span
/// is the one current when `run` is called (not when the future is first polled).
pub fn run<T, F>(f: F) -> impl Future<Output = AppResult<T>>
where
    T: Send + 'static,
    F: FnOnce() -> AppResult<T> + Send + 'static,
{
    let span = tracing::Span::current();
    let task = actix_web::rt::task::spawn_blocking(move || span.in_scope(f));
    async move { task.await.map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))? }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn errors_of_the_work_and_of_the_task_both_become_app_errors() {
        assert_eq!(run(|| Ok(2 + 2)).await.unwrap(), 4);
        let refused = run(|| -> AppResult<()> { Err(AppError::not_found("Thing")) }).await;
        assert!(matches!(refused, Err(AppError::NotFound(_))));
        let panicked = run(|| -> AppResult<()> { panic!("boom") }).await;
        assert!(matches!(panicked, Err(AppError::Internal(_))));
    }

    #[actix_web::test]
    async fn the_work_runs_inside_the_callers_span() {
        // The blocking thread has no subscriber of its own: the span must travel with the work.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        let span = tracing::info_span!("request", request_id = "req_1");
        let inside = {
            let _entered = span.enter();
            run(|| Ok(tracing::Span::current().metadata().map(|m| m.name())))
        };
        assert_eq!(inside.await.unwrap(), Some("request"));
        let outside = run(|| Ok(tracing::Span::current().metadata().map(|m| m.name()))).await.unwrap();
        assert_eq!(outside, None);
    }
}
