//! The writer's queue is bounded: while the writer is busy and the queue is full, a write is refused at
//! once with a 503-class error carrying Retry-After, and the queued work still completes afterwards.

use idv::config::Config;
use idv::error::AppError;
use idv::startup::open_core;
use std::sync::mpsc;

#[test]
fn a_full_write_queue_refuses_at_once_and_queued_work_still_completes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.writer_queue_capacity = 1;
    let core = open_core(&config).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        // A: occupies the writer thread until released.
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let writer = core.writer.clone();
        let a = tokio::spawn(async move {
            writer
                .execute(move |_| {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok("a")
                })
                .await
        });
        tokio::task::yield_now().await;
        started_rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the writer took A");

        // B: fills the one queue slot.
        let writer = core.writer.clone();
        let b = tokio::spawn(async move { writer.execute(|_| Ok("b")).await });
        tokio::task::yield_now().await;

        // C: nothing left to queue into.
        let c = core.writer.execute(|_| Ok("c")).await;
        match c {
            Err(e @ AppError::Overloaded { retry_after }) => {
                assert!(retry_after >= 1);
                assert_eq!(e.status_code(), 503);
                assert_eq!(e.code(), "service_unavailable");
            }
            other => panic!("expected an overloaded refusal, got {other:?}"),
        }

        release_tx.send(()).unwrap();
        assert_eq!(a.await.unwrap().unwrap(), "a");
        assert_eq!(b.await.unwrap().unwrap(), "b");
        // With the queue drained, writes are taken again.
        assert_eq!(core.writer.execute(|_| Ok("d")).await.unwrap(), "d");
    });
}
