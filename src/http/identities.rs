//! /identities: list, create, get, update, redact, export, search, audit log, tags, merge, archive,
//! monitoring and custom field values. Parses and validates input at the boundary, then makes one call.

use super::body::{typed, ApiBody, QueryMap};
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::identities::{self as cmd, CreateIdentity, MergeOptions, UpdateIdentity};
use crate::domain::identity::{canonical_status, IdentityCommand, PII_FIELDS};
use crate::domain::values;
use crate::error::{AppError, FieldError};
use crate::queries::identities::{self as q, Bind, Cursor, Filter};
use actix_web::web;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/identities", "List identities", web::get().to(list));
    t.add("POST", "/identities", "Create an identity", web::post().to(create));
    t.add("POST", "/identities/search", "Search identities", web::post().to(search));
    t.add("POST", "/identities/search/advanced", "Advanced identity search", web::post().to(advanced_search));
    t.add("POST", "/identities/merge/preview", "Preview identity merge", web::post().to(merge_preview));
    t.add("POST", "/identities/merge", "Merge identities", web::post().to(merge));
    t.add("POST", "/identities/merge-multiple", "Merge multiple identities", web::post().to(merge_multiple));
    t.add("GET", "/identities/{identity_id}", "Get an identity", web::get().to(get));
    t.add("PATCH", "/identities/{identity_id}", "Update an identity", web::patch().to(update));
    t.add("DELETE", "/identities/{identity_id}/data", "Redact an identity", web::delete().to(redact));
    t.add("GET", "/identities/{identity_id}/export", "Export identity data (DSAR)", web::get().to(export));
    t.add("GET", "/identities/{identity_id}/audit-log", "Get identity audit log", web::get().to(audit_log));
    t.add("POST", "/identities/{identity_id}/tags/add", "Add a tag", web::post().to(add_tag));
    t.add("POST", "/identities/{identity_id}/tags/remove", "Remove a tag", web::post().to(remove_tag));
    t.add("POST", "/identities/{identity_id}/tags", "Set tags", web::post().to(set_tags));
    t.add("POST", "/identities/{identity_id}/archive", "Archive an identity", web::post().to(archive));
    t.add("POST", "/identities/{identity_id}/restore", "Restore an archived identity", web::post().to(restore));
    t.add("POST", "/identities/{identity_id}/monitoring/pause", "Pause continuous monitoring", web::post().to(pause));
    t.add(
        "POST",
        "/identities/{identity_id}/monitoring/resume",
        "Resume continuous monitoring",
        web::post().to(resume),
    );
    t.add(
        "GET",
        "/identities/{identity_id}/custom-fields",
        "Get custom field values",
        web::get().to(get_custom_fields),
    );
    t.add(
        "GET",
        "/identities/{identity_id}/image-matches",
        "Find cross-session image similarity matches",
        web::get().to(image_matches),
    );
    t.add(
        "PATCH",
        "/identities/{identity_id}/custom-fields",
        "Set custom field values",
        web::patch().to(set_custom_fields),
    );
}

const READ: &str = "identities:read";
const WRITE: &str = "identities:write";

/// Validates one PII value by field.
fn parse_pii_value(field: &str, value: &str, today: &str) -> Result<String, FieldError> {
    match field {
        "date_of_birth" => values::parse_date_of_birth(field, value, today),
        "email" => values::parse_email(field, value),
        "phone" => values::parse_phone(field, value),
        "nationality" => values::parse_country(field, value),
        "zip_code" | "ssn" | "gender" => values::parse_text(field, value, 20),
        "address_line1" | "address_line2" => values::parse_text(field, value, 200),
        _ => values::parse_text(field, value, 100),
    }
}

/// The identity fields of a create or update body, validated; every error is reported at once.
struct IdentityFields {
    external_ref: Option<String>,
    status: Option<String>,
    country: Option<Option<String>>,
    identity_type_id: Option<Option<String>>,
    tags: Option<Vec<String>>,
    upsert: bool,
    pii: BTreeMap<String, Option<String>>,
}

