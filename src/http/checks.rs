//! /checks: standalone checks (spec §1.4): list, create, create several (`/checks/full`), get, hits, dismiss,
//! re-run, redact, tags; and the checks of a session or an identity. Parses and validates at the boundary,
//! then makes one call.

use super::body::{ApiBody, QueryMap};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::checks::{self as cmd, CreateCheck};
use crate::domain::check::{self as dom, CheckCommand, SUBJECT_FIELDS};
use crate::domain::values;
use crate::error::{AppError, FieldError};
use crate::queries::checks::{self as q, ListFilter};
use crate::screening::DEFAULT_THRESHOLD;
use actix_web::web;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/checks", "List checks", web::get().to(list));
    t.add("POST", "/checks", "Create a check", web::post().to(create));
    // Static paths before `/checks/{check_id}`.
    t.add("POST", "/checks/full", "Create multiple checks at once", web::post().to(create_full));
    t.add("GET", "/checks/{check_id}", "Get check detail with hits", web::get().to(get));
    t.add("GET", "/checks/{check_id}/hits", "List check hits", web::get().to(hits));
    t.add("POST", "/checks/{check_id}/dismiss", "Dismiss AML hits", web::post().to(dismiss));
    t.add("POST", "/checks/{check_id}/rerun", "Re-run check", web::post().to(rerun));
    t.add("POST", "/checks/{check_id}/redact", "GDPR redact check PII", web::post().to(redact));
    t.add("POST", "/checks/{check_id}/tags", "Add tags", web::post().to(add_tags));
    t.add("PUT", "/checks/{check_id}/tags", "Set tags (replace all)", web::put().to(set_tags));
    t.add("DELETE", "/checks/{check_id}/tags/{tag}", "Remove a tag", web::delete().to(remove_tag));
    t.add("GET", "/sessions/{session_id}/checks", "List checks for session", web::get().to(session_checks));
    t.add("GET", "/identities/{identity_id}/checks", "List checks for identity", web::get().to(identity_checks));
}

const READ: &str = "checks:read";
const WRITE: &str = "checks:write";

fn invalid(errors: Vec<FieldError>) -> AppError {
    let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
    AppError::Validation { detail, errors }
}

