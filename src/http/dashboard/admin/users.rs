//! Admin: org users – the list with role changes and disabling, and the new-user form (an initial
//! password given or generated and shown once). Must not hash, seal or store anything itself (the users
//! commands do).

use super::{admit, answer, back, refused, secret_page};
use crate::commands::users::{self as user_cmd, CreateUser};
use crate::domain::ids::OrgUserId;
use crate::domain::user::{Role, UserStatus};
use crate::domain::values::{Email, PersonName};
use crate::error::AppError;
use crate::http::dashboard::auth::{Reviewer, SignedIn};
use crate::http::dashboard::directory::{badge, field_error, opt, when, Fields};
use crate::http::dashboard::layout::{escape, PageResult};
use crate::http::AppState;
use crate::queries::users::OrgUserView;
use actix_web::{web, HttpRequest};
use zeroize::Zeroizing;

fn role_options(selected: Option<Role>) -> String {
    [Role::Reviewer, Role::SeniorReviewer, Role::Admin]
        .iter()
        .map(|r| {
            let sel = if Some(*r) == selected { " selected" } else { "" };
            format!("<option value=\"{v}\"{sel}>{label}</option>", v = r.as_str(), label = r.as_str().replace('_', " "))
        })
        .collect()
}

pub(super) fn table(reviewer: &Reviewer, users: &[OrgUserView], csrf: &str) -> String {
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

pub(super) fn new_form(csrf: &str) -> String {
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

fn parse_new_user(form: &Fields) -> Result<CreateUser, AppError> {
    let email = Email::parse("email", form.get("email").unwrap_or("")).map_err(field_error)?;
    let name = PersonName::parse("name", form.get("name").unwrap_or("")).map_err(field_error)?;
    let role = Role::parse_field("role", form.get("role").unwrap_or(""))?;
    let password = form.raw("password").map(|p| Zeroizing::new(p.to_string()));
    Ok(CreateUser { email, name, role, password })
}

#[tracing::instrument(skip_all)]
pub(super) async fn create(
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
pub(super) async fn change_role(
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
    answer(&state, &reviewer, result, "role_changed").await
}

#[tracing::instrument(skip_all)]
pub(super) async fn disable(
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
    answer(&state, &reviewer, result, "user_disabled").await
}
