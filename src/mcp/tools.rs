//! The MCP tool table (spec §1.18): each tool's toolset, kind (read, write, destructive), the scope that
//! caps it, and what it runs, nearly always one REST operation of /api/v1. A tool's input schema is that
//! operation's path and query parameters and request body, taken from the OpenAPI document (which utoipa
//! generates from the handlers' own Rust types), so a tool accepts exactly what its endpoint does. Adding a
//! tool for an existing endpoint is one row of `TOOLS`. Must not run anything itself.

use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    /// Irreversible: off unless `toolsets=` names `destructive`; needs `redact:write` and a written
    /// reason, and is capped per key (`DESTRUCTIVE_PER_HOUR`).
    Destructive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// One operation of /api/v1 (`path` relative to it), run in-process through the REST route table.
    Route { method: &'static str, path: &'static str },
    /// The calling key: id, prefix, environment, scopes, and this connection's toolsets.
    Whoami,
    /// The key's request windows (REST and MCP buckets, destructive calls left) and the review queue's counts.
    Usage,
    /// Connector-style search over sessions, identities and cases.
    Search,
    /// Connector-style fetch of one object by id.
    Fetch,
}

#[derive(Debug)]
pub struct ToolDef {
    pub name: &'static str,
    pub toolset: &'static str,
    pub kind: Kind,
    /// The scope the key must hold (or one of `legacy`) for the tool to exist on this connection.
    pub scope: Option<&'static str>,
    pub legacy: &'static [&'static str],
    pub description: &'static str,
    pub action: Action,
}

/// Every toolset, in the order tools are listed.
pub const TOOLSETS: &[&str] =
    &["sessions", "checks", "identities", "cases", "findings", "lists", "workflows", "org", "search", "destructive"];

/// Destructive calls allowed per key per hour (spec §1.18).
pub const DESTRUCTIVE_PER_HOUR: u64 = 5;

/// The scope every destructive tool needs, whatever the endpoint would also accept.
pub const DESTRUCTIVE_SCOPE: &str = "redact:write";

