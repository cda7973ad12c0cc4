//! Webhook endpoint commands: create, update, rotate the secret, clone, delete, send a test event,
//! retry a failed delivery, and the circuit breaker's disable. Secrets are generated and sealed here
//! (returned once to the caller, stored only sealed); receiver URLs are checked against the egress
//! policy here, before the writer, because that may need a DNS lookup. Must not render responses or
//! log secrets.

use super::writer::{WriteCtx, Writer};
use super::CommandMeta;
use crate::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::domain::values::WebhookUrl;
use crate::domain::webhook::{
    self as dom, EndpointCommand, EndpointCreated, EndpointEvent, EndpointState, EndpointUpdated, EventSubscription,
    KeyInflection, PayloadApiVersion,
};
use crate::error::{AppError, AppResult};
use crate::store::events::{stream_version, NewEvent, StoredEvent};
use crate::store::Exec;
use crate::webhooks::outbox;
use crate::webhooks::policy::{self, EgressPolicy, EgressRefusal};
use crate::webhooks::sender::AttemptResult;
use crate::webhooks::signing::WebhookSecret;
use base64::Engine;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::time::Duration;

/// How long endpoint creation waits for DNS before accepting the URL (delivery checks it again).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Create input, already parsed from the request.
#[derive(Debug, Clone)]
pub struct EndpointInput {
    pub url: WebhookUrl,
    pub label: Option<String>,
    pub description: Option<String>,
    pub enabled_events: Option<Vec<EventSubscription>>,
    pub attribute_blocklist: Option<Vec<String>>,
    pub event_filter_conditions: Option<Value>,
    pub api_version: Option<PayloadApiVersion>,
    pub key_inflection: Option<KeyInflection>,
}

/// The changes of an endpoint update: `None` leaves a field as it is; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct UpdateEndpoint {
    pub url: Option<WebhookUrl>,
    pub label: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub enabled_events: Option<Vec<EventSubscription>>,
    pub attribute_blocklist: Option<Vec<String>>,
    pub event_filter_conditions: Option<Option<Value>>,
    pub api_version: Option<Option<PayloadApiVersion>>,
    pub key_inflection: Option<KeyInflection>,
}

fn event_names(events: Vec<EventSubscription>) -> Vec<String> {
    events.into_iter().map(EventSubscription::into_string).collect()
}

/// An endpoint with its freshly minted secret (shown once for live endpoints).
pub struct NewEndpoint {
    pub id: WebhookEndpointId,
    pub secret: WebhookSecret,
}

fn refusal(field: &str, e: EgressRefusal) -> AppError {
    AppError::validation(field, e.to_string())
}

/// The egress policy on a receiver URL: scheme, https for live endpoints, credentials, metadata
/// hosts, and the addresses the host resolves to now. A host that does not resolve yet is accepted;
/// every delivery resolves and checks again. A refusal names `field`, the body's name for the URL.
pub async fn check_url(field: &str, url: &str, live: bool, policy: &EgressPolicy) -> AppResult<()> {
    dom::check_url_length_of(field, url)?;
    let target = policy::parse_receiver_url(url, live, policy).map_err(|e| refusal(field, e))?;
    let ips = match target.literal_ip {
        Some(ip) => vec![ip],
        None => {
            let (host, port) = (target.host.clone(), target.port);
            let lookup = actix_web::rt::task::spawn_blocking(move || policy::resolve(&host, port));
            match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                Ok(Ok(Ok(ips))) if !ips.is_empty() => ips,
                _ => return Ok(()),
            }
        }
    };
    policy::check_resolved(target, &ips, policy).map(|_| ()).map_err(|e| refusal(field, e))
}

/// A Verifa endpoint (what the `/api/v1/webhooks` commands manage).
fn load(conn: &Connection, environment: &str, id: &str) -> AppResult<Option<EndpointState>> {
    load_of(conn, environment, id, Some("verifa"))
}

/// An endpoint of `dialect` (`verifa` or `verifyhq`; `None`: either).
fn load_of(conn: &Connection, environment: &str, id: &str, dialect: Option<&str>) -> AppResult<Option<EndpointState>> {
    let enabled: Option<bool> = conn
        .row(
            "SELECT enabled FROM webhook_endpoints
             WHERE id = ?1 AND environment = ?2 AND (?3 IS NULL OR COALESCE(dialect, 'verifa') = ?3)",
            params![id, environment, dialect],
            |r| r.get(0),
        )
        .optional()?;
    match enabled {
        None => Ok(None),
        Some(enabled) => Ok(Some(EndpointState {
            id: id.to_string(),
            version: stream_version(conn, id)?,
            environment: environment.to_string(),
            enabled,
        })),
    }
}

