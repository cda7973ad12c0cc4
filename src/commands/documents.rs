//! Document commands: standalone upload (bytes sealed under the subject's data key: the identity's, the
//! session's, or a key of the document's own), update, classification, extraction (values sealed) with
//! the document checks, and redaction (sealed bytes deleted, the document's own key destroyed); and the
//! custom document type and document group settings. Reading a file's facts (decoding, barcodes) runs
//! before the writer, on the CPU pool, through [`prepare`]. Must not render responses or log
//! document content.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::checks::document_facts::{self as facts, Facts};
use crate::checks::mrz_image::{MrzImageOutcome, MrzService};
use crate::checks::printed::PrintedService;
use crate::crypto::DataKey;
use crate::domain::document::{
    self as dom, Classified, DocumentCommand, DocumentEvent, DocumentState, Extracted, Rules, Updated, Uploaded,
};
use crate::domain::document_type::{
    self as types, DocumentTypeCommand, DocumentTypeEvent, DocumentTypeSlug, GroupCreated, GroupUpdated, TypeCreated,
    TypeUpdated,
};
use crate::domain::ids::{self, DocumentGroupId, DocumentId, DocumentTypeId, ExtractionId, IdentityId, SessionId};
use crate::domain::values::{CalendarDate, Label, LongText};
use crate::error::{AppError, AppResult};
use crate::store::events::{stream_version, NewEvent};
use crate::store::subject_keys::data_key;
use crate::store::Exec;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use time::Date;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A file ready for a document: its type from the magic bytes and its facts.
pub struct Prepared {
    pub mime_type: String,
    pub bytes: Vec<u8>,
    pub facts: Facts,
}

/// Checks the file's type by its magic bytes and reads its facts (the 10 MB limit is the upload extractor's,
/// `http::body::Upload`). Blocking: decoding and barcode scanning take up to a second.
pub fn prepare(
    mime_type: Option<&'static str>,
    bytes: Vec<u8>,
    mrz: &MrzService,
    printed: &PrintedService,
    today: Date,
) -> AppResult<Prepared> {
    if bytes.is_empty() {
        return Err(AppError::validation("file", "is empty"));
    }
    let mime = mime_type.ok_or_else(|| AppError::validation("file", "must be a JPEG, PNG, WebP or PDF file"))?;
    let facts =
        read_facts(&bytes, mime, mrz, printed, today).map_err(|e| AppError::validation("file", e.to_string()))?;
    Ok(Prepared { mime_type: mime.to_string(), bytes, facts })
}

/// The facts with both readers: the MRZ first, whose rotation then turns the page upright for Tesseract.
fn read_facts(
    bytes: &[u8],
    mime: &str,
    mrz: &MrzService,
    printed: &PrintedService,
    today: Date,
) -> Result<Facts, facts::FactsError> {
    let upright = std::cell::Cell::new(None);
    let read_zone = |luma: &image::GrayImage| match mrz.read_luma(luma, today) {
        MrzImageOutcome::Read(r) => {
            upright.set(Some(r.rotation_deg));
            Some(r.lines.join("\n"))
        }
        _ => None,
    };
    let read_printed = |luma: &image::GrayImage| printed.read_luma(luma, upright.get());
    facts::facts(bytes, mime, Some(&read_zone), Some(&read_printed))
}

/// The facts of stored bytes (classify and extract again); the bytes were checked at upload.
pub fn facts_of(
    mime_type: &str,
    bytes: &[u8],
    mrz: &MrzService,
    printed: &PrintedService,
    today: Date,
) -> AppResult<Facts> {
    read_facts(bytes, mime_type, mrz, printed, today)
        .map_err(|e| AppError::Conflict(format!("The stored file can no longer be read: {e}.")))
}

pub struct UploadDocument {
    pub document_type: DocumentTypeSlug,
    pub identity_id: Option<IdentityId>,
    pub session_id: Option<SessionId>,
    pub poa_document_type: Option<String>,
    pub poa_document_date: Option<CalendarDate>,
    pub metadata: Map<String, Value>,
    pub file: Prepared,
}

