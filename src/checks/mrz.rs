//! ICAO 9303 machine-readable zones: parsing TD1, TD2, TD3, MRV-A and MRV-B into typed fields, every check
//! digit, code, date and name rule as a list of named checks, and the comparison with data a person entered.
//! Pure: the date comes in as `today`, nothing is logged or stored. Must not decide whether a session passes
//! (callers weigh the checks) and must never panic, whatever the input.
//!
//! Decisions where ICAO, issuers and other parsers disagree are listed in `docs/mrz-decisions.md`. In short:
//! - **Input**: whitespace anywhere separates lines (newlines, CRLF, spaces), each line is trimmed, lowercase
//!   ASCII is uppercased; one unbroken string of 90, 72 or 88 characters is split into lines. Any other
//!   character is an error, as is a shape that is not 3×30, 2×36 or 2×44.
//! - **Centuries**: a date of birth is the latest date not after `today` (`20YY` if that is not in the future,
//!   else `19YY`); an expiry is `20YY` unless that is more than 50 years after `today`, then `19YY`.
//! - **Extended document numbers** (TD1, TD2): a `<` in place of the number's check digit means the number
//!   continues in the optional data up to the next `<`, the last character there being the check digit,
//!   computed over the whole number without the `<` (ICAO). For `BEL` only, a digit computed over the number
//!   *with* the `<` is also accepted (older Belgian cards do this).
//! - **OCR correction** (on by default): in digit-only positions (dates, check digits) the letters
//!   O Q D→0, I L→1, Z→2, S→5, G→6, B→8 are replaced only where that makes the covering check digit valid;
//!   then, only if every check digit is valid, digits in letter-only fields (names, state codes) are replaced
//!   by the letters they resemble (a state code only when the result is a known code). Every replacement is
//!   listed in [`MrzData::ocr_corrections`].
//! - **`UTO`** (ICAO's fictional Utopia) parses normally but fails the state checks unless
//!   [`ParseOptions::allow_specimen_states`] is set.

mod codes;
mod compare;
mod names;

pub use codes::{alpha2_of, alpha3_of, state_code, StateCode};
pub use compare::{compare, ComparedField, Entered, FieldComparison, FieldOutcome};
pub use names::{encode_name, parse_name_field, transliterate, ParsedName, Umlauts};

use serde::{Serialize, Serializer};
use time::{Date, Month};

/// Longest input accepted, in bytes (an MRZ is at most 92 characters plus separators).
pub const MAX_INPUT_BYTES: usize = 1024;

/// The five ICAO 9303 MRZ layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum MrzFormat {
    /// ID-1 card, 3 lines of 30.
    #[serde(rename = "TD1")]
    Td1,
    /// ID-2 card, 2 lines of 36.
    #[serde(rename = "TD2")]
    Td2,
    /// Passport, 2 lines of 44.
    #[serde(rename = "TD3")]
    Td3,
    /// Full-size visa, 2 lines of 44.
    #[serde(rename = "MRV-A")]
    MrvA,
    /// Small visa, 2 lines of 36.
    #[serde(rename = "MRV-B")]
    MrvB,
}

impl MrzFormat {
    /// Width of the name field: 30, 31 or 39.
    pub fn name_width(self) -> usize {
        match self {
            Self::Td1 => 30,
            Self::Td2 | Self::MrvB => 31,
            Self::Td3 | Self::MrvA => 39,
        }
    }
}

/// What kind of document the format and code describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Passport,
    IdentityCard,
    Visa,
    Other,
}

/// The sex field: `M`, `F`, or `<` (ICAO's "unspecified"; a non-ICAO `X` is read the same way).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
    Unspecified,
}

/// One character replaced by OCR correction. `line` and `column` count from 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OcrCorrection {
    pub line: usize,
    pub column: usize,
    pub from: char,
    pub to: char,
}

