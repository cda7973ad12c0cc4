//! /sessions (API key side), /results and /identities/{id}/sessions.

use super::body::{ApiBody, QueryMap, Upload};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::sessions::{self as cmd, CreateSession, SessionRef, TagChange};
use crate::domain::values;
use crate::error::{AppError, FieldError};
use crate::queries::sessions::{self as q, SessionFilter};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/sessions", "List sessions", web::get().to(list));
    t.add("POST", "/sessions", "Create a verification session", web::post().to(create));
    t.add("POST", "/sessions/bulk-redact", "Bulk redact sessions", web::post().to(bulk_redact));
    t.add("GET", "/sessions/{session_id}", "Get a session", web::get().to(get));
    t.add("PATCH", "/sessions/{session_id}", "Update a session", web::patch().to(update));
    t.add("POST", "/sessions/{session_id}/resume", "Resume a session", web::post().to(resume));
    t.add("POST", "/sessions/{session_id}/expire", "Expire a session", web::post().to(expire));
    t.add("POST", "/sessions/{session_id}/simulate", "Simulate a session action (sandbox)", web::post().to(simulate));
    t.add("POST", "/sessions/{session_id}/submit", "Submit a session for verification", web::post().to(submit));
    t.add("POST", "/sessions/{session_id}/reprocess", "Reprocess a session", web::post().to(reprocess));
    t.add(
        "POST",
        "/sessions/{session_id}/generate-one-time-link",
        "Generate a one-time link",
        web::post().to(one_time_link),
    );
    t.add("POST", "/sessions/{session_id}/resend-invite", "Resend the invitation", web::post().to(resend_invite));
    t.add("POST", "/sessions/{session_id}/tags/add", "Add a session tag", web::post().to(add_tag));
    t.add("POST", "/sessions/{session_id}/tags/remove", "Remove a session tag", web::post().to(remove_tag));
    t.add("POST", "/sessions/{session_id}/tags", "Set session tags", web::post().to(set_tags));
    t.add("PUT", "/sessions/{session_id}/tags", "Set session tags", web::put().to(set_tags));
    t.add("GET", "/sessions/{session_id}/events", "List session events", web::get().to(session_events));
    t.add("GET", "/sessions/{session_id}/workflow-run", "Get session workflow run", web::get().to(workflow_run));
    t.add("GET", "/sessions/{session_id}/result", "Get session result", web::get().to(result));
    t.add("GET", "/sessions/{session_id}/documents", "List session documents", web::get().to(documents));
    t.add("POST", "/sessions/{session_id}/documents", "Upload a document to a session", web::post().to(upload));
    t.add("GET", "/sessions/{session_id}/risk", "View risk assessment", web::get().to(risk));
    t.add(
        "POST",
        "/sessions/{session_id}/external-decision",
        "Submit external gate decision",
        web::post().to(external_decision),
    );
    t.add("DELETE", "/sessions/{session_id}/data", "Redact session data", web::delete().to(redact));
    t.add("GET", "/sessions/{session_id}/export", "Export session data (DSAR)", web::get().to(export));
    t.add("GET", "/results", "List results", web::get().to(results));
    t.add("GET", "/results/{session_id}", "Get a result", web::get().to(result_nested));
    t.add("GET", "/identities/{identity_id}/sessions", "List identity sessions", web::get().to(identity_sessions));
}

fn base_url(state: &AppState) -> String {
    state.config.public_url.clone().unwrap_or_default()
}

/// Spawns the offline pipeline for a session that has just entered `processing`.
pub(crate) fn spawn_processing(state: web::Data<AppState>, meta: crate::commands::CommandMeta, id: String) {
    actix_web::rt::spawn(async move {
        let sandbox = meta.environment == "sandbox";
        let face = match crate::face::evaluate(&state, &id, sandbox).await {
            Ok(f) => f,
            Err(e) => Some(crate::checks::engine::FaceMatch::Unavailable(format!("images unreadable: {e}"))),
        };
        let watchlists = Some(state.screening.current());
        if let Err(e) = cmd::process(&state.writer, meta, id, face, watchlists).await {
            tracing::error!(error = %e, "session processing failed");
        }
    });
}

