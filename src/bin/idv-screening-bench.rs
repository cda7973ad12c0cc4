//! Screening benchmark: p50/p99 per query and what the queries found, with the OFAC SDN and UN lists loaded
//! together, then against list size (1k and 10k names, all, and a list of a million people made by
//! `tests/screening/people.py`, read as OpenSanctions FtM JSON lines by the importer uploads use, its time and
//! memory printed). Listed names are screened exact, with a typo and reordered (found@10);
//! unrelated people (fixtures/screening/people.tsv, the evaluation half unless told, each screened once) measure
//! how often someone not on the list gets a hit (`SCREENING_BENCH_EXAMPLES=1` prints the first of those hits,
//! `SCREENING_BENCH_MISSES=1` the typo'd names not found, `SCREENING_BENCH_QUERY=name` the best hits of one name). Prints one line per list; `make bench` runs it.
//! Reads test data only; must not touch a database or the network.

use idv::screening::import::{ofac, un};
use idv::screening::measure::{read_people, Person, Split};
use idv::screening::score::MatchParams;
use idv::screening::{normalize, EntityType, Index, NameKind, Query, WatchlistEntry, DEFAULT_THRESHOLD};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    testdata: PathBuf,
    queries: usize,
    people: PathBuf,
    split: Split,
    large_list: Option<PathBuf>,
    threshold: f64,
    params: MatchParams,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        testdata: PathBuf::from("../shared/testdata"),
        queries: 2_000,
        people: PathBuf::from("fixtures/screening/people.tsv"),
        split: Split::Eval,
        large_list: None,
        threshold: DEFAULT_THRESHOLD,
        params: MatchParams::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--testdata" => a.testdata = PathBuf::from(value("--testdata")?),
            "--queries" => a.queries = value("--queries")?.parse().map_err(|e| format!("--queries: {e}"))?,
            "--people" => a.people = PathBuf::from(value("--people")?),
            "--split" => a.split = Split::parse(&value("--split")?).ok_or("--split: tune or eval")?,
            "--large-list" => a.large_list = Some(PathBuf::from(value("--large-list")?)),
            "--threshold" => a.threshold = value("--threshold")?.parse().map_err(|e| format!("--threshold: {e}"))?,
            "--param" => {
                let v = value("--param")?;
                let (k, x) = v.split_once('=').ok_or("--param: name=value")?;
                a.params.set(k, x.parse().map_err(|e| format!("--param {k}: {e}"))?)?;
            }
            "-h" | "--help" => {
                return Err("usage: idv-screening-bench [--testdata DIR] [--queries N] [--people FILE] \
                    [--split tune|eval] [--large-list FILE] [--threshold T] [--param NAME=VALUE]..."
                    .into())
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

/// Names a screen must flag whoever the person is, so a hit on them is no false positive: every word of the
/// person's name is in a listed name (a namesake, perhaps with middle names left out), or the two names are
/// the same words but for one edit in one word (a typo of a listed name cannot be told from it).
struct Namesakes {
    subsets: HashSet<u64>,
    one_edit: HashSet<u64>,
    /// Whole listed names of two words or more: a person whose name holds one ("Riad Salah Malek" and the
    /// listed "Riad Salah") is reported apart, being a hit any screen by name alone would raise.
    whole: HashSet<u64>,
}

fn words_key(words: &[&str]) -> u64 {
    let mut w = words.to_vec();
    w.sort_unstable();
    let h = blake3::hash(w.join(" ").as_bytes());
    u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap_or([0; 8]))
}

/// The word itself and every one-letter deletion of it.
fn deletions(w: &str) -> Vec<String> {
    let chars: Vec<char> = w.chars().collect();
    let mut out = vec![w.to_string()];
    if chars.len() >= 3 {
        out.extend(
            (0..chars.len()).map(|i| chars.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, c)| c).collect()),
        );
    }
    out
}

/// Keys of a name with one word replaced by each of its one-deletion forms (both sides do the same, so a
/// substitution, insertion, deletion or transposition in one word meets).
fn one_edit_keys(words: &[&str], out: &mut Vec<u64>) {
    for i in 0..words.len() {
        for d in deletions(words[i]) {
            let mut w = words.to_vec();
            w[i] = &d;
            out.push(words_key(&w));
        }
    }
}

