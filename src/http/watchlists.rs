//! /watchlists: the imported sanctions lists and their versions, the authenticated upload of a new snapshot
//! (multipart, streamed to disk as it arrives, imported in the background with its progress at
//! /watchlists/imports/{import_id}), and an identity's monitored lists (spec §1.6.13).
//! Paths, bodies and responses are typed; parses and validates at the boundary, then makes one call.

use super::body::{ApiBody, ApiPath, PathNoun};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::domain::ids::WatchlistVersionId;
use crate::domain::ids::{IdentityId, IdentityRef};
use crate::domain::watchlist::{MonitoredList, WatchlistId};
use crate::error::AppError;
use crate::queries::watchlists::{
    self as q, ImportStatus, LiveProgress, WatchlistImportView, WatchlistVersionView, WatchlistView,
};
use crate::queries::OffsetPage;
use crate::screening_service::background::{SpoolFile, Spooled, SpooledList, Started};
use crate::screening_service::Deps;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/watchlists", "List watchlists", web::get().to(list));
    // Static paths before `/watchlists/{watchlist_id}`.
    t.add("POST", "/watchlists/import", "Import a watchlist snapshot", web::post().to(import));
    t.add(
        "GET",
        "/watchlists/imports/{import_id}",
        "Get a watchlist import and its progress",
        web::get().to(get_import),
    );
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

/// Published lists are large (OpenSanctions' default dataset is gigabytes): the upload goes to disk as it
/// arrives, so this bounds disk use, not memory.
pub const MAX_LIST_BYTES: u64 = 16 * 1024 * 1024 * 1024;

const FILE_FIELDS: &[&str] = &["file", "add_file", "alt_file", "comments_file"];

/// A multipart list upload, its files on disk: `source` and the files (`file`; for OFAC also `add_file`,
/// `alt_file`, `comments_file`).
pub struct ListUpload {
    fields: HashMap<String, String>,
    files: HashMap<String, Spooled>,
    dir: crate::screening_service::background::SpoolDir,
}

fn field_name(field: &actix_multipart::Field, name: &str) -> String {
    field
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f).to_string())
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| name.to_string())
}

impl FromRequest for ListUpload {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_multipart = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let mut multipart = actix_multipart::Multipart::new(req.headers(), payload.take());
        Box::pin(async move {
            if !is_multipart {
                return Err(AppError::UnsupportedMediaType(
                    "Upload the list as multipart/form-data with `source` and `file` fields.".into(),
                ));
            }
            let state = state.ok_or_else(|| AppError::Internal("no application state".into()))?;
            let dir = state.screening.spool_dir(&state.config.data_dir).await?;
            let mut fields = HashMap::new();
            let mut files = HashMap::new();
            let mut total = 0u64;
            while let Some(field) = multipart.next().await {
                let mut field = field.map_err(|e| AppError::BadRequest(format!("Malformed multipart body: {e}")))?;
                let name = field.name().unwrap_or_default().to_string();
                if FILE_FIELDS.contains(&name.as_str()) {
                    let mut file: SpoolFile = dir.file(&name, field_name(&field, &name)).await?;
                    while let Some(chunk) = field.next().await {
                        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("Could not read {name}: {e}")))?;
                        total += chunk.len() as u64;
                        if total > MAX_LIST_BYTES {
                            return Err(AppError::PayloadTooLarge(format!(
                                "List uploads may be at most {} GB.",
                                MAX_LIST_BYTES / (1024 * 1024 * 1024)
                            )));
                        }
                        file.write(&chunk).await?;
                    }
                    files.insert(name, file.finish().await?);
                } else {
                    let bytes = match field.bytes(4096).await {
                        Ok(Ok(b)) => b,
                        _ => return Err(AppError::validation(&name, "form fields may be at most 4 KB")),
                    };
                    fields.insert(name, String::from_utf8_lossy(&bytes).trim().to_string());
                }
            }
            Ok(ListUpload { fields, files, dir })
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

impl PathNoun for WatchlistId {
    const NOUN: &'static str = "Watchlist";
}

/// A list snapshot as published, uploaded as multipart/form-data (no other fields): `source` and `file`;
/// for `ofac` also `add_file`, `alt_file` and `comments_file`.
pub struct WatchlistImportForm;

impl utoipa::PartialSchema for WatchlistImportForm {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let file =
            |description: &str| serde_json::json!({ "type": "string", "format": "binary", "description": description });
        let main = file("The list file: OFAC `sdn.csv`, UN or EU XML, EU or UK CSV, OpenSanctions JSON lines.");
        crate::domain::values::schema_from(serde_json::json!({
            "description": "A list snapshot as published (multipart/form-data). The extra OFAC files are accepted for `ofac` only.",
            "oneOf": [
                { "type": "object", "additionalProperties": false, "required": ["source", "file"],
                  "properties": {
                      "source": { "type": "string", "enum": ["ofac"] },
                      "file": main,
                      "add_file": file("OFAC only: `add.csv`."),
                      "alt_file": file("OFAC only: `alt.csv`."),
                      "comments_file": file("OFAC only: `sdn_comments.csv`.")
                  } },
                { "type": "object", "additionalProperties": false, "required": ["source", "file"],
                  "properties": {
                      "source": { "type": "string", "enum": ["un", "eu", "uk", "opensanctions"] },
                      "file": main
                  } }
            ]
        }))
    }
}

