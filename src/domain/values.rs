//! Validated values parsed at the boundary: one type per value (country code, date of birth, email, phone,
//! person name, address line, document number, external ref, tag, ...), each with one `parse` that returns
//! the canonical form or a field error, serde that parses through it, and the OpenAPI schema that states the
//! same limits. Every endpoint and page that accepts such a value uses its type, so a limit lives in one place.
//! Must not do I/O. (The one concession: a date of birth deserialised from a request is checked against the
//! wall-clock date, since "not in the future" holds on any clock.)

use crate::error::FieldError;
use std::borrow::Cow;
use utoipa::openapi::{RefOr, Schema};

const ISO_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ \
BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET \
FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR \
IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN \
MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY \
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR \
TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

/// Builds a schema from its JSON form (the schemas here are small literals).
pub fn schema_from(json: serde_json::Value) -> RefOr<Schema> {
    RefOr::T(serde_json::from_value(json).expect("a literal schema is valid"))
}

/// Characters a free-text value may hold: anything but control characters (Unicode Cc).
const TEXT_CHAR: &str = "[^\\u0000-\\u001f\\u007f-\\u009f]";

/// A regex for 1+ characters without control characters and with at least one non-space; `also_deny`
/// adds characters to refuse (e.g. '/').
fn text_pattern(also_deny: &str) -> String {
    let allowed = TEXT_CHAR.replace("[^", &format!("[^{also_deny}"));
    let visible = TEXT_CHAR.replace("[^", &format!("[^{also_deny}\\s"));
    format!("^{allowed}*{visible}{allowed}*$")
}

/// Free text (names, address lines): non-empty after trimming, at most `max` characters, no control
/// characters.
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

/// The impls every string newtype shares (values here, ids in `ids`): `Display`, `AsRef<str>`, into
/// `String`, and serde as a plain string whose deserialising goes through the type's own `parse`.
macro_rules! string_newtype_impls {
    ($name:ident) => {
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse("", &text).map_err(|e| serde::de::Error::custom(e.message))
            }
        }
    };
}
pub(crate) use string_newtype_impls;

/// Declares a validated string newtype: `parse(field, text)`, `as_str`, `Display`, serde through `parse`,
/// and an OpenAPI schema from `$schema`.
macro_rules! value_type {
    ($(#[$doc:meta])* $name:ident, parse = $parse:expr, schema = $schema:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
                let parse: fn(&str, &str) -> Result<String, FieldError> = $parse;
                parse(field, text).map($name)
            }

            /// Wraps a value read back from the store (validated when it was written).
            pub fn from_stored(text: String) -> Self {
                $name(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        string_newtype_impls!($name);

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let schema: fn() -> serde_json::Value = $schema;
                schema_from(schema())
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

fn text_schema(max: usize, description: &str, example: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "string", "minLength": 1, "maxLength": max, "pattern": text_pattern(""),
        "description": description, "examples": [example],
    })
}

pub const NAME_MAX: usize = 100;
pub const ADDRESS_LINE_MAX: usize = 200;
pub const PLACE_MAX: usize = 100;
pub const SHORT_TEXT_MAX: usize = 20;
pub const DOCUMENT_NUMBER_MAX: usize = 40;

value_type!(
    /// A person's given, middle or family name (also a list entry's or a screened subject's name part).
    PersonName,
    parse = |f, t| parse_text(f, t, NAME_MAX),
    schema = || text_schema(NAME_MAX, "A name, 1 to 100 characters.", "Jane")
);
value_type!(
    /// One line of a postal address.
    AddressLine,
    parse = |f, t| parse_text(f, t, ADDRESS_LINE_MAX),
    schema = || text_schema(ADDRESS_LINE_MAX, "An address line, 1 to 200 characters.", "1 Main Street")
);
value_type!(
    /// A city or state/region name.
    PlaceName,
    parse = |f, t| parse_text(f, t, PLACE_MAX),
    schema = || text_schema(PLACE_MAX, "A city or region, 1 to 100 characters.", "Springfield")
);
value_type!(
    /// A postal code, gender marker or national id number: short free text.
    ShortText,
    parse = |f, t| parse_text(f, t, SHORT_TEXT_MAX),
    schema = || text_schema(SHORT_TEXT_MAX, "Short text, 1 to 20 characters.", "12345")
);
value_type!(
    /// An identity document's number as printed (passport, ID card, licence).
    DocumentNumber,
    parse = |f, t| parse_text(f, t, DOCUMENT_NUMBER_MAX),
    schema = || text_schema(DOCUMENT_NUMBER_MAX, "A document number, 1 to 40 characters.", "L898902C3")
);

value_type!(
    /// A display label of a configured object (identity type, custom field, relationship type).
    Label,
    parse = |f, t| parse_text(f, t, NAME_MAX),
    schema = || text_schema(NAME_MAX, "A label, 1 to 100 characters.", "Customer")
);

pub const SLUG_MAX: usize = 64;

/// A machine name: 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'.
pub fn parse_slug(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.len() <= SLUG_MAX
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldError::new(field, "must be 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'"))
    }
}

