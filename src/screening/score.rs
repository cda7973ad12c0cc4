//! Scoring: string similarity (Jaro-Winkler, edit distance), token-aligned name comparison with an explanation,
//! an OFAC Sanctions List Search emulation, and the date-of-birth, country and identifier features. Pure
//! functions; must not index, import lists or decide thresholds for callers.

use super::model::{normalize_identifier, BirthDate, EntityType, PartialDate};
use super::normalize::{prepare, NameShape, NameToken, PreparedName, Script, TokenClass};
use std::fmt::Write as _;

// ---------------------------------------------------------------------------------------------------------
// String similarity primitives (on bytes: every prepared token is ASCII).

/// Jaro similarity of two byte strings.
pub fn jaro(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    // Prepared tokens are short: flags on the stack, unless a token is unusually long.
    if a.len() <= 64 && b.len() <= 64 {
        jaro_with(a, b, window, &mut [false; 64], &mut [false; 64])
    } else {
        jaro_with(a, b, window, &mut vec![false; a.len()], &mut vec![false; b.len()])
    }
}

fn jaro_with(a: &[u8], b: &[u8], window: usize, a_used: &mut [bool], b_used: &mut [bool]) -> f64 {
    let mut matches = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for j in lo..hi {
            if !b_used[j] && b[j] == ca {
                a_used[i] = true;
                b_used[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut t = 0usize;
    let mut k = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        if a_used[i] {
            while !b_used[k] {
                k += 1;
            }
            if ca != b[k] {
                t += 1;
            }
            k += 1;
        }
    }
    let m = matches as f64;
    (m / a.len() as f64 + m / b.len() as f64 + (m - t as f64 / 2.0) / m) / 3.0
}

fn common_prefix(a: &[u8], b: &[u8], max: usize) -> usize {
    a.iter().zip(b).take(max).take_while(|(x, y)| x == y).count()
}

/// Jaro-Winkler (prefix scale 0.1, up to 4 characters, boost only above a Jaro of 0.7).
pub fn jaro_winkler(a: &[u8], b: &[u8]) -> f64 {
    let j = jaro(a, b);
    if j <= 0.7 {
        return j;
    }
    let l = common_prefix(a, b, 4) as f64;
    j + l * 0.1 * (1.0 - j)
}

/// Optimal-string-alignment distance (Levenshtein with adjacent transpositions), over bytes or characters.
pub fn osa_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let (n, m) = (a.len(), b.len());
    if n == 0 {
        return m;
    }
    if m == 0 {
        return n;
    }
    // Three rows; on the stack for the short strings names are made of.
    const STACK: usize = 48;
    if m < STACK {
        let mut rows = [[0usize; STACK]; 3];
        osa_rows(a, b, &mut rows)
    } else {
        let mut rows = [vec![0usize; m + 1], vec![0usize; m + 1], vec![0usize; m + 1]];
        osa_rows(a, b, &mut rows)
    }
}

fn osa_rows<T: PartialEq, R: AsMut<[usize]>>(a: &[T], b: &[T], rows: &mut [R; 3]) -> usize {
    let m = b.len();
    let [r0, r1, r2] = rows;
    let (mut prev2, mut prev, mut cur) = (r0.as_mut(), r1.as_mut(), r2.as_mut());
    for (j, v) in prev.iter_mut().enumerate().take(m + 1) {
        *v = j;
    }
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

/// 1 − distance / longer length.
pub fn edit_similarity(a: &[u8], b: &[u8]) -> f64 {
    let l = a.len().max(b.len());
    if l == 0 {
        return 1.0;
    }
    1.0 - osa_distance(a, b) as f64 / l as f64
}

// ---------------------------------------------------------------------------------------------------------
// Token and name comparison.

/// Tunable constants of the name comparison. `Default` is what screening uses.
#[derive(Debug, Clone, Copy)]
pub struct MatchParams {
    /// Token pairs less similar than this are not aligned (they count as unmatched on both sides).
    pub pair_floor: f64,
    /// Similarity given to an initial against a name starting with that letter.
    pub initial_sim: f64,
    /// Similarity when phonetic forms are equal.
    pub phonetic_sim: f64,
    /// Similarity when consonant skeletons are equal.
    pub skeleton_sim: f64,
    /// Cost, per unit of weight, of tokens left over on both sides (a substituted name part).
    pub substitution_cost: f64,
    /// Cost, per unit of weight, of tokens only one side has (a missing middle name, a patronymic).
    pub extension_cost: f64,
    /// Exponent applied to pair similarities below 1: higher punishes partial token matches harder.
    pub sim_exponent: f64,
    /// Extra cost, per unit of weight, when the family names on both sides are left unmatched.
    pub family_cost: f64,
    /// Factor applied when a patronymic is inverted (`X bin Y` against `Y bin X`).
    pub patronymic_factor: f64,
    /// Multiplier of `extension_cost` when only one word matched.
    pub single_match_factor: f64,
    /// Least similarity of two tokens written in different scripts (their transliterations compared).
    pub cross_script_floor: f64,
    /// Least edit similarity for equal consonant skeletons to count as `skeleton_sim`.
    pub skeleton_edit_floor: f64,
    /// Words at least this long may differ by two edits; shorter ones by one (phonetic and skeleton
    /// agreement aside).
    pub two_edit_length: usize,
    /// Factor on `skeleton_sim` for a vowel-less token whose skeleton has one or two consonants.
    pub short_skeleton_factor: f64,
    /// Factor on the contribution of a loose pair: one that agrees by sound or consonants only, by more
    /// edits than a typo makes, or across scripts without equal transliterations.
    pub loose_factor: f64,
    /// Factor on the contribution of every loose pair but the best approximate one: one typo is a typo, a
    /// typo and a loose near-miss are another name.
    pub extra_approx_factor: f64,
    /// How crowded the list compared against is, 0 (up to `CROWDING_START` names) to 1 (`CROWDING_FULL` or
    /// more): the more names, the more of them are near any name by chance, so the less an approximation
    /// proves. Set by the index; 0 for two names on their own.
    pub crowding: f64,
    /// `loose_factor` in a fully crowded list.
    pub crowded_loose_factor: f64,
    /// `extra_approx_factor` in a fully crowded list, for typos too.
    pub crowded_extra_approx_factor: f64,
    /// In a fully crowded list, words only one side has cost this many times more when a pair is approximate
    /// (a typo and a missing word together are another name).
    pub crowded_extension_factor: f64,
    /// Share of that extra cost when no pair is approximate but one agrees in sound only (a spelling variant
    /// and a word only one side has: `Jeevika Adweta Kapur` / `Adweta Kapoor`).
    pub variant_extension_share: f64,
    /// Share of `crowded_extra_approx_factor` a typo takes when another pair agrees in sound only.
    pub variant_near_miss_share: f64,
    /// Multiplier of `family_cost` when the second syllables of Han or Hangul names (the end of a two-syllable
    /// family name) meet nothing.
    pub second_family_syllable_factor: f64,
    /// Factor, in a fully crowded list, on the contribution of a pair across scripts that agrees by consonants
    /// only (a vowel-less word against a written-out one whose spellings do not agree by themselves): among a
    /// million names, many of other origins share a short consonant skeleton by chance.
    pub crowded_consonant_factor: f64,
    /// Factor, in a fully crowded list, on the contribution of a typo in a short word (`rosa` / `ros`): short
    /// words have many neighbours one edit away.
    pub crowded_short_typo_factor: f64,
    /// Words of at most this many letters are short for `crowded_short_typo_factor`.
    pub short_typo_length: usize,
    /// Consonant skeletons at least this long agree across scripts as a transliteration does (`blhr`,
    /// Belkhiri / بلخير), whatever the list's size.
    pub transliteration_skeleton_length: usize,
    /// Token rarity: a token in a share `f` of the indexed names weighs `1 − rarity_slope · ln(1 + f /
    /// rarity_share)`, at least `rarity_floor`. A token in one name in 10,000 weighs about 0.93, one in 1% about
    /// 0.54, one in 5% (`mohammed` on a sanctions list) about 0.38.
    pub rarity_slope: f64,
    pub rarity_share: f64,
    pub rarity_floor: f64,
}

/// List sizes between which `MatchParams::crowding` rises from 0 to 1 (on a log scale). SDN + UN (about 21,000
/// names) is crowded by about a sixth: enough that a typo beside a word only the listed name has proves less.
pub const CROWDING_START: f64 = 10_000.0;
pub const CROWDING_FULL: f64 = 1_000_000.0;

/// `MatchParams::crowding` for a list of `names` names.
pub fn crowding(names: usize) -> f64 {
    ((names as f64).max(1.0).ln() - CROWDING_START.ln()).max(0.0).min(CROWDING_FULL.ln() - CROWDING_START.ln())
        / (CROWDING_FULL.ln() - CROWDING_START.ln())
}

impl Default for MatchParams {
    fn default() -> Self {
        MatchParams {
            pair_floor: 0.65,
            initial_sim: 0.8,
            phonetic_sim: 0.95,
            skeleton_sim: 0.88,
            substitution_cost: 2.0,
            extension_cost: 0.3,
            sim_exponent: 2.25,
            family_cost: 1.0,
            patronymic_factor: 0.65,
            single_match_factor: 4.5,
            cross_script_floor: 0.85,
            skeleton_edit_floor: 0.55,
            short_skeleton_factor: 0.85,
            two_edit_length: 8,
            loose_factor: 0.6,
            extra_approx_factor: 0.6,
            crowding: 0.0,
            crowded_loose_factor: 0.2,
            crowded_extra_approx_factor: 0.4,
            crowded_extension_factor: 16.0,
            variant_extension_share: 0.5,
            variant_near_miss_share: 1.0,
            second_family_syllable_factor: 3.0,
            crowded_consonant_factor: 0.3,
            transliteration_skeleton_length: 4,
            crowded_short_typo_factor: 0.5,
            short_typo_length: 4,
            rarity_slope: 0.1,
            rarity_share: 1e-4,
            rarity_floor: 0.3,
        }
    }
}

impl MatchParams {
    /// Sets one constant by its field name (the screening bench's `--param name=value`, for tuning).
    pub fn set(&mut self, name: &str, value: f64) -> Result<(), String> {
        let f = match name {
            "pair_floor" => &mut self.pair_floor,
            "initial_sim" => &mut self.initial_sim,
            "phonetic_sim" => &mut self.phonetic_sim,
            "skeleton_sim" => &mut self.skeleton_sim,
            "substitution_cost" => &mut self.substitution_cost,
            "extension_cost" => &mut self.extension_cost,
            "sim_exponent" => &mut self.sim_exponent,
            "family_cost" => &mut self.family_cost,
            "patronymic_factor" => &mut self.patronymic_factor,
            "single_match_factor" => &mut self.single_match_factor,
            "cross_script_floor" => &mut self.cross_script_floor,
            "skeleton_edit_floor" => &mut self.skeleton_edit_floor,
            "short_skeleton_factor" => &mut self.short_skeleton_factor,
            "loose_factor" => &mut self.loose_factor,
            "extra_approx_factor" => &mut self.extra_approx_factor,
            "crowding" => &mut self.crowding,
            "crowded_loose_factor" => &mut self.crowded_loose_factor,
            "crowded_extra_approx_factor" => &mut self.crowded_extra_approx_factor,
            "crowded_extension_factor" => &mut self.crowded_extension_factor,
            "variant_extension_share" => &mut self.variant_extension_share,
            "variant_near_miss_share" => &mut self.variant_near_miss_share,
            "second_family_syllable_factor" => &mut self.second_family_syllable_factor,
            "crowded_consonant_factor" => &mut self.crowded_consonant_factor,
            "rarity_slope" => &mut self.rarity_slope,
            "rarity_share" => &mut self.rarity_share,
            "rarity_floor" => &mut self.rarity_floor,
            "crowded_short_typo_factor" => &mut self.crowded_short_typo_factor,
            "short_typo_length" => {
                self.short_typo_length = value as usize;
                return Ok(());
            }
            "transliteration_skeleton_length" => {
                self.transliteration_skeleton_length = value as usize;
                return Ok(());
            }
            "two_edit_length" => {
                self.two_edit_length = value as usize;
                return Ok(());
            }
            other => return Err(format!("no match parameter {other}")),
        };
        *f = value;
        Ok(())
    }
}

/// Similarity of two prepared tokens in 0..=1.
pub fn token_similarity(a: &NameToken, b: &NameToken, p: &MatchParams) -> f64 {
    if let (Some(x), Some(y)) = (a.syllable, b.syllable) {
        return if x == y { 1.0 } else { 0.0 };
    }
    // Two words written in the same abjad are compared as written: a writer of that script does not swap
    // its letters for others that transliterate alike (`أسد` and `سعد` are both `sd`), and a word a letter
    // apart is a typo however alike it transliterates.
    match written_distance(a, b) {
        Some(0) | None => spelling_similarity(a, b, p),
        Some(d) if d <= written_edit_allowance(a, b) => spelling_similarity(a, b, p).min(p.skeleton_sim),
        Some(_) => 0.0,
    }
}

/// Similarity of two tokens by their transliterated spellings.
fn spelling_similarity(a: &NameToken, b: &NameToken, p: &MatchParams) -> f64 {
    if a.text == b.text {
        return 1.0;
    }
    if a.class == TokenClass::Number || b.class == TokenClass::Number {
        return 0.0;
    }
    if a.class == TokenClass::Initial || b.class == TokenClass::Initial {
        return if a.text.as_bytes()[0] == b.text.as_bytes()[0] { p.initial_sim } else { 0.0 };
    }
    if a.phon == b.phon {
        return p.phonetic_sim;
    }
    // Each distance once: they give the similarities and the edit allowance below.
    let phon_edits = osa_distance(a.phon.as_bytes(), b.phon.as_bytes());
    let text_edits = osa_distance(a.text.as_bytes(), b.text.as_bytes());
    let similarity = |d: usize, x: &str, y: &str| 1.0 - d as f64 / x.len().max(y.len()).max(1) as f64;
    let edit = similarity(phon_edits, &a.phon, &b.phon);
    // Raw spelling can be closer than the folded one (folding is lossy both ways).
    let mut s = edit.max(similarity(text_edits, &a.text, &b.text));
    if a.abjad || b.abjad {
        // Across scripts the spellings must agree by themselves, as below; only the consonants may agree
        // instead.
        if a.script != b.script && s < p.cross_script_floor {
            s = 0.0;
        }
        // A vowel-less transliteration: only consonants are comparable, and a short skeleton says little
        // (`ly` is Ali, Ela, Lee, ...).
        if a.skel == b.skel && !a.skel.is_empty() {
            let specific = if a.skel.len() <= 2 { p.short_skeleton_factor } else { 1.0 };
            s = s.max(p.skeleton_sim * specific);
        } else if a.script == b.script && a.skel.len() >= 3 && b.skel.len() >= 3 {
            s = s.max(p.skeleton_sim * edit_similarity(a.skel.as_bytes(), b.skel.as_bytes()));
        }
        return s;
    }
    if a.script != b.script {
        // Different scripts: the transliterations must agree by themselves, never through a looser key, except
        // that Hangul romanises voiced and unvoiced stops alike (`김` is `gim`, written Kim): there the
        // consonant skeleton (which merges them) may agree instead.
        let hangul = a.script == Script::Hangul || b.script == Script::Hangul;
        // One consonant (`옥` og / Kyu, `하` ha / Ho) is too little to agree on.
        if hangul && a.skel == b.skel && a.skel.len() >= 2 && a.phon.len().abs_diff(b.phon.len()) <= 1 {
            s = s.max(p.skeleton_sim);
        }
        return if s >= p.cross_script_floor { s } else { 0.0 };
    }
    if a.skel == b.skel && edit >= p.skeleton_edit_floor && (a.skel.len() >= 3 || (a.skel.len() == 2 && edit >= 0.75)) {
        let (fa, fb) = (a.phon.as_bytes()[0], b.phon.as_bytes()[0]);
        let vowel = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u');
        if fa == fb || (vowel(fa) && vowel(fb)) {
            return s.max(p.skeleton_sim);
        }
    }
    // Spelling alone: as many edits as a typo makes, one in a short word and two in a long one.
    let edits = phon_edits.min(text_edits);
    let allowed = if a.text.len().max(b.text.len()) >= p.two_edit_length { 2 } else { 1 };
    if edits > allowed {
        return 0.0;
    }
    s
}

/// Edits between two words written in the same abjad (Arabic or Hebrew), each folded as its writers vary
/// it (hamza seats, final forms, marks); `None` for any other pair.
fn written_distance(a: &NameToken, b: &NameToken) -> Option<usize> {
    if a.script != b.script || !written_in_abjad(a) || !written_in_abjad(b) {
        return None;
    }
    let (x, y) = (fold_abjad(a.source.as_deref()?), fold_abjad(b.source.as_deref()?));
    // A word joined by punctuation became several tokens, each holding the whole word: not comparable.
    let one_word = |w: &[char]| !w.is_empty() && w.iter().all(|c| c.is_alphabetic());
    if !one_word(&x) || !one_word(&y) {
        return None;
    }
    Some(if x == y { 0 } else { osa_distance(&x, &y) })
}

/// One edit between written words of up to five letters, two in longer ones (an abjad letter stands for
/// about as much as two Latin ones).
fn written_edit_allowance(a: &NameToken, b: &NameToken) -> usize {
    let letters = |t: &NameToken| t.source.as_deref().map_or(0, |s| s.chars().count());
    if letters(a).max(letters(b)) >= 6 {
        2
    } else {
        1
    }
}

/// An Arabic or Hebrew word with the variation its writers allow folded away: vowel marks and tatweel
/// dropped, alef and hamza seats to their letter, teh marbuta to heh, alef maksura and Persian yeh to yeh,
/// Persian keheh to kaf, Hebrew final forms to their letter.
pub fn fold_abjad(word: &str) -> Vec<char> {
    word.chars()
        .filter(|c| !matches!(c, '\u{0591}'..='\u{05C7}' | '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}'))
        .map(|c| match c {
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ة' => 'ه',
            'ى' | 'ی' | 'ئ' => 'ي',
            'ؤ' => 'و',
            'ک' => 'ك',
            'ך' => 'כ',
            'ם' => 'מ',
            'ן' => 'נ',
            'ף' => 'פ',
            'ץ' => 'צ',
            c => c,
        })
        .collect()
}

/// One aligned pair (or a merged group of adjacent tokens on one side).
#[derive(Debug, Clone, PartialEq)]
pub struct AlignedPair {
    pub left: String,
    pub right: String,
    pub similarity: f64,
}

/// The result of comparing two names, with what aligned and what was left over.
#[derive(Debug, Clone, PartialEq)]
pub struct NameMatch {
    pub score: f64,
    /// Set when the names written together (`EP-VPI` / `EP-VIP`, `Abu Jamjl` / `Abu Jamal`) are one edit
    /// apart and that scores higher than the words: the similarity of the whole.
    pub whole: Option<f64>,
    pub pairs: Vec<AlignedPair>,
    pub unmatched_left: Vec<String>,
    pub unmatched_right: Vec<String>,
}

impl NameMatch {
    fn empty() -> NameMatch {
        NameMatch {
            score: 0.0,
            whole: None,
            pairs: Vec::new(),
            unmatched_left: Vec::new(),
            unmatched_right: Vec::new(),
        }
    }

    /// `vladimir=vladimir 1.00, putin~poutine 0.95; only right: vladimirovich`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (i, p) in self.pairs.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let sign = if p.similarity >= 0.999 { '=' } else { '~' };
            let _ = write!(s, "{}{}{} {:.2}", p.left, sign, p.right, p.similarity);
        }
        if !self.unmatched_left.is_empty() {
            let _ = write!(s, "; only query: {}", self.unmatched_left.join(" "));
        }
        if !self.unmatched_right.is_empty() {
            let _ = write!(s, "; only list: {}", self.unmatched_right.join(" "));
        }
        if let Some(w) = self.whole {
            let _ = write!(s, "; written together one edit apart {w:.2}");
        }
        s
    }
}

