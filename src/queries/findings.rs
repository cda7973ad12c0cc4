//! Finding reads (spec §1.4.1): one finding, and the environment's findings with the filters an analyst
//! uses (status, kind, identity, session, check, creation window), newest first. Opens the sealed
//! acknowledgement note and dismissal reason for the response (null once their key is gone). Must not write.

use super::identities::render_actor;
use super::{OffsetPage, Page};
use crate::crypto::Keyring;
use crate::domain::finding::{FindingKind, FindingStatus};
use crate::domain::ids::{CheckHitId, CheckId, FindingId, IdentityId, ListMatchId, SessionId};
use crate::error::{AppError, AppResult};
use crate::store::subject_keys::data_key;
use crate::store::ReadOnly;
use base64::Engine;
use rusqlite::types::Value as Sql;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

const COLUMNS: &str = "id, environment, kind, status, source_id, summary, detail, check_id, identity_id, session_id,
    created_at, updated_at, acknowledged_at, acknowledged_by, ack_note, dismissed_at, dismissed_by, reason,
    reason_owner, reason_aad, reason_field, resolved_at, note_owner";

/// Something that needs a human look, and what was done about it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FindingView {
    pub id: FindingId,
    /// Always `finding`.
    #[schema(example = "finding")]
    pub object: String,
    pub kind: FindingKind,
    pub status: FindingStatus,
    /// What was found, in words (ids, list names, scores; never the subject's personal data).
    #[schema(example = "Watchlist hit: ofac entry 48603 (person), score 0.93")]
    pub summary: String,
    /// The check of a screening hit.
    pub check_id: Option<CheckId>,
    /// The hit (screening hits).
    pub hit_id: Option<CheckHitId>,
    /// The list match (list matches).
    pub list_match_id: Option<ListMatchId>,
    pub identity_id: Option<IdentityId>,
    pub session_id: Option<SessionId>,
    /// The kind's particulars: the hit's list, entry and score; the list, item and matched field; the other
    /// identity and how it matched; the signal's name, category and weight.
    #[schema(value_type = Object)]
    pub detail: Value,
    pub is_sandbox: bool,
    pub acknowledged_at: Option<String>,
    /// Who acknowledged it: `api_key:<key id>` or the dashboard user's id.
    pub acknowledged_by: Option<String>,
    pub acknowledgement_note: Option<String>,
    pub dismissed_at: Option<String>,
    /// Who dismissed it: `api_key:<key id>` or the dashboard user's id.
    pub dismissed_by: Option<String>,
    pub dismissal_reason: Option<String>,
    /// When what it was about went away (a re-run replaced the hit, a re-decided session dropped the signal).
    pub resolved_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Opens sealed text under `owner`'s key, bound to `aad` and `field`; `None` when it cannot be.
fn open(
    conn: &ReadOnly,
    keyring: &Keyring,
    owner: Option<&str>,
    aad: Option<&str>,
    field: Option<&str>,
    sealed: Option<&str>,
) -> AppResult<Option<String>> {
    let (Some(owner), Some(aad), Some(field), Some(sealed)) = (owner, aad, field, sealed) else { return Ok(None) };
    let Some(key) = data_key(conn, keyring, owner)? else { return Ok(None) };
    let Ok(bytes) = B64.decode(sealed) else { return Ok(None) };
    Ok(key.open(aad, field, &bytes).ok())
}

fn render(conn: &ReadOnly, keyring: &Keyring, r: &rusqlite::Row<'_>) -> AppResult<FindingView> {
    let id: String = r.get(0)?;
    let environment: String = r.get(1)?;
    let kind: String = r.get(2)?;
    let status: String = r.get(3)?;
    let source_id: String = r.get(4)?;
    let detail: String = r.get(6)?;
    let ack_note: Option<String> = r.get(14)?;
    let reason: Option<String> = r.get(17)?;
    let (owner, aad, field): (Option<String>, Option<String>, Option<String>) = (r.get(18)?, r.get(19)?, r.get(20)?);
    let stored = |what: &str, text: &str| AppError::Internal(format!("stored finding has an unknown {what}: {text}"));
    let kind = FindingKind::from_stored(&kind).ok_or_else(|| stored("kind", &kind))?;
    let note_owner: Option<String> = r.get(22)?;
    let note =
        open(conn, keyring, note_owner.as_deref(), Some(&id), Some("acknowledgement_note"), ack_note.as_deref())?;
    let reason = open(conn, keyring, owner.as_deref(), aad.as_deref(), field.as_deref(), reason.as_deref())?;
    let actor = |a: Option<String>| a.as_deref().map(render_actor);
    Ok(FindingView {
        object: "finding".into(),
        status: FindingStatus::from_stored(&status).ok_or_else(|| stored("status", &status))?,
        summary: r.get(5)?,
        hit_id: (kind == FindingKind::ScreeningHit).then(|| CheckHitId::from_stored(source_id.clone())),
        list_match_id: (kind == FindingKind::ListMatch).then(|| ListMatchId::from_stored(source_id.clone())),
        kind,
        check_id: r.get::<_, Option<String>>(7)?.map(CheckId::from_stored),
        identity_id: r.get::<_, Option<String>>(8)?.map(IdentityId::from_stored),
        session_id: r.get::<_, Option<String>>(9)?.map(SessionId::from_stored),
        detail: serde_json::from_str(&detail)?,
        is_sandbox: environment == "sandbox",
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
        acknowledged_at: r.get(12)?,
        acknowledged_by: actor(r.get(13)?),
        acknowledgement_note: note,
        dismissed_at: r.get(15)?,
        dismissed_by: actor(r.get(16)?),
        dismissal_reason: reason,
        resolved_at: r.get(21)?,
        id: FindingId::from_stored(id),
    })
}

pub fn get(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &FindingId) -> AppResult<FindingView> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM findings WHERE id = ?1 AND environment = ?2"))?;
    let mut rows = stmt.query([id.as_str(), environment])?;
    let row = rows.next()?.ok_or_else(|| AppError::not_found("Finding"))?;
    render(conn, keyring, row)
}

/// List filters, typed at the boundary (timestamps in idv's UTC form).
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub status: Option<FindingStatus>,
    pub kind: Option<FindingKind>,
    pub identity_id: Option<IdentityId>,
    pub session_id: Option<SessionId>,
    pub check_id: Option<CheckId>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
}

/// The environment's findings, newest first.
pub fn list(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    f: &FindingFilter,
    page: Page,
) -> AppResult<OffsetPage<FindingView>> {
    let mut conditions = vec!["environment = ?".to_string()];
    let mut values = vec![Sql::Text(environment.to_string())];
    for (condition, value) in [
        ("status = ?", f.status.map(|s| s.as_str().to_string())),
        ("kind = ?", f.kind.map(|k| k.as_str().to_string())),
        ("identity_id = ?", f.identity_id.as_ref().map(|v| v.as_str().to_string())),
        ("session_id = ?", f.session_id.as_ref().map(|v| v.as_str().to_string())),
        ("check_id = ?", f.check_id.as_ref().map(|v| v.as_str().to_string())),
        ("created_at > ?", f.created_after.clone()),
        ("created_at < ?", f.created_before.clone()),
    ] {
        if let Some(v) = value {
            conditions.push(condition.to_string());
            values.push(Sql::Text(v));
        }
    }
    // Ids are derived from what a finding is about, not from time: the log position orders them.
    let order = "created_seq DESC, id DESC";
    let where_sql = conditions.join(" AND ");
    super::filtered_offset_page_by(conn, "findings", COLUMNS, &where_sql, order, values, page, |row| {
        render(conn, keyring, row)
    })
}
