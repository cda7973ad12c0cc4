//! Screening speed benchmark: p50/p99 per query with the OFAC SDN and UN lists loaded together, then against
//! list size (1k and 10k names, all, and a synthetic list of 1M names). Prints one line per list; `make bench`
//! runs it. Reads test data only; must not touch a database or the network.

use idv::screening::import::{ofac, un};
use idv::screening::{EntityType, Index, NameKind, Query, WatchlistEntry, DEFAULT_THRESHOLD};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    testdata: PathBuf,
    queries: usize,
    synthetic: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { testdata: PathBuf::from("../shared/testdata"), queries: 2_000, synthetic: 1_000_000 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--testdata" => a.testdata = PathBuf::from(value("--testdata")?),
            "--queries" => a.queries = value("--queries")?.parse().map_err(|e| format!("--queries: {e}"))?,
            "--synthetic" => a.synthetic = value("--synthetic")?.parse().map_err(|e| format!("--synthetic: {e}"))?,
            "-h" | "--help" => {
                return Err("usage: idv-screening-bench [--testdata DIR] [--queries N] [--synthetic NAMES]".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Small deterministic generator (xorshift64*), so every run screens the same queries.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mir", "an", "dre", "sa", "vi", "ko", "ne", "ta", "ru", "bel", "mo", "ha", "sin", "tor", "el", "ri",
    "za", "gu", "pa", "len", "do", "fi", "os", "ban", "che", "ya", "nu", "ver", "li", "mad", "qa", "som", "tu", "wen",
    "xi", "jor", "ed", "iv", "us", "ham", "ber", "kin", "ros", "al", "dan", "mel",
];

fn word(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2);
    let mut w = String::new();
    for _ in 0..n {
        w.push_str(SYLLABLES[rng.below(SYLLABLES.len())]);
    }
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => w,
    }
}

fn random_name(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2);
    (0..n).map(|_| word(rng)).collect::<Vec<_>>().join(" ")
}