/// A span of adjacent tokens on one side: `start..start+len`.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    len: usize,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start..self.start + self.len
    }
}

fn span_text(tokens: &[NameToken], s: Span) -> String {
    tokens[s.range()].iter().map(NameToken::shown).collect::<Vec<_>>().concat()
}

fn span_weight(tokens: &[NameToken], s: Span) -> f64 {
    tokens[s.range()].iter().map(NameToken::weight).sum()
}

/// Similarity of a run of adjacent tokens against a single token (`SiemensAG` / `Siemens AG`).
fn merged_similarity(group: &[NameToken], single: &NameToken, p: &MatchParams) -> f64 {
    if group.iter().all(|t| t.abjad) && !single.abjad {
        // `عبد الله` / `Abdullah`: consonants only. (One vowel-less word is not several words run together.)
        let phon: String = group.iter().map(|t| t.phon.as_str()).collect();
        if super::normalize::skeleton(&phon) == single.skel && single.skel.len() >= 3 {
            return p.skeleton_sim;
        }
    }
    if single.abjad || group.iter().any(|t| t.abjad) {
        return 0.0;
    }
    let len: usize = group.iter().map(|t| t.text.len()).sum();
    let (lo, hi) = (len.min(single.text.len()) as f64, len.max(single.text.len()) as f64);
    if lo / hi < 0.75 {
        return 0.0;
    }
    // A joined word starts where the run starts.
    let (g, s) = (&group[0], single);
    if g.text.as_bytes()[0] != s.text.as_bytes()[0] && g.phon.as_bytes().first() != s.phon.as_bytes().first() {
        return 0.0;
    }
    let text: String = group.iter().map(|t| t.text.as_str()).collect();
    if text == single.text {
        return 1.0;
    }
    let phon: String = group.iter().map(|t| t.phon.as_str()).collect();
    edit_similarity(text.as_bytes(), single.text.as_bytes())
        .max(edit_similarity(phon.as_bytes(), single.phon.as_bytes()))
}

