//! /api-keys and /rate-limits.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::api_keys::{self as cmd, CreateKey, UpdateKey};
use crate::domain::api_key::{AllowedIp, ApiVersion, Environment, Inflection, KeyType, Scope, DEFAULT_SCOPES};
use crate::domain::ids::ApiKeyId;
use crate::domain::values::{Label, LongText, Timestamp};
use crate::error::AppError;
use crate::queries::api_keys::{self as q, ApiKeyView};
use crate::queries::OffsetPage;
use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

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

#[utoipa::path(get, path = "/api/v1/api-keys", tag = "API keys", operation_id = "list_api_keys",
    params(PageQuery),
    responses((status = 200, description = "The environment's keys, newest first, without secrets", body = OffsetPage<ApiKeyView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, page: ApiQuery<PageQuery>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    let page = page.0.page(50)?;
    Ok(Reply::ok(state.read(move |c| q::list(c, Some(env.as_str()), page)).await?))
}

/// A new key of the caller's environment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateApiKeyBody {
    label: Option<Label>,
    note: Option<LongText>,
    /// The calling key's environment (the default); a key cannot create keys of the other environment (403).
    environment: Option<Environment>,
    /// Default `secret`.
    #[serde(rename = "type")]
    key_type: Option<KeyType>,
    /// Default: the five default scopes; a publishable key always gets `sessions:create` only.
    scopes: Option<Vec<Scope>>,
    api_version: Option<ApiVersion>,
    /// Addresses or CIDR blocks the key may be used from (default: any).
    allowed_ips: Option<Vec<AllowedIp>>,
    /// The key stops working from this moment (a moment already past gives a key that is expired from the
    /// start; a later update may move it).
    expires_at: Option<Timestamp>,
    default_key_inflection: Option<Inflection>,
}

/// A new key with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
struct CreatedApiKey {
    #[serde(flatten)]
    key: ApiKeyView,
    /// The secret to send as X-API-Key; not retrievable later.
    secret: String,
    #[schema(example = "Store this secret now; it will not be shown again.")]
    warning: String,
}

#[utoipa::path(post, path = "/api/v1/api-keys", tag = "API keys", operation_id = "create_api_key",
    request_body = CreateApiKeyBody,
    responses((status = 201, description = "The new key and its secret (shown once)", body = CreatedApiKey),
              (status = 403, description = "The key lacks `api_keys:write`, or asked for a key of the other environment",
               body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateApiKeyBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let own = Environment::parse_field("environment", p.environment())?;
    let environment = b.environment.unwrap_or(own);
    if environment != own {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: format!(
                "A {} key cannot create {} keys; use a key of that environment.",
                own.as_str(),
                environment.as_str()
            ),
        });
    }
    let key_type = b.key_type.unwrap_or(KeyType::Secret);
    let scopes = match (key_type, b.scopes) {
        (KeyType::Publishable, _) => vec![Scope::SessionsCreate],
        (_, Some(s)) => s,
        (_, None) => DEFAULT_SCOPES.iter().map(|s| Scope::parse("scopes", s)).collect::<Result<_, _>>()?,
    };
    let input = CreateKey {
        key_type,
        environment,
        scopes,
        allowed_ips: b.allowed_ips,
        api_version: b.api_version.unwrap_or(ApiVersion::CURRENT),
        default_key_inflection: b.default_key_inflection.unwrap_or(Inflection::Snake),
        label: b.label,
        note: b.note,
        expires_at: b.expires_at,
    };
    let secret = cmd::create(&state.writer, p.meta(state.now()), input).await?;
    let env = p.env();
    let key = state.read(move |c| q::get(c, &env, &secret.id)).await?;
    Ok(Reply::created(CreatedApiKey { key, secret: secret.secret, warning: WARNING.into() }))
}

#[utoipa::path(get, path = "/api/v1/api-keys/{api_key_id}", tag = "API keys", operation_id = "get_api_key",
    params(("api_key_id" = ApiKeyId, Path, description = "The key")),
    responses((status = 200, description = "The key, without its secret", body = ApiKeyView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<ApiKeyId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, path.as_str())).await?))
}

/// Changes to a key; absent fields stay as they are, null clears a nullable one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateApiKeyBody {
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<Label>)]
    label: Option<Option<Label>>,
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<LongText>)]
    note: Option<Option<LongText>>,
    scopes: Option<Vec<Scope>>,
    /// Null lets the key in from any address.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<Vec<AllowedIp>>)]
    allowed_ips: Option<Option<Vec<AllowedIp>>>,
    api_version: Option<ApiVersion>,
    /// Null removes the expiry. A moment already past stops the key at once.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<Timestamp>)]
    expires_at: Option<Option<Timestamp>>,
    default_key_inflection: Option<Inflection>,
}

/// A key as answered by an update.
#[derive(Debug, Serialize, ToSchema)]
struct UpdatedApiKey {
    #[serde(flatten)]
    key: ApiKeyView,
    #[schema(example = "api-key")]
    object: String,
}

