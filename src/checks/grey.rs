//! Grey levels of a decoded upload: the same bytes as the `image` crate's `into_luma8`, computed from
//! three per-channel tables instead of its per-pixel float buffers. Pure; must not decode or do I/O.
//!
//! Every upload is reduced to grey levels once (its perceptual hash, barcodes, MRZ and printed fields read
//! them). `image` converts 8-bit RGB through f32 working buffers in blocks, expanding each channel, a
//! multiply-add per channel and a rounding call per pixel: under the verification bench that conversion
//! was about 1% of the machine. Its arithmetic is `((0 + r/255·kr) + g/255·kg) + b/255·kb`, scaled by 255
//! and rounded half away from zero. The three products depend on one channel each, so they are tabled
//! once (256 entries per channel), and the sums are added in the same order: the result is bit for bit
//! what `image` gives. The coefficients are the ones `image` itself derives for sRGB, read back from it
//! by converting three unit f32 pixels, so they cannot drift from the crate's. Images in any other
//! colour space or layout go through `image` unchanged.

use image::metadata::Cicp;
use image::{DynamicImage, GrayImage, ImageBuffer, Luma};
use std::sync::OnceLock;

/// `image.into_luma8()`, faster for 8-bit RGB and RGBA in sRGB (what PNG and JPEG uploads decode to).
pub fn luma8(image: DynamicImage) -> GrayImage {
    let tables = match SRGB_TABLES.get_or_init(srgb_tables) {
        Some(tables) if image.color_space() == Cicp::SRGB => tables,
        _ => return image.into_luma8(),
    };
    match image {
        DynamicImage::ImageRgb8(rgb) => convert::<3>(tables, rgb.width(), rgb.height(), rgb.as_raw()),
        DynamicImage::ImageRgba8(rgba) => convert::<4>(tables, rgba.width(), rgba.height(), rgba.as_raw()),
        other => other.into_luma8(),
    }
}

/// Per channel, the f32 product `image` adds for each 8-bit value.
struct ChannelTables {
    red: [f32; 256],
    green: [f32; 256],
    blue: [f32; 256],
}

static SRGB_TABLES: OnceLock<Option<ChannelTables>> = OnceLock::new();

/// The tables for sRGB, from the coefficients `image` derives for it (none if it cannot convert).
fn srgb_tables() -> Option<ChannelTables> {
    let mut unit =
        DynamicImage::ImageRgb32F(ImageBuffer::from_raw(3, 1, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])?);
    unit.set_color_space(Cicp::SRGB).ok()?;
    let luma = unit.to_luma32f();
    let [kr, kg, kb] = [0, 1, 2].map(|x| luma.get_pixel(x, 0).0[0]);
    // The 8-bit value as `image` expands it: v · (1/255), in f32.
    let expand = |v: usize| v as f32 * (1.0 / 255.0f32);
    Some(ChannelTables {
        red: std::array::from_fn(|v| expand(v) * kr),
        green: std::array::from_fn(|v| expand(v) * kg),
        blue: std::array::from_fn(|v| expand(v) * kb),
    })
}

fn convert<const CHANNELS: usize>(tables: &ChannelTables, width: u32, height: u32, raw: &[u8]) -> GrayImage {
    let grey: Vec<u8> = raw
        .chunks_exact(CHANNELS)
        .map(|px| {
            let luma = 0.0f32 + tables.red[px[0] as usize];
            let luma = luma + tables.green[px[1] as usize];
            let luma = luma + tables.blue[px[2] as usize];
            to_u8(luma * 255.0)
        })
        .collect();
    ImageBuffer::<Luma<u8>, _>::from_raw(width, height, grey).unwrap_or_else(|| GrayImage::new(width, height))
}

