//! /cases: the review queue (spec §1.8): list, search, counts, create, demo, get, update, claim, claim-next,
//! release, assign, escalate, approve, reject, notes, check override and PII correction. Bodies are typed
//! (reviewer ids are `orguser_*` ids); then one command and one read. Must not hold queue rules (those are
//! `domain::case`) or touch the database.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::cases::{self as cmd, DecideInput};
use crate::domain::case::{CaseCommand, CaseDecision, CaseStatus, CaseTab, Escalated, NoteAdded};
use crate::domain::ids::{self, CaseId, OrgUserId, SessionId};
use crate::domain::values::{ShortText, Tag, Timestamp, Title};
use crate::error::AppError;
use crate::queries::cases::{self as q, CaseCounts, CaseFilter, CaseNote, CaseView};
use crate::queries::OffsetPage;
use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/cases", "List review cases", web::get().to(list));
    t.add("POST", "/cases", "Create a review case", web::post().to(create));
    // Static paths before `/cases/{case_id}`.
    t.add("POST", "/cases/demo", "Create a demo review case", web::post().to(demo));
    t.add("GET", "/cases/counts", "Get case counts by tab", web::get().to(counts));
    t.add("POST", "/cases/next", "Claim the next unassigned case", web::post().to(next));
    t.add("GET", "/cases/search", "Search cases", web::get().to(search));
    t.add("POST", "/cases/search", "Search cases", web::post().to(search_post));
    t.add("GET", "/cases/{case_id}", "Get a review case", web::get().to(get));
    t.add("PATCH", "/cases/{case_id}", "Update case metadata", web::patch().to(update));
    t.add("POST", "/cases/{case_id}/claim", "Claim a case", web::post().to(claim));
    t.add("POST", "/cases/{case_id}/release", "Release a claim", web::post().to(release));
    t.add("POST", "/cases/{case_id}/assign", "Assign a case", web::post().to(assign));
    t.add("POST", "/cases/{case_id}/escalate", "Escalate", web::post().to(escalate));
    t.add("POST", "/cases/{case_id}/approve", "Approve", web::post().to(approve));
    t.add("POST", "/cases/{case_id}/reject", "Reject", web::post().to(reject));
    t.add("GET", "/cases/{case_id}/notes", "List notes", web::get().to(notes));
    t.add("POST", "/cases/{case_id}/notes", "Add a note", web::post().to(add_note));
    t.add("PUT", "/cases/{case_id}/result/pii", "Update extracted PII on a case result", web::put().to(pii));
    t.add(
        "POST",
        "/cases/{case_id}/checks/{check_name}/override",
        "Override a failed check and continue",
        web::post().to(override_check),
    );
}

const READ: &str = "cases:read";
const WRITE: &str = "cases:write";

async fn reply_case(state: &web::Data<AppState>, p: &Principal, id: String, created: bool) -> ApiResult {
    let (keyring, env, now) = (state.keyring.clone(), p.env(), state.now());
    let view = state.read(move |c| q::get(c, &keyring, &env, &id, &now)).await?;
    Ok(if created { Reply::created(view) } else { Reply::ok(view) })
}

/// Filters of a case list.
#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct CaseListQuery {
    pub status: Option<CaseStatus>,
    pub assigned_to: Option<OrgUserId>,
    pub session_id: Option<SessionId>,
    pub created_after: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    /// `unassigned`, `mine` (with `reviewer_id`), `pending_second_review`, `escalated` or `all`.
    pub tab: Option<CaseTab>,
    /// The reviewer of the `mine` tab.
    pub reviewer_id: Option<OrgUserId>,
    /// Free text over ids, external_ref, reviewer and tags.
    pub q: Option<Title>,
    #[param(minimum = 1, maximum = 100)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    #[schema(minimum = 0)]
    pub offset: Option<i64>,
}