async fn list(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require("sessions:read", &[])?;
    let f = SessionFilter {
        status: one_of(&query, "status", crate::domain::session::STATUSES)?,
        q: query.get("q").map(str::to_string),
        external_ref: query.get("external_ref").map(str::to_string),
        identity_id: None,
    };
    Ok(Reply::ok(q::list(&state.read.get()?, &state.keyring, p.environment(), &f, query.page(50)?, &base_url(&state))?))
}

pub(crate) const PREFILL: &[&str] = &[
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "zip_code",
    "document_number",
    "ssn",
    "nationality",
    "gender",
];

/// Parses a create body: known fields, prefill PII, every error at once.
fn parse_create(body: Map<String, Value>, today: &str) -> Result<CreateSession, AppError> {
    let mut input = CreateSession::default();
    let mut errors = Vec::new();
    for (k, v) in body {
        let text = v.as_str().map(str::to_string);
        match k.as_str() {
            "external_ref" => match text.as_deref().map(|t| values::parse_external_ref(&k, t)) {
                Some(Ok(r)) => input.external_ref = Some(r),
                Some(Err(e)) => errors.push(e),
                None if v.is_null() => {}
                None => errors.push(FieldError::new(&k, "must be a string")),
            },
            "metadata" => match v {
                Value::Object(m) => input.metadata = m,
                Value::Null => {}
                _ => errors.push(FieldError::new(&k, "must be an object")),
            },
            "country" => match text.as_deref().map(|t| values::parse_country(&k, t)) {
                Some(Ok(c)) => input.country = Some(c),
                Some(Err(e)) => errors.push(e),
                None if v.is_null() => {}
                None => errors.push(FieldError::new(&k, "must be a string")),
            },
            "checks" => match serde_json::from_value::<Vec<String>>(v) {
                Ok(c) => match c.iter().find(|x| !is_session_check(x)) {
                    Some(bad) => errors.push(FieldError::new(&k, format!("unknown check '{bad}'"))),
                    None => input.checks = Some(c),
                },
                Err(_) => errors.push(FieldError::new(&k, "must be an array of check names")),
            },
            "workflow_id" => match text {
                Some(t) => input.workflow_id = Some(t),
                None if v.is_null() => {}
                None => errors.push(FieldError::new(&k, "must be a string")),
            },
            "redirect_url" => match text {
                Some(u) if u.starts_with("https://") || u.starts_with("http://") => input.redirect_url = Some(u),
                None if v.is_null() => {}
                _ => errors.push(FieldError::new(&k, "must be an http(s) URL")),
            },
            "send_email" => match v {
                Value::Bool(b) => input.send_email = b,
                Value::Null => {}
                _ => errors.push(FieldError::new(&k, "must be true or false")),
            },
            f if PREFILL.contains(&f) => match text {
                Some(t) => {
                    let parsed = match f {
                        "date_of_birth" => values::parse_date_of_birth(f, &t, today),
                        "email" => values::parse_email(f, &t),
                        "phone" => values::parse_phone(f, &t),
                        "nationality" => values::parse_country(f, &t),
                        _ => values::parse_text(f, &t, 200),
                    };
                    match parsed {
                        Ok(val) => {
                            input.prefill.insert(f.to_string(), val);
                        }
                        Err(e) => errors.push(e),
                    }
                }
                None if v.is_null() => {}
                None => errors.push(FieldError::new(f, "must be a string")),
            },
            _ => errors.push(FieldError::new(&k, "is not a field of a session")),
        }
    }
    if !errors.is_empty() {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        return Err(AppError::Validation { detail, errors });
    }
    Ok(input)
}

async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<Map<String, Value>>) -> ApiResult {
    p.require("sessions:create", &["sessions:write"])?;
    let now = state.now();
    let input = parse_create(body.0, &now)?;
    let new = cmd::create(&state.writer, state.keyring.clone(), p.meta(now), input).await?;
    let session = q::get(&state.read.get()?, &state.keyring, p.environment(), &new.id, &base_url(&state))?;
    let capture_url = format!("{}/verify/{}", base_url(&state), new.token);
    Ok(Reply::created(json!({
        "id": session["id"],
        "status": session["status"],
        "capture_url": capture_url,
        "qr_code_data_url": crate::qr::png_data_url(&capture_url),
        "is_sandbox": session["is_sandbox"],
        "created_at": session["created_at"],
        "expires_at": session["token_expires_at"],
        "external_ref": session["external_ref"],
        "metadata": session["metadata"],
        "country": session["country"],
        "checks": session["checks"],
        "tags": session["tags"],
    })))
}