impl Namesakes {
    fn build(entries: &[WatchlistEntry]) -> Namesakes {
        let mut n = Namesakes { subsets: HashSet::new(), one_edit: HashSet::new(), whole: HashSet::new() };
        let mut keys = Vec::new();
        for name in entries.iter().flat_map(|e| &e.names) {
            let norm = normalize(&name.name);
            let mut words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
            words.sort_unstable();
            words.dedup();
            if words.len() >= 2 {
                n.whole.insert(words_key(&words));
            }
            if words.len() <= 6 {
                for mask in 1u32..(1 << words.len()) {
                    let sub: Vec<&str> = (0..words.len()).filter(|i| mask & (1 << i) != 0).map(|i| words[i]).collect();
                    n.subsets.insert(words_key(&sub));
                }
            }
            keys.clear();
            one_edit_keys(&words, &mut keys);
            n.one_edit.extend(keys.iter().copied());
        }
        n
    }

    fn flags(&self, name: &str) -> bool {
        let norm = normalize(name);
        let mut words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
        words.sort_unstable();
        words.dedup();
        if self.subsets.contains(&words_key(&words)) {
            return true;
        }
        let mut keys = Vec::new();
        one_edit_keys(&words, &mut keys);
        keys.iter().any(|k| self.one_edit.contains(k))
    }

    /// Whether some two or more words of the person's name are, together, a whole listed name.
    fn holds_listed_name(&self, name: &str) -> bool {
        let norm = normalize(name);
        let mut words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
        words.sort_unstable();
        words.dedup();
        words.len() <= 8
            && (1u32..(1 << words.len())).filter(|mask| mask.count_ones() >= 2).any(|mask| {
                let sub: Vec<&str> = (0..words.len()).filter(|i| mask & (1 << i) != 0).map(|i| words[i]).collect();
                self.whole.contains(&words_key(&sub))
            })
    }
}

/// One query: what it is, the query, the listed entry it was drawn from, and (unrelated people) whether the
/// person's name holds a whole listed name.
type BenchQuery = (Kind, Query, usize, bool);

/// Three quarters of `n` queries drawn from the listed names (a third each exact, typo'd and reordered), then
/// every unrelated person once (namesakes of a listed person left out, and counted): the people file is grouped
/// by locale, so a share of it would measure a few cultures.
fn query_set(entries: &[WatchlistEntry], people: &[Person], n: usize, seed: u64) -> (Vec<BenchQuery>, usize) {
    let namesakes = Namesakes::build(entries);
    let mut left_out = 0;
    let unrelated_people: Vec<&Person> = people
        .iter()
        .filter(|p| {
            let flagged = namesakes.flags(&p.name);
            left_out += usize::from(flagged);
            !flagged
        })
        .collect();
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n + unrelated_people.len());
    for i in 0..n * 3 / 4 {
        let kind = [Kind::Exact, Kind::Typo, Kind::Reordered][i % 3];
        let ei = rng.below(entries.len());
        let e = &entries[ei];
        let listed = &e.names[rng.below(e.names.len())].name;
        let name = match kind {
            Kind::Typo => typo(listed, &mut rng),
            Kind::Reordered => reorder(listed),
            _ => listed.clone(),
        };
        let entity_type = (rng.below(2) == 0).then_some(e.entity_type);
        out.push((kind, Query { name, entity_type, ..Query::default() }, ei, false));
    }
    for p in unrelated_people {
        let holds_listed = namesakes.holds_listed_name(&p.name);
        let entity_type = (rng.below(2) == 0).then_some(EntityType::Person);
        out.push((Kind::Unrelated, Query { name: p.name.clone(), entity_type, ..Query::default() }, 0, holds_listed));
    }
    (out, left_out)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Run<'a> {
    queries: usize,
    /// Which listed names are drawn for the exact, typo and reordered queries (differs by split).
    seed: u64,
    people: &'a [Person],
    threshold: f64,
    params: MatchParams,
}

