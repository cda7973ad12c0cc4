//! What idv can tell about an uploaded document on this machine, with no network: the facts of the file
//! (dimensions, aspect, PDF page count, barcodes, an MRZ where one is readable), a classification from
//! those facts, the fields they yield (AAMVA barcode, MRZ, and the `extraction_hints` of a custom document
//! type applied to the text read, printed text included), and JPEG page previews. The MRZ image reader
//! plugs in through [`MrzTextReader`], the printed-text reader (Tesseract) through [`PrintedTextReader`].
//! Pure apart from running Debian's
//! `pdftoppm` for PDF previews (in a temporary folder that is removed). Must not touch the database, log
//! document content, or keep any decrypted bytes.

use crate::checks::barcode::{parse_aamva, read_barcodes_luma, BarcodeFormat};
use crate::checks::imagehash::decode_bounded;
use crate::checks::mrz;
use crate::checks::printed::{self, PrintedOutcome};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Reads the MRZ text of a document photo (lines separated by newlines), or None: the server's MRZ image
/// reader (`checks::mrz_image::MrzService::read_text`). MRZs carried by QR codes are read without it.
/// It is given the photo already decoded to grey levels (decoded once for every reader).
pub type MrzTextReader<'a> = &'a dyn Fn(&image::GrayImage) -> Option<String>;

/// Reads the printed text of a document photo (decoded to grey levels): the server's
/// `checks::printed::PrintedService::read_luma`.
pub type PrintedTextReader<'a> = &'a dyn Fn(&image::GrayImage) -> PrintedOutcome;

/// The classifications idv can give (the built-in upload types, split finer where the facts allow).
pub const CLASSIFICATIONS: &[&str] = &[
    "passport",
    "id_front",
    "id_back",
    "drivers_license_front",
    "drivers_license_back",
    "selfie",
    "proof_of_address",
    "other",
];

/// Longest side of a preview, in pixels.
pub const PREVIEW_MAX_SIDE: u32 = 1024;
/// Most pages a PDF preview renders from (a page number past it is a 404 like one past the end).
pub const MAX_PDF_PAGES: u32 = 500;

/// The facts of one file. `texts` are document content (barcode payloads, MRZ lines): never log them.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub mime_type: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub page_count: u32,
    /// (format, text) of each barcode found: `pdf417`, `qr_code` or the reader's name.
    pub barcodes: Vec<(String, String)>,
    /// The MRZ text, when a barcode or the MRZ reader gave one that parses.
    pub mrz: Option<String>,
    /// The printed text and fields, when a printed-text reader ran (or why it read nothing).
    pub printed: Option<PrintedOutcome>,
}

impl Facts {
    /// Every text read from the document, for extraction hints.
    pub fn texts(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.barcodes.iter().map(|(_, t)| t.as_str()).collect();
        if let Some(m) = &self.mrz {
            out.push(m);
        }
        if let Some(PrintedOutcome::Read(r)) = &self.printed {
            out.push(&r.text);
        }
        out
    }

    /// The printed text read, upper-cased for keyword search (empty when none was read).
    fn printed_upper(&self) -> String {
        match &self.printed {
            Some(PrintedOutcome::Read(r)) => r.text.to_uppercase(),
            _ => String::new(),
        }
    }
}

/// Why a file's facts could not be read: the upload is refused with this (a 422 on `file`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FactsError {
    #[error("is not a readable image")]
    UnreadableImage,
    #[error("is not a readable PDF (no pages found)")]
    UnreadablePdf,
    #[error("must be a JPEG, PNG, WebP or PDF file")]
    UnsupportedType,
}

fn mrz_parses(text: &str) -> bool {
    mrz::parse(text, &mrz::ParseOptions::new(time::Date::MIN)).is_ok()
}

