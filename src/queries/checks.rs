//! Check reads: render one check (opening its sealed subject, explanations and dismissal reasons for the
//! response), list with filters, a subject's dismissals, an identity's open and alerted hits, its monitored
//! lists, and the monitored identities with their data opened for a monitoring pass. Must not write.

use super::identities::render_actor;
use super::Page;
use crate::commands::identities::{data_key, open_pii};
use crate::crypto::{DataKey, Keyring};
use crate::error::{AppError, AppResult};
use crate::screening_service::monitor::MonitoredSubject;
use crate::screening_service::{Dismissal, Dismissals};
use crate::store::ReadConn;
use base64::Engine;
use rusqlite::{types::Value as Sql, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

const COLUMNS: &str = "id, environment, check_type, origin, status, provider, error_reason, note, external_ref,
    identity_id, session_id, batch_id, key_owner, subject, threshold, list_versions, suppressed, run, hit_count,
    total_hits, tags, redacted_at, created_at, updated_at, completed_at";

/// Opens one sealed (base64) value of a check; `None` when it cannot be (the key was destroyed).
pub fn open_sealed(key: Option<&DataKey>, check_id: &str, field: &str, sealed: Option<&str>) -> Option<String> {
    let (key, sealed) = (key?, sealed?);
    let bytes = B64.decode(sealed).ok()?;
    key.open(check_id, field, &bytes).ok()
}

fn render_row(conn: &Connection, keyring: &Keyring, r: &rusqlite::Row<'_>) -> AppResult<Value> {
    let id: String = r.get(0)?;
    let environment: String = r.get(1)?;
    let check_type: String = r.get(2)?;
    let identity_id: Option<String> = r.get(9)?;
    let key_owner: String = r.get(12)?;
    let sealed_subject: String = r.get(13)?;
    let run: i64 = r.get(17)?;
    let redacted: Option<String> = r.get(21)?;
    let key = if redacted.is_some() { None } else { data_key(conn, keyring, &key_owner)? };
    let subject = match &key {
        Some(k) => {
            let sealed: BTreeMap<String, String> = serde_json::from_str(&sealed_subject)?;
            let mut out = serde_json::Map::new();
            for (field, value) in sealed {
                if let Some(v) = open_sealed(Some(k), &id, &field, Some(&value)) {
                    out.insert(field, Value::String(v));
                }
            }
            Value::Object(out)
        }
        None => Value::Null,
    };
    let monitoring_enabled: bool = match &identity_id {
        Some(i) => conn
            .prepare_cached("SELECT monitoring_enabled FROM identities WHERE id = ?1")?
            .query_row([i], |r| r.get(0))
            .optional()?
            .unwrap_or(false),
        None => false,
    };
    let hits = hits(conn, key.as_ref(), &id, run)?;
    let list_versions: String = r.get(15)?;
    let suppressed: String = r.get(16)?;
    let tags: String = r.get(20)?;
    let hit_count: i64 = r.get(18)?;
    let mut body = json!({
        "id": id,
        "object": "check",
        "check_type": check_type,
        "status": r.get::<_, String>(4)?,
        "has_match": hit_count > 0,
        "hit_count": hit_count,
        "total_hit_count": r.get::<_, i64>(19)?,
        "dismissed_count": r.get::<_, i64>(19)? - hit_count,
        "provider": r.get::<_, Option<String>>(5)?,
        "error_reason": r.get::<_, Option<String>>(6)?,
        "note": r.get::<_, Option<String>>(7)?,
        "origin": r.get::<_, String>(3)?,
        "external_ref": r.get::<_, Option<String>>(8)?,
        "identity_id": identity_id,
        "session_id": r.get::<_, Option<String>>(10)?,
        "batch_id": r.get::<_, Option<String>>(11)?,
        "monitoring_enabled": monitoring_enabled,
        "is_sandbox": environment == "sandbox",
        "subject": subject,
        "threshold": r.get::<_, f64>(14)?,
        "run_count": run,
        "list_versions": serde_json::from_str::<Value>(&list_versions)?,
        "hits": hits,
        "suppressed_hits": serde_json::from_str::<Value>(&suppressed)?,
        "tags": serde_json::from_str::<Value>(&tags)?,
        "redacted_at": redacted,
        "created_at": r.get::<_, String>(22)?,
        "updated_at": r.get::<_, String>(23)?,
        "completed_at": r.get::<_, Option<String>>(24)?,
    });
    if check_type == "pep" {
        body["pep_risk_tier"] = Value::Null;
        body["pep_recommended_action"] = Value::Null;
    }
    Ok(body)
}

/// The hits of one run of a check, best first.
pub fn hits(conn: &Connection, key: Option<&DataKey>, check_id: &str, run: i64) -> AppResult<Vec<Value>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, watchlist_id, source, entry_id, entry_hash, version_id, entity_type, matched_name,
                matched_name_kind, score, features, explanation, entry, dismissal_id, dismissal_reason,
                dismissed_by, dismissed_at
         FROM check_hits WHERE check_id = ?1 AND run = ?2 ORDER BY position",
    )?;
    let mut rows = stmt.query(rusqlite::params![check_id, run])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let hit_id: String = r.get(0)?;
        let features: String = r.get(10)?;
        let explanation: Option<String> = r.get(11)?;
        let entry: String = r.get(12)?;
        let dismissal_id: Option<String> = r.get(13)?;
        let reason: Option<String> = r.get(14)?;
        let dismissed_by: Option<String> = r.get(15)?;
        let reason = dismissal_id
            .as_ref()
            .and_then(|d| open_sealed(key, check_id, &format!("dismissal_reason.{d}"), reason.as_deref()));
        out.push(json!({
            "id": hit_id,
            "watchlist_id": r.get::<_, String>(1)?,
            "source": r.get::<_, String>(2)?,
            "entry_id": r.get::<_, String>(3)?,
            "entry_hash": r.get::<_, String>(4)?,
            "list_version_id": r.get::<_, String>(5)?,
            "entity_type": r.get::<_, String>(6)?,
            "matched_name": r.get::<_, String>(7)?,
            "matched_name_kind": r.get::<_, String>(8)?,
            "score": r.get::<_, f64>(9)?,
            "features": serde_json::from_str::<Value>(&features)?,
            "explanation": open_sealed(key, check_id, &format!("explanation.{hit_id}"), explanation.as_deref()),
            "entry": serde_json::from_str::<Value>(&entry)?,
            "is_dismissed": dismissal_id.is_some(),
            "dismissal_id": dismissal_id,
            "dismissed_reason": reason,
            "dismissed_by": dismissed_by.as_deref().map(render_actor),
            "dismissed_at": r.get::<_, Option<String>>(16)?,
        }));
    }
    Ok(out)
}

