//! The document check reads the MRZ from the photo itself (`source: mrz_image`): a passport data page
//! drawn here in OCR-B (Debian's `fonts-ocr-b`) with a fictional person's zone, uploaded through the
//! API-only flow. What the zone says is compared with what was typed, field by field; a passport photo
//! with no readable zone is a finding; and none of the zone's text reaches the database in plaintext.

use crate::helpers::*;
use crate::passport_page::{blank_page, data_page, td3};
use serde_json::{json, Value};

fn token_of(capture_url: &Value) -> String {
    capture_url.as_str().unwrap().rsplit('/').next().unwrap().to_string()
}

/// A live API-only verification with `uploads` (document side, image); `document_type` is chosen through
/// the capture steps when given. Returns the session's result.
pub(crate) async fn verify(
    app: &TestApp,
    typed: Value,
    document_type: Option<&str>,
    uploads: &[(&str, &[u8])],
) -> Value {
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
    app.decided_result(&key, &id).await
}

/// The document check's sub-check `name` of a session result.
pub(crate) fn sub_check<'a>(result: &'a Value, name: &str) -> &'a Value {
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
