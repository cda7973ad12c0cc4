//! The review pages: the queue (`/dashboard/cases`: tabs with counts, filters, SLA colours, claim-next)
//! and the case page (`/dashboard/cases/{id}`: data, documents, checks, screening hits, graph, timeline,
//! notes, corrections, overrides and decisions), the case's documents decrypted on the fly, and the case
//! page's form posts. Every post checks the session's CSRF token, runs the same command as the cases API
//! with the signed-in reviewer as `reviewer_id`, and answers 303 back to the page with a flash, or the page
//! itself with the refusal and its 4xx status. Must not hold queue rules, SQL or crypto (`render` and
//! `graph` draw the HTML; `queries::case_page` reads).

mod graph;
mod render;

use super::auth::{see_other, SignedIn};
use super::layout::{shell, PageError, PageResult, Section};
use crate::commands::cases::{self as cmd, DecideInput};
use crate::commands::checks as check_cmd;
use crate::domain::case::{CaseCommand, CaseDecision, CaseStatus, CaseTab, Escalated, NoteAdded};
use crate::domain::ids::{self, CaseId, CheckHitId, CheckId, OrgUserId};
use crate::domain::values::{LongText, ShortText};
use crate::error::AppError;
use crate::http::AppState;
use crate::queries::case_page as q;
use crate::queries::cases::CaseFilter;
use crate::queries::Page;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use std::collections::HashMap;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/cases", web::get().to(queue))
        .route("/dashboard/cases/next", web::post().to(claim_next))
        .route("/dashboard/cases/{case_id}", web::get().to(case_page))
        .route("/dashboard/cases/{case_id}/documents/{doc_type}", web::get().to(document))
        .route("/dashboard/cases/{case_id}/{action}", web::post().to(act));
}

const PAGE_SIZE: i64 = 25;

/// The queue's query string: tab, filters, page and the flash of a redirect.
#[derive(Debug, Deserialize)]
struct QueueQuery {
    tab: Option<String>,
    status: Option<String>,
    assigned: Option<String>,
    // Text, so a hand-edited URL gets the first page rather than an extractor error.
    offset: Option<String>,
    done: Option<String>,
}

/// The queue's filters, parsed (unknown values are refused as 422 pages).
pub(crate) struct QueueView {
    tab: CaseTab,
    status: Option<CaseStatus>,
    assigned: Option<OrgUserId>,
    offset: i64,
    done: Option<String>,
}

fn parse_queue(query: QueueQuery) -> Result<QueueView, AppError> {
    let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let tab = match blank(query.tab) {
        Some(t) => CaseTab::parse(&t).ok_or_else(|| AppError::validation("tab", "unknown tab"))?,
        None => CaseTab::Unassigned,
    };
    let status = match blank(query.status) {
        Some(s) => Some(CaseStatus::parse(&s).ok_or_else(|| AppError::validation("status", "unknown status"))?),
        None => None,
    };
    let assigned = match blank(query.assigned) {
        Some(a) => Some(OrgUserId::parse("assigned", &a).map_err(|e| AppError::validation(&e.field, e.message))?),
        None => None,
    };
    Ok(QueueView {
        tab,
        status,
        assigned,
        offset: query.offset.and_then(|o| o.parse::<i64>().ok()).unwrap_or(0).clamp(0, 1_000_000),
        done: query.done,
    })
}

#[tracing::instrument(skip_all)]
async fn queue(state: web::Data<AppState>, SignedIn(reviewer): SignedIn, query: web::Query<QueueQuery>) -> PageResult {
    let view = parse_queue(query.into_inner())?;
    let filter = CaseFilter {
        status: view.status.map(|s| s.as_str().to_string()),
        assigned_to: view.assigned.as_ref().map(|a| a.to_string()),
        tab: Some(view.tab.as_str().to_string()),
        reviewer_id: Some(reviewer.user_id.to_string()),
        ..CaseFilter::default()
    };
    let (keyring, env, now, me) =
        (state.keyring.clone(), reviewer.environment, state.now(), reviewer.user_id.to_string());
    let page = Page { limit: PAGE_SIZE, offset: view.offset };
    let data = state.read(move |c| q::queue(c, &keyring, env, &me, &filter, page, &now)).await?;
    let body = render::queue(&reviewer, &view, &data, &state.now());
    Ok(shell(&reviewer, Section::Cases, "Review queue", &body))
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: Option<String>,
}

