//! The one way async code runs blocking work (SQLite reads, decryption, scans, image decoding): on the
//! runtime's blocking pool, inside the caller's tracing span, with a failed task and the work's own error
//! flattened into one `AppError`. Must not know what the work is.

use crate::error::{AppError, AppResult};

/// Runs `f` on a blocking thread and waits for it without holding up the async worker.
pub async fn run<T, F>(f: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> AppResult<T> + Send + 'static,
{
    let span = tracing::Span::current();
    actix_web::rt::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| AppError::Internal(format!("blocking task failed: {e}")))?
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
}
