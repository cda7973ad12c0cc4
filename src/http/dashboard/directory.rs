//! Dashboard pages: identity search (through the blind indexes, the same criteria as
//! `POST /api/v1/identities/search`) and one identity with its sessions and audit trail, the webhook
//! delivery log, and the org audit log; plus the small form, paging and formatting helpers the admin
//! pages share. Reads only through `queries`; must not write, touch SQL or keys, or put personal data in
//! a URL (searches are posted, never sent as query strings).

use super::auth::SignedIn;
use super::layout::{escape, shell, PageResult, Section};
use crate::domain::values::{self, ExternalRef, PersonalData, Timestamp};
use crate::error::{AppError, FieldError};
use crate::http::AppState;
use crate::queries::delivery_log::{self as log, DeliveryLogFilter};
use crate::queries::events::{self as ev, EventFilter};
use crate::queries::identities::{self as idq, IdentityCriteria};
use crate::queries::sessions as sq;
use crate::queries::{OffsetPage, Page};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/identities", web::get().to(identities))
        .route("/dashboard/identities/search", web::post().to(search))
        .route("/dashboard/identities/{identity_id}", web::get().to(identity))
        .route("/dashboard/webhooks", web::get().to(webhooks))
        .route("/dashboard/events", web::get().to(events));
}

// ---- shared helpers (also used by the admin pages) ----------------------------------------------

/// The fields of a query string or an url-encoded form body, in order; repeated names keep every value.
/// Parsing never fails, so a malformed form reaches the handler, which answers with an HTML page.
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(super) fn parse(input: &[u8]) -> Self {
        Fields(form_urlencoded::parse(input).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    pub(super) fn of_query(req: &HttpRequest) -> Self {
        Self::parse(req.query_string().as_bytes())
    }

    /// The first non-blank value of `name`, trimmed.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).find(|v| !v.is_empty())
    }

    /// Every non-blank value of `name`.
    pub(super) fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty()).collect()
    }

    /// A checkbox: present and not "off"/"false".
    pub(super) fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v != "off" && v != "false")
    }

    /// The CSRF token the form carries, for `Reviewer::check_csrf`.
    pub(super) fn csrf(&self) -> Option<&str> {
        self.get("csrf")
    }

    /// The page's offset (`offset=`), 0 when absent or not a number.
    pub(super) fn offset(&self) -> i64 {
        self.get("offset").and_then(|o| o.parse::<i64>().ok()).filter(|o| *o >= 0).unwrap_or(0)
    }
}

pub(super) fn field_error(e: FieldError) -> AppError {
    AppError::validation(&e.field, e.message)
}

/// The response with another status (a page re-shown with an error).
pub(super) fn with_status(mut res: HttpResponse, status: StatusCode) -> HttpResponse {
    *res.status_mut() = status;
    res
}

/// A refusal worth showing on the page it came from (bad input, a conflict, something missing), with its
/// status; None for failures that get the error page (not signed in, forbidden, server errors).
pub(super) fn shown_on_page(e: &AppError) -> Option<StatusCode> {
    let status = actix_web::ResponseError::status_code(e);
    let page_level = status.is_client_error()
        && !matches!(e, AppError::Unauthorized(_) | AppError::Forbidden { .. } | AppError::RateLimited { .. });
    page_level.then_some(status)
}

pub(super) fn flash(message: &str, error: bool) -> String {
    let (class, role) = if error { ("flash error", "alert") } else { ("flash", "status") };
    format!("<p class=\"{class}\" role=\"{role}\">{}</p>", escape(message))
}

/// A stored RFC 3339 moment as "YYYY-MM-DD HH:MM" (UTC) with the full value in `datetime`.
pub(super) fn when(t: &str) -> String {
    let short: String = t.replacen('T', " ", 1).chars().take(16).collect();
    format!("<time datetime=\"{}\">{}</time>", escape(t), escape(&short))
}

pub(super) fn badge(status: &str) -> String {
    let class: String = status.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    format!("<span class=\"badge {class}\">{}</span>", escape(&status.replace('_', " ")))
}

