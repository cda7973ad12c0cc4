//! idv-bench: the end-to-end benchmark `make bench` runs — owns starting a throw-away `idv serve`, the
//! HTTP load phases (identity creations, identity reads) and the direct-SQLite "ceiling" measurement, and
//! the report. Must not link the `idv` library (it talks to the server only over HTTP and the CLI), must not
//! delete the data directory it creates (it is left for `idv replay --check` / `idv verify-log`), and must
//! not panic on network errors (they are counted as errors).

use awc::http::header::CONTENT_TYPE;
use awc::http::StatusCode;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use clap::Parser;
use rand::RngCore;
use rusqlite::{params, Connection};
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How many failure bodies/errors each phase prints before going quiet.
const MAX_PRINTED_FAILURES: u32 = 3;
/// Identities per transaction in the ceiling measurement.
const CEILING_GROUP: usize = 64;
const ENVIRONMENT: &str = "sandbox";

#[derive(Debug, Parser)]
#[command(
    name = "idv-bench",
    about = "Benchmarks an idv server binary: identity creations, identity reads, and the raw SQLite ceiling"
)]
struct Args {
    /// The idv binary to benchmark.
    #[arg(long, default_value = "target/release/idv")]
    server_bin: PathBuf,
    /// Length of each phase, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    duration_secs: u64,
    /// Concurrent HTTP workers.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// Skip the direct-SQLite ceiling measurement.
    #[arg(long)]
    skip_ceiling: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let duration = Duration::from_secs(args.duration_secs);
    let concurrency = args.concurrency as usize;

    let data_dir = std::env::temp_dir().join(format!("idv-bench-{}", ulid::Ulid::new()));
    if let Err(e) = std::fs::create_dir_all(&data_dir) {
        eprintln!("idv-bench: cannot create data directory {}: {e}", data_dir.display());
        return ExitCode::FAILURE;
    }
    eprintln!("idv-bench: data directory {}", data_dir.display());

    // 1. The API keys (sandbox, live), written by the CLI while no server is running.
    let api_key = match (
        create_api_key(&args.server_bin, &data_dir, "sandbox"),
        create_api_key(&args.server_bin, &data_dir, "live"),
    ) {
        (Ok(sandbox), Ok(live)) => (sandbox, live),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("idv-bench: could not create an API key: {e}");
            return ExitCode::FAILURE;
        }
    };

    // 2. The server.
    let port = match free_port() {
        Ok(port) => port,
        Err(e) => {
            eprintln!("idv-bench: cannot find a free port: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut server = match ServerGuard::start(&args.server_bin, &data_dir, port) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("idv-bench: cannot start {}: {e}", args.server_bin.display());
            return ExitCode::FAILURE;
        }
    };
    let base = format!("http://127.0.0.1:{port}");

    let http =
        actix_web::rt::System::new().block_on(run_http_phases(&mut server, base, api_key, duration, concurrency));

    // 3. Stop the server before the ceiling, so both never compete for the disk.
    server.stop();

    let http = match http {
        Ok(http) => http,
        Err(e) => {
            eprintln!("idv-bench: {e}");
            eprintln!("idv-bench: data directory left at {}", data_dir.display());
            return ExitCode::FAILURE;
        }
    };

    // 4. The ceiling.
    let ceiling = if args.skip_ceiling {
        None
    } else {
        eprintln!("idv-bench: phase C, direct SQLite inserts for {} s", duration.as_secs());
        let cap = (http.creations.ok > 0).then_some(http.creations.ok);
        match run_ceiling(&data_dir, duration, cap) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("idv-bench: ceiling measurement failed: {e}");
                None
            }
        }
    };

    // 5. The report.
    println!();
    println!("idv bench (concurrency {concurrency}, {} s per phase, synchronous=FULL)", duration.as_secs());
    print_phase("identity creations:", &http.creations);
    match &http.reads {
        Some(reads) => print_phase("identity reads:    ", reads),
        None => println!("identity reads:     skipped (no identities were created)"),
    }
    print_phase("session creations: ", &http.sessions);
    print_phase("API-only verifications (create, upload, submit, decision, result):", &http.verifications);
    match &ceiling {
        Some(c) => {
            println!(
                "sqlite ceiling (direct inserts, same rows, one process, group commit {CEILING_GROUP}): {:.1} identities/s  ({} identities in {:.2} s)",
                c.rate(),
                c.identities,
                c.elapsed.as_secs_f64()
            );
            if c.rate() > 0.0 {
                println!("ratio creations/ceiling: {:.2}", http.creations.rate() / c.rate());
            }
        }
        None if args.skip_ceiling => println!("sqlite ceiling: skipped (--skip-ceiling)"),
        None => println!("sqlite ceiling: failed (see above)"),
    }
    if http.creations.no_id > 0 {
        println!("warning: {} creation responses were 201 without an `id` field", http.creations.no_id);
    }
    println!();
    println!("data directory (kept): {}", data_dir.display());
    let bin = args.server_bin.display();
    let dir = data_dir.display();
    println!("  {bin} replay --check --data-dir {dir}");
    println!("  {bin} verify-log --data-dir {dir}");
    ExitCode::SUCCESS
}

