//! Unit and property tests for MRZ parsing and comparison, on MRZs built here or taken from ICAO's own
//! specimens (as transcribed in cheminfo/mrz@ce4ad68, MIT). The third-party vectors are in
//! tests/mrz_vectors.rs.

use proptest::prelude::*;
use time::macros::date;

use super::*;

const TODAY: Date = date!(2025 - 06 - 15);

// ICAO 9303 Part 4 TD3 specimen (Utopia), cheminfo/mrz@ce4ad68 (MIT)
const UTOPIA_TD3: [&str; 2] =
    ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
// Swiss TD1 from cheminfo/mrz@ce4ad68 (MIT)
const SWISS_TD1: [&str; 3] =
    ["IDCHEA1234567<6<<<<<<<<<<<<<<<", "7510256M2009018CHE<<<<<<<<<<<8", "SMITH<<JOHN<ALBERT<<<<<<<<<<<<"];

fn opts() -> ParseOptions {
    ParseOptions::new(TODAY)
}

fn strict() -> ParseOptions {
    ParseOptions { ocr_correction: false, ..opts() }
}

fn cd(s: &str) -> char {
    check_digit(s).map_or('?', |d| char::from(b'0' + d))
}

fn pad(s: &str, n: usize) -> String {
    format!("{s:<<n$}")
}

/// The fields of an MRZ to build, with valid check digits.
#[derive(Clone, Debug)]
struct Spec {
    code: &'static str,
    state: String,
    name: String,
    number: String,
    nationality: String,
    birth: String,
    sex: char,
    expiry: String,
    optional: String,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            code: "P<",
            state: "NLD".into(),
            name: "DE<BRUIJN<<WILLEKE<LISELOTTE".into(),
            number: "SPECI2014".into(),
            nationality: "NLD".into(),
            birth: "650310".into(),
            sex: 'F',
            expiry: "300309".into(),
            optional: "999999990".into(),
        }
    }
}

impl Spec {
    fn td3(&self) -> String {
        let number = pad(&self.number, 9);
        let optional = pad(&self.optional, 14);
        let opt_cd = if optional.bytes().all(|b| b == b'<') { '<' } else { cd(&optional) };
        let (b, e) = (&self.birth, &self.expiry);
        let composite = format!("{number}{}{b}{}{e}{}{optional}{opt_cd}", cd(&number), cd(b), cd(e));
        format!(
            "{}{}{}\n{number}{}{}{b}{}{}{e}{}{optional}{opt_cd}{}",
            self.code,
            pad(&self.state, 3),
            pad(&self.name, 39),
            cd(&number),
            pad(&self.nationality, 3),
            cd(b),
            self.sex,
            cd(e),
            cd(&composite)
        )
    }

    fn td1(&self) -> String {
        let number = pad(&self.number, 9);
        let line1 = format!("{}{}{number}{}{}", self.code, pad(&self.state, 3), cd(&number), pad(&self.optional, 15));
        let (b, e) = (&self.birth, &self.expiry);
        let opt2 = pad("", 11);
        let composite = format!("{}{b}{}{e}{}{opt2}", &line1[5..30], cd(b), cd(e));
        let line2 =
            format!("{b}{}{}{e}{}{}{opt2}{}", cd(b), self.sex, cd(e), pad(&self.nationality, 3), cd(&composite));
        format!("{line1}\n{line2}\n{}", pad(&self.name, 30))
    }
}

fn id_card() -> Spec {
    Spec { code: "ID", name: "SMITH<<JOHN".into(), optional: String::new(), ..Spec::default() }
}

#[test]
fn check_digits_follow_icao() {
    assert_eq!(check_digit("520727"), Some(3));
    assert_eq!(check_digit("AB2134<<<"), Some(5));
    assert_eq!(check_digit("L898902C3"), Some(6));
    assert_eq!(check_digit("<<<<<<"), Some(0));
    assert_eq!(check_digit("ab"), None);
    assert_eq!(check_digit("É"), None);
}