const fn route(
    name: &'static str,
    toolset: &'static str,
    kind: Kind,
    (scope, legacy): (&'static str, &'static [&'static str]),
    (method, path): (&'static str, &'static str),
    description: &'static str,
) -> ToolDef {
    ToolDef { name, toolset, kind, scope: Some(scope), legacy, description, action: Action::Route { method, path } }
}

use Kind::{Destructive, Read, Write};

/// The tools, one row each: name, toolset, kind, (scope, broader scopes also accepted), (method, path under
/// /api/v1), description.
#[rustfmt::skip]
pub const TOOLS: &[ToolDef] = &[
    // sessions
    route("create_session", "sessions", Write, ("sessions:create", &["sessions:write"]), ("POST", "/sessions"),
        "Create a verification session and get its hosted capture URL (send it to the person). Personal-data \
         fields only prefill the capture form; they are never returned."),
    route("get_session", "sessions", Read, ("sessions:read", &[]), ("GET", "/sessions/{session_id}"),
        "Get a session: status, result status, checks, workflow, case and identity ids."),
    route("list_sessions", "sessions", Read, ("sessions:read", &[]), ("GET", "/sessions"),
        "List sessions, newest first, optionally by status, external reference or id."),
    route("list_session_events", "sessions", Read, ("sessions:read", &[]), ("GET", "/sessions/{session_id}/events"),
        "The audit trail of one session: what happened to it, when and by whom."),
    route("simulate_session", "sessions", Write, ("sessions:write", &[]), ("POST", "/sessions/{session_id}/simulate"),
        "Sandbox only: drive a session to an outcome (approve, decline, needs review, expire, ...)."),
    route("reprocess_session", "sessions", Write, ("sessions:write", &[]), ("POST", "/sessions/{session_id}/reprocess"),
        "Run a submitted session's checks and decision again."),
    // checks
    route("list_checks", "checks", Read, ("checks:read", &["checks:write"]), ("GET", "/checks"),
        "List standalone checks (screening, data checks), newest first."),
    route("get_check", "checks", Read, ("checks:read", &["checks:write"]), ("GET", "/checks/{check_id}"),
        "Get one check with its status and outcome."),
    route("list_check_hits", "checks", Read, ("checks:read", &["checks:write"]), ("GET", "/checks/{check_id}/hits"),
        "The watchlist hits of a screening check, with scores and whether each was dismissed."),
    route("rerun_check", "checks", Write, ("checks:write", &[]), ("POST", "/checks/{check_id}/rerun"),
        "Run a check again against the current lists."),
    // identities
    route("search_identities", "identities", Read, ("identities:read", &[]), ("POST", "/identities/search"),
        "Find identities by exact personal data (name, date of birth, email, phone, document number) through \
         their blind indexes; returns ids and statuses only."),
    route("list_identities", "identities", Read, ("identities:read", &[]), ("GET", "/identities"),
        "List identities, newest first, by status, tag, type or part of the external reference."),
    route("get_identity", "identities", Read, ("identities:read", &[]), ("GET", "/identities/{identity_id}"),
        "Get an identity: status, verification and screening state, tags, sessions count."),
    route("tag_identity", "identities", Write, ("identities:write", &[]),
        ("POST", "/identities/{identity_id}/tags/add"),
        "Add a tag to an identity."),
    route("untag_identity", "identities", Write, ("identities:write", &[]),
        ("POST", "/identities/{identity_id}/tags/remove"),
        "Remove a tag from an identity."),
    // cases
    route("list_cases", "cases", Read, ("cases:read", &["cases:write"]), ("GET", "/cases"),
        "List review cases by status, queue tab, reviewer or session."),
    route("get_case", "cases", Read, ("cases:read", &["cases:write"]), ("GET", "/cases/{case_id}"),
        "Get a review case: status, priority, reviewers, notes and the checks under review."),
    route("claim_case", "cases", Write, ("cases:write", &[]), ("POST", "/cases/{case_id}/claim"),
        "Claim a case for a reviewer (an org user id)."),
    route("assign_case", "cases", Write, ("cases:write", &[]), ("POST", "/cases/{case_id}/assign"),
        "Assign a case to a reviewer."),
    route("add_case_comment", "cases", Write, ("cases:write", &[]), ("POST", "/cases/{case_id}/notes"),
        "Add a note to a case."),
    route("approve_case", "cases", Write, ("cases:write", &[]), ("POST", "/cases/{case_id}/approve"),
        "Approve a case (the session and identity follow)."),
    route("reject_case", "cases", Write, ("cases:write", &[]), ("POST", "/cases/{case_id}/reject"),
        "Reject a case (the session and identity follow)."),
    route("escalate_case", "cases", Write, ("cases:write", &[]), ("POST", "/cases/{case_id}/escalate"),
        "Escalate a case to a senior reviewer."),
    // findings
    route("list_findings", "findings", Read, ("checks:read", &["checks:write", "cases:read", "cases:write"]),
        ("GET", "/findings"),
        "Everything that needs a human look (screening hits, list matches, duplicates, fraud signals), by \
         status, kind, identity, session or check, newest first."),
    route("get_finding", "findings", Read, ("checks:read", &["checks:write", "cases:read", "cases:write"]),
        ("GET", "/findings/{finding_id}"),
        "Get one finding: what it is about, its status, and who acknowledged or dismissed it."),
    route("acknowledge_finding", "findings", Write, ("checks:write", &["cases:write"]),
        ("POST", "/findings/{finding_id}/acknowledge"),
        "Acknowledge a finding (seen, still open to a decision)."),
    route("dismiss_finding", "findings", Write, ("checks:write", &["cases:write"]),
        ("POST", "/findings/{finding_id}/dismiss"),
        "Dismiss a finding as a false positive, with a written reason (a screening hit is dismissed on its check)."),
    // lists
    route("list_lists", "lists", Read, ("lists:read", &["lists:write"]), ("GET", "/lists"),
        "List the organisation's custom lists (block, allow and flag lists) with their types."),
    route("list_list_items", "lists", Read, ("lists:read", &["lists:write"]), ("GET", "/lists/{list_id}/items"),
        "List a custom list's items (ids, dates and notes; personal values are withheld)."),
    route("add_list_item", "lists", Write, ("lists:write", &[]), ("POST", "/lists/{list_id}/items"),
        "Add an item to a custom list, e.g. an email or a document number to a blocklist."),
    // workflows
    route("list_workflows", "workflows", Read, ("workflows:read", &["workflows:write"]), ("GET", "/workflows"),
        "List workflows (verification flows) with their status and version."),
    route("get_workflow", "workflows", Read, ("workflows:read", &["workflows:write"]),
        ("GET", "/workflows/{workflow_id}"),
        "Get a workflow with its graph of steps."),
    route("trigger_workflow", "workflows", Write, ("workflows:write", &["sessions:write"]),
        ("POST", "/workflows/{workflow_id}/trigger"),
        "Run a workflow for a session (its checks and decision again) or for an identity (a new session on it)."),
    route("list_verification_policies", "workflows", Read, ("workflows:read", &["workflows:write", "sessions:read"]),
        ("GET", "/verification-policies"),
        "The checks a workflow or session can run."),
    // org
    ToolDef {
        name: "whoami",
        toolset: "org",
        kind: Read,
        scope: None,
        legacy: &[],
        description: "The API key this connection uses: id, prefix, environment, scopes, and the enabled toolsets.",
        action: Action::Whoami,
    },
    ToolDef {
        name: "get_usage_stats",
        toolset: "org",
        kind: Read,
        scope: None,
        legacy: &[],
        description: "This key's request windows (REST and MCP), destructive calls left this hour, and the review \
        queue's counts when the key may read cases.",
        action: Action::Usage,
    },
    route("list_org_users", "org", Read, ("settings:write", &[]), ("GET", "/users"),
        "List the organisation's dashboard users (reviewer ids and roles; emails and names are withheld)."),
    route("list_api_keys", "org", Read, ("api_keys:read", &["api_keys:write"]), ("GET", "/api-keys"),
        "List this environment's API keys: prefixes, scopes, status (never secrets)."),
    // search (connector style)
    ToolDef {
        name: "search",
        toolset: "search",
        kind: Read,
        scope: Some("sessions:read"),
        legacy: &[],
        description: "Search sessions, identities and cases by id, external reference or free text. Returns \
        {results: [{id, title, url}]}; pass an id to fetch.",
        action: Action::Search,
    },
    ToolDef {
        name: "fetch",
        toolset: "search",
        kind: Read,
        scope: Some("sessions:read"),
        legacy: &[],
        description: "Fetch one session, identity, case or check by id. Returns {id, title, text, url, metadata}.",
        action: Action::Fetch,
    },
    // destructive
    route("redact_session", "destructive", Destructive, (DESTRUCTIVE_SCOPE, &[]),
        ("DELETE", "/sessions/{session_id}/data"),
        "Permanently erase a session's personal data and documents. Irreversible; give the reason."),
    route("redact_identity", "destructive", Destructive, (DESTRUCTIVE_SCOPE, &[]),
        ("DELETE", "/identities/{identity_id}/data"),
        "Permanently erase an identity's personal data (GDPR Art. 17). Irreversible; give the reason."),
    route("bulk_redact_sessions", "destructive", Destructive, (DESTRUCTIVE_SCOPE, &[]),
        ("POST", "/sessions/bulk-redact"),
        "Permanently erase up to 100 sessions' personal data. Irreversible; give the reason."),
    route("delete_list_item", "destructive", Destructive, (DESTRUCTIVE_SCOPE, &[]),
        ("DELETE", "/lists/{list_id}/items/{item_id}"),
        "Delete an item from a custom list (e.g. unblock a value). Give the reason."),
    route("revoke_session_link", "destructive", Destructive, (DESTRUCTIVE_SCOPE, &[]),
        ("POST", "/sessions/{session_id}/expire"),
        "Revoke a session's capture link by expiring the session: the person can no longer open or finish it. \
         Give the reason."),
];

/// What a connection enabled with its URL's `toolsets=` and `read_only=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub toolsets: Vec<&'static str>,
    pub read_only: bool,
}

impl Default for Selection {
    /// Every toolset but `destructive`, writes included.
    fn default() -> Self {
        Selection { toolsets: TOOLSETS.iter().copied().filter(|t| *t != "destructive").collect(), read_only: false }
    }
}

impl Selection {
    /// Reads `toolsets=<csv>` and `read_only=<bool>` from a query string; other parameters are ignored.
    pub fn from_query(query: &str) -> Result<Selection, String> {
        let mut sel = Selection::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "toolsets" => {
                    let mut chosen = Vec::new();
                    for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        let known = TOOLSETS.iter().find(|t| **t == name).ok_or_else(|| {
                            format!("Unknown toolset '{name}' in toolsets=. Toolsets: {}.", TOOLSETS.join(", "))
                        })?;
                        if !chosen.contains(known) {
                            chosen.push(*known);
                        }
                    }
                    if chosen.is_empty() {
                        return Err("toolsets= names no toolset.".into());
                    }
                    chosen.sort_by_key(|t| TOOLSETS.iter().position(|x| x == t));
                    sel.toolsets = chosen;
                }
                "read_only" => {
                    sel.read_only = match v.as_ref() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        other => return Err(format!("read_only must be true or false, not '{other}'.")),
                    }
                }
                _ => {}
            }
        }
        Ok(sel)
    }
}

