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
}