#[test]
fn parses_the_icao_td3_specimen() {
    let r = parse_lines(&UTOPIA_TD3, &opts()).expect("parse");
    let d = &r.data;
    assert_eq!(d.format, MrzFormat::Td3);
    assert_eq!(d.document_kind, DocumentKind::Passport);
    assert_eq!((d.document_code.as_str(), d.issuing_state.as_str()), ("P", "UTO"));
    assert_eq!(d.document_number, "L898902C3");
    assert_eq!((d.primary_identifier.as_str(), d.secondary_identifier.as_str()), ("ERIKSSON", "ANNA MARIA"));
    assert_eq!(d.date_of_birth, Some(date!(1974 - 08 - 12)));
    assert_eq!(d.date_of_expiry, Some(date!(2012 - 04 - 15)));
    assert_eq!(d.sex, Sex::Female);
    assert_eq!(d.optional_data_1.as_deref(), Some("ZE184226B"));
    assert_eq!(d.optional_data_2, None);
    assert!(r.check_digits_valid());
    let failed: Vec<CheckName> = r.checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
    assert_eq!(failed, [CheckName::IssuingState, CheckName::Nationality, CheckName::NotExpired]);
    let sandbox = ParseOptions { allow_specimen_states: true, today: date!(2012 - 04 - 15), ..opts() };
    assert!(parse_lines(&UTOPIA_TD3, &sandbox).expect("parse").all_passed());
}

#[test]
fn parses_a_td1_card() {
    let r = parse_lines(&SWISS_TD1, &opts()).expect("parse");
    assert_eq!(r.data.format, MrzFormat::Td1);
    assert_eq!(r.data.document_kind, DocumentKind::IdentityCard);
    assert_eq!(r.data.document_number, "A1234567");
    assert_eq!(r.data.secondary_identifier, "JOHN ALBERT");
    assert!(r.check_digits_valid());
    assert!(r.check(CheckName::OptionalDataCheckDigit).is_none());
}

#[test]
fn expiry_is_judged_against_today() {
    let spec = Spec { expiry: "250615".into(), ..Spec::default() };
    let on_the_day = parse(&spec.td3(), &opts()).expect("parse");
    assert!(on_the_day.check(CheckName::NotExpired).is_some_and(|c| c.passed));
    let next_day = ParseOptions { today: date!(2025 - 06 - 16), ..opts() };
    assert!(parse(&spec.td3(), &next_day).expect("parse").check(CheckName::NotExpired).is_some_and(|c| !c.passed));
}

#[test]
fn centuries_follow_today() {
    let birth = |yymmdd: &str| parse(&Spec { birth: yymmdd.into(), ..Spec::default() }.td3(), &opts()).expect("p");
    assert_eq!(birth("250615").data.date_of_birth, Some(date!(2025 - 06 - 15)));
    assert_eq!(birth("250616").data.date_of_birth, Some(date!(1925 - 06 - 16)));
    assert_eq!(birth("000229").data.date_of_birth, Some(date!(2000 - 02 - 29)));
    let expiry = |yymmdd: &str| parse(&Spec { expiry: yymmdd.into(), ..Spec::default() }.td3(), &opts()).expect("p");
    assert_eq!(expiry("750615").data.date_of_expiry, Some(date!(2075 - 06 - 15)));
    assert_eq!(expiry("750616").data.date_of_expiry, Some(date!(1975 - 06 - 16)));
    // impossible dates fail their date check (and keep the raw text)
    let r = expiry("230229");
    assert_eq!((r.data.date_of_expiry, r.data.date_of_expiry_raw.as_str()), (None, "230229"));
    assert!(r.check(CheckName::DateOfExpiry).is_some_and(|c| !c.passed));
    assert!(r.check_digits_valid());
    assert!(!birth("741312").check(CheckName::DateOfBirth).is_some_and(|c| c.passed));
}

