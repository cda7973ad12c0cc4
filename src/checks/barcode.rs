//! Barcodes on uploaded document images: finding and decoding PDF417 and QR codes (via `rxing`, on a luma
//! buffer from the bounded decoder) and parsing the AAMVA DL/ID card data carried in the PDF417 on the back
//! of US and Canadian driver's licences into idv's field names. Pure: no HTTP, no database, nothing logged.
//! Must not decide whether a session passes, must never panic whatever the bytes, and its errors must never
//! quote the document's content.
//!
//! ## AAMVA decisions
//! - **Header**: `@`, LF, RS, CR, then `ANSI ` (or the older `AAMVA`), the 6-digit IIN, the 2-digit AAMVA
//!   version, the 2-digit jurisdiction version (absent in version 01 unless the directory only lines up with
//!   it), the 2-digit number of entries and one 10-byte directory entry (`DL`/`ID`/`Z?`, offset, length) per
//!   subfile. Scanners that drop the control characters are accepted: the file type is looked for in the
//!   first 16 bytes.
//! - **Offsets** are often off by a few bytes in real cards: the declared offset is used when the subfile
//!   designator sits there, else the designator is searched for after the directory. A subfile that neither
//!   fits its declared length nor ends with its CR terminator is [`AamvaError::Truncated`].
//! - **Dates**: `CCYYMMDD` for Canada (`DCG` = `CAN`) and for version 01, `MMDDCCYY` otherwise; when the
//!   chosen order is not a real date the other order is tried (for years 1900–2099 the two never both
//!   parse, because `19`/`20` is never a month).
//! - **Names**: `DCS`/`DAC`/`DAD` (version 4+), else `DCS`/`DCT` (versions 2–3, given names split at the
//!   first space or comma), else `DAB` or the full name `DAA` (`LAST,FIRST,MIDDLE`, `$` also accepted).
//!   `NONE` and `unavl` mean absent.
//! - **Output**: `document_type` is always `drivers_license` (idv has no state-ID type); [`AamvaData::subfile`]
//!   says whether the card declared itself `DL` or `ID`. Sex `1`/`2`/`9` becomes `M`/`F`/`X`.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::imageops::FilterType;
use rxing::common::HybridBinarizer;
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::pdf417::PDF417Reader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::qrcode::QRCodeReader;
use rxing::{
    BarcodeFormat as RxFormat, Binarizer, BinaryBitmap, DecodeHintValue, DecodeHints, Luma8LuminanceSource,
    RXingResult, Reader,
};
use time::{Date, Month};

use crate::checks::imagehash::{decode_bounded, ImageError};
use crate::checks::pdf417_turn::pdf417_turn;

/// Images larger than this on their longest side are shrunk before scanning: a 12 MP phone photo of a card
/// back still gives a PDF417 module several pixels wide, and the reader's work grows with the pixel count.
pub const MAX_SCAN_SIDE: u32 = 4096;

/// What kind of barcode was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BarcodeFormat {
    Pdf417,
    QrCode,
    /// Any other symbology the reader reports, by rxing's name for it.
    Other(String),
}

/// One decoded barcode. `text` is document content: never log it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Barcode {
    pub format: BarcodeFormat,
    pub text: String,
}

/// Why an image could not be scanned. Finding no barcode is not an error (an empty list).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BarcodeError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("the barcode reader failed on this image")]
    Reader,
}

/// Decodes PNG/JPEG `bytes` (bounded: see [`decode_bounded`]) and returns every PDF417 and QR code found,
/// in the order the reader found them, without duplicates. An image with no readable barcode gives `Ok(vec![])`.
pub fn read_barcodes(bytes: &[u8]) -> Result<Vec<Barcode>, BarcodeError> {
    let image = decode_bounded(bytes)?;
    read_barcodes_luma(&crate::checks::grey::luma8(image))
}

