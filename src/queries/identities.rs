//! Identity reads: render one identity (opening its sealed PII for the response), list with filters and
//! offset or cursor pages, blind-index search, advanced search, audit log and the DSAR export bundle.
//! Must not write.

use super::{offset_envelope, Page};
use crate::commands::identities::{data_key, open_pii};
use crate::crypto::{blind, Keyring};
use crate::domain::ids;
use crate::error::{AppError, AppResult};
use crate::store::ReadConn;
use base64::Engine;
use rusqlite::{params_from_iter, types::Value as Sql, Connection, OptionalExtension};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const COLUMNS: &str = "id, environment, external_ref, status, session_count, latest_session_id, latest_result_id,
    face_match_passed, age_check_passed, extracted_age, rejection_reason, country, identity_type_id, screening_status,
    monitoring_enabled, monitoring_paused_reason, is_flagged, flag_reason, flagged_at, flagged_by, merged_into, pii,
    first_verified_at, last_verified_at, archived_at, created_at, updated_at";

fn opt_bool(v: Option<i64>) -> Value {
    v.map(|b| Value::Bool(b != 0)).unwrap_or(Value::Null)
}

/// Builds the public identity object from one row (columns in `COLUMNS` order).
fn render_row(conn: &Connection, keyring: &Keyring, r: &rusqlite::Row<'_>) -> AppResult<Value> {
    let id: String = r.get(0)?;
    let environment: String = r.get(1)?;
    let status: String = r.get(3)?;
    let sealed: String = r.get(21)?;
    let extracted = if status == "redacted" {
        Value::Null
    } else {
        match data_key(conn, keyring, &id)? {
            Some(key) => {
                Value::Object(open_pii(&key, &id, &sealed)?.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
            }
            None => Value::Null,
        }
    };
    Ok(json!({
        "id": id,
        "external_ref": r.get::<_, Option<String>>(2)?,
        "status": status,
        "session_count": r.get::<_, i64>(4)?,
        "is_sandbox": environment == "sandbox",
        "latest_session_id": r.get::<_, Option<String>>(5)?,
        "latest_result_id": r.get::<_, Option<String>>(6)?,
        "face_match_passed": opt_bool(r.get(7)?),
        "age_check_passed": opt_bool(r.get(8)?),
        "extracted_age": r.get::<_, Option<i64>>(9)?,
        "rejection_reason": r.get::<_, Option<String>>(10)?,
        "country": r.get::<_, Option<String>>(11)?,
        "extracted_data": extracted,
        "identity_type_id": r.get::<_, Option<String>>(12)?,
        "screening_status": r.get::<_, Option<String>>(13)?,
        "monitoring_enabled": r.get::<_, bool>(14)?,
        "monitoring_paused_reason": r.get::<_, Option<String>>(15)?,
        "is_flagged": r.get::<_, bool>(16)?,
        "flag_reason": r.get::<_, Option<String>>(17)?,
        "flagged_at": r.get::<_, Option<String>>(18)?,
        "flagged_by": r.get::<_, Option<String>>(19)?,
        "merged_into": r.get::<_, Option<String>>(20)?,
        "first_verified_at": r.get::<_, Option<String>>(22)?,
        "last_verified_at": r.get::<_, Option<String>>(23)?,
        "archived_at": r.get::<_, Option<String>>(24)?,
        "created_at": r.get::<_, String>(25)?,
        "updated_at": r.get::<_, String>(26)?,
        "tags": tags(conn, &r.get::<_, String>(0)?)?,
        "custom_fields": custom_fields(conn, keyring, &r.get::<_, String>(0)?)?,
    }))
}

fn tags(conn: &Connection, id: &str) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT tag FROM identity_tags WHERE identity_id = ?1 ORDER BY position")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Custom field values with encrypted ones opened (absent when the key is gone).
pub fn custom_fields(conn: &Connection, keyring: &Keyring, id: &str) -> AppResult<Map<String, Value>> {
    let mut stmt =
        conn.prepare_cached("SELECT name, value FROM identity_custom_fields WHERE identity_id = ?1 ORDER BY name")?;
    let rows: Vec<(String, String)> =
        stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut out = Map::new();
    let mut key = None;
    for (name, text) in rows {
        let value: Value = serde_json::from_str(&text)?;
        if let Some(sealed) = value.get("sealed").and_then(Value::as_str) {
            if key.is_none() {
                key = data_key(conn, keyring, id)?;
            }
            let Some(k) = &key else { continue };
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(sealed)
                .map_err(|_| AppError::Internal("sealed custom field is not base64".into()))?;
            let plain = k.open(id, &format!("custom_fields.{name}"), &bytes)?;
            out.insert(name, serde_json::from_str(&plain)?);
        } else {
            out.insert(name, value);
        }
    }
    Ok(out)
}

/// Resolves an id or external_ref to the identity id within the environment.
pub fn resolve(conn: &Connection, environment: &str, id_or_ref: &str) -> AppResult<Option<String>> {
    let column = if ids::is_id(ids::IDENTITY, id_or_ref) { "id" } else { "external_ref" };
    Ok(conn
        .prepare_cached(&format!("SELECT id FROM identities WHERE {column} = ?1 AND environment = ?2"))?
        .query_row([id_or_ref, environment], |r| r.get(0))
        .optional()?)
}

pub fn require(conn: &Connection, environment: &str, id_or_ref: &str) -> AppResult<String> {
    resolve(conn, environment, id_or_ref)?.ok_or_else(|| AppError::not_found("Identity"))
}

pub fn get(conn: &ReadConn, keyring: &Keyring, environment: &str, id_or_ref: &str) -> AppResult<Value> {
    let id = require(conn, environment, id_or_ref)?;
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM identities WHERE id = ?1"))?;
    let mut rows = stmt.query([&id])?;
    let row = rows.next()?.ok_or_else(|| AppError::not_found("Identity"))?;
    render_row(conn, keyring, row)
}

/// A short summary for responses that do not carry the full object.
pub fn summary(conn: &ReadConn, environment: &str, id: &str) -> AppResult<Value> {
    conn.prepare_cached(
        "SELECT id, external_ref, status, environment, created_at, archived_at, monitoring_enabled, monitoring_paused_reason
         FROM identities WHERE id = ?1 AND environment = ?2",
    )?
    .query_row([id, environment], |r| {
        Ok(json!({
            "id": r.get::<_, String>(0)?,
            "external_ref": r.get::<_, Option<String>>(1)?,
            "status": r.get::<_, String>(2)?,
            "is_sandbox": r.get::<_, String>(3)? == "sandbox",
            "created_at": r.get::<_, String>(4)?,
            "archived_at": r.get::<_, Option<String>>(5)?,
            "monitoring_enabled": r.get::<_, bool>(6)?,
            "monitoring_paused_reason": r.get::<_, Option<String>>(7)?,
        }))
    })
    .optional()?
    .ok_or_else(|| AppError::not_found("Identity"))
}

pub fn tags_of(conn: &ReadConn, id: &str) -> AppResult<Value> {
    Ok(json!({ "id": id, "tags": tags(conn, id)? }))
}

/// A value bound into a filter condition (so callers need not know the database's value type).
pub enum Bind {
    Text(String),
    Int(i64),
}

impl From<String> for Bind {
    fn from(v: String) -> Self {
        Bind::Text(v)
    }
}

impl From<&str> for Bind {
    fn from(v: &str) -> Self {
        Bind::Text(v.to_string())
    }
}

impl From<i64> for Bind {
    fn from(v: i64) -> Self {
        Bind::Int(v)
    }
}

impl From<bool> for Bind {
    fn from(v: bool) -> Self {
        Bind::Int(v as i64)
    }
}

impl From<Bind> for Sql {
    fn from(b: Bind) -> Self {
        match b {
            Bind::Text(t) => Sql::Text(t),
            Bind::Int(i) => Sql::Integer(i),
        }
    }
}

/// Filters shared by list, search and advanced search: SQL conditions and their bound values.
#[derive(Default)]
pub struct Filter {
    conditions: Vec<String>,
    values: Vec<Sql>,
}

impl Filter {
    pub fn new(environment: &str) -> Self {
        let mut f = Filter::default();
        f.push("i.environment = ?", environment);
        f
    }
    pub fn push(&mut self, condition: &str, value: impl Into<Bind>) {
        let value: Sql = value.into().into();
        self.conditions.push(format!("({condition})"));
        self.values.push(value);
    }
    /// A condition with several placeholders, bound in order.
    pub fn push_many(&mut self, condition: &str, values: Vec<Bind>) {
        self.conditions.push(format!("({condition})"));
        self.values.extend(values.into_iter().map(Sql::from));
    }
    pub fn raw(&mut self, condition: &str) {
        self.conditions.push(condition.to_string());
    }
    pub fn any_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.conditions.push(format!("{column} IN ({marks})"));
        self.values.extend(values.iter().map(|v| Sql::Text(v.clone())));
    }
    /// The identity must carry the blind digest of this kind.
    pub fn blind(&mut self, digest: [u8; 32], kind: &str) {
        self.conditions.push(
            "EXISTS (SELECT 1 FROM blind_indexes b WHERE b.identity_id = i.id AND b.environment = i.environment AND b.kind = ? AND b.digest = ?)"
                .to_string(),
        );
        self.values.push(Sql::Text(kind.to_string()));
        self.values.push(Sql::Blob(digest.to_vec()));
    }
    fn where_sql(&self) -> String {
        self.conditions.join(" AND ")
    }
}