/// A relationship type name: a lowercase slug starting with a letter.
pub fn parse_relationship_type_name(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.len() <= SLUG_MAX
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && value.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if ok {
        Ok(value.to_string())
    } else {
        Err(FieldError::new(field, "must be a lowercase slug (a-z, 0-9, _), at most 64 characters"))
    }
}

value_type!(
    /// The name of a relationship type (built-in, system or custom), as links carry it.
    RelationshipTypeName,
    parse = parse_relationship_type_name,
    schema = || serde_json::json!({
        "type": "string", "minLength": 1, "maxLength": SLUG_MAX, "pattern": "^[a-z][a-z0-9_]{0,63}$",
        "description": "A relationship type name: a lowercase slug (a-z, 0-9, _) starting with a letter.",
        "examples": ["family_member"],
    })
);

value_type!(
    /// A machine name (identity type name, custom status, custom field name).
    Slug,
    parse = parse_slug,
    schema = || serde_json::json!({
        "type": "string", "minLength": 1, "maxLength": SLUG_MAX, "pattern": "^[A-Za-z0-9_-]{1,64}$",
        "description": "A machine name: 1 to 64 characters of a-z, A-Z, 0-9, '_' or '-'.",
        "examples": ["customer"],
    })
);

value_type!(
    /// ISO 3166-1 alpha-2, upper case (lower case accepted on input).
    CountryCode,
    parse = parse_country,
    schema = || serde_json::json!({
        "type": "string",
        "enum": ISO_ALPHA2.split(' ').collect::<Vec<_>>(),
        "description": "ISO 3166-1 alpha-2 country code.",
        "examples": ["US"],
    })
);

pub fn parse_country(field: &str, value: &str) -> Result<String, FieldError> {
    let upper = value.trim().to_ascii_uppercase();
    // The codes are two letters a space apart: compared as byte pairs, not through a string search.
    if upper.len() == 2 && ISO_ALPHA2.as_bytes().chunks(3).any(|c| c[..2] == *upper.as_bytes()) {
        Ok(upper)
    } else {
        Err(FieldError::new(field, "must be an ISO 3166-1 alpha-2 country code"))
    }
}

value_type!(
    /// A screening subject's country: an ISO 3166-1 alpha-2 code, or a country's English name or nationality
    /// adjective (`Russia`, `Russian Federation`, `Iranian`), kept as its alpha-2 code.
    SubjectCountry,
    parse = |f, t| {
        crate::screening::countries::country_code(t)
            .map(str::to_string)
            .ok_or_else(|| FieldError::new(f, "must be an ISO 3166-1 alpha-2 code or a country's name"))
    },
    schema = || serde_json::json!({
        "type": "string", "enum": crate::screening::countries::spellings(),
        "description": "An ISO 3166-1 alpha-2 code, or a country's English name or nationality (stored as the code).",
        "examples": ["RU", "Russia", "Iranian"],
    })
);

