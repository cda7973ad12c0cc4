//! The records screening works on, as the views hold them: list ids and sources, the list versions and
//! entries a snapshot is built from, a subject's false-positive dismissals and a monitored identity with
//! its data opened. Plain data: no database, clock or I/O.

use super::{ListSource, WatchlistEntry};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The public id of a list (`ofac`, `un`, `eu`, `uk`, `opensanctions`).
pub fn watchlist_id(source: ListSource) -> &'static str {
    match source {
        ListSource::OfacSdn => "ofac",
        ListSource::UnConsolidated => "un",
        ListSource::EuConsolidated => "eu",
        ListSource::UkConsolidated => "uk",
        ListSource::OpenSanctions => "opensanctions",
    }
}

/// The source behind a public list id, if it is one.
pub fn list_source(watchlist_id: &str) -> Option<ListSource> {
    match watchlist_id {
        "ofac" => Some(ListSource::OfacSdn),
        "un" => Some(ListSource::UnConsolidated),
        "eu" => Some(ListSource::EuConsolidated),
        "uk" => Some(ListSource::UkConsolidated),
        "opensanctions" => Some(ListSource::OpenSanctions),
        _ => None,
    }
}

/// One list version a screening used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListVersionRef {
    pub watchlist_id: String,
    pub version_id: String,
    pub published: Option<String>,
    pub entry_count: i64,
    pub imported_at: String,
}

/// An entry row of the `watchlist_entries` view, decoded.
#[derive(Debug, Clone)]
pub struct LoadedEntry {
    pub entry: WatchlistEntry,
    pub hash: String,
    pub version_id: String,
}

/// An earlier false-positive dismissal of one list entry for one subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Dismissal {
    pub entry_hash: String,
    pub dismissal_id: String,
    pub check_id: String,
}

/// A subject's dismissals by (watchlist id, entry id).
pub type Dismissals = HashMap<(String, String), Dismissal>;

/// A monitored identity, its data opened for screening.
#[derive(Debug, Clone)]
pub struct MonitoredSubject {
    pub identity_id: String,
    pub environment: String,
    pub screening_status: Option<String>,
    /// Identity field names: `first_name`, `middle_name`, `last_name`, `date_of_birth`, `nationality`, ...
    pub data: BTreeMap<String, String>,
    /// Monitored lists (empty = every list).
    pub lists: Vec<String>,
    pub dismissals: Dismissals,
    /// (watchlist id, entry id, entry hash) of every hit already recorded for this identity.
    pub alerted: HashSet<(String, String, String)>,
}
