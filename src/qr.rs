//! Renders a capture URL as a PNG QR code data URL (`qr_code_data_url`). Pure; must not do I/O.

use base64::Engine;

/// `data:image/png;base64,...` of a QR code for `text`, 4 px per module with a 4-module quiet zone.
pub fn png_data_url(text: &str) -> Option<String> {
    let (width, colors) = qr_modules(text)?;
    let (scale, quiet) = (4usize, 4usize);
    let side = (width + 2 * quiet) * scale;
    let mut img = image::GrayImage::from_pixel(side as u32, side as u32, image::Luma([255u8]));
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = ((i % width + quiet) * scale, (i / width + quiet) * scale);
            for dy in 0..scale {
                for dx in 0..scale {
                    img.put_pixel((x + dx) as u32, (y + dy) as u32, image::Luma([0u8]));
                }
            }
        }
    }
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(img).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).ok()?;
    Some(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png)))
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
