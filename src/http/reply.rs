//! The authenticated caller (`Principal`, put in the request by the API gate) and the JSON responder
//! that applies the caller's key inflection. Must not touch storage.

use super::inflect::{self, Inflection};
use crate::commands::CommandMeta;
use crate::commands::RequestOrigin;
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
    /// Shared with the key cache: every request of a key reads the one record.
    pub key: std::sync::Arc<KeyRecord>,
    pub inflection: Inflection,
    pub request_id: String,
    /// The request, for the audit rows of what this caller changes.
    pub origin: RequestOrigin,
}

/// An org caller's request (an API key or a signed-in reviewer) for the audit log: method, path without
/// the query string, and the connecting address (the same one `allowed_ips` checks).
pub fn org_origin(req: &HttpRequest) -> RequestOrigin {
    RequestOrigin {
        method: req.method().as_str().to_string(),
        path: req.path().to_string(),
        ip: req.peer_addr().map(|a| a.ip().to_string()),
    }
}

/// An end user's request (the capture page): the route's pattern instead of its path, which holds the
/// link's secret token, and no address (the person's, not the org's).
pub fn end_user_origin(req: &HttpRequest) -> RequestOrigin {
    RequestOrigin {
        method: req.method().as_str().to_string(),
        path: req.match_pattern().unwrap_or_else(|| "/verify/{token}".to_string()),
        ip: None,
    }
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
            origin: Some(self.origin.clone()),
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
///
/// The body is serialised once, when the reply is made, in the API's own snake_case: that is what most
/// callers ask for, and it is written out as it is. Only a caller asking for another inflection has it
/// read back into a tree, renamed and written again. (Building a `Value` tree first for every reply, to
/// rename keys nobody asked to rename, cost a twentieth of a verification's instructions.)
pub struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// 200 with `body`, one of the documented response types (or a `Value` still being typed).
    pub fn ok(body: impl serde::Serialize) -> Self {
        Reply::with_status(StatusCode::OK, body)
    }
    pub fn created(body: impl serde::Serialize) -> Self {
        Reply::with_status(StatusCode::CREATED, body)
    }
    /// 204 with no body.
    pub fn no_content() -> Self {
        Reply { status: StatusCode::NO_CONTENT, body: Vec::new(), headers: Vec::new() }
    }
    pub fn with_status(status: StatusCode, body: impl serde::Serialize) -> Self {
        // Serialising our own response types cannot fail (no non-string map keys, no foreign types).
        let body = serde_json::to_vec(&body).unwrap_or_else(|_| b"null".to_vec());
        Reply { status, body, headers: Vec::new() }
    }
    /// The same answer with one more response header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl Responder for Reply {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        if self.status == StatusCode::NO_CONTENT {
            return HttpResponse::NoContent().finish();
        }
        let style = req.extensions().get::<Principal>().map(|p| p.inflection).unwrap_or(Inflection::Snake);
        let mut response = HttpResponse::build(self.status);
        for (name, value) in self.headers {
            response.insert_header((name, value));
        }
        response.content_type("application/json").body(inflected(self.body, style))
    }
}

/// The snake_case JSON `body` with its keys in `style`.
fn inflected(body: Vec<u8>, style: Inflection) -> Vec<u8> {
    if style == Inflection::Snake {
        return body;
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(tree) => serde_json::to_vec(&inflect::outbound(tree, style)).unwrap_or(body),
        Err(_) => body,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Answer {
        session_id: &'static str,
        check_results: serde_json::Map<String, Value>,
    }

    fn answer() -> Reply {
        let mut checks = serde_json::Map::new();
        checks.insert("face_match".into(), serde_json::json!({"match_score": 0.9}));
        Reply::ok(Answer { session_id: "ses_1", check_results: checks })
    }

    #[test]
    fn a_snake_case_caller_gets_the_body_as_serialised() {
        let body = answer().body;
        assert_eq!(inflected(body.clone(), Inflection::Snake), body);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"session_id":"ses_1","check_results":{"face_match":{"match_score":0.9}}}"#
        );
    }

    #[test]
    fn other_inflections_rename_the_keys_as_the_tree_did() {
        let camel: Value = serde_json::from_slice(&inflected(answer().body, Inflection::Camel)).unwrap();
        let expected = inflect::outbound(serde_json::from_slice(&answer().body).unwrap(), Inflection::Camel);
        assert_eq!(camel, expected);
        assert!(camel.get("sessionId").is_some() && camel.get("session_id").is_none(), "{camel}");
    }
}
