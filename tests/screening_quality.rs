//! Name-matching quality, measured and printed: precision/recall/F1 on OpenSanctions' labelled name pairs
//! beside their logic-v2 result, the calibration rule, OFAC parity of the OFAC emulation, and cross-script
//! pairs. Data is read from ../shared/testdata (MIT and Apache-2.0 sources), never copied.

use idv::screening::measure::Split;
use idv::screening::{ofac_name_score, score_names, EntityType, PAIR_MATCH_THRESHOLD};
use std::collections::{BTreeMap, HashSet};

const BENCH: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/opensanctions-nomenklatura/contrib/name_bench");
const OFAC_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/testdata/sanctions/opensanctions-nomenklatura/tests/matching/name_based/ofac_fixtures.csv"
);
const CROSS_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/testdata/sanctions/watchman/internal/embeddings/testdata/cross_script_pairs.csv"
);
const EXPECTATIONS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/sanctions_expectations.json");

/// logic-v2's published result on the pairs it scored (sanctions_expectations.json).
const LOGIC_V2_F1: f64 = 0.790;

struct Case {
    split: Split,
    schema: String,
    name1: String,
    name2: String,
    is_match: bool,
    quality: String,
}

fn read_csv(path: &str) -> Vec<csv::StringRecord> {
    let mut rd = match csv::ReaderBuilder::new().flexible(true).from_path(path) {
        Ok(r) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    rd.records().map(|r| r.unwrap_or_else(|e| panic!("{path}: {e}"))).collect()
}

fn entity_type(schema: &str) -> Option<EntityType> {
    match schema {
        "Person" => Some(EntityType::Person),
        "Company" | "Organization" => Some(EntityType::Organization),
        "Vessel" => Some(EntityType::Vessel),
        _ => None, // LegalEntity: either
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
    tn: u32,
}

impl Counts {
    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }
    fn precision(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fp).max(1))
    }
    fn recall(&self) -> f64 {
        f64::from(self.tp) / f64::from((self.tp + self.fn_).max(1))
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn line(&self) -> String {
        format!(
            "P {:.3}  R {:.3}  F1 {:.3}  (TP {} FP {} FN {} TN {})",
            self.precision(),
            self.recall(),
            self.f1(),
            self.tp,
            self.fp,
            self.fn_,
            self.tn
        )
    }
}