impl ToolDef {
    /// Whether the key's scopes allow the tool, whatever the toolsets. A destructive tool needs
    /// `redact:write` itself.
    pub fn scope_allows(&self, scopes: &[String]) -> bool {
        let has = |s: &str| scopes.iter().any(|k| k == s);
        match self.scope {
            None => true,
            Some(scope) => has(scope) || self.legacy.iter().any(|l| has(l)),
        }
    }

    /// Why this connection may not call the tool, in the words the caller sees; `None` when it may.
    pub fn refusal(&self, sel: &Selection, scopes: &[String]) -> Option<String> {
        if !self.scope_allows(scopes) {
            let scope = self.scope.unwrap_or_default();
            return Some(format!("Tool '{}' requires the '{scope}' scope on the API key.", self.name));
        }
        if !sel.toolsets.contains(&self.toolset) {
            return Some(format!(
                "Tool '{}' belongs to the '{}' toolset, which this connection did not enable (add it to toolsets= \
                 on the /mcp URL).",
                self.name, self.toolset
            ));
        }
        if sel.read_only && self.kind != Kind::Read {
            return Some(format!("Tool '{}' changes data, and this connection is read_only.", self.name));
        }
        None
    }
}

/// A tool with its input schema and how its arguments become a request.
#[derive(Debug)]
pub struct Tool {
    pub def: &'static ToolDef,
    pub input_schema: Value,
    path_params: Vec<String>,
    query_params: Vec<String>,
    body: bool,
}

