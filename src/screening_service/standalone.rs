//! What one run of a standalone check (spec §1.4) returns, by check type and environment: `sanction` is
//! screened against the loaded watchlists; the other types have no offline source and say so with
//! `status: error, error_reason: no_source` in live; the sandbox returns `clear` for every type (spec §2.8).
//! Pure.

use super::snapshot::{screen_subject, ScreeningOutcome, Snapshot};
use crate::screening::records::Dismissals;
use std::collections::BTreeMap;

pub const PROVIDER_WATCHLISTS: &str = "idv_watchlists";
pub const PROVIDER_SANDBOX: &str = "idv_sandbox";

#[derive(Debug, Clone)]
pub struct StandaloneRun {
    pub status: &'static str,
    pub provider: Option<&'static str>,
    pub error_reason: Option<String>,
    pub note: Option<String>,
    /// The screening behind a `sanction` run in live.
    pub outcome: Option<ScreeningOutcome>,
}

/// A check's subject (spec field names) as the screening's person fields.
pub fn person_data(subject: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (from, to) in [
        ("name_first", "first_name"),
        ("name_last", "last_name"),
        ("birthdate", "date_of_birth"),
        ("country_code", "country"),
    ] {
        if let Some(v) = subject.get(from) {
            out.insert(to.to_string(), v.clone());
        }
    }
    out
}

/// The identity's fields (first/middle/last name, date of birth, nationality or country) as a check subject.
pub fn subject_from_person(data: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let first: Vec<&str> =
        ["first_name", "middle_name"].iter().filter_map(|k| data.get(*k).map(String::as_str)).collect();
    if !first.is_empty() {
        out.insert("name_first".to_string(), first.join(" "));
    }
    for (from, to) in [("last_name", "name_last"), ("date_of_birth", "birthdate")] {
        if let Some(v) = data.get(from) {
            out.insert(to.to_string(), v.clone());
        }
    }
    if let Some(c) = data.get("nationality").or_else(|| data.get("country")) {
        out.insert("country_code".to_string(), c.clone());
    }
    out
}

pub fn run_standalone(
    check_type: &str,
    sandbox: bool,
    snapshot: &Snapshot,
    subject: &BTreeMap<String, String>,
    threshold: f64,
    dismissals: &Dismissals,
) -> StandaloneRun {
    if sandbox {
        return StandaloneRun {
            status: "clear",
            provider: Some(PROVIDER_SANDBOX),
            error_reason: None,
            note: Some("Sandbox: standalone checks are simulated and return clear (use a live key to screen).".into()),
            outcome: None,
        };
    }
    if check_type != "sanction" {
        return StandaloneRun {
            status: "error",
            provider: None,
            error_reason: Some("no_source".into()),
            note: Some(format!(
                "idv has no offline data source for {check_type} checks: this check was not performed. Only \
                 sanction checks are screened (against the imported watchlists)."
            )),
            outcome: None,
        };
    }
    let mut outcome = screen_subject(snapshot, &person_data(subject), threshold);
    outcome.apply_dismissals(dismissals);
    let note = match outcome.error_reason {
        Some("no_lists") => Some(
            "No watchlist has been imported: import one with `idv lists import` or POST /watchlists/import.".into(),
        ),
        Some("no_name") => Some("The subject has no name to screen.".into()),
        _ => None,
    };
    StandaloneRun {
        status: outcome.status,
        provider: Some(PROVIDER_WATCHLISTS),
        error_reason: outcome.error_reason.map(str::to_string),
        note,
        outcome: Some(outcome),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_pep_is_an_error_and_the_sandbox_is_clear() {
        let subject: BTreeMap<String, String> =
            [("name_first", "A"), ("name_last", "B")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let snap = Snapshot::empty();
        let pep = run_standalone("pep", false, &snap, &subject, 0.6, &Dismissals::new());
        assert_eq!((pep.status, pep.error_reason.as_deref()), ("error", Some("no_source")));
        assert_eq!(run_standalone("pep", true, &snap, &subject, 0.6, &Dismissals::new()).status, "clear");
        let s = run_standalone("sanction", false, &snap, &subject, 0.6, &Dismissals::new());
        assert_eq!((s.status, s.error_reason.as_deref()), ("error", Some("no_lists")));
    }

    #[test]
    fn identity_fields_map_to_check_fields_and_back() {
        let person: BTreeMap<String, String> =
            [("first_name", "Ada"), ("middle_name", "K"), ("last_name", "Lovelace"), ("nationality", "GB")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let subject = subject_from_person(&person);
        assert_eq!(subject["name_first"], "Ada K");
        assert_eq!(person_data(&subject)["country"], "GB");
    }
}
