//! The single write connection and its thread: queues commands, runs them in one IMMEDIATE transaction
//! per batch (group commit) with a savepoint per command (none for the commands that check everything before
//! they write), and answers callers only after COMMIT.
//! Must not be bypassed: every append to the event log goes through `WriteCtx::emit`.

use crate::crypto::Keyring;
use crate::error::{AppError, AppResult};
use crate::metrics::Metrics;
use crate::projections;
use crate::store::events::{self, ChainHead, EventMeta, NewEvent, StoredEvent};
use crate::store::{Exec, WriterGate};
use rusqlite::Connection;
use std::collections::VecDeque;
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

    /// Appends events to one stream and projects them into the views, in this transaction. Returns the
    /// events as stored (kept with the batch's others for the commit hooks, not copied).
    pub fn emit(
        &mut self,
        meta: &EventMeta,
        stream_id: &str,
        expected_version: i64,
        new_events: Vec<NewEvent>,
    ) -> AppResult<&[StoredEvent]> {
        let stored =
            events::append(self.conn, self.chain, self.keyring, meta, stream_id, expected_version, new_events)?;
        for event in &stored {
            projections::apply(self.conn, self.keyring, event)?;
            // Right after its projection, so the outbox sees the state as of this event.
            crate::webhooks::outbox::on_append(self.conn, event)?;
        }
        let first = self.appended.len();
        self.appended.extend(stored);
        Ok(&self.appended[first..])
    }
}

struct Completion {
    succeeded: bool,
    reply: Box<dyn FnOnce(Option<AppError>) + Send>,
}

/// A queued command and whether it runs inside a savepoint of its own.
struct Job {
    run: Box<dyn FnOnce(&mut WriteCtx<'_>) -> Completion + Send>,
    savepoint: bool,
}

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

    /// Runs `command` inside the next batch, in a savepoint of its own (a failure undoes its writes and
    /// nothing else); resolves after the batch has committed.
    pub async fn execute<T, F>(&self, command: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> AppResult<T> + Send + 'static,
    {
        self.enqueue(command, true).await
    }

    /// `execute` for a command that makes every check before its first write, so that once it writes only
    /// the storage can fail it: it runs without a savepoint, whose copy of each page the command touches
    /// was a tenth of the writer's time for an identity creation. Should such a command fail after writing
    /// all the same, the batch's transaction is rolled back, the commands before it in the batch are
    /// answered 503 with Retry-After (nothing of theirs was committed), and the rest run in a new one.
    pub async fn execute_checked_first<T, F>(&self, command: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> AppResult<T> + Send + 'static,
    {
        self.enqueue(command, false).await
    }

    async fn enqueue<T, F>(&self, command: F, savepoint: bool) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> AppResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        // The command runs on the writer thread inside the caller's span, so its logs carry the request id.
        let span = tracing::Span::current();
        let run = Box::new(move |ctx: &mut WriteCtx<'_>| {
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
        let job = Job { run, savepoint };
        self.sender.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => AppError::Overloaded { retry_after: FULL_QUEUE_RETRY_SECS },
            mpsc::TrySendError::Disconnected(_) => AppError::Unavailable("The writer has stopped.".into()),
        })?;
        let answer = rx.await.map_err(|_| AppError::Internal("command aborted inside the writer".into()))?;
        if answer.is_ok() {
            // The command has committed: the request's reads from here on are queued, not refused.
            crate::store::note_committed();
        }
        answer
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
    let mut wal_truncate = false;
    while let Ok(first) = receiver.recv() {
        let mut batch = VecDeque::from([first]);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push_back(job),
                Err(_) => break,
            }
        }
        // Normally one transaction; more only when a command without a savepoint failed after writing.
        while !batch.is_empty() {
            commit_transaction(&conn, gate, &keyring, &mut batch, &metrics, &hooks, &mut wal_truncate);
        }
    }
}

/// What became of one queued command inside the transaction.
enum Ran {
    Kept(Completion),
    /// It failed (or panicked) and its writes, if any, were undone.
    Undone(Option<Completion>),
    /// It failed after writing without a savepoint: only rolling back the transaction undoes it.
    Poisoned(Option<Completion>),
}

