//! Session commands: create, update, tokens, invites, tags, the capture steps (consent, document type,
//! uploads, person data, fraud signals), submit, sandbox expiry, reprocess, expiry of lapsed tokens and
//! redaction; the session state the other session commands load. Seals everything personal under the
//! session's data key and builds every event as a `SessionEvent`. One-time links live in
//! `capture_links`, retention in `retention`, the recording of a processing decision in
//! `session_decision` (its evidence is gathered by `processing`). Must not render responses or run the
//! check pipeline.

pub use super::capture_links::{consume_link, link_access, session_for_token, CaptureToken, LinkAccess, LINK_GONE};
use super::identities::data_key;
pub use super::retention::{apply_retention, update_retention};
use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::checks::mrz_image::{MrzImageOutcome, MrzService};
use crate::checks::printed::{self, PrintedOutcome, PrintedService};
use crate::crypto::{DataKey, Keyring};
use crate::domain::ids::{self, SessionId, WorkflowId};
use crate::domain::session::{
    self as dom, Action, ConsentRecorded, Created, DocumentRead, DocumentTypeChosen, DocumentUploaded,
    FraudSignalsRecorded, InviteSent, Redacted, SessionCheck, SessionEvent, TagsChanged, TokenIssued, Updated,
    UserDataProvided,
};
use crate::domain::values::{CountryCode, ExternalRef, RedirectUrl, Tag};
use crate::error::{AppError, AppResult, FieldError};
use crate::store::events::NewEvent;
use crate::store::Exec;
use crate::store::Reads;
use base64::Engine;
use rand::Rng;
use rusqlite::{params, OptionalExtension};
use serde_json::{Map, Value};
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

pub(crate) fn require<C: Reads + ?Sized>(conn: &C, environment: &str, id: &str) -> AppResult<SessionState> {
    load_state(conn, Some(environment), id)?.ok_or_else(|| AppError::not_found("Session"))
}

/// Appends `events` to the session's stream at the version `s` was loaded at (a clash is a 409).
pub(crate) fn emit(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    s: &SessionState,
    events: Vec<SessionEvent>,
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut m = meta.event_meta();
    m.environment = s.environment.clone();
    let events = events.iter().map(|e| NewEvent::new(e.event_type(), e.payload())).collect();
    w.emit(&m, &s.id, s.version, events)?;
    Ok(())
}

fn status_event(from: &str, to: &str, reason: &str) -> SessionEvent {
    SessionEvent::status_changed(from, to, reason)
}

pub fn new_token() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    let body: String = (0..40).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("tok_{body}")
}

pub(crate) fn add_minutes(now: &str, minutes: i64) -> String {
    crate::clock::parse(now)
        .map(|t| crate::clock::format(t + time::Duration::minutes(minutes)))
        .unwrap_or_else(|| now.to_string())
}

pub(crate) fn session_key(w: &WriteCtx<'_>, id: &str) -> AppResult<DataKey> {
    data_key(w.conn, w.keyring, id)?.ok_or_else(|| AppError::Conflict("This session's data has been erased.".into()))
}

pub(crate) fn seal_map(key: &DataKey, id: &str, field: &str, map: &BTreeMap<String, String>) -> AppResult<String> {
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

/// A session's secrets made before the write: its id, capture token, data key (wrapped) and sealed prefill.
/// Sealing runs on the caller's thread, not inside the writer's transaction.
pub struct PreparedSession {
    id: String,
    token: String,
    token_hash: String,
    wrapped_key: Vec<u8>,
    prefill: Option<String>,
    token_sealed: Option<String>,
}

pub fn prepare(keyring: &Keyring, prefill: &BTreeMap<String, String>) -> AppResult<PreparedSession> {
    let id = ids::new_id(ids::SESSION);
    let token = new_token();
    let token_hash = keyring.capture_token_digest(&token);
    let (key, wrapped_key) = keyring.new_data_key(&id);
    let prefill = if prefill.is_empty() { None } else { Some(seal_map(&key, &id, "prefill", prefill)?) };
    let token_sealed = Some(B64.encode(key.seal(&id, "capture_token", &token)));
    Ok(PreparedSession { id, token, token_hash, wrapped_key, prefill, token_sealed })
}

pub async fn create(
    writer: &Writer,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    input: CreateSession,
) -> AppResult<NewSession> {
    let prepared = prepare(&keyring, &input.prefill)?;
    // `create_in` checks the workflow before its first write.
    writer.execute_checked_first(move |w| create_in(w, &meta, prepared, input)).await
}

/// Records a new session inside the caller's transaction (checking its workflow is active).
pub fn create_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    prepared: PreparedSession,
    input: CreateSession,
) -> AppResult<NewSession> {
    let PreparedSession { id, token, token_hash, wrapped_key, prefill, token_sealed } = prepared;
    if let Some(wf) = input.workflow_id.as_ref().map(WorkflowId::as_str) {
        let active: Option<bool> = w
            .conn
            .row(
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
        .execute(params![id, wrapped_key])?;
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
    let event = SessionEvent::Created(Box::new(created));
    w.emit(&meta.event_meta(), &id, 0, vec![NewEvent::new(event.event_type(), event.payload())])?;
    Ok(NewSession { id, token })
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
            let mut updated = Updated { external_ref: None, metadata: None, changed: Vec::new() };
            if let Some(r) = external_ref {
                updated.external_ref = Some(r.map(ExternalRef::into_string));
                updated.changed.push("external_ref".into());
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
                updated.metadata = Some(merged);
                updated.changed.push("metadata".into());
            }
            if updated.changed.is_empty() {
                return Ok(s.id);
            }
            emit(w, &meta, &s, vec![SessionEvent::Updated(updated)])?;
            Ok(s.id)
        })
        .await
}

