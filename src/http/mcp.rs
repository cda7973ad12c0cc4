//! /mcp: the MCP server over Streamable HTTP (spec §1.18). POST carries one JSON-RPC message and is
//! answered with JSON (`initialize`, `ping`, `tools/list`, `tools/call`; 202 for notifications); DELETE
//! ends the session; GET answers 405 (this server sends nothing unprompted, so it opens no stream).
//! Authenticated by `Authorization: Bearer <secret key>` through the same key lookup as the REST API, with
//! its own rate-limit bucket. A tool runs its REST operation in-process through the same route table, with
//! the caller's key as the principal, so its handler, scope checks, commands and queries are the REST API's
//! own; the answer is stripped of personal data, and every call is an audit row marked as made through MCP
//! (`McpToolCalled`, actor `mcp:<key prefix>`, `agent: true`). Must not hold business rules or touch storage.

use super::inflect::Inflection;
use super::reply::{org_origin, Principal, RequestId};
use super::AppState;
use crate::commands::CommandMeta;
use crate::domain::mcp::{is_id, ToolCalled};
use crate::error::AppError;
use crate::mcp::protocol::{self, RpcError, INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND};
use crate::mcp::sessions::Sessions;
use crate::mcp::tools::{self, Action, Kind, Registry, Selection, Tool, DESTRUCTIVE_PER_HOUR};
use crate::mcp::{connector, pii};
use crate::queries::api_keys::KeyRecord;
use crate::ratelimit::{Decision, SlidingCap, MCP_BUCKET};
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use actix_web::{web, App, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// What every worker shares: sessions, the tool table and the destructive calls' hourly cap.
pub struct McpState {
    sessions: Sessions,
    registry: Registry,
    destructive: SlidingCap,
}

impl McpState {
    pub fn new() -> Result<McpState, AppError> {
        let registry = Registry::build(&super::openapi::document()).map_err(AppError::Internal)?;
        Ok(McpState {
            sessions: Sessions::default(),
            registry,
            destructive: SlidingCap::new(DESTRUCTIVE_PER_HOUR, 3600),
        })
    }
}

type LocalCall =
    Rc<dyn Fn(TestRequest, Principal) -> LocalBoxFuture<'static, Result<ServiceResponse, actix_web::Error>>>;

/// This worker's in-process instance of the /api/v1 routes (without the API gate: the caller is already
/// authenticated, and MCP has its own rate limit), built on first use.
#[derive(Default)]
struct LocalApi(RefCell<Option<LocalCall>>);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(LocalApi::default()).service(
        web::resource("/mcp")
            .route(web::post().to(post))
            .route(web::delete().to(delete))
            .route(web::get().to(get))
            .default_service(web::to(get)),
    );
}

fn json_response(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status).content_type("application/json").body(body.to_string())
}

fn rpc_error(status: StatusCode, id: Value, e: RpcError) -> HttpResponse {
    json_response(status, protocol::failure(id, &e))
}

fn rate_headers(res: &mut HttpResponse, d: &Decision) {
    for (name, value) in [
        ("x-ratelimit-limit", d.limit.to_string()),
        ("x-ratelimit-remaining", d.remaining.to_string()),
        ("x-ratelimit-reset", d.reset_at.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            res.headers_mut().insert(actix_web::http::header::HeaderName::from_static(name), v);
        }
    }
}

/// The spec's error shape, with `WWW-Authenticate` on a 401 (the scheme MCP clients expect).
fn refuse(e: AppError) -> HttpResponse {
    let mut res = e.error_response();
    if res.status() == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(actix_web::http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

/// The secret key of `Authorization: Bearer`, checked by the REST API's own lookup; publishable and
/// VerifyHQ keys are refused.
async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Arc<KeyRecord>, AppError> {
    let secret = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string())
        .ok_or_else(|| {
            AppError::Unauthorized("Missing API key: send a secret key as 'Authorization: Bearer <key>'.".into())
        })?;
    let key = state.auth.authenticate(&secret, req.peer_addr().map(|a| a.ip()), state.clock.now()).await?;
    if key.key_type == crate::domain::api_key::VERIFYHQ_KEY_TYPE {
        return Err(AppError::Unauthorized("This is a VerifyHQ API key; the MCP server takes secret vk_ keys.".into()));
    }
    if key.key_type == "publishable" {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: "Publishable keys cannot use the MCP server; use a secret API key.".into(),
        });
    }
    Ok(key)
}

