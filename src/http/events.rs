//! /events: the org audit log (spec §1.16): every change in this environment, newest first, with the
//! spec's filters; and one entry. Must not read the events table itself (the `audit_log` view is the read).

use super::body::{ApiPath, ApiQuery, PageQuery, PathNoun};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::domain::ids::EventId;
use crate::domain::values::{Timestamp, Title};
use crate::queries::events::{self as q, AuditEvent, EventFilter};
use crate::queries::OffsetPage;
use actix_web::web;
use serde::Deserialize;
use utoipa::IntoParams;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/events", "List audit-log events", web::get().to(list));
    t.add("GET", "/events/{event_id}", "Get an audit-log event", web::get().to(get));
}

impl PathNoun for EventId {
    const NOUN: &'static str = "Event";
}

const READ: &str = "events:read";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// A dotted action, e.g. `session.approved`.
    pub action: Option<Title>,
    /// e.g. `session`, `identity`, `case`.
    pub resource_type: Option<Title>,
    pub resource_id: Option<Title>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    /// Free text over actor, action and resource.
    pub q: Option<Title>,
    /// Items per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/events", tag = "Events", operation_id = "list_events", params(EventQuery),
    responses((status = 200, description = "Audit-log entries, newest first", body = OffsetPage<AuditEvent>),
        (status = 422, description = "A filter is invalid", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, query: ApiQuery<EventQuery>) -> ApiResult {
    p.require(READ, &[])?;
    let b = query.0;
    let page = PageQuery { limit: b.limit, offset: b.offset }.page(50)?;
    let text = |v: Option<Title>| v.map(|t| t.as_str().to_string());
    let f = EventFilter {
        action: text(b.action),
        resource_type: text(b.resource_type),
        resource_id: text(b.resource_id),
        created_after: b.created_after.map(|t| t.as_str().to_string()),
        created_before: b.created_before.map(|t| t.as_str().to_string()),
        q: text(b.q),
    };
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::list(c, &env, &f, page)).await?))
}

#[utoipa::path(get, path = "/api/v1/events/{event_id}", tag = "Events", operation_id = "get_event",
    params(("event_id" = EventId, Path, description = "The event")),
    responses((status = 200, description = "The entry", body = AuditEvent),
        (status = 404, description = "No such event in this environment", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<EventId>) -> ApiResult {
    p.require(READ, &[])?;
    let (env, id) = (p.env(), path.into_inner().to_string());
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &id)).await?))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(list, get), components(schemas(AuditEvent, EventId)))]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
