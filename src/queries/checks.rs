//! Check reads: render one check (opening its sealed subject, explanations and dismissal reasons for the
//! response), list with filters, a subject's dismissals, an identity's open and alerted hits, its monitored
//! lists, the monitored identities and standalone checks with their data opened for a monitoring pass, and
//! the monitoring history of a check or an identity. Must not write.

use super::identities::render_actor;
use super::{OffsetPage, Page};
use crate::crypto::{DataKey, Keyring};
use crate::domain::check::{CheckOrigin, CheckStatus, CheckType};
use crate::domain::ids::{CheckBatchId, CheckHitId, CheckId, DismissalId, IdentityId, SessionId, WatchlistVersionId};
use crate::domain::values::{ExternalRef, Tag};
use crate::domain::watchlist::MonitoredList;
use crate::error::{AppError, AppResult};
use crate::screening::records::{Dismissal, Dismissals, MonitoredSubject};
use crate::store::shared_reads;
use crate::store::subject_keys::{data_key, open_pii};
use crate::store::ReadOnly;
use base64::Engine;
use rusqlite::{types::Value as Sql, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use utoipa::ToSchema;

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

/// A check as the API shows it (spec §1.4.3).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckView {
    pub id: CheckId,
    /// Always `check`.
    #[schema(example = "check")]
    pub object: String,
    pub check_type: CheckType,
    pub status: CheckStatus,
    /// True while the latest run has open (undismissed) hits.
    pub has_match: bool,
    /// Open hits of the latest run.
    pub hit_count: i64,
    /// All hits of the latest run, dismissed ones included.
    pub total_hit_count: i64,
    pub dismissed_count: i64,
    /// Who screened: `idv_watchlists` for sanction checks; null when nothing ran.
    #[schema(example = "idv_watchlists")]
    pub provider: Option<String>,
    /// Why a check is in `error` (`no_lists`, `no_source`, ...).
    #[schema(example = json!(null))]
    pub error_reason: Option<String>,
    pub note: Option<String>,
    pub origin: CheckOrigin,
    pub external_ref: Option<String>,
    pub identity_id: Option<IdentityId>,
    pub session_id: Option<SessionId>,
    /// Shared by the checks of one `POST /checks/full`.
    pub batch_id: Option<CheckBatchId>,
    /// Continuous monitoring (spec §1.9): the check's own (`POST /checks/{id}/monitoring/enable`), or its
    /// linked identity's.
    pub monitoring_enabled: bool,
    pub is_sandbox: bool,
    /// The screened data; null once the check's personal data is erased.
    pub subject: Option<CheckSubjectView>,
    /// The name-match threshold the run used, 0 to 1.
    pub threshold: f64,
    /// Runs so far (1 + re-runs).
    pub run_count: i64,
    /// The watchlist versions the latest run screened against.
    pub list_versions: Vec<ScreenedListVersion>,
    /// The latest run's hits, best first.
    pub hits: Vec<HitView>,
    /// Matches left out because this subject's earlier dismissal covers the same entry version.
    pub suppressed_hits: Vec<SuppressedHit>,
    pub tags: Vec<String>,
    pub redacted_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    /// PEP checks only (always null: idv has no PEP source); absent on other types.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = Option<String>)]
    pub pep_risk_tier: Option<Option<String>>,
    /// PEP checks only (always null); absent on other types.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = Option<String>)]
    pub pep_recommended_action: Option<Option<String>>,
}

/// The screened subject as given (only the fields that were).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CheckSubjectView {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub name_first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub name_last: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub birthdate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub country_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub address_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub address_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub zip_code: Option<String>,
}

impl CheckSubjectView {
    fn from_fields(mut fields: BTreeMap<String, String>) -> Self {
        let mut take = |k: &str| fields.remove(k);
        CheckSubjectView {
            name_first: take("name_first"),
            name_last: take("name_last"),
            birthdate: take("birthdate"),
            country_code: take("country_code"),
            email: take("email"),
            phone: take("phone"),
            ip_address: take("ip_address"),
            address_line1: take("address_line1"),
            address_line2: take("address_line2"),
            city: take("city"),
            state: take("state"),
            zip_code: take("zip_code"),
        }
    }
}