/// A regex for `YYYY-MM-DD` with years `from..=to` (both four digits).
fn year_range_date_pattern(from: i32, to: i32) -> String {
    let years: Vec<String> = (from..=to).map(|y| y.to_string()).collect();
    // Group the years by their first three digits so the pattern stays short.
    let mut groups: Vec<String> = Vec::new();
    let mut i = 0;
    while i < years.len() {
        let decade = &years[i][..3];
        let mut digits = String::new();
        while i < years.len() && &years[i][..3] == decade {
            digits.push_str(&years[i][3..]);
            i += 1;
        }
        groups.push(if digits.len() == 10 { format!("{decade}\\d") } else { format!("{decade}[{digits}]") });
    }
    format!("^({})-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$", groups.join("|"))
}

/// Today's date (UTC) as `YYYY-MM-DD`, by the wall clock.
fn wall_clock_today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}-{:02}", now.year(), u8::from(now.month()), now.day())
}

value_type!(
    /// A date of birth: a real calendar date `YYYY-MM-DD` from 1900-01-01, not in the future.
    DateOfBirth,
    parse = |f, t| parse_date_of_birth(f, t, &wall_clock_today()),
    schema = || {
        let last_year = time::OffsetDateTime::now_utc().year() - 1;
        serde_json::json!({
            "type": "string", "format": "date", "pattern": year_range_date_pattern(1900, last_year),
            "description": "Date of birth, YYYY-MM-DD, from 1900-01-01 and not in the future.",
            "examples": ["1990-04-12"],
        })
    }
);

value_type!(
    /// A birth date at the precision it is known (a screening subject's): `YYYY`, `YYYY-MM` or `YYYY-MM-DD`,
    /// from 1900 and not in the future. Screening matches it at that precision.
    PartialBirthDate,
    parse = |f, t| parse_partial_birth_date(f, t, &wall_clock_today()),
    schema = || {
        let last_year = time::OffsetDateTime::now_utc().year() - 1;
        let full = year_range_date_pattern(1900, last_year);
        // The year alternatives of the full pattern, reused for the shorter forms.
        let years = full.trim_start_matches("^(").split(")-").next().unwrap_or("19\\d{2}").to_string();
        serde_json::json!({
            "description": "Birth date as far as it is known: YYYY, YYYY-MM or YYYY-MM-DD, from 1900 and not in the future.",
            "anyOf": [
                { "type": "string", "format": "date", "pattern": full },
                { "type": "string", "pattern": format!("^({years})$") },
                { "type": "string", "pattern": format!("^({years})-(0[1-9]|1[0-2])$") },
            ],
            "examples": ["1965", "1965-04", "1965-04-12"],
        })
    }
);

/// `YYYY`, `YYYY-MM` or a real `YYYY-MM-DD`, from 1900 and not after `today` at the same precision.
pub fn parse_partial_birth_date(field: &str, value: &str, today: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.len() == 10 {
        return parse_date_of_birth(field, v, today);
    }
    let bad = || FieldError::new(field, "must be YYYY, YYYY-MM or YYYY-MM-DD");
    let (year, month) = match v.len() {
        4 => (v, None),
        7 if v.as_bytes()[4] == b'-' => (&v[..4], Some(&v[5..])),
        _ => return Err(bad()),
    };
    let year: i32 = year.parse().ok().filter(|_| year.bytes().all(|b| b.is_ascii_digit())).ok_or_else(bad)?;
    if let Some(m) = month {
        let m: u8 = m.parse().ok().filter(|_| m.bytes().all(|b| b.is_ascii_digit())).ok_or_else(bad)?;
        if !(1..=12).contains(&m) {
            return Err(FieldError::new(field, "has no such month"));
        }
    }
    if year < 1900 {
        return Err(FieldError::new(field, "must be in or after 1900"));
    }
    if v > &today[..v.len().min(today.len())] {
        return Err(FieldError::new(field, "must not be in the future"));
    }
    Ok(v.to_string())
}

