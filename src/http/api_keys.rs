//! /api-keys and /rate-limits.

use super::body::{ApiBody, QueryMap};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::api_keys::{self as cmd, CreateKey};
use crate::domain::api_key::{ApiKeyUpdated, CURRENT_API_VERSION, DEFAULT_SCOPES};
use crate::error::AppError;
use crate::queries::api_keys as q;
use actix_web::web;
use serde::Deserialize;
use serde_json::json;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/api-keys", "List API keys", web::get().to(list));
    t.add("POST", "/api-keys", "Create an API key", web::post().to(create));
    t.add("GET", "/api-keys/{api_key_id}", "Get an API key", web::get().to(get));
    t.add("PATCH", "/api-keys/{api_key_id}", "Update an API key", web::patch().to(update));
    t.add("POST", "/api-keys/{api_key_id}/expire", "Expire an API key", web::post().to(expire));
    t.add("POST", "/api-keys/{api_key_id}/clone", "Clone an API key", web::post().to(clone_key));
    t.add("GET", "/rate-limits", "Get rate-limit status", web::get().to(rate_limits));
}

const READ: &str = "api_keys:read";
const WRITE: &str = "api_keys:write";
const WARNING: &str = "Store this secret now; it will not be shown again.";

async fn list(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::list(&*state.read.get()?, Some(p.environment()), query.page(50)?)?))
}

#[derive(Deserialize)]
struct CreateBody {
    label: Option<String>,
    note: Option<String>,
    environment: Option<String>,
    #[serde(rename = "type")]
    key_type: Option<String>,
    scopes: Option<Vec<String>>,
    api_version: Option<String>,
    allowed_ips: Option<Vec<String>>,
    expires_at: Option<String>,
    default_key_inflection: Option<String>,
}

fn check_expiry(value: &Option<String>, now: time::OffsetDateTime) -> Result<Option<String>, AppError> {
    match value {
        None => Ok(None),
        Some(v) => {
            let t = crate::clock::parse(v)
                .ok_or_else(|| AppError::validation("expires_at", "must be an RFC 3339 timestamp"))?;
            if t <= now {
                return Err(AppError::validation("expires_at", "must be in the future"));
            }
            Ok(Some(crate::clock::format(t)))
        }
    }
}

async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let environment = b.environment.unwrap_or_else(|| p.environment().to_string());
    if environment != p.environment() {
        return Err(AppError::validation("environment", "a key can only create keys of its own environment"));
    }
    let key_type = b.key_type.unwrap_or_else(|| "secret".into());
    if key_type != "secret" && key_type != "publishable" {
        return Err(AppError::validation("type", "must be secret or publishable"));
    }
    let scopes = match (&key_type[..], b.scopes) {
        ("publishable", _) => vec!["sessions:create".to_string()],
        (_, Some(s)) => s,
        (_, None) => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
    };
    let input = CreateKey {
        key_type,
        environment,
        scopes,
        allowed_ips: b.allowed_ips,
        api_version: b.api_version.unwrap_or_else(|| CURRENT_API_VERSION.into()),
        default_key_inflection: b.default_key_inflection.unwrap_or_else(|| "snake".into()),
        label: b.label,
        note: b.note,
        expires_at: check_expiry(&b.expires_at, state.clock.now())?,
    };
    let secret = cmd::create(&state.writer, p.meta(state.now()), input).await?;
    let mut body = q::get(&state.read.get()?, p.environment(), &secret.id)?;
    body["secret"] = json!(secret.secret);
    body["warning"] = json!(WARNING);
    Ok(Reply::created(body))
}

async fn get(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::get(&state.read.get()?, p.environment(), &path)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default, with = "crate::domain::double_option")]
    label: Option<Option<String>>,
    #[serde(default, with = "crate::domain::double_option")]
    note: Option<Option<String>>,
    scopes: Option<Vec<String>>,
    #[serde(default, with = "crate::domain::double_option")]
    allowed_ips: Option<Option<Vec<String>>>,
    api_version: Option<String>,
    #[serde(default, with = "crate::domain::double_option")]
    expires_at: Option<Option<String>>,
    default_key_inflection: Option<String>,
}

async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<UpdateBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let expires_at = match b.expires_at {
        Some(v) => Some(check_expiry(&v, state.clock.now())?),
        None => None,
    };
    let update = ApiKeyUpdated {
        label: b.label,
        note: b.note,
        scopes: b.scopes,
        allowed_ips: b.allowed_ips,
        api_version: b.api_version,
        expires_at,
        default_key_inflection: b.default_key_inflection,
    };
    let id = cmd::update(&state.writer, p.meta(state.now()), path.into_inner(), update).await?;
    state.auth.invalidate();
    let mut body = q::get(&state.read.get()?, p.environment(), &id)?;
    body["object"] = json!("api-key");
    Ok(Reply::ok(body))
}

async fn expire(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::expire(&state.writer, p.meta(state.now()), path.into_inner(), Some(p.key.id.clone())).await?;
    state.auth.invalidate();
    Ok(Reply::ok(json!({ "id": id, "expired": true })))
}

#[derive(Deserialize)]
struct CloneBody {
    label: Option<String>,
}

async fn clone_key(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<CloneBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let source = path.into_inner();
    let secret = cmd::clone_key(&state.writer, p.meta(state.now()), source.clone(), body.0.label).await?;
    let key = q::get(&state.read.get()?, p.environment(), &secret.id)?;
    Ok(Reply::created(json!({
        "id": secret.id,
        "secret": secret.secret,
        "cloned_from": source,
        "warning": WARNING,
        "label": key["label"],
        "environment": key["environment"],
        "scopes": key["scopes"],
        "created_at": key["created_at"],
    })))
}

async fn rate_limits(state: web::Data<AppState>, p: Principal) -> ApiResult {
    let now = state.clock.now().unix_timestamp();
    let limit = if p.key.key_type == "publishable" { 10 } else { state.config.rate_limit_rpm };
    let d = state.rate_limiter.check(&p.key.id, limit, now, false);
    Ok(Reply::ok(json!({
        "rate_limit": {
            "limit": d.limit,
            "remaining": d.remaining,
            "reset_in_seconds": d.retry_after,
            "window_seconds": 60,
        },
        "quotas": {},
        "plan": "self-hosted",
        "environment": p.environment(),
    })))
}
