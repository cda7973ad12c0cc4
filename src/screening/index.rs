//! In-memory screening index: every name and alias of every entry prepared once, blocking keys (phonetic
//! forms with one-deletion neighbours, consonant skeletons, prefixes) to find candidates without scanning all
//! names, then full scoring with an explanation per hit. Owns `Query`, `Hit` and the threshold semantics; must
//! not read list files, touch the database or do I/O.

use super::model::{normalize_identifier, EntityType, ListSource, NameKind, PartialDate, WatchlistEntry};
use super::normalize::{phonetic, prepare, NameToken, PreparedName, TokenClass};
use super::score::{compact_text, compare_with, country_score, crowding, dob_score, identifier_score, MatchParams};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The basic-screening default (spec §4.5: name similarity threshold 0.6, configurable per workflow and
/// per check).
pub const DEFAULT_THRESHOLD: f64 = 0.6;

/// Most candidates fully scored per query; the blocking score ranks them.
const MAX_CANDIDATES: usize = 150;

/// Factor on the name score of a vessel or aircraft matched by part of the query only.
const CRAFT_PARTIAL_FACTOR: f64 = 0.8;

/// Candidates whose blocking score is under this share of the best one are not scored.
const MIN_BLOCKING_SHARE: f32 = 0.25;

/// Keys whose posting lists are longer than this (share of all names) are too common to block on.
const MAX_POSTING_SHARE: f64 = 0.05;

/// Token rarity (`MatchParams::rarity_slope`): lists smaller than this count as this large, so that in a small
/// list a token seen twice is not taken for a common one.
const RARITY_MIN_NAMES: f64 = 20_000.0;

/// What to screen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub name: String,
    /// When set, only entries of this type can hit.
    pub entity_type: Option<EntityType>,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (other date spellings the model parses are accepted).
    pub date_of_birth: Option<String>,
    /// ISO 3166-1 alpha-2 code or country name.
    pub country: Option<String>,
    /// Document or registration numbers.
    pub identifiers: Vec<String>,
}

/// Per-feature scores (0..1); `None` where either side lacked the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Features {
    pub name: Option<f64>,
    pub date_of_birth: Option<f64>,
    pub country: Option<f64>,
    pub identifier: Option<f64>,
}

/// One watchlist entry that matched, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub entry_id: String,
    pub source: ListSource,
    pub entity_type: EntityType,
    /// The entry's name or alias that matched best.
    pub matched_name: String,
    pub matched_name_kind: NameKind,
    /// Combined score in 0..1.
    pub score: f64,
    pub features: Features,
    /// Human-readable account: which name matched, token by token, and what each feature added.
    pub explanation: String,
}

/// Multiplicative hasher for keys that are already integers.
#[derive(Default, Clone, Copy)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
}

type Mix = BuildHasherDefault<MixHasher>;

fn key(tag: u8, s: &[u8]) -> u64 {
    // FNV-1a with a tag byte.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(tag);
    h = h.wrapping_mul(0x100_0000_01b3);
    for &b in s {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

const TAG_PHON: u8 = 1;
const TAG_SKEL: u8 = 2;
const TAG_PREFIX: u8 = 3;
const TAG_COMPACT: u8 = 4;
const TAG_TYPO: u8 = 5;

/// Names this short written together (codes, acronyms, single words) are also found by a typo anywhere in
/// them: a typo can change how a short word folds (`Racihd` / `Rachid`), and there is little else to block on.
/// Longer names have words enough to be found by.
const TYPO_KEY_MAX_LEN: usize = 9;

/// Blocking keys of one token: its phonetic form and every one-letter deletion of it (a typo on either side
/// still shares a key), its consonant skeleton, and a prefix for run-together words.
fn token_keys(t: &NameToken, out: &mut Vec<u64>) {
    let p = t.phon.as_bytes();
    if p.is_empty() {
        return;
    }
    out.push(key(TAG_PHON, p));
    if p.len() >= 4 && t.syllable.is_none() {
        let mut buf = Vec::with_capacity(p.len());
        for skip in 0..p.len() {
            buf.clear();
            buf.extend(p.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, b)| *b));
            out.push(key(TAG_PHON, &buf));
        }
    }
    if t.skel.len() >= 2 {
        out.push(key(TAG_SKEL, t.skel.as_bytes()));
    }
    if p.len() >= 6 {
        out.push(key(TAG_PREFIX, &p[..4]));
    }
}

