//! Two middlewares. `observe` wraps everything: request id, metrics, one log line (route pattern, never
//! the path or body), and the error-shape safety net for responses actix makes itself. `api_gate` wraps
//! /api/v1: authentication, rate limit headers and 429s, Verifa-Version, Key-Inflection and
//! Idempotency-Key. Must not contain business rules.

use super::error::{error_body, from_status};
use super::inflect::Inflection;
use super::reply::{Principal, RequestId};
use super::AppState;
use crate::domain::api_key::API_VERSIONS;
use crate::error::AppError;
use crate::idempotency::{fingerprint, Claim};
use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use std::time::Instant;
use tracing::Instrument;

fn header(res: &mut HttpResponse<impl MessageBody>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

fn sane_request_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 128 && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane_request_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| format!("req_{}", ulid::Ulid::new()));
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let verifyhq = req.path() == "/v1" || req.path().starts_with("/v1/");
    // Every log line of this request, including those of its reads and of its commands in the writer,
    // carries the request id.
    let span = tracing::info_span!("request", request_id = %request_id, method = %method);
    // Reads after the request's own write are queued, not refused (`state::serving_request`).
    let mut res = match crate::state::serving_request(next.call(req).instrument(span.clone())).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => return Err(e),
    };
    let status = res.status();
    let is_json = res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.contains("json") || v.starts_with("text/plain; version=0.0.4") || v.starts_with("text/html")
    });
    if status.as_u16() >= 400 && !is_json {
        let err = from_status(status);
        let new = if verifyhq {
            super::error::verifyhq_error_response(&err)
        } else {
            HttpResponse::build(status).json(error_body(&err))
        };
        let preserved: Vec<_> = res
            .headers()
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-") || k.as_str() == "allow")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        res = res.into_response(new);
        for (k, v) in preserved {
            res.headers_mut().insert(k, v);
        }
    }
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(state) = state {
        state.metrics.record_request(&method, &route, res.status().as_u16(), millis);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
    }
    span.in_scope(|| tracing::info!(route = %route, status = res.status().as_u16(), ms = millis, "request"));
    Ok(res)
}

fn reject(req: ServiceRequest, e: AppError) -> ServiceResponse<BoxBody> {
    let res = e.error_response();
    req.into_response(res)
}

pub async fn api_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(reject(req, AppError::Internal("application state missing".into())));
    };
    let now = state.clock.now();
    let secret = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let Some(secret) = secret else {
        return Ok(reject(req, AppError::Unauthorized("Missing API key: send it in the X-API-Key header.".into())));
    };
    let ip = req.peer_addr().map(|a| a.ip());
    let key = match state.auth.authenticate(&secret, ip, now).await {
        Ok(k) => k,
        Err(e) => return Ok(reject(req, e)),
    };
    drop(secret);
    if key.key_type == crate::domain::api_key::VERIFYHQ_KEY_TYPE {
        return Ok(reject(
            req,
            AppError::Unauthorized("This is a VerifyHQ API key; it calls the /v1 API, not /api/v1.".into()),
        ));
    }
    let publishable = key.key_type == "publishable";
    if publishable && !(req.method() == actix_web::http::Method::POST && req.path() == "/api/v1/sessions") {
        return Ok(reject(
            req,
            AppError::Forbidden { code: "forbidden", detail: "Publishable keys may only create sessions.".into() },
        ));
    }
    let limit = if publishable { 10 } else { state.config.rate_limit_rpm };
    let consume = req.path() != "/api/v1/rate-limits";
    let decision = state.rate_limiter.check(&key.id, limit, now.unix_timestamp(), consume);
    let rate_headers = |res: &mut HttpResponse<BoxBody>| {
        header(res, "x-ratelimit-limit", &decision.limit.to_string());
        header(res, "x-ratelimit-remaining", &decision.remaining.to_string());
        header(res, "x-ratelimit-reset", &decision.reset_at.to_string());
    };
    if !decision.allowed {
        let mut res = AppError::RateLimited { retry_after: decision.retry_after }.error_response();
        rate_headers(&mut res);
        return Ok(req.into_response(res));
    }
    let version = match req.headers().get("verifa-version").map(|v| v.to_str().unwrap_or("").trim().to_string()) {
        Some(v) if API_VERSIONS.contains(&v.as_str()) => v,
        Some(v) => {
            let mut res = AppError::BadRequest(format!(
                "Unknown Verifa-Version '{v}'. Supported versions: {}.",
                API_VERSIONS.join(", ")
            ))
            .error_response();
            rate_headers(&mut res);
            return Ok(req.into_response(res));
        }
        None => key.api_version.clone(),
    };
    let inflection = match req.headers().get("key-inflection").map(|v| v.to_str().unwrap_or("")) {
        Some(v) => match Inflection::parse(v) {
            Some(i) => i,
            None => {
                let mut res =
                    AppError::BadRequest("Key-Inflection must be snake, camel or kebab.".into()).error_response();
                rate_headers(&mut res);
                return Ok(req.into_response(res));
            }
        },
        None => Inflection::parse(&key.default_key_inflection).unwrap_or(Inflection::Snake),
    };
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let environment = key.environment.clone();
    let key_id = key.id.clone();
    let origin = super::reply::org_origin(req.request());
    req.extensions_mut().insert(Principal { key, inflection, request_id, origin });

    let mutating = matches!(req.method().as_str(), "POST" | "PATCH" | "PUT" | "DELETE");
    let mut res = if mutating {
        idempotent(req, next, &state, &environment, &key_id, now.unix_timestamp(), |e| e.error_response()).await?
    } else {
        next.call(req).await?.map_into_boxed_body()
    };
    rate_headers(res.response_mut());
    header(res.response_mut(), "verifa-version", &version);
    Ok(res)
}

