//! UN Security Council consolidated list importer (the `CONSOLIDATED_LIST` XML: `INDIVIDUAL` and `ENTITY`
//! records). Streams the XML; must not panic on malformed input or touch the matcher.

use super::{combined_digest, DigestReader, Import, ImportError};
use crate::screening::model::{BirthDate, EntityType, ListSource, ListVersion, NameKind, PartialDate, WatchlistEntry};
use quick_xml::events::{BytesStart, Event};
use std::io::{BufReader, Read};

const LIST: ListSource = ListSource::UnConsolidated;
const FILE: &str = "UN_consolidated.xml";

#[derive(Default)]
struct Dob {
    kind: String,
    date: String,
    year: String,
    from: String,
    to: String,
}

#[derive(Default)]
struct Doc {
    kind: String,
    number: String,
    country: String,
}

#[derive(Default)]
struct Record {
    person: bool,
    dataid: String,
    reference: String,
    names: [String; 4],
    original_script: String,
    aliases: Vec<(String, String)>,
    alias_quality: String,
    alias_name: String,
    dob: Dob,
    dobs: Vec<BirthDate>,
    doc: Doc,
    docs: Vec<Doc>,
    countries: Vec<String>,
    list_type: String,
    comments: String,
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok())
        .map(|v| v.into_owned())
}