fn parse_fields(body: Map<String, Value>, today: &str, creating: bool) -> Result<IdentityFields, AppError> {
    let mut errors = Vec::new();
    let mut out = IdentityFields {
        external_ref: None,
        status: None,
        country: None,
        identity_type_id: None,
        tags: None,
        upsert: false,
        pii: BTreeMap::new(),
    };
    let string = |v: &Value, field: &str, errors: &mut Vec<FieldError>| -> Option<Option<String>> {
        match v {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            _ => {
                errors.push(FieldError::new(field, "must be a string or null"));
                None
            }
        }
    };
    for (field, value) in &body {
        let f = field.as_str();
        match f {
            "external_ref" => match string(value, f, &mut errors) {
                Some(Some(s)) => match values::parse_external_ref(f, &s) {
                    Ok(v) => out.external_ref = Some(v),
                    Err(e) => errors.push(e),
                },
                Some(None) => errors.push(FieldError::new(f, "must not be null")),
                None => {}
            },
            "status" => match string(value, f, &mut errors) {
                Some(Some(s)) => out.status = Some(s),
                Some(None) => errors.push(FieldError::new(f, "must not be null")),
                None => {}
            },
            "country" => match string(value, f, &mut errors) {
                Some(Some(s)) => match values::parse_country(f, &s) {
                    Ok(v) => out.country = Some(Some(v)),
                    Err(e) => errors.push(e),
                },
                Some(None) => out.country = Some(None),
                None => {}
            },
            "identity_type_id" => {
                if let Some(v) = string(value, f, &mut errors) {
                    out.identity_type_id = Some(v);
                }
            }
            "tags" if creating => match typed::<Vec<String>>(value.clone()) {
                Ok(tags) => match values::parse_tags("tags", &tags) {
                    Ok(t) => out.tags = Some(t),
                    Err(e) => errors.push(e),
                },
                Err(_) => errors.push(FieldError::new(f, "must be an array of strings")),
            },
            "upsert" if creating => match value {
                Value::Bool(b) => out.upsert = *b,
                Value::Null => {}
                _ => errors.push(FieldError::new(f, "must be true or false")),
            },
            _ if PII_FIELDS.contains(&f) => match string(value, f, &mut errors) {
                Some(Some(s)) => match parse_pii_value(f, &s, today) {
                    Ok(v) => {
                        out.pii.insert(f.to_string(), Some(v));
                    }
                    Err(e) => errors.push(e),
                },
                Some(None) if !creating => {
                    out.pii.insert(f.to_string(), None);
                }
                Some(None) => {}
                None => {}
            },
            _ => errors.push(FieldError::new(f, "is not a field of an identity")),
        }
    }
    if creating && out.external_ref.is_none() && !errors.iter().any(|e| e.field == "external_ref") {
        errors.push(FieldError::new("external_ref", "is required"));
    }
    if !errors.is_empty() {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        return Err(AppError::Validation { detail, errors });
    }
    Ok(out)
}