fn is_informative(t: &NameToken) -> bool {
    matches!(t.class, TokenClass::Word | TokenClass::Initial | TokenClass::Number)
}

/// Compare two prepared names. Symmetric up to tie-breaking.
pub fn compare(a: &PreparedName, b: &PreparedName) -> NameMatch {
    compare_with(a, b, &MatchParams::default())
}

/// Compare with explicit parameters.
pub fn compare_with(a: &PreparedName, b: &PreparedName, p: &MatchParams) -> NameMatch {
    let (ta, tb) = (&a.tokens, &b.tokens);
    if ta.is_empty() || tb.is_empty() {
        return NameMatch::empty();
    }
    // Candidate alignments above the floor: token against token, and a token against a run of 2-3 adjacent
    // tokens on the other side (joined or split words). Best first; on ties, the one covering more tokens,
    // then the one in the same relative position.
    let mut cands: Vec<(f64, Span, Span)> = Vec::with_capacity(ta.len() * tb.len() * 2);
    for (i, x) in ta.iter().enumerate() {
        for (j, y) in tb.iter().enumerate() {
            let s = token_similarity(x, y, p);
            if s >= p.pair_floor {
                cands.push((s, Span { start: i, len: 1 }, Span { start: j, len: 1 }));
            }
        }
    }
    let merge_floor = p.pair_floor.max(0.8);
    for (single_side, group_side, swapped) in [(ta, tb, false), (tb, ta, true)] {
        if group_side.len() < 2 {
            continue;
        }
        for (i, x) in single_side.iter().enumerate() {
            if (x.text.len() < 4 && !x.abjad) || x.syllable.is_some() {
                continue;
            }
            for len in 2..=3usize.min(group_side.len()) {
                for start in 0..=group_side.len() - len {
                    let s = merged_similarity(&group_side[start..start + len], x, p);
                    if s >= merge_floor {
                        let single = Span { start: i, len: 1 };
                        let group = Span { start, len };
                        cands.push(if swapped { (s, group, single) } else { (s, single, group) });
                    }
                }
            }
        }
    }
    cands.sort_by(|x, y| {
        y.0.total_cmp(&x.0).then_with(|| (y.1.len + y.2.len).cmp(&(x.1.len + x.2.len))).then_with(|| {
            let dx = (x.1.start as isize - x.2.start as isize).abs();
            let dy = (y.1.start as isize - y.2.start as isize).abs();
            dx.cmp(&dy)
        })
    });
    let mut used_a = vec![false; ta.len()];
    let mut used_b = vec![false; tb.len()];
    let mut aligned: Vec<(Span, Span, f64)> = Vec::new();
    for (s, sa, sb) in cands {
        if used_a[sa.range()].iter().any(|u| *u) || used_b[sb.range()].iter().any(|u| *u) {
            continue;
        }
        used_a[sa.range()].iter_mut().for_each(|u| *u = true);
        used_b[sb.range()].iter_mut().for_each(|u| *u = true);
        aligned.push((sa, sb, s));
    }

    let mut num = 0.0;
    let mut den = 0.0;
    // An initial stands for a word only as much as an initial weighs: the rest of the word is unexplained.
    let (mut unexplained_a, mut unexplained_b) = (0.0, 0.0);
    // Approximate pairs past the best one count less (`extra_approx_factor`): the best is found first.
    let best_approx = aligned
        .iter()
        .enumerate()
        .filter(|(_, &(sa, sb, s))| pair_kind(ta, tb, sa, sb, s, p) != PairKind::Strong)
        .max_by(|x, y| x.1 .2.total_cmp(&y.1 .2))
        .map(|(i, _)| i);
    // Words across scripts agreeing by a few consonants only: the first is what a transliteration brings,
    // each further one a chance agreement (`عاصم بدر`, `sm bdr`, is not `Zyma Petro`). A word whose letters
    // all stand in the other's in order (`ladn` in Laden) is spelled out there, not agreeing by chance.
    let by_chance = |sa: Span, sb: Span, s: f64| {
        pair_kind(ta, tb, sa, sb, s, p) == PairKind::Consonants
            && !letters_within(&ta[sa.start], &tb[sb.start])
            && !letters_within(&tb[sb.start], &ta[sa.start])
    };
    let first_consonants = aligned
        .iter()
        .enumerate()
        .filter(|(_, &(sa, sb, s))| by_chance(sa, sb, s))
        .max_by(|x, y| x.1 .2.total_cmp(&y.1 .2))
        .map(|(i, _)| i);
    // A spelling that agrees in sound only (`kapur` / `kapoor`) is an approximation too, if a milder one.
    let variant = aligned.iter().any(|&(_, _, s)| s >= p.phonetic_sim && s < 1.0);
    for (i, &(sa, sb, s)) in aligned.iter().enumerate() {
        let (mut wa, mut wb) = (span_weight(ta, sa), span_weight(tb, sb));
        let initial = |t: &[NameToken], sp: Span| sp.len == 1 && t[sp.start].class == TokenClass::Initial;
        if initial(ta, sa) && !initial(tb, sb) && wb > wa {
            unexplained_b += wb - wa;
            wb = wa;
        } else if initial(tb, sb) && !initial(ta, sa) && wa > wb {
            unexplained_a += wa - wb;
            wa = wb;
        }
        let w = wa + wb;
        let mut s_eff = if s >= 1.0 { 1.0 } else { s.powf(p.sim_exponent) };
        match pair_kind(ta, tb, sa, sb, s, p) {
            PairKind::Strong => {}
            kind => {
                let c = p.crowding;
                if kind == PairKind::Loose {
                    s_eff *= p.loose_factor * (1.0 - c) + p.crowded_loose_factor * c;
                }
                if kind == PairKind::Consonants {
                    s_eff *= (1.0 - c) + p.crowded_consonant_factor * c;
                }
                if kind == PairKind::ShortTypo {
                    s_eff *= (1.0 - c) + p.crowded_short_typo_factor * c;
                }
                // Across scripts every word is an approximation (its transliteration): not a second near-miss,
                // unless it agreed by a few consonants only, as the best one did too.
                let cross = ta[sa.start].script != tb[sb.start].script;
                if by_chance(sa, sb, s) && Some(i) != first_consonants {
                    s_eff *= p.extra_approx_factor;
                }
                if Some(i) != best_approx && !cross {
                    // Two typos are a transliteration (`Usama bin Ladin`) as often as another name, until the
                    // list is crowded.
                    let small = if kind == PairKind::Loose { p.extra_approx_factor } else { 1.0 };
                    s_eff *= small * (1.0 - c) + p.crowded_extra_approx_factor * c;
                } else if variant && !cross {
                    // A sound-alike spelling and a typo are two near-misses too (`Mark Hernandez` / `Marc
                    // Fernandez`), by a share of the same factor.
                    s_eff *= 1.0 - c * (1.0 - p.crowded_extra_approx_factor) * p.variant_near_miss_share;
                }
            }
        }
        num += s_eff * w;
        den += w;
    }
    let left = |t: &[NameToken], used: &[bool]| -> f64 {
        t.iter().zip(used).filter(|(_, u)| !**u).map(|(t, _)| t.weight()).sum()
    };
    let (ua, ub) = (left(ta, &used_a) + unexplained_a, left(tb, &used_b) + unexplained_b);
    let sub = ua.min(ub);
    let ext = ua.max(ub) - sub;
    // One matching word and more words only on one side is thin evidence (`Samir Belko Ruzan` / `SARIR`).
    let word_pairs = aligned
        .iter()
        .filter(|(sa, sb, _)| ta[sa.range()].iter().chain(&tb[sb.range()]).any(|t| t.class == TokenClass::Word))
        .count();
    // Organisation names add qualifiers freely (`Faberlic` / `FABERLIC EUROPE Sp. z o.o.`): not for two of them.
    let both_orgs = a.shape == NameShape::Organization && b.shape == NameShape::Organization;
    let mut ext_cost =
        if word_pairs <= 1 && !both_orgs { p.extension_cost * p.single_match_factor } else { p.extension_cost };
    if best_approx.is_some() {
        ext_cost *= 1.0 + p.crowding * (p.crowded_extension_factor - 1.0);
    } else if variant {
        ext_cost *= 1.0 + p.crowding * (p.crowded_extension_factor - 1.0) * p.variant_extension_share;
    }
    den += 2.0 * sub * p.substitution_cost + ext * ext_cost;
    // Different family names with other parts equal (siblings, clan or tribe swaps) are different people.
    if let (Some(fa), Some(fb)) = (a.family, b.family) {
        // Han and Hangul family names come first and are one or two syllables: the first syllables must meet
        // each other (`田中明美` is not `吉田明美`); elsewhere the family name's place varies with the order.
        let east_asian = ta[fa].syllable.is_some() && tb[fb].syllable.is_some();
        let met = aligned.iter().any(|(sa, sb, _)| sa.range().contains(&fa) && sb.range().contains(&fb));
        if east_asian && !met {
            // A syllable weighs little, and a shared given name is two of them.
            den += (ta[fa].weight() + tb[fb].weight()) * p.family_cost * 3.0;
        } else if !used_a[fa] && !used_b[fb] {
            den += (ta[fa].weight() + tb[fb].weight()) * p.family_cost;
        } else if (ta[fa].syllable.is_some() && !used_a[fa]) || (tb[fb].syllable.is_some() && !used_b[fb]) {
            // A Han or Hangul family name is the first syllable wherever the other name puts its own: left
            // unmatched, the given names met another person's (`김영환` / `HEIN, Aung`).
            den += (ta[fa].weight() + tb[fb].weight()) * p.family_cost;
        }
        if east_asian && met {
            // A family name of two syllables differs (`山田` / `山本`) when the second syllables on both sides
            // meet nothing and a given name follows on both.
            let (a2, b2) = (fa + 1, fb + 1);
            let syllable = |t: &[NameToken], i: usize| i + 1 < t.len() && t[i].syllable.is_some();
            if syllable(ta, a2) && syllable(tb, b2) && !used_a[a2] && !used_b[b2] {
                den += (ta[a2].weight() + tb[b2].weight()) * p.family_cost * p.second_family_syllable_factor;
            }
        }
    }
    let mut score = if den > 0.0 { num / den } else { 0.0 };
    // Only particles, legal forms or generic words matched while real name words exist: not a name match.
    let has_words = ta.iter().chain(tb.iter()).any(is_informative);
    let informative =
        aligned.iter().any(|(sa, sb, _)| ta[sa.range()].iter().chain(&tb[sb.range()]).any(is_informative));
    if has_words && !informative {
        score = score.min(0.3);
    }
    // `X bin Y` against `Y bin X`: a son and his father, not one person.
    if patronymic_inverted(ta, tb, &aligned) {
        score *= p.patronymic_factor;
    }
    // A typo can fall anywhere, also on a short word or across words (codes such as `EP-MOQ`): names one
    // edit apart as a whole are that close, whatever their words say.
    let whole = whole_similarity(ta, tb).filter(|w| *w > score);
    if let Some(w) = whole {
        score = w;
    }
    aligned.sort_by_key(|(sa, _, _)| sa.start);
    NameMatch {
        score: score.clamp(0.0, 1.0),
        whole,
        pairs: aligned
            .iter()
            .map(|&(sa, sb, s)| AlignedPair { left: span_text(ta, sa), right: span_text(tb, sb), similarity: s })
            .collect(),
        unmatched_left: ta.iter().zip(&used_a).filter(|(_, u)| !**u).map(|(t, _)| t.shown()).collect(),
        unmatched_right: tb.iter().zip(&used_b).filter(|(_, u)| !**u).map(|(t, _)| t.shown()).collect(),
    }
}