/// One watchlist version a run screened against.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScreenedListVersion {
    #[schema(example = "ofac")]
    pub watchlist_id: String,
    pub version_id: WatchlistVersionId,
    /// The list's own publication date, when it states one.
    pub published: Option<String>,
    pub entry_count: i64,
    pub imported_at: String,
}

/// Per-feature similarity of a hit, 0 to 1; null where the subject or the entry lacks the feature.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HitFeatures {
    pub name: Option<f64>,
    pub date_of_birth: Option<f64>,
    pub country: Option<f64>,
    pub identifier: Option<f64>,
}

/// One hit of a check's latest run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HitView {
    pub id: CheckHitId,
    #[schema(example = "ofac")]
    pub watchlist_id: String,
    /// The list's library name (`ofac_sdn`, `un_consolidated`, ...).
    pub source: String,
    /// The list's own id of the entry.
    pub entry_id: String,
    /// BLAKE3 of the entry as matched.
    pub entry_hash: String,
    pub list_version_id: WatchlistVersionId,
    /// `person`, `organization`, `vessel` or `aircraft`.
    pub entity_type: String,
    pub matched_name: String,
    /// Whether the primary name or an alias matched.
    pub matched_name_kind: String,
    /// Overall score, 0 to 1.
    pub score: f64,
    pub features: HitFeatures,
    /// Why it matched, in words; null once the check's personal data is erased.
    pub explanation: Option<String>,
    /// The list entry as it was when it matched (as stored by the import).
    #[schema(value_type = Object)]
    pub entry: Value,
    pub is_dismissed: bool,
    pub dismissal_id: Option<DismissalId>,
    pub dismissed_reason: Option<String>,
    /// `api_key:<key id>` of who dismissed it.
    pub dismissed_by: Option<String>,
    pub dismissed_at: Option<String>,
}

/// A match left out of a run by an earlier dismissal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SuppressedHit {
    pub watchlist_id: String,
    pub entry_id: String,
    pub entry_hash: String,
    pub dismissal_id: DismissalId,
    pub dismissed_in_check_id: CheckId,
}

fn stored<T>(what: &str, text: &str, parsed: Option<T>) -> AppResult<T> {
    parsed.ok_or_else(|| AppError::Internal(format!("stored check has an unknown {what}: {text}")))
}

fn render_row(conn: &ReadOnly, keyring: &Keyring, r: &rusqlite::Row<'_>) -> AppResult<CheckView> {
    let id: String = r.get(0)?;
    let environment: String = r.get(1)?;
    let check_type: String = r.get(2)?;
    let origin: String = r.get(3)?;
    let status: String = r.get(4)?;
    let identity_id: Option<String> = r.get(9)?;
    let key_owner: String = r.get(12)?;
    let sealed_subject: String = r.get(13)?;
    let run: i64 = r.get(17)?;
    let redacted: Option<String> = r.get(21)?;
    let key = if redacted.is_some() { None } else { data_key(conn, keyring, &key_owner)? };
    let subject = match &key {
        Some(k) => {
            let sealed: BTreeMap<String, String> = serde_json::from_str(&sealed_subject)?;
            let opened = sealed
                .into_iter()
                .filter_map(|(field, value)| open_sealed(Some(k), &id, &field, Some(&value)).map(|v| (field, v)))
                .collect();
            Some(CheckSubjectView::from_fields(opened))
        }
        None => None,
    };
    let own_monitoring: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM check_monitoring WHERE check_id = ?1)")?
        .query_row([&id], |r| r.get(0))?;
    let monitoring_enabled: bool = own_monitoring
        || match &identity_id {
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
    let total_hit_count: i64 = r.get(19)?;
    let check_type = stored("type", &check_type, CheckType::from_stored(&check_type))?;
    let pep = (check_type == CheckType::Pep).then_some(None);
    Ok(CheckView {
        id: CheckId::from_stored(id),
        object: "check".into(),
        check_type,
        status: stored("status", &status, CheckStatus::from_stored(&status))?,
        has_match: hit_count > 0,
        hit_count,
        total_hit_count,
        dismissed_count: total_hit_count - hit_count,
        provider: r.get(5)?,
        error_reason: r.get(6)?,
        note: r.get(7)?,
        origin: stored("origin", &origin, CheckOrigin::from_stored(&origin))?,
        external_ref: r.get(8)?,
        identity_id: identity_id.map(IdentityId::from_stored),
        session_id: r.get::<_, Option<String>>(10)?.map(SessionId::from_stored),
        batch_id: r.get::<_, Option<String>>(11)?.map(CheckBatchId::from_stored),
        monitoring_enabled,
        is_sandbox: environment == "sandbox",
        subject,
        threshold: r.get(14)?,
        run_count: run,
        list_versions: serde_json::from_str(&list_versions)?,
        hits,
        suppressed_hits: serde_json::from_str(&suppressed)?,
        tags: serde_json::from_str(&tags)?,
        redacted_at: redacted,
        created_at: r.get(22)?,
        updated_at: r.get(23)?,
        completed_at: r.get(24)?,
        pep_risk_tier: pep.clone(),
        pep_recommended_action: pep,
    })
}

