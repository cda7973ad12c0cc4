//! Reading the printed (visual-zone) text of a document photo offline with Tesseract (Debian's
//! `tesseract-ocr` and `tesseract-ocr-eng`, run as a subprocess with TSV output, the image handed over on
//! stdin so no decrypted file is written): the words with their boxes and confidences, the text for
//! classification and extraction hints, and the labelled fields (surname, given names, dates of birth and
//! expiry, document number, nationality, sex), each with a confidence from Tesseract's word confidences and
//! how the value was found. Also the comparison of printed fields with another reading (MRZ, barcode, what
//! the person typed). Owns no decision: callers weigh the comparisons. Must not log or store what it
//! reads, and never reports a field it did not read.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::checks::imagehash::decode_bounded;
use crate::checks::mrz::{self, MrzData};

/// The printed fields idv looks for, by the names the session and extraction data use.
pub const FIELDS: &[&str] =
    &["last_name", "first_name", "date_of_birth", "date_of_expiry", "document_number", "nationality", "sex"];

/// A session's document reading keeps each printed field as `printed.<field>` with its confidence as
/// `printed_confidence.<field>`, or `printed_unread` with the reason nothing was read.
pub const FIELD_PREFIX: &str = "printed.";
pub const CONFIDENCE_PREFIX: &str = "printed_confidence.";
pub const UNREAD: &str = "printed_unread";

/// Whether a document-data entry belongs to the printed reading.
pub fn is_printed_key(k: &str) -> bool {
    k.starts_with(FIELD_PREFIX) || k.starts_with(CONFIDENCE_PREFIX) || k == UNREAD
}

/// Below this, a printed field is reported but not held against another reading (nor fills one): the read
/// is too unsure for a disagreement to mean the document was altered. Tesseract gives wrong words of
/// photographed pages confidences up to 0.97 (tune split of the printed-field bench: at 0.6, 7% of genuine
/// pages disagreed with their own zone; half of those wrong words were under 0.9), while a clean page's
/// altered name reads at about 0.93, so a disagreement counts from 0.9 (and goes to review, not decline).
pub const TRUSTED_CONFIDENCE: f64 = 0.9;

/// Longest side handed to Tesseract: larger photos are scaled down (time grows with pixels, and the text of
/// a document filling a 2000-pixel frame is already large enough).
const MAX_SIDE: u32 = 2200;
/// Shortest long side handed over: small photos are scaled up so label text is not too small to read.
const MIN_SIDE: u32 = 1600;
/// Below this long side no document's printed fields are legible (an ID-1 card's field text would be
/// under ten pixels tall): the image is not handed to Tesseract at all, which would take up to four runs
/// of the scaled-up picture to find nothing.
const MIN_LEGIBLE_SIDE: u32 = 480;

/// One recognised word: its box (pixels of the image as read), Tesseract's confidence (0-100) and line.
#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    pub text: String,
    pub left: i32,
    pub top: i32,
    pub width: i32,
    pub height: i32,
    pub conf: f32,
    /// (block, paragraph, line) as Tesseract numbered them.
    pub line: (u32, u32, u32),
}

impl Word {
    fn right(&self) -> i32 {
        self.left + self.width
    }
    fn bottom(&self) -> i32 {
        self.top + self.height
    }
}

/// One printed field as read. `value` is document content: never log it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PrintedField {
    pub name: &'static str,
    #[serde(skip)]
    pub value: String,
    /// 0 to 1: the lowest word confidence of the value, lowered when the value was found without its label
    /// below it or does not have the field's shape.
    pub confidence: f64,
    /// `below_label` (the value under its label, as on ICAO data pages) or `after_label` (on the label's line).
    pub method: &'static str,
}

/// What reading a photo's printed text gave.
#[derive(Clone, Debug, PartialEq)]
pub struct PrintedRead {
    pub fields: Vec<PrintedField>,
    /// Every line read (the MRZ's own lines left out), one a line. Document content: never log it.
    pub text: String,
    /// Quarter turns (clockwise) applied before reading.
    pub quarter_turns: u8,
    pub elapsed_ms: f64,
}

