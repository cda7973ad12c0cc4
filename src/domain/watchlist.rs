//! Watchlist snapshots: the public watchlist ids (`ofac`, `un`, `eu`, `uk`, `opensanctions`), the events an
//! import appends and the pure diff of a new snapshot against the previous one (added / changed / removed
//! entries, by entry id and content hash). Must not read files, the database or the clock.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The watchlists idv imports, by their public id.
pub const WATCHLIST_IDS: &[&str] = &["ofac", "un", "eu", "uk", "opensanctions"];

/// A watchlist idv imports, by its public id (the same set as `WATCHLIST_IDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatchlistId {
    Ofac,
    Un,
    Eu,
    Uk,
    Opensanctions,
}

impl WatchlistId {
    pub const ALL: [WatchlistId; 5] =
        [WatchlistId::Ofac, WatchlistId::Un, WatchlistId::Eu, WatchlistId::Uk, WatchlistId::Opensanctions];

    pub fn as_str(self) -> &'static str {
        match self {
            WatchlistId::Ofac => "ofac",
            WatchlistId::Un => "un",
            WatchlistId::Eu => "eu",
            WatchlistId::Uk => "uk",
            WatchlistId::Opensanctions => "opensanctions",
        }
    }

    /// Accepts the public id in any case, surrounding spaces ignored.
    pub fn parse(field: &str, text: &str) -> Result<WatchlistId, crate::error::FieldError> {
        let t = text.trim().to_ascii_lowercase();
        WatchlistId::ALL
            .into_iter()
            .find(|w| w.as_str() == t)
            .ok_or_else(|| crate::error::FieldError::new(field, "must be one of ofac, un, eu, uk, opensanctions"))
    }
}

/// One list an identity's monitoring may be limited to: a watchlist (`ofac`, ...) or a custom list of the
/// environment (`list_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitoredList {
    Watchlist(WatchlistId),
    List(crate::domain::ids::ListId),
}

impl MonitoredList {
    pub fn parse(field: &str, text: &str) -> Result<MonitoredList, crate::error::FieldError> {
        if let Ok(w) = WatchlistId::parse(field, text) {
            return Ok(MonitoredList::Watchlist(w));
        }
        crate::domain::ids::ListId::parse(field, text).map(MonitoredList::List).map_err(|_| {
            crate::error::FieldError::new(
                field,
                format!("{} is neither a watchlist (ofac, un, eu, uk, opensanctions) nor a list id", text.trim()),
            )
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            MonitoredList::Watchlist(w) => w.as_str(),
            MonitoredList::List(l) => l.as_str(),
        }
    }

    /// A value read back from the store (written by this code).
    pub fn from_stored(text: String) -> MonitoredList {
        match WatchlistId::parse("", &text) {
            Ok(w) => MonitoredList::Watchlist(w),
            Err(_) => MonitoredList::List(crate::domain::ids::ListId::from_stored(text)),
        }
    }
}

impl Serialize for MonitoredList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MonitoredList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(d)?;
        MonitoredList::parse("", &text).map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl utoipa::PartialSchema for MonitoredList {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        let list = crate::domain::ids::id_schema(crate::domain::ids::LIST, "custom list");
        crate::domain::values::schema_from(serde_json::json!({
            "oneOf": [
                { "type": "string", "enum": WATCHLIST_IDS, "description": "A watchlist." },
                list,
            ],
            "description": "A watchlist id (`ofac`, `un`, `eu`, `uk`, `opensanctions`) or a custom list id (`list_*`).",
        }))
    }
}

impl utoipa::ToSchema for MonitoredList {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("MonitoredList")
    }
}

/// Entries per `WatchlistEntriesImported` event: a whole list in one event would be one huge JSON value
/// (OpenSanctions holds over a million entities).
pub const ENTRIES_PER_EVENT: usize = 500;

/// The event stream of one watchlist.
pub fn stream_id(watchlist_id: &str) -> String {
    format!("watchlist_{watchlist_id}")
}

/// Environment of watchlist events: lists serve both environments of the installation.
pub const SYSTEM_ENVIRONMENT: &str = "system";

/// One entry as an import carries it: its id, the hash of its canonical JSON and the JSON itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashedEntry {
    pub hash: String,
    pub entry: Value,
}

/// A slice of a snapshot's changes (several per import, then one `WatchlistSnapshotImported`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntriesImported {
    pub version_id: String,
    pub source: String,
    #[serde(default)]
    pub added: Vec<HashedEntry>,
    #[serde(default)]
    pub changed: Vec<HashedEntry>,
    #[serde(default)]
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub skipped: usize,
}

/// The version record, appended after its entry slices, in the same transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotImported {
    pub version_id: String,
    pub source: String,
    /// The library's list name (`ofac_sdn`, `un_consolidated`, ...).
    pub list_source: String,
    pub published: Option<String>,
    pub content_digest: String,
    pub counts: Counts,
    /// The file names read (no paths), for the record.
    #[serde(default)]
    pub files: Vec<String>,
}

/// Continuous monitoring has screened the monitored identities against one version's changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitoringCompleted {
    pub version_id: String,
    pub identities_screened: usize,
    pub identities_with_new_hits: usize,
    pub new_hits: usize,
    pub check_ids: Vec<String>,
    /// One entry per monitored subject (identity or standalone check) the pass screened: the monitoring
    /// history (spec §1.9). Absent from passes recorded before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passes: Vec<MonitoringPass>,
}

