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
    /// Document rules that could not run, as (name, reason): printed text not read, or read too unsurely
    /// to hold against another reading. Listed as skipped, never as passed.
    pub skipped_checks: Vec<(String, String)>,
    /// Fields where what the integrator prefilled and what the person confirmed disagree.
    pub crossref_mismatches: Vec<String>,
    pub watchlist: Option<WatchlistResult>,
    /// Where the document data came from when the document itself was read (`pdf417`, `qr_mrz`, `mrz_image`).
    pub document_source: Option<String>,
    pub today: String,
    pub minimum_age: i64,
    pub face: Option<FaceMatch>,
    pub face_threshold: f64,
    pub duplicates: Vec<DuplicateHit>,
    /// Client-side signals as submitted, and server-side velocity counts: the environment's other sessions
    /// of the last day from the same IP address or device, counted up to [`IP_VELOCITY_SESSIONS`] and
    /// [`DEVICE_VELOCITY_SESSIONS`] (all the risk rules compare them with).
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

/// Other sessions of the last day from one IP address at which a session scores `ip_velocity`.
pub const IP_VELOCITY_SESSIONS: i64 = 5;
/// Other sessions of the last day from one device at which a session scores `device_velocity`.
pub const DEVICE_VELOCITY_SESSIONS: i64 = 3;

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
    if e.ip_sessions_last_day >= IP_VELOCITY_SESSIONS {
        add("ip_velocity", "network", 20);
    }
    if e.device_sessions_last_day >= DEVICE_VELOCITY_SESSIONS {
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

/// Whether the session runs check `name` (its workflow's policies or its `checks` list).
pub fn enabled(e: &Evidence, name: &str) -> bool {
    e.checks.iter().any(|c| c == name)
}

/// One rule a check ran, for the check's `sub_checks` list: `status` is `passed`, `failed` or `skipped`
/// (`error` where a provider could not answer), `passed` says whether it passed, and `reason` says why,
/// without quoting any personal value.
pub fn sub_check(name: &str, status: &str, reason: impl Into<String>) -> Value {
    json!({ "name": name, "status": status, "passed": status == "passed", "reason": reason.into() })
}

fn pass_fail(passed: bool) -> &'static str {
    if passed {
        "passed"
    } else {
        "failed"
    }
}

/// The document check's rules, every one it ran, passed or failed: the document front, each required
/// field, then each MRZ (or barcode) rule in the order the reader ran them, including every check digit
/// and the consistency of each compared field with the entered data.
fn document_sub_checks(e: &Evidence, has_front: bool, required: &[&str]) -> Vec<Value> {
    let mut subs = Vec::new();
    subs.push(match (has_front, e.sandbox) {
        (true, _) => sub_check("document_front", "passed", "the document front was uploaded"),
        (false, true) => sub_check("document_front", "skipped", "not required in the sandbox"),
        (false, false) => sub_check("document_front", "failed", "no document front was uploaded"),
    });
    for f in required {
        let present = e.data.contains_key(*f);
        let reason = if present { "present" } else { "missing" };
        subs.push(sub_check(&format!("required_field.{f}"), pass_fail(present), reason));
    }
    for (name, ok, detail) in &e.mrz_checks {
        subs.push(sub_check(name, pass_fail(*ok), detail.clone()));
    }
    for (name, reason) in &e.skipped_checks {
        subs.push(sub_check(name, "skipped", reason.clone()));
    }
    subs
}

