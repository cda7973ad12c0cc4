//! The OpenAPI 3.1 document, generated from the request and response types and the `#[utoipa::path]`
//! annotations on the handlers (utoipa), never from the route table: the route table is what is served,
//! the annotations are what is documented, and a test compares the two. Conventions every operation shares
//! (authentication, the error responses of §2.5, links from a create to the operations on the created
//! object, example bodies) are added here in one pass. Must not serve or route anything.

use super::error::ErrorBody;
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "idv: Verifa-compatible identity verification API",
        description = "Identity verification (KYC/AML) served by one binary over one SQLite file.\n\n\
            Authenticate with `X-API-Key: <secret or sandbox key>`. The document describes snake_case keys; \
            request bodies also accept camelCase and kebab-case keys and the JSON:API `{data:{attributes}}` \
            envelope, and the `Key-Inflection: camel|kebab` request header turns response keys into that \
            casing. Errors share one shape: `{error, detail, status_code}`, plus `errors[]` on a 422. Request \
            bodies refuse unknown fields (422 naming the field). Every POST, PATCH, PUT and DELETE accepts an \
            `Idempotency-Key` header (at most 255 characters): the same key with the same body replays the first \
            response for 24 h; with a different body it is a 422 `idempotency_mismatch`."
    ),
    components(schemas(ErrorBody))
)]
struct Root;

/// Every documented part, one per URL resource.
fn parts() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        super::identities::api(),
        super::lists::api(),
        super::webhooks::api(),
        super::checks::api(),
        super::findings::api(),
        super::watchlists::api(),
        super::relationships::api(),
        super::types::api(),
        super::api_keys::api(),
        super::settings::api(),
        super::cases::api(),
        super::events::api(),
        super::system::api(),
        super::sessions::api(),
        super::documents::api(),
        super::capture::api(),
        super::workflows::api(),
        super::users::api(),
        super::dashboard::auth::api(),
    ]
}

/// The document as served at `/api/v1/openapi.json`.
pub fn document() -> Value {
    let mut doc = Root::openapi();
    for part in parts() {
        doc.merge(part);
    }
    let mut value = serde_json::to_value(&doc).unwrap_or(Value::Null);
    value["openapi"] = json!("3.1.0");
    apply_conventions(&mut value);
    add_dependent_fields(&mut value);
    add_response_examples(&mut value);
    value
}

/// Gives every JSON success response an example body when its annotation has none, built from the
/// response type's schema: each field's own example (the id and value types carry one), else its first
/// enum value, else a value of its format. So an example always has the shape the type serialises to.
fn add_response_examples(doc: &mut Value) {
    let comps = doc["components"]["schemas"].clone();
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for item in paths.values_mut() {
        for op in item.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
            for (code, response) in op["responses"].as_object_mut().into_iter().flat_map(|m| m.iter_mut()) {
                if !code.starts_with('2') {
                    continue;
                }
                // `get_mut`, not indexing: indexing a response without a body (204) would add `content: null`.
                let Some(media) = response.get_mut("content").and_then(|c| c.get_mut("application/json")) else {
                    continue;
                };
                if media.get("example").is_some() || media.get("examples").is_some() {
                    continue;
                }
                let example = example_of(&media["schema"], &comps, 0);
                if !example.is_null() {
                    media["example"] = example;
                }
            }
        }
    }
}

/// A field's example: its schema's, except that a plain nullable string is shown as null, and a plain
/// string is given a value its name suggests (timestamps, URLs) rather than a placeholder.
fn field_example(name: &str, schema: &Value, comps: &Value, depth: usize) -> Value {
    let plain = schema.get("example").is_none()
        && schema.get("examples").is_none()
        && schema.get("enum").is_none()
        && schema.get("format").is_none()
        && schema.get("$ref").is_none();
    let nullable_string =
        schema["type"].as_array().is_some_and(|t| t.contains(&json!("null")) && t.contains(&json!("string")));
    if plain && nullable_string {
        return Value::Null;
    }
    if plain && schema["type"] == "string" {
        if name.ends_with("_at") {
            return json!("2026-01-15T10:00:00.000Z");
        }
        if name.ends_with("url") {
            return json!("https://idv.example.com/");
        }
    }
    example_of(schema, comps, depth)
}

