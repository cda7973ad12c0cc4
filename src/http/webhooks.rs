//! /webhooks/endpoints: endpoints CRUD, secret rotation, clone, test event, event types, deliveries
//! and manual retry (spec §1.11.1). Live secrets appear only in the create, rotate and clone
//! responses; sandbox secrets in every endpoint response.

use super::body::{ApiBody, QueryMap};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::webhooks::{self as cmd, CloneOverrides, EndpointInput, NewEndpoint};
use crate::domain::webhook::{EndpointUpdated, DELIVERY_STATUSES};
use crate::error::AppError;
use crate::queries::webhooks::{self as q, DeliveryFilter, Secret};
use actix_web::http::StatusCode;
use actix_web::web;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/webhooks/endpoints", "List webhook endpoints", web::get().to(list));
    t.add("POST", "/webhooks/endpoints", "Create a webhook endpoint", web::post().to(create));
    t.add("GET", "/webhooks/endpoints/event-types", "List webhook event types", web::get().to(event_types));
    t.add("GET", "/webhooks/event-types", "List webhook event types", web::get().to(event_types));
    t.add("GET", "/webhooks/endpoints/{endpoint_id}", "Get a webhook endpoint", web::get().to(get));
    t.add("PATCH", "/webhooks/endpoints/{endpoint_id}", "Update a webhook endpoint", web::patch().to(update));
    t.add("DELETE", "/webhooks/endpoints/{endpoint_id}", "Delete a webhook endpoint", web::delete().to(delete));
    t.add(
        "POST",
        "/webhooks/endpoints/{endpoint_id}/rotate-secret",
        "Rotate a webhook endpoint's signing secret",
        web::post().to(rotate_secret),
    );
    t.add(
        "POST",
        "/webhooks/endpoints/{endpoint_id}/clone",
        "Clone a webhook endpoint",
        web::post().to(clone_endpoint),
    );
    t.add("POST", "/webhooks/endpoints/{endpoint_id}/test", "Send a test webhook event", web::post().to(send_test));
    t.add(
        "GET",
        "/webhooks/endpoints/{endpoint_id}/deliveries",
        "List a webhook endpoint's deliveries",
        web::get().to(deliveries),
    );
    t.add(
        "GET",
        "/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}",
        "Get a webhook delivery",
        web::get().to(delivery),
    );
    t.add(
        "POST",
        "/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
        "Retry a failed webhook delivery",
        web::post().to(retry),
    );
}

const READ: &str = "webhooks:read";
const WRITE: &str = "webhooks:write";
const WARNING: &str = "Store this secret now; for live endpoints it will not be shown again.";

async fn list(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::list_endpoints(&state.read.get()?, &state.keyring, p.environment(), query.page(50)?)?))
}

async fn event_types(p: Principal) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::event_types()))
}

#[derive(Deserialize)]
struct CreateBody {
    url: Option<String>,
    label: Option<String>,
    description: Option<String>,
    enabled_events: Option<Vec<String>>,
    attribute_blocklist: Option<Vec<String>>,
    event_filter_conditions: Option<Value>,
    api_version: Option<String>,
    key_inflection: Option<String>,
}

/// The endpoint as stored, plus the secret just minted.
fn with_secret(state: &AppState, p: &Principal, new: &NewEndpoint) -> Result<Value, AppError> {
    let mut body = q::endpoint(&state.read.get()?, &state.keyring, p.environment(), &new.id, Secret::Hidden)?;
    body["secret"] = json!(new.secret.expose());
    if p.environment() == "live" {
        body["warning"] = json!(WARNING);
    }
    Ok(body)
}

async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let url = b.url.ok_or_else(|| AppError::validation("url", "is required"))?;
    let input = EndpointInput {
        url,
        label: b.label,
        description: b.description,
        enabled_events: b.enabled_events,
        attribute_blocklist: b.attribute_blocklist,
        event_filter_conditions: b.event_filter_conditions,
        api_version: b.api_version,
        key_inflection: b.key_inflection,
    };
    let new = cmd::create(&state.writer, &state.config.webhook_egress, p.meta(state.now()), input).await?;
    Ok(Reply::created(with_secret(&state, &p, &new)?))
}

async fn get(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::endpoint(&state.read.get()?, &state.keyring, p.environment(), &path, Secret::ByEnvironment)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    url: Option<String>,
    #[serde(default, with = "crate::domain::double_option")]
    label: Option<Option<String>>,
    #[serde(default, with = "crate::domain::double_option")]
    description: Option<Option<String>>,
    enabled: Option<bool>,
    enabled_events: Option<Vec<String>>,
    attribute_blocklist: Option<Vec<String>>,
    #[serde(default, with = "crate::domain::double_option")]
    event_filter_conditions: Option<Option<Value>>,
    #[serde(default, with = "crate::domain::double_option")]
    api_version: Option<Option<String>>,
    key_inflection: Option<String>,
}