fn emit(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    environment: &str,
    id: &str,
    version: i64,
    events: Vec<EndpointEvent>,
) -> AppResult<Vec<StoredEvent>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let mut m = meta.event_meta();
    m.environment = environment.to_string();
    w.emit(
        &m,
        id,
        version,
        events
            .iter()
            .map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() })
            .collect(),
    )
    .map(<[StoredEvent]>::to_vec)
}

fn seal(w: &WriteCtx<'_>, id: &str, secret: &WebhookSecret) -> String {
    B64.encode(w.keyring.seal_webhook_secret(id, secret.expose()))
}

fn create_in(
    w: &mut WriteCtx<'_>,
    meta: &CommandMeta,
    input: EndpointInput,
    cloned_from: Option<String>,
) -> AppResult<NewEndpoint> {
    let id = WebhookEndpointId::new().into_string();
    let secret = WebhookSecret::generate();
    let created = EndpointCreated {
        url: input.url.into_string(),
        label: input.label,
        description: input.description,
        enabled_events: dom::normalise_events(input.enabled_events.map(event_names))?,
        attribute_blocklist: input.attribute_blocklist.unwrap_or_default(),
        event_filter_conditions: dom::normalise_filters(input.event_filter_conditions.unwrap_or(Value::Null))?,
        api_version: input.api_version.map(PayloadApiVersion::into_string),
        key_inflection: input.key_inflection.map(KeyInflection::into_string).unwrap_or_else(|| "snake".into()),
        secret_sealed: seal(w, &id, &secret),
        cloned_from,
        dialect: None,
        client_id: None,
    };
    let events = dom::decide(None, EndpointCommand::Create(created))?;
    emit(w, meta, &meta.environment, &id, 0, events)?;
    Ok(NewEndpoint { id: WebhookEndpointId::from_stored(id), secret })
}

pub async fn create(
    writer: &Writer,
    policy: &EgressPolicy,
    meta: CommandMeta,
    input: EndpointInput,
) -> AppResult<NewEndpoint> {
    check_url("url", input.url.as_str(), meta.environment == "live", policy).await?;
    writer.execute(move |w| create_in(w, &meta, input, None)).await
}

fn require(conn: &Connection, environment: &str, id: &str) -> AppResult<EndpointState> {
    load(conn, environment, id)?.ok_or_else(|| AppError::not_found("Webhook endpoint"))
}

pub async fn update(
    writer: &Writer,
    policy: &EgressPolicy,
    meta: CommandMeta,
    id: WebhookEndpointId,
    input: UpdateEndpoint,
) -> AppResult<WebhookEndpointId> {
    if let Some(url) = &input.url {
        check_url("url", url.as_str(), meta.environment == "live", policy).await?;
    }
    let mut update = EndpointUpdated {
        url: input.url.map(WebhookUrl::into_string),
        label: input.label,
        description: input.description,
        enabled: input.enabled,
        enabled_events: None,
        attribute_blocklist: input.attribute_blocklist,
        event_filter_conditions: input.event_filter_conditions,
        api_version: input.api_version.map(|v| v.map(PayloadApiVersion::into_string)),
        key_inflection: input.key_inflection.map(KeyInflection::into_string),
    };
    if let Some(events) = input.enabled_events {
        update.enabled_events = Some(dom::normalise_events(Some(event_names(events)))?);
    }
    if let Some(filters) = update.event_filter_conditions.take() {
        let normalised = dom::normalise_filters(filters.unwrap_or(Value::Null))?;
        update.event_filter_conditions = Some((!normalised.is_null()).then_some(normalised));
    }
    writer
        .execute(move |w| {
            let state = require(w.conn, &meta.environment, id.as_str())?;
            let events = dom::decide(Some(&state), EndpointCommand::Update(update))?;
            emit(w, &meta, &state.environment, id.as_str(), state.version, events)?;
            Ok(id)
        })
        .await
}

/// A new secret replaces the old one at once: later attempts (retries included) sign with it.
pub async fn rotate_secret(writer: &Writer, meta: CommandMeta, id: WebhookEndpointId) -> AppResult<NewEndpoint> {
    writer
        .execute(move |w| {
            let state = require(w.conn, &meta.environment, id.as_str())?;
            let secret = WebhookSecret::generate();
            let secret_sealed = seal(w, id.as_str(), &secret);
            let events = dom::decide(Some(&state), EndpointCommand::RotateSecret { secret_sealed })?;
            emit(w, &meta, &state.environment, id.as_str(), state.version, events)?;
            Ok(NewEndpoint { id, secret })
        })
        .await
}

