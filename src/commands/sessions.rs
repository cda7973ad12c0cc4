//! Session commands: create, update, tokens and one-time links, the capture steps (consent, document
//! type, uploads, person data, fraud signals), submit/complete, processing through the offline check
//! pipeline, sandbox outcomes, expiry, resume, reprocess, tags, invites and redaction. Seals everything
//! personal under the session's data key, and on a decision upserts the identity (re-sealed under the
//! identity's key). Must not render responses.

use super::identities::{
    data_key, emit_identity, load_state as load_identity, load_surviving, seal_fields, sealed_blind_set,
};
use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::checks::engine::{self, DuplicateHit, Evidence, FaceMatch};
use crate::crypto::{blind, DataKey, Keyring};
use crate::domain::identity::{self as idom, IdentityCommand};
use crate::domain::ids::{self, SessionId, WorkflowId};
use crate::domain::session::{
    self as dom, Action, Created, DocumentUploaded, Outcome, SessionCheck, StatusChanged, TokenIssued,
};
use crate::domain::values::{CountryCode, ExternalRef, RedirectUrl, Tag};
use crate::domain::workflow::{Graph, Stop};
use crate::error::{AppError, AppResult, FieldError};
use crate::screening_service::Snapshot;
use crate::store::events::NewEvent;
use crate::store::Reads;
use base64::Engine;
use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub use crate::store::subject_keys::open_map;
pub const TOKEN_TTL_MINUTES: i64 = 20;
pub const MAX_INVITES: i64 = 5;

/// The decision-relevant state of one session, loaded from its view row.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub id: String,
    pub environment: String,
    pub version: i64,
    pub status: String,
    pub retention_status: String,
    pub external_ref: Option<String>,
    pub metadata: Map<String, Value>,
    pub document_type: Option<String>,
    pub uploaded: Vec<String>,
    pub consented: bool,
    pub checks: Option<Vec<String>>,
    pub send_email: bool,
    pub invites_sent: i64,
    pub identity_id: Option<String>,
    pub tags: Vec<String>,
    pub token_expires_at: Option<String>,
    pub country: Option<String>,
}

impl SessionState {
    pub fn redacted(&self) -> bool {
        self.retention_status == "redacted"
    }
    pub fn sandbox(&self) -> bool {
        self.environment == "sandbox"
    }
}

