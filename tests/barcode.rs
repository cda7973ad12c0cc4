//! Round-trips for `checks::barcode`: AAMVA card data encoded as PDF417 and an MRZ as a QR code, rendered to
//! PNG/JPEG with rxing's writers and read back; AAMVA parsing of Canadian, old-format and broken data.
//! Every person here is fictional.

use std::io::Cursor;

use idv::checks::barcode::{
    parse_aamva, read_barcodes, AamvaCountry, AamvaError, AamvaSex, AamvaSubfile, BarcodeError, BarcodeFormat,
};
use image::{GrayImage, ImageFormat, Luma};
use proptest::prelude::*;
use rxing::{BarcodeFormat as RxFormat, MultiFormatWriter, Writer};
use time::macros::date;

/// AAMVA file: compliance indicator, file type, IIN, versions, directory, then the subfiles, with the
/// offsets and lengths computed the way the standard defines them (from the start of the file, including
/// each subfile's 2-byte designator and CR terminator).
fn aamva_file(file_type: &str, iin: &str, versions: &str, subfiles: &[(&str, &[&str])]) -> String {
    let bodies: Vec<String> =
        subfiles.iter().map(|(kind, elements)| format!("{kind}{}\r", elements.join("\n"))).collect();
    let header_len = 4 + file_type.len() + iin.len() + versions.len() + 2 + 10 * subfiles.len();
    let mut out = format!("@\n\x1e\r{file_type}{iin}{versions}{:02}", subfiles.len());
    let mut offset = header_len;
    for ((kind, _), body) in subfiles.iter().zip(&bodies) {
        out.push_str(&format!("{kind}{offset:04}{:04}", body.len()));
        offset += body.len();
    }
    for body in &bodies {
        out.push_str(body);
    }
    out
}

const DL_ELEMENTS: &[&str] = &[
    "DCAC",
    "DCBNONE",
    "DCDNONE",
    "DBA08312030",
    "DCSPUBLIC",
    "DACJOHN",
    "DADQUINCY",
    "DBD08312022",
    "DBB01151990",
    "DBC1",
    "DAYBRO",
    "DAU069 IN",
    "DAG789 E OAK ST",
    "DAHAPT 4B",
    "DAIANYTOWN",
    "DAJCA",
    "DAK902230000  ",
    "DAQD1234567",
    "DCF83D9BN217QO983B1",
    "DCGUSA",
    "DDEN",
    "DDFN",
    "DDGN",
];

/// A version-10 (AAMVA 2020) California licence with a jurisdiction subfile after the DL subfile.
fn us_sample() -> String {
    aamva_file("ANSI ", "636014", "1000", &[("DL", DL_ELEMENTS), ("ZC", &["ZCAGREEN", "ZCBNONE"])])
}

/// rxing's BitMatrix → a grayscale image, `scale` px per module, on white.
fn render(matrix: &rxing::common::BitMatrix, scale: u32, quiet: u32) -> GrayImage {
    let (w, h) = (matrix.width(), matrix.height());
    let mut img = GrayImage::from_pixel((w + 2 * quiet) * scale, (h + 2 * quiet) * scale, Luma([255]));
    for y in 0..h {
        for x in 0..w {
            if matrix.get(x, y) {
                for dy in 0..scale {
                    for dx in 0..scale {
                        img.put_pixel((x + quiet) * scale + dx, (y + quiet) * scale + dy, Luma([0]));
                    }
                }
            }
        }
    }
    img
}

fn encode(img: &GrayImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

fn jpeg(img: &GrayImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img).expect("jpeg");
    out
}

fn pdf417_image(text: &str) -> GrayImage {
    let matrix = MultiFormatWriter.encode(text, &RxFormat::PDF_417, 0, 0).expect("pdf417 encode");
    render(&matrix, 2, 4)
}

fn qr_image(text: &str) -> GrayImage {
    let matrix = MultiFormatWriter.encode(text, &RxFormat::QR_CODE, 0, 0).expect("qr encode");
    render(&matrix, 4, 0)
}

