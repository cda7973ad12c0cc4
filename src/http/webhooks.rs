//! /webhooks/endpoints: endpoints CRUD, secret rotation, clone, test event, event types, deliveries
//! and manual retry (spec §1.11.1). Live secrets appear only in the create, rotate and clone
//! responses; sandbox secrets in every endpoint response.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::webhooks::{self as cmd, CloneOverrides, EndpointInput, NewEndpoint, UpdateEndpoint};
use crate::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::domain::values::WebhookUrl;
use crate::domain::webhook::{DeliveryStatus, EventName, EventSubscription, KeyInflection, PayloadApiVersion};
use crate::error::AppError;
use crate::queries::webhooks::{
    self as q, AttemptView, DeliveryFilter, DeliveryObject, DeliveryView, EndpointObject, EndpointView, EventTypeView,
    EventTypes, Secret,
};
use crate::queries::{OffsetPage, OffsetPagination};
use actix_web::http::StatusCode;
use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/webhooks/endpoints", "List webhook endpoints", web::get().to(list));
    t.add("POST", "/webhooks/endpoints", "Create a webhook endpoint", web::post().to(create));
    t.add("GET", "/webhooks/endpoints/event-types", "List webhook event types", web::get().to(event_types));
    t.add("GET", "/webhooks/event-types", "List webhook event types", web::get().to(event_types_alias));
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

fn endpoint_example() -> Value {
    json!({
        "id": "webhook_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "object": "webhook_endpoint",
        "url": "https://example.com/webhooks/idv", "label": "CRM", "description": null, "enabled": true,
        "enabled_events": ["session.approved", "session.declined"], "environment": "sandbox",
        "attribute_blocklist": [], "event_filter_conditions": null, "api_version": null, "key_inflection": "snake",
        "cloned_from": null, "disabled_reason": null, "disabled_at": null, "secret_rotated_at": null,
        "created_at": "2026-01-15T10:00:00.000Z", "updated_at": "2026-01-15T10:00:00.000Z",
        "consecutive_failures": 0, "secret": "whsec_5WbX5kEWLlfzsGNjH64I8lOOqUB6e8FH"
    })
}

fn delivery_example() -> Value {
    json!({
        "id": "dlv_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "object": "webhook_delivery",
        "endpoint_id": "webhook_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "event": "session.approved",
        "event_id": "evt_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "url": "https://example.com/webhooks/idv", "status": "delivered",
        "attempts": 1, "response_status": 200, "last_error": null, "next_attempt_at": null,
        "created_at": "2026-01-15T10:00:00.000Z", "updated_at": "2026-01-15T10:00:01.000Z",
        "completed_at": "2026-01-15T10:00:01.000Z", "manual_retry": false,
        "attempt_history": [{ "attempt": 1, "attempted_at": "2026-01-15T10:00:01.000Z", "response_status": 200,
            "latency_ms": 84, "error": null, "response_excerpt": "ok", "manual": false }]
    })
}

