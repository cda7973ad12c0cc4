//! The audit record of an MCP tool call (spec §1.16, §1.18: every tool call is audited):
//! the `McpToolCalled` event, its version and payload. PII-free by construction: the tool, its toolset and
//! kind, the ids it named, the outcome, and a destructive call's written reason. Must not decide anything
//! about the call itself.

use super::codec;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const TOOL_CALLED: &str = "McpToolCalled";
const VERSION: i64 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCalled {
    pub tool: String,
    pub toolset: String,
    /// `read`, `write` or `destructive`.
    pub kind: String,
    /// Always true: the audit log's mark of an action taken by an MCP client for the key's holder.
    pub agent: bool,
    /// `ok`, `error` (the operation answered with an error) or `refused` (scope, toolset, read_only, reason
    /// or the hourly destructive cap).
    pub outcome: String,
    /// The operation's HTTP status, when it ran.
    pub status: Option<u16>,
    /// The ids the call named (`ses_...`, `case_...`); never free text.
    pub targets: Vec<String>,
    /// A destructive call's written reason.
    pub reason: Option<String>,
}

impl ToolCalled {
    pub fn event_type(&self) -> &'static str {
        TOOL_CALLED
    }

    pub fn version(&self) -> i64 {
        VERSION
    }

    pub fn payload(&self) -> Value {
        // A struct of strings, numbers and lists always serialises.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The typed event of a stored `McpToolCalled` row; `None` for any other type.
    pub fn decode(event_type: &str, version: i64, payload: &Value) -> Result<Option<ToolCalled>, serde_json::Error> {
        if event_type != TOOL_CALLED {
            return Ok(None);
        }
        let p = codec::upcast(event_type, version, payload, VERSION, codec::no_steps)?;
        codec::payload(event_type, p).map(Some)
    }
}

/// Whether `text` is one of idv's ids (`ses_01J9...`): what a tool call's targets may hold.
pub fn is_id(text: &str) -> bool {
    match text.split_once('_') {
        Some((prefix, rest)) => {
            !prefix.is_empty()
                && prefix.len() <= 10
                && prefix.bytes().all(|b| b.is_ascii_lowercase())
                && rest.len() == 26
                && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_round_trips_and_refuses_an_unknown_version() {
        let e = ToolCalled {
            tool: "get_session".into(),
            toolset: "sessions".into(),
            kind: "read".into(),
            agent: true,
            outcome: "ok".into(),
            status: Some(200),
            targets: vec!["ses_01J9ZQ4X8Y2K3M4N5P6Q7R8S9T".into()],
            reason: None,
        };
        assert_eq!(ToolCalled::decode(TOOL_CALLED, 1, &e.payload()).unwrap(), Some(e.clone()));
        assert_eq!(ToolCalled::decode("SessionCreated", 1, &e.payload()).unwrap(), None);
        assert!(ToolCalled::decode(TOOL_CALLED, 2, &e.payload()).is_err());
        assert!(is_id("ses_01J9ZQ4X8Y2K3M4N5P6Q7R8S9T"));
        assert!(!is_id("zeb.q@example.test") && !is_id("cust_1"));
    }
}