/// Expire (manual): pending/capturing/sandbox_pending -> expired.
pub async fn expire(writer: &Writer, meta: CommandMeta, id: SessionId, reason: &'static str) -> AppResult<String> {
    writer.execute(move |w| expire_in(w, &meta, id.as_str(), reason)).await
}

/// Expires a session awaiting its person inside the caller's transaction.
pub fn expire_in(w: &mut WriteCtx<'_>, meta: &CommandMeta, id: &str, reason: &'static str) -> AppResult<String> {
    let s = require(w.conn, &meta.environment, id)?;
    let to = dom::transition(&s.status, s.redacted(), Action::Expire)?;
    emit(w, meta, &s, vec![status_event(&s.status, to, reason)])?;
    Ok(s.id)
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
            emit(w, &meta, &s, vec![SessionEvent::TokenIssued(issued)])?;
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
            emit(w, &meta, &s, vec![SessionEvent::InviteSent(InviteSent { count: s.invites_sent + 1 })])?;
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
                emit(w, &meta, &s, vec![SessionEvent::TagsChanged(TagsChanged { tags })])?;
            }
            Ok(s.id)
        })
        .await
}

/// Records that the session's data is being exported (DSAR), before it leaves: the export is audited.
pub async fn record_export(writer: &Writer, meta: CommandMeta, id: SessionId) -> AppResult<String> {
    writer
        .execute(move |w| {
            let s = require(w.conn, &meta.environment, id.as_str())?;
            emit(w, &meta, &s, vec![SessionEvent::Exported])?;
            Ok(s.id)
        })
        .await
}

