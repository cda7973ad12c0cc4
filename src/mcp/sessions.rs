//! MCP sessions (`Mcp-Session-Id`): opened by `initialize`, bound to the API key that opened them, ended by
//! DELETE or after a day without use. In memory: a restart ends every session, and clients then initialize
//! again, as the transport specifies for an unknown session (404). Must not hold anything but ids and times.

use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const IDLE: Duration = Duration::from_secs(24 * 3600);
const MAX_SESSIONS: usize = 10_000;

struct Session {
    key_id: String,
    protocol_version: String,
    last_seen: Instant,
}

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        match self.map.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        }
    }

    /// A new session for `key_id`: a random, unguessable id of visible ASCII.
    pub fn open(&self, key_id: &str, protocol_version: &str) -> String {
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let id = format!("mcps_{}", hex::encode(bytes));
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.last_seen) < IDLE);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(
            id.clone(),
            Session { key_id: key_id.to_string(), protocol_version: protocol_version.to_string(), last_seen: now },
        );
        id
    }

    /// The negotiated revision of a live session of this key (and marks it used); `None` when the id is
    /// unknown, ended, idle too long, or another key's.
    pub fn touch(&self, id: &str, key_id: &str) -> Option<String> {
        let mut map = self.lock();
        let now = Instant::now();
        match map.get_mut(id) {
            Some(s) if s.key_id == key_id && now.duration_since(s.last_seen) < IDLE => {
                s.last_seen = now;
                Some(s.protocol_version.clone())
            }
            _ => None,
        }
    }

    /// Ends a session of this key; false when there was none.
    pub fn close(&self, id: &str, key_id: &str) -> bool {
        let mut map = self.lock();
        if map.get(id).is_some_and(|s| s.key_id == key_id) {
            map.remove(id);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_belongs_to_the_key_that_opened_it_until_it_is_closed() {
        let s = Sessions::default();
        let id = s.open("key_a", "2025-06-18");
        assert!(id.starts_with("mcps_") && id.len() > 40);
        assert_eq!(s.touch(&id, "key_a").as_deref(), Some("2025-06-18"));
        assert_eq!(s.touch(&id, "key_b"), None);
        assert!(!s.close(&id, "key_b"));
        assert!(s.close(&id, "key_a"));
        assert_eq!(s.touch(&id, "key_a"), None);
    }
}
