//! Dashboard pages for admins only: org users (list, create, change role, disable), API keys (list,
//! create with scopes and environment, expire), and the environment's retention and review settings. Every
//! post needs the admin role and the session's CSRF token, runs the same command as the API (the admin's
//! org user is the actor), and answers with a redirect and a message, or with the page and the refusal
//! (4xx) – never JSON. A new key's secret or a generated password is shown once, in the answer to the
//! post itself, and kept nowhere. Must not touch SQL, keys or crypto.

use super::auth::{Reviewer, SignedIn};
use super::directory::{badge, field_error, flash, opt, shown_on_page, when, with_status, Fields};
use super::layout::{escape, shell, PageResult, Section};
use crate::commands::api_keys::{self as key_cmd, CreateKey};
use crate::commands::retention::update_retention;
use crate::commands::users::{self as user_cmd, CreateUser};
use crate::domain::api_key::{ApiVersion, Environment, Inflection, KeyType, Scope, ALL_SCOPES, DEFAULT_SCOPES};
use crate::domain::ids::{ApiKeyId, OrgUserId};
use crate::domain::settings::Retention;
use crate::domain::user::{Role, UserStatus};
use crate::domain::values::{Email, Label, PersonName, Timestamp};
use crate::error::AppError;
use crate::http::AppState;
use crate::queries::api_keys::{self as key_q, ApiKeyView};
use crate::queries::settings as settings_q;
use crate::queries::users::{self as user_q, OrgUserView};
use crate::queries::Page;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use zeroize::Zeroizing;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/admin", web::get().to(admin))
        .route("/dashboard/admin/users", web::post().to(create_user))
        .route("/dashboard/admin/users/{user_id}/role", web::post().to(change_role))
        .route("/dashboard/admin/users/{user_id}/disable", web::post().to(disable_user))
        .route("/dashboard/admin/api-keys", web::post().to(create_key))
        .route("/dashboard/admin/api-keys/{api_key_id}/expire", web::post().to(expire_key))
        .route("/dashboard/admin/retention", web::post().to(save_retention))
        .route("/dashboard/admin/review", web::post().to(save_review));
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

/// A case claim is released after this long without activity (fixed; the sweeper applies it).
const CLAIM_TIMEOUT_MINUTES: i64 = 30;

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
        users = users_table(reviewer, &users.data, &csrf),
        new_user = new_user_form(&csrf),
        keys = keys_table(&keys.data, &now, &csrf),
        new_key = new_key_form(&csrf, reviewer.environment),
        env = reviewer.environment,
        review = review_form(&retention, &csrf),
        retention = retention_form(&retention, &csrf),
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

fn role_options(selected: Option<Role>) -> String {
    [Role::Reviewer, Role::SeniorReviewer, Role::Admin]
        .iter()
        .map(|r| {
            let sel = if Some(*r) == selected { " selected" } else { "" };
            format!("<option value=\"{v}\"{sel}>{label}</option>", v = r.as_str(), label = r.as_str().replace('_', " "))
        })
        .collect()
}

