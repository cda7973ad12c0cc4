//! Identity reads: render one identity (opening its sealed PII for the response), list with filters and
//! offset or cursor pages, blind-index search, advanced search, audit log and the DSAR export bundle.
//! Must not write.

use super::Page;
use super::{CursorPage, CursorPagination, OffsetPage};
use crate::crypto::{blind, Keyring};
use crate::domain::ids::{self, IdentityId};
use crate::domain::values::{CountryCode, ExternalRef, Tag};
use crate::error::{AppError, AppResult};
use crate::store::subject_keys::{data_key, open_pii};
use crate::store::ReadOnly;
use base64::Engine;
use rusqlite::{params_from_iter, types::Value as Sql, OptionalExtension};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const COLUMNS: &str = "id, environment, external_ref, status, session_count, latest_session_id, latest_result_id,
    face_match_passed, age_check_passed, extracted_age, rejection_reason, country, identity_type_id, screening_status,
    monitoring_enabled, monitoring_paused_reason, is_flagged, flag_reason, flagged_at, flagged_by, merged_into, pii,
    first_verified_at, last_verified_at, archived_at, created_at, updated_at";

fn opt_bool(v: Option<i64>) -> Option<bool> {
    v.map(|b| b != 0)
}

/// The identity object (spec §1.6.2).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "idn_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "external_ref": "user_12345", "status": "approved",
    "session_count": 1, "is_sandbox": true, "latest_session_id": null, "latest_result_id": null,
    "face_match_passed": true, "age_check_passed": true, "extracted_age": 28, "rejection_reason": null,
    "country": "US", "extracted_data": {"first_name": "Jane", "last_name": "Doe", "date_of_birth": "1997-06-15"},
    "identity_type_id": null, "screening_status": "clear", "monitoring_enabled": true,
    "monitoring_paused_reason": null, "is_flagged": false, "flag_reason": null, "flagged_at": null,
    "flagged_by": null, "merged_into": null, "first_verified_at": "2026-01-15T10:00:00.000Z",
    "last_verified_at": "2026-01-15T10:00:00.000Z", "archived_at": null, "created_at": "2026-01-15T09:58:00.000Z",
    "updated_at": "2026-01-15T10:00:00.000Z", "tags": ["vip"], "custom_fields": {}}))]
pub struct Identity {
    pub id: IdentityId,
    pub external_ref: Option<String>,
    /// pending, approved, failed, rejected, under_review, redacted or merged (spec §3.3), or a custom status of
    /// the identity's type.
    #[schema(examples("approved"))]
    pub status: String,
    pub session_count: i64,
    pub is_sandbox: bool,
    pub latest_session_id: Option<String>,
    pub latest_result_id: Option<String>,
    pub face_match_passed: Option<bool>,
    pub age_check_passed: Option<bool>,
    pub extracted_age: Option<i64>,
    pub rejection_reason: Option<String>,
    pub country: Option<String>,
    /// The decrypted personal data by field name; null once redacted.
    pub extracted_data: Option<BTreeMap<String, String>>,
    pub identity_type_id: Option<String>,
    /// Aggregate AML status: clear, hit or pending; null before any screening.
    pub screening_status: Option<String>,
    pub monitoring_enabled: bool,
    pub monitoring_paused_reason: Option<String>,
    pub is_flagged: bool,
    pub flag_reason: Option<String>,
    #[schema(format = DateTime)]
    pub flagged_at: Option<String>,
    pub flagged_by: Option<String>,
    /// The identity this one was merged into.
    pub merged_into: Option<String>,
    #[schema(format = DateTime)]
    pub first_verified_at: Option<String>,
    #[schema(format = DateTime)]
    pub last_verified_at: Option<String>,
    #[schema(format = DateTime)]
    pub archived_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub tags: Vec<String>,
    /// Custom field values by name (types per the identity type's definitions).
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
}