fn run_job(
    conn: &Connection,
    keyring: &Keyring,
    chain: &mut ChainHead,
    appended: &mut Vec<StoredEvent>,
    wal_truncate: &mut bool,
    job: Job,
) -> Ran {
    if job.savepoint && savepoint(conn, "SAVEPOINT command").is_err() {
        return Ran::Undone(None);
    }
    let chain_before = chain.clone();
    let appended_before = appended.len();
    let changes_before = conn.total_changes();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut ctx =
            WriteCtx { conn, keyring, chain: &mut *chain, appended: &mut *appended, wal_truncate: &mut *wal_truncate };
        (job.run)(&mut ctx)
    }));
    let succeeded = matches!(&outcome, Ok(c) if c.succeeded);
    if job.savepoint {
        if succeeded {
            let _ = savepoint(conn, "RELEASE command");
        } else {
            let _ = savepoint(conn, "ROLLBACK TO command");
            let _ = savepoint(conn, "RELEASE command");
        }
    }
    if outcome.is_err() {
        tracing::error!("a command panicked inside the writer; it was rolled back");
    }
    let completion = outcome.ok();
    if succeeded {
        return Ran::Kept(completion.expect("a succeeded command has its completion"));
    }
    *chain = chain_before;
    let wrote = conn.total_changes() != changes_before || appended.len() != appended_before;
    appended.truncate(appended_before);
    if !job.savepoint && wrote {
        Ran::Poisoned(completion)
    } else {
        Ran::Undone(completion)
    }
}