/// Reads the facts of `bytes` of type `mime_type` (as sniffed from the magic bytes).
pub fn facts(
    bytes: &[u8],
    mime_type: &str,
    mrz_reader: Option<MrzTextReader<'_>>,
    printed_reader: Option<PrintedTextReader<'_>>,
) -> Result<Facts, FactsError> {
    let mut f = Facts { mime_type: mime_type.to_string(), ..Facts::default() };
    match mime_type {
        "application/pdf" => {
            f.page_count = pdf_page_count(bytes).ok_or(FactsError::UnreadablePdf)?;
        }
        "image/png" | "image/jpeg" => {
            // Decoded once: the barcodes, the zone and the printed text are all read from these grey levels.
            let luma = crate::checks::grey::luma8(decode_bounded(bytes).map_err(|_| FactsError::UnreadableImage)?);
            f.width = Some(luma.width());
            f.height = Some(luma.height());
            f.page_count = 1;
            for code in read_barcodes_luma(&luma).unwrap_or_default() {
                let format = match &code.format {
                    BarcodeFormat::Pdf417 => "pdf417".to_string(),
                    BarcodeFormat::QrCode => "qr_code".to_string(),
                    BarcodeFormat::Other(name) => name.to_lowercase(),
                };
                if f.mrz.is_none() && format == "qr_code" && mrz_parses(&code.text) {
                    f.mrz = Some(code.text.clone());
                }
                f.barcodes.push((format, code.text));
            }
            if f.mrz.is_none() {
                f.mrz = mrz_reader.and_then(|read| read(&luma)).filter(|t| mrz_parses(t));
            }
            f.printed = printed_reader.map(|read| read(&luma));
        }
        "image/webp" => {
            // The image decoder is built without WebP: its size is read from the header only.
            let (w, h) = webp_dimensions(bytes).ok_or(FactsError::UnreadableImage)?;
            f.width = Some(w);
            f.height = Some(h);
            f.page_count = 1;
        }
        _ => return Err(FactsError::UnsupportedType),
    }
    Ok(f)
}

/// Counts the page objects of a PDF (`/Type /Page`, not `/Pages`). A file with none is not a PDF idv can
/// use. Compressed object streams can hide page objects; the renderer's count wins when it runs.
pub fn pdf_page_count(bytes: &[u8]) -> Option<u32> {
    let mut count = 0u32;
    let mut i = 0;
    let needle = b"/Type";
    while i + needle.len() < bytes.len() {
        if &bytes[i..i + needle.len()] == needle {
            let mut j = i + needle.len();
            while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\r' || bytes[j] == b'\n') {
                j += 1;
            }
            if bytes[j..].starts_with(b"/Page") && !bytes[j..].starts_with(b"/Pages") {
                count += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    (count > 0).then_some(count)
}

/// The canvas size of a WebP file from its first chunk (VP8, VP8L or VP8X).
fn webp_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    if b.len() < 30 || &b[0..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return None;
    }
    let le24 = |x: &[u8]| u32::from(x[0]) | u32::from(x[1]) << 8 | u32::from(x[2]) << 16;
    match &b[12..16] {
        b"VP8X" => Some((le24(&b[24..27]) + 1, le24(&b[27..30]) + 1)),
        b"VP8L" => {
            let v = u32::from_le_bytes([b[21], b[22], b[23], b[24]]);
            Some(((v & 0x3FFF) + 1, ((v >> 14) & 0x3FFF) + 1))
        }
        b"VP8 " => {
            let w = u32::from(u16::from_le_bytes([b[26], b[27]]) & 0x3FFF);
            let h = u32::from(u16::from_le_bytes([b[28], b[29]]) & 0x3FFF);
            (w > 0 && h > 0).then_some((w, h))
        }
        _ => None,
    }
}

/// A classification with how sure it is (0 to 1) and the facts that led to it (names, never content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub classification: String,
    pub confidence: f64,
    pub signals: Vec<String>,
}

fn c(classification: &str, confidence: f64, signals: Vec<&str>) -> Classification {
    Classification {
        classification: classification.to_string(),
        confidence,
        signals: signals.into_iter().map(str::to_string).collect(),
    }
}