pub enum TagChange {
    Add(Tag),
    Remove(Tag),
    Set(Vec<Tag>),
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
        /// The file's size as sent.
        size_bytes: i64,
        image: UploadImage,
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

impl CaptureStep {
    /// An upload's file type and size as sent; None for the other steps.
    pub fn uploaded_file(&self) -> Option<(String, i64)> {
        match self {
            CaptureStep::Upload { mime_type, size_bytes, .. } => Some((mime_type.clone(), *size_bytes)),
            _ => None,
        }
    }
}

/// An upload's image: sealed under its session's data key before the write (so the writer, which every
/// command waits for, does not encrypt images), or plain when the session could not be resolved before
/// (the writer then seals it, or refuses the upload with the error it always gave).
pub enum UploadImage {
    Sealed(SealedImage),
    Plain(Vec<u8>),
}

/// An image sealed for one session, as `sealed_blobs` stores it.
pub struct SealedImage {
    session_id: String,
    blob_id: String,
    sealed: Vec<u8>,
}

/// Seals an uploaded image under the session's key, bound to the session and a new blob id.
fn seal_image(key: &DataKey, session_id: &str, bytes: &[u8]) -> SealedImage {
    let blob_id = ids::new_id(ids::BLOB);
    let sealed = key.seal_image(session_id, "document", &blob_id, bytes);
    SealedImage { session_id: session_id.to_string(), blob_id, sealed }
}

/// The sealed image to store for session `session_id`: the one sealed before the write if it was sealed
/// for this session, or `key` sealing a plain one now.
fn image_for(image: UploadImage, key: &DataKey, session_id: &str) -> AppResult<SealedImage> {
    match image {
        UploadImage::Sealed(image) if image.session_id == session_id => Ok(image),
        UploadImage::Sealed(_) => Err(AppError::Conflict("The upload was prepared for another session.".into())),
        UploadImage::Plain(bytes) => Ok(seal_image(key, session_id, &bytes)),
    }
}

/// The session `at` names and its data key, read before an upload so its image is sealed off the writer;
/// None when the session cannot be resolved or its data is erased (the writer then says why).
pub fn upload_key<C: Reads + ?Sized>(
    conn: &C,
    keyring: &Keyring,
    at: &SessionRef,
    now: &str,
) -> Option<(String, DataKey)> {
    // An id is taken as it is: the write checks that it names a session of the caller's environment.
    let id = match at {
        SessionRef::Id { id, .. } => id.as_str().to_string(),
        SessionRef::Token(_) => resolve_in(conn, keyring, at, now).ok()?.id,
    };
    let key = data_key(conn, keyring, &id).ok()??;
    Some((id, key))
}

#[derive(Debug, Clone)]
pub enum SessionRef {
    Token(CaptureToken),
    Id { environment: String, id: SessionId },
}

pub(crate) fn resolve(w: &WriteCtx<'_>, r: &SessionRef, now: &str) -> AppResult<SessionState> {
    resolve_in(w.conn, w.keyring, r, now)
}

/// The session a capture token or an (environment, id) pair names.
pub fn resolve_in<C: Reads + ?Sized>(
    conn: &C,
    keyring: &Keyring,
    r: &SessionRef,
    now: &str,
) -> AppResult<SessionState> {
    match r {
        SessionRef::Token(t) => session_for_token(conn, keyring, t, now),
        SessionRef::Id { environment, id } => require(conn, environment, id.as_str()),
    }
}

/// Every step checks, opens and seals before its first write (the stored image, then the events), so the
/// command runs without a savepoint of its own.
pub async fn capture(writer: &Writer, meta: CommandMeta, at: SessionRef, step: CaptureStep) -> AppResult<String> {
    writer
        .execute_checked_first(move |w| {
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
                    events.push(SessionEvent::ConsentRecorded(ConsentRecorded { version, ip }));
                }
                CaptureStep::DocumentType(t) => {
                    events.push(SessionEvent::DocumentTypeChosen(DocumentTypeChosen { document_type: t.as_str().into() }));
                }
                CaptureStep::Upload { doc_type, mime_type, size_bytes, image, phash, read } => {
                    if matches!(at, SessionRef::Token(_)) && !s.consented {
                        return Err(AppError::Conflict("Consent must be given before uploading documents.".into()));
                    }
                    let key = session_key(w, &s.id)?;
                    let SealedImage { blob_id, sealed, .. } = image_for(image, &key, &s.id)?;
                    let read = match read {
                        Some(r) => merge_reading(w, &key, &s.id, r)?,
                        None => None,
                    };
                    // What the document's barcode or MRZ says, sealed like any PII; field names only in clear.
                    let read = match read {
                        Some((source, fields)) => {
                            let names: Vec<String> = fields.keys().cloned().collect();
                            let data = seal_map(&key, &s.id, "document_data", &fields)?;
                            Some(DocumentRead { source, fields: names, data })
                        }
                        None => None,
                    };
                    // A replaced upload's old image is deleted with it.
                    w.conn.exec(
                        "DELETE FROM sealed_blobs WHERE blob_id = (SELECT blob_id FROM session_documents WHERE session_id = ?1 AND doc_type = ?2)",
                        params![s.id, doc_type],
                    )?;
                    w.conn.exec(
                        "INSERT INTO sealed_blobs (blob_id, subject_id, sealed) VALUES (?1, ?2, ?3)",
                        params![blob_id, s.id, sealed],
                    )?;
                    let up = DocumentUploaded { doc_type, mime_type, size_bytes, blob_id, phash };
                    events.push(SessionEvent::DocumentUploaded(up));
                    events.extend(read.map(SessionEvent::DocumentRead));
                }
                CaptureStep::UserData(fields) => {
                    let key = session_key(w, &s.id)?;
                    let current: Option<String> =
                        w.conn.row("SELECT user_data FROM sessions WHERE id = ?1", [&s.id], |r| r.get(0))?;
                    let mut merged = open_map(&key, &s.id, "user_data", current.as_deref())?;
                    let names: Vec<String> = fields.keys().cloned().collect();
                    merged.extend(fields);
                    let sealed = seal_map(&key, &s.id, "user_data", &merged)?;
                    events.push(SessionEvent::UserDataProvided(UserDataProvided { fields: names, data: sealed }));
                }
                CaptureStep::FraudSignals { signals, ip, device } => {
                    let digest = |kind: &str, v: Option<String>| v.map(|v| hex::encode(w.keyring.blind_digest(&s.environment, kind, &v)));
                    events.push(SessionEvent::FraudSignalsRecorded(FraudSignalsRecorded {
                        signals,
                        ip_digest: digest("ip", ip),
                        device_digest: digest("device", device),
                    }));
                }
            }
            emit(w, &meta, &s, events)?;
            Ok(s.id)
        })
        .await
}

