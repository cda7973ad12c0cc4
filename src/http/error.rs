//! The one mapping from `AppError` to an HTTP response in the spec's error shape
//! `{"error", "detail", "status_code"}` (plus `errors` on 422, `Retry-After` on 429). 5xx causes are
//! logged here and never sent.

use crate::error::AppError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// The error shape of every failure (spec §2.5).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": "not_found", "detail": "Session not found.", "status_code": 404}))]
pub struct ErrorBody {
    /// Machine-readable code, snake_case (`not_found`, `validation_error`, `rate_limited`, ...).
    pub error: String,
    /// Human-readable message.
    pub detail: String,
    /// The HTTP status, repeated.
    pub status_code: u16,
    /// On a 422: each field that was refused and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldErrorBody>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub message: String,
}

pub fn error_body(e: &AppError) -> serde_json::Value {
    let body = ErrorBody {
        error: e.code().to_string(),
        detail: e.public_detail(),
        status_code: e.status_code(),
        errors: e
            .field_errors()
            .map(|errors| errors.into_iter().map(|f| FieldErrorBody { field: f.field, message: f.message }).collect()),
    };
    serde_json::to_value(body).unwrap_or_default()
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(AppError::status_code(self)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        response_for(self).json(error_body(self))
    }
}

/// What every error answer shares whatever its dialect's body: the status of the one mapping, the logged
/// cause of a 5xx (never sent), and `Retry-After` on a 429 or a busy 503.
fn response_for(e: &AppError) -> actix_web::HttpResponseBuilder {
    if let AppError::Internal(cause) | AppError::Unavailable(cause) = e {
        tracing::error!(cause = %cause, "request failed");
    }
    let mut builder = HttpResponse::build(ResponseError::status_code(e));
    if let AppError::RateLimited { retry_after } | AppError::Overloaded { retry_after } = e {
        builder.insert_header(("Retry-After", retry_after.to_string()));
    }
    builder
}

/// The VerifyHQ dialect's error shape (spec A.9): `{statusCode, error, message, timestamp}` with the
/// status's reason phrase as `error`, and on a 422 `message` as a list with one entry per refused field
/// (field names in camelCase, as the dialect's bodies name them). The status is the one mapping above.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"statusCode": 404, "error": "Not Found", "message": "Verification not found.", "timestamp": "2026-01-15T10:30:00Z"}))]
pub struct VerifyhqErrorBody {
    pub status_code: u16,
    /// The HTTP reason phrase (`Bad Request`, `Not Found`, ...).
    pub error: String,
    /// A sentence; on a 422, one sentence per refused field.
    #[schema(value_type = Object)]
    pub message: serde_json::Value,
    pub timestamp: String,
}

pub fn verifyhq_error_response(e: &AppError) -> HttpResponse {
    let status = ResponseError::status_code(e);
    let message = match e.field_errors() {
        Some(errors) if !errors.is_empty() => serde_json::Value::from(
            errors
                .iter()
                .map(|f| format!("{} {}", super::inflect::camel_case(&f.field), f.message))
                .collect::<Vec<_>>(),
        ),
        Some(_) => serde_json::Value::from(vec![e.public_detail()]),
        None => serde_json::Value::from(e.public_detail()),
    };
    response_for(e).json(VerifyhqErrorBody {
        status_code: status.as_u16(),
        error: status.canonical_reason().unwrap_or("Error").to_string(),
        message,
        timestamp: crate::clock::format(time::OffsetDateTime::now_utc()),
    })
}

/// An `AppError` answered in the VerifyHQ shape: what the dialect's handlers and extractors return.
#[derive(Debug)]
pub struct VerifyhqError(pub AppError);

impl std::fmt::Display for VerifyhqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<AppError> for VerifyhqError {
    fn from(e: AppError) -> Self {
        VerifyhqError(e)
    }
}

impl ResponseError for VerifyhqError {
    fn status_code(&self) -> StatusCode {
        ResponseError::status_code(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        verifyhq_error_response(&self.0)
    }
}

/// Status codes actix produces on its own (unknown route, wrong method, bad payload) in our shape.
pub fn from_status(status: StatusCode) -> AppError {
    match status.as_u16() {
        404 => AppError::NotFound("No such resource or route.".into()),
        405 => AppError::MethodNotAllowed,
        413 => AppError::PayloadTooLarge("The request body is too large.".into()),
        415 => AppError::UnsupportedMediaType("Unsupported content type; send application/json.".into()),
        400 => AppError::BadRequest("The request could not be understood.".into()),
        401 => AppError::Unauthorized("Invalid or missing API key.".into()),
        403 => AppError::Forbidden { code: "forbidden", detail: "Forbidden.".into() },
        s if s >= 500 => AppError::Internal(format!("status {s} without a body")),
        s => AppError::BadRequest(format!("Request failed with status {s}.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_write_queue_is_a_503_with_retry_after_in_the_error_shape() {
        let res = AppError::Overloaded { retry_after: 1 }.error_response();
        assert_eq!(res.status().as_u16(), 503);
        assert_eq!(res.headers().get("Retry-After").and_then(|v| v.to_str().ok()), Some("1"));
        let body = error_body(&AppError::Overloaded { retry_after: 1 });
        assert_eq!(body["error"], "service_unavailable");
        assert_eq!(body["status_code"], 503);
        assert!(body["detail"].as_str().unwrap().contains("Retry after 1 seconds"));
    }
}
