//! What idv's two VFS shims (`wal_coalesce` for the writer, `kept_map` for the readers) share: registering
//! a copy of the platform VFS under another name with its own `xOpen` and file object, and the macro that
//! forwards a file method to the platform file unchanged. Owns those unsafe calls; must not decide anything
//! about what a shim does with a file.
#![allow(unsafe_code)]

use rusqlite::ffi;
use std::ffi::{c_char, c_int, CStr};
use std::sync::OnceLock;

/// A shim's `xOpen`.
pub(super) type OpenFn =
    unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *const c_char, *mut ffi::sqlite3_file, c_int, *mut c_int) -> c_int;

/// The platform VFS a registered shim forwards to.
pub(super) struct Platform(*mut ffi::sqlite3_vfs);
// SAFETY: the platform VFS is a process-wide static of SQLite's, immutable once registered and safe to
// call from any thread (SQLite's own contract for VFS objects).
unsafe impl Send for Platform {}
unsafe impl Sync for Platform {}

/// A shim registered once per process (not as the default): its name, or why it could not be.
pub(super) struct Shim {
    name: &'static CStr,
    registered: OnceLock<Result<Platform, String>>,
}

impl Shim {
    pub(super) const fn new(name: &'static CStr) -> Self {
        Shim { name, registered: OnceLock::new() }
    }

    /// Registers the shim: the platform VFS with `open` as its `xOpen` and a file object of `own_file_bytes`
    /// followed by the platform's. Gives the name to open connections with; errors when SQLite has no
    /// default VFS.
    pub(super) fn register(&'static self, own_file_bytes: usize, open: OpenFn) -> Result<&'static str, String> {
        self.registered
            .get_or_init(|| {
                // SAFETY: sqlite3_vfs_find(NULL) returns the default VFS, a static owned by SQLite, or null.
                let platform = unsafe { ffi::sqlite3_vfs_find(std::ptr::null()) };
                if platform.is_null() {
                    return Err("SQLite has no default VFS".into());
                }
                // SAFETY: `platform` is non-null and points to a live sqlite3_vfs; copying it is a plain read.
                let mut vfs: ffi::sqlite3_vfs = unsafe { std::ptr::read(platform) };
                // SAFETY: as above.
                let platform_file_bytes = unsafe { (*platform).szOsFile } as usize;
                vfs.zName = self.name.as_ptr();
                vfs.pNext = std::ptr::null_mut();
                vfs.szOsFile = (own_file_bytes + platform_file_bytes) as c_int;
                vfs.xOpen = Some(open);
                let leaked: &'static mut ffi::sqlite3_vfs = Box::leak(Box::new(vfs));
                // SAFETY: `leaked` lives for the rest of the process, as SQLite requires of a registered VFS.
                let rc = unsafe { ffi::sqlite3_vfs_register(leaked, 0) };
                if rc != ffi::SQLITE_OK {
                    return Err(format!("registering the VFS {:?} failed ({rc})", self.name));
                }
                Ok(Platform(platform))
            })
            .as_ref()
            .map_err(Clone::clone)?;
        self.name.to_str().map_err(|e| e.to_string())
    }

    /// The platform VFS, once registered (null before).
    pub(super) fn platform(&self) -> *mut ffi::sqlite3_vfs {
        match self.registered.get() {
            Some(Ok(p)) => p.0,
            _ => std::ptr::null_mut(),
        }
    }
}

/// The file object SQLite allocates (`szOsFile` bytes, see `Shim::register`) for a file a shim wraps: SQLite's
/// header, the platform's file object (later in the same allocation) and the shim's own state for the file.
/// A file the shim does not wrap is the platform's file object itself, opened in place, so the shim never
/// sees its calls.
#[repr(C)]
pub(super) struct Wrapped<S> {
    base: ffi::sqlite3_file,
    platform_file: *mut ffi::sqlite3_file,
    state: *mut S,
}

/// The bytes of a shim's own part of a file object, before the platform's.
pub(super) const fn wrapped_bytes<S>() -> usize {
    std::mem::size_of::<Wrapped<S>>()
}

/// A shim's `xOpen`: `name` opened by the platform VFS, wrapped when `wrap` (with `methods` and the state
/// `state` makes once the platform has opened it), else in place.
///
/// # Safety
/// As SQLite's `xOpen`; `file` must have the `szOsFile` bytes `shim` was registered with.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn open<S>(
    shim: &Shim,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
    wrap: bool,
    methods: &'static ffi::sqlite3_io_methods,
    state: impl FnOnce() -> S,
) -> c_int {
    let platform = shim.platform();
    if platform.is_null() {
        return ffi::SQLITE_ERROR;
    }
    // SAFETY: `platform` is the live default VFS; its xOpen is always set.
    let Some(platform_open) = (unsafe { (*platform).xOpen }) else { return ffi::SQLITE_ERROR };
    if !wrap {
        // SAFETY: `file` has szOsFile bytes, more than the platform's file object needs.
        return unsafe { platform_open(platform, name, file, flags, out_flags) };
    }
    let own = file as *mut Wrapped<S>;
    // SAFETY: the allocation holds a Wrapped<S> followed by the platform's file object; both pointers stay
    // inside it, and Wrapped's size (pointers only) keeps the second 8-byte aligned.
    unsafe {
        let inner = (file as *mut u8).add(wrapped_bytes::<S>()) as *mut ffi::sqlite3_file;
        (*own).base.pMethods = std::ptr::null();
        (*own).platform_file = inner;
        (*own).state = std::ptr::null_mut();
        let rc = platform_open(platform, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            // SQLite calls xClose only when pMethods is set; the platform cleans up its own failed open.
            return rc;
        }
        (*own).state = Box::into_raw(Box::new(state()));
        (*own).base.pMethods = methods;
    }
    ffi::SQLITE_OK
}