/// The hits of one run of a check, best first.
pub fn hits(conn: &ReadOnly, key: Option<&DataKey>, check_id: &str, run: i64) -> AppResult<Vec<HitView>> {
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
        out.push(HitView {
            explanation: open_sealed(key, check_id, &format!("explanation.{hit_id}"), explanation.as_deref()),
            id: CheckHitId::from_stored(hit_id),
            watchlist_id: r.get(1)?,
            source: r.get(2)?,
            entry_id: r.get(3)?,
            entry_hash: r.get(4)?,
            list_version_id: WatchlistVersionId::from_stored(r.get(5)?),
            entity_type: r.get(6)?,
            matched_name: r.get(7)?,
            matched_name_kind: r.get(8)?,
            score: r.get(9)?,
            features: serde_json::from_str(&features)?,
            entry: serde_json::from_str(&entry)?,
            is_dismissed: dismissal_id.is_some(),
            dismissal_id: dismissal_id.map(DismissalId::from_stored),
            dismissed_reason: reason,
            dismissed_by: dismissed_by.as_deref().map(render_actor),
            dismissed_at: r.get(16)?,
        });
    }
    Ok(out)
}

pub fn get(conn: &ReadOnly, keyring: &Keyring, environment: &str, id: &CheckId) -> AppResult<CheckView> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM checks WHERE id = ?1 AND environment = ?2"))?;
    let mut rows = stmt.query([id.as_str(), environment])?;
    let row = rows.next()?.ok_or_else(|| AppError::not_found("Check"))?;
    render_row(conn, keyring, row)
}

/// List filters, typed at the boundary.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub check_type: Option<CheckType>,
    pub status: Option<CheckStatus>,
    pub external_ref: Option<ExternalRef>,
    /// A resolved identity id.
    pub identity_id: Option<IdentityId>,
    pub session_id: Option<SessionId>,
    pub batch_id: Option<CheckBatchId>,
    pub tag: Option<Tag>,
}

/// Checks of the environment, newest first.
pub fn list(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    f: &ListFilter,
    page: Page,
) -> AppResult<OffsetPage<CheckView>> {
    let mut conditions = vec!["environment = ?".to_string()];
    let mut values = vec![Sql::Text(environment.to_string())];
    for (column, value) in [
        ("check_type", f.check_type.map(|t| t.as_str())),
        ("status", f.status.map(|s| s.as_str())),
        ("external_ref", f.external_ref.as_ref().map(|v| v.as_str())),
        ("identity_id", f.identity_id.as_ref().map(|v| v.as_str())),
        ("session_id", f.session_id.as_ref().map(|v| v.as_str())),
        ("batch_id", f.batch_id.as_ref().map(|v| v.as_str())),
    ] {
        if let Some(v) = value {
            conditions.push(format!("{column} = ?"));
            values.push(Sql::Text(v.to_string()));
        }
    }
    if let Some(tag) = &f.tag {
        conditions.push("EXISTS (SELECT 1 FROM json_each(checks.tags) t WHERE t.value = ?)".into());
        values.push(Sql::Text(tag.as_str().to_string()));
    }
    super::filtered_offset_page(conn, "checks", COLUMNS, &conditions.join(" AND "), values, page, |row| {
        render_row(conn, keyring, row)
    })
}

