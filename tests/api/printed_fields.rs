//! The printed (visual-zone) fields of a document photo, read with Tesseract: a passport data page drawn
//! here (labels and values in DejaVu Sans from Debian's `fonts-dejavu-core`, the zone in OCR-B) is uploaded
//! to a session; its printed surname, given names and dates are compared with the zone and with what was
//! typed, each as a sub-check; a printed surname that differs from the zone declines the session; and a
//! bill uploaded as a document front is classified as the wrong upload it is. Printed values never reach
//! the database in plaintext.

use crate::helpers::*;
use crate::mrz_document::sub_check;
use crate::passport_page::td3;
use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use serde_json::{json, Value};

const OCR_B: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";
const SANS: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const SANS_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

fn font(path: &str) -> FontVec {
    FontVec::try_from_vec(std::fs::read(path).unwrap_or_else(|_| panic!("{path} is installed (make test-deps)")))
        .unwrap()
}

/// Draws `text` with its baseline at (x, y); `pitch` sets a fixed advance (the zone's 2.54 mm).
fn draw(page: &mut image::GrayImage, font: &FontVec, px: f32, x: f32, y: f32, text: &str, pitch: Option<f32>) {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut pen = x;
    for c in text.chars() {
        let mut glyph = scaled.scaled_glyph(c);
        glyph.position = ab_glyph::point(pen, y);
        pen += pitch.unwrap_or_else(|| scaled.h_advance(glyph.id));
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            let (w, h) = page.dimensions();
            outlined.draw(|gx, gy, coverage| {
                let (px, py) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                    let p = page.get_pixel_mut(px as u32, py as u32);
                    p.0[0] = p.0[0].min((255.0 * (1.0 - coverage)) as u8);
                }
            });
        }
    }
}