/// The fields of an MRZ. Strings have their trailing `<` fillers removed; names use spaces between
/// components. Dates are `None` when they are unknown (all fillers) or not a calendar date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MrzData {
    pub format: MrzFormat,
    pub document_kind: DocumentKind,
    /// `P`, `PO`, `ID`, `I`, `V`, ...
    pub document_code: String,
    /// As printed: `D`, `DEU`, `UTO`, ...
    pub issuing_state: String,
    /// The whole number, including a TD1/TD2 overflow into the optional data.
    pub document_number: String,
    pub primary_identifier: String,
    pub secondary_identifier: String,
    /// The name field is full to its last character, so it may have been cut short.
    pub name_possibly_truncated: bool,
    pub nationality: String,
    #[serde(serialize_with = "ser_date")]
    pub date_of_birth: Option<Date>,
    /// `YYMMDD` as printed (after OCR correction).
    pub date_of_birth_raw: String,
    pub sex: Sex,
    #[serde(serialize_with = "ser_date")]
    pub date_of_expiry: Option<Date>,
    pub date_of_expiry_raw: String,
    /// Optional data (TD3: personal number), without the part an extended document number used.
    pub optional_data_1: Option<String>,
    /// TD1 line 2 optional data.
    pub optional_data_2: Option<String>,
    pub ocr_corrections: Vec<OcrCorrection>,
}

/// The checks, in the order they are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    DocumentCode,
    IssuingState,
    Nationality,
    Name,
    Sex,
    DocumentNumberCheckDigit,
    DateOfBirthCheckDigit,
    DateOfExpiryCheckDigit,
    /// TD3 only: the personal number / optional data digit.
    OptionalDataCheckDigit,
    /// TD1, TD2, TD3 (visas have none).
    CompositeCheckDigit,
    DateOfBirth,
    DateOfExpiry,
    /// Birth before expiry; only when both dates are known.
    DatesConsistent,
    NotExpired,
}

impl CheckName {
    pub fn is_check_digit(self) -> bool {
        matches!(
            self,
            Self::DocumentNumberCheckDigit
                | Self::DateOfBirthCheckDigit
                | Self::DateOfExpiryCheckDigit
                | Self::OptionalDataCheckDigit
                | Self::CompositeCheckDigit
        )
    }
}

/// One rule and its outcome. `detail` never repeats names or numbers from the document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: CheckName,
    pub passed: bool,
    pub detail: String,
}

/// A parsed MRZ and what was checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MrzReport {
    pub data: MrzData,
    pub checks: Vec<Check>,
}

impl MrzReport {
    pub fn check(&self, name: CheckName) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Every check digit the format defines is valid.
    pub fn check_digits_valid(&self) -> bool {
        self.checks.iter().filter(|c| c.name.is_check_digit()).all(|c| c.passed)
    }

    /// Every check passed.
    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// Why the input is not an MRZ at all. Positions count from 0 and carry no document content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum MrzError {
    #[error("the MRZ is empty")]
    Empty,
    #[error("the MRZ is longer than {MAX_INPUT_BYTES} bytes")]
    TooLong,
    #[error("line {line}, column {column}: only A-Z, 0-9 and < may appear in an MRZ")]
    InvalidCharacter { line: usize, column: usize },
    #[error("{lines} lines of lengths {lengths:?} are not TD1 (3x30), TD2/MRV-B (2x36) or TD3/MRV-A (2x44)")]
    UnknownLayout { lines: usize, lengths: Vec<usize> },
}

/// What the caller supplies: the date to judge against, and two tolerances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// The current date; expiry and date-of-birth centuries are judged against it.
    pub today: Date,
    /// Repair OCR confusions where check digits confirm them (see the module docs). Default true.
    pub ocr_correction: bool,
    /// Let `UTO` pass the issuing-state and nationality checks (sandboxes, ICAO specimens). Default false.
    pub allow_specimen_states: bool,
}

impl ParseOptions {
    pub fn new(today: Date) -> Self {
        Self { today, ocr_correction: true, allow_specimen_states: false }
    }
}

/// The ICAO 7-3-1 check digit of `field` (`0-9` = 0–9, `A-Z` = 10–35, `<` = 0); `None` for other characters.
pub fn check_digit(field: &str) -> Option<u8> {
    check_digit_bytes(field.as_bytes())
}

