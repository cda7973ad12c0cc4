//! The MCP server's transport-free half (spec §1.18): JSON-RPC 2.0 messages and protocol-version
//! negotiation, MCP sessions, the tool table with its toolsets, scopes and input schemas, the connector-style
//! `search`/`fetch` shaping, and the filter that keeps personal data out of every tool result. The actix half
//! (`http::mcp`) authenticates, runs each tool's REST operation in-process and records the audit row.
//! Must not read or write storage (no SQL, no store, no crypto) and must not know actix.

pub mod connector;
pub mod pii;
pub mod protocol;
pub mod sessions;
pub mod tools;
