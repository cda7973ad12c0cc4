//! Key-Inflection (spec §2.7): response keys to snake/camel/kebab recursively, request keys from any
//! of the three to snake, and the JSON:API `{data:{attributes}}` envelope. User-supplied maps
//! (`metadata`, `custom_fields`) are never touched. Must not change values.

use serde_json::{Map, Value};

/// Keys whose values are maps the client owns.
/// User-supplied maps: their keys and values are the integrator's own and are kept exactly as sent.
pub const OPAQUE: &[&str] = &["metadata", "custom_fields"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inflection {
    Snake,
    Camel,
    Kebab,
}

impl Inflection {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "snake" => Some(Inflection::Snake),
            "camel" => Some(Inflection::Camel),
            "kebab" => Some(Inflection::Kebab),
            _ => None,
        }
    }
}

pub fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

pub fn to_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c == '-' {
            out.push('_');
        } else if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn rename(key: &str, style: Inflection) -> String {
    match style {
        Inflection::Snake => key.to_string(),
        Inflection::Camel => camel_case(key),
        Inflection::Kebab => key.replace('_', "-"),
    }
}

/// Response side: our snake_case keys into the requested style.
pub fn outbound(value: Value, style: Inflection) -> Value {
    if style == Inflection::Snake {
        return value;
    }
    transform(value, &|k| rename(k, style))
}

fn transform(value: Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let v = if OPAQUE.contains(&k.as_str()) { v } else { transform(v, f) };
                out.insert(f(&k), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| transform(v, f)).collect()),
        other => other,
    }
}

/// Request side: accepts snake, camel or kebab keys and the JSON:API envelope; yields snake_case.
pub fn inbound(value: Value) -> Value {
    let value = match value {
        Value::Object(mut map) if map.len() == 1 && map.get("data").is_some_and(|d| d.get("attributes").is_some()) => {
            let data = map.remove("data").unwrap_or(Value::Null);
            match data {
                Value::Object(mut d) => d.remove("attributes").unwrap_or(Value::Null),
                other => other,
            }
        }
        other => other,
    };
    let mut value = value;
    snake_keys(&mut value);
    value
}

/// Whether `to_snake` leaves `key` as it is (no capital letter, no hyphen).
fn is_snake(key: &str) -> bool {
    !key.bytes().any(|b| b == b'-' || b.is_ascii_uppercase())
}

/// Renames the keys of every object in `value` to snake_case, in place: an object whose keys are all
/// snake_case already (what most callers send) is kept, not rebuilt. User maps (`OPAQUE`) keep theirs.
fn snake_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if !map.keys().all(|k| is_snake(k)) {
                // Rebuilt in the same key order as before, so of two keys naming one field the later wins.
                for (k, v) in std::mem::take(map) {
                    let key = if is_snake(&k) { k } else { to_snake(&k) };
                    map.insert(key, v);
                }
            }
            for (k, v) in map.iter_mut() {
                if !OPAQUE.contains(&k.as_str()) {
                    snake_keys(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(snake_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn response_keys_inflect_recursively_but_not_inside_user_maps() {
        let v = json!({"face_match_passed": true, "metadata": {"my_key": 1}, "items": [{"created_at": 1}]});
        assert_eq!(
            outbound(v.clone(), Inflection::Camel),
            json!({"faceMatchPassed": true, "metadata": {"my_key": 1}, "items": [{"createdAt": 1}]})
        );
        assert_eq!(outbound(v, Inflection::Kebab)["face-match-passed"], json!(true));
    }

    #[test]
    fn request_keys_in_any_casing_and_the_json_api_envelope_become_snake() {
        let v = json!({"data": {"type": "identity", "attributes": {"externalRef": "a", "first-name": "B", "metadata": {"myKey": 1}}}});
        assert_eq!(inbound(v), json!({"external_ref": "a", "first_name": "B", "metadata": {"myKey": 1}}));
    }

    #[test]
    fn snake_case_objects_still_have_their_nested_keys_renamed() {
        let v = json!({"a_b": {"cD": 1}, "list": [{"e-f": 2}, 3], "custom_fields": {"gH": 3}, "n": 1.5});
        assert_eq!(
            inbound(v),
            json!({"a_b": {"c_d": 1}, "list": [{"e_f": 2}, 3], "custom_fields": {"gH": 3}, "n": 1.5})
        );
        let camel = json!({"customFields": {"gH": 3}, "externalRef": "x"});
        assert_eq!(inbound(camel), json!({"custom_fields": {"gH": 3}, "external_ref": "x"}));
    }
}
