//! Consistency between a parsed MRZ and the data a person entered: names, date of birth, document number,
//! nationality and expiry, each reported as match or mismatch after normalising case, accents, punctuation
//! and `<` fillers. Must not parse MRZ text or judge the document's own validity (that is the checks list).

use serde::Serialize;
use time::Date;

use super::codes::alpha2_of;
use super::names::{encode_name, transliterate, Umlauts};
use super::MrzData;

/// What the person entered. `None` (or an empty string) means "not entered".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entered {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: Option<Date>,
    pub document_number: Option<String>,
    /// ISO 3166-1 alpha-2 (`DE`) or alpha-3 (`DEU`); ICAO's `D` is understood too.
    pub nationality: Option<String>,
    pub expiry: Option<Date>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComparedField {
    FirstName,
    LastName,
    DateOfBirth,
    DocumentNumber,
    Nationality,
    Expiry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldOutcome {
    Match,
    Mismatch,
    /// Nothing was entered for this field.
    NotEntered,
    /// The MRZ has no usable value (unknown date, empty name part, unreadable characters).
    NotInMrz,
}

/// One field's outcome. `detail` explains the rule applied and never quotes either value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldComparison {
    pub field: ComparedField,
    pub outcome: FieldOutcome,
    pub detail: String,
}

/// Compares every field of `entered` with the MRZ, in the order first name, last name, date of birth,
/// document number, nationality, expiry.
///
/// - Names: both sides reduced to MRZ letters (A-Z, components separated by one space; accents dropped,
///   Æ→AE, ß→SS, apostrophes removed, hyphens split), trying both ICAO umlauts (Ä→AE) and plain ones (Ä→A).
///   When the MRZ name fills its field (possibly truncated), an entered name also matches if ICAO's
///   truncation of it gives the MRZ, or if it starts with the MRZ's (cut) name part.
/// - Dates: compared as the MRZ's `YYMMDD` digits, so the century rule cannot cause a mismatch; a partly
///   unknown MRZ date of birth (`YYMM<<`) is compared on its known digits.
/// - Document number: letters and digits only, uppercased (spaces, hyphens, `<` dropped).
/// - Nationality: alpha-2 or alpha-3 entered, compared by country (`D`, `DEU` and `DE` are one country).
pub fn compare(mrz: &MrzData, entered: &Entered) -> Vec<FieldComparison> {
    let (first, last) = compare_names(mrz, entered);
    vec![
        first,
        last,
        compare_date(ComparedField::DateOfBirth, &mrz.date_of_birth_raw, entered.date_of_birth),
        compare_number(mrz, entered.document_number.as_deref()),
        compare_nationality(mrz, entered.nationality.as_deref()),
        compare_date(ComparedField::Expiry, &mrz.date_of_expiry_raw, entered.expiry),
    ]
}

fn result(field: ComparedField, outcome: FieldOutcome, detail: &str) -> FieldComparison {
    FieldComparison { field, outcome, detail: detail.to_string() }
}

