//! /lists (custom allow/block/flag lists, spec §1.10), their items, CSV import/export, the no-persistence
//! check, match records (/lists/matches, /sessions/{id}/list-matches).

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery, Upload};
use super::reply::Deleted;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::lists::{self as cmd, Batch, CreateList, NewItem, UpdateList};
use crate::domain::custom_list::{ListType, MatchMode, Outcome, Subject};
use crate::domain::ids::{ListId, ListItemId, ListMatchId, SessionId};
use crate::domain::values::{LongText, Title};
use crate::error::AppError;
use crate::queries::lists::{
    self as q, ItemsAdded, ListCheckMatch, ListCheckResult, ListFilter, ListItemView, ListMatchRecord, ListView,
    ListWorkflow,
};
use crate::queries::{OffsetPage, OffsetPagination};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/lists", "List custom lists", web::get().to(list));
    t.add("POST", "/lists", "Create a custom list", web::post().to(create));
    // Static paths before `/lists/{list_id}`.
    t.add("POST", "/lists/check", "Check a subject against custom lists (no persistence)", web::post().to(check));
    t.add(
        "POST",
        "/lists/matches/{match_id}/false-positive",
        "Mark a list match as false positive",
        web::post().to(false_positive),
    );
    t.add("GET", "/lists/{list_id}", "Get a custom list", web::get().to(get));
    t.add("PATCH", "/lists/{list_id}", "Update a custom list", web::patch().to(update));
    t.add("POST", "/lists/{list_id}/archive", "Archive a custom list", web::post().to(archive));
    t.add("GET", "/lists/{list_id}/items", "List items", web::get().to(items));
    t.add("POST", "/lists/{list_id}/items", "Add an item", web::post().to(add_item));
    t.add("POST", "/lists/{list_id}/items/bulk", "Bulk add items", web::post().to(bulk));
    t.add("GET", "/lists/{list_id}/items/{item_id}", "Get a list item", web::get().to(item));
    t.add("DELETE", "/lists/{list_id}/items/{item_id}", "Delete a list item", web::delete().to(delete_item));
    t.add("POST", "/lists/{list_id}/import", "Import items from CSV", web::post().to(import));
    t.add("GET", "/lists/{list_id}/export", "Export items as CSV", web::get().to(export));
    t.add(
        "GET",
        "/sessions/{session_id}/list-matches",
        "Get custom list matches for a session",
        web::get().to(session_matches),
    );
    // The sessions reference spells the same resource `/lists/matches` (spec §1.1.1 #24).
    t.add(
        "GET",
        "/sessions/{session_id}/lists/matches",
        "Get custom list matches for a session",
        web::get().to(session_matches_alias),
    );
}

const READ: &str = "lists:read";
const WRITE: &str = "lists:write";

fn list_example() -> Value {
    json!({
        "id": "list_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "name": "Known fraudsters", "description": "Confirmed fraud cases",
        "list_type": "email", "match_mode": "block", "is_active": true, "item_count": 12, "archived_at": null,
        "org_id": "org_default", "created_at": "2026-01-15T10:00:00.000Z", "updated_at": "2026-01-15T10:00:00.000Z",
        "workflows": []
    })
}

fn item_example() -> Value {
    json!({
        "id": "litem_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "list_id": "list_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
        "value": { "email": "fraud@example.com", "match_domain_only": false }, "notes": "Case #12345",
        "created_at": "2026-01-15T10:00:00.000Z"
    })
}

fn match_example() -> Value {
    json!({
        "id": "lmatch_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "session_id": "ses_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
        "list_id": "list_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "list_item_id": "litem_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
        "list_type": "email", "match_mode": "block", "score": 1.0, "matched_field": "email", "details": {},
        "is_false_positive": false, "false_positive_reason": null, "marked_false_positive_at": null,
        "marked_false_positive_by": null, "created_at": "2026-01-15T10:00:00.000Z"
    })
}