/// Tokens worth blocking on: words and numbers; particles, legal forms and initials only when nothing else is
/// there.
fn blocking_tokens(n: &PreparedName) -> Vec<&NameToken> {
    let strong: Vec<&NameToken> = n
        .tokens
        .iter()
        .filter(|t| matches!(t.class, TokenClass::Word | TokenClass::Number | TokenClass::Generic))
        .collect();
    if strong.is_empty() {
        n.tokens.iter().collect()
    } else {
        strong
    }
}

/// The short name written together and each of its one-letter deletions: two such names one edit apart share
/// one of them.
fn typo_keys(n: &PreparedName, out: &mut Vec<u64>) {
    let text = compact_text(&n.tokens);
    let b = text.as_bytes();
    if !(4..=TYPO_KEY_MAX_LEN).contains(&b.len()) {
        return;
    }
    out.push(key(TAG_TYPO, b));
    let mut buf = Vec::with_capacity(b.len());
    for skip in 0..b.len() {
        buf.clear();
        buf.extend(b.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, c)| *c));
        out.push(key(TAG_TYPO, &buf));
    }
}

fn compact_key(n: &PreparedName) -> Option<u64> {
    let s: String = n.tokens.iter().filter(|t| t.class != TokenClass::LegalForm).map(|t| t.phon.as_str()).collect();
    (s.len() >= 4).then(|| key(TAG_COMPACT, s.as_bytes()))
}

struct IndexedName {
    entry: u32,
    name: u16,
    prepared: PreparedName,
}

/// The screening index over a set of watchlist entries.
pub struct Index {
    entries: Vec<WatchlistEntry>,
    names: Vec<IndexedName>,
    /// In how many indexed names each phonetic form occurs.
    token_counts: HashMap<u64, u32, Mix>,
    postings: HashMap<u64, Vec<u32>, Mix>,
    identifiers: HashMap<String, Vec<u32>>,
    max_posting: usize,
    params: MatchParams,
}

impl Index {
    /// Prepare every name of every entry and build the blocking keys.
    pub fn build(entries: Vec<WatchlistEntry>) -> Index {
        Index::build_with(entries, MatchParams::default())
    }

    /// `build` with explicit name-comparison constants (the screening bench tunes them).
    pub fn build_with(entries: Vec<WatchlistEntry>, params: MatchParams) -> Index {
        let mut names = Vec::new();
        let mut postings: HashMap<u64, Vec<u32>, Mix> = HashMap::default();
        let mut identifiers: HashMap<String, Vec<u32>> = HashMap::new();
        let mut keys = Vec::new();
        for (ei, e) in entries.iter().enumerate() {
            for (ni, n) in e.names.iter().enumerate().take(usize::from(u16::MAX)) {
                let prepared = prepare(&n.name, Some(e.entity_type));
                if prepared.tokens.is_empty() {
                    continue;
                }
                let id = names.len() as u32;
                keys.clear();
                for t in blocking_tokens(&prepared) {
                    token_keys(t, &mut keys);
                }
                keys.extend(compact_key(&prepared));
                typo_keys(&prepared, &mut keys);
                keys.sort_unstable();
                keys.dedup();
                for k in &keys {
                    postings.entry(*k).or_default().push(id);
                }
                names.push(IndexedName { entry: ei as u32, name: ni as u16, prepared });
            }
            for i in &e.identifiers {
                let v = i.normalized_value();
                if v.len() >= 4 {
                    let list = identifiers.entry(v).or_default();
                    if list.last() != Some(&(ei as u32)) {
                        list.push(ei as u32);
                    }
                }
            }
        }
        for p in postings.values_mut() {
            p.shrink_to_fit();
        }
        let max_posting = ((names.len() as f64 * MAX_POSTING_SHARE) as usize).max(2_000);
        let mut token_counts: HashMap<u64, u32, Mix> = HashMap::default();
        for n in &names {
            keys.clear();
            keys.extend(n.prepared.tokens.iter().map(|t| key(TAG_PHON, t.phon.as_bytes())));
            keys.sort_unstable();
            keys.dedup();
            for k in &keys {
                *token_counts.entry(*k).or_default() += 1;
            }
        }
        let params = MatchParams { crowding: crowding(names.len()), ..params };
        let mut idx = Index { entries, names, token_counts, postings, identifiers, max_posting, params };
        // Every name's rarity against the whole list (the names are moved out while they are weighed).
        let total = idx.names.len();
        let mut names = std::mem::take(&mut idx.names);
        for n in &mut names {
            idx.weigh_by_rarity(&mut n.prepared, total);
        }
        idx.names = names;
        idx
    }

