//! /identities/{id}/relationships, /identities/{id}/graph and /relationship-types.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery};
use super::reply::{ApiResult, Deleted, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::relationships::{self as cmd, CreateLink, CreateRelationshipType, UpdateRelationshipType};
use crate::domain::identity::canonical_status;
use crate::domain::ids::{IdentityRef, RelationshipId, RelationshipTypeId};
use crate::domain::values::LongText;
use crate::domain::values::{Label, RelationshipTypeName};
use crate::error::AppError;
use crate::queries::identities as iq;
use crate::queries::relationships::{
    self as q, GraphEdge, GraphNode, GraphQuery, GraphView, RelationshipTypeView, RelationshipView,
};
use crate::queries::OffsetPage;
use actix_web::web;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

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

/// Filters of an identity's relationship list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only links of this relationship type.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<String>, pattern = "^[a-z][a-z0-9_]{0,63}$")]
    relationship_type: Option<RelationshipTypeName>,
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/relationships", tag = "Relationships",
    operation_id = "list_identity_relationships",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref"), ListQuery, PageQuery),
    responses((status = 200, description = "The identity's links, newest first", body = OffsetPage<RelationshipView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    query: ApiQuery<ListQuery>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require("identities:read", &[])?;
    let (env, page) = (p.env(), page.0.page(25)?);
    let kind = query.0.relationship_type;
    Ok(Reply::ok(
        state
            .read(move |c| {
                let id = iq::require(c, &env, path.as_str())?;
                q::list(c, &id, kind.as_ref().map(RelationshipTypeName::as_str), page)
            })
            .await?,
    ))
}

/// A link to another identity of the same environment (stored in both directions).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateLinkBody {
    /// The other identity: its `idn_` id or its external_ref.
    related_identity_id: IdentityRef,
    /// A built-in user type (default `user_linked`) or an active custom type's name; system types are refused
    /// (409) and a name that is no type is a 404.
    #[schema(example = "family_member")]
    relationship_type: Option<RelationshipTypeName>,
    note: Option<LongText>,
    /// Free-form data kept with the link.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Map<String, Value>>,
}

#[utoipa::path(post, path = "/api/v1/identities/{identity_id}/relationships", tag = "Relationships",
    operation_id = "create_identity_relationship",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    request_body = CreateLinkBody,
    responses(
        (status = 201, description = "The new link, seen from this identity", body = RelationshipView),
        (status = 404, description = "The identity, the related identity or the relationship type does not exist",
         body = super::error::ErrorBody),
        (status = 409, description = "The identities are already linked with this type; the link is to the identity \
         itself; the type is a system type or an inactive custom type; or an identity is redacted or merged",
         body = super::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    body: ApiBody<CreateLinkBody>,
) -> ApiResult {
    p.require("identities:write", &[])?;
    let b = body.0;
    let input = CreateLink {
        related_identity_id: b.related_identity_id,
        relationship_type: b
            .relationship_type
            .unwrap_or_else(|| RelationshipTypeName::from_stored("user_linked".into())),
        note: b.note,
        metadata: b.metadata.unwrap_or_default(),
    };
    let id = cmd::create(&state.writer, p.meta(state.now()), path.into_inner(), input).await?;
    Ok(Reply::created(state.read(move |c| q::get(c, id.as_str())).await?))
}

#[utoipa::path(delete, path = "/api/v1/identities/{identity_id}/relationships/{relationship_id}",
    tag = "Relationships", operation_id = "delete_identity_relationship",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref"),
           ("relationship_id" = RelationshipId, Path, description = "The link, as listed for this identity")),
    responses((status = 200, description = "Both directions of the link are gone", body = Deleted),
              (status = 409, description = "A system link cannot be deleted", body = super::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn delete(state: web::Data<AppState>, p: Principal, path: ApiPath<(IdentityRef, RelationshipId)>) -> ApiResult {
    p.require("identities:write", &[])?;
    let (identity, relationship) = path.into_inner();
    cmd::delete(&state.writer, p.meta(state.now()), identity, relationship).await?;
    Ok(Reply::ok(Deleted::YES))
}

/// What the graph walk follows and shows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct GraphParams {
    /// Hops from the root, 1 to 5 (default 2).
    #[param(minimum = 1, maximum = 5)]
    depth: Option<u32>,
    /// Comma-separated relationship type names to follow (default: all).
    relationship_types: Option<String>,
    /// Comma-separated identity statuses to show and walk through (default: all); the root is always shown.
    identity_statuses: Option<String>,
    /// Comma-separated identity ids to leave out (the root is always shown).
    exclude_identity_ids: Option<String>,
}

fn csv(value: &Option<String>) -> Vec<String> {
    value
        .as_deref()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/graph", tag = "Relationships",
    operation_id = "get_identity_graph",
    params(("identity_id" = IdentityRef, Path, description = "The root identity's id or external_ref"), GraphParams),
    responses((status = 200, description = "Nodes and edges reached breadth-first", body = GraphView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn graph(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    query: ApiQuery<GraphParams>,
) -> ApiResult {
    p.require("identities:read", &[])?;
    let query = query.0;
    let depth = query.depth.unwrap_or(2);
    if !(1..=5).contains(&depth) {
        return Err(AppError::validation("depth", "must be an integer from 1 to 5"));
    }
    let statuses = csv(&query.identity_statuses)
        .into_iter()
        .map(|s| canonical_status(&s).map(str::to_string).unwrap_or(s))
        .collect();
    let gq = GraphQuery {
        depth,
        relationship_types: csv(&query.relationship_types),
        identity_statuses: statuses,
        exclude_identity_ids: csv(&query.exclude_identity_ids),
    };
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::graph(c, &iq::require(c, &env, path.as_str())?, &gq)).await?))
}

#[utoipa::path(get, path = "/api/v1/relationship-types", tag = "Relationships", operation_id = "list_relationship_types",
    params(PageQuery),
    responses((status = 200, description = "The environment's custom relationship types", body = OffsetPage<RelationshipTypeView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list_types(state: web::Data<AppState>, p: Principal, page: ApiQuery<PageQuery>) -> ApiResult {
    p.require("identities:read", &[])?;
    let env = p.env();
    let page = page.0.page(25)?;
    Ok(Reply::ok(state.read(move |c| q::list_types(c, &env, page)).await?))
}

/// A custom relationship type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateRelationshipTypeBody {
    /// The name links will use; must not be a built-in type's name.
    name: RelationshipTypeName,
    label: Label,
    /// The label from the related identity's side (default: `label`).
    inverse_label: Option<Label>,
    description: Option<LongText>,
    /// Default true.
    is_active: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/relationship-types", tag = "Relationships", operation_id = "create_relationship_type",
    request_body = CreateRelationshipTypeBody,
    responses((status = 201, description = "The new relationship type", body = RelationshipTypeView),
              (status = 409, description = "A type with this name exists, or the name is a built-in type's",
               body = super::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create_type(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateRelationshipTypeBody>) -> ApiResult {
    p.require("settings:write", &["identities:write"])?;
    let b = body.0;
    let input = CreateRelationshipType {
        name: b.name,
        label: b.label,
        inverse_label: b.inverse_label,
        description: b.description,
        is_active: b.is_active.unwrap_or(true),
    };
    let id = cmd::create_type(&state.writer, p.meta(state.now()), input).await?;
    let env = p.env();
    Ok(Reply::created(state.read(move |c| q::get_type(c, &env, id.as_str())).await?))
}

#[utoipa::path(get, path = "/api/v1/relationship-types/{type_id}", tag = "Relationships",
    operation_id = "get_relationship_type",
    params(("type_id" = RelationshipTypeId, Path, description = "The relationship type")),
    responses((status = 200, description = "The relationship type", body = RelationshipTypeView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get_type(state: web::Data<AppState>, p: Principal, path: ApiPath<RelationshipTypeId>) -> ApiResult {
    p.require("identities:read", &[])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get_type(c, &env, path.as_str())).await?))
}

/// Changes to a custom relationship type; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateRelationshipTypeBody {
    label: Option<Label>,
    inverse_label: Option<Label>,
    /// Null clears it.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<LongText>)]
    description: Option<Option<LongText>>,
    is_active: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/relationship-types/{type_id}", tag = "Relationships",
    operation_id = "update_relationship_type",
    params(("type_id" = RelationshipTypeId, Path, description = "The relationship type")),
    request_body = UpdateRelationshipTypeBody,
    responses((status = 200, description = "The updated relationship type", body = RelationshipTypeView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update_type(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<RelationshipTypeId>,
    body: ApiBody<UpdateRelationshipTypeBody>,
) -> ApiResult {
    p.require("settings:write", &["identities:write"])?;
    let b = body.0;
    let update = UpdateRelationshipType {
        label: b.label,
        inverse_label: b.inverse_label,
        description: b.description,
        is_active: b.is_active,
    };
    let id = cmd::update_type(&state.writer, p.meta(state.now()), path.into_inner(), update).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get_type(c, &env, id.as_str())).await?))
}

#[utoipa::path(delete, path = "/api/v1/relationship-types/{type_id}", tag = "Relationships",
    operation_id = "delete_relationship_type",
    params(("type_id" = RelationshipTypeId, Path, description = "The relationship type")),
    responses((status = 200, description = "The type is deleted", body = Deleted)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn delete_type(state: web::Data<AppState>, p: Principal, path: ApiPath<RelationshipTypeId>) -> ApiResult {
    p.require("settings:write", &["identities:write"])?;
    cmd::delete_type(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(Deleted::YES))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, delete, graph, list_types, create_type, get_type, update_type, delete_type),
    components(schemas(
        CreateLinkBody,
        CreateRelationshipTypeBody,
        UpdateRelationshipTypeBody,
        RelationshipView,
        RelationshipTypeView,
        GraphView,
        GraphNode,
        GraphEdge,
        Deleted
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