fn check_digit_bytes(field: &[u8]) -> Option<u8> {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let mut sum = 0u32;
    for (i, &b) in field.iter().enumerate() {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            b'<' => 0,
            _ => return None,
        };
        sum = (sum + v * WEIGHTS[i % 3]) % 10;
    }
    u8::try_from(sum).ok()
}

/// Parses an MRZ given as text: lines separated by newlines (or any whitespace), or one unbroken string.
pub fn parse(text: &str, options: &ParseOptions) -> Result<MrzReport, MrzError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(MrzError::TooLong);
    }
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for (line, token) in text.split_whitespace().enumerate() {
        let mut bytes = Vec::with_capacity(token.len());
        for (column, c) in token.chars().enumerate() {
            let c = c.to_ascii_uppercase();
            if !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<') {
                return Err(MrzError::InvalidCharacter { line, column });
            }
            bytes.push(c as u8);
        }
        lines.push(bytes);
    }
    if let [single] = lines.as_slice() {
        let width = match single.len() {
            90 => 30,
            72 => 36,
            88 => 44,
            _ => 0,
        };
        if width > 0 {
            lines = single.chunks(width).map(<[u8]>::to_vec).collect();
        }
    }
    let visa = lines.first().and_then(|l| l.first()) == Some(&b'V');
    let layout = match lines.iter().map(Vec::len).collect::<Vec<_>>().as_slice() {
        [] => return Err(MrzError::Empty),
        [30, 30, 30] => &TD1,
        [36, 36] if visa => &MRV_B,
        [36, 36] => &TD2,
        [44, 44] if visa => &MRV_A,
        [44, 44] => &TD3,
        lengths => return Err(MrzError::UnknownLayout { lines: lengths.len(), lengths: lengths.to_vec() }),
    };
    Ok(Parser { layout, lines, options, corrections: Vec::new() }.run())
}

/// Parses an MRZ given as separate lines (each may carry surrounding whitespace).
pub fn parse_lines<S: AsRef<str>>(lines: &[S], options: &ParseOptions) -> Result<MrzReport, MrzError> {
    let mut text = String::new();
    for line in lines {
        text.push_str(line.as_ref());
        text.push('\n');
        if text.len() > MAX_INPUT_BYTES {
            return Err(MrzError::TooLong);
        }
    }
    parse(&text, options)
}

/// A field: line, first column, length.
#[derive(Clone, Copy)]
struct F(usize, usize, usize);

/// A single character: line, column.
#[derive(Clone, Copy)]
struct P(usize, usize);

