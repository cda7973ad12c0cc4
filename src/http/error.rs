//! The one mapping from `AppError` to an HTTP response in the spec's error shape
//! `{"error", "detail", "status_code"}` (plus `errors` on 422, `Retry-After` on 429). 5xx causes are
//! logged here and never sent.

use crate::error::AppError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

pub fn error_body(e: &AppError) -> serde_json::Value {
    let status = e.status_code();
    let mut body = json!({ "error": e.code(), "detail": e.public_detail(), "status_code": status });
    if let Some(errors) = e.field_errors() {
        body["errors"] = serde_json::to_value(errors).unwrap_or_default();
    }
    body
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(AppError::status_code(self)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(cause) | AppError::Unavailable(cause) = self {
            tracing::error!(cause = %cause, "request failed");
        }
        let mut builder = HttpResponse::build(ResponseError::status_code(self));
        if let AppError::RateLimited { retry_after } = self {
            builder.insert_header(("Retry-After", retry_after.to_string()));
        }
        builder.json(error_body(self))
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
