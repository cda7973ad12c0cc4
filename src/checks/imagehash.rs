//! Perceptual image hashes (64-bit DCT "pHash") for near-duplicate detection of uploaded images: bounded
//! decoding of PNG/JPEG bytes, the hash type, Hamming distance and the mapping from the API's `threshold`
//! to a distance. Must not store or log images, touch the database, or decide what a match means for a
//! session.
//!
//! ## Algorithm
//! Decode (PNG or JPEG only, at most [`MAX_INPUT_BYTES`] and [`MAX_PIXELS`]), convert to 8-bit luma,
//! shrink to at most [`PRESCALE_MAX_SIDE`] pixels per side with an area filter (so a 12 MP photo and its 50%
//! copy enter the hash from nearly the same pixels, and hashing stays cheap), then `image_hasher`'s
//! `Median` + DCT: Lanczos3 resize to 16x16 (done here on grey levels, bit for bit as `image`'s resampler
//! that `image_hasher` calls does it), 2-D DCT-II, keep the 8x8 lowest frequencies, one bit per
//! coefficient set when it is at or above their median. Bits are row-major, most significant first, so the
//! hex form reads like the Python ImageHash library's.
//!
//! ## Why this is not bit-identical to ImageHash's `phash`
//! ImageHash resizes to 32x32 (PIL's Lanczos, ITU-R 601 luma) and takes the 8x8 corner of that DCT, strictly
//! greater than the median; `image_hasher` fixes the DCT input at twice the hash size (16x16) and uses
//! Rec. 709 luma. Same idea, different sampling: hashes of the same picture land a few bits apart, never
//! bit-equal by design. Hashes are only comparable with hashes made by this module.
//!
//! ## Threshold mapping
//! The spec's `threshold` (0.1–1.0, default 0.6) is a similarity for face embeddings. Read literally on
//! pHash (`1 - d/64 >= 0.6`, i.e. up to 25 differing bits) it would match unrelated pictures: two unrelated
//! images differ in about 32 bits, with a spread of ±4, and ImageHash observed different images at 22 bits.
//! So idv maps the threshold linearly onto distances [`DISTANCE_SCALE`] bits wide:
//! `max_distance = floor((1 - threshold) * 25)`. Default 0.6 allows 10 bits (ImageHash saw 0–4 for resized,
//! recompressed, brightened or greyscaled copies and 6–18 for 10% crops); 1.0 demands identical hashes;
//! 0.1 allows 22 bits, the loosest setting, where unrelated images start to collide. The matching score
//! on the same scale is [`calibrated_similarity`] (`1 - d/25`, floored at 0), so `score >= threshold`
//! and `distance <= max_distance_for_threshold(threshold)` agree. [`similarity`] is the raw `1 - d/64`.

use std::fmt;
use std::io::Cursor;
use std::str::FromStr;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use image_hasher::{BitOrder, FilterType, HashAlg, HasherConfig};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Largest accepted encoded input, in bytes.
pub const MAX_INPUT_BYTES: usize = 15 * 1024 * 1024;
/// Largest accepted decoded image, in pixels (width x height).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Largest accepted side, in pixels: refuses 1 x 40M strips that pass the pixel limit.
pub const MAX_SIDE: u32 = 20_000;
/// Images are shrunk to at most this many pixels per side before hashing.
pub const PRESCALE_MAX_SIDE: u32 = 512;
/// Bits in a hash.
pub const HASH_BITS: u32 = 64;
/// Width of the distance range the API threshold is spread over (see the module docs).
pub const DISTANCE_SCALE: f64 = 25.0;
/// The spec's default `threshold`.
pub const DEFAULT_THRESHOLD: f64 = 0.6;
/// The spec's allowed `threshold` range.
pub const MIN_THRESHOLD: f64 = 0.1;
pub const MAX_THRESHOLD: f64 = 1.0;

// Decoder working memory: a 40 MP 16-bit RGBA PNG is 320 MB; anything more is not a photo of a document.
const MAX_DECODE_ALLOC: u64 = 384 * 1024 * 1024;

