//! idv-bench: the end-to-end benchmark `make bench` runs — owns starting a throw-away `idv serve`, the
//! HTTP load phases (identity creations and reads with its own client and with wrk, session creations,
//! API-only verifications against a thousand enrolled selfies, identity creations with no personal data by
//! wrk), the SQLite ceiling (the server's own identity rows re-inserted into a fresh database) and the
//! report. Must not link the `idv` library (it talks to the server only over HTTP and the CLI), must not
//! delete the data directory it creates (it is left for `idv replay --check` / `idv verify-log`), and must
//! not panic on network errors (they are counted as errors).

use awc::http::header::CONTENT_TYPE;
use awc::http::StatusCode;
use clap::Parser;
use idv::store::checkpoint;
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The client shares the server's two cores. Under the verification phases glibc's malloc and free were a
/// fifth of the client's own time (perf -a); mimalloc, the server's allocator, leaves more of the machine
/// to the server being measured.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How many failure bodies/errors each phase prints before going quiet.
const MAX_PRINTED_FAILURES: u32 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "idv-bench",
    about = "Benchmarks an idv server binary: identity creations and reads (own client and wrk), sessions, \
             API-only verifications, and the SQLite ceiling for identity creations"
)]
struct Args {
    /// The idv binary to benchmark.
    #[arg(long, default_value = "target/release/idv")]
    server_bin: PathBuf,
    /// Length of each phase, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    duration_secs: u64,
    /// Concurrent HTTP workers (and wrk connections).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    concurrency: u32,
    /// The wrk binary for the external-generator phases; they are skipped when it cannot be run.
    #[arg(long, default_value = "wrk")]
    wrk: PathBuf,
    /// The folder holding wrk-create.lua and wrk-read.lua.
    #[arg(long, default_value = "tests/bench")]
    wrk_scripts: PathBuf,
    /// Sessions with distinct selfies completed before the verification phase, so each verification's
    /// duplicate search scans them.
    #[arg(long, default_value_t = 1000)]
    enrolled_selfies: u64,
    /// Batch sizes (identities per transaction) the ceiling tries; the best is reported.
    #[arg(long, value_delimiter = ',', default_value = "16,64,256,1024")]
    ceiling_batches: Vec<usize>,
    /// Skip the SQLite ceiling.
    #[arg(long)]
    skip_ceiling: bool,
    /// Run only the verification phases (enrolment, polling, waiting), for comparing two builds of the
    /// session pipeline; implies --skip-ceiling.
    #[arg(long)]
    verifications_only: bool,
}

