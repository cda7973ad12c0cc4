//! The only write path. Each command parses nothing (inputs arrive validated), seals PII, loads state
//! from the views inside the writer's transaction, calls the aggregate's pure `decide`, and emits the
//! events through `WriteCtx::emit`. Must not render HTTP responses.

pub mod api_keys;
pub mod capture_links;
pub mod cases;
pub mod checks;
pub mod documents;
pub mod findings;
pub mod identities;
pub mod lists;
pub mod mcp;
pub mod relationships;
pub mod retention;
pub mod session_decision;
pub mod sessions;
pub mod types;
pub mod users;
pub mod verifyhq;
pub mod watchlists;
pub mod webhooks;
pub mod workflows;
pub mod writer;

use crate::domain::Ctx;
use crate::store::events::EventMeta;
/// The request behind a command, recorded on its events (defined with the event row it is hashed into).
pub use crate::store::events::RequestOrigin;

/// Who is acting, where, when: built by the HTTP layer from the authenticated key and the clock.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    pub actor: String,
    pub environment: String,
    pub request_id: Option<String>,
    pub now: String,
    /// The HTTP request behind the command, for the audit log; `None` for the sweeper and the CLI.
    pub origin: Option<RequestOrigin>,
}

impl CommandMeta {
    /// A command not caused by an HTTP request (the sweeper, start-up, the CLI).
    pub fn untraced(actor: impl Into<String>, environment: impl Into<String>, now: impl Into<String>) -> Self {
        CommandMeta {
            actor: actor.into(),
            environment: environment.into(),
            request_id: None,
            now: now.into(),
            origin: None,
        }
    }

    pub fn event_meta(&self) -> EventMeta {
        EventMeta {
            actor: self.actor.clone(),
            environment: self.environment.clone(),
            request_id: self.request_id.clone(),
            recorded_at: self.now.clone(),
            origin: self.origin.clone(),
        }
    }

    pub fn ctx(&self) -> Ctx {
        Ctx { now: self.now.clone(), environment: self.environment.clone() }
    }
}