#[test]
fn unknown_birth_dates_are_allowed() {
    for raw in ["7408<<", "74<<<<", "<<<<<<"] {
        let r = parse(&Spec { birth: raw.into(), ..Spec::default() }.td3(), &opts()).expect("parse");
        assert_eq!(r.data.date_of_birth, None, "{raw}");
        assert!(r.check(CheckName::DateOfBirth).is_some_and(|c| c.passed), "{raw}");
        assert!(r.check_digits_valid(), "{raw}: {:?}", r.checks);
        assert!(r.check(CheckName::DatesConsistent).is_none());
    }
    let r = parse(&Spec { birth: "7408<<".into(), ..Spec::default() }.td3(), &opts()).expect("parse");
    let entered = Entered { date_of_birth: Some(date!(1974 - 08 - 30)), ..Entered::default() };
    assert_eq!(compare(&r.data, &entered)[2].outcome, FieldOutcome::Match);
    let entered = Entered { date_of_birth: Some(date!(1974 - 09 - 01)), ..Entered::default() };
    assert_eq!(compare(&r.data, &entered)[2].outcome, FieldOutcome::Mismatch);
    // an all-filler birth date may carry 0 or < as its check digit
    let text = Spec { birth: "<<<<<<".into(), ..Spec::default() }.td3().replacen("<<<<<<0F", "<<<<<<<F", 1);
    assert!(parse(&text, &strict()).expect("parse").check(CheckName::DateOfBirthCheckDigit).is_some_and(|c| c.passed));
}

#[test]
fn input_is_tolerated_but_bounded() {
    let clean = parse_lines(&UTOPIA_TD3, &opts()).expect("parse");
    let lower = UTOPIA_TD3.join("\r\n").to_lowercase();
    assert_eq!(parse(&lower, &opts()).as_ref(), Ok(&clean));
    assert_eq!(parse(&format!("\n\n  {}  \n", UTOPIA_TD3.join("   ")), &opts()).as_ref(), Ok(&clean));
    assert_eq!(parse(&UTOPIA_TD3.concat(), &opts()).as_ref(), Ok(&clean));
    let owned: Vec<String> = UTOPIA_TD3.iter().map(|l| format!("\t{l} ")).collect();
    assert_eq!(parse_lines(&owned, &opts()).as_ref(), Ok(&clean));

    assert_eq!(parse("", &opts()), Err(MrzError::Empty));
    assert_eq!(parse(" \n\t ", &opts()), Err(MrzError::Empty));
    assert_eq!(parse(&"<".repeat(MAX_INPUT_BYTES + 1), &opts()), Err(MrzError::TooLong));
    assert_eq!(parse_lines(&vec!["<<<<"; 400], &opts()), Err(MrzError::TooLong));
    let accented = UTOPIA_TD3.join("\n").replacen("ANNA", "ANNÉ", 1);
    assert_eq!(parse(&accented, &opts()), Err(MrzError::InvalidCharacter { line: 0, column: 18 }));
    assert_eq!(parse("P<UTO\nL898", &opts()), Err(MrzError::UnknownLayout { lines: 2, lengths: vec![5, 4] }));
    let three = [UTOPIA_TD3[0], UTOPIA_TD3[1], UTOPIA_TD3[1]];
    assert!(matches!(parse_lines(&three, &opts()), Err(MrzError::UnknownLayout { lines: 3, .. })));
    let e = MrzError::InvalidCharacter { line: 1, column: 2 };
    assert_eq!(
        serde_json::to_value(&e).ok(),
        Some(serde_json::json!({"error": "invalid_character", "line": 1, "column": 2}))
    );
}