/// `GET /sessions/{id}/checks`: the session's checks (`f.session_id` set); 404 for a session of
/// another environment.
pub fn session_checks(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    f: &ListFilter,
    page: Page,
) -> AppResult<OffsetPage<CheckView>> {
    let session_id = f.session_id.as_ref().map(|s| s.as_str()).unwrap_or_default();
    if !session_exists(conn, environment, session_id)? {
        return Err(AppError::not_found("Session"));
    }
    list(conn, keyring, environment, f, page)
}

/// `GET /identities/{id}/checks`: the checks of the identity named by id or external ref.
pub fn identity_checks(
    conn: &ReadOnly,
    keyring: &Keyring,
    environment: &str,
    id_or_ref: &str,
    mut f: ListFilter,
    page: Page,
) -> AppResult<OffsetPage<CheckView>> {
    let id = super::identities::require(conn, environment, id_or_ref)?;
    f.identity_id = Some(IdentityId::from_stored(id));
    list(conn, keyring, environment, &f, page)
}

/// The session exists in this environment.
pub fn session_exists(conn: &ReadOnly, environment: &str, session_id: &str) -> AppResult<bool> {
    shared_reads::session_exists(conn, environment, session_id)
}

/// The lists an identity's monitoring is limited to (empty = every list).
pub fn monitored_lists(conn: &ReadOnly, identity_id: &str) -> AppResult<Vec<MonitoredList>> {
    shared_reads::monitored_lists(conn, identity_id)
}

/// Identity fields a monitoring pass screens.
const MONITORED_FIELDS: &[&str] =
    &["first_name", "middle_name", "last_name", "date_of_birth", "nationality", "document_number"];

