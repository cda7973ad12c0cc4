//! Gathering a session's evidence from the read pool, outside the write transaction: its person data
//! (prefill, confirmed data, barcode and MRZ readings), velocity counts, duplicate search (blind indexes
//! and every enrolled selfie hash of the environment), the workflow graph it runs, watchlist screening
//! and custom-list matching. The result is a plain value stamped with the session's stream version; the
//! decision command refuses it when the session has moved on since. Must not write anything.

use super::selfie_index::SelfieIndex;
use crate::checks::engine::{self, DuplicateHit};
use crate::checks::printed;
use crate::commands::identities::{data_key, load_surviving};
use crate::commands::sessions::{open_map, SessionState};
use crate::crypto::{blind, DataKey, Keyring};
use crate::domain::custom_list::ListMatch;
use crate::domain::session::MRZ_UNREADABLE;
use crate::domain::workflow::Graph;
use crate::error::{AppError, AppResult};
use crate::face::FaceImages;
use crate::queries::sessions::{sessions_with_digest_since, SignalDigest};
use crate::screening_service::{ScreeningOutcome, Snapshot};
use crate::store::ReadOnly;
use crate::store::Reads;
use rusqlite::OptionalExtension;
use serde_json::Value;
use std::collections::BTreeMap;

/// Everything the decision needs, read at one version of the session's stream.
pub struct SessionEvidence {
    /// The session as read; `session.version` is the version the decision expects.
    pub session: SessionState,
    /// The stored workflow (id, version) the session runs, if any.
    pub workflow: Option<(String, i64)>,
    pub graph: Graph,
    /// The workflow node the session waits at (external gates).
    pub node: Option<String>,
    /// The pipeline's input; its `face` is filled by the face client before `decision` is evaluated.
    pub engine: engine::Evidence,
    pub decision: engine::Decision,
    /// The person data the decision records (sealed) and screens.
    pub data: BTreeMap<String, String>,
    /// Watchlist screening (live, when the graph asks for it), dismissals applied.
    pub screening: Option<ScreeningOutcome>,
    /// Custom-list matches, one list per `check_against_list` node (None: the graph does not ask).
    pub list_matches: Option<Vec<Vec<ListMatch>>>,
    /// The images the face client compares (live sessions with a selfie only).
    pub face_images: Option<FaceImages>,
    /// Why the images could not be read, when they could not: the face match is then unavailable.
    pub face_unreadable: Option<String>,
}

/// What to gather: the whole pipeline, the person data with duplicates (a simulated outcome), or only
/// the data a fixed decision records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Pipeline,
    Base,
    DataOnly,
}

fn session_key(conn: &ReadOnly, keyring: &Keyring, id: &str) -> AppResult<DataKey> {
    data_key(conn, keyring, id)?.ok_or_else(|| AppError::Conflict("This session's data has been erased.".into()))
}

