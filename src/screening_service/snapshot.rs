//! The loaded watchlists as screening sees them: the library's `Index` over every current entry, each entry's
//! content hash and list version, and the pure screening of one subject (`screen_subject`) with dismissals
//! and monitored lists applied. Pure: no database, clock or I/O.

use crate::screening::records::{watchlist_id, Dismissal, Dismissals, ListVersionRef, LoadedEntry};
use crate::screening::{EntityType, Hit, Index, ListSource, Query, WatchlistEntry, DEFAULT_THRESHOLD};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Most hits one screening keeps (best first).
pub const HIT_LIMIT: usize = 25;

#[derive(Debug, Clone)]
struct EntryMeta {
    hash: String,
    version_id: String,
    position: usize,
}

/// Every current entry, indexed, with the versions it came from.
pub struct Snapshot {
    index: Index,
    meta: HashMap<(ListSource, String), EntryMeta>,
    /// The current version of each loaded list.
    pub versions: Vec<ListVersionRef>,
    /// The highest event seq of `watchlist_versions` this snapshot reflects (0: none).
    pub loaded_seq: i64,
}

impl Snapshot {
    pub fn empty() -> Snapshot {
        Snapshot::build(Vec::new(), Vec::new(), 0)
    }

    pub fn build(rows: Vec<LoadedEntry>, versions: Vec<ListVersionRef>, loaded_seq: i64) -> Snapshot {
        let mut meta = HashMap::with_capacity(rows.len());
        let mut entries = Vec::with_capacity(rows.len());
        for (position, row) in rows.into_iter().enumerate() {
            meta.insert(
                (row.entry.source, row.entry.entry_id.clone()),
                EntryMeta { hash: row.hash, version_id: row.version_id, position },
            );
            entries.push(row.entry);
        }
        Snapshot { index: Index::build(entries), meta, versions, loaded_seq }
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// A small snapshot of just the entries last added or changed by `version_id` (the monitoring delta).
    pub fn delta(&self, version_id: &str) -> Snapshot {
        let mut rows: Vec<(usize, LoadedEntry)> = self
            .meta
            .values()
            .filter(|m| m.version_id == version_id)
            .map(|m| {
                let entry = self.index.entries()[m.position].clone();
                (m.position, LoadedEntry { entry, hash: m.hash.clone(), version_id: m.version_id.clone() })
            })
            .collect();
        rows.sort_by_key(|(p, _)| *p);
        let versions = self.versions.iter().filter(|v| v.version_id == version_id).cloned().collect();
        Snapshot::build(rows.into_iter().map(|(_, r)| r).collect(), versions, self.loaded_seq)
    }

    /// True when `delta(version_id)` would hold every entry and version of this snapshot (a first import
    /// of the only list loaded): monitoring then screens against this snapshot instead of a copy of it.
    pub fn is_whole_delta(&self, version_id: &str) -> bool {
        self.versions.iter().all(|v| v.version_id == version_id)
            && self.meta.values().all(|m| m.version_id == version_id)
    }

    fn meta_of(&self, hit: &Hit) -> Option<(&EntryMeta, &WatchlistEntry)> {
        let m = self.meta.get(&(hit.source, hit.entry_id.clone()))?;
        Some((m, &self.index.entries()[m.position]))
    }
}

/// A hit with what the record needs: which list version, the entry's hash and the entry itself.
#[derive(Debug, Clone)]
pub struct ScreenedHit {
    pub hit: Hit,
    pub watchlist_id: &'static str,
    pub entry_hash: String,
    pub version_id: String,
    pub entry: WatchlistEntry,
}

/// The result of screening one subject.
#[derive(Debug, Clone)]
pub struct ScreeningOutcome {
    /// `clear`, `hit` or `error`.
    pub status: &'static str,
    /// With `error`: `no_lists` (nothing imported) or `no_name` (nothing to screen).
    pub error_reason: Option<&'static str>,
    pub threshold: f64,
    pub list_versions: Vec<ListVersionRef>,
    /// Open hits, best first.
    pub hits: Vec<ScreenedHit>,
    /// Matches left out because the subject's dismissal covers the same entry version.
    pub suppressed: Vec<(ScreenedHit, Dismissal)>,
}

impl ScreeningOutcome {
    fn error(reason: &'static str, threshold: f64, list_versions: Vec<ListVersionRef>) -> Self {
        ScreeningOutcome {
            status: "error",
            error_reason: Some(reason),
            threshold,
            list_versions,
            hits: Vec::new(),
            suppressed: Vec::new(),
        }
    }

