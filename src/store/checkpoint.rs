//! WAL checkpoints off the writer thread, and the WAL's restarts: owns the checkpoint thread and the
//! gate through which it asks the writer for a quiet moment. Must not write rows (it only copies
//! committed pages back into the database) and must never make the writer wait for long.
//!
//! Why restarts matter: SQLite appends to the WAL until a transaction begins with every frame copied
//! back and no reader in the WAL; only then does it write from the WAL's start again. Under a steady
//! write load the writer begins its next batch before a concurrent checkpoint has caught up, so the WAL
//! never restarts and the file grows without end (gigabytes in a minute of identity creations). Each
//! append into new file space costs the kernel far more than an overwrite of cached pages (profiled on
//! ext4, Linux 6.18: a fifth of the writer's time went to zeroing fresh page-cache folios, `__pi_memset`
//! under `ext4_block_write_begin`); a WAL file filled with zeros beforehand raised wrk's identity
//! creations from 5.0k to 6.3-6.7k/s. So once the WAL is long, the checkpointer copies until little is
//! left, then asks the writer to pause between two batches while it copies the rest; the writer's next
//! batch starts from a fully copied WAL and SQLite restarts it, over the same cached file. wrk, 10 s on
//! a fresh server, before and after: 5.0k and 5.1k/s (p99 44 and 17 ms, the WAL 2.1 GB at the end)
//! against 7.9k and 8.1k/s (p99 25 and 28 ms, the WAL 0.36-0.42 GB).
//!
//! Why the write-back is paced: the kernel holds the pages a checkpoint copies into the database file in
//! its cache (background write-back starts only past a tenth of memory, or after 30 s), so each pass
//! ended with one sync of up to a hundred megabytes. The writer's commits, syncing the WAL on the same
//! disk, waited behind it: `perf trace` showed the checkpointer's sync of the database at 54-74 ms and a
//! commit's sync of the WAL at 43 ms beside it, where they take 5 ms otherwise. While a round runs, a
//! second thread asks the kernel every `WRITEBACK_PACE` to start writing out what is dirty
//! (`sync_file_range`, which only starts the writes and syncs nothing), so the pass's closing sync has
//! little left and the commits share the disk with small writes. Durability is unchanged: SQLite still
//! syncs the database before it counts any frame as copied.

use crate::error::{AppError, AppResult};
use rusqlite::Connection;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// When the checkpointer brings about a restart, and how. The server's is `Schedule::SERVER`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// The WAL length (in frames) past which a restart is brought about.
    pub restart_frames: i64,
    /// The most frames the last catch-up pass may let through before the writer is paused for the rest:
    /// the pause copies about that many pages and syncs the database.
    pub quiet_copy_frames: i64,
    /// How many copying passes run while the writer writes before this round gives up on a restart.
    pub catch_up_passes: usize,
    /// Past this length readers have kept the WAL from restarting for a long while: the WAL is truncated
    /// when it can be, which makes writers wait while it runs.
    pub truncate_frames: i64,
}

impl Schedule {
    /// A restart every 256 MiB of 2 KiB pages (three seconds or so of identity creations at full load):
    /// each costs the writer a pause, mostly 4-15 ms (now and then 100 ms, a slow sync), so they are kept
    /// rare. Chosen by measurement (wrk creations, 10 s on a fresh server): restarting every 64 MiB gave
    /// 7.2-7.7k/s with p99 68-100 ms (pauses of 5-80 ms, copying up to 4,096 frames), every 256 MiB with
    /// at most 128 frames left for the pause 7.9k/s with p99 23 ms.
    pub const SERVER: Schedule =
        Schedule { restart_frames: 131_072, quiet_copy_frames: 128, catch_up_passes: 12, truncate_frames: 524_288 };
}

/// The WAL file's size after a restart when it has grown larger (SQLite's `journal_size_limit`): above the
/// restart length, so under load the file settles at one size and is overwritten rather than cut and grown
/// again. An idle writer's WAL is truncated to nothing instead (see `checkpoint_round`).
const WAL_SIZE_LIMIT_BYTES: i64 = 512 << 20;
/// Between rounds.
pub const TICK: Duration = Duration::from_millis(250);
/// The longest the checkpointer waits for the writer to finish its batch before giving up this round.
const MAX_WAIT_FOR_BATCH: Duration = Duration::from_millis(100);
/// The longest the writer waits for the checkpointer's quiet copy; past it the writer goes on (SQLite
/// keeps both safe; the WAL then restarts on a later round, and meanwhile grows into new file space).
/// Most copies take under 10 ms, a few over 100 ms (a slow sync). Measured with idv-bench on one binary
/// (10 s phases): 100 ms gave 8.0k creations/s with p99 18.8 ms, 25 ms 7.1k/s with p99 24.3 ms, the
/// failed restarts costing more than the shorter pauses save.
const MAX_WRITER_PAUSE: Duration = Duration::from_millis(100);