fn run(label: &str, entries: Vec<WatchlistEntry>, r: &Run) {
    let names: usize = entries.iter().map(|e| e.names.len()).sum();
    let ids: Vec<String> = entries.iter().map(|e| e.entry_id.clone()).collect();
    // A listed name is found when a hit is that entry or a namesake of it (same name, another entry).
    let primary: Vec<String> = entries.iter().map(|e| normalize(&e.names[0].name)).collect();
    let (qs, namesakes) = query_set(&entries, r.people, r.queries, r.seed);
    let mut examples = Vec::new();
    let t = Instant::now();
    let idx = Index::build_with(entries, r.params);
    let build = t.elapsed();
    if let Some(name) = std::env::var_os("SCREENING_BENCH_QUERY") {
        let q = Query { name: name.to_string_lossy().into_owned(), ..Query::default() };
        for h in idx.screen(&q, 0.0, 5) {
            println!("    {} -> {}", q.name, h.explanation);
        }
    }
    let mut times = Vec::with_capacity(qs.len());
    let mut found = [(0usize, 0usize); 4];
    let mut unrelated_hits = 0usize;
    // Unrelated people whose name holds no whole listed name: (queries, with a hit).
    let mut unrelated_apart = (0usize, 0usize);
    let wall = Instant::now();
    for (kind, q, ei, holds_listed) in &qs {
        let t = Instant::now();
        let hits = idx.screen(q, r.threshold, 10);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        let slot = &mut found[*kind as usize];
        slot.1 += 1;
        if hits.iter().any(|h| h.entry_id == ids[*ei] || normalize(&h.matched_name) == primary[*ei]) {
            slot.0 += 1;
        } else if *kind == Kind::Typo && std::env::var_os("SCREENING_BENCH_MISSES").is_some() {
            let best = idx.screen(q, 0.0, 50).into_iter().find(|h| h.entry_id == ids[*ei]);
            println!(
                "    missed {} -> {}",
                q.name,
                best.map(|h| h.explanation).unwrap_or_else(|| "not a candidate".into())
            );
        }
        if *kind == Kind::Unrelated && !holds_listed {
            unrelated_apart.0 += 1;
            unrelated_apart.1 += usize::from(!hits.is_empty());
        }
        if *kind == Kind::Unrelated && !hits.is_empty() {
            unrelated_hits += 1;
            if examples.len() < 400 && std::env::var_os("SCREENING_BENCH_EXAMPLES").is_some() {
                examples.push(format!("    {} -> {}", q.name, hits[0].explanation));
            }
        }
    }
    let total = wall.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    let rate = |k: Kind| {
        let (f, n) = found[k as usize];
        f as f64 / n.max(1) as f64
    };
    println!(
        "{label:<16} entries {:>8} names {:>8} build {:>7.2}s | {} queries: p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  {:.0} q/s | found@10: exact {:.3} typo {:.3} reordered {:.3}; unrelated with a hit {:.3}, {:.3} of those whose name holds no whole listed name ({} namesakes left out)",
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
        unrelated_apart.1 as f64 / unrelated_apart.0.max(1) as f64,
        namesakes,
    );
    for e in examples {
        println!("{e}");
    }
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

/// OpenSanctions' labelled name pairs (name_bench) on one half: precision, recall and F1 at the pair-match
/// threshold, beside logic-v2's frozen run on the same half.
fn name_bench(testdata: &std::path::Path, split: Split, params: &MatchParams) -> Result<String, String> {
    let dir = testdata.join("sanctions/opensanctions-nomenklatura/contrib/name_bench");
    let rows = |file: &str| -> Result<Vec<csv::StringRecord>, String> {
        let mut rd =
            csv::ReaderBuilder::new().flexible(true).from_path(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        rd.records().collect::<Result<Vec<_>, _>>().map_err(|e| format!("{file}: {e}"))
    };
    let entity_type = |schema: &str| match schema {
        "Person" => Some(EntityType::Person),
        "Company" | "Organization" => Some(EntityType::Organization),
        "Vessel" => Some(EntityType::Vessel),
        _ => None,
    };
    let f1 = |tp: u32, fp: u32, fn_: u32| {
        let p = f64::from(tp) / f64::from((tp + fp).max(1));
        let r = f64::from(tp) / f64::from((tp + fn_).max(1));
        (p, r, if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 })
    };
    let (mut ours, mut theirs) = ([0u32; 3], [0u32; 3]);
    let count = |c: &mut [u32; 3], predicted: bool, actual: bool| match (predicted, actual) {
        (true, true) => c[0] += 1,
        (true, false) => c[1] += 1,
        (false, true) => c[2] += 1,
        _ => {}
    };
    for r in rows("cases.csv")? {
        if Split::of(&format!("{}|{}|{}", &r[1], &r[2], &r[3])) == split {
            let s = idv::screening::score::score_names_with(&r[2], &r[3], entity_type(&r[1]), params);
            count(&mut ours, s >= idv::screening::PAIR_MATCH_THRESHOLD, &r[4] == "true");
        }
    }
    for r in rows("run_data/logicv2-frozen.csv")? {
        if Split::of(&format!("{}|{}|{}", &r[2], &r[3], &r[4])) == split {
            count(&mut theirs, &r[10] == "true", &r[5] == "true");
        }
    }
    let (p, r, f) = f1(ours[0], ours[1], ours[2]);
    let (lp, lr, lf) = f1(theirs[0], theirs[1], theirs[2]);
    Ok(format!(
        "name_bench ({} half): idv P {p:.3} R {r:.3} F1 {f:.3} | logic-v2 P {lp:.3} R {lr:.3} F1 {lf:.3}",
        split.as_str()
    ))
}

/// Resident and peak resident memory of this process in MiB (Linux), for the import's footprint.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The large list: OpenSanctions FollowTheMoney JSON lines (`people.py ftm`, read by the importer a
/// watchlist upload uses) or a people file (`people.py list`).
fn large_list(path: &std::path::Path) -> Result<Vec<WatchlistEntry>, String> {
    if path.extension().is_some_and(|e| e == "json") {
        let (rss_before, _) = memory_mib();
        let t = Instant::now();
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let import =
            idv::screening::import::opensanctions::import(std::io::BufReader::new(file)).map_err(|e| e.to_string())?;
        let (rss_after, peak) = memory_mib();
        println!(
            "OpenSanctions FtM import: {} entities ({:.0} MB) in {:.1}s; resident memory {:.0} MiB before, {:.0} MiB after (peak {:.0} MiB)",
            import.entries.len(),
            size as f64 / 1e6,
            t.elapsed().as_secs_f64(),
            rss_before,
            rss_after,
            peak
        );
        return Ok(import.entries);
    }
    people_list(path).map_err(|e| e.to_string())
}

/// A list of people from a people file (`tests/screening/people.py list`).
fn people_list(path: &std::path::Path) -> std::io::Result<Vec<WatchlistEntry>> {
    Ok(read_people(path)?
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut e =
                WatchlistEntry::new(idv::screening::ListSource::OpenSanctions, format!("p-{i}"), EntityType::Person);
            e.add_name(&p.name, NameKind::Primary);
            e
        })
        .collect())
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
    let people = match read_people(&args.people) {
        Ok(p) => p.into_iter().filter(|p| Split::of(&p.name) == args.split).collect::<Vec<_>>(),
        Err(e) => {
            eprintln!("{}: {e}", args.people.display());
            return ExitCode::FAILURE;
        }
    };
    println!(
        "unrelated people: {} of {} ({} half, {} locales)",
        people.len(),
        args.people.display(),
        args.split.as_str(),
        people.iter().map(|p| p.locale.as_str()).collect::<HashSet<_>>().len()
    );
    match name_bench(&args.testdata, args.split, &args.params) {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("name_bench: {e}"),
    }
    let seed = if args.split == Split::Eval { 0x5eed_1234_abcd_0001 } else { 0x7e57_9a1f_0b3c_5d02 };
    let r = Run { queries: args.queries, seed, people: &people, threshold: args.threshold, params: args.params };
    let mut all = sdn.entries;
    all.extend(un.entries);
    run("sdn+un", all.clone(), &r);
    run("subset 1k", subset(&all, 1_000), &r);
    run("subset 10k", subset(&all, 10_000), &r);
    if let Some(path) = &args.large_list {
        let t = Instant::now();
        let mut large = match large_list(path) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        large.extend(all);
        println!("read {} listed people from {} in {:.1}s", large.len(), path.display(), t.elapsed().as_secs_f64());
        run("1M people", large, &r);
        let (rss, peak) = memory_mib();
        println!("  resident memory after the 1M run {rss:.0} MiB, peak of the whole bench {peak:.0} MiB");
    }
    ExitCode::SUCCESS
}