#[test]
fn ocr_confusions_are_fixed_only_where_check_digits_confirm() {
    let clean = Spec::default().td3();
    let want = parse(&clean, &opts()).expect("parse");
    // O for 0 in the birth date and B for 8 in the composite digit
    let mut noisy: Vec<char> = clean.chars().collect();
    let line2 = 45;
    noisy[line2 + 13 + 1] = 'S'; // "650310" -> "6S0310"
    noisy[line2 + 43] = match noisy[line2 + 43] {
        '8' => 'B',
        '0' => 'O',
        '6' => 'G',
        c => c,
    };
    let noisy: String = noisy.into_iter().collect();
    let fixed = parse(&noisy, &opts()).expect("parse");
    assert!(fixed.check_digits_valid(), "{:?}", fixed.checks);
    assert_eq!(fixed.data.date_of_birth, want.data.date_of_birth);
    assert!(fixed.data.ocr_corrections.contains(&OcrCorrection { line: 1, column: 14, from: 'S', to: '5' }));
    // without correction, or when the check digit disagrees, the letters stay
    assert!(!parse(&noisy, &strict()).expect("parse").check_digits_valid());
    // (6S0311 would be a bad example: S counts 28, and 28*3 + 1 happens to give the same digit as 5*3 + 0)
    let wrong = noisy.replacen("6S0310", "6S0312", 1);
    let r = parse(&wrong, &opts()).expect("parse");
    assert_eq!(r.data.date_of_birth_raw, "6S0312");
    assert!(!r.check_digits_valid());

    // digits in names and state codes are fixed only when every check digit holds
    let spec = Spec { state: "UTO".into(), name: "ERIKSSON<<ANNA".into(), ..Spec::default() };
    let noisy = spec.td3().replacen("UTOERIKSSON", "UT0ERIK55ON", 1);
    let r = parse(&noisy, &opts()).expect("parse");
    assert_eq!((r.data.issuing_state.as_str(), r.data.primary_identifier.as_str()), ("UTO", "ERIKSSON"));
    assert_eq!(r.data.ocr_corrections.len(), 3);
    let broken = noisy.replacen("SPECI2014", "SPECI2015", 1);
    let r = parse(&broken, &opts()).expect("parse");
    assert_eq!((r.data.issuing_state.as_str(), r.data.primary_identifier.as_str()), ("UT0", "ERIK55ON"));
    assert!(r.data.ocr_corrections.is_empty());
    // an unknown code is not "fixed" into another unknown code
    let r = parse(&Spec { state: "X1Y".into(), ..Spec::default() }.td3(), &opts()).expect("parse");
    assert_eq!(r.data.issuing_state, "X1Y");
}

#[test]
fn extended_document_numbers_in_td1_and_td2() {
    // TD1: 12 characters, the last three and the check digit in the optional data
    let number = "AB1234567XY9";
    let digit = cd(number);
    let line1 = pad(&format!("I<NLD{}<{}{digit}", &number[..9], &number[9..]), 30);
    let b = "650310";
    let e = "300309";
    let composite = format!("{}{b}{}{e}{}{}", &line1[5..30], cd(b), cd(e), pad("", 11));
    let line2 = format!("{b}{}F{e}{}NLD{}{}", cd(b), cd(e), pad("", 11), cd(&composite));
    let r = parse_lines(&[line1.as_str(), line2.as_str(), "DE<BRUIJN<<WILLEKE<<<<<<<<<<<<"], &opts()).expect("p");
    assert_eq!(r.data.document_number, number);
    assert_eq!(r.data.optional_data_1, None);
    assert!(r.check_digits_valid(), "{:?}", r.checks);

    // TD2: the overflow sits in line 2's optional data
    let head = pad("I<NLDDE<BRUIJN<<WILLEKE", 36);
    let optional = pad(&format!("{}{digit}", &number[9..]), 7);
    let body = format!("{}<NLD{b}{}F{e}{}{optional}", &number[..9], cd(b), cd(e));
    let composite = format!("{}{}{}", &body[0..10], &body[13..20], &body[21..35]);
    let line2 = format!("{body}{}", cd(&composite));
    let r = parse_lines(&[head.as_str(), line2.as_str()], &opts()).expect("parse");
    assert_eq!(r.data.format, MrzFormat::Td2);
    assert_eq!(r.data.document_number, number);
    assert!(r.check_digits_valid(), "{:?}", r.checks);

    // a filler where the digit belongs, with nothing after it, fails
    let bare = line1.replace(&format!("<{}{digit}", &number[9..]), "<<<<");
    let r = parse_lines(&[bare.as_str(), line2.as_str(), "X<<Y<<<<<<<<<<<<<<<<<<<<<<<<<<"], &opts());
    assert!(matches!(r, Err(MrzError::UnknownLayout { .. })), "mixed widths are not an MRZ");
    let bare_td1 = id_card().td1().replacen(&format!("SPECI2014{}", cd("SPECI2014")), "SPECI2014<", 1);
    let r = parse(&bare_td1, &strict()).expect("parse");
    assert!(r.check(CheckName::DocumentNumberCheckDigit).is_some_and(|c| !c.passed));
}

