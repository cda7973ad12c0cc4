//! Request parsing at the boundary: `ApiBody<T>` reads a JSON body (size-limited), accepts any key
//! casing and the JSON:API envelope, and turns every parse failure into the spec's error shape (400 for
//! malformed JSON, 413 for oversized bodies, 422 with the field for wrong types). `ApiQuery` and `ApiPath` do
//! the same for query strings and path parameters. Must not validate business rules.

use super::AppState;
use crate::error::{AppError, FieldError};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

pub struct ApiBody<T>(pub T);

/// Reads the raw body with a limit; an empty body counts as `{}`.
pub async fn read_json(req: &HttpRequest, payload: &mut Payload) -> Result<serde_json::Value, AppError> {
    Ok(super::inflect::inbound(read_json_object(req, payload).await?))
}

/// `read_json` with the keys as sent (the VerifyHQ dialect names its fields in camelCase only).
pub async fn read_json_object(req: &HttpRequest, payload: &mut Payload) -> Result<serde_json::Value, AppError> {
    let limit = req.app_data::<web::Data<AppState>>().map(|s| s.config.json_body_limit).unwrap_or(1024 * 1024);
    read_json_object_within(req, payload, limit).await
}

/// `read_json_object` for a body of at most `limit` bytes (a JSON body that carries an image).
pub async fn read_json_object_within(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Result<serde_json::Value, AppError> {
    // Any content type is read as JSON (curl -d sends a form type by default); multipart is not JSON.
    if let Some(ct) = req.headers().get("content-type").and_then(|v| v.to_str().ok()) {
        if ct.to_ascii_lowercase().starts_with("multipart/") {
            return Err(AppError::UnsupportedMediaType(
                "Send the request body as JSON with Content-Type: application/json.".into(),
            ));
        }
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("Could not read the request body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge(format!("The request body exceeds {limit} bytes.")));
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| AppError::BadRequest(format!("The request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(AppError::BadRequest("The request body must be a JSON object.".into()));
    }
    Ok(value)
}

/// Deserialises a JSON value into `T`, naming every offending field on failure: after each refusal the
/// refused top-level field is set aside and the rest is tried again, so one answer lists all problems.
pub fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    let mut value = value;
    whole_numbers_as_integers(&mut value);
    let mut errors: Vec<FieldError> = Vec::new();
    for _ in 0..64 {
        // Read through a reference: the value stays whole for the next try without a copy of it.
        match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(parsed) if errors.is_empty() => return Ok(parsed),
            Ok(_) => break,
            Err(e) => {
                let path = e.path().to_string();
                let AppError::Validation { errors: found, .. } = field_error(&path, &e.inner().to_string()) else {
                    break;
                };
                let top = found.first().map(|f| f.field.split(['.', '[']).next().unwrap_or("").to_string());
                // A refused required field, once set aside, would also be reported missing: name it once.
                for f in found {
                    if !errors.iter().any(|e| e.field == f.field) {
                        errors.push(f);
                    }
                }
                let removed = match (top, value.as_object_mut()) {
                    (Some(top), Some(map)) => map.remove(&top).is_some(),
                    _ => false,
                };
                if !removed {
                    break;
                }
            }
        }
    }
    Err(AppError::fields(errors))
}

/// JSON does not tell `3` from `3.0` (JSON Schema calls both an integer), but serde does: whole numbers
/// written with a fraction become integers before typed parsing, so an integer field takes `3.0` too.
/// User-supplied maps (`metadata`, `custom_fields`) are kept exactly as sent.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if !super::inflect::OPAQUE.contains(&k.as_str()) {
                    whole_numbers_as_integers(v);
                }
            }
        }
        _ => {}
    }
}

