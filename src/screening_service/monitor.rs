//! Continuous monitoring, the pure part: which monitored identities a list change alerts. An identity never
//! screened before gets a baseline screening against every list; the others are screened only against the
//! entries the new version added or changed (the delta), keeping hits from their monitored lists that are
//! neither dismissed nor already alerted. No database, clock or I/O.

use super::snapshot::{screen_subject, ScreeningOutcome, Snapshot};
pub use crate::screening::records::MonitoredSubject;
use std::collections::BTreeMap;

/// What one identity's monitoring produced.
#[derive(Debug, Clone)]
pub struct Finding {
    pub identity_id: String,
    pub environment: String,
    /// First screening of this identity (its status was null): recorded even when clear.
    pub baseline: bool,
    pub data: BTreeMap<String, String>,
    pub outcome: ScreeningOutcome,
}

/// Screens each subject (baseline against `full`, the rest against `delta`); returns how many were
/// screened and what each screened subject's pass found (baselines, new hits, or nothing new).
pub fn findings(
    full: &Snapshot,
    delta: &Snapshot,
    subjects: Vec<MonitoredSubject>,
    threshold: f64,
) -> (usize, Vec<Finding>) {
    let mut screened = 0;
    let mut out = Vec::new();
    for s in subjects {
        let baseline = s.screening_status.is_none();
        let against = if baseline { full } else { delta };
        if against.is_empty() {
            continue;
        }
        let mut outcome = screen_subject(against, &s.data, threshold);
        if outcome.status == "error" {
            continue;
        }
        screened += 1;
        outcome.apply_dismissals(&s.dismissals);
        outcome.restrict_to(&s.lists);
        outcome.without_known(&s.alerted);
        // Every subject screened is returned, new hits or not: each pass is part of its monitoring history.
        out.push(Finding { identity_id: s.identity_id, environment: s.environment, baseline, data: s.data, outcome });
    }
    (screened, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screening::records::{Dismissals, LoadedEntry};
    use crate::screening::{EntityType, ListSource, NameKind, WatchlistEntry};
    use std::collections::HashSet;

    fn row(id: &str, name: &str, version: &str) -> LoadedEntry {
        let mut e = WatchlistEntry::new(ListSource::OfacSdn, id, EntityType::Person);
        e.add_name(name, NameKind::Primary);
        LoadedEntry { entry: e, hash: format!("h{id}"), version_id: version.into() }
    }

    fn subject(id: &str, first: &str, last: &str, status: Option<&str>) -> MonitoredSubject {
        MonitoredSubject {
            identity_id: id.into(),
            environment: "live".into(),
            screening_status: status.map(str::to_string),
            data: [("first_name", first), ("last_name", last)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            lists: vec![],
            dismissals: Dismissals::new(),
            alerted: HashSet::new(),
        }
    }

    #[test]
    fn only_the_identity_matching_the_delta_is_alerted_and_known_hits_are_not_repeated() {
        let full = Snapshot::build(
            vec![row("1", "MORENO, Daniel", "wlv_1"), row("2", "KHOROSHEV, Dmitry Yuryevich", "wlv_2")],
            vec![],
            2,
        );
        let delta = full.delta("wlv_2");
        let subjects = vec![
            subject("idn_a", "Dmitry", "Khoroshev", Some("clear")),
            subject("idn_b", "Daniel", "Moreno", Some("clear")),
            subject("idn_c", "Ada", "Lovelace", None),
        ];
        let (screened, found) = findings(&full, &delta, subjects, 0.6);
        assert_eq!(screened, 3);
        let with_hits: Vec<&str> =
            found.iter().filter(|f| !f.outcome.hits.is_empty()).map(|f| f.identity_id.as_str()).collect();
        assert_eq!(with_hits, vec!["idn_a"], "idn_b matches an unchanged entry");
        let baselines: Vec<&str> = found.iter().filter(|f| f.baseline).map(|f| f.identity_id.as_str()).collect();
        assert_eq!(baselines, vec!["idn_c"]);
        assert_eq!(found[2].outcome.status, "clear");

        let mut known = subject("idn_a", "Dmitry", "Khoroshev", Some("hit"));
        known.alerted.insert(("ofac".into(), "2".into(), "h2".into()));
        let (_, again) = findings(&full, &delta, vec![known], 0.6);
        assert!(again.iter().all(|f| f.outcome.hits.is_empty()), "a known hit is not new");
    }
}