value_type!(
    /// Any real calendar date `YYYY-MM-DD` (document expiry dates, custom date fields).
    CalendarDate,
    parse = parse_date,
    schema = || serde_json::json!({
        "type": "string", "format": "date", "pattern": "^[1-9]\\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$",
        "description": "A calendar date, YYYY-MM-DD.", "examples": ["2031-06-30"],
    })
);

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
    if !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
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

value_type!(
    /// An email address (at most 254 characters, a dotted domain).
    Email,
    parse = parse_email,
    schema = || serde_json::json!({
        "type": "string", "format": "email", "maxLength": 254,
        "pattern": "^[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+$",
        "description": "An email address.", "examples": ["jane.doe@example.com"],
    })
);

pub fn parse_email(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    let ok = v.chars().count() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(v.to_string())
    } else {
        Err(FieldError::new(field, "must be a valid email address"))
    }
}

value_type!(
    /// A phone number: 7 to 15 digits, optionally with `+`, spaces, dashes, dots and parentheses.
    Phone,
    parse = parse_phone,
    schema = || serde_json::json!({
        "type": "string", "pattern": "^\\+?[0-9]{7,15}$",
        "description": "A phone number of 7 to 15 digits (E.164 shown; spaces, dashes, dots and parentheses are also accepted).",
        "examples": ["+14155550123"],
    })
);

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

value_type!(
    /// The integrator's own reference for a person or session: 1 to 255 characters, no '/'.
    ExternalRef,
    parse = parse_external_ref,
    schema = || serde_json::json!({
        "type": "string", "minLength": 1, "maxLength": 255, "pattern": text_pattern("/"),
        "description": "Your own reference, 1 to 255 characters, without '/'.", "examples": ["user_12345"],
    })
);

pub fn parse_external_ref(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > 255 {
        return Err(FieldError::new(field, "must be 1 to 255 characters"));
    }
    if v.chars().any(|c| c.is_control() || c == '/') {
        return Err(FieldError::new(field, "must not contain '/' or control characters"));
    }
    Ok(v.to_string())
}

value_type!(
    /// A status to set on an identity: one of idv's (or their newer aliases), or a custom status defined by
    /// the identity's type (checked by the command, which knows the type).
    StatusName,
    parse = |f, t| {
        let v = t.trim();
        if v.is_empty() || v.chars().count() > 50 || v.chars().any(char::is_control) {
            return Err(FieldError::new(f, "must be a status name of 1 to 50 characters"));
        }
        Ok(v.to_string())
    },
    schema = || serde_json::json!({
        "type": "string",
        "enum": ["pending", "approved", "failed", "rejected", "under_review", "verified", "created", "needs_review"],
        "description": "pending, approved, failed, rejected or under_review (aliases verified, created, needs_review); an identity type may define more.",
    })
);

value_type!(
    /// Where the capture page sends the person when done: an http(s) URL, at most 2048 characters.
    RedirectUrl,
    parse = parse_redirect_url,
    schema = || serde_json::json!({
        "type": "string", "minLength": 8, "maxLength": 2048, "pattern": "^https?://[^\\s\\x00-\\x1f\\x7f-\\x9f]+$",
        "description": "An http(s) URL, at most 2048 characters.", "examples": ["https://example.com/done"],
    })
);

pub fn parse_redirect_url(field: &str, value: &str) -> Result<String, FieldError> {
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(r)
            if !r.is_empty()
                && value.chars().count() <= 2048
                && !r.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(value.to_string())
        }
        _ => Err(FieldError::new(field, "must be an http(s) URL")),
    }
}

pub const LONG_TEXT_MAX: usize = 1000;

