//! Webhook payloads (spec §1.11.4): the delivery body for one event and one endpoint, with that
//! endpoint's API version, key inflection and `attribute_blocklist`; and `event_filter_conditions`
//! (parse + a pure `matches`). Must not read the clock, storage or network, sign anything, or
//! decide *whether* an endpoint subscribes to an event name (`enabled_events` is the caller's).
//!
//! Envelope. Spec §1.11.4 documents two shapes; we emit its recommendation, which works for clients
//! written against either doc revision:
//!
//! ```json
//! { "id": "<event id>", "event": "session.approved", "created_at": "<event time>",
//!   "api_version": "2026-01-01", "idempotency_key": "<event id>",
//!   "data": { "session_id": "ses_...", "status": "approved", ... },
//!   "session_id": "ses_...", "status": "approved", ... }
//! ```
//!
//! - `id` and `idempotency_key` are both the event id: stable across retries and across endpoints,
//!   so it is what receivers dedupe on (the delivery id travels in the headers).
//! - The top-level copies of `data`'s fields are the flat shape (b); envelope fields win on a name
//!   clash (so `created_at` at the top is always the event's time; the resource's own stays in
//!   `data`). Every currently known API version (`2026-01-01`, `2026-02-01`) gets this shape;
//!   `api_version` is stamped into the body, and a future version that changes the shape branches
//!   in [`build_payload`].
//!
//! Paths (blocklist and filters) are dotted, rooted at the envelope: `data.result.extracted_data.ssn`,
//! `event`, `data.status`. A path whose first segment is not an envelope field (`id`, `event`,
//! `created_at`, `data`) is read inside `data`, so `status` means `data.status`. A segment matches a
//! key spelled exactly like it or like its snake_case form (`extractedData`, `extracted-data` and
//! `extracted_data` all match `extracted_data`, while keys inside `metadata` match literally); `*`
//! matches any key; arrays on the way are entered element by element (`data.documents.number`
//! removes `number` from every document).
//!
//! Blocklist. Each entry must point inside `data` (envelope fields cannot be removed). It is applied
//! to the canonical snake_case `data` before the flat copy and before inflection, so one entry
//! covers both copies and every key casing.
//!
//! Filters. `event_filter_conditions` is `null`/`{}`/`[]` (no filter), an object shorthand
//! `{"<path>": <value>}` (equal) / `{"<path>": [<v>, ...]}` (one of), or a list
//! `[{"path": "<path>", "op": "eq"|"neq"|"in", "value": ...}]`. All conditions must hold. They are
//! evaluated against [`WebhookEvent::canonical`] (snake_case, before the blocklist), so filtering
//! on a field you do not send works. `eq` holds when some value at the path equals `value` (an array
//! at the path also matches by element); `neq` holds when none does (a missing path is "not equal");
//! `in` holds when some value at the path equals one of `value`'s elements. Numbers compare by value
//! (`1` equals `1.0`).

use crate::domain::api_key::CURRENT_API_VERSION;
use crate::http::inflect::{self, Inflection};
use serde_json::{Map, Value};

/// Top-level envelope fields. The flat copies of `data` never overwrite them.
const ENVELOPE_FIELDS: &[&str] = &["id", "event", "created_at", "api_version", "idempotency_key", "data"];
/// Envelope roots a path may start with; any other first segment is read inside `data`.
const PATH_ROOTS: &[&str] = &["id", "event", "created_at", "data"];
const MAX_PATH_SEGMENTS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("event data must be a JSON object")]
    DataNotObject,
    #[error("attribute path '{path}': {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("event_filter_conditions: {0}")]
    BadFilter(String),
}

/// One event as the event log hands it over, in canonical snake_case.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    pub id: String,
    pub event: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    pub data: Map<String, Value>,
}

impl WebhookEvent {
    pub fn new(
        id: impl Into<String>,
        event: impl Into<String>,
        created_at: impl Into<String>,
        data: Value,
    ) -> Result<Self, PayloadError> {
        let Value::Object(data) = data else { return Err(PayloadError::DataNotObject) };
        Ok(WebhookEvent { id: id.into(), event: event.into(), created_at: created_at.into(), data })
    }

    /// `{id, event, created_at, data}` in snake_case with nothing removed: what filters see.
    pub fn canonical(&self) -> Value {
        let mut env = Map::new();
        env.insert("id".into(), Value::String(self.id.clone()));
        env.insert("event".into(), Value::String(self.event.clone()));
        env.insert("created_at".into(), Value::String(self.created_at.clone()));
        env.insert("data".into(), Value::Object(self.data.clone()));
        Value::Object(env)
    }
}

/// A parsed, envelope-rooted attribute path (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath(Vec<String>);