/// What one monitoring pass did for one subject: ids and counts only, never the subject's data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitoringPass {
    /// `identity` or `check`.
    pub subject_type: String,
    /// The `idn_*` or `schk_*` id.
    pub subject_id: String,
    pub environment: String,
    /// Open (undismissed) hits before and after the pass.
    pub hits_before: i64,
    pub hits_after: i64,
    /// The hits the pass added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_hit_ids: Vec<String>,
    /// The check holding the new hits (an identity's new monitoring check, or the monitored check itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_id: Option<String>,
}

/// An upload began importing in the background: its entry slices that follow are staged under its version
/// id and become the list's entries only with its `WatchlistSnapshotImported` (or are dropped with its
/// `WatchlistImportFailed`), so the previous version stays the one screened until then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportStarted {
    pub version_id: String,
    pub source: String,
    /// The library's list name (`ofac_sdn`, ...).
    pub list_source: String,
    /// BLAKE3 of the files as uploaded.
    pub content_digest: String,
    pub files: Vec<String>,
    pub bytes_total: u64,
    /// The version the import is diffed against (none for a first import).
    #[serde(default)]
    pub base_version_id: Option<String>,
}

/// A background import ended without a version: the staged entries are dropped, the previous version
/// stays in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportFailed {
    pub version_id: String,
    pub source: String,
    /// What went wrong, for the integrator (the parser's message names the file and line).
    pub error: String,
    /// Records read before it ended.
    #[serde(default)]
    pub entities_read: u64,
}

/// Watchlist events (one stream per list, environment `system`).
#[derive(Debug, Clone, PartialEq)]
pub enum WatchlistEvent {
    EntriesImported(EntriesImported),
    SnapshotImported(SnapshotImported),
    MonitoringCompleted(MonitoringCompleted),
    ImportStarted(ImportStarted),
    ImportFailed(ImportFailed),
}

/// The newest version of every watchlist event.
pub const WATCHLIST_EVENT_VERSION: i64 = 1;

impl WatchlistEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            WatchlistEvent::EntriesImported(_) => "WatchlistEntriesImported",
            WatchlistEvent::SnapshotImported(_) => "WatchlistSnapshotImported",
            WatchlistEvent::MonitoringCompleted(_) => "WatchlistMonitoringCompleted",
            WatchlistEvent::ImportStarted(_) => "WatchlistImportStarted",
            WatchlistEvent::ImportFailed(_) => "WatchlistImportFailed",
        }
    }

    pub fn version(&self) -> i64 {
        WATCHLIST_EVENT_VERSION
    }

    pub fn payload(&self) -> Value {
        let v = match self {
            WatchlistEvent::EntriesImported(e) => serde_json::to_value(e),
            WatchlistEvent::SnapshotImported(e) => serde_json::to_value(e),
            WatchlistEvent::MonitoringCompleted(e) => serde_json::to_value(e),
            WatchlistEvent::ImportStarted(e) => serde_json::to_value(e),
            WatchlistEvent::ImportFailed(e) => serde_json::to_value(e),
        };
        v.unwrap_or(Value::Null)
    }

    /// Decodes a stored event, upcasting older versions. Unknown types give `None`; an unknown version or
    /// a payload that does not fit is an error naming the event.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use crate::domain::codec;
        if !event_type.starts_with("Watchlist") {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, WATCHLIST_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "WatchlistEntriesImported" => WatchlistEvent::EntriesImported(codec::payload(event_type, p)?),
            "WatchlistSnapshotImported" => WatchlistEvent::SnapshotImported(codec::payload(event_type, p)?),
            "WatchlistMonitoringCompleted" => WatchlistEvent::MonitoringCompleted(codec::payload(event_type, p)?),
            "WatchlistImportStarted" => WatchlistEvent::ImportStarted(codec::payload(event_type, p)?),
            "WatchlistImportFailed" => WatchlistEvent::ImportFailed(codec::payload(event_type, p)?),
            _ => return Ok(None),
        }))
    }
}

/// What changed between the previous snapshot (entry id -> hash) and the new one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Indexes into the new entries.
    pub added: Vec<usize>,
    pub changed: Vec<usize>,
    pub removed: Vec<String>,
    /// New entries dropped because an earlier entry of the same snapshot had the same id.
    pub duplicates: usize,
}

/// Diffs a new snapshot (`(entry_id, hash)` in file order) against the previous one's hashes.
pub fn diff(previous: &HashMap<String, String>, new: &[(String, String)]) -> Diff {
    let mut d = Diff::default();
    let mut seen: HashSet<&str> = HashSet::with_capacity(new.len());
    for (i, (id, hash)) in new.iter().enumerate() {
        if !seen.insert(id.as_str()) {
            d.duplicates += 1;
            continue;
        }
        match previous.get(id) {
            None => d.added.push(i),
            Some(h) if h != hash => d.changed.push(i),
            Some(_) => {}
        }
    }
    let mut removed: Vec<String> = previous.keys().filter(|id| !seen.contains(id.as_str())).cloned().collect();
    removed.sort();
    d.removed = removed;
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_finds_added_changed_removed_and_duplicates() {
        let previous: HashMap<String, String> =
            [("1", "a"), ("2", "b"), ("3", "c")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let new: Vec<(String, String)> = [("1", "a"), ("2", "B"), ("4", "d"), ("4", "e")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let d = diff(&previous, &new);
        assert_eq!(d.added, vec![2]);
        assert_eq!(d.changed, vec![1]);
        assert_eq!(d.removed, vec!["3".to_string()]);
        assert_eq!(d.duplicates, 1);
        assert_eq!(diff(&previous, &[("1".into(), "a".into())]).removed.len(), 2);
    }
}