impl PrintedRead {
    pub fn field(&self, name: &str) -> Option<&PrintedField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A read, or why there is none (the reason names no document content).
#[derive(Clone, Debug, PartialEq)]
pub enum PrintedOutcome {
    Read(PrintedRead),
    NotRead { reason: String },
}

/// The server's printed-text reader: Tesseract found at start, or why not (then every read says so).
#[derive(Clone, Debug)]
pub struct PrintedService(Result<Arc<Engine>, String>);

/// How Tesseract is run.
#[derive(Debug)]
pub struct Engine {
    program: String,
}

impl PrintedService {
    /// Looks for the `tesseract` program and its English data (`tesseract --list-langs`).
    pub fn start() -> Self {
        Self::with_program("tesseract")
    }

    pub fn with_program(program: &str) -> Self {
        let probe = Command::new(program).arg("--list-langs").stdin(Stdio::null()).stderr(Stdio::null()).output();
        let found = match probe {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
                "the printed text of documents cannot be read: `{program}` is not installed (Debian packages tesseract-ocr and tesseract-ocr-eng)"
            )),
            Err(e) => Err(format!("the printed text of documents cannot be read: `{program}` does not run ({e})")),
            Ok(out) if !String::from_utf8_lossy(&out.stdout).lines().any(|l| l.trim() == "eng") => Err(
                "the printed text of documents cannot be read: Tesseract's English data is missing (Debian package tesseract-ocr-eng)"
                    .to_string(),
            ),
            Ok(_) => Ok(Arc::new(Engine { program: program.to_string() })),
        };
        PrintedService(found)
    }

    /// A reader that reads nothing, saying why (tests, and servers started without Tesseract).
    pub fn unavailable(reason: &str) -> Self {
        PrintedService(Err(reason.to_string()))
    }

    pub fn unavailable_reason(&self) -> Option<&str> {
        self.0.as_ref().err().map(String::as_str)
    }

    /// Reads the printed text of an encoded image (JPEG or PNG). `upright_deg`: the clockwise rotation
    /// (quarter turns plus skew) that makes the page upright, when the MRZ reader found it; otherwise
    /// upright is tried first, then the other three quarter turns.
    pub fn read(&self, bytes: &[u8], upright_deg: Option<f32>) -> PrintedOutcome {
        if let Err(reason) = &self.0 {
            return PrintedOutcome::NotRead { reason: reason.clone() };
        }
        let Ok(image) = decode_bounded(bytes) else {
            return PrintedOutcome::NotRead { reason: "the image could not be decoded".into() };
        };
        self.read_luma(&crate::checks::grey::luma8(image), upright_deg)
    }

    /// The same, on an image already decoded to grey levels.
    pub fn read_luma(&self, luma: &image::GrayImage, upright_deg: Option<f32>) -> PrintedOutcome {
        let engine = match &self.0 {
            Ok(e) => e,
            Err(reason) => return PrintedOutcome::NotRead { reason: reason.clone() },
        };
        let started = Instant::now();
        if luma.width().max(luma.height()) < MIN_LEGIBLE_SIDE {
            return PrintedOutcome::NotRead { reason: "the image is too small to hold legible printed text".into() };
        }
        let mut gray = scaled(luma.clone());
        let order: Vec<u8> = match upright_deg {
            Some(deg) => {
                let turns = turns_from_degrees(deg);
                let skew = deg.rem_euclid(360.0) - f32::from(turns) * 90.0;
                let skew = if skew > 180.0 { skew - 360.0 } else { skew };
                // Tesseract reads a line tilted by a degree or two; more breaks words apart.
                if skew.abs() > 0.7 {
                    gray = rotate_small(&gray, skew);
                }
                vec![turns]
            }
            None => vec![0, 1, 3, 2],
        };
        let mut best: Option<PrintedRead> = None;
        for turns in order {
            let turned = match turns {
                1 => image::imageops::rotate90(&gray),
                2 => image::imageops::rotate180(&gray),
                3 => image::imageops::rotate270(&gray),
                _ => gray.clone(),
            };
            let words = match engine.words(&turned) {
                Ok(w) => w,
                Err(reason) => return PrintedOutcome::NotRead { reason },
            };
            let read = read_words(&words, turns);
            let labelled = read.fields.len();
            // Upright text gives labels; a page on its side gives none, or a few by chance.
            if best.as_ref().is_none_or(|b| labelled > b.fields.len()) {
                best = Some(read);
            }
            if labelled >= 2 {
                break;
            }
        }
        let mut read =
            best.unwrap_or(PrintedRead { fields: Vec::new(), text: String::new(), quarter_turns: 0, elapsed_ms: 0.0 });
        read.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        PrintedOutcome::Read(read)
    }
}