pub fn get(conn: &ReadConn, keyring: &Keyring, environment: &str, id: &str) -> AppResult<Value> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM checks WHERE id = ?1 AND environment = ?2"))?;
    let mut rows = stmt.query([id, environment])?;
    let row = rows.next()?.ok_or_else(|| AppError::not_found("Check"))?;
    render_row(conn, keyring, row)
}

/// List filters, validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub check_type: Option<String>,
    pub status: Option<String>,
    pub external_ref: Option<String>,
    pub identity_id: Option<String>,
    pub session_id: Option<String>,
    pub batch_id: Option<String>,
    pub tag: Option<String>,
}

/// Checks of the environment, newest first.
pub fn list(conn: &ReadConn, keyring: &Keyring, environment: &str, f: &ListFilter, page: Page) -> AppResult<Value> {
    let mut conditions = vec!["environment = ?".to_string()];
    let mut values = vec![Sql::Text(environment.to_string())];
    for (column, value) in [
        ("check_type", &f.check_type),
        ("status", &f.status),
        ("external_ref", &f.external_ref),
        ("identity_id", &f.identity_id),
        ("session_id", &f.session_id),
        ("batch_id", &f.batch_id),
    ] {
        if let Some(v) = value {
            conditions.push(format!("{column} = ?"));
            values.push(Sql::Text(v.clone()));
        }
    }
    if let Some(tag) = &f.tag {
        conditions.push("EXISTS (SELECT 1 FROM json_each(checks.tags) t WHERE t.value = ?)".into());
        values.push(Sql::Text(tag.clone()));
    }
    super::filtered_page(conn, "checks", COLUMNS, &conditions.join(" AND "), values, page, |row| {
        render_row(conn, keyring, row)
    })
}