    fn settle(&mut self) {
        if self.status != "error" {
            self.status = if self.hits.is_empty() { "clear" } else { "hit" };
        }
    }

    /// Moves hits covered by a dismissal of the same entry version out of the open hits.
    pub fn apply_dismissals(&mut self, dismissals: &Dismissals) {
        if dismissals.is_empty() {
            return;
        }
        let (mut keep, mut gone) = (Vec::new(), Vec::new());
        for h in self.hits.drain(..) {
            match dismissals.get(&(h.watchlist_id.to_string(), h.hit.entry_id.clone())) {
                Some(d) if d.entry_hash == h.entry_hash => gone.push((h, d.clone())),
                _ => keep.push(h),
            }
        }
        self.hits = keep;
        self.suppressed.extend(gone);
        self.settle();
    }

    /// Keeps only hits from the listed watchlists (spec §1.6.13; empty = every list). Ids that are not
    /// watchlists (custom lists, `list_*`) do not select any watchlist.
    pub fn restrict_to(&mut self, list_ids: &[String]) {
        if list_ids.is_empty() {
            return;
        }
        self.hits.retain(|h| list_ids.iter().any(|l| l == h.watchlist_id));
        self.list_versions.retain(|v| list_ids.contains(&v.watchlist_id));
        self.settle();
    }

    /// Drops hits the subject has already been alerted to (same entry version).
    pub fn without_known(&mut self, known: &HashSet<(String, String, String)>) {
        self.hits
            .retain(|h| !known.contains(&(h.watchlist_id.to_string(), h.hit.entry_id.clone(), h.entry_hash.clone())));
        self.settle();
    }

    pub fn list_version_ids(&self) -> Vec<String> {
        self.list_versions.iter().map(|v| v.version_id.clone()).collect()
    }