/// Quarter turns (clockwise) from the MRZ reader's rotation in degrees.
pub fn turns_from_degrees(deg: f32) -> u8 {
    ((deg.rem_euclid(360.0) / 90.0).round() as i64).rem_euclid(4) as u8
}

/// Rotates by a small angle (degrees, clockwise) about the centre, bilinear, white where the image ends.
fn rotate_small(gray: &image::GrayImage, deg: f32) -> image::GrayImage {
    let (w, h) = gray.dimensions();
    let (s, c) = (-deg.to_radians()).sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    image::GrayImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let sx = c * dx - s * dy + cx;
        let sy = s * dx + c * dy + cy;
        if sx < 0.0 || sy < 0.0 || sx >= (w - 1) as f32 || sy >= (h - 1) as f32 {
            return image::Luma([255]);
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let p = |x: u32, y: u32| f32::from(gray.get_pixel(x, y)[0]);
        let top = p(x0, y0) * (1.0 - fx) + p(x0 + 1, y0) * fx;
        let bottom = p(x0, y0 + 1) * (1.0 - fx) + p(x0 + 1, y0 + 1) * fx;
        image::Luma([(top * (1.0 - fy) + bottom * fy).round() as u8])
    })
}

fn scaled(gray: image::GrayImage) -> image::GrayImage {
    let long = gray.width().max(gray.height());
    let target = if long > MAX_SIDE {
        MAX_SIDE
    } else if long < MIN_SIDE {
        MIN_SIDE
    } else {
        return gray;
    };
    let f = f64::from(target) / f64::from(long);
    let (w, h) = ((f64::from(gray.width()) * f).round() as u32, (f64::from(gray.height()) * f).round() as u32);
    image::imageops::resize(&gray, w.max(1), h.max(1), image::imageops::FilterType::Triangle)
}

impl Engine {
    /// Runs Tesseract on one image: sparse text (labels and values scattered over a page), one thread
    /// (requests run side by side on the CPU pool), English data, TSV out.
    fn words(&self, gray: &image::GrayImage) -> Result<Vec<Word>, String> {
        let mut png = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageLuma8(gray.clone())
            .write_to(&mut png, image::ImageFormat::Png)
            .map_err(|_| "the image could not be prepared for reading".to_string())?;
        let mut child = Command::new(&self.program)
            .args(["stdin", "stdout", "-l", "eng", "--psm", "11", "--dpi", "300", "tsv"])
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("Tesseract could not be started: {}", e.kind()))?;
        let mut stdin = child.stdin.take().ok_or("Tesseract could not be started")?;
        let bytes = png.into_inner();
        // Written from another thread: Tesseract may start answering before it has read everything.
        let feeder = std::thread::spawn(move || stdin.write_all(&bytes));
        let out = child.wait_with_output().map_err(|e| format!("Tesseract failed: {}", e.kind()))?;
        let _ = feeder.join();
        if !out.status.success() {
            return Err("Tesseract could not read the image".into());
        }
        Ok(parse_tsv(&String::from_utf8_lossy(&out.stdout)))
    }
}

/// The words of Tesseract's TSV output (level 5 rows with text).
pub fn parse_tsv(tsv: &str) -> Vec<Word> {
    let mut out = Vec::new();
    for row in tsv.lines().skip(1) {
        let c: Vec<&str> = row.split('\t').collect();
        if c.len() < 12 || c[0] != "5" {
            continue;
        }
        let text = c[11].trim();
        if text.is_empty() {
            continue;
        }
        let n = |i: usize| c[i].parse::<i32>().unwrap_or(0);
        let u = |i: usize| c[i].parse::<u32>().unwrap_or(0);
        out.push(Word {
            text: text.to_string(),
            left: n(6),
            top: n(7),
            width: n(8),
            height: n(9),
            conf: c[10].parse::<f32>().unwrap_or(0.0).max(0.0),
            line: (u(2), u(3), u(4)),
        });
    }
    out
}