fn assert_us_sample_fields(text: &str) {
    let data = parse_aamva(text).expect("parse");
    assert_eq!(data.issuer_id, "636014");
    assert_eq!(data.aamva_version, 10);
    assert_eq!(data.jurisdiction_version, Some(0));
    assert_eq!(data.subfile, AamvaSubfile::DriversLicense);
    assert_eq!(data.document_number.as_deref(), Some("D1234567"));
    assert_eq!(data.last_name.as_deref(), Some("PUBLIC"));
    assert_eq!(data.first_name.as_deref(), Some("JOHN"));
    assert_eq!(data.middle_name.as_deref(), Some("QUINCY"));
    assert_eq!(data.date_of_birth, Some(date!(1990 - 01 - 15)));
    assert_eq!(data.expiration_date, Some(date!(2030 - 08 - 31)));
    assert_eq!(data.issue_date, Some(date!(2022 - 08 - 31)));
    assert_eq!(data.sex, Some(AamvaSex::Male));
    assert_eq!(data.country, Some(AamvaCountry::Usa));

    let fields = data.to_fields();
    let expected: Vec<(&str, &str)> = vec![
        ("address_line1", "789 E OAK ST"),
        ("address_line2", "APT 4B"),
        ("city", "ANYTOWN"),
        ("date_of_birth", "1990-01-15"),
        ("document_expiration_date", "2030-08-31"),
        ("document_number", "D1234567"),
        ("document_type", "drivers_license"),
        ("first_name", "JOHN"),
        ("gender", "M"),
        ("last_name", "PUBLIC"),
        ("middle_name", "QUINCY"),
        ("nationality", "US"),
        ("state", "CA"),
        ("zip_code", "90223"),
    ];
    let got: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(got, expected);
}

#[test]
fn sample_offsets_are_consistent() {
    let s = us_sample();
    assert!(s.starts_with("@\n\x1e\rANSI 636014100002DL00410"));
    assert_eq!(&s[41..43], "DL");
    assert_us_sample_fields(&s);
}

#[test]
fn pdf417_png_round_trips_every_field() {
    let text = us_sample();
    let png = encode(&pdf417_image(&text), ImageFormat::Png);
    let found = read_barcodes(&png).expect("read");
    assert_eq!(found.len(), 1, "one barcode");
    assert_eq!(found[0].format, BarcodeFormat::Pdf417);
    assert_eq!(found[0].text, text);
    assert_us_sample_fields(&found[0].text);
}

#[test]
fn pdf417_jpeg_quality_80_still_decodes() {
    let text = us_sample();
    let jpg = jpeg(&pdf417_image(&text), 80);
    let found = read_barcodes(&jpg).expect("read");
    let pdf: Vec<_> = found.iter().filter(|b| b.format == BarcodeFormat::Pdf417).collect();
    assert_eq!(pdf.len(), 1);
    assert_us_sample_fields(&pdf[0].text);
}

#[test]
fn pdf417_on_a_larger_page_rotated_still_decodes() {
    // The code photographed sideways, somewhere on a larger white page.
    let text = us_sample();
    let code = image::imageops::rotate90(&pdf417_image(&text));
    let mut page = GrayImage::from_pixel(code.width() + 300, code.height() + 200, Luma([255]));
    image::imageops::overlay(&mut page, &code, 170, 90);
    let found = read_barcodes(&encode(&page, ImageFormat::Png)).expect("read");
    assert!(found.iter().any(|b| b.format == BarcodeFormat::Pdf417 && b.text == text), "rotated PDF417 not read");
}

#[test]
fn pdf417_is_read_at_every_quarter_turn_dark_on_light_and_light_on_dark() {
    // The reader looks for the symbol's turn before decoding it: each of the four, in both polarities, on a
    // page larger than the code and off its centre, so a turn that mapped the page wrongly would miss it.
    let text = us_sample();
    let upright = pdf417_image(&text);
    let turns = [
        ("upright", upright.clone()),
        ("quarter turn clockwise", image::imageops::rotate90(&upright)),
        ("half turn", image::imageops::rotate180(&upright)),
        ("quarter turn anticlockwise", image::imageops::rotate270(&upright)),
    ];
    for (name, code) in turns {
        let mut page = GrayImage::from_pixel(code.width() + 260, code.height() + 140, Luma([250]));
        image::imageops::overlay(&mut page, &code, 200, 30);
        for (polarity, image) in [("dark on light", page.clone()), ("light on dark", inverted(&page))] {
            let found = read_barcodes(&encode(&image, ImageFormat::Png)).expect("read");
            assert!(
                found.iter().any(|b| b.format == BarcodeFormat::Pdf417 && b.text == text),
                "{name}, {polarity}: {found:?}"
            );
        }
    }
}