pub(super) fn opt(v: Option<&str>) -> String {
    v.map(escape).unwrap_or_else(|| "<span class=\"muted\">–</span>".into())
}

/// "Showing a–b of n" with previous/next links that keep `keep` (name, value) parameters.
pub(super) fn pager<T>(page: &OffsetPage<T>, path: &str, keep: &[(&str, &str)]) -> String {
    let p = &page.pagination;
    if p.total == 0 {
        return String::new();
    }
    let link = |offset: i64, label: &str, rel: &str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in keep.iter().filter(|(_, v)| !v.is_empty()) {
            q.append_pair(k, v);
        }
        if offset > 0 {
            q.append_pair("offset", &offset.to_string());
        }
        let q = q.finish();
        let href = if q.is_empty() { path.to_string() } else { format!("{path}?{q}") };
        format!("<a class=\"button\" rel=\"{rel}\" href=\"{}\">{label}</a>", escape(&href))
    };
    let first = p.offset + 1;
    let last = p.offset + page.data.len() as i64;
    let prev = if p.offset > 0 { link((p.offset - p.limit).max(0), "← Newer", "prev") } else { String::new() };
    let next = if last < p.total { link(last, "Older →", "next") } else { String::new() };
    format!(
        "<nav class=\"pager\" aria-label=\"Pages\"><span class=\"muted\">{first}–{last} of {}</span>{prev}{next}</nav>",
        p.total
    )
}

fn table(head: &[&str], rows: &[String], empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p class=\"muted empty\">{}</p>", escape(empty));
    }
    let head: String = head.iter().map(|h| format!("<th scope=\"col\">{h}</th>")).collect();
    format!(
        "<div class=\"table-wrap\"><table><thead><tr>{head}</tr></thead><tbody>{}</tbody></table></div>",
        rows.concat()
    )
}

// ---- identities -----------------------------------------------------------------------------------

/// The search form's fields: each personal-data one is matched through its blind index.
const SEARCH_FIELDS: &[(&str, &str, &str)] = &[
    ("email", "Email", "email"),
    ("phone", "Phone", "tel"),
    ("document_number", "Document number", "text"),
    ("external_ref", "External reference", "text"),
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
    ("date_of_birth", "Date of birth", "date"),
];

fn search_form(csrf: &str, given: &Fields) -> String {
    let inputs: String = SEARCH_FIELDS
        .iter()
        .map(|(name, label, kind)| {
            format!(
                "<div><label for=\"s-{name}\">{label}</label><input id=\"s-{name}\" name=\"{name}\" type=\"{kind}\" \
                 autocomplete=\"off\" value=\"{}\"></div>",
                escape(given.get(name).unwrap_or(""))
            )
        })
        .collect();
    format!(
        "<form class=\"card search-form\" method=\"post\" action=\"/dashboard/identities/search\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <p class=\"muted\">Exact matches through the blind indexes: every field given must match. First name, last name \
         and date of birth go together.</p><div class=\"form-grid\">{inputs}</div>\
         <div class=\"toolbar\"><button type=\"submit\" class=\"primary\">Search</button>\
         <a href=\"/dashboard/identities\">Clear</a></div></form>",
        csrf = escape(csrf)
    )
}

fn identity_rows(page: &OffsetPage<idq::Identity>) -> Vec<String> {
    page.data
        .iter()
        .map(|i| {
            let data = i.extracted_data.as_ref();
            let field = |f: &str| data.and_then(|d| d.get(f)).map(String::as_str);
            let name = [field("first_name"), field("last_name")].into_iter().flatten().collect::<Vec<_>>().join(" ");
            let name = if i.extracted_data.is_none() {
                "<span class=\"muted\">redacted</span>".to_string()
            } else if name.is_empty() {
                "<span class=\"muted\">–</span>".to_string()
            } else {
                escape(&name)
            };
            format!(
                "<tr><td><a href=\"/dashboard/identities/{id}\"><code>{id}</code></a></td><td>{name}</td><td>{email}</td>\
                 <td>{ext}</td><td>{status}</td><td>{sessions}</td><td>{created}</td></tr>",
                id = escape(i.id.as_str()),
                email = opt(field("email")),
                ext = opt(i.external_ref.as_deref()),
                status = badge(&i.status),
                sessions = i.session_count,
                created = when(&i.created_at),
            )
        })
        .collect()
}