async fn list(state: web::Data<AppState>, p: Principal, query: QueryMap) -> ApiResult {
    p.require(READ, &[])?;
    let mut filter = Filter::new(p.environment());
    if let Some(status) = query.get("status") {
        let statuses: Vec<String> = status
            .split(',')
            .map(|s| canonical_status(s).map(str::to_string).unwrap_or_else(|| s.trim().to_string()))
            .collect();
        filter.any_of("i.status", &statuses);
    }
    if let Some(text) = query.get("q") {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        filter.push("i.external_ref LIKE ? ESCAPE '\\'", Bind::Text(format!("%{escaped}%")));
    }
    if let Some(t) = query.get("identity_type_id") {
        filter.push("i.identity_type_id = ?", Bind::Text(t.to_string()));
    }
    if let Some(tag) = query.get("tag") {
        filter.push(
            "EXISTS (SELECT 1 FROM identity_tags t WHERE t.identity_id = i.id AND t.tag = ?)",
            Bind::Text(tag.to_string()),
        );
    }
    if !query.bool("include_archived")? {
        filter.raw("i.archived_at IS NULL");
    }
    let after = query.get("page[after]");
    let before = query.get("page[before]");
    let conn = state.read.get()?;
    if after.is_some() || before.is_some() || query.get("page[size]").is_some() {
        let size = query.int("page[size]", 1, 100, 25)?;
        let cursor = match (after, before) {
            (Some(_), Some(_)) => {
                return Err(AppError::validation("page", "use page[after] or page[before], not both"))
            }
            (Some(a), None) => Cursor::After(a.to_string()),
            (None, Some(b)) => Cursor::Before(b.to_string()),
            (None, None) => Cursor::First,
        };
        return Ok(Reply::ok(q::list_cursor(&conn, &state.keyring, &filter, cursor, size)?));
    }
    Ok(Reply::ok(q::list_offset(&conn, &state.keyring, &filter, query.page(25)?)?))
}

async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<Map<String, Value>>) -> ApiResult {
    p.require(WRITE, &[])?;
    let now = state.now();
    let f = parse_fields(body.0, &now, true)?;
    let input = CreateIdentity {
        external_ref: f.external_ref,
        upsert: f.upsert,
        status: f.status,
        country: f.country.flatten(),
        identity_type_id: f.identity_type_id.flatten(),
        tags: f.tags.unwrap_or_default(),
        pii: f.pii.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect(),
    };
    let outcome = cmd::create(&state.writer, state.keyring.clone(), p.meta(now), input).await?;
    let mut body = q::summary(&state.read.get()?, p.environment(), &outcome.id)?;
    body["upserted"] = json!(!outcome.created);
    Ok(if outcome.created { Reply::created(body) } else { Reply::ok(body) })
}

async fn get(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[])?;
    Ok(Reply::ok(q::get(&state.read.get()?, &state.keyring, p.environment(), &path)?))
}

async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<Map<String, Value>>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let now = state.now();
    let f = parse_fields(body.0, &now, false)?;
    let input = UpdateIdentity {
        external_ref: f.external_ref,
        status: f.status,
        country: f.country,
        identity_type_id: f.identity_type_id,
        pii: f.pii,
    };
    let id = cmd::update(&state.writer, p.meta(now), path.into_inner(), input).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, &state.keyring, p.environment(), &id)?))
}

async fn redact(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require("redact:write", &[WRITE])?;
    let id = cmd::redact(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    Ok(Reply::ok(json!({
        "id": id,
        "status": "redacted",
        "message": "Personal data has been erased; the record is kept for audit.",
    })))
}

async fn export(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[])?;
    let now = state.now();
    // The export itself is audited (api.identity.export) before the data leaves.
    let id = cmd::simple(&state.writer, p.meta(now.clone()), path.into_inner(), IdentityCommand::RecordExport).await?;
    Ok(Reply::ok(q::export(&state.read.get()?, &state.keyring, p.environment(), &id, &now)?))
}

#[derive(Deserialize)]
struct SearchBody {
    external_ref: Option<String>,
    status: Option<String>,
    country: Option<String>,
    #[serde(flatten)]
    pii: BTreeMap<String, Value>,
    limit: Option<i64>,
    offset: Option<i64>,
}

const SEARCH_PII: &[&str] = &[
    "first_name",
    "last_name",
    "date_of_birth",
    "document_number",
    "ssn",
    "email",
    "phone",
    "city",
    "state",
    "zip_code",
];