#[derive(Default)]
pub struct UpdateDocument {
    pub document_type: Option<DocumentTypeSlug>,
    pub poa_document_type: Option<Option<String>>,
    pub poa_document_date: Option<Option<CalendarDate>>,
    pub metadata: Option<Map<String, Value>>,
    pub version: Option<i64>,
}

/// A document as the writer sees it.
struct Loaded {
    state: DocumentState,
    subject_id: String,
    source: String,
}

fn load(conn: &Connection, environment: &str, id: &str) -> AppResult<Option<Loaded>> {
    let row = conn
        .row(
            "SELECT source, document_type, mime_type, poa_document_type, poa_document_date, classification,
                    classification_confidence, status, subject_id,
                    (SELECT status FROM document_checks c WHERE c.document_id = d.id AND c.name = 'mrz_check_digits')
             FROM documents d WHERE id = ?1 AND environment = ?2",
            params![id, environment],
            |r| {
                let classification: Option<String> = r.get(5)?;
                let confidence: Option<f64> = r.get(6)?;
                let mrz: Option<String> = r.get(9)?;
                Ok(Loaded {
                    state: DocumentState {
                        id: id.to_string(),
                        version: 0,
                        source: r.get(0)?,
                        document_type: r.get(1)?,
                        mime_type: r.get(2)?,
                        poa_document_type: r.get(3)?,
                        poa_document_date: r.get(4)?,
                        classification: classification.map(|c| (c, confidence.unwrap_or(0.0))),
                        mrz_valid: mrz.map(|s| s == dom::PASSED),
                        redacted: r.get::<_, String>(7)? == dom::STATUS_REDACTED,
                    },
                    subject_id: r.get(8)?,
                    source: r.get(0)?,
                })
            },
        )
        .optional()?;
    match row {
        None => Ok(None),
        Some(mut l) => {
            l.state.version = stream_version(conn, id)?;
            Ok(Some(l))
        }
    }
}

fn require(conn: &Connection, environment: &str, id: &str) -> AppResult<Loaded> {
    load(conn, environment, id)?.ok_or_else(|| AppError::not_found("Document"))
}

/// The custom type's hints and check suite, or None when `slug` is neither built in nor an active custom
/// type of the environment.
fn type_settings(
    conn: &Connection,
    environment: &str,
    slug: &str,
) -> AppResult<Option<(Map<String, Value>, Vec<Vec<String>>)>> {
    if dom::BUILTIN_TYPES.contains(&slug) {
        return Ok(Some((Map::new(), Vec::new())));
    }
    let row: Option<(String, String)> = conn
        .row(
            "SELECT extraction_hints, check_suite FROM document_types WHERE environment = ?1 AND slug = ?2 AND is_active = 1",
            params![environment, slug],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => Ok(None),
        Some((h, s)) => Ok(Some((serde_json::from_str(&h)?, serde_json::from_str(&s)?))),
    }
}

fn require_type(conn: &Connection, environment: &str, slug: &str) -> AppResult<(Map<String, Value>, Vec<Vec<String>>)> {
    // A well-formed slug that names no type is a type that does not exist, like an unknown id.
    type_settings(conn, environment, slug)?.ok_or_else(|| {
        AppError::NotFound(format!(
            "Document type '{slug}' not found: use id_front, id_back, selfie, proof_of_address or an active custom type."
        ))
    })
}

