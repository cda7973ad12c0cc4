//! Prefixed ULID identifiers. Parsing accepts only the prefix and a well-formed ULID; generation is
//! done by the command layer (it owns randomness) through `new_id`.

/// Makes a new id with a prefix, e.g. `idn_01J...`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new())
}

/// True when `text` is `<prefix>_<ULID>`.
pub fn is_id(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .map(|u| u.len() == 26 && ulid::Ulid::from_string(u).is_ok())
        .unwrap_or(false)
}

pub const IDENTITY: &str = "idn";
pub const RELATIONSHIP: &str = "idrel";
pub const RELATIONSHIP_TYPE: &str = "crel";
pub const IDENTITY_TYPE: &str = "idtype";
pub const CUSTOM_FIELD: &str = "cfield";
pub const API_KEY: &str = "key";
pub const SESSION: &str = "ses";
pub const CAPTURE_LINK: &str = "link";
pub const BLOB: &str = "blob";
pub const WORKFLOW: &str = "wfl";
pub const CASE: &str = "case";
pub const CHECK: &str = "schk";
pub const CHECK_HIT: &str = "hit";
pub const CHECK_BATCH: &str = "batch";
pub const DISMISSAL: &str = "dsm";
pub const WATCHLIST_VERSION: &str = "wlv";
pub const LIST: &str = "list";
pub const LIST_ITEM: &str = "litem";
pub const LIST_MATCH: &str = "lmatch";
