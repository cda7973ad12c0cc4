//! The one way async code runs blocking work (SQLite reads, decryption, scans, image decoding): on the
//! runtime's blocking pool (`run`, long scans), on a lane of a few long-lived threads that each own their
//! state (`Lane`, the request-sized reads), or on the machine's CPU pool (`CpuPool`, one thread per core,
//! the heavy computing); always inside the caller's tracing span, with a failed task and the work's own
//! error flattened into one `AppError`. Must not know what the work is.

use crate::error::{AppError, AppResult};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Whether a job is taken when the lane's queue is full (`Lane::submit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Only while fewer than the lane's capacity wait; otherwise refused at once (`Lane::run`).
    IfRoom,
    /// However many wait (`Lane::run_queued`).
    Always,
}

/// A fixed set of threads, each owning one `S` for its whole life, running jobs in the order they arrive.
/// The runtime's blocking pool starts a thread for every job waiting, so under load dozens of threads
/// take turns on the cores and each short job pays for the switches; a lane keeps as many threads as it
/// was given, and a job waits its turn in the queue instead. The queue is bounded for callers who can be
/// told to come back (`run`: a full one refuses at once, 503 with Retry-After); work nobody is waiting to
/// be refused (`run_queued`) is always taken, and counts toward the bound. The threads end when the last
/// handle to the lane is dropped.
pub struct Lane<S> {
    sender: mpsc::Sender<LaneJob<S>>,
    /// Jobs sent and not yet taken by a thread.
    waiting: Arc<AtomicUsize>,
    capacity: usize,
    name: Arc<str>,
}

impl<S> Clone for Lane<S> {
    fn clone(&self) -> Self {
        Lane {
            sender: self.sender.clone(),
            waiting: self.waiting.clone(),
            capacity: self.capacity,
            name: self.name.clone(),
        }
    }
}

impl<S: Send + 'static> Lane<S> {
    /// One thread per state, named `name`, and a queue of `capacity` jobs.
    pub fn start(name: &str, states: Vec<S>, capacity: usize) -> AppResult<Self> {
        let (sender, receiver) = mpsc::channel::<LaneJob<S>>();
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
        Ok(Lane { sender, waiting: Arc::default(), capacity: capacity.max(1), name: name.into() })
    }

    /// Runs `f` on one of the lane's threads with its state, inside the current span, or refuses at once
    /// when `capacity` jobs are already waiting. A panic in `f` is caught (the thread lives on) and
    /// answered as an internal error.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> AppResult<T> + Send + 'static,
    {
        self.submit(f, Admission::IfRoom)
    }

    /// Runs `f` like `run`, but queues it however many jobs wait: for work whose caller has already been
    /// answered (a session's processing after its submit), which a refusal would only lose.
    pub fn run_queued<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> AppResult<T> + Send + 'static,
    {
        self.submit(f, Admission::Always)
    }

    /// `run` (`Admission::IfRoom`) or `run_queued` (`Admission::Always`).
    pub fn submit<T, F>(&self, f: F, admission: Admission) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> AppResult<T> + Send + 'static,
    {
        let room = self.waiting.fetch_add(1, Ordering::AcqRel) < self.capacity;
        let admitted = if room || admission == Admission::Always {
            Ok(())
        } else {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            Err(AppError::Overloaded { retry_after: FULL_LANE_RETRY_SECS })
        };
        let answer = admitted.and_then(|()| self.send(f));
        async move { answer?.await.map_err(|_| AppError::Internal("blocking task dropped".into()))? }
    }

    /// Sends an admitted job (already counted in `waiting`); the thread that takes it uncounts it.
    fn send<T, F>(&self, f: F) -> AppResult<tokio::sync::oneshot::Receiver<AppResult<T>>>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> AppResult<T> + Send + 'static,
    {
        let span = tracing::Span::current();
        let (reply, answer) = tokio::sync::oneshot::channel();
        let waiting = self.waiting.clone();
        let job: LaneJob<S> = Box::new(move |state| {
            waiting.fetch_sub(1, Ordering::AcqRel);
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| span.in_scope(|| f(state))))
                .unwrap_or_else(|_| Err(AppError::Internal("a blocking task panicked".into())));
            let _ = reply.send(result);
        });
        self.sender.send(job).map_err(|_| {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            AppError::Unavailable(format!("The {} threads have stopped.", self.name))
        })?;
        Ok(answer)
    }
}

/// How many jobs may wait for the CPU pool per thread before request-driven work is refused. An upload
/// waiting here holds its body (up to 21 MB), so the bound is also one on memory.
const CPU_QUEUE_PER_THREAD: usize = 64;

/// The machine's pool for CPU-heavy work (image decoding, hashing, MRZ and printed-text reading, sealing
/// files, screening, a session's evidence, PDF reports): one thread per core, so a burst of large photos
/// queues instead of taking every core from the writer and the readers. Cheap to clone; one per server.
#[derive(Clone)]
pub struct CpuPool {
    lane: Lane<()>,
}

impl CpuPool {
    /// One thread per core the process may use.
    pub fn sized_to_machine() -> AppResult<Self> {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self::with_threads(threads)
    }

    pub fn with_threads(threads: usize) -> AppResult<Self> {
        let threads = threads.max(1);
        Ok(CpuPool { lane: Lane::start("idv-cpu", vec![(); threads], threads * CPU_QUEUE_PER_THREAD)? })
    }

    /// Runs `f` on the pool for a caller who can be told to come back: refused (503 with Retry-After) when
    /// the queue is full.
    pub fn run<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce() -> AppResult<T> + Send + 'static,
    {
        self.lane.run(move |_| f())
    }

    /// Runs `f` on the pool however long the queue: work whose caller has already been answered.
    pub fn run_queued<T, F>(&self, f: F) -> impl Future<Output = AppResult<T>>
    where
        T: Send + 'static,
        F: FnOnce() -> AppResult<T> + Send + 'static,
    {
        self.lane.run_queued(move |_| f())
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

    #[actix_web::test]
    async fn the_cpu_pool_runs_no_more_jobs_at_once_than_it_has_threads() {
        use std::sync::atomic::AtomicUsize;
        let pool = CpuPool::with_threads(2).unwrap();
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..12)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(15));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(std::thread::current().name().map(str::to_string))
                })
            })
            .collect();
        for job in jobs {
            assert_eq!(job.await.unwrap().as_deref(), Some("idv-cpu"));
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[actix_web::test]
    async fn a_full_cpu_pool_refuses_requests_but_queues_work_already_answered() {
        let pool = CpuPool::with_threads(1).unwrap();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let busy = pool.run(move || {
            let _ = started_tx.send(());
            let _ = held.recv();
            Ok(0)
        });
        started.recv().unwrap();
        let queued: Vec<_> = (1..=CPU_QUEUE_PER_THREAD).map(|n| pool.run(move || Ok(n))).collect();
        let refused = pool.run(|| Ok(usize::MAX)).await;
        assert!(matches!(refused, Err(AppError::Overloaded { .. })));
        let background = pool.run_queued(|| Ok(CPU_QUEUE_PER_THREAD + 1));
        release.send(()).unwrap();
        assert_eq!(busy.await.unwrap(), 0);
        for (n, job) in queued.into_iter().enumerate() {
            assert_eq!(job.await.unwrap(), n + 1);
        }
        assert_eq!(background.await.unwrap(), CPU_QUEUE_PER_THREAD + 1);
        // Drained, the pool takes requests again.
        assert_eq!(pool.run(|| Ok(7)).await.unwrap(), 7);
    }
}