fn main() -> ExitCode {
    // The server's page cache for the ceiling's connections too (before this process opens SQLite).
    if let Err(e) = idv::store::page_cache::install() {
        eprintln!("idv-bench: {e}");
    }
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
    let keys = match (
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
    let setup = Setup { base: format!("http://127.0.0.1:{port}"), keys, duration, concurrency, data_dir: &data_dir };
    let http = actix_web::rt::System::new().block_on(run_http_phases(&mut server, &setup, &args));

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

    // 4. The ceiling: the server's own identity rows, re-inserted.
    let ceiling = if args.verifications_only {
        Err("skipped (--verifications-only)".to_string())
    } else if args.skip_ceiling {
        Err("skipped (--skip-ceiling)".to_string())
    } else {
        eprintln!("idv-bench: phase C, the SQLite ceiling (the server's identity rows re-inserted)");
        run_ceiling(&data_dir, &args.ceiling_batches, duration)
    };

    // 5. The report.
    println!();
    println!("idv bench (concurrency {concurrency}, {} s per phase, synchronous=FULL)", duration.as_secs());
    if args.verifications_only {
        print_verifications(&http);
        println!();
        println!("data directory (kept): {}", data_dir.display());
        return ExitCode::SUCCESS;
    }
    print_phase("identity creations (idv-bench):", &http.creations);
    print_wrk("identity creations (wrk):      ", &http.wrk_creations);
    match &http.reads {
        Some(reads) => print_phase("identity reads (idv-bench):    ", reads),
        None => println!("identity reads (idv-bench):     skipped (no identities were created)"),
    }
    print_wrk("identity reads (wrk):          ", &http.wrk_reads);
    print_phase("session creations:             ", &http.sessions);
    print_verifications(&http);
    print_wrk("creations, no personal data:   ", &http.wrk_bare_creations);
    println!("  (wrk, external_ref only: no sealed field, no blind index; live environment, after every phase above)");
    match &ceiling {
        Ok(c) => {
            println!(
                "sqlite ceiling:                 {:>9.1} identities/s  ({}; {} rows of {} identities re-inserted, synchronous=FULL, WAL, page 2048)",
                c.best().rate(),
                c.best().label(),
                c.rows_per_pass,
                c.identities
            );
            if c.best().rate() > 0.0 {
                println!("creations / ceiling:            {}", creation_ratios(&http, c.best()).join(", "));
            }
        }
        Err(e) => println!("sqlite ceiling:                 {e}"),
    }
    match &http.creation_tables {
        Ok(written) => match omitted_by_ceiling(written).as_slice() {
            [] => println!("  (the ceiling writes every table identity creations wrote: {})", written.join(", ")),
            omitted => println!(
                "  warning: identity creations also wrote {}, which the ceiling leaves out",
                omitted.join(", ")
            ),
        },
        Err(e) => println!("  (cannot tell which tables identity creations wrote: {e})"),
    }
    if let Ok(c) = &ceiling {
        // The server's group commits hold at most one command per client, so its batches never exceed
        // the concurrency: the best pass within that bound is the like-for-like figure.
        if let Some(near) = c.trials.iter().find(|t| t.batch <= concurrency) {
            println!(
                "{:<31} {:>9.1} identities/s  ({}); creations / it: {}",
                format!("ceiling at batch <= {concurrency}:"),
                near.rate(),
                near.label(),
                creation_ratios(&http, near).join(", ")
            );
        }
        // The server syncs the WAL inside COMMIT (see `store::wal_coalesce`): the best pass that does too
        // is the like-for-like figure for its durability arrangement.
        if let Some(in_commit) = c.trials.iter().find(|t| t.syncs == Syncs::InCommit) {
            println!(
                "{:<31} {:>9.1} identities/s  ({}); creations / it: {}",
                "ceiling syncing in COMMIT:",
                in_commit.rate(),
                in_commit.label(),
                creation_ratios(&http, in_commit).join(", ")
            );
        }
        let others: Vec<String> = c.trials.iter().skip(1).map(Trial::label).collect();
        println!("  other ceiling passes: {}", others.join(", "));
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
    wrk_creations: Result<WrkResult, String>,
    /// The tables identity creations (phases A and A') added rows to: what the ceiling must re-insert.
    creation_tables: Result<Vec<String>, String>,
    reads: Option<PhaseResult>,
    wrk_reads: Result<WrkResult, String>,
    sessions: PhaseResult,
    enrolment: PhaseResult,
    verifications: PhaseResult,
    verifications_waiting: PhaseResult,
    /// Identity creations with no personal data (wrk, live environment, the last phase).
    wrk_bare_creations: Result<WrkResult, String>,
}

/// What every phase needs to reach the server.
struct Setup<'a> {
    base: String,
    /// (sandbox, live) secret keys.
    keys: (String, String),
    duration: Duration,
    concurrency: usize,
    data_dir: &'a Path,
}

/// The enrolment and the two verification phases.
fn print_verifications(http: &HttpResults) {
    println!(
        "enrolled selfies:               {} sessions with a selfie completed in {:.1} s ({} errors)",
        http.enrolment.ok,
        http.enrolment.elapsed.as_secs_f64(),
        http.enrolment.errors
    );
    print_phase("API-only verifications:        ", &http.verifications);
    println!("  (create, upload document and selfie, submit, poll every 2 ms for the decision, result; duplicate search over the enrolled selfies)");
    print_phase("API-only verifications (wait): ", &http.verifications_waiting);
    println!("  (the same, with one GET /sessions/{{id}}/result carrying Prefer: wait=20 instead of polling)");
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

async fn run_http_phases(server: &mut ServerGuard, setup: &Setup<'_>, args: &Args) -> Result<HttpResults, String> {
    let (base, duration, concurrency) = (setup.base.as_str(), setup.duration, setup.concurrency);
    wait_healthy(server, base).await?;
    let api_key: Rc<str> = Rc::from(setup.keys.0.as_str());
    let live_key: Rc<str> = Rc::from(setup.keys.1.as_str());
    let base: Rc<str> = Rc::from(base);
    let wrk = Wrk { bin: args.wrk.clone(), scripts: args.wrk_scripts.clone(), url: base.to_string() };

    let secs = duration.as_secs();
    if args.verifications_only {
        let skipped = || Err("skipped (--verifications-only)".to_string());
        let (enrolment, verifications, verifications_waiting) =
            verification_phases(base, live_key, setup.data_dir, args.enrolled_selfies, duration, concurrency).await;
        return Ok(HttpResults {
            creations: PhaseResult::default(),
            wrk_creations: skipped(),
            creation_tables: Err("skipped (--verifications-only)".to_string()),
            reads: None,
            wrk_reads: skipped(),
            sessions: PhaseResult::default(),
            enrolment,
            verifications,
            verifications_waiting,
            wrk_bare_creations: skipped(),
        });
    }
    let db = setup.data_dir.join("idv.db");
    let counts_before = table_row_counts(&db);
    eprintln!("idv-bench: phase A, identity creations for {secs} s with {concurrency} workers");
    let (creations, ids) = phase(concurrency, duration, |worker, deadline, printed| {
        create_worker(worker, base.clone(), api_key.clone(), deadline, printed)
    })
    .await;
    if server.exited().is_some() {
        eprintln!("idv-bench: warning: the server exited during phase A");
    }

    eprintln!("idv-bench: phase A', identity creations with wrk for {secs} s, {concurrency} connections");
    let wrk_creations = wrk.run("wrk-create.lua", &setup.keys.0, &[], duration, concurrency);
    let creation_tables = match (counts_before, table_row_counts(&db)) {
        (Ok(before), Ok(after)) => Ok(grown_tables(&before, &after)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };

    let (reads, wrk_reads) = if ids.is_empty() {
        (None, Err("skipped (no identities were created)".to_string()))
    } else {
        eprintln!("idv-bench: phase B, identity reads for {secs} s with {concurrency} workers ({} ids)", ids.len());
        let ids_file = setup.data_dir.join("bench-identity-ids.txt");
        let written =
            std::fs::write(&ids_file, ids.join("\n")).map_err(|e| format!("cannot write {}: {e}", ids_file.display()));
        let ids: Rc<[String]> = Rc::from(ids);
        let (reads, _) = phase(concurrency, duration, |worker, deadline, printed| {
            read_worker(worker, base.clone(), api_key.clone(), ids.clone(), deadline, printed)
        })
        .await;
        eprintln!("idv-bench: phase B', identity reads with wrk for {secs} s, {concurrency} connections");
        let wrk_reads = match written {
            Ok(()) => {
                wrk.run("wrk-read.lua", &setup.keys.0, &[("IDV_IDS", ids_file.as_os_str())], duration, concurrency)
            }
            Err(e) => Err(e),
        };
        (Some(reads), wrk_reads)
    };

    // Phase D: session creations (each returns a capture URL and a QR code).
    eprintln!("idv-bench: phase D, session creations for {secs} s with {concurrency} workers");
    let (sessions, _) = phase(concurrency, duration, |worker, deadline, printed| {
        session_worker(worker, base.clone(), api_key.clone(), deadline, printed, Flow::Create, None, None)
    })
    .await;

    let (enrolment, verifications, verifications_waiting) = verification_phases(
        base.clone(),
        live_key.clone(),
        setup.data_dir,
        args.enrolled_selfies,
        duration,
        concurrency,
    )
    .await;
    // Phase G, last so the phases above and the ceiling (which re-inserts the sandbox creations) see the
    // database they always did: creations with no personal data, in the live environment.
    eprintln!(
        "idv-bench: phase G, identity creations with no personal data, wrk for {secs} s, {concurrency} connections"
    );
    let bare = [("IDV_BODY", std::ffi::OsStr::new("bare"))];
    let wrk_bare_creations = wrk.run("wrk-create.lua", &setup.keys.1, &bare, duration, concurrency);
    Ok(HttpResults {
        creations,
        wrk_creations,
        creation_tables,
        reads,
        wrk_reads,
        sessions,
        enrolment,
        verifications,
        verifications_waiting,
        wrk_bare_creations,
    })
}

/// Phases E0, E and F: enrolled selfies, then complete API-only verifications polling for the decision,
/// then the same asking once with `Prefer: wait`.
async fn verification_phases(
    base: Rc<str>,
    live_key: Rc<str>,
    data_dir: &Path,
    target: u64,
    duration: Duration,
    concurrency: usize,
) -> (PhaseResult, PhaseResult, PhaseResult) {
    let secs = duration.as_secs();
    // Phase E0: enrolled selfies, so the duplicate search of every verification has them to scan.
    eprintln!("idv-bench: phase E0, completing {target} live sessions with distinct selfies");
    let budget = Rc::new(Cell::new(target));
    let (enrolment, _) =
        phase(concurrency.min(target.max(1) as usize), Duration::from_secs(600), |worker, deadline, printed| {
            session_worker(
                worker,
                base.clone(),
                live_key.clone(),
                deadline,
                printed,
                Flow::Verify,
                Some(budget.clone()),
                None,
            )
        })
        .await;
    match enrolled_selfies(data_dir) {
        Ok(n) => eprintln!("idv-bench: {n} selfies with a perceptual hash on live sessions linked to an identity"),
        Err(e) => eprintln!("idv-bench: cannot count the enrolled selfies: {e}"),
    }

    // Phase E: complete API-only verifications (create, upload document and selfie, submit, wait for the
    // decision, result).
    let selfies = prepared_selfies(duration);
    eprintln!("idv-bench: phase E, API-only verifications for {secs} s with {concurrency} workers");
    let (verifications, _) = phase(concurrency, duration, |worker, deadline, printed| {
        let selfies = Some(selfies.clone());
        session_worker(worker, base.clone(), live_key.clone(), deadline, printed, Flow::Verify, None, selfies)
    })
    .await;

    // Phase F: the same, asking for the result once with `Prefer: wait` instead of polling.
    eprintln!(
        "idv-bench: phase F, API-only verifications waiting with Prefer: wait for {secs} s with {concurrency} workers"
    );
    let selfies = prepared_selfies(duration);
    let (verifications_waiting, _) = phase(concurrency, duration, |worker, deadline, printed| {
        let selfies = Some(selfies.clone());
        session_worker(worker, base.clone(), live_key.clone(), deadline, printed, Flow::VerifyWaiting, None, selfies)
    })
    .await;
    (enrolment, verifications, verifications_waiting)
}

/// Rows per table of the server's database (read while it runs, from the last commit).
fn table_row_counts(db: &Path) -> Result<BTreeMap<String, i64>, String> {
    let err = |e: rusqlite::Error| format!("counting rows of {}: {e}", db.display());
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .map_err(err)?
        .query_map([], |r| r.get(0))
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let mut counts = BTreeMap::new();
    for table in tables {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| r.get(0)).map_err(err)?;
        counts.insert(table, n);
    }
    Ok(counts)
}

/// The tables with more rows in `after` than in `before`.
fn grown_tables(before: &BTreeMap<String, i64>, after: &BTreeMap<String, i64>) -> Vec<String> {
    after.iter().filter(|(t, n)| **n > before.get(*t).copied().unwrap_or(0)).map(|(t, _)| t.clone()).collect()
}

/// The tables identity creations wrote that the ceiling does not re-insert (none when it writes what the
/// server wrote).
fn omitted_by_ceiling(written: &[String]) -> Vec<&str> {
    written.iter().map(String::as_str).filter(|t| !CEILING_TABLES.iter().any(|(c, _)| c == t)).collect()
}

/// Live sessions whose selfie has a perceptual hash and whose decision linked an identity: what the
/// duplicate search of a verification scans.
fn enrolled_selfies(data_dir: &Path) -> Result<i64, String> {
    let conn = Connection::open_with_flags(data_dir.join("idv.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    conn.query_row(
        "SELECT COUNT(*) FROM session_documents d JOIN sessions s ON s.id = d.session_id
         WHERE d.doc_type = 'selfie' AND d.phash IS NOT NULL AND s.environment = 'live' AND s.identity_id IS NOT NULL",
        [],
        |r| r.get(0),
    )
    .map_err(|e| e.to_string())
}

/// A small PNG (solid colour) for document uploads.
fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, 128]));
    let _ = image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

