//! Unauthenticated operational routes: /healthz, /readyz, /metrics and the OpenAPI document.

use super::{AppState, RouteSpec};
use crate::error::AppError;
use actix_web::{web, HttpResponse};

pub fn specs() -> Vec<RouteSpec> {
    vec![
        RouteSpec { method: "GET", path: "/healthz", summary: "Liveness", absolute: true },
        RouteSpec { method: "GET", path: "/readyz", summary: "Readiness (database reachable)", absolute: true },
        RouteSpec { method: "GET", path: "/metrics", summary: "Prometheus metrics", absolute: true },
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let conn = state.read.get()?;
    crate::queries::ping(&conn)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })))
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::openapi::document())
}