/// One in-process request to /api/v1.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteCall {
    pub method: &'static str,
    /// The full path with its query string, e.g. `/api/v1/sessions?limit=5`.
    pub uri: String,
    pub body: Option<Value>,
}

pub struct Registry {
    tools: Vec<Tool>,
}

impl Registry {
    /// Every tool of `TOOLS` with its schema from `openapi` (the document of /api/v1/openapi.json). A route
    /// tool whose operation the document lacks is an error naming it.
    pub fn build(openapi: &Value) -> Result<Registry, String> {
        let tools = TOOLS.iter().map(|def| Tool::build(def, openapi)).collect::<Result<Vec<_>, _>>()?;
        Ok(Registry { tools })
    }

    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.def.name == name)
    }

    /// The tools this connection sees: enabled toolsets, writes unless read_only, capped by the key's scopes.
    pub fn listed<'a>(&'a self, sel: &'a Selection, scopes: &'a [String]) -> impl Iterator<Item = &'a Tool> + 'a {
        TOOLSETS
            .iter()
            .flat_map(move |set| self.tools.iter().filter(move |t| t.def.toolset == *set))
            .filter(move |t| t.def.refusal(sel, scopes).is_none())
    }
}

fn no_arguments() -> Value {
    json!({ "type": "object", "properties": {}, "additionalProperties": false })
}