// ------------------------------------------------------------------------------------------ setup

#[path = "bench_support.rs"]
mod bench_support;
use bench_support::{create_api_key, free_port, wait_healthy, ServerGuard};

// ------------------------------------------------------------------------------------------ HTTP phases

#[derive(Debug, Default)]
struct WorkerResult {
    latencies_us: Vec<u32>,
    ok: u64,
    errors: u64,
    no_id: u64,
    ids: Vec<String>,
}

#[derive(Debug, Default)]
struct PhaseResult {
    latencies_us: Vec<u32>,
    ok: u64,
    errors: u64,
    no_id: u64,
    elapsed: Duration,
}

impl PhaseResult {
    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The p-th percentile latency in milliseconds (latencies must be sorted).
    fn percentile_ms(&self, p: f64) -> Option<f64> {
        if self.latencies_us.is_empty() {
            return None;
        }
        let last = self.latencies_us.len() - 1;
        let index = ((p / 100.0) * last as f64).round() as usize;
        Some(f64::from(self.latencies_us[index.min(last)]) / 1000.0)
    }
}

struct HttpResults {
    creations: PhaseResult,
    reads: Option<PhaseResult>,
    sessions: PhaseResult,
    verifications: PhaseResult,
}

fn print_phase(label: &str, phase: &PhaseResult) {
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |ms| format!("{ms:.1} ms"));
    println!(
        "{label} {:>9.1}/s  p50 {}  p99 {}  ({} ok, {} errors)",
        phase.rate(),
        fmt(phase.percentile_ms(50.0)),
        fmt(phase.percentile_ms(99.0)),
        phase.ok,
        phase.errors
    );
}

async fn run_http_phases(
    server: &mut ServerGuard,
    base: String,
    (api_key, live_key): (String, String),
    duration: Duration,
    concurrency: usize,
) -> Result<HttpResults, String> {
    wait_healthy(server, &base).await?;
    let api_key: Rc<str> = Rc::from(api_key);
    let live_key: Rc<str> = Rc::from(live_key);
    let base: Rc<str> = Rc::from(base);

    let secs = duration.as_secs();
    eprintln!("idv-bench: phase A, identity creations for {secs} s with {concurrency} workers");
    let (creations, ids) = phase(concurrency, duration, |worker, deadline, printed| {
        create_worker(worker, base.clone(), api_key.clone(), deadline, printed)
    })
    .await;
    if server.exited().is_some() {
        eprintln!("idv-bench: warning: the server exited during phase A");
    }

    let reads = if ids.is_empty() {
        None
    } else {
        eprintln!("idv-bench: phase B, identity reads for {secs} s with {concurrency} workers ({} ids)", ids.len());
        let ids: Rc<[String]> = Rc::from(ids);
        let (reads, _) = phase(concurrency, duration, |worker, deadline, printed| {
            read_worker(worker, base.clone(), api_key.clone(), ids.clone(), deadline, printed)
        })
        .await;
        Some(reads)
    };

    // Phase D: session creations (each returns a capture URL and a QR code).
    eprintln!("idv-bench: phase D, session creations for {secs} s with {concurrency} workers");
    let (sessions, _) = phase(concurrency, duration, |worker, deadline, printed| {
        session_worker(worker, base.clone(), api_key.clone(), deadline, printed, false)
    })
    .await;

    // Phase E: complete API-only verifications (create, upload, submit, wait for the decision, result).
    eprintln!("idv-bench: phase E, API-only verifications for {secs} s with {concurrency} workers");
    let (verifications, _) = phase(concurrency, duration, |worker, deadline, printed| {
        session_worker(worker, base.clone(), live_key.clone(), deadline, printed, true)
    })
    .await;
    Ok(HttpResults { creations, reads, sessions, verifications })
}

