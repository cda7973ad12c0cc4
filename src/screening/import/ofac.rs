//! OFAC SDN legacy CSV importer: `sdn.csv` (one row per entry, 12 columns), `alt.csv` (aliases), `add.csv`
//! (addresses) and `sdn_comments.csv` (remarks overflow). Dates of birth, nationalities and document numbers
//! are parsed out of the remarks. Reads streams; must not panic on malformed rows or touch the matcher.

use super::{combined_digest, csv_error, decode_field, DigestReader, Import, ImportError};
use crate::screening::countries::country_code;
use crate::screening::model::{BirthDate, EntityType, ListSource, ListVersion, NameKind, PartialDate, WatchlistEntry};
use regex::Regex;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::OnceLock;

const LIST: ListSource = ListSource::OfacSdn;

/// `-0-` (with or without trailing spaces) is the legacy format's null.
fn field(rec: &csv::ByteRecord, i: usize) -> String {
    let s = rec.get(i).map(decode_field).unwrap_or_default();
    let t = s.trim();
    if t == "-0-" {
        String::new()
    } else {
        t.to_string()
    }
}

fn reader<R: Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(r)
}

/// A trailing empty line or the DOS end-of-file byte some OFAC files end with.
fn is_filler(rec: &csv::ByteRecord) -> bool {
    rec.len() == 1 && rec.get(0).is_some_and(|f| f.iter().all(|b| b.is_ascii_whitespace() || *b == 0x1a))
}

fn line_of(rec: &csv::ByteRecord) -> String {
    rec.position().map(|p| format!("line {}", p.line())).unwrap_or_default()
}

