//! Workflows (spec §1.5): the DAG of start, policy, conditional, wait and terminal nodes, the legacy
//! "steps" list (turned into a graph), validation (one start, known nodes and policies, acyclic, every
//! path ends in a terminal), and the pure walk that turns check results into an outcome. Must not read
//! the database or run checks itself.

use crate::error::{AppError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};

pub const POLICIES: &[&str] = &[
    "document_ocr",
    "document_expiration",
    "age_verification",
    "face_match",
    "duplicate_detection",
    "risk_assessment",
    "watchlist_screening",
    "identity_crossref",
    "check_against_list",
    "auto_approve",
];

/// A workflow graph: node id -> node, and the entry (the start node's id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Graph {
    pub entry: String,
    pub nodes: BTreeMap<String, Value>,
}

fn err(field: &str, message: impl Into<String>) -> AppError {
    AppError::Validation {
        detail: format!("{field}: {}", message.into()),
        errors: vec![FieldError::new(field, "invalid workflow graph")],
    }
}

/// The legacy steps format: policies in order, then `auto_approve` decides.
pub fn graph_from_steps(steps: &[String]) -> Result<Graph, AppError> {
    if steps.is_empty() {
        return Err(AppError::validation("steps", "must list at least one policy"));
    }
    let mut nodes = BTreeMap::new();
    nodes.insert("start".to_string(), json!({ "type": "start", "next": "decide" }));
    let policies: Vec<&String> = steps.iter().filter(|s| s.as_str() != "auto_approve").collect();
    for p in &policies {
        if !POLICIES.contains(&p.as_str()) {
            return Err(AppError::validation("steps", format!("unknown policy '{p}'")));
        }
    }
    nodes.insert("decide".to_string(), json!({ "type": "policy", "policy": "auto_approve", "checks": policies }));
    Ok(Graph { entry: "start".into(), nodes })
}