async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<UpdateBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let update = EndpointUpdated {
        url: b.url,
        label: b.label,
        description: b.description,
        enabled: b.enabled,
        enabled_events: b.enabled_events,
        attribute_blocklist: b.attribute_blocklist,
        event_filter_conditions: b.event_filter_conditions,
        api_version: b.api_version,
        key_inflection: b.key_inflection,
    };
    let id = cmd::update(&state.writer, &state.config.webhook_egress, p.meta(state.now()), path.into_inner(), update)
        .await?;
    Ok(Reply::ok(q::endpoint(&state.read.get()?, &state.keyring, p.environment(), &id, Secret::ByEnvironment)?))
}

async fn delete(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::delete(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(json!({ "id": id, "object": "webhook_endpoint", "deleted": true })))
}

async fn rotate_secret(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let new = cmd::rotate_secret(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(with_secret(&state, &p, &new)?))
}

#[derive(Deserialize)]
struct CloneBody {
    url: Option<String>,
    label: Option<String>,
    description: Option<String>,
}

async fn clone_endpoint(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<CloneBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let overrides = CloneOverrides { url: b.url, label: b.label, description: b.description };
    let new = cmd::clone_endpoint(
        &state.writer,
        &state.config.webhook_egress,
        p.meta(state.now()),
        path.into_inner(),
        overrides,
    )
    .await?;
    Ok(Reply::created(with_secret(&state, &p, &new)?))
}

async fn send_test(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let endpoint_id = path.into_inner();
    let queued = cmd::send_test(&state.writer, p.meta(state.now()), endpoint_id.clone(), state.clock.now()).await?;
    Ok(Reply::with_status(
        StatusCode::ACCEPTED,
        json!({
            "object": "webhook_test",
            "endpoint_id": endpoint_id,
            "event": crate::domain::webhook::EVENT_TEST,
            "event_id": queued.event_id,
            "delivery_id": queued.delivery_id,
            "status": "pending",
        }),
    ))
}

/// `YYYY-MM-DD` (the whole day, UTC) or an RFC 3339 timestamp, as canonical UTC text.
fn time_param(query: &QueryMap, key: &str, end_of_day: bool) -> Result<Option<String>, AppError> {
    let Some(value) = query.get(key) else { return Ok(None) };
    if let Some(t) = crate::clock::parse(value) {
        return Ok(Some(crate::clock::format(t)));
    }
    let bad = || AppError::validation(key, "must be a date (YYYY-MM-DD) or an RFC 3339 timestamp");
    let date =
        time::Date::parse(value, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| bad())?;
    let at = if end_of_day { date.with_hms_milli(23, 59, 59, 999).map_err(|_| bad())? } else { date.midnight() };
    Ok(Some(crate::clock::format(at.assume_utc())))
}

async fn deliveries(state: web::Data<AppState>, p: Principal, path: web::Path<String>, query: QueryMap) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let status = query.get("status").map(str::to_string);
    if let Some(s) = &status {
        if !DELIVERY_STATUSES.contains(&s.as_str()) {
            return Err(AppError::validation("status", format!("must be one of {}", DELIVERY_STATUSES.join(", "))));
        }
    }
    let filter = DeliveryFilter {
        date_from: time_param(&query, "date_from", false)?,
        date_to: time_param(&query, "date_to", true)?,
        event_type: query.get("event_type").map(str::to_string),
        status,
    };
    let page = query.page(50)?;
    Ok(Reply::ok(q::deliveries(&state.read.get()?, p.environment(), &path, &filter, page)?))
}

async fn delivery(state: web::Data<AppState>, p: Principal, path: web::Path<(String, String)>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (endpoint_id, delivery_id) = path.into_inner();
    Ok(Reply::ok(q::delivery(&state.read.get()?, p.environment(), &endpoint_id, &delivery_id)?))
}

async fn retry(state: web::Data<AppState>, p: Principal, path: web::Path<(String, String)>) -> ApiResult {
    p.require(WRITE, &[])?;
    let (endpoint_id, delivery_id) = path.into_inner();
    let meta = p.meta(state.now());
    let id = cmd::retry_delivery(&state.writer, meta, endpoint_id.clone(), delivery_id, state.clock.now()).await?;
    let body = q::delivery(&state.read.get()?, p.environment(), &endpoint_id, &id)?;
    Ok(Reply::with_status(StatusCode::ACCEPTED, body))
}