/// Why an image could not be hashed. The messages carry no image content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("image is empty")]
    Empty,
    #[error("image is {bytes} bytes; the limit is {max}")]
    TooLarge { bytes: usize, max: usize },
    #[error("image is not PNG or JPEG")]
    UnsupportedFormat,
    #[error("image is {width}x{height}; the limits are {MAX_PIXELS} pixels and {MAX_SIDE} per side")]
    TooManyPixels { width: u32, height: u32 },
    #[error("image could not be decoded")]
    Decode,
}

/// A 64-bit perceptual hash. Serialises as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ImageHash64(u64);

/// A hash string that is not 16 hex digits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an image hash is 16 hex digits")]
pub struct HashParseError;

impl ImageHash64 {
    pub const fn from_u64(bits: u64) -> Self {
        Self(bits)
    }

    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// 16 lowercase hex digits, most significant bit first (ImageHash's `str(hash)` layout).
    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }

    /// Accepts exactly 16 hex digits, either case.
    pub fn from_hex(s: &str) -> Result<Self, HashParseError> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HashParseError);
        }
        u64::from_str_radix(s, 16).map(Self).map_err(|_| HashParseError)
    }

    /// Hamming distance: the number of differing bits, 0..=64.
    pub fn distance(self, other: Self) -> u32 {
        (self.0 ^ other.0).count_ones()
    }
}

/// Hashes scanned together by [`within_distance`].
const SCAN_BLOCK: usize = 32;