/// Builds the public identity object from one row (columns in `COLUMNS` order).
fn render_row(conn: &ReadOnly, keyring: &Keyring, r: &rusqlite::Row<'_>) -> AppResult<Identity> {
    let id: String = r.get(0)?;
    let environment: String = r.get(1)?;
    let status: String = r.get(3)?;
    let sealed: String = r.get(21)?;
    let extracted = if status == "redacted" {
        None
    } else {
        match data_key(conn, keyring, &id)? {
            Some(key) => Some(open_pii(&key, &id, &sealed)?),
            None => None,
        }
    };
    Ok(Identity {
        external_ref: r.get(2)?,
        status: status.clone(),
        session_count: r.get(4)?,
        is_sandbox: environment == "sandbox",
        latest_session_id: r.get(5)?,
        latest_result_id: r.get(6)?,
        face_match_passed: opt_bool(r.get(7)?),
        age_check_passed: opt_bool(r.get(8)?),
        extracted_age: r.get(9)?,
        rejection_reason: r.get(10)?,
        country: r.get(11)?,
        extracted_data: extracted,
        identity_type_id: r.get(12)?,
        screening_status: r.get(13)?,
        monitoring_enabled: r.get(14)?,
        monitoring_paused_reason: r.get(15)?,
        is_flagged: r.get(16)?,
        flag_reason: r.get(17)?,
        flagged_at: r.get(18)?,
        flagged_by: r.get(19)?,
        merged_into: r.get(20)?,
        first_verified_at: r.get(22)?,
        last_verified_at: r.get(23)?,
        archived_at: r.get(24)?,
        created_at: r.get(25)?,
        updated_at: r.get(26)?,
        tags: tags(conn, &id)?,
        custom_fields: custom_fields(conn, keyring, &id)?,
        id: IdentityId::from_stored(id),
    })
}

fn tags(conn: &ReadOnly, id: &str) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT tag FROM identity_tags WHERE identity_id = ?1 ORDER BY position")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Custom field values with encrypted ones opened (absent when the key is gone).
pub fn custom_fields(conn: &ReadOnly, keyring: &Keyring, id: &str) -> AppResult<Map<String, Value>> {
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
pub fn resolve(conn: &ReadOnly, environment: &str, id_or_ref: &str) -> AppResult<Option<String>> {
    let column = if ids::is_id(ids::IDENTITY, id_or_ref) { "id" } else { "external_ref" };
    Ok(conn
        .prepare_cached(&format!("SELECT id FROM identities WHERE {column} = ?1 AND environment = ?2"))?
        .query_row([id_or_ref, environment], |r| r.get(0))
        .optional()?)
}

pub fn require(conn: &ReadOnly, environment: &str, id_or_ref: &str) -> AppResult<String> {
    resolve(conn, environment, id_or_ref)?.ok_or_else(|| AppError::not_found("Identity"))
}

pub fn get(conn: &ReadOnly, keyring: &Keyring, environment: &str, id_or_ref: &str) -> AppResult<Identity> {
    // One statement finds and reads the row (by id or by external reference), as `resolve` would find it.
    let column = if ids::is_id(ids::IDENTITY, id_or_ref) { "id" } else { "external_ref" };
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM identities WHERE {column} = ?1 AND environment = ?2"))?;
    let mut rows = stmt.query([id_or_ref, environment])?;
    let row = rows.next()?.ok_or_else(|| AppError::not_found("Identity"))?;
    render_row(conn, keyring, row)
}

/// The answer to a create (spec §1.6.4): a short summary and whether an existing identity was returned.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({"id": "idn_01JD2Z8Q4T3V6W9X0Y1Z2A3B4C", "external_ref": "user_12345", "status": "pending",
    "is_sandbox": true, "created_at": "2026-01-15T09:58:00.000Z", "upserted": false}))]
pub struct CreatedIdentity {
    pub id: IdentityId,
    pub external_ref: Option<String>,
    pub status: String,
    pub is_sandbox: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// True when `upsert` returned an identity that already existed.
    pub upserted: bool,
}

/// An identity's archive state (archive answers with it).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ArchiveState {
    pub id: IdentityId,
    pub status: String,
    #[schema(format = DateTime)]
    pub archived_at: Option<String>,
}

/// An identity's monitoring state (pause and resume answer with it).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MonitoringState {
    pub id: IdentityId,
    pub monitoring_enabled: bool,
    /// manual or archived while paused.
    pub monitoring_paused_reason: Option<String>,
}

/// An identity's tags (the tag operations answer with them).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct IdentityTags {
    pub id: IdentityId,
    pub tags: Vec<String>,
}

/// An identity's custom field values.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct IdentityCustomFields {
    pub identity_id: IdentityId,
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
}