/// The rules for a document of `document_type`: the first active group (lowest priority) that lists it,
/// else the default group; and the type's check suite.
fn rules(conn: &Connection, environment: &str, document_type: &str, suite: &[Vec<String>]) -> AppResult<Rules> {
    let group: Option<(String, String)> = conn
        .row(
            "SELECT id, recency_config FROM document_groups g
             WHERE environment = ?1 AND is_active = 1
               AND (EXISTS (SELECT 1 FROM json_each(g.classifications) WHERE value = ?2) OR is_default = 1)
             ORDER BY EXISTS (SELECT 1 FROM json_each(g.classifications) WHERE value = ?2) DESC, priority, created_at, id
             LIMIT 1",
            params![environment, document_type],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (group_id, max_age_days) = match group {
        None => (None, None),
        Some((id, recency)) => {
            let recency: Value = serde_json::from_str(&recency)?;
            (Some(id), recency["max_age_days"].as_i64())
        }
    };
    Ok(Rules {
        group_id,
        max_age_days,
        suite: suite.iter().filter_map(|t| Some((t.first()?.clone(), t.get(2)?.clone()))).collect(),
        builtin: dom::BUILTIN_TYPES.contains(&document_type),
    })
}

fn subject_key(w: &WriteCtx<'_>, subject_id: &str) -> AppResult<DataKey> {
    data_key(w.conn, w.keyring, subject_id)?
        .ok_or_else(|| AppError::Conflict("The data this document belongs to has been erased.".into()))
}

fn compile_hints(hints: &Map<String, Value>) -> AppResult<Vec<(String, facts::Hint)>> {
    types::parse_hints(hints)
}

/// Runs extraction and seals its values: the event carries field names in clear and the map sealed.
/// What the facts give, sealed; `now` (the command's time) places the zone's two-digit years.
fn extraction(
    key: &DataKey,
    subject_id: &str,
    f: &Facts,
    hints: &Map<String, Value>,
    now: &str,
) -> AppResult<Extracted> {
    let today = crate::clock::parse(now).map(|t| t.date()).unwrap_or(time::Date::MIN);
    let x = facts::extract(f, &compile_hints(hints)?, today);
    let extraction_id = ExtractionId::new().into_string();
    let data = if x.fields.is_empty() {
        None
    } else {
        let plain = serde_json::to_string(&x.fields)?;
        Some(B64.encode(key.seal(subject_id, &format!("document_extraction:{extraction_id}"), &plain)))
    };
    Ok(Extracted {
        extraction_id,
        sources: x.sources,
        fields: x.fields.keys().cloned().collect(),
        data,
        confidence: x.confidence,
        mrz_valid: x.mrz_valid,
    })
}

fn classified(f: &Facts) -> Classified {
    let c = facts::classify(f);
    Classified {
        classification: c.classification,
        confidence: c.confidence,
        signals: c.signals,
        width: f.width,
        height: f.height,
        page_count: f.page_count,
    }
}

fn emit(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    environment: &str,
    id: &str,
    version: i64,
    events: Vec<DocumentEvent>,
) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut m = meta.event_meta();
    m.environment = environment.to_string();
    let events = events
        .iter()
        .map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() })
        .collect();
    w.emit(&m, id, version, events)?;
    Ok(())
}

/// Where an upload's bytes are sealed: its identity, else its session, else a key of its own (`None`).
fn linked_subject(w: &WriteCtx<'_>, env: &str, input: &UploadDocument) -> AppResult<Option<String>> {
    if let Some(session) = &input.session_id {
        let found: Option<String> = w
            .conn
            .row(
                "SELECT retention_status FROM sessions WHERE id = ?1 AND environment = ?2",
                params![session.as_str(), env],
                |r| r.get(0),
            )
            .optional()?;
        match found.as_deref() {
            None => return Err(AppError::not_found("Session")),
            Some("active") => {}
            Some(_) => return Err(AppError::Conflict("This session's data has been erased.".into())),
        }
    }
    if let Some(identity) = &input.identity_id {
        let found: Option<String> = w
            .conn
            .row(
                "SELECT status FROM identities WHERE id = ?1 AND environment = ?2",
                params![identity.as_str(), env],
                |r| r.get(0),
            )
            .optional()?;
        if found.is_none() {
            return Err(AppError::not_found("Identity"));
        }
        return Ok(Some(identity.as_str().to_string()));
    }
    Ok(input.session_id.as_ref().map(|s| s.as_str().to_string()))
}

pub async fn upload(writer: &Writer, meta: CommandMeta, input: UploadDocument) -> AppResult<DocumentId> {
    writer.execute(move |w| upload_in(w, &meta, input)).await
}

