//! Reading the machine-readable zone from a document photo, offline: locate the band (quarter turns, skew),
//! recognise it on the MRZ's fixed character pitch against OCR-B templates rendered from Debian's font, and
//! accept a read only when every check digit holds with characters the recogniser itself offered and the
//! uncovered fields are plausible. (With the `ocr` feature, the earlier Tesseract reader is kept for
//! comparison.) Owns the image side of MRZ reading; must not decide a document check (callers compare and
//! weigh), log document content, or ever report a read it could not make.

mod choose;
#[cfg(feature = "ocr")]
mod engine;
mod glyphs;
mod locate;
mod pitch;
#[cfg(test)]
mod tests;

use std::time::Instant;

use serde::Serialize;

use crate::checks::mrz::{MrzReport, ParseOptions};

pub use choose::{choose, choose_with, Chosen, Policy};
#[cfg(feature = "ocr")]
pub use engine::EngineError;
pub use glyphs::{GlyphError, DEFAULT_FONT_PATH};

/// The characters an MRZ may hold; the recognisers know no others.
pub const MRZ_ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";

/// One recognised character and the alternatives the recogniser offered for it, best first, each with the
/// recogniser's own confidence. The first entry is its top choice.
#[derive(Clone, Debug, PartialEq)]
pub struct Symbol {
    pub choices: Vec<(char, f32)>,
    /// The recogniser's best characters of the other class (digits for a letter, letters for a digit), best
    /// first, with their confidence: considered only where the position's kind rules out every choice (a
    /// date's `0` that looked a little more like `O`), and then as alternatives like any other.
    pub fallback: Vec<(char, f32)>,
}

/// The largest image accepted, in pixels (width times height); larger photos are refused, not decoded.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Below this long side no zone can be read, and none is searched for: the shortest line (30 characters)
/// would have 4 pixels a character, and the recogniser needs about 8 (the smallest read found is three
/// 30-character lines cut tight, 250 pixels wide; 200 fails). Searching a thumbnail costs more than
/// its size suggests, since the search first scales the image up to its working size.
pub const MIN_LONG_SIDE: u32 = 120;
/// Candidate bands recognised per image, most likely first (each is tried both ways up).
const MAX_BANDS: usize = 3;

/// Why reading could not even be attempted. Never a pass: the caller reports the image as unread.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MrzImageError {
    #[error(transparent)]
    Glyphs(#[from] GlyphError),
    #[cfg(feature = "ocr")]
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A field's confidence: the lowest confidence among the field's chosen characters (template reader: the
/// correlation with the OCR-B glyph, x100; Tesseract: its own 0-100).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldConfidence {
    pub field: &'static str,
    pub confidence: f32,
}

/// An accepted read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MrzRead {
    pub report: MrzReport,
    /// The zone's text, one string a line. Document content: never log it.
    #[serde(skip)]
    pub lines: Vec<String>,
    pub field_confidence: Vec<FieldConfidence>,
    /// Characters taken from the recogniser's alternatives rather than its top choice.
    pub alternatives_used: usize,
    /// Quarter turns (clockwise) and skew (degrees) that made the zone upright.
    pub rotation_deg: f32,
    pub elapsed_ms: f64,
}

/// What reading an image gave: a read, or no readable MRZ and why (the reason names no document content).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MrzImageOutcome {
    Read(Box<MrzRead>),
    NoRead { reason: String, elapsed_ms: f64 },
}

impl MrzImageOutcome {
    pub fn read(&self) -> Option<&MrzRead> {
        match self {
            Self::Read(r) => Some(r),
            Self::NoRead { .. } => None,
        }
    }
}

/// The server's MRZ reader, or why it has none: the reason is said once at start and given for every photo,
/// which is then reported as not read (never passed). Cheap to clone.
#[derive(Clone)]
pub struct MrzService(Result<std::sync::Arc<MrzImageReader>, String>);

impl MrzService {
    /// Builds the reader from Debian's OCR-B font.
    pub fn start() -> Self {
        Self::from(MrzImageReader::new())
    }

    /// Why photos cannot be read on this server, if they cannot.
    pub fn unavailable_reason(&self) -> Option<&str> {
        self.0.as_ref().err().map(String::as_str)
    }