fn example_of(schema: &Value, comps: &Value, depth: usize) -> Value {
    if depth > 12 {
        return Value::Null;
    }
    if let Some(r) = schema["$ref"].as_str() {
        return example_of(&comps[r.rsplit('/').next().unwrap_or_default()], comps, depth + 1);
    }
    if let Some(e) = schema.get("example") {
        return e.clone();
    }
    if let Some(e) = schema["examples"].as_array().and_then(|e| e.first()) {
        return e.clone();
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.iter().find(|v| !v.is_null())) {
        return first.clone();
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(m) = example_of(part, comps, depth + 1) {
                merged.extend(m);
            }
        }
        return Value::Object(merged);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = schema[key].as_array() {
            return branches
                .iter()
                .filter(|b| b["type"] != "null")
                .map(|b| example_of(b, comps, depth + 1))
                .find(|e| !e.is_null())
                .unwrap_or(Value::Null);
        }
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if schema["properties"].is_object() => "object",
        _ => "",
    };
    match kind {
        "object" => Value::Object(
            schema["properties"]
                .as_object()
                .map(|props| props.iter().map(|(k, v)| (k.clone(), field_example(k, v, comps, depth + 1))).collect())
                .unwrap_or_default(),
        ),
        "array" => match example_of(&schema["items"], comps, depth + 1) {
            Value::Null => json!([]),
            item => json!([item]),
        },
        "string" => json!(match schema["format"].as_str() {
            Some("date-time") => "2026-01-15T10:00:00.000Z",
            Some("date") => "1990-04-12",
            Some("uri") => "https://example.com/",
            Some("email") => "jane.doe@example.com",
            Some("binary") => "",
            _ => "string",
        }),
        "integer" => json!(schema["minimum"].as_i64().unwrap_or(0).max(0)),
        "number" => json!(schema["minimum"].as_f64().unwrap_or(0.0)),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

/// Rules between fields that the types alone cannot state: name and date of birth are searched together
/// (spec §1.6.7), so a search body has all three or none of them; a workflow definition is `steps` or
/// `graph`, not both (and a new workflow needs one).
fn add_dependent_fields(doc: &mut Value) {
    if let Some(schema) = doc["components"]["schemas"].get_mut("CreateWorkflowBody") {
        schema["oneOf"] = json!([{ "required": ["steps"] }, { "required": ["graph"] }]);
    }
    if let Some(schema) = doc["components"]["schemas"].get_mut("UpdateWorkflowBody") {
        schema["not"] = json!({ "required": ["steps", "graph"] });
    }
    // All three as strings, or each absent or null.
    let all_or_none = json!([
        { "required": ["first_name", "last_name", "date_of_birth"],
          "properties": { "first_name": { "type": "string" }, "last_name": { "type": "string" },
                          "date_of_birth": { "type": "string" } } },
        { "properties": { "first_name": { "type": "null" }, "last_name": { "type": "null" },
                          "date_of_birth": { "type": "null" } } },
    ]);
    for name in ["SearchBody", "AdvancedSearchBody"] {
        if let Some(schema) = doc["components"]["schemas"].get_mut(name) {
            schema["anyOf"] = all_or_none.clone();
        }
    }
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": {
        "schema": { "$ref": "#/components/schemas/ErrorBody" } } } })
}

/// Adds what every operation shares: security and its 401/403/429 on the authenticated API, 400/413/415/422
/// where a body or query is parsed, 404 where a path names an object, and links from each create to the
/// operations on what it created. The Idempotency-Key header is described once in the document's
/// description rather than as a parameter of every write (a client generator would otherwise make it an
/// argument of each call, and a fuzzer would reuse one key across different bodies).
fn apply_conventions(doc: &mut Value) {
    doc["components"]["securitySchemes"] = json!({
        "ApiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key",
            "description": "A secret key (`vk_live_…`, `vk_sandbox_…`); publishable keys may only create sessions." },
        "OrgSession": { "type": "apiKey", "in": "cookie", "name": "vk_org_token",
            "description": "The dashboard session cookie set by `POST /dashboard/login` (HttpOnly, 8 h)." }
    });
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    let operations: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(p, item)| {
            item.as_object().into_iter().flat_map(move |m| m.keys().map(move |k| (p.clone(), k.clone())))
        })
        .collect();
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            // /api/v1/auth/ is the dashboard's own, authenticated by its session cookie (declared per operation).
            let authenticated =
                path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" && !path.starts_with("/api/v1/auth/");
            let has_body = op.get("requestBody").is_some();
            let has_query = op["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            let mut add = |code: &str, description: &str| {
                let responses = op["responses"].as_object_mut().expect("responses is an object");
                responses.entry(code.to_string()).or_insert_with(|| error_response(description));
            };
            if authenticated {
                add("401", "Missing or invalid API key.");
                add("403", "The key lacks the scope this operation needs, or may not call it.");
                add("429", "Rate limit or quota exceeded; see Retry-After.");
            }
            if has_body {
                add("400", "The body is not a JSON object.");
                add("413", "The body is too large.");
                add("415", "The body is not in a supported content type.");
                add("422", "A field is missing, unknown or invalid (`errors` names it).");
            } else if has_query {
                add("422", "A query parameter is invalid (`errors` names it).");
            }
            if path.contains('{') {
                add("404", "No such object in this key's environment.");
            }
            // Any request can find a queue full: the writer's, the read threads' or the CPU pool's.
            add("503", "The server is busy (a full write, read or processing queue); retry after Retry-After seconds.");
            if authenticated && matches!(method.as_str(), "post" | "patch" | "put" | "delete") {
                add("422", "The Idempotency-Key was already used with different parameters.");
            }
            if authenticated {
                op["security"] = json!([{ "ApiKey": [] }]);
            }
            if method == "post" && !path.contains('{') {
                add_links(op, path, &operations);
            }
        }
    }
}