/// A browser page on another site must not reach a local server (DNS rebinding): an `Origin` is accepted
/// when it is this server's own (its Host, or the configured public URL) or a loopback address.
fn origin_allowed(req: &HttpRequest, state: &AppState) -> bool {
    let Some(origin) = req.headers().get("origin").and_then(|v| v.to_str().ok()) else { return true };
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest).trim_end_matches('/');
    let host = req.headers().get("host").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let public = state.config.public_url.as_deref().map(|u| u.split_once("://").map_or(u, |(_, r)| r));
    let hostname = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    authority.eq_ignore_ascii_case(host)
        || public.is_some_and(|p| p.trim_end_matches('/').eq_ignore_ascii_case(authority))
        || matches!(hostname, "localhost" | "127.0.0.1" | "[::1]")
}

/// Authentication, the origin check and the MCP bucket, shared by POST and DELETE.
async fn admit(req: &HttpRequest, state: &AppState) -> Result<(Arc<KeyRecord>, Decision), HttpResponse> {
    let key = authenticate(req, state).await.map_err(refuse)?;
    if !origin_allowed(req, state) {
        return Err(refuse(AppError::Forbidden {
            code: "forbidden",
            detail: "This Origin may not call the MCP server.".into(),
        }));
    }
    let now = state.clock.now().unix_timestamp();
    let decision = state.rate_limiter.check(&format!("{MCP_BUCKET}{}", key.id), state.config.rate_limit_rpm, now, true);
    if !decision.allowed {
        let mut res = AppError::RateLimited { retry_after: decision.retry_after }.error_response();
        rate_headers(&mut res, &decision);
        return Err(res);
    }
    Ok((key, decision))
}

#[tracing::instrument(skip_all)]
async fn get() -> HttpResponse {
    let mut res = AppError::MethodNotAllowed.error_response();
    res.headers_mut().insert(actix_web::http::header::ALLOW, HeaderValue::from_static("POST, DELETE"));
    res
}

#[tracing::instrument(skip_all)]
async fn delete(req: HttpRequest, state: web::Data<AppState>, mcp: web::Data<McpState>) -> HttpResponse {
    let (key, decision) = match admit(&req, &state).await {
        Ok(k) => k,
        Err(res) => return res,
    };
    let mut res = match req.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
        None => refuse(AppError::BadRequest("Send the session to end in the Mcp-Session-Id header.".into())),
        Some(id) if mcp.sessions.close(id, &key.id) => HttpResponse::NoContent().finish(),
        Some(_) => refuse(AppError::NotFound("No such MCP session.".into())),
    };
    rate_headers(&mut res, &decision);
    res
}

#[tracing::instrument(skip_all)]
async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
    mcp: web::Data<McpState>,
) -> HttpResponse {
    let (key, decision) = match admit(&req, &state).await {
        Ok(k) => k,
        Err(res) => return res,
    };
    let mut res = match Selection::from_query(req.query_string()) {
        Err(detail) => refuse(AppError::BadRequest(detail)),
        Ok(sel) => message(&req, &state, &mcp, &key, &sel, &body).await,
    };
    rate_headers(&mut res, &decision);
    res
}

async fn message(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    mcp: &McpState,
    key: &Arc<KeyRecord>,
    sel: &Selection,
    body: &[u8],
) -> HttpResponse {
    let msg = match protocol::parse(body) {
        Ok(m) => m,
        Err((id, e)) => return rpc_error(StatusCode::BAD_REQUEST, id, e),
    };
    let session_id = req.headers().get(SESSION_HEADER).and_then(|v| v.to_str().ok());
    let (id, method, params) = match msg {
        protocol::Message::Request { id, method, params } => (id, method, params),
        // Notifications (`notifications/initialized`, `notifications/cancelled`) and answers need nothing
        // from this server but an acknowledgement; an unknown session is still reported.
        protocol::Message::Notification { .. } | protocol::Message::Response => {
            return match session_id {
                Some(s) if mcp.sessions.touch(s, &key.id).is_none() => {
                    refuse(AppError::NotFound("No such MCP session; initialize again.".into()))
                }
                _ => HttpResponse::Accepted().finish(),
            };
        }
    };
    if method == "initialize" {
        let requested = params.get("protocolVersion").and_then(Value::as_str);
        let version = protocol::negotiate(requested);
        let session = mcp.sessions.open(&key.id, version);
        let mut res = json_response(StatusCode::OK, protocol::success(id, protocol::initialize_result(version)));
        if let Ok(v) = HeaderValue::from_str(&session) {
            res.headers_mut().insert(actix_web::http::header::HeaderName::from_static(SESSION_HEADER), v);
        }
        return res;
    }
    let Some(session_id) = session_id else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            id,
            RpcError::new(INVALID_REQUEST, "Bad Request: no Mcp-Session-Id header; send initialize first."),
        );
    };
    if mcp.sessions.touch(session_id, &key.id).is_none() {
        return rpc_error(
            StatusCode::NOT_FOUND,
            id,
            RpcError::new(INVALID_REQUEST, "Session not found: it ended or never existed; initialize again."),
        );
    }
    if let Some(v) = req.headers().get(VERSION_HEADER).and_then(|v| v.to_str().ok()) {
        if !protocol::is_supported(v) {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                id,
                RpcError::new(INVALID_REQUEST, format!("Unsupported MCP-Protocol-Version '{v}'.")),
            );
        }
    }
    let result = match method.as_str() {
        "ping" => Ok(json!({})),
        "tools/list" => {
            let tools: Vec<Value> = mcp.registry.listed(sel, &key.scopes).map(Tool::describe).collect();
            Ok(json!({ "tools": tools }))
        }
        "tools/call" => call_tool(req, state, mcp, key, sel, &params).await,
        other => Err(RpcError::new(METHOD_NOT_FOUND, format!("Method not found: {other}"))),
    };
    match result {
        Ok(v) => json_response(StatusCode::OK, protocol::success(id, v)),
        Err(e) => json_response(StatusCode::OK, protocol::failure(id, &e)),
    }
}