/// Filters of the list of lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListsQuery {
    /// Only lists of this type.
    list_type: Option<ListType>,
    /// Only lists with this match mode.
    match_mode: Option<MatchMode>,
    /// Only active (true) or inactive (false) lists.
    is_active: Option<bool>,
    /// Include archived lists (default false).
    include_archived: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/lists", tag = "Lists", operation_id = "list_lists",
    params(ListsQuery, PageQuery),
    responses((status = 200, description = "The environment's lists, newest first", body = OffsetPage<ListView>,
        example = json!({ "data": [], "pagination": { "total": 0, "limit": 25, "offset": 0 } }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(
    state: web::Data<AppState>,
    p: Principal,
    query: ApiQuery<ListsQuery>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let query = query.0;
    let filter = ListFilter {
        list_type: query.list_type,
        match_mode: query.match_mode,
        is_active: query.is_active,
        include_archived: query.include_archived.unwrap_or(false),
    };
    let env = p.env();
    let page = page.0.page(25)?;
    Ok(Reply::ok(state.read(move |c| q::list(c, &env, &filter, page)).await?))
}

/// A new custom list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateListBody {
    name: Title,
    list_type: ListType,
    /// Default `flag`.
    match_mode: Option<MatchMode>,
    description: Option<LongText>,
}

#[utoipa::path(post, path = "/api/v1/lists", tag = "Lists", operation_id = "create_list",
    request_body = CreateListBody,
    responses((status = 201, description = "The new list", body = ListView, example = list_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateListBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let input = CreateList {
        name: b.name,
        list_type: b.list_type,
        match_mode: b.match_mode.unwrap_or_default(),
        description: b.description,
    };
    let id = cmd::create(&state.writer, state.keyring.clone(), p.meta(state.now()), input).await?;
    let env = p.env();
    Ok(Reply::created(state.read(move |c| q::get(c, &env, &id)).await?))
}

#[utoipa::path(get, path = "/api/v1/lists/{list_id}", tag = "Lists", operation_id = "get_list",
    params(("list_id" = ListId, Path, description = "The list")),
    responses((status = 200, description = "The list, with the workflows that use it", body = ListView,
        example = list_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<ListId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &path)).await?))
}

/// Changes to a list; omitted fields stay as they are. The list type cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateListBody {
    name: Option<Title>,
    /// null clears it.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<LongText>)]
    description: Option<Option<LongText>>,
    match_mode: Option<MatchMode>,
    is_active: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/lists/{list_id}", tag = "Lists", operation_id = "update_list",
    params(("list_id" = ListId, Path, description = "The list")),
    request_body = UpdateListBody,
    responses((status = 200, description = "The updated list", body = ListView, example = list_example),
        (status = 409, description = "The list is archived", body = crate::http::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<ListId>,
    body: ApiBody<UpdateListBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let u = UpdateList { name: b.name, description: b.description, match_mode: b.match_mode, is_active: b.is_active };
    let id = cmd::update(&state.writer, p.meta(state.now()), path.into_inner(), u).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &id)).await?))
}

#[utoipa::path(post, path = "/api/v1/lists/{list_id}/archive", tag = "Lists", operation_id = "archive_list",
    params(("list_id" = ListId, Path, description = "The list")),
    responses((status = 200, description = "The archived list (archiving again changes nothing)", body = ListView,
        example = list_example),
        (status = 409, description = "Active workflows still use the list", body = crate::http::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn archive(state: web::Data<AppState>, p: Principal, path: ApiPath<ListId>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::archive(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get(c, &env, &id)).await?))
}