/// Classifies from the facts alone. Confidence stays below 0.6 where the facts only hint (aspect ratios),
/// so a guess never fails a document on its own.
pub fn classify(f: &Facts) -> Classification {
    if f.mime_type == "application/pdf" {
        return c("proof_of_address", 0.6, vec!["pdf_document"]);
    }
    if let Some(text) = &f.mrz {
        let lines: Vec<&str> = text.split_whitespace().collect();
        return match (lines.len(), lines.first().map(|l| l.len())) {
            (2, Some(44)) => c("passport", 0.9, vec!["mrz_td3"]),
            (3, Some(30)) => c("id_back", 0.85, vec!["mrz_td1"]),
            _ => c("id_front", 0.7, vec!["mrz_td2"]),
        };
    }
    if let Some((_, text)) = f.barcodes.iter().find(|(format, _)| format == "pdf417") {
        return if parse_aamva(text).is_ok() {
            c("drivers_license_back", 0.9, vec!["pdf417_barcode", "aamva_data"])
        } else {
            c("id_back", 0.6, vec!["pdf417_barcode"])
        };
    }
    if let Some(by_text) = classify_text(&f.printed_upper()) {
        return by_text;
    }
    let (Some(w), Some(h)) = (f.width, f.height) else {
        return c("other", 0.1, vec![]);
    };
    let aspect = f64::from(w) / f64::from(h);
    if h > w && aspect < 0.87 && w.max(h) <= 2000 && f.barcodes.is_empty() {
        return c("selfie", 0.5, vec!["portrait_aspect", "small_image", "no_barcode", "no_mrz"]);
    }
    if (1.4..=1.8).contains(&aspect) {
        return c("id_front", 0.4, vec!["card_aspect", "no_barcode", "no_mrz"]);
    }
    c("other", 0.2, vec!["no_barcode", "no_mrz"])
}

/// What the printed words say the document is: a title (PASSPORT, IDENTITY CARD, DRIVING LICENCE) or a
/// bill's layout (a billing word, a postal address line and a date). Titles are trusted below an MRZ or a
/// barcode, which are checked by their own rules.
fn classify_text(text: &str) -> Option<Classification> {
    if text.is_empty() {
        return None;
    }
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if has(&[
        "DRIVING LICENCE",
        "DRIVING LICENSE",
        "DRIVER LICENSE",
        "DRIVER'S LICENSE",
        "DRIVERS LICENSE",
        "PERMIS DE CONDUIRE",
        "FUHRERSCHEIN",
        "FÜHRERSCHEIN",
    ]) {
        return Some(c("drivers_license_front", 0.75, vec!["printed_text", "title_driving_licence"]));
    }
    if has(&["PASSPORT", "PASSEPORT", "REISEPASS", "PASAPORTE"]) {
        return Some(c("passport", 0.75, vec!["printed_text", "title_passport"]));
    }
    if has(&["IDENTITY CARD", "CARTE D'IDENTIT", "CARTE NATIONALE", "PERSONALAUSWEIS", "NATIONAL ID", "ID CARD"]) {
        return Some(c("id_front", 0.75, vec!["printed_text", "title_identity_card"]));
    }
    let billing = has(&[
        "INVOICE",
        "BILL",
        "STATEMENT",
        "ACCOUNT NUMBER",
        "AMOUNT DUE",
        "TOTAL DUE",
        "BALANCE",
        "BILLING",
        "METER",
    ]);
    let address = Regex::new(r"(?m)\b\d{1,5}\s+[A-Z][A-Z]+\s+(STREET|ST|ROAD|RD|AVENUE|AVE|LANE|LN|DRIVE|DR|WAY|CLOSE|PLACE|COURT|BOULEVARD|BLVD)\b|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b|\b\d{5}(-\d{4})?\b")
        .ok()
        .is_some_and(|re| re.is_match(text));
    let dated =
        text.split_whitespace().collect::<Vec<_>>().windows(3).any(|w| printed::parse_date(&w.join(" ")).is_some())
            || text.split_whitespace().any(|w| printed::parse_date(w).is_some());
    if billing && address && dated {
        return Some(c("proof_of_address", 0.7, vec!["printed_text", "billing_words", "postal_address", "date"]));
    }
    None
}