/// The same, on an image already decoded to grey levels.
pub fn read_barcodes_luma(luma: &image::GrayImage) -> Result<Vec<Barcode>, BarcodeError> {
    let (w, h) = luma.dimensions();
    let shrunk;
    let luma = if w.max(h) > MAX_SCAN_SIDE {
        let scale = f64::from(MAX_SCAN_SIDE) / f64::from(w.max(h));
        let nw = ((f64::from(w) * scale).round() as u32).clamp(1, MAX_SCAN_SIDE);
        let nh = ((f64::from(h) * scale).round() as u32).clamp(1, MAX_SCAN_SIDE);
        shrunk = image::imageops::resize(luma, nw, nh, FilterType::Triangle);
        &shrunk
    } else {
        luma
    };
    // rxing is a port of Java code that indexes freely; a panic inside it on a hostile image must become an
    // error for this upload, not take the worker down.
    catch_unwind(AssertUnwindSafe(|| scan(luma))).map_err(|_| BarcodeError::Reader)
}

/// Every code on the image: QR codes by rxing's multiple-code reader, and PDF417 symbols by the same reader
/// once `pdf417_turn` has found the turn that holds one, on the image turned upright (so the reader does
/// not turn a matrix bit by bit for the three orientations where nothing is). The image is binarised
/// once: the light-on-dark retry reads the same bitmap inverted (rxing's `invert`, what its AlsoInverted
/// hint does), instead of binarising and scanning it upright again.
fn scan(luma: &image::GrayImage) -> Vec<Barcode> {
    let Some(mut bitmap) = binarised(luma) else {
        return Vec::new();
    };
    let mut found = scan_pass(&mut bitmap, luma, false);
    if found.is_empty() {
        // Light-on-dark prints and some photo filters invert the symbol.
        bitmap.invert();
        found = scan_pass(&mut bitmap, luma, true);
    }
    let mut out: Vec<Barcode> = Vec::new();
    for b in found {
        if !out.contains(&b) {
            out.push(b);
        }
    }
    out
}

fn binarised(luma: &image::GrayImage) -> Option<BinaryBitmap<HybridBinarizer<Luma8LuminanceSource>>> {
    let (width, height) = luma.dimensions();
    let source = Luma8LuminanceSource::new(luma.as_raw().clone(), width, height).ok()?;
    Some(BinaryBitmap::new(HybridBinarizer::new(source)))
}

fn scan_pass(
    bitmap: &mut BinaryBitmap<HybridBinarizer<Luma8LuminanceSource>>,
    luma: &image::GrayImage,
    inverted: bool,
) -> Vec<Barcode> {
    let mut found = scan_bitmap(bitmap, QrReaders::default());
    let Some(turn) = pdf417_turn(bitmap.get_black_matrix()) else {
        return found;
    };
    if turn == 0 {
        found.extend(scan_bitmap(bitmap, PDF417Reader));
        return found;
    }
    if let Some(mut upright) = binarised(&turned_upright(luma, turn)) {
        if inverted {
            upright.invert();
        }
        found.extend(scan_bitmap(&mut upright, PDF417Reader));
    }
    found
}

/// `luma` turned `turn` degrees counter-clockwise (as `pdf417_turn` counts; image's rotations turn
/// clockwise), which puts a symbol found at that turn upright.
fn turned_upright(luma: &image::GrayImage, turn: u32) -> image::GrayImage {
    match turn {
        90 => image::imageops::rotate270(luma),
        180 => image::imageops::rotate180(luma),
        270 => image::imageops::rotate90(luma),
        _ => luma.clone(),
    }
}

/// Every code `reader` finds on `bitmap` (its multiple-code search: after a code, the image around it).
fn scan_bitmap<R: Reader>(bitmap: &mut BinaryBitmap<HybridBinarizer<Luma8LuminanceSource>>, reader: R) -> Vec<Barcode> {
    let hints = DecodeHints::default().with(DecodeHintValue::TryHarder(true));
    // Any reader error (not found, checksum, format) means "nothing readable here".
    let results =
        GenericMultipleBarcodeReader::new(reader).decode_multiple_with_hints(bitmap, &hints).unwrap_or_default();
    results
        .iter()
        .map(|r| Barcode {
            format: match r.getBarcodeFormat() {
                RxFormat::PDF_417 => BarcodeFormat::Pdf417,
                RxFormat::QR_CODE => BarcodeFormat::QrCode,
                other => BarcodeFormat::Other(format!("{other:?}")),
            },
            text: r.getText().to_owned(),
        })
        .collect()
}

