//! The OpenAPI 3.1 document, generated from the route table so it cannot drift from what is served.

use serde_json::{json, Map, Value};

fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect()
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        let clean: String = seg.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        id.push('_');
        id.push_str(&clean);
    }
    id
}

pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for spec in super::all_specs() {
        let full = spec.full_path();
        let params: Vec<Value> = path_params(&full)
            .into_iter()
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let authenticated = full.starts_with("/api/v1/") && full != "/api/v1/openapi.json";
        let mut op = json!({
            "operationId": operation_id(spec.method, &full),
            "summary": spec.summary,
            "parameters": params,
            "responses": {
                "200": { "description": "Success", "content": { "application/json": { "schema": { "type": "object" } } } },
                "default": { "description": "Error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        });
        if authenticated {
            op["security"] = json!([{ "ApiKey": [] }]);
        }
        if matches!(spec.method, "POST" | "PATCH" | "PUT") {
            op["requestBody"] =
                json!({ "required": false, "content": { "application/json": { "schema": { "type": "object" } } } });
        }
        let entry = paths.entry(full).or_insert_with(|| json!({}));
        entry[spec.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "idv: Verifa-compatible identity verification API", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "securitySchemes": { "ApiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "detail", "status_code"],
                    "properties": {
                        "error": { "type": "string" },
                        "detail": { "type": "string" },
                        "status_code": { "type": "integer" },
                        "errors": { "type": "array", "items": { "type": "object", "properties": {
                            "field": { "type": "string" }, "message": { "type": "string" } } } }
                    }
                }
            }
        }
    })
}