/// `value.round() as u8` (half away from zero, saturating as the cast in `image` does) for the sums the
/// sRGB tables give, as one addition and a cast: a branch-free loop, 20 instructions a pixel where comparing
/// the fraction with one half took 32. Adding one half differs from rounding only on a value just
/// below a half, which the f32 addition rounds up to the next whole number; none of the 2^24 colours sums
/// to one (`every_colour_rounds_as_round_does` goes through them all).
fn to_u8(value: f32) -> u8 {
    (value + 0.5) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};
    use proptest::prelude::*;

    #[test]
    fn every_grey_level_of_every_single_channel_matches_image() {
        // Each channel alone through its 256 values, and the three together (the greys).
        let mut pixels = Vec::new();
        for v in 0..=255u8 {
            pixels.extend([Rgb([v, 0, 0]), Rgb([0, v, 0]), Rgb([0, 0, v]), Rgb([v, v, v]), Rgb([255 - v, v, v / 2])]);
        }
        let width = pixels.len() as u32;
        let image = RgbImage::from_fn(width, 1, |x, _| pixels[x as usize]);
        let ours = luma8(DynamicImage::ImageRgb8(image.clone()));
        assert_eq!(ours.as_raw(), DynamicImage::ImageRgb8(image).into_luma8().as_raw());
    }

    #[test]
    fn every_colour_rounds_as_round_does() {
        // Every 8-bit colour's sum, rounded by the addition and by `round` (what `image` calls).
        let tables = SRGB_TABLES.get_or_init(srgb_tables).as_ref().unwrap();
        let mut differ = 0u32;
        for red in tables.red {
            for green in tables.green {
                let red_green = 0.0f32 + red + green;
                for blue in tables.blue {
                    let value = (red_green + blue) * 255.0;
                    differ += u32::from(to_u8(value) != value.round() as u8);
                }
            }
        }
        assert_eq!(differ, 0);
    }

    #[test]
    fn other_layouts_and_colour_spaces_go_through_image() {
        let grey = GrayImage::from_fn(5, 3, |x, y| Luma([(x * 40 + y) as u8]));
        assert_eq!(luma8(DynamicImage::ImageLuma8(grey.clone())), grey);
        let mut linear = DynamicImage::ImageRgb8(RgbImage::from_fn(4, 4, |x, y| Rgb([x as u8 * 60, y as u8 * 60, 9])));
        linear.set_color_space(Cicp::SRGB_LINEAR).unwrap();
        assert_eq!(luma8(linear.clone()), linear.into_luma8());
    }

    #[test]
    fn png_and_jpeg_uploads_decode_to_what_the_tables_cover() {
        let picture = RgbImage::from_fn(24, 16, |x, y| Rgb([(x * 10) as u8, (y * 15) as u8, 77]));
        for format in [image::ImageFormat::Png, image::ImageFormat::Jpeg] {
            let mut bytes = Vec::new();
            DynamicImage::ImageRgb8(picture.clone()).write_to(&mut std::io::Cursor::new(&mut bytes), format).unwrap();
            let decoded = crate::checks::imagehash::decode_bounded(&bytes).unwrap();
            assert_eq!(decoded.color_space(), Cicp::SRGB, "{format:?}");
            assert!(matches!(decoded, DynamicImage::ImageRgb8(_)), "{format:?}");
        }
        assert!(SRGB_TABLES.get_or_init(srgb_tables).is_some());
    }

    proptest! {
        #[test]
        fn random_rgb_and_rgba_images_give_the_bytes_image_gives(
            width in 1u32..40, height in 1u32..40, seed in any::<u64>(),
        ) {
            let mut state = seed | 1;
            let mut next = move || { state ^= state << 13; state ^= state >> 7; state ^= state << 17; state as u8 };
            let rgb = RgbImage::from_fn(width, height, |_, _| Rgb([next(), next(), next()]));
            let rgba = RgbaImage::from_fn(width, height, |_, _| Rgba([next(), next(), next(), next()]));
            prop_assert_eq!(
                luma8(DynamicImage::ImageRgb8(rgb.clone())).into_raw(),
                DynamicImage::ImageRgb8(rgb).into_luma8().into_raw()
            );
            prop_assert_eq!(
                luma8(DynamicImage::ImageRgba8(rgba.clone())).into_raw(),
                DynamicImage::ImageRgba8(rgba).into_luma8().into_raw()
            );
        }
    }
}
