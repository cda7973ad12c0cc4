//! /identity-types and /identity-types/{type_id}/fields.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery};
use super::error::ErrorBody;
use super::reply::{ApiResult, Deleted, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::types::{self as cmd, CreateIdentityType, DefineField, UpdateField, UpdateIdentityType};
use crate::domain::identity_type::FieldType;
use crate::domain::ids::{CustomFieldId, IdentityTypeId};
use crate::domain::values::LongText;
use crate::domain::values::{Label, Slug};
use crate::queries::types::{self as q, CustomFieldView, IdentityTypeView};
use crate::queries::OffsetPage;
use actix_web::web;
use serde::Deserialize;
use utoipa::ToSchema;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/identity-types", "List identity types", web::get().to(list));
    t.add("POST", "/identity-types", "Create an identity type", web::post().to(create));
    t.add("GET", "/identity-types/{type_id}", "Get an identity type", web::get().to(get));
    t.add("PATCH", "/identity-types/{type_id}", "Update an identity type", web::patch().to(update));
    t.add("DELETE", "/identity-types/{type_id}", "Delete an identity type", web::delete().to(delete));
    t.add("GET", "/identity-types/{type_id}/fields", "List custom field definitions", web::get().to(list_fields));
    t.add("POST", "/identity-types/{type_id}/fields", "Create a custom field definition", web::post().to(create_field));
    t.add(
        "GET",
        "/identity-types/{type_id}/fields/{field_id}",
        "Get a custom field definition",
        web::get().to(get_field),
    );
    t.add(
        "PATCH",
        "/identity-types/{type_id}/fields/{field_id}",
        "Update a custom field definition",
        web::patch().to(update_field),
    );
    t.add(
        "DELETE",
        "/identity-types/{type_id}/fields/{field_id}",
        "Delete a custom field definition",
        web::delete().to(delete_field),
    );
}

const SETTINGS: &str = "settings:write";
const LEGACY: &[&str] = &["identities:write"];

#[utoipa::path(get, path = "/api/v1/identity-types", tag = "Identity types", operation_id = "list_identity_types",
    params(PageQuery),
    responses((status = 200, description = "The environment's identity types", body = OffsetPage<IdentityTypeView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, page: ApiQuery<PageQuery>) -> ApiResult {
    p.require("identities:read", &[])?;
    let env = p.env();
    let page = page.0.page(25)?;
    Ok(Reply::ok(state.read(move |c| q::list_types(c, &env, page)).await?))
}

/// A new identity type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateIdentityTypeBody {
    name: Slug,
    label: Label,
    description: Option<LongText>,
    /// Custom statuses for identities of this type.
    statuses: Option<Vec<Slug>>,
    /// The status new identities of this type start in: a lifecycle status (not `redacted` or `merged`) or a
    /// custom status, which joins `statuses` when it is not listed.
    default_status: Option<Slug>,
    /// Make this the type of identities created without one (default false).
    is_default: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/identity-types", tag = "Identity types", operation_id = "create_identity_type",
    request_body = CreateIdentityTypeBody,
    responses((status = 201, description = "The new identity type", body = IdentityTypeView),
              (status = 409, description = "A type with this name exists", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateIdentityTypeBody>) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let b = body.0;
    let input = CreateIdentityType {
        name: b.name,
        label: b.label,
        description: b.description,
        statuses: b.statuses.unwrap_or_default(),
        default_status: b.default_status,
        is_default: b.is_default.unwrap_or(false),
    };
    let id = cmd::create_type(&state.writer, p.meta(state.now()), input).await?;
    let env = p.env();
    Ok(Reply::created(state.read(move |c| q::get_type(c, &env, id.as_str())).await?))
}

#[utoipa::path(get, path = "/api/v1/identity-types/{type_id}", tag = "Identity types", operation_id = "get_identity_type",
    params(("type_id" = IdentityTypeId, Path, description = "The identity type")),
    responses((status = 200, description = "The identity type", body = IdentityTypeView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityTypeId>) -> ApiResult {
    p.require("identities:read", &[])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get_type(c, &env, path.as_str())).await?))
}

