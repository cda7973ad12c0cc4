//! /identity-types and /identity-types/{type_id}/fields.

use super::body::{ApiBody, QueryMap};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::types as cmd;
use crate::domain::identity_type::{FieldDefinition, FieldDefinitionUpdated, IdentityTypeCreated, IdentityTypeUpdated};
use crate::error::AppError;
use crate::queries::types as q;
use actix_web::web;
use serde::Deserialize;
use serde_json::json;

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

fn check_label(field: &str, value: &str) -> Result<(), AppError> {
    if value.trim().is_empty() || value.chars().count() > 100 {
        return Err(AppError::validation(field, "must be 1 to 100 characters"));
    }
    Ok(())
}

async fn list(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require("identities:read", &[])?;
    Ok(Reply::ok(q::list_types(&state.read.get()?, p.environment(), query.page(25)?)?))
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    label: String,
    description: Option<String>,
    statuses: Option<Vec<String>>,
    default_status: Option<String>,
    is_default: Option<bool>,
}

async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateBody>) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let b = body.0;
    check_label("label", &b.label)?;
    let input = IdentityTypeCreated {
        id: String::new(),
        name: b.name,
        label: b.label,
        description: b.description,
        statuses: b.statuses.unwrap_or_default(),
        default_status: b.default_status,
        is_default: b.is_default.unwrap_or(false),
    };
    let id = cmd::create_type(&state.writer, p.meta(state.now()), input).await?;
    Ok(Reply::created(q::get_type(&state.read.get()?, p.environment(), &id)?))
}

async fn get(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("identities:read", &[])?;
    Ok(Reply::ok(q::get_type(&state.read.get()?, p.environment(), &path)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    label: Option<String>,
    #[serde(default, with = "crate::domain::double_option")]
    description: Option<Option<String>>,
    statuses: Option<Vec<String>>,
    #[serde(default, with = "crate::domain::double_option")]
    default_status: Option<Option<String>>,
    is_default: Option<bool>,
}

async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<UpdateBody>,
) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let b = body.0;
    if let Some(l) = &b.label {
        check_label("label", l)?;
    }
    let update = IdentityTypeUpdated {
        label: b.label,
        description: b.description,
        statuses: b.statuses,
        default_status: b.default_status,
        is_default: b.is_default,
    };
    let id = cmd::update_type(&state.writer, p.meta(state.now()), path.into_inner(), update).await?;
    Ok(Reply::ok(q::get_type(&state.read.get()?, p.environment(), &id)?))
}

async fn delete(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    cmd::delete_type(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(json!({ "deleted": true })))
}

async fn list_fields(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("identities:read", &[])?;
    let conn = state.read.get()?;
    q::get_type(&conn, p.environment(), &path)?;
    Ok(Reply::ok(q::list_fields(&conn, &path)?))
}

#[derive(Deserialize)]
struct CreateFieldBody {
    name: String,
    label: String,
    field_type: String,
    is_required: Option<bool>,
    is_unique: Option<bool>,
    is_encrypted: Option<bool>,
    enum_values: Option<Vec<String>>,
    validation_regex: Option<String>,
    sort_order: Option<i64>,
}

async fn create_field(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<CreateFieldBody>,
) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let b = body.0;
    check_label("label", &b.label)?;
    let type_id = path.into_inner();
    let def = FieldDefinition {
        id: String::new(),
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
    Ok(Reply::created(q::get_field(&state.read.get()?, &type_id, &id)?))
}

async fn get_field(state: web::Data<AppState>, p: Principal, path: web::Path<(String, String)>) -> ApiResult {
    p.require("identities:read", &[])?;
    let (type_id, field_id) = path.into_inner();
    let conn = state.read.get()?;
    q::get_type(&conn, p.environment(), &type_id)?;
    Ok(Reply::ok(q::get_field(&conn, &type_id, &field_id)?))
}

#[derive(Deserialize)]
struct UpdateFieldBody {
    label: Option<String>,
    is_required: Option<bool>,
    is_unique: Option<bool>,
    sort_order: Option<i64>,
    #[serde(default, with = "crate::domain::double_option")]
    validation_regex: Option<Option<String>>,
    #[serde(default, with = "crate::domain::double_option")]
    enum_values: Option<Option<Vec<String>>>,
    name: Option<serde_json::Value>,
    field_type: Option<serde_json::Value>,
    is_encrypted: Option<serde_json::Value>,
}

async fn update_field(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<(String, String)>,
    body: ApiBody<UpdateFieldBody>,
) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let b = body.0;
    for (field, present) in
        [("name", b.name.is_some()), ("field_type", b.field_type.is_some()), ("is_encrypted", b.is_encrypted.is_some())]
    {
        if present {
            return Err(AppError::validation(field, "cannot be changed after the field is created"));
        }
    }
    if let Some(l) = &b.label {
        check_label("label", l)?;
    }
    let (type_id, field_id) = path.into_inner();
    let update = FieldDefinitionUpdated {
        id: field_id,
        label: b.label,
        is_required: b.is_required,
        is_unique: b.is_unique,
        sort_order: b.sort_order,
        validation_regex: b.validation_regex,
        enum_values: b.enum_values,
    };
    let id = cmd::update_field(&state.writer, p.meta(state.now()), type_id.clone(), update).await?;
    Ok(Reply::ok(q::get_field(&state.read.get()?, &type_id, &id)?))
}

async fn delete_field(state: web::Data<AppState>, p: Principal, path: web::Path<(String, String)>) -> ApiResult {
    p.require(SETTINGS, LEGACY)?;
    let (type_id, field_id) = path.into_inner();
    cmd::delete_field(&state.writer, p.meta(state.now()), type_id, field_id).await?;
    Ok(Reply::ok(json!({ "deleted": true })))
}
