//! Screening: watchlist imports as versioned snapshots (API and CLI), standalone checks against the loaded
//! lists (hits with explanations, features and list versions; sandbox and PEP behaviour), false-positive
//! dismissals that hold until the list entry changes, continuous monitoring of identities against the
//! entries a new snapshot changed, monitored lists, and a replay of it all.

use crate::helpers::*;
use idv::crypto::{Keyring, MasterKey};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const OFAC_SAMPLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/watchman/internal/ofactest/testdata");
const OFAC_FULL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/watchman/test/testdata");
const UN_XML: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata/sanctions/watchman/test/testdata/UN_consolidated.xml");

/// A listed person of the OFAC sample: KHOROSHEV, Dmitry Yuryevich (ent_num 48603), DOB 17 Apr 1993.
const LISTED: (&str, &str, &str) = ("Dmitry", "Khoroshev", "1993-04-17");
const LISTED_ID: &str = "48603";

/// An entry snapshot 2 adds.
const NEW_ROW: &str = "99999,\"PETROVSKY, Ivan Sergeyevich\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 03 Mar 1971; nationality Russia.\"\r\n";

fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// A multipart body with text fields and named file parts.
fn form(fields: &[(&str, &str)], files: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "----idv-screening-boundary-5e0c";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (name, filename, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Imports an OFAC snapshot from a folder holding sdn.csv, add.csv and alt.csv.
async fn import_ofac(app: &TestApp, dir: &Path) -> Resp {
    let (ct, body) = form(
        &[("source", "ofac")],
        &[
            ("file", "sdn.csv", read(dir.join("sdn.csv"))),
            ("add_file", "add.csv", read(dir.join("add.csv"))),
            ("alt_file", "alt.csv", read(dir.join("alt.csv"))),
        ],
    );
    app.send_raw("POST", &app.url("/watchlists/import"), Some(&app.live_key), Some((&ct, body))).await
}

async fn import_sample(app: &TestApp) -> String {
    let r = import_ofac(app, Path::new(OFAC_SAMPLE)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["version"]["id"].as_str().expect("version id").to_string()
}

/// A copy of the OFAC sample in a temp folder, with `edit` applied to sdn.csv.
fn sample_copy(edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["add.csv", "alt.csv"] {
        std::fs::copy(Path::new(OFAC_SAMPLE).join(f), dir.path().join(f)).expect("copy");
    }
    let sdn = String::from_utf8(read(Path::new(OFAC_SAMPLE).join("sdn.csv"))).expect("utf-8");
    std::fs::write(dir.path().join("sdn.csv"), edit(sdn)).expect("write");
    dir
}

async fn live_post(app: &TestApp, path: &str, body: Value) -> Resp {
    app.send("POST", path, Some(&app.live_key.clone()), &[], Some(&body)).await
}

async fn sanction_check(app: &TestApp, external_ref: &str, first: &str, last: &str, dob: Option<&str>) -> Resp {
    let mut body =
        json!({ "check_type": "sanction", "external_ref": external_ref, "name_first": first, "name_last": last });
    if let Some(d) = dob {
        body["birthdate"] = json!(d);
    }
    live_post(app, "/checks", body).await
}

fn keyring(app: &TestApp) -> Keyring {
    let (master, created) = MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    assert!(!created);
    Keyring::new(&master)
}

fn replay_passes(app: &TestApp) {
    let scratch = app.data_dir.path().join("scratch.db");
    idv::store::replay::check(&app.db_path(), &scratch, &keyring(app)).expect("replay check passes");
}

fn audit_actions(log: &Value) -> Vec<String> {
    log["data"].as_array().into_iter().flatten().filter_map(|e| e["action"].as_str().map(str::to_string)).collect()
}

#[actix_web::test]
async fn imports_are_versioned_snapshots_with_counts_and_an_identical_file_records_nothing() {
    let app = spawn_app().await;
    let r = import_ofac(&app, Path::new(OFAC_SAMPLE)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let v = &r.body["version"];
    assert_eq!(r.body["unchanged"], false);
    assert!(v["id"].as_str().unwrap().starts_with("wlv_"), "{v}");
    assert_eq!(v["source"], "ofac_sdn");
    assert_eq!(v["counts"], json!({"total": 17, "added": 17, "changed": 0, "removed": 0, "skipped": 0}));
    assert_eq!(v["files"], json!(["sdn.csv", "add.csv", "alt.csv"]));
    assert_eq!(v["content_digest"].as_str().unwrap().len(), 64);
    assert_eq!(v["monitoring"]["status"], "completed", "{v}");

    let again = import_ofac(&app, Path::new(OFAC_SAMPLE)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["unchanged"], true);
    assert_eq!(again.body["version"]["id"], v["id"]);

    // The UN list (2 MB: over the JSON body limit, under this route's own).
    let (ct, body) = form(&[("source", "un")], &[("file", "UN_consolidated.xml", read(UN_XML))]);
    let un = app.send_raw("POST", &app.url("/watchlists/import"), Some(&app.live_key), Some((&ct, body))).await;
    assert_eq!(un.status, 201, "{}", un.body);
    let un_total = un.body["version"]["counts"]["total"].as_i64().unwrap();
    assert!(un_total > 900, "{}", un.body);
    assert!(un.body["version"]["published"].is_string(), "UN carries dateGenerated: {}", un.body);

    // A changed snapshot: one entry removed, one changed, one added.
    let dir = sample_copy(|sdn| {
        let sdn = sdn.replace("DOB 12 Oct 1972; POB Corozal", "DOB 12 Oct 1973; POB Corozal");
        let sdn: String = sdn.lines().filter(|l| !l.starts_with("52327,")).map(|l| format!("{l}\r\n")).collect();
        format!("{sdn}{NEW_ROW}")
    });
    let r2 = import_ofac(&app, dir.path()).await;
    assert_eq!(r2.status, 201, "{}", r2.body);
    assert_eq!(
        r2.body["version"]["counts"],
        json!({"total": 17, "added": 1, "changed": 1, "removed": 1, "skipped": 0})
    );

    let lists = app.live_get("/watchlists").await;
    assert_eq!(lists.status, 200, "{}", lists.body);
    let by_id = |id: &str| lists.body["data"].as_array().unwrap().iter().find(|w| w["id"] == id).cloned().unwrap();
    assert_eq!(by_id("ofac")["entry_count"], 17);
    assert_eq!(by_id("ofac")["version_count"], 2);
    assert_eq!(by_id("un")["entry_count"], un_total);
    assert_eq!(by_id("eu")["imported"], false);
    let ofac = app.live_get("/watchlists/ofac").await;
    assert_eq!(ofac.body["versions"].as_array().unwrap().len(), 2, "{}", ofac.body);
    assert_eq!(ofac.body["current_version"]["id"], r2.body["version"]["id"]);
    assert_eq!(app.live_get("/watchlists/nope").await.status, 404);

    // The scope, a bad source, a missing file.
    let reader = app.key_with_scopes(&["lists:read"]).await;
    let (ct, body) = form(&[("source", "ofac")], &[("file", "sdn.csv", read(Path::new(OFAC_SAMPLE).join("sdn.csv")))]);
    let denied = app.send_raw("POST", &app.url("/watchlists/import"), Some(&reader), Some((&ct, body))).await;
    assert_error(&denied, 403);
    let (ct, body) = form(&[("source", "interpol")], &[("file", "x.csv", b"x".to_vec())]);
    let bad = app.send_raw("POST", &app.url("/watchlists/import"), Some(&app.live_key), Some((&ct, body))).await;
    assert_error(&bad, 422);
    let (ct, body) =
        form(&[("source", "un")], &[("file", "un.xml", b"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL>".to_vec())]);
    let broken = app.send_raw("POST", &app.url("/watchlists/import"), Some(&app.live_key), Some((&ct, body))).await;
    assert!(broken.status == 422 || broken.status == 201, "{}", broken.body);
    replay_passes(&app);
}

#[actix_web::test]
async fn a_live_sanction_check_hits_with_explanation_features_and_list_versions() {
    let app = spawn_app().await;
    // Before any import a sanction check cannot pass: it says why.
    let none = sanction_check(&app, "u-0", LISTED.0, LISTED.1, None).await;
    assert_eq!(none.status, 201, "{}", none.body);
    assert_eq!((none.body["status"].as_str(), none.body["error_reason"].as_str()), (Some("error"), Some("no_lists")));

    let version = import_sample(&app).await;
    let r = sanction_check(&app, "u-1", LISTED.0, LISTED.1, Some(LISTED.2)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let c = &r.body;
    assert!(c["id"].as_str().unwrap().starts_with("schk_"), "{c}");
    assert_eq!(c["status"], "hit", "{c}");
    assert_eq!(c["has_match"], true);
    assert_eq!(c["is_sandbox"], false);
    assert_eq!(c["provider"], "idv_watchlists");
    assert_eq!(c["subject"]["name_last"], LISTED.1, "the subject is shown to the caller");
    assert_eq!(c["list_versions"][0]["version_id"], version.as_str());
    assert_eq!(c["list_versions"][0]["watchlist_id"], "ofac");
    let hit = &c["hits"][0];
    assert_eq!(hit["entry_id"], LISTED_ID, "{c}");
    assert_eq!(hit["watchlist_id"], "ofac");
    assert_eq!(hit["list_version_id"], version.as_str());
    assert!(hit["id"].as_str().unwrap().starts_with("hit_"));
    assert!(hit["score"].as_f64().unwrap() > 0.9, "{hit}");
    assert_eq!(hit["features"]["date_of_birth"], 1.0, "{hit}");
    assert!(hit["features"]["name"].as_f64().unwrap() > 0.9);
    let explanation = hit["explanation"].as_str().unwrap();
    assert!(explanation.contains(LISTED_ID) && explanation.contains("date of birth"), "{explanation}");
    assert_eq!(hit["entry"]["programs"], json!(["CYBER2"]));
    assert_eq!(c["hit_count"], hit_count(c));

    // The explanation quotes the subject's name: sealed at rest, like the subject.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let (stored, subject): (String, String) = conn
        .query_row(
            "SELECT h.explanation, c.subject FROM check_hits h JOIN checks c ON c.id = h.check_id WHERE c.id = ?1",
            [c["id"].as_str().unwrap()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(!stored.to_lowercase().contains("dmitry") && !subject.contains("Khoroshev"));
    let events: String = conn
        .query_row("SELECT group_concat(payload) FROM events WHERE event_type LIKE 'Check%'", [], |r| r.get(0))
        .unwrap();
    assert!(!events.contains("Khoroshev") && !events.contains("1993-04-17"), "no subject PII in check events");

    let got = app.live_get(&format!("/checks/{}", c["id"].as_str().unwrap())).await;
    assert_eq!(got.body["hits"][0]["explanation"], hit["explanation"]);

    let clear = sanction_check(&app, "u-2", "Grace", "Hopper", Some("1906-12-09")).await;
    assert_eq!(clear.body["status"], "clear", "{}", clear.body);
    assert_eq!(clear.body["hits"], json!([]));
    assert_eq!(clear.body["list_versions"][0]["version_id"], version.as_str());

    // Sandbox: any name is clear (spec §2.8).
    let sandbox = app
        .post(
            "/checks",
            json!({"check_type": "sanction", "external_ref": "s-1", "name_first": LISTED.0, "name_last": LISTED.1}),
        )
        .await;
    assert_eq!(sandbox.status, 201, "{}", sandbox.body);
    assert_eq!(sandbox.body["status"], "clear");
    assert_eq!(sandbox.body["is_sandbox"], true);

    // PEP has no offline source: live says so instead of passing; the sandbox is clear.
    let pep = live_post(
        &app,
        "/checks",
        json!({"check_type": "pep", "external_ref": "u-3", "name_first": "A", "name_last": "B"}),
    )
    .await;
    assert_eq!(pep.status, 201, "{}", pep.body);
    assert_eq!((pep.body["status"].as_str(), pep.body["error_reason"].as_str()), (Some("error"), Some("no_source")));
    assert_eq!(pep.body["has_match"], false);
    assert!(pep.body["pep_risk_tier"].is_null());
    let sandbox_pep = app
        .post("/checks", json!({"check_type": "pep", "external_ref": "s-2", "name_first": "A", "name_last": "B"}))
        .await;
    assert_eq!(sandbox_pep.body["status"], "clear");

    // Validation: names are required for AML types; the type must be known.
    let missing = live_post(&app, "/checks", json!({"check_type": "sanction", "external_ref": "x"})).await;
    assert_error(&missing, 422);
    let fields: Vec<&str> =
        missing.body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
    assert!(fields.contains(&"name_first") && fields.contains(&"name_last"), "{}", missing.body);
    assert_error(&live_post(&app, "/checks", json!({"check_type": "tarot", "external_ref": "x"})).await, 422);

    // Batches, lists, tags.
    let full = live_post(
        &app,
        "/checks/full",
        json!({"check_types": ["sanction", "pep"], "external_ref": "u-4", "name_first": LISTED.0, "name_last": LISTED.1}),
    )
    .await;
    assert_eq!(full.status, 201, "{}", full.body);
    let batch = full.body["batch_id"].as_str().unwrap().to_string();
    assert_eq!(full.body["data"].as_array().unwrap().len(), 2);
    let listed = app.live_get(&format!("/checks?batch_id={batch}")).await;
    assert_eq!(listed.body["pagination"]["total"], 2, "{}", listed.body);
    let only_pep = app.live_get("/checks?check_type=pep").await;
    assert_eq!(only_pep.body["pagination"]["total"], 2);
    let id = c["id"].as_str().unwrap();
    let tagged = live_post(&app, &format!("/checks/{id}/tags"), json!({"tags": ["kyc", "review"]})).await;
    assert_eq!(tagged.body["tags"], json!(["kyc", "review"]), "{}", tagged.body);
    let set = app
        .send("PUT", &format!("/checks/{id}/tags"), Some(&app.live_key.clone()), &[], Some(&json!({"tags": ["a"]})))
        .await;
    assert_eq!(set.body["tags"], json!(["a"]));
    let removed = app.send("DELETE", &format!("/checks/{id}/tags/a"), Some(&app.live_key.clone()), &[], None).await;
    assert_eq!(removed.body["tags"], json!([]));
    assert_eq!(app.get(&format!("/checks/{id}")).await.status, 404, "a live check is not visible to a sandbox key");
    replay_passes(&app);
}

fn hit_count(c: &Value) -> usize {
    c["hits"].as_array().map(|h| h.iter().filter(|h| h["is_dismissed"] == false).count()).unwrap_or(0)
}

#[actix_web::test]
async fn a_dismissed_hit_does_not_alert_again_for_that_subject_until_the_entry_changes() {
    let app = spawn_app().await;
    import_sample(&app).await;
    let r = sanction_check(&app, "cust-7", LISTED.0, LISTED.1, None).await;
    assert_eq!(r.body["status"], "hit", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let hit_id = r.body["hits"][0]["id"].as_str().unwrap().to_string();

    let d = live_post(
        &app,
        &format!("/checks/{id}/dismiss"),
        json!({"hit_ids": [hit_id], "reason": "Different person: born 1961"}),
    )
    .await;
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body, json!({"check_id": id, "dismissed_count": 1}));
    let again = live_post(&app, &format!("/checks/{id}/dismiss"), json!({})).await;
    assert_eq!(again.body["dismissed_count"], 0, "already dismissed");
    assert_error(&live_post(&app, &format!("/checks/{id}/dismiss"), json!({"hit_ids": ["hit_nope"]})).await, 422);

    let got = app.live_get(&format!("/checks/{id}")).await;
    let hit = &got.body["hits"][0];
    assert_eq!(hit["is_dismissed"], true);
    assert_eq!(hit["dismissed_reason"], "Different person: born 1961");
    assert!(hit["dismissed_by"].as_str().unwrap().starts_with("api_key:key_"), "{hit}");
    assert_eq!(got.body["hit_count"], 0);
    assert_eq!(got.body["has_match"], false);
    assert_eq!(got.body["status"], "hit", "the spec keeps `hit`; hit_count counts open hits");

    // The same subject does not alert again: neither a re-run nor a new check for the same external_ref.
    let rerun = live_post(&app, &format!("/checks/{id}/rerun"), json!({})).await;
    assert_eq!(rerun.status, 200, "{}", rerun.body);
    assert_eq!(rerun.body["status"], "clear", "{}", rerun.body);
    assert_eq!(rerun.body["run_count"], 2);
    assert_eq!(rerun.body["suppressed_hits"][0]["entry_id"], LISTED_ID);
    let fresh = sanction_check(&app, "cust-7", LISTED.0, LISTED.1, None).await;
    assert_eq!(fresh.body["status"], "clear", "{}", fresh.body);
    // Another subject with the same name still alerts.
    let other = sanction_check(&app, "cust-8", LISTED.0, LISTED.1, None).await;
    assert_eq!(other.body["status"], "hit");

    // The entry changes in a new snapshot: the dismissal no longer covers it.
    let dir = sample_copy(|sdn| {
        sdn.replace("Passport 2018278055 (Russia)", "Passport 2018278055 (Russia); alt. Passport 7700112233 (Russia)")
    });
    let v2 = import_ofac(&app, dir.path()).await;
    assert_eq!(v2.body["version"]["counts"]["changed"], 1, "{}", v2.body);
    let after = live_post(&app, &format!("/checks/{id}/rerun"), json!({})).await;
    assert_eq!(after.body["status"], "hit", "{}", after.body);
    assert_eq!(after.body["hits"][0]["list_version_id"], v2.body["version"]["id"]);
    assert_eq!(after.body["suppressed_hits"], json!([]));
    replay_passes(&app);
}

async fn identity(app: &TestApp, external_ref: &str, first: &str, last: &str, dob: &str) -> String {
    app.create_identity(
        json!({"external_ref": external_ref, "first_name": first, "last_name": last, "date_of_birth": dob}),
    )
    .await
}

async fn screening_status(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/identities/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["screening_status"].clone()
}

#[actix_web::test]
async fn monitoring_alerts_exactly_the_identity_that_a_new_list_entry_matches() {
    let app = spawn_app().await;
    let target = identity(&app, "m-1", "Ivan", "Petrovsky", "1971-03-03").await;
    let bystander = identity(&app, "m-2", "Grace", "Hopper", "1906-12-09").await;
    let paused = identity(&app, "m-3", "Ivan", "Petrovsky", "1971-03-03").await;
    let elsewhere = identity(&app, "m-4", "Ivan", "Petrovsky", "1971-03-03").await;
    assert_eq!(app.post(&format!("/identities/{paused}/monitoring/pause"), json!({})).await.status, 200);
    let limited = app.post(&format!("/identities/{elsewhere}/monitored-lists"), json!({"list_ids": ["un"]})).await;
    assert_eq!(limited.body["data"], json!(["un"]), "{}", limited.body);
    assert!(screening_status(&app, &target).await.is_null(), "never screened");

    // Snapshot 1: every monitored identity gets its baseline screening; all clear.
    let v1 = import_sample(&app).await;
    assert_eq!(screening_status(&app, &target).await, "clear");
    assert_eq!(screening_status(&app, &bystander).await, "clear");
    assert!(screening_status(&app, &paused).await.is_null(), "monitoring paused: not screened");
    let bystander_log = app.get(&format!("/identities/{bystander}/audit-log")).await;
    assert_eq!(audit_actions(&bystander_log.body)[0], "screening.completed");

    // Snapshot 2 adds one entry, matching one identity.
    let dir = sample_copy(|sdn| format!("{sdn}{NEW_ROW}"));
    let v2 = import_ofac(&app, dir.path()).await;
    assert_eq!(v2.status, 201, "{}", v2.body);
    let monitoring = &v2.body["version"]["monitoring"];
    assert_eq!(monitoring["status"], "completed", "{}", v2.body);
    assert_eq!(monitoring["identities_with_new_hits"], 1, "{}", v2.body);
    assert_eq!(monitoring["new_hits"], 1);
    assert_eq!(monitoring["identities_screened"], 3, "target, bystander and the un-only identity: {}", v2.body);

    assert_eq!(screening_status(&app, &target).await, "hit");
    let checks = app.get(&format!("/identities/{target}/checks")).await;
    assert_eq!(checks.body["pagination"]["total"], 1, "{}", checks.body);
    let check = &checks.body["data"][0];
    assert_eq!(check["origin"], "monitoring");
    assert_eq!(check["identity_id"], target.as_str());
    assert_eq!(check["hits"][0]["entry_id"], "99999");
    assert_eq!(check["hits"][0]["list_version_id"], v2.body["version"]["id"]);
    assert_ne!(check["hits"][0]["list_version_id"].as_str(), Some(v1.as_str()));
    assert_eq!(check["monitoring_enabled"], true);
    let log = app.get(&format!("/identities/{target}/audit-log")).await;
    let actions = audit_actions(&log.body);
    assert_eq!(actions[0], "screening.monitoring.new_hits", "{actions:?}");
    assert_eq!(log.body["data"][0]["actor"], "system:monitoring");
    assert_eq!(log.body["data"][0]["metadata"]["fields"], json!(["screening_status"]));

    // Nobody else: the bystander's log did not move, the paused and the un-only identities have no checks.
    let bystander_after = app.get(&format!("/identities/{bystander}/audit-log")).await;
    assert_eq!(bystander_after.body["pagination"]["total"], bystander_log.body["pagination"]["total"]);
    assert_eq!(screening_status(&app, &bystander).await, "clear");
    for id in [&paused, &elsewhere] {
        let none = app.get(&format!("/identities/{id}/checks")).await;
        assert_eq!(none.body["pagination"]["total"], 0, "{id}: {}", none.body);
    }

    // The event carries ids and counts, never the person's data.
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let payload: String = conn
        .query_row(
            "SELECT payload FROM events WHERE event_type = 'IdentityScreened' AND stream_id = ?1 ORDER BY seq DESC LIMIT 1",
            [&target],
            |r| r.get(0),
        )
        .unwrap();
    let p: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(p["trigger"], "monitoring");
    assert_eq!(p["status"], "hit");
    assert_eq!(p["check_id"], check["id"]);
    assert_eq!(p["new_hit_ids"], json!([check["hits"][0]["id"]]));
    assert!(!payload.contains("Petrovsky") && !payload.contains("Ivan"), "{payload}");

    // Dismissing the hit clears the identity; the same entry does not alert it again.
    let check_id = check["id"].as_str().unwrap();
    let d = app.post(&format!("/checks/{check_id}/dismiss"), json!({"reason": "not him"})).await;
    assert_eq!(d.body["dismissed_count"], 1, "{}", d.body);
    assert_eq!(screening_status(&app, &target).await, "clear");
    let unrelated = sample_copy(|sdn| format!("{sdn}{NEW_ROW}").replace("DOB 12 Oct 1972", "DOB 12 Oct 1970"));
    let v3 = import_ofac(&app, unrelated.path()).await;
    assert_eq!(v3.body["version"]["monitoring"]["new_hits"], 0, "{}", v3.body);
    assert_eq!(screening_status(&app, &target).await, "clear");
    replay_passes(&app);
}

#[actix_web::test]
async fn monitored_lists_are_read_added_and_replaced() {
    let app = spawn_app().await;
    let id = identity(&app, "ml-1", "Ada", "Lovelace", "1915-12-10").await;
    let path = format!("/identities/{id}/monitored-lists");
    assert_eq!(app.get(&path).await.body["data"], json!([]));
    assert_eq!(app.post(&path, json!({"list_ids": ["ofac"]})).await.body["data"], json!(["ofac"]));
    assert_eq!(app.post(&path, json!({"list_ids": ["un", "ofac"]})).await.body["data"], json!(["ofac", "un"]));
    let put = app.send("PUT", &path, Some(&app.sandbox_key.clone()), &[], Some(&json!({"list_ids": ["eu"]}))).await;
    assert_eq!(put.body["data"], json!(["eu"]), "{}", put.body);
    assert_eq!(app.get("/identities/ml-1/monitored-lists").await.body["data"], json!(["eu"]), "by external_ref");
    assert_error(&app.post(&path, json!({"list_ids": ["interpol"]})).await, 422);
    // A well-formed list id naming no list of this environment refers to nothing: 404.
    assert_error(&app.post(&path, json!({"list_ids": ["list_01J0000000000000000000000A"]})).await, 404);
    assert_error(&app.get("/identities/idn_01J0000000000000000000000A/monitored-lists").await, 404);
    let log = app.get(&format!("/identities/{id}/audit-log")).await;
    assert!(audit_actions(&log.body).contains(&"identity.monitored-lists-updated".to_string()));
}

#[actix_web::test]
async fn the_cli_imports_with_progress_while_the_server_runs() {
    let app = spawn_app().await;
    let bin = env!("CARGO_BIN_EXE_idv");
    let data_dir = app.data_dir.path().to_path_buf();
    let sdn: PathBuf = Path::new(OFAC_FULL).join("sdn.csv");
    let out = std::process::Command::new(bin)
        .args(["lists", "import"])
        .arg(&sdn)
        .args(["--source", "ofac", "--data-dir"])
        .arg(&data_dir)
        .env_remove("IDV_MASTER_KEY")
        .output()
        .expect("idv runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("reading: 50%") && stderr.contains("reading: 100%"), "{stderr}");
    assert!(stderr.contains("sdn.csv, add.csv, alt.csv, sdn_comments.csv"), "companions beside sdn.csv: {stderr}");
    assert!(stdout.contains("version wlv_") && stdout.contains("7379 entries (7379 added"), "{stdout}");

    // The running server notices the new version within seconds and screens with it.
    let mut hit = Value::Null;
    for _ in 0..60 {
        let r = sanction_check(&app, "cli-1", "Manuel Antonio", "Noriega", None).await;
        if r.body["status"] == "hit" {
            hit = r.body;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(hit["status"], "hit", "the server did not pick up the CLI import");
    let mut monitored = Value::Null;
    for _ in 0..40 {
        let w = app.live_get("/watchlists/ofac").await;
        if w.body["current_version"]["monitoring"]["status"] == "completed" {
            monitored = w.body;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(monitored["current_version"]["imported_by"], "cli", "{monitored}");

    let again = std::process::Command::new(bin)
        .args(["lists", "import"])
        .arg(&sdn)
        .args(["--source", "ofac", "--data-dir"])
        .arg(&data_dir)
        .output()
        .expect("idv runs");
    assert!(String::from_utf8_lossy(&again.stdout).contains("unchanged"), "{}", String::from_utf8_lossy(&again.stdout));
    let listed = std::process::Command::new(bin).args(["lists", "list", "--data-dir"]).arg(&data_dir).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("ofac") && listed.contains("7379 entries") && listed.contains("un             not imported"),
        "{listed}"
    );
    replay_passes(&app);
}

/// The entry points the session pipeline uses: dismissals for the person, `screen_subject`, then
/// `record_session_screening` inside the writer.
#[actix_web::test]
async fn a_session_screening_is_recorded_as_a_check_and_sets_the_identity_status() {
    let clocked =
        spawn_app_with_clock(std::sync::Arc::new(idv::clock::ManualClock::new(time::OffsetDateTime::now_utc()))).await;
    let app = &clocked.app;
    import_sample(app).await;
    let created = app
        .send(
            "POST",
            "/identities",
            Some(&app.live_key.clone()),
            &[],
            Some(&json!({"external_ref": "sess-1", "first_name": LISTED.0, "last_name": LISTED.1})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let identity_id = created.body["id"].as_str().unwrap().to_string();

    let snapshot = idv::screening_service::ScreeningService::load(&clocked.read).unwrap().current();
    let data: std::collections::BTreeMap<String, String> =
        [("first_name", LISTED.0), ("last_name", LISTED.1), ("date_of_birth", LISTED.2)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let meta =
        idv::commands::CommandMeta::untraced("system", "live", idv::clock::format(time::OffsetDateTime::now_utc()));
    let id = identity_id.clone();
    let (check_id, result) = clocked
        .writer
        .execute(move |w| {
            let dismissals = idv::commands::checks::session_dismissals(w.conn, "live", Some(&id), Some("sess-1"))?;
            let mut outcome = idv::screening_service::screen_subject(&snapshot, &data, 0.6);
            outcome.apply_dismissals(&dismissals);
            let check_id = idv::commands::checks::record_session_screening(
                w,
                &meta,
                "ses_01J0000000000000000000000A",
                Some(&id),
                Some("sess-1"),
                &data,
                &outcome,
            )?;
            Ok((check_id, outcome.check_result()))
        })
        .await
        .expect("recorded");
    assert_eq!(result["status"], "hit");
    assert_eq!(result["hits"][0]["entry_id"], LISTED_ID);
    assert!(result["hits"][0].get("explanation").is_none(), "no subject data in a session's check_results");
    let identity = app.live_get(&format!("/identities/{identity_id}")).await;
    assert_eq!(identity.body["screening_status"], "hit");
    let check = app.live_get(&format!("/checks/{check_id}")).await;
    assert_eq!(check.body["origin"], "session", "{}", check.body);
    assert_eq!(check.body["session_id"], "ses_01J0000000000000000000000A");
    assert_eq!(check.body["subject"]["name_last"], LISTED.1);
    replay_passes(app);
}

/// A live session through the workflow's `watchlist_screening` step, end to end: the listed person is
/// routed to review with the hit, recorded as a check on the identity; a clean person passes.
#[actix_web::test]
async fn a_listed_person_in_a_live_session_goes_to_review_with_the_hit() {
    let app = spawn_app().await;
    import_sample(&app).await;
    let key = app.live_key.clone();
    let png = {
        let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 2, y as u8 * 3, 40]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let run = |first: &'static str, last: &'static str, dob: &'static str, r: &'static str| {
        let app = &app;
        let key = key.clone();
        let png = png.clone();
        async move {
            let body = json!({"external_ref": r, "first_name": first, "last_name": last, "date_of_birth": dob,
                              "checks": ["document_ocr", "watchlist_screening"]});
            let s = app.send("POST", "/sessions", Some(&key), &[], Some(&body)).await;
            assert_eq!(s.status, 201, "{}", s.body);
            let id = s.body["id"].as_str().unwrap().to_string();
            let up = app
                .upload(
                    &format!("/sessions/{id}/documents"),
                    Some(&key),
                    &[("document_type", "id_front")],
                    Some(("image/png", &png)),
                )
                .await;
            assert_eq!(up.status, 201, "{}", up.body);
            assert_eq!(app.send("POST", &format!("/sessions/{id}/submit"), Some(&key), &[], None).await.status, 202);
            for _ in 0..200 {
                if app.send("GET", &format!("/sessions/{id}"), Some(&key), &[], None).await.body["status"]
                    != "processing"
                {
                    break;
                }
                actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            app.send("GET", &format!("/sessions/{id}/result"), Some(&key), &[], None).await.body
        }
    };
    let listed = run(LISTED.0, LISTED.1, LISTED.2, "aml-listed").await;
    assert_eq!(listed["status"], "needs_review", "{listed}");
    let screening = &listed["check_results"]["watchlist_screening"];
    assert_eq!(screening["status"], "failed", "{screening}");
    assert!(screening.to_string().contains(LISTED_ID), "the hit names the list entry: {screening}");
    let identity = app.send("GET", "/identities/aml-listed", Some(&key), &[], None).await.body;
    assert_eq!(identity["screening_status"], "hit", "{identity}");
    let checks = app.send("GET", "/identities/aml-listed/checks", Some(&key), &[], None).await.body;
    assert_eq!(checks["data"].as_array().map(|a| a.len()), Some(1), "{checks}");

    let clean = run("Harriet", "Quimby", "1975-05-11", "aml-clean").await;
    assert_eq!(clean["status"], "approved", "{clean}");
    assert_eq!(clean["check_results"]["watchlist_screening"]["status"], "passed");
    let identity = app.send("GET", "/identities/aml-clean", Some(&key), &[], None).await.body;
    assert_eq!(identity["screening_status"], "clear", "{identity}");
}

/// Follows a `$ref` into `components`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => resolve(doc, &doc["components"]["schemas"][name]),
        None => schema,
    }
}

#[actix_web::test]
async fn check_and_watchlist_operations_are_documented_with_typed_schemas() {
    let app = spawn_app().await;
    let doc = app.send("GET", "/api/v1/openapi.json", None, &[], None).await.body;
    let operations: &[(&str, &str, &str, bool)] = &[
        ("get", "/api/v1/checks", "200", false),
        ("post", "/api/v1/checks", "201", true),
        ("post", "/api/v1/checks/full", "201", true),
        ("get", "/api/v1/checks/{check_id}", "200", false),
        ("get", "/api/v1/checks/{check_id}/hits", "200", false),
        ("post", "/api/v1/checks/{check_id}/dismiss", "200", true),
        ("post", "/api/v1/checks/{check_id}/rerun", "200", false),
        ("post", "/api/v1/checks/{check_id}/redact", "200", false),
        ("post", "/api/v1/checks/{check_id}/tags", "200", true),
        ("put", "/api/v1/checks/{check_id}/tags", "200", true),
        ("delete", "/api/v1/checks/{check_id}/tags/{tag}", "200", false),
        ("get", "/api/v1/sessions/{session_id}/checks", "200", false),
        ("get", "/api/v1/identities/{identity_id}/checks", "200", false),
        ("get", "/api/v1/watchlists", "200", false),
        ("get", "/api/v1/watchlists/{watchlist_id}", "200", false),
        ("post", "/api/v1/watchlists/import", "201", false),
        ("get", "/api/v1/identities/{identity_id}/monitored-lists", "200", false),
        ("post", "/api/v1/identities/{identity_id}/monitored-lists", "200", true),
        ("put", "/api/v1/identities/{identity_id}/monitored-lists", "200", true),
    ];
    for (method, path, status, has_body) in operations {
        let op = &doc["paths"][path][method];
        assert!(op["tags"][0] == "Checks" || op["tags"][0] == "Watchlists", "{method} {path}: {op}");
        let response = resolve(&doc, &op["responses"][status]["content"]["application/json"]["schema"]);
        assert!(
            response["properties"].as_object().is_some_and(|p| !p.is_empty()),
            "{method} {path}: untyped response {response}"
        );
        if *has_body {
            let body = resolve(&doc, &op["requestBody"]["content"]["application/json"]["schema"]);
            // A create body is one branch per family of check types (each requiring that family's fields).
            let branches = match body.get("oneOf").or_else(|| body.get("anyOf")) {
                Some(b) => b.as_array().unwrap().clone(),
                None => vec![body.clone()],
            };
            for body in branches {
                assert!(body["properties"].as_object().is_some_and(|p| !p.is_empty()), "{method} {path}: {body}");
                assert_eq!(body["additionalProperties"], false, "{method} {path}: unknown fields are refused");
            }
        }
    }
    let create =
        resolve(&doc, &doc["paths"]["/api/v1/checks"]["post"]["requestBody"]["content"]["application/json"]["schema"]);
    // AML types require the names (the first branch); others take them optionally.
    assert_eq!(create["oneOf"][0]["properties"]["check_type"]["enum"][0], "sanction", "{create}");
    let required = create["oneOf"][0]["required"].as_array().unwrap();
    assert!(required.contains(&json!("name_first")) && required.contains(&json!("name_last")), "{create}");
    assert_eq!(resolve(&doc, &create["oneOf"][0]["properties"]["name_first"])["maxLength"], 100, "{create}");
    let name_first = &create["oneOf"][1]["properties"]["name_first"]["oneOf"][1];
    assert_eq!(resolve(&doc, name_first)["maxLength"], 100, "{create}");
    let import = &doc["paths"]["/api/v1/watchlists/import"]["post"]["requestBody"]["content"];
    assert!(import["multipart/form-data"]["schema"].is_object(), "{import}");
    let check = resolve(&doc, &doc["components"]["schemas"]["CheckView"]);
    assert!(check["properties"]["hits"].is_object() && check["properties"]["status"].is_object(), "{check}");
}

#[actix_web::test]
async fn check_values_refused_by_their_type_name_the_field() {
    let app = spawn_app().await;
    let base = json!({"check_type": "sanction", "external_ref": "v-1", "name_first": "Ada", "name_last": "Lovelace"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (field, value) in [
        ("name_first", json!("a".repeat(101))),
        ("country_code", json!("XX")),
        ("birthdate", json!("1990-02-30")),
        ("zip_code", json!("1".repeat(21))),
        ("ip_address", json!("300.1.1.1")),
        ("session_id", json!("ses_nope")),
        ("check_type", json!("tarot")),
        ("colour", json!("blue")),
    ] {
        let r = app.post("/checks", with(field, value)).await;
        assert_error(&r, 422);
        let fields: Vec<&str> =
            r.body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        assert_eq!(fields, vec![field], "{}", r.body);
    }
    assert_eq!(app.post("/checks", base.clone()).await.status, 201);
    let r = app
        .post(
            "/checks/full",
            with("check_types", json!([]))
                .as_object()
                .cloned()
                .map(|mut o| {
                    o.remove("check_type");
                    Value::Object(o)
                })
                .unwrap(),
        )
        .await;
    assert_error(&r, 422);
    assert_eq!(app.get("/checks/not-a-check").await.status, 404, "a malformed id names no check");
    assert_eq!(app.get("/checks?status=maybe").await.status, 422);
    assert_error(
        &app.post("/identities/idn_01J0000000000000000000000A/monitored-lists", json!({"list_ids": ["ofac"]})).await,
        404,
    );
}

#[actix_web::test]
async fn check_refusals_for_state_are_conflicts_and_missing_references_are_not_found() {
    let app = spawn_app().await;
    // No reference at all: the check stands alone.
    let alone =
        app.post("/checks", json!({"check_type": "sanction", "name_first": "Ada", "name_last": "Lovelace"})).await;
    assert_eq!(alone.status, 201, "{}", alone.body);
    assert!(alone.body["external_ref"].is_null() && alone.body["identity_id"].is_null(), "{}", alone.body);
    let id = alone.body["id"].as_str().unwrap().to_string();
    // A well-formed id naming nothing is a 404.
    let ghost = json!({"check_type": "sanction", "name_first": "A", "name_last": "B",
        "identity_id": "idn_01J0000000000000000000000A"});
    assert_error(&app.post("/checks", ghost).await, 404);
    let ghost = json!({"check_type": "sanction", "name_first": "A", "name_last": "B", "external_ref": "g",
        "session_id": "ses_01J0000000000000000000000A"});
    assert_error(&app.post("/checks", ghost).await, 404);
    assert_error(
        &app.post(&format!("/checks/{id}/dismiss"), json!({"hit_ids": ["hit_6kmKf0vX0RQarX23yFcTpdGf6H"]})).await,
        404,
    );
    // Adding no tag changes nothing.
    let none = app.post(&format!("/checks/{id}/tags"), json!({"tags": []})).await;
    assert_eq!((none.status, &none.body["tags"]), (200, &json!([])), "{}", none.body);
    // Once redacted, every change is a conflict with the check's state.
    assert_eq!(app.post(&format!("/checks/{id}/redact"), json!({})).await.status, 200);
    assert_eq!(assert_error(&app.post(&format!("/checks/{id}/redact"), json!({})).await, 409), "conflict");
    assert_error(&app.post(&format!("/checks/{id}/rerun"), json!({})).await, 409);
    let set = app
        .send("PUT", &format!("/checks/{id}/tags"), Some(&app.sandbox_key.clone()), &[], Some(&json!({"tags": ["a"]})))
        .await;
    assert_error(&set, 409);
    assert_error(&app.post(&format!("/checks/{id}/dismiss"), json!({})).await, 409);
}

#[actix_web::test]
async fn a_birth_date_of_only_a_year_or_a_month_is_screened_at_that_precision() {
    let app = spawn_app().await;
    import_sample(&app).await;
    let score = |r: &Resp| r.body["hits"][0]["score"].as_f64().unwrap_or(0.0);
    let full = sanction_check(&app, "p-1", LISTED.0, LISTED.1, Some(LISTED.2)).await;
    // The listed date is 1993-04-17: its year alone, and its month, agree at their precision.
    for partial in ["1993", "1993-04"] {
        let r = sanction_check(&app, "p-2", LISTED.0, LISTED.1, Some(partial)).await;
        assert_eq!(r.status, 201, "{partial}: {}", r.body);
        assert_eq!(r.body["status"], "hit", "{partial}: {}", r.body);
        assert_eq!(r.body["hits"][0]["features"]["date_of_birth"], 1.0, "{partial}: {}", r.body);
        assert_eq!(r.body["subject"]["birthdate"], partial);
    }
    // Another year counts against the match.
    let other = sanction_check(&app, "p-3", LISTED.0, LISTED.1, Some("1971")).await;
    assert_eq!(other.status, 201, "{}", other.body);
    assert!(score(&other) < score(&full), "a different year lowers the score: {} vs {}", score(&other), score(&full));
    // The country by its code, its name or the nationality, kept as the code.
    for (given, code) in [("RU", "RU"), ("Russia", "RU"), ("Russian Federation", "RU"), ("Iranian", "IR")] {
        let mut body =
            json!({"check_type": "sanction", "name_first": "Ann", "name_last": "Other", "country_code": given});
        body["external_ref"] = json!("p-5");
        let r = live_post(&app, "/checks", body).await;
        assert_eq!((r.status, r.body["subject"]["country_code"].as_str()), (201, Some(code)), "{given}: {}", r.body);
    }
    let r = live_post(
        &app,
        "/checks",
        json!({"check_type": "sanction", "name_first": "A", "name_last": "B", "country_code": "Narnia"}),
    )
    .await;
    assert_error(&r, 422);
    // Only real partial dates.
    for bad in ["1993-13", "93", "1893", "2999", "1993-4", "1993-04-31"] {
        let r = sanction_check(&app, "p-4", LISTED.0, LISTED.1, Some(bad)).await;
        assert_error(&r, 422);
        assert_eq!(r.body["errors"][0]["field"], "birthdate", "{bad}: {}", r.body);
    }
}

#[actix_web::test]
async fn a_checks_pdf_report_shows_its_subject_lists_hits_and_dismissals() {
    let app = spawn_app().await;
    let version = import_sample(&app).await;
    let r = sanction_check(&app, "rep-1", LISTED.0, LISTED.1, Some(LISTED.2)).await;
    assert_eq!(r.body["status"], "hit", "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let d =
        live_post(&app, &format!("/checks/{id}/dismiss"), json!({"reason": "Different person: other passport"})).await;
    assert_eq!(d.status, 200, "{}", d.body);

    let pdf = app.send("GET", &format!("/checks/{id}/report.pdf"), Some(&app.live_key.clone()), &[], None).await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type").as_deref(), Some("application/pdf"));
    assert!(pdf.raw.starts_with(b"%PDF-"), "a PDF");
    // Read back by an independent reader (poppler's pdftotext, from `make run-deps`).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, &pdf.raw).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Long lines wrap: compare with the whitespace collapsed.
    let text = String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        id.as_str(),
        "Screening check report",
        &format!("{} {}", LISTED.0, LISTED.1),
        LISTED.2,
        "ofac",
        version.as_str(),
        LISTED_ID,
        "date of birth",
        "Dismissed",
        "Different person: other passport",
        "api_key:",
    ] {
        assert!(text.contains(expected), "{expected} in the report:\n{text}");
    }
    assert_error(
        &app.send("GET", "/checks/schk_01JD8ZQ7S3K2M4N5P6Q7R8S9T0/report.pdf", Some(&app.live_key.clone()), &[], None)
            .await,
        404,
    );
}
