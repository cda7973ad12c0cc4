//! Renders a capture URL as a PNG QR code data URL (`qr_code_data_url`). Pure; must not do I/O.

use base64::Engine;

/// `data:image/png;base64,...` of a QR code for `text`, 4 px per module with a 4-module quiet zone.
pub fn png_data_url(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_capture_url_becomes_a_png_data_url() {
        let url = super::png_data_url("http://127.0.0.1:8080/verify/tok_abc").unwrap();
        assert!(url.starts_with("data:image/png;base64,iVBORw0KGgo"));
    }
}