/// Optional changes applied to the copy.
#[derive(Debug, Clone, Default)]
pub struct CloneOverrides {
    pub url: Option<WebhookUrl>,
    pub label: Option<String>,
    pub description: Option<String>,
}

/// Copies URL, events, API version, key inflection, filters and the attribute blocklist (so a copy
/// never sends more than its original), with a fresh secret.
pub async fn clone_endpoint(
    writer: &Writer,
    policy: &EgressPolicy,
    meta: CommandMeta,
    id: WebhookEndpointId,
    overrides: CloneOverrides,
) -> AppResult<NewEndpoint> {
    if let Some(url) = &overrides.url {
        check_url("url", url.as_str(), meta.environment == "live", policy).await?;
    }
    writer
        .execute(move |w| {
            let id = id.into_string();
            require(w.conn, &meta.environment, &id)?;
            let mut input = w.conn.row(
                "SELECT url, label, description, enabled_events, attribute_blocklist, event_filter_conditions,
                        api_version, key_inflection FROM webhook_endpoints WHERE id = ?1",
                [&id],
                |r| {
                    let events: String = r.get(3)?;
                    let blocklist: String = r.get(4)?;
                    let filters: Option<String> = r.get(5)?;
                    let events: Option<Vec<String>> = serde_json::from_str(&events).ok();
                    Ok(EndpointInput {
                        url: WebhookUrl::from_stored(r.get(0)?),
                        label: r.get(1)?,
                        description: r.get(2)?,
                        enabled_events: events.map(|es| es.into_iter().map(EventSubscription::from_stored).collect()),
                        attribute_blocklist: serde_json::from_str(&blocklist).ok(),
                        event_filter_conditions: filters.and_then(|f| serde_json::from_str(&f).ok()),
                        api_version: r.get::<_, Option<String>>(6)?.map(PayloadApiVersion::from_stored),
                        key_inflection: Some(KeyInflection::from_stored(r.get(7)?)),
                    })
                },
            )?;
            if let Some(url) = overrides.url {
                input.url = url;
            }
            input.label = overrides.label.or(input.label.map(|l| format!("{l} (clone)")));
            if overrides.description.is_some() {
                input.description = overrides.description;
            }
            create_in(w, &meta, input, Some(id.clone()))
        })
        .await
}

/// Deletes the endpoint; its queued deliveries are never sent.
pub async fn delete(writer: &Writer, meta: CommandMeta, id: WebhookEndpointId) -> AppResult<WebhookEndpointId> {
    writer
        .execute(move |w| {
            let state = require(w.conn, &meta.environment, id.as_str())?;
            let events = dom::decide(Some(&state), EndpointCommand::Delete)?;
            emit(w, &meta, &state.environment, id.as_str(), state.version, events)?;
            Ok(id)
        })
        .await
}

/// The test event's ids: the event (= payload `id`/`idempotency_key`) and its delivery.
#[derive(Debug, Clone)]
pub struct TestQueued {
    pub event_id: String,
    pub delivery_id: WebhookDeliveryId,
}

/// Appends a test event for this endpoint and queues its delivery in the same transaction.
pub async fn send_test(
    writer: &Writer,
    meta: CommandMeta,
    id: WebhookEndpointId,
    now: time::OffsetDateTime,
) -> AppResult<TestQueued> {
    writer
        .execute(move |w| {
            let id = id.into_string();
            let state = require(w.conn, &meta.environment, &id)?;
            let events = dom::decide(Some(&state), EndpointCommand::RequestTest)?;
            let stored = emit(w, &meta, &state.environment, &id, state.version, events)?;
            let source =
                stored.into_iter().next().ok_or_else(|| AppError::Internal("test event not appended".into()))?;
            let queued = outbox::enqueue_now(w.conn, &source, now)?;
            let delivery_id = queued
                .into_iter()
                .find(|(endpoint, _)| *endpoint == id)
                .map(|(_, delivery)| delivery)
                .ok_or_else(|| AppError::Internal("test delivery not queued".into()))?;
            Ok(TestQueued { event_id: source.event_id, delivery_id: WebhookDeliveryId::from_stored(delivery_id) })
        })
        .await
}