#[test]
fn name_bench_beats_logic_v2() {
    let cases: Vec<Case> = read_csv(&format!("{BENCH}/cases.csv"))
        .iter()
        .map(|r| Case {
            // The split is by the pair itself, so a pair repeated in another case group falls in the same half.
            split: Split::of(&format!("{}|{}|{}", &r[1], &r[2], &r[3])),
            schema: r[1].to_string(),
            name1: r[2].to_string(),
            name2: r[3].to_string(),
            is_match: &r[4] == "true",
            quality: r[5].to_string(),
        })
        .collect();
    assert_eq!(cases.len(), 826);

    // logic-v2, recomputed from its frozen run (threshold 0.7), on each half.
    let frozen = read_csv(&format!("{BENCH}/run_data/logicv2-frozen.csv"));
    let mut lv2 = Counts::default();
    let mut lv2_half = [Counts::default(); 2];
    for r in &frozen {
        let split = Split::of(&format!("{}|{}|{}", &r[2], &r[3], &r[4]));
        lv2.add(&r[10] == "true", &r[5] == "true");
        lv2_half[split as usize].add(&r[10] == "true", &r[5] == "true");
    }

    let mut ours_half = [Counts::default(); 2];
    let mut at_default = Counts::default();
    let mut by_quality: BTreeMap<String, Counts> = BTreeMap::new();
    let mut means: BTreeMap<(String, bool), (f64, u32)> = BTreeMap::new();
    let mut strong_failures = Vec::new();
    for c in &cases {
        let s = score_names(&c.name1, &c.name2, entity_type(&c.schema));
        assert!((0.0..=1.0).contains(&s), "score out of range for {} / {}", c.name1, c.name2);
        let predicted = s >= PAIR_MATCH_THRESHOLD;
        ours_half[c.split as usize].add(predicted, c.is_match);
        if c.split == Split::Eval {
            at_default.add(s >= idv::screening::DEFAULT_THRESHOLD, c.is_match);
            by_quality.entry(format!("{}/is_match={}", c.quality, c.is_match)).or_default().add(predicted, c.is_match);
        }
        let m = means.entry((c.quality.clone(), c.is_match)).or_insert((0.0, 0));
        m.0 += s;
        m.1 += 1;
        if c.quality == "STRONG" && predicted != c.is_match {
            strong_failures.push(format!("{:.3} {} | {} (is_match={})", s, c.name1, c.name2, c.is_match));
        }
    }
    let [tune, eval] = ours_half;
    let [lv2_tune, lv2_eval] = lv2_half;

    println!(
        "name_bench ({} pairs, split by a hash of each pair), match threshold {PAIR_MATCH_THRESHOLD}:",
        cases.len()
    );
    println!("  evaluation half, idv:      {}", eval.line());
    println!("  evaluation half, logic-v2: {}", lv2_eval.line());
    println!("  tuning half, idv:          {}", tune.line());
    println!("  tuning half, logic-v2:     {}", lv2_tune.line());
    println!("  logic-v2 on all {} pairs it scored: {}", frozen.len(), lv2.line());
    println!(
        "  evaluation half, idv at the screening default {}: {}",
        idv::screening::DEFAULT_THRESHOLD,
        at_default.line()
    );
    for (q, c) in &by_quality {
        println!("    {q:<24} TP {:>3} FP {:>3} FN {:>3} TN {:>3}", c.tp, c.fp, c.fn_, c.tn);
    }

    // Calibration rule: mean score falls STRONG match > MEDIUM match > WEAK match > WEAK non-match >
    // MEDIUM non-match > STRONG non-match.
    let order =
        [("STRONG", true), ("MEDIUM", true), ("WEAK", true), ("WEAK", false), ("MEDIUM", false), ("STRONG", false)];
    let mean = |q: &str, m: bool| means.get(&(q.to_string(), m)).map(|(s, n)| s / f64::from(*n)).unwrap_or(f64::NAN);
    let mut lv2_means: BTreeMap<(String, bool), (f64, u32)> = BTreeMap::new();
    for r in &frozen {
        let m = lv2_means.entry((r[6].to_string(), &r[5] == "true")).or_insert((0.0, 0));
        m.0 += r[9].parse::<f64>().unwrap_or(0.0);
        m.1 += 1;
    }
    let lv2_mean =
        |q: &str, m: bool| lv2_means.get(&(q.to_string(), m)).map(|(s, n)| s / f64::from(*n)).unwrap_or(f64::NAN);
    let row: Vec<String> = order.iter().map(|(q, m)| format!("{q}/{m} {:.3}", mean(q, *m))).collect();
    println!("  calibration, idv mean score:      {}", row.join(" > "));
    let row: Vec<String> = order.iter().map(|(q, m)| format!("{q}/{m} {:.3}", lv2_mean(q, *m))).collect();
    println!("  calibration, logic-v2 mean score: {}", row.join(" > "));
    println!("  STRONG failures (P0): {}", strong_failures.len());
    for f in &strong_failures {
        println!("    {f}");
    }
    // logic-v2's published figures are what the frozen file says.
    assert!((lv2.f1() - LOGIC_V2_F1).abs() < 0.001, "logic-v2 F1 recomputed as {:.4}", lv2.f1());
    // Judged on the evaluation half only: weights are tuned on the other.
    assert!(eval.f1() >= 0.85, "idv F1 {:.3} on the evaluation half is under 0.85", eval.f1());
    assert!(eval.f1() > lv2_eval.f1(), "idv F1 {:.3} does not beat logic-v2's {:.3}", eval.f1(), lv2_eval.f1());
    // Every ordered pair of the calibration chain must hold, except WEAK match against WEAK non-match: the WEAK
    // non-matches are one-token edits of each other (`Banco Santander S.A.` / `... Chile S.A.`) and the WEAK
    // matches are nicknames and reversed letters, so no string matcher orders them (logic-v2 inverts them too).
    for (i, a) in order.iter().enumerate() {
        for b in &order[i + 1..] {
            if a.0 == "WEAK" && b.0 == "WEAK" {
                continue;
            }
            let (x, y) = (mean(a.0, a.1), mean(b.0, b.1));
            assert!(x > y, "calibration: {}/{} ({x:.3}) is not above {}/{} ({y:.3})", a.0, a.1, b.0, b.1);
        }
    }
    // STRONG failures are P0 in the bench's README; logic-v2 has one (a STRONG non-match it accepts). Do no worse.
    assert!(strong_failures.len() <= 1, "STRONG failures: {strong_failures:#?}");
}

