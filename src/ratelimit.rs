//! Per-key fixed-window rate limiting (requests per minute). In memory: a restart resets the windows,
//! which only ever errs towards letting requests through. Must not block.

use std::collections::HashMap;
use std::sync::Mutex;

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

#[cfg(test)]
mod tests {
    use super::*;

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