/// How an aligned pair agrees: equal or equal in sound (`Strong`), within a typo of each other (`Typo`, or
/// `ShortTypo` for words of a few letters), across scripts by a short consonant skeleton only (`Consonants`:
/// a vowel-less word whose transliteration does not agree with the other by itself), or only loosely
/// (`Loose`: equal consonants, more edits than a typo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PairKind {
    Strong,
    Typo,
    ShortTypo,
    Consonants,
    Loose,
}

fn pair_kind(ta: &[NameToken], tb: &[NameToken], sa: Span, sb: Span, s: f64, p: &MatchParams) -> PairKind {
    if s >= p.phonetic_sim {
        return PairKind::Strong;
    }
    if sa.len > 1 || sb.len > 1 {
        return PairKind::Typo;
    }
    let (a, b) = (&ta[sa.start], &tb[sb.start]);
    if a.class == TokenClass::Initial || b.class == TokenClass::Initial {
        return PairKind::Strong;
    }
    // Another script: the transliterations had to agree, and one such approximation is what a name in
    // another script brings; a vowel-less word may have agreed by a few consonants only.
    if a.script != b.script {
        let short = a.skel.len().min(b.skel.len()) < p.transliteration_skeleton_length;
        return if (a.abjad || b.abjad) && short && !spelled_alike(a, b, p) {
            PairKind::Consonants
        } else {
            PairKind::Typo
        };
    }
    // Two or fewer consonants agreeing say little (`ly` is Ali, Ela, Lee, ...), unless the other side is as
    // short written out.
    if a.abjad && b.abjad && a.skel.len().min(b.skel.len()) <= 2 {
        return PairKind::Loose;
    }
    // As written: folding spellings together (`baseer` and `baasit` are one edit apart as `basir`/`basit`)
    // would take different names for typos of each other. A word in another script is compared as written
    // there (one letter may transliterate to several).
    let written = match (&a.source, &b.source) {
        (Some(x), Some(y)) => one_edit_apart(x, y),
        _ => one_edit_apart(&a.text, &b.text),
    };
    if written && a.text.len().max(b.text.len()) <= p.short_typo_length {
        PairKind::ShortTypo
    } else if written {
        PairKind::Typo
    } else {
        PairKind::Loose
    }
}

