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

/// Liveness or readiness.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct Health {
    /// `ok` (liveness) or `ready` (readiness).
    #[schema(example = "ok")]
    status: String,
}

#[utoipa::path(get, path = "/healthz", tag = "System", operation_id = "healthz",
    responses((status = 200, description = "The process is up", body = Health, example = json!({"status": "ok"}))))]
#[tracing::instrument(skip_all)]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into() })
}

#[utoipa::path(get, path = "/readyz", tag = "System", operation_id = "readyz",
    responses((status = 200, description = "The database answers", body = Health, example = json!({"status": "ready"})),
              (status = 503, description = "The database does not answer", body = super::error::ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    state.read(crate::queries::ping).await?;
    Ok(HttpResponse::Ok().json(Health { status: "ready".into() }))
}

#[utoipa::path(get, path = "/metrics", tag = "System", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format", body = String,
               content_type = "text/plain")))]
#[tracing::instrument(skip_all)]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "System", operation_id = "openapi",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object)))]
#[tracing::instrument(skip_all)]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(super::openapi::document())
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz, metrics, openapi), components(schemas(Health)))]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