/// Reads the evidence of session `s` (as just loaded from `conn`) at `now`.
#[tracing::instrument(name = "gather", skip_all, fields(session_id = %s.id))]
pub fn gather(
    conn: &ReadOnly,
    keyring: &Keyring,
    snapshot: &Snapshot,
    selfies: &SelfieIndex,
    s: SessionState,
    now: &str,
    scope: Scope,
) -> AppResult<SessionEvidence> {
    let (mut evidence, data) = person_evidence(conn, keyring, &s, now)?;
    let (workflow, graph) = session_graph(conn, &s)?;
    let node: Option<String> =
        conn.query_row("SELECT workflow_node FROM sessions WHERE id = ?1", [&s.id], |r| r.get(0))?;
    let mut out = SessionEvidence {
        workflow,
        graph,
        node,
        decision: engine::Decision::default(),
        engine: engine::Evidence::default(),
        data,
        screening: None,
        list_matches: None,
        face_images: None,
        face_unreadable: None,
        session: s,
    };
    if scope == Scope::DataOnly {
        out.engine = evidence;
        return Ok(out);
    }
    evidence.duplicates = duplicates(conn, keyring, selfies, &out.session, &out.data)?;
    if scope == Scope::Pipeline {
        evidence.checks = crate::domain::workflow::policies(&out.graph);
        // The same reading a dry-run of a draft makes.
        evidence.minimum_age = crate::domain::workflow_run::minimum_age(&out.graph);
        out.screening = screening(conn, snapshot, &out, &evidence)?;
        evidence.watchlist = out.screening.as_ref().map(|o| engine::WatchlistResult {
            status: o.status.to_string(),
            error_reason: o.error_reason.map(str::to_string),
            detail: o.check_result(),
        });
        out.list_matches = custom_list_matches(conn, keyring, &out)?;
        let s = &out.session;
        // The images are opened only for a face match the session runs: none leaves the store otherwise.
        if engine::enabled(&evidence, "face_match") && !s.sandbox() && s.uploaded.iter().any(|d| d == "selfie") {
            let doc = |t: &str| crate::queries::sessions::document_plain(conn, keyring, &s.id, t);
            match (doc("selfie"), doc("id_front")) {
                (Ok(Some(selfie)), Ok(Some(document_front))) => {
                    out.face_images = Some(FaceImages { selfie, document_front })
                }
                (Err(e), _) | (_, Err(e)) => out.face_unreadable = Some(format!("images unreadable: {e}")),
                _ => {}
            }
        }
    }
    out.engine = evidence;
    Ok(out)
}

