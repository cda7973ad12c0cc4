//! The documents API (spec §1.3): standalone and session uploads as one `doc_` resource, sealed at rest,
//! signed downloads, previews made on the fly, classification and extraction from what idv reads offline
//! (barcodes, MRZ, image facts), custom document types with extraction hints, document groups with
//! recency rules, redaction, webhooks without PII, scopes and errors in the spec's shape.

use crate::helpers::*;
use serde_json::{json, Value};

const LICENCE_BACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/documents/aamva_dl_back.png");

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 % 251) as u8, (y * 5 % 241) as u8, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// A small valid PDF with `pages` pages; `marker` is written into its content so the database can be
/// searched for it.
fn pdf(pages: usize, marker: &str) -> Vec<u8> {
    let mut objects: Vec<String> = vec!["<< /Type /Catalog /Pages 2 0 R >>".into()];
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 3 + 2 * i)).collect();
    objects.push(format!("<< /Type /Pages /Kids [{}] /Count {pages} >>", kids.join(" ")));
    for i in 0..pages {
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents {} 0 R /Resources << >> >>",
            4 + 2 * i
        ));
        let stream = format!("% {marker}\n0 0 1 rg {} 10 50 50 re f", 10 + 40 * i);
        objects.push(format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
}

async fn upload(app: &TestApp, key: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> Resp {
    app.upload("/documents", Some(key), fields, Some(file)).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

fn days_ago(n: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::days(n)).date().to_string()
}

/// Every byte of the database and its WAL, to search for plaintext.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut out = std::fs::read(app.db_path()).unwrap();
    out.extend(std::fs::read(app.data_dir.path().join("idv.db-wal")).unwrap_or_default());
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[actix_web::test]
async fn a_standalone_proof_of_address_is_sealed_listed_and_served_through_a_signed_url() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let file = pdf(2, "IDV-PLAINTEXT-MARKER-7731");
    let poa_date = days_ago(10);
    let r = upload(
        &app,
        &key,
        &[
            ("document_type", "proof_of_address"),
            ("poa_document_type", "utility_bill"),
            ("poa_document_date", &poa_date),
        ],
        ("application/pdf", &file),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let doc = r.body.clone();
    let doc_id = id(&doc);
    assert!(doc_id.starts_with("doc_") && doc_id.len() == 30, "{doc_id}");
    assert_eq!(doc["source"], "api");
    assert_eq!(doc["document_type"], "proof_of_address");
    assert_eq!(doc["mime_type"], "application/pdf");
    assert_eq!(doc["file_size_bytes"], file.len());
    assert_eq!(doc["page_count"], 2);
    assert_eq!(doc["poa_document_type"], "utility_bill");
    assert_eq!(doc["poa_document_date"], poa_date.as_str());
    assert_eq!(doc["metadata"], json!({}));
    assert_eq!(doc["classification"]["classification"], "proof_of_address");
    assert_eq!(doc["classification"]["signals"], json!(["pdf_document"]));
    assert_eq!(doc["status"], "verified", "{doc}");
    assert_eq!(doc["expires_in"], 300);

    // The signed URL is the credential: the exact bytes, without an API key; a changed signature is a 403.
    let url = doc["url"].as_str().unwrap();
    assert!(url.contains(&format!("/api/v1/documents/{doc_id}/download?expires=")), "{url}");
    let dl = app.send_raw("GET", url, None, None).await;
    assert_eq!(dl.status, 200);
    assert_eq!(dl.header("content-type").as_deref(), Some("application/pdf"));
    assert_eq!(dl.raw, file);
    let forged = app.send_raw("GET", &format!("{}0", url), None, None).await;
    assert_eq!(assert_error(&forged, 403), "invalid_signature");

    // Stored sealed: the file's text is nowhere in the database or its WAL.
    assert!(!contains(&database_bytes(&app), b"IDV-PLAINTEXT-MARKER-7731"));

    // Listed, filterable, without extracted values.
    let other = upload(&app, &key, &[("document_type", "selfie")], ("image/png", &png(300, 400))).await;
    assert_eq!(other.status, 201, "{}", other.body);
    assert_eq!(other.body["classification"]["classification"], "selfie");
    let list = app.get("/documents").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["pagination"]["total"], 2);
    assert_eq!(list.body["data"][0]["id"], other.body["id"], "newest first");
    assert!(list.body["data"][0].get("extracted_fields").is_none());
    let poa = app.get("/documents?document_type=proof_of_address").await;
    assert_eq!(poa.body["pagination"]["total"], 1);
    assert_eq!(poa.body["data"][0]["id"], doc_id.as_str());
    assert_eq!(app.get("/documents?status=redacted").await.body["pagination"]["total"], 0);
    assert_eq!(app.get("/documents?limit=1&offset=1").await.body["data"][0]["id"], doc_id.as_str());

    // Another environment's document does not exist there.
    assert_error(&app.live_get(&format!("/documents/{doc_id}")).await, 404);
    assert_eq!(app.live_get("/documents").await.body["pagination"]["total"], 0);
    let patched = app.patch(&format!("/documents/{doc_id}"), json!({"metadata": {"customer": "c-1"}})).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let got = app.get(&format!("/documents/{doc_id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["metadata"], json!({"customer": "c-1"}));
}

#[actix_web::test]
async fn bad_uploads_and_unknown_documents_are_4xx_in_the_error_shape() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let img = png(100, 60);
    let cases: Vec<(Vec<(&str, &str)>, Option<(&str, Vec<u8>)>, u16, &str)> = vec![
        (vec![("document_type", "id_front")], Some(("text/plain", b"just text".to_vec())), 422, "file"),
        (vec![("document_type", "id_front")], Some(("image/png", b"\x89PNG\r\n\x1a\nbroken".to_vec())), 422, "file"),
        (vec![("document_type", "id_front")], Some(("application/pdf", b"%PDF-1.4 no pages".to_vec())), 422, "file"),
        (vec![("document_type", "id_front")], None, 422, "file"),
        (vec![], Some(("image/png", img.clone())), 422, "document_type"),
        (vec![("document_type", "Passport Page")], Some(("image/png", img.clone())), 422, "document_type"),
        (vec![("document_type", "proof_of_address")], Some(("image/png", img.clone())), 422, "poa_document_type"),
        (
            vec![("document_type", "proof_of_address"), ("poa_document_type", "payslip")],
            Some(("image/png", img.clone())),
            422,
            "poa_document_type",
        ),
        (
            vec![
                ("document_type", "proof_of_address"),
                ("poa_document_type", "utility_bill"),
                ("poa_document_date", "01/02/2026"),
            ],
            Some(("image/png", img.clone())),
            422,
            "poa_document_date",
        ),
        (vec![("document_type", "id_front"), ("colour", "red")], Some(("image/png", img.clone())), 422, "colour"),
        (vec![("document_type", "id_front"), ("metadata", "{}")], Some(("image/png", img.clone())), 422, "metadata"),
    ];
    for (fields, file, status, field) in cases {
        let r = app.upload("/documents", Some(&key), &fields, file.as_ref().map(|(t, b)| (*t, b.as_slice()))).await;
        assert_error(&r, status);
        assert_eq!(r.body["errors"][0]["field"], field, "{fields:?}: {}", r.body);
    }
    let big = vec![0xFFu8; 10 * 1024 * 1024 + 10];
    let r = upload(&app, &key, &[("document_type", "id_front")], ("image/jpeg", &big)).await;
    assert_error(&r, 413);
    let json_body = app.post("/documents", json!({"document_type": "id_front"})).await;
    assert!((400..500).contains(&json_body.status), "{}", json_body.body);
    assert!(json_body.body["error"].is_string());

    // A type no one defined does not exist, like an unknown id.
    let r = upload(&app, &key, &[("document_type", "no_such_type")], ("image/png", &img)).await;
    assert!(assert_error(&r, 404) == "not_found" && r.body["detail"].as_str().unwrap().contains("no_such_type"));
    let missing = "idn_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C";
    let r = upload(&app, &key, &[("document_type", "id_front"), ("identity_id", missing)], ("image/png", &img)).await;
    assert_error(&r, 404);
    for path in [
        "/documents/doc_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
        "/documents/not-an-id",
        "/documents/doc_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C/checks",
        "/documents/doc_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C/extractions",
        "/documents/doc_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C/pages/1/preview",
    ] {
        assert_error(&app.get(path).await, 404);
    }
    assert_error(&app.get("/documents?status=lost").await, 422);
}

#[actix_web::test]
async fn a_group_recency_rule_fails_an_old_proof_of_address_and_a_patch_runs_the_checks_again() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let g = app
        .post(
            "/settings/document-groups",
            json!({"name": "Proof of address", "classifications": ["proof_of_address"],
                   "recency_config": {"max_age_days": 90}, "priority": 1}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    assert!(g.body["id"].as_str().unwrap().starts_with("dgroup_"));
    assert_eq!(g.body["recency_config"], json!({"max_age_days": 90}));
    assert_eq!(g.body["is_active"], true);
    assert_eq!(g.body["org_id"], "sandbox");

    let old = days_ago(200);
    let r = upload(
        &app,
        &key,
        &[("document_type", "proof_of_address"), ("poa_document_type", "bank_statement"), ("poa_document_date", &old)],
        ("application/pdf", &pdf(1, "statement")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let doc = id(&r.body);
    assert_eq!(r.body["status"], "failed");
    assert_eq!(r.body["group_id"], g.body["id"]);
    let checks = app.get(&format!("/documents/{doc}/checks")).await;
    assert_eq!(checks.status, 200, "{}", checks.body);
    let recency = checks.body["data"].as_array().unwrap().iter().find(|c| c["name"] == "recency").unwrap().clone();
    assert_eq!(recency["status"], "failed", "{recency}");
    assert!(recency["reason"].as_str().unwrap().contains("at most 90 days"), "{recency}");

    // A stale version is refused; the current one passes with a recent date.
    let version = r.body["version"].as_i64().unwrap();
    let stale = app
        .patch(&format!("/documents/{doc}"), json!({"poa_document_date": days_ago(5), "version": version - 1}))
        .await;
    assert_error(&stale, 409);
    let fixed =
        app.patch(&format!("/documents/{doc}"), json!({"poa_document_date": days_ago(5), "version": version})).await;
    assert_eq!(fixed.status, 200, "{}", fixed.body);
    assert_eq!(fixed.body["status"], "verified");
    assert!(fixed.body["version"].as_i64().unwrap() > version);
    let future = app.patch(&format!("/documents/{doc}"), json!({"poa_document_date": "2999-01-01"})).await;
    assert_eq!(future.body["status"], "failed", "a date after today fails recency: {}", future.body);
    let cleared = app.patch(&format!("/documents/{doc}"), json!({"poa_document_type": null})).await;
    assert_eq!(assert_error(&cleared, 409), "conflict");

    // Another type with the same group rules gets no recency check; a group change applies to new checks.
    let loose = app
        .patch(&format!("/settings/document-groups/{}", id(&g.body)), json!({"recency_config": {"max_age_days": 3650}}))
        .await;
    assert_eq!(loose.status, 200, "{}", loose.body);
    let again = app.patch(&format!("/documents/{doc}"), json!({"poa_document_date": old})).await;
    assert_eq!(again.body["status"], "verified", "{}", again.body);
    let bad = app.post("/settings/document-groups", json!({"name": "x", "recency_config": {"max_age_days": -1}})).await;
    assert_eq!(bad.body["errors"][0]["field"], "recency_config.max_age_days", "{}", bad.body);
    let list = app.get("/settings/document-groups").await;
    assert_eq!(list.body["pagination"]["total"], 1);
    assert_eq!(app.delete(&format!("/settings/document-groups/{}", id(&g.body))).await.status, 200);
    assert_error(&app.get(&format!("/settings/document-groups/{}", id(&g.body))).await, 404);
}

#[actix_web::test]
async fn a_custom_type_extracts_its_hints_from_the_barcode_sealed_and_announced_without_pii() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let endpoint = app.post("/webhooks/endpoints", json!({"url": "http://127.0.0.1:9/hooks"})).await;
    assert_eq!(endpoint.status, 201, "{}", endpoint.body);
    let t = app
        .post(
            "/settings/document-types",
            json!({"slug": "licence_back", "label": "Licence back", "category": "identity",
                   "description": "The back of a US driver's licence",
                   "extraction_hints": {"licence_number": {"regex": "DAQ([A-Z0-9]+)"}, "city": {"label": "DAI"}},
                   "check_suite": [["classification_match", "document", "optional"]]}),
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.body);
    assert!(t.body["id"].as_str().unwrap().starts_with("dtype_"));
    assert_eq!(t.body["slug"], "licence_back");
    assert_eq!(t.body["check_suite"], json!([["classification_match", "document", "optional"]]));
    let dup =
        app.post("/settings/document-types", json!({"slug": "licence_back", "label": "x", "category": "other"})).await;
    assert_error(&dup, 409);
    let bad = app
        .post(
            "/settings/document-types",
            json!({"slug": "bad", "label": "x", "category": "other", "extraction_hints": {"n": {"regex": "(["}}}),
        )
        .await;
    assert_error(&bad, 422);
    assert_eq!(bad.body["errors"][0]["field"], "extraction_hints.n", "{}", bad.body);
    let bad_slug =
        app.post("/settings/document-types", json!({"slug": "Bad Slug", "label": "x", "category": "other"})).await;
    assert_error(&bad_slug, 422);
    let bad_category =
        app.post("/settings/document-types", json!({"slug": "b", "label": "x", "category": "money"})).await;
    assert_error(&bad_category, 422);

    let back = std::fs::read(LICENCE_BACK).unwrap();
    let r = upload(&app, &key, &[("document_type", "licence_back")], ("image/png", &back)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let doc = id(&r.body);
    assert_eq!(r.body["classification"]["classification"], "drivers_license_back", "{}", r.body);
    assert!(r.body["classification"]["signals"].as_array().unwrap().contains(&json!("pdf417_barcode")));
    assert_eq!(r.body["extracted_fields"]["licence_number"], "D1234567", "{}", r.body);
    assert_eq!(r.body["extracted_fields"]["document_number"], "D1234567");
    assert_eq!(r.body["extracted_fields"]["date_of_birth"], "1990-01-15");
    assert!(r.body["extracted_fields"]["city"].is_string(), "{}", r.body);
    assert!(r.body["extracted_field_names"].as_array().unwrap().contains(&json!("licence_number")));

    let x = app.get(&format!("/documents/{doc}/extractions")).await;
    assert_eq!(x.status, 200, "{}", x.body);
    assert_eq!(x.body["data"][0]["sources"], json!(["barcode", "hints"]));
    assert_eq!(x.body["data"][0]["fields"]["licence_number"], "D1234567");
    let again = app.post(&format!("/documents/{doc}/extract"), json!({})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body["id"].as_str().unwrap().starts_with("dext_"));
    assert_eq!(app.get(&format!("/documents/{doc}/extractions")).await.body["data"].as_array().unwrap().len(), 2);
    let c = app.post(&format!("/documents/{doc}/classify"), json!({})).await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.body["classification"], "drivers_license_back");
    assert!(c.body["confidence"].as_f64().unwrap() >= 0.9);

    // The list item names the fields only; the log, the views and the webhook rows hold no value.
    let list = app.get("/documents").await;
    assert!(!list.body.to_string().contains("D1234567"), "{}", list.body);
    assert!(!contains(&database_bytes(&app), b"D1234567"));
    let conn =
        rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn.prepare("SELECT event_type, event_data FROM webhook_deliveries ORDER BY created_at").unwrap();
    let sent: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
    let names: Vec<&str> = sent.iter().map(|(t, _)| t.as_str()).collect();
    assert!(names.contains(&"document.extracted") && names.contains(&"document.verified"), "{names:?}");
    for (_, data) in &sent {
        assert!(!data.contains("D1234567") && !data.contains("1990-01-15"), "{data}");
    }
    let extracted: Value =
        serde_json::from_str(&sent.iter().find(|(t, _)| t == "document.extracted").unwrap().1).unwrap();
    assert_eq!(extracted["document_id"], doc.as_str(), "{extracted}");
    assert_eq!(extracted["status"], "completed");

    // A key with documents:write may update a type (the spec's legacy scope) but not create one.
    let writer = app.key_with_scopes(&["documents:write"]).await;
    let tid = id(&t.body);
    let r = app
        .send("PATCH", &format!("/settings/document-types/{tid}"), Some(&writer), &[], Some(&json!({"label": "Back"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["label"], "Back");
    let r = app
        .send(
            "POST",
            "/settings/document-types",
            Some(&writer),
            &[],
            Some(&json!({"slug": "y", "label": "y", "category": "other"})),
        )
        .await;
    assert_error(&r, 403);
    let off = app.patch(&format!("/settings/document-types/{tid}"), json!({"is_active": false})).await;
    assert_eq!(off.body["is_active"], false);
    let r = upload(&app, &key, &[("document_type", "licence_back")], ("image/png", &back)).await;
    assert_error(&r, 404);
    assert!(
        r.body["detail"].as_str().unwrap().contains("licence_back"),
        "an inactive type takes no uploads: {}",
        r.body
    );
    assert_eq!(app.get("/settings/document-types").await.body["pagination"]["total"], 1);
    assert_eq!(app.delete(&format!("/settings/document-types/{tid}")).await.status, 200);
    assert_eq!(app.get("/settings/document-types").await.body["pagination"]["total"], 0);
}

#[actix_web::test]
async fn session_uploads_are_documents_and_a_reupload_replaces_the_same_document() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let s = app.post("/sessions", json!({"external_ref": "docs-1"})).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let sid = id(&s.body);
    let path = format!("/sessions/{sid}/documents");
    let first =
        app.upload(&path, Some(&key), &[("document_type", "id_front")], Some(("image/png", &png(320, 200)))).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let doc = id(&first.body);
    assert!(doc.starts_with("doc_"));
    let second =
        app.upload(&path, Some(&key), &[("document_type", "id_front")], Some(("image/png", &png(330, 210)))).await;
    assert_eq!(second.body["id"], doc.as_str(), "a re-upload keeps the document");

    let list = app.get(&format!("/documents?session_id={sid}")).await;
    assert_eq!(list.body["pagination"]["total"], 1, "{}", list.body);
    let item = &list.body["data"][0];
    assert_eq!(item["source"], "session");
    assert_eq!(item["document_type"], "id_front");
    assert_eq!(item["status"], "pending");
    let url = item["url"].as_str().unwrap().to_string();
    let dl = app.send_raw("GET", &url, None, None).await;
    assert_eq!(dl.raw, png(330, 210));

    let c = app.post(&format!("/documents/{doc}/classify"), json!({})).await;
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.body["classification"], "id_front");
    let x = app.post(&format!("/documents/{doc}/extract"), json!({})).await;
    assert_eq!(x.status, 200, "{}", x.body);
    assert_eq!(x.body["fields"], json!({}));
    let checks = app.get(&format!("/documents/{doc}/checks")).await;
    assert_eq!(checks.body["status"], "verified", "{}", checks.body);

    assert_error(&app.patch(&format!("/documents/{doc}"), json!({"document_type": "selfie"})).await, 409);
    let meta = app.patch(&format!("/documents/{doc}"), json!({"metadata": {"side": "front"}})).await;
    assert_eq!(meta.body["metadata"], json!({"side": "front"}), "{}", meta.body);
    assert_error(&app.delete(&format!("/documents/{doc}")).await, 409);

    // The session's erasure redacts its documents.
    assert_eq!(app.delete(&format!("/sessions/{sid}/data")).await.status, 200);
    let gone = app.get(&format!("/documents/{doc}")).await;
    assert_eq!(gone.body["status"], "redacted", "{}", gone.body);
    assert!(gone.body["url"].is_null());
    assert_error(&app.send_raw("GET", &url, None, None).await, 410);
    assert_error(&app.get(&format!("/documents/{doc}/pages/1/preview")).await, 410);
}

#[actix_web::test]
async fn previews_are_downscaled_jpegs_made_on_the_fly_page_by_page() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let r = upload(&app, &key, &[("document_type", "id_front")], ("image/png", &png(2000, 1250))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let doc = id(&r.body);
    let p = app.get(&format!("/documents/{doc}/pages/1/preview")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.header("content-type").as_deref(), Some("image/jpeg"));
    let img = image::load_from_memory_with_format(&p.raw, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (1024, 640));
    assert_error(&app.get(&format!("/documents/{doc}/pages/2/preview")).await, 404);
    assert_error(&app.get(&format!("/documents/{doc}/pages/0/preview")).await, 404);

    let r = upload(
        &app,
        &key,
        &[("document_type", "proof_of_address"), ("poa_document_type", "utility_bill")],
        ("application/pdf", &pdf(2, "bill")),
    )
    .await;
    let pdf_doc = id(&r.body);
    let page2 = app.get(&format!("/documents/{pdf_doc}/pages/2/preview")).await;
    // `make test` installs poppler-utils; where pdftoppm is missing, the answer must say so.
    let renderer = std::process::Command::new("pdftoppm").arg("-v").output().is_ok();
    if !renderer {
        assert_error(&page2, 503);
        assert!(page2.body["detail"].as_str().unwrap().contains("poppler-utils"), "{}", page2.body);
    } else {
        assert_eq!(page2.status, 200, "{}", page2.body);
        let img = image::load_from_memory_with_format(&page2.raw, image::ImageFormat::Jpeg).unwrap();
        assert_eq!(img.width().max(img.height()), 1024);
        assert_error(&app.get(&format!("/documents/{pdf_doc}/pages/3/preview")).await, 404);
    }
}

#[actix_web::test]
async fn redaction_destroys_the_bytes_and_values_and_keeps_a_marked_record() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let back = std::fs::read(LICENCE_BACK).unwrap();
    let r = upload(&app, &key, &[("document_type", "id_back")], ("image/png", &back)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let doc = id(&r.body);
    assert_eq!(r.body["extracted_fields"]["document_number"], "D1234567");
    let url = r.body["url"].as_str().unwrap().to_string();

    let d = app.delete(&format!("/documents/{doc}")).await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["status"], "redacted");
    assert!(d.body["redacted_at"].is_string());
    assert!(d.body["url"].is_null());
    assert_eq!(d.body["extracted_fields"], json!({}));
    assert_eq!(d.body["document_type"], "id_back", "the metadata stays");
    assert_error(&app.send_raw("GET", &url, None, None).await, 410);
    assert_error(&app.get(&format!("/documents/{doc}/pages/1/preview")).await, 410);
    assert_error(&app.post(&format!("/documents/{doc}/extract"), json!({})).await, 410);
    assert_error(&app.patch(&format!("/documents/{doc}"), json!({"metadata": {}})).await, 409);
    let x = app.get(&format!("/documents/{doc}/extractions")).await;
    assert_eq!(x.body["data"][0]["fields"], json!({}), "{}", x.body);
    assert_eq!(app.delete(&format!("/documents/{doc}")).await.status, 200, "a second redaction changes nothing");
    let conn =
        rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let (blobs, keys, redactions): (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM sealed_blobs WHERE subject_id = ?1),
                    (SELECT COUNT(*) FROM subject_keys WHERE subject_id = ?1),
                    (SELECT COUNT(*) FROM events WHERE stream_id = ?1 AND event_type = 'DocumentRedacted')",
            [&doc],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((blobs, keys, redactions), (0, 0, 1));
}

#[actix_web::test]
async fn reading_and_writing_documents_need_their_scopes() {
    let app = spawn_app().await;
    let reader = app.key_with_scopes(&["documents:read"]).await;
    let legacy = app.key_with_scopes(&["verifications:read"]).await;
    let none = app.key_with_scopes(&["identities:read"]).await;
    let r = upload(&app, &app.sandbox_key, &[("document_type", "selfie")], ("image/png", &png(30, 40))).await;
    let doc = id(&r.body);
    for k in [&reader, &legacy] {
        assert_eq!(app.send("GET", &format!("/documents/{doc}"), Some(k), &[], None).await.status, 200);
        assert_eq!(app.send("GET", "/documents", Some(k), &[], None).await.status, 200);
    }
    assert_error(&app.send("GET", "/documents", Some(&none), &[], None).await, 403);
    let r = upload(&app, &reader, &[("document_type", "selfie")], ("image/png", &png(30, 40))).await;
    assert_error(&r, 403);
    assert_error(&app.send("DELETE", &format!("/documents/{doc}"), Some(&reader), &[], None).await, 403);
    assert_error(&app.send("GET", "/settings/document-types", Some(&none), &[], None).await, 403);
}

#[actix_web::test]
async fn the_document_views_rebuild_from_the_log() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let g = app
        .post(
            "/settings/document-groups",
            json!({"name": "g", "is_default": true, "recency_config": {"max_age_days": 30}}),
        )
        .await;
    assert_eq!(g.status, 201);
    let t =
        app.post("/settings/document-types", json!({"slug": "letter", "label": "Letter", "category": "address"})).await;
    assert_eq!(t.status, 201);
    let s = app.post("/sessions", json!({})).await;
    let sid = id(&s.body);
    let up = app
        .upload(
            &format!("/sessions/{sid}/documents"),
            Some(&key),
            &[("document_type", "selfie")],
            Some(("image/png", &png(30, 40))),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.body);
    let a = upload(&app, &key, &[("document_type", "letter"), ("session_id", &sid)], ("image/png", &png(50, 50))).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let b = upload(&app, &key, &[("document_type", "id_front")], ("image/png", &png(60, 40))).await;
    assert_eq!(app.patch(&format!("/documents/{}", id(&a.body)), json!({"metadata": {"k": 1}})).await.status, 200);
    assert_eq!(app.post(&format!("/documents/{}/classify", id(&up.body)), json!({})).await.status, 200);
    assert_eq!(app.delete(&format!("/documents/{}", id(&b.body))).await.status, 200);
    let (master, _) = idv::crypto::MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    let ring = idv::crypto::Keyring::new(&master);
    let scratch = app.data_dir.path().join("scratch.db");
    let n = idv::store::replay::check(&app.db_path(), &scratch, &ring).expect("the document views rebuild");
    assert!(n > 10);
}

// ------------------------------------------------------------------------------------------ golden stream

const FIXTURE_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/events/golden-documents-v1.jsonl");

/// The view values recorded when the golden document stream was written and compared after its replay.
const GOLDEN_CHECKS: &[&str] = &[
    "SELECT COUNT(*) FROM documents",
    "SELECT COUNT(*) FROM documents WHERE source = 'session'",
    "SELECT group_concat(document_type || ':' || status, ',') FROM (SELECT document_type, status FROM documents ORDER BY document_type, status)",
    "SELECT COUNT(*) FROM document_extractions",
    "SELECT COUNT(*) FROM documents WHERE extracted_data IS NOT NULL",
    "SELECT group_concat(name || ':' || status, ',') FROM (SELECT name, status FROM document_checks ORDER BY name, status)",
    "SELECT slug || '|' || label || '|' || is_active FROM document_types",
    "SELECT name || '|' || recency_config || '|' || is_default FROM document_groups",
];

fn sql_text(v: rusqlite::types::Value) -> String {
    match v {
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(t) => t,
        other => format!("{other:?}"),
    }
}

/// Writes every document, document type and document group event (with the session events around them)
/// through the HTTP API under the fixture key. Names are synthetic.
async fn golden_drive(app: &TestApp) {
    let key = app.sandbox_key.clone();
    let ok = |r: Resp| {
        assert!((200..300).contains(&r.status), "{} {}", r.status, r.body);
        r.body
    };
    let group = ok(app
        .post(
            "/settings/document-groups",
            json!({"name": "Golden PoA", "classifications": ["proof_of_address"], "recency_config": {"max_age_days": 90}}),
        )
        .await);
    ok(app.patch(&format!("/settings/document-groups/{}", id(&group)), json!({"is_default": true})).await);
    let spare = ok(app.post("/settings/document-groups", json!({"name": "Golden spare"})).await);
    ok(app.delete(&format!("/settings/document-groups/{}", id(&spare))).await);
    let t = ok(app
        .post(
            "/settings/document-types",
            json!({"slug": "golden_licence", "label": "Golden licence", "category": "identity",
                   "extraction_hints": {"number": {"regex": "DAQ([A-Z0-9]+)"}},
                   "check_suite": [["classification_match", "document", "optional"]]}),
        )
        .await);
    ok(app.patch(&format!("/settings/document-types/{}", id(&t)), json!({"label": "Golden licence back"})).await);
    let gone = ok(app
        .post("/settings/document-types", json!({"slug": "golden_gone", "label": "x", "category": "other"}))
        .await);
    ok(app.delete(&format!("/settings/document-types/{}", id(&gone))).await);

    let s = ok(app.post("/sessions", json!({"external_ref": "golden-doc-s"})).await);
    let sid = id(&s);
    let path = format!("/sessions/{sid}/documents");
    let up =
        ok(app.upload(&path, Some(&key), &[("document_type", "id_front")], Some(("image/png", &png(320, 200)))).await);
    ok(app.upload(&path, Some(&key), &[("document_type", "id_front")], Some(("image/png", &png(330, 200)))).await);
    ok(app.post(&format!("/documents/{}/classify", id(&up)), json!({})).await);
    ok(app.post(&format!("/documents/{}/extract", id(&up)), json!({})).await);

    let poa = ok(upload(
        app,
        &key,
        &[
            ("document_type", "proof_of_address"),
            ("poa_document_type", "utility_bill"),
            ("poa_document_date", "2020-01-31"),
        ],
        ("application/pdf", &pdf(1, "golden bill")),
    )
    .await);
    ok(app
        .patch(&format!("/documents/{}", id(&poa)), json!({"metadata": {"golden": true}, "version": poa["version"]}))
        .await);
    let back = std::fs::read(LICENCE_BACK).unwrap();
    let lic =
        ok(upload(app, &key, &[("document_type", "golden_licence"), ("session_id", &sid)], ("image/png", &back)).await);
    ok(app.post(&format!("/documents/{}/extract", id(&lic)), json!({})).await);
    let red = ok(upload(app, &key, &[("document_type", "selfie")], ("image/png", &png(30, 40))).await);
    ok(app.delete(&format!("/documents/{}", id(&red))).await);
}

#[actix_web::test]
#[ignore = "regenerates fixtures/events/golden-documents-v1.jsonl"]
async fn generate_golden_document_stream() {
    let app = spawn_app_with(|c| {
        c.master_key_hex = Some(FIXTURE_KEY.into());
        c.webhook_poll_interval = None;
    })
    .await;
    golden_drive(&app).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
    let conn =
        rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut out = String::new();
    for (table, order, blobs) in
        [("events", "seq", &["prev_hash", "hash"][..]), ("subject_keys", "subject_id", &["wrapped_key"][..])]
    {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}")).unwrap();
        let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let mut row = serde_json::Map::new();
            row.insert("table".into(), json!(table));
            for (i, name) in names.iter().enumerate() {
                let v = match r.get::<_, rusqlite::types::Value>(i).unwrap() {
                    rusqlite::types::Value::Blob(b) if blobs.contains(&name.as_str()) => json!(hex::encode(b)),
                    rusqlite::types::Value::Integer(n) => json!(n),
                    rusqlite::types::Value::Text(t) => json!(t),
                    rusqlite::types::Value::Null => Value::Null,
                    other => panic!("{table}.{name}: {other:?}"),
                };
                row.insert(name.clone(), v);
            }
            out.push_str(&Value::Object(row).to_string());
            out.push('\n');
        }
    }
    let mut expected = serde_json::Map::new();
    expected.insert("table".into(), json!("expected"));
    for sql in GOLDEN_CHECKS {
        let v = conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0)).map(sql_text).unwrap();
        expected.insert(sql.to_string(), json!(v));
    }
    out.push_str(&Value::Object(expected).to_string());
    out.push('\n');
    std::fs::write(GOLDEN, out).unwrap();
}