/// The platform file, its methods and the shim's state behind a wrapped file.
///
/// # Safety
/// `file` must be a `Wrapped<S>` a successful `open` wrapped, not yet closed.
pub(super) unsafe fn parts<'a, S>(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'a ffi::sqlite3_io_methods, &'a mut S) {
    let own = file as *mut Wrapped<S>;
    // SAFETY: per the contract, all three were set by `open` and live until `close`.
    unsafe {
        let inner = (*own).platform_file;
        (inner, &*(*inner).pMethods, &mut *(*own).state)
    }
}

/// Drops the shim's state and closes the platform file.
///
/// # Safety
/// As `parts`; the file is not used again.
pub(super) unsafe fn close<S>(file: *mut ffi::sqlite3_file) -> c_int {
    let own = file as *mut Wrapped<S>;
    // SAFETY: per the contract.
    unsafe {
        drop(Box::from_raw((*own).state));
        (*own).state = std::ptr::null_mut();
        let inner = (*own).platform_file;
        match (*(*inner).pMethods).xClose {
            Some(close) => close(inner),
            None => ffi::SQLITE_OK,
        }
    }
}

/// `unsafe extern "C" fn $name(file, args..) -> c_int` forwarding to the platform file's `$method`, which
/// `$parts(file)` gives as `(platform_file, methods, ..)`; `$missing` when the platform has no such method.
macro_rules! forwarding {
    ($parts:ident: $name:ident, $method:ident, ($($arg:ident: $ty:ty),*), $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            // SAFETY: SQLite calls this only on files opened by this shim's x_open.
            unsafe {
                let (inner, methods, _) = $parts(file);
                match methods.$method {
                    Some(f) => f(inner $(, $arg)*),
                    None => $missing,
                }
            }
        }
    };
}
pub(super) use forwarding;

/// The file methods no shim changes (locks, file controls, device facts, the wal-index's shared memory),
/// each forwarding to the platform file through `$parts`.
macro_rules! unchanged_methods {
    ($parts:ident) => {
        forwarding!($parts: x_lock, xLock, (level: c_int), ffi::SQLITE_OK);
        forwarding!($parts: x_unlock, xUnlock, (level: c_int), ffi::SQLITE_OK);
        forwarding!($parts: x_check_reserved_lock, xCheckReservedLock, (out: *mut c_int), ffi::SQLITE_OK);
        forwarding!($parts: x_file_control, xFileControl, (op: c_int, arg: *mut c_void), ffi::SQLITE_NOTFOUND);
        forwarding!($parts: x_sector_size, xSectorSize, (), 4096);
        forwarding!($parts: x_device_characteristics, xDeviceCharacteristics, (), 0);
        forwarding!($parts: x_shm_map, xShmMap, (page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void),
            ffi::SQLITE_IOERR_SHMMAP);
        forwarding!($parts: x_shm_lock, xShmLock, (offset: c_int, n: c_int, flags: c_int), ffi::SQLITE_IOERR_SHMLOCK);
        forwarding!($parts: x_shm_unmap, xShmUnmap, (delete: c_int), ffi::SQLITE_OK);

        unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
            // SAFETY: SQLite calls this only on files opened by this shim's x_open.
            unsafe {
                let (inner, methods, _) = $parts(file);
                if let Some(f) = methods.xShmBarrier {
                    f(inner)
                }
            }
        }
    };
}
pub(super) use unchanged_methods;

/// The shim's `METHODS` table (version 3): each method is the shim's own `x_*` function of that name,
/// whether it forwards or not.
macro_rules! io_methods {
    () => {
        static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
            iVersion: 3,
            xClose: Some(x_close),
            xRead: Some(x_read),
            xWrite: Some(x_write),
            xTruncate: Some(x_truncate),
            xSync: Some(x_sync),
            xFileSize: Some(x_file_size),
            xLock: Some(x_lock),
            xUnlock: Some(x_unlock),
            xCheckReservedLock: Some(x_check_reserved_lock),
            xFileControl: Some(x_file_control),
            xSectorSize: Some(x_sector_size),
            xDeviceCharacteristics: Some(x_device_characteristics),
            xShmMap: Some(x_shm_map),
            xShmLock: Some(x_shm_lock),
            xShmBarrier: Some(x_shm_barrier),
            xShmUnmap: Some(x_shm_unmap),
            xFetch: Some(x_fetch),
            xUnfetch: Some(x_unfetch),
        };
    };
}
pub(super) use io_methods;
