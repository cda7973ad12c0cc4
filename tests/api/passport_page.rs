//! A passport data page drawn for tests: a TD3 zone for a fictional holder with valid check digits, set in
//! OCR-B (Debian's `fonts-ocr-b`) on a page with a portrait placeholder and label bars.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont};

const OCR_B: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";

/// ICAO 9303 check digit (weights 7, 3, 1; `<` is 0, letters 10-35).
fn check_digit(field: &str) -> char {
    let value = |c: char| match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A'..='Z' => c as u32 - 'A' as u32 + 10,
        _ => 0,
    };
    let sum: u32 = field.chars().zip([7, 3, 1].iter().cycle()).map(|(c, w)| value(c) * w).sum();
    char::from_digit(sum % 10, 10).unwrap()
}

fn pad(s: &str, n: usize) -> String {
    format!("{s:<<n$}")
}

/// A TD3 (passport) zone for a fictional Dutch holder.
pub fn td3(surname: &str, given: &str, number: &str, birth: &str, sex: char, expiry: &str) -> [String; 2] {
    let line1 = pad(&format!("P<NLD{surname}<<{}", given.replace(' ', "<")), 44);
    let number = pad(number, 9);
    let personal = pad("", 14);
    let (n, b, e, p) = (check_digit(&number), check_digit(birth), check_digit(expiry), check_digit(&personal));
    let composite = check_digit(&format!("{number}{n}{birth}{b}{expiry}{e}{personal}{p}"));
    let line2 = format!("{number}{n}NLD{birth}{b}{sex}{expiry}{e}{personal}{p}{composite}");
    assert_eq!(line2.len(), 44);
    [line1, line2]
}

/// A data page at 10 px/mm (125 x 88 mm) with the zone in OCR-B at its 2.54 mm pitch.
pub fn data_page(lines: &[String]) -> Vec<u8> {
    let font = FontVec::try_from_vec(std::fs::read(OCR_B).expect("fonts-ocr-b is installed (make test-deps)")).unwrap();
    let pitch = 25.4_f32;
    let unscaled_advance = font.h_advance_unscaled(font.glyph_id('M'));
    let scale = PxScale::from(pitch * font.height_unscaled() / unscaled_advance);
    let scaled = font.as_scaled(scale);
    let mut page = image::GrayImage::from_pixel(1250, 880, image::Luma([246]));
    // A portrait placeholder and a few label bars, so the zone is not the only thing on the page.
    for y in 150..560 {
        for x in 60..380 {
            page.put_pixel(x, y, image::Luma([150]));
        }
    }
    for row in 0..6 {
        for y in 170 + row * 60..184 + row * 60 {
            for x in 440..(900 - row * 40) {
                page.put_pixel(x, y, image::Luma([120]));
            }
        }
    }
    for (i, line) in lines.iter().enumerate() {
        let baseline = 760.0 + i as f32 * 55.0;
        for (j, c) in line.chars().enumerate() {
            let glyph = scaled.scaled_glyph(c);
            let mut glyph = glyph;
            glyph.position = ab_glyph::point(45.0 + j as f32 * pitch, baseline);
            if let Some(outlined) = font.outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                outlined.draw(|x, y, coverage| {
                    let (px, py) = (bounds.min.x as i32 + x as i32, bounds.min.y as i32 + y as i32);
                    if (0..1250).contains(&px) && (0..880).contains(&py) {
                        let p = page.get_pixel_mut(px as u32, py as u32);
                        p.0[0] = p.0[0].min((255.0 * (1.0 - coverage)) as u8);
                    }
                });
            }
        }
    }
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(page)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A page with a checker pattern and no zone.
pub fn blank_page() -> Vec<u8> {
    let page = image::GrayImage::from_fn(1250, 880, |x, y| image::Luma([200 + ((x / 50 + y / 50) % 2 * 30) as u8]));
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(page)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}