value_type!(
    /// Free text written by a person for people (descriptions, notes): at most 1000 characters; line breaks
    /// and tabs are kept, other control characters refused. May be empty.
    LongText,
    parse = |f, t| {
        if t.chars().count() > LONG_TEXT_MAX {
            return Err(FieldError::new(f, format!("must be at most {LONG_TEXT_MAX} characters")));
        }
        if t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(FieldError::new(f, "must not contain control characters other than line breaks and tabs"));
        }
        Ok(t.to_string())
    },
    schema = || serde_json::json!({
        "type": "string", "maxLength": LONG_TEXT_MAX,
        "pattern": "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$",
        "description": "Free text, at most 1000 characters.", "examples": ["Confirmed in review"],
    })
);

value_type!(
    /// A title for something people pick from a list (a custom list's name): 1 to 200 printable characters.
    Title,
    parse = |f, t| parse_text(f, t, 2 * NAME_MAX),
    schema = || text_schema(2 * NAME_MAX, "A title, 1 to 200 characters.", "Known fraudsters")
);

value_type!(
    /// A moment as RFC 3339 (any offset on input), kept in idv's UTC form with milliseconds.
    Timestamp,
    parse = |f, t| {
        crate::clock::parse(t.trim())
            .map(crate::clock::format)
            .ok_or_else(|| FieldError::new(f, "must be an RFC 3339 timestamp"))
    },
    schema = || serde_json::json!({
        "type": "string", "format": "date-time", "description": "An RFC 3339 timestamp.",
        "examples": ["2027-01-15T10:00:00.000Z"],
    })
);

pub const MAX_TAGS: usize = 50;

/// A webhook receiver URL: trimmed, 1 to 2048 characters. Scheme, host and address rules (the egress
/// policy: http(s) only, https for live endpoints, no credentials, no metadata or private hosts) are
/// checked by the command layer, which may need DNS.
pub fn parse_webhook_url(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if v.len() > 2048 {
        return Err(FieldError::new(field, "at most 2048 characters"));
    }
    Ok(v.to_string())
}

value_type!(
    /// A webhook receiver URL (http or https, absolute, at most 2048 characters).
    WebhookUrl,
    parse = parse_webhook_url,
    schema = || serde_json::json!({
        "type": "string",
        "format": "uri",
        "minLength": 8,
        "maxLength": 2048,
        "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9-]+\\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,5})?(/[^\\s]*)?$",
        "description": "The receiver URL: http or https (https for live endpoints), absolute, at most 2048 characters, no credentials, with a host name (its last label starts with a letter). Cloud metadata hosts, and hosts or IP addresses that resolve to private addresses, are refused (422) unless the server's egress policy allows them.",
        "examples": ["https://example.com/webhooks/idv"],
    })
);

value_type!(
    /// A tag: 1 to 100 printable characters.
    Tag,
    parse = parse_tag,
    schema = || text_schema(100, "A tag, 1 to 100 printable characters.", "vip")
);

pub fn parse_tag(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > 100 || v.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must be 1 to 100 printable characters"));
    }
    Ok(v.to_string())
}

/// Deduplicates typed tags (order kept) and enforces the cap of 50.
pub fn dedup_tags(field: &str, tags: Vec<Tag>) -> Result<Vec<Tag>, FieldError> {
    let mut out: Vec<Tag> = Vec::new();
    for t in tags {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(FieldError::new(field, format!("at most {MAX_TAGS} tags")));
    }
    Ok(out)
}

value_type!(
    /// An IPv4 or IPv6 address (canonical form on output).
    IpAddress,
    parse = |f, t| t
        .trim()
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| FieldError::new(f, "must be an IPv4 or IPv6 address")),
    // No top-level `type`: with one, the schema would read as a plain object schema and lose `anyOf`.
    schema = || serde_json::json!({
        "anyOf": [{ "type": "string", "format": "ipv4" }, { "type": "string", "format": "ipv6" }],
        "description": "An IPv4 or IPv6 address.", "examples": ["203.0.113.7"],
    })
);

/// Validated personal data by field name, canonical values. Built only from the typed fields of a request
/// (`personal_data_struct!`) or through `parse_personal_field`, so whatever holds one holds checked values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonalData(std::collections::BTreeMap<String, String>);

