//! Cross-session image similarity through the API (spec §1.6.15), on real photographs: a resized,
//! recompressed copy of a selfie matches; a different photograph does not.

use crate::helpers::*;
use serde_json::json;

fn testdata(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../shared/testdata/images/originals/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn resized_jpeg(png: &[u8]) -> Vec<u8> {
    let img = image::load_from_memory(png).unwrap();
    let small = img.resize(img.width() / 2, img.height() / 2, image::imageops::FilterType::Triangle);
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70);
    small.to_rgb8().write_with_encoder(encoder).unwrap();
    out
}

/// A sandbox session for `external_ref` with the given selfie, approved by simulation.
async fn verified_with_selfie(app: &TestApp, external_ref: &str, selfie: &[u8], mime: &str) -> String {
    let key = app.sandbox_key.clone();
    let s = app.post("/sessions", json!({"external_ref": external_ref, "first_name": external_ref, "last_name": "Test", "date_of_birth": "1980-01-01"})).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    let front = testdata("skimage_text.png");
    for (doc, bytes, m) in [("id_front", front.as_slice(), "image/png"), ("selfie", selfie, mime)] {
        let r = app
            .upload(&format!("/sessions/{id}/documents"), Some(&key), &[("document_type", doc)], Some((m, bytes)))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = app.post(&format!("/sessions/{id}/simulate"), json!({"action": "approve"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.get(&format!("/identities/{external_ref}")).await.body["id"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn a_recompressed_copy_of_a_selfie_matches_and_a_different_photo_does_not() {
    let app = spawn_app().await;
    let astronaut = testdata("skimage_astronaut.png");
    let a = verified_with_selfie(&app, "img-a", &astronaut, "image/png").await;
    let b = verified_with_selfie(&app, "img-b", &resized_jpeg(&astronaut), "image/jpeg").await;
    let c = verified_with_selfie(&app, "img-c", &testdata("skimage_coffee.png"), "image/png").await;

    let matches = app.get(&format!("/identities/{a}/image-matches?source_type=selfie")).await;
    assert_eq!(matches.status, 200, "{}", matches.body);
    let ids: Vec<&str> =
        matches.body["data"].as_array().unwrap().iter().map(|m| m["identity_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![b.as_str()], "{}", matches.body);
    assert!(matches.body["data"][0]["similarity"].as_f64().unwrap() >= 0.6);
    assert_eq!(matches.body["pagination"]["total"], 1);

    let none = app.get(&format!("/identities/{c}/image-matches?source_type=selfie")).await;
    assert_eq!(none.body["pagination"]["total"], 0, "{}", none.body);
    // All three uploaded the same document front: by default both sources count.
    let fronts = app.get(&format!("/identities/{c}/image-matches")).await;
    assert_eq!(fronts.body["pagination"]["total"], 2, "{}", fronts.body);
    assert!(fronts.body["data"].as_array().unwrap().iter().all(|m| m["source_type"] == "document_front"));
    assert_eq!(app.get(&format!("/identities/{a}/image-matches?threshold=0.05")).await.status, 422);
    assert_eq!(app.get(&format!("/identities/{a}/image-matches?source_type=voice")).await.status, 422);
    assert_eq!(app.live_get(&format!("/identities/{a}/image-matches")).await.status, 404);
}
