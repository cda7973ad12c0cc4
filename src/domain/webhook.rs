//! Webhook endpoints: the endpoint aggregate (its events, state, commands and `decide`), the rules
//! for its settings (`enabled_events`, `attribute_blocklist`, `event_filter_conditions`, API version,
//! key inflection) and the event catalog of spec §1.11.5. Secrets arrive here already sealed (opaque
//! strings) and receiver URLs already checked against the egress policy by the command layer.
//! Must not generate or open secrets, resolve host names, read the database or the clock.

use super::api_key::{check_inflection, check_version};
use crate::error::AppError;
use crate::webhooks::payload::{AttributeBlocklist, FilterConditions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Id prefixes: endpoints (`webhook_...`, as the spec's examples) and deliveries (`dlv_...`).
pub const ENDPOINT_PREFIX: &str = "webhook";
pub const DELIVERY_PREFIX: &str = "dlv";

/// Sent only to the endpoint under test, whatever its `enabled_events`.
pub const EVENT_TEST: &str = "webhook.test";
/// Sent to the other endpoints of the environment when the circuit breaker disables one.
pub const EVENT_ENDPOINT_DISABLED: &str = "webhook.endpoint-disabled";
/// `enabled_events` value meaning "every event".
pub const ALL_EVENTS: &str = "*";

/// Delivery statuses: waiting for its first attempt, waiting for a retry, done, given up.
pub const DELIVERY_PENDING: &str = "pending";
pub const DELIVERY_RETRYING: &str = "retrying";
pub const DELIVERY_DELIVERED: &str = "delivered";
pub const DELIVERY_FAILED: &str = "failed";
pub const DELIVERY_STATUSES: &[&str] = &[DELIVERY_PENDING, DELIVERY_RETRYING, DELIVERY_DELIVERED, DELIVERY_FAILED];

pub const MAX_URL_LEN: usize = 2048;
pub const MAX_LABEL_LEN: usize = 200;
pub const MAX_DESCRIPTION_LEN: usize = 1000;
pub const MAX_BLOCKLIST_ENTRIES: usize = 100;

/// Declares a string newtype whose values are a closed set given by `$values` (a `fn() -> Vec<&str>`):
/// `parse`, `from_stored`, `as_str`, serde through `parse`, and a schema with the set as its `enum`.
macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident, $description:expr, $values:expr, $message:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn values() -> Vec<&'static str> {
                let values: fn() -> Vec<&'static str> = $values;
                values()
            }

            pub fn parse(text: &str) -> Result<Self, String> {
                if Self::values().contains(&text) {
                    Ok($name(text.to_string()))
                } else {
                    let message: fn(&str) -> String = $message;
                    Err(message(text))
                }
            }

            /// Wraps a value read back from the store (validated when it was written).
            pub fn from_stored(text: String) -> Self {
                $name(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
                crate::domain::values::schema_from(serde_json::json!({
                    "type": "string", "enum": Self::values(), "description": $description,
                }))
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}

closed_set!(
    /// An event an endpoint subscribes to: a name of the event catalog, or `*` for every event.
    EventSubscription,
    "An event an endpoint subscribes to: a name of the event catalog, or `*` for every event.",
    || std::iter::once(ALL_EVENTS).chain(CATALOG.iter().map(|t| t.name)).collect(),
    |e| format!("unknown event type '{e}'; GET /webhooks/endpoints/event-types lists them")
);

closed_set!(
    /// The name of a delivered event: a name of the event catalog, or `webhook.test`.
    EventName,
    "The name of a delivered event: a name of the event catalog, or `webhook.test`.",
    || CATALOG.iter().map(|t| t.name).chain(std::iter::once(EVENT_TEST)).collect(),
    |e| format!("unknown event type '{e}'; GET /webhooks/endpoints/event-types lists them")
);

closed_set!(
    /// The API version of the payloads sent to an endpoint.
    PayloadApiVersion,
    "The API version of the payloads sent to an endpoint.",
    || super::api_key::API_VERSIONS.to_vec(),
    |_| format!("unknown API version; known: {}", super::api_key::API_VERSIONS.join(", "))
);

closed_set!(
    /// The casing of payload keys sent to an endpoint.
    KeyInflection,
    "The casing of payload keys sent to an endpoint.",
    || super::api_key::INFLECTIONS.to_vec(),
    |_| "must be snake, camel or kebab".to_string()
);

/// Where a delivery stands: waiting for its first attempt, waiting for a retry, done, given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Retrying,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => DELIVERY_PENDING,
            DeliveryStatus::Retrying => DELIVERY_RETRYING,
            DeliveryStatus::Delivered => DELIVERY_DELIVERED,
            DeliveryStatus::Failed => DELIVERY_FAILED,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [DeliveryStatus::Pending, DeliveryStatus::Retrying, DeliveryStatus::Delivered, DeliveryStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One catalog entry: name, when it fires, and whether this server produces it today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventType {
    pub name: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    pub emitted: bool,
}

const fn ev(name: &'static str, category: &'static str, description: &'static str, emitted: bool) -> EventType {
    EventType { name, category, description, emitted }
}

/// Every event name of spec §1.11.5 (spelled exactly as there), plus the endpoint-disabled notice.
/// Names that idv does not produce yet can still be subscribed to.
pub const CATALOG: &[EventType] = &[
    ev("session.created", "session", "A session is created.", true),
    ev("session.started", "session", "The user began capture (pending -> capturing).", true),
    ev("session.link_generated", "session", "A one-time capture link was generated.", true),
    ev("session.awaiting_external", "session", "The workflow paused at an external gate.", true),
    ev("session.requires-review", "session", "The workflow routed the session to review.", true),
    ev("session.approved", "session", "The final outcome is approved.", true),
    ev("session.declined", "session", "The final outcome is declined or rejected.", true),
    ev("session.resubmission-required", "session", "The user must redo capture.", false),
    ev("session.expired", "session", "The capture token expired or the session was expired.", true),
    ev("session.redacted", "session", "The session's data was redacted.", true),
    ev("session.retention-expired", "session", "The retention window deleted the session's data.", true),
    ev("screening.completed", "screening", "A screening run finished.", true),
    ev("screening.monitoring.new_hits", "screening", "Continuous monitoring found new matches.", true),
    ev("check.completed", "check", "A standalone check finished.", false),
    ev("check.monitoring.new_hits", "check", "Monitoring found new hits (AML use-case name).", true),
    ev("identity.created", "identity", "An identity was created.", true),
    ev("identity.updated", "identity", "New session, data or status change, merge or redaction.", true),
    ev("identity.archived", "identity", "An identity was archived.", true),
    ev("identity.restored", "identity", "An identity was restored.", true),
    ev("identity.tag-added", "identity", "Tags were added to an identity.", true),
    ev("identity.tag-removed", "identity", "Tags were removed from an identity.", true),
    ev("identity.flagged", "identity", "An identity was flagged for review.", false),
    ev("consortium.match_found", "consortium", "A consortium face match was found.", false),
    ev("case.created", "case", "A review case was created.", true),
    ev("case.approved", "case", "A case was approved.", true),
    ev("case.rejected", "case", "A case was rejected.", true),
    ev("case.escalated", "case", "A case was escalated.", true),
    ev("document.verified", "document", "Document checks completed.", true),
    ev("document.extracted", "document", "Data extraction completed.", true),
    ev(EVENT_ENDPOINT_DISABLED, "webhook", "An endpoint was disabled after 10 consecutive failed deliveries.", true),
];

/// Whether an endpoint with these `enabled_events` receives `event` (the test event is not
/// subject to subscriptions; its caller targets one endpoint).
pub fn subscribes(enabled_events: &[String], event: &str) -> bool {
    enabled_events.is_empty() || enabled_events.iter().any(|e| e == ALL_EVENTS || e == event)
}

/// Omitted, empty, or containing `*`: every event (stored as `["*"]`). Otherwise each name must be in
/// the catalog; duplicates are dropped, order kept.
pub fn normalise_events(events: Option<Vec<String>>) -> Result<Vec<String>, AppError> {
    let events = events.unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for e in events {
        let e = e.trim().to_string();
        if e == ALL_EVENTS {
            return Ok(vec![ALL_EVENTS.to_string()]);
        }
        if !CATALOG.iter().any(|t| t.name == e) {
            return Err(AppError::validation(
                "enabled_events",
                format!("unknown event type '{e}'; GET /webhooks/endpoints/event-types lists them"),
            ));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    if out.is_empty() {
        out.push(ALL_EVENTS.to_string());
    }
    Ok(out)
}

pub fn check_blocklist(entries: &[String]) -> Result<(), AppError> {
    if entries.len() > MAX_BLOCKLIST_ENTRIES {
        return Err(AppError::validation("attribute_blocklist", format!("at most {MAX_BLOCKLIST_ENTRIES} entries")));
    }
    AttributeBlocklist::parse(entries)
        .map(|_| ())
        .map_err(|e| AppError::validation("attribute_blocklist", e.to_string()))
}

/// `null`, `{}` and `[]` all mean "no filter" and are stored as `null`.
pub fn normalise_filters(value: Value) -> Result<Value, AppError> {
    FilterConditions::parse(&value).map_err(|e| AppError::validation("event_filter_conditions", e.to_string()))?;
    Ok(match &value {
        Value::Object(m) if m.is_empty() => Value::Null,
        Value::Array(a) if a.is_empty() => Value::Null,
        _ => value,
    })
}

fn check_text(field: &str, value: &Option<String>, max: usize) -> Result<(), AppError> {
    match value {
        Some(v) if v.chars().count() > max => Err(AppError::validation(field, format!("at most {max} characters"))),
        _ => Ok(()),
    }
}

pub fn check_url_length(url: &str) -> Result<(), AppError> {
    check_url_length_of("url", url)
}

/// `check_url_length` for a body that names the receiver's URL `field`.
pub fn check_url_length_of(field: &str, url: &str) -> Result<(), AppError> {
    if url.trim().is_empty() {
        return Err(AppError::validation(field, "is required"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(AppError::validation(field, format!("at most {MAX_URL_LEN} characters")));
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndpointCreated {
    pub url: String,
    pub label: Option<String>,
    pub description: Option<String>,
    pub enabled_events: Vec<String>,
    pub attribute_blocklist: Vec<String>,
    pub event_filter_conditions: Value,
    pub api_version: Option<String>,
    pub key_inflection: String,
    /// The signing secret sealed under the master key's webhook-secret key, bound to the endpoint id
    /// (base64). The plaintext is never in the log.
    pub secret_sealed: String,
    pub cloned_from: Option<String>,
    /// `verifyhq`: an endpoint of the VerifyHQ dialect (its event names, envelope, signature and retry
    /// schedule); absent: a Verifa endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    /// The VerifyHQ `clientId` the endpoint was configured for (dialect endpoints only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// The dialect name of VerifyHQ endpoints.
pub const VERIFYHQ_DIALECT: &str = "verifyhq";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct EndpointUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub label: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_blocklist: Option<Vec<String>>,
    /// `Some(Value::Null)` clears the filter.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub event_filter_conditions: Option<Option<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub api_version: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_inflection: Option<String>,
}

impl EndpointUpdated {
    pub fn is_empty(&self) -> bool {
        *self == EndpointUpdated::default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretRotated {
    pub secret_sealed: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndpointDisabled {
    /// `circuit_breaker` today.
    pub reason: String,
    pub consecutive_failures: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEvent {
    Created(EndpointCreated),
    Updated(EndpointUpdated),
    SecretRotated(SecretRotated),
    Disabled(EndpointDisabled),
    Deleted,
    TestRequested,
}

impl EndpointEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            EndpointEvent::Created(_) => "WebhookEndpointCreated",
            EndpointEvent::Updated(_) => "WebhookEndpointUpdated",
            EndpointEvent::SecretRotated(_) => "WebhookEndpointSecretRotated",
            EndpointEvent::Disabled(_) => "WebhookEndpointDisabled",
            EndpointEvent::Deleted => "WebhookEndpointDeleted",
            EndpointEvent::TestRequested => "WebhookEndpointTestRequested",
        }
    }

    pub fn payload(&self) -> Value {
        let value = match self {
            EndpointEvent::Created(e) => serde_json::to_value(e),
            EndpointEvent::Updated(e) => serde_json::to_value(e),
            EndpointEvent::SecretRotated(e) => serde_json::to_value(e),
            EndpointEvent::Disabled(e) => serde_json::to_value(e),
            EndpointEvent::Deleted | EndpointEvent::TestRequested => Ok(Value::Object(Default::default())),
        };
        value.unwrap_or(Value::Null)
    }

    pub fn version(&self) -> i64 {
        ENDPOINT_EVENT_VERSION
    }

    /// Decodes a stored event, upcasting older versions. Unknown types give `None`; an unknown version or
    /// a payload that does not fit is an error naming the event.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use crate::domain::codec;
        if !event_type.starts_with("WebhookEndpoint") {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, ENDPOINT_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "WebhookEndpointCreated" => EndpointEvent::Created(codec::payload(event_type, p)?),
            "WebhookEndpointUpdated" => EndpointEvent::Updated(codec::payload(event_type, p)?),
            "WebhookEndpointSecretRotated" => EndpointEvent::SecretRotated(codec::payload(event_type, p)?),
            "WebhookEndpointDisabled" => EndpointEvent::Disabled(codec::payload(event_type, p)?),
            "WebhookEndpointDeleted" => EndpointEvent::Deleted,
            "WebhookEndpointTestRequested" => EndpointEvent::TestRequested,
            _ => return Ok(None),
        }))
    }
}

/// The newest version of every webhook endpoint event.
pub const ENDPOINT_EVENT_VERSION: i64 = 1;

/// What `decide` needs to know about an existing endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointState {
    pub id: String,
    pub version: i64,
    pub environment: String,
    pub enabled: bool,
}

pub enum EndpointCommand {
    Create(EndpointCreated),
    Update(EndpointUpdated),
    RotateSecret {
        secret_sealed: String,
    },
    /// The circuit breaker.
    Disable {
        consecutive_failures: u32,
    },
    Delete,
    RequestTest,
}

fn check_created(c: &EndpointCreated) -> Result<(), AppError> {
    check_url_length(&c.url)?;
    match c.dialect.as_deref() {
        None => {}
        Some(VERIFYHQ_DIALECT) => {
            super::verifyhq::check_webhook_events(&c.enabled_events)?;
            check_text("clientId", &c.client_id, MAX_LABEL_LEN)?;
            if c.client_id.is_none() {
                return Err(AppError::validation("clientId", "is required"));
            }
        }
        Some(other) => return Err(AppError::validation("dialect", format!("unknown dialect '{other}'"))),
    }
    check_text("label", &c.label, MAX_LABEL_LEN)?;
    check_text("description", &c.description, MAX_DESCRIPTION_LEN)?;
    check_blocklist(&c.attribute_blocklist)?;
    if let Some(v) = &c.api_version {
        check_version("api_version", v)?;
    }
    check_inflection("key_inflection", &c.key_inflection)
}

fn check_updated(u: &EndpointUpdated) -> Result<(), AppError> {
    if let Some(url) = &u.url {
        check_url_length(url)?;
    }
    if let Some(label) = &u.label {
        check_text("label", label, MAX_LABEL_LEN)?;
    }
    if let Some(description) = &u.description {
        check_text("description", description, MAX_DESCRIPTION_LEN)?;
    }
    if let Some(b) = &u.attribute_blocklist {
        check_blocklist(b)?;
    }
    if let Some(Some(v)) = &u.api_version {
        check_version("api_version", v)?;
    }
    if let Some(v) = &u.key_inflection {
        check_inflection("key_inflection", v)?;
    }
    Ok(())
}

/// Decides which events a command produces (`None` = the endpoint does not exist).
pub fn decide(state: Option<&EndpointState>, command: EndpointCommand) -> Result<Vec<EndpointEvent>, AppError> {
    use EndpointCommand as C;
    let Some(state) = state else {
        return match command {
            C::Create(created) => {
                check_created(&created)?;
                Ok(vec![EndpointEvent::Created(created)])
            }
            _ => Err(AppError::not_found("Webhook endpoint")),
        };
    };
    match command {
        C::Create(_) => Err(AppError::Conflict("A webhook endpoint with this id already exists.".into())),
        C::Update(update) => {
            check_updated(&update)?;
            if update.is_empty() {
                return Ok(Vec::new());
            }
            Ok(vec![EndpointEvent::Updated(update)])
        }
        C::RotateSecret { secret_sealed } => Ok(vec![EndpointEvent::SecretRotated(SecretRotated { secret_sealed })]),
        C::Disable { consecutive_failures } => {
            if !state.enabled {
                return Ok(Vec::new());
            }
            Ok(vec![EndpointEvent::Disabled(EndpointDisabled {
                reason: "circuit_breaker".into(),
                consecutive_failures,
            })])
        }
        C::Delete => Ok(vec![EndpointEvent::Deleted]),
        C::RequestTest => {
            if !state.enabled {
                return Err(AppError::invalid_state(
                    "This webhook endpoint is disabled; enable it (PATCH enabled=true) before sending a test event.",
                ));
            }
            Ok(vec![EndpointEvent::TestRequested])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(enabled: bool) -> EndpointState {
        EndpointState { id: "webhook_1".into(), version: 1, environment: "sandbox".into(), enabled }
    }

    fn created() -> EndpointCreated {
        EndpointCreated {
            url: "https://hooks.example.com/x".into(),
            label: None,
            description: None,
            enabled_events: vec!["*".into()],
            attribute_blocklist: vec![],
            event_filter_conditions: Value::Null,
            api_version: None,
            key_inflection: "snake".into(),
            secret_sealed: "sealed".into(),
            cloned_from: None,
            dialect: None,
            client_id: None,
        }
    }

    #[test]
    fn a_verifyhq_endpoint_names_its_client_and_only_the_dialects_events() {
        let vhq = EndpointCreated {
            enabled_events: vec!["identity.verified".into()],
            dialect: Some(VERIFYHQ_DIALECT.into()),
            client_id: Some("backend".into()),
            ..created()
        };
        assert!(decide(None, EndpointCommand::Create(vhq.clone())).is_ok());
        let verifa_names = EndpointCreated { enabled_events: vec!["session.approved".into()], ..vhq.clone() };
        assert!(decide(None, EndpointCommand::Create(verifa_names)).is_err());
        let no_client = EndpointCreated { client_id: None, ..vhq.clone() };
        assert!(decide(None, EndpointCommand::Create(no_client)).is_err());
        assert!(
            created().dialect.is_none() && !EndpointEvent::Created(created()).payload().to_string().contains("dialect")
        );
        let back = EndpointEvent::decode("WebhookEndpointCreated", 1, &EndpointEvent::Created(vhq.clone()).payload());
        assert_eq!(back.unwrap(), Some(EndpointEvent::Created(vhq)));
    }

    #[test]
    fn events_default_to_all_and_unknown_names_are_refused() {
        assert_eq!(normalise_events(None).unwrap(), vec!["*"]);
        assert_eq!(normalise_events(Some(vec![])).unwrap(), vec!["*"]);
        assert_eq!(normalise_events(Some(vec!["session.approved".into(), "*".into()])).unwrap(), vec!["*"]);
        assert_eq!(
            normalise_events(Some(vec!["session.approved".into(), "session.approved".into()])).unwrap(),
            vec!["session.approved"]
        );
        assert!(normalise_events(Some(vec!["session.requires_review".into()])).is_err(), "exact spelling");
        assert!(subscribes(&["*".into()], "identity.created"));
        assert!(subscribes(&["identity.created".into()], "identity.created"));
        assert!(!subscribes(&["identity.created".into()], "session.created"));
    }

    #[test]
    fn filters_normalise_empty_to_null_and_refuse_garbage() {
        assert_eq!(normalise_filters(json!({})).unwrap(), Value::Null);
        assert_eq!(normalise_filters(json!([])).unwrap(), Value::Null);
        assert_eq!(normalise_filters(json!({"status": "approved"})).unwrap(), json!({"status": "approved"}));
        assert!(normalise_filters(json!("x")).is_err());
    }

    #[test]
    fn create_validates_and_refuses_duplicates() {
        assert_eq!(decide(None, EndpointCommand::Create(created())).unwrap().len(), 1);
        let mut bad = created();
        bad.key_inflection = "pascal".into();
        assert!(decide(None, EndpointCommand::Create(bad)).is_err());
        let mut bad = created();
        bad.attribute_blocklist = vec!["event".into()];
        assert!(decide(None, EndpointCommand::Create(bad)).is_err());
        assert!(decide(Some(&state(true)), EndpointCommand::Create(created())).is_err());
        assert!(matches!(decide(None, EndpointCommand::Delete), Err(AppError::NotFound(_))));
    }

    #[test]
    fn breaker_and_test_respect_the_enabled_flag() {
        assert_eq!(decide(Some(&state(false)), EndpointCommand::Disable { consecutive_failures: 10 }).unwrap(), vec![]);
        assert_eq!(decide(Some(&state(true)), EndpointCommand::Disable { consecutive_failures: 10 }).unwrap().len(), 1);
        assert!(decide(Some(&state(false)), EndpointCommand::RequestTest).is_err());
        assert_eq!(decide(Some(&state(true)), EndpointCommand::Update(EndpointUpdated::default())).unwrap(), vec![]);
    }

    #[test]
    fn events_round_trip_through_their_payloads() {
        for e in [
            EndpointEvent::Created(created()),
            EndpointEvent::Updated(EndpointUpdated {
                label: Some(None),
                event_filter_conditions: Some(None),
                enabled: Some(false),
                ..Default::default()
            }),
            EndpointEvent::SecretRotated(SecretRotated { secret_sealed: "s".into() }),
            EndpointEvent::Disabled(EndpointDisabled { reason: "circuit_breaker".into(), consecutive_failures: 10 }),
            EndpointEvent::Deleted,
            EndpointEvent::TestRequested,
        ] {
            let back = EndpointEvent::decode(e.event_type(), 1, &e.payload()).unwrap().unwrap();
            assert_eq!(back, e);
        }
    }
}
