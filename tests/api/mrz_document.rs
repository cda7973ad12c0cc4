//! The document check reads the MRZ from the photo itself (`source: mrz_image`): a passport data page
//! drawn here in OCR-B (Debian's `fonts-ocr-b`) with a fictional person's zone, uploaded through the
//! API-only flow. What the zone says is compared with what was typed, field by field; a passport photo
//! with no readable zone is a finding; and none of the zone's text reaches the database in plaintext.

use crate::helpers::*;
use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use serde_json::{json, Value};

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
fn td3(surname: &str, given: &str, number: &str, birth: &str, sex: char, expiry: &str) -> [String; 2] {
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
fn data_page(lines: &[String]) -> Vec<u8> {
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

fn blank_page() -> Vec<u8> {
    let page = image::GrayImage::from_fn(1250, 880, |x, y| image::Luma([200 + ((x / 50 + y / 50) % 2 * 30) as u8]));
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(page)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn token_of(capture_url: &Value) -> String {
    capture_url.as_str().unwrap().rsplit('/').next().unwrap().to_string()
}

/// A live API-only verification with `uploads` (document side, image); `document_type` is chosen through
/// the capture steps when given. Returns the session's result.
async fn verify(app: &TestApp, typed: Value, document_type: Option<&str>, uploads: &[(&str, &[u8])]) -> Value {
    let key = app.live_key.clone();
    let mut body = json!({"checks": ["document_ocr", "document_expiration", "age_verification"]});
    body.as_object_mut().unwrap().extend(typed.as_object().unwrap().clone());
    let s = app.send("POST", "/sessions", Some(&key), &[], Some(&body)).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    if let Some(t) = document_type {
        let token = token_of(&s.body["capture_url"]);
        let v = |step: &str| format!("/verify/{token}/{step}");
        assert_eq!(app.send_json_raw("POST", &v("consent"), &json!({"accepted": true})).await.status, 200);
        let r = app.send_json_raw("POST", &v("document-type"), &json!({"document_type": t})).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for (side, image) in uploads {
        let r = app
            .upload(
                &format!("/sessions/{id}/documents"),
                Some(&key),
                &[("document_type", side)],
                Some(("image/png", image)),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let submitted = app.send("POST", &format!("/sessions/{id}/submit"), Some(&key), &[], None).await;
    assert_eq!(submitted.status, 202, "{}", submitted.body);
    for _ in 0..300 {
        if app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await.body["status"] != "processing" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.send("GET", &format!("/sessions/{id}/result"), Some(&key), &[], None).await.body
}

fn sub_check<'a>(result: &'a Value, name: &str) -> &'a Value {
    result["check_results"]["document_ocr"]["sub_checks"]
        .as_array()
        .and_then(|subs| subs.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no sub-check {name}: {result}"))
}

#[actix_web::test]
async fn the_zone_read_from_the_photo_is_the_source_and_is_compared_with_what_was_typed() {
    let app = spawn_app().await;
    let zone = td3("VAN<DER<STEEG", "WILLEKE MARIJE", "NX4KF72P1", "850412", 'F', "330907");
    let page = data_page(&zone);

    let typed = json!({"first_name": "Willeke Marije", "last_name": "van der Steeg", "date_of_birth": "1985-04-12"});
    let read = verify(&app, typed, None, &[("id_front", &page)]).await;
    assert_eq!(read["status"], "approved", "{read}");
    assert_eq!(read["check_results"]["document_ocr"]["detail"]["source"], "mrz_image", "{read}");
    for field in ["last_name", "first_name", "date_of_birth"] {
        assert_eq!(sub_check(&read, &format!("consistency.{field}"))["status"], "passed", "{field}: {read}");
    }
    assert_eq!(sub_check(&read, "mrz.composite_check_digit")["status"], "passed");
    // What the zone says and nobody typed fills the result.
    assert_eq!(read["extracted_data"]["document_number"], "NX4KF72P1", "{read}");
    assert_eq!(read["extracted_data"]["document_expiration_date"], "2033-09-07", "{read}");

    // A back with no zone uploaded after the data page does not replace what the data page said.
    let typed = json!({"first_name": "Willeke Marije", "last_name": "van der Steeg", "date_of_birth": "1985-04-12"});
    let blank = blank_page();
    let both = verify(&app, typed, None, &[("id_front", &page), ("id_back", &blank)]).await;
    assert_eq!(both["check_results"]["document_ocr"]["detail"]["source"], "mrz_image", "{both}");

    // A fraudster types another name: the zone disagrees, and the finding names the field, not the value.
    let typed = json!({"first_name": "Willeke Marije", "last_name": "Jansen", "date_of_birth": "1985-04-12"});
    let wrong = verify(&app, typed, None, &[("id_front", &page)]).await;
    assert_eq!(wrong["status"], "declined", "{wrong}");
    assert_eq!(wrong["rejection_reason_code"], "mrz_mismatch", "{wrong}");
    assert_eq!(sub_check(&wrong, "consistency.last_name")["status"], "failed", "{wrong}");
    assert!(!wrong.to_string().contains("STEEG"), "no value quoted: {wrong}");

    // Neither the zone, nor the number, nor the name is stored in plaintext anywhere.
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in ["NX4KF72P1", "VAN<DER<STEEG", &zone[1][..20], "Willeke"] {
        assert!(!text.contains(secret), "{secret} found in the database file");
    }
}

#[actix_web::test]
async fn a_passport_photo_without_a_readable_zone_is_a_finding_not_a_pass() {
    let app = spawn_app().await;
    let typed = json!({"first_name": "Willeke", "last_name": "van der Steeg", "date_of_birth": "1985-04-12"});
    let blank = blank_page();
    let result = verify(&app, typed.clone(), Some("passport"), &[("id_front", &blank)]).await;
    assert_eq!(result["status"], "declined", "{result}");
    assert_eq!(result["rejection_reason_code"], "document_unreadable", "{result}");
    assert_eq!(sub_check(&result, "mrz.readable")["status"], "failed", "{result}");

    // A driving licence carries no zone: its photo without one is not held against it.
    let licence = verify(&app, typed, Some("drivers_license"), &[("id_front", &blank), ("id_back", &blank)]).await;
    assert_eq!(licence["status"], "approved", "{licence}");
    assert_eq!(licence["check_results"]["document_ocr"]["detail"]["source"], "confirmed_by_person", "{licence}");
}
