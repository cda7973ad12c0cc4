//! /sessions (API key side), /results and /identities/{id}/sessions.

use super::body::{ApiBody, ApiPath, ApiQuery, PageQuery, Upload};
use super::error::ErrorBody;
use super::reply::{ApiResult, Principal, Reply};
use super::{AppState, RouteTable};
use crate::commands::sessions::{self as cmd, CreateSession, SessionRef, TagChange};
use crate::domain::ids::{CaptureLinkId, IdentityRef, SessionId, WorkflowId};
use crate::domain::session::{
    ExternalDecision, RedactionStatus, ResultStatus, SessionCheck, SessionStatus, SimulateAction, UploadType,
};
use crate::domain::values::{self, CountryCode, ExternalRef, RedirectUrl, Tag};
use crate::error::{AppError, AppResult};
use crate::queries::sessions::{
    self as q, CaptureState, DocumentList, DocumentView, ExportDocument, NestedResultView, ResultDetail, ResultFilter,
    ResultListItem, ResultView, RiskSignal, RiskView, SessionEventView, SessionExport, SessionFilter, SessionView,
    WorkflowRunView,
};
use crate::queries::{OffsetPage, OffsetPagination};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

pub fn routes(t: &mut RouteTable) {
    t.add("GET", "/sessions", "List sessions", web::get().to(list));
    t.add("POST", "/sessions", "Create a verification session", web::post().to(create));
    t.add("POST", "/sessions/bulk-redact", "Bulk redact sessions", web::post().to(bulk_redact));
    t.add("GET", "/sessions/{session_id}", "Get a session", web::get().to(get));
    t.add("PATCH", "/sessions/{session_id}", "Update a session", web::patch().to(update));
    t.add("POST", "/sessions/{session_id}/resume", "Resume a session", web::post().to(resume));
    t.add("POST", "/sessions/{session_id}/expire", "Expire a session", web::post().to(expire));
    t.add("POST", "/sessions/{session_id}/simulate", "Simulate a session action (sandbox)", web::post().to(simulate));
    t.add("POST", "/sessions/{session_id}/submit", "Submit a session for verification", web::post().to(submit));
    t.add("POST", "/sessions/{session_id}/reprocess", "Reprocess a session", web::post().to(reprocess));
    t.add(
        "POST",
        "/sessions/{session_id}/generate-one-time-link",
        "Generate a one-time link",
        web::post().to(one_time_link),
    );
    t.add("POST", "/sessions/{session_id}/resend-invite", "Resend the invitation", web::post().to(resend_invite));
    t.add("POST", "/sessions/{session_id}/tags/add", "Add a session tag", web::post().to(add_tag));
    t.add("POST", "/sessions/{session_id}/tags/remove", "Remove a session tag", web::post().to(remove_tag));
    t.add("POST", "/sessions/{session_id}/tags", "Set session tags", web::post().to(set_tags_post));
    t.add("PUT", "/sessions/{session_id}/tags", "Set session tags", web::put().to(set_tags));
    t.add("GET", "/sessions/{session_id}/events", "List session events", web::get().to(session_events));
    t.add("GET", "/sessions/{session_id}/workflow-run", "Get session workflow run", web::get().to(workflow_run));
    t.add("GET", "/sessions/{session_id}/result", "Get session result", web::get().to(result));
    t.add("GET", "/sessions/{session_id}/documents", "List session documents", web::get().to(documents));
    t.add("POST", "/sessions/{session_id}/documents", "Upload a document to a session", web::post().to(upload));
    t.add("GET", "/sessions/{session_id}/risk", "View risk assessment", web::get().to(risk));
    t.add(
        "POST",
        "/sessions/{session_id}/external-decision",
        "Submit external gate decision",
        web::post().to(external_decision),
    );
    t.add("DELETE", "/sessions/{session_id}/data", "Redact session data", web::delete().to(redact));
    t.add("GET", "/sessions/{session_id}/export", "Export session data (DSAR)", web::get().to(export));
    t.add("GET", "/results", "List results", web::get().to(results));
    t.add("GET", "/results/{session_id}", "Get a result", web::get().to(result_nested));
    t.add("GET", "/identities/{identity_id}/sessions", "List identity sessions", web::get().to(identity_sessions));
}

fn base_url(state: &AppState) -> String {
    state.config.public_url.clone().unwrap_or_default()
}

/// A comma-separated list of vocabulary values (`status=pending,capturing`): a typo is a 422 naming the
/// parameter, not an empty page.
fn csv_of<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let Some(text) = Option::<String>::deserialize(d)? else { return Ok(None) };
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let v = serde_json::from_value(Value::String(part.to_string()))
            .map_err(|_| serde::de::Error::custom(format!("unknown value '{part}'")))?;
        out.push(v);
    }
    Ok((!out.is_empty()).then_some(out))
}

/// An integer as JSON Schema counts one: `20` and `20.0` alike (the fraction must be zero).
fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        _ => Err(serde::de::Error::custom("must be a whole number")),
    }
}