/// The hashes of `hashes` within `max_distance` bits of `hash`, in their order: the duplicate search's
/// scan over every enrolled selfie. The build targets baseline x86-64, which has no popcount instruction,
/// so `count_ones` on each hash in turn was about 25 instructions a hash (at 8,000 enrolled selfies, 218k
/// of a verification's 6,422k). Here a block's differing bits are counted into bytes together, a loop the
/// compiler vectorises, each hash's bytes are then summed with one multiplication, and only a block that
/// holds a near hash is filtered hash by hash: about 13 instructions a hash.
pub fn within_distance(hashes: &[u64], hash: ImageHash64, max_distance: u32) -> Vec<u64> {
    let near = |other: &u64| ImageHash64(*other).distance(hash) <= max_distance;
    let mut found = Vec::new();
    let blocks = hashes.chunks_exact(SCAN_BLOCK);
    let rest = blocks.remainder();
    for block in blocks {
        // Each byte of a count holds the differing bits of that byte (0..=8), so the bytes' sum is the
        // distance; multiplying by 0x0101… gathers it in the top byte.
        let mut byte_counts = [0u64; SCAN_BLOCK];
        for (count, other) in byte_counts.iter_mut().zip(block) {
            let x = other ^ hash.0;
            let x = x - ((x >> 1) & 0x5555_5555_5555_5555);
            let x = (x & 0x3333_3333_3333_3333) + ((x >> 2) & 0x3333_3333_3333_3333);
            *count = (x + (x >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        }
        let mut any_near = false;
        for count in byte_counts {
            any_near |= (count.wrapping_mul(0x0101_0101_0101_0101) >> 56) as u32 <= max_distance;
        }
        if any_near {
            found.extend(block.iter().filter(|other| near(other)));
        }
    }
    found.extend(rest.iter().filter(|other| near(other)));
    found
}

impl fmt::Display for ImageHash64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for ImageHash64 {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl Serialize for ImageHash64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ImageHash64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Decodes PNG or JPEG bytes (within the size limits) and returns their perceptual hash.
pub fn phash(bytes: &[u8]) -> Result<ImageHash64, ImageError> {
    Ok(phash_luma(&crate::checks::grey::luma8(decode_bounded(bytes)?)))
}

/// The hash of an image already decoded to grey levels (`checks::grey`), so an upload decoded
/// once for its hash and its reading is not decoded again.
pub fn phash_luma(luma: &image::GrayImage) -> ImageHash64 {
    let luma = prescaled(luma);
    // `image_hasher` would resize to the DCT's input itself, through `image`'s generic resampler; the
    // same arithmetic done here on grey levels alone costs about a fifth of it, and the hasher's resize of an
    // image already at its size is a copy.
    let dct_input = lanczos3_luma(&luma, DCT_SIDE, DCT_SIDE);
    let hash = hasher().hash_image(&dct_input);
    let mut bytes = [0u8; 8];
    for (dst, src) in bytes.iter_mut().zip(hash.as_bytes()) {
        *dst = *src;
    }
    ImageHash64(u64::from_be_bytes(bytes))
}

/// `luma` shrunk with an area filter to at most [`PRESCALE_MAX_SIDE`] pixels per side (see the module docs).
fn prescaled(luma: &image::GrayImage) -> std::borrow::Cow<'_, image::GrayImage> {
    let (w, h) = luma.dimensions();
    if w <= PRESCALE_MAX_SIDE && h <= PRESCALE_MAX_SIDE {
        return std::borrow::Cow::Borrowed(luma);
    }
    let scale = f64::from(PRESCALE_MAX_SIDE) / f64::from(w.max(h));
    let nw = ((f64::from(w) * scale).round() as u32).max(1);
    let nh = ((f64::from(h) * scale).round() as u32).max(1);
    std::borrow::Cow::Owned(image::imageops::thumbnail(luma, nw, nh))
}

/// The side of the square the DCT reads: `image_hasher` takes twice the hash size (8) with `preproc_dct`.
const DCT_SIDE: u32 = 16;

/// The hasher this module's hashes are made with (see the module docs).
fn hasher() -> image_hasher::Hasher<[u8; 8]> {
    HasherConfig::with_bytes_type::<[u8; 8]>()
        .hash_alg(HashAlg::Median)
        .preproc_dct()
        .hash_size(8, 8)
        .resize_filter(FilterType::Lanczos3)
        .bit_order(BitOrder::MsbFirst)
        .to_hasher()
}

/// `image::imageops::resize(luma, width, height, FilterType::Lanczos3)`, bit for bit: the same kernel
/// weights, the same f32 operations in the same order (a vertical pass into f32, then a horizontal pass
/// rounded to u8), without the per-pixel four-channel conversions of the generic version. Stored hashes were
/// made through `image`, so the equality is what matters; the tests compare the two on many sizes.
fn lanczos3_luma(luma: &image::GrayImage, width: u32, height: u32) -> image::GrayImage {
    let (src_width, src_height) = luma.dimensions();
    if (src_width, src_height) == (width, height) || src_width == 0 || src_height == 0 {
        return image::imageops::resize(luma, width, height, FilterType::Lanczos3);
    }
    let (sw, nw, nh) = (src_width as usize, width as usize, height as usize);
    let src = luma.as_raw();
    // Vertical pass: each output row is a weighted sum of source rows, accumulated row by row (for each
    // pixel, in the same order as the generic loop).
    let mut columns = vec![0f32; sw * nh];
    for (out_y, (first, weights)) in cached_lanczos3_taps(src_height, height).iter().enumerate() {
        let row = &mut columns[out_y * sw..(out_y + 1) * sw];
        for (i, w) in weights.iter().enumerate() {
            let src_row = &src[(first + i) * sw..(first + i + 1) * sw];
            for (t, &p) in row.iter_mut().zip(src_row) {
                *t += f32::from(p) * w;
            }
        }
    }
    // Horizontal pass, rounded to the nearest grey level and clamped as `image` does.
    let mut out = vec![0u8; nw * nh];
    for (out_x, (first, weights)) in cached_lanczos3_taps(src_width, width).iter().enumerate() {
        for y in 0..nh {
            let row = &columns[y * sw + first..y * sw + first + weights.len()];
            let mut t = 0f32;
            for (&v, w) in row.iter().zip(weights.iter()) {
                t += v * w;
            }
            out[y * nw + out_x] = t.clamp(0.0, 255.0).round() as u8;
        }
    }
    image::GrayImage::from_raw(width, height, out).expect("the buffer is width x height")
}

/// The first source index and the weights of each output position along one axis.
type Taps = std::rc::Rc<Vec<(usize, Vec<f32>)>>;

/// [`lanczos3_taps`] of the axis lengths last resized on this thread: their two sine evaluations per tap
/// cost as much as the resize of a 64x64 image itself, and uploads of one camera share their sizes.
fn cached_lanczos3_taps(src_len: u32, out_len: u32) -> Taps {
    const KEPT: usize = 8;
    thread_local! {
        static RECENT: std::cell::RefCell<Vec<((u32, u32), Taps)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    RECENT.with(|recent| {
        let mut recent = recent.borrow_mut();
        if let Some(found) = recent.iter().position(|(lengths, _)| *lengths == (src_len, out_len)) {
            let entry = recent.remove(found);
            let taps = entry.1.clone();
            recent.push(entry);
            return taps;
        }
        let taps = Taps::new(lanczos3_taps(src_len, out_len));
        if recent.len() == KEPT {
            recent.remove(0);
        }
        recent.push(((src_len, out_len), taps.clone()));
        taps
    })
}

/// For each output position along one axis, the first source index and the normalised Lanczos3 weights
/// of the sources from there on, computed as `image`'s resampler computes them.
fn lanczos3_taps(src_len: u32, out_len: u32) -> Vec<(usize, Vec<f32>)> {
    const SUPPORT: f32 = 3.0;
    fn sinc(t: f32) -> f32 {
        let a = t * std::f32::consts::PI;
        if t == 0.0 {
            1.0
        } else {
            a.sin() / a
        }
    }
    fn lanczos3(x: f32) -> f32 {
        if x.abs() < SUPPORT {
            sinc(x) * sinc(x / SUPPORT)
        } else {
            0.0
        }
    }
    let ratio = src_len as f32 / out_len as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let src_support = SUPPORT * sratio;
    (0..out_len)
        .map(|out| {
            let input = (out as f32 + 0.5) * ratio;
            let left = ((input - src_support).floor() as i64).clamp(0, i64::from(src_len) - 1);
            let right = ((input + src_support).ceil() as i64).clamp(left + 1, i64::from(src_len));
            let input = input - 0.5;
            let mut weights = Vec::with_capacity((right - left) as usize);
            let mut sum = 0.0;
            for i in left..right {
                let w = lanczos3((i as f32 - input) / sratio);
                weights.push(w);
                sum += w;
            }
            for w in &mut weights {
                *w /= sum;
            }
            (left as usize, weights)
        })
        .collect()
}

/// Decodes PNG or JPEG bytes, refusing oversized input before allocating the pixel buffer.
pub fn decode_bounded(bytes: &[u8]) -> Result<DynamicImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ImageError::TooLarge { bytes: bytes.len(), max: MAX_INPUT_BYTES });
    }
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        _ => return Err(ImageError::UnsupportedFormat),
    };
    // Header first: a decompression bomb declares its size before it costs anything. The decoder that read
    // the header decodes the pixels too (as `ImageReader::decode` would, after reserving its buffer under
    // the limits), so the header is parsed once. Its own allocations are bounded from the start; the sides
    // are checked here, so that an oversized image is told apart from an undecodable one.
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits.clone());
    let mut decoder = reader.into_decoder().map_err(|_| ImageError::Decode)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::Decode);
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS || width > MAX_SIDE || height > MAX_SIDE {
        return Err(ImageError::TooManyPixels { width, height });
    }
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.reserve(decoder.total_bytes()).map_err(|_| ImageError::Decode)?;
    decoder.set_limits(limits).map_err(|_| ImageError::Decode)?;
    DynamicImage::from_decoder(decoder).map_err(|_| ImageError::Decode)
}

