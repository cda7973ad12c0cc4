//! API key commands: create (the secret is generated here, returned once, stored only as a keyed
//! hash), update, expire and clone. Must not render responses or log secrets.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::domain::api_key::{
    self as dom, AllowedIp, ApiKeyCommand, ApiKeyCreated, ApiKeyEvent, ApiKeyState, ApiKeyUpdated, ApiVersion,
    Environment, Inflection, KeyType, Scope,
};
use crate::domain::ids::{self, ApiKeyId};
use crate::domain::values::{Label, LongText, Timestamp};
use crate::error::{AppError, AppResult};
use crate::store::events::{stream_version, EventMeta, NewEvent};
use crate::store::Exec;
use rand::Rng;
use rusqlite::{params, OptionalExtension};

/// A new key, as requested through the API or the CLI.
#[derive(Debug, Clone)]
pub struct CreateKey {
    pub key_type: KeyType,
    pub environment: Environment,
    pub scopes: Vec<Scope>,
    pub allowed_ips: Option<Vec<AllowedIp>>,
    pub api_version: ApiVersion,
    pub default_key_inflection: Inflection,
    pub label: Option<Label>,
    pub note: Option<LongText>,
    pub expires_at: Option<Timestamp>,
}

/// The stored form of a key to create (from a request, or copied from a stored key by a clone).
struct NewKey {
    key_type: String,
    environment: String,
    scopes: Vec<String>,
    allowed_ips: Option<Vec<String>>,
    api_version: String,
    default_key_inflection: String,
    label: Option<String>,
    note: Option<String>,
    expires_at: Option<String>,
    rate_limit_rpm: Option<u32>,
}

impl From<CreateKey> for NewKey {
    fn from(k: CreateKey) -> NewKey {
        NewKey {
            key_type: k.key_type.as_str().into(),
            environment: k.environment.as_str().into(),
            scopes: Scope::strings(&k.scopes),
            allowed_ips: k.allowed_ips.map(|ips| ips.into_iter().map(AllowedIp::into_string).collect()),
            api_version: k.api_version.as_str().into(),
            default_key_inflection: k.default_key_inflection.as_str().into(),
            label: k.label.map(Label::into_string),
            note: k.note.map(LongText::into_string),
            expires_at: k.expires_at.map(Timestamp::into_string),
            rate_limit_rpm: None,
        }
    }
}

/// A VerifyHQ API client (spec A.9): a `vhq_live_`/`vhq_test_` key of the environment, with VerifyHQ
/// permissions and its own rate limit. Made by the CLI or `POST /admin/api-clients`.
#[derive(Debug, Clone)]
pub struct CreateClient {
    pub name: Label,
    pub environment: Environment,
    pub permissions: Vec<String>,
    pub rate_limit_rpm: Option<u32>,
}

pub async fn create_client(writer: &Writer, meta: CommandMeta, input: CreateClient) -> AppResult<NewSecret> {
    let key = NewKey {
        key_type: dom::VERIFYHQ_KEY_TYPE.into(),
        environment: input.environment.as_str().into(),
        scopes: input.permissions,
        allowed_ips: None,
        api_version: dom::CURRENT_API_VERSION.into(),
        default_key_inflection: "camel".into(),
        label: Some(input.name.into_string()),
        note: None,
        expires_at: None,
        rate_limit_rpm: input.rate_limit_rpm,
    };
    writer.execute(move |w| append_created(w, &meta, key, None)).await
}

#[derive(Debug)]
pub struct NewSecret {
    pub id: String,
    pub secret: String,
}

fn generate_secret(key_type: &str, environment: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..40).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    if key_type == "publishable" {
        format!("vk_pub_{environment}_{body}")
    } else if key_type == dom::VERIFYHQ_KEY_TYPE {
        let env = if environment == "live" { "live" } else { "test" };
        format!("vhq_{env}_{body}")
    } else {
        format!("vk_{environment}_{body}")
    }
}

fn emit(w: &mut WriteCtx<'_>, meta: EventMeta, id: &str, version: i64, events: Vec<ApiKeyEvent>) -> AppResult<()> {
    let new =
        events.iter().map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() });
    w.emit(&meta, id, version, new.collect())?;
    Ok(())
}

fn append_created(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    input: NewKey,
    cloned_from: Option<String>,
) -> AppResult<NewSecret> {
    let secret = generate_secret(&input.key_type, &input.environment);
    let id = ids::new_id(ids::API_KEY);
    let created = ApiKeyCreated {
        id: id.clone(),
        key_type: input.key_type,
        environment: input.environment.clone(),
        key_prefix: secret.chars().take(secret.len() - 36).collect(),
        secret_hash: hex::encode(w.keyring.api_key_digest(&secret)),
        scopes: input.scopes,
        allowed_ips: input.allowed_ips,
        api_version: input.api_version,
        default_key_inflection: input.default_key_inflection,
        label: input.label,
        note: input.note,
        expires_at: input.expires_at,
        cloned_from,
        rate_limit_rpm: input.rate_limit_rpm,
    };
    let events = dom::decide(None, ApiKeyCommand::Create(Box::new(created)), &meta.ctx())?;
    let mut event_meta = meta.event_meta();
    event_meta.environment = input.environment;
    emit(w, event_meta, &id, 0, events)?;
    Ok(NewSecret { id, secret })
}