/// The policies a graph runs (what the check pipeline must compute).
pub fn policies(g: &Graph) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for node in g.nodes.values() {
        if let Some(p) = node.get("policy").and_then(Value::as_str) {
            if p == "auto_approve" {
                for c in node.get("checks").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(c) = c.as_str() {
                        out.push(c.to_string());
                    }
                }
            } else {
                out.push(p.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn successors(node: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["next", "on_pass", "on_fail", "on_error", "on_skipped", "default"] {
        if let Some(n) = node.get(key).and_then(Value::as_str) {
            out.push(n.to_string());
        }
    }
    for c in node.get("conditions").and_then(Value::as_array).into_iter().flatten() {
        if let Some(n) = c.get("next").and_then(Value::as_str) {
            out.push(n.to_string());
        }
    }
    out
}

pub fn validate(g: &Graph) -> Result<(), AppError> {
    let starts: Vec<&String> = g.nodes.iter().filter(|(_, n)| n["type"] == "start").map(|(k, _)| k).collect();
    if starts.len() != 1 {
        return Err(err("graph", "must have exactly one start node"));
    }
    if starts[0] != &g.entry {
        return Err(err("graph.entry", "must be the start node"));
    }
    for (id, node) in &g.nodes {
        let t = node["type"].as_str().unwrap_or("");
        match t {
            "start" | "wait" => {
                if node.get("next").and_then(Value::as_str).is_none() {
                    return Err(err(&format!("graph.nodes.{id}"), "needs `next`"));
                }
                if t == "wait" {
                    let on_fail = node.get("on_fail").and_then(Value::as_str).unwrap_or("review");
                    if !matches!(on_fail, "review" | "reject") && !g.nodes.contains_key(on_fail) {
                        return Err(err(&format!("graph.nodes.{id}.on_fail"), "must be review, reject or a node id"));
                    }
                }
            }
            "policy" => {
                let p = node.get("policy").and_then(Value::as_str).unwrap_or("");
                if !POLICIES.contains(&p) {
                    return Err(err(&format!("graph.nodes.{id}.policy"), format!("unknown policy '{p}'")));
                }
                if p != "auto_approve" && (node.get("on_pass").is_none() || node.get("on_fail").is_none()) {
                    return Err(err(&format!("graph.nodes.{id}"), "a policy node needs on_pass and on_fail"));
                }
            }
            "conditional" => {
                if node.get("default").and_then(Value::as_str).is_none() {
                    return Err(err(&format!("graph.nodes.{id}"), "a conditional node needs a default"));
                }
                for c in node.get("conditions").and_then(Value::as_array).into_iter().flatten() {
                    let op = c.get("op").and_then(Value::as_str).unwrap_or("");
                    if !["<=", ">=", "<", ">", "==", "!=", "in", "not_in", "contains", "exists"].contains(&op) {
                        return Err(err(&format!("graph.nodes.{id}.conditions"), format!("unknown operator '{op}'")));
                    }
                    if c.get("field").and_then(Value::as_str).is_none()
                        || c.get("next").and_then(Value::as_str).is_none()
                    {
                        return Err(err(
                            &format!("graph.nodes.{id}.conditions"),
                            "each condition needs field and next",
                        ));
                    }
                }
            }
            "terminal" => {
                let o = node.get("outcome").and_then(Value::as_str).unwrap_or("");
                if !["approved", "rejected", "needs_review"].contains(&o) {
                    return Err(err(
                        &format!("graph.nodes.{id}.outcome"),
                        "must be approved, rejected or needs_review",
                    ));
                }
            }
            other => return Err(err(&format!("graph.nodes.{id}.type"), format!("unknown node type '{other}'"))),
        }
        for next in successors(node) {
            if !g.nodes.contains_key(&next) && !matches!(next.as_str(), "review" | "reject") {
                return Err(err(&format!("graph.nodes.{id}"), format!("points at unknown node '{next}'")));
            }
        }
    }
    // Acyclic, and every node reachable from the start reaches a terminal.
    fn visit(g: &Graph, id: &str, stack: &mut Vec<String>, done: &mut HashSet<String>) -> Result<(), AppError> {
        if done.contains(id) {
            return Ok(());
        }
        if stack.iter().any(|s| s == id) {
            return Err(err("graph", format!("has a cycle through '{id}'")));
        }
        stack.push(id.to_string());
        let node = &g.nodes[id];
        let next = successors(node);
        let is_auto = node.get("policy").and_then(Value::as_str) == Some("auto_approve");
        if next.is_empty() && node["type"] != "terminal" && !is_auto {
            return Err(err(&format!("graph.nodes.{id}"), "does not lead to a terminal node"));
        }
        for n in next.iter().filter(|n| g.nodes.contains_key(*n)) {
            visit(g, n, stack, done)?;
        }
        stack.pop();
        done.insert(id.to_string());
        Ok(())
    }
    visit(g, &g.entry, &mut Vec::new(), &mut HashSet::new())
}

/// Where a walk stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// approved / rejected / needs_review, with the path taken.
    Terminal { outcome: String, path: Vec<String> },
    /// `auto_approve`: the check pipeline's own decision applies.
    AutoApprove { path: Vec<String> },
    /// Paused at a wait node until an external decision.
    Wait { node: String, path: Vec<String> },
}

fn lookup<'a>(ctx: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    let mut parts = field.split('.');
    let mut cur = ctx.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    Some(cur)
}

fn holds(c: &Value, ctx: &Map<String, Value>) -> bool {
    let field = c["field"].as_str().unwrap_or("");
    let op = c["op"].as_str().unwrap_or("");
    let want = &c["value"];
    let got = lookup(ctx, field);
    let num = |v: &Value| v.as_f64();
    match op {
        "exists" => got.is_some_and(|g| !g.is_null()),
        "==" => got.is_some_and(|g| g == want || (num(g).is_some() && num(g) == num(want))),
        "!=" => !got.is_some_and(|g| g == want || (num(g).is_some() && num(g) == num(want))),
        "in" => want.as_array().is_some_and(|a| got.is_some_and(|g| a.contains(g))),
        "not_in" => !want.as_array().is_some_and(|a| got.is_some_and(|g| a.contains(g))),
        "contains" => got.is_some_and(|g| match g {
            Value::Array(a) => a.contains(want),
            Value::String(s) => want.as_str().is_some_and(|w| s.contains(w)),
            _ => false,
        }),
        _ => match (got.and_then(num), num(want)) {
            (Some(a), Some(b)) => match op {
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                ">=" => a >= b,
                _ => false,
            },
            _ => false,
        },
    }
}

/// Walks from `from` using the check statuses and the decision context (risk_score, extracted_age, ...).
pub fn walk(g: &Graph, from: &str, ctx: &Map<String, Value>) -> Stop {
    let mut path = Vec::new();
    let mut id = from.to_string();
    for _ in 0..(g.nodes.len() + 1) {
        path.push(id.clone());
        let Some(node) = g.nodes.get(&id) else { return Stop::Terminal { outcome: "needs_review".into(), path } };
        let next = match node["type"].as_str().unwrap_or("") {
            "start" => node["next"].as_str().map(str::to_string),
            "terminal" => {
                return Stop::Terminal { outcome: node["outcome"].as_str().unwrap_or("needs_review").into(), path }
            }
            "wait" => return Stop::Wait { node: id, path },
            "policy" => {
                let policy = node["policy"].as_str().unwrap_or("");
                if policy == "auto_approve" {
                    return Stop::AutoApprove { path };
                }
                let status =
                    lookup(ctx, &format!("checks.{policy}.status")).and_then(Value::as_str).unwrap_or("skipped");
                let key = match status {
                    "passed" => "on_pass",
                    "failed" => "on_fail",
                    "error" => "on_error",
                    _ => "on_skipped",
                };
                node.get(key)
                    .or_else(|| node.get(if status == "error" { "on_fail" } else { "on_pass" }))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }
            "conditional" => {
                let hit = node["conditions"].as_array().into_iter().flatten().find(|c| holds(c, ctx));
                hit.and_then(|c| c["next"].as_str()).or_else(|| node["default"].as_str()).map(str::to_string)
            }
            _ => None,
        };
        match next.as_deref() {
            Some("reject") => return Stop::Terminal { outcome: "rejected".into(), path },
            Some("review") => return Stop::Terminal { outcome: "needs_review".into(), path },
            Some(n) => id = n.to_string(),
            None => return Stop::Terminal { outcome: "needs_review".into(), path },
        }
    }
    Stop::Terminal { outcome: "needs_review".into(), path }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> Graph {
        serde_json::from_value(json!({
            "entry": "s",
            "nodes": {
                "s": { "type": "start", "next": "age" },
                "age": { "type": "policy", "policy": "age_verification", "on_pass": "risk", "on_fail": "no" },
                "risk": { "type": "conditional", "conditions": [
                    { "field": "risk_score", "op": ">=", "value": 51, "next": "gate" }
                ], "default": "yes" },
                "gate": { "type": "wait", "next": "yes", "on_fail": "review" },
                "yes": { "type": "terminal", "outcome": "approved" },
                "no": { "type": "terminal", "outcome": "rejected" }
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_valid_graph_walks_by_check_status_and_conditions() {
        let g = graph();
        validate(&g).unwrap();
        let ctx =
            |age: &str, risk: i64| json!({ "checks": { "age_verification": { "status": age } }, "risk_score": risk });
        let walk_with = |c: Value| walk(&g, "s", c.as_object().unwrap());
        assert!(matches!(walk_with(ctx("passed", 10)), Stop::Terminal { ref outcome, .. } if outcome == "approved"));
        assert!(matches!(walk_with(ctx("failed", 10)), Stop::Terminal { ref outcome, .. } if outcome == "rejected"));
        assert!(matches!(walk_with(ctx("passed", 70)), Stop::Wait { ref node, .. } if node == "gate"));
    }

    #[test]
    fn cycles_missing_nodes_and_two_starts_are_refused() {
        let mut g = graph();
        g.nodes.insert("yes".into(), json!({ "type": "conditional", "conditions": [], "default": "age" }));
        assert!(validate(&g).is_err());
        let mut g = graph();
        g.nodes.insert("s2".into(), json!({ "type": "start", "next": "yes" }));
        assert!(validate(&g).is_err());
        let mut g = graph();
        g.nodes.insert(
            "age".into(),
            json!({ "type": "policy", "policy": "age_verification", "on_pass": "nowhere", "on_fail": "no" }),
        );
        assert!(validate(&g).is_err());
    }
}

// ---------------------------------------------------------------------------------------------------------
// The graph as the API reads and writes it (spec §1.5.3): typed node fields, other node settings kept as
// given.
// ---------------------------------------------------------------------------------------------------------

/// A verification policy (a check a workflow can run); `auto_approve` lets the check pipeline decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    DocumentOcr,
    DocumentExpiration,
    AgeVerification,
    FaceMatch,
    DuplicateDetection,
    RiskAssessment,
    WatchlistScreening,
    IdentityCrossref,
    CheckAgainstList,
    AutoApprove,
}

impl Policy {
    pub const ALL: [Policy; 10] = [
        Policy::DocumentOcr,
        Policy::DocumentExpiration,
        Policy::AgeVerification,
        Policy::FaceMatch,
        Policy::DuplicateDetection,
        Policy::RiskAssessment,
        Policy::WatchlistScreening,
        Policy::IdentityCrossref,
        Policy::CheckAgainstList,
        Policy::AutoApprove,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::DocumentOcr => "document_ocr",
            Policy::DocumentExpiration => "document_expiration",
            Policy::AgeVerification => "age_verification",
            Policy::FaceMatch => "face_match",
            Policy::DuplicateDetection => "duplicate_detection",
            Policy::RiskAssessment => "risk_assessment",
            Policy::WatchlistScreening => "watchlist_screening",
            Policy::IdentityCrossref => "identity_crossref",
            Policy::CheckAgainstList => "check_against_list",
            Policy::AutoApprove => "auto_approve",
        }
    }
}

/// The kind of a graph node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeType {
    Start,
    Policy,
    Conditional,
    Wait,
    Terminal,
}

/// The outcome of a terminal node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TerminalOutcome {
    Approved,
    Rejected,
    NeedsReview,
}

/// A comparison of a conditional node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ConditionOp {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "in")]
    In,
    #[serde(rename = "not_in")]
    NotIn,
    #[serde(rename = "contains")]
    Contains,
    #[serde(rename = "exists")]
    Exists,
}

/// One condition of a conditional node; the first that holds chooses `next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A dotted path into the session's check results and data, e.g. `risk_assessment.score`.
    #[schema(example = "risk_assessment.score")]
    pub field: String,
    pub op: ConditionOp,
    /// The value compared with (any JSON value; a list for `in`/`not_in`; unused by `exists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, required = false)]
    pub value: Option<Value>,
    /// The node to go to (or `review` / `reject`).
    pub next: String,
}