    /// Reads the zone of a photo, judging date centuries against `today`; accepted only as
    /// [`MrzImageReader::read`] accepts. Specimen states are read (whether they pass is the caller's rule).
    pub fn read(&self, bytes: &[u8], today: time::Date) -> MrzImageOutcome {
        self.with_reader(today, |reader, options| reader.read(bytes, options))
    }

    /// The same, on a photo already decoded to grey levels.
    pub fn read_luma(&self, gray: &image::GrayImage, today: time::Date) -> MrzImageOutcome {
        self.with_reader(today, |reader, options| reader.read_luma(gray, options))
    }

    fn with_reader(
        &self,
        today: time::Date,
        read: impl FnOnce(&MrzImageReader, &ParseOptions) -> MrzImageOutcome,
    ) -> MrzImageOutcome {
        match &self.0 {
            Ok(reader) => {
                let mut options = ParseOptions::new(today);
                options.allow_specimen_states = true;
                read(reader, &options)
            }
            Err(reason) => MrzImageOutcome::NoRead { reason: reason.clone(), elapsed_ms: 0.0 },
        }
    }

    /// The zone's text (lines joined by newlines) when a photo's zone is read.
    pub fn read_text(&self, bytes: &[u8], today: time::Date) -> Option<String> {
        self.read(bytes, today).read().map(|r| r.lines.join("\n"))
    }
}

impl From<Result<MrzImageReader, MrzImageError>> for MrzService {
    fn from(reader: Result<MrzImageReader, MrzImageError>) -> Self {
        MrzService(reader.map(std::sync::Arc::new).map_err(|e| format!("no MRZ reader on this server: {e}")))
    }
}

/// Line height (pixels, as the band search measures it) the band is cut at for the template recogniser.
const CROP_LINE_HEIGHT: f32 = 30.0;

/// The MRZ reader: OCR-B templates built once, then read-only. `Send + Sync`: one reader can serve every
/// request (e.g. behind an `Arc`), no lock needed.
pub struct MrzImageReader {
    glyphs: glyphs::Glyphs,
    policy: Policy,
}

impl MrzImageReader {
    /// Builds the templates from Debian's OCR-B font; an error (never a silent pass) when it is missing.
    pub fn new() -> Result<Self, MrzImageError> {
        Self::with_font(DEFAULT_FONT_PATH)
    }

    /// Builds the templates from the OCR-B font at `path`.
    pub fn with_font(path: &str) -> Result<Self, MrzImageError> {
        Ok(Self { glyphs: glyphs::Glyphs::load(path)?, policy: Policy::TEMPLATES })
    }

    /// The same reader weighing alternatives by `policy` instead of [`Policy::TEMPLATES`] (for measuring).
    pub fn with_policy(self, policy: Policy) -> Self {
        Self { policy, ..self }
    }

    /// Reads the MRZ of an encoded image (JPEG or PNG).
    pub fn read(&self, bytes: &[u8], options: &ParseOptions) -> MrzImageOutcome {
        let started = Instant::now();
        match decode(bytes) {
            Ok(gray) => self.read_decoded(&gray, options, started),
            Err(reason) => MrzImageOutcome::NoRead { reason, elapsed_ms: started.elapsed().as_secs_f64() * 1000.0 },
        }
    }

    /// Reads the MRZ of an image already decoded to grey levels (an upload decoded once for all its readings).
    pub fn read_luma(&self, gray: &image::GrayImage, options: &ParseOptions) -> MrzImageOutcome {
        let started = Instant::now();
        if u64::from(gray.width()) * u64::from(gray.height()) > MAX_PIXELS {
            return MrzImageOutcome::NoRead { reason: "the image is too large".into(), elapsed_ms: 0.0 };
        }
        self.read_decoded(gray, options, started)
    }

    fn read_decoded(&self, gray: &image::GrayImage, options: &ParseOptions, started: Instant) -> MrzImageOutcome {
        let elapsed = || started.elapsed().as_secs_f64() * 1000.0;
        if gray.width().max(gray.height()) < MIN_LONG_SIDE {
            let reason =
                format!("the image is too small to hold a machine-readable zone (under {MIN_LONG_SIDE} pixels)");
            return MrzImageOutcome::NoRead { reason, elapsed_ms: elapsed() };
        }
        let mut reason = String::from("no MRZ-shaped text lines found");
        let mut first_reason = true;
        for (crop, turn) in upright_crops(gray) {
            match self.read_band(&crop, options) {
                Ok(c) => return MrzImageOutcome::Read(Box::new(MrzRead::new(c, turn, elapsed()))),
                // The first band the right way up says most about why nothing was read.
                Err(r) if first_reason => {
                    reason = r;
                    first_reason = false;
                }
                Err(_) => {}
            }
        }
        MrzImageOutcome::NoRead { reason, elapsed_ms: elapsed() }
    }

