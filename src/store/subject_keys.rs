//! Per-subject data keys and the sealed fields they open: loading and unwrapping an identity's,
//! session's or list's key from `subject_keys`, opening sealed PII maps, uploaded files and list item parts, and the blind
//! digest of a list lookup. Shared by the writer (on its connection) and the queries (on a `ReadOnly`).
//! Must not create, wrap or destroy keys (that is the writer's, through events) nor log what it opens.

use super::read::Reads;
use crate::crypto::{blind, DataKey, Keyring};
use crate::domain::custom_list::{self as list_dom, Lookup, Norm};
use crate::domain::identity::ALL_FIELDS_SEALED;
use crate::error::{AppError, AppResult};
use base64::Engine;
use rusqlite::OptionalExtension;
use std::borrow::Cow;
use std::collections::BTreeMap;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn wrapped_key<C: Reads + ?Sized>(conn: &C, subject_id: &str) -> AppResult<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT wrapped_key FROM subject_keys WHERE subject_id = ?1")?
        .query_row([subject_id], |r| r.get(0))
        .optional()?)
}

/// An identity's or session's data key, unwrapped. Missing after redaction.
pub fn data_key<C: Reads + ?Sized>(conn: &C, keyring: &Keyring, subject_id: &str) -> AppResult<Option<DataKey>> {
    wrapped_key(conn, subject_id)?.map(|w| keyring.unwrap_data_key(subject_id, &w)).transpose().map_err(Into::into)
}

/// A list's data key, unwrapped (lists are never redacted, so a missing key is an internal error).
pub fn list_key<C: Reads + ?Sized>(conn: &C, keyring: &Keyring, list_id: &str) -> AppResult<DataKey> {
    let wrapped =
        wrapped_key(conn, list_id)?.ok_or_else(|| AppError::Internal(format!("list {list_id} has no data key")))?;
    Ok(keyring.unwrap_data_key(list_id, &wrapped)?)
}

/// The bytes of an uploaded file (`sealed_blobs`) of `subject_id`, opened under its key as `kind`
/// (`DataKey::open_image`); none when the file's row is gone.
pub fn open_file<C: Reads + ?Sized>(
    conn: &C,
    key: &DataKey,
    subject_id: &str,
    kind: &str,
    blob_id: &str,
) -> AppResult<Option<Vec<u8>>> {
    let sealed: Option<Vec<u8>> = conn
        .prepare_cached("SELECT sealed FROM sealed_blobs WHERE blob_id = ?1")?
        .query_row([blob_id], |r| r.get(0))
        .optional()?;
    Ok(sealed.map(|sealed| key.open_image(subject_id, kind, blob_id, &sealed)).transpose()?)
}

/// Opens every sealed PII field of one identity (used by updates, exports and rendering): all of them at
/// once from the entry that seals them together (`domain::identity::ALL_FIELDS_SEALED`), or each from its
/// own entry in maps written before it.
pub fn open_pii(key: &DataKey, identity_id: &str, sealed_json: &str) -> AppResult<BTreeMap<String, String>> {
    let SealedEntries(sealed) = serde_json::from_str(sealed_json)?;
    let mut out = BTreeMap::new();
    let mut bytes = Vec::new();
    for (field, b64) in sealed {
        bytes.clear();
        B64.decode_vec(b64.as_bytes(), &mut bytes)
            .map_err(|_| AppError::Internal("sealed field is not base64".into()))?;
        let opened = key.open(identity_id, &field, &bytes)?;
        if field == ALL_FIELDS_SEALED {
            let fields: BTreeMap<String, String> = serde_json::from_str(&opened)?;
            // The set is normally the map's only entry: take it whole instead of inserting it entry by entry.
            if out.is_empty() {
                out = fields;
            } else {
                out.extend(fields);
            }
        } else {
            out.insert(field.into_owned(), opened);
        }
    }
    Ok(out)
}

