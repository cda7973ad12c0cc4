//! The read connections' VFS: the platform VFS, except that a read transaction starting after another
//! connection's commit keeps the database file mapped. Owns its unsafe calls into SQLite's VFS interface;
//! must not change what a read returns, only how the pages reach it, and must not be used by a connection
//! that writes.
//!
//! Readers map the database file (`mmap_size`, `store::read`). When a read transaction begins and the
//! database changed since the connection's last one, SQLite's pager drops its page cache and unmaps the
//! whole file (`xUnfetch(NULL)`); its next page fetch maps the file again. Under writes that is every read
//! transaction: a `munmap`, whose TLB shootdown interrupts the other core, then a page fault for each page
//! touched. Under the verification bench the read lane and the blocking pool spent about 2.5% of the
//! server's samples there (`unmap_page_range`, `smp_call_function_many_cond`, page faults), against none
//! while nothing writes. SQLite unmaps because by POSIX a mapping may not show what other descriptors write.
//! On Linux (idv's platform) a shared file mapping and `pwrite` go through one page cache, so the mapped pages
//! are what the checkpointer wrote; the WAL protocol already decides which page a reader may read from the
//! file, mapped or not. What a mapping cannot survive is the file shrinking below it (a page past the end
//! faults). So this VFS lets the unmap through only when the file is smaller than when it was mapped, or
//! has grown more than [`REMAP_GROWTH`] past it; otherwise it keeps the map, and pages past its end are read
//! with `xRead`, as SQLite reads pages past `mmap_size`. The checkpointer never shrinks the file unless the
//! database shrank (idv never vacuums), and then this VFS unmaps at the next read transaction.
//! Hand-written, as `wal_coalesce` is: it forwards every call but two to the platform VFS.
#![allow(unsafe_code)]

use super::vfs_shim::{self, forwarding, io_methods, unchanged_methods, Shim};
use rusqlite::ffi;
use std::ffi::{c_char, c_int, c_void, CStr};

/// The name read connections open the database with.
const VFS_NAME_C: &CStr = c"idv-kept-map";

/// How far the file may grow past the mapped part before the map is let go (and the next fetch maps the
/// whole file): pages past the map cost a `pread` each, a remap costs a TLB shootdown and its page faults.
const REMAP_GROWTH: i64 = 16 << 20;

#[cfg(test)]
thread_local! {
    /// Whole-file unmaps this thread's connections asked for: (let through, kept).
    static UNMAPS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

#[cfg(test)]
fn count(let_through: bool) {
    UNMAPS.with(|c| {
        let (through, kept) = c.get();
        c.set(if let_through { (through + 1, kept) } else { (through, kept + 1) });
    });
}

#[cfg(not(test))]
fn count(_: bool) {}

/// Whole-file unmaps this thread's connections asked for so far: (let through, kept).
#[cfg(test)]
pub(super) fn thread_unmaps() -> (u64, u64) {
    UNMAPS.with(|c| c.get())
}

static SHIM: Shim = Shim::new(VFS_NAME_C);

/// Registers the VFS (once per process; not as the default) and gives the name to open read connections
/// with. Errors when SQLite has no default VFS.
pub fn register() -> Result<&'static str, String> {
    SHIM.register(vfs_shim::wrapped_bytes::<MappedSize>(), x_open)
}

/// A main database file's state: its size when the platform VFS last mapped it (it maps the whole file),
/// or -1 when nothing is known to be mapped. Other files (the WAL; the wal-index is reached through the
/// database file) are the platform's own, opened in place.
type MappedSize = i64;

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let wrap = flags & ffi::SQLITE_OPEN_MAIN_DB != 0;
    // SAFETY: SQLite's xOpen contract, forwarded; `file` has the szOsFile bytes `register` set.
    unsafe { vfs_shim::open::<MappedSize>(&SHIM, name, file, flags, out_flags, wrap, &METHODS, || -1) }
}

/// The platform file, its methods and the mapped size behind one of ours.
///
/// # Safety
/// `file` must be a main database file opened by `x_open`.
unsafe fn parts<'a>(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'a ffi::sqlite3_io_methods, &'a mut MappedSize) {
    // SAFETY: forwarded contract.
    unsafe { vfs_shim::parts::<MappedSize>(file) }
}

/// The file's size, as the platform VFS reports it.
///
/// # Safety
/// `inner` must be an open platform file with these `methods`.
unsafe fn file_size(inner: *mut ffi::sqlite3_file, methods: &ffi::sqlite3_io_methods) -> Option<i64> {
    let size_of = methods.xFileSize?;
    let mut size = 0i64;
    // SAFETY: forwarded contract; `size` outlives the call.
    (unsafe { size_of(inner, &mut size) } == ffi::SQLITE_OK).then_some(size)
}

/// Whether the map of a file mapped at `mapped` bytes must go, the file being `now` bytes.
fn remap_needed(mapped: i64, now: Option<i64>) -> bool {
    match now {
        Some(now) => mapped < 0 || now < mapped || now - mapped > REMAP_GROWTH,
        None => true,
    }
}

unsafe extern "C" fn x_fetch(file: *mut ffi::sqlite3_file, offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: SQLite calls this only on files opened by x_open.
    unsafe {
        let (inner, methods, mapped_size) = parts(file);
        let Some(fetch) = methods.xFetch else {
            *out = std::ptr::null_mut();
            return ffi::SQLITE_OK;
        };
        if *mapped_size < 0 {
            // The platform maps the whole file on the first fetch after an unmap: note how large it was.
            *mapped_size = file_size(inner, methods).unwrap_or(-1);
        }
        fetch(inner, offset, amount, out)
    }
}