pub fn list_offset(conn: &ReadConn, keyring: &Keyring, filter: &Filter, page: Page) -> AppResult<Value> {
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM identities i WHERE {}", filter.where_sql()),
        params_from_iter(filter.values.iter()),
        |r| r.get(0),
    )?;
    let mut values = filter.values.clone();
    values.push(Sql::Integer(page.limit));
    values.push(Sql::Integer(page.offset));
    let sql =
        format!("SELECT {COLUMNS} FROM identities i WHERE {} ORDER BY i.id DESC LIMIT ? OFFSET ?", filter.where_sql());
    let data = render_all(conn, keyring, &sql, values)?;
    Ok(offset_envelope(data, total, page))
}

fn render_all(conn: &ReadConn, keyring: &Keyring, sql: &str, values: Vec<Sql>) -> AppResult<Vec<Value>> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params_from_iter(values.iter()))?;
    let mut data = Vec::new();
    while let Some(row) = rows.next()? {
        data.push(render_row(conn, keyring, row)?);
    }
    Ok(data)
}

#[derive(Debug, Clone)]
pub enum Cursor {
    After(String),
    Before(String),
    First,
}

/// Cursor pages over ids, newest first. `after` walks towards older identities.
pub fn list_cursor(conn: &ReadConn, keyring: &Keyring, filter: &Filter, cursor: Cursor, size: i64) -> AppResult<Value> {
    let base = filter.where_sql();
    let mut values = filter.values.clone();
    let (condition, order) = match &cursor {
        Cursor::After(id) => {
            values.push(Sql::Text(id.clone()));
            ("AND i.id < ?", "DESC")
        }
        Cursor::Before(id) => {
            values.push(Sql::Text(id.clone()));
            ("AND i.id > ?", "ASC")
        }
        Cursor::First => ("", "DESC"),
    };
    values.push(Sql::Integer(size + 1));
    let sql = format!("SELECT {COLUMNS} FROM identities i WHERE {base} {condition} ORDER BY i.id {order} LIMIT ?");
    let mut data = render_all(conn, keyring, &sql, values)?;
    let more = data.len() as i64 > size;
    data.truncate(size as usize);
    if matches!(cursor, Cursor::Before(_)) {
        data.reverse();
    }
    let first = data.first().and_then(|v| v["id"].as_str()).map(str::to_string);
    let last = data.last().and_then(|v| v["id"].as_str()).map(str::to_string);
    let (has_next, has_prev) = match cursor {
        Cursor::First => (more, false),
        Cursor::After(_) => (more, true),
        Cursor::Before(_) => (true, more),
    };
    let (has_next, has_prev) = if data.is_empty() { (false, false) } else { (has_next, has_prev) };
    Ok(json!({
        "data": data,
        "pagination": {
            "next_cursor": if has_next { last } else { None },
            "prev_cursor": if has_prev { first } else { None },
            "has_next": has_next,
            "has_prev": has_prev,
        }
    }))
}