/// QR codes as rxing's multi-format reader reads them (its port of zxing-cpp's reader, then, where that
/// reads nothing, its port of ZXing's Java reader), except that the Java reader searches with its usual
/// row step instead of every third row. That search was a fifth of a 3000×2000 document photo's processing,
/// on every document without a QR code. On the 400 degraded QR codes `tests/barcode.rs` generates, the
/// zxing-cpp port reads 224 and the Java reader one more (#367) with either search; on 1,200 from the same
/// generator, 655 and the same 5 more.
#[derive(Default)]
struct QrReaders {
    first: QrReader,
    fallback: QRCodeReader,
}

impl Reader for QrReaders {
    fn decode<B: Binarizer>(&mut self, image: &mut BinaryBitmap<B>) -> rxing::common::Result<RXingResult> {
        self.decode_with_hints(image, &DecodeHints::default())
    }

    fn decode_with_hints<B: Binarizer>(
        &mut self,
        image: &mut BinaryBitmap<B>,
        hints: &DecodeHints,
    ) -> rxing::common::Result<RXingResult> {
        let without_try_harder = DecodeHints::default();
        self.first
            .decode_with_hints(image, hints)
            .or_else(|_| self.fallback.decode_with_hints(image, &without_try_harder))
    }
}

/// Which AAMVA subfile the data came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AamvaSubfile {
    DriversLicense,
    IdCard,
}

/// Sex as AAMVA codes it (`DBC`): 1 male, 2 female, 9 not specified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AamvaSex {
    Male,
    Female,
    Unspecified,
}

/// The issuing country (`DCG`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AamvaCountry {
    Usa,
    Canada,
}

/// What a driver's licence or ID card barcode says. Every data field is optional: jurisdictions omit
/// elements and older versions name them differently. This is PII: never log it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AamvaData {
    /// Issuer identification number (6 digits) of the jurisdiction.
    pub issuer_id: String,
    pub aamva_version: u8,
    pub jurisdiction_version: Option<u8>,
    pub subfile: AamvaSubfile,
    /// `DAQ`, the customer id: the document number.
    pub document_number: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub date_of_birth: Option<Date>,
    pub expiration_date: Option<Date>,
    pub issue_date: Option<Date>,
    pub sex: Option<AamvaSex>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    /// US: 5 or 9 digits (no hyphen); Canada: the postal code as printed.
    pub postal_code: Option<String>,
    pub country: Option<AamvaCountry>,
}

/// Why a barcode's text is not AAMVA card data. Messages name the part that failed, never its content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AamvaError {
    #[error("not AAMVA card data (no ANSI/AAMVA header)")]
    NotAamva,
    #[error("AAMVA header field `{0}` is malformed")]
    BadHeader(&'static str),
    #[error("AAMVA data ends before its header or subfile does")]
    Truncated,
    #[error("AAMVA data has no DL or ID subfile")]
    NoCardSubfile,
}

const HEADER_SEARCH: usize = 16;
const DIRECTORY_ENTRY: usize = 10;