/// One `extraction_hints` rule: the value after a label on the same line, or a regular expression's first
/// group (the whole match when it has none).
#[derive(Debug, Clone)]
pub enum Hint {
    Label(String),
    Pattern(Regex),
}

impl Hint {
    fn find(&self, text: &str) -> Option<String> {
        match self {
            Hint::Pattern(re) => {
                let caps = re.captures(text)?;
                caps.get(1).or_else(|| caps.get(0)).map(|m| m.as_str().trim().to_string())
            }
            Hint::Label(label) => {
                let wanted = label.to_lowercase();
                text.lines().find_map(|line| {
                    let lower = line.to_lowercase();
                    let at = lower.find(&wanted)?;
                    // Lower-casing can change byte lengths; only ASCII labels are cut by position.
                    let rest = line.get(at + wanted.len()..)?;
                    let value = rest.trim_start_matches([' ', ':', '\t', '=', '-']).trim();
                    (!value.is_empty()).then(|| value.to_string())
                })
            }
        }
    }
}

/// The fields extracted from one document: `sources` say where they came from (`barcode`, `mrz`,
/// `hints`); values are PII.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extraction {
    pub sources: Vec<String>,
    pub fields: BTreeMap<String, String>,
    pub confidence: Option<f64>,
    /// Whether every MRZ check digit held (None without an MRZ).
    pub mrz_valid: Option<bool>,
    /// Each printed field read (its value is in `fields` as `printed_<field>`): confidence, how it was
    /// found, and whether it agrees with the MRZ (None without an MRZ to compare with).
    pub printed: Vec<PrintedFieldReport>,
}

/// One printed field's confidence and agreement with the MRZ: names and outcomes only, no values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrintedFieldReport {
    pub field: String,
    pub confidence: f64,
    pub method: String,
    pub mrz: Option<printed::Agreement>,
}

/// Extracts what the facts carry: AAMVA licence data, the MRZ fields, and each hint over every text read.
/// `today` places the zone's two-digit years in their century (a birth date in the past, an expiry date
/// within the next fifty years).
pub fn extract(f: &Facts, hints: &[(String, Hint)], today: time::Date) -> Extraction {
    let mut out = Extraction::default();
    let mut confidence: Option<f64> = None;
    let mut note = |c: f64| confidence = Some(confidence.map_or(c, |x: f64| x.min(c)));
    if let Some(data) = f.barcodes.iter().filter(|(k, _)| k == "pdf417").find_map(|(_, t)| parse_aamva(t).ok()) {
        out.fields.extend(data.to_fields());
        out.sources.push("barcode".into());
        note(0.95);
    }
    if let Some(text) = &f.mrz {
        if let Ok(report) = mrz::parse(text, &mrz::ParseOptions::new(today)) {
            let d = &report.data;
            let mut put = |k: &str, v: &str| {
                let v = v.trim();
                if !v.is_empty() {
                    out.fields.entry(k.to_string()).or_insert_with(|| v.to_string());
                }
            };
            put("document_number", &d.document_number);
            put("last_name", &d.primary_identifier);
            put("first_name", &d.secondary_identifier);
            put("nationality", &d.nationality);
            put("issuing_state", &d.issuing_state);
            if let Some(dob) = d.date_of_birth {
                put("date_of_birth", &dob.to_string());
            }
            if let Some(exp) = d.date_of_expiry {
                put("date_of_expiry", &exp.to_string());
            }
            let valid = report.check_digits_valid();
            out.mrz_valid = Some(valid);
            out.sources.push("mrz".into());
            note(if valid { 0.9 } else { 0.4 });
        }
    }
    if let Some(PrintedOutcome::Read(read)) = &f.printed {
        let zone = f.mrz.as_deref().and_then(|t| mrz::parse(t, &mrz::ParseOptions::new(today)).ok());
        let against = zone.as_ref().map(|r| printed::compare_with_mrz(read, &r.data)).unwrap_or_default();
        for p in &read.fields {
            let mrz_agreement = against.iter().find(|(n, _, _)| *n == p.name).map(|(_, a, _)| *a);
            out.printed.push(PrintedFieldReport {
                field: p.name.to_string(),
                confidence: p.confidence,
                method: p.method.to_string(),
                mrz: mrz_agreement,
            });
            // The extraction's fields are one sealed map of strings: the confidence and the agreement with
            // the zone travel beside the value.
            out.fields.insert(format!("printed_{}", p.name), p.value.clone());
            out.fields.insert(format!("printed_{}_confidence", p.name), format!("{:.2}", p.confidence));
            if let Some(a) = mrz_agreement {
                let word = if a == printed::Agreement::Agrees { "agrees" } else { "disagrees" };
                out.fields.insert(format!("printed_{}_mrz", p.name), word.to_string());
            }
        }
        if !read.fields.is_empty() {
            out.sources.push("printed".into());
            note(read.fields.iter().map(|p| p.confidence).fold(1.0, f64::min));
        }
    }
    let texts = f.texts();
    let mut hinted = false;
    for (name, hint) in hints {
        if let Some(v) = texts.iter().find_map(|t| hint.find(t)) {
            out.fields.insert(name.clone(), v);
            hinted = true;
        }
    }
    if hinted {
        out.sources.push("hints".into());
        note(0.7);
    }
    out.confidence = confidence;
    out
}

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PreviewError {
    #[error("the document has no page {0}")]
    NoSuchPage(u32),
    #[error("{0}")]
    Unavailable(String),
    #[error("the document could not be rendered")]
    Unrenderable,
}