struct Layout {
    format: MrzFormat,
    code: F,
    state: F,
    name: F,
    number: F,
    number_check: P,
    nationality: F,
    birth: F,
    birth_check: P,
    sex: P,
    expiry: F,
    expiry_check: P,
    optional1: F,
    optional1_check: Option<P>,
    optional2: Option<F>,
    composite: Option<(P, &'static [F])>,
    /// Where a document number longer than 9 characters continues (TD1, TD2).
    number_overflow: Option<F>,
}

const TD1: Layout = Layout {
    format: MrzFormat::Td1,
    code: F(0, 0, 2),
    state: F(0, 2, 3),
    number: F(0, 5, 9),
    number_check: P(0, 14),
    optional1: F(0, 15, 15),
    birth: F(1, 0, 6),
    birth_check: P(1, 6),
    sex: P(1, 7),
    expiry: F(1, 8, 6),
    expiry_check: P(1, 14),
    nationality: F(1, 15, 3),
    optional2: Some(F(1, 18, 11)),
    composite: Some((P(1, 29), &[F(0, 5, 25), F(1, 0, 7), F(1, 8, 7), F(1, 18, 11)])),
    name: F(2, 0, 30),
    optional1_check: None,
    number_overflow: Some(F(0, 15, 15)),
};

const TD2: Layout = Layout {
    format: MrzFormat::Td2,
    code: F(0, 0, 2),
    state: F(0, 2, 3),
    name: F(0, 5, 31),
    number: F(1, 0, 9),
    number_check: P(1, 9),
    nationality: F(1, 10, 3),
    birth: F(1, 13, 6),
    birth_check: P(1, 19),
    sex: P(1, 20),
    expiry: F(1, 21, 6),
    expiry_check: P(1, 27),
    optional1: F(1, 28, 7),
    optional1_check: None,
    optional2: None,
    composite: Some((P(1, 35), &[F(1, 0, 10), F(1, 13, 7), F(1, 21, 14)])),
    number_overflow: Some(F(1, 28, 7)),
};

const TD3: Layout = Layout {
    format: MrzFormat::Td3,
    code: F(0, 0, 2),
    state: F(0, 2, 3),
    name: F(0, 5, 39),
    number: F(1, 0, 9),
    number_check: P(1, 9),
    nationality: F(1, 10, 3),
    birth: F(1, 13, 6),
    birth_check: P(1, 19),
    sex: P(1, 20),
    expiry: F(1, 21, 6),
    expiry_check: P(1, 27),
    optional1: F(1, 28, 14),
    optional1_check: Some(P(1, 42)),
    optional2: None,
    composite: Some((P(1, 43), &[F(1, 0, 10), F(1, 13, 7), F(1, 21, 22)])),
    number_overflow: None,
};

const MRV_A: Layout =
    Layout { format: MrzFormat::MrvA, optional1: F(1, 28, 16), optional1_check: None, composite: None, ..TD3 };

const MRV_B: Layout =
    Layout { format: MrzFormat::MrvB, optional1: F(1, 28, 8), composite: None, number_overflow: None, ..TD2 };

fn is_digit_only(field: &[u8]) -> bool {
    field.iter().all(u8::is_ascii_digit)
}

fn is_filler_only(field: &[u8]) -> bool {
    field.iter().all(|&b| b == b'<')
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn trimmed(bytes: &[u8]) -> String {
    text(bytes).trim_end_matches('<').to_string()
}

fn non_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

/// Common OCR confusions of a letter for a digit, and back.
fn letter_to_digit(b: u8) -> Option<u8> {
    Some(match b {
        b'O' | b'Q' | b'D' => b'0',
        b'I' | b'L' => b'1',
        b'Z' => b'2',
        b'S' => b'5',
        b'G' => b'6',
        b'B' => b'8',
        _ => return None,
    })
}

fn digit_to_letter(b: u8) -> Option<u8> {
    Some(match b {
        b'0' => b'O',
        b'1' => b'I',
        b'2' => b'Z',
        b'5' => b'S',
        b'6' => b'G',
        b'8' => b'B',
        _ => return None,
    })
}

/// The result of checking the document number and its (possibly moved) check digit.
struct NumberCheck {
    number: String,
    /// Optional data left over after an overflow.
    optional_rest: Option<String>,
    passed: bool,
    detail: String,
}

struct Parser<'a> {
    layout: &'static Layout,
    lines: Vec<Vec<u8>>,
    options: &'a ParseOptions,
    corrections: Vec<OcrCorrection>,
}

impl Parser<'_> {
    fn field(&self, f: F) -> &[u8] {
        self.lines.get(f.0).and_then(|l| l.get(f.1..f.1 + f.2)).unwrap_or(&[])
    }

    fn at(&self, p: P) -> u8 {
        self.lines.get(p.0).and_then(|l| l.get(p.1)).copied().unwrap_or(b'?')
    }

    fn set(&mut self, line: usize, column: usize, to: u8) {
        if let Some(b) = self.lines.get_mut(line).and_then(|l| l.get_mut(column)) {
            if *b != to {
                self.corrections.push(OcrCorrection { line, column, from: char::from(*b), to: char::from(to) });
                *b = to;
            }
        }
    }