/// A PNG of random noise: every call gives a different picture, so every selfie has its own perceptual
/// hash and the duplicate search compares against all of them instead of matching the first.
fn noise_png() -> Vec<u8> {
    use rand::RngCore;
    let mut out = Vec::new();
    // The client shares the server's cores: the noise is drawn in one call, not a call per pixel.
    let mut noise = vec![0u8; 64 * 64 * 3];
    rand::thread_rng().fill_bytes(&mut noise);
    let Some(img) = image::RgbImage::from_raw(64, 64, noise) else { return out };
    let _ = image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png);
    out
}

/// Selfies drawn for a verification phase, taken one per verification.
type Selfies = Rc<RefCell<Vec<Vec<u8>>>>;

/// Verifications a phase is prepared for per second: above any rate this machine reaches, so the phase
/// does not run out (a worker that does draws its selfie itself).
const SELFIES_PER_SECOND: u64 = 2500;

/// Distinct noise selfies for a phase of `duration`, drawn before its clock starts (on both cores): the
/// client shares the server's two cores, and encoding a PNG per verification while the phase runs took
/// a tenth of the client's time from the server it measures. The server's work is the same.
fn prepared_selfies(duration: Duration) -> Selfies {
    let wanted = (duration.as_secs().max(1) * SELFIES_PER_SECOND) as usize;
    let started = Instant::now();
    let half = |n: usize| move || (0..n).map(|_| noise_png()).collect::<Vec<_>>();
    let mut drawn = std::thread::scope(|scope| {
        let other = scope.spawn(half(wanted / 2));
        let mut mine = half(wanted - wanted / 2)();
        mine.extend(other.join().unwrap_or_default());
        mine
    });
    drawn.shrink_to_fit();
    eprintln!("idv-bench: {} selfies drawn in {:.1} s", drawn.len(), started.elapsed().as_secs_f64());
    Rc::new(RefCell::new(drawn))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// POST /sessions only.
    Create,
    /// The whole API-only flow: create, upload a document and a selfie, submit, poll every 2 ms, result.
    Verify,
    /// The same flow, asking once for `GET /sessions/{id}/result` with `Prefer: wait=20` (under the client's 30 s
    /// timeout), which the server answers at the decision.
    VerifyWaiting,
}