/// Records an uploaded document inside the caller's transaction.
pub fn upload_in(w: &mut WriteCtx<'_>, meta: &CommandMeta, input: UploadDocument) -> AppResult<DocumentId> {
    let env = meta.environment.clone();
    let id = DocumentId::new().into_string();
    let (hints, suite) = require_type(w.conn, &env, input.document_type.as_str())?;
    let subject_id = match linked_subject(w, &env, &input)? {
        Some(s) => s,
        None => {
            let (_, wrapped) = w.keyring.new_data_key(&id);
            w.conn.exec("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)", params![id, wrapped])?;
            id.clone()
        }
    };
    let key = subject_key(w, &subject_id)?;
    let blob_id = ids::new_id(ids::BLOB);
    let file = &input.file;
    let sealed = key.seal_image(&subject_id, "document", &blob_id, &file.bytes);
    w.conn.exec(
        "INSERT INTO sealed_blobs (blob_id, subject_id, sealed) VALUES (?1, ?2, ?3)",
        params![blob_id, subject_id, sealed],
    )?;
    let extracted = extraction(&key, &subject_id, &file.facts, &hints, &meta.now)?;
    let uploaded = Uploaded {
        source: dom::SOURCE_API.into(),
        session_id: input.session_id.as_ref().map(|s| s.as_str().to_string()),
        identity_id: input.identity_id.as_ref().map(|s| s.as_str().to_string()),
        subject_id,
        document_type: input.document_type.as_str().to_string(),
        mime_type: file.mime_type.clone(),
        size_bytes: file.bytes.len() as i64,
        page_count: file.facts.page_count,
        blob_id,
        poa_document_type: input.poa_document_type.clone(),
        poa_document_date: input.poa_document_date.as_ref().map(|d| d.as_str().to_string()),
        metadata: input.metadata.clone(),
    };
    let rules = rules(w.conn, &env, input.document_type.as_str(), &suite)?;
    let command =
        DocumentCommand::Upload { uploaded: Box::new(uploaded), classified: classified(&file.facts), extracted };
    let events = dom::decide(None, command, &rules, &meta.ctx())?;
    emit(w, meta, &env, &id, 0, events)?;
    Ok(DocumentId::from_stored(id))
}

pub async fn update(writer: &Writer, meta: CommandMeta, id: DocumentId, input: UpdateDocument) -> AppResult<()> {
    writer
        .execute(move |w| {
            let env = meta.environment.clone();
            let l = require(w.conn, &env, id.as_str())?;
            let new_type = input.document_type.as_ref().map(|t| t.as_str().to_string());
            let effective = new_type.clone().unwrap_or_else(|| l.state.document_type.clone());
            let (_, suite) = require_type(w.conn, &env, &effective)?;
            let update = Updated {
                document_type: new_type.filter(|t| *t != l.state.document_type),
                poa_document_type: input.poa_document_type,
                poa_document_date: input.poa_document_date.map(|d| d.map(CalendarDate::into_string)),
                metadata: input.metadata,
            };
            let rules = rules(w.conn, &env, &effective, &suite)?;
            let command = DocumentCommand::Update { update, expected_version: input.version };
            let events = dom::decide(Some(&l.state), command, &rules, &meta.ctx())?;
            emit(w, &meta, &env, id.as_str(), l.state.version, events)
        })
        .await
}

pub async fn classify(writer: &Writer, meta: CommandMeta, id: DocumentId, f: Facts) -> AppResult<()> {
    writer
        .execute(move |w| {
            let env = meta.environment.clone();
            let l = require(w.conn, &env, id.as_str())?;
            let events =
                dom::decide(Some(&l.state), DocumentCommand::Classify(classified(&f)), &Rules::default(), &meta.ctx())?;
            emit(w, &meta, &env, id.as_str(), l.state.version, events)
        })
        .await
}

pub async fn extract(writer: &Writer, meta: CommandMeta, id: DocumentId, f: Facts) -> AppResult<()> {
    writer
        .execute(move |w| {
            let env = meta.environment.clone();
            let l = require(w.conn, &env, id.as_str())?;
            if l.state.redacted {
                return Err(AppError::Conflict("This document has been redacted.".into()));
            }
            let (hints, suite) = type_settings(w.conn, &env, &l.state.document_type)?.unwrap_or_default();
            let key = subject_key(w, &l.subject_id)?;
            let x = extraction(&key, &l.subject_id, &f, &hints, &meta.now)?;
            let rules = rules(w.conn, &env, &l.state.document_type, &suite)?;
            let events = dom::decide(Some(&l.state), DocumentCommand::Extract(x), &rules, &meta.ctx())?;
            emit(w, &meta, &env, id.as_str(), l.state.version, events)
        })
        .await
}