fn to_jpeg(image: image::DynamicImage) -> Result<Vec<u8>, PreviewError> {
    let image = if image.width().max(image.height()) > PREVIEW_MAX_SIDE {
        image.thumbnail(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE)
    } else {
        image
    };
    let mut out = std::io::Cursor::new(Vec::new());
    image.into_rgb8().write_to(&mut out, image::ImageFormat::Jpeg).map_err(|_| PreviewError::Unrenderable)?;
    Ok(out.into_inner())
}

/// A JPEG of page `page` (from 1), at most [`PREVIEW_MAX_SIDE`] pixels on its longest side. Images have one
/// page; PDFs are rendered by `pdftoppm` (Debian's poppler-utils) in a temporary folder removed after.
pub fn preview_jpeg(bytes: &[u8], mime_type: &str, page: u32) -> Result<Vec<u8>, PreviewError> {
    match mime_type {
        "image/png" | "image/jpeg" => {
            if page != 1 {
                return Err(PreviewError::NoSuchPage(page));
            }
            to_jpeg(decode_bounded(bytes).map_err(|_| PreviewError::Unrenderable)?)
        }
        "image/webp" => {
            if page != 1 {
                return Err(PreviewError::NoSuchPage(page));
            }
            Err(PreviewError::Unavailable(
                "This idv is built without a WebP decoder; download the file instead.".into(),
            ))
        }
        "application/pdf" => pdf_page(bytes, page),
        _ => Err(PreviewError::Unrenderable),
    }
}

