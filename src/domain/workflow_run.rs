//! Workflow runs as pure functions over recorded evidence: the decision context conditional nodes test,
//! the auto-approve verdict read from recorded check results, what a graph decides for a session's
//! recorded facts (the dry-run of a draft), the per-node record of a recorded walk (the run projection
//! and analytics), and the difference between two graphs (a draft against the published version).
//! Must not read the database, the clock or run a check: everything arrives as values.

use super::vocabulary::vocabulary;
use super::workflow::{policies, walk, Graph, Stop};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

vocabulary!(
    /// Where a workflow run stands: walking its graph, paused at an external gate, decided, failed, or
    /// left unfinished when the session was processed again.
    RunStatus {
        Running = "running",
        AwaitingExternal = "awaiting_external",
        Completed = "completed",
        Failed = "failed",
        Interrupted = "interrupted",
    }
);

vocabulary!(
    /// What happened at a visited node. Policy nodes: the check's status (`passed`, `failed`, `error`,
    /// `skipped`); conditional nodes: `condition` (a condition held) or `default`; terminal and auto-approve
    /// nodes: the result status (`approved`, `declined`, `needs_review`); the start node: `started`; a wait
    /// node: `waiting`, then the external decision (`continue`, `fail`, `reject`; `decided` until the
    /// continued walk records where it went); `visited` when the node is not in the graph the run names.
    NodeResult {
        Started = "started",
        Passed = "passed",
        Failed = "failed",
        Error = "error",
        Skipped = "skipped",
        Condition = "condition",
        Default = "default",
        Waiting = "waiting",
        Decided = "decided",
        Continue = "continue",
        Fail = "fail",
        Reject = "reject",
        Approved = "approved",
        Declined = "declined",
        NeedsReview = "needs_review",
        Visited = "visited",
    }
);

vocabulary!(
    /// What a dry-run walk reached: a result status, or a pause at an external gate.
    DryRunOutcome {
        Approved = "approved",
        Declined = "declined",
        NeedsReview = "needs_review",
        AwaitingExternal = "awaiting_external",
    }
);

/// The facts a walk decides from, as processing has them and as a decided session records them.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub check_results: Option<&'a Map<String, Value>>,
    pub risk: Option<&'a Value>,
    pub extracted_age: Option<i64>,
    pub age_check_passed: Option<bool>,
    pub face_match_passed: Option<bool>,
    pub face_match_score: Option<f64>,
    pub duplicates: usize,
    pub document_type: Option<&'a str>,
    pub country: Option<&'a str>,
}

/// The facts conditional nodes may test (`checks.<policy>.status`, `risk_score`, `extracted_age`, ...).
pub fn decision_context(f: &Facts<'_>) -> Map<String, Value> {
    let risk = f.risk.cloned().unwrap_or(Value::Null);
    let mut ctx = Map::new();
    ctx.insert("checks".into(), Value::Object(f.check_results.cloned().unwrap_or_default()));
    ctx.insert("risk_score".into(), risk["risk_score"].clone());
    ctx.insert("risk_level".into(), risk["risk_level"].clone());
    ctx.insert("extracted_age".into(), json!(f.extracted_age));
    ctx.insert("age_check_passed".into(), json!(f.age_check_passed));
    ctx.insert("face_match_passed".into(), json!(f.face_match_passed));
    ctx.insert("face_match_score".into(), json!(f.face_match_score));
    ctx.insert("duplicates".into(), json!(f.duplicates));
    ctx.insert("document_type".into(), json!(f.document_type));
    ctx.insert("country".into(), json!(f.country));
    ctx
}

/// The number of duplicate matches a recorded `duplicate_detection` result lists.
pub fn recorded_duplicates(check_results: &Map<String, Value>) -> usize {
    check_results.get("duplicate_detection").and_then(|c| c["detail"]["matches"].as_array()).map(Vec::len).unwrap_or(0)
}