/// "Claim next": the oldest unassigned case becomes the reviewer's; an empty queue says so.
#[tracing::instrument(skip_all)]
async fn claim_next(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    form: web::Form<CsrfForm>,
) -> PageResult {
    reviewer.check_csrf(form.csrf.as_deref())?;
    let meta = reviewer.meta(&req, state.now());
    match cmd::claim_next(&state.writer, meta, reviewer.user_id.clone()).await? {
        Some(id) => Ok(see_other(&format!("/dashboard/cases/{id}?done=claimed")).finish()),
        None => Ok(see_other("/dashboard/cases?done=empty").finish()),
    }
}

fn case_id(text: &str) -> Result<CaseId, AppError> {
    CaseId::parse("case_id", text).map_err(|_| AppError::not_found("Case"))
}

#[derive(Debug, Deserialize)]
struct CaseQuery {
    done: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn case_page(
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    path: web::Path<String>,
    query: web::Query<CaseQuery>,
) -> PageResult {
    let id = case_id(&path)?;
    let flash = query.into_inner().done.map(render::Flash::Done);
    page_with(&state, &reviewer, id, flash, StatusCode::OK).await
}

/// The case page with an optional flash, answered with `status` (a refused post shows its 4xx).
async fn page_with(
    state: &AppState,
    reviewer: &super::auth::Reviewer,
    id: CaseId,
    flash: Option<render::Flash>,
    status: StatusCode,
) -> PageResult {
    let (keyring, env, now) = (state.keyring.clone(), reviewer.environment, state.now());
    let data = state.read(move |c| q::case_page(c, &keyring, env, &id, &now)).await?;
    let body = render::case(reviewer, &data, flash.as_ref(), &state.now());
    let title = format!("Case {}", data.case.id);
    let mut res = shell(reviewer, Section::Cases, &title, &body);
    *res.status_mut() = status;
    Ok(res)
}

/// A document of the case's session, decrypted in memory for this response only: never cached, never
/// written anywhere. 404 for a case of another environment or a document the session lacks.
#[tracing::instrument(skip_all)]
async fn document(
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    path: web::Path<(String, String)>,
) -> PageResult {
    let (id, doc_type) = path.into_inner();
    let id = case_id(&id)?;
    if doc_type.is_empty() || doc_type.len() > 40 || !doc_type.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(AppError::not_found("Document").into());
    }
    let (keyring, env) = (state.keyring.clone(), reviewer.environment);
    let (mime, bytes) = state.read(move |c| q::document(c, &keyring, env, &id, &doc_type)).await?;
    Ok(HttpResponse::Ok()
        .content_type(mime)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"))
        .insert_header((header::CONTENT_DISPOSITION, "inline"))
        .body(bytes))
}

/// A field of a case form: trimmed, absent when blank.
fn field<'a>(form: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    form.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn long_text(form: &HashMap<String, String>, name: &str) -> Result<Option<String>, AppError> {
    match field(form, name) {
        Some(v) => Ok(Some(
            LongText::parse(name, v).map_err(|e| AppError::validation(&e.field, e.message))?.as_str().to_string(),
        )),
        None => Ok(None),
    }
}

fn required_text(form: &HashMap<String, String>, name: &str) -> Result<String, AppError> {
    long_text(form, name)?.ok_or_else(|| AppError::validation(name, "is required"))
}

/// The personal-data fields the correction form offers (the API's `CorrectedFields`).
pub(crate) const PII_FIELDS: &[(&str, &str)] = &[
    ("first_name", "First name"),
    ("middle_name", "Middle name"),
    ("last_name", "Last name"),
    ("date_of_birth", "Date of birth"),
    ("document_number", "Document number"),
    ("nationality", "Nationality"),
    ("address_line1", "Address"),
    ("city", "City"),
    ("zip_code", "Postal code"),
];

/// The corrected values of the PII form, validated exactly as `PUT /cases/{id}/result/pii` validates them.
fn corrected_fields(form: &HashMap<String, String>) -> Result<std::collections::BTreeMap<String, String>, AppError> {
    let given: serde_json::Map<String, serde_json::Value> = PII_FIELDS
        .iter()
        .filter_map(|(name, _)| field(form, name).map(|v| (name.to_string(), serde_json::Value::String(v.into()))))
        .collect();
    if given.is_empty() {
        return Err(AppError::validation("fields", "enter at least one corrected value"));
    }
    let parsed: crate::http::cases::CorrectedFields = serde_json::from_value(serde_json::Value::Object(given))
        .map_err(|e| AppError::validation("fields", e.to_string()))?;
    Ok(parsed.personal_data().into_map())
}