pub fn load_state<C: Reads + ?Sized>(conn: &C, environment: Option<&str>, id: &str) -> AppResult<Option<SessionState>> {
    let row = conn
        .prepare_cached(
            "SELECT id, environment, stream_seq, status, retention_status, external_ref, metadata, document_type,
                    consent_at IS NOT NULL, checks, send_email, invites_sent, identity_id, token_expires_at, country
             FROM sessions WHERE id = ?1 AND (?2 IS NULL OR environment = ?2)",
        )?
        .query_row(params![id, environment], |r| {
            let metadata: String = r.get(6)?;
            let checks: Option<String> = r.get(9)?;
            Ok(SessionState {
                id: r.get(0)?,
                environment: r.get(1)?,
                version: r.get(2)?,
                status: r.get(3)?,
                retention_status: r.get(4)?,
                external_ref: r.get(5)?,
                metadata: serde_json::from_str(&metadata).unwrap_or_default(),
                document_type: r.get(7)?,
                consented: r.get(8)?,
                checks: checks.and_then(|c| serde_json::from_str(&c).ok()),
                send_email: r.get(10)?,
                invites_sent: r.get(11)?,
                identity_id: r.get(12)?,
                token_expires_at: r.get(13)?,
                country: r.get(14)?,
                uploaded: Vec::new(),
                tags: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut s) = row else { return Ok(None) };
    let mut stmt =
        conn.prepare_cached("SELECT doc_type FROM session_documents WHERE session_id = ?1 ORDER BY doc_type")?;
    s.uploaded = stmt.query_map([&s.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare_cached("SELECT tag FROM session_tags WHERE session_id = ?1 ORDER BY position")?;
    s.tags = stmt.query_map([&s.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(Some(s))
}

fn require(conn: &Connection, environment: &str, id: &str) -> AppResult<SessionState> {
    load_state(conn, Some(environment), id)?.ok_or_else(|| AppError::not_found("Session"))
}

fn emit(w: &mut WriteCtx<'_>, meta: &CommandMeta, s: &SessionState, events: Vec<NewEvent>) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut m = meta.event_meta();
    m.environment = s.environment.clone();
    w.emit(&m, &s.id, s.version, events)?;
    Ok(())
}

fn status_event(from: &str, to: &str, reason: &str) -> NewEvent {
    let changed = StatusChanged { from: from.into(), to: to.into(), reason: reason.into() };
    NewEvent::new("SessionStatusChanged", serde_json::to_value(changed).unwrap_or_default())
}

pub fn new_token() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    let body: String = (0..40).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("tok_{body}")
}

fn add_minutes(now: &str, minutes: i64) -> String {
    crate::clock::parse(now)
        .map(|t| crate::clock::format(t + time::Duration::minutes(minutes)))
        .unwrap_or_else(|| now.to_string())
}

fn session_key(w: &WriteCtx<'_>, id: &str) -> AppResult<DataKey> {
    data_key(w.conn, w.keyring, id)?.ok_or_else(|| AppError::Conflict("This session's data has been erased.".into()))
}

fn seal_map(key: &DataKey, id: &str, field: &str, map: &BTreeMap<String, String>) -> AppResult<String> {
    Ok(B64.encode(key.seal(id, field, &serde_json::to_string(map)?)))
}

#[derive(Debug, Clone, Default)]
pub struct CreateSession {
    pub external_ref: Option<ExternalRef>,
    pub metadata: Map<String, Value>,
    pub country: Option<CountryCode>,
    pub checks: Option<Vec<SessionCheck>>,
    pub workflow_id: Option<WorkflowId>,
    pub redirect_url: Option<RedirectUrl>,
    pub send_email: bool,
    pub prefill: BTreeMap<String, String>,
}

pub struct NewSession {
    pub id: String,
    pub token: String,
}

pub async fn create(
    writer: &Writer,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    input: CreateSession,
) -> AppResult<NewSession> {
    let id = ids::new_id(ids::SESSION);
    let token = new_token();
    let token_hash = keyring.capture_token_digest(&token);
    let (key, wrapped) = keyring.new_data_key(&id);
    let prefill = if input.prefill.is_empty() { None } else { Some(seal_map(&key, &id, "prefill", &input.prefill)?) };
    let token_sealed = Some(B64.encode(key.seal(&id, "capture_token", &token)));
    drop(key);
    let out = NewSession { id: id.clone(), token };
    writer
        .execute(move |w| {
            if let Some(wf) = input.workflow_id.as_ref().map(WorkflowId::as_str) {
                let active: Option<bool> = w
                    .conn
                    .query_row(
                        "SELECT is_active FROM workflows WHERE id = ?1 AND environment = ?2",
                        params![wf, meta.environment],
                        |r| r.get(0),
                    )
                    .optional()?;
                match active {
                    None => return Err(AppError::not_found("Workflow")),
                    Some(false) => return Err(AppError::Conflict("The workflow is not active.".into())),
                    Some(true) => {}
                }
            }
            w.conn
                .prepare_cached("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)")?
                .execute(params![id, wrapped])?;
            let created = Created {
                external_ref: input.external_ref.map(ExternalRef::into_string),
                metadata: input.metadata,
                country: input.country.map(CountryCode::into_string),
                checks: input.checks.map(|c| c.iter().map(|x| x.as_str().to_string()).collect()),
                workflow_id: input.workflow_id.map(WorkflowId::into_string),
                workflow_version: None,
                redirect_url: input.redirect_url.map(RedirectUrl::into_string),
                send_email: input.send_email,
                token_hash,
                token_sealed,
                token_expires_at: add_minutes(&meta.now, TOKEN_TTL_MINUTES),
                prefill,
            };
            w.emit(&meta.event_meta(), &id, 0, vec![NewEvent::new("SessionCreated", serde_json::to_value(&created)?)])?;
            Ok(out)
        })
        .await
}

pub async fn update(
    writer: &Writer,
    meta: CommandMeta,
    id: SessionId,
    external_ref: Option<Option<ExternalRef>>,
    metadata: Option<Map<String, Value>>,
) -> AppResult<String> {
    writer
        .execute(move |w| {
            let s = require(w.conn, &meta.environment, id.as_str())?;
            if s.redacted() {
                return Err(AppError::Conflict("A redacted session cannot be updated.".into()));
            }
            let mut payload = Map::new();
            let mut changed = Vec::new();
            if let Some(r) = external_ref {
                payload.insert("external_ref".into(), r.map(|r| Value::String(r.into_string())).unwrap_or(Value::Null));
                changed.push("external_ref");
            }
            if let Some(patch) = metadata {
                let mut merged = s.metadata.clone();
                for (k, v) in patch {
                    if v.is_null() {
                        merged.remove(&k);
                    } else {
                        merged.insert(k, v);
                    }
                }
                payload.insert("metadata".into(), Value::Object(merged));
                changed.push("metadata");
            }
            if changed.is_empty() {
                return Ok(s.id);
            }
            payload.insert("changed".into(), json!(changed));
            emit(w, &meta, &s, vec![NewEvent::new("SessionUpdated", Value::Object(payload))])?;
            Ok(s.id)
        })
        .await
}

/// Expire (manual): pending/capturing/sandbox_pending -> expired.
pub async fn expire(writer: &Writer, meta: CommandMeta, id: SessionId, reason: &'static str) -> AppResult<String> {
    writer
        .execute(move |w| {
            let s = require(w.conn, &meta.environment, id.as_str())?;
            let to = dom::transition(&s.status, s.redacted(), Action::Expire)?;
            emit(w, &meta, &s, vec![status_event(&s.status, to, reason)])?;
            Ok(s.id)
        })
        .await
}

/// New capture token (resume, or a one-time link). Returns the token.
pub async fn issue_token(
    writer: &Writer,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    id: SessionId,
    link_minutes: Option<Option<i64>>,
) -> AppResult<(String, Option<String>)> {
    let token = new_token();
    let token_hash = keyring.capture_token_digest(&token);
    writer
        .execute(move |w| {
            let s = require(w.conn, &meta.environment, id.as_str())?;
            let (action, reason) = match link_minutes {
                None => (Action::Resume, "resume"),
                Some(_) => (Action::GenerateLink, "one_time_link"),
            };
            let to = dom::transition(&s.status, s.redacted(), action)?;
            let minutes = link_minutes.flatten().unwrap_or(TOKEN_TTL_MINUTES);
            if !(1..=7 * 24 * 60).contains(&minutes) {
                return Err(AppError::validation("expires_in_minutes", "must be from 1 to 10080"));
            }
            let link_id = link_minutes.map(|_| ids::new_id(ids::CAPTURE_LINK));
            let key = session_key(w, &s.id)?;
            let issued = TokenIssued {
                token_hash,
                token_sealed: Some(B64.encode(key.seal(&s.id, "capture_token", &token))),
                expires_at: add_minutes(&meta.now, minutes),
                link_id: link_id.clone(),
                reason: if to == "pending" && s.status == "expired" { "resume".into() } else { reason.into() },
            };
            emit(w, &meta, &s, vec![NewEvent::new("SessionTokenIssued", serde_json::to_value(&issued)?)])?;
            Ok((token, link_id))
        })
        .await
}

pub async fn resend_invite(writer: &Writer, meta: CommandMeta, id: SessionId) -> AppResult<i64> {
    writer
        .execute(move |w| {
            let s = require(w.conn, &meta.environment, id.as_str())?;
            dom::transition(&s.status, s.redacted(), Action::ResendInvite)?;
            if !s.send_email {
                return Err(AppError::Conflict("This session was not created with send_email: true.".into()));
            }
            if s.invites_sent > MAX_INVITES {
                return Err(AppError::Conflict(format!(
                    "The invitation was already resent {MAX_INVITES} times, the most a session allows."
                )));
            }
            emit(w, &meta, &s, vec![NewEvent::new("SessionInviteSent", json!({ "count": s.invites_sent + 1 }))])?;
            Ok(s.invites_sent + 1)
        })
        .await
}

pub async fn set_tags(writer: &Writer, meta: CommandMeta, id: SessionId, change: TagChange) -> AppResult<String> {
    writer
        .execute(move |w| {
            let s = require(w.conn, &meta.environment, id.as_str())?;
            let mut tags = s.tags.clone();
            match change {
                TagChange::Add(t) => {
                    if !tags.iter().any(|x| x == t.as_str()) {
                        tags.push(t.into_string());
                    }
                }
                TagChange::Remove(t) => tags.retain(|x| x != t.as_str()),
                TagChange::Set(all) => tags = all.into_iter().map(Tag::into_string).collect(),
            }
            if tags.len() > crate::domain::values::MAX_TAGS {
                return Err(AppError::validation("tags", "at most 50 tags per session"));
            }
            if tags != s.tags {
                emit(w, &meta, &s, vec![NewEvent::new("SessionTagsChanged", json!({ "tags": tags }))])?;
            }
            Ok(s.id)
        })
        .await
}

pub enum TagChange {
    Add(Tag),
    Remove(Tag),
    Set(Vec<Tag>),
}

/// What the capture path presents: the token from the URL and, when the browser has one, the capture
/// cookie that binds a consumed one-time link to the browser that consumed it.
#[derive(Debug, Clone)]
pub struct CaptureToken {
    pub token: String,
    pub browser: Option<String>,
}

impl CaptureToken {
    pub fn new(token: impl Into<String>, browser: Option<String>) -> Self {
        CaptureToken { token: token.into(), browser }
    }
}

/// How a token stands with respect to one-time links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkAccess {
    /// The token is not a one-time link (the session's own token, or no token at all).
    NotALink,
    /// An active link nobody has acted on yet: opening it is fine, the first action consumes it.
    Unused { link_id: String },
    /// A consumed link, presented by the browser that consumed it.
    Bound { link_id: String },
}

pub const LINK_GONE: &str = "This link was already used or has been revoked.";

fn gone_link() -> AppError {
    AppError::Gone(LINK_GONE.into())
}

/// Looks the token up among one-time links. A revoked, expired or consumed link (unless the browser
/// presents the cookie it was given when it consumed the link) is 410 Gone.
pub fn link_access<C: Reads + ?Sized>(
    conn: &C,
    keyring: &Keyring,
    cred: &CaptureToken,
    now: &str,
) -> AppResult<LinkAccess> {
    if !cred.token.starts_with("tok_") || cred.token.len() > 100 {
        return Ok(LinkAccess::NotALink);
    }
    let digest = keyring.capture_token_digest(&cred.token);
    let row: Option<(String, String, String, Option<String>)> = conn
        .prepare_cached("SELECT id, status, expires_at, browser_hash FROM capture_links WHERE token_hash = ?1")?
        .query_row([&digest], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((link_id, status, expires_at, browser_hash)) = row else { return Ok(LinkAccess::NotALink) };
    if expires_at.as_str() <= now {
        return Err(gone_link());
    }
    match status.as_str() {
        "active" => Ok(LinkAccess::Unused { link_id }),
        "consumed" => {
            let presented = cred.browser.as_deref().filter(|b| b.starts_with("cb_") && b.len() <= 100);
            match (presented, browser_hash) {
                (Some(b), Some(bound))
                    if constant_time_eq(keyring.capture_token_digest(b).as_bytes(), bound.as_bytes()) =>
                {
                    Ok(LinkAccess::Bound { link_id })
                }
                _ => Err(gone_link()),
            }
        }
        _ => Err(gone_link()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new capture-cookie secret, given to the browser that consumes a one-time link.
fn new_browser_secret() -> String {
    new_token().replacen("tok_", "cb_", 1)
}

/// The person's first action through a one-time link consumes it and binds it to their browser.
/// Returns the capture-cookie secret to hand to that browser, or None when there was nothing to consume
/// (not a link, or already bound to this browser). Refuses (410) a link that is gone.
pub async fn consume_link(writer: &Writer, meta: CommandMeta, cred: CaptureToken) -> AppResult<Option<String>> {
    writer
        .execute(move |w| {
            let LinkAccess::Unused { link_id } = link_access(w.conn, w.keyring, &cred, &meta.now)? else {
                return Ok(None);
            };
            let s = session_for_token(w.conn, w.keyring, &cred, &meta.now)?;
            let secret = new_browser_secret();
            let browser_hash = w.keyring.capture_token_digest(&secret);
            emit(
                w,
                &meta,
                &s,
                vec![NewEvent::new("SessionLinkConsumed", json!({ "link_id": link_id, "browser_hash": browser_hash }))],
            )?;
            Ok(Some(secret))
        })
        .await
}

/// Resolves a capture token to its session: it must exist and not be past its expiry, and a one-time
/// link must still be usable by this browser (see `link_access`).
pub fn session_for_token<C: Reads + ?Sized>(
    conn: &C,
    keyring: &Keyring,
    cred: &CaptureToken,
    now: &str,
) -> AppResult<SessionState> {
    let gone = || AppError::NotFound("This verification link is invalid or has expired.".into());
    link_access(conn, keyring, cred, now)?;
    let token = cred.token.as_str();
    if !token.starts_with("tok_") || token.len() > 100 {
        return Err(gone());
    }
    let digest = keyring.capture_token_digest(token);
    let id: Option<String> = conn
        .prepare_cached("SELECT id FROM sessions WHERE token_hash = ?1")?
        .query_row([&digest], |r| r.get(0))
        .optional()?;
    let s = load_state(conn, None, &id.ok_or_else(gone)?)?.ok_or_else(gone)?;
    if s.redacted() || s.token_expires_at.as_deref().is_none_or(|e| e <= now) {
        return Err(gone());
    }
    Ok(s)
}

/// One step of capture, authenticated by the token (or, for the API-only flow, by the session id).
pub enum CaptureStep {
    Open,
    Consent {
        version: String,
        ip: Option<String>,
    },
    DocumentType(crate::domain::session::DocumentType),
    Upload {
        doc_type: String,
        mime_type: String,
        bytes: Vec<u8>,
        phash: Option<String>,
        /// A barcode's reading: (source, fields).
        read: Option<(String, BTreeMap<String, String>)>,
    },
    UserData(BTreeMap<String, String>),
    FraudSignals {
        signals: Value,
        ip: Option<String>,
        device: Option<String>,
    },
}

pub enum SessionRef {
    Token(CaptureToken),
    Id { environment: String, id: SessionId },
}

fn resolve(w: &WriteCtx<'_>, r: &SessionRef, now: &str) -> AppResult<SessionState> {
    match r {
        SessionRef::Token(t) => session_for_token(w.conn, w.keyring, t, now),
        SessionRef::Id { environment, id } => require(w.conn, environment, id.as_str()),
    }
}

pub async fn capture(writer: &Writer, meta: CommandMeta, at: SessionRef, step: CaptureStep) -> AppResult<String> {
    writer
        .execute(move |w| {
            let s = resolve(w, &at, &meta.now)?;
            let mut events = Vec::new();
            let next = dom::transition(&s.status, s.redacted(), Action::Capture)?;
            let opening = matches!(step, CaptureStep::Open);
            if next != s.status || (opening && s.status == "pending") {
                events.push(status_event(&s.status, "capturing", "capture_started"));
            }
            match step {
                CaptureStep::Open => {}
                CaptureStep::Consent { version, ip } => {
                    let key = session_key(w, &s.id)?;
                    let ip = ip.map(|ip| B64.encode(key.seal(&s.id, "consent_ip", &ip)));
                    events.push(NewEvent::new("SessionConsentRecorded", json!({ "version": version, "ip": ip })));
                }
                CaptureStep::DocumentType(t) => {
                    events.push(NewEvent::new("SessionDocumentTypeChosen", json!({ "document_type": t.as_str() })));
                }
                CaptureStep::Upload { doc_type, mime_type, bytes, phash, read } => {
                    if matches!(at, SessionRef::Token(_)) && !s.consented {
                        return Err(AppError::Conflict("Consent must be given before uploading documents.".into()));
                    }
                    let key = session_key(w, &s.id)?;
                    let blob_id = ids::new_id(ids::BLOB);
                    let sealed = key.seal(&s.id, &format!("document:{blob_id}"), &B64.encode(&bytes));
                    // A replaced upload's old image is deleted with it.
                    w.conn.execute(
                        "DELETE FROM sealed_blobs WHERE blob_id = (SELECT blob_id FROM session_documents WHERE session_id = ?1 AND doc_type = ?2)",
                        params![s.id, doc_type],
                    )?;
                    w.conn.execute(
                        "INSERT INTO sealed_blobs (blob_id, subject_id, sealed) VALUES (?1, ?2, ?3)",
                        params![blob_id, s.id, sealed],
                    )?;
                    let up = DocumentUploaded { doc_type, mime_type, size_bytes: bytes.len() as i64, blob_id, phash };
                    events.push(NewEvent::new("SessionDocumentUploaded", serde_json::to_value(&up)?));
                    if let Some((source, fields)) = read {
                        // What the document's barcode says, sealed like any PII; field names only in clear.
                        let names: Vec<&String> = fields.keys().collect();
                        let sealed = seal_map(&key, &s.id, "document_data", &fields)?;
                        events.push(NewEvent::new(
                            "SessionDocumentRead",
                            json!({ "source": source, "fields": names, "data": sealed }),
                        ));
                    }
                }
                CaptureStep::UserData(fields) => {
                    let key = session_key(w, &s.id)?;
                    let current: Option<String> =
                        w.conn.query_row("SELECT user_data FROM sessions WHERE id = ?1", [&s.id], |r| r.get(0))?;
                    let mut merged = open_map(&key, &s.id, "user_data", current.as_deref())?;
                    let names: Vec<String> = fields.keys().cloned().collect();
                    merged.extend(fields);
                    let sealed = seal_map(&key, &s.id, "user_data", &merged)?;
                    events.push(NewEvent::new("SessionUserDataProvided", json!({ "fields": names, "data": sealed })));
                }
                CaptureStep::FraudSignals { signals, ip, device } => {
                    let digest = |kind: &str, v: Option<String>| v.map(|v| hex::encode(w.keyring.blind_digest(&s.environment, kind, &v)));
                    events.push(NewEvent::new(
                        "SessionFraudSignalsRecorded",
                        json!({ "signals": signals, "ip_digest": digest("ip", ip), "device_digest": digest("device", device) }),
                    ));
                }
            }
            emit(w, &meta, &s, events)?;
            Ok(s.id)
        })
        .await
}

/// Ends capture: checks the required documents are there and moves to processing (live) or
/// sandbox_pending (sandbox). Returns (id, new status).
pub async fn submit(writer: &Writer, meta: CommandMeta, at: SessionRef) -> AppResult<(String, String)> {
    writer
        .execute(move |w| {
            let s = resolve(w, &at, &meta.now)?;
            let to = dom::transition(&s.status, s.redacted(), Action::Submit { sandbox: s.sandbox() })?;
            let mut missing = Vec::new();
            if matches!(at, SessionRef::Token(_)) && !s.consented {
                missing.push(FieldError::new("consent", "consent has not been given"));
            }
            if !s.uploaded.iter().any(|d| d == "id_front") {
                missing.push(FieldError::new("id_front", "the document front is required"));
            }
            if s.document_type.as_deref().is_some_and(dom::needs_back) && !s.uploaded.iter().any(|d| d == "id_back") {
                missing.push(FieldError::new("id_back", "the document back is required for this document type"));
            }
            let (_, graph) = session_graph(w, &s)?;
            let needs_selfie = crate::domain::workflow::policies(&graph).iter().any(|p| p == "face_match");
            if needs_selfie && !s.uploaded.iter().any(|d| d == "selfie") {
                missing.push(FieldError::new("selfie", "a selfie is required by this session's checks"));
            }
            if !missing.is_empty() {
                // The request is fine; the session lacks steps, so this is a state conflict naming them.
                let steps: Vec<String> = missing.iter().map(|e| format!("{} ({})", e.field, e.message)).collect();
                return Err(AppError::Conflict(format!("Required capture steps are missing: {}.", steps.join("; "))));
            }
            emit(w, &meta, &s, vec![status_event(&s.status, to, "submitted")])?;
            Ok((s.id, to.to_string()))
        })
        .await
}

/// Everything the pipeline needs that lives in the database, gathered inside the transaction.
fn gather(w: &WriteCtx<'_>, s: &SessionState, now: &str) -> AppResult<(Evidence, BTreeMap<String, String>)> {
    let key = session_key(w, &s.id)?;
    let (prefill, user_data, signals, ip, device): (
        Option<String>,
        Option<String>,
        String,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
    ) = w.conn.query_row(
        "SELECT prefill, user_data, fraud_signals, ip_digest, device_digest FROM sessions WHERE id = ?1",
        [&s.id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let mut data = open_map(&key, &s.id, "prefill", prefill.as_deref())?;
    let confirmed = open_map(&key, &s.id, "user_data", user_data.as_deref())?;
    let (document_source, document_data): (Option<String>, Option<String>) =
        w.conn.query_row("SELECT document_source, document_data FROM sessions WHERE id = ?1", [&s.id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let read = open_map(&key, &s.id, "document_data", document_data.as_deref())?;
    let crossref_mismatches: Vec<String> = confirmed
        .iter()
        .filter(|(k, v)| data.get(*k).is_some_and(|p| blind::name(p) != blind::name(v)))
        .map(|(k, _)| k.clone())
        .collect();
    data.extend(confirmed);
    // The document's own reading (barcode) is compared with what was entered and fills what was not.
    let mut barcode_checks = Vec::new();
    for (field, value) in &read {
        if field == "mrz" {
            data.entry("mrz".into()).or_insert_with(|| value.clone());
            continue;
        }
        match data.get(field) {
            Some(entered) if field != "document_type" && blind::name(entered) != blind::name(value) => {
                barcode_checks.push((
                    format!("consistency.{field}"),
                    false,
                    "the document's barcode disagrees with the entered data".to_string(),
                ));
            }
            Some(_) => {}
            None => {
                data.insert(field.clone(), value.clone());
            }
        }
    }
    if let Some(t) = &s.document_type {
        data.entry("document_type".into()).or_insert_with(|| t.clone());
    }
    let day_ago =
        crate::clock::parse(now).map(|t| crate::clock::format(t - time::Duration::days(1))).unwrap_or_default();
    let count_by = |column: &str, digest: &Option<Vec<u8>>| -> AppResult<i64> {
        let Some(d) = digest else { return Ok(0) };
        Ok(w.conn.query_row(
            &format!("SELECT COUNT(*) FROM sessions WHERE environment = ?1 AND {column} = ?2 AND id != ?3 AND created_at >= ?4"),
            params![s.environment, d, s.id, day_ago],
            |r| r.get(0),
        )?)
    };
    let mut evidence = Evidence {
        sandbox: s.sandbox(),
        checks: s.checks.clone().unwrap_or_else(|| engine::DEFAULT_CHECKS.iter().map(|c| c.to_string()).collect()),
        document_type: s.document_type.clone(),
        uploaded: s.uploaded.clone(),
        today: now.to_string(),
        minimum_age: 18,
        face_threshold: 0.35,
        client_signals: serde_json::from_str(&signals).unwrap_or(Value::Null),
        ip_sessions_last_day: count_by("ip_digest", &ip)?,
        device_sessions_last_day: count_by("device_digest", &device)?,
        ..Default::default()
    };
    if let Some(mrz_text) = data.remove("mrz") {
        let (checks, filled) = engine::read_mrz(&mrz_text, &data, now, s.sandbox());
        for (k, v) in filled {
            data.entry(k).or_insert(v);
        }
        evidence.mrz_checks = checks;
    }
    evidence.crossref_mismatches = crossref_mismatches;
    evidence.mrz_checks.extend(barcode_checks);
    evidence.document_source = document_source.filter(|_| !read.is_empty());
    evidence.data = data.clone();
    evidence.duplicates = duplicates(w, s, &data)?;
    Ok((evidence, data))
}

/// Blind-index and image-hash matches against other identities of the environment.
fn duplicates(w: &WriteCtx<'_>, s: &SessionState, data: &BTreeMap<String, String>) -> AppResult<Vec<DuplicateHit>> {
    let own =
        s.external_ref.as_deref().and_then(|r| load_surviving(w.conn, &s.environment, r).ok().flatten()).map(|i| i.id);
    let mut hits = Vec::new();
    let kinds = [
        ("name_dob", "same_name_dob"),
        ("document_number", "same_document"),
        ("ssn", "same_ssn"),
        ("email", "same_email"),
        ("phone", "same_phone"),
        ("address", "same_address"),
    ];
    for (kind, normalised) in blind::index_inputs(data) {
        let Some((_, rel)) = kinds.iter().find(|(k, _)| *k == kind) else { continue };
        let digest = w.keyring.blind_digest(&s.environment, kind, &normalised);
        let mut stmt = w.conn.prepare_cached(
            "SELECT b.identity_id FROM blind_indexes b JOIN identities i ON i.id = b.identity_id
             WHERE b.environment = ?1 AND b.kind = ?2 AND b.digest = ?3 AND i.status NOT IN ('merged', 'redacted')",
        )?;
        let ids: Vec<String> =
            stmt.query_map(params![s.environment, kind, digest.to_vec()], |r| r.get(0))?.collect::<Result<_, _>>()?;
        for id in ids {
            if Some(&id) != own.as_ref() {
                hits.push(DuplicateHit { relationship_type: rel.to_string(), identity_id: id });
            }
        }
    }
    // Near-identical selfies on another identity's sessions.
    let selfie: Option<String> = w
        .conn
        .query_row("SELECT phash FROM session_documents WHERE session_id = ?1 AND doc_type = 'selfie'", [&s.id], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    if let Some(hash) = selfie {
        let mut stmt = w.conn.prepare_cached(
            "SELECT DISTINCT x.identity_id, d.phash FROM session_documents d JOIN sessions x ON x.id = d.session_id
             WHERE d.doc_type = 'selfie' AND d.phash IS NOT NULL AND x.environment = ?1 AND x.id != ?2 AND x.identity_id IS NOT NULL",
        )?;
        let rows: Vec<(String, String)> =
            stmt.query_map(params![s.environment, s.id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        for (identity, other) in rows {
            use crate::checks::imagehash::{matches, ImageHash64, DEFAULT_THRESHOLD};
            let similar = match (ImageHash64::from_hex(&hash), ImageHash64::from_hex(&other)) {
                (Ok(a), Ok(b)) => matches(a, b, DEFAULT_THRESHOLD),
                _ => false,
            };
            if Some(&identity) != own.as_ref() && similar {
                hits.push(DuplicateHit { relationship_type: "same_face".into(), identity_id: identity });
            }
        }
    }
    hits.sort_by(|a, b| (&a.identity_id, &a.relationship_type).cmp(&(&b.identity_id, &b.relationship_type)));
    hits.dedup();
    Ok(hits)
}

/// Writes the decision: the result on the session, the identity upsert, the duplicate links.
#[allow(clippy::too_many_arguments)]
fn decide(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    decision: engine::Decision,
    data: BTreeMap<String, String>,
    duplicates: Vec<DuplicateHit>,
    simulated: bool,
    workflow: Option<(String, i64)>,
) -> AppResult<String> {
    let to = match decision.status.as_str() {
        "needs_review" => dom::transition(&s.status, s.redacted(), Action::RouteToReview)?,
        _ => dom::transition(&s.status, s.redacted(), Action::Complete)?,
    };
    let key = session_key(w, &s.id)?;
    let extracted = if data.is_empty() { None } else { Some(seal_map(&key, &s.id, "extracted", &data)?) };
    let identity_id = match &s.external_ref {
        Some(r) => Some(upsert_identity(w, meta, s, r, &decision, &data)?),
        None => None,
    };
    if let Some(identity) = &identity_id {
        for hit in &duplicates {
            let metadata = json!({ "session_id": s.id }).as_object().cloned().unwrap_or_default();
            super::relationships::link_system(w, meta, identity, &hit.identity_id, &hit.relationship_type, metadata)?;
        }
    }
    let outcome = Outcome {
        status: decision.status.clone(),
        face_match_passed: decision.face_match_passed,
        face_match_score: decision.face_match_score,
        age_check_passed: decision.age_check_passed,
        extracted_age: decision.extracted_age,
        rejection_reason: decision.rejection_reason.clone(),
        rejection_reason_code: decision.rejection_reason_code.clone(),
        check_results: decision.check_results.clone(),
        risk: decision.risk.clone(),
        country_used: s.country.clone().or_else(|| data.get("nationality").cloned()),
        extracted,
        identity_id: identity_id.clone(),
        simulated,
        workflow_path: decision.workflow_path.clone(),
    };
    let s = load_state(w.conn, Some(&s.environment), &s.id)?.ok_or_else(|| AppError::not_found("Session"))?;
    let (workflow_id, workflow_version) = workflow.map(|(i, v)| (Some(i), Some(v))).unwrap_or((None, None));
    emit(
        w,
        meta,
        &s,
        vec![NewEvent::new(
            "SessionDecided",
            json!({
                "to": to,
                "outcome": outcome,
                "workflow_id": workflow_id,
                "workflow_version": workflow_version,
                // A review routes to an open case (the cases API reads these).
                "case_id": (to == "under_review").then(|| ids::new_id(ids::CASE)),
            }),
        )],
    )?;
    Ok(to.to_string())
}

fn identity_status(result: &str) -> &'static str {
    match result {
        "approved" => "approved",
        "needs_review" => "under_review",
        "rejected" => "rejected",
        _ => "failed",
    }
}

/// Creates or updates the identity of `external_ref` with the session's outcome and data.
fn upsert_identity(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    external_ref: &str,
    d: &engine::Decision,
    data: &BTreeMap<String, String>,
) -> AppResult<String> {
    let pii: BTreeMap<String, String> = data
        .iter()
        .filter(|(k, _)| idom::PII_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut identity_meta = meta.clone();
    identity_meta.environment = s.environment.clone();
    // A merged identity's sessions belong to the identity it was merged into.
    let existing = load_surviving(w.conn, &s.environment, external_ref)?;
    let (state, key) = match existing {
        Some(state) => {
            let key = data_key(w.conn, w.keyring, &state.id)?;
            (state, key)
        }
        None => {
            let id = ids::new_id(ids::IDENTITY);
            let (key, wrapped) = w.keyring.new_data_key(&id);
            w.conn
                .execute("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)", params![id, wrapped])?;
            let created = idom::Created {
                external_ref: Some(external_ref.to_string()),
                status: "pending".into(),
                country: None,
                identity_type_id: None,
                tags: Vec::new(),
                monitoring_enabled: true,
                pii: BTreeMap::new(),
                blind: None,
            };
            let evs = idom::decide(None, IdentityCommand::Create(created), &identity_meta.ctx())?;
            emit_identity(w, &identity_meta, &id, 0, evs)?;
            let state = load_identity(w.conn, &s.environment, &id)?.ok_or_else(|| AppError::not_found("Identity"))?;
            (state, Some(key))
        }
    };
    let (sealed, blind_set) = match &key {
        Some(k) if !pii.is_empty() => {
            let sealed_now: String =
                w.conn.query_row("SELECT pii FROM identities WHERE id = ?1", [&state.id], |r| r.get(0))?;
            let mut full = super::identities::open_pii(k, &state.id, &sealed_now)?;
            full.extend(pii.clone());
            (seal_fields(k, &state.id, &pii), Some(sealed_blind_set(w.keyring, k, &s.environment, &state.id, &full)?))
        }
        _ => (BTreeMap::new(), None),
    };
    let verified = idom::Verified {
        session_id: s.id.clone(),
        new_session: s.identity_id.as_deref() != Some(state.id.as_str()),
        status: identity_status(&d.status).to_string(),
        approved: d.status == "approved",
        face_match_passed: d.face_match_passed,
        age_check_passed: d.age_check_passed,
        extracted_age: d.extracted_age,
        rejection_reason: d.rejection_reason.clone(),
        country: data.get("nationality").cloned().or_else(|| s.country.clone()),
        pii: sealed,
        blind: blind_set,
    };
    let evs = idom::decide(Some(&state), IdentityCommand::ApplyVerification(verified), &identity_meta.ctx())?;
    emit_identity(w, &identity_meta, &state.id, state.version, evs)?;
    Ok(state.id)
}

/// The graph a session runs: its `checks` override (as a steps list), else its workflow or the
/// environment's default (published version).
fn session_graph(w: &WriteCtx<'_>, s: &SessionState) -> AppResult<(Option<(String, i64)>, Graph)> {
    if let Some(checks) = &s.checks {
        let mut steps = checks.clone();
        steps.push("auto_approve".into());
        return Ok((None, crate::domain::workflow::graph_from_steps(&steps)?));
    }
    let workflow_id: Option<String> =
        w.conn.query_row("SELECT workflow_id FROM sessions WHERE id = ?1", [&s.id], |r| r.get(0))?;
    match super::workflows::resolve_for_session(w.conn, &s.environment, workflow_id.as_deref())? {
        Some((id, version, graph)) => Ok((Some((id, version)), graph)),
        None => {
            let mut steps: Vec<String> = engine::DEFAULT_CHECKS.iter().map(|c| c.to_string()).collect();
            steps.push("auto_approve".into());
            Ok((None, crate::domain::workflow::graph_from_steps(&steps)?))
        }
    }
}

/// The facts conditional nodes may test.
fn decision_context(d: &engine::Decision, evidence: &Evidence) -> Map<String, Value> {
    let mut ctx = Map::new();
    ctx.insert("checks".into(), Value::Object(d.check_results.clone()));
    ctx.insert("risk_score".into(), d.risk["risk_score"].clone());
    ctx.insert("risk_level".into(), d.risk["risk_level"].clone());
    ctx.insert("extracted_age".into(), json!(d.extracted_age));
    ctx.insert("age_check_passed".into(), json!(d.age_check_passed));
    ctx.insert("face_match_passed".into(), json!(d.face_match_passed));
    ctx.insert("face_match_score".into(), json!(d.face_match_score));
    ctx.insert("duplicates".into(), json!(evidence.duplicates.len()));
    ctx.insert("document_type".into(), json!(evidence.document_type));
    ctx.insert("country".into(), json!(evidence.data.get("nationality")));
    ctx
}

/// Applies a workflow stop to the pipeline's decision.
fn apply_stop(mut d: engine::Decision, stop: &Stop) -> engine::Decision {
    if let Stop::Terminal { outcome, path } = stop {
        let node = path.last().cloned().unwrap_or_default();
        match outcome.as_str() {
            "approved" => {
                d.status = "approved".into();
                d.rejection_reason = None;
                d.rejection_reason_code = None;
            }
            "rejected" => {
                d.status = "declined".into();
                if d.rejection_reason.is_none() {
                    d.rejection_reason = Some(format!("Rejected by the workflow at step '{node}'."));
                    d.rejection_reason_code = Some("workflow_rejected".into());
                }
            }
            _ => {
                d.status = "needs_review".into();
                if d.rejection_reason.is_none() {
                    d.rejection_reason = Some(format!("Sent to review by the workflow at step '{node}'."));
                }
            }
        }
    }
    d
}

/// The `check_against_list` policy (spec §4.8): each such node's lists (none named: all active lists)
/// are matched against the session's data and the matches recorded. A block match fails the check and,
/// under auto-approve, declines; a flag match sends the session to review; an allow match is recorded.
fn apply_custom_lists(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    graph: &Graph,
    data: &BTreeMap<String, String>,
    decision: &mut engine::Decision,
) -> AppResult<()> {
    let nodes: Vec<Option<Vec<String>>> = graph
        .nodes
        .values()
        .filter(|n| n.get("policy").and_then(Value::as_str) == Some("check_against_list"))
        .map(|n| n.get("list_ids").and_then(|l| serde_json::from_value::<Vec<String>>(l.clone()).ok()))
        .collect();
    let in_auto_approve = crate::domain::workflow::policies(graph).iter().any(|p| p == "check_against_list");
    if nodes.is_empty() && !in_auto_approve {
        return Ok(());
    }
    let mut subject = data.clone();
    subject.remove("mrz");
    let lists = if nodes.is_empty() { vec![None] } else { nodes };
    let mut meta = meta.clone();
    meta.environment = s.environment.clone();
    let mut worst: Option<super::lists::ListOutcome> = None;
    for list_ids in lists {
        let outcome = super::lists::record_matches_in(w, &meta, &s.id, &subject, list_ids.as_deref())?;
        let rank = |o: &super::lists::ListOutcome| match o.outcome {
            "blocked" => 3,
            "flagged" => 2,
            "allowed" => 1,
            _ => 0,
        };
        if worst.as_ref().is_none_or(|wo| rank(&outcome) > rank(wo)) {
            worst = Some(outcome);
        }
    }
    let Some(outcome) = worst else { return Ok(()) };
    decision.check_results.insert("check_against_list".into(), outcome.check_result());
    if outcome.blocked() && decision.status != "declined" {
        decision.status = "declined".into();
        decision.rejection_reason = Some("The subject matches a blocking list.".into());
        decision.rejection_reason_code = Some("list_blocked".into());
    } else if outcome.flagged() && decision.status == "approved" {
        decision.status = "needs_review".into();
        decision.rejection_reason = Some("The subject matches a flagged list.".into());
    }
    Ok(())
}

/// Runs the pipeline and walks the workflow graph from `from` (None: the entry), then records the
/// decision or the pause at an external gate.
fn run_workflow(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    from: Option<String>,
    face: Option<FaceMatch>,
    watchlists: Option<&Snapshot>,
) -> AppResult<String> {
    let (workflow, graph) = session_graph(w, s)?;
    let (mut evidence, data) = gather(w, s, &meta.now)?;
    evidence.checks = crate::domain::workflow::policies(&graph);
    if let Some(age) = graph.nodes.values().find_map(|n| n.get("minimum_age").and_then(Value::as_i64)) {
        evidence.minimum_age = age;
    }
    evidence.face = face.or_else(|| {
        s.uploaded.iter().any(|d| d == "selfie").then(|| {
            if s.sandbox() {
                FaceMatch::Score(0.95)
            } else {
                FaceMatch::Unavailable("no face-match provider is configured".into())
            }
        })
    });
    // Watchlist screening (spec §4.5) against the loaded lists, minus this subject's dismissals.
    let screening = match watchlists {
        Some(snapshot) if evidence.checks.iter().any(|c| c == "watchlist_screening") && !s.sandbox() => {
            let threshold = graph
                .nodes
                .values()
                .filter(|n| n.get("policy").and_then(Value::as_str) == Some("watchlist_screening"))
                .find_map(|n| n.get("threshold").and_then(Value::as_f64))
                .unwrap_or(crate::screening::DEFAULT_THRESHOLD);
            let dismissals = super::checks::session_dismissals(
                w.conn,
                &s.environment,
                s.identity_id.as_deref(),
                s.external_ref.as_deref(),
            )?;
            let mut outcome = crate::screening_service::screen_subject(snapshot, &data, threshold);
            outcome.apply_dismissals(&dismissals);
            Some(outcome)
        }
        _ => None,
    };
    evidence.watchlist = screening.as_ref().map(|o| engine::WatchlistResult {
        status: o.status.to_string(),
        error_reason: o.error_reason.map(str::to_string),
        detail: o.check_result(),
    });
    let duplicates = evidence.duplicates.clone();
    let mut decision = engine::evaluate(&evidence);
    apply_custom_lists(w, meta, s, &graph, &data, &mut decision)?;
    let ctx = decision_context(&decision, &evidence);
    let stop = crate::domain::workflow::walk(&graph, from.as_deref().unwrap_or(&graph.entry), &ctx);
    if let Stop::Wait { node, path } = &stop {
        let (wf, version) = workflow.clone().unwrap_or_default();
        emit(
            w,
            meta,
            s,
            vec![NewEvent::new(
                "SessionWorkflowPaused",
                json!({ "node": node, "workflow_id": wf, "workflow_version": version, "path": path }),
            )],
        )?;
        return Ok("awaiting_external".into());
    }
    let mut decision = apply_stop(decision, &stop);
    decision.workflow_path = match &stop {
        Stop::Terminal { path, .. } | Stop::AutoApprove { path } | Stop::Wait { path, .. } => path.clone(),
    };
    let screened = data.clone();
    let to = decide(w, meta, s, decision, data, duplicates, false, workflow)?;
    if let Some(outcome) = screening.filter(|o| o.error_reason != Some("no_lists")) {
        let after = load_state(w.conn, Some(&s.environment), &s.id)?.ok_or_else(|| AppError::not_found("Session"))?;
        super::checks::record_session_screening(
            w,
            meta,
            &s.id,
            after.identity_id.as_deref(),
            s.external_ref.as_deref(),
            &screened,
            &outcome,
        )?;
    }
    Ok(to)
}

/// Runs the offline pipeline on a session in `processing` and records the decision.
pub async fn process(
    writer: &Writer,
    meta: CommandMeta,
    id: String,
    face: Option<FaceMatch>,
    watchlists: Option<Arc<Snapshot>>,
) -> AppResult<String> {
    writer
        .execute(move |w| {
            let s = load_state(w.conn, None, &id)?.ok_or_else(|| AppError::not_found("Session"))?;
            if s.status != "processing" {
                return Ok(s.status);
            }
            let mut meta = meta.clone();
            meta.environment = s.environment.clone();
            run_workflow(w, &meta, &s, None, face, watchlists.as_deref())
        })
        .await
}

/// The decision at an external gate (spec §1.1.17): continue, fail (the gate's on_fail) or reject.
pub async fn external_decision(
    writer: &Writer,
    meta: CommandMeta,
    id: SessionId,
    decision: dom::ExternalDecision,
    watchlists: Option<Arc<Snapshot>>,
) -> AppResult<String> {
    writer
        .execute(move |w| {
            let s = require(w.conn, &meta.environment, id.as_str())?;
            dom::transition(&s.status, s.redacted(), Action::ExternalDecision)?;
            let node: Option<String> =
                w.conn.query_row("SELECT workflow_node FROM sessions WHERE id = ?1", [&s.id], |r| r.get(0))?;
            let (_, graph) = session_graph(w, &s)?;
            let gate = node.as_ref().and_then(|n| graph.nodes.get(n)).cloned().unwrap_or(Value::Null);
            let target = match decision {
                dom::ExternalDecision::Continue => gate["next"].as_str().map(str::to_string),
                dom::ExternalDecision::Fail => gate["on_fail"].as_str().map(str::to_string).or(Some("review".into())),
                dom::ExternalDecision::Reject => Some("reject".into()),
            };
            match target.as_deref() {
                Some("reject") | None => {
                    let mut d = engine::Decision { status: "declined".into(), ..Default::default() };
                    d.rejection_reason = Some("Rejected by the external decision.".into());
                    d.rejection_reason_code = Some("external_rejected".into());
                    let (_, data) = gather(w, &s, &meta.now)?;
                    decide(w, &meta, &s, d, data, Vec::new(), false, None)
                }
                Some("review") => {
                    let d = engine::Decision {
                        status: "needs_review".into(),
                        rejection_reason: Some("Sent to review by the external decision.".into()),
                        ..Default::default()
                    };
                    let (_, data) = gather(w, &s, &meta.now)?;
                    decide(w, &meta, &s, d, data, Vec::new(), false, None)
                }
                Some(next) => {
                    emit(w, &meta, &s, vec![status_event(&s.status, "processing", "external_continue")])?;
                    let s = require(w.conn, &meta.environment, &s.id)?;
                    run_workflow(w, &meta, &s, Some(next.to_string()), None, watchlists.as_deref())
                }
            }
        })
        .await
}

/// Sandbox: the outcome is chosen, not computed (spec §2.8). Works from pending without capture.
pub async fn simulate(
    writer: &Writer,
    meta: CommandMeta,
    at: SessionRef,
    action: dom::SimulateAction,
) -> AppResult<(String, String, Option<String>)> {
    writer
        .execute(move |w| {
            let s = resolve(w, &at, &meta.now)?;
            if !s.sandbox() {
                return Err(AppError::Forbidden {
                    code: "forbidden",
                    detail: "Simulation is available in the sandbox only.".into(),
                });
            }
            use dom::SimulateAction as Sim;
            let result = match action {
                Sim::Approve => "approved",
                Sim::Decline | Sim::Reject => "declined",
                Sim::RequireReview | Sim::NeedsReview => "needs_review",
                Sim::Expire => {
                    let to = dom::transition(&s.status, s.redacted(), Action::Expire)?;
                    emit(w, &meta, &s, vec![status_event(&s.status, to, "simulated")])?;
                    return Ok((s.id, to.to_string(), None));
                }
            };
            let (evidence, data) = gather(w, &s, &meta.now)?;
            let mut decision = engine::evaluate(&evidence);
            decision.status = result.to_string();
            decision.face_match_passed = Some(result != "declined");
            decision.face_match_score = Some(if result == "declined" { 0.12 } else { 0.95 });
            if decision.age_check_passed.is_none() {
                decision.age_check_passed = Some(result != "declined");
            }
            match result {
                "declined" => {
                    decision.rejection_reason = Some("Simulated decline.".into());
                    decision.rejection_reason_code = Some("simulated_decline".into());
                }
                "needs_review" => {
                    decision.rejection_reason = Some("Simulated review.".into());
                    decision.rejection_reason_code = None;
                }
                _ => {
                    decision.rejection_reason = None;
                    decision.rejection_reason_code = None;
                }
            }
            let to = decide(w, &meta, &s, decision, data, Vec::new(), true, None)?;
            Ok((s.id, to, Some(result.to_string())))
        })
        .await
}

pub async fn reprocess(writer: &Writer, meta: CommandMeta, id: SessionId) -> AppResult<String> {
    writer
        .execute(move |w| {
            let s = require(w.conn, &meta.environment, id.as_str())?;
            let to = dom::transition(&s.status, s.redacted(), Action::Reprocess)?;
            emit(w, &meta, &s, vec![status_event(&s.status, to, "reprocess")])?;
            Ok(s.id)
        })
        .await
}

/// Erasure of one session: its data key, images and sealed fields. Returns documents removed, or None
/// when it was already redacted.
pub fn redact_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    event: &'static str,
) -> AppResult<Option<i64>> {
    if s.redacted() {
        return Ok(None);
    }
    let removed = w.conn.execute("DELETE FROM sealed_blobs WHERE subject_id = ?1", [&s.id])? as i64;
    w.conn.execute("DELETE FROM subject_keys WHERE subject_id = ?1", [&s.id])?;
    emit(w, meta, s, vec![NewEvent::new(event, json!({ "documents_removed": removed }))])?;
    w.request_wal_truncate();
    Ok(Some(removed))
}

pub async fn redact(writer: &Writer, meta: CommandMeta, ids: Vec<SessionId>) -> AppResult<Vec<(String, Option<i64>)>> {
    writer
        .execute(move |w| {
            let mut out = Vec::new();
            for id in ids {
                let s = require(w.conn, &meta.environment, id.as_str())?;
                out.push((s.id.clone(), redact_in(w, &meta, &s, "SessionRedacted")?));
            }
            Ok(out)
        })
        .await
}

/// The sweeper's work at `now`: expire sessions whose capture token lapsed. Returns ids expired.
pub async fn expire_lapsed(writer: &Writer, now: String) -> AppResult<Vec<String>> {
    writer
        .execute(move |w| {
            let ids: Vec<String> = {
                let mut stmt = w.conn.prepare(
                    "SELECT id FROM sessions WHERE status IN ('pending', 'capturing') AND token_expires_at <= ?1 LIMIT 500",
                )?;
                let rows = stmt.query_map([&now], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let meta = CommandMeta { actor: "system".into(), environment: String::new(), request_id: None, now: now.clone() };
            for id in &ids {
                if let Some(s) = load_state(w.conn, None, id)? {
                    emit(w, &meta, &s, vec![status_event(&s.status, "expired", "token_expired")])?;
                }
            }
            Ok(ids)
        })
        .await
}

/// Sessions stuck in `processing` since before `cutoff` (a restart interrupted them): the sweeper picks
/// these up. Fresh ones belong to the task that submitted them (it may be waiting on the face service).
pub fn processing_ids<C: Reads + ?Sized>(conn: &C, cutoff: &str) -> AppResult<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT id FROM sessions WHERE status = 'processing' AND updated_at <= ?1 ORDER BY id LIMIT 100")?;
    let rows = stmt.query_map([cutoff], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Validates an uploaded file (type by its bytes, readable image) and computes its perceptual hash.
pub fn prepare_upload(doc_type: &str, mime_type: Option<&'static str>, bytes: Vec<u8>) -> AppResult<CaptureStep> {
    if !dom::UPLOAD_TYPES.contains(&doc_type) {
        return Err(AppError::validation("document_type", format!("must be one of {}", dom::UPLOAD_TYPES.join(", "))));
    }
    let mime = mime_type.ok_or_else(|| AppError::validation("file", "must be a JPEG, PNG, WebP or PDF file"))?;
    if bytes.is_empty() {
        return Err(AppError::validation("file", "is empty"));
    }
    let phash = if mime.starts_with("image/") && mime != "image/webp" {
        match crate::checks::imagehash::phash(&bytes) {
            Ok(h) => Some(h.to_hex()),
            Err(_) => return Err(AppError::validation("file", "is not a readable image")),
        }
    } else {
        None
    };
    if doc_type == "selfie" && mime == "application/pdf" {
        return Err(AppError::validation("file", "a selfie must be a photo (JPEG, PNG or WebP)"));
    }
    let read =
        if phash.is_some() && (doc_type == "id_front" || doc_type == "id_back") { read_document(&bytes) } else { None };
    Ok(CaptureStep::Upload { doc_type: doc_type.to_string(), mime_type: mime.to_string(), bytes, phash, read })
}

/// What a barcode on the document says: an AAMVA PDF417 (driver's licences) or a QR code carrying an
/// MRZ. None when the image has neither (the person's confirmed data is used instead).
fn read_document(bytes: &[u8]) -> Option<(String, BTreeMap<String, String>)> {
    use crate::checks::barcode::{parse_aamva, read_barcodes, BarcodeFormat};
    let codes = read_barcodes(bytes).ok()?;
    if let Some(fields) =
        codes.iter().filter(|c| c.format == BarcodeFormat::Pdf417).find_map(|c| parse_aamva(&c.text).ok())
    {
        return Some(("pdf417".into(), fields.to_fields()));
    }
    let mrz = codes.iter().find(|c| {
        c.format == BarcodeFormat::QrCode
            && crate::checks::mrz::parse(&c.text, &crate::checks::mrz::ParseOptions::new(time::Date::MIN)).is_ok()
    })?;
    Some(("qr_mrz".into(), BTreeMap::from([("mrz".to_string(), mrz.text.clone())])))
}

pub async fn update_retention(
    writer: &Writer,
    meta: CommandMeta,
    retention: crate::domain::settings::Retention,
) -> AppResult<()> {
    retention.validate()?;
    writer
        .execute(move |w| {
            let stream = format!("settings_{}", meta.environment);
            let version = crate::store::events::stream_version(w.conn, &stream)?;
            w.emit(
                &meta.event_meta(),
                &stream,
                version,
                vec![NewEvent::new("SettingsUpdated", serde_json::to_value(&retention)?)],
            )?;
            Ok(())
        })
        .await
}

fn days_before(now: &str, days: i64) -> String {
    crate::clock::parse(now).map(|t| crate::clock::format(t - time::Duration::days(days))).unwrap_or_default()
}

/// The two-pass retention of spec §1.14, at `now`: sessions decided longer ago than the sensitive window
/// stop serving PII; past the full window their data is deleted (key and images shredded).
pub async fn apply_retention(writer: &Writer, now: String) -> AppResult<usize> {
    writer
        .execute(move |w| {
            let mut moved = 0;
            for env in ["sandbox", "live"] {
                let r = crate::store::shared_reads::retention(w.conn, env)?;
                let meta = CommandMeta { actor: "system".into(), environment: env.into(), request_id: None, now: now.clone() };
                if let Some(days) = r.data_retention_days {
                    let cutoff = days_before(&now, days);
                    let ids: Vec<String> = {
                        let mut stmt = w.conn.prepare(
                            "SELECT id FROM sessions WHERE environment = ?1 AND decided_at IS NOT NULL AND decided_at <= ?2
                             AND retention_status != 'redacted' LIMIT 200",
                        )?;
                        let rows = stmt.query_map(params![env, cutoff], |r| r.get(0))?;
                        rows.collect::<Result<_, _>>()?
                    };
                    for id in ids {
                        if let Some(s) = load_state(w.conn, Some(env), &id)? {
                            if r.auto_redact_on_retention_expiry {
                                redact_in(w, &meta, &s, "SessionRetentionExpired")?;
                            } else if s.retention_status == "active" {
                                emit(w, &meta, &s, vec![NewEvent::new("SessionSensitiveExpired", json!({ "reason": "retention_expired" }))])?;
                            }
                            moved += 1;
                        }
                    }
                }
                if let Some(days) = r.sensitive_data_retention_days {
                    let cutoff = days_before(&now, days);
                    let ids: Vec<String> = {
                        let mut stmt = w.conn.prepare(
                            "SELECT id FROM sessions WHERE environment = ?1 AND decided_at IS NOT NULL AND decided_at <= ?2
                             AND retention_status = 'active' LIMIT 200",
                        )?;
                        let rows = stmt.query_map(params![env, cutoff], |r| r.get(0))?;
                        rows.collect::<Result<_, _>>()?
                    };
                    for id in ids {
                        if let Some(s) = load_state(w.conn, Some(env), &id)? {
                            emit(w, &meta, &s, vec![NewEvent::new("SessionSensitiveExpired", json!({ "reason": "sensitive_window" }))])?;
                            moved += 1;
                        }
                    }
                }
            }
            Ok(moved)
        })
        .await
}
