//! The dashboard's page frame: HTML escaping, the signed-out page, the signed-in shell (header with
//! navigation, environment switch and sign-out), the security headers every page carries, the static
//! CSS/JS assets (compiled into the binary, so nothing is fetched from elsewhere), and `PageError`,
//! which shows a failure as an HTML page (or sends a signed-out visitor to the login page). Must not
//! read the database or decide anything about the data it frames.

use super::auth::Reviewer;
use crate::domain::user::Role;
use crate::error::AppError;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse, ResponseError};
use std::fmt;

/// Only this server: styles and scripts from `/dashboard/assets/`, images from here or inline
/// (`data:`/`blob:` for decrypted previews), forms and fetches to this origin.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The assets the pages use, compiled in: (name, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    ("dashboard.css", "text/css; charset=utf-8", include_str!("dashboard.css")),
    ("dashboard.js", "text/javascript; charset=utf-8", include_str!("dashboard.js")),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/assets/{name}", web::get().to(asset));
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(*body),
        None => HttpResponse::NotFound().finish(),
    }
}

/// Text made safe for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A response carrying `html` with the dashboard's security headers (never cached: pages show PII).
pub fn html_response(status: StatusCode, html: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

fn head(title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · idv</title>\
         <link rel=\"stylesheet\" href=\"/dashboard/assets/dashboard.css\">\
         <script src=\"/dashboard/assets/dashboard.js\" defer></script></head>",
        escape(title)
    )
}

/// A page for a visitor who is not signed in (the login form).
pub fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    html_response(
        status,
        format!("{}<body class=\"signed-out\"><main class=\"narrow\">{body}</main></body></html>", head(title)),
    )
}

/// The sections of the header's navigation; `Admin` is shown to admins only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Cases,
    Identities,
    Webhooks,
    Events,
    Admin,
    /// The signed-in user's own page (linked from the header, not the navigation).
    Account,
}

const SECTIONS: &[(Section, &str, &str)] = &[
    (Section::Cases, "/dashboard/cases", "Cases"),
    (Section::Identities, "/dashboard/identities", "Identities"),
    (Section::Webhooks, "/dashboard/webhooks", "Webhooks"),
    (Section::Events, "/dashboard/events", "Audit log"),
    (Section::Admin, "/dashboard/admin", "Admin"),
];

/// A signed-in page: the header (navigation, environment switch, sign-out) around `body`. The body's
/// `data-csrf` carries the session's CSRF token for the page scripts' fetches (`X-CSRF-Token`).
pub fn shell(reviewer: &Reviewer, section: Section, title: &str, body: &str) -> HttpResponse {
    let csrf = escape(&reviewer.csrf);
    let nav: String = SECTIONS
        .iter()
        .filter(|(s, _, _)| *s != Section::Admin || reviewer.role.at_least(Role::Admin))
        .map(|(s, href, label)| {
            let current = if *s == section { " aria-current=\"page\"" } else { "" };
            format!("<a href=\"{href}\"{current}>{label}</a>")
        })
        .collect();
    let env = reviewer.environment;
    let other = if env == "live" { "sandbox" } else { "live" };
    let html = format!(
        "{head}<body data-csrf=\"{csrf}\" data-environment=\"{env}\" data-role=\"{role}\">\
         <header class=\"top\"><a class=\"brand\" href=\"/dashboard\">idv</a><nav class=\"main-nav\">{nav}</nav>\
         <form class=\"env-switch\" method=\"post\" action=\"/dashboard/environment\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"environment\" value=\"{other}\">\
         <span class=\"env env-{env}\" title=\"The environment this dashboard shows\">{env}</span>\
         <button type=\"submit\" class=\"link\">switch to {other}</button></form>\
         <form class=\"sign-out\" method=\"post\" action=\"/dashboard/logout\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <a class=\"who\" id=\"who\" href=\"/dashboard/account\" data-user=\"{user}\">{role_label}</a>\
         <button type=\"submit\" class=\"link\">Sign out</button></form></header>\
         <main id=\"main\">{body}</main></body></html>",
        head = head(title),
        role = reviewer.role.as_str(),
        role_label = escape(&reviewer.role.as_str().replace('_', " ")),
        user = escape(reviewer.user_id.as_str()),
    );
    html_response(StatusCode::OK, html)
}

/// A failure on a dashboard page: an HTML page with the error's status and public detail, or a
/// redirect to the login page when nobody is signed in. Internal causes are logged by the API mapping.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        ResponseError::status_code(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        if matches!(self.0, AppError::Unauthorized(_)) {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/dashboard/login"))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
        }
        // The API mapping logs 5xx causes; its body gives the public detail.
        let api = self.0.error_response();
        let status = api.status();
        let detail = self.0.public_detail();
        let body = format!(
            "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/dashboard\">Back to the dashboard</a></p>",
            status.as_u16(),
            escape(&detail)
        );
        html_response(
            status,
            format!("{}<body class=\"signed-out\"><main class=\"narrow\">{body}</main></body></html>", head("Error")),
        )
    }
}

pub type PageResult = Result<HttpResponse, PageError>;
