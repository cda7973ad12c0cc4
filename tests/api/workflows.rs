//! Workflow endpoints end to end: create, versions, publish, default, deactivate, and the typed document.

use crate::helpers::*;
use serde_json::{json, Value};

fn graph() -> Value {
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

#[actix_web::test]
async fn a_workflow_is_drafted_published_made_default_and_deactivated() {
    let app = spawn_app().await;
    let created = app.post("/workflows", json!({"name": "  Steps  ", "steps": ["document_ocr", "auto_approve"]})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["name"], "Steps");
    assert_eq!(created.body["format"], "steps");
    assert_eq!(created.body["steps"], json!(["document_ocr", "auto_approve"]));
    assert_eq!(created.body["version"], 1);
    let id = created.body["id"].as_str().unwrap().to_string();

    let drafted = app.patch(&format!("/workflows/{id}"), json!({"graph": graph(), "description": "age only"})).await;
    assert_eq!(drafted.status, 200, "{}", drafted.body);
    assert_eq!(drafted.body["version"], 1);
    assert_eq!(drafted.body["latest_version"], 2);
    assert_eq!(drafted.body["has_draft"], true);
    assert_eq!(drafted.body["description"], "age only");

    let versions = app.get(&format!("/workflows/{id}/versions")).await;
    assert_eq!(versions.status, 200, "{}", versions.body);
    assert_eq!(versions.body["data"][0]["status"], "draft");
    assert_eq!(versions.body["data"][0]["graph"], graph());
    assert_eq!(versions.body["data"][1]["status"], "published");

    let published = app.post(&format!("/workflows/{id}/publish"), json!({})).await;
    assert_eq!(published.status, 200, "{}", published.body);
    assert_eq!(published.body["version"], 2);
    assert_eq!(published.body["format"], "graph");
    assert_eq!(published.body["steps"], Value::Null);
    assert_eq!(published.body["step_count"], 4);
    assert_eq!(assert_error(&app.post(&format!("/workflows/{id}/publish"), json!({})).await, 409), "conflict");
    assert_error(&app.post(&format!("/workflows/{id}/publish"), json!({"version": 9})).await, 404);

    let default = app.post(&format!("/workflows/{id}/set-default"), json!({})).await;
    assert_eq!(default.body["is_default"], true, "{}", default.body);
    // The default workflow cannot be deactivated: a state conflict.
    let refused = app.post(&format!("/workflows/{id}/deactivate"), json!({})).await;
    assert_eq!(assert_error(&refused, 409), "conflict");

    let other = app.post("/workflows", json!({"name": "Other", "graph": graph()})).await;
    let other_id = other.body["id"].as_str().unwrap().to_string();
    let off = app.post(&format!("/workflows/{other_id}/deactivate"), json!({})).await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(off.body["is_active"], false);

    let listed = app.get("/workflows?limit=2").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["pagination"]["limit"], 2);
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(2));
    let policies = app.get("/verification-policies").await;
    assert!(policies.body["data"].as_array().unwrap().contains(&json!({"name": "check_against_list"})));
}

#[actix_web::test]
async fn node_settings_are_kept_and_invalid_graphs_are_refused() {
    let app = spawn_app().await;
    let mut g = graph();
    g["nodes"]["age"]["threshold"] = json!(21);
    let created = app.post("/workflows", json!({"name": "settings", "graph": g})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["graph"]["nodes"]["age"]["threshold"], 21);

    let mut cyclic = graph();
    cyclic["nodes"]["age"]["on_pass"] = json!("start");
    let r = app.post("/workflows", json!({"name": "cycle", "graph": cyclic})).await;
    assert_eq!(assert_error(&r, 422), "validation_error");
    let r = app.post("/workflows", json!({"name": "both", "steps": ["face_match"], "graph": graph()})).await;
    assert_eq!(r.body["errors"][0]["field"], "graph", "{}", r.body);
    let r = app.post("/workflows", json!({"name": "none"})).await;
    assert_eq!(r.body["errors"][0]["field"], "steps", "{}", r.body);
}

/// The operation's schema with a `$ref` to a component resolved.
fn typed_schema<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

