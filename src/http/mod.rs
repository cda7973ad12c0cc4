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

    /// Registers the routes in nested scopes, one per first path segment (`/identities`, `/sessions`, ...),
    /// and inside each, one per parameter segment (`/{session_id}`): a request is matched against its own
    /// group's patterns only, and a path under a resource (`/sessions/{session_id}/submit`) captures its
    /// parameter once, then compares plain strings, instead of trying every parameterised pattern in turn.
    /// Within a scope, paths whose next segment is plain come first, in the order added; then one scope per
    /// parameter segment.
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
            let members = paths.into_iter().map(|path| (&path[segment.len()..], path)).collect();
            scope = scope.service(nest(web::scope(segment), members, &mut routes));
        }
        scope
    }
}

/// Adds `members` (the rest of each path below `scope`, and the whole path) to `scope`: plain ones as
/// resources, the ones below a parameter segment in a scope of their own, recursively.
fn nest(
    mut scope: actix_web::Scope,
    members: Vec<(&'static str, &'static str)>,
    routes: &mut BTreeMap<&'static str, Vec<(&'static str, actix_web::Route)>>,
) -> actix_web::Scope {
    let mut below: Vec<(&'static str, Vec<(&'static str, &'static str)>)> = Vec::new();
    for (rest, path) in members {
        let segment = if rest.is_empty() { "" } else { first_segment(rest) };
        if !segment.starts_with("/{") {
            let mut resource = web::resource(actix_path(rest)).default_service(web::to(method_not_allowed));
            for (_, route) in routes.remove(path).unwrap_or_default() {
                resource = resource.route(route);
            }
            scope = scope.service(resource);
            continue;
        }
        let member = (&rest[segment.len()..], path);
        match below.iter_mut().find(|(s, _)| *s == segment) {
            Some((_, members)) => members.push(member),
            None => below.push((segment, vec![member])),
        }
    }
    for (segment, members) in below {
        scope = scope.service(nest(web::scope(segment), members, routes));
    }
    scope
}

/// `/identities` of `/identities/{identity_id}/sessions`.
fn first_segment(path: &str) -> &str {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every API path, nested as `into_scope` nests the real table, is reached by a request for it (its
    /// parameters filled in), with every one of its methods, and a method it lacks is told 405: no path
    /// is hidden behind another's scope or pattern.
    #[actix_web::test]
    async fn every_api_route_is_reached_through_the_nested_scopes() {
        async fn echo(req: actix_web::HttpRequest) -> String {
            req.match_pattern().unwrap_or_default()
        }
        let specs = api_routes().specs;
        let mut table = RouteTable::new();
        for spec in &specs {
            let route = web::method(spec.method.parse().unwrap()).to(echo);
            table.add(spec.method, spec.path, spec.summary, route);
        }
        let app = actix_web::test::init_service(
            App::new().service(table.into_scope(web::scope("/api/v1"))).default_service(web::to(not_found)),
        )
        .await;
        assert!(specs.len() > 150, "{}", specs.len());
        let filled = |path: &str| {
            let mut out = String::new();
            let mut inside = false;
            for c in path.chars() {
                match c {
                    '{' => {
                        inside = true;
                        out.push_str("x1y2");
                    }
                    '}' => inside = false,
                    _ if inside => {}
                    c => out.push(c),
                }
            }
            out
        };
        for spec in &specs {
            let uri = format!("/api/v1{}", filled(spec.path));
            let req =
                actix_web::test::TestRequest::default().method(spec.method.parse().unwrap()).uri(&uri).to_request();
            let body = actix_web::test::call_and_read_body(&app, req).await;
            assert_eq!(String::from_utf8_lossy(&body), format!("/api/v1{}", spec.path), "{} {uri}", spec.method);
            let req = actix_web::test::TestRequest::default().method("TRACE".parse().unwrap()).uri(&uri).to_request();
            let res = actix_web::test::call_service(&app, req).await;
            assert_eq!(res.status(), 405, "TRACE {uri}");
        }
    }
}
