//! /dashboard/webhooks: the environment's endpoints and its delivery log (event, endpoint, status,
//! attempts, last response, next retry), newest first, filtered by endpoint and status. Must not write or
//! open an endpoint's secret.

use super::{badge, opt, pager, table, when, Fields};
use crate::http::dashboard::auth::SignedIn;
use crate::http::dashboard::layout::{escape, shell, PageResult, Section};
use crate::http::AppState;
use crate::queries::delivery_log::{self as dlog, DeliveryLogFilter};
use crate::queries::Page;
use actix_web::{web, HttpRequest};

const DELIVERY_STATUSES: &[&str] = &["pending", "retrying", "delivered", "failed"];

/// The environment's endpoints and its delivery log, newest first, filtered by endpoint and status.
#[tracing::instrument(skip_all)]
pub(super) async fn log(req: HttpRequest, state: web::Data<AppState>, SignedIn(reviewer): SignedIn) -> PageResult {
    let query = Fields::of_query(&req);
    let endpoint = query.get("endpoint").filter(|e| e.len() <= 64).map(str::to_string);
    let status = query.get("status").filter(|s| DELIVERY_STATUSES.contains(s)).map(str::to_string);
    let filter = DeliveryLogFilter { endpoint_id: endpoint.clone(), status: status.clone() };
    let page = Page { limit: 50, offset: query.offset() };
    let env = reviewer.environment.to_string();
    let (endpoints, deliveries) =
        state.read(move |c| Ok((dlog::endpoints(c, &env)?, dlog::list(c, &env, &filter, page)?))).await?;
    let endpoint_rows: Vec<String> = endpoints
        .iter()
        .map(|e| {
            let state = if e.enabled {
                badge("enabled")
            } else {
                badge(&format!("disabled {}", e.disabled_reason.as_deref().unwrap_or("")).replace(' ', "_"))
            };
            format!(
                "<tr><td><a href=\"/dashboard/webhooks?endpoint={id}\"><code>{id}</code></a></td><td class=\"url\">{url}</td>\
                 <td>{label}</td><td>{state}</td><td>{created}</td></tr>",
                id = escape(&e.id),
                url = escape(&e.url),
                label = opt(e.label.as_deref()),
                created = when(&e.created_at),
            )
        })
        .collect();
    let endpoint_options: String = endpoints
        .iter()
        .map(|e| {
            let selected = if endpoint.as_deref() == Some(e.id.as_str()) { " selected" } else { "" };
            format!("<option value=\"{id}\"{selected}>{url}</option>", id = escape(&e.id), url = escape(&e.url))
        })
        .collect();
    let status_options: String = DELIVERY_STATUSES
        .iter()
        .map(|s| {
            let selected = if status.as_deref() == Some(*s) { " selected" } else { "" };
            format!("<option value=\"{s}\"{selected}>{s}</option>")
        })
        .collect();
    let delivery_rows: Vec<String> = deliveries
        .data
        .iter()
        .map(|d| {
            let error = d.last_error.as_deref().map(|e| format!("<div class=\"muted small\">{}</div>", escape(e)));
            format!(
                "<tr data-delivery=\"{id}\"><td>{created}</td><td><code>{event}</code></td><td class=\"url\">{url}</td>\
                 <td>{status}</td><td>{attempts}</td><td>{code}{error}</td><td>{next}</td></tr>",
                id = escape(&d.id),
                created = when(&d.created_at),
                event = escape(&d.event_type),
                url = d.url.as_deref().map(escape).unwrap_or_else(|| format!("<code>{}</code>", escape(&d.endpoint_id))),
                status = badge(&d.status),
                attempts = d.attempts,
                code = d.last_status_code.map(|c| c.to_string()).unwrap_or_else(|| opt(None)),
                error = error.unwrap_or_default(),
                next = d.next_attempt_at.as_deref().map(when).unwrap_or_else(|| opt(None)),
            )
        })
        .collect();
    let keep = [("endpoint", endpoint.as_deref().unwrap_or("")), ("status", status.as_deref().unwrap_or(""))];
    let body = format!(
        "<h1>Webhooks</h1><section><h2>Endpoints</h2>{endpoints}</section>\
         <section><h2>Delivery log</h2>\
         <form class=\"toolbar filters\" method=\"get\" action=\"/dashboard/webhooks\">\
         <label for=\"f-endpoint\">Endpoint</label><select id=\"f-endpoint\" name=\"endpoint\"><option value=\"\">All endpoints</option>{endpoint_options}</select>\
         <label for=\"f-status\">Status</label><select id=\"f-status\" name=\"status\"><option value=\"\">Any status</option>{status_options}</select>\
         <button type=\"submit\">Filter</button></form>{deliveries}{pager}</section>",
        endpoints = table(&["Endpoint", "URL", "Label", "State", "Created"], &endpoint_rows, "No webhook endpoints in this environment."),
        deliveries = table(
            &["Time", "Event", "Endpoint", "Status", "Attempts", "Last response", "Next retry"],
            &delivery_rows,
            "No deliveries."
        ),
        pager = pager(&deliveries, "/dashboard/webhooks", &keep),
    );
    Ok(shell(&reviewer, Section::Webhooks, "Webhooks", &body))
}
