//! /identities/{id}/relationships, /identities/{id}/graph and /relationship-types.

use super::body::{ApiBody, QueryMap};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::relationships::{self as cmd, CreateLink, CreateRelationshipType};
use crate::domain::identity::canonical_status;
use crate::domain::relationship::RelationshipTypeUpdated;
use crate::error::AppError;
use crate::queries::identities as iq;
use crate::queries::relationships::{self as q, GraphQuery};
use actix_web::web;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/identities/{identity_id}/relationships", "List identity relationships", web::get().to(list));
    t.add("POST", "/identities/{identity_id}/relationships", "Create an identity relationship", web::post().to(create));
    t.add(
        "DELETE",
        "/identities/{identity_id}/relationships/{relationship_id}",
        "Delete an identity relationship",
        web::delete().to(delete),
    );
    t.add("GET", "/identities/{identity_id}/graph", "Query identity relationship graph", web::get().to(graph));
    t.add("GET", "/relationship-types", "List relationship types", web::get().to(list_types));
    t.add("POST", "/relationship-types", "Create a relationship type", web::post().to(create_type));
    t.add("GET", "/relationship-types/{type_id}", "Get a relationship type", web::get().to(get_type));
    t.add("PATCH", "/relationship-types/{type_id}", "Update a relationship type", web::patch().to(update_type));
    t.add("DELETE", "/relationship-types/{type_id}", "Delete a relationship type", web::delete().to(delete_type));
}

async fn list(state: web::Data<AppState>, p: Principal, path: web::Path<String>, query: QueryMap) -> ApiResult {
    p.require("identities:read", &[])?;
    let conn = state.read.get()?;
    let id = iq::require(&conn, p.environment(), &path)?;
    Ok(Reply::ok(q::list(&conn, &id, query.get("type"), query.page(25)?)?))
}

#[derive(Deserialize)]
struct CreateBody {
    related_identity_id: String,
    relationship_type: Option<String>,
    note: Option<String>,
    metadata: Option<Map<String, Value>>,
}

async fn create(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<CreateBody>,
) -> ApiResult {
    p.require("identities:write", &[])?;
    let b = body.0;
    if let Some(note) = &b.note {
        if note.chars().count() > 1000 {
            return Err(AppError::validation("note", "must be at most 1000 characters"));
        }
    }
    let input = CreateLink {
        related_identity_id: b.related_identity_id,
        relationship_type: b.relationship_type.unwrap_or_else(|| "user_linked".into()),
        note: b.note,
        metadata: b.metadata.unwrap_or_default(),
    };
    let id = cmd::create(&state.writer, p.meta(state.now()), path.into_inner(), input).await?;
    Ok(Reply::created(q::get(&state.read.get()?, &id)?))
}

async fn delete(state: web::Data<AppState>, p: Principal, path: web::Path<(String, String)>) -> ApiResult {
    p.require("identities:write", &[])?;
    let (identity, relationship) = path.into_inner();
    cmd::delete(&state.writer, p.meta(state.now()), identity, relationship).await?;
    Ok(Reply::ok(json!({ "deleted": true })))
}

async fn graph(state: web::Data<AppState>, p: Principal, path: web::Path<String>, query: QueryMap) -> ApiResult {
    p.require("identities:read", &[])?;
    let conn = state.read.get()?;
    let id = iq::require(&conn, p.environment(), &path)?;
    let statuses = query
        .csv("identity_statuses")
        .into_iter()
        .map(|s| canonical_status(&s).map(str::to_string).unwrap_or(s))
        .collect();
    let gq = GraphQuery {
        depth: query.int("depth", 1, 5, 2)? as u32,
        relationship_types: query.csv("relationship_types"),
        identity_statuses: statuses,
        exclude_identity_ids: query.csv("exclude_identity_ids"),
    };
    Ok(Reply::ok(q::graph(&conn, &id, &gq)?))
}

async fn list_types(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require("identities:read", &[])?;
    Ok(Reply::ok(q::list_types(&state.read.get()?, p.environment(), query.page(25)?)?))
}

#[derive(Deserialize)]
struct CreateTypeBody {
    name: String,
    label: String,
    inverse_label: Option<String>,
    description: Option<String>,
    is_active: Option<bool>,
}

fn check_label(field: &str, value: &str) -> Result<(), AppError> {
    if value.trim().is_empty() || value.chars().count() > 100 {
        return Err(AppError::validation(field, "must be 1 to 100 characters"));
    }
    Ok(())
}

async fn create_type(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateTypeBody>) -> ApiResult {
    p.require("settings:write", &["identities:write"])?;
    let b = body.0;
    check_label("label", &b.label)?;
    if let Some(l) = &b.inverse_label {
        check_label("inverse_label", l)?;
    }
    let input = CreateRelationshipType {
        name: b.name,
        label: b.label,
        inverse_label: b.inverse_label,
        description: b.description,
        is_active: b.is_active.unwrap_or(true),
    };
    let id = cmd::create_type(&state.writer, p.meta(state.now()), input).await?;
    Ok(Reply::created(q::get_type(&state.read.get()?, p.environment(), &id)?))
}

async fn get_type(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("identities:read", &[])?;
    Ok(Reply::ok(q::get_type(&state.read.get()?, p.environment(), &path)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTypeBody {
    label: Option<String>,
    inverse_label: Option<String>,
    #[serde(default, with = "crate::domain::double_option")]
    description: Option<Option<String>>,
    is_active: Option<bool>,
}

async fn update_type(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<UpdateTypeBody>,
) -> ApiResult {
    p.require("settings:write", &["identities:write"])?;
    let b = body.0;
    for (field, value) in [("label", &b.label), ("inverse_label", &b.inverse_label)] {
        if let Some(v) = value {
            check_label(field, v)?;
        }
    }
    let update = RelationshipTypeUpdated {
        label: b.label,
        inverse_label: b.inverse_label,
        description: b.description,
        is_active: b.is_active,
    };
    let id = cmd::update_type(&state.writer, p.meta(state.now()), path.into_inner(), update).await?;
    Ok(Reply::ok(q::get_type(&state.read.get()?, p.environment(), &id)?))
}

async fn delete_type(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("settings:write", &["identities:write"])?;
    cmd::delete_type(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(json!({ "deleted": true })))
}
