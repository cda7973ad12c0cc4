//! Records MCP tool calls in the log: one `McpToolCalled` event per call, appended to the calling key's
//! stream, so the audit view shows it (`mcp.tool_called`, actor `mcp:<key prefix>`). Must not run tools.

use super::writer::Writer;
use super::CommandMeta;
use crate::domain::mcp::ToolCalled;
use crate::error::AppResult;
use crate::store::events::{stream_version, NewEvent};

/// Appends the record of one call; answers the event's id.
pub async fn record_tool_call(
    writer: &Writer,
    meta: CommandMeta,
    key_id: String,
    call: ToolCalled,
) -> AppResult<String> {
    writer
        .execute(move |w| {
            let version = stream_version(w.conn, &key_id)?;
            let event = NewEvent { event_type: call.event_type(), version: call.version(), payload: call.payload() };
            let stored = w.emit(&meta.event_meta(), &key_id, version, vec![event])?;
            Ok(stored.first().map(|e| e.event_id.clone()).unwrap_or_default())
        })
        .await
}