/// One node of a workflow graph. Which fields a node needs depends on its type: `start` and `wait` need
/// `next` (a wait node's `on_fail` is `review`, `reject` or a node id); `policy` needs `policy` and, except
/// for `auto_approve` (which takes `checks`), `on_pass` and `on_fail`; `conditional` needs `default` and
/// takes `conditions`; `terminal` needs `outcome`. Node references name another node, or `review` /
/// `reject`. Other keys are node settings and are kept as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkflowNode {
    #[serde(rename = "type")]
    pub node_type: NodeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub policy: Option<Policy>,
    /// The policies an `auto_approve` node runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub checks: Option<Vec<Policy>>,
    /// The lists a `check_against_list` node checks (none: every active list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub list_ids: Option<Vec<crate::domain::ids::ListId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub on_pass: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub on_fail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub on_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub on_skipped: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub conditions: Option<Vec<Condition>>,
    /// A conditional node's fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    pub outcome: Option<TerminalOutcome>,
    /// Other node settings, kept as given.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
}

/// A workflow graph (a DAG): exactly one `start` node, which `entry` names; no cycles; every path ends in
/// a `terminal` node (or an `auto_approve` policy node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowGraph {
    /// The start node's id.
    #[schema(example = "start")]
    pub entry: String,
    /// Node id -> node.
    pub nodes: BTreeMap<String, WorkflowNode>,
}