/// Runs `flow` until the deadline, or until `budget` (shared by the workers) is used up; selfies are taken
/// from `selfies` while it has some.
#[allow(clippy::too_many_arguments)]
async fn session_worker(
    worker: usize,
    base: Rc<str>,
    api_key: Rc<str>,
    deadline: Instant,
    printed: Rc<Cell<u32>>,
    flow: Flow,
    budget: Option<Rc<Cell<u64>>>,
    selfies: Option<Selfies>,
) -> WorkerResult {
    let client = http_client();
    let png = tiny_png();
    let mut out = WorkerResult { latencies_us: Vec::with_capacity(1024), ..WorkerResult::default() };
    let mut n: u64 = 0;
    let phase = if flow == Flow::Create { "session" } else { "verification" };
    while Instant::now() < deadline {
        if let Some(budget) = &budget {
            match budget.get() {
                0 => break,
                left => budget.set(left - 1),
            }
        }
        n += 1;
        // The selfie is made before the clock starts: the bench's own CPU is not the server's latency.
        let prepared = selfies.as_ref().and_then(|s| s.borrow_mut().pop());
        let selfie = match flow {
            Flow::Create => Vec::new(),
            _ => prepared.unwrap_or_else(noise_png),
        };
        let started = Instant::now();
        match one_session(&client, &base, &api_key, worker, n, flow, &png, &selfie).await {
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

/// POST /sessions/{id}/documents with one image.
async fn upload(
    client: &awc::Client,
    base: &str,
    key: &str,
    session: &str,
    document_type: &str,
    png: &[u8],
) -> Result<(), String> {
    let boundary = "idvbenchboundary";
    let mut multipart = Vec::with_capacity(png.len() + 300);
    multipart.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"document_type\"\r\n\r\n{document_type}\r\n")
            .as_bytes(),
    );
    multipart.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{document_type}.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes());
    multipart.extend_from_slice(png);
    multipart.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut resp = client
        .post(format!("{base}/api/v1/sessions/{session}/documents"))
        .insert_header(("X-API-Key", key))
        .insert_header((CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}")))
        .send_body(multipart)
        .await
        .map_err(|e| format!("{document_type} upload transport error: {e}"))?;
    // Read to the end whatever the status: a response left unread closes its connection, and the next
    // request would pay for a new one, as no integrator's client does.
    let b = resp.body().await.map_err(|e| format!("{document_type} upload body error: {e}"))?;
    if resp.status().as_u16() != 201 {
        return Err(format!("{document_type} upload HTTP {}: {}", resp.status(), String::from_utf8_lossy(&b)));
    }
    Ok(())
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

#[allow(clippy::too_many_arguments)]
async fn one_session(
    client: &awc::Client,
    base: &str,
    key: &str,
    worker: usize,
    n: u64,
    flow: Flow,
    document: &[u8],
    selfie: &[u8],
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
    if flow == Flow::Create {
        return Ok(());
    }
    let id = created["id"].as_str().ok_or("no session id")?.to_string();
    upload(client, base, key, &id, "id_front", document).await?;
    upload(client, base, key, &id, "selfie", selfie).await?;
    json_call(
        client.post(format!("{base}/api/v1/sessions/{id}/submit")).insert_header(("X-API-Key", key)),
        None,
        &[202],
    )
    .await?;
    if flow == Flow::VerifyWaiting {
        // One request: the result, held by the server until the decision (a 404 means the wait ran out).
        for _ in 0..5 {
            let get = client
                .get(format!("{base}/api/v1/sessions/{id}/result"))
                .insert_header(("X-API-Key", key))
                .insert_header(("Prefer", "wait=20"));
            if json_call(get, None, &[200, 404]).await?.get("session_id").is_some() {
                return Ok(());
            }
        }
        return Err("no result after five waits".into());
    }
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

// ------------------------------------------------------------------------------------------ wrk

/// The external load generator: wrk with the Lua scripts in `bench/`.
struct Wrk {
    bin: PathBuf,
    scripts: PathBuf,
    url: String,
}

/// What wrk reported for one run.
#[derive(Debug, Default)]
struct WrkResult {
    requests: u64,
    /// Answers other than 2xx/3xx (for creations, anything but 201 counts as a failure too).
    non_2xx: u64,
    socket_errors: u64,
    secs: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
}

impl WrkResult {
    /// Successful requests per second.
    fn ok_rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.requests.saturating_sub(self.non_2xx) as f64 / self.secs
        } else {
            0.0
        }
    }
}

impl Wrk {
    fn run(
        &self,
        script: &str,
        key: &str,
        env: &[(&str, &std::ffi::OsStr)],
        duration: Duration,
        connections: usize,
    ) -> Result<WrkResult, String> {
        let script = self.scripts.join(script);
        if !script.is_file() {
            return Err(format!("skipped ({} not found)", script.display()));
        }
        // Two threads: the machine has two cores and the server needs them too.
        let threads = connections.clamp(1, 2);
        let mut cmd = std::process::Command::new(&self.bin);
        cmd.args(["-t", &threads.to_string(), "-c", &connections.to_string()])
            .arg(format!("-d{}s", duration.as_secs()))
            .arg("--latency")
            .arg("-s")
            .arg(&script)
            .arg(&self.url)
            .env("IDV_KEY", key)
            .stdin(std::process::Stdio::null());
        cmd.envs(env.iter().copied());
        let output = cmd.output().map_err(|e| format!("skipped (cannot run {}: {e})", self.bin.display()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(format!(
                "failed ({}): {} {}",
                output.status,
                text.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        parse_wrk(&text).ok_or_else(|| format!("could not read wrk's output: {}", text.trim()))
    }
}

/// `18.73ms`, `850.00us`, `1.02s` -> milliseconds.
fn wrk_duration_ms(text: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|v| v * factor)
}

fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut out = WrkResult::default();
    let mut seen_total = false;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => out.p50_ms = wrk_duration_ms(v),
            ["99%", v] => out.p99_ms = wrk_duration_ms(v),
            [n, "requests", "in", secs, ..] => {
                out.requests = n.parse().ok()?;
                out.secs = wrk_duration_ms(secs.trim_end_matches(','))? / 1000.0;
                seen_total = true;
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => out.non_2xx = n.parse().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                out.socket_errors = rest.iter().filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok()).sum();
            }
            _ => {}
        }
    }
    seen_total.then_some(out)
}