fn short_row(
    conn: &ReadOnly,
    environment: &str,
    id: &str,
) -> AppResult<(String, Option<String>, String, bool, String, Option<String>, bool, Option<String>)> {
    conn.prepare_cached(
        "SELECT id, external_ref, status, environment, created_at, archived_at, monitoring_enabled, monitoring_paused_reason
         FROM identities WHERE id = ?1 AND environment = ?2",
    )?
    .query_row([id, environment], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get::<_, String>(3)? == "sandbox",
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        ))
    })
    .optional()?
    .ok_or_else(|| AppError::not_found("Identity"))
}

pub fn created(conn: &ReadOnly, environment: &str, id: &str, upserted: bool) -> AppResult<CreatedIdentity> {
    let (id, external_ref, status, is_sandbox, created_at, ..) = short_row(conn, environment, id)?;
    Ok(CreatedIdentity { id: IdentityId::from_stored(id), external_ref, status, is_sandbox, created_at, upserted })
}

pub fn archive_state(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<ArchiveState> {
    let (id, _, status, _, _, archived_at, ..) = short_row(conn, environment, id)?;
    Ok(ArchiveState { id: IdentityId::from_stored(id), status, archived_at })
}

pub fn monitoring_state(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<MonitoringState> {
    let (id, _, _, _, _, _, monitoring_enabled, monitoring_paused_reason) = short_row(conn, environment, id)?;
    Ok(MonitoringState { id: IdentityId::from_stored(id), monitoring_enabled, monitoring_paused_reason })
}

pub fn tags_of(conn: &ReadOnly, id: &str) -> AppResult<IdentityTags> {
    Ok(IdentityTags { id: IdentityId::from_stored(id.to_string()), tags: tags(conn, id)? })
}

pub fn custom_fields_of(conn: &ReadOnly, keyring: &Keyring, id: &str) -> AppResult<IdentityCustomFields> {
    Ok(IdentityCustomFields {
        identity_id: IdentityId::from_stored(id.to_string()),
        custom_fields: custom_fields(conn, keyring, id)?,
    })
}

/// A value bound into a filter condition (so callers need not know the database's value type).
enum Bind {
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

/// Whether archived identities are listed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Archived {
    /// Only identities that are not archived (the default).
    #[default]
    Exclude,
    /// Only archived identities.
    Only,
    /// Both.
    Include,
}

/// What list, search and advanced search filter on, already validated; turned into SQL only here.
#[derive(Debug, Clone, Default)]
pub struct IdentityCriteria {
    /// Canonical statuses (or custom statuses of an identity type); any of them.
    pub statuses: Vec<String>,
    pub external_ref: Option<ExternalRef>,
    /// A substring of the external_ref (the list's `q`).
    pub external_ref_contains: Option<String>,
    pub external_ref_prefix: Option<String>,
    pub country: Option<CountryCode>,
    pub identity_type_id: Option<ids::IdentityTypeId>,
    /// Every one of these tags.
    pub tags_all: Vec<Tag>,
    /// At least one of these tags.
    pub tags_any: Vec<Tag>,
    pub is_flagged: Option<bool>,
    pub monitoring_enabled: Option<bool>,
    pub archived: Archived,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub updated_after: Option<String>,
    pub updated_before: Option<String>,
    /// Equality on non-encrypted custom fields.
    pub custom_fields: Vec<(String, Value)>,
    /// Personal-data search values by field (validated), matched through their blind indexes.
    pub personal_data: BTreeMap<String, String>,
}

/// The SQL conditions of `criteria` within one environment.
fn filter_of(conn: &ReadOnly, criteria: &IdentityCriteria, keyring: &Keyring, environment: &str) -> AppResult<Filter> {
    let c = criteria;
    let mut filter = Filter::new(environment);
    filter.any_of("i.status", &c.statuses);
    if let Some(r) = &c.external_ref {
        filter.push("i.external_ref = ?", r.as_str());
    }
    if let Some(text) = &c.external_ref_contains {
        filter.push("i.external_ref LIKE ? ESCAPE '\\'", Bind::Text(format!("%{}%", super::like_escape(text))));
    }
    if let Some(prefix) = &c.external_ref_prefix {
        filter.push("i.external_ref LIKE ? ESCAPE '\\'", Bind::Text(format!("{}%", super::like_escape(prefix))));
    }
    if let Some(country) = &c.country {
        filter.push("i.country = ?", country.as_str());
    }
    if let Some(t) = &c.identity_type_id {
        filter.push("i.identity_type_id = ?", t.as_str());
    }
    for tag in &c.tags_all {
        filter.push("EXISTS (SELECT 1 FROM identity_tags t WHERE t.identity_id = i.id AND t.tag = ?)", tag.as_str());
    }
    if !c.tags_any.is_empty() {
        let marks = vec!["?"; c.tags_any.len()].join(", ");
        filter.push_many(
            &format!("EXISTS (SELECT 1 FROM identity_tags t WHERE t.identity_id = i.id AND t.tag IN ({marks}))"),
            c.tags_any.iter().map(|t| Bind::Text(t.as_str().to_string())).collect(),
        );
    }
    if let Some(flag) = c.is_flagged {
        filter.push("i.is_flagged = ?", flag);
    }
    if let Some(m) = c.monitoring_enabled {
        filter.push("i.monitoring_enabled = ?", m);
    }
    match c.archived {
        Archived::Exclude => filter.raw("i.archived_at IS NULL"),
        Archived::Only => filter.raw("i.archived_at IS NOT NULL"),
        Archived::Include => {}
    }
    for (value, column, op) in [
        (&c.created_after, "i.created_at", ">="),
        (&c.created_before, "i.created_at", "<"),
        (&c.updated_after, "i.updated_at", ">="),
        (&c.updated_before, "i.updated_at", "<"),
    ] {
        if let Some(v) = value {
            filter.push(&format!("{column} {op} ?"), v.as_str());
        }
    }
    for (name, value) in &c.custom_fields {
        filter.push_many(
            "EXISTS (SELECT 1 FROM identity_custom_fields f WHERE f.identity_id = i.id AND f.name = ? AND f.value = ?)",
            vec![Bind::Text(name.clone()), Bind::Text(value.to_string())],
        );
    }
    add_pii_criteria(conn, &mut filter, keyring, environment, &c.personal_data)?;
    Ok(filter)
}

/// A filter's first condition, and the same test kept off the environment's index (SQLite's unary plus).
const ENVIRONMENT: &str = "(i.environment = ?)";
const ENVIRONMENT_PER_ROW: &str = "(+i.environment = ?)";

/// SQL conditions and their bound values (built from `IdentityCriteria`, never outside this module).
#[derive(Default)]
struct Filter {
    conditions: Vec<String>,
    values: Vec<Sql>,
}

impl Filter {
    fn new(environment: &str) -> Self {
        Filter { conditions: vec![ENVIRONMENT.to_string()], values: vec![Sql::Text(environment.into())] }
    }
    fn push(&mut self, condition: &str, value: impl Into<Bind>) {
        let value: Sql = value.into().into();
        self.conditions.push(format!("({condition})"));
        self.values.push(value);
    }
    /// A condition with several placeholders, bound in order.
    fn push_many(&mut self, condition: &str, values: Vec<Bind>) {
        self.conditions.push(format!("({condition})"));
        self.values.extend(values.into_iter().map(Sql::from));
    }
    fn raw(&mut self, condition: &str) {
        self.conditions.push(condition.to_string());
    }
    fn any_of(&mut self, column: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.conditions.push(format!("{column} IN ({marks})"));
        self.values.extend(values.iter().map(|v| Sql::Text(v.clone())));
    }
    /// The identity's row must list every one of `index_keys`. The lookup's copy (`store::blind_keys`)
    /// names the rows that may, before the query runs, so the query reads only those (`json_each` here; a
    /// PostgreSQL store binds an array, `= ANY(?)`) and confirms each key in the row's list. A key found
    /// straddling two listed keys would take a 128-bit coincidence, the odds of two values sharing a key.
    fn blind(&mut self, candidates: Vec<i64>, index_keys: Vec<Vec<u8>>) {
        // The environment stays a test on each row the lookup named: with no statistics SQLite would
        // otherwise walk the environment's index (every identity of it) and test each against the list.
        // `new` put the environment first.
        debug_assert_eq!(self.conditions.first().map(String::as_str), Some(ENVIRONMENT));
        self.conditions[0] = ENVIRONMENT_PER_ROW.to_string();
        self.conditions.push("i.rowid IN (SELECT value FROM json_each(?))".to_string());
        self.values.push(Sql::Text(Value::from(candidates).to_string()));
        for key in index_keys {
            self.conditions.push("instr(i.blind_keys, ?) > 0".to_string());
            self.values.push(Sql::Blob(key));
        }
    }
    fn where_sql(&self) -> String {
        self.conditions.join(" AND ")
    }
}

pub fn list_offset(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    criteria: &IdentityCriteria,
    page: Page,
) -> AppResult<OffsetPage<Identity>> {
    let filter = &filter_of(conn, criteria, keyring, environment)?;
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
    Ok(OffsetPage::new(data, total, page))
}

fn render_all(conn: &ReadOnly, keyring: &Keyring, sql: &str, values: Vec<Sql>) -> AppResult<Vec<Identity>> {
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
pub fn list_cursor(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    criteria: &IdentityCriteria,
    cursor: Cursor,
    size: i64,
) -> AppResult<CursorPage<Identity>> {
    let filter = &filter_of(conn, criteria, keyring, environment)?;
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
    let first = data.first().map(|v| v.id.as_str().to_string());
    let last = data.last().map(|v| v.id.as_str().to_string());
    let (has_next, has_prev) = match cursor {
        Cursor::First => (more, false),
        Cursor::After(_) => (more, true),
        Cursor::Before(_) => (true, more),
    };
    let (has_next, has_prev) = if data.is_empty() { (false, false) } else { (has_next, has_prev) };
    Ok(CursorPage {
        data,
        pagination: CursorPagination {
            next_cursor: if has_next { last } else { None },
            prev_cursor: if has_prev { first } else { None },
            has_next,
            has_prev,
        },
    })
}

/// The surviving (neither merged nor redacted) identities of an environment that carry a blind-index key:
/// the duplicate search of session processing.
pub fn surviving_with_blind_key(conn: &ReadOnly, environment: &str, index_key: &[u8]) -> AppResult<Vec<String>> {
    Ok(conn
        .blind_key_carriers(index_key)?
        .into_iter()
        .filter(|c| c.environment == environment && c.status != "merged" && c.status != "redacted")
        .map(|c| c.id)
        .collect())
}

/// Adds blind-index conditions for the PII search fields; all of name + DOB must be present together.
fn add_pii_criteria(
    conn: &ReadOnly,
    filter: &mut Filter,
    keyring: &Keyring,
    environment: &str,
    fields: &BTreeMap<String, String>,
) -> AppResult<()> {
    let index_keys: Vec<Vec<u8>> = blind::index_inputs(fields)
        .into_iter()
        // The address digest needs the whole address; search uses city/state/zip separately.
        .filter(|(kind, _)| *kind != "address")
        .map(|(kind, normalised)| keyring.blind_index_key(environment, kind, &normalised))
        .collect();
    if !index_keys.is_empty() {
        let candidates = conn.blind_key_candidates(&index_keys.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
        filter.blind(candidates, index_keys);
    }
    Ok(())
}

/// The identity's audit trail, newest first: who, what, when, which fields (never values).
/// The identity's trail and its sessions' (spec §1.6.16), newest first.
const AUDIT_UNION: &str = "
    SELECT event_id, action, actor, fields AS metadata, recorded_at, event_seq, 'identity' AS kind, identity_id AS resource
      FROM identity_audit WHERE identity_id = ?1
    UNION ALL
    SELECT a.event_id, a.action, a.actor, a.metadata, a.recorded_at, a.event_seq, 'session', a.session_id
      FROM session_audit a JOIN sessions s ON s.id = a.session_id WHERE s.identity_id = ?1";

/// One entry of an audit trail (the `/events` item shape): who did what to which resource, never values.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// `aud_…`
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub action: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// identity or session
    pub resource_type: String,
    pub resource_id: String,
    /// `api_key:key_…`, `system` or `cli`.
    pub actor: String,
    /// The names of the fields touched (identity rows) or the session event's metadata; never personal data.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// The position in the global event log.
    pub sequence_num: i64,
}

pub fn audit_log(conn: &ReadOnly, identity_id: &str, page: Page) -> AppResult<OffsetPage<AuditEntry>> {
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
        Ok(AuditEntry {
            id: format!("aud_{}", event_id.trim_start_matches("evt_")),
            kind: action.clone(),
            action,
            created_at: r.get(4)?,
            resource_type: kind,
            resource_id: r.get(7)?,
            actor: render_actor(&actor),
            metadata: if metadata.is_object() { metadata } else { json!({ "value": metadata }) },
            sequence_num: r.get(5)?,
        })
    })?;
    let data = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage::new(data, total, page))
}