/// Groups words into Tesseract's lines, in reading order.
fn lines(words: &[Word]) -> Vec<Vec<&Word>> {
    let mut out: Vec<Vec<&Word>> = Vec::new();
    for w in words {
        match out.last_mut() {
            Some(l) if l[0].line == w.line => l.push(w),
            _ => out.push(vec![w]),
        }
    }
    out
}

/// An MRZ line as printed text (fillers, or a long run of capitals and digits): left out of the text.
fn mrz_like(line: &str) -> bool {
    let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("<<")
        || (compact.len() >= 28 && compact.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<'))
}

/// The labels of each field, as words (lower case, letters only). Bilingual labels (`Surname / Nom`) are
/// found by either language.
const LABELS: &[(&str, &[&[&str]])] = &[
    ("last_name", &[&["surname"], &["last", "name"], &["family", "name"], &["nom"]]),
    ("first_name", &[&["given", "names"], &["given", "name"], &["first", "name"], &["forenames"], &["prenoms"]]),
    ("date_of_birth", &[&["date", "of", "birth"], &["birth", "date"], &["dob"]]),
    ("date_of_expiry", &[&["date", "of", "expiry"], &["expiry", "date"], &["expires"], &["valid", "until"], &["exp"]]),
    (
        "document_number",
        &[
            &["document", "no"],
            &["document", "number"],
            &["passport", "no"],
            &["passport", "number"],
            &["card", "no"],
            &["licence", "no"],
            &["license", "no"],
        ],
    ),
    ("nationality", &[&["nationality"]]),
    ("sex", &[&["sex"]]),
];

fn letters(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            'é' | 'É' | 'è' => Some('e'),
            c if c.is_ascii_alphabetic() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// Whether a word read is the label word `want`: equal, or one edit away for words of five letters or more
/// (`Sumame` for `Surname`: label text is small and Tesseract often merges `rn`).
fn word_is(read: &str, want: &str) -> bool {
    let r = letters(read);
    if r == want {
        return true;
    }
    want.len() >= 5 && edit_distance(&r, want) <= if want.len() >= 7 { 2 } else { 1 }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A label found: the words it spans within its line.
struct LabelAt<'a> {
    line: usize,
    first: usize,
    last: usize,
    words: Vec<&'a Word>,
}

fn find_label<'a>(lines: &[Vec<&'a Word>], alternatives: &[&[&str]]) -> Option<LabelAt<'a>> {
    for alt in alternatives {
        for (li, line) in lines.iter().enumerate() {
            'start: for s in 0..line.len() {
                if s + alt.len() > line.len() {
                    break;
                }
                for (k, want) in alt.iter().enumerate() {
                    if !word_is(&line[s + k].text, want) {
                        continue 'start;
                    }
                }
                // `Date of birth` must not be read as the start of `Date of birth / Place ...`'s value; a
                // label is a label wherever it stands.
                return Some(LabelAt {
                    line: li,
                    first: s,
                    last: s + alt.len() - 1,
                    words: line[s..s + alt.len()].to_vec(),
                });
            }
        }
    }
    None
}

/// The value printed under a label: the first line below it (within about two label heights) that starts
/// near the label's left edge, taken while its words follow each other closely (a wide gap is the next
/// column).
fn value_below<'a>(lines: &[Vec<&'a Word>], label: &LabelAt<'a>) -> Option<Vec<&'a Word>> {
    let h = label.words.iter().map(|w| w.height).max()?.max(4);
    let left = label.words[0].left;
    let bottom = label.words.iter().map(|w| w.bottom()).max()?;
    let mut best: Option<(i32, Vec<&Word>)> = None;
    for line in lines {
        for (i, w) in line.iter().enumerate() {
            let dy = w.top - bottom;
            if dy < -h / 3 || dy > 3 * h || (w.left - left).abs() > 2 * h {
                continue;
            }
            if label.words.iter().any(|l| std::ptr::eq(*l, *w)) {
                continue;
            }
            let mut taken = vec![*w];
            for next in &line[i + 1..] {
                let prev = taken.last()?;
                if next.left - prev.right() > (prev.height.max(next.height) * 3) / 2 {
                    break;
                }
                taken.push(next);
            }
            if best.as_ref().is_none_or(|(d, _)| dy < *d) {
                best = Some((dy, taken));
            }
        }
    }
    best.map(|(_, t)| t)
}