/// The session's document reading after a new photo's: a photo with no readable MRZ (or barcode) never
/// replaces what another of the session's photos gave, and the printed fields of the front stay beside
/// the back's MRZ. None when nothing changes.
fn merge_reading(
    w: &WriteCtx<'_>,
    key: &DataKey,
    id: &str,
    (source, fields): (String, BTreeMap<String, String>),
) -> AppResult<Option<(String, BTreeMap<String, String>)>> {
    let (old_source, old_data): (Option<String>, Option<String>) =
        w.conn.row("SELECT document_source, document_data FROM sessions WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let Some(old_source) = old_source else { return Ok(Some((source, fields))) };
    let old = open_map(key, id, "document_data", old_data.as_deref())?;
    let is_printed = |k: &str| printed::is_printed_key(k);
    let split = |m: &BTreeMap<String, String>| -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        m.clone().into_iter().partition(|(k, _)| !is_printed(k))
    };
    let (new_codes, new_printed) = split(&fields);
    let (old_codes, old_printed) = split(&old);
    let new_unread = new_codes.keys().all(|k| k == dom::MRZ_UNREADABLE);
    let old_read = old_codes.keys().any(|k| k != dom::MRZ_UNREADABLE);
    let (source, mut merged) =
        if new_unread && old_read { (old_source.clone(), old_codes) } else { (source, new_codes) };
    // A front read with fields beats one without; a photo that was not a front leaves the front's alone.
    let new_has_fields = new_printed.keys().any(|k| k.starts_with(printed::FIELD_PREFIX));
    let old_has_fields = old_printed.keys().any(|k| k.starts_with(printed::FIELD_PREFIX));
    merged.extend(if new_printed.is_empty() || (old_has_fields && !new_has_fields) {
        old_printed
    } else {
        new_printed
    });
    Ok((source != old_source || merged != old).then_some((source, merged)))
}