impl ToSchema for WatchlistImportForm {}

/// What an import recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub watchlist_id: WatchlistId,
    /// The files were identical to the current version: nothing was recorded (answered with 200).
    pub unchanged: bool,
    pub message: String,
    /// The new version (or the current one when unchanged).
    pub version: WatchlistVersionView,
}

fn version_example() -> serde_json::Value {
    serde_json::json!({
        "id": "wlv_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "object": "watchlist_version", "watchlist_id": "ofac",
        "source": "ofac_sdn", "published": null,
        "content_digest": "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358", "entry_count": 17,
        "counts": { "total": 17, "added": 17, "changed": 0, "removed": 0, "skipped": 0 },
        "files": ["sdn.csv", "add.csv", "alt.csv"], "imported_by": "api_key:key_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
        "imported_at": "2025-01-11T08:00:00Z",
        "monitoring": { "status": "completed", "identities_screened": 3, "identities_with_new_hits": 0,
            "new_hits": 0, "check_ids": [] }
    })
}

fn import_example() -> serde_json::Value {
    serde_json::json!({ "watchlist_id": "ofac", "unchanged": false,
        "message": "Snapshot recorded; continuous monitoring has run against its changes.",
        "version": version_example() })
}

fn watchlist_example() -> serde_json::Value {
    serde_json::json!({ "id": "ofac", "object": "watchlist", "name": "OFAC Specially Designated Nationals (SDN) List",
        "source": "ofac_sdn", "entry_count": 17, "imported": true, "current_version": version_example(),
        "version_count": 1, "last_imported_at": "2025-01-11T08:00:00Z", "versions": [version_example()] })
}

fn import_view_example() -> serde_json::Value {
    serde_json::json!({
        "id": "wlv_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "object": "watchlist_import", "watchlist_id": "opensanctions",
        "status": "importing", "phase": "reading", "source": "opensanctions",
        "content_digest": "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358",
        "files": ["entities.ftm.json"], "bytes_total": 148897792, "bytes_read": 52428800,
        "entities_read": 352112, "entries_written": 352000, "error": null,
        "started_by": "api_key:key_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "started_at": "2025-01-11T08:00:00Z",
        "finished_at": null, "version": null
    })
}

