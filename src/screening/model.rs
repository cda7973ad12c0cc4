//! Watchlist data model: entries (names and aliases, dates of birth, countries, identifiers, programs), entity
//! types and list versions. Plain data with small parsers for its own values; must not read list files or
//! score names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which published list an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListSource {
    /// US Treasury OFAC Specially Designated Nationals (legacy CSV: sdn, add, alt, sdn_comments).
    OfacSdn,
    /// UN Security Council consolidated list (XML).
    UnConsolidated,
    /// EU consolidated financial sanctions list (CSV or XML).
    EuConsolidated,
    /// UK HM Treasury / OFSI consolidated list (CSV).
    UkConsolidated,
    /// OpenSanctions FollowTheMoney entities (JSON lines).
    OpenSanctions,
}

impl ListSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ListSource::OfacSdn => "ofac_sdn",
            ListSource::UnConsolidated => "un_consolidated",
            ListSource::EuConsolidated => "eu_consolidated",
            ListSource::UkConsolidated => "uk_consolidated",
            ListSource::OpenSanctions => "opensanctions",
        }
    }
}

impl fmt::Display for ListSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of thing listed. A query with a type only matches entries of that type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    Person,
    Organization,
    Vessel,
    Aircraft,
}

impl EntityType {
    /// Parse the spellings lists and APIs use (`individual`, `entity`, `company`, `ship`, `airplane`, ...).
    pub fn parse(s: &str) -> Option<EntityType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "person" | "individual" | "natural_person" | "p" => Some(EntityType::Person),
            "organization" | "organisation" | "entity" | "company" | "enterprise" | "business" | "legal_entity"
            | "legalentity" | "publicbody" | "e" => Some(EntityType::Organization),
            "vessel" | "ship" => Some(EntityType::Vessel),
            "aircraft" | "airplane" => Some(EntityType::Aircraft),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Person => "person",
            EntityType::Organization => "organization",
            EntityType::Vessel => "vessel",
            EntityType::Aircraft => "aircraft",
        }
    }
}

/// How a name relates to its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameKind {
    /// The list's main name for the entry.
    Primary,
    /// A strong alias (a.k.a., good-quality alias).
    Alias,
    /// A former name (f.k.a.) or a newer one (n.k.a.).
    Former,
    /// A low-quality or weak alias: a match on it alone is weaker evidence.
    Weak,
    /// The name in its original (non-Latin) script.
    OriginalScript,
}

impl NameKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Primary => "primary",
            NameKind::Alias => "alias",
            NameKind::Former => "former",
            NameKind::Weak => "weak alias",
            NameKind::OriginalScript => "original script",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryName {
    pub name: String,
    pub kind: NameKind,
}

/// A date that may be known only to the year or month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartialDate {
    pub year: i32,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

impl PartialDate {
    pub fn year(year: i32) -> PartialDate {
        PartialDate { year, month: None, day: None }
    }

    fn checked(year: i32, month: Option<u8>, day: Option<u8>) -> Option<PartialDate> {
        if !(1000..=2999).contains(&year) {
            return None;
        }
        if let Some(m) = month {
            if !(1..=12).contains(&m) {
                return None;
            }
        }
        if let Some(d) = day {
            if !(1..=31).contains(&d) || month.is_none() {
                return None;
            }
        }
        Some(PartialDate { year, month, day })
    }

    /// Parse `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (time suffix ignored), `DD/MM/YYYY` (00 for unknown parts),
    /// `DD Mon YYYY`, `Mon YYYY`.
    pub fn parse(s: &str) -> Option<PartialDate> {
        let s = s.trim().trim_end_matches('.');
        if s.is_empty() {
            return None;
        }
        let num = |x: &str| -> Option<u32> {
            if !x.is_empty() && x.len() <= 4 && x.bytes().all(|b| b.is_ascii_digit()) {
                x.parse().ok()
            } else {
                None
            }
        };
        let nz = |v: u32| if v == 0 { None } else { u8::try_from(v).ok() };
        if let Some(first) = s.split(['T', ' ']).next() {
            let parts: Vec<&str> = first.split('-').collect();
            if parts[0].len() == 4 && parts.len() <= 3 {
                if let Some(y) = num(parts[0]) {
                    let m = parts.get(1).and_then(|x| num(x)).and_then(nz);
                    let d = parts.get(2).and_then(|x| num(x)).and_then(nz);
                    if parts.len() == 1 || m.is_some() {
                        return PartialDate::checked(y as i32, m, if m.is_some() { d } else { None });
                    }
                }
            }
        }
        let slash: Vec<&str> = s.split('/').collect();
        if slash.len() == 3 {
            let (d, m, y) = (num(slash[0])?, num(slash[1])?, num(slash[2])?);
            let m = nz(m);
            return PartialDate::checked(y as i32, m, if m.is_some() { nz(d) } else { None });
        }
        let words: Vec<&str> = s.split_whitespace().collect();
        let month_of = |w: &str| {
            let w = w.to_ascii_lowercase();
            MONTHS.iter().position(|m| w.starts_with(m)).map(|p| p as u8 + 1)
        };
        match words.as_slice() {
            [d, m, y] => PartialDate::checked(num(y)? as i32, Some(month_of(m)?), nz(num(d)?)),
            [m, y] => PartialDate::checked(num(y)? as i32, Some(month_of(m)?), None),
            _ => None,
        }
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
            if let Some(d) = self.day {
                write!(f, "-{d:02}")?;
            }
        }
        Ok(())
    }
}

