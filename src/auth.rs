//! Authenticates API keys: hashes the presented secret, looks the key up (with a short-lived cache)
//! and checks activity, expiry and the IP allow list. Must not log or keep the secret itself.

use crate::crypto::Keyring;
use crate::domain::api_key;
use crate::error::{AppError, AppResult};
use crate::queries::api_keys::{self, KeyRecord};
use crate::store::ReadPool;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const CACHE_TTL: Duration = Duration::from_secs(2);

/// Keyed hash of a presented secret -> the key it names (or that it names none), and when we looked.
type KeyCache = HashMap<[u8; 32], (Option<Arc<KeyRecord>>, Instant)>;

pub struct Authenticator {
    read: ReadPool,
    keyring: Arc<Keyring>,
    cache: RwLock<KeyCache>,
}

impl Authenticator {
    pub fn new(read: ReadPool, keyring: Arc<Keyring>) -> Self {
        Authenticator { read, keyring, cache: RwLock::new(HashMap::new()) }
    }

    /// Forget cached keys (after a key is changed through the API).
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.cache.write() {
            c.clear();
        }
    }

    async fn lookup(&self, hash: [u8; 32]) -> AppResult<Option<Arc<KeyRecord>>> {
        if let Ok(c) = self.cache.read() {
            if let Some((record, at)) = c.get(&hash) {
                if at.elapsed() < CACHE_TTL {
                    return Ok(record.clone());
                }
            }
        }
        let record = self.read.run(move |conn| api_keys::by_hash(conn, &hash)).await?.map(Arc::new);
        if let Ok(mut c) = self.cache.write() {
            if c.len() > 10_000 {
                c.clear();
            }
            c.insert(hash, (record.clone(), Instant::now()));
        }
        Ok(record)
    }

    pub async fn authenticate(
        &self,
        secret: &str,
        ip: Option<std::net::IpAddr>,
        now: OffsetDateTime,
    ) -> AppResult<Arc<KeyRecord>> {
        let invalid = || AppError::Unauthorized("Invalid or missing API key.".into());
        if !(secret.starts_with("vk_") || secret.starts_with("vhq_")) || secret.len() > 200 {
            return Err(invalid());
        }
        let record = self.lookup(self.keyring.api_key_digest(secret)).await?.ok_or_else(invalid)?;
        if !record.is_active {
            return Err(AppError::Unauthorized("This API key has expired or been revoked.".into()));
        }
        if let Some(expires) = record.expires_at.as_deref().and_then(crate::clock::parse) {
            if expires <= now {
                return Err(AppError::Unauthorized("This API key has expired.".into()));
            }
        }
        if let (Some(list), Some(ip)) = (record.allowed_ips.as_deref(), ip) {
            if !api_key::ip_allowed(Some(list), ip) {
                return Err(AppError::Forbidden {
                    code: "ip_not_allowed",
                    detail: "This API key may not be used from this IP address.".into(),
                });
            }
        }
        Ok(record)
    }
}