impl Tool {
    fn build(def: &'static ToolDef, openapi: &Value) -> Result<Tool, String> {
        let (method, path) = match def.action {
            Action::Route { method, path } => (method, path),
            Action::Whoami | Action::Usage => {
                return Ok(Tool {
                    def,
                    input_schema: no_arguments(),
                    path_params: vec![],
                    query_params: vec![],
                    body: false,
                })
            }
            Action::Search => {
                let schema = json!({ "type": "object", "required": ["query"], "additionalProperties": false,
                    "properties": { "query": { "type": "string", "minLength": 1, "maxLength": 255,
                        "description": "An id (ses_, idn_, case_), an external reference or part of one." } } });
                return Ok(Tool { def, input_schema: schema, path_params: vec![], query_params: vec![], body: false });
            }
            Action::Fetch => {
                let schema = json!({ "type": "object", "required": ["id"], "additionalProperties": false,
                    "properties": { "id": { "type": "string", "minLength": 1, "maxLength": 100,
                        "description": "An id from search: ses_..., idn_..., case_... or chk_..." } } });
                return Ok(Tool { def, input_schema: schema, path_params: vec![], query_params: vec![], body: false });
            }
        };
        let op = &openapi["paths"][format!("/api/v1{path}")][method.to_ascii_lowercase()];
        if !op.is_object() {
            return Err(format!("tool {}: the OpenAPI document has no {method} /api/v1{path}", def.name));
        }
        let mut properties = Map::new();
        let mut required: Vec<Value> = Vec::new();
        let (mut path_params, mut query_params) = (Vec::new(), Vec::new());
        for p in op["parameters"].as_array().into_iter().flatten() {
            let (Some(name), Some(place)) = (p["name"].as_str(), p["in"].as_str()) else { continue };
            // Cursor parameters (`page[after]`) have names tool callers cannot use; offset paging remains.
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            match place {
                "path" => path_params.push(name.to_string()),
                "query" => query_params.push(name.to_string()),
                _ => continue,
            }
            let mut schema = p["schema"].clone();
            if let (Some(obj), Some(d)) = (schema.as_object_mut(), p["description"].as_str()) {
                obj.entry("description").or_insert_with(|| Value::from(d));
            }
            properties.insert(name.to_string(), schema);
            if p["required"] == json!(true) {
                required.push(Value::from(name));
            }
        }
        let mut additional = Value::Bool(false);
        let body_schema = &op["requestBody"]["content"]["application/json"]["schema"];
        let body = !body_schema.is_null();
        if body {
            let resolved = resolve(body_schema, openapi);
            match resolved["properties"].as_object() {
                Some(props) => {
                    for (k, v) in props {
                        properties.insert(k.clone(), v.clone());
                    }
                    for r in resolved["required"].as_array().into_iter().flatten() {
                        required.push(r.clone());
                    }
                    if let Some(a) = resolved.get("additionalProperties") {
                        additional = a.clone();
                    } else {
                        additional = Value::Bool(true);
                    }
                }
                // A body of alternatives (`session_id` or `identity_id`): every field of every alternative is
                // offered, none required here; the endpoint says which combination it takes.
                None if resolved["oneOf"].is_array() || resolved["anyOf"].is_array() => {
                    let variants = resolved["oneOf"].as_array().or(resolved["anyOf"].as_array()).into_iter().flatten();
                    for variant in variants {
                        let variant = resolve(variant, openapi);
                        let Some(props) = variant["properties"].as_object() else {
                            return Err(format!(
                                "tool {}: an alternative body of {method} {path} is not an object",
                                def.name
                            ));
                        };
                        for (k, v) in props {
                            properties.insert(k.clone(), v.clone());
                        }
                    }
                }
                None => return Err(format!("tool {}: the request body of {method} {path} is not an object", def.name)),
            }
        }
        if def.kind == Kind::Destructive {
            properties.insert(
                "reason".into(),
                json!({ "type": "string", "minLength": 1, "maxLength": 500,
                    "description": "Why this irreversible action is taken (kept in the audit log)." }),
            );
            required.push(Value::from("reason"));
        }
        let mut schema = json!({ "type": "object", "properties": properties, "additionalProperties": additional });
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        let defs = definitions(&schema, openapi);
        if !defs.is_empty() {
            schema["$defs"] = Value::Object(defs);
        }
        rewrite_refs(&mut schema);
        Ok(Tool { def, input_schema: schema, path_params, query_params, body })
    }