pub fn render_actor(actor: &str) -> String {
    if actor.starts_with("key_") {
        format!("api_key:{actor}")
    } else {
        actor.to_string()
    }
}

/// Everything held about one person (GDPR Art. 15, spec §1.15).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct IdentityExport {
    pub identity: Identity,
    #[schema(value_type = Vec<Object>)]
    pub sessions: Vec<Value>,
    /// System links (duplicates and merges).
    #[schema(value_type = Vec<Object>)]
    pub identity_links: Vec<Value>,
    /// Relationships made through the API.
    #[schema(value_type = Vec<Object>)]
    pub identity_relationships: Vec<Value>,
    pub face_embeddings_count: i64,
    pub audit_log: Vec<AuditEntry>,
    #[schema(format = DateTime)]
    pub exported_at: String,
}

/// Everything held about the person, decrypted (GDPR Art. 15).
pub fn export(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &str, now: &str) -> AppResult<IdentityExport> {
    let as_values = |v: serde_json::Value| v.as_array().cloned().unwrap_or_default();
    Ok(IdentityExport {
        identity: get(conn, keyring, environment, id)?,
        sessions: Vec::new(),
        identity_links: as_values(serde_json::to_value(super::relationships::all_for(conn, id, true)?)?),
        identity_relationships: as_values(serde_json::to_value(super::relationships::all_for(conn, id, false)?)?),
        face_embeddings_count: 0,
        audit_log: audit_log(conn, id, Page { limit: 10_000, offset: 0 })?.data,
        exported_at: now.to_string(),
    })
}

