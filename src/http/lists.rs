//! /lists (custom allow/block/flag lists, spec §1.10), their items, CSV import/export, the no-persistence
//! check, match records (/lists/matches, /sessions/{id}/list-matches).

use super::body::{ApiBody, QueryMap, Upload};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::lists::{self as cmd, Batch, CreateList, NewItem};
use crate::domain::custom_list::{self as dom, ListUpdated, Subject};
use crate::error::AppError;
use crate::queries::lists::{self as q, ListFilter};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

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
        web::get().to(session_matches),
    );
}

const READ: &str = "lists:read";
const WRITE: &str = "lists:write";

fn opt_bool(query: &QueryMap, key: &str) -> Result<Option<bool>, AppError> {
    query.get(key).map(|_| query.bool(key)).transpose()
}

async fn list(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let filter = ListFilter {
        list_type: query.get("list_type").map(str::to_string),
        match_mode: query.get("match_mode").map(str::to_string),
        is_active: opt_bool(&query, "is_active")?,
        include_archived: query.bool("include_archived")?,
    };
    Ok(Reply::ok(q::list(&state.read.get()?, p.environment(), &filter, query.page(25)?)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    list_type: String,
    match_mode: Option<String>,
    description: Option<String>,
}

async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let input = CreateList {
        name: b.name,
        list_type: b.list_type,
        match_mode: b.match_mode.unwrap_or_else(|| "flag".into()),
        description: b.description,
    };
    let id = cmd::create(&state.writer, state.keyring.clone(), p.meta(state.now()), input).await?;
    Ok(Reply::created(q::get(&state.read.get()?, p.environment(), &id)?))
}

async fn get(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::get(&state.read.get()?, p.environment(), &path)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    #[serde(default, with = "crate::domain::double_option")]
    description: Option<Option<String>>,
    match_mode: Option<String>,
    is_active: Option<bool>,
}

async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<UpdateBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let u = ListUpdated { name: b.name, description: b.description, match_mode: b.match_mode, is_active: b.is_active };
    let id = cmd::update(&state.writer, p.meta(state.now()), path.into_inner(), u).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, p.environment(), &id)?))
}

async fn archive(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::archive(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, p.environment(), &id)?))
}

async fn items(state: web::Data<AppState>, p: Principal, path: web::Path<String>, query: QueryMap) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::items(&state.read.get()?, &state.keyring, p.environment(), &path, query.page(50)?)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    value: Value,
    notes: Option<String>,
}

async fn add_item(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<ItemBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let list_id = path.into_inner();
    let b = body.0;
    let new = vec![NewItem { value: b.value, notes: b.notes }];
    let ids = cmd::add_items(&state.writer, p.meta(state.now()), list_id.clone(), new, Batch::Single).await?;
    Ok(Reply::created(q::item(&state.read.get()?, &state.keyring, p.environment(), &list_id, &ids[0])?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    items: Vec<ItemBody>,
}

fn added(state: &AppState, p: &Principal, list_id: &str, ids: &[String]) -> ApiResult {
    let data = q::items_by_id(&state.read.get()?, &state.keyring, p.environment(), list_id, ids)?;
    Ok(Reply::created(json!({ "created": data.len(), "data": data })))
}

async fn bulk(state: web::Data<AppState>, p: Principal, path: web::Path<String>, body: ApiBody<BulkBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let list_id = path.into_inner();
    let new = body.0.items.into_iter().map(|i| NewItem { value: i.value, notes: i.notes }).collect();
    let ids = cmd::add_items(&state.writer, p.meta(state.now()), list_id.clone(), new, Batch::Bulk).await?;
    added(&state, &p, &list_id, &ids)
}

async fn import(state: web::Data<AppState>, p: Principal, path: web::Path<String>, upload: Upload) -> ApiResult {
    p.require(WRITE, &[])?;
    let list_id = path.into_inner();
    let file = upload.file.ok_or_else(|| AppError::validation("file", "a CSV file is required"))?;
    let ids = cmd::import_csv(&state.writer, p.meta(state.now()), list_id.clone(), file).await?;
    added(&state, &p, &list_id, &ids)
}

async fn export(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    p.require(READ, &[WRITE])?;
    let (file_name, text) = q::export_csv(&state.read.get()?, &state.keyring, p.environment(), &path)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{file_name}\"")))
        .insert_header(("Cache-Control", "no-store"))
        .body(text))
}

async fn item(state: web::Data<AppState>, p: Principal, path: web::Path<(String, String)>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (list_id, item_id) = path.into_inner();
    Ok(Reply::ok(q::item(&state.read.get()?, &state.keyring, p.environment(), &list_id, &item_id)?))
}

async fn delete_item(state: web::Data<AppState>, p: Principal, path: web::Path<(String, String)>) -> ApiResult {
    p.require(WRITE, &[])?;
    let (list_id, item_id) = path.into_inner();
    cmd::delete_item(&state.writer, p.meta(state.now()), list_id, item_id).await?;
    Ok(Reply::ok(json!({ "deleted": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    subject_data: Map<String, Value>,
    list_ids: Option<Vec<String>>,
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

async fn check(state: web::Data<AppState>, p: Principal, body: ApiBody<CheckBody>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let b = body.0;
    let subject = subject(b.subject_data)?;
    let conn = state.read.get()?;
    let found = q::check(&conn, &state.keyring, p.environment(), &subject, b.list_ids.as_deref())?;
    let outcome = dom::outcome(found.iter().map(|m| m.match_mode.as_str()));
    Ok(Reply::ok(json!({ "data": found, "total_matches": found.len(), "outcome": outcome })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FalsePositiveBody {
    reason: Option<String>,
}

async fn false_positive(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<FalsePositiveBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::mark_false_positive(&state.writer, p.meta(state.now()), path.into_inner(), body.0.reason).await?;
    Ok(Reply::ok(q::get_match(&state.read.get()?, p.environment(), &id)?))
}

async fn session_matches(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    query: QueryMap,
) -> ApiResult {
    p.require(READ, &[WRITE])?;
    Ok(Reply::ok(q::session_matches(&state.read.get()?, p.environment(), &path, query.page(50)?)?))
}
