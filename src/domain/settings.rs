//! Per-environment settings: the data-retention windows of spec §1.14 and the signed-URL lifetime, with
//! their defaults and validation. Must not read the database.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// The environment's data-retention settings (spec §1.14).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Retention {
    /// Days after a session's decision until PII and documents stop being served (null: never).
    #[schema(minimum = 1, maximum = 36500, example = 90)]
    pub sensitive_data_retention_days: Option<i64>,
    /// Days after a session's decision until its data is deleted (null: never).
    #[schema(minimum = 1, maximum = 36500, example = 365)]
    pub data_retention_days: Option<i64>,
    /// Redact identities whose data retention has expired.
    pub auto_redact_on_retention_expiry: bool,
    /// Lifetime of signed document URLs.
    #[schema(minimum = 30, maximum = 604800, example = 300)]
    pub image_url_expiry_seconds: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            sensitive_data_retention_days: Some(90),
            data_retention_days: Some(365),
            auto_redact_on_retention_expiry: true,
            image_url_expiry_seconds: 300,
        }
    }
}

impl Retention {
    pub fn validate(&self) -> Result<(), AppError> {
        for (field, v) in [
            ("sensitive_data_retention_days", self.sensitive_data_retention_days),
            ("data_retention_days", self.data_retention_days),
        ] {
            if let Some(d) = v {
                if !(1..=36500).contains(&d) {
                    return Err(AppError::validation(field, "must be from 1 to 36500 days, or null for never"));
                }
            }
        }
        // A sensitive-data window longer than the data window is accepted, as a never-ending one is: full
        // deletion simply comes first.
        if !(30..=7 * 24 * 3600).contains(&self.image_url_expiry_seconds) {
            return Err(AppError::validation("image_url_expiry_seconds", "must be from 30 to 604800"));
        }
        Ok(())
    }
}

/// The settings stream of one environment.
pub fn stream_id(environment: &str) -> String {
    format!("settings_{environment}")
}

/// Settings events (one stream per environment). `SettingsUpdated` carries every setting, so the newest
/// event alone is the environment's settings.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingsEvent {
    Updated(Retention),
}

/// The newest version of every settings event.
pub const SETTINGS_EVENT_VERSION: i64 = 1;

impl SettingsEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            SettingsEvent::Updated(_) => "SettingsUpdated",
        }
    }

    pub fn version(&self) -> i64 {
        SETTINGS_EVENT_VERSION
    }

    pub fn payload(&self) -> serde_json::Value {
        match self {
            SettingsEvent::Updated(r) => serde_json::to_value(r).unwrap_or(serde_json::Value::Null),
        }
    }

    /// Decodes a stored event, upcasting older versions. Unknown types give `None`; an unknown version or
    /// a payload that does not fit is an error naming the event.
    pub fn decode(
        event_type: &str,
        version: i64,
        payload: &serde_json::Value,
    ) -> Result<Option<Self>, serde_json::Error> {
        use crate::domain::codec;
        if event_type != "SettingsUpdated" {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, SETTINGS_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(SettingsEvent::Updated(codec::payload(event_type, p)?)))
    }
}

pub enum SettingsCommand {
    SetRetention(Retention),
}

/// Settings always exist (defaults until first changed), so there is no state to refuse against: only
/// the values themselves.
pub fn decide(command: SettingsCommand, _ctx: &super::Ctx) -> Result<Vec<SettingsEvent>, AppError> {
    match command {
        SettingsCommand::SetRetention(r) => {
            r.validate()?;
            Ok(vec![SettingsEvent::Updated(r)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> crate::domain::Ctx {
        crate::domain::Ctx { now: "2026-01-01T00:00:00Z".into(), environment: "sandbox".into() }
    }

    #[test]
    fn retention_is_validated_and_recorded_whole() {
        let bad = Retention { image_url_expiry_seconds: 5, ..Retention::default() };
        assert!(decide(SettingsCommand::SetRetention(bad), &ctx()).is_err());
        let events = decide(SettingsCommand::SetRetention(Retention::default()), &ctx()).unwrap();
        assert_eq!(
            events[0].payload(),
            json!({ "sensitive_data_retention_days": 90, "data_retention_days": 365,
                    "auto_redact_on_retention_expiry": true, "image_url_expiry_seconds": 300 })
        );
        let back = SettingsEvent::decode("SettingsUpdated", 1, &events[0].payload()).unwrap();
        assert_eq!(back, Some(events[0].clone()));
        assert!(SettingsEvent::decode("SettingsUpdated", 2, &events[0].payload()).is_err());
        assert!(SettingsEvent::decode("SettingsUpdated", 1, &json!({ "data_retention_days": "x" })).is_err());
    }
}
