//! MRZ name fields: splitting a field into primary and secondary identifiers, and turning a printed
//! (visual-zone) name into MRZ characters with ICAO 9303's transliteration (Part 3 §6) and truncation
//! (Parts 4–7 §4.2.3) rules. Must not compare names with entered data or read any other MRZ field.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// A name field read back from the MRZ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedName {
    /// Primary identifier (surname), components joined with single spaces; may be empty.
    pub primary: String,
    /// Secondary identifier (given names), components joined with single spaces; may be empty.
    pub secondary: String,
    /// The field is full up to its last character, so the issuer may have cut the name short.
    pub possibly_truncated: bool,
    /// Why the field breaks the ICAO layout, if it does.
    pub problem: Option<&'static str>,
}

/// Splits an MRZ name field (`ERIKSSON<<ANNA<MARIA<<<`) at its first `<<`.
pub fn parse_name_field(field: &str) -> ParsedName {
    let possibly_truncated = !field.is_empty() && !field.ends_with('<');
    let trimmed = field.trim_end_matches('<');
    let (p, s) = trimmed.split_once("<<").unwrap_or((trimmed, ""));
    let join = |part: &str| part.split('<').filter(|c| !c.is_empty()).collect::<Vec<_>>().join(" ");
    let problem = if trimmed.is_empty() {
        Some("the name field is empty")
    } else if !trimmed.bytes().all(|b| b.is_ascii_uppercase() || b == b'<') {
        Some("the name contains characters other than A-Z and <")
    } else if p.starts_with('<') {
        Some("the name starts with a single filler")
    } else if s.contains("<<") {
        Some("the name has more than one << separator")
    } else if s.starts_with('<') {
        Some("the secondary identifier starts with a filler")
    } else {
        None
    };
    ParsedName { primary: join(p), secondary: join(s), possibly_truncated, problem }
}

/// How to spell letters that carry an umlaut or ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Umlauts {
    /// ICAO's recommended form: Ä→AE, Ö→OE, Ü→UE, Å→AA, Ø→OE.
    Icao,
    /// Mark dropped: Ä→A, Ö→O, Ü→U, Å→A, Ø→O (what many issuers print instead).
    Plain,
}

/// MRZ characters for a printed name part: letters A-Z, `<` between components; apostrophes and other
/// punctuation dropped, spaces and hyphens become `<`, accented Latin letters lose their marks (with the
/// ICAO multi-letter forms for Æ, ß, Þ, ...). `None` when the text has letters outside the Latin script,
/// which idv does not transliterate.
pub fn transliterate(text: &str, umlauts: Umlauts) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphabetic() {
            out.push(c.to_ascii_uppercase());
            continue;
        }
        if c.is_whitespace() || matches!(c, '-' | '‐' | '‑' | '–' | '—' | '<' | ',') {
            out.push('<');
            continue;
        }
        if let Some(s) = special(c, umlauts) {
            out.push_str(s);
            continue;
        }
        if c.is_alphabetic() {
            // é → e + ◌́: keep the base letter if it is ASCII and the rest are marks
            let mut decomposed = c.nfd();
            match decomposed.next() {
                Some(base) if base.is_ascii_alphabetic() && decomposed.all(is_combining_mark) => {
                    out.push(base.to_ascii_uppercase());
                }
                _ => return None,
            }
            continue;
        }
        // apostrophes, full stops, digits and other marks are not represented in an MRZ name
    }
    Some(out)
}

fn special(c: char, umlauts: Umlauts) -> Option<&'static str> {
    let icao = umlauts == Umlauts::Icao;
    Some(match c {
        'Ä' | 'ä' => pick(icao, "AE", "A"),
        'Ö' | 'ö' => pick(icao, "OE", "O"),
        'Ü' | 'ü' => pick(icao, "UE", "U"),
        'Å' | 'å' => pick(icao, "AA", "A"),
        'Ø' | 'ø' => pick(icao, "OE", "O"),
        'Æ' | 'æ' => "AE",
        'Œ' | 'œ' => "OE",
        'Ĳ' | 'ĳ' => "IJ",
        'ß' | 'ẞ' => "SS",
        'Þ' | 'þ' => "TH",
        'Ð' | 'ð' | 'Đ' | 'đ' => "D",
        'Ł' | 'ł' => "L",
        'Ħ' | 'ħ' => "H",
        'Ŋ' | 'ŋ' => "N",
        'Ŧ' | 'ŧ' => "T",
        'ı' => "I",
        _ => return None,
    })
}

fn pick(icao: bool, a: &'static str, b: &'static str) -> &'static str {
    if icao {
        a
    } else {
        b
    }
}

fn components(text: &str, umlauts: Umlauts) -> Option<Vec<String>> {
    let t = transliterate(text, umlauts)?;
    Some(t.split('<').filter(|c| !c.is_empty()).map(str::to_string).collect())
}