fn users_table(reviewer: &Reviewer, users: &[OrgUserView], csrf: &str) -> String {
    let rows: String = users
        .iter()
        .map(|u| {
            let id = escape(u.id.as_str());
            let me = u.id == reviewer.user_id;
            let active = u.status == UserStatus::Active;
            let role = if active && !me {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/dashboard/admin/users/{id}/role\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <label class=\"sr-only\" for=\"role-{id}\">Role of {email}</label>\
                     <select id=\"role-{id}\" name=\"role\">{options}</select><button type=\"submit\">Change</button></form>",
                    email = escape(&u.email),
                    options = role_options(Some(u.role)),
                )
            } else {
                format!("<code>{}</code>{}", u.role.as_str(), if me { " <span class=\"muted\">(you)</span>" } else { "" })
            };
            let action = if active && !me {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/dashboard/admin/users/{id}/disable\" \
                     data-confirm=\"Disable {email}? They can no longer sign in.\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\" class=\"danger\">Disable</button></form>",
                    email = escape(&u.email),
                )
            } else {
                String::new()
            };
            format!(
                "<tr data-user=\"{email}\"><td>{name}<div class=\"muted small\">{email}</div></td><td>{role}</td>\
                 <td>{status}</td><td class=\"wide\">{totp}</td><td class=\"wide\">{last}</td><td>{action}</td></tr>",
                name = escape(&u.name),
                email = escape(&u.email),
                status = badge(u.status.as_str()),
                totp = if u.totp_enabled { "yes" } else { "no" },
                last = u.last_login_at.as_deref().map(when).unwrap_or_else(|| opt(None)),
            )
        })
        .collect();
    format!(
        "<div class=\"table-wrap\"><table class=\"users\"><thead><tr><th scope=\"col\">User</th><th scope=\"col\">Role</th>\
         <th scope=\"col\">Status</th><th scope=\"col\" class=\"wide\">TOTP</th><th scope=\"col\" class=\"wide\">Last sign-in</th><th scope=\"col\"></th></tr></thead>\
         <tbody>{rows}</tbody></table></div>"
    )
}

fn new_user_form(csrf: &str) -> String {
    format!(
        "<details class=\"card create\"><summary>New user</summary>\
         <form method=\"post\" action=\"/dashboard/admin/users\" class=\"form-grid\" autocomplete=\"off\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <div><label for=\"u-email\">Email</label><input id=\"u-email\" name=\"email\" type=\"email\" required></div>\
         <div><label for=\"u-name\">Name</label><input id=\"u-name\" name=\"name\" required></div>\
         <div><label for=\"u-role\">Role</label><select id=\"u-role\" name=\"role\">{roles}</select></div>\
         <div><label for=\"u-password\">Initial password</label>\
         <input id=\"u-password\" name=\"password\" type=\"password\" minlength=\"12\" autocomplete=\"new-password\">\
         <div class=\"muted small\">12 characters or more; leave blank to generate one (shown once).</div></div>\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Create user</button></div></form></details>",
        roles = role_options(Some(Role::Reviewer)),
    )
}

fn key_expired(k: &ApiKeyView, now: &str) -> bool {
    !k.is_active || k.expires_at.as_deref().is_some_and(|e| e <= now)
}

/// A key's scopes; a key with every scope says so instead of listing them.
fn scopes_of(scopes: &[String]) -> String {
    if ALL_SCOPES.iter().all(|a| scopes.iter().any(|s| s == a)) {
        return "<span class=\"badge\">all scopes</span>".into();
    }
    scopes.iter().map(|s| format!("<code>{}</code>", escape(s))).collect::<Vec<_>>().join(" ")
}

fn keys_table(keys: &[ApiKeyView], now: &str, csrf: &str) -> String {
    let rows: String = keys
        .iter()
        .map(|k| {
            let expired = key_expired(k, now);
            let action = if expired {
                String::new()
            } else {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/dashboard/admin/api-keys/{id}/expire\" \
                     data-confirm=\"Expire this key? Requests using it will be refused.\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"environment\" value=\"{env}\">\
                     <button type=\"submit\" class=\"danger\">Expire</button></form>",
                    id = escape(k.id.as_str()),
                    env = escape(&k.environment),
                )
            };
            format!(
                "<tr data-key=\"{id}\"><td>{label}<div><code>{prefix}…</code></div></td><td><span class=\"env-tag {env}\">{env}</span> {kind}</td>\
                 <td class=\"scopes\">{scopes}</td><td>{state}</td><td>{expires}</td><td>{created}</td><td>{action}</td></tr>",
                id = escape(k.id.as_str()),
                label = opt(k.label.as_deref()),
                prefix = escape(&k.key_prefix),
                env = escape(&k.environment),
                kind = escape(&k.key_type),
                scopes = scopes_of(&k.scopes),
                state = if expired { badge("expired") } else { badge("active") },
                expires = k.expires_at.as_deref().map(when).unwrap_or_else(|| opt(None)),
                created = when(&k.created_at),
            )
        })
        .collect();
    format!(
        "<div class=\"table-wrap\"><table class=\"keys\"><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Environment</th>\
         <th scope=\"col\">Scopes</th><th scope=\"col\">State</th><th scope=\"col\">Expires</th><th scope=\"col\">Created</th>\
         <th scope=\"col\"></th></tr></thead><tbody>{rows}</tbody></table></div>"
    )
}