/// A small PNG (solid colour) for document uploads.
fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, 128]));
    let _ = image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

/// Phase D (`verify == false`): POST /sessions. Phase E (`verify == true`): the whole API-only flow.
async fn session_worker(
    worker: usize,
    base: Rc<str>,
    api_key: Rc<str>,
    deadline: Instant,
    printed: Rc<Cell<u32>>,
    verify: bool,
) -> WorkerResult {
    let client = http_client();
    let png = tiny_png();
    let mut out = WorkerResult { latencies_us: Vec::with_capacity(1024), ..WorkerResult::default() };
    let mut n: u64 = 0;
    let phase = if verify { "verification" } else { "session" };
    while Instant::now() < deadline {
        n += 1;
        let started = Instant::now();
        match one_session(&client, &base, &api_key, worker, n, verify, &png).await {
            Ok(()) => {
                out.ok += 1;
                out.latencies_us.push(elapsed_us(started));
            }
            Err(e) => {
                out.errors += 1;
                report_failure(&printed, phase, e);
                actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    out
}

async fn json_call(req: awc::ClientRequest, body: Option<String>, expect: &[u16]) -> Result<Value, String> {
    let sent = match body {
        Some(b) => req.insert_header((CONTENT_TYPE, "application/json")).send_body(b).await,
        None => req.send().await,
    };
    let mut resp = sent.map_err(|e| format!("transport error: {e}"))?;
    let status = resp.status().as_u16();
    let bytes = resp.body().limit(1 << 20).await.map_err(|e| format!("body error: {e}"))?;
    if !expect.contains(&status) {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("bad JSON: {e}"))
}

async fn one_session(
    client: &awc::Client,
    base: &str,
    key: &str,
    worker: usize,
    n: u64,
    verify: bool,
    png: &[u8],
) -> Result<(), String> {
    let body = serde_json::json!({
        "external_ref": format!("bench-ses-{worker}-{n}-{}", rand::random::<u32>()),
        "first_name": format!("Grace{n}"),
        "last_name": format!("Hopper{worker}"),
        "date_of_birth": "1986-12-09",
        "checks": ["document_ocr", "document_expiration", "age_verification", "duplicate_detection", "risk_assessment"],
    });
    let created = json_call(
        client.post(format!("{base}/api/v1/sessions")).insert_header(("X-API-Key", key)),
        Some(body.to_string()),
        &[201],
    )
    .await?;
    if !verify {
        return Ok(());
    }
    let id = created["id"].as_str().ok_or("no session id")?.to_string();
    let boundary = "idvbenchboundary";
    let mut multipart = Vec::with_capacity(png.len() + 300);
    multipart.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"document_type\"\r\n\r\nid_front\r\n")
            .as_bytes(),
    );
    multipart.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"front.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    multipart.extend_from_slice(png);
    multipart.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut resp = client
        .post(format!("{base}/api/v1/sessions/{id}/documents"))
        .insert_header(("X-API-Key", key))
        .insert_header((CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}")))
        .send_body(multipart)
        .await
        .map_err(|e| format!("upload transport error: {e}"))?;
    if resp.status().as_u16() != 201 {
        let b = resp.body().await.unwrap_or_default();
        return Err(format!("upload HTTP {}: {}", resp.status(), String::from_utf8_lossy(&b)));
    }
    json_call(
        client.post(format!("{base}/api/v1/sessions/{id}/submit")).insert_header(("X-API-Key", key)),
        None,
        &[202],
    )
    .await?;
    for _ in 0..2000 {
        let s = json_call(
            client.get(format!("{base}/api/v1/sessions/{id}")).insert_header(("X-API-Key", key)),
            None,
            &[200],
        )
        .await?;
        if s["status"] != "processing" {
            json_call(
                client.get(format!("{base}/api/v1/sessions/{id}/result")).insert_header(("X-API-Key", key)),
                None,
                &[200],
            )
            .await?;
            return Ok(());
        }
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    }
    Err("the session never left processing".into())
}

/// Runs `concurrency` workers until `duration` has passed and merges what they measured.
async fn phase<F, Fut>(concurrency: usize, duration: Duration, worker: F) -> (PhaseResult, Vec<String>)
where
    F: Fn(usize, Instant, Rc<Cell<u32>>) -> Fut,
    Fut: std::future::Future<Output = WorkerResult> + 'static,
{
    let printed = Rc::new(Cell::new(0u32));
    let start = Instant::now();
    let deadline = start + duration;
    let handles: Vec<_> =
        (0..concurrency).map(|n| actix_web::rt::spawn(worker(n, deadline, printed.clone()))).collect();
    collect(handles, start).await
}

async fn collect(
    handles: Vec<actix_web::rt::task::JoinHandle<WorkerResult>>,
    start: Instant,
) -> (PhaseResult, Vec<String>) {
    let mut phase = PhaseResult::default();
    let mut ids = Vec::new();
    for handle in handles {
        match handle.await {
            Ok(w) => {
                phase.latencies_us.extend_from_slice(&w.latencies_us);
                phase.ok += w.ok;
                phase.errors += w.errors;
                phase.no_id += w.no_id;
                ids.extend(w.ids);
            }
            Err(e) => eprintln!("idv-bench: a worker task failed: {e}"),
        }
    }
    phase.elapsed = start.elapsed();
    phase.latencies_us.sort_unstable();
    (phase, ids)
}

fn http_client() -> awc::Client {
    awc::Client::builder().timeout(Duration::from_secs(30)).finish()
}

fn report_failure(printed: &Cell<u32>, phase: &str, what: String) {
    let n = printed.get();
    if n < MAX_PRINTED_FAILURES {
        printed.set(n + 1);
        let what: String = what.chars().take(500).collect();
        eprintln!("idv-bench: {phase} failure #{}: {what}", n + 1);
    }
}

fn elapsed_us(started: Instant) -> u32 {
    u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX)
}

fn creation_body(worker: usize, n: u64) -> String {
    let r: u64 = rand::random();
    json!({
        "external_ref": format!("bench-{worker}-{n}-{r}"),
        "first_name": format!("Alice{n}"),
        "last_name": "Bench",
        "date_of_birth": "1990-01-15",
        "email": format!("alice{n}.{worker}@example.com"),
        "phone": format!("+1 555 010 {:04}", r % 10_000),
        "document_number": format!("D{:09}", (r >> 16) % 1_000_000_000),
        "ssn": format!("123-45-{:04}", (r >> 48) % 10_000),
        "address_line1": "1 Main St",
        "city": "Springfield",
        "zip_code": "12345",
        "country": "US",
    })
    .to_string()
}

async fn create_worker(
    worker: usize,
    base: Rc<str>,
    api_key: Rc<str>,
    deadline: Instant,
    printed: Rc<Cell<u32>>,
) -> WorkerResult {
    let client = http_client();
    let url = format!("{base}/api/v1/identities");
    let mut out = WorkerResult { latencies_us: Vec::with_capacity(4096), ..WorkerResult::default() };
    let mut n: u64 = 0;
    while Instant::now() < deadline {
        n += 1;
        let body = creation_body(worker, n);
        let started = Instant::now();
        let sent = client
            .post(url.as_str())
            .insert_header(("X-API-Key", &*api_key))
            .insert_header((CONTENT_TYPE, "application/json"))
            .send_body(body)
            .await;
        let mut resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                out.errors += 1;
                report_failure(&printed, "creation", format!("transport error: {e}"));
                // Do not spin when the server is gone.
                actix_web::rt::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let status = resp.status();
        let bytes = resp.body().limit(1 << 20).await;
        let latency = elapsed_us(started);
        match bytes {
            Ok(bytes) if status == StatusCode::CREATED => {
                out.ok += 1;
                out.latencies_us.push(latency);
                let id = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                    v.get("id").or_else(|| v.pointer("/data/id")).and_then(Value::as_str).map(str::to_string)
                });
                match id {
                    Some(id) => out.ids.push(id),
                    None => out.no_id += 1,
                }
            }
            Ok(bytes) => {
                out.errors += 1;
                report_failure(&printed, "creation", format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
            }
            Err(e) => {
                out.errors += 1;
                report_failure(&printed, "creation", format!("HTTP {status}, body error: {e}"));
            }
        }
    }
    out
}

