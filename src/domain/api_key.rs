//! API keys: kinds, environments, scopes and the rules for creating, updating, expiring and cloning
//! them. Secrets are generated and hashed by the command layer; this module never sees one.

use super::vocabulary::vocabulary;
use crate::error::AppError;
use serde::{Deserialize, Serialize};

pub const DEFAULT_SCOPES: &[&str] =
    &["sessions:read", "sessions:create", "sessions:write", "verifications:read", "identities:read"];

/// Every scope idv knows. `*` is not a scope; "all scopes" keys list them all.
pub const ALL_SCOPES: &[&str] = &[
    "sessions:read",
    "sessions:create",
    "sessions:write",
    "verifications:read",
    "identities:read",
    "identities:write",
    "redact:write",
    "settings:write",
    "api_keys:read",
    "api_keys:write",
    "cases:read",
    "cases:write",
    "checks:read",
    "checks:write",
    "lists:read",
    "lists:write",
    "webhooks:read",
    "webhooks:write",
    "workflows:read",
    "workflows:write",
    "documents:read",
    "documents:write",
    "events:read",
];

pub const API_VERSIONS: &[&str] = &["2026-01-01", "2026-02-01"];
pub const CURRENT_API_VERSION: &str = "2026-01-01";
pub const INFLECTIONS: &[&str] = &["snake", "camel", "kebab"];

/// One permission of a key (spec §1.12); the same list as `ALL_SCOPES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    #[serde(rename = "sessions:read")]
    SessionsRead,
    #[serde(rename = "sessions:create")]
    SessionsCreate,
    #[serde(rename = "sessions:write")]
    SessionsWrite,
    #[serde(rename = "verifications:read")]
    VerificationsRead,
    #[serde(rename = "identities:read")]
    IdentitiesRead,
    #[serde(rename = "identities:write")]
    IdentitiesWrite,
    #[serde(rename = "redact:write")]
    RedactWrite,
    #[serde(rename = "settings:write")]
    SettingsWrite,
    #[serde(rename = "api_keys:read")]
    ApiKeysRead,
    #[serde(rename = "api_keys:write")]
    ApiKeysWrite,
    #[serde(rename = "cases:read")]
    CasesRead,
    #[serde(rename = "cases:write")]
    CasesWrite,
    #[serde(rename = "checks:read")]
    ChecksRead,
    #[serde(rename = "checks:write")]
    ChecksWrite,
    #[serde(rename = "lists:read")]
    ListsRead,
    #[serde(rename = "lists:write")]
    ListsWrite,
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
    #[serde(rename = "workflows:read")]
    WorkflowsRead,
    #[serde(rename = "workflows:write")]
    WorkflowsWrite,
    #[serde(rename = "documents:read")]
    DocumentsRead,
    #[serde(rename = "documents:write")]
    DocumentsWrite,
    #[serde(rename = "events:read")]
    EventsRead,
}

impl Scope {
    pub const ALL: &'static [Scope] = &[
        Scope::SessionsRead,
        Scope::SessionsCreate,
        Scope::SessionsWrite,
        Scope::VerificationsRead,
        Scope::IdentitiesRead,
        Scope::IdentitiesWrite,
        Scope::RedactWrite,
        Scope::SettingsWrite,
        Scope::ApiKeysRead,
        Scope::ApiKeysWrite,
        Scope::CasesRead,
        Scope::CasesWrite,
        Scope::ChecksRead,
        Scope::ChecksWrite,
        Scope::ListsRead,
        Scope::ListsWrite,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::WorkflowsRead,
        Scope::WorkflowsWrite,
        Scope::DocumentsRead,
        Scope::DocumentsWrite,
        Scope::EventsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SessionsRead => "sessions:read",
            Scope::SessionsCreate => "sessions:create",
            Scope::SessionsWrite => "sessions:write",
            Scope::VerificationsRead => "verifications:read",
            Scope::IdentitiesRead => "identities:read",
            Scope::IdentitiesWrite => "identities:write",
            Scope::RedactWrite => "redact:write",
            Scope::SettingsWrite => "settings:write",
            Scope::ApiKeysRead => "api_keys:read",
            Scope::ApiKeysWrite => "api_keys:write",
            Scope::CasesRead => "cases:read",
            Scope::CasesWrite => "cases:write",
            Scope::ChecksRead => "checks:read",
            Scope::ChecksWrite => "checks:write",
            Scope::ListsRead => "lists:read",
            Scope::ListsWrite => "lists:write",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::WorkflowsRead => "workflows:read",
            Scope::WorkflowsWrite => "workflows:write",
            Scope::DocumentsRead => "documents:read",
            Scope::DocumentsWrite => "documents:write",
            Scope::EventsRead => "events:read",
        }
    }

    pub fn parse(field: &str, text: &str) -> Result<Scope, AppError> {
        Scope::ALL
            .iter()
            .copied()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| AppError::validation(field, format!("unknown scope '{text}'")))
    }

    pub fn strings(scopes: &[Scope]) -> Vec<String> {
        scopes.iter().map(|s| s.as_str().to_string()).collect()
    }
}