/// A sealed field map (`domain::identity::SealedFields`) as its stored JSON text holds it, in the text's
/// order, each name and base64 value borrowed from the text unless it holds an escape (neither ever does):
/// opening an identity's fields then copies no name or value before it is decoded, and builds no map but
/// its answer.
struct SealedEntries<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de> serde::Deserialize<'de> for SealedEntries<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = SealedEntries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of field names to sealed base64 values")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some((Text(field), Text(value))) = map.next_entry::<Text<'de>, Text<'de>>()? {
                    entries.push((field, value));
                }
                Ok(SealedEntries(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A JSON string, borrowed from the input where it can be.
#[derive(serde::Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// Opens a sealed map of a session (`prefill`, `user_data`, `document_data`, `extracted`); None is empty.
pub fn open_map(key: &DataKey, id: &str, field: &str, sealed: Option<&str>) -> AppResult<BTreeMap<String, String>> {
    match sealed {
        None => Ok(BTreeMap::new()),
        Some(s) => {
            let bytes = B64.decode(s).map_err(|_| AppError::Internal("sealed session field is not base64".into()))?;
            Ok(serde_json::from_str(&key.open(id, field, &bytes)?)?)
        }
    }
}

/// Opens one sealed base64 part of a list item.
pub fn open_part(key: &DataKey, list_id: &str, item_id: &str, part: &str, sealed: &str) -> AppResult<String> {
    let bytes = B64.decode(sealed).map_err(|_| AppError::Internal("sealed list item is not base64".into()))?;
    Ok(key.open(list_id, &list_dom::sealed_field(item_id, part), &bytes)?)
}

/// A lookup value, normalised for its blind digest.
pub fn normalise(lookup: &Lookup) -> String {
    match lookup.norm {
        Norm::Exact => lookup.value.trim().to_string(),
        Norm::Text => blind::text(&lookup.value),
        Norm::Email => blind::email(&lookup.value),
        Norm::Phone => blind::phone(&lookup.value),
        Norm::AlnumUpper => blind::alnum_upper(&lookup.value),
    }
}

/// The blind digest a list lookup is indexed (and searched) under.
pub fn digest(keyring: &Keyring, environment: &str, lookup: &Lookup) -> [u8; 32] {
    keyring.blind_digest(environment, lookup.kind, &normalise(lookup))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    fn sealed_map(key: &DataKey, subject: &str, fields: &[(&str, &str)]) -> String {
        let map: BTreeMap<&str, String> =
            fields.iter().map(|(field, value)| (*field, B64.encode(key.seal(subject, field, value)))).collect();
        serde_json::to_string(&map).unwrap()
    }

    #[test]
    fn open_pii_opens_every_field_of_a_stored_map() {
        let (key, _) = Keyring::new(&MasterKey::from_bytes([3u8; 32])).new_data_key("idn_a");
        let stored = sealed_map(&key, "idn_a", &[("first_name", "Zoë"), ("email", "zoe@example.com"), ("ssn", "")]);
        let opened = open_pii(&key, "idn_a", &stored).unwrap();
        let expected: BTreeMap<String, String> = [("email", "zoe@example.com"), ("first_name", "Zoë"), ("ssn", "")]
            .map(|(f, v)| (f.into(), v.into()))
            .into();
        assert_eq!(opened, expected);
        assert!(open_pii(&key, "idn_a", "{}").unwrap().is_empty());
    }

    #[test]
    fn open_pii_opens_all_fields_sealed_together_and_each_sealed_alone() {
        let (key, _) = Keyring::new(&MasterKey::from_bytes([3u8; 32])).new_data_key("idn_a");
        let fields: BTreeMap<String, String> =
            [("first_name", "Zoë"), ("email", "zoe@example.com")].map(|(f, v)| (f.into(), v.into())).into();
        let together = key.seal("idn_a", ALL_FIELDS_SEALED, &serde_json::to_string(&fields).unwrap());
        let stored = serde_json::to_string(&BTreeMap::from([(ALL_FIELDS_SEALED, B64.encode(&together))])).unwrap();
        assert_eq!(open_pii(&key, "idn_a", &stored).unwrap(), fields);
        assert!(open_pii(&key, "idn_b", &stored).is_err(), "bound to its identity");

        // A field sealed alone does not open as the whole set, nor the set as one field.
        let alone = sealed_map(&key, "idn_a", &[("first_name", "Zoë")]);
        assert!(open_pii(&key, "idn_a", &alone.replace("first_name", ALL_FIELDS_SEALED)).is_err());
        assert!(
            open_pii(&key, "idn_a", &stored.replace(&format!("\"{ALL_FIELDS_SEALED}\""), "\"first_name\"")).is_err()
        );

        // What opens as the set must be a map of names to text.
        let not_a_map = key.seal("idn_a", ALL_FIELDS_SEALED, "[\"Zoë\"]");
        let stored = serde_json::to_string(&BTreeMap::from([(ALL_FIELDS_SEALED, B64.encode(&not_a_map))])).unwrap();
        assert!(open_pii(&key, "idn_a", &stored).is_err());
    }

    #[test]
    fn open_pii_reads_escaped_text_and_refuses_what_is_not_a_sealed_map() {
        let (key, _) = Keyring::new(&MasterKey::from_bytes([3u8; 32])).new_data_key("idn_a");
        let stored = sealed_map(&key, "idn_a", &[("first_name", "Ada")]);
        // The same JSON with the name and the value's slashes written as escapes: nothing to borrow, still read.
        let escaped = stored.replace("first_name", "first\\u005fname").replace('/', "\\/");
        assert_eq!(open_pii(&key, "idn_a", &escaped).unwrap()["first_name"], "Ada");
        // Bound to its subject and field: under another identity or field name it does not open.
        assert!(open_pii(&key, "idn_b", &stored).is_err());
        assert!(open_pii(&key, "idn_a", &stored.replace("first_name", "last_name")).is_err());
        for bad in ["[]", "{\"first_name\": 3}", "{\"first_name\": \"not base64!\"}", "not json"] {
            assert!(open_pii(&key, "idn_a", bad).is_err(), "{bad}");
        }
    }
}
