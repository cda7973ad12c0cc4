//! Identity commands: create (with upsert), update, redact (crypto-shredding), tags, archive/restore,
//! monitoring, custom field values, merge and export auditing. Seals PII and computes blind indexes
//! here; must not render responses or read anything but the views inside the writer's transaction.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::crypto::{blind, DataKey, Keyring};
use crate::domain::identity::{self as dom, IdentityCommand, IdentityEvent, IdentityState, SealedFields};
use crate::domain::identity_type::{self, FieldDefinition};
use crate::domain::ids;
use crate::domain::ids::{IdentityRef, IdentityTypeId};
use crate::domain::values::{CountryCode, ExternalRef, PersonalData, PersonalDataPatch, StatusName, Tag};
use crate::error::{AppError, AppResult, FieldError};
use crate::store::events::{self, NewEvent};
use crate::store::Exec;
use crate::store::Reads;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub use crate::store::subject_keys::{data_key, open_pii};

#[derive(Debug, Clone)]
pub struct CreateIdentity {
    pub external_ref: ExternalRef,
    pub upsert: bool,
    pub status: Option<StatusName>,
    pub country: Option<CountryCode>,
    pub identity_type_id: Option<IdentityTypeId>,
    pub tags: Vec<Tag>,
    /// Validated plaintext PII, sealed before it leaves this module.
    pub pii: PersonalData,
}

#[derive(Debug, Clone)]
pub struct CreateOutcome {
    pub id: String,
    pub created: bool,
    /// For a new identity, what the create answer shows, as the view now holds it; the handler need not
    /// read it back. `None` for an upsert that found an existing identity.
    pub summary: Option<CreatedSummary>,
}

