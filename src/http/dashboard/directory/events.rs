//! /dashboard/events: the org audit log of the environment (the `queries::events` list with the API's
//! filters), newest first, each row with its sequence number, action, resource and actor. Must not write.

use super::{field_error, flash, pager, shown_on_page, table, when, with_status, Fields};
use crate::domain::values::{self, Timestamp};
use crate::error::AppError;
use crate::http::dashboard::auth::SignedIn;
use crate::http::dashboard::layout::{escape, shell, PageResult, Section};
use crate::http::AppState;
use crate::queries::events::{self as ev, EventFilter};
use crate::queries::Page;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest};

/// A date (`YYYY-MM-DD`, from an `<input type=date>`) or a timestamp; `end` moves a date to its last moment.
fn moment(form: &Fields, field: &str, end: bool) -> Result<Option<String>, AppError> {
    let Some(v) = form.get(field) else { return Ok(None) };
    let text = if v.len() == 10 {
        values::parse_date(field, v).map_err(field_error)?;
        format!("{v}T{}Z", if end { "23:59:59.999" } else { "00:00:00.000" })
    } else {
        v.to_string()
    };
    Ok(Some(Timestamp::parse(field, &text).map_err(field_error)?.into_string()))
}

fn event_filter(form: &Fields) -> Result<EventFilter, AppError> {
    let text = |f: &str| -> Result<Option<String>, AppError> {
        form.get(f).map(|v| values::parse_text(f, v, 200).map_err(field_error)).transpose()
    };
    Ok(EventFilter {
        action: text("action")?,
        resource_type: text("resource_type")?,
        resource_id: text("resource_id")?,
        q: text("q")?,
        created_after: moment(form, "created_after", false)?,
        created_before: moment(form, "created_before", true)?,
    })
}

/// Where a resource of the audit log is shown on the dashboard, if it is.
fn resource_link(kind: &str, id: &str) -> String {
    let code = format!("<code>{}</code>", escape(id));
    match kind {
        "identity" => format!("<a href=\"/dashboard/identities/{}\">{code}</a>", escape(id)),
        "case" => format!("<a href=\"/dashboard/cases/{}\">{code}</a>", escape(id)),
        _ => code,
    }
}

const EVENT_FILTERS: &[(&str, &str, &str)] = &[
    ("action", "Action", "text"),
    ("resource_type", "Resource type", "text"),
    ("resource_id", "Resource id", "text"),
    ("q", "Text", "search"),
    ("created_after", "From", "date"),
    ("created_before", "To", "date"),
];

/// The org audit log of the environment, newest first, with the API's filters.
#[tracing::instrument(skip_all)]
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>, SignedIn(reviewer): SignedIn) -> PageResult {
    let query = Fields::of_query(&req);
    let inputs: String = EVENT_FILTERS
        .iter()
        .map(|(name, label, kind)| {
            format!(
                "<div><label for=\"e-{name}\">{label}</label><input id=\"e-{name}\" name=\"{name}\" type=\"{kind}\" value=\"{}\"></div>",
                escape(query.get(name).unwrap_or(""))
            )
        })
        .collect();
    let form = format!(
        "<form class=\"card filters\" method=\"get\" action=\"/dashboard/events\"><div class=\"form-grid\">{inputs}</div>\
         <div class=\"toolbar\"><button type=\"submit\" class=\"primary\">Filter</button><a href=\"/dashboard/events\">Clear</a></div></form>"
    );
    let filter = match event_filter(&query) {
        Ok(f) => f,
        Err(e) => {
            let status = shown_on_page(&e).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let body = format!("<h1>Audit log</h1>{}{form}", flash(&e.public_detail(), true));
            return Ok(with_status(shell(&reviewer, Section::Events, "Audit log", &body), status));
        }
    };
    let page = Page { limit: 50, offset: query.offset() };
    let env = reviewer.environment.to_string();
    let found = state.read(move |c| ev::list(c, &env, &filter, page)).await?;
    let rows: Vec<String> = found
        .data
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{seq}</td><td>{when}</td><td><code class=\"action\">{action}</code></td><td>{rtype} {resource}</td>\
                 <td><code class=\"actor\">{actor}</code></td></tr>",
                seq = e.sequence_num,
                when = when(&e.created_at),
                // Break long dotted actions at their dots and underscores rather than mid-word.
                action = escape(&e.kind).replace('.', ".<wbr>").replace('_', "_<wbr>"),
                rtype = escape(&e.resource_type),
                resource = resource_link(&e.resource_type, &e.resource_id),
                actor = escape(&e.actor),
            )
        })
        .collect();
    let keep: Vec<(&str, &str)> = EVENT_FILTERS.iter().map(|(n, _, _)| (*n, query.get(n).unwrap_or(""))).collect();
    let body = format!(
        "<h1>Audit log</h1>{form}{table}{pager}",
        table = table(&["#", "Time", "Action", "Resource", "Actor"], &rows, "No entries match."),
        pager = pager(&found, "/dashboard/events", &keep),
    );
    Ok(shell(&reviewer, Section::Events, "Audit log", &body))
}