#[utoipa::path(patch, path = "/api/v1/api-keys/{api_key_id}", tag = "API keys", operation_id = "update_api_key",
    params(("api_key_id" = ApiKeyId, Path, description = "The key")),
    request_body = UpdateApiKeyBody,
    responses((status = 200, description = "The updated key; the change applies from the next request", body = UpdatedApiKey)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<ApiKeyId>,
    body: ApiBody<UpdateApiKeyBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let update = UpdateKey {
        label: b.label,
        note: b.note,
        scopes: b.scopes,
        allowed_ips: b.allowed_ips,
        api_version: b.api_version,
        expires_at: b.expires_at,
        default_key_inflection: b.default_key_inflection,
    };
    let id = cmd::update(&state.writer, p.meta(state.now()), path.into_inner(), update).await?;
    state.auth.invalidate();
    let env = p.env();
    let key = state.read(move |c| q::get(c, &env, id.as_str())).await?;
    Ok(Reply::ok(UpdatedApiKey { key, object: "api-key".into() }))
}

/// The answer to an expiry.
#[derive(Debug, Serialize, ToSchema)]
struct ExpiredApiKey {
    id: ApiKeyId,
    /// Always true.
    expired: bool,
}

#[utoipa::path(post, path = "/api/v1/api-keys/{api_key_id}/expire", tag = "API keys", operation_id = "expire_api_key",
    params(("api_key_id" = ApiKeyId, Path, description = "The key")),
    responses((status = 200, description = "The key no longer authenticates", body = ExpiredApiKey),
              (status = 409, description = "The key authenticating the request cannot expire itself", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn expire(state: web::Data<AppState>, p: Principal, path: ApiPath<ApiKeyId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let caller = ApiKeyId::from_stored(p.key.id.clone());
    let id = cmd::expire(&state.writer, p.meta(state.now()), path.into_inner(), Some(caller)).await?;
    state.auth.invalidate();
    Ok(Reply::ok(ExpiredApiKey { id, expired: true }))
}

/// Options of a clone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CloneApiKeyBody {
    /// Default: the source's label followed by " (clone)".
    label: Option<String>,
}

/// A new key copied from another, with its secret (shown once).
#[derive(Debug, Serialize, ToSchema)]
struct ClonedApiKey {
    id: ApiKeyId,
    secret: String,
    cloned_from: ApiKeyId,
    #[schema(example = "Store this secret now; it will not be shown again.")]
    warning: String,
    label: Option<String>,
    #[schema(value_type = Environment)]
    environment: String,
    #[schema(value_type = Vec<Scope>)]
    scopes: Vec<String>,
    created_at: String,
}

#[utoipa::path(post, path = "/api/v1/api-keys/{api_key_id}/clone", tag = "API keys", operation_id = "clone_api_key",
    params(("api_key_id" = ApiKeyId, Path, description = "The key to copy")),
    request_body = CloneApiKeyBody,
    responses((status = 201, description = "The new key and its secret (shown once)", body = ClonedApiKey)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn clone_key(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<ApiKeyId>,
    body: ApiBody<CloneApiKeyBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let source = path.into_inner();
    let secret = cmd::clone_key(&state.writer, p.meta(state.now()), source.clone(), body.0.label).await?;
    let env = p.env();
    let key = state.read(move |c| q::get(c, &env, &secret.id)).await?;
    Ok(Reply::created(ClonedApiKey {
        id: key.id,
        secret: secret.secret,
        cloned_from: source,
        warning: WARNING.into(),
        label: key.label,
        environment: key.environment,
        scopes: key.scopes,
        created_at: key.created_at,
    }))
}

/// The calling key's rate-limit window (spec §2.3).
#[derive(Debug, Serialize, ToSchema)]
struct RateLimitWindow {
    /// Requests allowed per window.
    limit: u64,
    remaining: u64,
    /// Seconds until the window resets.
    reset_in_seconds: u64,
    #[schema(example = 60)]
    window_seconds: u64,
}

/// Rate-limit and quota status of the calling key.
#[derive(Debug, Serialize, ToSchema)]
struct RateLimits {
    rate_limit: RateLimitWindow,
    /// No quotas apply to a self-hosted server: always empty.
    #[schema(value_type = Object)]
    quotas: Map<String, Value>,
    #[schema(example = "self-hosted")]
    plan: String,
    #[schema(value_type = Environment)]
    environment: String,
}

#[utoipa::path(get, path = "/api/v1/rate-limits", tag = "API keys", operation_id = "get_rate_limits",
    responses((status = 200, description = "The calling key's current window", body = RateLimits)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn rate_limits(state: web::Data<AppState>, p: Principal) -> ApiResult {
    let now = state.clock.now().unix_timestamp();
    let limit = if p.key.key_type == "publishable" { 10 } else { state.config.rate_limit_rpm };
    let d = state.rate_limiter.check(&p.key.id, limit, now, false);
    Ok(Reply::ok(RateLimits {
        rate_limit: RateLimitWindow {
            limit: d.limit,
            remaining: d.remaining,
            reset_in_seconds: d.retry_after,
            window_seconds: 60,
        },
        quotas: Map::new(),
        plan: "self-hosted".into(),
        environment: p.environment().to_string(),
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, expire, clone_key, rate_limits),
    components(schemas(
        CreateApiKeyBody,
        UpdateApiKeyBody,
        CloneApiKeyBody,
        ApiKeyView,
        CreatedApiKey,
        UpdatedApiKey,
        ExpiredApiKey,
        ClonedApiKey,
        RateLimits,
        RateLimitWindow,
        Scope,
        KeyType,
        Environment,
        ApiVersion,
        Inflection,
        AllowedIp
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
