//! UK consolidated list importer: HM Treasury / OFSI `ConList.csv` (a `Last Updated` line, a header row, then
//! one row per name, grouped by `Group ID`). Columns are found by header name, so the later UK Sanctions List
//! CSV (grouped by `Unique ID`, `Name type`, `D.O.B`, ...) reads too. Must not panic on malformed input or touch
//! the matcher.

use super::{combined_digest, csv_error, decode_field, DigestReader, Grouper, Import, ImportError};
use crate::screening::model::{BirthDate, EntityType, ListSource, ListVersion, NameKind, PartialDate, WatchlistEntry};
use std::collections::HashMap;
use std::io::Read;

const LIST: ListSource = ListSource::UkConsolidated;
const FILE: &str = "UK CSV";

/// Header spellings for each field, ConList first.
const COLUMNS: &[(&str, &[&str])] = &[
    ("group", &["Group ID", "Unique ID"]),
    ("type", &["Group Type", "Designation Type", "Type of entity"]),
    ("alias_type", &["Alias Type", "Name type"]),
    ("alias_quality", &["Alias Quality", "Alias strength"]),
    ("non_latin", &["Name Non-Latin Script", "Name non-latin script"]),
    ("dob", &["DOB", "D.O.B"]),
    ("nationality", &["Nationality", "Nationality(/ies)"]),
    ("birth_country", &["Country of Birth", "Country of birth"]),
    ("country", &["Country", "Address Country"]),
    ("passport", &["Passport Number", "Passport number"]),
    ("national_id", &["National Identification Number", "National Identifier number"]),
    ("regime", &["Regime", "Regime Name"]),
    ("other", &["Other Information"]),
    ("last_updated", &["Last Updated"]),
];

/// Import the UK consolidated list CSV.
pub fn import<R: Read>(input: R) -> Result<Import, ImportError> {
    let mut src = DigestReader::new(input);
    let mut groups = Grouper::new();
    let mut published = None;
    {
        let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&mut src);
        let mut rec = csv::ByteRecord::new();
        let mut cols: Option<HashMap<&'static str, usize>> = None;
        let mut names: [Option<usize>; 6] = [None; 6];
        while rd.read_byte_record(&mut rec).map_err(|e| csv_error(LIST, FILE, e))? {
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            let fields: Vec<String> = rec.iter().map(|f| decode_field(f).trim().to_string()).collect();
            let Some(map) = cols.as_ref() else {
                // Preamble until the header row.
                if fields.iter().any(|f| f == "Name 6") {
                    let mut m = HashMap::new();
                    for (key, spellings) in COLUMNS {
                        if let Some(i) = fields.iter().position(|f| spellings.iter().any(|s| f.eq_ignore_ascii_case(s)))
                        {
                            m.insert(*key, i);
                        }
                    }
                    if !m.contains_key("group") {
                        return Err(ImportError::malformed(LIST, FILE, format!("line {line}"), "no Group ID column"));
                    }
                    for (k, slot) in names.iter_mut().enumerate() {
                        *slot = fields.iter().position(|f| *f == format!("Name {}", k + 1));
                    }
                    cols = Some(m);
                } else if fields.first().is_some_and(|f| f.eq_ignore_ascii_case("Last Updated")) {
                    published = fields.get(1).cloned().filter(|s| !s.is_empty());
                } else if let Some(d) = fields.first().and_then(|f| f.strip_prefix("Report Date:")) {
                    published = Some(d.trim().to_string());
                }
                continue;
            };
            let get = |k: &str| map.get(k).and_then(|&i| fields.get(i)).cloned().unwrap_or_default();
            if fields.iter().all(String::is_empty) {
                continue;
            }
            let group = get("group");
            if group.is_empty() {
                return Err(ImportError::malformed(LIST, FILE, format!("line {line}"), "row without a group id"));
            }
            let ty = match get("type").to_ascii_lowercase().as_str() {
                "individual" => EntityType::Person,
                "ship" | "vessel" => EntityType::Vessel,
                _ => EntityType::Organization,
            };
            let e = groups.entry(&group, || WatchlistEntry::new(LIST, group.clone(), ty));
            // Given names (Name 1-5) then the family name (Name 6).
            let mut parts: Vec<String> =
                names[..5].iter().flatten().filter_map(|&i| fields.get(i)).filter(|s| !s.is_empty()).cloned().collect();
            if let Some(family) = names[5].and_then(|i| fields.get(i)).filter(|s| !s.is_empty()) {
                parts.push(family.clone());
            }
            let name = parts.join(" ");
            let alias_type = get("alias_type").to_ascii_lowercase();
            let weak = matches!(get("alias_quality").to_ascii_lowercase().as_str(), "low" | "weak");
            let primary = alias_type.starts_with("primary name") && !alias_type.contains("variation");
            let kind = if primary {
                NameKind::Primary
            } else if weak {
                NameKind::Weak
            } else {
                NameKind::Alias
            };
            e.add_name(&name, kind);
            if primary {
                if let Some(pos) = e.names.iter().position(|n| n.name == name) {
                    let n = e.names.remove(pos);
                    e.names.insert(0, n);
                }
            }
            e.add_name(&get("non_latin"), NameKind::OriginalScript);
            if let Some(d) = PartialDate::parse(&get("dob")) {
                e.add_birth_date(BirthDate::exact(d));
            }
            for key in ["nationality", "birth_country", "country"] {
                for c in split_numbered(&get(key)) {
                    e.add_country(&c);
                }
            }
            for (key, kind) in [("passport", "Passport"), ("national_id", "National ID")] {
                for v in split_numbered(&get(key)) {
                    let value = v.split_whitespace().next().unwrap_or("");
                    e.add_identifier(kind, value, None);
                }
            }
            e.add_program(&get("regime"));
            let other = get("other");
            if !other.is_empty() && e.remarks.is_none() {
                e.add_remark(&other);
            }
        }
        if cols.is_none() {
            return Err(ImportError::malformed(LIST, FILE, "end of file", "no header row (a row containing `Name 6`)"));
        }
    }
    let mut entries = groups.into_entries();
    let before = entries.len();
    entries.retain(|e| !e.names.is_empty());
    let skipped = before - entries.len();
    let version = ListVersion {
        source: LIST,
        published,
        entry_count: entries.len(),
        content_digest: combined_digest(&[src.hasher()]),
    };
    Ok(Import { entries, version, skipped })
}

/// `(1) Russia (2) Ukraine` → `["Russia", "Ukraine"]`; a plain value → itself.
fn split_numbered(s: &str) -> Vec<String> {
    let s = s.trim();
    if s.is_empty() {
        return Vec::new();
    }
    if !s.starts_with('(') {
        return vec![s.to_string()];
    }
    s.split('(')
        .filter_map(|part| part.split_once(')').map(|(_, rest)| rest.trim().trim_end_matches(',').to_string()))
        .filter(|x| !x.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_values() {
        assert_eq!(split_numbered("(1) Russia (2) Ukraine"), ["Russia", "Ukraine"]);
        assert_eq!(split_numbered("Syria"), ["Syria"]);
        assert!(split_numbered("").is_empty());
    }

    #[test]
    fn missing_header_is_an_error() {
        assert!(import("Last Updated,01/01/2026\nfoo,bar\n".as_bytes()).is_err());
        assert!(import("Name 6,Name 1\nDOE,John\n".as_bytes()).is_err());
    }
}