fn status_of<'a>(check_results: &'a Map<String, Value>, check: &str) -> Option<&'a str> {
    check_results.get(check).and_then(|c| c["status"].as_str())
}

/// The auto-approve verdict (`approved`, `declined` or `needs_review`) over the recorded results of
/// `checks`, by the pipeline's rules: a failed document, expiry, age or face check declines, as do a
/// critical risk and a blocking list; an unavailable face match, a duplicate, a high risk, a cross-reference
/// mismatch, a watchlist hit or error and a flagging list send to review.
pub fn auto_approve_verdict(check_results: &Map<String, Value>, checks: &[String]) -> &'static str {
    let mut review = false;
    for check in checks {
        let status = status_of(check_results, check);
        let result = check_results.get(check.as_str()).cloned().unwrap_or(Value::Null);
        let declines = match (check.as_str(), status) {
            ("document_ocr" | "document_expiration" | "age_verification" | "face_match", Some("failed")) => true,
            ("face_match", Some("error")) => {
                review = true;
                false
            }
            ("risk_assessment", Some("failed")) => {
                let critical = result["detail"]["risk_level"] == "critical" || result["risk_level"] == "critical";
                review |= !critical;
                critical
            }
            ("duplicate_detection" | "identity_crossref", Some("failed")) => {
                review = true;
                false
            }
            ("watchlist_screening", Some("failed" | "error")) => {
                review = true;
                false
            }
            ("check_against_list", _) => {
                review |= result["outcome"] == "flagged";
                result["outcome"] == "blocked"
            }
            _ => false,
        };
        if declines {
            return "declined";
        }
    }
    if review {
        "needs_review"
    } else {
        "approved"
    }
}

/// What a graph decides for one set of recorded facts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// `approved`, `declined` or `needs_review`; `awaiting_external` when the walk stops at a wait node.
    pub outcome: String,
    /// The nodes visited, in order.
    pub path: Vec<String>,
    /// The wait node the walk stopped at, if any.
    pub waiting_at: Option<String>,
    /// Policies the graph runs that the recorded evidence has no result for (the walk saw them as
    /// skipped).
    pub unevaluated_policies: Vec<String>,
}

/// The minimum age a graph sets (a node's `minimum_age`, as processing reads it; 18 otherwise).
pub fn minimum_age(graph: &Graph) -> i64 {
    graph.nodes.values().find_map(|n| n.get("minimum_age").and_then(Value::as_i64)).unwrap_or(18)
}

/// Walks `graph` from its entry over recorded facts: the engine's walk, with the auto-approve verdict
/// read from the recorded check results of the policies the graph runs. The age check is judged again
/// against the graph's minimum age when the recorded age is known (a draft may change it); the other
/// checks stand as recorded. Pure: the dry-run of a draft.
pub fn evaluate(graph: &Graph, facts: &Facts<'_>) -> Evaluation {
    let mut results = facts.check_results.cloned().unwrap_or_default();
    let runs = policies(graph);
    let mut facts = facts.clone();
    if let (Some(age), true) = (facts.extracted_age, runs.iter().any(|p| p == "age_verification")) {
        let (minimum, passed) = (minimum_age(graph), age >= minimum_age(graph));
        let status = if passed { "passed" } else { "failed" };
        let mut check = results.get("age_verification").cloned().unwrap_or_else(|| json!({}));
        check["status"] = json!(status);
        check["passed"] = json!(passed);
        check["detail"] = json!({ "minimum_age": minimum, "age": age });
        results.insert("age_verification".into(), check);
        facts.age_check_passed = Some(passed);
    }
    facts.check_results = Some(&results);
    let unevaluated_policies = runs.iter().filter(|p| !results.contains_key(p.as_str())).cloned().collect();
    let stop = walk(graph, &graph.entry, &decision_context(&facts));
    let (outcome, path, waiting_at) = match stop {
        Stop::Terminal { outcome, path } => (terminal_status(&outcome).to_string(), path, None),
        Stop::AutoApprove { path } => (auto_approve_verdict(&results, &runs).to_string(), path, None),
        Stop::Wait { node, path } => ("awaiting_external".to_string(), path, Some(node)),
    };
    Evaluation { outcome, path, waiting_at, unevaluated_policies }
}