/// A listed date of birth: one date, or a range of years (`DOB 1960 to 1962`), possibly approximate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BirthDate {
    pub date: PartialDate,
    /// End of a range, when the list gives one.
    pub until: Option<PartialDate>,
    /// `circa` / `approximately`.
    pub approximate: bool,
}

impl BirthDate {
    pub fn exact(date: PartialDate) -> BirthDate {
        BirthDate { date, until: None, approximate: false }
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.approximate {
            f.write_str("circa ")?;
        }
        write!(f, "{}", self.date)?;
        if let Some(u) = self.until {
            write!(f, " to {u}")?;
        }
        Ok(())
    }
}

/// A document or registration number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    /// What the list calls it (`Passport`, `IMO`, `National ID No.`, ...).
    pub kind: String,
    pub value: String,
    /// Issuing country as the list gives it, when it does.
    pub country: Option<String>,
}

impl Identifier {
    /// Uppercase letters and digits only: the form identifiers are compared in.
    pub fn normalized_value(&self) -> String {
        normalize_identifier(&self.value)
    }
}

/// Uppercase letters and digits only.
pub fn normalize_identifier(v: &str) -> String {
    v.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// One listed person, organisation, vessel or aircraft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchlistEntry {
    pub source: ListSource,
    /// The list's own id (OFAC ent_num, UN reference number, EU reference, UK group id, OpenSanctions id).
    pub entry_id: String,
    pub entity_type: EntityType,
    /// Primary name first, then aliases.
    pub names: Vec<EntryName>,
    pub dates_of_birth: Vec<BirthDate>,
    /// ISO 3166-1 alpha-2 codes where the list's country resolves, else the list's text.
    pub countries: Vec<String>,
    pub identifiers: Vec<Identifier>,
    pub programs: Vec<String>,
    pub remarks: Option<String>,
}

/// A listed name and the note some lists append to it: the name ends where a birth note (`, born`,
/// ` born in`), a date-of-birth tag (`, DOB`) or a parenthesis holding figures (a passport number, a date)
/// begins. A name with no such note comes back whole; so does one that would be left empty.
pub fn split_name_note(raw: &str) -> (String, Option<String>) {
    // ASCII lowering keeps every byte offset of `raw`.
    let lower = raw.to_ascii_lowercase();
    let mut cut: Option<usize> = None;
    for marker in [", born", " born in ", " born on ", " born ", ", dob", ", d.o.b"] {
        if let Some(i) = lower.find(marker) {
            cut = Some(cut.map_or(i, |c| c.min(i)));
        }
    }
    if let Some(i) = lower.find(" (") {
        if raw[i..].chars().any(|c| c.is_ascii_digit()) {
            cut = Some(cut.map_or(i, |c| c.min(i)));
        }
    }
    match cut {
        Some(i) if raw.is_char_boundary(i) && raw[..i].trim().chars().count() >= 2 => {
            let name = raw[..i].trim().trim_end_matches(',').trim().to_string();
            (name, Some(raw.trim().to_string()))
        }
        _ => (raw.to_string(), None),
    }
}

impl WatchlistEntry {
    pub fn new(source: ListSource, entry_id: impl Into<String>, entity_type: EntityType) -> WatchlistEntry {
        WatchlistEntry {
            source,
            entry_id: entry_id.into(),
            entity_type,
            names: Vec::new(),
            dates_of_birth: Vec::new(),
            countries: Vec::new(),
            identifiers: Vec::new(),
            programs: Vec::new(),
            remarks: None,
        }
    }

    /// The primary name (the first one).
    pub fn primary_name(&self) -> &str {
        self.names.first().map(|n| n.name.as_str()).unwrap_or("")
    }

    /// Add a name unless it is empty or already present.
    pub fn add_name(&mut self, name: &str, kind: NameKind) {
        // A list may write a birth or passport note into the name ("X, born in Kandahar on 01 Jan.1967"):
        // the name is matched, the note is kept as a remark.
        let (name, note) = split_name_note(name);
        if let Some(note) = note {
            self.add_remark(&note);
        }
        let name = name.trim();
        if name.is_empty() || self.names.iter().any(|n| n.name == name) {
            return;
        }
        self.names.push(EntryName { name: name.to_string(), kind });
    }

