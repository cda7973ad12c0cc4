//! /users: the admin API over org users (reviewer accounts), for machines holding an API key with
//! `settings:write`. Email and name are answered opened; the password hash and TOTP secret never are.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::users::{self as cmd, CreateUser};
use crate::domain::ids::OrgUserId;
use crate::domain::user::{Role, UserStatus};
use crate::domain::values::{Email, PersonName};
use crate::queries::users::{self as q, OrgUserView};
use crate::queries::OffsetPage;
use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/users", "List org users", web::get().to(list));
    t.add("POST", "/users", "Create an org user", web::post().to(create));
    t.add("GET", "/users/{user_id}", "Get an org user", web::get().to(get));
    t.add("PATCH", "/users/{user_id}", "Update an org user", web::patch().to(update));
    t.add("POST", "/users/{user_id}/disable", "Disable an org user", web::post().to(disable));
    t.add("POST", "/users/{user_id}/totp", "Enrol TOTP for an org user", web::post().to(enrol_totp));
}

impl super::body::PathNoun for OrgUserId {
    const NOUN: &'static str = "User";
}

// Managing who may review is organisation administration, the same power as changing settings.
const SCOPE: &str = "settings:write";

#[utoipa::path(get, path = "/api/v1/users", tag = "Users", operation_id = "list_users",
    params(PageQuery),
    responses((status = 200, description = "The org users, newest first", body = OffsetPage<OrgUserView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, page: ApiQuery<PageQuery>) -> ApiResult {
    p.require(SCOPE, &[])?;
    let page = page.0.page(50)?;
    let keyring = state.keyring.clone();
    Ok(Reply::ok(state.read(move |c| q::list(c, &keyring, page)).await?))
}

/// A new org user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateUserBody {
    email: Email,
    name: PersonName,
    role: Role,
    /// 12 to 256 characters. Without one, a password is generated and answered once.
    #[schema(min_length = 12, max_length = 256, write_only)]
    password: Option<String>,
}

/// A new user, with its generated password when none was given (shown this once).
#[derive(Debug, Serialize, ToSchema)]
struct CreatedUser {
    #[serde(flatten)]
    user: OrgUserView,
    /// Only when no password was given; not retrievable later.
    #[serde(skip_serializing_if = "Option::is_none")]
    generated_password: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/users", tag = "Users", operation_id = "create_user",
    request_body = CreateUserBody,
    responses((status = 201, description = "The new user", body = CreatedUser),
              (status = 409, description = "A user with this email already exists", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateUserBody>) -> ApiResult {
    p.require(SCOPE, &[])?;
    let b = body.0;
    let input = CreateUser { email: b.email, name: b.name, role: b.role, password: b.password.map(Zeroizing::new) };
    let new = cmd::create(&state.writer, state.keyring.clone(), p.meta(state.now()), input).await?;
    let keyring = state.keyring.clone();
    let id = new.id.clone();
    let user = state.read(move |c| q::get(c, &keyring, id.as_str())).await?;
    Ok(Reply::created(CreatedUser { user, generated_password: new.generated_password.map(|p| p.to_string()) }))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}", tag = "Users", operation_id = "get_user",
    params(("user_id" = OrgUserId, Path, description = "The user")),
    responses((status = 200, description = "The user", body = OrgUserView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<OrgUserId>) -> ApiResult {
    p.require(SCOPE, &[])?;
    let keyring = state.keyring.clone();
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, path.as_str())).await?))
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateUserBody {
    role: Option<Role>,
    name: Option<PersonName>,
}

#[utoipa::path(patch, path = "/api/v1/users/{user_id}", tag = "Users", operation_id = "update_user",
    params(("user_id" = OrgUserId, Path, description = "The user")),
    request_body = UpdateUserBody,
    responses((status = 200, description = "The updated user", body = OrgUserView),
              (status = 409, description = "The user is disabled", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<OrgUserId>,
    body: ApiBody<UpdateUserBody>,
) -> ApiResult {
    p.require(SCOPE, &[])?;
    let b = body.0;
    let id = cmd::update(&state.writer, state.keyring.clone(), p.meta(state.now()), path.into_inner(), b.role, b.name)
        .await?;
    let keyring = state.keyring.clone();
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, id.as_str())).await?))
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/disable", tag = "Users", operation_id = "disable_user",
    params(("user_id" = OrgUserId, Path, description = "The user")),
    responses((status = 200, description = "The user, disabled: it can no longer log in and its sessions end",
               body = OrgUserView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn disable(state: web::Data<AppState>, p: Principal, path: ApiPath<OrgUserId>) -> ApiResult {
    p.require(SCOPE, &[])?;
    let id = cmd::disable(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    let keyring = state.keyring.clone();
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, id.as_str())).await?))
}

/// A TOTP enrolment: the secret for an authenticator app, shown this once.
#[derive(Debug, Serialize, ToSchema)]
struct TotpEnrolment {
    id: OrgUserId,
    /// `otpauth://totp/...` (RFC 6238: SHA-1, 6 digits, 30 s), for a QR code or an authenticator app.
    #[schema(
        example = "otpauth://totp/idv:reviewer%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=idv&algorithm=SHA1&digits=6&period=30"
    )]
    otpauth_uri: String,
    /// The same secret, base32.
    secret: String,
    status: UserStatus,
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/totp", tag = "Users", operation_id = "enrol_user_totp",
    params(("user_id" = OrgUserId, Path, description = "The user")),
    responses((status = 201, description = "TOTP enrolled; logins now need a code", body = TotpEnrolment),
              (status = 409, description = "TOTP is already enrolled, or the user is disabled", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn enrol_totp(state: web::Data<AppState>, p: Principal, path: ApiPath<OrgUserId>) -> ApiResult {
    p.require(SCOPE, &[])?;
    let id = path.into_inner();
    let secret = cmd::enrol_totp(&state.writer, state.keyring.clone(), p.meta(state.now()), id.clone()).await?;
    let keyring = state.keyring.clone();
    let lookup = id.clone();
    let user = state.read(move |c| q::get(c, &keyring, lookup.as_str())).await?;
    let label: String = form_urlencoded::byte_serialize(format!("idv:{}", user.email).as_bytes()).collect();
    let otpauth_uri =
        format!("otpauth://totp/{label}?secret={}&issuer=idv&algorithm=SHA1&digits=6&period=30", secret.as_str());
    Ok(Reply::created(TotpEnrolment { id, otpauth_uri, secret: secret.to_string(), status: user.status }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, disable, enrol_totp),
    components(schemas(CreateUserBody, CreatedUser, UpdateUserBody, OrgUserView, TotpEnrolment, Role, UserStatus))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