/// Parses the text of an AAMVA PDF417 (as returned by [`read_barcodes`]).
pub fn parse_aamva(text: &str) -> Result<AamvaData, AamvaError> {
    let b = text.as_bytes();
    let start = find_file_type(b).ok_or(AamvaError::NotAamva)?;
    let mut pos = start + 5;
    let issuer_id = digits(b, pos, 6).ok_or_else(|| short_or(b, pos + 6, "issuer id"))?;
    pos += 6;
    let version = number(b, pos, 2).ok_or_else(|| short_or(b, pos + 2, "version"))? as u8;
    pos += 2;

    // Version 01 had no jurisdiction version; some version-01 cards carry one anyway, so take whichever
    // reading makes the directory line up.
    let with_jv = directory(b, pos + 2);
    let without_jv = directory(b, pos);
    let (jurisdiction_version, entries) = if version >= 2 {
        (number(b, pos, 2).map(|v| v as u8), with_jv?)
    } else {
        match (without_jv, with_jv) {
            (Ok(d), _) => (None, d),
            (Err(_), Ok(d)) => (number(b, pos, 2).map(|v| v as u8), d),
            (Err(e), Err(_)) => return Err(e),
        }
    };
    if version >= 2 && jurisdiction_version.is_none() {
        return Err(AamvaError::BadHeader("jurisdiction version"));
    }

    let Some(entry) =
        entries.entries.iter().find(|e| e.kind == *b"DL").or_else(|| entries.entries.iter().find(|e| e.kind == *b"ID"))
    else {
        return Err(AamvaError::NoCardSubfile);
    };
    let subfile = if entry.kind == *b"DL" { AamvaSubfile::DriversLicense } else { AamvaSubfile::IdCard };
    let body = subfile_body(b, entries.end, entry)?;
    let elements = elements(body);
    Ok(build(issuer_id, version, jurisdiction_version, subfile, &elements))
}

fn find_file_type(b: &[u8]) -> Option<usize> {
    let head = b.get(..b.len().min(HEADER_SEARCH + 5))?;
    head.windows(5).position(|w| w == b"ANSI " || w == b"AAMVA")
}

/// The error for a field that is missing: truncation if the text stops before it, else malformed.
fn short_or(b: &[u8], needed_end: usize, field: &'static str) -> AamvaError {
    if b.len() < needed_end {
        AamvaError::Truncated
    } else {
        AamvaError::BadHeader(field)
    }
}

fn digits(b: &[u8], pos: usize, len: usize) -> Option<String> {
    let s = b.get(pos..pos.checked_add(len)?)?;
    s.iter().all(u8::is_ascii_digit).then(|| String::from_utf8_lossy(s).into_owned())
}

fn number(b: &[u8], pos: usize, len: usize) -> Option<u32> {
    digits(b, pos, len)?.parse().ok()
}

struct DirEntry {
    kind: [u8; 2],
    offset: usize,
    length: usize,
}

struct Directory {
    entries: Vec<DirEntry>,
    /// Byte index just after the directory.
    end: usize,
}

fn directory(b: &[u8], pos: usize) -> Result<Directory, AamvaError> {
    let count = number(b, pos, 2).ok_or_else(|| short_or(b, pos + 2, "number of entries"))? as usize;
    if count == 0 {
        return Err(AamvaError::BadHeader("number of entries"));
    }
    let mut entries = Vec::with_capacity(count);
    let mut at = pos + 2;
    for _ in 0..count {
        let kind = match b.get(at..at + 2) {
            Some([x, y]) if x.is_ascii_uppercase() && y.is_ascii_alphanumeric() => [*x, *y],
            Some(_) => return Err(AamvaError::BadHeader("subfile type")),
            None => return Err(AamvaError::Truncated),
        };
        let offset = number(b, at + 2, 4).ok_or_else(|| short_or(b, at + 6, "subfile offset"))? as usize;
        let length = number(b, at + 6, 4).ok_or_else(|| short_or(b, at + 10, "subfile length"))? as usize;
        entries.push(DirEntry { kind, offset, length });
        at += DIRECTORY_ENTRY;
    }
    Ok(Directory { entries, end: at })
}

/// The subfile's bytes after its 2-byte designator.
fn subfile_body<'a>(b: &'a [u8], dir_end: usize, entry: &DirEntry) -> Result<&'a [u8], AamvaError> {
    let at_declared = b.get(entry.offset..entry.offset + 2) == Some(&entry.kind[..]);
    let start = if at_declared && entry.offset >= dir_end {
        entry.offset
    } else {
        let rest = b.get(dir_end..).ok_or(AamvaError::Truncated)?;
        dir_end + rest.windows(2).position(|w| w == entry.kind).ok_or(AamvaError::Truncated)?
    };
    let declared_end = start + entry.length;
    // The terminator is a CR not followed by LF (some issuers separate elements with CR LF).
    let terminator = (start + 2..b.len()).find(|&i| b[i] == b'\r' && b.get(i + 1) != Some(&b'\n')).map(|i| i + 1);
    let end = match terminator {
        Some(t) if !at_declared || declared_end > b.len() => t,
        _ if declared_end <= b.len() => declared_end,
        _ => return Err(AamvaError::Truncated),
    };
    b.get(start + 2..end).ok_or(AamvaError::Truncated)
}