/// True when the vowel-less romanisation `a` is `b` with letters left out (`ladn` in `laden`), reading `y` as
/// `i` and `w` or `v` as `u`, `o`, `v` or `w`, as those letters of an abjad stand for either.
fn letters_within(a: &NameToken, b: &NameToken) -> bool {
    if !a.abjad || b.abjad {
        return false;
    }
    let same = |x: u8, y: u8| {
        x == y || (x == b'y' && y == b'i') || (matches!(x, b'w' | b'v') && matches!(y, b'u' | b'o' | b'v' | b'w'))
    };
    let mut rest = b.text.bytes();
    a.text.bytes().all(|x| rest.any(|y| same(x, y)))
}

/// True when two tokens' spellings (as folded or as written) agree by themselves as closely as two scripts'
/// transliterations must.
fn spelled_alike(a: &NameToken, b: &NameToken, p: &MatchParams) -> bool {
    edit_similarity(a.phon.as_bytes(), b.phon.as_bytes()).max(edit_similarity(a.text.as_bytes(), b.text.as_bytes()))
        >= p.cross_script_floor
}

/// True when the strings are at most one edit apart (a substitution, insertion, deletion or transposition of
/// adjacent characters).
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let first = short.iter().zip(long.iter()).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        if first == short.len() {
            return true;
        }
        let rest = |from: usize| short[from..] == long[from..];
        rest(first + 1)
            || (first + 1 < short.len()
                && short[first] == long[first + 1]
                && short[first + 1] == long[first]
                && rest(first + 2))
    } else {
        short[first..] == long[first + 1..]
    }
}