    /// A summary for a session's `check_results`: list data, scores and versions, no explanation (it quotes
    /// the subject's name) and nothing else about the subject.
    pub fn check_result(&self) -> Value {
        let hits: Vec<Value> = self
            .hits
            .iter()
            .map(|h| {
                json!({
                    "watchlist_id": h.watchlist_id,
                    "source": h.hit.source,
                    "entry_id": h.hit.entry_id,
                    "version_id": h.version_id,
                    "entity_type": h.hit.entity_type,
                    "matched_name": h.hit.matched_name,
                    "matched_name_kind": h.hit.matched_name_kind,
                    "score": round3(h.hit.score),
                    "features": h.hit.features,
                    "programs": h.entry.programs,
                })
            })
            .collect();
        json!({
            "status": self.status,
            "error_reason": self.error_reason,
            "threshold": self.threshold,
            "hit_count": self.hits.len(),
            "suppressed_count": self.suppressed.len(),
            "hits": hits,
            "list_versions": self.list_versions,
        })
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The screening query for a person from idv's field names (`first_name`, `middle_name`, `last_name` or
/// `full_name`, `date_of_birth`, `nationality` or `country`, `document_number`). `None` without a name.
pub fn person_query(data: &BTreeMap<String, String>) -> Option<Query> {
    let get = |k: &str| data.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let parts: Vec<&str> = ["first_name", "middle_name", "last_name"].iter().filter_map(|k| get(k)).collect();
    let name = if parts.is_empty() { get("full_name").unwrap_or("").to_string() } else { parts.join(" ") };
    if name.trim().is_empty() {
        return None;
    }
    Some(Query {
        name,
        entity_type: Some(EntityType::Person),
        date_of_birth: get("date_of_birth").map(str::to_string),
        country: get("nationality").or_else(|| get("country")).map(str::to_string),
        identifiers: get("document_number").map(|d| vec![d.to_string()]).unwrap_or_default(),
    })
}

/// Screens one person against the snapshot. `data` uses idv's field names (see `person_query`);
/// `threshold` is the minimum combined score (spec §4.5: 0.6 by default, `DEFAULT_THRESHOLD`).
/// Apply dismissals and monitored lists afterwards with the outcome's methods.
pub fn screen_subject(snapshot: &Snapshot, data: &BTreeMap<String, String>, threshold: f64) -> ScreeningOutcome {
    let threshold = if threshold.is_finite() { threshold.clamp(0.0, 1.0) } else { DEFAULT_THRESHOLD };
    if snapshot.is_empty() {
        return ScreeningOutcome::error("no_lists", threshold, Vec::new());
    }
    let Some(query) = person_query(data) else {
        return ScreeningOutcome::error("no_name", threshold, snapshot.versions.clone());
    };
    let hits = snapshot
        .index()
        .screen(&query, threshold, HIT_LIMIT)
        .into_iter()
        .filter_map(|hit| {
            let (meta, entry) = snapshot.meta_of(&hit)?;
            Some(ScreenedHit {
                watchlist_id: watchlist_id(hit.source),
                entry_hash: meta.hash.clone(),
                version_id: meta.version_id.clone(),
                entry: entry.clone(),
                hit,
            })
        })
        .collect();
    let mut outcome = ScreeningOutcome {
        status: "clear",
        error_reason: None,
        threshold,
        list_versions: snapshot.versions.clone(),
        hits,
        suppressed: Vec::new(),
    };
    outcome.settle();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screening::{BirthDate, NameKind, PartialDate};

    fn entry(id: &str, name: &str) -> WatchlistEntry {
        let mut e = WatchlistEntry::new(ListSource::OfacSdn, id, EntityType::Person);
        e.add_name(name, NameKind::Primary);
        e.add_birth_date(BirthDate::exact(PartialDate { year: 1963, month: Some(7), day: Some(28) }));
        e
    }

    fn snapshot() -> Snapshot {
        let rows = vec![
            LoadedEntry {
                entry: entry("1", "LOGAN MOREY, Elvis Angus"),
                hash: "h1".into(),
                version_id: "wlv_1".into(),
            },
            LoadedEntry { entry: entry("2", "MORENO, Daniel"), hash: "h2".into(), version_id: "wlv_2".into() },
        ];
        let versions = vec![ListVersionRef {
            watchlist_id: "ofac".into(),
            version_id: "wlv_2".into(),
            published: None,
            entry_count: 2,
            imported_at: "2026-01-01T00:00:00Z".into(),
        }];
        Snapshot::build(rows, versions, 7)
    }

    fn person(first: &str, last: &str) -> BTreeMap<String, String> {
        [("first_name", first), ("last_name", last)].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_listed_name_hits_with_its_version_and_hash_and_a_dismissal_suppresses_only_that_version() {
        let snap = snapshot();
        let mut out = screen_subject(&snap, &person("Elvis", "Logan Morey"), DEFAULT_THRESHOLD);
        assert_eq!(out.status, "hit");
        assert_eq!(out.hits[0].hit.entry_id, "1");
        assert_eq!(out.hits[0].version_id, "wlv_1");
        assert_eq!(out.list_version_ids(), vec!["wlv_2".to_string()]);
        let mut stale: Dismissals = HashMap::new();
        let d = Dismissal { entry_hash: "old".into(), dismissal_id: "dsm_1".into(), check_id: "schk_1".into() };
        stale.insert(("ofac".into(), "1".into()), d.clone());
        out.apply_dismissals(&stale);
        assert_eq!(out.status, "hit", "a dismissal of an older version of the entry does not apply");
        let mut current = Dismissals::new();
        current.insert(("ofac".into(), "1".into()), Dismissal { entry_hash: "h1".into(), ..d });
        out.apply_dismissals(&current);
        assert_eq!(out.status, "clear");
        assert_eq!(out.suppressed.len(), 1);
    }

    #[test]
    fn no_lists_and_no_name_are_errors_and_unrelated_names_are_clear() {
        assert_eq!(screen_subject(&Snapshot::empty(), &person("A", "B"), 0.6).error_reason, Some("no_lists"));
        assert_eq!(screen_subject(&snapshot(), &BTreeMap::new(), 0.6).error_reason, Some("no_name"));
        assert_eq!(screen_subject(&snapshot(), &person("Grace", "Hopper"), 0.6).status, "clear");
    }

    #[test]
    fn the_delta_holds_only_one_versions_entries_and_lists_restrict_hits() {
        let snap = snapshot();
        let delta = snap.delta("wlv_2");
        assert_eq!(delta.len(), 1);
        assert_eq!(screen_subject(&delta, &person("Elvis", "Logan Morey"), 0.6).status, "clear");
        let mut out = screen_subject(&snap, &person("Daniel", "Moreno"), 0.6);
        assert_eq!(out.status, "hit");
        out.restrict_to(&["un".to_string()]);
        assert_eq!(out.status, "clear");
    }
}