/// Changes to an identity type; absent fields stay as they are. The name cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateIdentityTypeBody {
    label: Option<Label>,
    /// Null clears it.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<LongText>)]
    description: Option<Option<LongText>>,
    statuses: Option<Vec<Slug>>,
    /// Null clears it (new identities start `pending`). A custom status joins the statuses (those sent, or
    /// the stored ones) when it is not among them.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<Slug>)]
    default_status: Option<Option<Slug>>,
    is_default: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/identity-types/{type_id}", tag = "Identity types",
    operation_id = "update_identity_type",
    params(("type_id" = IdentityTypeId, Path, description = "The identity type")),
    request_body = UpdateIdentityTypeBody,
    responses((status = 200, description = "The updated identity type", body = IdentityTypeView),
              (status = 409, description = "The new statuses leave out the type's default status", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityTypeId>,
    body: ApiBody<UpdateIdentityTypeBody>,
) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let b = body.0;
    let update = UpdateIdentityType {
        label: b.label,
        description: b.description,
        statuses: b.statuses,
        default_status: b.default_status,
        is_default: b.is_default,
    };
    let id = cmd::update_type(&state.writer, p.meta(state.now()), path.into_inner(), update).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get_type(c, &env, id.as_str())).await?))
}

#[utoipa::path(delete, path = "/api/v1/identity-types/{type_id}", tag = "Identity types",
    operation_id = "delete_identity_type",
    params(("type_id" = IdentityTypeId, Path, description = "The identity type")),
    responses((status = 200, description = "The type is deleted", body = Deleted),
              (status = 409, description = "Identities of this type exist", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn delete(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityTypeId>) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    cmd::delete_type(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(Deleted::YES))
}

#[utoipa::path(get, path = "/api/v1/identity-types/{type_id}/fields", tag = "Identity types",
    operation_id = "list_custom_fields",
    params(("type_id" = IdentityTypeId, Path, description = "The identity type")),
    responses((status = 200, description = "Every field of the type, by sort order then name", body = OffsetPage<CustomFieldView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list_fields(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityTypeId>) -> ApiResult {
    p.require("identities:read", &[])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::fields_of_type(c, &env, path.as_str())).await?))
}

/// A new custom field definition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateCustomFieldBody {
    /// The key under `custom_fields` on identities.
    name: Slug,
    label: Label,
    field_type: FieldType,
    is_required: Option<bool>,
    is_unique: Option<bool>,
    /// Seal values at rest (an encrypted field cannot be unique).
    is_encrypted: Option<bool>,
    /// Required (non-empty) for an `enum` field.
    enum_values: Option<Vec<String>>,
    /// A regular expression string values must match.
    validation_regex: Option<String>,
    /// Position among the type's fields (lower first), a whole number from -1000000000 to 1000000000.
    #[serde(default, deserialize_with = "sort_order")]
    #[schema(minimum = -1_000_000_000, maximum = 1_000_000_000)]
    sort_order: Option<i64>,
}

const SORT_ORDER_LIMIT: i64 = 1_000_000_000;

/// A field's sort order: a whole number in range.
fn sort_order<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    match Option::<i64>::deserialize(d)? {
        None => Ok(None),
        Some(i) if (-SORT_ORDER_LIMIT..=SORT_ORDER_LIMIT).contains(&i) => Ok(Some(i)),
        Some(_) => Err(D::Error::custom("must be a whole number from -1000000000 to 1000000000")),
    }
}