/// Links from a create (`POST /things`) to the operations on `/things/{id}`, feeding the created `id`.
fn add_links(op: &mut Value, path: &str, operations: &[(String, String)]) {
    let prefix = format!("{path}/{{");
    let mut links = Map::new();
    for (target, method) in operations.iter().filter(|(p, _)| p.starts_with(&prefix)) {
        let rest = &target[prefix.len()..];
        let Some((param, tail)) = rest.split_once('}') else { continue };
        if tail.contains('{') || !matches!(method.as_str(), "get" | "patch" | "delete") {
            continue;
        }
        {
            let name = format!("{method}{}", target.replace(['/', '{', '}', '-'], "_"));
            links.insert(
                name,
                json!({ "operationRef": format!("#/paths/{}/{method}", target.replace('~', "~0").replace('/', "~1")),
                        "parameters": { param: "$response.body#/id" } }),
            );
        }
    }
    if links.is_empty() {
        return;
    }
    let Some(responses) = op["responses"].as_object_mut() else { return };
    for code in ["200", "201"] {
        if let Some(r) = responses.get_mut(code) {
            r["links"] = Value::Object(links.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two modules declaring a schema of the same name would silently replace one another in the merged
    /// document (one body documented with the other's fields): every name must mean one schema.
    #[test]
    fn no_two_parts_declare_different_schemas_under_one_name() {
        let mut seen: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
        let mut clashes = Vec::new();
        for part in parts() {
            let part = serde_json::to_value(&part).unwrap();
            for (name, schema) in part["components"]["schemas"].as_object().into_iter().flatten() {
                if let Some(earlier) = seen.insert(name.clone(), schema.clone()) {
                    if &earlier != schema {
                        clashes.push(name.clone());
                    }
                }
            }
        }
        assert!(clashes.is_empty(), "different schemas share a name: {clashes:?}");
        assert!(seen.len() > 100, "{} schemas", seen.len());
    }

    #[test]
    fn response_examples_follow_the_schema_shape() {
        let comps = json!({ "Thing": { "type": "object", "properties": {
            "id": { "type": "string", "examples": ["thg_1"] },
            "note": { "type": ["string", "null"] },
            "created_at": { "type": "string" },
            "kind": { "type": "string", "enum": ["a", "b"] },
            "count": { "type": "integer", "minimum": 1 },
            "tags": { "type": "array", "items": { "type": "string" } } } } });
        let example = example_of(&json!({ "$ref": "#/components/schemas/Thing" }), &comps, 0);
        assert_eq!(
            example,
            json!({ "id": "thg_1", "note": null, "created_at": "2026-01-15T10:00:00.000Z", "kind": "a", "count": 1,
                    "tags": ["string"] })
        );
    }

    #[test]
    fn a_response_without_a_body_keeps_no_content_key() {
        let mut doc = json!({ "components": { "schemas": {} }, "paths": { "/next": { "post": { "responses": {
            "204": { "description": "empty" } } } } } });
        add_response_examples(&mut doc);
        assert_eq!(doc["paths"]["/next"]["post"]["responses"]["204"], json!({ "description": "empty" }));
    }

    /// Every operation can meet a full queue (a read on the read threads', a preview or a report on the
    /// CPU pool's), so every one documents the 503 it is then answered with.
    #[test]
    fn every_operation_documents_the_busy_answer() {
        let doc = document();
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if op["responses"].get("503").is_none() {
                    missing.push(format!("{method} {path}"));
                }
            }
        }
        assert!(missing.is_empty(), "no 503 documented: {missing:?}");
        for path in ["/api/v1/identities/{identity_id}", "/api/v1/documents/{document_id}/pages/{page}/preview"] {
            let busy = &doc["paths"][path]["get"]["responses"]["503"];
            assert!(busy["description"].as_str().unwrap().contains("busy"), "{path}: {busy}");
        }
    }

    /// A `$ref` to a schema the document does not declare (an id type named only in a path parameter)
    /// makes clients skip that part of the contract, or refuse the document.
    #[test]
    fn every_schema_reference_resolves() {
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        let missing: std::collections::BTreeSet<_> = found
            .iter()
            .filter_map(|r| r.strip_prefix("#/components/schemas/"))
            .filter(|name| doc["components"]["schemas"].get(*name).is_none())
            .collect();
        assert!(missing.is_empty(), "unresolved schema references: {missing:?}");
        assert!(found.len() > 100);
    }
}
