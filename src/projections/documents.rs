//! Projects document events into `documents`, `document_extractions` and `document_checks`; session
//! uploads (`SessionDocumentUploaded`) into the same `documents` rows (one per session slot, replaced by a
//! re-upload, its id taken from the first upload's blob id so a replay gives the same id); session and
//! identity erasure into redacted rows; and custom document type and group events into `document_types`
//! and `document_groups`. Copies sealed values as they are. Must not write any other table or open
//! anything sealed.

use crate::domain::document::{DocumentEvent, SOURCE_SESSION, STATUS_PENDING, STATUS_REDACTED};
use crate::domain::document_type::DocumentTypeEvent;
use crate::domain::session::SessionEvent;
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::undecodable;

/// The session events documents follow: uploads and erasure.
/// `decoded` is `event` as the session event it records (decoded once by the caller).
pub fn on_session(conn: &Connection, event: &StoredEvent, decoded: &SessionEvent) -> AppResult<()> {
    let (id, at) = (&event.stream_id, &event.recorded_at);
    match decoded {
        SessionEvent::DocumentUploaded(e) => {
            let existing: Option<String> = conn
                .row(
                    "SELECT id FROM documents WHERE session_id = ?1 AND session_slot = ?2",
                    params![id, e.doc_type],
                    |r| r.get(0),
                )
                .optional()?;
            match existing {
                Some(doc) => {
                    conn.exec(
                        "UPDATE documents SET mime_type = ?1, size_bytes = ?2, blob_id = ?3, status = ?4,
                            page_count = NULL, width = NULL, height = NULL, classification = NULL,
                            classification_confidence = NULL, classification_signals = NULL, extraction_id = NULL,
                            extracted_fields = '[]', extracted_data = NULL, group_id = NULL, updated_at = ?5
                         WHERE id = ?6",
                        params![e.mime_type, e.size_bytes, e.blob_id, STATUS_PENDING, at, doc],
                    )?;
                    conn.exec("DELETE FROM document_checks WHERE document_id = ?1", [&doc])?;
                }
                None => {
                    let suffix = e.blob_id.rsplit('_').next().unwrap_or(&e.blob_id);
                    conn.exec(
                        "INSERT INTO documents (id, environment, source, session_id, session_slot, identity_id, subject_id,
                            document_type, status, mime_type, size_bytes, blob_id, metadata, version, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?4, ?5, ?6, ?7, ?8, ?9, '{}', 0, ?10, ?10)",
                        params![
                            format!("doc_{suffix}"),
                            event.environment,
                            SOURCE_SESSION,
                            id,
                            e.doc_type,
                            STATUS_PENDING,
                            e.mime_type,
                            e.size_bytes,
                            e.blob_id,
                            at
                        ],
                    )?;
                }
            }
        }
        SessionEvent::Redacted(_) | SessionEvent::RetentionExpired(_) => erased(conn, id, at)?,
        _ => {}
    }
    Ok(())
}

/// A subject's data key was destroyed (session or identity erasure): its documents are redacted.
pub fn erased(conn: &Connection, subject_id: &str, at: &str) -> AppResult<()> {
    conn.exec(
        "UPDATE document_extractions SET data = NULL
         WHERE document_id IN (SELECT id FROM documents WHERE subject_id = ?1)",
        [subject_id],
    )?;
    conn.exec(
        "UPDATE documents SET status = ?1, blob_id = NULL, extracted_data = NULL,
            redacted_at = COALESCE(redacted_at, ?2), updated_at = ?2
         WHERE subject_id = ?3",
        params![STATUS_REDACTED, at, subject_id],
    )?;
    Ok(())
}

fn json(v: &impl serde::Serialize) -> AppResult<String> {
    Ok(serde_json::to_string(v)?)
}

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    if let Some(e) = DocumentTypeEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| undecodable(event, e))?
    {
        return apply_setting(conn, event, e);
    }
    let Some(e) = DocumentEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| undecodable(event, e))?
    else {
        return Ok(());
    };
    let (id, at, seq) = (&event.stream_id, &event.recorded_at, event.stream_seq);
    match e {
        DocumentEvent::Uploaded(u) => {
            conn.exec(
                "INSERT INTO documents (id, environment, source, session_id, session_slot, identity_id, subject_id,
                    document_type, status, mime_type, size_bytes, page_count, blob_id, poa_document_type,
                    poa_document_date, metadata, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)",
                params![
                    id,
                    event.environment,
                    u.source,
                    u.session_id,
                    u.identity_id,
                    u.subject_id,
                    u.document_type,
                    STATUS_PENDING,
                    u.mime_type,
                    u.size_bytes,
                    u.page_count,
                    u.blob_id,
                    u.poa_document_type,
                    u.poa_document_date,
                    json(&u.metadata)?,
                    seq,
                    at
                ],
            )?;
        }
        DocumentEvent::Updated(u) => {
            if let Some(t) = &u.document_type {
                conn.exec("UPDATE documents SET document_type = ?1 WHERE id = ?2", params![t, id])?;
            }
            if let Some(t) = &u.poa_document_type {
                conn.exec("UPDATE documents SET poa_document_type = ?1 WHERE id = ?2", params![t, id])?;
            }
            if let Some(d) = &u.poa_document_date {
                conn.exec("UPDATE documents SET poa_document_date = ?1 WHERE id = ?2", params![d, id])?;
            }
            if let Some(m) = &u.metadata {
                conn.exec("UPDATE documents SET metadata = ?1 WHERE id = ?2", params![json(m)?, id])?;
            }
        }
        DocumentEvent::Classified(c) => {
            conn.exec(
                "UPDATE documents SET classification = ?1, classification_confidence = ?2, classification_signals = ?3,
                    width = ?4, height = ?5, page_count = ?6 WHERE id = ?7",
                params![c.classification, c.confidence, json(&c.signals)?, c.width, c.height, c.page_count, id],
            )?;
        }
        DocumentEvent::Extracted(x) => {
            conn.exec(
                "INSERT INTO document_extractions (id, document_id, sources, fields, data, confidence, event_seq, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![x.extraction_id, id, json(&x.sources)?, json(&x.fields)?, x.data, x.confidence, event.seq, at],
            )?;
            conn.exec(
                "UPDATE documents SET extraction_id = ?1, extracted_fields = ?2, extracted_data = ?3 WHERE id = ?4",
                params![x.extraction_id, json(&x.fields)?, x.data, id],
            )?;
        }
        DocumentEvent::Checked(c) => {
            conn.exec("DELETE FROM document_checks WHERE document_id = ?1", [id])?;
            for (i, check) in c.checks.iter().enumerate() {
                conn.exec(
                    "INSERT INTO document_checks (document_id, name, position, status, requirement, reason, checked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![id, check.name, i as i64, check.status, check.requirement, check.reason, at],
                )?;
            }
            conn.exec(
                "UPDATE documents SET status = ?1, group_id = ?2 WHERE id = ?3",
                params![c.status, c.group_id, id],
            )?;
        }
        DocumentEvent::Redacted(_) => {
            conn.exec("UPDATE document_extractions SET data = NULL WHERE document_id = ?1", [id])?;
            conn.exec(
                "UPDATE documents SET status = ?1, blob_id = NULL, extracted_data = NULL, redacted_at = ?2 WHERE id = ?3",
                params![STATUS_REDACTED, at, id],
            )?;
        }
    }
    conn.exec("UPDATE documents SET version = ?1, updated_at = ?2 WHERE id = ?3", params![seq, at, id])?;
    Ok(())
}