/// The value after a label on its own line (`Surname: SMITH`), up to a wide gap.
fn value_after<'a>(lines: &[Vec<&'a Word>], label: &LabelAt<'a>) -> Option<Vec<&'a Word>> {
    let line = &lines[label.line];
    let last = line[label.last];
    let colon = last.text.ends_with(':') || line.get(label.last + 1).is_some_and(|w| w.text.starts_with(':'));
    if !colon {
        return None;
    }
    let mut taken: Vec<&Word> = Vec::new();
    for w in &line[label.last + 1..] {
        if w.text == ":" {
            continue;
        }
        let prev_right = taken.last().map_or(last.right(), |p| p.right());
        if w.left - prev_right > w.height * 2 {
            break;
        }
        taken.push(w);
    }
    let _ = label.first;
    (!taken.is_empty()).then_some(taken)
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// A printed date as `YYYY-MM-DD`: `12 MAR 1985`, `12.03.1985`, `12/03/1985` or `1985-03-12`. Month names
/// are matched after Tesseract's usual letter-for-digit slips (0 for O, 1 for I) are undone.
pub fn parse_date(text: &str) -> Option<String> {
    let cleaned: String =
        text.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_uppercase() } else { ' ' }).collect();
    let parts: Vec<&str> = cleaned.split_whitespace().collect();
    let digits = |s: &str| -> Option<u32> {
        let fixed: String = s
            .chars()
            .map(|c| match c {
                'O' | 'D' => '0',
                'I' | 'L' => '1',
                'S' => '5',
                'B' => '8',
                c => c,
            })
            .collect();
        fixed.chars().all(|c| c.is_ascii_digit()).then(|| fixed.parse().ok()).flatten()
    };
    let (y, m, d) = match parts.as_slice() {
        [d, mon, y, ..] if mon.chars().any(|c| c.is_ascii_alphabetic()) && mon.len() >= 3 => {
            let mon: String = mon
                .chars()
                .take(3)
                .map(|c| match c {
                    '0' => 'O',
                    '1' => 'I',
                    '5' => 'S',
                    c => c,
                })
                .collect();
            let m = MONTHS.iter().position(|x| *x == mon)? as u32 + 1;
            (digits(y)?, m, digits(d)?)
        }
        [y, m, d, ..] if y.len() == 4 => (digits(y)?, digits(m)?, digits(d)?),
        [d, m, y, ..] if y.len() == 4 => (digits(y)?, digits(m)?, digits(d)?),
        _ => return None,
    };
    if !(1900..=2100).contains(&y) {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?).ok()?;
    Some(date.to_string())
}

/// The value in the field's shape, and how well it fits (1: clean; lower: repaired or odd).
fn shape(field: &str, raw: &str) -> Option<(String, f64)> {
    match field {
        "date_of_birth" | "date_of_expiry" => parse_date(raw).map(|d| (d, 1.0)),
        "document_number" => {
            let v: String = raw.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
            let ok = (5..=14).contains(&v.len());
            ok.then_some((v, if raw.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ') { 1.0 } else { 0.7 }))
        }
        "sex" => {
            let v = raw.trim().chars().next()?.to_ascii_uppercase();
            matches!(v, 'M' | 'F' | 'X').then(|| (v.to_string(), 1.0))
        }
        _ => {
            // Names and nationality: letters, spaces, hyphens, apostrophes. A digit is a misread.
            let v = raw.split_whitespace().collect::<Vec<_>>().join(" ");
            if v.is_empty() || v.chars().all(|c| !c.is_alphabetic()) {
                return None;
            }
            let clean = v.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\''));
            Some((v, if clean { 1.0 } else { 0.5 }))
        }
    }
}

