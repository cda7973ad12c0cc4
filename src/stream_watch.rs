//! Waiting for a stream's next committed event: a reader that asked to wait (`Prefer: wait=N` on a session
//! in processing) registers the stream, and the writer's commit hook wakes it when an event of that stream
//! commits. Owns only the registry of waiters; must not read or write the store (the waiter reads the view
//! again itself) and must not block the writer thread (the hook takes a short lock, and none when nobody
//! waits).

use crate::commands::writer::CommitHook;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// The longest a request may ask to be held (`Prefer: wait=N` is capped to it).
pub const MAX_WAIT_SECS: u64 = 60;

/// Streams someone waits on, each with the signal its waiters share.
#[derive(Default)]
pub struct StreamWatch {
    waiting: Mutex<HashMap<String, Arc<Notify>>>,
    /// How many streams are in `waiting`, so the commit hook skips the lock when it is empty.
    streams: AtomicUsize,
}

/// A registration: dropping it removes the stream from the registry once nobody else waits on it.
pub struct Watching<'a> {
    watch: &'a StreamWatch,
    stream_id: String,
    signal: Arc<Notify>,
}

impl StreamWatch {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Registers interest in `stream_id`. Register before reading the state you wait to see change, so an
    /// event committed between the read and the wait is not missed.
    pub fn watch(&self, stream_id: &str) -> Watching<'_> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let signal = waiting
            .entry(stream_id.to_string())
            .or_insert_with(|| {
                self.streams.fetch_add(1, Ordering::SeqCst);
                Arc::new(Notify::new())
            })
            .clone();
        Watching { watch: self, stream_id: stream_id.to_string(), signal }
    }

    /// Wakes every waiter of the streams these events belong to.
    fn committed<'e>(&self, stream_ids: impl Iterator<Item = &'e str>) {
        if self.streams.load(Ordering::SeqCst) == 0 {
            return;
        }
        let waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        for id in stream_ids {
            if let Some(signal) = waiting.get(id) {
                signal.notify_waiters();
            }
        }
    }

    /// The writer's commit hook feeding this registry.
    pub fn commit_hook(self: &Arc<Self>) -> CommitHook {
        let watch = self.clone();
        Arc::new(move |events| watch.committed(events.iter().map(|e| e.stream_id.as_str())))
    }

    #[cfg(test)]
    fn registered(&self) -> usize {
        self.waiting.lock().map(|w| w.len()).unwrap_or(0)
    }
}

impl Watching<'_> {
    /// A future that completes at the next committed event of the stream. Enabled at once, so a commit
    /// that lands before it is awaited still counts.
    pub fn next_commit(&self) -> std::pin::Pin<Box<tokio::sync::futures::Notified<'_>>> {
        let mut notified = Box::pin(self.signal.notified());
        notified.as_mut().enable();
        notified
    }
}

impl Drop for Watching<'_> {
    fn drop(&mut self) {
        let mut waiting = self.watch.waiting.lock().unwrap_or_else(|e| e.into_inner());
        // The registry holds one reference and this registration another: nobody else waits.
        if Arc::strong_count(&self.signal) == 2 && waiting.remove(&self.stream_id).is_some() {
            self.watch.streams.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn commit(watch: &StreamWatch, id: &str) {
        watch.committed(std::iter::once(id));
    }

    #[tokio::test]
    async fn a_commit_of_the_watched_stream_wakes_the_waiter_and_others_do_not() {
        let watch = StreamWatch::new();
        let w = watch.watch("ses_a");
        let next = w.next_commit();
        commit(&watch, "ses_b");
        let other = tokio::time::timeout(Duration::from_millis(50), w.next_commit()).await;
        assert!(other.is_err(), "another stream's commit must not wake the waiter");
        commit(&watch, "ses_a");
        tokio::time::timeout(Duration::from_secs(1), next).await.expect("the stream's commit wakes the waiter");
    }

    #[tokio::test]
    async fn a_commit_between_registering_and_awaiting_is_not_missed() {
        let watch = StreamWatch::new();
        let w = watch.watch("ses_a");
        let next = w.next_commit();
        commit(&watch, "ses_a");
        tokio::time::timeout(Duration::from_secs(1), next).await.expect("the earlier commit counts");
    }

    #[test]
    fn the_registry_forgets_a_stream_when_its_last_waiter_leaves() {
        let watch = StreamWatch::new();
        let first = watch.watch("ses_a");
        let second = watch.watch("ses_a");
        assert_eq!(watch.registered(), 1);
        drop(first);
        assert_eq!(watch.registered(), 1, "one waiter is still there");
        drop(second);
        assert_eq!(watch.registered(), 0);
        assert_eq!(watch.streams.load(Ordering::SeqCst), 0);
    }
}