#[utoipa::path(post, path = "/api/v1/watchlists/import", tag = "Watchlists", operation_id = "import_watchlist",
    params(("Prefer" = Option<String>, Header,
        description = "`respond-async`: answer 202 as soon as the upload is stored and import it in the background \
            (follow it at `GET /watchlists/imports/{import_id}`). Without it the request waits for the import.")),
    request_body(content = WatchlistImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "A new version was recorded and monitored", body = ImportResult,
            example = import_example),
        (status = 200, description = "The files equal the current version: nothing was recorded",
            body = ImportResult, example = import_example),
        (status = 202, description = "With `Prefer: respond-async`: the upload is stored and importing in the \
            background; the current version stays the one screened until it is `active`",
            body = WatchlistImportView, example = import_view_example),
        (status = 409, description = "Another upload of this list is still importing", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn import(state: web::Data<AppState>, p: Principal, req: HttpRequest, upload: ListUpload) -> ApiResult {
    p.require(WRITE, &[])?;
    let ListUpload { fields, mut files, dir } = upload;
    let source = WatchlistId::parse("source", fields.get("source").map(String::as_str).unwrap_or_default())
        .map_err(|e| AppError::validation(&e.field, e.message))?;
    let main = files.remove("file").ok_or_else(|| AppError::validation("file", "is required"))?;
    if source != WatchlistId::Ofac && !files.is_empty() {
        return Err(AppError::validation("add_file", "add_file, alt_file and comments_file are for ofac only"));
    }
    let list = SpooledList {
        dir,
        watchlist_id: source.as_str().to_string(),
        main,
        add: files.remove("add_file"),
        alt: files.remove("alt_file"),
        comments: files.remove("comments_file"),
    };
    let meta =
        crate::commands::watchlists::ImportMeta { actor: p.key.id.clone(), request_id: Some(p.request_id.clone()) };
    let (version_id, unchanged) = match state.screening.start_import(&deps(&state), meta, list).await? {
        Started::Unchanged(version_id) => (version_id, true),
        Started::Running { version_id, .. } if super::prefer::respond_async(&req) => {
            let live = state.screening.live_imports().remove(version_id.as_str());
            let view = state.read(move |c| q::import(c, &version_id)).await?;
            let view = view.with_live(live);
            return Ok(Reply::with_status(StatusCode::ACCEPTED, view));
        }
        Started::Running { version_id, done } => {
            done.await.map_err(|_| AppError::Internal("the import task ended without an answer".into()))??;
            (version_id, false)
        }
    };
    let version = state.read(move |c| q::version(c, &version_id)).await?;
    let body = ImportResult {
        watchlist_id: source,
        unchanged,
        message: if unchanged {
            "The list is identical to its current version (same content digest): nothing was recorded."
        } else {
            "Snapshot recorded; continuous monitoring has run against its changes."
        }
        .to_string(),
        version,
    };
    Ok(if unchanged { Reply::ok(body) } else { Reply::created(body) })
}

#[utoipa::path(get, path = "/api/v1/watchlists/imports/{import_id}", tag = "Watchlists",
    operation_id = "get_watchlist_import",
    params(("import_id" = WatchlistVersionId, Path, description = "The import (the id of the version it records)")),
    responses((status = 200, description = "The import: `importing` with its progress, then `active` with its \
        version or `failed` with the error", body = WatchlistImportView, example = import_view_example),
        (status = 404, description = "No such import", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get_import(state: web::Data<AppState>, p: Principal, path: ApiPath<WatchlistVersionId>) -> ApiResult {
    p.require(READ, &[WRITE, "checks:read"])?;
    let id = path.into_inner().as_str().to_string();
    let live = state.screening.live_imports().remove(&id);
    let view = state.read(move |c| q::import(c, &id)).await?;
    Ok(Reply::ok(view.with_live(live)))
}

#[utoipa::path(get, path = "/api/v1/watchlists", tag = "Watchlists", operation_id = "list_watchlists",
    responses((status = 200, description = "Every list idv can import, with its current version",
        body = OffsetPage<WatchlistView>,
        example = json!({"data": [], "pagination": {"total": 5, "limit": 5, "offset": 0}}))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal) -> ApiResult {
    p.require(READ, &[WRITE, "checks:read"])?;
    let running = state.screening.live_imports();
    let mut page = state.read(q::list).await?;
    for w in &mut page.data {
        with_running(&running, w);
    }
    Ok(Reply::ok(page))
}

#[utoipa::path(get, path = "/api/v1/watchlists/{watchlist_id}", tag = "Watchlists", operation_id = "get_watchlist",
    params(("watchlist_id" = WatchlistId, Path, description = "The watchlist")),
    responses((status = 200, description = "The list with its version history (newest first, at most 100)",
        body = WatchlistView, example = watchlist_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<WatchlistId>) -> ApiResult {
    p.require(READ, &[WRITE, "checks:read"])?;
    let running = state.screening.live_imports();
    let mut view = state.read(move |c| q::get(c, *path)).await?;
    with_running(&running, &mut view);
    Ok(Reply::ok(view))
}

/// A list's latest import with the progress only this server knows (`running`, taken before the view was read).
fn with_running(running: &HashMap<String, LiveProgress>, w: &mut WatchlistView) {
    if let Some(i) = w.latest_import.take() {
        let progress = running.get(i.id.as_str()).copied();
        w.latest_import = Some(i.with_live(progress));
    }
}

/// Lists to monitor the identity against.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListIdsBody {
    /// Watchlists (`ofac`, ...) or custom lists (`list_*`) of this environment, at most 50.
    #[schema(max_items = 50)]
    pub list_ids: Vec<MonitoredList>,
}

/// The lists an identity's monitoring is limited to (empty: every list).
#[derive(Debug, Serialize, ToSchema)]
pub struct MonitoredLists {
    pub identity_id: IdentityId,
    pub data: Vec<MonitoredList>,
}

/// Custom lists must exist in this environment.
async fn check_lists(state: &AppState, environment: String, ids: &[MonitoredList]) -> Result<(), AppError> {
    if ids.len() > 50 {
        return Err(AppError::validation("list_ids", "must list at most 50 lists"));
    }
    let ids = ids.to_vec();
    state.read(move |c| crate::queries::lists::require_custom_lists(c, &environment, &ids)).await
}

async fn lists_reply(state: &AppState, identity_id: IdentityId) -> ApiResult {
    let id = identity_id.clone();
    let data = state.read(move |c| crate::queries::checks::monitored_lists(c, id.as_str())).await?;
    Ok(Reply::ok(MonitoredLists { identity_id, data }))
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/monitored-lists", tag = "Watchlists",
    operation_id = "get_monitored_lists",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    responses((status = 200, description = "The identity's monitored lists", body = MonitoredLists,
        example = json!({"identity_id": "idn_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "data": ["ofac", "un"]}))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn monitored_lists(state: web::Data<AppState>, p: Principal, path: ApiPath<IdentityRef>) -> ApiResult {
    p.require("identities:read", &[])?;
    let env = p.env();
    let id = state.read(move |c| crate::queries::identities::require(c, &env, path.as_str())).await?;
    lists_reply(&state, IdentityId::from_stored(id)).await
}

#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn change_lists(
    state: web::Data<AppState>,
    p: Principal,
    identity: IdentityRef,
    body: ListIdsBody,
    replace: bool,
) -> ApiResult {
    p.require("identities:write", &[])?;
    check_lists(&state, p.env(), &body.list_ids).await?;
    let id = crate::commands::checks::set_monitored_lists(
        &state.writer,
        p.meta(state.now()),
        identity,
        body.list_ids,
        replace,
    )
    .await?;
    lists_reply(&state, id).await
}

#[utoipa::path(post, path = "/api/v1/identities/{identity_id}/monitored-lists", tag = "Watchlists",
    operation_id = "add_monitored_lists",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    request_body = ListIdsBody,
    responses((status = 200, description = "The identity's monitored lists, these added", body = MonitoredLists,
        example = json!({"identity_id": "idn_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "data": ["ofac", "un"]})),
        (status = 404, description = "No such identity, or a `list_ids` entry names no list of this environment",
            body = ErrorBody),
        (status = 409, description = "The identity is redacted or merged", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn add_monitored_lists(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    body: ApiBody<ListIdsBody>,
) -> ApiResult {
    change_lists(state, p, path.into_inner(), body.0, false).await
}

#[utoipa::path(put, path = "/api/v1/identities/{identity_id}/monitored-lists", tag = "Watchlists",
    operation_id = "set_monitored_lists",
    params(("identity_id" = IdentityRef, Path, description = "The identity's id or external_ref")),
    request_body = ListIdsBody,
    responses((status = 200, description = "The identity's monitored lists, replaced", body = MonitoredLists,
        example = json!({"identity_id": "idn_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "data": ["eu"]})),
        (status = 404, description = "No such identity, or a `list_ids` entry names no list of this environment",
            body = ErrorBody),
        (status = 409, description = "The identity is redacted or merged", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn set_monitored_lists(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    body: ApiBody<ListIdsBody>,
) -> ApiResult {
    change_lists(state, p, path.into_inner(), body.0, true).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, import, get_import, get, monitored_lists, add_monitored_lists, set_monitored_lists),
    components(schemas(
        WatchlistImportForm,
        WatchlistImportView,
        ImportStatus,
        ImportResult,
        WatchlistView,
        WatchlistVersionView,
        ListIdsBody,
        MonitoredLists
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