/// One typo: a substitution, deletion or transposition inside the longest word.
fn typo(name: &str, rng: &mut Rng) -> String {
    let mut words: Vec<Vec<char>> = name.split_whitespace().map(|w| w.chars().collect()).collect();
    let Some(w) = words.iter_mut().max_by_key(|w| w.len()) else { return name.to_string() };
    if w.len() >= 4 {
        let i = 1 + rng.below(w.len() - 2);
        match rng.below(3) {
            0 => w[i] = (b'a' + rng.below(26) as u8) as char,
            1 => {
                w.remove(i);
            }
            _ => w.swap(i, i + 1),
        }
    }
    words.iter().map(|w| w.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// `LAST, First Middle` → `First Middle Last`; otherwise the words reversed.
fn reorder(name: &str) -> String {
    if let Some((last, first)) = name.split_once(", ") {
        return format!("{first} {last}");
    }
    let mut w: Vec<&str> = name.split_whitespace().collect();
    w.reverse();
    w.join(" ")
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Exact,
    Typo,
    Reordered,
    Unrelated,
}

fn query_set(entries: &[WatchlistEntry], n: usize, seed: u64) -> Vec<(Kind, Query, usize)> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let kind = [Kind::Exact, Kind::Typo, Kind::Reordered, Kind::Unrelated][i % 4];
        let ei = rng.below(entries.len());
        let e = &entries[ei];
        let listed = &e.names[rng.below(e.names.len())].name;
        let name = match kind {
            Kind::Exact => listed.clone(),
            Kind::Typo => typo(listed, &mut rng),
            Kind::Reordered => reorder(listed),
            Kind::Unrelated => random_name(&mut rng) + " " + &word(&mut rng),
        };
        let entity_type = if rng.below(2) == 0 { Some(e.entity_type) } else { None };
        out.push((kind, Query { name, entity_type, ..Query::default() }, ei));
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn run(label: &str, entries: Vec<WatchlistEntry>, queries: usize) {
    let names: usize = entries.iter().map(|e| e.names.len()).sum();
    let ids: Vec<String> = entries.iter().map(|e| e.entry_id.clone()).collect();
    let qs = query_set(&entries, queries, 0x5eed_1234_abcd_0001);
    let t = Instant::now();
    let idx = Index::build(entries);
    let build = t.elapsed();
    let mut times = Vec::with_capacity(qs.len());
    let mut found = [(0usize, 0usize); 4];
    let mut unrelated_hits = 0usize;
    let wall = Instant::now();
    for (kind, q, ei) in &qs {
        let t = Instant::now();
        let hits = idx.screen(q, DEFAULT_THRESHOLD, 10);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        let slot = &mut found[*kind as usize];
        slot.1 += 1;
        if hits.iter().any(|h| h.entry_id == ids[*ei]) {
            slot.0 += 1;
        }
        if *kind == Kind::Unrelated && !hits.is_empty() {
            unrelated_hits += 1;
        }
    }
    let total = wall.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let rate = |k: Kind| {
        let (f, n) = found[k as usize];
        f as f64 / n.max(1) as f64
    };
    println!(
        "{label:<16} entries {:>8} names {:>8} build {:>7.2}s | {} queries: p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  {:.0} q/s | found@10: exact {:.3} typo {:.3} reordered {:.3}; unrelated with a hit {:.3}",
        idx.len(),
        names,
        build.as_secs_f64(),
        qs.len(),
        percentile(&times, 0.50),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(0.0),
        qs.len() as f64 / total,
        rate(Kind::Exact),
        rate(Kind::Typo),
        rate(Kind::Reordered),
        unrelated_hits as f64 / found[Kind::Unrelated as usize].1.max(1) as f64,
    );
}

/// The first entries holding about `names` names.
fn subset(entries: &[WatchlistEntry], names: usize) -> Vec<WatchlistEntry> {
    let mut out = Vec::new();
    let mut n = 0;
    for e in entries {
        if n >= names {
            break;
        }
        n += e.names.len();
        out.push(e.clone());
    }
    out
}

fn synthetic(n: usize) -> Vec<WatchlistEntry> {
    let mut rng = Rng(0x1f2e_3d4c_5b6a_7988);
    (0..n)
        .map(|i| {
            let mut e =
                WatchlistEntry::new(idv::screening::ListSource::OpenSanctions, format!("syn-{i}"), EntityType::Person);
            e.add_name(&random_name(&mut rng), NameKind::Primary);
            e
        })
        .collect()
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let sanctions = args.testdata.join("sanctions/watchman/test/testdata");
    let t = Instant::now();
    let sdn = match ofac::import_dir(&sanctions) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("SDN import failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let t_sdn = t.elapsed();
    let t = Instant::now();
    let un = match std::fs::File::open(sanctions.join("UN_consolidated.xml"))
        .map_err(|e| e.to_string())
        .and_then(|f| un::import(std::io::BufReader::new(f)).map_err(|e| e.to_string()))
    {
        Ok(i) => i,
        Err(e) => {
            eprintln!("UN import failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let t_un = t.elapsed();
    println!(
        "idv screening bench: imported SDN {} entries in {:.0} ms, UN {} entries in {:.0} ms (threshold {DEFAULT_THRESHOLD}, limit 10)",
        sdn.entries.len(),
        t_sdn.as_secs_f64() * 1e3,
        un.entries.len(),
        t_un.as_secs_f64() * 1e3
    );
    let mut all = sdn.entries;
    all.extend(un.entries);
    run("sdn+un", all.clone(), args.queries);
    run("subset 1k", subset(&all, 1_000), args.queries);
    run("subset 10k", subset(&all, 10_000), args.queries);
    if args.synthetic > 0 {
        let t = Instant::now();
        let syn = synthetic(args.synthetic);
        println!("generated {} synthetic names in {:.1}s", syn.len(), t.elapsed().as_secs_f64());
        run("synthetic", syn, args.queries);
    }
    ExitCode::SUCCESS
}