#[test]
fn qr_with_td3_mrz_round_trips() {
    let mrz = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
    let png = encode(&qr_image(mrz), ImageFormat::Png);
    let found = read_barcodes(&png).expect("read");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].format, BarcodeFormat::QrCode);
    assert_eq!(found[0].text, mrz);
    assert!(parse_aamva(&found[0].text).is_err(), "an MRZ is not AAMVA data");
}

/// The image with light and dark swapped: a light-on-dark print, or a photo filter that inverts it.
fn inverted(img: &GrayImage) -> GrayImage {
    let mut out = img.clone();
    image::imageops::invert(&mut out);
    out
}

#[test]
fn light_on_dark_pdf417_and_qr_codes_are_read() {
    let text = us_sample();
    let found = read_barcodes(&encode(&inverted(&pdf417_image(&text)), ImageFormat::Png)).expect("read");
    assert!(found.iter().any(|b| b.format == BarcodeFormat::Pdf417 && b.text == text), "inverted PDF417: {found:?}");
    let mrz = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
    let found = read_barcodes(&encode(&inverted(&qr_image(mrz)), ImageFormat::Png)).expect("read");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].format.clone(), found[0].text.as_str()), (BarcodeFormat::QrCode, mrz));
}

#[test]
fn image_without_barcode_is_empty_not_error() {
    let mut img = GrayImage::from_pixel(400, 250, Luma([240]));
    for x in 50..350 {
        for y in 100..110 {
            img.put_pixel(x, y, Luma([20]));
        }
    }
    assert_eq!(read_barcodes(&encode(&img, ImageFormat::Png)), Ok(vec![]));
    assert_eq!(read_barcodes(&jpeg(&img, 80)), Ok(vec![]));
}

#[test]
fn garbage_bytes_are_an_error() {
    assert!(matches!(read_barcodes(b""), Err(BarcodeError::Image(_))));
    assert!(matches!(read_barcodes(b"not an image at all"), Err(BarcodeError::Image(_))));
    let mut png = encode(&pdf417_image(&us_sample()), ImageFormat::Png);
    png.truncate(png.len() / 2);
    assert!(read_barcodes(&png).is_err());
}

#[test]
fn canadian_dates_are_year_first() {
    let text = aamva_file(
        "ANSI ",
        "636012",
        "0801",
        &[(
            "DL",
            &[
                "DAQA1234-56789-01234",
                "DCSTREMBLAY",
                "DACMARIE",
                "DADNONE",
                "DBB19850704",
                "DBA20290704",
                "DBD20240610",
                "DBC2",
                "DAG12 RUE PRINCIPALE",
                "DAIOTTAWA",
                "DAJON",
                "DAKK1A 0B1    ",
                "DCGCAN",
            ],
        )],
    );
    let data = parse_aamva(&text).expect("parse");
    assert_eq!(data.country, Some(AamvaCountry::Canada));
    assert_eq!(data.date_of_birth, Some(date!(1985 - 07 - 04)));
    assert_eq!(data.expiration_date, Some(date!(2029 - 07 - 04)));
    assert_eq!(data.issue_date, Some(date!(2024 - 06 - 10)));
    assert_eq!(data.middle_name, None, "NONE means absent");
    let f = data.to_fields();
    assert_eq!(f["nationality"], "CA");
    assert_eq!(f["gender"], "F");
    assert_eq!(f["zip_code"], "K1A 0B1");
    assert_eq!(f["state"], "ON");
    assert!(!f.contains_key("middle_name"));
}

#[test]
fn us_date_order_falls_back_when_issuer_writes_year_first() {
    let text = aamva_file("ANSI ", "636014", "0900", &[("DL", &["DAQX1", "DBB19900115", "DCGUSA"])]);
    assert_eq!(parse_aamva(&text).expect("parse").date_of_birth, Some(date!(1990 - 01 - 15)));
}