#[utoipa::path(get, path = "/api/v1/lists/{list_id}/items", tag = "Lists", operation_id = "list_list_items",
    params(("list_id" = ListId, Path, description = "The list"), PageQuery),
    responses((status = 200, description = "The list's items, in the order they were added",
        body = OffsetPage<ListItemView>,
        example = json!({ "data": [], "pagination": { "total": 0, "limit": 50, "offset": 0 } }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn items(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<ListId>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let page = page.0.page(50)?;
    Ok(Reply::ok(state.read(move |c| q::items(c, &keyring, &env, &path, page)).await?))
}

/// One item to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    /// The value; its keys depend on the list type: `name` (first_name, last_name, date_of_birth),
    /// `email` (email, match_domain_only), `phone` (phone), `ip_address` (ip), `government_id`
    /// (id_number, id_class), `country` (country_code), `geolocation` (latitude, longitude,
    /// radius_meters), `browser_fingerprint`/`device_fingerprint` (fingerprint_hash), `face`
    /// (embedding, image_url), `string` (value).
    #[schema(value_type = Object, example = json!({"email": "fraud@example.com"}))]
    value: Map<String, Value>,
    #[schema(max_length = 1000, example = "Case #12345")]
    notes: Option<String>,
}

impl From<ItemBody> for NewItem {
    fn from(b: ItemBody) -> Self {
        NewItem { value: b.value, notes: b.notes }
    }
}

#[utoipa::path(post, path = "/api/v1/lists/{list_id}/items", tag = "Lists", operation_id = "add_list_item",
    params(("list_id" = ListId, Path, description = "The list")),
    request_body = ItemBody,
    responses((status = 201, description = "The new item", body = ListItemView, example = item_example),
        (status = 409, description = "The list is archived", body = crate::http::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn add_item(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<ListId>,
    body: ApiBody<ItemBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let list_id = path.into_inner();
    let new = vec![NewItem::from(body.0)];
    let ids = cmd::add_items(&state.writer, p.meta(state.now()), list_id.clone(), new, Batch::Single).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::created(state.read(move |c| q::item(c, &keyring, &env, &list_id, &ids[0])).await?))
}

/// Items to add, all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    /// 1 to 1,000 items.
    #[schema(min_items = 1, max_items = 1000)]
    items: Vec<ItemBody>,
}

async fn added(state: &AppState, p: &Principal, list_id: ListId, ids: Vec<ListItemId>) -> ApiResult {
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::created(state.read(move |c| q::items_added(c, &keyring, &env, &list_id, &ids)).await?))
}

fn added_example() -> Value {
    json!({ "created": 1, "data": [item_example()] })
}

#[utoipa::path(post, path = "/api/v1/lists/{list_id}/items/bulk", tag = "Lists", operation_id = "bulk_add_list_items",
    params(("list_id" = ListId, Path, description = "The list")),
    request_body = BulkBody,
    responses((status = 201, description = "The new items, in input order", body = ItemsAdded, example = added_example),
        (status = 409, description = "The list is archived", body = crate::http::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn bulk(state: web::Data<AppState>, p: Principal, path: ApiPath<ListId>, body: ApiBody<BulkBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let list_id = path.into_inner();
    let new = body.0.items.into_iter().map(NewItem::from).collect();
    let ids = cmd::add_items(&state.writer, p.meta(state.now()), list_id.clone(), new, Batch::Bulk).await?;
    added(&state, &p, list_id, ids).await
}

/// A CSV file whose header row names the list type's value keys (plus `notes`); at most 1,000 rows
/// (no other fields).
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ListImportForm {
    /// UTF-8 CSV text.
    #[schema(value_type = String, format = Binary, content_media_type = "text/csv")]
    file: Vec<u8>,
}

#[utoipa::path(post, path = "/api/v1/lists/{list_id}/import", tag = "Lists", operation_id = "import_list_items",
    params(("list_id" = ListId, Path, description = "The list")),
    request_body(content = ListImportForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "The imported items, in file order", body = ItemsAdded,
        example = added_example),
        (status = 409, description = "The list is archived", body = crate::http::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn import(state: web::Data<AppState>, p: Principal, path: ApiPath<ListId>, upload: Upload) -> ApiResult {
    p.require(WRITE, &[])?;
    let list_id = path.into_inner();
    let file = upload.file.ok_or_else(|| AppError::validation("file", "a CSV file is required"))?;
    let ids = cmd::import_csv(&state.writer, p.meta(state.now()), list_id.clone(), file).await?;
    added(&state, &p, list_id, ids).await
}

#[utoipa::path(get, path = "/api/v1/lists/{list_id}/export", tag = "Lists", operation_id = "export_list_items",
    params(("list_id" = ListId, Path, description = "The list")),
    responses((status = 200, description = "The items as CSV: the value keys, notes, id and created_at",
        content_type = "text/csv", body = String,
        example = json!("email,match_domain_only,notes,id,created_at\nfraud@example.com,false,,litem_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C,2026-01-15T10:00:00.000Z\n"))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn export(state: web::Data<AppState>, p: Principal, path: ApiPath<ListId>) -> Result<HttpResponse, AppError> {
    p.require(READ, &[WRITE])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let (file_name, text) = state.read_scan(move |c| q::export_csv(c, &keyring, &env, &path)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{file_name}\"")))
        .insert_header(("Cache-Control", "no-store"))
        .body(text))
}

#[utoipa::path(get, path = "/api/v1/lists/{list_id}/items/{item_id}", tag = "Lists", operation_id = "get_list_item",
    params(("list_id" = ListId, Path, description = "The list"),
        ("item_id" = ListItemId, Path, description = "The item")),
    responses((status = 200, description = "The item", body = ListItemView, example = item_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn item(state: web::Data<AppState>, p: Principal, path: ApiPath<(ListId, ListItemId)>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (list_id, item_id) = path.into_inner();
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::item(c, &keyring, &env, &list_id, &item_id)).await?))
}

#[utoipa::path(delete, path = "/api/v1/lists/{list_id}/items/{item_id}", tag = "Lists",
    operation_id = "delete_list_item",
    params(("list_id" = ListId, Path, description = "The list"),
        ("item_id" = ListItemId, Path, description = "The item")),
    responses((status = 200, description = "The item is deleted", body = Deleted,
        example = json!({ "deleted": true })),
        (status = 409, description = "The list is archived", body = crate::http::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn delete_item(state: web::Data<AppState>, p: Principal, path: ApiPath<(ListId, ListItemId)>) -> ApiResult {
    p.require(WRITE, &[])?;
    let (list_id, item_id) = path.into_inner();
    cmd::delete_item(&state.writer, p.meta(state.now()), list_id, item_id).await?;
    Ok(Reply::ok(Deleted { deleted: true }))
}

/// A subject to check against the lists; nothing is stored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    /// Subject fields (e.g. `email`, `phone`, `first_name`, `last_name`, `date_of_birth`, `ip`,
    /// `country_code`, `latitude`/`longitude`, `face_embedding`): strings, numbers or arrays; null is
    /// ignored.
    #[schema(schema_with = subject_data_schema)]
    subject_data: Map<String, Value>,
    /// The lists to check (each must exist in this environment); every active list when omitted.
    list_ids: Option<Vec<ListId>>,
}

/// `subject_data`: an object whose values are strings, numbers, booleans, arrays or null (not objects).
fn subject_data_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    crate::domain::values::schema_from(json!({
        "type": "object",
        "additionalProperties": { "type": ["string", "number", "boolean", "array", "null"] },
        "example": { "email": "fraud@example.com" }
    }))
}

/// The subject as text values: numbers and booleans as their JSON text, arrays (an embedding) as JSON.
fn subject(data: Map<String, Value>) -> Result<Subject, AppError> {
    let mut out = Subject::new();
    for (k, v) in data {
        let text = match v {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Object(_) => {
                return Err(AppError::validation(&format!("subject_data.{k}"), "must be a string, number or array"))
            }
            other => other.to_string(),
        };
        out.insert(k, text);
    }
    Ok(out)
}

#[utoipa::path(post, path = "/api/v1/lists/check", tag = "Lists", operation_id = "check_lists",
    request_body = CheckBody,
    responses((status = 200, description = "The matches and their outcome", body = ListCheckResult,
        example = json!({ "data": [], "total_matches": 0, "outcome": "clear" })),
        (status = 404, description = "A `list_ids` entry names no list of this environment",
            body = crate::http::error::ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn check(state: web::Data<AppState>, p: Principal, body: ApiBody<CheckBody>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let b = body.0;
    let subject = subject(b.subject_data)?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::check(c, &keyring, &env, &subject, b.list_ids.as_deref())).await?))
}

