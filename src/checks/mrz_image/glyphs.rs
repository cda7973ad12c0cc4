//! OCR-B glyph templates for the fixed-pitch MRZ recogniser: each character of the MRZ alphabet rasterised
//! at run time from Debian's OCR-B font (`fonts-ocr-b`) into a cell of one character pitch, softened like a
//! photo and normalised for cross-correlation. Owns the font loading and the template geometry; must not look
//! at document images.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};

use super::MRZ_ALPHABET;

/// Where Debian's `fonts-ocr-b` puts the font.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";

/// Cap height (and digit height) of a template, in pixels: every line is resampled to this.
pub const CAP: usize = 18;
/// Rows of background above the cap line and below the baseline in a template.
pub const MARGIN: usize = 3;
/// Template height in pixels.
pub const CELL_H: usize = CAP + 2 * MARGIN;
/// Gaussian blur (sigma, pixels) applied to the rendered glyphs: a photographed MRZ is never as sharp as
/// the outline.
const BLUR_SIGMA: f32 = 0.8;
/// Softer (and one sharper) sets of templates: a line is read with the set its own blur matches best (a
/// blurred zero spreads towards the letter O's width, so templates sharper than the photo favour O).
const OTHER_SIGMAS: [f32; 5] = [0.5, 1.1, 1.5, 2.0, 2.6];

/// Why the templates could not be built. Never a pass: the reader cannot be constructed without them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GlyphError {
    #[error("the OCR-B font {0} is not installed (Debian package fonts-ocr-b)")]
    FontMissing(String),
    #[error("the OCR-B font {0} could not be read")]
    FontInvalid(String),
}

/// One character's template: zero-mean, unit-norm ink values (ink positive), `width` x `CELL_H`, row-major.
#[derive(Clone, Debug)]
pub struct Template {
    pub ch: char,
    pub values: Vec<f32>,
}

/// The alphabet's templates and the pitch they were drawn at.
#[derive(Clone, Debug)]
pub struct Glyphs {
    pub templates: Vec<Template>,
    /// The same templates softened by each of `OTHER_SIGMAS`.
    pub softened: Vec<Vec<Template>>,
    /// Template width: the font's advance at `CAP`, rounded (the MRZ's character pitch).
    pub width: usize,
    /// The exact advance (pitch) in template pixels.
    pub pitch: f32,
}

impl Glyphs {
    /// Loads the font at `path` and renders the templates.
    pub fn load(path: &str) -> Result<Self, GlyphError> {
        let bytes = std::fs::read(path).map_err(|_| GlyphError::FontMissing(path.to_string()))?;
        let font = FontVec::try_from_vec(bytes).map_err(|_| GlyphError::FontInvalid(path.to_string()))?;
        Self::from_font(&font).ok_or_else(|| GlyphError::FontInvalid(path.to_string()))
    }

    fn from_font(font: &FontVec) -> Option<Self> {
        // Cap height at a probe scale, from the outline of H, gives the scale where caps are CAP pixels.
        let probe = PxScale::from(100.0);
        let h = font.glyph_id('H').with_scale_and_position(probe, ab_glyph::point(0.0, 0.0));
        let cap100 = -font.outline_glyph(h)?.px_bounds().min.y;
        if cap100 <= 1.0 {
            return None;
        }
        let scale = PxScale::from(100.0 * CAP as f32 / cap100);
        let scaled = font.as_scaled(scale);
        let pitch = scaled.h_advance(font.glyph_id('H'));
        let width = pitch.round() as usize;
        let mut templates = Vec::with_capacity(MRZ_ALPHABET.len());
        let mut softened: Vec<Vec<Template>> = vec![Vec::with_capacity(MRZ_ALPHABET.len()); OTHER_SIGMAS.len()];
        for ch in MRZ_ALPHABET.chars() {
            let id = font.glyph_id(ch);
            // The advance box is centred in the cell; the baseline sits MARGIN below the cap height.
            let x0 = (width as f32 - scaled.h_advance(id)) / 2.0;
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(x0, (MARGIN + CAP) as f32));
            let outlined = font.outline_glyph(glyph)?;
            let b = outlined.px_bounds();
            let mut ink = vec![0f32; width * CELL_H];
            outlined.draw(|x, y, c| {
                let (px, py) = (b.min.x as i64 + i64::from(x), b.min.y as i64 + i64::from(y));
                if px >= 0 && py >= 0 && (px as usize) < width && (py as usize) < CELL_H {
                    ink[py as usize * width + px as usize] += c;
                }
            });
            let blurred = blur(&ink, width, CELL_H, BLUR_SIGMA);
            templates.push(Template { ch, values: normalise(&blurred)? });
            for (set, &sigma) in softened.iter_mut().zip(&OTHER_SIGMAS) {
                set.push(Template { ch, values: normalise(&blur(&ink, width, CELL_H, sigma))? });
            }
        }
        Some(Self { templates, softened, width, pitch })
    }
}

/// Zero mean, unit norm; `None` for a flat patch.
pub fn normalise(v: &[f32]) -> Option<Vec<f32>> {
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    let norm = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>().sqrt();
    (norm > 1e-6).then(|| v.iter().map(|x| (x - mean) / norm).collect())
}

/// A separable Gaussian blur with clamped edges.
pub fn blur(v: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    let r = (sigma * 3.0).ceil() as i64;
    let k: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let ksum: f32 = k.iter().sum();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0f32; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                for (j, kv) in k.iter().enumerate() {
                    let d = j as i64 - r;
                    let (sx, sy) = if horizontal {
                        ((x as i64 + d).clamp(0, w as i64 - 1) as usize, y)
                    } else {
                        (x, (y as i64 + d).clamp(0, h as i64 - 1) as usize)
                    };
                    acc += kv * src[sy * w + sx];
                }
                out[y * w + x] = acc / ksum;
            }
        }
        out
    };
    pass(&pass(v, true), false)
}
