//! A layer over SQLite's own page cache that skips truncations with nothing to drop. Owns every unsafe
//! call into SQLite's page-cache interface; must not change which pages are cached, kept or dropped, only
//! spare a walk over a cache that holds no page past the limit.
//!
//! At the end of every write transaction SQLite asks the page cache to drop the pages past the end of the
//! database. Its cache (pcache1) knows only the largest page number it has seen since the last such call,
//! and when a b-tree page splits, SQLite swaps two pages through a temporary number, the page at 1 GiB
//! (`balance_nonroot`), far past the end of any smaller database. The commit that follows therefore walks
//! every slot of the cache's hash table to find nothing: 3.4% of the writer's time in identity creations
//! (perf, writer thread) with the 8 MB cache the writer had been given to keep the walk short, 6% of it in
//! verifications with 32 MB. This layer forwards every call to SQLite's default cache and keeps, per cache,
//! a bound on the page numbers it holds that leaves the swap number out while no page is parked there; a
//! truncation past that bound is skipped, any other is forwarded and lowers the bound.
//!
//! With the walk gone the writer has the readers' 32 MB cache again: its reads of pages from the OS fell
//! from 5.8% to 1.8% of its time in identity creations. Alternating 10-second runs on the 2-core machine:
//! wrk creations 5.7-6.1k/s with 8 MB against 6.0-6.4k/s with 32 MB (six runs each); idv-bench's API-only
//! verifications 492-529/s against 552-558/s (two each).
//!
//! SQLite takes a page cache only before it is first used (`sqlite3_config`), so `install` runs first
//! thing in `main` of the server and of idv-bench (whose ceiling opens SQLite like the server); when
//! SQLite is already in use it reports so and changes nothing.
//! Hand-written rather than a crate: no crate on crates.io wraps the default cache; this forwards all ten
//! methods, as SQLite's documentation describes for `SQLITE_CONFIG_PCACHE2`.
#![allow(unsafe_code)]

use rusqlite::ffi;
use std::ffi::{c_int, c_uint};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// SQLite's lock byte: the page holding it is never a database page, and is the temporary number of a swap.
const PENDING_BYTE: u64 = 0x4000_0000;

static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
/// SQLite's default cache, which every call is forwarded to.
static DEFAULT: OnceLock<Methods> = OnceLock::new();

/// The default cache's methods: functions, and an argument SQLite's own cache leaves null and only passes
/// back to them.
struct Methods(ffi::sqlite3_pcache_methods2);
// SAFETY: the struct is written once, before SQLite uses it, and only read after; SQLite's own cache is
// safe to call from any thread (it locks what it shares).
unsafe impl Send for Methods {}
// SAFETY: as above.
unsafe impl Sync for Methods {}

static SKIPPED: AtomicU64 = AtomicU64::new(0);
static FORWARDED: AtomicU64 = AtomicU64::new(0);

/// Truncations skipped (nothing past the limit) and forwarded, since the process started.
pub fn truncations() -> (u64, u64) {
    (SKIPPED.load(Ordering::Relaxed), FORWARDED.load(Ordering::Relaxed))
}

/// Puts this layer over SQLite's default page cache. Must run before any connection is opened; later
/// calls return the first call's outcome.
pub fn install() -> Result<(), String> {
    INSTALLED
        .get_or_init(|| {
            let mut default = std::mem::MaybeUninit::<ffi::sqlite3_pcache_methods2>::zeroed();
            // SAFETY: GETPCACHE2 writes the current methods into the struct it is given; it fails (and writes
            // nothing) once SQLite is initialized.
            let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETPCACHE2, default.as_mut_ptr()) };
            if rc != ffi::SQLITE_OK {
                return Err(format!("SQLite is already in use, its page cache stays as it is ({rc})"));
            }
            // SAFETY: filled by the successful call above.
            let default = DEFAULT.get_or_init(|| Methods(unsafe { default.assume_init() })).0;
            let layered = ffi::sqlite3_pcache_methods2 {
                iVersion: 1,
                pArg: default.pArg,
                xInit: default.xInit,
                xShutdown: default.xShutdown,
                xCreate: Some(x_create),
                xCachesize: Some(x_cachesize),
                xPagecount: Some(x_pagecount),
                xFetch: Some(x_fetch),
                xUnpin: Some(x_unpin),
                xRekey: Some(x_rekey),
                xTruncate: Some(x_truncate),
                xDestroy: Some(x_destroy),
                xShrink: Some(x_shrink),
            };
            // SAFETY: SQLite copies the struct; every method it names lives for the whole process.
            let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_PCACHE2, &layered as *const _) };
            if rc != ffi::SQLITE_OK {
                return Err(format!("SQLite refused the page cache ({rc})"));
            }
            Ok(())
        })
        .clone()
}