/// Adds blind-index conditions for the PII search fields; all of name + DOB must be present together.
pub fn add_pii_criteria(filter: &mut Filter, keyring: &Keyring, environment: &str, fields: &BTreeMap<String, String>) {
    for (kind, normalised) in blind::index_inputs(fields) {
        if kind == "address" {
            continue; // the address digest needs the whole address; search uses city/state/zip separately
        }
        filter.blind(keyring.blind_digest(environment, kind, &normalised), kind);
    }
}

/// The identity's audit trail, newest first: who, what, when, which fields (never values).
/// The identity's trail and its sessions' (spec §1.6.16), newest first.
const AUDIT_UNION: &str = "
    SELECT event_id, action, actor, fields AS metadata, recorded_at, event_seq, 'identity' AS kind, identity_id AS resource
      FROM identity_audit WHERE identity_id = ?1
    UNION ALL
    SELECT a.event_id, a.action, a.actor, a.metadata, a.recorded_at, a.event_seq, 'session', a.session_id
      FROM session_audit a JOIN sessions s ON s.id = a.session_id WHERE s.identity_id = ?1";

pub fn audit_log(conn: &ReadConn, identity_id: &str, page: Page) -> AppResult<Value> {
    let total: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM ({AUDIT_UNION})"), [identity_id], |r| r.get(0))?;
    let mut stmt =
        conn.prepare_cached(&format!("{AUDIT_UNION} ORDER BY event_seq DESC, kind DESC LIMIT ?2 OFFSET ?3"))?;
    let rows = stmt.query_map(rusqlite::params![identity_id, page.limit, page.offset], |r| {
        let event_id: String = r.get(0)?;
        let action: String = r.get(1)?;
        let actor: String = r.get(2)?;
        let text: String = r.get(3)?;
        let kind: String = r.get(6)?;
        let stored = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
        // Identity rows store the changed field names; session rows store their metadata object.
        let metadata = if kind == "identity" { json!({ "fields": stored }) } else { stored };
        Ok(json!({
            "id": format!("aud_{}", event_id.trim_start_matches("evt_")),
            "type": action,
            "action": action,
            "created_at": r.get::<_, String>(4)?,
            "resource_type": kind,
            "resource_id": r.get::<_, String>(7)?,
            "actor": render_actor(&actor),
            "metadata": metadata,
            "sequence_num": r.get::<_, i64>(5)?,
        }))
    })?;
    let data = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(offset_envelope(data, total, page))
}