/// The printed fields and text of one reading of the words.
pub fn read_words(words: &[Word], quarter_turns: u8) -> PrintedRead {
    let lines = lines(words);
    let text = lines
        .iter()
        .map(|l| l.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "))
        .filter(|l| !mrz_like(l))
        .collect::<Vec<_>>()
        .join("\n");
    let mut fields = Vec::new();
    for (name, alternatives) in LABELS {
        let Some(label) = find_label(&lines, alternatives) else { continue };
        let found = value_below(&lines, &label)
            .map(|v| (v, "below_label", 1.0))
            .or_else(|| value_after(&lines, &label).map(|v| (v, "after_label", 0.9)));
        let Some((value_words, method, factor)) = found else { continue };
        // A value word that is itself another field's label means the value was not printed there.
        if value_words.iter().any(|w| {
            LABELS
                .iter()
                .any(|(_, alts)| alts.iter().any(|a| a.len() == 1 && word_is(&w.text, a[0]) && a[0].len() >= 5))
        }) {
            continue;
        }
        let raw = value_words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        let Some((value, fit)) = shape(name, &raw) else { continue };
        let conf = value_words.iter().map(|w| f64::from(w.conf)).fold(100.0, f64::min) / 100.0;
        fields.push(PrintedField { name, value, confidence: (conf * factor * fit * 100.0).round() / 100.0, method });
    }
    dates_by_order(&lines, &mut fields);
    PrintedRead { fields, text, quarter_turns, elapsed_ms: 0.0 }
}

/// Dates whose labels were not read: on identity documents the date of birth is the earliest printed date
/// and the expiry the latest (the issue date lies between). Found this way, a date is trusted less.
fn dates_by_order(lines: &[Vec<&Word>], fields: &mut Vec<PrintedField>) {
    let has = |fields: &Vec<PrintedField>, n: &str| fields.iter().any(|f| f.name == n);
    if has(fields, "date_of_birth") && has(fields, "date_of_expiry") {
        return;
    }
    let mut dates: Vec<(String, f64)> = Vec::new();
    for line in lines {
        for start in 0..line.len() {
            let window = &line[start..(start + 3).min(line.len())];
            let raw = window.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
            let Some(d) = parse_date(&raw) else { continue };
            let conf = window.iter().map(|w| f64::from(w.conf)).fold(100.0, f64::min) / 100.0;
            if !dates.iter().any(|(x, _)| *x == d) {
                dates.push((d, conf));
            }
        }
    }
    if dates.len() < 2 {
        return;
    }
    dates.sort_by(|a, b| a.0.cmp(&b.0));
    let taken: Vec<String> = fields.iter().map(|f| f.value.clone()).collect();
    let put = |fields: &mut Vec<PrintedField>, name: &'static str, (value, conf): (String, f64)| {
        if !has(fields, name) && !taken.contains(&value) {
            // Never trusted enough to be held against another reading: the order is a convention only.
            let confidence = (conf * 0.5 * 100.0).round() / 100.0;
            fields.push(PrintedField { name, value, confidence, method: "date_order" });
        }
    };
    put(fields, "date_of_birth", dates[0].clone());
    put(fields, "date_of_expiry", dates[dates.len() - 1].clone());
}

/// How a printed field compares with another reading of the same document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    Agrees,
    Disagrees,
    /// The other reading has no such field, or it cannot be compared (a nationality printed as a name).
    NotCompared,
}

