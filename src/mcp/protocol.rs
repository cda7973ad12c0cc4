//! JSON-RPC 2.0 framing for MCP's Streamable HTTP transport: one message per POST, classified as a request,
//! a notification or a response; the standard error codes; the protocol revisions this server speaks and
//! the `initialize` answer. Must not run tools or know HTTP.

use serde_json::{json, Map, Value};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// The revisions of the MCP specification this server implements, newest first. Each of them carries
/// `initialize`, sessions in `Mcp-Session-Id`, `tools/list`, `tools/call` and `ping` the same way; the
/// differences between them (batching, removed in 2025-06-18; structured tool output) are not used here.
pub const PROTOCOL_VERSIONS: &[&str] = &["2025-11-25", "2025-06-18", "2025-03-26"];

/// What a client that sends no `MCP-Protocol-Version` header speaks (the transport's rule).
pub const DEFAULT_HEADER_VERSION: &str = "2025-03-26";

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError { code, message: message.into() }
    }
    pub fn invalid_params(message: impl Into<String>) -> Self {
        RpcError::new(INVALID_PARAMS, message)
    }
}

/// One incoming message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Expects an answer with the same id.
    Request { id: Value, method: String, params: Value },
    /// Expects none (`notifications/initialized`, `notifications/cancelled`, ...).
    Notification { method: String },
    /// A client's answer to a server request; this server sends none, so it is only acknowledged.
    Response,
}

/// Classifies a POST body. A refusal carries the id to answer with (null when none could be read).
pub fn parse(body: &[u8]) -> Result<Message, (Value, RpcError)> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| (Value::Null, RpcError::new(PARSE_ERROR, "Parse error: the body is not valid JSON.")))?;
    let obj = match value {
        Value::Object(o) => o,
        Value::Array(_) => {
            return Err((
                Value::Null,
                RpcError::new(
                    INVALID_REQUEST,
                    "Invalid Request: batches are not supported; send one message per POST.",
                ),
            ))
        }
        _ => return Err((Value::Null, RpcError::new(INVALID_REQUEST, "Invalid Request: a message is a JSON object."))),
    };
    let id = obj.get("id").cloned();
    let echo = id.clone().filter(valid_id).unwrap_or(Value::Null);
    if obj.get("jsonrpc") != Some(&Value::from("2.0")) {
        return Err((echo, RpcError::new(INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\".")));
    }
    match obj.get("method") {
        Some(Value::String(method)) => {
            let params = match obj.get("params") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(p @ (Value::Object(_) | Value::Array(_))) => p.clone(),
                Some(_) => {
                    return Err((
                        echo,
                        RpcError::new(INVALID_REQUEST, "Invalid Request: \"params\" must be an object."),
                    ))
                }
            };
            match id {
                None => Ok(Message::Notification { method: method.clone() }),
                Some(id) if valid_id(&id) => Ok(Message::Request { id, method: method.clone(), params }),
                Some(_) => Err((
                    Value::Null,
                    RpcError::new(INVALID_REQUEST, "Invalid Request: \"id\" must be a string or an integer."),
                )),
            }
        }
        Some(_) => Err((echo, RpcError::new(INVALID_REQUEST, "Invalid Request: \"method\" must be a string."))),
        None if id.is_some() && (obj.contains_key("result") || obj.contains_key("error")) => Ok(Message::Response),
        None => Err((echo, RpcError::new(INVALID_REQUEST, "Invalid Request: no \"method\"."))),
    }
}

/// MCP ids are strings or integers, never null.
fn valid_id(id: &Value) -> bool {
    id.is_string() || id.as_i64().is_some() || id.as_u64().is_some()
}

pub fn success(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

pub fn failure(id: Value, e: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": e.code, "message": e.message } })
}

/// The revision to answer an `initialize` with: the client's when this server speaks it, else the newest.
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested.and_then(|r| PROTOCOL_VERSIONS.iter().find(|v| **v == r)).copied().unwrap_or(PROTOCOL_VERSIONS[0])
}

pub fn is_supported(version: &str) -> bool {
    PROTOCOL_VERSIONS.contains(&version)
}

/// The `initialize` result: tools only (no resources, prompts or server-to-client requests).
pub fn initialize_result(version: &str) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": false } },
        "serverInfo": { "name": "idv", "title": "idv identity verification", "version": env!("CARGO_PKG_VERSION") },
        "instructions": "Identity verification (KYC/AML) for this organisation: sessions, checks, identities, \
            review cases, lists, workflows. Results never carry personal data (names, dates of birth, document \
            numbers, emails, phones, addresses): refer to people by their ids. Every call is recorded in the audit \
            log under this API key (actor mcp:<key prefix>).",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_classified_and_bad_ones_get_the_standard_codes() {
        let req = parse(br#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#).unwrap();
        assert_eq!(req, Message::Request { id: json!(7), method: "ping".into(), params: json!({}) });
        let note = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(note, Message::Notification { method: "notifications/initialized".into() });
        assert_eq!(parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap(), Message::Response);
        assert_eq!(parse(b"{nope").unwrap_err().1.code, PARSE_ERROR);
        assert_eq!(parse(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).unwrap_err().1.code, INVALID_REQUEST);
        let (id, e) = parse(br#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#).unwrap_err();
        assert_eq!((id, e.code), (json!(3), INVALID_REQUEST));
        assert_eq!(parse(br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#).unwrap_err().1.code, INVALID_REQUEST);
        assert_eq!(parse(br#"{"jsonrpc":"2.0","id":1,"method":4}"#).unwrap_err().1.code, INVALID_REQUEST);
        assert_eq!(parse(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#).unwrap_err().1.code, INVALID_REQUEST);
    }

    #[test]
    fn the_clients_revision_is_kept_when_spoken_else_the_newest() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2031-01-01")), PROTOCOL_VERSIONS[0]);
        assert_eq!(negotiate(None), PROTOCOL_VERSIONS[0]);
    }
}