impl AttrPath {
    pub fn parse(text: &str) -> Result<Self, PayloadError> {
        let bad = |reason| PayloadError::BadPath { path: text.to_string(), reason };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad("is empty"));
        }
        let mut segments: Vec<String> = trimmed.split('.').map(|s| s.trim().to_string()).collect();
        if segments.iter().any(String::is_empty) {
            return Err(bad("has an empty segment"));
        }
        if !PATH_ROOTS.contains(&segments[0].as_str()) {
            segments.insert(0, "data".into());
        }
        if segments.len() > MAX_PATH_SEGMENTS {
            return Err(bad("is too deep"));
        }
        Ok(AttrPath(segments))
    }

    /// The segments, starting with the envelope field.
    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

fn segment_matches(segment: &str, key: &str) -> bool {
    segment == "*" || segment == key || inflect::to_snake(segment) == key
}

/// An endpoint's `attribute_blocklist`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeBlocklist(Vec<AttrPath>);

impl AttributeBlocklist {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, PayloadError> {
        let mut paths = Vec::with_capacity(entries.len());
        for entry in entries {
            let path = AttrPath::parse(entry.as_ref())?;
            if path.0[0] != "data" {
                return Err(PayloadError::BadPath {
                    path: entry.as_ref().to_string(),
                    reason: "envelope fields cannot be blocked; name a field inside data",
                });
            }
            if path.0.len() < 2 {
                return Err(PayloadError::BadPath {
                    path: entry.as_ref().to_string(),
                    reason: "name a field inside data, not data itself",
                });
            }
            paths.push(path);
        }
        Ok(AttributeBlocklist(paths))
    }

    pub fn paths(&self) -> &[AttrPath] {
        &self.0
    }

    /// Removes every blocked path from `data` (the event's data object).
    pub fn apply(&self, data: &mut Map<String, Value>) {
        for path in &self.0 {
            remove_in_map(data, &path.0[1..]);
        }
    }
}

fn remove_in_map(map: &mut Map<String, Value>, path: &[String]) {
    let Some((head, rest)) = path.split_first() else { return };
    let keys: Vec<String> = map.keys().filter(|k| segment_matches(head, k)).cloned().collect();
    for key in keys {
        if rest.is_empty() {
            map.remove(&key);
        } else if let Some(child) = map.get_mut(&key) {
            remove_in_value(child, rest);
        }
    }
}

fn remove_in_value(value: &mut Value, path: &[String]) {
    match value {
        Value::Object(map) => remove_in_map(map, path),
        Value::Array(items) => items.iter_mut().for_each(|item| remove_in_value(item, path)),
        _ => {}
    }
}

/// How one endpoint wants its payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFormat {
    /// The endpoint's pinned version; `None` means the current one (the caller resolves org or
    /// key defaults before this if it has them).
    pub api_version: Option<String>,
    pub inflection: Inflection,
    pub blocklist: AttributeBlocklist,
}

impl Default for PayloadFormat {
    fn default() -> Self {
        PayloadFormat { api_version: None, inflection: Inflection::Snake, blocklist: AttributeBlocklist::default() }
    }
}

/// The delivery body for `event` as `format` wants it (see the module docs for the shape).
pub fn build_payload(event: &WebhookEvent, format: &PayloadFormat) -> Value {
    let version = format.api_version.as_deref().unwrap_or(CURRENT_API_VERSION);
    let mut data = event.data.clone();
    format.blocklist.apply(&mut data);

    let mut env = Map::new();
    // Flat mirror first so the envelope fields overwrite any clash.
    for (key, value) in &data {
        if !ENVELOPE_FIELDS.contains(&key.as_str()) {
            env.insert(key.clone(), value.clone());
        }
    }
    env.insert("id".into(), Value::String(event.id.clone()));
    env.insert("event".into(), Value::String(event.event.clone()));
    env.insert("created_at".into(), Value::String(event.created_at.clone()));
    env.insert("api_version".into(), Value::String(version.to_string()));
    env.insert("idempotency_key".into(), Value::String(event.id.clone()));
    env.insert("data".into(), Value::Object(data));
    // `outbound` leaves the contents of `metadata`/`custom_fields` (client-owned maps) alone.
    inflect::outbound(Value::Object(env), format.inflection)
}

/// [`build_payload`] serialised: the exact bytes to sign and send.
pub fn build_body(event: &WebhookEvent, format: &PayloadFormat) -> Vec<u8> {
    build_payload(event, format).to_string().into_bytes()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Neq,
    In,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub path: AttrPath,
    pub op: FilterOp,
    pub value: Value,
}

/// An endpoint's `event_filter_conditions`, parsed. Empty means every event passes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterConditions(Vec<Condition>);

