//! OpenSanctions importer for FollowTheMoney entities as JSON lines (`entities.ftm.json`, `targets.nested.json`):
//! one entity object per line with `id`, `schema` and `properties` (lists of strings). Persons, organisations
//! (Organization, Company, LegalEntity, PublicBody), vessels and airplanes are imported; other schemata
//! (sanctions, addresses, ownerships, ...) are skipped. Must not panic on malformed input or touch the matcher.

use super::{combined_digest, DigestReader, Import, ImportError};
use crate::screening::model::{BirthDate, EntityType, ListSource, ListVersion, NameKind, PartialDate, WatchlistEntry};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};

const LIST: ListSource = ListSource::OpenSanctions;
const FILE: &str = "FtM JSON lines";

fn schema_type(schema: &str) -> Option<EntityType> {
    Some(match schema {
        "Person" => EntityType::Person,
        "Organization" | "Company" | "LegalEntity" | "PublicBody" => EntityType::Organization,
        "Vessel" => EntityType::Vessel,
        "Airplane" => EntityType::Aircraft,
        _ => return None,
    })
}

/// Identifier properties and the label they are imported under.
const ID_PROPS: &[(&str, &str)] = &[
    ("idNumber", "ID Number"),
    ("passportNumber", "Passport"),
    ("taxNumber", "Tax Number"),
    ("registrationNumber", "Registration Number"),
    ("innCode", "INN"),
    ("ogrnCode", "OGRN"),
    ("leiCode", "LEI"),
    ("swiftBic", "SWIFT/BIC"),
    ("imoNumber", "IMO"),
    ("mmsi", "MMSI"),
    ("callSign", "Call Sign"),
    ("serialNumber", "Serial Number"),
];

/// Import OpenSanctions FtM entities from JSON lines.
pub fn import<R: Read>(input: R) -> Result<Import, ImportError> {
    let mut entries = Vec::new();
    let (version, skipped) = import_each(input, |e| {
        entries.push(e);
        Ok(())
    })?;
    Ok(Import { entries, version, skipped })
}

/// Streams OpenSanctions FtM entities from JSON lines to `each`, one at a time (a million entities need not
/// be held at once). Returns the version (its `entry_count` is the number passed to `each`) and the records
/// skipped. An error from `each` stops the import and is returned.
pub fn import_each<R: Read>(
    input: R,
    mut each: impl FnMut(WatchlistEntry) -> Result<(), ImportError>,
) -> Result<(ListVersion, usize), ImportError> {
    let mut src = DigestReader::new(input);
    let mut count = 0usize;
    let mut skipped = 0;
    {
        let mut rd = BufReader::new(&mut src);
        let mut line = String::new();
        let mut n = 0u64;
        loop {
            line.clear();
            let read = rd.read_line(&mut line).map_err(|source| ImportError::Io { list: LIST, file: FILE, source })?;
            if read == 0 {
                break;
            }
            n += 1;
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(text)
                .map_err(|e| ImportError::malformed(LIST, FILE, format!("line {n}"), e.to_string()))?;
            let id = v.get("id").and_then(Value::as_str).unwrap_or("");
            let schema = v.get("schema").and_then(Value::as_str).unwrap_or("");
            if id.is_empty() || schema.is_empty() {
                return Err(ImportError::malformed(LIST, FILE, format!("line {n}"), "entity without id or schema"));
            }
            let Some(ty) = schema_type(schema) else {
                skipped += 1;
                continue;
            };
            let props = v.get("properties").cloned().unwrap_or(Value::Null);
            if !props.is_object() && !props.is_null() {
                return Err(ImportError::malformed(
                    LIST,
                    FILE,
                    format!("line {n} ({id})"),
                    "properties is not an object",
                ));
            }
            let list = |key: &str| -> Vec<String> {
                props
                    .get(key)
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                    .unwrap_or_default()
            };
            let mut e = WatchlistEntry::new(LIST, id, ty);
            if let Some(caption) = v.get("caption").and_then(Value::as_str) {
                e.add_name(caption, NameKind::Primary);
            }
            for (key, kind) in [
                ("name", NameKind::Primary),
                ("alias", NameKind::Alias),
                ("previousName", NameKind::Former),
                ("weakAlias", NameKind::Weak),
            ] {
                for name in list(key) {
                    let kind = if kind == NameKind::Primary && !e.names.is_empty() { NameKind::Alias } else { kind };
                    e.add_name(&name, kind);
                }
            }
            if e.names.is_empty() {
                skipped += 1;
                continue;
            }
            for d in list("birthDate") {
                if let Some(p) = PartialDate::parse(&d) {
                    e.add_birth_date(BirthDate::exact(p));
                }
            }
            for key in ["nationality", "citizenship", "country", "jurisdiction", "flag", "birthCountry"] {
                for c in list(key) {
                    e.add_country(&c);
                }
            }
            for (key, label) in ID_PROPS {
                for value in list(key) {
                    e.add_identifier(label, &value, None);
                }
            }
            for key in ["program", "programId", "topics"] {
                for p in list(key) {
                    e.add_program(&p);
                }
            }
            let notes = list("notes");
            if !notes.is_empty() {
                e.add_remark(&notes.join(" "));
            }
            each(e)?;
            count += 1;
        }
    }
    let version = ListVersion {
        source: LIST,
        published: None,
        entry_count: count,
        content_digest: combined_digest(&[src.hasher()]),
    };
    Ok((version, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_json_names_the_line() {
        let input = "{\"id\":\"a\",\"schema\":\"Person\",\"properties\":{\"name\":[\"A B\"]}}\n{not json\n";
        let err = import(input.as_bytes()).map(|_| ()).map_err(|e| e.to_string());
        assert!(err.as_ref().is_err_and(|m| m.contains("line 2")), "{err:?}");
    }
}
