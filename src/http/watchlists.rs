//! /watchlists: the imported sanctions lists and their versions, the authenticated upload of a new snapshot
//! (multipart, larger limit than other uploads), and an identity's monitored lists (spec §1.6.13).
//! Parses and validates at the boundary, then makes one call.

use super::body::ApiBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::domain::watchlist::WATCHLIST_IDS;
use crate::error::AppError;
use crate::queries::watchlists as q;
use crate::screening_service::files::{Input, ListFiles};
use crate::screening_service::Deps;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/watchlists", "List watchlists", web::get().to(list));
    // Static paths before `/watchlists/{watchlist_id}`.
    t.add("POST", "/watchlists/import", "Import a watchlist snapshot", web::post().to(import));
    t.add("GET", "/watchlists/{watchlist_id}", "Get a watchlist and its versions", web::get().to(get));
    t.add(
        "GET",
        "/identities/{identity_id}/monitored-lists",
        "Get monitored lists for an identity",
        web::get().to(monitored_lists),
    );
    t.add(
        "POST",
        "/identities/{identity_id}/monitored-lists",
        "Add lists to identity monitoring",
        web::post().to(add_monitored_lists),
    );
    t.add(
        "PUT",
        "/identities/{identity_id}/monitored-lists",
        "Replace monitored lists for an identity",
        web::put().to(set_monitored_lists),
    );
}

const READ: &str = "lists:read";
const WRITE: &str = "lists:write";

/// Published lists are large (the EU and UN XML files are tens of MB, OpenSanctions exports far more): this
/// route's own limit, held in memory while parsing. Larger files: `idv lists import` streams from disk.
pub const MAX_LIST_BYTES: usize = 512 * 1024 * 1024;

const FILE_FIELDS: &[&str] = &["file", "add_file", "alt_file", "comments_file"];

/// A multipart list upload: `source` and the files (`file`; for OFAC also `add_file`, `alt_file`,
/// `comments_file`).
pub struct ListUpload {
    fields: HashMap<String, String>,
    files: HashMap<String, Input>,
}

impl FromRequest for ListUpload {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = super::body::read_form(
            req,
            payload,
            FILE_FIELDS,
            MAX_LIST_BYTES,
            "Upload the list as multipart/form-data with `source` and `file` fields.",
        );
        Box::pin(async move {
            let form = form.await?;
            let files =
                form.files.into_iter().map(|(name, (filename, bytes))| (name, Input::bytes(filename, bytes))).collect();
            Ok(ListUpload { fields: form.fields, files })
        })
    }
}

fn deps(state: &AppState) -> Deps {
    Deps {
        writer: state.writer.clone(),
        read: state.read.clone(),
        keyring: state.keyring.clone(),
        clock: state.clock.clone(),
    }
}

async fn import(state: web::Data<AppState>, p: Principal, upload: ListUpload) -> ApiResult {
    p.require(WRITE, &[])?;
    let ListUpload { fields, mut files } = upload;
    let source = fields.get("source").map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default();
    if !WATCHLIST_IDS.contains(&source.as_str()) {
        return Err(AppError::validation("source", "must be one of ofac, un, eu, uk, opensanctions"));
    }
    let main = files.remove("file").ok_or_else(|| AppError::validation("file", "is required"))?;
    if source != "ofac" && !files.is_empty() {
        return Err(AppError::validation("add_file", "add_file, alt_file and comments_file are for ofac only"));
    }
    let list_files = ListFiles {
        main,
        add: files.remove("add_file"),
        alt: files.remove("alt_file"),
        comments: files.remove("comments_file"),
    };
    let report = state
        .screening
        .import(&deps(&state), p.key.id.clone(), Some(p.request_id.clone()), source.clone(), list_files)
        .await?;
    let conn = state.read.get()?;
    let version = q::version(&conn, &report.outcome.version_id)?;
    let body = json!({
        "watchlist_id": source,
        "unchanged": report.outcome.unchanged,
        "message": if report.outcome.unchanged {
            "The list is identical to its current version (same content digest): nothing was recorded."
        } else {
            "Snapshot recorded; continuous monitoring has run against its changes."
        },
        "version": version,
    });
    Ok(if report.outcome.unchanged { Reply::ok(body) } else { Reply::created(body) })
}

async fn list(state: web::Data<AppState>, p: Principal) -> ApiResult {
    p.require(READ, &[WRITE, "checks:read"])?;
    Ok(Reply::ok(q::list(&state.read.get()?)?))
}

async fn get(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[WRITE, "checks:read"])?;
    Ok(Reply::ok(q::get(&state.read.get()?, &path)?))
}

#[derive(Deserialize)]
struct ListIdsBody {
    list_ids: Vec<String>,
}

/// Watchlist ids (`ofac`, `un`, ...) or custom list ids (`list_*`) of this environment.
fn parse_list_ids(state: &AppState, environment: &str, ids: Vec<String>) -> Result<Vec<String>, AppError> {
    if ids.len() > 50 {
        return Err(AppError::validation("list_ids", "must list at most 50 lists"));
    }
    let conn = state.read.get()?;
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        let id = id.trim().to_string();
        let known = WATCHLIST_IDS.contains(&id.as_str())
            || (id.starts_with("list_") && crate::queries::lists::require(&conn, environment, &id).is_ok());
        if !known {
            return Err(AppError::validation(
                "list_ids",
                format!("{id} is neither a watchlist (ofac, un, eu, uk, opensanctions) nor a list of this environment"),
            ));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn lists_reply(state: &AppState, identity_id: &str) -> ApiResult {
    let lists = crate::queries::checks::monitored_lists(&*state.read.get()?, identity_id)?;
    Ok(Reply::ok(json!({ "identity_id": identity_id, "data": lists })))
}

async fn monitored_lists(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("identities:read", &[])?;
    let id = crate::queries::identities::require(&*state.read.get()?, p.environment(), &path)?;
    lists_reply(&state, &id)
}

async fn change_lists(
    state: web::Data<AppState>,
    p: Principal,
    id: String,
    body: ListIdsBody,
    replace: bool,
) -> ApiResult {
    p.require("identities:write", &[])?;
    let ids = parse_list_ids(&state, p.environment(), body.list_ids)?;
    let id = crate::commands::checks::set_monitored_lists(&state.writer, p.meta(state.now()), id, ids, replace).await?;
    lists_reply(&state, &id)
}

async fn add_monitored_lists(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<ListIdsBody>,
) -> ApiResult {
    change_lists(state, p, path.into_inner(), body.0, false).await
}

async fn set_monitored_lists(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<ListIdsBody>,
) -> ApiResult {
    change_lists(state, p, path.into_inner(), body.0, true).await
}