/// An RFC 3339 timestamp, normalised to the stored form.
fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else { return Ok(None) };
    crate::clock::parse(&text)
        .map(|t| Some(crate::clock::format(t)))
        .ok_or_else(|| serde::de::Error::custom("must be an ISO 8601 timestamp"))
}

/// Filters of `GET /sessions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SessionListQuery {
    /// Only sessions in this status (several may be given, comma-separated).
    #[serde(default, deserialize_with = "csv_of")]
    #[param(value_type = Option<SessionStatus>)]
    status: Option<Vec<SessionStatus>>,
    /// A session id or external reference.
    q: Option<String>,
    /// Only sessions with this external reference.
    external_ref: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/sessions", tag = "Sessions", operation_id = "list_sessions",
    params(SessionListQuery, PageQuery),
    responses((status = 200, description = "A page of sessions, newest first", body = OffsetPage<SessionView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn list(
    state: web::Data<AppState>,
    p: Principal,
    query: ApiQuery<SessionListQuery>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require("sessions:read", &[])?;
    let query = query.0;
    let f = SessionFilter { status: query.status, q: query.q, external_ref: query.external_ref, identity_id: None };
    let (keyring, env) = (state.keyring.clone(), p.env());
    let page = page.0.page(50)?;
    let base = base_url(&state);
    Ok(Reply::ok(state.read(move |c| q::list(c, &keyring, &env, &f, page, &base)).await?))
}

crate::personal_data_struct!(
    /// A new verification session. The personal-data fields prefill the capture form, with the same limits as
    /// an identity's.
    pub struct CreateSessionBody {
        /// Your own reference for the session; a decided session upserts the identity with this reference.
        pub external_ref: Option<ExternalRef>,
        /// Your own key/value data, returned as given.
        #[schema(value_type = Option<Object>)]
        pub metadata: Option<Map<String, Value>>,
        /// The country the session is for (ISO 3166-1 alpha-2).
        pub country: Option<CountryCode>,
        /// The checks to run instead of the workflow's.
        pub checks: Option<Vec<SessionCheck>>,
        /// An active workflow of this environment; the default workflow when absent.
        pub workflow_id: Option<WorkflowId>,
        /// Where the capture page sends the person when done.
        pub redirect_url: Option<RedirectUrl>,
        /// Record an invitation (delivered through the `session.invite` webhook).
        pub send_email: Option<bool>,
    }
);

/// A created session with its capture URL.
#[derive(Debug, Serialize, ToSchema)]
struct CreatedSession {
    id: SessionId,
    status: SessionStatus,
    /// The hosted capture page; the token in it is the person's only credential.
    capture_url: String,
    /// The capture URL as a QR code (PNG data URL).
    qr_code_data_url: Option<String>,
    is_sandbox: bool,
    created_at: String,
    /// When the capture token expires.
    expires_at: Option<String>,
    external_ref: Option<String>,
    #[schema(value_type = Object)]
    metadata: Map<String, Value>,
    country: Option<String>,
    checks: Option<Vec<String>>,
    tags: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/sessions", tag = "Sessions", operation_id = "create_session",
    request_body = CreateSessionBody,
    responses(
        (status = 404, description = "The `workflow_id` names no workflow of this environment.", body = ErrorBody),
        (status = 409, description = "The `workflow_id` names a workflow that is not active.", body = ErrorBody),
        (status = 201, description = "The new session", body = CreatedSession,
        example = json!({"id": "ses_01J9ZQ4X8Y2K3M4N5P6Q7R8S9T", "status": "pending",
            "capture_url": "https://idv.example.com/verify/tok_abc", "qr_code_data_url": "data:image/png;base64,iVBOR",
            "is_sandbox": true, "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-01T00:20:00Z",
            "external_ref": "user_12345", "metadata": {}, "country": "US", "checks": null, "tags": []}))))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn create(state: web::Data<AppState>, p: Principal, body: ApiBody<CreateSessionBody>) -> ApiResult {
    p.require("sessions:create", &["sessions:write"])?;
    let now = state.now();
    let b = body.0;
    let input = CreateSession {
        prefill: b.personal_data().into_map(),
        external_ref: b.external_ref,
        metadata: b.metadata.unwrap_or_default(),
        country: b.country,
        checks: b.checks,
        workflow_id: b.workflow_id,
        redirect_url: b.redirect_url,
        send_email: b.send_email.unwrap_or(false),
    };
    let new = cmd::create(&state.writer, state.keyring.clone(), p.meta(now), input).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let base = base_url(&state);
    let session = state.read(move |c| q::get(c, &keyring, &env, &new.id, &base)).await?;
    let capture_url = format!("{}/verify/{}", base_url(&state), new.token);
    Ok(Reply::created(CreatedSession {
        id: session.id,
        status: session.status,
        qr_code_data_url: crate::qr::png_data_url(&capture_url),
        capture_url,
        is_sandbox: session.is_sandbox,
        created_at: session.created_at,
        expires_at: session.token_expires_at,
        external_ref: session.external_ref,
        metadata: session.metadata,
        country: session.country,
        checks: session.checks,
        tags: session.tags,
    }))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}", tag = "Sessions", operation_id = "get_session",
    params(("session_id" = SessionId, Path, description = "The session"),
        ("Prefer" = Option<String>, Header, description = "`wait=N` (RFC 7240): when the session is `processing`, \
            answer as soon as it leaves processing, or after N seconds (at most 60) with it still processing. \
            The answer then carries `Preference-Applied: wait=N`.")),
    responses((status = 200, description = "The session", body = SessionView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn get(state: web::Data<AppState>, p: Principal, req: HttpRequest, path: ApiPath<SessionId>) -> ApiResult {
    p.require("sessions:read", &[])?;
    let waited = wait_while_processing(&state, &p, &req, &path).await?;
    let (keyring, env, base) = (state.keyring.clone(), p.env(), base_url(&state));
    waited.reply(state.read(move |c| q::get(c, &keyring, &env, path.as_str(), &base)).await?)
}

/// What a `Prefer: wait=N` did: the header the answer carries, if one was asked for.
struct Waited(Option<Duration>);

impl Waited {
    fn reply(self, body: impl Serialize) -> ApiResult {
        Ok(match self.0 {
            Some(wait) => Reply::ok(body).with_header("Preference-Applied", format!("wait={}", wait.as_secs())),
            None => Reply::ok(body),
        })
    }
}

/// With `Prefer: wait=N`: while the session is `processing`, waits for each commit of its stream until it
/// leaves processing or N seconds have passed (a session in any other status returns at once). Without the
/// preference it returns at once, reading nothing.
async fn wait_while_processing(
    state: &AppState,
    p: &Principal,
    req: &HttpRequest,
    id: &SessionId,
) -> AppResult<Waited> {
    let Some(wait) = super::prefer::wait(req, Duration::from_secs(crate::stream_watch::MAX_WAIT_SECS)) else {
        return Ok(Waited(None));
    };
    let deadline = tokio::time::Instant::now() + wait;
    let watching = state.stream_watch.watch(id.as_str());
    loop {
        // Enabled before the read, so a commit landing between the read and the wait still wakes it.
        let next_commit = watching.next_commit();
        let (env, id) = (p.env(), id.clone());
        let status = state.read(move |c| q::status(c, &env, id.as_str())).await?;
        if status != SessionStatus::Processing || tokio::time::Instant::now() >= deadline {
            return Ok(Waited(Some(wait)));
        }
        let _ = tokio::time::timeout_at(deadline, next_commit).await;
    }
}

/// Changes to a session; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SessionUpdateBody {
    /// A new external reference, or null to clear it.
    #[serde(default, deserialize_with = "crate::domain::values::nullable")]
    #[schema(value_type = Option<ExternalRef>)]
    external_ref: Option<Option<ExternalRef>>,
    /// Keys merged into the metadata; a null value removes its key.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Map<String, Value>>,
}

#[utoipa::path(patch, path = "/api/v1/sessions/{session_id}", tag = "Sessions", operation_id = "update_session",
    params(("session_id" = SessionId, Path, description = "The session")),
    request_body = SessionUpdateBody,
    responses((status = 200, description = "The updated session", body = SessionView),
        (status = 409, description = "The session's data is redacted.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn update(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    body: ApiBody<SessionUpdateBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let b = body.0;
    let id = cmd::update(&state.writer, p.meta(state.now()), path.into_inner(), b.external_ref, b.metadata).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let base = base_url(&state);
    Ok(Reply::ok(state.read(move |c| q::get(c, &keyring, &env, &id, &base)).await?))
}

/// A new capture token for a session.
#[derive(Debug, Serialize, ToSchema)]
struct ResumedSession {
    id: SessionId,
    status: SessionStatus,
    capture_url: String,
    expires_at: Option<String>,
    qr_code_data_url: Option<String>,
}

/// A one-time capture link.
#[derive(Debug, Serialize, ToSchema)]
struct CaptureLink {
    id: CaptureLinkId,
    session_id: SessionId,
    /// `active` until the link is used or expires.
    #[schema(example = "active")]
    status: String,
    capture_url: String,
    expires_at: Option<String>,
    qr_code_data_url: Option<String>,
    created_at: String,
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/resume", tag = "Sessions", operation_id = "resume_session",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 200, description = "A new capture token", body = ResumedSession),
        (status = 409, description = "The session cannot be resumed in its status, or its data is redacted.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn resume(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let id = path.into_inner();
    let (token, _) =
        cmd::issue_token(&state.writer, state.keyring.clone(), p.meta(state.now()), id.clone(), None).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let base = base_url(&state);
    let session = state.read(move |c| q::get(c, &keyring, &env, id.as_str(), &base)).await?;
    let capture_url = format!("{}/verify/{token}", base_url(&state));
    Ok(Reply::ok(ResumedSession {
        id: session.id,
        status: session.status,
        qr_code_data_url: crate::qr::png_data_url(&capture_url),
        capture_url,
        expires_at: session.token_expires_at,
    }))
}

/// How long a one-time link lives.
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    /// Minutes until the link expires (default 20).
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 10080)]
    expires_in_minutes: Option<i64>,
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/generate-one-time-link", tag = "Sessions",
    operation_id = "generate_one_time_link",
    params(("session_id" = SessionId, Path, description = "The session")),
    request_body = LinkBody,
    responses((status = 200, description = "The new link", body = CaptureLink),
        (status = 409, description = "The session cannot get a link in its status, or its data is redacted.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn one_time_link(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    body: ApiBody<LinkBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let id = path.into_inner();
    let (token, link) = cmd::issue_token(
        &state.writer,
        state.keyring.clone(),
        p.meta(state.now()),
        id.clone(),
        Some(body.0.expires_in_minutes),
    )
    .await?;
    let link = link.ok_or_else(|| AppError::Internal("a one-time link was issued without an id".into()))?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let base = base_url(&state);
    let session = state.read(move |c| q::get(c, &keyring, &env, id.as_str(), &base)).await?;
    let capture_url = format!("{}/verify/{token}", base_url(&state));
    Ok(Reply::ok(CaptureLink {
        id: CaptureLinkId::from_stored(link),
        session_id: session.id,
        status: "active".into(),
        qr_code_data_url: crate::qr::png_data_url(&capture_url),
        capture_url,
        expires_at: session.token_expires_at,
        created_at: session.updated_at,
    }))
}

/// A manually expired session.
#[derive(Debug, Serialize, ToSchema)]
struct ExpiredSession {
    id: SessionId,
    status: SessionStatus,
    expired_at: String,
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/expire", tag = "Sessions", operation_id = "expire_session",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 200, description = "The session is expired", body = ExpiredSession),
        (status = 409, description = "The session cannot expire in its status, or its data is redacted.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn expire(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let id = cmd::expire(&state.writer, p.meta(state.now()), path.into_inner(), "manual").await?;
    Ok(Reply::ok(ExpiredSession {
        id: SessionId::from_stored(id),
        status: SessionStatus::Expired,
        expired_at: state.now(),
    }))
}

/// A sandbox simulation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SimulateBody {
    action: SimulateAction,
}

/// The session after a simulation.
#[derive(Debug, Serialize, ToSchema)]
struct SimulatedSession {
    id: SessionId,
    action: SimulateAction,
    status: SessionStatus,
    simulated: bool,
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/simulate", tag = "Sessions", operation_id = "simulate_session",
    params(("session_id" = SessionId, Path, description = "The session")),
    request_body = SimulateBody,
    responses((status = 200, description = "The simulated outcome", body = SimulatedSession),
        (status = 403, description = "The key lacks the scope, or is not a sandbox key (simulation is for sandbox keys only).", body = ErrorBody),
        (status = 409, description = "The session's status does not allow this action, or its data is redacted.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn simulate(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    body: ApiBody<SimulateBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    if p.environment() != "sandbox" {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: "Simulation is available with sandbox keys only.".into(),
        });
    }
    let action = body.0.action;
    let at = SessionRef::Id { environment: p.environment().to_string(), id: path.into_inner() };
    let (id, status, _) = state.processing.simulate(p.meta(state.now()), at, action).await?;
    Ok(Reply::ok(SimulatedSession {
        id: SessionId::from_stored(id),
        action,
        status: SessionStatus::from_stored(&status)?,
        simulated: true,
    }))
}

/// A submitted session.
#[derive(Debug, Serialize, ToSchema)]
struct SubmittedSession {
    id: SessionId,
    session_id: SessionId,
    /// `processing` (live) or `sandbox_pending` (sandbox).
    status: SessionStatus,
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/submit", tag = "Sessions", operation_id = "submit_session",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 202, description = "Accepted for processing", body = SubmittedSession),
        (status = 409, description = "The session cannot be submitted in its status, its data is redacted, or required capture steps are missing (`detail` names them).", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn submit(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let meta = p.meta(state.now());
    let at = SessionRef::Id { environment: p.environment().to_string(), id: path.into_inner() };
    let (id, status) = cmd::submit(&state.writer, meta.clone(), at).await?;
    if status == "processing" {
        state.processing.spawn(meta, id.clone());
    }
    let id = SessionId::from_stored(id);
    Ok(Reply::with_status(
        StatusCode::ACCEPTED,
        SubmittedSession { id: id.clone(), session_id: id, status: SessionStatus::from_stored(&status)? },
    ))
}

/// A session sent back to processing.
#[derive(Debug, Serialize, ToSchema)]
struct ReprocessingSession {
    session_id: SessionId,
    status: SessionStatus,
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/reprocess", tag = "Sessions", operation_id = "reprocess_session",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 202, description = "Processing again", body = ReprocessingSession),
        (status = 409, description = "Only a completed or failed session can be reprocessed, and not once redacted.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn reprocess(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let meta = p.meta(state.now());
    let id = cmd::reprocess(&state.writer, meta.clone(), path.into_inner()).await?;
    state.processing.spawn(meta, id.clone());
    Ok(Reply::with_status(
        StatusCode::ACCEPTED,
        ReprocessingSession { session_id: SessionId::from_stored(id), status: SessionStatus::Processing },
    ))
}

/// A recorded invitation.
#[derive(Debug, Serialize, ToSchema)]
struct InviteResent {
    id: SessionId,
    invites_sent: i64,
    remaining: i64,
    #[schema(example = "recorded")]
    delivery: String,
    message: String,
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/resend-invite", tag = "Sessions",
    operation_id = "resend_session_invite",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 200, description = "The invitation was recorded", body = InviteResent),
        (status = 409, description = "The session was not created with `send_email: true`, is not pending or capturing, is redacted, or has had its 5 resends.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn resend_invite(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("sessions:write", &[])?;
    let id = path.into_inner();
    let sent = cmd::resend_invite(&state.writer, p.meta(state.now()), id.clone()).await?;
    Ok(Reply::ok(InviteResent {
        id,
        invites_sent: sent,
        remaining: (cmd::MAX_INVITES + 1 - sent).max(0),
        delivery: "recorded".into(),
        message: "The invitation was recorded; idv sends no email itself, deliver it through the session.invite webhook or your mailer.".into(),
    }))
}

/// One tag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SessionTagBody {
    tag: Tag,
}

/// The whole tag list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SessionTagsBody {
    /// At most 50; duplicates are dropped.
    #[schema(max_items = 50)]
    tags: Vec<Tag>,
}

/// A session's tags.
#[derive(Debug, Serialize, ToSchema)]
struct SessionTags {
    id: SessionId,
    tags: Vec<String>,
}

async fn tags_reply(state: &AppState, p: &Principal, id: &str) -> ApiResult {
    let (keyring, env) = (state.keyring.clone(), p.env());
    let id = id.to_string();
    let s = state.read(move |c| q::get(c, &keyring, &env, &id, "")).await?;
    Ok(Reply::ok(SessionTags { id: s.id, tags: s.tags }))
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/tags/add", tag = "Sessions", operation_id = "add_session_tag",
    params(("session_id" = SessionId, Path, description = "The session")),
    request_body = SessionTagBody,
    responses((status = 200, description = "The session's tags", body = SessionTags)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn add_tag(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    body: ApiBody<SessionTagBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let id = cmd::set_tags(&state.writer, p.meta(state.now()), path.into_inner(), TagChange::Add(body.0.tag)).await?;
    tags_reply(&state, &p, &id).await
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/tags/remove", tag = "Sessions",
    operation_id = "remove_session_tag",
    params(("session_id" = SessionId, Path, description = "The session")),
    request_body = SessionTagBody,
    responses((status = 200, description = "The session's tags", body = SessionTags)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn remove_tag(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    body: ApiBody<SessionTagBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let change = TagChange::Remove(body.0.tag);
    let id = cmd::set_tags(&state.writer, p.meta(state.now()), path.into_inner(), change).await?;
    tags_reply(&state, &p, &id).await
}

#[utoipa::path(put, path = "/api/v1/sessions/{session_id}/tags", tag = "Sessions", operation_id = "set_session_tags",
    params(("session_id" = SessionId, Path, description = "The session")),
    request_body = SessionTagsBody,
    responses((status = 200, description = "The session's tags", body = SessionTags)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn set_tags(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    body: ApiBody<SessionTagsBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let tags = values::dedup_tags("tags", body.0.tags).map_err(|e| AppError::validation(&e.field, e.message))?;
    let id = cmd::set_tags(&state.writer, p.meta(state.now()), path.into_inner(), TagChange::Set(tags)).await?;
    tags_reply(&state, &p, &id).await
}

/// `POST /sessions/{id}/tags`: the same as PUT.
#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/tags", tag = "Sessions",
    operation_id = "set_session_tags_post",
    params(("session_id" = SessionId, Path, description = "The session")),
    request_body = SessionTagsBody,
    responses((status = 200, description = "The session's tags", body = SessionTags)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn set_tags_post(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    body: ApiBody<SessionTagsBody>,
) -> ApiResult {
    set_tags(state, p, path, body).await
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/result", tag = "Results", operation_id = "get_session_result",
    params(("session_id" = SessionId, Path, description = "The session"),
        ("Prefer" = Option<String>, Header, description = "`wait=N` (RFC 7240): when the session is `processing`, \
            answer as soon as it leaves processing (with its result), or after N seconds (at most 60) with the 404 \
            of a session not yet decided. The answer then carries `Preference-Applied: wait=N`.")),
    responses((status = 200, description = "The session's result", body = ResultView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn result(state: web::Data<AppState>, p: Principal, req: HttpRequest, path: ApiPath<SessionId>) -> ApiResult {
    p.require("verifications:read", &["sessions:read"])?;
    let waited = wait_while_processing(&state, &p, &req, &path).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    waited.reply(state.read(move |c| q::result(c, &keyring, &env, path.as_str())).await?)
}

#[utoipa::path(get, path = "/api/v1/results/{session_id}", tag = "Results", operation_id = "get_result",
    params(("session_id" = SessionId, Path, description = "The session"),
        ("Prefer" = Option<String>, Header, description = "`wait=N` (RFC 7240), as on `GET /sessions/{session_id}/result`.")),
    responses((status = 200, description = "The session's result", body = NestedResultView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn result_nested(
    state: web::Data<AppState>,
    p: Principal,
    req: HttpRequest,
    path: ApiPath<SessionId>,
) -> ApiResult {
    p.require("verifications:read", &[])?;
    let waited = wait_while_processing(&state, &p, &req, &path).await?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    waited.reply(state.read(move |c| q::result_nested(c, &keyring, &env, path.as_str())).await?)
}

/// Filters of `GET /results`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ResultListQuery {
    /// Only results with this status (several may be given, comma-separated; `rejected` and `declined` find
    /// each other).
    #[serde(default, deserialize_with = "csv_of")]
    #[param(value_type = Option<ResultStatus>)]
    status: Option<Vec<ResultStatus>>,
    /// Decided at or after this time.
    #[serde(default, deserialize_with = "timestamp")]
    #[param(value_type = Option<String>, format = DateTime)]
    created_after: Option<String>,
    /// Decided before this time.
    #[serde(default, deserialize_with = "timestamp")]
    #[param(value_type = Option<String>, format = DateTime)]
    created_before: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/results", tag = "Results", operation_id = "list_results",
    params(ResultListQuery, PageQuery),
    responses((status = 200, description = "A page of results, newest decision first", body = OffsetPage<ResultListItem>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn results(
    state: web::Data<AppState>,
    p: Principal,
    query: ApiQuery<ResultListQuery>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require("verifications:read", &[])?;
    let query = query.0;
    let f =
        ResultFilter { status: query.status, created_after: query.created_after, created_before: query.created_before };
    let env = p.env();
    let page = page.0.page(50)?;
    Ok(Reply::ok(state.read(move |c| q::results(c, &env, &f, page)).await?))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/documents", tag = "Sessions",
    operation_id = "list_session_documents",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 200, description = "The documents with signed download URLs", body = DocumentList),
        (status = 410, description = "The documents are past their retention window or redacted.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn documents(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("verifications:read", &["sessions:read"])?;
    let now = state.clock.now().unix_timestamp();
    let (keyring, env) = (state.keyring.clone(), p.env());
    let base = base_url(&state);
    Ok(Reply::ok(state.read(move |c| q::documents(c, &keyring, &env, path.as_str(), &base, now)).await?))
}

/// A document upload (multipart/form-data); no other fields.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct UploadForm {
    document_type: UploadType,
    /// A JPEG, PNG, WebP or PDF file, at most 10 MB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// An uploaded document.
#[derive(Debug, Serialize, ToSchema)]
struct UploadedDocument {
    /// The document (also under `/documents`); a re-upload to the same type keeps it.
    id: crate::domain::ids::DocumentId,
    session_id: SessionId,
    document_type: UploadType,
    #[schema(example = "image/jpeg")]
    mime_type: String,
    file_size_bytes: i64,
    created_at: String,
}

/// Refuses form fields other than `allowed` (and the file), naming each, as unknown JSON fields are.
pub(crate) fn only_fields(
    fields: &std::collections::HashMap<String, String>,
    allowed: &[&str],
) -> Result<(), AppError> {
    let mut unknown: Vec<&String> = fields.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort();
    let errors: Vec<crate::error::FieldError> =
        unknown.iter().map(|k| crate::error::FieldError::new(k.as_str(), "is not a known field")).collect();
    Err(AppError::fields(errors))
}

/// The `document_type` field of an upload form.
pub(crate) fn upload_type(fields: &std::collections::HashMap<String, String>) -> Result<UploadType, AppError> {
    let text = fields.get("document_type").ok_or_else(|| AppError::validation("document_type", "is required"))?;
    UploadType::parse(text).ok_or_else(|| {
        let all: Vec<&str> = UploadType::ALL.iter().map(|t| t.as_str()).collect();
        AppError::validation("document_type", format!("must be one of {}", all.join(", ")))
    })
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/documents", tag = "Sessions",
    operation_id = "upload_session_document",
    params(("session_id" = SessionId, Path, description = "The session")),
    request_body(content = UploadForm, content_type = "multipart/form-data",
        encoding(("file" = (content_type = "image/jpeg, image/png, image/webp, application/pdf")))),
    responses((status = 201, description = "The stored document", body = UploadedDocument),
        (status = 409, description = "The session cannot take uploads in its status, or its data is redacted.", body = ErrorBody),
        (status = 422, description = "A field is missing or unknown, or the file is not a readable JPEG, PNG, WebP or PDF (`errors` names it).", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn upload(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>, upload: Upload) -> ApiResult {
    p.require("documents:write", &["sessions:write"])?;
    only_fields(&upload.fields, &["document_type"])?;
    let doc_type = upload_type(&upload.fields)?;
    let bytes = upload.file.ok_or_else(|| AppError::validation("file", "is required"))?;
    let at = SessionRef::Id { environment: p.environment().to_string(), id: path.into_inner() };
    let step = super::capture::prepare(&state, &at, doc_type.as_str(), bytes).await?;
    let (mime, size) = step.uploaded_file().unwrap_or_default();
    let id = cmd::capture(&state.writer, p.meta(state.now()), at, step).await?;
    let (session, slot) = (id.clone(), doc_type.as_str().to_string());
    let document = state.read(move |c| crate::queries::documents::session_slot(c, &session, &slot)).await?;
    Ok(Reply::created(UploadedDocument {
        id: document.ok_or_else(|| AppError::Internal("the uploaded document has no row".into()))?,
        session_id: SessionId::from_stored(id),
        document_type: doc_type,
        mime_type: mime,
        file_size_bytes: size,
        created_at: state.now(),
    }))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/risk", tag = "Sessions", operation_id = "get_session_risk",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 200, description = "The risk assessment", body = RiskView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn risk(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("verifications:read", &["sessions:read"])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::risk(c, &env, path.as_str())).await?))
}

/// The decision at an external gate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: ExternalDecision,
}

/// An applied external decision.
#[derive(Debug, Serialize, ToSchema)]
struct DecisionApplied {
    session_id: SessionId,
    decision: ExternalDecision,
    status: SessionStatus,
    message: String,
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/external-decision", tag = "Sessions",
    operation_id = "submit_external_decision",
    params(("session_id" = SessionId, Path, description = "The session")),
    request_body = DecisionBody,
    responses((status = 202, description = "The decision was applied", body = DecisionApplied),
        (status = 409, description = "The session is not awaiting an external decision.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn external_decision(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    body: ApiBody<DecisionBody>,
) -> ApiResult {
    p.require("sessions:write", &[])?;
    let decision = body.0.decision;
    let id = path.into_inner();
    let status = state.processing.external_decision(p.meta(state.now()), id.clone(), decision).await?;
    Ok(Reply::with_status(
        StatusCode::ACCEPTED,
        DecisionApplied {
            session_id: id,
            decision,
            status: SessionStatus::from_stored(&status)?,
            message: "The decision was applied.".into(),
        },
    ))
}

/// A redacted session.
#[derive(Debug, Serialize, ToSchema)]
struct RedactedSession {
    status: RedactionStatus,
    session_id: SessionId,
    documents_removed: i64,
    message: String,
}

fn redaction_status(removed: Option<i64>) -> RedactionStatus {
    if removed.is_some() {
        RedactionStatus::Deleted
    } else {
        RedactionStatus::AlreadyRedacted
    }
}

#[utoipa::path(delete, path = "/api/v1/sessions/{session_id}/data", tag = "Sessions", operation_id = "redact_session",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 200, description = "The session's data is erased", body = RedactedSession)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn redact(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("redact:write", &["sessions:write"])?;
    let out = cmd::redact(&state.writer, p.meta(state.now()), vec![path.into_inner()]).await?;
    let (id, removed) = out.into_iter().next().ok_or_else(|| AppError::not_found("Session"))?;
    Ok(Reply::ok(RedactedSession {
        status: redaction_status(removed),
        session_id: SessionId::from_stored(id),
        documents_removed: removed.unwrap_or(0),
        message: "Session data permanently redacted.".into(),
    }))
}

/// Sessions to redact.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BulkRedactBody {
    /// 1 to 100 sessions of this environment.
    #[schema(min_items = 1, max_items = 100)]
    session_ids: Vec<SessionId>,
}

/// One session of a bulk redaction.
#[derive(Debug, Serialize, ToSchema)]
struct BulkRedactionItem {
    session_id: SessionId,
    status: RedactionStatus,
    documents_removed: i64,
}

/// The outcome of a bulk redaction.
#[derive(Debug, Serialize, ToSchema)]
struct BulkRedaction {
    total: usize,
    results: Vec<BulkRedactionItem>,
}

#[utoipa::path(post, path = "/api/v1/sessions/bulk-redact", tag = "Sessions", operation_id = "bulk_redact_sessions",
    request_body = BulkRedactBody,
    responses((status = 200, description = "Each session's redaction", body = BulkRedaction),
        (status = 404, description = "A listed session does not exist in this environment; nothing is redacted.", body = ErrorBody)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn bulk_redact(state: web::Data<AppState>, p: Principal, body: ApiBody<BulkRedactBody>) -> ApiResult {
    p.require("redact:write", &["sessions:write"])?;
    let ids = body.0.session_ids;
    if ids.is_empty() || ids.len() > 100 {
        return Err(AppError::validation("session_ids", "must list 1 to 100 sessions"));
    }
    let out = cmd::redact(&state.writer, p.meta(state.now()), ids).await?;
    let results: Vec<BulkRedactionItem> = out
        .into_iter()
        .map(|(id, removed)| BulkRedactionItem {
            session_id: SessionId::from_stored(id),
            status: redaction_status(removed),
            documents_removed: removed.unwrap_or(0),
        })
        .collect();
    Ok(Reply::ok(BulkRedaction { total: results.len(), results }))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/export", tag = "Sessions", operation_id = "export_session",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 200, description = "Everything held about the session", body = SessionExport)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn export(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("sessions:read", &[])?;
    // The export itself is audited (api.session.export) before the data leaves.
    let id = cmd::record_export(&state.writer, p.meta(state.now()), path.into_inner()).await?;
    let now = state.clock.now().unix_timestamp();
    let (keyring, env) = (state.keyring.clone(), p.env());
    let base = base_url(&state);
    Ok(Reply::ok(state.read(move |c| q::export(c, &keyring, &env, &id, &base, now)).await?))
}

#[utoipa::path(get, path = "/api/v1/identities/{identity_id}/sessions", tag = "Sessions",
    operation_id = "list_identity_sessions",
    params(("identity_id" = IdentityRef, Path, description = "The identity id or external reference"), PageQuery),
    responses((status = 200, description = "The identity's sessions, newest first", body = OffsetPage<SessionView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn identity_sessions(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<IdentityRef>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require("identities:read", &["sessions:read"])?;
    let (keyring, env) = (state.keyring.clone(), p.env());
    let (page, base) = (page.0.page(50)?, base_url(&state));
    Ok(Reply::ok(state.read(move |c| q::identity_sessions(c, &keyring, &env, path.as_str(), page, &base)).await?))
}

/// The signature of a document URL: the credential of a download.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// Unix time the URL stops working.
    expires: i64,
    /// The URL's signature.
    #[param(min_length = 1)]
    sig: String,
}

/// A document's bytes as stored.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
struct DocumentBytes(Vec<u8>);

/// `GET /api/v1/sessions/{id}/documents/{doc_type}?expires=&sig=`: the signature is the credential.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/documents/{doc_type}", tag = "Sessions",
    operation_id = "download_session_document",
    params(("session_id" = SessionId, Path, description = "The session"),
        ("doc_type" = UploadType, Path, description = "The document"), DownloadQuery),
    responses((status = 200, description = "The document's bytes",
        content((DocumentBytes = "image/jpeg"), (DocumentBytes = "image/png"), (DocumentBytes = "image/webp"),
            (DocumentBytes = "application/pdf"))),
        (status = 410, description = "The document is past its retention window.", body = ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn download(
    state: web::Data<AppState>,
    path: ApiPath<(SessionId, UploadType)>,
    query: ApiQuery<DownloadQuery>,
) -> Result<HttpResponse, AppError> {
    let (id, doc_type) = path.into_inner();
    let query = query.0;
    let now = state.clock.now().unix_timestamp();
    let keyring = state.keyring.clone();
    let (mime, bytes) = state
        .read(move |c| q::document_bytes(c, &keyring, id.as_str(), doc_type.as_str(), query.expires, &query.sig, now))
        .await?;
    Ok(HttpResponse::Ok().content_type(mime).insert_header(("Cache-Control", "no-store")).body(bytes))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/events", tag = "Sessions", operation_id = "list_session_events",
    params(("session_id" = SessionId, Path, description = "The session"), PageQuery),
    responses((status = 200, description = "The session's audit trail, newest first", body = OffsetPage<SessionEventView>)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn session_events(
    state: web::Data<AppState>,
    p: Principal,
    path: ApiPath<SessionId>,
    page: ApiQuery<PageQuery>,
) -> ApiResult {
    p.require("sessions:read", &[])?;
    let env = p.env();
    let page = page.0.page(50)?;
    Ok(Reply::ok(state.read(move |c| q::events(c, &env, path.as_str(), page)).await?))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/workflow-run", tag = "Sessions",
    operation_id = "get_session_workflow_run",
    params(("session_id" = SessionId, Path, description = "The session")),
    responses((status = 200, description = "The session's workflow run", body = WorkflowRunView)))]
#[tracing::instrument(skip_all, fields(key_id = %p.key.id))]
async fn workflow_run(state: web::Data<AppState>, p: Principal, path: ApiPath<SessionId>) -> ApiResult {
    p.require("sessions:read", &["workflows:read"])?;
    let env = p.env();
    Ok(Reply::ok(state.read(move |c| q::workflow_run(c, &env, path.as_str())).await?))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list,
        create,
        get,
        update,
        resume,
        one_time_link,
        expire,
        simulate,
        submit,
        reprocess,
        resend_invite,
        add_tag,
        remove_tag,
        set_tags,
        set_tags_post,
        result,
        result_nested,
        results,
        documents,
        upload,
        risk,
        external_decision,
        redact,
        bulk_redact,
        export,
        identity_sessions,
        download,
        session_events,
        workflow_run
    ),
    components(schemas(
        DocumentBytes,
        SessionView,
        CreateSessionBody,
        CreatedSession,
        SessionUpdateBody,
        ResumedSession,
        CaptureLink,
        LinkBody,
        ExpiredSession,
        SimulateBody,
        SimulatedSession,
        SubmittedSession,
        ReprocessingSession,
        InviteResent,
        SessionTagBody,
        SessionTagsBody,
        SessionTags,
        ResultView,
        ResultDetail,
        NestedResultView,
        ResultListItem,
        DocumentList,
        DocumentView,
        UploadForm,
        UploadedDocument,
        RiskView,
        RiskSignal,
        DecisionBody,
        DecisionApplied,
        RedactedSession,
        BulkRedactBody,
        BulkRedactionItem,
        BulkRedaction,
        SessionExport,
        ExportDocument,
        SessionEventView,
        WorkflowRunView,
        CaptureState,
        OffsetPagination,
        SessionStatus,
        ResultStatus,
        UploadType,
        SimulateAction,
        ExternalDecision,
        RedactionStatus,
        SessionCheck
    ))
)]
struct Api;

pub fn api() -> utoipa::openapi::OpenApi {
    <Api as utoipa::OpenApi>::openapi()
}