/// Compares printed fields with a parsed MRZ by the MRZ's own rules (names reduced to MRZ letters, dates
/// by their YYMMDD digits, numbers without separators). Returns (field, agreement, detail naming no value).
pub fn compare_with_mrz(printed: &PrintedRead, data: &MrzData) -> Vec<(&'static str, Agreement, String)> {
    let get = |k: &str| printed.field(k).map(|f| f.value.clone());
    let date = |k: &str| {
        get(k).and_then(|d| time::Date::parse(&d, time::macros::format_description!("[year]-[month]-[day]")).ok())
    };
    let nationality = get("nationality").filter(|n| n.len() == 3 && n.chars().all(|c| c.is_ascii_uppercase()));
    let entered = mrz::Entered {
        first_name: get("first_name"),
        last_name: get("last_name"),
        date_of_birth: date("date_of_birth"),
        document_number: get("document_number"),
        nationality,
        expiry: date("date_of_expiry"),
    };
    let mut out = Vec::new();
    for c in mrz::compare(data, &entered) {
        let field = match c.field {
            mrz::ComparedField::FirstName => "first_name",
            mrz::ComparedField::LastName => "last_name",
            mrz::ComparedField::DateOfBirth => "date_of_birth",
            mrz::ComparedField::DocumentNumber => "document_number",
            mrz::ComparedField::Nationality => "nationality",
            mrz::ComparedField::Expiry => "date_of_expiry",
        };
        let zone_name = match field {
            "first_name" => Some(&data.secondary_identifier),
            "last_name" => Some(&data.primary_identifier),
            "document_number" => Some(&data.document_number),
            _ => None,
        };
        // Given names read only in part (the first of them, the rest lost to a gap) are the zone's first ones.
        let partial = field == "first_name"
            && get(field).is_some_and(|p| {
                let (p, z) = (skeleton_words(&p), skeleton_words(&data.secondary_identifier));
                !p.is_empty() && p.len() < z.len() && z.starts_with(&p)
            });
        let confusable = |z: &String| get(field).is_some_and(|p| skeleton(&p) == skeleton(z));
        let agreement = match c.outcome {
            mrz::FieldOutcome::Match => Agreement::Agrees,
            mrz::FieldOutcome::Mismatch if partial => {
                out.push((field, Agreement::Agrees, "the printed given names read are the zone's first ones".into()));
                continue;
            }
            mrz::FieldOutcome::Mismatch if zone_name.is_some_and(confusable) => {
                out.push((field, Agreement::Agrees, "equal up to letters Tesseract confuses (I/l, O/0)".into()));
                continue;
            }
            mrz::FieldOutcome::Mismatch => Agreement::Disagrees,
            mrz::FieldOutcome::NotEntered | mrz::FieldOutcome::NotInMrz => continue,
        };
        out.push((field, agreement, c.detail.replace("entered", "printed")));
    }
    if let Some(sex) = get("sex") {
        let zone = match data.sex {
            mrz::Sex::Male => "M",
            mrz::Sex::Female => "F",
            mrz::Sex::Unspecified => "X",
        };
        let agreement = if sex == zone { Agreement::Agrees } else { Agreement::Disagrees };
        out.push(("sex", agreement, "the printed sex against the zone's".into()));
    }
    out
}

/// A name reduced to what a misread cannot change: accents and case gone, and the letters Tesseract
/// confuses in sans-serif print folded together (I, l, 1 and |; O, 0 and Q; S and 5; B and 8; rn and m).
fn skeleton(name: &str) -> String {
    let plain = crate::crypto::blind::name(name).replace("rn", "m");
    plain
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            'i' | 'l' | '1' | '|' | 'j' => 'i',
            'o' | '0' | 'q' => 'o',
            's' | '5' => 's',
            'b' | '8' => 'b',
            c => c,
        })
        .collect()
}

fn skeleton_words(name: &str) -> Vec<String> {
    crate::crypto::blind::name(&name.replace('<', " ")).split(' ').filter(|w| !w.is_empty()).map(skeleton).collect()
}