/// How often, while a checkpoint round runs, the kernel is asked to start writing out the database pages it
/// copied. wrk creations (c64, 10 s on a fresh server), seven alternating runs each: without pacing p99
/// 34-41 ms at 5.3-6.1k/s, with requests of 50-100 ms at the server; pacing every 25 ms p99 24-27 ms at
/// 5.4-5.9k/s in six of them (one run at 3.7k/s, p99 53 ms), and none over 50 ms at the server. The commits
/// now carry part of the copy's writes: p90 rose by about 1 ms.
const WRITEBACK_PACE: Duration = Duration::from_millis(25);

/// Asks the kernel to start writing out the file's dirty pages, without waiting for them or syncing.
#[allow(unsafe_code)]
fn start_writeback(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `sync_file_range` reads only its scalar arguments; the descriptor stays open for the call.
    let done = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if done == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether a checkpoint round is running: the write-back pacer works only then.
#[derive(Default)]
struct RoundRunning {
    running: Mutex<bool>,
    changed: Condvar,
}

impl RoundRunning {
    fn set(&self, running: bool) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = running;
        self.changed.notify_all();
    }

    /// Starts the write-back of `database` every `WRITEBACK_PACE` while a round runs; sleeps otherwise.
    fn pace_writeback(&self, database: &File) -> ! {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if *running {
                drop(running);
                if let Err(e) = start_writeback(database) {
                    tracing::warn!(error = %e, "cannot start the write-back of the database file");
                }
                std::thread::sleep(WRITEBACK_PACE);
                running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            } else {
                running = self.changed.wait(running).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

/// Shared by the writer and the checkpointer: the writer holds it for each batch, the checkpointer
/// asks for a moment between two.
pub struct WriterGate {
    state: Mutex<GateState>,
    changed: Condvar,
    max_writer_pause: Duration,
}

impl Default for WriterGate {
    fn default() -> Self {
        Self::with_max_writer_pause(MAX_WRITER_PAUSE)
    }
}

#[derive(Default)]
struct GateState {
    quiet_wanted: bool,
    in_batch: bool,
}

/// Held by the writer for the length of one batch.
pub struct InBatch<'a>(&'a WriterGate);

/// Held by the checkpointer while the writer is paused.
struct Quiet<'a>(&'a WriterGate);

impl WriterGate {
    /// A gate whose writer waits at most `max_writer_pause` for a quiet copy (the server's is
    /// `MAX_WRITER_PAUSE`; a test on a busy machine allows more).
    fn with_max_writer_pause(max_writer_pause: Duration) -> Self {
        Self { state: Mutex::default(), changed: Condvar::new(), max_writer_pause }
    }

    /// Called by the writer before it begins a batch: waits (at most its `max_writer_pause`) while the
    /// checkpointer has asked for quiet.
    pub fn enter_batch(&self) -> InBatch<'_> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = Instant::now() + self.max_writer_pause;
        while state.quiet_wanted {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        state.in_batch = true;
        InBatch(self)
    }

    /// Asks the writer to pause after its current batch; `None` when it did not finish within
    /// `MAX_WAIT_FOR_BATCH`.
    fn quiet(&self) -> Option<Quiet<'_>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.quiet_wanted = true;
        let deadline = Instant::now() + MAX_WAIT_FOR_BATCH;
        while state.in_batch {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                state.quiet_wanted = false;
                self.changed.notify_all();
                return None;
            }
            state = self.changed.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        Some(Quiet(self))
    }
}

impl Drop for InBatch<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.in_batch = false;
        self.0.changed.notify_all();
    }
}

impl Drop for Quiet<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.quiet_wanted = false;
        self.0.changed.notify_all();
    }
}

/// Frames in the WAL and frames copied back, after one passive checkpoint.
fn passive(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?)))
}

/// What one round did: the WAL's length after it, and how long its copy in the writer's pause took,
/// if it made one (the writer waits for at most `MAX_WRITER_PAUSE` of it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Round {
    pub wal_frames: i64,
    pub quiet_copy: Option<Duration>,
}