/// One identity whose images look like this identity's (spec §1.6.15).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ImageMatch {
    pub identity_id: IdentityId,
    pub session_id: String,
    /// Calibrated similarity, 0 to 1.
    pub similarity: f64,
    /// selfie or document_front
    pub source_type: String,
    #[schema(format = DateTime)]
    pub matched_at: String,
}

/// Cross-session image similarity (spec §1.6.15): the identity's selfies / document fronts against every
/// other identity's, by perceptual hash; one row per other identity with its best score.
/// Other identities whose selfies or document photos look like those of the identity named by id or
/// external ref.
pub fn image_matches(
    conn: &ReadOnly,
    environment: &str,
    id_or_ref: &str,
    threshold: f64,
    source_type: Option<&str>,
    page: Page,
) -> AppResult<OffsetPage<ImageMatch>> {
    use crate::checks::imagehash::{calibrated_similarity, ImageHash64};
    let id = &require(conn, environment, id_or_ref)?;
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
    let mut best: std::collections::HashMap<String, (f64, ImageMatch)> = std::collections::HashMap::new();
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
            let row = ImageMatch {
                identity_id: IdentityId::from_stored(other_identity.clone()),
                session_id: session.clone(),
                similarity: score,
                source_type: label(kind).to_string(),
                matched_at: at.clone(),
            };
            match best.get(other_identity) {
                Some((s, _)) if *s >= score => {}
                _ => {
                    best.insert(other_identity.clone(), (score, row));
                }
            }
        }
    }
    let mut rows: Vec<(f64, ImageMatch)> = best.into_values().collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.identity_id.cmp(&b.1.identity_id)));
    let total = rows.len() as i64;
    let data: Vec<ImageMatch> =
        rows.into_iter().skip(page.offset as usize).take(page.limit as usize).map(|(_, v)| v).collect();
    Ok(OffsetPage::new(data, total, page))
}

