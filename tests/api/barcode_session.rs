//! A driver's licence read from its PDF417 barcode (fixtures/documents/aamva_dl_back.png: a fictional
//! California licence, John Quincy Public, born 1990-01-15, D1234567): the reading fills what was not
//! entered and fails the document check where it disagrees.

use crate::helpers::*;
use serde_json::{json, Value};

const BACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/documents/aamva_dl_back.png");

async fn verify(app: &TestApp, external_ref: &str, prefill: Value) -> Value {
    let key = app.live_key.clone();
    let mut body =
        json!({"external_ref": external_ref, "checks": ["document_ocr", "document_expiration", "age_verification"]});
    body.as_object_mut().unwrap().extend(prefill.as_object().unwrap().clone());
    let s = app.send("POST", "/sessions", Some(&key), &[], Some(&body)).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    let front = {
        let img = image::RgbImage::from_fn(80, 50, |x, y| image::Rgb([x as u8 * 3, 100, y as u8 * 4]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let back = std::fs::read(BACK).unwrap();
    for (doc, bytes) in [("id_front", &front), ("id_back", &back)] {
        let r = app
            .upload(
                &format!("/sessions/{id}/documents"),
                Some(&key),
                &[("document_type", doc)],
                Some(("image/png", bytes)),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    assert_eq!(app.send("POST", &format!("/sessions/{id}/submit"), Some(&key), &[], None).await.status, 202);
    for _ in 0..200 {
        if app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await.body["status"] != "processing" {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.send("GET", &format!("/sessions/{id}/result"), Some(&key), &[], None).await.body
}

#[actix_web::test]
async fn the_licence_barcode_fills_the_data_and_checks_what_was_entered() {
    let app = spawn_app().await;
    let read = verify(&app, "dl-1", json!({"first_name": "John", "last_name": "Public"})).await;
    assert_eq!(read["status"], "approved", "{read}");
    assert_eq!(read["check_results"]["document_ocr"]["detail"]["source"], "pdf417");
    assert_eq!(read["extracted_data"]["date_of_birth"], "1990-01-15");
    assert_eq!(read["extracted_data"]["document_number"], "D1234567");
    assert_eq!(read["age_check_passed"], true);

    let wrong = verify(&app, "dl-2", json!({"first_name": "John", "last_name": "Smith"})).await;
    assert_eq!(wrong["status"], "declined", "{wrong}");
    assert_eq!(wrong["rejection_reason_code"], "document_mismatch");
    assert!(!wrong.to_string().contains("Public"), "the mismatch detail quotes no value: {wrong}");
}