/// A terminal node's outcome as a result status (`rejected` declines).
pub fn terminal_status(outcome: &str) -> &'static str {
    match outcome {
        "approved" => "approved",
        "rejected" => "declined",
        _ => "needs_review",
    }
}

/// One node of a recorded walk: what kind of node it was and what happened there.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStep {
    pub node: String,
    /// The node's type in the graph (None: the node is not in the graph the run names).
    pub node_type: Option<String>,
    pub policy: Option<String>,
    /// policy: the check's status (or the branch taken: passed, failed, error, skipped); conditional:
    /// `condition` or `default`; terminal and auto-approve: the result status; start: `started`; wait:
    /// `waiting`, later the external decision.
    pub result: String,
    /// The node the walk went to next (None at the end of the pass).
    pub next: Option<String>,
}

/// The per-node record of a walk over `path` in `graph`, with the pass's result status when it decided.
pub fn node_steps(
    graph: Option<&Graph>,
    path: &[String],
    check_results: &Map<String, Value>,
    decided: Option<&str>,
) -> Vec<NodeStep> {
    let mut out = Vec::with_capacity(path.len());
    for (i, id) in path.iter().enumerate() {
        let node = graph.and_then(|g| g.nodes.get(id));
        let next = path.get(i + 1).cloned();
        let node_type = node.and_then(|n| n["type"].as_str()).map(str::to_string);
        let policy = node.and_then(|n| n["policy"].as_str()).map(str::to_string);
        let last = i + 1 == path.len();
        let result = match (node_type.as_deref(), policy.as_deref()) {
            (Some("start"), _) => "started".to_string(),
            (Some("terminal"), _) => {
                terminal_status(node.and_then(|n| n["outcome"].as_str()).unwrap_or("")).to_string()
            }
            (Some("wait"), _) => "waiting".to_string(),
            (Some("policy"), Some("auto_approve")) => decided.unwrap_or("needs_review").to_string(),
            (Some("policy"), Some(p)) => match status_of(check_results, p) {
                Some(s @ ("passed" | "failed" | "error" | "skipped")) => s.to_string(),
                _ => branch_taken(node, next.as_deref(), last, decided),
            },
            (Some("conditional"), _) => {
                let default = node.and_then(|n| n["default"].as_str());
                if next.is_some() && next.as_deref() == default {
                    "default".to_string()
                } else {
                    "condition".to_string()
                }
            }
            _ => decided.filter(|_| last).unwrap_or("visited").to_string(),
        };
        out.push(NodeStep { node: id.clone(), node_type, policy, result, next });
    }
    out
}

/// Which edge of a policy node the walk took, when its check result was not recorded.
fn branch_taken(node: Option<&Value>, next: Option<&str>, last: bool, decided: Option<&str>) -> String {
    let Some(node) = node else { return "visited".into() };
    let target = match next {
        Some(n) => n.to_string(),
        // The walk ended here on a `review` or `reject` edge.
        None if last => match decided {
            Some("declined") => "reject".into(),
            _ => "review".into(),
        },
        None => return "visited".into(),
    };
    for (edge, result) in
        [("on_pass", "passed"), ("on_fail", "failed"), ("on_error", "error"), ("on_skipped", "skipped")]
    {
        if node.get(edge).and_then(Value::as_str) == Some(target.as_str()) {
            return result.into();
        }
    }
    "visited".into()
}

/// How a draft differs from the published version.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GraphDiff {
    pub entry_changed: Option<(String, String)>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Nodes in both whose settings differ: (node, [(setting, published value, draft value)]).
    pub changed: Vec<(String, Vec<(String, Value, Value)>)>,
    /// Policies the draft runs that the published version does not, and the reverse.
    pub policies_added: Vec<String>,
    pub policies_removed: Vec<String>,
}