    /// The tool as `tools/list` shows it.
    pub fn describe(&self) -> Value {
        let d = self.def;
        json!({
            "name": d.name,
            "title": title(d.name),
            "description": d.description,
            "inputSchema": self.input_schema,
            "annotations": {
                "title": title(d.name),
                "readOnlyHint": d.kind == Kind::Read,
                "destructiveHint": d.kind == Kind::Destructive,
                "idempotentHint": d.kind == Kind::Read,
                "openWorldHint": false,
            },
        })
    }

    /// The request a route tool's arguments make: path parameters into the path, query parameters into the
    /// query string, the rest into the JSON body (an operation without a body refuses unknown arguments).
    /// A destructive tool's `reason` is the caller's to keep and is not sent.
    pub fn route_call(&self, args: &Map<String, Value>) -> Result<RouteCall, String> {
        let Action::Route { method, path } = self.def.action else {
            return Err(format!("Tool '{}' is not an API operation.", self.def.name));
        };
        let mut args = args.clone();
        if self.def.kind == Kind::Destructive {
            args.remove("reason");
        }
        let mut uri = format!("/api/v1{path}");
        for name in &self.path_params {
            let value = match args.remove(name) {
                Some(Value::String(s)) if !s.is_empty() => s,
                Some(Value::Number(n)) => n.to_string(),
                _ => return Err(format!("Argument '{name}' is required (a string).")),
            };
            uri = uri.replace(&format!("{{{name}}}"), &percent_encode(&value));
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        let mut any = false;
        for name in &self.query_params {
            let text = match args.remove(name) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) => s,
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                    .collect::<Vec<_>>()
                    .join(","),
                Some(Value::Object(_)) => return Err(format!("Argument '{name}' must not be an object.")),
                Some(other) => other.to_string(),
            };
            query.append_pair(name, &text);
            any = true;
        }
        if any {
            uri.push('?');
            uri.push_str(&query.finish());
        }
        let body = if self.body {
            Some(Value::Object(args))
        } else if let Some(unknown) = args.keys().next() {
            return Err(format!("Unknown argument '{unknown}' for tool '{}'.", self.def.name));
        } else {
            None
        };
        Ok(RouteCall { method, uri, body })
    }
}

/// A destructive call's written reason: required, not blank, at most 500 characters.
pub fn reason(args: &Map<String, Value>) -> Result<String, String> {
    match args.get("reason").and_then(Value::as_str).map(str::trim) {
        Some(r) if !r.is_empty() && r.chars().count() <= 500 => Ok(r.to_string()),
        Some(r) if !r.is_empty() => Err("The reason must be at most 500 characters.".into()),
        _ => Err("A destructive tool needs a written 'reason' argument: why this irreversible action is taken.".into()),
    }
}

/// `list_check_hits` -> `List check hits`.
fn title(name: &str) -> String {
    let text = name.replace('_', " ");
    let mut chars = text.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `$ref` to a component, followed once.
fn resolve(schema: &Value, openapi: &Value) -> Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => openapi["components"]["schemas"][name].clone(),
        None => schema.clone(),
    }
}

/// Every component `schema` refers to, directly or through other components.
fn definitions(schema: &Value, openapi: &Value) -> Map<String, Value> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(name) =
                    o.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
                {
                    out.push(name.to_string());
                }
                o.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut seen = BTreeSet::new();
    let mut todo = Vec::new();
    refs(schema, &mut todo);
    let mut defs = Map::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let component = openapi["components"]["schemas"][&name].clone();
        refs(&component, &mut todo);
        defs.insert(name, component);
    }
    defs
}

fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    *r = format!("#/$defs/{name}");
                }
            }
            o.values_mut().for_each(rewrite_refs);
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::build(&crate::http::openapi::document()).expect("every tool's operation is in the document")
    }

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_tool_is_unique_in_a_known_toolset_and_its_schema_resolves() {
        let reg = registry();
        let mut names = BTreeSet::new();
        for def in TOOLS {
            assert!(names.insert(def.name), "{} twice", def.name);
            assert!(TOOLSETS.contains(&def.toolset), "{}", def.name);
            assert_eq!(def.kind == Kind::Destructive, def.toolset == "destructive", "{}", def.name);
            let tool = reg.get(def.name).unwrap();
            assert_eq!(tool.input_schema["type"], "object", "{}", def.name);
            let text = tool.input_schema.to_string();
            assert!(!text.contains("#/components/"), "{}: {text}", def.name);
            let mut refs = Vec::new();
            for part in text.split("\"$ref\":\"#/$defs/").skip(1) {
                refs.push(part.split('"').next().unwrap().to_string());
            }
            for r in refs {
                assert!(tool.input_schema["$defs"][&r].is_object(), "{}: $defs lacks {r}", def.name);
            }
        }
        assert_eq!(TOOLS.len(), 45);
    }

    #[test]
    fn schemas_come_from_the_rest_contract() {
        let reg = registry();
        let claim = &reg.get("claim_case").unwrap().input_schema;
        assert_eq!(claim["required"], json!(["case_id", "reviewer_id"]));
        assert_eq!(claim["additionalProperties"], json!(false));
        let create = &reg.get("create_session").unwrap().input_schema;
        assert!(create["properties"]["workflow_id"].is_object());
        let redact = &reg.get("redact_session").unwrap().input_schema;
        assert_eq!(redact["required"], json!(["session_id", "reason"]));
        let list = &reg.get("list_sessions").unwrap().input_schema;
        assert!(list["properties"]["limit"].is_object() && list["properties"]["status"].is_object());
    }

    #[test]
    fn arguments_become_the_operations_path_query_and_body() {
        let reg = registry();
        let args = |v: Value| v.as_object().unwrap().clone();
        let call =
            reg.get("list_sessions").unwrap().route_call(&args(json!({"status": "pending", "limit": 5}))).unwrap();
        assert_eq!(
            call,
            RouteCall { method: "GET", uri: "/api/v1/sessions?status=pending&limit=5".into(), body: None }
        );
        let call = reg
            .get("claim_case")
            .unwrap()
            .route_call(&args(json!({"case_id": "case_1/x", "reviewer_id": "u"})))
            .unwrap();
        assert_eq!(call.uri, "/api/v1/cases/case_1%2Fx/claim");
        assert_eq!(call.body, Some(json!({"reviewer_id": "u"})));
        let err =
            reg.get("get_session").unwrap().route_call(&args(json!({"session_id": "ses_1", "x": 1}))).unwrap_err();
        assert!(err.contains("Unknown argument 'x'"), "{err}");
        assert!(reg.get("get_session").unwrap().route_call(&args(json!({}))).is_err());
        let call = reg
            .get("redact_session")
            .unwrap()
            .route_call(&args(json!({"session_id": "ses_1", "reason": "r"})))
            .unwrap();
        assert_eq!((call.method, call.body), ("DELETE", None));
    }

    #[test]
    fn toolsets_read_only_and_scopes_decide_what_is_listed() {
        let reg = registry();
        let all = scopes(&[
            "sessions:read",
            "sessions:write",
            "sessions:create",
            "cases:read",
            "cases:write",
            "redact:write",
        ]);
        let names = |sel: &Selection, s: &[String]| reg.listed(sel, s).map(|t| t.def.name).collect::<Vec<_>>();
        let default = names(&Selection::default(), &all);
        assert!(default.contains(&"approve_case") && default.contains(&"whoami"));
        assert!(!default.contains(&"redact_session"));
        assert!(!default.contains(&"list_checks"), "the key has no checks scope");
        let sel = Selection::from_query("toolsets=cases,destructive&read_only=false").unwrap();
        assert_eq!(sel.toolsets, vec!["cases", "destructive"]);
        let listed = names(&sel, &all);
        assert!(listed.contains(&"redact_session") && listed.contains(&"get_case") && !listed.contains(&"get_session"));
        let ro = names(&Selection::from_query("read_only=true").unwrap(), &all);
        assert!(ro.contains(&"get_case") && !ro.contains(&"approve_case") && !ro.contains(&"create_session"));
        let weak = scopes(&["sessions:read", "sessions:write"]);
        let def = reg.get("redact_session").unwrap().def;
        assert_eq!(
            def.refusal(&sel, &weak).unwrap(),
            "Tool 'redact_session' requires the 'redact:write' scope on the API key."
        );
        assert!(Selection::from_query("toolsets=nope").is_err());
        assert!(Selection::from_query("read_only=maybe").is_err());
    }
}
