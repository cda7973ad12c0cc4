//! The one way async code runs blocking work (SQLite reads, decryption, scans, image decoding): on the
//! runtime's blocking pool (`run`), or on a lane of a few long-lived threads that each own their state
//! (`Lane`, the request-sized reads); either way inside the caller's tracing span, with a failed task and
//! the work's own error flattened into one `AppError`. Must not know what the work is.

use crate::error::{AppError, AppResult};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex};

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

type LaneJob<S> = Box<dyn FnOnce(&S) + Send>;

/// How long a caller refused by a full lane is asked to wait before retrying.
const FULL_LANE_RETRY_SECS: u64 = 1;

/// A fixed set of threads, each owning one `S` for its whole life, running jobs in the order they arrive.
/// The runtime's blocking pool starts a thread for every job waiting, so under load dozens of threads
/// take turns on the cores and each short job pays for the switches; a lane keeps as many threads as it
/// was given, and a job waits its turn in the queue instead. The queue is bounded: a full one refuses at
/// once (503 with Retry-After). The threads end when the last handle to the lane is dropped.
pub struct Lane<S> {
    sender: mpsc::SyncSender<LaneJob<S>>,
}

impl<S> Clone for Lane<S> {
    fn clone(&self) -> Self {
        Lane { sender: self.sender.clone() }
    }
}

impl<S: Send + 'static> Lane<S> {
    /// One thread per state, named `name`, and a queue of `capacity` jobs.
    pub fn start(name: &str, states: Vec<S>, capacity: usize) -> AppResult<Self> {
        let (sender, receiver) = mpsc::sync_channel::<LaneJob<S>>(capacity.max(1));
        let receiver = Arc::new(Mutex::new(receiver));
        for state in states {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job, so the threads take jobs in turn.
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(&state),
                        Err(_) => return,
                    }
                })
                .map_err(|e| AppError::Internal(format!("cannot start {name} thread: {e}")))?;
        }
        Ok(Lane { sender })
    }

    /// Runs `f` on one of the lane's threads with its state, inside the current span. A panic in `f` is
    /// caught (the thread lives on) and answered as an internal error.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> AppResult<T> + Send + 'static,
    {
        let span = tracing::Span::current();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: LaneJob<S> = Box::new(move |state| {
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| span.in_scope(|| f(state))))
                .unwrap_or_else(|_| Err(AppError::Internal("a blocking task panicked".into())));
            let _ = reply.send(result);
        });
        let queued = self.sender.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => AppError::Overloaded { retry_after: FULL_LANE_RETRY_SECS },
            mpsc::TrySendError::Disconnected(_) => AppError::Unavailable("The read threads have stopped.".into()),
        });
        async move {
            queued?;
            answer.await.map_err(|_| AppError::Internal("blocking task dropped".into()))?
        }
    }
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

    #[actix_web::test]
    async fn a_lane_runs_jobs_with_its_threads_state_and_survives_a_panic() {
        let lane = Lane::start("test-lane", vec![7u32], 4).unwrap();
        assert_eq!(lane.run(|n| Ok(n + 1)).await.unwrap(), 8);
        let refused = lane.run(|_| -> AppResult<()> { Err(AppError::not_found("Thing")) }).await;
        assert!(matches!(refused, Err(AppError::NotFound(_))));
        let panicked = lane.run(|_| -> AppResult<()> { panic!("boom") }).await;
        assert!(matches!(panicked, Err(AppError::Internal(_))));
        // The one thread is still there after the panic.
        assert_eq!(lane.run(|n| Ok(*n)).await.unwrap(), 7);
    }

    #[actix_web::test]
    async fn a_full_lane_refuses_at_once() {
        let lane = Lane::start("test-lane", vec![()], 1).unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let busy = lane.run(move |_| {
            let _ = started_tx.send(());
            let _ = held.recv();
            Ok(1)
        });
        started.recv().unwrap();
        let queued = lane.run(|_| Ok(2));
        let refused = lane.run(|_| Ok(3)).await;
        assert!(matches!(refused, Err(AppError::Overloaded { .. })));
        release.send(()).unwrap();
        assert_eq!(busy.await.unwrap(), 1);
        assert_eq!(queued.await.unwrap(), 2);
    }

    #[actix_web::test]
    async fn a_lane_job_runs_inside_the_callers_span() {
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry());
        let lane = Lane::start("test-lane", vec![()], 4).unwrap();
        let span = tracing::info_span!("request", request_id = "req_2");
        let inside = {
            let _entered = span.enter();
            lane.run(|_| Ok(tracing::Span::current().metadata().map(|m| m.name())))
        };
        assert_eq!(inside.await.unwrap(), Some("request"));
    }
}