/// Raw similarity `1 - distance/64`, in 0..=1.
pub fn similarity(a: ImageHash64, b: ImageHash64) -> f64 {
    1.0 - f64::from(a.distance(b)) / f64::from(HASH_BITS)
}

/// The score on the API threshold's scale: `1 - distance/25`, floored at 0 (see the module docs).
pub fn calibrated_similarity(a: ImageHash64, b: ImageHash64) -> f64 {
    (1.0 - f64::from(a.distance(b)) / DISTANCE_SCALE).max(0.0)
}

/// The largest distance that still matches at `threshold` (clamped to 0.1..=1.0; NaN means the default).
/// `0.6 -> 10`, `1.0 -> 0`, `0.1 -> 22`.
pub fn max_distance_for_threshold(threshold: f64) -> u32 {
    let t = if threshold.is_nan() { DEFAULT_THRESHOLD } else { threshold.clamp(MIN_THRESHOLD, MAX_THRESHOLD) };
    // The epsilon keeps 0.6 (stored as 0.59999…) from losing a bit to rounding.
    ((1.0 - t) * DISTANCE_SCALE + 1e-9).floor() as u32
}

/// A stored hex hash as the signed integer a view keeps (the same 64 bits); None when it is not a hash.
pub fn stored_bits(hex: &str) -> Option<i64> {
    ImageHash64::from_hex(hex).ok().map(|h| h.as_u64() as i64)
}