/// PII search criteria from a body: strings only, name + DOB all together.
fn pii_criteria(pii: &BTreeMap<String, Value>, allowed_extra: &[&str]) -> Result<BTreeMap<String, String>, AppError> {
    let mut out = BTreeMap::new();
    for (k, v) in pii {
        if SEARCH_PII.contains(&k.as_str()) {
            match v {
                Value::String(s) if !s.trim().is_empty() => {
                    out.insert(k.clone(), s.clone());
                }
                Value::Null => {}
                _ => return Err(AppError::validation(k, "must be a non-empty string")),
            }
        } else if !allowed_extra.contains(&k.as_str()) {
            return Err(AppError::validation(k, "is not a search field"));
        }
    }
    let name_dob = ["first_name", "last_name", "date_of_birth"];
    let present = name_dob.iter().filter(|f| out.contains_key(**f)).count();
    if present != 0 && present != 3 {
        return Err(AppError::Validation {
            detail: "first_name, last_name and date_of_birth must be supplied together.".into(),
            errors: name_dob
                .iter()
                .filter(|f| !out.contains_key(**f))
                .map(|f| FieldError::new(*f, "is required with the other name and date-of-birth fields"))
                .collect(),
        });
    }
    Ok(out)
}

fn page_of(limit: Option<i64>, offset: Option<i64>) -> Result<crate::queries::Page, AppError> {
    let limit = limit.unwrap_or(25);
    let offset = offset.unwrap_or(0);
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation("limit", "must be from 1 to 100"));
    }
    if offset < 0 {
        return Err(AppError::validation("offset", "must not be negative"));
    }
    Ok(crate::queries::Page { limit, offset })
}

fn base_filter(p: &Principal, external_ref: Option<&str>, status: Option<&str>, country: Option<&str>) -> Filter {
    let mut filter = Filter::new(p.environment());
    if let Some(r) = external_ref {
        filter.push("i.external_ref = ?", Bind::Text(r.to_string()));
    }
    if let Some(s) = status {
        let s = canonical_status(s).map(str::to_string).unwrap_or_else(|| s.to_string());
        filter.push("i.status = ?", Bind::Text(s));
    }
    if let Some(c) = country {
        filter.push("i.country = ?", Bind::Text(c.trim().to_ascii_uppercase()));
    }
    filter
}

async fn search(state: web::Data<AppState>, p: Principal, body: ApiBody<SearchBody>) -> ApiResult {
    p.require(READ, &[])?;
    let b = body.0;
    let criteria = pii_criteria(&b.pii, &[])?;
    let page = page_of(b.limit, b.offset)?;
    let mut filter = base_filter(&p, b.external_ref.as_deref(), b.status.as_deref(), b.country.as_deref());
    q::add_pii_criteria(&mut filter, &state.keyring, p.environment(), &criteria);
    Ok(Reply::ok(q::list_offset(&state.read.get()?, &state.keyring, &filter, page)?))
}

