//! Sealed PII at rest: seeded plaintext never reaches the database file or its WAL, and redaction
//! destroys the data key (crypto-shredding) without leaving it in free pages or the WAL.

use crate::helpers::*;
use serde_json::json;

const SEEDED: &[&str] = &[
    "Zebulonius",
    "Quackenbush",
    "1961-07-04",
    "zebulonius.q@example.org",
    "+1 555 013 7788",
    "987-65-4329",
    "X9Q8W7E6R5",
    "742 Evergreen Terrace",
    "Shelbyville",
    "90210-4242",
    "Nightingale Florence",
];

fn file_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = std::fs::read(app.db_path()).expect("db file");
    if let Ok(wal) = std::fs::read(format!("{}-wal", app.db_path().display())) {
        bytes.extend(wal);
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

async fn seed(app: &TestApp) -> String {
    let type_id = app.post("/identity-types", json!({"name": "customer", "label": "Customer"})).await.body["id"]
        .as_str()
        .expect("type id")
        .to_string();
    let field = app
        .post(
            &format!("/identity-types/{type_id}/fields"),
            json!({"name": "mothers_maiden_name", "label": "Secret", "field_type": "string", "is_encrypted": true}),
        )
        .await;
    assert_eq!(field.status, 201, "{}", field.body);
    let id = app
        .create_identity(json!({
            "external_ref": "pii-scan-1",
            "identity_type_id": type_id,
            "first_name": "Zebulonius", "last_name": "Quackenbush", "date_of_birth": "1961-07-04",
            "email": "zebulonius.q@example.org", "phone": "+1 555 013 7788", "ssn": "987-65-4329",
            "document_number": "X9Q8W7E6R5", "address_line1": "742 Evergreen Terrace", "city": "Springfield",
            "zip_code": "90210-4242"
        }))
        .await;
    let patched = app.patch(&format!("/identities/{id}"), json!({"city": "Shelbyville"})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let custom = app
        .patch(
            &format!("/identities/{id}/custom-fields"),
            json!({"custom_fields": {"mothers_maiden_name": "Nightingale Florence"}}),
        )
        .await;
    assert_eq!(custom.status, 200, "{}", custom.body);
    assert_eq!(custom.body["custom_fields"]["mothers_maiden_name"], "Nightingale Florence");
    let export = app.get(&format!("/identities/{id}/export")).await;
    assert_eq!(export.body["identity"]["extracted_data"]["ssn"], "987-65-4329");
    let found = app
        .post(
            "/identities/search",
            json!({"first_name": "zebulonius", "last_name": "QUACKENBUSH", "date_of_birth": "1961-07-04"}),
        )
        .await;
    assert_eq!(found.body["pagination"]["total"], 1, "{}", found.body);
    id
}

#[actix_web::test]
async fn seeded_pii_never_reaches_the_database_file_or_wal_in_plaintext() {
    let app = spawn_app().await;
    seed(&app).await;
    let bytes = file_bytes(&app);
    assert!(contains(&bytes, b"pii-scan-1"), "the scan must see the file's real contents");
    for value in SEEDED {
        assert!(!contains(&bytes, value.as_bytes()), "plaintext {value:?} found in the database file or WAL");
        assert!(!contains(&bytes, value.to_lowercase().as_bytes()), "normalised {value:?} found on disk");
    }
}

#[actix_web::test]
async fn redaction_shreds_the_data_key_and_the_person_cannot_be_found_again() {
    let app = spawn_app().await;
    let id = seed(&app).await;
    let wrapped: Vec<u8> = {
        let conn =
            rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let (listed, position): (i64, Option<i64>) = conn
            .query_row("SELECT length(blind_keys), blind_seq FROM identities WHERE id = ?1", [&id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!(listed >= 5 * 16, "name and date of birth, email, phone, SSN, document number: {listed} bytes");
        assert!(position.is_some(), "the keys carry the log position the lookup catches up by");
        conn.query_row("SELECT wrapped_key FROM subject_keys WHERE subject_id = ?1", [&id], |r| r.get(0)).unwrap()
    };
    assert!(contains(&file_bytes(&app), &wrapped));

    let r = app.delete(&format!("/identities/{id}/data")).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let got = app.get(&format!("/identities/{id}")).await;
    assert_eq!(got.body["status"], "redacted");
    assert!(got.body["extracted_data"].is_null());
    assert_eq!(got.body["custom_fields"], json!({}));
    for search in [
        json!({"first_name": "Zebulonius", "last_name": "Quackenbush", "date_of_birth": "1961-07-04"}),
        json!({"email": "zebulonius.q@example.org"}),
        json!({"ssn": "987-65-4329"}),
        json!({"document_number": "X9Q8W7E6R5"}),
    ] {
        let found = app.post("/identities/search", search.clone()).await;
        assert_eq!(found.body["pagination"]["total"], 0, "{search} still finds the redacted person");
    }
    let bytes = file_bytes(&app);
    assert!(!contains(&bytes, &wrapped), "the destroyed data key is still in the file or WAL");
    let conn =
        rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let (listed, position): (Option<Vec<u8>>, Option<i64>) = conn
        .query_row("SELECT blind_keys, blind_seq FROM identities WHERE id = ?1", [&id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(listed, None, "the identity's row no longer lists its blind-index keys");
    assert_eq!(position, None);
}
