//! The authenticated caller (`Principal`, put in the request by the API gate) and the JSON responder
//! that applies the caller's key inflection. Must not touch storage.

use super::inflect::{self, Inflection};
use crate::commands::CommandMeta;
use crate::error::AppError;
use crate::queries::api_keys::KeyRecord;
use actix_web::body::BoxBody;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, Responder};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

#[derive(Debug, Clone)]
pub struct Principal {
    pub key: KeyRecord,
    pub inflection: Inflection,
    pub request_id: String,
}

impl Principal {
    pub fn environment(&self) -> &str {
        &self.key.environment
    }

    /// The environment, owned: for a read that runs on another thread.
    pub fn env(&self) -> String {
        self.key.environment.clone()
    }

    /// Passes when the key holds `scope` or one of the broader legacy scopes it was split from.
    pub fn require(&self, scope: &str, legacy: &[&str]) -> Result<(), AppError> {
        let has = |s: &str| self.key.scopes.iter().any(|k| k == s);
        if has(scope) || legacy.iter().any(|l| has(l)) {
            Ok(())
        } else {
            Err(AppError::insufficient_scope(scope))
        }
    }

    pub fn meta(&self, now: String) -> CommandMeta {
        CommandMeta {
            actor: self.key.id.clone(),
            environment: self.key.environment.clone(),
            request_id: Some(self.request_id.clone()),
            now,
        }
    }
}

impl FromRequest for Principal {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<Principal>().cloned();
        std::future::ready(found.ok_or_else(|| AppError::Unauthorized("Invalid or missing API key.".into())))
    }
}

/// A JSON response whose keys follow the caller's Key-Inflection.
pub struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    /// 200 with `body`, one of the documented response types (or a `Value` still being typed).
    pub fn ok(body: impl serde::Serialize) -> Self {
        Reply::with_status(StatusCode::OK, body)
    }
    pub fn created(body: impl serde::Serialize) -> Self {
        Reply::with_status(StatusCode::CREATED, body)
    }
    pub fn with_status(status: StatusCode, body: impl serde::Serialize) -> Self {
        // Serialising our own response types cannot fail (no non-string map keys, no foreign types).
        let body = serde_json::to_value(body).unwrap_or(Value::Null);
        Reply { status, body }
    }
}

impl Responder for Reply {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let style = req.extensions().get::<Principal>().map(|p| p.inflection).unwrap_or(Inflection::Snake);
        HttpResponse::build(self.status).json(inflect::outbound(self.body, style))
    }
}

pub type ApiResult = Result<Reply, AppError>;

/// The answer to a DELETE that removes an object.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// Always true.
    pub deleted: bool,
}

impl Deleted {
    pub const YES: Deleted = Deleted { deleted: true };
}