/// Every identity under continuous monitoring (both environments; not archived, redacted or merged), its
/// data opened, with its monitored lists, dismissals and already-alerted hits.
pub fn monitoring_subjects(conn: &ReadOnly, keyring: &Keyring) -> AppResult<Vec<MonitoredSubject>> {
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

/// A monitored standalone check, its subject opened for a monitoring pass: `subject.identity_id` holds the
/// check id, `subject.screening_status` its status (so the pass screens only a new version's changes), and
/// `subject.data` the check's own field names (`name_first`, ...; the screening service maps them).
#[derive(Debug, Clone)]
pub struct MonitoredCheck {
    pub subject: MonitoredSubject,
    pub threshold: f64,
}

/// Every live `sanction` check with monitoring on (not redacted), its subject opened, with its subject's dismissals and the entries its hits already name. Sandbox checks are
/// simulated and not screened, so they are not monitored either.
pub fn monitored_checks(conn: &ReadOnly, keyring: &Keyring) -> AppResult<Vec<MonitoredCheck>> {
    let mut stmt = conn.prepare(
        "SELECT c.id, c.environment, c.status, c.subject, c.key_owner, c.subject_key, c.threshold FROM checks c
         JOIN check_monitoring m ON m.check_id = c.id
         WHERE c.redacted_at IS NULL AND c.check_type = 'sanction' AND c.environment = 'live' ORDER BY c.id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let environment: String = r.get(1)?;
        let sealed: String = r.get(3)?;
        let key_owner: String = r.get(4)?;
        let subject_key: String = r.get(5)?;
        let Some(key) = data_key(conn, keyring, &key_owner)? else { continue };
        let sealed: BTreeMap<String, String> = serde_json::from_str(&sealed)?;
        let opened: BTreeMap<String, String> = sealed
            .into_iter()
            .filter_map(|(field, value)| open_sealed(Some(&key), &id, &field, Some(&value)).map(|v| (field, v)))
            .collect();
        let mut alerted = HashSet::new();
        {
            let mut hits =
                conn.prepare_cached("SELECT watchlist_id, entry_id, entry_hash FROM check_hits WHERE check_id = ?1")?;
            let mut rows = hits.query([&id])?;
            while let Some(h) = rows.next()? {
                alerted.insert((h.get(0)?, h.get(1)?, h.get(2)?));
            }
        }
        out.push(MonitoredCheck {
            subject: MonitoredSubject {
                dismissals: shared_reads::dismissals(conn, &environment, &subject_key)?,
                screening_status: Some(r.get(2)?),
                data: opened,
                lists: Vec::new(),
                alerted,
                identity_id: id,
                environment,
            },
            threshold: r.get(6)?,
        });
    }
    Ok(out)
}

/// What one monitoring pass did for one subject (spec §1.9 "Monitoring history").
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonitoringPassView {
    /// `identity` or `check`.
    #[schema(example = "check")]
    pub subject_type: String,
    /// The `idn_*` or `schk_*` id.
    pub subject_id: String,
    /// When the pass ran.
    pub screened_at: String,
    /// The watchlist whose new version was screened.
    #[schema(example = "ofac")]
    pub watchlist_id: String,
    pub list_version_id: WatchlistVersionId,
    /// Open (undismissed) hits before and after the pass.
    pub hits_before: i64,
    pub hits_after: i64,
    pub new_hit_count: i64,
    pub new_hit_ids: Vec<CheckHitId>,
    /// The check holding the new hits (null when the pass found none).
    pub check_id: Option<CheckId>,
}

fn history(conn: &ReadOnly, subject_id: &str, page: Page) -> AppResult<OffsetPage<MonitoringPassView>> {
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM monitoring_passes WHERE subject_id = ?1")?
        .query_row([subject_id], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT subject_type, subject_id, screened_at, watchlist_id, version_id, hits_before, hits_after,
                new_hit_ids, check_id
         FROM monitoring_passes WHERE subject_id = ?1 ORDER BY event_seq DESC, position DESC LIMIT ?2 OFFSET ?3",
    )?;
    let mut rows = stmt.query(rusqlite::params![subject_id, page.limit, page.offset])?;
    let mut data = Vec::new();
    while let Some(r) = rows.next()? {
        let new: Vec<String> = serde_json::from_str(&r.get::<_, String>(7)?)?;
        data.push(MonitoringPassView {
            subject_type: r.get(0)?,
            subject_id: r.get(1)?,
            screened_at: r.get(2)?,
            watchlist_id: r.get(3)?,
            list_version_id: WatchlistVersionId::from_stored(r.get(4)?),
            hits_before: r.get(5)?,
            hits_after: r.get(6)?,
            new_hit_count: new.len() as i64,
            new_hit_ids: new.into_iter().map(CheckHitId::from_stored).collect(),
            check_id: r.get::<_, Option<String>>(8)?.map(CheckId::from_stored),
        });
    }
    Ok(OffsetPage::new(data, total, page))
}

/// `GET /checks/{id}/monitoring-history`: the check's monitoring passes, newest first.
pub fn check_monitoring_history(
    conn: &ReadOnly,
    environment: &str,
    id: &CheckId,
    page: Page,
) -> AppResult<OffsetPage<MonitoringPassView>> {
    let exists: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM checks WHERE id = ?1 AND environment = ?2)")?
        .query_row([id.as_str(), environment], |r| r.get(0))?;
    if !exists {
        return Err(AppError::not_found("Check"));
    }
    history(conn, id.as_str(), page)
}

/// `GET /identities/{id}/monitoring-history`: the identity's monitoring passes, newest first.
pub fn identity_monitoring_history(
    conn: &ReadOnly,
    environment: &str,
    id_or_ref: &str,
    page: Page,
) -> AppResult<OffsetPage<MonitoringPassView>> {
    let id = super::identities::require(conn, environment, id_or_ref)?;
    history(conn, &id, page)
}