#[test]
fn codes_sex_and_formats() {
    let r = parse(&Spec { code: "I<", ..Spec::default() }.td3(), &opts()).expect("parse");
    assert!(r.check(CheckName::DocumentCode).is_some_and(|c| !c.passed));
    let r = parse(&Spec { code: "P<", ..id_card() }.td1(), &opts()).expect("parse");
    assert!(r.check(CheckName::DocumentCode).is_some_and(|c| !c.passed));
    let r = parse(&Spec { sex: '<', ..Spec::default() }.td3(), &opts()).expect("parse");
    assert_eq!(r.data.sex, Sex::Unspecified);
    assert!(r.check(CheckName::Sex).is_some_and(|c| c.passed));
    let r = parse(&Spec { sex: 'X', ..Spec::default() }.td3(), &opts()).expect("parse");
    assert_eq!(r.data.sex, Sex::Unspecified);
    let r = parse(&Spec { sex: 'Q', ..Spec::default() }.td3(), &opts()).expect("parse");
    assert!(r.check(CheckName::Sex).is_some_and(|c| !c.passed));
    // a 2x44 zone starting with V is a visa
    let visa = Spec { code: "V<", ..Spec::default() }.td3();
    let r = parse(&visa, &opts()).expect("parse");
    assert_eq!((r.data.format, r.data.document_kind), (MrzFormat::MrvA, DocumentKind::Visa));
    assert!(r.check(CheckName::CompositeCheckDigit).is_none());
    // the state code D<< is Germany
    let r = parse(&Spec { state: "D".into(), nationality: "D".into(), ..Spec::default() }.td3(), &opts()).expect("p");
    assert_eq!(r.data.nationality, "D");
    assert!(r.check(CheckName::Nationality).is_some_and(|c| c.passed));
}

#[test]
fn serialises_for_the_api() {
    let r = parse_lines(&UTOPIA_TD3, &opts()).expect("parse");
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["data"]["format"], "TD3");
    assert_eq!(json["data"]["sex"], "female");
    assert_eq!(json["data"]["date_of_birth"], "1974-08-12");
    assert_eq!(json["data"]["document_kind"], "passport");
    assert_eq!(json["checks"][0]["name"], "document_code");
    let r = parse(&Spec { birth: "<<<<<<".into(), ..Spec::default() }.td3(), &opts()).expect("parse");
    assert!(serde_json::to_value(&r).expect("json")["data"]["date_of_birth"].is_null());
}

fn mrz_of(spec: &Spec) -> MrzData {
    parse(&spec.td3(), &opts()).expect("parse").data
}

fn outcomes(mrz: &MrzData, entered: &Entered) -> Vec<FieldOutcome> {
    compare(mrz, entered).into_iter().map(|c| c.outcome).collect()
}

