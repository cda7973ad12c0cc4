//! The event log: appending rows under the keyed BLAKE3 hash chain, loading them back, and walking the
//! chain to verify it. Must not project or interpret payloads.

use crate::crypto::Keyring;
use crate::error::{AppError, AppResult};
use crate::store::Exec;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

/// What a command wants appended: one stream, consecutive events.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: &'static str,
    pub version: i64,
    pub payload: Value,
}

impl NewEvent {
    pub fn new(event_type: &'static str, payload: Value) -> Self {
        NewEvent { event_type, version: 1, payload }
    }
}

/// Who and where: the same for every event a command appends.
#[derive(Debug, Clone)]
pub struct EventMeta {
    pub actor: String,
    pub environment: String,
    pub request_id: Option<String>,
    pub recorded_at: String,
    /// The HTTP request that caused the events, when one did (none for the sweeper or the CLI).
    pub origin: Option<RequestOrigin>,
}

/// The request behind an event, for the audit log (spec §1.16): method, path (without the query
/// string) and the caller's address when it is an org caller's (an API key or a reviewer), never an
/// end user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOrigin {
    pub method: String,
    pub path: String,
    pub ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_id: String,
    pub stream_id: String,
    pub stream_seq: i64,
    pub event_type: String,
    pub event_version: i64,
    pub payload: Value,
    pub recorded_at: String,
    pub actor: String,
    pub environment: String,
    pub request_id: Option<String>,
    pub origin: Option<RequestOrigin>,
}

/// The head of the chain as the writer knows it.
#[derive(Debug, Clone)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: Vec<u8>,
}

impl ChainHead {
    pub fn load(conn: &Connection) -> AppResult<Self> {
        let head = conn
            .row("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok(ChainHead { seq: r.get(0)?, hash: r.get(1)? })
            })
            .optional()?;
        Ok(head.unwrap_or(ChainHead { seq: 0, hash: vec![0u8; 32] }))
    }
}

fn row_bytes(e: &StoredEvent, payload_text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + payload_text.len());
    let mut put = |bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    put(&e.seq.to_le_bytes());
    put(e.event_id.as_bytes());
    put(e.stream_id.as_bytes());
    put(&e.stream_seq.to_le_bytes());
    put(e.event_type.as_bytes());
    put(&e.event_version.to_le_bytes());
    put(payload_text.as_bytes());
    put(e.recorded_at.as_bytes());
    put(e.actor.as_bytes());
    put(e.environment.as_bytes());
    put(e.request_id.as_deref().unwrap_or("").as_bytes());
    // Rows written before the request origin was recorded have none, and hash exactly as they did.
    if let Some(origin) = &e.origin {
        put(origin.method.as_bytes());
        put(origin.path.as_bytes());
        put(origin.ip.as_deref().unwrap_or("").as_bytes());
    }
    out
}

/// The current last sequence number of a stream (0 when the stream has no events).
pub fn stream_version(conn: &Connection, stream_id: &str) -> AppResult<i64> {
    Ok(conn.row("SELECT COALESCE(MAX(stream_seq), 0) FROM events WHERE stream_id = ?1", [stream_id], |r| r.get(0))?)
}

/// Appends events to one stream after `expected_version`. A concurrent writer of the same stream
/// violates UNIQUE(stream_id, stream_seq) and gets a conflict, never a 500.
pub fn append(
    conn: &Connection,
    chain: &mut ChainHead,
    keyring: &Keyring,
    meta: &EventMeta,
    stream_id: &str,
    expected_version: i64,
    events: Vec<NewEvent>,
) -> AppResult<Vec<StoredEvent>> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO events (seq, event_id, stream_id, stream_seq, event_type, event_version, payload,
                             recorded_at, actor, environment, request_id, prev_hash, hash,
                             request_method, request_path, ip_address)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    let mut stored = Vec::with_capacity(events.len());
    for (offset, new) in events.into_iter().enumerate() {
        let payload_text = serde_json::to_string(&new.payload)?;
        let event = StoredEvent {
            seq: chain.seq + 1,
            event_id: format!("evt_{}", ulid::Ulid::new()),
            stream_id: stream_id.to_string(),
            stream_seq: expected_version + 1 + offset as i64,
            event_type: new.event_type.to_string(),
            event_version: new.version,
            payload: new.payload,
            recorded_at: meta.recorded_at.clone(),
            actor: meta.actor.clone(),
            environment: meta.environment.clone(),
            request_id: meta.request_id.clone(),
            origin: meta.origin.clone(),
        };
        let hash = keyring.chain_hash(&chain.hash, &row_bytes(&event, &payload_text));
        let result = stmt.execute(params![
            event.seq,
            event.event_id,
            event.stream_id,
            event.stream_seq,
            event.event_type,
            event.event_version,
            payload_text,
            event.recorded_at,
            event.actor,
            event.environment,
            event.request_id,
            chain.hash,
            hash.to_vec(),
            event.origin.as_ref().map(|o| o.method.as_str()),
            event.origin.as_ref().map(|o| o.path.as_str()),
            event.origin.as_ref().and_then(|o| o.ip.as_deref()),
        ]);
        match result {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                return Err(AppError::Conflict("The resource was changed concurrently; retry the request.".into()))
            }
            Err(e) => return Err(e.into()),
        }
        chain.seq = event.seq;
        chain.hash = hash.to_vec();
        stored.push(event);
    }
    Ok(stored)
}

