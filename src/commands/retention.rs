//! Retention (spec §1.14): the environment's retention settings, and the sweeper's two-pass retention:
//! decided sessions stop serving PII after the sensitive window and have their data deleted (key and
//! images shredded) after the full window. Must not render responses or decide anything but retention.

use super::sessions::{emit, load_state, redact_in};
use super::writer::Writer;
use super::CommandMeta;
use crate::domain::session::{SensitiveExpired, SessionEvent};
use crate::domain::settings::{self, Retention, SettingsCommand};
use crate::domain::Ctx;
use crate::error::AppResult;
use crate::store::events::NewEvent;
use rusqlite::params;

/// Records the environment's retention settings: `settings::decide` checks them, one `SettingsUpdated`.
pub async fn update_retention(writer: &Writer, meta: CommandMeta, retention: Retention) -> AppResult<()> {
    let ctx = Ctx { now: meta.now.clone(), environment: meta.environment.clone() };
    let events = settings::decide(SettingsCommand::SetRetention(retention), &ctx)?;
    writer
        .execute(move |w| {
            let stream = format!("settings_{}", meta.environment);
            let version = crate::store::events::stream_version(w.conn, &stream)?;
            let events = events
                .iter()
                .map(|e| NewEvent { event_type: e.event_type(), version: e.version(), payload: e.payload() })
                .collect();
            w.emit(&meta.event_meta(), &stream, version, events)?;
            Ok(())
        })
        .await
}

fn sensitive_expired(reason: &str) -> SessionEvent {
    SessionEvent::SensitiveExpired(SensitiveExpired { reason: reason.into() })
}

fn days_before(now: &str, days: i64) -> String {
    crate::clock::parse(now).map(|t| crate::clock::format(t - time::Duration::days(days))).unwrap_or_default()
}

/// Decided sessions of environment `?1` not yet redacted, decided by `?2` (index `sessions_retention_due`).
pub(crate) const RETENTION_DUE_SQL: &str = "SELECT id FROM sessions WHERE environment = ?1 AND decided_at IS NOT NULL
    AND decided_at <= ?2 AND retention_status != 'redacted' LIMIT 200";
/// The same with their sensitive data still kept; `!= 'redacted'` is implied by `= 'active'` but spelled out,
/// as SQLite uses a partial index only when the query repeats its condition.
pub(crate) const SENSITIVE_DUE_SQL: &str = "SELECT id FROM sessions WHERE environment = ?1 AND decided_at IS NOT NULL
    AND decided_at <= ?2 AND retention_status != 'redacted' AND retention_status = 'active' LIMIT 200";

/// The two-pass retention of spec §1.14, at `now`: sessions decided longer ago than the sensitive window
/// stop serving PII; past the full window their data is deleted (key and images shredded).
pub async fn apply_retention(writer: &Writer, now: String) -> AppResult<usize> {
    writer
        .execute(move |w| {
            let mut moved = 0;
            for env in ["sandbox", "live"] {
                let r = crate::store::shared_reads::retention(w.conn, env)?;
                let meta = CommandMeta::untraced("system", env, now.clone());
                if let Some(days) = r.data_retention_days {
                    let cutoff = days_before(&now, days);
                    let ids: Vec<String> = {
                        // Without auto-redaction a session moves once (its sensitive data expires); one
                        // already moved must not be picked again, or 200 of them would fill every pass.
                        let due = if r.auto_redact_on_retention_expiry { RETENTION_DUE_SQL } else { SENSITIVE_DUE_SQL };
                        let mut stmt = w.conn.prepare_cached(due)?;
                        let rows = stmt.query_map(params![env, cutoff], |r| r.get(0))?;
                        rows.collect::<Result<_, _>>()?
                    };
                    for id in ids {
                        if let Some(s) = load_state(w.conn, Some(env), &id)? {
                            if r.auto_redact_on_retention_expiry {
                                redact_in(w, &meta, &s, SessionEvent::RetentionExpired)?;
                            } else if s.retention_status == "active" {
                                emit(w, &meta, &s, vec![sensitive_expired("retention_expired")])?;
                            }
                            moved += 1;
                        }
                    }
                }
                if let Some(days) = r.sensitive_data_retention_days {
                    let cutoff = days_before(&now, days);
                    let ids: Vec<String> = {
                        let mut stmt = w.conn.prepare_cached(SENSITIVE_DUE_SQL)?;
                        let rows = stmt.query_map(params![env, cutoff], |r| r.get(0))?;
                        rows.collect::<Result<_, _>>()?
                    };
                    for id in ids {
                        if let Some(s) = load_state(w.conn, Some(env), &id)? {
                            emit(w, &meta, &s, vec![sensitive_expired("sensitive_window")])?;
                            moved += 1;
                        }
                    }
                }
            }
            Ok(moved)
        })
        .await
}