fn print_wrk(label: &str, result: &Result<WrkResult, String>) {
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |ms| format!("{ms:.1} ms"));
    match result {
        Ok(w) => println!(
            "{label} {:>9.1}/s  p50 {}  p99 {}  ({} ok, {} non-2xx, {} socket errors)",
            w.ok_rate(),
            fmt(w.p50_ms),
            fmt(w.p99_ms),
            w.requests.saturating_sub(w.non_2xx),
            w.non_2xx,
            w.socket_errors
        ),
        Err(e) => println!("{label} {e}"),
    }
}

// ------------------------------------------------------------------------------------------ ceiling

/// The tables one identity creation writes, in the order the server writes them, each with the column
/// naming the identity the row belongs to.
const CEILING_TABLES: &[(&str, &str)] = &[
    ("subject_keys", "subject_id"),
    ("events", "stream_id"),
    ("identities", "id"),
    ("identity_tags", "identity_id"),
    ("identity_audit", "identity_id"),
    ("audit_log", "resource_id"),
];

/// Every row the server wrote for its identity creations, read back from its database: the bytes to
/// insert are ready before any clock starts (sealed fields, blind digests, chain hashes included).
struct CeilingRows {
    /// One INSERT per table of `CEILING_TABLES`.
    inserts: Vec<String>,
    /// Per identity, in creation order: (table index, column values).
    identities: Vec<Vec<(usize, Vec<rusqlite::types::Value>)>>,
}

