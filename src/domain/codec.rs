//! The versioned-event contract shared by every aggregate's `decode`: one version check and the upcasting
//! walk from an older stored version to the one the typed event reads. Must not know any aggregate's
//! payloads (each aggregate brings its own upcasting steps).

use serde_json::Value;
use std::borrow::Cow;

/// The error for a stored version this build does not read: named, never guessed at.
pub fn unknown_version(event_type: &str, version: i64, newest: i64) -> serde_json::Error {
    serde::de::Error::custom(format!("{event_type} version {version} is not one this idv reads (1 to {newest})"))
}

/// Brings a stored payload of `version` up to `newest`, one step at a time: `step(event_type, v, payload)`
/// returns the payload as version `v + 1` would have written it. A version below 1 or above `newest` is an
/// error naming the event. A payload already at `newest` (every event this build writes) is lent, not copied.
pub fn upcast<'a>(
    event_type: &str,
    version: i64,
    payload: &'a Value,
    newest: i64,
    step: impl Fn(&str, i64, Value) -> Result<Value, serde_json::Error>,
) -> Result<Cow<'a, Value>, serde_json::Error> {
    upcast_from(event_type, version, payload, 1, newest, step)
}

fn upcast_from<'a>(
    event_type: &str,
    version: i64,
    payload: &'a Value,
    oldest: i64,
    newest: i64,
    step: impl Fn(&str, i64, Value) -> Result<Value, serde_json::Error>,
) -> Result<Cow<'a, Value>, serde_json::Error> {
    if !(oldest..=newest).contains(&version) {
        return Err(unknown_version(event_type, version, newest));
    }
    if version == newest {
        return Ok(Cow::Borrowed(payload));
    }
    let mut current = payload.clone();
    for v in version..newest {
        current = step(event_type, v, current)?;
    }
    Ok(Cow::Owned(current))
}

/// No upcasting step exists yet: every aggregate using this is at version 1.
pub fn no_steps(event_type: &str, version: i64, _payload: Value) -> Result<Value, serde_json::Error> {
    Err(serde::de::Error::custom(format!("{event_type}: no upcaster from version {version}")))
}

/// Decodes a payload into `T`, naming the event type when it does not fit.
pub fn payload<T: serde::de::DeserializeOwned>(
    event_type: &str,
    payload: Cow<'_, Value>,
) -> Result<T, serde_json::Error> {
    let decoded = match payload {
        Cow::Borrowed(value) => T::deserialize(value),
        Cow::Owned(value) => serde_json::from_value(value),
    };
    decoded.map_err(|e| serde::de::Error::custom(format!("{event_type}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A made-up history, only to exercise the walk: version 0 wrote `{"n": "Ann"}`, version 1 renamed the
    // field to `name`, version 2 added `tags`.
    fn step(_t: &str, from: i64, mut p: Value) -> Result<Value, serde_json::Error> {
        match from {
            0 => {
                let n = p["n"].take();
                Ok(json!({ "name": n }))
            }
            1 => {
                p["tags"] = json!([]);
                Ok(p)
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn an_older_payload_is_walked_up_to_the_newest_shape() {
        let up = upcast_from("Thing", 0, &json!({ "n": "x" }), 0, 2, step).unwrap().into_owned();
        assert_eq!(up, json!({ "name": "x", "tags": [] }));
        let up = upcast_from("Thing", 1, &json!({ "name": "y" }), 0, 2, step).unwrap().into_owned();
        assert_eq!(up, json!({ "name": "y", "tags": [] }));
        let newest = json!({ "name": "z", "tags": ["a"] });
        let same = upcast_from("Thing", 2, &newest, 0, 2, step).unwrap();
        assert!(
            matches!(same, Cow::Borrowed(lent) if std::ptr::eq(lent, &newest)),
            "the newest shape is lent as it is"
        );
    }

    #[test]
    fn a_version_outside_the_known_range_is_an_error_naming_the_event() {
        let err = upcast("WorkflowPublished", 2, &json!({}), 1, no_steps).unwrap_err().to_string();
        assert!(err.contains("WorkflowPublished") && err.contains("version 2"), "{err}");
        assert!(upcast("WorkflowPublished", 0, &json!({}), 1, no_steps).is_err());
        assert_eq!(
            *upcast("WorkflowPublished", 1, &json!({"version": 3}), 1, no_steps).unwrap(),
            json!({"version": 3})
        );
    }
}