/// Runs a mutating request under its `Idempotency-Key` (when it sends one): the first request with a key
/// runs and its answer (below 500) is kept for 24 h; the same key with the same method, path and body
/// replays that answer with `Idempotent-Replayed: true`; with anything else it is refused. Both dialects
/// share it; `render` answers a refusal in the dialect's error shape.
async fn idempotent(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    state: &AppState,
    environment: &str,
    key_id: &str,
    now: i64,
    render: fn(&AppError) -> HttpResponse,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(idem_key) = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let mut req = req;
    let bytes = match req.extract::<web::Bytes>().await {
        Ok(b) => b,
        Err(_) => {
            let res = render(&AppError::PayloadTooLarge("The request body is too large.".into()));
            return Ok(req.into_response(res));
        }
    };
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let fp = fingerprint(req.method().as_str(), &path_and_query, &bytes);
    Ok(match state.idempotency.claim(environment, key_id, &idem_key, fp, now).await {
        Err(e) => {
            let res = render(&e);
            req.into_response(res)
        }
        Ok(Claim::Replay(stored)) => {
            let status =
                actix_web::http::StatusCode::from_u16(stored.status).unwrap_or(actix_web::http::StatusCode::OK);
            let mut res = HttpResponse::build(status).content_type("application/json").body(stored.body);
            header(&mut res, "idempotent-replayed", "true");
            req.into_response(res)
        }
        Ok(Claim::Run(guard)) => {
            req.set_payload(actix_web::dev::Payload::from(bytes));
            let res = next.call(req).await?.map_into_boxed_body();
            let status = res.status();
            let (request, response) = res.into_parts();
            let (head, body) = response.into_parts();
            let bytes = body::to_bytes(body).await.unwrap_or_default();
            if status.as_u16() < 500 {
                if let Err(e) = state.idempotency.finish(guard, status.as_u16(), &bytes, now).await {
                    tracing::error!(error = %e, "could not store an idempotent response");
                }
            }
            ServiceResponse::new(request, head.set_body(BoxBody::new(bytes)))
        }
    })
}

/// Wraps the VerifyHQ dialect's `/v1` scope (spec A.9): a `vhq_live_`/`vhq_test_` key in `X-API-Key`
/// (a Verifa key is refused, and a VerifyHQ key is refused under /api/v1), the client's own rate limit
/// with the same headers, and `Idempotency-Key` on every POST; every refusal in the dialect's error shape.
/// `/v1/admin/*` is authenticated by `X-Admin-Secret` in its handler instead; `/v1/openapi.json` is public.
pub async fn verifyhq_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let refuse = |req: ServiceRequest, e: AppError| Ok(req.into_response(super::error::verifyhq_error_response(&e)));
    let path = req.path();
    if path.starts_with("/v1/admin/") || path == "/v1/openapi.json" {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return refuse(req, AppError::Internal("application state missing".into()));
    };
    let now = state.clock.now();
    let Some(secret) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string) else {
        return refuse(req, AppError::Unauthorized("Missing API key: send it in the X-API-Key header.".into()));
    };
    let ip = req.peer_addr().map(|a| a.ip());
    let key = match state.auth.authenticate(&secret, ip, now).await {
        Ok(k) => k,
        Err(e) => return refuse(req, e),
    };
    drop(secret);
    if key.key_type != crate::domain::api_key::VERIFYHQ_KEY_TYPE {
        return refuse(
            req,
            AppError::Unauthorized(
                "This is a Verifa API key; the VerifyHQ API takes vhq_live_ or vhq_test_ keys.".into(),
            ),
        );
    }
    let limit = key.rate_limit_rpm.map(u64::from).unwrap_or(state.config.rate_limit_rpm);
    let decision = state.rate_limiter.check(&key.id, limit, now.unix_timestamp(), true);
    let rate_headers = |res: &mut HttpResponse<BoxBody>| {
        header(res, "x-ratelimit-limit", &decision.limit.to_string());
        header(res, "x-ratelimit-remaining", &decision.remaining.to_string());
        header(res, "x-ratelimit-reset", &decision.reset_at.to_string());
    };
    if !decision.allowed {
        let mut res =
            super::error::verifyhq_error_response(&AppError::RateLimited { retry_after: decision.retry_after });
        rate_headers(&mut res);
        return Ok(req.into_response(res));
    }
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let (environment, key_id) = (key.environment.clone(), key.id.clone());
    let origin = super::reply::org_origin(req.request());
    req.extensions_mut().insert(Principal { key, inflection: Inflection::Camel, request_id, origin });
    let mut res = if req.method() == actix_web::http::Method::POST {
        idempotent(
            req,
            next,
            &state,
            &environment,
            &key_id,
            now.unix_timestamp(),
            super::error::verifyhq_error_response,
        )
        .await?
    } else {
        next.call(req).await?.map_into_boxed_body()
    };
    rate_headers(res.response_mut());
    Ok(res)
}