    /// Sets each token's rarity from how many of the `names` indexed names hold it.
    fn weigh_by_rarity(&self, name: &mut PreparedName, names: usize) {
        let total = (names as f64).max(RARITY_MIN_NAMES);
        for t in &mut name.tokens {
            let count = self.token_counts.get(&key(TAG_PHON, t.phon.as_bytes())).copied().unwrap_or(0);
            let share = f64::from(count) / total;
            let p = &self.params;
            t.rarity = (1.0 - p.rarity_slope * (1.0 + share / p.rarity_share).ln()).max(p.rarity_floor) as f32;
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of indexed names and aliases.
    pub fn name_count(&self) -> usize {
        self.names.len()
    }

    pub fn entries(&self) -> &[WatchlistEntry] {
        &self.entries
    }

    /// Screen a query: hits scoring at least `threshold`, best first, at most `limit`.
    pub fn screen(&self, query: &Query, threshold: f64, limit: usize) -> Vec<Hit> {
        let mut prepared = prepare(&query.name, query.entity_type);
        self.weigh_by_rarity(&mut prepared, self.names.len());
        let type_ok = |e: &WatchlistEntry| query.entity_type.is_none_or(|t| t == e.entity_type);

        // 1. Candidate names by blocking keys, weighted by rarity.
        let mut acc: HashMap<u32, (f32, u16), Mix> = HashMap::default();
        let total = self.names.len().max(1) as f64;
        let mut keys = Vec::new();
        for (ti, t) in blocking_tokens(&prepared).into_iter().enumerate() {
            keys.clear();
            token_keys(t, &mut keys);
            // A typo can change how the rest of a word folds (`Pxirier`: `x` is `ks`, `Sceher`: `ce` is `se`):
            // the word with each letter left out, folded, meets the listed word's one-deletion keys.
            if t.syllable.is_none() && t.text.len() >= 4 && t.class == TokenClass::Word {
                for skip in 0..t.text.len() {
                    let mut w = t.text.clone();
                    w.remove(skip);
                    keys.push(key(TAG_PHON, phonetic(&w).as_bytes()));
                }
            }
            // The exact phonetic key first: a token's first contribution to a name is its best one.
            let exact_key = key(TAG_PHON, t.phon.as_bytes());
            keys.sort_unstable_by_key(|k| (*k != exact_key, *k));
            keys.dedup();
            let w = t.weight();
            for k in &keys {
                let Some(list) = self.postings.get(k) else { continue };
                if list.len() > self.max_posting {
                    continue;
                }
                // Neighbours and skeletons count a little less than the exact phonetic form.
                let idf = (1.0 + total / list.len() as f64).ln();
                let gain = (w * idf * if *k == exact_key { 1.0 } else { 0.8 }) as f32;
                for &id in list {
                    let slot = acc.entry(id).or_insert((0.0, u16::MAX));
                    if slot.1 != ti as u16 {
                        slot.0 += gain;
                        slot.1 = ti as u16;
                    }
                }
            }
        }
        if let Some(k) = compact_key(&prepared) {
            if let Some(list) = self.postings.get(&k) {
                for &id in list {
                    acc.entry(id).or_insert((0.0, u16::MAX)).0 += 10.0;
                }
            }
        }
        keys.clear();
        typo_keys(&prepared, &mut keys);
        keys.sort_unstable();
        keys.dedup();
        let mut typo_ids: Vec<u32> = keys
            .iter()
            .filter_map(|k| self.postings.get(k).filter(|l| l.len() <= self.max_posting))
            .flatten()
            .copied()
            .collect();
        typo_ids.sort_unstable();
        typo_ids.dedup();
        for id in typo_ids {
            acc.entry(id).or_insert((0.0, u16::MAX)).0 += 8.0;
        }
        let mut cands: Vec<(f32, u32)> = acc
            .into_iter()
            .filter(|(id, _)| type_ok(&self.entries[self.names[*id as usize].entry as usize]))
            .map(|(id, (s, _))| (s, id))
            .collect();
        if cands.len() > MAX_CANDIDATES {
            cands.select_nth_unstable_by(MAX_CANDIDATES, |a, b| b.0.total_cmp(&a.0));
            cands.truncate(MAX_CANDIDATES);
        }
        // Names sharing only a fraction of the best candidate's evidence cannot outscore it by much.
        let top = cands.iter().map(|c| c.0).fold(0.0f32, f32::max);
        let mut name_ids: Vec<u32> =
            cands.into_iter().filter(|(s, _)| *s >= top * MIN_BLOCKING_SHARE).map(|(_, id)| id).collect();

        // Entries sharing an identifier with the query are candidates whatever their names.
        let id_entries: Vec<u32> = query
            .identifiers
            .iter()
            .filter_map(|q| self.identifiers.get(&normalize_identifier(q)))
            .flatten()
            .copied()
            .collect();
        if !id_entries.is_empty() {
            for (i, n) in self.names.iter().enumerate() {
                if id_entries.contains(&n.entry) && type_ok(&self.entries[n.entry as usize]) {
                    name_ids.push(i as u32);
                }
            }
        }

        // 2. Score each candidate name; keep each entry's best.
        let mut best: HashMap<u32, (f64, u32, super::score::NameMatch), Mix> = HashMap::default();
        for id in name_ids {
            let n = &self.names[id as usize];
            let m = compare_with(&prepared, &n.prepared, &self.params);
            let kind = self.entries[n.entry as usize].names[usize::from(n.name)].kind;
            let mut s = if kind == NameKind::Weak { m.score * 0.9 } else { m.score };
            // A vessel's or aircraft's name is taken whole: a query with words of its own beside it
            // (`Noah Campos` / the tanker `NOAH`) names something else.
            let craft = matches!(self.entries[n.entry as usize].entity_type, EntityType::Vessel | EntityType::Aircraft);
            if craft && !m.unmatched_left.is_empty() {
                s *= CRAFT_PARTIAL_FACTOR;
            }
            match best.get(&n.entry) {
                Some((b, ..)) if *b >= s => {}
                _ => {
                    best.insert(n.entry, (s, id, m));
                }
            }
        }

        // 3. Combine with the other features.
        let dob = query.date_of_birth.as_deref().and_then(PartialDate::parse);
        let mut hits: Vec<Hit> = Vec::new();
        for (entry_idx, (name_score, name_id, m)) in best {
            let e = &self.entries[entry_idx as usize];
            let n = &self.names[name_id as usize];
            let listed = &e.names[usize::from(n.name)];
            let features = Features {
                name: Some(name_score),
                date_of_birth: dob.as_ref().and_then(|d| dob_score(d, &e.dates_of_birth)),
                country: query.country.as_deref().and_then(|c| country_score(c, &e.countries)),
                identifier: identifier_score(&query.identifiers, &e.identifiers),
            };
            let (score, notes) = combine(&features);
            if score < threshold {
                continue;
            }
            let mut explanation = format!(
                "{} {} {:?} ({}): {}; name {:.2}",
                e.source,
                e.entry_id,
                listed.name,
                listed.kind.as_str(),
                m.describe(),
                name_score
            );
            for note in notes {
                explanation.push_str("; ");
                explanation.push_str(&note);
            }
            explanation.push_str(&format!("; score {score:.2}"));
            hits.push(Hit {
                entry_id: e.entry_id.clone(),
                source: e.source,
                entity_type: e.entity_type,
                matched_name: listed.name.clone(),
                matched_name_kind: listed.kind,
                score,
                features,
                explanation,
            });
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.entry_id.cmp(&b.entry_id)));
        hits.truncate(limit);
        hits
    }
}

/// Combine feature scores into one score, with a note per feature that moved it.
///
/// The name score is the base. A matching date of birth closes half the gap to 1 and a contradicting one takes
/// 30% off; a matching country closes 10% of the gap and a different one takes 10% off; a shared identifier
/// lifts the score to at least 0.95 (a different identifier says nothing: people hold many documents).
pub fn combine(f: &Features) -> (f64, Vec<String>) {
    let mut s = f.name.unwrap_or(0.0);
    let mut notes = Vec::new();
    if let Some(d) = f.date_of_birth {
        let before = s;
        if d >= 0.99 {
            s += (1.0 - s) * 0.5;
        } else if d >= 0.5 {
            s += (1.0 - s) * 0.5 * d;
        } else {
            s *= 0.7 + 0.3 * d;
        }
        notes.push(format!("date of birth {d:.2} ({:+.2})", s - before));
    }
    if let Some(c) = f.country {
        let before = s;
        if c >= 0.99 {
            s += (1.0 - s) * 0.1;
        } else {
            s *= 0.9;
        }
        notes.push(format!("country {c:.2} ({:+.2})", s - before));
    }
    if let Some(i) = f.identifier {
        let before = s;
        if i >= 0.99 {
            s = s.max(0.95);
        }
        notes.push(format!("identifier {i:.2} ({:+.2})", s - before));
    }
    (s.clamp(0.0, 1.0), notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screening::model::{BirthDate, ListSource};

    fn entry(id: &str, ty: EntityType, names: &[&str]) -> WatchlistEntry {
        let mut e = WatchlistEntry::new(ListSource::OfacSdn, id, ty);
        for (i, n) in names.iter().enumerate() {
            e.add_name(n, if i == 0 { NameKind::Primary } else { NameKind::Alias });
        }
        e
    }

    fn index() -> Index {
        let mut putin = entry("1", EntityType::Person, &["PUTIN, Vladimir Vladimirovich", "Владимир Путин"]);
        putin.add_birth_date(BirthDate::exact(PartialDate { year: 1952, month: Some(10), day: Some(7) }));
        putin.add_country("Russia");
        let vessel = entry("2", EntityType::Vessel, &["VLADIMIR PUTIN"]);
        let org = entry("3", EntityType::Organization, &["SIEMENS AKTIENGESELLSCHAFT"]);
        Index::build(vec![putin, vessel, org])
    }

    #[test]
    fn finds_reordered_typoed_and_cross_script_names() {
        let idx = index();
        for name in ["Vladimir Putin", "Vladimr Putin", "Путин Владимир", "PUTIN VLADIMIR"] {
            let q = Query { name: name.into(), entity_type: Some(EntityType::Person), ..Query::default() };
            let hits = idx.screen(&q, DEFAULT_THRESHOLD, 10);
            assert_eq!(hits.first().map(|h| h.entry_id.as_str()), Some("1"), "{name}: {hits:?}");
            assert!(!hits.iter().any(|h| h.entity_type == EntityType::Vessel), "a person query hit a vessel");
        }
        let any = Query { name: "Vladimir Putin".into(), ..Query::default() };
        assert_eq!(idx.screen(&any, DEFAULT_THRESHOLD, 10).len(), 2);
    }

    #[test]
    fn a_craft_is_named_whole() {
        let mut tanker = entry("4", EntityType::Vessel, &["NAVARZ"]);
        tanker.add_name("NOAH", NameKind::Former);
        let idx = Index::build(vec![tanker]);
        let screen = |name: &str| idx.screen(&Query { name: name.into(), ..Query::default() }, DEFAULT_THRESHOLD, 10);
        assert_eq!(screen("Noah").len(), 1);
        assert!(screen("Noah Li").is_empty(), "{:?}", screen("Noah Li"));
    }

    #[test]
    fn features_and_explanation() {
        let idx = index();
        let q = Query {
            name: "Vladimir Putin".into(),
            entity_type: Some(EntityType::Person),
            date_of_birth: Some("1952-10-07".into()),
            country: Some("RU".into()),
            identifiers: vec![],
        };
        let hits = idx.screen(&q, DEFAULT_THRESHOLD, 10);
        let h = &hits[0];
        assert_eq!(h.features.date_of_birth, Some(1.0));
        assert_eq!(h.features.country, Some(1.0));
        assert_eq!(h.features.identifier, None);
        assert!(h.score > h.features.name.unwrap_or(1.0) - 1e-9);
        assert!(h.explanation.contains("putin=putin"), "{}", h.explanation);
        let wrong_dob = Query { date_of_birth: Some("1980".into()), ..q };
        let h2 = &idx.screen(&wrong_dob, 0.0, 10)[0];
        assert!(h2.score < h.score);
    }

    #[test]
    fn listed_and_query_tokens_are_weighed_against_the_same_list_size() {
        // 30,000 names (more than the smallest list size rarity assumes), `Commonname` in 1% of them.
        let entries: Vec<WatchlistEntry> = (0..30_000)
            .map(|i| {
                let given = if i % 100 == 0 { "Commonname".to_string() } else { format!("Given{}", to_letters(i)) };
                entry(&format!("e{i}"), EntityType::Person, &[&format!("{given} Family{}", to_letters(i))])
            })
            .collect();
        let idx = Index::build(entries);
        let listed = idx.names[0].prepared.tokens[0].rarity;
        let mut query = prepare("Commonname Someone", Some(EntityType::Person));
        idx.weigh_by_rarity(&mut query, idx.name_count());
        assert_eq!(query.tokens[0].rarity, listed);
        assert!(listed > 0.5 && listed < 0.6, "{listed}");
    }

    #[test]
    fn a_shared_common_given_name_is_not_enough() {
        // `Mohammed` is in a fifth of the names, the family names are each in one.
        let mut entries: Vec<WatchlistEntry> = (0..200)
            .map(|i| entry(&format!("m{i}"), EntityType::Person, &[&format!("Mohammed Family{}", to_letters(i))]))
            .collect();
        entries.extend((0..800).map(|i| {
            entry(&format!("o{i}"), EntityType::Person, &[&format!("Other{} Name{}", to_letters(i), to_letters(i + 7))])
        }));
        entries.push(entry("sima", EntityType::Person, &["SIMA"]));
        let idx = Index::build(entries);
        let screen = |name: &str| idx.screen(&Query { name: name.into(), ..Query::default() }, DEFAULT_THRESHOLD, 10);
        assert!(screen("Mohammed Rahimzadeh").is_empty(), "{:?}", screen("Mohammed Rahimzadeh"));
        // The same family name does find the entry; a one-word alias does not take a two-word name.
        assert_eq!(screen("Mohammed Familycb").first().map(|h| h.entry_id.as_str()), Some("m28"));
        assert!(screen("Sima Velixanov").is_empty(), "{:?}", screen("Sima Velixanov"));
        assert_eq!(screen("Sima").first().map(|h| h.entry_id.as_str()), Some("sima"));
    }

    /// `0` → `a`, `27` → `bb`: distinct letter-only words.
    fn to_letters(mut i: usize) -> String {
        let mut s = String::new();
        loop {
            s.push((b'a' + (i % 26) as u8) as char);
            i /= 26;
            if i == 0 {
                return s;
            }
        }
    }

    #[test]
    fn names_in_another_script_match_through_their_transliteration_and_say_so() {
        let idx = index();
        let q = Query { name: "Путин Владимир".into(), ..Query::default() };
        let h = &idx.screen(&q, DEFAULT_THRESHOLD, 10)[0];
        assert!(h.explanation.contains("putin [Путин]=putin"), "{}", h.explanation);
        // A Latin name is not matched to a differently written one through a looser consonant key.
        let latin = Index::build(vec![entry("x", EntityType::Person, &["مقداد صيداوي"])]);
        let q = Query { name: "Meshal Saad".into(), ..Query::default() };
        assert!(latin.screen(&q, DEFAULT_THRESHOLD, 10).is_empty());
    }

    #[test]
    fn company_suffixes_and_thresholds() {
        let idx = index();
        let q = Query { name: "Siemens AG".into(), entity_type: Some(EntityType::Organization), ..Query::default() };
        assert_eq!(idx.screen(&q, DEFAULT_THRESHOLD, 10).len(), 1);
        let none = Query { name: "Totally Unrelated Name".into(), ..Query::default() };
        assert!(idx.screen(&none, DEFAULT_THRESHOLD, 10).is_empty());
        assert!(idx.screen(&q, 1.01, 10).is_empty());
    }
}
