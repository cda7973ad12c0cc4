//! /findings (spec §1.4.1): everything that needs a human look (screening hits, custom-list matches,
//! possible duplicates, fraud signals) in one list with the analyst's filters, one finding, and
//! acknowledging or dismissing it (who from the key or the dashboard user, why sealed). Typed query, path and
//! bodies; then one call.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery, PathNoun};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::findings as cmd;
use crate::domain::finding::{FindingKind, FindingStatus};
use crate::domain::ids::{CheckId, FindingId, IdentityId, SessionId};
use crate::domain::values::Timestamp;
use crate::error::AppError;
use crate::queries::findings::{self as q, FindingFilter, FindingView};
use crate::queries::OffsetPage;
use actix_web::web;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/findings", "List findings", web::get().to(list));
    t.add("GET", "/findings/{finding_id}", "Get a finding", web::get().to(get));
    t.add("POST", "/findings/{finding_id}/acknowledge", "Acknowledge a finding", web::post().to(acknowledge));
    t.add("POST", "/findings/{finding_id}/dismiss", "Dismiss a finding", web::post().to(dismiss));
}

impl PathNoun for FindingId {
    const NOUN: &'static str = "Finding";
}

// Findings gather what checks, lists and sessions found: the checks scopes cover them, and a reviewer's
// case scopes are accepted too (see docs/api-decisions.md, "Findings").
const READ: &str = "checks:read";
const READ_ALSO: &[&str] = &["checks:write", "cases:read", "cases:write"];
const WRITE: &str = "checks:write";
const WRITE_ALSO: &[&str] = &["cases:write"];

/// The longest note or reason kept.
const MAX_TEXT: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingQuery {
    pub status: Option<FindingStatus>,
    pub kind: Option<FindingKind>,
    pub identity_id: Option<IdentityId>,
    pub session_id: Option<SessionId>,
    /// Findings of one check (its hits).
    pub check_id: Option<CheckId>,
    /// Created after this moment.
    pub created_after: Option<Timestamp>,
    /// Created before this moment.
    pub created_before: Option<Timestamp>,
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

fn finding_example() -> serde_json::Value {
    serde_json::json!({
        "id": "fnd_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "object": "finding", "kind": "screening_hit", "status": "open",
        "summary": "Watchlist hit: ofac entry 48603 (person), score 0.93",
        "check_id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "hit_id": "hit_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C",
        "list_match_id": null, "identity_id": null, "session_id": null,
        "detail": {"check_id": "schk_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "check_type": "sanction",
            "hit_id": "hit_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "watchlist_id": "ofac", "entry_id": "48603",
            "entity_type": "person", "matched_name": "KHOROSHEV, Dmitry Yuryevich", "score": 0.93,
            "list_version_id": "wlv_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C"},
        "is_sandbox": false, "acknowledged_at": null, "acknowledged_by": null, "acknowledgement_note": null,
        "dismissed_at": null, "dismissed_by": null, "dismissal_reason": null, "resolved_at": null,
        "created_at": "2025-01-12T10:00:00.000Z", "updated_at": "2025-01-12T10:00:00.000Z"
    })
}

#[utoipa::path(get, path = "/api/v1/findings", tag = "Findings", operation_id = "list_findings",
    params(FindingQuery),
    responses((status = 200, description = "Findings of this environment, newest first", body = OffsetPage<FindingView>,
        example = json!({"data": [], "pagination": {"total": 0, "limit": 25, "offset": 0}}))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, query: ApiQuery<FindingQuery>) -> ApiResult {
    p.require(READ, READ_ALSO)?;
    let b = query.0;
    let page = PageQuery { limit: b.limit, offset: b.offset }.page(25)?;
    let f = FindingFilter {
        status: b.status,
        kind: b.kind,
        identity_id: b.identity_id,
        session_id: b.session_id,
        check_id: b.check_id,
        created_after: b.created_after.map(|t| t.as_str().to_string()),
        created_before: b.created_before.map(|t| t.as_str().to_string()),
    };
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::list(c, &keyring, &env, &f, page)).await?))
}

#[utoipa::path(get, path = "/api/v1/findings/{finding_id}", tag = "Findings", operation_id = "get_finding",
    params(("finding_id" = FindingId, Path, description = "The finding")),
    responses((status = 200, description = "The finding", body = FindingView, example = finding_example)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<FindingId>) -> ApiResult {
    p.require(READ, READ_ALSO)?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &path)).await?))
}

/// An acknowledgement: an optional note (an empty body acknowledges without one).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeBody {
    /// What was looked at (sealed at rest), at most 1000 characters.
    #[schema(max_length = 1000, example = "Looking into it with the onboarding team")]
    pub note: Option<String>,
}

/// A dismissal: why, required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissFindingBody {
    /// Why it needs nothing more (sealed at rest), 1 to 1000 characters.
    #[schema(min_length = 1, max_length = 1000, example = "Different person: born 1961")]
    pub reason: String,
}

fn text(field: &str, value: Option<String>) -> Result<Option<String>, AppError> {
    let value = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    if value.as_ref().is_some_and(|v| v.chars().count() > MAX_TEXT) {
        return Err(AppError::validation(field, "must be at most 1000 characters"));
    }
    Ok(value)
}

#[utoipa::path(post, path = "/api/v1/findings/{finding_id}/acknowledge", tag = "Findings",
    operation_id = "acknowledge_finding",
    params(("finding_id" = FindingId, Path, description = "The finding")),
    request_body = AcknowledgeBody,
    responses((status = 200, description = "The finding, acknowledged (acknowledging it again changes nothing)",
        body = FindingView, example = finding_example),
        (status = 409, description = "The finding is dismissed or resolved", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn acknowledge(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<FindingId>,
    body: ApiBody<AcknowledgeBody>,
) -> ApiResult {
    p.require(WRITE, WRITE_ALSO)?;
    let note = text("note", body.0.note)?;
    let id = cmd::acknowledge(&state.writer, p.meta(state.now()), path.into_inner(), note).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &id)).await?))
}

#[utoipa::path(post, path = "/api/v1/findings/{finding_id}/dismiss", tag = "Findings", operation_id = "dismiss_finding",
    params(("finding_id" = FindingId, Path, description = "The finding")),
    request_body = DismissFindingBody,
    responses((status = 200, description = "The finding, dismissed. A screening hit is dismissed on its check as \
        `POST /checks/{id}/dismiss` does (its subject is not alerted for that entry again); a list match is marked \
        a false positive", body = FindingView, example = finding_example),
        (status = 409, description = "The finding is already dismissed or resolved, or its check was redacted",
            body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn dismiss(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<FindingId>,
    body: ApiBody<DismissFindingBody>,
) -> ApiResult {
    p.require(WRITE, WRITE_ALSO)?;
    let reason =
        text("reason", Some(body.0.reason))?.ok_or_else(|| AppError::validation("reason", "must not be empty"))?;
    let id = cmd::dismiss(&state.writer, p.meta(state.now()), path.into_inner(), reason).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &id)).await?))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, get, acknowledge, dismiss),
    components(schemas(FindingView, AcknowledgeBody, DismissFindingBody, FindingKind, FindingStatus))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