/// The newest event version this build reads. Events of an older version are upcast by the projection
/// that reads them; a newer one was written by a newer idv and must not be guessed at.
pub const NEWEST_EVENT_VERSION: i64 = 1;

/// Why a stored event row cannot be read: a loud error naming the row, never a silent null.
#[derive(Debug)]
struct UndecodableEvent(String);

impl std::fmt::Display for UndecodableEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UndecodableEvent {}

fn read_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<(StoredEvent, String, Vec<u8>, Vec<u8>)> {
    let seq: i64 = r.get(0)?;
    let undecodable = |column: usize, why: String| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            Box::new(UndecodableEvent(format!("event seq {seq}: {why}"))),
        )
    };
    let event_version: i64 = r.get(5)?;
    if !(1..=NEWEST_EVENT_VERSION).contains(&event_version) {
        return Err(undecodable(
            5,
            format!("version {event_version} is not one this idv reads (1 to {NEWEST_EVENT_VERSION})"),
        ));
    }
    let payload_text: String = r.get(6)?;
    let payload: Value = serde_json::from_str(&payload_text)
        .map_err(|e| undecodable(6, format!("the payload is not valid JSON ({e})")))?;
    let method: Option<String> = r.get(13)?;
    let origin = match method {
        Some(method) => {
            Some(RequestOrigin { method, path: r.get::<_, Option<String>>(14)?.unwrap_or_default(), ip: r.get(15)? })
        }
        None => None,
    };
    Ok((
        StoredEvent {
            seq,
            event_id: r.get(1)?,
            stream_id: r.get(2)?,
            stream_seq: r.get(3)?,
            event_type: r.get(4)?,
            event_version,
            payload,
            recorded_at: r.get(7)?,
            actor: r.get(8)?,
            environment: r.get(9)?,
            request_id: r.get(10)?,
            origin,
        },
        payload_text,
        r.get(11)?,
        r.get(12)?,
    ))
}

const SELECT_EVENTS: &str = "SELECT seq, event_id, stream_id, stream_seq, event_type, event_version, payload,
        recorded_at, actor, environment, request_id, prev_hash, hash, request_method, request_path, ip_address
        FROM events";

/// Visits every event in log order.
pub fn for_each(conn: &Connection, mut visit: impl FnMut(StoredEvent) -> AppResult<()>) -> AppResult<()> {
    let mut stmt = conn.prepare(&format!("{SELECT_EVENTS} ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (event, _, _, _) = read_event(row)?;
        visit(event)?;
    }
    Ok(())
}

/// Walks the chain from the first row; returns the number of rows verified, or the first bad row.
pub fn verify_chain(conn: &Connection, keyring: &Keyring) -> Result<i64, String> {
    let mut stmt = conn.prepare(&format!("{SELECT_EVENTS} ORDER BY seq")).map_err(|e| e.to_string())?;
    let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
    let mut prev = vec![0u8; 32];
    let mut expected_seq = 1;
    let mut count = 0;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let (event, payload_text, prev_hash, hash) = read_event(row).map_err(|e| e.to_string())?;
        if event.seq != expected_seq {
            return Err(format!("row seq {} follows seq {}: rows are missing", event.seq, expected_seq - 1));
        }
        if prev_hash != prev {
            return Err(format!(
                "row seq {} ({}): prev_hash does not match the previous row",
                event.seq, event.event_id
            ));
        }
        let computed = keyring.chain_hash(&prev, &row_bytes(&event, &payload_text));
        if computed.as_slice() != hash.as_slice() {
            return Err(format!("row seq {} ({}): hash does not match its contents", event.seq, event.event_id));
        }
        prev = hash;
        expected_seq += 1;
        count += 1;
    }
    Ok(count)
}