/// Why the match is a false positive.
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct FalsePositiveBody {
    #[schema(max_length = 1000)]
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/lists/matches/{match_id}/false-positive", tag = "Lists",
    operation_id = "mark_list_match_false_positive",
    params(("match_id" = ListMatchId, Path, description = "The match")),
    request_body = FalsePositiveBody,
    responses((status = 200, description = "The match record (marking again changes nothing)",
        body = ListMatchRecord, example = match_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn false_positive(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<ListMatchId>,
    body: ApiBody<FalsePositiveBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::mark_false_positive(&state.writer, p.meta(state.now()), path.into_inner(), body.0.reason).await?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::get_match(c, &env, &id)).await?))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/list-matches", tag = "Lists",
    operation_id = "list_session_list_matches",
    params(("session_id" = SessionId, Path, description = "The session"), PageQuery),
    responses((status = 200, description = "The session's list matches, oldest first",
        body = OffsetPage<ListMatchRecord>,
        example = json!({ "data": [], "pagination": { "total": 0, "limit": 50, "offset": 0 } }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn session_matches(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let env = p.env();
    let page = page.0.page(50)?;
    Ok(Reply::ok(state.read(move |c| q::session_matches(c, &env, &path, page)).await?))
}

/// The same operation under the sessions reference's spelling.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/lists/matches", tag = "Lists",
    operation_id = "list_session_list_matches_alias",
    params(("session_id" = SessionId, Path, description = "The session"), PageQuery),
    responses((status = 200, description = "The session's list matches, oldest first",
        body = OffsetPage<ListMatchRecord>,
        example = json!({ "data": [], "pagination": { "total": 0, "limit": 50, "offset": 0 } }))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn session_matches_alias(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    session_matches(state, p, path, page).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get,
        update,
        archive,
        items,
        add_item,
        bulk,
        import,
        export,
        item,
        delete_item,
        check,
        false_positive,
        session_matches,
        session_matches_alias
    ),
    components(schemas(
        ListView,
        ListWorkflow,
        ListItemView,
        ItemsAdded,
        ListCheckResult,
        ListCheckMatch,
        ListMatchRecord,
        ListType,
        MatchMode,
        Outcome,
        OffsetPagination,
        CreateListBody,
        UpdateListBody,
        ItemBody,
        BulkBody,
        CheckBody,
        FalsePositiveBody,
        Deleted,
        ListImportForm
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