impl WorkflowGraph {
    /// The stored form.
    pub fn to_graph(&self) -> Result<Graph, AppError> {
        let nodes = self
            .nodes
            .iter()
            .map(|(k, n)| Ok((k.clone(), serde_json::to_value(n)?)))
            .collect::<Result<BTreeMap<_, _>, serde_json::Error>>()
            .map_err(|e| AppError::Internal(format!("graph: {e}")))?;
        Ok(Graph { entry: self.entry.clone(), nodes })
    }

    /// Read back from the stored form.
    pub fn from_graph(g: &Graph) -> Result<Self, AppError> {
        let nodes = g
            .nodes
            .iter()
            .map(|(k, n)| Ok((k.clone(), serde_json::from_value(n.clone())?)))
            .collect::<Result<BTreeMap<_, _>, serde_json::Error>>()
            .map_err(|e| AppError::Internal(format!("stored workflow graph: {e}")))?;
        Ok(WorkflowGraph { entry: g.entry.clone(), nodes })
    }
}

// ---------------------------------------------------------------------------------------------------------
// The workflow aggregate: events (a versioned contract), state, commands and `decide`.
// ---------------------------------------------------------------------------------------------------------

/// A workflow definition as given: the legacy steps list or a graph.
#[derive(Debug, Clone)]
pub enum Definition {
    Steps(Vec<Policy>),
    Graph(WorkflowGraph),
}