/// What the last round saw, so the next can tell an idle writer from a busy one.
#[derive(Debug, Default, Clone, Copy)]
pub struct LastRound {
    wal_frames: i64,
}

/// One round: copy what the writer committed; when the WAL is long, catch up and copy the rest in a
/// pause between two batches, so the writer's next batch restarts the WAL; when the writer has been
/// idle since the last round, truncate the WAL (nobody waits on it then).
pub fn checkpoint_round(
    conn: &Connection,
    gate: &WriterGate,
    schedule: &Schedule,
    last: &mut LastRound,
) -> rusqlite::Result<Round> {
    let (mut log, copied) = passive(conn)?;
    let idle = log == last.wal_frames && log == copied;
    last.wal_frames = log;
    if idle && log > 0 {
        // Gives up at once (busy) when a reader or a writer is active; the next idle round tries again.
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        return Ok(Round { wal_frames: log, quiet_copy: None });
    }
    if log < schedule.restart_frames {
        return Ok(Round { wal_frames: log, quiet_copy: None });
    }
    // Each pass copies what the writer committed during the one before; passes shorten while copying
    // outpaces writing, until what the last pass let through is small enough to copy in a pause.
    let mut written_meanwhile = i64::MAX;
    for _ in 0..schedule.catch_up_passes {
        let (next_log, _) = passive(conn)?;
        written_meanwhile = next_log - log;
        log = next_log;
        if written_meanwhile <= schedule.quiet_copy_frames {
            break;
        }
    }
    let mut quiet_copy = None;
    if written_meanwhile <= schedule.quiet_copy_frames {
        if let Some(quiet) = gate.quiet() {
            let started = Instant::now();
            (log, _) = passive(conn)?;
            drop(quiet);
            quiet_copy = Some(started.elapsed());
        }
    }
    if log > schedule.truncate_frames {
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
    last.wal_frames = log;
    Ok(Round { wal_frames: log, quiet_copy })
}

/// Turns off the writer connection's automatic checkpoint and bounds the WAL file it leaves after a restart.
pub fn hand_checkpoints_over(writer: &Connection) -> rusqlite::Result<()> {
    writer.pragma_update(None, "wal_autocheckpoint", 0)?;
    writer.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES)
}

