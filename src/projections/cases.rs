//! The case views (`cases`, `case_notes`) from case events, and the org audit log
//! (`audit_log`) from every event: a dotted action, the resource and a small PII-free summary. Must not
//! read the clock, seal or open anything (sealed text is stored as it arrives), or write other tables.

use crate::domain::case::{status_after, CaseEvent, CaseStatus};
use crate::error::AppResult;
use crate::store::events::StoredEvent;
use crate::store::Exec;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

pub fn apply(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let Some(ev) = CaseEvent::decode(&event.event_type, event.event_version, &event.payload)
        .map_err(|e| super::undecodable(event, e))?
    else {
        return Ok(());
    };
    let (id, at) = (event.stream_id.as_str(), event.recorded_at.as_str());
    if let CaseEvent::Created(c) = &ev {
        conn.exec(
            "INSERT INTO cases (id, environment, stream_seq, session_id, identity_id, status, last_activity_at,
                                entered_review_at, is_demo, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, ?6, ?6)",
            params![
                id,
                event.environment,
                event.stream_seq,
                c.session_id,
                c.identity_id,
                at,
                c.entered_review_at,
                c.demo
            ],
        )?;
        return Ok(());
    }
    let current: Option<String> = conn.row("SELECT status FROM cases WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    let Some(current) = current else { return Ok(()) };
    let before = CaseStatus::from_stored(&current)?;
    let after = status_after(before, &ev);
    conn.exec(
        "UPDATE cases SET stream_seq = ?1, status = ?2, updated_at = ?3, last_activity_at = ?3 WHERE id = ?4",
        params![event.stream_seq, after.as_str(), at, id],
    )?;
    match &ev {
        CaseEvent::Created(_) => {}
        CaseEvent::Updated(u) => {
            if let Some(m) = &u.metadata {
                conn.exec(
                    "UPDATE cases SET metadata = ?1 WHERE id = ?2",
                    params![Value::Object(m.clone()).to_string(), id],
                )?;
            }
            if let Some(t) = &u.tags {
                conn.exec("UPDATE cases SET tags = ?1 WHERE id = ?2", params![json!(t).to_string(), id])?;
            }
        }
        CaseEvent::Claimed(c) => {
            conn.exec(
                "UPDATE cases SET assigned_to = ?1, claimed_at = ?2 WHERE id = ?3",
                params![c.reviewer_id, at, id],
            )?;
        }
        CaseEvent::Released(_) => {
            conn.exec("UPDATE cases SET assigned_to = NULL, claimed_at = NULL WHERE id = ?1", [id])?;
        }
        CaseEvent::Escalated(e) => {
            conn.exec(
                "UPDATE cases SET escalated_to = ?1, escalation_reason = ?2, escalation_notes = ?3, escalated_at = ?4,
                    assigned_to = NULL, claimed_at = NULL
                 WHERE id = ?5",
                params![e.escalated_to, e.reason, e.notes, at, id],
            )?;
        }
        CaseEvent::Decided(d) if d.recommendation => {
            // The second review is someone else's: the case goes back to the queue of that tab.
            conn.exec(
                "UPDATE cases SET recommendation = ?1, recommended_by = ?2, recommended_at = ?3,
                    decision_notes = ?4, rejection_reason = ?5, assigned_to = NULL, claimed_at = NULL
                 WHERE id = ?6",
                params![d.decision, d.reviewer_id, at, d.notes, d.rejection_reason, id],
            )?;
        }
        CaseEvent::Decided(d) => {
            conn.exec(
                "UPDATE cases SET decision = ?1, decided_by = ?2, decided_at = ?3, decision_notes = ?4,
                    rejection_reason = ?5
                 WHERE id = ?6",
                params![d.decision, d.reviewer_id, at, d.notes, d.rejection_reason, id],
            )?;
        }
        CaseEvent::NoteAdded(n) => {
            conn.exec(
                "INSERT INTO case_notes (id, case_id, environment, author, body, event_seq, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![n.note_id, id, event.environment, n.author, n.body, event.seq, at],
            )?;
        }
        CaseEvent::CheckOverridden(o) => {
            let entry = json!({"check_name": o.check_name, "reviewer_id": o.reviewer_id, "reason": o.reason, "at": at});
            append_json(conn, id, "overrides", entry)?;
        }
        CaseEvent::PiiCorrected(p) => {
            let entry = json!({"fields": p.fields, "reviewer_id": p.reviewer_id, "reason": p.reason, "at": at});
            append_json(conn, id, "pii_corrections", entry)?;
        }
    }
    Ok(())
}

fn append_json(conn: &Connection, id: &str, column: &str, entry: Value) -> AppResult<()> {
    let text: String = conn.row(&format!("SELECT {column} FROM cases WHERE id = ?1"), [id], |r| r.get(0))?;
    let mut list: Vec<Value> = serde_json::from_str(&text).unwrap_or_default();
    list.push(entry);
    conn.exec(&format!("UPDATE cases SET {column} = ?1 WHERE id = ?2"), params![Value::Array(list).to_string(), id])?;
    Ok(())
}

// ------------------------------------------------------------------------------------------ audit log

/// Stored type prefixes and the resource type they name, longest first (`IdentityType` before `Identity`).
const RESOURCES: &[(&str, &str)] = &[
    ("WebhookEndpoint", "webhook_endpoint"),
    ("RelationshipType", "relationship_type"),
    ("IdentityType", "identity_type"),
    ("CustomField", "custom_field"),
    ("CustomList", "list"),
    ("ListMatch", "list_match"),
    ("Relationship", "relationship"),
    ("Identity", "identity"),
    ("Session", "session"),
    ("Workflow", "workflow"),
    ("Settings", "settings"),
    ("ApiKey", "api_key"),
    ("Watchlist", "watchlist"),
    ("Check", "check"),
    ("Case", "case"),
    ("OrgUser", "org_user"),
    ("DocumentType", "document_type"),
    ("DocumentGroup", "document_group"),
    ("Document", "document"),
    ("Mcp", "mcp"),
    ("Finding", "finding"),
];