impl CeilingRows {
    fn rows(&self) -> usize {
        self.identities.iter().map(Vec::len).sum()
    }
}

/// Where the ceiling's WAL checkpoints run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checkpoints {
    /// SQLite's automatic checkpoint, on the inserting thread (1,000 pages).
    Inline,
    /// idv's checkpointer (`store::checkpoint`): a second thread, every quarter second, restarting the
    /// WAL in a pause between two batches once it is long.
    Server,
    /// A second thread woken after every commit; restarts the WAL past 16,384 pages instead of
    /// truncating it (an alternative, measured so the server's choice can be checked against it).
    PerCommit,
}

impl Checkpoints {
    const ALL: [Checkpoints; 3] = [Checkpoints::Inline, Checkpoints::Server, Checkpoints::PerCommit];

    fn label(self) -> &'static str {
        match self {
            Checkpoints::Inline => "1 thread",
            Checkpoints::Server => "2 threads, idv's checkpointer",
            Checkpoints::PerCommit => "2 threads, checkpoint per commit",
        }
    }
}

/// Where a ceiling pass waits for each commit's WAL sync.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Syncs {
    /// Inside COMMIT, as SQLite does with synchronous=FULL.
    InCommit,
    /// On another thread while the next batch is inserted, the next COMMIT waiting for it
    /// (`store::commit_deferring_sync`; the server does not, see `store::wal_coalesce` for why).
    Pipelined,
}

impl Syncs {
    const ALL: [Syncs; 2] = [Syncs::InCommit, Syncs::Pipelined];

    fn label(self) -> &'static str {
        match self {
            Syncs::InCommit => "sync in COMMIT",
            Syncs::Pipelined => "sync beside the next batch",
        }
    }
}

/// One configuration of the ceiling and what it reached.
struct Trial {
    batch: usize,
    checkpoints: Checkpoints,
    syncs: Syncs,
    identities: u64,
    elapsed: Duration,
}

impl Ceiling {
    fn best(&self) -> &Trial {
        &self.trials[0]
    }
}

impl Trial {
    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.identities as f64 / secs
        } else {
            0.0
        }
    }

    fn label(&self) -> String {
        format!("batch {}, {}, {}: {:.0}/s", self.batch, self.checkpoints.label(), self.syncs.label(), self.rate())
    }
}

/// The server's creation rates (its own client's, wrk's) as fractions of a ceiling pass's.
fn creation_ratios(http: &HttpResults, pass: &Trial) -> Vec<String> {
    let ceiling = pass.rate().max(f64::MIN_POSITIVE);
    let mut ratios = vec![format!("idv-bench {:.2}", http.creations.rate() / ceiling)];
    if let Ok(w) = &http.wrk_creations {
        ratios.push(format!("wrk {:.2}", w.ok_rate() / ceiling));
    }
    ratios
}

/// The passes, fastest first.
struct Ceiling {
    trials: Vec<Trial>,
    identities: usize,
    rows_per_pass: usize,
}

/// Reads the rows of every sandbox identity creation from the bench's database (the server has stopped).
fn load_ceiling_rows(db: &Path) -> Result<CeilingRows, String> {
    let err = |e: rusqlite::Error| format!("reading {}: {e}", db.display());
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let mut index = std::collections::HashMap::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT stream_id FROM events WHERE event_type = 'IdentityCreated' AND environment = 'sandbox'
                 ORDER BY seq",
            )
            .map_err(err)?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(err)?;
        for id in ids {
            let next = index.len();
            index.entry(id.map_err(err)?).or_insert(next);
        }
    }
    let mut identities = vec![Vec::new(); index.len()];
    let mut inserts = Vec::new();
    for (table_no, (table, key)) in CEILING_TABLES.iter().enumerate() {
        // The log and the org audit log hold other events of these identities too; only the creation's rows.
        let filter = match *table {
            "events" => " WHERE event_type = 'IdentityCreated'",
            "audit_log" => " WHERE seq IN (SELECT seq FROM events WHERE event_type = 'IdentityCreated')",
            _ => "",
        };
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}{filter}")).map_err(err)?;
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let key_at = columns.iter().position(|c| c == key).ok_or_else(|| format!("{table} has no column {key}"))?;
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        inserts.push(format!("INSERT INTO {table} ({}) VALUES ({})", columns.join(", "), placeholders.join(", ")));
        let mut rows = stmt.query([]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let owner: String = match row.get(key_at) {
                Ok(owner) => owner,
                Err(_) => continue,
            };
            let Some(&at) = index.get(&owner) else { continue };
            let values = (0..columns.len())
                .map(|i| row.get::<_, rusqlite::types::Value>(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            identities[at].push((table_no, values));
        }
    }
    for rows in &mut identities {
        // Stable: rows of one table keep the order they were read in.
        rows.sort_by_key(|(table, _)| *table);
    }
    Ok(CeilingRows { inserts, identities })
}

