//! The actix layer only: the route table (one `configure`), extractors, the error mapping and one file
//! per URL resource. Handlers parse, make one call into commands or queries, and respond. Must not
//! import rusqlite, the store or crypto.

mod api_keys;
mod body;
mod capture;
mod cases;
mod checks;
pub mod dashboard;
mod docs;
mod documents;
pub mod error;
mod events;
mod findings;
mod identities;
pub mod inflect;
mod lists;
mod mcp;
mod middleware;
pub mod openapi;
mod prefer;
mod relationships;
mod reply;
mod sessions;
mod settings;
mod system;
mod types;
mod users;
pub mod verifyhq;
mod watchlists;
mod webhooks;
mod workflows;

pub use crate::state::AppState;

use crate::error::{AppError, AppResult};
use actix_web::{middleware::from_fn, web, App, HttpServer};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;

/// One served operation, as the OpenAPI document and the tests see it.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: &'static str,
    /// Relative to `/api/v1` unless `absolute`.
    pub path: &'static str,
    pub summary: &'static str,
    pub absolute: bool,
}

impl RouteSpec {
    pub fn full_path(&self) -> String {
        if self.absolute {
            self.path.to_string()
        } else {
            format!("/api/v1{}", self.path)
        }
    }
}

/// Collects routes per path so that a known path with an unknown method answers 405, not 404.
pub struct RouteTable {
    specs: Vec<RouteSpec>,
    order: Vec<&'static str>,
    routes: BTreeMap<&'static str, Vec<(&'static str, actix_web::Route)>>,
}

impl RouteTable {
    fn new() -> Self {
        RouteTable { specs: Vec::new(), order: Vec::new(), routes: BTreeMap::new() }
    }

    pub fn add(&mut self, method: &'static str, path: &'static str, summary: &'static str, route: actix_web::Route) {
        self.specs.push(RouteSpec { method, path, summary, absolute: false });
        if !self.routes.contains_key(path) {
            self.order.push(path);
        }
        self.routes.entry(path).or_default().push((method, route));
    }

    /// Registers the routes in nested scopes, one per first path segment (`/identities`, `/sessions`, ...):
    /// a request is matched against its own group's patterns only, instead of trying every parameterised
    /// pattern of the API in turn. Order within a group is kept (static paths before parameterised ones).
    fn into_scope(self, scope: actix_web::Scope) -> actix_web::Scope {
        let mut routes = self.routes;
        let mut groups: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for path in self.order {
            let segment = first_segment(path);
            match groups.iter_mut().find(|(s, _)| *s == segment) {
                Some((_, paths)) => paths.push(path),
                None => groups.push((segment, vec![path])),
            }
        }
        let mut scope = scope;
        for (segment, paths) in groups {
            let mut group = web::scope(segment);
            for path in paths {
                let rest = &path[segment.len()..];
                let mut resource = web::resource(actix_path(rest)).default_service(web::to(method_not_allowed));
                for (_, route) in routes.remove(path).unwrap_or_default() {
                    resource = resource.route(route);
                }
                group = group.service(resource);
            }
            scope = scope.service(group);
        }
        scope
    }
}

/// `/identities` of `/identities/{identity_id}/sessions`.
fn first_segment(path: &'static str) -> &'static str {
    let end = path[1..].find('/').map_or(path.len(), |i| i + 1);
    &path[..end]
}

/// `{identity_id}` style in the spec is also actix's style.
fn actix_path(path: &str) -> String {
    path.to_string()
}

#[tracing::instrument(skip_all)]
async fn method_not_allowed() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::MethodNotAllowed)
}

#[tracing::instrument(skip_all)]
async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound("No such resource or route.".into()))
}

/// Every API route, in registration order (static paths before parameterised ones).
pub fn api_routes() -> RouteTable {
    let mut t = RouteTable::new();
    identities::routes(&mut t);
    relationships::routes(&mut t);
    types::routes(&mut t);
    api_keys::routes(&mut t);
    sessions::routes(&mut t);
    documents::routes(&mut t);
    settings::routes(&mut t);
    workflows::routes(&mut t);
    webhooks::routes(&mut t);
    lists::routes(&mut t);
    checks::routes(&mut t);
    findings::routes(&mut t);
    watchlists::routes(&mut t);
    users::routes(&mut t);
    cases::routes(&mut t);
    events::routes(&mut t);
    t
}

/// The routes outside /api/v1 (health, metrics, the OpenAPI document itself is inside).
pub fn unversioned_specs() -> Vec<RouteSpec> {
    let mut specs = system::specs();
    specs.extend(capture::specs());
    specs.push(RouteSpec {
        method: "GET",
        path: "/api/v1/sessions/{session_id}/documents/{doc_type}",
        summary: "Download a document via its signed URL",
        absolute: true,
    });
    specs.push(RouteSpec {
        method: "GET",
        path: "/api/v1/documents/{document_id}/download",
        summary: "Download a document via its signed URL",
        absolute: true,
    });
    specs.push(RouteSpec {
        method: "POST",
        path: "/api/v1/auth/refresh",
        summary: "Refresh the dashboard session",
        absolute: true,
    });
    specs
}

/// Every served operation: what the OpenAPI document must cover.
pub fn all_specs() -> Vec<RouteSpec> {
    let mut specs = api_routes().specs;
    specs.push(RouteSpec { method: "GET", path: "/openapi.json", summary: "OpenAPI document", absolute: false });
    specs.extend(unversioned_specs());
    specs
}

pub fn server(state: Arc<AppState>, listener: TcpListener, workers: usize) -> AppResult<actix_web::dev::Server> {
    let data = web::Data::from(state);
    // One MCP state (sessions, the destructive calls' cap) for every worker.
    let mcp = web::Data::new(mcp::McpState::new()?);
    let server = HttpServer::new(move || {
        let api = api_routes().into_scope(web::scope("/api/v1")).wrap(from_fn(middleware::api_gate));
        App::new()
            .app_data(data.clone())
            // Only the idempotency middleware buffers raw bodies (to fingerprint them): uploads up to two
            // 10 MB images (VerifyHQ's front and back) and their form.
            .app_data(web::PayloadConfig::new(data.config.json_body_limit.max(21 * 1024 * 1024)))
            .wrap(from_fn(middleware::observe))
            .configure(system::configure)
            .app_data(mcp.clone())
            .configure(mcp::configure)
            // Before the /api/v1 scope: refresh is authenticated by the dashboard cookie, not an API key.
            .configure(dashboard::configure_refresh)
            .route("/api/v1/openapi.json", web::get().to(system::openapi))
            .route("/api/v1/sessions/{session_id}/documents/{doc_type}", web::get().to(sessions::download))
            .route("/api/v1/documents/{document_id}/download", web::get().to(documents::download))
            .service(api)
            .service(verifyhq::scope())
            // Pages after the APIs: routes outside a scope are tried one by one, each parameterised one with a
            // regular expression, so an API request does not pay for the capture and dashboard patterns.
            .configure(capture::configure)
            .configure(docs::configure)
            .configure(dashboard::configure)
            .default_service(web::to(not_found))
    })
    .workers(workers)
    .backlog(2048)
    .listen(listener)
    .map_err(|e| AppError::Unavailable(format!("cannot serve: {e}")))?
    .shutdown_timeout(5)
    .run();
    Ok(server)
}