fn snake(text: &str) -> String {
    let mut out = String::new();
    for (i, ch) in text.chars().enumerate() {
        if ch.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The resource type and dotted action of a stored event type: `IdentityCreated` -> (`identity`,
/// `identity.created`). Decisions are named by their outcome, as the webhooks name them.
pub fn action_of(event_type: &str, payload: &Value) -> (String, String) {
    let (prefix, resource) =
        RESOURCES.iter().find(|(p, _)| event_type.starts_with(p)).copied().unwrap_or(("", "event"));
    let rest = &event_type[prefix.len()..];
    let verb = match event_type {
        "SessionDecided" => match payload["outcome"]["status"].as_str() {
            Some("approved") => "approved".to_string(),
            Some("needs_review") => "requires-review".to_string(),
            _ => "declined".to_string(),
        },
        "CaseDecided" if payload["recommendation"] == json!(true) => "recommended".to_string(),
        "CaseDecided" => payload["decision"].as_str().unwrap_or("decided").to_string(),
        // Exports carry the spec's audited action names (§1.16).
        "IdentityExported" => return (resource.to_string(), "api.identity.export".into()),
        "SessionExported" => return (resource.to_string(), "api.session.export".into()),
        _ => snake(rest),
    };
    (resource.to_string(), format!("{resource}.{verb}"))
}

/// Copies the named plain (non-PII) fields of a payload: statuses, ids and names of fields.
fn summary(event_type: &str, p: &Value) -> Value {
    let keys: &[&str] = match event_type {
        "SessionDecided" => &["to", "case_id"],
        "SessionStatusChanged" => &["from", "to", "reason"],
        "CaseCreated" => &["session_id", "identity_id", "demo"],
        "CaseClaimed" => &["reviewer_id", "how", "status"],
        "CaseReleased" => &["reason", "status"],
        "CaseEscalated" => &["escalated_to"],
        "CaseDecided" => &["decision", "reviewer_id", "recommendation"],
        "CaseNoteAdded" => &["note_id", "author"],
        "CaseCheckOverridden" => &["check_name", "reviewer_id"],
        "CasePiiCorrected" => &["reviewer_id", "fields", "identity_id"],
        "IdentityVerified" => &["session_id", "status"],
        "RelationshipCreated" => &["relationship_type"],
        // An MCP tool call: what was called, on which ids, how it ended; marked as an agent action.
        "McpToolCalled" => &["tool", "toolset", "kind", "agent", "outcome", "status", "targets", "reason"],
        _ => &[],
    };
    let mut out = serde_json::Map::new();
    for k in keys {
        if let Some(v) = p.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    if event_type == "SessionDecided" {
        out.insert("result_status".into(), p["outcome"]["status"].clone());
    }
    if event_type == "IdentityUpdated" || event_type == "IdentityRedacted" {
        if let Some(changed) = p.get("changed") {
            out.insert("changed".into(), changed.clone());
        }
    }
    Value::Object(out)
}

/// One audit row per stored event.
pub fn audit(conn: &Connection, event: &StoredEvent) -> AppResult<()> {
    let (resource, action) = action_of(&event.event_type, &event.payload);
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, event_id, environment, action, resource_type, resource_id, actor, metadata, recorded_at,
                                ip_address, request_method, request_path)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        event.seq,
        event.event_id,
        event.environment,
        action,
        resource,
        event.stream_id,
        event.actor,
        summary(&event.event_type, &event.payload).to_string(),
        event.recorded_at,
        event.origin.as_ref().and_then(|o| o.ip.as_deref()),
        event.origin.as_ref().map(|o| o.method.as_str()),
        event.origin.as_ref().map(|o| o.path.as_str()),
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_names_its_resource() {
        let fixture = include_str!("../../fixtures/events/golden-aggregates-v1.jsonl");
        let mut types: Vec<String> = fixture
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|e| e["event_type"].as_str().map(str::to_string))
            .collect();
        types.extend(["OrgUserCreated", "OrgUserLoggedIn", "SessionExported", "McpToolCalled"].map(String::from));
        assert!(types.len() > 20, "{types:?}");
        for t in types {
            let (resource, action) = action_of(&t, &json!({}));
            assert_ne!(resource, "event", "{t} has no resource in RESOURCES");
            assert!(!action.starts_with("event."), "{t}: {action}");
        }
        assert_eq!(action_of("OrgUserLoggedIn", &json!({})).1, "org_user.logged_in");
    }

    #[test]
    fn event_types_map_to_dotted_actions() {
        assert_eq!(action_of("IdentityCreated", &json!({})), ("identity".into(), "identity.created".into()));
        assert_eq!(
            action_of("IdentityTypeCreated", &json!({})),
            ("identity_type".into(), "identity_type.created".into())
        );
        assert_eq!(
            action_of("SessionDecided", &json!({"outcome": {"status": "approved"}})),
            ("session".into(), "session.approved".into())
        );
        assert_eq!(action_of("CaseDecided", &json!({"decision": "rejected"})).1, "case.rejected");
        assert_eq!(action_of("CaseCheckOverridden", &json!({})).1, "case.check_overridden");
        assert_eq!(action_of("WebhookEndpointSecretRotated", &json!({})).1, "webhook_endpoint.secret_rotated");
    }
}
