//! MRZ reading benchmark: runs idv's image reader over one split of the generated set (tests/mrz/README.md)
//! and prints, per subset, the read rate, the wrong-read rate (must be 0), the no-read rate and time per
//! image, beside PassportEye's numbers when target/mrz-set/passporteye.json exists. Reads test data only;
//! must not touch a database or the network.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use idv::checks::mrz::{ParseOptions, Sex};
use idv::checks::mrz_image::{MrzImageOutcome, MrzImageReader, Policy};
use serde_json::Value;

struct Args {
    set: PathBuf,
    split: String,
    limit: usize,
    verbose: bool,
    only: Option<String>,
    dump: Option<PathBuf>,
    ambiguous_ratio: Option<f32>,
    tie_margin: Option<f32>,
    clear: Option<(f32, f32)>,
    cells: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        set: PathBuf::from("target/mrz-set"),
        split: "report".into(),
        limit: 0,
        verbose: false,
        only: None,
        dump: None,
        ambiguous_ratio: None,
        tie_margin: None,
        clear: None,
        cells: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--set" => a.set = PathBuf::from(value("--set")?),
            "--split" => a.split = value("--split")?,
            "--limit" => a.limit = value("--limit")?.parse().map_err(|e| format!("--limit: {e}"))?,
            "-v" | "--verbose" => a.verbose = true,
            "--cells" => a.cells = true,
            "--only" => a.only = Some(value("--only")?),
            "--dump" => a.dump = Some(PathBuf::from(value("--dump")?)),
            "--ambiguous-ratio" => {
                a.ambiguous_ratio = Some(value("--ambiguous-ratio")?.parse().map_err(|e| format!("--ambiguous-ratio: {e}"))?)
            }
            "--clear" => {
                let v = value("--clear")?;
                let (m, l) = v.split_once(',').ok_or("--clear needs MIN,LEAD")?;
                a.clear = Some((
                    m.parse().map_err(|e| format!("--clear: {e}"))?,
                    l.parse().map_err(|e| format!("--clear: {e}"))?,
                ));
            }
            "--tie-margin" => {
                a.tie_margin = Some(value("--tie-margin")?.parse().map_err(|e| format!("--tie-margin: {e}"))?)
            }
            "-h" | "--help" => {
                return Err(
                    "usage: idv-mrz-bench [--set DIR] [--split report|tune] [--limit N] [--only PATH-PART] [-v] [--cells] [--dump DIR] [--ambiguous-ratio R] [--tie-margin M] [--clear MIN,LEAD]".into(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// A value as the set's comparison sees it: uppercase, fillers as spaces, runs of spaces as one, trimmed.
fn normalise(v: &str) -> String {
    v.to_uppercase().replace('<', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Default)]
struct Tally {
    images: usize,
    read: usize,
    wrong: usize,
    no_read: usize,
    ms: Vec<f64>,
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

fn p95(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(((s.len() as f64 * 0.95).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // Time per image is measured with the engine on one thread, as PassportEye's baseline was.
    if std::env::var_os("OMP_THREAD_LIMIT").is_none() {
        std::env::set_var("OMP_THREAD_LIMIT", "1");
    }
    let truth = match std::fs::read_to_string(args.set.join("truth.jsonl")) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: {e} (run `make mrz-set`)", args.set.join("truth.jsonl").display());
            return ExitCode::FAILURE;
        }
    };
    let reader = match MrzImageReader::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // The reader's policy, or one to try on the tune split.
    let mut policy = Policy::TEMPLATES;
    if let Some(r) = args.ambiguous_ratio {
        policy.ambiguous_ratio = r;
    }
    if let Some(m) = args.tie_margin {
        policy.tie_margin = m;
    }
    if let Some((min, lead)) = args.clear {
        policy.clear_min = min;
        policy.clear_lead = lead;
    }
    let reader = reader.with_policy(policy);
    let today = time::macros::date!(2026 - 06 - 01);
    let options = ParseOptions { allow_specimen_states: true, ..ParseOptions::new(today) };
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for line in truth.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(t) = serde_json::from_str::<Value>(line) else { continue };
        if t["split"].as_str() != Some(args.split.as_str()) {
            continue;
        }
        if args.only.as_ref().is_some_and(|o| !t["file"].as_str().unwrap_or("").contains(o.as_str())) {
            continue;
        }
        let subset = t["subset"].as_str().unwrap_or("?").to_string();
        if !order.contains(&subset) {
            order.push(subset.clone());
        }
        let tally = tallies.entry(subset.clone()).or_default();
        if args.limit > 0 && tally.images >= args.limit {
            continue;
        }
        let file = t["file"].as_str().unwrap_or("");
        let started = Instant::now();
        let outcome = match std::fs::read(args.set.join(file)) {
            Ok(bytes) => reader.read(&bytes, &options),
            Err(e) => MrzImageOutcome::NoRead { reason: e.to_string(), elapsed_ms: 0.0 },
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        tally.images += 1;
        tally.ms.push(ms);
        let verdict = match &outcome {
            MrzImageOutcome::Read(r) => {
                let d = &r.report.data;
                let sex = match d.sex {
                    Sex::Male => "M",
                    Sex::Female => "F",
                    Sex::Unspecified => "",
                };
                let got = [
                    ("document_code", d.document_code.clone()),
                    ("issuing_state", d.issuing_state.clone()),
                    ("surname", d.primary_identifier.clone()),
                    ("given_names", d.secondary_identifier.clone()),
                    ("document_number", d.document_number.clone()),
                    ("nationality", d.nationality.clone()),
                    ("date_of_birth", d.date_of_birth_raw.clone()),
                    ("sex", sex.to_string()),
                    ("expiry_date", d.date_of_expiry_raw.clone()),
                    ("optional_data_1", d.optional_data_1.clone().unwrap_or_default()),
                    ("optional_data_2", d.optional_data_2.clone().unwrap_or_default()),
                ];
                let wrong: Vec<&str> = got
                    .iter()
                    .filter(|(k, v)| normalise(v) != normalise(t["fields"][*k].as_str().unwrap_or("")))
                    .map(|(k, _)| *k)
                    .collect();
                if wrong.is_empty() {
                    tally.read += 1;
                    "read".to_string()
                } else {
                    tally.wrong += 1;
                    format!("WRONG {}", wrong.join(" "))
                }
            }
            MrzImageOutcome::NoRead { reason, .. } => {
                tally.no_read += 1;
                format!("no-read: {reason}")
            }
        };
        if let (Some(dir), Ok(bytes)) = (&args.dump, std::fs::read(args.set.join(file))) {
            let stem = file.replace(['/', '.'], "_");
            for (i, (crop, text)) in reader.diagnose(&bytes).into_iter().enumerate() {
                let _ = crop.save(dir.join(format!("{stem}_{i}.png")));
                for t in text {
                    eprintln!("  {stem}_{i}: {t}");
                }
            }
        }
        if let (true, Ok(bytes)) = (args.cells, std::fs::read(args.set.join(file))) {
            print_cells(file, &t, &reader.cells(&bytes));
        }
        if args.verbose {
            eprintln!("{file}  {:<4}  {ms:7.1} ms  {verdict}", t["format"].as_str().unwrap_or(""));
        }
    }
    let peer: Option<Value> = std::fs::read_to_string(args.set.join("passporteye.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .filter(|v: &Value| v["split"].as_str() == Some(args.split.as_str()));
    println!("idv MRZ reader on {} split={}", args.set.display(), args.split);
    print!("{:<10}{:>7}{:>9}{:>9}{:>9}{:>9}{:>8}", "subset", "images", "read", "wrong", "no-read", "mean ms", "p95 ms");
    if peer.is_some() {
        print!("  | PassportEye: {:>6}{:>8}{:>8}", "read", "wrong", "mean s");
    }
    println!();
    let mut all = Tally::default();
    order.push("all".into());
    for s in &order {
        let row = if s == "all" {
            &all
        } else {
            let t = &tallies[s];
            all.images += t.images;
            all.read += t.read;
            all.wrong += t.wrong;
            all.no_read += t.no_read;
            all.ms.extend(&t.ms);
            t
        };
        let mean = if row.ms.is_empty() { 0.0 } else { row.ms.iter().sum::<f64>() / row.ms.len() as f64 };
        print!(
            "{:<10}{:>7}{:>8.1}%{:>8.1}%{:>8.1}%{:>9.0}{:>8.0}",
            s,
            row.images,
            pct(row.read, row.images),
            pct(row.wrong, row.images),
            pct(row.no_read, row.images),
            mean,
            p95(&row.ms)
        );
        if let Some(p) = &peer {
            let r = &p["summary"][s.as_str()];
            print!(
                "  | {:>19.1}%{:>7.1}%{:>8.2}",
                100.0 * r["read_rate"].as_f64().unwrap_or(0.0),
                100.0 * r["accepted_wrong_rate"].as_f64().unwrap_or(0.0),
                r["mean_seconds"].as_f64().unwrap_or(0.0)
            );
        }
        println!();
    }
    println!("read: every field right; wrong: accepted with a wrong field (must be 0); no-read: nothing accepted");
    if all.wrong > 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// With `--cells`: for the recogniser's reading whose top choices come closest to the truth (the same shape,
/// at most a fifth of the characters off), one line per cell: file, line, column, the true character and the
/// characters offered (with the other class's best), for measuring how often look-alikes are ranked wrongly.
fn print_cells(file: &str, truth: &Value, readings: &[Vec<Vec<idv::checks::mrz_image::Symbol>>]) {
    let want: Vec<&str> =
        truth["mrz"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
    let off = |r: &Vec<Vec<idv::checks::mrz_image::Symbol>>| -> Option<usize> {
        (r.len() == want.len() && r.iter().zip(&want).all(|(l, w)| l.len() == w.len())).then(|| {
            r.iter()
                .zip(&want)
                .map(|(l, w)| l.iter().zip(w.chars()).filter(|(s, c)| s.choices[0].0 != *c).count())
                .sum()
        })
    };
    let total: usize = want.iter().map(|w| w.len()).sum();
    let Some(best) = readings.iter().filter_map(|r| off(r).map(|o| (o, r))).min_by_key(|(o, _)| *o) else {
        println!("CELLS {file} none");
        return;
    };
    if best.0 * 5 > total {
        println!("CELLS {file} none");
        return;
    }
    for (li, (line, w)) in best.1.iter().zip(&want).enumerate() {
        for (ci, (s, c)) in line.iter().zip(w.chars()).enumerate() {
            let fmt = |v: &[(char, f32)]| v.iter().map(|(c, x)| format!("{c}:{x:.1}")).collect::<Vec<_>>().join(",");
            println!("CELL {file} {li} {ci} {c} {} | {}", fmt(&s.choices), fmt(&s.fallback));
        }
    }
}
