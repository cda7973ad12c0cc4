//! Per-key fixed-window rate limiting (requests per minute), and sliding caps over longer windows (the
//! MCP destructive tools' calls per hour). In memory: a restart resets the windows, which only ever errs
//! towards letting requests through. Must not block.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The MCP endpoint's bucket is its own: `RateLimiter::check` under this prefix and the key's id, so an
/// MCP client and the same key's REST traffic do not starve each other.
pub const MCP_BUCKET: &str = "mcp:";

#[derive(Debug, Clone, Copy)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Unix time at which the window resets.
    pub reset_at: i64,
    pub retry_after: u64,
}

pub struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, u64)>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter { windows: Mutex::new(HashMap::new()) }
    }
}

impl RateLimiter {
    /// Counts one request against `key` (when `consume`) and says whether it may proceed.
    pub fn check(&self, key: &str, limit: u64, now_unix: i64, consume: bool) -> Decision {
        let window = now_unix - now_unix.rem_euclid(60);
        let reset_at = window + 60;
        let mut map = match self.windows.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let entry = map.entry(key.to_string()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        let allowed = entry.1 < limit;
        if allowed && consume {
            entry.1 += 1;
        }
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset_at,
            retry_after: (reset_at - now_unix).max(1) as u64,
        }
    }
}

/// At most `limit` events per key in any `window` seconds (a sliding log of their times).
pub struct SlidingCap {
    limit: u64,
    window: i64,
    log: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl SlidingCap {
    pub fn new(limit: u64, window_secs: i64) -> Self {
        SlidingCap { limit, window: window_secs, log: Mutex::new(HashMap::new()) }
    }

    /// Counts one event for `key` at `now_unix` when the cap allows it; otherwise the seconds until it will.
    pub fn admit(&self, key: &str, now_unix: i64) -> Result<u64, u64> {
        let mut map = match self.log.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let times = map.entry(key.to_string()).or_default();
        while times.front().is_some_and(|t| *t <= now_unix - self.window) {
            times.pop_front();
        }
        if times.len() as u64 >= self.limit {
            let oldest = times.front().copied().unwrap_or(now_unix);
            return Err((oldest + self.window - now_unix).max(1) as u64);
        }
        times.push_back(now_unix);
        Ok(self.limit - times.len() as u64)
    }

    /// Events left for `key` at `now_unix`, without counting one.
    pub fn remaining(&self, key: &str, now_unix: i64) -> u64 {
        let map = match self.log.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let used = map.get(key).map_or(0, |t| t.iter().filter(|t| **t > now_unix - self.window).count() as u64);
        self.limit.saturating_sub(used)
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn window_secs(&self) -> i64 {
        self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sliding_cap_admits_the_limit_per_window_and_says_when_the_next_fits() {
        let cap = SlidingCap::new(2, 3600);
        assert_eq!(cap.admit("k", 1000), Ok(1));
        assert_eq!(cap.admit("k", 1500), Ok(0));
        assert_eq!(cap.admit("k", 2000), Err(2600));
        assert_eq!(cap.admit("other", 2000), Ok(1));
        assert_eq!(cap.remaining("k", 4599), 0);
        assert_eq!(cap.admit("k", 4600), Ok(0));
    }

    #[test]
    fn the_window_refills_after_a_minute() {
        let rl = RateLimiter::default();
        assert!(rl.check("k", 2, 120, true).allowed);
        assert!(rl.check("k", 2, 121, true).allowed);
        let third = rl.check("k", 2, 122, true);
        assert!(!third.allowed);
        assert_eq!(third.retry_after, 58);
        assert!(rl.check("k", 2, 180, true).allowed);
    }
}