/// One cache: the default's, and what this layer knows of the page numbers in it.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    /// No page in the cache has a larger number, leaving aside pages parked at `swap_key`.
    max_key: c_uint,
    /// The number a swap parks a page at.
    swap_key: c_uint,
    /// Pages moved to `swap_key` and not yet moved away (a swap parks one, for a moment).
    parked: u32,
}

/// SQLite's default cache's methods: set before SQLite is handed this layer, so there whenever it is called.
fn default() -> Option<&'static ffi::sqlite3_pcache_methods2> {
    DEFAULT.get().map(|m| &m.0)
}

/// # Safety
/// `cache` must be a pointer `x_create` returned and `x_destroy` has not freed; SQLite calls a cache's
/// methods from one thread at a time (under its connection).
unsafe fn cache<'a>(cache: *mut ffi::sqlite3_pcache) -> &'a mut Cache {
    &mut *(cache as *mut Cache)
}

unsafe extern "C" fn x_create(page_size: c_int, extra: c_int, purgeable: c_int) -> *mut ffi::sqlite3_pcache {
    let inner = match default().and_then(|d| d.xCreate) {
        Some(create) => create(page_size, extra, purgeable),
        None => return std::ptr::null_mut(),
    };
    if inner.is_null() {
        return inner;
    }
    let swap_key = match u64::try_from(page_size) {
        Ok(size) if size > 0 => c_uint::try_from(PENDING_BYTE / size + 1).unwrap_or(c_uint::MAX),
        _ => c_uint::MAX,
    };
    Box::into_raw(Box::new(Cache { inner, max_key: 0, swap_key, parked: 0 })) as *mut ffi::sqlite3_pcache
}

unsafe extern "C" fn x_cachesize(c: *mut ffi::sqlite3_pcache, pages: c_int) {
    if let Some(f) = default().and_then(|d| d.xCachesize) {
        f(cache(c).inner, pages)
    }
}

unsafe extern "C" fn x_pagecount(c: *mut ffi::sqlite3_pcache) -> c_int {
    default().and_then(|d| d.xPagecount).map_or(0, |f| f(cache(c).inner))
}

unsafe extern "C" fn x_fetch(c: *mut ffi::sqlite3_pcache, key: c_uint, create: c_int) -> *mut ffi::sqlite3_pcache_page {
    let state = cache(c);
    if create != 0 && key > state.max_key {
        state.max_key = key;
    }
    default().and_then(|d| d.xFetch).map_or(std::ptr::null_mut(), |f| f(state.inner, key, create))
}

unsafe extern "C" fn x_unpin(c: *mut ffi::sqlite3_pcache, page: *mut ffi::sqlite3_pcache_page, discard: c_int) {
    if let Some(f) = default().and_then(|d| d.xUnpin) {
        f(cache(c).inner, page, discard)
    }
}

unsafe extern "C" fn x_rekey(
    c: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old_key: c_uint,
    new_key: c_uint,
) {
    let state = cache(c);
    if old_key == state.swap_key {
        state.parked = state.parked.saturating_sub(1);
    }
    if new_key == state.swap_key {
        state.parked += 1;
    } else if new_key > state.max_key {
        state.max_key = new_key;
    }
    if let Some(f) = default().and_then(|d| d.xRekey) {
        f(state.inner, page, old_key, new_key)
    }
}

unsafe extern "C" fn x_truncate(c: *mut ffi::sqlite3_pcache, limit: c_uint) {
    let state = cache(c);
    if state.parked == 0 && limit > state.max_key {
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    FORWARDED.fetch_add(1, Ordering::Relaxed);
    if let Some(f) = default().and_then(|d| d.xTruncate) {
        f(state.inner, limit)
    }
    state.max_key = state.max_key.min(limit.saturating_sub(1));
    if limit <= state.swap_key {
        state.parked = 0;
    }
}

unsafe extern "C" fn x_destroy(c: *mut ffi::sqlite3_pcache) {
    let state = Box::from_raw(c as *mut Cache);
    if let Some(f) = default().and_then(|d| d.xDestroy) {
        f(state.inner)
    }
}

unsafe extern "C" fn x_shrink(c: *mut ffi::sqlite3_pcache) {
    if let Some(f) = default().and_then(|d| d.xShrink) {
        f(cache(c).inner)
    }
}