/// One case form post: `action` is the last path segment. Returns the flash word of the redirect.
async fn run_action(
    state: &AppState,
    meta: crate::commands::CommandMeta,
    reviewer: OrgUserId,
    id: &CaseId,
    action: &str,
    form: &HashMap<String, String>,
) -> Result<&'static str, AppError> {
    let case = id.to_string();
    let w = &state.writer;
    let decide = |decision| -> Result<DecideInput, AppError> {
        Ok(DecideInput {
            decision,
            reviewer: reviewer.clone(),
            notes: long_text(form, "notes")?,
            rejection_reason: if decision == CaseDecision::Rejected {
                long_text(form, "rejection_reason")?
            } else {
                None
            },
        })
    };
    match action {
        "claim" => {
            let command = CaseCommand::Claim { reviewer_id: reviewer.to_string(), how: "claim" };
            cmd::simple(w, meta, case, command).await.map(|_| "claimed")
        }
        "release" => cmd::simple(w, meta, case, CaseCommand::Release { inactivity: false }).await.map(|_| "released"),
        "approve" => cmd::decide(w, meta, case, decide(CaseDecision::Approved)?).await.map(|_| "approve"),
        "reject" => cmd::decide(w, meta, case, decide(CaseDecision::Rejected)?).await.map(|_| "reject"),
        "escalate" => {
            let escalated_to = match field(form, "escalated_to") {
                Some(v) => Some(
                    ShortText::parse("escalated_to", v)
                        .map_err(|e| AppError::validation(&e.field, e.message))?
                        .as_str()
                        .to_string(),
                ),
                None => None,
            };
            let e = Escalated { escalated_to, reason: long_text(form, "reason")?, notes: None };
            cmd::simple(w, meta, case, CaseCommand::Escalate(e)).await.map(|_| "escalated")
        }
        "notes" => {
            let body = required_text(form, "body")?;
            let note = NoteAdded { note_id: ids::new_id("note"), author: Some(reviewer.to_string()), body };
            cmd::simple(w, meta, case, CaseCommand::AddNote(note)).await.map(|_| "noted")
        }
        "pii" => {
            let fields = corrected_fields(form)?;
            let reason = long_text(form, "reason")?;
            cmd::correct_pii(w, meta, case, reviewer, reason, fields).await.map(|_| "corrected")
        }
        "override" => {
            let check = field(form, "check").ok_or_else(|| AppError::validation("check", "is required"))?;
            let check = ShortText::parse("check", check).map_err(|e| AppError::validation(&e.field, e.message))?;
            let reason = required_text(form, "reason")?;
            cmd::override_check(w, meta, case, check.as_str().to_string(), reviewer, reason).await.map(|_| "overridden")
        }
        "dismiss" => {
            let check = field(form, "check_id").unwrap_or_default();
            let check = CheckId::parse("check_id", check).map_err(|e| AppError::validation(&e.field, e.message))?;
            let hit = match field(form, "hit_id") {
                Some(h) => {
                    Some(vec![CheckHitId::parse("hit_id", h).map_err(|e| AppError::validation(&e.field, e.message))?])
                }
                None => None,
            };
            let reason = required_text(form, "reason")?;
            check_cmd::dismiss(w, meta, check, hit, Some(reason)).await.map(|_| "dismissed")
        }
        _ => Err(AppError::not_found("Action")),
    }
}

/// A case form post: CSRF first, then one command; 303 back with a flash, or the page with the refusal.
#[tracing::instrument(skip_all, fields(action = %path.1))]
async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    SignedIn(reviewer): SignedIn,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> PageResult {
    let (id, action) = path.into_inner();
    reviewer.check_csrf(form.get("csrf").map(String::as_str))?;
    let id = case_id(&id)?;
    let meta = reviewer.meta(&req, state.now());
    match run_action(&state, meta, reviewer.user_id.clone(), &id, &action, &form).await {
        Ok(done) => Ok(see_other(&format!("/dashboard/cases/{id}?done={done}")).finish()),
        // A refusal (bad input, wrong state, another reviewer's claim) is shown on the case page.
        Err(e) if refusal(&e) => {
            let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::CONFLICT);
            let flash = render::Flash::Refused(e.public_detail());
            match page_with(&state, &reviewer, id, Some(flash), status).await {
                Ok(res) => Ok(res),
                Err(_) => Err(PageError(e)),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// A refusal the reviewer can act on (bad input, wrong state, another reviewer's claim), shown on the
/// case page; sign-in problems and server failures take their own pages.
fn refusal(e: &AppError) -> bool {
    e.status_code() < 500 && !matches!(e, AppError::Unauthorized(_))
}