/// What a merge would move onto the primary.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MergeTransfer {
    pub sessions: i64,
    pub tags: Vec<String>,
    pub custom_fields: Vec<String>,
    pub relationships: i64,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MergePreview {
    pub primary: Identity,
    pub secondary: Identity,
    pub can_merge: bool,
    pub blockers: Vec<String>,
    pub would_transfer: MergeTransfer,
    /// merged or redacted
    pub secondary_status_after: String,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MergeResult {
    pub primary: Identity,
    pub secondary: Identity,
}

/// The two refs name one identity: a conflict with what is stored (an id and its own external_ref differ as
/// text), so a 409 rather than a field error.
fn same_identity() -> AppError {
    AppError::Conflict("The primary and the secondary are the same identity.".into())
}

/// `POST /identities/merge/preview`: both identities and what a merge would move, without writing.
pub fn merge_preview(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    primary_ref: &str,
    secondary_ref: &str,
    redact_secondary: bool,
) -> AppResult<MergePreview> {
    let primary = resolve(conn, environment, primary_ref)?
        .ok_or_else(|| AppError::NotFound("Primary identity not found.".into()))?;
    let secondary = resolve(conn, environment, secondary_ref)?
        .ok_or_else(|| AppError::NotFound("Secondary identity not found.".into()))?;
    if primary == secondary {
        return Err(same_identity());
    }
    let primary_obj = get(conn, keyring, environment, &primary)?;
    let secondary_obj = get(conn, keyring, environment, &secondary)?;
    let blockers: Vec<String> = match secondary_obj.status.as_str() {
        "redacted" => vec!["the secondary identity is redacted".into()],
        "merged" => vec!["the secondary identity has already been merged".into()],
        _ => vec![],
    };
    let tags: Vec<String> = secondary_obj.tags.iter().filter(|t| !primary_obj.tags.contains(t)).cloned().collect();
    let custom_fields: Vec<String> =
        secondary_obj.custom_fields.keys().filter(|k| !primary_obj.custom_fields.contains_key(*k)).cloned().collect();
    let links = super::relationships::all_for(conn, &secondary, false)?;
    Ok(MergePreview {
        can_merge: blockers.is_empty(),
        blockers,
        would_transfer: MergeTransfer {
            sessions: secondary_obj.session_count,
            tags,
            custom_fields,
            relationships: links.len() as i64,
        },
        secondary_status_after: if redact_secondary { "redacted" } else { "merged" }.into(),
        primary: primary_obj,
        secondary: secondary_obj,
    })
}

/// Both identities after a merge.
pub fn merge_result(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    primary: &str,
    secondary: &str,
) -> AppResult<MergeResult> {
    Ok(MergeResult {
        primary: get(conn, keyring, environment, primary)?,
        secondary: get(conn, keyring, environment, secondary)?,
    })
}

/// The custom field values of the identity named by id or external ref.
pub fn custom_fields_by_ref(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id_or_ref: &str,
) -> AppResult<IdentityCustomFields> {
    let id = require(conn, environment, id_or_ref)?;
    custom_fields_of(conn, keyring, &id)
}

/// The audit trail of the identity named by id or external ref.
pub fn audit_log_by_ref(
    conn: &ReadOnly,
    environment: &str,
    id_or_ref: &str,
    page: Page,
) -> AppResult<OffsetPage<AuditEntry>> {
    let id = require(conn, environment, id_or_ref)?;
    audit_log(conn, &id, page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;
    use crate::store::{open_writer, Durability, ReadPool};

    #[test]
    fn a_personal_data_search_looks_up_only_the_rows_the_blind_key_lookup_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("idv.db");
        drop(open_writer(&path, Durability::Normal).unwrap());
        let conn = ReadPool::open(&path, 1, 1).unwrap().get().unwrap();
        let keyring = Keyring::new(&MasterKey::from_bytes([7; 32]));
        let criteria = IdentityCriteria {
            personal_data: [("email".to_string(), "a@example.com".to_string())].into(),
            ..IdentityCriteria::default()
        };
        let filter = filter_of(&conn, &criteria, &keyring, "live").unwrap();
        for sql in [
            format!("SELECT COUNT(*) FROM identities i WHERE {}", filter.where_sql()),
            format!("SELECT {COLUMNS} FROM identities i WHERE {} ORDER BY i.id DESC LIMIT 25", filter.where_sql()),
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(params_from_iter(filter.values.iter()), |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(plan.iter().any(|step| step.contains("SEARCH i USING INTEGER PRIMARY KEY (rowid=?)")), "{plan:?}");
            assert!(!plan.iter().any(|step| step.contains("identities_by_env")), "walks the environment: {plan:?}");
        }
    }
}
