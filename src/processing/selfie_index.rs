//! The duplicate search's in-memory copy of each environment's enrolled selfie hashes. Before every search
//! it catches up from the `sessions` view by log position (a short index range: the sessions with an event
//! since the last catch-up), so a verification compares against a set of integers in memory instead of
//! reading every enrolled selfie from SQLite. It only proposes candidates: each hash within the distance is
//! confirmed against the view, so a hash that has left the view (a redacted session) is never reported
//! from memory. Must not write, and must keep nothing but the hashes (no ids, no personal data).

use crate::checks::imagehash::{within_distance, ImageHash64};
use crate::error::AppResult;
use crate::queries::selfies;
use crate::store::ReadOnly;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

/// Shared by the processing threads; built empty and filled by the first search of each environment.
#[derive(Default)]
pub struct SelfieIndex {
    environments: Mutex<HashMap<String, Enrolled>>,
}

/// One environment's hashes and the log position the copy has caught up to. Every search compares `hash`
/// with all of them, so they are kept in a vector (a scan over a hash set walks its empty buckets too, and
/// cost four times as much); the set only keeps a hash from being listed twice.
#[derive(Default)]
struct Enrolled {
    caught_up_to: i64,
    hashes: Vec<u64>,
    listed: HashSet<u64>,
}

impl SelfieIndex {
    /// The identities with an enrolled selfie (on a session other than `session_id`) within `max_distance`
    /// bits of `hash`, as the view holds them now; in no particular order, possibly repeated.
    pub fn identities_near(
        &self,
        conn: &ReadOnly,
        environment: &str,
        session_id: &str,
        hash: ImageHash64,
        max_distance: u32,
    ) -> AppResult<Vec<String>> {
        let after = self.lock().get(environment).map_or(0, |e| e.caught_up_to);
        let fresh = selfies::enrolled_since(conn, environment, after)?;
        let candidates: Vec<u64> = {
            let mut environments = self.lock();
            let enrolled = environments.entry(environment.to_string()).or_default();
            for selfie in fresh {
                enrolled.caught_up_to = enrolled.caught_up_to.max(selfie.last_event_seq);
                if enrolled.listed.insert(selfie.hash) {
                    enrolled.hashes.push(selfie.hash);
                }
            }
            within_distance(&enrolled.hashes, hash, max_distance)
        };
        let mut identities = Vec::new();
        for candidate in candidates {
            identities.extend(selfies::identities_with(conn, environment, candidate, session_id)?);
        }
        Ok(identities)
    }

    /// The copy only ever grows by whole entries, so a panic elsewhere while it was held leaves it usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Enrolled>> {
        self.environments.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