impl GraphDiff {
    pub fn is_empty(&self) -> bool {
        self.entry_changed.is_none() && self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The difference from `published` to `draft`, node by node and setting by setting (in key order).
pub fn diff(published: &Graph, draft: &Graph) -> GraphDiff {
    let mut d = GraphDiff {
        entry_changed: (published.entry != draft.entry).then(|| (published.entry.clone(), draft.entry.clone())),
        ..Default::default()
    };
    for (id, node) in &draft.nodes {
        match published.nodes.get(id) {
            None => d.added.push(id.clone()),
            Some(old) if old != node => {
                let keys: BTreeSet<&String> = old
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .chain(node.as_object().into_iter().flat_map(|o| o.keys()))
                    .collect();
                let settings = keys
                    .into_iter()
                    .filter(|k| old.get(k.as_str()) != node.get(k.as_str()))
                    .map(|k| {
                        let before = old.get(k.as_str()).cloned().unwrap_or(Value::Null);
                        let after = node.get(k.as_str()).cloned().unwrap_or(Value::Null);
                        (k.clone(), before, after)
                    })
                    .collect();
                d.changed.push((id.clone(), settings));
            }
            Some(_) => {}
        }
    }
    d.removed = published.nodes.keys().filter(|k| !draft.nodes.contains_key(*k)).cloned().collect();
    let (before, after) = (policies(published), policies(draft));
    d.policies_added = after.iter().filter(|p| !before.contains(p)).cloned().collect();
    d.policies_removed = before.iter().filter(|p| !after.contains(p)).cloned().collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(min_age_branch: &str) -> Graph {
        serde_json::from_value(json!({
            "entry": "s",
            "nodes": {
                "s": { "type": "start", "next": "age" },
                "age": { "type": "policy", "policy": "age_verification", "on_pass": "risk", "on_fail": min_age_branch },
                "risk": { "type": "conditional", "conditions": [
                    { "field": "risk_score", "op": ">=", "value": 51, "next": "gate" }
                ], "default": "yes" },
                "gate": { "type": "wait", "next": "yes", "on_fail": "review" },
                "yes": { "type": "terminal", "outcome": "approved" },
                "no": { "type": "terminal", "outcome": "rejected" },
                "look": { "type": "terminal", "outcome": "needs_review" }
            }
        }))
        .unwrap()
    }

    fn results(age: &str) -> Map<String, Value> {
        json!({ "age_verification": { "status": age } }).as_object().cloned().unwrap()
    }

    #[test]
    fn recorded_facts_walk_the_same_graph_to_the_same_outcome_and_a_changed_edge_changes_it() {
        let r = results("failed");
        let risk = json!({ "risk_score": 10, "risk_level": "low" });
        let facts = Facts { check_results: Some(&r), risk: Some(&risk), ..Default::default() };
        let published = evaluate(&graph("no"), &facts);
        assert_eq!(published.outcome, "declined");
        assert_eq!(published.path, ["s", "age", "no"]);
        let draft = evaluate(&graph("look"), &facts);
        assert_eq!(draft.outcome, "needs_review");
        assert!(draft.unevaluated_policies.is_empty());
        let high = json!({ "risk_score": 70 });
        let passed = results("passed");
        let waits =
            evaluate(&graph("no"), &Facts { check_results: Some(&passed), risk: Some(&high), ..Default::default() });
        assert_eq!((waits.outcome.as_str(), waits.waiting_at.as_deref()), ("awaiting_external", Some("gate")));
    }

    #[test]
    fn a_draft_that_raises_the_minimum_age_judges_the_recorded_age_again() {
        let r = results("passed");
        let facts = Facts { check_results: Some(&r), extracted_age: Some(30), ..Default::default() };
        assert_eq!(evaluate(&graph("no"), &facts).outcome, "approved");
        let mut stricter = graph("no");
        stricter.nodes.get_mut("age").unwrap()["minimum_age"] = json!(40);
        let e = evaluate(&stricter, &facts);
        assert_eq!((e.outcome.as_str(), e.path.last().map(String::as_str)), ("declined", Some("no")));
        // Without a recorded age the recorded status stands.
        let unknown = Facts { check_results: Some(&r), ..Default::default() };
        assert_eq!(evaluate(&stricter, &unknown).outcome, "approved");
    }

    #[test]
    fn the_auto_approve_verdict_follows_the_pipeline_rules_over_the_checks_the_graph_runs() {
        let all = |r: Value| r.as_object().cloned().unwrap();
        let checks = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let r = all(json!({ "face_match": { "status": "error" }, "age_verification": { "status": "failed" } }));
        assert_eq!(auto_approve_verdict(&r, &checks(&["face_match", "age_verification"])), "declined");
        assert_eq!(auto_approve_verdict(&r, &checks(&["face_match"])), "needs_review");
        assert_eq!(auto_approve_verdict(&r, &checks(&["document_ocr"])), "approved");
        let risk = all(json!({ "risk_assessment": { "status": "failed", "detail": { "risk_level": "high" } } }));
        assert_eq!(auto_approve_verdict(&risk, &checks(&["risk_assessment"])), "needs_review");
        let critical =
            all(json!({ "risk_assessment": { "status": "failed", "detail": { "risk_level": "critical" } } }));
        assert_eq!(auto_approve_verdict(&critical, &checks(&["risk_assessment"])), "declined");
        let listed = all(json!({ "check_against_list": { "status": "passed", "outcome": "flagged" } }));
        assert_eq!(auto_approve_verdict(&listed, &checks(&["check_against_list"])), "needs_review");
        // A draft that runs a policy with no recorded result names it.
        let g = crate::domain::workflow::graph_from_steps(&checks(&["face_match", "auto_approve"])).unwrap();
        let e = evaluate(&g, &Facts::default());
        assert_eq!((e.outcome.as_str(), e.unevaluated_policies.clone()), ("approved", checks(&["face_match"])));
    }

    #[test]
    fn node_steps_name_each_result_and_fall_back_to_the_branch_taken() {
        let g = graph("no");
        let path: Vec<String> = ["s", "age", "risk", "gate"].iter().map(|s| s.to_string()).collect();
        let steps = node_steps(Some(&g), &path, &Map::new(), None);
        let results: Vec<&str> = steps.iter().map(|s| s.result.as_str()).collect();
        assert_eq!(results, ["started", "passed", "condition", "waiting"]);
        assert_eq!(steps[1].policy.as_deref(), Some("age_verification"));
        let path: Vec<String> = ["age", "no"].iter().map(|s| s.to_string()).collect();
        let steps = node_steps(Some(&g), &path, &results_map(), Some("declined"));
        assert_eq!(steps[0].result, "failed");
        assert_eq!(steps[1].result, "declined");
        assert_eq!(steps[1].node_type.as_deref(), Some("terminal"));
    }

    fn results_map() -> Map<String, Value> {
        results("failed")
    }

    #[test]
    fn the_diff_lists_added_removed_and_changed_nodes_with_each_setting() {
        let published = graph("no");
        let mut draft = graph("look");
        draft.nodes.remove("gate");
        draft.nodes.insert("extra".into(), json!({ "type": "terminal", "outcome": "approved" }));
        draft.nodes.insert("risk".into(), json!({ "type": "conditional", "conditions": [], "default": "yes" }));
        let d = diff(&published, &draft);
        assert_eq!(d.added, ["extra"]);
        assert_eq!(d.removed, ["gate"]);
        let changed: Vec<&str> = d.changed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(changed, ["age", "risk"]);
        assert_eq!(d.changed[0].1, vec![("on_fail".to_string(), json!("no"), json!("look"))]);
        assert!(diff(&published, &published).is_empty());
    }
}