fn new_key_form(csrf: &str, environment: &str) -> String {
    let envs: String = ["live", "sandbox"]
        .iter()
        .map(|e| format!("<option value=\"{e}\"{}>{e}</option>", if *e == environment { " selected" } else { "" }))
        .collect();
    let scopes: String = ALL_SCOPES
        .iter()
        .map(|s| {
            let checked = if DEFAULT_SCOPES.contains(s) { " checked" } else { "" };
            format!("<label class=\"check\"><input type=\"checkbox\" name=\"scopes\" value=\"{s}\"{checked}> <code>{s}</code></label>")
        })
        .collect();
    format!(
        "<details class=\"card create\"><summary>New API key</summary>\
         <form method=\"post\" action=\"/dashboard/admin/api-keys\" autocomplete=\"off\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><div class=\"form-grid\">\
         <div><label for=\"k-label\">Label</label><input id=\"k-label\" name=\"label\" maxlength=\"100\"></div>\
         <div><label for=\"k-environment\">Environment</label><select id=\"k-environment\" name=\"environment\">{envs}</select></div>\
         <div><label for=\"k-expires\">Expires (optional)</label><input id=\"k-expires\" name=\"expires_at\" type=\"date\"></div></div>\
         <fieldset class=\"scopes\"><legend>Scopes</legend>{scopes}</fieldset>\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Create key</button></div></form></details>"
    )
}

fn days(v: Option<i64>) -> String {
    v.map(|d| d.to_string()).unwrap_or_default()
}

fn review_form(r: &Retention, csrf: &str) -> String {
    format!(
        "<form class=\"card\" method=\"post\" action=\"/dashboard/admin/review\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><h3>Review</h3>\
         <label class=\"check\"><input type=\"checkbox\" id=\"dual-review\" name=\"dual_review\" value=\"on\"{dual}> Dual review</label>\
         <p class=\"muted small\">A first decision becomes a recommendation; a different reviewer makes the final one.</p>\
         <dl class=\"fields\"><dt>Claim timeout</dt><dd>{CLAIM_TIMEOUT_MINUTES} minutes without activity (fixed)</dd></dl>\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Save review settings</button></div></form>",
        dual = if r.dual_review { " checked" } else { "" },
    )
}