impl Definition {
    /// The stored format name, the steps (legacy format only) and the validated graph.
    pub fn graph(&self) -> Result<(String, Option<Vec<String>>, Graph), AppError> {
        match self {
            Definition::Steps(s) => {
                let s: Vec<String> = s.iter().map(|p| p.as_str().to_string()).collect();
                let g = graph_from_steps(&s)?;
                Ok(("steps".into(), Some(s), g))
            }
            Definition::Graph(g) => {
                let g = g.to_graph()?;
                validate(&g)?;
                Ok(("graph".into(), None, g))
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkflowCreated {
    pub name: String,
    pub description: Option<String>,
    pub data_requirements: Map<String, Value>,
    pub screening_settings: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VersionDrafted {
    pub version: i64,
    /// `steps` (the legacy list, kept in `steps`) or `graph`.
    pub format: String,
    pub steps: Option<Vec<String>>,
    pub graph: Graph,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Published {
    pub version: i64,
}

/// Descriptive fields changed; only the keys present changed (`description: null` clears it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct WorkflowUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::domain::double_option")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_requirements: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screening_settings: Option<Map<String, Value>>,
}

impl WorkflowUpdated {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.data_requirements.is_none()
            && self.screening_settings.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum WorkflowEvent {
    Created(WorkflowCreated),
    VersionDrafted(VersionDrafted),
    Published(Published),
    Updated(WorkflowUpdated),
    SetDefault,
    Deactivated,
}

/// The newest version of every workflow event.
pub const WORKFLOW_EVENT_VERSION: i64 = 1;

impl WorkflowEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            WorkflowEvent::Created(_) => "WorkflowCreated",
            WorkflowEvent::VersionDrafted(_) => "WorkflowVersionDrafted",
            WorkflowEvent::Published(_) => "WorkflowPublished",
            WorkflowEvent::Updated(_) => "WorkflowUpdated",
            WorkflowEvent::SetDefault => "WorkflowSetDefault",
            WorkflowEvent::Deactivated => "WorkflowDeactivated",
        }
    }

    pub fn version(&self) -> i64 {
        WORKFLOW_EVENT_VERSION
    }

    pub fn payload(&self) -> Value {
        let value = match self {
            WorkflowEvent::Created(e) => serde_json::to_value(e),
            WorkflowEvent::VersionDrafted(e) => serde_json::to_value(e),
            WorkflowEvent::Published(e) => serde_json::to_value(e),
            WorkflowEvent::Updated(e) => serde_json::to_value(e),
            WorkflowEvent::SetDefault | WorkflowEvent::Deactivated => Ok(Value::Object(Map::new())),
        };
        value.unwrap_or(Value::Null)
    }

    /// Decodes a stored event, upcasting older versions. Unknown types give `None`; an unknown version or
    /// a payload that does not fit is an error naming the event.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        use crate::domain::codec;
        if !event_type.starts_with("Workflow") {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, WORKFLOW_EVENT_VERSION, codec::no_steps)?;
        Ok(Some(match event_type {
            "WorkflowCreated" => WorkflowEvent::Created(codec::payload(event_type, p)?),
            "WorkflowVersionDrafted" => WorkflowEvent::VersionDrafted(codec::payload(event_type, p)?),
            "WorkflowPublished" => WorkflowEvent::Published(codec::payload(event_type, p)?),
            "WorkflowUpdated" => WorkflowEvent::Updated(codec::payload(event_type, p)?),
            "WorkflowSetDefault" => WorkflowEvent::SetDefault,
            "WorkflowDeactivated" => WorkflowEvent::Deactivated,
            _ => return Ok(None),
        }))
    }
}

/// A stored version of a workflow and whether it is the published one (a superseded version may be
/// published again).
#[derive(Debug, Clone, PartialEq)]
pub struct VersionState {
    pub version: i64,
    pub published: bool,
}

/// The decision-relevant state of one workflow, loaded from its view rows.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowState {
    pub id: String,
    pub is_default: bool,
    pub versions: Vec<VersionState>,
}

impl WorkflowState {
    fn latest(&self) -> i64 {
        self.versions.iter().map(|v| v.version).max().unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub enum WorkflowCommand {
    /// Version 1, drafted and published at once.
    Create {
        created: WorkflowCreated,
        definition: Definition,
        is_default: bool,
    },
    Update {
        fields: WorkflowUpdated,
        definition: Option<Definition>,
        /// Publish the new definition at once (otherwise it stays a draft until /publish).
        publish: bool,
        set_default: bool,
    },
    /// Publishes a draft (the latest version when `None`).
    Publish(Option<i64>),
    SetDefault,
    Deactivate,
}

/// A workflow name: 1 to 200 characters after trimming, no control characters.
fn workflow_name(text: &str) -> Result<String, AppError> {
    super::values::parse_text("name", text, 200).map_err(|e| AppError::validation(&e.field, e.message))
}

fn drafted(version: i64, definition: &Definition) -> Result<WorkflowEvent, AppError> {
    let (format, steps, graph) = definition.graph()?;
    Ok(WorkflowEvent::VersionDrafted(VersionDrafted { version, format, steps, graph }))
}

pub fn decide(
    state: Option<&WorkflowState>,
    command: WorkflowCommand,
    _ctx: &super::Ctx,
) -> Result<Vec<WorkflowEvent>, AppError> {
    use WorkflowCommand as C;
    let Some(state) = state else {
        return match command {
            C::Create { mut created, definition, is_default } => {
                created.name = workflow_name(&created.name)?;
                let mut events = vec![
                    WorkflowEvent::Created(created),
                    drafted(1, &definition)?,
                    WorkflowEvent::Published(Published { version: 1 }),
                ];
                if is_default {
                    events.push(WorkflowEvent::SetDefault);
                }
                Ok(events)
            }
            _ => Err(AppError::not_found("Workflow")),
        };
    };
    match command {
        C::Create { .. } => Err(AppError::Conflict("A workflow with this id already exists.".into())),
        C::Update { mut fields, definition, publish, set_default } => {
            if let Some(n) = &fields.name {
                fields.name = Some(workflow_name(n)?);
            }
            let mut events = Vec::new();
            if !fields.is_empty() {
                events.push(WorkflowEvent::Updated(fields));
            }
            if let Some(def) = &definition {
                let next = state.latest() + 1;
                events.push(drafted(next, def)?);
                if publish {
                    events.push(WorkflowEvent::Published(Published { version: next }));
                }
            }
            if set_default {
                events.push(WorkflowEvent::SetDefault);
            }
            Ok(events)
        }
        C::Publish(version) => {
            let v = version.unwrap_or(state.latest());
            match state.versions.iter().find(|s| s.version == v) {
                None => Err(AppError::not_found("Workflow version")),
                Some(s) if s.published => Err(AppError::Conflict(format!("Version {v} is already published."))),
                Some(_) => Ok(vec![WorkflowEvent::Published(Published { version: v })]),
            }
        }
        C::SetDefault => Ok(vec![WorkflowEvent::SetDefault]),
        C::Deactivate => {
            if state.is_default {
                return Err(AppError::Conflict(
                    "The default workflow cannot be deactivated; make another one the default first.".into(),
                ));
            }
            Ok(vec![WorkflowEvent::Deactivated])
        }
    }
}

#[cfg(test)]
mod aggregate_tests {
    use super::*;

    fn ctx() -> crate::domain::Ctx {
        crate::domain::Ctx { now: "2026-01-01T00:00:00Z".into(), environment: "sandbox".into() }
    }

    fn steps() -> Definition {
        Definition::Steps(vec![Policy::AgeVerification])
    }

    fn state(is_default: bool) -> WorkflowState {
        WorkflowState {
            id: "wf_a".into(),
            is_default,
            versions: vec![VersionState { version: 1, published: true }, VersionState { version: 2, published: false }],
        }
    }

    #[test]
    fn creating_drafts_and_publishes_version_one_with_the_exact_payloads() {
        let created = WorkflowCreated {
            name: "  KYC  ".into(),
            description: None,
            data_requirements: Map::new(),
            screening_settings: Map::new(),
        };
        let events =
            decide(None, WorkflowCommand::Create { created, definition: steps(), is_default: true }, &ctx()).unwrap();
        let types: Vec<&str> = events.iter().map(WorkflowEvent::event_type).collect();
        assert_eq!(types, ["WorkflowCreated", "WorkflowVersionDrafted", "WorkflowPublished", "WorkflowSetDefault"]);
        assert_eq!(
            events[0].payload(),
            json!({ "name": "KYC", "description": null, "data_requirements": {}, "screening_settings": {} })
        );
        assert_eq!(events[2].payload(), json!({ "version": 1 }));
        assert_eq!(events[3].payload(), json!({}));
        assert_eq!(events[1].payload()["format"], "steps");
        assert_eq!(events[1].payload()["steps"], json!(["age_verification"]));
    }

    #[test]
    fn an_update_drafts_after_the_latest_version_and_keeps_only_the_given_fields() {
        let fields = WorkflowUpdated { description: Some(None), ..Default::default() };
        let cmd = WorkflowCommand::Update { fields, definition: Some(steps()), publish: true, set_default: false };
        let events = decide(Some(&state(false)), cmd, &ctx()).unwrap();
        assert_eq!(events[0].payload(), json!({ "description": null }));
        assert_eq!(events[1].payload()["version"], 3);
        assert_eq!(events[2], WorkflowEvent::Published(Published { version: 3 }));
        let nothing = WorkflowCommand::Update {
            fields: Default::default(),
            definition: None,
            publish: false,
            set_default: false,
        };
        assert!(decide(Some(&state(false)), nothing, &ctx()).unwrap().is_empty());
    }

    #[test]
    fn publishing_needs_an_existing_draft_and_the_default_cannot_be_deactivated() {
        assert_eq!(
            decide(Some(&state(false)), WorkflowCommand::Publish(None), &ctx()).unwrap(),
            vec![WorkflowEvent::Published(Published { version: 2 })]
        );
        assert!(matches!(
            decide(Some(&state(false)), WorkflowCommand::Publish(Some(1)), &ctx()),
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(
            decide(Some(&state(false)), WorkflowCommand::Publish(Some(9)), &ctx()),
            Err(AppError::NotFound(_))
        ));
        assert!(decide(Some(&state(true)), WorkflowCommand::Deactivate, &ctx()).is_err());
        assert_eq!(
            decide(Some(&state(false)), WorkflowCommand::Deactivate, &ctx()).unwrap(),
            vec![WorkflowEvent::Deactivated]
        );
    }

    #[test]
    fn stored_events_decode_and_round_trip_and_unknown_versions_are_refused() {
        for e in [
            WorkflowEvent::Published(Published { version: 4 }),
            WorkflowEvent::Updated(WorkflowUpdated { name: Some("x".into()), ..Default::default() }),
            WorkflowEvent::SetDefault,
            WorkflowEvent::Deactivated,
        ] {
            assert_eq!(WorkflowEvent::decode(e.event_type(), 1, &e.payload()).unwrap(), Some(e.clone()));
        }
        assert!(WorkflowEvent::decode("WorkflowPublished", 2, &json!({ "version": 1 })).is_err());
        assert!(WorkflowEvent::decode("WorkflowPublished", 1, &json!({ "version": "one" })).is_err());
        assert_eq!(WorkflowEvent::decode("SessionCreated", 1, &json!({})).unwrap(), None);
    }
}