/// Redacts a standalone document: its sealed bytes are deleted and, when it had a key of its own, the key
/// is destroyed (its extracted values become unreadable with it).
pub async fn redact(writer: &Writer, meta: CommandMeta, id: DocumentId) -> AppResult<()> {
    writer
        .execute(move |w| {
            let env = meta.environment.clone();
            let l = require(w.conn, &env, id.as_str())?;
            if l.state.redacted {
                return Ok(());
            }
            if l.source == dom::SOURCE_SESSION {
                // Refused by `decide`; nothing may be deleted first.
                let command = DocumentCommand::Redact { blob_removed: false, key_destroyed: false };
                dom::decide(Some(&l.state), command, &Rules::default(), &meta.ctx())?;
            }
            let blob: Option<String> =
                w.conn.row("SELECT blob_id FROM documents WHERE id = ?1", [id.as_str()], |r| r.get(0))?;
            let blob_removed = match &blob {
                Some(b) => w.conn.exec("DELETE FROM sealed_blobs WHERE blob_id = ?1", [b])? > 0,
                None => false,
            };
            let key_destroyed = l.subject_id == id.as_str()
                && w.conn.exec("DELETE FROM subject_keys WHERE subject_id = ?1", [id.as_str()])? > 0;
            let command = DocumentCommand::Redact { blob_removed, key_destroyed };
            let events = dom::decide(Some(&l.state), command, &Rules::default(), &meta.ctx())?;
            emit(w, &meta, &env, id.as_str(), l.state.version, events)?;
            w.request_wal_truncate();
            Ok(())
        })
        .await
}

// ------------------------------------------------------------------------------------------ settings

pub struct CreateDocumentType {
    pub slug: DocumentTypeSlug,
    pub label: Label,
    pub category: String,
    pub description: Option<LongText>,
    pub extraction_hints: Map<String, Value>,
    pub check_suite: Vec<Vec<String>>,
}

#[derive(Default)]
pub struct UpdateDocumentType {
    pub label: Option<Label>,
    pub category: Option<String>,
    pub description: Option<Option<LongText>>,
    pub extraction_hints: Option<Map<String, Value>>,
    pub check_suite: Option<Vec<Vec<String>>>,
    pub is_active: Option<bool>,
}

pub struct DocumentGroupInput {
    pub name: Label,
    pub description: Option<LongText>,
    pub classifications: Vec<DocumentTypeSlug>,
    pub extraction_config: Map<String, Value>,
    pub check_config: Map<String, Value>,
    pub recency_config: Map<String, Value>,
    pub is_default: bool,
    pub priority: i64,
}

#[derive(Default)]
pub struct UpdateDocumentGroup {
    pub name: Option<Label>,
    pub description: Option<Option<LongText>>,
    pub classifications: Option<Vec<DocumentTypeSlug>>,
    pub extraction_config: Option<Map<String, Value>>,
    pub check_config: Option<Map<String, Value>>,
    pub recency_config: Option<Map<String, Value>>,
    pub is_default: Option<bool>,
    pub priority: Option<i64>,
    pub is_active: Option<bool>,
}

fn setting_exists(conn: &Connection, table: &str, environment: &str, id: &str) -> AppResult<bool> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = ?1 AND environment = ?2");
    Ok(conn.row(&sql, params![id, environment], |r| r.get::<_, i64>(0))? > 0)
}

fn emit_setting(w: &mut WriteCtx<'_>, meta: &CommandMeta, id: &str, events: Vec<DocumentTypeEvent>) -> AppResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let version = stream_version(w.conn, id)?;
    let events = events
        .iter()
        .map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() })
        .collect();
    w.emit(&meta.event_meta(), id, version, events)?;
    Ok(())
}

fn slugs(v: Vec<DocumentTypeSlug>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if !out.iter().any(|x| x == s.as_str()) {
            out.push(s.into_string());
        }
    }
    out
}