/// One 422 from a serde failure at `path`: an unknown field is named as the field itself, and serde's
/// position suffix is dropped.
fn field_error(path: &str, message: &str) -> AppError {
    let message = message.split(" at line ").next().unwrap_or(message).to_string();
    let parent = if path == "." || path.is_empty() { None } else { Some(path) };
    let (field, message) = match message.strip_prefix("unknown field `").and_then(|m| m.split_once('`')) {
        Some((name, _)) => {
            // serde_path_to_error already ends the path with the unknown key.
            let field = match parent {
                Some(p) if p == name || p.ends_with(&format!(".{name}")) => p.to_string(),
                Some(p) => format!("{p}.{name}"),
                None => name.to_string(),
            };
            (field, "is not a known field".to_string())
        }
        None => match message.strip_prefix("missing field `").and_then(|m| m.split_once('`')) {
            Some((name, _)) => {
                let field = parent.map(|p| format!("{p}.{name}")).unwrap_or_else(|| name.to_string());
                (field, "is required".to_string())
            }
            None => (parent.unwrap_or("body").to_string(), message),
        },
    };
    AppError::Validation { detail: format!("{field}: {message}"), errors: vec![FieldError::new(field, message)] }
}

/// A query string parsed into `T` (documented by `T`'s `IntoParams`); a bad value is a 422 naming the
/// parameter. Empty values count as absent, as browsers send empty form fields.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(ApiQuery))
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| AppError::BadRequest("The query string is malformed.".into()))?;
    let kept: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let encoded = serde_urlencoded::to_string(&kept).unwrap_or_default();
    let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(&encoded));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &e.inner().to_string())
    })
}

fn form_urlencoded_parse(text: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(text.as_bytes())
}

/// A path parameter parsed into `T` (an id newtype or a value); a malformed one names nothing that exists,
/// so it is a 404 for `what`.
pub struct ApiPath<T>(pub T);

impl<T> ApiPath<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ApiPath<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + PathNoun> FromRequest for ApiPath<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = req.match_info().load::<T>().map(ApiPath).map_err(|_| AppError::not_found(T::NOUN));
        std::future::ready(parsed)
    }
}

/// What a path parameter names, for the 404 a malformed one gets ("Identity not found.").
pub trait PathNoun {
    const NOUN: &'static str;
}

macro_rules! path_noun {
    ($($t:ty => $noun:expr),* $(,)?) => {
        $(impl PathNoun for $t { const NOUN: &'static str = $noun; })*
    };
}

use crate::domain::ids;
path_noun!(
    ids::IdentityId => "Identity",
    ids::IdentityRef => "Identity",
    ids::RelationshipId => "Relationship",
    ids::RelationshipTypeId => "Relationship type",
    ids::IdentityTypeId => "Identity type",
    ids::CustomFieldId => "Custom field",
    ids::ApiKeyId => "API key",
    ids::SessionId => "Session",
    ids::CaptureLinkId => "Link",
    ids::WorkflowId => "Workflow",
    ids::CaseId => "Case",
    ids::CheckId => "Check",
    ids::CheckHitId => "Hit",
    ids::CheckBatchId => "Check batch",
    ids::WatchlistVersionId => "Watchlist version",
    ids::ListId => "List",
    ids::ListItemId => "List item",
    ids::ListMatchId => "List match",
    ids::DismissalId => "Dismissal",
    ids::WebhookEndpointId => "Webhook endpoint",
    ids::WebhookDeliveryId => "Webhook delivery",
    String => "Resource",
);

/// Two path parameters, e.g. `/lists/{list_id}/items/{item_id}`: the 404 names the first one's noun.
impl<A: PathNoun, B> PathNoun for (A, B) {
    const NOUN: &'static str = A::NOUN;
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiBody<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let value = read_json(&req, &mut payload).await?;
            Ok(ApiBody(typed(value)?))
        })
    }
}

/// A multipart/form-data body read into memory: small text fields (at most 4 KB each) and the named
/// file parts as (file name, bytes), all files together at most `max_bytes`.
pub struct Form {
    pub fields: HashMap<String, String>,
    pub files: HashMap<String, (String, Vec<u8>)>,
}