#[derive(Deserialize)]
struct AdvancedSearchBody {
    external_ref: Option<String>,
    external_ref_prefix: Option<String>,
    status: Option<String>,
    statuses: Option<Vec<String>>,
    country: Option<String>,
    identity_type_id: Option<String>,
    tags: Option<Vec<String>>,
    tags_any: Option<Vec<String>>,
    is_flagged: Option<bool>,
    include_archived: Option<bool>,
    archived: Option<bool>,
    monitoring_enabled: Option<bool>,
    created_after: Option<String>,
    created_before: Option<String>,
    updated_after: Option<String>,
    updated_before: Option<String>,
    custom_fields: Option<Map<String, Value>>,
    #[serde(flatten)]
    pii: BTreeMap<String, Value>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Advanced search: the basic criteria plus tags (all / any), status sets, type, flags, archive and
/// monitoring state, date ranges and equality on non-encrypted custom fields.
async fn advanced_search(state: web::Data<AppState>, p: Principal, body: ApiBody<AdvancedSearchBody>) -> ApiResult {
    p.require(READ, &[])?;
    let b = body.0;
    let criteria = pii_criteria(&b.pii, &[])?;
    let page = page_of(b.limit, b.offset)?;
    let mut filter = base_filter(&p, b.external_ref.as_deref(), b.status.as_deref(), b.country.as_deref());
    q::add_pii_criteria(&mut filter, &state.keyring, p.environment(), &criteria);
    if let Some(prefix) = &b.external_ref_prefix {
        let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        filter.push("i.external_ref LIKE ? ESCAPE '\\'", Bind::Text(format!("{escaped}%")));
    }
    if let Some(statuses) = &b.statuses {
        let mapped: Vec<String> =
            statuses.iter().map(|s| canonical_status(s).map(str::to_string).unwrap_or_else(|| s.clone())).collect();
        filter.any_of("i.status", &mapped);
    }
    if let Some(t) = &b.identity_type_id {
        filter.push("i.identity_type_id = ?", Bind::Text(t.clone()));
    }
    for tag in b.tags.iter().flatten() {
        filter.push(
            "EXISTS (SELECT 1 FROM identity_tags t WHERE t.identity_id = i.id AND t.tag = ?)",
            Bind::Text(tag.clone()),
        );
    }
    if let Some(any) = b.tags_any.as_ref().filter(|a| !a.is_empty()) {
        let marks = vec!["?"; any.len()].join(", ");
        filter.push_many(
            &format!("EXISTS (SELECT 1 FROM identity_tags t WHERE t.identity_id = i.id AND t.tag IN ({marks}))"),
            any.iter().map(|t| Bind::Text(t.clone())).collect(),
        );
    }
    if let Some(flag) = b.is_flagged {
        filter.push("i.is_flagged = ?", flag);
    }
    if let Some(m) = b.monitoring_enabled {
        filter.push("i.monitoring_enabled = ?", m);
    }
    match (b.archived, b.include_archived.unwrap_or(false)) {
        (Some(true), _) => filter.raw("i.archived_at IS NOT NULL"),
        (Some(false), _) | (None, false) => filter.raw("i.archived_at IS NULL"),
        (None, true) => {}
    }
    for (field, column, op) in [
        (&b.created_after, "i.created_at", ">="),
        (&b.created_before, "i.created_at", "<"),
        (&b.updated_after, "i.updated_at", ">="),
        (&b.updated_before, "i.updated_at", "<"),
    ] {
        if let Some(v) = field {
            let t = crate::clock::parse(v).ok_or_else(|| {
                AppError::validation(column.trim_start_matches("i."), "must be an RFC 3339 timestamp")
            })?;
            filter.push(&format!("{column} {op} ?"), Bind::Text(crate::clock::format(t)));
        }
    }
    for (name, value) in b.custom_fields.iter().flatten() {
        filter.push_many(
            "EXISTS (SELECT 1 FROM identity_custom_fields f WHERE f.identity_id = i.id AND f.name = ? AND f.value = ?)",
            vec![Bind::Text(name.clone()), Bind::Text(value.to_string())],
        );
    }
    Ok(Reply::ok(q::list_offset(&state.read.get()?, &state.keyring, &filter, page)?))
}

async fn audit_log(state: web::Data<AppState>, p: Principal, path: web::Path<String>, query: QueryMap) -> ApiResult {
    p.require(READ, &[])?;
    let conn = state.read.get()?;
    let id = q::require(&conn, p.environment(), &path)?;
    Ok(Reply::ok(q::audit_log(&conn, &id, query.page(50)?)?))
}

#[derive(Deserialize)]
struct TagBody {
    tag: String,
}

#[derive(Deserialize)]
struct TagsBody {
    tags: Vec<String>,
}

async fn tag_command(state: web::Data<AppState>, p: Principal, id: String, command: IdentityCommand) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::simple(&state.writer, p.meta(state.now()), id, command).await?;
    Ok(Reply::ok(q::tags_of(&state.read.get()?, &id)?))
}

async fn add_tag(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<TagBody>,
) -> ApiResult {
    let tag = values::parse_tag("tag", &body.0.tag).map_err(|e| AppError::validation(&e.field, e.message))?;
    tag_command(state, p, path.into_inner(), IdentityCommand::AddTag(tag)).await
}

