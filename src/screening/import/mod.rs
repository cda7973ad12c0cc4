//! Watchlist importers: one module per published format, each reading from `Read` streams into
//! `WatchlistEntry` values plus a `ListVersion`. Shared error type and digesting reader live here. Importers
//! must not panic on malformed input (they return `ImportError` naming the file and line or record), and must
//! not touch the network, the database or the matcher.

pub mod eu;
pub mod ofac;
pub mod opensanctions;
pub mod uk;
pub mod un;

use super::model::{ListSource, ListVersion, WatchlistEntry};
use std::io::{self, Read};

/// The entries of one list and its version.
#[derive(Debug, Clone)]
pub struct Import {
    pub entries: Vec<WatchlistEntry>,
    pub version: ListVersion,
    /// Records read but not imported (unsupported entity kinds, rows without a name), for the log.
    pub skipped: usize,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{list}: reading {file}: {source}")]
    Io {
        list: ListSource,
        file: &'static str,
        #[source]
        source: io::Error,
    },
    /// A record that cannot be read: `at` names the line (CSV, JSON lines) or byte offset (XML) and, where
    /// known, the record id.
    #[error("{list}: {file} {at}: {message}")]
    Malformed { list: ListSource, file: &'static str, at: String, message: String },
    /// The consumer of a streamed import stopped it (its own error, as text).
    #[error("{0}")]
    Stopped(String),
}

impl ImportError {
    pub(crate) fn malformed(
        list: ListSource,
        file: &'static str,
        at: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ImportError::Malformed { list, file, at: at.into(), message: message.into() }
    }
}

/// Map a csv error to `ImportError`, keeping its line number.
pub(crate) fn csv_error(list: ListSource, file: &'static str, e: csv::Error) -> ImportError {
    let line = e.position().map(|p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ImportError::Io { list, file, source },
        kind => {
            let at = line.map(|l| format!("line {l}")).unwrap_or_else(|| "at end".to_string());
            let message = match kind {
                csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    format!("expected {expected_len} fields, found {len}")
                }
                csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 in field {}", err.field() + 1),
                other => format!("{other:?}"),
            };
            ImportError::malformed(list, file, at, message)
        }
    }
}

/// A reader that hashes every byte it passes on, so a list version can name exactly what was read.
pub struct DigestReader<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> DigestReader<R> {
    pub fn new(inner: R) -> Self {
        DigestReader { inner, hasher: blake3::Hasher::new() }
    }

    pub fn hasher(&self) -> &blake3::Hasher {
        &self.hasher
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Hex digest over several hashers (file order matters).
pub(crate) fn combined_digest(parts: &[&blake3::Hasher]) -> String {
    if parts.len() == 1 {
        return parts[0].finalize().to_hex().to_string();
    }
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.finalize().as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// Decode a field that should be UTF-8 but may be Windows-1252 (older OFAC and OFSI files).
pub(crate) fn decode_field(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Keeps entries in first-seen order while rows for one entry arrive in pieces (EU, UK rows).
pub(crate) struct Grouper {
    order: Vec<WatchlistEntry>,
    index: std::collections::HashMap<String, usize>,
}

impl Grouper {
    pub(crate) fn new() -> Self {
        Grouper { order: Vec::new(), index: std::collections::HashMap::new() }
    }

    pub(crate) fn entry(&mut self, key: &str, make: impl FnOnce() -> WatchlistEntry) -> &mut WatchlistEntry {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                self.order.push(make());
                self.index.insert(key.to_string(), self.order.len() - 1);
                self.order.len() - 1
            }
        };
        &mut self.order[i]
    }

    pub(crate) fn into_entries(self) -> Vec<WatchlistEntry> {
        self.order
    }
}
