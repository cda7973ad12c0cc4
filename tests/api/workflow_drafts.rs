//! Workflow drafts (list, get, diff, dry-run, publish), the trigger, the run's path through the graph and
//! analytics, end to end through HTTP; the dry-run writes nothing and the runs are rebuilt by replay.

use crate::helpers::*;
use serde_json::{json, Value};

fn png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(48, 48, |x, y| image::Rgb([(x as u8) ^ seed, (y as u8).wrapping_mul(5), seed]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// Age check: an adult is approved, a minor rejected.
fn age_graph() -> Value {
    json!({
        "entry": "start",
        "nodes": {
            "start": {"type": "start", "next": "age"},
            "age": {"type": "policy", "policy": "age_verification", "on_pass": "ok", "on_fail": "no"},
            "ok": {"type": "terminal", "outcome": "approved"},
            "no": {"type": "terminal", "outcome": "rejected"}
        }
    })
}

/// The same, but a minor goes to review.
fn review_minors_graph() -> Value {
    let mut g = age_graph();
    g["nodes"]["age"]["on_fail"] = json!("look");
    g["nodes"]["look"] = json!({"type": "terminal", "outcome": "needs_review"});
    g
}

async fn live(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Resp {
    app.send(method, path, Some(&app.live_key.clone()), &[], body.as_ref()).await
}

async fn live_workflow(app: &TestApp, graph: Value) -> String {
    let r = live(app, "POST", "/workflows", Some(json!({"name": "age", "graph": graph}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// A live session on `workflow` with a date of birth and its document front uploaded (not submitted).
async fn captured(app: &TestApp, workflow: &str, external_ref: &str, dob: &str, seed: u8) -> String {
    let body = json!({"external_ref": external_ref, "workflow_id": workflow, "first_name": "Ann", "last_name": "Lee",
                      "date_of_birth": dob});
    let s = live(app, "POST", "/sessions", Some(body)).await;
    assert_eq!(s.status, 201, "{}", s.body);
    let id = s.body["id"].as_str().unwrap().to_string();
    let key = app.live_key.clone();
    let up = app
        .upload(
            &format!("/sessions/{id}/documents"),
            Some(&key),
            &[("document_type", "id_front")],
            Some(("image/png", &png(seed))),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.body);
    id
}

fn event_count(app: &TestApp) -> (i64, i64) {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.query_row("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
}

fn results(run: &Value) -> Vec<(String, String)> {
    run["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["node"].as_str().unwrap().to_string(), n["result"].as_str().unwrap().to_string()))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[actix_web::test]
async fn a_draft_is_listed_diffed_against_the_published_version_and_published_by_its_id() {
    let app = spawn_app().await;
    let created = app.post("/workflows", json!({"name": "age", "graph": age_graph()})).await;
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["draft_id"], Value::Null);
    assert_eq!(app.get(&format!("/workflows/{id}/drafts")).await.body["data"], json!([]));

    let drafted = app.patch(&format!("/workflows/{id}"), json!({"graph": review_minors_graph()})).await;
    assert_eq!(drafted.status, 200, "{}", drafted.body);
    let draft_id = drafted.body["draft_id"].as_str().expect("the workflow names its draft").to_string();
    assert!(draft_id.starts_with("wfd_"), "{draft_id}");

    let list = app.get(&format!("/workflows/{id}/drafts")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["data"][0]["id"], draft_id.as_str());
    assert_eq!(list.body["data"][0]["version"], 2);
    assert_eq!(list.body["data"][0]["published_version"], 1);
    let one = app.get(&format!("/workflows/{id}/drafts/{draft_id}")).await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["status"], "draft");
    assert_eq!(one.body["graph"], review_minors_graph());

    let diff = app.get(&format!("/workflows/{id}/drafts/{draft_id}/diff")).await;
    assert_eq!(diff.status, 200, "{}", diff.body);
    assert_eq!(diff.body["identical"], false);
    assert_eq!(diff.body["published_version"], 1);
    assert_eq!(diff.body["nodes_added"], json!([{"node": "look", "type": "terminal", "outcome": "needs_review"}]));
    assert_eq!(diff.body["nodes_removed"], json!([]));
    assert_eq!(
        diff.body["nodes_changed"],
        json!([{"node": "age", "settings": [{"setting": "on_fail", "published": "no", "draft": "look"}]}])
    );
    assert_eq!(diff.body["entry"], Value::Null);

    let published = app.post(&format!("/workflows/{id}/drafts/{draft_id}/publish"), json!({})).await;
    assert_eq!(published.status, 200, "{}", published.body);
    assert_eq!(published.body["version"], 2);
    assert_eq!(published.body["graph"], review_minors_graph());
    assert_eq!(app.get(&format!("/workflows/{id}/drafts")).await.body["data"], json!([]));
    assert_eq!(app.get(&format!("/workflows/{id}/drafts/{draft_id}")).await.body["status"], "published");
    let again = app.post(&format!("/workflows/{id}/drafts/{draft_id}/publish"), json!({})).await;
    assert_eq!(assert_error(&again, 409), "conflict");
    let unknown = format!("/workflows/{id}/drafts/wfd_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C");
    assert_error(&app.get(&unknown).await, 404);
    assert_error(&app.get(&format!("/workflows/{id}/drafts/not-a-draft/diff")).await, 404);
    // Another environment does not see the workflow or its drafts.
    assert_error(&app.live_get(&format!("/workflows/{id}/drafts")).await, 404);
}

#[actix_web::test]
async fn a_dry_run_shows_what_the_draft_would_decide_beside_the_record_and_writes_nothing() {
    let app = spawn_app().await;
    let wf = live_workflow(&app, age_graph()).await;
    let minor = captured(&app, &wf, "dry-minor", "2015-03-01", 1).await;
    let adult = captured(&app, &wf, "dry-adult", "1980-03-01", 2).await;
    for s in [&minor, &adult] {
        let r = live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(json!({"session_id": s}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let drafted = live(&app, "PATCH", &format!("/workflows/{wf}"), Some(json!({"graph": review_minors_graph()}))).await;
    let draft = drafted.body["draft_id"].as_str().unwrap().to_string();
    let before = event_count(&app);
    let session_before = live(&app, "GET", &format!("/sessions/{minor}"), None).await.body;

    let run = live(&app, "POST", &format!("/workflows/{wf}/drafts/{draft}/dry-run"), Some(json!({}))).await;
    assert_eq!(run.status, 200, "{}", run.body);
    assert_eq!(run.body["summary"]["evaluated"], 2, "{}", run.body);
    assert_eq!(run.body["summary"]["changed"], 1);
    assert_eq!(run.body["summary"]["published"], json!({"approved": 1, "declined": 1, "needs_review": 0}));
    assert_eq!(run.body["summary"]["draft"]["needs_review"], 1);
    let item = |id: &str| run.body["data"].as_array().unwrap().iter().find(|i| i["session_id"] == id).cloned().unwrap();
    let m = item(&minor);
    assert_eq!(m["published"]["outcome"], "declined");
    assert_eq!(m["published"]["workflow_version"], 1);
    assert_eq!(m["published"]["path"], json!(["start", "age", "no"]));
    assert_eq!(m["draft"]["outcome"], "needs_review");
    assert_eq!(m["draft"]["path"], json!(["start", "age", "look"]));
    assert_eq!(m["changed"], true);
    let a = item(&adult);
    assert_eq!(
        (a["published"]["outcome"].clone(), a["draft"]["outcome"].clone(), a["changed"].clone()),
        (json!("approved"), json!("approved"), json!(false))
    );

    // A given list of sessions, an unknown one reported as skipped; a period that holds nothing.
    let body = json!({"session_ids": [minor, "ses_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C"]});
    let listed = live(&app, "POST", &format!("/workflows/{wf}/drafts/{draft}/dry-run"), Some(body)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed.body["skipped"],
        json!([{"session_id": "ses_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "reason": "not_found"}])
    );
    let future = json!({"from": "2999-01-01T00:00:00Z"});
    let empty = live(&app, "POST", &format!("/workflows/{wf}/drafts/{draft}/dry-run"), Some(future)).await;
    assert_eq!(empty.body["summary"]["evaluated"], 0, "{}", empty.body);

    assert_eq!(event_count(&app), before, "the dry-runs wrote nothing");
    // A draft that raises the minimum age judges the recorded age again: the adult (46) is now too young.
    let mut stricter = age_graph();
    stricter["nodes"]["age"]["minimum_age"] = json!(50);
    let drafted = live(&app, "PATCH", &format!("/workflows/{wf}"), Some(json!({"graph": stricter}))).await;
    let strict = drafted.body["draft_id"].as_str().unwrap().to_string();
    let before = event_count(&app);
    let body = json!({"session_ids": [adult]});
    let judged = live(&app, "POST", &format!("/workflows/{wf}/drafts/{strict}/dry-run"), Some(body)).await;
    assert_eq!(judged.body["data"][0]["draft"]["outcome"], "declined", "{}", judged.body);
    assert_eq!(judged.body["data"][0]["published"]["outcome"], "approved");

    // Nothing was written: no event, and the session reads back the same.
    assert_eq!(event_count(&app), before);
    assert_eq!(live(&app, "GET", &format!("/sessions/{minor}"), None).await.body, session_before);
    let wf_after = live(&app, "GET", &format!("/workflows/{wf}"), None).await;
    assert_eq!((wf_after.body["version"].clone(), wf_after.body["has_draft"].clone()), (json!(1), json!(true)));
    let bad = live(&app, "POST", &format!("/workflows/{wf}/drafts/{draft}/dry-run"), Some(json!({"limit": 0}))).await;
    assert_eq!(bad.body["errors"][0]["field"], "limit", "{}", bad.body);
}

#[actix_web::test]
async fn a_trigger_runs_the_session_through_processing_and_the_run_and_analytics_show_each_node() {
    let app = spawn_app().await;
    let wf = live_workflow(&app, age_graph()).await;
    let s = captured(&app, &wf, "trig-1", "1980-03-01", 3).await;

    let first = live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(json!({"session_id": s}))).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["session_status"], "completed");
    assert_eq!(first.body["session_created"], false);
    let run = &first.body["run"];
    assert_eq!(
        (run["run"].clone(), run["trigger"].clone(), run["status"].clone()),
        (json!(1), json!("submitted"), json!("completed"))
    );
    assert_eq!(run["outcome"], "approved");
    assert_eq!(run["workflow_id"], wf.as_str());
    assert_eq!(results(run), pairs(&[("start", "started"), ("age", "passed"), ("ok", "approved")]));
    assert_eq!(run["nodes"][1]["policy"], "age_verification");
    assert_eq!(run["nodes"][1]["next"], "ok");
    assert!(run["nodes"][1]["duration_ms"].as_i64().is_some(), "{run}");
    assert!(run["nodes"][1]["left_at"].as_str() >= run["nodes"][1]["entered_at"].as_str());

    // The audit log shows the trigger behind the session's change, and who made it.
    let audit = live(&app, "GET", &format!("/events?resource_id={s}&limit=100"), None).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let triggered: Vec<&Value> = audit.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["request_path"] == format!("/api/v1/workflows/{wf}/trigger"))
        .collect();
    assert!(!triggered.is_empty(), "{}", audit.body);
    assert!(triggered.iter().all(|e| e["actor"].as_str().unwrap().starts_with("api_key:")), "{triggered:?}");

    // A completed session runs again (reprocess); the session's workflow run shows the nodes too.
    let second = live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(json!({"session_id": s}))).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(
        (second.body["run"]["run"].clone(), second.body["run"]["trigger"].clone()),
        (json!(2), json!("reprocess"))
    );
    let wr = live(&app, "GET", &format!("/sessions/{s}/workflow-run"), None).await;
    assert_eq!(wr.status, 200, "{}", wr.body);
    assert_eq!(results(&wr.body), pairs(&[("start", "started"), ("age", "passed"), ("ok", "approved")]));
    assert!(wr.body["started_at"].is_string(), "{}", wr.body);

    // Another workflow's session, a bad body and a processing-less state are refused.
    let other = live_workflow(&app, review_minors_graph()).await;
    let refused = live(&app, "POST", &format!("/workflows/{other}/trigger"), Some(json!({"session_id": s}))).await;
    assert_eq!(assert_error(&refused, 409), "conflict");
    let both = json!({"session_id": s, "identity_id": "trig-1"});
    let r = live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(both)).await;
    assert_eq!(
        (assert_error(&r, 422).as_str(), r.body["errors"][0]["field"].clone()),
        ("validation_error", json!("identity_id"))
    );
    let r = live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(json!({}))).await;
    assert_eq!(r.body["errors"][0]["field"], "session_id", "{}", r.body);
    let r = live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(json!({"session_id": "ses_nope"}))).await;
    assert_eq!(r.body["errors"][0]["field"], "session_id", "{}", r.body);
    let missing = json!({"session_id": "ses_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C"});
    assert_error(&live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(missing)).await, 404);

    // An identity gets a new session on the workflow, for its reference.
    let for_identity =
        live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(json!({"identity_id": "trig-1"}))).await;
    assert_eq!(for_identity.status, 201, "{}", for_identity.body);
    assert_eq!(for_identity.body["session_created"], true);
    assert_eq!(for_identity.body["session_status"], "pending");
    assert_eq!(for_identity.body["run"], Value::Null);
    assert!(for_identity.body["capture_url"].as_str().unwrap().contains("/verify/"));
    assert!(for_identity.body["identity_id"].as_str().unwrap().starts_with("idn_"));
    let new = for_identity.body["session_id"].as_str().unwrap().to_string();
    let session = live(&app, "GET", &format!("/sessions/{new}"), None).await;
    assert_eq!(session.body["external_ref"], "trig-1", "{}", session.body);
    let unknown = json!({"identity_id": "nobody-here"});
    assert_error(&live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(unknown)).await, 404);

    // Analytics over the period: two runs of the age node, both passed.
    let stats = live(&app, "GET", &format!("/workflows/{wf}/analytics"), None).await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert_eq!(stats.body["runs"]["total"], 2, "{}", stats.body);
    assert_eq!(stats.body["runs"]["completed"], 2);
    assert_eq!(stats.body["outcomes"], json!({"approved": 2, "declined": 0, "needs_review": 0}));
    assert_eq!(
        stats.body["versions"],
        json!([{"version": 1, "runs": 2, "outcomes": {"approved": 2, "declined": 0, "needs_review": 0}}])
    );
    let age = stats.body["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "age").cloned().unwrap();
    assert_eq!(age["visits"], 2);
    assert_eq!(age["results"], json!({"passed": 2}));
    assert_eq!(age["time"]["count"], 2);
    assert_eq!(stats.body["run_time"]["count"], 2);
    let later = live(&app, "GET", &format!("/workflows/{wf}/analytics?from=2999-01-01T00:00:00Z"), None).await;
    assert_eq!(later.body["runs"]["total"], 0, "{}", later.body);
    assert_eq!(later.body["from"], "2999-01-01T00:00:00.000Z");
    let bad = live(&app, "GET", &format!("/workflows/{wf}/analytics?from=yesterday"), None).await;
    assert_eq!(assert_error(&bad, 422), "validation_error");
    assert_error(&app.get(&format!("/workflows/{wf}/analytics")).await, 404);
}

#[actix_web::test]
async fn a_run_through_an_external_gate_records_the_wait_and_the_runs_are_rebuilt_by_replay() {
    let app = spawn_app().await;
    let graph = json!({"entry": "s", "nodes": {
        "s": {"type": "start", "next": "age"},
        "age": {"type": "policy", "policy": "age_verification", "on_pass": "gate", "on_fail": "no"},
        "gate": {"type": "wait", "next": "yes", "on_fail": "review"},
        "yes": {"type": "terminal", "outcome": "approved"},
        "no": {"type": "terminal", "outcome": "rejected"}}});
    let wf = live_workflow(&app, graph).await;
    let s = captured(&app, &wf, "gate-run", "1980-03-01", 4).await;
    let paused = live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(json!({"session_id": s}))).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.body["session_status"], "awaiting_external");
    assert_eq!(paused.body["run"]["status"], "awaiting_external");
    assert_eq!(results(&paused.body["run"]), pairs(&[("s", "started"), ("age", "passed"), ("gate", "waiting")]));
    assert_eq!(paused.body["run"]["nodes"][2]["left_at"], Value::Null);

    let decided =
        live(&app, "POST", &format!("/sessions/{s}/external-decision"), Some(json!({"decision": "continue"}))).await;
    assert_eq!(decided.status, 202, "{}", decided.body);
    let run = live(&app, "GET", &format!("/sessions/{s}/workflow-run"), None).await.body;
    assert_eq!(
        results(&run),
        pairs(&[("s", "started"), ("age", "passed"), ("gate", "continue"), ("yes", "approved")]),
        "{run}"
    );
    assert!(run["nodes"][2]["left_at"].is_string(), "{run}");
    let stats = live(&app, "GET", &format!("/workflows/{wf}/analytics"), None).await.body;
    let gate = stats["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "gate").cloned().unwrap();
    assert_eq!((gate["visits"].clone(), gate["results"].clone()), (json!(1), json!({"continue": 1})));
    assert_eq!(gate["time"]["count"], 1);

    // A rejection at the gate ends the run there.
    let r = captured(&app, &wf, "gate-reject", "1981-03-01", 6).await;
    let paused = live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(json!({"session_id": r}))).await;
    assert_eq!(paused.body["session_status"], "awaiting_external", "{}", paused.body);
    let rejected =
        live(&app, "POST", &format!("/sessions/{r}/external-decision"), Some(json!({"decision": "reject"}))).await;
    assert_eq!(rejected.status, 202, "{}", rejected.body);
    let run = live(&app, "GET", &format!("/sessions/{r}/workflow-run"), None).await.body;
    assert_eq!(results(&run), pairs(&[("s", "started"), ("age", "passed"), ("gate", "reject")]), "{run}");
    assert_eq!(run["outcome"], "declined");

    // The runs are views of the log: a rebuild from it gives the same rows.
    let (master, _) = idv::crypto::MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    let ring = idv::crypto::Keyring::new(&master);
    let scratch = app.data_dir.path().join("scratch.db");
    idv::store::replay::check(&app.db_path(), &scratch, &ring).expect("replay rebuilds the same views");
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let nodes: i64 = conn.query_row("SELECT COUNT(*) FROM workflow_run_nodes", [], |r| r.get(0)).unwrap();
    assert_eq!(nodes, 7);
}

#[actix_web::test]
async fn the_new_operations_are_documented_with_typed_schemas() {
    let app = spawn_app().await;
    let doc = app.send("GET", "/api/v1/openapi.json", None, &[], None).await.body;
    for (path, method) in [
        ("/api/v1/workflows/{workflow_id}/trigger", "post"),
        ("/api/v1/workflows/{workflow_id}/analytics", "get"),
        ("/api/v1/workflows/{workflow_id}/drafts", "get"),
        ("/api/v1/workflows/{workflow_id}/drafts/{draft_id}", "get"),
        ("/api/v1/workflows/{workflow_id}/drafts/{draft_id}/diff", "get"),
        ("/api/v1/workflows/{workflow_id}/drafts/{draft_id}/dry-run", "post"),
        ("/api/v1/workflows/{workflow_id}/drafts/{draft_id}/publish", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert_eq!(op["tags"], json!(["Workflows"]), "{method} {path}");
        assert!(op["responses"]["404"].is_object(), "{method} {path}");
    }
    let trigger = &doc["components"]["schemas"]["TriggerBody"];
    assert_eq!(trigger["oneOf"].as_array().map(Vec::len), Some(2), "{trigger}");
    let draft_id = &doc["components"]["schemas"]["WorkflowDraftId"]["pattern"];
    assert!(draft_id.as_str().is_some_and(|p| p.starts_with("^wfd_")), "{draft_id}");
}

#[actix_web::test]
async fn a_database_from_before_draft_ids_and_runs_gets_both_when_it_is_opened() {
    let app = spawn_app().await;
    let wf = live_workflow(&app, age_graph()).await;
    let s = captured(&app, &wf, "upgrade-1", "1980-03-01", 5).await;
    let ran = live(&app, "POST", &format!("/workflows/{wf}/trigger"), Some(json!({"session_id": s}))).await;
    assert_eq!(ran.status, 200, "{}", ran.body);
    let draft = live(&app, "PATCH", &format!("/workflows/{wf}"), Some(json!({"graph": review_minors_graph()}))).await;
    let draft_id = draft.body["draft_id"].as_str().unwrap().to_string();
    let read = |sql: &str| -> String {
        let conn = rusqlite::Connection::open(app.db_path()).unwrap();
        conn.query_row(sql, [], |r| r.get::<_, Option<String>>(0)).unwrap().unwrap_or_default()
    };
    let runs_sql = "SELECT group_concat(node || ':' || result, ',') FROM workflow_run_nodes ORDER BY position";
    let runs = read(runs_sql);
    assert_eq!(runs, "start:started,age:passed,ok:approved");

    // The database as schema version 7 left it: no draft ids, no run views.
    rusqlite::Connection::open(app.db_path())
        .unwrap()
        .execute_batch(
            "DROP INDEX workflow_versions_by_draft; ALTER TABLE workflow_versions DROP COLUMN draft_id;
             DROP TABLE workflow_run_nodes; DROP TABLE workflow_runs; PRAGMA user_version = 7;",
        )
        .unwrap();
    let config = idv::config::Config::new(app.data_dir.path().to_path_buf());
    drop(idv::startup::open_core(&config).expect("the older database opens"));

    let sql = format!("SELECT draft_id FROM workflow_versions WHERE workflow_id = '{wf}' AND version = 2");
    assert_eq!(read(&sql), draft_id);
    assert_eq!(read(runs_sql), runs);
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, idv::store::SCHEMA_VERSION, "upgraded to the current schema");
}