    /// Adds a remark to the entry's (joined with ` | `) unless it is already there.
    pub fn add_remark(&mut self, remark: &str) {
        let remark = remark.trim();
        if remark.is_empty() {
            return;
        }
        self.remarks = Some(match self.remarks.take() {
            Some(r) if r.contains(remark) => r,
            Some(r) => format!("{r} | {remark}"),
            None => remark.to_string(),
        });
    }

    /// Add a country (resolved to ISO alpha-2 where possible) unless already present.
    pub fn add_country(&mut self, country: &str) {
        let c = country.trim();
        if c.is_empty() {
            return;
        }
        let code = super::countries::country_code(c).map(str::to_string).unwrap_or_else(|| c.to_string());
        if !self.countries.contains(&code) {
            self.countries.push(code);
        }
    }

    pub fn add_program(&mut self, program: &str) {
        let p = program.trim();
        if !p.is_empty() && !self.programs.iter().any(|x| x == p) {
            self.programs.push(p.to_string());
        }
    }

    pub fn add_identifier(&mut self, kind: &str, value: &str, country: Option<&str>) {
        let value = value.trim().trim_end_matches(['.', ',', ';']);
        if normalize_identifier(value).is_empty() {
            return;
        }
        let country = country.map(str::trim).filter(|c| !c.is_empty()).map(str::to_string);
        let id = Identifier { kind: kind.trim().to_string(), value: value.to_string(), country };
        if !self.identifiers.iter().any(|x| x.kind == id.kind && x.value == id.value) {
            self.identifiers.push(id);
        }
    }

    pub fn add_birth_date(&mut self, dob: BirthDate) {
        if !self.dates_of_birth.contains(&dob) {
            self.dates_of_birth.push(dob);
        }
    }
}

/// What was imported: which list, as of when, how many entries, and a digest of the bytes read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListVersion {
    pub source: ListSource,
    /// The list's own publication stamp when it carries one (UN `dateGenerated`, EU `generationDate`, UK
    /// `Last Updated`), else `None`.
    pub published: Option<String>,
    pub entry_count: usize,
    /// BLAKE3 of every input byte, in the order read (hex): equal digests mean an unchanged list.
    pub content_digest: String,
}

#[cfg(test)]
mod name_note_tests {
    use super::*;

    #[test]
    fn birth_and_passport_notes_leave_the_name_and_become_a_remark() {
        for (raw, name) in [
            ("Khirullah Said Wali Khairkhwa, born in Kandahar on 01 Jan.1967", "Khirullah Said Wali Khairkhwa"),
            ("Mohammad Ishaq Akhund born in 1963", "Mohammad Ishaq Akhund"),
            (
                "Safia Farkash Mohammed Al-Hadad, born 1 Jan. 1953 (Oman passport no.03825239, date of issue 4 May 2014)",
                "Safia Farkash Mohammed Al-Hadad",
            ),
        ] {
            let (n, note) = split_name_note(raw);
            assert_eq!((n.as_str(), note.as_deref()), (name, Some(raw)));
        }
        for plain in ["Ibrahim (Abu Du'a)", "Osborne Holdings", "born"] {
            assert_eq!(split_name_note(plain), (plain.to_string(), None), "{plain}");
        }
        let mut e = WatchlistEntry::new(ListSource::UnConsolidated, "QDi.1", EntityType::Person);
        e.add_name("Mohammad Ishaq Akhund born in 1963", NameKind::Alias);
        assert_eq!(e.names[0].name, "Mohammad Ishaq Akhund");
        assert_eq!(e.remarks.as_deref(), Some("Mohammad Ishaq Akhund born in 1963"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates() {
        assert_eq!(PartialDate::parse("1952-10-07").map(|d| d.to_string()), Some("1952-10-07".into()));
        assert_eq!(PartialDate::parse("07 Oct 1952").map(|d| d.to_string()), Some("1952-10-07".into()));
        assert_eq!(PartialDate::parse("Oct 1952").map(|d| d.to_string()), Some("1952-10".into()));
        assert_eq!(PartialDate::parse("1952").map(|d| d.to_string()), Some("1952".into()));
        assert_eq!(PartialDate::parse("00/00/1962").map(|d| d.to_string()), Some("1962".into()));
        assert_eq!(PartialDate::parse("28/06/1960").map(|d| d.to_string()), Some("1960-06-28".into()));
        assert_eq!(PartialDate::parse("1937-04-28T00:00:00").map(|d| d.to_string()), Some("1937-04-28".into()));
        assert_eq!(PartialDate::parse("nonsense"), None);
        assert_eq!(PartialDate::parse("1952-13-01"), None);
    }

    #[test]
    fn entity_types() {
        assert_eq!(EntityType::parse("individual"), Some(EntityType::Person));
        assert_eq!(EntityType::parse("Ship"), Some(EntityType::Vessel));
        assert_eq!(EntityType::parse("Airplane"), Some(EntityType::Aircraft));
        assert_eq!(EntityType::parse("Company"), Some(EntityType::Organization));
        assert_eq!(EntityType::parse("thing"), None);
    }
}