/// Re-inserts the server's identity rows into a fresh database beside the data directory (same disk,
/// same schema, page size and pragmas as the server), once per batch size, with and without a separate
/// checkpoint thread; each pass stops after `cap` or when the rows run out. The best pass is the ceiling.
fn run_ceiling(data_dir: &Path, batches: &[usize], duration: Duration) -> Result<Ceiling, String> {
    let rows = load_ceiling_rows(&data_dir.join("idv.db"))?;
    if rows.identities.is_empty() {
        return Err("skipped (the server created no identities)".into());
    }
    let path = data_dir.with_file_name(format!(
        "{}-ceiling.sqlite",
        data_dir.file_name().map_or_else(|| "idv-bench".into(), |n| n.to_string_lossy())
    ));
    let cap = (duration / 2).clamp(Duration::from_secs(2), Duration::from_secs(5));
    let mut trials = Vec::new();
    for &batch in batches.iter().filter(|b| **b > 0) {
        for checkpoints in Checkpoints::ALL {
            for syncs in Syncs::ALL {
                remove_sqlite_files(&path);
                let trial = ceiling_pass(&path, &rows, batch, checkpoints, syncs, cap);
                remove_sqlite_files(&path);
                let trial = trial?;
                eprintln!("idv-bench:   ceiling {}", trial.label());
                trials.push(trial);
            }
        }
    }
    if trials.is_empty() {
        return Err("no batch size to try (--ceiling-batches)".into());
    }
    trials.sort_by(|a, b| b.rate().total_cmp(&a.rate()));
    Ok(Ceiling { trials, identities: rows.identities.len(), rows_per_pass: rows.rows() })
}

/// The connection settings of `src/store/mod.rs` (`open_writer` and `configure`), through the same VFS,
/// which hands each commit's WAL frames to the OS in a few large writes.
fn open_like_the_server(path: &Path) -> rusqlite::Result<Connection> {
    let vfs = idv::store::wal_coalesce::register()
        .map_err(|e| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR), Some(e)))?;
    let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), vfs)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "page_size", 2048)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.execute_batch(
        "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA cache_size=-32000; \
         PRAGMA temp_store=MEMORY;",
    )?;
    Ok(conn)
}

fn ceiling_pass(
    path: &Path,
    rows: &CeilingRows,
    batch: usize,
    checkpoints: Checkpoints,
    syncs: Syncs,
    cap: Duration,
) -> Result<Trial, String> {
    let err = |e: rusqlite::Error| format!("ceiling ({}): {e}", path.display());
    let conn = open_like_the_server(path).map_err(err)?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("journal_mode=WAL was refused (got {mode})"));
    }
    conn.execute_batch(include_str!("../../schema.sql")).map_err(err)?;
    // The server's arrangement (and an alternative to it): no automatic checkpoint on the writer, a
    // thread that checkpoints on its own connection.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gate = std::sync::Arc::new(checkpoint::WriterGate::default());
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    let helper = if checkpoints == Checkpoints::Inline {
        None
    } else {
        checkpoint::hand_checkpoints_over(&conn).map_err(err)?;
        let other = open_like_the_server(path).map_err(err)?;
        let (stop, gate) = (stop.clone(), gate.clone());
        Some(std::thread::spawn(move || {
            let mut last = checkpoint::LastRound::default();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if checkpoints == Checkpoints::Server {
                    std::thread::sleep(checkpoint::TICK);
                    let _ = checkpoint::checkpoint_round(&other, &gate, &checkpoint::Schedule::SERVER, &mut last);
                    continue;
                }
                let _ = woken.recv_timeout(Duration::from_millis(250));
                let pages: i64 = other.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1)).unwrap_or(0);
                if pages > 16_384 {
                    let _ = other.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
                }
            }
        }))
    };
    // For `Syncs::Pipelined`: the thread that syncs each commit's WAL, and word of each sync made.
    let (to_sync, unsynced) = std::sync::mpsc::sync_channel::<idv::store::WalSync>(1);
    let (synced, sync_made) = std::sync::mpsc::sync_channel::<std::io::Result<()>>(1);
    let syncer = (syncs == Syncs::Pipelined).then(|| {
        std::thread::spawn(move || {
            for wal in unsynced {
                if synced.send(wal.sync()).is_err() {
                    return;
                }
            }
        })
    });
    let stopped = || "ceiling: the sync thread stopped".to_string();
    let sync_failed = |e: std::io::Error| format!("ceiling ({}): sync: {e}", path.display());
    let started = Instant::now();
    let mut identities = 0u64;
    let result = (|| -> Result<(), String> {
        let mut outstanding = false;
        for chunk in rows.identities.chunks(batch) {
            let _in_batch = gate.enter_batch();
            conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
            for identity in chunk {
                for (table, values) in identity {
                    conn.prepare_cached(&rows.inserts[*table])
                        .and_then(|mut insert| insert.execute(rusqlite::params_from_iter(values.iter())))
                        .map_err(err)?;
                }
            }
            if syncs == Syncs::InCommit {
                conn.execute_batch("COMMIT").map_err(err)?;
            } else {
                // The previous batch's sync returns before this one is published.
                if std::mem::take(&mut outstanding) {
                    sync_made.recv().map_err(|_| stopped())?.map_err(sync_failed)?;
                }
                let (committed, wal) = idv::store::commit_deferring_sync(&conn);
                committed.map_err(err)?;
                if let Some(wal) = wal {
                    to_sync.send(wal).map_err(|_| stopped())?;
                    outstanding = true;
                }
            }
            let _ = wake.try_send(());
            identities += chunk.len() as u64;
            if started.elapsed() >= cap {
                break;
            }
        }
        if outstanding {
            sync_made.recv().map_err(|_| stopped())?.map_err(sync_failed)?;
        }
        Ok(())
    })();
    let elapsed = started.elapsed();
    drop(to_sync);
    if let Some(syncer) = syncer {
        let _ = syncer.join();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(helper) = helper {
        let _ = helper.join();
    }
    result?;
    Ok(Trial { batch, checkpoints, syncs, identities, elapsed })
}