/// Compares one printed field with a value from elsewhere (typed, barcode): names after normalising case,
/// accents and separators (a typed first name may be the first of the printed given names), dates as dates,
/// numbers without separators.
pub fn agrees(field: &str, printed: &str, other: &str) -> Agreement {
    let other = other.trim();
    if other.is_empty() {
        return Agreement::NotCompared;
    }
    let same = match field {
        "date_of_birth" | "date_of_expiry" | "document_expiration_date" => {
            Some(printed.get(..10) == other.get(..10).or(Some(other)))
        }
        "document_number" => {
            let n = |s: &str| {
                s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect::<String>()
            };
            Some(n(printed) == n(other))
        }
        "sex" => Some(printed.eq_ignore_ascii_case(other.get(..1).unwrap_or(""))),
        "nationality" => None,
        _ => {
            let p = crate::crypto::blind::name(printed);
            let o = crate::crypto::blind::name(other);
            let first = |s: &str| s.split(' ').next().map(skeleton);
            Some(
                p == o
                    || skeleton(&p) == skeleton(&o)
                    || (field == "first_name" && first(&p).is_some() && first(&p) == Some(skeleton(&o))),
            )
        }
    };
    match same {
        Some(true) => Agreement::Agrees,
        Some(false) => Agreement::Disagrees,
        None => Agreement::NotCompared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str, left: i32, top: i32, height: i32, line: u32, conf: f32) -> Word {
        Word { text: text.into(), left, top, width: text.len() as i32 * height / 2, height, conf, line: (1, line, 1) }
    }

    #[test]
    fn values_are_read_under_their_labels_and_dates_in_their_printed_forms() {
        let words = vec![
            w("Sumame", 100, 100, 12, 1, 91.0),
            w("/", 160, 100, 12, 1, 90.0),
            w("Nom", 170, 100, 12, 1, 90.0),
            w("Patel", 100, 120, 20, 2, 95.0),
            w("Date", 100, 200, 12, 3, 96.0),
            w("of", 130, 200, 12, 3, 96.0),
            w("birth", 150, 200, 12, 3, 96.0),
            w("Sex", 400, 200, 12, 3, 96.0),
            w("18", 100, 220, 20, 4, 88.0),
            w("APR", 125, 220, 20, 4, 90.0),
            w("1945", 160, 220, 20, 4, 93.0),
            w("F", 400, 220, 20, 4, 80.0),
            w("P<UTOPATEL<<YOSEF<<<<<<<<<<<<<<<<<<<<<<<<<<", 50, 400, 20, 5, 80.0),
        ];
        let r = read_words(&words, 0);
        assert_eq!(r.field("last_name").unwrap().value, "Patel");
        assert_eq!(r.field("last_name").unwrap().method, "below_label");
        assert_eq!(r.field("date_of_birth").unwrap().value, "1945-04-18");
        assert!((r.field("date_of_birth").unwrap().confidence - 0.88).abs() < 1e-9);
        assert_eq!(r.field("sex").unwrap().value, "F");
        assert!(r.field("first_name").is_none(), "no label, no field");
        assert!(!r.text.contains("<<"), "the MRZ lines are not printed text");
        assert!(r.text.contains("Patel"));
    }

    #[test]
    fn dates_parse_in_the_usual_printed_forms_and_nonsense_does_not() {
        assert_eq!(parse_date("12 MAY 2029").as_deref(), Some("2029-05-12"));
        assert_eq!(parse_date("12 MAY 2O29").as_deref(), Some("2029-05-12"));
        assert_eq!(parse_date("01.02.1990").as_deref(), Some("1990-02-01"));
        assert_eq!(parse_date("1990-02-01").as_deref(), Some("1990-02-01"));
        assert_eq!(parse_date("31 FEB 1990"), None);
        assert_eq!(parse_date("Reykjavik"), None);
    }

    #[test]
    fn an_image_too_small_for_legible_text_is_not_read() {
        let s = PrintedService::start();
        if s.unavailable_reason().is_some() {
            return; // without Tesseract every image is not read, for its own reason (next test)
        }
        let mut png = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(64, 64, image::Luma([200])))
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        match s.read(png.get_ref(), None) {
            PrintedOutcome::NotRead { reason } => assert!(reason.contains("too small"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_engine_reads_nothing_and_says_why() {
        let s = PrintedService::with_program("/nonexistent/tesseract");
        assert!(s.unavailable_reason().unwrap().contains("tesseract-ocr"));
        match s.read(b"whatever", None) {
            PrintedOutcome::NotRead { reason } => assert!(reason.contains("not installed")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn agreement_normalises_like_the_mrz_comparison() {
        assert_eq!(agrees("last_name", "Müller", "MULLER"), Agreement::Agrees);
        assert_eq!(agrees("first_name", "Anna Maria", "anna"), Agreement::Agrees);
        assert_eq!(agrees("last_name", "Patel", "Smith"), Agreement::Disagrees);
        assert_eq!(agrees("first_name", "Yosef loana", "YOSEF IOANA"), Agreement::Agrees, "l read for I");
        assert_eq!(agrees("last_name", "Smyth", "Smith"), Agreement::Disagrees, "a changed letter is no misread");
        assert_eq!(agrees("document_number", "L898 902C3", "L898902C3"), Agreement::Agrees);
        assert_eq!(agrees("date_of_birth", "1974-08-12", "1974-08-12"), Agreement::Agrees);
        assert_eq!(agrees("nationality", "UTOPIAN", "UTO"), Agreement::NotCompared);
    }
}
