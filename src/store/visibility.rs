//! Keeps readers from seeing a commit before it is on disk: the writer hides each commit from new read
//! transactions from just before its COMMIT until its WAL sync has returned, and every read connection
//! begins its transaction through here. Must not read or write rows; it only orders two events.
//!
//! Why it exists: the writer publishes a batch (COMMIT writes its WAL frames) and hands the sync of the
//! WAL to another thread, so that it can run the next batch meanwhile (see `commands::writer`). Between
//! the publish and the sync, a read transaction that began would see rows a power cut could still take
//! away. With synchronous=FULL alone SQLite syncs before it publishes, so no reader ever saw such a row;
//! this gate keeps that true: a read that begins in the gap waits for the sync (a millisecond or two), and
//! one that began before it keeps its earlier snapshot, as it would have anyway.

use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Default)]
struct State {
    /// Read transactions between their BEGIN and their first read (when SQLite takes their snapshot).
    starting: usize,
    /// A commit is published, or about to be, and its sync has not returned yet.
    unsynced: bool,
}

#[derive(Default)]
pub struct Visibility {
    state: Mutex<State>,
    changed: Condvar,
}

impl Visibility {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// The writer, before COMMIT: waits until the previous commit is synced (so at most one sync is ever
    /// outstanding), keeps new read transactions from starting, and waits for those already starting to
    /// take their snapshot. Each call must be followed by `reveal` once the commit is on disk (or did not
    /// happen).
    pub fn hide_next_commit(&self) {
        let mut state = self.lock();
        while state.unsynced {
            state = self.wait(state);
        }
        state.unsynced = true;
        while state.starting > 0 {
            state = self.wait(state);
        }
    }

    /// The commit hidden by `hide_next_commit` is on disk (or was not made): reads may see it.
    pub fn reveal(&self) {
        self.lock().unsynced = false;
        self.changed.notify_all();
    }

    /// Runs `begin` (which must begin a read transaction and take its snapshot) at a moment when every
    /// published commit is on disk.
    pub fn begin_read<T>(&self, begin: impl FnOnce() -> T) -> T {
        let mut state = self.lock();
        while state.unsynced {
            state = self.wait(state);
        }
        state.starting += 1;
        drop(state);
        let began = begin();
        let mut state = self.lock();
        state.starting -= 1;
        let last = state.starting == 0;
        drop(state);
        if last {
            self.changed.notify_all();
        }
        began
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_read_beginning_while_a_commit_is_unsynced_waits_for_the_sync() {
        let gate = Arc::new(Visibility::default());
        gate.hide_next_commit();
        let began = Arc::new(AtomicBool::new(false));
        let reader = {
            let (gate, began) = (gate.clone(), began.clone());
            std::thread::spawn(move || gate.begin_read(|| began.store(true, Ordering::SeqCst)))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!began.load(Ordering::SeqCst), "the read began before the commit it would see was synced");
        gate.reveal();
        reader.join().unwrap();
        assert!(began.load(Ordering::SeqCst));
    }

    #[test]
    fn the_writer_waits_for_a_read_taking_its_snapshot_and_for_the_previous_sync() {
        let gate = Arc::new(Visibility::default());
        let (in_begin, release) = (std::sync::mpsc::channel::<()>(), std::sync::mpsc::channel::<()>());
        let reader = {
            let gate = gate.clone();
            let (tell, wait) = (in_begin.0, release.1);
            std::thread::spawn(move || {
                gate.begin_read(|| {
                    tell.send(()).unwrap();
                    wait.recv().unwrap();
                })
            })
        };
        in_begin.1.recv().unwrap();
        let hidden = Arc::new(AtomicBool::new(false));
        let writer = {
            let (gate, hidden) = (gate.clone(), hidden.clone());
            std::thread::spawn(move || {
                gate.hide_next_commit();
                hidden.store(true, Ordering::SeqCst);
                // A second commit waits for the first one's sync.
                gate.hide_next_commit();
                hidden.store(false, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!hidden.load(Ordering::SeqCst), "the commit was published while a read was taking its snapshot");
        release.0.send(()).unwrap();
        reader.join().unwrap();
        while !hidden.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(hidden.load(Ordering::SeqCst), "a second commit was hidden before the first was synced");
        gate.reveal();
        writer.join().unwrap();
        assert!(!hidden.load(Ordering::SeqCst));
        gate.reveal();
    }
}