pub async fn create_type(writer: &Writer, meta: CommandMeta, input: CreateDocumentType) -> AppResult<DocumentTypeId> {
    writer
        .execute(move |w| {
            let taken: bool = w.conn.row(
                "SELECT COUNT(*) > 0 FROM document_types WHERE environment = ?1 AND slug = ?2",
                params![meta.environment, input.slug.as_str()],
                |r| r.get(0),
            )?;
            if taken {
                return Err(AppError::Conflict(format!("A document type with slug '{}' exists.", input.slug)));
            }
            let id = DocumentTypeId::new();
            let created = TypeCreated {
                slug: input.slug.into_string(),
                label: input.label.into_string(),
                category: input.category,
                description: input.description.map(LongText::into_string),
                extraction_hints: input.extraction_hints,
                check_suite: input.check_suite,
            };
            let events = types::decide(false, DocumentTypeCommand::CreateType(created))?;
            emit_setting(w, &meta, id.as_str(), events)?;
            Ok(id)
        })
        .await
}

pub async fn update_type(
    writer: &Writer,
    meta: CommandMeta,
    id: DocumentTypeId,
    input: UpdateDocumentType,
) -> AppResult<()> {
    writer
        .execute(move |w| {
            let exists = setting_exists(w.conn, "document_types", &meta.environment, id.as_str())?;
            let update = TypeUpdated {
                label: input.label.map(Label::into_string),
                category: input.category,
                description: input.description.map(|d| d.map(LongText::into_string)),
                extraction_hints: input.extraction_hints,
                check_suite: input.check_suite,
                is_active: input.is_active,
            };
            let events = types::decide(exists, DocumentTypeCommand::UpdateType(update))?;
            emit_setting(w, &meta, id.as_str(), events)
        })
        .await
}

pub async fn delete_type(writer: &Writer, meta: CommandMeta, id: DocumentTypeId) -> AppResult<()> {
    writer
        .execute(move |w| {
            let exists = setting_exists(w.conn, "document_types", &meta.environment, id.as_str())?;
            let events = types::decide(exists, DocumentTypeCommand::DeleteType)?;
            emit_setting(w, &meta, id.as_str(), events)
        })
        .await
}

pub async fn create_group(writer: &Writer, meta: CommandMeta, input: DocumentGroupInput) -> AppResult<DocumentGroupId> {
    writer
        .execute(move |w| {
            let id = DocumentGroupId::new();
            let created = GroupCreated {
                name: input.name.into_string(),
                description: input.description.map(LongText::into_string),
                classifications: slugs(input.classifications),
                extraction_config: input.extraction_config,
                check_config: input.check_config,
                recency_config: input.recency_config,
                is_default: input.is_default,
                priority: input.priority,
            };
            let events = types::decide(false, DocumentTypeCommand::CreateGroup(created))?;
            emit_setting(w, &meta, id.as_str(), events)?;
            Ok(id)
        })
        .await
}

pub async fn update_group(
    writer: &Writer,
    meta: CommandMeta,
    id: DocumentGroupId,
    input: UpdateDocumentGroup,
) -> AppResult<()> {
    writer
        .execute(move |w| {
            let exists = setting_exists(w.conn, "document_groups", &meta.environment, id.as_str())?;
            let update = GroupUpdated {
                name: input.name.map(Label::into_string),
                description: input.description.map(|d| d.map(LongText::into_string)),
                classifications: input.classifications.map(slugs),
                extraction_config: input.extraction_config,
                check_config: input.check_config,
                recency_config: input.recency_config,
                is_default: input.is_default,
                priority: input.priority,
                is_active: input.is_active,
            };
            let events = types::decide(exists, DocumentTypeCommand::UpdateGroup(update))?;
            emit_setting(w, &meta, id.as_str(), events)
        })
        .await
}

pub async fn delete_group(writer: &Writer, meta: CommandMeta, id: DocumentGroupId) -> AppResult<()> {
    writer
        .execute(move |w| {
            let exists = setting_exists(w.conn, "document_groups", &meta.environment, id.as_str())?;
            let events = types::decide(exists, DocumentTypeCommand::DeleteGroup)?;
            emit_setting(w, &meta, id.as_str(), events)
        })
        .await
}