/// Ends capture: checks the required documents are there and moves to processing (live) or
/// sandbox_pending (sandbox). Returns (id, new status).
/// Checks everything before its one write, so it runs without a savepoint of its own.
pub async fn submit(writer: &Writer, meta: CommandMeta, at: SessionRef) -> AppResult<(String, String)> {
    writer
        .execute_checked_first(move |w| {
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
            let (_, graph) = crate::processing::evidence::session_graph(w.conn, &s)?;
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

/// Sandbox: a simulated expiry (spec §2.8); the other simulated outcomes are decisions (`processing`).
pub async fn simulate_expire(writer: &Writer, meta: CommandMeta, at: SessionRef) -> AppResult<(String, String)> {
    writer
        .execute(move |w| {
            let s = resolve(w, &at, &meta.now)?;
            require_sandbox(&s)?;
            let to = dom::transition(&s.status, s.redacted(), Action::Expire)?;
            emit(w, &meta, &s, vec![status_event(&s.status, to, "simulated")])?;
            Ok((s.id, to.to_string()))
        })
        .await
}

/// Simulation is for the sandbox only.
pub fn require_sandbox(s: &SessionState) -> AppResult<()> {
    if !s.sandbox() {
        return Err(AppError::Forbidden {
            code: "forbidden",
            detail: "Simulation is available in the sandbox only.".into(),
        });
    }
    Ok(())
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
    event: fn(Redacted) -> SessionEvent,
) -> AppResult<Option<i64>> {
    if s.redacted() {
        return Ok(None);
    }
    let removed = w.conn.exec("DELETE FROM sealed_blobs WHERE subject_id = ?1", [&s.id])? as i64;
    w.conn.exec("DELETE FROM subject_keys WHERE subject_id = ?1", [&s.id])?;
    emit(w, meta, s, vec![event(Redacted { documents_removed: removed })])?;
    w.request_wal_truncate();
    Ok(Some(removed))
}

pub async fn redact(writer: &Writer, meta: CommandMeta, ids: Vec<SessionId>) -> AppResult<Vec<(String, Option<i64>)>> {
    writer
        .execute(move |w| {
            let mut out = Vec::new();
            for id in ids {
                let s = require(w.conn, &meta.environment, id.as_str())?;
                out.push((s.id.clone(), redact_in(w, &meta, &s, SessionEvent::Redacted)?));
            }
            Ok(out)
        })
        .await
}

/// Sessions whose capture token lapsed by `?1` (index `sessions_awaiting_capture`).
pub(crate) const LAPSED_CAPTURE_SQL: &str =
    "SELECT id FROM sessions WHERE status IN ('pending', 'capturing') AND token_expires_at <= ?1 LIMIT 500";

/// The sweeper's work at `now`: expire sessions whose capture token lapsed. Returns ids expired.
pub async fn expire_lapsed(writer: &Writer, now: String) -> AppResult<Vec<String>> {
    writer
        .execute(move |w| {
            let ids: Vec<String> = {
                let mut stmt = w.conn.prepare_cached(LAPSED_CAPTURE_SQL)?;
                let rows = stmt.query_map([&now], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let meta = CommandMeta::untraced("system", String::new(), now.clone());
            for id in &ids {
                if let Some(s) = load_state(w.conn, None, id)? {
                    emit(w, &meta, &s, vec![status_event(&s.status, "expired", "token_expired")])?;
                }
            }
            Ok(ids)
        })
        .await
}

/// Sessions in `processing` unchanged since `?1` (index `sessions_in_processing`).
pub(crate) const STUCK_PROCESSING_SQL: &str =
    "SELECT id FROM sessions WHERE status = 'processing' AND updated_at <= ?1 ORDER BY id LIMIT 100";

/// Sessions stuck in `processing` since before `cutoff` (a restart interrupted them): the sweeper picks
/// these up. Fresh ones belong to the task that submitted them (it may be waiting on the face service).
pub fn processing_ids<C: Reads + ?Sized>(conn: &C, cutoff: &str) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(STUCK_PROCESSING_SQL)?;
    let rows = stmt.query_map([cutoff], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Validates an uploaded file (type by its bytes, readable image), computes its perceptual hash and, for a
/// document side, reads what the document itself says (barcode or MRZ, and the printed fields of the front).
/// With `sealing` (the session's id and data key, from [`upload_key`]), the image is sealed here too.
pub fn prepare_upload(
    doc_type: &str,
    mime_type: Option<&'static str>,
    bytes: Vec<u8>,
    mrz: &MrzService,
    printed: &PrintedService,
    today: time::Date,
    sealing: Option<(String, DataKey)>,
) -> AppResult<CaptureStep> {
    if !dom::UPLOAD_TYPES.contains(&doc_type) {
        return Err(AppError::validation("document_type", format!("must be one of {}", dom::UPLOAD_TYPES.join(", "))));
    }
    let mime = mime_type.ok_or_else(|| AppError::validation("file", "must be a JPEG, PNG, WebP or PDF file"))?;
    if bytes.is_empty() {
        return Err(AppError::validation("file", "is empty"));
    }
    // Decoded once: its hash, barcodes, zone and printed text are all read from these grey levels.
    let luma = if mime.starts_with("image/") && mime != "image/webp" {
        match crate::checks::imagehash::decode_bounded(&bytes) {
            Ok(image) => Some(crate::checks::grey::luma8(image)),
            Err(_) => return Err(AppError::validation("file", "is not a readable image")),
        }
    } else {
        None
    };
    let phash = luma.as_ref().map(|l| crate::checks::imagehash::phash_luma(l).to_hex());
    if doc_type == "selfie" && mime == "application/pdf" {
        return Err(AppError::validation("file", "a selfie must be a photo (JPEG, PNG or WebP)"));
    }
    let read = match &luma {
        Some(luma) if doc_type == "id_front" || doc_type == "id_back" => {
            Some(read_document(luma, doc_type == "id_front", mrz, printed, today))
        }
        _ => None,
    };
    let size_bytes = bytes.len() as i64;
    let image = match sealing {
        Some((session_id, key)) => UploadImage::Sealed(seal_image(&key, &session_id, &bytes)),
        None => UploadImage::Plain(bytes),
    };
    Ok(CaptureStep::Upload {
        doc_type: doc_type.to_string(),
        mime_type: mime.to_string(),
        size_bytes,
        image,
        phash,
        read,
    })
}

/// What the document says: an AAMVA PDF417 (driver's licences), a QR code carrying an MRZ, or the MRZ
/// printed on the photo. With none of them, the reading says why no MRZ was read (`mrz_unreadable`): the
/// document check decides whether this document should have had one.
/// With `front`, the printed fields are read too (`printed.<field>`, with `printed_confidence.<field>`), or
/// why they could not be (`printed_unread`).
/// `luma` is the upload already decoded to grey levels.
fn read_document(
    luma: &image::GrayImage,
    front: bool,
    mrz: &MrzService,
    printed: &PrintedService,
    today: time::Date,
) -> (String, BTreeMap<String, String>) {
    let (source, mut fields, upright) = read_codes(luma, mrz, today);
    if front {
        fields.extend(printed_reading(printed.read_luma(luma, upright)));
    }
    (source, fields)
}

/// The printed fields of a reading as document-data entries.
pub fn printed_reading(outcome: PrintedOutcome) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match outcome {
        PrintedOutcome::Read(read) if !read.fields.is_empty() => {
            for f in read.fields {
                out.insert(format!("{}{}", printed::FIELD_PREFIX, f.name), f.value);
                out.insert(format!("{}{}", printed::CONFIDENCE_PREFIX, f.name), format!("{:.2}", f.confidence));
            }
        }
        PrintedOutcome::Read(_) => {
            out.insert(printed::UNREAD.into(), "no labelled printed field was found on the photo".into());
        }
        PrintedOutcome::NotRead { reason } => {
            out.insert(printed::UNREAD.into(), reason);
        }
    }
    out
}

/// The barcode or MRZ reading, and the rotation that made the MRZ upright (a hint for the printed text).
fn read_codes(
    luma: &image::GrayImage,
    mrz: &MrzService,
    today: time::Date,
) -> (String, BTreeMap<String, String>, Option<f32>) {
    use crate::checks::barcode::{parse_aamva, read_barcodes_luma, BarcodeFormat};
    let codes = read_barcodes_luma(luma).unwrap_or_default();
    if let Some(fields) =
        codes.iter().filter(|c| c.format == BarcodeFormat::Pdf417).find_map(|c| parse_aamva(&c.text).ok())
    {
        return ("pdf417".into(), fields.to_fields(), None);
    }
    let qr_mrz = codes.iter().find(|c| {
        c.format == BarcodeFormat::QrCode
            && crate::checks::mrz::parse(&c.text, &crate::checks::mrz::ParseOptions::new(time::Date::MIN)).is_ok()
    });
    if let Some(code) = qr_mrz {
        return ("qr_mrz".into(), BTreeMap::from([("mrz".to_string(), code.text.clone())]), None);
    }
    let (field, upright) = match mrz.read_luma(luma, today) {
        MrzImageOutcome::Read(read) => (("mrz".to_string(), read.lines.join("\n")), Some(read.rotation_deg)),
        MrzImageOutcome::NoRead { reason, .. } => ((dom::MRZ_UNREADABLE.to_string(), reason), None),
    };
    ("mrz_image".into(), BTreeMap::from([field]), upright)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn opened(key: &DataKey, session_id: &str, image: &SealedImage) -> Result<Vec<u8>, String> {
        key.open_image(session_id, "document", &image.blob_id, &image.sealed).map_err(|e| e.to_string())
    }

    #[test]
    fn an_image_sealed_before_the_write_is_stored_as_sealed_and_only_for_its_session() {
        let keyring = Keyring::new(&MasterKey::from_bytes([9u8; 32]));
        let (key, _) = keyring.new_data_key("ses_a");
        let bytes = b"\x89PNG not really".to_vec();

        let early = seal_image(&key, "ses_a", &bytes);
        let blob = early.blob_id.clone();
        let stored = image_for(UploadImage::Sealed(early), &key, "ses_a").unwrap();
        assert_eq!(stored.blob_id, blob, "the early seal is kept, not redone");
        assert_eq!(opened(&key, "ses_a", &stored).unwrap(), bytes);
        assert!(opened(&key, "ses_b", &stored).is_err(), "bound to its session");

        let other = seal_image(&key, "ses_a", &bytes);
        assert!(matches!(image_for(UploadImage::Sealed(other), &key, "ses_b"), Err(AppError::Conflict(_))));

        let late = image_for(UploadImage::Plain(bytes.clone()), &key, "ses_a").unwrap();
        assert_eq!(opened(&key, "ses_a", &late).unwrap(), bytes);
    }
}