    fn run(mut self) -> MrzReport {
        if self.options.ocr_correction {
            self.correct_digits();
            if self.check_digit_checks().iter().all(|c| c.passed) {
                self.correct_letters();
            }
        }
        let l = self.layout;
        let number = self.number_check();
        let name = parse_name_field(&text(self.field(l.name)));
        let today = self.options.today;
        let birth_raw = self.field(l.birth).to_vec();
        let expiry_raw = self.field(l.expiry).to_vec();
        let birth = resolve_birth(&birth_raw, today);
        let expiry = resolve_expiry(&expiry_raw, today);
        let code = trimmed(self.field(l.code));
        let document_kind = match (l.format, code.as_bytes().first()) {
            (MrzFormat::MrvA | MrzFormat::MrvB, _) => DocumentKind::Visa,
            (MrzFormat::Td3, Some(b'P')) => DocumentKind::Passport,
            (MrzFormat::Td1 | MrzFormat::Td2, Some(b'I' | b'A' | b'C')) => DocumentKind::IdentityCard,
            _ => DocumentKind::Other,
        };
        let sex = match self.at(l.sex) {
            b'M' => Sex::Male,
            b'F' => Sex::Female,
            _ => Sex::Unspecified,
        };
        let optional_data_1 = match l.number_overflow {
            Some(_) if self.at(l.number_check) == b'<' => number.optional_rest.clone(),
            _ => non_empty(trimmed(self.field(l.optional1))),
        };

        let mut checks = vec![self.code_check(&code), self.state_check(CheckName::IssuingState, l.state)];
        checks.push(self.state_check(CheckName::Nationality, l.nationality));
        checks.push(Check {
            name: CheckName::Name,
            passed: name.problem.is_none(),
            detail: match (name.problem, name.primary.is_empty()) {
                (Some(p), _) => p.to_string(),
                (None, true) => "no primary identifier, only a secondary one (as some issuers print)".into(),
                (None, false) if name.possibly_truncated => "well formed; fills the field, may be truncated".into(),
                (None, false) => "well formed".into(),
            },
        });
        checks.push(self.sex_check());
        checks.extend(self.check_digit_checks());
        checks.push(Check { name: CheckName::DateOfBirth, passed: birth.passed, detail: birth.detail.clone() });
        checks.push(Check { name: CheckName::DateOfExpiry, passed: expiry.passed, detail: expiry.detail.clone() });
        if let (Some(b), Some(e)) = (birth.date, expiry.date) {
            checks.push(Check {
                name: CheckName::DatesConsistent,
                passed: b < e,
                detail: if b < e { "born before the expiry date" } else { "the expiry date is not after birth" }.into(),
            });
        }
        checks.push(match expiry.date {
            Some(e) if e >= today => Check { name: CheckName::NotExpired, passed: true, detail: "not expired".into() },
            Some(_) => Check { name: CheckName::NotExpired, passed: false, detail: "expired".into() },
            None => {
                Check { name: CheckName::NotExpired, passed: false, detail: "the expiry date is unreadable".into() }
            }
        });

        let data = MrzData {
            format: l.format,
            document_kind,
            document_code: code,
            issuing_state: trimmed(self.field(l.state)),
            document_number: number.number,
            primary_identifier: name.primary,
            secondary_identifier: name.secondary,
            name_possibly_truncated: name.possibly_truncated,
            nationality: trimmed(self.field(l.nationality)),
            date_of_birth: birth.date,
            date_of_birth_raw: text(&birth_raw),
            sex,
            date_of_expiry: expiry.date,
            date_of_expiry_raw: text(&expiry_raw),
            optional_data_1,
            optional_data_2: l.optional2.and_then(|f| non_empty(trimmed(self.field(f)))),
            ocr_corrections: self.corrections,
        };
        MrzReport { data, checks }
    }

    /// Letters in digit-only positions, replaced only where the check digit then agrees.
    fn correct_digits(&mut self) {
        let l = self.layout;
        for (field, check) in [(l.birth, l.birth_check), (l.expiry, l.expiry_check)] {
            self.try_digits(&[field], Some(field), check);
        }
        if self.at(l.number_check) != b'<' {
            self.try_digits(&[], Some(l.number), l.number_check);
        }
        if let Some(check) = l.optional1_check {
            self.try_digits(&[], Some(l.optional1), check);
        }
        // the parts are corrected above; only the composite digit itself may still be a letter
        if let Some((check, _)) = l.composite {
            self.try_digits(&[], None, check);
        }
    }

