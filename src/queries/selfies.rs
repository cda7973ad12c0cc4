//! The selfie hashes the duplicate search compares with: the 64-bit perceptual hashes of sessions linked
//! to an identity, read from the `sessions` view by log position (so an in-memory copy catches up
//! with a short index range instead of reading them all again), and the identities behind one hash. Must
//! not write, and must not decide what counts as a duplicate.

use crate::error::AppResult;
use crate::store::ReadOnly;
use rusqlite::params;

/// An enrolled selfie as the view holds it: the log position of its session's latest event, and the hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrolledSelfie {
    pub last_event_seq: i64,
    pub hash: u64,
}

/// The environment's enrolled selfies (sessions with a selfie hash and an identity) whose session has an
/// event after log position `after`; `after = 0` gives them all.
pub fn enrolled_since(conn: &ReadOnly, environment: &str, after: i64) -> AppResult<Vec<EnrolledSelfie>> {
    let mut stmt = conn.prepare_cached(
        "SELECT last_event_seq, selfie_phash FROM sessions
         WHERE environment = ?1 AND last_event_seq > ?2 AND selfie_phash IS NOT NULL AND identity_id IS NOT NULL",
    )?;
    let rows = stmt.query_map(params![environment, after], |r| {
        Ok(EnrolledSelfie { last_event_seq: r.get(0)?, hash: r.get::<_, i64>(1)? as u64 })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The identities whose sessions (other than `except_session`) hold exactly this selfie hash now.
pub fn identities_with(conn: &ReadOnly, environment: &str, hash: u64, except_session: &str) -> AppResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT identity_id FROM sessions
         WHERE environment = ?1 AND selfie_phash = ?2 AND identity_id IS NOT NULL AND id != ?3",
    )?;
    let rows = stmt.query_map(params![environment, hash as i64, except_session], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
