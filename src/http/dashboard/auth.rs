//! Dashboard authentication: the login page and form (`vk_org_token` session cookie: HttpOnly,
//! SameSite=Strict, Path=/, Secure behind https, 8 h), logout, `POST /api/v1/auth/refresh`, the `Reviewer`
//! extractor that resolves the cookie to an active org user and its role, CSRF checks on every form
//! post, and a placeholder `/dashboard` page. Pages are self-contained HTML with a strict CSP. Must not
//! hash, seal or read the database itself (commands and queries do), nor log a token or password.

use super::layout::{escape, page, shell, PageError, PageResult, Section};
use crate::commands::users::{self as cmd, LoginAttempt};
use crate::commands::CommandMeta;
use crate::domain::ids::OrgUserId;
use crate::domain::user::{Role, UserStatus};
use crate::error::AppError;
use crate::http::AppState;
use crate::queries::users as q;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

pub const SESSION_COOKIE: &str = "vk_org_token";
/// The login form's double-submit token: a random value in a cookie and in the form, compared on post.
const LOGIN_CSRF_COOKIE: &str = "vk_login_csrf";
/// A script on the dashboard sends the session's CSRF token in this header (refresh).
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/login", web::get().to(login_page))
        .route("/dashboard/login", web::post().to(login))
        .route("/dashboard/logout", web::post().to(logout))
        .route("/dashboard", web::get().to(home))
        .route("/dashboard/environment", web::post().to(switch_environment))
        .route("/dashboard/account", web::get().to(account));
}

/// The one dashboard route under `/api/v1`: it must be registered before the API scope, which would
/// otherwise take the path and ask for an API key.
pub fn configure_refresh(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/auth/refresh", web::post().to(refresh));
}

/// A logged-in org user, resolved from the session cookie: for the dashboard's pages and form posts.
#[derive(Debug, Clone)]
pub struct Reviewer {
    pub user_id: OrgUserId,
    pub role: Role,
    pub session_id: String,
    /// The environment the dashboard shows and acts in (`live` or `sandbox`), chosen in the header.
    pub environment: &'static str,
    /// The CSRF token bound to this session, which every form post of the session must carry.
    pub csrf: String,
    token: Zeroizing<String>,
}

impl Reviewer {
    /// Passes when the user's role is `needed` or above (reviewer < senior_reviewer < admin).
    pub fn require(&self, needed: Role) -> Result<(), AppError> {
        if self.role.at_least(needed) {
            Ok(())
        } else {
            Err(AppError::Forbidden {
                code: "forbidden",
                detail: format!("This needs the {} role or above.", needed.as_str()),
            })
        }
    }

    /// Refuses a form post whose CSRF token is missing or not this session's (403).
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), AppError> {
        if given.is_some_and(|g| cmd::tokens_match(&self.csrf, g)) {
            Ok(())
        } else {
            Err(csrf_refused())
        }
    }

    /// Who acts, for commands run on this reviewer's behalf.
    pub fn meta(&self, req: &HttpRequest, now: String) -> CommandMeta {
        CommandMeta {
            actor: self.user_id.to_string(),
            environment: self.environment.into(),
            request_id: request_id(req),
            now,
            origin: Some(crate::http::reply::org_origin(req)),
        }
    }
}

fn csrf_refused() -> AppError {
    AppError::Forbidden { code: "csrf_failed", detail: "The form's CSRF token is missing or wrong.".into() }
}

pub(super) fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<crate::http::reply::RequestId>().map(|r| r.0.clone())
}

fn not_logged_in() -> AppError {
    AppError::Unauthorized("Not logged in to the dashboard.".into())
}

impl FromRequest for Reviewer {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = read_cookie(req, SESSION_COOKIE).map(Zeroizing::new);
        let environment = environment_of(req);
        Box::pin(async move {
            let (Some(state), Some(token)) = (state, token) else { return Err(not_logged_in()) };
            if token.is_empty() || token.len() > 128 {
                return Err(not_logged_in());
            }
            let hash = cmd::token_hash(&state.keyring, &token);
            let record = state.read(move |c| q::session_by_token_hash(c, &hash)).await?.ok_or_else(not_logged_in)?;
            let now = state.clock.now();
            let live = !record.ended
                && record.status == UserStatus::Active
                && crate::clock::parse(&record.expires_at).is_some_and(|e| now < e);
            if !live {
                return Err(not_logged_in());
            }
            Ok(Reviewer {
                user_id: record.user_id,
                role: record.role,
                session_id: record.session_id,
                environment,
                csrf: cmd::csrf_token(&state.keyring, &token),
                token,
            })
        })
    }
}