impl FilterConditions {
    /// Accepts `null`, the object shorthand or the list form (see the module docs).
    pub fn parse(value: &Value) -> Result<Self, PayloadError> {
        let bad = |msg: String| PayloadError::BadFilter(msg);
        let mut out = Vec::new();
        match value {
            Value::Null => {}
            Value::Object(map) => {
                for (path, want) in map {
                    let op = if want.is_array() { FilterOp::In } else { FilterOp::Eq };
                    out.push(Condition { path: AttrPath::parse(path)?, op, value: want.clone() });
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(c) = item else {
                        return Err(bad(format!("item {i} must be an object {{path, op, value}}")));
                    };
                    let path = c
                        .get("path")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(format!("item {i}: path must be a string")))?;
                    let op = match c.get("op").and_then(Value::as_str).unwrap_or("eq") {
                        "eq" => FilterOp::Eq,
                        "neq" => FilterOp::Neq,
                        "in" => FilterOp::In,
                        other => return Err(bad(format!("item {i}: unknown op '{other}' (eq, neq, in)"))),
                    };
                    let want = c.get("value").cloned().ok_or_else(|| bad(format!("item {i}: value is required")))?;
                    if op == FilterOp::In && !want.is_array() {
                        return Err(bad(format!("item {i}: op 'in' needs an array value")));
                    }
                    if let Some(extra) = c.keys().find(|k| !["path", "op", "value"].contains(&k.as_str())) {
                        return Err(bad(format!("item {i}: unknown field '{extra}'")));
                    }
                    out.push(Condition { path: AttrPath::parse(path)?, op, value: want });
                }
            }
            _ => return Err(bad("must be an object, a list or null".into())),
        }
        Ok(FilterConditions(out))
    }

    pub fn conditions(&self) -> &[Condition] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// True when every condition holds for `payload` (pass [`WebhookEvent::canonical`]).
pub fn matches(conditions: &FilterConditions, payload: &Value) -> bool {
    conditions.0.iter().all(|c| {
        let found = values_at(payload, c.path.segments());
        match c.op {
            FilterOp::Eq => found.iter().any(|v| json_eq(v, &c.value)),
            FilterOp::Neq => !found.iter().any(|v| json_eq(v, &c.value)),
            FilterOp::In => {
                let options = c.value.as_array().map(Vec::as_slice).unwrap_or_default();
                found.iter().any(|v| options.iter().any(|o| json_eq(v, o)))
            }
        }
    })
}

/// Every value at `path`, entering arrays on the way; a final array yields itself and its items.
fn values_at<'a>(value: &'a Value, path: &[String]) -> Vec<&'a Value> {
    let mut out = Vec::new();
    collect(value, path, &mut out);
    out
}