/// The fields of a create body other than the check type(s), validated; every error at once.
fn parse_create(
    body: &Map<String, Value>,
    check_types: &[String],
    today: &str,
    skip: &str,
) -> Result<CreateCheck, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = CreateCheck {
        check_type: String::new(),
        external_ref: None,
        identity_id: None,
        session_id: None,
        subject: BTreeMap::new(),
        threshold: DEFAULT_THRESHOLD,
        tags: Vec::new(),
    };
    for (field, value) in body {
        let f = field.as_str();
        if f == skip {
            continue;
        }
        let text = match value {
            Value::String(s) => Some(s.as_str()),
            Value::Null => None,
            _ if matches!(f, "threshold" | "tags" | "monitoring_enabled") => None,
            _ => {
                errors.push(FieldError::new(f, "must be a string"));
                continue;
            }
        };
        let checked: Result<(), FieldError> = match f {
            "external_ref" => {
                text.map_or(Ok(()), |t| values::parse_external_ref(f, t).map(|v| out.external_ref = Some(v)))
            }
            "identity_id" => {
                out.identity_id = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
                Ok(())
            }
            "session_id" => {
                out.session_id = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
                Ok(())
            }
            "threshold" => match value {
                Value::Null => Ok(()),
                Value::Number(n) => match n.as_f64() {
                    Some(x) if (0.0..=1.0).contains(&x) => {
                        out.threshold = x;
                        Ok(())
                    }
                    _ => Err(FieldError::new(f, "must be a number from 0 to 1")),
                },
                _ => Err(FieldError::new(f, "must be a number from 0 to 1")),
            },
            "tags" => match serde_json::from_value::<Vec<String>>(value.clone()) {
                Ok(tags) => values::parse_tags(f, &tags).map(|t| out.tags = t),
                Err(_) => Err(FieldError::new(f, "must be an array of strings")),
            },
            // Monitoring is per identity (spec §1.9); accepted for compatibility, see `monitoring_enabled` on
            // the check (it shows the linked identity's monitoring).
            "monitoring_enabled" => match value {
                Value::Bool(_) | Value::Null => Ok(()),
                _ => Err(FieldError::new(f, "must be true or false")),
            },
            _ if SUBJECT_FIELDS.contains(&f) => match text {
                None => Ok(()),
                Some(t) => parse_subject_value(f, t, today).map(|v| {
                    out.subject.insert(f.to_string(), v);
                }),
            },
            _ => Err(FieldError::new(f, "is not a field of a check")),
        };
        if let Err(e) = checked {
            errors.push(e);
        }
    }
    if out.external_ref.is_none() && out.identity_id.is_none() && !errors.iter().any(|e| e.field == "external_ref") {
        errors.push(FieldError::new("external_ref", "is required (or give identity_id)"));
    }
    for t in check_types {
        for required in dom::required_fields(t) {
            if !out.subject.contains_key(*required) && !errors.iter().any(|e| e.field == *required) {
                errors.push(FieldError::new(*required, format!("is required for {t} checks")));
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn parse_subject_value(field: &str, value: &str, today: &str) -> Result<String, FieldError> {
    match field {
        "birthdate" => values::parse_date_of_birth(field, value, today),
        "country_code" => values::parse_country(field, value),
        "email" => values::parse_email(field, value),
        "phone" => values::parse_phone(field, value),
        "ip_address" => value
            .trim()
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.to_string())
            .map_err(|_| FieldError::new(field, "must be an IPv4 or IPv6 address")),
        "address_line1" | "address_line2" => values::parse_text(field, value, 200),
        _ => values::parse_text(field, value, 100),
    }
}

fn parse_check_type(field: &str, value: Option<&Value>) -> Result<String, FieldError> {
    match value.and_then(Value::as_str).map(str::trim) {
        Some(t) if dom::is_check_type(t) => Ok(t.to_string()),
        Some(_) => Err(FieldError::new(
            field,
            "must be one of sanction, pep, adverse_media, warning, email_risk, phone_risk, ip_risk, \
             email_risk_enhanced, phone_risk_enhanced, address_validation",
        )),
        None => Err(FieldError::new(field, "is required")),
    }
}

async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<Map<String, Value>>) -> ApiResult {
    p.require(WRITE, &[])?;
    let now = state.now();
    let check_type = parse_check_type("check_type", body.0.get("check_type")).map_err(|e| invalid(vec![e]));
    let types: Vec<String> = check_type.as_ref().map(|t| vec![t.clone()]).unwrap_or_default();
    let parsed = parse_create(&body.0, &types, &now, "check_type");
    let mut input = match (check_type, parsed) {
        (Ok(_), Ok(input)) => input,
        (Err(AppError::Validation { errors: mut first, .. }), Err(rest)) => {
            first.extend(rest);
            return Err(invalid(first));
        }
        (Err(e), _) => return Err(e),
        (_, Err(errors)) => return Err(invalid(errors)),
    };
    input.check_type = types[0].clone();
    let ids = cmd::create(&state.writer, state.screening.current(), p.meta(now), vec![input], false).await?;
    Ok(Reply::created(q::get(&state.read.get()?, &state.keyring, p.environment(), &ids[0])?))
}

async fn create_full(state: web::Data<AppState>, p: Principal, body: ApiBody<Map<String, Value>>) -> ApiResult {
    p.require(WRITE, &[])?;
    let now = state.now();
    let mut errors = Vec::new();
    let mut types: Vec<String> = Vec::new();
    match body.0.get("check_types").and_then(Value::as_array) {
        Some(list) if !list.is_empty() && list.len() <= 10 => {
            for (i, v) in list.iter().enumerate() {
                match parse_check_type(&format!("check_types[{i}]"), Some(v)) {
                    Ok(t) if !types.contains(&t) => types.push(t),
                    Ok(_) => {}
                    Err(e) => errors.push(e),
                }
            }
        }
        _ => errors.push(FieldError::new("check_types", "must be an array of 1 to 10 check types")),
    }
    let input = match parse_create(&body.0, &types, &now, "check_types") {
        Ok(input) if errors.is_empty() => input,
        Ok(_) => return Err(invalid(errors)),
        Err(rest) => {
            errors.extend(rest);
            return Err(invalid(errors));
        }
    };
    let inputs = types.iter().map(|t| CreateCheck { check_type: t.clone(), ..input.clone() }).collect();
    let ids = cmd::create(&state.writer, state.screening.current(), p.meta(now), inputs, true).await?;
    let conn = state.read.get()?;
    let data =
        ids.iter().map(|id| q::get(&conn, &state.keyring, p.environment(), id)).collect::<Result<Vec<_>, _>>()?;
    let batch_id = data.first().map(|c| c["batch_id"].clone()).unwrap_or(Value::Null);
    Ok(Reply::created(json!({ "batch_id": batch_id, "data": data })))
}

fn filter(query: &QueryMap) -> ListFilter {
    let get = |k: &str| query.get(k).map(str::to_string);
    ListFilter {
        check_type: get("check_type"),
        status: get("status"),
        external_ref: get("external_ref"),
        identity_id: get("identity_id"),
        session_id: get("session_id"),
        batch_id: get("batch_id"),
        tag: get("tag"),
    }
}

async fn list(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let f = filter(&query);
    Ok(Reply::ok(q::list(&state.read.get()?, &state.keyring, p.environment(), &f, query.page(25)?)?))
}

async fn get(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::get(&state.read.get()?, &state.keyring, p.environment(), &path)?))
}