    /// Replaces confusable letters in `fix` fields and at `check`, keeping the change only if the check digit
    /// over `covered` (or the composite, when `covered` is `None`) then validates and did not before.
    fn try_digits(&mut self, fix: &[F], covered: Option<F>, check: P) {
        let before = self.lines.clone();
        let valid = |p: &Self| match covered {
            Some(f) => p.simple_digit_ok(f, check),
            None => p.composite_ok(),
        };
        if valid(self) {
            return;
        }
        let mut changed = Vec::new();
        for f in fix {
            for col in f.1..f.1 + f.2 {
                changed.push((f.0, col));
            }
        }
        changed.push((check.0, check.1));
        let mut any = false;
        for &(line, col) in &changed {
            if let Some(b) = self.lines.get_mut(line).and_then(|l| l.get_mut(col)) {
                if let Some(d) = letter_to_digit(*b) {
                    *b = d;
                    any = true;
                }
            }
        }
        let ok = any && valid(self);
        let after = std::mem::replace(&mut self.lines, before);
        if ok {
            for (line, col) in changed {
                if let Some(&b) = after.get(line).and_then(|l| l.get(col)) {
                    self.set(line, col, b);
                }
            }
        }
    }

    /// Digits in letter-only fields; run only when every check digit is valid.
    fn correct_letters(&mut self) {
        let l = self.layout;
        for f in [l.state, l.nationality] {
            let original = trimmed(self.field(f));
            if state_code(&original) != StateCode::Unknown {
                continue;
            }
            let fixed: Vec<u8> = self.field(f).iter().map(|&b| digit_to_letter(b).unwrap_or(b)).collect();
            if state_code(&trimmed(&fixed)) != StateCode::Unknown {
                for (i, b) in fixed.into_iter().enumerate() {
                    self.set(f.0, f.1 + i, b);
                }
            }
        }
        let name = self.field(l.name).to_vec();
        if name.iter().any(u8::is_ascii_digit)
            && name.iter().all(|&b| !b.is_ascii_digit() || digit_to_letter(b).is_some())
        {
            for (i, b) in name.into_iter().enumerate() {
                self.set(l.name.0, l.name.1 + i, digit_to_letter(b).unwrap_or(b));
            }
        }
    }

    fn simple_digit_ok(&self, field: F, check: P) -> bool {
        let c = self.at(check);
        c.is_ascii_digit() && check_digit_bytes(self.field(field)) == Some(c - b'0')
    }

    fn composite_input(&self) -> Option<(u8, Vec<u8>)> {
        let (check, parts) = self.layout.composite?;
        let mut input = Vec::new();
        for &f in parts {
            input.extend_from_slice(self.field(f));
        }
        Some((self.at(check), input))
    }

    fn composite_ok(&self) -> bool {
        match self.composite_input() {
            Some((c, input)) => c.is_ascii_digit() && check_digit_bytes(&input) == Some(c - b'0'),
            None => true,
        }
    }

    fn check_digit_checks(&self) -> Vec<Check> {
        let l = self.layout;
        let number = self.number_check();
        let mut out =
            vec![Check { name: CheckName::DocumentNumberCheckDigit, passed: number.passed, detail: number.detail }];
        out.push(self.date_digit(CheckName::DateOfBirthCheckDigit, l.birth, l.birth_check));
        out.push(self.date_digit(CheckName::DateOfExpiryCheckDigit, l.expiry, l.expiry_check));
        if let Some(check) = l.optional1_check {
            let field = self.field(l.optional1);
            let c = self.at(check);
            out.push(if is_filler_only(field) && (c == b'<' || c == b'0') {
                Check { name: CheckName::OptionalDataCheckDigit, passed: true, detail: "optional data not used".into() }
            } else {
                digit_check(CheckName::OptionalDataCheckDigit, c, check_digit_bytes(field))
            });
        }
        if let Some((c, input)) = self.composite_input() {
            out.push(digit_check(CheckName::CompositeCheckDigit, c, check_digit_bytes(&input)));
        }
        out
    }

