//! The API reference page at /docs: one embedded HTML file that renders /api/v1/openapi.json in the
//! browser. It owns only serving that file; it must not describe operations itself (the OpenAPI document
//! is the single source) and must not appear in that document, since it is not an API operation.

use actix_web::{http::header, web, HttpResponse};

const PAGE: &str = include_str!("docs_page.html");

/// Same origin only: the page loads nothing from anywhere else and talks only to this server.
const CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/docs", web::get().to(page)).route("/docs/", web::get().to(redirect));
}

#[tracing::instrument(skip_all)]
async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

#[tracing::instrument(skip_all)]
async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/docs")).finish()
}
