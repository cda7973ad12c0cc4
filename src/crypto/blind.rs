//! Normalisation of PII values before blind indexing (spec §5.3). Pure string functions; must not hash
//! or store anything itself.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// trim, NFKC, lowercase, collapse whitespace.
pub fn text(value: &str) -> String {
    fixpoint(value, |v| collapse(&v.nfkc().collect::<String>().to_lowercase()))
}

/// Names: strip diacritics and punctuation, lowercase, collapse whitespace.
pub fn name(value: &str) -> String {
    if value.is_ascii() {
        return ascii_name(value);
    }
    unicode_name(value)
}

/// `name` for ASCII input, in one pass: decomposition leaves ASCII as it is and ASCII has no combining
/// marks, so the first step is already the fixpoint. Most names, cities and street lines are ASCII, and
/// each identity creation normalises five of them on the request's thread (a third of its blind-index work).
fn ascii_name(value: &str) -> String {
    let mapped: String =
        value.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { ' ' }).collect();
    collapse(&mapped)
}

fn unicode_name(value: &str) -> String {
    fixpoint(value, |v| {
        let stripped: String =
            v.nfkd().filter(|c| !is_combining_mark(*c)).map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
        collapse(&stripped.to_lowercase())
    })
}

/// Applies a normalising step until it no longer changes the value (lowercasing and Unicode
/// decomposition can each undo the other's work once, never indefinitely).
fn fixpoint(value: &str, step: impl Fn(&str) -> String) -> String {
    let mut current = step(value);
    for _ in 0..4 {
        let next = step(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

pub fn email(value: &str) -> String {
    value.trim().to_lowercase()
}

/// Digits only, last 10 digits.
pub fn phone(value: &str) -> String {
    let digits: Vec<char> = value.chars().filter(|c| c.is_ascii_digit()).collect();
    let start = digits.len().saturating_sub(10);
    digits[start..].iter().collect()
}

/// Uppercase alphanumerics only (document numbers, SSNs).
pub fn alnum_upper(value: &str) -> String {
    // Uppercasing can add combining marks, so filter after it.
    value.chars().flat_map(|c| c.to_uppercase()).filter(|c| c.is_alphanumeric()).collect()
}

pub fn zip(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace()).flat_map(|c| c.to_uppercase()).collect()
}

fn collapse(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The blind-index kinds and their normalised inputs for a set of plaintext PII fields. A kind is
/// present only when every input it needs is present (name + date of birth go together).
pub fn index_inputs(fields: &std::collections::BTreeMap<String, String>) -> Vec<(&'static str, String)> {
    let get = |k: &str| fields.get(k).map(|s| s.as_str()).filter(|s| !s.trim().is_empty());
    let mut out = Vec::new();
    if let (Some(first), Some(last), Some(dob)) = (get("first_name"), get("last_name"), get("date_of_birth")) {
        out.push(("name_dob", format!("{}|{}|{}", name(first), name(last), dob.trim())));
    }
    if let Some(v) = get("document_number") {
        out.push(("document_number", alnum_upper(v)));
    }
    if let Some(v) = get("ssn") {
        out.push(("ssn", alnum_upper(v)));
    }
    if let Some(v) = get("email") {
        out.push(("email", email(v)));
    }
    if let Some(v) = get("phone") {
        out.push(("phone", phone(v)));
    }
    if let Some(v) = get("city") {
        out.push(("city", name(v)));
    }
    if let Some(v) = get("state") {
        out.push(("state", name(v)));
    }
    if let Some(v) = get("zip_code") {
        out.push(("zip_code", zip(v)));
    }
    if let Some(line1) = get("address_line1") {
        let parts = [
            name(line1),
            get("address_line2").map(name).unwrap_or_default(),
            get("city").map(name).unwrap_or_default(),
            get("state").map(name).unwrap_or_default(),
            get("zip_code").map(zip).unwrap_or_default(),
        ];
        out.push(("address", parts.join("|")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_ignore_case_accents_and_punctuation() {
        assert_eq!(name("  José  O'Brien "), name("jose o brien"));
        assert_eq!(phone("+1 (555) 010-9999"), "5550109999");
        assert_eq!(alnum_upper("ab-12 3"), "AB123");
    }

    proptest! {
        #[test]
        fn ascii_names_normalise_as_any_other_text(value in "[\\x00-\\x7F]{0,40}") {
            prop_assert_eq!(ascii_name(&value), unicode_name(&value));
        }

        #[test]
        fn normalisation_is_idempotent(value in "\\PC{0,40}") {
            prop_assert_eq!(name(&name(&value)), name(&value));
            prop_assert_eq!(text(&text(&value)), text(&value));
            prop_assert_eq!(phone(&phone(&value)), phone(&value));
            prop_assert_eq!(alnum_upper(&alnum_upper(&value)), alnum_upper(&value));
        }
    }
}