async fn read_worker(
    worker: usize,
    base: Rc<str>,
    api_key: Rc<str>,
    ids: Rc<[String]>,
    deadline: Instant,
    printed: Rc<Cell<u32>>,
) -> WorkerResult {
    let client = http_client();
    let mut out = WorkerResult { latencies_us: Vec::with_capacity(8192), ..WorkerResult::default() };
    // Start each worker at a different place, then pick at random.
    let mut next = worker % ids.len();
    while Instant::now() < deadline {
        let url = format!("{base}/api/v1/identities/{}", ids[next]);
        next = (rand::random::<u64>() % ids.len() as u64) as usize;
        let started = Instant::now();
        let sent = client.get(url.as_str()).insert_header(("X-API-Key", &*api_key)).send().await;
        let mut resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                out.errors += 1;
                report_failure(&printed, "read", format!("transport error: {e}"));
                actix_web::rt::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let status = resp.status();
        let bytes = resp.body().limit(1 << 20).await;
        let latency = elapsed_us(started);
        match bytes {
            Ok(_) if status == StatusCode::OK => {
                out.ok += 1;
                out.latencies_us.push(latency);
            }
            Ok(bytes) => {
                out.errors += 1;
                report_failure(&printed, "read", format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
            }
            Err(e) => {
                out.errors += 1;
                report_failure(&printed, "read", format!("HTTP {status}, body error: {e}"));
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------------------ ceiling

struct Ceiling {
    identities: u64,
    elapsed: Duration,
}

impl Ceiling {
    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.identities as f64 / secs
        } else {
            0.0
        }
    }
}

/// Keys standing in for the server's keyring, so the ceiling pays the same crypto the server does.
struct BenchKeys {
    wrapping: [u8; 32],
    blind: [u8; 32],
    chain: [u8; 32],
}

impl BenchKeys {
    fn new() -> Self {
        let mut master = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut master);
        BenchKeys {
            wrapping: blake3::derive_key("idv-bench subject data-key wrapping", &master),
            blind: blake3::derive_key("idv-bench blind index", &master),
            chain: blake3::derive_key("idv-bench event log hash chain", &master),
        }
    }
}

fn seal(key: &[u8; 32], plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|e| format!("encryption failed: {e}"))?;
    let mut out = Vec::with_capacity(nonce.len() + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Standard base64 with padding (the bench avoids depending on a base64 crate).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn blind_digest(key: &[u8; 32], kind: &str, value: &str) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(key);
    for part in [ENVIRONMENT, kind, value] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    *hasher.finalize().as_bytes()
}

/// The bytes the event hash covers: every column, length-prefixed, like the server's log.
#[allow(clippy::too_many_arguments)]
fn event_row_bytes(
    seq: i64,
    event_id: &str,
    stream_id: &str,
    stream_seq: i64,
    event_type: &str,
    payload: &str,
    recorded_at: &str,
    actor: &str,
    request_id: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + payload.len());
    let mut put = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    put(&seq.to_le_bytes());
    put(event_id.as_bytes());
    put(stream_id.as_bytes());
    put(&stream_seq.to_le_bytes());
    put(event_type.as_bytes());
    put(&1i64.to_le_bytes());
    put(payload.as_bytes());
    put(recorded_at.as_bytes());
    put(actor.as_bytes());
    put(ENVIRONMENT.as_bytes());
    put(request_id.as_bytes());
    out
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "2026-01-01T00:00:00Z".to_string())
}