pub fn render_actor(actor: &str) -> String {
    if actor.starts_with("key_") {
        format!("api_key:{actor}")
    } else {
        actor.to_string()
    }
}

/// Everything held about the person, decrypted (GDPR Art. 15).
pub fn export(conn: &ReadConn, keyring: &Keyring, environment: &str, id: &str, now: &str) -> AppResult<Value> {
    let identity = get(conn, keyring, environment, id)?;
    let links = super::relationships::all_for(conn, id, true)?;
    let relationships = super::relationships::all_for(conn, id, false)?;
    let audit = audit_log(conn, id, Page { limit: 10_000, offset: 0 })?;
    Ok(json!({
        "identity": identity,
        "sessions": [],
        "identity_links": links,
        "identity_relationships": relationships,
        "face_embeddings_count": 0,
        "audit_log": audit["data"],
        "exported_at": now,
    }))
}

/// Cross-session image similarity (spec §1.6.15): the identity's selfies / document fronts against every
/// other identity's, by perceptual hash; one row per other identity with its best score.
pub fn image_matches(
    conn: &ReadConn,
    environment: &str,
    id: &str,
    threshold: f64,
    source_type: Option<&str>,
    page: Page,
) -> AppResult<Value> {
    use crate::checks::imagehash::{calibrated_similarity, ImageHash64};
    let kinds: Vec<&str> = match source_type {
        Some("selfie") => vec!["selfie"],
        Some("document_front") => vec!["id_front"],
        _ => vec!["selfie", "id_front"],
    };
    let label = |doc: &str| if doc == "id_front" { "document_front" } else { "selfie" };
    let hashes =
        |sql: &str, params: &[&dyn rusqlite::ToSql]| -> AppResult<Vec<(String, String, String, String, String)>> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map(params, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
    let mine = hashes(
        "SELECT s.identity_id, d.session_id, d.doc_type, d.phash, d.created_at FROM session_documents d
         JOIN sessions s ON s.id = d.session_id WHERE s.identity_id = ?1 AND d.phash IS NOT NULL",
        &[&id],
    )?;
    let others = hashes(
        "SELECT s.identity_id, d.session_id, d.doc_type, d.phash, d.created_at FROM session_documents d
         JOIN sessions s ON s.id = d.session_id
         WHERE s.environment = ?1 AND s.identity_id IS NOT NULL AND s.identity_id != ?2 AND d.phash IS NOT NULL",
        &[&environment, &id],
    )?;
    let mut best: std::collections::HashMap<String, (f64, Value)> = std::collections::HashMap::new();
    for (_, _, kind, hash, _) in mine.iter().filter(|m| kinds.contains(&m.2.as_str())) {
        let Ok(a) = ImageHash64::from_hex(hash) else { continue };
        for (other_identity, session, other_kind, other_hash, at) in &others {
            if other_kind != kind {
                continue;
            }
            let Ok(b) = ImageHash64::from_hex(other_hash) else { continue };
            let score = (calibrated_similarity(a, b) * 1000.0).round() / 1000.0;
            if score < threshold {
                continue;
            }
            let row = json!({
                "identity_id": other_identity,
                "session_id": session,
                "similarity": score,
                "source_type": label(kind),
                "matched_at": at,
            });
            match best.get(other_identity) {
                Some((s, _)) if *s >= score => {}
                _ => {
                    best.insert(other_identity.clone(), (score, row));
                }
            }
        }
    }
    let mut rows: Vec<(f64, Value)> = best.into_values().collect();
    rows.sort_by(|a, b| {
        b.0.total_cmp(&a.0).then_with(|| a.1["identity_id"].as_str().cmp(&b.1["identity_id"].as_str()))
    });
    let total = rows.len() as i64;
    let data: Vec<Value> =
        rows.into_iter().skip(page.offset as usize).take(page.limit as usize).map(|(_, v)| v).collect();
    Ok(offset_envelope(data, total, page))
}