    fn date_digit(&self, name: CheckName, field: F, check: P) -> Check {
        let f = self.field(field);
        let c = self.at(check);
        if is_filler_only(f) && (c == b'<' || c == b'0') {
            return Check { name, passed: true, detail: "date not printed (all fillers)".into() };
        }
        digit_check(name, c, check_digit_bytes(f))
    }

    fn number_check(&self) -> NumberCheck {
        let l = self.layout;
        let raw = self.field(l.number);
        let c = self.at(l.number_check);
        let overflow = match l.number_overflow {
            Some(f) if c == b'<' => self.field(f),
            _ => {
                let check = digit_check(CheckName::DocumentNumberCheckDigit, c, check_digit_bytes(raw));
                return NumberCheck {
                    number: trimmed(raw),
                    optional_rest: None,
                    passed: check.passed,
                    detail: check.detail,
                };
            }
        };
        // extended number: the rest of the number, then its check digit, then a filler
        let end = overflow.iter().position(|&b| b == b'<').unwrap_or(overflow.len());
        let Some((&digit, tail)) = overflow.get(..end).and_then(<[u8]>::split_last) else {
            return NumberCheck {
                number: trimmed(raw),
                optional_rest: non_empty(trimmed(overflow).trim_start_matches('<').to_string()),
                passed: false,
                detail: "a filler stands in for the check digit but no number overflow follows".into(),
            };
        };
        let mut full = raw.to_vec();
        full.extend_from_slice(tail);
        let mut with_filler = raw.to_vec();
        with_filler.push(b'<');
        with_filler.extend_from_slice(tail);
        let rest = overflow.get(end..).unwrap_or(&[]);
        let number = text(&full).replace('<', "");
        let optional_rest = non_empty(trimmed(rest).trim_start_matches('<').to_string());
        let found = digit.is_ascii_digit().then(|| digit - b'0');
        let icao = check_digit_bytes(&full);
        let (passed, detail) = if found.is_some() && found == icao {
            (true, "valid (extended document number)".to_string())
        } else if found.is_some() && found == check_digit_bytes(&with_filler) && trimmed(self.field(l.state)) == "BEL" {
            (true, "valid (extended number, digit computed with the filler: Belgian legacy layout)".to_string())
        } else {
            (false, format!("expected {}, found {}", fmt_digit(icao), char::from(digit)))
        };
        NumberCheck { number, optional_rest, passed, detail }
    }

    fn code_check(&self, code: &str) -> Check {
        let bytes = self.field(self.layout.code);
        let first_ok = match self.layout.format {
            MrzFormat::Td3 => bytes.first() == Some(&b'P'),
            MrzFormat::Td1 | MrzFormat::Td2 => matches!(bytes.first(), Some(b'I' | b'A' | b'C')),
            MrzFormat::MrvA | MrzFormat::MrvB => bytes.first() == Some(&b'V'),
        };
        let second_ok = bytes.get(1).is_some_and(|&b| b.is_ascii_uppercase() || b == b'<');
        let passed = first_ok && second_ok;
        let detail = if passed {
            format!("{code} is a valid code for this format")
        } else {
            format!("{code} is not a valid document code for this format (P for TD3, I/A/C for TD1/TD2, V for visas)")
        };
        Check { name: CheckName::DocumentCode, passed, detail }
    }