/// Import from the four files in a directory (`sdn.csv` required; the others are read when present).
pub fn import_dir(dir: &Path) -> Result<Import, ImportError> {
    let open = |name: &'static str| -> Result<Option<BufReader<File>>, ImportError> {
        match File::open(dir.join(name)) {
            Ok(f) => Ok(Some(BufReader::new(f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && name != "sdn.csv" => Ok(None),
            Err(source) => Err(ImportError::Io { list: LIST, file: name, source }),
        }
    };
    let mut sdn = open("sdn.csv")?.ok_or_else(|| ImportError::malformed(LIST, "sdn.csv", "", "missing"))?;
    let mut alt = open("alt.csv")?;
    let mut add = open("add.csv")?;
    let mut com = open("sdn_comments.csv")?;
    import(
        &mut sdn,
        alt.as_mut().map(|r| r as &mut dyn Read),
        add.as_mut().map(|r| r as &mut dyn Read),
        com.as_mut().map(|r| r as &mut dyn Read),
    )
}

/// Import the SDN list from its CSV files. `alt`, `add` and `comments` are optional.
pub fn import(
    sdn: &mut dyn Read,
    alt: Option<&mut dyn Read>,
    add: Option<&mut dyn Read>,
    comments: Option<&mut dyn Read>,
) -> Result<Import, ImportError> {
    let mut entries: Vec<WatchlistEntry> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut raw_remarks: Vec<String> = Vec::new();
    let mut digests = Vec::new();

    let mut sdn = DigestReader::new(sdn);
    {
        let mut rd = reader(&mut sdn);
        let mut rec = csv::ByteRecord::new();
        while rd.read_byte_record(&mut rec).map_err(|e| csv_error(LIST, "sdn.csv", e))? {
            if is_filler(&rec) {
                continue;
            }
            if rec.len() != 12 {
                return Err(ImportError::malformed(
                    LIST,
                    "sdn.csv",
                    line_of(&rec),
                    format!("expected 12 fields, found {}", rec.len()),
                ));
            }
            let id = field(&rec, 0);
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ImportError::malformed(LIST, "sdn.csv", line_of(&rec), format!("bad ent_num {id:?}")));
            }
            let entity_type = match field(&rec, 2).to_ascii_lowercase().as_str() {
                "individual" => EntityType::Person,
                "vessel" => EntityType::Vessel,
                "aircraft" => EntityType::Aircraft,
                _ => EntityType::Organization,
            };
            let mut e = WatchlistEntry::new(LIST, id.clone(), entity_type);
            e.add_name(&field(&rec, 1), NameKind::Primary);
            for p in field(&rec, 3).split("] [") {
                e.add_program(p.trim_matches(['[', ']', ' ']));
            }
            let call_sign = field(&rec, 5);
            if !call_sign.is_empty() {
                e.add_identifier("Call Sign", &call_sign, None);
            }
            let flag = field(&rec, 9);
            if !flag.is_empty() {
                e.add_country(&flag);
            }
            raw_remarks.push(field(&rec, 11));
            if by_id.insert(id.clone(), entries.len()).is_some() {
                return Err(ImportError::malformed(LIST, "sdn.csv", line_of(&rec), format!("duplicate ent_num {id}")));
            }
            entries.push(e);
        }
    }
    digests.push(sdn.hasher().clone());

    if let Some(alt) = alt {
        let mut alt = DigestReader::new(alt);
        {
            let mut rd = reader(&mut alt);
            let mut rec = csv::ByteRecord::new();
            while rd.read_byte_record(&mut rec).map_err(|e| csv_error(LIST, "alt.csv", e))? {
                if is_filler(&rec) {
                    continue;
                }
                if rec.len() != 5 {
                    return Err(ImportError::malformed(
                        LIST,
                        "alt.csv",
                        line_of(&rec),
                        format!("expected 5 fields, found {}", rec.len()),
                    ));
                }
                let Some(&i) = by_id.get(&field(&rec, 0)) else { continue };
                let kind = match field(&rec, 2).to_ascii_lowercase().as_str() {
                    "fka" | "nka" => NameKind::Former,
                    _ => NameKind::Alias,
                };
                let kind = if field(&rec, 4).to_ascii_lowercase().contains("low") { NameKind::Weak } else { kind };
                entries[i].add_name(&field(&rec, 3), kind);
            }
        }
        digests.push(alt.hasher().clone());
    }

    if let Some(add) = add {
        let mut add = DigestReader::new(add);
        {
            let mut rd = reader(&mut add);
            let mut rec = csv::ByteRecord::new();
            while rd.read_byte_record(&mut rec).map_err(|e| csv_error(LIST, "add.csv", e))? {
                if is_filler(&rec) {
                    continue;
                }
                if rec.len() != 6 {
                    return Err(ImportError::malformed(
                        LIST,
                        "add.csv",
                        line_of(&rec),
                        format!("expected 6 fields, found {}", rec.len()),
                    ));
                }
                let Some(&i) = by_id.get(&field(&rec, 0)) else { continue };
                entries[i].add_country(&field(&rec, 4));
            }
        }
        digests.push(add.hasher().clone());
    }

    if let Some(com) = comments {
        let mut com = DigestReader::new(com);
        {
            let mut rd = reader(&mut com);
            let mut rec = csv::ByteRecord::new();
            while rd.read_byte_record(&mut rec).map_err(|e| csv_error(LIST, "sdn_comments.csv", e))? {
                if is_filler(&rec) || rec.len() < 2 {
                    continue;
                }
                let Some(&i) = by_id.get(&field(&rec, 0)) else { continue };
                let more = field(&rec, 1);
                let r = &mut raw_remarks[i];
                if !more.is_empty() {
                    if !r.is_empty() && !r.ends_with(' ') {
                        r.push(' ');
                    }
                    r.push_str(&more);
                }
            }
        }
        digests.push(com.hasher().clone());
    }

    for (e, remarks) in entries.iter_mut().zip(raw_remarks) {
        parse_remarks(e, &remarks);
        if !remarks.is_empty() {
            e.add_remark(&remarks);
        }
    }
    let digest_refs: Vec<&blake3::Hasher> = digests.iter().collect();
    let version = ListVersion {
        source: LIST,
        published: None,
        entry_count: entries.len(),
        content_digest: combined_digest(&digest_refs),
    };
    Ok(Import { entries, version, skipped: 0 })
}

/// Document labels used in SDN remarks, longest first where one is a prefix of another.
const ID_LABELS: &[&str] = &[
    "Diplomatic Passport",
    "Passport No.",
    "Passport",
    "National ID No.",
    "Cedula No.",
    "Tax ID No.",
    "SSN",
    "Registration ID",
    "Business Registration Number",
    "Business Registration Document #",
    "Registration Number",
    "Identification Number",
    "NIT #",
    "RFC",
    "C.U.R.P.",
    "CURP #",
    "D.N.I.",
    "C.U.I.T.",
    "Driver's License No.",
    "Residency Number",
    "Personal ID Card",
    "UK Company Number",
    "Company Number",
    "Trade License No.",
    "Certificate of Incorporation Number",
    "Legal Entity Number",
    "V.A.T. Number",
    "US FEIN",
    "Kenyan ID No.",
    "Italian Fiscal Code",
    "Electoral Registry No.",
    "Birth Certificate Number",
    "Public Security and Immigration No.",
    "Stateless Person ID Card",
    "Refugee ID Card",
    "Identification Card",
    "Aircraft Manufacturer's Serial Number (MSN)",
    "Aircraft Construction Number (also called L/N or S/N or F/N)",
    "Aircraft Mode S Transponder Code",
    "Matricula Mercantil No",
    "Folio Mercantil No.",
    "Chamber of Commerce Number",
    "Commercial Registry Number",
    "Government Gazette Number",
    "D-U-N-S Number",
    "SWIFT/BIC",
];