fn collect<'a>(value: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    let Some((head, rest)) = path.split_first() else {
        out.push(value);
        if let Value::Array(items) = value {
            out.extend(items.iter());
        }
        return;
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if segment_matches(head, key) {
                    collect(child, rest, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, path, out)),
        _ => {}
    }
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> WebhookEvent {
        WebhookEvent::new(
            "evt_01",
            "session.approved",
            "2026-02-01T12:05:00Z",
            json!({
                "session_id": "ses_1", "status": "approved", "is_sandbox": false,
                "created_at": "2026-02-01T12:00:00Z",
                "metadata": {"my_key": 1, "ssn": "keep-me"},
                "result": {"face_match_passed": true, "extracted_data": {"ssn": "123", "first_name": "A"}},
                "documents": [{"number": "X1", "kind": "passport"}, {"number": "X2", "kind": "id"}]
            }),
        )
        .expect("object data")
    }

    #[test]
    fn envelope_carries_ids_version_and_the_flat_mirror() {
        let p = build_payload(&event(), &PayloadFormat::default());
        assert_eq!(p["id"], "evt_01");
        assert_eq!(p["idempotency_key"], "evt_01");
        assert_eq!(p["event"], "session.approved");
        assert_eq!(p["api_version"], CURRENT_API_VERSION);
        assert_eq!(p["created_at"], "2026-02-01T12:05:00Z", "the envelope wins the created_at clash");
        assert_eq!(p["data"]["created_at"], "2026-02-01T12:00:00Z");
        assert_eq!(p["session_id"], "ses_1");
        assert_eq!(p["data"]["status"], "approved");
        let pinned = PayloadFormat { api_version: Some("2026-02-01".into()), ..PayloadFormat::default() };
        assert_eq!(build_payload(&event(), &pinned)["api_version"], "2026-02-01");
    }

    #[test]
    fn data_must_be_an_object() {
        assert_eq!(WebhookEvent::new("e", "x", "t", json!([1])).unwrap_err(), PayloadError::DataNotObject);
    }

    #[test]
    fn inflection_renames_keys_but_not_metadata_contents_or_event_names() {
        let camel = PayloadFormat { inflection: Inflection::Camel, ..PayloadFormat::default() };
        let p = build_payload(&event(), &camel);
        assert_eq!(p["idempotencyKey"], "evt_01");
        assert_eq!(p["event"], "session.approved");
        assert_eq!(p["data"]["result"]["extractedData"]["firstName"], "A");
        assert_eq!(p["data"]["metadata"], json!({"my_key": 1, "ssn": "keep-me"}));
        assert_eq!(p["metadata"], json!({"my_key": 1, "ssn": "keep-me"}));
        let kebab = PayloadFormat { inflection: Inflection::Kebab, ..PayloadFormat::default() };
        let p = build_payload(&event(), &kebab);
        assert_eq!(p["data"]["session-id"], "ses_1");
        assert_eq!(p["data"]["metadata"]["my_key"], 1);
    }

    #[test]
    fn blocklist_removes_paths_in_both_copies_and_any_casing() {
        let blocklist = AttributeBlocklist::parse(&[
            "data.result.extracted_data.ssn",
            "resultData.nothing",
            "documents.number",
            "data.is_sandbox",
        ])
        .expect("valid paths");
        let camel = PayloadFormat { inflection: Inflection::Camel, blocklist, ..PayloadFormat::default() };
        let p = build_payload(&event(), &camel);
        assert!(p["data"]["result"]["extractedData"].get("ssn").is_none());
        assert!(p["result"]["extractedData"].get("ssn").is_none());
        assert_eq!(p["data"]["result"]["extractedData"]["firstName"], "A");
        assert_eq!(p["data"]["documents"], json!([{"kind": "passport"}, {"kind": "id"}]));
        assert!(p["data"].get("isSandbox").is_none() && p.get("isSandbox").is_none());
        assert_eq!(p["data"]["metadata"]["ssn"], "keep-me", "only the named path goes");

        let camel_entry = AttributeBlocklist::parse(&["data.result.extractedData"]).expect("valid");
        let mut data = event().data;
        camel_entry.apply(&mut data);
        assert!(data["result"].get("extracted_data").is_none());

        let star = AttributeBlocklist::parse(&["metadata.*"]).expect("valid");
        let mut data = event().data;
        star.apply(&mut data);
        assert_eq!(data["metadata"], json!({}));
    }

    #[test]
    fn blocklist_refuses_envelope_fields_and_malformed_paths() {
        for bad in ["event", "id", "data", "", "data..ssn", "a."] {
            assert!(AttributeBlocklist::parse(&[bad]).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn filters_in_list_form_all_must_hold() {
        let c = FilterConditions::parse(&json!([
            {"path": "data.status", "op": "in", "value": ["approved", "declined"]},
            {"path": "event", "op": "eq", "value": "session.approved"},
            {"path": "is_sandbox", "op": "neq", "value": true}
        ]))
        .expect("valid");
        assert!(matches(&c, &event().canonical()));
        let mut sandbox = event();
        sandbox.data.insert("is_sandbox".into(), json!(true));
        assert!(!matches(&c, &sandbox.canonical()));
        let mut declined = event();
        declined.event = "session.declined".into();
        assert!(!matches(&c, &declined.canonical()));
    }

    #[test]
    fn filters_in_object_form_and_edge_cases() {
        let c = FilterConditions::parse(&json!({"documents.kind": ["id"], "result.face_match_passed": true}))
            .expect("valid");
        assert!(matches(&c, &event().canonical()), "array elements are entered");
        let missing = FilterConditions::parse(&json!([{"path": "data.nope", "op": "neq", "value": 1}])).expect("ok");
        assert!(matches(&missing, &event().canonical()), "a missing path is not equal");
        let eq_missing = FilterConditions::parse(&json!({"data.nope": 1})).expect("ok");
        assert!(!matches(&eq_missing, &event().canonical()));
        let number = FilterConditions::parse(&json!({"data.metadata.my_key": 1.0})).expect("ok");
        assert!(matches(&number, &event().canonical()));
        assert!(matches(&FilterConditions::parse(&Value::Null).expect("ok"), &event().canonical()));
        assert!(matches(&FilterConditions::parse(&json!({})).expect("ok"), &event().canonical()));
    }

    #[test]
    fn malformed_filters_are_refused_with_a_reason() {
        for bad in [
            json!("x"),
            json!([1]),
            json!([{"path": "a", "op": "gt", "value": 1}]),
            json!([{"path": "a", "op": "in", "value": 1}]),
            json!([{"path": "a"}]),
            json!([{"path": "a", "value": 1, "extra": 2}]),
            json!({"a..b": 1}),
        ] {
            assert!(FilterConditions::parse(&bad).is_err(), "{bad} should be refused");
        }
    }
}