async fn get(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("sessions:read", &[])?;
    Ok(Reply::ok(q::get(&state.read.get()?, &state.keyring, p.environment(), &path, &base_url(&state))?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default, with = "crate::domain::double_option")]
    external_ref: Option<Option<String>>,
    metadata: Option<Map<String, Value>>,
}

async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<UpdateBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let b = body.0;
    if let Some(Some(r)) = &b.external_ref {
        values::parse_external_ref("external_ref", r).map_err(|e| AppError::validation(&e.field, e.message))?;
    }
    let id = cmd::update(&state.writer, p.meta(state.now()), path.into_inner(), b.external_ref, b.metadata).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, &state.keyring, p.environment(), &id, &base_url(&state))?))
}

async fn token_reply(state: &AppState, p: &Principal, id: &str, token: &str, link_id: Option<String>) -> ApiResult {
    let session = q::get(&state.read.get()?, &state.keyring, p.environment(), id, &base_url(state))?;
    let capture_url = format!("{}/verify/{token}", base_url(state));
    let mut body = json!({
        "id": session["id"],
        "status": session["status"],
        "capture_url": capture_url,
        "expires_at": session["token_expires_at"],
        "qr_code_data_url": crate::qr::png_data_url(&capture_url),
    });
    if let Some(link) = link_id {
        body["id"] = json!(link);
        body["session_id"] = json!(id);
        body["status"] = json!("active");
        body["created_at"] = session["updated_at"].clone();
    }
    Ok(Reply::ok(body))
}

async fn resume(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let id = path.into_inner();
    let (token, _) =
        cmd::issue_token(&state.writer, state.keyring.clone(), p.meta(state.now()), id.clone(), None).await?;
    token_reply(&state, &p, &id, &token, None).await
}

#[derive(Deserialize, Default)]
struct LinkBody {
    expires_in_minutes: Option<i64>,
}

async fn one_time_link(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<LinkBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let id = path.into_inner();
    let (token, link) = cmd::issue_token(
        &state.writer,
        state.keyring.clone(),
        p.meta(state.now()),
        id.clone(),
        Some(body.0.expires_in_minutes),
    )
    .await?;
    token_reply(&state, &p, &id, &token, link).await
}

async fn expire(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let id = cmd::expire(&state.writer, p.meta(state.now()), path.into_inner(), "manual").await?;
    Ok(Reply::ok(json!({ "id": id, "status": "expired", "expired_at": state.now() })))
}

#[derive(Deserialize)]
struct SimulateBody {
    action: String,
}

async fn simulate(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<SimulateBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    if p.environment() != "sandbox" {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: "Simulation is available with sandbox keys only.".into(),
        });
    }
    let action = body.0.action;
    let at = SessionRef::Id { environment: p.environment().to_string(), id: path.into_inner() };
    let (id, status, _) = cmd::simulate(&state.writer, p.meta(state.now()), at, action.clone()).await?;
    Ok(Reply::ok(json!({ "id": id, "action": action, "status": status, "simulated": true })))
}

async fn submit(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let meta = p.meta(state.now());
    let at = SessionRef::Id { environment: p.environment().to_string(), id: path.into_inner() };
    let (id, status) = cmd::submit(&state.writer, meta.clone(), at).await?;
    if status == "processing" {
        spawn_processing(state.clone(), meta, id.clone());
    }
    Ok(Reply::with_status(StatusCode::ACCEPTED, json!({ "id": id, "session_id": id, "status": status })))
}

async fn reprocess(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let meta = p.meta(state.now());
    let id = cmd::reprocess(&state.writer, meta.clone(), path.into_inner()).await?;
    spawn_processing(state.clone(), meta, id.clone());
    Ok(Reply::with_status(StatusCode::ACCEPTED, json!({ "session_id": id, "status": "processing" })))
}

async fn resend_invite(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let id = path.into_inner();
    let sent = cmd::resend_invite(&state.writer, p.meta(state.now()), id.clone()).await?;
    Ok(Reply::ok(json!({
        "id": id,
        "invites_sent": sent,
        "remaining": (cmd::MAX_INVITES + 1 - sent).max(0),
        "delivery": "recorded",
        "message": "The invitation was recorded; idv sends no email itself, deliver it through the session.invite webhook or your mailer.",
    })))
}

#[derive(Deserialize)]
struct TagBody {
    tag: String,
}

