//! The offline check pipeline of a session (spec §4): document data, expiry, age, face match, duplicates,
//! image similarity, fraud signals and risk, then the auto-approve decision. Pure: every input (today's
//! date, duplicate hits, provider answers) is handed in; must not read the database, the clock or the
//! network.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const DEFAULT_CHECKS: &[&str] = &[
    "document_ocr",
    "document_expiration",
    "age_verification",
    "face_match",
    "duplicate_detection",
    "risk_assessment",
    "identity_crossref",
    "watchlist_screening",
];

/// A same-person signal found against another identity.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateHit {
    pub relationship_type: String,
    pub identity_id: String,
}

/// The watchlist screening of the session's subject, as the screening service reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchlistResult {
    /// `clear`, `hit` or `error`.
    pub status: String,
    /// With `error`: `no_lists` (nothing imported) or `no_name`.
    pub error_reason: Option<String>,
    /// The check result to show (hits with list versions; no subject data).
    pub detail: Value,
}

/// What the face-match provider said, if one ran.
#[derive(Debug, Clone, PartialEq)]
pub enum FaceMatch {
    Score(f64),
    /// No provider is configured (live) or it failed: a person must look.
    Unavailable(String),
}

#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub sandbox: bool,
    pub checks: Vec<String>,
    pub document_type: Option<String>,
    pub uploaded: Vec<String>,
    /// Person data: prefill overlaid by what the person confirmed (and the MRZ, when read).
    pub data: BTreeMap<String, String>,
    pub mrz_checks: Vec<(String, bool, String)>,
    /// Fields where what the integrator prefilled and what the person confirmed disagree.
    pub crossref_mismatches: Vec<String>,
    pub watchlist: Option<WatchlistResult>,
    /// Where the document data came from when a barcode was read (`pdf417`, `qr_mrz`).
    pub document_source: Option<String>,
    pub today: String,
    pub minimum_age: i64,
    pub face: Option<FaceMatch>,
    pub face_threshold: f64,
    pub duplicates: Vec<DuplicateHit>,
    /// Client-side signals as submitted, and server-side velocity counts.
    pub client_signals: Value,
    pub ip_sessions_last_day: i64,
    pub device_sessions_last_day: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub status: String,
    pub rejection_reason: Option<String>,
    pub rejection_reason_code: Option<String>,
    pub face_match_passed: Option<bool>,
    pub face_match_score: Option<f64>,
    pub age_check_passed: Option<bool>,
    pub extracted_age: Option<i64>,
    pub check_results: Map<String, Value>,
    pub risk: Value,
    /// Filled by the workflow walk: the nodes visited.
    pub workflow_path: Vec<String>,
}

/// Whole years between a YYYY-MM-DD date of birth and today.
pub fn age_on(dob: &str, today: &str) -> Option<i64> {
    let parse = |s: &str| -> Option<(i64, i64, i64)> {
        let p: Vec<&str> = s.get(..10)?.split('-').collect();
        Some((p.first()?.parse().ok()?, p.get(1)?.parse().ok()?, p.get(2)?.parse().ok()?))
    };
    let (by, bm, bd) = parse(dob)?;
    let (ty, tm, td) = parse(today)?;
    let mut age = ty - by;
    if (tm, td) < (bm, bd) {
        age -= 1;
    }
    (age >= 0).then_some(age)
}

fn risk_level(score: i64) -> &'static str {
    match score {
        0..=20 => "low",
        21..=50 => "medium",
        51..=80 => "high",
        _ => "critical",
    }
}

/// Fraud signals and the 0–100 score in the spec's bands (§4.10).
pub fn assess_risk(e: &Evidence) -> Value {
    let mut signals: Vec<Value> = Vec::new();
    let mut add = |name: &str, category: &str, weight: i64| {
        signals.push(json!({ "name": name, "category": category, "weight": weight, "action": "score" }));
    };
    let s = &e.client_signals;
    if s.get("webdriver").and_then(Value::as_bool) == Some(true) {
        add("bot_detected", "device", 50);
    }
    if let Some(ms) = s.get("completion_ms").and_then(Value::as_i64) {
        if ms > 0 && ms < 15_000 {
            add("completion_too_fast", "behavioral", 20);
        } else if ms > 15 * 60 * 1000 {
            add("completion_too_slow", "behavioral", 5);
        }
    }
    if s.get("tab_switches").and_then(Value::as_i64).unwrap_or(0) > 5 {
        add("high_distraction", "behavioral", 5);
    }
    if s.get("pasted_fields")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x.as_str().is_some_and(|n| n.contains("name"))))
    {
        add("copy_paste_name", "behavioral", 15);
    }
    if e.ip_sessions_last_day >= 5 {
        add("ip_velocity", "network", 20);
    }
    if e.device_sessions_last_day >= 3 {
        add("device_velocity", "device", 25);
    }
    if !e.duplicates.is_empty() {
        add("duplicate_identity", "identity_graph", 30);
    }
    let mismatches = e.mrz_checks.iter().filter(|(n, ok, _)| !ok && n.starts_with("consistency")).count();
    if mismatches > 0 {
        add("data_inconsistency", "identity_graph", 20 + 10 * mismatches.min(3) as i64);
    }
    let score: i64 = signals.iter().filter_map(|s| s["weight"].as_i64()).sum::<i64>().min(100);
    json!({ "risk_score": score, "risk_level": risk_level(score), "signals": signals })
}

