//! Keeps personal data out of MCP tool results (spec §1.18: results are PII-free). Every value under a
//! personal-data field name (the identity's and a check subject's sealed fields, and the containers that hold
//! them, such as `extracted_data`) is replaced by `"[redacted]"`, and then any other string of the same result
//! that contains one of those values (an external reference that is an email, a title) loses it too. Numbers
//! and booleans under such names (match scores) stay. Must not see anything but the JSON it is given.

use serde_json::Value;

pub const REDACTED: &str = "[redacted]";

/// Field names whose values are personal data wherever they appear, beyond the identity's and a check
/// subject's sealed fields: containers of extracted or captured data and other spellings of the same facts.
const EXTRA_FIELDS: &[&str] = &[
    "extracted_data",
    "user_data",
    "prefill",
    "personal_data",
    "full_name",
    "name_full",
    "name_middle",
    "dob",
    "birth_date",
    "place_of_birth",
    "email_address",
    "phone_number",
    "address",
    "mrz",
    "mrz_lines",
    "consent_ip",
    // Keys of custom-list item values: a government id list's number, an IP list's address, a face list's
    // embedding.
    "id_number",
    "ip",
    "embedding",
    // An image of the capture link, not personal data, but large and of no use to a text client.
    "qr_code_data_url",
];

/// `document_type` is sealed on an identity but is a category (`passport`), shown unsealed on sessions.
const NOT_PERSONAL: &[&str] = &["document_type"];

fn is_personal(field: &str) -> bool {
    if NOT_PERSONAL.contains(&field) {
        return false;
    }
    crate::domain::identity::PII_FIELDS.contains(&field)
        || crate::domain::check::SUBJECT_FIELDS.contains(&field)
        || EXTRA_FIELDS.contains(&field)
}

/// Strips personal data from `v` in place.
pub fn scrub(v: &mut Value) {
    let mut found = Vec::new();
    strip_fields(v, &mut found);
    // Short values (a two-letter country, an initial) would blank unrelated text.
    found.retain(|s| s.chars().count() >= 4);
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    found.dedup();
    if !found.is_empty() {
        strip_values(v, &found);
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.to_lowercase()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

fn has_text(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(a) => a.iter().any(has_text),
        Value::Object(o) => o.values().any(has_text),
        _ => false,
    }
}

/// An org user (a reviewer) is a person too: their `name` is personal data, where elsewhere `name` names
/// a list, a workflow or a check.
fn is_person(o: &serde_json::Map<String, Value>) -> bool {
    o.get("object").and_then(Value::as_str) == Some("org_user")
        || o.get("id").and_then(Value::as_str).is_some_and(|id| id.starts_with("orguser_"))
}

fn strip_fields(v: &mut Value, found: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            let person = is_person(o);
            for (k, val) in o.iter_mut() {
                if (is_personal(k) || (person && k == "name")) && has_text(val) {
                    collect_strings(val, found);
                    *val = Value::from(REDACTED);
                } else {
                    strip_fields(val, found);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip_fields(x, found)),
        _ => {}
    }
}

fn strip_values(v: &mut Value, found: &[String]) {
    match v {
        Value::String(s) => {
            let lower = s.to_lowercase();
            if found.iter().any(|f| lower.contains(f.as_str())) {
                // Lowercasing keeps byte offsets only for ASCII; otherwise the whole string goes.
                if s.is_ascii() {
                    let mut out = s.clone();
                    for f in found {
                        let mut from = 0;
                        while let Some(at) = out[from..].to_lowercase().find(f.as_str()).map(|i| i + from) {
                            out.replace_range(at..at + f.len(), REDACTED);
                            from = at + REDACTED.len();
                        }
                    }
                    *s = out;
                } else {
                    *s = REDACTED.to_string();
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| strip_values(x, found)),
        Value::Object(o) => o.values_mut().for_each(|x| strip_values(x, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn personal_fields_go_wherever_they_are_and_their_values_elsewhere_too() {
        let mut v = json!({
            "id": "idn_1",
            "external_ref": "zeb.q@example.test",
            "status": "pending",
            "extracted_data": { "first_name": "Zebulon", "email": "zeb.q@example.test" },
            "items": [{ "last_name": "Quartermaine", "note": "called Quartermaine twice" }],
            "features": { "date_of_birth": 0.93, "name": 0.88 },
            "document_type": "passport",
            "first_name": null,
            "reviewer": { "id": "orguser_01", "name": "Ada Lovelace", "role": "reviewer" },
            "list": { "id": "list_01", "name": "blocked emails" },
            "value": { "id_number": "X1234567", "ip": "203.0.113.7" },
        });
        scrub(&mut v);
        assert_eq!(v["extracted_data"], json!(REDACTED));
        assert_eq!(v["items"][0]["last_name"], json!(REDACTED));
        assert_eq!(v["items"][0]["note"], json!("called [redacted] twice"));
        assert_eq!(v["external_ref"], json!(REDACTED));
        assert_eq!(v["features"], json!({ "date_of_birth": 0.93, "name": 0.88 }));
        assert_eq!(v["document_type"], json!("passport"));
        assert_eq!(v["first_name"], Value::Null);
        assert_eq!(v["reviewer"], json!({ "id": "orguser_01", "name": REDACTED, "role": "reviewer" }));
        assert_eq!(v["list"]["name"], "blocked emails");
        assert_eq!(v["value"], json!({ "id_number": REDACTED, "ip": REDACTED }));
        let text = v.to_string().to_lowercase();
        for pii in ["zebulon", "quartermaine", "zeb.q@example.test"] {
            assert!(!text.contains(pii), "{pii} in {text}");
        }
    }
}