/// Reads a multipart form; `hint` says what to send when the request is not multipart.
pub fn read_form(
    req: &HttpRequest,
    payload: &mut Payload,
    file_fields: &'static [&'static str],
    max_bytes: usize,
    hint: &'static str,
) -> LocalBoxFuture<'static, Result<Form, AppError>> {
    let is_multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut multipart = actix_multipart::Multipart::new(req.headers(), payload.take());
    Box::pin(async move {
        if !is_multipart {
            return Err(AppError::UnsupportedMediaType(hint.into()));
        }
        let mut form = Form { fields: HashMap::new(), files: HashMap::new() };
        let mut total = 0usize;
        while let Some(field) = multipart.next().await {
            let mut field = field.map_err(|e| AppError::BadRequest(format!("Malformed multipart body: {e}")))?;
            let name = field.name().unwrap_or_default().to_string();
            if file_fields.contains(&name.as_str()) {
                let filename = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f).to_string())
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| name.clone());
                let bytes = match field.bytes(max_bytes - total).await {
                    Ok(Ok(b)) => b,
                    Ok(Err(e)) => return Err(AppError::BadRequest(format!("Could not read {name}: {e}"))),
                    Err(_) => {
                        return Err(AppError::PayloadTooLarge(format!(
                            "Uploads may be at most {} MB.",
                            max_bytes / (1024 * 1024)
                        )))
                    }
                };
                total += bytes.len();
                form.files.insert(name, (filename, bytes.to_vec()));
            } else {
                let bytes = match field.bytes(4096).await {
                    Ok(Ok(b)) => b,
                    _ => return Err(AppError::validation(&name, "form fields may be at most 4 KB")),
                };
                form.fields.insert(name, String::from_utf8_lossy(&bytes).trim().to_string());
            }
        }
        Ok(form)
    })
}

/// A document upload: small text fields and one `file` (at most `MAX_UPLOAD_BYTES`).
pub struct Upload {
    pub fields: HashMap<String, String>,
    pub file: Option<Vec<u8>>,
}

pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

impl FromRequest for Upload {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = read_form(
            req,
            payload,
            &["file"],
            MAX_UPLOAD_BYTES,
            "Upload files as multipart/form-data with a `file` field.",
        );
        Box::pin(async move {
            let mut form = form.await?;
            Ok(Upload { file: form.files.remove("file").map(|(_, bytes)| bytes), fields: form.fields })
        })
    }
}

/// The content type of an image or PDF from its first bytes; None for anything else.
pub fn sniff_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// `limit` and `offset` of an offset-paginated list (spec §2.2), as typed query parameters.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (the default depends on the list).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Items to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl PageQuery {
    pub fn page(&self, default_limit: i64) -> Result<crate::queries::Page, AppError> {
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=100).contains(&limit) {
            return Err(AppError::validation("limit", "must be an integer from 1 to 100"));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(AppError::validation("offset", "must not be negative"));
        }
        Ok(crate::queries::Page { limit, offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        count: u32,
        #[serde(default)]
        metadata: serde_json::Value,
        #[serde(default)]
        items: Vec<u8>,
    }

    #[test]
    fn whole_numbers_with_a_fraction_parse_as_integers_outside_user_maps() {
        let parsed: Sample = typed(json!({"count": 3.0, "items": [1.0, 2], "metadata": {"x": 2.0}})).unwrap();
        assert_eq!(parsed.count, 3);
        assert_eq!(parsed.items, vec![1, 2]);
        assert_eq!(parsed.metadata, json!({"x": 2.0}));
        assert!(parsed.metadata["x"].is_f64());
    }

    #[test]
    fn every_refused_field_is_named_in_one_answer() {
        let Err(AppError::Validation { errors, .. }) = typed::<Sample>(json!({"count": 3.5, "items": "x", "extra": 1}))
        else {
            panic!("expected a validation error");
        };
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["count", "extra", "items"], "{errors:?}");
    }
}