fn enabled(e: &Evidence, name: &str) -> bool {
    e.checks.iter().any(|c| c == name)
}

/// Runs every enabled check and decides approved / declined / needs_review.
pub fn evaluate(e: &Evidence) -> Decision {
    let mut d = Decision::default();
    let mut review: Vec<String> = Vec::new();
    let mut decline: Option<(String, String)> = None;
    let mut result = |name: &str, status: &str, detail: Value| {
        d.check_results
            .insert(name.to_string(), json!({ "status": status, "passed": status == "passed", "detail": detail }));
    };

    if enabled(e, "document_ocr") {
        let has_front = e.uploaded.iter().any(|u| u == "id_front");
        let required = ["first_name", "last_name", "date_of_birth"];
        let missing: Vec<&str> = required.iter().copied().filter(|f| !e.data.contains_key(*f)).collect();
        let mrz_failed: Vec<&(String, bool, String)> = e.mrz_checks.iter().filter(|(_, ok, _)| !ok).collect();
        if !has_front && !e.sandbox {
            result("document_ocr", "failed", json!({ "reason": "no document front was uploaded" }));
            decline.get_or_insert(("The identity document was not provided.".into(), "document_missing".into()));
        } else if !missing.is_empty() {
            result("document_ocr", "failed", json!({ "missing_fields": missing }));
            decline.get_or_insert(("The document data could not be read.".into(), "document_unreadable".into()));
        } else if !mrz_failed.is_empty() {
            let failed: Vec<Value> =
                mrz_failed.iter().map(|(n, _, detail)| json!({ "check": n, "detail": detail })).collect();
            let barcode = e.document_source.as_deref().is_some_and(|s| s == "pdf417");
            let source = e.document_source.clone().unwrap_or_else(|| "mrz".into());
            result("document_ocr", "failed", json!({ "source": source, "failed": failed }));
            decline.get_or_insert(if barcode {
                ("The document's barcode disagrees with the entered data.".into(), "document_mismatch".into())
            } else {
                ("The document's machine-readable zone did not validate.".into(), "mrz_mismatch".into())
            });
        } else {
            let source = match (&e.document_source, e.mrz_checks.is_empty()) {
                (Some(s), _) => s.as_str(),
                (None, true) => "confirmed_by_person",
                (None, false) => "mrz",
            };
            result("document_ocr", "passed", json!({ "source": source, "document_type": e.document_type }));
        }
    }

    if enabled(e, "document_expiration") {
        match e.data.get("document_expiration_date") {
            Some(exp) if exp.as_str() < e.today.get(..10).unwrap_or("") => {
                result("document_expiration", "failed", json!({ "expired_on": exp }));
                decline.get_or_insert(("The identity document has expired.".into(), "document_expired".into()));
            }
            Some(_) => result("document_expiration", "passed", Value::Null),
            None => result("document_expiration", "skipped", json!({ "reason": "no expiry date provided" })),
        }
    }

    let age = e.data.get("date_of_birth").and_then(|dob| age_on(dob, &e.today));
    d.extracted_age = age;
    if enabled(e, "age_verification") {
        match age {
            Some(a) if a >= e.minimum_age => {
                d.age_check_passed = Some(true);
                result("age_verification", "passed", json!({ "minimum_age": e.minimum_age, "age": a }));
            }
            Some(a) => {
                d.age_check_passed = Some(false);
                result("age_verification", "failed", json!({ "minimum_age": e.minimum_age, "age": a }));
                decline.get_or_insert((format!("The person is under {}.", e.minimum_age), "underage".into()));
            }
            None => result("age_verification", "skipped", json!({ "reason": "no date of birth" })),
        }
    }

    if enabled(e, "face_match") {
        match &e.face {
            Some(FaceMatch::Score(score)) => {
                let passed = *score >= e.face_threshold;
                d.face_match_passed = Some(passed);
                d.face_match_score = Some(*score);
                result(
                    "face_match",
                    if passed { "passed" } else { "failed" },
                    json!({ "score": score, "threshold": e.face_threshold }),
                );
                if !passed {
                    decline.get_or_insert((
                        "The selfie does not match the document portrait.".into(),
                        "face_mismatch".into(),
                    ));
                }
            }
            Some(FaceMatch::Unavailable(reason)) => {
                result("face_match", "error", json!({ "reason": reason }));
                review.push(format!("face match unavailable: {reason}"));
            }
            None => result("face_match", "skipped", json!({ "reason": "no selfie" })),
        }
    }

    if enabled(e, "duplicate_detection") {
        if e.duplicates.is_empty() {
            result("duplicate_detection", "passed", json!({ "matches": [] }));
        } else {
            let matches: Vec<Value> = e
                .duplicates
                .iter()
                .map(|h| json!({ "identity_id": h.identity_id, "relationship_type": h.relationship_type }))
                .collect();
            result("duplicate_detection", "failed", json!({ "matches": matches }));
            review.push("possible duplicate identity".into());
        }
    }

    d.risk = assess_risk(e);
    if enabled(e, "risk_assessment") {
        let level = d.risk["risk_level"].as_str().unwrap_or("low").to_string();
        let status = if level == "low" || level == "medium" { "passed" } else { "failed" };
        result("risk_assessment", status, d.risk.clone());
        match level.as_str() {
            "critical" => {
                decline.get_or_insert(("The fraud risk is critical.".into(), "high_risk".into()));
            }
            "high" => review.push("high fraud risk".into()),
            _ => {}
        }
    }

    if enabled(e, "identity_crossref") {
        if e.crossref_mismatches.is_empty() {
            result("identity_crossref", "passed", Value::Null);
        } else {
            result("identity_crossref", "failed", json!({ "mismatched_fields": e.crossref_mismatches }));
            review.push("the confirmed data differs from the data on record".into());
        }
    }

    if enabled(e, "watchlist_screening") {
        match &e.watchlist {
            None => result(
                "watchlist_screening",
                "skipped",
                json!({ "reason": "not screened (sandbox or no lists loaded)" }),
            ),
            Some(w) if w.error_reason.as_deref() == Some("no_lists") => {
                result("watchlist_screening", "skipped", json!({ "reason": "no watchlist has been imported" }))
            }
            Some(w) if w.status == "hit" => {
                result("watchlist_screening", "failed", w.detail.clone());
                review.push("possible watchlist match".into());
            }
            Some(w) if w.status == "error" => {
                result("watchlist_screening", "error", w.detail.clone());
                review.push("the subject could not be screened".into());
            }
            Some(w) => result("watchlist_screening", "passed", w.detail.clone()),
        }
    }

    if let Some((reason, code)) = decline {
        d.status = "declined".into();
        d.rejection_reason = Some(reason);
        d.rejection_reason_code = Some(code);
    } else if !review.is_empty() {
        d.status = "needs_review".into();
        d.rejection_reason = Some(review.join("; "));
    } else {
        d.status = "approved".into();
    }
    d
}