/// A reviewer for a dashboard page: like `Reviewer`, but a visitor who is not signed in is sent to
/// the login page instead of getting the API's JSON 401.
pub struct SignedIn(pub Reviewer);

impl FromRequest for SignedIn {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let reviewer = Reviewer::from_request(req, payload);
        Box::pin(async move { reviewer.await.map(SignedIn).map_err(PageError) })
    }
}

pub(super) fn secure(req: &HttpRequest, state: &AppState) -> bool {
    req.connection_info().scheme() == "https"
        || state.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
}

/// A Set-Cookie value: HttpOnly, SameSite=Strict, Path=/, Secure behind https; Max-Age 0 removes it.
pub(super) fn cookie(name: &str, value: &str, max_age: i64, secure: bool) -> (header::HeaderName, String) {
    let secure = if secure { "; Secure" } else { "" };
    (header::SET_COOKIE, format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"))
}

/// A cookie's value from the request's Cookie header.
pub(super) fn read_cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_string())
}

/// The login form with a fresh double-submit token (in the form and in a cookie).
fn login_form(
    req: &HttpRequest,
    state: &AppState,
    status: actix_web::http::StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let csrf = cmd::new_login_csrf_token();
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1>{error}<form method=\"post\" action=\"/dashboard/login\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"totp\">Authenticator code (if enrolled)</label>\
         <input id=\"totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{{6}}\">\
         <button type=\"submit\">Sign in</button></form>"
    );
    let set = cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, secure(req, state));
    let mut res = page(status, "Sign in", &body);
    if let Ok(v) = header::HeaderValue::from_str(&set.1) {
        res.headers_mut().append(set.0, v);
    }
    res
}

#[tracing::instrument(skip_all)]
async fn login_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    login_form(&req, &state, actix_web::http::StatusCode::OK, None)
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    totp: Option<String>,
    csrf: Option<String>,
}

/// One message for every refusal, so a failed login does not tell which part was wrong or whether the
/// account exists or is locked.
const LOGIN_REFUSED: &str = "Invalid email, password or code, or too many attempts: try again later.";

pub(super) fn see_other(to: &str) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::SeeOther();
    b.insert_header((header::LOCATION, to.to_string())).insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