impl PersonalData {
    /// Validates `value` for `field` and keeps it.
    pub fn insert_parsed(&mut self, field: &str, value: &str) -> Result<(), FieldError> {
        let v = parse_personal_field(field, value)?;
        self.0.insert(field.to_string(), v);
        Ok(())
    }

    /// Keeps the values of already-typed fields (the typed request structs call this).
    pub fn put_all(&mut self, fields: &[(&str, Option<&str>)]) {
        for (field, value) in fields {
            if let Some(v) = value {
                self.0.insert(field.to_string(), v.to_string());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_map(&self) -> &std::collections::BTreeMap<String, String> {
        &self.0
    }

    pub fn into_map(self) -> std::collections::BTreeMap<String, String> {
        self.0
    }
}

/// Changes to personal data: a new validated value, or None to erase the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonalDataPatch(std::collections::BTreeMap<String, Option<String>>);

impl PersonalDataPatch {
    /// Records a change for `field`: `Some` is validated, `None` erases.
    pub fn set(&mut self, field: &str, value: Option<&str>) -> Result<(), FieldError> {
        let v = value.map(|v| parse_personal_field(field, v)).transpose()?;
        self.0.insert(field.to_string(), v);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_map(&self) -> &std::collections::BTreeMap<String, Option<String>> {
        &self.0
    }
}

/// Validates one personal-data value by its field name (for forms whose fields arrive by name).
pub fn parse_personal_field(field: &str, value: &str) -> Result<String, FieldError> {
    Ok(match field {
        "first_name" | "middle_name" | "last_name" => PersonName::parse(field, value)?.0,
        // Only identities take personal data by field name: their birth date may be partial.
        "date_of_birth" => PartialBirthDate::parse(field, value)?.0,
        "email" => Email::parse(field, value)?.0,
        "phone" => Phone::parse(field, value)?.0,
        "address_line1" | "address_line2" => AddressLine::parse(field, value)?.0,
        "city" | "state" => PlaceName::parse(field, value)?.0,
        "zip_code" | "ssn" | "gender" => ShortText::parse(field, value)?.0,
        "document_number" => DocumentNumber::parse(field, value)?.0,
        "nationality" => CountryCode::parse(field, value)?.0,
        _ => return Err(FieldError::new(field, "is not a personal-data field")),
    })
}

/// Deserialises a field that distinguishes "absent" (outer None) from "null" (Some(None)), for PATCH bodies.
pub fn nullable<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Declares the personal-data fields as typed optional members of a request struct, in one place.
#[macro_export]
macro_rules! personal_data_struct {
    ($(#[$doc:meta])* $vis:vis struct $name:ident { $($extra:tt)* }) => {
        $crate::personal_data_struct!(
            date_of_birth = $crate::domain::values::DateOfBirth; $(#[$doc])* $vis struct $name { $($extra)* }
        );
    };
    // An identity's date of birth may be partial (`YYYY`, `YYYY-MM`): the caller names the type.
    (date_of_birth = $dob:ty; $(#[$doc:meta])* $vis:vis struct $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        $vis struct $name {
            $($extra)*
            pub first_name: Option<$crate::domain::values::PersonName>,
            pub middle_name: Option<$crate::domain::values::PersonName>,
            pub last_name: Option<$crate::domain::values::PersonName>,
            pub date_of_birth: Option<$dob>,
            pub email: Option<$crate::domain::values::Email>,
            pub phone: Option<$crate::domain::values::Phone>,
            pub address_line1: Option<$crate::domain::values::AddressLine>,
            pub address_line2: Option<$crate::domain::values::AddressLine>,
            pub city: Option<$crate::domain::values::PlaceName>,
            pub state: Option<$crate::domain::values::PlaceName>,
            pub zip_code: Option<$crate::domain::values::ShortText>,
            pub document_number: Option<$crate::domain::values::DocumentNumber>,
            pub ssn: Option<$crate::domain::values::ShortText>,
            pub nationality: Option<$crate::domain::values::CountryCode>,
            pub gender: Option<$crate::domain::values::ShortText>,
        }

        impl $name {
            /// The personal-data fields that were given, by field name, in canonical form.
            pub fn personal_data(&self) -> $crate::domain::values::PersonalData {
                let mut out = $crate::domain::values::PersonalData::default();
                out.put_all(&[
                    ("first_name", self.first_name.as_ref().map(|v| v.as_str())),
                    ("middle_name", self.middle_name.as_ref().map(|v| v.as_str())),
                    ("last_name", self.last_name.as_ref().map(|v| v.as_str())),
                    ("date_of_birth", self.date_of_birth.as_ref().map(|v| v.as_str())),
                    ("email", self.email.as_ref().map(|v| v.as_str())),
                    ("phone", self.phone.as_ref().map(|v| v.as_str())),
                    ("address_line1", self.address_line1.as_ref().map(|v| v.as_str())),
                    ("address_line2", self.address_line2.as_ref().map(|v| v.as_str())),
                    ("city", self.city.as_ref().map(|v| v.as_str())),
                    ("state", self.state.as_ref().map(|v| v.as_str())),
                    ("zip_code", self.zip_code.as_ref().map(|v| v.as_str())),
                    ("document_number", self.document_number.as_ref().map(|v| v.as_str())),
                    ("ssn", self.ssn.as_ref().map(|v| v.as_str())),
                    ("nationality", self.nationality.as_ref().map(|v| v.as_str())),
                    ("gender", self.gender.as_ref().map(|v| v.as_str())),
                ]);
                out
            }
        }
    };
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
        // Screening subjects may give only a year or a month, never a future or impossible one.
        for ok in ["1965", "1965-04", "1965-04-12", "2026", "2026-01"] {
            assert_eq!(parse_partial_birth_date("d", ok, "2026-01-15").unwrap(), ok);
        }
        for bad in ["2027", "2026-02", "1965-13", "1965-4", "65", "1899", "1965-02-30", "196a"] {
            assert!(parse_partial_birth_date("d", bad, "2026-01-15").is_err(), "{bad}");
        }
    }

    #[test]
    fn date_of_birth_pattern_covers_exactly_the_years() {
        let p = regex::Regex::new(&year_range_date_pattern(1900, 2025)).unwrap();
        assert!(p.is_match("1900-01-01"));
        assert!(p.is_match("2025-12-31"));
        assert!(p.is_match("1987-06-15"));
        assert!(!p.is_match("1899-12-31"));
        assert!(!p.is_match("2026-01-01"));
        assert!(!p.is_match("1990-13-01"));
    }

    #[test]
    fn text_values_share_one_limit_per_kind() {
        assert!(PersonName::parse("n", &"a".repeat(100)).is_ok());
        assert!(PersonName::parse("n", &"a".repeat(101)).is_err());
        assert!(PersonName::parse("n", "  ").is_err());
        assert!(PersonName::parse("n", "a\u{7}b").is_err());
        assert_eq!(PersonName::parse("n", " Ana ").unwrap().as_str(), "Ana");
        let p = regex::Regex::new(&text_pattern("")).unwrap();
        assert!(p.is_match("Ana"));
        assert!(!p.is_match("   "));
        assert!(!p.is_match("a\u{1}"));
    }

    #[test]
    fn countries_are_iso_codes() {
        assert_eq!(parse_country("c", "us").unwrap(), "US");
        assert!(parse_country("c", "XX").is_err());
        assert!(parse_country("c", "USA").is_err());
        // Every code of the list is accepted, first and last included.
        let codes: Vec<&str> = ISO_ALPHA2.split(' ').collect();
        assert!(codes.len() > 240 && codes.iter().all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())));
        for code in &codes {
            assert_eq!(parse_country("c", code).unwrap(), *code);
        }
    }
}