/// Realistic people who are on no list (fixtures/screening/people.tsv: names of 75 locales in their own
/// scripts, tests/screening/people.py), screened over SDN + UN at the default threshold: how many get a hit.
/// The evaluation half only; namesakes of a listed person (same words) are left out.
#[test]
fn unrelated_people_rarely_hit_sdn_and_un() {
    use idv::screening::import::{ofac, un};
    use idv::screening::measure::read_people;
    use idv::screening::{normalize, Index, Query};
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/sanctions/watchman/test/testdata");
    let mut entries = ofac::import_dir(&dir).unwrap_or_else(|e| panic!("SDN: {e}")).entries;
    let un_file = std::fs::File::open(dir.join("UN_consolidated.xml")).unwrap_or_else(|e| panic!("UN: {e}"));
    entries.extend(un::import(std::io::BufReader::new(un_file)).unwrap_or_else(|e| panic!("UN: {e}")).entries);
    let listed: HashSet<String> = entries.iter().flat_map(|e| e.names.iter().map(|n| normalize(&n.name))).collect();
    let people_file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/screening/people.tsv");
    let people: Vec<_> = read_people(&people_file)
        .unwrap_or_else(|e| panic!("{}: {e}", people_file.display()))
        .into_iter()
        .filter(|p| Split::of(&p.name) == Split::Eval && !listed.contains(&normalize(&p.name)))
        .collect();
    let idx = Index::build(entries);
    let mut hit = Vec::new();
    for p in &people {
        let hits =
            idx.screen(&Query { name: p.name.clone(), ..Query::default() }, idv::screening::DEFAULT_THRESHOLD, 10);
        if let Some(h) = hits.first() {
            hit.push(format!("{} ({}) -> {}", p.name, p.locale, h.explanation));
        }
    }
    let rate = hit.len() as f64 / people.len().max(1) as f64;
    println!("unrelated people with a hit over SDN + UN: {}/{} ({:.2}%)", hit.len(), people.len(), rate * 100.0);
    for h in hit.iter().take(10) {
        println!("  {h}");
    }
    assert!(people.len() > 2_500, "only {} people read", people.len());
    // 0.91% when written, the target (1.7% before words in one abjad were compared as written, consonant
    // agreements across scripts added up and SDN + UN counted as slightly crowded; 2.5% before loose pairs
    // counted less). Screened with no entity type, so vessels and organisations count too. Also guards against
    // a fall back towards the 26% they got when scripts were compared raw, tokens weighed alike and one-word
    // aliases took two-word names.
    assert!(rate <= 0.01, "{:.2}% of unrelated people get a hit", rate * 100.0);
}

