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