impl CaseListQuery {
    fn filter(&self) -> Result<(CaseFilter, crate::queries::Page), AppError> {
        let page = PageQuery { limit: self.limit, offset: self.offset }.page(25)?;
        Ok((
            CaseFilter {
                status: self.status.map(|s| s.as_str().to_string()),
                assigned_to: self.assigned_to.as_ref().map(|r| r.to_string()),
                session_id: self.session_id.as_ref().map(|s| s.to_string()),
                created_after: self.created_after.as_ref().map(|t| t.as_str().to_string()),
                created_before: self.created_before.as_ref().map(|t| t.as_str().to_string()),
                tab: self.tab.map(|t| t.as_str().to_string()),
                reviewer_id: self.reviewer_id.as_ref().map(|r| r.to_string()),
                q: self.q.as_ref().map(|q| q.as_str().to_string()),
            },
            page,
        ))
    }
}

#[utoipa::path(get, path = "/api/v1/cases", tag = "Cases", operation_id = "list_cases", params(CaseListQuery),
    responses((status = 200, description = "Cases, oldest in review first", body = OffsetPage<CaseView>),
        (status = 422, description = "A filter is invalid", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(state: web::Data<AppState>, p: Principal, query: ApiQuery<CaseListQuery>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (f, page) = query.0.filter()?;
    let (keyring, env, now) = (state.keyring.clone(), p.env(), state.now());
    Ok(Reply::ok(state.read(move |c| q::list(c, &keyring, &env, &f, page, &now)).await?))
}

#[utoipa::path(get, path = "/api/v1/cases/search", tag = "Cases", operation_id = "search_cases", params(CaseListQuery),
    responses((status = 200, description = "Matching cases", body = OffsetPage<CaseView>),
        (status = 422, description = "A filter is invalid", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn search(state: web::Data<AppState>, p: Principal, query: ApiQuery<CaseListQuery>) -> ApiResult {
    list(state, p, query).await
}

#[utoipa::path(post, path = "/api/v1/cases/search", tag = "Cases", operation_id = "search_cases_post",
    request_body = CaseListQuery,
    responses((status = 200, description = "Matching cases", body = OffsetPage<CaseView>),
        (status = 422, description = "A filter is invalid", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn search_post(state: web::Data<AppState>, p: Principal, body: ApiBody<CaseListQuery>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (f, page) = body.0.filter()?;
    let (keyring, env, now) = (state.keyring.clone(), p.env(), state.now());
    Ok(Reply::ok(state.read(move |c| q::list(c, &keyring, &env, &f, page, &now)).await?))
}

/// `POST /cases`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCaseBody {
    pub session_id: SessionId,
}

#[utoipa::path(post, path = "/api/v1/cases", tag = "Cases", operation_id = "create_case", request_body = CreateCaseBody,
    responses((status = 200, description = "The session's case (existing or new)", body = CaseView),
        (status = 404, description = "No such session", body = ErrorBody),
        (status = 409, description = "The session is not under review", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateCaseBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::create_for_session(&state.writer, p.meta(state.now()), body.0.session_id.to_string()).await?;
    reply_case(&state, &p, id, false).await
}

#[utoipa::path(post, path = "/api/v1/cases/demo", tag = "Cases", operation_id = "create_demo_case",
    responses((status = 201, description = "A synthetic case (sandbox)", body = CaseView),
        (status = 403, description = "A live key", body = ErrorBody),
        (status = 409, description = "Three demo cases exist already", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn demo(state: web::Data<AppState>, p: Principal) -> ApiResult {
    p.require(WRITE, &[])?;
    let id = cmd::create_demo(&state.writer, p.meta(state.now())).await?;
    reply_case(&state, &p, id, true).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// The reviewer whose cases `mine` counts.
    pub reviewer_id: Option<OrgUserId>,
}

#[utoipa::path(get, path = "/api/v1/cases/counts", tag = "Cases", operation_id = "get_case_counts", params(CountsQuery),
    responses((status = 200, description = "Counts per tab", body = CaseCounts)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn counts(state: web::Data<AppState>, p: Principal, query: ApiQuery<CountsQuery>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (env, reviewer) = (p.env(), query.0.reviewer_id.map(|r| r.to_string()));
    Ok(Reply::ok(state.read(move |c| q::counts(c, &env, reviewer.as_deref())).await?))
}

/// A reviewer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewerBody {
    pub reviewer_id: OrgUserId,
}

#[utoipa::path(post, path = "/api/v1/cases/next", tag = "Cases", operation_id = "claim_next_case",
    request_body = ReviewerBody,
    responses((status = 200, description = "The claimed case", body = CaseView),
        (status = 204, description = "The queue is empty"),
        (status = 404, description = "No such reviewer", body = ErrorBody),
        (status = 409, description = "The reviewer's account is disabled", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn next(state: web::Data<AppState>, p: Principal, body: ApiBody<ReviewerBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    match cmd::claim_next(&state.writer, p.meta(state.now()), body.0.reviewer_id).await? {
        Some(id) => reply_case(&state, &p, id, false).await,
        None => Ok(Reply::no_content()),
    }
}

#[utoipa::path(get, path = "/api/v1/cases/{case_id}", tag = "Cases", operation_id = "get_case",
    params(("case_id" = CaseId, Path, description = "The case")),
    responses((status = 200, description = "The case", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, path: ApiPath<CaseId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    reply_case(&state, &p, path.into_inner().to_string(), false).await
}

/// `PATCH /cases/{id}`: absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCaseBody {
    /// Replaces the case's metadata (at most 50 keys).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
    /// Replaces the case's tags.
    #[schema(max_items = 50)]
    pub tags: Option<Vec<Tag>>,
}

async fn run(state: &web::Data<AppState>, p: &Principal, id: CaseId, command: CaseCommand) -> ApiResult {
    let id = cmd::simple(&state.writer, p.meta(state.now()), id.to_string(), command).await?;
    reply_case(state, p, id, false).await
}

#[utoipa::path(patch, path = "/api/v1/cases/{case_id}", tag = "Cases", operation_id = "update_case",
    params(("case_id" = CaseId, Path, description = "The case")), request_body = UpdateCaseBody,
    responses((status = 200, description = "The case", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 422, description = "Invalid metadata or tags", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CaseId>,
    body: ApiBody<UpdateCaseBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    if b.metadata.as_ref().is_some_and(|m| m.len() > 50) {
        return Err(AppError::validation("metadata", "at most 50 keys"));
    }
    let tags = match b.tags {
        Some(t) => Some(crate::domain::values::dedup_tags("tags", t).map_err(|e| AppError::fields(vec![e]))?),
        None => None,
    };
    let tags = tags.map(|t| t.into_iter().map(|t| t.into_string()).collect());
    run(&state, &p, path.into_inner(), cmd::update_command(b.metadata, tags)).await
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/claim", tag = "Cases", operation_id = "claim_case",
    params(("case_id" = CaseId, Path, description = "The case")), request_body = ReviewerBody,
    responses((status = 200, description = "The case, in review", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "Decided, or held by another reviewer", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn claim(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CaseId>,
    body: ApiBody<ReviewerBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let command = CaseCommand::Claim { reviewer_id: body.0.reviewer_id.to_string(), how: "claim" };
    run(&state, &p, path.into_inner(), command).await
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/release", tag = "Cases", operation_id = "release_case",
    params(("case_id" = CaseId, Path, description = "The case")),
    responses((status = 200, description = "The case, back in the queue", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "Not claimed, or decided", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn release(state: web::Data<AppState>, p: Principal, path: ApiPath<CaseId>) -> ApiResult {
    p.require(WRITE, &[])?;
    run(&state, &p, path.into_inner(), CaseCommand::Release { inactivity: false }).await
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/assign", tag = "Cases", operation_id = "assign_case",
    params(("case_id" = CaseId, Path, description = "The case")), request_body = ReviewerBody,
    responses((status = 200, description = "The case, assigned", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "Decided", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn assign(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CaseId>,
    body: ApiBody<ReviewerBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    run(&state, &p, path.into_inner(), CaseCommand::Assign { reviewer_id: body.0.reviewer_id.to_string() }).await
}

/// `POST /cases/{id}/escalate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateBody {
    pub escalated_to: Option<ShortText>,
    pub reason: Option<NoteText>,
    pub notes: Option<NoteText>,
}

/// Reviewer text, 1 to 2000 characters.
pub type NoteText = crate::domain::values::LongText;

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/escalate", tag = "Cases", operation_id = "escalate_case",
    params(("case_id" = CaseId, Path, description = "The case")), request_body = EscalateBody,
    responses((status = 200, description = "The case, escalated", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "Not open or in review", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn escalate(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CaseId>,
    body: ApiBody<EscalateBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let e = Escalated {
        escalated_to: b.escalated_to.map(|t| t.as_str().to_string()),
        reason: b.reason.map(|t| t.as_str().to_string()),
        notes: b.notes.map(|t| t.as_str().to_string()),
    };
    run(&state, &p, path.into_inner(), CaseCommand::Escalate(e)).await
}

/// `POST /cases/{id}/approve` and `/reject`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseDecisionBody {
    pub reviewer_id: OrgUserId,
    pub notes: Option<NoteText>,
    /// Reject only.
    pub rejection_reason: Option<NoteText>,
}

#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn decide(
    state: web::Data<AppState>,
    p: Principal,
    id: CaseId,
    b: CaseDecisionBody,
    d: CaseDecision,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let input = DecideInput {
        decision: d,
        reviewer: b.reviewer_id,
        notes: b.notes.map(|t| t.as_str().to_string()),
        rejection_reason: b.rejection_reason.map(|t| t.as_str().to_string()),
    };
    let id = cmd::decide(&state.writer, p.meta(state.now()), id.to_string(), input).await?;
    reply_case(&state, &p, id, false).await
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/approve", tag = "Cases", operation_id = "approve_case",
    params(("case_id" = CaseId, Path, description = "The case")), request_body = CaseDecisionBody,
    responses((status = 200, description = "The case: approved, or pending a second review", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "Already decided, held by another reviewer, or the same reviewer as the first review", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn approve(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CaseId>,
    body: ApiBody<CaseDecisionBody>,
) -> ApiResult {
    decide(state, p, path.into_inner(), body.0, CaseDecision::Approved).await
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/reject", tag = "Cases", operation_id = "reject_case",
    params(("case_id" = CaseId, Path, description = "The case")), request_body = CaseDecisionBody,
    responses((status = 200, description = "The case: rejected, or pending a second review", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "Already decided, held by another reviewer, or the same reviewer as the first review", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn reject(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CaseId>,
    body: ApiBody<CaseDecisionBody>,
) -> ApiResult {
    decide(state, p, path.into_inner(), body.0, CaseDecision::Rejected).await
}

#[utoipa::path(get, path = "/api/v1/cases/{case_id}/notes", tag = "Cases", operation_id = "list_case_notes",
    params(("case_id" = CaseId, Path, description = "The case")),
    responses((status = 200, description = "Notes, oldest first", body = CaseNotes),
        (status = 404, description = "No such case", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn notes(state: web::Data<AppState>, p: Principal, path: ApiPath<CaseId>) -> ApiResult {
    p.require(READ, &[WRITE])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let id = path.into_inner();
    Ok(Reply::ok(CaseNotes { data: state.read(move |c| q::notes(c, &keyring, &env, &id)).await? }))
}

/// A case's notes, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseNotes {
    pub data: Vec<CaseNote>,
}

/// `POST /cases/{id}/notes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub body: NoteText,
    pub reviewer_id: Option<OrgUserId>,
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/notes", tag = "Cases", operation_id = "add_case_note",
    params(("case_id" = CaseId, Path, description = "The case")), request_body = NoteBody,
    responses((status = 201, description = "The case with the note", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn add_note(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<CaseId>,
    body: ApiBody<NoteBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let note = NoteAdded {
        note_id: ids::new_id("note"),
        author: b.reviewer_id.map(|r| r.to_string()),
        body: b.body.as_str().to_string(),
    };
    let id = cmd::simple(&state.writer, p.meta(state.now()), path.into_inner().to_string(), CaseCommand::AddNote(note))
        .await?;
    reply_case(&state, &p, id, true).await
}

// `PUT /cases/{id}/result/pii`: corrected values by field name, who corrects and why.
crate::personal_data_struct!(
    /// The corrected personal data: each field given replaces the identity's value (absent or null: kept).
    pub struct CorrectedFields {}
);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PiiBody {
    pub reviewer_id: OrgUserId,
    pub reason: Option<NoteText>,
    pub fields: CorrectedFields,
}

#[utoipa::path(put, path = "/api/v1/cases/{case_id}/result/pii", tag = "Cases", operation_id = "update_case_pii",
    params(("case_id" = CaseId, Path, description = "The case")), request_body = PiiBody,
    responses((status = 200, description = "The case, with the correction recorded", body = CaseView),
        (status = 404, description = "No such case", body = ErrorBody),
        (status = 409, description = "Decided, or no identity to correct", body = ErrorBody),
        (status = 422, description = "A field or value is invalid", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn pii(state: web::Data<AppState>, p: Principal, path: ApiPath<CaseId>, body: ApiBody<PiiBody>) -> ApiResult {
    p.require(WRITE, &[])?;
    let b = body.0;
    let fields = b.fields.personal_data().into_map();
    let reason = b.reason.map(|t| t.as_str().to_string());
    let id = cmd::correct_pii(
        &state.writer,
        p.meta(state.now()),
        path.into_inner().to_string(),
        b.reviewer_id,
        reason,
        fields,
    )
    .await?;
    reply_case(&state, &p, id, false).await
}

/// `POST /cases/{id}/checks/{check_name}/override`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    pub reviewer_id: OrgUserId,
    pub reason: NoteText,
}

#[utoipa::path(post, path = "/api/v1/cases/{case_id}/checks/{check_name}/override", tag = "Cases",
    operation_id = "override_case_check",
    params(("case_id" = CaseId, Path, description = "The case"),
        ("check_name" = String, Path, description = "The failed check, e.g. `face_match`")),
    request_body = OverrideBody,
    responses((status = 200, description = "The case; approved when no other check failed", body = CaseView),
        (status = 404, description = "No such case, or the session has no such check", body = ErrorBody),
        (status = 409, description = "The check did not fail, or the case is decided", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn override_check(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<(CaseId, ShortText)>,
    body: ApiBody<OverrideBody>,
) -> ApiResult {
    p.require(WRITE, &[])?;
    let (id, check) = path.into_inner();
    let b = body.0;
    let id = cmd::override_check(
        &state.writer,
        p.meta(state.now()),
        id.to_string(),
        check.as_str().to_string(),
        b.reviewer_id,
        b.reason.as_str().to_string(),
    )
    .await?;
    reply_case(&state, &p, id, false).await
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        demo,
        counts,
        next,
        search,
        search_post,
        get,
        update,
        claim,
        release,
        assign,
        escalate,
        approve,
        reject,
        notes,
        add_note,
        pii,
        override_check
    ),
    components(schemas(
        CaseId,
        CaseView,
        CaseNotes,
        CorrectedFields,
        CaseCounts,
        CaseNote,
        CreateCaseBody,
        ReviewerBody,
        UpdateCaseBody,
        EscalateBody,
        CaseDecisionBody,
        NoteBody,
        PiiBody,
        OverrideBody,
        CaseListQuery
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