/// Runs every enabled check and decides approved / declined / needs_review. Each check's result lists
/// every rule it ran in `sub_checks`, passed or failed, with the reason.
pub fn evaluate(e: &Evidence) -> Decision {
    let mut d = Decision::default();
    let mut review: Vec<String> = Vec::new();
    let mut decline: Option<(String, String)> = None;
    let mut result = |name: &str, status: &str, detail: Value, subs: Vec<Value>| {
        d.check_results.insert(
            name.to_string(),
            json!({ "status": status, "passed": status == "passed", "detail": detail, "sub_checks": subs }),
        );
    };

    if enabled(e, "document_ocr") {
        let has_front = e.uploaded.iter().any(|u| u == "id_front");
        let required = ["first_name", "last_name", "date_of_birth"];
        let missing: Vec<&str> = required.iter().copied().filter(|f| !e.data.contains_key(*f)).collect();
        let mrz_failed: Vec<&(String, bool, String)> = e.mrz_checks.iter().filter(|(_, ok, _)| !ok).collect();
        let mut result = |status: &str, detail: Value| {
            result("document_ocr", status, detail, document_sub_checks(e, has_front, &required))
        };
        if !has_front && !e.sandbox {
            result("failed", json!({ "reason": "no document front was uploaded" }));
            decline.get_or_insert(("The identity document was not provided.".into(), "document_missing".into()));
        } else if !missing.is_empty() {
            result("failed", json!({ "missing_fields": missing }));
            decline.get_or_insert(("The document data could not be read.".into(), "document_unreadable".into()));
        } else if !mrz_failed.is_empty() {
            let failed: Vec<Value> =
                mrz_failed.iter().map(|(n, _, detail)| json!({ "check": n, "detail": detail })).collect();
            let barcode = e.document_source.as_deref().is_some_and(|s| s == "pdf417");
            let unreadable = mrz_failed.iter().any(|(n, _, _)| n == "mrz.readable");
            let printed = mrz_failed.iter().all(|(n, _, _)| n.starts_with("printed."));
            let source = e.document_source.clone().unwrap_or_else(|| "mrz".into());
            result("failed", json!({ "source": source, "failed": failed }));
            if printed && !unreadable {
                // Text read from a photographed page is wrong often enough (a genuine page in about thirty
                // disagreed with its own zone in the printed-field bench) that a disagreement alone goes
                // to a person, who sees the photo, instead of declining: the zone itself validated.
                review.push(
                    "the document's printed data disagrees with its machine-readable zone, barcode or the entered data"
                        .into(),
                );
            } else {
                decline.get_or_insert(if unreadable {
                    ("The document data could not be read.".into(), "document_unreadable".into())
                } else if barcode {
                    ("The document's barcode disagrees with the entered data.".into(), "document_mismatch".into())
                } else {
                    ("The document's machine-readable zone did not validate.".into(), "mrz_mismatch".into())
                });
            }
        } else {
            let source = match (&e.document_source, e.mrz_checks.is_empty()) {
                (Some(s), _) => s.as_str(),
                (None, true) => "confirmed_by_person",
                (None, false) => "mrz",
            };
            result("passed", json!({ "source": source, "document_type": e.document_type }));
        }
    }

    if enabled(e, "document_expiration") {
        let present = sub_check("expiry_date_present", "passed", "the document's expiry date is known");
        match e.data.get("document_expiration_date") {
            Some(exp) if exp.as_str() < e.today.get(..10).unwrap_or("") => {
                let subs = vec![present, sub_check("not_expired", "failed", "the expiry date is before today")];
                result("document_expiration", "failed", json!({ "expired_on": exp }), subs);
                decline.get_or_insert(("The identity document has expired.".into(), "document_expired".into()));
            }
            Some(_) => {
                let subs = vec![present, sub_check("not_expired", "passed", "the expiry date is today or later")];
                result("document_expiration", "passed", Value::Null, subs)
            }
            None => result(
                "document_expiration",
                "skipped",
                json!({ "reason": "no expiry date provided" }),
                vec![sub_check("expiry_date_present", "skipped", "no expiry date provided")],
            ),
        }
    }

    let age = e.data.get("date_of_birth").and_then(|dob| age_on(dob, &e.today));
    d.extracted_age = age;
    if enabled(e, "age_verification") {
        let known = sub_check("date_of_birth_present", "passed", "the date of birth is known");
        match age {
            Some(a) if a >= e.minimum_age => {
                d.age_check_passed = Some(true);
                let rule = sub_check("minimum_age", "passed", format!("at least {} years old", e.minimum_age));
                result(
                    "age_verification",
                    "passed",
                    json!({ "minimum_age": e.minimum_age, "age": a }),
                    vec![known, rule],
                );
            }
            Some(a) => {
                d.age_check_passed = Some(false);
                let rule = sub_check("minimum_age", "failed", format!("younger than {} years", e.minimum_age));
                result(
                    "age_verification",
                    "failed",
                    json!({ "minimum_age": e.minimum_age, "age": a }),
                    vec![known, rule],
                );
                decline.get_or_insert((format!("The person is under {}.", e.minimum_age), "underage".into()));
            }
            None => result(
                "age_verification",
                "skipped",
                json!({ "reason": "no date of birth" }),
                vec![sub_check("date_of_birth_present", "skipped", "no date of birth (or not a valid date)")],
            ),
        }
    }

    if enabled(e, "face_match") {
        match &e.face {
            Some(FaceMatch::Score(score)) => {
                let passed = *score >= e.face_threshold;
                d.face_match_passed = Some(passed);
                d.face_match_score = Some(*score);
                let reason = if passed {
                    format!("score {score} is at least the threshold {}", e.face_threshold)
                } else {
                    format!("score {score} is below the threshold {}", e.face_threshold)
                };
                result(
                    "face_match",
                    pass_fail(passed),
                    json!({ "score": score, "threshold": e.face_threshold }),
                    vec![sub_check("similarity", pass_fail(passed), reason)],
                );
                if !passed {
                    decline.get_or_insert((
                        "The selfie does not match the document portrait.".into(),
                        "face_mismatch".into(),
                    ));
                }
            }
            Some(FaceMatch::Unavailable(reason)) => {
                let subs = vec![sub_check("similarity", "error", format!("no score: {reason}"))];
                result("face_match", "error", json!({ "reason": reason }), subs);
                review.push(format!("face match unavailable: {reason}"));
            }
            None => result(
                "face_match",
                "skipped",
                json!({ "reason": "no selfie" }),
                vec![sub_check("similarity", "skipped", "no selfie")],
            ),
        }
    }

    if enabled(e, "duplicate_detection") {
        if e.duplicates.is_empty() {
            let subs = vec![sub_check("duplicates", "passed", "no other identity shares this data or photo")];
            result("duplicate_detection", "passed", json!({ "matches": [] }), subs);
        } else {
            let matches: Vec<Value> = e
                .duplicates
                .iter()
                .map(|h| json!({ "identity_id": h.identity_id, "relationship_type": h.relationship_type }))
                .collect();
            let subs = e
                .duplicates
                .iter()
                .map(|h| {
                    let reason = format!("matches identity {}", h.identity_id);
                    sub_check(&format!("duplicates.{}", h.relationship_type), "failed", reason)
                })
                .collect();
            result("duplicate_detection", "failed", json!({ "matches": matches }), subs);
            review.push("possible duplicate identity".into());
        }
    }

    d.risk = assess_risk(e);
    if enabled(e, "risk_assessment") {
        let level = d.risk["risk_level"].as_str().unwrap_or("low").to_string();
        let status = if level == "low" || level == "medium" { "passed" } else { "failed" };
        let reason = format!("risk score {} ({level}); high and critical fail", d.risk["risk_score"]);
        result("risk_assessment", status, d.risk.clone(), vec![sub_check("risk_level", status, reason)]);
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
            let subs = vec![sub_check("prefill_agrees", "passed", "the confirmed data agrees with the prefilled data")];
            result("identity_crossref", "passed", Value::Null, subs);
        } else {
            let subs = e
                .crossref_mismatches
                .iter()
                .map(|f| {
                    sub_check(&format!("prefill_agrees.{f}"), "failed", "the confirmed value differs from the prefill")
                })
                .collect();
            result("identity_crossref", "failed", json!({ "mismatched_fields": e.crossref_mismatches }), subs);
            review.push("the confirmed data differs from the data on record".into());
        }
    }

    if enabled(e, "watchlist_screening") {
        let screened = |status: &str, reason: &str| vec![sub_check("screening", status, reason)];
        match &e.watchlist {
            None => result(
                "watchlist_screening",
                "skipped",
                json!({ "reason": "not screened (sandbox or no lists loaded)" }),
                screened("skipped", "not screened (sandbox or no lists loaded)"),
            ),
            Some(w) if w.error_reason.as_deref() == Some("no_lists") => result(
                "watchlist_screening",
                "skipped",
                json!({ "reason": "no watchlist has been imported" }),
                screened("skipped", "no watchlist has been imported"),
            ),
            Some(w) if w.status == "hit" => {
                result(
                    "watchlist_screening",
                    "failed",
                    w.detail.clone(),
                    screened("failed", "possible match on a watchlist"),
                );
                review.push("possible watchlist match".into());
            }
            Some(w) if w.status == "error" => {
                let reason = format!("could not screen: {}", w.error_reason.as_deref().unwrap_or("error"));
                result("watchlist_screening", "error", w.detail.clone(), screened("error", &reason));
                review.push("the subject could not be screened".into());
            }
            Some(w) => result(
                "watchlist_screening",
                "passed",
                w.detail.clone(),
                screened("passed", "no match on the watchlists"),
            ),
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
            let detail = match c.name {
                // The reason names the rule, not the person's nationality or issuer.
                mrz::CheckName::IssuingState | mrz::CheckName::Nationality => {
                    match c.detail.split_once(" is ").filter(|(code, _)| code.len() == 3 && code != &"UTO") {
                        Some((_, rest)) => format!("the code is {rest}"),
                        None => c.detail.clone(),
                    }
                }
                _ => c.detail.clone(),
            };
            (format!("mrz.{name}"), c.passed, detail)
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
        let passed = match c.outcome {
            mrz::FieldOutcome::Match => true,
            mrz::FieldOutcome::Mismatch => false,
            mrz::FieldOutcome::NotEntered | mrz::FieldOutcome::NotInMrz => continue,
        };
        let field = serde_json::to_value(c.field).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        rows.push((format!("consistency.{field}"), passed, c.detail));
    }
    // A wrong upload: the zone's document code against the document type chosen in the capture flow.
    if let Some(chosen) = get("document_type") {
        let agrees = match report.data.document_kind {
            mrz::DocumentKind::Passport => Some(chosen == "passport"),
            mrz::DocumentKind::IdentityCard => {
                Some(matches!(chosen.as_str(), "national_id" | "residence_permit" | "drivers_license"))
            }
            mrz::DocumentKind::Visa => Some(false),
            mrz::DocumentKind::Other => None,
        };
        if let Some(ok) = agrees {
            let detail = if ok {
                "the zone's document code is that of the chosen document type"
            } else {
                "the zone's document code is not that of the chosen document type (a different document was uploaded)"
            };
            rows.push(("consistency.document_type".into(), ok, detail.into()));
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

    /// A real-state TD3 passport whose check digits are all valid and which expired on 2020-01-31.
    const EXPIRED_PASSPORT: &str =
        "P<GBRPARK<<LENA<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\n9256654166GBR7908301F2001311AB1234567<<<<<18";

    fn sub<'a>(d: &'a Decision, check: &str, name: &str) -> &'a Value {
        d.check_results[check]["sub_checks"]
            .as_array()
            .unwrap_or_else(|| panic!("{check} has sub_checks: {:?}", d.check_results))
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{check} lists {name}: {}", d.check_results[check]))
    }

    #[test]
    fn a_zone_of_another_kind_of_document_than_the_one_chosen_is_a_wrong_upload() {
        let zone = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
        let row = |chosen: &str| {
            let entered = BTreeMap::from([("document_type".to_string(), chosen.to_string())]);
            let (rows, _) = read_mrz(zone, &entered, "2010-01-01", true);
            rows.into_iter().find(|(n, _, _)| n == "consistency.document_type").map(|(_, ok, _)| ok)
        };
        assert_eq!(row("passport"), Some(true));
        assert_eq!(row("national_id"), Some(false), "a passport page uploaded for an ID card");
        let (rows, _) = read_mrz(zone, &BTreeMap::new(), "2010-01-01", true);
        assert!(rows.iter().all(|(n, _, _)| n != "consistency.document_type"), "nothing chosen, nothing compared");
    }

    #[test]
    fn a_document_photo_with_no_readable_zone_is_unreadable_not_a_pass() {
        let mut e = base();
        e.document_source = None;
        e.mrz_checks = vec![("mrz.readable".into(), false, "no MRZ-shaped text lines found".into())];
        let d = evaluate(&e);
        assert_eq!(d.status, "declined");
        assert_eq!(d.rejection_reason_code.as_deref(), Some("document_unreadable"));
        assert_eq!(sub(&d, "document_ocr", "mrz.readable")["status"], "failed");

        // A zone read from the photo that holds is the check's source.
        let mut e = base();
        e.document_source = Some("mrz_image".into());
        e.mrz_checks = vec![("mrz.composite_check_digit".into(), true, "valid".into())];
        let d = evaluate(&e);
        assert_eq!(d.check_results["document_ocr"]["detail"]["source"], "mrz_image", "{:?}", d.check_results);
    }

    #[test]
    fn every_check_lists_each_sub_check_it_ran_passed_or_failed() {
        let mut e = base();
        e.data.insert("first_name".into(), "Lena".into());
        e.data.insert("last_name".into(), "Smith".into());
        let (rows, filled) = read_mrz(EXPIRED_PASSPORT, &e.data, "2026-11-25", false);
        e.data.extend(filled);
        e.mrz_checks = rows;
        e.data.remove("date_of_birth");
        let d = evaluate(&e);

        // The document check fails (the MRZ says expired; the birth date was not entered)...
        assert_eq!(d.check_results["document_ocr"]["status"], "failed");
        // ...and still says that every check digit was valid.
        for digit in [
            "mrz.document_number_check_digit",
            "mrz.date_of_birth_check_digit",
            "mrz.date_of_expiry_check_digit",
            "mrz.optional_data_check_digit",
            "mrz.composite_check_digit",
        ] {
            let s = sub(&d, "document_ocr", digit);
            assert_eq!((s["status"].as_str(), s["passed"].as_bool()), (Some("passed"), Some(true)), "{s}");
            assert!(s["reason"].as_str().is_some_and(|r| !r.is_empty()), "{s}");
        }
        for (name, status) in [
            ("document_front", "passed"),
            ("required_field.first_name", "passed"),
            ("required_field.date_of_birth", "failed"),
            ("mrz.document_code", "passed"),
            ("mrz.issuing_state", "passed"),
            ("mrz.nationality", "passed"),
            ("mrz.not_expired", "failed"),
            ("consistency.first_name", "passed"),
            ("consistency.last_name", "failed"),
        ] {
            let s = sub(&d, "document_ocr", name);
            assert_eq!(s["status"], status, "{name}: {s}");
            assert_eq!(s["passed"], status == "passed", "{name}: {s}");
            assert!(s["reason"].is_string(), "{s}");
        }
        // Reasons name the rule, never the person's codes or values.
        let text = d.check_results["document_ocr"]["sub_checks"].to_string();
        for value in ["GBR", "925665416", "PARK", "LENA", "1979"] {
            assert!(!text.contains(value), "{value} in {text}");
        }

        let s = sub(&d, "document_expiration", "not_expired");
        assert_eq!((s["status"].as_str(), s["passed"].as_bool()), (Some("failed"), Some(false)), "{s}");
        assert_eq!(sub(&d, "document_expiration", "expiry_date_present")["status"], "passed");
        assert_eq!(sub(&d, "age_verification", "date_of_birth_present")["status"], "skipped");
        assert_eq!(sub(&d, "face_match", "similarity")["status"], "passed");
        assert_eq!(sub(&d, "duplicate_detection", "duplicates")["status"], "passed");
        assert_eq!(sub(&d, "risk_assessment", "risk_level")["status"], "passed");
        for (name, result) in &d.check_results {
            assert!(result["sub_checks"].as_array().is_some_and(|s| !s.is_empty()), "{name}: {result}");
        }
    }

    #[test]
    fn a_passing_document_check_lists_its_passed_sub_checks() {
        let d = evaluate(&base());
        assert_eq!(d.check_results["document_ocr"]["status"], "passed");
        for name in
            ["document_front", "required_field.first_name", "required_field.last_name", "required_field.date_of_birth"]
        {
            assert_eq!(sub(&d, "document_ocr", name)["status"], "passed", "{name}");
        }
        assert_eq!(sub(&d, "age_verification", "minimum_age")["passed"], true);
        assert_eq!(sub(&d, "document_expiration", "expiry_date_present")["status"], "skipped");
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