vocabulary!(
    /// A secret key calls the whole API; a publishable key may only create sessions.
    KeyType { Secret = "secret", Publishable = "publishable" }
);
vocabulary!(
    /// The environment a key's data lives in.
    Environment { Sandbox = "sandbox", Live = "live" }
);
vocabulary!(
    /// The API version a key answers with (spec §2.3).
    ApiVersion { V20260101 = "2026-01-01", V20260201 = "2026-02-01" }
);
vocabulary!(
    /// The key casing of responses when no Key-Inflection header is sent.
    Inflection { Snake = "snake", Camel = "camel", Kebab = "kebab" }
);

impl ApiVersion {
    pub const CURRENT: ApiVersion = ApiVersion::V20260101;
}

/// An IP address or CIDR block a key may be used from, checked by `check_ip_or_cidr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedIp(String);

impl AllowedIp {
    pub fn parse(text: &str) -> Result<Self, AppError> {
        check_ip_or_cidr(text)?;
        Ok(AllowedIp(text.to_string()))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for AllowedIp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str> as Deserialize>::deserialize(d)?;
        AllowedIp::parse(&text).map_err(|_| serde::de::Error::custom(format!("'{text}' is not an IP address or CIDR")))
    }
}

impl utoipa::PartialSchema for AllowedIp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        crate::domain::values::schema_from(serde_json::json!({
            "type": "string", "minLength": 2, "maxLength": 43,
            "description": "An IPv4 or IPv6 address, or a CIDR block such as 10.0.0.0/8.",
            "pattern": "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}(/(3[0-2]|[12]?[0-9]))?|(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$",
            "examples": ["10.0.0.0/8"],
        }))
    }
}

impl utoipa::ToSchema for AllowedIp {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("AllowedIp")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKeyCreated {
    pub id: String,
    pub key_type: String,
    pub environment: String,
    pub key_prefix: String,
    /// Keyed BLAKE3 of the secret, hex. The secret itself is never stored.
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub allowed_ips: Option<Vec<String>>,
    pub api_version: String,
    pub default_key_inflection: String,
    pub label: Option<String>,
    pub note: Option<String>,
    pub expires_at: Option<String>,
    pub cloned_from: Option<String>,
    /// A VerifyHQ client's own limit, requests per minute (absent: the server's limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_rpm: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ApiKeyUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub label: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub note: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub allowed_ips: Option<Option<Vec<String>>>,
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub expires_at: Option<Option<String>>,
    pub default_key_inflection: Option<String>,
}

pub fn check_environment(value: &str) -> Result<(), AppError> {
    if value == "sandbox" || value == "live" {
        Ok(())
    } else {
        Err(AppError::validation("environment", "must be sandbox or live"))
    }
}

pub fn check_scopes(scopes: &[String]) -> Result<(), AppError> {
    if let Some(bad) = scopes.iter().find(|s| !ALL_SCOPES.contains(&s.as_str())) {
        return Err(AppError::validation("scopes", format!("unknown scope '{bad}'")));
    }
    Ok(())
}

pub fn check_version(field: &str, value: &str) -> Result<(), AppError> {
    if API_VERSIONS.contains(&value) {
        Ok(())
    } else {
        Err(AppError::validation(field, format!("unknown API version; known: {}", API_VERSIONS.join(", "))))
    }
}

pub fn check_inflection(field: &str, value: &str) -> Result<(), AppError> {
    if INFLECTIONS.contains(&value) {
        Ok(())
    } else {
        Err(AppError::validation(field, "must be snake, camel or kebab"))
    }
}

/// An IP address or CIDR block (v4 or v6).
pub fn check_ip_or_cidr(value: &str) -> Result<(), AppError> {
    let (addr, bits) = match value.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (value, None),
    };
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| AppError::validation("allowed_ips", format!("'{value}' is not an IP address or CIDR")))?;
    if let Some(bits) = bits {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match bits.parse::<u8>() {
            Ok(b) if b <= max => {}
            _ => return Err(AppError::validation("allowed_ips", format!("'{value}' has a bad prefix length"))),
        }
    }
    Ok(())
}