/// The session exists in this environment.
pub fn session_exists(conn: &Connection, environment: &str, session_id: &str) -> AppResult<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND environment = ?2)")?
        .query_row([session_id, environment], |r| r.get(0))?)
}

/// One subject's false-positive dismissals.
pub fn dismissals(conn: &Connection, environment: &str, subject_key: &str) -> AppResult<Dismissals> {
    let mut stmt = conn.prepare_cached(
        "SELECT watchlist_id, entry_id, entry_hash, dismissal_id, check_id FROM screening_dismissals
         WHERE environment = ?1 AND subject_key = ?2",
    )?;
    let rows = stmt.query_map([environment, subject_key], |r| {
        Ok((
            (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
            Dismissal { entry_hash: r.get(2)?, dismissal_id: r.get(3)?, check_id: r.get(4)? },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Open (undismissed) hits in the latest run of the identity's checks.
pub fn open_hits(conn: &Connection, identity_id: &str) -> AppResult<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM check_hits h JOIN checks c ON c.id = h.check_id
             WHERE c.identity_id = ?1 AND h.run = c.run AND h.dismissal_id IS NULL AND c.redacted_at IS NULL",
        )?
        .query_row([identity_id], |r| r.get(0))?)
}

/// The lists an identity's monitoring is limited to (empty = every list).
pub fn monitored_lists(conn: &Connection, identity_id: &str) -> AppResult<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT list_id FROM identity_monitored_lists WHERE identity_id = ?1 ORDER BY position")?;
    let rows = stmt.query_map([identity_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Identity fields a monitoring pass screens.
const MONITORED_FIELDS: &[&str] =
    &["first_name", "middle_name", "last_name", "date_of_birth", "nationality", "document_number"];

/// Every identity under continuous monitoring (both environments; not archived, redacted or merged), its
/// data opened, with its monitored lists, dismissals and already-alerted hits.
pub fn monitoring_subjects(conn: &Connection, keyring: &Keyring) -> AppResult<Vec<MonitoredSubject>> {
    let mut lists: HashMap<String, Vec<String>> = HashMap::new();
    {
        let mut stmt = conn.prepare("SELECT identity_id, list_id FROM identity_monitored_lists ORDER BY position")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            lists.entry(r.get(0)?).or_default().push(r.get(1)?);
        }
    }
    let mut dismissed: HashMap<(String, String), Dismissals> = HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT environment, subject_key, watchlist_id, entry_id, entry_hash, dismissal_id, check_id
             FROM screening_dismissals",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            dismissed.entry((r.get(0)?, r.get(1)?)).or_default().insert(
                (r.get(2)?, r.get(3)?),
                Dismissal { entry_hash: r.get(4)?, dismissal_id: r.get(5)?, check_id: r.get(6)? },
            );
        }
    }
    let mut alerted: HashMap<String, HashSet<(String, String, String)>> = HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT c.identity_id, h.watchlist_id, h.entry_id, h.entry_hash FROM check_hits h
             JOIN checks c ON c.id = h.check_id WHERE c.identity_id IS NOT NULL",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            alerted.entry(r.get(0)?).or_default().insert((r.get(1)?, r.get(2)?, r.get(3)?));
        }
    }
    let mut stmt = conn.prepare(
        "SELECT id, environment, screening_status, pii, country FROM identities
         WHERE monitoring_enabled = 1 AND archived_at IS NULL AND status NOT IN ('redacted', 'merged')
         ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let environment: String = r.get(1)?;
        let sealed: String = r.get(3)?;
        let Some(key) = data_key(conn, keyring, &id)? else { continue };
        let mut data: BTreeMap<String, String> =
            open_pii(&key, &id, &sealed)?.into_iter().filter(|(k, _)| MONITORED_FIELDS.contains(&k.as_str())).collect();
        if let Some(country) = r.get::<_, Option<String>>(4)? {
            data.entry("country".into()).or_insert(country);
        }
        out.push(MonitoredSubject {
            lists: lists.remove(&id).unwrap_or_default(),
            dismissals: dismissed.remove(&(environment.clone(), id.clone())).unwrap_or_default(),
            alerted: alerted.remove(&id).unwrap_or_default(),
            screening_status: r.get(2)?,
            identity_id: id,
            environment,
            data,
        });
    }
    Ok(out)
}