#[actix_web::test]
async fn workflow_operations_are_documented_with_typed_schemas() {
    let app = spawn_app().await;
    let doc = app.send("GET", "/api/v1/openapi.json", None, &[], None).await.body;
    let ops = [
        ("/api/v1/workflows", "get", "200", false),
        ("/api/v1/workflows", "post", "201", true),
        ("/api/v1/workflows/{workflow_id}", "get", "200", false),
        ("/api/v1/workflows/{workflow_id}", "patch", "200", true),
        ("/api/v1/workflows/{workflow_id}/versions", "get", "200", false),
        ("/api/v1/workflows/{workflow_id}/publish", "post", "200", true),
        ("/api/v1/workflows/{workflow_id}/set-default", "post", "200", false),
        ("/api/v1/workflows/{workflow_id}/deactivate", "post", "200", false),
        ("/api/v1/verification-policies", "get", "200", false),
    ];
    for (path, method, code, has_body) in ops {
        let op = &doc["paths"][path][method];
        assert_eq!(op["tags"], json!(["Workflows"]), "{method} {path}");
        let response = typed_schema(&doc, &op["responses"][code]["content"]["application/json"]["schema"]);
        assert!(response["properties"].as_object().is_some_and(|p| !p.is_empty()), "{method} {path}: {response}");
        if has_body {
            let body = typed_schema(&doc, &op["requestBody"]["content"]["application/json"]["schema"]);
            assert!(body["properties"].as_object().is_some_and(|p| !p.is_empty()), "{method} {path}: {body}");
        }
    }
    let deactivate = &doc["paths"]["/api/v1/workflows/{workflow_id}/deactivate"]["post"]["responses"];
    assert!(deactivate.get("409").is_some(), "{deactivate}");
    let publish = &doc["paths"]["/api/v1/workflows/{workflow_id}/publish"]["post"]["responses"];
    assert!(publish.get("409").is_some() && publish.get("404").is_some(), "{publish}");
    let view = &doc["components"]["schemas"]["WorkflowView"]["properties"];
    assert_eq!(view["graph"]["$ref"], "#/components/schemas/WorkflowGraph");
    assert_eq!(view["format"]["$ref"], "#/components/schemas/WorkflowFormat");
    let policies = &doc["components"]["schemas"]["Policy"]["enum"];
    assert!(policies.as_array().is_some_and(|p| p.contains(&json!("document_ocr"))), "{policies}");
    let outcomes = &doc["components"]["schemas"]["TerminalOutcome"]["enum"];
    assert_eq!(outcomes, &json!(["approved", "rejected", "needs_review"]));
}

#[actix_web::test]
async fn values_refused_by_the_workflow_types_name_the_field() {
    let app = spawn_app().await;
    let mut bad_node = graph();
    bad_node["nodes"]["ok"]["outcome"] = json!("maybe");
    for (body, field) in [
        (json!({"name": "W", "steps": ["teleport"]}), "steps[0]"),
        (json!({"name": "W", "steps": ["face_match"], "colour": "red"}), "colour"),
        (json!({"name": "x".repeat(201), "steps": ["face_match"]}), "name"),
        (json!({"steps": ["face_match"]}), "name"),
        (json!({"name": "W", "graph": bad_node}), "graph.nodes.ok.outcome"),
    ] {
        let r = app.post("/workflows", body.clone()).await;
        assert_eq!(assert_error(&r, 422), "validation_error", "{body}");
        assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
    }
    let id = app.post("/workflows", json!({"name": "W", "steps": ["face_match"]})).await.body["id"].clone();
    let id = id.as_str().unwrap();
    let r = app.post(&format!("/workflows/{id}/publish"), json!({"version": "two"})).await;
    assert_eq!(r.body["errors"][0]["field"], "version", "{}", r.body);
    let r = app.patch(&format!("/workflows/{id}"), json!({"is_default": "yes"})).await;
    assert_eq!(r.body["errors"][0]["field"], "is_default", "{}", r.body);
    // A whole float is an integer; a malformed id in a path names nothing that exists.
    assert_error(&app.post(&format!("/workflows/{id}/publish"), json!({"version": 7.0})).await, 404);
    assert_error(&app.get("/workflows/not-a-workflow").await, 404);
}
