//! A SQLite VFS that hands a transaction's WAL frames to the OS as one write instead of two per page, and
//! can leave a commit's WAL sync to its caller. Owns the writer's unsafe calls into SQLite's VFS interface
//! (registering a shim and wrapping its files is `store::vfs_shim`'s, shared with the readers' `kept_map`);
//! must not change what reaches the disk, only how many system calls carry it and which thread waits for
//! the sync.
//!
//! SQLite writes each WAL frame as two `pwrite`s (its 24-byte header, then the page), so a commit of a few
//! hundred pages costs a few hundred system calls: under identity creations the writer made about 26
//! `pwrite`s per creation, close to half of its time. This shim wraps the platform VFS and keeps the
//! writes to a WAL file that continue one another in a buffer, handed to the OS as one write before the
//! file is synced, read, sized, truncated or closed, when a write does not continue the buffer, or past
//! [`FLUSH_BYTES`].
//!
//! Sound only where every commit syncs the WAL (`synchronous=FULL`): SQLite publishes a commit to other
//! connections (the wal-index header) after that sync, so a reader never looks for a frame still in the
//! buffer, and a crash loses only frames of a transaction that had not committed, which recovery ignores
//! as it would have had the OS not written them yet. `store::open_writer` uses it only then. Hand-written
//! rather than a crate: the VFS crates on crates.io implement whole file systems; this forwards every call
//! but four to the platform VFS, in the way SQLite's own shims (vfstrace, multiplex) do.
//!
//! Deferred syncs ([`commit_deferring_sync`]): inside that call a commit's frames still reach the OS before
//! SQLite publishes them, but the sync of the WAL is handed back as a [`WalSync`] on a handle of the
//! file's own, so a program can insert its next batch while another thread syncs. Three syncs are never
//! deferred: a WAL file's first (the platform VFS then also syncs its directory), one after the WAL header
//! was rewritten (SQLite orders the header before the frames that follow a restart), and any outside that
//! call (checkpoints among them, which sync the WAL before copying any frame into the database). The bench's
//! SQLite ceiling tries it. The server does not: a deferred commit is published before it is on disk, and
//! neither way of keeping reads off it held up under creations and reads together (wrk, 32 connections
//! each). Gating readers until the sync (10% more creations alone) cut reads from 29k to 11k/s (p99 4 to
//! 19-34 ms), as with writes arriving continuously a sync is nearly always outstanding. Opening the last
//! synced state for them instead (`sqlite3_snapshot_open`) cost reads 20% and raised their p99 from 6 to
//! 61-99 ms, most likely (not traced) because every checkpoint round copies frames past that state, which
//! then cannot be opened, so reads wait for a sync that is slow beside the checkpoint's own. Keeping the
//! checkpointer behind the synced state would be the next thing to try.
#![allow(unsafe_code)]

use super::vfs_shim::{self, forwarding, io_methods, unchanged_methods, Shim};
use rusqlite::ffi;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::fs::File;
use std::sync::Arc;

/// The name connections open the database with (`Connection::open_with_flags_and_vfs`).
const VFS_NAME_C: &CStr = c"idv-wal-coalesce";

/// A buffer handed to the OS once it holds this much (a bound on the memory a large transaction holds).
const FLUSH_BYTES: usize = 4 << 20;

/// The most one write to the platform VFS may carry: the unix VFS masks a write's length to 17 bits.
const WRITE_BYTES: usize = 120 << 10;

#[cfg(test)]
thread_local! {
    /// What this thread's WAL writes did: the tests' window onto the coalescing (SQLite calls the VFS on the
    /// thread that runs the statement).
    static COUNTS: std::cell::Cell<WriteCounts> =
        const { std::cell::Cell::new(WriteCounts { os: 0, asked: 0, out_of_line: 0, synced: 0, deferred: 0 }) };
}

/// Writes to WAL files by one thread so far.
#[cfg(test)]
#[derive(Clone, Copy, Debug)]
struct WriteCounts {
    /// Handed to the OS.
    os: u64,
    /// Asked for by SQLite.
    asked: u64,
    /// Asked for at an offset that did not continue the buffered writes (a frame rewritten in place).
    out_of_line: u64,
    /// Syncs handed to the platform VFS.
    synced: u64,
    /// Syncs left to the caller of `commit_deferring_sync`.
    deferred: u64,
}

#[cfg(test)]
fn thread_write_counts() -> WriteCounts {
    COUNTS.with(|c| c.get())
}