fn retention_form(r: &Retention, csrf: &str) -> String {
    format!(
        "<form class=\"card\" method=\"post\" action=\"/dashboard/admin/retention\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><h3>Data retention</h3><div class=\"form-grid\">\
         <div><label for=\"r-sensitive\">Stop serving PII after (days)</label>\
         <input id=\"r-sensitive\" name=\"sensitive_data_retention_days\" type=\"number\" min=\"1\" max=\"36500\" value=\"{sensitive}\" placeholder=\"never\"></div>\
         <div><label for=\"r-data\">Delete data after (days)</label>\
         <input id=\"r-data\" name=\"data_retention_days\" type=\"number\" min=\"1\" max=\"36500\" value=\"{data}\" placeholder=\"never\"></div>\
         <div><label for=\"r-url\">Document link lifetime (seconds)</label>\
         <input id=\"r-url\" name=\"image_url_expiry_seconds\" type=\"number\" min=\"30\" max=\"604800\" value=\"{url}\" required></div></div>\
         <label class=\"check\"><input type=\"checkbox\" name=\"auto_redact_on_retention_expiry\" value=\"on\"{redact}> \
         Redact identities when their data retention expires</label>\
         <p class=\"muted small\">Blank day fields mean never. Days count from a session's decision.</p>\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Save retention</button></div></form>",
        sensitive = days(r.sensitive_data_retention_days),
        data = days(r.data_retention_days),
        url = r.image_url_expiry_seconds,
        redact = if r.auto_redact_on_retention_expiry { " checked" } else { "" },
    )
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

fn parse_new_user(form: &Fields) -> Result<CreateUser, AppError> {
    let email = Email::parse("email", form.get("email").unwrap_or("")).map_err(field_error)?;
    let name = PersonName::parse("name", form.get("name").unwrap_or("")).map_err(field_error)?;
    let role = Role::parse_field("role", form.get("role").unwrap_or(""))?;
    let password = form.get("password").map(|p| Zeroizing::new(p.to_string()));
    Ok(CreateUser { email, name, role, password })
}

#[tracing::instrument(skip_all)]
async fn create_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let result = async {
        let input = parse_new_user(&form)?;
        let email = input.email.as_str().to_string();
        let meta = reviewer.meta(&req, state.now());
        let new = user_cmd::create(&state.writer, state.keyring.clone(), meta, input).await?;
        Ok::<_, AppError>((email, new))
    }
    .await;
    match result {
        Ok((email, new)) => match new.generated_password {
            Some(password) => {
                let details = format!("<p>{} can now sign in with this password:</p>", escape(&email));
                Ok(secret_page(&reviewer, "User created", "Initial password", &password, &details))
            }
            None => Ok(back("user_created")),
        },
        Err(e) => refused(&state, &reviewer, e).await,
    }
}

fn user_id(path: &str) -> Result<OrgUserId, AppError> {
    OrgUserId::parse("user_id", path).map_err(|_| AppError::not_found("User"))
}

#[tracing::instrument(skip_all)]
async fn change_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    path: web::Path<String>,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let result = async {
        let id = user_id(&path)?;
        let role = Role::parse_field("role", form.get("role").unwrap_or(""))?;
        // An admin demoting themselves could leave the organisation without one.
        if id == reviewer.user_id && role != Role::Admin {
            return Err(AppError::Conflict("You cannot change your own role.".into()));
        }
        let meta = reviewer.meta(&req, state.now());
        user_cmd::update(&state.writer, state.keyring.clone(), meta, id, Some(role), None).await
    }
    .await;
    match result {
        Ok(_) => Ok(back("role_changed")),
        Err(e) => refused(&state, &reviewer, e).await,
    }
}

#[tracing::instrument(skip_all)]
async fn disable_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    path: web::Path<String>,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let result = async {
        let id = user_id(&path)?;
        if id == reviewer.user_id {
            return Err(AppError::Conflict("You cannot disable your own account.".into()));
        }
        user_cmd::disable(&state.writer, reviewer.meta(&req, state.now()), id).await
    }
    .await;
    match result {
        Ok(_) => Ok(back("user_disabled")),
        Err(e) => refused(&state, &reviewer, e).await,
    }
}

fn parse_new_key(form: &Fields) -> Result<CreateKey, AppError> {
    let environment = Environment::parse_field("environment", form.get("environment").unwrap_or(""))?;
    let scopes = form.all("scopes").into_iter().map(|s| Scope::parse("scopes", s)).collect::<Result<Vec<_>, _>>()?;
    if scopes.is_empty() {
        return Err(AppError::validation("scopes", "choose at least one scope"));
    }
    let label = form.get("label").map(|l| Label::parse("label", l)).transpose().map_err(field_error)?;
    let expires_at = match form.get("expires_at") {
        None => None,
        Some(d) if d.len() == 10 => {
            Some(Timestamp::parse("expires_at", &format!("{d}T00:00:00Z")).map_err(field_error)?)
        }
        Some(t) => Some(Timestamp::parse("expires_at", t).map_err(field_error)?),
    };
    Ok(CreateKey {
        key_type: KeyType::Secret,
        environment,
        scopes,
        allowed_ips: None,
        api_version: ApiVersion::CURRENT,
        default_key_inflection: Inflection::Snake,
        label,
        note: None,
        expires_at,
    })
}