async fn remove_tag(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<TagBody>,
) -> ApiResult {
    tag_command(state, p, path.into_inner(), IdentityCommand::RemoveTag(body.0.tag.trim().to_string())).await
}

async fn set_tags(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<TagsBody>,
) -> ApiResult {
    let tags = values::parse_tags("tags", &body.0.tags).map_err(|e| AppError::validation(&e.field, e.message))?;
    tag_command(state, p, path.into_inner(), IdentityCommand::SetTags(tags)).await
}

async fn archive(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::simple(&state.writer, p.meta(state.now()), path.into_inner(), IdentityCommand::Archive).await?;
    let s = q::summary(&state.read.get()?, p.environment(), &id)?;
    Ok(Reply::ok(json!({ "id": s["id"], "status": s["status"], "archived_at": s["archived_at"] })))
}

async fn restore(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::simple(&state.writer, p.meta(state.now()), path.into_inner(), IdentityCommand::Restore).await?;
    Ok(Reply::ok(q::get(&state.read.get()?, &state.keyring, p.environment(), &id)?))
}

async fn monitoring(state: web::Data<AppState>, p: Principal, id: String, command: IdentityCommand) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::simple(&state.writer, p.meta(state.now()), id, command).await?;
    let s = q::summary(&state.read.get()?, p.environment(), &id)?;
    Ok(Reply::ok(json!({
        "id": s["id"],
        "monitoring_enabled": s["monitoring_enabled"],
        "monitoring_paused_reason": s["monitoring_paused_reason"],
    })))
}

async fn pause(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    monitoring(state, p, path.into_inner(), IdentityCommand::PauseMonitoring).await
}

async fn resume(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    monitoring(state, p, path.into_inner(), IdentityCommand::ResumeMonitoring).await
}

async fn get_custom_fields(state: web::Data<AppState>, p: Principal, path: web::Path<String>) -> ApiResult {
    p.require(READ, &[])?;
    let conn = state.read.get()?;
    let id = q::require(&conn, p.environment(), &path)?;
    let fields = q::custom_fields(&conn, &state.keyring, &id)?;
    Ok(Reply::ok(json!({ "identity_id": id, "custom_fields": fields })))
}

#[derive(Deserialize)]
struct CustomFieldsBody {
    custom_fields: Map<String, Value>,
}

async fn set_custom_fields(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    body: ApiBody<CustomFieldsBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let id =
        cmd::set_custom_fields(&state.writer, p.meta(state.now()), path.into_inner(), body.0.custom_fields).await?;
    let fields = q::custom_fields(&*state.read.get()?, &state.keyring, &id)?;
    Ok(Reply::ok(json!({ "identity_id": id, "custom_fields": fields })))
}

#[derive(Deserialize)]
struct MergeBody {
    primary_identity_id: String,
    secondary_identity_id: String,
    #[serde(default)]
    redact_secondary: bool,
}

#[derive(Deserialize)]
struct MergeMultipleBody {
    primary_identity_id: String,
    secondary_identity_ids: Vec<String>,
    #[serde(default)]
    redact_secondary: bool,
}