#[utoipa::path(get, path = "/api/v1/webhooks/endpoints", tag = "Webhooks", operation_id = "list_webhook_endpoints",
    params(PageQuery),
    responses((status = 200, description = "The environment's endpoints, newest first",
        body = OffsetPage<EndpointView>,
        example = json!({ "data": [], "pagination": { "total": 0, "limit": 50, "offset": 0 } }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, page: ApiQuery<PageQuery>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let page = page.0.page(50)?;
    Ok(Reply::ok(state.read(move |c| q::list_endpoints(c, &keyring, &env, page)).await?))
}

#[utoipa::path(get, path = "/api/v1/webhooks/endpoints/event-types", tag = "Webhooks",
    operation_id = "list_webhook_event_types",
    responses((status = 200, description = "The event catalog", body = EventTypes,
        example = json!({ "data": [{ "name": "session.approved", "category": "session",
            "description": "The final outcome is approved.", "emitted": true }], "wildcard": "*" }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn event_types(p: Principal) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::event_types()))
}

/// The same catalog under its shorter path.
#[utoipa::path(get, path = "/api/v1/webhooks/event-types", tag = "Webhooks",
    operation_id = "list_webhook_event_types_alias",
    responses((status = 200, description = "The event catalog", body = EventTypes,
        example = json!({ "data": [{ "name": "session.approved", "category": "session",
            "description": "The final outcome is approved.", "emitted": true }], "wildcard": "*" }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn event_types_alias(p: Principal) -> ApiResult {
    event_types(p).await
}

/// A payload path as the server parses it: 1 to 15 dot-separated segments, each with a non-space
/// character (a path not starting with `id`, `event`, `created_at` or `data` is read inside `data`).
const ATTR_PATH: &str = "^[^.]*[^.\\s][^.]*(\\.[^.]*[^.\\s][^.]*){0,14}$";

/// `attribute_blocklist` as the server accepts it: at most 100 payload paths.
fn blocklist_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::domain::values::schema_from(json!({
        "description": "Payload fields never to send, as paths inside `data` (e.g. `external_ref`, `data.user.email`).",
        "type": ["array", "null"],
        "maxItems": crate::domain::webhook::MAX_BLOCKLIST_ENTRIES,
        "items": { "type": "string", "pattern": ATTR_PATH }
    }))
}

/// `event_filter_conditions` as the server accepts it: null (no filter), the object shorthand
/// `{path: value}` (an array value means any of), or a list of `{path, op, value}` (`in` takes an array).
fn filter_request_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::domain::values::schema_from(json!({
        "description": "Deliver only events whose payload matches: the object shorthand `{\"data.status\": \"approved\"}` (an array value means any of), or a list of `{path, op (eq, neq, in; default eq), value}` (`in` takes an array); null, `{}` or `[]` for every event.",
        "oneOf": [
            { "type": "null" },
            { "type": "object", "propertyNames": { "type": "string", "pattern": ATTR_PATH } },
            { "type": "array", "items": { "oneOf": [
                { "type": "object", "additionalProperties": false, "required": ["path", "value"],
                  "properties": { "path": { "type": "string", "pattern": ATTR_PATH },
                                  "op": { "type": "string", "enum": ["eq", "neq"] },
                                  "value": { "type": ["string", "number", "boolean", "array", "object", "null"] } } },
                { "type": "object", "additionalProperties": false, "required": ["path", "op", "value"],
                  "properties": { "path": { "type": "string", "pattern": ATTR_PATH },
                                  "op": { "type": "string", "enum": ["in"] }, "value": { "type": "array", "items": { "type": ["string", "number", "boolean", "array", "object", "null"] } } } }
            ] } }
        ]
    }))
}

/// A new webhook endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateEndpointBody {
    url: WebhookUrl,
    #[schema(max_length = 200, example = "CRM")]
    label: Option<String>,
    #[schema(max_length = 1000)]
    description: Option<String>,
    /// Events to deliver; omitted, empty or containing `*` means every event.
    enabled_events: Option<Vec<EventSubscription>>,
    #[schema(schema_with = blocklist_schema)]
    attribute_blocklist: Option<Vec<String>>,
    #[schema(schema_with = filter_request_schema)]
    event_filter_conditions: Option<Value>,
    /// The payload version; the key's default when omitted.
    api_version: Option<PayloadApiVersion>,
    /// Default `snake`.
    key_inflection: Option<KeyInflection>,
}

/// The endpoint as stored, plus the secret just minted.
async fn with_secret(state: &AppState, p: &Principal, new: &NewEndpoint) -> Result<EndpointView, AppError> {
    let (keyring, env) = (state.keyring.clone(), p.env());
    let id = new.id.clone();
    let mut body = state.read(move |c| q::endpoint(c, &keyring, &env, &id, Secret::Hidden)).await?;
    body.secret = Some(new.secret.expose().to_string());
    if p.environment() == "live" {
        body.warning = Some(WARNING.to_string());
    }
    Ok(body)
}

#[utoipa::path(post, path = "/api/v1/webhooks/endpoints", tag = "Webhooks", operation_id = "create_webhook_endpoint",
    request_body = CreateEndpointBody,
    responses((status = 201, description = "The new endpoint with its signing secret", body = EndpointView,
        example = endpoint_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateEndpointBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let input = EndpointInput {
        url: b.url,
        label: b.label,
        description: b.description,
        enabled_events: b.enabled_events,
        attribute_blocklist: b.attribute_blocklist,
        event_filter_conditions: b.event_filter_conditions,
        api_version: b.api_version,
        key_inflection: b.key_inflection,
    };
    let new = cmd::create(&state.writer, &state.config.webhook_egress, p.meta(state.now()), input).await?;
    Ok(Reply::created(with_secret(&state, &p, &new).await?))
}

#[utoipa::path(get, path = "/api/v1/webhooks/endpoints/{endpoint_id}", tag = "Webhooks",
    operation_id = "get_webhook_endpoint",
    params(("endpoint_id" = WebhookEndpointId, Path, description = "The endpoint")),
    responses((status = 200, description = "The endpoint (with its secret in the sandbox)", body = EndpointView,
        example = endpoint_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<WebhookEndpointId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::endpoint(c, &keyring, &env, &path, Secret::ByEnvironment)).await?))
}

/// Changes to an endpoint; omitted fields stay as they are, null clears a nullable one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateEndpointBody {
    url: Option<WebhookUrl>,
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(max_length = 200)]
    label: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(max_length = 1000)]
    description: Option<Option<String>>,
    /// false disables the endpoint (`disabled_reason` `manual`); true enables it and resets its failure count.
    enabled: Option<bool>,
    enabled_events: Option<Vec<EventSubscription>>,
    #[schema(schema_with = blocklist_schema)]
    attribute_blocklist: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(schema_with = filter_request_schema)]
    event_filter_conditions: Option<Option<Value>>,
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    api_version: Option<Option<PayloadApiVersion>>,
    key_inflection: Option<KeyInflection>,
}

