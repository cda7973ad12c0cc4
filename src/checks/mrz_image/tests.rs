//! Tests of the image reader as a whole: inputs it must refuse, and (when `make mrz-set` has generated the
//! test set) reads of generated photos, which must never be wrong.

use super::*;
use time::macros::date;

fn options() -> ParseOptions {
    ParseOptions { allow_specimen_states: true, ..ParseOptions::new(date!(2026 - 06 - 01)) }
}

#[test]
fn bytes_that_are_no_image_are_no_read_with_a_reason() {
    let mut reader = MrzImageReader::new().expect("Tesseract and its English data are installed (make ocr-deps)");
    match reader.read(b"not an image", &options()) {
        MrzImageOutcome::NoRead { reason, .. } => assert!(reason.contains("image"), "{reason}"),
        MrzImageOutcome::Read(_) => panic!("read text from no image"),
    }
}

#[test]
fn a_blank_page_is_no_read() {
    let mut reader = MrzImageReader::new().expect("Tesseract and its English data are installed (make ocr-deps)");
    let img = image::GrayImage::from_pixel(800, 600, image::Luma([235]));
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode");
    assert!(reader.read(&png, &options()).read().is_none());
}

/// Every read of the first generated photos of the tune split equals the truth (no wrong read).
#[test]
fn reads_of_generated_photos_are_never_wrong() {
    let set = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mrz-set");
    let Ok(truth) = std::fs::read_to_string(set.join("truth.jsonl")) else {
        eprintln!("note: target/mrz-set is absent (make mrz-set); the photo test is skipped");
        return;
    };
    let mut reader = MrzImageReader::new().expect("Tesseract and its English data are installed (make ocr-deps)");
    let mut checked = 0;
    for line in truth.lines().filter(|l| l.contains("\"split\": \"tune\"")).take(12) {
        let t: serde_json::Value = serde_json::from_str(line).expect("truth line");
        let bytes = std::fs::read(set.join(t["file"].as_str().unwrap_or(""))).expect("image");
        if let Some(r) = reader.read(&bytes, &options()).read() {
            let want: Vec<&str> = t["mrz"].as_array().expect("mrz").iter().filter_map(|v| v.as_str()).collect();
            assert_eq!(r.lines, want, "{}", t["file"]);
            assert!(r.report.check_digits_valid());
        }
        checked += 1;
    }
    assert!(checked > 0);
}