    /// What the recogniser sees (for tuning): per candidate band and way up, the cut band and, per line
    /// found, its estimated cell count and top-choice text (or why it could not be read).
    pub fn diagnose(&self, bytes: &[u8]) -> Vec<(image::GrayImage, Vec<String>)> {
        let Ok(gray) = decode(bytes) else { return Vec::new() };
        let mut out = Vec::new();
        for (crop, _) in upright_crops(&gray) {
            let lines = pitch::find_lines(&crop);
            let n = match lines.len() {
                3 => 30,
                _ if lines.iter().map(|l| l.cells_estimate(self.glyphs.pitch)).sum::<f32>() < 80.0 => 36,
                _ => 44,
            };
            let text = lines
                .iter()
                .map(|l| {
                    let est = l.cells_estimate(self.glyphs.pitch);
                    match pitch::read_line(&crop, l, n, &self.glyphs) {
                        Ok(sy) => format!(
                            "{est:5.1} {}  min {:.2}",
                            sy.iter().map(|s| s.choices[0].0).collect::<String>(),
                            sy.iter().map(|s| s.choices[0].1).fold(100.0f32, f32::min) / 100.0
                        ),
                        Err(e) => format!("{est:5.1} {e}"),
                    }
                })
                .collect::<Vec<String>>();
            let mut text = text;
            let mut options = ParseOptions::new(time::OffsetDateTime::now_utc().date());
            options.allow_specimen_states = true;
            text.push(match self.read_band(&crop, &options) {
                Ok(c) => format!("accepted ({} alternatives used)", c.alternatives_used),
                Err(r) => format!("refused: {r}"),
            });
            out.push((crop, text));
        }
        out
    }

    /// Every reading of an image the recogniser makes (for tuning): per candidate band, way up, group of lines
    /// and cell count, each line's cells with the characters offered for them.
    pub fn cells(&self, bytes: &[u8]) -> Vec<Vec<Vec<Symbol>>> {
        let Ok(gray) = decode(bytes) else { return Vec::new() };
        let mut out = Vec::new();
        for (crop, _) in upright_crops(&gray) {
            let lines = pitch::find_lines(&crop);
            for group in line_groups(&lines) {
                let counts: &[usize] = if group.len() == 3 { &[30] } else { &[36, 44] };
                for &n in counts {
                    let read: Result<Vec<Vec<Symbol>>, String> =
                        group.iter().map(|line| pitch::read_line(&crop, line, n, &self.glyphs)).collect();
                    out.extend(read.ok());
                }
            }
        }
        out
    }

    /// Reads an upright band: its lines, each cut into the cells its format's length says.
    fn read_band(&self, crop: &image::GrayImage, options: &ParseOptions) -> Result<Chosen, String> {
        let lines = pitch::find_lines(crop);
        let groups = line_groups(&lines);
        if groups.is_empty() {
            return Err(format!("{} text lines where an MRZ has 2 or 3", lines.len()));
        }
        let mut reason = String::new();
        for group in groups {
            let est = group.iter().map(|l| l.cells_estimate(self.glyphs.pitch)).sum::<f32>() / group.len() as f32;
            let counts: &[usize] = match group.len() {
                3 => &[30],
                _ if est < 40.0 => &[36, 44],
                _ => &[44, 36],
            };
            for &n in counts {
                // The first line starts with letters: its estimate is the better one.
                if (group[0].cells_estimate(self.glyphs.pitch) - n as f32).abs() > 0.2 * n as f32 {
                    continue;
                }
                // A line that cannot be cut into n cells rules out this count and group only: the next
                // group (two of three lines) or count may still read.
                let read: Result<Vec<Vec<Symbol>>, String> =
                    group.iter().map(|line| pitch::read_line(crop, line, n, &self.glyphs)).collect();
                let read = match read {
                    Ok(read) => read,
                    Err(r) => {
                        if reason.is_empty() {
                            reason = r;
                        }
                        continue;
                    }
                };
                match choose_with(&read, options, &self.policy) {
                    Ok(c) => return Ok(c),
                    Err(r) => reason = r,
                }
            }
        }
        Err(if reason.is_empty() { "the lines' length fits no MRZ format".into() } else { reason })
    }
}