fn apply_setting(conn: &Connection, event: &StoredEvent, e: DocumentTypeEvent) -> AppResult<()> {
    use DocumentTypeEvent as E;
    let (id, at, env) = (&event.stream_id, &event.recorded_at, &event.environment);
    match e {
        E::TypeCreated(t) => {
            conn.exec(
                "INSERT INTO document_types (id, environment, slug, label, category, description, extraction_hints,
                    check_suite, is_active, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?9)",
                params![
                    id,
                    env,
                    t.slug,
                    t.label,
                    t.category,
                    t.description,
                    json(&t.extraction_hints)?,
                    json(&t.check_suite)?,
                    at
                ],
            )?;
        }
        E::TypeUpdated(u) => {
            let set = |column: &str, value: &dyn rusqlite::ToSql| -> AppResult<()> {
                conn.exec(&format!("UPDATE document_types SET {column} = ?1 WHERE id = ?2"), params![value, id])?;
                Ok(())
            };
            if let Some(v) = &u.label {
                set("label", v)?;
            }
            if let Some(v) = &u.category {
                set("category", v)?;
            }
            if let Some(v) = &u.description {
                set("description", v)?;
            }
            if let Some(v) = &u.extraction_hints {
                set("extraction_hints", &json(v)?)?;
            }
            if let Some(v) = &u.check_suite {
                set("check_suite", &json(v)?)?;
            }
            if let Some(v) = &u.is_active {
                set("is_active", v)?;
            }
            set("updated_at", at)?;
        }
        E::TypeDeleted => {
            conn.exec("DELETE FROM document_types WHERE id = ?1", [id])?;
        }
        E::GroupCreated(g) => {
            if g.is_default {
                conn.exec("UPDATE document_groups SET is_default = 0 WHERE environment = ?1", [env])?;
            }
            conn.exec(
                "INSERT INTO document_groups (id, environment, name, description, classifications, extraction_config,
                    check_config, recency_config, is_default, priority, is_active, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?11)",
                params![
                    id,
                    env,
                    g.name,
                    g.description,
                    json(&g.classifications)?,
                    json(&g.extraction_config)?,
                    json(&g.check_config)?,
                    json(&g.recency_config)?,
                    g.is_default,
                    g.priority,
                    at
                ],
            )?;
        }
        E::GroupUpdated(u) => {
            let set = |column: &str, value: &dyn rusqlite::ToSql| -> AppResult<()> {
                conn.exec(&format!("UPDATE document_groups SET {column} = ?1 WHERE id = ?2"), params![value, id])?;
                Ok(())
            };
            if u.is_default == Some(true) {
                conn.exec("UPDATE document_groups SET is_default = 0 WHERE environment = ?1", [env])?;
            }
            if let Some(v) = &u.name {
                set("name", v)?;
            }
            if let Some(v) = &u.description {
                set("description", v)?;
            }
            let maps: [(&str, Option<Value>); 4] = [
                ("classifications", u.classifications.as_ref().map(|v| serde_json::json!(v))),
                ("extraction_config", u.extraction_config.clone().map(Value::Object)),
                ("check_config", u.check_config.clone().map(Value::Object)),
                ("recency_config", u.recency_config.clone().map(Value::Object)),
            ];
            for (column, value) in maps {
                if let Some(v) = value {
                    set(column, &v.to_string())?;
                }
            }
            if let Some(v) = &u.is_default {
                set("is_default", v)?;
            }
            if let Some(v) = &u.priority {
                set("priority", v)?;
            }
            if let Some(v) = &u.is_active {
                set("is_active", v)?;
            }
            set("updated_at", at)?;
        }
        E::GroupDeleted => {
            conn.exec("DELETE FROM document_groups WHERE id = ?1", [id])?;
        }
    }
    Ok(())
}
