//! API key reads: listing and fetching (never a secret), and the lookup that authenticates a request
//! by the keyed hash of the presented secret. Must not write.

use super::{OffsetPage, Page};
use crate::domain::api_key::{ApiVersion, Environment, Inflection, KeyType, Scope};
use crate::domain::ids::ApiKeyId;
use crate::error::{AppError, AppResult};
use crate::store::ReadOnly;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use utoipa::ToSchema;

/// What authentication needs to know about a key.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub id: String,
    pub key_type: String,
    pub environment: String,
    pub key_prefix: String,
    pub scopes: Vec<String>,
    pub allowed_ips: Option<Vec<String>>,
    pub api_version: String,
    pub default_key_inflection: String,
    pub expires_at: Option<String>,
    pub is_active: bool,
    /// A VerifyHQ client's own rate limit.
    pub rate_limit_rpm: Option<u32>,
}

pub fn by_hash(conn: &ReadOnly, hash: &[u8]) -> AppResult<Option<KeyRecord>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, key_type, environment, key_prefix, scopes, allowed_ips, api_version, default_key_inflection,
                    expires_at, is_active, rate_limit_rpm FROM api_keys WHERE secret_hash = ?1",
        )?
        .query_row([hash], |r| {
            let scopes: String = r.get(4)?;
            let ips: Option<String> = r.get(5)?;
            Ok(KeyRecord {
                id: r.get(0)?,
                key_type: r.get(1)?,
                environment: r.get(2)?,
                key_prefix: r.get(3)?,
                scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                allowed_ips: ips.and_then(|i| serde_json::from_str(&i).ok()),
                api_version: r.get(6)?,
                default_key_inflection: r.get(7)?,
                expires_at: r.get(8)?,
                is_active: r.get(9)?,
                rate_limit_rpm: r.get(10)?,
            })
        })
        .optional()?)
}

const COLUMNS: &str = "id, key_type, environment, key_prefix, scopes, allowed_ips, api_version, default_key_inflection,
    expires_at, label, note, is_active, cloned_from, created_at, updated_at";

/// An API key as listed and fetched: never its secret. The vocabularies are stored as validated text and
/// served as they were stored.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: ApiKeyId,
    #[serde(rename = "type")]
    #[schema(value_type = KeyType)]
    pub key_type: String,
    #[schema(value_type = Environment)]
    pub environment: String,
    /// The secret's first characters, to recognise it.
    #[schema(example = "vk_sandbox_AbCd")]
    pub key_prefix: String,
    #[schema(value_type = Vec<Scope>)]
    pub scopes: Vec<String>,
    /// Addresses or CIDR blocks the key may be used from (null: any).
    pub allowed_ips: Option<Vec<String>>,
    #[schema(value_type = ApiVersion)]
    pub api_version: String,
    #[schema(value_type = Inflection)]
    pub default_key_inflection: String,
    pub expires_at: Option<String>,
    pub label: Option<String>,
    pub note: Option<String>,
    pub is_active: bool,
    pub cloned_from: Option<ApiKeyId>,
    /// Not tracked: always null.
    pub last_used_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn render(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyView> {
    let scopes: String = r.get(4)?;
    let ips: Option<String> = r.get(5)?;
    Ok(ApiKeyView {
        id: ApiKeyId::from_stored(r.get(0)?),
        key_type: r.get(1)?,
        environment: r.get(2)?,
        key_prefix: r.get(3)?,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        allowed_ips: ips.and_then(|i| serde_json::from_str(&i).ok()),
        api_version: r.get(6)?,
        default_key_inflection: r.get(7)?,
        expires_at: r.get(8)?,
        label: r.get(9)?,
        note: r.get(10)?,
        is_active: r.get(11)?,
        cloned_from: r.get::<_, Option<String>>(12)?.map(ApiKeyId::from_stored),
        last_used_at: None,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

/// The keys the Verifa API manages (secret and publishable), newest first.
pub fn list(conn: &ReadOnly, environment: Option<&str>, page: Page) -> AppResult<OffsetPage<ApiKeyView>> {
    list_of(conn, environment, page, false)
}

/// Every key, VerifyHQ API clients included (the CLI's listing).
pub fn list_all_kinds(conn: &ReadOnly, page: Page) -> AppResult<OffsetPage<ApiKeyView>> {
    list_of(conn, None, page, true)
}

fn list_of(
    conn: &ReadOnly,
    environment: Option<&str>,
    page: Page,
    verifyhq: bool,
) -> AppResult<OffsetPage<ApiKeyView>> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM api_keys WHERE (?1 IS NULL OR environment = ?1) AND (?2 OR key_type <> 'verifyhq')",
        params![environment, verifyhq],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE (?1 IS NULL OR environment = ?1) AND (?4 OR key_type <> 'verifyhq')
         ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let data = stmt
        .query_map(params![environment, page.limit, page.offset, verifyhq], render)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(OffsetPage::new(data, total, page))
}

pub fn get(conn: &ReadOnly, environment: &str, id: &str) -> AppResult<ApiKeyView> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1 AND environment = ?2 AND key_type <> 'verifyhq'"),
        [id, environment],
        render,
    )
    .optional()?
    .ok_or_else(|| AppError::not_found("API key"))
}