impl MrzRead {
    fn new(c: Chosen, turn_deg: f32, elapsed_ms: f64) -> Self {
        MrzRead {
            report: c.report,
            lines: c.lines,
            field_confidence: c
                .field_confidence
                .into_iter()
                .map(|(field, confidence)| FieldConfidence { field, confidence })
                .collect(),
            alternatives_used: c.alternatives_used,
            rotation_deg: turn_deg.rem_euclid(360.0),
            elapsed_ms,
        }
    }
}

/// The first reader: Tesseract's LSTM, one engine used by one caller at a time (feature `ocr`).
#[cfg(feature = "ocr")]
pub struct TesseractMrzReader {
    engine: engine::Engine,
}

#[cfg(feature = "ocr")]
impl TesseractMrzReader {
    /// Starts the engine; an error (never a silent pass) when Tesseract's language data is missing.
    pub fn new() -> Result<Self, MrzImageError> {
        Ok(Self { engine: engine::Engine::new()? })
    }

    /// Reads the MRZ of an encoded image (JPEG or PNG).
    pub fn read(&mut self, bytes: &[u8], options: &ParseOptions) -> MrzImageOutcome {
        let started = Instant::now();
        let elapsed = || started.elapsed().as_secs_f64() * 1000.0;
        let gray = match decode(bytes) {
            Ok(g) => g,
            Err(reason) => return MrzImageOutcome::NoRead { reason, elapsed_ms: elapsed() },
        };
        let mut reason = String::from("no MRZ-shaped text lines found");
        for band in locate::find_bands(&gray).into_iter().take(MAX_BANDS) {
            for flip in [band.upper, !band.upper] {
                let crop = band.crop(&gray, flip);
                let lines = self.engine.recognise(crop.as_raw(), crop.width(), crop.height(), false);
                let lines: Vec<Vec<Symbol>> = lines.into_iter().filter(|l| l.len() >= 20).collect();
                match choose(&lines, options) {
                    Ok(c) => {
                        let turn = band.frame.angle.to_degrees() + if flip { 180.0 } else { 0.0 };
                        return MrzImageOutcome::Read(Box::new(MrzRead::new(c, turn, elapsed())));
                    }
                    Err(r) => reason = r,
                }
            }
        }
        MrzImageOutcome::NoRead { reason, elapsed_ms: elapsed() }
    }
}

/// The candidate bands of an image, most likely first, each cut upright both ways up (a band in the upper
/// half of the page first upside down: the zone sits at the bottom of an upright page), with the turn in
/// degrees that made it upright. Lazy: a caller that reads the first band cuts no other.
fn upright_crops(gray: &image::GrayImage) -> impl Iterator<Item = (image::GrayImage, f32)> + '_ {
    // The bands a quarter turn away are looked for only once those at the estimated angle are all tried.
    let turns: &[bool] = if locate::wider_search(gray) { &[false, true] } else { &[false] };
    let bands = turns.iter().flat_map(move |&turned| {
        let found = if turned { locate::find_bands_turned(gray) } else { locate::find_bands(gray) };
        found.into_iter().take(MAX_BANDS)
    });
    bands.flat_map(move |band| {
        let band = band.refined(gray);
        [band.upper, !band.upper].into_iter().map(move |flip| {
            let turn = band.frame.angle.to_degrees() + if flip { 180.0 } else { 0.0 };
            (band.crop_to(gray, flip, CROP_LINE_HEIGHT), turn)
        })
    })
}

/// The groups of lines an MRZ may be: three lines are an identity card's; two of three may be a passport's
/// with something else in the band; none for any other count.
fn line_groups(lines: &[pitch::Line]) -> Vec<&[pitch::Line]> {
    match lines.len() {
        3 => vec![lines, &lines[1..], &lines[..2]],
        2 => vec![lines],
        _ => Vec::new(),
    }
}

fn decode(bytes: &[u8]) -> Result<image::GrayImage, String> {
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| "the image could not be read".to_string())?;
    let (w, h) = reader.into_dimensions().map_err(|_| "the image could not be decoded".to_string())?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err("the image is too large".into());
    }
    let img = image::load_from_memory(bytes).map_err(|_| "the image could not be decoded".to_string())?;
    Ok(crate::checks::grey::luma8(img))
}