fn remove_sqlite_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Inserts identity rows straight into a fresh SQLite file for `duration` (or until `cap` identities),
/// with the server's durability settings and group commits of `CEILING_GROUP` identities. The file is
/// created next to (not inside) the data directory and removed afterwards.
fn run_ceiling(data_dir: &Path, duration: Duration, cap: Option<u64>) -> Result<Ceiling, String> {
    let path = data_dir.with_file_name(format!(
        "{}-ceiling.sqlite",
        data_dir.file_name().map_or_else(|| "idv-bench".into(), |n| n.to_string_lossy())
    ));
    remove_sqlite_files(&path);
    let result = ceiling_inserts(&path, duration, cap);
    remove_sqlite_files(&path);
    result
}

fn ceiling_inserts(path: &Path, duration: Duration, cap: Option<u64>) -> Result<Ceiling, String> {
    let db_err = |e: rusqlite::Error| format!("sqlite ({}): {e}", path.display());
    let mut conn = Connection::open(path).map_err(db_err)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(db_err)?;
    // The same page size the server gives new databases (src/store/mod.rs).
    conn.execute_batch("PRAGMA page_size=2048;").map_err(db_err)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(db_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("journal_mode=WAL was refused (got {mode})"));
    }
    conn.execute_batch(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON; PRAGMA cache_size=-32000;",
    )
    .map_err(db_err)?;
    conn.execute_batch(include_str!("../../schema.sql")).map_err(db_err)?;

    let keys = BenchKeys::new();
    let actor = format!("key_{}", ulid::Ulid::new());
    let mut prev_hash = vec![0u8; 32];
    let mut seq: i64 = 0;
    let mut identities: u64 = 0;
    let limit = cap.unwrap_or(u64::MAX);

    let start = Instant::now();
    let deadline = start + duration;
    while Instant::now() < deadline && identities < limit {
        let tx = conn.transaction().map_err(db_err)?;
        {
            let mut ins_event = tx
                .prepare_cached(
                    "INSERT INTO events (seq, event_id, stream_id, stream_seq, event_type, event_version, payload,
                                         recorded_at, actor, environment, request_id, prev_hash, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )
                .map_err(db_err)?;
            let mut ins_identity = tx
                .prepare_cached(
                    "INSERT INTO identities (id, environment, external_ref, status, session_count,
                                             monitoring_enabled, is_flagged, pii, country,
                                             created_at, updated_at, stream_seq)
                     VALUES (?1, ?2, ?3, ?4, 0, 0, 0, ?5, ?6, ?7, ?7, 1)",
                )
                .map_err(db_err)?;
            let mut ins_blind = tx
                .prepare_cached(
                    "INSERT INTO blind_indexes (identity_id, kind, environment, digest) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(db_err)?;
            let mut ins_key = tx
                .prepare_cached("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)")
                .map_err(db_err)?;

            let batch = (limit - identities).min(CEILING_GROUP as u64);
            for _ in 0..batch {
                let n = identities;
                let r: u64 = rand::random();
                let id = format!("idn_{}", ulid::Ulid::new());
                let now = now_rfc3339();
                let external_ref = format!("bench-ceiling-{n}-{r}");

                // Per-subject data key, wrapped: 24 nonce + 32 key + 16 tag = 72 bytes.
                let mut data_key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut data_key);
                let wrapped = seal(&keys.wrapping, &data_key, id.as_bytes())?;

                let fields: [(&str, String); 10] = [
                    ("first_name", format!("Alice{n}")),
                    ("last_name", "Bench".to_string()),
                    ("date_of_birth", "1990-01-15".to_string()),
                    ("email", format!("alice{n}.0@example.com")),
                    ("phone", format!("+1 555 010 {:04}", r % 10_000)),
                    ("document_number", format!("D{:09}", (r >> 16) % 1_000_000_000)),
                    ("ssn", format!("123-45-{:04}", (r >> 48) % 10_000)),
                    ("address_line1", "1 Main St".to_string()),
                    ("city", "Springfield".to_string()),
                    ("zip_code", "12345".to_string()),
                ];
                let mut pii = BTreeMap::new();
                for (field, value) in &fields {
                    let mut aad = Vec::with_capacity(id.len() + field.len() + 1);
                    aad.extend_from_slice(id.as_bytes());
                    aad.push(0);
                    aad.extend_from_slice(field.as_bytes());
                    let sealed = seal(&data_key, value.as_bytes(), &aad)?;
                    pii.insert(field.to_string(), Value::String(base64(&sealed)));
                }
                let pii = Value::Object(pii.into_iter().collect());
                let pii_text = pii.to_string();
                let payload = json!({
                    "external_ref": external_ref,
                    "status": "pending",
                    "country": "US",
                    "identity_type_id": null,
                    "tags": [],
                    "monitoring_enabled": false,
                    "pii": pii,
                })
                .to_string();

                seq += 1;
                let event_id = format!("evt_{}", ulid::Ulid::new());
                let request_id = format!("req_{}", ulid::Ulid::new());
                let row =
                    event_row_bytes(seq, &event_id, &id, 1, "identity.created", &payload, &now, &actor, &request_id);
                let mut hasher = blake3::Hasher::new_keyed(&keys.chain);
                hasher.update(&(prev_hash.len() as u64).to_le_bytes());
                hasher.update(&prev_hash);
                hasher.update(&row);
                let hash = hasher.finalize().as_bytes().to_vec();

                ins_event
                    .execute(params![
                        seq,
                        event_id,
                        id,
                        1i64,
                        "identity.created",
                        1i64,
                        payload,
                        now,
                        actor,
                        ENVIRONMENT,
                        request_id,
                        prev_hash,
                        hash,
                    ])
                    .map_err(db_err)?;
                prev_hash = hash;

                ins_identity
                    .execute(params![id, ENVIRONMENT, external_ref, "pending", pii_text, "US", now])
                    .map_err(db_err)?;

                let name_dob = format!("alice{n} bench|1990-01-15");
                let blind: [(&str, &str); 9] = [
                    ("first_name", &fields[0].1),
                    ("last_name", &fields[1].1),
                    ("name_dob", &name_dob),
                    ("date_of_birth", &fields[2].1),
                    ("email", &fields[3].1),
                    ("phone", &fields[4].1),
                    ("document_number", &fields[5].1),
                    ("ssn", &fields[6].1),
                    ("address", &fields[7].1),
                ];
                for (kind, value) in blind {
                    let digest = blind_digest(&keys.blind, kind, &value.to_lowercase());
                    ins_blind.execute(params![id, kind, ENVIRONMENT, &digest[..]]).map_err(db_err)?;
                }

                ins_key.execute(params![id, wrapped]).map_err(db_err)?;
                identities += 1;
            }
        }
        tx.commit().map_err(db_err)?;
    }
    Ok(Ceiling { identities, elapsed: start.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::bench_support::extract_secret;
    use super::*;

    #[test]
    fn extracts_secret_from_plain_and_json_output() {
        assert_eq!(
            extract_secret("created key key_01\nsecret: vk_sandbox_abc123 (shown once)\n", "sandbox").as_deref(),
            Some("vk_sandbox_abc123")
        );
        assert_eq!(
            extract_secret(r#"{"id":"key_1","secret":"vk_sandbox_x_y-z"}"#, "sandbox").as_deref(),
            Some("vk_sandbox_x_y-z")
        );
        assert_eq!(extract_secret("nothing here", "sandbox"), None);
        assert_eq!(extract_secret("vk_sandbox_", "sandbox"), None);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn ceiling_inserts_into_the_project_schema() {
        let dir = std::env::temp_dir().join(format!("idv-bench-test-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = run_ceiling(&dir, Duration::from_secs(5), Some(100)).unwrap();
        assert_eq!(c.identities, 100);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