fn png(page: image::GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(page)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A passport data page at 10 px/mm: title, portrait placeholder, labelled fields, and the zone.
fn printed_page(zone: &[String], fields: &[(&str, &str)]) -> Vec<u8> {
    let (sans, bold, ocrb) = (font(SANS), font(SANS_BOLD), font(OCR_B));
    let mut page = image::GrayImage::from_pixel(1250, 880, image::Luma([246]));
    draw(&mut page, &bold, 40.0, 45.0, 70.0, "PASSPORT", None);
    for y in 150..560 {
        for x in 60..380 {
            page.put_pixel(x, y, image::Luma([170]));
        }
    }
    for (i, (label, value)) in fields.iter().enumerate() {
        let top = 150.0 + i as f32 * 70.0;
        draw(&mut page, &sans, 22.0, 430.0, top + 18.0, label, None);
        draw(&mut page, &bold, 32.0, 430.0, top + 52.0, value, None);
    }
    let pitch = 25.4_f32;
    let advance = ocrb.h_advance_unscaled(ocrb.glyph_id('M'));
    let px = pitch * ocrb.height_unscaled() / advance;
    for (i, line) in zone.iter().enumerate() {
        draw(&mut page, &ocrb, px, 45.0, 760.0 + i as f32 * 55.0, line, Some(pitch));
    }
    png(page)
}

fn zone() -> [String; 2] {
    td3("QUARTERMAINE", "LINNEA", "NX4KF72P1", "850412", 'F', "330907")
}

fn page_with_surname(surname: &str) -> Vec<u8> {
    printed_page(
        &zone(),
        &[
            ("Surname / Nom", surname),
            ("Given names / Prénoms", "Linnea"),
            ("Date of birth", "12 APR 1985"),
            ("Date of expiry", "07 SEP 2033"),
        ],
    )
}

/// A live API-only verification of one passport front; returns the session's result.
async fn verify(app: &TestApp, typed: Value, front: &[u8]) -> Value {
    crate::mrz_document::verify(app, typed, Some("passport"), &[("id_front", front)]).await
}

fn database_text(app: &TestApp) -> String {
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[actix_web::test]
async fn the_printed_fields_of_a_data_page_are_read_and_compared_with_the_zone_and_the_typed_data() {
    let app = spawn_app().await;
    let typed = json!({"first_name": "Linnea", "last_name": "Quartermaine", "date_of_birth": "1985-04-12"});
    let result = verify(&app, typed, &page_with_surname("Quartermaine")).await;
    assert_eq!(result["status"], "approved", "{result}");
    for field in ["last_name", "first_name", "date_of_birth", "date_of_expiry"] {
        assert_eq!(sub_check(&result, &format!("printed.{field}.mrz"))["status"], "passed", "{field}: {result}");
    }
    for field in ["last_name", "first_name", "date_of_birth"] {
        assert_eq!(sub_check(&result, &format!("printed.{field}.entered"))["status"], "passed", "{field}: {result}");
    }
    assert!(!database_text(&app).contains("Quartermaine"), "printed values are sealed");
}

#[actix_web::test]
async fn a_printed_surname_that_differs_from_the_zone_goes_to_review_and_names_the_field() {
    let app = spawn_app().await;
    // The zone says QUARTERMAINE; the page's printed surname was altered, and so was what was typed.
    let typed = json!({"first_name": "Linnea", "last_name": "Quartermaine", "date_of_birth": "1985-04-12"});
    let result = verify(&app, typed, &page_with_surname("Vandermolen")).await;
    // The zone validated and agrees with what was typed: the printed page alone goes to a person.
    assert_eq!(result["status"], "needs_review", "{result}");
    assert!(result["rejection_reason"].as_str().unwrap_or("").contains("printed data disagrees"), "{result}");
    assert_eq!(sub_check(&result, "printed.last_name.mrz")["status"], "failed", "{result}");
    assert_eq!(sub_check(&result, "printed.last_name.entered")["status"], "failed", "{result}");
    assert_eq!(sub_check(&result, "printed.first_name.mrz")["status"], "passed", "{result}");
    assert!(!result.to_string().contains("Vandermolen"), "no value quoted: {result}");
    assert!(!database_text(&app).contains("Vandermolen"), "printed values are sealed");
}

/// A utility bill: a billing title, an address and a date, no zone, no barcode.
fn bill() -> Vec<u8> {
    let (sans, bold) = (font(SANS), font(SANS_BOLD));
    let mut page = image::GrayImage::from_pixel(1240, 1754, image::Luma([250]));
    draw(&mut page, &bold, 48.0, 100.0, 150.0, "NORTHWIND ENERGY", None);
    draw(&mut page, &bold, 40.0, 100.0, 260.0, "ELECTRICITY BILL", None);
    let lines = [
        "Linnea Quartermaine",
        "42 Harbour Road",
        "Bristol BS1 4DJ",
        "",
        "Statement date: 03 NOV 2026",
        "Account number: 7781 2290",
        "Amount due: 84.20",
    ];
    for (i, l) in lines.iter().enumerate() {
        draw(&mut page, &sans, 32.0, 100.0, 400.0 + i as f32 * 52.0, l, None);
    }
    png(page)
}

#[actix_web::test]
async fn a_bill_uploaded_as_a_document_front_is_classified_as_a_proof_of_address_and_fails_the_match() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let r = app.upload("/documents", Some(&key), &[("document_type", "id_front")], Some(("image/png", &bill()))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["classification"]["classification"], "proof_of_address", "{}", r.body);
    assert!(r.body["classification"]["signals"].as_array().unwrap().contains(&json!("printed_text")), "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let checks = app.get(&format!("/documents/{id}/checks")).await;
    let list = checks.body["checks"].as_array().or_else(|| checks.body["data"].as_array()).cloned().unwrap_or_default();
    let m = list.iter().find(|c| c["name"] == "classification_match").unwrap_or_else(|| panic!("{}", checks.body));
    assert_eq!(m["status"], "failed", "{}", checks.body);

    // The same page read as a passport data page: the title says so, and its printed fields are extracted
    // with their confidence and their agreement with the zone.
    let page = page_with_surname("Quartermaine");
    let r = app.upload("/documents", Some(&key), &[("document_type", "id_front")], Some(("image/png", &page))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["classification"]["classification"], "passport", "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    let x = app.get(&format!("/documents/{id}/extractions")).await;
    let fields = &x.body["data"][0]["fields"];
    assert_eq!(fields["printed_last_name"], "Quartermaine", "{}", x.body);
    assert_eq!(fields["printed_last_name_mrz"], "agrees", "{}", x.body);
    assert!(fields["printed_last_name_confidence"].as_str().unwrap().parse::<f64>().unwrap() > 0.6, "{}", x.body);
    assert!(x.body["data"][0]["sources"].as_array().unwrap().contains(&json!("printed")), "{}", x.body);
}
