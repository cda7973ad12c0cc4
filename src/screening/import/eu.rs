//! EU consolidated financial sanctions list importer, in both published forms: the semicolon CSV (one row per
//! name alias, birth date, identification, citizenship or address, grouped by `Entity_LogicalId`) and the
//! XML export (`<export><sanctionEntity>` with attribute-only children). Columns are found by header name.
//! Must not panic on malformed input or touch the matcher.

use super::{combined_digest, csv_error, decode_field, DigestReader, Grouper, Import, ImportError};
use crate::screening::model::{BirthDate, EntityType, ListSource, ListVersion, NameKind, PartialDate, WatchlistEntry};
use quick_xml::events::{BytesStart, Event};
use std::collections::HashMap;
use std::io::{BufReader, Read};

const LIST: ListSource = ListSource::EuConsolidated;

fn entity_type(code: &str) -> EntityType {
    match code.trim().to_ascii_lowercase().as_str() {
        "p" | "person" => EntityType::Person,
        "vessel" | "ship" => EntityType::Vessel,
        _ => EntityType::Organization,
    }
}

fn birth_date(full: &str, year: &str, month: &str, day: &str, from: &str, to: &str, circa: &str) -> Option<BirthDate> {
    let approximate = circa.trim().eq_ignore_ascii_case("true") || circa.trim().eq_ignore_ascii_case("y");
    if let Some(d) = PartialDate::parse(full) {
        return Some(BirthDate { date: d, until: None, approximate });
    }
    if let Ok(y) = year.trim().parse::<i32>() {
        let m = month.trim().parse::<u8>().ok().filter(|m| (1..=12).contains(m));
        let d = day.trim().parse::<u8>().ok().filter(|d| (1..=31).contains(d) && m.is_some());
        return Some(BirthDate { date: PartialDate { year: y, month: m, day: d }, until: None, approximate });
    }
    let from = PartialDate::parse(from)?;
    Some(BirthDate { date: from, until: PartialDate::parse(to), approximate })
}

