//! The single write connection and its thread: queues commands, runs them in one IMMEDIATE transaction
//! per batch (group commit) with a savepoint per command, and answers callers only after COMMIT.
//! Must not be bypassed: every append to the event log goes through `WriteCtx::emit`.

use crate::crypto::Keyring;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::projections;
use crate::store::events::{self, ChainHead, EventMeta, NewEvent, StoredEvent};
use crate::store::{Exec, WriterGate};
use rusqlite::Connection;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::Arc;
use tokio::sync::oneshot;

const MAX_BATCH: usize = 512;

/// What a command sees inside the writer's transaction.
pub struct WriteCtx<'a> {
    pub conn: &'a Connection,
    pub keyring: &'a Keyring,
    chain: &'a mut ChainHead,
    appended: &'a mut Vec<StoredEvent>,
    wal_truncate: &'a mut bool,
}

impl WriteCtx<'_> {
    /// Asks for the WAL to be checkpointed and truncated after this batch commits, so destroyed key
    /// material does not linger in it.
    pub fn request_wal_truncate(&mut self) {
        *self.wal_truncate = true;
    }

    /// Appends events to one stream and projects them into the views, in this transaction.
    pub fn emit(
        &mut self,
        meta: &EventMeta,
        stream_id: &str,
        expected_version: i64,
        new_events: Vec<NewEvent>,
    ) -> AppResult<Vec<StoredEvent>> {
        let stored =
            events::append(self.conn, self.chain, self.keyring, meta, stream_id, expected_version, new_events)?;
        for event in &stored {
            projections::apply(self.conn, self.keyring, event)?;
            // Right after its projection, so the outbox sees the state as of this event.
            crate::webhooks::outbox::on_append(self.conn, event)?;
        }
        self.appended.extend(stored.iter().cloned());
        Ok(stored)
    }
}

struct Completion {
    succeeded: bool,
    reply: Box<dyn FnOnce(Option<AppError>) + Send>,
}

type Job = Box<dyn FnOnce(&mut WriteCtx<'_>) -> Completion + Send>;

/// Called with the events of every committed batch (metrics; later the webhook outbox).
pub type CommitHook = Arc<dyn Fn(&[StoredEvent]) + Send + Sync>;

/// The writer's queue is bounded: a full queue is refused at once (503 with Retry-After) rather than
/// growing memory while callers wait ever longer.
#[derive(Clone)]
pub struct Writer {
    sender: mpsc::SyncSender<Job>,
}

/// How long a caller refused by a full queue is asked to wait before retrying.
const FULL_QUEUE_RETRY_SECS: u64 = 1;

impl Writer {
    pub fn start(
        conn: Connection,
        gate: Arc<WriterGate>,
        keyring: Arc<Keyring>,
        metrics: Arc<Metrics>,
        hooks: Vec<CommitHook>,
        queue_capacity: usize,
    ) -> AppResult<Self> {
        ChainHead::load(&conn)?;
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue_capacity.max(1));
        std::thread::Builder::new()
            .name("idv-writer".into())
            .spawn(move || run(conn, &gate, keyring, receiver, metrics, hooks))
            .map_err(|e| AppError::Internal(format!("cannot start writer thread: {e}")))?;
        Ok(Writer { sender })
    }

    /// Runs `command` inside the next batch; resolves after the batch has committed.
    pub async fn execute<T, F>(&self, command: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> AppResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        // The command runs on the writer thread inside the caller's span, so its logs carry the request id.
        let span = tracing::Span::current();
        let job: Job = Box::new(move |ctx| {
            let result = span.in_scope(|| command(ctx));
            Completion {
                succeeded: result.is_ok(),
                reply: Box::new(move |commit_error| {
                    let _ = tx.send(match commit_error {
                        Some(e) => Err(e),
                        None => result,
                    });
                }),
            }
        });
        self.sender.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => AppError::Overloaded { retry_after: FULL_QUEUE_RETRY_SECS },
            mpsc::TrySendError::Disconnected(_) => AppError::Unavailable("The writer has stopped.".into()),
        })?;
        rx.await.map_err(|_| AppError::Internal("command aborted inside the writer".into()))?
    }

    /// Blocking variant for the CLI (no async runtime there).
    pub fn execute_blocking<T, F>(&self, command: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> AppResult<T> + Send + 'static,
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| AppError::Internal(format!("runtime: {e}")))?;
        rt.block_on(self.execute(command))
    }
}

