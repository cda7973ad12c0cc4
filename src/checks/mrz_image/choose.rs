//! Choosing the MRZ text among the engine's own per-character alternatives: check digits (the composite
//! included) decide between alternatives in the fields they cover; the fields no digit covers (names, codes,
//! visa optional data) must be unambiguous or be filler runs the engine offered `<` for. Pure; must never
//! produce a character the engine did not offer.

use super::pitch::CONFUSABLE;
use super::Symbol;
use crate::checks::mrz::{parse_lines, CheckName, MrzFormat, MrzReport, ParseOptions};

/// The most combinations tried for one check-digit group, and for the whole zone.
const MAX_COMBINATIONS: usize = 4096;

/// How a recogniser's alternatives are weighed: its confidences are on its own scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// In a field no check digit covers, an alternative this close to the top choice (as a fraction of its
    /// confidence) is an ambiguity and refuses the read.
    pub ambiguous_ratio: f32,
    /// Alternatives weaker than this are not considered.
    pub min_alternative: f32,
    /// Two valid readings closer than this in summed confidence are a tie: nothing is accepted.
    pub tie_margin: f32,
    /// Whether a letter inside a trailing filler run may become the `<` the recogniser offered beside it
    /// (Tesseract's LSTM reads `<` as K, X or E; a template matcher has no such confusion).
    pub filler_run: bool,
    /// In a field no check digit covers, a top choice at least this confident that leads every alternative
    /// by at least `clear_lead` is taken as read (the alternative is no ambiguity). Infinite: never.
    pub clear_min: f32,
    pub clear_lead: f32,
    /// A well-formed issuing state or nationality that is no known code (specimens print such codes) is
    /// reported as read when its every character is at least this confident; otherwise it refuses the read
    /// as a likely misreading. Infinite: never.
    pub unknown_state_min: f32,
    /// In a field no check digit covers, a strong top choice (`clear_min`) leading its look-alike by at
    /// least this much is read, if the photo's confirmed cells vouch for it: at least
    /// `look_alike_confirmations` cells the check digits confirm as the look-alike, each ranking it first
    /// by `look_alike_confirmed_lead`. Infinite: never.
    pub look_alike_lead: f32,
    pub look_alike_confirmed_lead: f32,
    pub look_alike_confirmations: usize,
}