/// A tool's answer: its JSON as text (and as structured content when it is an object).
fn tool_result(value: &Value, is_error: bool) -> Value {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = json!({ "content": [{ "type": "text", "text": text }], "isError": is_error });
    if value.is_object() && !is_error {
        out["structuredContent"] = value.clone();
    }
    out
}

/// Ids named in the arguments (never free text such as names searched for).
fn targets(args: &Map<String, Value>) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if is_id(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    args.values().for_each(|v| walk(v, &mut out));
    out.truncate(100);
    out
}

async fn call_tool(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    mcp: &McpState,
    key: &Arc<KeyRecord>,
    sel: &Selection,
    params: &Value,
) -> Result<Value, RpcError> {
    let name =
        params.get("name").and_then(Value::as_str).ok_or_else(|| RpcError::invalid_params("Missing tool name."))?;
    let tool = mcp.registry.get(name).ok_or_else(|| RpcError::invalid_params(format!("Unknown tool: {name}")))?;
    let args = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => return Err(RpcError::invalid_params("Tool arguments must be an object.")),
    };
    let def = tool.def;
    let mut record = ToolCalled {
        tool: def.name.to_string(),
        toolset: def.toolset.to_string(),
        kind: match def.kind {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Destructive => "destructive",
        }
        .to_string(),
        agent: true,
        outcome: "refused".into(),
        status: None,
        targets: targets(&args),
        reason: None,
    };
    let outcome = run_tool(req, state, mcp, key, sel, tool, &args, &mut record).await;
    let (value, is_error) = match outcome {
        Ok((status, mut value)) => {
            pii::scrub(&mut value);
            record.status = status;
            let failed = status.is_some_and(|s| s >= 400);
            record.outcome = if failed { "error" } else { "ok" }.into();
            (value, failed)
        }
        Err(text) => (Value::String(text), true),
    };
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let meta = CommandMeta {
        actor: format!("mcp:{}", key.key_prefix),
        environment: key.environment.clone(),
        request_id,
        now: state.now(),
        origin: Some(org_origin(req)),
    };
    // Nothing leaves without its audit row.
    crate::commands::mcp::record_tool_call(&state.writer, meta, key.id.clone(), record).await.map_err(|e| {
        tracing::error!(error = %e, "could not record an MCP tool call");
        RpcError::new(INTERNAL_ERROR, "The call could not be recorded in the audit log; retry.")
    })?;
    Ok(tool_result(&value, is_error))
}