/// Data elements by id; the first occurrence of an id wins.
fn elements(body: &[u8]) -> BTreeMap<[u8; 3], String> {
    let mut out = BTreeMap::new();
    for seg in body.split(|&c| c == b'\n' || c == b'\r' || c == 0x1e) {
        let Some(id) = seg.get(..3) else { continue };
        if !id.iter().all(u8::is_ascii_alphanumeric) {
            continue;
        }
        let value = String::from_utf8_lossy(&seg[3..]).trim().to_owned();
        out.entry([id[0], id[1], id[2]]).or_insert(value);
    }
    out
}

fn build(
    issuer_id: String,
    version: u8,
    jurisdiction_version: Option<u8>,
    subfile: AamvaSubfile,
    el: &BTreeMap<[u8; 3], String>,
) -> AamvaData {
    let get = |id: &[u8; 3]| el.get(id).map(String::as_str).filter(|v| !is_absent(v)).map(str::to_owned);
    let country = get(b"DCG").and_then(|c| match c.to_ascii_uppercase().as_str() {
        "USA" | "US" => Some(AamvaCountry::Usa),
        "CAN" | "CA" => Some(AamvaCountry::Canada),
        _ => None,
    });
    let year_first = country == Some(AamvaCountry::Canada) || version <= 1;
    let date = |id: &[u8; 3]| get(id).and_then(|v| parse_date(&v, year_first));

    let (mut last, mut first, mut middle) = (get(b"DCS").or_else(|| get(b"DAB")), get(b"DAC"), get(b"DAD"));
    if first.is_none() {
        if let Some(given) = get(b"DCT") {
            let mut parts = given.splitn(2, [',', ' ']).map(str::trim).filter(|p| !p.is_empty());
            first = parts.next().map(str::to_owned);
            middle = middle.or_else(|| parts.next().map(|m| m.replace(',', " ")).filter(|m| !is_absent(m)));
        }
    }
    if let Some(full) = get(b"DAA") {
        let parts: Vec<&str> = full.split([',', '$']).map(str::trim).collect();
        if parts.len() >= 2 {
            last = last.or_else(|| non_empty(parts[0]));
            first = first.or_else(|| non_empty(parts[1]));
            let rest = parts[2..].iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" ");
            middle = middle.or_else(|| non_empty(&rest));
        }
    }

    AamvaData {
        issuer_id,
        aamva_version: version,
        jurisdiction_version,
        subfile,
        document_number: get(b"DAQ"),
        last_name: last,
        first_name: first,
        middle_name: middle,
        date_of_birth: date(b"DBB"),
        expiration_date: date(b"DBA"),
        issue_date: date(b"DBD"),
        sex: get(b"DBC").and_then(|s| match s.to_ascii_uppercase().as_str() {
            "1" | "M" => Some(AamvaSex::Male),
            "2" | "F" => Some(AamvaSex::Female),
            "9" | "X" => Some(AamvaSex::Unspecified),
            _ => None,
        }),
        address_line1: get(b"DAG"),
        address_line2: get(b"DAH"),
        city: get(b"DAI"),
        state: get(b"DAJ").map(|s| s.to_ascii_uppercase()),
        postal_code: get(b"DAK").and_then(|z| postal_code(&z, country)),
        country,
    }
}

fn is_absent(v: &str) -> bool {
    v.is_empty() || v.eq_ignore_ascii_case("NONE") || v.eq_ignore_ascii_case("unavl")
}

fn non_empty(v: &str) -> Option<String> {
    (!is_absent(v)).then(|| v.to_owned())
}

/// An 8-digit AAMVA date in the expected order, or the other order when that one is not a real date.
fn parse_date(v: &str, year_first: bool) -> Option<Date> {
    let d = v.as_bytes();
    if d.len() != 8 || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| v.get(r).and_then(|s| s.parse::<u16>().ok());
    let ymd = || calendar(n(0..4)?, n(4..6)?, n(6..8)?);
    let mdy = || calendar(n(4..8)?, n(0..2)?, n(2..4)?);
    if year_first {
        ymd().or_else(mdy)
    } else {
        mdy().or_else(ymd)
    }
}

