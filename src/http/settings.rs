//! /settings/retention: the environment's data-retention windows (spec §1.14).

use super::body::ApiBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::sessions as cmd;
use crate::domain::settings::Retention;
use crate::queries::settings as q;
use actix_web::web;
use serde::Deserialize;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/settings/retention", "Get data-retention settings", web::get().to(get));
    t.add("PATCH", "/settings/retention", "Update data-retention settings", web::patch().to(update));
}

async fn get(state: web::Data<AppState>, p: Principal) -> ApiResult {
    p.require("sessions:read", &["settings:write"])?;
    Ok(Reply::ok(serde_json::to_value(q::retention(&*state.read.get()?, p.environment())?)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    #[serde(default, with = "crate::domain::double_option")]
    sensitive_data_retention_days: Option<Option<i64>>,
    #[serde(default, with = "crate::domain::double_option")]
    data_retention_days: Option<Option<i64>>,
    auto_redact_on_retention_expiry: Option<bool>,
    image_url_expiry_seconds: Option<i64>,
}

async fn update(state: web::Data<AppState>, p: Principal, body: ApiBody<UpdateBody>) -> ApiResult {
    p.require("settings:write", &[])?;
    let b = body.0;
    let mut r: Retention = q::retention(&*state.read.get()?, p.environment())?;
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
    Ok(Reply::ok(serde_json::to_value(q::retention(&*state.read.get()?, p.environment())?)?))
}