/// Runs one permitted call: `Ok((status, body))` when it ran (status `None` for answers made here),
/// `Err(text)` for a refusal in the caller's words.
#[allow(clippy::too_many_arguments)]
async fn run_tool(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    mcp: &McpState,
    key: &Arc<KeyRecord>,
    sel: &Selection,
    tool: &Tool,
    args: &Map<String, Value>,
    record: &mut ToolCalled,
) -> Result<(Option<u16>, Value), String> {
    let def = tool.def;
    if let Some(text) = def.refusal(sel, &key.scopes) {
        return Err(text);
    }
    let now = state.clock.now().unix_timestamp();
    if def.kind == Kind::Destructive {
        let reason = tools::reason(args)?;
        record.reason = Some(reason);
        if let Err(wait) = mcp.destructive.admit(&key.id, now) {
            return Err(format!(
                "Tool '{}' refused: destructive tools are capped at {DESTRUCTIVE_PER_HOUR} calls per hour per API key; \
                 the next one is possible in {} minutes.",
                def.name,
                wait.div_ceil(60)
            ));
        }
    }
    let principal = Principal {
        key: key.clone(),
        inflection: Inflection::Snake,
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default(),
        origin: org_origin(req),
    };
    let base = state.config.public_url.clone().unwrap_or_else(|| {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    });
    match def.action {
        Action::Route { .. } => {
            let call = tool.route_call(args)?;
            let (status, body) = run_local(req, state, principal, call.method, &call.uri, call.body).await?;
            Ok((Some(status), body))
        }
        Action::Whoami => Ok((
            None,
            json!({
                "key_id": key.id,
                "key_prefix": key.key_prefix,
                "environment": key.environment,
                "scopes": key.scopes,
                "toolsets": sel.toolsets,
                "read_only": sel.read_only,
                "tools": mcp.registry.listed(sel, &key.scopes).count(),
            }),
        )),
        Action::Usage => {
            let window = |d: Decision| {
                let reset = d.retry_after;
                json!({ "limit": d.limit, "remaining": d.remaining, "reset_in_seconds": reset, "window_seconds": 60 })
            };
            let limit = state.config.rate_limit_rpm;
            let mut out = json!({
                "rest": window(state.rate_limiter.check(&key.id, limit, now, false)),
                "mcp": window(state.rate_limiter.check(&format!("{MCP_BUCKET}{}", key.id), limit, now, false)),
                "destructive": { "limit": mcp.destructive.limit(), "remaining": mcp.destructive.remaining(&key.id, now),
                    "window_seconds": mcp.destructive.window_secs() },
            });
            if key.scopes.iter().any(|s| s == "cases:read" || s == "cases:write") {
                if let Ok((200, counts)) = run_local(req, state, principal, "GET", "/api/v1/cases/counts", None).await {
                    out["cases"] = counts;
                }
            }
            Ok((None, out))
        }
        Action::Search => {
            let query = args.get("query").and_then(Value::as_str).filter(|q| !q.trim().is_empty());
            let query = query.ok_or("Argument 'query' is required (a string).")?;
            let mut answers = Vec::new();
            for (kind, uri) in connector::search_reads(query, &key.scopes) {
                if let Ok((200, mut body)) = run_local(req, state, principal.clone(), "GET", &uri, None).await {
                    pii::scrub(&mut body);
                    answers.push((kind, body));
                }
            }
            Ok((None, connector::search_results(&base, &answers)))
        }
        Action::Fetch => {
            let id = args.get("id").and_then(Value::as_str).ok_or("Argument 'id' is required (a string).")?;
            let (kind, uri) = connector::fetch_read(id, &key.scopes)?;
            let (status, mut body) = run_local(req, state, principal, "GET", &uri, None).await?;
            if status >= 400 {
                return Ok((Some(status), body));
            }
            pii::scrub(&mut body);
            Ok((Some(status), connector::fetch_result(&base, kind, id.trim(), &body)))
        }
    }
}

/// Runs one /api/v1 request in-process as `principal`: the REST handler answers exactly as it would over
/// HTTP. Returns the status and the JSON body (null when empty).
async fn run_local(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    principal: Principal,
    method: &'static str,
    uri: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let api = local_api(req, state).await?;
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| "bad method".to_string())?;
    let mut request = TestRequest::default().method(method).uri(uri);
    if let Some(addr) = req.peer_addr() {
        request = request.peer_addr(addr);
    }
    if let Some(body) = body {
        request = request.insert_header((CONTENT_TYPE, "application/json")).set_payload(body.to_string());
    }
    let res = match api(request, principal).await {
        Ok(res) => res.into_parts().1,
        Err(e) => e.error_response(),
    };
    let status = res.status().as_u16();
    let bytes =
        actix_web::body::to_bytes(res.into_body()).await.map_err(|_| "The answer could not be read.".to_string())?;
    let value = if bytes.is_empty() {
        json!({ "status": status })
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok((status, value))
}

async fn local_api(req: &HttpRequest, state: &web::Data<AppState>) -> Result<LocalCall, String> {
    let holder = req.app_data::<LocalApi>().ok_or("The MCP server is not configured on this worker.")?;
    if let Some(call) = holder.0.borrow().as_ref() {
        return Ok(call.clone());
    }
    let app = App::new()
        .app_data(state.clone())
        .app_data(web::PayloadConfig::new(state.config.json_body_limit))
        .service(super::api_routes().into_scope(web::scope("/api/v1")));
    // Building the route table's services cannot fail: no route has a fallible factory.
    let service = Rc::new(actix_web::test::init_service(app).await);
    let call: LocalCall = Rc::new(move |request: TestRequest, principal: Principal| {
        let service = service.clone();
        let request = request.to_request();
        request.extensions_mut().insert(principal);
        Box::pin(async move { service.call(request).await })
    });
    *holder.0.borrow_mut() = Some(call.clone());
    Ok(call)
}
