//! Background list imports through the API: a generated OpenSanctions (FtM JSON lines) upload of a few
//! thousand entities imports with its progress visible while it runs and is screened once active; a
//! malformed upload ends failed with the parser's error while the previous version still screens; an
//! import the server stopped in the middle of is marked failed at the next start; identity names monitored
//! against the list never reach the database file in plaintext.

use crate::helpers::*;
use idv::crypto::{Keyring, MasterKey};
use serde_json::{json, Value};
use std::time::Duration;

/// The listed person every generated file holds, with a full birth date.
pub const LISTED: (&str, &str, &str) = ("Ivanka", "Zhelezova", "1965-03-02");
pub const LISTED_ID: &str = "gen-listed-1";

const GIVEN: &[&str] = &[
    "Aurelio",
    "Bertrand",
    "Casimir",
    "Desmond",
    "Evander",
    "Fabiola",
    "Gunnhild",
    "Hortensia",
    "Isidore",
    "Jolanta",
    "Kasimir",
    "Leocadia",
    "Maximilian",
    "Nepomuk",
    "Ottilie",
    "Perpetua",
    "Quirin",
    "Rosalind",
    "Sigismund",
    "Theodora",
];
const FAMILY: &[&str] = &[
    "Abernathy",
    "Bräutigam",
    "Castellanos",
    "Dunsmuir",
    "Eichendorff",
    "Fitzgerald",
    "Grimaldi",
    "Hohenberg",
    "Ingersoll",
    "Jablonski",
    "Kowalczyk",
    "Lindqvist",
    "Montgomery",
    "Nakashima",
    "Oyelaran",
    "Pemberton",
    "Quintanilla",
    "Rasmussen",
    "Szczepanski",
    "Thorvaldsen",
    "Underhill",
    "Vasquez",
    "Wainwright",
    "Yevtushenko",
    "Zimmermann",
];

/// `n` FtM persons as JSON lines (the listed person first), with `edit` applied to line `i` (1-based).
pub fn ftm(n: usize, edit: impl Fn(usize, String) -> String) -> Vec<u8> {
    let mut out = String::new();
    for i in 1..=n {
        let line = if i == 1 {
            json!({"id": LISTED_ID, "schema": "Person", "caption": format!("{} {}", LISTED.0, LISTED.1),
                "properties": {"name": [format!("{} {}", LISTED.0, LISTED.1)], "birthDate": [LISTED.2],
                    "nationality": ["bg"], "topics": ["sanction"]}})
        } else {
            let given = GIVEN[i % GIVEN.len()];
            let family = FAMILY[(i / GIVEN.len()) % FAMILY.len()];
            json!({"id": format!("gen-{i}"), "schema": "Person", "caption": format!("{given} {family} {i}"),
                "properties": {"name": [format!("{given} {family}-{}", i / 500)],
                    "birthDate": [format!("{}-0{}-1{}", 1940 + i % 60, 1 + i % 9, i % 10)]}})
        };
        out.push_str(&edit(i, line.to_string()));
        out.push('\n');
    }
    out.into_bytes()
}

pub fn ftm_form(bytes: Vec<u8>) -> (String, Vec<u8>) {
    let boundary = "----idv-list-import-boundary-3a9e";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"source\"\r\n\r\nopensanctions\r\n--{boundary}\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"entities.ftm.json\"\r\n\
         Content-Type: application/json\r\n\r\n"
    )
    .into_bytes();
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads an FtM file; `async_` asks for the background answer (Prefer: respond-async).
pub async fn upload(app: &TestApp, bytes: Vec<u8>, async_: bool) -> Resp {
    let (ct, body) = ftm_form(bytes);
    let headers: &[(&str, &str)] = if async_ { &[("Prefer", "respond-async")] } else { &[] };
    let url = app.url("/watchlists/import");
    let mut req = app.client.post(url).insert_header(("X-API-Key", app.live_key.as_str()));
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut res = req.insert_header(("Content-Type", ct)).send_body(body).await.expect("sent");
    let raw = res.body().limit(16 * 1024 * 1024).await.expect("body").to_vec();
    Resp {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw,
    }
}