/// The view columns a create answer shows (spec §1.6.4), known to the command that wrote them.
#[derive(Debug, Clone)]
pub struct CreatedSummary {
    pub external_ref: Option<String>,
    pub status: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateIdentity {
    pub external_ref: Option<ExternalRef>,
    pub status: Option<StatusName>,
    pub country: Option<Option<CountryCode>>,
    pub identity_type_id: Option<Option<IdentityTypeId>>,
    /// field -> new value, or None to clear it.
    pub pii: PersonalDataPatch,
}

/// Resolves an `idn_*` id or an external_ref to the identity's state, within one environment.
pub fn load_state<C: Reads + ?Sized>(conn: &C, environment: &str, id_or_ref: &str) -> AppResult<Option<IdentityState>> {
    let column = if ids::is_id(ids::IDENTITY, id_or_ref) { "id" } else { "external_ref" };
    load_state_by(conn, environment, column, id_or_ref)
}

/// The identity whose `column` (id or external_ref) is `value`, within one environment.
fn load_state_by<C: Reads + ?Sized>(
    conn: &C,
    environment: &str,
    column: &str,
    value: &str,
) -> AppResult<Option<IdentityState>> {
    let sql = format!(
        "SELECT id, stream_seq, status, external_ref, archived_at IS NOT NULL, merged_into, monitoring_enabled,
                monitoring_paused_reason, identity_type_id, session_count
         FROM identities WHERE {column} = ?1 AND environment = ?2"
    );
    let state = conn
        .prepare_cached(&sql)?
        .query_row(params![value, environment], |r| {
            Ok(IdentityState {
                id: r.get(0)?,
                version: r.get(1)?,
                status: r.get(2)?,
                external_ref: r.get(3)?,
                archived: r.get(4)?,
                merged_into: r.get(5)?,
                monitoring_enabled: r.get(6)?,
                monitoring_paused_reason: r.get(7)?,
                tags: Vec::new(),
                identity_type_id: r.get(8)?,
                session_count: r.get(9)?,
            })
        })
        .optional()?;
    let Some(mut state) = state else { return Ok(None) };
    let mut stmt = conn.prepare_cached("SELECT tag FROM identity_tags WHERE identity_id = ?1 ORDER BY position")?;
    state.tags = stmt.query_map([&state.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(Some(state))
}

fn require_state(conn: &Connection, environment: &str, id_or_ref: &str) -> AppResult<IdentityState> {
    load_state(conn, environment, id_or_ref)?.ok_or_else(|| AppError::not_found("Identity"))
}

/// Seals an identity's whole field map as one value under [`dom::ALL_FIELDS_SEALED`] (an empty map too: an
/// update that clears every field replaces the view's map with it).
pub(crate) fn seal_fields(
    key: &DataKey,
    identity_id: &str,
    fields: &BTreeMap<String, String>,
) -> AppResult<SealedFields> {
    let sealed = key.seal(identity_id, dom::ALL_FIELDS_SEALED, &serde_json::to_string(fields)?);
    Ok(SealedFields::from([(dom::ALL_FIELDS_SEALED.to_string(), B64.encode(sealed))]))
}

/// Computes the blind-index set of a full PII map and seals it under the identity's key: each kind's key
/// as `blind_indexes` stores it (hex of the digest's first `crypto::BLIND_INDEX_KEY_BYTES`), which is all
/// a replay needs. Sets sealed before schema 13 hold whole digests; their reader takes the same prefix.
pub(crate) fn sealed_blind_set(
    keyring: &Keyring,
    key: &DataKey,
    environment: &str,
    identity_id: &str,
    pii: &BTreeMap<String, String>,
) -> AppResult<String> {
    let index_keys: BTreeMap<&str, Vec<u8>> = blind::index_inputs(pii)
        .into_iter()
        .map(|(kind, normalised)| (kind, keyring.blind_index_key(environment, kind, &normalised)))
        .collect();
    let hex_keys: BTreeMap<&str, String> = index_keys.iter().map(|(kind, k)| (*kind, hex::encode(k))).collect();
    let sealed = B64.encode(key.seal(identity_id, "blind_indexes", &serde_json::to_string(&hex_keys)?));
    crate::projections::blind_memo::remember(
        &sealed,
        index_keys.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    );
    Ok(sealed)
}

/// An identity type's custom statuses and default status.
struct TypeStatuses {
    statuses: Vec<String>,
    default_status: Option<String>,
}

fn find_identity_type(conn: &Connection, environment: &str, id: &str) -> AppResult<Option<TypeStatuses>> {
    let row: Option<(String, String, Option<String>)> = conn
        .prepare_cached(
            "SELECT id, statuses, default_status FROM identity_types WHERE id = ?1 AND environment = ?2 AND is_deleted = 0",
        )?
        .query_row(params![id, environment], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(row.map(|(_, statuses, default_status)| TypeStatuses {
        statuses: serde_json::from_str(&statuses).unwrap_or_default(),
        default_status,
    }))
}

fn default_identity_type(conn: &Connection, environment: &str) -> AppResult<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT id FROM identity_types WHERE environment = ?1 AND is_default = 1 AND is_deleted = 0")?
        .query_row([environment], |r| r.get(0))
        .optional()?)
}

/// A status is one of idv's lifecycle statuses (aliases accepted) or a custom status of the type.
fn resolve_status(value: &str, custom: &[String]) -> AppResult<String> {
    if let Some(s) = custom.iter().find(|s| s.as_str() == value) {
        return Ok(s.clone());
    }
    match dom::canonical_status(value) {
        Some(s) => Ok(s.to_string()),
        None => Err(AppError::validation(
            "status",
            "must be one of pending, approved, failed, rejected, under_review (or a status of the identity type)",
        )),
    }
}

pub(crate) fn emit_identity(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    stream: &str,
    version: i64,
    evs: Vec<IdentityEvent>,
) -> AppResult<()> {
    if evs.is_empty() {
        return Ok(());
    }
    let new: Vec<NewEvent> = evs.iter().map(|e| NewEvent::new(e.event_type(), e.payload())).collect();
    w.emit(&meta.event_meta(), stream, version, new)?;
    Ok(())
}

pub async fn create(
    writer: &Writer,
    keyring: Arc<Keyring>,
    meta: CommandMeta,
    input: CreateIdentity,
) -> AppResult<CreateOutcome> {
    let prepared = prepare_create(&keyring, &meta.environment, input)?;
    // Every check comes before the first write (the subject key, then the event), so the command needs no
    // savepoint of its own.
    writer.execute_checked_first(move |w| create_in(w, &meta, prepared)).await
}

/// An identity creation with its personal data already sealed and hashed, ready for [`create_in`].
pub struct PreparedIdentity {
    id: String,
    wrapped: Vec<u8>,
    pii: SealedFields,
    blind: Option<String>,
    input: CreateIdentity,
}

/// The part of a creation done off the writer thread: a new data key, the sealed fields, the blind indexes.
pub fn prepare_create(keyring: &Keyring, environment: &str, input: CreateIdentity) -> AppResult<PreparedIdentity> {
    let id = ids::new_id(ids::IDENTITY);
    let (key, wrapped) = keyring.new_data_key(&id);
    let (pii, blind) = if input.pii.is_empty() {
        (SealedFields::new(), None)
    } else {
        let fields = input.pii.as_map();
        (seal_fields(&key, &id, fields)?, Some(sealed_blind_set(keyring, &key, environment, &id, fields)?))
    };
    Ok(PreparedIdentity { id, wrapped, pii, blind, input })
}

/// Creates the identity inside the caller's write (or finds it by external_ref, for an upsert). Checks
/// everything before its first write.
pub fn create_in(w: &mut WriteCtx<'_>, meta: &CommandMeta, prepared: PreparedIdentity) -> AppResult<CreateOutcome> {
    let PreparedIdentity { id, wrapped, pii, blind, input } = prepared;
    let env = meta.environment.as_str();
    let external_ref = input.external_ref.as_str();
    // By external_ref even when it looks like an identity id: that is what the unique index holds.
    if let Some(existing) = load_state_by(w.conn, env, "external_ref", external_ref)? {
        if input.upsert {
            return Ok(CreateOutcome { id: existing.id, created: false, summary: None });
        }
        return Err(AppError::Conflict(format!("An identity with external_ref '{external_ref}' already exists.")));
    }
    let type_id = match &input.identity_type_id {
        Some(t) => Some(t.as_str().to_string()),
        None => default_identity_type(w.conn, env)?,
    };
    let (custom_statuses, default_status) = match &type_id {
        Some(t) => match find_identity_type(w.conn, env, t)? {
            Some(t) => (t.statuses, t.default_status),
            None => return Err(AppError::NotFound("Identity type not found.".into())),
        },
        None => (Vec::new(), None),
    };
    let status = match (&input.status, default_status) {
        (Some(s), _) => resolve_status(s.as_str(), &custom_statuses)?,
        (None, Some(d)) => d,
        (None, None) => "pending".to_string(),
    };
    if status == "redacted" || status == "merged" {
        return Err(AppError::validation("status", "cannot create an identity as redacted or merged"));
    }
    let summary = CreatedSummary {
        external_ref: Some(external_ref.to_string()),
        status: status.clone(),
        created_at: meta.now.clone(),
    };
    let created = dom::Created {
        external_ref: Some(external_ref.to_string()),
        status,
        country: input.country.as_ref().map(|c| c.as_str().to_string()),
        identity_type_id: type_id,
        tags: input.tags.iter().map(|t| t.as_str().to_string()).collect(),
        monitoring_enabled: true,
        pii_fields: input.pii.as_map().keys().cloned().collect(),
        pii,
        blind,
    };
    let evs = dom::decide(None, IdentityCommand::Create(created), &meta.ctx())?;
    w.conn
        .prepare_cached("INSERT INTO subject_keys (subject_id, wrapped_key) VALUES (?1, ?2)")?
        .execute(params![id, wrapped])?;
    emit_identity(w, meta, &id, 0, evs)?;
    Ok(CreateOutcome { id, created: true, summary: Some(summary) })
}

pub async fn update(
    writer: &Writer,
    meta: CommandMeta,
    identity: IdentityRef,
    input: UpdateIdentity,
) -> AppResult<String> {
    let id_or_ref = identity.as_str().to_string();
    writer.execute(move |w| update_in(w, &meta, &id_or_ref, input)).await
}

/// Updates the identity inside the caller's write; answers its id.
pub fn update_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    id_or_ref: &str,
    input: UpdateIdentity,
) -> AppResult<String> {
    let env = meta.environment.as_str();
    let state = require_state(w.conn, env, id_or_ref)?;
    dom::ensure_writable(&state)?;
    let id = state.id.clone();
    let mut update = dom::Updated::default();
    if let Some(new_ref) = input.external_ref.as_ref().map(|r| r.as_str().to_string()) {
        let new_ref = &new_ref;
        if state.external_ref.as_deref() != Some(new_ref.as_str()) {
            if load_state(w.conn, env, new_ref)?.is_some() {
                return Err(AppError::Conflict(format!("An identity with external_ref '{new_ref}' already exists.")));
            }
            update.set.insert("external_ref".into(), Value::String(new_ref.clone()));
            update.changed.push("external_ref".into());
        }
    }
    let mut type_id = state.identity_type_id.clone();
    if let Some(new_type) = &input.identity_type_id {
        let new_type = &new_type.as_ref().map(|t| t.as_str().to_string());
        if let Some(t) = new_type {
            if find_identity_type(w.conn, env, t)?.is_none() {
                return Err(AppError::NotFound("Identity type not found.".into()));
            }
        }
        type_id = new_type.clone();
        update.set.insert("identity_type_id".into(), new_type.clone().map(Value::String).unwrap_or(Value::Null));
        update.changed.push("identity_type_id".into());
    }
    if let Some(status) = &input.status {
        let custom = match &type_id {
            Some(t) => find_identity_type(w.conn, env, t)?.map(|t| t.statuses).unwrap_or_default(),
            None => Vec::new(),
        };
        let status = resolve_status(status.as_str(), &custom)?;
        update.set.insert("status".into(), Value::String(status));
        update.changed.push("status".into());
    }
    if let Some(country) = &input.country {
        let country = country.as_ref().map(|c| Value::String(c.as_str().to_string()));
        update.set.insert("country".into(), country.unwrap_or(Value::Null));
        update.changed.push("country".into());
    }
    if !input.pii.is_empty() {
        let key = data_key(w.conn, w.keyring, &id)?
            .ok_or_else(|| AppError::invalid_state("This identity's personal data has been erased."))?;
        let sealed_now: String = w.conn.row("SELECT pii FROM identities WHERE id = ?1", [&id], |r| r.get(0))?;
        let mut full = open_pii(&key, &id, &sealed_now)?;
        for (field, value) in input.pii.as_map() {
            match value {
                Some(v) => {
                    full.insert(field.clone(), v.clone());
                }
                None => {
                    full.remove(field);
                    update.pii_cleared.push(field.clone());
                }
            }
            update.changed.push(field.clone());
        }
        update.pii = seal_fields(&key, &id, &full)?;
        update.blind = Some(sealed_blind_set(w.keyring, &key, env, &id, &full)?);
    }
    let evs = dom::decide(Some(&state), IdentityCommand::Update(update), &meta.ctx())?;
    emit_identity(w, meta, &id, state.version, evs)?;
    Ok(id)
}

/// Crypto-shredding: destroys the data key and the blind-index rows, appends the redaction event.
pub async fn redact(writer: &Writer, meta: CommandMeta, identity: IdentityRef) -> AppResult<String> {
    let id_or_ref = identity.as_str().to_string();
    writer
        .execute(move |w| {
            let state = require_state(w.conn, &meta.environment, &id_or_ref)?;
            let evs = dom::decide(Some(&state), IdentityCommand::Redact, &meta.ctx())?;
            w.conn.exec("DELETE FROM subject_keys WHERE subject_id = ?1", [&state.id])?;
            emit_identity(w, &meta, &state.id, state.version, evs)?;
            w.request_wal_truncate();
            Ok(state.id)
        })
        .await
}

/// Commands that need nothing but the identity's state: tags, archive/restore, monitoring, export audit.
pub async fn simple(
    writer: &Writer,
    meta: CommandMeta,
    identity: IdentityRef,
    command: IdentityCommand,
) -> AppResult<String> {
    let id_or_ref = identity.as_str().to_string();
    writer.execute(move |w| simple_in(w, &meta, &id_or_ref, command)).await
}

/// The same inside the caller's write.
pub fn simple_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    id_or_ref: &str,
    command: IdentityCommand,
) -> AppResult<String> {
    let state = require_state(w.conn, &meta.environment, id_or_ref)?;
    let evs = dom::decide(Some(&state), command, &meta.ctx())?;
    emit_identity(w, meta, &state.id, state.version, evs)?;
    Ok(state.id)
}