fn entered_text(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The entered text as MRZ letters, one string per umlaut convention; empty when not Latin script.
fn name_forms(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for u in [Umlauts::Icao, Umlauts::Plain] {
        if let Some(t) = transliterate(value, u) {
            let form = t.split('<').filter(|c| !c.is_empty()).collect::<Vec<_>>().join(" ");
            if !out.contains(&form) {
                out.push(form);
            }
        }
    }
    out
}

fn compare_names(mrz: &MrzData, entered: &Entered) -> (FieldComparison, FieldComparison) {
    let first = entered_text(entered.first_name.as_deref());
    let last = entered_text(entered.last_name.as_deref());
    // A full name field may hold an ICAO-truncated name: re-encode what was entered and compare fields.
    if mrz.name_possibly_truncated {
        if let (Some(f), Some(l)) = (first, last) {
            let field = if mrz.secondary_identifier.is_empty() {
                mrz.primary_identifier.replace(' ', "<")
            } else {
                format!("{}<<{}", mrz.primary_identifier.replace(' ', "<"), mrz.secondary_identifier.replace(' ', "<"))
            };
            let width = mrz.format.name_width();
            if [Umlauts::Icao, Umlauts::Plain]
                .iter()
                .any(|&u| encode_name(l, f, width, u).is_some_and(|e| e.trim_end_matches('<') == field))
            {
                let detail = "matches the MRZ name as ICAO truncates it to fit the field";
                return (
                    result(ComparedField::FirstName, FieldOutcome::Match, detail),
                    result(ComparedField::LastName, FieldOutcome::Match, detail),
                );
            }
        }
    }
    (
        compare_name(ComparedField::FirstName, first, &mrz.secondary_identifier, mrz.name_possibly_truncated),
        compare_name(ComparedField::LastName, last, &mrz.primary_identifier, mrz.name_possibly_truncated),
    )
}

fn compare_name(field: ComparedField, entered: Option<&str>, mrz: &str, truncated: bool) -> FieldComparison {
    let Some(value) = entered else {
        return result(field, FieldOutcome::NotEntered, "not entered");
    };
    let forms = name_forms(value);
    if forms.is_empty() {
        return result(
            field,
            FieldOutcome::Mismatch,
            "the entered name has letters outside the Latin script, which idv does not transliterate",
        );
    }
    if mrz.is_empty() {
        return result(field, FieldOutcome::NotInMrz, "the MRZ has no value for this name part");
    }
    if forms.iter().any(|f| f == mrz) {
        return result(field, FieldOutcome::Match, "equal after normalising case, accents and separators");
    }
    if truncated && forms.iter().any(|f| f.starts_with(mrz)) {
        return result(field, FieldOutcome::Match, "the MRZ name fills its field and the entered name starts with it");
    }
    result(field, FieldOutcome::Mismatch, "differs after normalising case, accents and separators")
}

fn yymmdd(date: Date) -> String {
    format!("{:02}{:02}{:02}", date.year().rem_euclid(100), u8::from(date.month()), date.day())
}

fn compare_date(field: ComparedField, mrz_raw: &str, entered: Option<Date>) -> FieldComparison {
    let Some(date) = entered else {
        return result(field, FieldOutcome::NotEntered, "not entered");
    };
    let known = mrz_raw.trim_end_matches('<');
    let valid_shape =
        mrz_raw.len() == 6 && matches!(known.len(), 0 | 2 | 4 | 6) && known.bytes().all(|b| b.is_ascii_digit());
    if !valid_shape {
        return result(field, FieldOutcome::NotInMrz, "the MRZ date is unreadable");
    }
    if known.is_empty() {
        return result(field, FieldOutcome::NotInMrz, "the MRZ date is unknown (all fillers)");
    }
    let entered = yymmdd(date);
    if entered.starts_with(known) {
        let detail = if known.len() == 6 { "same YYMMDD" } else { "agrees with the known part of the MRZ date" };
        result(field, FieldOutcome::Match, detail)
    } else {
        result(field, FieldOutcome::Mismatch, "different YYMMDD")
    }
}

fn compare_number(mrz: &MrzData, entered: Option<&str>) -> FieldComparison {
    let field = ComparedField::DocumentNumber;
    let Some(value) = entered_text(entered) else {
        return result(field, FieldOutcome::NotEntered, "not entered");
    };
    let normal: String = value.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
    let mrz_number = mrz.document_number.replace('<', "");
    if mrz_number.is_empty() {
        return result(field, FieldOutcome::NotInMrz, "the MRZ has no document number");
    }
    if normal == mrz_number {
        result(field, FieldOutcome::Match, "equal after removing spaces, hyphens and fillers")
    } else {
        result(field, FieldOutcome::Mismatch, "differs after removing spaces, hyphens and fillers")
    }
}

fn compare_nationality(mrz: &MrzData, entered: Option<&str>) -> FieldComparison {
    let field = ComparedField::Nationality;
    let Some(value) = entered_text(entered) else {
        return result(field, FieldOutcome::NotEntered, "not entered");
    };
    if mrz.nationality.is_empty() {
        return result(field, FieldOutcome::NotInMrz, "the MRZ has no nationality");
    }
    let value = value.to_ascii_uppercase();
    let entered_country = if value.len() == 2 { Some(value.as_str()) } else { alpha2_of(&value) };
    let mrz_country = alpha2_of(&mrz.nationality);
    if value == mrz.nationality {
        result(field, FieldOutcome::Match, "same code")
    } else if entered_country.is_some() && entered_country == mrz_country {
        result(field, FieldOutcome::Match, "same country (alpha-2, alpha-3 and ICAO codes compared)")
    } else {
        result(field, FieldOutcome::Mismatch, "different country")
    }
}
