//! Printed-field reading benchmark: runs idv's printed-text reader (Tesseract) over one split of the
//! generated set (tests/mrz/README.md; the page's visual zone is in `printed` of truth.jsonl) and prints,
//! per field and per subset, the read rate (right value), the wrong-read rate (a value reported that is not
//! the printed one; also counted at the confidence a finding needs), and time per image. The page is turned
//! upright by the MRZ reader's rotation, as the server does. Reads test data only; must not touch a
//! database or the network.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use idv::checks::mrz::ParseOptions;
use idv::checks::mrz_image::{MrzImageOutcome, MrzImageReader};
use idv::checks::printed::{compare_with_mrz, Agreement, PrintedOutcome, PrintedService, TRUSTED_CONFIDENCE};
use serde_json::Value;

struct Args {
    set: PathBuf,
    split: String,
    limit: usize,
    verbose: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { set: PathBuf::from("target/mrz-set"), split: "report".into(), limit: 0, verbose: false };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--set" => a.set = PathBuf::from(value("--set")?),
            "--split" => a.split = value("--split")?,
            "--limit" => a.limit = value("--limit")?.parse().map_err(|e| format!("--limit: {e}"))?,
            "-v" | "--verbose" => a.verbose = true,
            "-h" | "--help" => {
                return Err("usage: idv-printed-bench [--set DIR] [--split report|tune] [--limit N] [-v]".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Uppercase letters and digits, one space between words, accents kept out of the way by the set's ASCII.
fn norm(v: &str) -> String {
    idv::crypto::blind::name(v).to_uppercase()
}

#[derive(Default, Clone, Copy)]
struct Tally {
    expected: usize,
    right: usize,
    wrong: usize,
    wrong_trusted: usize,
}

fn pct(n: usize, d: usize) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{:5.1}%", 100.0 * n as f64 / d as f64)
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let service = PrintedService::start();
    if let Some(reason) = service.unavailable_reason() {
        eprintln!("{reason}");
        return ExitCode::FAILURE;
    }
    let mrz = MrzImageReader::new().ok();
    let truth = match std::fs::read_to_string(args.set.join("truth.jsonl")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e} (make mrz-set)", args.set.join("truth.jsonl").display());
            return ExitCode::FAILURE;
        }
    };
    let today = time::macros::date!(2026 - 01 - 01);
    let fields = [
        ("last_name", "surname"),
        ("first_name", "given_names"),
        ("date_of_birth", "date_of_birth"),
        ("date_of_expiry", "expiry_date"),
        ("document_number", "document_number"),
        ("nationality", "nationality"),
        ("sex", "sex"),
    ];
    let mut tallies: BTreeMap<(String, &str), Tally> = BTreeMap::new();
    let mut times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut n = 0;
    // Genuine pages whose printed fields the session check would hold against their own zone.
    let (mut compared, mut false_findings) = (0usize, 0usize);
    for line in truth.lines() {
        let Ok(r) = serde_json::from_str::<Value>(line) else { continue };
        if r["split"] != args.split.as_str() {
            continue;
        }
        // An identity card's back (TD1) prints no names or dates: nothing to read there.
        if r["format"] == "TD1" {
            continue;
        }
        if args.limit > 0 && n >= args.limit {
            break;
        }
        n += 1;
        let subset = r["subset"].as_str().unwrap_or("?").to_string();
        let Ok(bytes) = std::fs::read(args.set.join(r["file"].as_str().unwrap_or(""))) else { continue };
        let hint = mrz.as_ref().and_then(|m| match m.read(&bytes, &ParseOptions::new(today)) {
            MrzImageOutcome::Read(read) => Some(read.rotation_deg),
            _ => None,
        });
        let started = Instant::now();
        let outcome = service.read(&bytes, hint);
        times.entry(subset.clone()).or_default().push(started.elapsed().as_secs_f64() * 1000.0);
        let PrintedOutcome::Read(read) = outcome else { continue };
        if args.verbose {
            println!(
                "{} ccw {} skew {} hint {hint:?} read at {} turns, {} fields",
                r["file"],
                r["render"]["quarter_turns_ccw"],
                r["render"]["skew_deg"],
                read.quarter_turns,
                read.fields.len()
            );
        }
        let zone: Vec<&str> =
            r["mrz"].as_array().map(|l| l.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        if let Ok(report) = idv::checks::mrz::parse(&zone.join("\n"), &ParseOptions::new(today)) {
            compared += 1;
            let against = compare_with_mrz(&read, &report.data);
            let trusted = |f: &str| read.field(f).is_some_and(|p| p.confidence >= TRUSTED_CONFIDENCE);
            if against.iter().any(|(f, a, _)| *a == Agreement::Disagrees && trusted(f)) {
                false_findings += 1;
                if args.verbose {
                    println!("{} would be declined: printed field against its own zone", r["file"]);
                }
            }
        }
        for (field, key) in fields {
            let want = if key == "document_number" { &r["fields"][key] } else { &r["printed"][key] };
            let Some(want) = want.as_str() else { continue };
            let t = tallies.entry((subset.clone(), field)).or_default();
            t.expected += 1;
            match read.field(field) {
                Some(got) if norm(&got.value) == norm(want) => t.right += 1,
                Some(got) => {
                    t.wrong += 1;
                    if got.confidence >= TRUSTED_CONFIDENCE {
                        t.wrong_trusted += 1;
                    }
                    if args.verbose {
                        println!(
                            "{} {field}: wrong at {:.2} ({} chars vs {})",
                            r["file"],
                            got.confidence,
                            got.value.len(),
                            want.len()
                        );
                    }
                }
                None => {
                    if args.verbose {
                        println!("{} {field}: not read", r["file"]);
                    }
                }
            }
        }
    }
    println!("printed fields, split {} ({} data pages, identity-card backs left out)", args.split, n);
    println!("{:<10} {:<16} {:>7} {:>7} {:>7} {:>14}", "subset", "field", "pages", "read", "wrong", "wrong>=trust");
    let mut all: BTreeMap<&str, Tally> = BTreeMap::new();
    for ((subset, field), t) in &tallies {
        println!(
            "{subset:<10} {field:<16} {:>7} {:>7} {:>7} {:>14}",
            t.expected,
            pct(t.right, t.expected),
            pct(t.wrong, t.expected),
            pct(t.wrong_trusted, t.expected)
        );
        let a = all.entry(field).or_default();
        a.expected += t.expected;
        a.right += t.right;
        a.wrong += t.wrong;
        a.wrong_trusted += t.wrong_trusted;
    }
    for (field, t) in &all {
        println!(
            "{:<10} {field:<16} {:>7} {:>7} {:>7} {:>14}",
            "all",
            t.expected,
            pct(t.right, t.expected),
            pct(t.wrong, t.expected),
            pct(t.wrong_trusted, t.expected)
        );
    }
    println!(
        "genuine pages the printed-vs-MRZ comparison would fail: {false_findings} of {compared} ({})",
        pct(false_findings, compared)
    );
    for (subset, ms) in &times {
        let mut s = ms.clone();
        s.sort_by(f64::total_cmp);
        let mean = s.iter().sum::<f64>() / s.len().max(1) as f64;
        println!("time {subset:<10} mean {mean:7.0} ms  p50 {:7.0} ms  max {:7.0} ms", s[s.len() / 2], s[s.len() - 1]);
    }
    ExitCode::SUCCESS
}