fn calendar(year: u16, month: u16, day: u16) -> Option<Date> {
    if !(1800..=2199).contains(&year) {
        return None;
    }
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::from(year), month, u8::try_from(day).ok()?).ok()
}

/// US ZIP: the 11-byte field holds 5 or 9 digits padded with zeros and spaces. Canada: as printed.
fn postal_code(raw: &str, country: Option<AamvaCountry>) -> Option<String> {
    let v = raw.trim();
    let compact: String = v.chars().filter(|c| *c != '-' && *c != ' ').collect();
    if country != Some(AamvaCountry::Canada) && compact.len() >= 5 && compact.bytes().all(|c| c.is_ascii_digit()) {
        let (head, tail) = compact.split_at(compact.len().min(9));
        if !tail.bytes().all(|c| c == b'0') {
            return None;
        }
        return Some(match head.len() {
            9 if head.ends_with("0000") => head[..5].to_owned(),
            9 => head.to_owned(),
            _ => head[..5].to_owned(),
        });
    }
    non_empty(&v.to_ascii_uppercase())
}

impl AamvaData {
    /// idv's field names and formats (dates `YYYY-MM-DD`, nationality ISO alpha-2). Absent data gives no key.
    pub fn to_fields(&self) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                f.insert(k.to_owned(), v);
            }
        };
        let iso = |d: Option<Date>| d.map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()));
        put("first_name", self.first_name.clone());
        put("middle_name", self.middle_name.clone());
        put("last_name", self.last_name.clone());
        put("date_of_birth", iso(self.date_of_birth));
        put("document_number", self.document_number.clone());
        put("document_expiration_date", iso(self.expiration_date));
        put(
            "gender",
            self.sex.map(|s| {
                match s {
                    AamvaSex::Male => "M",
                    AamvaSex::Female => "F",
                    AamvaSex::Unspecified => "X",
                }
                .to_owned()
            }),
        );
        put("address_line1", self.address_line1.clone());
        put("address_line2", self.address_line2.clone());
        put("city", self.city.clone());
        put("state", self.state.clone());
        put("zip_code", self.postal_code.clone());
        put(
            "nationality",
            self.country.map(|c| {
                match c {
                    AamvaCountry::Usa => "US",
                    AamvaCountry::Canada => "CA",
                }
                .to_owned()
            }),
        );
        put("document_type", Some("drivers_license".to_owned()));
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxing::Writer;

    #[test]
    fn a_symbol_found_at_a_turn_is_upright_once_the_image_is_turned_back() {
        // A turn mapped the wrong way would still be read (rxing tries every turn of what it is given), only
        // slowly: here the turned-back image must hold the symbol at turn 0.
        let matrix = rxing::MultiFormatWriter.encode("IDV TURN TEST 0123456789", &RxFormat::PDF_417, 0, 0).unwrap();
        let (w, h) = (matrix.getWidth(), matrix.getHeight());
        let upright = image::GrayImage::from_fn((w + 8) * 2, (h + 8) * 2 + 40, |x, y| {
            let (mx, my) = ((x / 2).wrapping_sub(4), (y / 2).wrapping_sub(4));
            image::Luma([if mx < w && my < h && matrix.get(mx, my) { 0 } else { 255 }])
        });
        let turn_of = |img: &image::GrayImage| pdf417_turn(binarised(img).unwrap().get_black_matrix());
        assert_eq!(turn_of(&upright), Some(0));
        for photographed in [
            image::imageops::rotate90(&upright),
            image::imageops::rotate180(&upright),
            image::imageops::rotate270(&upright),
        ] {
            let turn = turn_of(&photographed).expect("the symbol is found at some turn");
            assert_ne!(turn, 0);
            assert_eq!(turn_of(&turned_upright(&photographed, turn)), Some(0), "turned back by {turn}");
        }
    }
}