#[utoipa::path(post, path = "/api/v1/identity-types/{type_id}/fields", tag = "Identity types",
    operation_id = "create_custom_field",
    params(("type_id" = IdentityTypeId, Path, description = "The identity type")),
    request_body = CreateCustomFieldBody,
    responses((status = 201, description = "The new field definition", body = CustomFieldView),
              (status = 409, description = "The type has a field with this name", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create_field(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityTypeId>,
    body: ApiBody<CreateCustomFieldBody>,
) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let b = body.0;
    let type_id = path.into_inner();
    let def = DefineField {
        identity_type_id: type_id.clone(),
        name: b.name,
        label: b.label,
        field_type: b.field_type,
        is_required: b.is_required.unwrap_or(false),
        is_unique: b.is_unique.unwrap_or(false),
        is_encrypted: b.is_encrypted.unwrap_or(false),
        enum_values: b.enum_values,
        validation_regex: b.validation_regex,
        sort_order: b.sort_order.unwrap_or(0),
    };
    let id = cmd::define_field(&state.writer, p.meta(state.now()), def).await?;
    Ok(Reply::created(state.read(move |c| q::get_field(c, type_id.as_str(), id.as_str())).await?))
}

#[utoipa::path(get, path = "/api/v1/identity-types/{type_id}/fields/{field_id}", tag = "Identity types",
    operation_id = "get_custom_field",
    params(("type_id" = IdentityTypeId, Path, description = "The identity type"),
           ("field_id" = CustomFieldId, Path, description = "The field definition")),
    responses((status = 200, description = "The field definition", body = CustomFieldView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get_field(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<(IdentityTypeId, CustomFieldId)>,
) -> ApiResult {
    p.require("identities:read", &[])?;
    let (type_id, field_id) = path.into_inner();
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::field_of_type(c, &env, type_id.as_str(), field_id.as_str())).await?))
}

/// Changes to a field definition; absent fields stay as they are. `name`, `field_type` and
/// `is_encrypted` are fixed at creation (sending them is a 422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateCustomFieldBody {
    label: Option<Label>,
    is_required: Option<bool>,
    is_unique: Option<bool>,
    /// Position among the type's fields (lower first), a whole number from -1000000000 to 1000000000.
    #[serde(default, deserialize_with = "sort_order")]
    #[schema(minimum = -1_000_000_000, maximum = 1_000_000_000)]
    sort_order: Option<i64>,
    /// Null removes the pattern.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<String>)]
    validation_regex: Option<Option<String>>,
    /// Null removes the list (not allowed for an `enum` field).
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    enum_values: Option<Option<Vec<String>>>,
}

#[utoipa::path(patch, path = "/api/v1/identity-types/{type_id}/fields/{field_id}", tag = "Identity types",
    operation_id = "update_custom_field",
    params(("type_id" = IdentityTypeId, Path, description = "The identity type"),
           ("field_id" = CustomFieldId, Path, description = "The field definition")),
    request_body = UpdateCustomFieldBody,
    responses((status = 200, description = "The updated field definition", body = CustomFieldView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update_field(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<(IdentityTypeId, CustomFieldId)>,
    body: ApiBody<UpdateCustomFieldBody>,
) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let b = body.0;
    let (type_id, field_id) = path.into_inner();
    let update = UpdateField {
        id: field_id,
        label: b.label,
        is_required: b.is_required,
        is_unique: b.is_unique,
        sort_order: b.sort_order,
        validation_regex: b.validation_regex,
        enum_values: b.enum_values,
    };
    let id = cmd::update_field(&state.writer, p.meta(state.now()), type_id.clone(), update).await?;
    Ok(Reply::ok(state.read(move |c| q::get_field(c, type_id.as_str(), id.as_str())).await?))
}

#[utoipa::path(delete, path = "/api/v1/identity-types/{type_id}/fields/{field_id}", tag = "Identity types",
    operation_id = "delete_custom_field",
    params(("type_id" = IdentityTypeId, Path, description = "The identity type"),
           ("field_id" = CustomFieldId, Path, description = "The field definition")),
    responses((status = 200, description = "The field definition is deleted", body = Deleted)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn delete_field(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<(IdentityTypeId, CustomFieldId)>,
) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let (type_id, field_id) = path.into_inner();
    cmd::delete_field(&state.writer, p.meta(state.now()), type_id, field_id).await?;
    Ok(Reply::ok(Deleted::YES))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, list_fields, create_field, get_field, update_field, delete_field),
    components(schemas(
        CreateIdentityTypeBody,
        UpdateIdentityTypeBody,
        CreateCustomFieldBody,
        UpdateCustomFieldBody,
        IdentityTypeView,
        CustomFieldView,
        FieldType,
        Deleted
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
