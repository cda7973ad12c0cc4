//! Dashboard pages for admins only: org users (list, create, change role, disable), API keys (list,
//! create with scopes and environment, expire), and the environment's retention and review settings. Every
//! post needs the admin role and the session's CSRF token, runs the same command as the API (the admin's
//! org user is the actor), and answers with a redirect and a message, or with the page and the refusal
//! (4xx) – never JSON. A new key's secret or a generated password is shown once, in the answer to the
//! post itself, and kept nowhere. Must not touch SQL, keys or crypto.

mod keys;
mod settings;
mod users;

use super::auth::{Reviewer, SignedIn};
use super::directory::{flash, shown_on_page, with_status, Fields};
use super::layout::{escape, shell, PageResult, Section};
use crate::domain::user::Role;
use crate::error::AppError;
use crate::http::AppState;
use crate::queries::api_keys as key_q;
use crate::queries::settings as settings_q;
use crate::queries::users as user_q;
use crate::queries::Page;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/admin", web::get().to(admin))
        .route("/dashboard/admin/users", web::post().to(users::create))
        .route("/dashboard/admin/users/{user_id}/role", web::post().to(users::change_role))
        .route("/dashboard/admin/users/{user_id}/disable", web::post().to(users::disable))
        .route("/dashboard/admin/api-keys", web::post().to(keys::create))
        .route("/dashboard/admin/api-keys/{api_key_id}/expire", web::post().to(keys::expire))
        .route("/dashboard/admin/retention", web::post().to(settings::save_retention))
        .route("/dashboard/admin/review", web::post().to(settings::save_review));
}

/// The messages a redirect back to the page may ask for (`?done=`): fixed texts, nothing reflected.
const DONE: &[(&str, &str)] = &[
    ("user_created", "User created."),
    ("role_changed", "Role changed."),
    ("user_disabled", "User disabled: its sessions have ended."),
    ("key_expired", "API key expired: it no longer authenticates."),
    ("retention_saved", "Retention settings saved."),
    ("review_saved", "Review settings saved."),
];

fn back(done: &str) -> HttpResponse {
    super::auth::see_other(&format!("/dashboard/admin?done={done}#{}", anchor_of(done))).finish()
}

fn anchor_of(done: &str) -> &'static str {
    match done {
        "user_created" | "role_changed" | "user_disabled" => "users",
        "key_expired" => "api-keys",
        _ => "settings",
    }
}

/// An admin's form post: the role, then the CSRF token. Anyone else gets the 403 page.
fn admit(reviewer: &Reviewer, form: &Fields) -> Result<(), AppError> {
    reviewer.require(Role::Admin)?;
    reviewer.check_csrf(form.csrf())
}

#[tracing::instrument(skip_all)]
async fn admin(req: HttpRequest, state: web::Data<AppState>, SignedIn(reviewer): SignedIn) -> PageResult {
    reviewer.require(Role::Admin)?;
    let query = Fields::of_query(&req);
    let notice = query
        .get("done")
        .and_then(|d| DONE.iter().find(|(k, _)| *k == d))
        .map(|(_, text)| flash(text, false))
        .unwrap_or_default();
    Ok(page(&state, &reviewer, &notice).await?)
}

/// The admin page, with `notice` above it.
async fn page(state: &AppState, reviewer: &Reviewer, notice: &str) -> Result<HttpResponse, AppError> {
    let keyring = state.keyring.clone();
    let env = reviewer.environment.to_string();
    let all = Page { limit: 200, offset: 0 };
    let (users, keys, retention) = state
        .read(move |c| {
            let users = user_q::list(c, &keyring, all)?;
            let keys = key_q::list(c, None, all)?;
            Ok((users, keys, settings_q::retention(c, &env)?))
        })
        .await?;
    let now = state.now();
    let csrf = escape(&reviewer.csrf);
    let body = format!(
        "<h1>Admin</h1>{notice}\
         <nav class=\"tabs\" aria-label=\"Admin sections\"><a href=\"#users\">Users</a><a href=\"#api-keys\">API keys</a>\
         <a href=\"#settings\">Settings</a></nav>\
         <section id=\"users\" class=\"admin-section\"><h2>Users</h2>{users}{new_user}</section>\
         <section id=\"api-keys\" class=\"admin-section\"><h2>API keys</h2>{keys}{new_key}</section>\
         <section id=\"settings\" class=\"admin-section\"><h2>Settings <span class=\"muted\">({env} environment)</span></h2>\
         <div class=\"grid even\">{review}{retention}</div></section>",
        users = users::table(reviewer, &users.data, &csrf),
        new_user = users::new_form(&csrf),
        keys = keys::table(&keys.data, &now, &csrf),
        new_key = keys::new_form(&csrf, reviewer.environment),
        env = reviewer.environment,
        review = settings::review_form(&retention, &csrf),
        retention = settings::retention_form(&retention, &csrf),
    );
    Ok(shell(reviewer, Section::Admin, "Admin", &body))
}

/// Shows a refusal on the admin page with its status (422, 409, 404...); anything else is the error page.
async fn refused(state: &AppState, reviewer: &Reviewer, e: AppError) -> PageResult {
    match shown_on_page(&e) {
        Some(status) => Ok(with_status(page(state, reviewer, &flash(&e.public_detail(), true)).await?, status)),
        None => Err(e.into()),
    }
}

/// The answer to a post that changed something: back to the admin page with its message, or the refusal.
async fn answer<T>(state: &AppState, reviewer: &Reviewer, result: Result<T, AppError>, done: &str) -> PageResult {
    match result {
        Ok(_) => Ok(back(done)),
        Err(e) => refused(state, reviewer, e).await,
    }
}

/// The answer to a post that made a secret: shown this once, with the way back.
fn secret_page(reviewer: &Reviewer, title: &str, what: &str, secret: &str, details: &str) -> HttpResponse {
    let body = format!(
        "<h1>{title}</h1><section class=\"card secret-once\">{details}<p><strong>{what}</strong></p>\
         <p><code id=\"secret\" class=\"secret\">{secret}</code></p>\
         <p class=\"flash error\" role=\"alert\">Store it now: it will not be shown again.</p>\
         <p><a class=\"button\" href=\"/dashboard/admin\">Back to admin</a></p></section>",
        title = escape(title),
        what = escape(what),
        secret = escape(secret),
    );
    with_status(shell(reviewer, Section::Admin, title, &body), StatusCode::CREATED)
}