/// A private folder for one rendering, removed (with the decrypted PDF in it) when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn create() -> Option<Self> {
        let path = std::env::temp_dir().join(format!("idv-preview-{}", ulid::Ulid::new()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&path).ok()?;
        Some(TempDir(path))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pdf_page(bytes: &[u8], page: u32) -> Result<Vec<u8>, PreviewError> {
    if page == 0 || page > MAX_PDF_PAGES {
        return Err(PreviewError::NoSuchPage(page));
    }
    let dir = TempDir::create().ok_or(PreviewError::Unrenderable)?;
    let input = dir.path().join("in.pdf");
    std::fs::write(&input, bytes).map_err(|_| PreviewError::Unrenderable)?;
    let out_base = dir.path().join("page");
    let scale = PREVIEW_MAX_SIDE.to_string();
    let n = page.to_string();
    let run = std::process::Command::new("pdftoppm")
        .args(["-f", &n, "-l", &n, "-singlefile", "-png", "-scale-to", &scale])
        .arg(&input)
        .arg(&out_base)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    let status = match run {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PreviewError::Unavailable(
                "PDF previews need pdftoppm (Debian package poppler-utils), which is not installed.".into(),
            ))
        }
        Err(_) => return Err(PreviewError::Unrenderable),
    };
    let rendered = dir.path().join("page.png");
    if !status.success() || !rendered.exists() {
        // pdftoppm exits non-zero for a first page past the last one; the page count tells which it was.
        return match pdf_page_count(bytes) {
            Some(count) if page > count => Err(PreviewError::NoSuchPage(page)),
            _ => Err(PreviewError::Unrenderable),
        };
    }
    let png = std::fs::read(&rendered).map_err(|_| PreviewError::Unrenderable)?;
    drop(dir);
    to_jpeg(decode_bounded(&png).map_err(|_| PreviewError::Unrenderable)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, 90]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R >> endobj\n4 0 obj << /Type/Page /Parent 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF";

    #[test]
    fn pdf_pages_are_counted_without_the_page_tree() {
        assert_eq!(pdf_page_count(PDF), Some(2));
        assert_eq!(pdf_page_count(b"%PDF-1.4 nothing"), None);
        let f = facts(PDF, "application/pdf", None, None).unwrap();
        assert_eq!(f.page_count, 2);
        assert_eq!(classify(&f).classification, "proof_of_address");
    }

    #[test]
    fn portrait_photos_hint_selfie_and_card_shapes_hint_id_front_without_failing_anything() {
        let f = facts(&png(300, 400), "image/png", None, None).unwrap();
        let c = classify(&f);
        assert_eq!(c.classification, "selfie");
        assert!(c.confidence < 0.6);
        assert!(c.signals.contains(&"portrait_aspect".to_string()));
        assert_eq!(classify(&facts(&png(320, 200), "image/png", None, None).unwrap()).classification, "id_front");
        assert_eq!(facts(b"not an image", "image/png", None, None).unwrap_err(), FactsError::UnreadableImage);
    }

    #[test]
    fn a_plugged_mrz_reader_decides_passport_and_fills_fields() {
        fn reader(_: &image::GrayImage) -> Option<String> {
            Some("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10".into())
        }
        let f = facts(&png(400, 300), "image/png", Some(&reader), None).unwrap();
        assert_eq!(classify(&f).classification, "passport");
        let hints = vec![("number".to_string(), Hint::Pattern(Regex::new(r"(L\d{6})").unwrap()))];
        let today = time::macros::date!(2026 - 12 - 05);
        let e = extract(&f, &hints, today);
        assert_eq!(e.fields["last_name"], "ERIKSSON");
        // Two-digit years take their century from the day of reading.
        assert_eq!(e.fields["date_of_birth"], "1974-08-12");
        assert_eq!(e.fields["date_of_expiry"], "2012-04-15");
        assert_eq!(e.fields["document_number"], "L898902C3");
        assert_eq!(e.fields["number"], "L898902");
        assert_eq!(e.sources, vec!["mrz", "hints"]);
        assert_eq!(e.mrz_valid, Some(true));
    }

    #[test]
    fn label_hints_take_the_rest_of_the_line() {
        let f = Facts { barcodes: vec![("qr_code".into(), "Name: X\nAccount no: 12-34\n".into())], ..Facts::default() };
        let today = time::macros::date!(2026 - 12 - 05);
        let e = extract(&f, &[("account".into(), Hint::Label("account no".into()))], today);
        assert_eq!(e.fields["account"], "12-34");
        let none = extract(&f, &[("iban".into(), Hint::Label("IBAN".into()))], today);
        assert!(none.fields.is_empty() && none.sources.is_empty());
    }

    #[test]
    fn previews_are_downscaled_jpegs_and_other_pages_do_not_exist() {
        let jpeg = preview_jpeg(&png(2048, 1024), "image/png", 1).unwrap();
        let img = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (1024, 512));
        assert_eq!(preview_jpeg(&png(10, 10), "image/png", 2).unwrap_err(), PreviewError::NoSuchPage(2));
    }
}