/// True when `ip` is inside one of the allowed entries (None = every address).
pub fn ip_allowed(allowed: Option<&[String]>, ip: std::net::IpAddr) -> bool {
    let Some(list) = allowed else { return true };
    list.iter().any(|entry| {
        let (addr, bits) = match entry.split_once('/') {
            Some((a, b)) => (a, b.parse::<u32>().ok()),
            None => (entry.as_str(), None),
        };
        let Ok(net) = addr.parse::<std::net::IpAddr>() else { return false };
        match (net, ip) {
            (std::net::IpAddr::V4(n), std::net::IpAddr::V4(i)) => {
                let bits = bits.unwrap_or(32).min(32);
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                u32::from(n) & mask == u32::from(i) & mask
            }
            (std::net::IpAddr::V6(n), std::net::IpAddr::V6(i)) => {
                let bits = bits.unwrap_or(128).min(128);
                let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
                u128::from(n) & mask == u128::from(i) & mask
            }
            _ => false,
        }
    })
}

/// API key events. The payloads hold the key's prefix and a keyed hash of its secret, never the secret.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiKeyEvent {
    Created(Box<ApiKeyCreated>),
    Updated(ApiKeyUpdated),
    Expired,
}

/// The newest version of every API key event.
pub const API_KEY_EVENT_VERSION: i64 = 1;

impl ApiKeyEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            ApiKeyEvent::Created(_) => "ApiKeyCreated",
            ApiKeyEvent::Updated(_) => "ApiKeyUpdated",
            ApiKeyEvent::Expired => "ApiKeyExpired",
        }
    }

    pub fn version(&self) -> i64 {
        API_KEY_EVENT_VERSION
    }

    pub fn payload(&self) -> serde_json::Value {
        let value = match self {
            ApiKeyEvent::Created(e) => serde_json::to_value(e),
            ApiKeyEvent::Updated(e) => serde_json::to_value(e),
            ApiKeyEvent::Expired => Ok(serde_json::json!({})),
        };
        value.unwrap_or(serde_json::Value::Null)
    }

    /// Decodes a stored event, upcasting older versions. Unknown types give `None`; an unknown version or
    /// a payload that does not fit is an error naming the event.
    pub fn decode(
        event_type: &str,
        version: i64,
        payload: &serde_json::Value,
    ) -> Result<Option<Self>, serde_json::Error> {
        use crate::domain::codec;
        if !event_type.starts_with("ApiKey") {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, API_KEY_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "ApiKeyCreated" => ApiKeyEvent::Created(Box::new(codec::payload(event_type, p)?)),
            "ApiKeyUpdated" => ApiKeyEvent::Updated(codec::payload(event_type, p)?),
            "ApiKeyExpired" => ApiKeyEvent::Expired,
            _ => return Ok(None),
        }))
    }
}

/// What deciding about an existing key needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyState {
    pub id: String,
    pub is_active: bool,
}

pub enum ApiKeyCommand {
    Create(Box<ApiKeyCreated>),
    Update(ApiKeyUpdated),
    /// Through the API: the key authenticating the request (if any) may not expire itself.
    Expire {
        calling_key_id: Option<String>,
    },
    /// From the CLI, which holds no key.
    Revoke,
}

/// The key type of a VerifyHQ API client; its scopes are VerifyHQ permissions.
pub const VERIFYHQ_KEY_TYPE: &str = "verifyhq";

fn check_created(c: &ApiKeyCreated) -> Result<(), AppError> {
    check_environment(&c.environment)?;
    if c.key_type == VERIFYHQ_KEY_TYPE {
        super::verifyhq::check_permissions(&c.scopes)?;
        if let Some(rpm) = c.rate_limit_rpm {
            if !(1..=100_000).contains(&rpm) {
                return Err(AppError::validation("rate_limit", "must be from 1 to 100000 requests per minute"));
            }
        }
    } else {
        check_scopes(&c.scopes)?;
    }
    check_version("api_version", &c.api_version)?;
    check_inflection("default_key_inflection", &c.default_key_inflection)?;
    for ip in c.allowed_ips.iter().flatten() {
        check_ip_or_cidr(ip)?;
    }
    Ok(())
}

fn check_updated(u: &ApiKeyUpdated) -> Result<(), AppError> {
    if let Some(s) = &u.scopes {
        check_scopes(s)?;
    }
    if let Some(v) = &u.api_version {
        check_version("api_version", v)?;
    }
    if let Some(v) = &u.default_key_inflection {
        check_inflection("default_key_inflection", v)?;
    }
    for ip in u.allowed_ips.iter().flatten().flatten() {
        check_ip_or_cidr(ip)?;
    }
    Ok(())
}