/// Import the UN consolidated list XML.
pub fn import<R: Read>(input: R) -> Result<Import, ImportError> {
    let mut src = DigestReader::new(input);
    let mut entries = Vec::new();
    let mut skipped = 0usize;
    let mut published = None;
    {
        let mut reader = quick_xml::Reader::from_reader(BufReader::new(&mut src));
        reader.config_mut().trim_text(true);
        let mut buf = Vec::new();
        let mut stack: Vec<String> = Vec::new();
        let mut text = String::new();
        let mut rec: Option<Record> = None;
        loop {
            let pos = reader.buffer_position();
            let ev = reader
                .read_event_into(&mut buf)
                .map_err(|e| ImportError::malformed(LIST, FILE, format!("byte {pos}"), e.to_string()))?;
            match ev {
                Event::Start(e) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if name == "CONSOLIDATED_LIST" {
                        published = attr(&e, b"dateGenerated");
                    }
                    if name == "INDIVIDUAL" || name == "ENTITY" {
                        rec = Some(Record { person: name == "INDIVIDUAL", ..Record::default() });
                    }
                    text.clear();
                    stack.push(name);
                }
                Event::Empty(_) => {}
                Event::Text(t) => {
                    let s = t
                        .unescape()
                        .map_err(|e| ImportError::malformed(LIST, FILE, format!("byte {pos}"), e.to_string()))?;
                    text.push_str(&s);
                }
                Event::CData(c) => text.push_str(&String::from_utf8_lossy(&c.into_inner())),
                Event::End(_) => {
                    let Some(name) = stack.pop() else {
                        return Err(ImportError::malformed(LIST, FILE, format!("byte {pos}"), "unbalanced end tag"));
                    };
                    let parent = stack.last().map(String::as_str).unwrap_or("");
                    let value = std::mem::take(&mut text);
                    let value = value.trim();
                    if name == "INDIVIDUAL" || name == "ENTITY" {
                        if let Some(r) = rec.take() {
                            match finish(r) {
                                Ok(Some(e)) => entries.push(e),
                                Ok(None) => skipped += 1,
                                Err(msg) => {
                                    return Err(ImportError::malformed(LIST, FILE, format!("byte {pos}"), msg));
                                }
                            }
                        }
                    } else if let Some(r) = rec.as_mut() {
                        field(r, parent, &name, value);
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        if !stack.is_empty() {
            return Err(ImportError::malformed(LIST, FILE, "end of file", format!("unclosed <{}>", stack.join("><"))));
        }
    }
    let version = ListVersion {
        source: LIST,
        published,
        entry_count: entries.len(),
        content_digest: combined_digest(&[src.hasher()]),
    };
    Ok(Import { entries, version, skipped })
}

fn field(r: &mut Record, parent: &str, name: &str, value: &str) {
    match (parent, name) {
        ("INDIVIDUAL" | "ENTITY", "DATAID") => r.dataid = value.to_string(),
        ("INDIVIDUAL" | "ENTITY", "REFERENCE_NUMBER") => r.reference = value.to_string(),
        ("INDIVIDUAL" | "ENTITY", "FIRST_NAME") => r.names[0] = value.to_string(),
        ("INDIVIDUAL" | "ENTITY", "SECOND_NAME") => r.names[1] = value.to_string(),
        ("INDIVIDUAL" | "ENTITY", "THIRD_NAME") => r.names[2] = value.to_string(),
        ("INDIVIDUAL" | "ENTITY", "FOURTH_NAME") => r.names[3] = value.to_string(),
        ("INDIVIDUAL" | "ENTITY", "NAME_ORIGINAL_SCRIPT") => r.original_script = value.to_string(),
        ("INDIVIDUAL" | "ENTITY", "UN_LIST_TYPE") => r.list_type = value.to_string(),
        ("INDIVIDUAL" | "ENTITY", "COMMENTS1") => r.comments = value.to_string(),
        ("INDIVIDUAL_ALIAS" | "ENTITY_ALIAS", "QUALITY") => r.alias_quality = value.to_string(),
        ("INDIVIDUAL_ALIAS" | "ENTITY_ALIAS", "ALIAS_NAME") => r.alias_name = value.to_string(),
        (_, "INDIVIDUAL_ALIAS" | "ENTITY_ALIAS") => {
            let q = std::mem::take(&mut r.alias_quality);
            let n = std::mem::take(&mut r.alias_name);
            if !n.is_empty() {
                r.aliases.push((q, n));
            }
        }
        ("INDIVIDUAL_DATE_OF_BIRTH", "TYPE_OF_DATE") => r.dob.kind = value.to_string(),
        ("INDIVIDUAL_DATE_OF_BIRTH", "DATE") => r.dob.date = value.to_string(),
        ("INDIVIDUAL_DATE_OF_BIRTH", "YEAR") => r.dob.year = value.to_string(),
        ("INDIVIDUAL_DATE_OF_BIRTH", "FROM_YEAR") => r.dob.from = value.to_string(),
        ("INDIVIDUAL_DATE_OF_BIRTH", "TO_YEAR") => r.dob.to = value.to_string(),
        (_, "INDIVIDUAL_DATE_OF_BIRTH") => {
            let d = std::mem::take(&mut r.dob);
            let approximate = d.kind.eq_ignore_ascii_case("APPROXIMATELY");
            let parsed = if d.kind.eq_ignore_ascii_case("BETWEEN") {
                PartialDate::parse(&d.from).map(|from| BirthDate {
                    date: from,
                    until: PartialDate::parse(&d.to),
                    approximate,
                })
            } else {
                PartialDate::parse(&d.date).or_else(|| PartialDate::parse(&d.year)).map(|date| BirthDate {
                    date,
                    until: None,
                    approximate,
                })
            };
            if let Some(b) = parsed {
                if !r.dobs.contains(&b) {
                    r.dobs.push(b);
                }
            }
        }
        ("INDIVIDUAL_DOCUMENT", "TYPE_OF_DOCUMENT") => r.doc.kind = value.to_string(),
        ("INDIVIDUAL_DOCUMENT", "NUMBER") => r.doc.number = value.to_string(),
        ("INDIVIDUAL_DOCUMENT", "ISSUING_COUNTRY") => r.doc.country = value.to_string(),
        (_, "INDIVIDUAL_DOCUMENT") => {
            let d = std::mem::take(&mut r.doc);
            if !d.number.is_empty() {
                r.docs.push(d);
            }
        }
        ("NATIONALITY", "VALUE")
        | ("INDIVIDUAL_ADDRESS" | "ENTITY_ADDRESS", "COUNTRY")
        | ("INDIVIDUAL_PLACE_OF_BIRTH", "COUNTRY")
            if !value.is_empty() =>
        {
            r.countries.push(value.to_string());
        }
        _ => {}
    }
}

fn finish(r: Record) -> Result<Option<WatchlistEntry>, String> {
    let id = if !r.reference.is_empty() { r.reference.clone() } else { r.dataid.clone() };
    if id.is_empty() {
        return Err("record without REFERENCE_NUMBER or DATAID".to_string());
    }
    let primary = r.names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect::<Vec<_>>().join(" ");
    if primary.is_empty() && r.aliases.is_empty() {
        return Ok(None);
    }
    let ty = if r.person { EntityType::Person } else { EntityType::Organization };
    let mut e = WatchlistEntry::new(LIST, id, ty);
    e.add_name(&primary, NameKind::Primary);
    e.add_name(&r.original_script, NameKind::OriginalScript);
    for (quality, name) in &r.aliases {
        let kind = match quality.to_ascii_lowercase().as_str() {
            "low" => NameKind::Weak,
            "f.k.a." => NameKind::Former,
            _ => NameKind::Alias,
        };
        e.add_name(name, kind);
    }
    for d in r.dobs {
        e.add_birth_date(d);
    }
    for c in &r.countries {
        e.add_country(c);
    }
    for d in &r.docs {
        let kind = if d.kind.is_empty() { "Document" } else { d.kind.as_str() };
        e.add_identifier(kind, &d.number, if d.country.is_empty() { None } else { Some(d.country.as_str()) });
    }
    e.add_program(&r.list_type);
    if !r.comments.is_empty() {
        e.add_remark(&r.comments);
    }
    Ok(Some(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_xml_is_an_error() {
        let xml = "<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>A";
        assert!(import(xml.as_bytes()).is_err());
        let bad = "<CONSOLIDATED_LIST><INDIVIDUALS></ENTITIES></CONSOLIDATED_LIST>";
        assert!(import(bad.as_bytes()).is_err());
    }

    #[test]
    fn minimal_record() {
        let xml = r#"<CONSOLIDATED_LIST dateGenerated="2026-01-01"><INDIVIDUALS><INDIVIDUAL>
            <DATAID>9</DATAID><FIRST_NAME>ERIC</FIRST_NAME><SECOND_NAME>BADEGE</SECOND_NAME>
            <REFERENCE_NUMBER>CDi.001</REFERENCE_NUMBER>
            <INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>Eric B</ALIAS_NAME></INDIVIDUAL_ALIAS>
            <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><YEAR>1971</YEAR></INDIVIDUAL_DATE_OF_BIRTH>
            <NATIONALITY><VALUE>Democratic Republic of the Congo</VALUE></NATIONALITY>
            </INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"#;
        let imp = import(xml.as_bytes()).map_err(|e| e.to_string());
        let imp = match imp {
            Ok(i) => i,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(imp.version.published.as_deref(), Some("2026-01-01"));
        let e = &imp.entries[0];
        assert_eq!(e.entry_id, "CDi.001");
        assert_eq!(e.primary_name(), "ERIC BADEGE");
        assert_eq!(e.names[1].kind, NameKind::Weak);
        assert_eq!(e.dates_of_birth[0].to_string(), "1971");
        assert_eq!(e.countries, ["CD"]);
    }
}
