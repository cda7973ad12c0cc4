//! Reading the machine-readable zone from a document photo, offline: locate the band (quarter turns, skew),
//! recognise it with Tesseract restricted to the MRZ alphabet, and accept a read only when every check digit
//! holds with characters the engine itself offered and the uncovered fields are plausible. Owns the image
//! side of MRZ reading; must not decide a document check (callers compare and weigh), log document content,
//! or ever report a read it could not make.

mod choose;
mod engine;
mod locate;
#[cfg(test)]
mod tests;

use std::time::Instant;

use serde::Serialize;

use crate::checks::mrz::{MrzReport, ParseOptions};

pub use choose::{choose, Chosen};
pub use engine::{EngineError, Symbol, MRZ_ALPHABET};

/// The largest image accepted, in pixels (width times height); larger photos are refused, not decoded.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Candidate bands recognised per image, most likely first (each costs up to two engine runs).
const MAX_BANDS: usize = 3;

/// Why reading could not even be attempted. Never a pass: the caller reports the image as unread.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MrzImageError {
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A field's confidence: the engine's lowest confidence (0-100) among the field's chosen characters.
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
    /// Characters taken from the engine's alternatives rather than its top choice.
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

/// An MRZ reader: one Tesseract engine, used by one caller at a time.
pub struct MrzImageReader {
    engine: engine::Engine,
}

impl MrzImageReader {
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
            // The band sits at the bottom of an upright page: one in the upper half is tried upside down first.
            for flip in [band.upper, !band.upper] {
                let crop = band.crop(&gray, flip);
                let lines = self.engine.recognise(crop.as_raw(), crop.width(), crop.height(), false);
                let lines: Vec<Vec<Symbol>> = lines.into_iter().filter(|l| l.len() >= 20).collect();
                match choose(&lines, options) {
                    Ok(c) => {
                        let turn = band.frame.angle.to_degrees() + if flip { 180.0 } else { 0.0 };
                        return MrzImageOutcome::Read(Box::new(MrzRead {
                            report: c.report,
                            lines: c.lines,
                            field_confidence: c
                                .field_confidence
                                .into_iter()
                                .map(|(field, confidence)| FieldConfidence { field, confidence })
                                .collect(),
                            alternatives_used: c.alternatives_used,
                            rotation_deg: turn.rem_euclid(360.0),
                            elapsed_ms: elapsed(),
                        }));
                    }
                    Err(r) => reason = r,
                }
            }
        }
        MrzImageOutcome::NoRead { reason, elapsed_ms: elapsed() }
    }

    /// The raw recognition of an encoded image's best band (for diagnostics and tuning).
    pub fn recognise_band(&mut self, bytes: &[u8]) -> Vec<Vec<Vec<Symbol>>> {
        let Ok(gray) = decode(bytes) else { return Vec::new() };
        let mut out = Vec::new();
        for band in locate::find_bands(&gray).into_iter().take(3) {
            for flip in [band.upper, !band.upper] {
                let crop = band.crop(&gray, flip);
                out.push(self.engine.recognise(crop.as_raw(), crop.width(), crop.height(), false));
            }
        }
        out
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
    Ok(img.to_luma8())
}