#[derive(Deserialize)]
struct TagsBody {
    tags: Vec<String>,
}

async fn tags_reply(state: &AppState, p: &Principal, id: &str) -> ApiResult {
    let s = q::get(&state.read.get()?, &state.keyring, p.environment(), id, "")?;
    Ok(Reply::ok(json!({ "id": id, "tags": s["tags"] })))
}

async fn add_tag(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<TagBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let tag = values::parse_tag("tag", &body.0.tag).map_err(|e| AppError::validation(&e.field, e.message))?;
    let id = cmd::set_tags(&state.writer, p.meta(state.now()), path.into_inner(), TagChange::Add(tag)).await?;
    tags_reply(&state, &p, &id).await
}

async fn remove_tag(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<TagBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let change = TagChange::Remove(body.0.tag.trim().to_string());
    let id = cmd::set_tags(&state.writer, p.meta(state.now()), path.into_inner(), change).await?;
    tags_reply(&state, &p, &id).await
}

async fn set_tags(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<TagsBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let tags = values::parse_tags("tags", &body.0.tags).map_err(|e| AppError::validation(&e.field, e.message))?;
    let id = cmd::set_tags(&state.writer, p.meta(state.now()), path.into_inner(), TagChange::Set(tags)).await?;
    tags_reply(&state, &p, &id).await
}

async fn result(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("verifications:read", &["sessions:read"])?;
    Ok(Reply::ok(q::result(&state.read.get()?, &state.keyring, p.environment(), &path)?))
}

async fn result_nested(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("verifications:read", &[])?;
    Ok(Reply::ok(q::result_nested(&state.read.get()?, &state.keyring, p.environment(), &path)?))
}

async fn results(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require("verifications:read", &[])?;
    let ts = |k: &str| -> Result<Option<String>, AppError> {
        query
            .get(k)
            .map(|v| {
                crate::clock::parse(v)
                    .map(crate::clock::format)
                    .ok_or_else(|| AppError::validation(k, "must be an ISO 8601 timestamp"))
            })
            .transpose()
    };
    let status = one_of(&query, "status", crate::domain::session::RESULT_STATUSES)?;
    let conn = state.read.get()?;
    Ok(Reply::ok(q::results(
        &conn,
        p.environment(),
        status.as_deref(),
        ts("created_after")?.as_deref(),
        ts("created_before")?.as_deref(),
        query.page(50)?,
    )?))
}

async fn documents(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("verifications:read", &["sessions:read"])?;
    let now = state.clock.now().unix_timestamp();
    Ok(Reply::ok(q::documents(&state.read.get()?, &state.keyring, p.environment(), &path, &base_url(&state), now)?))
}

async fn upload(state: web::Data<AppState>, p: Principal, path: web::Path<String>, upload: Upload) -> ApiResult {
    p.require("documents:write", &["sessions:write"])?;
    let doc_type = upload
        .fields
        .get("document_type")
        .cloned()
        .ok_or_else(|| AppError::validation("document_type", "is required"))?;
    let bytes = upload.file.ok_or_else(|| AppError::validation("file", "is required"))?;
    let step = super::capture::prepare(&doc_type, bytes).await?;
    let (mime, size) = match &step {
        cmd::CaptureStep::Upload { mime_type, bytes, .. } => (mime_type.clone(), bytes.len()),
        _ => (String::new(), 0),
    };
    let at = SessionRef::Id { environment: p.environment().to_string(), id: path.into_inner() };
    let id = cmd::capture(&state.writer, p.meta(state.now()), at, step).await?;
    Ok(Reply::created(json!({
        "session_id": id,
        "document_type": doc_type,
        "mime_type": mime,
        "file_size_bytes": size,
        "created_at": state.now(),
    })))
}

async fn risk(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("verifications:read", &["sessions:read"])?;
    Ok(Reply::ok(q::risk(&state.read.get()?, p.environment(), &path)?))
}

#[derive(Deserialize)]
struct DecisionBody {
    decision: String,
}

async fn external_decision(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<DecisionBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    if !["continue", "fail", "reject"].contains(&body.0.decision.as_str()) {
        return Err(AppError::validation("decision", "must be continue, fail or reject"));
    }
    let decision = body.0.decision;
    let id = path.into_inner();
    let watchlists = Some(state.screening.current());
    let status =
        cmd::external_decision(&state.writer, p.meta(state.now()), id.clone(), decision.clone(), watchlists).await?;
    Ok(Reply::with_status(
        StatusCode::ACCEPTED,
        json!({ "session_id": id, "decision": decision, "status": status, "message": "The decision was applied." }),
    ))
}