#[test]
fn ofac_parity_fixtures() {
    let rows = read_csv(OFAC_FIXTURES);
    assert_eq!(rows.len(), 170);
    let mut deltas = Vec::new();
    let mut negatives_below = 0;
    let mut negatives = 0;
    let mut worst: Vec<(i64, String)> = Vec::new();
    for r in &rows {
        let (q, c) = (&r[0], &r[1]);
        let expected: i64 = r[2].trim().parse().unwrap_or_else(|e| panic!("{r:?}: {e}"));
        let got = ofac_name_score(q, c).score;
        if expected < 0 {
            negatives += 1;
            if got < 0.8 {
                negatives_below += 1;
            } else {
                println!("  negative row over the 80 slider: {q} | {c}: {:.2}", got);
            }
        } else {
            let d = ((got * 100.0).round() as i64 - expected).abs();
            deltas.push(d);
            worst.push((d, format!("{q} | {c}: OFAC {expected}, idv {:.0}", got * 100.0)));
        }
    }
    let within5 = deltas.iter().filter(|d| **d <= 5).count();
    let share = within5 as f64 / deltas.len() as f64;
    let mean = deltas.iter().sum::<i64>() as f64 / deltas.len() as f64;
    worst.sort_by_key(|w| std::cmp::Reverse(w.0));
    println!(
        "OFAC parity: {} positive rows, {within5} ({:.1}%) within ±5, mean |delta| {mean:.2}; negatives below 80: {negatives_below}/{negatives}",
        deltas.len(),
        share * 100.0
    );
    for (_, w) in worst.iter().take(5) {
        println!("  largest delta: {w}");
    }
    assert_eq!((deltas.len(), negatives), (164, 6));
    assert!(share >= 0.90, "only {within5}/{} within ±5", deltas.len());
    assert!(mean <= 2.0, "mean |delta| {mean:.2}");
    assert!(negatives_below + 1 >= negatives, "{negatives_below}/{negatives} negatives below 80");

    // The unit cases transcribed in sanctions_expectations.json.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(EXPECTATIONS).unwrap_or_default())
        .unwrap_or(serde_json::Value::Null);
    let units = json["nomenklatura_ofac_parity"]["unit_cases"].as_array().cloned().unwrap_or_default();
    assert_eq!(units.len(), 7);
    for u in units {
        let (q, c) = (u["query"].as_str().unwrap_or(""), u["candidate"].as_str().unwrap_or(""));
        let got = ofac_name_score(q, c).score;
        match &u["score"] {
            serde_json::Value::Number(n) => {
                let want = n.as_f64().unwrap_or(f64::NAN);
                assert!((got - want).abs() < 0.005, "{q} | {c}: {got:.3} != {want}");
            }
            serde_json::Value::String(s) if s.starts_with(">=") => {
                assert!(got >= s[2..].parse::<f64>().unwrap_or(1.0), "{q} | {c}: {got:.3} not {s}")
            }
            serde_json::Value::String(s) if s.starts_with('<') => {
                assert!(got < s[1..].parse::<f64>().unwrap_or(0.0), "{q} | {c}: {got:.3} not {s}")
            }
            other => panic!("unexpected expectation {other}"),
        }
    }
}

#[test]
fn cross_script_pairs() {
    let text = std::fs::read_to_string(CROSS_SCRIPT).unwrap_or_else(|e| panic!("{CROSS_SCRIPT}: {e}"));
    let mut by_script: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut script = String::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# ") {
            if let Some((name, _)) = h.split_once(" to Latin") {
                script = name.to_string();
            }
            continue;
        }
        let parts: Vec<&str> = line.split(',').collect();
        if parts.len() < 3 || line.starts_with('#') {
            continue;
        }
        let s = score_names(parts[0], parts[1], Some(EntityType::Person));
        let hit = s >= idv::screening::DEFAULT_THRESHOLD;
        println!(
            "  {:<28} {:<18} {:.2}{}",
            parts[0],
            parts[1],
            s,
            if hit { "" } else { "  (below screening threshold)" }
        );
        let e = by_script.entry(script.clone()).or_default();
        e.0 += u32::from(hit);
        e.1 += 1;
    }
    for (k, (hit, n)) in &by_script {
        println!("cross-script {k}: {hit}/{n} at or above {}", idv::screening::DEFAULT_THRESHOLD);
    }
    // Alphabets with a standard romanisation must match; abjads match on consonants. (Greek's pairs are one
    // transliteration, Νικόλαος / Nikolaos, which must match, and one cognate, Αλέξανδρος / Alexander, three
    // edits from `aleksandros`, which a name in another script does not reach: its transliteration must agree.)
    for script in ["Cyrillic", "Arabic"] {
        let (hit, n) = by_script.get(script).copied().unwrap_or((0, 1));
        assert_eq!(hit, n, "{script}: {hit}/{n}");
    }
    assert!(score_names("Νικόλαος", "Nikolaos", Some(EntityType::Person)) >= idv::screening::DEFAULT_THRESHOLD);
}