/// True when `a` and `b` are near-duplicates at the API `threshold`.
pub fn matches(a: ImageHash64, b: ImageHash64, threshold: f64) -> bool {
    a.distance(b) <= max_distance_for_threshold(threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_bad_strings() {
        let h = ImageHash64::from_u64(0xba8c_8453_6bd3_c366);
        assert_eq!(h.to_hex(), "ba8c84536bd3c366");
        assert_eq!(ImageHash64::from_hex("BA8C84536BD3C366"), Ok(h));
        assert_eq!("ba8c84536bd3c366".parse::<ImageHash64>(), Ok(h));
        for bad in ["", "ba8c", "ba8c84536bd3c3667", "zz8c84536bd3c366", "+a8c84536bd3c366", " a8c84536bd3c366"] {
            assert_eq!(ImageHash64::from_hex(bad), Err(HashParseError), "{bad:?}");
        }
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, "\"ba8c84536bd3c366\"");
        assert_eq!(serde_json::from_str::<ImageHash64>(&json).unwrap(), h);
    }

    #[test]
    fn within_distance_finds_what_comparing_each_hash_finds() {
        // A pseudo-random set with near copies of one hash planted at every offset of a block, and a
        // length that leaves a remainder after the last whole block.
        let target = ImageHash64::from_u64(0x9e37_79b9_7f4a_7c15);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut hashes: Vec<u64> = (0..1_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            })
            .collect();
        for (n, slot) in hashes.iter_mut().step_by(33).enumerate() {
            // 0 to 12 bits flipped: some within the distance, some just outside it.
            *slot = target.as_u64() ^ ((1u64 << (n % 13)) - 1);
        }
        // And one in the remainder after the last whole block.
        hashes[999] = target.as_u64() ^ 0b111;
        for max_distance in [0, 4, 10, 22, 64] {
            let expected: Vec<u64> =
                hashes.iter().copied().filter(|&h| target.distance(ImageHash64::from_u64(h)) <= max_distance).collect();
            assert_eq!(within_distance(&hashes, target, max_distance), expected, "max_distance {max_distance}");
        }
        assert!(within_distance(&hashes, target, 10).len() > 10, "the planted copies are found");
        assert!(within_distance(&[], target, 10).is_empty());
    }

    #[test]
    fn distance_and_similarity() {
        let a = ImageHash64::from_u64(0);
        let b = ImageHash64::from_u64(u64::MAX);
        assert_eq!(a.distance(b), 64);
        assert_eq!(a.distance(a), 0);
        assert_eq!(similarity(a, b), 0.0);
        assert_eq!(similarity(a, a), 1.0);
        assert_eq!(similarity(a, ImageHash64::from_u64(0xffff)), 0.75);
        assert_eq!(calibrated_similarity(a, b), 0.0);
    }

    #[test]
    fn an_upload_decoded_once_hashes_as_its_bytes_do() {
        // Stored selfie hashes were made from the bytes; the upload path now hashes its decoded grey levels.
        for (w, h) in [(96, 64), (900, 700)] {
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([(x * 7 % 251) as u8, (y * 13 % 241) as u8, ((x ^ y) % 256) as u8])
            });
            let mut png = Vec::new();
            DynamicImage::ImageRgb8(img).write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
            let luma = decode_bounded(&png).unwrap().into_luma8();
            assert_eq!(phash(&png).unwrap(), phash_luma(&luma), "{w}x{h}");
        }
    }

    /// Grey images of `width` x `height` from a seeded generator, smooth or noisy.
    fn grey(width: u32, height: u32, seed: u64) -> image::GrayImage {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let smooth = seed.is_multiple_of(2);
        image::GrayImage::from_fn(width, height, |x, y| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = (state >> 56) as u32;
            image::Luma([if smooth { ((x * 5 + y * 3 + noise / 32) % 256) as u8 } else { noise as u8 }])
        })
    }

    #[test]
    fn the_grey_lanczos3_resize_equals_the_image_crates_bit_for_bit() {
        let sizes = [(1, 1), (1, 40), (40, 1), (5, 7), (15, 17), (16, 16), (17, 15), (64, 64), (96, 64), (333, 512)];
        for (n, &(w, h)) in sizes.iter().enumerate() {
            for seed in 0..4u64 {
                let img = grey(w, h, seed + 10 * n as u64);
                for (nw, nh) in [(DCT_SIDE, DCT_SIDE), (3, 9), (w.max(2) - 1, h + 1)] {
                    let expected = image::imageops::resize(&img, nw, nh, FilterType::Lanczos3);
                    let got = lanczos3_luma(&img, nw, nh);
                    assert_eq!(got.dimensions(), expected.dimensions());
                    assert!(got.as_raw() == expected.as_raw(), "{w}x{h} -> {nw}x{nh}, seed {seed}");
                }
            }
        }
    }

    #[test]
    fn hashes_are_the_ones_image_hasher_makes_from_the_full_image() {
        for (w, h, seed) in [(64, 64, 1), (64, 64, 2), (16, 16, 3), (9, 30, 4), (512, 300, 5), (700, 900, 6)] {
            let img = grey(w, h, seed);
            // The reference: the hasher resizing the prescaled image itself, through `image`.
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(hasher().hash_image(prescaled(&img).as_ref()).as_bytes());
            assert_eq!(phash_luma(&img), ImageHash64::from_u64(u64::from_be_bytes(bytes)), "{w}x{h}");
        }
    }

    #[test]
    fn threshold_mapping() {
        assert_eq!(max_distance_for_threshold(0.6), 10);
        assert_eq!(max_distance_for_threshold(1.0), 0);
        assert_eq!(max_distance_for_threshold(0.1), 22);
        assert_eq!(max_distance_for_threshold(0.0), 22);
        assert_eq!(max_distance_for_threshold(7.0), 0);
        assert_eq!(max_distance_for_threshold(f64::NAN), 10);
        // score >= threshold agrees with distance <= max_distance for every distance and API threshold
        for t10 in 1..=10 {
            let t = f64::from(t10) / 10.0;
            for d in 0..=64u32 {
                let a = ImageHash64::from_u64(0);
                let b = ImageHash64::from_u64(if d == 64 { u64::MAX } else { (1u64 << d) - 1 });
                assert_eq!(matches(a, b, t), calibrated_similarity(a, b) + 1e-9 >= t, "t={t} d={d}");
            }
        }
    }

    #[test]
    fn refuses_garbage_and_oversize() {
        assert_eq!(phash(&[]), Err(ImageError::Empty));
        assert_eq!(phash(b"not an image at all"), Err(ImageError::UnsupportedFormat));
        assert_eq!(phash(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Err(ImageError::Decode));
        assert_eq!(phash(b"\xff\xd8\xff\xe0garbage"), Err(ImageError::Decode));
        let big = vec![0u8; MAX_INPUT_BYTES + 1];
        assert!(matches!(phash(&big), Err(ImageError::TooLarge { .. })));
    }
}