#[test]
fn version_01_full_name_daa() {
    // AAMVA 2000: file type `AAMVA`, no jurisdiction version, full name in DAA, dates CCYYMMDD.
    let text = aamva_file(
        "AAMVA",
        "636020",
        "01",
        &[(
            "DL",
            &[
                "DAQ123456789",
                "DAAPUBLIC,JANE,ANNE MARIE",
                "DAG1 MAIN ST",
                "DAIDENVER",
                "DAJCO",
                "DAK80202-1234",
                "DBB19751224",
                "DBA20270101",
                "DBC2",
            ],
        )],
    );
    let data = parse_aamva(&text).expect("parse");
    assert_eq!(data.aamva_version, 1);
    assert_eq!(data.jurisdiction_version, None);
    let f = data.to_fields();
    assert_eq!(f["last_name"], "PUBLIC");
    assert_eq!(f["first_name"], "JANE");
    assert_eq!(f["middle_name"], "ANNE MARIE");
    assert_eq!(f["date_of_birth"], "1975-12-24");
    assert_eq!(f["document_expiration_date"], "2027-01-01");
    assert_eq!(f["zip_code"], "802021234");
    assert!(!f.contains_key("nationality"));
}

#[test]
fn version_03_given_names_in_dct() {
    let text = aamva_file("ANSI ", "636015", "0300", &[("DL", &["DAQ9", "DCSDOE", "DCTJOHN,PAUL", "DCGUSA"])]);
    let f = parse_aamva(&text).expect("parse").to_fields();
    assert_eq!((f["first_name"].as_str(), f["middle_name"].as_str()), ("JOHN", "PAUL"));
}

#[test]
fn id_card_subfile_and_wrong_offsets_are_tolerated() {
    let good = aamva_file("ANSI ", "636014", "1000", &[("ID", &["DAQI7", "DCSROE", "DCGUSA"])]);
    let data = parse_aamva(&good).expect("parse");
    assert_eq!(data.subfile, AamvaSubfile::IdCard);
    // Real cards often declare an offset a byte or two off; the designator is then searched for.
    let skewed = good.replacen("ID0031", "ID0029", 1);
    assert_ne!(skewed, good);
    assert_eq!(parse_aamva(&skewed).expect("parse skewed").document_number.as_deref(), Some("I7"));
}

#[test]
fn truncated_data_is_an_error() {
    let full = us_sample();
    for cut in [3, 10, 20, 25, 35, 45, full.len() / 2, full.len() - 60] {
        assert!(parse_aamva(&full[..cut]).is_err(), "cut at {cut}");
    }
    assert_eq!(parse_aamva(&full[..full.len() / 2]), Err(AamvaError::Truncated));
    // Every prefix: an error or data, never a panic.
    for cut in 0..full.len() {
        let _ = parse_aamva(&full[..cut]);
    }
}

#[test]
fn not_aamva_is_an_error() {
    assert_eq!(parse_aamva(""), Err(AamvaError::NotAamva));
    assert_eq!(parse_aamva("https://example.com/verify"), Err(AamvaError::NotAamva));
    assert!(parse_aamva("@\n\x1e\rANSI 63601410000").is_err());
    assert_eq!(
        parse_aamva(&aamva_file("ANSI ", "636014", "1000", &[("ZC", &["ZCAX"])])),
        Err(AamvaError::NoCardSubfile)
    );
}

#[test]
fn errors_never_quote_the_document() {
    let full = us_sample();
    let mut broken = full.replacen("DL0041", "DLxx41", 1);
    broken.push_str("PUBLIC");
    for text in [&full[..full.len() / 2], broken.as_str()] {
        let msg = parse_aamva(text).expect_err("error").to_string();
        for pii in ["PUBLIC", "JOHN", "D1234567", "1990", "OAK", "636014"] {
            assert!(!msg.contains(pii), "{msg}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse_aamva(&text);
    }

    #[test]
    fn mutated_sample_never_panics(edits in proptest::collection::vec((0usize..600, any::<char>()), 1..8)) {
        let mut chars: Vec<char> = us_sample().chars().collect();
        for (i, c) in edits {
            let i = i % chars.len();
            chars[i] = c;
        }
        let text: String = chars.into_iter().collect();
        let _ = parse_aamva(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = read_barcodes(&bytes);
    }
}

#[test]
fn mutated_png_never_panics() {
    // Corrupt bytes past the PNG signature: the decoder must fail cleanly or the reader see noise.
    let png = encode(&pdf417_image(&us_sample()), ImageFormat::Png);
    let mut state: u32 = 0x9e37_79b9;
    for _ in 0..40 {
        let mut copy = png.clone();
        for _ in 0..8 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let i = 8 + (state as usize) % (copy.len() - 8);
            copy[i] = (state >> 24) as u8;
        }
        let _ = read_barcodes(&copy);
    }
}

/// `img` turned `degrees` about its centre (nearest pixel), with white where the turn leaves the frame.
fn turned_about_centre(img: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (cos, sin) = (degrees.to_radians().cos(), degrees.to_radians().sin());
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    GrayImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let (sx, sy) = (cos * dx + sin * dy + cx, -sin * dx + cos * dy + cy);
        if sx >= 0.0 && sy >= 0.0 && (sx as u32) < w && (sy as u32) < h {
            *img.get_pixel(sx as u32, sy as u32)
        } else {
            Luma([255])
        }
    })
}