/// Prefill overlaid by confirmed data and the document's readings, the MRZ checks, velocity counts.
fn person_evidence(
    conn: &ReadOnly,
    keyring: &Keyring,
    s: &SessionState,
    now: &str,
) -> AppResult<(engine::Evidence, BTreeMap<String, String>)> {
    let key = session_key(conn, keyring, &s.id)?;
    #[allow(clippy::type_complexity)]
    let (prefill, user_data, signals, ip, device, document_source, document_data): (
        Option<String>,
        Option<String>,
        String,
        Option<Vec<u8>>,
        Option<Vec<u8>>,
        Option<String>,
        Option<String>,
    ) = conn.query_row(
        "SELECT prefill, user_data, fraud_signals, ip_digest, device_digest, document_source, document_data
         FROM sessions WHERE id = ?1",
        [&s.id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
    )?;
    let mut data = open_map(&key, &s.id, "prefill", prefill.as_deref())?;
    let confirmed = open_map(&key, &s.id, "user_data", user_data.as_deref())?;
    let read = open_map(&key, &s.id, "document_data", document_data.as_deref())?;
    let crossref_mismatches: Vec<String> = confirmed
        .iter()
        .filter(|(k, v)| data.get(*k).is_some_and(|p| blind::name(p) != blind::name(v)))
        .map(|(k, _)| k.clone())
        .collect();
    data.extend(confirmed);
    // What was entered (prefill overlaid by what the person confirmed), before any reading fills it.
    let typed = data.clone();
    // The document's own reading (barcode or MRZ) is compared with what was entered and fills what was not.
    let mut barcode_checks = Vec::new();
    for (field, value) in &read {
        if field == MRZ_UNREADABLE || printed::is_printed_key(field) {
            continue;
        }
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
    let count_by = |kind: SignalDigest, digest: &Option<Vec<u8>>, enough: i64| -> AppResult<i64> {
        let Some(d) = digest else { return Ok(0) };
        sessions_with_digest_since(conn, &s.environment, kind, d, &day_ago, &s.id, enough)
    };
    let mut evidence = engine::Evidence {
        sandbox: s.sandbox(),
        checks: s.checks.clone().unwrap_or_else(|| engine::DEFAULT_CHECKS.iter().map(|c| c.to_string()).collect()),
        document_type: s.document_type.clone(),
        uploaded: s.uploaded.clone(),
        today: now.to_string(),
        minimum_age: 18,
        face_threshold: 0.35,
        client_signals: serde_json::from_str(&signals).unwrap_or(Value::Null),
        ip_sessions_last_day: count_by(SignalDigest::Ip, &ip, engine::IP_VELOCITY_SESSIONS)?,
        device_sessions_last_day: count_by(SignalDigest::Device, &device, engine::DEVICE_VELOCITY_SESSIONS)?,
        ..Default::default()
    };
    let mrz_text = data.get("mrz").cloned();
    if let Some(mrz_text) = data.remove("mrz") {
        let (checks, filled) = engine::read_mrz(&mrz_text, &data, now, s.sandbox());
        for (k, v) in filled {
            data.entry(k).or_insert(v);
        }
        evidence.mrz_checks = checks;
    }
    // A photo of a document that carries an MRZ, read without finding one, is a finding: never a silent
    // pass on the typed data alone. The sandbox keeps its simulated documents.
    if let Some(reason) = read.get(MRZ_UNREADABLE) {
        if !s.sandbox() && !data.contains_key("mrz") && mrz_expected(s.document_type.as_deref()) {
            evidence.mrz_checks.push((
                MRZ_READABLE_CHECK.into(),
                false,
                format!("no machine-readable zone could be read from the document photo: {reason}"),
            ));
        }
    }
    evidence.crossref_mismatches = crossref_mismatches;
    evidence.mrz_checks.extend(barcode_checks);
    if s.uploaded.iter().any(|d| d == "id_front") {
        let barcode = (document_source.as_deref() == Some("pdf417")).then_some(&read);
        let (rows, skipped) = printed_checks(&read, mrz_text.as_deref(), barcode, &typed, now, s.sandbox());
        evidence.mrz_checks.extend(rows);
        evidence.skipped_checks.extend(skipped);
        // What neither the person, the MRZ nor a barcode gave, a surely read printed field fills.
        for name in ["first_name", "last_name", "date_of_birth", "document_number", "date_of_expiry"] {
            let sure = read
                .get(&format!("{}{name}", printed::CONFIDENCE_PREFIX))
                .and_then(|c| c.parse::<f64>().ok())
                .is_some_and(|c| c >= printed::TRUSTED_CONFIDENCE);
            if let (true, Some(v)) = (sure, read.get(&format!("{}{name}", printed::FIELD_PREFIX))) {
                let key = if name == "date_of_expiry" { "document_expiration_date" } else { name };
                data.entry(key.to_string()).or_insert_with(|| v.clone());
            }
        }
    }
    // The source names a barcode or zone that was read; printed fields are reported by their own sub-checks.
    evidence.document_source =
        document_source.filter(|_| read.keys().any(|k| k != MRZ_UNREADABLE && !printed::is_printed_key(k)));
    evidence.data = data.clone();
    Ok((evidence, data))
}

/// The printed fields of the front against the MRZ, a barcode and what the person typed: one sub-check per
/// field and reading compared (`printed.<field>.mrz`, `.barcode`, `.entered`). A disagreement fails only
/// when the printed field was read with at least [`printed::TRUSTED_CONFIDENCE`]; a less sure one, and a
/// front whose printed text could not be read, are listed as skipped, never as passed.
fn printed_checks(
    read: &BTreeMap<String, String>,
    mrz_text: Option<&str>,
    barcode: Option<&BTreeMap<String, String>>,
    typed: &BTreeMap<String, String>,
    now: &str,
    sandbox: bool,
) -> (Vec<(String, bool, String)>, Vec<(String, String)>) {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let fields: Vec<printed::PrintedField> = printed::FIELDS
        .iter()
        .filter_map(|name| {
            let value = read.get(&format!("{}{name}", printed::FIELD_PREFIX))?;
            let confidence =
                read.get(&format!("{}{name}", printed::CONFIDENCE_PREFIX)).and_then(|c| c.parse().ok()).unwrap_or(0.0);
            Some(printed::PrintedField { name, value: value.clone(), confidence, method: "" })
        })
        .collect();
    if fields.is_empty() {
        // The sandbox's simulated documents carry no printed text to read.
        if !sandbox {
            let reason = read.get(printed::UNREAD).map_or("the front was not read", String::as_str);
            skipped.push(("printed.readable".to_string(), format!("the printed fields were not read: {reason}")));
        }
        return (rows, skipped);
    }
    let confidence = |f: &str| fields.iter().find(|p| p.name == f).map_or(0.0, |p| p.confidence);
    let mut record = |name: String, field: &str, agreement: printed::Agreement, detail: String| match agreement {
        printed::Agreement::Agrees => rows.push((name, true, detail)),
        printed::Agreement::Disagrees if confidence(field) >= printed::TRUSTED_CONFIDENCE => {
            rows.push((name, false, detail))
        }
        printed::Agreement::Disagrees => skipped.push((
            name,
            format!("the printed value differs but was read with low confidence ({:.2})", confidence(field)),
        )),
        printed::Agreement::NotCompared => {}
    };
    let as_read =
        printed::PrintedRead { fields: fields.clone(), text: String::new(), quarter_turns: 0, elapsed_ms: 0.0 };
    let today =
        time::Date::parse(now.get(..10).unwrap_or(""), time::macros::format_description!("[year]-[month]-[day]"));
    if let (Some(text), Ok(today)) = (mrz_text, today) {
        let mut options = crate::checks::mrz::ParseOptions::new(today);
        options.allow_specimen_states = sandbox;
        if let Ok(report) = crate::checks::mrz::parse(text, &options) {
            for (field, agreement, detail) in printed::compare_with_mrz(&as_read, &report.data) {
                let detail = format!("the printed field against the machine-readable zone: {detail}");
                record(format!("printed.{field}.mrz"), field, agreement, detail);
            }
        }
    }
    // The session's names for the expiry date; the rest share the printed names.
    fn other_name(f: &str) -> &str {
        if f == "date_of_expiry" {
            "document_expiration_date"
        } else {
            f
        }
    }
    for f in &fields {
        if let Some(code) = barcode.and_then(|b| b.get(other_name(f.name))) {
            let a = printed::agrees(f.name, &f.value, code);
            record(format!("printed.{}.barcode", f.name), f.name, a, "the printed field against the barcode".into());
        }
        if let Some(entered) = typed.get(other_name(f.name)) {
            let a = printed::agrees(f.name, &f.value, entered);
            record(
                format!("printed.{}.entered", f.name),
                f.name,
                a,
                "the printed field against the entered data".into(),
            );
        }
    }
    (rows, skipped)
}

/// The document check's rule that fails when a document that carries an MRZ showed none that could be read.
pub const MRZ_READABLE_CHECK: &str = "mrz.readable";

/// Whether a document of this type carries a machine-readable zone (passports on the data page; ID cards
/// and residence permits on the back, as ICAO 9303 TD1). Driving licences mostly do not.
fn mrz_expected(document_type: Option<&str>) -> bool {
    matches!(document_type, Some("passport" | "national_id" | "residence_permit"))
}

/// Blind-index and image-hash matches against other identities of the environment.
#[tracing::instrument(name = "duplicates", skip_all, fields(session_id = %s.id))]
fn duplicates(
    conn: &ReadOnly,
    keyring: &Keyring,
    selfies: &SelfieIndex,
    s: &SessionState,
    data: &BTreeMap<String, String>,
) -> AppResult<Vec<DuplicateHit>> {
    let own =
        s.external_ref.as_deref().and_then(|r| load_surviving(conn, &s.environment, r).ok().flatten()).map(|i| i.id);
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
        let index_key = keyring.blind_index_key(&s.environment, kind, &normalised);
        let ids = crate::queries::identities::surviving_with_blind_key(conn, &s.environment, &index_key)?;
        for id in ids {
            if Some(&id) != own.as_ref() {
                hits.push(DuplicateHit { relationship_type: rel.to_string(), identity_id: id });
            }
        }
    }
    // Near-identical selfies on another identity's sessions: the environment's enrolled selfie hashes.
    let selfie: Option<i64> =
        conn.query_row("SELECT selfie_phash FROM sessions WHERE id = ?1", [&s.id], |r| r.get(0)).optional()?.flatten();
    if let Some(bits) = selfie {
        use crate::checks::imagehash::{max_distance_for_threshold, ImageHash64, DEFAULT_THRESHOLD};
        let near = selfies.identities_near(
            conn,
            &s.environment,
            &s.id,
            ImageHash64::from_u64(bits as u64),
            max_distance_for_threshold(DEFAULT_THRESHOLD),
        )?;
        for identity in near {
            if Some(&identity) != own.as_ref() {
                hits.push(DuplicateHit { relationship_type: "same_face".into(), identity_id: identity });
            }
        }
    }
    hits.sort_by(|a, b| (&a.identity_id, &a.relationship_type).cmp(&(&b.identity_id, &b.relationship_type)));
    hits.dedup();
    Ok(hits)
}

/// The graph a session runs: its `checks` override (as a steps list), else its workflow or the
/// environment's default (published version).
pub fn session_graph<C: Reads + ?Sized>(conn: &C, s: &SessionState) -> AppResult<(Option<(String, i64)>, Graph)> {
    if let Some(checks) = &s.checks {
        let mut steps = checks.clone();
        steps.push("auto_approve".into());
        return Ok((None, crate::domain::workflow::graph_from_steps(&steps)?));
    }
    let workflow_id: Option<String> =
        conn.query_row("SELECT workflow_id FROM sessions WHERE id = ?1", [&s.id], |r| r.get(0))?;
    match crate::commands::workflows::resolve_for_session(conn, &s.environment, workflow_id.as_deref())? {
        Some((id, version, graph)) => Ok((Some((id, version)), graph)),
        None => {
            let mut steps: Vec<String> = engine::DEFAULT_CHECKS.iter().map(|c| c.to_string()).collect();
            steps.push("auto_approve".into());
            Ok((None, crate::domain::workflow::graph_from_steps(&steps)?))
        }
    }
}

/// Watchlist screening (spec §4.5) against the loaded lists, minus this subject's dismissals.
#[tracing::instrument(name = "screening", skip_all, fields(session_id = %ev.session.id))]
fn screening(
    conn: &ReadOnly,
    snapshot: &Snapshot,
    ev: &SessionEvidence,
    evidence: &engine::Evidence,
) -> AppResult<Option<ScreeningOutcome>> {
    let s = &ev.session;
    if !evidence.checks.iter().any(|c| c == "watchlist_screening") || s.sandbox() {
        return Ok(None);
    }
    let threshold = ev
        .graph
        .nodes
        .values()
        .filter(|n| n.get("policy").and_then(Value::as_str) == Some("watchlist_screening"))
        .find_map(|n| n.get("threshold").and_then(Value::as_f64))
        .unwrap_or(crate::screening::DEFAULT_THRESHOLD);
    let dismissals = crate::commands::checks::session_dismissals(
        conn,
        &s.environment,
        s.identity_id.as_deref(),
        s.external_ref.as_deref(),
    )?;
    let mut outcome = crate::screening_service::screen_subject(snapshot, &ev.data, threshold);
    outcome.apply_dismissals(&dismissals);
    Ok(Some(outcome))
}

/// The `check_against_list` policy (spec §4.8): each such node's lists (none named: all active lists)
/// matched against the session's data. Recording them (and their effect) is the decision's job.
#[tracing::instrument(name = "custom_lists", skip_all, fields(session_id = %ev.session.id))]
fn custom_list_matches(
    conn: &ReadOnly,
    keyring: &Keyring,
    ev: &SessionEvidence,
) -> AppResult<Option<Vec<Vec<ListMatch>>>> {
    let graph = &ev.graph;
    let nodes: Vec<Option<Vec<String>>> = graph
        .nodes
        .values()
        .filter(|n| n.get("policy").and_then(Value::as_str) == Some("check_against_list"))
        .map(|n| n.get("list_ids").and_then(|l| serde_json::from_value::<Vec<String>>(l.clone()).ok()))
        .collect();
    let in_auto_approve = crate::domain::workflow::policies(graph).iter().any(|p| p == "check_against_list");
    if nodes.is_empty() && !in_auto_approve {
        return Ok(None);
    }
    let mut subject = ev.data.clone();
    subject.remove("mrz");
    let lists = if nodes.is_empty() { vec![None] } else { nodes };
    let mut out = Vec::with_capacity(lists.len());
    for list_ids in lists {
        out.push(crate::store::shared_reads::check_lenient(
            conn,
            keyring,
            &ev.session.environment,
            &subject,
            list_ids.as_deref(),
        )?);
    }
    Ok(Some(out))
}
