//! /mcp (spec §1.18): the JSON-RPC framing and its error codes, sessions, bearer authentication, the scope
//! cap's text, the destructive tools' reason and hourly cap, the audit row of every call, and the MCP
//! rate-limit bucket.

use crate::helpers::{spawn_app, spawn_app_with, Resp, TestApp};
use serde_json::{json, Value};

async fn post(app: &TestApp, query: &str, key: Option<&str>, session: Option<&str>, body: &str) -> Resp {
    let mut req = app
        .client
        .post(format!("{}/mcp{query}", app.base))
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("Accept", "application/json, text/event-stream"));
    if let Some(k) = key {
        req = req.insert_header(("Authorization", format!("Bearer {k}")));
    }
    if let Some(s) = session {
        req = req.insert_header(("Mcp-Session-Id", s));
    }
    let mut res = req.send_body(body.to_string()).await.expect("request sent");
    let raw = res.body().await.expect("body").to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Resp { status: res.status().as_u16(), headers: res.headers().clone(), body, raw }
}

async fn initialize(app: &TestApp, key: &str, version: &str) -> (String, Resp) {
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let r = post(app, "", Some(key), None, &body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    (r.header("mcp-session-id").expect("a session id"), r)
}

/// Initializes, then sends `method` with `params` in that session; answers the JSON-RPC body.
async fn rpc(app: &TestApp, query: &str, key: &str, session: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let r = post(app, query, Some(key), Some(session), &body.to_string()).await;
    assert_eq!(r.status, 200, "{method}: {}", r.body);
    r.body
}

async fn call(app: &TestApp, query: &str, key: &str, session: &str, tool: &str, args: Value) -> Value {
    let r = rpc(app, query, key, session, "tools/call", json!({"name": tool, "arguments": args})).await;
    r["result"].clone()
}

fn text(result: &Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

fn tool_names(list: &Value) -> Vec<String> {
    list["result"]["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

#[actix_web::test]
async fn the_json_rpc_framing_answers_with_the_standard_codes() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let (session, init) = initialize(&app, &key, "2025-06-18").await;
    assert_eq!(init.body["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init.body["result"]["capabilities"]["tools"]["listChanged"], false);
    assert_eq!(init.body["id"], 0);
    let (_, newest) = initialize(&app, &key, "1999-01-01").await;
    assert_eq!(newest.body["result"]["protocolVersion"], "2025-11-25");

    let code = |r: &Resp| r.body["error"]["code"].as_i64();
    let parse = post(&app, "", Some(&key), Some(&session), "{not json").await;
    assert_eq!((parse.status, code(&parse), parse.body["id"].clone()), (400, Some(-32700), Value::Null));
    let batch = post(&app, "", Some(&key), Some(&session), r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).await;
    assert_eq!((batch.status, code(&batch)), (400, Some(-32600)));
    let no_version = post(&app, "", Some(&key), Some(&session), r#"{"id":1,"method":"ping"}"#).await;
    assert_eq!(code(&no_version), Some(-32600));

    let ping = rpc(&app, "", &key, &session, "ping", json!({})).await;
    assert_eq!(ping, json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
    let unknown = rpc(&app, "", &key, &session, "resources/list", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32601);
    let no_name = rpc(&app, "", &key, &session, "tools/call", json!({})).await;
    assert_eq!(no_name["error"]["code"], -32602);
    let no_tool = rpc(&app, "", &key, &session, "tools/call", json!({"name": "drop_tables"})).await;
    assert_eq!(no_tool["error"]["code"], -32602);
    assert!(no_tool["error"]["message"].as_str().unwrap().contains("drop_tables"));
    let bad_args = rpc(&app, "", &key, &session, "tools/call", json!({"name": "whoami", "arguments": [1]})).await;
    assert_eq!(bad_args["error"]["code"], -32602);

    let note =
        post(&app, "", Some(&key), Some(&session), r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await;
    assert_eq!((note.status, note.raw.len()), (202, 0));

    // Sessions: required after initialize, unknown ones are 404, DELETE ends one.
    let ping = r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#;
    let missing = post(&app, "", Some(&key), None, ping).await;
    assert_eq!((missing.status, code(&missing)), (400, Some(-32600)));
    let unknown = post(&app, "", Some(&key), Some("mcps_nope"), ping).await;
    assert_eq!(unknown.status, 404);
    let other_key = app.key_with_scopes(&["sessions:read"]).await;
    assert_eq!(post(&app, "", Some(&other_key), Some(&session), ping).await.status, 404, "a session is its key's");
    let end = app
        .client
        .delete(format!("{}/mcp", app.base))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .insert_header(("Mcp-Session-Id", session.as_str()))
        .send()
        .await
        .unwrap();
    assert_eq!(end.status().as_u16(), 204);
    assert_eq!(post(&app, "", Some(&key), Some(&session), ping).await.status, 404);
    let get = app.client.get(format!("{}/mcp", app.base)).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 405);
    let bad_version = app
        .client
        .post(format!("{}/mcp", app.base))
        .insert_header(("Authorization", format!("Bearer {key}")))
        .insert_header(("Mcp-Session-Id", initialize(&app, &key, "2025-06-18").await.0))
        .insert_header(("MCP-Protocol-Version", "1999-01-01"))
        .send_body(ping)
        .await
        .unwrap();
    assert_eq!(bad_version.status().as_u16(), 400);
}

#[actix_web::test]
async fn only_secret_keys_sent_as_bearer_tokens_get_in() {
    let app = spawn_app().await;
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    let none = post(&app, "", None, None, init).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.body["error"], "unauthorized");
    assert_eq!(none.header("www-authenticate").as_deref(), Some("Bearer"));
    let wrong = post(&app, "", Some("vk_sandbox_notakey"), None, init).await;
    assert_eq!((wrong.status, wrong.body["status_code"].clone()), (401, json!(401)));
    let publishable =
        app.post("/api-keys", json!({"type": "publishable"})).await.body["secret"].as_str().unwrap().to_string();
    let refused = post(&app, "", Some(&publishable), None, init).await;
    assert_eq!((refused.status, refused.body["error"].as_str()), (403, Some("forbidden")));
    let vhq = post(&app, "", Some(&app.verifyhq_key.clone()), None, init).await;
    assert_eq!(vhq.status, 401);
    // A page of another site must not reach the server through a browser (DNS rebinding).
    let with_origin = |origin: &'static str| {
        app.client
            .post(format!("{}/mcp", app.base))
            .insert_header(("Authorization", format!("Bearer {}", app.sandbox_key)))
            .insert_header(("Origin", origin))
            .send_body(init)
    };
    assert_eq!(with_origin("https://evil.example").await.unwrap().status().as_u16(), 403);
    assert_eq!(with_origin("http://localhost:3000").await.unwrap().status().as_u16(), 200);
    let bad_toolset = post(&app, "?toolsets=everything", Some(&app.sandbox_key.clone()), None, init).await;
    assert_eq!((bad_toolset.status, bad_toolset.body["error"].as_str()), (400, Some("bad_request")));
}

#[actix_web::test]
async fn the_keys_scopes_cap_the_tools_whatever_the_toolsets() {
    let app = spawn_app().await;
    let narrow = app.key_with_scopes(&["sessions:read", "sessions:write"]).await;
    let (session, _) = initialize(&app, &narrow, "2025-06-18").await;
    let q = "?toolsets=sessions,cases,destructive";
    let listed = tool_names(&rpc(&app, q, &narrow, &session, "tools/list", json!({})).await);
    assert!(listed.contains(&"get_session".to_string()) && listed.contains(&"simulate_session".to_string()));
    assert!(listed.contains(&"create_session".to_string()), "sessions:write still covers session creation");
    assert!(!listed.iter().any(|n| n.ends_with("_case") || n == "list_cases"), "{listed:?}");
    assert!(!listed.contains(&"redact_session".to_string()), "destructive tools need redact:write: {listed:?}");

    let r =
        call(&app, q, &narrow, &session, "approve_case", json!({"case_id": "case_01J9ZQ4X8Y2K3M4N5P6Q7R8S9T"})).await;
    assert_eq!(r["isError"], true);
    assert_eq!(text(&r), "Tool 'approve_case' requires the 'cases:write' scope on the API key.");
    let r = call(&app, q, &narrow, &session, "redact_session", json!({"session_id": "ses_x", "reason": "gdpr"})).await;
    assert_eq!(text(&r), "Tool 'redact_session' requires the 'redact:write' scope on the API key.");

    // read_only hides and refuses writes even when the scopes allow them.
    let ro = tool_names(&rpc(&app, "?read_only=true", &narrow, &session, "tools/list", json!({})).await);
    assert!(ro.contains(&"get_session".to_string()) && !ro.contains(&"simulate_session".to_string()), "{ro:?}");
    let r = call(&app, "?read_only=true", &narrow, &session, "reprocess_session", json!({"session_id": "ses_x"})).await;
    assert_eq!(r["isError"], true);
    assert!(text(&r).contains("read_only"), "{r}");
}

#[actix_web::test]
async fn destructive_tools_need_a_reason_and_stop_after_five_an_hour() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let (session, _) = initialize(&app, &key, "2025-11-25").await;
    let default = tool_names(&rpc(&app, "", &key, &session, "tools/list", json!({})).await);
    assert!(!default.contains(&"redact_session".to_string()), "off by default");
    let q = "?toolsets=destructive";
    let listed = tool_names(&rpc(&app, q, &key, &session, "tools/list", json!({})).await);
    assert_eq!(
        listed,
        ["redact_session", "redact_identity", "bulk_redact_sessions", "delete_list_item", "revoke_session_link"]
    );

    let mut ids = Vec::new();
    for i in 0..6 {
        let r = app.post("/sessions", json!({"external_ref": format!("d{i}"), "first_name": "Ottoline"})).await;
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let no_reason = call(&app, q, &key, &session, "redact_session", json!({"session_id": ids[0]})).await;
    assert_eq!(no_reason["isError"], true);
    assert!(text(&no_reason).contains("reason"), "{no_reason}");
    let blank = call(&app, q, &key, &session, "redact_session", json!({"session_id": ids[0], "reason": "  "})).await;
    assert_eq!(blank["isError"], true);

    for id in &ids[..5] {
        let r =
            call(&app, q, &key, &session, "redact_session", json!({"session_id": id, "reason": "erasure request 42"}))
                .await;
        assert_eq!(r["isError"], false, "{r}");
        assert_eq!(r["structuredContent"]["session_id"], json!(id));
    }
    let sixth =
        call(&app, q, &key, &session, "redact_session", json!({"session_id": ids[5], "reason": "erasure request 42"}))
            .await;
    assert_eq!(sixth["isError"], true);
    assert!(text(&sixth).contains("capped at 5 calls per hour per API key"), "{sixth}");
    assert_ne!(app.get(&format!("/sessions/{}", ids[5])).await.body["retention_status"], "redacted", "not run");
    let redacted = app.get(&format!("/sessions/{}", ids[0])).await;
    assert_ne!(redacted.body["retention_status"], "active", "{}", redacted.body);
    // Another key has its own five.
    let other = app.key_with_scopes(&["redact:write", "sessions:write"]).await;
    let (s2, _) = initialize(&app, &other, "2025-06-18").await;
    let r = call(&app, q, &other, &s2, "redact_session", json!({"session_id": ids[5], "reason": "erasure request 43"}))
        .await;
    assert_eq!(r["isError"], false, "{r}");
}

#[actix_web::test]
async fn every_call_is_an_audit_row_of_the_key_through_mcp() {
    let app = spawn_app().await;
    let key = app.sandbox_key.clone();
    let prefix = app.get("/api-keys").await.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| key.starts_with(k["key_prefix"].as_str().unwrap()))
        .map(|k| k["key_prefix"].as_str().unwrap().to_string())
        .unwrap();
    let id =
        app.create_identity(json!({"first_name": "Ottoline", "last_name": "Brackenbury", "external_ref": "a1"})).await;
    let (session, _) = initialize(&app, &key, "2025-06-18").await;
    let got = call(&app, "", &key, &session, "get_identity", json!({"identity_id": id})).await;
    assert_eq!(got["isError"], false);
    assert!(!got.to_string().contains("Brackenbury"), "{got}");
    let tagged = call(&app, "", &key, &session, "tag_identity", json!({"identity_id": id, "tag": "vip"})).await;
    assert_eq!(tagged["isError"], false, "{tagged}");
    call(&app, "?toolsets=destructive", &key, &session, "redact_identity", json!({"identity_id": id})).await;

    let events = app.get("/events?action=mcp.tool_called").await;
    assert_eq!(events.status, 200);
    let rows = events.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{}", events.body);
    for row in rows {
        assert_eq!(row["actor"], json!(format!("mcp:{prefix}")));
        assert_eq!(row["resource_type"], "mcp");
        assert_eq!(row["metadata"]["agent"], true);
        assert_eq!(row["request_path"], "/mcp");
        assert_eq!(row["request_method"], "POST");
    }
    let by_tool = |name: &str| rows.iter().find(|r| r["metadata"]["tool"] == name).unwrap().clone();
    assert_eq!(by_tool("get_identity")["metadata"]["outcome"], "ok");
    assert_eq!(by_tool("get_identity")["metadata"]["targets"], json!([id]));
    assert_eq!(by_tool("tag_identity")["metadata"]["kind"], "write");
    assert_eq!(by_tool("redact_identity")["metadata"]["outcome"], "refused");
    // The write itself is the REST operation's own event, made by the key through /mcp.
    let tag_rows = app.get(&format!("/events?resource_id={id}&action=identity.tags_changed")).await;
    let tag_event = &tag_rows.body["data"][0];
    assert_eq!(tag_event["request_path"], "/mcp", "{}", tag_rows.body);
    // Searchable by actor.
    let by_actor = app.get("/events?q=mcp:").await;
    assert_eq!(by_actor.body["pagination"]["total"], 3);
    // The audit rows are views of the log like any other: a rebuild gives the same, and the chain holds.
    let (master, _) = idv::crypto::MasterKey::load_or_create(&app.data_dir.path().join("master.key")).unwrap();
    let ring = idv::crypto::Keyring::new(&master);
    let scratch = app.data_dir.path().join("scratch.db");
    let replayed = idv::store::replay::check(&app.db_path(), &scratch, &ring).expect("replay check passes");
    let conn =
        rusqlite::Connection::open_with_flags(app.db_path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    assert_eq!(idv::store::events::verify_chain(&conn, &ring).expect("chain verifies"), replayed);
}

#[actix_web::test]
async fn mcp_has_its_own_rate_limit_bucket() {
    let app = spawn_app_with(|c| c.rate_limit_rpm = 3).await;
    let key = app.sandbox_key.clone();
    for _ in 0..3 {
        assert_eq!(app.get("/sessions").await.status, 200);
    }
    assert_eq!(app.get("/sessions").await.status, 429, "the REST bucket is spent");
    let (session, init) = initialize(&app, &key, "2025-06-18").await;
    assert_eq!(init.header("x-ratelimit-remaining").as_deref(), Some("2"));
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    assert_eq!(post(&app, "", Some(&key), Some(&session), ping).await.status, 200);
    assert_eq!(post(&app, "", Some(&key), Some(&session), ping).await.status, 200);
    let limited = post(&app, "", Some(&key), Some(&session), ping).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["error"], "rate_limited");
    assert!(limited.header("retry-after").is_some());
}

#[actix_web::test]
async fn findings_and_the_workflow_trigger_are_tools_on_their_rest_endpoints() {
    use crate::findings::{import_ofac, live, LISTED, OFAC_SAMPLE};
    let app = spawn_app().await;
    import_ofac(&app, std::path::Path::new(OFAC_SAMPLE)).await;
    let body = json!({"check_type": "sanction", "external_ref": "m-1", "name_first": LISTED.0,
        "name_last": LISTED.1, "birthdate": LISTED.2});
    let check = live(&app, "POST", "/checks", Some(body)).await;
    assert_eq!(check.body["status"], "hit", "{}", check.body);
    let check_id = check.body["id"].as_str().unwrap().to_string();

    let key = app.live_key.clone();
    let (session, _) = initialize(&app, &key, "2025-06-18").await;
    let names = tool_names(&rpc(&app, "", &key, &session, "tools/list", json!({})).await);
    for tool in ["list_findings", "get_finding", "acknowledge_finding", "dismiss_finding", "trigger_workflow"] {
        assert!(names.iter().any(|n| n == tool), "{tool} missing from {names:?}");
    }
    let listed = call(&app, "", &key, &session, "list_findings", json!({"check_id": check_id})).await;
    assert_eq!(listed["isError"], false, "{listed}");
    let page: Value = serde_json::from_str(&text(&listed)).unwrap();
    let finding = page["data"][0]["id"].as_str().expect("a finding").to_string();
    assert!(!text(&listed).contains(LISTED.1), "no listed name in the result");

    let refused = call(&app, "", &key, &session, "dismiss_finding", json!({"finding_id": finding})).await;
    assert_eq!(refused["isError"], true, "a dismissal needs its reason: {refused}");
    let dismissed = call(
        &app,
        "",
        &key,
        &session,
        "dismiss_finding",
        json!({"finding_id": finding, "reason": "Born in another year"}),
    )
    .await;
    assert_eq!(dismissed["isError"], false, "{dismissed}");
    // The dismissal is the check's own, made through the same command.
    let hits = live(&app, "GET", &format!("/checks/{check_id}/hits"), None).await;
    assert!(hits.body["data"].as_array().unwrap().iter().any(|h| h["is_dismissed"] == true), "{}", hits.body);
}