/// One more attempt of a failed delivery, now.
pub async fn retry_delivery(
    writer: &Writer,
    meta: CommandMeta,
    endpoint_id: WebhookEndpointId,
    delivery_id: WebhookDeliveryId,
    now: time::OffsetDateTime,
) -> AppResult<WebhookDeliveryId> {
    writer
        .execute(move |w| {
            require(w.conn, &meta.environment, endpoint_id.as_str())?;
            outbox::schedule_manual_retry_in(
                w.conn,
                &meta.environment,
                endpoint_id.as_str(),
                delivery_id.as_str(),
                now,
            )?;
            Ok(delivery_id)
        })
        .await
}

/// Records one delivery attempt (the outbox's tables) and, when that trips the circuit breaker, disables
/// the endpoint in the same transaction. The outbox only reports the trip: appending events is this
/// module's, so the dependency runs one way (commands -> outbox).
pub fn record_attempt_in(
    w: &mut WriteCtx<'_>,
    delivery_id: &str,
    attempt: u32,
    result: &AttemptResult,
    attempted_at: time::OffsetDateTime,
    now: time::OffsetDateTime,
) -> AppResult<outbox::Recorded> {
    let (recorded, breaker) = outbox::record_attempt_in(w.conn, delivery_id, attempt, result, attempted_at, now)?;
    match breaker {
        Some(b) => {
            let disabled = disable_in(w, &b.environment, &b.endpoint_id, b.consecutive_failures, &b.at)?;
            Ok(outbox::Recorded::Failed(disabled))
        }
        None => Ok(recorded),
    }
}

/// The circuit breaker: disables the endpoint (an event, so the other endpoints hear of it). Returns
/// whether it was enabled until now.
fn disable_in(
    w: &mut WriteCtx<'_>,
    environment: &str,
    endpoint_id: &str,
    consecutive_failures: u32,
    now: &str,
) -> AppResult<bool> {
    let Some(state) = load_of(w.conn, environment, endpoint_id, None)? else { return Ok(false) };
    let events = dom::decide(Some(&state), EndpointCommand::Disable { consecutive_failures })?;
    let meta = CommandMeta::untraced("system", environment.to_string(), now.to_string());
    Ok(!emit(w, &meta, environment, endpoint_id, state.version, events)?.is_empty())
}

/// A VerifyHQ webhook (A.8), on the same outbox: `callback_url` under the same egress policy, the
/// dialect's event names, configured for `client_id`. The secret is returned once.
pub async fn create_verifyhq(
    writer: &Writer,
    policy: &EgressPolicy,
    meta: CommandMeta,
    client_id: String,
    callback_url: WebhookUrl,
    events: Vec<String>,
) -> AppResult<NewEndpoint> {
    check_url("callbackUrl", callback_url.as_str(), meta.environment == "live", policy).await?;
    writer
        .execute(move |w| {
            let id = WebhookEndpointId::new().into_string();
            let secret = WebhookSecret::generate();
            let mut unique: Vec<String> = Vec::new();
            for e in events {
                if !unique.contains(&e) {
                    unique.push(e);
                }
            }
            let created = EndpointCreated {
                url: callback_url.into_string(),
                label: None,
                description: None,
                enabled_events: unique,
                attribute_blocklist: Vec::new(),
                event_filter_conditions: Value::Null,
                api_version: None,
                key_inflection: "camel".into(),
                secret_sealed: seal(w, &id, &secret),
                cloned_from: None,
                dialect: Some(dom::VERIFYHQ_DIALECT.into()),
                client_id: Some(client_id),
            };
            let events = dom::decide(None, EndpointCommand::Create(created))?;
            emit(w, &meta, &meta.environment, &id, 0, events)?;
            Ok(NewEndpoint { id: WebhookEndpointId::from_stored(id), secret })
        })
        .await
}

/// `DELETE /v1/webhooks/:id`: deactivates a VerifyHQ webhook (its pending deliveries wait, as for any
/// disabled endpoint). Deactivating an inactive one changes nothing.
pub async fn deactivate_verifyhq(writer: &Writer, meta: CommandMeta, id: String) -> AppResult<String> {
    writer
        .execute(move |w| {
            let state = load_of(w.conn, &meta.environment, &id, Some(dom::VERIFYHQ_DIALECT))?
                .ok_or_else(|| AppError::not_found("Webhook"))?;
            let update = dom::EndpointUpdated { enabled: Some(false), ..Default::default() };
            let events =
                if state.enabled { dom::decide(Some(&state), EndpointCommand::Update(update))? } else { Vec::new() };
            emit(w, &meta, &meta.environment, &id, state.version, events)?;
            Ok(id)
        })
        .await
}