pub fn decide(
    state: Option<&ApiKeyState>,
    command: ApiKeyCommand,
    _ctx: &super::Ctx,
) -> Result<Vec<ApiKeyEvent>, AppError> {
    let Some(state) = state else {
        return match command {
            ApiKeyCommand::Create(created) => {
                check_created(&created)?;
                Ok(vec![ApiKeyEvent::Created(created)])
            }
            _ => Err(AppError::not_found("API key")),
        };
    };
    match command {
        ApiKeyCommand::Create(_) => Err(AppError::Conflict("An API key with this id already exists.".into())),
        ApiKeyCommand::Update(update) => {
            check_updated(&update)?;
            Ok(vec![ApiKeyEvent::Updated(update)])
        }
        ApiKeyCommand::Expire { calling_key_id } => {
            if calling_key_id.as_deref() == Some(state.id.as_str()) {
                return Err(AppError::Conflict("An API key cannot expire itself; expire it with another key.".into()));
            }
            Ok(vec![ApiKeyEvent::Expired])
        }
        ApiKeyCommand::Revoke => Ok(vec![ApiKeyEvent::Expired]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_allow_lists_match_inside_the_block_only() {
        let list = vec!["10.0.0.0/8".to_string(), "::1".to_string()];
        assert!(ip_allowed(Some(&list), "10.2.3.4".parse().unwrap()));
        assert!(!ip_allowed(Some(&list), "11.0.0.1".parse().unwrap()));
        assert!(ip_allowed(Some(&list), "::1".parse().unwrap()));
        assert!(ip_allowed(None, "1.2.3.4".parse().unwrap()));
    }

    fn ctx() -> crate::domain::Ctx {
        crate::domain::Ctx { now: "2026-01-01T00:00:00Z".into(), environment: "sandbox".into() }
    }

    fn created() -> ApiKeyCreated {
        ApiKeyCreated {
            id: "key_a".into(),
            key_type: "secret".into(),
            environment: "sandbox".into(),
            key_prefix: "vk_sandbox_abcd".into(),
            secret_hash: "00".into(),
            scopes: vec!["sessions:read".into()],
            allowed_ips: None,
            api_version: CURRENT_API_VERSION.into(),
            default_key_inflection: "snake".into(),
            label: None,
            note: None,
            expires_at: None,
            cloned_from: None,
            rate_limit_rpm: None,
        }
    }

    #[test]
    fn creation_checks_its_values_and_a_key_cannot_expire_itself() {
        let ok = decide(None, ApiKeyCommand::Create(Box::new(created())), &ctx()).unwrap();
        assert_eq!(ok[0].event_type(), "ApiKeyCreated");
        let mut bad = created();
        bad.scopes = vec!["everything".into()];
        assert!(decide(None, ApiKeyCommand::Create(Box::new(bad)), &ctx()).is_err());
        let state = ApiKeyState { id: "key_a".into(), is_active: true };
        let own = ApiKeyCommand::Expire { calling_key_id: Some("key_a".into()) };
        assert!(matches!(decide(Some(&state), own, &ctx()), Err(AppError::Conflict(_))));
        let other = ApiKeyCommand::Expire { calling_key_id: Some("key_b".into()) };
        assert_eq!(decide(Some(&state), other, &ctx()).unwrap(), vec![ApiKeyEvent::Expired]);
        assert!(decide(None, ApiKeyCommand::Revoke, &ctx()).is_err());
    }

    #[test]
    fn payloads_keep_their_stored_shape_and_decode_back() {
        let update = ApiKeyUpdated { note: Some(Some("n".into())), ..Default::default() };
        let e = ApiKeyEvent::Updated(update);
        // The shape of the golden stream: unset plain options are null, unset clearable ones absent.
        assert_eq!(
            e.payload(),
            serde_json::json!({ "api_version": null, "default_key_inflection": null, "note": "n", "scopes": null })
        );
        assert_eq!(ApiKeyEvent::decode("ApiKeyUpdated", 1, &e.payload()).unwrap(), Some(e));
        assert_eq!(
            ApiKeyEvent::decode("ApiKeyExpired", 1, &serde_json::json!({})).unwrap(),
            Some(ApiKeyEvent::Expired)
        );
        assert!(ApiKeyEvent::decode("ApiKeyExpired", 7, &serde_json::json!({})).is_err());
    }
}
