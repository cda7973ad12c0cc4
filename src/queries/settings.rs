//! Settings reads: the retention windows of an environment, defaults filled in. Must not write.

use crate::domain::settings::Retention;
use crate::error::AppResult;
use rusqlite::Connection;
use serde_json::Value;

pub fn retention(conn: &Connection, environment: &str) -> AppResult<Retention> {
    let mut stmt = conn.prepare_cached("SELECT name, value FROM settings WHERE environment = ?1")?;
    let rows: Vec<(String, String)> =
        stmt.query_map([environment], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut value = serde_json::to_value(Retention::default())?;
    for (name, text) in rows {
        if value.get(&name).is_some() {
            value[name] = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
        }
    }
    Ok(serde_json::from_value(value).unwrap_or_default())
}