async fn merge_preview(state: web::Data<AppState>, p: Principal, body: ApiBody<MergeBody>) -> ApiResult {
    p.require(READ, &[])?;
    let b = body.0;
    let conn = state.read.get()?;
    let primary = q::resolve(&conn, p.environment(), &b.primary_identity_id)?
        .ok_or_else(|| AppError::NotFound("Primary identity not found.".into()))?;
    let secondary = q::resolve(&conn, p.environment(), &b.secondary_identity_id)?
        .ok_or_else(|| AppError::NotFound("Secondary identity not found.".into()))?;
    if primary == secondary {
        return Err(AppError::validation("secondary_identity_id", "must differ from primary_identity_id"));
    }
    let primary_obj = q::get(&conn, &state.keyring, p.environment(), &primary)?;
    let secondary_obj = q::get(&conn, &state.keyring, p.environment(), &secondary)?;
    let status = secondary_obj["status"].as_str().unwrap_or_default();
    let blockers: Vec<&str> = match status {
        "redacted" => vec!["the secondary identity is redacted"],
        "merged" => vec!["the secondary identity has already been merged"],
        _ => vec![],
    };
    let p_tags: Vec<String> = serde_json::from_value(primary_obj["tags"].clone()).unwrap_or_default();
    let s_tags: Vec<String> = serde_json::from_value(secondary_obj["tags"].clone()).unwrap_or_default();
    let tags_added: Vec<&String> = s_tags.iter().filter(|t| !p_tags.contains(t)).collect();
    let p_fields = primary_obj["custom_fields"].as_object().cloned().unwrap_or_default();
    let fields_added: Vec<&String> = secondary_obj["custom_fields"]
        .as_object()
        .map(|m| m.keys().filter(|k| !p_fields.contains_key(*k)).collect())
        .unwrap_or_default();
    let links = crate::queries::relationships::all_for(&conn, &secondary, false)?;
    Ok(Reply::ok(json!({
        "primary": primary_obj,
        "secondary": secondary_obj,
        "can_merge": blockers.is_empty(),
        "blockers": blockers,
        "would_transfer": {
            "sessions": secondary_obj["session_count"],
            "tags": tags_added,
            "custom_fields": fields_added,
            "relationships": links.len(),
        },
        "secondary_status_after": if b.redact_secondary { "redacted" } else { "merged" },
    })))
}

async fn merge(state: web::Data<AppState>, p: Principal, body: ApiBody<MergeBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let options = MergeOptions { redact_secondary: b.redact_secondary };
    let (primary, merged) =
        cmd::merge(&state.writer, p.meta(state.now()), b.primary_identity_id, vec![b.secondary_identity_id], options)
            .await?;
    let conn = state.read.get()?;
    let secondary = merged.first().cloned().unwrap_or_default();
    Ok(Reply::ok(json!({
        "primary": q::get(&conn, &state.keyring, p.environment(), &primary)?,
        "secondary": q::get(&conn, &state.keyring, p.environment(), &secondary)?,
    })))
}

async fn merge_multiple(state: web::Data<AppState>, p: Principal, body: ApiBody<MergeMultipleBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    if b.secondary_identity_ids.is_empty() || b.secondary_identity_ids.len() > 100 {
        return Err(AppError::validation("secondary_identity_ids", "must list 1 to 100 identities"));
    }
    let options = MergeOptions { redact_secondary: b.redact_secondary };
    let (primary, merged) =
        cmd::merge(&state.writer, p.meta(state.now()), b.primary_identity_id, b.secondary_identity_ids, options)
            .await?;
    Ok(Reply::ok(json!({
        "primary": q::get(&state.read.get()?, &state.keyring, p.environment(), &primary)?,
        "merged_count": merged.len(),
        "merged_ids": merged,
    })))
}

async fn image_matches(
    state: web::Data<AppState>,
    p: Principal,
    path: web::Path<String>,
    query: QueryMap,
) -> ApiResult {
    p.require(READ, &[])?;
    let threshold = match query.get("threshold") {
        None => crate::checks::imagehash::DEFAULT_THRESHOLD,
        Some(t) => match t.parse::<f64>() {
            Ok(v) if (0.1..=1.0).contains(&v) => v,
            _ => return Err(AppError::validation("threshold", "must be a number from 0.1 to 1.0")),
        },
    };
    let source = query.get("source_type");
    if source.is_some_and(|s| s != "selfie" && s != "document_front") {
        return Err(AppError::validation("source_type", "must be selfie or document_front"));
    }
    let conn = state.read.get()?;
    let id = q::require(&conn, p.environment(), &path)?;
    Ok(Reply::ok(q::image_matches(&conn, p.environment(), &id, threshold, source, query.page(20)?)?))
}