#[test]
fn compare_normalises_names() {
    use FieldOutcome::{Match, Mismatch, NotEntered};
    let mrz = mrz_of(&Spec { name: "OCONNOR<SMITH<<ANNA<MARIA".into(), ..Spec::default() });
    let entered = |first: &str, last: &str| Entered {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        ..Entered::default()
    };
    let e = entered(" Ánna-María ", "O'Connor Smith");
    assert_eq!(outcomes(&mrz, &e)[..2], [Match, Match]);
    assert_eq!(outcomes(&mrz, &entered("Anna", "O'Connor-Smith"))[..2], [Mismatch, Match]);
    assert_eq!(outcomes(&mrz, &entered("Anna Maria", "Connor"))[..2], [Match, Mismatch]);
    assert_eq!(outcomes(&mrz, &Entered::default()), [NotEntered; 6]);
    assert_eq!(outcomes(&mrz, &entered("", "  "))[..2], [NotEntered, NotEntered]);
    assert_eq!(outcomes(&mrz, &entered("Анна", "O'Connor Smith"))[..2], [Mismatch, Match]);
    // umlauts: issuers print either ICAO's UE or a plain U
    for printed in ["MUELLER<<JUERGEN", "MULLER<<JURGEN"] {
        let mrz = mrz_of(&Spec { name: printed.into(), ..Spec::default() });
        assert_eq!(outcomes(&mrz, &entered("Jürgen", "Müller"))[..2], [Match, Match], "{printed}");
    }
    // a name the issuer cut to fit (ICAO Doc 9303 Part 4 example)
    let name = encode_name("Bennelong Wooloomooloo Warrandyte Warnambool", "Dingo Potoroo", 39, Umlauts::Icao);
    let mrz = mrz_of(&Spec { name: name.unwrap_or_default(), ..Spec::default() });
    assert!(mrz.name_possibly_truncated);
    let e = entered("Dingo Potoroo", "Bennelong Wooloomooloo Warrandyte Warnambool");
    assert_eq!(outcomes(&mrz, &e)[..2], [Match, Match]);
    assert_eq!(outcomes(&mrz, &entered("Dingo Potoroo", "Bennelong"))[..2], [Match, Mismatch]);
}

#[test]
fn compare_normalises_numbers_dates_and_nationality() {
    use FieldOutcome::{Match, Mismatch, NotInMrz};
    let mrz = mrz_of(&Spec { nationality: "D".into(), ..Spec::default() });
    let e = Entered {
        document_number: Some("speci-2014".into()),
        nationality: Some("de".into()),
        date_of_birth: Some(date!(1965 - 03 - 10)),
        expiry: Some(date!(2030 - 03 - 09)),
        ..Entered::default()
    };
    assert_eq!(outcomes(&mrz, &e)[2..], [Match, Match, Match, Match]);
    for nationality in ["DEU", "D", "deu"] {
        let e = Entered { nationality: Some(nationality.into()), ..Entered::default() };
        assert_eq!(outcomes(&mrz, &e)[4], Match, "{nationality}");
    }
    let e = Entered {
        document_number: Some("SPECI2O14".into()),
        nationality: Some("AT".into()),
        date_of_birth: Some(date!(1965 - 03 - 11)),
        expiry: Some(date!(2031 - 03 - 09)),
        ..Entered::default()
    };
    assert_eq!(outcomes(&mrz, &e)[2..], [Mismatch, Mismatch, Mismatch, Mismatch]);
    // British nationality classes belong to GB
    let mrz = mrz_of(&Spec { nationality: "GBD".into(), ..Spec::default() });
    assert_eq!(outcomes(&mrz, &Entered { nationality: Some("GB".into()), ..Entered::default() })[4], Match);
    // dates compare as YYMMDD, so the MRZ's century guess cannot cause a mismatch
    let mrz = mrz_of(&Spec { birth: "250616".into(), ..Spec::default() });
    let e = Entered { date_of_birth: Some(date!(2025 - 06 - 16)), ..Entered::default() };
    assert_eq!(outcomes(&mrz, &e)[2], Match);
    let mrz = mrz_of(&Spec { birth: "<<<<<<".into(), ..Spec::default() });
    assert_eq!(outcomes(&mrz, &e)[2], NotInMrz);
    // details never quote the values compared
    let e = Entered { last_name: Some("Zzyzx".into()), document_number: Some("QQ1".into()), ..Entered::default() };
    for c in compare(&mrz, &e) {
        assert!(!c.detail.contains("ZZYZX") && !c.detail.contains("QQ1") && !c.detail.contains("SPECI"), "{c:?}");
    }
}

fn mrz_alphabet_line(len: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just('<'), Just('<'), proptest::char::range('A', 'Z'), proptest::char::range('0', '9')],
        len,
    )
    .prop_map(|c| c.into_iter().collect())
}