/// Reads the machine-readable zone the person supplied: its own checks (check digits, codes, dates)
/// and its consistency with what was entered, as (name, passed, detail) rows; and the fields it fills
/// where the person left them empty. `today` is `YYYY-MM-DD...`.
pub fn read_mrz(
    text: &str,
    entered: &BTreeMap<String, String>,
    today: &str,
    sandbox: bool,
) -> (Vec<(String, bool, String)>, BTreeMap<String, String>) {
    use super::mrz;
    let parse_date = |s: &str| {
        time::Date::parse(s.get(..10).unwrap_or(""), time::macros::format_description!("[year]-[month]-[day]")).ok()
    };
    let Some(today) = parse_date(today) else { return (Vec::new(), BTreeMap::new()) };
    let mut options = mrz::ParseOptions::new(today);
    options.allow_specimen_states = sandbox;
    let report = match mrz::parse(text, &options) {
        Ok(r) => r,
        Err(e) => return (vec![("mrz.format".into(), false, e.to_string())], BTreeMap::new()),
    };
    let mut rows: Vec<(String, bool, String)> = report
        .checks
        .iter()
        .map(|c| {
            let name =
                serde_json::to_value(c.name).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            (format!("mrz.{name}"), c.passed, c.detail.clone())
        })
        .collect();
    let get = |k: &str| entered.get(k).cloned().filter(|v| !v.is_empty());
    let person = mrz::Entered {
        first_name: get("first_name"),
        last_name: get("last_name"),
        date_of_birth: get("date_of_birth").and_then(|d| parse_date(&d)),
        document_number: get("document_number"),
        nationality: get("nationality"),
        expiry: get("document_expiration_date").and_then(|d| parse_date(&d)),
    };
    for c in mrz::compare(&report.data, &person) {
        if c.outcome == mrz::FieldOutcome::Mismatch {
            let field =
                serde_json::to_value(c.field).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            rows.push((format!("consistency.{field}"), false, c.detail));
        }
    }
    let d = &report.data;
    let mut filled = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            filled.insert(k.to_string(), v);
        }
    };
    put("first_name", Some(d.secondary_identifier.clone()));
    put("last_name", Some(d.primary_identifier.clone()));
    put("date_of_birth", d.date_of_birth.map(|x| x.to_string()));
    put("document_number", Some(d.document_number.clone()));
    put("nationality", mrz::alpha2_of(&d.nationality).map(str::to_string));
    put("document_expiration_date", d.date_of_expiry.map(|x| x.to_string()));
    (rows, filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Evidence {
        let mut data = BTreeMap::new();
        data.insert("first_name".to_string(), "Ada".to_string());
        data.insert("last_name".to_string(), "Lovelace".to_string());
        data.insert("date_of_birth".to_string(), "1990-04-01".to_string());
        Evidence {
            checks: DEFAULT_CHECKS.iter().map(|s| s.to_string()).collect(),
            uploaded: vec!["id_front".into(), "selfie".into()],
            data,
            today: "2026-11-25".into(),
            minimum_age: 18,
            face: Some(FaceMatch::Score(0.9)),
            face_threshold: 0.35,
            ..Default::default()
        }
    }

    #[test]
    fn a_clean_session_is_approved_and_age_is_computed() {
        let d = evaluate(&base());
        assert_eq!(d.status, "approved", "{:?}", d.check_results);
        assert_eq!(d.extracted_age, Some(36));
        assert_eq!(d.age_check_passed, Some(true));
    }

    #[test]
    fn underage_expired_and_unavailable_face_match_route_as_the_spec_says() {
        let mut e = base();
        e.data.insert("date_of_birth".into(), "2010-01-01".into());
        assert_eq!(evaluate(&e).rejection_reason_code.as_deref(), Some("underage"));
        let mut e = base();
        e.data.insert("document_expiration_date".into(), "2020-01-01".into());
        assert_eq!(evaluate(&e).rejection_reason_code.as_deref(), Some("document_expired"));
        let mut e = base();
        e.face = Some(FaceMatch::Unavailable("no provider".into()));
        assert_eq!(evaluate(&e).status, "needs_review");
        let mut e = base();
        e.duplicates.push(DuplicateHit { relationship_type: "same_name_dob".into(), identity_id: "idn_x".into() });
        assert_eq!(evaluate(&e).status, "needs_review");
    }

    #[test]
    fn an_mrz_fills_missing_fields_and_flags_what_disagrees() {
        // ICAO 9303 part 4 worked example (TD3, the fictional state Utopia).
        let mrz = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
        let mut entered = BTreeMap::new();
        entered.insert("first_name".to_string(), "Anna Maria".to_string());
        entered.insert("last_name".to_string(), "Smith".to_string());
        let (checks, filled) = read_mrz(mrz, &entered, "2010-01-01", true);
        assert_eq!(filled.get("date_of_birth").map(String::as_str), Some("1974-08-12"));
        assert_eq!(filled.get("document_number").map(String::as_str), Some("L898902C3"));
        assert!(checks.iter().any(|(n, ok, _)| n == "consistency.last_name" && !ok), "{checks:?}");
        assert!(checks.iter().filter(|(n, _, _)| n.starts_with("mrz.")).all(|(_, ok, _)| *ok), "{checks:?}");
        let (after_expiry, _) = read_mrz(mrz, &entered, "2026-11-25", true);
        assert!(after_expiry.iter().any(|(n, ok, _)| n == "mrz.not_expired" && !ok), "{after_expiry:?}");
    }

    #[test]
    fn risk_score_follows_the_bands() {
        let mut e = base();
        e.client_signals = json!({ "webdriver": true, "completion_ms": 3000 });
        e.device_sessions_last_day = 4;
        let r = assess_risk(&e);
        assert_eq!(r["risk_score"], 95);
        assert_eq!(r["risk_level"], "critical");
        assert_eq!(evaluate(&e).status, "declined");
    }
}