/// Polls an import until it has ended, returning every view seen on the way (the last one ended).
pub async fn follow(app: &TestApp, import_id: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..6000 {
        let r = app.live_get(&format!("/watchlists/imports/{import_id}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let ended = r.body["status"] != "importing";
        seen.push(r.body);
        if ended {
            return seen;
        }
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the import did not end: {:?}", seen.last());
}

async fn check(app: &TestApp, first: &str, last: &str, dob: &str) -> Value {
    let body = json!({"check_type": "sanction", "external_ref": "imp-1", "name_first": first, "name_last": last,
        "birthdate": dob});
    let r = app.send("POST", "/checks", Some(&app.live_key.clone()), &[], Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

fn keyring(app: &TestApp) -> Keyring {
    let (master, _) = MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    Keyring::new(&master)
}

fn contains(path: &std::path::Path, needle: &str) -> bool {
    std::fs::read(path).map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())).unwrap_or(false)
}

#[actix_web::test]
async fn a_large_ftm_upload_imports_in_the_background_with_progress_and_is_screened_once_active() {
    let app = spawn_app().await;
    // Monitored against the list: a spelling of the listed name that the list itself does not hold.
    let monitored = app
        .create_identity(json!({"external_ref": "imp-m", "first_name": "Ivanka", "last_name": "Zhelezowa",
            "date_of_birth": "1965-03-02"}))
        .await;
    let n = 5000;
    let file = ftm(n, |_, l| l);
    let size = file.len() as i64;

    let started = upload(&app, file, true).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let b = &started.body;
    assert_eq!((b["object"].as_str(), b["status"].as_str()), (Some("watchlist_import"), Some("importing")), "{b}");
    assert_eq!(b["bytes_total"], size, "{b}");
    assert_eq!(b["files"], json!(["entities.ftm.json"]));
    let id = b["id"].as_str().expect("import id").to_string();
    // While it runs the list shows it, and nothing of it is screened yet.
    let list = app.live_get("/watchlists/opensanctions").await;
    assert_eq!(list.body["latest_import"]["id"], id.as_str(), "{}", list.body);

    let seen = follow(&app, &id).await;
    let running: Vec<&Value> = seen.iter().filter(|v| v["status"] == "importing").collect();
    assert!(
        running.iter().any(|v| v["entities_read"].as_i64().unwrap_or(0) > 0),
        "progress was visible while it ran: {:?}",
        seen.iter().map(|v| (&v["status"], &v["phase"], &v["entities_read"])).collect::<Vec<_>>()
    );
    let reads: Vec<i64> = running.iter().filter_map(|v| v["entities_read"].as_i64()).collect();
    assert!(reads.windows(2).all(|w| w[0] <= w[1]), "progress only grows: {reads:?}");
    let done = seen.last().unwrap();
    assert_eq!(done["status"], "active", "{done}");
    assert_eq!(done["entities_read"], n, "{done}");
    assert_eq!(done["bytes_read"], size, "{done}");
    assert_eq!(done["version"]["counts"]["total"], n, "{done}");
    assert_eq!(done["version"]["counts"]["added"], n, "{done}");
    assert_eq!(done["version"]["monitoring"]["status"], "completed", "{done}");

    let list = app.live_get("/watchlists/opensanctions").await;
    assert_eq!(list.body["current_version"]["id"], id.as_str(), "{}", list.body);
    assert_eq!(list.body["entry_count"], n, "{}", list.body);

    // Screened at once: the listed person hits, the entity id and version named.
    let c = check(&app, LISTED.0, LISTED.1, LISTED.2).await;
    assert_eq!(c["status"], "hit", "{c}");
    assert_eq!(c["hits"][0]["entry_id"], LISTED_ID, "{c}");
    assert_eq!(c["hits"][0]["list_version_id"], id.as_str(), "{c}");
    // Monitoring screened the identity against it.
    let identity = app.get(&format!("/identities/{monitored}")).await;
    assert_eq!(identity.body["screening_status"], "hit", "{}", identity.body);

    // The same file again records nothing.
    let again = upload(&app, ftm(n, |_, l| l), true).await;
    assert_eq!((again.status, &again.body["unchanged"]), (200, &json!(true)), "{}", again.body);

    // The monitored person's spelling is nowhere in the database file (sealed), and no upload is left on disk.
    for f in ["idv.db", "idv.db-wal"] {
        assert!(!contains(&app.data_dir.path().join(f), "Zhelezowa"), "{f} holds the identity's name");
    }
    let spool = app.data_dir.path().join("imports");
    let left: usize = walk(&spool);
    assert_eq!(left, 0, "spooled uploads are removed once read");
    let scratch = app.data_dir.path().join("scratch.db");
    idv::store::replay::check(&app.db_path(), &scratch, &keyring(&app)).expect("replay check passes");
}

/// No hit of the check is on the renamed entry of the upload that did not complete.
fn not_renamed(check: &Value) -> bool {
    check["hits"].as_array().is_some_and(|h| h.iter().all(|h| h["matched_name"] == "Ivanka Zhelezova"))
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 })
        .sum()
}

#[actix_web::test]
async fn a_malformed_upload_ends_failed_with_the_parsers_error_and_the_previous_version_still_screens() {
    let app = spawn_app().await;
    let first = upload(&app, ftm(1200, |_, l| l), false).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let v1 = first.body["version"]["id"].as_str().unwrap().to_string();

    // A second snapshot that changes the listed person (a new name) and breaks at line 1100.
    let broken = ftm(1200, |i, l| match i {
        1 => l.replace("Zhelezova", "Kostadinova"),
        1100 => "{\"id\": \"gen-1100\", \"schema\": \"Person\", \"properties\": {\"name\": [\"unterminated".into(),
        _ => l,
    });
    let started = upload(&app, broken.clone(), true).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let id = started.body["id"].as_str().unwrap().to_string();
    let done = follow(&app, &id).await.pop().unwrap();
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().unwrap_or_default();
    assert!(error.contains("line 1100"), "the error names the line: {done}");
    assert!(done["version"].is_null() && done["finished_at"].is_string(), "{done}");

    // The previous version is still the current one and still screens; the failed one is shown as failed.
    let list = app.live_get("/watchlists/opensanctions").await;
    assert_eq!(list.body["current_version"]["id"], v1.as_str(), "{}", list.body);
    assert_eq!(list.body["latest_import"]["status"], "failed", "{}", list.body);
    assert_eq!(list.body["entry_count"], 1200, "{}", list.body);
    let c = check(&app, LISTED.0, LISTED.1, LISTED.2).await;
    assert_eq!(c["status"], "hit", "{c}");
    assert_eq!(c["hits"][0]["list_version_id"], v1.as_str(), "{c}");
    let renamed = check(&app, LISTED.0, "Kostadinova", LISTED.2).await;
    assert!(not_renamed(&renamed), "the failed upload's entries are not screened: {renamed}");

    // Waiting for the answer instead: a 422 in the error shape, naming the field and the line.
    let sync = upload(&app, broken, false).await;
    assert_error(&sync, 422);
    assert_eq!(sync.body["errors"][0]["field"], "file", "{}", sync.body);
    assert!(sync.body["errors"][0]["message"].as_str().unwrap_or_default().contains("line 1100"), "{}", sync.body);

    // Not an import: an unknown id is a 404.
    let missing = app.live_get("/watchlists/imports/wlv_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C").await;
    assert_error(&missing, 404);
    let scratch = app.data_dir.path().join("scratch.db");
    idv::store::replay::check(&app.db_path(), &scratch, &keyring(&app)).expect("replay check passes");
}

#[actix_web::test]
async fn an_import_the_server_stopped_in_the_middle_of_is_marked_failed_and_the_previous_version_stays() {
    use idv::commands::watchlists as cmd;
    use idv::domain::watchlist::{HashedEntry, ImportStarted};
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = idv::config::Config::new(data_dir.path().to_path_buf());
    config.bind = "127.0.0.1:0".into();
    config.workers = 1;
    // An earlier run: version 1 recorded, then an import started and one slice written when it stopped.
    let (v1, v2) = {
        let core = idv::startup::open_core(&config).expect("core");
        let parsed = idv::screening::import::opensanctions::import(&ftm(50, |_, l| l)[..]).unwrap();
        let at = "2025-01-11T08:00:00Z".to_string();
        let v1 = cmd::import(&core.writer, "cli".into(), at.clone(), None, "opensanctions".into(), parsed, vec![])
            .await
            .unwrap()
            .version_id;
        let v2 = idv::domain::ids::new_id(idv::domain::ids::WATCHLIST_VERSION);
        let meta = cmd::ImportMeta { actor: "cli".into(), request_id: None };
        let started = ImportStarted {
            version_id: v2.clone(),
            source: "opensanctions".into(),
            list_source: "opensanctions".into(),
            content_digest: "0".repeat(64),
            files: vec!["entities.ftm.json".into()],
            bytes_total: 1,
            base_version_id: Some(v1.clone()),
        };
        cmd::start_import(&core.writer, meta.clone(), at.clone(), started).await.unwrap();
        let other =
            idv::screening::import::opensanctions::import(&ftm(1, |_, l| l.replace("Zhelezova", "Kostadinova"))[..])
                .unwrap();
        let value = serde_json::to_value(&other.entries[0]).unwrap();
        let changed = vec![HashedEntry { hash: cmd::entry_hash(&value), entry: value }];
        cmd::write_slice(&core.writer, meta, at, v2.clone(), "opensanctions".into(), vec![], changed).await.unwrap();
        (v1, v2)
    };
    let started = idv::startup::Application::build(config).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", started.port());
    let (sandbox_key, live_key) = (started.first_keys[0].secret.clone(), started.first_keys[1].secret.clone());
    let verifyhq_key = started.first_keys[2].secret.clone();
    actix_web::rt::spawn(started.run());
    let client = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
    let app = TestApp { base, sandbox_key, live_key, verifyhq_key, data_dir, client };

    let done = follow(&app, &v2).await.pop().unwrap();
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap_or_default().contains("server stopped"), "{done}");
    let list = app.live_get("/watchlists/opensanctions").await;
    assert_eq!(list.body["current_version"]["id"], v1.as_str(), "{}", list.body);
    let c = check(&app, LISTED.0, LISTED.1, LISTED.2).await;
    assert_eq!(
        (c["status"].as_str(), c["hits"][0]["list_version_id"].as_str()),
        (Some("hit"), Some(v1.as_str())),
        "{c}"
    );
    let renamed = check(&app, LISTED.0, "Kostadinova", LISTED.2).await;
    assert!(not_renamed(&renamed), "the interrupted import's entries are not screened: {renamed}");
    let scratch = app.data_dir.path().join("scratch.db");
    idv::store::replay::check(&app.db_path(), &scratch, &keyring(&app)).expect("replay check passes");
}