async fn redact(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("redact:write", &["sessions:write"])?;
    let out = cmd::redact(&state.writer, p.meta(state.now()), vec![path.into_inner()]).await?;
    let (id, removed) = out.into_iter().next().ok_or_else(|| AppError::not_found("Session"))?;
    Ok(Reply::ok(json!({
        "status": if removed.is_some() { "deleted" } else { "already_redacted" },
        "session_id": id,
        "documents_removed": removed.unwrap_or(0),
        "message": "Session data permanently redacted.",
    })))
}

#[derive(Deserialize)]
struct BulkBody {
    session_ids: Vec<String>,
}

async fn bulk_redact(state: web::Data<AppState>, p: Principal, body: ApiBody<BulkBody>) -> ApiResult {
    p.require("redact:write", &["sessions:write"])?;
    let ids = body.0.session_ids;
    if ids.is_empty() || ids.len() > 100 {
        return Err(AppError::validation("session_ids", "must list 1 to 100 sessions"));
    }
    let out = cmd::redact(&state.writer, p.meta(state.now()), ids).await?;
    let results: Vec<Value> = out
        .into_iter()
        .map(|(id, removed)| {
            json!({
                "session_id": id,
                "status": if removed.is_some() { "deleted" } else { "already_redacted" },
                "documents_removed": removed.unwrap_or(0),
            })
        })
        .collect();
    Ok(Reply::ok(json!({ "total": results.len(), "results": results })))
}

async fn export(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("sessions:read", &[])?;
    let now = state.clock.now().unix_timestamp();
    Ok(Reply::ok(q::export(&state.read.get()?, &state.keyring, p.environment(), &path, &base_url(&state), now)?))
}

async fn identity_sessions(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    query: QueryMap,
) -> ApiResult {
    p.require("identities:read", &["sessions:read"])?;
    let conn = state.read.get()?;
    let id = crate::queries::identities::require(&conn, p.environment(), &path)?;
    let f = SessionFilter { status: None, q: None, external_ref: None, identity_id: Some(id) };
    Ok(Reply::ok(q::list(&conn, &state.keyring, p.environment(), &f, query.page(50)?, &base_url(&state))?))
}

/// `GET /api/v1/sessions/{id}/documents/{doc_type}?expires=&sig=`: the signature is the credential.
pub async fn download(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: QueryMap,
) -> Result<HttpResponse, AppError> {
    let (id, doc_type) = path.into_inner();
    let expires: i64 = query
        .get("expires")
        .and_then(|e| e.parse().ok())
        .ok_or_else(|| AppError::validation("expires", "is required"))?;
    let sig = query.get("sig").ok_or_else(|| AppError::validation("sig", "is required"))?;
    let now = state.clock.now().unix_timestamp();
    let (mime, bytes) = q::document_bytes(&state.read.get()?, &state.keyring, &id, &doc_type, expires, sig, now)?;
    Ok(HttpResponse::Ok().content_type(mime).insert_header(("Cache-Control", "no-store")).body(bytes))
}

/// A check a session's `checks` override may list: any workflow policy but the decision itself.
fn is_session_check(name: &str) -> bool {
    name != "auto_approve" && crate::domain::workflow::POLICIES.contains(&name)
}

async fn session_events(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    query: QueryMap,
) -> ApiResult {
    p.require("sessions:read", &[])?;
    Ok(Reply::ok(q::events(&state.read.get()?, p.environment(), &path, query.page(50)?)?))
}

async fn workflow_run(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("sessions:read", &["workflows:read"])?;
    Ok(Reply::ok(q::workflow_run(&state.read.get()?, p.environment(), &path)?))
}

/// A filter whose comma-separated values must all be known: a typo is a 422, not an empty page.
fn one_of(query: &QueryMap, key: &str, known: &[&str]) -> Result<Option<String>, AppError> {
    let Some(value) = query.get(key) else { return Ok(None) };
    if let Some(bad) = value.split(',').map(str::trim).find(|v| !known.contains(v)) {
        return Err(AppError::validation(key, format!("unknown value '{bad}'; expected one of {}", known.join(", "))));
    }
    Ok(Some(value.to_string()))
}