/// Moves WAL checkpoints off the writer: turns off the writer connection's automatic checkpoint and
/// starts the thread that checkpoints on its own connection (`configure` sets it up like the others).
/// Returns the gate the writer must hold for each batch; `observe` is told what each round did. A second
/// thread paces the write-back of the pages each round copies. Both end when the process does.
pub fn start(
    writer: &Connection,
    path: &Path,
    configure: impl FnOnce(&Connection) -> AppResult<()>,
    observe: impl Fn(&Round) + Send + 'static,
) -> AppResult<Arc<WriterGate>> {
    hand_checkpoints_over(writer)?;
    let conn = Connection::open(path)?;
    configure(&conn)?;
    // Never wait on a lock: a truncating checkpoint holds the write lock while it waits for readers,
    // so every writer would wait with it. When readers are busy it gives up at once and tries later.
    conn.busy_timeout(Duration::ZERO)?;
    let database = File::open(path)
        .map_err(|e| AppError::Internal(format!("cannot open {} for write-back: {e}", path.display())))?;
    let round_running = Arc::new(RoundRunning::default());
    let pacer = round_running.clone();
    std::thread::Builder::new()
        .name("idv-writeback".into())
        .spawn(move || pacer.pace_writeback(&database))
        .map_err(|e| AppError::Internal(format!("cannot start the write-back pacer: {e}")))?;
    let gate = Arc::new(WriterGate::default());
    let shared = gate.clone();
    std::thread::Builder::new()
        .name("idv-checkpoint".into())
        .spawn(move || {
            let mut last = LastRound::default();
            loop {
                std::thread::sleep(TICK);
                round_running.set(true);
                let round = checkpoint_round(&conn, &shared, &Schedule::SERVER, &mut last);
                round_running.set(false);
                match round {
                    Ok(round) => observe(&round),
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                }
            }
        })
        .map_err(|e| AppError::Internal(format!("cannot start checkpointer: {e}")))?;
    Ok(gate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn the_checkpointer_waits_for_the_writers_batch_and_the_writer_for_its_quiet_copy() {
        let gate = Arc::new(WriterGate::default());
        let batch = gate.enter_batch();
        let (asked, in_quiet) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let checkpointer = {
            let (gate, asked, in_quiet) = (gate.clone(), asked.clone(), in_quiet.clone());
            std::thread::spawn(move || {
                asked.store(true, Ordering::SeqCst);
                let quiet = gate.quiet().expect("the batch ends within the wait");
                in_quiet.store(true, Ordering::SeqCst);
                std::thread::sleep(MAX_WRITER_PAUSE / 3);
                in_quiet.store(false, Ordering::SeqCst);
                drop(quiet);
            })
        };
        while !asked.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(20));
        assert!(!in_quiet.load(Ordering::SeqCst), "no quiet copy while a batch runs");
        drop(batch);
        while !in_quiet.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        let _next = gate.enter_batch();
        assert!(!in_quiet.load(Ordering::SeqCst), "the next batch began during the quiet copy");
        checkpointer.join().unwrap();
    }

    #[test]
    fn a_quiet_copy_longer_than_the_writers_pause_does_not_hold_it_further() {
        let gate = WriterGate::default();
        let _quiet = gate.quiet().expect("no batch runs");
        let started = Instant::now();
        let _batch = gate.enter_batch();
        let waited = started.elapsed();
        assert!(waited >= MAX_WRITER_PAUSE, "the writer did not wait for the quiet copy ({waited:?})");
        assert!(waited < MAX_WRITER_PAUSE * 4, "the writer waited {waited:?}");
    }

    #[test]
    fn a_batch_longer_than_the_wait_leaves_the_writer_unpaused() {
        let gate = WriterGate::default();
        let _batch = gate.enter_batch();
        std::thread::scope(|s| {
            let asked = s.spawn(|| gate.quiet().is_some());
            assert!(!asked.join().unwrap(), "the checkpointer gave up instead of waiting on");
        });
        assert!(!gate.state.lock().unwrap().quiet_wanted, "the writer's next batch is not held up");
    }

    /// The server's schedule at a sixteenth of its restart length, so the test writes little, with a pause
    /// allowed to copy a quarter of that: with two other test suites loading the machine, catch-up passes
    /// often never came within the server's 128 frames of this flat-out writer before the test's bound.
    const SMALL: Schedule = Schedule {
        restart_frames: Schedule::SERVER.restart_frames / 16,
        quiet_copy_frames: Schedule::SERVER.restart_frames / 64,
        catch_up_passes: Schedule::SERVER.catch_up_passes,
        truncate_frames: i64::MAX,
    };

    #[test]
    fn a_long_wal_is_restarted_under_a_steady_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "page_size", 2048).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        // FULL, as the server: every commit syncs, as every checkpoint pass does. With NORMAL only the
        // checkpointer synced, and on a disk busy with other tests its passes fell behind a writer that never
        // waited on the disk, so the WAL never got short enough for the pause (seen once in `make test`).
        writer.pragma_update(None, "synchronous", "FULL").unwrap();
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer.execute_batch("CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID").unwrap();
        let checkpointer = Connection::open(&path).unwrap();
        checkpointer.pragma_update(None, "synchronous", "FULL").unwrap();
        // The mechanism, not its timing, is under test: on a machine busy with other tests the quiet copy
        // may outlast the server's pause, and the writer would go on before it ends.
        let gate = Arc::new(WriterGate::with_max_writer_pause(Duration::from_secs(2)));
        let restarted = Arc::new(AtomicBool::new(false));
        let rounds = {
            let (gate, restarted) = (gate.clone(), restarted.clone());
            std::thread::spawn(move || {
                let (mut longest, started, mut last) = (0i64, Instant::now(), LastRound::default());
                let (mut paused, mut rounds_since_pause) = (false, 0);
                // Bounded in time and length (512 MiB): without restarts the WAL grows as long as the writer
                // writes. On a loaded machine one round's copying can outlast that length; the WAL restarts
                // at the writer's first batch after the pause, so a few rounds after one are still watched.
                while started.elapsed() < Duration::from_secs(60)
                    && (longest < 32 * SMALL.restart_frames || (paused && rounds_since_pause < 4))
                {
                    let round = checkpoint_round(&checkpointer, &gate, &SMALL, &mut last).unwrap();
                    rounds_since_pause += usize::from(paused);
                    paused |= round.quiet_copy.is_some();
                    let length = round.wal_frames;
                    if length < longest && longest >= SMALL.restart_frames {
                        assert!(paused, "the WAL restarted without a copy in the writer's pause first");
                        restarted.store(true, Ordering::SeqCst);
                        return longest;
                    }
                    longest = longest.max(length);
                    std::thread::sleep(Duration::from_millis(5));
                }
                longest
            })
        };
        // Back-to-back batches of random keys: every row dirties its own leaf page, as blind-index rows do.
        while !rounds.is_finished() {
            let _in_batch = gate.enter_batch();
            writer.execute_batch("BEGIN IMMEDIATE").unwrap();
            for _ in 0..64 {
                let key: [u8; 16] = rand::random();
                writer.execute("INSERT INTO t VALUES (?1, zeroblob(200))", [key.to_vec()]).unwrap();
            }
            writer.execute_batch("COMMIT").unwrap();
        }
        let longest = rounds.join().unwrap();
        assert!(
            restarted.load(Ordering::SeqCst),
            "the WAL reached {longest} frames and never started again from its beginning"
        );
    }

    /// Pages of `file` the kernel holds dirty or is writing out (Linux's `cachestat`, 6.5 and later).
    #[allow(unsafe_code)]
    fn unwritten_pages(file: &File) -> u64 {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct Range {
            offset: u64,
            length: u64,
        }
        #[repr(C)]
        #[derive(Default)]
        struct CacheStat {
            cached: u64,
            dirty: u64,
            writeback: u64,
            evicted: u64,
            recently_evicted: u64,
        }
        // The system call's number, the same on every architecture (libc does not name it yet).
        const SYS_CACHESTAT: libc::c_long = 451;
        // A length of zero means to the end of the file.
        let (range, mut stat) = (Range { offset: 0, length: 0 }, CacheStat::default());
        // SAFETY: both structs are laid out as the kernel's and outlive the call.
        let done = unsafe {
            libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &range as *const Range, &mut stat as *mut CacheStat, 0)
        };
        assert_eq!(done, 0, "cachestat: {}", std::io::Error::last_os_error());
        stat.dirty + stat.writeback
    }

    /// Writes a few megabytes the kernel keeps dirty in its cache (its own write-back waits 30 s for them).
    fn dirty_file(dir: &Path, name: &str) -> File {
        let path = dir.join(name);
        std::fs::write(&path, vec![7u8; 4 << 20]).unwrap();
        let file = File::open(&path).unwrap();
        assert!(unwritten_pages(&file) > 0, "the kernel already wrote the file out");
        file
    }

    fn written_out_within(file: &File, bound: Duration) -> bool {
        let started = Instant::now();
        while unwritten_pages(file) > 0 {
            if started.elapsed() > bound {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    #[test]
    fn the_pacer_writes_the_database_out_while_a_round_runs_and_leaves_it_alone_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let database = dirty_file(dir.path(), "paced.db");
        let watched = database.try_clone().unwrap();
        let round_running = Arc::new(RoundRunning::default());
        let pacer = round_running.clone();
        std::thread::spawn(move || pacer.pace_writeback(&database));
        std::thread::sleep(WRITEBACK_PACE * 8);
        assert!(unwritten_pages(&watched) > 0, "the pacer wrote out pages while no round ran");
        round_running.set(true);
        assert!(written_out_within(&watched, Duration::from_secs(10)), "the pages are still unwritten during a round");
        round_running.set(false);
    }

    #[test]
    fn starting_the_write_back_sends_the_dirty_pages_to_the_disk_without_a_sync() {
        let dir = tempfile::tempdir().unwrap();
        let file = dirty_file(dir.path(), "kicked.db");
        start_writeback(&file).unwrap();
        assert!(written_out_within(&file, Duration::from_secs(10)), "the pages are still unwritten");
    }

    #[test]
    fn the_wal_is_truncated_once_the_writer_has_been_idle_for_a_round() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idle.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        hand_checkpoints_over(&writer).unwrap();
        writer.execute_batch("CREATE TABLE t (v BLOB); INSERT INTO t VALUES (zeroblob(100000));").unwrap();
        let checkpointer = Connection::open(&path).unwrap();
        let (gate, mut last) = (WriterGate::default(), LastRound::default());
        let wal = path.with_file_name("idle.db-wal");
        let first = checkpoint_round(&checkpointer, &gate, &Schedule::SERVER, &mut last).unwrap();
        assert!(first.wal_frames > 0 && std::fs::metadata(&wal).unwrap().len() > 0, "the writes are in the WAL");
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        checkpoint_round(&checkpointer, &gate, &Schedule::SERVER, &mut last).unwrap();
        assert!(std::fs::metadata(&wal).unwrap().len() > 0, "a writer that wrote since the last round keeps its WAL");
        checkpoint_round(&checkpointer, &gate, &Schedule::SERVER, &mut last).unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0, "an idle round truncates the WAL");
    }
}