#[cfg(test)]
fn count(os: u64, asked: u64, out_of_line: u64) {
    COUNTS.with(|c| {
        let n = c.get();
        c.set(WriteCounts { os: n.os + os, asked: n.asked + asked, out_of_line: n.out_of_line + out_of_line, ..n });
    });
}

#[cfg(not(test))]
fn count(_: u64, _: u64, _: u64) {}

#[cfg(test)]
fn count_sync(deferred: bool) {
    COUNTS.with(|c| {
        let n = c.get();
        c.set(WriteCounts { synced: n.synced + u64::from(!deferred), deferred: n.deferred + u64::from(deferred), ..n });
    });
}

#[cfg(not(test))]
fn count_sync(_: bool) {}

/// A WAL sync left to the caller: the file's own handle, synced the way the platform VFS syncs it.
pub struct WalSync(Arc<File>);

impl WalSync {
    /// Blocks until every frame handed to the OS so far is on disk.
    pub fn sync(&self) -> std::io::Result<()> {
        // fsync, as SQLite's unix VFS does here (it is built without HAVE_FDATASYNC); Linux syncs the
        // file's pages whichever descriptor wrote them.
        self.0.sync_all()
    }
}

thread_local! {
    /// Set while this thread is inside `commit_deferring_sync`: `Some(None)` armed, `Some(Some(..))` once
    /// a sync was left to the caller.
    static DEFERRING: RefCell<Option<Option<WalSync>>> = const { RefCell::new(None) };
}

/// Runs `commit` (a COMMIT on a connection opened through this VFS, on this thread) with its WAL sync left
/// to the caller: returns what `commit` returned and the sync it must make before anyone may rely on the
/// commit, or none when every sync it asked for was made.
pub fn commit_deferring_sync<T>(commit: impl FnOnce() -> T) -> (T, Option<WalSync>) {
    DEFERRING.with(|d| *d.borrow_mut() = Some(None));
    // Disarmed however `commit` ends, so a later sync on this thread is never left undone.
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            DEFERRING.with(|d| d.borrow_mut().take());
        }
    }
    let disarm = Disarm;
    let committed = commit();
    let deferred = DEFERRING.with(|d| d.borrow_mut().take().flatten());
    drop(disarm);
    (committed, deferred)
}

/// Leaves this sync to the caller of `commit_deferring_sync`, when this thread is inside it.
fn defer(handle: &Arc<File>) -> bool {
    DEFERRING.with(|d| match &mut *d.borrow_mut() {
        Some(slot) => {
            *slot = Some(WalSync(handle.clone()));
            true
        }
        None => false,
    })
}

static SHIM: Shim = Shim::new(VFS_NAME_C);

/// Registers the VFS (once per process; not as the default) and gives the name to open connections with.
/// Errors when SQLite has no default VFS.
pub fn register() -> Result<&'static str, String> {
    SHIM.register(vfs_shim::wrapped_bytes::<Pending>(), x_open)
}

/// Writes that continue one another, not yet handed to the OS, and what decides whether a sync of the
/// file may be deferred.
struct Pending {
    offset: i64,
    bytes: Vec<u8>,
    /// The file's own handle for deferred syncs (none if it could not be opened: then none is deferred).
    handle: Option<Arc<File>>,
    /// The platform VFS has synced the file at least once (its first sync also syncs the directory).
    synced_once: bool,
    /// The WAL header (offset 0) was written since the last sync.
    header_written: bool,
}

/// A WAL file is wrapped (its writes are coalesced); any other file is the platform's own, opened in place,
/// so this VFS never sees its calls.
unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let wrap = flags & ffi::SQLITE_OPEN_WAL != 0;
    let pending = || {
        let handle = (!name.is_null())
            .then(|| {
                // SAFETY: SQLite passes a NUL-terminated full path for a WAL file (checked for null above).
                let path = unsafe { CStr::from_ptr(name) }.to_bytes();
                File::open(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path))
            })
            .and_then(Result::ok)
            .map(Arc::new);
        Pending { offset: 0, bytes: Vec::new(), handle, synced_once: false, header_written: false }
    };
    // SAFETY: SQLite's xOpen contract, forwarded; `file` has the szOsFile bytes `register` set.
    unsafe { vfs_shim::open::<Pending>(&SHIM, name, file, flags, out_flags, wrap, &METHODS, pending) }
}