    fn state_check(&self, name: CheckName, field: F) -> Check {
        let code = trimmed(self.field(field));
        let well_formed = !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase());
        let (passed, detail) = match state_code(&code) {
            _ if !well_formed => (false, "not a state code".to_string()),
            StateCode::Iso(_) => (true, format!("{code} is an ISO 3166-1 code")),
            StateCode::Icao(_) => (true, format!("{code} is an ICAO 9303 code")),
            StateCode::Specimen if self.options.allow_specimen_states => {
                (true, "UTO is ICAO's specimen state (allowed by options)".to_string())
            }
            StateCode::Specimen => (false, "UTO is ICAO's fictional specimen state, not a real issuer".to_string()),
            StateCode::Unknown => (false, format!("{code} is not an ISO 3166-1 or ICAO 9303 code")),
        };
        Check { name, passed, detail }
    }

    fn sex_check(&self) -> Check {
        let (passed, detail) = match self.at(self.layout.sex) {
            b'M' | b'F' => (true, "M or F"),
            b'<' => (true, "unspecified (<)"),
            b'X' => (true, "X, read as unspecified (ICAO prints <)"),
            _ => (false, "not M, F, < or X"),
        };
        Check { name: CheckName::Sex, passed, detail: detail.into() }
    }
}

fn fmt_digit(d: Option<u8>) -> String {
    d.map_or_else(|| "none (the field has invalid characters)".to_string(), |d| d.to_string())
}

fn digit_check(name: CheckName, found: u8, expected: Option<u8>) -> Check {
    let ok = found.is_ascii_digit() && expected == Some(found - b'0');
    Check {
        name,
        passed: ok,
        detail: if ok {
            "valid".into()
        } else {
            format!("expected {}, found {}", fmt_digit(expected), char::from(found))
        },
    }
}

struct ResolvedDate {
    date: Option<Date>,
    passed: bool,
    detail: String,
}

fn yymmdd(raw: &[u8]) -> Option<(i32, u8, u8)> {
    if raw.len() != 6 || !is_digit_only(raw) {
        return None;
    }
    let n = |i: usize| raw.get(i..i + 2).map(|d| (d[0] - b'0') * 10 + (d[1] - b'0'));
    Some((i32::from(n(0)?), n(2)?, n(4)?))
}

fn calendar(year: i32, month: u8, day: u8) -> Option<Date> {
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// Date of birth: `20YY` unless that is after `today`, else `19YY`. `YYMM<<`, `YY<<<<` and `<<<<<<` are ICAO's
/// partly or wholly unknown dates: valid, but without a date.
fn resolve_birth(raw: &[u8], today: Date) -> ResolvedDate {
    let partial = |digits: usize| {
        raw.len() == 6 && raw.get(..digits).is_some_and(is_digit_only) && raw.get(digits..).is_some_and(is_filler_only)
    };
    if partial(0) || partial(2) || partial(4) {
        return ResolvedDate { date: None, passed: true, detail: "partly or wholly unknown (fillers)".into() };
    }
    let Some((yy, mm, dd)) = yymmdd(raw) else {
        return ResolvedDate { date: None, passed: false, detail: "not six digits".into() };
    };
    let date = calendar(2000 + yy, mm, dd).filter(|d| *d <= today).or_else(|| calendar(1900 + yy, mm, dd));
    match date {
        Some(d) if d <= today => {
            ResolvedDate { date: Some(d), passed: true, detail: "valid, not in the future".into() }
        }
        _ => ResolvedDate { date: None, passed: false, detail: "not a calendar date".into() },
    }
}

/// Expiry: `20YY` unless that is more than 50 years after `today`, else `19YY`.
fn resolve_expiry(raw: &[u8], today: Date) -> ResolvedDate {
    let Some((yy, mm, dd)) = yymmdd(raw) else {
        return ResolvedDate { date: None, passed: false, detail: "not six digits".into() };
    };
    let horizon = (today.year() + 50, u8::from(today.month()), today.day());
    let year = if (2000 + yy, mm, dd) > horizon { 1900 + yy } else { 2000 + yy };
    match calendar(year, mm, dd) {
        Some(d) => ResolvedDate { date: Some(d), passed: true, detail: "valid".into() },
        None => ResolvedDate { date: None, passed: false, detail: "not a calendar date".into() },
    }
}

fn ser_date<S: Serializer>(date: &Option<Date>, serializer: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => serializer.serialize_str(&format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests;