pub async fn create(writer: &Writer, meta: CommandMeta, input: CreateKey) -> AppResult<NewSecret> {
    writer.execute(move |w| append_created(w, &meta, input.into(), None)).await
}

/// A key is managed only from its own environment: its state and stream version.
fn require_key(w: &WriteCtx<'_>, env: &str, id: &str) -> AppResult<(ApiKeyState, i64)> {
    let found: Option<bool> = w
        .conn
        .row(
            "SELECT is_active FROM api_keys WHERE id = ?1 AND environment = ?2 AND key_type <> 'verifyhq'",
            params![id, env],
            |r| r.get(0),
        )
        .optional()?;
    match found {
        None => Err(AppError::not_found("API key")),
        Some(is_active) => Ok((ApiKeyState { id: id.to_string(), is_active }, stream_version(w.conn, id)?)),
    }
}

/// Changes to a key; absent fields stay as they are, null clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct UpdateKey {
    pub label: Option<Option<Label>>,
    pub note: Option<Option<LongText>>,
    pub scopes: Option<Vec<Scope>>,
    pub allowed_ips: Option<Option<Vec<AllowedIp>>>,
    pub api_version: Option<ApiVersion>,
    pub expires_at: Option<Option<Timestamp>>,
    pub default_key_inflection: Option<Inflection>,
}

pub async fn update(writer: &Writer, meta: CommandMeta, id: ApiKeyId, input: UpdateKey) -> AppResult<ApiKeyId> {
    let update = ApiKeyUpdated {
        label: input.label.map(|v| v.map(Label::into_string)),
        note: input.note.map(|v| v.map(LongText::into_string)),
        scopes: input.scopes.map(|s| Scope::strings(&s)),
        allowed_ips: input.allowed_ips.map(|ips| ips.map(|ips| ips.into_iter().map(AllowedIp::into_string).collect())),
        api_version: input.api_version.map(|v| v.as_str().to_string()),
        expires_at: input.expires_at.map(|v| v.map(Timestamp::into_string)),
        default_key_inflection: input.default_key_inflection.map(|v| v.as_str().to_string()),
    };
    writer
        .execute(move |w| {
            let (state, version) = require_key(w, &meta.environment, id.as_str())?;
            let events = dom::decide(Some(&state), ApiKeyCommand::Update(update), &meta.ctx())?;
            emit(w, meta.event_meta(), id.as_str(), version, events)?;
            Ok(id)
        })
        .await
}

/// Permanently deactivates a key. The key authenticating the request cannot expire itself.
pub async fn expire(
    writer: &Writer,
    meta: CommandMeta,
    id: ApiKeyId,
    calling_key_id: Option<ApiKeyId>,
) -> AppResult<ApiKeyId> {
    writer
        .execute(move |w| {
            let (state, version) = require_key(w, &meta.environment, id.as_str())?;
            let command = ApiKeyCommand::Expire { calling_key_id: calling_key_id.map(ApiKeyId::into_string) };
            let events = dom::decide(Some(&state), command, &meta.ctx())?;
            emit(w, meta.event_meta(), id.as_str(), version, events)?;
            Ok(id)
        })
        .await
}

/// Revokes a key by id or by its prefix, from the CLI (any environment).
pub async fn revoke(writer: &Writer, meta: CommandMeta, id_or_prefix: String) -> AppResult<String> {
    writer
        .execute(move |w| {
            let row: Option<(String, String, bool)> = w
                .conn
                .row(
                    "SELECT id, environment, is_active FROM api_keys WHERE id = ?1 OR key_prefix = ?1",
                    [&id_or_prefix],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (id, env, is_active) = row.ok_or_else(|| AppError::not_found("API key"))?;
            let version = stream_version(w.conn, &id)?;
            let state = ApiKeyState { id: id.clone(), is_active };
            let events = dom::decide(Some(&state), ApiKeyCommand::Revoke, &meta.ctx())?;
            let mut event_meta = meta.event_meta();
            event_meta.environment = env;
            emit(w, event_meta, &id, version, events)?;
            Ok(id)
        })
        .await
}

/// Copies scopes, environment, allowed IPs, API version and inflection into a new key.
pub async fn clone_key(
    writer: &Writer,
    meta: CommandMeta,
    id: ApiKeyId,
    label: Option<String>,
) -> AppResult<NewSecret> {
    let id = id.into_string();
    writer
        .execute(move |w| {
            require_key(w, &meta.environment, &id)?;
            let input = w.conn.row(
                "SELECT key_type, environment, scopes, allowed_ips, api_version, default_key_inflection, label, note
                 FROM api_keys WHERE id = ?1",
                [&id],
                |r| {
                    let scopes: String = r.get(2)?;
                    let ips: Option<String> = r.get(3)?;
                    let old_label: Option<String> = r.get(6)?;
                    Ok(NewKey {
                        key_type: r.get(0)?,
                        environment: r.get(1)?,
                        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
                        allowed_ips: ips.and_then(|i| serde_json::from_str(&i).ok()),
                        api_version: r.get(4)?,
                        default_key_inflection: r.get(5)?,
                        label: label.clone().or(old_label.map(|l| format!("{l} (clone)"))),
                        note: r.get(7)?,
                        expires_at: None,
                        rate_limit_rpm: None,
                    })
                },
            )?;
            append_created(w, &meta, input, Some(id.clone()))
        })
        .await
}