unsafe extern "C" fn x_unfetch(file: *mut ffi::sqlite3_file, offset: i64, page: *mut c_void) -> c_int {
    // SAFETY: SQLite calls this only on files opened by x_open.
    unsafe {
        let (inner, methods, mapped_size) = parts(file);
        let Some(unfetch) = methods.xUnfetch else { return ffi::SQLITE_OK };
        if page.is_null() {
            // "Unmap the whole file": kept unless the file shrank or outgrew the map (module header).
            if !remap_needed(*mapped_size, file_size(inner, methods)) {
                count(false);
                return ffi::SQLITE_OK;
            }
            count(true);
            *mapped_size = -1;
        }
        unfetch(inner, offset, page)
    }
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: opened by x_open; after this the file object is not used again.
    unsafe { vfs_shim::close::<MappedSize>(file) }
}

forwarding!(parts: x_read, xRead, (data: *mut c_void, amount: c_int, offset: i64), ffi::SQLITE_IOERR_READ);
forwarding!(parts: x_write, xWrite, (data: *const c_void, amount: c_int, offset: i64), ffi::SQLITE_IOERR_WRITE);
forwarding!(parts: x_truncate, xTruncate, (size: i64), ffi::SQLITE_IOERR_TRUNCATE);
forwarding!(parts: x_sync, xSync, (flags: c_int), ffi::SQLITE_IOERR_FSYNC);
forwarding!(parts: x_file_size, xFileSize, (size: *mut i64), ffi::SQLITE_IOERR_FSTAT);
unchanged_methods!(parts);

io_methods!();

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn reader(path: &std::path::Path) -> Connection {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = Connection::open_with_flags_and_vfs(path, flags, register().unwrap()).unwrap();
        c.pragma_update(None, "mmap_size", 1i64 << 30).unwrap();
        c
    }

    /// A database in WAL mode with the server's page size and one table `t`, and the connection writing it.
    fn writer(path: &std::path::Path) -> Connection {
        let c = Connection::open(path).unwrap();
        c.execute_batch(
            "PRAGMA page_size=2048; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
             CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);",
        )
        .unwrap();
        c
    }

    /// The reader's view of `t`: row count and the sum of every value's length and first byte.
    fn seen(r: &Connection) -> (i64, i64) {
        r.query_row("SELECT COUNT(*), COALESCE(SUM(length(v) + unicode(v)), 0) FROM t", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap()
    }

    #[test]
    fn the_decision_lets_the_map_go_only_when_the_file_shrank_or_outgrew_it() {
        assert!(remap_needed(-1, Some(4096)), "nothing mapped yet");
        assert!(remap_needed(1 << 20, None), "the size could not be read");
        assert!(!remap_needed(1 << 20, Some(1 << 20)));
        assert!(!remap_needed(1 << 20, Some((1 << 20) + REMAP_GROWTH)));
        assert!(remap_needed(1 << 20, Some((1 << 20) + REMAP_GROWTH + 2048)));
        assert!(remap_needed(1 << 20, Some((1 << 20) - 2048)), "the file shrank");
    }

    #[test]
    fn a_reader_sees_every_commit_while_its_map_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = writer(&path);
        let r = reader(&path);
        let (mut count, mut sum) = (0i64, 0i64);
        assert_eq!(seen(&r), (0, 0));
        let before = thread_unmaps();
        for round in 0..60i64 {
            // Rows of growing text, so pages are rewritten in place and new ones appended past the map.
            let v = format!("{}{}", char::from(b'a' + (round % 26) as u8), "x".repeat(100 + round as usize * 40));
            let tx = writer.unchecked_transaction().unwrap();
            for _ in 0..20 {
                tx.execute("INSERT INTO t (v) VALUES (?1)", [&v]).unwrap();
                count += 1;
                sum += v.len() as i64 + i64::from(v.as_bytes()[0]);
            }
            tx.commit().unwrap();
            if round % 3 == 0 {
                // Some of the frames reach the database file, where the map reads them.
                writer.execute_batch("PRAGMA wal_checkpoint(PASSIVE);").unwrap();
            }
            assert_eq!(seen(&r), (count, sum), "round {round}");
        }
        let (through, kept) = (thread_unmaps().0 - before.0, thread_unmaps().1 - before.1);
        assert!(kept >= 50, "the map was kept across commits: {through} let through, {kept} kept");
        assert!(through <= 3, "a file of a few hundred KB never outgrew the map: {through} let through");
    }

    #[test]
    fn a_file_that_shrinks_is_unmapped_before_the_next_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = writer(&path);
        writer
            .execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO t (v) SELECT printf('%.500c', 'y') FROM n",
                [],
            )
            .unwrap();
        writer.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        let r = reader(&path);
        assert_eq!(seen(&r).0, 2000);
        let large = std::fs::metadata(&path).unwrap().len();
        writer.execute_batch("DELETE FROM t WHERE k > 10; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        let small = std::fs::metadata(&path).unwrap().len();
        assert!(small < large / 10, "{small} < {large}");
        let before = thread_unmaps();
        assert_eq!(seen(&r), (10, 10 * (500 + i64::from(b'y'))));
        assert_eq!(thread_unmaps().0 - before.0, 1, "the shrunk file's map was let go");
    }
}
