//! /dashboard/identities: the blind-index search (the criteria of `POST /api/v1/identities/search`,
//! posted so that no personal data lands in a URL), the newest identities, and one identity with its
//! opened personal data, its sessions (linked to their cases) and its audit trail. Must not write.

use super::{badge, field_error, flash, opt, pager, shown_on_page, table, when, with_status, Fields};
use crate::domain::values::{ExternalRef, PersonalData};
use crate::error::AppError;
use crate::http::dashboard::auth::{Reviewer, SignedIn};
use crate::http::dashboard::layout::{escape, shell, PageResult, Section};
use crate::http::AppState;
use crate::queries::identities::{self as idq, IdentityCriteria};
use crate::queries::sessions as sq;
use crate::queries::{OffsetPage, Page};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

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
                "Identity".to_string()
            } else {
                escape(&name)
            };
            format!(
                "<tr><td><a href=\"/dashboard/identities/{id}\">{name}</a><div class=\"muted small\"><code>{id}</code></div></td>\
                 <td>{email}</td><td>{ext}</td><td>{status}</td><td class=\"wide\">{sessions}</td><td>{created}</td></tr>",
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

const IDENTITY_HEAD: &[&str] = &["Identity", "Email", "External ref", "Status", "~Sessions", "Created"];

fn identities_page(
    reviewer: &Reviewer,
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
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>, SignedIn(reviewer): SignedIn) -> PageResult {
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
pub(super) async fn search(state: web::Data<AppState>, SignedIn(reviewer): SignedIn, body: web::Bytes) -> PageResult {
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
pub(super) async fn identity(
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    path: web::Path<String>,
) -> PageResult {
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
