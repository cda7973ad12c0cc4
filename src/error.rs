//! The one error type of the application and its stable codes. Domain refusals and infrastructure
//! failures are distinct variants; the HTTP mapping lives in `http::error` and nowhere else.
//! Must not carry PII or internal causes into `detail` for 5xx.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{detail}")]
    Validation { detail: String, errors: Vec<FieldError> },
    #[error("Idempotency key has already been used with different parameters.")]
    IdempotencyMismatch,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// A queue (the writer's, the read lane's, the CPU pool's) is full: a moment later the same request
    /// will be taken.
    #[error("The server is busy with other requests. Retry after {retry_after} seconds.")]
    Overloaded { retry_after: u64 },
    /// An infrastructure failure. The cause is logged, never sent.
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::Validation { detail: format!("{field}: {message}"), errors: vec![FieldError::new(field, message)] }
    }

    /// A 422 naming every refused field (the detail lists them as `field: message`).
    pub fn fields(errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        AppError::Validation { detail, errors }
    }

    pub fn invalid_state(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        AppError::Validation { detail, errors: Vec::new() }
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found."))
    }

    pub fn insufficient_scope(scope: &str) -> Self {
        AppError::Forbidden {
            code: "insufficient_scope",
            detail: format!("This API key lacks the required scope: {scope}."),
        }
    }

    pub fn status_code(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized(_) => 401,
            AppError::Forbidden { .. } => 403,
            AppError::NotFound(_) => 404,
            AppError::MethodNotAllowed => 405,
            AppError::Conflict(_) => 409,
            AppError::Gone(_) => 410,
            AppError::PayloadTooLarge(_) => 413,
            AppError::UnsupportedMediaType(_) => 415,
            AppError::Validation { .. } | AppError::IdempotencyMismatch => 422,
            AppError::RateLimited { .. } => 429,
            AppError::Unavailable(_) | AppError::Overloaded { .. } => 503,
            AppError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden { code, .. } => code,
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Conflict(_) => "conflict",
            AppError::Gone(_) => "gone",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::UnsupportedMediaType(_) => "unsupported_media_type",
            AppError::Validation { .. } => "validation_error",
            AppError::IdempotencyMismatch => "idempotency_mismatch",
            AppError::RateLimited { .. } => "rate_limited",
            AppError::Unavailable(_) | AppError::Overloaded { .. } => "service_unavailable",
            AppError::Internal(_) => "internal_error",
        }
    }

    /// The text a client sees. 5xx never reveal their cause.
    pub fn public_detail(&self) -> String {
        match self {
            AppError::Internal(_) => "An internal error occurred.".to_string(),
            AppError::RateLimited { retry_after } => {
                format!("Rate limit exceeded. Retry after {retry_after} seconds.")
            }
            AppError::MethodNotAllowed => "Method not allowed on this resource.".to_string(),
            other => other.to_string(),
        }
    }

    pub fn field_errors(&self) -> Option<Vec<FieldError>> {
        match self {
            AppError::Validation { errors, .. } => Some(errors.clone()),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Internal(format!("sqlite: {e}"))
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Unavailable(format!("database pool: {e}"))
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::Internal(format!("json: {e}"))
    }
}

impl From<crate::crypto::CryptoError> for AppError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        AppError::Internal(format!("crypto: {e}"))
    }
}

pub type AppResult<T> = Result<T, AppError>;
