//! A full read lane refuses a request's reads before it writes (503, Retry-After, nothing stored), never
//! the reads after its own write: a 503 there would tell the client to repeat a write that is done.

use crate::helpers::*;
use idv::clock::ManualClock;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Read-lane threads of the server under test.
const READ_THREADS: usize = 2;

/// Holds every read-lane thread with a read waiting on `gate` (running when this returns), then fills the
/// lane's queue (8,192) with more such reads.
async fn fill_read_lane(read: &idv::store::ReadPool, gate: &Arc<Gate>) {
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let gated = |running: Option<Arc<std::sync::atomic::AtomicUsize>>| {
        let gate = gate.clone();
        // Admitted (or refused) when called; the job runs whether or not its answer is awaited.
        drop(read.run(move |_| {
            if let Some(running) = running {
                running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            gate.wait();
            Ok(())
        }));
    };
    for _ in 0..READ_THREADS {
        gated(Some(running.clone()));
    }
    while running.load(std::sync::atomic::Ordering::SeqCst) < READ_THREADS {
        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    }
    for _ in 0..(8192 + 64) {
        gated(None);
    }
}

#[actix_web::test]
async fn a_create_is_answered_when_the_read_lane_fills_after_its_write() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let clocked = spawn_app_with_clock_and(clock, |c| c.read_threads = READ_THREADS).await;
    let (app, key) = (&clocked.app, clocked.app.live_key.clone());
    // Once, so the key is known and authentication reads nothing later.
    assert_eq!(app.send("GET", "/sessions", Some(&key), &[], None).await.status, 200);

    // The create's command waits behind a held writer; meanwhile the read lane fills.
    let (writer_gate, read_gate) = (Arc::new(Gate::default()), Arc::new(Gate::default()));
    let held = hold_writer(&clocked.writer, &writer_gate).await;
    let body = json!({"external_ref": "busy-reads-1", "checks": ["document_ocr"]});
    let create = app.send("POST", "/sessions", Some(&key), &[], Some(&body));
    let fill_then_release = async {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        fill_read_lane(&clocked.read, &read_gate).await;
        // Another request's read is refused now, before it could write anything.
        let refused = app.send("GET", "/sessions", Some(&key), &[], None).await;
        assert_eq!(refused.status, 503, "{}", refused.body);
        assert!(refused.headers.get("retry-after").is_some());
        // The create commits; its read of the new session finds the lane still full.
        writer_gate.open();
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        read_gate.open();
    };
    let (created, ()) = tokio::join!(create, fill_then_release);
    held.await.unwrap().unwrap();
    assert_eq!(created.status, 201, "the committed create is answered: {}", created.body);
    assert_eq!(created.body["external_ref"], "busy-reads-1");
    let listed = app.send("GET", "/sessions?external_ref=busy-reads-1", Some(&key), &[], None).await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1), "one session, as answered: {}", listed.body);
}