const IDENTITY_HEAD: &[&str] = &["Identity", "Name", "Email", "External ref", "Status", "Sessions", "Created"];

fn identities_page(
    reviewer: &super::auth::Reviewer,
    given: &Fields,
    heading: &str,
    results: &OffsetPage<idq::Identity>,
    pager_html: &str,
    notice: &str,
) -> HttpResponse {
    let body = format!(
        "<h1>Identities</h1>{notice}{form}<h2>{heading}</h2>{table}{pager_html}",
        form = search_form(&reviewer.csrf, given),
        heading = escape(heading),
        table = table(IDENTITY_HEAD, &identity_rows(results), "No identity matches."),
    );
    shell(reviewer, Section::Identities, "Identities", &body)
}

/// The search form and the newest identities of the environment.
#[tracing::instrument(skip_all)]
async fn identities(req: HttpRequest, state: web::Data<AppState>, SignedIn(reviewer): SignedIn) -> PageResult {
    let query = Fields::of_query(&req);
    let page = Page { limit: 25, offset: query.offset() };
    let (keyring, env) = (state.keyring.clone(), reviewer.environment.to_string());
    let criteria = IdentityCriteria::default();
    let recent = state.read(move |c| idq::list_offset(c, &keyring, &env, &criteria, page)).await?;
    let pager_html = pager(&recent, "/dashboard/identities", &[]);
    Ok(identities_page(&reviewer, &Fields(Vec::new()), "Newest identities", &recent, &pager_html, ""))
}

/// The criteria of a posted search, validated like the API's search body.
fn criteria_of(form: &Fields) -> Result<IdentityCriteria, AppError> {
    let mut pii = PersonalData::default();
    for field in ["email", "phone", "document_number", "first_name", "last_name", "date_of_birth"] {
        if let Some(v) = form.get(field) {
            pii.insert_parsed(field, v).map_err(field_error)?;
        }
    }
    let name_dob = ["first_name", "last_name", "date_of_birth"];
    let present = name_dob.iter().filter(|f| pii.as_map().contains_key(**f)).count();
    if present != 0 && present != 3 {
        return Err(AppError::invalid_state("First name, last name and date of birth are searched together."));
    }
    let external_ref =
        form.get("external_ref").map(|r| ExternalRef::parse("external_ref", r)).transpose().map_err(field_error)?;
    if pii.is_empty() && external_ref.is_none() {
        return Err(AppError::invalid_state("Give at least one search field."));
    }
    Ok(IdentityCriteria { personal_data: pii.into_map(), external_ref, ..Default::default() })
}

/// A blind-index search, posted so that the personal data searched for never appears in a URL.
#[tracing::instrument(skip_all)]
async fn search(state: web::Data<AppState>, SignedIn(reviewer): SignedIn, body: web::Bytes) -> PageResult {
    let form = Fields::parse(&body);
    reviewer.check_csrf(form.csrf())?;
    let empty = || OffsetPage::new(Vec::new(), 0, Page { limit: 50, offset: 0 });
    let criteria = match criteria_of(&form) {
        Ok(c) => c,
        Err(e) => {
            let status = shown_on_page(&e).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let res = identities_page(&reviewer, &form, "Results", &empty(), "", &flash(&e.public_detail(), true));
            return Ok(with_status(res, status));
        }
    };
    let (keyring, env) = (state.keyring.clone(), reviewer.environment.to_string());
    let page = Page { limit: 50, offset: 0 };
    let found = state.read(move |c| idq::list_offset(c, &keyring, &env, &criteria, page)).await?;
    let heading = match found.pagination.total {
        1 => "1 match".to_string(),
        n => format!("{n} matches"),
    };
    Ok(identities_page(&reviewer, &form, &heading, &found, "", ""))
}