/// The platform file, its methods and the buffered writes behind one of ours.
///
/// # Safety
/// `file` must be a WAL file opened by `x_open`.
unsafe fn parts<'a>(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'a ffi::sqlite3_io_methods, &'a mut Pending) {
    // SAFETY: forwarded contract.
    unsafe { vfs_shim::parts::<Pending>(file) }
}

/// Hands the buffered writes to the OS as one write.
///
/// # Safety
/// `file` must be a WAL file opened by `x_open`.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: forwarded contract.
    let (inner, methods, pending) = unsafe { parts(file) };
    if pending.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let Some(write) = methods.xWrite else { return ffi::SQLITE_IOERR_WRITE };
    let mut offset = pending.offset;
    let mut rc = ffi::SQLITE_OK;
    for chunk in pending.bytes.chunks(WRITE_BYTES) {
        // SAFETY: the chunk holds `chunk.len()` (< WRITE_BYTES) initialised bytes; the platform file is open.
        rc = unsafe { write(inner, chunk.as_ptr() as *const c_void, chunk.len() as c_int, offset) };
        count(1, 0, 0);
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += chunk.len() as i64;
    }
    pending.bytes.clear();
    rc
}

unsafe extern "C" fn x_write(file: *mut ffi::sqlite3_file, data: *const c_void, amount: c_int, offset: i64) -> c_int {
    let Ok(amount) = usize::try_from(amount) else { return ffi::SQLITE_IOERR_WRITE };
    // SAFETY: SQLite calls this only on files whose pMethods is METHODS, i.e. opened by x_open.
    let (buffered, continues) = unsafe {
        let (_, _, pending) = parts(file);
        (!pending.bytes.is_empty(), pending.offset + pending.bytes.len() as i64 == offset)
    };
    let continues = buffered && continues;
    count(0, 1, u64::from(buffered && !continues));
    if offset == 0 {
        // SAFETY: as above.
        unsafe { parts(file) }.2.header_written = true;
    }
    if !continues {
        // SAFETY: as above.
        let rc = unsafe { flush(file) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    // SAFETY: as above; no other borrow of the buffer is alive.
    let (_, _, pending) = unsafe { parts(file) };
    if !continues {
        pending.offset = offset;
    }
    // SAFETY: SQLite passes `amount` readable bytes at `data`.
    pending.bytes.extend_from_slice(unsafe { std::slice::from_raw_parts(data as *const u8, amount) });
    if pending.bytes.len() >= FLUSH_BYTES {
        // SAFETY: as above.
        return unsafe { flush(file) };
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: opened by x_open; after this the file object is not used again.
    unsafe {
        let flushed = flush(file);
        let closed = vfs_shim::close::<Pending>(file);
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

/// Flushes, then forwards the call to the platform file.
macro_rules! flushing {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            // SAFETY: SQLite calls this only on files opened by x_open.
            unsafe {
                let rc = flush(file);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                let (inner, methods, _) = parts(file);
                match methods.$method {
                    Some(f) => f(inner $(, $arg)*),
                    None => ffi::SQLITE_ERROR,
                }
            }
        }
    };
}

flushing!(x_read, xRead, (data: *mut c_void, amount: c_int, offset: i64));
flushing!(x_truncate, xTruncate, (size: i64));
flushing!(x_file_size, xFileSize, (size: *mut i64));
unchanged_methods!(parts);
forwarding!(parts: x_unfetch, xUnfetch, (offset: i64, page: *mut c_void), ffi::SQLITE_OK);

/// Flushes, then syncs through the platform file, or leaves the sync to the caller of
/// `commit_deferring_sync` (see the module header for the syncs it never leaves).
unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: SQLite calls this only on files opened by x_open.
    unsafe {
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let (inner, methods, pending) = parts(file);
        if pending.synced_once && !pending.header_written {
            if let Some(handle) = &pending.handle {
                if defer(handle) {
                    count_sync(true);
                    return ffi::SQLITE_OK;
                }
            }
        }
        let Some(sync) = methods.xSync else { return ffi::SQLITE_ERROR };
        let rc = sync(inner, flags);
        count_sync(false);
        if rc == ffi::SQLITE_OK {
            pending.synced_once = true;
            pending.header_written = false;
        }
        rc
    }
}

unsafe extern "C" fn x_fetch(file: *mut ffi::sqlite3_file, offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: SQLite calls this only on files opened by x_open; a mapped page must see the buffered writes.
    unsafe {
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let (inner, methods, _) = parts(file);
        match methods.xFetch {
            Some(f) => f(inner, offset, amount, out),
            None => {
                *out = std::ptr::null_mut();
                ffi::SQLITE_OK
            }
        }
    }
}

io_methods!();

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn open(path: &std::path::Path) -> Connection {
        let vfs = register().unwrap();
        let c = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs).unwrap();
        // No automatic checkpoint, as in the server: its WAL restart would add the header's own write.
        c.execute_batch(
            "PRAGMA page_size=2048; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
            PRAGMA wal_autocheckpoint=0;",
        )
        .unwrap();
        c
    }

    #[test]
    fn a_commit_reaches_the_os_in_a_few_large_writes_and_every_other_connection_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = open(&path);
        writer.execute_batch("CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID;").unwrap();
        let plain = Connection::open(&path).unwrap();
        for round in 0..20u32 {
            let before = thread_write_counts();
            let tx = writer.unchecked_transaction().unwrap();
            for i in 0..200u32 {
                // Random keys: the commit dirties many pages, as blind-index inserts do.
                let key = blake3::hash(&(round * 1000 + i).to_le_bytes());
                tx.execute("INSERT INTO t VALUES (?1, zeroblob(300))", [key.as_bytes().as_slice()]).unwrap();
            }
            tx.commit().unwrap();
            let after = thread_write_counts();
            let (os, asked) = (after.os - before.os, after.asked - before.asked);
            assert!(asked > 40, "the commit wrote {asked} frames' pieces");
            let bound = (asked as usize * 2048).div_ceil(WRITE_BYTES) as u64;
            assert!(os <= bound, "{asked} frame writes reached the OS as {os} writes, more than {bound}");
            let seen: i64 = plain.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(seen, i64::from(round + 1) * 200);
        }
        drop(writer);
        let check: String = plain.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn only_a_commits_frame_sync_is_deferred_and_only_inside_commit_deferring_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = open(&path);
        writer.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        let syncs = |f: &dyn Fn() -> Option<WalSync>| {
            let before = thread_write_counts();
            let deferred = f();
            let after = thread_write_counts();
            (after.synced - before.synced, after.deferred - before.deferred, deferred.is_some())
        };
        let insert = || writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let deferring_insert = || {
            writer.execute_batch("BEGIN").unwrap();
            insert();
            let (committed, deferred) = commit_deferring_sync(|| writer.execute_batch("COMMIT"));
            committed.unwrap();
            if let Some(wal) = &deferred {
                wal.sync().unwrap();
            }
            deferred
        };
        assert_eq!(syncs(&|| deferring_insert()), (0, 1, true), "a commit's frame sync is left to the caller");
        assert_eq!(
            syncs(&|| {
                insert();
                None
            }),
            (1, 0, false),
            "outside commit_deferring_sync every sync is made"
        );
        // A restart: the next commit rewrites the WAL header, whose sync must come before its frames.
        writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
        assert_eq!(syncs(&|| deferring_insert()), (1, 1, true), "the header's sync was made, the frames' left");
        let reopened = Connection::open(&path).unwrap();
        let n: i64 = reopened.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn frames_rewritten_in_place_and_a_rolled_back_transaction_leave_a_sound_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = open(&path);
        // A tiny page cache spills dirty pages to the WAL mid-transaction, which SQLite later rewrites in
        // place and re-checksums at commit: writes that do not continue the buffer, and reads of the WAL.
        writer.execute_batch("PRAGMA cache_size=10; CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB);").unwrap();
        let before = thread_write_counts();
        let tx = writer.unchecked_transaction().unwrap();
        for i in 0..3000 {
            tx.execute("INSERT INTO t VALUES (?1, randomblob(200))", [i]).unwrap();
        }
        tx.execute("UPDATE t SET v = randomblob(210)", []).unwrap();
        tx.commit().unwrap();
        let rewritten = thread_write_counts().out_of_line - before.out_of_line;
        assert!(rewritten > 0, "the transaction rewrote no frame in place, so this test reached nothing it names");
        let tx = writer.unchecked_transaction().unwrap();
        for i in 3000..6000 {
            tx.execute("INSERT INTO t VALUES (?1, randomblob(200))", [i]).unwrap();
        }
        tx.rollback().unwrap();
        writer.execute("INSERT INTO t VALUES (7000, x'00')", []).unwrap();
        drop(writer);
        let reopened = Connection::open(&path).unwrap();
        let n: i64 = reopened.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 3001);
        let check: String = reopened.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
    }
}
