//! Renders a capture URL as a PNG QR code data URL (`qr_code_data_url`). Pure; must not do I/O.

use base64::Engine;

/// `data:image/png;base64,...` of a QR code for `text`, 4 px per module with a 4-module quiet zone, as a
/// one-bit greyscale PNG: every session creation renders one, and one bit per pixel with the fast deflate
/// costs a fraction of an 8-bit image with the default encoder, for the same picture.
pub fn png_data_url(text: &str) -> Option<String> {
    let (width, colors) = qr_modules(text)?;
    // 4 px per module after a 16 px quiet zone: each module is one half of a byte (a nibble) of a row.
    let (scale, quiet) = (4usize, 4usize);
    let side = (width + 2 * quiet) * scale;
    let row_bytes = side.div_ceil(8);
    // Bit 1 is white, 0 black, most significant bit first: the quiet zone and light modules stay 1.
    let light = vec![0xffu8; row_bytes];
    let mut rows: Vec<Vec<u8>> = Vec::with_capacity(width + 2 * quiet);
    rows.extend(std::iter::repeat_n(light.clone(), quiet));
    for modules in colors.chunks_exact(width) {
        let mut row = light.clone();
        for (x, color) in modules.iter().enumerate() {
            if *color == qrcode::Color::Dark {
                let nibble = x + quiet;
                row[nibble / 2] &= if nibble % 2 == 0 { 0x0f } else { 0xf0 };
            }
        }
        rows.push(row);
    }
    rows.extend(std::iter::repeat_n(light, quiet));
    let zlib = fdeflate::compress_to_vec(&up_filtered(&rows, scale, row_bytes));
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, side as u32, side as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header().ok()?;
        writer.write_chunk(png::chunk::IDAT, &zlib).ok()?;
        writer.finish().ok()?;
    }
    Some(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)))
}

/// The PNG scanlines of `rows` of modules, each drawn `scale` times, with PNG's Up filter (type 2: each
/// byte less the byte above it): a row repeating the one above is all zeros, which deflate takes in runs
/// (the data URL is 1,470 characters for a 60-character capture URL instead of 3,606). Filtered here and
/// compressed in one call: `png`'s writer filters and hands the compressor one scanline at a time, and
/// those calls cost about twice what one call over the same scanlines does.
fn up_filtered(rows: &[Vec<u8>], scale: usize, row_bytes: usize) -> Vec<u8> {
    const UP: u8 = 2;
    let mut scanlines = Vec::with_capacity(rows.len() * scale * (row_bytes + 1));
    let mut above = vec![0u8; row_bytes];
    for row in rows {
        for copy in 0..scale {
            scanlines.push(UP);
            if copy == 0 {
                scanlines.extend(row.iter().zip(&above).map(|(byte, up)| byte.wrapping_sub(*up)));
            } else {
                scanlines.resize(scanlines.len() + row_bytes, 0);
            }
        }
        above.clone_from(row);
    }
    scanlines
}

/// The QR code's modules (medium error correction, the smallest version that holds `text`), with one fixed
/// data mask. Every mask is valid to a reader (the format information names it); choosing the "best" one
/// scores all eight and cost more than everything else a session creation does together.
fn qr_modules(text: &str) -> Option<(usize, Vec<qrcode::Color>)> {
    use qrcode::{bits, canvas, ec, EcLevel};
    let level = EcLevel::M;
    let bits = bits::encode_auto(text.as_bytes(), level).ok()?;
    let version = bits.version();
    let (data, correction) = ec::construct_codewords(&bits.into_bytes(), version, level).ok()?;
    let mut canvas = canvas::Canvas::new(version, level);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &correction);
    canvas.apply_mask(canvas::MaskPattern::Checkerboard);
    Some((version.width().try_into().ok()?, canvas.into_colors()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_capture_url_becomes_a_png_data_url() {
        let url = super::png_data_url("http://127.0.0.1:8080/verify/tok_abc").unwrap();
        assert!(url.starts_with("data:image/png;base64,iVBORw0KGgo"));
    }

    #[test]
    fn a_capture_urls_data_url_stays_small() {
        // A capture URL as the server makes them (a session token after /verify/), 1,470 characters
        // with each row stored as its difference from the one above, 3,606 without.
        let url =
            super::png_data_url("http://127.0.0.1:8080/verify/tok_01M98BWCS0AEQEAYBR3Q2D9G9P_abcdefghijklmnopqrstu")
                .unwrap();
        assert!(url.len() < 2_000, "{} characters", url.len());
    }

    #[test]
    fn every_module_is_four_pixels_square_inside_a_four_module_quiet_zone() {
        use base64::Engine;
        let text = "https://idv.example.com/verify/tok_01J0000000000000000000000";
        let url = super::png_data_url(text).unwrap();
        let png =
            base64::engine::general_purpose::STANDARD.decode(url.trim_start_matches("data:image/png;base64,")).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_luma8();
        let (width, colors) = super::qr_modules(text).unwrap();
        assert_eq!(image.dimensions(), (((width + 8) * 4) as u32, ((width + 8) * 4) as u32));
        for (x, y, pixel) in image.enumerate_pixels() {
            let (mx, my) = ((x / 4) as i64 - 4, (y / 4) as i64 - 4);
            let inside = (0..width as i64).contains(&mx) && (0..width as i64).contains(&my);
            let dark = inside && colors[my as usize * width + mx as usize] == qrcode::Color::Dark;
            assert_eq!(pixel.0[0], if dark { 0 } else { 255 }, "pixel ({x}, {y})");
        }
    }

    #[test]
    fn the_code_reads_back_as_the_capture_url() {
        use base64::Engine;
        for n in 0..20 {
            let text =
                format!("https://idv.example.com/verify/tok_{}", ulid::Ulid::from_parts(n, u128::from(n) * 7919));
            let url = super::png_data_url(&text).unwrap();
            let png = base64::engine::general_purpose::STANDARD
                .decode(url.trim_start_matches("data:image/png;base64,"))
                .unwrap();
            let codes = crate::checks::barcode::read_barcodes(&png).unwrap();
            assert!(codes.iter().any(|c| c.text == text), "{text} not read back: {codes:?}");
        }
    }
}