fn session_rows(sessions: &[sq::SessionView]) -> Vec<String> {
    sessions
        .iter()
        .map(|s| {
            let case = match &s.case_id {
                Some(c) => format!(
                    "<a href=\"/dashboard/cases/{c}\"><code>{c}</code></a> {}",
                    s.case_status.as_deref().map(badge).unwrap_or_default(),
                    c = escape(c)
                ),
                None => opt(None),
            };
            format!(
                "<tr><td><code>{id}</code></td><td>{status}</td><td>{result}</td><td>{case}</td><td>{created}</td></tr>",
                id = escape(s.id.as_str()),
                status = badge(s.status.as_str()),
                result = s.result_status.map(|r| badge(r.as_str())).unwrap_or_else(|| opt(None)),
                created = when(&s.created_at),
            )
        })
        .collect()
}

/// The trail, newest first; entries about the identity itself do not repeat its id.
fn audit_items(entries: &[idq::AuditEntry], identity_id: &str) -> String {
    if entries.is_empty() {
        return "<p class=\"muted empty\">No entries.</p>".into();
    }
    let items: String = entries
        .iter()
        .map(|a| {
            let on = if a.resource_type == "identity" && a.resource_id == identity_id {
                String::new()
            } else {
                format!(
                    " <span class=\"muted\">on {}</span> <code>{}</code>",
                    escape(&a.resource_type),
                    escape(&a.resource_id)
                )
            };
            format!(
                "<li><div class=\"line\"><strong>{action}</strong>{on}</div>\
                 <div class=\"muted small\">{when} · by <code>{actor}</code> · #{seq}</div></li>",
                action = escape(&a.action),
                when = when(&a.created_at),
                actor = escape(&a.actor),
                seq = a.sequence_num,
            )
        })
        .collect();
    format!("<ol class=\"timeline\">{items}</ol>")
}