fn vessel_ids() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\b(IMO|MMSI) (\d{7,9})\b").ok()).as_ref()
}

/// Parse a birth date phrase: `07 Oct 1952`, `1952`, `circa 1952`, `1960 to 1962`, `Oct 1952`.
fn parse_dob(text: &str) -> Option<BirthDate> {
    let t = text.trim();
    let (approximate, t) = match t.strip_prefix("circa ") {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let mut parts = t.splitn(2, " to ");
    let from = PartialDate::parse(parts.next()?)?;
    let until = parts.next().and_then(PartialDate::parse);
    Some(BirthDate { date: from, until, approximate })
}

/// Pull dates of birth, nationalities, places of birth and document numbers out of SDN remarks.
pub fn parse_remarks(e: &mut WatchlistEntry, remarks: &str) {
    for part in remarks.split(';') {
        let part = part.trim().trim_end_matches('.').trim();
        let part = part.strip_prefix("alt. ").unwrap_or(part);
        if part.is_empty() {
            continue;
        }
        if let Some(rest) = part.strip_prefix("DOB ") {
            if let Some(d) = parse_dob(rest) {
                e.add_birth_date(d);
            }
        } else if let Some(rest) = part.strip_prefix("nationality ").or_else(|| part.strip_prefix("citizen ")) {
            e.add_country(rest);
        } else if let Some(rest) = part.strip_prefix("POB ") {
            if let Some(code) = rest.rsplit(',').next().and_then(country_code) {
                e.add_country(code);
            }
        } else {
            if let Some(re) = vessel_ids() {
                for cap in re.captures_iter(part) {
                    e.add_identifier(&cap[1], &cap[2], None);
                }
            }
            if part.contains("IMO ") || part.starts_with("MMSI ") || part.starts_with("Vessel ") {
                continue;
            }
            if let Some(label) = ID_LABELS.iter().find(|l| part.starts_with(**l) && part[l.len()..].starts_with(' ')) {
                let rest = part[label.len()..].trim();
                let (value, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let country = tail.trim().strip_prefix('(').and_then(|t| t.split(')').next());
                if value.bytes().any(|b| b.is_ascii_digit()) {
                    e.add_identifier(label, value, country);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remarks() {
        let mut e = WatchlistEntry::new(LIST, "1", EntityType::Person);
        parse_remarks(
            &mut e,
            "DOB 07 Oct 1952; alt. DOB 1953; DOB circa 1960 to 1962; POB Leningrad, Russia; nationality Russia; \
             Passport 123456 (Russia); Gender Male; Vessel Registration Identification IMO 9187629.",
        );
        let dobs: Vec<String> = e.dates_of_birth.iter().map(|d| d.to_string()).collect();
        assert_eq!(dobs, ["1952-10-07", "1953", "circa 1960 to 1962"]);
        assert_eq!(e.countries, ["RU"]);
        assert_eq!(e.identifiers.len(), 2);
        assert_eq!(e.identifiers[0].kind, "Passport");
        assert_eq!(e.identifiers[0].country.as_deref(), Some("Russia"));
        assert_eq!(e.identifiers[1].value, "9187629");
    }

    #[test]
    fn malformed_rows_are_typed_errors() {
        let mut bad = "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\"\n".as_bytes();
        let err = import(&mut bad, None, None, None).map(|_| ()).map_err(|e| e.to_string());
        assert_eq!(err, Err("ofac_sdn: sdn.csv line 1: expected 12 fields, found 4".to_string()));
        let mut bad_id = "x,\"A\",-0-,\"CUBA\",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n".as_bytes();
        assert!(import(&mut bad_id, None, None, None).is_err());
        let mut quote = "36,\"unterminated,-0-\n".as_bytes();
        assert!(import(&mut quote, None, None, None).is_err());
    }
}
