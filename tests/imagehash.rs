//! Perceptual-hash tests over third-party images (../shared/testdata/images, read at test time): edited
//! copies of each original must match it at the API's default threshold, different originals must not,
//! idv's hashes must agree with the Python ImageHash library's reference phash within the default
//! threshold, and garbage or oversized input must give an error, never a panic.

use std::collections::BTreeMap;
use std::io::Cursor;

use idv::checks::imagehash::{
    calibrated_similarity, decode_bounded, matches, max_distance_for_threshold, phash, similarity, ImageError,
    ImageHash64, DEFAULT_THRESHOLD, MAX_INPUT_BYTES,
};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat};

const IMAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/images");

fn originals() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let dir = std::fs::read_dir(format!("{IMAGES}/originals")).expect("testdata/images/originals");
    for entry in dir {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("utf-8 name").to_string();
        out.push((name, std::fs::read(&path).expect("read image")));
    }
    out.sort();
    assert_eq!(out.len(), 8, "eight originals in testdata");
    out
}

fn stem(file: &str) -> &str {
    file.rsplit_once('.').map_or(file, |(s, _)| s)
}

fn png(img: &DynamicImage) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, ImageFormat::Png).expect("encode png");
    buf.into_inner()
}

fn jpeg(img: &DynamicImage, quality: u8) -> Vec<u8> {
    let mut buf = Vec::new();
    // JPEG has no alpha channel
    let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
    rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut buf, quality)).expect("encode jpeg");
    buf
}

/// The edits a re-upload of the same picture typically goes through, each encoded to bytes.
fn variants(img: &DynamicImage) -> Vec<(&'static str, Vec<u8>)> {
    let (w, h) = (img.width(), img.height());
    let half = img.resize_exact(w / 2, h / 2, image::imageops::FilterType::Triangle);
    // 2% off every side: a re-scan or a sloppy screenshot, not a deliberate recomposition
    let (cx, cy) = (w / 50, h / 50);
    vec![
        ("resize50", png(&half)),
        ("resize50_jpeg85", jpeg(&half, 85)),
        ("jpeg_q70", jpeg(img, 70)),
        ("brighten", png(&img.brighten(25))),
        ("greyscale", png(&img.grayscale())),
        ("crop2pct", png(&img.crop_imm(cx, cy, w - 2 * cx, h - 2 * cy))),
        ("crop2pct_jpeg70", jpeg(&img.crop_imm(cx, cy, w - 2 * cx, h - 2 * cy), 70)),
    ]
}