#[utoipa::path(patch, path = "/api/v1/webhooks/endpoints/{endpoint_id}", tag = "Webhooks",
    operation_id = "update_webhook_endpoint",
    params(("endpoint_id" = WebhookEndpointId, Path, description = "The endpoint")),
    request_body = UpdateEndpointBody,
    responses((status = 200, description = "The updated endpoint", body = EndpointView, example = endpoint_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<WebhookEndpointId>,
    body: ApiBody<UpdateEndpointBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let update = UpdateEndpoint {
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
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::endpoint(c, &keyring, &env, &id, Secret::ByEnvironment)).await?))
}

/// The answer to a delete.
#[derive(Debug, Serialize, ToSchema)]
struct EndpointDeleted {
    id: WebhookEndpointId,
    object: EndpointObject,
    /// Always true.
    deleted: bool,
}

#[utoipa::path(delete, path = "/api/v1/webhooks/endpoints/{endpoint_id}", tag = "Webhooks",
    operation_id = "delete_webhook_endpoint",
    params(("endpoint_id" = WebhookEndpointId, Path, description = "The endpoint")),
    responses((status = 200, description = "The endpoint is deleted; its queued deliveries are dropped",
        body = EndpointDeleted,
        example = json!({ "id": "webhook_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "object": "webhook_endpoint", "deleted": true }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn delete(state: web::Data<AppState>, p: Principal, path: ApiPath<WebhookEndpointId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::delete(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(EndpointDeleted { id, object: EndpointObject::WebhookEndpoint, deleted: true }))
}

#[utoipa::path(post, path = "/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret", tag = "Webhooks",
    operation_id = "rotate_webhook_endpoint_secret",
    params(("endpoint_id" = WebhookEndpointId, Path, description = "The endpoint")),
    responses((status = 200, description = "The endpoint with its new secret (the old one stops working at once)",
        body = EndpointView, example = endpoint_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn rotate_secret(state: web::Data<AppState>, p: Principal, path: ApiPath<WebhookEndpointId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let new = cmd::rotate_secret(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(with_secret(&state, &p, &new).await?))
}

/// Changes to apply to the copy; everything else is copied.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CloneEndpointBody {
    url: Option<WebhookUrl>,
    /// Default: the original's label with ` (clone)`.
    #[schema(max_length = 200)]
    label: Option<String>,
    #[schema(max_length = 1000)]
    description: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/webhooks/endpoints/{endpoint_id}/clone", tag = "Webhooks",
    operation_id = "clone_webhook_endpoint",
    params(("endpoint_id" = WebhookEndpointId, Path, description = "The endpoint to copy")),
    request_body = CloneEndpointBody,
    responses((status = 201, description = "The copy, with its own secret", body = EndpointView,
        example = endpoint_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn clone_endpoint(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<WebhookEndpointId>,
    body: ApiBody<CloneEndpointBody>,
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
    Ok(Reply::created(with_secret(&state, &p, &new).await?))
}

/// The `object` of a test request.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum TestObject {
    WebhookTest,
}

/// A queued test delivery.
#[derive(Debug, Serialize, ToSchema)]
struct TestQueuedView {
    object: TestObject,
    endpoint_id: WebhookEndpointId,
    /// Always `webhook.test`.
    event: EventName,
    event_id: String,
    delivery_id: WebhookDeliveryId,
    status: DeliveryStatus,
}

#[utoipa::path(post, path = "/api/v1/webhooks/endpoints/{endpoint_id}/test", tag = "Webhooks",
    operation_id = "send_webhook_test",
    params(("endpoint_id" = WebhookEndpointId, Path, description = "The endpoint")),
    responses((status = 202, description = "A `webhook.test` event is queued for this endpoint only",
        body = TestQueuedView,
        example = json!({ "object": "webhook_test", "endpoint_id": "webhook_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
            "event": "webhook.test", "event_id": "evt_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
            "delivery_id": "dlv_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "status": "pending" }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn send_test(state: web::Data<AppState>, p: Principal, path: ApiPath<WebhookEndpointId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let endpoint_id = path.into_inner();
    let queued = cmd::send_test(&state.writer, p.meta(state.now()), endpoint_id.clone(), state.clock.now()).await?;
    Ok(Reply::with_status(
        StatusCode::ACCEPTED,
        TestQueuedView {
            object: TestObject::WebhookTest,
            endpoint_id,
            event: EventName::from_stored(crate::domain::webhook::EVENT_TEST.to_string()),
            event_id: queued.event_id,
            delivery_id: queued.delivery_id,
            status: DeliveryStatus::Pending,
        },
    ))
}

/// Filters of an endpoint's deliveries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// Created at or after: a date (`YYYY-MM-DD`, from its start, UTC) or an RFC 3339 timestamp.
    #[param(
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$",
        example = "2026-01-15"
    )]
    date_from: Option<String>,
    /// Created at or before: a date (`YYYY-MM-DD`, to its end, UTC) or an RFC 3339 timestamp.
    #[param(
        pattern = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$",
        example = "2026-01-31"
    )]
    date_to: Option<String>,
    /// Only deliveries of this event.
    event_type: Option<EventName>,
    /// Only deliveries in this status.
    status: Option<DeliveryStatus>,
}

/// `YYYY-MM-DD` (the whole day, UTC) or an RFC 3339 timestamp, as canonical UTC text.
fn time_param(value: Option<&str>, key: &str, end_of_day: bool) -> Result<Option<String>, AppError> {
    let Some(value) = value else { return Ok(None) };
    if let Some(t) = crate::clock::parse(value) {
        return Ok(Some(crate::clock::format(t)));
    }
    let bad = || AppError::validation(key, "must be a date (YYYY-MM-DD) or an RFC 3339 timestamp");
    let date =
        time::Date::parse(value, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| bad())?;
    let at = if end_of_day { date.with_hms_milli(23, 59, 59, 999).map_err(|_| bad())? } else { date.midnight() };
    Ok(Some(crate::clock::format(at.assume_utc())))
}

#[utoipa::path(get, path = "/api/v1/webhooks/endpoints/{endpoint_id}/deliveries", tag = "Webhooks",
    operation_id = "list_webhook_deliveries",
    params(("endpoint_id" = WebhookEndpointId, Path, description = "The endpoint"), DeliveriesQuery, PageQuery),
    responses((status = 200, description = "The endpoint's deliveries, most recent first, with their attempts",
        body = OffsetPage<DeliveryView>,
        example = json!({ "data": [], "pagination": { "total": 0, "limit": 50, "offset": 0 } }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn deliveries(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<WebhookEndpointId>,
    query: ApiQuery<DeliveriesQuery>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let query = query.0;
    let filter = DeliveryFilter {
        date_from: time_param(query.date_from.as_deref(), "date_from", false)?,
        date_to: time_param(query.date_to.as_deref(), "date_to", true)?,
        event_type: query.event_type,
        status: query.status,
    };
    let page = page.0.page(50)?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::deliveries(c, &env, &path, &filter, page)).await?))
}

#[utoipa::path(get, path = "/api/v1/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}", tag = "Webhooks",
    operation_id = "get_webhook_delivery",
    params(("endpoint_id" = WebhookEndpointId, Path, description = "The endpoint"),
        ("delivery_id" = WebhookDeliveryId, Path, description = "The delivery")),
    responses((status = 200, description = "The delivery with its attempts", body = DeliveryView,
        example = delivery_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn delivery(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<(WebhookEndpointId, WebhookDeliveryId)>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (endpoint_id, delivery_id) = path.into_inner();
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::delivery(c, &env, &endpoint_id, &delivery_id)).await?))
}

#[utoipa::path(post, path = "/api/v1/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
    tag = "Webhooks", operation_id = "retry_webhook_delivery",
    params(("endpoint_id" = WebhookEndpointId, Path, description = "The endpoint"),
        ("delivery_id" = WebhookDeliveryId, Path, description = "The delivery")),
    responses((status = 202, description = "One more attempt is scheduled now", body = DeliveryView,
        example = delivery_example),
        (status = 409, description = "The delivery is not failed, or the endpoint is disabled",
            body = crate::http::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn retry(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<(WebhookEndpointId, WebhookDeliveryId)>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let (endpoint_id, delivery_id) = path.into_inner();
    let meta = p.meta(state.now());
    let id = cmd::retry_delivery(&state.writer, meta, endpoint_id.clone(), delivery_id, state.clock.now()).await?;
    let env = p.env();
    let body = state.read(move |c| q::delivery(c, &env, &endpoint_id, &id)).await?;
    Ok(Reply::with_status(StatusCode::ACCEPTED, body))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        event_types,
        event_types_alias,
        get,
        update,
        delete,
        rotate_secret,
        clone_endpoint,
        send_test,
        deliveries,
        delivery,
        retry
    ),
    components(schemas(
        EndpointView,
        EndpointObject,
        EndpointDeleted,
        DeliveryView,
        DeliveryObject,
        AttemptView,
        EventTypes,
        EventTypeView,
        EventName,
        EventSubscription,
        PayloadApiVersion,
        KeyInflection,
        DeliveryStatus,
        TestQueuedView,
        TestObject,
        CreateEndpointBody,
        UpdateEndpointBody,
        CloneEndpointBody,
        OffsetPagination
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
