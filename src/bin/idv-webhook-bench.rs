//! idv-webhook-bench: webhook delivery throughput for `make bench`. Starts a throw-away `idv serve`, a
//! local receiver in this process, one sandbox endpoint subscribed to `identity.created`, then creates
//! identities with many concurrent clients. Phase 1 (live): deliveries per second while the events
//! are being written, and the event-to-delivery latency. Phase 2 (backlog): the receiver holds every
//! request while identities are created, then lets go; the rate at which the queued deliveries then
//! drain is the sender's own throughput. Must not link the `idv` library
//! (server over HTTP and the CLI only), must not delete the data directory it creates, and must not
//! panic on network errors (they are counted).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use awc::http::header::CONTENT_TYPE;
use awc::http::StatusCode;
use clap::Parser;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug, Parser)]
#[command(name = "idv-webhook-bench", about = "Benchmarks webhook deliveries per second to a local receiver")]
struct Args {
    /// The idv binary to benchmark.
    #[arg(long, default_value = "target/release/idv")]
    server_bin: PathBuf,
    /// How long identities are created, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    duration_secs: u64,
    /// Concurrent HTTP clients creating identities.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// How long to wait for the backlog after the creations stop, in seconds.
    #[arg(long, default_value_t = 120)]
    drain_timeout_secs: u64,
}

/// What the receiver saw.
#[derive(Default)]
struct Inbox {
    ids: HashSet<String>,
    duplicates: u64,
    last: Option<Instant>,
    /// Event time (envelope `created_at`) to arrival, in ms.
    latencies_ms: Vec<f64>,
}

/// The receiver's state: what arrived, and a gate that holds requests while closed.
#[derive(Default)]
struct Receiver {
    inbox: Mutex<Inbox>,
    held: AtomicBool,
    gate: Notify,
}

impl Receiver {
    fn received(&self) -> u64 {
        self.inbox.lock().map(|i| i.ids.len() as u64).unwrap_or(0)
    }

    fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
        self.gate.notify_waiters();
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, rx: web::Data<Arc<Receiver>>) -> HttpResponse {
    loop {
        let opened = rx.gate.notified();
        if !rx.held.load(Ordering::SeqCst) {
            break;
        }
        opened.await;
    }
    let now = Instant::now();
    let wall = time::OffsetDateTime::now_utc();
    let id = req.headers().get("x-verifa-delivery-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let event_at = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("created_at")
            .and_then(Value::as_str)
            .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
    });
    if let Ok(mut inbox) = rx.inbox.lock() {
        if !inbox.ids.insert(id) {
            inbox.duplicates += 1;
        }
        inbox.last = Some(now);
        if let Some(at) = event_at {
            inbox.latencies_ms.push((wall - at).as_seconds_f64() * 1000.0);
        }
    }
    HttpResponse::Ok().finish()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let data_dir = std::env::temp_dir().join(format!("idv-webhook-bench-{}", ulid::Ulid::new()));
    if let Err(e) = std::fs::create_dir_all(&data_dir) {
        eprintln!("idv-webhook-bench: cannot create {}: {e}", data_dir.display());
        return ExitCode::FAILURE;
    }
    eprintln!("idv-webhook-bench: data directory {}", data_dir.display());
    let key = match create_api_key(&args.server_bin, &data_dir, "sandbox") {
        Ok(k) => k,
        Err(e) => {
            eprintln!("idv-webhook-bench: could not create an API key: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port = match free_port() {
        Ok(port) => port,
        Err(e) => {
            eprintln!("idv-webhook-bench: no free port: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut server = match ServerGuard::start(&args.server_bin, &data_dir, port) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("idv-webhook-bench: cannot start {}: {e}", args.server_bin.display());
            return ExitCode::FAILURE;
        }
    };
    let base = format!("http://127.0.0.1:{port}");
    let result = actix_web::rt::System::new().block_on(async {
        wait_healthy(&mut server, &base).await?;
        run(&args, base.clone(), key).await
    });
    server.stop();
    match result {
        Ok(()) => {
            println!("data directory (kept): {}", data_dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("idv-webhook-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Creates identities with `concurrency` clients until `deadline`; returns (created, errors).
async fn load(
    phase: &'static str,
    base: &Rc<str>,
    key: &Rc<str>,
    concurrency: u32,
    duration: Duration,
) -> (u64, u64, Duration) {
    let started = Instant::now();
    let deadline = started + duration;
    let mut handles = Vec::new();
    for worker in 0..concurrency {
        handles.push(actix_web::rt::spawn(create_worker(phase, worker, base.clone(), key.clone(), deadline)));
    }
    let (mut created, mut errors) = (0u64, 0u64);
    for h in handles {
        if let Ok((ok, err)) = h.await {
            created += ok;
            errors += err;
        }
    }
    (created, errors, started.elapsed())
}

/// Waits until the receiver has `want` distinct deliveries or the timeout passes; returns when the
/// last one arrived.
async fn drain(rx: &Receiver, want: u64, timeout: Duration) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    while rx.received() < want && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    rx.inbox.lock().ok().and_then(|i| i.last)
}

fn percentile(sorted: &[f64], p: f64) -> String {
    if sorted.is_empty() {
        return "-".to_string();
    }
    format!("{:.1} ms", sorted[((p / 100.0) * (sorted.len() - 1) as f64).round() as usize])
}

async fn run(args: &Args, base: String, key: String) -> Result<(), String> {
    let rx = Arc::new(Receiver::default());
    let data = web::Data::new(rx.clone());
    let receiver = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::post().to(receive)))
        .workers(2)
        .backlog(2048)
        .bind(("127.0.0.1", 0))
        .map_err(|e| format!("receiver bind: {e}"))?;
    let receiver_port = receiver.addrs()[0].port();
    actix_web::rt::spawn(receiver.run());

    let client = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
    let endpoint = json!({
        "url": format!("http://127.0.0.1:{receiver_port}/hooks"),
        "label": "bench",
        "enabled_events": ["identity.created"],
    });
    let mut resp = client
        .post(format!("{base}/api/v1/webhooks/endpoints"))
        .insert_header(("X-API-Key", key.as_str()))
        .insert_header((CONTENT_TYPE, "application/json"))
        .send_body(endpoint.to_string())
        .await
        .map_err(|e| format!("create endpoint: {e}"))?;
    if resp.status() != StatusCode::CREATED {
        let body = resp.body().await.unwrap_or_default();
        return Err(format!("create endpoint: HTTP {}: {}", resp.status(), String::from_utf8_lossy(&body)));
    }
    let (base, key): (Rc<str>, Rc<str>) = (Rc::from(base), Rc::from(key));
    let timeout = Duration::from_secs(args.drain_timeout_secs);

    // Phase 1: live. Each creation is one event, delivered while the load runs.
    let duration = Duration::from_secs(args.duration_secs);
    eprintln!(
        "idv-webhook-bench: phase 1, identity creations for {} s with {} clients, deliveries as they come",
        duration.as_secs(),
        args.concurrency
    );
    let started = Instant::now();
    let (created, errors, load_elapsed) = load("live", &base, &key, args.concurrency, duration).await;
    let at_end = rx.received();
    let last = drain(&rx, created, timeout).await.unwrap_or(started);
    let live_received = rx.received();
    let live_window = last.saturating_duration_since(started).as_secs_f64().max(f64::EPSILON);
    let mut latencies = rx.inbox.lock().map(|i| i.latencies_ms.clone()).unwrap_or_default();
    latencies.sort_by(f64::total_cmp);

    // Phase 2: backlog. The receiver holds requests (the sender fills its in-flight slots and the rest
    // queue in the outbox), then opens; the drain rate is the sender's own. Held requests must be let
    // go well inside the 30 s attempt timeout.
    let hold_for = duration.min(Duration::from_secs(10));
    eprintln!(
        "idv-webhook-bench: phase 2, {} s of creations against a receiver that holds every request",
        hold_for.as_secs()
    );
    rx.hold();
    let (backlog, backlog_errors, _) = load("backlog", &base, &key, args.concurrency, hold_for).await;
    // Let the dispatcher catch up with the last creations before opening the gate.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let before = rx.received();
    let released = Instant::now();
    rx.release();
    let last = drain(&rx, created + backlog, timeout).await.unwrap_or(released);
    let drained = rx.received() - before;
    let drain_secs = last.saturating_duration_since(released).as_secs_f64().max(f64::EPSILON);
    let duplicates = rx.inbox.lock().map(|i| i.duplicates).unwrap_or(0);

    println!();
    println!(
        "idv webhook bench ({} clients, {} s of identity creations, synchronous=FULL, receiver on 127.0.0.1)",
        args.concurrency, args.duration_secs
    );
    println!(
        "identity creations:            {:>9.1}/s  ({created} ok, {errors} errors)",
        created as f64 / load_elapsed.as_secs_f64()
    );
    println!(
        "deliveries, live:              {:>9.1}/s  ({live_received} of {created} in {live_window:.2} s; {at_end} by the end of the load)",
        live_received as f64 / live_window
    );
    println!(
        "event -> delivery, live:       p50 {}  p99 {}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0)
    );
    println!(
        "deliveries, draining backlog:  {:>9.1}/s  ({drained} of {backlog} queued deliveries in {drain_secs:.2} s; {backlog_errors} creation errors)",
        drained as f64 / drain_secs
    );
    println!("duplicate deliveries: {duplicates}");
    let total = created + backlog;
    if rx.received() < total {
        return Err(format!("only {} of {total} events were delivered within the drain timeout", rx.received()));
    }
    Ok(())
}

async fn create_worker(phase: &'static str, worker: u32, base: Rc<str>, key: Rc<str>, deadline: Instant) -> (u64, u64) {
    let client = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
    let url = format!("{base}/api/v1/identities");
    let (mut ok, mut errors, mut n) = (0u64, 0u64, 0u64);
    while Instant::now() < deadline {
        n += 1;
        let body = json!({ "external_ref": format!("whbench_{phase}_{worker}_{n}") }).to_string();
        let sent = client
            .post(url.as_str())
            .insert_header(("X-API-Key", &*key))
            .insert_header((CONTENT_TYPE, "application/json"))
            .send_body(body)
            .await;
        match sent {
            Ok(mut resp) => {
                let _ = resp.body().await;
                if resp.status() == StatusCode::CREATED {
                    ok += 1;
                } else {
                    errors += 1;
                }
            }
            Err(_) => {
                errors += 1;
                actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    (ok, errors)
}

#[path = "bench_support.rs"]
mod bench_support;
use bench_support::{create_api_key, free_port, wait_healthy, ServerGuard};