/// The tokens written together, legal forms left out (`EP-MOQ` is `epmoq`): what a typo of the whole name is
/// measured on.
pub fn compact_text(tokens: &[NameToken]) -> String {
    tokens.iter().filter(|t| t.class != TokenClass::LegalForm).map(|t| t.text.as_str()).collect()
}

/// `1 − 1/length` when the names written together are one edit apart (at least four letters), 0.95 when they
/// are equal, else `None`.
fn whole_similarity(ta: &[NameToken], tb: &[NameToken]) -> Option<f64> {
    // Han and Hangul syllables romanise alike for different characters (`何` he, `胡` hu).
    if ta.iter().chain(tb).any(|t| t.syllable.is_some()) {
        return None;
    }
    let len = |t: &[NameToken]| t.iter().filter(|t| t.class != TokenClass::LegalForm).map(|t| t.text.len()).sum();
    let (la, lb): (usize, usize) = (len(ta), len(tb));
    if la.abs_diff(lb) > 1 || la.max(lb) < 4 {
        return None;
    }
    // A vowel-less romanisation drops letters, so one letter of it apart is no typo: names in one abjad are
    // measured as written, and against another script not at all.
    let distance = if ta.iter().chain(tb).any(written_in_abjad) {
        let (Some(a), Some(b)) = (compact_written(ta), compact_written(tb)) else { return None };
        osa_distance(&a, &b)
    } else {
        osa_distance(compact_text(ta).as_bytes(), compact_text(tb).as_bytes())
    };
    match distance {
        // The same letters split into other words (`Y-KATC` / `YK-ATC`).
        0 => Some(0.95),
        1 => Some(1.0 - 1.0 / la.max(lb) as f64),
        _ => None,
    }
}

/// Whether a token was romanised from a word written in Arabic or Hebrew (the word as written kept).
fn written_in_abjad(t: &NameToken) -> bool {
    matches!(t.script, Script::Arabic | Script::Hebrew) && t.source.is_some()
}

/// The words of a name written in one abjad, folded and written together (each word once, though it may
/// have given several tokens); `None` when any token was written otherwise.
fn compact_written(tokens: &[NameToken]) -> Option<Vec<char>> {
    let script = tokens.first()?.script;
    let mut out = Vec::new();
    let mut previous: Option<&str> = None;
    for t in tokens.iter().filter(|t| t.class != TokenClass::LegalForm) {
        let source = t.source.as_deref().filter(|_| t.script == script && written_in_abjad(t))?;
        if previous != Some(source) {
            out.extend(fold_abjad(source));
        }
        previous = Some(source);
    }
    Some(out)
}

/// True when the word before `bin` on one side is aligned with the word after `bin` on the other.
fn patronymic_inverted(ta: &[NameToken], tb: &[NameToken], aligned: &[(Span, Span, f64)]) -> bool {
    let pos = |t: &[NameToken]| t.iter().position(|x| x.class == TokenClass::Particle && x.text == "bin");
    let (Some(ba), Some(bb)) = (pos(ta), pos(tb)) else { return false };
    if ba == 0 || bb == 0 {
        return false;
    }
    let maps =
        |i: usize, j: usize| aligned.iter().any(|(sa, sb, _)| sa.range().contains(&i) && sb.range().contains(&j));
    (maps(ba - 1, bb + 1) && maps(ba + 1, bb - 1)) && !maps(ba - 1, bb - 1)
}

/// Score two names in 0..=1. `entity_type` guides normalisation (honorifics for people, legal forms for
/// organisations); `None` infers it from the names.
pub fn score_names(a: &str, b: &str, entity_type: Option<EntityType>) -> f64 {
    score_names_with(a, b, entity_type, &MatchParams::default())
}

/// `score_names` with explicit parameters.
pub fn score_names_with(a: &str, b: &str, entity_type: Option<EntityType>, p: &MatchParams) -> f64 {
    let pa = prepare(a, entity_type);
    let pb = prepare(
        b,
        entity_type.or(match pa.shape {
            NameShape::Organization => Some(EntityType::Organization),
            _ => None,
        }),
    );
    compare_with(&pa, &pb, p).score
}

// ---------------------------------------------------------------------------------------------------------
// OFAC Sanctions List Search emulation.

/// An OFAC-style score and the two techniques it is the maximum of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OfacScore {
    pub score: f64,
    pub whole_string: f64,
    pub per_token: f64,
}

