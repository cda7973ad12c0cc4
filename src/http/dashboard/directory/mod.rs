//! Dashboard pages that look things up: `identities` (blind-index search and one identity), `webhooks`
//! (the delivery log) and `events` (the org audit log); and here, the small form, paging and formatting
//! helpers these and the admin pages share. Reads only through `queries`; must not write, touch SQL or
//! keys, or put personal data in a URL (searches are posted, never sent as query strings).

mod events;
mod identities;
mod webhooks;

use super::layout::escape;
use crate::error::{AppError, FieldError};
use crate::queries::OffsetPage;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/identities", web::get().to(identities::list))
        .route("/dashboard/identities/search", web::post().to(identities::search))
        .route("/dashboard/identities/{identity_id}", web::get().to(identities::identity))
        .route("/dashboard/webhooks", web::get().to(webhooks::log))
        .route("/dashboard/events", web::get().to(events::list));
}

// Shared helpers (the admin pages use them too).

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

    /// The first non-empty value of `name` as typed (a password keeps its spaces).
    pub(super) fn raw(&self, name: &str) -> Option<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).find(|v| !v.is_empty())
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

/// A table of `rows` under `head`; a heading starting with `~` names a column hidden on narrow screens
/// (its cells carry the `wide` class too).
fn table(head: &[&str], rows: &[String], empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p class=\"muted empty\">{}</p>", escape(empty));
    }
    let head: String = head
        .iter()
        .map(|h| match h.strip_prefix('~') {
            Some(h) => format!("<th scope=\"col\" class=\"wide\">{h}</th>"),
            None => format!("<th scope=\"col\">{h}</th>"),
        })
        .collect();
    format!(
        "<div class=\"table-wrap\"><table><thead><tr>{head}</tr></thead><tbody>{}</tbody></table></div>",
        rows.concat()
    )
}
