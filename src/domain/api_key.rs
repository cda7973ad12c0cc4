//! API keys: kinds, environments, scopes and the rules for creating, updating, expiring and cloning
//! them. Secrets are generated and hashed by the command layer; this module never sees one.

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