fn field_definitions(conn: &Connection, type_id: &str) -> AppResult<Vec<FieldDefinition>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, identity_type_id, name, label, field_type, is_required, is_unique, is_encrypted, enum_values,
                validation_regex, sort_order
         FROM custom_field_definitions WHERE identity_type_id = ?1 AND is_deleted = 0 ORDER BY sort_order, name",
    )?;
    let rows = stmt.query_map([type_id], |r| {
        let enums: Option<String> = r.get(8)?;
        Ok(FieldDefinition {
            id: r.get(0)?,
            identity_type_id: r.get(1)?,
            name: r.get(2)?,
            label: r.get(3)?,
            field_type: r.get(4)?,
            is_required: r.get(5)?,
            is_unique: r.get(6)?,
            is_encrypted: r.get(7)?,
            enum_values: enums.and_then(|e| serde_json::from_str(&e).ok()),
            validation_regex: r.get(9)?,
            sort_order: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets custom field values, validated against the identity type's definitions; encrypted fields are
/// sealed under the identity's data key.
pub async fn set_custom_fields(
    writer: &Writer,
    meta: CommandMeta,
    identity: IdentityRef,
    values: Map<String, Value>,
) -> AppResult<String> {
    let id_or_ref = identity.as_str().to_string();
    writer
        .execute(move |w| {
            let env = meta.environment.as_str();
            let state = require_state(w.conn, env, &id_or_ref)?;
            dom::ensure_writable(&state)?;
            let defs = match &state.identity_type_id {
                Some(t) => field_definitions(w.conn, t)?,
                None => Vec::new(),
            };
            let mut errors = Vec::new();
            let mut stored = Map::new();
            let mut key: Option<DataKey> = None;
            for (name, value) in &values {
                let def = defs.iter().find(|d| &d.name == name);
                let checked = match def {
                    Some(def) => identity_type::check_value(def, value),
                    None if state.identity_type_id.is_some() => {
                        Err(FieldError::new(format!("custom_fields.{name}"), "is not a field of this identity type"))
                    }
                    None if value.is_string() || value.is_number() || value.is_boolean() || value.is_null() => Ok(value.clone()),
                    None => Err(FieldError::new(format!("custom_fields.{name}"), "must be a string, number or boolean")),
                };
                let value = match checked {
                    Ok(v) => v,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                if let Some(def) = def {
                    if def.is_unique && !value.is_null() && !def.is_encrypted {
                        let taken: bool = w.conn.row(
                            "SELECT EXISTS (SELECT 1 FROM identity_custom_fields f JOIN identities i ON i.id = f.identity_id
                             WHERE f.name = ?1 AND f.value = ?2 AND i.environment = ?3 AND f.identity_id != ?4)",
                            params![name, serde_json::to_string(&value)?, env, state.id],
                            |r| r.get(0),
                        )?;
                        if taken {
                            errors.push(FieldError::new(format!("custom_fields.{name}"), "must be unique; another identity has this value"));
                            continue;
                        }
                    }
                    if def.is_encrypted && !value.is_null() {
                        if key.is_none() {
                            key = data_key(w.conn, w.keyring, &state.id)?;
                        }
                        let k = key.as_ref().ok_or_else(|| AppError::invalid_state("This identity's personal data has been erased."))?;
                        let sealed = k.seal(&state.id, &format!("custom_fields.{name}"), &serde_json::to_string(&value)?);
                        stored.insert(name.clone(), serde_json::json!({ "sealed": B64.encode(sealed) }));
                        continue;
                    }
                }
                stored.insert(name.clone(), value);
            }
            // Required fields must hold a value once the update is applied.
            for def in defs.iter().filter(|d| d.is_required) {
                let incoming = stored.get(&def.name);
                let existing: bool = w.conn.row(
                    "SELECT EXISTS (SELECT 1 FROM identity_custom_fields WHERE identity_id = ?1 AND name = ?2)",
                    params![state.id, def.name],
                    |r| r.get(0),
                )?;
                let present = match incoming {
                    Some(v) => !v.is_null(),
                    None => existing,
                };
                if !present && !errors.iter().any(|e| e.field == format!("custom_fields.{}", def.name)) {
                    errors.push(FieldError::new(format!("custom_fields.{}", def.name), "is required"));
                }
            }
            if !errors.is_empty() {
                return Err(AppError::Validation { detail: "Some custom field values are invalid.".into(), errors });
            }
            let changed: Vec<String> = stored.keys().cloned().collect();
            let command = IdentityCommand::SetCustomFields(dom::CustomFieldsSet { values: stored, changed });
            let evs = dom::decide(Some(&state), command, &meta.ctx())?;
            emit_identity(w, &meta, &state.id, state.version, evs)?;
            Ok(state.id)
        })
        .await
}

#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    pub redact_secondary: bool,
}

/// Merges each secondary into the primary, one after another, in one transaction: all or none.
pub async fn merge(
    writer: &Writer,
    meta: CommandMeta,
    primary: IdentityRef,
    secondaries: Vec<IdentityRef>,
    options: MergeOptions,
) -> AppResult<(String, Vec<String>)> {
    let primary = primary.as_str().to_string();
    let secondaries: Vec<String> = secondaries.iter().map(|s| s.as_str().to_string()).collect();
    writer
        .execute(move |w| {
            let env = meta.environment.clone();
            let mut primary_state = load_state(w.conn, &env, &primary)?
                .ok_or_else(|| AppError::NotFound("Primary identity not found.".into()))?;
            let mut merged = Vec::new();
            for secondary in &secondaries {
                let secondary_state = load_state(w.conn, &env, secondary)?
                    .ok_or_else(|| AppError::NotFound(format!("Secondary identity '{secondary}' not found.")))?;
                if secondary_state.id == primary_state.id {
                    return Err(AppError::Conflict("The primary and the secondary are the same identity.".into()));
                }
                let custom = transferable_custom_fields(w, &secondary_state.id, &primary_state.id)?;
                let into = primary_state.id.clone();
                let sec_events = dom::decide(
                    Some(&secondary_state),
                    IdentityCommand::MergeInto { into: into.clone(), redact: options.redact_secondary },
                    &meta.ctx(),
                )?;
                let pri_events = dom::decide(
                    Some(&primary_state),
                    IdentityCommand::Absorb { from: secondary_state.clone(), custom_fields: custom },
                    &meta.ctx(),
                )?;
                super::relationships::move_user_links(w, &meta, &secondary_state.id, &primary_state.id)?;
                repoint_sessions(w, &meta, &secondary_state.id, &primary_state.id)?;
                emit_identity(w, &meta, &secondary_state.id, secondary_state.version, sec_events)?;
                emit_identity(w, &meta, &primary_state.id, primary_state.version, pri_events)?;
                super::relationships::link_system(
                    w,
                    &meta,
                    &secondary_state.id,
                    &primary_state.id,
                    "merged",
                    Map::new(),
                )?;
                if options.redact_secondary {
                    w.conn.exec("DELETE FROM subject_keys WHERE subject_id = ?1", [&secondary_state.id])?;
                    w.request_wal_truncate();
                }
                merged.push(secondary_state.id.clone());
                primary_state = require_state(w.conn, &env, &primary_state.id)?;
            }
            Ok((primary_state.id, merged))
        })
        .await
}

/// The identity behind `id_or_ref`, following merges to the identity it now lives on in (spec §1.6.10).
pub fn load_surviving<C: Reads + ?Sized>(
    conn: &C,
    environment: &str,
    id_or_ref: &str,
) -> AppResult<Option<IdentityState>> {
    let mut state = load_state(conn, environment, id_or_ref)?;
    // Merging refuses an already-merged secondary, so chains are short and acyclic; the bound is a guard.
    for _ in 0..32 {
        match state.as_ref().and_then(|s| s.merged_into.clone()) {
            Some(into) => state = load_state(conn, environment, &into)?,
            None => break,
        }
    }
    Ok(state)
}

/// Re-points the secondary's sessions to the primary (spec §1.6.10), one event on each session's stream.
fn repoint_sessions(w: &mut WriteCtx<'_>, meta: &CommandMeta, from: &str, to: &str) -> AppResult<()> {
    let rows: Vec<(String, i64)> = {
        let mut stmt =
            w.conn.prepare_cached("SELECT id, stream_seq FROM sessions WHERE identity_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([from], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (session_id, version) in rows {
        let payload = serde_json::json!({ "identity_id": to, "from": from, "reason": "merged" });
        w.emit(&meta.event_meta(), &session_id, version, vec![NewEvent::new("SessionIdentityChanged", payload)])?;
    }
    Ok(())
}

/// The secondary's custom field values that the primary does not have yet, re-sealed for the primary.
fn transferable_custom_fields(w: &WriteCtx<'_>, from: &str, to: &str) -> AppResult<Map<String, Value>> {
    let rows: Vec<(String, String)> = {
        let mut stmt = w.conn.prepare(
            "SELECT name, value FROM identity_custom_fields f WHERE identity_id = ?1
             AND NOT EXISTS (SELECT 1 FROM identity_custom_fields g WHERE g.identity_id = ?2 AND g.name = f.name)",
        )?;
        let rows = stmt.query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Map::new();
    let (mut from_key, mut to_key) = (None, None);
    for (name, text) in rows {
        let value: Value = serde_json::from_str(&text)?;
        if let Some(sealed) = value.get("sealed").and_then(Value::as_str) {
            if from_key.is_none() {
                from_key = data_key(w.conn, w.keyring, from)?;
                to_key = data_key(w.conn, w.keyring, to)?;
            }
            let (Some(fk), Some(tk)) = (&from_key, &to_key) else { continue };
            let field = format!("custom_fields.{name}");
            let bytes =
                B64.decode(sealed).map_err(|_| AppError::Internal("sealed custom field is not base64".into()))?;
            let plain = fk.open(from, &field, &bytes)?;
            out.insert(name, serde_json::json!({ "sealed": B64.encode(tk.seal(to, &field, &plain)) }));
        } else {
            out.insert(name, value);
        }
    }
    Ok(out)
}

/// Used by replay tests and the CLI: the current version of a stream.
pub fn stream_version(conn: &Connection, stream_id: &str) -> AppResult<i64> {
    events::stream_version(conn, stream_id)
}