/// Import the EU list from its CSV form.
pub fn import_csv<R: Read>(input: R) -> Result<Import, ImportError> {
    const FILE: &str = "EU CSV";
    let mut src = DigestReader::new(input);
    let mut groups = Grouper::new();
    let mut published = None;
    let mut skipped = 0;
    {
        let mut rd = csv::ReaderBuilder::new().delimiter(b';').flexible(true).from_reader(&mut src);
        let headers = rd.byte_headers().map_err(|e| csv_error(LIST, FILE, e))?.clone();
        let cols: HashMap<String, usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (decode_field(h).trim_start_matches('\u{feff}').trim().to_string(), i))
            .collect();
        let id_col = *cols
            .get("Entity_LogicalId")
            .ok_or_else(|| ImportError::malformed(LIST, FILE, "line 1", "no Entity_LogicalId column"))?;
        let mut rec = csv::ByteRecord::new();
        while rd.read_byte_record(&mut rec).map_err(|e| csv_error(LIST, FILE, e))? {
            let get = |name: &str| -> String {
                cols.get(name)
                    .and_then(|&i| rec.get(i))
                    .map(decode_field)
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            };
            let id = rec.get(id_col).map(decode_field).unwrap_or_default().trim().to_string();
            if id.is_empty() {
                if rec.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                    continue;
                }
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                return Err(ImportError::malformed(LIST, FILE, format!("line {line}"), "row without Entity_LogicalId"));
            }
            if published.is_none() {
                published = Some(get("fileGenerationDate")).filter(|s| !s.is_empty());
            }
            let reference = get("Entity_EU_ReferenceNumber");
            let code = {
                let c = get("Entity_SubjectType_ClassificationCode");
                if c.is_empty() {
                    get("Entity_SubjectType")
                } else {
                    c
                }
            };
            let e = groups.entry(&id, || {
                WatchlistEntry::new(
                    LIST,
                    if reference.is_empty() { id.clone() } else { reference.clone() },
                    entity_type(&code),
                )
            });
            let whole = get("NameAlias_WholeName");
            let whole = if whole.is_empty() {
                [get("NameAlias_FirstName"), get("NameAlias_MiddleName"), get("NameAlias_LastName")]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                whole
            };
            let kind = if e.names.is_empty() { NameKind::Primary } else { NameKind::Alias };
            let kind = if get("NameAlias_Strong").eq_ignore_ascii_case("false") { NameKind::Weak } else { kind };
            e.add_name(&whole, kind);
            if let Some(b) = birth_date(
                &get("BirthDate_BirthDate"),
                &get("BirthDate_Year"),
                &get("BirthDate_Month"),
                &get("BirthDate_Day"),
                &get("BirthDate_YearRangeFrom"),
                &get("BirthDate_YearRangeTo"),
                &get("BirthDate_Circa"),
            ) {
                e.add_birth_date(b);
            }
            for col in ["Citizenship_CountryIso2Code", "Address_CountryIso2Code"] {
                let c = get(col);
                if c.len() == 2 && c != "00" {
                    e.add_country(&c);
                }
            }
            let number = get("Identification_Number");
            if !number.is_empty() {
                let kind = get("Identification_TypeDescription");
                let kind = if kind.is_empty() { get("Identification_TypeCode") } else { kind };
                let country = get("Identification_CountryIso2Code");
                e.add_identifier(
                    if kind.is_empty() { "Document" } else { &kind },
                    &number,
                    Some(&country).filter(|c| !c.is_empty()).map(|c| c.as_str()),
                );
            }
            e.add_program(&get("Entity_Regulation_Programme"));
            let remark = get("Entity_Remark");
            if !remark.is_empty() && e.remarks.is_none() {
                e.remarks = Some(remark);
            }
        }
    }
    let mut entries = groups.into_entries();
    let before = entries.len();
    entries.retain(|e| !e.names.is_empty());
    skipped += before - entries.len();
    let version = ListVersion {
        source: LIST,
        published,
        entry_count: entries.len(),
        content_digest: combined_digest(&[src.hasher()]),
    };
    Ok(Import { entries, version, skipped })
}

fn attrs(e: &BytesStart<'_>) -> HashMap<String, String> {
    e.attributes()
        .flatten()
        .filter_map(|a| {
            let k = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
            a.unescape_value().ok().map(|v| (k, v.trim().to_string()))
        })
        .collect()
}