/// Runs queued commands from the front of `batch` in one IMMEDIATE transaction and commits it, then answers
/// their callers. Stops early, rolling back, when a command without a savepoint failed after writing.
fn commit_transaction(
    conn: &Connection,
    gate: &WriterGate,
    keyring: &Keyring,
    batch: &mut VecDeque<Job>,
    metrics: &Metrics,
    hooks: &[CommitHook],
    wal_truncate: &mut bool,
) {
    // One span per transaction (not per command): cheap on the hot path, and its fields say how big the
    // batch was, how many events it appended and how long the COMMIT (the fsync) took.
    let span = tracing::info_span!(
        "writer_batch",
        commands = tracing::field::Empty,
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
        batch.clear();
        return;
    }
    // Another process (the CLI: `idv keys create`, `idv lists import`) may have appended since the last
    // batch; under the IMMEDIATE lock the head read here is the real one.
    let mut chain = match ChainHead::load(conn) {
        Ok(head) => head,
        Err(e) => {
            tracing::error!(error = %e, "writer could not read the chain head");
            let _ = conn.execute_batch("ROLLBACK");
            batch.clear();
            return;
        }
    };
    let mut appended: Vec<StoredEvent> = Vec::new();
    let mut completions = Vec::with_capacity(batch.len());
    while let Some(job) = batch.pop_front() {
        match run_job(conn, keyring, &mut chain, &mut appended, wal_truncate, job) {
            Ran::Kept(completion) => completions.push(completion),
            Ran::Undone(completion) => completions.extend(completion),
            Ran::Poisoned(completion) => {
                tracing::error!("a command without a savepoint failed after writing; its batch was rolled back");
                let _ = conn.execute_batch("ROLLBACK");
                for earlier in completions {
                    let retry =
                        earlier.succeeded.then_some(AppError::Overloaded { retry_after: FULL_QUEUE_RETRY_SECS });
                    (earlier.reply)(retry);
                }
                if let Some(completion) = completion {
                    (completion.reply)(None);
                }
                return;
            }
        }
    }
    span.record("commands", completions.len());
    let commit_started = std::time::Instant::now();
    let committed = conn.execute_batch("COMMIT");
    span.record("events", appended.len());
    span.record("commit_ms", commit_started.elapsed().as_secs_f64() * 1000.0);
    match committed {
        Ok(()) => {
            metrics.record_batch(completions.len(), appended.len());
            // Erasure is only answered once the WAL no longer holds the destroyed key.
            if *wal_truncate {
                *wal_truncate = false;
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
                for hook in hooks {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Waker};

    type Pending = Pin<Box<dyn Future<Output = AppResult<()>>>>;

    /// A writer on a fresh database with a scratch table, and its data folder.
    fn scratch_writer() -> (Writer, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        let conn = crate::store::open_writer(&path, crate::store::Durability::Normal).unwrap();
        conn.execute_batch("CREATE TABLE scratch (v TEXT NOT NULL)").unwrap();
        let gate = crate::store::start_checkpointer(&conn, &path, crate::store::Durability::Normal, |_| {}).unwrap();
        let keyring = Arc::new(Keyring::new(&crate::crypto::MasterKey::from_bytes([3u8; 32])));
        let writer = Writer::start(conn, gate, keyring, Arc::new(Metrics::default()), Vec::new(), 64).unwrap();
        (writer, dir)
    }

    fn insert(w: &mut WriteCtx<'_>, v: &str) -> AppResult<()> {
        w.conn.execute("INSERT INTO scratch (v) VALUES (?1)", [v])?;
        Ok(())
    }

    /// A command in a savepoint of its own (`execute`), not yet queued.
    fn guarded(writer: &Writer, command: impl FnOnce(&mut WriteCtx<'_>) -> AppResult<()> + Send + 'static) -> Pending {
        let writer = writer.clone();
        Box::pin(async move { writer.execute(command).await })
    }

    /// A command without a savepoint (`execute_checked_first`), not yet queued.
    fn unguarded(
        writer: &Writer,
        command: impl FnOnce(&mut WriteCtx<'_>) -> AppResult<()> + Send + 'static,
    ) -> Pending {
        let writer = writer.clone();
        Box::pin(async move { writer.execute_checked_first(command).await })
    }

    /// Polls once, which queues the command, and checks it is still waiting for its batch.
    fn queued(mut command: Pending) -> Pending {
        let poll = command.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        assert!(poll.is_pending(), "the writer is held, so nothing can have run yet");
        command
    }

    /// Runs `make_batch`'s commands as one batch: the writer is held by a first command until all of them
    /// are queued. Returns each command's result and the scratch rows committed.
    fn one_batch(make_batch: impl FnOnce(&Writer) -> Vec<Pending>) -> (Vec<AppResult<()>>, Vec<String>) {
        let (writer, _dir) = scratch_writer();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (holding, is_holding) = std::sync::mpsc::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let hold = queued(guarded(&writer, move |_| {
            holding.send(()).unwrap();
            held.recv().unwrap();
            Ok(())
        }));
        is_holding.recv().unwrap();
        let commands: Vec<Pending> = make_batch(&writer).into_iter().map(queued).collect();
        release.send(()).unwrap();
        rt.block_on(hold).unwrap();
        let results = commands.into_iter().map(|c| rt.block_on(c)).collect();
        let rows = rt
            .block_on(writer.execute(|w| {
                let mut stmt = w.conn.prepare("SELECT v FROM scratch ORDER BY rowid")?;
                let rows = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
                Ok(rows)
            }))
            .unwrap();
        (results, rows)
    }

    #[test]
    fn a_command_without_a_savepoint_failing_after_its_first_write_rolls_back_its_batch_and_the_rest_runs_anew() {
        let (results, rows) = one_batch(|writer| {
            vec![
                guarded(writer, |w| insert(w, "before")),
                unguarded(writer, |w| {
                    insert(w, "half-written")?;
                    Err(AppError::Internal("failed after writing".into()))
                }),
                guarded(writer, |w| insert(w, "after")),
            ]
        });
        assert!(
            matches!(results[0], Err(AppError::Overloaded { .. })),
            "the command before it was rolled back with it, and is told to retry: {:?}",
            results[0]
        );
        assert!(matches!(&results[1], Err(AppError::Internal(m)) if m == "failed after writing"));
        assert!(results[2].is_ok(), "the command after it ran in a new transaction: {:?}", results[2]);
        assert_eq!(rows, ["after"], "nothing of the rolled-back transaction was committed");
    }

    #[test]
    fn a_command_without_a_savepoint_failing_before_it_writes_leaves_its_batch_alone() {
        let (results, rows) = one_batch(|writer| {
            vec![
                guarded(writer, |w| insert(w, "before")),
                unguarded(writer, |_| Err(AppError::Conflict("refused before writing".into()))),
                guarded(writer, |w| {
                    insert(w, "half-written")?;
                    Err(AppError::Internal("undone by its savepoint".into()))
                }),
                unguarded(writer, |w| insert(w, "after")),
            ]
        });
        assert!(results[0].is_ok());
        assert!(matches!(&results[1], Err(AppError::Conflict(_))));
        assert!(matches!(&results[2], Err(AppError::Internal(_))));
        assert!(results[3].is_ok());
        assert_eq!(rows, ["before", "after"]);
    }
}
