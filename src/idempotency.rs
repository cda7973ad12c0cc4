//! Idempotency-Key support (spec §2.6): sealed stored responses for 24 h, request fingerprints, and the
//! in-flight registry that makes two concurrent requests with one key execute once. Must not decide
//! what a request does; it only replays or lets it through.
//!
//! Departure from "only commands write": a stored response is operational state, not an event (it is
//! sealed, expires after 24 h and is left alone by replay), so it is written here, through the one
//! writer, after the response exists.

use crate::commands::writer::Writer;
use crate::crypto::Keyring;
use crate::error::{AppError, AppResult};
use crate::store::ReadPool;
use rusqlite::{params, OptionalExtension};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

const TTL_SECONDS: i64 = 24 * 3600;

pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

pub enum Claim {
    /// This request runs; call `finish` with its response (or drop the guard on failure).
    Run(InFlightGuard),
    Replay(StoredResponse),
}

pub struct Idempotency {
    read: ReadPool,
    writer: Writer,
    keyring: Arc<Keyring>,
    in_flight: Arc<Mutex<HashMap<String, watch::Receiver<()>>>>,
}

/// Whether this request holds the key or waits for the twin that does.
enum Turn {
    Wait(watch::Receiver<()>),
    Mine(InFlightGuard),
}

pub struct InFlightGuard {
    scope: String,
    fingerprint: [u8; 32],
    registry: Arc<Mutex<HashMap<String, watch::Receiver<()>>>>,
    _sender: watch::Sender<()>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut m) = self.registry.lock() {
            m.remove(&self.scope);
        }
    }
}

pub fn fingerprint(method: &str, path: &str, body: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    h.update(b"\n");
    // Equal JSON with different whitespace or key order is the same request.
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => h.update(v.to_string().as_bytes()),
        Err(_) => h.update(body),
    };
    *h.finalize().as_bytes()
}

impl Idempotency {
    pub fn new(read: ReadPool, writer: Writer, keyring: Arc<Keyring>) -> Self {
        Idempotency { read, writer, keyring, in_flight: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// The stored response for this key, if any and not expired, opened (on a blocking thread).
    async fn stored(
        &self,
        environment: &str,
        key_id: &str,
        idem_key: &str,
        now_unix: i64,
    ) -> AppResult<Option<([u8; 32], StoredResponse)>> {
        let (environment, key_id, idem_key) = (environment.to_string(), key_id.to_string(), idem_key.to_string());
        let keyring = self.keyring.clone();
        self.read
            .run(move |conn| {
                let row: Option<(Vec<u8>, u16, Vec<u8>, i64)> = conn
                    .prepare_cached(
                        "SELECT fingerprint, status_code, sealed_body, created_at FROM idempotency_records
                         WHERE environment = ?1 AND api_key_id = ?2 AND idem_key = ?3",
                    )?
                    .query_row(params![environment, key_id, idem_key], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()?;
                let Some((fp, status, sealed, created)) = row else { return Ok(None) };
                if now_unix - created > TTL_SECONDS {
                    return Ok(None);
                }
                let scope = format!("{environment}|{key_id}|{idem_key}");
                let body = keyring.open_response(&scope, &sealed)?;
                let fp: [u8; 32] = fp.try_into().map_err(|_| AppError::Internal("bad fingerprint".into()))?;
                Ok(Some((fp, StoredResponse { status, body })))
            })
            .await
    }

    /// Replays a stored response, refuses a mismatch, waits for an in-flight twin, or lets this run.
    pub async fn claim(
        &self,
        environment: &str,
        key_id: &str,
        idem_key: &str,
        fp: [u8; 32],
        now_unix: i64,
    ) -> AppResult<Claim> {
        if idem_key.is_empty() || idem_key.len() > 255 {
            return Err(AppError::validation("Idempotency-Key", "must be 1 to 255 characters"));
        }
        let scope = format!("{environment}|{key_id}|{idem_key}");
        loop {
            // Take the key first, then look for a stored response: a twin that finished in between has
            // stored its response before releasing the key, so it is found here, never run twice.
            let turn = {
                let mut map =
                    self.in_flight.lock().map_err(|_| AppError::Internal("idempotency registry poisoned".into()))?;
                match map.get(&scope) {
                    Some(rx) => Turn::Wait(rx.clone()),
                    None => {
                        let (tx, rx) = watch::channel(());
                        map.insert(scope.clone(), rx);
                        Turn::Mine(InFlightGuard {
                            scope: scope.clone(),
                            fingerprint: fp,
                            registry: self.in_flight.clone(),
                            _sender: tx,
                        })
                    }
                }
            };
            match turn {
                // Resolves when the running twin's guard is dropped (its sender goes away).
                Turn::Wait(mut rx) => while rx.changed().await.is_ok() {},
                Turn::Mine(guard) => {
                    return match self.stored(environment, key_id, idem_key, now_unix).await? {
                        Some((stored_fp, _)) if stored_fp != fp => Err(AppError::IdempotencyMismatch),
                        Some((_, response)) => Ok(Claim::Replay(response)),
                        None => Ok(Claim::Run(guard)),
                    };
                }
            }
        }
    }

    /// Stores the response of a request that ran, then releases its twins.
    pub async fn finish(&self, guard: InFlightGuard, status: u16, body: &[u8], now_unix: i64) -> AppResult<()> {
        let sealed = self.keyring.seal_response(&guard.scope, body);
        let mut parts = guard.scope.splitn(3, '|').map(str::to_string);
        let (env, key_id, idem_key) =
            (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let fp = guard.fingerprint.to_vec();
        let result = self
            .writer
            .execute(move |w| {
                w.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO idempotency_records
                         (environment, api_key_id, idem_key, fingerprint, status_code, sealed_body, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )?
                    .execute(params![env, key_id, idem_key, fp, status, sealed, now_unix])?;
                Ok(())
            })
            .await;
        drop(guard);
        result
    }
}