/// Savepoint statements are prepared once and reused: they run twice per command.
fn savepoint(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run(
    conn: Connection,
    gate: &WriterGate,
    keyring: Arc<Keyring>,
    receiver: mpsc::Receiver<Job>,
    metrics: Arc<Metrics>,
    hooks: Vec<CommitHook>,
) {
    let mut appended: Vec<StoredEvent> = Vec::new();
    let mut wal_truncate = false;
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        appended.clear();
        // One span per batch (not per command): cheap on the hot path, and its fields say how big the
        // batch was, how many events it appended and how long the COMMIT (the fsync) took.
        let span = tracing::info_span!(
            "writer_batch",
            commands = batch.len(),
            events = tracing::field::Empty,
            commit_ms = tracing::field::Empty
        );
        let _in_batch = span.enter();
        // Held until the callers are answered: the checkpointer copies the WAL's last frames between two
        // batches, so that the next one restarts the WAL.
        let _batch_gate = gate.enter_batch();
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "writer could not begin a transaction");
            // Each job still owns its reply sender; dropping the job answers the caller with an error.
            drop(batch);
            continue;
        }
        // Another process (the CLI: `idv keys create`, `idv lists import`) may have appended since the last
        // batch; under the IMMEDIATE lock the head read here is the real one.
        let mut chain = match ChainHead::load(&conn) {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(error = %e, "writer could not read the chain head");
                let _ = conn.execute_batch("ROLLBACK");
                drop(batch);
                continue;
            }
        };
        let mut completions = Vec::with_capacity(batch.len());
        for job in batch {
            if savepoint(&conn, "SAVEPOINT command").is_err() {
                drop(job);
                continue;
            }
            let chain_before = chain.clone();
            let appended_before = appended.len();
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut ctx = WriteCtx {
                    conn: &conn,
                    keyring: &keyring,
                    chain: &mut chain,
                    appended: &mut appended,
                    wal_truncate: &mut wal_truncate,
                };
                job(&mut ctx)
            }));
            let succeeded = matches!(&outcome, Ok(c) if c.succeeded);
            if succeeded {
                let _ = savepoint(&conn, "RELEASE command");
            } else {
                let _ = savepoint(&conn, "ROLLBACK TO command");
                let _ = savepoint(&conn, "RELEASE command");
                chain = chain_before;
                appended.truncate(appended_before);
            }
            match outcome {
                Ok(completion) => completions.push(completion),
                Err(_) => tracing::error!("a command panicked inside the writer; it was rolled back"),
            }
        }
        let commit_started = std::time::Instant::now();
        let committed = conn.execute_batch("COMMIT");
        span.record("events", appended.len());
        span.record("commit_ms", commit_started.elapsed().as_secs_f64() * 1000.0);
        match committed {
            Ok(()) => {
                metrics.record_batch(completions.len(), appended.len());
                // Erasure is only answered once the WAL no longer holds the destroyed key.
                if wal_truncate {
                    wal_truncate = false;
                    match conn.row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0)) {
                        Ok(0) => {}
                        Ok(_) => tracing::warn!("WAL truncate after erasure was blocked by readers"),
                        Err(e) => tracing::warn!(error = %e, "WAL truncate after erasure failed"),
                    }
                }
                for completion in completions {
                    (completion.reply)(None);
                }
                if !appended.is_empty() {
                    for hook in &hooks {
                        hook(&appended);
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "writer commit failed; the batch was rolled back");
                let _ = conn.execute_batch("ROLLBACK");
                for completion in completions {
                    (completion.reply)(Some(AppError::Internal(format!("commit failed: {e}"))));
                }
            }
        }
    }
}