/// (source, transform) -> ImageHash 4.3.2 phash
fn reference_phashes() -> BTreeMap<(String, String), ImageHash64> {
    let text = std::fs::read_to_string(format!("{IMAGES}/imagehash_reference_hashes.json")).expect("reference json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut out = BTreeMap::new();
    for entry in json["hashes"].as_object().expect("hashes object").values() {
        let phash = entry["phash"].as_str().expect("phash string");
        let source = entry["source"].as_str().expect("source").to_string();
        let transform = entry["transform"].as_str().expect("transform").to_string();
        out.insert((source, transform), ImageHash64::from_hex(phash).expect("16 hex digits"));
    }
    assert_eq!(out.len(), 80, "8 sources x 10 transforms");
    out
}

#[test]
fn edited_copies_match_their_original_at_the_default_threshold() {
    let max = max_distance_for_threshold(DEFAULT_THRESHOLD);
    assert_eq!(max, 10);
    let mut checked = 0;
    for (name, bytes) in originals() {
        let img = decode_bounded(&bytes).expect("decode original");
        let original = phash(&bytes).expect("hash original");
        for (variant, variant_bytes) in variants(&img) {
            let h = phash(&variant_bytes).expect("hash variant");
            let d = original.distance(h);
            assert!(
                matches(original, h, DEFAULT_THRESHOLD),
                "{name} {variant}: distance {d} > {max} (similarity {:.3})",
                similarity(original, h)
            );
            assert!(calibrated_similarity(original, h) >= DEFAULT_THRESHOLD, "{name} {variant}");
            checked += 1;
        }
    }
    assert_eq!(checked, 8 * 7);
}

#[test]
fn different_originals_do_not_match() {
    let hashes: Vec<(String, ImageHash64)> =
        originals().into_iter().map(|(n, b)| (n, phash(&b).expect("hash original"))).collect();
    let mut min = u32::MAX;
    for (i, (a_name, a)) in hashes.iter().enumerate() {
        for (b_name, b) in &hashes[i + 1..] {
            let d = a.distance(*b);
            min = min.min(d);
            assert!(!matches(*a, *b, DEFAULT_THRESHOLD), "{a_name} vs {b_name}: distance {d}");
            // even the loosest API threshold (0.1 -> 22 bits) keeps these apart
            assert!(!matches(*a, *b, 0.1), "{a_name} vs {b_name}: distance {d}");
            assert!(similarity(*a, *b) < 0.7, "{a_name} vs {b_name}");
        }
    }
    assert!(min >= 24, "closest pair of different originals is {min} bits apart");
}

#[test]
fn edited_copies_of_one_image_do_not_match_another_image() {
    let originals = originals();
    let hashes: Vec<ImageHash64> = originals.iter().map(|(_, b)| phash(b).expect("hash")).collect();
    for (i, (name, bytes)) in originals.iter().enumerate() {
        let img = decode_bounded(bytes).expect("decode");
        for (variant, variant_bytes) in variants(&img) {
            let h = phash(&variant_bytes).expect("hash variant");
            for (j, other) in hashes.iter().enumerate() {
                if i != j {
                    assert!(!matches(h, *other, DEFAULT_THRESHOLD), "{name} {variant} vs {}", originals[j].0);
                }
            }
        }
    }
}

// image_hasher's DCT hash is ImageHash's pHash with a different sampling: a 16x16 DCT input instead of 32x32,
// Rec. 709 luma instead of ITU-R 601, `>=` instead of `>` against the median. Bit equality is therefore not
// promised (it happens for five of the eight originals); the tests assert that each idv hash is within the
// default threshold of ImageHash's hash of the same picture and of its benign edits, strictly nearer to it
// than to ImageHash's hash of any other picture, and outside the threshold for mirror images and 90° turns.
#[test]
fn agrees_with_the_imagehash_reference_phash() {
    let refs = reference_phashes();
    let max = max_distance_for_threshold(DEFAULT_THRESHOLD);
    for (file, bytes) in originals() {
        let source = stem(&file);
        let ours = phash(&bytes).expect("hash");
        let own = refs[&(source.to_string(), "original".to_string())];
        let d_own = ours.distance(own);
        assert!(d_own <= 4, "{source}: {d_own} bits from ImageHash's phash");
        for ((other, transform), reference) in &refs {
            let d = ours.distance(*reference);
            match transform.as_str() {
                "original" if other != source => {
                    assert!(d > d_own, "{source}: nearer to {other} ({d}) than to itself ({d_own})");
                    assert!(d > max, "{source} vs {other}: {d}");
                }
                "original" | "resize50" | "jpeg_q30" | "brightness120" | "grayscale" | "blur1" if other == source => {
                    assert!(d <= max, "{source} {transform}: {d} bits from ImageHash's hash of the edit");
                }
                "hflip" | "rotate90" if other == source => {
                    assert!(d > max, "{source} {transform}: a mirror or quarter turn is another picture ({d})");
                }
                // crop90 and rotate2 land 4-18 bits away in ImageHash itself: outside the default promise
                _ => {}
            }
        }
    }
}

#[test]
fn hashes_are_deterministic_and_hex_stable() {
    let (_, bytes) = &originals()[0];
    let a = phash(bytes).expect("hash");
    let b = phash(bytes).expect("hash again");
    assert_eq!(a, b);
    assert_eq!(ImageHash64::from_hex(&a.to_hex()), Ok(a));
    assert_eq!(a.to_string(), a.to_hex());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG whose IHDR claims `width x height` but whose data is a 1x1 image.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(&DynamicImage::new_luma8(1, 1));
    // signature (8) + length (4) + "IHDR" (4), then width, height; the CRC covers type + data (17 bytes)
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A JPEG whose SOF0 header claims `width x height`.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(&DynamicImage::new_rgb8(8, 8), 90);
    let sof = bytes.windows(2).position(|w| w == [0xff, 0xc0]).expect("SOF0 marker");
    // marker (2) + length (2) + precision (1), then height, width
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    assert!(phash(&png_claiming(1, 1)).is_ok(), "the patched PNG is otherwise valid");
    assert_eq!(
        phash(&png_claiming(100_000, 100_000)),
        Err(ImageError::TooManyPixels { width: 100_000, height: 100_000 })
    );
    assert_eq!(phash(&png_claiming(7_000, 6_000)), Err(ImageError::TooManyPixels { width: 7_000, height: 6_000 }));
    assert_eq!(phash(&png_claiming(30_000, 1)), Err(ImageError::TooManyPixels { width: 30_000, height: 1 }));
    assert_eq!(phash(&jpeg_claiming(65_000, 65_000)), Err(ImageError::TooManyPixels { width: 65_000, height: 65_000 }));
    let mut huge = png(&DynamicImage::new_luma8(1, 1));
    huge.resize(MAX_INPUT_BYTES + 1, 0);
    assert_eq!(phash(&huge), Err(ImageError::TooLarge { bytes: MAX_INPUT_BYTES + 1, max: MAX_INPUT_BYTES }));
}

#[test]
fn garbage_gives_an_error_not_a_panic() {
    assert_eq!(phash(b""), Err(ImageError::Empty));
    assert_eq!(phash(b"GIF89a\x01\x00\x01\x00"), Err(ImageError::UnsupportedFormat));
    assert_eq!(phash(b"%PDF-1.7"), Err(ImageError::UnsupportedFormat));
    // a tiny xorshift stream: deterministic "random" bytes, with and without a PNG/JPEG signature
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..200 {
        let len = (next() % 4096) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let signature: &[u8] = match round % 3 {
            0 => b"\x89PNG\r\n\x1a\n",
            1 => &[0xff, 0xd8, 0xff],
            _ => b"",
        };
        bytes.splice(0..0, signature.iter().copied());
        assert!(phash(&bytes).is_err(), "random bytes decoded (round {round})");
    }
    // truncated and corrupted real files: an error or a hash, never a panic
    let small = originals().into_iter().find(|(n, _)| n == "skimage_horse.png").expect("horse").1;
    let small_jpeg = jpeg(&decode_bounded(&small).expect("decode"), 80);
    for file in [&small, &small_jpeg] {
        for cut in (0..file.len()).step_by(file.len() / 40 + 1) {
            let _ = phash(&file[..cut]);
        }
        for _ in 0..40 {
            let mut corrupt = file.clone();
            for _ in 0..8 {
                let at = (next() as usize) % corrupt.len();
                corrupt[at] = next() as u8;
            }
            let _ = phash(&corrupt);
        }
    }
}
