//! /settings/retention: the environment's data-retention windows (spec §1.14).

use super::body::ApiBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::sessions as cmd;
use crate::domain::settings::Retention;
use crate::queries::settings as q;
use actix_web::web;
use serde::Deserialize;
use utoipa::ToSchema;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/settings/retention", "Get data-retention settings", web::get().to(get));
    t.add("PATCH", "/settings/retention", "Update data-retention settings", web::patch().to(update));
}

#[utoipa::path(get, path = "/api/v1/settings/retention", tag = "Settings", operation_id = "get_retention_settings",
    responses((status = 200, description = "The environment's retention settings, defaults filled in", body = Retention)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal) -> ApiResult {
    p.require("sessions:read", &["settings:write"])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::retention(c, &env)).await?))
}

/// Changes to the retention settings; absent fields stay as they are. When the sensitive-data window is
/// longer than the data window (or never ends), full deletion at the end of the data window comes first.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateRetentionBody {
    /// Days, 1 to 36500; null for never.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 36500)]
    sensitive_data_retention_days: Option<Option<i64>>,
    /// Days, 1 to 36500; null for never.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 36500)]
    data_retention_days: Option<Option<i64>>,
    auto_redact_on_retention_expiry: Option<bool>,
    /// Seconds, 30 to 604800.
    #[schema(value_type = Option<i64>, minimum = 30, maximum = 604800)]
    image_url_expiry_seconds: Option<i64>,
}

#[utoipa::path(patch, path = "/api/v1/settings/retention", tag = "Settings", operation_id = "update_retention_settings",
    request_body = UpdateRetentionBody,
    responses((status = 200, description = "The updated retention settings", body = Retention)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(state: web::Data<AppState>, p: Principal, body: ApiBody<UpdateRetentionBody>) -> ApiResult {
    p.require("settings:write", &[])?;
    let b = body.0;
    let env = p.env();
    let mut r: Retention = state.read(move |c| q::retention(c, &env)).await?;
    if let Some(v) = b.sensitive_data_retention_days {
        r.sensitive_data_retention_days = v;
    }
    if let Some(v) = b.data_retention_days {
        r.data_retention_days = v;
    }
    if let Some(v) = b.auto_redact_on_retention_expiry {
        r.auto_redact_on_retention_expiry = v;
    }
    if let Some(v) = b.image_url_expiry_seconds {
        r.image_url_expiry_seconds = v;
    }
    cmd::update_retention(&state.writer, p.meta(state.now()), r).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::retention(c, &env)).await?))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(get, update), components(schemas(Retention, UpdateRetentionBody)))]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