fn ofac_tokens(name: &str) -> Vec<String> {
    // Other punctuation (apostrophes, commas, periods, `&`, `/`) is deleted; dashes, brackets, symbols and
    // spaces separate.
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() {
            cur.extend(c.to_uppercase());
        } else if (c.is_whitespace()
            || matches!(
                c,
                '-' | '(' | ')' | '[' | ']' | '{' | '}' | '+' | '<' | '=' | '>' | '|' | '~' | '$' | '^' | '\u{2010}'
                    ..='\u{2015}'
            ))
            && !cur.is_empty()
        {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn jaro_chars(a: &str, b: &str) -> f64 {
    if a.is_ascii() && b.is_ascii() {
        return jaro(a.as_bytes(), b.as_bytes());
    }
    // Map characters to small codes so the byte implementation applies.
    let mut codes: Vec<char> = Vec::new();
    let mut enc = |s: &str| -> Vec<u8> {
        s.chars()
            .map(|c| {
                let p = codes.iter().position(|x| *x == c).unwrap_or_else(|| {
                    codes.push(c);
                    codes.len() - 1
                });
                (p % 256) as u8
            })
            .collect()
    };
    let (x, y) = (enc(a), enc(b));
    jaro(&x, &y)
}

/// Emulate the score OFAC's Sanctions List Search shows (0..1): the maximum of a whole-string Jaro-Winkler
/// (gated on equal first letters, prefix bonus always applied) and the mean over query tokens longer than two
/// letters of their best per-token Jaro-Winkler (pairs under 0.5 count as 0).
pub fn ofac_name_score(query: &str, candidate: &str) -> OfacScore {
    let qt = ofac_tokens(query);
    let ct = ofac_tokens(candidate);
    let qs = qt.join(" ");
    let cs = ct.join(" ");
    let whole = if qs.is_empty() || cs.is_empty() || qs.chars().next() != cs.chars().next() {
        0.0
    } else {
        let j = jaro_chars(&qs, &cs);
        if j == 0.0 {
            0.0
        } else {
            let l = qs.chars().zip(cs.chars()).take(4).take_while(|(x, y)| x == y).count() as f64;
            j + l * 0.1 * (1.0 - j)
        }
    };
    let kept: Vec<&String> = qt.iter().filter(|t| t.chars().count() > 2).collect();
    let kept: Vec<&String> = if kept.is_empty() { qt.iter().collect() } else { kept };
    let per_token = if kept.is_empty() || ct.is_empty() {
        0.0
    } else {
        let sum: f64 = kept
            .iter()
            .map(|q| {
                let best = ct
                    .iter()
                    .map(|c| {
                        let j = jaro_chars(q, c);
                        if j > 0.7 {
                            let l = q.chars().zip(c.chars()).take(4).take_while(|(x, y)| x == y).count() as f64;
                            j + l * 0.1 * (1.0 - j)
                        } else {
                            j
                        }
                    })
                    .fold(0.0, f64::max);
                if best >= 0.5 {
                    best
                } else {
                    0.0
                }
            })
            .sum();
        sum / kept.len() as f64
    };
    OfacScore { score: whole.max(per_token), whole_string: whole, per_token }
}

// ---------------------------------------------------------------------------------------------------------
// Other features.

/// Date-of-birth agreement in 0..=1: 1 for the same date at the precision both have, 0.9 for a listed
/// range or approximate date containing the query, 0.5 for a year one off, 0 otherwise. `None` when either
/// side has no date.
pub fn dob_score(query: &PartialDate, listed: &[BirthDate]) -> Option<f64> {
    if listed.is_empty() {
        return None;
    }
    let mut best: f64 = 0.0;
    for b in listed {
        let s = if let Some(until) = b.until {
            if query.year >= b.date.year && query.year <= until.year {
                0.9
            } else if query.year + 1 == b.date.year || query.year == until.year + 1 {
                0.4
            } else {
                0.0
            }
        } else {
            let d = b.date;
            if d.year == query.year {
                let month_ok = match (d.month, query.month) {
                    (Some(x), Some(y)) => x == y,
                    _ => true,
                };
                let day_ok = match (d.day, query.day) {
                    (Some(x), Some(y)) => x == y,
                    _ => true,
                };
                if month_ok && day_ok {
                    if b.approximate {
                        0.9
                    } else {
                        1.0
                    }
                } else if month_ok || day_ok {
                    // Day and month swapped or one typo.
                    0.6
                } else {
                    0.3
                }
            } else if (d.year - query.year).abs() == 1 {
                if b.approximate {
                    0.8
                } else {
                    0.4
                }
            } else if b.approximate && (d.year - query.year).abs() <= 3 {
                0.5
            } else {
                0.0
            }
        };
        best = best.max(s);
    }
    Some(best)
}

/// 1 when the query country (code or name) is among the entry's countries, 0 when it is not, `None` when the
/// entry lists none.
pub fn country_score(query: &str, listed: &[String]) -> Option<f64> {
    if listed.is_empty() {
        return None;
    }
    let q = super::countries::country_code(query).map(str::to_string).unwrap_or_else(|| query.trim().to_string());
    Some(if listed.iter().any(|c| c.eq_ignore_ascii_case(&q)) { 1.0 } else { 0.0 })
}

/// 1 when any query identifier equals a listed one (letters and digits compared, case-insensitive), 0 when
/// none does, `None` when either side has none.
pub fn identifier_score(query: &[String], listed: &[super::model::Identifier]) -> Option<f64> {
    if query.is_empty() || listed.is_empty() {
        return None;
    }
    let listed: Vec<String> = listed.iter().map(|i| i.normalized_value()).collect();
    let hit = query.iter().map(|q| normalize_identifier(q)).any(|q| q.len() >= 4 && listed.contains(&q));
    Some(if hit { 1.0 } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaro_winkler_reference_values() {
        assert!((jaro(b"martha", b"marhta") - 0.9444).abs() < 1e-3);
        assert!((jaro_winkler(b"martha", b"marhta") - 0.9611).abs() < 1e-3);
        assert!((jaro_winkler(b"dixon", b"dicksonx") - 0.8133).abs() < 1e-3);
        assert_eq!(osa_distance(b"ca", b"ac"), 1);
        assert_eq!(osa_distance(b"kitten", b"sitting"), 3);
    }

    #[test]
    fn order_honorifics_and_transliteration_do_not_matter() {
        let p = Some(EntityType::Person);
        assert!(score_names("PUTIN, Vladimir", "Vladimir Putin", p) > 0.99);
        assert!(score_names("Mr. Rami Makhlouf", "Rami Makhlouf", p) > 0.99);
        assert!(score_names("Владимир Путин", "Vladimir Putin", p) > 0.9);
        // Written in another script, at the screening threshold: vowel-less `ly` says less than `Ali`.
        assert!(score_names("محمد علي", "Mohamed Ali", p) >= 0.6);
        assert!(score_names("Andrei Navalny", "Alexei Navalny", p) < 0.7);
    }

    #[test]
    fn one_edit_and_whole_name_typos() {
        assert!(one_edit_apart("poirier", "pxirier") && one_edit_apart("rachid", "racihd"));
        assert!(one_edit_apart("орехова", "ореова") && one_edit_apart("abc", "abc"));
        assert!(!one_edit_apart("baseer", "baasit") && !one_edit_apart("ab", "ba c"));
        // A typo in a short code or across words still finds it.
        assert!(score_names("EP-VPI", "EP-VIP", None) >= 0.75);
        assert!(score_names("Abu Jamjl", "Abu Jamal", None) >= 0.8);
        assert!(score_names("何靜怡", "胡靜怡", None) < 0.6);
    }

    #[test]
    fn approximations_prove_less_in_a_crowded_list() {
        assert_eq!(crowding(10_000), 0.0);
        assert!(crowding(21_000) > 0.1 && crowding(21_000) < 0.2);
        assert!((crowding(1_000_000) - 1.0).abs() < 1e-9);
        let p = Some(EntityType::Person);
        let crowded = MatchParams { crowding: 1.0, ..MatchParams::default() };
        let at = |a: &str, b: &str, params: &MatchParams| score_names_with(a, b, p, params);
        // A common given name and a family name three edits away: a match alone, not among a million names.
        assert!(at("Maheen Baseer", "Maheen Baasit", &MatchParams::default()) > 0.6);
        assert!(at("Maheen Baseer", "Maheen Baasit", &crowded) < 0.6);
        // A typo and a word only one side has, together.
        assert!(at("Habibu Kabir", "Habibu Kabiru Ali", &crowded) < 0.6);
        // A typo alone and a missing middle name alone still match.
        assert!(at("Maheen Baasxt", "Maheen Baasit", &crowded) >= 0.6);
        assert!(at("Habibu Kabiru", "Habibu Musa Kabiru", &crowded) >= 0.6);
    }

    #[test]
    fn chance_agreements_prove_little_in_a_crowded_list() {
        let p = Some(EntityType::Person);
        let crowded = MatchParams { crowding: 1.0, ..MatchParams::default() };
        let alone = MatchParams::default();
        let at = |a: &str, b: &str, params: &MatchParams| score_names_with(a, b, p, params);
        // Vowel-less words meeting written-out ones by two or three consonants (`mqdd` / Makuta, `sydwy` /
        // Usada): among a million names, many of other origins do.
        let (x, y) = ("Makuta Usada", "مقداد صيداوي");
        assert!(at(x, y, &crowded) < 0.6 && at(x, y, &crowded) < at(x, y, &alone), "{}", at(x, y, &crowded));
        // Four consonants or more agree as a transliteration does, crowded or not.
        assert!(at("Mohammed Belkhiri", "محمد بلخير", &crowded) >= 0.6);
        // A typo in a word of four letters or fewer: short words have many neighbours one edit away.
        let (x, y) = ("Julia da Rosa", "Júlia Ros");
        assert!(at(x, y, &crowded) < 0.6 && at(x, y, &alone) >= 0.6, "{} {}", at(x, y, &crowded), at(x, y, &alone));
        // A sound-alike spelling together with a word only one side has.
        let (x, y) = ("Jeevika Adweta Kapur", "Adweta Kapoor");
        assert!(at(x, y, &crowded) < 0.6 && at(x, y, &alone) >= 0.6, "{} {}", at(x, y, &crowded), at(x, y, &alone));
        assert!(at("Adweta Kapur", "Adweta Kapoor", &crowded) >= 0.6);
        // A sound-alike spelling and a typo: two near-misses.
        let (x, y) = ("Mark Hernandez", "Marc Fernandez");
        assert!(at(x, y, &crowded) < 0.6 && at(x, y, &alone) >= 0.6, "{} {}", at(x, y, &crowded), at(x, y, &alone));
    }

    #[test]
    fn words_in_one_abjad_compare_as_written() {
        let p = Some(EntityType::Person);
        // `أسد` and `سعد` both transliterate as `sd`; written, they are two letters apart.
        let (x, y) = ("خليفة بنو أسد", "سعد بنو حنيفة");
        assert!(score_names(x, y, p) < 0.5, "{}", score_names(x, y, p));
        assert!(score_names("أسد", "سعد", p) < 0.5);
        // What writers vary (hamza seats, teh marbuta, final forms) is the same word; a letter apart is a typo.
        assert!(score_names("أسامة بن لادن", "اسامه بن لادن", p) > 0.99);
        assert!(score_names("משה כהן", "משה כהנ", p) > 0.99);
        let typo = score_names("عبد الرحمن الزهراني", "عبد الرحمن الزهرني", p);
        assert!((0.6..0.99).contains(&typo), "{typo}");
        // Written together, the names are measured as written too (`mz lshrf` and `mr lshrf` are one letter
        // apart; `معز الأشراف` and `عمر الشرفاء` are not).
        assert!(score_names("معزّ الأشراف", "عمر الشرفاء", p) < 0.5, "{}", score_names("معزّ الأشراف", "عمر الشرفاء", p));
        assert!(score_names("عبدالرحمن", "عبد الرحمن", p) > 0.9, "{}", score_names("عبدالرحمن", "عبد الرحمن", p));
        // Across scripts the transliterations still meet.
        assert!(score_names("أسامة بن لادن", "Usama bin Laden", p) >= 0.6);
    }

    #[test]
    fn consonant_agreements_across_scripts_add_up_to_little() {
        let p = Some(EntityType::Person);
        // Two vowel-less words each meeting a Latin one by two or three consonants: two chance agreements.
        assert!(score_names("عاصم بدر", "ZYMA, Petro", p) < 0.6, "{}", score_names("عاصم بدر", "ZYMA, Petro", p));
        assert!(score_names("רהא זמני", "REVIVO, Simon", p) < 0.6);
        // One such word beside a transliteration that agrees by itself is still a match.
        assert!(score_names("מוחמד שלמה", "SALEM, Mohamed", p) >= 0.6);
    }

    #[test]
    fn a_hangul_family_name_left_unmatched_is_another_person() {
        let p = Some(EntityType::Person);
        // `김영환` is Kim Yeong-hwan: his given names meeting `HEIN, Aung` leave his family name out.
        assert!(score_names("김영환", "HEIN, Aung", p) < 0.6, "{}", score_names("김영환", "HEIN, Aung", p));
        assert!(score_names("김영환", "KIM, Yong Hwan", p) >= 0.6, "{}", score_names("김영환", "KIM, Yong Hwan", p));
    }

    #[test]
    fn two_syllable_family_names_must_meet() {
        // `山田` and `山本` share a first syllable, not a family name.
        let (x, y) = ("山田知実", "山本知実");
        assert!(score_names(x, y, None) < 0.6, "{}", score_names(x, y, None));
        assert!(score_names("山田知実", "山田知実", None) > 0.99);
    }

    #[test]
    fn company_suffixes() {
        assert!(score_names("Siemens AG", "Siemens Aktiengesellschaft", None) > 0.95);
        assert!(score_names("SiemensAG", "Siemens AG", None) > 0.8);
        assert!(score_names("Volkswagen AG", "Siemens AG", None) < 0.5);
    }

    #[test]
    fn ofac_unit_cases() {
        let s = |a, b| ofac_name_score(a, b);
        assert!((s("VLADIMIR PUTIN", "PUTIN, Vladimir").score - 1.0).abs() < 1e-9);
        assert!((s("GEORGE BUSH", "HASWANI, George").score - 0.5).abs() < 1e-9);
        assert!(s("GEORGE BUSH", "GEORGIOU, Georgios").score >= 0.8);
        assert!(s("BUSH GEORGE", "GEORGIOU, Georgios").score < 0.8);
        assert!((s("KIM JONG UN", "KIM, Jong Man").score - 1.0).abs() < 1e-9);
        assert!((s("Z", "ZOLLNER").score - 0.74).abs() < 0.01);
    }

    #[test]
    fn features() {
        let dob = [BirthDate::exact(PartialDate { year: 1952, month: Some(10), day: Some(7) })];
        assert_eq!(dob_score(&PartialDate { year: 1952, month: Some(10), day: Some(7) }, &dob), Some(1.0));
        assert_eq!(dob_score(&PartialDate::year(1952), &dob), Some(1.0));
        assert_eq!(dob_score(&PartialDate::year(1970), &dob), Some(0.0));
        assert_eq!(country_score("Russia", &["RU".to_string()]), Some(1.0));
        assert_eq!(country_score("FR", &["RU".to_string()]), Some(0.0));
    }
}