async fn hits(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let check = q::get(&state.read.get()?, &state.keyring, p.environment(), &path)?;
    let data = check["hits"].as_array().cloned().unwrap_or_default();
    let total = data.len();
    Ok(Reply::ok(json!({ "data": data, "pagination": { "total": total, "limit": total, "offset": 0 } })))
}

#[derive(Deserialize)]
struct DismissBody {
    hit_ids: Option<Vec<String>>,
    reason: Option<String>,
}

async fn dismiss(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<DismissBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let reason = b.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(AppError::validation("reason", "must be at most 1000 characters"));
    }
    if b.hit_ids.as_ref().is_some_and(|h| h.is_empty() || h.len() > 100) {
        return Err(AppError::validation("hit_ids", "must list 1 to 100 hit ids (omit it to dismiss every hit)"));
    }
    let (id, count) = cmd::dismiss(&state.writer, p.meta(state.now()), path.into_inner(), b.hit_ids, reason).await?;
    Ok(Reply::ok(json!({ "check_id": id, "dismissed_count": count })))
}

async fn rerun(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::rerun(&state.writer, state.screening.current(), p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, &state.keyring, p.environment(), &id)?))
}

async fn redact(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("redact:write", &[WRITE])?;
    let id = cmd::redact(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, &state.keyring, p.environment(), &id)?))
}

#[derive(Deserialize)]
struct TagsBody {
    tags: Option<Vec<String>>,
    tag: Option<String>,
}

fn parse_tags(b: TagsBody) -> Result<Vec<String>, AppError> {
    let mut tags = b.tags.unwrap_or_default();
    tags.extend(b.tag);
    values::parse_tags("tags", &tags).map_err(|e| AppError::validation(&e.field, e.message))
}

async fn tag_command(state: web::Data<AppState>, p: Principal, id: String, command: CheckCommand) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::tags(&state.writer, p.meta(state.now()), id, command).await?;
    let check = q::get(&state.read.get()?, &state.keyring, p.environment(), &id)?;
    Ok(Reply::ok(json!({ "id": id, "tags": check["tags"] })))
}

async fn add_tags(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<TagsBody>,
) -> ApiResult {
    let tags = parse_tags(body.0)?;
    if tags.is_empty() {
        return Err(AppError::validation("tags", "must list at least one tag"));
    }
    tag_command(state, p, path.into_inner(), CheckCommand::AddTags(tags)).await
}

async fn set_tags(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<TagsBody>,
) -> ApiResult {
    let tags = parse_tags(body.0)?;
    tag_command(state, p, path.into_inner(), CheckCommand::SetTags(tags)).await
}

async fn remove_tag(state: web::Data<AppState>, p: Principal, path: web::Path<(String, String)>) -> ApiResult {
    let (id, tag) = path.into_inner();
    tag_command(state, p, id, CheckCommand::RemoveTag(tag.trim().to_string())).await
}

async fn session_checks(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    query: QueryMap,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let conn = state.read.get()?;
    if !q::session_exists(&conn, p.environment(), &path)? {
        return Err(AppError::not_found("Session"));
    }
    let f = ListFilter { session_id: Some(path.into_inner()), ..filter(&query) };
    Ok(Reply::ok(q::list(&conn, &state.keyring, p.environment(), &f, query.page(25)?)?))
}

async fn identity_checks(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    query: QueryMap,
) -> ApiResult {
    p.require(READ, &[WRITE, "identities:read"])?;
    let conn = state.read.get()?;
    let id = crate::queries::identities::require(&conn, p.environment(), &path)?;
    let f = ListFilter { identity_id: Some(id), ..filter(&query) };
    Ok(Reply::ok(q::list(&conn, &state.keyring, p.environment(), &f, query.page(25)?)?))
}