impl Policy {
    /// For Tesseract's confidences (0-100).
    pub const TESSERACT: Policy = Policy {
        ambiguous_ratio: 0.5,
        min_alternative: 0.5,
        tie_margin: 20.0,
        filler_run: true,
        clear_min: f32::INFINITY,
        clear_lead: f32::INFINITY,
        unknown_state_min: f32::INFINITY,
        look_alike_lead: f32::INFINITY,
        look_alike_confirmed_lead: f32::INFINITY,
        look_alike_confirmations: usize::MAX,
    };
    /// For the template recogniser (correlation x100): it offers only alternatives close to the best (and
    /// look-alikes), so an offered alternative in an uncovered field is an ambiguity unless the top choice
    /// is strong (0.85) and leads it by 0.045 and the two are no look-alikes (measured on the tune split:
    /// a 0 read as O by 0.10 on a hard photo, so look-alikes never; a wrong top choice that is no
    /// look-alike led the true character by at most 0.034, while an O led Q by 0.048 on moderate photos);
    /// a second valid reading must trail by a clear margin of summed correlation.
    pub const TEMPLATES: Policy = Policy {
        ambiguous_ratio: 0.0,
        min_alternative: 0.0,
        tie_margin: 10.0,
        filler_run: false,
        clear_min: 85.0,
        clear_lead: 4.5,
        unknown_state_min: 80.0,
        look_alike_lead: 7.0,
        look_alike_confirmed_lead: 5.0,
        look_alike_confirmations: 2,
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Letters and `<` (codes, states, names).
    Alpha,
    /// Digits only (dates).
    Digit,
    /// A check digit: digits, or `<` where the layout allows an empty field or an extended number.
    Check,
    /// `M`, `F`, `<`, `X`.
    Sex,
    /// Letters, digits and `<` (document numbers, optional data).
    Alnum,
}

impl Kind {
    fn allows(self, c: u8) -> bool {
        match self {
            Kind::Alpha => c.is_ascii_uppercase() || c == b'<',
            Kind::Digit => c.is_ascii_digit(),
            Kind::Check => c.is_ascii_digit() || c == b'<',
            Kind::Sex => matches!(c, b'M' | b'F' | b'<' | b'X'),
            Kind::Alnum => c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'<',
        }
    }
}

/// A field: its name (for confidences), line, columns, kind, and whether a check digit covers it.
#[derive(Clone, Copy, Debug)]
struct Field {
    name: &'static str,
    line: usize,
    from: usize,
    to: usize,
    kind: Kind,
    covered: bool,
}

const fn f(name: &'static str, line: usize, from: usize, to: usize, kind: Kind, covered: bool) -> Field {
    Field { name, line, from, to, kind, covered }
}

fn layout(format: MrzFormat) -> Vec<Field> {
    use Kind::*;
    let line2 = |opt_covered: bool, opt_end: usize| {
        vec![
            f("document_number", 1, 0, 9, Alnum, true),
            f("document_number_check", 1, 9, 10, Check, true),
            f("nationality", 1, 10, 13, Alpha, false),
            f("date_of_birth", 1, 13, 19, Digit, true),
            f("date_of_birth_check", 1, 19, 20, Check, true),
            f("sex", 1, 20, 21, Sex, false),
            f("date_of_expiry", 1, 21, 27, Digit, true),
            f("date_of_expiry_check", 1, 27, 28, Check, true),
            f("optional_data_1", 1, 28, opt_end, Alnum, opt_covered),
        ]
    };
    let head = |name_to: usize| {
        vec![
            f("document_code", 0, 0, 2, Alpha, false),
            f("issuing_state", 0, 2, 5, Alpha, false),
            f("name", 0, 5, name_to, Alpha, false),
        ]
    };
    match format {
        MrzFormat::Td3 => {
            let mut v = head(44);
            v.extend(line2(true, 42));
            v.push(f("optional_data_check", 1, 42, 43, Check, true));
            v.push(f("composite_check", 1, 43, 44, Check, true));
            v
        }
        MrzFormat::MrvA => {
            let mut v = head(44);
            v.extend(line2(false, 44));
            v
        }
        MrzFormat::Td2 => {
            let mut v = head(36);
            v.extend(line2(true, 35));
            v.push(f("composite_check", 1, 35, 36, Check, true));
            v
        }
        MrzFormat::MrvB => {
            let mut v = head(36);
            v.extend(line2(false, 36));
            v
        }
        MrzFormat::Td1 => vec![
            f("document_code", 0, 0, 2, Alpha, false),
            f("issuing_state", 0, 2, 5, Alpha, false),
            f("document_number", 0, 5, 14, Alnum, true),
            f("document_number_check", 0, 14, 15, Check, true),
            f("optional_data_1", 0, 15, 30, Alnum, true),
            f("date_of_birth", 1, 0, 6, Digit, true),
            f("date_of_birth_check", 1, 6, 7, Check, true),
            f("sex", 1, 7, 8, Sex, false),
            f("date_of_expiry", 1, 8, 14, Digit, true),
            f("date_of_expiry_check", 1, 14, 15, Check, true),
            f("nationality", 1, 15, 18, Alpha, false),
            f("optional_data_2", 1, 18, 29, Alnum, true),
            f("composite_check", 1, 29, 30, Check, true),
            f("name", 2, 0, 30, Alpha, false),
        ],
    }
}

/// The format a shape of lines can be (the first character tells visas from the rest).
pub fn format_of(lengths: &[usize], first_char: u8) -> Option<MrzFormat> {
    let visa = first_char == b'V';
    match lengths {
        [30, 30, 30] => Some(MrzFormat::Td1),
        [36, 36] if visa => Some(MrzFormat::MrvB),
        [36, 36] => Some(MrzFormat::Td2),
        [44, 44] if visa => Some(MrzFormat::MrvA),
        [44, 44] => Some(MrzFormat::Td3),
        _ => None,
    }
}

/// The accepted text and, per field, the lowest confidence of its chosen characters.
#[derive(Clone, Debug, PartialEq)]
pub struct Chosen {
    pub lines: Vec<String>,
    pub report: MrzReport,
    pub field_confidence: Vec<(&'static str, f32)>,
    /// Positions where an alternative rather than the engine's top choice was taken.
    pub alternatives_used: usize,
}

/// Why a set of recognised lines was not accepted.
pub type Rejection = String;

type Cands = Vec<Vec<Vec<(u8, f32)>>>;

/// Picks the MRZ among Tesseract's alternatives, or says why none can be accepted.
pub fn choose(lines: &[Vec<Symbol>], options: &ParseOptions) -> Result<Chosen, Rejection> {
    choose_with(lines, options, &Policy::TESSERACT)
}

/// Picks the MRZ among a recogniser's alternatives, weighed by `policy`, or says why none can be accepted.
pub fn choose_with(lines: &[Vec<Symbol>], options: &ParseOptions, policy: &Policy) -> Result<Chosen, Rejection> {
    let lengths: Vec<usize> = lines.iter().map(Vec::len).collect();
    let first = lines.first().and_then(|l| l.first()).map_or(b'?', |s| s.choices[0].0 as u8);
    let format = format_of(&lengths, first).ok_or_else(|| format!("lines of lengths {lengths:?} are no MRZ shape"))?;
    let fields = layout(format);
    let options = ParseOptions { ocr_correction: false, ..*options };

    // Candidates per position: the engine's choices the position's kind allows, best first (the top choice
    // stays first when allowed).
    let mut cands: Cands = lines
        .iter()
        .map(|l| {
            l.iter()
                .map(|s| {
                    s.choices
                        .iter()
                        .enumerate()
                        .filter(|(i, (c, conf))| c.is_ascii() && (*i == 0 || *conf >= policy.min_alternative))
                        .map(|(_, (c, conf))| (*c as u8, *conf))
                        .collect()
                })
                .collect()
        })
        .collect();
    for fd in &fields {
        for (i, cell) in cands[fd.line].iter_mut().enumerate().take(fd.to).skip(fd.from) {
            cell.retain(|(c, _)| fd.kind.allows(*c));
            if cell.is_empty() {
                // None of the choices fits the position: the recogniser's best of the other class, if it
                // offered one (never a character it did not rank).
                cell.extend(
                    lines[fd.line][i]
                        .fallback
                        .iter()
                        .filter(|(c, conf)| c.is_ascii() && fd.kind.allows(*c as u8) && *conf >= policy.min_alternative)
                        .map(|(c, conf)| (*c as u8, *conf)),
                );
            }
            if cell.is_empty() {
                return Err(format!("{}: no character the engine offered fits", fd.name));
            }
        }
    }

    // Fields no check digit covers.
    let mut pending = Vec::new();
    for fd in fields.iter().filter(|fd| !fd.covered) {
        resolve_uncovered(&mut cands[fd.line][fd.from..fd.to], fd, policy, &mut pending)?;
    }

    // Fields check digits cover: every combination of the offered alternatives (within a bound), keeping
    // those where every check digit holds.
    let ambiguous: Vec<(usize, usize)> = cands
        .iter()
        .enumerate()
        .flat_map(|(l, row)| row.iter().enumerate().filter(|(_, c)| c.len() > 1).map(move |(i, _)| (l, i)))
        .collect();
    let mut total: usize = 1;
    for &(l, i) in &ambiguous {
        total = total.saturating_mul(cands[l][i].len());
    }
    if total > MAX_COMBINATIONS {
        // Keep only the two strongest alternatives where that brings the search within bounds.
        for &(l, i) in &ambiguous {
            cands[l][i].truncate(2);
        }
        total = ambiguous.iter().map(|&(l, i)| cands[l][i].len()).product();
        if total > MAX_COMBINATIONS {
            return Err("too many ambiguous characters".into());
        }
    }
    let mut pick = vec![0usize; ambiguous.len()];
    let mut valid: Vec<(f32, Vec<String>, usize)> = Vec::new();
    loop {
        let mut text: Vec<Vec<u8>> = cands.iter().map(|row| row.iter().map(|c| c[0].0).collect()).collect();
        let mut score = 0.0;
        let mut alts = 0;
        for (k, &(l, i)) in ambiguous.iter().enumerate() {
            let (c, conf) = cands[l][i][pick[k]];
            text[l][i] = c;
            score += conf;
            alts += usize::from(pick[k] > 0);
        }
        let strings: Vec<String> = text.into_iter().map(|b| String::from_utf8_lossy(&b).into_owned()).collect();
        if let Ok(r) = parse_lines(&strings, &options) {
            if r.check_digits_valid() {
                valid.push((score, strings, alts));
            }
        }
        // next combination
        let mut k = 0;
        while k < pick.len() {
            pick[k] += 1;
            let (l, i) = ambiguous[k];
            if pick[k] < cands[l][i].len() {
                break;
            }
            pick[k] = 0;
            k += 1;
        }
        if k == pick.len() {
            break;
        }
    }
    valid.sort_by(|a, b| b.0.total_cmp(&a.0));
    let Some((best_score, best, alts)) = valid.first().cloned() else {
        return Err("no combination of the offered characters satisfies every check digit".into());
    };
    if let Some((second, other, _)) = valid.get(1) {
        if *other != best && best_score - second < policy.tie_margin {
            return Err("two readings satisfy every check digit".into());
        }
    }
    confirm_look_alikes(&pending, &fields, lines, &best, policy)?;
    let report = parse_lines(&best, &options).map_err(|e| e.to_string())?;
    let field_confidence: Vec<(&'static str, f32)> = fields
        .iter()
        .map(|fd| {
            let bytes = best[fd.line].as_bytes();
            let conf = (fd.from..fd.to)
                .map(|i| {
                    let s = &lines[fd.line][i];
                    s.choices.iter().find(|(c, _)| *c as u32 == u32::from(bytes[i])).map_or(0.0, |x| x.1)
                })
                .fold(100.0f32, f32::min);
            (fd.name, conf)
        })
        .collect();
    plausible(&report, &field_confidence, policy)?;
    Ok(Chosen { lines: best, report, field_confidence, alternatives_used: alts })
}

/// The checks besides the check digits a read must pass: codes, states, name shape, sex and real dates.
fn plausible(report: &MrzReport, confidence: &[(&'static str, f32)], policy: &Policy) -> Result<(), Rejection> {
    // A clearly read code of one to three letters that names no known state is reported as printed (the
    // document check's own state check then fails); a doubtful one is more likely a misreading.
    let clear_unknown_code = |code: &str, field: &str| {
        (1..=3).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_uppercase())
            && confidence.iter().any(|(f, c)| *f == field && *c >= policy.unknown_state_min)
    };
    for name in [
        CheckName::DocumentCode,
        CheckName::IssuingState,
        CheckName::Nationality,
        CheckName::Name,
        CheckName::Sex,
        CheckName::DateOfBirth,
        CheckName::DateOfExpiry,
    ] {
        if let Some(c) = report.check(name) {
            let unknown_code = match name {
                CheckName::IssuingState => clear_unknown_code(&report.data.issuing_state, "issuing_state"),
                CheckName::Nationality => clear_unknown_code(&report.data.nationality, "nationality"),
                _ => false,
            };
            if !c.passed && !unknown_code {
                return Err(format!("{name:?} check failed"));
            }
        }
    }
    Ok(())
}

/// Whether two characters are OCR-B look-alikes.
fn look_alike(x: u8, y: u8) -> bool {
    CONFUSABLE.iter().any(|&(a, b)| (a as u8 == x && b as u8 == y) || (b as u8 == x && a as u8 == y))
}

/// A cell of a field no check digit covers read as `read` by a clear lead over its look-alike `partner`:
/// accepted only if the photo reads a true `partner` as itself (`confirm_look_alikes`).
struct PendingLookAlike {
    field: &'static str,
    read: u8,
    partner: u8,
}

/// A look-alike settled by its lead alone is trusted only when the same photo's cells confirmed as its
/// partner (by a check digit, or by a field that cannot hold the look-alike: at least
/// `look_alike_confirmations` of them) each ranked the partner first by at least
/// `look_alike_confirmed_lead` (a partner whose look-alike was not offered at all leads by more than the
/// offering margin): a photo whose blur or perspective turns zeros into Os shows it on its dates, and one
/// that turns Os into zeros on its names.
fn confirm_look_alikes(
    pending: &[PendingLookAlike],
    fields: &[Field],
    lines: &[Vec<Symbol>],
    chosen: &[String],
    policy: &Policy,
) -> Result<(), Rejection> {
    for p in pending {
        let mut confirmations = 0;
        // Confirmed: a check digit holds over the cell, or its field's kind rules out the pending reading
        // (a date's 0 cannot be an O, a name's O cannot be a 0).
        for fd in fields.iter().filter(|fd| fd.covered || !fd.kind.allows(p.read)) {
            let row = chosen[fd.line].as_bytes();
            for (i, symbol) in lines[fd.line].iter().enumerate().take(fd.to).skip(fd.from) {
                if row[i] != p.partner {
                    continue;
                }
                let score = |c: u8| symbol.choices.iter().find(|(x, _)| *x as u32 == u32::from(c)).map(|x| x.1);
                let lead = match (score(p.partner), score(p.read)) {
                    (Some(partner), Some(read)) => partner - read,
                    (Some(_), None) => f32::INFINITY,
                    _ => f32::NEG_INFINITY,
                };
                if lead < policy.look_alike_confirmed_lead {
                    return Err(format!("{}: look-alike characters no check digit settles", p.field));
                }
                confirmations += 1;
            }
        }
        if confirmations < policy.look_alike_confirmations {
            return Err(format!("{}: look-alike characters no check digit settles", p.field));
        }
    }
    Ok(())
}

/// Settles a field no check digit covers to one character per position. The trailing filler run (every
/// position from some point on offers `<`) becomes `<`, except that the run's first position keeps a clear
/// top-choice letter; elsewhere an alternative close to the top choice is an ambiguity and refuses the read.
/// A name must then be letters separated by single or double fillers, with only fillers after it.
fn resolve_uncovered(
    cells: &mut [Vec<(u8, f32)>],
    fd: &Field,
    policy: &Policy,
    pending: &mut Vec<PendingLookAlike>,
) -> Result<(), Rejection> {
    let n = cells.len();
    let offers_filler = |c: &Vec<(u8, f32)>| c.iter().any(|(x, _)| *x == b'<');
    let mut run_start = n;
    while run_start > 0 && offers_filler(&cells[run_start - 1]) {
        run_start -= 1;
    }
    let multi_char = policy.filler_run && matches!(fd.kind, Kind::Alpha | Kind::Alnum) && n > 3;
    for (i, cell) in cells.iter_mut().enumerate() {
        let top = cell[0];
        let in_run = multi_char && i >= run_start;
        let chosen = if in_run && (top.0 == b'<' || i > run_start) {
            // Inside the filler run: the engine offered `<` here, and a letter among fillers is the
            // engine's known confusion (`<` read as K, X, E).
            *cell.iter().find(|(x, _)| *x == b'<').unwrap_or(&top)
        } else {
            // Between look-alikes (0/O, 1/I, ...) the order follows the vertical scale and blur measured for
            // the line, which a photo can put off: a clear lead counts only once the same photo's
            // check-digit-confirmed cells show the partner is read as itself (see `confirm_look_alikes`).
            let strong = top.1 >= policy.clear_min;
            for alt in cell.iter().skip(1).filter(|alt| alt.1 >= policy.ambiguous_ratio * top.1) {
                let lead = top.1 - alt.1;
                if look_alike(top.0, alt.0) && strong && lead >= policy.look_alike_lead {
                    pending.push(PendingLookAlike { field: fd.name, read: top.0, partner: alt.0 });
                } else if look_alike(top.0, alt.0) || !(strong && lead >= policy.clear_lead) {
                    return Err(format!("{}: ambiguous character ({:.1} against {:.1})", fd.name, top.1, alt.1));
                }
            }
            top
        };
        *cell = vec![chosen];
    }
    if fd.name == "name" {
        let text: Vec<u8> = cells.iter().map(|c| c[0].0).collect();
        let s = String::from_utf8_lossy(&text);
        let body = s.trim_end_matches('<');
        if body.is_empty() || body.starts_with('<') || body.contains("<<<") || body.matches("<<").count() > 1 {
            return Err("name: implausible fillers".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const L1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
    const L2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

    fn options() -> ParseOptions {
        ParseOptions { allow_specimen_states: true, ..ParseOptions::new(date!(2026 - 06 - 01)) }
    }

    /// The engine's reading of the ICAO specimen: every character its own top choice, nothing else offered.
    fn engine_lines() -> Vec<Vec<Symbol>> {
        [L1, L2]
            .iter()
            .map(|l| l.chars().map(|c| Symbol { choices: vec![(c, 95.0)], fallback: Vec::new() }).collect())
            .collect()
    }

    fn set(lines: &mut [Vec<Symbol>], line: usize, col: usize, choices: &[(char, f32)]) {
        lines[line][col] = Symbol { choices: choices.to_vec(), fallback: Vec::new() };
    }

    #[test]
    fn a_clean_reading_is_accepted_as_is() {
        let c = choose(&engine_lines(), &options()).expect("accepted");
        assert_eq!(c.lines, vec![L1.to_string(), L2.to_string()]);
        assert_eq!(c.alternatives_used, 0);
        assert_eq!(c.report.data.primary_identifier, "ERIKSSON");
        assert!(c.field_confidence.iter().all(|(_, conf)| *conf == 95.0));
    }

    #[test]
    fn the_check_digit_picks_the_alternative_the_engine_offered() {
        let mut lines = engine_lines();
        // document number L898902C3: the engine saw B, and offered 8 as its second choice
        set(&mut lines, 1, 1, &[('B', 80.0), ('8', 40.0)]);
        let c = choose(&lines, &options()).expect("accepted");
        assert_eq!(c.lines[1], L2);
        assert_eq!(c.alternatives_used, 1);
        let conf = c.field_confidence.iter().find(|(f, _)| *f == "document_number").map(|x| x.1);
        assert_eq!(conf, Some(40.0));
    }

    #[test]
    fn a_character_the_engine_did_not_offer_is_never_invented() {
        let mut lines = engine_lines();
        // B alone: the typed-text parser would correct it to 8; an image read must not
        set(&mut lines, 1, 1, &[('B', 80.0)]);
        assert!(choose(&lines, &options()).is_err());
        // a date digit read as a letter with no digit offered
        set(&mut lines, 1, 1, &[('8', 95.0)]);
        set(&mut lines, 1, 15, &[('O', 90.0)]);
        assert!(choose(&lines, &options()).is_err());
        // with the digit among the alternatives, the date is read
        set(&mut lines, 1, 15, &[('O', 90.0), ('0', 30.0)]);
        assert_eq!(choose(&lines, &options()).expect("accepted").lines[1], L2);
    }

    #[test]
    fn a_wrong_check_digit_with_no_valid_alternative_is_refused() {
        let mut lines = engine_lines();
        set(&mut lines, 1, 19, &[('3', 90.0), ('5', 20.0)]);
        let err = choose(&lines, &options()).unwrap_err();
        assert!(err.contains("check digit"), "{err}");
    }

    #[test]
    fn a_letter_in_the_filler_run_becomes_the_filler_the_engine_offered() {
        let mut lines = engine_lines();
        set(&mut lines, 0, 30, &[('K', 80.0), ('<', 60.0)]);
        set(&mut lines, 0, 31, &[('K', 70.0), ('X', 30.0), ('<', 20.0)]);
        let c = choose(&lines, &options()).expect("accepted");
        assert_eq!(c.lines[0], L1);
        assert_eq!(c.report.data.secondary_identifier, "ANNA MARIA");
    }

    #[test]
    fn a_letter_among_fillers_without_a_filler_alternative_is_refused() {
        let mut lines = engine_lines();
        // ANNA<MARIA<<<<<K<<<: no check digit covers the name, and the engine offered no <
        set(&mut lines, 0, 30, &[('K', 80.0), ('X', 30.0)]);
        let err = choose(&lines, &options()).unwrap_err();
        assert!(err.contains("name"), "{err}");
    }

    #[test]
    fn a_close_alternative_inside_a_name_is_an_ambiguity() {
        let mut lines = engine_lines();
        // ERIKSSON's K: the engine is unsure between K and X and nothing can decide
        set(&mut lines, 0, 8, &[('K', 60.0), ('X', 55.0)]);
        assert!(choose(&lines, &options()).is_err());
        set(&mut lines, 0, 8, &[('K', 90.0), ('X', 5.0)]);
        assert!(choose(&lines, &options()).is_ok());
    }

    #[test]
    fn a_digit_read_as_a_letter_takes_the_best_digit_the_recogniser_ranked() {
        let mut lines = engine_lines();
        // the date of birth's 0 looked more like O, and no digit came close enough to be a choice
        lines[1][15] = Symbol { choices: vec![('O', 90.0)], fallback: vec![('0', 80.0)] };
        let c = choose_with(&lines, &options(), &Policy::TEMPLATES).expect("accepted");
        assert_eq!(c.lines[1], L2);
        // the check digit still decides: a ranked digit that breaks it is refused
        lines[1][15] = Symbol { choices: vec![('O', 90.0)], fallback: vec![('6', 80.0)] };
        assert!(choose_with(&lines, &options(), &Policy::TEMPLATES).is_err());
        // no digit ranked: refused, never invented
        lines[1][15] = Symbol { choices: vec![('O', 90.0)], fallback: Vec::new() };
        assert!(choose_with(&lines, &options(), &Policy::TEMPLATES).is_err());
        // where a choice fits the position, the other class is not considered
        lines[1][15] = Symbol { choices: vec![('0', 90.0)], fallback: vec![('O', 85.0)] };
        assert_eq!(choose_with(&lines, &options(), &Policy::TEMPLATES).expect("accepted").alternatives_used, 0);
    }

    #[test]
    fn a_clear_lead_in_an_uncovered_field_is_read_unless_the_two_look_alike() {
        let strict = Policy { clear_min: f32::INFINITY, clear_lead: f32::INFINITY, ..Policy::TEMPLATES };
        let mut lines = engine_lines();
        // ERIKSSON's K with X offered beside it, well behind
        set(&mut lines, 0, 8, &[('K', 95.0), ('X', 88.0)]);
        assert!(choose_with(&lines, &options(), &strict).unwrap_err().contains("ambiguous"));
        assert_eq!(choose_with(&lines, &options(), &Policy::TEMPLATES).expect("accepted").lines[0], L1);
        // a lead too small, or a top choice too weak, is still an ambiguity
        set(&mut lines, 0, 8, &[('K', 95.0), ('X', 92.0)]);
        assert!(choose_with(&lines, &options(), &Policy::TEMPLATES).is_err());
        set(&mut lines, 0, 8, &[('K', 84.0), ('X', 70.0)]);
        assert!(choose_with(&lines, &options(), &Policy::TEMPLATES).is_err());
        // a visa's optional data (no check digit): 1 against 7 is clear, 1 against its look-alike I is not
        // by the lead alone (the photo's confirmed Is may vouch for it: see the next test)
        let by_lead_alone = Policy { look_alike_lead: f32::INFINITY, ..Policy::TEMPLATES };
        let mut visa = engine_lines();
        set(&mut visa, 0, 0, &[('V', 95.0)]);
        set(&mut visa, 1, 30, &[('1', 95.0), ('7', 85.0)]);
        assert_eq!(choose_with(&visa, &options(), &by_lead_alone).expect("accepted").lines[1], L2);
        set(&mut visa, 1, 30, &[('1', 95.0), ('I', 85.0)]);
        assert!(choose_with(&visa, &options(), &by_lead_alone).unwrap_err().contains("optional_data_1"));
    }

    #[test]
    fn a_look_alike_in_an_uncovered_field_is_read_only_when_the_photos_confirmed_cells_vouch_for_it() {
        // A visa's optional data (no check digit): O leading its look-alike 0 by 0.09.
        let mut visa = engine_lines();
        set(&mut visa, 0, 0, &[('V', 95.0)]);
        set(&mut visa, 1, 30, &[('O', 95.0), ('0', 86.0)]);
        // The document number's and the dates' zeros (confirmed by their check digits) were read as zeros
        // with no O offered: the photo reads zeros as zeros, so the O is an O.
        let c = choose_with(&visa, &options(), &Policy::TEMPLATES).expect("accepted");
        assert_eq!(&c.lines[1][28..32], "ZEO8");
        // One confirmed zero ranked O nearly as high: the photo may read zeros as Os, and the O is refused.
        set(&mut visa, 1, 23, &[('0', 90.0), ('O', 88.0)]);
        let err = choose_with(&visa, &options(), &Policy::TEMPLATES).unwrap_err();
        assert!(err.contains("optional_data_1"), "{err}");
        // A lead too small is refused whatever the confirmed cells say.
        set(&mut visa, 1, 23, &[('0', 95.0)]);
        set(&mut visa, 1, 30, &[('O', 95.0), ('0', 90.0)]);
        assert!(choose_with(&visa, &options(), &Policy::TEMPLATES).unwrap_err().contains("ambiguous"));
        // A zero leading O: the name's and the state's Os (a name holds no digits) were read as Os.
        set(&mut visa, 1, 30, &[('0', 95.0), ('O', 86.0)]);
        assert_eq!(&choose_with(&visa, &options(), &Policy::TEMPLATES).expect("accepted").lines[1][28..32], "ZE08");
        set(&mut visa, 0, 11, &[('O', 90.0), ('0', 88.0)]);
        assert!(choose_with(&visa, &options(), &Policy::TEMPLATES).is_err());
        set(&mut visa, 0, 11, &[('O', 95.0)]);
        // Without a policy for look-alikes, never.
        set(&mut visa, 1, 30, &[('O', 95.0), ('0', 86.0)]);
        let strict = Policy { look_alike_lead: f32::INFINITY, ..Policy::TEMPLATES };
        assert!(choose_with(&visa, &options(), &strict).is_err());
    }

    #[test]
    fn a_clearly_read_unknown_state_code_is_reported_as_printed() {
        let mut lines = engine_lines();
        for (col, c) in [(2, 'Q'), (3, 'Q'), (4, 'Q')] {
            set(&mut lines, 0, col, &[(c, 95.0)]);
        }
        let c = choose_with(&lines, &options(), &Policy::TEMPLATES).expect("accepted");
        assert_eq!(c.report.data.issuing_state, "QQQ");
        assert!(!c.report.check(CheckName::IssuingState).expect("state check").passed);
        // read with doubt, an unknown code is more likely a misreading
        set(&mut lines, 0, 3, &[('Q', 70.0)]);
        assert!(choose_with(&lines, &options(), &Policy::TEMPLATES).unwrap_err().contains("IssuingState"));
        // the Tesseract policy never takes an unknown code
        set(&mut lines, 0, 3, &[('Q', 95.0)]);
        assert!(choose(&lines, &options()).is_err());
    }

    #[test]
    fn the_wrong_shape_is_no_mrz() {
        let mut lines = engine_lines();
        lines[0].pop();
        assert!(choose(&lines, &options()).unwrap_err().contains("shape"));
    }
}