/// The committed document stream keeps decoding: its chain verifies under the fixture key, every document
/// event decodes through its typed decoder, and a replay gives the views recorded when it was written.
#[test]
fn the_golden_document_stream_verifies_decodes_and_replays_to_the_recorded_views() {
    use idv::domain::document::DocumentEvent;
    use idv::domain::document_type::DocumentTypeEvent;
    let dir = tempfile::tempdir().unwrap();
    let conn = idv::store::open_writer(&dir.path().join("idv.db"), idv::store::Durability::Normal).unwrap();
    let text = std::fs::read_to_string(GOLDEN).unwrap();
    let mut expected = serde_json::Map::new();
    let mut events = 0;
    let mut types = std::collections::BTreeSet::new();
    for line in text.lines() {
        let Value::Object(mut row) = serde_json::from_str::<Value>(line).unwrap() else { panic!("{line}") };
        let table = row.remove("table").unwrap();
        if table == "expected" {
            expected = row;
            continue;
        }
        let table = table.as_str().unwrap().to_string();
        if table == "events" {
            events += 1;
            let (t, v) = (row["event_type"].as_str().unwrap().to_string(), row["event_version"].as_i64().unwrap());
            if t.starts_with("Document") {
                let payload: Value = serde_json::from_str(row["payload"].as_str().unwrap()).unwrap();
                let typed = DocumentEvent::decode(&t, v, &payload).unwrap().is_some()
                    || DocumentTypeEvent::decode(&t, v, &payload).unwrap().is_some();
                assert!(typed, "no typed decoder claims {t}");
                types.insert(t);
            }
        }
        let names: Vec<String> = row.keys().cloned().collect();
        let values: Vec<rusqlite::types::Value> = names
            .iter()
            .map(|n| match &row[n] {
                Value::String(s) if ["prev_hash", "hash", "wrapped_key"].contains(&n.as_str()) => {
                    rusqlite::types::Value::Blob(hex::decode(s).unwrap())
                }
                Value::String(s) => rusqlite::types::Value::Text(s.clone()),
                Value::Number(n) => rusqlite::types::Value::Integer(n.as_i64().unwrap()),
                _ => rusqlite::types::Value::Null,
            })
            .collect();
        let marks = vec!["?"; names.len()].join(", ");
        conn.execute(
            &format!("INSERT INTO {table} ({}) VALUES ({marks})", names.join(", ")),
            rusqlite::params_from_iter(values),
        )
        .unwrap();
    }
    for t in [
        "DocumentUploaded",
        "DocumentUpdated",
        "DocumentClassified",
        "DocumentExtracted",
        "DocumentChecked",
        "DocumentRedacted",
        "DocumentTypeCreated",
        "DocumentTypeUpdated",
        "DocumentTypeDeleted",
        "DocumentGroupCreated",
        "DocumentGroupUpdated",
        "DocumentGroupDeleted",
    ] {
        assert!(types.contains(t), "the golden stream has no {t}");
    }
    let ring = idv::crypto::Keyring::new(&idv::crypto::MasterKey::from_hex(FIXTURE_KEY).unwrap());
    assert_eq!(idv::store::events::verify_chain(&conn, &ring).unwrap(), events);
    assert_eq!(idv::store::replay::rebuild_in_place(&conn, &ring).unwrap(), events);
    assert_eq!(expected.len(), GOLDEN_CHECKS.len());
    for sql in GOLDEN_CHECKS {
        let got = conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0)).map(sql_text).unwrap();
        assert_eq!(Some(got.as_str()), expected[*sql].as_str(), "{sql}");
    }
}