/// The MRZ name field for a printed primary and secondary identifier, `width` characters long (39 for TD3
/// and MRV-A, 31 for TD2 and MRV-B, 30 for TD1), padded with `<`. When the name is too long the secondary
/// identifier is cut first (down to one letter); if even that does not fit, the primary identifier keeps its
/// first component whole and its other components are shortened evenly so that `<<` and the first secondary
/// component survive. `None` when a part cannot be transliterated.
pub fn encode_name(primary: &str, secondary: &str, width: usize, umlauts: Umlauts) -> Option<String> {
    let p = components(primary, umlauts)?;
    let s = components(secondary, umlauts)?;
    let p_joined = p.join("<");
    let s_joined = s.join("<");
    let mut out = if s.is_empty() { p_joined.clone() } else { format!("{p_joined}<<{s_joined}") };
    if out.len() > width {
        out = if s.is_empty() {
            shorten_primary(&p, width)
        } else if p_joined.len() + 3 <= width {
            format!("{p_joined}<<{}", cut(&s_joined, width - p_joined.len() - 2))
        } else {
            let first = s.first().map_or(0, String::len);
            let reserve = 2 + first.min(width / 4).max(1);
            let primary = shorten_primary(&p, width.saturating_sub(reserve));
            let room = width.saturating_sub(primary.len() + 2);
            format!("{primary}<<{}", cut(&s_joined, room))
        };
    }
    out.truncate(width);
    while out.len() < width {
        out.push('<');
    }
    Some(out)
}

fn cut(s: &str, len: usize) -> &str {
    s.get(..len.min(s.len())).unwrap_or(s).trim_end_matches('<')
}

/// Fits components into `budget` characters: the first whole, the others shortened evenly (earlier ones
/// get the remainder); a first component that alone is too long is cut.
fn shorten_primary(p: &[String], budget: usize) -> String {
    let Some((first, rest)) = p.split_first() else { return String::new() };
    if first.len() + 2 * rest.len() > budget {
        return cut(&p.join("<"), budget).to_string();
    }
    let mut room = budget - first.len() - rest.len();
    let mut lens: Vec<usize> = vec![0; rest.len()];
    // water-filling: short components keep their length, the spare goes to the longer ones
    let mut open: Vec<usize> = (0..rest.len()).collect();
    while !open.is_empty() && room > 0 {
        let share = room / open.len();
        let extra = room % open.len();
        let mut still_open = Vec::new();
        let mut used = 0;
        for (k, &i) in open.iter().enumerate() {
            let want = rest[i].len() - lens[i];
            let give = (share + usize::from(k < extra)).min(want);
            lens[i] += give;
            used += give;
            if lens[i] < rest[i].len() {
                still_open.push(i);
            }
        }
        room -= used;
        if used == 0 {
            break;
        }
        open = still_open;
    }
    let mut out = first.clone();
    for (c, len) in rest.iter().zip(lens) {
        out.push('<');
        out.push_str(c.get(..len).unwrap_or(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields() {
        let n = parse_name_field("ERIKSSON<<ANNA<MARIA<<<<<<<<<<");
        assert_eq!((n.primary.as_str(), n.secondary.as_str()), ("ERIKSSON", "ANNA MARIA"));
        assert!(!n.possibly_truncated && n.problem.is_none());
        let n = parse_name_field("<<ANNA<MARIA<<<<");
        assert_eq!((n.primary.as_str(), n.secondary.as_str(), n.problem), ("", "ANNA MARIA", None));
        let n = parse_name_field("CACADOR<DE<ARAUJO<<ANDRE<ESTEV");
        assert_eq!(n.primary, "CACADOR DE ARAUJO");
        assert!(n.possibly_truncated);
        assert!(parse_name_field("<<<<").problem.is_some());
        assert!(parse_name_field("5M1TH<<J0HN").problem.is_some());
        assert!(parse_name_field("A<<B<<C").problem.is_some());
        assert!(parse_name_field("<A<<B").problem.is_some());
        assert_eq!(parse_name_field("").problem, Some("the name field is empty"));
    }

    #[test]
    fn transliterates() {
        assert_eq!(transliterate("Ævarsdóttir", Umlauts::Icao).as_deref(), Some("AEVARSDOTTIR"));
        assert_eq!(transliterate("Þuríður Ösp", Umlauts::Icao).as_deref(), Some("THURIDUR<OESP"));
        assert_eq!(transliterate("Þuríður Ösp", Umlauts::Plain).as_deref(), Some("THURIDUR<OSP"));
        assert_eq!(transliterate("O'Connor", Umlauts::Icao).as_deref(), Some("OCONNOR"));
        assert_eq!(transliterate("Smith-Jones", Umlauts::Icao).as_deref(), Some("SMITH<JONES"));
        assert_eq!(transliterate("Basanavičienė", Umlauts::Icao).as_deref(), Some("BASANAVICIENE"));
        assert_eq!(transliterate("Straße", Umlauts::Icao).as_deref(), Some("STRASSE"));
        assert_eq!(transliterate("Иванов", Umlauts::Icao), None);
    }

    #[test]
    fn encodes_and_truncates() {
        let e = |p, s, w| encode_name(p, s, w, Umlauts::Icao).unwrap_or_default();
        assert_eq!(e("ERIKSSON", "ANNA MARIA", 39), "ERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<");
        assert_eq!(e("", "FIRST NAME", 12), "<<FIRST<NAME");
        assert_eq!(e("ABCDEFGHIJKLMNOP", "", 10), "ABCDEFGHIJ");
        assert_eq!(e("AB CDEFGH IJKLMN", "", 10), "AB<CDE<IJK");
        assert_eq!(e("AB CD EFGHIJKLMNOP", "", 10), "AB<CD<EFGH");
        assert_eq!(e("X", "Y", 0), "");
        assert_eq!(e("BENNELONG WOOLOOMOOLOO WARRANDYTE WARNAMBOOL", "DINGO POTOROO", 39).len(), 39);
    }
}