#[tracing::instrument(skip_all)]
async fn create_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let result = async {
        let input = parse_new_key(&form)?;
        let environment = input.environment.as_str();
        let mut meta = reviewer.meta(&req, state.now());
        meta.environment = environment.to_string();
        let scopes = Scope::strings(&input.scopes).join(", ");
        let secret = key_cmd::create(&state.writer, meta, input).await?;
        Ok::<_, AppError>((environment, scopes, secret))
    }
    .await;
    match result {
        Ok((environment, scopes, secret)) => {
            let details = format!(
                "<dl class=\"fields\"><dt>Key</dt><dd><code>{id}</code></dd><dt>Environment</dt><dd>{environment}</dd>\
                 <dt>Scopes</dt><dd><code>{scopes}</code></dd></dl>",
                id = escape(&secret.id),
                scopes = escape(&scopes),
            );
            Ok(secret_page(&reviewer, "API key created", "Secret key (send it as X-API-Key)", &secret.secret, &details))
        }
        Err(e) => refused(&state, &reviewer, e).await,
    }
}

#[tracing::instrument(skip_all)]
async fn expire_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    path: web::Path<String>,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let result = async {
        let id = ApiKeyId::parse("api_key_id", &path).map_err(|_| AppError::not_found("API key"))?;
        let environment = Environment::parse_field("environment", form.get("environment").unwrap_or(""))?;
        let mut meta = reviewer.meta(&req, state.now());
        meta.environment = environment.as_str().to_string();
        key_cmd::expire(&state.writer, meta, id, None).await?;
        state.auth.invalidate();
        Ok::<_, AppError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(back("key_expired")),
        Err(e) => refused(&state, &reviewer, e).await,
    }
}

/// Days from a form field: blank is never.
fn days_field(form: &Fields, field: &str) -> Result<Option<i64>, AppError> {
    form.get(field)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| AppError::validation(field, "must be a whole number of days, or blank for never"))
        })
        .transpose()
}

/// Reads the environment's settings, changes them with `change`, and records them (one event).
async fn update_settings(
    req: &HttpRequest,
    state: &AppState,
    reviewer: &Reviewer,
    change: impl FnOnce(&mut Retention) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let env = reviewer.environment.to_string();
    let mut settings = state.read(move |c| settings_q::retention(c, &env)).await?;
    change(&mut settings)?;
    update_retention(&state.writer, reviewer.meta(req, state.now()), settings).await
}

#[tracing::instrument(skip_all)]
async fn save_retention(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let result = update_settings(&req, &state, &reviewer, |r| {
        r.sensitive_data_retention_days = days_field(&form, "sensitive_data_retention_days")?;
        r.data_retention_days = days_field(&form, "data_retention_days")?;
        r.image_url_expiry_seconds = form
            .get("image_url_expiry_seconds")
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| AppError::validation("image_url_expiry_seconds", "must be a number of seconds"))?;
        r.auto_redact_on_retention_expiry = form.checked("auto_redact_on_retention_expiry");
        Ok(())
    })
    .await;
    match result {
        Ok(()) => Ok(back("retention_saved")),
        Err(e) => refused(&state, &reviewer, e).await,
    }
}

#[tracing::instrument(skip_all)]
async fn save_review(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    body: web::Bytes,
) -> PageResult {
    let form = Fields::parse(&body);
    admit(&reviewer, &form)?;
    let dual_review = form.checked("dual_review");
    let result = update_settings(&req, &state, &reviewer, |r| {
        r.dual_review = dual_review;
        Ok(())
    })
    .await;
    match result {
        Ok(()) => Ok(back("review_saved")),
        Err(e) => refused(&state, &reviewer, e).await,
    }
}
