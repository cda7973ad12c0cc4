//! Validated values parsed at the boundary: country codes, dates of birth, emails, phones, tags, refs.
//! Each `parse_*` returns the canonical form or a field error; must not do I/O.

use crate::error::FieldError;

const ISO_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ \
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET \
FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR \
IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN \
MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY \
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR \
TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

pub fn parse_country(field: &str, value: &str) -> Result<String, FieldError> {
    let upper = value.trim().to_ascii_uppercase();
    if upper.len() == 2 && ISO_ALPHA2.split(' ').any(|c| c == upper) {
        Ok(upper)
    } else {
        Err(FieldError::new(field, "must be an ISO 3166-1 alpha-2 country code"))
    }
}

/// `YYYY-MM-DD`, a real calendar date, not after `today` (also `YYYY-MM-DD`).
pub fn parse_date_of_birth(field: &str, value: &str, today: &str) -> Result<String, FieldError> {
    let v = parse_date(field, value)?;
    if v.as_str() < "1900-01-01" {
        return Err(FieldError::new(field, "must be on or after 1900-01-01"));
    }
    if v.as_str() > &today[..10.min(today.len())] {
        return Err(FieldError::new(field, "must not be in the future"));
    }
    Ok(v)
}

/// Any real calendar date `YYYY-MM-DD` (document expiry dates, custom date fields).
pub fn parse_date(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    let bad = || FieldError::new(field, "must be a date in the format YYYY-MM-DD");
    let parts: Vec<&str> = v.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i32, u32, u32) = match (parts[0].parse(), parts[1].parse(), parts[2].parse()) {
        (Ok(y), Ok(m), Ok(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if d == 0 || d > days || !(1000..=9999).contains(&y) {
        return Err(bad());
    }
    Ok(v.to_string())
}

pub fn parse_email(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    let ok = v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !v.chars().any(char::is_whitespace);
    if ok {
        Ok(v.to_string())
    } else {
        Err(FieldError::new(field, "must be a valid email address"))
    }
}

pub fn parse_phone(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let allowed = v.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if allowed && (7..=15).contains(&digits) {
        Ok(v.to_string())
    } else {
        Err(FieldError::new(field, "must be a phone number of 7 to 15 digits"))
    }
}

/// Free text PII (names, address lines): non-empty after trimming, bounded, no control characters.
pub fn parse_text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(FieldError::new(field, format!("must be at most {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters"));
    }
    Ok(v.to_string())
}

pub fn parse_external_ref(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() || v.len() > 255 {
        return Err(FieldError::new(field, "must be 1 to 255 characters"));
    }
    if v.chars().any(|c| c.is_control() || c == '/') {
        return Err(FieldError::new(field, "must not contain '/' or control characters"));
    }
    Ok(v.to_string())
}

pub const MAX_TAGS: usize = 50;

pub fn parse_tag(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > 100 || v.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must be 1 to 100 printable characters"));
    }
    Ok(v.to_string())
}

/// A deduplicated tag list, order kept, at most 50.
pub fn parse_tags(field: &str, values: &[String]) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let tag = parse_tag(field, v)?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(FieldError::new(field, format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_birth_are_real_past_dates() {
        assert!(parse_date_of_birth("d", "1990-02-28", "2026-01-01").is_ok());
        assert!(parse_date_of_birth("d", "1991-02-29", "2026-01-01").is_err());
        assert!(parse_date_of_birth("d", "2030-01-01", "2026-01-01").is_err());
        assert!(parse_date_of_birth("d", "01/02/1990", "2026-01-01").is_err());
    }

    #[test]
    fn countries_are_iso_codes() {
        assert_eq!(parse_country("c", "us").unwrap(), "US");
        assert!(parse_country("c", "XX").is_err());
        assert!(parse_country("c", "USA").is_err());
    }
}
