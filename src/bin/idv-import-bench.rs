//! Imports a large OpenSanctions FtM JSON lines file through `POST /api/v1/watchlists/import` (with
//! `Prefer: respond-async`) into a fresh `idv serve`, follows its progress, and prints the time to upload,
//! to import until the version is screened, and the server's resident memory (sampled, and its peak from
//! /proc). Must not touch the server's data other than through HTTP and the CLI's key creation.

use clap::Parser;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[path = "bench_support.rs"]
mod bench_support;
use bench_support::{create_api_key, free_port, wait_healthy, ServerGuard};

#[derive(Parser)]
#[command(about = "Time and memory of a large watchlist import through the HTTP API")]
struct Args {
    /// The idv binary to benchmark.
    #[arg(long, default_value = "target/release/idv")]
    server_bin: PathBuf,
    /// The FtM JSON lines file (the screening bench's million people).
    #[arg(long, default_value = "target/screening/people-1m.ftm.json")]
    list: PathBuf,
}

/// Resident and peak resident memory of a process, in MiB (Linux /proc).
fn memory(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match actix_web::rt::System::new().block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("idv-import-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let bytes = std::fs::read(&args.list).map_err(|e| format!("cannot read {}: {e}", args.list.display()))?;
    let data_dir = std::env::temp_dir().join(format!("idv-import-bench-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
    let key = create_api_key(&args.server_bin, &data_dir, "live")?;
    let port = free_port().map_err(|e| e.to_string())?;
    let mut server = ServerGuard::start(&args.server_bin, &data_dir, port).map_err(|e| e.to_string())?;
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&mut server, &base).await?;
    let pid = server.pid().ok_or("no server process")?;
    let (rss_idle, _) = memory(pid).unwrap_or_default();

    let boundary = "----idv-import-bench-6c1d";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nopensanctions\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"entities.ftm.json\"\r\n\
         Content-Type: application/json\r\n\r\n"
    )
    .into_bytes();
    let size = bytes.len();
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let client = awc::Client::builder().timeout(Duration::from_secs(600)).finish();

    let started = Instant::now();
    let mut res = client
        .post(format!("{base}/api/v1/watchlists/import"))
        .insert_header(("X-API-Key", key.as_str()))
        .insert_header(("Prefer", "respond-async"))
        .insert_header(("Content-Type", format!("multipart/form-data; boundary={boundary}")))
        .send_body(body)
        .await
        .map_err(|e| format!("upload: {e}"))?;
    let accepted: Value = res.json().limit(1 << 20).await.map_err(|e| format!("upload answer: {e}"))?;
    if res.status().as_u16() != 202 {
        return Err(format!("upload answered {}: {accepted}", res.status()));
    }
    let uploaded = started.elapsed();
    let id = accepted["id"].as_str().ok_or("no import id")?.to_string();
    eprintln!("idv-import-bench: {size} bytes uploaded in {:.1} s, importing as {id}", uploaded.as_secs_f64());

    let mut peak_sampled: f64 = 0.0;
    let mut last_print = Instant::now();
    let done = loop {
        let mut r = client
            .get(format!("{base}/api/v1/watchlists/imports/{id}"))
            .insert_header(("X-API-Key", key.as_str()))
            .send()
            .await
            .map_err(|e| format!("progress: {e}"))?;
        let v: Value = r.json().limit(1 << 20).await.map_err(|e| format!("progress answer: {e}"))?;
        if let Some((rss, _)) = memory(pid) {
            peak_sampled = peak_sampled.max(rss);
        }
        if v["status"] != "importing" {
            break v;
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            last_print = Instant::now();
            eprintln!(
                "idv-import-bench: {} {} of {} bytes, {} entities read, {} written",
                v["phase"].as_str().unwrap_or(""),
                v["bytes_read"],
                v["bytes_total"],
                v["entities_read"],
                v["entries_written"]
            );
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    };
    let total = started.elapsed();
    let (rss_after, peak) = memory(pid).unwrap_or_default();
    server.stop();
    let _ = std::fs::remove_dir_all(&data_dir);
    if done["status"] != "active" {
        return Err(format!("the import ended {}: {}", done["status"], done["error"]));
    }
    let entities = done["entities_read"].as_i64().unwrap_or(0);
    println!("== watchlist import through HTTP ({}, {:.0} MB) ==", args.list.display(), size as f64 / 1e6);
    println!("  entities           {entities} read, {} entries in the version", done["version"]["counts"]["total"]);
    println!("  upload (to disk)   {:.1} s", uploaded.as_secs_f64());
    println!(
        "  import until screened  {:.1} s total ({:.0} entities/s)",
        total.as_secs_f64(),
        entities as f64 / total.as_secs_f64()
    );
    println!("  server memory      {rss_idle:.0} MiB idle, {peak_sampled:.0} MiB sampled peak, {peak:.0} MiB peak (VmHWM), {rss_after:.0} MiB after");
    Ok(())
}