/// Import the EU list from its XML form.
pub fn import_xml<R: Read>(input: R) -> Result<Import, ImportError> {
    const FILE: &str = "EU XML";
    let mut src = DigestReader::new(input);
    let mut entries = Vec::new();
    let mut skipped = 0;
    let mut published = None;
    {
        let mut reader = quick_xml::Reader::from_reader(BufReader::new(&mut src));
        reader.config_mut().trim_text(true);
        let mut buf = Vec::new();
        let mut cur: Option<WatchlistEntry> = None;
        let mut depth = 0usize;
        let mut in_remark = false;
        loop {
            let pos = reader.buffer_position();
            let ev = reader
                .read_event_into(&mut buf)
                .map_err(|e| ImportError::malformed(LIST, FILE, format!("byte {pos}"), e.to_string()))?;
            let (start, empty) = match &ev {
                Event::Start(e) => (Some(e.clone()), false),
                Event::Empty(e) => (Some(e.clone()), true),
                _ => (None, false),
            };
            if let Some(e) = start {
                if !empty {
                    depth += 1;
                }
                let name = e.local_name();
                let a = attrs(&e);
                let get = |k: &str| a.get(k).cloned().unwrap_or_default();
                match name.as_ref() {
                    b"export" => published = a.get("generationDate").cloned(),
                    b"sanctionEntity" => {
                        let id = get("logicalId");
                        let reference = get("euReferenceNumber");
                        let key = if reference.is_empty() { id } else { reference };
                        if key.is_empty() {
                            return Err(ImportError::malformed(
                                LIST,
                                FILE,
                                format!("byte {pos}"),
                                "sanctionEntity without logicalId",
                            ));
                        }
                        cur = Some(WatchlistEntry::new(LIST, key, EntityType::Organization));
                    }
                    b"subjectType" => {
                        if let Some(c) = cur.as_mut() {
                            let code = get("classificationCode");
                            let code = if code.is_empty() { get("code") } else { code };
                            c.entity_type = entity_type(&code);
                        }
                    }
                    b"nameAlias" => {
                        if let Some(c) = cur.as_mut() {
                            let mut whole = get("wholeName");
                            if whole.is_empty() {
                                whole = [get("firstName"), get("middleName"), get("lastName")]
                                    .iter()
                                    .filter(|s| !s.is_empty())
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(" ");
                            }
                            let kind = if get("strong").eq_ignore_ascii_case("false") {
                                NameKind::Weak
                            } else if c.names.is_empty() {
                                NameKind::Primary
                            } else {
                                NameKind::Alias
                            };
                            c.add_name(&whole, kind);
                        }
                    }
                    b"birthdate" => {
                        if let Some(c) = cur.as_mut() {
                            if let Some(b) = birth_date(
                                &get("birthdate"),
                                &get("year"),
                                &get("monthOfYear"),
                                &get("dayOfMonth"),
                                &get("yearRangeFrom"),
                                &get("yearRangeTo"),
                                &get("circa"),
                            ) {
                                c.add_birth_date(b);
                            }
                        }
                    }
                    b"citizenship" | b"address" => {
                        if let Some(c) = cur.as_mut() {
                            let iso = get("countryIso2Code");
                            if iso.len() == 2 && iso != "00" {
                                c.add_country(&iso);
                            }
                        }
                    }
                    b"identification" => {
                        if let Some(c) = cur.as_mut() {
                            let kind = get("identificationTypeDescription");
                            let kind = if kind.is_empty() { get("identificationTypeCode") } else { kind };
                            let iso = get("countryIso2Code");
                            c.add_identifier(
                                if kind.is_empty() { "Document" } else { &kind },
                                &get("number"),
                                Some(iso.as_str()).filter(|s| !s.is_empty()),
                            );
                        }
                    }
                    b"regulation" => {
                        if let Some(c) = cur.as_mut() {
                            c.add_program(&get("programme"));
                        }
                    }
                    b"remark" => in_remark = !empty,
                    _ => {}
                }
                if empty && name.as_ref() == b"sanctionEntity" && cur.take().is_some() {
                    skipped += 1;
                }
            } else {
                match ev {
                    Event::Text(t) if in_remark => {
                        if let (Some(c), Ok(s)) = (cur.as_mut(), t.unescape()) {
                            if c.remarks.is_none() {
                                c.remarks = Some(s.trim().to_string());
                            }
                        }
                    }
                    Event::End(e) => {
                        depth = depth.checked_sub(1).ok_or_else(|| {
                            ImportError::malformed(LIST, FILE, format!("byte {pos}"), "unbalanced end tag")
                        })?;
                        match e.local_name().as_ref() {
                            b"remark" => in_remark = false,
                            b"sanctionEntity" => {
                                if let Some(c) = cur.take() {
                                    if c.names.is_empty() {
                                        skipped += 1;
                                    } else {
                                        entries.push(c);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    Event::Eof => break,
                    _ => {}
                }
            }
            buf.clear();
        }
        if depth != 0 {
            return Err(ImportError::malformed(LIST, FILE, "end of file", "unclosed element"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_without_id_column_is_an_error() {
        let csv = "fileGenerationDate;NameAlias_WholeName\n01/01/2026;Someone\n";
        assert!(import_csv(csv.as_bytes()).is_err());
    }

    #[test]
    fn truncated_xml_is_an_error() {
        let xml = r#"<export generationDate="x"><sanctionEntity logicalId="1"><nameAlias wholeName="A"/>"#;
        assert!(import_xml(xml.as_bytes()).is_err());
    }
}