#[tracing::instrument(skip_all)]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let expected = read_cookie(&req, LOGIN_CSRF_COOKIE);
    let csrf_ok = match (expected.as_deref(), form.csrf.as_deref()) {
        (Some(e), Some(g)) => cmd::tokens_match(e, g),
        _ => false,
    };
    if !csrf_ok {
        return Err(csrf_refused());
    }
    if form.email.len() > 254 || form.password.len() > 1024 {
        return Ok(login_form(&req, &state, actix_web::http::StatusCode::UNAUTHORIZED, Some(LOGIN_REFUSED)));
    }
    let meta = CommandMeta {
        actor: "dashboard".into(),
        environment: "live".into(),
        request_id: request_id(&req),
        now: state.now(),
        origin: Some(crate::http::reply::org_origin(&req)),
    };
    let attempt = LoginAttempt { email: form.email, password: Zeroizing::new(form.password), totp: form.totp };
    match cmd::login(&state.writer, &state.read, state.keyring.clone(), meta, attempt).await? {
        None => Ok(login_form(&req, &state, actix_web::http::StatusCode::UNAUTHORIZED, Some(LOGIN_REFUSED))),
        Some(session) => {
            let secure = secure(&req, &state);
            Ok(see_other("/dashboard")
                .append_header(cookie(SESSION_COOKIE, &session.token, crate::domain::user::SESSION_SECS, secure))
                .append_header(cookie(LOGIN_CSRF_COOKIE, "", 0, secure))
                .finish())
        }
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    reviewer: Reviewer,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, AppError> {
    reviewer.check_csrf(form.csrf.as_deref())?;
    cmd::logout(&state.writer, &state.keyring, reviewer.meta(&req, state.now()), &reviewer.token).await?;
    Ok(see_other("/dashboard/login").append_header(cookie(SESSION_COOKIE, "", 0, secure(&req, &state))).finish())
}

/// The dashboard's home is the review queue; the login page when nobody is logged in.
#[tracing::instrument(skip_all)]
async fn home(reviewer: Option<Reviewer>) -> HttpResponse {
    match reviewer {
        Some(_) => see_other("/dashboard/cases").finish(),
        None => see_other("/dashboard/login").finish(),
    }
}

/// Who is signed in: name, email and role.
#[tracing::instrument(skip_all)]
async fn account(state: web::Data<AppState>, SignedIn(reviewer): SignedIn) -> PageResult {
    let keyring = state.keyring.clone();
    let id = reviewer.user_id.clone();
    let user = state.read(move |c| q::get(c, &keyring, id.as_str())).await?;
    let body = format!(
        "<h1>Account</h1><div class=\"card\"><dl class=\"fields\"><dt>Name</dt><dd>{name}</dd>\
         <dt>Email</dt><dd>{email}</dd><dt>Role</dt><dd><code>{role}</code></dd><dt>User id</dt><dd><code>{id}</code></dd>\
         <dt>Authenticator (TOTP)</dt><dd>{totp}</dd></dl></div>",
        name = escape(&user.name),
        email = escape(&user.email),
        role = reviewer.role.as_str(),
        id = escape(reviewer.user_id.as_str()),
        totp = if user.totp_enabled { "enrolled" } else { "not enrolled" },
    );
    Ok(shell(&reviewer, Section::Account, "Account", &body))
}

/// The cookie that remembers which environment the dashboard shows (not a credential).
const ENVIRONMENT_COOKIE: &str = "vk_dashboard_env";

fn environment_of(req: &HttpRequest) -> &'static str {
    match read_cookie(req, ENVIRONMENT_COOKIE).as_deref() {
        Some("sandbox") => "sandbox",
        _ => "live",
    }
}

#[derive(Deserialize)]
struct EnvironmentForm {
    environment: String,
    csrf: Option<String>,
}

/// Switches the environment the dashboard shows, then goes back to the queue.
#[tracing::instrument(skip_all)]
async fn switch_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    reviewer: Reviewer,
    form: web::Form<EnvironmentForm>,
) -> Result<HttpResponse, AppError> {
    reviewer.check_csrf(form.csrf.as_deref())?;
    let environment = match form.environment.as_str() {
        "live" | "sandbox" => form.environment.as_str(),
        _ => return Err(AppError::validation("environment", "must be live or sandbox")),
    };
    Ok(see_other("/dashboard/cases")
        .append_header(cookie(ENVIRONMENT_COOKIE, environment, 365 * 24 * 3600, secure(&req, &state)))
        .finish())
}

/// The answer to a refresh (spec §1.17).
#[derive(Debug, Serialize, ToSchema)]
struct Refreshed {
    /// Always true.
    refreshed: bool,
    /// The session's new expiry (8 h from now).
    expires_at: String,
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "Dashboard authentication", operation_id = "refresh_auth_session",
    params(("X-CSRF-Token" = String, Header, description = "The session's CSRF token (as in the dashboard's forms)")),
    responses((status = 200, description = "The dashboard session now lasts 8 h from now", body = Refreshed),
              (status = 401, description = "No live dashboard session (the `vk_org_token` cookie)", body = crate::http::error::ErrorBody),
              (status = 403, description = "The CSRF token is missing or wrong", body = crate::http::error::ErrorBody)),
    security(("OrgSession" = [])))]
#[tracing::instrument(skip_all)]
async fn refresh(req: HttpRequest, state: web::Data<AppState>, reviewer: Reviewer) -> Result<HttpResponse, AppError> {
    reviewer.check_csrf(req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()))?;
    let expires_at =
        cmd::refresh(&state.writer, &state.keyring, reviewer.meta(&req, state.now()), &reviewer.token).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .append_header(cookie(SESSION_COOKIE, &reviewer.token, crate::domain::user::SESSION_SECS, secure(&req, &state)))
        .json(Refreshed { refreshed: true, expires_at }))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(refresh), components(schemas(Refreshed)))]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