/// Labels for the personal-data fields, in the order they are shown.
const PII_LABELS: &[(&str, &str)] = &[
    ("first_name", "First name"),
    ("middle_name", "Middle name"),
    ("last_name", "Last name"),
    ("date_of_birth", "Date of birth"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("document_number", "Document number"),
    ("nationality", "Nationality"),
    ("gender", "Gender"),
    ("address_line1", "Address"),
    ("address_line2", "Address (2)"),
    ("city", "City"),
    ("state", "State"),
    ("zip_code", "Postal code"),
    ("ssn", "SSN"),
];

/// One identity: its opened personal data, its sessions (with their cases) and its audit trail.
#[tracing::instrument(skip_all)]
async fn identity(state: web::Data<AppState>, SignedIn(reviewer): SignedIn, path: web::Path<String>) -> PageResult {
    let id_or_ref = path.into_inner();
    if id_or_ref.len() > 200 {
        return Err(AppError::not_found("Identity").into());
    }
    let (keyring, env) = (state.keyring.clone(), reviewer.environment.to_string());
    let base_url = state.config.public_url.clone().unwrap_or_default();
    let (identity, sessions, audit) = state
        .read(move |c| {
            let identity = idq::get(c, &keyring, &env, &id_or_ref)?;
            let id = identity.id.as_str();
            let sessions = sq::identity_sessions(c, &keyring, &env, id, Page { limit: 50, offset: 0 }, &base_url)?;
            let audit = idq::audit_log(c, id, Page { limit: 100, offset: 0 })?;
            Ok((identity, sessions, audit))
        })
        .await?;
    let personal = match &identity.extracted_data {
        None => "<p class=\"muted\">Redacted: the personal data was erased.</p>".to_string(),
        Some(data) if data.is_empty() => "<p class=\"muted\">No personal data recorded.</p>".to_string(),
        Some(data) => {
            let known: String = PII_LABELS
                .iter()
                .filter_map(|(f, label)| data.get(*f).map(|v| format!("<dt>{label}</dt><dd>{}</dd>", escape(v))))
                .collect();
            let other: String = data
                .iter()
                .filter(|(f, _)| !PII_LABELS.iter().any(|(k, _)| k == f))
                .map(|(f, v)| format!("<dt>{}</dt><dd>{}</dd>", escape(f), escape(v)))
                .collect();
            format!("<dl class=\"fields pii\">{known}{other}</dl>")
        }
    };
    let name_part = |f: &str| identity.extracted_data.as_ref().and_then(|d| d.get(f)).map(String::as_str);
    let title = match [name_part("first_name"), name_part("last_name")].into_iter().flatten().collect::<Vec<_>>() {
        parts if parts.is_empty() => "Identity".to_string(),
        parts => parts.join(" "),
    };
    let tags = if identity.tags.is_empty() {
        opt(None)
    } else {
        identity
            .tags
            .iter()
            .map(|t| format!("<span class=\"badge\">{}</span>", escape(t)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let flag = if identity.is_flagged {
        format!(" <span class=\"badge failed\">flagged</span> {}", opt(identity.flag_reason.as_deref()))
    } else {
        String::new()
    };
    let more = if sessions.pagination.total > sessions.data.len() as i64 {
        format!("<p class=\"muted\">The newest {} of {} sessions.</p>", sessions.data.len(), sessions.pagination.total)
    } else {
        String::new()
    };
    let body = format!(
        "<p class=\"crumbs\"><a href=\"/dashboard/identities\">Identities</a> /</p>\
         <h1>{title}</h1><p class=\"identity-id\"><code>{id}</code> {status}{flag}</p>\
         <div class=\"grid\"><div>\
         <section class=\"card\"><h2>Personal data</h2>{personal}</section>\
         <section class=\"card\"><h2>Sessions</h2>{sessions}{more}</section></div>\
         <div><section class=\"card\"><h2>Identity</h2><dl class=\"fields\">\
         <dt>External ref</dt><dd>{ext}</dd><dt>Country</dt><dd>{country}</dd><dt>Screening</dt><dd>{screening}</dd>\
         <dt>Tags</dt><dd>{tags}</dd><dt>First verified</dt><dd>{first}</dd><dt>Created</dt><dd>{created}</dd>\
         <dt>Updated</dt><dd>{updated}</dd></dl></section>\
         <section class=\"card\"><h2>Audit trail</h2>{audit}</section></div></div>",
        title = escape(&title),
        id = escape(identity.id.as_str()),
        status = badge(&identity.status),
        sessions =
            table(&["Session", "Status", "Result", "Case", "Created"], &session_rows(&sessions.data), "No sessions."),
        ext = opt(identity.external_ref.as_deref()),
        country = opt(identity.country.as_deref()),
        screening = identity.screening_status.as_deref().map(badge).unwrap_or_else(|| opt(None)),
        first = identity.first_verified_at.as_deref().map(when).unwrap_or_else(|| opt(None)),
        created = when(&identity.created_at),
        updated = when(&identity.updated_at),
        audit = audit_items(&audit.data, identity.id.as_str()),
    );
    Ok(shell(&reviewer, Section::Identities, &format!("Identity {}", identity.id.as_str()), &body))
}

// ---- webhooks -------------------------------------------------------------------------------------

const DELIVERY_STATUSES: &[&str] = &["pending", "retrying", "delivered", "failed"];

/// The environment's endpoints and its delivery log, newest first, filtered by endpoint and status.
#[tracing::instrument(skip_all)]
async fn webhooks(req: HttpRequest, state: web::Data<AppState>, SignedIn(reviewer): SignedIn) -> PageResult {
    let query = Fields::of_query(&req);
    let endpoint = query.get("endpoint").filter(|e| e.len() <= 64).map(str::to_string);
    let status = query.get("status").filter(|s| DELIVERY_STATUSES.contains(s)).map(str::to_string);
    let filter = DeliveryLogFilter { endpoint_id: endpoint.clone(), status: status.clone() };
    let page = Page { limit: 50, offset: query.offset() };
    let env = reviewer.environment.to_string();
    let (endpoints, deliveries) =
        state.read(move |c| Ok((log::endpoints(c, &env)?, log::list(c, &env, &filter, page)?))).await?;
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

// ---- the org audit log ----------------------------------------------------------------------------

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
async fn events(req: HttpRequest, state: web::Data<AppState>, SignedIn(reviewer): SignedIn) -> PageResult {
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