/// 400 QR codes as phones photograph them: URLs and MRZs, 1-4 px modules, two in three turned up to 45
/// degrees, blurred, with noise, half of them saved as JPEG at quality 20-70. The same seed every run.
fn degraded_qr_codes() -> Vec<(String, GrayImage)> {
    let mut state: u64 = 12345;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..400)
        .map(|n| {
            let text = if n % 2 == 0 {
                format!(
                    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<{n:02}"
                )
            } else {
                format!("https://idv.example.com/verify/tok_{n}_{}", next() % 1_000_000)
            };
            let matrix = MultiFormatWriter.encode(&text, &RxFormat::QR_CODE, 0, 0).expect("qr encode");
            let scale = 1 + (next() % 4) as u32;
            let (w, h) = (matrix.width(), matrix.height());
            let pad = 20 + (next() % 60) as u32;
            let mut img = GrayImage::from_fn(w * scale + 2 * pad, h * scale + 2 * pad, |x, y| {
                let (mx, my) = (x.wrapping_sub(pad) / scale, y.wrapping_sub(pad) / scale);
                Luma([if x >= pad && y >= pad && mx < w && my < h && matrix.get(mx, my) { 30 } else { 230 }])
            });
            let degrees = (next() % 90) as f32 - 45.0;
            if n % 3 != 0 {
                img = turned_about_centre(&img, degrees);
            }
            let blur = (next() % 3) as f32 * 0.6;
            if blur > 0.0 {
                img = image::imageops::blur(&img, blur);
            }
            let noise = (next() % 40) as i32;
            for p in img.pixels_mut() {
                let d = (next() % (2 * noise as u64 + 1)) as i32 - noise;
                p.0[0] = (i32::from(p.0[0]) + d).clamp(0, 255) as u8;
            }
            if n % 2 == 1 {
                img = image::load_from_memory(&jpeg(&img, 20 + (next() % 50) as u8)).expect("jpeg").to_luma8();
            }
            (text, img)
        })
        .collect()
}

/// What rxing's multi-format reader reads as a QR code with its full search (TryHarder), upright then
/// inverted: the reference the reader above must not fall below.
fn read_by_full_search(img: &GrayImage) -> Option<String> {
    use rxing::common::HybridBinarizer;
    use rxing::{BinaryBitmap, DecodeHintValue, DecodeHints, Luma8LuminanceSource, MultiUseMultiFormatReader, Reader};
    let source = Luma8LuminanceSource::new(img.as_raw().clone(), img.width(), img.height()).ok()?;
    let hints = DecodeHints::default()
        .with(DecodeHintValue::TryHarder(true))
        .with(DecodeHintValue::PossibleFormats(std::collections::HashSet::from([RxFormat::QR_CODE])));
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    for _ in 0..2 {
        if let Ok(r) = MultiUseMultiFormatReader::default().decode_with_hints(&mut bitmap, &hints) {
            return Some(r.getText().to_string());
        }
        bitmap.invert();
    }
    None
}

#[test]
fn degraded_qr_codes_are_read_wherever_the_full_search_reads_them() {
    let (mut reference, mut ours) = (0, 0);
    let mut missed = Vec::new();
    for (n, (text, img)) in degraded_qr_codes().iter().enumerate() {
        let by_reference = read_by_full_search(img).as_deref() == Some(text.as_str());
        let found = idv::checks::barcode::read_barcodes_luma(img).expect("read");
        let by_us = found.iter().any(|b| b.format == BarcodeFormat::QrCode && &b.text == text);
        reference += usize::from(by_reference);
        ours += usize::from(by_us);
        if by_reference && !by_us {
            missed.push(n);
        }
    }
    // A floor as well, so a reader that reads nothing cannot pass beside a reference that reads nothing.
    assert!(reference > 150, "the full search read only {reference} of 400");
    assert!(missed.is_empty(), "read by the full search, not by idv's reader: {missed:?} ({ours} against {reference})");
}