fn name_part() -> impl Strategy<Value = String> {
    // at most 13 characters, so surname << given names fits even TD1's 30
    "[A-Z]{1,6}( [A-Z]{1,6})?"
}

fn yymmdd() -> impl Strategy<Value = String> {
    (0u8..100, 1u8..13, 1u8..29).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text, &opts());
        let _ = parse(&text, &strict());
    }

    #[test]
    fn arbitrary_mrz_shaped_text_never_panics(
        shape in 0usize..3,
        lines in proptest::collection::vec(mrz_alphabet_line(44), 3),
        specimen in any::<bool>(),
    ) {
        let (n, width) = [(3, 30), (2, 36), (2, 44)][shape];
        let text: Vec<&str> = lines.iter().take(n).map(|l| &l[..width]).collect();
        let options = ParseOptions { allow_specimen_states: specimen, ..opts() };
        let report = parse_lines(&text, &options).expect("the shape is always an MRZ layout");
        let mut names: Vec<CheckName> = report.checks.iter().map(|c| c.name).collect();
        let count = names.len();
        names.dedup();
        prop_assert_eq!(names.len(), count);
        prop_assert!(serde_json::to_string(&report).is_ok());
        let _ = compare(&report.data, &Entered { first_name: Some(lines[0].clone()), ..Entered::default() });
    }

    #[test]
    fn built_mrzs_round_trip(
        surname in name_part(),
        given in name_part(),
        number in "[A-Z0-9]{1,9}",
        birth in yymmdd(),
        expiry in yymmdd(),
        td1 in any::<bool>(),
    ) {
        let name = format!("{}<<{}", surname.replace(' ', "<"), given.replace(' ', "<"));
        let spec = Spec { name, number: number.clone(), birth, expiry, ..if td1 { id_card() } else { Spec::default() } };
        let text = if td1 { spec.td1() } else { spec.td3() };
        let r = parse(&text, &opts()).expect("parse");
        prop_assert!(r.check_digits_valid(), "{:?}", r.checks);
        prop_assert!(r.data.ocr_corrections.is_empty());
        prop_assert_eq!(&r.data.document_number, &number);
        prop_assert_eq!(&r.data.primary_identifier, &surname);
        prop_assert_eq!(&r.data.secondary_identifier, &given);
        let entered = Entered { first_name: Some(given.to_lowercase()), last_name: Some(surname), document_number: Some(number), ..Entered::default() };
        let c = compare(&r.data, &entered);
        prop_assert!(c[..2].iter().chain(&c[3..4]).all(|c| c.outcome == FieldOutcome::Match), "{:?}", c);
    }

    #[test]
    fn a_changed_birth_digit_breaks_the_check_digits(birth in yymmdd(), at in 0usize..6, delta in 1u8..10) {
        let text = Spec { birth: birth.clone(), ..Spec::default() }.td3();
        let mut bytes = text.into_bytes();
        let i = 45 + 13 + at;
        bytes[i] = b'0' + (bytes[i] - b'0' + delta) % 10;
        let text = String::from_utf8(bytes).expect("ascii");
        let r = parse(&text, &opts()).expect("parse");
        prop_assert!(!r.check_digits_valid());
    }

    #[test]
    fn transliteration_is_idempotent(text in "\\PC{0,40}") {
        for u in [Umlauts::Icao, Umlauts::Plain] {
            if let Some(once) = transliterate(&text, u) {
                prop_assert_eq!(transliterate(&once, u), Some(once.clone()));
                prop_assert!(once.bytes().all(|b| b.is_ascii_uppercase() || b == b'<'));
            }
        }
    }

    #[test]
    fn encoded_names_have_the_field_width(primary in "\\PC{0,60}", secondary in "\\PC{0,60}", width in 0usize..45) {
        if let Some(field) = encode_name(&primary, &secondary, width, Umlauts::Icao) {
            prop_assert_eq!(field.len(), width);
            let _ = parse_name_field(&field);
        }
    }
}