fn remove_sqlite_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
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

    const WRK_OUTPUT: &str = "Running 10s test @ http://127.0.0.1:18080
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.58ms    4.14ms  38.51ms   72.60%
    Req/Sec     4.04k     1.62k   10.49k    87.76%
  Latency Distribution
     50%  850.00us
     75%    8.05ms
     90%   10.79ms
     99%    1.02s
  80748 requests in 10.08s, 22.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 748
Requests/sec:   8009.85
Transfer/sec:      2.19MB
";

    #[test]
    fn reads_wrk_latency_output() {
        let w = parse_wrk(WRK_OUTPUT).unwrap();
        assert_eq!((w.requests, w.non_2xx, w.socket_errors), (80_748, 748, 5));
        assert!((w.secs - 10.08).abs() < 1e-9);
        assert!((w.p50_ms.unwrap() - 0.85).abs() < 1e-9);
        assert!((w.p99_ms.unwrap() - 1020.0).abs() < 1e-9);
        assert!((w.ok_rate() - 80_000.0 / 10.08).abs() < 1e-6);
        assert!(parse_wrk("wrk: connection refused").is_none());
    }

    /// A database holding what the server writes for two identity creations (and rows that are not one:
    /// an API key's event, and a later event of one of the identities).
    fn server_like_database(dir: &Path) {
        let conn = open_like_the_server(&dir.join("idv.db")).unwrap();
        conn.execute_batch(include_str!("../../schema.sql")).unwrap();
        for (seq, id, stream_seq, event_type) in [
            (1, "idn_a", 1, "IdentityCreated"),
            (2, "idn_b", 1, "IdentityCreated"),
            (3, "key_c", 1, "api_key.created"),
            (4, "idn_a", 2, "IdentityUpdated"),
        ] {
            conn.execute(
                "INSERT INTO events (seq, event_id, stream_id, stream_seq, event_type, event_version, payload,
                                     recorded_at, actor, environment, request_id, prev_hash, hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, '{}', '2026-01-01T00:00:00Z', 'key_x', 'sandbox', NULL, x'00', x'01')",
                rusqlite::params![seq, format!("evt_{seq}"), id, stream_seq, event_type],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO audit_log (seq, event_id, environment, action, resource_type, resource_id, actor, metadata,
                                        recorded_at)
                 VALUES (?1, ?2, 'sandbox', ?3, 'identity', ?4, 'key_x', '{}', '2026-01-01T00:00:00Z')",
                rusqlite::params![seq, format!("evt_{seq}"), event_type, id],
            )
            .unwrap();
        }
        for id in ["idn_a", "idn_b"] {
            conn.execute(
                "INSERT INTO identities (id, environment, external_ref, status, session_count, monitoring_enabled,
                                         is_flagged, pii, country, created_at, updated_at, stream_seq, blind_keys,
                                         blind_seq)
                 VALUES (?1, 'sandbox', ?1, 'pending', 0, 1, 0, '{}', 'US', 'now', 'now', 1, ?2, 1)",
                rusqlite::params![id, [[1u8; 16], [2u8; 16]].concat()],
            )
            .unwrap();
            conn.execute("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, x'0102')", [id]).unwrap();
        }
    }

    #[test]
    fn the_ceiling_reinserts_exactly_the_rows_of_identity_creations() {
        let dir = std::env::temp_dir().join(format!("idv-bench-test-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        server_like_database(&dir);
        let rows = load_ceiling_rows(&dir.join("idv.db")).unwrap();
        // Per identity: one event, one identity (listing its blind-index keys), one data key, one org audit
        // row; the api key's event and the later update are left out.
        assert_eq!(rows.identities.len(), 2);
        assert_eq!(rows.rows(), 8);
        let c = run_ceiling(&dir, &[1, 2], Duration::from_secs(5)).unwrap();
        assert_eq!(c.trials.len(), 12);
        assert!(c.trials.iter().all(|t| t.identities == 2));
        assert!(c.best().rate() >= c.trials[11].rate());
        assert_eq!(c.trials.iter().filter(|t| t.syncs == Syncs::Pipelined).count(), 6);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_the_tables_creations_wrote_that_the_ceiling_leaves_out() {
        let dir = std::env::temp_dir().join(format!("idv-bench-test-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("idv.db");
        open_like_the_server(&db).unwrap().execute_batch(include_str!("../../schema.sql")).unwrap();
        let before = table_row_counts(&db).unwrap();
        server_like_database(&dir);
        let written = grown_tables(&before, &table_row_counts(&db).unwrap());
        assert_eq!(written, ["audit_log", "events", "identities", "subject_keys"]);
        assert!(omitted_by_ceiling(&written).is_empty());
        let with_outbox = ["events".to_string(), "webhook_deliveries".to_string()];
        assert_eq!(omitted_by_ceiling(&with_outbox), ["webhook_deliveries"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
